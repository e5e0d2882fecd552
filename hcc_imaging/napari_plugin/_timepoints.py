"""The read's time points (:class:`TimePointsMixin`, a base of :class:`._controller.ReadSession`):
a time point's images attached (never another study's under its name: they go to the read's time
point of their study, or are refused naming both), a time point's identity (date, day offset,
study UID: its images', else the saved read's), the read's time points in order, and the
reference grid of each; the phases a time point lacks attached later (``add_phases``: a study's
series arrive one layer at a time) and time points the read holds nothing under renamed
(``rename_timepoints``: a study dated before the one a read was started on becomes its baseline).  Qt-free, as the rest of the controller; split out of ``_controller.py``
along this seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import HccImagingError
from ..volume import Geometry, Phase, Volume
from ._serial import serialised

if TYPE_CHECKING:  # pragma: no cover
    from ._controller import Observation, TimePointImages

__all__ = ["TimePointsMixin"]

#: (the session's logger: its warnings keep the name they had before this split)
log = logging.getLogger(__package__ + "._controller")


class TimePointsMixin:
    """Time points of :class:`._controller.ReadSession`, which provides the state these methods
    read and change (``images``, ``_saved_tps``, ``_geometries``, ``observations``, ``_deleted``)."""

    images: dict[str, TimePointImages]
    _saved_tps: dict[str, dict[str, Any]]
    _geometries: dict[str, Geometry]
    observations: dict[tuple[str, str], Observation]
    _deleted: set[tuple[str, str]]
    _masks: dict[str, dict[str, Any]]
    _viable: dict[str, dict[str, Any]]
    _label_cache: dict[tuple[str, bool], Any]
    store_read_uid: str | None

    @serialised
    def add_timepoint(
        self,
        timepoint_id: str,
        phases: Mapping[Phase | str, Volume],
        *,
        date: str | None = None,
        day_offset: int | None = None,
    ) -> TimePointImages:
        """Register the images of one time point (time points are ordered by date, else by the order
        of the read / of these calls).

        Images of another study than the one the read saved under ``timepoint_id`` (its study
        instance UID, or its date when the read saved no UID) are never attached silently: they go
        to the read's time point of their study when there is one (the returned time point's id
        says which), else they are refused naming both dates.  (A study opened alone is named
        'baseline' by the reader: a follow-up showed, and overwrote, the read's baseline.)  Images
        of another time point of the read (its study UID, or one of its series) are refused naming
        both (two time points of a read on one study compared a scan with itself).
        """
        if not phases:
            raise HccImagingError(f"time point {timepoint_id!r} has no series; load at least one phase.")
        from ._controller import TimePointImages  # (a cycle at import time)

        tp = TimePointImages(timepoint_id, {Phase(k): v for k, v in phases.items()}, date, day_offset)
        uid = tp.reference.study_instance_uid
        if not self._same_study(timepoint_id, uid, date):
            known = self._tp_identity(timepoint_id)
            def of_this_study(t: str) -> bool:
                other = self._tp_identity(t)
                if uid and other["study_instance_uid"]:
                    return bool(other["study_instance_uid"] == uid)
                return bool(date) and other["date"] == date

            match = [t for t in self.timepoint_ids if t not in self.images and t != timepoint_id and of_this_study(t)]
            if len(match) == 1:
                log.warning("images named %r are of the study of time point %r; attached there", timepoint_id, match[0])
                return self.add_timepoint(match[0], phases, date=date, day_offset=day_offset)
            raise HccImagingError(
                f"the images opened as time point {timepoint_id!r} are of another study (date {date or 'unknown'}, "
                f"study {uid or 'unknown'}) than the one this read measured as {timepoint_id!r} (date "
                f"{known['date'] or 'unknown'}, study {known['study_instance_uid'] or 'unknown'}); not attached. "
                f"Open the study of {timepoint_id!r} (or all the patient's studies together) and start the read again."
            )
        self._refuse_study_twice(tp)
        self.images[timepoint_id] = tp
        self._geometries.setdefault(timepoint_id, tp.reference.geometry)
        return tp

    def _refuse_study_twice(self, tp: TimePointImages) -> None:
        """Raise when the images of ``tp`` are those of another time point of the read (its study
        UID, or one of its series UIDs): two time points on one study compared a scan with itself."""
        uid = tp.reference.study_instance_uid
        series = {v.series_instance_uid for v in tp.phases.values() if v.series_instance_uid}
        for other in self.timepoint_ids:
            if other == tp.timepoint_id:
                continue
            have = self.images.get(other)
            known = self._tp_identity(other)["study_instance_uid"]
            shared = series & {v.series_instance_uid for v in have.phases.values()} if have is not None else set()
            if (uid and known == uid) or shared:
                what = f"study {uid}" if uid and known == uid else f"series {', '.join(sorted(shared))}"
                raise HccImagingError(
                    f"the images opened as time point {tp.timepoint_id!r} are those of the read's time point "
                    f"{other!r} ({what}); not attached: two time points of one read are two studies (a study "
                    f"compared with itself shows no change). Open them as {other!r}, or open the study of "
                    f"{tp.timepoint_id!r}.")

    @serialised
    def add_phases(self, timepoint_id: str, phases: Mapping[Phase | str, Volume], *, date: str | None = None) -> list[str]:
        """Attach more phases to a time point that has images (a study's series opened one by one,
        or its folder opened into a read: napari adds a layer at a time).  A phase the time point
        already holds is never replaced: the same series again is a no-op, another series of that
        phase is left out and said (one sentence each in the returned list; empty: all attached).
        The reference (where masks live and diameters are measured) becomes the preferred phase
        (:data:`._controller.REFERENCE_PHASES`) when the time point has no masks yet; with masks it
        stays on their grid.  Raises :class:`HccImagingError` for images of another study."""
        from ._controller import REFERENCE_PHASES, TimePointImages  # (a cycle at import time)

        old = self.images.get(timepoint_id)
        if old is None:
            self.add_timepoint(timepoint_id, phases, date=date)
            return []
        uid = old.reference.study_instance_uid
        new: dict[Phase, Volume] = {}
        left_out: list[str] = []
        for key, vol in phases.items():
            ph = Phase(key)
            if uid and vol.study_instance_uid and vol.study_instance_uid != uid:
                raise HccImagingError(
                    f"the {ph} series {vol.series_instance_uid or '(no UID)'} is of study {vol.study_instance_uid}, not "
                    f"of the study of time point {timepoint_id!r} ({uid}); not attached. Open it with its own study.")
            have = old.phases.get(ph)
            if have is None:
                new[ph] = vol
            elif not _same_series(have, vol):
                left_out.append(
                    f"{timepoint_id!r} already has a {ph} series ({have.series_description or 'no description'}, "
                    f"{have.series_instance_uid or 'no UID'}); the other {ph} series "
                    f"({vol.series_description or 'no description'}, {vol.series_instance_uid or 'no UID'}) is not "
                    "attached to the read (a phase is read on one series). To read on it instead, open that "
                    "time point's series without the first one and start the read again.")
        if not new:
            return left_out
        tp = TimePointImages(timepoint_id, {**old.phases, **new}, old.date, old.day_offset, old.reference_phase)
        grid = self._geometries.get(timepoint_id)
        if grid is not None and not tp.reference.geometry.equals(grid):
            if self._masks.get(timepoint_id) or self._viable.get(timepoint_id) or timepoint_id in self._saved_tps:
                # the read's masks live on ``grid``: the reference stays a phase on it
                on_grid = [ph for ph in (*REFERENCE_PHASES, *tp.phases) if ph in tp.phases
                           and tp.phases[ph].geometry.equals(grid)]
                tp.reference_phase = on_grid[0] if on_grid else next(
                    ph for ph, v in old.phases.items() if v is old.reference)
            else:
                self._geometries[timepoint_id] = tp.reference.geometry
                for viable in (False, True):
                    self._label_cache.pop((timepoint_id, viable), None)
        self.images[timepoint_id] = tp
        return left_out

    def timepoint_recorded(self, timepoint_id: str) -> bool:
        """Whether the read holds anything under this time point's name (a measurement, a mask, a
        deletion, the autosave it was resumed from, the store's read): then it keeps that name."""
        return bool(
            timepoint_id in self._saved_tps or self.store_read_uid is not None
            or any(k[1] == timepoint_id for k in (*self.observations, *self._deleted))
            or self._masks.get(timepoint_id) or self._viable.get(timepoint_id))

    @serialised
    def rename_timepoints(self, renames: Mapping[str, str]) -> None:
        """Name time points of the read again (``{old: new}``, all at once: names may swap), e.g. a
        study opened before the one the read was started on becomes the baseline.  Only time points
        the read holds nothing under (:meth:`timepoint_recorded`) are renamed; raises otherwise."""
        renames = {o: n for o, n in renames.items() if o != n}
        if not renames:
            return
        kept = [t for t in renames if self.timepoint_recorded(t)]
        if kept:
            raise HccImagingError(
                f"time point(s) {', '.join(map(repr, kept))} of the read hold measurements or are saved under that "
                "name; not renamed.")
        taken = [n for n in renames.values() if n in self.images and n not in renames]
        if taken or len(set(renames.values())) != len(renames):
            raise HccImagingError(f"renaming time points {dict(renames)} would give two time points one name.")
        from dataclasses import replace

        moved = {renames.get(t, t): (replace(tp, timepoint_id=renames[t]) if t in renames else tp)
                 for t, tp in self.images.items()}
        geoms = {renames.get(t, t): g for t, g in self._geometries.items()}
        self.images.clear()
        self.images.update(moved)
        self._geometries.clear()
        self._geometries.update(geoms)
        touched = set(renames) | set(renames.values())
        for key in [k for k in self._label_cache if k[0] in touched]:
            del self._label_cache[key]
        livers: dict[str, Any] = getattr(self, "_livers", {})
        for t in touched:
            livers.pop(t, None)
        regs: dict[tuple[str, str, bool], Any] = getattr(self, "_registrations", {})
        for key in [k for k in regs if k[0] in touched or k[1] in touched]:
            del regs[key]

    def _tp_identity(self, timepoint_id: str) -> dict[str, Any]:
        """date, day_offset, study_instance_uid of a time point: its images', else the saved read's."""
        tp = self.images.get(timepoint_id)
        if tp is not None:
            return {"date": tp.date, "day_offset": tp.day_offset, "study_instance_uid": tp.reference.study_instance_uid}
        saved = self._saved_tps.get(timepoint_id, {})
        return {k: saved.get(k) for k in ("date", "day_offset", "study_instance_uid")}

    def _same_study(self, timepoint_id: str, uid: str | None, date: str | None) -> bool:
        """Whether images of study ``uid`` / ``date`` may be the read's time point ``timepoint_id``
        (True when the read knows nothing of it yet)."""
        known = self._tp_identity(timepoint_id)
        if known["study_instance_uid"] and uid:
            return bool(known["study_instance_uid"] == uid)
        return not (known["date"] and date and known["date"] != date)

    @property
    def timepoint_ids(self) -> list[str]:
        """Time points of the read, with images or observations: by date when every one has one,
        else in the saved read's order, then of loading / first measurement (never "with images
        first": a follow-up opened alone became the read's baseline)."""
        ids = list(self._saved_tps)
        for tpid in [*self.images, *(k[1] for k in self.observations), *(k[1] for k in sorted(self._deleted))]:
            if tpid not in ids:
                ids.append(tpid)
        dates = {t: self._tp_identity(t)["date"] for t in ids}
        if all(dates.values()):
            ids.sort(key=lambda t: str(dates[t]))
        return ids

    def geometry(self, timepoint_id: str) -> Geometry:
        """Reference grid of a time point (where its label map lives)."""
        if timepoint_id in self._geometries:
            return self._geometries[timepoint_id]
        raise HccImagingError(
            f"unknown time point {timepoint_id!r}; known: {sorted(self._geometries)}. Load its images first."
        )


def _same_series(a: Volume, b: Volume) -> bool:
    """Whether two volumes are one series (its UID; without UIDs, the very same pixels)."""
    if a.series_instance_uid and b.series_instance_uid:
        return bool(a.series_instance_uid == b.series_instance_uid)
    return a.array is b.array or (a.array.shape == b.array.shape and bool(np.array_equal(a.array, b.array)))

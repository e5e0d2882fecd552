"""The read's time points (:class:`TimePointsMixin`, a base of :class:`._controller.ReadSession`):
a time point's images attached (never another study's under its name: they go to the read's time
point of their study, or are refused naming both), a time point's identity (date, day offset,
study UID: its images', else the saved read's), the read's time points in order, and the
reference grid of each.  Qt-free, as the rest of the controller; split out of ``_controller.py``
along this seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
        'baseline' by the reader: a follow-up showed, and overwrote, the read's baseline.)
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
        self.images[timepoint_id] = tp
        self._geometries.setdefault(timepoint_id, tp.reference.geometry)
        return tp

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

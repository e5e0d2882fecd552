"""Qt-free state of the napari response workflow: one reader reading one patient.

The dock widget (``_widgets``) only forwards clicks, edits and button presses to a
:class:`ReadSession` and redraws what it returns; everything here is plain Python over the
core (``segment``, ``measure``, ``response``, ``burden``, ``study``, ``export``), so it is
tested without Qt and gives the same numbers as the CLI and the batch.

Never lose a change: every mutating method ends with :meth:`ReadSession.autosave`, which
writes the session (read document, measurement lines) atomically (temp file + ``os.replace``)
to ``<autosave_dir>/<patient>__<reader>.json``, and the lesion masks changed since the last save
as per-lesion crops, one file each, to ``<patient>__<reader>.masks/`` (``_mask_files``).
:meth:`ReadSession.resume` reopens it after a crash.

This module holds the read's records (time point images, lesions, observations), the session's
state, its lesions and their lines and typed values, the lock and the table; its other parts are
mixins beside it: the autosave (``_persistence``), the time points (``_timepoints``), the label
maps (``_label_maps``), masks set and measured and mask files imported (``_measuring``),
segmentation (``_segmenting``), the brush's mask edits (``_mask_edits``), the store sync and the
read document (``_store_sync``).
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import BlindingError, HccImagingError, StoreError
from ..volume import ARTERIAL_PREFERENCE, Geometry, Phase, Volume
from ._layers import LineSpec
from ._label_maps import LabelMapsMixin
from ._mask_edits import MaskEditsMixin
from ._measuring import MeasuringMixin
from ._persistence import SESSION_SCHEMA_VERSION, PersistenceMixin, session_path
from ._segmenting import SegmentingMixin
from ._store_sync import StoreSyncMixin
from ._timepoints import TimePointsMixin
from ._serial import serialised

__all__ = [
    "SESSION_SCHEMA_VERSION",
    "ROLES",
    "STATUSES",
    "EDITABLE_FIELDS",
    "TimePointImages",
    "Lesion",
    "Observation",
    "ReadSession",
    "ReadLockedError",
    "session_path",
]

#: Lesion roles of the read document (DESIGN section 4).
ROLES: tuple[str, ...] = ("target", "non_target", "new")
#: Lesion statuses of the read document.
STATUSES: tuple[str, ...] = (
    "measured",
    "too_small",
    "absent",
    "not_evaluable",
    "present",
    "unequivocal_progression",
)
#: Table columns the reader may edit, with their type.
EDITABLE_FIELDS: Mapping[str, type] = {
    "role": str,
    "organ": str,
    "is_lymph_node": bool,
    "status": str,
    "longest_diameter_mm": float,
    "short_axis_mm": float,
    "viable_diameter_mm": float,
    "volume_mm3": float,
    "necrosis_fraction": float,
}
#: Criteria a new read is assessed under (the reader may narrow them; locking assesses each).
DEFAULT_CRITERIA: tuple[str, ...] = ("RECIST1.1", "mRECIST", "EASL", "RECICL", "iRECIST")
#: Reference phase for the whole-lesion mask and RECIST diameters, in order of preference.
REFERENCE_PHASES: tuple[Phase, ...] = (
    Phase.PORTAL_VENOUS,
    Phase.DELAYED,
    Phase.ARTERIAL,
    Phase.ARTERIAL_LATE,
    Phase.PRE_CONTRAST,
)
#: Phase used for viable (arterially enhancing) tumour, in order of preference (mRECIST, EASL).
ARTERIAL_PHASES: tuple[Phase, ...] = ARTERIAL_PREFERENCE


class ReadLockedError(StoreError):
    """A change was attempted on a locked read."""


@dataclass(slots=True)
class TimePointImages:
    """The phases of one time point, on whatever grids they were acquired."""

    timepoint_id: str
    phases: dict[Phase, Volume]
    date: str | None = None
    day_offset: int | None = None
    #: The reference's phase when it is kept (a phase attached later on another grid than the one
    #: the read's masks live on does not become the reference); None: by :data:`REFERENCE_PHASES`.
    reference_phase: Phase | None = None

    @property
    def reference(self) -> Volume:
        """The volume on which masks live and RECIST diameters are measured (portal venous first)."""
        if self.reference_phase is not None and self.reference_phase in self.phases:
            return self.phases[self.reference_phase]
        for ph in REFERENCE_PHASES:
            if ph in self.phases:
                return self.phases[ph]
        return next(iter(self.phases.values()))

    @property
    def arterial(self) -> Volume | None:
        for ph in ARTERIAL_PHASES:
            if ph in self.phases:
                return self.phases[ph]
        return None


@dataclass(slots=True)
class Lesion:
    """A tracked lesion (same id and tracking UID at every time point)."""

    lesion_id: str
    tracking_uid: str
    label: int
    role: str = "target"
    organ: str = "liver"
    is_lymph_node: bool = False
    kind: str | None = None


@dataclass(slots=True)
class Observation:
    """One lesion at one time point: status, numbers (mm) and the lines they come from."""

    status: str = "measured"
    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    viable_diameter_mm: float | None = None
    viable_short_axis_mm: float | None = None
    volume_mm3: float | None = None
    viable_volume_mm3: float | None = None
    necrosis_fraction: float | None = None
    lines: dict[str, LineSpec] = field(default_factory=dict)
    source: str = ""
    problems: list[str] = field(default_factory=list)


class ReadSession(SegmentingMixin, MaskEditsMixin, StoreSyncMixin, PersistenceMixin, TimePointsMixin,
                  LabelMapsMixin, MeasuringMixin):
    """One reader's read of one patient: images, lesions, observations, masks; autosaved.

    Parameters
    ----------
    patient_id : str
        Pseudonymous patient id.
    reader_id : str
        Who reads; every manual change is attributed to this id.
    autosave_dir : path
        Folder of the autosave files (one per patient and reader: a reader never opens
        another reader's file, see :meth:`resume`).
    blinded : bool
        When True, this session refuses to open another reader's data.
    """

    def __init__(
        self,
        patient_id: str,
        reader_id: str,
        autosave_dir: str | os.PathLike[str],
        *,
        blinded: bool = True,
        store: Any = None,
        criteria: Sequence[str] | None = None,
    ) -> None:
        if not reader_id.strip():
            raise BlindingError(
                "reader_id is empty: every measurement must be attributed to a reader. "
                "Enter your reader id in the dock (or pass reader_id=...)."
            )
        self.patient_id = patient_id
        self.reader_id = reader_id
        self.blinded = blinded
        self.autosave_dir = Path(autosave_dir)
        #: Held while the session's state changes or is read whole (``_serial.serialised``): the dock's
        #: GUI thread and its workers change one session.
        self._lock = threading.RLock()
        self.images: dict[str, TimePointImages] = {}
        #: What the autosave says of each time point (in its order): date, day_offset and the
        #: study_instance_uid of the images it was read on (images attached later are checked against it).
        self._saved_tps: dict[str, dict[str, Any]] = {}
        self._init_segmenting()  # the liver masks and registrations segmentation uses (_segmenting.py)
        self.lesions: dict[str, Lesion] = {}
        self.observations: dict[tuple[str, str], Observation] = {}
        #: Per time point, per lesion: (start index, boolean crop) on the reference grid.
        self._masks: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]] = {}
        self._viable: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]] = {}
        #: the mask files the autosave on disk and its .bak name (``_persistence``, ``_mask_files``)
        self._mask_files: dict[tuple[str, str, str], str] | None = {}
        self._mask_files_bak: set[str] = set()
        #: the read's lock (``_persistence``, ``_read_lock``): this session's token, taken, closed
        self.lock_token = uuid.uuid4().hex
        self._lock_held = False
        self._closed = False
        self._geometries: dict[str, Geometry] = {}
        self._label_cache: dict[tuple[str, bool], NDArray[np.uint16]] = {}
        self.locked = False
        self.criteria: tuple[str, ...] = tuple(criteria) if criteria else DEFAULT_CRITERIA
        self.listeners: list[Any] = []
        self.saves = 0
        #: Wall seconds of the steps of the last change (segment_s, viable_s, measure_s,
        #: autosave_s, store_s): what the benchmark prints.
        self.last_timings: dict[str, float] = {}
        #: (lesion, time point) changed since the last store sync; deleted ones.
        self._dirty: set[tuple[str, str]] = set()
        self._deleted: set[tuple[str, str]] = set()
        #: Lesions whose attributes (organ, node flag) changed since the last store sync.
        self._lesion_dirty: set[str] = set()
        self.store_read_uid: str | None = None
        #: Records the study store refused, pending until corrected (``_store_sync``).
        self.store_pending: dict[tuple[str, str], str] = {}
        #: Highest lesion number ever given in this read (ids are never reused).
        self._max_label = 0
        #: Lesions deleted because their whole mask was erased by hand, by label, until napari's
        #: undo of the erase brings them back (``_mask_edits``).
        self._erased: dict[int, Any] = {}
        self._store = None
        self._reader_session: Any = None
        if store is not None:
            self.attach_store(store)

    # ------------------------------------------------------------------ the lock
    def _check_unlocked(self, what: str) -> None:
        if self.locked:
            raise ReadLockedError(
                f"read of patient {self.patient_id!r} by reader {self.reader_id!r} is locked; "
                f"cannot {what}. A locked read is final: start a new read (or ask the adjudicator) "
                "to record a change."
            )

    # ------------------------------------------------------------------ lesions
    @serialised
    def new_lesion(self, *, role: str = "target", organ: str = "liver", is_lymph_node: bool = False,
                   lesion_id: str | None = None) -> Lesion:
        """A new tracked lesion with the next id ``L<n>`` (or ``lesion_id``, an ``L<n>`` id not in use:
        an imported mask's) and a fresh tracking UID."""
        self._check_unlocked("add a lesion")
        used = [les.label for les in self.lesions.values()] + [self._max_label]
        if self._reader_session is not None:  # ids this reader already used in the store
            for info in self._reader_session.lesions(self.patient_id):
                if info.lesion_id[1:].isdigit():
                    used.append(int(info.lesion_id[1:]))
        if lesion_id is not None:
            if not (lesion_id[:1] == "L" and lesion_id[1:].isdigit() and int(lesion_id[1:]) > 0):
                raise HccImagingError(f"lesion id {lesion_id!r}: a read's lesion ids are L1, L2, ...; rename the "
                                      "segment (or its labels.json entry) to one.")
            if lesion_id in self.lesions or int(lesion_id[1:]) in used:
                raise HccImagingError(f"lesion id {lesion_id!r} is already used in this read.")
        n = int(lesion_id[1:]) if lesion_id is not None else 1 + max(used)
        self._max_label = max(self._max_label, n)
        self._erased.pop(n, None)  # its number is another lesion's now: an undo cannot bring the erased one back
        # a DICOM UID (UUID-derived, PS3.5 B.2) so SR/SEG can carry it as the Tracking UID
        les = Lesion(f"L{n}", f"2.25.{uuid.uuid4().int}", n, role=_norm_choice(role, ROLES, "role"), organ=organ,
                     is_lymph_node=bool(is_lymph_node))
        self.lesions[les.lesion_id] = les
        return les

    def _lesion(self, lesion_id: str) -> Lesion:
        if lesion_id not in self.lesions:
            raise KeyError(
                f"unknown lesion {lesion_id!r} for patient {self.patient_id!r}; known: {sorted(self.lesions)}"
            )
        return self.lesions[lesion_id]

    def observation(self, lesion_id: str, timepoint_id: str) -> Observation:
        return self.observations.setdefault((lesion_id, timepoint_id), Observation())

    @serialised
    def set_line(self, lesion_id: str, timepoint_id: str, line: LineSpec) -> Observation:
        """A reader moved or drew a line: its length (world mm) becomes the diameter it measures.

        ``long`` → longest diameter, ``short`` → short axis, ``viable_long`` → viable diameter,
        ``viable_short`` → viable short axis.  The measurement's source becomes the reader.
        """
        self._check_unlocked("change a line")
        self._lesion(lesion_id)
        self._check_line(timepoint_id, line.start_lps, line.end_lps, f"the {line.axis} line of {lesion_id}")
        obs = self.observation(lesion_id, timepoint_id)
        axis = line.axis
        field_name = {
            "long": "longest_diameter_mm",
            "manual": "longest_diameter_mm",
            "short": "short_axis_mm",
            "viable_long": "viable_diameter_mm",
            "viable_short": "viable_short_axis_mm",
        }.get(axis)
        if field_name is None:
            raise HccImagingError(
                f"line axis {axis!r} of lesion {lesion_id!r} is not one of long/short/viable_long/viable_short/manual."
            )
        key = "long" if axis == "manual" else axis
        new = replace(line, lesion_id=lesion_id, axis=key)
        obs.lines[key] = new
        setattr(obs, field_name, round(new.length_mm, 1))
        obs.status = "measured"
        obs.source = f"reader:{self.reader_id}"
        self._dirty.add((lesion_id, timepoint_id))
        self.autosave()
        return obs

    def _check_line(self, timepoint_id: str, start: Sequence[float], end: Sequence[float], what: str) -> None:
        """Refuse a line no reader means: of no length (a double click), or with an end outside the
        time point's image (a line there became a lesion of that length)."""
        a, b = np.asarray(start, float), np.asarray(end, float)
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise HccImagingError(f"{what} has an end that is not a number; draw it again.")
        if timepoint_id not in self._geometries:
            return  # (a time point without images: nothing to check the ends against)
        geom = self._geometries[timepoint_id]
        if float(np.linalg.norm(b - a)) < 0.5 * min(geom.spacing):
            raise HccImagingError(f"{what} has no length (its two ends are one point: a double click?); "
                                  "drag from one edge of the lesion to the other.")
        idx = np.asarray(geom.lps_to_index(np.stack([a, b])), float)
        shape = np.asarray(geom.shape, float)
        if np.any(idx < -0.5) or np.any(idx > shape - 0.5):
            raise HccImagingError(f"{what} at {timepoint_id} has an end outside the image; draw it on the image.")

    @serialised
    def measure_manual(
        self,
        timepoint_id: str,
        long_line: tuple[Sequence[float], Sequence[float]],
        short_line: tuple[Sequence[float], Sequence[float]] | None = None,
        *,
        lesion_id: str | None = None,
        role: str = "target",
    ) -> tuple[str, Observation]:
        """Manual (bidirectional) measurement: a long-axis line and optionally a short-axis line."""
        self._check_unlocked("add a manual measurement")
        for what, ln in (("the long-axis line", long_line), ("the short-axis line", short_line)):
            if ln is not None:
                self._check_line(timepoint_id, ln[0], ln[1], what)
        les = self._lesion(lesion_id) if lesion_id else self.new_lesion(role=role)
        self.observations[(les.lesion_id, timepoint_id)] = Observation(source=f"reader:{self.reader_id}")
        self.set_line(les.lesion_id, timepoint_id, LineSpec(les.lesion_id, "long", tuple(long_line[0]), tuple(long_line[1])))  # type: ignore[arg-type]
        if short_line is not None:
            self.set_line(les.lesion_id, timepoint_id, LineSpec(les.lesion_id, "short", tuple(short_line[0]), tuple(short_line[1])))  # type: ignore[arg-type]
        return les.lesion_id, self.observations[(les.lesion_id, timepoint_id)]

    #: What an absent lesion cannot have (the read document refuses a diameter there, but a node's).
    ABSENT_CLEARS: tuple[str, ...] = ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm",
                                      "viable_short_axis_mm", "volume_mm3", "viable_volume_mm3", "necrosis_fraction")

    #: The line a typed size replaces (its endpoints are dropped with it).
    TYPED_LINE_AXES: Mapping[str, str] = {"longest_diameter_mm": "long", "short_axis_mm": "short",
                                          "viable_diameter_mm": "viable_long"}

    @serialised
    def set_field(self, lesion_id: str, field_name: str, value: Any, timepoint_id: str | None = None) -> dict[str, Any]:
        """Edit one table cell (lesion attribute, or an observation value at ``timepoint_id``).

        Status 'absent' (of a lesion that is not a node) empties the lesion's numbers, lines and
        masks (whole and viable) at that time point (the read document refuses the numbers:
        responses, exports and locking failed; the SEG carried a segment the SR called absent);
        returns what it emptied ({field: old value}, the masks as ``mask_voxels`` /
        ``viable_mask_voxels``: their voxel counts), else {}.  A diameter typed for an absent
        lesion makes it 'measured' again.  A typed diameter drops the line of that axis (a typed
        value has no line: the SR carried the typed length with the old line's); an LD shorter than
        the SA is refused."""
        cleared: dict[str, Any] = {}
        self._check_unlocked(f"edit {field_name}")
        les = self._lesion(lesion_id)
        if field_name not in EDITABLE_FIELDS:
            raise HccImagingError(
                f"field {field_name!r} of lesion {lesion_id!r} is not editable; editable: {sorted(EDITABLE_FIELDS)}."
            )
        typ = EDITABLE_FIELDS[field_name]
        if field_name in ("role", "organ", "is_lymph_node"):
            if field_name == "role":
                value = _norm_choice(value, ROLES, "role")
            elif field_name == "is_lymph_node":
                value = _as_bool(value)
            setattr(les, field_name, typ(value))
            if field_name != "role":  # the role is per measurement; organ and node flag are the lesion's
                self._lesion_dirty.add(lesion_id)
        else:
            if timepoint_id is None:
                raise HccImagingError(f"editing {field_name!r} of lesion {lesion_id!r} needs a timepoint_id.")
            obs = self.observation(lesion_id, timepoint_id)
            if field_name == "status":
                value = _norm_choice(value, STATUSES, "status")
            elif value in (None, ""):
                value = None
            else:
                try:
                    value = float(value)
                except (TypeError, ValueError) as err:
                    raise HccImagingError(
                        f"{field_name} of lesion {lesion_id!r} at {timepoint_id!r} must be a number in mm/mm3/fraction, "
                        f"got {value!r}."
                    ) from err
                if not math.isfinite(value) or value < 0:
                    # (inf / nan reached the autosave as ``Infinity`` and the store refused it, so the
                    # read could not be reopened)
                    raise HccImagingError(f"{field_name} of lesion {lesion_id!r} must be a finite number >= 0, got {value}.")
                if field_name == "necrosis_fraction" and value > 1:
                    raise HccImagingError(f"necrosis_fraction of lesion {lesion_id!r} is a fraction from 0 to 1 "
                                          f"(0.35 for 35 %), got {value:g}.")
            sizes = {"longest_diameter_mm": obs.longest_diameter_mm, "short_axis_mm": obs.short_axis_mm,
                     field_name: value}
            if (field_name in sizes and sizes["longest_diameter_mm"] is not None and sizes["short_axis_mm"] is not None
                    and sizes["longest_diameter_mm"] < sizes["short_axis_mm"]):
                raise HccImagingError(
                    f"lesion {lesion_id!r} at {timepoint_id!r}: the long axis ({sizes['longest_diameter_mm']:g} mm) "
                    f"cannot be shorter than the short axis ({sizes['short_axis_mm']:g} mm); not changed. "
                    "Type the longest diameter in LD, the longest one perpendicular to it in SA.")
            axis = self.TYPED_LINE_AXES.get(field_name)
            if axis is not None and value != getattr(obs, field_name):
                obs.lines.pop(axis, None)  # a typed size has no line: the line left would contradict it
            setattr(obs, field_name, value)
            obs.source = f"reader:{self.reader_id}"
            if field_name == "status" and value == "absent" and not les.is_lymph_node:
                for name in self.ABSENT_CLEARS:
                    if getattr(obs, name) is not None:
                        cleared[name] = getattr(obs, name)
                        setattr(obs, name, None)
                obs.lines.clear()  # (a line is a diameter's; the lesion is gone)
                # and its masks there: the SEG exported a segment for a lesion the SR called absent
                for viable, store in ((False, self._masks), (True, self._viable)):
                    item = store.get(timepoint_id, {}).get(lesion_id)
                    if item is not None:
                        cleared["viable_mask_voxels" if viable else "mask_voxels"] = int(np.count_nonzero(item[1]))
                        self._update_label_cache(timepoint_id, lesion_id, viable, None)
            elif (field_name in ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm") and value
                  and obs.status == "absent" and not les.is_lymph_node):
                obs.status = "measured"
        self._dirty.update(k for k in self.observations if k[0] == lesion_id)
        self.autosave(masks="mask_voxels" in cleared or "viable_mask_voxels" in cleared)
        return cleared

    @serialised
    def delete_lesion(self, lesion_id: str) -> None:
        self._check_unlocked("delete a lesion")
        self._lesion(lesion_id)
        for viable, store in ((False, self._masks), (True, self._viable)):
            for tpid in list(store):
                if lesion_id in store[tpid]:
                    self._update_label_cache(tpid, lesion_id, viable, None)
        del self.lesions[lesion_id]
        for key in [k for k in self.observations if k[0] == lesion_id]:
            del self.observations[key]
            self._dirty.discard(key)
            self._deleted.add(key)
        self.autosave(masks=True)

    @serialised
    def lock(self) -> None:
        """Lock the read: no further change is accepted (and the lock is saved).

        With a store attached the store's read is locked first (which validates the read and
        stores its responses); a read the store refuses stays a draft here too, and so does a
        read with a record the store refused (``store_pending``: the store has its old values).
        """
        self._check_unlocked("lock it again")
        if self._reader_session is not None:
            self.sync_store()
            self.refuse_pending_lock()
            self._reader_session.lock(self._ensure_store_read())
        self.locked = True
        self.autosave()

    # ------------------------------------------------------------------ outputs
    @serialised
    def lines(self, timepoint_id: str) -> list[LineSpec]:
        return [ln for (lid, tpid), obs in self.observations.items() if tpid == timepoint_id for ln in obs.lines.values()]

    @serialised
    def table_rows(self, timepoint_id: str) -> list[dict[str, Any]]:
        """One row per lesion for the lesion table (values at ``timepoint_id``)."""
        rows = []
        for les in self.lesions.values():
            obs = self.observations.get((les.lesion_id, timepoint_id))
            rows.append(
                {
                    "lesion_id": les.lesion_id,
                    "tracking_uid": les.tracking_uid,
                    "role": les.role,
                    "organ": les.organ,
                    "is_lymph_node": les.is_lymph_node,
                    "status": obs.status if obs else "",
                    "longest_diameter_mm": obs.longest_diameter_mm if obs else None,
                    "short_axis_mm": obs.short_axis_mm if obs else None,
                    "viable_diameter_mm": obs.viable_diameter_mm if obs else None,
                    "volume_mm3": obs.volume_mm3 if obs else None,
                    "necrosis_fraction": obs.necrosis_fraction if obs else None,
                    "problems": "; ".join(obs.problems) if obs else "not measured at this time point",
                }
            )
        return rows

def _norm_choice(value: Any, choices: Sequence[str], name: str) -> str:
    v = str(getattr(value, "value", value)).strip().lower().replace("-", "_").replace(" ", "_")
    if v not in choices:
        raise HccImagingError(f"{name} {value!r} is not one of {', '.join(choices)}.")
    return v


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "x")
    return bool(value)

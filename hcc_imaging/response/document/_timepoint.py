"""One assessment (scan) of a read document with the findings recorded on it (:class:`TimePoint`)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hcc_imaging.errors import ReadDocumentError
from ._lesion import LesionObservation
from ._values import _bool, _check_keys, _date, _day, _fields, _note, _number, _text, _where


@dataclass(frozen=True, slots=True)
class TimePoint:
    """One assessment (scan date) with the findings a reader recorded.

    ``day`` is the offset in days from study entry; when omitted it is derived from ``date``
    by :class:`ReadDocument`.  ``slice_thickness_mm`` enables the RECIST measurability rule
    (minimum 2 × slice thickness when slices are thicker than 5 mm).
    ``scan_for_new_symptoms`` is the iRECIST exception that allows a scan < 4 weeks after
    iUPD to confirm iCPD when it shows additional new lesions; ``clinically_stable`` records
    the iRECIST clinical stability that decides whether treatment continues after iUPD (it
    does not change the label).  ``tumour_markers_normal``
    (optional) feeds the RECIST non-target CR requirement that markers be normal.
    """

    id: str
    date: _dt.date | None = None
    day: int | None = None
    lesions: tuple[LesionObservation, ...] = ()
    modality: str | None = None
    slice_thickness_mm: float | None = None
    scan_for_new_symptoms: bool = False
    tumour_markers_normal: bool | None = None
    clinically_stable: bool | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ReadDocumentError(
                f"a time point has id {self.id!r}; every time point needs a non-empty id "
                "such as 'BL' or 'FU1'. Fix: set 'id'."
            )
        w = lambda f: _where(self.id, None, f)  # noqa: E731
        s = object.__setattr__
        s(self, "date", _date(self.date, w("date")))
        s(self, "day", _day(self.day, w("day")))
        s(self, "slice_thickness_mm",
          _number(self.slice_thickness_mm, w("slice_thickness_mm")))
        s(self, "scan_for_new_symptoms",
          _bool(self.scan_for_new_symptoms, w("scan_for_new_symptoms"), optional=False))
        s(self, "tumour_markers_normal",
          _bool(self.tumour_markers_normal, w("tumour_markers_normal")))
        s(self, "clinically_stable", _bool(self.clinically_stable, w("clinically_stable")))
        s(self, "modality", _text(self.modality, w("modality")))
        s(self, "note", _note(self.note, w("note")))
        lesions = []
        for item in self.lesions:
            if isinstance(item, LesionObservation):
                lesions.append(item)
            else:
                lesions.append(LesionObservation.from_json(item, self.id))
        seen: set[str] = set()
        for les in lesions:
            if les.lesion_id in seen:
                raise ReadDocumentError(
                    f"{_where(self.id, les.lesion_id)}: the lesion id appears twice at this "
                    "time point. Each lesion is recorded once per time point. Fix: give "
                    "fragments of a split lesion their own ids with split_from, or remove the "
                    "duplicate."
                )
            seen.add(les.lesion_id)
        for les in lesions:
            if les.merged_into is not None and les.merged_into not in seen:
                raise ReadDocumentError(
                    f"{_where(self.id, les.lesion_id, 'merged_into')}: it names "
                    f"{les.merged_into!r}, which is not recorded at this time point. The "
                    "lesion that carries the merged mass must be measured here. Fix: add it "
                    "or correct the id."
                )
        s(self, "lesions", tuple(lesions))

    def lesion(self, lesion_id: str) -> LesionObservation | None:
        """The observation of ``lesion_id`` at this time point, or None."""
        for les in self.lesions:
            if les.lesion_id == lesion_id:
                return les
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.date is not None:
            out["date"] = self.date.isoformat()
        if self.day is not None:
            out["day"] = self.day
        for name in ("modality", "slice_thickness_mm", "tumour_markers_normal",
                     "clinically_stable", "note"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        if self.scan_for_new_symptoms:
            out["scan_for_new_symptoms"] = True
        out["lesions"] = [les.to_json() for les in self.lesions]
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TimePoint:
        tid = obj.get("id") if isinstance(obj, Mapping) else None
        where = _where(tid if isinstance(tid, str) else None)
        _check_keys(obj, _fields(cls), where)
        data = dict(obj)
        lesions = data.get("lesions", [])
        if not isinstance(lesions, list):
            raise ReadDocumentError(
                f"{where}, field 'lesions': expected a list of lesion objects, got "
                f"{type(lesions).__name__}."
            )
        data["lesions"] = tuple(lesions)
        try:
            return cls(**data)
        except TypeError as err:
            raise ReadDocumentError(f"{where}: {err}. Fix: every time point needs 'id'.") from None

"""One reader's read of one patient (:class:`ReadDocument`): validation across its time points and
records, JSON in and out, and the JSON Schema."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcc_imaging._atomic import atomic_write_text
from hcc_imaging.errors import ReadDocumentError
from ._clinical import CeusExam, LiverFunction, MarkerValue, TreatmentEvent, _simple_to_json
from ._enums import Role
from ._lesion import LesionObservation
from ._timepoint import TimePoint
from ._values import _check_keys, _date, _day, _fields, _note, _text, _where

#: Version of the read-document format.  Minor versions only add optional fields; a reader
#: accepts any document with the same major version.
SCHEMA_VERSION: str = "1.0"

#: The JSON Schema shipped with the package (identical to ``docs/read-document.schema.json``),
#: next to this package in ``hcc_imaging/response/``.
SCHEMA_PATH: Path = Path(__file__).parents[1] / "read_document.schema.json"


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """One reader's read of one patient: time points, treatments, markers, liver function.

    Construct with keyword arguments, or from JSON with :meth:`from_json`.  After
    construction every time point (and every dated record) has ``day`` set; time points are in
    chronological order; the first is the baseline.

    Parameters
    ----------
    patient_id : str
        Pseudonymous patient id (no names).
    reader_id : str
    timepoints : tuple of TimePoint
        Baseline first, strictly increasing days.
    criteria : tuple of str
        The criteria this read is meant for (informative; ``assess`` takes its own list).
    treatments, markers, liver_function, ceus : tuples of records
    start_date : date, optional
        Day 0 (study entry).  Defaults to the first time point's date.
    death_day / death_date : optional
        Death (PFS event; censoring for TTP).
    last_contact_day : int, optional
        Last known alive (informative: no endpoint here reads it; PFS and TTP are censored at
        the last adequate assessment, FDA 2018, not at the last contact).  On or before the
        death day.
    schema_version : str
    """

    patient_id: str
    reader_id: str = "reader"
    timepoints: tuple[TimePoint, ...] = ()
    criteria: tuple[str, ...] = ()
    treatments: tuple[TreatmentEvent, ...] = ()
    markers: tuple[MarkerValue, ...] = ()
    liver_function: tuple[LiverFunction, ...] = ()
    ceus: tuple[CeusExam, ...] = ()
    start_date: _dt.date | None = None
    death_date: _dt.date | None = None
    death_day: int | None = None
    last_contact_day: int | None = None
    study_id: str | None = None
    note: str | None = None
    schema_version: str = SCHEMA_VERSION

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name in ("patient_id", "reader_id"):
            s(self, name, _text(getattr(self, name), f"read document, field {name!r}",
                                optional=False))
        ver = str(self.schema_version)
        major = ver.split(".")[0]
        if major != SCHEMA_VERSION.split(".")[0]:
            raise ReadDocumentError(
                f"read document, field 'schema_version': version {ver!r} is not supported "
                f"(this hcc_imaging reads {SCHEMA_VERSION.split('.')[0]}.x). Fix: upgrade "
                "hcc-imaging, or re-export the read with this version."
            )
        s(self, "schema_version", ver)
        s(self, "start_date", _date(self.start_date, "read document, field 'start_date'"))
        s(self, "death_date", _date(self.death_date, "read document, field 'death_date'"))
        s(self, "death_day", _day(self.death_day, "read document, field 'death_day'"))
        s(self, "last_contact_day",
          _day(self.last_contact_day, "read document, field 'last_contact_day'"))
        s(self, "criteria", tuple(str(c) for c in self.criteria))
        s(self, "note", _note(self.note, "read document, field 'note'"))
        tps = tuple(t if isinstance(t, TimePoint) else TimePoint.from_json(t)
                    for t in self.timepoints)
        if not tps:
            raise ReadDocumentError(
                "read document, field 'timepoints': no time points. A read needs at least the "
                "baseline. Fix: add the baseline time point (id, date or day, lesions)."
            )
        ids = [t.id for t in tps]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ReadDocumentError(
                f"time point {sorted(dup)[0]!r}: the id is used twice. Fix: give each time "
                "point its own id."
            )
        start = self.start_date or tps[0].date

        def day_of(rec: Any, where: str) -> int:
            if rec.day is not None:
                return int(rec.day)
            if rec.date is not None and start is not None:
                return (rec.date - start).days
            raise ReadDocumentError(
                f"{where}: has a date but day 0 is unknown (no start_date and the first time "
                "point has no date). Fix: give 'day', or set 'start_date'."
            )

        fixed = []
        for t in tps:
            if t.day is None and t.date is None:
                raise ReadDocumentError(
                    f"time point {t.id!r}, fields 'date'/'day': neither is given, so the time "
                    "point cannot be placed in time (nadir, confirmation and durations need "
                    "it). Fix: give the scan date (YYYY-MM-DD) or the day offset."
                )
            fixed.append(t if t.day is not None else
                         dataclasses.replace(t, day=day_of(t, f"time point {t.id!r}")))
        for a, b in zip(fixed, fixed[1:]):
            if b.day <= a.day:  # type: ignore[operator]
                raise ReadDocumentError(
                    f"time point {b.id!r}, field 'day': day {b.day} is not after the previous "
                    f"time point {a.id!r} (day {a.day}). Time points must be in chronological "
                    "order with the baseline first. Fix: sort them by date, or correct the day."
                )
        s(self, "timepoints", tuple(fixed))

        def fill(records: Any, cls: type, label: str) -> tuple[Any, ...]:
            out = []
            for r in records:
                if not isinstance(r, cls):
                    if not isinstance(r, Mapping):
                        raise ReadDocumentError(
                            f"read document, field {label!r}: expected objects, got {r!r}."
                        )
                    _check_keys(r, _fields(cls), f"read document, {label} entry")
                    r = cls(**r)
                if r.day is None:
                    r = dataclasses.replace(r, day=day_of(r, f"{label} entry dated {r.date}"))
                out.append(r)
            return tuple(sorted(out, key=lambda x: x.day))

        s(self, "treatments", fill(self.treatments, TreatmentEvent, "treatments"))
        s(self, "markers", fill(self.markers, MarkerValue, "markers"))
        s(self, "liver_function", fill(self.liver_function, LiverFunction, "liver_function"))
        s(self, "ceus", fill(self.ceus, CeusExam, "ceus"))
        death_field = "death_day" if self.death_day is not None else "death_date"
        if self.death_day is None and self.death_date is not None and start is not None:
            s(self, "death_day", (self.death_date - start).days)
        self._check_death(death_field)
        self._check_lesion_roles()

    def _check_death(self, field_: str) -> None:
        """Death on or after day 0 and on or after every scan (PFS would end at a death
        before a PD that was scanned later), every treatment (its start and end), tumour-marker
        draw, liver-function record and CEUS exam.  ``field_``: the field the death day came
        from."""
        if self.death_day is None:
            return
        when = f"day {self.death_day}" + (
            f" ({self.death_date.isoformat()})" if field_ == "death_date" and self.death_date
            else "")
        if self.death_day < 0:
            raise ReadDocumentError(
                f"read document, field {field_!r}: death on {when} is before day 0, the start "
                "of treatment / randomisation; a patient on study died on or after it. Fix: "
                f"correct {field_!r}, or 'start_date' if day 0 is wrong."
            )
        if self.last_contact_day is not None and self.last_contact_day > self.death_day:
            raise ReadDocumentError(
                f"read document, field 'last_contact_day': the last contact on day "
                f"{self.last_contact_day} is after death on {when} ({field_!r}); a patient is last "
                f"known alive on or before the day of death. Fix: correct 'last_contact_day' or "
                f"{field_!r}."
            )
        late = [t for t in self.timepoints if t.day > self.death_day]  # type: ignore[operator]
        if late:
            t = late[0]
            raise ReadDocumentError(
                f"read document, field {field_!r}: death on {when} is before time point "
                f"{t.id!r} (day {t.day}); a scan after death is impossible. Fix: correct "
                f"{field_!r} or the date/day of time point {t.id!r}."
            )
        start = self.start_date or self.timepoints[0].date
        for label, name, recs in (("treatment", "treatments", self.treatments),
                                  ("tumour-marker draw", "markers", self.markers),
                                  ("liver-function record", "liver_function", self.liver_function),
                                  ("CEUS exam", "ceus", self.ceus)):
            for r in recs:
                what = (f"{label} {r.kind.value!r}" if isinstance(r, TreatmentEvent) else label)
                dated = [("day", r.day, r.date)]
                if isinstance(r, TreatmentEvent):
                    end = r.end_day if r.end_day is not None else (
                        (r.end_date - start).days if r.end_date is not None and start is not None
                        else None)
                    dated.append(("end_day", end, r.end_date))
                for key, day, date in dated:
                    if day is None or day <= self.death_day:
                        continue
                    on = f"day {day}" + (f" ({date.isoformat()})" if date is not None else "")
                    date_field = key.replace("day", "date") if date is not None else key
                    raise ReadDocumentError(
                        f"read document, field {field_!r}: death on {when} is before the "
                        f"{what} in {name!r} "
                        + ("ending" if key == "end_day" else "dated")
                        + f" {on}; a record after death is impossible. Fix: correct "
                        f"{field_!r} or that {label}'s {date_field!r}."
                    )

    def _check_lesion_roles(self) -> None:
        base = self.timepoints[0]
        base_ids = {les.lesion_id: les for les in base.lesions}
        for les in base.lesions:
            if les.role is Role.NEW:
                raise ReadDocumentError(
                    f"{_where(base.id, les.lesion_id, 'role')}: a lesion at baseline cannot be "
                    "'new'. Fix: set role to 'target' or 'non_target'."
                )
        known: dict[str, LesionObservation] = dict(base_ids)
        for tp in self.timepoints[1:]:
            for les in tp.lesions:
                first = known.get(les.lesion_id)
                if les.split_from is not None:
                    if les.split_from not in known:
                        raise ReadDocumentError(
                            f"{_where(tp.id, les.lesion_id, 'split_from')}: names "
                            f"{les.split_from!r}, which no earlier time point records. Fix: "
                            "use the id of the lesion that split."
                        )
                    parent = known[les.split_from]
                    if les.role is not parent.role:
                        raise ReadDocumentError(
                            f"{_where(tp.id, les.lesion_id, 'role')}: a fragment has the "
                            f"role of the lesion it split from ({parent.role.value!r}), not "
                            f"{les.role.value!r}. Fix: set role to {parent.role.value!r}."
                        )
                    known.setdefault(les.lesion_id, les)
                    continue
                if first is None:
                    if les.role is Role.TARGET:
                        raise ReadDocumentError(
                            f"{_where(tp.id, les.lesion_id, 'role')}: a target that is not in "
                            f"the baseline ({base.id!r}). Targets are chosen at baseline "
                            "(RECIST 1.1 sec. 4.2). Fix: set role to 'new' (or 'non_target'), "
                            "or add its baseline measurement."
                        )
                    known[les.lesion_id] = les
                    continue
                if les.role is not first.role:
                    raise ReadDocumentError(
                        f"{_where(tp.id, les.lesion_id, 'role')}: role {les.role.value!r} "
                        f"differs from its first record ({first.role.value!r}). A lesion keeps "
                        "its role for the whole read. Fix: use the same role, or give the "
                        "finding its own lesion_id."
                    )

    # -- access ----------------------------------------------------------------------------
    @property
    def baseline(self) -> TimePoint:
        """The first time point."""
        return self.timepoints[0]

    def timepoint(self, timepoint_id: str) -> TimePoint:
        """Time point by id (ReadDocumentError if unknown)."""
        for t in self.timepoints:
            if t.id == timepoint_id:
                return t
        raise ReadDocumentError(
            f"time point {timepoint_id!r} is not in the read of patient {self.patient_id!r}; "
            f"it has {[t.id for t in self.timepoints]}."
        )

    # -- JSON ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (validates against the schema; ``from_json`` round-trips it)."""
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "patient_id": self.patient_id,
            "reader_id": self.reader_id,
        }
        for name in ("study_id", "note"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        if self.criteria:
            out["criteria"] = list(self.criteria)
        for name in ("start_date", "death_date"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v.isoformat()
        for name in ("death_day", "last_contact_day"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        out["timepoints"] = [t.to_json() for t in self.timepoints]
        for name in ("treatments", "markers", "liver_function", "ceus"):
            recs = getattr(self, name)
            if recs:
                out[name] = [_simple_to_json(r) for r in recs]
        return out

    def dumps(self, indent: int | None = 2) -> str:
        """JSON text."""
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (temp file + ``os.replace``)."""
        path = atomic_write_text(path, self.dumps() + "\n", fsync=True)
        return path

    @classmethod
    def from_json(cls, obj: Mapping[str, Any] | str | os.PathLike[str]) -> ReadDocument:
        """Read a document from a dict, JSON text or a file path.

        Raises
        ------
        ReadDocumentError
            With the time point, lesion and field at fault and how to fix it.
        """
        source = "read document"
        if isinstance(obj, (str, os.PathLike)) and not (
            isinstance(obj, str) and obj.lstrip()[:1] in ("{", "[")
        ):
            p = Path(obj)
            source = str(p)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as err:
                raise ReadDocumentError(
                    f"cannot read the read document {p}: {err.strerror}. Fix: check the path."
                ) from err
            obj = text
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as err:
                raise ReadDocumentError(
                    f"{source} is not valid JSON: {err.msg} at line {err.lineno}, column "
                    f"{err.colno}. Fix: correct the JSON syntax there."
                ) from err
        if not isinstance(obj, Mapping):
            raise ReadDocumentError(
                f"{source}: expected a JSON object at the top level, got "
                f"{type(obj).__name__}. Fix: see docs/read-document.md."
            )
        if "tables_schema_version" in obj and "read_document" in obj and "patient_id" not in obj:
            # the JSON read `export csv` / `demo` / `batch --deidentify` write to reads/<patient>.json
            # wraps the read document with its table rows: read the wrapped one
            inner = obj["read_document"]
            if not isinstance(inner, Mapping):
                raise ReadDocumentError(
                    f"{source} is a tables JSON read (tables_schema_version "
                    f"{obj['tables_schema_version']}) without a read document in it (its read was made "
                    "from measurements, not a read document). Fix: pass the read document itself (the "
                    "batch's reads/<patient>.json, or `hcc-imaging study export-read`)."
                )
            obj = inner
        _check_keys(obj, _fields(cls), "read document")
        if "patient_id" not in obj:
            raise ReadDocumentError(
                "read document, field 'patient_id': missing. Every read names its "
                "(pseudonymous) patient. Fix: add \"patient_id\": \"P001\"."
            )
        data = dict(obj)
        for name in ("timepoints", "treatments", "markers", "liver_function", "ceus",
                     "criteria"):
            if name in data:
                if not isinstance(data[name], list):
                    raise ReadDocumentError(
                        f"read document, field {name!r}: expected a list, got "
                        f"{type(data[name]).__name__}."
                    )
                data[name] = tuple(data[name])
        return cls(**data)


def schema() -> dict[str, Any]:
    """The read-document JSON Schema (draft 2020-12) as a dict."""
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result

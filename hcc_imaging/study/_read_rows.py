"""The rows of a read as records, the checks of a recorded value, and what a reader's and an
adjudicator's sessions share (:mod:`.reads`, :mod:`._adjudicator`; private; split from ``reads.py``
on 2026-12-07 with the same code).

Blinding is not decided here: each session decides which reads it reaches, then builds their
records and documents with these functions."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import StoreError
from ..response.document import MAX_LENGTH_MM
from .documents import LOCK_SNAPSHOT, build_document, dumps, read_markers, read_treatments
from .model import (
    LesionRow,
    MeasurementRow,
    PatientRow,
    ReaderRow,
    ReadResponseRow,
    ReadRow,
    ReadTimePointRow,
    TimePointRow,
)
from .records import (
    LesionInfo,
    MeasurementRecord,
    PatientInfo,
    ReadInfo,
    ResponseRecord,
    TimePointInfo,
    TreatmentEventInfo,
    TumourMarkerInfo,
)
from .store import Store, _markers, _treatments

_ENDPOINT_AXES = ("long", "short", "viable_long", "viable_short", "necrosis_long", "necrosis_short")


def _default_assessor(doc: Any, criteria: str) -> Any:
    from ..response import assess

    return assess(doc, [criteria])


def _norm_criteria(criteria: str | Sequence[str]) -> tuple[str, ...]:
    """Canonical criterion names (``RECIST1.1``, ``mRECIST``...); CriteriaError if unknown."""
    from ..response.rules import parse_criteria

    items = [criteria] if isinstance(criteria, str) else list(criteria)
    out: list[str] = []
    for item in items:
        for c in str(item).split(","):
            c = c.strip()
            if c:
                name = parse_criteria(c).value
                if name not in out:
                    out.append(name)
    return tuple(out)


def _row(s: Session, model: Any, pk: Any) -> Any:
    """Row ``pk`` of ``model``, which another row refers to (StoreError if missing)."""
    obj = s.get(model, pk)
    if obj is None:
        raise StoreError(
            f"the study store is inconsistent: {model.__tablename__} row {pk} is missing although another row refers "
            "to it. Run 'hcc-imaging study audit verify' and PRAGMA integrity_check, and restore from a backup."
        )
    return obj


def _read_days(extra: Mapping[str, Any]) -> dict[str, int] | None:
    """The read's own day number of each time point: copied at its lock, else from its imported
    document (``timepoint_days``); None for a read without (started in the store, or older)."""
    snap = extra.get(LOCK_SNAPSHOT)
    if snap is not None:
        return {k: v["day"] for k, v in snap.get("timepoints", {}).items() if v.get("day") is not None}
    days = extra.get("timepoint_days")
    return dict(days) if days is not None else None


def _read_info(s: Session, r: ReadRow) -> ReadInfo:
    reader = _row(s, ReaderRow, r.reader_fk)
    patient = _row(s, PatientRow, r.patient_fk)
    tps = s.execute(
        select(TimePointRow).join(ReadTimePointRow, ReadTimePointRow.timepoint_fk == TimePointRow.id)
        .where(ReadTimePointRow.read_fk == r.id)
    ).scalars().all()
    own = _read_days(json.loads(r.extra_json) if r.extra_json else {})
    if own is not None and all(t.timepoint_id in own for t in tps):
        tps = sorted(tps, key=lambda t: (own[t.timepoint_id], t.timepoint_id))
    else:
        tps = sorted(tps, key=lambda t: (t.date or dt.date.min, t.day_offset if t.day_offset is not None else -10**9,
                                         t.timepoint_id))
    return ReadInfo(r.read_uid, reader.reader_id, patient.patient_id, r.status, _norm_criteria(r.criteria),
                    tuple(t.timepoint_id for t in tps), r.created_at, r.locked_at)


def _lesion_info(s: Session, les: LesionRow) -> LesionInfo:
    patient = _row(s, PatientRow, les.patient_fk)
    owner = _row(s, ReaderRow, les.owner_reader_fk) if les.owner_reader_fk is not None else None
    return LesionInfo(les.tracking_uid, patient.patient_id if patient else "", les.lesion_id, les.organ,
                      bool(les.is_lymph_node), les.kind, owner.reader_id if owner else None)


def _measurement_record(s: Session, m: MeasurementRow, read: ReadRow, reader_id: str) -> MeasurementRecord:
    les = _row(s, LesionRow, m.lesion_fk)
    tp = _row(s, TimePointRow, m.timepoint_fk)
    eps = {k: (tuple(v[0]), tuple(v[1])) for k, v in json.loads(m.endpoints_json or "{}").items()}
    return MeasurementRecord(
        measurement_uid=m.measurement_uid, read_uid=read.read_uid, reader_id=reader_id, tracking_uid=les.tracking_uid,
        lesion_id=les.lesion_id, timepoint_id=tp.timepoint_id, role=m.role, status=m.status,
        longest_diameter_mm=m.longest_diameter_mm, short_axis_mm=m.short_axis_mm,
        viable_diameter_mm=m.viable_diameter_mm, viable_short_axis_mm=m.viable_short_axis_mm,
        volume_mm3=m.volume_mm3, viable_volume_mm3=m.viable_volume_mm3, necrosis_fraction=m.necrosis_fraction,
        typical_hcc_pattern=m.typical_hcc_pattern, cytology_malignant=m.cytology_malignant,
        endpoints_lps=eps, source_kind=m.source_kind, algorithm_name=m.algorithm_name,
        algorithm_version=m.algorithm_version, parameters=json.loads(m.parameters_json or "{}"), updated_at=m.updated_at,
        viable_status=(json.loads(m.extra_json).get("viable_status") if m.extra_json else None),
    )


def _response_records(s: Session, read: ReadRow) -> list[ResponseRecord]:
    rows = s.scalars(select(ReadResponseRow).where(ReadResponseRow.read_fk == read.id).order_by(ReadResponseRow.id))
    out = []
    for r in rows:
        tp = _row(s, TimePointRow, r.timepoint_fk) if r.timepoint_fk is not None else None
        out.append(ResponseRecord(read.read_uid, r.criteria, tp.timepoint_id if tp else None, r.category, r.sum_value,
                                  r.sum_unit, r.category_confirmed, r.pd_date, r.pd_day_offset, r.pd_timepoint_id))
    return out


def _check_number(value: Any, name: str, where: str, maximum: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise StoreError(f"{where}: {name} must be a number, got {value!r}.")
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or (maximum is not None and v > maximum):
        rng = f"in [0, {maximum}]" if maximum is not None else ">= 0"
        raise StoreError(f"{where}: {name} = {value!r} is not a finite number {rng}; record the measured value, "
                         "or set status to 'not_evaluable'.")
    limit = MAX_LENGTH_MM**3 if name.endswith("_mm3") else MAX_LENGTH_MM if name.endswith("_mm") else None
    if limit is not None and v > limit:
        unit = "mm3" if name.endswith("_mm3") else "mm"
        raise StoreError(f"{where}: {name} = {value!r} {unit} is not a lesion size (above {limit:g} {unit}, "
                         f"the read document's limit: {'(10 m)³' if unit == 'mm3' else '10 m'}): a unit or data "
                         f"error. Record the measured value in {unit}, or set status to 'not_evaluable'.")
    return v


def _check_endpoints(endpoints: Mapping[str, Any] | None, where: str) -> str:
    if not endpoints:
        return "{}"
    out: dict[str, list[list[float]]] = {}
    for axis, pts in endpoints.items():
        if axis not in _ENDPOINT_AXES:
            raise StoreError(f"{where}: endpoint axis {axis!r} is unknown; use one of {list(_ENDPOINT_AXES)}.")
        try:
            a, b = pts
            pa = [float(x) for x in a]
            pb = [float(x) for x in b]
        except (TypeError, ValueError):
            raise StoreError(f"{where}: endpoints of axis {axis!r} must be two LPS points [[x,y,z],[x,y,z]] in mm, got {pts!r}.") from None
        if len(pa) != 3 or len(pb) != 3 or not all(math.isfinite(x) for x in pa + pb):
            raise StoreError(f"{where}: endpoints of axis {axis!r} must be two finite 3D LPS points in mm, got {pts!r}.")
        if any(abs(x) > MAX_LENGTH_MM for x in pa + pb):
            raise StoreError(f"{where}: endpoints of axis {axis!r} {pts!r} lie more than {MAX_LENGTH_MM:g} mm (10 m) "
                             "from the origin: a unit or data error; give LPS coordinates in mm.")
        out[axis] = [pa, pb]
    return dumps(out)


def _one_criterion(criteria: str) -> str:
    names = _norm_criteria(criteria)
    if len(names) != 1:
        raise StoreError(f"expected one criterion, got {criteria!r}; pass a single name such as 'RECIST1.1'.")
    return names[0]

class _Base:
    def __init__(self, store: Store, user_id: str):
        self.store = store
        self.user_id = user_id

    def _me(self, s: Session) -> ReaderRow:
        return Store._reader(s, self.user_id)

    # shared data any session may see -------------------------------------------------------
    def patients(self) -> list[PatientInfo]:
        """All patients (pseudonymous ids)."""
        return self.store.patients()

    def timepoints(self, patient_id: str) -> list[TimePointInfo]:
        """Time points of a patient (shared)."""
        return self.store.timepoints(patient_id)

    def treatment_events(self, patient_id: str) -> list[TreatmentEventInfo]:
        return self.store.treatment_events(patient_id)

    def tumour_markers(self, patient_id: str) -> list[TumourMarkerInfo]:
        return self.store.tumour_markers(patient_id)

def _measurements(s: Session, r: ReadRow, reader_id: str, timepoint_id: str | None = None) -> list[MeasurementRecord]:
    q = select(MeasurementRow).where(MeasurementRow.read_fk == r.id)
    if timepoint_id is not None:
        p = _row(s, PatientRow, r.patient_fk)
        q = q.where(MeasurementRow.timepoint_fk == Store._timepoint(s, p, timepoint_id).id)
    return [_measurement_record(s, m, r, reader_id) for m in s.scalars(q.order_by(MeasurementRow.id))]


def _document(s: Session, r: ReadRow, reader_id: str) -> Any:
    """The read as a ReadDocument: its own rows, the shared facts it uses (live for a draft;
    for a locked read, what was copied at its lock, see :func:`_snapshot_shared`)."""
    p = _row(s, PatientRow, r.patient_fk)
    info = _read_info(s, r)
    extra = json.loads(r.extra_json) if r.extra_json else {}
    snap = extra.get(LOCK_SNAPSHOT)
    tps_all = {t.timepoint_id: t for t in (Store._tp_info(s, row, p.patient_id) for row in
                                            s.scalars(select(TimePointRow).where(TimePointRow.patient_fk == p.id)))}
    tps = [tps_all[t] for t in info.timepoint_ids]
    if snap is not None:
        locked_tps = snap.get("timepoints", {})
        tps = [replace(t, date=_iso_date(locked_tps.get(t.timepoint_id, {}).get("date")),
                        day_offset=locked_tps.get(t.timepoint_id, {}).get("day")) for t in tps]
    elif "lesion_order" in extra:
        # An imported read counts days from its own day 0: its document's days, else (a time
        # point added later, or a read imported before days were kept per read) from the date.
        own_days = extra.get("timepoint_days") or {}
        tps = [replace(t, day_offset=own_days[t.timepoint_id] if t.timepoint_id in own_days
                       else (None if t.date is not None else t.day_offset)) for t in tps]
    rows = list(s.scalars(select(MeasurementRow).where(MeasurementRow.read_fk == r.id).order_by(MeasurementRow.id)))
    ms = []
    for m in rows:
        les = _row(s, LesionRow, m.lesion_fk)
        ms.append((_measurement_record(s, m, r, reader_id), les, json.loads(m.extra_json) if m.extra_json else {}))
    treatments, markers = _read_facts(s, r, p, extra, {les.lesion_id for _, les, _ in ms})
    return build_document(
        patient_id=p.patient_id, reader_id=reader_id, criteria=info.criteria, timepoints=tps, measurements=ms,
        treatments=treatments, markers=markers, read_extra=extra,
    )


def _read_facts(s: Session, r: ReadRow, p: PatientRow, extra: Mapping[str, Any],
                measured_lesion_ids: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The treatments and tumour-marker draws read ``r`` carries, as read-document JSON entries:
    for a locked read what it was locked with, for a draft its own entries with the shared facts
    (:func:`~.documents.read_treatments`, :func:`~.documents.read_markers`)."""
    snap = extra.get(LOCK_SNAPSHOT)
    if snap is not None:
        return list(snap.get("treatments", [])), list(snap.get("markers", []))
    return (read_treatments(extra.get("read_treatments"), _treatments(s, p), measured_lesion_ids),
            read_markers(extra.get("read_markers"), _markers(s, p)))


def _iso_date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None



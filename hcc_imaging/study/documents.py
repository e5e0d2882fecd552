"""Read documents in and out of the store (the contract of :mod:`hcc_imaging.response.document`).

A locked or draft read exports to a :class:`~hcc_imaging.response.document.ReadDocument`
(so :func:`hcc_imaging.response.assess` runs on anything in the store), and a read document
imports into a new draft read of one reader.  Round trip: ``import -> export`` gives back an
equal document (every observation field the store has no column for travels in
``extra_json``; lesion tracking UIDs are added on export).

Mapping
-------
=====================================  ===========================================================
read document                          store
=====================================  ===========================================================
``patient_id``                         patients.patient_id (pseudonymous)
``reader_id``                          readers.reader_id (the session's reader; must match)
``criteria``                           reads.criteria
``timepoints[].id/date/day``           timepoints.timepoint_id/date/day_offset (shared per patient)
``timepoints[].lesions[]``             measurements (read x lesion x time point); lesions by
                                       ``tracking_uid`` when given, else by ``lesion_id``
``lesion.endpoints``                   measurements.endpoints_json (axis -> 2 LPS points, mm)
``lesion.source``                      provenance: ``source_kind`` imported + the text in extra
``treatments``                         treatment_events (patient level, idempotent)
``markers``                            tumour_markers, one row per marker (patient level)
``start_date``, death, liver function,  reads.extra_json
CEUS, time point extras
=====================================  ===========================================================
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ReadDocumentError
from .constants import MARKER_DOCUMENT_FIELDS
from .records import MeasurementRecord, ResponseRecord, TimePointInfo, TreatmentEventInfo, TumourMarkerInfo

__all__ = [
    "MEASUREMENT_COLUMNS",
    "observation_split",
    "build_document",
    "responses_from_assessment",
]

#: Observation fields with their own column in ``measurements``.
MEASUREMENT_COLUMNS: tuple[str, ...] = (
    "longest_diameter_mm",
    "short_axis_mm",
    "viable_diameter_mm",
    "viable_short_axis_mm",
    "volume_mm3",
    "viable_volume_mm3",
    "necrosis_fraction",
    "typical_hcc_pattern",
    "cytology_malignant",
)

#: Observation fields that describe the lesion itself (stored on ``lesions``).
_LESION_FIELDS = ("lesion_id", "tracking_uid", "organ", "is_lymph_node", "kind")
_SKIP = set(_LESION_FIELDS) | set(MEASUREMENT_COLUMNS) | {"role", "status", "endpoints", "source"}


def observation_split(obs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a LesionObservation into (columns, extra) dicts for the store.

    ``columns`` holds role, status, the numeric/boolean columns and ``endpoints`` (axis -> two
    points); ``extra`` holds every other non-default field as JSON (``source`` included).
    """
    js = obs.to_json()
    cols: dict[str, Any] = {"role": js.get("role", "target"), "status": js.get("status", "measured")}
    for name in MEASUREMENT_COLUMNS:
        cols[name] = getattr(obs, name)
    cols["endpoints"] = {e.axis.value: [list(e.start_lps), list(e.end_lps)] for e in obs.endpoints}
    extra = {k: v for k, v in js.items() if k not in _SKIP}
    if obs.source is not None:
        extra["source"] = obs.source
    return cols, extra


def _lesion_json(m: MeasurementRecord, lesion: Any, reader_id: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"lesion_id": m.lesion_id, "tracking_uid": m.tracking_uid, "role": m.role, "status": m.status}
    if lesion.organ:
        out["organ"] = lesion.organ
    if lesion.is_lymph_node:
        out["is_lymph_node"] = True
    if lesion.kind:
        out["kind"] = lesion.kind
    for name in MEASUREMENT_COLUMNS:
        v = getattr(m, name)
        if v is not None:
            out[name] = v
    if m.endpoints_lps:
        out["endpoints"] = {k: [list(a), list(b)] for k, (a, b) in m.endpoints_lps.items()}
    extra = dict(extra)
    if "source" not in extra:
        if m.source_kind == "algorithm":
            out["source"] = f"{m.algorithm_name} {m.algorithm_version}"
        else:
            out["source"] = f"reader:{reader_id}"
    out.update(extra)
    return out


def build_document(
    *,
    patient_id: str,
    reader_id: str,
    criteria: Sequence[str],
    timepoints: Sequence[TimePointInfo],
    measurements: Sequence[tuple[MeasurementRecord, Any, Mapping[str, Any]]],
    treatments: Sequence[TreatmentEventInfo],
    markers: Sequence[TumourMarkerInfo],
    read_extra: Mapping[str, Any],
) -> Any:
    """Assemble a ReadDocument from store records (raises ReadDocumentError if invalid)."""
    from ..response.document import ReadDocument

    tp_extra: Mapping[str, Mapping[str, Any]] = read_extra.get("timepoint_extra", {})
    tps = []
    for tp in timepoints:
        t: dict[str, Any] = {"id": tp.timepoint_id}
        if tp.date is not None:
            t["date"] = tp.date.isoformat()
        if tp.day_offset is not None:
            t["day"] = tp.day_offset
        t.update(tp_extra.get(tp.timepoint_id, {}))
        order = read_extra.get("lesion_order", {}).get(tp.timepoint_id, [])
        rank = {lid: i for i, lid in enumerate(order)}
        ms = [(m, les, ex) for m, les, ex in measurements if m.timepoint_id == tp.timepoint_id]
        ms.sort(key=lambda x: (rank.get(x[0].lesion_id, len(rank)), x[0].lesion_id))
        t["lesions"] = [_lesion_json(m, les, reader_id, ex) for m, les, ex in ms]
        tps.append(t)
    doc: dict[str, Any] = {"patient_id": patient_id, "reader_id": reader_id, "timepoints": tps}
    if criteria:
        doc["criteria"] = list(criteria)
    if treatments:
        tr = []
        for e in treatments:
            d: dict[str, Any] = {"kind": e.kind}
            if e.start_date is not None:
                d["date"] = e.start_date.isoformat()
            if e.start_day is not None:
                d["day"] = e.start_day
            if e.end_date is not None:
                d["end_date"] = e.end_date.isoformat()
            if e.end_day is not None:
                d["end_day"] = e.end_day
            if e.lesion_ids:
                d["lesion_ids"] = list(e.lesion_ids)
            tr.append(d)
        doc["treatments"] = tr
    if markers:
        draws: dict[tuple[str | None, int | None], dict[str, Any]] = {}
        for mk in markers:
            key = (mk.date.isoformat() if mk.date else None, mk.day if mk.date is None else None)
            d = draws.setdefault(key, {})
            if key[0] is not None:
                d["date"] = key[0]
            else:
                d["day"] = mk.day
            d[MARKER_DOCUMENT_FIELDS[mk.marker]] = mk.value
        doc["markers"] = list(draws.values())
    for k, v in read_extra.items():
        if k not in ("timepoint_extra", "lesion_order"):
            doc[k] = v
    return ReadDocument.from_json(doc)


def document_markers(doc: Any) -> list[tuple[str, float, dt.date | None, int | None]]:
    """(marker, value, date, day) per marker value in a document's marker draws."""
    out = []
    for draw in doc.markers:
        for marker, fld in MARKER_DOCUMENT_FIELDS.items():
            v = getattr(draw, fld, None)
            if v is not None:
                out.append((marker, float(v), draw.date, None if draw.date is not None else draw.day))
    return out


def read_level_extra(doc: Any) -> dict[str, Any]:
    """Document fields kept in ``reads.extra_json`` (JSON-ready)."""
    js = doc.to_json()
    keep = {k: v for k, v in js.items() if k in ("start_date", "death_date", "death_day", "last_contact_day",
                                                  "study_id", "note", "liver_function", "ceus")}
    tp_extra = {}
    order = {}
    for t in js["timepoints"]:
        ex = {k: v for k, v in t.items() if k not in ("id", "date", "day", "lesions")}
        if ex:
            tp_extra[t["id"]] = ex
        order[t["id"]] = [les["lesion_id"] for les in t["lesions"]]
    if tp_extra:
        keep["timepoint_extra"] = tp_extra
    keep["lesion_order"] = order
    return keep


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


#: Category stored for the baseline row (the engine gives the baseline no response).
BASELINE_CATEGORY = "baseline"


def criterion_result(assessment: Any, criteria: str) -> Any:
    """The :class:`~hcc_imaging.response.results.CriterionResult` for ``criteria`` in what
    ``assess`` returned (an Assessment, a CriterionResult, or a mapping criterion -> result)."""
    results = getattr(assessment, "results", None)
    if isinstance(results, Mapping):
        assessment = results
    if isinstance(assessment, Mapping):
        key = criteria.lower().replace(" ", "").replace("_", "")
        for k, v in assessment.items():
            if str(k).lower().replace(" ", "").replace("_", "") == key:
                return v
        if len(assessment) == 1:
            return next(iter(assessment.values()))
        raise ReadDocumentError(
            f"the assessment has no result for criterion {criteria!r} (it has {sorted(map(str, assessment))}); "
            "check the criterion name."
        )
    return assessment


def responses_from_assessment(read_uid: str, criteria: str, assessment: Any, doc: Any) -> list[ResponseRecord]:
    """Turn one criterion's result of :func:`hcc_imaging.response.assess` into stored rows.

    One row per time point (its response, ``baseline`` for the baseline, and the criterion's
    sum in its unit), and one overall row (BOR without and with confirmation, and the first
    PD: day, time point and date).
    """
    res = criterion_result(assessment, criteria)
    unit = str(getattr(res, "sum_unit", "mm"))
    rows: list[ResponseRecord] = []
    for tr in res.timepoints:
        category = BASELINE_CATEGORY if tr.response is None else str(tr.response)
        total = float(tr.sum) if tr.sum is not None else None
        rows.append(ResponseRecord(read_uid, criteria, str(tr.id), category, total, unit if total is not None else None))
    pd_day = res.pd_day
    pd_tp = None
    if pd_day is not None:
        pd_tp = next((t for t in doc.timepoints if t.day == pd_day), None)
    rows.append(ResponseRecord(
        read_uid, criteria, None, str(res.bor_unconfirmed), category_confirmed=str(res.bor_confirmed),
        pd_date=pd_tp.date if pd_tp is not None else None,
        pd_day_offset=int(pd_day) if pd_day is not None else None,
        pd_timepoint_id=pd_tp.id if pd_tp is not None else None,
    ))
    return rows

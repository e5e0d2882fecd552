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
``timepoints[].id/date``               timepoints.timepoint_id/date (shared per patient; another
                                       date is refused)
``timepoints[].day``                   reads.extra_json ``timepoint_days`` (per read: counted from
                                       the reader's own ``start_date``; never written to the
                                       shared time point)
``timepoints[].lesions[]``             measurements (read x lesion x time point); lesions by
                                       ``tracking_uid`` when given, else by ``lesion_id``
``lesion.endpoints``                   measurements.endpoints_json (axis -> 2 LPS points, mm)
``lesion.source``                      provenance: ``source_kind`` imported + the text in extra
``treatments``                         kind, start and end *dates*: treatment_events (patient
                                       level, shared; a conflicting end date is refused); the
                                       entries as written (day numbers, ``lesion_ids``, note):
                                       reads.extra_json ``read_treatments`` (private to the read)
``markers``                            dated values: tumour_markers, one row per marker (patient
                                       level, shared; a conflicting value is refused); the draws as
                                       written: reads.extra_json ``read_markers``
``start_date``, death, liver function,  reads.extra_json
CEUS, time point extras
=====================================  ===========================================================

Shared and private
------------------
Treatment events and marker draws are facts about the patient, shared by all readers: an
import adds the ones the store lacks and **refuses** a value that differs from the stored one
(never overwrites it).  Day numbers (relative to a reader's own ``start_date``) and the lesions
a treatment targeted (lesion ids are per reader) belong to the read.  A read's document shows
its own entries plus the patient's other recorded treatments and draws; a shared row's
``lesion_ids`` (set by the study administrator) are shown only for lesions the read measures.
When a read is locked, the treatments, marker draws and time-point dates and days it was
assessed with are copied into its ``extra_json`` (``lock_snapshot``, inside the read's seal), so
a locked read exports the same document whatever is recorded later.
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
    "read_treatments",
    "read_markers",
    "LOCK_SNAPSHOT",
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
    treatments: Sequence[Mapping[str, Any]],
    markers: Sequence[Mapping[str, Any]],
    read_extra: Mapping[str, Any],
) -> Any:
    """Assemble a ReadDocument from store records (raises ReadDocumentError if invalid).

    ``treatments`` and ``markers`` are read-document JSON entries (see :func:`read_treatments`
    and :func:`read_markers`).
    """
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
        doc["treatments"] = [dict(e) for e in treatments]
    if markers:
        doc["markers"] = [dict(d) for d in markers]
    for k, v in read_extra.items():
        if k not in _STORE_ONLY_EXTRA:
            doc[k] = v
    return ReadDocument.from_json(doc)


#: Keys of reads.extra_json that are store bookkeeping, not read-document fields.
_STORE_ONLY_EXTRA = frozenset({"timepoint_extra", "lesion_order", "timepoint_days", "read_treatments", "read_markers",
                               "lock_snapshot"})

#: reads.extra_json key of what a locked read was assessed with (treatments, markers, time points).
LOCK_SNAPSHOT = "lock_snapshot"


def read_treatments(
    own: Sequence[Mapping[str, Any]] | None, shared: Sequence[TreatmentEventInfo], measured_lesion_ids: set[str],
) -> list[dict[str, Any]]:
    """The treatments a (draft) read shows, as read-document JSON entries.

    ``own`` are the entries of the read's imported document (its day numbers and targeted
    lesion ids; None for a read started in the store); a stored end date replaces the entry's
    (the shared fact wins, e.g. after the administrator corrected it).  Every shared event the
    read has no entry for (same kind and start date, or same kind and start day when undated) is added:
    for a read with its own entries by its dates only, so its days count from the read's own
    day 0; for a read without, as stored.  A shared event's ``lesion_ids`` are kept only when
    the read measures a lesion of that id (lesion ids belong to readers).
    """
    out = [dict(e) for e in own or ()]
    seen = {(e.get("kind"), e.get("date"), None if e.get("date") else e.get("day")): e for e in out}
    for e in shared:
        iso = e.start_date.isoformat() if e.start_date is not None else None
        mine = seen.get((e.kind, iso, None if iso else e.start_day))
        if mine is not None:
            end = e.end_date.isoformat() if e.end_date is not None else None
            if iso is not None and end is not None and mine.get("end_date") != end:  # the shared fact wins
                mine["end_date"] = end
                mine.pop("end_day", None)
            continue
        d: dict[str, Any] = {"kind": e.kind}
        if iso is not None:
            d["date"] = iso
        if e.start_day is not None and (own is None or iso is None):
            d["day"] = e.start_day
        if e.end_date is not None:
            d["end_date"] = e.end_date.isoformat()
        if e.end_day is not None and (own is None or e.end_date is None):
            d["end_day"] = e.end_day
        ids = [i for i in e.lesion_ids if i in measured_lesion_ids]
        if ids:
            d["lesion_ids"] = ids
        out.append(d)
    return out


def read_markers(own: Sequence[Mapping[str, Any]] | None, shared: Sequence[TumourMarkerInfo]) -> list[dict[str, Any]]:
    """The marker draws a (draft) read shows, as read-document JSON entries: the draws of the
    read's imported document (``own``: its day numbers, its undated draws) with the shared
    values set on them (a stored value is the patient's, e.g. after the administrator
    corrected it) and every other shared value added (on the draw of the same date, else as a
    new draw dated by the shared row)."""
    draws = [dict(d) for d in own or ()]
    by_key: dict[tuple[str, Any], dict[str, Any]] = {}
    for d in draws:
        by_key.setdefault(("date", d["date"]) if d.get("date") else ("day", d.get("day")), d)
    for mk in shared:
        key: tuple[str, Any] = ("date", mk.date.isoformat()) if mk.date is not None else ("day", mk.day)
        d = by_key.get(key)
        if d is None:
            d = {key[0]: key[1]}
            draws.append(d)
            by_key[key] = d
        d[MARKER_DOCUMENT_FIELDS[mk.marker]] = mk.value
    return draws


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
    keep["timepoint_days"] = {t.id: t.day for t in doc.timepoints}
    keep["read_treatments"] = js.get("treatments", [])
    keep["read_markers"] = js.get("markers", [])
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

"""The response assessment (``Assessment.to_json()``, ``hcc-imaging assess --json``) read into a
read's time point responses and per-criterion summaries."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..._phi import shown_id
from ..codes import normalise_criterion, normalise_response
from ._fields import _get, _int, _num, _plain
from ._records import CriterionSummary, ExportInputError, ExportRead, TimepointResponse


def assessment_to_dict(assessment: Any) -> dict[str, Any]:
    """Normalise an assessment into ``{"patient_id", "results": {criterion: {...}}}``.

    Accepts the ``hcc-imaging assess --json`` object, an ``Assessment`` (``to_json()``), a
    mapping ``criterion -> Assessment``, or a list of per-criterion objects.
    """
    if assessment is None:
        return {"results": {}}
    if isinstance(assessment, (str, Path)) and not str(assessment).lstrip().startswith("{"):
        assessment = json.loads(Path(assessment).read_text(encoding="utf-8"))
    elif isinstance(assessment, str):
        assessment = json.loads(assessment)
    if isinstance(assessment, (list, tuple)):
        merged: dict[str, Any] = {"results": {}}
        for item in assessment:
            d = assessment_to_dict(item)
            merged["results"].update(d.get("results", {}))
            merged.setdefault("patient_id", d.get("patient_id"))
        return merged
    if not isinstance(assessment, Mapping):
        crit_attr = getattr(assessment, "criterion", None)
        for meth in ("to_json", "to_dict", "as_dict"):
            fn = getattr(assessment, meth, None)
            if callable(fn):
                val = fn()
                if isinstance(val, (str, bytes)):
                    val = json.loads(val)
                val = _plain(val)
                if crit_attr is not None and isinstance(val, Mapping) and "results" not in val:
                    val = {"patient_id": getattr(assessment, "patient_id", None), "results": {str(crit_attr): val}}
                return assessment_to_dict(val)
        if dataclasses.is_dataclass(assessment):
            return assessment_to_dict(_plain(assessment))
        raise ExportInputError(
            f"cannot read an assessment from a {type(assessment).__name__}; pass "
            "Assessment.to_json() output or the `hcc-imaging assess --json` object."
        )
    a = dict(_plain(assessment))
    if "results" in a and isinstance(a["results"], Mapping):
        return a
    if "timepoints" in a and ("criterion" in a or "criteria" in a):
        crit = a.get("criterion") or a.get("criteria")
        return {"patient_id": a.get("patient_id"), "results": {str(crit): a}}
    # mapping criterion -> per-criterion result / Assessment
    if a and all(isinstance(v, Mapping) for v in a.values()) and all(
        "timepoints" in v or "results" in v for v in a.values()
    ):
        results: dict[str, Any] = {}
        for k, v in a.items():
            if "results" in v:
                results.update(v["results"])
            else:
                results[k] = v
        return {"results": results}
    raise ExportInputError(
        "the assessment has neither 'results' nor 'timepoints'; expected the object printed by "
        "`hcc-imaging assess --json` ({'patient_id', 'results': {criterion: {'timepoints': ...}}})."
    )


def _parse_assessment(
    assessment: Any, read: ExportRead
) -> tuple[list[TimepointResponse], list[CriterionSummary]]:
    a = assessment_to_dict(assessment)
    pid = read.patient_id
    days = {tp.timepoint_id: tp.day for tp in read.timepoints}
    a_pid = str(a.get("patient_id") or "").strip()
    if a_pid and a_pid != pid:
        raise ExportInputError(
            f"the assessment is of patient {shown_id(a_pid, 'patient id')}, but the read is of patient "
            f"{shown_id(pid, 'patient id')}: its responses would be "
            "filed under another patient. Pass the assessment of this read (one per read, same order), or "
            "reassess it (--criteria).")
    a_reader = str(a.get("reader_id") or "").strip()
    if a_reader and read.reader_id and a_reader != read.reader_id:
        raise ExportInputError(
            f"the assessment is of reader {a_reader!r}, but the read of patient {pid!r} is reader "
            f"{read.reader_id!r}'s: its responses would be filed under another reader. Pass that reader's "
            "assessment, or reassess the read (--criteria).")
    responses: list[TimepointResponse] = []
    summaries: list[CriterionSummary] = []
    for crit_raw, res in a.get("results", {}).items():
        crit = normalise_criterion(crit_raw)
        unit = str(res.get("sum_unit") or ("mm2" if crit in {"WHO", "EASL"} else "mm"))
        changes: list[float] = []
        for tpr in res.get("timepoints", []) or []:
            tid = str(_get(tpr, "id", "timepoint_id", "time_point_id", default=""))
            where = f"patient {pid}, {crit}, time point {tid}"
            if tid not in days:
                raise ExportInputError(
                    f"the assessment's {crit} response at time point {tid!r} is not of this read of patient "
                    f"{pid!r} (its time points are {list(days)}): the assessment is of another read. Pass the "
                    "assessment of this read, or reassess it (--criteria).")
            new = _get(tpr, "new_lesions")
            if isinstance(new, str):
                new = new.strip().lower() in {"yes", "true", "y", "1", "pd"}
            elif isinstance(new, (list, tuple)):
                new = len(new) > 0
            cfb = _num(_get(tpr, "change_from_baseline", "change_from_baseline_frac"), f"{where}, change_from_baseline")
            if cfb is not None:
                changes.append(cfb)
            reasons = _get(tpr, "reasons", default=()) or ()
            responses.append(
                TimepointResponse(
                    patient_id=pid,
                    criterion=crit,
                    timepoint_id=tid,
                    day=_int(_get(tpr, "day")) if _get(tpr, "day") is not None else days.get(tid),
                    sum_value=_num(_get(tpr, "sum", "sum_mm", "sum_mm2"), f"{where}, sum"),
                    sum_unit=str(_get(tpr, "sum_unit", default=unit)),
                    change_from_baseline_frac=cfb,
                    change_from_nadir_frac=_num(
                        _get(tpr, "change_from_nadir", "change_from_nadir_frac"), f"{where}, change_from_nadir"
                    ),
                    target_response=normalise_response(_get(tpr, "target_response")),
                    non_target_response=normalise_response(_get(tpr, "non_target_response")),
                    new_lesions=None if new is None else bool(new),
                    response=normalise_response(_get(tpr, "response", "overall_response")),
                    reasons=tuple(str(r) for r in reasons) if not isinstance(reasons, str) else (reasons,),
                )
            )
        best = _num(_get(res, "best_change", "best_change_frac"), f"patient {pid}, {crit}, best_change")
        if best is None and changes:
            best = min(changes)
        summaries.append(
            CriterionSummary(
                patient_id=pid,
                criterion=crit,
                bor_unconfirmed=normalise_response(_get(res, "bor_unconfirmed", "bor")),
                bor_confirmed=normalise_response(_get(res, "bor_confirmed")),
                pd_day=_int(_get(res, "pd_day")),
                best_change_frac=best,
                **_endpoints(_get(res, "endpoints"), f"patient {pid}, {crit}, endpoints"),
            )
        )
    from ..assessment_check import check_assessment_matches_read

    check_assessment_matches_read(a, read)  # not of an older version of the read (a corrected diameter)
    return responses, summaries


def _endpoints(value: Any, where: str) -> dict[str, tuple[bool, int] | None]:
    """``(event, day)`` of each endpoint of an ``assess --json`` result's ``endpoints``."""
    out: dict[str, tuple[bool, int] | None] = {}
    if value is None:
        return out
    if not isinstance(value, Mapping):
        raise ExportInputError(f"{where}: expected an object with pfs / ttp / dor, got {value!r}.")
    for key in ("pfs", "ttp", "dor", "dor_unconfirmed"):
        e = value.get(key)
        if e is None:
            continue
        day = _int(_get(e, "day")) if isinstance(e, Mapping) else None
        if day is None or not isinstance(e.get("event"), bool):
            raise ExportInputError(
                f"{where}, {key}: expected {{'event': true/false, 'day': int}}, got {e!r}. "
                "Fix: pass the assess --json object as written.")
        out[key] = (bool(e["event"]), day)
    return out

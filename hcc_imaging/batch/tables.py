"""Per-patient outputs of a batch run and the tables built from them.

:func:`patient_outputs` turns one patient's study records into everything the run writes for
that patient (read document, assessment, response rows, lesion rows, or a failure row).  It is a
pure function of the records, the annotation files and the options, so it runs on a Dask worker
as soon as the patient's last study finishes (overlapping the rest of the map), or in the driver
(:func:`hcc_imaging.batch.runner.write_tables`, and as the fallback when a worker died); both
give the same bytes.  :func:`write_outputs` writes the tables from the patients' outputs.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import STALE_DIR, set_aside
from .dates import order_failure
from .pipeline import PipelineOptions, assess_document, build_read_document, load_annotations
from .resume import atomic_write_bytes, atomic_write_text, patient_file_stem, safe_name

log = logging.getLogger(__name__)

__all__ = ["ENDPOINT_COLUMNS", "FAILURE_COLUMNS", "RUN_OUTPUT_DIRS", "STALE_DIR", "STUDY_COLUMNS", "patient_outputs",
           "write_patient_files", "write_outputs", "failure_row", "incomplete_row", "patient_files", "safe_name",
           "set_aside_stale"]

#: The folders under OUT that hold a run's per-patient and per-study files: after a run they hold
#: exactly the files that run wrote (:func:`set_aside_stale`).
RUN_OUTPUT_DIRS: tuple[str, ...] = ("reads", "assessments", "seg", "sr")
#: Where a run moves the files of those folders that it did not write itself (earlier runs' files
#: of a patient whose read failed this time, or who is not in this SOURCE):
#: ``OUT/stale/<UTC time of the run>/<folder>/<name>`` (``_atomic.STALE_DIR``, :func:`~hcc_imaging._atomic.set_aside`).

#: Columns of failures.csv, in order.
FAILURE_COLUMNS: tuple[str, ...] = ("patient_id", "study_instance_uid", "study_date", "step", "reason", "root")
#: Study-level columns put in front of every lesion row.
STUDY_COLUMNS: tuple[str, ...] = ("patient_id", "study_instance_uid", "study_date", "timepoint_id",
                                  "reference_series_instance_uid", "reference_phase", "mask_source", "key")
_RESPONSE_COLUMNS: tuple[str, ...] = ("patient_id", "criterion", "timepoint_id")
#: The trial endpoints on every response row of a patient under a criterion (as its BOR is): the
#: columns of ``hcc-imaging export csv``'s summary table (docs/tables-schema.md, 2.1), taken from
#: the assessment's endpoints (:func:`hcc_imaging.response.endpoints.endpoints_json`, what
#: ``assess --json`` prints per criterion); empty for a criterion not assessed, DOR empty for a
#: non-responder.
ENDPOINT_COLUMNS: tuple[str, ...] = ("pfs_event", "pfs_day", "ttp_event", "ttp_day", "dor_event", "dor_days",
                                     "dor_unconfirmed_event", "dor_unconfirmed_days")
#: Nullable dtypes of the response columns that may be empty (else pandas writes 56.0 for a day).
_RESPONSE_DTYPES: dict[str, str] = {c: "boolean" if c.endswith("_event") else "Int64" for c in ENDPOINT_COLUMNS}


def failure_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The failures.csv row of a failed study record."""
    return {k: rec.get(k) for k in FAILURE_COLUMNS}


def _lesion_rows(rec: Mapping[str, Any], tp_id: str) -> list[dict[str, Any]]:
    out = []
    for row in rec.get("lesions", []):
        r: dict[str, Any] = {k: rec.get(k) for k in STUDY_COLUMNS if k != "timepoint_id"}
        r["timepoint_id"] = tp_id
        for k, v in row.items():
            if k == "provenance":
                continue
            r[k] = json.dumps(v) if isinstance(v, list | dict) else v
        # what the segmenter says a reader should check on a mask the run made ("" for none)
        r["segmentation_checks"] = ";".join((rec.get("segmentation_checks") or {}).get(row["lesion_id"], []))
        # why the measurement is incomplete (its mask cut by the measured image's field; "" for none)
        r["mask_problems"] = "; ".join([*(rec.get("mask_problems") or {}).get(row["lesion_id"], []),
                                        *([row["fragments_note"]] if row.get("fragments_note") else [])])
        # why the measurement may be short: the mask reaches a face of the measured image ("" for none)
        r["at_image_edge"] = (rec.get("at_image_edge") or {}).get(row["lesion_id"], "")
        out.append(r)
    return out


def incomplete_row(rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The failures.csv row (step ``incomplete``) of a study measured with lesions its image's
    field cut, or whose viable mask lies outside them (the record's ``mask_problems``), else None:
    the study is measured, but a lesion of it is measured smaller than it is, or not at all
    (``not_evaluable`` in the read)."""
    problems = rec.get("mask_problems") or {}
    if not rec.get("ok") or not problems:
        return None
    reason = (f"study {rec['study_instance_uid']} measured on series {rec.get('reference_series_instance_uid')} "
              f"with {len(problems)} lesion(s) incomplete: "
              + "; ".join(f"{lid}: {', '.join(v)}" for lid, v in sorted(problems.items()))
              + ". Check that every file of the series was read (skipped.csv) and that the masks (and viable masks) "
              "belong to it.")
    return {"patient_id": rec["patient_id"], "study_instance_uid": rec["study_instance_uid"],
            "study_date": rec.get("study_date") or "", "step": "incomplete", "reason": reason,
            "root": rec.get("root") or ""}


def _endpoint_columns(endpoints: Mapping[str, Any] | None) -> dict[str, Any]:
    """The :data:`ENDPOINT_COLUMNS` of one patient under one criterion, from its endpoints as
    :func:`hcc_imaging.response.endpoints.endpoints_json` gives them (None: not assessed)."""
    out: dict[str, Any] = {}
    for key, day_column in (("pfs", "pfs_day"), ("ttp", "ttp_day"), ("dor", "dor_days"),
                            ("dor_unconfirmed", "dor_unconfirmed_days")):
        e = (endpoints or {}).get(key)
        out[f"{key}_event"] = None if e is None else e["event"]
        out[day_column] = None if e is None else e["day"]
    return out


def patient_outputs(
    patient_id: str,
    records: Sequence[Mapping[str, Any]],
    annotations_files: Sequence[str],
    options: PipelineOptions,
) -> dict[str, Any] | None:
    """Everything the run writes for one patient, from its study records (JSON-normalised dicts).

    Returns ``None`` when the patient has no successful study (its failed studies are rows of
    failures.csv already), else a dict: ``read_json`` / ``assessment_json`` (file texts, ``None``
    when that step failed), ``responses`` and ``lesions`` (table rows) and ``failure`` (a
    failures.csv row for a patient whose read could not be built or assessed, else ``None``).
    """
    every = sorted(records, key=lambda r: (str(r.get("study_date") or ""), str(r["study_instance_uid"])))
    recs = [r for r in every if r["ok"]]
    if not recs:
        return None
    out: dict[str, Any] = {"patient_id": patient_id, "read_json": None, "assessment_json": None,
                           "responses": [], "lesions": [], "failure": None}
    # a study without a date (which one is the baseline is unknown: "" sorted first and was it), or
    # two measured studies on one date (a failed baseline is the row below): not assessed
    unordered = order_failure(patient_id, every, recs if every[0]["ok"] else [])
    if unordered is not None:
        out["failure"] = unordered
        for rec, tp_id in zip(recs, _unordered_timepoint_ids(recs, annotations_files), strict=True):
            out["lesions"].extend(_lesion_rows(rec, tp_id))
        return out
    if not every[0]["ok"]:
        # the baseline failed: the earliest study left would be read as the baseline, and every
        # response measured against a follow-up (RECIST's reference is the baseline sum)
        base = every[0]
        out["failure"] = {
            "patient_id": patient_id, "study_instance_uid": base["study_instance_uid"],
            "study_date": base.get("study_date") or "", "step": "baseline",
            "reason": (f"the patient's baseline study {base['study_instance_uid']} ({base.get('study_date') or 'no date'}) "
                       f"failed at {base.get('step', '?')}, so its {len(recs)} later studies are measured but not assessed "
                       "(a follow-up is no baseline). Fix that study (its own row says why) and run again with --resume."),
            "root": base.get("root") or "",
        }
        for rec, tp_id in zip(recs, _fallback_timepoint_ids(every, recs, annotations_files), strict=True):
            out["lesions"].extend(_lesion_rows(rec, tp_id))
        return out
    for r in every:
        if not r["ok"]:
            log.warning("patient %s: study %s (%s) failed at %s; its time point is left out of the read",
                        patient_id, r["study_instance_uid"], r.get("study_date") or "no date", r.get("step", "?"))
    step = "read"
    tp_ids = _fallback_timepoint_ids(recs, recs, annotations_files)  # (the read's, once it is built)
    try:
        ann = load_annotations(annotations_files)
        doc = build_read_document(recs, criteria=options.criteria, annotations=ann)
        tp_ids = [tp.id for tp in doc.timepoints]
        out["read_json"] = doc.dumps(indent=2) + "\n"
        step = "assess"
        assessment = assess_document(doc, options.criteria)
        out["assessment_json"] = json.dumps(assessment.to_json(), indent=2, sort_keys=True) + "\n"
        for crit, res in assessment.results.items():
            endpoints = _endpoint_columns(assessment.endpoints.get(crit))
            for tp in res.timepoints:
                j = tp.to_json()
                out["responses"].append({
                    "patient_id": patient_id, "criterion": crit, "timepoint_id": j["id"], "day": j["day"],
                    "sum": j["sum"], "sum_unit": res.sum_unit,
                    "change_from_baseline_frac": j["change_from_baseline"],
                    "change_from_nadir_frac": j["change_from_nadir"],
                    "target_response": j["target_response"], "non_target_response": j["non_target_response"],
                    "new_lesions": j["new_lesions"], "response": j["response"],
                    "bor_unconfirmed": res.bor_unconfirmed, "bor_confirmed": res.bor_confirmed,
                    **endpoints,
                    "reasons": " | ".join(j["reasons"]),
                })
    except Exception as err:  # a patient whose read cannot be assessed is a failure row too
        out["responses"] = []
        out["failure"] = {"patient_id": patient_id, "study_instance_uid": "", "study_date": "", "step": step,
                          "reason": " ".join(f"{type(err).__name__}: {err}".split()), "root": ""}
    for rec, tp_id in zip(recs, tp_ids, strict=True):
        out["lesions"].extend(_lesion_rows(rec, tp_id))
    return out


def _fallback_timepoint_ids(every: Sequence[Mapping[str, Any]], recs: Sequence[Mapping[str, Any]],
                            annotations_files: Sequence[str]) -> list[str]:
    """The time point ids of ``recs`` (lesions.csv's ``timepoint_id``) when the patient has no read:
    the annotations' ``timepoints``, else ``BL``, ``FU1``, ... by date among ``every`` study of the
    patient (a failed baseline keeps its ``BL``), as a read would name them; the StudyInstanceUID
    when the annotations cannot be read."""
    from .pipeline import _timepoint_ids

    try:
        ann = load_annotations(annotations_files)
    except Exception:  # (the patient's failure row says why)
        return [str(r["study_instance_uid"]) for r in recs]
    ids = dict(zip((r["study_instance_uid"] for r in every), _timepoint_ids(every, ann), strict=True))
    return [ids[r["study_instance_uid"]] for r in recs]


def _unordered_timepoint_ids(recs: Sequence[Mapping[str, Any]], annotations_files: Sequence[str]) -> list[str]:
    """The time point ids of ``recs`` when the patient's studies cannot be ordered
    (:func:`~hcc_imaging.batch.dates.order_failure`): the annotations' ``timepoints``, else the
    StudyInstanceUID (``BL``, ``FU1``, ... would claim an order nothing gives)."""
    try:
        names = load_annotations(annotations_files).get("timepoints", {})
    except Exception:  # (the annotations' own error is not this patient's failure row)
        names = {}
    return [str(names.get(r["study_instance_uid"]) or r["study_instance_uid"]) for r in recs]


def write_patient_files(out_dir: Path, po: Mapping[str, Any]) -> None:
    """``reads/<patient>.json`` and ``assessments/<patient>.json`` of one patient (atomic; the
    stem is :func:`~hcc_imaging.batch.resume.patient_file_stem`)."""
    name = patient_file_stem(po["patient_id"])
    if po["read_json"] is not None:
        atomic_write_text(out_dir / "reads" / f"{name}.json", po["read_json"])
    if po["assessment_json"] is not None:
        atomic_write_text(out_dir / "assessments" / f"{name}.json", po["assessment_json"])


def patient_files(out_dir: Path, patients: Mapping[str, Mapping[str, Any] | None]) -> set[Path]:
    """The ``reads/`` and ``assessments/`` files this run wrote for ``patients`` (:func:`write_patient_files`)."""
    files: set[Path] = set()
    for po in patients.values():
        if po is None:
            continue
        name = patient_file_stem(po["patient_id"])
        if po["read_json"] is not None:
            files.add(out_dir / "reads" / f"{name}.json")
        if po["assessment_json"] is not None:
            files.add(out_dir / "assessments" / f"{name}.json")
    return files


def set_aside_stale(out_dir: Path, keep: Iterable[str | Path], also: Iterable[Path] = ()) -> list[Path]:
    """Move every file of :data:`RUN_OUTPUT_DIRS` that is not in ``keep`` (the files this run wrote),
    and the paths ``also`` (e.g. an earlier run's de-identified copy), to
    ``OUT/stale/<UTC time>/...``, with one warning naming how many and where; returns their new paths.

    Earlier runs' reads, assessments, SEGs and SRs of a patient whose read failed this time (its
    baseline failed), or who is not in this SOURCE, stayed beside this run's: an export rebuilt the
    SR from a stale read, and ``--deidentify`` copied them into the folder meant for sharing.  They
    are moved, not deleted (a reader may want them).  Hidden files (an atomic write's temp file) are
    left alone.
    """
    kept = {Path(p).resolve() for p in keep}
    stale: list[Path] = []
    for d in RUN_OUTPUT_DIRS:
        folder = out_dir / d
        if folder.is_dir():
            stale.extend(p for p in sorted(folder.iterdir())
                         if not p.name.startswith(".") and p.resolve() not in kept)
    stale.extend(p for p in also if p.exists())
    if not stale:
        return []
    dest, moved = set_aside(out_dir, stale)
    log.warning("%d file(s) of earlier runs that this run did not write (%s) moved to %s: outputs of patients whose "
                "read failed this time or who are not in this SOURCE, or of steps this run did not run",
                len(moved), ", ".join(str(p.relative_to(out_dir)) for p in stale[:5]) + (" ..." if len(stale) > 5 else ""),
                dest)
    return moved


def _write_frame(rows: list[dict[str, Any]], columns: Sequence[str] | None, stem: Path, parquet: bool = True,
                 dtypes: Mapping[str, str] | None = None) -> list[str]:
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(columns) if columns and not rows else None)
    if columns and rows:
        front = [c for c in columns if c in df.columns]
        df = df[front + [c for c in df.columns if c not in front]]
    for name, dtype in (dtypes or {}).items():
        if name in df.columns:
            df[name] = pd.array([None if v is None or v != v else v for v in df[name]], dtype=dtype)
    written = []
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_text(stem.with_suffix(".csv"), buf.getvalue())
    written.append(str(stem.with_suffix(".csv")))
    if parquet:
        bio = io.BytesIO()
        df.to_parquet(bio, index=False)
        atomic_write_bytes(stem.with_suffix(".parquet"), bio.getvalue())
        written.append(str(stem.with_suffix(".parquet")))
    return written


def write_outputs(
    out_dir: Path,
    patients: Mapping[str, Mapping[str, Any] | None],
    failures: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, str], int, int]:
    """Write lesions / responses (CSV + Parquet) and failures.csv from the patients' outputs.

    ``patients``: patient id -> :func:`patient_outputs` result (``None``: no successful study, a
    failed patient);
    ``failures``: the failed studies' rows (and export failures).  Rows are in patient order, so
    the files do not depend on the order the patients finished in.  Returns
    ``(files, n_patients, n_failed_patients)``.
    """
    lesion_rows: list[dict[str, Any]] = []
    response_rows: list[dict[str, Any]] = []
    fails = [dict(f) for f in failures]
    n_pat = n_failed = 0
    for pid in sorted(patients):
        po = patients[pid]
        n_pat += 1
        if po is None:  # every study of the patient failed (their rows are in ``failures``)
            n_failed += 1
            continue
        if po["failure"] is not None:
            n_failed += 1
            fails.append(dict(po["failure"]))
        response_rows.extend(po["responses"])
        lesion_rows.extend(po["lesions"])
    files: dict[str, str] = {}
    for name, rows, cols, dtypes in (("lesions", lesion_rows, STUDY_COLUMNS, None),
                                     ("responses", response_rows, _RESPONSE_COLUMNS, _RESPONSE_DTYPES)):
        for f in _write_frame(rows, cols, out_dir / name, dtypes=dtypes):
            files[Path(f).name] = f
    fails.sort(key=lambda r: (str(r["patient_id"]), str(r["study_date"]), str(r["study_instance_uid"]), str(r["step"])))
    for f in _write_frame(fails, FAILURE_COLUMNS, out_dir / "failures", parquet=False):
        files[Path(f).name] = f
    return files, n_pat, n_failed

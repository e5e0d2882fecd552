"""A patient's studies in date order: a study without a StudyDate, or two on one date
(hcc_imaging.batch.dates).  Tiny synthetic series and records: no measurement runs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.batch.pipeline import PipelineOptions, tasks_from_index
from hcc_imaging.batch.tables import patient_outputs
from hcc_imaging.io import index_archive
from tests.io._synth import write_series

_BASE, _FU = "1.2.826.0.1.3680043.99.501", "1.2.826.0.1.3680043.99.502"


def _record(uid: str, date: str, ok: bool = True) -> dict:
    rec = {"key": uid, "ok": ok, "patient_id": "P-1", "study_instance_uid": uid, "study_date": date,
           "root": f"/archive/P-1/{uid[-3:]}", "reference_series_instance_uid": uid + ".1",
           "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 21.0}] if ok else []}
    if not ok:
        rec.update(step="load", reason="PixelDecodeError: ...")
    return rec


def test_a_study_without_studydate_is_dated_from_its_series(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The follow-up's StudyDate blanked (SeriesDate kept): it sorted first as "" and became the
    baseline, the real baseline FU1.  It is dated from its series, with a warning naming its folder."""
    vals = np.full((3, 6, 6), 1100, np.uint16)
    write_series(tmp_path / "P-1" / "base", vals, study_uid=_BASE, extra={"PatientID": "P-1", "StudyDate": "20250106"})
    write_series(tmp_path / "P-1" / "fu", vals, study_uid=_FU,
                 extra={"PatientID": "P-1", "StudyDate": "", "SeriesDate": "20250303"})
    tasks = tasks_from_index(index_archive(tmp_path), PipelineOptions())
    assert [(t.study_instance_uid, t.study_date) for t in tasks] == [(_BASE, "20250106"), (_FU, "20250303")]
    from hcc_imaging.batch.dates import warn_dated_from_series

    with caplog.at_level(logging.WARNING, logger="hcc_imaging.batch.pipeline"):
        warn_dated_from_series(tasks)
    (msg,) = [r.getMessage() for r in caplog.records]
    assert _FU in msg and str(tmp_path / "P-1" / "fu") in msg and "no StudyDate; dated 20250303" in msg


def test_an_undated_study_is_no_baseline_and_the_row_names_it() -> None:
    """No date at all: it sorted first and became the baseline (its read then failed with a
    ReadDocumentError about time point 'BL' naming no study).  Now a row names it and the fix."""
    po = patient_outputs("P-1", [_record(_BASE, "20250106"), _record(_FU, "")], [], PipelineOptions())
    f = po["failure"]
    assert f["step"] == "date" and f["study_instance_uid"] == _FU and f["root"] == "/archive/P-1/502"
    assert f"{_FU} (/archive/P-1/502) has no date" in f["reason"] and "StudyDate (0008,0020)" in f["reason"]
    assert "ReadDocument" not in f["reason"] and po["read_json"] is None
    # no order: the lesion rows are named by study, never BL / FU1
    assert sorted(r["timepoint_id"] for r in po["lesions"]) == [_BASE, _FU]


def test_a_failed_undated_study_is_not_called_the_baseline() -> None:
    """Before: "the patient's baseline study ... (no date) failed at load" for a follow-up."""
    po = patient_outputs("P-1", [_record(_BASE, "20250106"), _record(_FU, "", ok=False)], [], PipelineOptions())
    f = po["failure"]
    assert f["step"] == "date" and f["study_instance_uid"] == _FU and "baseline study" not in f["reason"]


def test_two_studies_on_one_date_are_both_named() -> None:
    """Before: "time point 'FU1', field 'day': day 0 is not after ... 'BL'", no study named."""
    po = patient_outputs("P-1", [_record(_FU, "20250106"), _record(_BASE, "20250106")], [], PipelineOptions())
    f = po["failure"]
    assert f["step"] == "date" and f["study_date"] == "20250106"
    assert f"{_BASE} (/archive/P-1/501) and {_FU} (/archive/P-1/502) are both dated 20250106" in f["reason"]
    assert "StudyInstanceUID" in f["reason"]


def test_a_resumed_record_stored_without_a_date_takes_its_studys_date() -> None:
    """Its content key is unchanged by the fix: ``--resume`` reused the record stored with "" (first,
    the baseline) although the index now dates the study from its series."""
    from hcc_imaging.batch.dates import dated_record

    stored = _record(_FU, "")
    assert dated_record(stored, "20250303")["study_date"] == "20250303" and stored["study_date"] == ""
    kept = _record(_BASE, "20250106")
    assert dated_record(kept, "20250106") is kept and dated_record(_record(_FU, ""), "")["study_date"] == ""


def _two_studies(tmp_path: Path, fu_date: str, fu_series_date: str = "") -> None:
    vals = np.full((3, 6, 6), 1100, np.uint16)
    write_series(tmp_path / "P-1" / "base", vals, study_uid=_BASE, extra={"PatientID": "P-1", "StudyDate": "20250106"})
    write_series(tmp_path / "P-1" / "fu", vals, study_uid=_FU,
                 extra={"PatientID": "P-1", "StudyDate": fu_date, "SeriesDate": fu_series_date})


def test_annotations_give_the_study_order_by_hand(tmp_path: Path) -> None:
    """No way to order a patient whose studies have no dates (or wrong ones) but to edit the DICOM.
    The annotations' ``study_dates`` win over every DICOM date; the task's note says so."""
    import json

    from hcc_imaging.batch.dates import DATE_NOTE

    _two_studies(tmp_path, "")  # the follow-up: no date at all (a failure row, step date, before)
    (tmp_path / "P-1" / "annotations.json").write_text(json.dumps({"study_dates": {_FU: "2025-03-03"}}))
    tasks = tasks_from_index(index_archive(tmp_path), PipelineOptions())
    assert [(t.study_instance_uid, t.study_date) for t in tasks] == [(_BASE, "20250106"), (_FU, "20250303")]
    fu = tasks[1]
    assert "dated 20250303 by" in fu.extra[DATE_NOTE] and "it has no DICOM date" in fu.extra[DATE_NOTE]
    assert DATE_NOTE not in tasks[0].extra
    # a wrong DICOM date (the follow-up dated before the baseline) is corrected; a nearer file wins
    _two_studies(tmp_path / "b", "20240101")
    (tmp_path / "b" / "annotations.json").write_text(json.dumps({"study_dates": {_FU: "20990101"}}))
    (tmp_path / "b" / "P-1" / "fu" / "annotations.json").write_text(json.dumps({"study_dates": {_FU: "20250303"}}))
    tasks = tasks_from_index(index_archive(tmp_path / "b"), PipelineOptions(), archive_root=str(tmp_path / "b"))
    assert [(t.study_instance_uid, t.study_date) for t in tasks] == [(_BASE, "20250106"), (_FU, "20250303")]
    assert "its DICOM date 20240101" in tasks[1].extra[DATE_NOTE]


def test_a_bad_annotated_date_fails_that_study_naming_the_file(tmp_path: Path) -> None:
    import json

    _two_studies(tmp_path, "20250303")
    ann = tmp_path / "P-1" / "annotations.json"
    ann.write_text(json.dumps({"study_dates": {_FU: "3 March"}}))
    tasks = tasks_from_index(index_archive(tmp_path), PipelineOptions())
    fu = next(t for t in tasks if t.study_instance_uid == _FU)
    err = fu.extra["index_error"]
    assert str(ann) in err and _FU in err and "'3 March', which is no date" in err and "YYYY-MM-DD" in err
    assert fu.study_date == "20250303"  # (its DICOM date: it still sorts in its place)
    assert "index_error" not in next(t for t in tasks if t.study_instance_uid == _BASE).extra
    ann.write_text(json.dumps({"study_dates": ["20250303"]}))
    tasks = tasks_from_index(index_archive(tmp_path), PipelineOptions())
    assert all("'study_dates' must be an object" in t.extra["index_error"] for t in tasks)


def test_the_undated_row_names_the_annotations_fix() -> None:
    po = patient_outputs("P-1", [_record(_BASE, "20250106"), _record(_FU, "")], [], PipelineOptions())
    assert '"study_dates": {"<StudyInstanceUID>": "YYYY-MM-DD"}' in po["failure"]["reason"]

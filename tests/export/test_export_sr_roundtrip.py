"""SR export -> import round trip keeps what the reader measured (criteria, lesion sources, time-point
date / modality / slice thickness, lymph-node kind, schema version): ``export/_sr_roundtrip.py``."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.export import read_sr, sr_to_read_document, write_sr
from hcc_imaging.export._sr_roundtrip import IMPORTED_SOURCE
from hcc_imaging.response import ReadDocument

from .conftest import read_document, write_ct_series
from .test_export_sr import dsrdump_ok

ALL_CRITERIA = ["RECIST1.1", "mRECIST", "EASL", "WHO", "RECICL", "iRECIST"]


def _read() -> dict:
    doc = read_document()
    doc.pop("treatments")  # not carried by a TID 1500 SR (sr_not_carried); outside this test
    doc["criteria"] = list(ALL_CRITERIA)
    for tp, day in zip(doc["timepoints"], (0, 63), strict=True):
        tp.update(day=day, modality="CT", slice_thickness_mm=2.5)
        for les in tp["lesions"]:
            les.pop("note", None)
            les["source"] = "hcc_imaging.batch 0.1.0" if les["lesion_id"] != "L2" else "dr.smith"
            if les.get("is_lymph_node"):
                les["kind"] = "lymph_node"
                les["tracking_uid"] = "1.2.826.0.1.3680043.8.498.1003"  # (else a derived one is written)
    return doc


def _flat(d, p=""):
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f"{p}.{key}").items()}
    if isinstance(d, list):
        return {k: v for i, val in enumerate(d) for k, v in _flat(val, f"{p}[{i}]").items()}
    return {p: d}


def test_sr_round_trip_keeps_every_field(tmp_path: Path) -> None:
    from hcc_imaging.response.engine import assess

    bl = write_ct_series(tmp_path / "bl", shape=(4, 16, 20))
    fu = write_ct_series(tmp_path / "fu", shape=(4, 16, 20), study_date="20240318", seed=1)
    doc = _read()
    assessment = assess(ReadDocument.from_json(copy.deepcopy(doc)), ALL_CRITERIA).to_json()
    info = write_sr(doc, tmp_path / "sr.dcm", assessment=assessment, images={"BL": bl.volume, "FU1": fu.volume})
    dsrdump_ok(info.path)  # (the Image Library with its added Study Date is valid TID 1500)
    back, _ = sr_to_read_document(info.path)
    a = _flat(ReadDocument.from_json(copy.deepcopy(doc)).to_json())
    b = _flat(ReadDocument.from_json(copy.deepcopy(back)).to_json())
    diff = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<missing>"), b.get(k, "<missing>")
        if k == ".note":  # documented: "imported from DICOM SR <uid>"
            continue
        if ".endpoints." in k and isinstance(va, float) and isinstance(vb, float):
            assert vb == pytest.approx(va, abs=1e-4), k  # SCOORD3D is float32
            continue
        if k.endswith(".source") and va == "dr.smith":  # a person's line: not the observer's name
            assert vb == IMPORTED_SOURCE, k
            continue
        if va != vb and not (isinstance(va, float) and isinstance(vb, float) and np.isclose(va, vb)):
            diff.append((k, va, vb))
    assert not diff, diff
    assert back["criteria"] == ALL_CRITERIA
    assert [t["slice_thickness_mm"] for t in back["timepoints"]] == [2.5, 2.5]


def test_sr_without_responses_says_which_criteria_apply(tmp_path: Path, caplog) -> None:
    doc = _read()
    info = write_sr(doc, tmp_path / "sr.dcm")  # no images, no assessment
    with caplog.at_level(logging.WARNING):
        back, _ = sr_to_read_document(read_sr(info.path))
    assert "criteria" not in back
    assert "RECIST1.1, mRECIST" in caplog.text and "sr.dcm" in caplog.text
    # no images: no Image Library; the dates come from the StudyDate (latest) and the days from baseline
    assert [t.get("date") for t in back["timepoints"]] == ["2024-01-15", "2024-03-18"]
    assert {les["source"] for t in back["timepoints"] for les in t["lesions"]} == {
        "hcc_imaging.batch 0.1.0", IMPORTED_SOURCE}


def test_deidentified_sr_round_trip_gives_the_shifted_dates(tmp_path: Path) -> None:
    import datetime as dt
    import random

    from hcc_imaging.export.deid import Deidentifier

    bl = write_ct_series(tmp_path / "bl", shape=(4, 16, 20))
    fu = write_ct_series(tmp_path / "fu", shape=(4, 16, 20), study_date="20240318", seed=1)
    doc = _read()
    deid = Deidentifier(tmp_path / "keys" / "map.json", rng=random.Random(1))
    info = write_sr(doc, tmp_path / "out" / "sr.dcm", images={"BL": bl.volume, "FU1": fu.volume}, deidentifier=deid)
    back, _ = sr_to_read_document(info.path)
    want = [deid.shift_date(dt.date.fromisoformat(t["date"]), doc["patient_id"]).isoformat() for t in doc["timepoints"]]
    assert [t["date"] for t in back["timepoints"]] == want != [t["date"] for t in doc["timepoints"]]
    assert [(t["modality"], t["slice_thickness_mm"]) for t in back["timepoints"]] == [("CT", 2.5)] * 2
    assert {les["source"] for t in back["timepoints"] for les in t["lesions"]} == {
        "hcc_imaging.batch 0.1.0", IMPORTED_SOURCE}


def test_time_point_dates_come_from_the_image_library(tmp_path: Path) -> None:
    """Images for the baseline only: the SR lands in the baseline's study, so its StudyDate is not the
    latest time point's; the library dates the baseline and the days from baseline the follow-up."""
    bl = write_ct_series(tmp_path / "bl", shape=(4, 16, 20))
    doc = _read()
    info = write_sr(doc, tmp_path / "sr.dcm", images={"BL": bl.volume})
    back, _ = sr_to_read_document(info.path)
    assert [t["date"] for t in back["timepoints"]] == ["2024-01-15", "2024-03-18"]
    assert back["timepoints"][0]["slice_thickness_mm"] == 2.5 and "slice_thickness_mm" not in back["timepoints"][1]


def test_an_sr_of_the_baseline_alone_without_images_carries_the_baselines_date(tmp_path: Path) -> None:
    """``timepoints=["BL"]`` with no images: the SR's stand-in study was the read's latest time point's
    (FU1, 2024-03-18), so the SR and the read imported from it dated the baseline at the follow-up."""
    doc = _read()
    info = write_sr(doc, tmp_path / "sr.dcm", timepoints=["BL"])
    import pydicom

    assert pydicom.dcmread(info.path).StudyDate == "20240115"
    back, _ = sr_to_read_document(read_sr(info.path))
    assert [(t["id"], t.get("date")) for t in back["timepoints"]] == [("BL", "2024-01-15")]

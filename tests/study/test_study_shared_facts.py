"""Shared patient facts vs one reader's read: what an import may write to rows all readers see.

Treatment events and marker draws are patient-level facts shared by all readers; a conflicting
value on import is refused, never overwritten.  The lesions a treatment targeted and the day
numbers (from a reader's own start date) belong to the read.  A locked read exports the same
document whatever is recorded later.  (Found by a tester: one reader's import rewrote the AFP
and the treated lesion ids shown in the other reader's locked read.)
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hcc_imaging.errors import StoreError
from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"


def _doc(reader: str) -> dict[str, Any]:
    """docs/examples/read_tace.json as patient P1 over BL, FU1 (start 2024-03-01: BL is day -4):
    cTACE on 2024-03-01 targeting L1, L2; AFP 850 ng/mL on 2024-02-26."""
    d = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    d["patient_id"] = "P1"
    d["reader_id"] = reader
    d["timepoints"] = d["timepoints"][:2]
    return d


@pytest.fixture
def two_readers(store: Store) -> Store:
    store.add_reader("R1")
    store.add_reader("R2")
    store.add_reader("ADJ", "adjudicator")
    return store


def test_a_conflicting_marker_value_is_refused_not_overwritten(two_readers: Store) -> None:
    r1, r2 = ReaderSession(two_readers, "R1"), ReaderSession(two_readers, "R2")
    uid1 = r1.import_document(_doc("R1")).read_uid
    before = r1.export_document(uid1).to_json()
    d2 = _doc("R2")
    d2["markers"] = [{"date": "2024-02-26", "afp_ng_ml": 1.0}]
    with pytest.raises(StoreError, match=r"afp of patient 'P1' on 2024-02-26 is 850 ng/mL in the store but 1 in the document"):
        r2.import_document(d2)
    assert r2.reads() == []  # nothing of the refused import was kept
    afp = [(m.date, m.value) for m in two_readers.tumour_markers("P1") if m.marker == "afp"]
    assert (dt.date(2024, 2, 26), 850.0) in afp
    assert r1.export_document(uid1).to_json() == before
    # the same value again is no conflict
    d2["markers"] = [{"date": "2024-02-26", "afp_ng_ml": 850.0}]
    r2.import_document(d2)


def test_treated_lesion_ids_belong_to_the_read(two_readers: Store) -> None:
    r1, r2 = ReaderSession(two_readers, "R1"), ReaderSession(two_readers, "R2")
    uid1 = r1.import_document(_doc("R1")).read_uid
    d2 = _doc("R2")
    for t in d2["timepoints"]:
        t["lesions"].append({"lesion_id": "R2SECRET", "role": "non_target", "status": "present"})
    d2["treatments"] = [{"kind": "cTACE", "date": "2024-03-01", "end_date": "2024-03-02", "lesion_ids": ["R2SECRET"]}]
    uid2 = r2.import_document(d2).read_uid
    t1 = r1.export_document(uid1).to_json()
    assert t1["treatments"][0]["lesion_ids"] == ["L1", "L2"]
    assert t1["treatments"][0]["end_date"] == "2024-03-02"  # R2's end date filled the shared fact: R1 sees it too
    assert "R2SECRET" not in json.dumps(t1)
    assert r2.export_document(uid2).to_json()["treatments"][0]["lesion_ids"] == ["R2SECRET"]
    # the shared event holds the dates only: R2's end date filled the gap, no lesion ids
    (ev,) = two_readers.treatment_events("P1")
    assert (ev.kind, ev.start_date, ev.end_date, ev.lesion_ids) == ("cTACE", dt.date(2024, 3, 1), dt.date(2024, 3, 2), ())
    r1.lock(uid1)  # R1's read is not broken by R2's lesion ids


def test_a_conflicting_treatment_end_date_is_refused(two_readers: Store) -> None:
    r1, r2 = ReaderSession(two_readers, "R1"), ReaderSession(two_readers, "R2")
    d1 = _doc("R1")
    d1["treatments"][0]["end_date"] = "2024-03-02"
    r1.import_document(d1)
    d2 = _doc("R2")
    d2["treatments"][0]["end_date"] = "2024-03-05"
    with pytest.raises(StoreError, match="ends 2024-03-02 in the store but 2024-03-05 in the document"):
        r2.import_document(d2)
    assert r2.reads() == []


def test_a_locked_read_exports_what_it_was_assessed_with(two_readers: Store) -> None:
    r1, r2 = ReaderSession(two_readers, "R1"), ReaderSession(two_readers, "R2")
    uid1 = r1.import_document(_doc("R1")).read_uid
    r1.lock(uid1)
    before = r1.export_document(uid1).to_json()
    # later: R2 records another treatment and marker draw, the administrator corrects a value
    d2 = _doc("R2")
    d2["treatments"].append({"kind": "lenvatinib", "date": "2024-03-20"})
    d2["markers"].append({"date": "2024-03-25", "afp_ng_ml": 4242.0})
    uid2 = r2.import_document(d2).read_uid
    two_readers.add_tumour_marker("P1", "afp", 851.0, dt.date(2024, 2, 26))
    two_readers.add_timepoint("P1", "FU2", dt.date(2024, 5, 31))
    assert r1.export_document(uid1).to_json() == before
    assert r2.export_document(uid2).markers[0].afp_ng_ml == 851.0  # a draft shows the corrected fact
    assert AdjudicatorSession(two_readers, "ADJ").export_document(uid1).to_json() == before
    assert two_readers.audit_verify(raise_on_error=False).ok


def test_shared_lesion_ids_show_only_lesions_the_read_measures(two_readers: Store) -> None:
    """A treatment the administrator recorded with lesion ids: a read started in the store
    shows only those of lesions it measures (older stores hold other readers' ids there)."""
    two_readers.add_patient("P2")
    two_readers.add_timepoint("P2", "BL", dt.date(2024, 1, 10))
    two_readers.add_treatment_event("P2", "TACE", dt.date(2024, 1, 20), lesion_ids=("L1", "OTHER7"))
    r1 = ReaderSession(two_readers, "R1")
    r1.add_lesion("P2", "L1")
    read = r1.start_read("P2", ["BL"], "RECIST1.1")
    r1.record_measurement(read.read_uid, "BL", "L1", longest_diameter_mm=30.0)
    (tr,) = r1.export_document(read.read_uid).treatments
    assert tr.lesion_ids == ("L1",)


def test_import_export_round_trip_keeps_the_documents_own_entries(two_readers: Store) -> None:
    r1 = ReaderSession(two_readers, "R1")
    d1 = _doc("R1")
    d1["treatments"][0]["note"] = "superselective, segment 7"
    d1["markers"].append({"day": 50, "afp_ng_ml": 9.0})  # undated: stays with the read
    uid = r1.import_document(copy.deepcopy(d1)).read_uid
    from hcc_imaging.response import ReadDocument

    got = r1.export_document(uid).to_json()
    want = ReadDocument.from_json(d1).to_json()
    assert got["treatments"] == want["treatments"] and got["markers"] == want["markers"]
    assert all(m.day is None or m.date is not None for m in two_readers.tumour_markers("P1"))


def test_day_numbers_count_from_each_readers_own_start_date(two_readers: Store) -> None:
    """R2's start date differs from R1's: R2's stored first-PD day is the one `assess` gives on
    R2's own document (39), not one counted from R1's start date (35); no reader's day numbers
    reach the shared time points."""
    from hcc_imaging.response import ReadDocument, assess

    r1, r2 = ReaderSession(two_readers, "R1"), ReaderSession(two_readers, "R2")
    uid1 = r1.import_document(_doc("R1")).read_uid  # start 2024-03-01: BL day -4, FU1 day 35
    d2 = _doc("R2")
    d2["start_date"] = "2024-02-26"
    d2["criteria"] = ["RECIST1.1"]
    d2["timepoints"][1]["lesions"][0]["longest_diameter_mm"] = 90.0  # 77 -> 112 mm: PD
    want = assess(ReadDocument.from_json(d2), ["RECIST1.1"]).results["RECIST1.1"].pd_day
    assert want == 39
    uid2 = r2.import_document(d2).read_uid
    r2.lock(uid2)
    (overall,) = [x for x in r2.responses(uid2) if x.timepoint_id is None]
    assert (overall.category, overall.pd_day_offset, overall.pd_date) == ("PD", 39, dt.date(2024, 4, 5))
    assert [(t.id, t.day) for t in r2.export_document(uid2).timepoints] == [("BL", 0), ("FU1", 39)]
    assert [(t.id, t.day) for t in r1.export_document(uid1).timepoints] == [("BL", -4), ("FU1", 35)]
    assert [t.day_offset for t in two_readers.timepoints("P1")] == [None, None]


def test_undated_time_points_keep_the_documents_order(two_readers: Store) -> None:
    r1 = ReaderSession(two_readers, "R1")
    les = [{"lesion_id": "L1", "longest_diameter_mm": 30.0}]
    doc = {"patient_id": "P3", "reader_id": "R1", "timepoints": [
        {"id": t, "day": d, "lesions": les} for t, d in (("BL", 0), ("FU2", 60), ("FU10", 300))]}
    uid = r1.import_document(doc).read_uid
    assert r1.read(uid).timepoint_ids == ("BL", "FU2", "FU10")
    assert [(t.id, t.day) for t in r1.export_document(uid).timepoints] == [("BL", 0), ("FU2", 60), ("FU10", 300)]


def test_a_draft_imported_by_an_older_version_counts_days_from_its_own_start(two_readers: Store, tmp_path: Path) -> None:
    """Older stores: the first importer's day numbers sit on the shared time points and a read
    has no days of its own.  An imported draft then counts from its own start date."""
    import sqlite3

    r2 = ReaderSession(two_readers, "R2")
    d2 = _doc("R2")
    d2["start_date"] = "2024-02-26"
    uid2 = r2.import_document(d2).read_uid
    db = sqlite3.connect(tmp_path / "study.sqlite")
    (extra,) = db.execute("SELECT extra_json FROM reads WHERE read_uid = ?", (uid2,)).fetchone()
    old = {k: v for k, v in json.loads(extra).items() if k not in ("timepoint_days", "read_treatments", "read_markers")}
    with db:
        db.execute("UPDATE reads SET extra_json = ? WHERE read_uid = ?", (json.dumps(old), uid2))
        db.execute("UPDATE timepoints SET day_offset = CASE timepoint_id WHEN 'BL' THEN -4 ELSE 35 END")
    db.close()
    assert [(t.id, t.day) for t in r2.export_document(uid2).timepoints] == [("BL", 0), ("FU1", 39)]


def test_import_refuses_a_second_lesion_with_the_same_id(two_readers: Store) -> None:
    """A document whose L1 has a tracking UID the store does not know, while the reader already
    has an L1: refused like 'lesion add' (two L1s made '--lesion L1' pick one silently)."""
    r1 = ReaderSession(two_readers, "R1")
    r1.import_document(_doc("R1"))
    n_lesions = len(r1.lesions("P1"))
    d = _doc("R1")
    for t in d["timepoints"]:
        t["lesions"][0]["tracking_uid"] = "2.25.4242"
    with pytest.raises(StoreError, match=r"tracking UID 2\.25\.4242, which the store does not know, but reader 'R1' "
                                         r"already has a lesion 'L1'"):
        r1.import_document(d)
    assert len(r1.lesions("P1")) == n_lesions and len(r1.reads()) == 1
    # another reader's L1 is no clash: lesion ids are per reader
    d["reader_id"] = "R2"
    ReaderSession(two_readers, "R2").import_document(d)

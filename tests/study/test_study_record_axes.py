"""The study store refuses an axis longer than the axis that bounds it when it is recorded
(``AXIS_TOLERANCE_MM``, the read document's check), not only at lock / export; a read exported
from the store keeps each lesion's status and viable_status.

Before 2026-12-06 ``record_measurement`` kept LD 20 mm / SA 30 mm and only ``lock`` refused the
read (the wrong value long recorded, e.g. by ``study read record``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import StoreError
from hcc_imaging.response.document import ReadDocument, axis_problem
from hcc_imaging.study import ReaderSession, Store


@pytest.fixture
def read(store: Store) -> tuple[ReaderSession, str]:
    store.add_reader("R1")
    store.add_patient("P1")
    for i, tp in enumerate(("BL", "FU1")):
        store.add_timepoint("P1", tp, dt.date(2024, 1, 1) + dt.timedelta(days=60 * i))
    rs = ReaderSession(store, "R1")
    rs.add_lesion("P1", "L1")
    return rs, rs.start_read("P1", ["BL", "FU1"], "mRECIST").read_uid


def test_axis_problem_is_the_read_documents_check() -> None:
    assert axis_problem({"longest_diameter_mm": 20.0, "short_axis_mm": 30.0})[0] == "short_axis_mm"
    assert axis_problem({"viable_diameter_mm": 20.0, "viable_short_axis_mm": 20.5}) is None  # tolerance
    assert axis_problem({"viable_diameter_mm": 20.0, "viable_short_axis_mm": 20.6})[0] == "viable_short_axis_mm"
    assert axis_problem({"short_axis_mm": 30.0}) is None  # no bound recorded: nothing to compare


@pytest.mark.parametrize(("values", "field"), [
    pytest.param({"longest_diameter_mm": 20.0, "short_axis_mm": 30.0}, "short_axis_mm", id="sa-over-ld"),
    pytest.param({"longest_diameter_mm": 20.0, "viable_diameter_mm": 25.0}, "viable_diameter_mm", id="viable-over-ld"),
    pytest.param({"longest_diameter_mm": 30.0, "viable_diameter_mm": 10.0, "viable_short_axis_mm": 12.0},
                 "viable_short_axis_mm", id="viable-sa-over-viable-ld"),
])
def test_record_refuses_an_axis_longer_than_its_bound(read: tuple[ReaderSession, str], values: dict[str, float],
                                                      field: str) -> None:
    rs, uid = read
    n_audit = len(rs.store.audit_entries())
    with pytest.raises(StoreError) as err:
        rs.record_measurement(uid, "BL", "L1", **values)
    msg = str(err.value)
    assert f"read {uid}, time point 'BL', lesion 'L1', field {field!r}" in msg
    assert "AXIS_TOLERANCE_MM" in msg and "Fix: swap" in msg and "Nothing was recorded" in msg
    assert rs.measurements(uid) == [] and len(rs.store.audit_entries()) == n_audit


def test_record_checks_the_merged_values_of_keep_recorded(read: tuple[ReaderSession, str]) -> None:
    rs, uid = read
    tracking_uid = rs.lesions("P1")[0].tracking_uid
    rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=20.0, short_axis_mm=15.0)
    # a shorter LD alone: the recorded SA 15 mm is now longer (named by tracking UID: the lesion id too)
    with pytest.raises(StoreError, match=r"lesion 'L1 \(tracking UID .*\)', field 'short_axis_mm': 15 mm is longer "
                                         r"than longest_diameter_mm 10 mm"):
        rs.record_measurement(uid, "BL", tracking_uid, longest_diameter_mm=10.0, keep_recorded=True)
    with pytest.raises(StoreError, match="field 'short_axis_mm': 25 mm"):
        rs.record_measurement(uid, "BL", "L1", short_axis_mm=25.0, keep_recorded=True)
    (m,) = rs.measurements(uid)
    assert (m.longest_diameter_mm, m.short_axis_mm) == (20.0, 15.0)  # kept as recorded
    m = rs.record_measurement(uid, "BL", "L1", short_axis_mm=20.5, keep_recorded=True)  # within the tolerance
    assert (m.longest_diameter_mm, m.short_axis_mm) == (20.0, 20.5)


def test_cli_read_record_says_the_refusal(tmp_path: Path, read: tuple[ReaderSession, str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, uid = read
    code = main(["study", "read", "record", uid, "--reader", "R1", "--timepoint", "FU1", "--lesion", "L1",
                 "--ld", "20", "--sa", "30", "--db", str(tmp_path / "study.sqlite")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "RecordRefusedError" in err and "time point 'FU1', lesion 'L1', field 'short_axis_mm'" in err and "Fix:" in err
    assert "Traceback" not in err


def _statuses_doc() -> dict[str, Any]:
    les = lambda lid, **kw: {"lesion_id": lid, **kw}  # noqa: E731
    return {"patient_id": "P2", "reader_id": "R1", "criteria": ["mRECIST"], "timepoints": [
        {"id": "BL", "date": "2024-01-01", "lesions": [
            les("L1", longest_diameter_mm=30.0, viable_diameter_mm=20.0),
            les("L2", longest_diameter_mm=12.0, viable_diameter_mm=10.0),
            les("N1", role="non_target", status="present")]},
        {"id": "FU1", "date": "2024-03-01", "lesions": [
            les("L1", status="too_small"),
            les("L2", longest_diameter_mm=10.0, viable_status="too_small"),
            les("N1", role="non_target", status="not_evaluable")]},
        {"id": "FU2", "date": "2024-05-01", "lesions": [
            les("L1", status="absent"),
            les("L2", longest_diameter_mm=10.0, viable_diameter_mm=0.0, viable_status="absent"),
            les("N1", role="non_target", status="absent")]}]}


def _statuses(doc: ReadDocument) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(t.id, les.lesion_id): (les.status.value, les.viable_status and les.viable_status.value)
            for t in doc.timepoints for les in t.lesions}


@pytest.mark.parametrize("lock", [False, True], ids=["draft", "locked"])
def test_export_keeps_status_and_viable_status(store: Store, lock: bool) -> None:
    store.add_reader("R1")
    rs = ReaderSession(store, "R1")
    doc = ReadDocument.from_json(_statuses_doc())
    uid = rs.import_document(doc, lock=lock).read_uid
    out = rs.export_document(uid)
    assert _statuses(out) == _statuses(doc)
    assert _statuses(out)[("FU1", "L1")] == ("too_small", None)
    assert _statuses(out)[("FU2", "L2")] == ("measured", "absent")
    assert _statuses(out)[("FU1", "N1")] == ("not_evaluable", None)
    # and the rest of each lesion as imported (the store adds tracking UIDs and the source)
    strip = lambda js: [[{k: v for k, v in les.items() if k not in ("tracking_uid", "source")}  # noqa: E731
                         for les in t["lesions"]] for t in js["timepoints"]]
    assert strip(out.to_json()) == strip(doc.to_json())

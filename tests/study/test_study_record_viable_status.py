"""A recorded ``viable_status`` never silently outweighs a new viable size, and
``study read record --viable-status`` records one.

Found after 2026-12-06: ``study read record --viable 25`` on a record with ``viable_status:
too_small`` kept the status, and mRECIST counted the lesion 5 mm (the criteria read the viable
status before the size); the command had no option to set or correct the status.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import StoreError
from hcc_imaging.response import assess
from hcc_imaging.study import ReaderSession, Store

@pytest.fixture
def read(store: Store) -> tuple[ReaderSession, str]:
    store.add_reader("R1")
    store.add_patient("P1")
    store.add_timepoint("P1", "BL", day_offset=0)
    rs = ReaderSession(store, "R1")
    rs.add_lesion("P1", "L1")
    return rs, rs.start_read("P1", ["BL"], ["mRECIST"]).read_uid


def _obs(rs: ReaderSession, uid: str):  # type: ignore[no-untyped-def]
    return rs.export_document(uid).timepoints[0].lesions[0]


def test_a_new_viable_size_clears_a_recorded_viable_status(read: tuple[ReaderSession, str]) -> None:
    rs, uid = read
    rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=40.0,
                          extra={"viable_status": "too_small", "enhancing": True, "note": "rim"})
    rs.record_measurement(uid, "BL", "L1", short_axis_mm=30.0, keep_recorded=True)  # no viable size: kept
    assert str(_obs(rs, uid).viable_status) == "too_small"
    m = rs.record_measurement(uid, "BL", "L1", viable_diameter_mm=25.0, keep_recorded=True)
    o = _obs(rs, uid)
    # (the old code kept 'too_small' beside 25 mm: mRECIST counted 5 mm)
    assert o.viable_status is None and (o.viable_diameter_mm, o.enhancing, o.note) == (25.0, True, "rim")
    assert (m.viable_status, m.viable_diameter_mm, m.longest_diameter_mm) == (None, 25.0, 40.0)
    assert assess(rs.export_document(uid), "mRECIST").results["mRECIST"].timepoints[0].sum == 25  # (not 5)
    [note] = m.notes
    assert "lesion 'L1'" in note and "viable_status 'too_small' cleared" in note
    assert "viable_diameter_mm none -> 25 mm" in note and "--viable-status" in note
    # given with the size, it is the reader's: kept, and nothing said
    m = rs.record_measurement(uid, "BL", "L1", viable_diameter_mm=0.0, viable_status="absent", keep_recorded=True)
    assert (m.viable_status, m.viable_diameter_mm, m.notes) == ("absent", 0.0, ())
    # the same size again is no change: kept
    m = rs.record_measurement(uid, "BL", "L1", viable_diameter_mm=0.0, keep_recorded=True)
    assert (m.viable_status, m.notes) == ("absent", ())
    assert rs.measurements(uid)[0].notes == ()  # (a note is the write's, not the record's)


def test_a_cleared_viable_size_from_an_editor_clears_it_too(read: tuple[ReaderSession, str]) -> None:
    rs, uid = read
    rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=40.0, viable_diameter_mm=3.0,
                          extra={"viable_status": "too_small", "enhancing": True}, typical_hcc_pattern=True)
    # an editor's write (keep_other_fields) that no longer has the viable diameter
    m = rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=41.0, keep_other_fields=True)
    assert (m.viable_diameter_mm, m.viable_status, m.typical_hcc_pattern) == (None, None, True)
    assert _obs(rs, uid).enhancing is True
    # 'measured' says nothing a size could contradict: it stays
    rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=41.0, viable_status="measured", keep_other_fields=True)
    m = rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=41.0, viable_diameter_mm=30.0, keep_other_fields=True)
    assert m.viable_status == "measured"


def test_a_bad_viable_status_is_refused_naming_the_allowed_values(read: tuple[ReaderSession, str]) -> None:
    rs, uid = read
    for bad in ({"viable_status": "small"}, {"extra": {"viable_status": "present"}}):
        with pytest.raises(StoreError, match=r"viable_status '(small|present)' is not one of measured, too_small, "
                                             r"absent, not_evaluable"):
            rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=40.0, **bad)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="differ; give one"):
        rs.record_measurement(uid, "BL", "L1", viable_status="absent", extra={"viable_status": "too_small"})
    with pytest.raises(StoreError, match="not both"):
        rs.record_measurement(uid, "BL", "L1", keep_recorded=True, keep_other_fields=True)
    assert rs.measurements(uid) == []


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_read_record_viable_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite")
    for argv in (["reader", "add", "R1"], ["patient", "add", "P1"], ["timepoint", "add", "P1", "BL", "--day", "0"],
                 ["lesion", "add", "P1", "L1", "--reader", "R1"]):
        assert _cli(capsys, "study", *argv, "--db", db)[0] == 0
    code, out, err = _cli(capsys, "study", "read", "start", "P1", "--reader", "R1", "--timepoints", "BL",
                          "--criteria", "mRECIST", "--db", db)
    assert code == 0, err
    uid = out.strip()
    rec = ["study", "read", "record", uid, "--reader", "R1", "--timepoint", "BL", "--lesion", "L1", "--db", db]
    code, out, err = _cli(capsys, *rec, "--ld", "40", "--viable-status", "too_small", "--json")
    assert code == 0, err
    assert json.loads(out)["viable_status"] == "too_small"
    # a bad value: exit 2, the allowed values named, nothing changed
    code, out, err = _cli(capsys, *rec, "--viable-status", "tiny")
    assert code == 2 and "viable_status 'tiny' is not one of measured, too_small, absent, not_evaluable" in err
    # a new viable diameter without --viable-status clears the stale status, and stderr says so
    code, out, err = _cli(capsys, *rec, "--viable", "25", "--json")
    assert code == 0 and json.loads(out)["viable_status"] is None
    assert "note: read " in err and "lesion 'L1': viable_status 'too_small' cleared" in err
    code, out, err = _cli(capsys, *rec, "--viable", "0", "--viable-status", "absent", "--json")
    assert code == 0 and (json.loads(out)["viable_status"], json.loads(out)["viable_diameter_mm"]) == ("absent", 0.0)
    # the text of `read show` names the viable status too (it printed the size alone)
    code, out, err = _cli(capsys, "study", "read", "show", uid, "--reader", "R1", "--db", db)
    assert code == 0 and "\tviable 0.0 (absent)\t" in out, out
    code, out, err = _cli(capsys, "study", "export-read", uid, "--reader", "R1", "--db", db)
    assert code == 0, err
    les = json.loads(out)["timepoints"][0]["lesions"][0]
    assert (les["viable_status"], les["viable_diameter_mm"], les["longest_diameter_mm"]) == ("absent", 0.0, 40.0)


def test_a_new_lesion_size_ends_a_recorded_too_small_status(read: tuple[ReaderSession, str]) -> None:
    """``study read record --ld 12`` on a ``too_small`` record kept the status, and RECIST 1.1 counted
    the target 5 mm (the status is read before the size)."""
    rs, uid = read
    rs.record_measurement(uid, "BL", "L1", status="too_small")
    m = rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=12.0, keep_recorded=True)
    assert (str(m.status), m.longest_diameter_mm) == ("measured", 12.0)
    [note] = m.notes
    assert "status 'too_small' changed to 'measured'" in note and "longest_diameter_mm none -> 12 mm" in note
    assert "--status" in note
    assert assess(rs.export_document(uid), "RECIST1.1").results["RECIST1.1"].timepoints[0].sum == 12  # (not 5)
    # a status given with the size is the reader's; a size cleared changes nothing
    m = rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=3.0, status="too_small", keep_recorded=True)
    assert (str(m.status), m.notes) == ("too_small", ())
    # the editor mode (napari) passes its own status: not rewritten
    m = rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=4.0, status="too_small", keep_other_fields=True)
    assert (str(m.status), m.notes) == ("too_small", ())


def test_a_non_targets_status_stays_with_a_new_size(read: tuple[ReaderSession, str]) -> None:
    rs, uid = read
    rs.record_measurement(uid, "BL", "L1", role="non_target", status="present")
    m = rs.record_measurement(uid, "BL", "L1", longest_diameter_mm=18.0, keep_recorded=True)
    assert (str(m.status), str(m.role), m.notes) == ("present", "non_target", ())

"""Import with lock as one transaction, and `study read record` that keeps what it is not told.

Found by a tester: `import-read --lock` kept the draft when the lock failed (each retry left
another draft), and `read record` without `--role` turned a recorded non-target node into a
target and dropped the viable diameter, `enhancing`, necrosis fraction and note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import CriteriaError
from hcc_imaging.study import ReaderSession, Store

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"


def _doc(reader: str = "R1") -> dict[str, Any]:
    d = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    d["patient_id"] = "P1"
    d["reader_id"] = reader
    d["timepoints"] = d["timepoints"][:2]
    return d


def _unassessable() -> dict[str, Any]:
    """Valid document that mRECIST cannot classify (no viable diameters)."""
    d = _doc()
    d["criteria"] = ["mRECIST"]
    for t in d["timepoints"]:
        for les in t["lesions"]:
            les.pop("viable_diameter_mm", None)
            les.pop("viable_short_axis_mm", None)
    return d


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def r1(store: Store) -> ReaderSession:
    store.add_reader("R1")
    return ReaderSession(store, "R1")


# -- import + lock ---------------------------------------------------------------------------
def test_import_and_lock_is_one_transaction(store: Store, r1: ReaderSession) -> None:
    n_audit = len(store.audit_entries())
    with pytest.raises(CriteriaError, match="no viable_diameter_mm.*Nothing was imported"):
        r1.import_document(_unassessable(), lock=True)
    assert r1.reads() == [] and store.patients() == []
    assert len(store.audit_entries()) == n_audit
    info = r1.import_document(_doc(), lock=True)
    assert info.status == "locked" and len(r1.reads()) == 1
    assert store.audit_verify(raise_on_error=False).ok


def test_cli_import_read_lock_keeps_no_draft_when_the_lock_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite")
    _run(capsys, "study", "init", "--db", db)
    _run(capsys, "study", "reader", "add", "R1", "--db", db)
    path = tmp_path / "read.json"
    path.write_text(json.dumps(_unassessable()), encoding="utf-8")
    for _ in range(2):  # a retry must not pile up drafts either
        code, _, err = _run(capsys, "study", "import-read", str(path), "--reader", "R1", "--lock", "--db", db)
        assert code == 2 and "Nothing was imported" in err
    code, out, _ = _run(capsys, "study", "read", "list", "--reader", "R1", "--db", db)
    assert code == 0 and out.strip() == "(no reads)"


# -- read record keeps what it is not told -----------------------------------------------------
def test_cli_record_keeps_the_recorded_fields_it_is_not_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.sqlite")
    _run(capsys, "study", "init", "--db", db)
    _run(capsys, "study", "reader", "add", "R1", "--db", db)
    path = tmp_path / "read.json"
    path.write_text(json.dumps(_doc()), encoding="utf-8")
    code, out, err = _run(capsys, "study", "import-read", str(path), "--reader", "R1", "--json", "--db", db)
    assert code == 0, err
    uid = json.loads(out)["read_uid"]
    # an imported non-target node: a new short axis only
    code, out, err = _run(capsys, "study", "read", "record", uid, "--reader", "R1", "--timepoint", "FU1", "--lesion", "N1",
                          "--sa", "15", "--json", "--db", db)
    assert code == 0, err
    rec = json.loads(out)
    assert (rec["role"], rec["status"], rec["short_axis_mm"]) == ("non_target", "present", 15.0)
    # a target after cTACE: a new longest diameter keeps the viable diameter, enhancing, necrosis, note
    code, _, err = _run(capsys, "study", "read", "record", uid, "--reader", "R1", "--timepoint", "FU1", "--lesion", "L1",
                        "--ld", "47", "--db", db)
    assert code == 0, err
    code, out, err = _run(capsys, "study", "export-read", uid, "--reader", "R1", "--db", db)
    assert code == 0, err
    fu1 = {les["lesion_id"]: les for les in json.loads(out)["timepoints"][1]["lesions"]}
    assert fu1["N1"]["role"] == "non_target" and fu1["N1"]["porta_hepatis"] is True
    l1 = fu1["L1"]
    assert (l1["longest_diameter_mm"], l1["viable_diameter_mm"], l1["enhancing"], l1["necrosis_fraction"]) == (47.0, 0.0, False, 1.0)
    assert l1["note"] == "dense lipiodol, thin regular rim only" and l1["source"] == "reader:R1"
    code, out, err = _run(capsys, "study", "read", "lock", uid, "--reader", "R1", "--json", "--db", db)
    assert code == 0, err
    mrecist = {r["timepoint_id"]: r["category"] for r in json.loads(out)["responses"] if r["criteria"] == "mRECIST"}
    assert mrecist["FU1"] == "CR"


def test_record_replace_and_keep_recorded(r1: ReaderSession) -> None:
    uid = r1.import_document(_doc()).read_uid
    algo = dict(source_kind="algorithm", algorithm_name="hcc_imaging.segment.lesion", algorithm_version="0.1.0")
    r1.record_measurement(uid, "FU1", "L2", longest_diameter_mm=22.0, short_axis_mm=18.0,
                          endpoints_lps={"long": [[0, 0, 0], [22, 0, 0]], "short": [[5, -9, 0], [5, 9, 0]]}, **algo)
    # role only: sizes, endpoints and provenance stay
    m = r1.record_measurement(uid, "FU1", "L2", role="non_target", status="present", keep_recorded=True)
    assert (m.role, m.longest_diameter_mm, m.source_kind, set(m.endpoints_lps)) == ("non_target", 22.0, "algorithm",
                                                                                    {"long", "short"})
    # a new LD by hand: its old line goes, the short axis line stays, provenance is the reader's
    m = r1.record_measurement(uid, "FU1", "L2", longest_diameter_mm=20.0, keep_recorded=True)
    assert (m.longest_diameter_mm, m.short_axis_mm, set(m.endpoints_lps), m.source_kind, m.algorithm_name) == (
        20.0, 18.0, {"short"}, "manual_line", None)
    # the API default still replaces the whole record (napari autosave sends every field)
    m = r1.record_measurement(uid, "FU1", "L2", longest_diameter_mm=19.0)
    assert (m.role, m.status, m.short_axis_mm, dict(m.endpoints_lps)) == ("target", "measured", None, {})

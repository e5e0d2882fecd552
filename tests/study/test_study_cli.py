"""``hcc-imaging study ...``: the workflow end to end in-process, blinding in the CLI, and one
subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hcc_imaging.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str):  # type: ignore[no-untyped-def]
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    d = str(tmp_path / "cli.sqlite")
    assert _run(capsys, "study", "init", "--db", d)[0] == 0
    for r in ("R1", "R2"):
        _run(capsys, "study", "reader", "add", r, "--db", d)
    _run(capsys, "study", "reader", "add", "ADJ", "--role", "adjudicator", "--db", d)
    _run(capsys, "study", "patient", "add", "P001", "--db", d)
    for tp, date in (("BL", "2024-01-10"), ("FU1", "2024-03-10"), ("FU2", "2024-05-10")):
        _run(capsys, "study", "timepoint", "add", "P001", tp, "--date", date, "--db", d)
    return d


def _reader_read(capsys, db: str, reader: str, sums: list[tuple[str, float]]) -> str:  # type: ignore[no-untyped-def]
    _run(capsys, "study", "lesion", "add", "P001", "L1", "--reader", reader, "--db", db)
    info = _json(capsys, "study", "read", "start", "P001", "--reader", reader, "--timepoints", "BL,FU1,FU2",
                 "--criteria", "recist1.1", "--db", db)
    uid = info["read_uid"]
    for tp, ld in sums:
        _json(capsys, "study", "read", "record", uid, "--reader", reader, "--timepoint", tp, "--lesion", "L1",
              "--ld", str(ld), "--endpoints", json.dumps({"long": [[0, 0, 0], [ld, 0, 0]]}), "--db", db)
    return uid


def test_cli_workflow_blinding_adjudication_agreement_audit(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = _reader_read(capsys, db, "R1", [("BL", 50.0), ("FU1", 30.0), ("FU2", 29.0)])
    b = _reader_read(capsys, db, "R2", [("BL", 50.0), ("FU1", 45.0), ("FU2", 44.0)])
    # blinding: R2 lists only its read and cannot show/export/lock R1's
    listed = _json(capsys, "study", "read", "list", "--reader", "R2", "--db", db)
    assert [r["read_uid"] for r in listed] == [b]
    for argv in (["read", "show", a], ["read", "lock", a], ["export-read", a],
                 ["read", "record", a, "--timepoint", "BL", "--lesion", "L1", "--ld", "1"]):
        code, out, err = _run(capsys, "study", *argv, "--reader", "R2", "--db", db)
        assert code == 2 and "BlindingError" in err and "50.0" not in out + err
    lesions = _json(capsys, "study", "lesion", "list", "P001", "--reader", "R2", "--db", db)
    assert [x["owner"] for x in lesions] == ["R2"]
    # adjudicator cannot see drafts
    code, _, err = _run(capsys, "study", "export-read", a, "--adjudicator", "ADJ", "--db", db)
    assert code == 2 and "still a draft" in err
    locked = _json(capsys, "study", "read", "lock", a, "--reader", "R1", "--db", db)
    assert {(r["timepoint_id"], r["category"]) for r in locked["responses"]} >= {("FU1", "PR"), (None, "PR")}
    _run(capsys, "study", "read", "lock", b, "--reader", "R2", "--db", db)
    ds = _json(capsys, "study", "adjudicate", "P001", "--adjudicator", "ADJ", "--criteria", "recist1.1", "--db", db)
    assert [d["kind"] for d in ds] == ["bor"]
    code, _, err = _run(capsys, "study", "adjudicate", "P001", "--adjudicator", "ADJ", "--criteria", "recist1.1",
                        "--choose", a, "--db", db)
    assert code == 2 and "--reason" in err
    dec = _json(capsys, "study", "adjudicate", "P001", "--adjudicator", "ADJ", "--criteria", "recist1.1",
                "--discordance", "bor", "--choose", a, "--reason", "R2 missed the shrinkage of L1", "--db", db)
    assert dec["chosen_read_uid"] == a
    rep = _json(capsys, "study", "agreement", "--adjudicator", "ADJ", "--criteria", "recist1.1", "--readers", "R1,R2", "--db", db)
    assert rep[0]["n_patients"] == 1 and rep[0]["n_sums"] == 3
    code, out, _ = _run(capsys, "study", "agreement", "--adjudicator", "ADJ", "--criteria", "recist1.1", "--readers", "R1,R2", "--db", db)
    assert code == 0 and "ICC(2,1)" in out
    # export (adjudicator, locked) -> import as R1's new read -> lock
    path = tmp_path / "a.json"
    assert _run(capsys, "study", "export-read", a, "--adjudicator", "ADJ", "--out", str(path), "--db", db)[0] == 0
    doc = json.loads(path.read_text())
    assert doc["reader_id"] == "R1" and doc["timepoints"][1]["lesions"][0]["longest_diameter_mm"] == 30.0
    code, _, err = _run(capsys, "study", "import-read", str(path), "--reader", "R2", "--db", db)
    assert code == 2 and "BlindingError" in err
    imported = _json(capsys, "study", "import-read", str(path), "--reader", "R1", "--lock", "--db", db)
    assert imported["status"] == "locked"
    code, out, _ = _run(capsys, "study", "audit", "verify", "--db", db)
    assert code == 0 and "OK" in out
    log = _json(capsys, "study", "audit", "log", "--last", "0", "--db", db)
    assert any(e["action"] == "lock" and e["actor"] == "R1" for e in log)
    assert all(v == ["<blinded>", "<blinded>"] for e in log if e["entity"] == "measurements" for v in e["changes"].values())
    full = _json(capsys, "study", "audit", "log", "--last", "0", "--adjudicator", "ADJ", "--db", db)
    assert any(e["entity"] == "measurements" and e["changes"].get("longest_diameter_mm") == [None, 30.0] for e in full)


def test_cli_records_and_lists(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    t = _json(capsys, "study", "treatment", "P001", "TACE", "--start", "2024-01-20", "--db", db)
    assert t["kind"] == "TACE"
    m = _json(capsys, "study", "marker", "P001", "afp", "420", "--date", "2024-01-10", "--db", db)
    assert (m["marker"], m["unit"]) == ("afp", "ng/mL")
    assert [p["patient_id"] for p in _json(capsys, "study", "patient", "list", "--db", db)] == ["P001"]
    assert [x["timepoint_id"] for x in _json(capsys, "study", "timepoint", "list", "P001", "--db", db)] == ["BL", "FU1", "FU2"]
    assert len(_json(capsys, "study", "reader", "list", "--db", db)) == 3
    _run(capsys, "study", "lesion", "add", "P001", "L1", "--reader", "R1", "--db", db)
    uid = _json(capsys, "study", "read", "start", "P001", "--reader", "R1", "--timepoints", "BL", "--criteria", "mrecist",
                "--db", db)["read_uid"]
    rec = _json(capsys, "study", "read", "record", uid, "--reader", "R1", "--timepoint", "BL", "--lesion", "L1", "--ld", "33",
                "--viable", "21", "--algorithm", "seeded", "--algorithm-version", "0.1", "--parameters", '{"seed": [1, 2, 3]}',
                "--db", db)
    assert (rec["source_kind"], rec["parameters"]) == ("algorithm", {"seed": [1, 2, 3]})
    shown = _json(capsys, "study", "read", "show", uid, "--reader", "R1", "--db", db)
    assert shown["measurements"][0]["viable_diameter_mm"] == 21.0
    code, _, err = _run(capsys, "study", "read", "record", uid, "--reader", "R1", "--timepoint", "BL", "--lesion", "L1",
                        "--endpoints", "{bad", "--db", db)
    assert code == 2 and "--endpoints is not valid JSON" in err
    code, _, err = _run(capsys, "study", "agreement", "--adjudicator", "ADJ", "--criteria", "recist1.1", "--readers", "R1",
                        "--db", db)
    assert code == 2 and "exactly two reader ids" in err


def test_cli_audit_verify_fails_on_tampering(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET entity_key = 'P999' WHERE entity = 'patients'")
    con.commit()
    con.close()
    code, out, err = _run(capsys, "study", "audit", "verify", "--db", db)
    assert code == 2 and "FAILED" in out and "AuditIntegrityError" in err


def test_cli_subprocess(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "sub.sqlite")
    for argv in (["study", "init"], ["study", "reader", "add", "R1"], ["study", "patient", "add", "P001"]):
        assert _run(capsys, *argv, "--db", d)[0] == 0
    out = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "study", "patient", "add", "Jane Doe", "--db", d],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "pseudonymous id" in out.stderr
    out = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "study", "audit", "verify", "--json", "--db", d],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["ok"] is True and json.loads(out.stdout)["n_rows"] == 3


def test_cli_db_from_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCC_IMAGING_DB", str(tmp_path / "env.sqlite"))
    info = _json(capsys, "study", "init")
    assert info["db"].endswith("env.sqlite") and (tmp_path / "env.sqlite").exists()


def test_cli_track_and_confirm(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import numpy as np

    from hcc_imaging.io.masks import save_mask
    from hcc_imaging.segment.register import Registration, TransformKind
    from hcc_imaging.volume import LabelVolume

    base = np.zeros((20, 60, 60), np.uint8)
    base[8:12, 10:20, 10:20] = 1
    base[8:12, 40:50, 40:50] = 2
    fu = np.zeros_like(base)
    fu[8:12, 13:23, 10:20] = 1  # L1 moved 3 rows (3 mm along y)
    fu[8:12, 30:34, 5:9] = 2    # new
    save_mask(LabelVolume.create(base, (2.0, 1.0, 1.0), labels={1: "L1", 2: "L2"}), tmp_path / "bl.nii.gz")
    save_mask(LabelVolume.create(fu, (2.0, 1.0, 1.0), labels={1: "F1", 2: "F2"}), tmp_path / "fu.nii.gz")
    reg = Registration(kind=TransformKind.RIGID, matrix=np.eye(3), translation_mm=(0.0, 3.0, 0.0), center_mm=(0.0, 0.0, 0.0))
    (tmp_path / "reg.json").write_text(json.dumps(reg.to_json()))
    for lid in ("L1", "L2"):
        _run(capsys, "study", "lesion", "add", "P001", lid, "--reader", "R1", "--db", db)
    out = _json(capsys, "study", "track", str(tmp_path / "bl.nii.gz"), str(tmp_path / "fu.nii.gz"),
                "--registration", str(tmp_path / "reg.json"), "--confirm", "--reader", "R1", "--patient", "P001",
                "--timepoint", "FU1", "--db", db)
    kinds = {(p["kind"], tuple(p["baseline"]), tuple(p["followup"])) for p in out["proposals"]}
    # NIfTI carries no label names: the loader names label n "L<n>" in both masks
    assert kinds == {("match", ("L1",), ("L1",)), ("disappeared", ("L2",), ()), ("new", (), ("L2",))}
    match = next(p for p in out["proposals"] if p["kind"] == "match")
    assert match["dice"] == pytest.approx(1.0)  # the registration undoes the 3 mm shift exactly
    uids = {x["lesion_id"]: x["tracking_uid"] for x in _json(capsys, "study", "lesion", "list", "P001", "--reader", "R1", "--db", db)}
    confirmed = {(x["followup_label"], x["relation"]): x["tracking_uid"] for x in out["confirmed"]}
    assert confirmed[("L1", "match")] == uids["L1"] and confirmed[("L2", "new")] not in (uids["L1"], uids["L2"])
    code, _, err = _run(capsys, "study", "track", str(tmp_path / "bl.nii.gz"), str(tmp_path / "fu.nii.gz"), "--confirm",
                        "--db", db)
    assert code == 2 and "--confirm needs --reader" in err
    code, _, err = _run(capsys, "study", "track", str(tmp_path / "bl.nii.gz"), str(tmp_path / "fu.nii.gz"), "--confirm",
                        "--reader", "R2", "--patient", "P001", "--timepoint", "FU1", "--db", db)
    assert code == 2 and "not lesions of patient 'P001' visible to reader 'R2'" in err


def test_cli_json_errors_are_json_and_reader_id_message_names_readers(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """With --json, a study command's error was plain text on stderr; the reader-id error talked
    about patient names."""
    code, out, err = _run(capsys, "study", "read", "list", "--reader", "NOPE", "--db", db, "--json")
    assert code == 2 and out == ""
    obj = json.loads(err)
    assert obj["type"] == "StoreError" and "unknown reader 'NOPE'" in obj["error"]
    code, out, err = _run(capsys, "study", "reader", "add", "Dr Smith", "--db", db, "--json")
    obj = json.loads(err)
    assert code == 2 and "the reader id given is not an accepted pseudonymous id" in obj["error"]
    assert "patient" not in obj["error"] and "'R1'" in obj["error"] and "Smith" not in obj["error"]
    # without --json: the usual text line
    code, out, err = _run(capsys, "study", "reader", "add", "Dr Smith", "--db", db)
    assert code == 2 and err.startswith("error: StoreError: the reader id given is not")


def test_exist_ok_says_kept_not_added(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--exist-ok`` on an existing patient / time point says it was kept, and ``--json`` says
    whether it was created; the kept time point keeps its date."""
    db = str(tmp_path / "e.sqlite")
    code, out, _ = _run(capsys, "study", "patient", "add", "P1", "--exist-ok", "--db", db)
    assert code == 0 and out.strip() == "added patient P1"
    code, out, _ = _run(capsys, "study", "patient", "add", "P1", "--exist-ok", "--db", db)
    assert code == 0 and out.strip() == "patient P1 exists (kept)"
    assert _json(capsys, "study", "patient", "add", "P1", "--exist-ok", "--db", db) == {
        "patient_id": "P1", "created": False}
    assert _json(capsys, "study", "patient", "add", "P2", "--exist-ok", "--db", db)["created"] is True

    argv = ("study", "timepoint", "add", "P1", "BL", "--exist-ok", "--db", db)
    code, out, _ = _run(capsys, *argv, "--date", "2024-01-01")
    assert code == 0 and out.strip() == "added time point BL of P1"
    code, out, _ = _run(capsys, *argv, "--date", "2024-01-01")
    assert code == 0 and out.strip() == "time point BL of P1 exists (kept)"
    # another date is another study: refused, naming both dates (it was kept under the first one)
    code, _, err = _run(capsys, *argv, "--date", "2024-02-02")
    assert code == 2 and "2024-01-01" in err and "2024-02-02" in err and "another time point id" in err
    t = _json(capsys, *argv)
    assert t["created"] is False and t["date"] == "2024-01-01"
    assert _json(capsys, "study", "timepoint", "add", "P1", "FU1", "--exist-ok", "--db", db)["created"] is True
    # an unknown patient is still refused by the store, not reported as kept
    code, _, err = _run(capsys, "study", "timepoint", "add", "P9", "BL", "--exist-ok", "--db", db)
    assert code != 0 and "unknown patient" in err

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

"""Error messages never repeat a name-like reader or patient id (docs/study.md): the add paths
refused without repeating it, but lookups, the import of another reader's document and the
export's patient check did (the tester's name_echo.sh, sr_observer_name.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging._phi import shown_id
from hcc_imaging.cli import main

NAME = "Wörner^Klaus"
PATIENT_NAME = "Müller^José"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    d = str(tmp_path / "s.sqlite")
    assert _run(capsys, "study", "init", "--db", d)[0] == 0
    _run(capsys, "study", "reader", "add", "R1", "--db", d)
    return d


def test_shown_id_repeats_only_pseudonymous_ids() -> None:
    assert shown_id("P001") == "'P001'"
    assert NAME not in shown_id(NAME, "reader id") and "'^'" in shown_id(NAME, "reader id")
    assert "Doe" not in shown_id("Doe, John", "patient id") and "patient id" in shown_id("Doe, John", "patient id")


@pytest.mark.parametrize("argv", [("--reader", NAME), ("--reader", "R1", "--patient", PATIENT_NAME)],
                         ids=["unknown-reader", "unknown-patient"])
def test_unknown_name_like_ids_are_not_repeated(db: str, capsys, argv) -> None:
    code, text = _run(capsys, "study", "read", "list", *argv, "--db", db)
    assert code != 0 and "not repeated here" in text
    assert "Wörner" not in text and "Müller" not in text


def test_import_of_a_document_by_a_named_reader_does_not_repeat_the_name(db: str, capsys, tmp_path: Path) -> None:
    from tests.export.conftest import read_document

    doc = read_document("P001")
    doc["reader_id"] = NAME
    path = tmp_path / "read.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, text = _run(capsys, "study", "import-read", str(path), "--reader", "R1", "--db", db)
    assert code != 0 and "BlindingError" in text and "Wörner" not in text
    assert "reader's pseudonymous code" in text
    # an ordinary id is still named, with the flag to use
    doc["reader_id"] = "R2"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, text = _run(capsys, "study", "import-read", str(path), "--reader", "R1", "--db", db)
    assert code != 0 and "--reader R2" in text

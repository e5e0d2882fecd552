"""A refused id may be a patient's name: the store's pseudonym check and ``assess`` say why without
repeating it (the store echoed ``ZZTESTNAME^SECRET`` on stderr; ``assess`` printed it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging._phi import id_problem, name_like
from hcc_imaging.cli import main
from hcc_imaging.errors import StoreError
from hcc_imaging.study import Store

READ = Path(__file__).resolve().parents[1] / "docs" / "examples" / "read_tace.json"
SECRET = "ZZTESTNAME^SECRET"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(SECRET, "looks like a person's name (contains '^', the DICOM name separator)", id="dicom-pn"),
        pytest.param("Smith, Anna", "looks like a person's name (contains a comma", id="comma"),
        pytest.param("Jane Doe", "contains a space", id="space"),
        pytest.param("", "is empty", id="empty"),
        pytest.param("X" * 65, "is 65 characters long (at most 64)", id="too-long"),
        pytest.param("Jörg", "contains characters other than letters, digits", id="other-characters"),
        pytest.param(42, "is not text (a int)", id="not-text"),
    ],
)
def test_id_problem_says_why_without_the_value(value: object, reason: str) -> None:
    text = id_problem(value)
    assert text.startswith(reason)
    if isinstance(value, str) and value:
        assert value not in text


def test_name_like_only_for_name_forms() -> None:
    assert name_like("HCC-0042") is None and name_like("AB 1234") is None  # an MRN with a space is not a name form
    assert name_like("DOE^JOHN") and name_like("Doe, John")


def test_store_refuses_a_name_without_echoing_it(tmp_path: Path, capsys) -> None:
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(StoreError) as info:
        store.add_patient(SECRET)
    msg = str(info.value)
    assert "ZZTEST" not in msg and "SECRET" not in msg
    assert "patient id given is not an accepted pseudonymous id: it looks like a person's name (contains '^'" in msg
    # the same through the command line, and through a read document imported into the store
    db = str(tmp_path / "s.sqlite")
    assert main(["study", "patient", "add", SECRET, "--db", db]) == 2
    assert main(["study", "reader", "add", "R1", "--db", db]) == 0
    doc = json.loads(READ.read_text())
    doc["patient_id"] = SECRET
    (tmp_path / "phi.json").write_text(json.dumps(doc))
    assert main(["study", "import-read", str(tmp_path / "phi.json"), "--reader", "R1", "--db", db]) == 2
    cap = capsys.readouterr()
    assert "ZZTEST" not in cap.err + cap.out and cap.err.count("looks like a person's name") == 2


@pytest.mark.parametrize("json_out", [False, True], ids=["table", "json"])
def test_assess_refuses_a_name_as_patient_id(tmp_path: Path, capsys, json_out: bool) -> None:
    doc = json.loads(READ.read_text())
    doc["patient_id"] = SECRET
    path = tmp_path / "phi.json"
    path.write_text(json.dumps(doc))
    assert main(["assess", str(path), *(["--json"] if json_out else [])]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "ZZTEST" not in cap.err
    assert cap.err.startswith(f"error: ReadDocumentError: {path}: field 'patient_id' looks like a person's name "
                              "(contains '^'"), cap.err
    # a pseudonymous id is assessed as before
    assert main(["assess", str(READ)]) == 0
    assert "DEMO-TACE-01" in capsys.readouterr().out

"""``hcc-imaging export import-sr`` of a report with nothing it reads (dcmqi's volumetric organ
measurements, an SR of another template): an error that says what the report holds, exit non-zero
(it printed the records, wrote a read document with ``timepoints []`` and exited 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main


@pytest.mark.parametrize("name", ["dcmqi-result-sr.dcm", "sr-tid1500-ct-liver-example.dcm"])
def test_a_dcmqi_volumetric_sr_says_what_it_holds_and_fails(shared_data: Path, tmp_path, capsys, name) -> None:
    sr = shared_data / "dcmqi_liver_ct3slice" / "sr" / name
    out = tmp_path / "read.json"
    for extra in ([], ["--json"]):
        assert main(["export", "import-sr", str(sr), "--out", str(out), *extra]) == 2
        cap = capsys.readouterr()
        assert cap.out == ""
        err = cap.err
        assert err.startswith(f"error: SrImportError: {sr}: no lesion measurement groups"), err
        assert "TID 1500 Imaging Measurement Report, 1 measurement group(s), 6 measurement(s)" in err
        assert "site Liver" in err and "volumetric ROI of segment 1 of SEG" in err
        assert "Attenuation Coefficient (Mean) 37.3289 [hnsf'U]" in err and "Volume 70361.9 mm3" in err
        assert not out.exists()  # no empty read document


def test_an_sr_of_another_template_fails_naming_it(shared_data: Path, capsys) -> None:
    sr = shared_data / "pydicom_testfiles" / "test-SR.dcm"
    assert main(["export", "import-sr", str(sr)]) == 2
    assert "It holds: Diagnosis, 0 measurement group(s), 0 measurement(s)" in capsys.readouterr().err


def test_a_report_with_lesion_groups_still_imports(shared_data: Path, tmp_path, capsys) -> None:
    sr = shared_data / "highdicom_testfiles" / "sr_document_with_multiple_groups.dcm"
    out = tmp_path / "read.json"
    assert main(["export", "import-sr", str(sr), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["timepoints"]


def _with_observer(shared_data: Path, tmp_path: Path, observer: str) -> Path:
    import pydicom

    ds = pydicom.dcmread(shared_data / "highdicom_testfiles" / "sr_document_with_multiple_groups.dcm")

    def walk(seq) -> None:  # type: ignore[no-untyped-def]
        for item in seq:
            if "PersonName" in item:
                item.PersonName = observer
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(ds.ContentSequence)
    path = tmp_path / "observer.dcm"
    ds.save_as(path)
    return path


def test_an_observer_name_says_pass_reader_not_add_it(shared_data: Path, tmp_path: Path, capsys) -> None:
    """An SR whose Person Observer is a person's name: the message does not repeat the name and
    says to pass ``--reader CODE`` (it said "add it first", which does not fit a name); with
    ``--reader`` the read is stored under that reader."""
    sr = _with_observer(shared_data, tmp_path, "Wörner^Klaus")
    db = str(tmp_path / "s.sqlite")
    assert main(["study", "reader", "add", "R1", "--db", db]) == 0
    capsys.readouterr()
    assert main(["export", "import-sr", str(sr), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "SrImportError" in err and str(sr) in err and "Person Observer looks like a person's name" in err
    assert "--reader CODE" in err and "add it first" not in err and "Wörner" not in err
    assert main(["export", "import-sr", str(sr), "--db", db, "--reader", "R1"]) == 0
    capsys.readouterr()
    assert main(["study", "read", "list", "--reader", "R1", "--db", db, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_an_unregistered_observer_code_names_both_ways(shared_data: Path, tmp_path: Path, capsys) -> None:
    sr = _with_observer(shared_data, tmp_path, "R7")
    db = str(tmp_path / "s.sqlite")
    assert main(["study", "init", "--db", db]) == 0
    capsys.readouterr()
    assert main(["export", "import-sr", str(sr), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "Person Observer 'R7' is no registered reader" in err
    assert "study reader add R7" in err and "--reader CODE" in err

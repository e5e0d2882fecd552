"""``--assessment`` files are checked against the read they go with (patient, reader, time points),
and every error names the file (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hcc_imaging.cli import main
from hcc_imaging.export.model import ExportInputError, as_export_read


def _read(patient: str, bl: float, fu: float, reader: str = "R1", fu_id: str = "FU1") -> dict:
    return {"schema_version": "1.0", "patient_id": patient, "reader_id": reader, "timepoints": [
        {"id": "BL", "date": "2024-01-10", "lesions": [{"lesion_id": "L1", "role": "target", "longest_diameter_mm": bl}]},
        {"id": fu_id, "date": "2024-03-10", "lesions": [{"lesion_id": "L1", "role": "target", "longest_diameter_mm": fu}]},
    ]}


@pytest.fixture
def swap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, doc in (("a", _read("PAT-A", 50, 20)), ("b", _read("PAT-B", 30, 45)),
                      ("a_r2", _read("PAT-A", 50, 20, reader="R2")), ("a_tp", _read("PAT-A", 50, 20, fu_id="FU9"))):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(doc))
        out[name] = p
    for name in ("a", "b"):
        assert main(["assess", str(out[name]), "--criteria", "recist1.1", "--json"]) == 0
        p = tmp_path / f"{name}_assess.json"
        p.write_text(capsys.readouterr().out)
        out[f"{name}_assess"] = p
    capsys.readouterr()
    return out


@pytest.mark.parametrize("kind", ["sdtm", "csv"])
def test_swapped_assessments_are_refused(tmp_path: Path, swap, capsys, kind: str) -> None:
    rc = main(["export", kind, str(swap["a"]), str(swap["b"]), "--assessment", str(swap["b_assess"]),
               "--assessment", str(swap["a_assess"]), "--out", str(tmp_path / "X")])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(swap["b_assess"]) in err and "'PAT-B'" in err and "'PAT-A'" in err
    assert not (tmp_path / "X").exists()


def test_matching_assessments_give_each_patient_its_own_response(tmp_path: Path, swap, capsys) -> None:
    assert main(["export", "sdtm", str(swap["a"]), str(swap["b"]), "--assessment", str(swap["a_assess"]),
                 "--assessment", str(swap["b_assess"]), "--out", str(tmp_path / "X")]) == 0
    rs = pd.read_csv(tmp_path / "X" / "rs.csv")
    ovr = rs[rs.RSTESTCD == "OVRLRESP"].set_index("USUBJID").RSORRES.to_dict()
    assert ovr == {"HCCIMG-PAT-A": "PR", "HCCIMG-PAT-B": "PD"}


def test_another_readers_or_time_points_assessment_is_refused(tmp_path: Path, swap, capsys) -> None:
    assert main(["export", "csv", str(swap["a_r2"]), "--assessment", str(swap["a_assess"]), "--out", str(tmp_path / "X")]) == 2
    err = capsys.readouterr().err
    assert str(swap["a_assess"]) in err and "'R1'" in err and "'R2'" in err
    assert main(["export", "csv", str(swap["a_tp"]), "--assessment", str(swap["a_assess"]), "--out", str(tmp_path / "X")]) == 2
    err = capsys.readouterr().err
    assert str(swap["a_assess"]) in err and "'FU1'" in err
    a = json.loads(swap["a_assess"].read_text())
    with pytest.raises(ExportInputError, match="patient 'PAT-A'.*patient 'PAT-B'"):
        as_export_read(json.loads(swap["b"].read_text()), a)


def test_unreadable_assessment_names_the_file(tmp_path: Path, swap, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{bad")
    noresults = tmp_path / "noresults.json"
    noresults.write_text('{"patient_id": "PAT-A"}')
    for f in (bad, noresults):
        assert main(["export", "csv", str(swap["a"]), "--assessment", str(f), "--out", str(tmp_path / "X")]) == 2
        err = capsys.readouterr().err
        assert f"--assessment {f}" in err and "Traceback" not in err

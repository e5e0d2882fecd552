"""``export report --images``: another patient's images are refused, as by ``export sr``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main

from .conftest import ASSESSMENT, read_document, write_ct_series


def test_report_refuses_another_patients_images_unless_linked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`export report READ --images ...` drew another patient's key images into the read's report
    (exit 0) where `export sr` refused them; refused now, naming both patients; `--link-patient`
    says the read's id is a pseudonym of the images' patient."""
    bl = write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1).files[0].parent
    fu = write_ct_series(tmp_path / "ct_fu1", study_date="20240318", seed=2).files[0].parent
    doc = read_document()
    doc["patient_id"] = "SOMEONE-ELSE"
    read = tmp_path / "other.json"
    read.write_text(json.dumps(doc))
    a = tmp_path / "assess.json"
    a.write_text(json.dumps(ASSESSMENT | {"patient_id": "SOMEONE-ELSE"}))
    out = tmp_path / "r.html"
    report = ["export", "report", str(read), "--out", str(out), "--assessment", str(a),
              "--images", f"BL={bl}", "--images", f"FU1={fu}"]
    assert main(report) == 2
    err = capsys.readouterr().err
    assert "the read is of patient 'SOMEONE-ELSE', but --images BL is of patient" in err and "--link-patient" in err
    assert not out.exists()
    assert main([*report, "--link-patient"]) == 0
    assert out.is_file()

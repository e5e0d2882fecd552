"""Index and loader on damaged or mixed archives: two patients under one SeriesInstanceUID, unreadable
end slices, damaged / encrypted zips, broken symbolic links, one-frame enhanced objects."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from hcc_imaging.cli import main
from hcc_imaging.io import index_archive, load_series
from hcc_imaging.io.errors import SeriesSelectionError

from ._synth import write_series


def _values(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 100, (n, 8, 8)).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# 1. Two patients' files under one SeriesInstanceUID
# ---------------------------------------------------------------------------------------------
def _two_patients_one_series_uid(root: Path) -> str:
    uid = generate_uid()
    write_series(root / "PA", _values(5), origin=(0, 0, 0), spacing=(2.0, 0.7, 0.8), series_uid=uid,
                 extra={"PatientID": "PA"})
    write_series(root / "PB", _values(5, 1), origin=(0, 0, 10), spacing=(2.0, 0.7, 0.8), series_uid=uid,
                 extra={"PatientID": "PB"})
    return uid


def test_two_patients_sharing_a_series_uid_are_two_series_with_a_problem(tmp_path: Path) -> None:
    uid = _two_patients_one_series_uid(tmp_path)
    idx = index_archive(tmp_path)
    assert [p.patient_id for p in idx.patients] == ["PA", "PB"]
    assert [s.n_instances for s in idx.series] == [5, 5]
    for s in idx.series:
        assert s.series_instance_uid == uid
        assert any(f"SeriesInstanceUID {uid} is carried by the files of 2 different patients" in p
                   and "patient PA" in p and "patient PB" in p for p in s.problems)
        # each loads as its own patient's 5 slices, never 10
        v = load_series(s)
        assert v.shape == (5, 8, 8) and v.meta["patient_id"] == s.patient_id
    with pytest.raises(SeriesSelectionError, match="2 different patients"):
        idx.find_series(uid)


def test_load_series_refuses_two_patients_under_one_series_uid(tmp_path: Path) -> None:
    uid = _two_patients_one_series_uid(tmp_path)
    for source in (tmp_path, sorted(tmp_path.rglob("*.dcm"))):
        with pytest.raises(SeriesSelectionError, match=r"2 different patients/studies.*never\s+stacked") as ei:
            load_series(source)
        assert "patient PA: 5 file(s)" in str(ei.value) and "patient PB: 5 file(s)" in str(ei.value)
        assert "Synthetic" not in str(ei.value)  # never a patient name
    with pytest.raises(SeriesSelectionError, match="2 different patients"):
        load_series(tmp_path, series_uid=uid)
    assert load_series(tmp_path / "PB").meta["patient_id"] == "PB"


def test_cli_load_refuses_two_patients_under_one_series_uid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _two_patients_one_series_uid(tmp_path)
    assert main(["load", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "2 different patients" in err and "Traceback" not in err

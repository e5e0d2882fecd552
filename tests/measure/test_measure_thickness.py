"""RECIST measurability takes the DICOM SliceThickness, not the slice spacing (tester finding
t15b, 2026-12-06): ``load_series`` never set ``meta["slice_thickness_mm"]``, so an 8 mm thick
reconstruction every 4 mm measured a 13.9 mm lesion "measurable" (RECIST: >= 2 x 8 = 16 mm), and a
2 mm thick one every 6 mm an 11.3 mm lesion "non-measurable" (>= 10 mm); the batch's lesions.csv
said 4.0 where its read document said 8.0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hcc_imaging.cli import main
from hcc_imaging.io import load_series
from hcc_imaging.io._thickness import series_slice_thickness
from hcc_imaging.io.masks import save_mask
from hcc_imaging.io.write import write_series
from hcc_imaging.volume import LabelVolume, Volume

AXIAL = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)


def _case(root: Path, thick_mm: float, step_mm: float, semi_x_mm: float) -> Path:
    """A CT of an ellipsoid lesion (semi-axes x, y, z = semi_x, 5, 14 mm: LD about 2 x semi_x) written
    with SliceThickness ``thick_mm`` every ``step_mm``; its NIfTI mask beside it."""
    shape = (int(80 / step_mm) + 2, 60, 60)
    sp = (step_mm, 0.7, 0.7)
    origin = (-20.65, -20.65, -(shape[0] - 1) / 2 * step_mm)
    ct = Volume.create(np.full(shape, -100, np.int16), spacing=sp, origin=origin, direction=AXIAL)
    k, j, i = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    p = ct.geometry.index_to_lps(np.stack([k, j, i], -1).astype(float))
    inside = (p[..., 0] / semi_x_mm) ** 2 + (p[..., 1] / 5.0) ** 2 + (p[..., 2] / 14.0) ** 2 <= 1
    root.mkdir(parents=True)
    write_series(ct.with_array(np.where(inside, 40, -100).astype(np.int16)), root / "dcm", patient_id="P1",
                 study_uid="1.2.3.17.1", series_uid="1.2.3.18.1", series_number=1, description="ct",
                 slice_thickness_mm=thick_mm)
    save_mask(LabelVolume.create(inside.astype(np.uint8), spacing=sp, origin=origin, direction=AXIAL),
              root / "mask.nii.gz")
    return root


def _measure(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    assert main(["measure", str(root / "dcm"), "--masks", str(root / "mask.nii.gz"), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)[0]


def test_loader_sets_the_dicom_thickness(tmp_path: Path) -> None:
    root = _case(tmp_path / "a", 8.0, 4.0, 7.0)
    vol = load_series(root / "dcm")
    assert vol.spacing[0] == pytest.approx(4.0)
    assert vol.meta["slice_thickness_mm"] == pytest.approx(8.0)
    assert vol.meta["slice_thickness_source"] == "SliceThickness"


def test_thickness_rule() -> None:
    assert series_slice_thickness([2.5, 2.5], 2.0, "1.2") == (2.5, "SliceThickness", None)
    t, src, problem = series_slice_thickness([5.0, 7.5, None], 5.0, "1.2")
    assert t == 7.5 and "largest" in src and problem is not None and "1.2" in problem and "5 to 7.5" in problem
    t, src, problem = series_slice_thickness([None, 0.0], 3.0, "1.2")
    assert t == 3.0 and "slice spacing" in src and problem is None


def test_measure_cli_uses_the_thickness_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 8 mm thick every 4 mm: LD 13.9 < 2 x 8 mm -> non-measurable (was "measurable" with the 4 mm spacing)
    thick = _measure(_case(tmp_path / "a", 8.0, 4.0, 7.0), capsys)
    assert 12.0 < thick["longest_diameter_mm"] < 16.0
    assert thick["slice_thickness_mm"] == pytest.approx(8.0)
    assert thick["recist_measurability"] == "non_measurable"
    # 2 mm thick every 6 mm: LD 11.3 >= 10 mm -> measurable (was "non-measurable": 2 x 6 = 12 mm)
    thin = _measure(_case(tmp_path / "b", 2.0, 6.0, 5.6), capsys)
    assert 10.0 < thin["longest_diameter_mm"] < 12.0
    assert thin["slice_thickness_mm"] == pytest.approx(2.0)
    assert thin["recist_measurability"] == "measurable"


def test_measure_cli_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _case(tmp_path / "a", 8.0, 4.0, 7.0)
    m = _measure(root, capsys, "--slice-thickness-mm", "3")
    assert m["slice_thickness_mm"] == 3.0 and m["recist_measurability"] == "measurable"
    assert main(["measure", str(root / "dcm"), "--masks", str(root / "mask.nii.gz"), "--slice-thickness-mm", "0"]) == 2
    assert "--slice-thickness-mm 0" in capsys.readouterr().err


def test_batch_rows_and_record_agree(tmp_path: Path) -> None:
    from hcc_imaging.batch import PipelineOptions, discover_studies, run_study
    from hcc_imaging.phantoms import write_longitudinal

    from ..batch.conftest import SMALL

    root = tmp_path / "arch"
    write_longitudinal(root / "P1", seed=1, timepoints=("baseline",), patient_id="P1", **SMALL)  # type: ignore[arg-type]
    files = [f for f in (root / "P1" / "baseline").rglob("*.dcm") if "mask" not in str(f)]
    n = 0
    for f in files:  # a 9 mm thick reconstruction every 4.5 mm
        ds = pydicom.dcmread(f)
        if "SliceThickness" in ds and "PixelData" in ds and ds.Modality == "CT":
            ds.SliceThickness = "9"
            ds.save_as(f)
            n += 1
    assert n >= SMALL["shape"][0]  # type: ignore[index]
    opts = PipelineOptions()
    (task,) = discover_studies(root, opts)[0]
    rec = run_study(task, opts)
    assert rec["ok"], rec
    assert rec["slice_thickness_mm"] == pytest.approx(9.0)
    assert rec["lesions"] and all(les["slice_thickness_mm"] == pytest.approx(9.0) for les in rec["lesions"])

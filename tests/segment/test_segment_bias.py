"""``segment.bias_corrected``: N4 bias-field correction of an MR series before a click (session of 2026-12-07, eighth).

A known smooth field multiplied into an MR-like body phantom is taken out to a few percent; the robustness sweep's
phantoms as MR with a +-15 % ramp, which break or refuse clicks, are segmented after the correction as without the
ramp; CT and bad input are refused with messages that name the series; ``segment --bias-correct`` on an MR DICOM
series.  docs/validation.md section 2.1, "Grids and MR scalings outside the sweep".
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import GeometryMismatchError
from hcc_imaging.segment import SegmentationError, bias_corrected, segment_lesion
from hcc_imaging.volume import LabelVolume, Modality

from ._phantom import benchmark_module, dice, field_spread, mr_body, write_mr_series


def test_a_known_field_is_taken_out() -> None:
    vol, true = mr_body()
    out = bias_corrected(vol)
    assert field_spread(np.asarray(vol.array), true) > 0.3  # 0.320: the field put in
    assert field_spread(np.asarray(out.array), true) < 0.08  # measured 0.040
    # the same grid, identifiers and phase; float32; the input untouched; the provenance
    assert out.geometry.equals(vol.geometry) and out.modality == Modality.MR
    assert out.series_description == vol.series_description and out.series_instance_uid == vol.series_instance_uid
    assert out.array.dtype == np.float32 and not np.shares_memory(out.array, vol.array)
    meta = out.meta["bias_field"]
    assert meta["min_span_mm"] == 100.0 and meta["mask"] == "foreground (Otsu)"
    assert meta["control_points_xyz"] == [6, 5, 4]  # one span per 100 mm: 360 x 288 x 120 mm -> 3, 2, 1 spans (+ 3)
    lo, hi = meta["field_range"]
    assert lo < 0.95 < 1.05 < hi  # the field, scaled to a median of 1 in the body, spans the ramp
    # the values keep their range: the liver reads ~1600 in the middle of the image
    mid = np.asarray(out.array)[:, 70:90, 90:110]
    assert 1450 < float(np.median(mid[true[:, 70:90, 90:110] > 1500])) < 1750


def test_a_given_mask_is_used_and_checked() -> None:
    vol, true = mr_body()
    body = LabelVolume.like(vol, (true > 100).astype(np.uint8))
    out = bias_corrected(vol, mask=body)
    assert out.meta["bias_field"]["mask"] == "given"
    assert field_spread(np.asarray(out.array), true) < 0.08
    with pytest.raises(GeometryMismatchError, match="does not match series 'T1 body'"):
        bias_corrected(vol, mask=np.ones((2, 2, 2), bool))
    with pytest.raises(SegmentationError, match="the mask holds 8 voxels of series 'T1 body'"):
        tiny = np.zeros(vol.shape, bool)
        tiny[0, :2, :4] = True
        bias_corrected(vol, mask=tiny)


def test_ct_and_bad_input_are_refused() -> None:
    vol, _ = mr_body()
    ct = dataclasses.replace(vol, modality=Modality.CT, series_description="CT portal")
    with pytest.raises(SegmentationError, match="series 'CT portal' is CT.*for MR series"):
        bias_corrected(ct)
    bad = np.asarray(vol.array).copy()
    bad[3, 4, 5] = np.nan
    with pytest.raises(SegmentationError, match="non-finite values"):
        bias_corrected(vol.with_array(bad))
    with pytest.raises(SegmentationError, match="no positive value"):
        bias_corrected(vol.with_array(-np.abs(np.asarray(vol.array)) - 1.0))


# the robustness sweep's phantoms (2.5 x 0.703 mm) as MR 0-4095 (HU x 10 + 1000) times a +-15 % ramp across the
# columns: (diameter mm, lesion HU, noise HU) -> the Dice without the ramp (the ramp: 0.772, refused)
_RAMPED = {(20.0, 20.0, 10.0): 0.989, (20.0, 40.0, 25.0): 0.920}


@pytest.mark.parametrize("case", sorted(_RAMPED), ids=lambda c: f"{c[0]:g}mm-{c[1]:g}HU-sd{c[2]:g}")
def test_a_click_on_a_ramped_mr_phantom_as_without_the_ramp(case: tuple[float, float, float]) -> None:
    sr = benchmark_module("sweep_segment_robustness")
    full = ((2.5, 0.703, 0.703), *case)
    ph = sr.phantom(sr.combos().index(full), full, 0.6, 0.0)
    truth = np.asarray(ph.truth.array) != 0
    mr = np.asarray(ph.volume.array, np.float64) * 10 + 1000
    ramp = 1 + 0.15 * np.linspace(-1, 1, mr.shape[2])[None, None, :]
    flat = dataclasses.replace(ph.volume, array=mr.astype(np.float32), modality=Modality.MR)
    ramped = flat.with_array((mr * ramp).astype(np.float32))
    d_flat = dice(segment_lesion(flat, seed_index=ph.seed_index).labels.array, truth)
    assert d_flat == pytest.approx(_RAMPED[case], abs=0.002)
    try:
        d_ramped = dice(segment_lesion(ramped, seed_index=ph.seed_index).labels.array, truth)
    except SegmentationError:
        d_ramped = None  # (20 mm, 40 HU, sigma 25: refused with the ramp)
    assert d_ramped is None or d_ramped < d_flat - 0.2  # 0.772 against 0.989
    d_corr = dice(segment_lesion(bias_corrected(ramped), seed_index=ph.seed_index).labels.array, truth)
    assert d_corr >= d_flat - 0.01  # measured 0.989 / 0.918


def test_cli_bias_correct(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hcc_imaging.cli import main

    series = write_mr_series(mr_body()[0], tmp_path / "mr")
    out = tmp_path / "lesion.nii.gz"
    # the lesion's centre: slice 12, row 80 - 10 / 1.8, column 100 - 60 / 1.8
    rc = main(["segment", str(series), "--seed", "12,74,67", "--bias-correct", "--out", str(out), "--json"])
    assert rc == 0
    record = json.loads(capsys.readouterr().out)
    (field,) = record["bias_field"].values()
    assert field["mask"] == "foreground (Otsu)" and field["iterations_run"] >= 1
    vol, true = mr_body()
    lesion = np.abs(true - 1200) < 150
    z, y, x = np.mgrid[:24, :160, :200]
    lesion &= (y - 80 + 10 / 1.8) ** 2 + (x - 100 + 60 / 1.8) ** 2 < (25 / 1.8) ** 2
    from hcc_imaging.io.masks import load_mask

    assert dice(np.asarray(load_mask(out).array) != 0, lesion) > 0.8


def test_cli_bias_correct_refuses_ct(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hcc_imaging.cli import main
    from hcc_imaging.io.write import write_series

    vol, _ = mr_body()
    ct = dataclasses.replace(vol.with_array(np.rint(np.asarray(vol.array) - 1000).astype(np.int16)), modality=Modality.CT)
    series = tmp_path / "ct"
    write_series(ct, series, patient_id="BIAS-2", study_uid="1.2.826.0.1.3680043.8.498.3",
                 series_uid="1.2.826.0.1.3680043.8.498.4", series_number=1, description="CT")
    rc = main(["segment", str(series), "--seed", "12,74,67", "--bias-correct", "--out", str(tmp_path / "m.nii.gz")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--bias-correct is for MR series" in err and "is CT" in err
    assert not (tmp_path / "m.nii.gz").exists()


def test_cli_modality_of_an_image_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NIfTI image does not say its modality and is read as CT: ``--bias-correct`` on it is refused with the hint,
    and ``--modality MR`` makes it MR; ``--modality`` on a DICOM series is refused (the series says its own)."""
    import SimpleITK as sitk

    from hcc_imaging.cli import main

    vol, _ = mr_body()
    image = tmp_path / "t1.nii.gz"
    sitk.WriteImage(vol.to_sitk(), str(image))
    out = tmp_path / "m.nii.gz"
    assert main(["segment", str(image), "--seed", "12,74,67", "--bias-correct", "--out", str(out)]) == 2
    assert "add --modality MR" in capsys.readouterr().err
    rc = main(["segment", str(image), "--seed", "12,74,67", "--modality", "MR", "--bias-correct", "--out", str(out),
               "--json"])
    assert rc == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record["bias_field"]) == {"unknown"} and out.exists()
    series = write_mr_series(vol, tmp_path / "mr")
    assert main(["segment", str(series), "--seed", "12,74,67", "--modality", "MR", "--out", str(out)]) == 2
    assert "whose series say their own modality" in capsys.readouterr().err

"""A SEG or RTSTRUCT drawn on a series with a missing slice, measured on the series resampled with
``on_irregular="resample"`` (tester findings t17 / t17b, 2026-12-06): the image's missing slice is
interpolated but the mask had nothing there, so the lesion became two "fragments" one slice apart
and the split-lesion rule summed them (LD 46.3 mm for a 24.0 mm lesion).  The mask's interpolated
slices are now filled from its drawn neighbours (``io._mask_gaps``) and a note names them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hcc_imaging.cli import main
from hcc_imaging.io import load_series
from hcc_imaging.io.masks import load_mask, save_mask
from hcc_imaging.io.write import write_series
from hcc_imaging.measure import measure_labels
from hcc_imaging.phantoms import Ellipsoid
from hcc_imaging.volume import LabelVolume, Volume

from ._rt import ellipse_contour, write_rtstruct

AXIAL = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)
SP, SHAPE, ORIGIN = (2.5, 0.7, 0.7), (20, 80, 80), (-27.65, -27.65, -23.75)
LESION = Ellipsoid.xyz((3.1, 2.2, 1.3), (12.0, 7.0, 9.0), rot_z_deg=60.0)


@pytest.fixture(scope="module")
def gap_case(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The series with the slice through the lesion's centre removed, a SEG and an RTSTRUCT drawn on
    the slices left, and the full-grid truth mask."""
    import highdicom as hd
    from highdicom.seg import SegmentAlgorithmTypeValues, SegmentationTypeValues, SegmentDescription, Segmentation
    from pydicom.sr.codedict import codes

    d = tmp_path_factory.mktemp("gap")
    ct = Volume.create(np.full(SHAPE, -100, np.int16), spacing=SP, origin=ORIGIN, direction=AXIAL)
    k, j, i = np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij")
    inside = LESION.inside(ct.geometry.index_to_lps(np.stack([k, j, i], -1).astype(float)))
    write_series(ct.with_array(np.where(inside, 40, -100).astype(np.int16)), d / "dcm", patient_id="P1",
                 study_uid="1.2.3.40.1", series_uid="1.2.3.40.2", series_number=1, description="ct")
    files = sorted((d / "dcm").iterdir())
    dss = [pydicom.dcmread(f) for f in files]
    zs = np.array([float(ds.ImagePositionPatient[2]) for ds in dss])
    gap = int(np.argmin(np.abs(zs - 1.25)))
    files[gap].unlink()
    keep = [ds for n, ds in enumerate(dss) if n != gap]
    pix = np.stack([inside[int(round((float(ds.ImagePositionPatient[2]) - ORIGIN[2]) / SP[0]))] for ds in keep]).astype(np.uint8)
    desc = [SegmentDescription(segment_number=1, segment_label="L1",
                               segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                               segmented_property_type=codes.SCT.Neoplasm, algorithm_type=SegmentAlgorithmTypeValues.MANUAL)]
    Segmentation(source_images=keep, pixel_array=pix, segmentation_type=SegmentationTypeValues.BINARY,
                 segment_descriptions=desc, series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(),
                 instance_number=1, manufacturer="t", manufacturer_model_name="t", software_versions="1",
                 device_serial_number="1", omit_empty_frames=True).save_as(d / "seg.dcm")
    cs = [c for ds in keep if (c := ellipse_contour(LESION, float(ds.ImagePositionPatient[2]))) is not None]
    write_rtstruct(d / "rt.dcm", keep[0], [("L1", cs)])
    truth = LabelVolume.create(inside.astype(np.uint8), spacing=SP, origin=ORIGIN, direction=AXIAL)
    save_mask(truth, d / "truth.nii.gz")
    return {"dir": d, "gap": gap}


@pytest.mark.parametrize("mask", ["seg.dcm", "rt.dcm"])
def test_mask_filled_on_the_interpolated_slice(gap_case: dict, mask: str, caplog: pytest.LogCaptureFixture) -> None:
    d, gap = gap_case["dir"], gap_case["gap"]
    ref = load_series(d / "dcm", on_irregular="resample")
    assert ref.meta["interpolated_slices"] == [gap]
    truth = load_mask(d / "truth.nii.gz", ref)
    with caplog.at_level(logging.WARNING):
        lv = load_mask(d / mask, ref)
    assert lv.meta["filled_slices"] == {"L1": [gap]}
    assert f"slice(s) {gap}" in caplog.text and "shape-based" in caplog.text
    got, want = np.asarray(lv.array[gap]) != 0, np.asarray(truth.array[gap]) != 0
    # the filled section is close to the true one (Dice of the slice), not empty
    assert 2 * (got & want).sum() / (got.sum() + want.sum()) > 0.9
    (m,) = measure_labels(lv, image=ref)
    (t,) = measure_labels(truth, image=ref)
    assert m.n_fragments in (None, 1)
    assert m.longest_diameter_mm == pytest.approx(t.longest_diameter_mm, abs=1.0)  # was 46.3 vs 24.0 summed


def test_cli_notes_the_filled_slice(gap_case: dict, capsys: pytest.CaptureFixture[str]) -> None:
    d, gap = gap_case["dir"], gap_case["gap"]
    assert main(["measure", str(d / "dcm"), "--masks", str(d / "seg.dcm"), "--on-irregular", "resample", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["longest_diameter_mm"] < 26.0
    assert any(f"slice(s) {gap} " in w and "interpolated" in w for w in row["mask_problems"])


def test_a_mask_drawn_on_the_resampled_grid_is_kept(gap_case: dict) -> None:
    """A mask with voxels on the interpolated slice (drawn on the resampled grid) is not touched."""
    d = gap_case["dir"]
    ref = load_series(d / "dcm", on_irregular="resample")
    truth = load_mask(d / "truth.nii.gz", ref)
    assert "filled_slices" not in truth.meta


def test_batch_reads_the_seg_filled_and_notes_it(gap_case: dict) -> None:
    """The batch's SEG reader (``read_seg``) fills the slice too, and its ``mask_problems`` names it."""
    from hcc_imaging.batch.lesions import StudyLesions, mask_problems
    from hcc_imaging.export.seg import read_seg

    d, gap = gap_case["dir"], gap_case["gap"]
    ref = load_series(d / "dcm", on_irregular="resample")
    lesions = read_seg(d / "seg.dcm", reference=ref).lesions
    assert np.any(np.asarray(lesions.array[gap]) != 0)
    (m,) = measure_labels(lesions, image=ref)
    assert m.longest_diameter_mm < 26.0
    notes = mask_problems(StudyLesions(lesions, None, "DICOM SEG"), ref)
    assert list(notes) == ["L1"] and f"slice(s) {gap} of series" in notes["L1"][0]

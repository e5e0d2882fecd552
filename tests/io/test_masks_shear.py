"""A NIfTI mask on a gantry-tilted (sheared) grid is placed by its sform, as nibabel reads it
(tester finding t5, 2026-12-06: read by the qform, which cannot hold a shear: 2.8 mm off and
+4.7 % volume on a 15 degree tilt, with a warning giving one "voxel 0" position for both affines)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from hcc_imaging.io import load_series
from hcc_imaging.io.masks import MaskFormatError, load_mask
from hcc_imaging.io.write import write_series
from hcc_imaging.phantoms import Ellipsoid
from hcc_imaging.volume import Volume

AXIAL = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)
LESION = Ellipsoid.xyz((3.0, 2.0, 1.0), (12.0, 7.0, 9.0), rot_z_deg=60.0)


@pytest.fixture(scope="module")
def tilted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CT series tilted 15 degrees (axial images stepping along a tilted vector) and its mask as a
    sheared NIfTI (sform and qform set from the sheared affine, as a converter writes it)."""
    d = tmp_path_factory.mktemp("tilt")
    tilt = math.radians(15)
    sp, shape = (2.5, 0.7, 0.7), (20, 80, 80)
    origin = np.array((-27.65, -27.65, -23.75))
    step = np.array([0.0, 2.5 * math.tan(tilt), 2.5])
    k, j, i = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    pts = origin + k[..., None] * step + j[..., None] * np.array([0, 0.7, 0]) + i[..., None] * np.array([0.7, 0, 0])
    arr = LESION.inside(pts).astype(np.uint8)
    ct = Volume.create(np.where(arr > 0, 40, -100).astype(np.int16), spacing=sp, origin=tuple(origin), direction=AXIAL)
    write_series(ct, d / "dcm", patient_id="P1", study_uid="1.2.3.9.1", series_uid="1.2.3.9.2", series_number=1,
                 description="ct")
    for f in sorted((d / "dcm").iterdir()):
        ds = pydicom.dcmread(f)
        kk = round((float(ds.ImagePositionPatient[2]) - origin[2]) / 2.5)
        ds.ImagePositionPatient = [f"{v:.4f}" for v in origin + kk * step]
        ds.GantryDetectorTilt = "15.00"
        ds.save_as(f)
    a = np.eye(4)
    a[:3, 0], a[:3, 1], a[:3, 2], a[:3, 3] = [0.7, 0, 0], [0, 0.7, 0], step, origin
    a_ras = np.diag([-1, -1, 1, 1]) @ a
    im = nib.Nifti1Image(np.transpose(arr, (2, 1, 0)), a_ras)
    im.set_sform(a_ras, 1)
    im.set_qform(a_ras, 1)
    nib.save(im, d / "mask.nii.gz")
    return d


def test_sheared_nifti_placed_by_its_sform(tilted: Path, caplog: pytest.LogCaptureFixture) -> None:
    ref = load_series(tilted / "dcm", on_tilt="resample")
    with caplog.at_level(logging.INFO, logger="hcc_imaging.io.masks"):
        lv = load_mask(tilted / "mask.nii.gz", ref)
    assert "sheared sform (15.0 degrees" in caplog.text
    k, j, i = np.meshgrid(*[np.arange(s) for s in ref.shape], indexing="ij")
    truth = LESION.inside(ref.geometry.index_to_lps(np.stack([k, j, i], -1).astype(float)))
    got = np.asarray(lv.array) != 0
    dice = 2 * (got & truth).sum() / (got.sum() + truth.sum())
    assert dice > 0.93  # nearest neighbour twice (tilted grid -> mask -> image)
    c_got = ref.geometry.index_to_lps(np.argwhere(got).mean(axis=0))
    c_true = ref.geometry.index_to_lps(np.argwhere(truth).mean(axis=0))
    assert np.linalg.norm(c_got - c_true) < 0.5  # by the qform: 2.8 mm off
    assert got.sum() == pytest.approx(truth.sum(), rel=0.03)  # by the qform: +4.7 %


def test_sheared_nifti_without_reference_refused(tilted: Path) -> None:
    with pytest.raises(MaskFormatError, match=r"mask.nii.gz: its sform is sheared \(15.0 degrees"):
        load_mask(tilted / "mask.nii.gz")


def test_two_affines_warning_names_the_farthest_corner(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An sform rotated about voxel 0 against the qform: voxel 0 is where they agree, so the warning
    gives the corner where they differ most (it printed voxel 0 twice, the same position)."""
    data = np.zeros((20, 20, 10), np.uint8)
    data[5:8, 5:8, 3:5] = 1
    q = np.diag([1.0, 1.0, 2.0, 1.0])
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    rot = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(data, q)
    img.set_qform(q, code=1)
    img.set_sform(rot @ q, code=1)
    nib.save(img, tmp_path / "rot.nii.gz")
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.masks"):
        load_mask(tmp_path / "rot.nii.gz")
    assert "sform and qform place it differently" in caplog.text
    assert "voxel (0, 0, 0)" not in caplog.text and "voxel (19, 19, " in caplog.text


def _truth_on(ref: Volume) -> np.ndarray:
    k, j, i = np.meshgrid(*[np.arange(s) for s in ref.shape], indexing="ij")
    return LESION.inside(ref.geometry.index_to_lps(np.stack([k, j, i], -1).astype(float)))


@pytest.fixture(scope="module")
def tilted_seg(tilted: Path) -> Path:
    """A DICOM SEG drawn on the tilted slices (highdicom, frames on the source images)."""
    import highdicom as hd
    from highdicom.seg import SegmentAlgorithmTypeValues, SegmentationTypeValues, SegmentDescription, Segmentation
    from pydicom.sr.codedict import codes

    dss = [pydicom.dcmread(f) for f in sorted((tilted / "dcm").iterdir())]
    j, i = np.meshgrid(np.arange(80), np.arange(80), indexing="ij")
    pix = np.stack([LESION.inside(np.array([float(v) for v in ds.ImagePositionPatient]) + j[..., None] * np.array([0, 0.7, 0])
                                  + i[..., None] * np.array([0.7, 0, 0])) for ds in dss]).astype(np.uint8)
    desc = [SegmentDescription(segment_number=1, segment_label="L1",
                               segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
                               segmented_property_type=codes.SCT.Neoplasm, algorithm_type=SegmentAlgorithmTypeValues.MANUAL)]
    Segmentation(source_images=dss, pixel_array=pix, segmentation_type=SegmentationTypeValues.BINARY,
                 segment_descriptions=desc, series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(),
                 instance_number=1, manufacturer="t", manufacturer_model_name="t", software_versions="1",
                 device_serial_number="1", omit_empty_frames=True).save_as(tilted / "seg.dcm")
    return tilted / "seg.dcm"


def test_seg_on_a_tilted_series_placed_on_the_image(tilted: Path, tilted_seg: Path) -> None:
    """Tester finding t18: refused as "frames on scattered oblique planes"; now placed as an RTSTRUCT is."""
    from hcc_imaging.export.seg import read_seg

    ref = load_series(tilted / "dcm", on_tilt="resample")
    truth = _truth_on(ref)
    for lv in (load_mask(tilted_seg, ref), read_seg(tilted_seg, reference=ref).lesions):
        got = np.asarray(lv.array) != 0
        assert 2 * (got & truth).sum() / (got.sum() + truth.sum()) > 0.93
        c_got = ref.geometry.index_to_lps(np.argwhere(got).mean(axis=0))
        c_true = ref.geometry.index_to_lps(np.argwhere(truth).mean(axis=0))
        assert np.linalg.norm(c_got - c_true) < 0.5


def test_seg_on_a_tilted_series_without_reference_says_why(tilted_seg: Path) -> None:
    from hcc_imaging.errors import UnsupportedDicomError

    with pytest.raises(UnsupportedDicomError, match=r"15.0 degrees from their planes' normal \(drawn on a gantry-tilted") as ei:
        load_mask(tilted_seg)
    assert "scattered" not in str(ei.value)

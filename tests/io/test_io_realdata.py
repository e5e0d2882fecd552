"""Every file and every folder of the shared real-data sets either loads with geometry checked
against its own headers, or raises the named error that explains why it cannot be a volume.

Cases are discovered at collection time, so a file added to those folders is covered
automatically: a new case not in the table must load with header-true geometry, or raise an
:class:`~hcc_imaging.errors.HccImagingError` subclass.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import HccImagingError, NotDicomError
from hcc_imaging.io import (
    DuplicatePositionError,
    GantryTiltError,
    MissingPositionError,
    MixedOrientationError,
    NotAnImageError,
    SeriesSelectionError,
    SliceSpacingError,
    TooFewSlicesError,
    TruncatedPixelDataError,
    load_series,
)
from hcc_imaging.volume import LabelVolume

from ..conftest import SHARED_DATA
from ._oracle import check_volume_against_headers

SETS = ("pydicom_testfiles", "dicom2nifti_failing_series")
LOADS = "loads"

#: Expected outcome by path pattern (relative to the shared data root), first match wins.
#: Reasons come from each folder's README / VALIDATION_*.tsv.
EXPECTED: list[tuple[str, object]] = [
    ("*/README*", NotDicomError),
    ("*/LICENSE*", NotDicomError),
    ("*/UPSTREAM_README*", NotDicomError),
    ("*.tsv", NotDicomError),
    ("*.nii.gz", NotDicomError),
    ("*.txt", NotDicomError),
    # pydicom_testfiles: transfer-syntax zoo and odd files
    ("pydicom_testfiles/693_*.dcm", LOADS),
    ("pydicom_testfiles/CT_small.dcm", LOADS),
    ("pydicom_testfiles/MR_small*.dcm", LOADS),
    ("pydicom_testfiles/MR_truncated.dcm", TruncatedPixelDataError),  # 8130 of 8192 bytes
    ("pydicom_testfiles/eCT_Supplemental.dcm", LOADS),  # enhanced CT, per-frame groups
    ("pydicom_testfiles/emri_small.dcm", MissingPositionError),  # enhanced MR without functional groups
    ("pydicom_testfiles/JPEG*.dcm", MissingPositionError),  # NM secondary capture, no IPP/IOP
    ("pydicom_testfiles/JPGExtended.dcm", MissingPositionError),
    ("pydicom_testfiles/image_dfl.dcm", MissingPositionError),  # OT secondary capture
    ("pydicom_testfiles/ExplVR_LitEndNoMeta.dcm", NotAnImageError),  # RT plan
    ("pydicom_testfiles/rtstruct.dcm", NotAnImageError),
    ("pydicom_testfiles/test-SR.dcm", NotAnImageError),
    ("pydicom_testfiles/meta_missing_tsyntax.dcm", NotDicomError),  # no SOP class / series UID
    ("pydicom_testfiles/no_meta.dcm", NotDicomError),  # shifted by one byte: not parseable
    ("pydicom_testfiles/dicomdirtests/DICOMDIR-empty.dcm", SeriesSelectionError),  # references nothing
    ("pydicom_testfiles/dicomdirtests/DICOMDIR*", SeriesSelectionError),  # 13 series referenced
    ("pydicom_testfiles/dicomdirtests/*/CR*", MissingPositionError),  # CR has no patient geometry
    ("pydicom_testfiles/dicomdirtests/77654033/CT2", SliceSpacingError),  # z -99.5, 103.0, 104.3, 105.5
    ("pydicom_testfiles/dicomdirtests/98892001/CT2N", MixedOrientationError),  # 2 orientations
    ("pydicom_testfiles/dicomdirtests/98892003/MR700", MixedOrientationError),  # 7 oblique planes
    ("pydicom_testfiles/dicomdirtests/98892003/MR1", SeriesSelectionError),  # 3 series in one folder
    ("pydicom_testfiles/dicomdirtests/98892003/MR2", SeriesSelectionError),
    ("pydicom_testfiles/dicomdirtests/*/*/*", LOADS),  # any single CT/MR image (SliceThickness present)
    ("pydicom_testfiles/dicomdirtests/98892001/CT5N", LOADS),
    ("pydicom_testfiles/dicomdirtests*", SeriesSelectionError),  # folders holding several series
    ("pydicom_testfiles", SeriesSelectionError),
    # dicom2nifti failing series
    ("dicom2nifti_failing_series/sliceorientation/001/*.dcm", LOADS),  # one image: has SliceThickness
    # other single files lack SliceThickness (headers stripped): one image has no slice spacing
    ("dicom2nifti_failing_series/*/*/*.dcm", TooFewSlicesError),
    ("dicom2nifti_failing_series/gantrytilting*", GantryTiltError),
    ("dicom2nifti_failing_series/notavolume*", DuplicatePositionError),
    ("dicom2nifti_failing_series/sliceincrement/00?", SliceSpacingError),
    ("dicom2nifti_failing_series/sliceincrement", SeriesSelectionError),
    ("dicom2nifti_failing_series/sliceorientation*", MixedOrientationError),
    ("dicom2nifti_failing_series/slicecount*", LOADS),  # 2 slices: spacing from positions
    ("dicom2nifti_failing_series", SeriesSelectionError),
]


def _cases() -> list[object]:
    out: list[object] = []
    for name in SETS:
        root = SHARED_DATA / name
        if not root.is_dir():
            continue
        for p in sorted([root, *root.rglob("*")]):
            if p.name.startswith("."):
                continue
            rel = p.relative_to(SHARED_DATA).as_posix()
            marks = [pytest.mark.slow] if p.is_dir() and rel.count("/") <= 1 and p != root else []
            out.append(pytest.param(rel, id=rel, marks=marks))
    return out


def _expected(rel: str) -> object | None:
    for pat, exp in EXPECTED:
        if fnmatch.fnmatchcase(rel, pat):
            return exp
    return None


@pytest.mark.parametrize("rel", _cases())
def test_real_case_loads_true_or_refuses_by_name(rel: str, shared_data: Path) -> None:
    path = shared_data / rel
    exp = _expected(rel)
    if exp is None:  # a case added after this table was written
        try:
            v = load_series(path)
        except HccImagingError as err:
            assert type(err).__module__.startswith("hcc_imaging"), err
            assert len(str(err)) > 40  # says what, why and how to fix
            return
        check_volume_against_headers(v)
        return
    if exp is LOADS:
        v = load_series(path)
        check_volume_against_headers(v)
        assert v.meta["sop_class_uid"]
        assert len(v.meta["sop_instance_uids"]) == v.shape[0]
        return
    assert isinstance(exp, type)
    with pytest.raises(exp) as info:
        load_series(path)
    msg = str(info.value)
    # every message names the object (series UID or file) and a fix
    assert ("series" in msg) or (path.name in msg) or ("file" in msg), msg


def test_transfer_syntaxes_decode_identically(shared_data: Path) -> None:
    root = shared_data / "pydicom_testfiles"
    ref = load_series(root / "MR_small.dcm")
    for name in ("MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                 "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"):
        v = load_series(root / name)
        np.testing.assert_array_equal(v.array, ref.array, err_msg=name)
        assert v.geometry_equal(ref)
    assert load_series(root / "MR_small_jpeg_ls_lossless.dcm").meta["decoders"] == ("pyjpegls",)
    assert load_series(root / "MR_small_jp2klossless.dcm").meta["decoders"] == ("gdcm",)
    unc = load_series(root / "693_UNCR.dcm")
    j2k = load_series(root / "693_J2KR.dcm")
    np.testing.assert_array_equal(unc.array, j2k.array)
    assert unc.array.dtype == np.int16 and int(unc.array.min()) < -1000  # HU, rescale applied


def test_enhanced_ct_frames_use_per_frame_positions(shared_data: Path) -> None:
    v = load_series(shared_data / "pydicom_testfiles" / "eCT_Supplemental.dcm")
    assert v.shape == (2, 512, 512)
    assert v.spacing[0] == pytest.approx(10.0)
    # IOP (-1,0,0 / 0,1,0): normal = (0,0,-1), so slices ascend along -z
    np.testing.assert_allclose(v.direction[:, 0], [0, 0, -1], atol=1e-6)
    np.testing.assert_allclose(v.origin, [99.5, -301.5, -149.0], atol=1e-3)
    assert v.meta["source_frames"] == (1, 0)


def test_gantry_tilt_resample_gives_orthogonal_grid(shared_data: Path) -> None:
    path = shared_data / "dicom2nifti_failing_series" / "gantrytilting" / "001"
    with pytest.raises(GantryTiltError, match=r"on_tilt=\"resample\""):
        load_series(path)
    v = load_series(path, on_tilt="resample")
    d = v.direction
    np.testing.assert_allclose(d.T @ d, np.eye(3), atol=1e-6)
    # IOP column cosine (0, 0.970, -0.242): normal = (0, 0.242, 0.970); 5 mm z steps project to 4.85 mm
    np.testing.assert_allclose(d[:, 0], [0, 0.2419, 0.9703], atol=2e-3)
    assert v.spacing[0] == pytest.approx(5.0 * 0.9703, abs=0.01)
    assert v.array.dtype == np.int16
    assert "gantry tilt" in " ".join(v.meta["problems"])


def test_missing_slice_resample_interpolates_the_gap(shared_data: Path) -> None:
    path = shared_data / "dicom2nifti_failing_series" / "sliceincrement" / "001"
    with pytest.raises(SliceSpacingError, match=r"expected 5.00 mm, found 10.00 mm"):
        load_series(path)
    strict = load_series([str(p) for p in sorted(path.iterdir())][:3])  # the 3 regular slices
    v = load_series(path, on_irregular="resample")
    assert v.shape[0] == 5 and v.spacing[0] == pytest.approx(5.0)
    assert v.meta["interpolated_slices"] == [3]
    np.testing.assert_array_equal(v.array[:3], strict.array)
    np.testing.assert_allclose(v.origin, strict.origin)


def test_stack_selects_one_orientation_group(shared_data: Path) -> None:
    path = shared_data / "dicom2nifti_failing_series" / "sliceorientation" / "001"
    with pytest.raises(MixedOrientationError, match="stack="):
        load_series(path)
    v0 = load_series(path, stack=0)
    v1 = load_series(path, stack=1)
    assert v0.shape[0] == 2 and v1.shape[0] == 2
    assert not np.allclose(v0.direction, v1.direction)
    check_volume_against_headers(v0)
    check_volume_against_headers(v1)
    with pytest.raises(SeriesSelectionError, match="stack=5 does not exist"):
        load_series(path, stack=5)


@pytest.mark.slow
def test_ircadb17_ct_and_masks_align(ircadb17: Path) -> None:
    ct = load_series(ircadb17 / "PATIENT_DICOM")
    assert ct.shape == (119, 512, 512)
    np.testing.assert_allclose(ct.spacing, (1.6, 0.743, 0.743), atol=1e-4)
    assert ct.array.dtype == np.int16
    assert int(ct.array.min()) == -1024 and int(ct.array.max()) == 1023  # README: clipped -1024..1023
    check_volume_against_headers(ct, every=17)
    masks = sorted(p for p in (ircadb17 / "MASKS_DICOM").iterdir() if p.is_dir())
    assert {m.name for m in masks} >= {"liver", "livertumor1", "livertumor2", "portalvein", "venoussystem",
                                        "artery", "bone", "skin"}
    voxels = {}
    for mdir in masks:
        m = load_series(mdir)
        assert m.geometry_equal(ct), mdir.name
        lv = LabelVolume.like(ct, (m.array > 0).astype(np.uint8), labels={1: mdir.name})
        assert lv.geometry_equal(ct)
        voxels[mdir.name] = int(lv.array.sum())
    # counts from the data README (computed from the same masks)
    assert voxels["liver"] == 2_106_497
    assert voxels["livertumor1"] == 96_961
    assert voxels["livertumor2"] == 89_029


@pytest.mark.parametrize("nii", ["001_ground_truth.nii.gz", "001_ground_truth_reoriented.nii.gz"])
def test_slicecount_matches_dicom2nifti_ground_truth_in_world_coordinates(shared_data: Path, nii: str) -> None:
    """Every voxel centre of our volume, mapped LPS -> RAS -> NIfTI index, lands exactly on a
    NIfTI voxel centre holding the same value (dicom2nifti's expected output)."""
    nib = pytest.importorskip("nibabel")
    root = shared_data / "dicom2nifti_failing_series" / "slicecount"
    v = load_series(root / "001")
    img = nib.load(str(root / nii))
    data = np.asarray(img.dataobj)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in v.shape], indexing="ij"), -1).reshape(-1, 3)
    ras = v.index_to_lps(grid) * np.array([-1.0, -1.0, 1.0])
    ijk = (np.linalg.inv(img.affine) @ np.c_[ras, np.ones(len(ras))].T)[:3].T
    idx = np.rint(ijk).astype(int)
    np.testing.assert_allclose(ijk, idx, atol=1e-3)
    np.testing.assert_array_equal(data[idx[:, 0], idx[:, 1], idx[:, 2]].reshape(v.shape), v.array)

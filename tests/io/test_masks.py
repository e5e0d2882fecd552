"""Mask import/export (hcc_imaging.io.masks): NIfTI, DICOM SEG, RTSTRUCT, DICOM mask series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from hcc_imaging.errors import GeometryMismatchError, NotDicomError, OptionalDependencyError, UnsupportedDicomError
from hcc_imaging.io.masks import (
    MaskFormatError,
    OverlappingSegmentsError,
    load_mask,
    load_segments,
    save_mask,
)
from hcc_imaging.volume import LabelVolume, Volume


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a = a != 0
    b = b != 0
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def _oblique_direction() -> np.ndarray:
    t = np.deg2rad(20.0)
    rz = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])
    from hcc_imaging.volume import AXIAL_DIRECTION

    return rz @ AXIAL_DIRECTION


def _sitk_series(folder: Path) -> Volume:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    files = reader.GetGDCMSeriesFileNames(str(folder))
    reader.SetFileNames(files)
    hdr = pydicom.dcmread(files[0], stop_before_pixels=True)
    return Volume.from_sitk(
        reader.Execute(),
        frame_of_reference_uid=str(hdr.FrameOfReferenceUID),
        series_instance_uid=str(hdr.SeriesInstanceUID),
    )


# --------------------------------------------------------------------------------- NIfTI
@pytest.mark.parametrize("suffix", [pytest.param(".nii.gz", id="nii-gz"), pytest.param(".nii", id="nii"), pytest.param(".nrrd", id="nrrd")])
def test_nifti_round_trip_keeps_lps_geometry_and_labels(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 4, size=(5, 7, 9)).astype(np.uint8)
    lv = LabelVolume.create(arr, spacing=(2.5, 0.7, 0.8), origin=(10.0, -20.0, 30.0), direction=_oblique_direction())
    out = save_mask(lv, tmp_path / f"m{suffix}")
    back = load_mask(out)
    assert back.geometry.equals(lv.geometry, atol_mm=1e-4)
    np.testing.assert_array_equal(back.array, arr)
    assert back.labels == {1: "L1", 2: "L2", 3: "L3"}
    # no temp files left behind by the atomic write
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m{suffix}"]


def test_nifti_ras_affine_is_converted_to_lps(tmp_path: Path) -> None:
    """A NIfTI written by nibabel with a RAS affine lands at the right LPS position."""
    import nibabel as nib

    data_xyz = np.zeros((4, 5, 6), np.uint8)  # nibabel order (i, j, k)
    data_xyz[1, 2, 3] = 1
    affine_ras = np.diag([0.8, 0.9, 2.0, 1.0])
    affine_ras[:3, 3] = (-50.0, 60.0, 70.0)
    nib.save(nib.Nifti1Image(data_xyz, affine_ras), tmp_path / "ras.nii.gz")
    lv = load_mask(tmp_path / "ras.nii.gz", label_names={1: "tumour"})
    k, j, i = np.argwhere(lv.array)[0]
    ras = affine_ras @ np.array([1, 2, 3, 1.0])
    lps_expected = np.array([-ras[0], -ras[1], ras[2]])
    np.testing.assert_allclose(lv.index_to_lps([k, j, i]), lps_expected, atol=1e-5)
    assert lv.labels == {1: "tumour"}


def test_float_nifti_thresholded_at_half(tmp_path: Path) -> None:
    import SimpleITK as sitk

    arr = np.array([[[0.0, 0.2, 0.49, 0.5, 0.9, 1.0]]], np.float32)
    img = sitk.GetImageFromArray(arr)
    sitk.WriteImage(img, str(tmp_path / "prob.nii.gz"))
    lv = load_mask(tmp_path / "prob.nii.gz")
    np.testing.assert_array_equal(lv.array[0, 0], [0, 0, 0, 1, 1, 1])


def test_float_nifti_values_are_labels_probabilities_or_refused(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A float32 label map with one interpolation residue (2.9999998 for 3) keeps its three labels
    (it became one label 1, thresholded at half its maximum); a probability map is inside at 0.5
    absolute, with a warning (0.45 was inside beside 0.9, at half the maximum); other non-integer
    values, and an integer label too large to keep (uint32 3e9 wrapped negative), are refused."""
    import logging

    import nibabel as nib

    def write(name: str, arr: np.ndarray) -> Path:
        nib.save(nib.Nifti1Image(arr, np.diag([0.8, 0.8, 2.0, 1.0])), tmp_path / name)
        return tmp_path / name

    lab = np.zeros((6, 5, 4), np.float32)  # NIfTI (i, j, k)
    lab[0:2, 0:2, 0] = 1.0
    lab[3:5, 0:2, 1] = 2.0
    lab[0:2, 3:5, 2] = 3.0
    lab[1, 3, 2] = 2.9999998
    out = load_mask(write("labels.nii.gz", lab))
    assert out.labels == {1: "L1", 2: "L2", 3: "L3"}
    np.testing.assert_array_equal(out.array, np.rint(lab).astype(np.uint8).transpose(2, 1, 0))
    prob = np.zeros((6, 5, 4), np.float32)
    prob[0:2, 0:2, 0] = 0.9
    prob[3:5, 0:2, 1] = 0.45
    prob[0, 4, 3] = np.nan
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.masks"):
        out = load_mask(write("prob.nii.gz", prob))
    assert out.labels == {1: "L1"}
    np.testing.assert_array_equal(out.array, (prob >= 0.5).astype(np.uint8).transpose(2, 1, 0))
    assert "probability (fractional) mask" in caplog.text and ">= 0.5" in caplog.text and "4 non-zero" in caplog.text
    bad = lab.copy()
    bad[4, 4, 3] = 2.5
    with pytest.raises(MaskFormatError, match=r"non-integer values outside 0..1 \(e.g. 2.5 at voxel \(3, 4, 4\)"):
        load_mask(write("bad.nii.gz", bad))
    big = np.zeros((6, 5, 4), np.uint32)
    big[0, 0, 0] = 3_000_000_000
    with pytest.raises(MaskFormatError, match="label value 3000000000, larger than"):
        load_mask(write("big.nii.gz", big))


def test_negative_nifti_refused(tmp_path: Path) -> None:
    import SimpleITK as sitk

    sitk.WriteImage(sitk.GetImageFromArray(np.full((2, 2, 2), -5, np.int16)), str(tmp_path / "img.nii.gz"))
    with pytest.raises(MaskFormatError, match="negative values"):
        load_mask(tmp_path / "img.nii.gz")


def test_4d_nifti_refused(tmp_path: Path) -> None:
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 2), np.uint8), np.eye(4)), tmp_path / "four.nii.gz")
    with pytest.raises(MaskFormatError, match="4-D"):
        load_mask(tmp_path / "four.nii.gz")


@pytest.mark.parametrize("plane", ["axial", "coronal"])
def test_single_slice_2d_nifti_lands_on_its_own_slice(tmp_path: Path, plane: str) -> None:
    """A 2-D NIfTI (dim[0] = 2) of slice 7 whose affine puts it at that slice's position: placed on
    slice 7 of the image (before: SimpleITK's 2-D image dropped the slice position, so it went to
    the slice at 0 mm, or "entirely outside" the image; a coronal slice raised a raw ITK error)."""
    import nibabel as nib

    direction = np.eye(3) if plane == "axial" else np.column_stack([[0, 1.0, 0], [0, 0, -1.0], [1.0, 0, 0]])
    ref = Volume.create(np.zeros((10, 20, 20), np.int16), spacing=(2.0, 1.0, 1.0), origin=(-5.0, 3.0, 40.0),
                        direction=direction)
    arr = np.zeros(ref.shape, np.uint8)
    arr[7, 4:9, 5:12] = 3
    arr[7, 12:15, 2:4] = 5
    arr[2, 4:9, 5:12] = 1  # another slice: must not come along
    save_mask(LabelVolume.like(ref, arr), tmp_path / "full.nii.gz")
    full = nib.load(tmp_path / "full.nii.gz")
    aff = full.affine.copy()
    aff[:3, 3] = (full.affine @ [0, 0, 7, 1])[:3]  # NIfTI (i, j, k) = our (col, row, slice)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(np.asarray(full.dataobj)[:, :, 7]), aff), tmp_path / "one.nii.gz")
    assert nib.load(tmp_path / "one.nii.gz").header["dim"][0] == 2
    alone = load_mask(tmp_path / "one.nii.gz")
    assert alone.shape == (1, 20, 20)
    np.testing.assert_allclose(alone.index_to_lps([0, 0, 0]), ref.index_to_lps([7, 0, 0]), atol=1e-4)
    on = load_mask(tmp_path / "one.nii.gz", ref)
    expected = np.where(np.arange(10)[:, None, None] == 7, arr, 0)
    np.testing.assert_array_equal(on.array, expected)
    assert on.labels == {3: "L3", 5: "L5"}


def test_2d_image_mask_without_a_slice_position_refused(tmp_path: Path) -> None:
    """A 2-D NRRD holds no position along the slice normal: refused (it was put at 0 mm)."""
    import SimpleITK as sitk

    sitk.WriteImage(sitk.GetImageFromArray(np.ones((4, 5), np.uint8)), str(tmp_path / "flat.nrrd"))
    with pytest.raises(MaskFormatError, match="2-D image: it holds no position"):
        load_mask(tmp_path / "flat.nrrd")


# ----------------------------------------------------------------------- reference policy
def _ref_volume(for_uid: str | None = "1.2.3") -> Volume:
    return Volume.create(
        np.zeros((10, 20, 20), np.int16), spacing=(2.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), frame_of_reference_uid=for_uid
    )


def test_mask_on_coarser_grid_is_resampled_onto_reference(tmp_path: Path) -> None:
    ref = _ref_volume()
    coarse = np.zeros((5, 10, 10), np.uint8)
    coarse[2, 3:6, 3:6] = 1  # 2 mm voxels in-plane
    lv = LabelVolume.create(coarse, spacing=(4.0, 2.0, 2.0), origin=(1.0, 0.5, 0.5))
    save_mask(lv, tmp_path / "c.nii.gz")
    out = load_mask(tmp_path / "c.nii.gz", ref)
    assert out.geometry.equals(ref.geometry)
    assert out.frame_of_reference_uid == "1.2.3"
    # physical volume preserved: 9 voxels of 16 mm3 -> 144 mm3 = 72 voxels of 2 mm3
    assert int(out.array.sum()) * ref.voxel_volume_mm3 == pytest.approx(144.0)


def test_mask_outside_reference_is_an_error(tmp_path: Path) -> None:
    ref = _ref_volume()
    lv = LabelVolume.create(np.ones((2, 2, 2), np.uint8), spacing=(1, 1, 1), origin=(500.0, 500.0, 500.0))
    save_mask(lv, tmp_path / "far.nii.gz")
    with pytest.raises(GeometryMismatchError, match="entirely outside"):
        load_mask(tmp_path / "far.nii.gz", ref)


def test_frame_of_reference_mismatch_names_both_uids(shared_data: Path) -> None:
    seg = shared_data / "dcmqi_liver_ct3slice" / "seg" / "liver_seg.dcm"
    ref = _ref_volume("9.9.9")
    with pytest.raises(GeometryMismatchError, match=r"9\.9\.9.*register|frame of reference 1\.2\.392"):
        load_mask(seg, ref)


def test_save_mask_resamples_onto_reference(tmp_path: Path) -> None:
    ref = _ref_volume()
    lv = LabelVolume.create(np.ones((1, 2, 2), np.uint8), spacing=(2, 1, 1), origin=(2.0, 2.0, 4.0))
    save_mask(lv, tmp_path / "r.nii.gz", reference=ref)
    back = load_mask(tmp_path / "r.nii.gz")
    assert back.geometry.equals(ref.geometry)
    assert int(back.array.sum()) == 4


# --------------------------------------------------------------------------------- DICOM SEG
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("seg_image_ct_binary.dcm", id="binary-implicit-vr"),
        pytest.param("seg_image_ct_binary_fractional.dcm", id="fractional-0-1"),
        pytest.param("seg_image_ct_true_fractional.dcm", id="true-fractional"),
    ],
)
def test_seg_variants_decode_to_the_same_mask(shared_data: Path, name: str) -> None:
    d = shared_data / "highdicom_testfiles"
    binary = load_mask(d / "seg_image_ct_binary.dcm")
    lv = load_mask(d / name)
    assert lv.labels == {1: "first segment"}
    assert lv.geometry.equals(binary.geometry)
    if name == "seg_image_ct_true_fractional.dcm":
        import highdicom as hd

        frac = hd.seg.segread(str(d / name)).get_volume(rescale_fractional=True).array[..., 0]
        np.testing.assert_array_equal(lv.array != 0, frac >= 0.5)
    else:
        np.testing.assert_array_equal(lv.array, binary.array)
    assert int(binary.array.sum()) == 638


def test_seg_overlap_refused_then_loaded_per_segment(shared_data: Path) -> None:
    f = shared_data / "highdicom_testfiles" / "seg_image_ct_binary_overlap.dcm"
    with pytest.raises(OverlappingSegmentsError, match="load_segments"):
        load_mask(f)
    segs = load_segments(f)
    assert sorted(segs) == [1, 2]
    assert segs[2].labels == {2: "second segment"}
    overlap = (segs[1].array != 0) & (segs[2].array != 0)
    assert int(overlap.sum()) > 0
    only_first = load_mask(f, structures=["first segment"])
    np.testing.assert_array_equal(only_first.array != 0, segs[1].array != 0)
    with pytest.raises(MaskFormatError, match="no segment labelled"):
        load_mask(f, structures=["liver"])


def test_seg_single_frame(shared_data: Path) -> None:
    lv = load_mask(shared_data / "highdicom_testfiles" / "seg_image_ct_binary_single_frame.dcm")
    assert lv.shape == (1, 128, 128)
    assert int(lv.array.sum()) > 0


def test_dcmqi_liver_seg_volume_matches_sr(shared_data: Path) -> None:
    """107,098 voxels x 0.810547^2 x 1.0 mm = 70361.9 mm3, the value of the TID 1500 SR."""
    d = shared_data / "dcmqi_liver_ct3slice"
    ref = _sitk_series(d / "ct")
    lv = load_mask(d / "seg" / "liver_seg.dcm", ref)
    assert lv.geometry.equals(ref.geometry)
    assert lv.labels == {1: "Liver"}
    vol_mm3 = float((lv.array != 0).sum()) * lv.voxel_volume_mm3
    assert vol_mm3 == pytest.approx(70361.9, abs=0.1)
    hu = ref.array[lv.array != 0].astype(float)
    assert hu.mean() == pytest.approx(37.3289, abs=1e-3)


# --------------------------------------------------------------------------------- RTSTRUCT
CASES = [pytest.param(c, m, id=f"{c}-{m}") for c in ("STS_002", "STS_019") for m in ("CT", "MR_T1", "PET")]


@pytest.mark.parametrize(("case", "modality"), CASES)
def test_rtstruct_matches_expert_nifti(shared_data: Path, case: str, modality: str) -> None:
    d = shared_data / "ibsi_sts_tumour" / case
    ref = _sitk_series(d / "dicom" / modality / "image")
    rt = load_mask(d / "dicom" / modality / "mask" / "RS.dcm", ref)
    nii = load_mask(d / "nifti" / f"{modality}_mask.nii.gz", ref)
    assert rt.labels == {1: f"GTV_Mass_{modality}"}
    assert rt.frame_of_reference_uid == ref.frame_of_reference_uid
    assert _dice(rt.array, nii.array) >= 0.99


def test_rtstruct_needs_reference(shared_data: Path) -> None:
    with pytest.raises(MaskFormatError, match="reference="):
        load_mask(shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT" / "mask" / "RS.dcm")


def test_rtstruct_other_frame_of_reference_refused(shared_data: Path) -> None:
    d = shared_data / "ibsi_sts_tumour"
    ref = _sitk_series(d / "STS_019" / "dicom" / "CT" / "image")
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        load_mask(d / "STS_002" / "dicom" / "CT" / "mask" / "RS.dcm", ref)


def test_rtstruct_outside_reference_refused(shared_data: Path) -> None:
    d = shared_data / "ibsi_sts_tumour" / "STS_002"
    ref = _sitk_series(d / "dicom" / "CT" / "image")
    moved = Volume.create(np.zeros((3, 10, 10), np.int16), spacing=(3.27, 1, 1), origin=(0.0, 0.0, 900.0), frame_of_reference_uid=ref.frame_of_reference_uid)
    with pytest.raises(GeometryMismatchError, match="outside the reference"):
        load_mask(d / "dicom" / "CT" / "mask" / "RS.dcm", moved)


def test_rtstruct_unknown_structure(shared_data: Path) -> None:
    d = shared_data / "ibsi_sts_tumour" / "STS_002"
    ref = _sitk_series(d / "dicom" / "CT" / "image")
    with pytest.raises(MaskFormatError, match="no ROI named"):
        load_mask(d / "dicom" / "CT" / "mask" / "RS.dcm", ref, structures=["Liver"])


def test_rtstruct_oblique_reference_refused(shared_data: Path) -> None:
    d = shared_data / "ibsi_sts_tumour" / "STS_002"
    ref = _sitk_series(d / "dicom" / "CT" / "image")
    sag = Volume.create(
        np.zeros((50, 50, 50), np.int16), spacing=(1, 1, 1), origin=ref.origin,
        direction=np.array([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]]), frame_of_reference_uid=ref.frame_of_reference_uid,
    )
    with pytest.raises(GeometryMismatchError, match="not parallel"):
        load_mask(d / "dicom" / "CT" / "mask" / "RS.dcm", sag)


# ------------------------------------------------------------------------ formats / errors
def test_unknown_extension_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MaskFormatError, match="unknown mask format"):
        load_mask(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mask(tmp_path / "nope.nii.gz")
    with pytest.raises(MaskFormatError, match="empty"):
        (tmp_path / "empty").mkdir()
        load_mask(tmp_path / "empty")


def test_non_mask_dicom_refused(shared_data: Path) -> None:
    with pytest.raises(UnsupportedDicomError, match="holds no mask"):
        load_mask(shared_data / "highdicom_testfiles" / "sr_document.dcm")


def test_broken_dicom_refused(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff\xff\xff")
    with pytest.raises((NotDicomError, UnsupportedDicomError)):
        load_mask(tmp_path / "x.dcm")


def test_save_unknown_extension_and_type(tmp_path: Path) -> None:
    lv = LabelVolume.create(np.ones((1, 2, 2), np.uint8), spacing=(1, 1, 1))
    with pytest.raises(MaskFormatError, match="unknown mask extension"):
        save_mask(lv, tmp_path / "m.png")
    with pytest.raises(TypeError, match="LabelVolume"):
        save_mask(np.ones((1, 2, 2)), tmp_path / "m.nii.gz")  # type: ignore[arg-type]


def test_save_seg_dispatches_or_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    lv = LabelVolume.create(np.ones((1, 2, 2), np.uint8), spacing=(1, 1, 1))
    with pytest.raises(MaskFormatError, match="reference="):
        save_mask(lv, tmp_path / "m.dcm")
    monkeypatch.setitem(sys.modules, "hcc_imaging.export.seg", None)  # SEG export missing
    with pytest.raises(OptionalDependencyError, match="SEG export"):
        save_mask(lv, tmp_path / "m.dcm")


@pytest.mark.slow
def test_ircadb_mask_series_folder(ircadb17: Path) -> None:
    lv = load_mask(ircadb17 / "MASKS_DICOM" / "liver")
    assert lv.labels == {1: "liver"}
    assert lv.shape == (119, 512, 512)
    assert int(lv.array.sum()) == 2_106_497


def test_corrupt_nifti_and_empty_rtstruct(tmp_path: Path, shared_data: Path) -> None:
    (tmp_path / "bad.nii.gz").write_bytes(b"not a nifti at all")
    with pytest.raises(MaskFormatError, match="could not be read by SimpleITK"):
        load_mask(tmp_path / "bad.nii.gz")
    ds = pydicom.dcmread(shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT" / "mask" / "RS.dcm")
    for c in ds.ROIContourSequence[0].ContourSequence:
        c.ContourGeometricType = "POINT"
    ds.save_as(tmp_path / "points.dcm")
    ref = _sitk_series(shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT" / "image")
    lv = load_segments(tmp_path / "points.dcm", ref)
    assert not np.any(lv[1].array)  # point ROIs hold no area: an empty mask, not an error


def test_rtstruct_without_rois(tmp_path: Path, shared_data: Path) -> None:
    d = shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT"
    ds = pydicom.dcmread(d / "mask" / "RS.dcm")
    ds.StructureSetROISequence = pydicom.Sequence([])
    ds.save_as(tmp_path / "none.dcm")
    with pytest.raises(MaskFormatError, match="no ROI"):
        load_mask(tmp_path / "none.dcm", _sitk_series(d / "image"))


def test_lesion_masks_with_their_names_viable_parts_and_organs(tmp_path: Path) -> None:
    """``load_lesion_masks`` on a NIfTI map with ``labels.json`` and ``viable.nii.gz`` beside it (a
    batch's saved masks): the ids and organs of the labels file, the viable map with the same names;
    without them the ids are ``L<n>`` and there is no viable map; a labels file that is not one is a
    MaskFormatError naming it."""
    import json

    from hcc_imaging.io.masks import load_lesion_masks

    ref = _ref_volume()
    arr = np.zeros(ref.shape, np.uint8)
    arr[2:5, 2:6, 2:6] = 1
    arr[6:8, 10:15, 10:15] = 2
    save_mask(LabelVolume.like(ref, arr), tmp_path / "lesions.nii.gz")
    save_mask(LabelVolume.like(ref, np.where(arr == 1, 1, 0).astype(np.uint8)), tmp_path / "viable.nii.gz")
    (tmp_path / "labels.json").write_text(json.dumps({"labels": {"1": "L4", "2": "L6"}, "organs": {"L6": "lymph_node"}}))
    les, via, organs = load_lesion_masks(tmp_path / "lesions.nii.gz", ref)
    assert dict(les.labels) == {1: "L4", 2: "L6"} and organs == {"L6": "lymph_node"}
    assert via is not None and dict(via.labels)[1] == "L4" and np.array_equal(via.array != 0, arr == 1)
    np.testing.assert_array_equal(les.array, arr)
    bare = tmp_path / "bare"
    bare.mkdir()
    save_mask(LabelVolume.like(ref, arr), bare / "map.nii.gz")
    les, via, organs = load_lesion_masks(bare / "map.nii.gz", ref)
    assert dict(les.labels) == {1: "L1", 2: "L2"} and via is None and organs == {}
    (tmp_path / "labels.json").write_text("[1, 2]")
    with pytest.raises(MaskFormatError, match="labels.json: not a labels file"):
        load_lesion_masks(tmp_path / "lesions.nii.gz", ref)


def test_a_mask_partly_outside_or_lost_on_the_grid_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Resampling a mask onto the image: a label the image's field cuts (part of it outside) and a
    small label the coarser grid loses are warned of by name with their voxel counts, and the lost
    label is dropped from the label map's names (before: cropped silently, 'L2' still listed with
    no voxel)."""
    import logging

    ref = _ref_volume()  # 2 mm voxels
    # the mask's grid (1 x 0.5 x 0.5 mm, LPS x and y 10..24.5 mm, z 12..19 mm) straddles the image's
    # far corner (x, y up to 19 mm): label 1 (x, y 15..24.5 mm) lies half outside it
    fine = np.zeros((8, 30, 30), np.uint8)
    fine[2:6, 10:30, 10:30] = 1
    fine[4, 11, 11] = 2  # one 0.5 mm voxel (x = y = 15.5 mm) between the image's 1 mm voxel centres
    lv = LabelVolume.create(fine, spacing=(1.0, 0.5, 0.5), origin=(10.0, 10.0, 12.0), labels={1: "L1", 2: "L2"})
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.masks"):
        out = load_mask_from(lv, tmp_path, ref)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "partly outside" in text and "L1 (" in text and "voxels outside" in text
    assert "L2" in text and "vanished" in text
    assert 2 not in out.labels and out.labels.get(1) == "L1"


def load_mask_from(lv: LabelVolume, tmp_path: Path, ref: Volume) -> LabelVolume:
    save_mask(lv, tmp_path / "m.nii.gz")
    return load_mask(tmp_path / "m.nii.gz", ref)


def test_seg_of_ours_keeps_the_label_values_it_records(tmp_path: Path) -> None:
    """``load_mask`` on a SEG hcc_imaging wrote ("hcc_imaging label value N" in each segment's
    SegmentDescription): lesions L3 and L7 keep values 3 and 7, as ``read_seg`` and
    ``load_lesion_masks`` read them (before: renumbered 1 and 2 by segment number, so
    ``segment --each-label`` wrote 1 for L3, and ``export seg --viable`` paired the wrong lesion);
    a SEG without those descriptions (another tool's) keeps the segment numbers."""
    from ..export.conftest import write_ct_series

    ct = write_ct_series(tmp_path / "ct")
    arr = np.zeros(ct.volume.shape, np.uint8)
    arr[1:3, 5:10, 5:12] = 3
    arr[3:5, 20:25, 25:32] = 7
    save_mask(LabelVolume.like(ct.volume, arr, labels={3: "L3", 7: "L7"}), tmp_path / "m.dcm", reference=ct.volume)
    for ref in (ct.volume, None):
        back = load_mask(tmp_path / "m.dcm", ref)
        assert dict(back.labels) == {3: "L3", 7: "L7"}
        np.testing.assert_array_equal(back.array if ref is not None else back.resample_to(ct.volume).array, arr)
        assert "recorded_label_value" not in back.meta
    ds = pydicom.dcmread(tmp_path / "m.dcm")
    for item in ds.SegmentSequence:
        del item.SegmentDescription
    ds.save_as(tmp_path / "foreign.dcm")
    back = load_mask(tmp_path / "foreign.dcm", ct.volume)
    assert dict(back.labels) == {1: "L3", 2: "L7"}
    np.testing.assert_array_equal(back.array, np.select([arr == 3, arr == 7], [1, 2], 0))


def test_nifti_without_orientation_refused_and_two_affines_warned(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """qform_code = sform_code = 0: no orientation, refused (it was placed from the voxel size alone,
    with at most a "partly outside" warning); an sform 20 mm off the qform: read by the sform, with a
    warning naming both (it was silent)."""
    import logging

    import nibabel as nib

    data = np.zeros((6, 5, 4), np.uint8)
    data[1:3, 1:3, 1] = 1
    aff = np.diag([0.8, 0.8, 2.0, 1.0])
    aff[:3, 3] = (10.0, -20.0, 30.0)
    img = nib.Nifti1Image(data, aff)
    img.set_qform(aff, code=0)
    img.set_sform(aff, code=0)
    nib.save(img, tmp_path / "none.nii.gz")
    with pytest.raises(MaskFormatError, match="none.nii.gz holds no orientation: its qform_code and sform_code are both 0"):
        load_mask(tmp_path / "none.nii.gz")
    shifted = aff.copy()
    shifted[0, 3] += 20.0
    img = nib.Nifti1Image(data, aff)
    img.set_qform(aff, code=1)
    img.set_sform(shifted, code=1)
    nib.save(img, tmp_path / "two.nii.gz")
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.masks"):
        lv = load_mask(tmp_path / "two.nii.gz")
    assert "sform and qform place it differently, up to 20.0 mm apart" in caplog.text
    assert "voxel (0, 0, 0) at RAS [30.0, -20.0, 30.0] by the sform, at RAS [10.0, -20.0, 30.0] by the qform" in caplog.text
    assert "It is read by the sform (as nibabel reads it)" in caplog.text
    ras = shifted @ np.array([1, 1, 1, 1.0])  # NIfTI voxel (i, j, k) = (1, 1, 1): our (1, 1, 1)
    np.testing.assert_allclose(lv.index_to_lps([1, 1, 1]), [-ras[0], -ras[1], ras[2]], atol=1e-4)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.masks"):
        save_mask(lv, tmp_path / "one.nii.gz")
        load_mask(tmp_path / "one.nii.gz")
    assert "sform and qform" not in caplog.text


def test_a_folder_holding_mask_files_is_refused_naming_them(tmp_path: Path) -> None:
    """A masks folder with a SEG beside a NIfTI (or the sample's lesions / liver / viable maps) was
    read as a folder of mask images: a DuplicatePositionError naming the SEG twice, or "no DICOM
    files ... pass a folder that holds DICOM images".  Now the error names the mask files and the
    one to pass; a folder holding a single NIfTI is that NIfTI."""
    import shutil

    from hcc_imaging.io import load_series

    masks = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom" / "baseline"
    ref = load_series(masks / "portal_venous")
    with pytest.raises(MaskFormatError, match=r"holds 3 mask file\(s\) .*liver\.nii\.gz \(NIfTI\).*pass one mask file, e\.g\. .*lesions\.nii\.gz"):
        load_mask(masks / "masks", ref)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(masks / "masks" / "lesions.nii.gz", mixed / "lesions.nii.gz")
    lv = load_mask(mixed, ref)  # one NIfTI in the folder: that mask
    assert lv.geometry.equals(ref.geometry) and set(lv.present_labels()) == set(range(1, 9))
    save_mask(lv, mixed / "ours.dcm", reference=ref)
    with pytest.raises(MaskFormatError, match=r"ours\.dcm \(DICOM SEG\)") as err:
        load_mask(mixed, ref)
    assert "lesions.nii.gz (NIfTI)" in str(err.value)


def test_rtstruct_contours_off_the_image_are_recorded(shared_data: Path) -> None:
    """An RTSTRUCT whose contours go on past the image's last slices (an end slice of the series
    unreadable and skipped, or contours drawn on a longer series): those contours were skipped
    without a word, so the lesion was measured smaller than it is.  Now a warning, and the mask's
    ``cut_by_field`` (as for a voxel mask: what the batch reports per lesion) counts their voxels,
    which match the expert NIfTI's voxels on the slices cut off."""
    d = shared_data / "ibsi_sts_tumour" / "STS_002"
    ref = _sitk_series(d / "dicom" / "CT" / "image")
    full = load_mask(d / "dicom" / "CT" / "mask" / "RS.dcm", ref)
    ks = np.flatnonzero(full.array.any(axis=(1, 2)))
    keep = int(ks[len(ks) // 2])  # the image ends half-way through the tumour
    cropped = Volume.create(np.asarray(ref.array)[:keep + 1], spacing=ref.spacing, origin=ref.origin,
                            direction=ref.direction, frame_of_reference_uid=ref.frame_of_reference_uid,
                            series_instance_uid=ref.series_instance_uid)
    assert "cut_by_field" not in full.meta
    cut = load_mask(d / "dicom" / "CT" / "mask" / "RS.dcm", cropped)
    name = next(iter(cut.labels.values()))
    n_out, n, left = cut.meta["cut_by_field"][name]
    assert left == int(np.count_nonzero(cut.array)) == int(np.count_nonzero(full.array[:keep + 1]))
    assert n_out == int(np.count_nonzero(full.array[keep + 1:])) and n == n_out + left

"""Volume / LabelVolume / Geometry: conventions pinned (DESIGN section 2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcc_imaging.errors import GeometryMismatchError, MissingGeometryError
from hcc_imaging.volume import (
    AXIAL_DIRECTION,
    Geometry,
    LabelVolume,
    Volume,
    axial_reformat_geometry,
    resample_labels,
    resample_volume,
)

from .strategies import SIGNED_PERMUTATIONS, geometries


def test_index_is_voxel_centre_and_axes_are_slice_row_col() -> None:
    v = Volume.create(np.zeros((3, 4, 5), np.int16), spacing=(2.5, 0.7, 0.8), origin=(10, 20, 30))
    # col axis -> +x (L), row axis -> +y (P), slice axis -> +z (S) for AXIAL_DIRECTION
    np.testing.assert_allclose(v.index_to_lps([0, 0, 0]), [10, 20, 30])
    np.testing.assert_allclose(v.index_to_lps([0, 0, 1]), [10.8, 20, 30])
    np.testing.assert_allclose(v.index_to_lps([0, 1, 0]), [10, 20.7, 30])
    np.testing.assert_allclose(v.index_to_lps([1, 0, 0]), [10, 20, 32.5])
    assert v.geometry.is_axial


def test_arrays_are_read_only_and_objects_frozen() -> None:
    a = np.zeros((2, 2, 2), np.int16)
    v = Volume.create(a, spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="read-only"):
        v.array[0, 0, 0] = 1
    with pytest.raises(AttributeError):
        v.modality = "MR"  # type: ignore[misc]
    a[0, 0, 0] = 5  # caller's array stays writable
    assert a.flags.writeable


@pytest.mark.parametrize(
    ("spacing", "match"),
    [
        pytest.param(None, "spacing is required", id="no-spacing"),
        pytest.param((1, 0, 1), "must be > 0", id="zero-spacing"),
        pytest.param((1, 1), "3 finite numbers", id="two-spacings"),
        pytest.param((1, float("nan"), 1), "3 finite numbers", id="nan-spacing"),
    ],
)
def test_bad_spacing_is_named(spacing: object, match: str) -> None:
    with pytest.raises(MissingGeometryError, match=match):
        Volume.create(np.zeros((2, 2, 2)), spacing=spacing)  # type: ignore[arg-type]


def test_non_orthonormal_direction_refused_with_fix() -> None:
    d = np.eye(3)
    d[0, 1] = 0.3  # sheared (gantry tilt)
    with pytest.raises(MissingGeometryError, match="on_tilt='resample'"):
        Geometry(shape=(2, 2, 2), spacing=(1, 1, 1), origin=(0, 0, 0), direction=d)


def test_label_volume_refuses_bool_with_two_fixes() -> None:
    with pytest.raises(TypeError, match=r"astype\(np.uint8\).*ndimage.label"):
        LabelVolume.create(np.zeros((2, 2, 2), bool), spacing=(1, 1, 1))


def test_shape_mismatch_named() -> None:
    g = Geometry(shape=(2, 2, 2), spacing=(1, 1, 1), origin=(0, 0, 0))
    with pytest.raises(GeometryMismatchError, match="does not match"):
        Volume(array=np.zeros((2, 2, 3)), geometry=g)


@settings(max_examples=200, deadline=None)
@given(geometries(), st.tuples(*[st.floats(-50, 150, allow_nan=False) for _ in range(3)]))
def test_index_lps_round_trip(geom: Geometry, idx: tuple[float, float, float]) -> None:
    p = geom.index_to_lps(idx)
    np.testing.assert_allclose(geom.lps_to_index(p), idx, atol=1e-6)
    # affine agrees with index_to_lps
    np.testing.assert_allclose((geom.affine @ np.r_[idx, 1.0])[:3], p, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(geometries(oblique=False), st.integers(0, len(SIGNED_PERMUTATIONS) - 1))
def test_flip_permute_with_matching_geometry_keeps_world_positions(geom: Geometry, which: int) -> None:
    """Reordering array axes and flipping them, with the matching geometry, moves no voxel in LPS."""
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 1000, size=geom.shape).astype(np.int16)
    vol = Volume(array=arr, geometry=geom)
    p = SIGNED_PERMUTATIONS[which]  # new axis m = old axis perm[m], possibly flipped
    perm = [int(np.nonzero(p[m])[0][0]) for m in range(3)]
    sign = [p[m, perm[m]] for m in range(3)]
    new = np.transpose(arr, perm)
    slicer = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in sign)
    new = new[slicer]
    # origin = LPS of the new voxel (0,0,0) = old index with flipped axes at their end
    old_idx0 = [0.0] * 3
    for m in range(3):
        if sign[m] < 0:
            old_idx0[perm[m]] = geom.shape[perm[m]] - 1
    new_dir = np.stack([geom.direction[:, perm[m]] * sign[m] for m in range(3)], axis=1)
    new_geom = Geometry(
        shape=new.shape,  # type: ignore[arg-type]
        spacing=tuple(geom.spacing[perm[m]] for m in range(3)),  # type: ignore[arg-type]
        origin=tuple(geom.index_to_lps(old_idx0)),  # type: ignore[arg-type]
        direction=new_dir,
    )
    v2 = Volume(array=new, geometry=new_geom)
    # pick a few voxels and compare position + value
    for _ in range(5):
        k = tuple(int(rng.integers(0, s)) for s in v2.shape)
        lps = v2.index_to_lps(k)
        back = np.rint(vol.lps_to_index(lps)).astype(int)
        assert v2.array[k] == vol.array[tuple(back)]


@settings(max_examples=50, deadline=None)
@given(geometries())
def test_sitk_round_trip_keeps_geometry(geom: Geometry) -> None:
    arr = np.arange(np.prod(geom.shape), dtype=np.int32).reshape(geom.shape) % 7
    lab = LabelVolume(array=arr.astype(np.uint8), geometry=geom, labels={1: "L1"})
    img = lab.to_sitk()
    # SimpleITK index order is (col, row, slice)
    np.testing.assert_allclose(
        img.TransformContinuousIndexToPhysicalPoint((1.0, 2.0, 3.0)), geom.index_to_lps([3, 2, 1]), atol=1e-6
    )
    back = LabelVolume.from_sitk(img, labels=lab.labels)
    assert back.geometry.equals(geom)
    assert np.array_equal(back.array, lab.array)


def test_resample_identity_and_labels_nearest() -> None:
    rng = np.random.default_rng(1)
    v = Volume.create(rng.integers(-100, 100, (4, 6, 6)).astype(np.int16), spacing=(2, 1, 1))
    same = resample_volume(v, v)
    assert np.array_equal(same.array, v.array)
    assert same.array.dtype == np.int16
    lab = LabelVolume.like(v, (v.array > 0).astype(np.uint8), labels={1: "L1"})
    fine = Geometry(shape=(8, 6, 6), spacing=(1, 1, 1), origin=(0, 0, -0.5), direction=AXIAL_DIRECTION)
    up = resample_labels(lab, fine)
    assert set(np.unique(up.array)) <= {0, 1}  # nearest: no blended values
    assert up.labels == lab.labels


def test_axial_reformat_geometry_covers_coronal_extent() -> None:
    # coronal: slice axis along +y (P), rows down along -z (I), cols along +x (L)
    coronal = np.stack([[0, 1.0, 0], [0, 0, -1.0], [1.0, 0, 0]], axis=1)
    g = Geometry(shape=(10, 20, 30), spacing=(3, 1, 1), origin=(0, 0, 0), direction=coronal)
    assert not g.is_axial
    ax = axial_reformat_geometry(g)
    assert ax.is_axial
    lo = ax.extent_lps.min(axis=0)
    hi = ax.extent_lps.max(axis=0)
    assert np.all(g.extent_lps.min(axis=0) >= lo - 1e-6)
    assert np.all(g.extent_lps.max(axis=0) <= hi + 3 + 1e-6)


def test_resample_unknown_interpolation_named() -> None:
    v = Volume.create(np.zeros((2, 2, 2), np.int16), spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="interpolation='cubic' is not one of"):
        resample_volume(v, v, interpolation="cubic")


def test_crop_numbers_interpolated_and_filled_slices_in_the_cropped_volume() -> None:
    """``meta["interpolated_slices"]`` (and a mask's ``filled_slices``) kept the uncropped slice
    numbers after a crop: the mask-gap filling then worked on the wrong slices."""
    v = Volume.create(np.zeros((10, 4, 4), np.int16), spacing=(2.0, 1.0, 1.0),
                      meta={"interpolated_slices": [1, 4, 5, 9], "slice_thickness_mm": 2.0})
    c = v.crop((3, 0, 0), (8, 4, 4))
    assert list(c.meta["interpolated_slices"]) == [1, 2]
    assert c.meta["slice_thickness_mm"] == 2.0 and list(v.meta["interpolated_slices"]) == [1, 4, 5, 9]
    assert list(v.crop((0, 1, 1), (10, 3, 3)).meta["interpolated_slices"]) == [1, 4, 5, 9]  # in-plane: unchanged
    lv = LabelVolume(np.zeros((10, 4, 4), np.uint8), v.geometry, {1: "L1", 2: "L2"},
                     meta={"filled_slices": {"L1": [4, 5], "L2": [9]}})
    assert dict(lv.crop((3, 0, 0), (8, 4, 4)).meta["filled_slices"]) == {"L1": [1, 2]}


def test_crop_keeps_the_source_images_of_the_slices_kept() -> None:
    """``source_files`` / ``sop_instance_uids`` / ``source_frames`` (one per slice) stayed whole after a
    crop: slice k of the crop named the image of uncropped slice k (the SR's and SEG's references)."""
    files = tuple(f"/d/{k}.dcm" for k in range(6))
    uids = tuple(f"1.2.3.{k}" for k in range(6))
    v = Volume.create(np.zeros((6, 4, 4), np.int16), spacing=(2.0, 1.0, 1.0),
                      meta={"source_files": files, "sop_instance_uids": uids, "source_frames": tuple(range(6)),
                            "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2", "dropped_localizers": ("/d/loc.dcm",)})
    c = v.crop((2, 1, 0), (5, 4, 3))
    assert tuple(c.meta["source_files"]) == files[2:5] and tuple(c.meta["sop_instance_uids"]) == uids[2:5]
    assert tuple(c.meta["source_frames"]) == (2, 3, 4)
    assert c.meta["dropped_localizers"] == ("/d/loc.dcm",)  # not per slice: unchanged
    assert tuple(v.meta["sop_instance_uids"]) == uids  # the uncropped volume unchanged
    assert tuple(v.crop((0, 1, 1), (6, 3, 3)).meta["sop_instance_uids"]) == uids  # in-plane: unchanged
    # slice k of the crop is the image at its position (the SR's measurement reference)
    from hcc_imaging.export.sr import _slice_sop

    k_top = c.index_to_lps([2, 1, 1])
    assert _slice_sop(c, (k_top, k_top + [1.0, 0.0, 0.0])) == ("1.2.840.10008.5.1.4.1.1.2", "1.2.3.4")
    lv = LabelVolume(np.zeros((6, 4, 4), np.uint8), v.geometry, {1: "L1"}, meta={"source_files": files})
    assert tuple(lv.crop((1, 0, 0), (3, 4, 4)).meta["source_files"]) == files[1:3]


def test_crop_of_a_resampled_series_drops_the_image_of_each_slice_keeps_its_files() -> None:
    """A resampled series has one entry per acquired image, not per grid slice: no slice of a crop can
    name its image (the uids are left out), the files stay as the series' images."""
    v = Volume.create(np.zeros((8, 3, 3), np.int16), spacing=(2.0, 1.0, 1.0),
                      meta={"source_files": ("a", "b", "c", "d", "e", "f"), "sop_instance_uids": tuple("123456"),
                            "interpolated_slices": [3, 6]})
    c = v.crop((1, 0, 0), (7, 3, 3))  # 6 slices: as many as the images, but not theirs
    assert "sop_instance_uids" not in c.meta and tuple(c.meta["source_files"]) == ("a", "b", "c", "d", "e", "f")
    assert list(c.meta["interpolated_slices"]) == [2, 5]


def test_crop_of_a_reoriented_volume_cuts_the_lists_along_the_acquired_slice_axis() -> None:
    """The napari plugin shows a sagittal series with its axes reordered (``meta["reoriented"]``): its
    acquired slices lie along array axis 2 there, and a crop cuts the lists along that axis."""
    v = Volume.create(np.zeros((4, 5, 6), np.int16), spacing=(1.0, 1.0, 2.0),
                      meta={"reoriented": {"axes": [1, 2, 0]}, "sop_instance_uids": tuple("abcdef"),
                            "interpolated_slices": [4]})
    c = v.crop((1, 0, 3), (3, 5, 6))
    assert tuple(c.meta["sop_instance_uids"]) == ("d", "e", "f") and list(c.meta["interpolated_slices"]) == [1]
    assert tuple(v.crop((1, 1, 0), (3, 4, 6)).meta["sop_instance_uids"]) == tuple("abcdef")


@settings(max_examples=40, deadline=None)
@given(geometries(), st.floats(-2e-3, 2e-3))
def test_equals_on_distinct_geometries_answers_as_the_tolerances_do(geom: Geometry, d_mm: float) -> None:
    """Geometry.equals on distinct objects: equal values are equal without the three np.allclose
    (the phases of a study each read into their own Geometry; session of 2026-12-07, third), and
    values apart answer by the tolerances as before."""
    same = Geometry(shape=geom.shape, spacing=geom.spacing, origin=geom.origin, direction=geom.direction.copy())
    assert same is not geom and same.equals(geom) and geom.equals(same)
    real, calls = np.allclose, []

    def counted(*a: object, **kw: object) -> bool:
        calls.append(a)
        return bool(real(*a, **kw))  # type: ignore[arg-type]

    try:
        np.allclose = counted  # type: ignore[assignment]
        assert same.equals(geom)
        assert not calls  # equal values: answered before the tolerances
        moved = Geometry(shape=geom.shape, spacing=geom.spacing, origin=tuple(np.asarray(geom.origin) + d_mm),
                         direction=geom.direction)
        want = bool(real(moved.origin, geom.origin, atol=1e-3))
        assert moved.equals(geom) == want
        assert calls or moved.origin == geom.origin  # values apart: by the tolerances
    finally:
        np.allclose = real  # type: ignore[assignment]
    other = Geometry(shape=(geom.shape[0] + 1, *geom.shape[1:]), spacing=geom.spacing, origin=geom.origin,
                     direction=geom.direction)
    assert not other.equals(geom)

"""Viable (arterially enhancing) tumour: nodular remnants kept, rims and lipiodol never viable."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from hcc_imaging.errors import GeometryMismatchError
from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import SegmentationError, ViableParams, viable_mask
from hcc_imaging.volume import LabelVolume, Volume

from ._phantom import dice


@functools.lru_cache(maxsize=8)
def _study(seed: int, tp: str):  # type: ignore[no-untyped-def]
    return make_study(seed, tp)


@functools.lru_cache(maxsize=8)
def _viable(seed: int, tp: str) -> LabelVolume:
    st = _study(seed, tp)
    return viable_mask(st.lesions, st.volumes["arterial"], portal_venous=st.volumes["portal_venous"], liver=st.liver)


STUDIES = [pytest.param(s, tp, id=f"seed{s}-{tp}") for s in (0, 1) for tp in ("baseline", "fu1", "fu2")]


@pytest.mark.parametrize(("seed", "tp"), STUDIES)
def test_viable_dice_on_enhancing_and_nodular_remnants(seed: int, tp: str) -> None:
    st = _study(seed, tp)
    v = _viable(seed, tp)
    checked = 0
    for lid, rec in st.truth["lesions"].items():
        if rec["kind"] in ("pvtt", "ascites", "lymph_node"):
            continue
        truth = st.viable.array == rec["label"]
        if truth.any():
            assert dice(v.array == rec["label"], truth) >= 0.85, lid
            checked += 1
    assert checked >= 2
    assert v.labels == st.lesions.labels
    assert v.geometry.equals(st.lesions.geometry)


@pytest.mark.parametrize(("seed", "tp"), STUDIES)
def test_rim_only_and_non_enhancing_lesions_have_no_viable_voxel(seed: int, tp: str) -> None:
    st = _study(seed, tp)
    v = _viable(seed, tp)
    empties = [rec for rec in st.truth["lesions"].values() if rec["kind"] in ("rim_only", "infiltrative")]
    assert empties
    for rec in empties:
        assert not np.any(v.array == rec["label"]), rec["lesion_id"]


@pytest.mark.parametrize(("seed", "tp"), STUDIES)
def test_lipiodol_never_viable(seed: int, tp: str) -> None:
    st = _study(seed, tp)
    v = _viable(seed, tp)
    dense = st.volumes["pre_contrast"].array >= 400  # lipiodol is 650 HU on every phase
    assert np.any(dense & (st.lesions.array != 0))
    assert not np.any(dense & (v.array != 0))


def test_rim_parameter_matters() -> None:
    """Without the reactive-rim rule the thin rim of L4 would count as viable."""
    st = _study(0, "baseline")
    v = viable_mask(st.lesions, st.volumes["arterial"], liver=st.liver, params=ViableParams(rim_max_thickness_mm=0.0))
    assert np.any(v.array == 4)


def _pre_phantom() -> tuple[LabelVolume, Volume, Volume]:
    """A lesion dense on pre-contrast (haemorrhage-like, 90 HU) that does not enhance (+5 HU)."""
    rng = np.random.default_rng(3)
    shape = (24, 64, 64)
    k, j, i = np.indices(shape)
    les = ((k - 12) * 2.0) ** 2 + ((j - 32) * 1.0) ** 2 + ((i - 32) * 1.0) ** 2 <= 12.0**2
    pre = np.where(les, 90, 55) + rng.normal(0, 10, shape)
    art = np.where(les, 95, 70) + rng.normal(0, 10, shape)
    kw = {"spacing": (2.0, 1.0, 1.0), "frame_of_reference_uid": "1.2.3"}
    lesion = LabelVolume.create(les.astype(np.uint8), spacing=(2.0, 1.0, 1.0), labels={1: "L1"}, frame_of_reference_uid="1.2.3")
    return lesion, Volume.create(np.rint(art).astype(np.int16), **kw), Volume.create(np.rint(pre).astype(np.int16), **kw)


def test_pre_contrast_rules_out_non_enhancing_dense_tissue() -> None:
    lesion, art, pre = _pre_phantom()
    without = viable_mask(lesion, art)
    assert (without.array != 0).sum() > 0.5 * (lesion.array != 0).sum()  # looks "enhancing" vs liver
    with_pre = viable_mask(lesion, art, pre_contrast=pre, params=ViableParams(register_pre_contrast=False))
    assert not np.any(with_pre.array)
    registered = viable_mask(lesion, art, pre_contrast=pre)
    assert not np.any(registered.array)
    assert "pre_contrast_registration" in registered.meta["viable"]


def test_empty_lesion_map_gives_empty_viable() -> None:
    lesion, art, _ = _pre_phantom()
    out = viable_mask(lesion.with_array(np.zeros(lesion.shape, np.uint8)), art)
    assert not np.any(out.array)


def test_frame_of_reference_mismatch() -> None:
    lesion, art, _ = _pre_phantom()
    from dataclasses import replace

    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        viable_mask(lesion, replace(art, frame_of_reference_uid="9.9"))


def test_no_parenchyma_around_the_lesion() -> None:
    lesion, art, _ = _pre_phantom()
    liver = LabelVolume.like(art, lesion.array)  # the "liver" is only the lesion itself
    with pytest.raises(SegmentationError, match="no liver parenchyma"):
        viable_mask(lesion, art, liver=liver)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"smoothing_sigma_mm": 0.0}, "smoothing_sigma_mm", id="sigma"),
        pytest.param({"rim_max_thickness_mm": -1.0}, ">= 0", id="rim"),
        pytest.param({"ring_inner_mm": 20.0}, "ring", id="ring"),
    ],
)
def test_param_validation(kw: dict[str, float], match: str) -> None:
    with pytest.raises(SegmentationError, match=match):
        ViableParams(**kw)


def test_mr_needs_explicit_thresholds() -> None:
    from dataclasses import replace

    lesion, art, _ = _pre_phantom()
    mr = replace(art, modality="MR")
    with pytest.raises(SegmentationError, match="Hounsfield"):
        viable_mask(lesion, mr)
    out = viable_mask(lesion, mr, params=ViableParams(lipiodol_min_hu=float("inf")))
    assert out.array.any()


def _moved(vol: Volume, shift_mm: tuple[float, float, float]) -> Volume:
    """``vol``'s content moved by ``shift_mm`` (LPS, mm): a breathing shift between phases."""
    import SimpleITK as sitk

    tx = sitk.TranslationTransform(3, tuple(-float(v) for v in shift_mm))
    img = sitk.Resample(vol.to_sitk(), vol.to_sitk(), tx, sitk.sitkLinear, -1000.0)
    return vol.with_array(np.rint(sitk.GetArrayFromImage(img)).astype(np.int16))


@pytest.mark.parametrize("lesion_id", ["L2", "L3"])
def test_breathing_shift_of_the_pre_contrast_is_undone(lesion_id: str) -> None:
    """Pre-contrast moved 4-6 mm (breathing): the local registration finds the shift within one
    voxel and the viable part is the one an aligned pre-contrast gives; lipiodol stays out."""
    st = _study(0, "baseline")
    rec = st.truth["lesions"][lesion_id]
    one = st.lesions.with_array((st.lesions.array == rec["label"]).astype(np.uint8))
    art, pv = st.volumes["arterial"], st.volumes["portal_venous"]
    shift = (4.6, -3.2, 6.0)
    aligned = viable_mask(one, art, pre_contrast=st.volumes["pre_contrast"], portal_venous=pv, liver=st.liver)
    moved = viable_mask(one, art, pre_contrast=_moved(st.volumes["pre_contrast"], shift), portal_venous=pv, liver=st.liver)
    reg = moved.meta["viable"]["pre_contrast_registration"]
    assert np.linalg.norm(np.asarray(reg["translation_mm"]) - np.asarray(shift)) <= min(art.spacing)
    assert not moved.meta["viable"].get("pre_contrast_registration_rejected", False)
    assert dice(moved.array != 0, aligned.array != 0) >= 0.9
    truth = st.viable.array == rec["label"]
    assert dice(moved.array != 0, truth) >= 0.85
    dense = st.volumes["pre_contrast"].array >= 400
    assert not np.any(dense & (moved.array != 0))


def test_shifted_pre_contrast_needs_the_registration() -> None:
    """A non-enhancing lesion dense on pre-contrast, the pre-contrast moved 5 mm: unregistered,
    the arterial lesion over shifted liver looks enhancing (+40 HU); registered, nothing is viable."""
    lesion, art, pre = _pre_phantom()
    moved = _moved(pre, (5.0, -4.0, 0.0))
    unregistered = viable_mask(lesion, art, pre_contrast=moved, params=ViableParams(register_pre_contrast=False))
    assert (unregistered.array != 0).sum() > 0.05 * (lesion.array != 0).sum()
    registered = viable_mask(lesion, art, pre_contrast=moved)
    assert not np.any(registered.array)
    t = registered.meta["viable"]["pre_contrast_registration"]["translation_mm"]
    assert np.linalg.norm(np.asarray(t) - (5.0, -4.0, 0.0)) <= 1.0  # 1 mm voxels


def test_the_ring_by_dilations_is_the_distance_transforms(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The parenchyma ring (3-15 mm around each lesion) by two dilations (``within_mm``) gives the
    same viable map, its reference values included, as by the distance transform it replaced."""
    from hcc_imaging.segment import viable as viable_mod

    st = _study(1, "fu1")
    args = (st.lesions, st.volumes["arterial"])
    kw = {"pre_contrast": st.volumes["pre_contrast"], "portal_venous": st.volumes["portal_venous"], "liver": st.liver}
    by_dilation = viable_mask(*args, **kw)
    monkeypatch.setattr(viable_mod, "_RING_DILATION_MAX_RUNS", -1)  # every ring by the transform
    by_transform = viable_mask(*args, **kw)
    assert np.count_nonzero(by_dilation.array) > 50
    assert np.array_equal(by_dilation.array, by_transform.array)
    assert by_dilation.meta["viable"]["lesions"] == by_transform.meta["viable"]["lesions"]


def _with_nan(vol: Volume, *voxels: tuple[int, int, int]) -> Volume:
    """``vol`` as a float image with NaN at ``voxels`` (a float series' padding, a resampling's outside)."""
    from dataclasses import replace

    arr = np.array(vol.array, np.float32)
    for v in voxels:
        arr[v] = np.nan
    return replace(vol, array=arr)


@pytest.mark.parametrize("phase", ["arterial", "pre_contrast", "portal_venous"])
def test_nan_voxels_in_a_phase_near_a_lesion_are_refused_naming_the_phase(phase: str) -> None:
    """``segment_lesion`` refuses NaN voxels near its click; ``viable_mask`` read them without a word:
    a NaN in a lesion or its parenchyma ring changed the viable part (NaN compares false: no
    enhancement; the ring's median NaN), one in the pre-contrast's registration box its alignment.
    Now a SegmentationError names the phase, its series and where; NaN far from every lesion (outside
    what is read) changes nothing and is not refused."""
    st = _study(0, "baseline")
    l1 = st.lesions.with_array(np.where(st.lesions.array == 1, 1, 0).astype(st.lesions.array.dtype))
    inside = tuple(int(v) for v in np.argwhere(l1.array == 1)[len(np.argwhere(l1.array == 1)) // 2])
    ring = (inside[0], inside[1], int(np.argwhere(l1.array[inside[0], inside[1]] == 1).max()) + 4)  # ~9 mm out
    vols = {str(k): v for k, v in st.volumes.items()}
    kw = {"pre_contrast": vols["pre_contrast"], "portal_venous": vols["portal_venous"], "liver": st.liver}
    for at in (inside, ring):
        bad = {**vols, phase: _with_nan(vols[phase], at)}
        with pytest.raises(SegmentationError, match=rf"viable_mask: the {phase} image \(series .+\) has 1 NaN") as err:
            viable_mask(l1, bad["arterial"], pre_contrast=bad["pre_contrast"], portal_venous=bad["portal_venous"],
                        liver=st.liver)
        assert f"voxel {at}" in str(err.value) and "labels 1 (L1)" in str(err.value), str(err.value)
    far = {**vols, phase: _with_nan(vols[phase], (0, 140, 140))}  # >= 100 mm from L1
    clean = viable_mask(l1, vols["arterial"], **kw)
    got = viable_mask(l1, far["arterial"], pre_contrast=far["pre_contrast"], portal_venous=far["portal_venous"],
                      liver=st.liver)
    assert np.count_nonzero(clean.array) > 0 and np.array_equal(got.array, clean.array)

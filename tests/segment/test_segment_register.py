"""Registration: known shifts/rotations recovered within one voxel; the record moves points,
lines, volumes and masks; JSON round trip; errors."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import Registration, RegistrationError, RegistrationParams, register_volumes
from hcc_imaging.volume import Volume

from ._phantom import dice

SHAPE = (44, 112, 112)
SPACING = (3.5, 3.0, 3.0)


@functools.lru_cache(maxsize=1)
def _study():  # type: ignore[no-untyped-def]
    return make_study(1, shape=SHAPE, spacing=SPACING)


def _moved(rotation_deg: tuple[float, float, float], shift_mm: tuple[float, float, float],
           st: object = None) -> tuple[Volume, Registration]:
    """The arterial phase (of ``st``, default :func:`_study`) moved by a known rigid transform, with
    fresh noise; returns the moving image and the true fixed -> moving map."""
    import SimpleITK as sitk

    st = _study() if st is None else st
    fixed = st.volumes["arterial"]  # type: ignore[attr-defined]
    t = sitk.Euler3DTransform()
    t.SetCenter((-60.0, -10.0, 0.0))
    t.SetRotation(*[float(np.deg2rad(a)) for a in rotation_deg])
    t.SetTranslation(shift_mm)
    img = sitk.Resample(fixed.to_sitk(), fixed.to_sitk(), t, sitk.sitkLinear, -1000.0)
    arr = sitk.GetArrayFromImage(img) + np.random.default_rng(7).normal(0, 15, fixed.shape)
    moving = Volume(array=np.rint(arr).astype(np.int16), geometry=fixed.geometry, frame_of_reference_uid="1.2.826.0.99.2")
    # moving(x) = fixed(T(x)), so the registration must find T^-1 (fixed -> moving points)
    inv = t.GetInverse()
    truth = Registration(kind="rigid", matrix=np.asarray(inv.GetMatrix()).reshape(3, 3),
                         translation_mm=inv.GetTranslation(), center_mm=inv.GetCenter())
    return moving, truth


CASES = [
    pytest.param((0.0, 0.0, 0.0), (6.0, -4.0, 5.0), False, id="shift-only"),
    pytest.param((1.0, -1.5, 5.0), (5.0, -3.0, 4.0), False, id="shift-and-rotation"),
    pytest.param((1.0, -1.5, 5.0), (5.0, -3.0, 4.0), True, id="shift-and-rotation-liver-masked"),
]


@pytest.mark.parametrize(("rot", "shift", "masked"), CASES)
def test_recovers_known_transform_within_one_voxel(rot: tuple[float, float, float], shift: tuple[float, float, float], masked: bool) -> None:
    st = _study()
    fixed = st.volumes["arterial"]
    moving, truth = _moved(rot, shift)
    reg = register_volumes(fixed, moving, kind="rigid", fixed_mask=st.liver if masked else None)
    pts = st.liver.index_to_lps(np.argwhere(st.liver.array)[::200])
    residual = reg.residual_mm(truth, pts)
    assert residual.max() <= min(SPACING)  # <= 1 voxel everywhere in the liver
    assert reg.parameters["masked"] is masked


def test_affine_stage() -> None:
    st = _study()
    fixed = st.volumes["arterial"]
    moving, truth = _moved((0.0, 0.0, 4.0), (4.0, 3.0, -3.0))
    reg = register_volumes(fixed, moving, kind="affine")
    assert reg.parameters["stages"][-1] == "affine"
    assert reg.to_sitk().GetName() == "AffineTransform"
    pts = st.liver.index_to_lps(np.argwhere(st.liver.array)[::200])
    assert reg.residual_mm(truth, pts).max() <= min(SPACING)


def test_points_lines_masks_and_volumes_move_consistently() -> None:
    st = _study()
    fixed = st.volumes["arterial"]
    moving, truth = _moved((0.0, 0.0, 5.0), (5.0, -3.0, 4.0))
    # a lesion drawn on the moving image = the fixed truth pulled through T
    from hcc_imaging.volume import resample_labels

    t_inv = truth.to_sitk().GetInverse()
    lesions_moving = resample_labels(st.lesions, moving, transform=t_inv)
    back = truth.resample_labels(lesions_moving, fixed)
    for lab in (1, 2, 3):
        assert dice(back.array == lab, st.lesions.array == lab) >= 0.8
    # points and lines: fixed -> moving -> fixed is the identity
    p = np.array([[-95.0, -40.0, 20.0], [-45.0, -40.0, -20.0]])
    np.testing.assert_allclose(truth.map_to_fixed(truth.map_to_moving(p)), p, atol=1e-9)
    np.testing.assert_allclose(truth.map_line_to_fixed(truth.map_to_moving(p)), p, atol=1e-9)
    # a resampled volume lands back on the fixed image (where both are defined)
    vol_back = truth.resample_volume(moving, fixed)
    inside = st.liver.array != 0
    diff = vol_back.array[inside].astype(float) - fixed.array[inside].astype(float)
    assert abs(float(np.median(diff))) < 5.0
    assert vol_back.frame_of_reference_uid == fixed.frame_of_reference_uid


def test_json_round_trip_and_identity() -> None:
    moving, truth = _moved((0.0, 0.0, 3.0), (1.0, 2.0, 3.0))
    text = json.dumps(truth.to_json())
    back = Registration.from_json(text)
    np.testing.assert_allclose(back.matrix, truth.matrix)
    assert back.translation_mm == truth.translation_mm
    ident = register_volumes(moving, moving, kind="identity")
    np.testing.assert_allclose(ident.map_to_moving([[1.0, 2.0, 3.0]]), [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: Registration.from_json({"schema": "x"}), "not a registration record", id="schema"),
        pytest.param(lambda: Registration.from_json({"schema": "hcc_imaging.registration/1"}), "incomplete", id="incomplete"),
        pytest.param(lambda: Registration(kind="rigid", matrix=np.zeros((3, 3)), translation_mm=(0, 0, 0), center_mm=(0, 0, 0)), "invertible", id="singular"),
        pytest.param(lambda: RegistrationParams(shrink_factors=(2, 1), smoothing_sigmas_mm=(1.0,)), "same", id="levels"),
        pytest.param(lambda: RegistrationParams(sampling_fraction=0.0), "sampling_fraction", id="sampling"),
    ],
)
def test_record_errors(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistrationError, match=match):
        call()


def test_register_argument_errors() -> None:
    st = _study()
    fixed = st.volumes["arterial"]
    with pytest.raises(RegistrationError, match="initial must be"):
        register_volumes(fixed, fixed, initial="magic")
    with pytest.raises(RegistrationError, match="needs both"):
        register_volumes(fixed, fixed, initial="centroid")
    far = Volume.create(np.zeros((4, 8, 8), np.int16), spacing=(1, 1, 1), origin=(5000.0, 5000.0, 5000.0))
    with pytest.raises(RegistrationError, match="failed in SimpleITK"):
        register_volumes(fixed, far, initial="identity")


@pytest.mark.parametrize("n_slices", [1, 3])
def test_too_few_slices_are_refused_with_a_message_saying_so(n_slices: int) -> None:
    """A series of 1-3 slices: a ``RegistrationError`` saying it has too few slices and the minimum
    (before: ITK's raw 'fewer than four pixels' plus a misleading 'check that the images overlap')."""
    st = _study()
    fixed = st.volumes["arterial"]
    thin = fixed.crop((20, 0, 0), (20 + n_slices, fixed.shape[1], fixed.shape[2]))
    for params in (None, RegistrationParams.carry()):
        with pytest.raises(RegistrationError, match=f"is {n_slices} x 112 x 112 voxels.*at least 4 voxels"):
            register_volumes(thin, thin, params=params)
        with pytest.raises(RegistrationError, match="too few for a registration"):
            register_volumes(fixed, thin, params=params)


def test_the_check_of_a_registration_reads_the_field_and_the_metric() -> None:
    """``registration_problems``: a transform that sends the carried points (or the liver) out of
    the other image's field, or a metric near 0, is reported with its figures; the true transform
    of a moved copy passes."""
    from hcc_imaging.segment import registration_problems

    st = _study()
    fixed = st.volumes["arterial"]
    moving, truth = _moved((0.0, 0.0, 5.0), (5.0, -3.0, 4.0))
    ok = Registration(kind="affine", matrix=truth.matrix, translation_mm=truth.translation_mm,
                      center_mm=truth.center_mm, metric_value=-1.0)
    centres = [st.truth["lesions"][k]["seed_lps"] for k in ("L1", "L2")]
    assert registration_problems(ok, fixed, moving, points_lps=centres)[0] == []
    problems, fig = registration_problems(ok, fixed, moving, fixed_mask=st.liver, moving_mask=st.liver)
    assert problems == [] and fig["field_fraction"] == 1.0
    away = Registration(kind="affine", matrix=np.eye(3), translation_mm=(0.0, 0.0, 400.0), center_mm=(0, 0, 0),
                        metric_value=-0.01)
    problems, fig = registration_problems(away, fixed, moving, points_lps=centres)
    assert fig["field_fraction"] == 0.0 and len(problems) == 2
    assert any("the points carried lands inside" in p for p in problems) and any("hardly match" in p for p in problems)


def test_empty_masks_are_refused() -> None:
    from hcc_imaging.volume import LabelVolume

    st = _study()
    fixed = st.volumes["arterial"]
    empty = LabelVolume.like(fixed, np.zeros(fixed.shape, np.uint8))
    with pytest.raises(RegistrationError, match="fixed_mask is empty"):
        register_volumes(fixed, fixed, fixed_mask=empty)
    with pytest.raises(RegistrationError, match="a mask is empty"):
        register_volumes(fixed, fixed, fixed_mask=st.liver, moving_mask=empty, initial="centroid")


# ------------------------------------------------------------------ local translation search
@functools.lru_cache(maxsize=1)
def _fine_study():  # type: ignore[no-untyped-def]
    """1 mm in-plane, 2 mm slices: the coarse (2 mm) and the fine (1 mm) searches both run."""
    return make_study(1, shape=(60, 240, 240), spacing=(2.0, 1.0, 1.0))


def _roi_around(st, lesion_id: str, margin_mm: float = 30.0) -> Volume:  # type: ignore[no-untyped-def]
    """The arterial phase in the box of one lesion plus ``margin_mm`` (what viable_mask registers)."""
    lab = st.truth["lesions"][lesion_id]["label"]
    fixed = st.volumes["arterial"]
    idx = np.argwhere(st.lesions.array == lab)
    pad = np.ceil(margin_mm / np.asarray(fixed.spacing)).astype(int)
    lo = np.maximum(idx.min(0) - pad, 0)
    hi = np.minimum(idx.max(0) + 1 + pad, fixed.shape)
    return fixed.crop(lo, hi)


def _translated(vol: Volume, shift_mm: tuple[float, float, float]) -> Volume:
    """``vol``'s content moved by ``shift_mm`` (LPS): moving(x) = vol(x - shift), so the true
    fixed -> moving map is p + shift."""
    import SimpleITK as sitk

    tx = sitk.TranslationTransform(3, tuple(-float(v) for v in shift_mm))
    img = sitk.Resample(vol.to_sitk(), vol.to_sitk(), tx, sitk.sitkLinear, -1000.0)
    return Volume(array=np.rint(sitk.GetArrayFromImage(img)).astype(np.int16), geometry=vol.geometry,
                  frame_of_reference_uid=vol.frame_of_reference_uid)


SHIFTS = [
    pytest.param((0.0, 0.0, 0.0), id="none"),
    pytest.param((5.2, -3.7, 4.4), id="breathing-5mm"),
    pytest.param((-2.9, 6.3, -13.5), id="craniocaudal-13mm"),
]


@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize("lesion_id", ["L2", "L3"])
@pytest.mark.parametrize("grid", ["coarse-3mm", "fine-1mm"])
def test_translation_search_pre_to_arterial_within_one_voxel(grid: str, lesion_id: str, shift: tuple[float, float, float]) -> None:
    """Pre-contrast moved by a known shift, registered to the arterial phase around a lesion
    (different contrast: the search matches gradient magnitudes): within one voxel."""
    from hcc_imaging.segment import constants as C
    from hcc_imaging.segment import register_translation

    st = _study() if grid == "coarse-3mm" else _fine_study()
    fixed = _roi_around(st, lesion_id)
    moving = _translated(st.volumes["pre_contrast"], shift)
    reg = register_translation(fixed, moving, fine_trim_mm=20.0, intensity_window=C.VIABLE_REGISTRATION_WINDOW_HU)
    assert reg.kind == "translation"
    err = np.linalg.norm(np.asarray(reg.translation_mm) - np.asarray(shift))
    assert err <= min(fixed.spacing), (reg.translation_mm, shift)
    assert len(reg.parameters["stages"]) == (2 if grid == "fine-1mm" else 1)
    # the exhaustive coarse search never ends below no shift at all
    assert reg.parameters["stages"][0]["peak_ncc"] >= reg.parameters["ncc_at_zero_shift"]
    # the record round-trips and moves points by the translation
    back = Registration.from_json(json.loads(json.dumps(reg.to_json())))
    np.testing.assert_allclose(back.map_to_moving([[0.0, 0.0, 0.0]]), [reg.translation_mm], atol=1e-9)


def test_translation_search_errors() -> None:
    from hcc_imaging.segment import register_translation

    st = _study()
    fixed = st.volumes["arterial"]
    with pytest.raises(RegistrationError, match="must be > 0"):
        register_translation(fixed, fixed, max_shift_mm=0.0)
    with pytest.raises(RegistrationError, match="too small"):
        register_translation(fixed.crop((0, 0, 0), (2, 8, 8)), fixed)
    flat = Volume.create(np.full((16, 24, 24), 40, np.int16), spacing=(3.0, 3.0, 3.0))
    reg = register_translation(flat, flat)  # no edge anywhere: nothing to align, identity
    assert reg.translation_mm == (0.0, 0.0, 0.0)


def test_a_lesions_centre_lies_inside_it_even_for_a_crescent() -> None:
    """``lesion_centre_lps``: a crescent's centroid lies in its hollow; the point returned is the
    crescent's voxel nearest the centroid (inside it), in LPS mm; an empty mask is refused."""
    from hcc_imaging.segment import SegmentationError, lesion_centre_lps
    from hcc_imaging.volume import Geometry, LabelVolume

    z, y, x = np.mgrid[:9, :40, :40]
    outer = (y - 20) ** 2 + (x - 20) ** 2 <= 15**2
    inner = (y - 20) ** 2 + (x - 26) ** 2 <= 13**2
    crescent = (outer & ~inner & (abs(z - 4) <= 2)).astype(np.uint8)
    geom = Geometry(shape=crescent.shape, spacing=(2.0, 0.5, 0.5), origin=(10.0, -5.0, 3.0))
    lab = LabelVolume(array=crescent * 3, geometry=geom, labels={3: "L3"})
    idx = np.argwhere(crescent)
    assert not crescent[tuple(np.rint(idx.mean(0)).astype(int))]  # the centroid is in the hollow
    p = lesion_centre_lps(lab, 3)
    k = geom.lps_to_nearest_index(p)
    assert crescent[k]
    assert np.allclose(geom.index_to_lps(np.asarray(k, float)), p)
    with pytest.raises(SegmentationError, match="no voxels of label 2"):
        lesion_centre_lps(lab, 2)
    # label 0 is the background: its "centre" is no lesion's (it was carried as one)
    with pytest.raises(SegmentationError, match="label 0 is the mask's background"):
        lesion_centre_lps(lab, 0)


def test_the_carry_registrations_coarse_grid_centres_each_voxel_on_its_block() -> None:
    """``RegistrationParams.carry()`` registers block means on ~3 mm voxels: each coarse voxel is
    the mean of its block and sits at the block's centre in LPS (an offset there would move every
    carried lesion), on an oblique grid too; a grid already coarser is used as given."""
    from hcc_imaging.segment.register import _coarse
    from hcc_imaging.volume import Geometry

    rng = np.random.default_rng(0)
    a = rng.normal(0, 100, (10, 21, 22)).astype(np.float32)
    c, s_ = np.cos(np.radians(30)), np.sin(np.radians(30))
    direction = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
    vol = Volume(array=a, geometry=Geometry(shape=a.shape, spacing=(1.5, 0.7, 0.7), origin=(3.0, -7.0, 11.0),
                                            direction=direction))
    co = _coarse(vol, 3.0)
    assert co.shape == (5, 5, 5) and co.spacing == pytest.approx((3.0, 2.8, 2.8))
    np.testing.assert_allclose(co.array[1, 2, 3], a[2:4, 8:12, 12:16].mean(), rtol=1e-5)
    block = np.argwhere(np.ones((2, 4, 4))) + (2, 8, 12)
    np.testing.assert_allclose(co.index_to_lps([1, 2, 3]), vol.index_to_lps(block.astype(float)).mean(0), atol=1e-9)
    assert _coarse(co, 3.0) is co


def test_the_carry_registration_recovers_a_rotation_and_shift_at_the_lesions() -> None:
    """``RegistrationParams.carry()`` (block means on ~3 mm voxels, two levels) on the study phantom
    at 1.5 mm pixels, moved by 5 deg and (5, -3, 4) mm with fresh noise: every lesion's centre is
    carried within one 3 mm voxel of the truth, whole image and liver-masked, rigid then affine."""
    st = make_study(1, shape=(44, 224, 224), spacing=(3.5, 1.5, 1.5))
    fixed = st.volumes["arterial"]
    moving, truth = _moved((0.0, 0.0, 5.0), (5.0, -3.0, 4.0), st)
    centres = np.array([st.truth["lesions"][k]["seed_lps"] for k in ("L1", "L2", "L3")], float)
    for mask in (None, st.liver):
        reg = register_volumes(fixed, moving, kind="affine", fixed_mask=mask, params=RegistrationParams.carry())
        assert reg.parameters["work_spacing_mm"] == 3.0 and reg.parameters["masked"] is (mask is not None)
        assert reg.residual_mm(truth, centres).max() <= 3.0

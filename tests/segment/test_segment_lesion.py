"""Seeded lesion segmentation: accuracy on analytic phantoms, robustness, errors."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import LesionParams, LowContrastError, SeedError, SegmentationError, segment_lesion
from hcc_imaging.volume import LabelVolume, Phase, Volume

from ._phantom import dice, perf_phantom


@functools.lru_cache(maxsize=16)
def _perf(seed: int, **kw: float) -> object:
    return perf_phantom(seed, **kw)


def _phantom(seed: int, **kw: float):  # type: ignore[no-untyped-def]
    return _perf(seed, **kw)


@functools.lru_cache(maxsize=2)
def _study(seed: int = 0):  # type: ignore[no-untyped-def]
    return make_study(seed)


CASES = [
    pytest.param(s, n, {}, 0.95, id=f"seed{s}-noise{int(n)}") for s in (0, 1, 2) for n in (5.0, 15.0, 25.0)
] + [
    pytest.param(3, 15.0, {"vessel_gap_mm": 0.0}, 0.95, id="touching-vessel"),
    pytest.param(4, 15.0, {"fat_gap_mm": 0.0}, 0.95, id="touching-liver-edge"),
    pytest.param(5, 15.0, {"lesion_hu": 110.0}, 0.95, id="hyperdense"),
    # a 12 mm lesion is ~17 pixels across and 5 slices: one voxel of border is 10 % of it.
    # Below the 0.95 target (docs/validation.md section 2.1, algorithm 1.3 unchanged): measured
    # 0.930-0.962 over seeds 0-9 at 15 HU (this seed 0.957) and 0.900-0.947 at 25 HU (this seed 0.925)
    pytest.param(6, 15.0, {"diameter_mm": 12.0}, 0.93, id="small-12mm"),
    pytest.param(6, 25.0, {"diameter_mm": 12.0}, 0.90, id="small-12mm-noise25"),
]


@pytest.mark.parametrize(("seed", "noise", "kw", "min_dice"), CASES)
def test_click_at_centre_dice(seed: int, noise: float, kw: dict[str, float], min_dice: float) -> None:
    ph = _phantom(seed, noise_sd_hu=noise, **kw)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= min_dice
    assert res.notes == ()


@pytest.mark.parametrize(
    ("seed", "kw", "min_dice"),
    [
        pytest.param(0, {}, 0.99, id="30mm-seed0"),
        pytest.param(1, {}, 0.99, id="30mm-seed1"),
        pytest.param(1, {"lesion_hu": 110.0}, 0.99, id="30mm-hyperdense"),
        pytest.param(0, {"diameter_mm": 12.0}, 0.95, id="12mm-seed0"),
        pytest.param(1, {"diameter_mm": 12.0}, 0.95, id="12mm-seed1"),
    ],
)
def test_noise_free_ct(seed: int, kw: dict[str, float], min_dice: float) -> None:
    """A CT without noise (a synthetic image, a heavily denoised scan).  Its noise estimate is
    0 HU; before the floor (``LESION_MIN_NOISE_HU``, 1.13) every partial-volume voxel at the edge
    was "many sigmas" from the parenchyma, step 7 fired on this homogeneous lesion and step 8's
    rays gave Dice 0.64-0.69 (30 mm) and 0.19-0.21 (12 mm, a mask 8-10x the lesion).  Measured
    with the floor: 0.993 / 0.993 / 0.995 and 0.962 / 0.977.  A sharp lesion gets no note either:
    step 12 reads its likelihood ratio against the fit's own scatter (the 12 mm seed 0 was called
    ill-defined without that)."""
    ph = _phantom(seed, noise_sd_hu=0.0, **kw)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= min_dice
    assert res.notes == ()
    assert res.border_blur_mm is None


def test_noise_floor_in_hu_on_ct_relative_on_mr() -> None:
    """The floor is in HU on CT; on MR (no calibrated scale) a fraction of the values' scale."""
    from hcc_imaging.segment import constants as SC
    from hcc_imaging.segment._grow import floored_noise
    from hcc_imaging.volume import Modality

    ct = _phantom(0, noise_sd_hu=0.0).volume
    mr = Volume.create(np.asarray(ct.array), spacing=ct.spacing, modality=Modality.MR)
    raw = np.full((4, 4, 4), 1000.0, np.float32)
    assert floored_noise(ct, raw, 0.1) == SC.LESION_MIN_NOISE_HU
    assert floored_noise(ct, raw, 7.5) == 7.5
    assert floored_noise(mr, raw, 0.1) == pytest.approx(SC.LESION_MIN_NOISE_FRACTION * 1000.0)
    assert floored_noise(mr, raw, 30.0) == 30.0
    assert floored_noise(mr, raw * 1e-3, 1e-4) == pytest.approx(SC.LESION_MIN_NOISE_FRACTION)  # other units, same ratio


@pytest.mark.parametrize("diameter_mm", [12.0, 30.0])
def test_noise_free_mr(diameter_mm: float) -> None:
    """The perf.md lesion as noise-free MR values (HU + 1024): 0.21 / 0.64 before the floor."""
    from hcc_imaging.volume import Modality

    ph = _phantom(0, noise_sd_hu=0.0, diameter_mm=diameter_mm)
    mr = Volume.create((np.asarray(ph.volume.array).astype(np.int32) + 1024).astype(np.int16),
                       spacing=ph.volume.spacing, modality=Modality.MR)
    res = segment_lesion(mr, seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= 0.95


def test_one_noisy_seed_voxel_does_not_empty_the_mask() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    arr = np.array(ph.volume.array)
    arr[ph.seed_index] = 900  # one wild voxel (e.g. a calcification or a noise spike)
    res = segment_lesion(ph.volume.with_array(arr), seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= 0.95


@pytest.mark.parametrize("offset_frac", [pytest.param(0.5, id="half-radius-off-centre"), pytest.param(-0.6, id="other-side")])
def test_off_centre_click(offset_frac: float) -> None:
    ph = _phantom(1, noise_sd_hu=15.0)
    k, j, i = ph.seed_index
    di = int(round(offset_frac * ph.radius_mm / ph.volume.spacing[2]))
    res = segment_lesion(ph.volume, seed_index=(k, j, i + di))
    assert dice(res.labels.array, ph.truth.array) >= 0.95


def test_seed_lps_and_index_give_the_same_mask() -> None:
    ph = _phantom(2, noise_sd_hu=15.0)
    a = segment_lesion(ph.volume, seed_index=ph.seed_index)
    b = segment_lesion(ph.volume, seed_lps=ph.volume.index_to_lps(ph.seed_index))
    np.testing.assert_array_equal(a.labels.array, b.labels.array)
    assert b.seed_index == tuple(ph.seed_index)


def test_line_across_the_lesion() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    c = np.asarray(ph.centre_lps)
    line = [c - [ph.radius_mm, 0, 0], c + [ph.radius_mm, 0, 0]]
    res = segment_lesion(ph.volume, line_lps=line)
    assert dice(res.labels.array, ph.truth.array) >= 0.95
    assert res.line_lps is not None
    np.testing.assert_allclose(res.seed_lps, c, atol=1e-6)


def test_oblique_grid_seed_in_lps() -> None:
    """The same phantom on a rotated grid: the LPS seed still lands in the lesion."""
    ph = _phantom(0, noise_sd_hu=15.0)
    t = np.deg2rad(30)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])
    geom_dir = rot @ ph.volume.direction
    vol = Volume.create(ph.volume.array, spacing=ph.volume.spacing, origin=(10.0, -20.0, 5.0), direction=geom_dir)
    truth = LabelVolume.like(vol, ph.truth.array)
    res = segment_lesion(vol, seed_lps=vol.index_to_lps(ph.seed_index))
    assert dice(res.labels.array, truth.array) >= 0.95


def test_kept_inside_the_liver_mask() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    liver = np.ones(ph.volume.shape, np.uint8)
    liver[:, :, : ph.seed_index[2] - 3] = 0  # the liver ends through the lesion
    lv = LabelVolume.like(ph.volume, liver)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index, liver=lv)
    m = res.labels.array != 0
    assert m.any()
    assert not np.any(m & (liver == 0))
    with pytest.raises(SeedError, match="outside the liver mask"):
        k, j, i = ph.seed_index
        segment_lesion(ph.volume, seed_index=(k, j, 2), liver=lv)


def test_chooses_the_most_conspicuous_phase_or_the_asked_one() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    flat = ph.volume.with_array(np.full(ph.volume.shape, 60, np.int16) + np.random.default_rng(1).normal(0, 15, ph.volume.shape).astype(np.int16))
    phases = {Phase.PORTAL_VENOUS: flat.with_phase("portal_venous"), Phase.ARTERIAL: ph.volume.with_phase("arterial")}
    res = segment_lesion(phases, seed_index=ph.seed_index)
    assert res.phase == Phase.ARTERIAL
    assert res.phase_conspicuity["arterial"] > res.phase_conspicuity["portal_venous"]
    assert dice(res.labels.array, ph.truth.array) >= 0.95
    with pytest.raises(LowContrastError, match="not distinguishable|no surrounding tissue"):
        segment_lesion(phases, seed_index=ph.seed_index, phase="portal_venous")
    with pytest.raises(SeedError, match="only"):
        segment_lesion(phases, seed_index=ph.seed_index, phase="delayed")


@pytest.mark.parametrize(
    ("lesion_id", "mode"),
    [
        pytest.param("L1", "click", id="typical-hcc-click"),
        pytest.param("L1", "line", id="typical-hcc-line"),
        pytest.param("L2", "line", id="necrotic-hcc-line"),
        pytest.param("L3", "line", id="post-tace-lipiodol-line"),
        # one click in the viable nodule / remnant of a heterogeneous lesion: the whole lesion
        # (algorithm 1.0: 0.241 and 0.112; 1.1 measured 0.996-0.998 and 0.956 on seeds 0-1)
        pytest.param("L2", "click", id="necrotic-hcc-click-in-nodule"),
        pytest.param("L3", "click", id="post-tace-lipiodol-click-in-remnant"),
    ],
)
def test_study_phantom_lesions(lesion_id: str, mode: str) -> None:
    st = _study(0)
    rec = st.truth["lesions"][lesion_id]
    truth = st.lesions.array == rec["label"]
    if mode == "click":
        res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], liver=st.liver)
    else:
        res = segment_lesion(st.volumes, line_lps=rec["ld_endpoints_lps"], liver=st.liver)
    floor = 0.94 if (lesion_id, mode) == ("L3", "click") else 0.95
    assert dice(res.labels.array, truth) >= floor
    if mode == "click" and lesion_id in ("L2", "L3"):
        # clicked on its arterially enhancing part; grown on the phase with the sharper outer border
        assert res.phase == Phase.ARTERIAL
        assert any("grown to the lesion border" in n for n in res.notes)
        # the values (and window) are those of the growth phase, and say so
        assert res.values_phase is not None and res.values_phase != Phase.ARTERIAL
        assert f"on the {res.values_phase} phase" in next(n for n in res.notes if "grown to the lesion border" in n)


@pytest.mark.parametrize("seed", [pytest.param(0, id="seed0"), pytest.param(1, id="seed1")])
def test_click_in_necrotic_core_of_a_heterogeneous_lesion(seed: int) -> None:
    """Clicking the necrotic centre (not the nodule) of L2 also gives the whole lesion."""
    st = _study(seed) if seed == 0 else make_study(seed)
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    vol = st.volumes["arterial"]
    nec = truth & (st.viable.array != rec["label"])  # necrosis (and the thin rim)
    from scipy import ndimage as ndi

    depth = ndi.distance_transform_edt(nec, sampling=vol.spacing)
    core = tuple(int(v) for v in np.unravel_index(int(np.argmax(depth)), depth.shape))
    res = segment_lesion(st.volumes, seed_index=core, phase="arterial", liver=st.liver)
    assert dice(res.labels.array, truth) >= 0.9
    assert res.surroundings_value == pytest.approx(st.truth["tissue_hu"]["liver"]["arterial"], abs=10)


def test_heterogeneous_growth_is_rejected_when_not_enclosed() -> None:
    """With a leak clamp smaller than the lesion the growth reaches the clamp: the clicked
    region is kept (an honest under-segmentation, never a leak); switching the step off too."""
    st = _study(0)
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    full = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], liver=st.liver)
    clamped = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], liver=st.liver, params=LesionParams(expansion_max_mm=4.0))
    off = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], liver=st.liver, params=LesionParams(heterogeneous_expansion=False))
    np.testing.assert_array_equal(clamped.labels.array, off.labels.array)
    assert dice(off.labels.array, truth) < 0.5 < dice(full.labels.array, truth)


def test_result_record_and_provenance() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index, label=7, lesion_id="T7")
    assert res.labels.labels == {7: "T7"}
    assert set(np.unique(res.labels.array)) == {0, 7}
    prov = json.loads(json.dumps(res.provenance()))
    assert prov["algorithm"] == res.algorithm and prov["version"] == "1.70"
    assert prov["parameters"]["smoothing_sigma_mm"] == 1.0
    assert prov["seed_index"] == list(ph.seed_index)
    # one phase: the lesion / surroundings values are read on it
    assert res.values_phase == res.phase and prov["values_phase"] == str(res.phase)
    assert res.window[0] < res.window[1]
    assert res.volume_mm3 == pytest.approx((res.labels.array != 0).sum() * ph.volume.voxel_volume_mm3)
    with pytest.raises(AttributeError):
        res.phase = Phase.ARTERIAL  # type: ignore[misc]


def test_a_click_on_the_parenchyma_without_a_liver_mask_is_refused() -> None:
    """A click on normal liver, 30 mm from every lesion, with no liver mask: the region grows over
    the whole liver (1.27 L of the 1.30 L, 'touches the largest region of interest' and two more
    notes) until 1.13, which refuses it (``NotEnclosedError``, a ``LowContrastError``) and says
    what to do.  With the liver mask the click is refused as before (no contrast)."""
    from scipy import ndimage

    from hcc_imaging.segment import NotEnclosedError

    st = _study(0)
    seed = (32, 61, 56)
    assert st.liver.array[seed]
    far = ndimage.distance_transform_edt(st.lesions.array == 0, sampling=st.liver.spacing)
    assert far[seed] > 30.0
    with pytest.raises(NotEnclosedError, match="largest region of interest.*liver mask.*line"):
        segment_lesion(st.volumes, seed_index=seed)
    with pytest.raises(LowContrastError):
        segment_lesion(st.volumes, seed_index=seed, liver=st.liver)


def test_a_click_whose_mask_leaves_out_the_clicked_voxel_is_refused() -> None:
    """The study phantom on 1.15 mm pixels (3 mm slices, sigma 15): a click in the perihepatic ascites
    (L8, 21.7 mL) ended in step 10's joint classes as an 18-voxel sliver beside the click, not holding
    it (Dice 0.002), returned as a lesion until 1.28.  A click's mask that leaves out the clicked
    voxel is refused, with what to do (the 0.68 mm grid refuses this click too, as not enclosed)."""
    st = make_study(0, timepoint="baseline", noise_sd_hu=15.0, spacing=(3.0, 1.15, 1.15), shape=(44, 300, 300))
    rec = st.truth["lesions"]["L8"]
    with pytest.raises(LowContrastError, match="leaves out the clicked voxel.*line_lps"):
        segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    # the other lesions of the same study still hold their clicks
    for lid in ("L1", "L2", "L3"):
        res = segment_lesion(st.volumes, seed_lps=st.truth["lesions"][lid]["seed_lps"], liver=st.liver)
        assert dice(res.labels.array != 0, st.lesions.array == st.truth["lesions"][lid]["label"]) >= 0.95


def test_a_click_whose_mask_is_smaller_than_the_seed_ball_is_refused() -> None:
    """The same grid, seed 1: the ascites click's mask was 5 voxels (20 mm3) holding the click, from
    step 10's joint classes (Dice 0.000), returned until 1.30.  The seed's value is the median of a
    2.5 mm ball (65 mm3); a mask under half of it cannot be the tissue that median read, so the
    click is refused."""
    st = make_study(1, timepoint="baseline", noise_sd_hu=15.0, spacing=(3.0, 1.15, 1.15), shape=(44, 300, 300))
    with pytest.raises(LowContrastError, match=r"5 voxels \(20 mm3\), less than half the 2.5 mm ball"):
        segment_lesion(st.volumes, seed_lps=st.truth["lesions"]["L8"]["seed_lps"])


def test_roi_too_small_is_flagged() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index, roi_mm=8.0)
    assert any("touches the border" in n for n in res.notes)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        pytest.param({}, SeedError, "no seed", id="no-seed"),
        pytest.param({"seed_index": (1, 1, 1), "seed_lps": (0, 0, 0)}, SeedError, "not both", id="two-seeds"),
        pytest.param({"seed_index": (500, 1, 1)}, SeedError, "outside", id="outside"),
        pytest.param({"seed_index": (1, 1)}, SeedError, "3 integers", id="bad-index"),
        pytest.param({"seed_lps": (0, np.nan, 0)}, SeedError, "3 finite", id="nan-lps"),
        pytest.param({"line_lps": [(0, 0, 0), (0, 0, 0)]}, SeedError, "zero length", id="zero-line"),
        pytest.param({"line_lps": [(0, 0, 0)]}, SeedError, "two LPS points", id="bad-line"),
    ],
)
def test_seed_errors(kwargs: dict[str, object], err: type[Exception], match: str) -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    with pytest.raises(err, match=match):
        segment_lesion(ph.volume, **kwargs)  # type: ignore[arg-type]


def test_bright_lesion_on_a_fine_grid_is_not_refused_when_the_seed_median_is_off() -> None:
    """A 20 mm lesion at 250 HU (190 HU above the liver) at 25 HU noise on 3 x 0.6 x 0.6 mm.  The
    seed ball's median (one slice, 55 voxels: standard error 4.2 HU) came out 14 HU below the
    lesion, more than the 2.5 smoothed-noise sigmas (8.8 HU) of the first region's band: a core
    of a few voxels, a ring inside the lesion (236.2 HU against 236.0) and a LowContrastError.
    Since 1.13 a refused click is retried once with the band widened by the median's own error:
    Dice 0.969 (found by a robustness sweep over grids, sizes, contrasts and noise; perf.md
    phantom seed 209, the sweep's index)."""
    ph = _phantom(209, noise_sd_hu=25.0, diameter_mm=20.0, lesion_hu=250.0, spacing=(3.0, 0.6, 0.6), shape=(30, 150, 150))
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= 0.95


def test_a_click_mask_smaller_than_its_seed_ball_is_retried() -> None:
    """A 40 mm lesion (50 HU above the liver) at 25 HU noise on 5 mm slices: the seed median came
    out 18 HU high, the ring lay inside the lesion and the window above the lesion kept 7 voxels
    (Dice 0.001, with an "ill-defined border" note).  A click's mask smaller than the seed ball is
    retried as a refused click is (1.13): 0.780 (this phantom blurs 3 mm along z, 0.6 of a 5 mm
    slice; the truth is geometric)."""
    ph = _phantom(131, noise_sd_hu=25.0, diameter_mm=40.0, lesion_hu=110.0, spacing=(5.0, 0.78, 0.78), shape=(26, 167, 167))
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= 0.7


def test_pure_noise_on_a_fine_grid_is_still_refused() -> None:
    """The retry with a wider first band must not turn noise into a lesion."""
    rng = np.random.default_rng(3)
    vol = Volume.create(np.rint(60 + rng.normal(0, 25, (30, 150, 150))).astype(np.int16), spacing=(3.0, 0.6, 0.6))
    with pytest.raises(LowContrastError, match="distinguishable|surrounding|no voxel"):
        segment_lesion(vol, seed_index=(15, 75, 75))


def test_uniform_image_is_low_contrast() -> None:
    vol = Volume.create(np.full((20, 40, 40), 60, np.int16), spacing=(2.5, 0.7, 0.7))
    with pytest.raises(LowContrastError, match="distinguishable|surrounding"):
        segment_lesion(vol, seed_index=(10, 20, 20))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"polarity": "sideways"}, "polarity", id="polarity"),
        pytest.param({"smoothing_sigma_mm": 0.0}, "smoothing_sigma_mm", id="sigma"),
        pytest.param({"ring_inner_mm": 8.0, "ring_outer_mm": 6.0}, "ring", id="ring"),
        pytest.param({"roi_growth": 1.0}, "roi_growth", id="growth"),
        pytest.param({"iterations": 0}, "iterations", id="iterations"),
        pytest.param({"shell_nonparenchyma_fraction": 0.0}, "shell_nonparenchyma_fraction", id="shell-fraction"),
        pytest.param({"expansion_rounds": 0}, "expansion_rounds", id="expansion-rounds"),
        pytest.param({"parenchyma_sample_mm": 5.0}, "parenchyma_sample_mm", id="parenchyma-sample"),
    ],
)
def test_param_validation(kw: dict[str, object], match: str) -> None:
    with pytest.raises(SegmentationError, match=match):
        LesionParams(**kw)  # type: ignore[arg-type]


def test_bad_volume_types() -> None:
    with pytest.raises(TypeError, match="Volume"):
        segment_lesion(np.zeros((3, 3, 3)), seed_index=(1, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a Volume"):
        segment_lesion({"arterial": np.zeros((3, 3, 3))}, seed_index=(1, 1, 1))  # type: ignore[dict-item]
    with pytest.raises(SegmentationError, match="no phase volume"):
        segment_lesion({}, seed_index=(1, 1, 1))


def test_contrast_below_the_named_minimum_is_refused_not_guessed() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)
    with pytest.raises(LowContrastError, match="not distinguishable"):
        segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(min_contrast_k_sigma=100.0))


def test_wrong_forced_polarity_finds_nothing_at_the_seed() -> None:
    ph = _phantom(0, noise_sd_hu=15.0)  # hypodense lesion
    with pytest.raises(LowContrastError, match="no voxel near the seed"):
        segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(polarity="hyper"))


@pytest.mark.parametrize("lesion_hu", [pytest.param(20.0, id="hypodense"), pytest.param(110.0, id="hyperdense")])
def test_lesion_bulging_into_fat_does_not_trigger_a_leak(lesion_hu: float) -> None:
    """A lesion crossing the liver edge by 10 mm, no liver mask: fat fills part of the ring, but
    the heterogeneous growth must not run into the fat (the clamp / enclosure test reject it)."""
    ph = _phantom(4, noise_sd_hu=15.0, fat_gap_mm=-10.0, lesion_hu=lesion_hu)
    on = segment_lesion(ph.volume, seed_index=ph.seed_index)
    off = segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(heterogeneous_expansion=False))
    np.testing.assert_array_equal(on.labels.array, off.labels.array)
    assert dice(on.labels.array, ph.truth.array) >= 0.95  # measured 0.975 / 0.955


def test_mask_at_the_image_edge_is_noted() -> None:
    """A region reaching the image's edge is suspect (a leak, or a lesion cut by the field of
    view or a crop: the IBSI sarcoma CT STS_019, cropped 5 cm around its tumour, gave a mask to
    the crop's edge with no note).  The perf phantom's 30 mm lesion, whole: no such note; the
    same image cropped through the lesion (in-plane, then across slices): one note each."""
    ph = _phantom(0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert not any("reaches" in n for n in res.notes) and res.checks == ()
    a = ph.volume.array
    k, j, i = ph.seed_index
    cut = i - 8  # columns from ~5.6 mm left of the lesion's centre
    inplane = Volume.create(np.ascontiguousarray(a[:, :, cut:]), spacing=ph.volume.spacing)
    res = segment_lesion(inplane, seed_index=(k, j, i - cut))
    assert any("edge of the image within a slice" in n for n in res.notes)
    assert not any("first or last slice" in n for n in res.notes)
    # the notes that say the mask may be wrong are its checks too (a batch lists them per lesion)
    assert res.checks == ("image_edge",) and res.provenance()["checks"] == ["image_edge"]
    slab = Volume.create(np.ascontiguousarray(a[k - 2 : k + 3]), spacing=ph.volume.spacing)
    res = segment_lesion(slab, seed_index=(2, j, i))
    assert any("first or last slice" in n for n in res.notes)
    assert not any("edge of the image within a slice" in n for n in res.notes)
    assert res.checks == ("scan_range",)


@pytest.mark.parametrize("first_slice", [3, 4])
def test_a_ring_on_a_coarse_lattice_holds_a_one_slice_region(first_slice: int) -> None:
    """The parenchyma shell is sampled on a lattice of every other slice; a click region on one
    slice that the lattice skipped got a ring read off a distance transform without background
    (1.12).  Since 1.13 the lattice is shifted onto the region: the ring is its (inner, outer]
    shell on that lattice, whichever slice the region is on."""
    from scipy import ndimage

    from hcc_imaging.segment._grow import _ring

    sp = (5.0, 2.3, 2.3)
    region = np.zeros((12, 40, 40), bool)
    region[first_slice, 18:22, 18:22] = True
    ring = _ring(region, sp, 2.0, 25.0, coarse=2)
    d = ndimage.distance_transform_edt(~region, sampling=sp)
    assert ring.sum() > 50
    assert np.all((d[ring] > 2.0) & (d[ring] <= 25.0))
    assert not (ring & region).any()


def test_lipiodol_lesion_on_5mm_slices_is_found_whatever_the_grid_offset() -> None:
    """The study phantom on 5 mm slices (27 of them, 10 HU noise): L3's click region is 16 voxels on
    one slice, the parenchyma shell's lattice skipped that slice, step 7 got no parenchyma value
    and the mask was the remnant and the lipiodol, a third of the lesion (Dice 0.498; on a 26-slice
    grid, whose lattice hits the slice, 0.995).  Since 1.13: 0.995 on both."""
    st = make_study(0, "baseline", noise_sd_hu=10.0, spacing=(5.0, 2.3, 2.3), shape=(27, 150, 150))
    rec = st.truth["lesions"]["L3"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, st.lesions.array == rec["label"]) >= 0.95


def test_node_on_5mm_slices_keeps_its_one_phase_border() -> None:
    """The porta-hepatis node on 5 mm slices (two slices of it; its 5 mm fat plane one slice): the
    one-phase mask is exact, but step 10 (d)'s border on the phases' combination crossed the fat
    plane into the soft tissue beyond (5.2x the node, Dice 0.321).  Since 1.13 a combination more
    than twice (or under half) the one-phase mask is not a border refinement and is not used:
    1.000."""
    st = make_study(0, "fu1", noise_sd_hu=10.0, spacing=(5.0, 2.3, 2.3), shape=(27, 150, 150))
    rec = st.truth["lesions"]["L6"]
    res = segment_lesion(st.volumes, liver=st.liver, extrahepatic=True, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, st.lesions.array == rec["label"]) >= 0.95
    assert res.border_weights is None


def test_a_click_on_the_parenchyma_of_a_small_image_is_refused() -> None:
    """The same mistake on an image smaller than the largest region of interest (the perf.md
    phantom, 90 mm; a cropped series): the region reaches the image's edges, not the region of
    interest's, and the whole image came back with edge notes.  Since 1.13 a click's region that
    spans the image from one edge to the opposite one within a slice is refused too."""
    from hcc_imaging.segment import NotEnclosedError

    ph = _phantom(0, noise_sd_hu=15.0)
    seed = (18, 100, 64)  # liver, 25 mm from the lesion's centre (radius 15 mm, lobulated by <= 24 %)
    assert ph.truth.array[seed] == 0
    with pytest.raises(NotEnclosedError, match="opposite one"):
        segment_lesion(ph.volume, seed_index=seed)

"""Lesion segmentation 1.12-1.14: step 12, an ill-defined border placed on a blurred-surface model.

The midpoint level of a blurred convex lesion lies inside it (curvature flow: about
sigma^2 x mean curvature), and a threshold's lesion value sets the mask's size, so an infiltrative
lesion's one-level masks were 10 % too small (clicks) or too large (lines).  Truth: analytic
blurred ellipsoids here, and the study phantom's infiltrative lesion L5 (voxel centres of the
sharp ellipsoid before its 3 mm blur).  Figures: docs/validation.md, "Algorithm 1.12".
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import ndimage

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import LesionParams, segment_lesion
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._blur import blurred_border
from hcc_imaging.segment._surface import _direction_terms, _exponents, _roughness

from ._phantom import dice, perf_phantom

SPACING = (3.0, 2.3, 2.3)
SHAPE = (24, 48, 48)


def _scene(blur_mm: float, noise: float, seed: int = 0, radii=(11.0, 13.0, 20.0), tube: bool = False,  # type: ignore[no-untyped-def]
           spacing=SPACING, shape=SHAPE):
    """Two phases of a lesion (-30 HU on one, +20 on the other) whose sharp indicator (voxel
    centres inside the ellipsoid, or a bent tube) is blurred by ``blur_mm`` plus a 1 mm
    point-spread, with Gaussian noise; and the truth."""
    z, y, x = np.meshgrid(*[(np.arange(n) - n / 2 + 0.3) * s for n, s in zip(shape, spacing)], indexing="ij")
    if tube:
        # a vessel-like tube of radius 5 mm bent along a half circle of radius 16 mm (a U)
        truth = (np.hypot(np.hypot(y, x) - 16.0, z) <= 5.0) & (x > 0.0)
    else:
        truth = (z / radii[0]) ** 2 + (y / radii[1]) ** 2 + (x / radii[2]) ** 2 <= 1.0
    total = float(np.hypot(blur_mm, 1.0))
    soft = ndimage.gaussian_filter(truth.astype(np.float64), [total / s for s in spacing])
    rng = np.random.default_rng(seed)
    a = 100.0 - 30.0 * soft + rng.normal(0.0, noise, shape)
    b = 60.0 + 20.0 * soft + rng.normal(0.0, noise, shape)
    return [a.astype(np.float32), b.astype(np.float32)], truth, soft


def _midpoint_mask(soft: np.ndarray, images, noise: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The one-level border a threshold gives (as step 10's combination does for a faint lesion):
    the 50 % level of the first phase smoothed by 2 mm, opened, holes filled, the centre's part."""
    sm = ndimage.gaussian_filter(images[0].astype(np.float64), [2.0 / s for s in SPACING])
    m = ndimage.binary_opening(sm <= 100.0 - 15.0)
    lab, _ = ndimage.label(m)
    centre = tuple(n // 2 for n in SHAPE)
    return ndimage.binary_fill_holes(lab == lab[centre])


def test_direction_terms_span_degree_four_harmonics_without_redundancy() -> None:
    """(d + 1)^2 independent terms on the sphere: 25 for degree 4."""
    rng = np.random.default_rng(1)
    u = rng.normal(size=(2000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    Y = _direction_terms(u, 4)
    assert Y.shape == (2000, 25)
    assert np.linalg.matrix_rank(Y) == 25
    # an ellipsoid's radius function (axis ratio 1.8): degree 4 follows it to an RMS of 0.1 mm (a
    # twentieth of a voxel), degree 2 is off by 0.4 mm RMS (a fifth of a voxel over the whole surface)
    r = 1.0 / np.sqrt((u[:, 0] / 11.0) ** 2 + (u[:, 1] / 13.0) ** 2 + (u[:, 2] / 20.0) ** 2)
    def rms(deg: int) -> float:
        Yd = _direction_terms(u, deg)
        return float(np.sqrt(((Yd @ np.linalg.lstsq(Yd, r, rcond=None)[0] - r) ** 2).mean()))

    assert rms(4) < 0.15
    assert rms(2) > 0.3


def test_the_midpoint_level_of_a_blurred_ellipsoid_lies_inside_it() -> None:
    """The physics the step corrects: without noise, the 50 % level of the 3 mm-blurred ellipsoid
    (semi-axes 11 / 13 / 20 mm, plus the 1 mm point-spread) holds 14 % fewer voxels than the sharp
    ellipsoid, all of them inside it."""
    images, truth, soft = _scene(3.0, 0.0)
    mid = soft >= 0.5
    assert mid.sum() < 0.9 * truth.sum()
    assert not (mid & ~truth).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fitted_surface_recovers_the_sharp_ellipsoid(seed: int) -> None:
    """At 10 HU noise (CNR 3 and 2 per voxel) the midpoint mask scores 0.86-0.87 (seeds 0-2); the
    fitted surface 0.960-0.968, with the blur found within 0.75 mm of the true 3.2 mm."""
    images, truth, soft = _scene(3.0, 10.0, seed)
    start = _midpoint_mask(soft, images, 10.0)
    before = dice(start, truth)
    out = blurred_border(start, np.zeros(3, np.int64), images, SPACING, None)
    assert out is not None
    mask, lo, sigma = out
    full = np.zeros(SHAPE, bool)
    full[tuple(slice(int(a), int(a) + n) for a, n in zip(lo, mask.shape))] = mask
    assert before < 0.9
    assert dice(full, truth) >= 0.955
    assert abs(sigma - float(np.hypot(3.0, 1.0))) <= 0.75


def test_the_result_does_not_depend_much_on_the_starting_mask() -> None:
    """Starts at the 30 % and the 50 % levels of the blurred lesion (a threshold's lesion value
    moves its level so: 1.21 and 0.86 of the volume) end within 3 % of each other in volume and
    >= 0.945 Dice (0.949-0.962 on seeds 3-5)."""
    images, truth, soft = _scene(3.0, 10.0, 3)
    big, small = soft >= 0.3, soft >= 0.5
    assert big.sum() > 1.3 * small.sum()
    masks = []
    for start in (big, small):
        out = blurred_border(start, np.zeros(3, np.int64), images, SPACING, None)
        assert out is not None
        full = np.zeros(SHAPE, bool)
        full[tuple(slice(int(a), int(a) + n) for a, n in zip(out[1], out[0].shape))] = out[0]
        masks.append(full)
    assert dice(masks[0], truth) >= 0.945 and dice(masks[1], truth) >= 0.945
    assert abs(int(masks[0].sum()) - int(masks[1].sum())) <= 0.03 * truth.sum()


def test_a_fine_grid_is_fitted_on_a_coarser_working_grid_and_masked_at_full_resolution() -> None:
    """0.7 mm pixels (a 5 cm lesion's box would hold 400 000 voxels): the fit runs on blocks of
    3 x 3 pixels (``LESION_BLUR_MODEL_GRID_MM``), the mask is made on the image's own grid.  At 20
    HU noise per (smaller) voxel the 30 % level start (1.2 of the volume) ends >= 0.96."""
    sp, shape = (2.5, 0.7, 0.7), (28, 100, 100)
    images, truth, soft = _scene(3.0, 20.0, 0, radii=(11.0, 13.0, 20.0), spacing=sp, shape=shape)
    start = soft >= 0.3
    assert start.sum() > 1.15 * truth.sum()
    assert C.LESION_BLUR_MODEL_GRID_MM // 0.7 == 3
    out = blurred_border(start, np.zeros(3, np.int64), images, sp, None)
    assert out is not None
    full = np.zeros(shape, bool)
    full[tuple(slice(int(a), int(a) + n) for a, n in zip(out[1], out[0].shape))] = out[0]
    assert dice(full, truth) >= 0.96
    assert abs(out[2] - float(np.hypot(3.0, 1.0))) <= 0.75


def test_a_box_thinner_than_a_block_is_fitted_as_it_is() -> None:
    """Two 0.5 mm slices (a block would be five): the block never exceeds the box, no error."""
    sp, shape = (0.5, 0.7, 0.7), (2, 100, 100)
    images, truth, soft = _scene(3.0, 5.0, 0, radii=(30.0, 13.0, 20.0), spacing=sp, shape=shape)
    start = soft >= 0.5
    out = blurred_border(start, np.zeros(3, np.int64), images, sp, None)
    assert out is None or out[0].shape[0] <= 2


def test_a_sharp_margin_is_left_to_the_midpoint_border() -> None:
    """No margin blur beyond the 1 mm point-spread: the fitted sigma is below the minimum and the
    step gives nothing (the midpoint border is right there)."""
    images, truth, soft = _scene(0.0, 10.0)
    assert blurred_border(truth, np.zeros(3, np.int64), images, SPACING, None) is None
    assert C.LESION_BLUR_MODEL_MIN_SIGMA_MM > 1.0


@pytest.mark.parametrize("noise", [5.0, 15.0])
def test_a_sharp_lobulated_lesion_with_a_misfit_is_not_called_blurred(noise: float) -> None:
    """The perf.md 12 mm lesion, seed 0: sharp, but lobulated beyond the degree-4 surface and blurred
    1.5 mm along z (0.6 px of 2.5 mm slices), so no star-shaped model fits it to the noise.  1.12
    read the likelihood ratio against the noise alone and called it ill-defined (Dice 0.941 and
    0.858 at 5 and 15 HU, with the note); 1.13 reads it against the fit's reduced chi^2 and leaves
    the midpoint border (0.968 / 0.945)."""
    from ._phantom import perf_phantom

    ph = perf_phantom(0, noise_sd_hu=noise, diameter_mm=12.0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert res.border_blur_mm is None
    assert res.notes == ()
    assert dice(res.labels.array, ph.truth.array) >= 0.94


def test_a_bent_tube_is_not_star_shaped_and_is_left_alone() -> None:
    """A U-shaped, vessel-like tube is not star-shaped around its centroid (which lies outside it).
    (A straight tube is star-shaped; a thrombus' margin against the vessel wall is sharp, which the
    blur test refuses.)"""
    images, truth, _ = _scene(3.0, 5.0, tube=True)
    assert blurred_border(truth, np.zeros(3, np.int64), images, SPACING, None) is None


def test_a_small_mask_is_left_alone() -> None:
    images, truth, _ = _scene(3.0, 5.0, radii=(3.0, 3.0, 3.0))
    assert truth.sum() < C.LESION_BLUR_MODEL_MIN_VOXELS
    assert blurred_border(truth, np.zeros(3, np.int64), images, SPACING, None) is None


@functools.lru_cache(maxsize=4)
def _study(seed: int, tp: str, sd: float):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint=tp, noise_sd_hu=sd)


@pytest.mark.parametrize("mode", ["click", "line"])
def test_infiltrative_lesion_reaches_095_at_15_hu(mode: str) -> None:
    """The study phantom's L5 at sigma 15 (seed 0, baseline and fu1): 0.91-0.94 with the midpoint
    border (step off), >= 0.95 with it; the blur is recorded in the provenance and a note.  Since
    1.34 a line's lesion value is read on the line, and its midpoint border is already better
    (0.937 / 0.910 -> 0.949 / 0.939); step 12 still adds 0.015-0.025 (0.964)."""
    for tp in ("baseline", "fu1"):
        st = _study(0, tp, 15.0)
        rec = st.truth["lesions"]["L5"]
        where = {"seed_lps": rec["seed_lps"]} if mode == "click" else {"line_lps": rec["ld_endpoints_lps"]}
        truth = st.lesions.array == rec["label"]
        res = segment_lesion(st.volumes, liver=st.liver, **where)
        off = segment_lesion(st.volumes, liver=st.liver, params=LesionParams(blurred_border=False), **where)
        assert off.border_blur_mm is None
        if mode == "click":
            assert dice(off.labels.array != 0, truth) < 0.945
        else:
            assert dice(res.labels.array != 0, truth) - dice(off.labels.array != 0, truth) >= 0.01
        assert dice(res.labels.array != 0, truth) >= 0.95
        assert res.border_blur_mm is not None and res.border_blur_mm >= C.LESION_BLUR_MODEL_MIN_SIGMA_MM
        assert res.provenance()["border_blur_mm"] == res.border_blur_mm
        assert any("blurred-surface model" in n for n in res.notes)


def test_a_well_defined_lesion_keeps_its_border() -> None:
    """L1 (a typical HCC, sharp margin): step 12 does not run (its border was not ill-defined).
    (Step 12b, which runs only with step 12 on, is off on both sides: since 1.44 it redecides this
    border voxel by voxel on its point-sample surface.)"""
    st = _study(0, "baseline", 15.0)
    rec = st.truth["lesions"]["L1"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], params=LesionParams(sharp_border=False))
    off = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"],
                         params=LesionParams(blurred_border=False, sharp_border=False))
    assert res.border_blur_mm is None
    assert np.array_equal(res.labels.array, off.labels.array)


@pytest.mark.parametrize(("seed", "tp", "mode"), [(0, "baseline", "line"), (3, "fu1", "click")])
def test_infiltrative_lesion_at_5_hu_whichever_step_made_its_mask(seed: int, tp: str, mode: str) -> None:
    """At sigma 5 L5's one-phase border is not "ill-defined": seed 0's line took step 10 (d)
    (1.11: 0.947), seed 3's fu1 click was grown by step 7, the blurred halo making its ring look
    heterogeneous (1.11: 0.907, 1.17 of the volume).  Step 12 takes both to >= 0.97.  (Since 1.34 the
    line's midpoint border is 0.960, its value read on the line; step 12 still adds 0.02.)"""
    st = _study(seed, tp, 5.0)
    rec = st.truth["lesions"]["L5"]
    where = {"seed_lps": rec["seed_lps"]} if mode == "click" else {"line_lps": rec["ld_endpoints_lps"]}
    truth = st.lesions.array == rec["label"]
    off = segment_lesion(st.volumes, liver=st.liver, params=LesionParams(blurred_border=False), **where)
    res = segment_lesion(st.volumes, liver=st.liver, **where)
    if mode == "click":
        assert dice(off.labels.array != 0, truth) < 0.95
    else:
        assert dice(res.labels.array != 0, truth) - dice(off.labels.array != 0, truth) >= 0.01
    assert dice(res.labels.array != 0, truth) >= 0.97
    assert res.border_blur_mm is not None


def test_the_surface_prior_costs_nothing_for_an_ellipsoid_and_six_per_degree_three_mean_square() -> None:
    """1.14's roughness: sum over degrees l >= 3 of (l (l + 1) - 6) x the mean square of the radius'
    degree-l part.  A sphere, a shift and a quadric (degrees <= 2) cost 0; x^3 on the unit sphere is
    (3 / 5) x (degree 1) plus a degree-3 part of mean square 1/7 - 6/25 + 9/75 (= 0.022857), so it
    costs 6 x that; x^4's degree-4 part costs 14 x its mean square.  With the free degree 1 an
    ellipsoid's elongation costs 2 x 3 - 2 = 4 x its mean square."""
    ex = _exponents(4)
    P = _roughness(4, 2)
    assert np.allclose(P, P.T)
    assert np.linalg.eigvalsh(P).min() > -1e-9
    assert np.sum(np.linalg.eigvalsh(P) > 1e-6) == 25 - 9  # the 16 harmonics of degrees 3 and 4

    def coef(**terms: float) -> np.ndarray:
        c = np.zeros(len(ex))
        for k, v in terms.items():
            c[ex.index(tuple(int(d) for d in k[1:]))] = v
        return c

    quadric = coef(t000=10.0, t100=2.0, t001=-1.0, t200=3.0, t011=1.5)
    assert abs(quadric @ P @ quadric) < 1e-9
    c3 = coef(t300=1.0)
    assert c3 @ P @ c3 == pytest.approx(6.0 * (1 / 7 - 6 / 25 + 9 / 75), rel=1e-3)
    # x^4's degree-4 part: what is left after the least-squares fit by the degrees <= 2 on random
    # directions (x^4 has no odd part)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(200_000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    low = _direction_terms(u, 2)
    x4 = u[:, 0] ** 4
    resid = x4 - low @ np.linalg.lstsq(low, x4, rcond=None)[0]
    c4 = coef(t400=1.0)
    assert c4 @ P @ c4 == pytest.approx(14.0 * float(np.mean(resid**2)), rel=0.02)
    P1 = _roughness(4, 1)
    q = coef(t200=1.0)  # x^2 = 1/3 + degree-2 part of mean square 1/5 - 1/9
    assert q @ P1 @ q == pytest.approx(4.0 * (1 / 5 - 1 / 9), rel=1e-3)


@pytest.mark.parametrize(("sd", "seed", "tp"), [(15.0, 7, "baseline"), (15.0, 4, "fu1"), (25.0, 1, "baseline")])
def test_the_surface_prior_keeps_the_fit_off_the_noise(monkeypatch: pytest.MonkeyPatch, sd: float, seed: int, tp: str) -> None:
    """L5's clicks where 1.13's 25 free terms followed the noise: sigma 15 seed 7 baseline 0.943,
    seed 4 fu1 0.949, sigma 25 seed 1 baseline 0.930; with 1.14's prior 0.963, 0.961, 0.963.  On the
    free surface (1.54's near-ellipsoid, the default, would replace the unpenalised fit)."""
    st = _study(seed, tp, sd)
    rec = st.truth["lesions"]["L5"]
    truth = st.lesions.array == rec["label"]
    params = LesionParams(blurred_surface="free")
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], params=params)
    monkeypatch.setattr(C, "LESION_BLUR_MODEL_SMOOTHING", 0.0)
    free = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], params=params)
    assert res.border_blur_mm is not None and free.border_blur_mm is not None
    assert dice(free.labels.array != 0, truth) < 0.95
    assert dice(res.labels.array != 0, truth) >= 0.955


@pytest.mark.parametrize("seed", [4, 6])
def test_a_fit_that_grows_a_small_blurred_lesion_is_used(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """1.14 (the Dice agreement alone was 1.13's rule): the perf.md lesion at 20 mm with an ill-defined margin (it fades into the liver over
    3 mm; 40 HU below it, 15 HU noise): the midpoint-level mask holds about half of it, so the
    fitted surface, which keeps that mask and grows it, reached Dice < 0.85 against it and was
    refused (seeds 4 / 6: 0.849 / 0.800).  Used now: >= 0.94 (0.960 / 0.942)."""
    ph = perf_phantom(seed, noise_sd_hu=15.0, diameter_mm=20.0, lesion_blur_mm=3.0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert res.border_blur_mm is not None
    assert res.border_blur_mm < max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    assert dice(res.labels.array, ph.truth.array) >= 0.94
    monkeypatch.setattr(C, "LESION_BLUR_MODEL_MAX_GROWTH", 1.0)  # 1.13: no growth beyond the agreement
    # (and no 1.47 refit without the vessel and the fat: seed 4's refit agrees with the mask, 0.85+)
    monkeypatch.setattr(C, "LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS", float("inf"))
    old = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert old.border_blur_mm is None
    assert dice(old.labels.array, ph.truth.array) < 0.86


def test_a_lesion_blur_fades_the_lesion_not_the_vessel_or_the_fat() -> None:
    """The phantom's ill-defined margin: the truth stays the sharp shape, the image fades from the
    lesion's value to the liver's over the blur; vessel and fat keep their values."""
    sharp = perf_phantom(0, noise_sd_hu=0.0, psf_vox=0.0)
    soft = perf_phantom(0, noise_sd_hu=0.0, psf_vox=0.0, lesion_blur_mm=3.0)
    assert np.array_equal(sharp.truth.array, soft.truth.array)
    a, b = sharp.volume.array.astype(float), soft.volume.array.astype(float)
    ves, fat = a >= 149, a <= -99
    assert np.array_equal(a[ves | fat], b[ves | fat])
    centre = sharp.seed_index
    assert abs(b[centre] - 20.0) <= 1.0  # the lesion's core keeps its value (30 mm, 3 mm blur)
    changed = np.abs(a - b) > 1
    assert changed.any() and not (changed & (ves | fat)).any()


@pytest.mark.parametrize("seed", [1, 3])
def test_a_fit_inside_a_mask_grown_over_the_halo_is_used(seed: int) -> None:
    """1.14: a bright 20 mm lesion (250 HU) with an ill-defined margin at 10 HU noise: step 7 reads
    its blurred halo as another tissue and grows over it (1.7 x the volume, Dice 0.73-0.75); the
    fitted surface lies inside that mask and shrinks it, and is used: >= 0.97 (0.981 / 0.982)."""
    ph = perf_phantom(seed, noise_sd_hu=10.0, diameter_mm=20.0, lesion_hu=250.0, lesion_blur_mm=3.0)
    truth = ph.truth.array != 0
    off = segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(blurred_border=False))
    assert np.count_nonzero(off.labels.array) > 1.5 * truth.sum()
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert res.border_blur_mm is not None and res.border_blur_mm < max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    assert dice(res.labels.array, truth) >= 0.97
    assert 0.95 <= np.count_nonzero(res.labels.array) / truth.sum() <= 1.1


def _sweep_phantom(seed: int, spacing: tuple[float, float, float], diameter_mm: float, lesion_hu: float, noise: float):  # type: ignore[no-untyped-def]
    """benchmarks/sweep_segment_robustness.py's phantom with an ill-defined margin (--lesion-blur-mm 3)."""
    fov = 90.0 if diameter_mm <= 30 else 130.0
    shape = tuple(int(round(fov / s)) for s in spacing)
    return perf_phantom(seed, noise_sd_hu=noise, diameter_mm=diameter_mm, lesion_hu=lesion_hu, spacing=spacing,
                        shape=shape, psf_vox=(0.6, 0.6, 0.6), lesion_blur_mm=3.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seed", "spacing", "diameter_mm", "lesion_hu", "noise"),
    [
        pytest.param(44, (2.5, 0.703, 0.703), 40.0, 250.0, 25.0, id="40mm-250HU-noise25"),
        pytest.param(85, (1.0, 0.7, 0.7), 40.0, 110.0, 10.0, id="40mm-110HU-noise10-1mm"),
        pytest.param(73, (1.0, 0.7, 0.7), 20.0, 250.0, 10.0, id="20mm-250HU-noise10-1mm-refit"),
    ],
)
def test_a_bright_blurred_lesion_is_fitted_around_its_core_before_step_8(
    seed: int, spacing: tuple[float, float, float], diameter_mm: float, lesion_hu: float, noise: float
) -> None:
    """1.15: a bright lesion that fades into the liver: the click's region is its core, step 7
    reads the blurred margin around it as lesion tissue and cannot grow to a parenchyma ring, and
    step 8's rays ran out through the margin (1.14: masks 2.3-7 x the lesion, Dice 0.25-0.60).
    Step 12 fitted around the core gives the lesion (0.98-0.99); the last case needs the refit
    (the first fit grows the core 2.2 x with the grid's largest blur)."""
    ph = _sweep_phantom(seed, spacing, diameter_mm, lesion_hu, noise)
    truth = ph.truth.array != 0
    star = segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(blurred_border=False))
    assert any("star-shaped" in n for n in star.notes)
    assert np.count_nonzero(star.labels.array) > 2.0 * truth.sum()
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert not any("star-shaped" in n for n in res.notes)
    assert any("around the click's region" in n for n in res.notes)
    assert res.border_blur_mm is not None and 2.0 <= res.border_blur_mm <= 3.5
    assert dice(res.labels.array, truth) >= 0.95
    assert res.surroundings_value == pytest.approx(60.0, abs=3.0)  # the liver, not the margin around the core
    assert res.lesion_value > 100.0


def test_a_fit_from_a_core_is_refitted_only_when_asked() -> None:
    """blurred_border(from_core=True): a fit that grows a core with the grid's largest blur is fitted
    again from its own surface and held to the tests against the core; without refit it is refused."""
    ph = _sweep_phantom(73, (1.0, 0.7, 0.7), 20.0, 250.0, 10.0)
    truth = ph.truth.array != 0
    sp = np.asarray(ph.volume.spacing)
    d = np.linalg.norm((np.indices(truth.shape).reshape(3, -1).T - np.asarray(ph.seed_index)) * sp, axis=1)
    core = (d <= 7.0).reshape(truth.shape)  # a ball of radius 7 mm in a 20 mm lesion: a third of it
    lo = np.zeros(3, dtype=np.int64)
    assert blurred_border(core, lo, [ph.volume.array], ph.volume.spacing, None) is None
    got = blurred_border(core, lo, [ph.volume.array], ph.volume.spacing, None, from_core=True)
    assert got is not None
    out = np.zeros(truth.shape, bool)
    out[tuple(slice(int(a), int(a) + n) for a, n in zip(got[1], got[0].shape, strict=True))] = got[0]
    assert got[2] < max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    assert dice(out, truth) >= 0.95



@pytest.mark.parametrize(("shape", "k"), [((60, 121, 122), (1, 3, 3)), ((7, 9, 10), (2, 3, 4)), ((30, 31, 33), (3, 7, 7)),
                                          ((5, 5, 5), (5, 5, 5)), ((4, 6, 8), (1, 1, 1)), ((3, 4, 5), (4, 1, 1))])
def test_block_mean_counts_a_mask_as_the_float_mean_does(shape: tuple[int, int, int], k: tuple[int, int, int]) -> None:
    """A boolean mask's block means (step 12's working grid: the start, the liver) are counted in
    integers by strided adds: the float64 mean's values bit for bit, dtype and shape included, for
    contiguous and strided masks, blocks that leave trailing voxels, and blocks larger than an axis
    (no block: an empty axis)."""
    from hcc_imaging.segment._surface import _block_mean

    def reference(a: np.ndarray, k: tuple[int, int, int]) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        if all(v == 1 for v in k):
            return a
        a = a[tuple(slice(0, n - n % v) for n, v in zip(a.shape, k, strict=True))]
        split = [d for n, v in zip(a.shape, k, strict=True) for d in (n // v, v)]
        return a.reshape(split).mean(axis=(1, 3, 5))

    rng = np.random.default_rng(sum(shape) + sum(k))
    for density in (0.0, 0.3, 1.0):
        mask = rng.random(tuple(2 * n for n in shape)) < density
        for a in (mask[: shape[0], : shape[1], : shape[2]], mask[::2, ::2, ::2]):
            want, got = reference(a, k), _block_mean(a, k)
            assert got.dtype == want.dtype == np.float64
            assert got.shape == want.shape
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("inverse", [False, True])
def test_a_models_remembered_evaluations_are_its_fresh_ones(inverse: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 12's model remembers its last evaluations (the blur scan and the quick look ask for the
    same surface under several blurs, a Gauss-Newton's first evaluation repeats the one before):
    whatever was asked before, an evaluation equals a fresh model's bit for bit, for the same
    surface under another blur and for another surface under the same blur (the key holds both);
    and two models sharing their memory (the near-ellipsoid's prior weights) fit what each fits alone."""
    from hcc_imaging.segment import _surface

    images, _, _ = _scene(3.0, 5.0)
    sp = np.asarray(SPACING)
    rho, u = _surface._polar(SHAPE, sp, np.asarray(SHAPE) * sp / 2.0)
    Y = _direction_terms(u.reshape(-1, 3), 4).reshape(SHAPE + (-1,))
    use = np.abs(rho - 15.0) <= 10.0
    X = np.stack([im[use].astype(np.float64) for im in images])
    w = np.array([1 / 25.0, 1 / 25.0])
    P = 20.0 * _roughness(4, 2)
    n = Y.shape[-1]
    surfaces = []
    for r in (14.0, 15.0, 16.0):
        c = np.zeros(n)
        c[0] = r ** -2.0 if inverse else r
        c[3] = 1e-5 if inverse else 0.4  # some elongation (a degree-1 term)
        surfaces.append(c)
    blurs = ([0.4, 0.5, 0.5], [1.0, 1.3, 1.3], [0.3, 0.4, 0.4])

    def fresh(c: np.ndarray, g: list[float]) -> tuple:  # type: ignore[type-arg]
        return _surface._surface_model(rho, Y, 2.3, use, X, w, P, inverse=inverse)[0](c, g)

    fit, gauss_newton = _surface._surface_model(rho, Y, 2.3, use, X, w, P, inverse=inverse)
    for c, g in [(surfaces[0], blurs[0]), (surfaces[0], blurs[1]), (surfaces[1], blurs[1]), (surfaces[0], blurs[0]),
                 (surfaces[2], blurs[2]), (surfaces[1], blurs[0]), (surfaces[0], blurs[1]), (surfaces[2], blurs[1])]:
        got, want = fit(c, g), fresh(c, g)
        assert got[0] == want[0]
        for x, y in zip(got[1:], want[1:], strict=True):
            assert x.tobytes() == y.tobytes()
    # a Gauss-Newton run on a memory shared with another model's run: as with none at all
    memo: tuple[dict, dict] = ({}, {})  # type: ignore[type-arg]
    shared = [_surface._surface_model(rho, Y, 2.3, use, X, w, k * P, inverse=inverse, memo=memo)[1](surfaces[0], blurs[1])
              for k in (5.0, 1.0)]
    monkeypatch.setattr(_surface, "_remember", lambda memo, key, value, size: value)  # remembers nothing
    alone = [_surface._surface_model(rho, Y, 2.3, use, X, w, k * P, inverse=inverse)[1](surfaces[0], blurs[1]) for k in (5.0, 1.0)]
    for (c1, chi1), (c2, chi2) in zip(shared, alone, strict=True):
        assert chi1 == chi2 and c1.tobytes() == c2.tobytes()
    assert not np.array_equal(shared[0][0], surfaces[0])  # (the fits moved the surface)

"""Lesion segmentation 1.2-1.3 (rim test 1.9, rim layer surface prior i26): star-shaped (radial) refinement and the thin enhancing rim."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import ndimage as ndi

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import LesionParams, segment_lesion
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._radial import past_liver_mask_mm, peak_value_and_width, radial_refine
from hcc_imaging.segment.liver import ALGORITHM_NAME as LIVER_ALGORITHM
from hcc_imaging.segment.viable import viable_mask
from hcc_imaging.volume import Geometry, LabelVolume

from ._phantom import dice, graded_tumour as _graded_tumour, rim_scene


@functools.lru_cache(maxsize=4)
def _study(seed: int, tp: str):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint=tp)


def test_peak_value_and_width_of_a_contaminated_gaussian() -> None:
    """Analytic truth: the mode and sigma of N(105, 12) survive 30 % of lesion / vessel values."""
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(105.0, 12.0, 20000), rng.uniform(-50.0, 300.0, 6000)])
    peak = peak_value_and_width(v, 1.0)
    assert peak is not None
    centre, width = peak
    assert centre == pytest.approx(105.0, abs=2.0)
    assert width == pytest.approx(12.0, rel=0.12)
    assert peak_value_and_width(v[:10], 1.0) is None


def test_radial_refine_recovers_a_graded_tumour_next_to_a_vessel() -> None:
    img, tumour, click, seed = _graded_tumour(25.0)
    smooth = ndi.gaussian_filter(img, 1.5)
    star = radial_refine(smooth, click, seed, (1.0, 1.0, 1.0), None, 105.0, 10.0, -50.0, 50.0)
    assert star is not None
    assert dice(star, tumour) >= 0.9
    assert np.mean(star[click]) > 0.99


def test_radial_refine_refuses_a_region_not_enclosed_within_reach() -> None:
    img, _, click, seed = _graded_tumour(25.0)
    smooth = ndi.gaussian_filter(img, 1.5)
    assert radial_refine(smooth, click, seed, (1.0, 1.0, 1.0), None, 105.0, 10.0, -50.0, 15.0) is None


def _capsule_scene(outside: str, inset_mm: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
    """The graded tumour of ``_graded_tumour`` at a flat liver capsule 10 mm from its centre (the
    tumour is cut there), with ``outside`` tissue beyond: fat (-100 HU), muscle (55 HU), or a
    4 mm diaphragm (45 HU) before the lung (-850 HU); 1 mm CT blur, 8 HU noise.  The liver mask
    is the liver side of the capsule moved ``inset_mm`` inwards (a classical mask lies a median
    1.5 mm inside a liver-fat edge).  No IRCAD value is in it.  Returns (image, tumour, liver
    mask, clicked region, seed)."""
    img, tumour, click, centre = _graded_tumour(25.0, seed)
    n = img.shape[0]
    c = centre[0]
    xx = np.arange(n)[None, None, :]
    liver = np.broadcast_to(xx <= c + 10, img.shape)
    tumour = tumour & liver
    beyond = ~liver
    if outside == "fat":
        img[beyond] = -100.0
    elif outside == "muscle":
        img[beyond] = 55.0
    else:
        img[beyond] = -850.0
        img[np.broadcast_to((xx > c + 10) & (xx <= c + 14), img.shape)] = 45.0
    img = ndi.gaussian_filter(img, 1.0) + np.random.default_rng(seed + 1).normal(0.0, 8.0, img.shape)
    mask = np.broadcast_to(xx <= c + 10 - inset_mm, img.shape).copy()
    return img, tumour, mask, click, centre


def test_radial_refine_takes_the_rim_a_liver_mask_leaves_out_at_fat() -> None:
    """Step 2b: the mask lies 2 mm inside the tumour's capsule edge against fat; the rays go on
    to the raw image's half-way edge.  Measured 0.956 (0.943 when the star stopped at the mask;
    0.976 with the exact mask, which 2b leaves unchanged)."""
    img, tumour, mask, click, seed = _capsule_scene("fat", 2.0)
    star = radial_refine(ndi.gaussian_filter(img, 1.5), click, seed, (1.0, 1.0, 1.0), mask, 105.0, 10.0, -50.0, 50.0, edge=img)
    assert star is not None
    assert dice(star, tumour) >= 0.95
    # beyond the mask only the rim, up to the capsule (x = seed + 10 voxels)
    xs = np.nonzero(star & ~mask)[2]
    assert xs.size > 500 and xs.max() <= seed[2] + 10


@pytest.mark.parametrize("outside, inset", [("muscle", 0.0), ("muscle", 2.0), ("diaphragm", 0.0)])
def test_radial_refine_keeps_to_the_liver_mask_at_other_tissue(outside: str, inset: float) -> None:
    """Not darker beyond the mask (muscle): the border stays at the mask.  A 4 mm diaphragm before
    the lung: at most LESION_RADIAL_EDGE_MM of it is taken (measured Dice 0.976 / 0.943 / 0.972;
    without step 2b 0.976 / 0.943 / 0.976; a 3 mm reach took 0.02 more Dice of the diaphragm)."""
    img, tumour, mask, click, seed = _capsule_scene(outside, inset)
    star = radial_refine(ndi.gaussian_filter(img, 1.5), click, seed, (1.0, 1.0, 1.0), mask, 105.0, 10.0, -50.0, 50.0, edge=img)
    assert star is not None
    xs = np.nonzero(star & ~mask)[2]
    if outside == "muscle":
        assert xs.size == 0
    else:
        assert xs.size <= 0.015 * star.sum() and xs.max() <= seed[2] + 10 + 2
    assert dice(star, tumour) >= {("muscle", 0.0): 0.97, ("muscle", 2.0): 0.935, ("diaphragm", 0.0): 0.965}[(outside, inset)]



def _star(outside: str, inset: float, past_mm: float, seed: int = 0):  # type: ignore[no-untyped-def]
    img, tumour, mask, click, c = _capsule_scene(outside, inset, seed)
    star = radial_refine(ndi.gaussian_filter(img, 1.5), click, c, (1.0, 1.0, 1.0), mask, 105.0, 10.0, -50.0, 50.0,
                         edge=img, past_mask_mm=past_mm)
    assert star is not None
    return star, tumour, mask, c


@pytest.mark.parametrize("seed", [0, 1])
def test_radial_refine_takes_the_tumour_a_liver_mask_cuts_off(seed: int) -> None:
    """Step 2c (1.56): the mask cuts the tumour 6 mm inside its capsule edge against fat (a
    classical liver mask cuts a tumour that bulges past the liver where the tumour's soft tissue
    joins another organ's); beyond the mask the tumour's tissue goes on to the fat's edge, and the
    rays go with it, up to that edge.  Measured 0.905 / 0.897 (seed 0 / 1; seed 2 0.902) with the
    step, 0.869 / 0.861 (0.865) without (step 2b alone reaches only LESION_RADIAL_EDGE_MM past the
    mask).  No IRCAD value is in the scene."""
    star, tumour, mask, c = _star("fat", 6.0, C.LESION_RADIAL_EXOPHYTIC_MM, seed)
    without, *_ = _star("fat", 6.0, 0.0, seed)
    assert dice(star, tumour) >= 0.89 > dice(without, tumour) + 0.02
    xs = np.nonzero(star & ~mask)[2]
    assert xs.size > 2000 and xs.max() <= c[2] + 10  # up to the capsule, not into the fat


@pytest.mark.parametrize("outside, inset", [("muscle", 0.0), ("muscle", 2.0), ("diaphragm", 0.0), ("diaphragm", 2.0)])
def test_radial_refine_past_the_mask_stops_at_other_tissue(outside: str, inset: float) -> None:
    """Step 2c does not take tissue that is not the tumour's: muscle beyond the mask (no darker
    edge within reach) stays out, and a 4 mm diaphragm before the lung (darker than the tumour's
    edge: a step away from the parenchyma across the mask's border) is taken at most as step 2b
    takes it.  Measured: muscle 0.976 / 0.945 (0.976 / 0.943 without 2c), nothing beyond the mask;
    diaphragm 0.972 (as without), with the mask 2 mm inside the capsule 0.960 (0.943 without: the
    tumour's rim up to the capsule, at most 2 mm of the diaphragm; seeds 1 / 2: 0.955 / 0.959
    against 0.939 / 0.941)."""
    star, tumour, mask, c = _star(outside, inset, C.LESION_RADIAL_EXOPHYTIC_MM)
    xs = np.nonzero(star & ~mask)[2]
    if outside == "muscle":
        assert xs.size == 0
    else:
        assert xs.max() <= c[2] + 10 + 2
        without, *_ = _star(outside, inset, 0.0)
        assert dice(star, tumour) >= dice(without, tumour) - 0.002
    assert dice(star, tumour) >= {("muscle", 0.0): 0.97, ("muscle", 2.0): 0.94, ("diaphragm", 0.0): 0.965,
                                  ("diaphragm", 2.0): 0.95}[(outside, inset)]


def test_past_the_liver_mask_follows_where_the_mask_came_from() -> None:
    """LesionParams.past_liver_mask_mm left None: the classical liver method's mask (its meta
    "algorithm") is trusted up to LESION_RADIAL_EXOPHYTIC_MM; a drawn or imported mask, no mask and
    an extrahepatic lesion get 0 (step 2c off)."""
    grid = Geometry((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    ours = LabelVolume.like(grid, np.ones(grid.shape, np.uint8), meta={"algorithm": LIVER_ALGORITHM, "backend": "classical"})
    drawn = LabelVolume.like(grid, np.ones(grid.shape, np.uint8))
    assert past_liver_mask_mm(ours, False) == C.LESION_RADIAL_EXOPHYTIC_MM == 12.0
    assert past_liver_mask_mm(drawn, False) == 0.0
    assert past_liver_mask_mm(ours, True) == 0.0
    assert past_liver_mask_mm(None, False) == 0.0

RIMS = [
    pytest.param(s, tp, lid, mode, id=f"seed{s}-{tp}-{lid}-{mode}")
    for s in (0, 1)
    for tp, lid in (("baseline", "L4"), ("fu1", "L1"), ("fu1", "L4"))
    for mode in ("click", "line")
]


@pytest.mark.parametrize(("seed", "tp", "lesion_id", "mode"), RIMS)
def test_thin_enhancing_rim_is_part_of_the_lesion_but_never_viable(seed: int, tp: str, lesion_id: str, mode: str) -> None:
    st = _study(seed, tp)
    rec = st.truth["lesions"][lesion_id]
    assert rec["kind"] == "rim_only"
    truth = st.lesions.array == rec["label"]
    where = {"seed_lps": rec["seed_lps"]} if mode == "click" else {"line_lps": rec["ld_endpoints_lps"]}
    res = segment_lesion(st.volumes, liver=st.liver, **where)
    off = segment_lesion(st.volumes, liver=st.liver, params=LesionParams(enhancing_rim=False), **where)
    # algorithm 1.3 measured 0.960-0.983 (click and line; 1.2: click 0.912-0.945, line 0.80-0.81;
    # without the rim 0.796-0.804), docs/validation.md section 2.2
    assert dice(res.labels.array, truth) >= 0.95
    assert dice(off.labels.array, truth) < 0.85
    assert any("thin enhancing rim" in n for n in res.notes)
    lab = LabelVolume.like(res.labels, (res.mask * rec["label"]).astype(np.uint8), labels={rec["label"]: lesion_id})
    v = viable_mask(lab, st.volumes["arterial"], liver=st.liver)
    assert not np.any(v.array)


@pytest.mark.parametrize(("seed", "tp", "lesion_id"), [(0, "fu1", "L4"), (1, "fu2", "L1")])
def test_thin_enhancing_rim_is_found_at_25_hu_noise(seed: int, tp: str, lesion_id: str) -> None:
    """Algorithm 1.9: the rim test reads the shell's raw mean and its octants, whose power does not
    fall with the noise as 1.8's count of smoothed voxels above one noise sigma did (at 25 HU a
    1.5 mm rim gave 0.30-0.40 of them against the 0.4 required: the mask was the necrosis alone,
    Dice 0.77-0.81).  1.9 measured 0.89-0.96 on the rim lesions of seeds 0-1 at 25 HU
    (docs/validation.md section 2.2)."""
    st = make_study(seed, timepoint=tp, noise_sd_hu=25.0)
    rec = st.truth["lesions"][lesion_id]
    assert rec["kind"] == "rim_only"
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    off = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], params=LesionParams(enhancing_rim=False))
    assert any("thin enhancing rim" in n for n in res.notes)
    assert dice(off.labels.array, truth) < 0.85
    assert dice(res.labels.array, truth) >= 0.88


def test_rim_test_refuses_a_bright_shell_on_one_side_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """L2 at fu2 from a line (study phantom, seed 0): the viable nodule lies along one side of the
    necrosis, so the shell's raw mean is well above the ring on the arterial phase (6 standard
    errors), but only in 4 of its 8 octants: no rim.  With the octant test switched off the same
    line would take a rim, so it is that test which refuses it."""
    from hcc_imaging.segment import constants as C

    st = _study(0, "fu2")
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    # on portal venous (the phase conspicuity picks; since 1.9 a line it covers badly moves to the
    # next phase, so the phase is given here to keep the one-sided mask this test is about)
    where = {"line_lps": rec["ld_endpoints_lps"], "phase": "portal_venous"}
    res = segment_lesion(st.volumes, liver=st.liver, **where)
    assert not any("rim" in n for n in res.notes)
    assert dice(res.labels.array, truth) >= 0.94
    monkeypatch.setattr(C, "LESION_RIM_MIN_OCTANT_FRACTION", 0.0)
    res0 = segment_lesion(st.volumes, liver=st.liver, **where)
    assert any("thin enhancing rim" in n for n in res0.notes)


@pytest.mark.parametrize("mode", ["click", "line"])
def test_rim_layer_parenchyma_is_measured_outside_the_layer(mode: str) -> None:
    """Seed 3 fu1 L4 (held-out seed of 1.3): the rim layer's parenchyma class was the 2-6 mm ring's
    median, and that ring holds the layer's own face neighbours (2.3-3 mm), i.e. rim partial
    volume: +4-5 HU on arterial (0.3 noise sigma) towards the rim, so 35 rim voxels were called
    parenchyma (0.948 / 0.947).  With the ring's voxels outside the layer: 0.959 / 0.959
    (docs/validation.md section 2.2)."""
    st = _study(3, "fu1")
    rec = st.truth["lesions"]["L4"]
    truth = st.lesions.array == rec["label"]
    where = {"seed_lps": rec["seed_lps"]} if mode == "click" else {"line_lps": rec["ld_endpoints_lps"]}
    res = segment_lesion(st.volumes, liver=st.liver, **where)
    assert any("thin enhancing rim" in n for n in res.notes)
    m = res.labels.array != 0
    assert dice(m, truth) >= 0.955
    assert (truth & ~m).sum() <= 25  # misses (rim voxels), 35 / 36 before


@pytest.mark.parametrize(("seed", "tp", "lesion_id"), [(0, "baseline", "L4"), (0, "fu1", "L1")])
def test_rim_layer_surface_prior_at_25_hu_noise(seed: int, tp: str, lesion_id: str) -> None:
    """i26: at 25 HU the rim layer's per-voxel classification missed rim voxels (a 1.5 mm rim in
    2.3 mm voxels is 1-1.5 noise sigmas from parenchyma per voxel) and the necrosis voxels the
    click's core left out: 0.909 and 0.905 from these clicks, the two worst rim runs of seeds 0-1.
    With the prior "the layer's lesion part ends on a smooth closed surface" (a logistic fit on
    the voxels' direction and distance from the core's centroid, refitted in every EM iteration)
    and necrosis in the lesion class: 0.964 / 0.966 (docs/validation.md section 2.2, i26)."""
    st = make_study(seed, timepoint=tp, noise_sd_hu=25.0)
    rec = st.truth["lesions"][lesion_id]
    assert rec["kind"] == "rim_only"
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert any("thin enhancing rim" in n for n in res.notes)
    m = res.labels.array != 0
    assert dice(m, truth) >= 0.955
    assert (truth & ~m).sum() <= 35  # misses: 53 / 71 before


def test_rim_surface_prior_is_gated_by_the_layer_depth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The surface prior runs only when the rim layer is one voxel deep (on the 512 x 512 study,
    0.68 mm voxels, it lost 0.03-0.05 Dice and is not used).  With the gate closed on the study
    grid the layer is classified voxel by voxel as in 1.9: seed 0 baseline L4 at 25 HU is then
    exactly 1.9's 0.909, against 0.964 with the prior (both without 1.11's border on the phases'
    combination, which changes the core the layer lies around)."""
    from hcc_imaging.segment import constants as C

    st = make_study(0, timepoint="baseline", noise_sd_hu=25.0)
    rec = st.truth["lesions"]["L4"]
    truth = st.lesions.array == rec["label"]
    monkeypatch.setattr(C, "LESION_RIM_SURFACE_MAX_DEPTH_VOXELS", 1.0)  # 2.3 mm reach >= 1 voxel: closed
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"],
                         params=LesionParams(combined_border=False))
    assert dice(res.labels.array != 0, truth) == pytest.approx(0.909, abs=0.001)


def test_rim_surface_log_odds_separates_an_oval_shell() -> None:
    """Analytic: points around an oblique ellipsoid (semi-axes 14 / 10 / 8 mm), labelled lesion
    inside it and parenchyma outside; the logistic fit on the direction harmonics and the radius
    puts its zero level on that surface (every point more than 0.3 mm from it on the right side),
    where a sphere (degree 0) cannot."""
    from hcc_imaging.segment import _rim
    from hcc_imaging.segment import constants as C

    rng = np.random.default_rng(0)
    u = rng.normal(size=(4000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    radii = np.array([14.0, 10.0, 8.0])
    # the ellipsoid's radius along each direction: 1 / sqrt(sum (u.a_k / r_k)^2)
    r_surf = 1.0 / np.sqrt((((u @ rot) / radii) ** 2).sum(axis=1))
    rho = r_surf + rng.uniform(-2.5, 2.5, size=len(u))
    keep = np.abs(rho - r_surf) > 0.3
    u, rho, r_surf = u[keep], rho[keep], r_surf[keep]
    inside = rho < r_surf
    feats = np.column_stack([_rim._direction_basis(u, C.LESION_RIM_SURFACE_DEGREE), -rho])
    z = _rim._surface_log_odds(feats, inside.astype(np.float64))
    assert np.mean((z > 0) == inside) >= 0.99
    z0 = _rim._surface_log_odds(np.column_stack([_rim._direction_basis(u, 0), -rho]), inside.astype(np.float64))
    assert np.mean((z0 > 0) == inside) < 0.9


def test_no_rim_around_a_lesion_without_one() -> None:
    """A typical arterially enhancing HCC (L1, hyperdense on its phase): the rim step does not run."""
    st = _study(0, "baseline")
    rec = st.truth["lesions"]["L1"]
    res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], liver=st.liver)
    assert not any("rim" in n for n in res.notes)


def test_click_on_a_graded_tumour_in_textured_parenchyma_end_to_end() -> None:
    """One click at the centre of the 5 cm synthetic tumour: region growing alone keeps the
    necrotic core (measured 0.107); the star-shaped step recovers the tumour (measured 0.955)."""
    from hcc_imaging.volume import Geometry, Volume

    img, tumour, _, seed = _graded_tumour(25.0)
    geom = Geometry(shape=img.shape, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=np.eye(3))
    vol = Volume(array=np.round(img).astype(np.int16), geometry=geom)
    res = segment_lesion(vol, seed_index=seed)
    off = segment_lesion(vol, seed_index=seed, params=LesionParams(radial_refinement=False))
    assert dice(res.mask, tumour) >= 0.9
    assert dice(off.mask, tumour) < 0.5
    assert any("star-shaped" in n for n in res.notes)


@pytest.mark.parametrize("seed", [0, 1])
def test_rim_surface_prior_helps_an_oval_rim_and_costs_a_lobulated_one_little(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prior is an oval surface (degree-2 harmonics): on an oval ablation zone at 25 HU it
    beats the per-voxel mixture (seeds 0-3: +0.03 to +0.06); on a lobulated one it cannot follow
    the lobes and is about even (seeds 0-3: -0.014 to +0.004, docs/validation.md i26).  This
    pins both sides: the gain, and that the cost stays within 0.02."""
    from hcc_imaging.segment import constants as C

    out = {}
    default = C.LESION_RIM_SURFACE_MAX_DEPTH_VOXELS
    for kind in ("oval", "lobulated"):
        vols, truth, _ = rim_scene(kind, seed, 25.0)
        for gate in (default, 1.0):  # 1.0 closes the prior's gate
            monkeypatch.setattr(C, "LESION_RIM_SURFACE_MAX_DEPTH_VOXELS", gate)
            res = segment_lesion(vols, seed_index=(20, 45, 45))
            assert any("rim" in n for n in res.notes)
            out[kind, gate == 1.0] = dice(res.labels.array != 0, truth)
    assert out["oval", False] >= out["oval", True] + 0.02
    assert out["lobulated", False] >= out["lobulated", True] - 0.02


@pytest.mark.parametrize(("kind", "rim_mm", "one_pass_below"), [("oval", 3.0, 0.90), ("lobulated", 2.5, 0.92)])
def test_a_rind_thicker_than_one_rim_layer_is_followed_to_its_edge(
        kind: str, rim_mm: float, one_pass_below: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """1.20: a necrotic lesion in an enhancing rind thicker than step 9's layer (one 2.3 mm voxel on
    the study grid), 15 HU noise.  One pass of step 9 cut it at that layer (measured: oval 3 mm
    0.866, lobulated 2.5 mm 0.905); repeated while the added layer stays above half the first
    layer's upper values, the mask reaches the rind's edge (0.993 / 0.971)."""
    from hcc_imaging.segment import constants as C

    vols, truth, click = rim_scene(kind, 0, 15.0, rim_mm=rim_mm)
    res = segment_lesion(vols, seed_index=click)
    assert any("thin enhancing rim" in n for n in res.notes)
    assert dice(res.labels.array != 0, truth) >= 0.95
    monkeypatch.setattr(C, "LESION_RIM_MAX_EXTRA_LAYERS", 0)  # one pass, as 1.19
    one = segment_lesion(vols, seed_index=click)
    assert dice(one.labels.array != 0, truth) < one_pass_below


def test_a_thin_rim_keeps_its_one_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.20's level: a 1.5 mm rim at 5 HU noise on the study grid keeps step 9's one layer (Dice
    1.000).  Its blurred tail makes the next shell significantly brighter than the parenchyma, so
    step 9 fires again there; without the half-way level (0) that layer joined (measured 0.871)."""
    from hcc_imaging.segment import constants as C

    vols, truth, click = rim_scene("oval", 0, 5.0)
    res = segment_lesion(vols, seed_index=click)
    assert dice(res.labels.array != 0, truth) >= 0.99
    monkeypatch.setattr(C, "LESION_RIM_LAYER_LEVEL", 0.0)
    crept = segment_lesion(vols, seed_index=click)
    assert dice(crept.labels.array != 0, truth) < 0.95

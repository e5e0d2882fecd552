"""Step 11 (segment/_vessel.py): a filling defect inside a contrast-filled vessel, on a vessel the
study phantom does not have: CURVED (bend radius 60 mm, 6 mm lumen radius, 2.5 x 1.8 x 1.8 mm
voxels), with an occlusive or a non-occlusive (mural) thrombus.  HU per phase are the study
phantom's (thrombus 40/100/90/80, portal blood 40/120/180/130, liver 55/70/110/95), 1 mm PSF,
noise sigma 15 HU; truth = voxel centres inside the thrombus.  The study phantom's own vein is an
ideal straight tube (L7, test_segment_study_sweep.py), which the tube prior matches by
construction; these cases are built here so that the prior is not only checked on its own shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from hcc_imaging.phantoms import STUDY_PHASES, TISSUE_HU
from hcc_imaging.segment import segment_lesion
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._vessel import thrombus_in_lumen
from hcc_imaging.volume import LabelVolume, Modality, Volume

from ._phantom import dice


def _curved_vessel(bend_radius_mm: float, partial: bool, seed: int, blind_end: bool = False,
                   vessel_radius_mm: float = 6.0, half_angle_deg: float = 14.0):  # type: ignore[no-untyped-def]
    """Four phases of a vessel bent in the axial plane (arc of ``bend_radius_mm``) with a thrombus
    over +-``half_angle_deg`` of arc; ``partial``: the thrombus leaves a channel of blood on the
    inner side of the bend (0.65 of the lumen's width filled); ``blind_end``: the lumen ends at the
    thrombus (no patent segment beyond one end)."""
    spacing = np.array([2.5, 1.8, 1.8])
    shape = (24, 90, 90)
    k, j, i = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing, strict=True)), indexing="ij")
    zc, yc, xc = (np.asarray(shape) - 1) * spacing / 2
    cy = yc + bend_radius_mm  # centre of the bend: the arc's middle runs through the grid's centre
    radial = np.hypot(j - cy, i - xc) - bend_radius_mm
    ang = np.degrees(np.arctan2(i - xc, cy - j))
    lumen = (radial**2 + (k - zc) ** 2 <= vessel_radius_mm**2) & (np.abs(ang) < 80)
    if blind_end:
        lumen &= ang <= half_angle_deg
    thr = lumen & (np.abs(ang) <= half_angle_deg)
    if partial:
        thr &= radial > -0.35 * vessel_radius_mm
    rng = np.random.default_rng(seed)
    vols = {}
    for n, ph in enumerate(STUDY_PHASES):
        img = np.full(shape, TISSUE_HU["liver"][n])
        img[lumen] = TISSUE_HU["portal_vein"][n]
        img[thr] = TISSUE_HU["pvtt"][n]
        img = ndi.gaussian_filter(img, 1.0 / spacing, mode="nearest") + rng.normal(0.0, 15.0, shape)
        vols[ph] = Volume.create(np.rint(img).astype(np.int16), spacing=tuple(spacing), modality=Modality.CT,
                                 phase=ph, frame_of_reference_uid="1.2.826.0.1.3680043.99.14")
    truth = LabelVolume.like(vols[STUDY_PHASES[0]], thr.astype(np.uint8), labels={1: "T"})
    pts = np.argwhere(thr)
    click = tuple(int(v) for v in pts[np.argmin(((pts - pts.mean(0)) ** 2).sum(1))]) if len(pts) else None
    return vols, truth, click, lumen & ~thr


@pytest.mark.parametrize("partial", [False, True], ids=["occlusive", "mural"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thrombus_in_a_curved_vessel(partial: bool, seed: int) -> None:
    """Bend radius 60 mm (10 lumen radii): the quadratic centreline through the patent segments.
    Measured (click at the thrombus' centre, seeds 0-2): occlusive 0.934-0.947 before step 11 ->
    0.950-0.970 (1.12's profile-fitted radius; 1.7-1.11's count of voxels above the half-maximum:
    0.951-0.968), mural 0.930-0.950 -> 0.963-0.989 (0.955-0.985).  Both radii are 5.7-5.9 mm for
    the 6 mm lumen (on a straight one too), so the occlusive seed 0 sits at 0.9499 (0.9512 in
    1.11): the bound is 0.945.  The mural thrombus' blood channel stays out of the mask."""
    vols, truth, click, blood = _curved_vessel(60.0, partial, seed)
    t = truth.array != 0
    res = segment_lesion(vols, seed_index=click)
    m = res.labels.array != 0
    assert any("filling defect inside a contrast-filled vessel" in n and "gently curved" in n for n in res.notes)
    assert dice(m, t) >= 0.945
    assert (m & blood).sum() <= 0.03 * t.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_strongly_curved_vessel_keeps_the_classification(seed: int) -> None:
    """Bend radius 40 mm: a quadratic centreline in the chord's coordinate is off by ~1-2 mm in the
    defect, the lumen's defect agrees with the classification by only 0.74-0.81 (< 0.85), so the
    tube prior is not used and the voxel classification's mask (0.938-0.953) stands."""
    vols, truth, click, _ = _curved_vessel(40.0, False, seed)
    res = segment_lesion(vols, seed_index=click)
    assert not any("filling defect" in n for n in res.notes)
    assert dice(res.labels.array, truth.array) >= 0.93


def test_no_patent_segment_beyond_one_end_gives_no_tube() -> None:
    """A defect at a blind end (no blood beyond one end) is not a filling defect between two
    patent segments: no lumen model."""
    vols, truth, click, _ = _curved_vessel(60.0, False, 0, blind_end=True)
    m = truth.array != 0
    images = {str(k): v.array for k, v in vols.items()}
    assert thrombus_in_lumen(m, images, truth.spacing) is None
    # the same defect with blood beyond both ends is one
    vols2, truth2, _, _ = _curved_vessel(60.0, False, 0)
    got = thrombus_in_lumen(truth2.array != 0, {str(k): v.array for k, v in vols2.items()}, truth2.spacing)
    assert got is not None and dice(got.mask, truth2.array != 0) >= 0.95


def test_lesion_beside_a_vessel_is_not_a_filling_defect() -> None:
    """A round lesion (the thrombus' HU) touching the vessel from outside, blood on one side
    only along any axis through it: no lumen model."""
    vols, _, _, _ = _curved_vessel(60.0, False, 1, half_angle_deg=-1.0)  # no thrombus
    sp = np.asarray(vols[STUDY_PHASES[0]].spacing)
    shape = vols[STUDY_PHASES[0]].shape
    k, j, i = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, sp, strict=True)), indexing="ij")
    centre = (np.asarray(shape) - 1) * sp / 2 + np.array([0.0, -14.0, 0.0])  # 14 mm off the lumen's axis
    ball = ((k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2) <= 8.0**2
    images = {}
    for n, (ph, v) in enumerate(vols.items()):
        a = v.array.astype(float)
        a[ball] += TISSUE_HU["pvtt"][n] - TISSUE_HU["liver"][n]
        images[str(ph)] = a
    assert thrombus_in_lumen(ball, images, tuple(sp)) is None


def test_the_lumen_radius_is_fitted_to_the_profile_not_counted() -> None:
    """A 7 mm lumen blurred by 1.4 mm (its radial profile from a fine 2-D image), voxels uniform in
    the cross-section's area, 0 / 10 / 20 HU of noise on the smoothed values: the profile fit
    (1.12) gives 6.97-7.06 mm at every noise; the count of voxels above the half-maximum (1.7-1.11)
    gives 6.82-6.92 without noise (a blurred disc's half-level lies inside it) and 7.45-7.67 at 20 HU
    (the ring outside the edge has more area than the one inside)."""
    from hcc_imaging.segment._vessel import _edge_radius

    fine, n = 0.05, 481
    yy, xx = (np.mgrid[:n, :n] - n // 2) * fine
    profile = ndi.gaussian_filter((np.hypot(yy, xx) <= 7.0).astype(float), 1.4 / fine)[n // 2, n // 2:]
    at = np.arange(profile.size) * fine
    for noise in (0.0, 10.0, 20.0):
        fitted, counted = [], []
        for seed in range(5):
            rng = np.random.default_rng(seed)
            d = 10.0 * np.sqrt(rng.uniform(0.0, 1.0, 1500))
            v = (110.0 + 70.0 * np.interp(d, at, profile) + rng.normal(0.0, noise, d.size)).astype(np.float32)
            fitted.append(_edge_radius(v, d, 180.0, 110.0, 7.4))
            counted.append(float(np.sqrt(2.0 * np.mean(d[v > 145.0] ** 2))))
        assert max(abs(r - 7.0) for r in fitted) <= 0.1
        if noise == 20.0:
            assert min(counted) >= 7.3


@pytest.mark.parametrize(("seed", "tp"), [(1, "fu1"), (4, "fu1"), (5, "baseline"), (5, "fu2")])
def test_study_phantom_thrombus_at_25_hu(seed: int, tp: str) -> None:
    """The study phantom's L7 at 25 HU: the counted radii were 7.2 / 7.6 mm for the 7 mm vein
    (0.958 / 0.911); fitted 7.1 mm, 0.980 / 0.971.  Seed 5's baseline: the blood's contrast was
    compared with the raw image's noise, step 11 did not run (0.857); against the smoothed image's
    noise it runs (0.975).  Seed 5's fu2: 1.22 compared a patent segment's blood median (171 HU)
    minus its tissue's (113) with one smoothed voxel's noise (3 x 20.2 HU) and refused the vein
    (0.878); against the two medians' standard error (1.23) it runs (0.958)."""
    import re

    from hcc_imaging.phantoms import make_study

    st = make_study(seed, timepoint=tp, noise_sd_hu=25.0)
    rec = st.truth["lesions"]["L7"]
    res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    radius = re.search(r"radius ([0-9.]+) mm", " ".join(res.notes))
    assert radius is not None and abs(float(radius.group(1)) - 7.0) <= 0.2
    assert dice(res.labels.array != 0, st.lesions.array == rec["label"]) >= 0.95


def test_an_undersized_thrombus_mask_is_refitted_with_the_defect_that_ran_out() -> None:
    """1.49: the study phantom's seed 2 fu2 L7 at 25 HU.  Step 10's mask holds 0.79 of the thrombus
    and ends short of it along the vein, so the patent segment was looked for on the thrombus
    beyond the mask's end, the defect ran on to that segment's middle, and step 11 refused it
    (0.847).  Refitted once with the mask grown by that defect, the segments lie beyond the
    thrombus: the lumen's defect is taken (0.984), it holds the mask it grew from."""
    from hcc_imaging.phantoms import make_study

    st = make_study(2, timepoint="fu2", noise_sd_hu=25.0)
    rec = st.truth["lesions"]["L7"]
    res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    assert any("filling defect inside a contrast-filled vessel" in n for n in res.notes)
    assert dice(res.labels.array != 0, st.lesions.array == rec["label"]) >= 0.95


def test_a_lesion_in_noise_is_not_a_filling_defect() -> None:
    """The perf.md-style 20 mm hypodense ellipsoid (25 HU in 60 HU, 15 HU noise, no vessel
    anywhere): the raw pre-check keeps step 11 off.  Comparing its shell's 98th percentile (a noise
    extreme) with the smoothed image's sigma instead let the tube fit run and replace the mask
    (0.982 -> 0.971)."""
    from hcc_imaging.phantoms import ellipsoid_lesion

    vol, lab, _ = ellipsoid_lesion((8.0, 10.0, 9.0), (2.5, 0.7, 0.7), rotation_deg=34, inside_hu=25, outside_hu=60,
                                   noise_sd_hu=15, seed=2)
    res = segment_lesion(vol, seed_index=tuple(int(v) // 2 for v in vol.shape))
    assert not any("filling defect" in n for n in res.notes)
    assert dice(res.labels.array != 0, lab.array != 0) >= 0.98


def test_axis_coordinates_are_the_same_in_a_sparse_set_and_in_the_box() -> None:
    """The tube's axis, segments and centreline are found on the sparse set of mask and blood
    voxels, the lumen on the whole box (1.22); the two must give every voxel the same position
    along the axis and distance from it, bit for bit, or a segment found sparsely would not be the
    same voxels in the box."""
    from hcc_imaging.segment._vessel import _along_axis

    rng = np.random.default_rng(3)
    shape, sp = (23, 41, 37), np.array([1.25, 0.703125, 0.703125])
    axes = [np.arange(n) * s for n, s in zip(shape, sp, strict=True)]
    c = rng.uniform(0, 20, 3)
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    t_box, perp_box = _along_axis((axes[0] - c[0])[:, None, None], (axes[1] - c[1])[None, :, None],
                                  (axes[2] - c[2])[None, None, :], u)
    assert t_box.shape == perp_box.shape == shape
    idx = np.nonzero(rng.random(shape) < 0.1)
    pts = np.stack([axes[k][idx[k]] for k in range(3)], axis=-1)
    t_p, perp_p = _along_axis(pts[:, 0] - c[0], pts[:, 1] - c[1], pts[:, 2] - c[2], u)
    assert np.array_equal(t_p, t_box[idx]) and np.array_equal(perp_p, perp_box[idx])
    # and they are the geometry: the offset is t u + a perpendicular part of length perp
    rel = pts - c
    assert np.allclose(t_p, rel @ u, atol=1e-9)
    assert np.allclose(perp_p, np.linalg.norm(rel - t_p[:, None] * u, axis=-1), atol=1e-9)


def test_no_lumen_radius_is_fitted_where_the_blood_is_as_dark_as_the_tissue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A noise-free hypodense lesion (20 HU) in the liver (60 HU) beside a vessel: the liver on
    either side passes as "blood" (any contrast is significant without noise), but around those
    segments it is the same liver, so there is no lumen edge to fit (1.22: the segments' blood
    must be brighter than the tissue around them by step 1's contrast minimum).  Before, the
    radius was fitted on both segments and the agreement test refused the result, a third of the
    click's time.  (Real lumens still get their radius: the thrombus tests above.)"""
    from hcc_imaging.segment import _vessel
    from tests.segment._phantom import perf_phantom

    fitted: list[float] = []
    real = _vessel._edge_radius

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        fitted.append(1.0)
        return real(*a, **k)

    monkeypatch.setattr(_vessel, "_edge_radius", counting)
    ph = perf_phantom(15, noise_sd_hu=0.0, diameter_mm=20.0, lesion_hu=20.0, spacing=(2.5, 0.703, 0.703),
                      shape=(36, 128, 128))
    mask = ph.truth.array != 0
    assert thrombus_in_lumen(mask, {"portal_venous": ph.volume.array}, ph.volume.spacing) is None
    assert fitted == []


def test_a_thrombus_whose_blood_step_9_took_for_a_rim() -> None:
    """The study phantom on 1.15 mm pixels (seed 0 baseline, 15 HU): the thrombus' region, grown on the
    portal-venous phase, was wrapped by step 9 in a "rim seen on the arterial phase" that is the vein's
    blood (462 voxels: arterial 113 / portal venous 168 HU), after which step 11 found no filling defect
    (Dice 0.774, 1.5 x the thrombus).  1.29 tries step 11 on the zone before the rim: the lumen, 0.97."""
    from hcc_imaging.phantoms import make_study

    st = make_study(0, timepoint="baseline", noise_sd_hu=15.0, spacing=(3.0, 1.15, 1.15), shape=(44, 300, 300))
    rec = st.truth["lesions"]["L7"]
    res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    assert any(n.startswith("filling defect inside a contrast-filled vessel") for n in res.notes)
    assert any("before the vessel lumen replaced it: a thin enhancing rim" in n for n in res.notes)
    assert dice(res.labels.array != 0, st.lesions.array == rec["label"]) >= 0.95


def test_a_mask_nested_in_the_lumens_defect_takes_the_defect() -> None:
    """1.32: the classification may keep only the thrombus' core (the 512 x 512 study on 2.5 mm
    slices that average their thickness: the vein's top and bottom slices hold blood, thrombus and
    wall, and step 10's mask was 0.57 of the thrombus, Dice 0.72; the lumen's defect held all of it
    but agreed 0.73 with it, under VESSEL_MIN_AGREEMENT).  A mask inside the defect that the defect
    grows by at most LESION_BLUR_MODEL_MAX_GROWTH is that core, and the defect replaces it (that
    thrombus: 0.986).  Here the thrombus without its top and bottom slices (Dice 0.63, 1/2.2 of it)."""
    vols, truth, _, _ = _curved_vessel(60.0, False, 0)
    t = truth.array != 0
    images = {str(k): v.array for k, v in vols.items()}
    along_z = np.zeros((3, 3, 3), bool)
    along_z[:, 1, 1] = True
    core = ndi.binary_erosion(t, along_z)
    assert 1.5 < t.sum() / core.sum() < C.LESION_BLUR_MODEL_MAX_GROWTH and dice(core, t) < C.VESSEL_MIN_AGREEMENT
    got = thrombus_in_lumen(core, images, truth.spacing)
    assert got is not None and dice(got.mask, t) >= 0.95
    assert np.all(got.mask[core])


def test_the_lumens_border_carries_no_border_fit_of_the_mask_it_replaced() -> None:
    """Step 11 replaces a mask that step 12b had bordered (the study phantom's thrombus, seed 0 fu1:
    the nearest-mean classes grown by 12b's nested surface): the result's border fields describe
    the returned mask, so they are empty (until 1.37 they kept 12b's point-spread and slice ramp, and
    a reader of the provenance took the lumen's border for a fitted one).  The masks are unchanged."""
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import LesionParams

    st = make_study(0, timepoint="fu1", noise_sd_hu=15.0)
    rec = st.truth["lesions"]["L7"]
    r = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    assert any(n.startswith("the mask before the vessel lumen replaced it") for n in r.notes)
    assert (r.border_psf_vox, r.border_ramp, r.border_blur_mm, r.border_weights) == (None, None, None, None)
    prov = r.provenance()
    assert prov["border_psf_vox"] is None and prov["border_ramp"] is None
    # the lumen does not depend on the border of the mask it replaced: without step 12b the same lumen
    off = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], params=LesionParams(sharp_border=False))
    np.testing.assert_array_equal(off.labels.array, r.labels.array)
    assert dice(r.labels.array != 0, st.lesions.array == rec["label"]) >= 0.95

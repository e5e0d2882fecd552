"""Seeded lesion segmentation (algorithm 1.5) on every lesion kind of the study phantom.

Truth: the phantom's voxel masks (``make_study``, analytic ellipsoids, 2.3 x 2.3 x 3 mm,
sigma 15 HU).  Every phase and the phantom's liver mask are passed (phase chosen automatically),
as the lead's sweep and docs/validation.md section 2.2 do.  Floors are the issue's target
(Dice >= 0.95) where it is met and the measured value where it is not (seeds 0-1; held-out seeds
2-3 in docs/validation.md section 2.2).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import LesionParams, segment_lesion
from hcc_imaging.segment._morph import component_at, component_at_in_box
from hcc_imaging.segment.errors import LowContrastError, SeedError

from ._phantom import dice


@functools.lru_cache(maxsize=6)
def _study(seed: int, tp: str):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint=tp)


@functools.lru_cache(maxsize=4)
def _no_fat(seed: int, tp: str):  # type: ignore[no-untyped-def]
    """The node with no fat plane (soft tissue 0-20 HU darker all round; the default before 1.10):
    the hard case the node tests below were written for.  The node in its fat plane:
    test_segment_node_fat.py."""
    return make_study(seed, timepoint=tp, node_fat_mm=0.0)


def _where(rec, mode: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {"seed_lps": rec["seed_lps"]} if mode == "click" else {"line_lps": rec["ld_endpoints_lps"]}


CASES = [
    pytest.param(s, tp, lid, mode, id=f"seed{s}-{tp}-{lid}-{mode}")
    for s in (0, 1)
    for tp in ("baseline", "fu1", "fu2")
    for lid in ("L1", "L2", "L3", "L4", "L9")
    if lid != "L9" or tp == "fu2"
    for mode in ("click", "line")
]


@pytest.mark.parametrize(("seed", "tp", "lid", "mode"), CASES)
def test_liver_lesions_from_a_click_or_a_line(seed: int, tp: str, lid: str, mode: str) -> None:
    """L1-L4 and the new fu2 lesion L9: Dice >= 0.95 from a click (the phantom's seed, in the viable
    part when there is one) or a line (the LD endpoints).  1.3 failed three of these: fu2 L2 click
    seed 1 (0.028: the nodule reaches the lesion border and the region leaked into the liver) and
    fu2 L3 line on both seeds (0.006: a 2-voxel mask on the lipiodol's partial-volume shell).
    Lowest measured in 1.4: 0.951 (fu2 L2 line, seed 0: the nodule reaching the border is darker
    than the liver on the portal venous phase by only ~3 smoothed sigmas; since the line-coverage
    rule, 0.988 / 0.990 on the delayed phase)."""
    st = _study(seed, tp)
    rec = st.truth["lesions"][lid]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, **_where(rec, mode))
    assert dice(res.labels.array, truth) >= 0.95
    assert not any("largest region of interest" in n for n in res.notes)


@pytest.mark.parametrize("seed", [0, 1])
def test_nodule_at_the_border_of_a_necrotic_lesion_does_not_leak(seed: int) -> None:
    """fu2 L2: with the window's near bound at the midpoint against the ring (necrosis, ~39 HU in
    arterial) the nodule's region admitted the liver (70 HU; bound 73 HU) where the nodule reaches
    the border.  1.4 takes the midpoint against the parenchyma when it lies between: the clicked
    region (arterial, before step 7) stays inside the lesion."""
    st = _study(seed, "fu2")
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    params = LesionParams(heterogeneous_expansion=False, enhancing_rim=False)
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], phase="arterial", params=params)
    m = res.labels.array != 0
    assert m.sum() < truth.sum()  # the nodule alone, never the liver
    assert (m & ~truth).sum() <= 0.1 * m.sum()
    liver_hu = st.truth["tissue_hu"]["liver"]["arterial"]
    assert res.window[0] > liver_hu + 2 * 15.0 * 0.5  # well above the liver (1.3: 73.3 on seed 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_line_across_a_lipiodol_lesion_is_heterogeneous(seed: int) -> None:
    """fu2 L3: the lipiodol deposit is ~10 % of the ball around the line (below the 15 % share) but
    ~40 % of the line itself: the line's profile makes the test two-sided on every phase, so the
    phase choice no longer lands on a one-sided 'hyper' model of lipiodol partial volume."""
    st = _study(seed, "fu2")
    rec = st.truth["lesions"]["L3"]
    truth = st.lesions.array == rec["label"]
    for ph in ("portal_venous", "delayed"):
        res = segment_lesion(st.volumes, liver=st.liver, line_lps=rec["ld_endpoints_lps"], phase=ph)
        assert res.window[1] < 650.0 and res.window[0] < res.surroundings_value < res.window[1]  # excluded band
        assert dice(res.labels.array, truth) >= 0.95


@pytest.mark.parametrize("seed", [0, 1])
def test_line_left_half_uncovered_by_the_chosen_phase_takes_the_next_phase(seed: int) -> None:
    """fu2 L2 from its LD line: on portal venous (most conspicuous) the viable nodule (85 HU against
    the liver's 110) is outside the one-sided window where it reaches the border, so the mask covers
    about half of the drawn line (0.45-0.55; measured 0.951 / 0.959).  A line is drawn edge to edge:
    below LESION_LINE_MIN_COVERAGE the next phase by conspicuity whose mask covers the line is used
    (delayed: 0.988 / 0.990), with a note."""
    from hcc_imaging.segment import constants as C
    from hcc_imaging.segment._grow import _line_coverage

    st = _study(seed, "fu2")
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    line = rec["ld_endpoints_lps"]
    pv = segment_lesion(st.volumes, liver=st.liver, line_lps=line, phase="portal_venous")
    vol = st.volumes["portal_venous"]
    assert _line_coverage(pv.labels.array != 0, (0, 0, 0), vol.lps_to_index(np.asarray(line)), vol.spacing) < C.LESION_LINE_MIN_COVERAGE
    res = segment_lesion(st.volumes, liver=st.liver, line_lps=line)
    assert str(res.phase) != "portal_venous"
    assert res.phase_conspicuity["portal_venous"] == max(res.phase_conspicuity.values())
    assert any("of the drawn line's central part" in n for n in res.notes)
    assert dice(res.labels.array, truth) >= 0.98
    assert dice(res.labels.array, truth) > dice(pv.labels.array, truth) + 0.02


def test_line_coverage_counts_the_central_part_only() -> None:
    """Analytic: a line along a row of a 1 x 1 x 21 mask region; samples outside the box count as
    not covered."""
    from hcc_imaging.segment._grow import _line_coverage

    m = np.zeros((3, 3, 21), bool)
    m[1, 1, :] = True
    line = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 20.0]])
    assert _line_coverage(m, (0, 0, 0), line, (1.0, 1.0, 1.0)) == 1.0
    m[1, 1, 11:] = False  # the far half of the line (x 11-20) is not in the mask
    cov = _line_coverage(m, (0, 0, 0), line, (1.0, 1.0, 1.0))
    assert 0.4 < cov < 0.6
    m[1, 1, :] = True
    assert _line_coverage(m, (0, 0, 10), line, (1.0, 1.0, 1.0)) < 0.6  # the box starts at x = 10
    assert _line_coverage(m[:, :, :2], (0, 0, 0), line, (1.0, 1.0, 1.0)) == 0.0  # the central 80 % starts at x = 2


def test_component_with_most_of_the_line_ball_wins() -> None:
    """Analytic: the seed voxel lies in a 1-voxel speck; the line's ball overlaps a large block."""
    m = np.zeros((5, 20, 20), bool)
    m[2, 10, 10] = True  # speck at the seed
    m[1:4, 2:8, 2:18] = True  # the lesion
    ball = np.zeros_like(m)
    ball[:, 3:12, 3:17] = True
    ball[2, 10, 10] = True
    seed = (2, 10, 10)
    assert component_at(m, seed, ball).sum() == 1  # the seed's own component
    got = component_at(m, seed, ball, prefer_region=True)
    assert got.sum() == 3 * 6 * 16 and not got[seed]
    box = (slice(0, 5), slice(0, 20), slice(0, 20))
    np.testing.assert_array_equal(component_at_in_box(m, box, m.shape, seed, ball, prefer_region=True), got)


@pytest.mark.parametrize(("seed", "tp", "mode"),
                         [(s, tp, m) for s in (0, 1) for tp in ("baseline", "fu1", "fu2") for m in ("click", "line")])
def test_infiltrative_lesion_on_the_phases_combined(seed: int, tp: str, mode: str) -> None:
    """L5 (ill-defined, 3 mm boundary blur; 15 / 22 / 35 / 23 HU below the liver per phase).  1.3
    raised LowContrastError on all; 1.4 segmented portal venous alone with the whole region's value
    (0.786-0.856 on 7 of 12, LowContrastError on 5).  1.5: when that phase's border is ill-defined or
    below the contrast minimum, the phases' matched-filter combination is segmented instead (click:
    ball of the scale with the largest contrast).  Measured (seeds 0-1) 0.845-0.890 on all 12.
    1.7 segments the combination at LESION_FAINT_SMOOTHING_MM (2 mm): 0.910-0.941.  Not 0.95: the
    truth is the 50 % level of a 3 mm blur; the truth-tuned smoothing + threshold oracle reaches
    0.951-0.966 (scripts/segment_ceiling.py), one setting for all cases 0.950 at worst."""
    st = _study(seed, tp)
    rec = st.truth["lesions"]["L5"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, **_where(rec, mode))
    assert dice(res.labels.array, truth) >= 0.90
    assert any("combination" in n for n in res.notes)
    assert not any("largest region of interest" in n for n in res.notes)


@pytest.mark.parametrize("lid", ["L6", "L7"])
def test_lesions_outside_the_liver_with_the_liver_mask_say_so(lid: str) -> None:
    st = _study(0, "fu2")
    rec = st.truth["lesions"][lid]
    with pytest.raises(SeedError, match="outside the liver mask.*liver=None"):
        segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])


@pytest.mark.parametrize(("seed", "tp"), [(s, tp) for s in (0, 1, 2, 3, 4, 5) for tp in ("baseline", "fu1", "fu2")])
def test_thrombus_is_the_lumen_between_the_patent_segments(seed: int, tp: str) -> None:
    """L7 (portal-vein tumour thrombus, no liver mask).  1.4 chose arterial (thrombus 100 HU, vein
    120 HU) and the region ran along the vein (0.398-0.407; LowContrastError on seed 0 baseline).
    1.5: the region holds two tissues that portal venous separates (thrombus 90, vein 180 HU), so
    it is redone by nearest-mean classification on all phases jointly, against the tissue classes
    of its ring (liver, vein): 0.913-0.966 on seeds 0-5, the thrombus' wall against the liver
    having ~20 HU of contrast.  Step 11 (segment/_vessel.py): the vein's lumen from its patent,
    contrast-filled segments either side, minus the blood: 0.975-0.989 on seeds 0-3 (looked at
    while choosing), 0.967-0.984 on held-out seeds 4-5; 1.12 (the lumen radius fitted to the edge
    profile): 0.973-0.991 on seeds 0-5.  The phantom's vein is an ideal tube, the prior's own shape;
    tests/segment/test_vessel.py checks a curved vessel and a mural thrombus."""
    st = _study(seed, tp)
    rec = st.truth["lesions"]["L7"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, truth) >= 0.95
    assert "filling defect inside a contrast-filled vessel" in res.notes[0] and "straight" in res.notes[0]
    # the other notes (e.g. "segmented on the phases ... jointly; check the border") are about the
    # mask the lumen replaced, and say so
    assert all(n.startswith("the mask before the vessel lumen replaced it: ") for n in res.notes[1:])


@pytest.mark.parametrize(("seed", "mode", "floor"),
                         [(0, "click", 0.85), (0, "line", 0.85), (1, "click", 0.89), (1, "line", 0.90)])
def test_node_is_segmented_on_the_phases_combined(seed: int, mode: str, floor: float) -> None:
    """L6 at baseline (porta-hepatis node, 12 mm short axis, no liver mask): 0 / 10 / 20 / 20 HU above
    the soft tissue per phase, below the contrast minimum on every single phase (1.4:
    LowContrastError on all four).  1.5 uses the phases jointly: nearest-mean classification against
    the ring's tissue classes, else the matched-filter combination (weights contrast / noise^2: the
    contrast-to-noise ratio grows from 20 / 15 to 30 / 15 per voxel).  Measured 0.856 / 0.852 (seed 0
    click / line), 0.857 / 0.872 (seed 1); 1.7 (the combination at 2 mm smoothing): 0.856 / 0.863
    and 0.901 / 0.915.  Not 0.95: ~105 voxels, most of them on the border, at a per-voxel
    contrast-to-noise ratio of 2; even the oracles of scripts/segment_ceiling.py stay below it
    (truth-tuned smoothing + threshold 0.910-0.944, maximum-likelihood ellipsoid with the true HU
    and background 0.922-0.967 at baseline / fu1)."""
    st = _no_fat(seed, "baseline")
    rec = st.truth["lesions"]["L6"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, **_where(rec, mode))
    assert dice(res.labels.array, truth) >= floor
    assert any("combination" in n or "jointly" in n for n in res.notes)


def test_node_on_one_phase_still_raises() -> None:
    """The joint fallback needs two phases on one grid: on portal venous alone the node stays a
    LowContrastError (20 HU at sigma 15 HU), never a guessed mask."""
    st = _no_fat(0, "baseline")
    rec = st.truth["lesions"]["L6"]
    with pytest.raises(LowContrastError):
        segment_lesion(st.volumes["portal_venous"], seed_lps=rec["seed_lps"])


@pytest.mark.parametrize(("seed", "tp"), [(s, tp) for s in (0, 1) for tp in ("fu1", "fu2")])
def test_node_measured_floor(seed: int, tp: str) -> None:
    """L6 at fu1 / fu2 (no liver mask), measured (seeds 0-1): fu1 click 0.001 (seed 0: a flagged leak,
    the joint fallback leaks too and is not used) / 0.886 (seed 1; 1.4: 0.655 ill-defined on portal
    venous alone); fu1 line LowContrastError / 0.888;
    fu2 (22 mm node, 3 mm from the liver, which is brighter than the node on portal venous and
    delayed: a node between two tissues) click LowContrastError, line 0.676 (over-segmented towards
    the liver) / LowContrastError.  1.7: fu1 click 0.748 / 0.918, line 0.860 / 0.883; fu2 below.
    Each is a mask of Dice >= 0.65, a flagged leak, or the error."""
    st = _no_fat(seed, tp)
    rec = st.truth["lesions"]["L6"]
    truth = st.lesions.array == rec["label"]
    for mode in ("click", "line"):
        try:
            res = segment_lesion(st.volumes, **_where(rec, mode))
        except LowContrastError:
            continue
        d = dice(res.labels.array, truth)
        assert d >= 0.65 or any("largest region of interest" in n for n in res.notes)


@pytest.mark.parametrize("seed", [0, 1])
def test_click_on_the_node_at_fu1_gives_a_mask(seed: int) -> None:
    """A click on the (12 mm short-axis) node at fu1 returns an unflagged mask.  1.5 gave seed 0 a
    flagged leak (0.001): the 6 mm ball's ring lies partly in the node, so no ring class differed
    from it by 3 smoothed sigmas at 1 mm smoothing, and the combination leaked.  1.7 then seeks the
    classes at 2 mm smoothing (the node is ~4 smoothed sigmas from soft tissue at 1 mm, ~8 at
    2 mm, in the 25 mm shell).  Measured 0.748 / 0.918."""
    st = _no_fat(seed, "fu1")
    rec = st.truth["lesions"]["L6"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, truth) >= 0.72
    assert not any("largest region of interest" in n for n in res.notes)
    assert any("jointly" in n or "combination" in n for n in res.notes)


@pytest.mark.parametrize(("seed", "mode"), [(s, m) for s in (0, 1) for m in ("click", "line")])
def test_node_between_soft_tissue_and_liver(seed: int, mode: str) -> None:
    """L6 at fu2 (22 mm node, the liver 3-7 mm away and brighter than the node on portal venous
    and delayed).  1.5: click LowContrastError (seeds 0-1), line 0.676 / LowContrastError: the
    combination's one-sided window holds the liver, which lies beyond the node in its direction,
    and the ring (6 % liver) gives no liver class.  1.7: when the combination's mask holds a class
    lying beyond it (>= 10 % of its voxels nearer such a class of the 25 mm shell, at 2 mm
    smoothing), or the combination fails, the nearest-mean step runs with the classes of that
    shell.  Measured click 0.871 / 0.847, line 0.870 / 0.870."""
    st = _no_fat(seed, "fu2")
    rec = st.truth["lesions"]["L6"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, **_where(rec, mode))
    assert dice(res.labels.array, truth) >= 0.83
    assert any("jointly" in n for n in res.notes)
    assert not any("largest region of interest" in n for n in res.notes)


@functools.lru_cache(maxsize=2)
def _noisy(seed: int, tp: str):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint=tp, noise_sd_hu=25.0)


def test_a_nodule_segmented_jointly_is_grown_to_its_lesion() -> None:
    """sigma 25 HU, seed 4, fu2: the click in L2's viable nodule is too faint on every single phase
    (LowContrastError: its edge band is within 3 smoothed sigmas of a ring of necrosis and liver),
    so the phases' joint fallback segments it, and 1.9 stopped there: the nodule alone, Dice 0.317.
    1.10 runs step 7 on every phase after that fallback (portal venous shows the necrosis 82 HU
    below the liver): 0.984.  Chosen on this case (docs/validation.md §2.2); no other mask changed at
    sigma 15 / 25 on seeds 0-5, sigma 5 on seeds 0-3, nor in the 105 reference cases."""
    st = make_study(4, timepoint="fu2", noise_sd_hu=25.0)
    rec = st.truth["lesions"]["L2"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, st.lesions.array == rec["label"]) >= 0.95
    assert any("grown to the lesion border" in n for n in res.notes)
    assert not any("jointly" in n for n in res.notes)


@pytest.mark.parametrize(("tp", "lid", "floor"), [("fu1", "L2", 0.95), ("baseline", "L3", 0.9)])
def test_growth_on_another_phase_at_high_noise(tp: str, lid: str, floor: float) -> None:
    """sigma 25 HU, seed 0: step 7 is not accepted on the click's (arterial) phase, where necrosis is
    only ~3.6 smoothed sigmas from the liver; 1.4 tries it on the other phases.  Measured 0.978 and
    0.918 (1.3: 0.111 and 0.110).  Chosen after looking at sigma 25 (docs/validation.md 2.2)."""
    st = _noisy(0, tp)
    rec = st.truth["lesions"][lid]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, truth) >= floor
    assert any("grown to the lesion border" in n for n in res.notes)


def test_growth_on_another_phase_may_need_a_larger_roi() -> None:
    """sigma 25 HU, seed 0, baseline L2 clicked in its viable nodule: step 7 is accepted on portal
    venous, but the whole lesion reaches beyond the nodule's region of interest.  The click's own
    phase grows its ROI in that case; 1.9 does so for another phase's growth too (1.4-1.8 refused
    it and kept the nodule alone, Dice 0.242; 1.9 measured 0.987)."""
    st = _noisy(0, "baseline")
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, truth) >= 0.97
    assert any("grown to the lesion border on the portal_venous phase" in n for n in res.notes)


def test_a_fixed_roi_is_not_enlarged_for_another_phase() -> None:
    """``roi_mm`` fixes the region of interest: the growth on another phase that reaches its
    border is refused as before 1.9, not redone in a larger ROI (the same click as above)."""
    st = _noisy(0, "baseline")
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], roi_mm=25.0)
    m = res.labels.array != 0
    idx = np.argwhere(m)
    seed = np.rint(st.volumes["arterial"].lps_to_index(np.asarray(rec["seed_lps"], float))).astype(int)
    half = np.ceil(25.0 / np.asarray(st.volumes["arterial"].spacing)).astype(int)
    assert (np.abs(idx - seed) <= half).all()  # inside the 25 mm box around the click
    assert dice(m, truth) < 0.5  # the nodule alone, as the user's box allows


def test_nodule_at_the_border_of_a_necrotic_lesion_does_not_leak_at_high_noise() -> None:
    """sigma 25 HU, seed 0, fu2 L2 (the case of ``test_nodule_at_the_border...`` above): the
    parenchyma (67 HU) lies only 2.1 smoothed sigmas above the ring (40 HU), so 1.4-1.8's rule
    (3 sigmas from both, after a ring-spread gate that fails too) kept the near bound at 74 HU,
    at the parenchyma: the region leaked into the liver and the phases' combination that
    followed kept the nodule alone (0.305).  1.9 asks one sigma (the values compared are medians
    of hundreds of voxels): the bound moves to 88 HU and step 7 takes the lesion (measured 0.989)."""
    st = _noisy(0, "fu2")
    rec = st.truth["lesions"]["L2"]
    truth = st.lesions.array == rec["label"]
    params = LesionParams(heterogeneous_expansion=False, enhancing_rim=False)
    nod = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], phase="arterial", params=params)
    m = nod.labels.array != 0
    assert m.sum() < truth.sum() and (m & ~truth).sum() <= 0.1 * m.sum()  # the nodule, not the liver
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, truth) >= 0.97


@pytest.mark.parametrize(("seed", "tp"), [(4, "fu1"), (0, "baseline")])
def test_lipiodol_deposit_is_part_of_the_lesion(seed: int, tp: str) -> None:
    """L3 (post-TACE, a 650 HU lipiodol deposit and a viable remnant).  The region grower leaves
    out the deposit's blurred margin (its values lie between the deposit's and the lesion's,
    above the window): every L3 run was 0.95-0.98; seed 4 fu1's click left the whole deposit out
    (it lies at the lesion's edge, open to the outside: 0.847).  Step 9b (1.8) adds a deposit
    that touches the mask with the margin viable_mask excludes: 0.985-0.998 on seeds 0-5."""
    st = _study(seed, tp)
    rec = st.truth["lesions"]["L3"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert dice(res.labels.array, truth) >= 0.98
    assert any("lipiodol deposit" in n for n in res.notes)
    off = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], params=LesionParams(include_lipiodol=False))
    assert dice(off.labels.array, truth) < 0.965
    assert not any("lipiodol deposit" in n for n in off.notes)
    # one post-contrast phase alone cannot tell lipiodol from an enhancing artery: no step 9b
    pv = {k: v for k, v in st.volumes.items() if str(k) == "portal_venous"}
    one = segment_lesion(pv, liver=st.liver, seed_lps=rec["seed_lps"])
    assert not any("lipiodol deposit" in n for n in one.notes)


@pytest.mark.parametrize("sd", [5.0, 15.0])
def test_every_lesion_kind_on_eight_seeds(sd: float) -> None:
    """docs/validation.md section 0's "met at sigma 5 and sigma 15 on the study phantom" on seeds 0-7
    (the sweep's default is seeds 0-1), every time point, click and line, the liver mask passed as
    ``sweep_segment_study.py`` does (none for L6-L8): L1-L4, the thrombus L7 and the new lesion L9
    all >= 0.95 (1.52 at sigma 15: 0.971 at worst; sigma 5: 0.986); the infiltrative L5 at sigma 15
    all 48 >= 0.95 since 1.54 (0.9546 at worst, median 0.975; 1.53: 46 of 48, the other two 0.949,
    seed 3 baseline and seed 5 fu1 clicks, median 0.964); at sigma 5 all 48 (1.54: 0.981 at worst;
    1.53: 0.980).  A ratchet on the held-out seeds: 1.47
    took seed 3's L5 baseline click from 0.9505 to 0.9492 and was compared on seeds 0-1 only, so
    nobody saw it (validation.md section 2.1, "Algorithm 1.47", the correction of 2026-12-04).  The
    node without a liver mask (L6) and the ascites (L8) are not lesions this target covers."""
    low: list[tuple[int, str, str, str, float]] = []
    l5: list[float] = []
    for seed in range(8):
        for tp in ("baseline", "fu1", "fu2"):
            st = make_study(seed, timepoint=tp, noise_sd_hu=sd)
            for lid, rec in st.truth["lesions"].items():
                truth = st.lesions.array == rec["label"]
                if lid in ("L6", "L8") or not truth.any() or rec.get("seed_lps") is None:
                    continue
                liver = None if lid == "L7" else st.liver
                modes = ["click"] + (["line"] if rec.get("ld_endpoints_lps") else [])
                for mode in modes:
                    res = segment_lesion(st.volumes, liver=liver, **_where(rec, mode))
                    d = dice(res.labels.array != 0, truth)
                    if lid == "L5":
                        l5.append(d)
                    elif d < 0.95:
                        low.append((seed, tp, lid, mode, d))
    assert low == []
    assert len(l5) == 48
    assert min(l5) >= 0.954  # 1.54: 0.9546 at sigma 15, 0.981 at sigma 5 (1.53: 0.949 / 0.980)
    if sd > 5.0:
        assert float(np.median(l5)) >= 0.97  # 1.54: 0.975 (1.53: 0.964)

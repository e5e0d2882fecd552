"""Seeded lesion segmentation (algorithm 1.4) on every lesion kind of the study phantom.

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
    than the liver on the portal venous phase by only ~3 smoothed sigmas)."""
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


@pytest.mark.parametrize(("seed", "tp", "floor"), [(0, "baseline", 0.83), (0, "fu2", 0.84), (1, "fu2", 0.78)])
def test_infiltrative_lesion_is_segmented_with_a_note(seed: int, tp: str, floor: float) -> None:
    """L5 (ill-defined, 3 mm boundary blur) is visible on the portal venous phase only (interior
    25 HU below the liver, ~3 smoothed sigmas).  1.3 raised LowContrastError in round 2: its 3 mm
    edge band is the blur itself.  1.4 uses the whole region's value there and says so.  Measured
    (seeds 0-1): 0.786-0.856; still LowContrastError on 5 of 12 click/line cases (docs)."""
    st = _study(seed, tp)
    rec = st.truth["lesions"]["L5"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    assert str(res.phase) == "portal_venous"
    assert dice(res.labels.array, truth) >= floor
    assert any(n.startswith("ill-defined border") for n in res.notes)


@pytest.mark.parametrize("lid", ["L6", "L7"])
def test_lesions_outside_the_liver_with_the_liver_mask_say_so(lid: str) -> None:
    st = _study(0, "fu2")
    rec = st.truth["lesions"][lid]
    with pytest.raises(SeedError, match="outside the liver mask.*liver=None"):
        segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])


@pytest.mark.parametrize(("seed", "tp"), [(s, tp) for s in (0, 1) for tp in ("baseline", "fu1", "fu2")])
def test_node_and_thrombus_without_the_liver_mask_measured_floor(seed: int, tp: str) -> None:
    """Without the liver mask, L6 (porta-hepatis node, 0/10/20/20 HU over the soft tissue per
    phase, i.e. at most ~2.7 smoothed sigmas) and L7 (PVTT: 20 HU under the portal-vein blood in
    arterial, between liver and soft tissue at +-20 HU in portal venous) are NOT segmented to 0.95:
    far below the target, measured (seeds 0-1).  L7: the arterial phase is chosen and the region
    runs along the portal vein (0.398-0.407).  L6: LowContrastError, or a flagged mask (0.001,
    seed 0 fu1: the mask touches the largest ROI; 0.655 seed 1 fu1, with the ill-defined note)."""
    st = _study(seed, tp)
    rec = st.truth["lesions"]["L7"]
    truth = st.lesions.array == rec["label"]
    try:
        res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    except LowContrastError:
        assert (seed, tp) == (0, "baseline")
    else:
        assert 0.35 <= dice(res.labels.array, truth) < 0.5
    rec = st.truth["lesions"]["L6"]
    truth = st.lesions.array == rec["label"]
    try:
        res = segment_lesion(st.volumes, seed_lps=rec["seed_lps"])
    except LowContrastError:
        return
    d = dice(res.labels.array, truth)
    assert d >= 0.6 or any("largest region of interest" in n for n in res.notes)


@functools.lru_cache(maxsize=2)
def _noisy(seed: int, tp: str):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint=tp, noise_sd_hu=25.0)


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

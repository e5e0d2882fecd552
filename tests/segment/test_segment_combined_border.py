"""Lesion segmentation 1.11: step 10 (d), a clean one-phase border redone on the phases' combination.

A homogeneous lesion that shows on several phases (a typical HCC: bright on arterial, washed out
on portal venous and delayed) had its border drawn on its most conspicuous phase alone, with that
phase's noise.  On the matched-filter combination the phases' independent noise averages out.
Truth: the study phantom's analytic lesions (voxel centres).  Figures: docs/validation.md,
"Algorithm 1.11".
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import LesionParams, segment_lesion
from hcc_imaging.segment._multiphase import _combined_border, _segment_combined
from hcc_imaging.segment._refine import _segment_on
from hcc_imaging.volume import Phase

from ._phantom import dice

OFF = LesionParams(combined_border=False)


@functools.lru_cache(maxsize=6)
def _study(seed: int, tp: str, sd: float):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint=tp, noise_sd_hu=sd)


def _run(st, lid: str, mode: str, params: LesionParams | None = None, **kw):  # type: ignore[no-untyped-def]
    rec = st.truth["lesions"][lid]
    where = {"seed_lps": rec["seed_lps"]} if mode == "click" else {"line_lps": rec["ld_endpoints_lps"]}
    liver = None if lid in ("L6", "L7", "L8") else st.liver
    res = segment_lesion(st.volumes, liver=liver, params=params, **where, **kw)
    return res, res.labels.array != 0, st.lesions.array == rec["label"]


def _one_and_combination(st, phase: Phase, seed, liv, line):  # type: ignore[no-untyped-def]
    """The one-phase ROI result on ``phase``, the combination's, both masks on the whole grid, and
    what ``_combined_border`` decides for them (the step's parts, called directly)."""
    vol = st.volumes[phase]
    p = LesionParams()
    cache: dict = {}
    one = _segment_on(vol, seed, p, liv, line, None, cache=cache)
    comb = _segment_combined(st.volumes, phase, seed, p, liv, line, None, cache=cache)
    assert comb is not None
    a = np.zeros(vol.shape, bool)
    a[one.box] = one.mask
    b = np.zeros(vol.shape, bool)
    b[comb[0].box] = comb[0].mask
    return a, b, comb[0], _combined_border(one, st.volumes, phase, seed, p, liv, line, None, cache)


def _refused(st, lid: str, mode: str):  # type: ignore[no-untyped-def]
    """The lesion's result, which did not use the combination: its mask is the step-off one."""
    res, m, truth = _run(st, lid, mode)
    _, m_off, _ = _run(st, lid, mode, OFF)
    assert not _used(res)
    np.testing.assert_array_equal(m, m_off)
    return res, m, truth


def _used(res) -> bool:  # type: ignore[no-untyped-def]
    used = res.border_weights is not None
    # recorded in the provenance, not as a note (notes are warnings a reader sees as problems)
    assert (res.provenance()["border_weights"] is not None) is used
    assert not any("combination" in n for n in res.notes) or not used
    return used


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("mode", ["click", "line"])
def test_a_small_hcc_at_25_hu_noise_gets_its_border_from_every_phase(seed: int, mode: str) -> None:
    # L9, the 16 mm typical HCC at fu2: arterial +60 HU, portal venous / delayed -25, unenhanced
    # -15 against the liver; at sigma 25 its arterial border alone gave 0.895-0.918 on these seeds.
    # The seed 0 line was 0.953 until 1.41 and is 0.941 since 1.42 (its first lesion value read in
    # the inner half of the line's ball by depth in mm, not voxels): sigma 25's L9 is below the
    # issue's 0.95 in 6 of 12 runs (docs/validation.md section 0), and this test asks what the step
    # adds, not that target.  (Since 1.44 step 12b's per-voxel posterior on its point-sample surface
    # also redecides the one-phase border, 0.958 for seed 0's click: the step's share is read with
    # step 12b off on that side.)
    st = _study(seed, "fu2", 25.0)
    res, m, truth = _run(st, "L9", mode)
    _, m_off, _ = _run(st, "L9", mode, LesionParams(combined_border=False, sharp_border=False))
    assert _used(res)
    assert dice(m, truth) >= (0.94 if mode == "line" else 0.95)
    assert dice(m_off, truth) < 0.93  # the one-phase border: what the step adds
    # the phase, values and window reported are still the most conspicuous phase's
    assert res.phase == Phase.ARTERIAL and res.window[0] > res.surroundings_value
    w = res.border_weights
    assert set(w) == {str(p) for p in st.volumes}
    # Fisher's weights: arterial (brighter) against the washout phases (darker)
    assert w["arterial"] * w["portal_venous"] < 0 and abs(w["arterial"]) == max(abs(v) for v in w.values())


@pytest.mark.parametrize("seed,tp", [(0, "fu1"), (1, "baseline")])
def test_an_infiltrative_lesion_at_low_noise_from_a_click(seed: int, tp: str) -> None:
    # L5 at sigma 5: the one phase's click under-segmented it (0.79-0.88 on seeds 0-1) and its
    # border was not "ill-defined" enough for step 12 to replace.  Since 1.14 step 12 also takes a
    # fit that grows the one-phase mask, so either step alone now recovers it (0.983-0.985 with
    # step 10 (d) off); with neither it stays under-segmented
    st = _study(seed, tp, 5.0)
    res, m, truth = _run(st, "L5", "click")
    _, m_off, _ = _run(st, "L5", "click", OFF)
    neither, m_neither, _ = _run(st, "L5", "click", LesionParams(combined_border=False, blurred_border=False))
    assert _used(res)
    assert dice(m, truth) >= 0.95 > dice(m_neither, truth)
    assert dice(m_off, truth) >= 0.95


def test_a_viable_nodule_the_combination_would_cut_out_keeps_the_one_phase_mask() -> None:
    # L2 at fu2: a viable nodule (130 / 85 HU on arterial / portal venous) beside necrosis (25 /
    # 28 HU); on portal venous both lie below the liver (110 HU) and the line's one-phase mask
    # holds both, but on arterial they lie on opposite sides of the liver (70 HU), and the
    # combination, weighted by the necrosis, leaves the nodule out
    st = _study(3, "fu2", 15.0)
    _, m, truth = _refused(st, "L2", "line")
    assert dice(m, truth) >= 0.98
    # the rule itself: the combination drops >= 100 voxels of the one-phase mask, and they are
    # another tissue, so _combined_border refuses it
    ends = np.asarray(st.truth["lesions"]["L2"]["ld_endpoints_lps"], float)
    vol = st.volumes[Phase.PORTAL_VENOUS]
    a, b, _, decided = _one_and_combination(st, Phase.PORTAL_VENOUS, vol.geometry.lps_to_nearest_index(
        ends.mean(axis=0)), st.liver.array != 0, vol.lps_to_index(ends))
    assert int((a & ~b).sum()) >= 100
    assert decided is None


def test_a_chosen_phase_a_single_phase_or_the_switch_off_is_the_one_phase_mask() -> None:
    # (step 12b off throughout: since 1.44 it redecides this border on the phases of the grid, one
    # phase when one is given)
    st = _study(0, "fu2", 25.0)
    rec = st.truth["lesions"]["L9"]
    p = LesionParams(sharp_border=False)
    chosen = segment_lesion(st.volumes, seed_lps=rec["seed_lps"], liver=st.liver, phase=Phase.ARTERIAL, params=p)
    single = segment_lesion(st.volumes[Phase.ARTERIAL], seed_lps=rec["seed_lps"], liver=st.liver, params=p)
    off, m_off, _ = _run(st, "L9", "click", LesionParams(combined_border=False, sharp_border=False))
    for r in (chosen, single, off):
        assert not _used(r)
    np.testing.assert_array_equal(chosen.labels.array != 0, m_off)
    np.testing.assert_array_equal(single.labels.array != 0, m_off)
    assert off.provenance()["parameters"]["combined_border"] is False


def test_a_combination_that_does_not_hold_the_click_is_not_used() -> None:
    # the node at sigma 5 (no liver mask): its one-phase mask is exact; the combination's mask
    # lies elsewhere (it leaves out all 107 voxels and not the click)
    st = _study(0, "baseline", 5.0)
    res, m, truth = _refused(st, "L6", "click")
    assert dice(m, truth) >= 0.99
    seed = res.seed_index
    _, _, comb, decided = _one_and_combination(st, Phase(res.phase), seed, None, None)
    local = np.asarray(seed) - comb.lo
    inside = bool(np.all(local >= 0) and np.all(local < comb.mask.shape) and comb.mask[tuple(local)])
    assert not inside
    assert decided is None


def test_phases_that_moved_between_breath_holds_are_not_combined() -> None:
    # the phases of a study share a grid, not a breath hold: with the washout and unenhanced
    # phases moved 2 voxels (4.6 mm) the combination would blur L1's border (0.995 -> 0.973);
    # the lesion's contrast centroid on those phases lies 4.6 mm off the arterial one's
    st = _study(0, "baseline", 15.0)
    rec = st.truth["lesions"]["L1"]
    moved = {ph: (v if ph == Phase.ARTERIAL else v.with_array(np.roll(v.array, 2, axis=2)))
             for ph, v in st.volumes.items()}
    res = segment_lesion(moved, seed_lps=rec["seed_lps"], liver=st.liver)
    off = segment_lesion(moved, seed_lps=rec["seed_lps"], liver=st.liver, params=OFF)
    assert res.phase == Phase.ARTERIAL and not _used(res)
    np.testing.assert_array_equal(res.labels.array, off.labels.array)
    assert dice(res.labels.array != 0, st.lesions.array == rec["label"]) >= 0.99
    # unmoved, the same click does use the combination
    assert _used(_run(st, "L1", "click")[0])


def test_the_combination_on_the_first_region_is_the_whole_boxs_there() -> None:
    """``_combined_volume(..., fill=)``: inside the first region of interest the same values as the
    combination of the whole box, bit for bit (each voxel's sum formed alone); 0 elsewhere."""
    from hcc_imaging.segment._multiphase import _combined_volume

    st = _study(0, "baseline", 15.0)
    same = list(st.volumes.values())
    sl = (slice(5, 40), slice(10, 90), slice(20, 100))
    fill = (slice(3, 20), slice(7, 50), slice(11, 60))
    c, s = np.array([30.0, -12.0, 8.0, 20.0])[: len(same)], np.array([15.0, 14.0, 16.0, 15.5])[: len(same)]
    whole, w = _combined_volume(same, sl, c, s, outside_read=False)
    part, w2 = _combined_volume(same, sl, c, s, outside_read=False, fill=fill)
    inner = tuple(slice(a.start + f.start, a.start + f.stop) for a, f in zip(sl, fill, strict=True))
    assert np.array_equal(w, w2)
    assert part.array[inner].tobytes() == whole.array[inner].tobytes()
    assert np.count_nonzero(whole.array[inner]) > 0.9 * whole.array[inner].size
    rest = np.ones(part.shape, bool)
    rest[inner] = False
    assert not part.array[rest].any()


def test_the_combination_reads_the_first_regions_box_unless_the_lesion_outgrows_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """1.17: the phases' contrasts, noise and combination are read on the first region of
    interest's box when the lesion stays in that region (L1, a typical HCC: +-35 mm, not the
    largest region's +-100 mm), and all of it once more on the largest box when it outgrows the
    first (a first region of 12 mm): then the mask is the largest box's, as before 1.17."""
    from hcc_imaging.segment import _multiphase

    halves: list[float] = []
    real = _multiphase._segment_combined_in

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        halves.append(k["box_half_mm"])
        return real(*a, **k)

    monkeypatch.setattr(_multiphase, "_segment_combined_in", spy)
    st = _study(0, "baseline", 15.0)
    rec = st.truth["lesions"]["L1"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"])
    p = LesionParams()
    assert halves and set(halves) == {p.roi_half_size_mm}
    assert res.border_weights is not None  # the border is the combination's
    assert dice(res.labels.array != 0, st.lesions.array == rec["label"]) >= 0.95

    # a first region of 12 mm: L1 outgrows it, and the largest box decides
    small = LesionParams(roi_half_size_mm=12.0)
    vol = st.volumes[Phase.ARTERIAL]
    seed = tuple(int(v) for v in np.round(vol.lps_to_index(np.asarray(rec["seed_lps"], float))))
    halves.clear()
    got = _multiphase._segment_combined(st.volumes, Phase.ARTERIAL, seed, small, st.liver.mask(), None, None)
    assert halves == [12.0, small.roi_max_half_size_mm]
    want = real(st.volumes, Phase.ARTERIAL, seed, small, st.liver.mask(), None, None, None, {},
                box_half_mm=small.roi_max_half_size_mm)
    assert got is not None and want is not None
    assert np.array_equal(got[0].lo, want[0].lo) and got[0].mask.tobytes() == want[0].mask.tobytes()
    assert got[1] == want[1]

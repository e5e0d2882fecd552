"""Step 12's near-ellipsoid surface (1.54, ``LesionParams(blurred_surface="near_ellipsoid")``, the
default; ``"free"`` is 1.53's surface): docs/validation.md §2.2 "Algorithm 1.54"."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment import LesionParams, SegmentationError, segment_lesion

from ._phantom import benchmark_module, dice, perf_phantom, robustness_case


def _l5_click(seed: int, tp: str, surface: str) -> tuple[float, float, dict]:  # type: ignore[type-arg]
    st = make_study(seed, timepoint=tp, noise_sd_hu=15.0)
    rec = st.truth["lesions"]["L5"]
    truth = st.lesions.array == rec["label"]
    res = segment_lesion(st.volumes, liver=st.liver, seed_lps=rec["seed_lps"], params=LesionParams(blurred_surface=surface))
    m = res.labels.array != 0
    return 2.0 * float((m & truth).sum()) / float(m.sum() + truth.sum()), float(m.sum() / truth.sum()), res.provenance()


def test_the_default_is_the_near_ellipsoid_and_a_wrong_name_is_refused() -> None:
    assert LesionParams().blurred_surface == "near_ellipsoid"
    with pytest.raises(SegmentationError, match="blurred_surface"):
        LesionParams(blurred_surface="ellipsoid")


@pytest.mark.parametrize(("seed", "tp"), [(3, "baseline"), (5, "fu1")])
def test_the_near_ellipsoid_lifts_the_two_infiltrative_runs_below_095(seed: int, tp: str) -> None:
    """The phantom's L5 is an ellipsoid of 20 / 13 / 11 mm under a 3 mm margin: the two clicks at
    sigma 15 that the free surface leaves at 0.949 (masks 0.92-0.93 x the truth) reach >= 0.955 with
    the surface held near an ellipsoid, which the free surface's prior charges; the choice is in the
    provenance."""
    free, free_vol, _ = _l5_click(seed, tp, "free")
    near, near_vol, prov = _l5_click(seed, tp, "near_ellipsoid")
    assert free < 0.95 and free_vol < 0.935
    assert near >= 0.955 and abs(near_vol - 1.0) < abs(free_vol - 1.0)  # 1.54: 0.958 / 0.962
    assert prov["parameters"]["blurred_surface"] == "near_ellipsoid"


@pytest.mark.parametrize("case", [((1.0, 0.7, 0.7), 10.0, 40.0, 10.0), ((2.5, 0.703, 0.703), 10.0, 20.0, 0.0)])
def test_a_sharp_small_lesion_is_left_as_the_free_surface_leaves_it(case: tuple) -> None:  # type: ignore[type-arg]
    """Sharp 10 mm lesions of the robustness sweep where the near-ellipsoid, fitted on its own,
    passed the tests the free surface failed (0.96 -> 0.85, 0.99 -> 0.90): it is only tried on the
    start of a free fit that was accepted, so where the free surface sees no blurred margin the
    mask is the free surface's."""
    i, c = robustness_case(*case)
    ph = benchmark_module("sweep_segment_robustness").phantom(i, c, 0.6, 0.0)
    masks = []
    for surface in ("free", "near_ellipsoid"):
        res = segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(blurred_surface=surface))
        assert res.border_blur_mm is None
        masks.append(res.labels.array != 0)
    assert np.array_equal(*masks)


def test_a_lobulated_blurred_lesion_keeps_its_lobes() -> None:
    """A 40 mm lobulated lesion (perf.md shape, lobulation 0.2) under a 3 mm margin at 10 HU: the
    data show the lobes, so Akaike takes a weak prior or the free surface and the mask stays within
    0.005 of the free surface's Dice (measured: 0.976 either way; the near-ellipsoid with its
    strongest prior alone gave 0.963)."""
    ph = perf_phantom(3, noise_sd_hu=10.0, lesion_hu=100.0, diameter_mm=40.0, lobulation=0.2, lesion_blur_mm=3.0)
    got = {}
    for surface in ("free", "near_ellipsoid"):
        res = segment_lesion(ph.volume, seed_index=ph.seed_index, params=LesionParams(blurred_surface=surface))
        assert res.border_blur_mm is not None
        got[surface] = dice(res.labels.array != 0, ph.truth.array != 0)
    assert got["free"] >= 0.95 and got["near_ellipsoid"] >= got["free"] - 0.005

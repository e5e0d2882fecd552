"""Lesion segmentation 1.47: step 12's fit leaves out another tissue in its band (issue 5).

The ill-defined-margin sweep (``benchmarks/sweep_segment_robustness.py --lesion-blur-mm 3
--z-psf-vox 0.2``): lobulated lesions fading into the 60 HU liver over a 3 mm Gaussian, a vessel
(150 HU) 4 mm and a fat plane (-100 HU) 12 mm beyond them; the truth is the sharp shape.  Step 12's
blurred-surface model (one lesion, one surroundings) cannot explain the vessel or the fat in its
10 mm band: on the noise-free images their misfit gave a reduced chi^2 of ~240, which divided the
evidence below its threshold or pulled the surface outward, and the masks stayed the grower's
(2.4-7 x the truth), step 7's halo or step 8's star (13-19 x).  1.47 refits without the voxels that
lie beyond both levels by more than one contrast (:func:`hcc_imaging.segment._blur._other_tissue`).
Figures: docs/validation.md, "Algorithm 1.47".
"""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment._blur import _other_tissue

from ._phantom import dice, robustness_click


# noise-free ill-defined lesions below 0.9 with 1.46 (Dice 1.46 -> 1.47 in the comments)
CASES = [
    ((5.0, 0.78, 0.78), 20.0, 20.0),    # 0.640 -> 0.968 (step 7 grew over the halo: 2.2 x)
    ((5.0, 0.78, 0.78), 20.0, 40.0),    # 0.698 -> 0.970
    ((1.25, 0.9, 0.9), 20.0, 40.0),     # 0.721 -> 0.966
    ((1.0, 0.7, 0.7), 20.0, 40.0),      # 0.830 -> 0.970
    ((3.0, 0.6, 0.6), 10.0, 110.0),     # 0.113 -> 0.922 (step 8's star, 14 x)
]


@pytest.mark.parametrize(("spacing", "diameter", "hu"), CASES)
def test_noise_free_ill_defined_lesion_beside_a_vessel_and_fat(spacing, diameter, hu) -> None:  # type: ignore[no-untyped-def]
    res, m, truth = robustness_click(spacing, diameter, hu, 0.0, 0.2, 3.0)
    assert res.border_blur_mm is not None  # step 12 placed the border
    assert dice(m, truth) >= 0.9
    assert 0.75 <= m.sum() / truth.sum() <= 1.3


def test_other_tissue_is_beyond_both_levels_by_one_contrast() -> None:
    """A hypodense core (30) in surroundings (60) with a blurred step between: fat (-100) and a
    vessel (150) are another tissue; the lesion's own values, down to its plateau one contrast
    beyond the core's median (0), are not."""
    shape = (30, 30, 30)
    z, y, x = np.meshgrid(*[np.arange(n) - n / 2 for n in shape], indexing="ij")
    rho = np.sqrt(z**2 + y**2 + x**2).astype(np.float64)
    r0 = np.full(shape, 6.0)
    start = rho <= 6.0
    im = np.where(start, 30.0, 60.0)
    im[rho <= 2.0] = 0.0  # the plateau the blurred core's median falls short of
    im[:, :, :3] = -100.0  # fat
    im[:3] = 150.0  # a vessel
    bad = _other_tissue([im], start, rho, r0, np.abs(rho - r0) <= 10.0)
    assert bad is not None
    assert bad[:, :, :3].all() and bad[:3].all()
    assert not bad[rho <= 12.0].any()


def _step_12_call(monkeypatch: pytest.MonkeyPatch) -> tuple[tuple, dict, object]:  # type: ignore[type-arg]
    """Step 12's call on the slowest ill-defined click of the sweep (40 mm, 40 HU, σ 25 on
    1 × 0.7 × 0.7 mm: the vessel and the fat lie in its band): (args, kwargs, its result)."""
    from hcc_imaging.segment import _driver

    calls = []
    real = _driver.blurred_border

    def recorded(*a, **k):  # type: ignore[no-untyped-def]
        out = real(*a, **k)
        calls.append((a, k, out))
        return out

    monkeypatch.setattr(_driver, "blurred_border", recorded)
    res, _, _ = robustness_click((1.0, 0.7, 0.7), 40.0, 40.0, 25.0, 0.2, 3.0)
    monkeypatch.undo()
    assert res.border_blur_mm is not None and len(calls) == 1
    return calls[0]


def test_the_fit_without_another_tissue_runs_first_and_alone_when_it_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.47 used the fit without another tissue when it passed, else the fit with it; both ran,
    and each fitted 1.54's near-ellipsoid.  Since then the fit without it runs first, the fit with
    it only when that one fails, and the near-ellipsoid only for the fit that is used: the same
    mask (every sweep identical), a third less time on such clicks.  Here: one fit, on the band
    without the other tissue's voxels, one near-ellipsoid, and the click's own mask."""
    from hcc_imaging.segment import _blur

    a, k, out = _step_12_call(monkeypatch)
    prep = _blur._prepare(a[0], np.asarray(a[1]), *a[2:])
    assert prep is not None
    use, bad = _blur._band_voxels(prep)
    assert bad is not None and (bad & use).any()  # another tissue in the band
    fits, nears = [], []
    fit, near = _blur._fit_surface, _blur._near_ellipsoid
    monkeypatch.setattr(_blur, "_fit_surface", lambda p, band, *x, **y: fits.append(band.use) or fit(p, band, *x, **y))
    monkeypatch.setattr(_blur, "_near_ellipsoid", lambda *x, **y: nears.append(1) or near(*x, **y))
    again = _blur.blurred_border(*a, **k)
    assert again is not None and np.array_equal(again[0], out[0]) and again[2] == out[2]
    assert len(fits) == 1 and len(nears) == 1
    assert np.array_equal(fits[0], _blur._without(use, bad)) and not (fits[0] & bad).any()


def test_the_fit_with_another_tissue_runs_when_the_fit_without_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback: when the fit without the other tissue is refused, the fit on the whole band
    follows (and its result, when it passes, is the answer)."""
    from hcc_imaging.segment import _blur

    a, k, _ = _step_12_call(monkeypatch)
    prep = _blur._prepare(a[0], np.asarray(a[1]), *a[2:])
    assert prep is not None
    use, _ = _blur._band_voxels(prep)
    fits = []
    fit = _blur._fit_surface

    def first_refused(p, band, *x, **y):  # type: ignore[no-untyped-def]
        fits.append(band.use)
        return None if len(fits) == 1 else fit(p, band, *x, **y)

    monkeypatch.setattr(_blur, "_fit_surface", first_refused)
    got = _blur.blurred_border(*a, **k)
    assert len(fits) == 2 and np.array_equal(fits[1], use) and not np.array_equal(fits[0], use)
    plain = fit(prep, _blur._band(prep, use), a[3], a[4], surfaces=k.get("surfaces", "free"))
    if plain is None:
        assert got is None
    else:
        assert got is None or got[2] == plain.sigma_mm

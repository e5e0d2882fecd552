"""Segmentation across grids, sizes, contrasts and noise (1.13-1.14): a guard on the conditions the
other tests do not vary.

Five grids (slices 1.0 / 1.25 / 2.5 / 3.0 / 5.0 mm) x five conditions, on the phantoms of
``benchmarks/sweep_segment_robustness.py`` (same seeds, z blur 0.2 voxel).  Several of these
failed before 1.13: noise-free lesions (step 7 read partial volume as another tissue; 0.64-0.69
at 30 mm), the 250 HU lesion at 25 HU on 3 x 0.6 mm and the 40 mm lesion at 25 HU on 5 mm slices
(refused: the seed median was off by more than the smoothed noise).  Measured since: 0.971-0.995
(docs/validation.md, "Algorithm 1.13").
"""

from __future__ import annotations


import pytest

from hcc_imaging.segment import segment_lesion

from ._phantom import benchmark_module, dice

SWEEP = benchmark_module("sweep_segment_robustness")
COMBOS = SWEEP.combos()
CONDITIONS = [(20.0, 20.0, 0.0), (40.0, 20.0, 0.0), (20.0, 90.0, 10.0), (20.0, 250.0, 25.0), (40.0, 110.0, 25.0)]


@pytest.mark.parametrize("grid", SWEEP.GRIDS, ids=lambda g: f"{g[0]:g}x{g[1]:g}mm")
@pytest.mark.parametrize(("d", "hu", "sd"), CONDITIONS, ids=lambda v: f"{v:g}")
def test_click_at_the_centre_on_every_grid(grid: tuple[float, float, float], d: float, hu: float, sd: float) -> None:
    i = COMBOS.index((grid, d, hu, sd))  # the sweep's seed
    ph = SWEEP.phantom(i, COMBOS[i], 0.2, 0.0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert dice(res.labels.array, ph.truth.array) >= 0.95
    assert not any("heterogeneous" in n or "edge of the image" in n for n in res.notes)


@pytest.mark.parametrize("grid", SWEEP.GRIDS, ids=lambda g: f"{g[0]:g}x{g[1]:g}mm")
@pytest.mark.parametrize(("hu", "sd"), [(20.0, 10.0), (90.0, 10.0), (250.0, 10.0)], ids=lambda v: f"{v:g}")
def test_an_ill_defined_40_mm_lesion_on_every_grid(grid: tuple[float, float, float], hu: float, sd: float) -> None:
    """The sweep's ``--lesion-blur-mm 3`` (the lesion fades into the liver over 3 mm), 40 mm, a dark
    and two bright lesions at 10 HU noise: step 12 places the border, 0.981-0.995 on every grid
    (1.14).  The 250 HU lesion's click region is its core, and step 7 reads the margin around it as
    lesion tissue: 1.14 gave step 8's star, 2.7-2.9 x the lesion (0.52-0.54); 1.15 fits step 12
    around the core, 0.981-0.992 (docs/validation.md, "Algorithm 1.15", lists the ill-defined
    cases that still fail: 10 mm, 20 mm)."""
    i = COMBOS.index((grid, 40.0, hu, sd))
    ph = SWEEP.phantom(i, COMBOS[i], 0.2, 3.0)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    assert res.border_blur_mm is not None
    assert dice(res.labels.array, ph.truth.array) >= 0.97

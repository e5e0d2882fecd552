"""An MR series' scale does not change its mask (algorithm 1.69).

Steps 9 (1.48's surfaces), 12 and 12b floored their noise sigmas at 1.0 in the image's own units:
1 HU on CT, but on an MR series scaled to 0-1 a hundred times its noise, so the fits' data weights
(1 / sigma^2) fell against their roughness priors and the outlier bounds widened.  The robustness
sweep's phantoms as MR at HU x 0.01 differed from CT in 24 of 60 noisy runs (two grids), by up to
0.084 in Dice (this lesion: 0.949 on CT, 0.866 at 0-1); at HU x 10 + 1000 they did not.  The floors
are now one :func:`hcc_imaging.segment._morph.noise_unit` on MR (the unit of step 13's
``intensity_unit``), 1 HU on CT, and every one of the 60 equals CT (docs/validation.md section 2.1,
"Grids and MR scalings outside the sweep")."""

from __future__ import annotations

import dataclasses

import numpy as np

from hcc_imaging.segment import segment_lesion
from hcc_imaging.volume import Modality

from ._phantom import benchmark_module, robustness_case


def _as_mr(scale: float):  # type: ignore[no-untyped-def]
    """The robustness sweep's 20 mm 20 HU lesion at sigma 10 (the 3 x 0.6 x 0.6 mm case's seed) on a
    3 x 1.5 x 1.5 mm grid, as MR with its values x ``scale`` (HU x 1: the CT values), and the click."""
    i, (_, d, hu, sd) = robustness_case((3.0, 0.6, 0.6), 20.0, 20.0, 10.0)
    ph = benchmark_module("sweep_segment_robustness").phantom(i, ((3.0, 1.5, 1.5), d, hu, sd), 0.6, 0.0)
    arr = ph.volume.array.astype(np.float32) * np.float32(scale)
    return dataclasses.replace(ph.volume, array=arr, modality=Modality.MR), ph.seed_index


def test_an_mr_series_on_a_0_1_scale_gets_the_mask_of_its_values_x_100() -> None:
    """(x 100 puts the noise, sigma 10 per voxel, far above the old 1.0 floor, as on CT.)"""
    vol_01, seed = _as_mr(0.01)
    vol_hu, _ = _as_mr(1.0)
    small = segment_lesion(vol_01, seed_index=seed)
    large = segment_lesion(vol_hu, seed_index=seed)
    assert np.array_equal(small.labels.array, large.labels.array)
    assert small.notes == large.notes

"""The private morphology helpers' fast paths agree with their plain definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from hcc_imaging.segment._morph import bbox, component_at, component_at_in_box, pad_box


@pytest.mark.parametrize("seed", range(6))
def test_bbox_matches_nonzero(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = np.zeros((9, 14, 11), bool)
    k = rng.integers(1, 6)
    m[tuple(rng.integers(0, n, k) for n in m.shape)] = True
    idx = np.nonzero(m)
    lo, hi = bbox(m)
    assert lo.tolist() == [int(i.min()) for i in idx]
    assert hi.tolist() == [int(i.max()) + 1 for i in idx]
    assert bbox(np.zeros((3, 4, 5), bool)) is None


@pytest.mark.parametrize("seed", range(12))
def test_component_at_in_box_equals_component_at(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (12, 20, 18)
    blobs = ndi.gaussian_filter(rng.normal(size=shape), 1.2) > 0.15
    box = pad_box(np.array([2, 3, 4]), np.array([9, 15, 12]), (0, 0, 0), shape)
    full = np.zeros(shape, bool)
    full[box] = blobs[box]  # False outside the box
    ball_region = np.zeros(shape, bool)
    s = tuple(int(v) for v in rng.integers(0, shape))  # the seed may lie outside the box
    ball_region[tuple(slice(max(v - 2, 0), v + 3) for v in s)] = True
    for region in (None, ball_region):
        want = component_at(full, s, region)
        got = component_at_in_box(full[box], box, shape, s, region)
        assert got.shape == want.shape
        assert np.array_equal(got, want)
    # a seed on a voxel of the mask: a non-empty component, the same one
    on = np.argwhere(full)
    assert on.size
    s_on = tuple(int(v) for v in on[rng.integers(0, len(on))])
    got = component_at_in_box(full[box], box, shape, s_on)
    assert got[s_on] and np.array_equal(got, component_at(full, s_on))

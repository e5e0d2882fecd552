"""The private morphology helpers' fast paths agree with their plain definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from hcc_imaging.segment._morph import (
    ball,
    bbox,
    binary_opening,
    component_at,
    component_at_in_box,
    erode_faces,
    fill_holes,
    histogram_mode,
    median,
    percentiles,
    pad_box,
    within_mm,
)


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


# spacings of the perf phantom, the study phantom, an isotropic grid, and the ring / band lattices
# (in-plane stride 2, coarse 2) that the lesion segmentation (segment/_grow.py) runs these helpers on
_SPACINGS = [(2.5, 0.703, 0.703), (3.0, 2.3, 2.3), (1.0, 1.0, 1.0), (2.5, 1.406, 1.406), (5.0, 2.812, 2.812),
             (1.6, 1.14, 1.14), (0.5, 1.2, 1.2)]


def _masks(seed: int, n: int) -> list[np.ndarray]:
    """Random masks: sparse / dense noise and blobs with cavities, small odd shapes."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 16, 3))
        if k % 3 == 0:
            m = ndi.binary_dilation(rng.random(shape) < 0.08, iterations=int(rng.integers(1, 3)))
        elif k % 3 == 1:
            m = ndi.gaussian_filter(rng.normal(size=shape), 1.0) > 0.1
        else:
            m = rng.random(shape) < rng.uniform(0.05, 0.9)
        out.append(m)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_fill_holes_equals_binary_fill_holes_3d_then_per_slice(seed: int) -> None:
    filled_some = 0
    for m in _masks(seed, 150):
        want = ndi.binary_fill_holes(m)
        for k in range(want.shape[0]):
            if want[k].any():
                want[k] = ndi.binary_fill_holes(want[k])
        got = fill_holes(m)
        assert got.dtype == bool and np.array_equal(got, want)
        filled_some += int((got != m).any())
    assert filled_some > 10  # the masks do have holes


@pytest.mark.parametrize("seed", range(4))
def test_binary_opening_equals_scipy(seed: int) -> None:
    for i, m in enumerate(_masks(seed, 80)):
        sp = _SPACINGS[i % len(_SPACINGS)]
        for radius in (1.5, 2.0, 3.0):
            el = ball(radius, sp)
            assert np.array_equal(binary_opening(m, el), ndi.binary_opening(m, structure=el))


def test_within_mm_groups_many_runs_by_slice_offset() -> None:
    """The 25 mm reach of the test above takes within_mm's grouped path (runs of slice offsets c
    and -c ORed once) on every test grid, and the 2-6 mm rings the plain one: both are checked
    against the distance transform there."""
    from hcc_imaging.segment._morph import _runs_by_slice, _runs_within

    for sp in _SPACINGS:
        assert _runs_by_slice(_runs_within(sp, 25.0)[1]) is not None
        assert _runs_by_slice(_runs_within(sp, 2.0)[1]) is None


@pytest.mark.parametrize("seed", range(4))
def test_erode_faces_equals_scipy(seed: int) -> None:
    masks = _masks(seed, 60) + [np.ones((4, 5, 6), bool), np.ones((1, 1, 1), bool), np.zeros((3, 1, 2), bool)]
    for m in masks:
        assert np.array_equal(erode_faces(m), ndi.binary_erosion(m, iterations=1, border_value=1))


@pytest.mark.parametrize("seed", range(4))
def test_within_mm_equals_distance_transform_threshold(seed: int) -> None:
    for i, m in enumerate(_masks(seed, 80)):
        if not m.any():
            continue
        sp = _SPACINGS[i % len(_SPACINGS)]
        d = ndi.distance_transform_edt(~m, sampling=sp)
        for reach in (0.0, 2.0, 2.3, 3.0, 6.0, 25.0):
            assert np.array_equal(within_mm(m, sp, reach), d <= reach), (m.shape, sp, reach)


@pytest.mark.parametrize("seed", range(4))
def test_component_at_equals_label_of_the_seed(seed: int) -> None:
    """The flood-fill path (seed voxel on) gives the seed's ``ndi.label`` component."""
    rng = np.random.default_rng(100 + seed)
    masks = _masks(seed, 60) + [np.ones((4, 5, 6), bool), np.ones((1, 1, 1), bool)]
    for m in masks:
        lab, _ = ndi.label(m)
        for _ in range(4):
            s = tuple(int(v) for v in rng.integers(0, m.shape))
            got = component_at(m, s)
            want = lab == lab[s] if m[s] else np.zeros_like(m)
            assert got.dtype == bool and np.array_equal(got, want)
            box = tuple(slice(0, n) for n in m.shape)
            assert np.array_equal(component_at_in_box(m, box, m.shape, s), want)


@pytest.mark.parametrize("seed", range(4))
def test_median_equals_numpy_bit_for_bit(seed: int) -> None:
    """The histogram selection gives np.median's value and dtype, also with ties, zeros of both
    signs, a NaN, an infinity, heavy tails and constant runs (its fallbacks)."""
    rng = np.random.default_rng(seed)
    selected = 0
    for t in range(400):
        n = int(rng.integers(0, 4000))
        dt = np.float32 if t % 2 else np.float64
        v = (rng.normal(size=n) * rng.choice([1e-30, 1e-3, 1.0, 1e5, 1e30])).astype(dt)
        if t % 3 == 0:
            v = np.round(v * 4) / 4  # many ties (and zeros of both signs)
        if t % 7 == 0 and n:
            v[: n // 3] = v[0]
        if t % 11 == 0 and n:
            v[rng.integers(0, n)] = np.nan
        if t % 13 == 0 and n:
            v[rng.integers(0, n)] = np.inf
        if t % 17 == 0 and n:
            v[: n // 2] = -0.0
        if t % 19 == 0:
            v = rng.standard_cauchy(n).astype(dt)
        want, got = np.median(v), median(v)
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (t, n, want, got)
        selected += n >= 64 and bool(np.isfinite(v).all()) and bool(want != 0)
    assert selected > 100  # the selection path itself ran, not only the fallbacks


@pytest.mark.parametrize("seed", range(4))
def test_percentiles_equal_numpy_bit_for_bit(seed: int) -> None:
    """``percentiles`` gives ``np.percentile``'s values and dtype (linear interpolation), for the
    1st / 99th percentiles ``histogram_mode`` reads and others (0, 100, close pairs, one rank, a
    fractional rank above one half), also with ties, zeros of both signs, a NaN, an infinity, heavy
    tails, constant runs and float32 (its fallbacks); ``histogram_mode`` is the numpy one's."""

    def numpy_mode(values: np.ndarray, width: float) -> float:  # histogram_mode as numpy wrote it
        lo_v, hi_v = np.percentile(values, [1, 99])
        nb = int(max(1, min(2000, (hi_v - lo_v) / width)))
        hist, edges = np.histogram(values, bins=nb, range=(lo_v, hi_v + 1e-3))
        k = int(np.argmax(np.convolve(hist, np.ones(3), mode="same")))
        peak = 0.5 * (edges[k] + edges[k + 1])
        near = values[np.abs(values - peak) <= 2.0 * width]
        return float(np.median(near)) if near.size else float(peak)

    rng = np.random.default_rng(seed)
    selected = 0
    for t in range(300):
        n = int(rng.integers(1, 6000))
        dt = np.float32 if t % 5 == 4 else np.float64
        v = (rng.normal(size=n) * rng.choice([1e-30, 1e-3, 1.0, 1e5, 1e30])).astype(dt)
        if t % 3 == 0:
            v = np.round(v * 4) / 4
        if t % 7 == 0:
            v[: n // 3] = v[0]
        if t % 11 == 0:
            v[rng.integers(0, n)] = np.nan
        if t % 13 == 0:
            v[rng.integers(0, n)] = np.inf
        if t % 17 == 0:
            v[: n // 2] = -0.0
        if t % 19 == 0:
            v = rng.standard_cauchy(n).astype(dt)
        for q in ([1, 99], [0, 100], [50], [25, 26], [0.5, 99.9, 99.99]):
            with np.errstate(invalid="ignore"):
                want, got = np.percentile(v, q), percentiles(v, q)
            assert np.asarray(got).dtype == want.dtype
            assert np.asarray(got).tobytes() == want.tobytes(), (t, n, q, want, got)
        if np.isfinite(v).all():
            width = float(rng.choice([0.005, 0.05, 0.25])) * (float(np.ptp(v)) or 1.0)
            assert histogram_mode(v, width) == numpy_mode(v, width)
        selected += n >= 64 and dt == np.float64 and bool(np.isfinite(v).all())
    assert selected > 100  # the selection path itself ran, not only the fallbacks

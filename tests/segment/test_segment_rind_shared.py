"""The session of 2026-12-06 (eighth session): step 13's lobulated click's work shared or split without changing a
value: the whole box's surfaces of the pixels' step rendered by halves on two threads
(:meth:`._rind_gn.Evaluator.surfaces`), the layer's float32 radius computed once for the correction's reading
and the mask (:class:`._rind_setup.LayerRadius`), the correction's prior and banded layout built once
(:func:`._rind_nodes._prior_and_band`).  docs/validation.md section 2.4, "Algorithm 1.66" (item 1)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import sparse

from hcc_imaging.segment import _rind, _rind_coarse, _rind_gn, _rind_nodes
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._rind_setup import LayerRadius, _inside_corrected

NTH, NPH = C.LESION_RIND_RAYS


def _box(shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """A fit's set-up on a box of ``shape`` (0.7 mm pixels, 1.5 mm slices) around a ~9 mm surface."""
    sp = np.array([1.5, 0.7, 0.7])
    centre = (np.asarray(shape) - 1) / 2 * sp
    degree = C.LESION_BLUR_MODEL_DEGREE
    k = _rind._direction_terms(np.eye(3), degree).shape[1]
    x0 = np.zeros(2 * k)
    x0[0], x0[k] = 4.0, 9.0
    rho, u, use, _, y_t, _ = _rind._setup(shape, sp, centre, x0, degree, None)
    return rho, u, use, y_t, x0, sp


def test_the_whole_box_surfaces_by_halves_are_the_same() -> None:
    """The pixels' step's surfaces over the whole box, rendered by halves of the voxels on two threads, are
    the one-thread surfaces bit for bit, and so are the values and residual of the render."""
    if _rind_gn.kernels() is None:
        pytest.skip("the compiled kernels are off")
    rho, u, use, y_t, x0, sp = _box((24, 64, 64))  # (98 304 voxels: over the split's floor)
    assert rho.size >= _rind_gn._SPLIT_MIN
    rng = np.random.default_rng(3)
    x = x0 + np.concatenate([[0.0], 0.2 * rng.normal(size=x0.size // 2 - 1), [0.0], 0.2 * rng.normal(size=x0.size // 2 - 1)])
    h = np.full(rho.shape, 0.7, np.float32)
    data = rng.normal(100.0, 15.0, int(use.sum()))
    ev = _rind_gn.Evaluator(_rind_gn.kernels(), rho.astype(np.float32), y_t, h, [0.4, 0.9, 0.9], use, data, 15.0,
                            restrict=False)
    one = ev.surfaces(x)
    with ThreadPoolExecutor(1) as pool:
        two = ev.surfaces(x, pool)
        r_two = ev.render(x, None, pool)
    r_one = ev.render(x, None, None)
    assert 0.0 < float(one[1].mean()) < 1.0
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a, b)
    assert r_one[0] == r_two[0] and np.array_equal(r_one[1], r_two[1])


def test_the_shared_layer_radius_gives_the_same_mask() -> None:
    """The layer's float32 radius computed once and read by the correction's near-layer offsets and by the
    mask gives the mask each computing its own gives, voxel for voxel."""
    rho, u, use, y_t, x0, sp = _box((20, 40, 40))
    degree = C.LESION_BLUR_MODEL_DEGREE
    k = x0.size // 2
    rng = np.random.default_rng(1)
    coef = x0[k:] + np.concatenate([[0.0], 0.3 * rng.normal(size=k - 1)])
    d = rng.normal(scale=0.8, size=NTH * NPH)
    want = _inside_corrected(rho, u, y_t, coef, _rind_coarse.offsets_near_layer(coef, d, rho, u, y_t, None), degree)
    shared = LayerRadius(coef, y_t)
    near = _rind_coarse.offsets_near_layer(coef, d, rho, u, y_t, None, shared)
    got = _inside_corrected(rho, u, y_t, coef, near, degree, shared)
    assert 0 < int(want.sum()) < want.size
    assert np.array_equal(got, want)
    assert shared.get() is shared.get()  # (one product)


def test_the_cached_banded_layout_solves_as_a_new_one() -> None:
    """The correction's prior and banded layout, built once, give the step a layout built for the fit's own
    normal matrix gives (bit for bit), and refuse a node count that is not the rays'."""
    rng = np.random.default_rng(0)
    u = rng.normal(size=(5000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    normal = _rind_nodes._Normal(_rind_nodes.node_weights(u))
    n = NTH * NPH
    prior, cached = _rind_nodes._prior_and_band(n)
    lap = _rind_nodes.membrane()
    fresh_prior = (sparse.block_diag([lap, lap]) * C.LESION_RIND_NODES_SMOOTHING
                   + sparse.identity(2 * n) * C.LESION_RIND_NODES_RIDGE).tocsr()
    assert (prior != fresh_prior).nnz == 0
    fresh = _rind_nodes._Banded(normal, fresh_prior)
    a_in, a_out = rng.normal(size=(2, len(u)))
    vals = (normal.values(a_in * a_in), normal.values(a_in * a_out), normal.values(a_out * a_out))
    grad = rng.normal(size=2 * n)
    assert np.array_equal(cached.solve(*vals, grad), fresh.solve(*vals, grad))
    with pytest.raises(ValueError, match="direction nodes"):
        _rind_nodes._prior_and_band(n + 1)


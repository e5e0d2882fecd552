"""Step 13's compiled passes of 2026-12-06 (second session; :mod:`hcc_imaging.segment._rind_nb`).

Unlike ``segment._kernels_nb``'s kernels these fuse several numpy passes, so they are checked
against the numpy path (``HCC_IMAGING_JIT=0``) to rounding, and the masks on rind scenes for
identity (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, second)").
No timing is asserted here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _kernels, _rind, _rind_setup
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._surface import _exponent_arrays

from .._jit import numpy_only
from ._phantom import dice, rim_scene, rim_scene_shape

pytestmark = pytest.mark.skipif(_kernels.get("kmedians") is None, reason="numba kernels disabled or missing")


def _kernels_mod():  # type: ignore[no-untyped-def]
    from hcc_imaging.segment import _rind_nb

    return _rind_nb


@pytest.mark.parametrize("with_liver", [False, True])
def test_the_fits_set_up_in_one_pass_is_the_numpy_paths(with_liver: bool) -> None:
    """``_rind_setup._setup`` (the compiled ``fit_setup``): the distances and directions as ``_polar``, the
    float32 direction terms as ``_float32_terms`` bit for bit (the same float64 terms, cast), the start's
    inner radius as ``_near_start``'s matrix product to rounding, and the same fitted voxels but where
    a radius lies within rounding of a 5 mm bound."""
    rng = np.random.default_rng(3)
    shape, sp = (13, 21, 17), np.array([1.5, 0.7, 0.7])
    centre = np.array([9.1, 7.3, 5.9])
    degree = C.LESION_BLUR_MODEL_DEGREE
    k = len(_exponent_arrays(degree)[0])
    x0 = np.zeros(2 * k)
    x0[0], x0[k] = 3.0, 6.0
    x0[1:k] = rng.normal(scale=0.2, size=k - 1)
    x0[k + 1:] = rng.normal(scale=0.2, size=k - 1)
    liv = rng.random(shape) > 0.3 if with_liver else None
    got = _rind_setup._setup(shape, sp, centre, x0, degree, liv)
    with numpy_only(_kernels):
        ref = _rind_setup._setup(shape, sp, centre, x0, degree, liv)
    rho, u, use, r_in0, y_t, yu = got
    np.testing.assert_allclose(rho, ref[0], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(u, ref[1], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(r_in0, ref[3], rtol=1e-12, atol=1e-12)
    assert y_t.dtype == np.float32 and y_t.shape == ref[4].shape and y_t.tobytes() == ref[4].tobytes()
    assert use.sum() > 100 and (~use).sum() > 100  # both kinds of voxel in the box
    assert np.array_equal(use, ref[2])
    assert yu.dtype == np.float32 and yu.tobytes() == ref[5].tobytes()


def test_the_rays_values_are_the_least_squares_of_the_numpy_path() -> None:
    """``ray_values``: Phi of the distances over the blur, the normal equations and the residual in
    one pass, and Phi evaluated again only where a distance moved: numpy's least squares to rounding."""
    rng = np.random.default_rng(5)
    n = 3000
    di, do = rng.normal(scale=2.0, size=n), rng.normal(scale=2.0, size=n) + 2.5
    wr = rng.uniform(0.6, 3.0, size=n)
    a, b = ndtr(di / wr), ndtr(do / wr)
    p = 20.0 * a + 120.0 * (b - a) + 100.0 * (1 - b) + rng.normal(scale=15.0, size=n)

    def numpy_values(di: np.ndarray, do: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = ndtr(di / wr), ndtr(do / wr)
        x = np.stack([a, b - a, 1 - b], 1)
        coef = np.linalg.solve(x.T @ x + 1e-9 * np.eye(3), x.T @ p)
        return float(((x @ coef - p) ** 2).sum()), coef

    m = _kernels_mod()
    xa, xb = np.empty(n), np.empty(n)
    sse, coef = m.ray_values(di, do, wr, p, di, do, xa, xb, True)
    ref = numpy_values(di, do)
    assert sse == pytest.approx(ref[0], rel=1e-10)
    np.testing.assert_allclose(coef, ref[1], rtol=1e-10)
    # a second call with a few distances moved reuses the others' Phi
    di2 = di.copy()
    di2[::7] += 0.25
    sse2, coef2 = m.ray_values(di2, do, wr, p, di, do, xa, xb, False)
    ref2 = numpy_values(di2, do)
    assert sse2 == pytest.approx(ref2[0], rel=1e-10) and sse2 != pytest.approx(sse, rel=1e-6)
    np.testing.assert_allclose(coef2, ref2[1], rtol=1e-10)
    np.testing.assert_allclose(xa, ndtr(di2 / wr), rtol=1e-14, atol=1e-300)


def test_the_rays_grid_and_ramps_are_the_numpy_paths() -> None:
    """``ray_grid_sse`` (each layer value's total of the rays' least residuals) against
    ``_edge_search`` run value by value, and ``ray_ramps`` against numpy's gathers."""
    rng = np.random.default_rng(7)
    k_rays, n_win, n_in, n_out, levels, lags = 40, 12, 5, 9, 3, 20
    tb = ndtr(rng.normal(size=(levels, lags, n_out)))
    which = rng.integers(0, levels, k_rays).astype(np.int64)
    lag_idx = rng.integers(0, lags, (k_rays, n_win)).astype(np.int64)
    mw = (rng.random((k_rays, n_win)) > 0.2).astype(np.float64)
    m = _kernels_mod()
    a, b, aa, bb = m.ray_ramps(tb, which, lag_idx, mw, n_in)
    b_ref = tb[which[:, None], lag_idx].transpose(0, 2, 1) * mw[:, None, :]
    assert np.array_equal(b, b_ref) and np.array_equal(a, b_ref[:, :n_in])
    np.testing.assert_allclose(bb, (b_ref * b_ref).sum(-1), rtol=1e-13)
    np.testing.assert_allclose(aa, (a * a).sum(-1), rtol=1e-13)
    pw = rng.normal(100.0, 15.0, size=(k_rays, n_win))
    d = (100.0 - pw) * mw
    terms = ((d * d).sum(-1), aa, bb, np.einsum("kj,kaj->ka", d, a), np.einsum("kj,kbj->kb", d, b),
             np.matmul(a, b.transpose(0, 2, 1)))
    thick = np.arange(n_out)[None, :] - np.arange(n_in)[:, None]
    valid = (thick >= 0) & (thick <= 5)
    o_lo = valid.argmax(1).astype(np.int64)
    o_hi = (o_lo + valid.sum(1)).astype(np.int64)
    grid = 110.0 + np.arange(0.0, 61.0, 5.0)
    got = m.ray_grid_sse(*terms, o_lo, o_hi, 20.0, grid, 100.0)
    with numpy_only(_kernels):
        ref = np.array([float(_rind._edge_search(terms, 20.0, g, 100.0, valid)[1].sum()) for g in grid])
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert int(np.argmin(got)) == int(np.argmin(ref))


@pytest.mark.parametrize(("kind", "rim_mm", "sd", "seed"), [("oval", 2.5, 15.0, 0), ("lobulated", 3.5, 5.0, 1)])
def test_the_compiled_rays_and_set_up_give_the_numpy_paths_mask(kind: str, rim_mm: float, sd: float, seed: int) -> None:
    """``rind_border`` with the kernels (this session's compiled rays and set-up among them) and on the
    numpy path: the same mask on the rind sweep's fine grid (an oval, and a lobulated rind whose
    per-direction correction reads the radii ``_radius`` now gives), and the fit as good as the sweep's."""
    sp = (1.5, 0.7, 0.7)
    vols, truth, click = rim_scene(kind, seed, sd, rim_mm=rim_mm, spacing=sp, shape=rim_scene_shape(sp))
    img, seed_vox = vols[Phase.ARTERIAL].array, tuple(int(v) for v in click)
    fit = _rind.rind_border(img, seed_vox, sp)
    with numpy_only(_kernels):
        ref = _rind.rind_border(img, seed_vox, sp)
    assert fit.box == ref.box and np.array_equal(fit.mask, ref.mask)
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    assert dice(full, truth) > (0.98 if kind == "oval" else 0.9)


def test_the_node_normal_matrix_is_the_coordinate_built_one_bit_for_bit() -> None:
    """1.53's node normal matrix (``_rind_nodes._Normal``): the bins summed by the compiled ``slot_sums``
    and the CSR structure built once give scipy's conversion of the coordinates (the rows' columns
    sorted, every value the same bits), and its numpy path (``np.bincount``) the same."""
    from scipy import sparse

    from hcc_imaging.segment import _rind_nodes

    rng = np.random.default_rng(11)
    u = rng.normal(size=(4000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    normal = _rind_nodes._Normal(_rind_nodes.node_weights(u))
    f = rng.random(4000)
    data = np.bincount(normal.slot.ravel(), (normal.prod * f[:, None]).ravel(), 9 * normal.n)[normal.valid]
    ref = sparse.csr_matrix((data, (normal.rows, normal.cols)), shape=(normal.n, normal.n))
    got = normal(f)
    with numpy_only(_kernels):
        got_np = normal(f)
    for m in (got, got_np):
        assert m.has_sorted_indices and m.has_canonical_format
        assert np.array_equal(m.indptr, ref.indptr) and np.array_equal(m.indices, ref.indices)
        assert m.data.tobytes() == ref.data.tobytes()

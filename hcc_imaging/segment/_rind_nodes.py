"""Step 13's two surfaces corrected direction by direction, when their fit leaves a shape behind (1.53).

Step 13 (:mod:`._rind`) fits a necrotic core and its enhancing layer as two nested star-shaped
surfaces whose radii are polynomials of the direction up to degree 4.  A lobulated rind (nodules on a
body) is a shape such a surface cannot follow: its masks stay at Dice 0.84-0.92 (docs/validation.md
section 2.2, "Algorithm 1.45").  This module adds to each surface's radius a correction field on the
rays' 16 x 32 direction nodes (:func:`._rind_rays._ray_directions`), read at a voxel by bilinear
interpolation in the polar and azimuthal angles, and fits it:

1. **Whether to try** (:func:`misfit_score`): a score test of the degree-4 fit against free radius
   offsets per node.  Each node's offset has the score g = J^T r (r the fit's noise-weighted
   residual, J the radius derivative: the blurred partial-volume ramp times the value step) and the
   information F = J^T J; the sum of g^2 / F over the nodes of both surfaces is about the number of
   nodes when the residual is noise.  Its z-score ((T - n) / sqrt(2n)) on the rind sweep's fine grid
   (session of 2026-12-04): ovals at 15 HU -3.9 to 1.8, at 5 HU -1.2 to 21.8; lobulated rinds 15.3 to
   497, the held-out second shape 10.7 to 374.  The correction runs when it is at least
   ``LESION_RIND_NODES_MIN_SCORE_Z``; an oval clicked at 15 HU pays the score's two blurs (~5 ms) and
   keeps its mask bit for bit.
2. **The fit** (:func:`fit_node_offsets`): at most ``LESION_RIND_NODES_ITERATIONS`` Gauss-Newton steps,
   step halving, on chi^2 + ``LESION_RIND_NODES_SMOOTHING`` x the squared differences (mm^2) between
   neighbouring nodes of each surface (a membrane; ``LESION_RIND_NODES_RIDGE`` keeps nodes no voxel
   reads determined); the point-spread, the ramp and the degree-4 radii held (letting chi^2 pick the
   point-spread with the correction picked the wrong one, masks 3-20 % too large, in the session of
   2026-12-03).  The normal matrix is sparse (four nodes a voxel); since 1.65 it is assembled in a banded order and
   solved by a banded Cholesky factorisation (:class:`_Banded`), and on fine pixels the fit runs on the 2 x 2-pixel
   blocks (:mod:`._rind_coarse`, ``LESION_RIND_NODES_BLOCK_ITERATIONS`` steps); since 1.66 the blocks' fit forms and
   factorises the normal matrix every ``LESION_RIND_NODES_BLOCK_REFRESH``-th step only (chord steps between).

The design, its parameters and what it gains were measured in the session of 2026-12-03
(docs/validation.md section 2.2, "Step 13's surfaces corrected on the rays' direction nodes"); that
version ran on every rind click and was not adopted for the ovals' cost.  1.53 adds step 1's test.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.linalg import cho_solve_banded, cholesky_banded, solveh_banded
from scipy.sparse.linalg import spsolve

from . import constants as C


def _angles(u: NDArray[np.floating]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Polar (from the slice axis) and azimuthal angles of unit directions (rows z, y, x), in the
    rays' convention (:func:`._rind_rays._ray_directions`: azimuth 0 along x, pi / 2 along y)."""
    th = np.arccos(np.clip(u[:, 0], -1.0, 1.0))
    ph = np.mod(np.arctan2(u[:, 1], u[:, 2]), 2.0 * np.pi)
    return th, ph


def misfit_score(u: NDArray[np.floating], a_in: NDArray[np.float64], a_out: NDArray[np.float64],
                 r: NDArray[np.float64], nth: int = C.LESION_RIND_RAYS[0], nph: int = C.LESION_RIND_RAYS[1]) -> float:
    """The score test's z (step 1 of the module): ``u`` the fitted voxels' directions (voxels x 3),
    ``a_in`` / ``a_out`` the radius derivatives of the fitted values there (noise units, as step 13's
    Jacobian), ``r`` the noise-weighted residual.  Each voxel counts for its nearest node."""
    th, ph = _angles(u)
    node = (np.clip((th / np.pi * nth).astype(np.int64), 0, nth - 1) * nph
            + np.mod(np.round(ph / (2.0 * np.pi) * nph).astype(np.int64), nph))
    t, n = 0.0, 0
    for a in (a_in, a_out):
        g = np.bincount(node, a * r, nth * nph)
        f = np.bincount(node, a * a, nth * nph)
        ok = f > 1e-6 * float(f.max())  # (none when no voxel has a slope)
        t += float((g[ok] ** 2 / f[ok]).sum())
        n += int(np.count_nonzero(ok))
    return (t - n) / np.sqrt(2.0 * n) if n else 0.0


def node_weights(u: NDArray[np.floating], nth: int = C.LESION_RIND_RAYS[0],
                 nph: int = C.LESION_RIND_RAYS[1], pool: Executor | None = None) -> sparse.csr_matrix:
    """The bilinear weights (voxels x nodes, four a row, summing to 1) of the direction nodes at the
    directions ``u`` (voxels x 3): the polar angle between the node rows' centres (held at the first
    and last row beyond them), the azimuth between neighbouring columns (wrapping around).  Built as
    CSR directly (the four columns of a row are distinct).  ``pool``: an idle executor; when given,
    the rows' second half is computed on it (element by element, the same values: the halves split
    at a multiple of :data:`_SPLIT_ALIGN` rows; 2026-12-06, seventh session)."""
    if pool is None or len(u) < 2 * _SPLIT_ALIGN:
        cols, vals = _weight_rows(u, nth, nph)
    else:
        half = len(u) // 2 // _SPLIT_ALIGN * _SPLIT_ALIGN
        later = pool.submit(_weight_rows, u[half:], nth, nph)
        (c0, v0), (c1, v1) = _weight_rows(u[:half], nth, nph), later.result()
        cols, vals = np.concatenate([c0, c1]), np.concatenate([v0, v1])
    indptr = np.arange(0, 4 * len(u) + 1, 4, dtype=np.int64)
    return sparse.csr_matrix((vals, cols, indptr), shape=(len(u), nth * nph))


#: the rows a half of :func:`node_weights` starts at a multiple of (numpy's vector loops then meet
#: every element as they do on the whole array)
_SPLIT_ALIGN = 256


def _weight_rows(u: NDArray[np.floating], nth: int, nph: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """:func:`node_weights`' columns and values, four a row, flat."""
    th, ph = _angles(u)
    t = th / np.pi * nth - 0.5
    i0 = np.clip(np.floor(t), 0, nth - 2).astype(np.int64)
    wt = np.clip(t - i0, 0.0, 1.0)
    p = ph / (2.0 * np.pi) * nph
    j0f = np.floor(p)
    wp = p - j0f
    j0 = np.mod(j0f.astype(np.int64), nph)
    j1 = np.mod(j0 + 1, nph)
    cols = np.stack([i0 * nph + j0, i0 * nph + j1, (i0 + 1) * nph + j0, (i0 + 1) * nph + j1], 1).ravel()
    vals = np.stack([(1 - wt) * (1 - wp), (1 - wt) * wp, wt * (1 - wp), wt * wp], 1).ravel()
    return cols, vals


class _Normal:
    """W^T diag(f) W for the rows of :func:`node_weights` (four nodes a row: a 2 x 2 patch of the
    grid), for any per-row factor f.  Each row's 16 weight products fall on a node and one of its
    nine neighbours (the patch's offsets, the azimuth wrapping), so they are summed into the grid's
    nine-point pattern by one ``np.bincount``, instead of a sparse matrix product per step."""

    # the corners' (row, column) offsets in node_weights' column order
    _CORNERS = np.array([(0, 0), (0, 1), (1, 0), (1, 1)])

    def __init__(self, w: sparse.csr_matrix, nth: int = C.LESION_RIND_RAYS[0], nph: int = C.LESION_RIND_RAYS[1]) -> None:
        cols = w.indices.reshape(-1, 4)
        vals = w.data.reshape(-1, 4)
        off = self._CORNERS[None, :, :] - self._CORNERS[:, None, :]  # q's offset from p, (4, 4, 2)
        stencil = (off[..., 0] + 1) * 3 + (off[..., 1] + 1)  # 0..8
        self.slot = (cols[:, :, None] * 9 + stencil[None]).reshape(len(cols), 16)
        self.prod = (vals[:, :, None] * vals[:, None, :]).reshape(len(cols), 16)
        n = nth * nph
        node = np.arange(n)
        di, dj = np.divmod(np.arange(9), 3)
        row = node[:, None] // nph + di[None] - 1
        col = np.mod(node[:, None] % nph + dj[None] - 1, nph)
        self.valid = ((row >= 0) & (row < nth)).ravel()
        self.rows = np.repeat(node, 9)[self.valid]
        self.cols = (np.clip(row, 0, nth - 1) * nph + col).ravel()[self.valid]
        # the CSR structure the coordinates convert to (the rows in order, each node's neighbours once,
        # the columns sorted within a row), built once instead of a conversion per matrix (2026-12-06,
        # second session: the same matrices bit for bit)
        self.order = np.lexsort((self.cols, self.rows))
        self.indices = np.ascontiguousarray(self.cols[self.order]).astype(np.int32)
        self.indptr = np.concatenate([[0], np.cumsum(self.valid.reshape(n, 9).sum(1))]).astype(np.int32)
        self.n = n

    def values(self, f: NDArray[np.float64]) -> NDArray[np.float64]:
        """The nonzero values of :meth:`__call__`'s matrix, in its CSR order (rows ``self.rows[self.order]``,
        columns ``self.indices``)."""
        from . import _kernels

        if _kernels.compiled() is not None:
            from . import _rind_nb

            sums = _rind_nb.slot_sums(self.slot, self.prod, np.require(f, np.float64, "C"), 9 * self.n)
        else:
            sums = np.bincount(self.slot.ravel(), (self.prod * f[:, None]).ravel(), 9 * self.n)
        return sums[self.valid][self.order]  # type: ignore[no-any-return]

    def __call__(self, f: NDArray[np.float64]) -> sparse.csr_matrix:
        out = sparse.csr_matrix((self.values(f), self.indices, self.indptr), shape=(self.n, self.n))
        out.has_sorted_indices = True
        return out


class _Banded:
    """1.65: :func:`fit_node_offsets`' normal matrix ``[[h_ii, h_io], [h_io, h_oo]] + prior`` (each block a
    :class:`_Normal` matrix of the nodes, given by its values) assembled straight into LAPACK's upper banded
    storage in :func:`_band_order`, and solved by a banded Cholesky factorisation (``solveh_banded``): ~1.5 ms
    against SuperLU's ~7 on 2 x 512 nodes, with no sparse matrix built per step; the same solution to
    rounding (~1e-15 mm).  The matrix is symmetric positive definite (information, membrane and ridge)."""

    def __init__(self, normal: _Normal, prior: sparse.csr_matrix, nth: int = C.LESION_RIND_RAYS[0],
                 nph: int = C.LESION_RIND_RAYS[1]) -> None:
        n = normal.n
        self.pos = _band_order(nth, nph)
        size = 2 * n
        rows, cols = normal.rows[normal.order], normal.indices.astype(np.int64)
        coo = prior.tocoo()
        coo.sum_duplicates()
        places = [(self.pos[rows + bi * n], self.pos[cols + bj * n]) for bi, bj in ((0, 0), (0, 1), (1, 0), (1, 1))]
        p_r, p_c = self.pos[coo.row], self.pos[coo.col]
        self.kd = kd = int(max(int(np.max(c - r)) for r, c in places + [(p_r, p_c)]))
        self.parts: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
        for r, c in places:
            upper = np.flatnonzero(r <= c)
            self.parts.append(((kd + r[upper] - c[upper]) * size + c[upper], upper))
        self.base = np.zeros((kd + 1, size))
        upper = p_r <= p_c
        self.base[kd + p_r[upper] - p_c[upper], p_c[upper]] = coo.data[upper]
        self.prior = prior
        self.n = n
        self.normal = normal

    def solve(self, v_ii: NDArray[np.float64], v_io: NDArray[np.float64], v_oo: NDArray[np.float64],
              grad: NDArray[np.float64]) -> NDArray[np.float64]:
        """The step ``hess^-1 grad`` for the blocks' values (:meth:`_Normal.values`)."""
        ab = self.base.copy()
        flat = ab.reshape(-1)
        for (at, take), v in zip(self.parts, (v_ii, v_io, v_io, v_oo), strict=True):
            flat[at] += v[take]
        rhs = np.empty_like(grad)
        rhs[self.pos] = grad
        try:
            y = solveh_banded(ab, rhs, check_finite=False)
        except np.linalg.LinAlgError:  # (not positive definite to rounding: the sparse LU as before 1.65)
            nm = self.normal
            h_ii, h_io, h_oo = (sparse.csr_matrix((v, nm.indices, nm.indptr), shape=(self.n, self.n)) for v in (v_ii, v_io, v_oo))
            hess = (sparse.bmat([[h_ii, h_io], [h_io, h_oo]]) + self.prior).tocsc()
            return spsolve(hess, grad, permc_spec="MMD_AT_PLUS_A")  # type: ignore[no-any-return]
        return y[self.pos]  # type: ignore[no-any-return]

    def factor(self, v_ii: NDArray[np.float64], v_io: NDArray[np.float64],
               v_oo: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """1.66: the banded Cholesky factor of the matrix of the blocks' values (:meth:`solve`'s), for
        :meth:`solve_factored`; None when it is not positive definite to rounding."""
        ab = self.base.copy()
        flat = ab.reshape(-1)
        for (at, take), v in zip(self.parts, (v_ii, v_io, v_io, v_oo), strict=True):
            flat[at] += v[take]
        try:
            return cholesky_banded(ab, lower=False, check_finite=False)  # type: ignore[no-any-return]
        except np.linalg.LinAlgError:
            return None

    def solve_factored(self, cb: NDArray[np.float64], grad: NDArray[np.float64]) -> NDArray[np.float64]:
        """1.66: ``hess^-1 grad`` with :meth:`factor`'s factor ``cb`` of ``hess``."""
        rhs = np.empty_like(grad)
        rhs[self.pos] = grad
        return cho_solve_banded((cb, False), rhs, check_finite=False)[self.pos]  # type: ignore[no-any-return]


def _band_order(nth: int, nph: int) -> NDArray[np.int64]:
    """The position of each unknown of :func:`fit_node_offsets` (the core's nodes, then the layer's; a node
    ``i * nph + j``) in an order that keeps the normal matrix banded: the node rows in turn, each row's
    azimuths folded (0, nph - 1, 1, nph - 2, ...: neighbours around the azimuth, the wrap included, at most 2
    apart), a node's two surfaces side by side.  Every coupling of the nine-point pattern and of the two
    surfaces then lies within ``2 * (nph + 2) + 1`` positions."""
    fold = np.empty(nph, np.int64)
    fold[0::2] = np.arange((nph + 1) // 2)
    fold[1::2] = nph - 1 - np.arange(nph // 2)
    at = np.empty(nph, np.int64)
    at[fold] = np.arange(nph)
    node = np.arange(nth * nph)
    new = node // nph * nph + at[node % nph]
    return np.concatenate([2 * new, 2 * new + 1])


def membrane(nth: int = C.LESION_RIND_RAYS[0], nph: int = C.LESION_RIND_RAYS[1]) -> sparse.csr_matrix:
    """The graph Laplacian of the node grid (neighbours along the polar rows and around the azimuth):
    d^T L d is the sum of squared differences between neighbouring nodes."""
    idx = np.arange(nth * nph).reshape(nth, nph)
    a = np.concatenate([idx[:, :].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([np.roll(idx, -1, axis=1).ravel(), idx[1:, :].ravel()])
    n = nth * nph
    adj = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    return (sparse.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj).tocsr()


@functools.lru_cache(maxsize=4)
def _prior_and_band(n: int) -> tuple[sparse.csr_matrix, _Banded]:
    """:func:`fit_node_offsets`' prior (the membrane and the ridge on both surfaces' ``n`` nodes) and its
    :class:`_Banded` layout, built once (2026-12-06, eighth session: they depend on the node grid and the constants only; the
    layout reads the nine-point pattern of :class:`_Normal`, not its weights)."""
    if n != C.LESION_RIND_RAYS[0] * C.LESION_RIND_RAYS[1]:
        raise ValueError(f"step 13's correction: {n} direction nodes, not the rays' {C.LESION_RIND_RAYS}")
    lap = membrane()
    prior = (sparse.block_diag([lap, lap]) * C.LESION_RIND_NODES_SMOOTHING
             + sparse.identity(2 * n) * C.LESION_RIND_NODES_RIDGE).tocsr()
    return prior, _Banded(_Normal(sparse.csr_matrix((n, n))), prior)


def fit_node_offsets(
    w_use: sparse.csr_matrix,
    evaluate: Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64], Any]],
    slopes: Callable[[Any], tuple[NDArray[np.float64], NDArray[np.float64]]],
    start: tuple[float, NDArray[np.float64], Any],
    pool: Executor | None = None,
    iterations: int = C.LESION_RIND_NODES_ITERATIONS,
    refresh: int = 1,
) -> tuple[NDArray[np.float64], float]:
    """Step 2 of the module: the node offsets (the core's nodes, then the layer's) minimising chi^2 +
    the membrane, from zero.  ``w_use``: the bilinear weights of the fitted voxels;
    ``evaluate(d)``: (chi^2, the noise-weighted residual, a state) of the surfaces with the offsets
    ``d``; ``slopes(state)``: the radius derivatives of the fitted values for the core and for the
    layer, per fitted voxel (noise units); ``start``: ``evaluate``'s value at zero (the degree-4
    fit's).  ``pool``: an idle executor; when given, the core's normal matrix and score are formed on it
    beside the rest (the same values; 2026-12-06, seventh session).  ``refresh`` (1.66): the normal matrix is
    formed and factorised at every ``refresh``-th step only, the steps between solving with that factor and their
    own gradient (a chord step; 1: every step, :meth:`_Banded.solve`).  Returns the offsets and their chi^2."""
    n = w_use.shape[1]
    prior, banded_shape = _prior_and_band(n)
    d = np.zeros(2 * n)
    chi2, r, state = start
    obj = chi2
    built = None if pool is None else pool.submit(_Normal, w_use)
    wt = w_use.T.tocsr()
    normal = _Normal(w_use) if built is None else built.result()
    banded = copy.copy(banded_shape)  # (its storage's layout: the same for every fit, 2026-12-06, eighth session)
    banded.normal = normal
    cb: NDArray[np.float64] | None = None
    for it in range(iterations):
        a_in, a_out = slopes(state)
        if refresh > 1 and it % refresh and cb is not None:
            # 1.66: a chord step, the last factor with this state's gradient
            grad = np.concatenate([wt @ (a_in * r), wt @ (a_out * r)]) - prior @ d
            step = banded.solve_factored(cb, grad)
        else:
            step, cb = _newton_step(normal, banded, wt, prior, d, a_in, a_out, r, pool, refresh > 1)
        t = 1.0
        while t > 0.05:
            cand = d + t * step
            c_chi2, c_r, c_state = evaluate(cand)
            c_obj = c_chi2 + float(cand @ (prior @ cand))
            if c_obj < obj:
                d, obj, chi2, r, state = cand, c_obj, c_chi2, c_r, c_state
                break
            t /= 2.0
        else:
            break
        if float(np.abs(t * step).max()) < 0.01:
            break
    return d, chi2


def _newton_step(normal: _Normal, banded: _Banded, wt: sparse.csr_matrix, prior: sparse.csr_matrix,
                 d: NDArray[np.float64], a_in: NDArray[np.float64], a_out: NDArray[np.float64],
                 r: NDArray[np.float64], pool: Executor | None,
                 keep: bool) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """:func:`fit_node_offsets`' Gauss-Newton step at the offsets ``d`` (the slopes ``a_in`` / ``a_out``, the
    residual ``r``), and, when ``keep``, the normal matrix's factor for the chord steps after it (1.66; None when
    not kept or not positive definite: the step is then :meth:`_Banded.solve`'s, as every step before 1.66)."""
    def core_part() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return normal.values(a_in * a_in), wt @ (a_in * r)

    later = None if pool is None else pool.submit(core_part)
    v_io = normal.values(a_in * a_out)
    v_oo, g_out = normal.values(a_out * a_out), wt @ (a_out * r)
    v_ii, g_in = core_part() if later is None else later.result()
    grad = np.concatenate([g_in, g_out]) - prior @ d
    cb = banded.factor(v_ii, v_io, v_oo) if keep else None
    if cb is None:
        return banded.solve(v_ii, v_io, v_oo, grad), None
    return banded.solve_factored(cb, grad), cb

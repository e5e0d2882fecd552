"""Compiled kernels of step 13's rays (:mod:`._rind`, 2026-12-06, second session; private).

Unlike :mod:`._kernels_nb`'s, these are *not* the numpy path's operations bit for bit: they fuse
the rays' passes (a sum's order, ``erf`` / ``erfc`` from the C library instead of scipy's cephes),
so their values agree with the numpy path to rounding (1e-12 relative on the rind scenes,
``tests/segment/test_segment_rind_speed.py``), not in every bit; the masks are checked on the rind
sweep instead (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, second)").
Imported only when the kernels are on (:func:`._kernels.compiled`; ``HCC_IMAGING_JIT=0`` keeps the
numpy path); :func:`._kernels.warm_up` compiles them.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_SQRT1_2 = 0.7071067811865476


@numba.njit(cache=True, nogil=True, inline="always")
def _ndtr(a):  # pragma: no cover - compiled
    """The standard normal CDF as scipy's ``ndtr`` forms it (erf near 0, erfc in the tails)."""
    x = a * _SQRT1_2
    z = abs(x)
    if z < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if x > 0 else y


@numba.njit(cache=True, nogil=True)
def ray_values(di, do, wr, pv, di0, do0, xa, xb, fresh):  # pragma: no cover - compiled
    """Step 2's shared values on the rays' window samples (:func:`._rind_rays._fit_rays`' ``values_at``):
    with ``a = Phi(di / wr)``, ``b = Phi(do / wr)`` per sample and the design ``[a, b - a, 1 - b]``,
    the least squares (N, R, P) of the values ``pv`` (the normal equations with a 1e-9 ridge, as the
    numpy path solves them) and the residual sum of squares.  ``xa``, ``xb``: the last call's Phi at
    the distances ``di0``, ``do0`` with this blur, updated in place (Phi evaluated again only where a
    distance moved; all of them when ``fresh``).  Returns (residual, coefficients)."""
    n = di.shape[0]
    m00 = m01 = m02 = m11 = m12 = m22 = 0.0
    r0 = r1 = r2 = 0.0
    for j in range(n):
        if fresh or di[j] != di0[j]:
            xa[j] = _ndtr(di[j] / wr[j])
        if fresh or do[j] != do0[j]:
            xb[j] = _ndtr(do[j] / wr[j])
        a, b = xa[j], xb[j]
        x0, x1, x2 = a, b - a, 1.0 - b
        m00 += x0 * x0
        m01 += x0 * x1
        m02 += x0 * x2
        m11 += x1 * x1
        m12 += x1 * x2
        m22 += x2 * x2
        p = pv[j]
        r0 += x0 * p
        r1 += x1 * p
        r2 += x2 * p
    m = np.empty((3, 3))
    m[0, 0], m[0, 1], m[0, 2] = m00 + 1e-9, m01, m02
    m[1, 0], m[1, 1], m[1, 2] = m01, m11 + 1e-9, m12
    m[2, 0], m[2, 1], m[2, 2] = m02, m12, m22 + 1e-9
    rhs = np.empty(3)
    rhs[0], rhs[1], rhs[2] = r0, r1, r2
    coef = np.linalg.solve(m, rhs)
    sse = 0.0
    for j in range(n):
        a, b = xa[j], xb[j]
        e = a * coef[0] + (b - a) * coef[1] + (1.0 - b) * coef[2] - pv[j]
        sse += e * e
    return sse, coef


@numba.njit(cache=True, nogil=True)
def ray_grid_sse(dd, aa, bb, da, db, ab, o_lo, o_hi, n, rvs, p):  # pragma: no cover - compiled
    """Step 2's grid of the layer's value (:func:`._rind_rays._fit_rays`): for each R of ``rvs``, the
    rays' total residual at each ray's best (inner, outer) pair, the residual of a pair being
    :func:`._kernels_nb.ray_edge_search`'s with N = ``n``, R, P = ``p`` (valid pairs ``o_lo[i] <= o <
    o_hi[i]``).  One pass over the rays' terms for the whole grid (the numpy path searches the grid's
    values one after the other); a ray's terms grouped per edge (the same residual to rounding)."""
    k_rays = dd.shape[0]
    n_in, n_out = aa.shape[1], bb.shape[1]
    n_g = rvs.shape[0]
    tot = np.zeros(n_g)
    s_o = np.empty(n_out)
    cs = np.empty((n_g, 5))
    for g in range(n_g):
        rv = rvs[g]
        cs[g, 0], cs[g, 1], cs[g, 2] = (rv - p) ** 2, (n - rv) ** 2, 2 * (rv - p)
        cs[g, 3], cs[g, 4] = 2 * (n - rv), 2 * (rv - p) * (n - rv)
    for k in range(k_rays):  # (a ray's terms stay in the cache while the grid is run on them)
        for g in range(n_g):
            c1, c2, c3, c4, c5 = cs[g, 0], cs[g, 1], cs[g, 2], cs[g, 3], cs[g, 4]
            for o in range(n_out):
                s_o[o] = c1 * bb[k, o] + c3 * db[k, o]
            best = np.inf
            for i in range(n_in):
                lo, hi = o_lo[i], o_hi[i]
                if lo >= hi:
                    continue
                q = c2 * aa[k, i] + c4 * da[k, i]
                m = np.inf
                for o in range(lo, hi):
                    v = s_o[o] + c5 * ab[k, i, o]
                    m = min(m, v)
                m += q
                if m < best:
                    best = m
            tot[g] += dd[k] + best
    return tot


@numba.njit(cache=True, nogil=True)
def fit_setup(nz, ny, nx, sp, centre, ea, eb, ec, degree, x0, liver, has_liver):  # pragma: no cover - compiled
    """Step 3's set-up on a box of ``nz`` x ``ny`` x ``nx`` voxels of spacing ``sp`` (:func:`._rind_setup._setup`):
    per voxel its distance ``rho`` from ``centre`` (mm) and unit direction ``u`` (as
    :func:`._surface._polar`), its direction terms (as :func:`._surface._direction_terms`) and the
    start's radii (``x0``: the inner surface's coefficients, then the outer's; summed term by term),
    the voxels fitted (within 5 mm of the start's surfaces and, when ``has_liver``, in ``liver`` or
    inside the outer surface: :func:`._rind._near_start`), and the terms in float32 as the box's
    transpose (terms x voxels) and as the fitted voxels' rows.  One pass along each row of the box
    (the terms of a row held, then written term by term); the float64 terms of the whole box (~18 MB
    on an oval's box) are never held.  Returns (rho, u, use, r_in0, y_t, yu)."""
    n = nz * ny * nx
    rho = np.empty(n)
    u = np.empty((n, 3))
    use = np.zeros(n, dtype=np.bool_)
    r_in0 = np.empty(n)
    y_t = np.empty((ea.shape[0], n), dtype=np.float32)
    rows = fit_setup_slab(0, nz, nz, ny, nx, sp, centre, ea, eb, ec, degree, x0, liver, has_liver, rho, u, use, r_in0, y_t)
    return rho, u, use, r_in0, y_t, rows


@numba.njit(cache=True, nogil=True)
def fit_setup_slab(z0, z1, nz, ny, nx, sp, centre, ea, eb, ec, degree, x0, liver, has_liver, rho, u, use, r_in0,
                   y_t):  # pragma: no cover - compiled
    """:func:`fit_setup` on the slices ``z0 <= z < z1`` of the box, written into the whole box's
    ``rho``, ``u``, ``use`` (zeros), ``r_in0`` and ``y_t`` (2026-12-06, seventh session: two slabs on
    two threads, the same values); returns the slab's fitted voxels' rows (in the box's order).
    Each row of the box is set up a step at a time across its voxels (the distances, the powers, each
    term and its two sums), each voxel's values by the same operations in the same order as one voxel
    at a time (session of 2026-12-07, second: the voxels' independent sums run side by side)."""
    m = ea.shape[0]
    n_slab = (z1 - z0) * ny * nx
    rows = np.empty((n_slab, m), dtype=np.float32)
    px = np.empty((max(degree, 1) + 1, nx))  # (rows 0 and 1 always written)
    py = np.empty((max(degree, 1) + 1, nx))
    uz = np.empty(nx)
    rr = np.empty(nx)
    s_in = np.empty(nx)
    s_out = np.empty(nx)
    t = np.empty((m, nx), dtype=np.float32)
    cnt = 0
    i0 = z0 * ny * nx
    for a in range(z0, z1):
        v0 = a * sp[0] - centre[0]
        for b in range(ny):
            v1 = b * sp[1] - centre[1]
            for c in range(nx):
                i = i0 + c
                v2 = c * sp[2] - centre[2]
                r = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
                d = max(r, 1e-9)
                u0, u1, u2 = v0 / d, v1 / d, v2 / d
                rho[i] = r
                rr[c] = r
                u[i, 0], u[i, 1], u[i, 2] = u0, u1, u2
                px[0, c] = 1.0
                py[0, c] = 1.0
                px[1, c] = u0
                py[1, c] = u1
                uz[c] = u2
                s_in[c] = 0.0
                s_out[c] = 0.0
            for q in range(1, degree):
                for c in range(nx):
                    px[q + 1, c] = px[q, c] * px[1, c]
                    py[q + 1, c] = py[q, c] * py[1, c]
            for q in range(m):
                qa, qb, xi, xo = ea[q], eb[q], x0[q], x0[m + q]
                if ec[q]:
                    for c in range(nx):
                        tq = px[qa, c] * py[qb, c] * uz[c]
                        t[q, c] = np.float32(tq)
                        s_in[c] += xi * tq
                        s_out[c] += xo * tq
                else:
                    for c in range(nx):
                        tq = px[qa, c] * py[qb, c]
                        t[q, c] = np.float32(tq)
                        s_in[c] += xi * tq
                        s_out[c] += xo * tq
            for c in range(nx):
                i = i0 + c
                r = rr[c]
                r_in0[i] = s_in[c]
                ok = (r <= s_out[c] + 5.0) and (r >= max(s_in[c] - 5.0, 0.0))
                if has_liver:
                    ok = ok and (liver[i] or r <= s_out[c])
                if ok:
                    use[i] = True
                    for q in range(m):
                        rows[cnt, q] = t[q, c]
                    cnt += 1
            for q in range(m):
                for c in range(nx):
                    y_t[q, i0 + c] = t[q, c]
            i0 += nx
    return rows[:cnt].copy()


@numba.njit(cache=True, nogil=True)
def ray_ramps(tb, which, lag_idx, mw, n_in):  # pragma: no cover - compiled
    """Step 2's ramps on the rays' windows (:func:`._rind_rays._fit_rays`' ``edge_terms``): for ray k,
    window sample j and outer edge o, ``b[k, o, j] = tb[which[k], lag_idx[k, j], o] * mw[k, j]`` (the
    normal-CDF table's row of the ray's blur level, at the sample's lag), ``a`` its first ``n_in``
    edges (the inner edges'), and each edge's sum of squares over the window.  Returns (a, b,
    aa, bb), ``a`` and ``b`` C-contiguous (rays x edges x samples)."""
    k_rays, n_win = lag_idx.shape
    n_out = tb.shape[2]
    a = np.empty((k_rays, n_in, n_win))
    b = np.empty((k_rays, n_out, n_win))
    aa = np.empty((k_rays, n_in))
    bb = np.empty((k_rays, n_out))
    ray_ramps_into(tb, which, lag_idx, mw, 0, k_rays, a, b, aa, bb)
    return a, b, aa, bb


@numba.njit(cache=True, nogil=True)
def ray_ramps_into(tb, which, lag_idx, mw, k0, k1, a, b, aa, bb):  # pragma: no cover - compiled
    """:func:`ray_ramps` for the rays ``k0 <= k < k1``, written into ``a``, ``b``, ``aa``, ``bb`` (the
    same values; 2026-12-06, seventh session: two halves of the rays on two threads)."""
    n_win = lag_idx.shape[1]
    n_out = tb.shape[2]
    n_in = a.shape[1]
    for k in range(k0, k1):
        row = which[k]
        for o in range(n_out):
            bb[k, o] = 0.0
        for j in range(n_win):
            w = mw[k, j]
            lj = lag_idx[k, j]
            for o in range(n_out):
                v = tb[row, lj, o] * w
                b[k, o, j] = v
                bb[k, o] += v * v
        for i in range(n_in):
            aa[k, i] = bb[k, i]
            for j in range(n_win):
                a[k, i, j] = b[k, i, j]


@numba.njit(cache=True, nogil=True)
def slot_sums(slot, prod, f, n_bins):  # pragma: no cover - compiled
    """``np.bincount(slot.ravel(), (prod * f[:, None]).ravel(), n_bins)`` for ``slot`` / ``prod`` (rows x
    16) and ``f`` (rows): the same products added to the same bins in the same order (bit for bit),
    without the two temporaries (:class:`._rind_nodes._Normal`)."""
    out = np.zeros(n_bins)
    rows, m = slot.shape
    for v in range(rows):
        fv = f[v]
        for s in range(m):
            out[slot[v, s]] += prod[v, s] * fv
    return out

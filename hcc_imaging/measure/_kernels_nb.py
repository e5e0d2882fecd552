"""The numba kernels of :mod:`._kernels` (imported only when they are used: importing numba
takes ~0.4 s).  Module-level functions, so that numba can cache them on disk."""

from __future__ import annotations

import numba
import numpy as np

@numba.njit(cache=True, nogil=True)
def _chol_inv(A, ratio):  # pragma: no cover - compiled
    """``(L^-1, ok)`` of the Cholesky factor ``A = L L'`` (lower; read from ``A``'s lower
    triangle, as LAPACK's potrf); ``ok`` False when ``A`` is not positive definite or its
    smallest pivot is under ``ratio`` x the largest (near-singular: numpy's general form
    decides those)."""
    m = A.shape[0]
    L = np.zeros((m, m))
    for j in range(m):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not (s > 0.0):
            return L, False
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, m):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    dmin, dmax = L[0, 0], L[0, 0]
    for j in range(1, m):
        dmin = min(dmin, L[j, j])
        dmax = max(dmax, L[j, j])
    if not (dmin >= ratio * dmax):
        return L, False
    Li = np.zeros((m, m))
    for j in range(m):
        Li[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, m):
            t = 0.0
            for k in range(j, i):
                t -= L[i, k] * Li[k, j]
            Li[i, j] = t / L[i, i]
    return Li, True


@numba.njit(cache=True, nogil=True)
def _lu_solve(A, B):  # pragma: no cover - compiled
    """``solve(A, B)`` of a small square system by LU with partial pivoting (the first largest
    pivot, as LAPACK's gesv); None-like (ok False) when a pivot is exactly 0 (numpy raises)."""
    m = A.shape[0]
    U = A.copy()
    X = B.copy()
    for j in range(m):
        p = j
        for r in range(j + 1, m):
            if abs(U[r, j]) > abs(U[p, j]):
                p = r
        if U[p, j] == 0.0:
            return X, False
        if p != j:
            for c in range(m):
                U[j, c], U[p, c] = U[p, c], U[j, c]
            for c in range(X.shape[1]):
                X[j, c], X[p, c] = X[p, c], X[j, c]
        for r in range(j + 1, m):
            f = U[r, j] / U[j, j]
            for c in range(j, m):
                U[r, c] -= f * U[j, c]
            for c in range(X.shape[1]):
                X[r, c] -= f * X[j, c]
    for j in range(m - 1, -1, -1):
        for c in range(X.shape[1]):
            t = X[j, c]
            for k in range(j + 1, m):
                t -= U[j, k] * X[k, c]
            X[j, c] = t / U[j, j]
    return X, True


@numba.njit(cache=True, nogil=True)
def _fitzgibbon1(S, Fz):  # pragma: no cover - compiled; its Python twin is _subvoxel._fitzgibbon
    Li, ok = _chol_inv(S, Fz[6])
    if not ok:  # not positive definite, or near-singular: the general form (numpy path)
        return np.full(6, np.nan), 2
    # M = Li C Li'  (C: Fitzgibbon's constraint, C[0,2] = C[2,0] = 2, C[1,1] = -1)
    M = np.empty((6, 6))
    for p in range(6):
        for q in range(6):
            M[p, q] = Fz[0] * (Li[p, 0] * Li[q, 2] + Li[p, 2] * Li[q, 0]) + Fz[1] * (Li[p, 1] * Li[q, 1])
    ev, V = np.linalg.eigh(M)
    emax = 0.0
    for i in range(6):
        if not np.isfinite(ev[i]):
            return np.full(6, np.nan), 0
        emax = max(emax, abs(ev[i]))
    if not (ev[5] > 1e-9 * emax):
        return np.full(6, np.nan), 0
    res = np.zeros(6)
    for p in range(6):
        t = 0.0
        for q in range(6):
            t += Li[q, p] * V[q, 5]
        res[p] = t
    for p in range(6):
        if not np.isfinite(res[p]):
            return res, 0
    return res, 1

@numba.njit(cache=True, nogil=True)
def _slice_midpoints(sl, stepf, bj, bi, nd, jm, im, dd, start):  # pragma: no cover - compiled
    """The boundary midpoints of one ringed slice (inside voxel, step to its outside
    4-neighbour) in the order of ``_subvoxel._stack_midpoints``: direction-major, then voxel
    order (one pass over the slice, one scratch list per direction ``bj, bi, nd``), written to
    ``jm, im, dd`` from ``start``; returns their count."""
    R, C = sl.shape
    nd[:] = 0
    for j in range(1, R - 1):
        for i in range(1, C - 1):
            if sl[j, i]:
                for d in range(4):
                    if not sl[j + int(stepf[d, 0]), i + int(stepf[d, 1])]:
                        bj[d, nd[d]] = j
                        bi[d, nd[d]] = i
                        nd[d] += 1
    c = start
    for d in range(4):
        for t in range(nd[d]):
            jm[c] = bj[d, t]
            im[c] = bi[d, t]
            dd[c] = d
            c += 1
    return c - start


@numba.njit(cache=True, nogil=True)
def ellipse_boxes(stack, spv, shapes, half, stepf, consts):  # pragma: no cover - compiled
    """Per box: status (ACCEPT / REJECT / FALLBACK) and (c0, c1, a, b, major0, major1)."""
    n, R, C = stack.shape
    n_iter = int(consts[0])
    floor_ = consts[1]
    mm_vox, mm_frac, mm_dist, mm_near = consts[2], consts[3], consts[4], consts[5]
    Fz = np.array([2.0, -1.0, 0, 0, 0, 0, consts[6]])
    status = np.zeros(n, dtype=np.int8)
    vals = np.full((n, 6), np.nan)
    cap = (R - 2) * (C - 2)
    jm = np.empty(4 * cap, dtype=np.int64)
    im = np.empty(4 * cap, dtype=np.int64)
    dd = np.empty(4 * cap, dtype=np.int64)
    bj = np.empty((4, cap), dtype=np.int64)
    bi = np.empty((4, cap), dtype=np.int64)
    nd = np.zeros(4, dtype=np.int64)
    for b in range(n):
        c = _slice_midpoints(stack[b], stepf, bj, bi, nd, jm, im, dd, 0)
        if c < 6:
            continue
        sp0, sp1 = spv[b, 0], spv[b, 1]
        P0 = np.empty(c)
        P1 = np.empty(c)
        for t in range(c):
            d = dd[t]
            P0[t] = (jm[t] + half[d, 0]) * sp0
            P1[t] = (im[t] + half[d, 1]) * sp1
        m0 = 0.0
        m1 = 0.0
        for t in range(c):
            m0 += P0[t]
            m1 += P1[t]
        m0 /= c
        m1 /= c
        scale = 0.0
        for t in range(c):
            scale = max(scale, max(abs(P0[t] - m0), abs(P1[t] - m1)))
        if scale == 0.0:
            scale = 1.0
        x = np.empty(c)
        y = np.empty(c)
        ex = np.empty(c)
        ey = np.empty(c)
        for t in range(c):
            d = dd[t]
            x[t] = (P0[t] - m0) / scale
            y[t] = (P1[t] - m1) / scale
            ex[t] = (stepf[d, 0] * sp0) / scale
            ey[t] = (stepf[d, 1] * sp1) / scale
        h = max(sp0, sp1) / scale
        fl2 = (floor_ * h) ** 2
        D = np.empty((c, 6))
        for t in range(c):
            D[t, 0] = x[t] * x[t]
            D[t, 1] = x[t] * y[t]
            D[t, 2] = y[t] * y[t]
            D[t, 3] = x[t]
            D[t, 4] = y[t]
            D[t, 5] = 1.0
        w = np.ones(c)
        conic = np.zeros(6)
        st = 1
        for it in range(n_iter + 1):
            S = np.zeros((6, 6))
            for t in range(c):
                wt = w[t]
                for p in range(6):
                    dpw = D[t, p] * wt
                    for q in range(6):
                        S[p, q] += dpw * D[t, q]
            conic, st = _fitzgibbon1(S, Fz)
            if st != 1 or it == n_iter:
                break
            ca, cb, cc, cd, ce = conic[0], conic[1], conic[2], conic[3], conic[4]
            for t in range(c):
                gx = (2 * ca) * x[t] + cb * y[t] + cd
                gy = cb * x[t] + (2 * cc) * y[t] + ce
                g2 = gx * gx + gy * gy + 1e-300
                var = (gx * ex[t] + gy * ey[t]) ** 2 / g2
                w[t] = 1.0 / ((var + fl2) * g2)
        if st != 1:
            status[b] = st  # REJECT (no ellipse) or FALLBACK (the general form)
            continue
        a_, b_, c_, d_, e_, f_ = conic[0], conic[1], conic[2], conic[3], conic[4], conic[5]
        A2 = np.empty((2, 2))
        A2[0, 0] = a_
        A2[0, 1] = b_ / 2.0
        A2[1, 0] = b_ / 2.0
        A2[1, 1] = c_
        det = A2[0, 0] * A2[1, 1] - A2[0, 1] * A2[1, 0]
        if det == 0.0:
            continue
        # the centre: solve(-2 A2, (d, e)) by LU with partial pivoting (LAPACK gesv)
        rhs = np.empty((2, 1))
        rhs[0, 0], rhs[1, 0] = d_, e_
        cen, ok = _lu_solve(-2.0 * A2, rhs)
        cen0, cen1 = cen[0, 0], cen[1, 0]
        if not (ok and np.isfinite(cen0) and np.isfinite(cen1)):
            status[b] = 2  # (numpy raises on an exactly singular system: it decides)
            continue
        k = -(f_ + 0.5 * (d_ * cen0 + e_ * cen1))
        lam, vec = np.linalg.eigh(A2)
        if not ((k / lam[0] > 0) and (k / lam[1] > 0)):
            continue
        sm0 = np.sqrt(k / lam[0])
        sm1 = np.sqrt(k / lam[1])
        big = 1 if sm1 > sm0 else 0
        sa = (sm1 if big == 1 else sm0) * scale
        sb = (sm0 if big == 1 else sm1) * scale
        v0, v1 = vec[0, big], vec[1, big]
        nrm = np.hypot(v0, v1)
        mj0, mj1 = v0 / nrm, v1 / nrm
        mn0, mn1 = -mj1, mj0
        c00 = m0 + cen0 * scale
        c01 = m1 + cen1 * scale
        ex_ = np.sqrt(mj0 * (sa * sa) * mj0 + mn0 * (sb * sb) * mn0)
        ey_ = np.sqrt(mj1 * (sa * sa) * mj1 + mn1 * (sb * sb) * mn1)
        shp0 = shapes[b, 0] + 2.0
        shp1 = shapes[b, 1] + 2.0
        hbox = max(sp0, sp1)
        btol = mm_dist * hbox
        if not (
            (c00 - ex_ >= -btol)
            and (c01 - ey_ >= -btol)
            and (c00 + ex_ <= (shp0 - 1) * sp0 + btol)
            and (c01 + ey_ <= (shp1 - 1) * sp1 + btol)
        ):
            continue
        # does it reproduce the box?  (voxel in when its centre is inside)
        sa2, sb2 = sa * sa, sb * sb
        lim = mm_vox + mm_frac * c
        near_max = 2.0 * mm_near * c
        nwrong = 0
        nnear = 0
        dmax = 0.0
        for j in range(R):
            d0 = j * sp0 - c00
            for i in range(C):
                d1 = i * sp1 - c01
                q = d0 * mj0 + d1 * mj1
                q = q * q
                q /= sa2
                q2 = d0 * mn0 + d1 * mn1
                q2 = q2 * q2
                q2 /= sb2
                q += q2
                if (q <= 1.0) != stack[b, j, i]:
                    nwrong += 1
                    rr = np.hypot(d0, d1)
                    dist = abs(rr - rr / np.sqrt(max(q, 1e-300)))
                    dmax = max(dmax, dist)
                    if dist <= mm_near * hbox:
                        nnear += 1
        if nwrong == 0:
            ok = True
        elif nwrong <= lim + near_max:
            counted = nwrong - nnear if nnear <= near_max else nwrong
            ok = (dmax <= mm_dist * hbox) and (counted <= lim)
        else:
            ok = False
        if ok:
            status[b] = 1
            vals[b, 0] = c00
            vals[b, 1] = c01
            vals[b, 2] = sa
            vals[b, 3] = sb
            vals[b, 4] = mj0
            vals[b, 5] = mj1
    return status, vals


# ------------------------------------------------------------------------------------------
# 3-D Feret diameter on the per-slice hulls (the twin of _hull.feret_3d, exact: the same
# squared distances, operation for operation, so the same maximum and the same ties)
# ------------------------------------------------------------------------------------------
#: in-plane directions of the kernel's own slice-pair bound (used only to skip and order slice
#: pairs; the result does not depend on it)
_BOUND_DIRS = 32


@numba.njit(cache=True, nogil=True)
def feret_3d(x, y, zk, zs, st, cnt, lower2, cos128, sin128, cos_n, all_pairs_max):  # pragma: no cover - compiled
    """``(found, a, b, d2)``: the farthest pair of hull vertices, as :func:`_hull.feret_3d`
    chooses it; ``found`` 0 when nothing beats ``lower2`` (the caller keeps its lower bound)."""
    nv = x.shape[0]
    n_sl = st.shape[0]
    if n_sl < 2:
        return 0, 0, 0, 0.0
    if nv <= all_pairs_max:
        # every pair, the first largest in row-major order (the upper triangle holds it: the
        # matrix is symmetric, to the bit, and its diagonal is 0)
        top, ta, tb = -1.0, 0, 0
        for r in range(nv):
            xr, yr, zr = x[r], y[r], zk[r]
            for c in range(r + 1, nv):
                dx = xr - x[c]
                dy = yr - y[c]
                dz = zr - zk[c]
                d2 = dx * dx + dy * dy + dz * dz
                if d2 > top:
                    top, ta, tb = d2, r, c
        if top > lower2:
            return 1, ta, tb, top
        return 0, 0, 0, 0.0
    # slice pairs k1 < k2: a support-function bound at _BOUND_DIRS directions
    nd = _BOUND_DIRS
    half = nd // 2
    cb = np.empty(nd)
    sb = np.empty(nd)
    for d in range(nd):
        cb[d], sb[d] = np.cos(2.0 * np.pi * d / nd), np.sin(2.0 * np.pi * d / nd)
    h = np.full((n_sl, nd), -np.inf)
    for s in range(n_sl):
        for d in range(nd):
            m = -np.inf
            for v in range(st[s], st[s] + cnt[s]):
                m = max(m, cb[d] * x[v] + sb[d] * y[v])
            h[s, d] = m
    slack = 1.0 / np.cos(np.pi / nd) * (1.0 + 1e-9)
    npair = n_sl * (n_sl - 1) // 2
    bound = np.empty(npair)
    p1 = np.empty(npair, dtype=np.int64)
    p2 = np.empty(npair, dtype=np.int64)
    t = 0
    topb, topi = -1.0, 0
    for k1 in range(n_sl):
        for k2 in range(k1 + 1, n_sl):
            m = -np.inf
            for d in range(nd):
                m = max(m, h[k1, d] + h[k2, (d + half) % nd])
            dz = zs[k1] - zs[k2]
            b = dz * dz + (m * slack) * (m * slack)
            bound[t] = b
            p1[t] = k1
            p2[t] = k2
            if b > topb:
                topb, topi = b, t
            t += 1
    best2 = lower2
    # the support at the 128 angles of _hull (the same products as _hull._support), per slice
    # when first needed: a tighter bound for the pairs the coarse one lets through, and the
    # tie-break between slice pairs
    h128 = np.empty((n_sl, 128))
    have = np.zeros(n_sl, dtype=np.bool_)
    slack128 = 1.0 / cos_n * (1.0 + 1e-9)
    # the pairs' exact maxima: the pair of the largest bound first (it sets a high best), then
    # every pair whose bounds reach the best so far
    vals = np.full(npair, -1.0)
    arg_a = np.zeros(npair, dtype=np.int64)
    arg_b = np.zeros(npair, dtype=np.int64)
    for it in range(npair + 1):
        c = topi if it == 0 else it - 1
        if it > 0 and c == topi:
            continue
        if bound[c] < best2 * (1.0 - 1e-12):
            continue
        k1, k2 = p1[c], p2[c]
        for s in (k1, k2):
            if not have[s]:
                for d in range(128):
                    m = -np.inf
                    for v in range(st[s], st[s] + cnt[s]):
                        m = max(m, cos128[d] * x[v] + sin128[d] * y[v])
                    h128[s, d] = m
                have[s] = True
        m = -np.inf
        for d in range(128):
            m = max(m, h128[k1, d] + h128[k2, (d + 64) % 128])
        dz = zs[k1] - zs[k2]
        dz2 = dz * dz
        if dz2 + (m * slack128) * (m * slack128) < best2 * (1.0 - 1e-12):
            continue
        top, ta, tb = -1.0, 0, 0
        for va in range(st[k1], st[k1] + cnt[k1]):
            xa, ya = x[va], y[va]
            for vb in range(st[k2], st[k2] + cnt[k2]):
                dx = xa - x[vb]
                dy = ya - y[vb]
                d2 = dx * dx + dy * dy + dz2
                if d2 > top:
                    top, ta, tb = d2, va, vb
        vals[c] = top
        arg_a[c] = ta
        arg_b[c] = tb
        if top > best2:
            best2 = top
    if best2 <= lower2:
        return 0, 0, 0, 0.0
    # ties between slice pairs: the larger 128-angle bound (as _hull computes it), then the
    # first pair
    win = -1
    wb2 = -np.inf
    for c in range(npair):
        if vals[c] != best2:
            continue
        k1, k2 = p1[c], p2[c]
        m = -np.inf
        for d in range(128):
            m = max(m, h128[k1, d] + h128[k2, (d + 64) % 128])
        dz = zs[k1] - zs[k2]
        q = m / cos_n
        b2f = dz * dz + q * q
        if win < 0 or b2f > wb2:
            win, wb2 = c, b2f
    return 1, arg_a[win], arg_b[win], best2


@numba.njit(cache=True, nogil=True)
def pairs_at_least(x, y, z, thr):  # pragma: no cover - compiled; its twin is in _hull.feret_ties
    """The vertex pairs ``a < b`` whose squared distance is at least ``thr``, in row-major
    order (the same squared distances as ``_hull._pair_d2_rows``)."""
    nv = x.shape[0]
    n = 0
    for r in range(nv):
        for c in range(r + 1, nv):
            dx, dy, dz = x[r] - x[c], y[r] - y[c], z[r] - z[c]
            if dx * dx + dy * dy + dz * dz >= thr:
                n += 1
    a = np.empty(n, dtype=np.int64)
    b = np.empty(n, dtype=np.int64)
    t = 0
    for r in range(nv):
        for c in range(r + 1, nv):
            dx, dy, dz = x[r] - x[c], y[r] - y[c], z[r] - z[c]
            if dx * dx + dy * dy + dz * dz >= thr:
                a[t] = r
                b[t] = c
                t += 1
    return a, b


# ------------------------------------------------------------------------------------------
# per-slice hulls (the twin of _hull.slice_hulls; integers only, so the very same vertices)
# ------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _chain(ys, xs, n, out_y, out_x):  # pragma: no cover - compiled
    """Convex minorant of x(y) (y strictly increasing), collinear points dropped: the vertices
    that _hull._minorant's pruning rounds keep (the strict vertices, unique).  Returns their
    count, written to out_y / out_x."""
    m = 0
    for t in range(n):
        yc, xc = ys[t], xs[t]
        while m >= 2:
            ya, xa = out_y[m - 2], out_x[m - 2]
            yb, xb = out_y[m - 1], out_x[m - 1]
            if (xb - xa) * (yc - ya) >= (xc - xa) * (yb - ya):
                m -= 1
            else:
                break
        out_y[m] = yc
        out_x[m] = xc
        m += 1
    return m


@numba.njit(cache=True, nogil=True)
def slice_hulls(mask):  # pragma: no cover - compiled
    """``(k, j, i, slices, starts)`` of :class:`_hull.SliceHulls`: per non-empty slice, the left
    chain (rows ascending) then the right chain (rows descending)."""
    K, R, C = mask.shape
    cap = 2 * K * R
    ko = np.empty(cap, dtype=np.int64)
    jo = np.empty(cap, dtype=np.int64)
    io = np.empty(cap, dtype=np.int64)
    slices = np.empty(K, dtype=np.int64)
    starts = np.empty(K + 1, dtype=np.int64)
    rows = np.empty(R, dtype=np.int64)
    first = np.empty(R, dtype=np.int64)
    neg_last = np.empty(R, dtype=np.int64)
    cy = np.empty(R, dtype=np.int64)
    cx = np.empty(R, dtype=np.int64)
    nv = 0
    ns = 0
    for k in range(K):
        nr = 0
        for j in range(R):
            f = -1
            for i in range(C):
                if mask[k, j, i]:
                    f = i
                    break
            if f < 0:
                continue
            last = f
            for i in range(C - 1, f - 1, -1):
                if mask[k, j, i]:
                    last = i
                    break
            rows[nr] = j
            first[nr] = f
            neg_last[nr] = -last
            nr += 1
        if nr == 0:
            continue
        slices[ns] = k
        starts[ns] = nv
        ns += 1
        m = _chain(rows, first, nr, cy, cx)
        for t in range(m):
            ko[nv] = k
            jo[nv] = cy[t]
            io[nv] = cx[t]
            nv += 1
        m = _chain(rows, neg_last, nr, cy, cx)
        for t in range(m - 1, -1, -1):
            ko[nv] = k
            jo[nv] = cy[t]
            io[nv] = -cx[t]
            nv += 1
    starts[ns] = nv
    return ko[:nv].copy(), jo[:nv].copy(), io[:nv].copy(), slices[:ns].copy(), starts[: ns + 1].copy()


# ------------------------------------------------------------------------------------------
# homothetic sections (the twin of _homothetic.fit_homothetic): one ellipse shape fitted to the
# boundary midpoints of consecutive slices together
# ------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def homothetic(v, spv, half, stepf, mom_x, mom_y, mom_of, consts):  # pragma: no cover - compiled
    """``(status, centres (n, 2), a (n), b (n), major (2))`` in the canonical frame; status 1:
    accepted, 0: refused (None), 2: handed back (numpy decides)."""
    n, R, C = v.shape
    n_iter = int(consts[0])
    floor_ = consts[1]
    h_vox, m_frac, m_dist, box_tol = consts[2], consts[3], consts[4], consts[5]
    e_c = np.zeros((n, 2))
    e_a = np.zeros(n)
    e_b = np.zeros(n)
    e_m = np.zeros(2)
    # the boundary midpoints, per slice direction-major then voxel order (_stack_midpoints)
    area = (R - 2) * (C - 2)
    jm = np.empty(4 * n * area, dtype=np.int64)
    im = np.empty(4 * n * area, dtype=np.int64)
    dd = np.empty(4 * n * area, dtype=np.int64)
    seg = np.empty(4 * n * area, dtype=np.int64)
    bj = np.empty((4, area), dtype=np.int64)
    bi = np.empty((4, area), dtype=np.int64)
    nd = np.zeros(4, dtype=np.int64)
    cnt = np.zeros(n, dtype=np.int64)
    npt = 0
    for s in range(n):
        cnt[s] = _slice_midpoints(v[s], stepf, bj, bi, nd, jm, im, dd, npt)
        seg[npt : npt + cnt[s]] = s
        npt += cnt[s]
    for s in range(n):
        if cnt[s] < 6:
            return 0, e_c, e_a, e_b, e_m
    P0 = np.empty(npt)
    P1 = np.empty(npt)
    m0 = 0.0
    m1 = 0.0
    for t in range(npt):
        P0[t] = (jm[t] + half[dd[t], 0]) * spv[0]
        P1[t] = (im[t] + half[dd[t], 1]) * spv[1]
        m0 += P0[t]
        m1 += P1[t]
    m0 /= npt
    m1 /= npt
    scale = 1e-12
    for t in range(npt):
        scale = max(scale, abs(P0[t] - m0), abs(P1[t] - m1))
    x = np.empty(npt)
    y = np.empty(npt)
    ex = np.empty(npt)
    ey = np.empty(npt)
    for t in range(npt):
        x[t] = (P0[t] - m0) / scale
        y[t] = (P1[t] - m1) / scale
        ex[t] = stepf[dd[t], 0] * spv[0] / scale
        ey[t] = stepf[dd[t], 1] * spv[1] / scale
    fl2 = (floor_ / scale) ** 2
    w = np.ones(npt)
    q = np.zeros(3)
    Lq = np.zeros((n, 3))
    xp = np.empty(5)
    yp = np.empty(5)
    C3 = np.zeros((3, 3))
    C3[0, 2] = 2.0
    C3[2, 0] = 2.0
    C3[1, 1] = -1.0
    for it in range(n_iter + 1):
        M = np.zeros((n, 15))
        for t in range(npt):
            xx, yy = x[t], y[t]
            xp[0], xp[1], xp[2] = 1.0, xx, xx * xx
            xp[3], xp[4] = xp[2] * xx, xp[2] * xp[2]
            yp[0], yp[1], yp[2] = 1.0, yy, yy * yy
            yp[3], yp[4] = yp[2] * yy, yp[2] * yp[2]
            s = seg[t]
            for k in range(15):
                val = xp[mom_x[k]] * yp[mom_y[k]]
                if it > 0:
                    val = val * w[t]
                M[s, k] += val
        red = np.zeros((3, 3))
        T = np.empty((n, 3, 3))
        for s in range(n):
            S = np.empty((6, 6))
            for p in range(6):
                for r in range(6):
                    S[p, r] = M[s, mom_of[p, r]]
            X, ok = _lu_solve(np.ascontiguousarray(S[3:, 3:]), np.ascontiguousarray(S[3:, :3]))
            if not ok:
                return 2, e_c, e_a, e_b, e_m
            for p in range(3):
                for r in range(3):
                    T[s, p, r] = -X[p, r]
            for p in range(3):
                for r in range(3):
                    acc = 0.0
                    for k in range(3):
                        acc += S[3 + k, p] * T[s, k, r]
                    red[p, r] += S[p, r] + acc
        # the one positive eigenvalue of red^-1 C3, by the symmetric form (red = L L'); a
        # near-singular red (midpoints on a conic to rounding, e.g. a 2 x 2 voxel square's on a
        # circle): numpy's non-symmetric eigen-form decides, as for one section
        for i in range(3):
            for j in range(i):
                red[i, j] = 0.5 * (red[i, j] + red[j, i])
        Li, ok = _chol_inv(red, consts[6])
        if not ok:
            return 2, e_c, e_a, e_b, e_m
        Mx = Li @ C3 @ Li.T
        ev, V = np.linalg.eigh(Mx)
        emax = max(abs(ev[0]), abs(ev[1]), abs(ev[2]))
        npos = 0
        for i in range(3):
            if not np.isfinite(ev[i]):
                return 2, e_c, e_a, e_b, e_m
            if ev[i] > 1e-9 * emax:
                npos += 1
        if npos != 1:
            return 2, e_c, e_a, e_b, e_m
        z = Li.T @ V[:, 2]
        nz = np.sqrt(z[0] * z[0] + z[1] * z[1] + z[2] * z[2])
        for i in range(3):
            q[i] = z[i] / nz
        for s in range(n):
            for p in range(3):
                Lq[s, p] = T[s, p, 0] * q[0] + T[s, p, 1] * q[1] + T[s, p, 2] * q[2]
        if it == n_iter:
            break
        for t in range(npt):
            s = seg[t]
            gx = (2 * q[0]) * x[t] + q[1] * y[t] + Lq[s, 0]
            gy = q[1] * x[t] + (2 * q[2]) * y[t] + Lq[s, 1]
            g2 = gx * gx + gy * gy + 1e-300
            var = (gx * ex[t] + gy * ey[t]) ** 2 / g2
            w[t] = 1.0 / ((var + fl2) * g2)
    for i in range(3):
        if not np.isfinite(q[i]):
            return 0, e_c, e_a, e_b, e_m
    for s in range(n):
        for p in range(3):
            if not np.isfinite(Lq[s, p]):
                return 0, e_c, e_a, e_b, e_m
    A2 = np.empty((2, 2))
    A2[0, 0] = q[0]
    A2[0, 1] = q[1] / 2.0
    A2[1, 0] = q[1] / 2.0
    A2[1, 1] = q[2]
    if not (A2[0, 0] * A2[1, 1] - A2[0, 1] * A2[1, 0] > 0.0):
        return 0, e_c, e_a, e_b, e_m
    lam, vec = np.linalg.eigh(A2)
    rhs = np.empty((2, n))
    for s in range(n):
        rhs[0, s] = Lq[s, 0]
        rhs[1, s] = Lq[s, 1]
    cen, ok = _lu_solve(-2.0 * A2, rhs)
    if not ok:
        return 2, e_c, e_a, e_b, e_m
    semi = np.empty((n, 2))
    for s in range(n):
        kq = -(Lq[s, 2] + 0.5 * (Lq[s, 0] * cen[0, s] + Lq[s, 1] * cen[1, s]))
        if not ((kq / lam[0] > 0) and (kq / lam[1] > 0)):
            return 0, e_c, e_a, e_b, e_m
        semi[s, 0] = np.sqrt(kq / lam[0]) * scale
        semi[s, 1] = np.sqrt(kq / lam[1]) * scale
    big = 1 if semi[0, 1] > semi[0, 0] else 0
    nrm = np.hypot(vec[0, big], vec[1, big])
    mj0, mj1 = vec[0, big] / nrm, vec[1, big] / nrm
    mn0, mn1 = -mj1, mj0
    tol = box_tol * max(spv[0], spv[1])
    hmax = max(spv[0], spv[1])
    dmax = 0.0
    for s in range(n):
        sa, sb = semi[s, big], semi[s, 1 - big]
        c0 = cen[0, s] * scale + m0
        c1 = cen[1, s] * scale + m1
        e_c[s, 0], e_c[s, 1], e_a[s], e_b[s] = c0, c1, sa, sb
        ex_ = np.sqrt((mj0 * sa) ** 2 + (mn0 * sb) ** 2)
        ey_ = np.sqrt((mj1 * sa) ** 2 + (mn1 * sb) ** 2)
        lo_r, hi_r, lo_c, hi_c = R, -1, C, -1
        for j in range(R):
            for i in range(C):
                if v[s, j, i]:
                    lo_r = min(lo_r, j)
                    hi_r = max(hi_r, j)
                    lo_c = min(lo_c, i)
                    hi_c = max(hi_c, i)
        if not (
            (c0 - ex_ >= (lo_r - 1) * spv[0] - tol)
            and (c1 - ey_ >= (lo_c - 1) * spv[1] - tol)
            and (c0 + ex_ <= (hi_r + 1) * spv[0] + tol)
            and (c1 + ey_ <= (hi_c + 1) * spv[1] + tol)
        ):
            return 0, e_c, e_a, e_b, e_m
        nwrong = 0
        for j in range(R):
            d0 = j * spv[0] - c0
            for i in range(C):
                d1 = i * spv[1] - c1
                qv = (d0 * mj0 + d1 * mj1) ** 2 / (sa * sa) + (d0 * mn0 + d1 * mn1) ** 2 / (sb * sb)
                if (qv <= 1.0) != v[s, j, i]:
                    nwrong += 1
                    rr = np.hypot(d0, d1)
                    dmax = max(dmax, abs(rr - rr / np.sqrt(max(qv, 1e-300))))
        if nwrong > h_vox + m_frac * cnt[s]:
            return 0, e_c, e_a, e_b, e_m
    if dmax > m_dist * hmax:
        return 0, e_c, e_a, e_b, e_m
    e_m[0], e_m[1] = mj0, mj1
    return 1, e_c, e_a, e_b, e_m


@numba.njit(cache=True, nogil=True)
def _find(parent, a):  # pragma: no cover - compiled
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@numba.njit(cache=True, nogil=True)
def n_pieces(mask):  # pragma: no cover - compiled
    """Number of 26-connected pieces of a 3-D boolean mask: union-find over the row runs (a run
    touches the runs of the 8 neighbouring rows whose column ranges overlap it, widened by one
    column).  The same count as ``scipy.ndimage.label(mask, np.ones((3, 3, 3)))``."""
    K, J, I = mask.shape
    n = 0
    multi = False
    rs = np.empty(K * J, np.int64)  # pass 1: each row's first run (enough when no row has two)
    re = np.empty(K * J, np.int64)
    for k in range(K):
        for j in range(J):
            r = k * J + j
            i = 0
            while i < I and not mask[k, j, i]:
                i += 1
            if i == I:
                rs[r] = 1
                re[r] = -1  # (an empty row: no run)
                continue
            rs[r] = i
            while i < I and mask[k, j, i]:
                i += 1
            re[r] = i - 1
            n += 1
            while i < I:
                if mask[k, j, i]:
                    multi = True
                    break
                i += 1
            if multi:
                break
        if multi:
            break
    if multi:  # count the runs
        n = 0
        for k in range(K):
            for j in range(J):
                prev = False
                for i in range(I):
                    v = mask[k, j, i]
                    if v and not prev:
                        n += 1
                    prev = v
    if not multi:  # one run per row at most: the rows are the runs
        row_start = np.empty(K * J + 1, np.int64)
        m = 0
        for r in range(K * J):
            row_start[r] = m
            if re[r] >= rs[r]:
                rs[m] = rs[r]
                re[m] = re[r]
                m += 1
        row_start[K * J] = m
        return _count_runs(rs, re, row_start, K, J, m)
    rs = np.empty(n, np.int64)
    re = np.empty(n, np.int64)
    row_start = np.empty(K * J + 1, np.int64)
    n = 0
    for k in range(K):  # pass 2: their column ranges, row by row
        for j in range(J):
            row_start[k * J + j] = n
            prev = False
            for i in range(I):
                v = mask[k, j, i]
                if v and not prev:
                    rs[n] = i
                if prev and not v:
                    re[n] = i - 1
                    n += 1
                prev = v
            if prev:
                re[n] = I - 1
                n += 1
    row_start[K * J] = n
    return _count_runs(rs, re, row_start, K, J, n)


@numba.njit(cache=True, nogil=True)
def _count_runs(rs, re, row_start, K, J, n):  # pragma: no cover - compiled
    """Pieces of the runs ``rs[a]..re[a]`` (rows ``row_start``; 26-connectivity)."""
    parent = np.arange(n)
    for k in range(K):
        for j in range(J):
            r = k * J + j
            a0, a1 = row_start[r], row_start[r + 1]
            if a0 == a1:
                continue
            for t in range(4):  # forward neighbours: (0, +1), (1, -1), (1, 0), (1, +1)
                dk = 0 if t == 0 else 1
                dj = 1 if t == 0 else t - 2
                k2, j2 = k + dk, j + dj
                if k2 >= K or j2 < 0 or j2 >= J:
                    continue
                r2 = k2 * J + j2
                pa, pb, b1 = a0, row_start[r2], row_start[r2 + 1]
                while pa < a1 and pb < b1:
                    if rs[pa] <= re[pb] + 1 and rs[pb] <= re[pa] + 1:
                        x, y = _find(parent, pa), _find(parent, pb)
                        if x != y:
                            parent[x] = y
                    if re[pa] < re[pb]:
                        pa += 1
                    else:
                        pb += 1
    count = 0
    for a in range(n):
        if _find(parent, a) == a:
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def valid_segments(vflat, n_row, n_col, pj, pi, qj, qi, n_pair, max_run, base):  # pragma: no cover - compiled
    """The viable rule's full check of segments p->q between viable voxel centres, one sample at a
    time, stopping at a segment's first run of more than ``max_run`` non-viable samples: the
    same sample points as ``_viable_search._sample_cols`` (``t = c / (n - 1)``, ``rint(p + t (q - p))``,
    the same float operations), so the same verdicts, without the samples' arrays."""
    P = pj.shape[0]
    out = np.empty(P, np.bool_)
    for e in range(P):
        n = n_pair[e]
        m = max_run[e]
        den = n - 1.0
        a0, a1 = pj[e], pi[e]
        d0, d1 = qj[e] - a0, qi[e] - a1
        run = 0
        ok = True
        for c in range(n):
            t = c / den
            j = np.int64(np.rint(a0 + t * d0))
            i = np.int64(np.rint(a1 + t * d1))
            j = min(max(j, 0), n_row - 1)
            i = min(max(i, 0), n_col - 1)
            if vflat[base[e] + j * n_col + i]:
                run = 0
            else:
                run += 1
                if run > m:
                    ok = False
                    break
        out[e] = ok
    return out

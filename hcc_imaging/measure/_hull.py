"""Vectorised convex-hull geometry on voxel centres (private; see :mod:`.diameters`).

Everything here works on integer voxel indices (exact arithmetic for the hull tests) and on
mm coordinates obtained by multiplying by the spacing.  The direction matrix is orthonormal,
so distances in index space scaled by spacing are distances in patient space.

Pipeline for one mask (axis 0 = the axial-plane normal):

1. :func:`row_extremes` - the first and last voxel of every non-empty (slice, row) line, all
   slices at once (two ``argmax`` passes).  The convex hull of a slice's voxel centres is the
   convex hull of its row extremes.
2. :func:`slice_hulls` - per slice, the left chain (first voxels) and right chain (last voxels)
   are monotone in the row index; their convex minorant / concave majorant are found for all
   slices at once by repeatedly deleting every chain point that does not make a strict convex
   turn with its current neighbours (integer cross products, exact).  A point that is not a
   strict turn is never a hull vertex, so simultaneous deletion is safe; the loop stops when
   every remaining point turns strictly (2-5 rounds on digitised round shapes).
3. Farthest pairs: per slice on the hull vertices of the candidate slices (slices whose upper
   bound ``2 max|v - c|`` reaches the best lower bound), and in 3-D on the 3-D hull of all
   slices' hull vertices.  Never O(B^2) over boundary voxels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArr = NDArray[np.int64]
FloatArr = NDArray[np.float64]

__all__ = [
    "row_extremes",
    "slice_hulls",
    "SliceHulls",
    "farthest_pair_per_slice",
    "farthest_pair",
    "not_between",
    "perpendicular_chord",
    "polygon_of_slice",
]


def row_extremes(mask: NDArray[np.bool_]) -> tuple[IntArr, IntArr, IntArr, IntArr]:
    """First and last True voxel of every non-empty (slice, row) line.

    Returns ``(k, j, first, last)``, sorted by ``(k, j)``.
    """
    m = np.asarray(mask, dtype=bool)
    n_col = m.shape[2]
    first = m.argmax(axis=2)
    k, j = np.nonzero(m.any(axis=2))
    first_kj = first[k, j]
    last_kj = (n_col - 1) - m[:, :, ::-1].argmax(axis=2)[k, j]
    return k.astype(np.int64), j.astype(np.int64), first_kj.astype(np.int64), last_kj.astype(np.int64)


def _minorant(k: IntArr, y: IntArr, x: IntArr) -> tuple[IntArr, IntArr, IntArr]:
    """Convex minorant of x(y) per group k (points sorted by (k, y), y strictly increasing)."""
    while len(k) >= 3:
        same = (k[:-2] == k[1:-1]) & (k[2:] == k[1:-1])
        ya, yb, yc = y[:-2], y[1:-1], y[2:]
        xa, xb, xc = x[:-2], x[1:-1], x[2:]
        # b stays only if strictly left of the chord a-c (smaller x at y_b).
        bad = same & ((xb - xa) * (yc - ya) >= (xc - xa) * (yb - ya))
        if not bad.any():
            break
        keep = np.ones(len(k), dtype=bool)
        keep[1:-1] = ~bad
        k, y, x = k[keep], y[keep], x[keep]
    return k, y, x


@dataclass(frozen=True, slots=True)
class SliceHulls:
    """Hull vertices of every slice of a mask, in voxel indices.

    ``k, j, i`` list the vertices slice by slice (sorted by k); within a slice the left chain
    comes first (rows ascending) then the right chain (rows descending), i.e. the polygon in
    order (a vertex on both chains appears twice).  ``slices`` are the non-empty slice
    indices, ``starts`` the offset of each slice's first vertex (``len(slices)+1`` entries).
    """

    k: IntArr
    j: IntArr
    i: IntArr
    slices: IntArr
    starts: IntArr


def slice_hulls(mask: NDArray[np.bool_]) -> SliceHulls:
    """Convex-hull vertices (voxel centres) of every slice of ``mask`` (axis 0 = slices)."""
    k, j, first, last = row_extremes(mask)
    lk, lj, li = _minorant(k, j, first)
    rk, rj, ri_neg = _minorant(k, j, -last)
    ri = -ri_neg
    # Merge chains: left ascending, right descending, grouped by slice.
    kk = np.concatenate([lk, rk])
    jj = np.concatenate([lj, rj])
    ii = np.concatenate([li, ri])
    side = np.concatenate([np.zeros(len(lk), np.int64), np.ones(len(rk), np.int64)])
    order_key = np.where(side == 0, jj, -jj)
    order = np.lexsort((order_key, side, kk))
    kk, jj, ii = kk[order], jj[order], ii[order]
    slices, starts = np.unique(kk, return_index=True)
    starts = np.append(starts, len(kk)).astype(np.int64)
    return SliceHulls(k=kk, j=jj, i=ii, slices=slices.astype(np.int64), starts=starts)


def _pairwise_max(points: FloatArr, block: int = 2048) -> tuple[int, int, float]:
    """Farthest pair of a point set by blocked brute force (the set is already small)."""
    n = len(points)
    if n == 1:
        return 0, 0, 0.0
    best = (-1.0, 0, 0)
    sq = np.einsum("ij,ij->i", points, points)
    for s in range(0, n, block):
        blk = points[s : s + block]
        d2 = sq[s : s + block, None] + sq[None, :] - 2.0 * (blk @ points.T)
        flat = int(np.argmax(d2))
        a, b = divmod(flat, n)
        if d2[a, b] > best[0]:
            best = (float(d2[a, b]), s + a, b)
    a, b = best[1], best[2]
    return a, b, float(np.linalg.norm(points[a] - points[b]))


#: Lattice directions with a slice component: a voxel centre whose two neighbours along one
#: of them are both in the mask lies between two mask points, so it is no 3-D hull vertex.
_OUT_OF_PLANE = np.array(
    [(1, 0, 0), (1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1)],
    dtype=np.int64,
)


def not_between(mask: NDArray[np.bool_], k: IntArr, j: IntArr, i: IntArr) -> NDArray[np.bool_]:
    """False for points that lie strictly between two mask voxels along a lattice line
    leaving the slice (such points cannot be vertices of the 3-D hull)."""
    kk_max, jj_max, ii_max = mask.shape
    keep = np.ones(len(k), dtype=bool)
    for dk, dj, di in _OUT_OF_PLANE:
        both = keep.copy()
        for s in (1, -1):
            a, b, c = k + s * dk, j + s * dj, i + s * di
            ok = (a >= 0) & (a < kk_max) & (b >= 0) & (b < jj_max) & (c >= 0) & (c < ii_max)
            hit = np.zeros(len(k), dtype=bool)
            hit[ok] = mask[a[ok], b[ok], c[ok]]
            both &= hit
        keep &= ~both
    return keep


_DIRECTIONS: tuple[FloatArr, float] | None = None


def _fibonacci_hemisphere(n: int) -> FloatArr:
    t = np.arange(n) + 0.5
    z = t / n
    phi = np.pi * (1.0 + 5.0**0.5) * t
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _directions() -> tuple[FloatArr, float]:
    """256 hemisphere directions and a guaranteed lower bound on cos(covering angle).

    The covering angle is measured on a 100,000-point Fibonacci sphere (its own covering
    radius is < 0.01 rad) and widened by 0.015 rad, so every unit vector is within
    ``arccos(c)`` of some +-direction.  Computed once.
    """
    global _DIRECTIONS
    if _DIRECTIONS is None:
        u = _fibonacci_hemisphere(256)
        n = 100_000
        t = np.arange(n) + 0.5
        z = 1.0 - 2.0 * t / n
        phi = np.pi * (1.0 + 5.0**0.5) * t
        r = np.sqrt(1.0 - z * z)
        x = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
        worst = 1.0
        for s in range(0, n, 10_000):
            worst = min(worst, float(np.abs(x[s : s + 10_000] @ u.T).max(axis=1).min()))
        theta = float(np.arccos(min(1.0, worst))) + 0.015
        _DIRECTIONS = (u, float(np.cos(theta)))
    return _DIRECTIONS


def _slab_pairs(points: FloatArr, lower_mm: float) -> tuple[int, int, float]:
    """Exact farthest pair by direction slabs.

    For the true diameter pair (p, q), some direction u of the set is within the covering
    angle of q - p, so (q - p).u >= D cos(theta) >= L c, hence p lies in the slab
    ``x.u < max.u - L c`` and q in ``x.u > min.u + L c``.  Only such pairs are compared.
    """
    u, c = _directions()
    m = len(u)
    pts = points
    proj = u[:, 0, None] * pts[None, :, 0] + u[:, 1, None] * pts[None, :, 1] + u[:, 2, None] * pts[None, :, 2]
    amin, amax = proj.argmin(axis=1), proj.argmax(axis=1)
    ar = np.arange(m)
    lo, hi = proj[ar, amin], proj[ar, amax]
    d2 = ((pts[amax] - pts[amin]) ** 2).sum(axis=1)
    best = int(d2.argmax())
    best_pair = (int(amin[best]), int(amax[best]), float(d2[best]))
    low_bound = max(lower_mm, float(np.sqrt(d2[best])))
    thr = low_bound * c * (1.0 - 1e-9) - 1e-9
    lm, li = np.nonzero(proj < (hi - thr)[:, None])
    hm, hj = np.nonzero(proj > (lo + thr)[:, None])
    a = np.bincount(lm, minlength=m)
    b = np.bincount(hm, minlength=m)
    cnt = a * b
    total = int(cnt.sum())
    if total == 0:
        return best_pair[0], best_pair[1], float(np.sqrt(best_pair[2]))
    if total > 4 * len(pts) * len(pts):  # pathological: brute force is cheaper
        return _pairwise_max(pts)
    ls = np.zeros(m + 1, np.int64)
    ls[1:] = np.cumsum(a)
    hs = np.zeros(m + 1, np.int64)
    hs[1:] = np.cumsum(b)
    cs = np.zeros(m + 1, np.int64)
    cs[1:] = np.cumsum(cnt)
    mm = np.repeat(ar, cnt)
    off = np.arange(total) - cs[mm]
    qd, rm = np.divmod(off, b[mm])
    pi = li[ls[mm] + qd]
    qi = hj[hs[mm] + rm]
    diff = pts[pi] - pts[qi]
    dd = np.einsum("ij,ij->i", diff, diff)
    w = int(dd.argmax())
    if dd[w] > best_pair[2]:
        best_pair = (int(pi[w]), int(qi[w]), float(dd[w]))
    return best_pair[0], best_pair[1], float(np.sqrt(best_pair[2]))


def farthest_pair(points: FloatArr, lower_mm: float = 0.0) -> tuple[int, int, float]:
    """Indices and distance of the farthest pair (diameter) of ``points`` (N, 3), exact.

    ``lower_mm`` is a known lower bound of the diameter (e.g. the longest axial diameter),
    which tightens the pruning.  Small sets are compared pairwise; larger ones by direction
    slabs (:func:`_slab_pairs`).
    """
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) <= 400:
        return _pairwise_max(pts)
    return _slab_pairs(pts, lower_mm)


def farthest_pair_per_slice(
    hulls: SliceHulls, spacing_rc: tuple[float, float]
) -> tuple[int, int, int, float]:
    """Longest in-plane distance over all slices (the RECIST long axis on voxel centres).

    Returns ``(slice_pos, a, b, length_mm)`` where ``slice_pos`` indexes ``hulls.slices`` and
    ``a``, ``b`` index the vertex arrays of ``hulls``.  Ties go to the lowest slice index.
    """
    sr, sc = spacing_rc
    u = hulls.j * sr
    v = hulls.i * sc
    st = hulls.starts[:-1]
    counts = np.diff(hulls.starts)
    umin, umax = np.minimum.reduceat(u, st), np.maximum.reduceat(u, st)
    vmin, vmax = np.minimum.reduceat(v, st), np.maximum.reduceat(v, st)
    lower = np.maximum(umax - umin, vmax - vmin)
    cu, cv = (umin + umax) / 2.0, (vmin + vmax) / 2.0
    grp = np.repeat(np.arange(len(st)), counts)
    r = np.hypot(u - cu[grp], v - cv[grp])
    upper = 2.0 * np.maximum.reduceat(r, st)
    best_lower = float(lower.max())
    cand = np.flatnonzero(upper >= best_lower - 1e-9)
    # Process candidates by decreasing upper bound in chunks; stop once bounds fall short.
    cand = cand[np.argsort(-upper[cand], kind="stable")]
    best = (-1.0, 0, 0, 0)  # (d2, slice_pos, a, b)
    chunk = 64
    for s in range(0, len(cand), chunk):
        sel = cand[s : s + chunk]
        if best[0] >= 0 and upper[sel[0]] ** 2 < best[0] - 1e-9:
            break
        h = int(counts[sel].max())
        # Padded (C, h) vertex indices: pad with the slice's first vertex (distance 0 pairs).
        offs = np.arange(h)[None, :]
        valid = offs < counts[sel][:, None]
        ids = np.where(valid, st[sel][:, None] + offs, st[sel][:, None])
        pu, pv = u[ids], v[ids]
        d2 = (pu[:, :, None] - pu[:, None, :]) ** 2 + (pv[:, :, None] - pv[:, None, :]) ** 2
        flat = d2.reshape(len(sel), -1)
        am = flat.argmax(axis=1)
        vals = flat[np.arange(len(sel)), am]
        # exact ties -> lowest slice index
        top = vals.max()
        winners = np.flatnonzero(vals >= top - 1e-9 * max(1.0, top))
        w = winners[np.argmin(sel[winners])]
        if top > best[0] + 1e-9 * max(1.0, top) or (
            abs(top - best[0]) <= 1e-9 * max(1.0, top) and sel[w] < best[1]
        ):
            a, b = divmod(int(am[w]), h)
            best = (float(top), int(sel[w]), int(ids[w, a]), int(ids[w, b]))
    _, pos, a, b = best
    return pos, a, b, float(np.hypot(u[a] - u[b], v[a] - v[b]))


def polygon_of_slice(hulls: SliceHulls, pos: int, spacing_rc: tuple[float, float]) -> FloatArr:
    """Ordered hull polygon (H, 2) in mm ``(row_mm, col_mm)`` of the slice ``hulls.slices[pos]``."""
    s, e = hulls.starts[pos], hulls.starts[pos + 1]
    return np.stack([hulls.j[s:e] * spacing_rc[0], hulls.i[s:e] * spacing_rc[1]], axis=1).astype(np.float64)


def perpendicular_chord(poly: FloatArr, direction: FloatArr) -> tuple[float, FloatArr, FloatArr]:
    """Longest chord of a convex polygon perpendicular to ``direction`` (2-vector).

    The chord length as a function of the position ``t`` along ``direction`` is concave and
    piecewise linear with breakpoints at the vertices, so its maximum is at a vertex's ``t``.

    Returns ``(length_mm, p, q)`` with the two chord endpoints (2-vectors, same frame as poly).
    """
    u = np.asarray(direction, dtype=np.float64)
    u = u / np.linalg.norm(u)
    n = np.array([-u[1], u[0]])
    t_v = poly @ u
    s_v = poly @ n
    if len(poly) < 3 or np.ptp(s_v) == 0.0:
        # degenerate (a segment): zero width
        p = poly[int(np.argmax(t_v))] if len(poly) else np.zeros(2)
        return 0.0, p.copy(), p.copy()
    ta, tb = t_v, np.roll(t_v, -1)
    sa, sb = s_v, np.roll(s_v, -1)
    tt = t_v[:, None]  # candidate positions (H, 1) against edges (1, H)
    lo = np.minimum(ta, tb)[None, :]
    hi = np.maximum(ta, tb)[None, :]
    hit = (tt >= lo - 1e-9) & (tt <= hi + 1e-9)
    denom = (tb - ta)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(np.abs(denom) > 1e-12, (tt - ta[None, :]) / denom, 0.0)
    s_hit = sa[None, :] + np.clip(frac, 0.0, 1.0) * (sb - sa)[None, :]
    # vertical edges (denom 0) at t: both ends count
    s_max = np.where(hit, np.maximum(s_hit, np.where(np.abs(denom) <= 1e-12, np.maximum(sa, sb)[None, :], s_hit)), -np.inf).max(axis=1)
    s_min = np.where(hit, np.minimum(s_hit, np.where(np.abs(denom) <= 1e-12, np.minimum(sa, sb)[None, :], s_hit)), np.inf).min(axis=1)
    length = s_max - s_min
    w = int(np.argmax(length))
    p = t_v[w] * u + s_min[w] * n
    q = t_v[w] * u + s_max[w] * n
    return float(length[w]), p, q

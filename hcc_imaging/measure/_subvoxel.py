"""Sub-voxel boundary refinement of diameter endpoints (private; see :mod:`.diameters`).

The voxel-centre hull finds *which* chord is the diameter; this module moves each endpoint from
the last voxel centre inside the lesion to an estimate of the lesion's continuous boundary.

Boundary evidence: every in-plane pair (inside voxel centre, outside 4-neighbour) brackets the
boundary; its midpoint is off the boundary by at most half a voxel *along the grid axis of the
pair*.  Near an endpoint the boundary is fitted, in a frame whose ``s`` axis runs outward along
the chord and ``t`` across it, by a parabola ``s = c0 + c1 t + c2 t^2`` with weighted least
squares: the weight of a midpoint is the inverse of its error variance *along the fitted
boundary's normal*, ``((e_s - f'(t) e_t)^2 / (1 + f'^2)) + (0.1 h)^2`` for a grid step
``e = (e_t, e_s)`` (iterated 3 times).  A pair that runs along the boundary fixes it far better
than one that crosses it, so the fit keeps the information of where the digital boundary steps
a row or column, which is what locates a smooth boundary to a fraction of a voxel.

The window around an endpoint is ``3 h`` first (``h`` = largest in-plane spacing); from that
fit's curvature radius ``rho = 1 / (2 |c2|)`` it is widened to
``min(max(2.5 sqrt(2 rho h), 3 h), max(0.7 rho, 2 h), max(3 h, 0.3 L))`` (``L`` = the chord):
wide enough to contain the boundary's steps, narrow enough that a parabola still fits.

Two uses:

* ``vertex=True`` (a diameter's end: LD, 3-D Feret): the endpoint goes to the fitted
  parabola's vertex, i.e. the boundary's farthest point along the chord (the support point);
* ``vertex=False`` (a chord's end at a fixed position: short axis, viable diameter): the
  endpoint is extended along the chord to the fitted boundary (``s = c0``).

Guards: fewer than 4 midpoints, or a non-finite fit -> no move; the outward move is clipped to
``[0, sqrt(2) h]`` and the whole move (outward and sideways) to ``sqrt(2) h``, so an endpoint
is never farther than ``sqrt(2) h`` from the voxel centre it started from (a tip that is not
smooth, e.g. a T-shaped end, could otherwise extrapolate further; found by hypothesis)
(the centre hull is never more than one voxel diagonal inside a smooth
boundary), the sideways move of a vertex to the window.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArr = NDArray[np.float64]

#: floor of the per-midpoint error SD, in units of h (keeps the weights finite)
_FLOOR = 0.1
_ITER = 3
#: reweighting passes of the ellipse fit
_ELLIPSE_ITER = 2
_MIN_POINTS = 5
#: a fitted curvature |c2| below this (1/h) counts as flat: the vertex is then not moved
#: sideways (its position would be ill-conditioned)
_FLAT = 1e-6
#: the window never exceeds this fraction of the chord (nor 3 h, whichever is larger)
_CAP_CHORD = 0.5


def _crossings(sl: NDArray[np.bool_], centre: FloatArr, radius_vox: tuple[int, int]) -> tuple[FloatArr, FloatArr]:
    """Midpoints (index units, (row, col)) of inside/outside 4-neighbour pairs in a box around
    ``centre`` and the grid step (inside -> outside) of each pair.  Outside the array = outside."""
    nj, ni = sl.shape
    cj, ci = int(round(centre[0])), int(round(centre[1]))
    j0, j1 = max(cj - radius_vox[0], 0), min(cj + radius_vox[0] + 1, nj)
    i0, i1 = max(ci - radius_vox[1], 0), min(ci + radius_vox[1] + 1, ni)
    if j0 >= j1 or i0 >= i1:
        return np.zeros((0, 2)), np.zeros((0, 2))
    box = np.zeros((j1 - j0 + 2, i1 - i0 + 2), dtype=bool)
    box[1:-1, 1:-1] = sl[j0:j1, i0:i1]
    # neighbours just outside the crop but inside the array
    if j0 > 0:
        box[0, 1:-1] = sl[j0 - 1, i0:i1]
    if j1 < nj:
        box[-1, 1:-1] = sl[j1, i0:i1]
    if i0 > 0:
        box[1:-1, 0] = sl[j0:j1, i0 - 1]
    if i1 < ni:
        box[1:-1, -1] = sl[j0:j1, i1]
    inner = box[1:-1, 1:-1]
    pts = []
    steps = []
    for dj, di in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = box[1 + dj : box.shape[0] - 1 + dj, 1 + di : box.shape[1] - 1 + di]
        jj, ii = np.nonzero(inner & ~nb)
        if len(jj):
            pts.append(np.stack([jj + j0 + dj / 2.0, ii + i0 + di / 2.0], axis=1))
            steps.append(np.broadcast_to(np.array([dj, di], dtype=np.float64), (len(jj), 2)))
    if not pts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    return np.concatenate(pts).astype(np.float64), np.concatenate(steps)


_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))
_STEP_J = np.array([d[0] for d in _STEPS])
_STEP_I = np.array([d[1] for d in _STEPS])
_STEP_F = np.array(_STEPS, dtype=np.float64)


def _crossings_ringed(sub: NDArray[np.bool_]) -> tuple[FloatArr, FloatArr]:
    """:func:`_crossings` of a whole box whose border ring is empty (same points, same order):
    the boundary voxels are found once, then their 4 neighbours are tested there only (the
    (direction, voxel) row-major order of ``nonzero`` is the per-direction concatenation)."""
    inner = sub[1:-1, 1:-1]
    full = sub[2:, 1:-1] & sub[:-2, 1:-1]
    full &= sub[1:-1, 2:]
    full &= sub[1:-1, :-2]
    jj, ii = np.nonzero(inner & ~full)
    jj += 1
    ii += 1
    dd, kk = np.nonzero(~sub[jj[None, :] + _STEP_J[:, None], ii[None, :] + _STEP_I[:, None]])
    if len(dd) == 0:
        return np.zeros((0, 2)), np.zeros((0, 2))
    steps = _STEP_F[dd]
    pts = np.empty((len(dd), 2))
    pts[:, 0] = jj[kk]
    pts[:, 0] += _STEP_F[dd, 0] / 2.0
    pts[:, 1] = ii[kk]
    pts[:, 1] += _STEP_F[dd, 1] / 2.0
    return pts, steps


def _wfit(t: FloatArr, s: FloatArr, et: FloatArr, es: FloatArr, h: float) -> FloatArr | None:
    """Weighted parabola fit s = c0 + c1 t + c2 t^2 (weights: error variance along the normal)."""
    X = np.stack([np.ones_like(t), t, t * t], axis=1)
    w = np.ones_like(t)
    floor2 = (_FLOOR * h) ** 2
    c = None
    for it in range(_ITER + 1):
        Xw = X * w[:, None]
        A = X.T @ Xw
        b = Xw.T @ s
        ev = np.linalg.eigvalsh(A)
        if not ev[0] > 1e-7 * ev[-1]:  # (near-)singular: the points do not fix a parabola
            return None
        c = np.linalg.solve(A, b)
        if it == _ITER:  # the last pass's weights would not be used
            break
        fp = c[1] + 2.0 * c[2] * t
        var = (es - fp * et) ** 2 / (1.0 + fp * fp)
        w = 1.0 / (var + floor2)
    if c is None or not np.all(np.isfinite(c)):
        return None
    return c


def refine_end(
    sl: NDArray[np.bool_],
    spacing_rc: tuple[float, float],
    point_mm: FloatArr,
    direction: FloatArr,
    chord_mm: float,
    *,
    vertex: bool,
) -> FloatArr:
    """Move one endpoint (mm, in-plane (row_mm, col_mm)) to the fitted boundary.

    ``sl`` is the 2-D mask of the slice (index (row, col)), ``direction`` the outward unit
    vector (mm frame) along the chord, ``chord_mm`` the chord length (caps the window).
    Returns the new endpoint in mm.
    """
    # work in units of the largest in-plane spacing (conditioning; exact scale covariance)
    h_mm = max(spacing_rc)
    sr, sc = spacing_rc[0] / h_mm, spacing_rc[1] / h_mm
    h = 1.0
    chord_mm = chord_mm / h_mm
    u = np.asarray(direction, dtype=np.float64)
    nu = float(np.hypot(u[0], u[1]))
    if nu == 0.0:
        return np.asarray(point_mm, dtype=np.float64)
    u = u / nu
    n = np.array([-u[1], u[0]])
    p = np.asarray(point_mm, dtype=np.float64) / h_mm
    r_cap = max(3.0 * h, _CAP_CHORD * chord_mm)
    pts, steps = _crossings(sl, p / np.array([sr, sc]), (int(np.ceil(r_cap / sr)) + 1, int(np.ceil(r_cap / sc)) + 1))
    if len(pts) < _MIN_POINTS:
        return p * h_mm
    d = pts * np.array([sr, sc]) - p
    e = steps * np.array([sr, sc])
    r = np.hypot(d[:, 0], d[:, 1])
    s_all, t_all = d @ u, d @ n
    es_all, et_all = e @ u, e @ n

    def fit(radius: float) -> tuple[FloatArr | None, NDArray[np.bool_]]:
        sel = r <= radius + 1e-9  # grid distances tie with the radius: never split a tie by rounding
        if int(sel.sum()) < _MIN_POINTS:
            return None, sel
        return _wfit(t_all[sel], s_all[sel], et_all[sel], es_all[sel], h), sel

    c, sel = fit(3.0 * h)
    if c is None:
        return p * h_mm
    rho = 1.0 / (2.0 * abs(c[2])) if c[2] < -_FLAT else np.inf
    radius = min(max(2.5 * np.sqrt(2.0 * rho * h), 3.0 * h), max(0.7 * rho, 2.0 * h), r_cap)
    if radius != 3.0 * h:
        c2, sel2 = fit(radius)
        if c2 is not None:
            c, sel = c2, sel2
    tv = 0.0
    if vertex and c[2] < -_FLAT:
        t = t_all[sel]
        tv = float(np.clip(-c[1] / (2.0 * c[2]), t.min(), t.max()))
    sv = float(c[0] + c[1] * tv + c[2] * tv * tv)
    sv = min(max(sv, 0.0), np.sqrt(2.0) * h)
    move = float(np.hypot(sv, tv))
    if move > np.sqrt(2.0) * h:  # outward + sideways together: at most one voxel diagonal
        sv, tv = sv * np.sqrt(2.0) * h / move, tv * np.sqrt(2.0) * h / move
    return (p + sv * u + tv * n) * h_mm


# ------------------------------------------------------------------------------------------
# whole-section ellipse model
# ------------------------------------------------------------------------------------------
#: a fitted ellipse is accepted as the section's boundary when rasterising it (voxel in when
#: its centre is inside) reproduces the slice mask except for at most
#: ``ELLIPSE_MISMATCH_VOXELS + ELLIPSE_MISMATCH_FRAC x (number of boundary midpoints)`` voxels
ELLIPSE_MISMATCH_VOXELS = 2
ELLIPSE_MISMATCH_FRAC = 0.03
#: ... each within this many voxels (largest in-plane spacing) of the fitted outline
ELLIPSE_MISMATCH_DIST_VOXELS = 0.2

_FITZGIBBON = np.zeros((6, 6))
_FITZGIBBON[0, 2] = _FITZGIBBON[2, 0] = 2.0
_FITZGIBBON[1, 1] = -1.0


class EllipseSection:
    """An ellipse (mm, in-plane (row_mm, col_mm) frame) fitted to one slice of a mask."""

    __slots__ = ("centre", "a", "b", "major", "minor", "M")

    def __init__(self, centre: FloatArr, a: float, b: float, major: FloatArr) -> None:
        self.centre = centre
        self.a = a  # semi-major, mm
        self.b = b  # semi-minor, mm
        self.major = major / np.hypot(major[0], major[1])
        self.minor = np.array([-self.major[1], self.major[0]])
        R = np.stack([self.major, self.minor], axis=1)
        self.M = R @ np.diag([a * a, b * b]) @ R.T  # support: h(u) = sqrt(u' M u)

    def support_point(self, u: FloatArr) -> FloatArr:
        """The boundary point farthest along direction ``u``."""
        Mu = self.M @ u
        return self.centre + Mu / np.sqrt(max(float(u @ Mu), 1e-300))

    def chord_through_centre(self, n: FloatArr) -> tuple[FloatArr, FloatArr, float]:
        """The longest chord along direction ``n`` (it passes through the centre)."""
        n = n / np.hypot(n[0], n[1])
        half = 1.0 / np.sqrt((n @ self.major) ** 2 / self.a**2 + (n @ self.minor) ** 2 / self.b**2)
        return self.centre - half * n, self.centre + half * n, 2.0 * half

    def points(self, n: int = 180) -> FloatArr:
        th = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
        return self.centre + np.outer(self.a * np.cos(th), self.major) + np.outer(self.b * np.sin(th), self.minor)


def fit_ellipse(sl: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> EllipseSection | None:
    """Ellipse fitted to the boundary midpoints of a 2-D mask (weighted like the end fits,
    Fitzgibbon's ellipse constraint), or None when it does not reproduce the mask.

    The fit runs on a canonical copy of the slice's box (the one of its 8 flips/transposes
    with the smallest (spacing, shape, bytes)), so that flipping or permuting the array axes
    gives the very same ellipse."""
    return fit_ellipses([sl], spacing_rc)[0]


def fit_ellipses(slices: list[NDArray[np.bool_]], spacing_rc: tuple[float, float]) -> list[EllipseSection | None]:
    """:func:`fit_ellipse` of several slices; the reweighting passes run batched (one stacked
    6 x 6 solve and ``eig`` per pass for all slices: the same LAPACK calls per matrix, hence
    the same results as one slice at a time)."""
    canon = [_canonical(sl, spacing_rc) for sl in slices]
    setups = [None if c is None else _box_setup(c[0], c[1]) for c in canon]
    conics = _conics([su for su in setups if su is not None])
    out: list[EllipseSection | None] = []
    it = iter(conics)
    for c, su in zip(canon, setups):
        if c is None or su is None:
            out.append(None)
            continue
        p = next(it)
        res = None if p is None else _box_finish(c[0], c[1], su, p)
        out.append(None if res is None else _from_box(c, res))
    return out


def _canonical(sl: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> tuple | None:
    h_mm = max(spacing_rc)
    sr, sc = spacing_rc[0] / h_mm, spacing_rc[1] / h_mm
    nz_r = np.flatnonzero(sl.any(axis=1))
    nz_c = np.flatnonzero(sl.any(axis=0))
    if len(nz_r) == 0:
        return None
    r0, c0 = int(nz_r[0]), int(nz_c[0])
    core = sl[r0 : int(nz_r[-1]) + 1, c0 : int(nz_c[-1]) + 1]
    sub = np.zeros((core.shape[0] + 2, core.shape[1] + 2), dtype=bool)
    sub[1:-1, 1:-1] = core
    # the key compares (spacing, shape) first: only the transposition(s) with the smallest
    # (spacing, shape) can win, so the bytes are packed for those only (same choice)
    heads = {tr: ((sc, sr) if tr else (sr, sc), sub.shape[::-1] if tr else sub.shape) for tr in (False, True)}
    least = min(heads.values())
    best: tuple | None = None
    for tr in (False, True):
        if heads[tr] != least:
            continue
        a = sub.T if tr else sub
        spv = heads[tr][0]
        for fr in (False, True):
            for fc in (False, True):
                v = a[:: -1 if fr else 1, :: -1 if fc else 1]
                key = (spv, v.shape, np.packbits(v).tobytes())
                if best is None or key < best[0]:
                    best = (key, tr, fr, fc, v, spv)
    assert best is not None
    _, tr, fr, fc, v, spv = best
    return np.ascontiguousarray(v), spv, tr, fr, fc, r0, c0, sr, sc, h_mm


def _from_box(canon: tuple, res: tuple[FloatArr, float, float, FloatArr]) -> EllipseSection:
    v, spv, tr, fr, fc, r0, c0, sr, sc, h_mm = canon
    centre, a_, b_, major = res
    n0, n1 = v.shape
    if fr:
        centre[0] = (n0 - 1) * spv[0] - centre[0]
        major[0] = -major[0]
    if fc:
        centre[1] = (n1 - 1) * spv[1] - centre[1]
        major[1] = -major[1]
    if tr:
        centre = centre[::-1].copy()
        major = major[::-1].copy()
    centre = centre + np.array([(r0 - 1) * sr, (c0 - 1) * sc])
    return EllipseSection(centre * h_mm, a_ * h_mm, b_ * h_mm, major)


def _fit_ellipse_box(sub: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> tuple[FloatArr, float, float, FloatArr] | None:
    """The fit on a box whose border ring is empty (coordinates: mm from voxel (0, 0))."""
    su = _box_setup(sub, spacing_rc)
    if su is None:
        return None
    p = _conics([su])[0]
    return None if p is None else _box_finish(sub, spacing_rc, su, p)


def _box_setup(sub: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> tuple | None:
    sr, sc = spacing_rc
    pts, steps = _crossings_ringed(sub)
    if len(pts) < 6:
        return None
    P = pts * np.array([sr, sc])
    E = steps * np.array([sr, sc])
    m = P.mean(axis=0)
    scale = float(np.abs(P - m).max()) or 1.0
    x, y = ((P - m) / scale).T
    ex, ey = (E / scale).T
    h = max(sr, sc) / scale
    D = np.empty((len(x), 6))
    np.multiply(x, x, out=D[:, 0])
    np.multiply(x, y, out=D[:, 1])
    np.multiply(y, y, out=D[:, 2])
    D[:, 3] = x
    D[:, 4] = y
    D[:, 5] = 1.0
    return len(pts), D, x, y, ex, ey, h, m, scale


def _pick(ev: NDArray, V: NDArray) -> FloatArr | None:
    ev, V = np.real(ev), np.real(V)
    if not np.isfinite(ev).all():
        return None
    ok = np.flatnonzero(ev > 1e-9 * float(np.abs(ev).max()))
    if len(ok) == 0:
        return None
    return V[:, ok[0]]


def _conics(setups: list[tuple]) -> list[FloatArr | None]:
    """Fitzgibbon's conic of each setup after the reweighting passes (None: no ellipse)."""
    n = len(setups)
    res: list[FloatArr | None] = [None] * n
    ws = [np.ones_like(su[2]) for su in setups]
    active = list(range(n))
    cat_for: list[int] = []
    with np.errstate(all="ignore"):
        for it in range(_ELLIPSE_ITER + 1):
            if not active:
                break
            Ss = [(setups[i][1] * ws[i][:, None]).T @ setups[i][1] for i in active]
            picked: list[FloatArr | None] = []
            try:
                if len(Ss) == 1:
                    raise np.linalg.LinAlgError  # (one slice: the plain calls below)
                EV, VV = np.linalg.eig(np.linalg.solve(np.stack(Ss), np.broadcast_to(_FITZGIBBON, (len(Ss), 6, 6))))
                ev, V = np.real(EV), np.real(VV)
                fin = np.isfinite(ev).all(axis=1)
                okm = ev > (1e-9 * np.abs(ev).max(axis=1))[:, None]
                first = okm.argmax(axis=1)
                good = fin & okm.any(axis=1)
                picked = [V[r, :, first[r]] if good[r] else None for r in range(len(Ss))]
            except np.linalg.LinAlgError:
                picked = []
                for S in Ss:
                    try:
                        ev, V = np.linalg.eig(np.linalg.solve(S, _FITZGIBBON))
                    except np.linalg.LinAlgError:
                        picked.append(None)
                        continue
                    picked.append(_pick(ev, V))
            for i, p in zip(active, picked):
                res[i] = p
            active = [i for i in active if res[i] is not None]
            if it == _ELLIPSE_ITER or not active:  # the last pass's weights would not be used
                break
            if cat_for != active:
                cat_for = active
                lens = np.array([len(setups[i][2]) for i in active])
                seg = np.repeat(np.arange(len(active)), lens)
                offs = np.concatenate([[0], np.cumsum(lens)])
                x, y, ex, ey = (np.concatenate([setups[i][k] for i in active]) for k in (2, 3, 4, 5))
                fl2 = np.array([(_FLOOR * setups[i][6]) ** 2 for i in active])[seg]
            C = np.stack([res[i] for i in active])
            a_, b_, c_, d_, e_ = (C[:, k][seg] for k in range(5))
            gx = (2 * C[:, 0])[seg] * x + b_ * y + d_
            gy = b_ * x + (2 * C[:, 2])[seg] * y + e_
            g2 = gx * gx + gy * gy + 1e-300
            var = (gx * ex + gy * ey) ** 2 / g2
            w = 1.0 / ((var + fl2) * g2)
            for r, i in enumerate(active):
                ws[i] = w[offs[r] : offs[r + 1]]
    return [None if p is None or not np.all(np.isfinite(p)) else p for p in res]


def _box_finish(sub: NDArray[np.bool_], spacing_rc: tuple[float, float], su: tuple, p: FloatArr) -> tuple[FloatArr, float, float, FloatArr] | None:
    sr, sc = spacing_rc
    j0, i0 = 0, 0
    n_pts, _D, _x, _y, _ex, _ey, _h, m, scale = su
    a_, b_, c_, d_, e_, f_ = p
    A2 = np.array([[a_, b_ / 2.0], [b_ / 2.0, c_]])
    try:
        cen = np.linalg.solve(-2.0 * A2, np.array([d_, e_]))
    except np.linalg.LinAlgError:
        return None
    k = -(f_ + 0.5 * (d_ * cen[0] + e_ * cen[1]))
    lam, vec = np.linalg.eigh(A2)
    if not (k / lam[0] > 0 and k / lam[1] > 0):
        return None
    semi = np.sqrt(k / lam)  # semi-axes along the eigenvectors
    order = np.argsort(-semi)
    ell = EllipseSection(m + cen * scale, float(semi[order[0]] * scale), float(semi[order[1]] * scale), vec[:, order[0]].copy())
    # it must stay within the mask's box plus one voxel (a thin ellipse can thread a line of
    # voxels and run far beyond them); the box's first/last rows and columns are 1 and n - 2
    cx, cy = float(ell.centre[0]), float(ell.centre[1])
    ex_, ey_ = math.sqrt(float(ell.M[0, 0])), math.sqrt(float(ell.M[1, 1]))
    if cx - ex_ < 0 * sr or cy - ey_ < 0 * sc:
        return None
    if cx + ex_ > (sub.shape[0] - 1) * sr or cy + ey_ > (sub.shape[1] - 1) * sc:
        return None
    # does it reproduce the mask?  (voxel in when its centre is inside)
    d0 = (np.arange(j0, j0 + sub.shape[0]) * sr - ell.centre[0])[:, None]
    d1 = (np.arange(i0, i0 + sub.shape[1]) * sc - ell.centre[1])[None, :]
    q = (d0 * ell.major[0] + d1 * ell.major[1]) ** 2 / ell.a**2 + (d0 * ell.minor[0] + d1 * ell.minor[1]) ** 2 / ell.b**2
    wrong = (q <= 1.0) != sub
    if not wrong.any():
        return ell.centre.copy(), ell.a, ell.b, ell.major.copy()
    if int(np.count_nonzero(wrong)) > ELLIPSE_MISMATCH_VOXELS + ELLIPSE_MISMATCH_FRAC * n_pts:
        return None
    # a misclassified voxel centre must lie next to the fitted outline (radial distance)
    wj, wi = np.nonzero(wrong)
    rr = np.hypot(d0[wj, 0], d1[0, wi])
    dist = np.abs(rr - rr / np.sqrt(np.maximum(q[wj, wi], 1e-300)))
    if float(dist.max()) > ELLIPSE_MISMATCH_DIST_VOXELS * max(sr, sc):
        return None
    return ell.centre.copy(), ell.a, ell.b, ell.major.copy()

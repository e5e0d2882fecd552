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

import functools
import math

import numpy as np
from numpy.typing import NDArray

from numpy import linalg as _la  # (the fits call np.linalg directly)

from . import _kernels

FloatArr = NDArray[np.float64]

#: floor of the per-midpoint error SD, in units of h (keeps the weights finite)
_FLOOR = 0.1
_ITER = 3
#: reweighting passes of the ellipse fit (v3: one, after the unweighted fit; v2 had two.  The
#: second moved lengths by at most 0.07 voxel and left the random-ellipsoid error counts as they
#: were, docs/measure.md section 10; it cost ~0.17 ms of a 30 mm lesion's 2.1 ms)
_ELLIPSE_ITER = 1
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
#: half steps (a midpoint's offset from its inside voxel): _STEP_F / 2
_HALF_STEP_J = _STEP_F[:, 0] / 2.0
_HALF_STEP_I = _STEP_F[:, 1] / 2.0


def _stack_midpoints(stack: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Boundary midpoints of every slice of a stack (n, rows, cols) whose slices have an empty
    border ring: the inside voxel's (row, col), the step's index into ``_STEPS`` (inside ->
    outside) and the slice of each midpoint, sorted by slice (per slice direction-major, then
    voxel order).  The (inside, outside neighbour) tests of the 4 directions are written into
    one (n, 4, rows, cols) array, whose flat order is that order: one flatnonzero, no sort."""
    n, R, C = stack.shape
    inner = stack[:, 1:-1, 1:-1]
    e = np.empty((n, 4, R - 2, C - 2), dtype=bool)
    # (inside and not the neighbour: a > b on booleans), in the order of _STEPS
    np.greater(inner, stack[:, 2:, 1:-1], out=e[:, 0])
    np.greater(inner, stack[:, :-2, 1:-1], out=e[:, 1])
    np.greater(inner, stack[:, 1:-1, 2:], out=e[:, 2])
    np.greater(inner, stack[:, 1:-1, :-2], out=e[:, 3])
    f = np.flatnonzero(e)
    bd, rem = np.divmod(f, (R - 2) * (C - 2))
    bb, dd = np.divmod(bd, 4)
    jj, ii = np.divmod(rem, C - 2)
    jj += 1
    ii += 1
    return jj, ii, dd, bb


def _nonzero3(a: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """``np.nonzero`` of a 3-D array (same indices, same order), by ``flatnonzero`` and integer
    division: several times faster on the small stacks here."""
    _, R, C = a.shape
    f = np.flatnonzero(a)
    b, rem = np.divmod(f, R * C)
    j, i = np.divmod(rem, C)
    return b, j, i


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
        ev = _la.eigvalsh(A)
        if not ev[0] > 1e-7 * ev[-1]:  # (near-)singular: the points do not fix a parabola
            return None
        c = _la.solve(A, b)
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
#: wrong voxels whose centres lie within this many voxels of the fitted outline ("near": the
#: outline grazes them, within the fit's own precision) are not counted, as long as they are no
#: more than a band of +- this width around the outline holds (2 x 0.05 voxel centres per
#: boundary midpoint); beyond that every wrong voxel counts (v4; v3 counted all: a 28 mm
#: ellipsoid's middle slice, 100 midpoints, was refused for 6 wrong voxels all within 0.04
#: voxel, and the parabola ends then overshot the LD by 0.40 and the 3-D Feret by 0.52 voxel;
#: docs/measure.md section 2).  0.025 and 0.1 give the same random-ellipsoid counts.
ELLIPSE_MISMATCH_NEAR_VOXELS = 0.05

_FITZGIBBON = np.zeros((6, 6))
_FITZGIBBON[0, 2] = _FITZGIBBON[2, 0] = 2.0
_FITZGIBBON[1, 1] = -1.0


class EllipseSection:
    """An ellipse (mm, in-plane (row_mm, col_mm) frame) fitted to one slice of a mask.

    (2 x 2 arithmetic in Python floats: a numpy call per 2-vector costs more than the maths.)"""

    __slots__ = ("centre", "a", "b", "_j", "_c", "_m", "_pts")

    def __init__(self, centre: FloatArr, a: float, b: float, major: FloatArr) -> None:
        self.centre = centre
        self.a = a  # semi-major, mm
        self.b = b  # semi-minor, mm
        m0, m1 = float(major[0]), float(major[1])
        nm = math.hypot(m0, m1)
        j0, j1 = m0 / nm, m1 / nm
        n0, n1 = -j1, j0
        self._j = (j0, j1)
        a2, b2 = a * a, b * b
        # support: h(u) = sqrt(u' M u), M = R diag(a^2, b^2) R' (R = [major minor])
        m00 = j0 * a2 * j0 + n0 * b2 * n0
        m01 = j0 * a2 * j1 + n0 * b2 * n1
        m11 = j1 * a2 * j1 + n1 * b2 * n1
        self._m = (m00, m01, m11)
        self._c = (float(centre[0]), float(centre[1]))
        self._pts: tuple[int, FloatArr] | None = None

    @property
    def major(self) -> FloatArr:
        """Unit vector of the major axis."""
        return np.array(self._j)

    @property
    def minor(self) -> FloatArr:
        """Unit vector of the minor axis (the major turned by +90 degrees)."""
        return np.array([-self._j[1], self._j[0]])

    @property
    def M(self) -> FloatArr:
        """The support matrix: ``h(u) = sqrt(u' M u)``."""
        m00, m01, m11 = self._m
        return np.array([[m00, m01], [m01, m11]])

    def support_xy(self, u0: float, u1: float) -> tuple[float, float]:
        """The boundary point farthest along direction ``(u0, u1)``, as two floats."""
        m00, m01, m11 = self._m
        v0, v1 = m00 * u0 + m01 * u1, m01 * u0 + m11 * u1
        r = math.sqrt(max(u0 * v0 + u1 * v1, 1e-300))
        return self._c[0] + v0 / r, self._c[1] + v1 / r

    def support_point(self, u: FloatArr) -> FloatArr:
        """The boundary point farthest along direction ``u``."""
        return np.array(self.support_xy(float(u[0]), float(u[1])))

    def chord_through_centre(self, n: FloatArr) -> tuple[FloatArr, FloatArr, float]:
        """The longest chord along direction ``n`` (it passes through the centre)."""
        n0, n1 = float(n[0]), float(n[1])
        nn = math.hypot(n0, n1)
        n0, n1 = n0 / nn, n1 / nn
        j0, j1 = self._j
        i0, i1 = -j1, j0
        half = 1.0 / math.sqrt((n0 * j0 + n1 * j1) ** 2 / self.a**2 + (n0 * i0 + n1 * i1) ** 2 / self.b**2)
        c0, c1 = self._c
        return np.array([c0 - half * n0, c1 - half * n1]), np.array([c0 + half * n0, c1 + half * n1]), 2.0 * half

    def points(self, n: int = 180) -> FloatArr:
        """``n`` points of the outline, equally spaced in the parametric angle (the last ``n``
        asked for is kept: read-only)."""
        if self._pts is not None and self._pts[0] == n:
            return self._pts[1]
        cs, sn = _unit_circle(n)
        # (np.outer's products, by broadcasting)
        pts = self.centre + (self.a * cs)[:, None] * self.major + (self.b * sn)[:, None] * self.minor
        pts.flags.writeable = False
        self._pts = (n, pts)
        return pts


@functools.lru_cache(maxsize=8)
def _unit_circle(n: int) -> tuple[FloatArr, FloatArr]:
    th = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    cs, sn = np.cos(th), np.sin(th)
    cs.flags.writeable = False
    sn.flags.writeable = False
    return cs, sn


def fit_ellipse(sl: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> EllipseSection | None:
    """Ellipse fitted to the boundary midpoints of a 2-D mask (weighted like the end fits,
    Fitzgibbon's ellipse constraint), or None when it does not reproduce the mask.

    The fit runs on a canonical copy of the slice's box (the one of its 8 flips/transposes
    with the smallest (spacing, shape, bytes)), so that flipping or permuting the array axes
    gives the very same ellipse."""
    return fit_ellipses([sl], spacing_rc)[0]


def _canonical(
    sl: NDArray[np.bool_], spacing_rc: tuple[float, float], box: tuple[int, int, int, int] | None = None
) -> tuple | None:
    """The canonical copy of a slice's box (see :func:`fit_ellipse`); ``box`` = the rows and
    columns ``(r0, r1, c0, c1)`` (inclusive) holding its voxels, when known."""
    h_mm = max(spacing_rc)
    sr, sc = spacing_rc[0] / h_mm, spacing_rc[1] / h_mm
    if box is None:
        nz_r = np.flatnonzero(sl.any(axis=1))
        nz_c = np.flatnonzero(sl.any(axis=0))
        if len(nz_r) == 0:
            return None
        box = (int(nz_r[0]), int(nz_r[-1]), int(nz_c[0]), int(nz_c[-1]))
    r0, r1, c0, c1 = box
    core = sl[r0 : r1 + 1, c0 : c1 + 1]
    shape = (r1 - r0 + 3, c1 - c0 + 3)
    # the key compares (spacing, shape) first: only the transposition(s) with the smallest
    # (spacing, shape) can win, so the bytes are compared for those only (same choice).  The
    # bytes of the box's voxels, one per voxel, in row-major order, order the candidates as the
    # bit-packed bytes of the box with its empty ring would (equal shapes: the ring's zeros sit
    # at the same places in every candidate, and packing keeps the lexicographic order)
    head0, head1 = ((sr, sc), shape), ((sc, sr), shape[::-1])
    trs = (False, True) if head0 == head1 else ((False,) if head0 < head1 else (True,))
    # (flipping both axes reverses the row-major bytes: two copies per transposition)
    best: tuple | None = None
    for tr in trs:
        a = core.T if tr else core
        b_plain = a.tobytes()
        b_rows = a[::-1].tobytes()
        for fr, fc, key in ((False, False, b_plain), (False, True, b_rows[::-1]), (True, False, b_rows), (True, True, b_plain[::-1])):
            if best is None or key < best[0]:
                best = (key, tr, fr, fc)
    assert best is not None
    _, tr, fr, fc = best
    v = core.T if tr else core
    if fr:
        v = v[::-1]
    if fc:
        v = v[:, ::-1]
    spv = (sc, sr) if tr else (sr, sc)
    # (the box with its empty ring is (v.shape + 2); _fit_boxes places v inside the ring)
    return v, spv, tr, fr, fc, r0, c0, sr, sc, h_mm


def _from_box(canon: tuple, res: tuple[tuple[float, float], float, float, tuple[float, float]]) -> EllipseSection:
    v, spv, tr, fr, fc, r0, c0, sr, sc, h_mm = canon
    (x0, x1), a_, b_, (m0, m1) = res
    n0, n1 = v.shape[0] + 2, v.shape[1] + 2
    if fr:
        x0 = (n0 - 1) * spv[0] - x0
        m0 = -m0
    if fc:
        x1 = (n1 - 1) * spv[1] - x1
        m1 = -m1
    if tr:
        x0, x1, m0, m1 = x1, x0, m1, m0
    x0 += (r0 - 1) * sr
    x1 += (c0 - 1) * sc
    return EllipseSection(np.array([x0 * h_mm, x1 * h_mm]), a_ * h_mm, b_ * h_mm, (m0, m1))


def _pick(ev: NDArray, V: NDArray) -> FloatArr | None:
    """The eigenvector of the first eigenvalue above 1e-9 x the largest in magnitude (None if
    there is none or one is not finite).  (Python floats: a handful of eigenvalues.)"""
    evs = np.real(ev).tolist()
    if not all(math.isfinite(e) for e in evs):
        return None
    thr = 1e-9 * max(abs(e) for e in evs)
    for i, e in enumerate(evs):
        if e > thr:
            return np.real(V)[:, i]
    return None


def fit_ellipses(
    slices: list[NDArray[np.bool_]],
    spacing_rc: tuple[float, float],
    boxes: list[tuple[int, int, int, int]] | None = None,
) -> list[EllipseSection | None]:
    """:func:`fit_ellipse` of several slices, all at once: the boundary midpoints of every
    slice's canonical box are found in one padded stack, the weighted scatter matrices of the
    reweighting passes are one batched product, the 6 x 6 Cholesky, ``inv`` and ``eigh`` of
    :func:`_fitzgibbon` are stacked (the same LAPACK calls per matrix), the acceptance test
    rasterises all ellipses together.  A
    slice's result does not depend on the other slices of the batch (the padding adds exact
    zeros to every sum; tested against one slice at a time).  ``boxes``: the rows and columns
    ``(r0, r1, c0, c1)`` (inclusive) holding each slice's voxels, when known (every slice then
    holds a voxel)."""
    if boxes is not None:
        canon = [_canonical(sl, spacing_rc, bx) for sl, bx in zip(slices, boxes, strict=True)]
    elif len(slices) > 1 and all(sl.shape == slices[0].shape for sl in slices):
        # the boxes of all slices at once
        st = np.stack(slices)
        rows, cols = st.any(axis=2), st.any(axis=1)
        has = rows.any(axis=1)
        r0s, r1s = rows.argmax(axis=1), rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1)
        c0s, c1s = cols.argmax(axis=1), cols.shape[1] - 1 - cols[:, ::-1].argmax(axis=1)
        boxes = np.stack([r0s, r1s, c0s, c1s], axis=1).tolist()
        canon = [
            _canonical(sl, spacing_rc, tuple(bx)) if ok else None
            for sl, bx, ok in zip(slices, boxes, has.tolist(), strict=True)
        ]
    else:
        canon = [_canonical(sl, spacing_rc) for sl in slices]
    idx = [i for i, c in enumerate(canon) if c is not None]
    out: list[EllipseSection | None] = [None] * len(slices)
    if idx:
        res = _fit_boxes([canon[i][0] for i in idx], [canon[i][1] for i in idx])
        for i, r in zip(idx, res, strict=True):
            if r is not None:
                out[i] = _from_box(canon[i], _circle_axis(r))
    return out


_BoxFit = tuple[tuple[float, float], float, float, tuple[float, float]]


def _ringed_stack(subs: list[NDArray[np.bool_]]) -> NDArray[np.bool_]:
    """The boxes ``subs`` in one zero-padded stack, each inside an empty ring of one voxel."""
    R = max(s.shape[0] for s in subs) + 2
    C = max(s.shape[1] for s in subs) + 2
    stack = np.zeros((len(subs), R, C), dtype=bool)
    for b, s in enumerate(subs):
        stack[b, 1 : s.shape[0] + 1, 1 : s.shape[1] + 1] = s
    return stack


#: a fitted ellipse whose semi-axes differ by at most this fraction is a circle as far as its
#: axes go: rounding decides their direction there (an eigenvector of a 2 x 2 matrix with an
#: eigenvalue gap of that order turns by rounding / gap), so it is fixed to the canonical box's
#: first axis instead, whichever path fitted it (the LD's ends lie along the major axis)
CIRCLE_AXIS_REL = 1e-6


def _circle_axis(r: _BoxFit) -> _BoxFit:
    """``r`` with its major axis set to the canonical box's first axis when it is a circle
    (:data:`CIRCLE_AXIS_REL`)."""
    if r[1] - r[2] <= CIRCLE_AXIS_REL * r[1]:
        return (r[0], r[1], r[2], (1.0, 0.0))
    return r


def _fit_boxes(subs: list[NDArray[np.bool_]], spvs: list[tuple[float, float]]) -> list[_BoxFit | None]:
    """The ellipse fit of boxes (``subs``: their voxels; each box is that plus an empty ring of
    one voxel; coordinates: mm from voxel (0, 0) of each ringed box), or None where it does not
    reproduce the box.  By the compiled kernel (:mod:`._kernels`) when it is available, else
    (and for the boxes the kernel hands back) by :func:`_fit_boxes_numpy`, the reference."""
    kernel = _kernels.get("ellipse_boxes")
    if kernel is None:
        return _fit_boxes_numpy(subs, spvs)
    n = len(subs)
    status, vals = kernel(
        _ringed_stack(subs),
        np.array(spvs, dtype=np.float64),
        np.array([s.shape for s in subs], dtype=np.float64),
        _HALF_STEP,
        _STEP_F,
        _KERNEL_CONSTS,
    )
    out: list[_BoxFit | None] = [None] * n
    st_l, v_l = status.tolist(), vals.tolist()
    back = []
    for b in range(n):
        if st_l[b] == _kernels.ACCEPT:
            c00, c01, sa, sb, j0, j1 = v_l[b]
            out[b] = ((c00, c01), sa, sb, (j0, j1))
        elif st_l[b] == _kernels.FALLBACK:
            back.append(b)
    if back:  # (a box's fit does not depend on the other boxes of the batch)
        for b, r in zip(back, _fit_boxes_numpy([subs[b] for b in back], [spvs[b] for b in back]), strict=True):
            out[b] = r
    return out


def _fit_boxes_numpy(subs: list[NDArray[np.bool_]], spvs: list[tuple[float, float]]) -> list[_BoxFit | None]:
    """:func:`_fit_boxes` in numpy, all boxes in padded batches (the reference the kernel is
    tested against)."""
    n = len(subs)
    out: list[_BoxFit | None] = [None] * n
    shapes = [s.shape for s in subs]
    stack = _ringed_stack(subs)
    _, R, C = stack.shape
    # boundary midpoints of all boxes; padding adds none (the ring of every box is empty)
    jm, im, dd, seg = _stack_midpoints(stack)
    cnt = np.bincount(seg, minlength=n)
    spv = np.array(spvs, dtype=np.float64)  # (n, 2)
    ok_n = cnt >= 6
    if not ok_n.any():
        return out
    # per-box normalisation (centroid, scale) as in the one-box fit
    if all(sp == spvs[0] for sp in spvs):  # (one spacing for all boxes: scalars, same products)
        sp_0, sp_1 = float(spv[0, 0]), float(spv[0, 1])
    else:
        sp_pt = spv[seg]
        sp_0, sp_1 = sp_pt[:, 0], sp_pt[:, 1]
    P0 = (jm + _HALF_STEP_J[dd]) * sp_0
    P1 = (im + _HALF_STEP_I[dd]) * sp_1
    cnt_f = np.maximum(cnt, 1).astype(np.float64)
    m0 = np.bincount(seg, P0, minlength=n) / cnt_f
    m1 = np.bincount(seg, P1, minlength=n) / cnt_f
    dx0, dx1 = P0 - m0[seg], P1 - m1[seg]
    dev = np.maximum(np.abs(dx0), np.abs(dx1))
    starts = np.cumsum(cnt) - cnt  # the boxes' midpoints are contiguous (sorted by box)
    scale = np.maximum.reduceat(dev, np.minimum(starts, len(dev) - 1))
    scale[(cnt == 0) | (scale == 0.0)] = 1.0
    # padded (box, point) layout for the batched scatter matrices: x, y, e_x, e_y, valid
    # (each box's midpoints are one run: copied run by run)
    NP = int(cnt.max())
    sc_pt = scale[seg]
    V = np.empty((5, len(seg)))
    np.divide(dx0, sc_pt, out=V[0])
    np.divide(dx1, sc_pt, out=V[1])
    np.multiply(_STEP_F[dd, 0], sp_0, out=V[2])
    V[2] /= sc_pt
    np.multiply(_STEP_F[dd, 1], sp_1, out=V[3])
    V[3] /= sc_pt
    V[4] = 1.0
    Q = np.zeros((5, n, NP))
    for b, (s0, c) in enumerate(zip(starts.tolist(), cnt.tolist(), strict=True)):
        Q[:, b, :c] = V[:, s0 : s0 + c]
    x, y, ex, ey = Q[0], Q[1], Q[2], Q[3]
    valid = Q[4] != 0.0
    h = spv.max(axis=1) / scale
    fl2 = ((_FLOOR * h) ** 2)[:, None]
    D = np.empty((n, NP, 6))
    np.multiply(x, x, out=D[:, :, 0])
    np.multiply(x, y, out=D[:, :, 1])
    np.multiply(y, y, out=D[:, :, 2])
    D[:, :, 3] = x
    D[:, :, 4] = y
    D[:, :, 5] = Q[4]  # (x = y = 0 on the padding: its rows are 0)
    act = np.flatnonzero(ok_n)  # the boxes still fitted
    if len(act) < n:
        x, y, ex, ey, valid, D, fl2 = (v[act] for v in (x, y, ex, ey, valid, D, fl2))
    w = valid.astype(np.float64)
    with np.errstate(all="ignore"):
        for it in range(_ELLIPSE_ITER + 1):
            S = (D.transpose(0, 2, 1) * w[:, None, :]) @ D
            conic = _fitzgibbon(S)
            good = np.isfinite(conic).all(axis=1)
            if not good.all():
                act, conic = act[good], conic[good]
                x, y, ex, ey, valid, D, fl2 = (v[good] for v in (x, y, ex, ey, valid, D, fl2))
            if it == _ELLIPSE_ITER or len(act) == 0:  # the last pass's weights would not be used
                break
            # gradient of the conic at each midpoint
            cq = conic[:, :, None]
            gx = (2 * cq[:, 0]) * x + cq[:, 1] * y + cq[:, 3]
            gy = cq[:, 1] * x + (2 * cq[:, 2]) * y + cq[:, 4]
            g2 = gx * gx + gy * gy + 1e-300
            var = (gx * ex + gy * ey) ** 2 / g2
            w = np.where(valid, 1.0 / ((var + fl2) * g2), 0.0)
    if len(act) == 0:
        return out
    # centre, semi-axes, axes of every conic
    a_, b_, c_, d_, e_, f_ = conic.T
    A2 = np.empty((len(act), 2, 2))
    A2[:, 0, 0] = a_
    A2[:, 0, 1] = A2[:, 1, 0] = b_ / 2.0
    A2[:, 1, 1] = c_
    det = A2[:, 0, 0] * A2[:, 1, 1] - A2[:, 0, 1] * A2[:, 1, 0]
    okd = det != 0.0
    act, A2, d_, e_, f_ = act[okd], A2[okd], d_[okd], e_[okd], f_[okd]
    if len(act) == 0:
        return out
    rhs = np.stack((d_, e_), axis=1)[:, :, None]
    try:
        cen = _la.solve(-2.0 * A2, rhs)[:, :, 0]
    except np.linalg.LinAlgError:  # an exactly singular one (rounding): one at a time
        cen = np.full((len(act), 2), np.nan)
        for r in range(len(act)):
            try:
                cen[r] = _la.solve(-2.0 * A2[r], rhs[r])[:, 0]
            except np.linalg.LinAlgError:
                pass
        okc = np.isfinite(cen).all(axis=1)
        act, A2, cen, d_, e_, f_ = act[okc], A2[okc], cen[okc], d_[okc], e_[okc], f_[okc]
        if len(act) == 0:
            return out
    k = -(f_ + 0.5 * (d_ * cen[:, 0] + e_ * cen[:, 1]))
    lam, vec = _la.eigh(A2)
    with np.errstate(all="ignore"):
        okk = (k / lam[:, 0] > 0) & (k / lam[:, 1] > 0)
    act, cen, k, lam, vec = act[okk], cen[okk], k[okk], lam[okk], vec[okk]
    if len(act) == 0:
        return out
    semi = np.sqrt(k[:, None] / lam)
    big = (semi[:, 1] > semi[:, 0]).astype(np.int64)  # argsort(-semi)[0]: the first of equals
    rows = np.arange(len(act))
    sa = semi[rows, big] * scale[act]
    sb = semi[rows, 1 - big] * scale[act]
    mj = vec[rows, :, big]
    nrm = np.hypot(mj[:, 0], mj[:, 1])
    mj0, mj1 = mj[:, 0] / nrm, mj[:, 1] / nrm
    mn0, mn1 = -mj1, mj0
    c0 = np.stack([m0[act], m1[act]], axis=1) + cen * scale[act][:, None]
    # within the box plus one voxel (a thin ellipse can thread a line of voxels and run far
    # beyond them), plus ELLIPSE_MISMATCH_DIST_VOXELS (v4; v3: none, so a fit 0.02 voxel wide
    # of the box's ring was refused): less than a voxel, so no voxel centre beyond the ring can
    # be inside the ellipse and the raster below stays complete
    ex_ = np.sqrt(mj0 * (sa * sa) * mj0 + mn0 * (sb * sb) * mn0)
    ey_ = np.sqrt(mj1 * (sa * sa) * mj1 + mn1 * (sb * sb) * mn1)
    shp = np.array(shapes, dtype=np.float64)[act] + 2.0
    spa = spv[act]
    btol = ELLIPSE_MISMATCH_DIST_VOXELS * spa.max(axis=1)
    inbox = (
        (c0[:, 0] - ex_ >= -btol)
        & (c0[:, 1] - ey_ >= -btol)
        & (c0[:, 0] + ex_ <= (shp[:, 0] - 1) * spa[:, 0] + btol)
        & (c0[:, 1] + ey_ <= (shp[:, 1] - 1) * spa[:, 1] + btol)
    )
    sel = np.flatnonzero(inbox)
    if len(sel) == 0:
        return out
    act, c0, sa, sb, mj0, mj1, mn0, mn1, shp, spa = (
        v[sel] for v in (act, c0, sa, sb, mj0, mj1, mn0, mn1, shp, spa)
    )
    # does it reproduce the box?  (voxel in when its centre is inside)
    d0 = np.arange(R)[None, :] * spa[:, 0:1] - c0[:, 0:1]  # (b, R)
    d1 = np.arange(C)[None, :] * spa[:, 1:2] - c0[:, 1:2]  # (b, C)
    d0b, d1b = d0[:, :, None], d1[:, None, :]
    # q = (d . major)^2 / a^2 + (d . minor)^2 / b^2, in place (the same operations)
    q = d0b * mj0[:, None, None] + d1b * mj1[:, None, None]
    np.square(q, out=q)
    q /= (sa * sa)[:, None, None]
    q2 = d0b * mn0[:, None, None] + d1b * mn1[:, None, None]
    np.square(q2, out=q2)
    q2 /= (sb * sb)[:, None, None]
    q += q2
    # (the padding beyond a box is outside its ellipse, which lies within the box: no mismatch)
    wrong = q <= 1.0
    wrong ^= stack if len(act) == n else stack[act]  # (act: sorted, distinct)
    # the wrong voxels once (flat indices), counted per box
    fw = np.flatnonzero(wrong)
    wb_all, rem = np.divmod(fw, R * C)
    nwrong = np.bincount(wb_all, minlength=len(act))
    lim = ELLIPSE_MISMATCH_VOXELS + ELLIPSE_MISMATCH_FRAC * cnt[act]
    accept = nwrong == 0
    in_check = (nwrong > 0) & (nwrong <= lim + 2.0 * ELLIPSE_MISMATCH_NEAR_VOXELS * cnt[act])
    if in_check.any():
        check = np.flatnonzero(in_check)
        sel = in_check[wb_all]
        wbb = wb_all[sel]  # box (index into act) of each wrong voxel of the boxes checked
        wj, wi = np.divmod(rem[sel], C)
        rr = np.hypot(d0[wbb, wj], d1[wbb, wi])
        dist = np.abs(rr - rr / np.sqrt(np.maximum(q.reshape(-1)[fw[sel]], 1e-300)))
        # the largest per checked box (its wrong voxels are one run: fw is sorted)
        first = np.cumsum(nwrong[check]) - nwrong[check]
        dmax = np.maximum.reduceat(dist, first)
        hbox = spa.max(axis=1)
        near = dist <= ELLIPSE_MISMATCH_NEAR_VOXELS * hbox[wbb]
        nnear = np.bincount(wbb, weights=near.astype(np.float64), minlength=len(act))
        # the near ones are exempt while they are no more than a band of +-NEAR voxels
        # around the outline holds (about 2 NEAR voxel centres per midpoint)
        exempt = nnear <= 2.0 * ELLIPSE_MISMATCH_NEAR_VOXELS * cnt[act]
        counted = np.where(exempt, nwrong - nnear, nwrong)
        accept[check] = (dmax <= ELLIPSE_MISMATCH_DIST_VOXELS * hbox[check]) & (counted[check] <= lim[check])
    if accept.any():
        acl, c0l, sal, sbl, j0l, j1l = (v.tolist() for v in (act, c0, sa, sb, mj0, mj1))
        for r in np.flatnonzero(accept).tolist():
            out[acl[r]] = ((c0l[r][0], c0l[r][1]), sal[r], sbl[r], (j0l[r], j1l[r]))
    return out


#: below this ratio of the smallest to the largest Cholesky pivot a scatter matrix counts as
#: singular for the symmetric form of :func:`_fitzgibbon`
_CHOL_MIN_PIVOT_RATIO = 1e-5

_HALF_STEP = np.ascontiguousarray(np.stack((_HALF_STEP_J, _HALF_STEP_I), axis=1))
#: the kernel's constants: passes, floor, the acceptance rule, the pivot ratio
_KERNEL_CONSTS = np.array(
    [
        _ELLIPSE_ITER,
        _FLOOR,
        ELLIPSE_MISMATCH_VOXELS,
        ELLIPSE_MISMATCH_FRAC,
        ELLIPSE_MISMATCH_DIST_VOXELS,
        ELLIPSE_MISMATCH_NEAR_VOXELS,
        _CHOL_MIN_PIVOT_RATIO,
    ],
    dtype=np.float64,
)


def _fitzgibbon(S: NDArray) -> FloatArr:
    """Fitzgibbon's conic of each scatter matrix (a row of NaN: no ellipse).

    Symmetric-definite form: with ``S = L L'`` the eigenvalues of ``S^-1 C`` are those of the
    symmetric ``L^-1 C L^-T`` (``eigh``: faster than ``eig`` of the non-symmetric product);
    ``S`` is positive definite and ``C`` has one positive eigenvalue, so exactly one is
    positive, the ellipse (the one :func:`_fitzgibbon_general` picks).  A (near-)singular
    ``S`` (the midpoints on a conic to rounding, e.g. the 8 of a 2 x 2 voxel square on a
    circle: Cholesky pivot ratio ~1e-8, against >= 4e-3 for all others of 2,570 fits of
    reference masks) goes to :func:`_fitzgibbon_general`, whose rounding decides as before.
    Each matrix's result is independent of the others in the batch."""
    m = len(S)
    try:
        L = _la.cholesky(S)
        d = np.abs(np.diagonal(L, axis1=1, axis2=2))
        sing = ~(d.min(axis=1) >= _CHOL_MIN_PIVOT_RATIO * d.max(axis=1))  # (NaN: general form)
        Li = _la.inv(L)
        LiT = Li.transpose(0, 2, 1)
        ev, V = _la.eigh(Li @ _FITZGIBBON @ LiT)
    except np.linalg.LinAlgError:  # one is not positive definite (or not finite): one at a time
        if m == 1:
            return _fitzgibbon_general(S)
        return np.concatenate([_fitzgibbon(S[r : r + 1]) for r in range(m)])
    res = (LiT @ V[:, :, -1:])[:, :, 0]
    res[~((ev[:, -1] > 1e-9 * np.abs(ev).max(axis=1)) & np.isfinite(ev).all(axis=1))] = np.nan
    if sing.any():
        res[sing] = _fitzgibbon_general(S[sing])
    return res


def _fitzgibbon_general(S: NDArray) -> FloatArr:
    """:func:`_fitzgibbon` of (near-)singular or indefinite scatter matrices: the conic through
    all the midpoints when they lie on one ellipse (:func:`._exact_conic.exact_ellipse`), else
    :func:`_fitzgibbon_eig`."""
    from ._exact_conic import exact_ellipse

    res = np.array([exact_ellipse(S[r]) for r in range(len(S))]).reshape(len(S), 6)
    left = ~np.isfinite(res).all(axis=1)
    if left.any():
        res[left] = _fitzgibbon_eig(S[left])
    return res


def _fitzgibbon_eig(S: NDArray) -> FloatArr:
    """:func:`_fitzgibbon` by the eigenvectors of the non-symmetric ``S^-1 C`` (the first
    eigenvalue above 1e-9 of the largest in magnitude)."""
    m = len(S)
    try:
        EV, VV = _la.eig(_la.solve(S, np.broadcast_to(_FITZGIBBON, (m, 6, 6))))
    except np.linalg.LinAlgError:  # one of them is singular: one at a time
        res = np.full((m, 6), np.nan)
        for r in range(m):
            try:
                ev, V = _la.eig(_la.solve(S[r], _FITZGIBBON))
            except np.linalg.LinAlgError:
                continue
            p = _pick(ev, V)
            if p is not None:
                res[r] = p
        return res
    ev = EV.real
    okm = ev > (1e-9 * np.abs(ev).max(axis=1))[:, None]
    first = okm.argmax(axis=1)
    res = VV.real[np.arange(m), :, first]
    # no eigenvalue above the threshold, or a non-finite one: no ellipse
    res[~(okm[np.arange(m), first] & np.isfinite(ev).all(axis=1))] = np.nan
    return res

"""Homothetic sections: one ellipse shape and orientation fitted to a run of consecutive slices
together, each slice with its own size and centre (the sections of an ellipsoid by parallel planes):
the boundary a small lesion's central slices take (``subvoxel-boundary-v2`` onwards; docs/measure.md
section 2, step 2).  :func:`fit_homothetic` runs the compiled kernel (``_kernels_nb``) where it
decides, :func:`_homothetic_numpy` (the reference it is tested against) where it does not.

Split out of ``_subvoxel.py`` (session of 2026-12-07, tenth), the same code; the one-slice fits,
:class:`~._subvoxel.EllipseSection` and the shared constants stay there.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from ._subvoxel import (
    _CHOL_MIN_PIVOT_RATIO,
    _ELLIPSE_ITER,
    _FLOOR,
    _HALF_STEP,
    _HALF_STEP_I,
    _HALF_STEP_J,
    _STEP_F,
    CIRCLE_AXIS_REL,
    ELLIPSE_MISMATCH_DIST_VOXELS,
    ELLIPSE_MISMATCH_FRAC,
    EllipseSection,
    _la,
    _nonzero3,
    _pick,
    _stack_midpoints,
)

#: a homothetic fit has fewer free parameters than one ellipse per slice, so where it is the
#: right model it still misses a few more voxels whose centres lie next to the outline: it is
#: accepted with at most this many wrong voxels per slice (+ ``ELLIPSE_MISMATCH_FRAC`` of the
#: slice's midpoints), each within ``ELLIPSE_MISMATCH_DIST_VOXELS`` of its ellipse as for one
#: slice (chosen on random ellipsoids, docs/measure.md section 2)
HOMOTHETIC_MISMATCH_VOXELS = 4
#: ... and each slice's ellipse within that slice's box plus one voxel plus this much (voxels):
#: the same 0.2-voxel tolerance as the wrong voxels' distance
HOMOTHETIC_BOX_TOL_VOXELS = ELLIPSE_MISMATCH_DIST_VOXELS
#: Fitzgibbon's constraint 4ac - b^2 = 1 on the quadratic part (a, b, c) only
_FITZGIBBON3 = np.array([[0.0, 0.0, 2.0], [0.0, -1.0, 0.0], [2.0, 0.0, 0.0]])


#: exponents (a, b) of x^a y^b in the conic's design row (x^2, xy, y^2, x, y, 1), the 15
#: moments their products need, and which moment each entry of the 6 x 6 scatter matrix is
_ROW_EXP = ((2, 0), (1, 1), (0, 2), (1, 0), (0, 1), (0, 0))
_MOMENTS = tuple(sorted({(a + c, b + d) for a, b in _ROW_EXP for c, d in _ROW_EXP}))
_MOMENT_OF = np.array([[_MOMENTS.index((a + c, b + d)) for c, d in _ROW_EXP] for a, b in _ROW_EXP])
_MOMENT_X = np.array([a for a, _ in _MOMENTS])
_MOMENT_Y = np.array([b for _, b in _MOMENTS])
#: the homothetic kernel's constants: passes, floor, the acceptance rule
_HOMOTHETIC_CONSTS = np.array(
    [
        _ELLIPSE_ITER,
        _FLOOR,
        HOMOTHETIC_MISMATCH_VOXELS,
        ELLIPSE_MISMATCH_FRAC,
        ELLIPSE_MISMATCH_DIST_VOXELS,
        HOMOTHETIC_BOX_TOL_VOXELS,
        _CHOL_MIN_PIVOT_RATIO,
    ],
    dtype=np.float64,
)


def _canonical_stack(stack: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> tuple:
    """The canonical copy of a run of slices (crop to the union box plus an empty in-plane
    ring; of its 16 flips / in-plane transposes the one with the smallest (spacing, shape,
    bytes)), so that a flipped or permuted array gives the very same fit."""
    h_mm = max(spacing_rc)
    sr, sc = spacing_rc[0] / h_mm, spacing_rc[1] / h_mm
    u = stack.any(axis=0)
    nz_r, nz_c = np.flatnonzero(u.any(axis=1)), np.flatnonzero(u.any(axis=0))
    r0, c0 = int(nz_r[0]), int(nz_c[0])
    sub = np.zeros((stack.shape[0], int(nz_r[-1]) - r0 + 3, int(nz_c[-1]) - c0 + 3), dtype=bool)
    sub[:, 1:-1, 1:-1] = stack[:, r0 : int(nz_r[-1]) + 1, c0 : int(nz_c[-1]) + 1]
    heads = {tr: ((sc, sr) if tr else (sr, sc), (sub.shape[2], sub.shape[1]) if tr else sub.shape[1:]) for tr in (False, True)}
    least = min(heads.values())
    best: tuple | None = None
    for tr in (False, True):
        if heads[tr] != least:
            continue
        a = sub.transpose(0, 2, 1) if tr else sub
        # (one byte per voxel: ordered as the bit-packed bytes, see _canonical; flipping all
        # three axes reverses the bytes, so 4 copies give the 8 flips' keys)
        b = {(fr, fc): a[:, :: -1 if fr else 1, :: -1 if fc else 1].tobytes() for fr in (False, True) for fc in (False, True)}
        head = (heads[tr][0], a.shape)
        for fk in (False, True):
            for fr in (False, True):
                for fc in (False, True):
                    key = (*head, b[(not fr, not fc)][::-1] if fk else b[(fr, fc)])
                    if best is None or key < best[0]:
                        best = (key, tr, fk, fr, fc)
    assert best is not None
    _, tr, fk, fr, fc = best
    v = (sub.transpose(0, 2, 1) if tr else sub)[:: -1 if fk else 1, :: -1 if fr else 1, :: -1 if fc else 1]
    return np.ascontiguousarray(v), heads[tr][0], tr, fk, fr, fc, r0, c0, sr, sc, h_mm


def fit_homothetic(stack: NDArray[np.bool_], spacing_rc: tuple[float, float]) -> list[EllipseSection] | None:
    """Ellipses of one shape and orientation, each slice with its own size and centre (the
    sections of any ellipsoid by parallel planes are such homothetic ellipses), fitted to the
    boundary midpoints of all the slices of ``stack`` (n, rows, cols) together; weighted like
    :func:`fit_ellipses`, Fitzgibbon's constraint on the shared quadratic part.  Returns one
    :class:`EllipseSection` per slice, or None unless every slice's ellipse reproduces that
    slice's mask by :func:`fit_ellipses`' rule, slightly relaxed: within its box plus 1.2
    voxel, at most ``HOMOTHETIC_MISMATCH_VOXELS`` + 3 % of its midpoints wrong, each within
    0.2 voxel; every slice needs 6 midpoints (as one slice's fit)."""
    n = stack.shape[0]
    if n < 2 or not stack.any(axis=(1, 2)).all():
        return None
    v, spv, tr, fk, fr, fc, r0, c0, sr, sc, h_mm = _canonical_stack(stack, spacing_rc)
    _, R, C = v.shape
    kernel = _kernels.get("homothetic")
    fit = None
    if kernel is not None:  # the same fit compiled; what it cannot decide as numpy would, numpy does
        status, c_k, a_k, b_k, m_k = kernel(
            v, np.asarray(spv, dtype=np.float64), _HALF_STEP, _STEP_F, _MOMENT_X, _MOMENT_Y, _MOMENT_OF, _HOMOTHETIC_CONSTS
        )
        if status == _kernels.REJECT:
            return None
        if status == _kernels.ACCEPT:
            fit = (c_k, a_k, b_k, m_k)
    if fit is None:
        fit = _homothetic_numpy(v, spv)
        if fit is None:
            return None
    c_all, sa, sb, mj = fit
    if sa[0] - sb[0] <= CIRCLE_AXIS_REL * sa[0]:  # circles (one shape for all): as fit_ellipses
        mj = np.array([1.0, 0.0])
    # back from the canonical frame (as _from_box, all slices at once)
    cen = c_all.copy()
    major = mj.copy()
    if fr:
        cen[:, 0] = (R - 1) * spv[0] - cen[:, 0]
        major[0] = -major[0]
    if fc:
        cen[:, 1] = (C - 1) * spv[1] - cen[:, 1]
        major[1] = -major[1]
    if tr:
        cen = cen[:, ::-1]
        major = major[::-1].copy()
    cen = (cen + np.array([(r0 - 1) * sr, (c0 - 1) * sc])) * h_mm
    out = [EllipseSection(cen[b].copy(), float(sa[b]) * h_mm, float(sb[b]) * h_mm, major) for b in range(n)]
    return out[::-1] if fk else out


def _homothetic_numpy(v: NDArray[np.bool_], spv: tuple[float, float]) -> tuple | None:
    """:func:`fit_homothetic` on the canonical stack ``v``, in numpy (the reference the kernel
    is tested against): ``(centres (n, 2), a (n), b (n), major (2))`` in the canonical frame,
    or None."""
    n, R, C = v.shape
    jm, im, dd, seg = _stack_midpoints(v)
    cnt = np.bincount(seg, minlength=n)
    if cnt.min() < 6:  # as for one slice: a slice of one voxel fixes no shape
        return None
    P0 = (jm + _HALF_STEP_J[dd]) * spv[0]
    P1 = (im + _HALF_STEP_I[dd]) * spv[1]
    m0, m1 = float(P0.mean()), float(P1.mean())
    scale = max(float(np.abs(P0 - m0).max()), float(np.abs(P1 - m1).max()), 1e-12)
    x, y = (P0 - m0) / scale, (P1 - m1) / scale
    ex, ey = _STEP_F[dd, 0] * spv[0] / scale, _STEP_F[dd, 1] * spv[1] / scale
    fl2 = (_FLOOR / scale) ** 2
    # the scatter matrices' entries are weighted moments sum w x^a y^b (a + b <= 4): 15 columns
    # per point instead of the 36 of an outer product
    # (powers x^0..x^4 and y^0..y^4 as columns; x^3 = (x x) x, x^4 = (x x)(x x))
    pw = np.empty((2, len(x), 5))
    pw[:, :, 0] = 1.0
    pw[0, :, 1] = x
    pw[1, :, 1] = y
    np.multiply(pw[:, :, 1], pw[:, :, 1], out=pw[:, :, 2])
    np.multiply(pw[:, :, 2], pw[:, :, 1], out=pw[:, :, 3])
    np.multiply(pw[:, :, 2], pw[:, :, 2], out=pw[:, :, 4])
    mon = pw[0][:, _MOMENT_X] * pw[1][:, _MOMENT_Y]  # (points, 15)
    starts = np.cumsum(cnt) - cnt
    w = None  # (the first pass is unweighted: weights 1)
    with np.errstate(all="ignore"):
        for it in range(_ELLIPSE_ITER + 1):
            S = np.add.reduceat(mon if w is None else mon * w[:, None], starts, axis=0)[:, _MOMENT_OF]  # (n, 6, 6)
            Sll, Slq = S[:, 3:, 3:], S[:, 3:, :3]
            try:
                T = -_la.solve(Sll, Slq)  # per slice: (d, e, f) = T (a, b, c)
                red = S[:, :3, :3].sum(axis=0) + np.einsum("nji,njk->ik", Slq, T)
                ev, V = _la.eig(_la.solve(red, _FITZGIBBON3))
            except np.linalg.LinAlgError:
                return None
            q = _pick(ev, V)
            if q is None:
                return None
            L = T @ q  # (n, 3)
            if it == _ELLIPSE_ITER:
                break
            lj = L[seg]
            gx = (2 * q[0]) * x + q[1] * y + lj[:, 0]
            gy = q[1] * x + (2 * q[2]) * y + lj[:, 1]
            g2 = gx * gx + gy * gy + 1e-300
            var = (gx * ex + gy * ey) ** 2 / g2
            w = 1.0 / ((var + fl2) * g2)
    if not (np.isfinite(q).all() and np.isfinite(L).all()):
        return None
    A2 = np.array([[q[0], q[1] / 2.0], [q[1] / 2.0, q[2]]])
    if _la.det(A2) <= 0.0:
        return None
    lam, vec = _la.eigh(A2)
    cen = _la.solve(-2.0 * A2, L[:, :2].T).T  # (n, 2)
    kq = -(L[:, 2] + 0.5 * (L[:, 0] * cen[:, 0] + L[:, 1] * cen[:, 1]))
    with np.errstate(all="ignore"):
        if not ((kq[:, None] / lam[None, :]) > 0).all():
            return None
        semi = np.sqrt(kq[:, None] / lam[None, :]) * scale  # (n, 2), units of h
    big = 1 if semi[0, 1] > semi[0, 0] else 0  # the same axis is the major one on every slice
    sa, sb = semi[:, big], semi[:, 1 - big]
    mj = vec[:, big] / np.hypot(vec[0, big], vec[1, big])
    mn = np.array([-mj[1], mj[0]])
    c_all = cen * scale + np.array([m0, m1])
    # acceptance, slice by slice, in the canonical frame (as fit_ellipses)
    d0 = np.arange(R)[None, :] * spv[0] - c_all[:, 0:1]  # (n, R)
    d1 = np.arange(C)[None, :] * spv[1] - c_all[:, 1:2]  # (n, C)
    ex_ = np.sqrt((mj[0] * sa) ** 2 + (mn[0] * sb) ** 2)
    ey_ = np.sqrt((mj[1] * sa) ** 2 + (mn[1] * sb) ** 2)
    rows_any, cols_any = v.any(axis=2), v.any(axis=1)
    lo_r = rows_any.argmax(axis=1) - 1
    hi_r = R - rows_any[:, ::-1].argmax(axis=1)
    lo_c = cols_any.argmax(axis=1) - 1
    hi_c = C - cols_any[:, ::-1].argmax(axis=1)
    tol = HOMOTHETIC_BOX_TOL_VOXELS * max(spv)
    if not (
        (c_all[:, 0] - ex_ >= lo_r * spv[0] - tol)
        & (c_all[:, 1] - ey_ >= lo_c * spv[1] - tol)
        & (c_all[:, 0] + ex_ <= hi_r * spv[0] + tol)
        & (c_all[:, 1] + ey_ <= hi_c * spv[1] + tol)
    ).all():
        return None
    d0b, d1b = d0[:, :, None], d1[:, None, :]
    qv = (d0b * mj[0] + d1b * mj[1]) ** 2 / (sa * sa)[:, None, None] + (d0b * mn[0] + d1b * mn[1]) ** 2 / (sb * sb)[:, None, None]
    wrong = (qv <= 1.0) ^ v
    nwrong = wrong.reshape(n, -1).sum(axis=1)
    if (nwrong > HOMOTHETIC_MISMATCH_VOXELS + ELLIPSE_MISMATCH_FRAC * cnt).any():
        return None
    if nwrong.any():
        wb, wj, wi = _nonzero3(wrong)
        rr = np.hypot(d0[wb, wj], d1[wb, wi])
        dist = np.abs(rr - rr / np.sqrt(np.maximum(qv[wb, wj, wi], 1e-300)))
        if dist.max() > ELLIPSE_MISMATCH_DIST_VOXELS * max(spv):
            return None
    return c_all, sa, sb, mj

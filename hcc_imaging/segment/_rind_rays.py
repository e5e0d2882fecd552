"""Step 13's rays (step 2 of :mod:`._rind`; private): from the dark core's centroid, along the ``LESION_RIND_RAYS``
directions, a core -> layer -> parenchyma profile under one blur, each ray's inner and outer edge found by an exact
grid search, the values N, R, P and the blur shared by all rays; the start the surfaces' fit needs (the fit is local).

Moved out of :mod:`._rind` unchanged (session of 2026-12-07, sixth; the same values bit for bit), with the fit's
stop signal (:class:`_Stopped`, :func:`_check`) that every stage of the fit reads.  :mod:`._rind` re-exports these
names, which tests and benchmarks read there.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.special import ndtr

from . import _kernels, _rind_split
from . import constants as C
from ._morph import bbox
from ._rind_setup import _rind_kernels


class _Stopped(Exception):
    """:func:`._rind.rind_border` was told to stop (its ``stop`` event set): its result is not wanted."""


def _check(stop: threading.Event | None) -> None:
    """Raise :class:`_Stopped` when ``stop`` is set (read between :func:`._rind.rind_border`'s stages)."""
    if stop is not None and stop.is_set():
        raise _Stopped


def _ray_directions(nth: int = C.LESION_RIND_RAYS[0], nph: int = C.LESION_RIND_RAYS[1]) -> NDArray[np.float64]:
    """The rays' unit directions (``nth`` polar x ``nph`` azimuthal x 3, in z, y, x order)."""
    th = (np.arange(nth) + 0.5) / nth * np.pi
    ph = np.arange(nph) / nph * 2 * np.pi
    t, p = np.meshgrid(th, ph, indexing="ij")
    return np.stack([np.cos(t), np.sin(t) * np.sin(p), np.sin(t) * np.cos(p)], -1)


def _arc_median(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """A 3 x 3 median over the directions (the azimuth wraps around)."""
    nph = a.shape[1]
    padded = np.concatenate([a[:, -1:], a, a[:, :1]], 1)
    return ndimage.median_filter(padded, size=(3, 3), mode="nearest")[:, 1:1 + nph]  # type: ignore[no-any-return]


def _edge_search(terms: tuple[NDArray[np.float64], ...], n: float, rv: float, p: float, valid: NDArray[np.bool_],
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Step 2's exact grid search of each ray's edges: the residual of every (inner, outer) pair of
    ``valid`` from the ramps' ``terms`` (:func:`_fit_rays`' ``edge_terms``) with the values N = ``n``,
    R = ``rv``, P = ``p``; returns each ray's first least residual's flat index (inner x the outer
    edges + outer) and that residual.  By the compiled ``ray_edge_search`` (the same operations per
    element, bit for bit; one pass instead of six passes over a 512 x 21 x 49 grid) when the kernels
    are on."""
    dd, aa, bb, da, db, ab = terms
    # the scalar factors as the numpy expression forms them (left to right, before the arrays)
    c_bb, c_aa, c_db, c_da, c_ab = (rv - p) ** 2, (n - rv) ** 2, 2 * (rv - p), 2 * (n - rv), 2 * (rv - p) * (n - rv)
    m = _kernels.compiled()
    # each inner edge's valid outer edges as one run [o_lo, o_hi) (the kernel's; step 13's band is)
    o_lo = valid.argmax(1)
    o_hi = np.where(valid.any(1), o_lo + valid.sum(1), o_lo)
    runs = valid.shape[1] > 0 and np.array_equal(valid, (np.arange(valid.shape[1]) >= o_lo[:, None])
                                                  & (np.arange(valid.shape[1]) < o_hi[:, None]))
    if m is not None and runs and all(t.dtype == np.float64 for t in terms):
        args = [np.require(t, requirements="CW") for t in terms]
        return m.ray_edge_search(*args, o_lo.astype(np.int64), o_hi.astype(np.int64),  # type: ignore[no-any-return]
                                 float(c_bb), float(c_aa), float(c_db), float(c_da), float(c_ab))
    sse = (dd[:, None, None] + c_bb * bb[:, None, :] + c_aa * aa[:, :, None]
           + c_db * db[:, None, :] + c_da * da[:, :, None] + c_ab * ab)
    sse = np.where(valid[None], sse, np.inf).reshape(len(dd), -1)
    best = sse.argmin(-1)
    return best, sse[np.arange(len(dd)), best]


def _fit_rays(img: NDArray[np.float64], core: NDArray[np.bool_], sp: NDArray[np.float64], n0: float, p0: float,
              stop: threading.Event | None = None, pool: Executor | None = None,
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[float, float, float], float]:
    """Step 2: the core's centroid (voxels), each ray's inner and outer edge (mm from it), the
    shared values (N, R, P) and the blur of ``LESION_RIND_RAY_BLURS_MM`` they were fitted with (mm).
    ``stop``: :func:`rind_border`'s (read before each round).  ``pool``: an idle executor the rays'
    independent work is split onto (:mod:`._rind_split`: the same values)."""
    fast = _rind_kernels()
    nth, nph = C.LESION_RIND_RAYS
    step, t_max = C.LESION_RIND_RAY_STEP_MM, C.LESION_RIND_MAX_LAYER_MM
    # the centroid: the core voxels' indices summed exactly (integers), as ``ndimage.center_of_mass``
    # gives it bit for bit (2026-12-06, second: without its three float products of the whole box)
    # (the indices listed on the core's bounding box and shifted: the same rows in the same order
    # as on the whole ~0.75 M-voxel box, whose listing was ~2 ms; session of 2026-12-07, second)
    bb = bbox(core)
    if bb is None:
        at = np.argwhere(core)
    else:
        at = np.argwhere(core[tuple(slice(int(a0), int(a1)) for a0, a1 in zip(bb[0], bb[1], strict=True))]) + bb[0]
    c = at.sum(0).astype(np.float64) / float(at.shape[0])
    u_dir = _ray_directions()
    # the rays reach the farthest core voxel, the thickest layer and the window beyond it
    far = float(np.linalg.norm((at - c) * sp, axis=1).max())
    r = np.arange(0.0, far + t_max + 4.0, step)
    coords = (c[None, None, None, :] + u_dir[:, :, None, :] * (r[None, None, :, None] / sp)).reshape(-1, 3).T
    sampled = None if pool is None else pool.submit(ndimage.map_coordinates, img, coords, order=1, mode="nearest")
    inc = ndimage.map_coordinates(core.astype(np.uint8), coords, order=0, mode="constant").reshape(nth, nph, r.size) > 0
    prof = (ndimage.map_coordinates(img, coords, order=1, mode="nearest") if sampled is None
            else sampled.result()).reshape(nth, nph, r.size)
    exit_j = np.minimum(r.size - np.argmax(inc[..., ::-1], axis=-1), r.size - 1)  # the core's last exit
    rc = r[exit_j]
    n, p = n0, p0
    layer = (r > rc[..., None]) & (r <= rc[..., None] + 3.0)
    rv = float(np.percentile(prof[layer], 90)) if layer.any() else p0
    w = 1.0

    # a ray crossing the layer obliquely sees it wider: its blur is the point-spread along the
    # surface's normal (from the exit radii) over cos(ray, normal); along the normal, the slice's
    # thickness adds its box (variance (n_z dz)^2 / 12) and the rays' linear interpolation between
    # slices a triangle ((n_z dz)^2 / 6): (n_z dz)^2 / 4 in all (1.27; docs/validation.md section 2.2,
    # "Algorithm 1.27")
    surf = _arc_median(rc)[..., None] * u_dir
    d_th = np.gradient(surf, axis=0)
    d_ph = (np.roll(surf, -1, axis=1) - np.roll(surf, 1, axis=1)) / 2.0
    normal = np.cross(d_th, d_ph)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    cos_a = np.clip(np.abs((normal * u_dir).sum(-1)), 0.3, 1.0)
    slab_var = (normal[..., 0] * sp[0]) ** 2 / 4.0

    def ray_blur(w: float) -> NDArray[np.float64]:
        return np.sqrt(w * w + slab_var) / cos_a  # type: ignore[no-any-return]

    # the edges' offsets from the core's exit (mm): the inner ones are the outer ones' first 21 (the
    # same values bit for bit, so that the inner ramps' table is the outer's first columns)
    d_outer = np.arange(-2.5, 2.5 + t_max + 0.01, 0.25)
    d_inner = d_outer[d_outer <= 2.5 + 1e-9]
    win = (r >= rc[..., None] - 4.0) & (r <= rc[..., None] + t_max + 2.0)

    def window_samples() -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        # the windows' samples (row-major, as ``prof[win]``): their ray, their sample and their value
        k_w, j_w = np.nonzero(win.reshape(nth * nph, -1))
        return k_w, j_w, prof[win]

    windowed = None if pool is None else pool.submit(window_samples)
    # each ray's window as a fixed-length run of samples (zero weight outside the window)
    k_rays = nth * nph
    n_win = int(np.ceil((6.0 + t_max) / step)) + 2
    j0 = np.clip(np.ceil((rc.reshape(-1) - 4.0) / step - 1e-9).astype(int), 0, r.size - 1)
    jj = j0[:, None] + np.arange(n_win)[None, :]
    ok = jj < r.size
    jj = np.minimum(jj, r.size - 1)
    rows = np.arange(k_rays)[:, None]
    pw = prof.reshape(k_rays, -1)[rows, jj]
    mw = (ok & win.reshape(k_rays, -1)[rows, jj]).astype(np.float64)
    rcf = rc.reshape(-1)
    lags_kj = exit_j.reshape(-1)[:, None] - jj  # whole steps from each window sample to the exit
    lag = np.arange(lags_kj.min(), lags_kj.max() + 1)
    lag_idx = lags_kj - lag[0]
    thick = d_outer[None, :] - d_inner[:, None]
    valid = (thick >= -1e-9) & (thick <= t_max + 1e-9)
    # each inner edge's valid outer edges as one run [o_lo, o_hi) (the compiled grid's)
    o_lo = valid.argmax(1).astype(np.int64)
    o_hi = np.where(valid.any(1), o_lo + valid.sum(1), o_lo).astype(np.int64)
    runs = bool(np.array_equal(valid, (np.arange(valid.shape[1]) >= o_lo[:, None])
                               & (np.arange(valid.shape[1]) < o_hi[:, None])))

    ramps: dict[float, tuple[NDArray[np.float64], ...]] = {}

    def edge_terms(p: float, w: float) -> tuple[NDArray[np.float64], ...]:
        # SSE(i, o) = sum d^2 + (R-P)^2 sum B^2 + (N-R)^2 sum A^2 + 2 (R-P) sum dB + 2 (N-R) sum dA
        # + 2 (R-P)(N-R) sum AB, d = P - value, A = Phi((i - r) / w), B = Phi((o - r) / w); Phi of
        # (exit - sample + offset) / w from a table: exit - sample is a whole number of steps.  The
        # ramps' terms depend on the blur alone and are kept for the next call with it (the loop
        # below mostly stays on one blur; the inner edges' table is the outer's first columns).
        # 2026-12-06: the table has a row per ray blur rounded to LESION_RIND_RAY_TABLE_STEP (relative),
        # not per ray: the 512 rays share a few tens of them (Phi of ~0.1 M values, not 1.05 M)
        if w not in ramps:
            q = np.log1p(C.LESION_RIND_RAY_TABLE_STEP)
            levels, which = np.unique(np.round(np.log(ray_blur(w).reshape(-1)) / q), return_inverse=True)
            tb = ndtr((lag[None, :, None] * step + d_outer[None, None, :]) / np.exp(levels * q)[:, None, None])
            ta = tb[:, :, :d_inner.size]
            if fast is not None:
                # (2026-12-06, second: the gathers, products and sums of squares in one compiled pass, the
                # ramps C-contiguous for the products below)
                # (2026-12-06, seventh: by halves of the rays on two threads with ``pool``, the same values)
                ramps[w] = _rind_split.ray_ramps(fast, tb, which.reshape(-1).astype(np.int64), lag_idx, mw,
                                                 d_inner.size, pool)
            else:
                at = which.reshape(-1, 1)
                a = ta[at, lag_idx].transpose(0, 2, 1) * mw[:, None, :]
                b = tb[at, lag_idx].transpose(0, 2, 1) * mw[:, None, :]
                ramps[w] = (a, b, (a * a).sum(-1), (b * b).sum(-1), np.matmul(a, b.transpose(0, 2, 1)))
        a, b, aa, bb, ab = ramps[w]
        d = (p - pw) * mw
        if fast is not None:
            # (the window sums of d times each ramp as products, C-contiguous: a third of einsum's time)
            return ((d * d).sum(-1), aa, bb, np.matmul(a, d[:, :, None])[..., 0], np.matmul(b, d[:, :, None])[..., 0], ab)
        return ((d * d).sum(-1), aa, bb, np.einsum("kj,kaj->ka", d, a), np.einsum("kj,kbj->kb", d, b), ab)

    def per_ray(n: float, rv: float, p: float, terms: tuple[NDArray[np.float64], ...],
                ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        best, sse = _rind_split.edge_search(_edge_search, terms, n, rv, p, valid, pool)
        ia, ib = np.unravel_index(best, valid.shape)
        return (float(sse.sum()), (rcf + d_inner[ia]).reshape(nth, nph), (rcf + d_outer[ib]).reshape(nth, nph))

    terms = edge_terms(p, w)
    grid = rv + np.arange(0.0, 61.0, 5.0)
    if fast is not None and runs:
        # (2026-12-06, second: the grid in one compiled pass, the same residuals to rounding)
        totals = _rind_split.grid_sse(fast, terms, o_lo, o_hi, n, grid, p, pool)
    else:
        totals = np.array([per_ray(n, g, p, terms)[0] for g in grid])
    rv = float(grid[int(np.argmin(totals))])
    k_win, j_win, p_win = window_samples() if windowed is None else windowed.result()

    # per blur, the last round's distances and their Phi: a round moves few rays' edges, and Phi is
    # evaluated again only where a distance changed (bit for bit: the same argument gives the same value)
    last_phi: dict[float, tuple[NDArray[np.float64], ...]] = {}

    def phi_at(ww: float, di: NDArray[np.float64], do: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Phi of the windows' samples' distances ``di``, ``do`` over the rays' blur at ``ww``."""
        wr = ray_blur(ww).reshape(-1)[k_win]
        if ww not in last_phi:
            a, b = ndtr(di / wr), ndtr(do / wr)
        else:
            di0, do0, a0, b0 = last_phi[ww]
            a, b = a0.copy(), b0.copy()
            for dist, dist0, out in ((di, di0, a), (do, do0, b)):
                moved = dist.view(np.int64) != dist0.view(np.int64)
                out[moved] = ndtr(dist[moved] / wr[moved])
        last_phi[ww] = (di, do, a, b)
        return a, b

    def values_at(ww: float, di: NDArray[np.float64], do: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """The rays' residual and (N, R, P) by least squares on the windows' samples, ``di`` and
        ``do`` their distances (mm) inside the inner and the outer edge, with the blur ``ww`` (Phi
        on the windows' samples alone)."""
        if fast is not None:
            # (2026-12-06, second: Phi where a distance moved, the normal equations and the residual in
            # one compiled pass)
            fresh = ww not in last_phi
            if fresh:
                last_phi[ww] = (di, do, np.empty_like(di), np.empty_like(do), np.ascontiguousarray(ray_blur(ww).reshape(-1)[k_win]))
            di0, do0, xa, xb, wr = last_phi[ww]
            sse, coef = fast.ray_values(di, do, wr, p_win, di0, do0, xa, xb, fresh)
            last_phi[ww] = (di, do, xa, xb, wr)
            return float(sse), coef
        a, b = phi_at(ww, di, do)
        x = np.stack([a, b - a, 1 - b], 1)
        coef = np.linalg.solve(x.T @ x + 1e-9 * np.eye(3), x.T @ p_win)
        return float(((x @ coef - p_win) ** 2).sum()), coef

    for _ in range(4):
        _check(stop)
        _, bi, bo = per_ray(n, rv, p, edge_terms(p, w))
        di, do = bi.reshape(-1)[k_win] - r[j_win], bo.reshape(-1)[k_win] - r[j_win]
        # the blur with the least residual (the first of equals), and its values (every other blur's
        # on ``pool``: each blur's values and Phi are its own)
        blurs = C.LESION_RIND_RAY_BLURS_MM
        later = [] if pool is None else [pool.submit(values_at, ww, di, do) for ww in blurs[1::2]]
        here = [values_at(ww, di, do) for ww in (blurs if pool is None else blurs[0::2])]
        vals = here if pool is None else [v for pair in zip(here, [f.result() for f in later]) for v in pair] + here[len(later):]
        w, (_, (n, rv, p)) = min(zip(blurs, vals), key=lambda t: t[1][0])
    return c, _arc_median(bi), _arc_median(bo), (float(n), float(rv), float(p)), float(w)

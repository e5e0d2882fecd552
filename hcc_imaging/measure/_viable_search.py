"""The search of the mRECIST viable-diameter rule (:mod:`.viable`, where the rule is stated): the
longest valid segment between viable voxel centres on a slice, fast (:func:`_longest_valid`: the
slices' bounds, candidate cells, probes and sampled segments, compiled kernels) and by exhaustive
reference (:func:`_longest_valid_reference`, for tests and benchmarks); and :func:`fill_short_gaps`,
the gap rule on sampled runs, which the short axis uses too.  Every public name here is importable
from :mod:`.viable`."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _hull, _kernels
from .constants import VIABLE_SAMPLE_STEP_VOXELS


def fill_short_gaps(good: NDArray[np.bool_], max_run: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    """Mark as good every run of bad samples (along the last axis) bounded by good samples on
    both sides and at most ``max_run`` samples long (``max_run`` per row or scalar)."""
    g = np.asarray(good, dtype=bool)
    n = g.shape[-1]
    pos = np.broadcast_to(np.arange(n), g.shape)
    last_good = np.maximum.accumulate(np.where(g, pos, -1), axis=-1)
    next_good = np.flip(np.minimum.accumulate(np.flip(np.where(g, pos, n), axis=-1), axis=-1), axis=-1)
    run = next_good - last_good - 1
    mr = np.asarray(max_run, dtype=np.float64)
    if mr.ndim:
        mr = mr.reshape(mr.shape + (1,) * (g.ndim - mr.ndim))
    fill = (~g) & (last_good >= 0) & (next_good < n) & (run <= mr + 1e-9)
    return g | fill


def _boundary(v: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Viable voxels with a non-viable 4-neighbour in their slice (crop border = outside)."""
    e = v.copy()
    e[:, 1:, :] &= v[:, :-1, :]
    e[:, :-1, :] &= v[:, 1:, :]
    e[:, :, 1:] &= v[:, :, :-1]
    e[:, :, :-1] &= v[:, :, 1:]
    e[:, 0, :] = False
    e[:, -1, :] = False
    e[:, :, 0] = False
    e[:, :, -1] = False
    return v & ~e


def _valid_segments(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    lengths: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
) -> NDArray[np.bool_]:
    """Validity of segments p->q (index coords (j, i), shape (P, 2)) on one slice.

    Each segment is sampled at ``n = ceil(L / step) + 1`` evenly spaced points of its own (so
    the verdict does not depend on which other segments are checked with it).
    """
    n_pair = np.maximum(np.ceil(lengths / step_mm - 1e-9).astype(np.int64) + 1, 2)
    n = int(n_pair.max())
    t = np.minimum(np.arange(n)[None, :] / (n_pair[:, None] - 1.0), 1.0)
    jj = np.rint(p[:, None, 0] + t * (q[:, None, 0] - p[:, None, 0])).astype(np.int64)
    ii = np.rint(p[:, None, 1] + t * (q[:, None, 1] - p[:, None, 1])).astype(np.int64)
    np.clip(jj, 0, vslice.shape[0] - 1, out=jj)
    np.clip(ii, 0, vslice.shape[1] - 1, out=ii)
    good = vslice[jj, ii]
    seg_step = np.where(lengths > 0, lengths / (n_pair - 1), 1.0)
    max_run = np.floor(gap_mm / seg_step + 1e-9)
    return fill_short_gaps(good, max_run).all(axis=1)


def _deep_non_viable(
    vslice: NDArray[np.bool_], spacing_rc: tuple[float, float], step_mm: float, gap_mm: float
) -> NDArray[np.bool_] | None:
    """Non-viable voxels so far from any viable voxel that a segment sampled there is invalid.

    If every voxel centre within ``r`` of voxel v is non-viable, the samples of a segment whose
    nearest voxel is v, and all samples within ``r - 2 h`` of it (h = half the voxel
    diagonal), have non-viable nearest voxels: a run of at least ``2 (r - 2 h) - step`` mm.
    With ``r > gap/2 + step + 2 h`` that run exceeds the gap tolerance, so the segment is
    invalid.  Used only to reject candidates early; the full check decides the rest.
    """
    if vslice.all():
        return None
    from scipy import ndimage

    h = 0.5 * float(np.hypot(*spacing_rc))
    r_deep = gap_mm / 2.0 + step_mm + 2.0 * h + 1e-6
    dist = ndimage.distance_transform_edt(~vslice, sampling=spacing_rc)
    deep = np.asarray(dist > r_deep)
    return deep if deep.any() else None


def _longest_valid_reference(
    v: NDArray[np.bool_], spacing: tuple[float, float, float], gap_voxels: float
) -> tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None:
    """The original exhaustive search (every pair of boundary voxels of a slice, longest first).

    Kept as the executable definition of the rule: :func:`_longest_valid` must return exactly
    the same slice, endpoints and length (property-tested).  Slow: O(B^2) pairs per slice.
    """
    sr, sc = spacing[1], spacing[2]
    step_mm = VIABLE_SAMPLE_STEP_VOXELS * min(sr, sc)
    gap_mm = gap_voxels * max(sr, sc)
    hulls = _hull.slice_hulls(v)
    if len(hulls.k) == 0:
        return None
    st = hulls.starts[:-1]
    u = hulls.j * sr
    w = hulls.i * sc
    cu = (np.minimum.reduceat(u, st) + np.maximum.reduceat(u, st)) / 2.0
    cw = (np.minimum.reduceat(w, st) + np.maximum.reduceat(w, st)) / 2.0
    grp = np.repeat(np.arange(len(st)), np.diff(hulls.starts))
    upper = 2.0 * np.maximum.reduceat(np.hypot(u - cu[grp], w - cw[grp]), st)
    order = np.argsort(-upper, kind="stable")
    bnd = _boundary(v)
    best: tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None = None
    best_len = -1.0
    for pos in order:
        if upper[pos] < best_len - 1e-9:
            break
        k = int(hulls.slices[pos])
        jj, ii = np.nonzero(bnd[k])
        if len(jj) == 1:
            cand = (k, np.array([jj[0], ii[0]], float), np.array([jj[0], ii[0]], float), 0.0)
            if 0.0 > best_len or (0.0 == best_len and best is not None and k < best[0]):
                best, best_len = cand, 0.0
            continue
        a, b = np.triu_indices(len(jj), k=1)
        d = np.hypot((jj[a] - jj[b]) * sr, (ii[a] - ii[b]) * sc)
        keep = d >= best_len - 1e-9
        a, b, d = a[keep], b[keep], d[keep]
        if len(d) == 0:
            continue
        srt = np.argsort(-d, kind="stable")
        a, b, d = a[srt], b[srt], d[srt]
        pts = np.stack([jj, ii], axis=1).astype(np.float64)
        deep = _deep_non_viable(v[k], (sr, sc), step_mm, gap_mm)
        for s in range(0, len(d), 4096):
            aa, bb, dd = a[s : s + 4096], b[s : s + 4096], d[s : s + 4096]
            if deep is not None:  # cheap rejection: 9 samples falling deep in necrosis
                t = np.linspace(0.1, 0.9, 9)
                pj = np.rint(pts[aa, None, 0] + t * (pts[bb, None, 0] - pts[aa, None, 0])).astype(np.int64)
                pi = np.rint(pts[aa, None, 1] + t * (pts[bb, None, 1] - pts[aa, None, 1])).astype(np.int64)
                alive = ~deep[pj, pi].any(axis=1)
                aa, bb, dd = aa[alive], bb[alive], dd[alive]
            found = False
            for s2 in range(0, len(dd), 512):
                a2, b2, d2 = aa[s2 : s2 + 512], bb[s2 : s2 + 512], dd[s2 : s2 + 512]
                ok = _valid_segments(v[k], pts[a2], pts[b2], d2, step_mm, gap_mm)
                hit = np.flatnonzero(ok)
                if len(hit):
                    h = int(hit[0])
                    length = float(d2[h])
                    if length > best_len + 1e-9 or (abs(length - best_len) <= 1e-9 and best is not None and k < best[0]):
                        best, best_len = (k, pts[a2[h]], pts[b2[h]], length), length
                    found = True
                    break
            if found:
                break
    return best


#: Points of a candidate segment probed against the deep-necrosis mask before the full check,
#: as fractions (numerator, denominator) of the way from p to q; integer arithmetic.
_PROBES: tuple[tuple[int, int], ...] = ((1, 2), (1, 4), (3, 4), (1, 8), (3, 8), (5, 8), (7, 8))


#: Probe points of a pair of cells (:func:`_cell_pairs`): fewer, the cell pairs are many.
_CELL_PROBES: tuple[tuple[int, int], ...] = ((1, 2), (1, 4), (3, 4))


#: Samples around the middle of a candidate segment checked exactly before the full check.
_MID_WINDOW_SAMPLES: int = 6


def _deep_box(
    v: NDArray[np.bool_], spacing_rc: tuple[float, float], step_mm: float, gap_mm: float, extra_mm: float = 0.0
) -> NDArray[np.bool_]:
    """Non-viable voxels with no viable voxel in the in-plane box of half-widths
    ``floor(r / spacing)`` (all slices at once; two 1-D maximum filters).

    The box contains the disc of radius ``r = gap/2 + step + 2 h`` (h = half the voxel
    diagonal), so every voxel marked here is also deep for :func:`_deep_non_viable` - a subset,
    hence conservative by the same argument: a segment passing within h of such a voxel has a
    run of non-viable samples longer than the gap tolerance.  With ``extra_mm`` > 0 the box
    grows by ``ceil(extra / spacing)`` voxels per side, so a marked voxel has no viable voxel
    within ``r + extra``: a segment passing within ``h + extra`` of it is invalid (in that
    argument, with the point x on the segment and the marked voxel v at ``|x - v| <= delta``,
    the samples within ``r + extra - h - delta`` of x are non-viable).
    """
    from scipy import ndimage

    h = 0.5 * float(np.hypot(*spacing_rc))
    r_deep = gap_mm / 2.0 + step_mm + 2.0 * h + 1e-6
    nj = int(np.floor(r_deep / spacing_rc[0])) + int(np.ceil(extra_mm / spacing_rc[0]))
    ni = int(np.floor(r_deep / spacing_rc[1])) + int(np.ceil(extra_mm / spacing_rc[1]))
    near = ndimage.maximum_filter1d(v.view(np.uint8), 2 * nj + 1, axis=1, mode="constant", cval=0)
    near = ndimage.maximum_filter1d(near, 2 * ni + 1, axis=2, mode="constant", cval=0)
    return near == 0


def _deep_slice(
    vk: NDArray[np.bool_],
    spacing_rc: tuple[float, float],
    step_mm: float,
    gap_mm: float,
    extras_mm: tuple[float, ...] = (0.0,),
) -> list[NDArray[np.bool_]]:
    """:func:`_deep_box` of a slice (H, W) or a stack of slices (S, H, W), for each of
    ``extras_mm``; same result, less work: filtered only over the viable voxels' in-plane
    bounding box plus the largest box half-widths (everything farther is deep), and with square
    pixels all boxes come from one chessboard distance transform (no viable voxel within the box
    of half-width n  <=>  chessboard distance to the nearest viable voxel > n)."""
    from scipy import ndimage

    h = 0.5 * float(np.hypot(*spacing_rc))
    r_deep = gap_mm / 2.0 + step_mm + 2.0 * h + 1e-6
    half = [
        (int(np.floor(r_deep / spacing_rc[0])) + int(np.ceil(e / spacing_rc[0])),
         int(np.floor(r_deep / spacing_rc[1])) + int(np.ceil(e / spacing_rc[1])))
        for e in extras_mm
    ]
    nj_max, ni_max = max(x[0] for x in half), max(x[1] for x in half)
    stack = vk if vk.ndim == 3 else vk[None]
    rows = np.flatnonzero(stack.any(axis=(0, 2)))
    cols = np.flatnonzero(stack.any(axis=(0, 1)))
    outs = [np.ones(stack.shape, dtype=bool) for _ in half]
    if len(rows):
        r0, r1 = max(int(rows[0]) - nj_max, 0), min(int(rows[-1]) + nj_max + 1, stack.shape[1])
        c0, c1 = max(int(cols[0]) - ni_max, 0), min(int(cols[-1]) + ni_max + 1, stack.shape[2])
        crop = stack[:, r0:r1, c0:c1]
        if all(nj == ni for nj, ni in half) and len(half) > 1:
            plane = np.zeros((3, 3, 3), dtype=bool)
            plane[1] = True  # chessboard distance within each slice only
            dist = ndimage.distance_transform_cdt(~crop, metric=plane)
            for out, (nj, _) in zip(outs, half, strict=True):
                out[:, r0:r1, c0:c1] = dist > nj
        else:
            for out, e in zip(outs, extras_mm, strict=True):
                out[:, r0:r1, c0:c1] = _deep_box(crop, spacing_rc, step_mm, gap_mm, e)
    return outs if vk.ndim == 3 else [o[0] for o in outs]


def _probe_alive(
    deep: NDArray[np.bool_],
    ja: NDArray[np.int64],
    ia: NDArray[np.int64],
    jb: NDArray[np.int64],
    ib: NDArray[np.int64],
    sl: NDArray[np.int64] | None = None,
) -> NDArray[np.bool_]:
    """False for segments with a probe point whose nearest voxel is deep in necrosis.

    The point ``x = a + (num/den)(b - a)`` is rounded half up per axis to a voxel v, so
    ``|x - v| <= h``; with ``deep[v]`` every sample of the segment within ``r - 2 h`` of x is
    non-viable (see :func:`_deep_non_viable`), a run longer than the gap tolerance: the segment
    is invalid.  Conservative whatever the probe positions.  ``deep`` is one slice (H, W), or a
    stack (S, H, W) with ``sl`` the slice of each segment.
    """
    n_row, n_col = deep.shape[-2], deep.shape[-1]
    flat = deep.ravel()
    base = np.zeros(len(ja), np.int64) if sl is None else sl * (n_row * n_col)
    alive_idx = np.arange(len(ja))
    for num, den in _PROBES:
        if len(alive_idx) == 0:
            break
        a0, a1, b0, b1 = ja[alive_idx], ia[alive_idx], jb[alive_idx], ib[alive_idx]
        rj = (2 * ((den - num) * a0 + num * b0) + den) // (2 * den)
        ri = (2 * ((den - num) * a1 + num * b1) + den) // (2 * den)
        alive_idx = alive_idx[~flat[base[alive_idx] + rj * n_col + ri]]
    out = np.zeros(len(ja), dtype=bool)
    out[alive_idx] = True
    return out


def _n_samples(lengths: NDArray[np.float64], step_mm: float) -> NDArray[np.int64]:
    """The rule's number of samples of segments of these lengths (as :func:`_valid_segments`)."""
    return np.maximum(np.ceil(lengths / step_mm - 1e-9).astype(np.int64) + 1, 2)


def _gap_runs(lengths: NDArray[np.float64], n_pair: NDArray[np.int64], gap_mm: float) -> NDArray[np.int64]:
    """Longest tolerated run of non-viable samples of each segment."""
    seg_step = np.where(lengths > 0, lengths / (n_pair - 1), 1.0)
    return np.floor(gap_mm / seg_step + 1e-9).astype(np.int64)


def _sample_cols(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    n_pair: NDArray[np.int64],
    cols: NDArray[np.int64],
    sl: NDArray[np.int64] | None,
) -> NDArray[np.bool_]:
    """Viability of samples ``cols`` (P, W) of segments p->q, with exactly the float operations
    of :func:`_valid_segments` (``t = c / (n - 1)``, ``rint(p + t (q - p))``)."""
    t = cols / (n_pair[:, None] - 1.0)
    jj = np.rint(p[:, None, 0] + t * (q[:, None, 0] - p[:, None, 0])).astype(np.int64)
    ii = np.rint(p[:, None, 1] + t * (q[:, None, 1] - p[:, None, 1])).astype(np.int64)
    n_row, n_col = vslice.shape[-2], vslice.shape[-1]
    np.clip(jj, 0, n_row - 1, out=jj)
    np.clip(ii, 0, n_col - 1, out=ii)
    flat_idx = jj * n_col + ii
    if sl is not None:
        flat_idx += (sl * (n_row * n_col))[:, None]
    return vslice.ravel()[flat_idx]


def _samples(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    lengths: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
    window: int | None = None,
    sl: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Viability of the rule's sample points of segments p->q and each segment's gap tolerance.

    The sample coordinates are computed with exactly the float operations of
    :func:`_valid_segments` (``t = c / (n - 1)``, ``rint(p + t (q - p))``), so the verdicts are
    identical.  ``window`` restricts to that many samples centred on the middle of each segment
    (clipped to its ends).  ``vslice`` is one slice (H, W), or a stack (S, H, W) with ``sl`` the
    slice of each segment.  Returns ``(good (P, W), max_run (P,))``.
    """
    n_pair = _n_samples(lengths, step_mm)
    if window is None:
        cols = np.minimum(np.arange(int(n_pair.max()))[None, :], (n_pair - 1)[:, None])
    else:
        c0 = (n_pair - 1) // 2 - window // 2
        cols = np.clip(c0[:, None] + np.arange(window)[None, :], 0, (n_pair - 1)[:, None])
    return _sample_cols(vslice, p, q, n_pair, cols, sl), _gap_runs(lengths, n_pair, gap_mm)


def _has_long_bad_run(good: NDArray[np.bool_], max_run: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Rows with more than ``max_run`` consecutive False values (per row)."""
    bad = ~good
    out = np.zeros(len(good), dtype=bool)
    width = good.shape[1]
    for m in np.unique(max_run):
        run = int(m) + 1
        if run > width:
            continue
        rows = np.flatnonzero(max_run == m)
        b = bad[rows]
        acc = b[:, : width - run + 1].copy()
        for s in range(1, run):
            acc &= b[:, s : s + width - run + 1]
        out[rows] = acc.any(axis=1)
    return out


def _valid_segments_fast(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    lengths: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
    sl: NDArray[np.int64] | None = None,
) -> NDArray[np.bool_]:
    """Same verdicts as :func:`_valid_segments` for segments between viable voxel centres.

    Both ends are viable samples, so every run of non-viable samples is bounded by viable ones
    and the segment is valid iff no run is longer than its gap tolerance (no gap filling needed).
    The samples are read in blocks of :data:`_SAMPLE_BLOCK` along the segments, a segment
    dropped at its first too-long run (each block overlaps the previous one by the longest
    tolerated run, so a run across two blocks is seen whole): the same verdicts, without the
    samples of the segments already rejected (most of them, on a patchy viable mask).
    """
    n_pair = _n_samples(lengths, step_mm)
    max_run = _gap_runs(lengths, n_pair, gap_mm)
    n_max = int(n_pair.max()) if len(n_pair) else 0
    kernel = _kernels.get("valid_segments") if len(n_pair) > _KERNEL_MIN_PAIRS else None
    if kernel is not None:  # compiled: one sample at a time, each segment stopped at its first long run
        n_row, n_col = vslice.shape[-2], vslice.shape[-1]
        base = np.zeros(len(n_pair), np.int64) if sl is None else np.asarray(sl, np.int64) * (n_row * n_col)
        return np.asarray(kernel(np.ascontiguousarray(vslice).ravel(), n_row, n_col,
                                 np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1]),
                                 np.ascontiguousarray(q[:, 0]), np.ascontiguousarray(q[:, 1]),
                                 n_pair, max_run, base))
    if len(n_pair) * n_max <= _ONE_SHOT_SAMPLES:  # few samples: all at once (less overhead)
        cols = np.minimum(np.arange(n_max)[None, :], (n_pair - 1)[:, None])
        return ~_has_long_bad_run(_sample_cols(vslice, p, q, n_pair, cols, sl), max_run)
    ok = np.ones(len(n_pair), dtype=bool)
    over = int(max_run.max()) if len(max_run) else 0
    alive = np.arange(len(n_pair))
    c0 = 0
    while c0 < n_max and len(alive):
        alive = alive[n_pair[alive] > c0]  # (a segment whose samples are all read is valid)
        if len(alive) == 0:
            break
        lo = max(c0 - over, 0)
        c1 = min(c0 + _SAMPLE_BLOCK, n_max)
        na = n_pair[alive]
        cols = np.minimum(np.arange(lo, c1)[None, :], (na - 1)[:, None])
        good = _sample_cols(vslice, p[alive], q[alive], na, cols, None if sl is None else sl[alive])
        bad = _has_long_bad_run(good, max_run[alive])
        ok[alive[bad]] = False
        alive = alive[~bad]
        c0 = c1
    return ok


#: Samples per block of the full check (:func:`_valid_segments_fast`).
_SAMPLE_BLOCK: int = 48


#: Up to this many samples the full check reads them all at once (no blocks).
_ONE_SHOT_SAMPLES: int = 1 << 15


#: The compiled full check (:func:`._kernels_nb.valid_segments`) is used for more pairs than this
#: (numba on; else the blocks above).
_KERNEL_MIN_PAIRS: int = 64


def _slice_bounds(
    v: NDArray[np.bool_], sr: float, sc: float
) -> tuple[_hull.SliceHulls, NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]] | None:
    """Per-slice hulls, upper bounds ``2 max|v - c|`` (mm), slice visiting order (largest first)
    and the centres c (mm, (S, 2)): the reference's bounds, computed the same way.

    The hulls are found on the viable voxels' bounding box and shifted back (integer vertex
    coordinates: the same vertices as on the whole array, hence the same floats after)."""
    ks = np.flatnonzero(v.any(axis=(1, 2)))
    if len(ks) == 0:
        return None
    k0, k1 = int(ks[0]), int(ks[-1]) + 1
    proj = v[k0:k1].any(axis=0)
    rows, cols = np.flatnonzero(proj.any(axis=1)), np.flatnonzero(proj.any(axis=0))
    r0, c0 = int(rows[0]), int(cols[0])
    h = _hull.slice_hulls(v[k0:k1, r0 : int(rows[-1]) + 1, c0 : int(cols[-1]) + 1])
    hulls = _hull.SliceHulls(k=h.k + k0, j=h.j + r0, i=h.i + c0, slices=h.slices + k0, starts=h.starts)
    st = hulls.starts[:-1]
    u = hulls.j * sr
    w = hulls.i * sc
    cu = (np.minimum.reduceat(u, st) + np.maximum.reduceat(u, st)) / 2.0
    cw = (np.minimum.reduceat(w, st) + np.maximum.reduceat(w, st)) / 2.0
    grp = np.repeat(np.arange(len(st)), np.diff(hulls.starts))
    upper = 2.0 * np.maximum.reduceat(np.hypot(u - cu[grp], w - cw[grp]), st)
    return hulls, upper, np.argsort(-upper, kind="stable"), np.stack([cu, cw], axis=1)


def _cell_pairs(
    sl: NDArray[np.int64],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    sr: float,
    sc: float,
    lo: float,
    hi: float,
    levels: tuple[int, ...],
    superdeep: tuple[NDArray[np.bool_], ...] | None,
    max_pairs: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None:
    """Pairs ``a < b`` of points on the same slice with ``lo <= d < hi`` mm (d computed exactly
    as the reference does), found through nested square cells (``levels``: cell sizes in voxels,
    coarse to fine, each a multiple of the next).

    With ``max_pairs``, returns ``None`` instead as soon as a level would expand more than that
    many (cell or point) pairs: the caller narrows the band (bounded memory).

    ``(sl, jj, ii)`` are the points (slice id, row, column), sorted by slice then row-major, as
    ``np.nonzero`` gives them; ``a < b`` is then the reference's pair orientation.  Level by
    level, a pair of cells is dropped when the farthest distance between their bounding boxes is
    below ``lo``, or when the segment joining the box centres meets ``superdeep[level]`` (S, H, W)
    at a probe point y (rounded to the voxel u, ``|u - y| <= h``): every segment between a point
    of one cell and a point of the other has a point x with ``|x - y| <= rho`` (rho: the cells'
    box half-diagonal, at most the level's cell half-diagonal), so ``|x - u| <= h + rho``; and
    ``superdeep[level]`` marks voxels with no viable voxel within ``r_deep + rho``
    (:func:`_deep_box` with ``extra_mm = rho``).  The argument of :func:`_deep_non_viable` with
    delta = ``h + rho`` in place of h then gives a run of non-viable samples longer than the gap
    tolerance: the segment is invalid.  Both drops are conservative.  Children of the surviving
    pairs are examined at the next level; the last level is expanded to points.  A pair of cells
    whose nearest box-to-box distance is at least ``hi`` (with a rounding margin) holds no pair
    of the band either and is dropped too.
    """
    empty = np.zeros(0, np.int64)
    if len(jj) < 2:
        return empty, empty, np.zeros(0)
    keys = [np.stack([jj // c, ii // c]) for c in levels]
    order = np.lexsort(tuple(x for kk in reversed(keys) for x in (kk[1], kk[0])) + (sl,))
    sls, js, is_ = sl[order], jj[order], ii[order]
    n = len(order)
    group_start: list[NDArray[np.int64]] = []
    change = sls[1:] != sls[:-1]
    for kk in keys:
        ks = kk[:, order]
        change = change | (ks[0, 1:] != ks[0, :-1]) | (ks[1, 1:] != ks[1, :-1])
        group_start.append(np.flatnonzero(np.r_[True, change]))
    A = B = empty
    for lev, gs in enumerate(group_start):
        gcount = np.diff(np.r_[gs, n])
        jmin, jmax = np.minimum.reduceat(js, gs), np.maximum.reduceat(js, gs)
        imin, imax = np.minimum.reduceat(is_, gs), np.maximum.reduceat(is_, gs)
        if lev == 0:  # every pair of cells A <= B on the same slice (cells are grouped by slice)
            gslice = sls[gs]
            ng = len(gs)
            cnt = np.searchsorted(gslice, gslice, side="right") - np.arange(ng)
            A = np.repeat(np.arange(ng), cnt)
            B = A + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        else:  # children of the surviving parent pairs
            pgs = group_start[lev - 1]
            cstart = np.searchsorted(gs, pgs)
            ccount = np.diff(np.r_[cstart, len(gs)])
            nA, nB = ccount[A], ccount[B]
            m = nA * nB
            if max_pairs is not None and int(m.sum()) > max_pairs:
                return None
            which = np.repeat(np.arange(len(A)), m)
            off = np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m)
            ca = cstart[A][which] + off // nB[which]
            cb = cstart[B][which] + off % nB[which]
            keep = (A != B)[which] | (ca <= cb)  # a same-parent pair of children once
            A, B = ca[keep], cb[keep]
        dj = np.maximum(jmax[A] - jmin[B], jmax[B] - jmin[A]) * sr
        di = np.maximum(imax[A] - imin[B], imax[B] - imin[A]) * sc
        ok = np.hypot(dj, di) >= lo * (1.0 - 1e-9) - 1e-6
        if np.isfinite(hi):  # nearest box-to-box distance: every point pair is at least this far
            nj = np.maximum(np.maximum(jmin[A] - jmax[B], jmin[B] - jmax[A]), 0) * sr
            ni = np.maximum(np.maximum(imin[A] - imax[B], imin[B] - imax[A]), 0) * sc
            ok &= np.hypot(nj, ni) < hi * (1.0 + 1e-9) + 1e-6
        A, B = A[ok], B[ok]
        if superdeep is not None and len(A):
            sd = superdeep[lev]
            n_row, n_col = sd.shape[-2], sd.shape[-1]
            base = sls[gs[A]] * (n_row * n_col)
            cjA, ciA = (jmin[A] + jmax[A]) / 2.0, (imin[A] + imax[A]) / 2.0
            cjB, ciB = (jmin[B] + jmax[B]) / 2.0, (imin[B] + imax[B]) / 2.0
            flat = sd.ravel()
            alive = np.ones(len(A), dtype=bool)
            for num, den in _CELL_PROBES:
                t = num / den
                uj = np.rint(cjA + t * (cjB - cjA)).astype(np.int64)
                ui = np.rint(ciA + t * (ciB - ciA)).astype(np.int64)
                alive &= ~flat[base + uj * n_col + ui]
            A, B = A[alive], B[alive]
        if len(A) == 0:
            return empty, empty, np.zeros(0)
    gs = group_start[-1]
    gcount = np.diff(np.r_[gs, n])
    m = gcount[A] * gcount[B]
    if max_pairs is not None and int(m.sum()) > max_pairs:
        return None
    which = np.repeat(np.arange(len(A)), m)
    off = np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m)
    nb = gcount[B][which]
    pa = order[gs[A][which] + off // nb]
    pb = order[gs[B][which] + off % nb]
    same = (A == B)[which]
    keep = (pa != pb) & (~same | (pa < pb))  # a same-cell pair once, other pairs oriented a < b
    a, b = np.minimum(pa, pb)[keep], np.maximum(pa, pb)[keep]
    d = np.hypot((jj[a] - jj[b]) * sr, (ii[a] - ii[b]) * sc)
    keep = (d >= lo) & (d < hi)
    return a[keep], b[keep], d[keep]


#: Nested cell sizes (voxels, coarse to fine) of the pair search (:func:`_cell_pairs`).
_CELL_LEVELS: tuple[int, ...] = (12, 6, 3)


#: Slices searched one by one (by decreasing hull bound) before the remaining candidate
#: slices are searched together in one vectorised pass.
_ALONE_SLICES: int = 1


#: Slices per vectorised pass (bounds the memory of the pair arrays; the best length found by
#: one pass is the threshold of the next).
_BATCH_SLICES: int = 32


#: Length bands of the pair search, as fractions of the slice's hull bound: the longest pairs
#: are examined first and most slices end in the first band.
_BANDS: tuple[float, ...] = (0.85, 0.65, 0.4, 0.0)


def _first_valid_per_slice(
    vs: NDArray[np.bool_],
    sl: NDArray[np.int64],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    spacing_rc: tuple[float, float],
    lo: float,
    hi: float,
    step_mm: float,
    gap_mm: float,
) -> dict[int, tuple[int, int, float]]:
    """For each slice of the stack ``vs`` (S, H, W), the reference's first valid pair among its
    boundary-voxel pairs with ``lo <= d < hi``: ``{slice: (a, b, length_mm)}`` (a, b index the
    points ``(sl, jj, ii)``); slices without one are absent.

    Memory is bounded: when the band ``[lo, hi)`` holds more than :data:`_MAX_PAIRS` candidate
    pairs, the slices are searched in smaller groups (slices are independent), and a single
    slice's band is split by length, the upper half searched first (down to half a pixel); a
    slice resolved in the upper half is left out of the lower half (its pair is longer than any
    pair below, so it is the reference's first valid pair whatever the lower half holds).  The
    full checks run in chunks of at most :data:`_MAX_SAMPLES` samples.  None of this changes
    which pair is found."""
    sr, sc = spacing_rc
    extras = tuple(0.5 * float(np.hypot((c - 1) * sr, (c - 1) * sc)) for c in _CELL_LEVELS)
    deep, *superdeep = _deep_slice(vs, spacing_rc, step_mm, gap_mm, (0.0, *extras))
    pts = np.stack([jj, ii], axis=1).astype(np.float64)
    found: dict[int, tuple[int, int, float]] = {}
    if len(jj) < 2:
        return found
    if not np.isfinite(hi):  # a finite top every same-slice pair is below (box diagonal + margin)
        diag = float(np.hypot((jj.max() - jj.min()) * sr, (ii.max() - ii.min()) * sc))
        hi_cap: float = diag * (1.0 + 1e-9) + 1e-6
    else:
        hi_cap = hi
    min_band = 0.5 * min(sr, sc)
    todo = [(np.unique(sl), lo, hi, hi_cap)]  # a stack: slice groups and length bands
    while todo:
        slices, blo, bhi, bcap = todo.pop()
        if found:
            slices = slices[~np.isin(slices, np.fromiter(found, np.int64))]
        idx = np.flatnonzero(np.isin(sl, slices))
        if len(idx) < 2:
            continue
        got = _cell_pairs(sl[idx], jj[idx], ii[idx], sr, sc, blo, bhi, _CELL_LEVELS, tuple(superdeep), _MAX_PAIRS)
        if got is None:  # too many pairs: fewer slices at a time, then the longer half first
            if len(slices) > 1:
                h = len(slices) // 2
                todo += [(slices[h:], blo, bhi, bcap), (slices[:h], blo, bhi, bcap)]
                continue
            if bcap - blo > min_band:
                mid = 0.5 * (blo + bcap)
                todo += [(slices, blo, mid, mid), (slices, mid, bhi, bcap)]
                continue
            got = _cell_pairs(sl[idx], jj[idx], ii[idx], sr, sc, blo, bhi, _CELL_LEVELS, tuple(superdeep))
            assert got is not None
        a, b, d = got
        _first_valid_in(vs, deep, pts, sl, jj, ii, idx[a], idx[b], d, step_mm, gap_mm, found)
    return found


def _first_valid_in(
    vs: NDArray[np.bool_],
    deep: NDArray[np.bool_],
    pts: NDArray[np.float64],
    sl: NDArray[np.int64],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    d: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
    found: dict[int, tuple[int, int, float]],
) -> None:
    """Adds to ``found`` each slice's first valid pair (the reference's order: longest first,
    then ``(a, b)``) among the candidate pairs ``a, b`` (lengths ``d``) of slices not in it."""
    if len(d) == 0:
        return
    alive = _probe_alive(deep, jj[a], ii[a], jj[b], ii[b], sl[a])
    a, b, d = a[alive], b[alive], d[alive]
    if len(d) == 0:
        return
    alive = np.empty(len(d), dtype=bool)
    for c0 in range(0, len(d), _MID_CHUNK):  # (in chunks: bounded memory)
        a2, b2 = a[c0 : c0 + _MID_CHUNK], b[c0 : c0 + _MID_CHUNK]
        good, max_run = _samples(vs, pts[a2], pts[b2], d[c0 : c0 + _MID_CHUNK], step_mm, gap_mm,
                                 window=_MID_WINDOW_SAMPLES, sl=sl[a2])
        alive[c0 : c0 + _MID_CHUNK] = ~_has_long_bad_run(good, max_run)
    a, b, d = a[alive], b[alive], d[alive]
    if len(d) == 0:
        return
    s_of = sl[a]
    srt = np.lexsort((b, a, -d, s_of))  # per slice, the reference's order: longest first, then (a, b)
    a, b, d, s_of = a[srt], b[srt], d[srt], s_of[srt]
    first = np.flatnonzero(np.r_[True, s_of[1:] != s_of[:-1]])
    rank = np.arange(len(s_of)) - np.repeat(first, np.diff(np.r_[first, len(s_of)]))
    r0, r1 = 0, 16
    while True:  # rounds: the next candidates of every unresolved slice, longest first
        sel = np.flatnonzero((rank >= r0) & (rank < r1))
        if len(sel) == 0:
            break
        # chunks of at most _MAX_SAMPLES samples, in (slice, reference) order: a slice's
        # candidates in a later chunk come after its candidates in an earlier one
        n_max = int(np.ceil(d[sel].max() / step_mm)) + 2
        per = max(1, _MAX_SAMPLES // n_max)
        for c0 in range(0, len(sel), per):
            part = sel[c0 : c0 + per]
            if found:
                part = part[~np.isin(s_of[part], np.fromiter(found, np.int64))]
            if len(part) == 0:
                continue
            ok = _valid_segments_fast(vs, pts[a[part]], pts[b[part]], d[part], step_mm, gap_mm, sl=s_of[part])
            for e in part[ok]:  # the first hit per slice wins
                sk = int(s_of[e])
                if sk not in found:
                    found[sk] = (int(a[e]), int(b[e]), float(d[e]))
        r0, r1 = r1, r1 * 4


#: Largest number of candidate pairs one length band of the pair search may expand (bounds
#: the memory of :func:`_first_valid_per_slice`: a few arrays of this many pairs x the mid-window
#: samples); a band with more is split by length.
_MAX_PAIRS: int = 1 << 21


#: Pairs per chunk of the mid-window check (bounds its sample arrays).
_MID_CHUNK: int = 1 << 18


#: Largest number of sample points checked at once by the full check (bounds its memory).
_MAX_SAMPLES: int = 1 << 22


#: Slices with at most this many candidate boundary voxels are searched directly (all pairs,
#: longest first, mid-window then full check), without the necrosis masks and cells.
_DIRECT_MAX_POINTS: int = 160


def _first_valid_direct(
    vk: NDArray[np.bool_],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    spacing_rc: tuple[float, float],
    thr: float,
    step_mm: float,
    gap_mm: float,
) -> tuple[int, int, float] | None:
    """The reference's first valid pair with ``d >= thr`` on one small slice (H, W): every pair,
    in the reference's order, checked in growing chunks (mid-window test, then the full check)."""
    sr, sc = spacing_rc
    a, b = np.triu_indices(len(jj), k=1)
    d = np.hypot((jj[a] - jj[b]) * sr, (ii[a] - ii[b]) * sc)
    keep = d >= thr
    a, b, d = a[keep], b[keep], d[keep]
    if len(d) == 0:
        return None
    srt = np.argsort(-d, kind="stable")
    a, b, d = a[srt], b[srt], d[srt]
    pts = np.stack([jj, ii], axis=1).astype(np.float64)
    chunk, s = 16, 0
    while s < len(d):
        a2, b2, d2 = a[s : s + chunk], b[s : s + chunk], d[s : s + chunk]
        good, max_run = _samples(vk, pts[a2], pts[b2], d2, step_mm, gap_mm, window=_MID_WINDOW_SAMPLES)
        alive = np.flatnonzero(~_has_long_bad_run(good, max_run))
        if len(alive):
            ok = _valid_segments_fast(vk, pts[a2[alive]], pts[b2[alive]], d2[alive], step_mm, gap_mm)
            hit = alive[ok]
            if len(hit):
                h = int(hit[0])
                return int(a2[h]), int(b2[h]), float(d2[h])
        s += chunk
        chunk = min(chunk * 4, 4096)
    return None


def _longest_valid(
    v: NDArray[np.bool_], spacing: tuple[float, float, float], gap_voxels: float
) -> tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None:
    """Longest valid segment over all slices: ``(slice, p, q, length_mm)`` (p, q = (row, col)).

    Returns exactly what :func:`_longest_valid_reference` (the rule's definition) returns -
    same slice, endpoints and length; property-tested against it - with work removed only
    where it provably cannot change the answer:

    * slices are visited by decreasing hull bound and the search stops when the bound falls
      below the best valid length (as in the reference);
    * a boundary voxel whose distance to the slice centre plus the hull radius is below the best
      length cannot end a longer segment: it is dropped;
    * pairs come from nested cells (:func:`_cell_pairs`): cell pairs too short, or whose
      segments all cross deep necrosis, are never expanded;
    * pairs with a probe point (1/2, 1/4, 3/4, 1/8, ...) deep in necrosis are rejected by
      integer look-ups (:func:`_probe_alive`, conservative);
    * a run of non-viable samples longer than the tolerance among the samples around the middle
      rejects a pair exactly (a sub-run of the full check);
    * the survivors, longest first (ties in the reference's pair order), get the full sampled
      check; the first valid one ends the slice.

    Small slices are searched directly (:func:`_first_valid_direct`); after
    ``_ALONE_SLICES`` slices the remaining candidate slices are searched in one vectorised pass
    against the best length so far, and the reference's update rule (longest wins, ties within
    1e-9 mm go to the lowest slice) is applied to their results in the reference's slice order:
    a slice the reference would skip or find nothing on offers nothing that rule accepts.
    """
    sr, sc = spacing[1], spacing[2]
    step_mm = VIABLE_SAMPLE_STEP_VOXELS * min(sr, sc)
    gap_mm = gap_voxels * max(sr, sc)
    bounds = _slice_bounds(v, sr, sc)
    if bounds is None:
        return None
    hulls, upper, order, centre = bounds
    best: tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None = None
    best_len = -1.0

    def offer(k: int, p: NDArray[np.float64], q: NDArray[np.float64], length: float) -> None:
        nonlocal best, best_len  # the reference's update rule (ties within 1e-9: lowest slice)
        if length > best_len + 1e-9 or (abs(length - best_len) <= 1e-9 and best is not None and k < best[0]):
            best, best_len = (k, p, q, length), length

    n_alone = 0
    for i_pos, pos in enumerate(order):
        if upper[pos] < best_len - 1e-9:
            break
        if best_len > 0.0 and n_alone >= _ALONE_SLICES and best_len >= _BANDS[1] * float(upper[pos]):
            # the rest in one vectorised pass against a fixed threshold: every slice's first valid
            # pair >= thr is found, then offered in the reference's order (same outcome).
            rest_all = np.array([q for q in order[i_pos:] if upper[q] >= best_len - 1e-9], dtype=np.int64)
            for g in range(0, len(rest_all), _BATCH_SLICES):  # bounded memory; threshold tightens
                rest = rest_all[g : g + _BATCH_SLICES]
                rest = rest[upper[rest] >= best_len - 1e-9]
                if len(rest) == 0:
                    continue
                ks = hulls.slices[rest]
                vs = v[ks]
                sl, jj, ii = np.nonzero(_boundary(vs))  # in-plane: the same as on the whole array
                # |a - b| <= |a - c| + max|h - c| (c: the slice's centre, h: its hull vertices),
                # so a point whose bound is below the threshold ends no candidate pair
                reach = np.hypot(jj * sr - centre[rest[sl], 0], ii * sc - centre[rest[sl], 1]) + upper[rest[sl]] / 2.0
                keep = reach >= best_len - 1e-9 - 1e-6
                sl, jj, ii = sl[keep], jj[keep], ii[keep]
                lo = best_len - 1e-9 - 1e-7
                found = _first_valid_per_slice(vs, sl, jj, ii, (sr, sc), lo, np.inf, step_mm, gap_mm)
                for s_idx in range(len(ks)):
                    if s_idx in found:
                        ia, ib, length = found[s_idx]
                        offer(int(ks[s_idx]), np.array([jj[ia], ii[ia]], float), np.array([jj[ib], ii[ib]], float), length)
            break
        n_alone += 1
        k = int(hulls.slices[pos])
        jj, ii = np.nonzero(_boundary(v[k][None])[0])
        if len(jj) == 1:
            if 0.0 > best_len or (0.0 == best_len and best is not None and k < best[0]):
                best, best_len = (k, np.array([jj[0], ii[0]], float), np.array([jj[0], ii[0]], float), 0.0), 0.0
            continue
        thr = best_len - 1e-9
        if best_len > 0.0:  # same reach bound as in the vectorised pass
            reach = np.hypot(jj * sr - centre[pos, 0], ii * sc - centre[pos, 1]) + upper[pos] / 2.0
            keep = reach >= thr - 1e-6
            jj, ii = jj[keep], ii[keep]
            if len(jj) < 2:
                continue
        if len(jj) <= _DIRECT_MAX_POINTS:
            got = _first_valid_direct(v[k], jj, ii, (sr, sc), thr, step_mm, gap_mm)
            if got is not None:
                ia, ib, length = got
                offer(k, np.array([jj[ia], ii[ia]], float), np.array([jj[ib], ii[ib]], float), length)
            continue
        vk = v[k][None]
        sl = np.zeros(len(jj), np.int64)
        hi = np.inf
        # longest pairs first, in bands (one band once a best length close to the slice's bound
        # is known); the first valid pair ends the slice
        fracs = _BANDS if thr < _BANDS[1] * float(upper[pos]) else (0.0,)
        for frac in fracs:
            lo = max(thr, frac * float(upper[pos]))
            got = _first_valid_per_slice(vk, sl, jj, ii, (sr, sc), lo, hi, step_mm, gap_mm).get(0)
            if got is not None:
                ia, ib, length = got
                offer(k, np.array([jj[ia], ii[ia]], float), np.array([jj[ib], ii[ib]], float), length)
                break
            if lo <= thr:
                break
            hi = lo
    return best

"""The ring's tissue classes of step 10 (:mod:`._multiphase`): k-medians of the ring's multiphase values
(:func:`_ring_classes`, 1.5 / 1.8), with its numpy reference (:func:`_sorted_rows`, :func:`_radix_key`,
:func:`_class_medians`, :func:`_kmedians_numpy`, :func:`_smallest`) and the driver that uses the
compiled kernels of :mod:`._kernels` where every value is a finite non-zero float32 (the same
operations: bit-identical classes).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from . import constants as C

def _smallest(a: NDArray[np.float64], m: int) -> NDArray[np.intp]:
    """Indices of the ``m`` smallest values of ``a``: the set ``np.argsort(a)[:m]`` holds (an
    O(n) partition when the m-th smallest value is not tied with the next, else that argsort)."""
    if m < a.size:
        idx = np.argpartition(a, m - 1)
        if a[idx[m - 1]] < a[idx[m:]].min():
            return idx[:m]
    return np.argsort(a)[:m]


def _sorted_rows(xt: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Each row's sorting permutation and sorted values (``np.argsort(xt, axis=1)`` and the values
    in that order).  Where every value is a non-zero float32 (the smoothed phases' values are):
    the permutation by two stable 16-bit radix passes over the float32 bits made order-preserving
    (about a third of the comparison sort's CPU).  The sorted values are the same; tied values may
    come in another order, which no reader of them depends on (:func:`_class_medians` reads
    order statistics, the same for any order of equal values; signed zeros, equal but not
    identical, go to ``argsort``, as do NaN and values float32 does not hold)."""
    key = _radix_key(xt)
    if key is None:
        order = np.argsort(xt, axis=1)
        return order, np.take_along_axis(xt, order, axis=1)
    n_ph, n = xt.shape
    off = (np.arange(n_ph) * n)[:, None]  # row starts in the flattened arrays
    low = np.argsort(key.astype(np.uint16), axis=1, kind="stable")  # by the low 16 bits
    high = (key >> 16).astype(np.uint16).ravel()[low + off]
    order = low.ravel()[np.argsort(high, axis=1, kind="stable") + off]  # then by the high 16, stably
    return order, xt.ravel()[order + off]


def _radix_key(xt: NDArray[np.float64], finite: bool = False) -> NDArray[np.uint32] | None:
    """The float32 bits of ``xt`` made order-preserving as unsigned integers (negative values,
    sign bit set, bit-inverted; positive ones with the sign bit set), or None unless every value
    is a non-zero float32 (and, with ``finite``, finite)."""
    x32 = xt.astype(np.float32)
    if not (x32 == xt).all() or not x32.all() or (finite and not np.isfinite(x32).all()):
        return None
    return x32.view(np.uint32) ^ ((x32.view(np.int32) >> 31).view(np.uint32) | np.uint32(0x80000000))


def _class_medians(
    xs: NDArray[np.float64], order: NDArray[np.intp], lab: NDArray[np.integer], cs: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``np.median(x[lab == c], axis=0)`` for every class c (a class without voxels keeps its
    centre ``cs[c]``), read off each phase's sorted values ``xs`` (P, n; ``order``: the sorting
    permutation per phase) instead of a partition per class and pass."""
    n_ph, n = xs.shape
    out = cs.copy()
    # each phase's labels in its value order
    in_order = (lab if lab.dtype == np.uint8 else lab.astype(np.uint8))[order]
    for c in range(len(cs)):
        # class c's sorted positions, phase by phase (each phase holds the same count of them)
        pos = np.flatnonzero(in_order == c)
        m = pos.size // n_ph
        if m == 0:
            continue
        pos = pos.reshape(n_ph, m)
        lower = xs.ravel()[pos[:, (m - 1) // 2]]
        # np.median's value: the middle one, or the mean of the two middle ones
        out[c] = lower if m % 2 else (lower + xs.ravel()[pos[:, m // 2]]) / 2
    return out


def _ring_classes(x: NDArray[np.float64], lesion: NDArray[np.float64], min_d: float) -> list[NDArray[np.float64]]:
    """Tissue classes around a lesion (1.5; true k-medians since 1.8): k-medians (k = ``LESION_MULTIPHASE_RING_CLASSES``,
    started at quantiles of the ring's first principal axis) of the ring's multiphase values ``x``
    (n, P, in smoothed-noise sigmas); classes closer than ``min_d`` to each other are merged (one
    tissue split by noise); a class with fewer than ``LESION_MULTIPHASE_MIN_CLASS_FRACTION`` of the
    ring, or within ``min_d`` of the lesion (the ring still crossing the lesion), is dropped."""
    n = x.shape[0]
    if n == 0:
        return []
    k = C.LESION_MULTIPHASE_RING_CLASSES
    # each phase's values sorted once (phase-major): the class medians below read them off, and
    # np.median(x, axis=0) is their middle
    xt = np.ascontiguousarray(x.T)
    # the compiled kernels (:mod:`._kernels`: the same operations, bit-identical classes) where
    # every value is a finite non-zero float32 (step 10's are): no signed zero or NaN can make a
    # sum or a comparison come out otherwise than numpy's
    nb = _kernels.compiled()
    if nb is not None:
        ok, key = nb.radix_keys(xt)  # (_radix_key(xt, finite=True), in one pass)
        if not ok:
            nb = None
    if nb is not None:
        order, xs = nb.sort_rows(key, xt)
    else:
        order, xs = _sorted_rows(xt)
    xc = x - (xs[:, (n - 1) // 2] if n % 2 else (xs[:, n // 2 - 1] + xs[:, n // 2]) / 2)
    # start: spread along the ring's first principal axis (noise extremes would be the farthest
    # points; the quantiles of the projection are tissues)
    _, _, vt = np.linalg.svd(xc[:: max(1, n // 2000)], full_matrices=False)
    proj = xc @ vt[0]
    qs = np.quantile(proj, np.linspace(0.5 / k, 1 - 0.5 / k, k))
    m_start = max(1, n // (4 * k))
    ok = False
    if nb is not None:
        ok, cs = nb.start_centres(xt, proj, qs, m_start)
    if not ok:
        # (np.median(x[idx], axis=0) as each phase's row of xt: the same values, contiguous partitions)
        cs = np.array([np.median(xt[:, _smallest(np.abs(proj - q), m_start)], axis=1) for q in qs])
    # k-medians (1.8): each voxel to the class nearest in L1 distance (the sum over phases of
    # |x - c|, the objective the median update minimises; 1.7 used squared L2 with the median
    # update, an inconsistent pair that was still moving after its 10 passes: ~50 of 9,000 labels
    # changed at the 10th), at most 10 passes, stopped when the assignment repeats (the medians
    # would repeat too).  Distances summed phase by phase into one row per class; the class
    # medians are read off each phase's values sorted once (:func:`_class_medians`).
    if nb is not None:
        lab, cs = nb.kmedians(xt, xs, order, cs, 10)
    else:
        lab, cs = _kmedians_numpy(xt, xs, order, cs)
    # classes closer than min_d are one tissue split by noise: merge them (nearest pair first)
    while len(cs) > 1:
        d = np.linalg.norm(cs[:, None] - cs[None], axis=-1) + np.eye(len(cs)) * 1e9
        i, j = sorted(int(v) for v in np.unravel_index(int(np.argmin(d)), d.shape))
        if d[i, j] >= min_d:
            break
        lab[lab == j] = i
        lab[lab > j] -= 1
        cs = np.delete(cs, j, axis=0)
        m_i, med_i = nb.class_median(xs, order, lab, i) if nb is not None else (0, None)
        cs[i] = med_i if m_i > 0 else np.median(xt[:, lab == i], axis=1)
    out = []
    for k in range(len(cs)):
        frac = float(np.mean(lab == k))
        if frac >= C.LESION_MULTIPHASE_MIN_CLASS_FRACTION and float(np.linalg.norm(cs[k] - lesion)) >= min_d:
            out.append(cs[k])
    return out


def _kmedians_numpy(
    xt: NDArray[np.float64], xs: NDArray[np.float64], order: NDArray[np.intp], cs: NDArray[np.float64]
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """The k-medians passes of :func:`_ring_classes` (numpy; the reference of the compiled
    ``kmedians`` of :mod:`._kernels_nb`): ``(labels, centres)``."""
    n = xt.shape[1]
    d1 = np.empty((len(cs), n))  # class x voxel
    tmp = np.empty((len(cs), n))
    lab_prev = None
    for _ in range(10):
        np.abs(np.subtract(xt[0], cs[:, :1], out=d1), out=d1)
        for ph in range(1, xt.shape[0]):
            d1 += np.abs(np.subtract(xt[ph], cs[:, ph:ph + 1], out=tmp), out=tmp)
        # the nearest class; on a tie the first, as np.argmin
        lab = np.zeros(n, np.uint8)  # (at most LESION_MULTIPHASE_RING_CLASSES classes)
        nearest = d1[0].copy()
        for c in range(1, len(cs)):
            lab[d1[c] < nearest] = c
            np.minimum(nearest, d1[c], out=nearest)
        if lab_prev is not None and np.array_equal(lab, lab_prev):
            break
        lab_prev = lab
        cs = _class_medians(xs, order, lab, cs)
    return lab, cs

"""The numba kernels of :mod:`._kernels` (imported only when they are used: importing numba
takes ~0.4 s).  Module-level functions, so that numba can cache them on disk."""

from __future__ import annotations

import math

import numba
import numpy as np

_RADIX_BITS = 11  # three passes over a 32-bit key (2,048 buckets: a few times under the ~10,000 values)


@numba.njit(cache=True, nogil=True)
def radix_keys(xt):  # pragma: no cover - compiled
    """:func:`._kmedians._radix_key` of the float64 (P, n) ``xt`` with ``finite``: ``(ok, key)``,
    the float32 bits made order-preserving as unsigned integers (negative values bit-inverted,
    positive ones with the sign bit set); ``ok`` False (``key`` undefined) unless every value is
    a finite non-zero float32.  One pass, no float32 copy and comparisons of the whole array."""
    n_ph, n = xt.shape
    x32 = np.empty((n_ph, n), np.float32)
    for p in range(n_ph):
        for i in range(n):
            v = xt[p, i]
            f = np.float32(v)
            if not (np.float64(f) == v) or f == 0 or not np.isfinite(f):
                return False, x32.view(np.uint32)
            x32[p, i] = f
    key = x32.view(np.uint32)
    for p in range(n_ph):
        for i in range(n):
            k = key[p, i]
            key[p, i] = ~k if k & np.uint32(0x80000000) else k | np.uint32(0x80000000)
    return True, key


@numba.njit(cache=True, nogil=True)
def sort_rows(key, xt):  # pragma: no cover - compiled
    """Each row's sorting permutation and sorted values (``(order, xs)``, as
    :func:`._kmedians._sorted_rows`): a stable least-significant-digit radix sort of the
    unsigned 32-bit keys ``key`` (P, n; the float32 bits made order-preserving), three 11-bit
    passes; ``xs`` is ``xt`` (P, n) in that order."""
    n_ph, n = key.shape
    nb = 1 << _RADIX_BITS
    mask = np.uint32(nb - 1)
    order = np.empty((n_ph, n), np.int64)
    xs = np.empty((n_ph, n))
    cur = np.empty(n, np.int64)
    nxt = np.empty(n, np.int64)
    count = np.empty(nb + 1, np.int64)
    for p in range(n_ph):
        for i in range(n):
            cur[i] = i
        for shift in range(0, 32, _RADIX_BITS):
            count[:] = 0
            for i in range(n):
                count[((key[p, i] >> np.uint32(shift)) & mask) + 1] += 1
            for b in range(nb):
                count[b + 1] += count[b]
            for j in range(n):
                i = cur[j]
                b = (key[p, i] >> np.uint32(shift)) & mask
                nxt[count[b]] = i
                count[b] += 1
            cur, nxt = nxt, cur
        for j in range(n):
            order[p, j] = cur[j]
            xs[p, j] = xt[p, cur[j]]
    return order, xs


#: labels counted a block at a time when a class's median voxel is sought (:func:`_rank_position`)
_MEDIAN_BLOCK = 128


@numba.njit(cache=True, nogil=True)
def _rank_position(ls, p, c, start, r, want):  # pragma: no cover - compiled
    """The position (>= ``start``), in phase ``p``'s value order, of class ``c``'s voxel of rank
    ``want``, given ``r`` (<= ``want``) of the class's voxels before ``start``; ``ls`` (P, n): each
    phase's labels in its value order.  Whole blocks of ``_MEDIAN_BLOCK`` labels are counted (a
    count without a chain from one label to the next) until the rank lies in one, which is then
    read label by label."""
    n = ls.shape[1]
    j = start
    while j < n and j % _MEDIAN_BLOCK != 0:
        if ls[p, j] == c:
            if r == want:
                return j
            r += 1
        j += 1
    while j + _MEDIAN_BLOCK <= n:
        cb = 0
        for t in range(j, j + _MEDIAN_BLOCK):
            cb += ls[p, t] == c
        if r + cb > want:
            break
        r += cb
        j += _MEDIAN_BLOCK
    while True:
        if ls[p, j] == c:
            if r == want:
                return j
            r += 1
        j += 1


@numba.njit(cache=True, nogil=True)
def _class_medians(xs, ls, cs, cnt, pos_lo):  # pragma: no cover - compiled
    """``cs`` updated in place to each class's per-phase median (:func:`._kmedians._class_medians`:
    the middle value, or the half-sum of the two middle ones, read off the sorted values at the
    class's ranks (m - 1) // 2 and m // 2; a class without voxels keeps its centre): the
    rank-(m - 1) // 2 voxel found by :func:`_rank_position` in each phase's labels in value order
    (``ls`` (P, n), ``lab[order]``), the next voxel of the class after it the upper middle.
    ``cnt`` (k): the class counts; ``pos_lo`` (k, P) receives the sorted position of each class's
    rank-(m - 1) // 2 voxel."""
    n_ph = xs.shape[0]
    k = cs.shape[0]
    for p in range(n_ph):
        for c in range(k):
            m = cnt[c]
            if m == 0:
                continue
            j = _rank_position(ls, p, c, 0, 0, (m - 1) // 2)
            pos_lo[c, p] = j
            lower = xs[p, j]
            if m % 2:
                cs[c, p] = lower
            else:
                j += 1
                while ls[p, j] != c:
                    j += 1
                cs[c, p] = (lower + xs[p, j]) / 2


@numba.njit(cache=True, nogil=True)
def _class_medians_moved(  # pragma: no cover - compiled
    xs, ls, inv, lab, prev, changed, n_changed, cs, cnt_old, cnt, pos_lo
):
    """:func:`_class_medians` after a few labels changed (``changed[:n_changed]``, from ``prev``
    to ``lab``; every class has voxels before and after): each class's rank-(m - 1) // 2 voxel is
    found by walking, in each phase's value order (``ls``: the labels in that order), from the
    previous one's position ``pos_lo`` (its rank there under the new labels: the old rank, less
    the changed voxels that left the class before it, plus those that joined; ``inv`` (P, n):
    each voxel's sorted position), and the next voxel of the class gives the upper middle.  The
    same order statistics, so the same values as the full scan."""
    n_ph = xs.shape[0]
    k = cs.shape[0]
    for p in range(n_ph):
        for c in range(k):
            pos = pos_lo[c, p]
            r = (cnt_old[c] - 1) // 2
            for t in range(n_changed):
                i = changed[t]
                if inv[p, i] < pos:
                    if prev[i] == c:
                        r -= 1
                    if lab[i] == c:
                        r += 1
            want = (cnt[c] - 1) // 2
            j = pos
            if want >= r:  # r: the class's voxels before position j
                while True:
                    if ls[p, j] == c:
                        if r == want:
                            break
                        r += 1
                    j += 1
            else:
                while True:
                    j -= 1
                    if ls[p, j] == c:
                        r -= 1
                        if r == want:
                            break
            pos_lo[c, p] = j
            lower = xs[p, j]
            if cnt[c] % 2:
                cs[c, p] = lower
            else:
                j += 1
                while ls[p, j] != c:
                    j += 1
                cs[c, p] = (lower + xs[p, j]) / 2


@numba.njit(cache=True, nogil=True)
def kmedians(xt, xs, order, cs, max_passes):  # pragma: no cover - compiled
    """The k-medians passes of :func:`._kmedians._ring_classes`: ``(labels, centres)`` after
    at most ``max_passes`` passes, stopped when the assignment repeats.

    ``xt`` (P, n): the voxels' values phase by phase; ``xs`` and ``order`` (P, n): each phase's
    sorted values and sorting permutation; ``cs`` (k, P): the start centres.  A voxel goes to the
    class of least L1 distance, summed phase 0 first (the numpy path's order), the first such
    class on a tie; a class's new centre is, phase by phase, the median of its voxels
    (:func:`_class_medians`; after a pass that moved few voxels, :func:`_class_medians_moved`)."""
    n_ph, n = xt.shape
    k = cs.shape[0]
    cs = cs.copy()
    lab = np.zeros(n, np.uint8)
    prev = np.zeros(n, np.uint8)
    d1 = np.empty((k, n))  # class x voxel, as the numpy path
    inv = np.empty((n_ph, n), np.int64)
    for p in range(n_ph):
        for j in range(n):
            inv[p, order[p, j]] = j
    changed = np.empty(n, np.int64)
    ls = np.empty((n_ph, n), np.uint8)
    cnt = np.zeros(k, np.int64)
    cnt_old = np.zeros(k, np.int64)
    pos_lo = np.zeros((k, n_ph), np.int64)
    for it in range(max_passes):
        for c in range(k):
            c0 = cs[c, 0]
            for i in range(n):
                d1[c, i] = abs(xt[0, i] - c0)
            for p in range(1, n_ph):
                cp = cs[c, p]
                for i in range(n):
                    d1[c, i] += abs(xt[p, i] - cp)
        for i in range(n):
            best = 0
            nearest = d1[0, i]
            for c in range(1, k):
                if d1[c, i] < nearest:
                    best = c
                    nearest = d1[c, i]
            lab[i] = best
        n_changed = 0
        if it > 0:
            for i in range(n):
                if lab[i] != prev[i]:
                    changed[n_changed] = i
                    n_changed += 1
            if n_changed == 0:
                break
        # each phase's labels in its value order (``lab[order]``, read in sequence by the median
        # updates): all set at the first pass, then the changed voxels' entries only
        if it == 0:
            for p in range(n_ph):
                for j in range(n):
                    ls[p, j] = lab[order[p, j]]
        else:
            for t in range(n_changed):
                i = changed[t]
                for p in range(n_ph):
                    ls[p, inv[p, i]] = lab[i]
        cnt_old[:] = cnt
        cnt[:] = 0
        for i in range(n):
            cnt[lab[i]] += 1
        few = it > 0 and 16 * n_changed * k <= n
        for c in range(k):
            if cnt[c] == 0 or cnt_old[c] == 0:
                few = False
        if few:
            _class_medians_moved(xs, ls, inv, lab, prev, changed, n_changed, cs, cnt_old, cnt, pos_lo)
        else:
            _class_medians(xs, ls, cs, cnt, pos_lo)
        prev[:] = lab
    return lab, cs


@numba.njit(cache=True, nogil=True)
def class_median(xs, order, lab, c):  # pragma: no cover - compiled
    """``(m, median)``: class ``c``'s voxel count and per-phase median (``np.median(xt[:, lab ==
    c], axis=1)`` when m > 0; undefined when 0), read off the sorted values."""
    n_ph, n = xs.shape
    out = np.empty(n_ph)
    m = 0
    for i in range(n):
        if lab[i] == c:
            m += 1
    lo_r = (m - 1) // 2
    hi_r = m // 2
    for p in range(n_ph):
        r = 0
        lower = upper = 0.0
        for j in range(n):
            if lab[order[p, j]] == c:
                if r == lo_r:
                    lower = xs[p, j]
                if r == hi_r:
                    upper = xs[p, j]
                    break
                r += 1
        out[p] = lower if m % 2 else (lower + upper) / 2
    return m, out


#: histogram bins of :func:`_order_stats`'s selection
_ORDER_BINS = 1024


@numba.njit(cache=True, nogil=True)
def _order_stats(a, r, work):  # pragma: no cover - compiled
    """The ``r``-th and ``(r + 1)``-th smallest values of the finite float64 ``a`` (0-based; the
    ``r``-th twice when r is the last rank), by a selection in a histogram: the bin index
    ``int((v - min) * scale)`` never decreases as v grows (each float step is monotone), so the
    values of the bins below hold the smaller ranks and the two ranks are read off the sorted
    values of the bins holding them (``work``: scratch, at least ``a``'s length).  The same
    order statistics as a sort (a few passes over ``a``; the partition-exchange selection
    it replaced was ~2x the CPU on the k-medians' start)."""
    n = a.shape[0]
    lo = a[0]
    hi = a[0]
    for i in range(1, n):
        v = a[i]
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    if not (hi > lo):
        return lo, lo
    r2 = min(r + 1, n - 1)
    scale = (_ORDER_BINS - 1) / (hi - lo)
    if not scale < np.inf:  # a span too small for the bins (never on step 10's values): one bin
        scale = 0.0
    counts = np.zeros(_ORDER_BINS + 1, np.int64)
    for i in range(n):
        b = min(int((a[i] - lo) * scale), _ORDER_BINS - 1)
        counts[b + 1] += 1
    for b in range(_ORDER_BINS):
        counts[b + 1] += counts[b]
    b1 = 0
    while counts[b1 + 1] <= r:
        b1 += 1
    b2 = b1
    while counts[b2 + 1] <= r2:
        b2 += 1
    j = 0
    for i in range(n):
        b = min(int((a[i] - lo) * scale), _ORDER_BINS - 1)
        if b1 <= b <= b2:
            work[j] = a[i]
            j += 1
    s = np.sort(work[:j])
    below = counts[b1]
    return s[r - below], s[r2 - below]


@numba.njit(cache=True, nogil=True)
def start_centres(xt, proj, qs, m):  # pragma: no cover - compiled
    """The k-medians' start of :func:`._kmedians._ring_classes`: per quantile ``q`` of
    ``qs``, the per-phase median of the ``m`` voxels of least ``|proj - q|``.  ``(ok, cs)``;
    ``ok`` False when the ``m``-th least distance is tied with the next (which voxels are the
    ``m`` least is then the numpy path's argsort's choice: it decides).  The values are the
    finite non-zero ones :func:`._kmedians._ring_classes` passes (a zero half-sum's sign could
    differ).  The m-th and next least distance and each median's middle values by
    :func:`_order_stats`; a median is the middle value or the half-sum of the two middle ones
    (``np.median``'s)."""
    n_ph, n = xt.shape
    k = qs.shape[0]
    cs = np.empty((k, n_ph))
    a = np.empty(n)
    work = np.empty(n)
    sel = np.empty(m)
    idx = np.empty(m, np.int64)
    for c in range(k):
        q = qs[c]
        for i in range(n):
            a[i] = abs(proj[i] - q)
        if m < n:
            t, nxt = _order_stats(a, m - 1, work)
            if not (t < nxt):
                return False, cs
        else:
            t = np.inf
        j = 0
        for i in range(n):
            if a[i] <= t:
                idx[j] = i
                j += 1
        h = (j - 1) // 2
        for p in range(n_ph):
            for i in range(j):
                sel[i] = xt[p, idx[i]]
            lower, upper = _order_stats(sel[:j], h, work)
            cs[c, p] = lower if j % 2 else (lower + upper) / 2
    return True, cs


@numba.njit(cache=True, nogil=True)
def gaussian_nearest(a, w0, w1, w2):  # pragma: no cover - compiled
    """``scipy.ndimage.gaussian_filter(a, sigma, mode="nearest")`` of a float32 3-D array, given
    each axis's weights (``w0``, ``w1``, ``w2``: scipy's, 2r + 1 of them; one weight 1.0 for an
    axis scipy skips).  Axis by axis as scipy's ``correlate1d`` forms a symmetric correlation, in
    float64: ``centre * w[r]``, then ``+= (left + right) * w[r + j]`` for j = -r .. -1, the line
    extended by its end values ("nearest"), stored as float32 before the next axis.  Axes 0 and 1
    read their neighbours at clamped indices (no line copies), a plane at a time, and each plane's
    axis-1 result is smoothed along axis 2 at once (the same operations per line)."""
    nz, ny, nx = a.shape
    out = np.empty_like(a)
    t = np.empty(nx)
    r = (w0.shape[0] - 1) // 2
    if r > 0:
        wr = w0[r]
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    t[x] = np.float64(a[z, y, x]) * wr
                for j in range(-r, 0):
                    zl = max(z + j, 0)
                    zr = min(z - j, nz - 1)
                    wj = w0[r + j]
                    for x in range(nx):
                        t[x] += (np.float64(a[zl, y, x]) + np.float64(a[zr, y, x])) * wj
                for x in range(nx):
                    out[z, y, x] = t[x]
    else:
        out[:] = a
    r1 = (w1.shape[0] - 1) // 2
    r2 = (w2.shape[0] - 1) // 2
    plane = np.empty((ny, nx), np.float32)
    b1 = np.empty(nx + 2 * r2)
    t1 = np.empty(nx)
    for z in range(nz):
        if r1 > 0:
            wr = w1[r1]
            for y in range(ny):
                for x in range(nx):
                    t[x] = np.float64(out[z, y, x]) * wr
                for j in range(-r1, 0):
                    yl = max(y + j, 0)
                    yr = min(y - j, ny - 1)
                    wj = w1[r1 + j]
                    for x in range(nx):
                        t[x] += (np.float64(out[z, yl, x]) + np.float64(out[z, yr, x])) * wj
                for x in range(nx):
                    plane[y, x] = t[x]
        else:
            for y in range(ny):
                for x in range(nx):
                    plane[y, x] = out[z, y, x]
        if r2 > 0:
            wr = w2[r2]
            for y in range(ny):
                for x in range(nx):
                    b1[r2 + x] = plane[y, x]
                for i in range(r2):
                    b1[i] = plane[y, 0]
                    b1[r2 + nx + i] = plane[y, nx - 1]
                for x in range(nx):
                    t1[x] = b1[r2 + x] * wr
                for j in range(-r2, 0):
                    wj = w2[r2 + j]
                    for x in range(nx):
                        t1[x] += (b1[r2 + x + j] + b1[r2 + x - j]) * wj
                for x in range(nx):
                    out[z, y, x] = t1[x]
        else:
            for y in range(ny):
                for x in range(nx):
                    out[z, y, x] = plane[y, x]
    return out


@numba.njit(cache=True, nogil=True)
def gaussian_nearest_at(a, w0, w1, w2, where):  # pragma: no cover - compiled
    """``gaussian_nearest(a, w0, w1, w2)[where]`` (``where`` a boolean array of ``a``'s shape; the
    values in C order): the same operations per value, only those the voxels ``where`` read.  Each
    row (z, y) holding a voxel of ``where`` is smoothed along axis 2 over the span of its voxels;
    that span widened by axis 2's radius is smoothed along axis 1 (in plane z), and the union of
    those spans over the rows within axis 1's radius along axis 0, before the other two.  (The
    spans' bounds are unsigned, so that the compiler drops the negative-index checks and vectorises
    the loops as ``gaussian_nearest``'s.)"""
    nz, ny, nx = a.shape
    r0 = (w0.shape[0] - 1) // 2
    r1 = (w1.shape[0] - 1) // 2
    r2 = (w2.shape[0] - 1) // 2
    # each row's span of voxels where (x2 .. e2), the span axis 1 smooths (x1 .. e1) and axis 0 (x0 .. e0)
    x2 = np.full((nz, ny), nx, np.int64)
    e2 = np.zeros((nz, ny), np.int64)
    n = 0
    for z in range(nz):
        for y in range(ny):
            c = 0
            for x in range(nx):
                c += where[z, y, x]
            if c:
                n += c
                x = 0
                while not where[z, y, x]:
                    x += 1
                x2[z, y] = x
                x = nx - 1
                while not where[z, y, x]:
                    x -= 1
                e2[z, y] = x + 1
    x1 = np.full((nz, ny), nx, np.int64)
    e1 = np.zeros((nz, ny), np.int64)
    x0 = np.full((nz, ny), nx, np.int64)
    e0 = np.zeros((nz, ny), np.int64)
    for z in range(nz):
        for y in range(ny):
            if e2[z, y] > x2[z, y]:
                x1[z, y] = max(x2[z, y] - r2, 0)
                e1[z, y] = min(e2[z, y] + r2, nx)
                for yy in range(max(y - r1, 0), min(y + r1, ny - 1) + 1):
                    x0[z, yy] = min(x0[z, yy], x1[z, y])
                    e0[z, yy] = max(e0[z, yy], e1[z, y])
    out = np.empty_like(a)
    t = np.empty(nx)
    for z in range(nz):
        for y in range(ny):
            lo, hi = np.uint64(x0[z, y]), np.uint64(e0[z, y])
            if r0 > 0:
                wr = w0[r0]
                for x in range(lo, hi):
                    t[x] = np.float64(a[z, y, x]) * wr
                for j in range(-r0, 0):
                    zl = max(z + j, 0)
                    zr = min(z - j, nz - 1)
                    wj = w0[r0 + j]
                    for x in range(lo, hi):
                        t[x] += (np.float64(a[zl, y, x]) + np.float64(a[zr, y, x])) * wj
                for x in range(lo, hi):
                    out[z, y, x] = t[x]
            else:
                for x in range(lo, hi):
                    out[z, y, x] = a[z, y, x]
    plane = np.empty((ny, nx), np.float32)
    b1 = np.empty(nx + 2 * r2)
    t1 = np.empty(nx)
    vals = np.empty(n, np.float32)
    i = 0
    for z in range(nz):
        for y in range(ny):
            lo, hi = np.uint64(x1[z, y]), np.uint64(e1[z, y])
            if r1 > 0:
                wr = w1[r1]
                for x in range(lo, hi):
                    t[x] = np.float64(out[z, y, x]) * wr
                for j in range(-r1, 0):
                    yl = max(y + j, 0)
                    yr = min(y - j, ny - 1)
                    wj = w1[r1 + j]
                    for x in range(lo, hi):
                        t[x] += (np.float64(out[z, yl, x]) + np.float64(out[z, yr, x])) * wj
                for x in range(lo, hi):
                    plane[y, x] = t[x]
            else:
                for x in range(lo, hi):
                    plane[y, x] = out[z, y, x]
        wr = w2[r2]
        for y in range(ny):
            lo, hi = x2[z, y], e2[z, y]
            if hi <= lo:
                continue
            m = hi - lo
            # the span and r2 beyond on each side, the line extended by its end values
            for x in range(m + 2 * r2):
                b1[x] = plane[y, min(max(lo - r2 + x, 0), nx - 1)]
            for x in range(m):
                t1[x] = b1[r2 + x] * wr
            for j in range(-r2, 0):
                wj = w2[r2 + j]
                for x in range(m):
                    t1[x] += (b1[r2 + x + j] + b1[r2 + x - j]) * wj
            for x in range(m):
                if where[z, y, lo + x]:
                    vals[i] = t1[x]
                    i += 1
    return vals


@numba.njit(cache=True, nogil=True)
def scaled_rows(out, a_in, a_out, yu):  # pragma: no cover - compiled
    """Step 13's Jacobian (:func:`._rind_surfaces._jacobian`): ``out[:, :k] = a_in[:, None] * yu`` and
    ``out[:, k:] = a_out[:, None] * yu`` (float32, k = ``yu``'s columns): numpy's products, one
    pass over the rows instead of two strided ones."""
    n, k = yu.shape
    for i in range(n):
        ai = a_in[i]
        ao = a_out[i]
        for m in range(k):
            out[i, m] = ai * yu[i, m]
        for m in range(k):
            out[i, k + m] = ao * yu[i, m]


@numba.njit(cache=True, nogil=True)
def fill_holes_in_plane(m):  # pragma: no cover - compiled
    """:func:`._morph.fill_holes` of the boolean 3-D ``m``: in every slice, ``m`` plus the
    background not face-connected (in-plane) to a row or column edge; the background reached
    from the edges by a flood fill per slice."""
    nz, ny, nx = m.shape
    out = np.ones((nz, ny, nx), np.bool_)
    stack = np.empty(ny * nx, np.int64)
    for z in range(nz):
        top = 0
        for y in range(ny):
            for x in range(nx):
                if (y == 0 or y == ny - 1 or x == 0 or x == nx - 1) and not m[z, y, x] and out[z, y, x]:
                    out[z, y, x] = False
                    stack[top] = y * nx + x
                    top += 1
        while top > 0:
            top -= 1
            i = stack[top]
            y = i // nx
            x = i - y * nx
            if y > 0 and not m[z, y - 1, x] and out[z, y - 1, x]:
                out[z, y - 1, x] = False
                stack[top] = i - nx
                top += 1
            if y < ny - 1 and not m[z, y + 1, x] and out[z, y + 1, x]:
                out[z, y + 1, x] = False
                stack[top] = i + nx
                top += 1
            if x > 0 and not m[z, y, x - 1] and out[z, y, x - 1]:
                out[z, y, x - 1] = False
                stack[top] = i - 1
                top += 1
            if x < nx - 1 and not m[z, y, x + 1] and out[z, y, x + 1]:
                out[z, y, x + 1] = False
                stack[top] = i + 1
                top += 1
    return out


@numba.njit(cache=True, nogil=True)
def _flood_from(m, comp, start, cid, region, stack):  # pragma: no cover - compiled
    """Face-connected flood of the boolean 3-D ``m`` from the flat index ``start``, marking
    ``comp`` with ``cid``: ``(voxels of region in it, its least flat index)``."""
    nz, ny, nx = m.shape
    plane = ny * nx
    mf = m.ravel()
    cf = comp.ravel()
    rf = region.ravel()
    cf[start] = cid
    stack[0] = start
    top = 1
    hits = 0
    first = start
    while top > 0:
        top -= 1
        i = stack[top]
        if rf[i]:
            hits += 1
        if i < first:
            first = i
        z = i // plane
        rem = i - z * plane
        y = rem // nx
        x = rem - y * nx
        if z > 0 and mf[i - plane] and cf[i - plane] == 0:
            cf[i - plane] = cid
            stack[top] = i - plane
            top += 1
        if z < nz - 1 and mf[i + plane] and cf[i + plane] == 0:
            cf[i + plane] = cid
            stack[top] = i + plane
            top += 1
        if y > 0 and mf[i - nx] and cf[i - nx] == 0:
            cf[i - nx] = cid
            stack[top] = i - nx
            top += 1
        if y < ny - 1 and mf[i + nx] and cf[i + nx] == 0:
            cf[i + nx] = cid
            stack[top] = i + nx
            top += 1
        if x > 0 and mf[i - 1] and cf[i - 1] == 0:
            cf[i - 1] = cid
            stack[top] = i - 1
            top += 1
        if x < nx - 1 and mf[i + 1] and cf[i + 1] == 0:
            cf[i + 1] = cid
            stack[top] = i + 1
            top += 1
    return hits, first


@numba.njit(cache=True, nogil=True)
def component_by_region(m, region, seed):  # pragma: no cover - compiled
    """:func:`._morph.component_at` of the boolean 3-D ``m`` with a seed region (``region``,
    same shape) and ``prefer_region``, or with the seed voxel off (``seed`` (-1, -1, -1): a seed
    outside the box, as an off voxel): the face-connected component
    holding most voxels of ``region`` (on a tie the one whose first voxel comes first in raster
    order: ``ndi.label``'s lower label), else the seed voxel's component, else nothing.  Only the
    components that ``region`` touches are flooded (``ndi.label`` labels the whole box)."""
    nz, ny, nx = m.shape
    comp = np.zeros((nz, ny, nx), np.int32)
    stack = np.empty(nz * ny * nx, np.int64)
    mf = m.ravel()
    rf = region.ravel()
    cf = comp.ravel()
    best_id = 0
    best_hits = 0
    best_first = 0
    cid = 0
    for i in range(mf.shape[0]):
        if rf[i] and mf[i] and cf[i] == 0:
            cid += 1
            hits, first = _flood_from(m, comp, i, cid, region, stack)
            if hits > best_hits or (hits == best_hits and first < best_first):
                best_id, best_hits, best_first = cid, hits, first
    out = np.zeros((nz, ny, nx), np.bool_)
    of = out.ravel()
    if best_id == 0:
        if seed[0] < 0:  # (no seed voxel in the box: an off voxel)
            return out
        s = (seed[0] * ny + seed[1]) * nx + seed[2]
        if not mf[s]:
            return out
        if cf[s] == 0:
            cid += 1
            _flood_from(m, comp, s, cid, region, stack)
        best_id = cf[s]
    for i in range(cf.shape[0]):
        of[i] = cf[i] == best_id
    return out


@numba.njit(cache=True, nogil=True)
def component_of(m, seed):  # pragma: no cover - compiled
    """The face-connected component of the boolean 3-D ``m`` holding ``seed`` (a set voxel;
    :func:`._morph._flood`), by a flood fill that visits that component only."""
    nz, ny, nx = m.shape
    comp = np.zeros((nz, ny, nx), np.int32)
    stack = np.empty(nz * ny * nx, np.int64)
    s = (seed[0] * ny + seed[1]) * nx + seed[2]
    _flood_from(m, comp, s, 1, m, stack)
    return comp != 0


@numba.njit(cache=True, nogil=True)
def bbox_of(m):  # pragma: no cover - compiled
    """:func:`._morph.bbox` of the boolean 3-D C-contiguous ``m``: ``(found, lo, hi)``, the
    (start, stop) per axis of the True voxels, from one pass that ORs each row's bytes (whether
    the row holds one) and ORs every row into one (the columns that hold one)."""
    nz, ny, nx = m.shape
    u = m.reshape(nz * ny, nx).view(np.uint8)
    rows = np.zeros(nz * ny, np.uint8)
    cols = np.zeros(nx, np.uint8)
    for r in range(nz * ny):
        acc = np.uint8(0)
        for x in range(nx):
            v = u[r, x]
            acc |= v
            cols[x] |= v
        rows[r] = acc
    lo = np.zeros(3, np.int64)
    hi = np.zeros(3, np.int64)
    first = -1
    last = -1
    for r in range(nz * ny):
        if rows[r]:
            if first < 0:
                first = r
            last = r
    if first < 0:
        return False, lo, hi
    lo[0] = first // ny
    hi[0] = last // ny + 1
    lo[1] = ny
    for r in range(first, last + 1):
        if rows[r]:
            y = r % ny
            if y < lo[1]:
                lo[1] = y
            if y + 1 > hi[1]:
                hi[1] = y + 1
    lo[2] = nx
    for x in range(nx):
        if cols[x]:
            if x < lo[2]:
                lo[2] = x
            hi[2] = x + 1
    return True, lo, hi


@numba.njit(cache=True, nogil=True)
def _select32(a, k):  # pragma: no cover - compiled
    """The ``k``-th smallest value of the float32 ``a`` (in place; Wirth's selection)."""
    lo = 0
    hi = a.shape[0] - 1
    while lo < hi:
        x = a[k]
        i = lo
        j = hi
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]


@numba.njit(cache=True, nogil=True)
def median_rows32(a, work):  # pragma: no cover - compiled
    """``np.median(a, axis=1)`` of the float32 (R, n) ``a`` (n >= 1): ``(ok, med)``, each row's
    middle value, or the float32 half of the two middle values' float32 sum (``np.median``'s
    ``np.mean`` of the two), by a selection on a copy (``work``, n values).  ``ok`` False (``med``
    undefined) when a row holds a NaN or a middle value is zero (whose sign numpy's own
    partition might pick otherwise): the caller then uses ``np.median``."""
    n_rows, n = a.shape
    med = np.empty(n_rows, np.float32)
    k = (n - 1) // 2
    for r in range(n_rows):
        for i in range(n):
            v = a[r, i]
            if v != v:
                return False, med
            work[i] = v
        lo = _select32(work[:n], k)
        if n % 2:
            if lo == 0:
                return False, med
            med[r] = lo
        else:
            hi = work[k + 1]
            for i in range(k + 2, n):
                if work[i] < hi:
                    hi = work[i]
            if lo == 0 or hi == 0:
                return False, med
            med[r] = np.float32(lo + hi) / np.float32(2.0)
    return True, med


@numba.njit(cache=True, nogil=True)
def _powers_xy(x, y, degree, px, py):  # pragma: no cover - compiled
    """x^0..x^degree into ``px`` and y^0..y^degree into ``py``, by repeated products from 1.0 (as
    :func:`._surface._powers`): the powers :func:`star_radius` and :func:`direction_terms` share."""
    px[0] = 1.0
    py[0] = 1.0
    for d in range(degree):
        px[d + 1] = px[d] * x
        py[d + 1] = py[d] * y


@numba.njit(cache=True, nogil=True)
def star_radius(u, coef, ea, eb, ec, degree):  # pragma: no cover - compiled
    """:func:`._surface._radius` of the unit directions ``u`` (n x 3, float64, C-contiguous): per
    direction the powers x^0..x^degree and y^0..y^degree by repeated products from 1.0, then the
    terms in order, each ``coef[k] * ((x^a * y^b) * (z or 1.0))`` added to a sum started at 0.0:
    the numpy path's operations, element by element, in one pass instead of four array passes a
    term."""
    n = u.shape[0]
    out = np.empty(n)
    px = np.empty(degree + 1)
    py = np.empty(degree + 1)
    for i in range(n):
        _powers_xy(u[i, 0], u[i, 1], degree, px, py)
        out[i] = _star_sum(coef, ea, eb, ec, px, py, u[i, 2])
    return out


@numba.njit(cache=True, nogil=True)
def _star_sum(coef, ea, eb, ec, px, py, z):  # pragma: no cover - compiled
    """One direction's radius from its powers ``px``, ``py`` and third component ``z``: each term
    ``coef[k] * ((x^a * y^b) * (z or 1.0))`` added in order to a sum started at 0.0 (the numpy
    path's operations; :func:`star_radius` and :func:`_star_voxels` share it)."""
    acc = 0.0
    for k in range(coef.shape[0]):
        t = px[ea[k]] * py[eb[k]]
        if ec[k]:
            t = t * z
        else:
            t = t * 1.0
        acc += coef[k] * t
    return acc


@numba.njit(cache=True, nogil=True)
def direction_terms(u, ea, eb, ec, degree):  # pragma: no cover - compiled
    """:func:`._surface._direction_terms` of the unit directions ``u`` (n x 3, float64, C-contiguous):
    row i, column k is ``(x^a * y^b) * (z or 1.0)`` with the powers by repeated products from 1.0,
    the numpy path's operations element by element, written into one array (the numpy path makes
    and stacks a column per term)."""
    n = u.shape[0]
    m = ea.shape[0]
    out = np.empty((n, m))
    px = np.empty(degree + 1)
    py = np.empty(degree + 1)
    for i in range(n):
        z = u[i, 2]
        _powers_xy(u[i, 0], u[i, 1], degree, px, py)
        for k in range(m):
            t = px[ea[k]] * py[eb[k]]
            if ec[k]:
                t = t * z
            else:
                t = t * 1.0
            out[i, k] = t
    return out


@numba.njit(cache=True, nogil=True)
def _ipow(a, b, n):  # pragma: no cover - compiled
    """The interval [a, b] to the power n (n >= 0): its exact bounds, up to rounding."""
    if n == 0:
        return 1.0, 1.0
    pa = a**n
    pb = b**n
    if a >= 0.0 or n % 2 == 1:
        return min(pa, pb), max(pa, pb)
    if b <= 0.0:
        return pb, pa
    return 0.0, max(pa, pb)  # an even power of an interval holding 0


@numba.njit(cache=True, nogil=True)
def _imul(a, b, c, d):  # pragma: no cover - compiled
    """The product of the intervals [a, b] and [c, d]."""
    p0 = a * c
    p1 = a * d
    p2 = b * c
    p3 = b * d
    return min(min(p0, p1), min(p2, p3)), max(max(p0, p1), max(p2, p3))


@numba.njit(cache=True, nogil=True)
def _star_block(z0, z1, y0, y1, x0, x1, sp, centre, coef, ea, eb, ec, slack, u, inverse):  # pragma: no cover - compiled
    """Whether the voxel centres z0..z1-1 x y0..y1-1 x x0..x1-1 all lie inside (1) or all outside
    (-1) the star-shaped surface ``coef`` around ``centre``, or either (0): their distance from the
    centre bounded over the block's box, each direction component's interval, and the radius
    polynomial's interval over those (interval arithmetic term by term), apart by ``slack``.
    ``u``: a (3, 2) work array for the direction components' intervals.  ``inverse`` (the near-ellipsoid option): the
    polynomial is 1 / radius^2 (inside: rho^2 x polynomial <= 1; a direction where it is not
    positive has no bound, inside)."""
    lo0 = z0 * sp[0] - centre[0]
    hi0 = (z1 - 1) * sp[0] - centre[0]
    lo1 = y0 * sp[1] - centre[1]
    hi1 = (y1 - 1) * sp[1] - centre[1]
    lo2 = x0 * sp[2] - centre[2]
    hi2 = (x1 - 1) * sp[2] - centre[2]
    near2 = 0.0
    far2 = 0.0
    for lo, hi in ((lo0, hi0), (lo1, hi1), (lo2, hi2)):
        if lo > 0.0:
            near2 += lo * lo
        elif hi < 0.0:
            near2 += hi * hi
        f = max(abs(lo), abs(hi))
        far2 += f * f
    rmin = np.sqrt(near2) * (1.0 - 1e-12)
    rmax = np.sqrt(far2) * (1.0 + 1e-12)
    if rmin <= 1e-6:
        return 0  # the block holds the centre (or nearly): every direction
    for d, (lo, hi) in enumerate(((lo0, hi0), (lo1, hi1), (lo2, hi2))):
        a = lo / rmax if lo >= 0.0 else lo / rmin
        b = hi / rmin if hi >= 0.0 else hi / rmax
        u[d, 0] = max(a - 1e-12, -1.0)
        u[d, 1] = min(b + 1e-12, 1.0)
    r_lo = 0.0
    r_hi = 0.0
    for k in range(coef.shape[0]):
        a0, a1 = _ipow(u[0, 0], u[0, 1], ea[k])
        b0, b1 = _ipow(u[1, 0], u[1, 1], eb[k])
        t0, t1 = _imul(a0, a1, b0, b1)
        if ec[k]:
            t0, t1 = _imul(t0, t1, u[2, 0], u[2, 1])
        if coef[k] >= 0.0:
            r_lo += coef[k] * t0
            r_hi += coef[k] * t1
        else:
            r_lo += coef[k] * t1
            r_hi += coef[k] * t0
    if inverse:
        if rmax * rmax * max(r_hi, 0.0) < 1.0 - 1e-9:
            return 1
        if r_lo > 0.0 and rmin * rmin * r_lo > 1.0 + 1e-9:
            return -1
        return 0
    if rmax < r_lo - slack:
        return 1
    if rmin > r_hi + slack:
        return -1
    return 0


@numba.njit(cache=True, nogil=True)
def _star_voxels(out, z0, z1, y0, y1, x0, x1, sp, centre, coef, ea, eb, ec, degree, px, py, inverse):  # pragma: no cover - compiled
    """``out`` over the block: each voxel centre's ``rho <= radius`` by the numpy path's operations
    (v = i * sp - centre, rho = sqrt((v0^2 + v1^2) + v2^2), u = v / max(rho, 1e-9), then
    :func:`star_radius`'s sum; ``inverse``: ``rho * rho * sum <= 1``)."""
    for z in range(z0, z1):
        v0 = z * sp[0] - centre[0]
        for y in range(y0, y1):
            v1 = y * sp[1] - centre[1]
            for x in range(x0, x1):
                v2 = x * sp[2] - centre[2]
                rho = np.sqrt((v0 * v0 + v1 * v1) + v2 * v2)
                den = max(rho, 1e-9)
                _powers_xy(v0 / den, v1 / den, degree, px, py)
                s = _star_sum(coef, ea, eb, ec, px, py, v2 / den)
                out[z, y, x] = (rho * rho * s <= 1.0) if inverse else (rho <= s)


@numba.njit(cache=True, nogil=True)
def inside_star(shape, sp, centre, coef, ea, eb, ec, degree, block, inverse):  # pragma: no cover - compiled
    """``rho <= _radius(u, coef)`` with ``rho, u = _polar(shape, sp, centre)``: the voxel centres
    inside step 12's fitted star-shaped surface, as a bool array of ``shape``, bit for bit.  Blocks
    of ``block`` voxels per axis are bounded first (:func:`_star_block`, rigorous up to a rounding
    slack far below a voxel); a block wholly inside or outside is filled without evaluating its
    voxels, the others are split in halves per axis down to blocks of 2, and the voxels of the
    blocks the surface crosses are evaluated (:func:`_star_voxels`).  ``inverse`` (the near-ellipsoid option): ``coef``
    gives 1 / radius^2 (``rho^2 x sum <= 1``)."""
    nz, ny, nx = shape[0], shape[1], shape[2]
    out = np.zeros((nz, ny, nx), np.bool_)
    px = np.empty(degree + 1)
    py = np.empty(degree + 1)
    scale = 0.0
    for k in range(coef.shape[0]):
        scale += abs(coef[k])
    slack = 1e-6 + 1e-9 * scale
    # a stack of blocks to look at: (z0, y0, x0, size)
    stack = np.empty((64, 4), np.int64)
    u = np.empty((3, 2))
    for bz in range(0, nz, block):
        for by in range(0, ny, block):
            for bx in range(0, nx, block):
                stack[0, 0] = bz
                stack[0, 1] = by
                stack[0, 2] = bx
                stack[0, 3] = block
                top = 1
                while top > 0:
                    top -= 1
                    z0, y0, x0, n = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3]
                    z1, y1, x1 = min(z0 + n, nz), min(y0 + n, ny), min(x0 + n, nx)
                    state = _star_block(z0, z1, y0, y1, x0, x1, sp, centre, coef, ea, eb, ec, slack, u, inverse)
                    if state == 1:
                        out[z0:z1, y0:y1, x0:x1] = True
                    elif state == 0:
                        if n <= 2:
                            _star_voxels(out, z0, z1, y0, y1, x0, x1, sp, centre, coef, ea, eb, ec, degree, px, py, inverse)
                        else:
                            h = (n + 1) // 2
                            for dz in (0, h):
                                for dy in (0, h):
                                    for dx in (0, h):
                                        if z0 + dz < z1 and y0 + dy < y1 and x0 + dx < x1:
                                            stack[top, 0] = z0 + dz
                                            stack[top, 1] = y0 + dy
                                            stack[top, 2] = x0 + dx
                                            stack[top, 3] = h
                                            top += 1
    return out


@numba.njit(cache=True, nogil=True)
def _min_plus_line(f, n, s, v, zb, out):  # pragma: no cover - compiled
    """``out[q] = min over p of f[p] + ((p - q) * s)^2`` for ``q < n`` (``f[p]`` = inf: no feature
    at p), each candidate's value computed as scipy's ``distance_transform_edt`` computes it.  The
    lower envelope of the parabolas (Felzenszwalb & Huttenlocher 2012) finds the candidate; a
    parabola is dropped from it only when it lies below the envelope nowhere, beyond rounding, and
    the envelope's members around the candidate whose values are within rounding of it are all
    evaluated, so the least value is found exactly (ties and rounded intersections included)."""
    k = -1
    for q in range(n):
        fq = f[q]
        if fq == math.inf:
            continue
        hq = fq + (q * s) * (q * s)
        sint = -math.inf
        while k >= 0:
            p = v[k]
            sint = (hq - (f[p] + (p * s) * (p * s))) / (2.0 * s * (q - p))
            if sint < zb[k] - 1e-9 * (1.0 + abs(zb[k])):
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        zb[k] = sint if k > 0 else -math.inf
    if k < 0:
        for q in range(n):
            out[q] = math.inf
        return
    j = 0
    for q in range(n):
        x = q * s
        while j < k and zb[j + 1] < x:
            j += 1
        p = v[j]
        d = float(p - q) * s
        best = f[p] + d * d
        tol = 1e-9 * (1.0 + best)
        # the envelope's values at q fall toward its least member and rise beyond it: walk both
        # ways while they are not above the best by more than rounding
        for step in (-1, 1):
            jj = j + step
            while 0 <= jj <= k:
                p = v[jj]
                d = float(p - q) * s
                val = f[p] + d * d
                if val < best:
                    best = val
                elif val > best + tol:
                    break
                jj += step
        out[q] = best


@numba.njit(cache=True, nogil=True)
def edt_sq(feat, s0, s1, s2):  # pragma: no cover - compiled
    """The squared distance (mm^2) of every voxel to the nearest True voxel of ``feat`` (3-D; inf
    where it has none), each sum formed as scipy's ``distance_transform_edt`` forms it:
    ``((d0 s0)^2 + (d1 s1)^2) + (d2 s2)^2`` with ``d`` the integer offsets.  Exact: the least of
    those values over every feature.  Floating-point addition is monotone, so the minimum splits
    into one pass per axis in that order (the nearest feature along axis 0, then the minimum of
    the partial sums plus the next axis's term along axes 1 and 2, :func:`_min_plus_line`)."""
    n0, n1, n2 = feat.shape
    g = np.full((n0, n1, n2), math.inf)
    last = np.empty((n1, n2), np.int64)
    _nearest_along_0(feat, g, s0, last, 0, n0, 1)  # axis 0: the nearest feature at or before a
    _nearest_along_0(feat, g, s0, last, n0 - 1, -1, -1)  # and at or after a
    nmax = max(n1, n2)
    f = np.empty(nmax, np.float64)
    o = np.empty(nmax, np.float64)
    v = np.empty(nmax, np.int64)
    zb = np.empty(nmax + 1, np.float64)
    for a in range(n0):  # axis 1
        for c in range(n2):
            for b in range(n1):
                f[b] = g[a, b, c]
            _min_plus_line(f, n1, s1, v, zb, o)
            for b in range(n1):
                g[a, b, c] = o[b]
    for a in range(n0):  # axis 2 (each row read in place)
        for b in range(n1):
            row = g[a, b]
            _min_plus_line(row, n2, s2, v, zb, o)
            for c in range(n2):
                row[c] = o[c]
    return g


@numba.njit(cache=True, nogil=True)
def _nearest_along_0(feat, g, s0, last, a0, a1, step):  # pragma: no cover - compiled
    """One sweep of :func:`edt_sq` along axis 0 (slices ``a0``, ``a0 + step``, ... before ``a1``):
    ``g`` lowered to the squared distance to the last feature met in each column."""
    last[:, :] = -1
    n1, n2 = last.shape
    a = a0
    while a != a1:
        for b in range(n1):
            for c in range(n2):
                if feat[a, b, c]:
                    last[b, c] = a
                if last[b, c] >= 0:
                    d = float(last[b, c] - a) * s0
                    dd = d * d
                    if dd < g[a, b, c]:
                        g[a, b, c] = dd
        a += step


@numba.njit(cache=True, nogil=True)
def ray_edge_search(dd, aa, bb, da, db, ab, o_lo, o_hi, c1, c2, c3, c4, c5):  # pragma: no cover - compiled
    """Step 13's rays' edge search (:func:`._rind_rays._edge_search`): for each ray k, over its inner
    edges i and outer edges o in row-major order, the residual ``dd[k] + c1 * bb[k, o] + c2 *
    aa[k, i] + c3 * db[k, o] + c4 * da[k, i] + c5 * ab[k, i, o]`` (added left to right, as the numpy
    expression is; infinite outside the valid pairs, ``o_lo[i] <= o < o_hi[i]``) and its first
    minimum as numpy's argmin finds it (the first NaN; else the first least value; the first
    element when every value is infinite); returns the flat index (i x n_outer + o) and the residual
    there per ray.  The products of each edge alone are formed once per ray and only the valid pairs
    are visited: the same operations on each pair, one pass instead of six array passes over every
    ray's grid."""
    k_rays = dd.shape[0]
    n_in, n_out = aa.shape[1], bb.shape[1]
    best = np.zeros(k_rays, dtype=np.int64)
    best_v = np.full(k_rays, np.inf)
    s_o = np.empty(n_out)
    r_o = np.empty(n_out)
    for k in range(k_rays):
        for o in range(n_out):
            s_o[o] = dd[k] + c1 * bb[k, o]
            r_o[o] = c3 * db[k, o]
        bi = 0
        bv = np.inf
        nan = False
        for i in range(n_in):
            q = c2 * aa[k, i]
            u = c4 * da[k, i]
            for o in range(o_lo[i], o_hi[i]):
                v = ((s_o[o] + q) + r_o[o]) + u
                v = v + c5 * ab[k, i, o]
                if v < bv:
                    bi, bv = i * n_out + o, v
                elif v != v:
                    bi, bv, nan = i * n_out + o, v, True
                    break
            if nan:
                break
        # (no value below infinity: numpy's first element, valid or not, infinite or not a number
        # only when it is the NaN found above)
        best[k] = bi
        best_v[k] = bv
    return best, best_v


@numba.njit(cache=True, nogil=True)
def uniform_histogram(a, edges):  # pragma: no cover - compiled
    """``np.histogram(a, bins=edges.size - 1, range=(edges[0], edges[-1]))[0]`` for a float64 ``a``
    and the float64 edges numpy's ``linspace`` gives that range (:func:`._morph.histogram_mode`): per
    value numpy's uniform-bins path in its order (kept when within the range; the index
    ``int((x - first) / (last - first) * n)``, the last edge's value in the last bin, then moved
    down a bin when below its left edge and up when at or above its right edge but for the last
    bin), one pass instead of numpy's eight array passes."""
    n = edges.size - 1
    first, last = edges[0], edges[n]
    denom = last - first
    counts = np.zeros(n, dtype=np.int64)
    for i in range(a.size):
        x = a[i]
        if not (x >= first and x <= last):
            continue
        j = int(((x - first) / denom) * n)
        if j == n:
            j -= 1
        if x < edges[j]:
            j -= 1
        if x >= edges[j + 1] and j != n - 1:
            j += 1
        counts[j] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def float32_terms(y, use):  # pragma: no cover - compiled
    """Step 13's direction terms in float32 (:func:`._rind._float32_terms`): ``y`` (voxels x terms,
    float64) cast, as its transpose (terms x voxels, C-contiguous) and as the rows of the voxels
    ``use`` (a flat boolean per voxel), in order: numpy's ``ascontiguousarray(y.astype(float32).T)``
    and ``y.astype(float32)[use]`` (the same casts), in one pass over ``y`` blocked by 64 voxels
    instead of a cast, a strided transpose and a boolean gather."""
    n, k = y.shape
    m = 0
    for i in range(n):
        if use[i]:
            m += 1
    y_t = np.empty((k, n), dtype=np.float32)
    yu = np.empty((m, k), dtype=np.float32)
    r = 0
    for i0 in range(0, n, 64):
        i1 = min(i0 + 64, n)
        for j in range(k):
            for i in range(i0, i1):
                y_t[j, i] = np.float32(y[i, j])
        for i in range(i0, i1):
            if use[i]:
                for j in range(k):
                    yu[r, j] = y_t[j, i]
                r += 1
    return y_t, yu

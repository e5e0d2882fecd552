"""Compiled passes of step 13's surface fits' model evaluation (:mod:`._rind_gn`; 2026-12-06, eighth session; private).

Each Gauss-Newton evaluation of :func:`._rind_surfaces._gauss_newton_steps` renders the two surfaces on the fit's box
(their radii, a float32 product of the coefficients and the box's direction terms, then the partial-volume
indicators), blurs them at the fitted voxels and solves the three values by least squares; each step blurs
the two surfaces' ramps.  Here both surfaces' indicators are one pass
(:func:`indicators_at_into`, numpy's four passes each) and a ramp one (:func:`ramp_at_into`), only on the
voxels the blur at the fitted voxels reads (:func:`blur_reads`): the same float32 operations per element
in the same order, so the same blurred values **bit for bit** (the radii stay numpy's BLAS product, on
those voxels' columns, whose order of summation a loop would not reproduce).  docs/validation.md section 2.4,
"Step 13's speed (session of 2026-12-06, eighth)".  Imported only when the kernels are on
(:func:`._kernels.compiled`).
"""

from __future__ import annotations

import numba
import numpy as np

@numba.njit(cache=True, nogil=True)
def blur_reads(where, r0, r1, r2):  # pragma: no cover - compiled
    """The voxels (flat indices, C order) whose values :func:`._kernels_nb.gaussian_nearest_at` reads to
    blur at the voxels ``where`` with weights of radii ``r0``, ``r1``, ``r2`` (its spans, the same
    bounds): every other voxel of its input may hold anything, the blurred values are the same."""
    nz, ny, nx = where.shape
    x2 = np.full((nz, ny), nx, np.int64)
    e2 = np.zeros((nz, ny), np.int64)
    for z in range(nz):
        for y in range(ny):
            first = -1
            last = -1
            for x in range(nx):
                if where[z, y, x]:
                    if first < 0:
                        first = x
                    last = x
            if first >= 0:
                x2[z, y] = first
                e2[z, y] = last + 1
    x0 = np.full((nz, ny), nx, np.int64)
    e0 = np.zeros((nz, ny), np.int64)
    for z in range(nz):
        for y in range(ny):
            if e2[z, y] > x2[z, y]:
                lo = max(x2[z, y] - r2, 0)
                hi = min(e2[z, y] + r2, nx)
                for yy in range(max(y - r1, 0), min(y + r1, ny - 1) + 1):
                    x0[z, yy] = min(x0[z, yy], lo)
                    e0[z, yy] = max(e0[z, yy], hi)
    need = np.zeros((nz, ny, nx), np.bool_)
    for z in range(nz):
        for y in range(ny):
            if e0[z, y] > x0[z, y]:
                for zz in range(max(z - r0, 0), min(z + r0, nz - 1) + 1):
                    for x in range(x0[z, y], e0[z, y]):
                        need[zz, y, x] = True
    return np.flatnonzero(need)


@numba.njit(cache=True, nogil=True)
def offset_indicator_into(radius, idx, wd, rho, h, out):  # pragma: no cover - compiled
    """A surface of radii ``radius`` (float32, the box's voxels) plus the offsets ``wd`` (float64, at the
    voxels ``idx``) as a partial-volume indicator at those voxels, into ``out`` (flat float32):
    :func:`._rind._node_offsets`' ``_indicator(rho, radius + wd.astype(float32), h)``, the same float32
    operations (bit for bit) where ``idx`` says."""
    half = np.float32(0.5)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for jj in range(idx.shape[0]):
        j = idx[jj]
        r = radius[j] + np.float32(wd[jj])
        v = half - (rho[j] - r) / h[j]
        out[j] = min(max(v, zero), one)


@numba.njit(cache=True, nogil=True)
def ramp_at_into(soft, idx, h, out):  # pragma: no cover - compiled
    """:func:`ramps_into`' ramp of one indicator ``soft`` (flat float32) at the voxels ``idx`` only, into
    ``out`` (flat float32; its other voxels left as they are)."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for jj in range(idx.shape[0]):
        j = idx[jj]
        v = soft[j]
        out[j] = one / h[j] if (v > zero and v < one) else zero / h[j]


@numba.njit(cache=True, nogil=True)
def indicators_at_into(radii, idx, rho, h, s_in, s_out):  # pragma: no cover - compiled
    """:func:`indicators_into` at the voxels ``idx`` only (``radii``: 2 x ``len(idx)``, those voxels'), into
    ``s_in`` / ``s_out`` (flat float32; their other voxels left as they are)."""
    half = np.float32(0.5)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for jj in range(idx.shape[0]):
        j = idx[jj]
        v = half - (rho[j] - radii[0, jj]) / h[j]
        s_in[j] = min(max(v, zero), one)
        v = half - (rho[j] - radii[1, jj]) / h[j]
        s_out[j] = min(max(v, zero), one)

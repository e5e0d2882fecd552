"""A NIfTI mask on a sheared grid (a gantry-tilted series: its sform's slice axis is not
perpendicular to the rows and columns), placed on an image by its sform.

A :class:`~hcc_imaging.volume.Geometry` is orthogonal, and SimpleITK, which reads the other
NIfTI masks, takes the qform when the sform is sheared: a qform cannot hold a shear, so the mask
was placed on an orthogonal approximation of its grid (tester finding t5, 2026-12-06: a 15 degree
tilt, 2.8 mm off, +4.7 % volume, with a warning giving the same "voxel 0" for both affines, which
a shear does not move).  As nibabel reads it (sform_code > 0), the sform places each voxel: every
voxel of the image takes the value of the mask voxel its centre falls in (nearest neighbour
through the inverse sform).  Without an image to place it on, it is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Columns of a sform's 3 x 3 part whose cosine exceeds this are not perpendicular: a sheared grid.
SHEAR_COSINE = 1e-4

_RAS_LPS = np.diag([-1.0, -1.0, 1.0])


def sheared_sform(nii: Any) -> NDArray[np.float64] | None:
    """The sform (RAS, 4 x 4) of a NIfTI read by its sform (sform_code > 0) whose axes are not
    perpendicular; None otherwise (no sform, an orthogonal one, not a NIfTI-1/2 header)."""
    hdr = nii.header
    try:
        if int(hdr["sform_code"]) <= 0:
            return None
        sform = np.asarray(hdr.get_sform(), float)
    except (KeyError, ValueError, TypeError):
        return None
    cols = sform[:3, :3]
    norms = np.linalg.norm(cols, axis=0)
    if np.any(norms < 1e-9) or len(nii.shape) != 3:
        return None
    u = cols / norms
    g = np.abs(u.T @ u - np.eye(3))
    return sform if float(g.max()) > SHEAR_COSINE else None


def shear_angle_deg(sform: NDArray[np.float64]) -> float:
    """The largest departure from perpendicular between the sform's axes, degrees."""
    u = sform[:3, :3] / np.linalg.norm(sform[:3, :3], axis=0)
    g = np.clip(np.abs(u.T @ u - np.eye(3)).max(), 0.0, 1.0)
    return float(np.degrees(np.arcsin(g)))


def place_by_sform(arr_ijk: NDArray[Any], sform: NDArray[np.float64], geometry: Any) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """``arr_ijk`` (NIfTI voxel order i, j, k) placed on ``geometry``'s grid (slice, row, col) by
    nearest neighbour through the inverse ``sform``; and for each non-zero voxel of ``arr_ijk``
    (``np.nonzero`` order) whether its centre lies outside ``geometry``'s field."""
    shape = tuple(int(s) for s in geometry.shape)
    out = np.zeros(shape, dtype=arr_ijk.dtype)
    nz = np.argwhere(arr_ijk != 0)
    if nz.size == 0:
        return out, np.zeros(0, bool)
    # the mask's voxels in the image's index space: the box to fill, and what falls outside
    ras = sform[:3, :3] @ nz.T.astype(float) + sform[:3, 3:4]
    kji = np.asarray(geometry.lps_to_index((_RAS_LPS @ ras).T), float).reshape(-1, 3)
    outside = ~np.all((kji >= -0.5) & (kji <= np.asarray(shape) - 0.5), axis=1)
    if outside.all():
        return out, outside
    inside = kji[~outside]
    reach = np.abs(sform[:3, :3]).sum(axis=1).max() / min(float(s) for s in geometry.spacing)  # a voxel's extent
    lo = np.maximum(np.floor(inside.min(axis=0) - reach - 1), 0).astype(int)
    hi = np.minimum(np.ceil(inside.max(axis=0) + reach + 2), shape).astype(int)
    inv = np.linalg.inv(sform)
    n = np.asarray(arr_ijk.shape[:3])
    for k in range(lo[0], hi[0]):  # slice by slice: a full image's coordinates would not fit in memory
        jj, ii = np.meshgrid(np.arange(lo[1], hi[1]), np.arange(lo[2], hi[2]), indexing="ij")
        idx = np.stack([np.full(jj.shape, k), jj, ii], -1).reshape(-1, 3).astype(float)
        lps = np.asarray(geometry.index_to_lps(idx), float).reshape(-1, 3)
        ijk = np.rint(inv[:3, :3] @ (_RAS_LPS @ lps.T) + inv[:3, 3:4]).astype(np.int64)
        ok = np.all((ijk >= 0) & (ijk < n[:, None]), axis=0)
        vals = np.zeros(ijk.shape[1], dtype=arr_ijk.dtype)
        vals[ok] = arr_ijk[ijk[0, ok], ijk[1, ok], ijk[2, ok]]
        out[k, lo[1]:hi[1], lo[2]:hi[2]] = vals.reshape(jj.shape)
    return out, outside


def farthest_corner(shape: tuple[int, ...], a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[tuple[int, int, int], NDArray[np.float64], NDArray[np.float64]]:
    """The corner voxel (i, j, k) of a NIfTI of ``shape`` that affines ``a`` and ``b`` place
    farthest apart, and its RAS position under each (the first corner, voxel 0, on a tie)."""
    n = [int(v) for v in (list(shape) + [1, 1])[:3]]
    corners = np.array([[i, j, k, 1.0] for i in (0, n[0] - 1) for j in (0, n[1] - 1) for k in (0, n[2] - 1)]).T
    pa, pb = (a @ corners)[:3], (b @ corners)[:3]
    d = np.linalg.norm(pa - pb, axis=0)
    c = int(np.argmax(d > d.max() - 1e-6))
    return (int(corners[0, c]), int(corners[1, c]), int(corners[2, c])), pa[:, c], pb[:, c]

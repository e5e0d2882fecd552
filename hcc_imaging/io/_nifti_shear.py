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

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ..volume import LabelVolume, Volume

log = logging.getLogger("hcc_imaging.io.masks")

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


def load_sheared_nifti(path: Path, nii: Any, sform: NDArray[np.float64], reference: Volume | None,
                       label_names: Mapping[int, str] | None, threshold: float) -> LabelVolume:
    """A NIfTI whose sform is sheared (a gantry-tilted grid), placed on ``reference`` by its sform
    (module docstring); refused without a reference (an orthogonal grid cannot hold it)."""
    from ..volume import LabelVolume
    from ._mask_gaps import fill_interpolated_slices
    from ..errors import GeometryMismatchError
    from ._mask_base import MaskFormatError, _default_names, _label_dtype
    from ._mask_nifti import _label_values
    from .masks import _report_losses

    angle = shear_angle_deg(sform)
    if reference is None:
        raise MaskFormatError(
            f"{path}: its sform is sheared ({angle:.1f} degrees from perpendicular axes: a gantry-tilted grid), "
            "which a voxel grid of perpendicular axes cannot hold. Give the image to place it on "
            "(load_mask(path, reference=image); hcc-imaging measure does), or resample the mask onto an "
            "orthogonal grid first.")
    arr = _label_values(np.asanyarray(nii.dataobj), path, threshold)
    placed, outside = place_by_sform(arr, sform, reference.geometry)
    nz = arr[arr != 0]
    values = [int(v) for v in np.unique(nz)]
    before = {v: int(c) for v, c in zip(*np.unique(nz, return_counts=True), strict=True)}
    out_counts = ({int(v): int(c) for v, c in zip(*np.unique(nz[outside], return_counts=True), strict=True)}
                  if outside.any() else {})
    if values and not np.any(placed):
        raise GeometryMismatchError(
            f"mask {path.name} lies entirely outside the reference image grid (shape {reference.shape}); nothing is "
            "left when it is placed by its sform. Check that `reference` is the series the mask was drawn on.")
    qform = np.asarray(nii.header.get_qform(), float)
    (ci, cj, ck), ps, pq = farthest_corner(nii.shape, sform, qform)
    gap = float(np.linalg.norm(ps - pq))
    log.info("mask %s: sheared sform (%.1f degrees, a gantry-tilted grid), placed on the image (series %s) voxel by "
             "voxel by its sform%s.", path, angle, reference.series_instance_uid or "unknown",
             f" as nibabel reads it; its qform, which cannot hold a shear, differs by up to {gap:.1f} mm (voxel "
             f"({ci}, {cj}, {ck}): sform RAS {np.round(ps, 1).tolist()}, qform RAS {np.round(pq, 1).tolist()})"
             if int(nii.header["qform_code"]) > 0 else "")
    lv = LabelVolume(array=placed.astype(_label_dtype(max(values, default=0))), geometry=reference.geometry,
                     labels=_default_names(values, label_names),
                     frame_of_reference_uid=reference.frame_of_reference_uid,
                     source_series_instance_uid=reference.series_instance_uid,
                     meta={"source_file": path.name, "format": "nifti", "sheared_sform_deg": round(angle, 3)})
    lv = _report_losses(lv, before, out_counts, reference, path.name)
    return fill_interpolated_slices(lv, reference, path.name)

"""Find the aorta and the portal vein in an axial CT, for the image rule of the phase classifier.

A deliberately simple, anatomy-guided heuristic (no learning, no registration):

1. On axial slices of the middle 60 % of the stack: the body is the largest region above -300 HU;
   the vertebral body is the largest bone region (> 200 HU after a 1-pixel opening, holes filled, >= 300 mm^2) near the body midline in
   the posterior half.  Its anterior edge anchors the search.
2. **Aorta**: in a box just anterior to the vertebral body (from 10 mm right to 45 mm left of it,
   up to 45 mm in front, bone and 5 mm around it excluded), the brightest *homogeneous* spot (mean over a ~6 mm box, local SD
   below 30 HU) is taken as the aortic lumen.
3. **Portal vein**: in a box anterior and to the patient's right of the vertebral body (liver
   hilum), excluding 20 mm around the aorta, the brightest homogeneous spot.
4. Per-slice means are combined by the median over the slices where the spine was found.

It returns None when the volume is not CT, not axial, or the spine is found on too few slices.
Validated on the phantoms (all four phases) and on 3D-IRCADb patient 17 (the spots fall inside
the expert artery / portal-vein masks, ``tests/io/test_io_phases.py``); it has not been validated
on a wide range of patients, so its calls carry a lower confidence than tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..constants import AXIAL_TOL

if TYPE_CHECKING:  # pragma: no cover
    from ..volume import Volume

__all__ = ["find_vessels"]

_BODY_MIN_HU = -300.0
_BONE_MIN_HU = 200.0
_SPINE_MIN_AREA_MM2 = 300.0
_ROI_BOX_MM = 6.0
_HOMOGENEOUS_SD_HU = 30.0
_MIN_SLICES = 3


def _largest(mask: NDArray[np.bool_]) -> NDArray[np.bool_] | None:
    from scipy import ndimage

    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    sizes = np.bincount(lab.ravel())[1:]
    return np.asarray(lab == (int(np.argmax(sizes)) + 1))


def find_vessels(volume: Volume) -> tuple[float, float, NDArray[np.float64], NDArray[np.float64]] | None:
    """(aorta HU, portal-vein HU, aorta LPS point, portal-vein LPS point), or None when not found."""
    from scipy import ndimage

    g = volume.geometry
    if abs(abs(g.direction[2, 0]) - 1.0) > AXIAL_TOL:
        return None
    nk, nj, ni = g.shape
    if nk < _MIN_SLICES:
        return None
    # in-plane LPS coordinates of every pixel (the same for every slice of an axial volume)
    jj, ii = np.meshgrid(np.arange(nj), np.arange(ni), indexing="ij")
    col_dir, row_dir = g.direction[:, 1], g.direction[:, 2]
    x = jj * g.spacing[1] * col_dir[0] + ii * g.spacing[2] * row_dir[0]
    y = jj * g.spacing[1] * col_dir[1] + ii * g.spacing[2] * row_dir[1]
    px_area = g.spacing[1] * g.spacing[2]
    box = (max(1, round(_ROI_BOX_MM / g.spacing[1])), max(1, round(_ROI_BOX_MM / g.spacing[2])))
    aorta_vals, pv_vals, aorta_pts, pv_pts = [], [], [], []
    ks = np.unique(np.linspace(int(nk * 0.2), int(nk * 0.8), num=min(12, nk)).astype(int))
    for k in ks:
        img = np.asarray(volume.array[k], np.float32)
        body = _largest(img > _BODY_MIN_HU)
        if body is None:
            continue
        xb, yb = float(x[body].mean()), float(y[body].mean())
        bone = ndimage.binary_opening((img > _BONE_MIN_HU) & body, iterations=1)
        bone_lab, nb = ndimage.label(bone)
        spine = None
        best = 0.0
        for lab_id in range(1, nb + 1):
            comp = bone_lab == lab_id
            area = comp.sum() * px_area
            if area < _SPINE_MIN_AREA_MM2:
                continue
            cx, cy = float(x[comp].mean()), float(y[comp].mean())
            if abs(cx - xb) < 30.0 and cy > yb and area > best:
                spine, best = comp, area
        if spine is None:
            continue
        spine = ndimage.binary_fill_holes(spine)
        xv = float(x[spine].mean())
        yv = float(np.percentile(y[spine], 2))  # anterior edge (LPS y grows posteriorly)
        mean = ndimage.uniform_filter(img, size=box)
        sd = np.sqrt(np.maximum(ndimage.uniform_filter(img * img, size=box) - mean * mean, 0.0))
        bone_near = ndimage.binary_dilation(spine, iterations=max(1, round(5.0 / g.spacing[1])))
        homog = (sd < _HOMOGENEOUS_SD_HU) & body & (mean > -50.0) & ~bone_near
        r_ao = homog & (x > xv - 10) & (x < xv + 45) & (y > yv - 45) & (y < yv)
        if not r_ao.any():
            continue
        idx = np.argmax(np.where(r_ao, mean, -np.inf))
        aj, ai = np.unravel_index(idx, mean.shape)
        ax, ay = float(x[aj, ai]), float(y[aj, ai])
        near_ao = (x - ax) ** 2 + (y - ay) ** 2 < 20.0**2
        r_pv = homog & ~near_ao & (x < xv - 5) & (x > xv - 90) & (y > yv - 90) & (y < yv - 15)
        if not r_pv.any():
            continue
        idx = np.argmax(np.where(r_pv, mean, -np.inf))
        pj, pi = np.unravel_index(idx, mean.shape)
        aorta_vals.append(float(mean[aj, ai]))
        pv_vals.append(float(mean[pj, pi]))
        aorta_pts.append(g.index_to_lps([k, aj, ai]))
        pv_pts.append(g.index_to_lps([k, pj, pi]))
    if len(aorta_vals) < _MIN_SLICES:
        return None
    a_i = int(np.argsort(aorta_vals)[len(aorta_vals) // 2])
    p_i = int(np.argsort(pv_vals)[len(pv_vals) // 2])
    return (float(np.median(aorta_vals)), float(np.median(pv_vals)),
            np.asarray(aorta_pts[a_i]), np.asarray(pv_pts[p_i]))

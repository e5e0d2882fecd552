"""The reactive-rim element of :func:`hcc_imaging.segment.viable.viable_mask` (step 5), in mm.

A thin regular rim of enhancement around a treated zone is reactive, not viable (mRECIST,
``docs/criteria.md`` section 3); a nodule thicker than the rim is viable.  Step 5 tells them
apart by an opening: the union of every placement of an element that fits inside the
enhancing voxels.  The element is sized in mm, per axis:

* **Blur.** The enhancement test (step 2) reads a smoothed image of a blurred scan: a bright
  rim of true thickness ``t`` passes the threshold over a wider band.  Inside the lesion mask
  (the band's outer side is the mask's border) on a 1-D profile (liver 70 HU, rim, necrosis
  25 HU; scanner blur sigma 1 mm plus the 1 mm smoothing) a 2 mm rim passes over 0.7 mm at
  115 HU, 1.9 mm at 150 HU, 2.4 mm at 190 HU, 2.8 mm at 250 HU, 3.0 mm at 300 HU.  The band
  a reactive rim is allowed is ``W = t + 0.6 * sqrt(scanner_sigma**2 + smoothing_sigma**2)``
  (2.85 mm for the defaults; ``VIABLE_RIM_BLUR_ALLOWANCE_SIGMAS``): rims up to ~250 HU.
* **Sampling.** The element is the voxel offsets within a ball whose radius is the smallest
  that makes them wider than W along every direction (the sampled offsets, not the ball):
  no placement of it lies within a band W mm wide, so none fits in a rim, whatever its
  orientation.  A thicker nodule holds it.
* **Thick slices.** On slices thicker than W (3 and 5 mm) that would take 3 slices: a nodule
  on 2 slices would go.  There the element is in-plane, and a rim's tangential cap (the
  lesion's end slice, wholly enhancing in-plane over the lesion's non-enhancing inside) is
  told from a nodule along the slice axis (:func:`remove_rim`).

The element before 1.59 was ``floor((t/2 + spacing/2) / spacing)`` voxels of radius, at least
one: 3 voxels (2.1 mm) across on 0.7 mm pixels, which a blurred 1.5-2 mm bright rim fills
(viable diameters of 11-16 mm on rim-only lesions), and 3 slices along z, which removed every
nodule on 2 slices of 5 mm.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

from . import constants as C

__all__ = ["rim_band_mm", "rim_element"]


def rim_band_mm(thickness_mm: float, smoothing_sigma_mm: float) -> float:
    """Widest band (mm) over which a reactive rim ``thickness_mm`` thick passes the enhancement
    test after the scanner's blur and the ``smoothing_sigma_mm`` smoothing (0 when no rim rule)."""
    if thickness_mm <= 0:
        return 0.0
    blur = math.hypot(C.VIABLE_RIM_SCANNER_BLUR_SIGMA_MM, smoothing_sigma_mm)
    return float(thickness_mm + C.VIABLE_RIM_BLUR_ALLOWANCE_SIGMAS * blur)


def _min_width_mm(points: NDArray[np.float64], dims: int) -> float:
    """Smallest width (mm) of the point set ``points`` (N x 3, mm) over every direction (``dims`` 3)
    or every in-plane direction (``dims`` 2): exact, over the directions where a convex polytope's
    width can be least (its facets' normals; in 3-D also the cross products of two edges)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = points[:, 1:] if dims == 2 else points
    if np.any(np.ptp(pts, axis=0) <= 0):
        return 0.0
    try:
        hull = ConvexHull(pts)
    except QhullError:  # flat: no width
        return 0.0
    normals = hull.equations[:, :-1]
    if dims == 3:
        edges = {tuple(sorted((int(a), int(b)))) for f in hull.simplices for a, b in ((f[0], f[1]), (f[1], f[2]), (f[0], f[2]))}
        vec = np.asarray([pts[b] - pts[a] for a, b in edges], float)
        cross = np.cross(vec[:, None, :], vec[None, :, :]).reshape(-1, 3)
        norm = np.linalg.norm(cross, axis=1)
        normals = np.concatenate([normals, cross[norm > 1e-9] / norm[norm > 1e-9, None]])
    hp = pts[hull.vertices]
    proj = hp @ normals.T
    return float((proj.max(axis=0) - proj.min(axis=0)).min())


def rim_element(thickness_mm: float, smoothing_sigma_mm: float,
                spacing: tuple[float, float, float]) -> NDArray[np.bool_] | None:
    """Opening element that fits in no reactive rim; None when ``thickness_mm`` is 0.

    The voxel offsets within a ball of radius R mm, R the smallest (0.05 mm steps from W / 2,
    W = :func:`rim_band_mm`) whose offsets are wider than W along every direction: no
    placement lies within a band W mm wide, whatever its orientation.  On slices thicker than
    W the ball is in-plane, one slice thick (:func:`remove_rim` tells caps from nodules).
    """
    band = rim_band_mm(thickness_mm, smoothing_sigma_mm)
    if band <= 0:
        return None
    return _element(round(band, 6), tuple(float(v) for v in spacing))


@functools.lru_cache(maxsize=32)
def _element(band: float, spacing: tuple[float, float, float]) -> NDArray[np.bool_]:
    sp = np.asarray(spacing, float)
    dims = 2 if sp[0] > band else 3
    radius = band / 2.0
    while True:
        n = np.floor(radius / sp + 1e-9).astype(int)
        if dims == 2:
            n[0] = 0
        grids = np.meshgrid(*[np.arange(-k, k + 1) * s for k, s in zip(n, sp, strict=True)], indexing="ij")
        inside = sum(g * g for g in grids) <= radius * radius + 1e-9
        pts = np.stack([g[inside] for g in grids], axis=1)
        if _min_width_mm(pts, dims) > band:
            out = np.asarray(inside)
            out.setflags(write=False)
            return out
        radius += 0.05


def _neighbour(a: NDArray[np.bool_], step: int) -> NDArray[np.bool_]:
    """``a`` on the slice ``step`` (+1 / -1) away along axis 0 (False past the ends)."""
    out = np.zeros_like(a)
    if step > 0:
        out[:-1] = a[1:]
    else:
        out[1:] = a[:-1]
    return out


def remove_rim(enh: NDArray[np.bool_], lesion: NDArray[np.bool_], el: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``enh`` (enhancing voxels of the lesion ``lesion``) without its reactive rim (step 5).

    Opening by ``el`` (:func:`rim_element`), then one conditional dilation by it (the nodules'
    shaved edges back, rim farther than one element from a nodule not).  When ``el`` is one
    slice thick (slices thicker than the rim band) the opening is in-plane, and a rim's
    tangential cap, wholly enhancing in-plane on the lesion's end slice, is told from a nodule
    along the slice axis: an in-plane survivor whose slice is the lesion's last one on one
    side (no lesion there) while on the other side the lesion is there and does not enhance is
    a cap, and goes (what is left of it is re-opened in-plane).  A nodule on 2 slices keeps
    both (each lies over enhancing tissue); the conditional dilation then reaches one slice
    either way.
    """
    from scipy import ndimage as ndi

    opened = ndi.binary_opening(enh, structure=el)
    if el.shape[0] == 1 and opened.any():
        cap = np.zeros_like(opened)
        for step in (1, -1):
            cap |= ~_neighbour(lesion, step) & _neighbour(lesion & ~enh, -step)
        if (opened & cap).any():
            opened = ndi.binary_opening(opened & ~cap, structure=el)
        el = np.concatenate([el, el, el], axis=0)
    return np.asarray(ndi.binary_dilation(opened, structure=el) & enh & lesion)

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
* **Which axis is the slice axis** (:func:`rim_slice_axis`): chosen in the patient, never by
  the array's order, so the same voxels stored in any layout (an axial series re-stored as
  coronal slices, its axes transposed or reversed) give the same element and the same viable
  voxels.  Of the array axes whose spacing exceeds W, the one closest to patient S (an axial
  series' slices); when S is sampled finer than W, the only such axis (a coronal or sagittal
  acquisition's thick slices).  Until 2026-12-06 it was array axis 0: an axial 3 mm series
  stored as coronal slices (2.3 mm apart, S in the rows) got the 3-D element instead of the
  in-plane one and the cap test, and the sample phantom's L7 lost 33 of its 167 viable voxels
  (EASL product -11 %).  The spacings are compared at 12 significant digits (a coronal series'
  S spacing, computed from slice positions, may read 2.999999999999997 where the axial one reads 3.0).

The element before 1.59 was ``floor((t/2 + spacing/2) / spacing)`` voxels of radius, at least
one: 3 voxels (2.1 mm) across on 0.7 mm pixels, which a blurred 1.5-2 mm bright rim fills
(viable diameters of 11-16 mm on rim-only lesions), and 3 slices along z, which removed every
nodule on 2 slices of 5 mm.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..volume import AXIAL_DIRECTION
from . import constants as C

__all__ = ["rim_band_mm", "rim_element", "rim_slice_axis", "remove_rim"]


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


def _round_spacing(s: float) -> float:
    """A spacing to 12 significant digits (as ``measure._canonical``): the same spacing read as a
    pixel spacing (3.0) or computed from slice positions (2.999999999999997) is one number."""
    return float(f"{float(s):.12g}")


def _axis_key(d: NDArray[np.float64]) -> tuple[float, ...]:
    """Patient-fixed order of an axis direction ``d`` (LPS unit vector): closer to S first, then to
    P, then the signed components with the sign fixed (S, then P, then L component positive), which
    tells any two distinct axes of one grid apart whatever their array order or flips."""
    a = [round(abs(float(v)), 9) for v in d]
    lead = next((float(d[c]) for c in (2, 1, 0) if round(abs(float(d[c])), 9) > 0), 1.0)
    sign = -1.0 if lead < 0 else 1.0
    return (a[2], a[1], a[0], *(round(sign * float(d[c]), 9) for c in (2, 1, 0)))


def rim_slice_axis(band_mm: float, spacing: Sequence[float], direction: ArrayLike | None = None) -> int | None:
    """The array axis the rim element is one voxel thick along (the "slice axis" of the thick-slice
    rule), or None for a 3-D element.  ``direction``: column m the LPS unit vector of array axis m
    (None: an axial grid, axis 0 along S).  Of the axes whose spacing exceeds ``band_mm`` (the
    coarse axes): the one closest to patient S (an axial series' slices, however stored); when S
    is sampled finer, the only coarse axis (a coronal or sagittal acquisition's thick slices);
    with two coarse axes and S fine, none (3-D, as axis 0 fine always was).  Depends on where the
    axes lie in the patient and their spacings, not on their array order (module docstring); on
    a grid whose array axis 0 is along S, the rule until 2026-12-06 (axis 0 when it is coarse)
    except in-plane pixels coarser than the band along one side only."""
    sp = [_round_spacing(v) for v in spacing]
    coarse = [a for a in range(3) if sp[a] > band_mm]
    if not coarse:
        return None
    d = AXIAL_DIRECTION if direction is None else np.asarray(direction, dtype=np.float64)
    s_axis = max(range(3), key=lambda a: _axis_key(d[:, a]))
    if s_axis in coarse:
        return s_axis
    return coarse[0] if len(coarse) == 1 else None


def rim_element(thickness_mm: float, smoothing_sigma_mm: float, spacing: Sequence[float],
                direction: ArrayLike | None = None) -> NDArray[np.bool_] | None:
    """Opening element that fits in no reactive rim; None when ``thickness_mm`` is 0.

    The voxel offsets within a ball of radius R mm, R the smallest (0.05 mm steps from W / 2,
    W = :func:`rim_band_mm`) whose offsets are wider than W along every direction: no
    placement lies within a band W mm wide, whatever its orientation.  On slices thicker than
    W the ball is in-plane, one voxel thick along the slice axis (:func:`rim_slice_axis`, from
    ``spacing`` and ``direction``; :func:`remove_rim` tells caps from nodules along it).
    """
    band = rim_band_mm(thickness_mm, smoothing_sigma_mm)
    if band <= 0:
        return None
    sp = tuple(_round_spacing(v) for v in spacing)
    axis = rim_slice_axis(round(band, 6), sp, direction)
    if axis is None:
        return _element(round(band, 6), sp, 3)
    # built with the slice axis first (in-plane axes in array order), then put where it lies
    order = (axis, *(a for a in range(3) if a != axis))
    el = _element(round(band, 6), tuple(sp[a] for a in order), 2)
    if axis == 0:
        return el
    out = np.ascontiguousarray(np.moveaxis(el, 0, axis))
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=32)
def _element(band: float, spacing: tuple[float, ...], dims: int) -> NDArray[np.bool_]:
    """The element on ``spacing`` (axis 0 first): 3-D (``dims`` 3) or in-plane, one voxel thick
    along axis 0 (``dims`` 2)."""
    sp = np.asarray(spacing, float)
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


def _neighbour(a: NDArray[np.bool_], step: int, axis: int) -> NDArray[np.bool_]:
    """``a`` on the slice ``step`` (+1 / -1) away along ``axis`` (False past the ends)."""
    out = np.zeros_like(a)
    src = [slice(None)] * a.ndim
    dst = [slice(None)] * a.ndim
    if step > 0:
        dst[axis], src[axis] = slice(None, -1), slice(1, None)
    else:
        dst[axis], src[axis] = slice(1, None), slice(None, -1)
    out[tuple(dst)] = a[tuple(src)]
    return out


def _flat_axis(el: NDArray[np.bool_]) -> int | None:
    """The axis ``el`` (:func:`rim_element`) is one voxel thick along (the slice axis), or None (3-D:
    an element wider than the band along every direction spans 3 voxels or more on every axis)."""
    return next((a for a in range(el.ndim) if el.shape[a] == 1), None)


def remove_rim(enh: NDArray[np.bool_], lesion: NDArray[np.bool_], el: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``enh`` (enhancing voxels of the lesion ``lesion``) without its reactive rim (step 5).

    Opening by ``el`` (:func:`rim_element`), then one conditional dilation by it (the nodules'
    shaved edges back, rim farther than one element from a nodule not).  When ``el`` is one
    voxel thick along an axis (the slice axis, :func:`rim_slice_axis`: slices thicker than the
    rim band) the opening is in-plane, and a rim's tangential cap, wholly enhancing in-plane on
    the lesion's end slice, is told from a nodule along the slice axis: an in-plane survivor
    whose slice is the lesion's last one on one side (no lesion there) while on the other side
    the lesion is there and does not enhance is a cap, and goes (what is left of it is
    re-opened in-plane).  A nodule on 2 slices keeps both (each lies over enhancing tissue);
    the conditional dilation then reaches one slice either way.
    """
    from scipy import ndimage as ndi

    opened = ndi.binary_opening(enh, structure=el)
    axis = _flat_axis(el)
    if axis is not None and opened.any():
        cap = np.zeros_like(opened)
        for step in (1, -1):
            cap |= ~_neighbour(lesion, step, axis) & _neighbour(lesion & ~enh, -step, axis)
        if (opened & cap).any():
            opened = ndi.binary_opening(opened & ~cap, structure=el)
        el = np.concatenate([el, el, el], axis=axis)
    return np.asarray(ndi.binary_dilation(opened, structure=el) & enh & lesion)

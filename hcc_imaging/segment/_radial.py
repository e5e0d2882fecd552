"""Star-shaped (radial) refinement of a heterogeneous lesion from a click: a shape model.

Used by :func:`hcc_imaging.segment.lesion.segment_lesion` when the click's region is enclosed by
non-parenchyma tissue (the heterogeneous test fires) but the region growing to the lesion border
is rejected because it is not enclosed (real, textured parenchyma; docs/validation.md section
2.3).  Region growing then either stops at the necrotic core or leaks along darker parenchyma and
vessels; no intensity threshold plus morphology separates the two on such tumours.

Method (the lesion is assumed star-shaped around the click, with a smooth border):

1. Rays from the seed in ``nth x nph`` directions (a regular polar / azimuth grid, polar angle
   measured from the slice axis, in mm space), sampled every ``LESION_RADIAL_STEP_MM`` on the
   smoothed image.
2. Along each ray a sample is *parenchyma-like* when it lies within ``k`` peak-widths of the
   parenchyma value (histogram mode near the lesion; width = half width at half maximum of that
   peak / 1.1774, i.e. the Gaussian sigma of the real, textured parenchyma, not the white-noise
   sigma) and inside the liver mask; tissue darker than the lesion's own darkest part (fat) or
   outside the image ends the ray as well.  The border on the ray is the start of the first
   run of ``LESION_RADIAL_RUN_MM`` of parenchyma-like samples beyond the clicked region.
3. Shape prior: the border radius map r(theta, phi) is median-filtered over
   ``LESION_RADIAL_MEDIAN_DEG`` of arc (wrapping in azimuth); a ray that stopped early on a
   parenchyma-like patch inside the tumour, or ran along a vessel, is outvoted by its neighbours.
4. Mask = voxels whose distance to the seed is below the interpolated radius in their direction,
   inside the liver, holes filled (the clicked region is not forced in: its thin protrusions are
   what the median removes).

Rejected (None) when more than ``LESION_RADIAL_MAX_OPEN_FRACTION`` of the rays never meet
parenchyma within the reach: the lesion is not enclosed by parenchyma (a leak, or not a lesion).

Reference: star-shaped ray-casting segmentation of liver lesions, Moltz et al., IEEE J Sel Top
Signal Process 2009;3:122-134 (ray casting + radial regularisation of a region growing seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from . import constants as C
from ._morph import component_at, fill_holes


def peak_value_and_width(values: NDArray[np.floating], bin_width: float) -> tuple[float, float] | None:
    """Mode of ``values`` and the Gaussian sigma of its peak (half width at half maximum / 1.1774).

    The histogram (``bin_width`` bins, 3-bin box smoothing) is read between the 1st and 99th
    percentiles.  None when fewer than 50 values are given.
    """
    v = np.asarray(values, float)
    if v.size < 50:
        return None
    lo, hi = np.percentile(v, [1, 99])
    nb = int(max(3, min(2000, math.ceil((hi - lo) / max(bin_width, 1e-3)))))
    hist, edges = np.histogram(v, bins=nb, range=(lo, hi + 1e-3))
    hs = np.convolve(hist.astype(float), np.ones(3) / 3.0, mode="same")
    k = int(np.argmax(hs))
    half = 0.5 * hs[k]
    left = k
    while left > 0 and hs[left] > half:
        left -= 1
    right = k
    while right < nb - 1 and hs[right] > half:
        right += 1
    centres = 0.5 * (edges[:-1] + edges[1:])
    hwhm = 0.5 * (centres[right] - centres[left])
    return float(centres[k]), float(max(hwhm / math.sqrt(2.0 * math.log(2.0)), bin_width))


def _directions(n_polar: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    th = (np.arange(n_polar) + 0.5) / n_polar * np.pi
    ph = np.arange(2 * n_polar) / (2 * n_polar) * 2.0 * np.pi
    tt, pp = np.meshgrid(th, ph, indexing="ij")
    u = np.stack([np.cos(tt), np.sin(tt) * np.sin(pp), np.sin(tt) * np.cos(pp)], axis=-1)
    return th, ph, u


def radial_refine(
    smooth: NDArray[np.float32],
    click: NDArray[np.bool_],
    seed: Sequence[int],
    spacing: Sequence[float],
    liver: NDArray[np.bool_] | None,
    parenchyma: float,
    width: float,
    floor: float,
    reach_mm: float,
) -> NDArray[np.bool_] | None:
    """Star-shaped lesion mask around ``seed`` (see the module docstring), or None (not enclosed).

    Parameters
    ----------
    smooth : the smoothed image (a box around the seed).
    click : the clicked region on the same box (always kept).
    seed : seed voxel in the box.
    spacing : voxel spacing (mm).
    liver : liver mask on the box, or None.
    parenchyma, width : parenchyma value and the sigma of its histogram peak (image units).
    floor : samples below this end a ray (darker than any lesion tissue: fat, air).
    reach_mm : longest ray (mm).
    """
    from scipy import ndimage as ndi

    sp = np.asarray(spacing, float)
    c = np.asarray(seed, float)
    th, ph, u = _directions(C.LESION_RADIAL_POLAR_STEPS)
    nth, nph = th.size, ph.size
    step = C.LESION_RADIAL_STEP_MM
    r = np.arange(0.0, reach_mm + 1e-9, step)
    pts = c + u[:, :, None, :] * (r[None, None, :, None] / sp)
    coords = pts.reshape(-1, 3).T
    shape = np.asarray(smooth.shape)
    inside_img = np.all((coords >= 0) & (coords <= (shape - 1)[:, None]), axis=0).reshape(nth, nph, r.size)
    prof = ndi.map_coordinates(smooth, coords, order=1, mode="nearest").reshape(nth, nph, r.size)
    in_click = ndi.map_coordinates(click.astype(np.uint8), coords, order=0, mode="constant").reshape(nth, nph, r.size) > 0
    k = C.LESION_RADIAL_PARENCHYMA_K_SIGMA * width
    stop = (np.abs(prof - parenchyma) <= k) | (prof < floor) | ~inside_img
    if liver is not None:
        stop |= ndi.map_coordinates(liver.astype(np.uint8), coords, order=0, mode="constant").reshape(nth, nph, r.size) == 0
    stop &= ~in_click
    # the border: first sample that starts a run of LESION_RADIAL_RUN_MM stop samples
    n_run = max(1, int(round(C.LESION_RADIAL_RUN_MM / step)))
    cs = np.concatenate([np.zeros((nth, nph, 1)), np.cumsum(stop, axis=-1)], axis=-1)
    run = (cs[..., n_run:] - cs[..., :-n_run]) >= n_run
    # a run cut short by the end of the ray still ends it when the ray left the image / liver
    hit = run.any(axis=-1)
    radius = np.full((nth, nph), float(r[-1]))
    radius[hit] = r[np.argmax(run, axis=-1)[hit]]
    if float(np.mean(~hit)) > C.LESION_RADIAL_MAX_OPEN_FRACTION:
        return None
    # shape prior: median over an arc (wrapping in azimuth)
    cell_deg = 180.0 / nth
    size = max(1, int(round(C.LESION_RADIAL_MEDIAN_DEG / cell_deg)) | 1)
    half = size // 2
    padded = np.concatenate([radius[:, -half:], radius, radius[:, :half]], axis=1) if half else radius
    filt = ndi.median_filter(padded, size=(size, size), mode="nearest")
    radius = filt[:, half:half + nph] if half else filt
    # voxels of the box inside the star
    r_max = float(radius.max()) + step
    lo = np.maximum(np.floor(c - r_max / sp).astype(int), 0)
    hi = np.minimum(np.ceil(c + r_max / sp).astype(int) + 1, shape)
    grids = np.ogrid[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))]
    dz, dy, dx = ((g - cc) * s for g, cc, s in zip(grids, c, sp, strict=True))
    dist = np.sqrt(dz**2 + dy**2 + dx**2)
    polar = np.arccos(np.clip(dz / np.maximum(dist, 1e-9), -1.0, 1.0))
    azim = np.mod(np.arctan2(dy, dx), 2.0 * np.pi)
    ti, pi_ = np.broadcast_arrays(polar / np.pi * nth - 0.5, azim / (2.0 * np.pi) * nph)
    wrapped = np.concatenate([radius, radius[:, :1]], axis=1)
    rad_vox = ndi.map_coordinates(wrapped, [ti.ravel(), pi_.ravel()], order=1, mode="nearest").reshape(dist.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    out = np.zeros(smooth.shape, bool)
    out[box] = dist <= rad_vox
    if liver is not None:
        out &= liver
    # the clicked region is not forced in: a thin protrusion of it (a leak along a vessel) is what
    # the median over directions removes
    out = component_at(out, tuple(int(v) for v in seed), click)
    filled = np.zeros_like(out)
    filled[box] = fill_holes(out[box])
    return filled | out

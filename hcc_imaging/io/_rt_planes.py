"""Fill an RTSTRUCT ROI's closed planar contours on an image's slices, plane by plane.

An RTSTRUCT's contours need not lie on the image's slices: drawn on a thin reconstruction of the
same frame of reference (1.25 mm planes on a 2.5 mm series) or on a series with other slice
positions, several contour planes fall near one image slice.  Rounding each contour to its nearest
slice and combining them there by the even-odd rule (meant for a hole inside an outline, in ONE
plane) cut ring-shaped holes where two planes' outlines differ, and the end slices gained the
sections of the planes half-way past them (until 2026-12-06).

Here the contours are grouped by plane (positions along the slice normal within
:data:`SAME_PLANE_FRACTION` of a slice spacing are one plane) and each plane is filled on its own,
its contours combined even-odd (holes).  The stack of planes is then resampled onto the image's
slices, nearest neighbour: an image slice takes the nearest contour plane when it is no farther
than half the image's slice spacing and half the contour planes' own spacing (beyond that a plane
with no contour, i.e. outside the ROI, is nearer); planes equally near are OR-combined.  Planes
left out by that rule that lie wholly between two slices neither of which holds the ROI (a lesion
thinner than the slice spacing, drawn on a thinner reconstruction) go to the nearer slice (the
planes nearest to it; every plane inside the image is within half a slice spacing of one): such a
ROI was left empty with a warning (until 2026-12-06).  Contours
more than :data:`ON_SLICE_TOLERANCE` slice spacings off the slice that takes them are reported
(:class:`PlanePlacement`), for the caller's warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

#: A contour plane within this fraction of the image's slice spacing of an image slice lies ON it;
#: one farther off is moved to the slice (and reported) or, when a nearer plane exists, not used.
ON_SLICE_TOLERANCE = 0.25
#: Contours whose positions along the slice normal differ by at most this fraction of the image's
#: slice spacing are in one plane (their outlines combine even-odd: a contour inside another is a hole).
SAME_PLANE_FRACTION = 0.05
log = logging.getLogger(__name__)

_TIE_SLICES = 1e-3  # planes this close (in slices) to equally near are a tie: OR-combined


@dataclass
class PlanePlacement:
    """How an ROI's contour planes were placed on the image's slices (offsets in mm)."""

    n_used: int = 0  # contours filled on an image slice
    n_outside: int = 0  # contours whose plane lies beyond the image's first / last slice
    voxels_outside: int = 0  # their in-plane area, in the image's voxels
    moved_mm: list[float] = field(default_factory=list)  # per used plane more than the tolerance off: its offset
    # inside the image, off every slice, not used (a nearer plane fills the slice): their offsets
    unused_planes_mm: list[float] = field(default_factory=list)
    # planes wholly between two slices that hold nothing else of the ROI, placed on the nearer: their offsets
    between_mm: list[float] = field(default_factory=list)


def fill_planes(
    contours: Sequence[tuple[float, NDArray[np.bool_]]], shape: Sequence[int], slice_spacing_mm: float
) -> tuple[NDArray[np.bool_], PlanePlacement]:
    """``contours``: (fractional slice index of the contour's plane, its filled in-plane mask) per
    contour.  Returns the ROI's mask on the image grid ``shape`` and how its planes were placed."""
    nk = int(shape[0])
    mask = np.zeros(tuple(shape), dtype=bool)
    place = PlanePlacement()
    if not contours:
        return mask, place
    order = sorted(range(len(contours)), key=lambda i: contours[i][0])
    # group into planes (single linkage along the normal)
    groups: list[list[int]] = [[order[0]]]
    for i in order[1:]:
        if contours[i][0] - contours[groups[-1][-1]][0] <= SAME_PLANE_FRACTION:
            groups[-1].append(i)
        else:
            groups.append([i])
    pos = np.array([float(np.mean([contours[i][0] for i in g])) for g in groups])
    planes = []
    for g in groups:
        sl = np.zeros(tuple(shape[1:]), dtype=bool)
        for i in g:
            sl ^= contours[i][1]  # even-odd within ONE plane: a contour inside another is a hole
        planes.append(sl)
    inside = np.array([0 <= int(np.rint(p)) < nk for p in pos])
    for j in np.flatnonzero(~inside):
        place.n_outside += len(groups[j])
        place.voxels_outside += int(np.count_nonzero(planes[j]))
    step = float(np.min(np.diff(pos))) if len(pos) > 1 else np.inf  # the contour planes' own spacing, slices
    reach = min(0.5, 0.5 * step) + _TIE_SLICES
    used = np.zeros(len(pos), dtype=bool)
    for k in range(nk):
        d = np.abs(pos - k)
        d_min = float(d.min())
        if d_min > reach:
            continue
        for j in np.flatnonzero(d <= d_min + _TIE_SLICES):
            mask[k] |= planes[j]
            if not used[j] and d[j] > ON_SLICE_TOLERANCE:
                place.moved_mm.append(float(d[j]) * slice_spacing_mm)
            used[j] = True
    _place_between(pos, planes, used, mask, place, slice_spacing_mm)
    place.n_used = int(sum(len(groups[j]) for j in np.flatnonzero(used)))
    for j in np.flatnonzero(inside & ~used):
        off = abs(pos[j] - np.rint(pos[j]))
        if off > ON_SLICE_TOLERANCE:
            place.unused_planes_mm.append(float(off) * slice_spacing_mm)
    return mask, place


def _place_between(pos: NDArray[np.float64], planes: list[NDArray[np.bool_]], used: NDArray[np.bool_],
                   mask: NDArray[np.bool_], place: PlanePlacement, slice_spacing_mm: float) -> None:
    """Planes left unused between two image slices neither of which holds the ROI (a thin lesion
    drawn on a thinner reconstruction, wholly between two slices: it vanished, until 2026-12-06) go
    to the nearest of those slices, at most half a slice spacing away: the planes nearest to it
    (ties OR-combined).  A gap next to a slice that holds the ROI gains nothing (its end slices
    stay as the nearest-plane rule above made them)."""
    nk = mask.shape[0]
    gaps: dict[int, list[int]] = {}
    for j in np.flatnonzero(~used):
        if -0.5 <= pos[j] <= nk - 0.5:
            gaps.setdefault(int(np.floor(pos[j])), []).append(int(j))
    for a in sorted(gaps):
        sides = [k for k in (a, a + 1) if 0 <= k < nk]
        if any(mask[k].any() for k in sides):
            continue
        d = {(j, k): abs(float(pos[j]) - k) for j in gaps[a] for k in sides}
        best = min(d.values())
        if best > 0.5 + _TIE_SLICES:
            continue
        target = min((k for (j, k), v in d.items() if v <= best + _TIE_SLICES))
        for j in gaps[a]:
            if d[(j, target)] <= best + _TIE_SLICES:
                mask[target] |= planes[j]
                used[j] = True
                place.moved_mm.append(d[(j, target)] * slice_spacing_mm)
                place.between_mm.append(d[(j, target)] * slice_spacing_mm)


def warn_off_slice(path: object, name: str, place: PlanePlacement, spacing_mm: float, series: str | None) -> None:
    """Warn when an ROI's contour planes lie between the image's slices (moved or not used)."""
    if not place.moved_mm and not place.unused_planes_mm:
        return
    parts = []
    if place.moved_mm:
        parts.append(f"{len(place.moved_mm)} contour plane(s) moved to the nearest image slice, up to "
                     f"{max(place.moved_mm):.2f} mm")
    if place.between_mm:
        parts.append(f"{len(place.between_mm)} of them lay wholly between two slices holding nothing else of "
                     f"the ROI (a part thinner than the slice spacing) and were placed on the nearer slice, "
                     f"{min(place.between_mm):.2f} mm away")
    if place.unused_planes_mm:
        parts.append(f"{len(place.unused_planes_mm)} plane(s) between the slices not used (an image slice has "
                     "a nearer contour plane)")
    log.warning("RTSTRUCT %s: ROI %r has contours off the image's slices (series %s, slices every %.2f mm; "
                "tolerance %.2f mm): %s. The contours were drawn on another series (other slice positions or "
                "a thinner reconstruction); check that volume and diameters are as expected, or pass that "
                "series as the reference.", path, name, series or "unknown", spacing_mm,
                ON_SLICE_TOLERANCE * spacing_mm, "; ".join(parts))

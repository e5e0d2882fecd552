"""A lesion's frame in one patient-fixed array layout (the viable rule's search runs there).

The mRECIST viable-diameter rule (:mod:`.viable`) is a discrete search over segments between
viable voxel centres, and several of its steps see the order in which the voxels are stored:
equally long valid segments (common on a grid) are taken in array order, the first one wins and
only it is moved to the sub-voxel boundary; equally long segments on two slices go to the lower
slice index; a sample exactly half-way between two voxels rounds to the even index; the
perpendicular run (viable short axis) is sampled on a grid starting at one end of the line.
The same voxels stored in another layout - columns transposed or reversed, slices stored as
coronal rows - therefore gave another viable diameter (9.87 vs 9.78 mm on the sample phantom's
L3) and EASL product.

:func:`canonical_frame` re-indexes a frame so that its array layout depends only on where the
voxels are in the patient: frame axis 0 runs towards S, axis 1 (rows) is the in-plane axis
closer to the A-P axis and runs towards P, axis 2 (columns) runs towards L - the layout of an
ordinary axial DICOM series (rows P, columns L, slices sorted along +S), for which it is the
frame itself.  Any signed permutation of the same axis-aligned voxels gives the same array,
hence the same lines in LPS (to rounding).  The spacings are rounded to 12 significant digits
(:func:`_round_spacing`): a coronal series' slice spacing, computed from its slice positions,
is 2.299999999999997 mm where the axial series' pixel spacing reads 2.3, and that last bit
reordered equally long segments.  The rule's ties are then broken by patient position:
the "lowest slice" is the most inferior one, and voxel pairs are taken in rows from anterior to
posterior, each row from right to left.  (A grid rotated within the axial plane holds other
voxels than an axis-aligned one: there only its signed permutations give the same numbers.)

:func:`patient_order` puts a split lesion's equal fragments in the same (patient) order, so the
fragment that gives the reported lines does not depend on the storage either.
"""

from __future__ import annotations

import numpy as np

from ._frame import AxialFrame

__all__ = ["canonical_frame", "patient_order"]


def _row_key(d: np.ndarray) -> tuple[float, float]:
    """Sort key of an in-plane axis direction (LPS) for the row axis: closest to A-P first; at a
    tie (an in-plane rotation of 45 degrees) the one turned towards R (after pointing it to P)."""
    p = float(d[1])
    sign = -1.0 if p < 0 else 1.0
    return (-round(abs(p), 9), round(sign * float(d[0]), 9))


def canonical_frame(frame: AxialFrame) -> AxialFrame:
    """``frame`` re-indexed in the patient-fixed layout (module docstring): the same voxels, the
    same crop box, its axes permuted in-plane and flipped.  Returns ``frame`` itself when it is
    already in that layout (an ordinary axial series, or a frame this function returned), so
    nothing is copied then."""
    d = np.asarray(frame.labels.direction, dtype=np.float64)
    # the LPS direction of each frame axis as the frame stands (its flips included)
    eff = [d[:, frame.perm[a]] * (-1.0 if frame.flips[a] else 1.0) for a in range(3)]
    inplane = sorted((1, 2), key=lambda a: _row_key(eff[a]))
    order = (0, inplane[0], inplane[1])  # new frame axis b = old frame axis order[b]
    # flip (relative to the frame as it stands) so that axis 0 runs to S, rows to P, columns to L
    comp = (2, 1, 0)
    rel = tuple(bool(eff[order[b]][comp[b]] < 0.0) for b in range(3))
    sp = frame.labels.spacing
    spacing = (sp[frame.perm[order[0]]], sp[frame.perm[order[1]]], sp[frame.perm[order[2]]])
    rounded = (_round_spacing(spacing[0]), _round_spacing(spacing[1]), _round_spacing(spacing[2]))
    if order == (0, 1, 2) and not any(rel) and (rounded == spacing if frame.grid_spacing is None
                                                 else rounded == frame.grid_spacing):
        return frame  # (an ordinary axial series, or a frame this function made)
    mask = frame.mask if order == (0, 1, 2) else np.transpose(frame.mask, order)
    if any(rel):
        mask = np.flip(mask, axis=tuple(b for b in range(3) if rel[b]))
    perm = (frame.perm[order[0]], frame.perm[order[1]], frame.perm[order[2]])
    flips = (frame.flips[order[0]] != rel[0], frame.flips[order[1]] != rel[1], frame.flips[order[2]] != rel[2])
    return AxialFrame(mask=np.ascontiguousarray(mask), labels=frame.labels, perm=perm, offset=frame.offset,
                      flips=flips, grid_spacing=rounded)


def _round_spacing(s: float) -> float:
    """A spacing to 12 significant digits: the same spacing read as a pixel spacing (2.3) or
    computed from slice positions (2.299999999999997) is one number, so equally long segments
    stay equally long (the rule's ties are exact comparisons)."""
    return float(f"{float(s):.12g}")


def patient_order(frame: AxialFrame, parts: list[AxialFrame]) -> list[AxialFrame]:
    """Sub-frames of ``frame`` (its fragments) largest first (voxel count), then by the corner
    of their box in the patient-fixed layout (the slice from inferior, the row from anterior,
    the column from right): for an ordinary axial series the order of
    :func:`.fragments.split_frame`; for the same voxels stored otherwise, the same fragments in
    the same order."""
    cf = canonical_frame(frame)

    def key(part: AxialFrame) -> tuple[int, float, float, float]:
        corners = part.to_index(np.array([[0.0, 0.0, 0.0], [s - 1.0 for s in part.mask.shape]]))
        start = cf.from_index(corners).min(axis=0)
        return (-int(np.count_nonzero(part.mask)), float(start[0]), float(start[1]), float(start[2]))

    return sorted(parts, key=key)

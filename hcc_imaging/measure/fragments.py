"""Labels with several separate pieces: a lesion that split (RECIST 1.1), or two lesions under one label.

A lesion mask is one 3-D connected piece (26-connectivity: voxels touching by a face, an edge or a
corner).  A label made of several pieces is usually either a lesion that split on treatment, or
two nodules a segmentation network gave the same ("tumour") label.  Measured as one object, its
longest diameter runs across the liver between the pieces (two 12 mm discs 42 mm apart: 54.7 mm).

RECIST 1.1 (Eisenhauer 2009, Appendix I, criteria.md section 2.3): "lesions that split: add the
longest diameters of the fragments"; mRECIST / EASL measure the viable parts, so the viable
diameter of a split lesion is the sum of its fragments' viable diameters (the same logic).  Which
reading applies is the named parameter ``fragments``:

* ``"sum"`` (default, :data:`~hcc_imaging.measure.constants.FRAGMENTS`): every piece whose largest
  in-plane extent is at least :data:`~hcc_imaging.measure.constants.FRAGMENT_MIN_DIAMETER_MM`
  is a fragment, measured on its own; the lesion's diameters are the sums of the fragments'
  (smaller pieces, noise specks, are left out of the diameters: they never change the LD);
* ``"hull"``: the label measured as one object whatever its pieces (the behaviour before
  2026-12-06; the LD may cross between pieces).

Pieces of one lesion sampled thickly (a thin lesion tilted across thick slices: a strip on each
slice, strips that do not touch under 26-connectivity) are joined first: pieces whose slice ranges
abut and whose sections on the two adjacent slices come within :data:`SAMPLING_GAP_SLICES` slice
spacings in-plane are one piece (:func:`_sampling_groups`; until 2026-12-06 their LDs were summed).

Either way the record says how many fragments the label has, and a label with two or more carries
a note (a warning in ``hcc-imaging measure``, ``mask_problems`` in the batch) that asks for two
labels if the pieces are two lesions.  Coalescing lesions (RECIST: measure the merged mass, give
the other 0 mm) need no rule here: a merged mass is one piece.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..errors import HccImagingError
from . import _kernels
from .constants import FRAGMENT_MIN_DIAMETER_MM, FRAGMENTS
from .diameters import AxialFrame

__all__ = ["FRAGMENT_RULES", "FragmentsParameterError", "check_fragments", "n_pieces", "split_frame", "fragments_note"]

#: Pieces on abutting slice ranges whose sections on the two adjacent slices are at most this many
#: slice spacings apart in-plane (nearest voxel centres) are one lesion sampled thickly, not fragments
#: (a surface through both is tilted at least atan(1/2) = 26.6 degrees from the axial plane).  A
#: 30 x 30 x 3 mm plate tilted 30 degrees on 5 mm slices leaves strips 3.6 mm apart, 5.4 mm at its
#: thinning edge (1.08 slice spacings): one slice spacing was too few.
SAMPLING_GAP_SLICES: float = 2.0

#: The values of ``fragments=``.
FRAGMENT_RULES: tuple[str, ...] = ("sum", "hull")


class FragmentsParameterError(HccImagingError, ValueError):
    """An unknown ``fragments=`` rule."""


def check_fragments(rule: str) -> str:
    """The rule, checked (``"sum"`` or ``"hull"``)."""
    rule = FRAGMENTS if rule is None else str(rule)
    if rule not in FRAGMENT_RULES:
        raise FragmentsParameterError(
            f"fragments={rule!r}: give 'sum' (RECIST 1.1's split lesion: the fragments' diameters summed) "
            "or 'hull' (the label measured as one object, its LD possibly between pieces)."
        )
    return rule


def _structure() -> NDArray[np.bool_]:
    return np.ones((3, 3, 3), dtype=bool)


def n_pieces(mask: NDArray[np.bool_]) -> int:
    """Number of 26-connected pieces of a 3-D mask (the compiled kernel, or scipy)."""
    k = _kernels.get("n_pieces")
    if k is not None:
        return int(k(mask if mask.dtype == np.bool_ else mask.astype(np.bool_)))  # (a view: no copy)
    from scipy import ndimage

    return int(ndimage.label(mask, structure=_structure())[1])


def _sub_frame(frame: AxialFrame, piece: NDArray[np.bool_]) -> AxialFrame:
    """The frame of one piece (a mask of ``frame.mask``'s shape): cropped to its box."""
    idx = [np.flatnonzero(piece.any(axis=tuple(b for b in range(3) if b != a))) for a in range(3)]
    box = tuple(slice(int(x[0]), int(x[-1]) + 1) for x in idx)
    offset = list(frame.offset)
    for a in range(3):  # (a flipped frame axis: the box's array start is at its far end)
        offset[frame.perm[a]] += piece.shape[a] - box[a].stop if frame.flips[a] else box[a].start
    return AxialFrame(mask=np.ascontiguousarray(piece[box]), labels=frame.labels, perm=frame.perm,
                      offset=(offset[0], offset[1], offset[2]), flips=frame.flips, grid_spacing=frame.grid_spacing)


def split_frame(frame: AxialFrame, min_diameter_mm: float = FRAGMENT_MIN_DIAMETER_MM) -> tuple[list[AxialFrame], int, float] | None:
    """None when the lesion is one piece (the common case, one fast pass) or only pieces smaller
    than ``min_diameter_mm``; else
    ``(fragments, n_specks, gap_mm)``: the frames of the pieces whose largest in-plane extent (outer
    voxel edges) is at least ``min_diameter_mm``, largest first (voxel count, then position in
    ``frame``; :func:`._canonical.patient_order` makes that a patient position), the
    number of smaller pieces, and the smallest distance between two fragments' voxel centres (mm;
    0.0 with fewer than two fragments)."""
    if n_pieces(frame.mask) <= 1:
        return None
    from scipy import ndimage

    lab, n = ndimage.label(frame.mask, structure=_structure())
    sr, sc = frame.spacing[1], frame.spacing[2]
    objs = ndimage.find_objects(lab)
    counts = np.bincount(lab.ravel(), minlength=n + 1)
    keep = []
    for v, box in enumerate(objs, start=1):
        ext = max((box[1].stop - box[1].start) * sr, (box[2].stop - box[2].start) * sc)
        if ext >= min_diameter_mm:
            keep.append(v)
    if not keep:  # only specks (a lesion of a few voxels): measured as it is
        return None
    groups = _sampling_groups(lab, objs, keep, frame.spacing)
    if len(groups) < len(keep):  # pieces of one lesion sampled thickly: one fragment each group
        for g in groups:
            for v in g[1:]:
                lab[lab == v] = g[0]
        keep = [g[0] for g in groups]
        counts = np.bincount(lab.ravel(), minlength=n + 1)
        objs = ndimage.find_objects(lab, max_label=n)
        if len(keep) == 1 and n - sum(len(g) for g in groups) == 0:
            return None  # one lesion, no specks: measured whole, as one piece
        keep.sort(key=lambda v: (-int(counts[v]), objs[v - 1][0].start, objs[v - 1][1].start, objs[v - 1][2].start))
    n_groups = n - sum(len(g) - 1 for g in groups)
    keep.sort(key=lambda v: (-int(counts[v]), objs[v - 1][0].start, objs[v - 1][1].start, objs[v - 1][2].start))
    frames = [_sub_frame(frame, lab == v) for v in keep]
    gap = 0.0
    if len(keep) >= 2:
        # the smallest distance from a fragment to the others (distance transform of the rest)
        sp = frame.spacing
        gaps = []
        for v in keep[:-1]:
            rest = np.isin(lab, [w for w in keep if w != v])
            dist = ndimage.distance_transform_edt(~rest, sampling=sp)
            gaps.append(float(dist[lab == v].min()))
        gap = min(gaps)
    return frames, n_groups - len(keep), gap


def _sampling_groups(lab: NDArray[np.integer], objs: list, keep: list[int], spacing: tuple[float, float, float]) -> list[list[int]]:
    """The pieces ``keep`` grouped into lesions sampled thickly (docs/measure.md section 3): two
    pieces are one lesion when one ends on the slice before the other begins (no slice holds both)
    and their sections on those two slices come within :data:`SAMPLING_GAP_SLICES` slice spacings
    of each other in-plane (nearest voxel centres): a thin lesion tilted across thick slices, whose
    sections on adjacent slices do not touch under 26-connectivity.  Pieces sharing a slice (side by side in-plane), or
    with a slice between them, stay separate.  Groups in ``keep``'s order, each led by its first."""
    from scipy import ndimage

    dz, sr, sc = spacing
    parent = {v: v for v in keep}

    def root(v: int) -> int:
        while parent[v] != v:
            v = parent[v]
        return v

    for a in keep:
        for b in keep:
            ka, kb = objs[a - 1][0], objs[b - 1][0]
            if a == b or ka.stop != kb.start:  # a's last slice is just before b's first
                continue
            sec_a, sec_b = lab[ka.stop - 1] == a, lab[kb.start] == b
            dist = ndimage.distance_transform_edt(~sec_b, sampling=(sr, sc))
            if float(dist[sec_a].min()) <= SAMPLING_GAP_SLICES * dz and root(a) != root(b):
                parent[root(b)] = root(a)
    out: dict[int, list[int]] = {}
    for v in keep:
        out.setdefault(root(v), []).append(v)
    return sorted(out.values(), key=lambda g: keep.index(g[0]))


def fragments_note(lesion_id: str, n_fragments: int, gap_mm: float, rule: str, diameters_mm: list[float]) -> str:
    """The record's / warning's text for a label of ``n_fragments`` >= 2 pieces."""
    parts = " + ".join(f"{d:.1f}" for d in diameters_mm)
    how = (f"measured as a split lesion (RECIST 1.1: the fragments' longest diameters summed, {parts} mm)"
           if rule == "sum" else "measured as one object (fragments='hull': its longest diameter may run between the pieces)")
    return (f"{lesion_id} has {n_fragments} separate pieces {gap_mm:.1f} mm apart: {how}; "
            "if they are separate lesions, give them separate labels")

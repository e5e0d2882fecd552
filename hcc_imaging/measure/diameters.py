"""RECIST long axis, short axis, 3-D Feret diameter and volume of a lesion mask, in mm.

The estimator (stated once, here and in ``docs/measure.md``)
------------------------------------------------------------
Every diameter in hcc_imaging runs between two points of a **sub-voxel estimate of the lesion
boundary** (``ESTIMATOR = "subvoxel-boundary-v6"``, :mod:`._subvoxel`):

1. the convex hull of the voxel centres finds *which* chord is the diameter (exact, fast:
   :mod:`._hull`);
2. each end is moved to the continuous boundary: on a slice whose boundary is reproduced by an
   ellipse (the ellipse fitted to the inside/outside midpoints puts every voxel centre of the
   box on the right side, except a few within 0.2 voxel of it) that ellipse is the boundary;
   otherwise a weighted parabola is fitted locally at each end.  A small lesion's central
   slices (centre-hull LD <= ``HOMOTHETIC_MAX_LD_VOXELS``) are first fitted together by
   homothetic ellipses (one shape and orientation, each slice its own size and centre), which
   are those slices' boundaries where they reproduce every one of them (v2).

Against analytic truth (ellipsoids 5-150 mm, rotations, sub-voxel offsets, spacings
1 mm iso to 5 x 0.6 x 0.6 mm, four direction matrices) LD, short axis and 3-D Feret are within
half the largest in-plane voxel for lesions >= 12 mm, and within one voxel below on the test
cases (not a guarantee: below ~10 voxels across identical masks come from lesions whose
truths differ by more than a voxel, docs/measure.md section 2).  What it
gives on digital shapes (1 mm voxels):

* a 10 x 10 voxel square: LD 13.38 mm (centres 12.73, edges 14.14: corners are rounded);
* a 10 x 1 voxel bar: LD 10.02 mm, short axis 1.17 mm (an ellipse reproduces the bar);
* a disc 10 voxels across: 9.98 mm; a single voxel: 0 mm; two voxels side by side: LD 2.00 mm,
  short axis 1.15 mm (an ellipse through their 6 boundary midpoints, as for the longer bars).

Definitions
-----------
* **Longest axial diameter** (RECIST 1.1, Eisenhauer et al. 2009, sec. 3.1/4.2): the longest
  in-plane distance on any slice of the **patient axial plane**, with its two endpoints (LPS)
  and the index of the slice.  Ties go to the lowest slice index.
* **Short axis**: the longest chord perpendicular to the LD on the LD's slice (RECIST nodes,
  WHO/EASL bidimensional products), found on the centre hull, ends on the boundary.
* **3-D Feret diameter**: the farthest pair of voxel centres, each end moved in-plane to the
  boundary of its slice (the truth is measured between sampled sections).
* **Volume**: voxel count x voxel volume (``prod(spacing)``), mm^3.  No partial-volume model.

Measurement plane
-----------------
The axial plane is found from the direction matrix: the array axis whose LPS direction is
+-S (within :data:`hcc_imaging.constants.AXIAL_TOL`).  It is usually axis 0, but any flip or
permutation is handled; the in-plane axes may be rotated within the axial plane.  When no array
axis is along S (coronal oblique, oblique MR), diameters are refused with
:class:`~hcc_imaging.errors.MeasurementPlaneError` unless ``reformat="axial"``, which first
resamples the labels (nearest neighbour) onto an axial grid
(:func:`hcc_imaging.volume.axial_reformat_geometry`).  The 3-D Feret diameter and the volume
need no plane.

Speed: row extremes of all slices at once, per-slice hulls by a vectorised monotone-chain
pruning and farthest pairs only on slices that can win (see :mod:`._hull`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MeasurementPlaneError
from ..volume import LabelVolume
from . import _homothetic, _hull, _subvoxel
from ._frame import (  # (the frame moved to _frame.py in the session of 2026-12-07, tenth: importable from here)
    AxialFrame,
    EmptyMaskError,
    Reformat,
    _lesion_mask,
    axial_axis,
    axial_frame,
    patient_frame,
    reformat_mode,
    resolve_label,
)
from .constants import ESTIMATOR, HOMOTHETIC_MAX_LD_VOXELS, HOMOTHETIC_MIN_AREA_FRACTION

__all__ = [
    "Reformat",
    "EmptyMaskError",
    "AxialDiameter",
    "FeretDiameter",
    "AxialFrame",
    "axial_axis",
    "axial_frame",
    "longest_axial_diameter",
    "short_axis",
    "feret_diameter_3d",
    "lesion_volume_mm3",
    "resolve_label",
    "reformat_mode",
]

Point3 = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class AxialDiameter:
    """A diameter measured in one patient axial plane.

    Attributes
    ----------
    length_mm : float
        Distance between the two endpoints, mm (each end at the sub-voxel boundary: ``ESTIMATOR``).
    endpoints_lps : tuple of two (x, y, z) tuples, mm
        The line as a reader would draw it, in DICOM patient coordinates.
    endpoints_index : tuple of two (k, j, i) tuples
        The same endpoints as continuous array indices of the measured label volume.
    slice_index : int
        Index of the axial plane along ``plane_axis`` of the label array.
    plane_axis : int
        The array axis normal to the axial plane (0 for an ordinary axial acquisition).
    """

    length_mm: float
    endpoints_lps: tuple[Point3, Point3]
    endpoints_index: tuple[Point3, Point3]
    slice_index: int
    plane_axis: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "length_mm": self.length_mm,
            "endpoints_lps": [list(p) for p in self.endpoints_lps],
            "endpoints_index": [list(p) for p in self.endpoints_index],
            "slice_index": self.slice_index,
            "plane_axis": self.plane_axis,
        }


@dataclass(frozen=True, slots=True)
class FeretDiameter:
    """The 3-D Feret (caliper) diameter: the largest distance between two voxel centres."""

    length_mm: float
    endpoints_lps: tuple[Point3, Point3]
    endpoints_index: tuple[Point3, Point3]

    def to_dict(self) -> dict[str, Any]:
        return {
            "length_mm": self.length_mm,
            "endpoints_lps": [list(p) for p in self.endpoints_lps],
            "endpoints_index": [list(p) for p in self.endpoints_index],
        }



# ------------------------------------------------------------------------------------------
# core computation shared by measure_lesion and the public helpers
# ------------------------------------------------------------------------------------------
def _outer(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``mask`` (frame order, axis 0 across the axial plane) with each slice's holes filled: the
    diameters are the lesion's outer extent, and a cavity left out of the mask (necrosis, a
    vessel) is inside it.  A hole made the section's ellipse fit fail and the fallback's end fit
    read the hole's edge: a 30 mm sphere with a 6 mm hole gave a short axis of 29.0 mm (30.0
    without).  The mask itself when it has no hole (the same object: nothing changes)."""
    from scipy import ndimage

    plane = np.zeros((3, 3, 3), dtype=bool)
    plane[1] = ndimage.generate_binary_structure(2, 1)  # in-plane 4-neighbours: holes per slice
    lab, n = ndimage.label(~mask, structure=plane)
    if n == 0:
        return mask
    # background pieces touching the slice's border are outside; the others are holes
    outside = np.zeros(n + 1, dtype=bool)
    for edge in (lab[:, 0, :], lab[:, -1, :], lab[:, :, 0], lab[:, :, -1]):
        outside[edge] = True
    outside[0] = True  # (label 0: the mask itself)
    holes = ~outside[lab]
    if not holes.any():
        return mask
    return mask | holes


@dataclass(frozen=True, slots=True)
class _Core:
    hulls: _hull.SliceHulls
    ld: AxialDiameter
    ld_pos: int  # index into hulls.slices
    ld_frame: tuple[NDArray[np.float64], NDArray[np.float64]]  # frame indices of LD endpoints (refined)
    ld_vertices: tuple[int, int]  # indices of the centre-hull LD vertices in the hull vertex arrays
    ld_centre_mm: float  # the centre-hull LD length (a lower bound for the centre 3-D Feret search)
    sections: "_Sections"
    #: the centre 3-D Feret pair(s) when computed with the LD (``_core(frame, feret=True)``)
    feret: tuple[int, int, float, list[tuple[int, int]]] | None = None


def _pt(a: NDArray[np.float64]) -> Point3:
    return (float(a[0]), float(a[1]), float(a[2]))


def _diameter(frame: AxialFrame, p_f: NDArray[np.float64], q_f: NDArray[np.float64], length: float) -> AxialDiameter:
    # frame -> array indices in Python floats (the same additions as AxialFrame.to_index)
    perm, off, flips = frame.perm, frame.offset, frame.flips
    last = frame.mask.shape
    ends = []
    for f in (p_f, q_f):
        fl = f.tolist()
        pt = [0.0, 0.0, 0.0]
        for a in range(3):
            pt[perm[a]] = ((last[a] - 1) - fl[a] if flips[a] else fl[a]) + off[perm[a]]
        ends.append(pt)
    lps = frame.labels.index_to_lps(ends).tolist()
    pa = frame.plane_axis
    return AxialDiameter(
        length_mm=float(length),
        endpoints_lps=(tuple(lps[0]), tuple(lps[1])),
        endpoints_index=(tuple(ends[0]), tuple(ends[1])),
        slice_index=int(round(ends[0][pa])),
        plane_axis=pa,
    )


class _Sections:
    """Per-slice ellipse models of a frame's mask, fitted on first use (None = not an ellipse)."""

    def __init__(
        self, mask: NDArray[np.bool_], spacing_rc: tuple[float, float], hulls: _hull.SliceHulls | None = None
    ) -> None:
        self.mask = mask
        self.spacing_rc = spacing_rc
        self._fits: dict[int, _subvoxel.EllipseSection | None] = {}
        #: the slices' boxes from their hull vertices (a set's extreme rows and columns are
        #: vertices of its hull), when the hulls are given
        self._hulls = hulls
        #: the slices whose sections are homothetic ellipses fitted together (in order)
        self.joint: list[int] = []

    def get(self, k: int) -> _subvoxel.EllipseSection | None:
        if k not in self._fits:
            self._fits[k] = _subvoxel.fit_ellipse(self.mask[k], self.spacing_rc)
        return self._fits[k]

    def prefetch(self, ks: list[int]) -> None:
        """Fit the slices ``ks`` not fitted yet, batched (same results as one at a time)."""
        todo = sorted({k for k in ks if k not in self._fits})
        if todo:
            boxes = None
            h = self._hulls
            if h is not None:
                pos = np.searchsorted(h.slices, todo)
                if np.array_equal(h.slices[np.minimum(pos, len(h.slices) - 1)], todo):
                    st = h.starts[:-1]
                    boxes = list(
                        zip(
                            np.minimum.reduceat(h.j, st)[pos].tolist(),
                            np.maximum.reduceat(h.j, st)[pos].tolist(),
                            np.minimum.reduceat(h.i, st)[pos].tolist(),
                            np.maximum.reduceat(h.i, st)[pos].tolist(),
                            strict=True,
                        )
                    )
            fits = _subvoxel.fit_ellipses([self.mask[k] for k in todo], self.spacing_rc, boxes)
            for k, ell in zip(todo, fits, strict=True):
                self._fits[k] = ell

    def fit_central_run(self) -> None:
        """Fit the run of slices whose voxel count is at least
        ``HOMOTHETIC_MIN_AREA_FRACTION`` x the largest together (homothetic ellipses); where
        they reproduce every slice of the run, they are those slices' sections."""
        area = self.mask.sum(axis=(1, 2))  # (voxels per slice: np.count_nonzero's counts)
        ks = np.flatnonzero(area >= HOMOTHETIC_MIN_AREA_FRACTION * area.max())
        k0, k1 = int(ks[0]), int(ks[-1]) + 1
        if k1 - k0 < 2:
            return
        ells = _homothetic.fit_homothetic(self.mask[k0:k1], self.spacing_rc)
        if ells is not None:
            for k, ell in zip(range(k0, k1), ells, strict=True):
                self._fits[k] = ell
            self.joint = list(range(k0, k1))

    def end(self, k: int, p_mm: NDArray[np.float64], u: NDArray[np.float64], chord_mm: float) -> NDArray[np.float64]:
        """The boundary point of slice k farthest along u, near the hull vertex p (mm)."""
        ell = self.get(k)
        if ell is not None:
            return ell.support_point(u / np.hypot(u[0], u[1]))
        return _subvoxel.refine_end(self.mask[k], self.spacing_rc, p_mm, u, chord_mm, vertex=True)


def refine_chord(
    sl: NDArray[np.bool_],
    spacing_rc: tuple[float, float],
    p_mm: NDArray[np.float64],
    q_mm: NDArray[np.float64],
    *,
    vertex: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Both ends of an in-plane chord (mm, (row_mm, col_mm)) moved to the sub-voxel boundary of
    the 2-D mask ``sl`` (see :mod:`._subvoxel`); returns the new ends and their distance."""
    d = np.asarray(p_mm, dtype=np.float64) - np.asarray(q_mm, dtype=np.float64)
    length = float(np.hypot(d[0], d[1]))
    if length == 0.0:
        return np.asarray(p_mm, np.float64), np.asarray(q_mm, np.float64), 0.0
    p2 = _subvoxel.refine_end(sl, spacing_rc, p_mm, d, length, vertex=vertex)
    q2 = _subvoxel.refine_end(sl, spacing_rc, q_mm, -d, length, vertex=vertex)
    return p2, q2, float(np.hypot(*(p2 - q2)))


def _slices_farthest(hulls: _hull.SliceHulls, qs: NDArray[np.int64], sr: float, sc: float) -> list[tuple[int, int, int, float]]:
    """The farthest pair of hull vertices of each slice ``qs`` (positions into ``hulls``):
    ``(pos, a, b, length)`` with a, b indices into the vertex arrays, the first maximum in
    row-major order; all slices at once (vertex lists padded with the slice's first vertex,
    which never changes the first maximum)."""
    out: list[tuple[int, int, int, float]] = []
    if len(qs) == 0:
        return out
    st = hulls.starts
    cnt = st[qs + 1] - st[qs]
    u_all, v_all = hulls.j * sr, hulls.i * sc
    step = max(1, 65536 // int(cnt.max()) ** 2)  # bounded temporaries
    for c0 in range(0, len(qs), step):
        q = qs[c0 : c0 + step]
        nq = cnt[c0 : c0 + step]
        m = int(nq.max())
        offs = np.arange(m)[None, :]
        ids = np.where(offs < nq[:, None], st[q][:, None] + offs, st[q][:, None])
        u, v = u_all[ids], v_all[ids]
        d2 = (u[:, :, None] - u[:, None, :]) ** 2 + (v[:, :, None] - v[:, None, :]) ** 2
        flat = d2.reshape(len(q), -1)
        am = flat.argmax(axis=1)
        best = flat[np.arange(len(q)), am]
        for r in range(len(q)):
            a, b = divmod(int(am[r]), m)
            out.append((int(q[r]), int(ids[r, a]), int(ids[r, b]), float(np.sqrt(best[r]))))
    return out


def _tied_pairs(hulls: _hull.SliceHulls, pos: int, sr: float, sc: float, length: float) -> list[tuple[int, int]]:
    """Every pair of hull vertices of slice ``pos`` as far apart as ``length`` (grid ties),
    each once; refining all of them makes the result independent of the array layout."""
    s, e = int(hulls.starts[pos]), int(hulls.starts[pos + 1])
    u, v = hulls.j[s:e] * sr, hulls.i[s:e] * sc
    d2 = (u[:, None] - u[None, :]) ** 2 + (v[:, None] - v[None, :]) ** 2
    a, b = np.nonzero(np.triu(d2 >= length * length * (1.0 - 1e-12) - 1e-12, 1))
    # a vertex on both chains appears twice: keep distinct positions only
    seen: set[tuple[int, int, int, int]] = set()
    out = []
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        key = tuple(sorted(((int(hulls.j[s + x]), int(hulls.i[s + x])), (int(hulls.j[s + y]), int(hulls.i[s + y])))))
        flat = (key[0][0], key[0][1], key[1][0], key[1][1])
        if flat not in seen:
            seen.add(flat)
            out.append((s + x, s + y))
    return out[:_MAX_TIES]


def _concave_quadratic(ks: list[float], ys: NDArray[np.float64]) -> NDArray[np.float64]:
    """The least-squares parabola through ``(ks, ys)`` (at least 3 distinct ``ks``) evaluated at
    ``ks`` when it opens downwards, else ``ys`` itself.  Normal equations in the centred
    positions, solved by Cramer's rule in Python floats (a handful of points: ``np.polyfit``'s
    lstsq costs more than the maths; the same parabola up to rounding)."""
    n = len(ks)
    km = sum(ks) / n
    x = [k - km for k in ks]
    y = ys.tolist()
    # (sums of lists: the same additions in the same order as of generators, faster)
    x2 = [v * v for v in x]
    s1 = sum(x)
    s2 = sum(x2)
    s3 = sum([v2 * v for v2, v in zip(x2, x, strict=True)])
    s4 = sum([v2 * v2 for v2 in x2])
    t0 = sum(y)
    t1 = sum([v * w for v, w in zip(x, y, strict=True)])
    t2 = sum([v2 * w for v2, w in zip(x2, y, strict=True)])
    # [s4 s3 s2; s3 s2 s1; s2 s1 n] (c2, c1, c0) = (t2, t1, t0)
    m1 = s2 * n - s1 * s1
    m2 = s3 * n - s1 * s2
    m3 = s3 * s1 - s2 * s2
    det = s4 * m1 - s3 * m2 + s2 * m3
    if not det > 0.0:  # (fewer than 3 distinct positions: no parabola)
        return ys
    c2 = (t2 * m1 - s3 * (t1 * n - s1 * t0) + s2 * (t1 * s1 - s2 * t0)) / det
    if not c2 < 0.0:
        return ys
    c1 = (s4 * (t1 * n - s1 * t0) - t2 * m2 + s2 * (s3 * t0 - s2 * t1)) / det
    c0 = (s4 * (s2 * t0 - s1 * t1) - s3 * (s3 * t0 - s2 * t1) + t2 * m3) / det
    return np.array([(c2 * v + c1) * v + c0 for v in x])


#: at most this many slices (longest centre-hull diameters first) get their LD refined
_MAX_LD_SLICES = 5
#: at most this many tied centre pairs per slice are refined
_MAX_TIES = 64


def _core(frame: AxialFrame, feret: bool = False) -> _Core:
    """LD of the frame (and, with ``feret``, the centre 3-D Feret pairs, whose sections are
    then fitted in the same batch as the LD's)."""
    mask = _outer(frame.mask)
    hulls = _hull.slice_hulls(mask)
    sp = frame.spacing
    sr, sc = sp[1], sp[2]
    # the centre-hull searches run in units of the largest in-plane spacing, so that ties are
    # broken the same way at every scale (isotropic scaling property)
    hn = max(sr, sc)
    searched: dict[int, tuple[int, int, float]] = {}
    pos, a, b, length = _hull.farthest_pair_per_slice(hulls, (sr / hn, sc / hn), per_slice=searched)
    length *= hn
    # candidate slices: every slice whose centre-hull diameter is within one in-plane voxel of
    # the longest (the boundary can lie up to a voxel beyond the centres at each end)
    h = max(sr, sc)
    cands = [(pos, a, b, length)]
    if length > 0.0:
        st = hulls.starts
        # a slice's diameter is at most sqrt(2) x its box side: the box sides of all slices at
        # once (every slice holds at least one hull vertex)
        uu, vv = hulls.j * sr, hulls.i * sc
        s0s = st[:-1]
        umax, umin = np.maximum.reduceat(uu, s0s), np.minimum.reduceat(uu, s0s)
        vmax, vmin = np.maximum.reduceat(vv, s0s), np.minimum.reduceat(vv, s0s)
        side = np.maximum(umax - umin, vmax - vmin)
        far = side * np.sqrt(2.0) >= length - h - 1e-6 * hn
        # ... and at most twice the largest distance from the box centre (a tighter bound on
        # round sections; the same margin)
        grp = _hull.counts_group(hulls)[1]
        cu = (umax + umin) / 2.0
        cv = (vmax + vmin) / 2.0
        rad = np.maximum.reduceat(np.hypot(uu - cu[grp], vv - cv[grp]), s0s)
        far &= 2.0 * rad >= length - h - 1e-6 * hn
        far[pos] = False
        # (the slices the LD search has already searched are not searched again: same pairs)
        qs = np.flatnonzero(far).tolist()
        rest = {r[0]: r for r in _slices_farthest(hulls, np.array([q for q in qs if q not in searched], dtype=np.int64), sr / hn, sc / hn)}
        for q in qs:
            if q in searched:
                qa, qb, d2 = searched[q]
                ql = math.sqrt(d2)
            else:
                _, qa, qb, ql = rest[q]
            ql *= hn
            if ql >= length - h - 1e-9 * hn:
                cands.append((q, qa, qb, ql))
        if len(cands) > _MAX_LD_SLICES:
            # keep the slices where a quadratic through the centre-hull lengths (over the slice
            # position) is highest: the sections of a smooth lesion change smoothly, the
            # centre-hull lengths are quantised by up to a voxel
            ls = np.array([c[3] for c in cands])
            score = _concave_quadratic([float(hulls.slices[c[0]]) for c in cands], ls)
            # (slices tied with the last one kept are kept too: the choice must not depend on
            # the slice order of the array)
            kth = np.sort(score)[::-1][_MAX_LD_SLICES - 1]
            keep = np.flatnonzero(score >= kth - 1e-9 * max(1.0, abs(float(kth))))
            cands = [cands[i] for i in keep]
    sections = _Sections(mask, (sr, sc), hulls)
    if 0.0 < length <= HOMOTHETIC_MAX_LD_VOXELS * h:
        # a small lesion: its central slices are fitted together by homothetic ellipses
        # (:func:`_homothetic.fit_homothetic`) where they reproduce every one of those slices
        sections.fit_central_run()
    fer = _feret_pairs(hulls, frame.spacing, (a, b, length)) if feret else None
    sections.prefetch([int(hulls.slices[c[0]]) for c in cands if c[1] != c[2]] + ([] if fer is None else fer[4]))
    refined = []
    for q, qa, qb, _ql in sorted(cands, key=lambda c: int(hulls.slices[c[0]])):
        k = int(hulls.slices[q])
        ell = sections.get(k) if qa != qb else None
        if ell is not None:
            # (2-vectors in Python floats: the same sums and products)
            # (an int times a float: the same product as numpy's)
            pj, pi, qj, qi = int(hulls.j[qa]) * sr, int(hulls.i[qa]) * sc, int(hulls.j[qb]) * sr, int(hulls.i[qb]) * sc
            (c0, c1), (m0, m1) = ell._c, ell._j
            p2 = (c0 + ell.a * m0, c1 + ell.a * m1)
            q2 = (c0 - ell.a * m0, c1 - ell.a * m1)
            if (p2[0] - q2[0]) * (pj - qj) + (p2[1] - q2[1]) * (pi - qi) < 0:
                p2, q2 = q2, p2
            ln = 2.0 * ell.a
        else:
            p_mm = np.array([hulls.j[qa] * sr, hulls.i[qa] * sc], dtype=np.float64)
            q_mm = np.array([hulls.j[qb] * sr, hulls.i[qb] * sc], dtype=np.float64)
            ln = -1.0
            for ta, tb in _tied_pairs(hulls, q, sr / hn, sc / hn, _ql / hn):
                pa = np.array([hulls.j[ta] * sr, hulls.i[ta] * sc], dtype=np.float64)
                pb = np.array([hulls.j[tb] * sr, hulls.i[tb] * sc], dtype=np.float64)
                x2, y2, lx = refine_chord(mask[k], (sr, sc), pa, pb, vertex=True)
                if lx > ln + 1e-9 * hn:
                    p2, q2, ln = x2, y2, lx
            if ln < 0.0:  # pragma: no cover - the pair itself is always a tie
                p2, q2, ln = refine_chord(mask[k], (sr, sc), p_mm, q_mm, vertex=True)
            if (p2 - q2) @ (p_mm - q_mm) < 0:
                p2, q2 = q2, p2
        refined.append((ln, q, p2, q2))
    score = np.array([r[0] for r in refined])
    if len(refined) >= 4:
        # The sections of a smooth lesion change smoothly from slice to slice: pick the slice by
        # a quadratic fit of the refined lengths over the slice position (the max of noisy
        # per-slice values would favour the slice whose ends happened to be over-estimated).
        score = _concave_quadratic([float(hulls.slices[r[1]]) for r in refined], score)
    # ties of the score (a lesion symmetric about a slice) go to the longer refined LD, then to
    # the lowest slice: the same choice whatever the slice order of the array
    sl = score.tolist()
    # (a handful of finite floats: Python, the same comparisons)
    if all(math.isfinite(v) for v in sl) and all(math.isfinite(r[0]) for r in refined):
        smax = max(sl)
        top_l = [t for t, v in enumerate(sl) if v >= smax - 1e-9 * max(1.0, smax)]
        lens_l = [float(refined[t][0]) for t in top_l]
        lmax = max(lens_l)
        best = refined[top_l[next(t for t, v in enumerate(lens_l) if v >= lmax - 1e-9 * max(1.0, lmax))]]
    else:
        top = np.flatnonzero(score >= score.max() - 1e-9 * max(1.0, float(score.max())))
        lens = np.array([refined[t][0] for t in top])
        best = refined[int(top[int(np.flatnonzero(lens >= lens.max() - 1e-9 * max(1.0, float(lens.max())))[0])])]
    ln, q, p2, q2 = best
    k = float(hulls.slices[q])
    p_f = np.array([k, p2[0] / sr, p2[1] / sc], dtype=np.float64)
    q_f = np.array([k, q2[0] / sr, q2[1] / sc], dtype=np.float64)
    ld = _diameter(frame, p_f, q_f, ln)
    return _Core(
        hulls=hulls,
        ld=ld,
        ld_pos=q,
        ld_frame=(p_f, q_f),
        ld_vertices=(a, b),
        ld_centre_mm=length,
        sections=sections,
        feret=None if fer is None else fer[:4],
    )


def _short_axis_from_core(frame: AxialFrame, core: _Core) -> AxialDiameter:
    sp = frame.spacing
    p_f, q_f = core.ld_frame
    return _perpendicular(frame, core.hulls, core.ld_pos, (q_f - p_f)[1:] * np.array([sp[1], sp[2]]), core.sections)


def _perpendicular(
    frame: AxialFrame,
    hulls: _hull.SliceHulls,
    pos: int,
    direction_mm: NDArray[np.float64],
    sections: _Sections | None = None,
) -> AxialDiameter:
    sp = frame.spacing
    k = int(hulls.slices[pos])
    hn = max(sp[1], sp[2])
    # the mask the hulls and sections were made from (holes filled: _outer)
    mask = sections.mask if sections is not None else _outer(frame.mask)
    nonzero = bool(np.linalg.norm(direction_mm) != 0.0)
    ell = None if sections is None or not nonzero else sections.get(k)
    if ell is not None:
        # the longest chord of an ellipse along a direction passes through its centre (the
        # centre hull's chord is not needed)
        pm, qm, length = ell.chord_through_centre(np.array([-direction_mm[1], direction_mm[0]]))
    elif not nonzero:
        # zero-length long axis (single voxel): short axis is zero too
        p = _hull.polygon_of_slice(hulls, pos, (sp[1] / hn, sp[2] / hn))[0] * hn
        length, pm, qm = 0.0, p, p
    else:
        poly = _hull.polygon_of_slice(hulls, pos, (sp[1] / hn, sp[2] / hn))
        ties = _hull.perpendicular_chord(poly, direction_mm, all_ties=True)
        length, pm, qm = ties[0][0] * hn, ties[0][1] * hn, ties[0][2] * hn
        if length == 0.0:
            # a one-voxel-wide section: its width is found from the point alone, both ways
            nrm = np.array([-direction_mm[1], direction_mm[0]])
            src = (sp[1], sp[2])
            pm = _subvoxel.refine_end(mask[k], src, pm, -nrm, 0.0, vertex=False)
            qm = _subvoxel.refine_end(mask[k], src, qm, nrm, 0.0, vertex=False)
            length = float(np.hypot(*(qm - pm)))
        else:
            # every tied chord position is refined (layout-independent), the longest kept
            best = -1.0
            for _, a_, b_ in ties[:_MAX_TIES]:
                x2, y2, lx = refine_chord(mask[k], (sp[1], sp[2]), a_ * hn, b_ * hn, vertex=False)
                if lx > best + 1e-9 * hn:
                    pm, qm, best = x2, y2, lx
            length = best
    p_f = np.array([float(k), pm[0] / sp[1], pm[1] / sp[2]])
    q_f = np.array([float(k), qm[0] / sp[1], qm[1] / sp[2]])
    return _diameter(frame, p_f, q_f, length)


#: in-plane directions sampled for the support functions of homothetic sections (every 5 deg;
#: a multiple of 8, so that flips and transposes map the set onto itself)
_DIRS = np.stack([np.cos(np.arange(72) * np.pi / 36), np.sin(np.arange(72) * np.pi / 36)], axis=1)
_COS_HALF_DIR_STEP = math.cos(math.pi / len(_DIRS))


def _length_3d(dz: float, p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """``sqrt(dz^2 + |p - q|^2)`` for in-plane 2-vectors, in Python floats (the same operations
    as ``np.sqrt(dz * dz + np.sum((p - q) ** 2))``: a sum of two squares is one addition)."""
    (p0, p1), (q0, q1) = p.tolist(), q.tolist()
    d0, d1 = p0 - q0, p1 - q1
    return math.sqrt(dz * dz + (d0 * d0 + d1 * d1))


def _ellipses_farthest(
    ea: _subvoxel.EllipseSection, eb: _subvoxel.EllipseSection
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Farthest pair of points of two ellipses: dense sampling (5 deg), then 12 steps of
    support points (converges fast).  Exactly, without sampling: one section with itself (its
    major axis) and two circles (along the line of their centres; concentric ones along the
    first one's axis, which for a circle is its canonical box's, :func:`_subvoxel._circle_axis`):
    there the sampled pairs tie and rounding would pick among them."""
    rel = _subvoxel.CIRCLE_AXIS_REL
    if ea is eb:
        (c0, c1), (m0, m1) = ea._c, ea._j
        return np.array([c0 + ea.a * m0, c1 + ea.a * m1]), np.array([c0 - ea.a * m0, c1 - ea.a * m1])
    if ea.a - ea.b <= rel * ea.a and eb.a - eb.b <= rel * eb.a:
        (a0, a1), (b0, b1) = ea._c, eb._c
        u0, u1 = a0 - b0, a1 - b1
        nu = math.hypot(u0, u1)
        if nu <= rel * max(ea.a, eb.a):
            u0, u1 = ea._j
        else:
            u0, u1 = u0 / nu, u1 / nu
        return np.array([a0 + ea.a * u0, a1 + ea.a * u1]), np.array([b0 - eb.a * u0, b1 - eb.a * u1])
    pa, pb = ea.points(72), eb.points(72)
    # (the squares in place: two temporaries)
    d2 = np.subtract(pa[:, None, 0], pb[:, 0])
    np.square(d2, out=d2)
    dy = np.subtract(pa[:, None, 1], pb[:, 1])
    np.square(dy, out=dy)
    d2 += dy
    ia, ib = divmod(int(d2.argmax()), len(pb))
    (p0, p1), (q0, q1) = pa[ia].tolist(), pb[ib].tolist()
    # (Python floats: 2-vectors).  Each step is a function of the pair alone: once a pair
    # repeats the one of 1 or 2 steps before, the rest of the 12 steps is that cycle, and the
    # pair after step 12 is read off it (the same floats as running every step)
    # (EllipseSection.support_xy inlined: the same operations)
    (a00, a01, a11), (ac0, ac1) = ea._m, ea._c
    (b00, b01, b11), (bc0, bc1) = eb._m, eb._c
    sqrt = math.sqrt
    seen: list[tuple[float, float, float, float]] = []
    for t in range(12):
        u0, u1 = p0 - q0, p1 - q1
        nu = math.hypot(u0, u1)
        u0, u1 = u0 / nu, u1 / nu
        v0, v1 = a00 * u0 + a01 * u1, a01 * u0 + a11 * u1
        r = sqrt(max(u0 * v0 + u1 * v1, 1e-300))
        p0, p1 = ac0 + v0 / r, ac1 + v1 / r
        w0, w1 = -u0, -u1
        v0, v1 = b00 * w0 + b01 * w1, b01 * w0 + b11 * w1
        r = sqrt(max(w0 * v0 + w1 * v1, 1e-300))
        q0, q1 = bc0 + v0 / r, bc1 + v1 / r
        cur = (p0, p1, q0, q1)
        if t >= 1 and cur == seen[-1]:
            break
        if t >= 2 and cur == seen[-2]:
            if (11 - t) % 2:  # an odd number of steps left: the cycle's other pair
                p0, p1, q0, q1 = seen[-1]
            break
        seen.append(cur)
    return np.array([p0, p1]), np.array([q0, q1])


def _feret_pairs(
    hulls: _hull.SliceHulls, spacing: tuple[float, float, float], ld: tuple[int, int, float]
) -> tuple[int, int, float, list[tuple[int, int]], list[int]]:
    """The centre 3-D Feret pair ``(a, b, length_mm)``, its grid ties, and the slices whose
    sections its refinement needs (``ld``: the centre-hull LD pair and length, a lower bound)."""
    s0, sr, sc = spacing
    hn = max(sr, sc)
    sp_n = (s0 / hn, sr / hn, sc / hn)
    # (a small hull: the squared distances of all pairs once, for both searches)
    d2 = _hull.pair_d2(hulls, sp_n) if len(hulls.j) <= _hull._SHARED_PAIRS_MAX_VERTICES else None
    a, b, length = _hull.feret_3d(hulls, sp_n, (ld[0], ld[1], ld[2] / hn), d2=d2)
    pairs = _hull.feret_ties(hulls, sp_n, length, limit=_MAX_TIES, d2=d2) if length > 0.0 else []
    need = []
    for a_, b_ in pairs or [(a, b)]:
        if hulls.j[a_] * sr != hulls.j[b_] * sr or hulls.i[a_] * sc != hulls.i[b_] * sc:
            need += [int(hulls.k[a_]), int(hulls.k[b_])]
    return a, b, length * hn, pairs, need


def _feret_from_core(frame: AxialFrame, core: _Core) -> FeretDiameter:
    hulls = core.hulls
    s0, sr, sc = frame.spacing
    hn = max(sr, sc)
    if core.feret is not None:
        a, b, length, pairs = core.feret
    else:
        a, b, length, pairs, need = _feret_pairs(hulls, frame.spacing, (*core.ld_vertices, core.ld_centre_mm))
        # the sections of every pair not on one point, fitted together (batched)
        core.sections.prefetch(need)
    best: tuple[float, int, int, NDArray[np.float64], NDArray[np.float64]] | None = None
    done: dict[tuple[int, int], tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    for a, b in pairs or [(a, b)]:
        ka, kb = int(hulls.k[a]), int(hulls.k[b])
        p_mm = np.array([hulls.j[a] * sr, hulls.i[a] * sc], dtype=np.float64)
        q_mm = np.array([hulls.j[b] * sr, hulls.i[b] * sc], dtype=np.float64)
        d_in = float(np.hypot(*(p_mm - q_mm)))
        dz = (ka - kb) * s0
        if d_in > 0.0:
            ea, eb = core.sections.get(ka), core.sections.get(kb)
            if ea is not None and eb is not None:
                # farthest pair of two elliptic sections (each pair of sections once)
                if (ka, kb) not in done:
                    done[(ka, kb)] = _ellipses_farthest(ea, eb)
                pe, qe = done[(ka, kb)]
                # on one section the pair's order is the grid pair's (as for the LD), not the
                # order in which the outline was sampled (that follows the sign of the fitted
                # major axis, which rounding can flip)
                if ka == kb and float((pe - qe) @ (p_mm - q_mm)) < 0.0:
                    pe, qe = qe, pe
                p_mm, q_mm = pe, qe
            else:
                p0, q0 = p_mm, q_mm
                for _ in range(2):
                    u = p_mm - q_mm
                    p_mm = core.sections.end(ka, p0, u, length)
                    q_mm = core.sections.end(kb, q0, -u, length)
        ln = _length_3d(dz, p_mm, q_mm)
        if best is None or ln > best[0] + 1e-9 * hn:
            best = (ln, ka, kb, p_mm, q_mm)
    assert best is not None
    if len(core.sections.joint) >= 2:
        # homothetic sections: the farthest pair of the boundary estimate may join two slices
        # whose voxel centres are not the farthest pair (e.g. two equal middle slices); the
        # in-plane distance of sections i, j is max_u h_i(u) + h_j(-u) (support functions)
        ks = core.sections.joint
        ells = [core.sections.get(k) for k in ks]
        cen = np.array([e._c for e in ells])  # (n, 2)
        Ms = np.array([((e._m[0], e._m[1]), (e._m[1], e._m[2])) for e in ells])  # (n, 2, 2): e.M
        hu = cen @ _DIRS.T + np.sqrt(np.einsum("da,nab,db->nd", _DIRS, Ms, _DIRS))  # (n, D)
        nh = len(_DIRS) // 2
        hv = np.concatenate((hu[:, nh:], hu[:, :nh]), axis=1)  # h(-u), the opposite direction (np.roll)
        inplane = (hu[:, None, :] + hv[None, :, :]).max(axis=2)  # (n, n)
        kk = np.array(ks, dtype=np.float64) * s0
        d2 = (kk[:, None] - kk[None, :]) ** 2 + inplane**2
        np.fill_diagonal(d2, -1.0)
        i, j = divmod(int(d2.argmax()), len(ks))
        # the farthest pair of two ellipses is at most their sampled in-plane distance divided by
        # cos(half the sampling step) (a support direction is within half a step of a sample):
        # when even that cannot beat the pair found above, the pair's length cannot either
        # (the factor 1 + 1e-9 covers the rounding of both)
        dz_ij = (ks[i] - ks[j]) * s0
        cap = math.sqrt(dz_ij * dz_ij + (float(inplane[i, j]) / _COS_HALF_DIR_STEP * (1.0 + 1e-9)) ** 2)
        if cap > best[0] and np.sqrt(d2[i, j]) > best[0] - 0.5 * hn:
            # (the pair of sections found above, when it is this one: the same result)
            p_mm, q_mm = done.get((ks[i], ks[j])) or _ellipses_farthest(ells[i], ells[j])
            dz = (ks[i] - ks[j]) * s0
            ln = _length_3d(dz, p_mm, q_mm)
            if ln > best[0] + 1e-9 * hn:
                best = (ln, ks[i], ks[j], p_mm, q_mm)
    length, ka, kb, p_mm, q_mm = best
    idx = np.array([[ka, p_mm[0] / sr, p_mm[1] / sc], [kb, q_mm[0] / sr, q_mm[1] / sc]], dtype=np.float64)
    # the LD is a pair of the same sections: the Feret is at least it; where the two are equal
    # within rounding (the Feret pair is the LD) the Feret pair's own line is kept, so that the
    # endpoints' order does not hang on the last bit of two ways of computing one length
    if core.ld.length_mm > length + 1e-9 * hn:
        length = core.ld.length_mm
        idx = np.stack(core.ld_frame)
    else:
        length = max(length, core.ld.length_mm)
    pts = frame.to_index(idx)
    lps = frame.labels.index_to_lps(pts)
    return FeretDiameter(
        length_mm=float(length),
        endpoints_lps=(_pt(lps[0]), _pt(lps[1])),
        endpoints_index=(_pt(pts[0]), _pt(pts[1])),
    )


# ------------------------------------------------------------------------------------------
# public helpers
# ------------------------------------------------------------------------------------------
def longest_axial_diameter(
    labels: LabelVolume, label: int | str | None = None, *, reformat: Reformat | str = Reformat.ERROR
) -> AxialDiameter:
    """RECIST 1.1 longest axial diameter (LD) of one lesion (the module's estimator: the chord of the
    voxel-centre hull, each end moved to the sub-voxel boundary).

    Parameters
    ----------
    labels : LabelVolume
        Label map on any patient-space grid.
    label : int or str or None
        Label value or lesion name; None when the map holds one lesion (or to measure the union).
    reformat : {"error", "axial"}
        Coronal/oblique grids: refuse (default) or resample onto an axial grid first.

    Returns
    -------
    AxialDiameter
        ``length_mm``, LPS endpoints and the slice it lies on.

    References
    ----------
    Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST
    guideline (version 1.1). Eur J Cancer 2009;45:228-247, sec. 3.1 and 4.2.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((1, 12, 12), np.uint8); a[0, 1:11, 1:11] = 1   # 10 x 10 voxel square
    >>> lab = LabelVolume.create(a, spacing=(1.0, 1.0, 1.0))
    >>> round(longest_axial_diameter(lab).length_mm, 2)  # sub-voxel estimator (centres 12.73, edges 14.14)
    13.38
    """
    return _core(patient_frame(labels, label, reformat=reformat)).ld


def short_axis(
    labels: LabelVolume,
    label: int | str | None = None,
    *,
    long_axis: AxialDiameter | None = None,
    reformat: Reformat | str = Reformat.ERROR,
) -> AxialDiameter:
    """Short axis: longest chord perpendicular to the long axis, on the long axis's slice.

    The chord is taken in the convex hull of the voxel centres of that slice, so it is the
    RECIST/WHO "longest perpendicular diameter" for convex lesions; its ends are then moved to the
    sub-voxel boundary, as the long axis's.

    Parameters
    ----------
    long_axis : AxialDiameter, optional
        A long axis measured earlier (or drawn by a reader) on this label volume; by default
        the LD is computed.  Its slice and direction are used.
    """
    frame = patient_frame(labels, label, reformat=reformat)
    core = _core(frame)
    if long_axis is None:
        return _short_axis_from_core(frame, core)
    if long_axis.plane_axis != frame.plane_axis:
        raise MeasurementPlaneError(
            f"short_axis(long_axis=...) got a long axis measured across array axis "
            f"{long_axis.plane_axis}, but the labels' axial planes are across axis "
            f"{frame.plane_axis}; the two lines would not share a plane. Measure the long axis "
            "on these labels (longest_axial_diameter) or pass long_axis=None."
        )
    # the long axis's slice and direction in the frame, whose axes may run against the array's
    # (patient_frame); unflipped, the same numbers as the array's
    k_frame = long_axis.slice_index - frame.offset[frame.plane_axis]
    if frame.flips[0]:
        k_frame = (frame.mask.shape[0] - 1) - k_frame
    where = np.flatnonzero(core.hulls.slices == k_frame)
    if len(where) == 0:
        raise EmptyMaskError(
            f"short_axis: the long axis lies on slice {long_axis.slice_index}, where the lesion "
            "has no voxel; a short axis there would be empty. Pass a long axis drawn on a slice "
            "of this lesion."
        )
    idx = np.asarray(long_axis.endpoints_index, dtype=np.float64)
    sp, perm = frame.spacing, frame.perm
    direction = np.array([(idx[1, perm[a]] - idx[0, perm[a]]) * sp[a] * (-1.0 if frame.flips[a] else 1.0)
                          for a in (1, 2)])
    return _perpendicular(frame, core.hulls, int(where[0]), direction, core.sections)


def feret_diameter_3d(labels: LabelVolume, label: int | str | None = None) -> FeretDiameter:
    """3-D Feret diameter: largest distance between two voxel centres of the lesion, mm.

    Computed from the per-slice hull vertices (every 3-D hull vertex is a vertex of its slice's
    hull) with slice pairs pruned by support-function bounds, never over all pairs of boundary
    voxels.  Plane-free: the slices of the grid are used whatever their orientation.
    """
    frame = patient_frame(labels, label, require_axial=False)  # (v6: as measure_lesion)
    core = _core(frame, feret=True)
    return _feret_from_core(frame, core)


def lesion_volume_mm3(labels: LabelVolume, label: int | str | None = None) -> float:
    """Volume = voxel count x voxel volume (prod(spacing)), mm^3; no partial-volume model."""
    value, _ = resolve_label(labels, label)
    n = int(np.count_nonzero(_lesion_mask(labels, value)))
    return float(n * labels.voxel_volume_mm3)


#: Name and parameters of the algorithm, recorded in provenance.
ALGORITHM: dict[str, Any] = {
    "name": "hcc_imaging.measure.diameters",
    "estimator": ESTIMATOR,
    "long_axis": "max over axial slices of the hull diameter of voxel centres, endpoints moved to the sub-voxel boundary",
    "short_axis": "longest chord perpendicular to the long axis on its slice, ends on the sub-voxel boundary",
    "feret_3d": "farthest pair of voxel centres, ends moved in-plane to the sub-voxel boundary of their slices",
    "subvoxel_boundary": "slice ellipse when it reproduces the mask, else local weighted parabola fits (hcc_imaging.measure._subvoxel)",
    "volume": "voxel count x voxel volume",
}

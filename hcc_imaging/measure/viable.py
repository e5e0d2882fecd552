"""mRECIST longest viable diameter, viable short axis, necrosis fraction.

The viable-diameter rule (stated once, here and in ``docs/measure.md``)
-----------------------------------------------------------------------
mRECIST (Lencioni & Llovet, Semin Liver Dis 2010;30:52-60) measures "the longest diameter of
the viable (arterially enhancing) tumour", which must not cross necrotic or non-enhancing
parts.  hcc_imaging makes this operational as follows:

* **viable voxels** = voxels of the lesion mask that are also non-zero in the viable
  sub-mask (the viable mask is intersected with the lesion);
* a **candidate segment** joins the centres of two viable voxels on one patient axial slice
  (endpoints are taken among the viable boundary voxels, i.e. viable voxels with a non-viable
  4-neighbour in the slice; the longest valid segment's ends are then moved to the sub-voxel
  boundary of the viable region, as the RECIST long axis's);
* the segment is **valid** when, sampled at ``n = ceil(L / step) + 1`` evenly spaced points
  (step = half the smallest in-plane spacing), every sample's nearest voxel is viable, except runs of non-viable samples whose
  length (samples x step) is at most ``gap_voxels`` x the largest in-plane spacing (default one
  voxel, :data:`~hcc_imaging.measure.constants.VIABLE_GAP_VOXELS`): necrosis thinner than a voxel
  cannot be told from partial volume, and the tolerance also absorbs the staircase of a
  digitised boundary that a segment between two boundary voxels grazes;
* the **viable diameter** is the longest valid segment over all slices (ties: lowest slice).
  Slices, rows and columns are those of the lesion's voxels in a patient-fixed layout (slices
  from inferior, rows from anterior, columns from right: :mod:`._canonical`), whatever layout
  the series was stored in, so a tie - and so the line - never depends on the storage.
  Outside the lesion counts as non-viable, so a segment never bridges two nodules through liver.
  A fully viable lesion's viable diameter is its LD (the same line) when the LD is valid; an LD
  across liver, a hole or a bay is not, and the rule decides.
* a perpendicular run longer than the viable diameter once both ends are extended (a near-round
  viable part) is the viable diameter, with the short axis taken across it.
* the **viable short axis** is the longest run of viable samples (same gap rule) on a line
  perpendicular to the viable diameter on its slice, measured between the projections of the
  outermost viable voxel centres of the run, its ends then moved to the sub-voxel boundary.

An **empty** viable mask (no enhancing tissue, e.g. only a thin reactive rim, which the
segmentation excludes - DESIGN section 3) gives ``None`` here and ``viable_diameter_mm = 0.0``
in :class:`~hcc_imaging.measure.LesionMeasurement`: complete disappearance of intratumoral
enhancement, the mRECIST CR reading.  A rim that *is* passed in the viable mask is measured as
viable tissue (the rule cannot know it is reactive): excluding rims is the segmentation's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import GeometryMismatchError, HccImagingError
from ..volume import LabelVolume, resample_labels
from . import _hull, _kernels
from ._canonical import canonical_frame
from .constants import RIM_EXCLUSION_MM, VIABLE_GAP_VOXELS, VIABLE_OUTSIDE_MAX_FRACTION, VIABLE_SAMPLE_STEP_VOXELS
from .diameters import (
    AxialDiameter,
    AxialFrame,
    Reformat,
    _Core,
    _core,
    _diameter,
    _short_axis_from_core,
    patient_frame,
    refine_chord,
)

__all__ = [
    "viable_diameter",
    "viable_short_axis",
    "viable_frame",
    "fill_short_gaps",
    "ViableAnalysis",
    "analyse_viable",
    "exclude_thin_rims",
    "ViableParameterError",
    "check_viable_parameters",
    "viable_outside_lesions",
    "viable_outside_message",
]


def viable_outside_lesions(labels: LabelVolume, viable: LabelVolume,
                           max_fraction: float = VIABLE_OUTSIDE_MAX_FRACTION) -> dict[str, tuple[int, int]]:
    """The viable mask's label values more than ``max_fraction`` of whose voxels lie outside every
    lesion of ``labels`` (same grid): lesion id (the lesion of that label value, else
    ``"viable label <value>"``) -> (voxels outside every lesion, voxels of that value).

    Only the viable voxels inside a lesion are measured (the module docstring), so a viable mask
    that does not lie on its lesions (drawn on another series, shifted, another study's) shrinks the
    viable diameters without a word.  A viable mask of one value for every lesion is checked as one
    (under the lesion of that value, if any).
    """
    if not labels.geometry_equal(viable):
        raise GeometryMismatchError(
            f"viable_outside_lesions: the viable mask (shape {viable.shape}) is not on the lesion mask's grid "
            f"(shape {labels.shape}); resample it onto the lesions first.")
    va = np.asarray(viable.array)
    inside = va != 0
    if not inside.any():
        return {}
    values, counts = np.unique(va[inside], return_counts=True)
    out_vals, out_counts = np.unique(va[inside & (np.asarray(labels.array) == 0)], return_counts=True)
    outside = dict(zip(out_vals.tolist(), out_counts.tolist(), strict=True))
    found: dict[str, tuple[int, int]] = {}
    for v, n in zip(values.tolist(), counts.tolist(), strict=True):
        n_out = int(outside.get(v, 0))
        if n_out > max_fraction * n:
            name = labels.labels.get(int(v)) if int(v) in labels.labels else f"viable label {v}"
            found[str(name)] = (n_out, int(n))
    return found


def viable_outside_message(lesion_id: str, n_out: int, n: int) -> str:
    """What :func:`viable_outside_lesions` found for one lesion, as a warning's text."""
    return (f"{100.0 * n_out / n:.0f} % of the viable mask's voxels of {lesion_id} ({n_out} of {n}) lie outside every "
            f"lesion mask (more than {100 * VIABLE_OUTSIDE_MAX_FRACTION:g} %): only those inside are measured, so its "
            "viable diameter, viable volume and necrosis are measured on the rest. Check that the viable mask "
            "belongs to these lesion masks (same series, same label values)")


def fill_short_gaps(good: NDArray[np.bool_], max_run: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    """Mark as good every run of bad samples (along the last axis) bounded by good samples on
    both sides and at most ``max_run`` samples long (``max_run`` per row or scalar)."""
    g = np.asarray(good, dtype=bool)
    n = g.shape[-1]
    pos = np.broadcast_to(np.arange(n), g.shape)
    last_good = np.maximum.accumulate(np.where(g, pos, -1), axis=-1)
    next_good = np.flip(np.minimum.accumulate(np.flip(np.where(g, pos, n), axis=-1), axis=-1), axis=-1)
    run = next_good - last_good - 1
    mr = np.asarray(max_run, dtype=np.float64)
    if mr.ndim:
        mr = mr.reshape(mr.shape + (1,) * (g.ndim - mr.ndim))
    fill = (~g) & (last_good >= 0) & (next_good < n) & (run <= mr + 1e-9)
    return g | fill


def exclude_thin_rims(
    v: NDArray[np.bool_], spacing: tuple[float, float, float], rim_exclusion_mm: float
) -> NDArray[np.bool_]:
    """Remove viable structures thinner than ``rim_exclusion_mm`` (binary opening with a ball
    of that diameter in mm, sampled on the grid: half-extent ``floor(r / spacing)`` voxels per
    axis).  Nodules thicker than it are kept.  On slices thicker than the ball (e.g. 2.5 mm
    slices and a 3 mm ball) the ball is one slice tall, so the caps of a rim - where the rim
    runs within a slice - can survive: use it on thin-slice data, or exclude rims in the
    segmentation."""
    if rim_exclusion_mm <= 0:
        return v
    from scipy import ndimage

    rr = rim_exclusion_mm / 2.0
    half = [int(np.floor(rr / s + 1e-9)) for s in spacing]
    kk, jj, ii = np.mgrid[-half[0] : half[0] + 1, -half[1] : half[1] + 1, -half[2] : half[2] + 1]
    ball = (kk * spacing[0]) ** 2 + (jj * spacing[1]) ** 2 + (ii * spacing[2]) ** 2 <= rr * rr + 1e-9
    return np.asarray(ndimage.binary_opening(v, structure=ball))


def viable_frame(frame: AxialFrame, viable: LabelVolume) -> NDArray[np.bool_]:
    """Viable voxels of the lesion in ``frame`` (viable mask intersected with the lesion)."""
    if not viable.geometry_equal(frame.labels):
        raise GeometryMismatchError(
            "the viable mask is not on the lesion mask's grid (shape "
            f"{viable.shape} vs {frame.labels.shape}); viable voxels could not be matched to "
            "lesion voxels. Resample it with viable.resample_to(labels) "
            "(nearest neighbour) or export both masks from the same series."
        )
    return np.asarray(frame.crop_of(viable.array) != 0) & frame.mask


def _boundary(v: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Viable voxels with a non-viable 4-neighbour in their slice (crop border = outside)."""
    e = v.copy()
    e[:, 1:, :] &= v[:, :-1, :]
    e[:, :-1, :] &= v[:, 1:, :]
    e[:, :, 1:] &= v[:, :, :-1]
    e[:, :, :-1] &= v[:, :, 1:]
    e[:, 0, :] = False
    e[:, -1, :] = False
    e[:, :, 0] = False
    e[:, :, -1] = False
    return v & ~e


def _valid_segments(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    lengths: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
) -> NDArray[np.bool_]:
    """Validity of segments p->q (index coords (j, i), shape (P, 2)) on one slice.

    Each segment is sampled at ``n = ceil(L / step) + 1`` evenly spaced points of its own (so
    the verdict does not depend on which other segments are checked with it).
    """
    n_pair = np.maximum(np.ceil(lengths / step_mm - 1e-9).astype(np.int64) + 1, 2)
    n = int(n_pair.max())
    t = np.minimum(np.arange(n)[None, :] / (n_pair[:, None] - 1.0), 1.0)
    jj = np.rint(p[:, None, 0] + t * (q[:, None, 0] - p[:, None, 0])).astype(np.int64)
    ii = np.rint(p[:, None, 1] + t * (q[:, None, 1] - p[:, None, 1])).astype(np.int64)
    np.clip(jj, 0, vslice.shape[0] - 1, out=jj)
    np.clip(ii, 0, vslice.shape[1] - 1, out=ii)
    good = vslice[jj, ii]
    seg_step = np.where(lengths > 0, lengths / (n_pair - 1), 1.0)
    max_run = np.floor(gap_mm / seg_step + 1e-9)
    return fill_short_gaps(good, max_run).all(axis=1)


def _deep_non_viable(
    vslice: NDArray[np.bool_], spacing_rc: tuple[float, float], step_mm: float, gap_mm: float
) -> NDArray[np.bool_] | None:
    """Non-viable voxels so far from any viable voxel that a segment sampled there is invalid.

    If every voxel centre within ``r`` of voxel v is non-viable, the samples of a segment whose
    nearest voxel is v, and all samples within ``r - 2 h`` of it (h = half the voxel
    diagonal), have non-viable nearest voxels: a run of at least ``2 (r - 2 h) - step`` mm.
    With ``r > gap/2 + step + 2 h`` that run exceeds the gap tolerance, so the segment is
    invalid.  Used only to reject candidates early; the full check decides the rest.
    """
    if vslice.all():
        return None
    from scipy import ndimage

    h = 0.5 * float(np.hypot(*spacing_rc))
    r_deep = gap_mm / 2.0 + step_mm + 2.0 * h + 1e-6
    dist = ndimage.distance_transform_edt(~vslice, sampling=spacing_rc)
    deep = np.asarray(dist > r_deep)
    return deep if deep.any() else None


@dataclass(frozen=True, slots=True)
class ViableAnalysis:
    """Viable quantities of one lesion (frame-level result of :func:`analyse_viable`)."""

    diameter: AxialDiameter | None
    short_axis: AxialDiameter | None
    viable_voxels: int
    lesion_voxels: int
    viable_voxels_on_slice: int | None
    lesion_voxels_on_slice: int | None


def _longest_valid_reference(
    v: NDArray[np.bool_], spacing: tuple[float, float, float], gap_voxels: float
) -> tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None:
    """The original exhaustive search (every pair of boundary voxels of a slice, longest first).

    Kept as the executable definition of the rule: :func:`_longest_valid` must return exactly
    the same slice, endpoints and length (property-tested).  Slow: O(B^2) pairs per slice.
    """
    sr, sc = spacing[1], spacing[2]
    step_mm = VIABLE_SAMPLE_STEP_VOXELS * min(sr, sc)
    gap_mm = gap_voxels * max(sr, sc)
    hulls = _hull.slice_hulls(v)
    if len(hulls.k) == 0:
        return None
    st = hulls.starts[:-1]
    u = hulls.j * sr
    w = hulls.i * sc
    cu = (np.minimum.reduceat(u, st) + np.maximum.reduceat(u, st)) / 2.0
    cw = (np.minimum.reduceat(w, st) + np.maximum.reduceat(w, st)) / 2.0
    grp = np.repeat(np.arange(len(st)), np.diff(hulls.starts))
    upper = 2.0 * np.maximum.reduceat(np.hypot(u - cu[grp], w - cw[grp]), st)
    order = np.argsort(-upper, kind="stable")
    bnd = _boundary(v)
    best: tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None = None
    best_len = -1.0
    for pos in order:
        if upper[pos] < best_len - 1e-9:
            break
        k = int(hulls.slices[pos])
        jj, ii = np.nonzero(bnd[k])
        if len(jj) == 1:
            cand = (k, np.array([jj[0], ii[0]], float), np.array([jj[0], ii[0]], float), 0.0)
            if 0.0 > best_len or (0.0 == best_len and best is not None and k < best[0]):
                best, best_len = cand, 0.0
            continue
        a, b = np.triu_indices(len(jj), k=1)
        d = np.hypot((jj[a] - jj[b]) * sr, (ii[a] - ii[b]) * sc)
        keep = d >= best_len - 1e-9
        a, b, d = a[keep], b[keep], d[keep]
        if len(d) == 0:
            continue
        srt = np.argsort(-d, kind="stable")
        a, b, d = a[srt], b[srt], d[srt]
        pts = np.stack([jj, ii], axis=1).astype(np.float64)
        deep = _deep_non_viable(v[k], (sr, sc), step_mm, gap_mm)
        for s in range(0, len(d), 4096):
            aa, bb, dd = a[s : s + 4096], b[s : s + 4096], d[s : s + 4096]
            if deep is not None:  # cheap rejection: 9 samples falling deep in necrosis
                t = np.linspace(0.1, 0.9, 9)
                pj = np.rint(pts[aa, None, 0] + t * (pts[bb, None, 0] - pts[aa, None, 0])).astype(np.int64)
                pi = np.rint(pts[aa, None, 1] + t * (pts[bb, None, 1] - pts[aa, None, 1])).astype(np.int64)
                alive = ~deep[pj, pi].any(axis=1)
                aa, bb, dd = aa[alive], bb[alive], dd[alive]
            found = False
            for s2 in range(0, len(dd), 512):
                a2, b2, d2 = aa[s2 : s2 + 512], bb[s2 : s2 + 512], dd[s2 : s2 + 512]
                ok = _valid_segments(v[k], pts[a2], pts[b2], d2, step_mm, gap_mm)
                hit = np.flatnonzero(ok)
                if len(hit):
                    h = int(hit[0])
                    length = float(d2[h])
                    if length > best_len + 1e-9 or (abs(length - best_len) <= 1e-9 and best is not None and k < best[0]):
                        best, best_len = (k, pts[a2[h]], pts[b2[h]], length), length
                    found = True
                    break
            if found:
                break
    return best


#: Points of a candidate segment probed against the deep-necrosis mask before the full check,
#: as fractions (numerator, denominator) of the way from p to q; integer arithmetic.
_PROBES: tuple[tuple[int, int], ...] = ((1, 2), (1, 4), (3, 4), (1, 8), (3, 8), (5, 8), (7, 8))

#: Probe points of a pair of cells (:func:`_cell_pairs`): fewer, the cell pairs are many.
_CELL_PROBES: tuple[tuple[int, int], ...] = ((1, 2), (1, 4), (3, 4))

#: Samples around the middle of a candidate segment checked exactly before the full check.
_MID_WINDOW_SAMPLES: int = 6


def _deep_box(
    v: NDArray[np.bool_], spacing_rc: tuple[float, float], step_mm: float, gap_mm: float, extra_mm: float = 0.0
) -> NDArray[np.bool_]:
    """Non-viable voxels with no viable voxel in the in-plane box of half-widths
    ``floor(r / spacing)`` (all slices at once; two 1-D maximum filters).

    The box contains the disc of radius ``r = gap/2 + step + 2 h`` (h = half the voxel
    diagonal), so every voxel marked here is also deep for :func:`_deep_non_viable` - a subset,
    hence conservative by the same argument: a segment passing within h of such a voxel has a
    run of non-viable samples longer than the gap tolerance.  With ``extra_mm`` > 0 the box
    grows by ``ceil(extra / spacing)`` voxels per side, so a marked voxel has no viable voxel
    within ``r + extra``: a segment passing within ``h + extra`` of it is invalid (in that
    argument, with the point x on the segment and the marked voxel v at ``|x - v| <= delta``,
    the samples within ``r + extra - h - delta`` of x are non-viable).
    """
    from scipy import ndimage

    h = 0.5 * float(np.hypot(*spacing_rc))
    r_deep = gap_mm / 2.0 + step_mm + 2.0 * h + 1e-6
    nj = int(np.floor(r_deep / spacing_rc[0])) + int(np.ceil(extra_mm / spacing_rc[0]))
    ni = int(np.floor(r_deep / spacing_rc[1])) + int(np.ceil(extra_mm / spacing_rc[1]))
    near = ndimage.maximum_filter1d(v.view(np.uint8), 2 * nj + 1, axis=1, mode="constant", cval=0)
    near = ndimage.maximum_filter1d(near, 2 * ni + 1, axis=2, mode="constant", cval=0)
    return near == 0


def _deep_slice(
    vk: NDArray[np.bool_],
    spacing_rc: tuple[float, float],
    step_mm: float,
    gap_mm: float,
    extras_mm: tuple[float, ...] = (0.0,),
) -> list[NDArray[np.bool_]]:
    """:func:`_deep_box` of a slice (H, W) or a stack of slices (S, H, W), for each of
    ``extras_mm``; same result, less work: filtered only over the viable voxels' in-plane
    bounding box plus the largest box half-widths (everything farther is deep), and with square
    pixels all boxes come from one chessboard distance transform (no viable voxel within the box
    of half-width n  <=>  chessboard distance to the nearest viable voxel > n)."""
    from scipy import ndimage

    h = 0.5 * float(np.hypot(*spacing_rc))
    r_deep = gap_mm / 2.0 + step_mm + 2.0 * h + 1e-6
    half = [
        (int(np.floor(r_deep / spacing_rc[0])) + int(np.ceil(e / spacing_rc[0])),
         int(np.floor(r_deep / spacing_rc[1])) + int(np.ceil(e / spacing_rc[1])))
        for e in extras_mm
    ]
    nj_max, ni_max = max(x[0] for x in half), max(x[1] for x in half)
    stack = vk if vk.ndim == 3 else vk[None]
    rows = np.flatnonzero(stack.any(axis=(0, 2)))
    cols = np.flatnonzero(stack.any(axis=(0, 1)))
    outs = [np.ones(stack.shape, dtype=bool) for _ in half]
    if len(rows):
        r0, r1 = max(int(rows[0]) - nj_max, 0), min(int(rows[-1]) + nj_max + 1, stack.shape[1])
        c0, c1 = max(int(cols[0]) - ni_max, 0), min(int(cols[-1]) + ni_max + 1, stack.shape[2])
        crop = stack[:, r0:r1, c0:c1]
        if all(nj == ni for nj, ni in half) and len(half) > 1:
            plane = np.zeros((3, 3, 3), dtype=bool)
            plane[1] = True  # chessboard distance within each slice only
            dist = ndimage.distance_transform_cdt(~crop, metric=plane)
            for out, (nj, _) in zip(outs, half, strict=True):
                out[:, r0:r1, c0:c1] = dist > nj
        else:
            for out, e in zip(outs, extras_mm, strict=True):
                out[:, r0:r1, c0:c1] = _deep_box(crop, spacing_rc, step_mm, gap_mm, e)
    return outs if vk.ndim == 3 else [o[0] for o in outs]


def _probe_alive(
    deep: NDArray[np.bool_],
    ja: NDArray[np.int64],
    ia: NDArray[np.int64],
    jb: NDArray[np.int64],
    ib: NDArray[np.int64],
    sl: NDArray[np.int64] | None = None,
) -> NDArray[np.bool_]:
    """False for segments with a probe point whose nearest voxel is deep in necrosis.

    The point ``x = a + (num/den)(b - a)`` is rounded half up per axis to a voxel v, so
    ``|x - v| <= h``; with ``deep[v]`` every sample of the segment within ``r - 2 h`` of x is
    non-viable (see :func:`_deep_non_viable`), a run longer than the gap tolerance: the segment
    is invalid.  Conservative whatever the probe positions.  ``deep`` is one slice (H, W), or a
    stack (S, H, W) with ``sl`` the slice of each segment.
    """
    n_row, n_col = deep.shape[-2], deep.shape[-1]
    flat = deep.ravel()
    base = np.zeros(len(ja), np.int64) if sl is None else sl * (n_row * n_col)
    alive_idx = np.arange(len(ja))
    for num, den in _PROBES:
        if len(alive_idx) == 0:
            break
        a0, a1, b0, b1 = ja[alive_idx], ia[alive_idx], jb[alive_idx], ib[alive_idx]
        rj = (2 * ((den - num) * a0 + num * b0) + den) // (2 * den)
        ri = (2 * ((den - num) * a1 + num * b1) + den) // (2 * den)
        alive_idx = alive_idx[~flat[base[alive_idx] + rj * n_col + ri]]
    out = np.zeros(len(ja), dtype=bool)
    out[alive_idx] = True
    return out


def _n_samples(lengths: NDArray[np.float64], step_mm: float) -> NDArray[np.int64]:
    """The rule's number of samples of segments of these lengths (as :func:`_valid_segments`)."""
    return np.maximum(np.ceil(lengths / step_mm - 1e-9).astype(np.int64) + 1, 2)


def _gap_runs(lengths: NDArray[np.float64], n_pair: NDArray[np.int64], gap_mm: float) -> NDArray[np.int64]:
    """Longest tolerated run of non-viable samples of each segment."""
    seg_step = np.where(lengths > 0, lengths / (n_pair - 1), 1.0)
    return np.floor(gap_mm / seg_step + 1e-9).astype(np.int64)


def _sample_cols(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    n_pair: NDArray[np.int64],
    cols: NDArray[np.int64],
    sl: NDArray[np.int64] | None,
) -> NDArray[np.bool_]:
    """Viability of samples ``cols`` (P, W) of segments p->q, with exactly the float operations
    of :func:`_valid_segments` (``t = c / (n - 1)``, ``rint(p + t (q - p))``)."""
    t = cols / (n_pair[:, None] - 1.0)
    jj = np.rint(p[:, None, 0] + t * (q[:, None, 0] - p[:, None, 0])).astype(np.int64)
    ii = np.rint(p[:, None, 1] + t * (q[:, None, 1] - p[:, None, 1])).astype(np.int64)
    n_row, n_col = vslice.shape[-2], vslice.shape[-1]
    np.clip(jj, 0, n_row - 1, out=jj)
    np.clip(ii, 0, n_col - 1, out=ii)
    flat_idx = jj * n_col + ii
    if sl is not None:
        flat_idx += (sl * (n_row * n_col))[:, None]
    return vslice.ravel()[flat_idx]


def _samples(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    lengths: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
    window: int | None = None,
    sl: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Viability of the rule's sample points of segments p->q and each segment's gap tolerance.

    The sample coordinates are computed with exactly the float operations of
    :func:`_valid_segments` (``t = c / (n - 1)``, ``rint(p + t (q - p))``), so the verdicts are
    identical.  ``window`` restricts to that many samples centred on the middle of each segment
    (clipped to its ends).  ``vslice`` is one slice (H, W), or a stack (S, H, W) with ``sl`` the
    slice of each segment.  Returns ``(good (P, W), max_run (P,))``.
    """
    n_pair = _n_samples(lengths, step_mm)
    if window is None:
        cols = np.minimum(np.arange(int(n_pair.max()))[None, :], (n_pair - 1)[:, None])
    else:
        c0 = (n_pair - 1) // 2 - window // 2
        cols = np.clip(c0[:, None] + np.arange(window)[None, :], 0, (n_pair - 1)[:, None])
    return _sample_cols(vslice, p, q, n_pair, cols, sl), _gap_runs(lengths, n_pair, gap_mm)


def _has_long_bad_run(good: NDArray[np.bool_], max_run: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Rows with more than ``max_run`` consecutive False values (per row)."""
    bad = ~good
    out = np.zeros(len(good), dtype=bool)
    width = good.shape[1]
    for m in np.unique(max_run):
        run = int(m) + 1
        if run > width:
            continue
        rows = np.flatnonzero(max_run == m)
        b = bad[rows]
        acc = b[:, : width - run + 1].copy()
        for s in range(1, run):
            acc &= b[:, s : s + width - run + 1]
        out[rows] = acc.any(axis=1)
    return out


def _valid_segments_fast(
    vslice: NDArray[np.bool_],
    p: NDArray[np.float64],
    q: NDArray[np.float64],
    lengths: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
    sl: NDArray[np.int64] | None = None,
) -> NDArray[np.bool_]:
    """Same verdicts as :func:`_valid_segments` for segments between viable voxel centres.

    Both ends are viable samples, so every run of non-viable samples is bounded by viable ones
    and the segment is valid iff no run is longer than its gap tolerance (no gap filling needed).
    The samples are read in blocks of :data:`_SAMPLE_BLOCK` along the segments, a segment
    dropped at its first too-long run (each block overlaps the previous one by the longest
    tolerated run, so a run across two blocks is seen whole): the same verdicts, without the
    samples of the segments already rejected (most of them, on a patchy viable mask).
    """
    n_pair = _n_samples(lengths, step_mm)
    max_run = _gap_runs(lengths, n_pair, gap_mm)
    n_max = int(n_pair.max()) if len(n_pair) else 0
    kernel = _kernels.get("valid_segments") if len(n_pair) > _KERNEL_MIN_PAIRS else None
    if kernel is not None:  # compiled: one sample at a time, each segment stopped at its first long run
        n_row, n_col = vslice.shape[-2], vslice.shape[-1]
        base = np.zeros(len(n_pair), np.int64) if sl is None else np.asarray(sl, np.int64) * (n_row * n_col)
        return np.asarray(kernel(np.ascontiguousarray(vslice).ravel(), n_row, n_col,
                                 np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1]),
                                 np.ascontiguousarray(q[:, 0]), np.ascontiguousarray(q[:, 1]),
                                 n_pair, max_run, base))
    if len(n_pair) * n_max <= _ONE_SHOT_SAMPLES:  # few samples: all at once (less overhead)
        cols = np.minimum(np.arange(n_max)[None, :], (n_pair - 1)[:, None])
        return ~_has_long_bad_run(_sample_cols(vslice, p, q, n_pair, cols, sl), max_run)
    ok = np.ones(len(n_pair), dtype=bool)
    over = int(max_run.max()) if len(max_run) else 0
    alive = np.arange(len(n_pair))
    c0 = 0
    while c0 < n_max and len(alive):
        alive = alive[n_pair[alive] > c0]  # (a segment whose samples are all read is valid)
        if len(alive) == 0:
            break
        lo = max(c0 - over, 0)
        c1 = min(c0 + _SAMPLE_BLOCK, n_max)
        na = n_pair[alive]
        cols = np.minimum(np.arange(lo, c1)[None, :], (na - 1)[:, None])
        good = _sample_cols(vslice, p[alive], q[alive], na, cols, None if sl is None else sl[alive])
        bad = _has_long_bad_run(good, max_run[alive])
        ok[alive[bad]] = False
        alive = alive[~bad]
        c0 = c1
    return ok


#: Samples per block of the full check (:func:`_valid_segments_fast`).
_SAMPLE_BLOCK: int = 48

#: Up to this many samples the full check reads them all at once (no blocks).
_ONE_SHOT_SAMPLES: int = 1 << 15

#: The compiled full check (:func:`._kernels_nb.valid_segments`) is used for more pairs than this
#: (numba on; else the blocks above).
_KERNEL_MIN_PAIRS: int = 64


def _slice_bounds(
    v: NDArray[np.bool_], sr: float, sc: float
) -> tuple[_hull.SliceHulls, NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]] | None:
    """Per-slice hulls, upper bounds ``2 max|v - c|`` (mm), slice visiting order (largest first)
    and the centres c (mm, (S, 2)): the reference's bounds, computed the same way.

    The hulls are found on the viable voxels' bounding box and shifted back (integer vertex
    coordinates: the same vertices as on the whole array, hence the same floats after)."""
    ks = np.flatnonzero(v.any(axis=(1, 2)))
    if len(ks) == 0:
        return None
    k0, k1 = int(ks[0]), int(ks[-1]) + 1
    proj = v[k0:k1].any(axis=0)
    rows, cols = np.flatnonzero(proj.any(axis=1)), np.flatnonzero(proj.any(axis=0))
    r0, c0 = int(rows[0]), int(cols[0])
    h = _hull.slice_hulls(v[k0:k1, r0 : int(rows[-1]) + 1, c0 : int(cols[-1]) + 1])
    hulls = _hull.SliceHulls(k=h.k + k0, j=h.j + r0, i=h.i + c0, slices=h.slices + k0, starts=h.starts)
    st = hulls.starts[:-1]
    u = hulls.j * sr
    w = hulls.i * sc
    cu = (np.minimum.reduceat(u, st) + np.maximum.reduceat(u, st)) / 2.0
    cw = (np.minimum.reduceat(w, st) + np.maximum.reduceat(w, st)) / 2.0
    grp = np.repeat(np.arange(len(st)), np.diff(hulls.starts))
    upper = 2.0 * np.maximum.reduceat(np.hypot(u - cu[grp], w - cw[grp]), st)
    return hulls, upper, np.argsort(-upper, kind="stable"), np.stack([cu, cw], axis=1)


def _cell_pairs(
    sl: NDArray[np.int64],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    sr: float,
    sc: float,
    lo: float,
    hi: float,
    levels: tuple[int, ...],
    superdeep: tuple[NDArray[np.bool_], ...] | None,
    max_pairs: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None:
    """Pairs ``a < b`` of points on the same slice with ``lo <= d < hi`` mm (d computed exactly
    as the reference does), found through nested square cells (``levels``: cell sizes in voxels,
    coarse to fine, each a multiple of the next).

    With ``max_pairs``, returns ``None`` instead as soon as a level would expand more than that
    many (cell or point) pairs: the caller narrows the band (bounded memory).

    ``(sl, jj, ii)`` are the points (slice id, row, column), sorted by slice then row-major, as
    ``np.nonzero`` gives them; ``a < b`` is then the reference's pair orientation.  Level by
    level, a pair of cells is dropped when the farthest distance between their bounding boxes is
    below ``lo``, or when the segment joining the box centres meets ``superdeep[level]`` (S, H, W)
    at a probe point y (rounded to the voxel u, ``|u - y| <= h``): every segment between a point
    of one cell and a point of the other has a point x with ``|x - y| <= rho`` (rho: the cells'
    box half-diagonal, at most the level's cell half-diagonal), so ``|x - u| <= h + rho``; and
    ``superdeep[level]`` marks voxels with no viable voxel within ``r_deep + rho``
    (:func:`_deep_box` with ``extra_mm = rho``).  The argument of :func:`_deep_non_viable` with
    delta = ``h + rho`` in place of h then gives a run of non-viable samples longer than the gap
    tolerance: the segment is invalid.  Both drops are conservative.  Children of the surviving
    pairs are examined at the next level; the last level is expanded to points.  A pair of cells
    whose nearest box-to-box distance is at least ``hi`` (with a rounding margin) holds no pair
    of the band either and is dropped too.
    """
    empty = np.zeros(0, np.int64)
    if len(jj) < 2:
        return empty, empty, np.zeros(0)
    keys = [np.stack([jj // c, ii // c]) for c in levels]
    order = np.lexsort(tuple(x for kk in reversed(keys) for x in (kk[1], kk[0])) + (sl,))
    sls, js, is_ = sl[order], jj[order], ii[order]
    n = len(order)
    group_start: list[NDArray[np.int64]] = []
    change = sls[1:] != sls[:-1]
    for kk in keys:
        ks = kk[:, order]
        change = change | (ks[0, 1:] != ks[0, :-1]) | (ks[1, 1:] != ks[1, :-1])
        group_start.append(np.flatnonzero(np.r_[True, change]))
    A = B = empty
    for lev, gs in enumerate(group_start):
        gcount = np.diff(np.r_[gs, n])
        jmin, jmax = np.minimum.reduceat(js, gs), np.maximum.reduceat(js, gs)
        imin, imax = np.minimum.reduceat(is_, gs), np.maximum.reduceat(is_, gs)
        if lev == 0:  # every pair of cells A <= B on the same slice (cells are grouped by slice)
            gslice = sls[gs]
            ng = len(gs)
            cnt = np.searchsorted(gslice, gslice, side="right") - np.arange(ng)
            A = np.repeat(np.arange(ng), cnt)
            B = A + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        else:  # children of the surviving parent pairs
            pgs = group_start[lev - 1]
            cstart = np.searchsorted(gs, pgs)
            ccount = np.diff(np.r_[cstart, len(gs)])
            nA, nB = ccount[A], ccount[B]
            m = nA * nB
            if max_pairs is not None and int(m.sum()) > max_pairs:
                return None
            which = np.repeat(np.arange(len(A)), m)
            off = np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m)
            ca = cstart[A][which] + off // nB[which]
            cb = cstart[B][which] + off % nB[which]
            keep = (A != B)[which] | (ca <= cb)  # a same-parent pair of children once
            A, B = ca[keep], cb[keep]
        dj = np.maximum(jmax[A] - jmin[B], jmax[B] - jmin[A]) * sr
        di = np.maximum(imax[A] - imin[B], imax[B] - imin[A]) * sc
        ok = np.hypot(dj, di) >= lo * (1.0 - 1e-9) - 1e-6
        if np.isfinite(hi):  # nearest box-to-box distance: every point pair is at least this far
            nj = np.maximum(np.maximum(jmin[A] - jmax[B], jmin[B] - jmax[A]), 0) * sr
            ni = np.maximum(np.maximum(imin[A] - imax[B], imin[B] - imax[A]), 0) * sc
            ok &= np.hypot(nj, ni) < hi * (1.0 + 1e-9) + 1e-6
        A, B = A[ok], B[ok]
        if superdeep is not None and len(A):
            sd = superdeep[lev]
            n_row, n_col = sd.shape[-2], sd.shape[-1]
            base = sls[gs[A]] * (n_row * n_col)
            cjA, ciA = (jmin[A] + jmax[A]) / 2.0, (imin[A] + imax[A]) / 2.0
            cjB, ciB = (jmin[B] + jmax[B]) / 2.0, (imin[B] + imax[B]) / 2.0
            flat = sd.ravel()
            alive = np.ones(len(A), dtype=bool)
            for num, den in _CELL_PROBES:
                t = num / den
                uj = np.rint(cjA + t * (cjB - cjA)).astype(np.int64)
                ui = np.rint(ciA + t * (ciB - ciA)).astype(np.int64)
                alive &= ~flat[base + uj * n_col + ui]
            A, B = A[alive], B[alive]
        if len(A) == 0:
            return empty, empty, np.zeros(0)
    gs = group_start[-1]
    gcount = np.diff(np.r_[gs, n])
    m = gcount[A] * gcount[B]
    if max_pairs is not None and int(m.sum()) > max_pairs:
        return None
    which = np.repeat(np.arange(len(A)), m)
    off = np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m)
    nb = gcount[B][which]
    pa = order[gs[A][which] + off // nb]
    pb = order[gs[B][which] + off % nb]
    same = (A == B)[which]
    keep = (pa != pb) & (~same | (pa < pb))  # a same-cell pair once, other pairs oriented a < b
    a, b = np.minimum(pa, pb)[keep], np.maximum(pa, pb)[keep]
    d = np.hypot((jj[a] - jj[b]) * sr, (ii[a] - ii[b]) * sc)
    keep = (d >= lo) & (d < hi)
    return a[keep], b[keep], d[keep]

#: Nested cell sizes (voxels, coarse to fine) of the pair search (:func:`_cell_pairs`).
_CELL_LEVELS: tuple[int, ...] = (12, 6, 3)

#: Slices searched one by one (by decreasing hull bound) before the remaining candidate
#: slices are searched together in one vectorised pass.
_ALONE_SLICES: int = 1

#: Slices per vectorised pass (bounds the memory of the pair arrays; the best length found by
#: one pass is the threshold of the next).
_BATCH_SLICES: int = 32

#: Length bands of the pair search, as fractions of the slice's hull bound: the longest pairs
#: are examined first and most slices end in the first band.
_BANDS: tuple[float, ...] = (0.85, 0.65, 0.4, 0.0)


def _first_valid_per_slice(
    vs: NDArray[np.bool_],
    sl: NDArray[np.int64],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    spacing_rc: tuple[float, float],
    lo: float,
    hi: float,
    step_mm: float,
    gap_mm: float,
) -> dict[int, tuple[int, int, float]]:
    """For each slice of the stack ``vs`` (S, H, W), the reference's first valid pair among its
    boundary-voxel pairs with ``lo <= d < hi``: ``{slice: (a, b, length_mm)}`` (a, b index the
    points ``(sl, jj, ii)``); slices without one are absent.

    Memory is bounded: when the band ``[lo, hi)`` holds more than :data:`_MAX_PAIRS` candidate
    pairs, the slices are searched in smaller groups (slices are independent), and a single
    slice's band is split by length, the upper half searched first (down to half a pixel); a
    slice resolved in the upper half is left out of the lower half (its pair is longer than any
    pair below, so it is the reference's first valid pair whatever the lower half holds).  The
    full checks run in chunks of at most :data:`_MAX_SAMPLES` samples.  None of this changes
    which pair is found."""
    sr, sc = spacing_rc
    extras = tuple(0.5 * float(np.hypot((c - 1) * sr, (c - 1) * sc)) for c in _CELL_LEVELS)
    deep, *superdeep = _deep_slice(vs, spacing_rc, step_mm, gap_mm, (0.0, *extras))
    pts = np.stack([jj, ii], axis=1).astype(np.float64)
    found: dict[int, tuple[int, int, float]] = {}
    if len(jj) < 2:
        return found
    if not np.isfinite(hi):  # a finite top every same-slice pair is below (box diagonal + margin)
        diag = float(np.hypot((jj.max() - jj.min()) * sr, (ii.max() - ii.min()) * sc))
        hi_cap: float = diag * (1.0 + 1e-9) + 1e-6
    else:
        hi_cap = hi
    min_band = 0.5 * min(sr, sc)
    todo = [(np.unique(sl), lo, hi, hi_cap)]  # a stack: slice groups and length bands
    while todo:
        slices, blo, bhi, bcap = todo.pop()
        if found:
            slices = slices[~np.isin(slices, np.fromiter(found, np.int64))]
        idx = np.flatnonzero(np.isin(sl, slices))
        if len(idx) < 2:
            continue
        got = _cell_pairs(sl[idx], jj[idx], ii[idx], sr, sc, blo, bhi, _CELL_LEVELS, tuple(superdeep), _MAX_PAIRS)
        if got is None:  # too many pairs: fewer slices at a time, then the longer half first
            if len(slices) > 1:
                h = len(slices) // 2
                todo += [(slices[h:], blo, bhi, bcap), (slices[:h], blo, bhi, bcap)]
                continue
            if bcap - blo > min_band:
                mid = 0.5 * (blo + bcap)
                todo += [(slices, blo, mid, mid), (slices, mid, bhi, bcap)]
                continue
            got = _cell_pairs(sl[idx], jj[idx], ii[idx], sr, sc, blo, bhi, _CELL_LEVELS, tuple(superdeep))
            assert got is not None
        a, b, d = got
        _first_valid_in(vs, deep, pts, sl, jj, ii, idx[a], idx[b], d, step_mm, gap_mm, found)
    return found


def _first_valid_in(
    vs: NDArray[np.bool_],
    deep: NDArray[np.bool_],
    pts: NDArray[np.float64],
    sl: NDArray[np.int64],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    d: NDArray[np.float64],
    step_mm: float,
    gap_mm: float,
    found: dict[int, tuple[int, int, float]],
) -> None:
    """Adds to ``found`` each slice's first valid pair (the reference's order: longest first,
    then ``(a, b)``) among the candidate pairs ``a, b`` (lengths ``d``) of slices not in it."""
    if len(d) == 0:
        return
    alive = _probe_alive(deep, jj[a], ii[a], jj[b], ii[b], sl[a])
    a, b, d = a[alive], b[alive], d[alive]
    if len(d) == 0:
        return
    alive = np.empty(len(d), dtype=bool)
    for c0 in range(0, len(d), _MID_CHUNK):  # (in chunks: bounded memory)
        a2, b2 = a[c0 : c0 + _MID_CHUNK], b[c0 : c0 + _MID_CHUNK]
        good, max_run = _samples(vs, pts[a2], pts[b2], d[c0 : c0 + _MID_CHUNK], step_mm, gap_mm,
                                 window=_MID_WINDOW_SAMPLES, sl=sl[a2])
        alive[c0 : c0 + _MID_CHUNK] = ~_has_long_bad_run(good, max_run)
    a, b, d = a[alive], b[alive], d[alive]
    if len(d) == 0:
        return
    s_of = sl[a]
    srt = np.lexsort((b, a, -d, s_of))  # per slice, the reference's order: longest first, then (a, b)
    a, b, d, s_of = a[srt], b[srt], d[srt], s_of[srt]
    first = np.flatnonzero(np.r_[True, s_of[1:] != s_of[:-1]])
    rank = np.arange(len(s_of)) - np.repeat(first, np.diff(np.r_[first, len(s_of)]))
    r0, r1 = 0, 16
    while True:  # rounds: the next candidates of every unresolved slice, longest first
        sel = np.flatnonzero((rank >= r0) & (rank < r1))
        if len(sel) == 0:
            break
        # chunks of at most _MAX_SAMPLES samples, in (slice, reference) order: a slice's
        # candidates in a later chunk come after its candidates in an earlier one
        n_max = int(np.ceil(d[sel].max() / step_mm)) + 2
        per = max(1, _MAX_SAMPLES // n_max)
        for c0 in range(0, len(sel), per):
            part = sel[c0 : c0 + per]
            if found:
                part = part[~np.isin(s_of[part], np.fromiter(found, np.int64))]
            if len(part) == 0:
                continue
            ok = _valid_segments_fast(vs, pts[a[part]], pts[b[part]], d[part], step_mm, gap_mm, sl=s_of[part])
            for e in part[ok]:  # the first hit per slice wins
                sk = int(s_of[e])
                if sk not in found:
                    found[sk] = (int(a[e]), int(b[e]), float(d[e]))
        r0, r1 = r1, r1 * 4

#: Largest number of candidate pairs one length band of the pair search may expand (bounds
#: the memory of :func:`_first_valid_per_slice`: a few arrays of this many pairs x the mid-window
#: samples); a band with more is split by length.
_MAX_PAIRS: int = 1 << 21

#: Pairs per chunk of the mid-window check (bounds its sample arrays).
_MID_CHUNK: int = 1 << 18

#: Largest number of sample points checked at once by the full check (bounds its memory).
_MAX_SAMPLES: int = 1 << 22

#: Slices with at most this many candidate boundary voxels are searched directly (all pairs,
#: longest first, mid-window then full check), without the necrosis masks and cells.
_DIRECT_MAX_POINTS: int = 160


def _first_valid_direct(
    vk: NDArray[np.bool_],
    jj: NDArray[np.int64],
    ii: NDArray[np.int64],
    spacing_rc: tuple[float, float],
    thr: float,
    step_mm: float,
    gap_mm: float,
) -> tuple[int, int, float] | None:
    """The reference's first valid pair with ``d >= thr`` on one small slice (H, W): every pair,
    in the reference's order, checked in growing chunks (mid-window test, then the full check)."""
    sr, sc = spacing_rc
    a, b = np.triu_indices(len(jj), k=1)
    d = np.hypot((jj[a] - jj[b]) * sr, (ii[a] - ii[b]) * sc)
    keep = d >= thr
    a, b, d = a[keep], b[keep], d[keep]
    if len(d) == 0:
        return None
    srt = np.argsort(-d, kind="stable")
    a, b, d = a[srt], b[srt], d[srt]
    pts = np.stack([jj, ii], axis=1).astype(np.float64)
    chunk, s = 16, 0
    while s < len(d):
        a2, b2, d2 = a[s : s + chunk], b[s : s + chunk], d[s : s + chunk]
        good, max_run = _samples(vk, pts[a2], pts[b2], d2, step_mm, gap_mm, window=_MID_WINDOW_SAMPLES)
        alive = np.flatnonzero(~_has_long_bad_run(good, max_run))
        if len(alive):
            ok = _valid_segments_fast(vk, pts[a2[alive]], pts[b2[alive]], d2[alive], step_mm, gap_mm)
            hit = alive[ok]
            if len(hit):
                h = int(hit[0])
                return int(a2[h]), int(b2[h]), float(d2[h])
        s += chunk
        chunk = min(chunk * 4, 4096)
    return None


def _longest_valid(
    v: NDArray[np.bool_], spacing: tuple[float, float, float], gap_voxels: float
) -> tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None:
    """Longest valid segment over all slices: ``(slice, p, q, length_mm)`` (p, q = (row, col)).

    Returns exactly what :func:`_longest_valid_reference` (the rule's definition) returns -
    same slice, endpoints and length; property-tested against it - with work removed only
    where it provably cannot change the answer:

    * slices are visited by decreasing hull bound and the search stops when the bound falls
      below the best valid length (as in the reference);
    * a boundary voxel whose distance to the slice centre plus the hull radius is below the best
      length cannot end a longer segment: it is dropped;
    * pairs come from nested cells (:func:`_cell_pairs`): cell pairs too short, or whose
      segments all cross deep necrosis, are never expanded;
    * pairs with a probe point (1/2, 1/4, 3/4, 1/8, ...) deep in necrosis are rejected by
      integer look-ups (:func:`_probe_alive`, conservative);
    * a run of non-viable samples longer than the tolerance among the samples around the middle
      rejects a pair exactly (a sub-run of the full check);
    * the survivors, longest first (ties in the reference's pair order), get the full sampled
      check; the first valid one ends the slice.

    Small slices are searched directly (:func:`_first_valid_direct`); after
    ``_ALONE_SLICES`` slices the remaining candidate slices are searched in one vectorised pass
    against the best length so far, and the reference's update rule (longest wins, ties within
    1e-9 mm go to the lowest slice) is applied to their results in the reference's slice order:
    a slice the reference would skip or find nothing on offers nothing that rule accepts.
    """
    sr, sc = spacing[1], spacing[2]
    step_mm = VIABLE_SAMPLE_STEP_VOXELS * min(sr, sc)
    gap_mm = gap_voxels * max(sr, sc)
    bounds = _slice_bounds(v, sr, sc)
    if bounds is None:
        return None
    hulls, upper, order, centre = bounds
    best: tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None = None
    best_len = -1.0

    def offer(k: int, p: NDArray[np.float64], q: NDArray[np.float64], length: float) -> None:
        nonlocal best, best_len  # the reference's update rule (ties within 1e-9: lowest slice)
        if length > best_len + 1e-9 or (abs(length - best_len) <= 1e-9 and best is not None and k < best[0]):
            best, best_len = (k, p, q, length), length

    n_alone = 0
    for i_pos, pos in enumerate(order):
        if upper[pos] < best_len - 1e-9:
            break
        if best_len > 0.0 and n_alone >= _ALONE_SLICES and best_len >= _BANDS[1] * float(upper[pos]):
            # the rest in one vectorised pass against a fixed threshold: every slice's first valid
            # pair >= thr is found, then offered in the reference's order (same outcome).
            rest_all = np.array([q for q in order[i_pos:] if upper[q] >= best_len - 1e-9], dtype=np.int64)
            for g in range(0, len(rest_all), _BATCH_SLICES):  # bounded memory; threshold tightens
                rest = rest_all[g : g + _BATCH_SLICES]
                rest = rest[upper[rest] >= best_len - 1e-9]
                if len(rest) == 0:
                    continue
                ks = hulls.slices[rest]
                vs = v[ks]
                sl, jj, ii = np.nonzero(_boundary(vs))  # in-plane: the same as on the whole array
                # |a - b| <= |a - c| + max|h - c| (c: the slice's centre, h: its hull vertices),
                # so a point whose bound is below the threshold ends no candidate pair
                reach = np.hypot(jj * sr - centre[rest[sl], 0], ii * sc - centre[rest[sl], 1]) + upper[rest[sl]] / 2.0
                keep = reach >= best_len - 1e-9 - 1e-6
                sl, jj, ii = sl[keep], jj[keep], ii[keep]
                lo = best_len - 1e-9 - 1e-7
                found = _first_valid_per_slice(vs, sl, jj, ii, (sr, sc), lo, np.inf, step_mm, gap_mm)
                for s_idx in range(len(ks)):
                    if s_idx in found:
                        ia, ib, length = found[s_idx]
                        offer(int(ks[s_idx]), np.array([jj[ia], ii[ia]], float), np.array([jj[ib], ii[ib]], float), length)
            break
        n_alone += 1
        k = int(hulls.slices[pos])
        jj, ii = np.nonzero(_boundary(v[k][None])[0])
        if len(jj) == 1:
            if 0.0 > best_len or (0.0 == best_len and best is not None and k < best[0]):
                best, best_len = (k, np.array([jj[0], ii[0]], float), np.array([jj[0], ii[0]], float), 0.0), 0.0
            continue
        thr = best_len - 1e-9
        if best_len > 0.0:  # same reach bound as in the vectorised pass
            reach = np.hypot(jj * sr - centre[pos, 0], ii * sc - centre[pos, 1]) + upper[pos] / 2.0
            keep = reach >= thr - 1e-6
            jj, ii = jj[keep], ii[keep]
            if len(jj) < 2:
                continue
        if len(jj) <= _DIRECT_MAX_POINTS:
            got = _first_valid_direct(v[k], jj, ii, (sr, sc), thr, step_mm, gap_mm)
            if got is not None:
                ia, ib, length = got
                offer(k, np.array([jj[ia], ii[ia]], float), np.array([jj[ib], ii[ib]], float), length)
            continue
        vk = v[k][None]
        sl = np.zeros(len(jj), np.int64)
        hi = np.inf
        # longest pairs first, in bands (one band once a best length close to the slice's bound
        # is known); the first valid pair ends the slice
        fracs = _BANDS if thr < _BANDS[1] * float(upper[pos]) else (0.0,)
        for frac in fracs:
            lo = max(thr, frac * float(upper[pos]))
            got = _first_valid_per_slice(vk, sl, jj, ii, (sr, sc), lo, hi, step_mm, gap_mm).get(0)
            if got is not None:
                ia, ib, length = got
                offer(k, np.array([jj[ia], ii[ia]], float), np.array([jj[ib], ii[ib]], float), length)
                break
            if lo <= thr:
                break
            hi = lo
    return best


def _perpendicular_run(
    vslice: NDArray[np.bool_],
    direction_mm: NDArray[np.float64],
    spacing_rc: tuple[float, float],
    gap_voxels: float,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Longest viable run perpendicular to ``direction_mm`` on one slice (voxel centres).

    Returns ``(length_mm, p, q)`` with p, q in mm (row_mm, col_mm) of the slice."""
    sr, sc = spacing_rc
    u = direction_mm / np.linalg.norm(direction_mm)
    n = np.array([-u[1], u[0]])
    jj, ii = np.nonzero(vslice)
    pts = np.stack([jj * sr, ii * sc], axis=1)
    h = VIABLE_SAMPLE_STEP_VOXELS * min(sr, sc)
    gap_mm = gap_voxels * max(sr, sc)
    tp, sp_ = pts @ u, pts @ n
    t = np.arange(tp.min(), tp.max() + h / 2, h)
    s = np.arange(sp_.min() - h, sp_.max() + h * 1.5, h)
    xr = t[:, None] * u[0] + s[None, :] * n[0]
    xc = t[:, None] * u[1] + s[None, :] * n[1]
    rj = np.rint(xr / sr).astype(np.int64)
    ci = np.rint(xc / sc).astype(np.int64)
    inside = (rj >= 0) & (rj < vslice.shape[0]) & (ci >= 0) & (ci < vslice.shape[1])
    good = np.zeros(rj.shape, dtype=bool)
    good[inside] = vslice[rj[inside], ci[inside]]
    filled = fill_short_gaps(good, np.floor(gap_mm / h + 1e-9))
    # projection on n of the nearest voxel centre of each good sample
    proj = np.where(good, rj * sr * n[0] + ci * sc * n[1], np.nan)
    # run ids along each row
    start = filled & ~np.concatenate([np.zeros((filled.shape[0], 1), bool), filled[:, :-1]], axis=1)
    run_id = np.cumsum(start.ravel()).reshape(filled.shape)
    run_id = np.where(filled, run_id, 0)
    flat_id = run_id.ravel()
    flat_proj = proj.ravel()
    sel = (flat_id > 0) & ~np.isnan(flat_proj)
    if not sel.any():
        return 0.0, pts[0], pts[0]
    ids = flat_id[sel]
    pr = flat_proj[sel]
    n_runs = int(flat_id.max()) + 1
    lo = np.full(n_runs, np.inf)
    hi = np.full(n_runs, -np.inf)
    np.minimum.at(lo, ids, pr)
    np.maximum.at(hi, ids, pr)
    ext = hi - lo
    ext[~np.isfinite(ext)] = -1.0
    r = int(np.argmax(ext))
    row = int(np.flatnonzero((run_id == r).any(axis=1))[0])
    p = t[row] * u + lo[r] * n
    q = t[row] * u + hi[r] * n
    return float(max(ext[r], 0.0)), p, q


def _viable_line(
    frame: AxialFrame, v: NDArray[np.bool_], k: int, p: NDArray[np.float64], q: NDArray[np.float64]
) -> AxialDiameter:
    """The rule picks a segment between viable voxel centres (p, q: (row, col) indices on
    slice k); its two ends are then extended along it to the sub-voxel boundary of the viable
    region (the estimator of every diameter, :mod:`._subvoxel`)."""
    sp = frame.spacing
    src = np.array([sp[1], sp[2]])
    pm, qm, length = refine_chord(v[k], (sp[1], sp[2]), p * src, q * src, vertex=False)
    return _diameter(frame, np.array([k, pm[0] / sp[1], pm[1] / sp[2]]), np.array([k, qm[0] / sp[1], qm[1] / sp[2]]), length)


class ViableParameterError(HccImagingError, ValueError):
    """A parameter of the viable-diameter rule is unusable: not a number, negative, or (for
    ``rim_exclusion_mm``) too small to remove anything on the mask's grid."""


def check_viable_parameters(
    gap_voxels: float, rim_exclusion_mm: float, spacing: tuple[float, float, float] | None = None
) -> None:
    """Refuse a gap tolerance or rim thickness that is NaN, infinite or negative, and a
    ``rim_exclusion_mm`` below twice the in-plane spacing of ``spacing`` (frame order: slice,
    row, column): its opening ball would be one voxel in the axial plane and remove nothing
    (:func:`exclude_thin_rims`), so the rims asked to be dropped would be measured as viable."""
    for name, value in (("viable_gap_voxels", gap_voxels), ("rim_exclusion_mm", rim_exclusion_mm)):
        try:
            x = float(value)
        except (TypeError, ValueError) as err:
            raise ViableParameterError(f"{name}={value!r} is not a number; give a number >= 0.") from err
        if not np.isfinite(x) or x < 0:
            raise ViableParameterError(
                f"{name}={value!r}: must be a finite number >= 0 ("
                + ("in-plane voxels of non-viable tissue a viable diameter may cross; default "
                   f"{VIABLE_GAP_VOXELS:g}" if name == "viable_gap_voxels" else
                   "the thickness in mm of the viable structures to drop; 0 = off")
                + ")."
            )
    if spacing is not None and rim_exclusion_mm > 0:
        sr, sc = float(spacing[1]), float(spacing[2])
        smallest = 2.0 * min(sr, sc)
        if rim_exclusion_mm < smallest - 1e-9:
            raise ViableParameterError(
                f"rim_exclusion_mm={rim_exclusion_mm:g} mm is less than twice the in-plane pixel spacing "
                f"({sr:g} x {sc:g} mm): the opening ball would be a single voxel in the axial plane and remove "
                f"nothing, so the rims meant to be dropped would be measured as viable. Give 0 (off) or at least "
                f"{smallest:g} mm, or leave rims out of the viable mask (the segmentation excludes reactive rims)."
            )


def _stays_viable(
    vslice: NDArray[np.bool_], p: NDArray[np.float64], q: NDArray[np.float64],
    spacing_rc: tuple[float, float], gap_voxels: float,
) -> bool:
    """Whether the line p -> q ((row, col) indices on one slice, its ends on the sub-voxel
    boundary) keeps to viable voxels by the rule: sampled as :func:`_valid_segments`, every
    non-viable run between its outermost viable samples at most the gap tolerance (the samples
    beyond them, where an end reaches past the last voxel centre, are not counted)."""
    sr, sc = spacing_rc
    step_mm = VIABLE_SAMPLE_STEP_VOXELS * min(sr, sc)
    gap_mm = gap_voxels * max(sr, sc)
    length = float(np.hypot((q[0] - p[0]) * sr, (q[1] - p[1]) * sc))
    n = max(int(np.ceil(length / step_mm - 1e-9)) + 1, 2)
    t = np.arange(n) / (n - 1.0)
    jj = np.clip(np.rint(p[0] + t * (q[0] - p[0])).astype(np.int64), 0, vslice.shape[0] - 1)
    ii = np.clip(np.rint(p[1] + t * (q[1] - p[1])).astype(np.int64), 0, vslice.shape[1] - 1)
    good = vslice[jj, ii]
    hit = np.flatnonzero(good)
    if len(hit) == 0:
        return False
    seg_step = length / (n - 1) if length > 0 else 1.0
    return bool(fill_short_gaps(good[hit[0] : hit[-1] + 1], np.floor(gap_mm / seg_step + 1e-9)).all())


def _frame_rc(
    frame: AxialFrame, d: AxialDiameter, snap: bool = False
) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:
    """Slice and (row, col) frame indices of a diameter's endpoints (inverse of ``_diameter``).

    ``snap``: rounded to 1e-9 voxel, for a line measured on another frame of the same voxels
    (the LD, on the lesion's frame): it then has the same coordinates here whatever the array
    layout was, so the rule's sampling rounds its points the same way."""
    ends = frame.from_index(np.asarray(d.endpoints_index, dtype=np.float64))
    if snap:
        ends = np.round(ends, 9)
    return int(round(float(ends[0][0]))), ends[0][1:], ends[1][1:]


def _ordered(p: NDArray[np.float64], q: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The two ends of a line in a fixed order (row, then column, ascending): a line found on
    another frame has its ends in that frame's order, which depends on the array layout."""
    return (q, p) if (q[0], q[1]) < (p[0], p[1]) else (p, q)


def _short_axis_by_rule(
    frame: AxialFrame, v: NDArray[np.bool_], k: int, direction_mm: NDArray[np.float64], gap_voxels: float
) -> AxialDiameter:
    """The viable short axis: the longest viable run perpendicular to ``direction_mm`` on slice
    ``k`` (the gap rule), its ends moved to the sub-voxel boundary."""
    sp = frame.spacing
    src = (sp[1], sp[2])
    if float(np.linalg.norm(direction_mm)) == 0.0:
        jj, ii = np.nonzero(v[k])
        p0 = np.array([jj[0] * sp[1], ii[0] * sp[2]], dtype=np.float64)
        sa_len, pm, qm = 0.0, p0, p0
    else:
        sa_len, pm, qm = _perpendicular_run(v[k], direction_mm, src, gap_voxels)
        if sa_len > 0.0:
            pm, qm, sa_len = refine_chord(v[k], src, pm, qm, vertex=False)
    return _diameter(
        frame,
        np.array([k, pm[0] / sp[1], pm[1] / sp[2]]),
        np.array([k, qm[0] / sp[1], qm[1] / sp[2]]),
        sa_len,
    )


def _direction_mm(frame: AxialFrame, d: AxialDiameter) -> NDArray[np.float64]:
    _, p, q = _frame_rc(frame, d)
    return (q - p) * np.array([frame.spacing[1], frame.spacing[2]])


def analyse_viable(
    frame: AxialFrame,
    viable: LabelVolume,
    *,
    gap_voxels: float = VIABLE_GAP_VOXELS,
    ld_slice_frame: int | None = None,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
    core: _Core | None = None,
) -> ViableAnalysis:
    """Viable diameter, viable short axis and voxel counts for one lesion frame.

    With ``rim_exclusion_mm > 0`` thin rims are removed first (:func:`exclude_thin_rims`), and
    the viable volume and necrosis fractions count what remains.  The search runs on the
    lesion's voxels in a patient-fixed array layout (:func:`._canonical.canonical_frame`), so
    the same voxels stored transposed, flipped or as coronal rows give the same lines.
    ``core`` is the frame's LD computation when the caller has it (``_core(frame)``; a fully
    viable lesion's viable diameter is that LD), else it is computed when needed.

    Raises
    ------
    ViableParameterError
        ``gap_voxels`` or ``rim_exclusion_mm`` NaN, infinite or negative, or
        ``rim_exclusion_mm`` below twice the in-plane spacing (it would remove nothing)."""
    check_viable_parameters(gap_voxels, rim_exclusion_mm, frame.spacing)
    cf = canonical_frame(frame)
    v = viable_frame(cf, viable)
    v = exclude_thin_rims(v, cf.spacing, rim_exclusion_mm)
    n_viable = int(np.count_nonzero(v))
    n_lesion = int(np.count_nonzero(cf.mask))
    on_v = on_l = None
    if ld_slice_frame is not None:
        k_c = ld_slice_frame if cf is frame else int(round(float(cf.from_index(frame.to_index(
            np.array([float(ld_slice_frame), 0.0, 0.0])))[0])))
        on_v = int(np.count_nonzero(v[k_c]))
        on_l = int(np.count_nonzero(cf.mask[k_c]))
    if n_viable == 0:
        return ViableAnalysis(None, None, 0, n_lesion, on_v, on_l)
    if n_viable == n_lesion:
        whole = _fully_viable_lines(frame, cf, v, gap_voxels, core)
        if whole is not None:
            return ViableAnalysis(whole[0], whole[1], n_viable, n_lesion, on_v, on_l)
    found = _longest_valid(v, cf.spacing, gap_voxels)
    if found is None:  # pragma: no cover - n_viable > 0 guarantees a hull
        return ViableAnalysis(None, None, n_viable, n_lesion, on_v, on_l)
    diam, sa = _lines_from_segment(cf, v, found, gap_voxels)
    return ViableAnalysis(diam, sa, n_viable, n_lesion, on_v, on_l)


def _fully_viable_lines(
    frame: AxialFrame, cf: AxialFrame, v: NDArray[np.bool_], gap_voxels: float, core: _Core | None = None
) -> tuple[AxialDiameter, AxialDiameter] | None:
    """A fully viable lesion's (viable diameter, viable short axis): its LD (the same line) when
    the LD keeps to the lesion by the rule, with the SA when that does too (else the viable run
    across the LD); None when the LD does not (it crosses liver between two nodules of one label,
    a hole left out of the mask, a crescent's bay): the rule decides then, as it does once one
    voxel is not viable.

    The LD and SA are ``frame``'s (``core``, computed if not given); the rule's checks run on
    ``cf`` (the same voxels in the patient-fixed layout) and ``v`` (its viable voxels)."""
    sp = cf.spacing
    src = (sp[1], sp[2])
    core = _core(frame) if core is None else core
    k, p_rc, q_rc = _frame_rc(cf, core.ld, snap=True)
    p_rc, q_rc = _ordered(p_rc, q_rc)
    if not _stays_viable(v[k], p_rc, q_rc, src, gap_voxels):
        return None
    sa = _short_axis_from_core(frame, core)
    ks, ps, qs = _frame_rc(cf, sa, snap=True)
    ps, qs = _ordered(ps, qs)
    if ks != k or not _stays_viable(v[k], ps, qs, src, gap_voxels):
        # the RECIST short axis of a non-convex section is a chord of its hull
        sa = _short_axis_by_rule(cf, v, k, (q_rc - p_rc) * np.array(src), gap_voxels)
    return core.ld, sa


def _lines_from_segment(
    frame: AxialFrame,
    v: NDArray[np.bool_],
    found: tuple[int, NDArray[np.float64], NDArray[np.float64], float],
    gap_voxels: float,
) -> tuple[AxialDiameter, AxialDiameter]:
    """(viable diameter, viable short axis) from the rule's longest valid centre segment."""
    k, p, q, length = found
    src = np.array([frame.spacing[1], frame.spacing[2]])
    diam = _viable_line(frame, v, k, p, q)
    sa = (_short_axis_by_rule(frame, v, k, (q - p) * src, gap_voxels) if length > 0.0 else
          _diameter(frame, np.array([k, p[0], p[1]]), np.array([k, p[0], p[1]]), 0.0))
    # The rule picks the longest segment between voxel centres; moving the ends to the boundary
    # can make the perpendicular run longer than it (a near-round viable part). A valid line
    # longer than the viable diameter is the viable diameter: take it, and the short axis across it.
    for _ in range(3):
        if sa.length_mm <= diam.length_mm + 1e-9:
            break
        diam, sa = sa, _short_axis_by_rule(frame, v, k, _direction_mm(frame, sa), gap_voxels)
    return diam, sa


def _prepare(
    labels: LabelVolume, viable: LabelVolume, label: int | str | None, reformat: Reformat | str
) -> tuple[AxialFrame, LabelVolume]:
    frame = patient_frame(labels, label, reformat=reformat)
    if frame.labels is not labels:  # reformatted: bring the viable mask onto the same grid
        viable = resample_labels(viable, frame.labels)
    return frame, viable


def viable_diameter(
    labels: LabelVolume,
    label: int | str | None = None,
    *,
    viable: LabelVolume,
    gap_voxels: float = VIABLE_GAP_VOXELS,
    reformat: Reformat | str = Reformat.ERROR,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
) -> AxialDiameter | None:
    """mRECIST longest viable diameter (rule in the module docstring), or None if no viable voxel.

    Parameters
    ----------
    labels : LabelVolume
        Lesion mask(s).
    label : int or str or None
        The lesion.
    viable : LabelVolume
        Viable (arterially enhancing) sub-mask on the same grid; non-zero = viable.
    gap_voxels : float
        Longest run of non-viable samples a segment may cross, in in-plane voxels.
    rim_exclusion_mm : float
        Remove viable structures thinner than this first (0 = off, the default).

    References
    ----------
    Lencioni R, Llovet JM. Modified RECIST (mRECIST) assessment for hepatocellular carcinoma.
    Semin Liver Dis 2010;30:52-60.
    """
    frame, viable = _prepare(labels, viable, label, reformat)
    return analyse_viable(frame, viable, gap_voxels=gap_voxels, rim_exclusion_mm=rim_exclusion_mm).diameter


def viable_short_axis(
    labels: LabelVolume,
    label: int | str | None = None,
    *,
    viable: LabelVolume,
    gap_voxels: float = VIABLE_GAP_VOXELS,
    reformat: Reformat | str = Reformat.ERROR,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
) -> AxialDiameter | None:
    """Longest viable run perpendicular to the viable diameter on its slice (EASL product)."""
    frame, viable = _prepare(labels, viable, label, reformat)
    return analyse_viable(frame, viable, gap_voxels=gap_voxels, rim_exclusion_mm=rim_exclusion_mm).short_axis


def _viable_diameter_reference(
    labels: LabelVolume,
    label: int | str | None = None,
    *,
    viable: LabelVolume,
    gap_voxels: float = VIABLE_GAP_VOXELS,
    reformat: Reformat | str = Reformat.ERROR,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
) -> AxialDiameter | None:
    """:func:`viable_diameter` through the exhaustive reference search
    (:func:`_longest_valid_reference`); for tests and benchmarks only (slow)."""
    frame, viable = _prepare(labels, viable, label, reformat)
    cf = canonical_frame(frame)  # as analyse_viable
    v = exclude_thin_rims(viable_frame(cf, viable), cf.spacing, rim_exclusion_mm)
    if not v.any():
        return None
    found = _longest_valid_reference(v, cf.spacing, gap_voxels)
    if found is None:
        return None
    if int(np.count_nonzero(v)) == int(np.count_nonzero(cf.mask)):
        whole = _fully_viable_lines(frame, cf, v, gap_voxels)  # as analyse_viable
        if whole is not None:
            return whole[0]
    return _lines_from_segment(cf, v, found, gap_voxels)[0]

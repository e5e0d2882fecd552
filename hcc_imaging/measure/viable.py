"""mRECIST longest viable diameter, viable short axis, necrosis fraction.

The viable-diameter rule (stated once, here and in ``docs/measure.md``)
-----------------------------------------------------------------------
mRECIST (Lencioni & Llovet, Semin Liver Dis 2010;30:52-60) measures "the longest diameter of
the viable (arterially enhancing) tumour", which must not cross necrotic or non-enhancing
parts.  hcc_imaging makes this operational as follows:

* **viable voxels** = voxels of the lesion mask that are also non-zero in the viable
  sub-mask (the viable mask is intersected with the lesion);
* a **candidate segment** joins the centres of two viable voxels on one patient axial slice
  (same voxel-centre estimator as the RECIST long axis; endpoints are taken among the viable
  boundary voxels, i.e. viable voxels with a non-viable 4-neighbour in the slice);
* the segment is **valid** when, sampled at ``n = ceil(L / step) + 1`` evenly spaced points
  (step = half the smallest in-plane spacing), every sample's nearest voxel is viable, except runs of non-viable samples whose
  length (samples x step) is at most ``gap_voxels`` x the largest in-plane spacing (default one
  voxel, :data:`~hcc_imaging.measure.constants.VIABLE_GAP_VOXELS`): necrosis thinner than a voxel
  cannot be told from partial volume, and the tolerance also absorbs the staircase of a
  digitised boundary that a segment between two boundary voxels grazes;
* the **viable diameter** is the longest valid segment over all slices (ties: lowest slice).
  Outside the lesion counts as non-viable, so a segment never bridges two nodules through liver.
* the **viable short axis** is the longest run of viable samples (same gap rule) on a line
  perpendicular to the viable diameter on its slice, measured between the projections of the
  outermost viable voxel centres of the run (voxel-centre estimator again).

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

from ..errors import GeometryMismatchError
from ..volume import LabelVolume, resample_labels
from . import _hull
from .constants import RIM_EXCLUSION_MM, VIABLE_GAP_VOXELS, VIABLE_SAMPLE_STEP_VOXELS
from .diameters import AxialDiameter, AxialFrame, Reformat, _diameter, axial_frame

__all__ = [
    "viable_diameter",
    "viable_short_axis",
    "viable_frame",
    "fill_short_gaps",
    "ViableAnalysis",
    "analyse_viable",
    "exclude_thin_rims",
]


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


def _longest_valid(
    v: NDArray[np.bool_], spacing: tuple[float, float, float], gap_voxels: float
) -> tuple[int, NDArray[np.float64], NDArray[np.float64], float] | None:
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


def analyse_viable(
    frame: AxialFrame,
    viable: LabelVolume,
    *,
    gap_voxels: float = VIABLE_GAP_VOXELS,
    ld_slice_frame: int | None = None,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
) -> ViableAnalysis:
    """Viable diameter, viable short axis and voxel counts for one lesion frame.

    With ``rim_exclusion_mm > 0`` thin rims are removed first (:func:`exclude_thin_rims`), and
    the viable volume and necrosis fractions count what remains."""
    v = viable_frame(frame, viable)
    v = exclude_thin_rims(v, frame.spacing, rim_exclusion_mm)
    n_viable = int(np.count_nonzero(v))
    n_lesion = int(np.count_nonzero(frame.mask))
    on_v = on_l = None
    if ld_slice_frame is not None:
        on_v = int(np.count_nonzero(v[ld_slice_frame]))
        on_l = int(np.count_nonzero(frame.mask[ld_slice_frame]))
    if n_viable == 0:
        return ViableAnalysis(None, None, 0, n_lesion, on_v, on_l)
    sp = frame.spacing
    found = _longest_valid(v, sp, gap_voxels)
    if found is None:  # pragma: no cover - n_viable > 0 guarantees a hull
        return ViableAnalysis(None, None, n_viable, n_lesion, on_v, on_l)
    k, p, q, length = found
    diam = _diameter(frame, np.array([k, p[0], p[1]]), np.array([k, q[0], q[1]]), length)
    direction = (q - p) * np.array([sp[1], sp[2]])
    if length == 0.0:
        sa_len, pm, qm = 0.0, p * np.array([sp[1], sp[2]]), p * np.array([sp[1], sp[2]])
    else:
        sa_len, pm, qm = _perpendicular_run(v[k], direction, (sp[1], sp[2]), gap_voxels)
    sa = _diameter(
        frame,
        np.array([k, pm[0] / sp[1], pm[1] / sp[2]]),
        np.array([k, qm[0] / sp[1], qm[1] / sp[2]]),
        sa_len,
    )
    return ViableAnalysis(diam, sa, n_viable, n_lesion, on_v, on_l)


def _prepare(
    labels: LabelVolume, viable: LabelVolume, label: int | str | None, reformat: Reformat | str
) -> tuple[AxialFrame, LabelVolume]:
    frame = axial_frame(labels, label, reformat=reformat)
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

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
from ._viable_search import _longest_valid, _longest_valid_reference, fill_short_gaps

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


@dataclass(frozen=True, slots=True)
class ViableAnalysis:
    """Viable quantities of one lesion (frame-level result of :func:`analyse_viable`)."""

    diameter: AxialDiameter | None
    short_axis: AxialDiameter | None
    viable_voxels: int
    lesion_voxels: int
    viable_voxels_on_slice: int | None
    lesion_voxels_on_slice: int | None


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

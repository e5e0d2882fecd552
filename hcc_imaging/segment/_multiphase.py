"""Step 10 of :func:`hcc_imaging.segment.lesion.segment_lesion`: the phases used jointly (1.5, 1.7).

(i) Nearest-mean classification in the phases' joint space against the ring's tissue classes
(:func:`_segment_multiphase`; the classes, a k-medians, in :mod:`._kmedians`); (ii) steps 3-6 on
the phases' matched-filter combination (:func:`_segment_combined`, with the per-phase contrasts
:func:`_phase_contrasts`, the click's ball :func:`_best_click_ball` and :func:`_combined_volume`);
(iii) the faint-lesion variant of (i) and the choice between them (:func:`_joint_fallback`,
:func:`_holds_other_tissue`); and the test whether a one-sided single-phase mask holds two tissues
that another phase separates (:func:`_mixed_on_other_phase`).  The method is described in the
:mod:`hcc_imaging.segment.lesion` docstring (step 10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Phase, Volume
from . import _kernels
from . import constants as C
from ._grow import (
    _ball_box,
    _ball_mask,
    _Model,
    _open_and_fill,
    _ring,
    _RoiResult,
    _smoothed,
    _SmoothCache,
    _stride,
    _touches_border,
)
from ._morph import ball, bbox, component_at, gaussian_noise_factor, gaussian_sigma_vox, pad_box, robust_sigma
from ._refine import _roi_box, _roi_half_sizes_mm, _segment_on
from ._kmedians import _ring_classes
from ._types import LesionParams
from .errors import LowContrastError


def _phase_contrasts(
    phases: Sequence[Volume],
    region: NDArray[np.bool_],
    sl: tuple[slice, ...],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache,
    bounds: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Per phase: lesion - surroundings (raw median in ``region`` - smoothed median of the ring
    around it) and raw noise sigma, all in the box ``sl`` (1.5).  ``bounds``: a (start, stop) box
    of ``region`` holding all its voxels (else its bounding box is computed).

    The region, its ring and the values read are taken on the region's box padded by the ring's
    reach, the box :func:`._grow._ring` itself works on (the same ring voxels, lattice and
    values, in the same order), not on the whole of ``sl``: on the combination's 44 x 89 x 89
    box the whole-box masks and gathers were most of a click-ball choice's cost."""
    sp = tuple(float(v) for v in phases[0].spacing)
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    if bounds is None:
        bounds = bbox(region)  # type: ignore[assignment]
        if bounds is None:
            return None  # no region: no ring either
    pad = np.ceil(params.ring_outer_mm / np.asarray(sp)).astype(int) + _stride(sp)
    sub = pad_box(bounds[0], bounds[1], pad, region.shape)
    reg = region[sub]
    # the click's balls recur in one call (the combination's and each of the faint classification's
    # regions of interest choose among the same balls): the ring of a region (it depends on the
    # region alone) and the raw median in it (on the same image voxels) are kept in the call's cache
    reg_key = (reg.shape, reg.tobytes())
    ring_key = ("contrast_ring", sp, params.ring_inner_mm, params.ring_outer_mm, reg_key)
    ring = cache.get(ring_key)
    if ring is None:
        ring = cache[ring_key] = _ring(reg, sp, params.ring_inner_mm, params.ring_outer_mm)
    if liver is not None:
        ring = ring & liver[sub]
    if not ring.any() or not reg.any():
        return None
    origin = tuple(int(a.start) + int(b.start) for a, b in zip(sl, sub, strict=True))  # the sub-box in the image
    c = np.empty(len(phases))
    s = np.empty(len(phases))
    for i, v in enumerate(phases):
        raw, smooth, sigma_raw = _smoothed(v, sl, sig_vox, cache)
        raw_key = ("contrast_raw_median", id(v), origin, reg_key)
        lesion = cache.get(raw_key)
        if lesion is None:
            lesion = cache[raw_key] = float(_kernels.median_f32(raw[sub][reg]))
        c[i] = lesion - float(_kernels.median_f32(smooth[sub][ring]))
        s[i] = max(float(sigma_raw), 1e-6)
    return c, s


def _best_click_ball(
    same: Sequence[Volume],
    box_shape: Sequence[int],
    local: NDArray[np.int64],
    sp: NDArray[np.float64],
    sl: tuple[slice, ...],
    params: LesionParams,
    liv: NDArray[np.bool_] | None,
    cache: _SmoothCache,
    radius: bool = False,
) -> Any:
    """The click's ball (1.5): among ``LESION_COMBINED_CLICK_SCALES`` radii, the one whose
    ball-vs-ring contrast, summed over the phases in noise units, is largest (a ball far inside a
    large lesion has its ring inside it too).  The ball (and, with ``radius``, its radius in mm and
    its :func:`_phase_contrasts`), or None."""
    best_score = -1.0
    init_mm = region = best_est = None
    for k in range(C.LESION_COMBINED_CLICK_SCALES):
        r_mm = max(params.seed_radius_mm, C.LESION_COMBINED_CLICK_BALL_MM) * C.LESION_COMBINED_CLICK_SCALE_STEP**k
        cand = _ball_mask(box_shape, local, sp, r_mm)
        if liv is not None:
            cand &= liv
        est = _phase_contrasts(same, cand, sl, params, liv, cache,
                               bounds=_ball_box(np.asarray(box_shape), np.asarray(local, float), sp, r_mm))
        if est is None:
            continue
        score = float(np.sqrt(np.sum((est[0] / est[1]) ** 2)))
        if score > best_score:
            best_score, init_mm, region, best_est = score, r_mm, cand, est
    if region is None:
        return None
    return (region, init_mm, best_est) if radius else region


def _combined_volume(
    phases: Sequence[Volume], sl: tuple[slice, ...], c: NDArray[np.float64], s: NDArray[np.float64],
    outside_read: bool = True,
    raws: Sequence[NDArray[np.float32]] | None = None,
    fill: tuple[slice, ...] | None = None,
) -> tuple[Volume, NDArray[np.float64]]:
    """The phases' matched-filter combination, sum_i w_i x_i with w_i ~ c_i / s_i^2 (Fisher's
    linear discriminant for independent noise per phase), scaled so that its noise sigma is the
    phases' mean sigma; computed in the box ``sl`` (the largest region of interest) only, the rest
    is the box's median (1.5), or 0 when the caller knows it is never read (``outside_read``
    False; the median of the box was a tenth of a faint lesion's line).  ``fill`` (a box within
    ``sl``, in its coordinates): computed there only, 0 everywhere else (``outside_read`` does not
    apply): the first region of interest, which is all a lesion that does not reach its border
    reads (the same values there, each voxel's sum formed alone)."""
    w = c / s**2
    norm = float(np.sqrt(np.sum((w * s) ** 2)))
    w = w * (float(np.mean(s)) / max(norm, 1e-12))
    # sum(w_i x_i) in float64 as Python's sum() forms it ((0 + w_0 x_0) + w_1 x_1 + ...), in place;
    # x_i the float32 box, as _smoothed keeps it (``raws``, when the caller has them)
    xs = raws if raws is not None else [np.asarray(v.array[sl], np.float32) for v in phases]
    if fill is not None:
        outside_read = False
        xs = [x[fill] for x in xs]
        sl = tuple(slice(a.start + f.start, a.start + f.stop) for a, f in zip(sl, fill, strict=True))
    box = w[0] * xs[0]
    box += 0.0  # 0 + (-0.0) is +0.0, as in sum()
    tmp = np.empty_like(box)
    for wi, x in zip(w[1:], xs[1:], strict=True):
        box += np.multiply(wi, x, out=tmp)
    if outside_read:
        full = np.full(phases[0].shape, float(np.median(box)), np.float32)
    else:
        full = np.zeros(phases[0].shape, np.float32)
    full[sl] = box
    v0 = phases[0]
    vol = Volume(array=full, geometry=v0.geometry, modality=v0.modality, phase=v0.phase,
                 frame_of_reference_uid=v0.frame_of_reference_uid, meta={"combined_phases": True})
    return vol, w


def _segment_combined(
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    line_idx: NDArray[np.float64] | None,
    fixed_half_mm: float | None,
    smoothing_mm: float | None = None,
    cache: _SmoothCache | None = None,
) -> tuple[_RoiResult, dict[str, float]] | None:
    """Segment on the matched-filter combination of the phases sharing ``phase``'s grid (1.5).

    For a lesion that is faint on every single phase but differs on several (a lymph node 10-20 HU
    above soft tissue on arterial, portal venous and delayed; an infiltrative lesion 15-35 HU
    below the liver on all four), the phases' independent noise averages out: the combination's
    contrast-to-noise ratio is sqrt(sum_i (c_i / s_i)^2), against max_i c_i / s_i on one phase.
    The per-phase contrasts c_i are first taken between the seed ball (or the line's ball) and
    the ring around it, then, after one segmentation of the combination, between the mask and the
    ring around the mask (``LESION_COMBINED_PASSES`` passes).  Steps 3-6 then run on the
    combination unchanged; steps 7-9 (heterogeneous lesions, rim) are not used.  None when the
    grid has a single phase, no pass yields a mask, or the last pass's mask touches the largest
    region of interest (a leak, which :func:`_joint_fallback` does not use; its reported values
    are then not computed).  ``cache``: smoothed boxes of these phases (:func:`._grow._smoothed`;
    the combination's own volumes are never put in it).

    1.17: the phases' contrasts, noise and combination are read on the box of the *first* region of
    interest (its half-size, the ring and the smoothing's reach around the click) and the lesion is
    segmented there; only when it outgrows that region (or the contrast is too low there) is all of
    it done again on the box of the largest region, as before.  The noise sigma had been estimated
    on that largest box (+- 100 mm: most of a slab of the abdomen) for every click: at a 512 x 512
    study's 0.7 mm pixels, smoothing it on four phases was ~0.5 s of a 1 s click.
    """
    vol = phases[phase]
    if cache is None:
        cache = {}
    line_len_mm = None if line_idx is None else float(np.linalg.norm((line_idx[1] - line_idx[0]) * np.asarray(vol.spacing, float)))
    first_half = _roi_half_sizes_mm(params, line_len_mm, fixed_half_mm)[0]
    args = (phases, phase, seed, params, liver, line_idx, fixed_half_mm, smoothing_mm, cache)
    if fixed_half_mm is None and first_half < params.roi_max_half_size_mm:
        try:
            return _segment_combined_in(*args, box_half_mm=first_half)
        except _OutgrewFirstRegion:
            pass
    return _segment_combined_in(*args, box_half_mm=params.roi_max_half_size_mm if fixed_half_mm is None else fixed_half_mm)


class _OutgrewFirstRegion(Exception):
    """:func:`_segment_combined_in` on the first region's box: a pass's region of interest grew
    beyond it (or its contrast was too low there), so the largest box decides."""


def _segment_combined_in(
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    line_idx: NDArray[np.float64] | None,
    fixed_half_mm: float | None,
    smoothing_mm: float | None,
    cache: _SmoothCache,
    *,
    box_half_mm: float,
) -> tuple[_RoiResult, dict[str, float]] | None:
    """:func:`_segment_combined` on the box of half-size ``box_half_mm`` (+ the ring's and the
    smoothing's reach) around the seed; when that is less than the largest region of interest,
    raises :class:`_OutgrewFirstRegion` if a pass's region of interest grew beyond the first (or
    its contrast was too low)."""
    vol = phases[phase]
    same = [v for v in phases.values() if v.geometry.equals(vol.geometry)]
    if len(same) < 2:
        return None
    sp = np.asarray(vol.spacing, float)
    small = fixed_half_mm is None and box_half_mm < params.roi_max_half_size_mm
    pad = box_half_mm + params.ring_outer_mm + 4 * params.smoothing_sigma_mm
    r = np.ceil(pad / sp).astype(int)
    s = np.asarray(seed, int)
    lo = np.maximum(s - r, 0)
    hi = np.minimum(s + r + 1, np.asarray(vol.shape))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    liv = liver[sl] if liver is not None else None
    local = s - lo
    box_shape = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
    init_mm = None
    est: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None  # pass 1's, when already known
    region_box = None  # a box holding the region (for _phase_contrasts)
    if line_idx is not None:
        mid = 0.5 * (line_idx[0] + line_idx[1]) - lo
        half_len = 0.5 * float(np.linalg.norm((line_idx[1] - line_idx[0]) * sp))
        region = _ball_mask(box_shape, mid, sp, C.LESION_COMBINED_LINE_BALL_FRACTION * half_len)
        region_box = _ball_box(np.asarray(box_shape), np.asarray(mid, float), sp,
                               C.LESION_COMBINED_LINE_BALL_FRACTION * half_len)
    else:
        ball_mm = _best_click_ball(same, box_shape, local, sp, sl, params, liv, cache, radius=True)
        if ball_mm is None:
            return None
        region, init_mm, est = ball_mm
    if liv is not None:
        region &= liv
    p = LesionParams(**{**asdict(params), "heterogeneous_expansion": False, "radial_refinement": False,
                        "enhancing_rim": False,
                        "smoothing_sigma_mm": params.smoothing_sigma_mm if smoothing_mm is None else smoothing_mm})
    # _segment_on reads the combination only in its regions of interest (steps 7-9 are off): inside
    # ``sl`` when their largest half-size is at most ``pad`` (same centre, same clipping)
    line_len_mm = None if line_idx is None else float(np.linalg.norm((line_idx[1] - line_idx[0]) * sp))
    first_half, max_half = _roi_half_sizes_mm(p, line_len_mm, fixed_half_mm)
    outside_read = not small and max_half > pad
    # the first region of interest _segment_on reads (its box in the image, and in ``sl``)
    first_lo, first_hi = _roi_box(s, first_half, sp, np.asarray(vol.shape))
    first = None if outside_read else tuple(slice(int(a - b), int(c - b)) for a, c, b in zip(first_lo, first_hi, lo, strict=True))
    best: tuple[_RoiResult, NDArray[np.float64]] | None = None
    sig1 = gaussian_sigma_vox(params.smoothing_sigma_mm, tuple(sp), params.smoothing_min_vox)
    for _ in range(C.LESION_COMBINED_PASSES):
        if est is None:
            est = _phase_contrasts(same, region, sl, params, liv, cache, bounds=region_box)
            if est is None:
                break
        # the phases' float32 boxes: _phase_contrasts smoothed these very boxes (cached)
        raws = [_smoothed(v, sl, sig1, cache)[0] for v in same]
        # the combination on the first region of interest only; once more on the whole box when
        # _segment_on grew its region beyond it or gave up (it may have read the zeros outside):
        # the same mask as the whole box's, at a 512 x 512 study's 0.7 mm pixels ~0.3 s less a pass
        rr = None
        if first is not None:
            comb, w = _combined_volume(same, sl, *est, raws=raws, fill=first)
            try:
                rr = _segment_on(comb, tuple(int(v) for v in s), p, liver, line_idx, fixed_half_mm, cache={},
                                 init_ball_mm=init_mm)
            except LowContrastError:
                rr = None
            if rr is not None and not (np.all(rr.lo >= first_lo) and np.all(rr.lo + rr.mask.shape <= first_hi)):
                rr = None
            if rr is None and small:
                raise _OutgrewFirstRegion  # this box holds the first region of interest only
        if rr is None:
            comb, w = _combined_volume(same, sl, *est, outside_read=outside_read, raws=raws)
            try:
                rr = _segment_on(comb, tuple(int(v) for v in s), p, liver, line_idx, fixed_half_mm, cache={},
                                 init_ball_mm=init_mm)
            except LowContrastError:
                break
        best = (rr, w)
        if rr.touches:
            # 1.7: a leaked mask is no lesion sample for the next pass's contrasts
            break
        region = np.zeros(box_shape, bool)
        rs = rr.box_in(lo)
        region[rs] = rr.mask
        region_box = (np.array([r.start for r in rs]), np.array([r.stop for r in rs]))
        est = None  # the next pass's contrasts are this mask's
    if best is None or best[0].touches:
        # a leak is not used (:func:`_joint_fallback`): its values are not worth reporting
        return None
    rr, w = best
    # report HU (for the last pass's mask only: an earlier pass's is replaced): the medians of the
    # mask and its ring on the phase of largest |weight|
    j = int(np.argmax(np.abs(w)))
    raw_j, smooth_j, _ = _smoothed(same[j], rr.box, gaussian_sigma_vox(params.smoothing_sigma_mm, tuple(sp),
                                                                      params.smoothing_min_vox), cache)
    ring_j = _ring(rr.mask, tuple(sp), params.ring_inner_mm, params.ring_outer_mm)
    lv = float(_kernels.median_f32(raw_j[rr.mask]))
    sv = float(_kernels.median_f32(smooth_j[ring_j])) if ring_j.any() else lv
    m = rr.model
    rr.model = _Model(lv, sv, m.sigma_raw, m.sigma_s, lv, lv, m.conspicuity, m.mode, m.ill_defined)
    return rr, {str(v.phase): round(float(wi), 3) for v, wi in zip(same, w, strict=True)}


def _combined_border(
    rr: _RoiResult,
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    line_idx: NDArray[np.float64] | None,
    fixed_half_mm: float | None,
    cache: _SmoothCache,
) -> tuple[_RoiResult, dict[str, float]] | None:
    """Step 10 (d), 1.11: the border of a clean one-phase mask ``rr`` redone on the phases'
    matched-filter combination (:func:`_segment_combined` at the method's own smoothing).

    A homogeneous lesion that shows on several phases (a typical HCC: bright on arterial, washed
    out on portal venous and delayed) has a border whose noise, on one phase, is that phase's; on
    the combination the phases' independent noise averages out (contrast-to-noise ratio
    sqrt(sum_i (c_i / s_i)^2) against max_i c_i / s_i).  The result is ``rr`` with the
    combination's mask (``rr``'s model, i.e. the reported phase, values and window, is kept) and
    the weights, or None when the combination gives no mask, leaks (touches the largest region of
    interest), does not hold the click, differs from ``rr`` in volume by more than
    ``LESION_COMBINED_BORDER_MAX_VOLUME_RATIO`` either way (1.13), the phases are not aligned at the lesion
    (:func:`_phases_aligned`), or it **leaves out another tissue**: the one-phase mask may
    hold two tissues on the same side of the parenchyma on its phase (a viable nodule, 85 HU, and
    necrosis, 28 HU, both below the liver's 110 HU on portal venous) that lie on opposite sides of
    it on another (130 and 25 HU against 70 HU on arterial); the combination's weights then
    follow the larger one and cut the other out.  Test: when at least ``LESION_COMBINED_BORDER_MIN_VOXELS`` voxels of ``rr``
    are left out, and on some phase of the grid their raw median lies on the other side of the
    ring's median (around the combination's mask) from the mask's, by more than
    ``params.min_contrast_k_sigma`` standard errors (ring robust SD / sqrt(n)), the left-out part
    is another tissue and the one-phase mask stands.  A border's noise (a few voxels of partial
    volume) lies between the two and passes."""
    res = _segment_combined(phases, phase, seed, params, liver, line_idx, fixed_half_mm, cache=cache)
    if res is None:  # no mask, or a leak
        return None
    cr, w = res
    vol = phases[phase]
    if line_idx is None and not cr.holds(seed):
        return None  # the click is not in it: the combination segmented something else
    ratio = np.count_nonzero(cr.mask) / max(np.count_nonzero(rr.mask), 1)
    if not 1.0 / C.LESION_COMBINED_BORDER_MAX_VOLUME_RATIO <= ratio <= C.LESION_COMBINED_BORDER_MAX_VOLUME_RATIO:
        return None  # not a border refinement: another region (through a gap the one phase did not cross)
    # both masks on the box that holds them, and each phase's values there (read once)
    lo = np.minimum(rr.lo, cr.lo)
    hi = np.maximum(rr.lo + np.asarray(rr.mask.shape), cr.lo + np.asarray(cr.mask.shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    one = np.zeros(tuple(int(v) for v in hi - lo), bool)
    comb = np.zeros_like(one)
    one[rr.box_in(lo)] = rr.mask
    comb[cr.box_in(lo)] = cr.mask
    same = [v for v in phases.values() if v.geometry.equals(vol.geometry)]
    raws = [np.asarray(v.array[box], np.float64) for v in same]
    liv = None if liver is None else liver[box]
    sp = tuple(float(v) for v in vol.spacing)
    if not _phases_aligned(one, raws, raws[[v is vol for v in same].index(True)], sp, liv, params):
        return None  # the lesion lies elsewhere on some phase (breathing between the phases)
    left_out = one & ~comb
    n_out = int(np.count_nonzero(left_out))
    if n_out >= C.LESION_COMBINED_BORDER_MIN_VOXELS:
        ring = _ring(comb, sp, params.ring_inner_mm, params.ring_outer_mm)
        if liv is not None:
            ring &= liv
        if ring.any():
            for raw in raws:
                ring_vals = raw[ring]
                ring_med = float(np.median(ring_vals))
                sd = robust_sigma(ring_vals)
                lesion_side = float(np.median(raw[comb])) - ring_med
                out_side = float(np.median(raw[left_out])) - ring_med
                if (lesion_side * out_side < 0
                        and abs(out_side) > params.min_contrast_k_sigma * max(sd, 1e-6) / np.sqrt(n_out)):
                    return None  # another tissue was left out: the one-phase mask stands
    return _RoiResult(mask=cr.mask, lo=cr.lo, model=rr.model, touches=False, at_max=cr.at_max), w


def _phases_aligned(
    mask: NDArray[np.bool_],
    raws: Sequence[NDArray[np.float64]],
    own: NDArray[np.float64],
    spacing: tuple[float, float, float],
    liver: NDArray[np.bool_] | None,
    params: LesionParams,
) -> bool:
    """Whether the lesion ``mask`` lies at the same place on every phase of its grid (1.11; ``raws``
    each phase's values on ``mask``'s box, ``own`` the one of the mask's own phase, ``liver`` the
    liver mask on that box): phases of one study share a grid but not a breath hold, and a
    combination of phases that moved blurs the border it is meant to sharpen.

    Per phase, the lesion's contrast-weighted centroid in the mask and the ring around it:
    f = s (x - ring median), s the sign of the mask's median contrast, centroid sum(p f) / sum(f)
    in mm, standard error sigma sqrt(sum (p - centroid)^2) / sum(f) per axis (sigma the ring's
    robust SD).  A phase whose sum(f) is within ``min_contrast_k_sigma`` of its noise does not show
    the lesion and is not compared.  False when some phase's centroid lies farther from the
    mask's own phase's than ``min_contrast_k_sigma`` standard errors of the difference and
    ``LESION_COMBINED_BORDER_MAX_SHIFT_VOXELS`` voxels, along some axis."""
    sp = np.asarray(spacing, np.float64)
    ring = _ring(mask, spacing, params.ring_inner_mm, params.ring_outer_mm)
    if liver is not None:
        ring &= liver
    region = mask | _ring(mask, spacing, 0.0, params.ring_outer_mm)
    if liver is not None:
        region &= liver | mask
    if not ring.any() or not mask.any():
        return True
    pts = np.argwhere(region) * sp  # mm, array axes
    k = params.min_contrast_k_sigma

    def centroid(raw: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """The contrast-weighted centroid and its standard error (mm), or None (no lesion here)."""
        ring_vals = raw[ring]
        med = float(np.median(ring_vals))
        sd = max(robust_sigma(ring_vals), 1e-6)
        sign = 1.0 if float(np.median(raw[mask])) >= med else -1.0
        f = sign * (raw[region] - med)
        total = float(f.sum())
        if total <= k * sd * np.sqrt(f.size):
            return None
        c = (pts * f[:, None]).sum(axis=0) / total
        return c, sd * np.sqrt(((pts - c) ** 2).sum(axis=0)) / total

    ref = centroid(own)
    if ref is None:
        return True
    c0, se0 = ref
    floor = C.LESION_COMBINED_BORDER_MAX_SHIFT_VOXELS * sp
    for raw in raws:
        est = centroid(raw)
        if est is None:
            continue
        d = np.abs(est[0] - c0)
        if np.any((d > k * np.sqrt(est[1] ** 2 + se0**2)) & (d > floor)):
            return False
    return True


def _joint_distance(xp: NDArray[np.float32], centre: NDArray[np.float64]) -> NDArray[np.float32]:
    """Euclidean distance (float32) of each voxel's phase vector to ``centre``; ``xp`` is phase-major
    (P, z, y, x).  The squares are summed phase by phase, the order in which numpy sums the short
    last axis of the voxel-major stack (``np.sqrt(((X - c) ** 2).sum(-1))``: the same values), with
    no (z, y, x, P) temporaries."""
    c = centre.astype(np.float32)
    t = xp[0] - c[0]
    d = t * t
    for ph in range(1, xp.shape[0]):
        np.subtract(xp[ph], c[ph], out=t)
        d += t * t
    return np.sqrt(d, out=d)


def _in_sigmas(parts: list[tuple[NDArray[np.floating], float]]) -> NDArray[np.float32]:
    """The phases' smoothed boxes in units of their smoothed noise, phase-major (P, z, y, x) float32:
    each ``smooth / scale`` of ``parts`` divided into its slice of one array (the values of
    ``np.stack([smooth / scale, ...]).astype(np.float32)`` without its temporaries, the divided
    boxes and the stack's copy: ~160 MB on the 512 study's largest region of interest)."""
    out = np.empty((len(parts), *parts[0][0].shape), np.float32)
    for i, (smooth, scale) in enumerate(parts):
        np.divide(smooth, scale, out=out[i])
    return out


def _first_joint_region(
    same: list[Volume], box: tuple[int, ...], local: NDArray[np.int64], lo: NDArray[np.int64], sp: NDArray[np.float64],
    sl: tuple[slice, ...], params: LesionParams, liv: NDArray[np.bool_] | None, line_idx: NDArray[np.float64] | None,
    line_len: float | None, faint_classes: bool, cache: _SmoothCache,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None] | None:
    """:func:`_segment_multiphase`'s first region on its region of interest (``box``, starting at
    ``lo``; the click at ``local``) and the drawn line's clamp: the ball of
    ``LESION_COMBINED_LINE_BALL_FRACTION`` of the line's half-length around its midpoint (clamped at
    ``line_clamp_factor`` of it); with ``faint_classes`` the click's ball at the scale of largest
    contrast over the phases (:func:`_best_click_ball`: a 6 mm ball deep in a 22 mm node has its ring
    inside the node); else the ball of ``LESION_COMBINED_CLICK_BALL_MM``.  In the liver ``liv``;
    None when empty."""
    clamp = None
    if line_idx is not None and line_len is not None:
        mid = 0.5 * (line_idx[0] + line_idx[1]) - lo
        region = _ball_mask(box, mid, sp, C.LESION_COMBINED_LINE_BALL_FRACTION * 0.5 * line_len)
        clamp = _ball_mask(box, mid, sp, params.line_clamp_factor * 0.5 * line_len)
    elif faint_classes:
        found = _best_click_ball(same, box, local, sp, sl, params, liv, cache)
        if found is None:
            return None
        region = found
    else:
        region = _ball_mask(box, local, sp, max(params.seed_radius_mm, C.LESION_COMBINED_CLICK_BALL_MM))
    if liv is not None:
        region &= liv
    if not region.any():
        return None
    return region, clamp


def _nearer_than_classes(X: NDArray[np.float32], lesion: NDArray[np.float64], classes: list[NDArray[np.float64]],
                         far: float) -> tuple[NDArray[np.bool_], float]:
    """The voxels of ``X`` (phases x box, in smoothed sigmas) nearer the ``lesion`` vector than every
    class (the multiphase form of step 4's midpoint) and within the far bound (``far``, or the
    nearest class's distance when larger); and that distance."""
    d_l = _joint_distance(X, lesion)
    d_near = min(float(np.linalg.norm(c - lesion)) for c in classes)
    cand = d_l <= max(far, d_near)
    # the classes' distances only on the voxels within the far bound (2026-12-06: the whole box per
    # class was most of step 10 on a 725 mL region; element by element, so the same values)
    idx = np.flatnonzero(cand)
    if idx.size:
        xc = X.reshape(X.shape[0], -1)[:, idx]
        dl = d_l.reshape(-1)[idx]
        keep = np.ones(idx.size, bool)
        for c in classes:
            keep &= dl < _joint_distance(xc, c)
        cand.reshape(-1)[idx[~keep]] = False
    return cand, d_near


def _segment_multiphase(
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    line_idx: NDArray[np.float64] | None,
    faint_classes: bool = False,
    cache: _SmoothCache | None = None,
) -> tuple[_RoiResult, list[str]] | None:
    """Nearest-mean classification in the phases' joint space (1.5; when the lesion is faint on
    every single phase).

    Each voxel is a vector of its smoothed values on the P phases sharing ``phase``'s grid, in
    units of each phase's smoothed noise sigma (the phases' noise is independent, so distances
    add).  The lesion is the median vector of the current region; the surroundings are up to
    ``LESION_MULTIPHASE_RING_CLASSES`` tissue classes found in the ring around it (k-means), so a
    lesion lying *between* two neighbours (a node between soft tissue and a brighter liver, a
    thrombus between liver and contrast-filled vein) is bounded on both sides: a voxel joins when
    it is nearer the lesion than every class (the multiphase form of step 4's midpoint), within
    the far bound (max(``outer_k_sigma`` raw sigmas, the nearest class's distance)), connected to
    the seed (with a line: to the line's ball, inside the line's clamp); opened and hole-filled as
    in step 5; ``iterations`` + 1 rounds.  The first region is the ball of
    ``LESION_COMBINED_CLICK_BALL_MM`` around a click or of ``LESION_COMBINED_LINE_BALL_FRACTION``
    of the line's half-length around its midpoint.  The lesion must differ from every class by
    ``min_contrast_k_sigma`` (Euclidean, in smoothed sigmas), else None.  Region of interest: as
    for one phase, grown while the mask touches it.

    ``faint_classes`` (1.7): the classes are sought on the phases smoothed at
    ``LESION_FAINT_SMOOTHING_MM`` in the shell up to ``LESION_PARENCHYMA_SAMPLE_MM`` around the
    region (a faint lesion's ring gives no class 3 smoothed sigmas away, and a tissue a few mm off
    is too small a share of it), and a click's first region is the ball of the combination's scale
    selection (:func:`_best_click_ball`); the classification itself stays at the lesion smoothing.
    ``cache``: smoothed boxes of these phases (:func:`._grow._smoothed`), shared within one
    :func:`_joint_fallback`.
    """

    vol = phases[phase]
    same = [v for v in phases.values() if v.geometry.equals(vol.geometry)]
    if len(same) < 2:
        return None
    sp = np.asarray(vol.spacing, float)
    shape = np.asarray(vol.shape)
    s = np.asarray(seed, int)
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, tuple(sp), params.smoothing_min_vox)
    nf = gaussian_noise_factor(sig_vox)
    line_len = None if line_idx is None else float(np.linalg.norm((line_idx[1] - line_idx[0]) * sp))
    if line_len is not None:
        half = max(params.line_roi_factor * line_len, 0.5 * line_len) + params.ring_outer_mm + 2 * params.smoothing_sigma_mm
    else:
        half = params.roi_half_size_mm
    open_el = ball(params.opening_radius_mm, tuple(sp)) if params.opening_radius_mm > 0 else None
    if cache is None:
        cache = {}
    while True:
        r = np.ceil(half / sp).astype(int)
        lo = np.maximum(s - r, 0)
        hi = np.minimum(s + r + 1, shape)
        sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        box = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
        # (P, z, y, x), smoothed sigmas
        parts = []
        for v in same:
            _, smooth, sigma_raw = _smoothed(v, sl, sig_vox, cache)
            parts.append((smooth, max(sigma_raw * nf, 1e-6)))
        X = _in_sigmas(parts)
        faint: list[NDArray[np.float32]] = []  # (X at the faint-lesion smoothing, its scale to X's units)

        def faint_classes_of(region: NDArray[np.bool_], lesion: NDArray[np.float64]) -> list[NDArray[np.float64]]:
            # 1.7, a faint lesion (a node 0-20 HU from soft tissue, ~4 smoothed sigmas): a ring that
            # partly crosses it gives no class 3 sigmas away, and a tissue a few mm off (the liver
            # 3-7 mm from the fu2 node: 6 % of the ring) is no class of the ring.  The classes are
            # sought on the more strongly smoothed phases (noise split into classes merges, a class
            # median barely moves) in the wide shell that step 7 samples parenchyma in, then
            # expressed in X's units
            if not faint:
                sv2 = gaussian_sigma_vox(C.LESION_FAINT_SMOOTHING_MM, tuple(sp), params.smoothing_min_vox)
                nf2 = gaussian_noise_factor(sv2)
                hu = [_smoothed(v, sl, sv2, cache) for v in same]
                # phase-major (P, z, y, x), as X: the voxels' phase vectors are read off by a mask
                # (X2[:, region]: the same values in the same voxel order as the voxel-major stack,
                # whose transposed write was ~1 s of CPU on the 512 study's L8 ascites click)
                faint.append(_in_sigmas([(sm, max(sr * nf2, 1e-6)) for _, sm, sr in hu]))
                faint.append(np.array([max(sr * nf2, 1e-6) / max(_smoothed(v, sl, sig_vox, cache)[2] * nf, 1e-6)
                                       for (_, _, sr), v in zip(hu, same, strict=True)], np.float32))
            X2, to_x = faint
            wide = _ring(region, tuple(sp), params.ring_inner_mm, C.LESION_PARENCHYMA_SAMPLE_MM)
            if liv is not None:
                wide &= liv
            lesion2 = _kernels.median_f32(X2[:, region], axis=1).astype(np.float64)
            found2 = _ring_classes(np.ascontiguousarray(X2[:, wide].T, dtype=np.float64), lesion2, k_min)
            return [c * to_x for c in found2]

        liv = liver[sl] if liver is not None else None
        local = s - lo
        first = _first_joint_region(same, box, local, lo, sp, sl, params, liv, line_idx, line_len, faint_classes, cache)
        if first is None:
            return None
        region, clamp = first
        pick = region.copy()
        mask = region
        k_min = params.min_contrast_k_sigma
        for it in range(params.iterations + 1):
            # the ring gives the classes (with faint_classes the wide shell does) and, in the last
            # round, the surroundings value reported
            ring = None
            if not faint_classes or it == params.iterations:
                ring = _ring(region, tuple(sp), params.ring_inner_mm, params.ring_outer_mm)
                if liv is not None:
                    ring &= liv
            lesion = _kernels.median_f32(X[:, region], axis=1).astype(np.float64)
            if faint_classes:
                classes = faint_classes_of(region, lesion)
            elif ring is not None:  # (computed above when not faint_classes)
                classes = _ring_classes(X[:, ring].T.astype(np.float64), lesion, k_min)
            else:
                return None
            if not classes:
                return None
            cand, d_near = _nearer_than_classes(X, lesion, classes, params.outer_k_sigma / nf)
            if liv is not None:
                cand &= liv
            if clamp is not None:
                cand &= clamp
            comp = component_at(cand, tuple(int(v) for v in local), pick, prefer_region=True)
            if not comp.any():
                return None
            mask = _open_and_fill(comp, open_el, tuple(int(v) for v in local), pick, prefer_region=True)
            region = mask
        touches = _touches_border(mask, lo, hi, shape)
        at_max = half >= params.roi_max_half_size_mm
        if touches and not at_max:
            half = min(half * params.roi_growth, params.roi_max_half_size_mm)
            continue
        # the values reported: on the phase where the lesion differs most from its nearest class,
        # named first in the returned list
        nearest = classes[int(np.argmin([np.linalg.norm(c - lesion) for c in classes]))]
        ref = int(np.argmax(np.abs(lesion - nearest)))
        used = [str(same[ref].phase)] + [str(v.phase) for j, v in enumerate(same) if j != ref]
        _, smooth_ref, sig_ref = _smoothed(same[ref], sl, sig_vox, cache)
        lv = float(_kernels.median_f32(smooth_ref[mask]))
        # (the last round read the ring: the surroundings value)
        sv = float(_kernels.median_f32(smooth_ref[ring])) if ring is not None and ring.any() else lv
        model = _Model(lv, sv, sig_ref, sig_ref * nf, lv, lv, d_near * nf, "both")
        return _RoiResult(mask, lo, model, touches, at_max), used


def _joint_fallback(
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    line_idx: NDArray[np.float64] | None,
    fixed_half_mm: float | None,
    linear: bool,
    nearest_mean: bool = True,
    cache: _SmoothCache | None = None,
) -> tuple[_RoiResult, dict[str, float] | None, list[str] | None] | None:
    """The phases used jointly (1.5): the nearest-mean classification (:func:`_segment_multiphase`,
    when ``nearest_mean``; it bounds a lesion lying between two neighbours), else the matched-filter
    combination (:func:`_segment_combined`, when ``linear``; 1.7: at ``LESION_FAINT_SMOOTHING_MM``),
    else (1.7) the nearest-mean classification with the classes of
    the wide shell at the faint-lesion smoothing, which also replaces a combination mask holding a
    tissue beyond the lesion (:func:`_holds_other_tissue`).  A result whose mask touches the
    largest region of interest (a leak) is not used: None.  ``cache``: the call's smoothed boxes of
    these phases (:func:`._grow._smoothed`), shared by the attempts below (the same boxes recur)."""
    if cache is None:
        cache = {}
    if nearest_mean and fixed_half_mm is None:
        mp = _segment_multiphase(phases, phase, seed, params, liver, line_idx, cache=cache)
        if mp is not None and not mp[0].touches:
            return mp[0], None, mp[1]
    if linear:
        # 1.7: at the faint-lesion smoothing (a border at a per-voxel contrast-to-noise ratio of
        # 2-3 is noise-driven at 1 mm)
        sm = max(params.smoothing_sigma_mm, C.LESION_FAINT_SMOOTHING_MM)
        comb = _segment_combined(phases, phase, seed, params, liver, line_idx, fixed_half_mm, smoothing_mm=sm,
                                 cache=cache)
        if comb is not None:  # (a leaked combination is None)
            if nearest_mean and fixed_half_mm is None and _holds_other_tissue(comb[0], comb[1], phases, phase, params,
                                                                                liver, cache):
                # a tissue beyond the lesion in the combination's direction (the liver beyond the
                # fu2 node): the one-sided window holds it; the nearest-mean classification
                # bounds the lesion on both sides
                mp = _segment_multiphase(phases, phase, seed, params, liver, line_idx, faint_classes=True,
                                         cache=cache)
                if mp is not None and not mp[0].touches:
                    return mp[0], None, mp[1]
            return comb[0], comb[1], None
    if fixed_half_mm is None and (nearest_mean or linear):
        # 1.7: the ring's tissue classes sought on the more strongly smoothed phases too (a faint
        # lesion between two neighbours, e.g. a node between soft tissue and the liver, which the
        # combination cannot bound: the liver lies beyond the node in the combination's direction)
        mp = _segment_multiphase(phases, phase, seed, params, liver, line_idx, faint_classes=True, cache=cache)
        if mp is not None and not mp[0].touches:
            return mp[0], None, mp[1]
    return None


def _holds_other_tissue(
    rr: _RoiResult,
    weights: Mapping[str, float],
    phases: Mapping[Phase, Volume],
    phase: Phase,
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
) -> bool:
    """Whether the combination's mask holds a tissue lying beyond the lesion (1.7).

    The matched-filter combination is one-sided: a tissue lying *beyond* the lesion along its
    direction (the liver beyond a node that is brighter than soft tissue on portal venous and
    delayed) passes its window.  On the phases smoothed at ``LESION_FAINT_SMOOTHING_MM`` (each in
    its smoothed-noise sigmas) the tissue classes of the wide shell around the mask
    (``LESION_PARENCHYMA_SAMPLE_MM``, :func:`_ring_classes`) are found; those beyond the mask's
    median along the combination's ``weights`` by at least half the median's contrast to the
    ring (2-6 mm) are kept, and the mask holds one when at least
    ``LESION_MULTIPHASE_MIN_CLASS_FRACTION`` of its voxels lie nearer such a class than the
    median by half their distance.  Measured (no liver mask, seeds 0-3): the fu2 node lines that
    ran into the liver 0.15-0.16 (the liver 1.2-1.3 contrasts beyond the node); every other node
    mask 0; L5 (infiltrative) combination masks 0.004-0.044 (a soft-tissue class 0.4-0.7
    contrasts beyond it).  Classes on the near side (the surroundings the combination was built
    against, into which an ill-defined border blurs) do not count."""
    vol = phases[phase]
    same = [v for v in phases.values() if v.geometry.equals(vol.geometry)]
    sp = np.asarray(vol.spacing, float)
    pad = np.ceil((C.LESION_PARENCHYMA_SAMPLE_MM + 3 * C.LESION_FAINT_SMOOTHING_MM) / sp).astype(int)
    lo = np.maximum(np.asarray(rr.lo) - pad, 0)
    hi = np.minimum(np.asarray(rr.lo) + np.asarray(rr.mask.shape) + pad, np.asarray(vol.shape))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    mask = np.zeros(tuple(int(b - a) for a, b in zip(lo, hi, strict=True)), bool)
    mask[rr.box_in(lo)] = rr.mask
    sv = gaussian_sigma_vox(C.LESION_FAINT_SMOOTHING_MM, tuple(sp), params.smoothing_min_vox)
    nf = gaussian_noise_factor(sv)
    smoothed = [_smoothed(v, sl, sv, cache) for v in same]
    X = np.stack([sm / max(sr * nf, 1e-6) for _, sm, sr in smoothed], axis=-1)
    wide = _ring(mask, tuple(sp), params.ring_inner_mm, C.LESION_PARENCHYMA_SAMPLE_MM)
    if liver is not None:
        wide &= liver[sl]
    inside = X[mask].astype(np.float64)
    if inside.shape[0] == 0 or not wide.any():
        return False
    lesion = np.median(inside, axis=0)
    # the combination's direction in X's units (X_i = HU_i / (sigma_i nf)): u_i = w_i sigma_i; a
    # class lies beyond the lesion when it is farther along u than the lesion by at least half the
    # lesion's contrast to its ring along u (the margin of the window's near bound, the midpoint)
    u = np.array([float(weights.get(str(v.phase), 0.0)) * sr for v, (_, _, sr) in zip(same, smoothed, strict=True)])
    ring = _ring(mask, tuple(sp), params.ring_inner_mm, params.ring_outer_mm)
    if liver is not None:
        ring &= liver[sl]
    if not ring.any():
        return False
    contrast = abs(float(u @ (lesion - np.median(X[ring].astype(np.float64), axis=0))))
    classes = [c for c in _ring_classes(X[wide].astype(np.float64), lesion, params.min_contrast_k_sigma)
               if float(u @ (c - lesion)) >= 0.5 * contrast]
    # a voxel of the class: nearer it than the lesion by at least half their distance (the
    # blurred border of an ill-defined lesion is nearer a slightly darker class than the mask's
    # median, but not by that much)
    d_l = np.linalg.norm(inside - lesion, axis=-1)
    other = np.zeros(inside.shape[0], bool)
    for c in classes:
        other |= d_l - np.linalg.norm(inside - c, axis=-1) >= 0.5 * float(np.linalg.norm(c - lesion))
    return float(other.mean()) >= C.LESION_MULTIPHASE_MIN_CLASS_FRACTION


def _mixed_on_other_phase(
    rr: _RoiResult, phases: Mapping[Phase, Volume], phase: Phase, params: LesionParams, cache: _SmoothCache
) -> bool:
    """Whether the (one-sided, homogeneous) mask holds two tissues that another phase separates (1.5).

    A region grown on one phase may run into a neighbour of about the same value there (a portal
    vein tumour thrombus, 100 HU, into the vein, 120 HU, on arterial) that another phase shows
    clearly (90 against 180 HU on portal venous).  Test: the interquartile range of the mask's
    smoothed values on some other phase of the same grid exceeds ``LESION_MIXED_SPREAD_K`` times
    that of smoothed noise (1.349 sigma), and ``LESION_MIXED_SPREAD_MARGIN`` times the spread (in
    noise units) on the mask's own phase: the partial-volume edge of a homogeneous lesion spreads
    its values most on its most conspicuous phase, the chosen one, or about as much on a phase
    of about the same contrast (1.10: any excess counted before, and a node in fat, about as
    conspicuous on portal venous and delayed, was redone jointly and lost its edge).

    1.33: and the other phase's values less their median at about the same depth below the mask's
    border (:func:`_depth_residuals`) still spread more than ``LESION_MIXED_SPREAD_K`` times
    noise, by their 10-90 percentile range (:func:`_spread`: a second tissue may be a sixth of
    the mask).  One tissue's blurred margin varies with the depth alone, on every phase; two tissues
    side by side do not.  (An infiltrative lesion with a 3 mm margin on 0.68 mm pixels, grown on
    arterial: portal venous spread 2.39 noise IQRs against 1.55 on arterial, 1.28 after depth; the
    study phantom's thrombus and the vein's blood: 5.4-6.0, 4.1-5.0 after depth; a thrombus a sixth
    of the curved vessel its mask ran along: 3.0-3.5, 3.0-3.9 after depth.)
    """
    vol = phases[phase]
    sl = rr.box
    sp = tuple(float(v) for v in vol.spacing)
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    nf = gaussian_noise_factor(sig_vox)
    if int(rr.mask.sum()) < 8:
        return False

    def values(v: Volume) -> tuple[NDArray[np.float32], float]:
        _, smooth, sigma_raw = _smoothed(v, sl, sig_vox, cache)
        return smooth[rr.mask], max(sigma_raw * nf, 1e-6)

    own = _spread(*values(vol))
    bins: list[NDArray[np.intp]] | None = None
    for ph, v in phases.items():
        if ph == phase or not v.geometry.equals(vol.geometry):
            continue
        y, noise = values(v)
        if _spread(y, noise) <= max(C.LESION_MIXED_SPREAD_K, C.LESION_MIXED_SPREAD_MARGIN * own):
            continue
        if bins is None:
            bins = _depth_bins(rr.mask, sp)
        if _spread(_depth_residuals(y, bins), noise, tail=10) > C.LESION_MIXED_SPREAD_K:
            return True
    return False


def _depth_bins(mask: NDArray[np.bool_], spacing: Sequence[float]) -> list[NDArray[np.intp]]:
    """The mask's voxels (indices into ``mask``'s true voxels, in their C order) ordered by their
    depth below its border (mm; the box's edge counts as outside) and cut into runs of
    ``LESION_MIXED_DEPTH_BIN_VOXELS``: voxels at about the same depth in each run (1.33)."""
    depth = _kernels.distance_transform_edt(np.pad(mask, 1), spacing)[1:-1, 1:-1, 1:-1][mask]
    # voxels at the same depth (a grid's distances take few values) in a fixed random order, not
    # the array's: a run of them would otherwise be one side of the mask
    perm = np.random.default_rng(0).permutation(depth.size)
    order = perm[np.argsort(depth[perm], kind="stable")]
    return np.array_split(order, max(1, order.size // C.LESION_MIXED_DEPTH_BIN_VOXELS))


#: the range between the ``tail`` and ``100 - tail`` percentiles of normal noise, in sigmas
_NORMAL_RANGE = {25: 1.349, 10: 2.563}


def _spread(values: NDArray[Any], noise: float, tail: int = 25) -> float:
    """The range of ``values`` between their ``tail`` and ``100 - tail`` percentiles in units of
    that of normal noise of sigma ``noise``: the interquartile range (1.5), or (1.33, ``tail``
    10) the 10-90 range, which a second tissue that is a sixth of the mask (a thrombus and the
    vessel's blood beyond it) lies inside and the interquartile range outside."""
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(hi - lo) / (_NORMAL_RANGE[tail] * noise)


def _depth_residuals(values: NDArray[Any], bins: list[NDArray[np.intp]]) -> NDArray[np.float64]:
    """``values`` less the median of their run of :func:`_depth_bins` (1.33)."""
    out = np.asarray(values, np.float64).copy()
    for b in bins:
        out[b] -= np.median(out[b])
    return out

"""One phase's segmentation, steps 7, 8 and 9b of :func:`hcc_imaging.segment.lesion.segment_lesion`.

:func:`_segment_on` runs the region grower (:mod:`._grow`) on one phase in a region of interest
that grows while the mask touches its border (step 1), then step 7's heterogeneous expansion and,
when that fires but is rejected, step 12's blurred-surface fit around the click's region (1.15,
:func:`_blurred_click_region`) or else step 8's star-shaped refinement (:func:`_radial_on`, see
:mod:`._radial`).  Step 7 across the phases of one grid: :func:`_regrow_on_best_phase`,
:func:`_grow_on_other_phase` (both through :func:`_grow_on_phase`).  Step 9b, dense lipiodol:
:func:`_lipiodol_deposits`.  Step 9, the enhancing rim, is in :mod:`._rim`.  The method is
described in the :mod:`hcc_imaging.segment.lesion` docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ..volume import Modality, Phase, Volume
from . import _kernels
from . import constants as C
from ._blur import blurred_border
from ._expand import _expand_heterogeneous
from ._grow import (
    _ball_mask,
    _grow_in_roi,
    _inner_band,
    _Model,
    _parenchyma_shell,
    _parenchyma_value,
    _RefusedInSmallRoi,
    _ring,
    _RoiResult,
    _smoothed,
    _SmoothCache,
    _touches_border,
    floored_noise,
)
from ._morph import (
    ball,
    bbox,
    gaussian_noise_factor,
    gaussian_sigma_vox,
    noise_sigma,
    pad_box,
)
from ._types import LesionParams

log = logging.getLogger(__name__)


def _roi_half_sizes_mm(
    params: LesionParams, line_len_mm: float | None, fixed_half_mm: float | None
) -> tuple[float, float]:
    """Step 1's region of interest: the first half-size (mm) :func:`_segment_on` uses, and the
    largest it can grow to (it grows only below ``roi_max_half_size_mm``, and at most to it)."""
    if fixed_half_mm is not None:
        return fixed_half_mm, fixed_half_mm
    if line_len_mm is not None:
        half = max(params.line_roi_factor * line_len_mm, 0.5 * line_len_mm) + params.ring_outer_mm + 2 * params.smoothing_sigma_mm
    else:
        half = params.roi_half_size_mm
    return half, max(half, params.roi_max_half_size_mm)


def _roi_box(
    seed: NDArray[np.int64], half_mm: float, sp: NDArray[np.float64], shape: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The click's region of interest: ``half_mm`` on every side of ``seed``, clipped to the image."""
    r = np.ceil(half_mm / sp).astype(int)
    return np.maximum(seed - r, 0), np.minimum(seed + r + 1, shape)


def _segment_on(
    volume: Volume,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    line_idx: NDArray[np.float64] | None,
    fixed_half_mm: float | None,
    first_round_only: bool = False,
    cache: _SmoothCache | None = None,
    init_ball_mm: float | None = None,
) -> _RoiResult:
    sp = np.asarray(volume.spacing, float)
    shape = np.asarray(volume.shape)
    s = np.asarray(seed, int)
    line_len_mm = None
    if line_idx is not None:
        line_len_mm = float(np.linalg.norm((line_idx[1] - line_idx[0]) * sp))
    half = _roi_half_sizes_mm(params, line_len_mm, fixed_half_mm)[0]
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    nf = gaussian_noise_factor(sig_vox)
    while True:
        lo, hi = _roi_box(s, half, sp, shape)
        sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        raw, smooth, sigma_raw = _smoothed(volume, sl, sig_vox, cache)
        local_seed = tuple(int(v) for v in s - lo)
        liv = liver[sl] if liver is not None else None
        clamp = line_ball = None
        if line_idx is not None and line_len_mm is not None:
            mid = 0.5 * (line_idx[0] + line_idx[1]) - lo
            # the leak clamp and the first region: balls around the line's midpoint
            clamp = _ball_mask(raw.shape, mid, sp, params.line_clamp_factor * 0.5 * line_len_mm)
            line_ball = _ball_mask(raw.shape, mid, sp, 0.5 * line_len_mm)
            if liv is not None:
                line_ball &= liv
        elif init_ball_mm is not None:
            # the phases' combination after a click (1.5): the first region is this ball, as a line's
            line_ball = _ball_mask(raw.shape, s - lo, sp, init_ball_mm)
            if liv is not None:
                line_ball &= liv
        at_max = fixed_half_mm is not None or half >= params.roi_max_half_size_mm
        # 1.70: a refusal whose region is a lesion this region of interest cuts (it reaches a face and fills
        # LESION_ROI_RETRY_FILL of it, _grow._refusal) is tried again in a larger one (the faces cut the ring
        # and the edge band: 40 mm lesions on 5 mm slices at 25 HU were refused)
        may_grow = not at_max and not first_round_only
        try:
            mask, model = _grow_in_roi(
                raw, smooth, local_seed, tuple(sp), params, liv, clamp, line_ball, sigma_raw, nf, first_round_only,  # type: ignore[arg-type]
                None if line_idx is None else np.asarray(line_idx, float) - lo,
                (lambda m, lo=lo, hi=hi: _touches_border(m, lo, hi, shape)) if may_grow else None,
            )
        except _RefusedInSmallRoi:
            half = min(half * params.roi_growth, params.roi_max_half_size_mm)
            continue
        click_mask = None
        touches = _touches_border(mask, lo, hi, shape)
        if touches and may_grow:
            half = min(half * params.roi_growth, params.roi_max_half_size_mm)
            continue
        if params.heterogeneous_expansion and line_idx is None and model.mode != "both" and not first_round_only:
            # step 7, only once the ROI holds the click's region (no work wasted on a too-small ROI)
            open_el = ball(params.opening_radius_mm, tuple(sp)) if params.opening_radius_mm > 0 else None
            fired: list[float] = []
            grown = _expand_heterogeneous(smooth, mask, local_seed, tuple(sp), params, liv, model.sigma_s, open_el, fired, cache)  # type: ignore[arg-type]
            if grown is None and fired and params.blurred_border:
                fit = _blurred_click_region(volume, s, mask, lo, liver, params, model, fired[0])
                if fit is not None:
                    return fit
            if grown is None and fired and params.radial_refinement:
                star = _radial_on(volume, s, mask, lo, liver, params, model)
                if star is not None:
                    return star
            if grown is not None:
                click_mask = mask
                mask, (parenchyma, low, high) = grown
                model = _Model(float(np.median(raw[mask])), parenchyma, model.sigma_raw, model.sigma_s, low, high, model.conspicuity, "both")
                touches = _touches_border(mask, lo, hi, shape)
                if touches and not at_max:
                    half = min(half * params.roi_growth, params.roi_max_half_size_mm)
                    continue
        return _RoiResult(mask, lo, model, touches, at_max, click_mask)


def _blurred_click_region(
    volume: Volume,
    seed: NDArray[np.int64],
    click: NDArray[np.bool_],
    click_lo: NDArray[np.int64],
    liver: NDArray[np.bool_] | None,
    params: LesionParams,
    model: _Model,
    parenchyma: float,
) -> _RoiResult | None:
    """1.15: step 12 on the click's region whose ring step 7 read as lesion tissue, before step 8.

    A bright lesion with an ill-defined margin fades into the parenchyma over its blur: the click's
    region is its core, and the ring around it (the blurred margin) lies between the core and the
    parenchyma, so step 7's test fires; its growth is rejected (the margin never meets a ring of
    parenchyma), and step 8's rays, which end only at a run of parenchyma-like values, ran out
    through the margin (masks 2-30 x the lesion).  When the blurred-surface model explains the core
    and its margin (:func:`._blur.blurred_border` with ``from_core``: the core lies far inside the
    margin, so a fit may be refitted once from its own surface, and one with the grid's largest blur
    is not used), its surface is the border.  A heterogeneous tumour's click region is not
    star-shaped (3D-IRCADb-01 #17), and a fit whose blur is the grid's largest (one that absorbs a
    misfit) is not used: step 8 then runs as before.  One phase (the click's); the values reported
    are the mask's median and the parenchyma of step 7's test.
    """
    bb = blurred_border(click, click_lo, [volume.array], volume.spacing, liver, from_core=True,
                        surfaces=params.blurred_surface, calibrated=volume.modality == Modality.CT)
    if bb is None:
        return None
    out, lo, sigma = bb
    rr = _RoiResult(out, lo, model, False, True, None, blur_mm=sigma)
    if _touches_border(out, lo, lo + np.asarray(out.shape), volume.shape) or not rr.holds(seed):
        return None
    tol = params.min_contrast_k_sigma * model.sigma_s
    rr.model = _Model(float(np.median(volume.array[rr.box][out])), parenchyma, model.sigma_raw, model.sigma_s,
                      parenchyma - tol, parenchyma + tol, model.conspicuity, "both")
    log.debug("step 12 on the click's region (step 7 fired, its growth rejected): %d -> %d voxels, blur %.2f mm",
              np.count_nonzero(click), np.count_nonzero(out), sigma)
    return rr


def _farthest_mm(
    mask: NDArray[np.bool_], lo: NDArray[np.int64], seed: NDArray[np.int64], sp: NDArray[np.float64]
) -> float:
    """The largest distance (mm) from ``seed`` to a voxel of ``mask`` (a box of the image starting at
    ``lo``); 0 when it is empty.  Each row's (along the last axis) farthest voxel is its first or
    its last (the squared distance grows with the column offset; the float sums, monotone, keep
    that order): only those are measured, each as on every voxel (a listing of the click's
    region's voxels on a 5 M-voxel region of interest was a tenth of step 8)."""
    bb = bbox(mask)
    if bb is None:
        return 0.0
    sub = mask[tuple(slice(int(a), int(b)) for a, b in zip(bb[0], bb[1], strict=True))]
    z, y = np.nonzero(sub.any(axis=2))
    first = sub.argmax(axis=2)[z, y]
    last = sub.shape[2] - 1 - sub[:, :, ::-1].argmax(axis=2)[z, y]
    ends = np.concatenate([np.stack([z, y, first], axis=1), np.stack([z, y, last], axis=1)])
    pts = ends + bb[0] + lo
    return float(np.sqrt((((pts - seed) * sp) ** 2).sum(axis=1)).max())


def _radial_on(
    volume: Volume,
    seed: NDArray[np.int64],
    click: NDArray[np.bool_],
    click_lo: NDArray[np.int64],
    liver: NDArray[np.bool_] | None,
    params: LesionParams,
    model: _Model,
) -> _RoiResult | None:
    """Step 8: star-shaped refinement of a heterogeneous lesion whose growth was rejected.

    Works on its own box around the seed (the rays' reach plus the smoothing support), with the
    smoothing ``LESION_RADIAL_SMOOTHING_MM``; see :mod:`._radial`.  None when rejected.
    """
    from ._radial import peak_value_and_width, radial_refine

    sp = np.asarray(volume.spacing, float)
    shape = np.asarray(volume.shape)
    far_mm = _farthest_mm(click, click_lo, seed, sp)
    reach = min(far_mm + params.expansion_max_mm, C.LESION_RADIAL_MAX_REACH_MM)
    sig_vox = gaussian_sigma_vox(C.LESION_RADIAL_SMOOTHING_MM, tuple(sp), params.smoothing_min_vox)
    margin = np.ceil((reach + 4.0 * C.LESION_RADIAL_SMOOTHING_MM) / sp).astype(int) + 1
    lo = np.maximum(seed - margin, 0)
    hi = np.minimum(seed + margin + 1, shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    raw = np.asarray(volume.array[sl], dtype=np.float32)
    smooth = _kernels.gaussian_filter_nearest(raw, sig_vox)  # (scipy's gaussian_filter, mode "nearest")
    sigma_raw = floored_noise(volume, raw, noise_sigma(raw, smooth, sig_vox))
    sigma_s = sigma_raw * gaussian_noise_factor(sig_vox)
    # the click's region on this box
    cl = np.zeros(raw.shape, bool)
    a = np.maximum(click_lo, lo)
    b = np.minimum(click_lo + np.asarray(click.shape), hi)
    if np.any(b <= a):
        return None
    cl[tuple(slice(int(x - lo_), int(y - lo_)) for x, y, lo_ in zip(a, b, lo, strict=True))] = click[
        tuple(slice(int(x - c_), int(y - c_)) for x, y, c_ in zip(a, b, click_lo, strict=True))
    ]
    liv = liver[sl] if liver is not None else None
    shell = _ring(cl, tuple(sp), params.ring_inner_mm, params.parenchyma_sample_mm, coarse=2)
    if liv is not None:
        shell &= liv
    peak = peak_value_and_width(smooth[shell], max(0.5 * sigma_s, 0.5))
    if peak is None:
        return None
    parenchyma, width = peak
    inside = smooth[cl]
    lesion = float(np.median(inside))
    # darker than every lesion part by a full noise window: fat / air, ends a ray
    floor = min(float(np.percentile(inside, 1)), parenchyma - abs(parenchyma - lesion)) - params.outer_k_sigma * sigma_raw
    local_seed = tuple(int(v) for v in seed - lo)
    star = radial_refine(smooth, cl, local_seed, tuple(sp), liv, parenchyma, width, floor, reach, edge=raw, lesion=lesion,
                         past_mask_mm=params.past_liver_mask_mm or 0.0)
    if star is None:
        return None
    k = C.LESION_RADIAL_PARENCHYMA_K_SIGMA * width
    m = _Model(float(np.median(raw[star])), parenchyma, sigma_raw, sigma_s, parenchyma - k, parenchyma + k,
               model.conspicuity, "both")
    touches = _touches_border(star, lo, hi, shape)
    return _RoiResult(star, lo, m, touches, True, None, radial=True)


def _lipiodol_deposits(
    full: NDArray[np.generic],
    within: tuple[slice, ...],
    arrays: Sequence[NDArray[np.generic]],
    liver: NDArray[np.bool_] | None,
    spacing: Sequence[float],
) -> tuple[tuple[slice, slice, slice], NDArray[np.bool_]] | None:
    """Step 9b (1.8): dense lipiodol deposits (at least ``LIPIODOL_MIN_HU`` on every phase given,
    inside the liver mask when there is one) that touch the mask (26-neighbours) belong to the
    treated lesion, with the partial-volume margin around them that ``viable_mask`` excludes
    (``LIPIODOL_MARGIN_MM``, at least one voxel); the union's holes are filled.  Returns the box
    and the new mask on it, or None when no deposit touches the mask.  (The region grower leaves
    out the deposit's blurred margin, whose values lie between the deposit's and the lesion's,
    above its window; and a deposit at the lesion's edge, open to the outside, is left out
    whole.)"""
    from scipy import ndimage

    bb = bbox(full[within] != 0)
    if bb is None or not arrays:
        return None
    off = np.array([w.start or 0 for w in within], np.int64)
    sp = np.asarray(spacing, float)
    pad = np.ceil(C.LESION_LIPIODOL_SEARCH_MM / sp).astype(int)
    box = pad_box(bb[0] + off, bb[1] + off, pad, full.shape)
    dense = np.asarray(arrays[0][box]) >= C.LIPIODOL_MIN_HU
    for a in arrays[1:]:
        if not dense.any():
            return None  # (no deposit on the phases read so far: none on all of them; the other phases unread)
        dense &= np.asarray(a[box]) >= C.LIPIODOL_MIN_HU
    if liver is not None:
        dense &= liver[box]
    if not dense.any():
        return None
    m = full[box] != 0
    full26 = np.ones((3, 3, 3), bool)
    lab, _ = ndimage.label(dense, structure=full26)
    touching = np.unique(lab[ndimage.binary_dilation(m, structure=full26) & dense])
    touching = touching[touching > 0]
    if touching.size == 0:
        return None
    dep = np.isin(lab, touching)
    grown = ndimage.binary_dilation(dep, structure=ball(C.LIPIODOL_MARGIN_MM, sp, min_one_voxel=True))
    if liver is not None:
        grown &= liver[box]
    return box, ndimage.binary_fill_holes(m | grown)


def _grow_on_phase(
    rr: _RoiResult,
    start: NDArray[np.bool_],
    smooth: NDArray[np.float32],
    sigma_s: float,
    seed: tuple[int, int, int],
    sp: tuple[float, ...],
    image_shape: Sequence[int],
    params: LesionParams,
    liv: NDArray[np.bool_] | None,
    cache: _SmoothCache | None,
    cut: list[bool] | None = None,
) -> _RoiResult | None:
    """Step 7's growth of ``start`` (the click's region) on one phase's smoothed ROI, with its
    test, clamp and enclosure rule; None when it is not accepted or reaches the ROI's border
    (then ``True`` is appended to ``cut``: a larger ROI may hold it).
    The result keeps ``start`` as its click region and the phase's surroundings value."""
    local_seed = tuple(int(a) - int(b) for a, b in zip(seed, rr.lo, strict=True))
    open_el = ball(params.opening_radius_mm, sp) if params.opening_radius_mm > 0 else None
    grown = _expand_heterogeneous(smooth, start, local_seed, sp, params, liv, sigma_s, open_el, None, cache)  # type: ignore[arg-type]
    if grown is None:
        return None
    mask, (parenchyma, low, high) = grown
    if _touches_border(mask, rr.lo, rr.lo + np.asarray(mask.shape), image_shape):
        if cut is not None:
            cut.append(True)
        return None
    m = rr.model
    model = _Model(m.lesion, parenchyma, m.sigma_raw, sigma_s, low, high, m.conspicuity, "both")
    return _RoiResult(mask, rr.lo, model, False, rr.at_max, start)


def _regrow_on_best_phase(
    rr: _RoiResult,
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
) -> tuple[_RoiResult, Phase | None]:
    """Step 7 on the phase where the grown lesion's border differs most from parenchyma.

    The phase is chosen for the clicked part (e.g. an arterially enhancing remnant); the lesion's
    outer border (necrosis, lipiodol) may be sharper on another phase.  Score per phase on the
    same grid: median |smoothed - parenchyma| in the band ``edge_band_mm`` inside the grown mask,
    in smoothed-noise sigmas.  When another phase scores higher, the click's region is grown
    again there (same enclosure test and clamp); the result is kept only when accepted and still
    inside the region of interest.
    """
    vol = phases[phase]
    assert rr.click_mask is not None
    sl = rr.box
    sp = tuple(float(v) for v in vol.spacing)
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    nf = gaussian_noise_factor(sig_vox)
    band = _inner_band(rr.mask, sp, params.edge_band_mm)
    if not band.any():
        return rr, None
    liv = liver[sl] if liver is not None else None
    scores: dict[Phase, tuple[float, NDArray[np.float32], float]] = {}
    shell = _parenchyma_shell(rr.mask, sp, params, liv)  # the same sample region on every phase
    for ph, v in phases.items():
        if not v.geometry.equals(vol.geometry):
            continue
        _, smooth, sigma_raw = _smoothed(v, sl, sig_vox, cache)
        sigma_s = sigma_raw * nf
        est = _parenchyma_value(smooth, rr.mask, sp, params, liv, sigma_s, shell)
        if est is None or sigma_s <= 0:
            continue
        scores[ph] = (float(np.median(np.abs(smooth[band] - est))) / sigma_s, smooth, sigma_s)
    if phase not in scores:
        return rr, None
    best = max(scores, key=lambda k: scores[k][0])
    if best == phase:
        return rr, None
    _, smooth, sigma_s = scores[best]
    res = _grow_on_phase(rr, rr.click_mask, smooth, sigma_s, seed, sp, vol.shape, params, liv, cache)
    return (rr, None) if res is None else (res, best)


def _grow_on_other_phase(
    rr: _RoiResult,
    phases: Mapping[Phase, Volume],
    phase: Phase,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
    include_own: bool = False,
) -> tuple[_RoiResult, Phase | None]:
    """Step 7 on the other phases when it did not fire (or was rejected) on the click's phase (1.4).

    At high noise the click's phase may show the rest of the lesion too faintly for the enclosure
    test (phantom L2 / L3 at sigma 25 HU: necrosis 45 HU below the liver on arterial is 3.6
    smoothed sigmas, so a third of the ring passes as parenchyma), while another phase shows it
    clearly (82 HU on portal venous).  The click's region is grown on each other phase of the same grid with the same
    test, clamp and enclosure rule; among the accepted growths that stay inside the region of
    interest, the one with the highest border contrast (median |smoothed - parenchyma| in the
    ``edge_band_mm`` band, in smoothed-noise sigmas) is kept.  None accepted: unchanged.
    ``include_own``: the click's phase too (1.10: after the joint fallback, where step 7 never ran).
    """
    vol = phases[phase]
    sl = rr.box
    sp = tuple(float(v) for v in vol.spacing)
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    nf = gaussian_noise_factor(sig_vox)
    liv = liver[sl] if liver is not None else None
    best: tuple[float, Phase, _RoiResult] | None = None
    for ph, v in phases.items():
        if (ph == phase and not include_own) or not v.geometry.equals(vol.geometry):
            continue
        _, smooth, sigma_raw = _smoothed(v, sl, sig_vox, cache)
        sigma_s = sigma_raw * nf
        if sigma_s <= 0:
            continue
        cut: list[bool] = []
        res = _grow_on_phase(rr, rr.mask, smooth, sigma_s, seed, sp, vol.shape, params, liv, cache, cut)
        if res is None and cut:
            larger = _grow_in_larger_roi(rr, v, seed, params, liver, cache)
            if larger is not None:  # its ROI's smoothed image and noise
                res, smooth = larger
                sigma_s = res.model.sigma_s
        if res is None:
            continue
        band = _inner_band(res.mask, sp, params.edge_band_mm)
        if not band.any():
            continue
        score = float(np.median(np.abs(smooth[band] - res.model.surround))) / sigma_s
        if best is None or score > best[0]:
            best = (score, ph, res)
    if best is None:
        return rr, None
    return best[2], best[1]


def _grow_in_larger_roi(
    rr: _RoiResult,
    v: Volume,
    seed: tuple[int, int, int],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None,
) -> tuple[_RoiResult, NDArray[np.float32]] | None:
    """:func:`_grow_on_phase` of the click's region on phase ``v`` in ever larger regions of
    interest (the click's growth sequence, ``roi_growth`` up to ``roi_max_half_size_mm``), when
    the growth on ``rr``'s ROI reached its border (1.9).  The click's phase grows its ROI that way
    while step 7's growth touches the border (:func:`_segment_on`); another phase's growth had no
    such loop and was refused, so at 25 HU noise a necrotic lesion clicked in its viable nodule
    (grown on portal venous, the nodule's ROI holding only part of the lesion) kept the nodule
    alone.  Returns the growth and that ROI's smoothed image of ``v``; None when no ROI holds an
    accepted growth or ``rr``'s ROI is not one of that sequence (a fixed ``roi_mm``, a line)."""
    if rr.at_max:  # the largest ROI already, or a fixed one (``roi_mm``): the user's box holds
        return None
    sp = np.asarray(v.spacing, float)
    shape = np.asarray(v.shape)
    s = np.asarray(seed, int)
    hi0 = rr.lo + np.asarray(rr.mask.shape)
    half = _roi_half_sizes_mm(params, None, None)[0]
    while True:  # rr's place in the sequence
        lo, hi = _roi_box(s, half, sp, shape)
        if np.array_equal(lo, rr.lo) and np.array_equal(hi, hi0):
            break
        if half >= params.roi_max_half_size_mm or (lo <= rr.lo).all() and (hi >= hi0).all():
            return None
        half = min(half * params.roi_growth, params.roi_max_half_size_mm)
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, tuple(sp), params.smoothing_min_vox)
    nf = gaussian_noise_factor(sig_vox)
    while half < params.roi_max_half_size_mm:
        half = min(half * params.roi_growth, params.roi_max_half_size_mm)
        lo, hi = _roi_box(s, half, sp, shape)
        sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        start = np.zeros(tuple(int(n) for n in hi - lo), dtype=bool)
        start[tuple(slice(int(a), int(a) + n) for a, n in zip(rr.lo - lo, rr.mask.shape, strict=True))] = rr.mask
        big = _RoiResult(start, lo, rr.model, rr.touches, half >= params.roi_max_half_size_mm)
        _, smooth, sigma_raw = _smoothed(v, sl, sig_vox, cache)
        if sigma_raw <= 0:
            return None
        cut: list[bool] = []
        liv = liver[sl] if liver is not None else None
        res = _grow_on_phase(big, start, smooth, sigma_raw * nf, seed, tuple(sp), v.shape, params, liv, cache, cut)
        if res is not None:
            return res, smooth
        if not cut:
            return None
    return None

"""The seeded region grower of :func:`hcc_imaging.segment.lesion.segment_lesion` (steps 2-6).

Holds the intensity model and region growing inside one region of interest
(:func:`_grow_in_roi`: seed ball, window, region, opening, hole filling, the re-estimation rounds
of step 6 and their near-tissue rule, :func:`_near_tissue`), the parenchyma value and shell that
step 6's rule and step 7's heterogeneous expansion (:mod:`._expand`) read, and the small
helpers the later steps share: the per-call smoothed-ROI cache (:func:`_smoothed`, step 2), the
lattice ring and edge band (:func:`_ring`, :func:`_inner_band`), a ball mask, the line profile and the
region-of-interest border tests.  The method is described in the :mod:`hcc_imaging.segment.lesion`
docstring; the loop over regions of interest (step 1) is :func:`._refine._segment_on`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..volume import Modality, Phase, Volume
from . import _kernels
from . import constants as C
from ._morph import (
    ball,
    bbox,
    binary_opening,
    component_at,
    component_at_in_box,
    fill_holes,
    histogram_mode,
    median_abs,
    noise_sigma,
    pad_box,
    within_mm,
)
from ._types import LesionParams
from .errors import LowContrastError


@dataclass(slots=True)
class _Model:
    lesion: float
    surround: float
    sigma_raw: float
    sigma_s: float
    low: float
    high: float
    conspicuity: float = 0.0
    mode: str = "hypo"
    ill_defined: bool = False  # the edge band was within the contrast minimum: whole-region value used


@dataclass(slots=True)
class _RoiResult:
    mask: NDArray[np.bool_]  # ROI-sized
    lo: NDArray[np.int64]
    model: _Model
    touches: bool
    at_max: bool
    click_mask: NDArray[np.bool_] | None = None  # the click's region before the step-7 growth
    radial: bool = False  # step 8 (star-shaped refinement) made the mask
    rim_phase: Phase | None = None  # step 9 added a thin enhancing rim seen on this phase
    blur_mm: float | None = None  # 1.15: step 12 fitted the border around the click's region (its blur)

    @property
    def box(self) -> tuple[slice, ...]:
        """The ROI's slices in the whole image."""
        return tuple(slice(int(a), int(a) + n) for a, n in zip(self.lo, self.mask.shape, strict=True))

    def holds(self, voxel: Sequence[int]) -> bool:
        """Whether the whole image's ``voxel`` lies in the ROI and in its mask."""
        local = np.asarray(voxel) - self.lo
        return bool(np.all(local >= 0) and np.all(local < self.mask.shape) and self.mask[tuple(int(v) for v in local)])

    def box_in(self, lo: Sequence[int] | NDArray[np.int64]) -> tuple[slice, ...]:
        """The ROI's slices in a box of the image that starts at ``lo`` (and holds the ROI)."""
        return tuple(slice(int(a - b), int(a - b) + n) for a, b, n in zip(self.lo, lo, self.mask.shape, strict=True))


def _seed_ball_values(raw: NDArray[Any], seed: Sequence[int], ball_el: NDArray[np.bool_]) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """Raw values in the seed ball (clipped to the array) and the ball as a ROI mask.  The values
    are read on the ball's box (the same values in the same order as through the ROI mask, without
    a scan of the whole ROI)."""
    r = np.array(ball_el.shape) // 2
    s = np.asarray(seed, int)
    lo = np.maximum(s - r, 0)
    hi = np.minimum(s + r + 1, raw.shape)
    blo = lo - (s - r)
    bhi = blo + (hi - lo)
    el = ball_el[blo[0]:bhi[0], blo[1]:bhi[1], blo[2]:bhi[2]]
    region = np.zeros(raw.shape, bool)
    region[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = el
    return raw[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]][el], region


#: per-call cache (one :func:`segment_lesion` call): smoothed ROIs, (id(volume), box, sigma_vox) ->
#: (raw, smooth, sigma_raw), and step 7's clamp, ("reach", id(region), ...) -> (region, reach, rim)
_SmoothCache = dict[tuple[Any, ...], Any]


def floored_noise(volume: Volume, raw: NDArray[np.floating], sigma_raw: float) -> float:
    """The raw noise sigma the k-sigma tests read, floored (a noise-free or denoised image would
    make every partial-volume voxel "significant"): on CT at least ``LESION_MIN_NOISE_HU``; on
    other modalities (no calibrated scale) at least ``LESION_MIN_NOISE_FRACTION`` of the median
    absolute value of ``raw`` (the region of interest)."""
    if volume.modality == Modality.CT:
        return max(sigma_raw, C.LESION_MIN_NOISE_HU)
    return max(sigma_raw, C.LESION_MIN_NOISE_FRACTION * median_abs(raw))


def _smoothed(
    volume: Volume, sl: tuple[slice, ...], sig_vox: tuple[float, float, float], cache: _SmoothCache | None
) -> tuple[NDArray[np.float32], NDArray[np.float32], float]:
    """Raw ROI, its Gaussian smoothing and raw noise sigma; each (phase, box) computed once per
    :func:`segment_lesion` call (the phase choice, the click's region, the regrowth and the rim
    test all smooth the same boxes).  The arrays are shared: callers only read them."""
    key = (id(volume), tuple((s_.start, s_.stop) for s_ in sl), tuple(sig_vox))
    if cache is not None and key in cache:
        return cache[key]
    raw = np.asarray(volume.array[sl], dtype=np.float32)
    # scipy's gaussian_filter(raw, sig_vox, mode="nearest"), compiled when the kernels are on
    smooth = _kernels.gaussian_filter_nearest(raw, sig_vox)
    out = (raw, smooth, floored_noise(volume, raw, noise_sigma(raw, smooth, sig_vox)))
    if cache is not None:
        cache[key] = out
    return out


def _stride(spacing: Sequence[float]) -> int:
    """In-plane subsampling step for ring/band statistics: about 1.5 mm between samples.

    The ring and band only feed medians, so sampling every other 0.7 mm pixel changes them by
    noise only, and the ring / band dilations (:func:`._morph.within_mm`) run on a quarter of the voxels.
    """
    return max(1, int(C.LESION_STATS_SAMPLING_MM / max(min(spacing[1], spacing[2]), 1e-6)))


def _ring(
    region: NDArray[np.bool_], spacing: Sequence[float], inner: float, outer: float, coarse: int = 1
) -> NDArray[np.bool_]:
    """Voxels at distance (inner, outer] mm outside ``region``, on an in-plane subsampled lattice
    (see :func:`_stride`); computed on the padded bounding box.  ``coarse`` > 1 thins the lattice
    further by that factor on every axis (for wide shells that only feed a histogram mode)."""
    bb = bbox(region)
    if bb is None:
        return np.zeros_like(region)
    st = _stride(spacing) * coarse
    sz = coarse
    pad = np.ceil(outer / np.asarray(spacing)).astype(int) + st
    sl = pad_box(bb[0], bb[1], pad, region.shape)
    sub = region[sl][::sz, ::st, ::st]
    if not sub.any():
        # the lattice misses a small region (one slice of a thick-slice grid, a few pixels): shift it
        # onto the region's first voxel (1.13; the ring had been read off a distance transform
        # without background, and a 16-voxel click region on 5 mm slices got no parenchyma value)
        first = np.argwhere(region[sl])[0]
        sl = tuple(slice(s.start + int(f) % k, s.stop) for s, f, k in zip(sl, first, (sz, st, st), strict=True))
        sub = region[sl][::sz, ::st, ::st]
    sp_sub = (spacing[0] * sz, spacing[1] * st, spacing[2] * st)
    out = np.zeros_like(region)
    # = (inner < distance_transform_edt(~sub) <= outer), as two small dilations (same voxels)
    out[sl][::sz, ::st, ::st] = within_mm(sub, sp_sub, outer) & ~within_mm(sub, sp_sub, inner)
    return out


def _ring_kept(region: NDArray[np.bool_], spacing: Sequence[float], inner: float, outer: float, coarse: int,
               cache: _SmoothCache | None) -> NDArray[np.bool_]:
    """:func:`_ring` of ``region``, kept in ``cache`` (per :func:`segment_lesion` call) for that
    region object: step 7 on the other phases (:func:`._refine._grow_on_phase`) grows the click's
    region of the chosen phase again on each of them, and its parenchyma shell and ring are the
    region's alone (the liver is applied by the caller).  The array kept is read-only (callers
    only read it).  On the fine rind scene's lobulated clicks the three phases' repeats were ~3
    shells and rings per click (session of 2026-12-07, second)."""
    if cache is None:
        return _ring(region, spacing, inner, outer, coarse)
    key = ("ring", id(region), tuple(float(v) for v in spacing), float(inner), float(outer), int(coarse))
    hit = cache.get(key)
    if hit is not None and hit[0] is region:
        return hit[1]  # type: ignore[no-any-return]
    out = _ring(region, spacing, inner, outer, coarse)
    out.flags.writeable = False
    cache[key] = (region, out)
    return out


def _window(lesion: float, surround: float, sigma_raw: float, k_outer: float, hyper: bool) -> tuple[float, float]:
    mid = 0.5 * (lesion + surround)
    far = max(k_outer * sigma_raw, abs(lesion - surround))
    if hyper:
        return mid, lesion + far
    return lesion - far, mid


def _not_fat(values: NDArray[Any], params: LesionParams) -> NDArray[np.bool_] | bool:
    """Where ``values`` (smoothed HU) are above ``params.fat_max_hu`` (True everywhere when it is
    None: MR, or turned off)."""
    return True if params.fat_max_hu is None else values > params.fat_max_hu


class _RefusedInSmallRoi(LowContrastError):
    """1.70: a click refused while its region was a lesion cut by a region of interest that may still grow
    (:func:`_refusal`): :func:`._refine._segment_on` grows the region of interest and tries again; the
    error a user sees is a plain :class:`LowContrastError`, from the last region tried."""


def _refusal(region: NDArray[np.bool_], touches_face: Callable[[NDArray[np.bool_]], bool] | None,
             message: str) -> LowContrastError:
    """The error of a refused round: :class:`_RefusedInSmallRoi` when the round's ``region`` (the region of
    interest's shape) is a lesion the region of interest cuts, else :class:`LowContrastError`.  1.70: a
    lesion it cuts reaches a face that may still grow (``touches_face``; None: the region of interest cannot
    grow) and fills ``LESION_ROI_RETRY_FILL`` of it: not a tube (a vessel) running through it nor a tissue
    that fills it."""
    low, high = C.LESION_ROI_RETRY_FILL
    if (touches_face is not None and low * region.size <= np.count_nonzero(region) < high * region.size
            and touches_face(region)):
        return _RefusedInSmallRoi(message)
    return LowContrastError(message)


def _grow_in_roi(
    raw: NDArray[np.float32],
    smooth: NDArray[np.float32],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    clamp: NDArray[np.bool_] | None,
    line_ball: NDArray[np.bool_] | None,
    sigma_raw: float,
    noise_factor: float,
    first_round_only: bool = False,
    line_local: NDArray[np.float64] | None = None,
    touches_face: Callable[[NDArray[np.bool_]], bool] | None = None,
) -> tuple[NDArray[np.bool_], _Model]:
    """Steps 3-6 in the region of interest (:func:`_grow_rounds`).  A click whose first region fails
    (``LowContrastError``) is tried once more with a core band widened by the seed ball
    median's own standard error (1.13): on a fine grid the smoothed noise is a fraction of
    that error, and a seed median a few errors off the lesion's value (noise) gave a core of a
    few voxels, a ring inside the lesion and a refusal of a 190 HU bright lesion at 25 HU noise.
    The same retry when the click's mask is smaller than the seed ball (a 40 mm lesion at 25 HU
    noise on 5 mm slices gave 7 voxels and an "ill-defined border" note): it is kept when it is
    not.  A retry whose mask reaches the region's faces (a leak: a click in fat beside ascites) is
    not used.  Only refusals and such masks change; the retry's own refusal gives the first error.
    ``touches_face``: whether a region reaches a face of a region of interest that may still grow (1.70: a
    refusal there is :class:`_RefusedInSmallRoi`), or None."""
    args = (raw, smooth, seed, spacing, params, liver, clamp, line_ball, sigma_raw, noise_factor, first_round_only, line_local)
    retry = not first_round_only and (line_ball is None or not line_ball.any())
    try:
        mask, model = _grow_rounds(*args, wide_core=False, touches_face=touches_face)
    except LowContrastError:
        if not retry:
            raise
        try:
            wide = _grow_rounds(*args, wide_core=True, touches_face=touches_face)
        except LowContrastError:
            wide = None
        if wide is not None and not _touches_faces(wide[0]):
            return wide
        raise  # (the first error) the retry refused too, or it ran to the region's faces (a leak)
    if retry:
        n_ball = int(np.count_nonzero(ball(params.seed_radius_mm, spacing, min_one_voxel=True)))
        if np.count_nonzero(mask) < n_ball:
            try:
                wide = _grow_rounds(*args, wide_core=True, touches_face=touches_face)
            except LowContrastError:
                return mask, model
            if np.count_nonzero(wide[0]) >= n_ball and not _touches_faces(wide[0]):
                return wide
    return mask, model


def _grow_rounds(
    raw: NDArray[np.float32],
    smooth: NDArray[np.float32],
    seed: tuple[int, int, int],
    spacing: tuple[float, float, float],
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    clamp: NDArray[np.bool_] | None,
    line_ball: NDArray[np.bool_] | None,
    sigma_raw: float,
    noise_factor: float,
    first_round_only: bool,
    line_local: NDArray[np.float64] | None,
    *,
    wide_core: bool,
    touches_face: Callable[[NDArray[np.bool_]], bool] | None = None,
) -> tuple[NDArray[np.bool_], _Model]:
    """One pass of steps 3-6 (:func:`_grow_in_roi`'s arguments): the first region
    (:func:`_first_region`; ``wide_core``: its band widened by the seed median's error), then the
    rounds: the ring's value, the lesion's (its edge band's after the first round), the window, the
    component at the click (or the line's ball) opened and filled."""
    seed_el = ball(params.seed_radius_mm, spacing, min_one_voxel=True)
    vals, seed_region = _seed_ball_values(raw, seed, seed_el)
    lesion = float(np.median(vals))
    sigma_s = sigma_raw * noise_factor
    both = params.polarity == "both"
    auto_both = params.polarity == "auto" and line_ball is not None and line_ball.any()
    region, lesion, line_prof = _first_region(smooth, seed, spacing, liver, line_ball, line_local, lesion, vals,
                                              seed_region, sigma_raw, sigma_s, both, wide_core)
    line_value = float(np.median(line_prof)) if line_prof is not None and line_prof.size else None
    model = _Model(lesion, lesion, sigma_raw, sigma_s, lesion, lesion)
    open_el = ball(params.opening_radius_mm, spacing) if params.opening_radius_mm > 0 else None
    mask = region
    ill_defined = False
    n_rounds = params.iterations
    prev_surround: float | None = None
    kept: tuple[NDArray[np.bool_], _Model] | None = None  # 1.39: the result before an extra round
    it = 0
    while it < n_rounds:
        ring = _ring(region, spacing, params.ring_inner_mm, params.ring_outer_mm)
        if liver is not None:
            ring &= liver
        ring_vals = smooth[ring]
        if ring_vals.size == 0:
            if kept is not None:
                return kept
            raise _refusal(region, touches_face,
                "no surrounding tissue found around the seed region (it fills the whole region of interest). "
                "The click may be inside a large homogeneous organ rather than a lesion; draw a line across the "
                "lesion (line_lps=) or choose another phase (phase=)."
            )
        surround = float(np.median(ring_vals))
        if (it == 0 and line_value is not None and (line_value - surround) * (lesion - surround) > 0
                and abs(line_value - surround) > abs(lesion - surround) + C.LESION_LINE_VALUE_MARGIN_K * sigma_s):
            # 1.34: the lesion value read on the drawn line itself when it lies farther from the
            # surroundings than the inner half of the line's ball, by more than smoothed noise: that
            # ball (a quarter of the longest diameter in radius) reaches past a lesion narrower than
            # half its longest diameter, or one with a blurred margin, or one a thick slice cuts,
            # and its median drifts to the surroundings; the line's central part lies in the lesion
            lesion = line_value
        if auto_both and it == 0:
            both = _heterogeneous(smooth[region], line_prof, surround, sigma_s, params)
        if both:
            # heterogeneous lesion: everything that differs from the surroundings by more than
            # half the typical lesion-surroundings difference inside the current region
            dev = np.abs(smooth[region] - surround)
            contrast = float(np.median(dev)) if dev.size else 0.0
            lesion = float(np.median(raw[region])) if region.any() else lesion
        else:
            if it > 0 and mask.any():
                if params.edge_band_mm > 0:
                    # the lesion value that matters for its border is the one next to the border:
                    # a necrotic core must not pull the threshold away from the real edge
                    band = _inner_band(mask, spacing, params.edge_band_mm)
                    lesion = float(np.median(smooth[band])) if band.any() else float(np.median(raw[mask]))
                    if (abs(lesion - surround) < params.min_contrast_k_sigma * max(sigma_s, 1e-6)
                            and not _touches_faces(mask)):
                        # an ill-defined border (infiltrative lesion): the band is the blur
                        # itself, half-way to the surroundings; the lesion is the region (1.4).
                        # Not for a region that reaches the ROI's faces: that band is a leak's
                        # border, not a lesion's, and the error stands
                        lesion = float(np.median(raw[mask]))
                        ill_defined = True
                else:
                    lesion = float(np.median(raw[mask]))
            contrast = abs(lesion - surround)
        if contrast < params.min_contrast_k_sigma * max(sigma_s, 1e-6) or contrast == 0.0:
            if kept is not None:
                return kept  # the extra round lost the contrast (a leak's band and ring): the rounds before stand
            raise _refusal(region, touches_face,
                f"lesion value {lesion:.1f} vs surroundings {surround:.1f} (contrast {contrast:.1f}, smoothed "
                f"noise sigma {sigma_s:.1f}): below {params.min_contrast_k_sigma} sigma, the lesion is not "
                "distinguishable here. Choose the phase where it is conspicuous (phase=), move the seed inside it, "
                "or lower LesionParams.min_contrast_k_sigma."
            )
        if both:
            tau = 0.5 * contrast
            low, high = surround - tau, surround + tau  # the EXCLUDED band
            cand = ((smooth <= low) | (smooth >= high)) & _not_fat(smooth, params)  # fat: never a dark part (1.10)
        else:
            hyper = lesion > surround if params.polarity == "auto" else params.polarity == "hyper"
            low, high = _window(lesion, surround, sigma_raw, params.outer_k_sigma, hyper)
            if it > 0 and not first_round_only:
                near = _near_tissue(smooth, region, ring_vals, spacing, params, liver, lesion, surround, sigma_s)
                if near is not None:
                    # a tissue between the ring's value and the lesion's borders it too (1.4)
                    if hyper:
                        low = max(low, 0.5 * (lesion + near))
                    else:
                        high = min(high, 0.5 * (lesion + near))
            cand = (smooth >= low) & (smooth <= high)
        if both:
            dev_r = np.abs(smooth[region] - surround)
            consp = float(np.percentile(dev_r, 25)) / max(sigma_raw, 1e-6) if dev_r.size else 0.0
        else:
            consp = abs(lesion - surround) / max(sigma_raw, 1e-6)
        model = _Model(lesion, surround, sigma_raw, sigma_s, low, high, consp,
                       "both" if both else ("hyper" if lesion > surround else "hypo"), ill_defined)
        if first_round_only:
            return region, model
        if liver is not None:
            cand &= liver
        if clamp is not None:
            cand &= clamp
        # with a line, the component holding most of the line's ball: the midpoint voxel may lie
        # in a part outside the window (an enhancing nodule on the washout phase) or in a noise
        # speck of it (1.4)
        by_line = line_ball is not None and line_ball.any()
        pick = line_ball if by_line else seed_region
        comp = component_at(cand, seed, pick, prefer_region=by_line)
        if not comp.any() and (both or line_ball is not None):
            comp = component_at(cand, seed, region)
        if not comp.any():
            if kept is not None:
                return kept
            raise _refusal(region, touches_face,
                f"no voxel near the seed falls in the window [{low:.1f}, {high:.1f}] "
                f"(lesion {lesion:.1f}, surroundings {surround:.1f}); move the seed inside the lesion or pick another phase."
            )
        mask = _open_and_fill(comp, open_el, seed, pick, prefer_region=by_line)
        region = mask
        if (by_line and not both and it == n_rounds - 1 and n_rounds == params.iterations
                and prev_surround is not None and abs(lesion - surround) > abs(lesion - prev_surround)
                and abs(surround - prev_surround) > C.LESION_BALL_RING_SHIFT_FRACTION * abs(lesion - surround)):
            # 1.39: a first region that is a ball (a line's, or the phases' combination after a
            # click) has its ring where the ball ends, not at the lesion's border: partly in the
            # lesion when the lesion reaches past the ball (a node in fat, ring 10 HU, the fat -65).
            # When this round's ring lies clearly farther from the lesion's value, the last
            # round's window was too narrow on the lesion's side, its mask too small, and this
            # round's lesion value, read in that mask's edge band, came from the lesion's plateau
            # (69 HU against the 47 a click reads at its border): one more round reads it from
            # this round's mask; when that round fails (no contrast left), this round's result stands
            n_rounds += 1
            kept = (mask, model)
        prev_surround = surround
        it += 1
    return mask, model


def _first_region(
    smooth: NDArray[np.float32], seed: tuple[int, int, int], spacing: tuple[float, float, float],
    liver: NDArray[np.bool_] | None, line_ball: NDArray[np.bool_] | None, line_local: NDArray[np.float64] | None,
    lesion: float, vals: NDArray[Any], seed_region: NDArray[np.bool_], sigma_raw: float, sigma_s: float, both: bool,
    wide_core: bool,
) -> tuple[NDArray[np.bool_], float, NDArray[np.float64] | None]:
    """The conservative first region and the lesion's value: with a drawn line, the line's ball and
    the median of its inner half (not with ``both``); with a click, the component at the seed ball
    of the voxels within 2.5 smoothed noise sigmas of the seed ball's median ``lesion`` (``vals``
    its values; ``wide_core``: plus the median's own error), or the seed ball itself.  Also the
    smoothed values along the line's central part (``line_local``; 1.34's lesion value and 1.4's
    heterogeneity test read them), or None."""
    line_prof: NDArray[np.float64] | None = None
    if line_ball is not None and line_ball.any():
        region = line_ball.copy()
        inner_vals = smooth[line_ball & _inner_half(line_ball, spacing)]
        if inner_vals.size and not both:
            lesion = float(np.median(inner_vals))
        if line_local is not None and not both:
            line_prof = _line_profile(smooth, line_local, spacing)
        return region, lesion, line_prof
    tol = max(2.5 * sigma_s, 1e-6)
    if wide_core:
        # the seed ball's median has its own error (1.2533 sigma / sqrt(n) for a normal
        # sample), which on a fine grid exceeds the smoothed noise: add it
        tol = max(2.5 * math.hypot(sigma_s, 1.2533 * sigma_raw / math.sqrt(max(vals.size, 1))), 1e-6)
    core = np.abs(smooth - lesion) <= tol
    if liver is not None:
        core &= liver
    region = component_at(core, seed, seed_region)
    if not region.any():
        region = seed_region.copy()
    return region, lesion, line_prof


def _heterogeneous(inner: NDArray[np.float32], line_prof: NDArray[np.float64] | None, surround: float,
                   sigma_s: float, params: LesionParams) -> bool:
    """A drawn line's first round: is the lesion heterogeneous, parts clearly darker *and* parts
    clearly brighter than the surroundings (necrosis and enhancing tissue, or lipiodol)?  Each
    side's share of the first region's smoothed values ``inner`` (fat beside the lesion in the
    line's ball is not a dark part of it, 1.10), else of the line's central part ``line_prof``
    (1.4: the ball also holds parenchyma, which dilutes a compact bright or dark part), at least
    ``LESION_HETEROGENEOUS_MIN_FRACTION``."""
    k = params.min_contrast_k_sigma * max(sigma_s, 1e-6)
    f_lo = float(np.mean((inner < surround - k) & _not_fat(inner, params)))
    f_hi = float(np.mean(inner > surround + k))
    both = min(f_lo, f_hi) >= C.LESION_HETEROGENEOUS_MIN_FRACTION
    if not both and line_prof is not None and line_prof.size:
        f_lo = float(np.mean((line_prof < surround - k) & _not_fat(line_prof, params)))
        f_hi = float(np.mean(line_prof > surround + k))
        both = min(f_lo, f_hi) >= C.LESION_HETEROGENEOUS_MIN_FRACTION
    return both


def _open_and_fill(
    comp: NDArray[np.bool_], open_el: NDArray[np.bool_] | None, seed: tuple[int, int, int],
    pick: NDArray[np.bool_], prefer_region: bool,
) -> NDArray[np.bool_]:
    """Step 5 on a grown component: opened by ``open_el`` on its box padded by the element's
    radius + 1 (the same voxels as on the whole box: the opening stays in the component), the
    component at ``seed`` / ``pick`` kept when the opening leaves one, then holes filled on its
    box padded by one voxel.  Also the phases' joint classification's (step 10)."""
    bb = bbox(comp)
    if bb is None:
        return comp
    if open_el is not None and open_el.sum() > 1:
        sl = pad_box(bb[0], bb[1], np.array(open_el.shape) // 2 + 1, comp.shape)
        kept = component_at_in_box(binary_opening(comp[sl], open_el), sl, comp.shape, seed, pick,
                                   prefer_region=prefer_region)
        if kept.any():
            comp = kept
            bb = bbox(comp) or bb
    sl = pad_box(bb[0], bb[1], (1, 1, 1), comp.shape)
    filled = np.zeros_like(comp)
    filled[sl] = fill_holes(comp[sl])
    return filled


def _near_tissue(
    smooth: NDArray[np.float32], region: NDArray[np.bool_], ring_vals: NDArray[np.float32], spacing: Sequence[float],
    params: LesionParams, liver: NDArray[np.bool_] | None, lesion: float, surround: float, sigma_s: float,
) -> float | None:
    """The parenchyma value when it lies between the ring's value and the lesion's (1.4), else None.

    The window's near bound is the midpoint between the lesion and the ring's median: right when
    the ring is one tissue.  A viable nodule mostly enclosed by necrosis has a ring of necrosis
    (25-40 HU in arterial) whose midpoint with the nodule (110-130 HU) lies a few HU above the
    parenchyma (70 HU): where the nodule reaches the lesion's border, the region leaks into the
    liver.  The parenchyma value (histogram mode of the wider shell, :func:`_parenchyma_value`)
    is returned, and the caller moves the near bound to the midpoint between the lesion and it,
    when it lies between the ring's value and the lesion's, more than one smoothed-noise sigma
    from each (a one-tissue ring has its median at the parenchyma).  Otherwise None: the window
    is unchanged.

    1.4-1.8 first asked for a ring interquartile range above ``LESION_RING_SPREAD_K`` noise IQRs
    (a cheap gate before the shell histogram) and then for ``min_contrast_k_sigma`` (3) sigmas
    from each value.  Both are per-voxel noise scales and fail at 25 HU noise although the leak is
    the same (study phantom fu2 L2 clicked in its nodule: ring IQR 1.8 noise IQRs, parenchyma 2.1-2.3
    sigmas above the ring and 2.8-3.3 below the nodule; the region leaked into the liver).  The
    two values compared are medians and modes of hundreds of voxels, far more precise than one
    voxel, so one sigma is ample to tell a second tissue from the ring's own.

    1.10: None when the ring is fat (CT, ``params.fat_max_hu``): a node in a fat plane has soft
    tissue a few mm beyond it, which lies between fat and node in value but does not border it
    (the near bound moved to it cut the 22 mm node's edge, Dice 0.68).
    """
    if ring_vals.size < 4 or not region.any():
        return None
    if params.fat_max_hu is not None and surround <= params.fat_max_hu:
        return None  # 1.10: a ring of fat is the border; a tissue beyond the fat does not touch the lesion
    p = _parenchyma_value(smooth, region, spacing, params, liver, sigma_s)
    if p is None:
        return None
    sig = max(sigma_s, 1e-6)
    lo_v, hi_v = (surround, lesion) if surround < lesion else (lesion, surround)
    if lo_v + sig < p < hi_v - sig:
        return p
    return None


def _parenchyma_shell(
    mask: NDArray[np.bool_], spacing: Sequence[float], params: LesionParams, liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
) -> NDArray[np.bool_]:
    """Where :func:`_parenchyma_value` samples: the ``ring_inner_mm``-``parenchyma_sample_mm`` shell
    around ``mask`` (inside the liver when given); with ``cache``, the shell before the liver is kept
    there for the ``mask`` object (:func:`_ring_kept`)."""
    # a 2-3 cm shell holds 10^4-10^5 voxels: a 2x thinner lattice on every axis changes its mode by noise
    shell = _ring_kept(mask, spacing, params.ring_inner_mm, params.parenchyma_sample_mm, 2, cache)
    return shell if liver is None else shell & liver


def _parenchyma_value(
    smooth: NDArray[np.float32], mask: NDArray[np.bool_], spacing: Sequence[float], params: LesionParams,
    liver: NDArray[np.bool_] | None, sigma_s: float, shell: NDArray[np.bool_] | None = None,
) -> float | None:
    """Liver parenchyma value near ``mask``: the mode of the smoothed image outside it (within
    ``parenchyma_sample_mm``, inside the liver when given), refined as the median of the values
    within 2 smoothed-noise sigmas of the histogram peak.  None when there is nothing to sample.
    ``shell``: that sample region when already computed (:func:`_parenchyma_shell`)."""
    if shell is None:
        shell = _parenchyma_shell(mask, spacing, params, liver)
    vals = smooth[shell]
    if vals.size < 50:
        return None
    return histogram_mode(vals, max(sigma_s, 1.0))


def _inner_band(mask: NDArray[np.bool_], spacing: Sequence[float], width_mm: float) -> NDArray[np.bool_]:
    """Voxels of ``mask`` within ``width_mm`` of its border, on the subsampled lattice of
    :func:`_ring` (computed on the padded bounding box)."""
    from scipy import ndimage as ndi

    bb = bbox(mask)
    if bb is None:
        return mask
    st = _stride(spacing)
    sl = pad_box(bb[0], bb[1], (1, st, st), mask.shape)
    sub = mask[sl][:, ::st, ::st]
    sp_sub = (spacing[0], spacing[1] * st, spacing[2] * st)
    out = np.zeros_like(mask)
    if (~sub).any():
        # = sub & (distance_transform_edt(sub) <= width_mm), as a small dilation (same voxels)
        out[sl][:, ::st, ::st] = sub & within_mm(~sub, sp_sub, width_mm)
    else:  # no background on the lattice: keep scipy's answer for a transform without background
        d = ndi.distance_transform_edt(sub, sampling=sp_sub)
        out[sl][:, ::st, ::st] = sub & (d <= width_mm)
    return out


def _line_profile(smooth: NDArray[np.float32], line_local: NDArray[np.float64], spacing: Sequence[float]) -> NDArray[np.float64]:
    """Smoothed values along the inner part of a drawn line (``LESION_LINE_PROFILE_INNER_FRACTION``
    of its length, centred), sampled every half voxel (trilinear); ``line_local``: its two
    endpoints as (fractional) indices of ``smooth``."""
    from scipy import ndimage as ndi

    a, b = np.asarray(line_local[0], float), np.asarray(line_local[1], float)
    length_mm = float(np.linalg.norm((b - a) * np.asarray(spacing, float)))
    n = max(2, int(math.ceil(length_mm / (0.5 * min(spacing)))) + 1)
    half = 0.5 * C.LESION_LINE_PROFILE_INNER_FRACTION
    t = np.linspace(0.5 - half, 0.5 + half, n)
    pts = a[None, :] + t[:, None] * (b - a)[None, :]
    inside = np.all((pts >= 0) & (pts <= np.asarray(smooth.shape) - 1), axis=1)
    if not inside.any():
        return np.zeros(0)
    return ndi.map_coordinates(smooth, pts[inside].T, order=1, mode="nearest")


def _line_coverage(mask: NDArray[np.bool_], lo: ArrayLike, line_idx: NDArray[np.float64], spacing: Sequence[float]) -> float:
    """Share of the drawn line's central part (``LESION_LINE_PROFILE_INNER_FRACTION`` of its
    length, sampled every half voxel as :func:`_line_profile`) whose nearest voxel is in ``mask``
    (a region of interest starting at index ``lo``; samples outside it count as not covered)."""
    a, b = np.asarray(line_idx[0], float), np.asarray(line_idx[1], float)
    length_mm = float(np.linalg.norm((b - a) * np.asarray(spacing, float)))
    n = max(2, int(math.ceil(length_mm / (0.5 * min(spacing)))) + 1)
    half = 0.5 * C.LESION_LINE_PROFILE_INNER_FRACTION
    t = np.linspace(0.5 - half, 0.5 + half, n)
    pts = np.rint(a[None, :] + t[:, None] * (b - a)[None, :] - np.asarray(lo, float)[None, :]).astype(np.int64)
    inside = np.all((pts >= 0) & (pts < np.asarray(mask.shape)), axis=1)
    hits = mask[tuple(pts[inside].T)] if inside.any() else np.zeros(0, bool)
    return float(np.count_nonzero(hits)) / n


def _inner_half(line_ball: NDArray[np.bool_], spacing: Sequence[float]) -> NDArray[np.bool_]:
    """The inner half (by radius) of a ball mask: voxels at least as deep as half its radius, in mm."""
    from scipy import ndimage as ndi

    bb = bbox(line_ball)
    if bb is None:
        return line_ball
    # the transform on the ball's box padded by one voxel: its outer layer is background, and a
    # background voxel beyond it is never nearer than that layer (same distances as on the ROI;
    # 0 outside the box)
    sl = pad_box(bb[0], bb[1], (1, 1, 1), line_ball.shape)
    d = ndi.distance_transform_edt(line_ball[sl], sampling=tuple(float(v) for v in spacing))
    dmax = d.max()
    if dmax <= 0:
        return line_ball
    out = np.zeros_like(line_ball, dtype=bool)
    out[sl] = d >= 0.5 * dmax
    return out


def _touches_faces(mask: NDArray[np.bool_]) -> bool:
    """Whether ``mask`` has a voxel on any face of its own array (the region of interest)."""
    return any(np.take(mask, i, axis=ax).any() for ax in range(mask.ndim) for i in (0, -1))


def _touches_border(mask: NDArray[np.bool_], lo: NDArray[np.int64], hi: NDArray[np.int64], shape: Sequence[int]) -> bool:
    for ax in range(3):
        if lo[ax] > 0 and np.take(mask, 0, axis=ax).any():
            return True
        if hi[ax] < shape[ax] and np.take(mask, -1, axis=ax).any():
            return True
    return False


def _ball_box(
    shape: NDArray[np.int64], centre: NDArray[np.float64], spacing: NDArray[np.float64], radius_mm: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(start, stop) of the box :func:`_ball_mask` evaluates the ball on: it holds every voxel of
    the ball (the whole box when the ball is not finite)."""
    if np.isfinite(radius_mm) and np.all(np.isfinite(centre)) and np.all(spacing > 0):
        half = abs(float(radius_mm)) / spacing + 2.0
        lo = np.clip(np.floor(centre - half), 0, shape).astype(int)
        hi = np.clip(np.ceil(centre + half) + 1, 0, shape).astype(int)
        return lo, hi
    return np.zeros(3, int), np.asarray(shape, int)


def _ball_mask(shape: Sequence[int], centre: ArrayLike, spacing: ArrayLike, radius_mm: float) -> NDArray[np.bool_]:
    """Voxels of a box of ``shape`` within ``radius_mm`` of ``centre`` (voxel coordinates).

    Evaluated on the ball's bounding box padded by two voxels (a voxel beyond it is more than a
    voxel farther than the radius on one axis): the same voxels as on the whole box, whose
    distances were most of a click-ball choice's cost on a 44 x 89 x 89 box."""
    c = np.asarray(centre, float)
    sp = np.asarray(spacing, float)
    n = np.asarray([int(v) for v in shape])
    lo, hi = _ball_box(n, c, sp, radius_mm)
    out = np.zeros(tuple(int(v) for v in n), bool)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    if np.any(hi <= lo):
        return out
    grids = np.ogrid[box]
    d2 = sum(((g - m) * spv) ** 2 for g, m, spv in zip(grids, c, sp, strict=True))
    out[box] = d2 <= radius_mm**2
    return out

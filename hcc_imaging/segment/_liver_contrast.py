"""The liver's window and its contrast check (steps 3 and 3a of :func:`.liver.segment_liver`; private).

:func:`_window`: the liver value +/- ``half_width_hu``, a bound moved in to the histogram's dip where another bulky
tissue's peak lies inside the window.  :func:`_low_contrast`: on unenhanced and arterial CT, where the histogram's
mode is the soft tissue around the liver, the liver's own peak (the bulky one mainly on the patient's right) found
on a ladder of smoothings, or :class:`~.errors.LowContrastError`.  Split from :mod:`.liver` (session of 2026-12-07,
ninth; the same code, moved).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import constants as C
from .errors import LowContrastError

if TYPE_CHECKING:
    from ..volume import Volume
    from .liver import LiverParams

log = logging.getLogger("hcc_imaging.segment.liver")  # (the liver's messages under one logger, as before the split)


def _window(values: NDArray[np.float32], liver_hu: float, p: LiverParams, *, bin_hu: float = 2.0,
            sigma_bins: float = 2.0) -> tuple[float, float]:
    """Liver window (lo, hi) in HU: ``liver_hu`` +/- ``half_width_hu``, with a bound moved in to the
    histogram dip when another tissue's peak lies inside the window on that side.

    ``values`` are the smoothed body voxels the liver value came from.  Going out from the liver
    peak, the first local maximum inside the window whose height is >= ``neighbour_peak_min_ratio``
    x the liver peak's, and above which the histogram has dipped to <= ``neighbour_valley_max_ratio``
    x its height on the way, is another tissue.  The bound on that side is its peak plus
    ``neighbour_exclude_k_sigma`` of its SDs towards the liver (SD from the half width at half
    maximum of its far side, away from the liver), but not past the dip's lowest point.  Same
    histogram as :func:`_mode_hu` (2 HU bins, Gaussian sigma 2 bins) unless ``bin_hu`` /
    ``sigma_bins`` say otherwise (the low-contrast path's finer histogram)."""
    from scipy import ndimage as ndi

    lo, hi = liver_hu - p.half_width_hu, liver_hu + p.half_width_hu
    # 5 smoothing sigmas of margin so that the smoothed counts at the window's edges are right
    margin = 5.0 * sigma_bins * bin_hu
    edges = np.arange(lo - margin, hi + margin + bin_hu, bin_hu)
    hist, _ = np.histogram(values, bins=edges)
    hs = ndi.gaussian_filter1d(hist.astype(float), sigma_bins, mode="constant")
    centres = 0.5 * (edges[:-1] + edges[1:])
    m = int(np.argmin(np.abs(centres - liver_hu)))
    # the liver peak: the local maximum next to the liver value (the seed median need not sit on it)
    while 0 < m < len(hs) - 1 and max(hs[m - 1], hs[m + 1]) > hs[m]:
        m = m - 1 if hs[m - 1] > hs[m + 1] else m + 1
    bounds = [lo, hi]
    for side, step in ((0, -1), (1, 1)):
        dip, i_dip = hs[m], m
        j = m + step
        while 0 < j < len(hs) - 1 and lo <= centres[j] <= hi:
            if hs[j] < dip:
                dip, i_dip = hs[j], j
            peak = hs[j] > 0 and hs[j] >= hs[j - 1] and hs[j] >= hs[j + 1] and i_dip != j
            if peak and hs[j] >= p.neighbour_peak_min_ratio * hs[m] and dip <= p.neighbour_valley_max_ratio * hs[j]:
                # the neighbour's spread from its far half (away from the liver, not mixed with
                # it): half width at half maximum / 1.1774 = sigma of a Gaussian
                k = j
                while 0 < k < len(hs) - 1 and hs[k] > 0.5 * hs[j]:
                    k += step
                sigma = abs(float(centres[k] - centres[j])) / 1.1774
                edge = float(centres[j]) - step * p.neighbour_exclude_k_sigma * sigma
                bounds[side] = min(float(centres[i_dip]), edge) if side == 0 else max(float(centres[i_dip]), edge)
                break
            j += step
    return bounds[0], bounds[1]


def _side_histograms(sm: NDArray[np.float32], body: NDArray[np.bool_], right: NDArray[np.bool_],
                     lo: float, hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Fine histograms (LIVER_PEAK_HIST_BIN_HU bins, smoothed by LIVER_PEAK_HIST_SIGMA_HU) of the
    body's right and left halves over ``lo``-``hi`` HU -> (bin centres, right counts, left counts)."""
    from scipy import ndimage as ndi

    b = C.LIVER_PEAK_HIST_BIN_HU
    edges = np.arange(lo, hi + b, b)
    sig = C.LIVER_PEAK_HIST_SIGMA_HU / b
    hr = ndi.gaussian_filter1d(np.histogram(sm[body & right], bins=edges)[0].astype(float), sig, mode="constant")
    hl = ndi.gaussian_filter1d(np.histogram(sm[body & ~right], bins=edges)[0].astype(float), sig, mode="constant")
    return 0.5 * (edges[:-1] + edges[1:]), hr, hl


def _bulky_peaks(h: NDArray[np.float64], min_ratio: float) -> list[int]:
    """Local maxima of ``h`` at least ``min_ratio`` x its maximum (a tissue, not a vessel)."""
    top = float(h.max()) if h.size else 0.0
    return [i for i in range(1, len(h) - 1)
            if h[i] > 0 and h[i] >= h[i - 1] and h[i] >= h[i + 1] and h[i] >= min_ratio * top]


def _liver_peak(centres: NDArray[np.float64], hr: NDArray[np.float64], hl: NDArray[np.float64], peaks: list[int],
                search: tuple[float, float], near_hu: float | None) -> int | None:
    """The liver's histogram peak: a bulky peak the body's right half holds at least
    LIVER_SIDE_EXCESS_MIN_RATIO times more of than its left half; the tallest one inside the
    phase's search range, or (``near_hu``, a seed's value) the one nearest that value."""
    cand = [i for i in peaks if hr[i] >= C.LIVER_SIDE_EXCESS_MIN_RATIO * hl[i]]
    if near_hu is None:
        cand = [i for i in cand if search[0] <= centres[i] <= search[1]]
        return max(cand, key=lambda i: hr[i]) if cand else None
    return min(cand, key=lambda i: abs(centres[i] - near_hu)) if cand else None


def _low_contrast(small: NDArray[np.float32], body: NDArray[np.bool_], right: NDArray[np.bool_],
                  sp: tuple[float, float, float], search: tuple[float, float], liver_hu: float, window: tuple[float, float],
                  seeded: bool, p: LiverParams, vol: Volume) -> tuple[NDArray[np.float32], float, tuple[float, float], dict[str, Any]] | None:
    """Contrast check of the default liver value and window, and the low-contrast path.

    On the working image smoothed by the last (strongest) of LIVER_LOW_CONTRAST_SMOOTHING_MM, the
    bulky peaks of the right half's fine histogram are found and the liver's among them
    (:func:`_liver_peak`).  The default result stands (returns None) when there is no such peak
    on a phase outside LIVER_LOW_CONTRAST_PHASES (on those, :class:`LowContrastError`), or when
    the default liver value is nearer the liver peak than any bulky peak that is not mainly on
    the right (bilateral soft tissue) and no such peak lies inside the default window
    (portal-venous / delayed CT: unchanged).
    Otherwise (the mode was another tissue, or a tissue in the window was not resolved: unenhanced
    and arterial phases), the first smoothing of the ladder at which the liver peak is resolved
    from its nearest bulky neighbour (histogram dip <= ``neighbour_valley_max_ratio`` of the lower
    peak) gives the smoothed image, the liver value (that peak) and the window (:func:`_window` on
    the fine histogram) -> (smoothed image, liver HU, window, provenance).  When no smoothing
    resolves them, :class:`LowContrastError` names the series and the fix."""
    from scipy import ndimage as ndi

    hw = p.half_width_hu
    lo, hi = min(search[0], liver_hu) - hw, max(search[1], liver_hu) + hw
    ladder = C.LIVER_LOW_CONTRAST_SMOOTHING_MM
    near = liver_hu if seeded else None

    def smooth(sigma_mm: float) -> NDArray[np.float32]:
        return np.asarray(ndi.gaussian_filter(small, [sigma_mm / s for s in sp], mode="nearest"))

    strong = smooth(ladder[-1])
    centres, hr, hl = _side_histograms(strong, body, right, lo, hi)
    peaks = _bulky_peaks(hr, p.neighbour_peak_min_ratio)
    li = _liver_peak(centres, hr, hl, peaks, search, near)
    series = vol.series_instance_uid or "?"
    desc = f" ({vol.series_description})" if vol.series_description else ""
    fix = ("Segment the liver on the portal-venous (or delayed) phase: pass the study as {phase: Volume} with "
           "phase= this one (the mask is made on the best phase and carried to this grid), or a liver mask; "
           "backend='totalsegmentator' also works where installed.")
    if li is None:
        if str(vol.phase) not in C.LIVER_LOW_CONTRAST_PHASES:
            return None
        raise LowContrastError(
            f"liver segmentation of series {series}{desc}, phase {vol.phase}: the liver/soft-tissue contrast is too "
            "low for the classical window: no bulky tissue between "
            f"{search[0]:.0f} and {search[1]:.0f} HU lies mainly on the patient's right (the liver's side), so the "
            f"liver cannot be told from the soft tissue around it (the histogram mode, {liver_hu:.0f} HU, is on both "
            f"sides). {fix}"
        )
    liver_peak = float(centres[li])
    # the tissue the check guards against lies on both sides (muscle, bowel, abdominal wall); a
    # second peak mainly on the right is the liver's side too (a lesion, a right-sided organ):
    # it is left to the default window's neighbour rule
    ratio = C.LIVER_SIDE_EXCESS_MIN_RATIO
    others = [float(centres[j]) for j in peaks if j != li and hr[j] < ratio * hl[j]]
    if all(abs(liver_hu - c) > abs(liver_hu - liver_peak) and not window[0] <= c <= window[1] for c in others):
        return None
    neighbour = min(others, key=lambda c: abs(c - liver_peak))
    for sigma_mm in ladder:
        smx = strong if sigma_mm == ladder[-1] else smooth(sigma_mm)
        centres, hr, hl = _side_histograms(smx, body, right, lo, hi)
        peaks = _bulky_peaks(hr, p.neighbour_peak_min_ratio)
        li = _liver_peak(centres, hr, hl, peaks, search, liver_peak)
        if li is None or abs(float(centres[li]) - liver_peak) > 0.5 * abs(neighbour - liver_peak):
            continue
        nb = [j for j in peaks if j != li and hr[j] < ratio * hl[j] and abs(float(centres[j] - centres[li])) <= hw]
        resolved = True
        if nb:
            j = min(nb, key=lambda q: abs(float(centres[q] - centres[li])))
            a, b = sorted((li, j))
            resolved = float(hr[a:b + 1].min()) <= p.neighbour_valley_max_ratio * min(float(hr[li]), float(hr[j]))
        if not resolved:
            continue
        lv_hu = float(centres[li])
        win = _window(smx[body & right], lv_hu, p, bin_hu=C.LIVER_PEAK_HIST_BIN_HU,
                      sigma_bins=C.LIVER_PEAK_HIST_SIGMA_HU / C.LIVER_PEAK_HIST_BIN_HU)
        info = {"smoothing_sigma_mm": sigma_mm, "liver_peak_hu": round(lv_hu, 1),
                "neighbour_peak_hu": round(neighbour, 1), "default_liver_hu": round(liver_hu, 1),
                "default_window_hu": [round(window[0], 1), round(window[1], 1)]}
        log.info("liver: low contrast on series %s (liver peak %.0f HU, neighbour %.0f HU); %.1f mm smoothing, "
                 "window %.0f-%.0f HU", series, lv_hu, neighbour, sigma_mm, *win)
        return smx, lv_hu, win, info
    raise LowContrastError(
        f"liver segmentation of series {series}{desc}, phase {vol.phase}: the liver/soft-tissue contrast is too low "
        f"for the classical window: the liver's histogram peak ({liver_peak:.0f} HU) is not resolved from the "
        f"neighbouring tissue's ({neighbour:.0f} HU, {abs(neighbour - liver_peak):.0f} HU apart) even after "
        f"{ladder[-1]:g} mm smoothing. {fix}"
    )

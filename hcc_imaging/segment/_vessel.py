"""A filling defect inside a contrast-filled vessel (lesion.py step 11): the tube prior.

How a radiologist reads a portal-vein tumour thrombus (PVTT): a filling defect INSIDE the
lumen of a contrast-filled vein.  Its wall against the liver has little contrast (thrombus
90 HU vs liver 110 HU on the portal venous phase of the study phantom, ~20 HU against a noise
sigma of 15), but the vein's lumen is visible on either side of the defect, where it is filled
with bright contrast (180 HU).  So the lumen through the defect is estimated from the patent
segments on either side, and the defect is the lumen minus the blood:

1. On each phase on the grid of the mask, smoothed by ``VESSEL_SMOOTHING_MM``: the defect value
   ``d`` (median of the mask), the shell around the mask (``VESSEL_SHELL_MM``): its upper values
   (blood, ``VESSEL_BLOOD_PERCENTILE``) ``b`` and lower values (the wall's tissue) ``s``.  Blood
   must be brighter than both by ``VESSEL_MIN_CONTRAST_K_SIGMA`` noise sigmas of the smoothed
   image (1.12; 1.7-1.11 used the raw image's sigma for these smoothed values, which refused the
   phantom's vein at 25 HU); else no vessel.
2. Blood = smoothed > (b + max(d, s)) / 2 (the half-maximum of the lumen's edge), the components
   touching the mask, within ``VESSEL_SEARCH_MM`` of it.  Axis: principal axis of mask + blood.
3. Patent segments: blood beyond each end of the defect along the axis (``VESSEL_CAP_GAP_MM`` to
   ``VESSEL_CAP_GAP_MM + VESSEL_SEGMENT_MM``), within ``VESSEL_MAX_RADIUS_MM`` of the axis; both
   must exist (``VESSEL_MIN_SEGMENT_MM`` long).  Centreline: the segments' slab centroids, fitted
   by a polynomial in the axial coordinate (degree 2, gentle curvature, when each side has two or
   more slabs; else a straight line), interpolated through the defect.  Radius of each segment:
   first sqrt(2 mean d^2) of its voxels' distances d to the centreline (a filled disc), then
   (1.12) the edge of an error-function profile fitted by least squares to the smoothed values
   against d (blood and tissue levels: the medians of the segment's core and of its outer ring,
   the blood's median above the tissue's by step 1's k standard errors (1.23); ``VESSEL_PROFILE_*``), plus w^2 / (2 r)
   for the blurred disc's curvature (w the profile's fitted width): a count of the voxels above
   the half-maximum, as 1.7-1.11 took, grows with noise (7.2-7.8 mm for a 7 mm vein at 25 HU).
   The two radii must agree within ``VESSEL_RADIUS_TOLERANCE``, and lie in
   [``VESSEL_MIN_RADIUS_MM``, ``VESSEL_MAX_RADIUS_MM``].
4. Lumen = distance to the centreline <= radius (linear between the two segments); defect =
   lumen and not blood (smoothed <= (b + d) / 2, the caps' half-maximum), the component holding
   most of the mask.  Used only when it lies between the two patent segments and agrees with
   the mask (Dice >= ``VESSEL_MIN_AGREEMENT``) or (1.32) holds it (that share of the mask inside
   it, the defect at most ``LESION_BLUR_MODEL_MAX_GROWTH`` times the mask: the classification kept
   the thrombus' core, as on slices that average their thickness); otherwise None (the mask is
   kept).  1.49: a defect that runs to an end of the lumen model (the mask held only part of the
   thrombus along the vessel, so a "patent segment" was looked for on thrombus) is fitted once
   more with the mask grown by it; that refit must reproduce the grown mask
   (``VESSEL_MIN_AGREEMENT``) and agree with or hold the first mask.

The tube is a prior: the study phantom's portal vein IS an ideal cylinder, so the prior matches
how the phantom is made (docs/validation.md section 2.2).  An expansile thrombus (wider than the
patent lumen) does not agree with the lumen, fails the agreement test and keeps the mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from . import constants as C
from ._morph import bbox, dice, gaussian_noise_factor, mask_grows_nested, pad_box, within_mm


@dataclass(slots=True)
class VesselDefect:
    """A filling defect in a tube: mask on the whole grid and what was fitted."""

    mask: NDArray[np.bool_]
    radius_mm: tuple[float, float]
    blood_value: float
    defect_value: float
    curved: bool
    phase: str

    def note(self) -> str:
        """The provenance note of a mask made by the tube prior."""
        r = 0.5 * (self.radius_mm[0] + self.radius_mm[1])
        shape = "gently curved" if self.curved else "straight"
        return (
            "filling defect inside a contrast-filled vessel (e.g. a portal-vein tumour thrombus): the border is "
            f"the vessel's lumen ({shape} centreline, radius {r:.1f} mm) estimated from the patent segments on "
            f"either side on the {self.phase} phase (blood {self.blood_value:.0f}, defect "
            f"{self.defect_value:.0f}), minus the blood; a tube prior, check the wall where the vessel may be "
            "expanded."
        )


def _along_axis(r0: NDArray[np.float64], r1: NDArray[np.float64], r2: NDArray[np.float64],
                u: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Position along the unit axis ``u`` and distance from it of the offsets (r0, r1, r2) from a
    point on it (mm; arrays that broadcast).  Element by element in a fixed order, so a voxel gets
    the same values whether it is computed in a sparse set or in the whole box."""
    t = r0 * u[0] + r1 * u[1] + r2 * u[2]
    perp = np.sqrt((r0 - t * u[0]) ** 2 + (r1 - t * u[1]) ** 2 + (r2 - t * u[2]) ** 2)
    return t, perp


class _RanOut(NamedTuple):
    """:func:`_fit_one`'s defect that ran to an end of its lumen model (box-sized): the mask held
    only part of the defect along the vessel."""

    defect: NDArray[np.bool_]


def _fit_one(
    m: NDArray[np.bool_], img: NDArray[np.float32], sp: NDArray[np.float64], axes: Sequence[NDArray[np.float64]],
    shell: NDArray[np.bool_], near: NDArray[np.bool_], noise_factor: float,
    agree_with: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.bool_], tuple[float, float], float, float, bool, float] | _RanOut | None:
    """Steps 1-4 of the module on one phase (box-sized ``m`` / ``img``; ``axes``: the voxel
    positions in mm along each of the box's axes, ``np.arange(n) * spacing``; ``shell``: the voxels
    outside ``m`` within ``VESSEL_SHELL_MM`` of it; ``near``: ``m`` and its 26 neighbours;
    ``noise_factor``: the smoothing's noise reduction; the same for every phase): (defect mask,
    radii, blood value, defect value, curved, blood-defect contrast in raw sigmas), or None.

    The axis, the patent segments and the centreline are found on the sparse set of the mask's and
    the blood's voxels; the whole box is read (the lumen's distance map) only when the mask can
    still agree with a defect in that lumen (an upper bound on the Dice, see below).  Before (1.21
    and earlier; the same results) a lesion beside a vessel on a noise-free grid of 0.7 mm pixels
    ran the whole fit on the whole box, 250 ms of a 340 ms click, to fail the agreement test.

    ``agree_with`` (1.49; default ``m``): the mask the defect must agree with (step 4), when ``m`` is
    that mask grown by a defect that ran out (:func:`thrombus_in_lumen`); the upper bound is then
    not used (it bounds the agreement with ``m``).  A defect that runs to an end of the lumen model
    is returned as :class:`_RanOut` (unless ``agree_with`` is given), not as None."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    # scipy's Gaussian, bit for bit (compiled when the kernels are on)
    sm = _kernels.gaussian_filter_nearest(img.astype(np.float32), C.VESSEL_SMOOTHING_MM / sp)
    raw_in = img[m].astype(np.float64)
    sigma = 1.4826 * float(np.median(np.abs(raw_in - np.median(raw_in))))
    if not np.isfinite(sigma) or sigma <= 0:
        return None
    if shell.sum() < 10:
        return None
    d = float(np.median(sm[m]))
    b = float(np.percentile(sm[shell], C.VESSEL_BLOOD_PERCENTILE))
    s = float(np.percentile(sm[shell], C.VESSEL_WALL_PERCENTILE))
    wall = max(d, s)
    # b, d and s are values of the smoothed image: compared with its noise
    sigma_s = sigma * noise_factor
    if b - wall < C.VESSEL_MIN_CONTRAST_K_SIGMA * sigma_s:
        return None
    bright = sm > 0.5 * (b + wall)
    lab, _ = ndimage.label(bright)
    ids = np.unique(lab[near & bright])
    ids = ids[ids > 0]
    if ids.size == 0:
        return None
    blood = np.isin(lab, ids)
    # the sparse set: the mask's and the blood's voxels, in C order (the order of boolean indexing)
    idx = np.nonzero(m | blood)
    pts = np.stack([axes[k][idx[k]] for k in range(3)], axis=-1)
    in_m, in_blood = m[idx], blood[idx]
    c = pts.mean(0)
    _, _, vt = np.linalg.svd(pts - c, full_matrices=False)
    u = vt[0]
    t_p, perp_p = _along_axis(pts[:, 0] - c[0], pts[:, 1] - c[1], pts[:, 2] - c[2], u)
    t0, t1 = float(t_p[in_m].min()), float(t_p[in_m].max())
    g, L = C.VESSEL_CAP_GAP_MM, C.VESSEL_SEGMENT_MM
    near_axis = in_blood & (perp_p <= C.VESSEL_MAX_RADIUS_MM)
    seg_a = near_axis & (t_p < t0 - g) & (t_p >= t0 - g - L)
    seg_b = near_axis & (t_p > t1 + g) & (t_p <= t1 + g + L)
    found = _slab_centres(t_p, pts, (seg_a, seg_b), float(sp.max()))
    if found is None:
        return None
    cents, fewest = found
    ts_curve = np.arange(t0 - g - L, t1 + g + L + 0.25, 0.25)
    curve, deg = _centreline(cents, ts_curve, quadratic=fewest >= 2)
    # an upper bound on the agreement before the box is read (not for a refit, which is held to
    # another mask)
    if agree_with is None and not _may_agree(curve, pts[in_m], sm[m], 0.5 * (b + d)):
        return None
    # the whole box: position along the axis and distance from it, and the segments on the box
    t, perp = _along_axis((axes[0] - c[0])[:, None, None], (axes[1] - c[1])[None, :, None],
                          (axes[2] - c[2])[None, None, :], u)
    seg_a_box, seg_b_box = np.zeros(m.shape, bool), np.zeros(m.shape, bool)
    for seg, on_box in ((seg_a, seg_a_box), (seg_b, seg_b_box)):
        on_box[tuple(k[seg] for k in idx)] = True
    # voxels that may lie in the lumen or the ring outside it that the radius step samples
    cand = perp <= C.VESSEL_MAX_RADIUS_MM + 2 * C.VESSEL_SHELL_MM
    cidx = np.nonzero(cand)
    dist, near_i = cKDTree(curve).query(np.stack([axes[k][cidx[k]] for k in range(3)], axis=-1))
    dmap = np.full(m.shape, np.inf)
    dmap[cidx] = dist
    tmap = np.full(m.shape, np.nan)
    tmap[cidx] = ts_curve[near_i]
    radii: list[float] = []
    for seg, t_lo, t_hi in ((seg_a_box, t0 - g - L, t0 - g), (seg_b_box, t1 + g, t1 + g + L)):
        r = _lumen_radius(seg, t_lo, t_hi, t, dmap, sm, sigma)
        if r is None:
            return None
        radii.append(r)
    ra, rb = radii
    if not (C.VESSEL_MIN_RADIUS_MM <= min(ra, rb) and max(ra, rb) <= C.VESSEL_MAX_RADIUS_MM):
        return None
    if abs(ra - rb) > C.VESSEL_RADIUS_TOLERANCE * 0.5 * (ra + rb):
        return None
    ta, tb = float(t[seg_a_box].mean()), float(t[seg_b_box].mean())
    with np.errstate(invalid="ignore"):
        rt = ra + (rb - ra) * np.clip((tmap - ta) / (tb - ta), 0.0, 1.0)
        lumen = cand & (dmap <= rt) & (tmap > ta) & (tmap < tb)
    defect = lumen & ~(sm > 0.5 * (b + d))
    lab2, n2 = ndimage.label(defect)
    if n2 == 0:
        return None
    overlap = np.bincount(lab2[m], minlength=n2 + 1)
    overlap[0] = 0
    k = int(np.argmax(overlap))
    if overlap[k] == 0:
        return None
    out = lab2 == k
    # bounded by blood at both ends (not running out of the lumen model)
    to = tmap[out]
    if to.min() <= t0 - 2 * g or to.max() >= t1 + 2 * g:
        return _RanOut(out) if agree_with is None else None
    if agree_with is not None and dice(out, m) < C.VESSEL_MIN_AGREEMENT:
        # the refit (1.49) must reproduce the mask it was given (the first mask grown by the defect
        # that ran out): a lumen model that drifted off a strongly bent vessel (the first defect ran
        # out because the centreline missed the lumen there) does not (0.76-0.84)
        return None
    ref = m if agree_with is None else agree_with
    agree = dice(out, ref)
    if agree < C.VESSEL_MIN_AGREEMENT:
        # 1.32: or the mask lies inside the defect, which grows it by at most
        # LESION_BLUR_MODEL_MAX_GROWTH (as step 12's nested surfaces): the classification kept only
        # the thrombus' core (slices that average their thickness: the lumen's top and bottom
        # slices hold blood, thrombus and wall)
        if not mask_grows_nested(ref, out, C.VESSEL_MIN_AGREEMENT, C.LESION_BLUR_MODEL_MAX_GROWTH):
            return None
    return out, (ra, rb), b, d, deg == 2, (b - d) / sigma


def _slab_centres(t_p: NDArray[np.float64], pts: NDArray[np.float64], segs: tuple[NDArray[np.bool_], NDArray[np.bool_]],
                  slab: float) -> tuple[list[tuple[float, NDArray[np.float64], int]], int] | None:
    """The patent segments' centres, slab by slab along the axis (``t_p``: each point's position on
    it; ``pts``: the points, mm; ``segs``: the two segments' points; ``slab``: the slabs' thickness):
    (position, centre, segment 0 or 1) of each slab of at least five points, and the fewer of the
    two segments' slab counts; None when a segment has fewer than ten points, spans less than
    ``VESSEL_MIN_SEGMENT_MM`` or has no such slab."""
    cents: list[tuple[float, NDArray[np.float64], int]] = []
    for side, seg in enumerate(segs):
        if seg.sum() < 10:
            return None
        ts = t_p[seg]
        if ts.max() - ts.min() < C.VESSEL_MIN_SEGMENT_MM:
            return None
        edges = np.arange(ts.min(), ts.max() + slab, slab)
        pts_s = pts[seg]
        for lo_e in edges[:-1]:
            sel = (ts >= lo_e) & (ts < lo_e + slab)
            if sel.sum() >= 5:
                cents.append((float(ts[sel].mean()), pts_s[sel].mean(0), side))
    fewest = min(sum(1 for x in cents if x[2] == k) for k in (0, 1))
    return (cents, fewest) if fewest >= 1 else None


def _centreline(cents: list[tuple[float, NDArray[np.float64], int]], ts_curve: NDArray[np.float64], *,
                quadratic: bool) -> tuple[NDArray[np.float64], int]:
    """The lumen's centreline through the slabs' centres ``cents`` (:func:`_slab_centres`), sampled
    at the axis positions ``ts_curve``, and its degree: a straight line, or (gentle curvature) the
    quadratic when ``quadratic`` (each segment has two centres) and it departs from the line by more than
    ``VESSEL_MIN_BEND_MM`` (a quadratic through two short segments only adds noise to a straight
    tube)."""
    tc = np.array([x[0] for x in cents])
    pc = np.array([x[1] for x in cents])
    coef = np.polyfit(tc, pc, 1)  # (2, 3)
    curve = np.stack([np.polyval(coef[:, k], ts_curve) for k in range(3)], axis=-1)
    bend = 0.0
    if quadratic:
        coef2 = np.polyfit(tc, pc, 2)
        curve2 = np.stack([np.polyval(coef2[:, k], ts_curve) for k in range(3)], axis=-1)
        bend = float(np.linalg.norm(curve2 - curve, axis=-1).max())
        if bend > C.VESSEL_MIN_BEND_MM:
            curve = curve2
    return curve, 2 if bend > C.VESSEL_MIN_BEND_MM else 1


def _may_agree(curve: NDArray[np.float64], pm: NDArray[np.float64], sm_m: NDArray[np.float32], level: float) -> bool:
    """An upper bound on the agreement before the box is read: False when no defect in a lumen
    around the centreline ``curve`` can agree with the mask (``pm``: its voxels in mm; ``sm_m``:
    their smoothed values; ``level``: the blood / defect half-way level).  The defect lies in the
    lumen, within its radius (at most ``VESSEL_MAX_RADIUS_MM``) of the centreline's samples, and is
    not blood, so |defect and mask| <= k, the mask's voxels that pass both tests, and Dice(defect,
    mask) <= 2k / (k + |mask|).  A voxel's distance to the samples is at least its distance to the
    chord through the first and last sample less the samples' largest distance from that chord (the
    triangle inequality): a lower bound, so k is not undercounted.  The margins keep the bound above
    the exact test by rounding."""
    chord = curve[-1] - curve[0]
    chord_mm = float(np.linalg.norm(chord))
    if chord_mm <= 0:  # (the samples span the two segments: always, but a zero chord has no bound)
        return True
    chord = chord / chord_mm
    _, dev = _along_axis(curve[:, 0] - curve[0, 0], curve[:, 1] - curve[0, 1], curve[:, 2] - curve[0, 2], chord)
    _, off_chord = _along_axis(pm[:, 0] - curve[0, 0], pm[:, 1] - curve[0, 1], pm[:, 2] - curve[0, 2], chord)
    reach = C.VESSEL_MAX_RADIUS_MM + float(dev.max()) + 1e-6
    k_max = int(np.count_nonzero((off_chord <= reach) & ~(sm_m > level)))
    return not 2.0 * k_max < (C.VESSEL_MIN_AGREEMENT - 1e-9) * (k_max + pm.shape[0])


def _lumen_radius(seg: NDArray[np.bool_], t_lo: float, t_hi: float, t: NDArray[np.float64], dmap: NDArray[np.float64],
                  sm: NDArray[np.float32], sigma: float) -> float | None:
    """A patent segment's lumen radius (mm; ``seg``: its voxels on the box, between ``t_lo`` and
    ``t_hi`` along the axis; ``t``, ``dmap``: each voxel's position on the axis and distance from the
    centreline; ``sm``: the smoothed image; ``sigma``: the raw noise), the edge at the half-maximum
    between the blood plateau and the tissue outside it (:func:`_edge_radius`), or None when the
    lumen is not brighter than that tissue or too few voxels tell."""
    dd = dmap[seg]
    r0 = float(np.sqrt(2.0 * np.mean(dd * dd)))
    # the lumen's edge at the half-maximum between its blood plateau and the tissue outside it
    slab_t = (t >= t_lo) & (t <= t_hi) & (t >= float(t[seg].min())) & (t <= float(t[seg].max()))
    core = seg & (dmap <= 0.5 * r0)
    outside = slab_t & (dmap > r0 + C.VESSEL_SHELL_MM) & (dmap <= r0 + 2 * C.VESSEL_SHELL_MM)
    if core.sum() < 3 or outside.sum() < 10:
        return None
    blood_v, tissue_v = float(np.median(sm[core])), float(np.median(sm[outside]))
    # a lumen is brighter than the tissue around it: the two medians differ by step 1's k
    # standard errors (a noise-free hypodense lesion in the liver has the liver for "blood",
    # 60 HU beside 60 HU, and its radius fit, then its agreement test, took a third of the
    # click).  The standard error of a median of n values is sqrt(pi / 2) sigma / sqrt(n); with
    # the raw sigma and the voxel counts it is an upper bound for the smoothed values.  (1.22
    # compared the difference with one smoothed voxel's noise, k sigma_s: that is a test of a
    # voxel, not of two medians, and at 25 HU it refused a real portal vein, 58 < 61 HU.)
    se = np.sqrt(0.5 * np.pi) * sigma * np.sqrt(1.0 / np.count_nonzero(core) + 1.0 / np.count_nonzero(outside))
    if blood_v - tissue_v < C.VESSEL_MIN_CONTRAST_K_SIGMA * se:
        return None
    region = slab_t & (dmap <= r0 + C.VESSEL_SHELL_MM)
    if np.count_nonzero(region & (sm > 0.5 * (blood_v + tissue_v))) < 10:
        return None
    return _edge_radius(sm[region], dmap[region], blood_v, tissue_v, r0)


def _edge_radius(values: NDArray[np.float32], dist: NDArray[np.float64], inside: float, outside: float,
                 r0: float) -> float:
    """The lumen's radius (mm): the edge r of the profile outside + (inside - outside) Phi((r - d) / w)
    that fits ``values`` at distances ``dist`` from the centreline best (least squares over the
    radii within ``VESSEL_PROFILE_SEARCH_MM`` of ``r0`` and the widths ``VESSEL_PROFILE_WIDTHS_MM``),
    plus w^2 / (2 r): a blurred disc's half-level lies that much inside its edge.  Noise does not
    push it outward as it does a count of the voxels above the half-maximum."""
    from scipy.special import ndtr

    lo = max(r0 - C.VESSEL_PROFILE_SEARCH_MM, 0.5 * C.VESSEL_MIN_RADIUS_MM)
    radii = np.arange(lo, r0 + C.VESSEL_PROFILE_SEARCH_MM + 1e-9, C.VESSEL_PROFILE_STEP_MM)
    v = values.astype(np.float64)
    best_r, best_e, best_w = r0, np.inf, 0.0
    for w in C.VESSEL_PROFILE_WIDTHS_MM:
        model = outside + (inside - outside) * ndtr((radii[:, None] - dist[None, :]) / w)  # radii x voxels
        err = ((model - v[None, :]) ** 2).sum(axis=1)
        i = int(np.argmin(err))
        if err[i] < best_e:
            best_r, best_e, best_w = float(radii[i]), float(err[i]), w
    # the half-level of a blurred disc lies inside it by about w^2 / (2 r) (curvature): its edge is
    # where the disc's own edge was
    return best_r + best_w**2 / (2.0 * best_r)


def _shell_box(mask: NDArray[np.bool_], lo: NDArray[np.int64], hi: NDArray[np.int64], sp: NDArray[np.float64],
               pad: NDArray[np.int64]) -> tuple[tuple[slice, ...], NDArray[np.bool_], NDArray[np.bool_]]:
    """The mask's bounding box ``[lo, hi)`` padded by ``pad`` voxels, the mask on it and its shell
    there: the voxels outside the mask within ``VESSEL_SHELL_MM`` of it
    (:func:`._morph.within_mm`, the same set as the distance transform's)."""
    box = pad_box(lo, hi, pad, mask.shape)
    m = mask[box]
    return box, m, within_mm(m, tuple(sp), C.VESSEL_SHELL_MM) & ~m


def _may_hold_blood(box: tuple[slice, ...], m: NDArray[np.bool_], shell: NDArray[np.bool_],
                    img: NDArray[np.generic]) -> bool:
    """Pre-check of step 1 on the raw image near the mask (most masks are not in a vessel): the
    shell's raw 98th percentile exceeds the defect and the wall by the contrast minimum in sigmas
    of the raw image.  Since step 1 compares smoothed values with the smoothed image's sigma
    (1.12), this is the stricter test, and it is what keeps noise out: a shell's 98th percentile
    is itself a noise extreme, a few smoothed sigmas above its tissue.  With the smoothed sigma here
    too, the perf.md 20 mm hypodense ellipsoid (no vessel) took step 11 (0.982 -> 0.971).
    ``box``, ``m``, ``shell``: from :func:`_shell_box`."""
    if shell.sum() < 10:
        return False
    raw = np.asarray(img[box], np.float64)
    inside = raw[m]
    med = np.median(inside)
    sigma = 1.4826 * float(np.median(np.abs(inside - med)))
    if not sigma > 0:
        return False
    # (the inside's median once, and the shell's two percentiles from one selection: the same
    # values; step 11 reads every phase here, four on the rind scene; session of 2026-12-07, second)
    b, w = np.percentile(raw[shell], [C.VESSEL_BLOOD_PERCENTILE, C.VESSEL_WALL_PERCENTILE])
    wall = max(float(med), float(w))
    return float(b) - wall >= C.VESSEL_MIN_CONTRAST_K_SIGMA * sigma


def too_wide_for_a_lumen(n_vox: int, lo: NDArray[np.int64], hi: NDArray[np.int64], spacing: Sequence[float]) -> bool:
    """Whether no defect :func:`_fit_one` can accept agrees with a mask of ``n_vox`` voxels whose
    bounding box is ``[lo, hi)`` (2026-12-06, "A click on a huge region refused early"): an
    exact bound, read before any image is.  An accepted defect lies in the lumen, inside the
    candidate cylinder (within ``VESSEL_MAX_RADIUS_MM + 2 * VESSEL_SHELL_MM`` of a straight line,
    the voxel centres' distance), and shares k voxels with the mask: Dice >= ``VESSEL_MIN_AGREEMENT``
    (A) gives k >= A n / (2 - A), the nested test k >= A n (1.32, 1.49's refit the same: both are
    held to the first mask).  The mask voxels whose centres lie within that radius of a line are at
    most the volume of the cylinder widened by half a voxel's diagonal over the box's diagonal (the
    voxels' cubes are disjoint, inside the box and the widened cylinder), over a voxel's volume.
    The study phantom's ascites on 0.68 mm pixels (725 mL) took 4-6 s of step 11 to be refused."""
    sp = np.asarray(spacing, float)
    a = C.VESSEL_MIN_AGREEMENT
    k_min = min(a / (2.0 - a), a) * n_vox
    radius = C.VESSEL_MAX_RADIUS_MM + 2.0 * C.VESSEL_SHELL_MM + 0.5 * float(np.sqrt(np.sum(sp * sp)))
    diagonal = float(np.sqrt(np.sum(((np.asarray(hi) - np.asarray(lo)) * sp) ** 2)))
    k_max = np.pi * radius * radius * diagonal / float(np.prod(sp))
    return k_min > k_max * (1.0 + 1e-9)


def thrombus_in_lumen(
    mask: NDArray[np.bool_], images: Mapping[str, NDArray[np.generic]], spacing: Sequence[float],
    within: tuple[slice, ...] | None = None,
) -> VesselDefect | None:
    """The filling defect inside a contrast-filled tube around ``mask`` (whole-grid boolean), or
    None when the evidence for a tube (two patent segments of consistent radius, the defect
    bounded by blood at both ends and agreeing with ``mask``) is not clear.  ``images``: phase
    name -> array on the grid of ``mask``; the phase with the largest blood-defect contrast wins.
    ``within``: a box holding every voxel of ``mask`` (read instead of the whole grid)."""
    # the mask's bounding box and voxel count (within ``within`` when given: the caller's box)
    off = np.zeros(3, np.int64) if within is None else np.array([sl.start or 0 for sl in within], np.int64)
    sub = mask if within is None else mask[within]
    bb = bbox(sub)
    n_sub = 0 if bb is None else int(np.count_nonzero(sub))
    if bb is None or n_sub < C.VESSEL_MIN_DEFECT_VOXELS:
        return None
    lo, hi = bb[0] + off, bb[1] + off
    if too_wide_for_a_lumen(n_sub, lo, hi, spacing):
        return None  # far wider than any lumen a defect lies in: no defect could agree with it
    sp = np.asarray(spacing, float)
    sbox, sm_, shell = _shell_box(mask, lo, hi, sp, np.ceil(C.VESSEL_SHELL_MM / sp).astype(int) + 1)
    nf = gaussian_noise_factor(C.VESSEL_SMOOTHING_MM / sp)
    images = {k: v for k, v in images.items() if _may_hold_blood(sbox, sm_, shell, v)}
    if not images:
        return None
    # the fit's box: the lumen search reach around the mask (its shell and the mask's 26
    # neighbours are the same for every phase)
    from scipy import ndimage

    pad = np.ceil(C.VESSEL_SEARCH_MM / sp).astype(int)
    box = pad_box(lo, hi, pad, mask.shape)
    if all(a.start >= b.start and a.stop <= b.stop for a, b in zip(sbox, box, strict=True)):
        # the shell as found on the smaller box (which holds all of it: padded by a voxel more
        # than the shell's reach, and clipped by the same grid)
        m = mask[box]
        big_shell = np.zeros(m.shape, bool)
        big_shell[tuple(slice(a.start - b.start, a.stop - b.start) for a, b in zip(sbox, box, strict=True))] = shell
        shell = big_shell
    else:  # (slices thicker than the search reach: the smaller box is not inside the larger)
        box, m, shell = _shell_box(mask, lo, hi, sp, pad)
    start = np.array([sl.start for sl in box])
    # the mask's 26 neighbours: dilated on the mask's own box and one voxel around it
    near = np.zeros(m.shape, bool)
    nbox = pad_box(lo - start, hi - start, (1, 1, 1), m.shape)
    near[nbox] = ndimage.binary_dilation(m[nbox], np.ones((3, 3, 3), bool))
    axes = [np.arange(n) * v for n, v in zip(m.shape, sp, strict=True)]
    best = None
    for name, img in images.items():
        img_box = np.asarray(img[box], np.float32)
        r = _fit_one(m, img_box, sp, axes, shell, near, nf)
        if isinstance(r, _RanOut):
            # 1.49: the mask held only part of the defect along the vessel (an undersized mask of a
            # thrombus at 25 HU: its patent segments were placed on the thrombus beyond the mask's
            # end, and the defect ran on to the segment).  Once more, with the mask grown by that
            # defect, so the patent segments are looked for beyond it; the defect must still agree
            # with (or hold) the mask.
            m2 = m | r.defect
            shell2 = within_mm(m2, tuple(sp), C.VESSEL_SHELL_MM) & ~m2
            near2 = ndimage.binary_dilation(m2, np.ones((3, 3, 3), bool))
            r = _fit_one(m2, img_box, sp, axes, shell2, near2, nf, agree_with=m)
        if r is not None and (best is None or r[5] > best[1][5]):
            best = (name, r)
    if best is None:
        return None
    name, (out, radii, b, d, curved, _) = best
    full = np.zeros(mask.shape, bool)
    full[box] = out
    return VesselDefect(full, radii, b, d, curved, name)

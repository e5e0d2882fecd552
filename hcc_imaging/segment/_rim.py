"""Step 9 of :func:`hcc_imaging.segment.lesion.segment_lesion`: the enhancing rim (or rind) of a
hypodense lesion.

:func:`_add_enhancing_rim` adds a thin enhancing layer around a hypodense mask when one phase
shows it; :func:`_rim_layer_voxels` decides which voxels of that layer belong to the lesion (on
voxels finer than a rim, :func:`_rim_layer_is_deep`, by a smooth surface: the logistic
regression :func:`_surface_log_odds` on the direction terms of :func:`_direction_basis`);
:func:`_add_enhancing_layers` repeats the step for a thicker rind (1.20).  The method is described
in the :mod:`hcc_imaging.segment.lesion` docstring and docs/validation.md ("Algorithm 1.20").
Split from :mod:`._refine` (same code) to keep that module to one phase's segmentation and step 7.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ..volume import Modality, Phase, Volume
from . import _kernels
from . import constants as C
from ._surface import _dof, _evidence, _halved_step, _inside, _roughness, _start_surface
from ._grow import _ring, _RoiResult, _smoothed, _SmoothCache, _touches_border
from ._morph import (bbox, component_at, dice, fill_holes, gaussian_sigma_vox, noise_unit, pad_box, robust_sigma,
                     within_mm)
from ._types import LesionParams

log = logging.getLogger(__name__)


def _direction_basis(u: NDArray[np.float64], degree: int) -> NDArray[np.float64]:
    """Real polynomials of the unit directions ``u`` (n x 3) up to ``degree`` (0-2): the constant,
    the 3 linear and the 5 quadratic harmonics (x^2 - y^2, 2z^2 - x^2 - y^2, xy, xz, yz), i.e. the
    real spherical harmonics of degree <= 2 up to scale.  Used as the rim surface's radius terms."""
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    cols = [np.ones_like(x)]
    if degree >= 1:
        cols += [x, y, z]
    if degree >= 2:
        cols += [x * x - y * y, 2.0 * z * z - x * x - y * y, x * y, x * z, y * z]
    return np.stack(cols, axis=1)


def _surface_log_odds(features: NDArray[np.float64], post: NDArray[np.float64]) -> NDArray[np.float64]:
    """The rim surface's prior log-odds per layer voxel: a logistic regression of the voxels'
    lesion posteriors ``post`` on ``features`` (direction terms and minus the radius, so that
    ``z = 0`` is a closed surface r = f(direction) when the radius' coefficient is positive).
    Convex, solved by Newton's method with step halving (at most
    ``LESION_RIM_SURFACE_NEWTON_STEPS``); a small ridge (``LESION_RIM_SURFACE_RIDGE``, not on the
    constant nor the radius) keeps it finite when the classes are nearly separable (low noise)."""
    k = features.shape[1]
    pen = np.full(k, C.LESION_RIM_SURFACE_RIDGE)
    pen[0] = 0.0
    pen[-1] = 0.0

    def loss(b: NDArray[np.float64]) -> float:
        z = features @ b
        return float((post * np.logaddexp(0.0, -z) + (1.0 - post) * np.logaddexp(0.0, z)).sum() + (pen * b * b).sum())

    b = np.zeros(k)
    val = loss(b)
    for _ in range(C.LESION_RIM_SURFACE_NEWTON_STEPS):
        s = 1.0 / (1.0 + np.exp(-np.clip(features @ b, -50.0, 50.0)))
        grad = features.T @ (s - post) + 2.0 * pen * b
        hess = (features * (s * (1.0 - s))[:, None]).T @ features + np.diag(2.0 * pen + 1e-9)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:  # pragma: no cover - the jitter keeps it regular
            break
        t = 1.0
        while True:
            new_val = loss(b - t * step)
            if new_val <= val or t < 1e-4:
                break
            t *= 0.5
        if new_val > val:
            break
        b = b - t * step
        done = val - new_val < 1e-9 * max(val, 1.0)
        val = new_val
        if done:
            break
    return np.asarray(features @ b, dtype=np.float64)


def _rim_layer_is_deep(spacing: Sequence[float]) -> bool:
    """Step 9's layer, max(``REACTIVE_RIM_MAX_THICKNESS_MM``, finest spacing) deep, holds several
    voxels across (``LESION_RIM_SURFACE_MAX_DEPTH_VOXELS`` of the finest spacing or more): voxels
    finer than a rim, whose rim-to-parenchyma transition lies inside the layer."""
    finest = float(min(spacing))
    return max(C.REACTIVE_RIM_MAX_THICKNESS_MM, finest) >= C.LESION_RIM_SURFACE_MAX_DEPTH_VOXELS * finest


def _rim_layer_voxels(
    mask: NDArray[np.bool_],
    box: tuple[slice, ...],
    shell: NDArray[np.bool_],
    ring: NDArray[np.bool_],
    phases: Mapping[Phase, Volume],
    vol: Volume,
    sl_roi: tuple[slice, ...],
    sig_vox: tuple[float, float, float],
    liv: NDArray[np.bool_] | None,
    cache: _SmoothCache | None,
) -> NDArray[np.bool_]:
    """Step 9's voxels: which voxels of the rim layer belong to the lesion (on ``box``).

    The layer is ``shell`` plus the one-voxel layer around the mask (26-neighbours): a rim
    thinner than a voxel lies in at most that layer, also across thick slices.  Its voxels mix
    rim, necrosis and parenchyma by partial volume, so one phase alone (or a smoothed image)
    cannot tell them from parenchyma: a rim + necrosis voxel can match parenchyma on the rim
    phase.  Each layer voxel is classified on its **raw** values on every phase sharing the grid
    (independent noise across phases, each phase's raw noise sigma), as a mixture of parenchyma
    (mean = the raw median per phase of the ring's voxels outside the layer, fixed) and lesion
    border (mean and a global prior share estimated by EM).  A voxel joins the lesion when its
    posterior is at least one half.

    When the layer is one voxel deep (the shell's reach below ``LESION_RIM_SURFACE_MAX_DEPTH_VOXELS``
    of the finest spacing: a rim thinner than a voxel; i26), noise decides single voxels at
    25 HU, so the prior is spatial: a thin regular rim ends on a smooth closed surface, and the
    prior log-odds of "lesion" is a logistic function of the voxel's direction from the mask's
    centroid (harmonics up to ``LESION_RIM_SURFACE_DEGREE``) and its distance from it, refitted
    to the posteriors in every EM iteration; the lesion border is then rim (mean estimated) or
    necrosis (mean = the mask's raw median per phase, fixed), its share estimated: a click's
    core that stops short of the necrosis' edge leaves necrosis voxels in the layer.  On finer
    grids the rim-to-parenchyma transition lies inside the layer and the fitted surface settled
    inside the lesion (the 512 x 512 study's L4: 0.971 -> 0.925), so the per-voxel mixture
    stands there.
    """
    from scipy import ndimage as ndi

    sub = mask[box]
    layer = shell[box] | (ndi.binary_dilation(sub, structure=ndi.generate_binary_structure(3, 1)) & ~sub)
    if liv is not None:
        layer &= liv[box]
    if not layer.any():
        return layer
    # the parenchyma class is measured on the ring's voxels outside the layer: the 2-6 mm ring
    # holds the layer's face neighbours (2.3-3 mm on the study grid), i.e. rim partial volume,
    # which moved the fixed parenchyma mean towards the rim (+4-5 HU arterial on L4, 0.3 sigma)
    par_ring = ring.copy()
    par_ring[box] &= ~layer
    if np.count_nonzero(par_ring) < C.LESION_RIM_MIN_VOXELS:
        par_ring = ring
    xs: list[NDArray[np.float64]] = []
    par: list[float] = []
    nec: list[float] = []
    for v in phases.values():
        if not v.geometry.equals(vol.geometry):
            continue
        raw, _, sigma_raw = _smoothed(v, sl_roi, sig_vox, cache)
        if sigma_raw <= 0:
            continue
        xs.append(raw[box][layer].astype(np.float64) / sigma_raw)
        par.append(float(np.median(raw[par_ring])) / sigma_raw)
        nec.append(float(np.median(raw[box][sub])) / sigma_raw)
    if not xs:
        return np.zeros_like(layer)
    x = np.stack(xs, axis=1)  # voxels x phases, in noise sigmas
    p = np.asarray(par)
    d_par = ((x - p) ** 2).sum(axis=1)
    # start: the lesion class is the layer's voxels farthest from parenchyma
    far = d_par >= np.median(d_par)
    q = x[far].mean(axis=0)
    sp = np.asarray(vol.spacing, dtype=np.float64)
    if _rim_layer_is_deep(vol.spacing):
        # the layer is several voxels deep (voxels finer than the rim): the per-voxel mixture
        # (algorithm 1.3), one prior share
        share = 0.5
        post = far.astype(np.float64)
        for _ in range(C.LESION_RIM_EM_ITERATIONS):
            d_q = ((x - q) ** 2).sum(axis=1)
            # posterior of the lesion class; log-odds clipped so exp cannot overflow
            lo = np.clip(0.5 * (d_q - d_par) - math.log(share / max(1.0 - share, 1e-9)), -50.0, 50.0)
            post = 1.0 / (1.0 + np.exp(lo))
            w = float(post.sum())
            if w < 1.0:
                break
            q = (post[:, None] * x).sum(axis=0) / w
            share = min(max(w / post.size, 1e-3), 1.0 - 1e-3)
        out = np.zeros_like(layer)
        out[layer] = post >= 0.5
        return out
    # a layer one voxel deep (i26): lesion border = rim or necrosis, spatial prior of a surface
    d_nec = ((x - np.asarray(nec)) ** 2).sum(axis=1)
    # the surface model's features: direction terms and minus the distance (mm) from the centroid
    pts = (np.argwhere(layer) - np.argwhere(sub).mean(axis=0)) * sp  # box coordinates, both
    rho = np.maximum(np.linalg.norm(pts, axis=1), 1e-6)
    feats = np.column_stack([_direction_basis(pts / rho[:, None], C.LESION_RIM_SURFACE_DEGREE), -rho])
    w_nec = 0.5  # necrosis' share of the lesion class (estimated)
    prior = np.zeros(len(x))
    for _ in range(C.LESION_RIM_EM_ITERATIONS):
        d_q = ((x - q) ** 2).sum(axis=1)
        ll_nec = math.log(w_nec) - 0.5 * d_nec
        ll_rim = math.log(1.0 - w_nec) - 0.5 * d_q
        ll_les = np.logaddexp(ll_nec, ll_rim)
        post = 1.0 / (1.0 + np.exp(-np.clip(ll_les + 0.5 * d_par + prior, -50.0, 50.0)))
        r_rim = post * np.exp(ll_rim - ll_les)  # responsibility of the rim component
        w = float(r_rim.sum())
        if w < 1.0:
            break
        q = (r_rim[:, None] * x).sum(axis=0) / w
        w_nec = min(max(1.0 - w / max(float(post.sum()), 1e-9), 1e-3), 1.0 - 1e-3)
        prior = _surface_log_odds(feats, post)
    else:
        d_q = ((x - q) ** 2).sum(axis=1)
        ll_les = np.logaddexp(math.log(w_nec) - 0.5 * d_nec, math.log(1.0 - w_nec) - 0.5 * d_q)
        post = 1.0 / (1.0 + np.exp(-np.clip(ll_les + 0.5 * d_par + prior, -50.0, 50.0)))
    out = np.zeros_like(layer)
    out[layer] = post >= 0.5
    return out


def _add_enhancing_rim(
    rr: _RoiResult,
    phases: Mapping[Phase, Volume],
    phase: Phase,
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
) -> _RoiResult:
    """Step 9: add a thin enhancing rim around a hypodense mask when one phase shows it."""

    vol = phases[phase]
    mask = rr.mask
    bb = bbox(mask)
    if bb is None:
        return rr
    sp = tuple(float(v) for v in vol.spacing)
    reach = max(C.REACTIVE_RIM_MAX_THICKNESS_MM, min(sp))  # the rim's thickness, at least one voxel
    # the shell: exact distances on a tight box; the ring: the subsampled lattice of step 3
    box = pad_box(bb[0], bb[1], np.ceil(reach / np.asarray(sp)).astype(int) + 1, mask.shape)
    sub = mask[box]
    shell = np.zeros_like(mask)
    shell[box] = within_mm(sub, sp, reach) & ~sub  # = 0 < distance_transform_edt(~sub) <= reach
    ring = _ring(mask, sp, params.ring_inner_mm, params.ring_outer_mm)
    sl_roi = tuple(slice(int(a), int(a) + n) for a, n in zip(rr.lo, mask.shape, strict=True))
    liv = liver[sl_roi] if liver is not None else None
    if liv is not None:
        shell &= liv
        ring &= liv
    if shell.sum() < C.LESION_RIM_MIN_VOXELS or ring.sum() < C.LESION_RIM_MIN_VOXELS:
        return rr
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    # the shell's octants around the mask's centroid (3-D, so any axis order and slice thickness)
    sh_idx = np.nonzero(shell)
    centre = [float(np.mean(a)) + b.start for a, b in zip(np.nonzero(sub), box, strict=True)]
    octant = np.zeros(len(sh_idx[0]), dtype=np.intp)
    for ax, (ix, c) in enumerate(zip(sh_idx, centre, strict=True)):
        octant += (ix > c).astype(np.intp) << ax
    oct_n = np.bincount(octant, minlength=8)
    oct_used = oct_n >= C.LESION_RIM_OCTANT_MIN_VOXELS
    if not oct_used.any():
        return rr
    best: tuple[float, Phase] | None = None
    for ph, v in phases.items():
        if not v.geometry.equals(vol.geometry):
            continue
        raw, _, sigma_raw = _smoothed(v, sl_roi, sig_vox, cache)
        if sigma_raw <= 0:
            continue
        rv = raw[sh_idx].astype(np.float64)
        surround = float(np.median(raw[ring]))
        # significant: the shell's raw mean above the ring's raw median by min_contrast_k_sigma
        # standard errors (sigma_raw / sqrt(n): raw voxels carry independent noise).  Raw, not
        # smoothed: a rim thinner than a voxel lies next to the dark mask, and smoothing mixes
        # that darkness into it (1.8 tested the smoothed median: at 25 HU noise a 1.5 mm rim in
        # 2.3 mm voxels gave 1.7-3.3 standard errors, against 5.6-10 on raw values)
        lift = float(rv.mean()) - surround
        score = lift / (sigma_raw / math.sqrt(rv.size))
        if score < params.min_contrast_k_sigma:
            continue
        # 1.68: and brighter by an amount, not only by many standard errors (a fine grid's shell holds
        # tens of thousands of voxels: a mean against a median of whole HU passed as a rim there)
        if lift / sigma_raw < C.LESION_RIM_MIN_EFFECT_SIGMA:
            continue
        # regular: brighter all round, in most of the shell's octants (a vessel or a viable
        # nodule along one side lifts the mean but only the octants it lies in).  Octant means
        # average tens of voxels, so the test keeps its power as the noise grows (1.8 counted
        # single smoothed voxels above one noise sigma: 0.48-0.60 at 15 HU, 0.30-0.40 at 25)
        sums = np.bincount(octant, weights=rv, minlength=8)
        above = sums[oct_used] / oct_n[oct_used] > surround
        if float(np.mean(above)) < C.LESION_RIM_MIN_OCTANT_FRACTION:
            continue
        if best is None or score > best[0]:
            best = (score, ph)
    if best is None:
        return rr
    ph = best[1]
    add = _rim_layer_voxels(mask, box, shell, ring, phases, vol, sl_roi, sig_vox, liv, cache)
    grown_sub = sub | add
    grown_sub = component_at(grown_sub, tuple(int(v) for v in np.argwhere(sub)[0]), sub) | sub
    grown_sub = fill_holes(grown_sub)
    if liv is not None:
        grown_sub &= liv[box] | sub
    out = mask.copy()
    out[box] = grown_sub
    touches = _touches_border(out, rr.lo, rr.lo + np.asarray(out.shape), vol.shape)
    if touches and not rr.touches:
        return rr
    return _RoiResult(out, rr.lo, rr.model, rr.touches, rr.at_max, rr.click_mask, rr.radial, ph)


def _enhancing_layer_passes(
    rr: _RoiResult,
    phases: Mapping[Phase, Volume],
    phase: Phase,
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
) -> _RoiResult:
    """Step 9's passes, repeated while the enhancing layer goes on (1.20).

    One pass of :func:`_add_enhancing_rim` adds a layer about ``REACTIVE_RIM_MAX_THICKNESS_MM``
    thick: all of a thin rim, but only the inner part of a thicker rind, whose mask then stops
    inside the lesion.  The step runs again from its own mask (``LESION_RIM_MAX_EXTRA_LAYERS``
    times at most) while it fires and the layer it adds is still rind: its mean raw value on the
    first layer's phase at least ``LESION_RIM_LAYER_LEVEL`` of the way from the parenchyma (the
    median of the ring around the grown mask) to the first layer's upper values (their
    ``LESION_RIM_LAYER_REFERENCE_PERCENTILE``).  A thin rim's blurred tail lies below that level,
    so a rim keeps its one layer.

    Only where the layer is one voxel deep (:func:`_rim_layer_is_deep` false: the study grid's
    2.3 mm pixels).  On finer grids a thin rim's tail spans voxels and passed the level: on the
    512 x 512 study at 5 HU noise the L4 lines went 0.948 / 0.952 -> 0.858 / 0.861 and the fu1 L1
    click 0.958 -> 0.856, so there the step keeps its single pass (a thick rind on a fine grid
    still goes through step 7, docs/validation.md "Algorithm 1.20")."""
    out = _add_enhancing_rim(rr, phases, phase, params, liver, cache)
    if out.rim_phase is None or C.LESION_RIM_MAX_EXTRA_LAYERS <= 0:
        return out
    vol = phases[phase]
    sp = tuple(float(v) for v in vol.spacing)
    if _rim_layer_is_deep(sp):
        return out
    sig_vox = gaussian_sigma_vox(params.smoothing_sigma_mm, sp, params.smoothing_min_vox)
    raw = _smoothed(phases[out.rim_phase], out.box, sig_vox, cache)[0]  # the rim phase's raw ROI
    liv = liver[out.box] if liver is not None else None
    first = out.mask & ~rr.mask  # the same ROI: step 9 keeps the mask's box
    if not first.any():
        return out  # fired, but its layer took no voxel (a pass from the same mask would take none either)
    reference: float | None = None
    for _ in range(C.LESION_RIM_MAX_EXTRA_LAYERS):
        nxt = _add_enhancing_rim(out, phases, phase, params, liver, cache)
        if nxt is out or nxt.rim_phase is None:
            break
        added = nxt.mask & ~out.mask
        if not added.any():
            break
        ring = _ring(nxt.mask, sp, params.ring_inner_mm, params.ring_outer_mm)
        if liv is not None:
            ring &= liv
        if not ring.any():
            break
        parenchyma = float(_kernels.median_f32(raw[ring]))
        if reference is None:
            reference = float(np.percentile(raw[first], C.LESION_RIM_LAYER_REFERENCE_PERCENTILE)) - parenchyma
        if reference <= 0 or float(np.mean(raw[added])) - parenchyma < C.LESION_RIM_LAYER_LEVEL * reference:
            break
        out = replace(nxt, rim_phase=out.rim_phase)
    return out


def _rim_layer_fit(
    rho: NDArray[np.float64], Y: NDArray[np.float64], h: NDArray[np.float64], use: NDArray[np.bool_],
    X: NDArray[np.float64], w: NDArray[np.float64], P: NDArray[np.float64], t: float,
    coef: NDArray[np.float64], g: Sequence[float], steps: int = C.LESION_BLUR_MODEL_STEPS,
) -> tuple[NDArray[np.float64], float]:
    """1.48: the rimmed lesion's two nested surfaces, the outer ``coef`` (terms ``Y``, radius ``rho``
    from its centre) and the same surface ``t`` mm inside it (the rim's inner edge), each with the
    partial-volume ramp ``h`` and blurred by the Gaussian ``g`` (voxels per axis); each phase (rows of
    ``X``, weights ``w`` = 1 / noise^2) is ``a_i + b_i (G * S_out) + c_i (G * S_in)`` with its three
    values by least squares (parenchyma, rim - parenchyma, necrosis - rim).  Gauss-Newton on the
    outer surface with the roughness prior ``P`` (step 12's chord method, step halving on chi^2 +
    the prior), at most ``steps`` steps.  Returns the coefficients and their chi^2."""
    Yu = Y[use]

    def fit(c: NDArray[np.float64]) -> tuple[float, NDArray[np.float32], NDArray[np.float32],
                                                NDArray[np.float64], NDArray[np.float64]]:
        r = Y @ c
        s_out = np.clip(0.5 - (rho - r) / h, 0.0, 1.0).astype(np.float32)
        s_in = np.clip(0.5 - (rho - r + t) / h, 0.0, 1.0).astype(np.float32)
        m_out = _kernels.gaussian_filter_nearest(s_out, g)[use].astype(np.float64)
        m_in = _kernels.gaussian_filter_nearest(s_in, g)[use].astype(np.float64)
        d = np.stack([np.ones_like(m_out), m_out, m_in], axis=1)
        vals = np.linalg.solve(d.T @ d + 1e-9 * np.eye(3), d.T @ X.T).T  # phases x 3
        res = X - vals @ d.T
        return float(w @ (res * res).sum(1)), s_out, s_in, vals, res

    chi2, s_out, s_in, vals, res = fit(coef)
    c = coef
    if not np.isfinite(chi2):
        return c, chi2
    obj = chi2 + float(c @ P @ c)
    for _ in range(steps):
        j_out = _kernels.gaussian_filter_nearest((((s_out > 0) & (s_out < 1)) / h).astype(np.float32), g)[use]
        j_in = _kernels.gaussian_filter_nearest((((s_in > 0) & (s_in < 1)) / h).astype(np.float32), g)[use]
        H = np.zeros((Y.shape[-1], Y.shape[-1]))
        grad = -P @ c
        for i in range(len(X)):
            J = (vals[i, 1] * j_out.astype(np.float64) + vals[i, 2] * j_in.astype(np.float64))[:, None] * Yu
            H += w[i] * (J.T @ J)
            grad += w[i] * (J.T @ res[i])
        step = np.linalg.solve(H + P + 1e-4 * np.trace(H) / len(grad) * np.eye(len(grad)), grad)
        found = _halved_step(c, step, obj, P, fit)
        if found is None:
            break
        frac, c, obj, (chi2, s_out, s_in, vals, res) = found
        if float(np.abs(frac * step).max()) < C.LESION_BLUR_MODEL_TOLERANCE_MM:
            break
    return c, chi2


def _rim_slice_surface(
    out: _RoiResult, core: NDArray[np.bool_], phases: Mapping[Phase, Volume], vol: Volume,
    liver: NDArray[np.bool_] | None,
) -> NDArray[np.bool_] | None:
    """1.48: the rimmed lesion's outer surface on slices that average their thickness, or None.

    Step 9's rim layer is classified voxel by voxel; on a CT slice that averages its thickness the
    layer's voxels at the lesion's caps and oblique flanks are partial-volume mixes of rim, necrosis
    and parenchyma, and a voxel 40 % inside (its lesion part the bright rim) looks brighter than
    the parenchyma on the rim's phase and is taken, one 60 % inside may not be (the noise decides
    voxels near the half-way mix).  Here the image around step 9's mask ``out`` (every phase of the
    grid) is fitted by a rimmed lesion, :func:`_rim_layer_fit`: a star-shaped outer surface (step
    12's terms and roughness prior, ``LESION_SHARP_FIT_SLICE_STIFFNESS`` times stiffer, as 1.46's
    slice surface), the rim's inner edge ``t`` mm inside it (t from
    ``LESION_RIM_FIT_THICKNESS_MM``, the least chi^2: a thin layer's value and thickness trade, so
    each is fitted), a point-spread from ``LESION_RIM_FIT_PSF_VOX`` per axis group, and the ramp of
    a slice that averages its thickness (|n_z| x the slice, the pixels point samples: step 12b's
    1.31 ramp).  The mask is the voxel centres inside the outer surface (a voxel at least half
    inside a box-profile slice is one whose centre the surface holds).  Used only when the slices
    are thicker than the pixels, the layer is one voxel deep (:func:`_rim_layer_is_deep` false),
    the slice's ramp explains the data better than point samples (at the same thickness) by
    ``LESION_BLUR_MODEL_MIN_EVIDENCE`` (a grid that samples the slices' centres keeps step 9's mask
    bit for bit), and the surface agrees with step 9's mask and holds its core (``core``, the mask
    before step 9), each to ``LESION_SHARP_FIT_MIN_AGREEMENT``."""
    sp = np.asarray(vol.spacing, dtype=np.float64)
    if not (sp[0] > max(sp[1], sp[2]) and not np.isclose(sp[0], max(sp[1], sp[2]))) or _rim_layer_is_deep(vol.spacing):
        return None
    mask = out.mask
    idx = np.argwhere(mask)
    if len(idx) < C.LESION_BLUR_MODEL_MIN_VOXELS:
        return None
    band = C.LESION_SHARP_FIT_BAND_MM
    pad = np.ceil(band / sp).astype(np.int64) + 2
    st = _start_surface(idx, (0, 0, 0), np.asarray(mask.shape), sp, pad, lambda shp: (1, 1, 1), "rim surface")
    if st is None:
        return None
    box, _, start, centre, _, _, _, rho, u, Y, coef, r0 = st
    liv = np.ones(start.shape, dtype=bool) if liver is None else np.asarray(liver[out.box][box], dtype=bool)
    use = (np.abs(rho - r0) <= band) & liv
    inner = use & (rho < r0 - band / 2)
    if np.count_nonzero(inner) < 20 or np.count_nonzero(use) <= Y.shape[-1] + 3 * len(phases):
        return None
    raws = [np.asarray(v.array[out.box][box], dtype=np.float64) for v in phases.values() if v.geometry.equals(vol.geometry)]
    X = np.stack([im[use] for im in raws])
    # (the noise floor 1 HU on CT; 1.69: the image's unit on MR, :func:`._morph.noise_unit`)
    cal = vol.modality == Modality.CT
    w = np.array([1.0 / max(robust_sigma(im[inner]), noise_unit(im, cal)) ** 2 for im in raws])
    P = (C.LESION_SHARP_FIT_SLICE_STIFFNESS * C.LESION_BLUR_MODEL_SMOOTHING
         * _roughness(C.LESION_BLUR_MODEL_DEGREE, C.LESION_BLUR_MODEL_FREE_DEGREE))
    floor = C.LESION_SHARP_FIT_POINT_RAMP_VOX * float(sp.min())
    grid = C.LESION_RIM_FIT_PSF_VOX
    spreads = [(gz, gxy, gxy) for gz in grid for gxy in grid]

    def fitted(h: NDArray[np.float64], t: float, c: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """The surface at rim thickness ``t`` with ramp ``h``: the point-spread picked on the
        surface ``c`` by chi^2, fitted, picked again on the fitted surface and fitted once more."""
        chi2 = float("inf")
        for _ in range(2):
            g = min(spreads, key=lambda s: _rim_layer_chi2(rho, Y, h, use, X, w, t, c, s))
            c, chi2 = _rim_layer_fit(rho, Y, h, use, X, w, P, t, c, g)
        return chi2, c

    slice_h = np.abs(u[..., 0]) * sp[0] + floor
    thick = C.LESION_RIM_FIT_THICKNESS_MM
    # first the evidence at the grid's middle thickness: a grid that samples the slices' centres
    # (point samples explain it as well) is turned away after two fits, not the whole grid's
    mid = len(thick) // 2
    point_h = np.full(rho.shape, floor)
    first = (*fitted(slice_h, thick[mid], coef), thick[mid])
    point_mid = fitted(point_h, thick[mid], coef)[0]
    if _evidence(point_mid, first[0], _dof(X, Y)) < C.LESION_BLUR_MODEL_MIN_EVIDENCE:
        log.debug("rim surface: point samples explain the data as well at %.2f mm: not used", thick[mid])
        return None
    fits = [first if i == mid else (*fitted(slice_h, t, coef), t) for i, t in enumerate(thick)]
    best = min(range(len(fits)), key=lambda i: fits[i][0])
    if not 0 < best < len(fits) - 1:
        # at the grid's end: a layer thicker than a reactive rim (a necrotic tumour's rind, which
        # step 9 follows layer by layer) or thinner than the model resolves: not this model's lesion
        log.debug("rim surface: thickness %.2f mm at the grid's end: not used", fits[best][2])
        return None
    # the least chi^2 between the grid's thicknesses: the vertex of the parabola through the
    # best and its neighbours (the thickness moves the outer surface by about half its step)
    (f0, _, t0), (f1, c1, t1), (f2, _, t2) = fits[best - 1:best + 2]
    den = (t1 - t0) * (f1 - f2) - (t1 - t2) * (f1 - f0)
    if den != 0.0:
        t_v = t1 - 0.5 * ((t1 - t0) ** 2 * (f1 - f2) - (t1 - t2) ** 2 * (f1 - f0)) / den
        if t0 < t_v < t2:
            fits.append((*fitted(slice_h, float(t_v), c1), float(t_v)))
    chi2_s, coef_s, t_s = min(fits, key=lambda f: f[0])
    log.debug("rim surface: chi^2 by thickness %s", [(f[2], round(f[0], 1)) for f in fits])
    chi2_p = point_mid if t_s == thick[mid] else fitted(point_h, t_s, coef)[0]
    evidence = _evidence(chi2_p, chi2_s, _dof(X, Y))
    if evidence < C.LESION_BLUR_MODEL_MIN_EVIDENCE:
        log.debug("rim surface: slice ramp chi^2 %.1f, point samples %.1f: evidence %.1f, not used", chi2_s, chi2_p, evidence)
        return None
    new = _inside(start.shape, sp, centre, coef_s, C.LESION_BLUR_MODEL_DEGREE) & liv
    agree = dice(new, start)
    held = float(np.count_nonzero(new & core[box])) / max(float(np.count_nonzero(core[box])), 1.0)
    if agree < C.LESION_SHARP_FIT_MIN_AGREEMENT or held < C.LESION_SHARP_FIT_MIN_AGREEMENT:
        log.debug("rim surface: Dice %.3f against step 9's mask, %.3f of its core held: not used", agree, held)
        return None
    full = np.zeros_like(mask)
    full[box] = new
    full = component_at(full, tuple(int(v) for v in np.argwhere(core)[0]), core)
    full = fill_holes(full)
    log.debug("rim surface: slice ramp, rim %.2f mm, evidence %.1f against point samples, Dice %.3f against step 9's "
              "mask: %d -> %d voxels", t_s, evidence, agree, int(mask.sum()), int(full.sum()))
    return full


def _rim_layer_chi2(rho: NDArray[np.float64], Y: NDArray[np.float64], h: NDArray[np.float64], use: NDArray[np.bool_],
                    X: NDArray[np.float64], w: NDArray[np.float64], t: float, c: NDArray[np.float64],
                    g: Sequence[float]) -> float:
    """chi^2 of :func:`_rim_layer_fit`'s model at the surface ``c`` (no step)."""
    return _rim_layer_fit(rho, Y, h, use, X, w, np.zeros((len(c), len(c))), t, c, g, steps=0)[1]


def _add_enhancing_layers(
    rr: _RoiResult,
    phases: Mapping[Phase, Volume],
    phase: Phase,
    params: LesionParams,
    liver: NDArray[np.bool_] | None,
    cache: _SmoothCache | None = None,
) -> _RoiResult:
    """Step 9: :func:`_enhancing_layer_passes`, then (1.48) on slices that average their thickness
    the rimmed lesion's fitted outer surface (:func:`_rim_slice_surface`) when it is used."""
    out = _enhancing_layer_passes(rr, phases, phase, params, liver, cache)
    if out is rr or out.rim_phase is None or C.LESION_RIM_FIT_THICKNESS_MM == ():
        return out
    vol = phases[phase]
    core = np.zeros_like(out.mask)
    core[rr.box_in(out.lo)] = rr.mask
    new = _rim_slice_surface(out, core, phases, vol, liver)
    if new is None or not new.any():
        return out
    touches = _touches_border(new, out.lo, out.lo + np.asarray(new.shape), vol.shape)
    if touches and not out.touches:
        return out
    return replace(out, mask=new)

"""Step 12b (1.16) of :func:`hcc_imaging.segment.lesion.segment_lesion`: a sharp lesion's border to
sub-voxel precision, on step 12's surface model (:mod:`._blur`) with the scanner's point-spread
instead of a margin's blur, and (1.31) with the partial-volume ramp of a slice that averages its
thickness.  The method is described in :func:`sharp_border` and the :mod:`.lesion` docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.special import log_ndtr

from . import _kernels
from . import constants as C
from ._surface import _block_mean, _dof, _evidence, _inside, _roughness, _Start, _start_surface, _surface_model
from ._morph import dice, erode_faces, mask_grows_nested, noise_unit, robust_sigma

log = logging.getLogger(__name__)


def _working_blocks(shape: Sequence[int], spacing: NDArray[np.float64], max_voxels: int) -> tuple[int, ...]:
    """Blocks of k voxels per axis that bring a box of ``shape`` to at most ``max_voxels`` blocks,
    growing k on the finest axis first (0.7 mm pixels before 2.5 mm slices): the cost of
    :func:`sharp_border`'s fit stays about constant, and a small lesion keeps its own grid."""
    k = [1] * len(shape)
    while int(np.prod([n // v for n, v in zip(shape, k, strict=True)])) > max_voxels:
        fine = min(range(len(k)), key=lambda i: (spacing[i] * k[i], i))
        if k[fine] >= shape[fine]:
            break
        k[fine] += 1
        # axes of the same spacing get the same block (the in-plane pixels)
        for i in range(len(k)):
            if i != fine and np.isclose(spacing[i], spacing[fine]) and k[i] < k[fine]:
                k[i] = k[fine]
    return tuple(k)


def _voxel_posterior(
    surface: NDArray[np.bool_], rho: NDArray[np.float64], Y: NDArray[np.float64], coef: NDArray[np.float64],
    h: NDArray[np.float64], g: Sequence[float], use: NDArray[np.bool_], X: NDArray[np.float64],
    w: NDArray[np.float64], P: NDArray[np.float64], images: Sequence[NDArray[np.float64]], band: float,
    centre_vox: Sequence[int],
) -> NDArray[np.bool_]:
    """1.44: each voxel near a fitted point-sample surface decided by its own data with the
    surface as its prior (step 12b's point samples, :func:`sharp_border`).

    ``surface`` holds the voxel centres inside the surface ``coef`` (terms ``Y``, radius ``rho``
    from its centre; the fit's ramp ``h``, point-spread ``g`` in voxels, voxels ``use`` with data
    ``X`` and weights ``w`` = 1 / noise^2 per phase, roughness prior ``P``).  Its radius' standard
    error in each direction, s_R(u) = sqrt(Y(u)^T (J^T W J + P)^-1 Y(u)), is the Laplace
    approximation of the fit (J its Jacobian, as in the Gauss-Newton), so a voxel at the signed
    distance d = R(u) - rho lies inside with prior log-odds log Phi(d / s_R) - log Phi(-d / s_R).
    Its data add the matched filter's log-likelihood ratio of the fitted lesion level against the
    surroundings', sum_i w_i b_i (x_i - a_i - b_i / 2) (a_i, b_i each phase's fitted offset and
    contrast).  Within ``band`` mm of the surface the voxel is in the mask when the sum is positive;
    beyond it the surface decides.  Holes are filled and the component at ``centre_vox`` (or the
    largest) is kept.  Where the voxels' contrast-to-noise ratio is high their data decide (the
    midpoint level); where it is low (a small lesion at 25 HU: about 2 per voxel) the surface does,
    and the noise along the border averages out instead of adding the voxels outside a convex
    lesion that outnumber those inside it."""
    model_fit, _ = _surface_model(rho, Y, h, use, X, w, P)
    _, soft, _, a, b = model_fit(coef, g)
    ramp = (((soft > 0) & (soft < 1)) / h).astype(np.float32)
    Jy = _kernels.gaussian_filter_nearest(ramp, g)[use].astype(np.float64)[:, None] * Y[use]
    H = float((w * b) @ b) * (Jy.T @ Jy) + P
    cov = np.linalg.inv(H + 1e-9 * max(float(np.trace(H)), 1e-12) / len(H) * np.eye(len(H)))
    R = Y @ coef
    near = np.abs(rho - R) <= band
    Yn = Y[near]
    s_r = np.sqrt(np.maximum(np.einsum("nk,kl,nl->n", Yn, cov, Yn), 1e-12))
    z = (R[near] - rho[near]) / s_r
    llr = sum(float(wi * bi) * (im[near] - ai - bi / 2.0) for wi, bi, ai, im in zip(w, b, a, images, strict=True))
    out = surface.copy()
    out[near] = log_ndtr(z) - log_ndtr(-z) + llr > 0
    out = ndimage.binary_fill_holes(out)
    lab, n = ndimage.label(out)
    if n > 1:
        at = tuple(int(v) for v in np.clip(centre_vox, 0, np.asarray(out.shape) - 1))
        keep = int(lab[at]) or int(np.argmax(np.bincount(lab.ravel())[1:])) + 1
        out = lab == keep
    log.debug("sharp border: each voxel on the point-sample surface's prior (radius error median %.2f mm): "
              "%d -> %d voxels", float(np.median(s_r)) if s_r.size else 0.0, int(surface.sum()), int(out.sum()))
    return out


def _shrinks_nested(
    start: NDArray[np.bool_], out: NDArray[np.bool_], images: Sequence[NDArray[np.float64]], spacing: NDArray[np.float64],
    a: NDArray[np.float64], b: NDArray[np.float64], excluded: NDArray[np.bool_],
) -> bool:
    """1.52: a fitted surface that only takes voxels off the start ``start`` (at most
    ``LESION_SHARP_FIT_NESTED_SHRINK`` of ``out`` lies outside it) and keeps the start's *plateau*
    (at least ``LESION_SHARP_FIT_KEEP_START_PLATEAU`` of it) is used although it moves the border by
    more than a voxel's partial volume (:func:`sharp_border`'s agreement test).

    Step 8's star or step 7's growth can hold a small lesion's surroundings (about twice its volume
    on 5 mm slices), and the fit, which places the border where the image changes level, cuts it
    back to the lesion: a change the agreement test, written for a start that already is the
    lesion, refused.  The plateau guards against the other way to shrink, a fit that collapses onto
    part of the lesion: the start's voxels past half the fitted contrast on the image smoothed by
    one pixel (isotropic in mm; the phases combined as a matched filter: each phase's offset from
    its fitted surroundings' level ``a`` times its fitted contrast ``b``), other tissue
    (``excluded``) left out.  On a blurred convex lesion that level lies inside its border, so a
    fit that finds the border holds it.  A start whose plateau is under
    ``LESION_SHARP_FIT_PLATEAU_MIN_SHARE`` of it (no lesion level to read) fails the test."""
    n_out = int(np.count_nonzero(out))
    if n_out == 0 or int(np.count_nonzero(out & ~start)) > C.LESION_SHARP_FIT_NESTED_SHRINK * n_out:
        return False
    den = float(np.dot(b, b))
    if den <= 0.0:
        return False
    sigma_vox = [float(np.min(spacing)) / v for v in spacing]
    num = np.zeros(start.shape, dtype=np.float64)
    for im, ai, bi in zip(images, a, b, strict=True):
        num += float(bi) * (_kernels.gaussian_filter_nearest(im.astype(np.float32), sigma_vox) - float(ai))
    plateau = start & ~excluded & (num / den > 0.5)
    n_plateau = int(np.count_nonzero(plateau))
    if n_plateau < C.LESION_SHARP_FIT_PLATEAU_MIN_SHARE * int(np.count_nonzero(start)):
        return False
    kept = int(np.count_nonzero(plateau & out)) / n_plateau
    log.debug("sharp border: the fitted surface lies inside the mask (%d of %d voxels outside) and keeps %.3f of its "
              "plateau (%d voxels): %s", int(np.count_nonzero(out & ~start)), n_out, kept, n_plateau,
              "used" if kept >= C.LESION_SHARP_FIT_KEEP_START_PLATEAU else "not used")
    return kept >= C.LESION_SHARP_FIT_KEEP_START_PLATEAU


def sharp_border(
    mask: NDArray[np.bool_],
    lo: Sequence[int],
    images: Sequence[NDArray[Any]],
    spacing: Sequence[float],
    liver: NDArray[np.bool_] | None,
    slice_ramp: bool = True,
    nested: bool = False,
    calibrated: bool = True,
) -> tuple[NDArray[np.bool_], NDArray[np.int64], tuple[float, float, float], str] | None:
    """Step 12b (1.16): a *sharp* lesion's border to sub-voxel precision, from the same surface
    model as :func:`._blur.blurred_border` with the scanner's point-spread instead of a margin's blur.

    The midpoint level of a small lesion is biased inward where the point-spread is wide: along z
    on thick slices (a slice's sensitivity profile) the 50 % level of a convex lesion lies inside
    it by about sigma_z^2 x its curvature, and each voxel's own noise decides the voxels the border
    crosses.  The image near the mask (every phase of the grid) is fitted by ``a_i + b_i (PSF *
    S)``: S the star-shaped surface of :func:`._blur.blurred_border` (same degree and roughness prior),
    with a partial-volume ramp one voxel wide along the surface's normal, and a Gaussian PSF of s
    voxels per axis, s picked from ``LESION_SHARP_FIT_PSF_VOX`` by the residual.  Voxels that are
    neither lesion nor surroundings (fat, a vessel: outside the two levels by
    ``LESION_SHARP_FIT_OUTLIER_K`` noise sigmas, and their face neighbours) are left out of the
    fit and of the mask.  The fit runs on the image's own grid, or on blocks of pixels when the
    box would exceed ``LESION_SHARP_FIT_MAX_VOXELS`` (a large lesion: its curvature bias is small
    anyway).

    1.31, ``slice_ramp`` (on slices thicker than the pixels): the surface is also fitted with the
    ramp of a slice that averages its thickness (|n_z| x the slice wide across the surface, the
    pixels point samples: a CT slice's profile) and with point samples on every axis (a grid that
    samples the slices' centres, as the study phantom).  The slice's fit is tried first when its
    chi^2 is below both others' by ``LESION_BLUR_MODEL_MIN_EVIDENCE`` (read against its own
    scatter when that exceeds the noise) and its pixels' point-spread lies inside the grid (the
    slices' may lie at its smallest: the ramp is their profile); a slice fit that fails the
    agreement test below leaves the voxel's.  The caller turns it off after a step-7 growth (a
    necrotic core grown over its rind: the border is another tissue than the fit's inner level).

    1.35, ``nested`` (a mask of step 10's nearest-mean classes, which leave out the partial-volume
    voxels between the classes): the fitted surface is used only when it holds the mask and grows
    it by at most ``LESION_BLUR_MODEL_MAX_GROWTH`` (step 12's nesting rule, 1.14), not when it
    merely agrees with it (that moved a thrombus' classes in a strongly curved vessel until step 11
    took the lumen's defect, which the bend puts 1-2 mm off: 0.953 -> 0.917).  1.36: and also with
    the grid's smallest point-spread (the classes' mask is short by the partial-volume voxels
    whatever the blur; elsewhere that end means no midpoint bias to correct).

    1.44, point samples as each voxel's prior (:func:`_voxel_posterior`): when the voxel ramp's
    point-spread lies at the grid's smallest (no midpoint bias, so no voxel candidate), point
    samples explain the data at least as well as the voxel ramp (on slices at least
    ``LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO`` times the pixels better by
    ``LESION_BLUR_MODEL_MIN_EVIDENCE``), the fit runs on the image's own grid and ``slice_ramp``
    (one tissue) and not ``nested``: the surface is fitted with point samples and a roughness prior
    ``LESION_SHARP_FIT_POSTERIOR_STIFFNESS`` times stiffer, and each voxel within the band is
    decided by its own data on that surface's prior (``"point"``; the same agreement test).

    1.46, on slices thicker than the pixels that average their thickness: the slice candidate's
    surface is refitted with a roughness prior ``LESION_SHARP_FIT_SLICE_STIFFNESS`` times step 12's
    and tried first; and where 1.44's point samples would decide each voxel, the slice's ramp is
    fitted too (1.44's prior, from the voxel ramp's surface) and, when its chi^2 is at most the point
    samples', its surface refitted as stiff is tried first (``"slice"``; not when its point-spread
    lies at the grid's smallest on every axis).  A point surface with a wider point-spread along z
    mimics a slice's box and sits outside a lesion's caps, whose partial voxels the noise then takes.

    Returns (mask, its box's start, s, the ramp: ``"voxel"``, ``"slice"`` or ``"point"``) or None: too few
    voxels, a start that is not star-shaped around its centroid, a voxel-ramp PSF at either end
    of the grid (the largest: a blurred margin, not a sharp one; the smallest: no blur beyond the
    voxel's own, so the midpoint level is not biased; 1.41: on thick slices the slices' may lie at
    the smallest when the pixels' lies inside and the voxel ramp beats point samples; 1.42: slices
    at least ``LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO`` times the pixels) and no slice
    fit, or results that move the border by more than a voxel's partial volume (Dice below
    ``LESION_SHARP_FIT_MIN_AGREEMENT`` against the start; with ``nested``: that do not nest around it).
    ``calibrated``: the values are HU (CT); else the noise floors are in :func:`._morph.noise_unit`'s
    units (1.69)."""
    data = _sharp_data(mask, lo, images, spacing, liver, calibrated)
    if data is None:
        return None
    st, sp = data.st, data.sp
    start, centre, rho, Y = st.start, st.centre, st.rho, st.Y
    fits = _PsfFits(data)
    candidates = _candidates(fits, slice_ramp, nested)
    for ramp, c, at in candidates:
        # the mask on the image's grid: voxel centres inside the fitted surface (as step 12's)
        out = _inside(start.shape, sp, centre, c, C.LESION_BLUR_MODEL_DEGREE)
        if ramp == "point":
            out = _voxel_posterior(out, rho, Y, c, fits.ramps["point"], fits.psf(fits.spread(at)), data.use, data.X,
                                   data.w, fits.p_point, data.images_w, C.LESION_SHARP_FIT_BAND_MM,
                                   np.round(centre / sp).astype(np.int64))
        # the other tissue is never added; a voxel the mask held stays a candidate (a noise tail)
        out &= ~(data.bad & ~start)
        if data.liver_n is not None:
            out &= data.liver_n
        agree = dice(out, start)
        if nested:
            if not mask_grows_nested(start, out, C.LESION_BLUR_MODEL_MIN_AGREEMENT, C.LESION_BLUR_MODEL_MAX_GROWTH):
                log.debug("sharp border: the fitted surface (%s ramp) does not nest around the classes' mask "
                          "(Dice %.3f): not used", ramp, agree)
                continue
        elif agree < C.LESION_SHARP_FIT_MIN_AGREEMENT and not _shrinks_nested(
                start, out, data.raws, sp, *fits.levels(ramp, c, at), data.excluded):
            log.debug("sharp border: the fitted surface (%s ramp) reaches Dice %.3f against the mask: not used",
                      ramp, agree)
            continue
        log.debug("sharp border: point-spread %s voxels (%s ramp), Dice %.3f against the mask, blocks %s",
                  fits.spread(at), ramp, agree, st.k)
        return out, st.blo.astype(np.int64), fits.spread(at), ramp
    return None


class _SharpData(NamedTuple):
    """What step 12b fits: the start (:class:`._surface._Start`, on a working grid of blocks when the
    box is large), the spacing ``sp`` (mm), the liver on the image's grid, the phases' images on the
    box (``raws``) and on the working grid, the voxels of another tissue (``bad``) and with their
    face neighbours (``excluded``), the band's working voxels ``use``, their data ``X`` (phases x
    voxels) and the phases' noise weights ``w``."""

    st: _Start
    sp: NDArray[np.float64]
    liver_n: NDArray[np.bool_] | None
    raws: list[NDArray[np.float64]]
    images_w: list[NDArray[np.float64]]
    bad: NDArray[np.bool_]
    excluded: NDArray[np.bool_]
    use: NDArray[np.bool_]
    X: NDArray[np.float64]
    w: NDArray[np.float64]


def _sharp_data(mask: NDArray[np.bool_], lo: Sequence[int], images: Sequence[NDArray[Any]], spacing: Sequence[float],
                liver: NDArray[np.bool_] | None, calibrated: bool = True) -> _SharpData | None:
    """:func:`sharp_border`'s data around ``mask`` (a box of the image starting at ``lo``), or None:
    too few voxels, a lesion above ``LESION_SHARP_FIT_MAX_DIAMETER_MM``, a start that is not
    star-shaped around its centroid, too small a ring or band.  The two levels are the lesion's core
    and the ring beyond the border; a voxel beyond both by ``LESION_SHARP_FIT_OUTLIER_K`` noise sigmas
    (fat, a vessel) is another tissue."""
    shape = np.asarray(images[0].shape)
    sp = np.asarray(spacing, dtype=np.float64)
    n_mask = int(np.count_nonzero(mask))
    if n_mask < C.LESION_BLUR_MODEL_MIN_VOXELS:
        return None
    if (6.0 * n_mask * float(np.prod(sp)) / np.pi) ** (1.0 / 3.0) > C.LESION_SHARP_FIT_MAX_DIAMETER_MM:
        return None  # a large lesion: the midpoint's bias is a small share of it (and the cost)
    idx = np.argwhere(mask)
    band = C.LESION_SHARP_FIT_BAND_MM
    pad = np.ceil(band / sp).astype(np.int64) + 2
    st = _start_surface(idx, lo, shape, sp, pad, lambda shp: _working_blocks(shp, sp, C.LESION_SHARP_FIT_MAX_VOXELS),
                        "sharp border")
    if st is None:
        return None  # not star-shaped around its centroid
    box, start, k, start_w, rho, r0 = st.box, st.start, st.k, st.start_w, st.rho, st.r0

    # the two levels: the lesion's core (image grid) and the ring beyond the border (working grid)
    liver_n = None if liver is None else np.asarray(liver[box], dtype=bool)
    liver_w = None if liver_n is None else _block_mean(liver_n, k) >= 0.5
    core = erode_faces(start)
    if np.count_nonzero(core) < 20:
        core = start
    ring = ~start_w & (rho > r0) & (rho <= r0 + band)
    if liver_w is not None:
        ring &= liver_w
    if np.count_nonzero(ring) < 20:
        return None
    raws = [np.asarray(im[box], dtype=np.float64) for im in images]
    images_w = [_block_mean(im, k) for im in raws]
    floors = [noise_unit(im, calibrated) for im in raws]  # 1 HU on CT (1.69: the image's unit on MR)
    bad = np.zeros(start.shape, dtype=bool)
    core_w = start_w & (rho < r0 - band / 2)
    if np.count_nonzero(core_w) < 20:
        core_w = start_w
    for im, im_w, fl in zip(raws, images_w, floors, strict=True):
        les, sur = float(np.median(im_w[core_w])), float(np.median(im_w[ring]))
        vals = im[core]
        kn = C.LESION_SHARP_FIT_OUTLIER_K * max(robust_sigma(vals[:: max(1, vals.size // 4000)]), fl)
        bad |= (im < min(les, sur) - kn) | (im > max(les, sur) + kn)
    excluded = ndimage.binary_dilation(bad)  # and their partial volume

    use = (np.abs(rho - r0) <= band) & (_block_mean(excluded, k) == 0)
    if liver_w is not None:
        use &= liver_w | start_w
    inner = use & (rho < r0 - band / 2)
    if np.count_nonzero(use) <= st.Y.shape[-1] + 2 * len(images):
        return None
    X = np.stack([im[use] for im in images_w])  # phases x voxels
    noise = [max(robust_sigma(im[inner]) if np.count_nonzero(inner) > 20 else robust_sigma(x), fl)
             for im, x, fl in zip(images_w, X, floors, strict=True)]
    w = np.array([1.0 / v**2 for v in noise])
    return _SharpData(st, sp, liver_n, raws, images_w, bad, excluded, use, X, w)


class _PsfFits:
    """Step 12b's surface fits on :class:`_SharpData`: the surface with a partial-volume ramp
    (``ramps``: the working voxel's width along the normal, a slice's that averages its thickness
    (1.31), point samples), a roughness prior (step 12's ``P``; the stiffer ``p_point`` of 1.44 and
    ``p_slice`` of 1.46) and a point-spread picked from ``LESION_SHARP_FIT_PSF_VOX`` per axis group
    (axes of one spacing share it: the in-plane pair; the slice axis its own)."""

    def __init__(self, data: _SharpData) -> None:
        self.data = data
        st, sp = data.st, data.sp
        self.grid = C.LESION_SHARP_FIT_PSF_VOX
        self.P = C.LESION_BLUR_MODEL_SMOOTHING * _roughness(C.LESION_BLUR_MODEL_DEGREE, C.LESION_BLUR_MODEL_FREE_DEGREE)
        self.p_point = self.P * C.LESION_SHARP_FIT_POSTERIOR_STIFFNESS
        self.p_slice = self.P * C.LESION_SHARP_FIT_SLICE_STIFFNESS
        self.groups: list[list[int]] = []
        for i in range(3):
            g = next((g for g in self.groups if np.isclose(sp[g[0]], sp[i])), None)
            if g is None:
                self.groups.append([i])
            else:
                g.append(i)
        floor = C.LESION_SHARP_FIT_POINT_RAMP_VOX * float(st.sp_w.min())
        self.ramps = {
            "voxel": (np.abs(st.u) * st.sp_w).sum(-1),  # a voxel that averages its extent along the normal
            "slice": np.abs(st.u[..., 0]) * st.sp_w[0] + floor,  # 1.31: a slice that averages its thickness
            "point": np.full(st.rho.shape, floor),  # point samples on every axis
        }

    def psf(self, s: Sequence[float]) -> list[float]:
        """A point-spread in the image's voxels, in working voxels."""
        return [v * a / b for v, a, b in zip(s, self.data.sp, self.data.st.sp_w, strict=True)]

    def spread(self, at: Sequence[int]) -> tuple[float, ...]:
        """The point-spread (voxels, per axis) of the grid's index ``at`` per axis group."""
        out = [0.0, 0.0, 0.0]
        for g, j in zip(self.groups, at, strict=True):
            for i in g:
                out[i] = self.grid[j]
        return tuple(out)

    def fitted(self, ramp: str, coef: NDArray[np.float64],
               P: NDArray[np.float64] | None = None) -> tuple[NDArray[np.float64], list[int], float]:
        """The surface fitted from ``coef`` with the ramp ``ramp``, the roughness prior ``P`` (step
        12's by default) and the point-spread picked from the grid: (coefficients, the grid's index
        per axis group, chi^2)."""
        d = self.data
        model_fit, model_gn = _surface_model(d.st.rho, d.st.Y, self.ramps[ramp], d.use, d.X, d.w,
                                             self.P if P is None else P)
        groups, grid, psf, spread = self.groups, self.grid, self.psf, self.spread
        # one value for every axis first, then each group's neighbours on the fitted surface
        chi2 = {j: model_fit(coef, psf(spread([j] * len(groups))))[0] for j in range(len(grid))}
        at = [min(chi2, key=lambda j: chi2[j])] * len(groups)
        coef, best = model_gn(coef, psf(spread(at)))  # (its chi^2 is the fit's at the result)
        moved = False
        for gi in range(len(groups)):
            for j in (at[gi] - 1, at[gi] + 1):
                if 0 <= j < len(grid):
                    trial = at[:gi] + [j] + at[gi + 1:]
                    v = model_fit(coef, psf(spread(trial)))[0]
                    if v < best:
                        best, at, moved = v, trial, True
        if moved:
            coef, best = model_gn(coef, psf(spread(at)))
        return coef, at, best

    def levels(self, ramp: str, c: NDArray[np.float64], at: list[int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each phase's fitted offset (the surroundings' level) and contrast of a candidate."""
        d = self.data
        _, _, _, a, b = _surface_model(d.st.rho, d.st.Y, self.ramps[ramp], d.use, d.X, d.w, self.P)[0](
            c, self.psf(self.spread(at)))
        return a, b


def _candidates(fits: _PsfFits, slice_ramp: bool, nested: bool) -> list[tuple[str, NDArray[np.float64], list[int]]]:
    """:func:`sharp_border`'s fitted surfaces in the order they are tried: (the ramp, the
    coefficients, the grid's index per axis group); the rules are the docstring's (1.16, 1.31, 1.35,
    1.36, 1.41, 1.42, 1.44, 1.46)."""
    d = fits.data
    sp, st, grid = d.sp, d.st, fits.grid
    coef, k = st.coef, st.k
    coef_v, at_v, chi2_v = fits.fitted("voxel", coef)
    candidates: list[tuple[str, NDArray[np.float64], list[int]]] = []
    thick = sp[0] > max(sp[1], sp[2]) and not np.isclose(sp[0], max(sp[1], sp[2]))  # slices thicker than the pixels
    dof = _dof(d.X, st.Y)
    point: list[float] = []

    def point_chi2() -> float:
        """chi^2 of the fit with point samples on every axis (fitted once, when first asked for)."""
        if not point:
            point.append(fits.fitted("point", coef)[2])
        return point[0]

    if slice_ramp and thick:
        # 1.31: slices thicker than the pixels may average their thickness (a CT slice's profile:
        # the ramp |n_z| x the slice across the surface, the pixels point samples) or sample their
        # centres (a point on every axis); the slice's model is tried first when it explains the
        # data better than both the voxel's and the point's by step 12's evidence (a likelihood
        # ratio, read against the fit's own scatter when that exceeds the noise)
        coef_s, at_s, chi2_s = fits.fitted("slice", coef)
        # the slice's own ramp is its profile: the slices' point-spread may lie at the grid's
        # smallest; the pixels' must lie inside the grid (as the voxel ramp's must)
        inside = min(at_s[1:]) > 0 and max(at_s) < len(grid) - 1
        if inside and _evidence(chi2_v, chi2_s, dof) >= C.LESION_BLUR_MODEL_MIN_EVIDENCE:
            chi2_p = point_chi2()  # (only then: it cannot pick the slice)
            evidence = _evidence(min(chi2_v, chi2_p), chi2_s, dof)
            log.debug("sharp border: chi^2 %.1f (voxel ramp), %.1f (slice ramp, point-spread %s), %.1f (point "
                      "samples): evidence %.1f (reduced chi^2 %.2f)", chi2_v, chi2_s, fits.spread(at_s), chi2_p,
                      evidence, chi2_s / dof)
            if evidence >= C.LESION_BLUR_MODEL_MIN_EVIDENCE:
                # 1.46: the surface the slice's ramp places is refitted with a stiffer roughness prior
                # (its large-scale shape: at 15 HU an end slice's few partial voxels move a free
                # surface's cap by a fraction of the slice), tried first; the free fit stays behind it
                coef_r, at_r, _ = fits.fitted("slice", coef_s, fits.p_slice)
                if max(at_r) < len(grid) - 1:
                    candidates.append(("slice", coef_r, at_r))
                candidates.append(("slice", coef_s, at_s))
    # 1.41: on slices thicker than the pixels that average their thickness the slices' point-spread
    # may lie at the grid's smallest (a scanner's ~1 mm is a third of a 3 mm slice, whose own extent
    # is the voxel ramp), as with the slice ramp above, when the pixels' lies inside the grid (their
    # blur biases the midpoint level) and the voxel's ramp explains the data better than point
    # samples by step 12's evidence (slices sampled at their centres, as the sweeps' phantoms, are
    # point samples along z: there the voxel ramp is the wrong model and the midpoint level stands);
    # 1.42: on slices at least LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO times the pixels (on thinner
    # ones a slice's box and a point-spread of its size blur alike, and the evidence is the noise's)
    averaged = False
    if (thick and not nested and min(at_v) == 0 and max(at_v) < len(grid) - 1 and min(at_v[1:]) > 0
            and sp[0] >= C.LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO * max(sp[1], sp[2])):
        chi2_p = point_chi2()
        averaged = _evidence(chi2_p, chi2_v, dof) >= C.LESION_BLUR_MODEL_MIN_EVIDENCE
        log.debug("sharp border: the slices' point-spread at the grid's smallest; chi^2 %.1f (voxel ramp), %.1f "
                  "(point samples): %s", chi2_v, chi2_p, "used" if averaged else "not used")
    if max(at_v) < len(grid) - 1 and (min(at_v) > 0 or nested or averaged):
        candidates.append(("voxel", coef_v, at_v))
        return candidates
    # the grid's largest: a blurred margin, not a scanner's point-spread; its smallest: no blur
    # beyond the model's one-voxel ramp, so the midpoint level is not biased (a grid sampled at
    # voxel centres and barely blurred: the study phantom's 1 mm on 2.3-3 mm voxels); 1.36: the
    # smallest is used around step 10's classes (``nested``), short by their partial volume
    log.debug("sharp border: point-spread %s voxels, at the end of the grid: not used", fits.spread(at_v))
    # 1.44: at the grid's smallest the midpoint level is not biased, but at a low
    # contrast-to-noise ratio each voxel's noise decides it; a stiffer point-sample surface (its
    # large-scale shape: the voxels' own data add the detail) is the prior of a per-voxel
    # decision (_voxel_posterior), on one tissue (not after a step-7 growth, nor on step 10's
    # classes), when point samples explain the data at least as well as the voxel's ramp (the
    # grid samples points: the decision's model), and on slices at least
    # LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO times the pixels (where a slice's averaging and
    # point samples differ most) better by step 12's evidence
    thick_ratio = sp[0] >= C.LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO * max(sp[1], sp[2])
    if (slice_ramp and not nested and max(at_v) < len(grid) - 1 and all(v == 1 for v in k)
            and _evidence(chi2_v, point_chi2(), dof) >= (C.LESION_BLUR_MODEL_MIN_EVIDENCE if thick_ratio else 0.0)):
        coef_p, at_p, chi2_pp = fits.fitted("point", coef, fits.p_point)
        if thick:
            # 1.46: on slices thicker than the pixels the image may average its slices (the voxel
            # ramp's slices at the grid's smallest: their own box is the ramp), and a point
            # surface then sits outside an end slice's partial voxels (a wider point-spread along
            # z mimics the box), so each voxel's decision on it keeps the noisy ones above the
            # half-way level.  The slice's ramp is fitted with the same prior, from the voxel
            # ramp's surface; when it explains the data at least as well as point samples its
            # surface, refitted stiffer (LESION_SHARP_FIT_SLICE_STIFFNESS), is tried first: the
            # voxels whose centres it holds (a voxel at least half inside a box-profile slice is
            # one whose centre the surface holds).  Not when every axis' point-spread lies at
            # the grid's smallest (no blur but the ramp: the fit is held by another tissue in its
            # band, the fat plane around the node without a liver mask, 0.986 -> 0.940)
            coef_s2, at_s2, chi2_s2 = fits.fitted("slice", coef_v, fits.p_point)
            log.debug("sharp border: stiffer fits' chi^2 %.1f (slice ramp, point-spread %s), %.1f (point samples)",
                      chi2_s2, fits.spread(at_s2), chi2_pp)
            if chi2_s2 <= chi2_pp:
                coef_r, at_r, _ = fits.fitted("slice", coef_s2, fits.p_slice)
                if 0 < max(at_r) < len(grid) - 1:
                    candidates.append(("slice", coef_r, at_r))
        if max(at_p) < len(grid) - 1:
            candidates.append(("point", coef_p, at_p))
    return candidates

"""Step 12 (1.12): the border of an ill-defined lesion from a blurred-surface model.

An infiltrative lesion's margin is blurred over several mm.  The midpoint (50 %) level of a
blurred convex object lies *inside* the object: blurring moves a level set inward by about
sigma^2 x (mean curvature) (the heat equation's curvature flow): without noise the 50 % level of
an ellipsoid of semi-axes 11 / 13 / 20 mm under 3.2 mm of blur holds 14 % fewer voxels than the
ellipsoid (tests/segment/test_segment_blurred_border.py).  A threshold's value also decides the size (a
lesion value taken from the blurred core or from the whole region gives masks 10 % smaller or
larger).  So the border is fitted instead: the image near the lesion is modelled, on every phase
of the grid, as ``a_i + b_i (G_sigma * S)`` where ``S`` is the lesion's indicator (a star-shaped
surface r = R(direction) around the mask's centroid, R a polynomial of the unit direction up to
``LESION_BLUR_MODEL_DEGREE``, with a one-voxel partial-volume ramp) and ``G_sigma`` a Gaussian of
the margin's blur; ``a_i``, ``b_i`` are fitted by least squares per phase, the surface by
Gauss-Newton on the noise-weighted residual of all phases plus a roughness prior on the surface
(1.14, :func:`_roughness`: an ellipsoid is free, finer undulations cost their Laplace-Beltrami
energy; without it the 25 terms followed the noise), sigma on a grid.  The mask is the
voxels whose centre lies inside the fitted surface: the truth convention of a sharp object that
was blurred (the phantom's infiltrative lesion, and a reader's "where the lesion ends").

The fit replaces the mask only when the margin is blurred beyond a CT kernel's point-spread
(``LESION_BLUR_MODEL_MIN_SIGMA_MM``) and the blurred model explains the data better than a sharp
one (``LESION_BLUR_MODEL_MIN_EVIDENCE``, a likelihood ratio, divided by the fit's reduced chi^2
when that exceeds 1 (1.13); first tested on the starting surface, so that a sharp lesion costs two
blurs), the star-shaped surface reproduces the
starting mask (``LESION_BLUR_MODEL_MIN_AGREEMENT``: a tube bent around its centroid or a leak is
not star-shaped) and the result agrees with it to the same degree (1.14: or is nested with it); the
caller also requires the click inside and, with a line, the line covered.  1.15 also fits around a
click's core before step 8 (``from_core``: one refit from the grown surface, never the grid's
largest blur).  1.16 (:func:`._sharp.sharp_border`, step 12b) fits the same surface to a *sharp* lesion
with the scanner's point-spread instead of a margin's blur, on the image's own grid.  1.47: when the band
holds another tissue (:func:`_other_tissue`: fat, a vessel), the fit without it is used when it passes
the same tests, else the fit with it: the one-tissue model cannot explain it (the fit without it runs
first, and the fit with it only when needed; both share the start, :func:`_prepare`).
1.54 (``surfaces="near_ellipsoid"``, ``LesionParams.blurred_surface``, the default): an accepted fit's
start is fitted again with 1 / R^2 = the polynomial (an ellipsoid about the centre is exactly degree 2
there) under priors from weak to strong, or the free surface, whichever Akaike's criterion prefers
(docs/validation.md §2.2 "Algorithm 1.54"); ``"free"`` is 1.53's surface.  The near-ellipsoid is
fitted only for the fit that is used (:class:`_Fitted`).

Cost: about 13 ms CPU on the phantom's infiltrative lesion (a 17 x 28 x 28 box, 29 Gaussian
blurs).  Every product here is small; LAPACK's ``lstsq`` is avoided (it starts BLAS threads,
which then spin and double the process' CPU time for no gain at this size).
"""


from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from . import constants as C
from ._morph import dice, erode_faces, grows_nested, noise_unit, robust_sigma
from ._surface import (
    _Fit,
    _block_mean,
    _dof,
    _edge,
    _evidence,
    _inside,
    _inverse_radius,
    _roughness,
    _Start,
    _start_surface,
    _surface_model,
)

log = logging.getLogger(__name__)


def _overlap(a: NDArray[np.bool_], alo: NDArray[np.int64], b: NDArray[np.bool_], blo: NDArray[np.int64]) -> int:
    """The voxels two masks share; each is a box of the image starting at ``alo`` / ``blo``."""
    lo = np.maximum(alo, blo)
    hi = np.minimum(alo + np.asarray(a.shape), blo + np.asarray(b.shape))
    if np.any(hi <= lo):
        return 0
    return int(np.count_nonzero(a[tuple(slice(int(x - y), int(z - y)) for x, y, z in zip(lo, alo, hi, strict=True))]
                                & b[tuple(slice(int(x - y), int(z - y)) for x, y, z in zip(lo, blo, hi, strict=True))]))


def _verdict(start: NDArray[np.bool_], slo: NDArray[np.int64], out: NDArray[np.bool_], olo: NDArray[np.int64],
             sigma: float, max_growth: float = C.LESION_BLUR_MODEL_MAX_GROWTH) -> str:
    """Whether the fitted surface ``out`` may replace the starting mask: "agrees" (Dice at least
    ``LESION_BLUR_MODEL_MIN_AGREEMENT``), "nested" (1.14, below; grown or shrunk by at most
    ``max_growth``), "unbracketed growth" (it keeps the start and grows it, but its blur is the
    grid's largest: 1.15 may refit it), or "refused"."""
    n_start = max(np.count_nonzero(start), 1)
    n_out = max(np.count_nonzero(out), 1)
    both = _overlap(start, slo, out, olo)
    agree = 2.0 * both / (n_start + n_out)
    if agree >= C.LESION_BLUR_MODEL_MIN_AGREEMENT:
        return "agrees"
    # 1.14: a surface nested with the starting mask is the border that the midpoint level or
    # step 7 misplaced on a blurred lesion: one that keeps the start and grows it (a small
    # blurred lesion's midpoint-level mask can hold a third of it), or one that lies inside it
    # and shrinks it (step 7's growth over the blurred halo, read as another tissue), by at
    # most LESION_BLUR_MODEL_MAX_GROWTH either way, when its blur was found inside the grid: a
    # fit that runs to the largest blur is not pinned down by the data (a small sharp lesion
    # beside a vessel, whose misfit the blur absorbs)
    ratio = n_out / n_start
    g = max_growth
    bracketed = sigma < max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    keeps = both / n_start >= C.LESION_BLUR_MODEL_MIN_AGREEMENT
    grows = grows_nested(n_start, n_out, both, C.LESION_BLUR_MODEL_MIN_AGREEMENT, g)
    shrinks = both / n_out >= C.LESION_BLUR_MODEL_MIN_AGREEMENT and 1.0 / g <= ratio < 1.0
    if bracketed and (grows or shrinks):
        log.debug("blurred border: the fitted surface, nested with the mask, is %.2f x its volume", ratio)
        return "nested"
    log.debug("blurred border: the fitted surface reaches Dice %.3f against the mask (%.2f x its volume, "
              "%.3f of it kept, %.3f of the fit inside it, blur %.2f mm): not used",
              agree, ratio, both / n_start, both / n_out, sigma)
    return "unbracketed growth" if keeps and ratio > 1.0 and not bracketed else "refused"


class _Fitted(NamedTuple):
    """A fit of :func:`_fit_surface`: the voxels inside the fitted surface (a box of the image
    starting at ``lo``), the margin's blur (mm) and, with ``surfaces="near_ellipsoid"``, 1.54's
    near-ellipsoid on the same data and blur, fitted when asked (:func:`_near_ellipsoid`; its mask
    in the same box, or None when the free surface is preferred)."""

    mask: NDArray[np.bool_]
    lo: NDArray[np.int64]
    sigma_mm: float
    near: Callable[[], NDArray[np.bool_] | None] | None


def blurred_border(
    mask: NDArray[np.bool_],
    lo: Sequence[int],
    images: Sequence[NDArray[Any]],
    spacing: Sequence[float],
    liver: NDArray[np.bool_] | None,
    *,
    from_core: bool = False,
    surfaces: str = "free",
    calibrated: bool = True,
) -> tuple[NDArray[np.bool_], NDArray[np.int64], float] | None:
    """Fit the blurred-surface model to ``images`` (raw, one grid) around ``mask`` (a box of the
    image starting at ``lo``).  Returns (mask, its box's start, sigma_mm) or None when the model
    does not apply (see the module's docstring).

    ``from_core`` (1.15): the start is the core of a lesion whose ring step 7 read as lesion tissue
    (a bright lesion fading into the parenchyma), so it lies well inside the margin.  A fitted
    surface that keeps the core and grows it, but only with the grid's largest blur, is fitted once
    more from itself (the band, the centre and the Jacobian were the core's) and that refit is held
    to the same tests against the core; and no fit whose blur is the grid's largest is used, even
    one that agrees with the core (the blur then absorbs a misfit: a heterogeneous tumour's).  A
    fit nested with a core may grow it by up to ``LESION_BLUR_MODEL_CORE_MAX_GROWTH`` (1.51; a
    blurred lesion's plateau core holds a seventh to a third of it).  ``surfaces``
    (``LesionParams.blurred_surface``): "free" (1.53), or "near_ellipsoid" (1.54, the default: an
    accepted fit's start fitted again with a surface held near an ellipsoid, or the free one, as
    Akaike's criterion prefers, on the accepted free fit's data and blur; used when it passes
    the same tests).  ``calibrated``: the values are HU (CT); else the noise floors are in
    :func:`._morph.noise_unit`'s units (1.69)."""
    start_lo = np.asarray(lo, dtype=np.int64)
    top = max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    growth = C.LESION_BLUR_MODEL_CORE_MAX_GROWTH if from_core else C.LESION_BLUR_MODEL_MAX_GROWTH

    def agrees(fitted: tuple[NDArray[np.bool_], NDArray[np.int64], float]) -> bool:
        return _verdict(mask, start_lo, *fitted, max_growth=growth) in ("agrees", "nested") and not (from_core and fitted[2] >= top)

    def chosen(fitted: _Fitted) -> tuple[NDArray[np.bool_], NDArray[np.int64], float]:
        # 1.54: the near-ellipsoid that Akaike preferred on the accepted free fit's data, when it
        # passes the same tests (else the free fit); fitted only now, for the fit that is used
        free = (fitted.mask, fitted.lo, fitted.sigma_mm)
        near = None if fitted.near is None else fitted.near()
        if near is not None and agrees((near, fitted.lo, fitted.sigma_mm)):
            return near, fitted.lo, fitted.sigma_mm
        return free

    def attempt(prep: _Prepared, use: NDArray[np.bool_], exclude: bool) -> tuple[NDArray[np.bool_], NDArray[np.int64], float] | None:
        fitted = _fit_surface(prep, _band(prep, use), spacing, liver, surfaces=surfaces)
        if fitted is None:
            return None
        verdict = _verdict(mask, start_lo, fitted.mask, fitted.lo, fitted.sigma_mm, max_growth=growth)
        if verdict in ("agrees", "nested") and not (from_core and fitted.sigma_mm >= top):
            return chosen(fitted)
        if not (from_core and verdict == "unbracketed growth"):
            return None
        again_prep = _prepare(fitted.mask, fitted.lo, images, spacing, liver, calibrated)
        if again_prep is None:
            return None
        again_use, again_bad = _band_voxels(again_prep, other_tissue=exclude)
        if again_bad is not None:
            again_use = _without(again_use, again_bad)
        again = _fit_surface(again_prep, _band(again_prep, again_use), spacing, liver, surfaces=surfaces)
        if again is None:
            return None
        log.debug("blurred border: refitted from the grown surface (blur %.2f mm)", again.sigma_mm)
        return chosen(again) if agrees((again.mask, again.lo, again.sigma_mm)) else None

    prep = _prepare(mask, start_lo, images, spacing, liver, calibrated)
    if prep is None:
        return None
    use, bad = _band_voxels(prep)
    if bad is not None and np.any(bad & use):
        # 1.47: the band holds another tissue (fat, a vessel: beyond both levels by more than one
        # contrast, :func:`_other_tissue`), which the one-tissue model cannot explain: its misfit
        # inflates the reduced chi^2 that the evidence is read against (240 on a noise-free 10 mm
        # lesion beside the vessel and the fat) and pulls the surface.  The fit without it is used
        # when it passes the same tests; else the fit with it, as before 1.47.  (The fit without
        # it comes first, so the fit with it runs only when needed: the same result.)
        log.debug("blurred border: another tissue in the band; fitted without it")
        out = attempt(prep, _without(use, bad), True)
        if out is not None:
            return out
    return attempt(prep, use, False)


class _Prepared(NamedTuple):
    """A starting mask's surface (:class:`_Start`) and the images (and the liver mask) on its
    working grid: what every fit from that start shares."""

    st: _Start
    images_w: list[NDArray[np.float64]]
    liver_w: NDArray[np.bool_] | None
    #: each image's noise floor: 1 HU on CT, :func:`._morph.noise_unit` of its box otherwise (1.69)
    floors: tuple[float, ...]


def _prepare(mask: NDArray[np.bool_], lo: NDArray[np.int64], images: Sequence[NDArray[Any]],
             spacing: Sequence[float], liver: NDArray[np.bool_] | None, calibrated: bool = True) -> _Prepared | None:
    """The start of a fit around ``mask`` (a box of the image starting at ``lo``): its box, working
    grid and star-shaped surface, and the images there; None when the mask is too small or not
    star-shaped around its centroid (a tube, a leak: the model does not apply)."""
    shape = np.asarray(images[0].shape)
    sp = np.asarray(spacing, dtype=np.float64)
    idx = np.argwhere(mask)
    if len(idx) < C.LESION_BLUR_MODEL_MIN_VOXELS:
        return None
    pad = np.ceil((C.LESION_BLUR_MODEL_BAND_MM + max(C.LESION_BLUR_MODEL_SIGMAS_MM)) / sp).astype(np.int64)

    # the fit runs on a working grid of about LESION_BLUR_MODEL_GRID_MM: blocks of k voxels of a
    # fine grid averaged (0.7 mm pixels would make a 5 cm lesion's box 400 000 voxels; the mean
    # keeps the blocks' signal-to-noise ratio).
    def blocks(shp: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(max(1, min(int(C.LESION_BLUR_MODEL_GRID_MM // v), n)) for v, n in zip(sp, shp, strict=True))

    st = _start_surface(idx, lo, shape, sp, pad, blocks, "blurred border")
    if st is None:
        return None
    # the images only now (a large heterogeneous click region stops at the start's test)
    images_w = [_block_mean(np.asarray(im[st.box], dtype=np.float64), st.k) for im in images]
    liver_w = None if liver is None else _block_mean(np.asarray(liver[st.box]), st.k) >= 0.5
    return _Prepared(st, images_w, liver_w, tuple(noise_unit(im, calibrated) for im in images_w))


def _band_voxels(prep: _Prepared, *, other_tissue: bool = True) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
    """The working voxels within ``LESION_BLUR_MODEL_BAND_MM`` of the start's surface (in the
    liver or the start, when a liver mask is given), and, when ``other_tissue``, those of another
    tissue (:func:`_other_tissue`; None when its levels cannot be read, or not asked for)."""
    st = prep.st
    use = np.abs(st.rho - st.r0) <= C.LESION_BLUR_MODEL_BAND_MM
    if prep.liver_w is not None:
        use &= prep.liver_w | st.start_w
    return use, _other_tissue(prep.images_w, st.start_w, st.rho, st.r0, use, prep.floors) if other_tissue else None


def _without(use: NDArray[np.bool_], bad: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The band ``use`` without another tissue's voxels ``bad`` and their partial volume (their
    face neighbours)."""
    return use & ~ndimage.binary_dilation(bad)


def _inverse_start(rho: NDArray[np.float64], Y: NDArray[np.float64], start_w: NDArray[np.bool_],
                   min_voxel_mm: float) -> NDArray[np.float64] | None:
    """1.54: the starting mask's surface as 1 / R^2 = a polynomial of the direction (``Y``: the
    terms at each working voxel's direction; ``rho``: its distance), least squares on the mask's
    edge as :func:`_start_surface` fits R; None when it does not reproduce the mask."""
    edge = _edge(start_w)
    Ye = Y[edge]
    target = np.maximum(rho[edge], 0.5 * min_voxel_mm) ** -2.0
    q = np.linalg.solve(Ye.T @ Ye + 1e-9 * float(np.mean(target)) * np.eye(Ye.shape[1]), Ye.T @ target)
    agree = dice(rho <= _inverse_radius(Y @ q), start_w)
    if agree < C.LESION_BLUR_MODEL_MIN_AGREEMENT:
        log.debug("blurred border (near-ellipsoid): the start reaches Dice %.3f against the mask: not used", agree)
        return None
    return q  # type: ignore[no-any-return]


class _Band(NamedTuple):
    """The data step 12's surface is fitted to, on the start's working grid (:class:`_Start`): the
    partial-volume ramp's width ``h`` (mm), the band's voxels ``use``, their data ``X`` (phases x
    voxels), the phases' noise weights ``w`` and the direction terms ``Yu`` (``Y[use]``)."""

    h: float
    use: NDArray[np.bool_]
    X: NDArray[np.float64]
    w: NDArray[np.float64]
    Yu: NDArray[np.float64]


def _band(prep: _Prepared, use: NDArray[np.bool_]) -> _Band:
    """The band ``use`` (:func:`_band_voxels`, perhaps :func:`_without` another tissue) with its
    data and weights (:class:`_Band`)."""
    st = prep.st
    h = float(st.sp_w.mean())  # the partial-volume ramp across the surface (one voxel)
    X = np.stack([im[use] for im in prep.images_w])  # phases x voxels
    inner = use & (st.rho < st.r0 - C.LESION_BLUR_MODEL_BAND_MM / 2)
    noise = [max(robust_sigma(im[inner]) if np.count_nonzero(inner) > 20 else robust_sigma(x), f)
             for im, x, f in zip(prep.images_w, X, prep.floors, strict=True)]
    w = np.array([1.0 / n**2 for n in noise])  # noise weights per phase
    return _Band(h, use, X, w, st.Y[use])  # (Y[use]: the near-ellipsoid's models share it)


def _fit_surface(prep: _Prepared, band: _Band, spacing: Sequence[float], liver: NDArray[np.bool_] | None, *,
                 surfaces: str = "free") -> _Fitted | None:
    """The fit of :func:`blurred_border` from the start ``prep`` on the band ``band`` (its tests
    before the agreement with the start included), or None.  ``surfaces`` "near_ellipsoid" (1.54):
    the result's ``near`` fits the near-ellipsoid (:func:`_near_ellipsoid`) when called, for the
    caller to hold to the same tests; only the fit that is used needs it."""
    st = prep.st
    sp = np.asarray(spacing, dtype=np.float64)
    box, blo, start, centre, k, start_w, sp_w, rho, u, Y, coef, r0 = st
    h, use, X, w, Yu = band
    # the surface's prior (1.14): its roughness beyond an ellipsoid's, weighed against chi^2
    P = C.LESION_BLUR_MODEL_SMOOTHING * _roughness(C.LESION_BLUR_MODEL_DEGREE, C.LESION_BLUR_MODEL_FREE_DEGREE)
    model_fit, model_gn = _surface_model(rho, Y, h, use, X, w, P, Yu=Yu)

    def fit(c: NDArray[np.float64], sigma: float) -> _Fit:
        return model_fit(c, [sigma / v for v in sp_w])

    def gauss_newton(c: NDArray[np.float64], sigma: float,
                     info: dict[str, float] | None = None) -> tuple[NDArray[np.float64], float]:
        return model_gn(c, [sigma / v for v in sp_w], info)

    # a quick look first (two blurs): a sharp margin fits the starting surface better sharp
    # the likelihood ratios are read against the fit's own scatter when the model explains the data
    # less well than the noise does (a noise-free or denoised image: any misfit is "significant")
    dof = _dof(X, Y)
    start_chi2 = fit(coef, C.LESION_BLUR_MODEL_START_SIGMA_MM)[0]
    quick = _evidence(fit(coef, C.LESION_BLUR_MODEL_SHARP_SIGMA_MM)[0], start_chi2, dof)
    if not quick >= C.LESION_BLUR_MODEL_MIN_EVIDENCE:
        log.debug("blurred border: a sharp margin (evidence %.1f on the starting surface): not used", quick)
        return None
    coef, _ = gauss_newton(coef, C.LESION_BLUR_MODEL_START_SIGMA_MM)
    sse_by_sigma = {v: fit(coef, v)[0] for v in C.LESION_BLUR_MODEL_SIGMAS_MM}
    sigma = min(sse_by_sigma, key=lambda s: sse_by_sigma[s])
    if sigma < C.LESION_BLUR_MODEL_MIN_SIGMA_MM:
        log.debug("blurred border: margin blur %.2f mm: a sharp margin, not used", sigma)
        return None  # a sharp margin: the one-level border is right
    info: dict[str, float] = {}
    coef, sse = gauss_newton(coef, sigma, info)
    sharp = gauss_newton(coef, C.LESION_BLUR_MODEL_SHARP_SIGMA_MM)[1]
    evidence = _evidence(sharp, sse, dof)
    log.debug("blurred border: blur %.2f mm, evidence %.1f (reduced chi^2 %.2f)", sigma, evidence, sse / dof)
    if evidence < C.LESION_BLUR_MODEL_MIN_EVIDENCE:
        return None
    # the mask on the image's own grid: voxel centres inside the fitted surface
    out = _inside(start.shape, sp, centre, coef, C.LESION_BLUR_MODEL_DEGREE)
    if liver is not None:
        out &= liver[box]
    free_edf = info["edf"]

    def near_mask() -> NDArray[np.bool_] | None:
        near_coef = _near_ellipsoid(st, band, sigma, sse, free_edf, dof)
        if near_coef is None:
            return None
        inside = _inside(start.shape, sp, centre, near_coef, C.LESION_BLUR_MODEL_DEGREE, inverse=True)
        return inside & liver[box] if liver is not None else inside

    return _Fitted(out, blo.astype(np.int64), float(sigma), near_mask if surfaces == "near_ellipsoid" else None)


def _near_ellipsoid(st: _Start, band: _Band, sigma: float, free_sse: float, free_edf: float,
                    dof: int) -> NDArray[np.float64] | None:
    """1.54: the accepted free fit's data (``band``, on the start ``st``'s working grid; its blur
    ``sigma``) fitted with 1 / R^2 = the polynomial of the direction (an ellipsoid about the centre
    is exactly degree 2 there), from the start's own 1 / R^2 fit, with each prior weight of
    ``LESION_BLUR_MODEL_ELLIPSOID_SMOOTHINGS`` (strongest first, each weaker one from the previous
    result).  Returns the coefficients of the one Akaike's criterion prefers (chi^2 on the data's
    scale + 2 x the effective number of parameters, the free fit's ``free_sse`` / ``free_edf``
    among the candidates), or None when the free surface is preferred or the start does not
    allow the model."""
    rho, Y, start_w, r0, sp_w = st.rho, st.Y, st.start_w, st.r0, st.sp_w
    h, use, X, w, Yu = band
    c = _inverse_start(rho, Y, start_w, float(sp_w.min()))
    if c is None:
        return None
    # the roughness of 1 / R^2: a change d of it moves the radius by -R^3 d / 2, so (R^3 / 2)^2 at
    # the start's typical radius puts the prior in the radius' mm^2 again (as the free surface's)
    r_typ = float(np.median(r0[start_w & ~erode_faces(start_w)]))
    unit = (r_typ**3 / 2.0) ** 2 * _roughness(C.LESION_BLUR_MODEL_DEGREE, C.LESION_BLUR_MODEL_FREE_DEGREE)
    # quasi-likelihood (QAIC): the overdispersion is read on the most general model, the free fit
    scale = max(free_sse / dof, 1.0)
    best_crit, best = free_sse / scale + 2.0 * free_edf, None
    memo: tuple[dict[Any, Any], dict[Any, Any]] = ({}, {})  # (the weights' models evaluate the same surfaces)
    for weight in sorted(C.LESION_BLUR_MODEL_ELLIPSOID_SMOOTHINGS, reverse=True):
        info: dict[str, float] = {}
        c, chi2 = _surface_model(rho, Y, h, use, X, w, weight * unit, inverse=True, Yu=Yu, memo=memo)[1](c, [sigma / v for v in sp_w], info)
        crit = chi2 / scale + 2.0 * info["edf"]
        log.debug("blurred border: near-ellipsoid, prior weight %g: chi^2 %.1f, %.1f parameters (free: %.1f, %.1f)",
                  weight, chi2, info["edf"], free_sse, free_edf)
        if crit < best_crit:
            best_crit, best = crit, c
    return best


def _other_tissue(images_w: Sequence[NDArray[np.float64]], start_w: NDArray[np.bool_], rho: NDArray[np.float64],
                  r0: NDArray[np.float64], band: NDArray[np.bool_],
                  floors: Sequence[float] | None = None) -> NDArray[np.bool_] | None:
    """1.47: the working voxels of another tissue than the lesion and its surroundings (fat, a
    vessel), or None when the levels cannot be read.  The lesion's level is the median of the
    starting mask's core (its part deeper than half ``LESION_BLUR_MODEL_BAND_MM``, or the whole
    mask), the surroundings' the median of the band ``band`` outside the mask; a voxel of a blurred
    lesion lies between the surroundings and the lesion's plateau, and the core's median falls short
    of that plateau (a small lesion's blurred core keeps about half its contrast), so a voxel is
    another tissue when it lies beyond both levels by more than ``LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS``
    times their difference plus ``LESION_SHARP_FIT_OUTLIER_K`` noise sigmas of the working grid
    (the ring's robust spread, floored at ``floors``: 1 HU on CT, the image's unit on MR, 1.69; None: 1 each) on some
    phase."""
    half = C.LESION_BLUR_MODEL_BAND_MM / 2
    core = start_w & (rho < r0 - half)
    if np.count_nonzero(core) < 20:
        core = start_w
    ring = band & ~start_w & (rho > r0)
    if np.count_nonzero(ring) < 20 or not np.any(core):
        return None
    bad = np.zeros(start_w.shape, dtype=bool)
    for im, floor in zip(images_w, [1.0] * len(images_w) if floors is None else floors, strict=True):
        les, sur = float(np.median(im[core])), float(np.median(im[ring]))
        m = (C.LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS * abs(les - sur)
             + C.LESION_SHARP_FIT_OUTLIER_K * max(robust_sigma(im[ring]), floor))
        bad |= (im < min(les, sur) - m) | (im > max(les, sur) + m)
    return bad

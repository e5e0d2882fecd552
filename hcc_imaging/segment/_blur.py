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
holds another tissue (:func:`_other_tissue`: fat, a vessel), the fit is redone without it and used when
it passes the same tests (else the fit with it stands): the one-tissue model cannot explain it.
1.54 (``surfaces="near_ellipsoid"``, ``LesionParams.blurred_surface``, the default): an accepted fit's
start is fitted again with 1 / R^2 = the polynomial (an ellipsoid about the centre is exactly degree 2
there) under priors from weak to strong, or the free surface, whichever Akaike's criterion prefers
(docs/validation.md §2.2 "Algorithm 1.54"); ``"free"`` is 1.53's surface.

Cost: about 13 ms CPU on the phantom's infiltrative lesion (a 17 x 28 x 28 box, 29 Gaussian
blurs).  Every product here is small; LAPACK's ``lstsq`` is avoided (it starts BLAS threads,
which then spin and double the process' CPU time for no gain at this size).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from . import _kernels
from . import constants as C
from ._morph import dice, erode_faces, grid_mm, grows_nested, robust_sigma

log = logging.getLogger(__name__)


def _exponents(degree: int) -> list[tuple[int, int, int]]:
    """(a, b, c) of the monomials x^a y^b z^c with a + b + c <= ``degree`` and c <= 1: on the unit
    sphere z^2 = 1 - x^2 - y^2, so these span the real spherical harmonics of degree <= ``degree``
    exactly ((degree + 1)^2 terms, no redundant one)."""
    return [(a, b, c) for c in (0, 1) for a in range(degree + 1) for b in range(degree + 1 - a) if a + b + c <= degree]


def _powers(u: NDArray[np.float64], degree: int) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """x^0..x^degree and y^0..y^degree of the directions ``u`` (..., 3)."""
    px, py = [np.ones(u.shape[:-1])], [np.ones(u.shape[:-1])]
    for _ in range(degree):
        px.append(px[-1] * u[..., 0])
        py.append(py[-1] * u[..., 1])
    return px, py


def _direction_terms(u: NDArray[np.float64], degree: int) -> NDArray[np.float64]:
    """The terms of :func:`_exponents` at the unit directions ``u`` (n x 3), one column each.  By
    the compiled ``direction_terms`` (the same operations per element, bit for bit) when the
    kernels are on."""
    m = _kernels.compiled()
    if m is not None and u.dtype == np.float64 and u.ndim == 2 and u.shape[1] == 3 and u.shape[0]:
        return m.direction_terms(np.require(u, requirements="CW"), *_exponent_arrays(degree), degree)  # type: ignore[no-any-return]
    px, py = _powers(u, degree)
    return np.stack([px[a] * py[b] * (u[:, 2] if c else 1.0) for a, b, c in _exponents(degree)], axis=1)


@functools.lru_cache(maxsize=8)
def _exponent_arrays(degree: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The a, b and c of :func:`_exponents` as three int64 arrays (the compiled kernel's)."""
    e = np.array(_exponents(degree), dtype=np.int64).reshape(-1, 3)
    return tuple(np.ascontiguousarray(e[:, i]) for i in range(3))  # type: ignore[return-value]


def _radius(u: NDArray[np.float64], coef: NDArray[np.float64], degree: int) -> NDArray[np.float64]:
    """The surface's radius in the directions ``u`` (..., 3): sum_k coef_k Y_k(u), term by term
    (the terms of every voxel of a fine grid need not be held at once).  By the compiled
    ``star_radius`` (the same operations per element, bit for bit) when the kernels are on."""
    m = _kernels.compiled()
    if m is not None and u.dtype == np.float64 and u.ndim >= 1 and u.shape[-1] == 3 and u.size:
        flat = np.require(u.reshape(-1, 3), requirements="CW")
        c = np.require(np.asarray(coef, dtype=np.float64), requirements="CW")
        return m.star_radius(flat, c, *_exponent_arrays(degree), degree).reshape(u.shape[:-1])  # type: ignore[no-any-return]
    px, py = _powers(u, degree)
    out = np.zeros(u.shape[:-1])
    for ck, (a, b, c) in zip(coef, _exponents(degree), strict=True):
        out += ck * (px[a] * py[b] * (u[..., 2] if c else 1.0))
    return out


@functools.lru_cache(maxsize=8)
def _roughness(degree: int, free: int) -> NDArray[np.float64]:
    """The matrix P with c^T P c = sum over the spherical-harmonic degrees l > ``free`` of
    (l (l + 1) - free (free + 1)) x the mean square over the unit sphere of the degree-l part of the
    radius R = sum_k c_k Y_k (:func:`_direction_terms`): the surface's Laplace-Beltrami roughness
    (the mean of |grad R|^2 is sum_l l (l + 1) |R_l|^2) beyond what degrees <= ``free`` describe
    (``free`` = 2: the mean radius, a shift and an ellipsoid's elongation cost nothing).  The degree
    blocks are found by orthonormalising the terms in order of degree on 4000 near-uniform
    directions (a Fibonacci sphere): the polynomials of degree <= l restricted to the sphere are the
    harmonics of degree <= l."""
    n = 4000
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (1.0 + 5.0**0.5) * i
    r = np.sqrt(1.0 - z * z)
    u = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    deg = np.array([a + b + c for a, b, c in _exponents(degree)])
    order = np.argsort(deg, kind="stable")
    # B / sqrt(n) = Q R with Q's columns orthonormal: R c are the coefficients of an
    # orthonormal (mean-square) basis whose columns follow the harmonic degrees
    _, R = np.linalg.qr(_direction_terms(u, degree)[:, order] / np.sqrt(n))
    d = np.array([max(v * (v + 1) - free * (free + 1), 0) for v in deg[order]], dtype=np.float64)
    inv = np.argsort(order)
    P = (R.T @ (d[:, None] * R))[np.ix_(inv, inv)]
    P.flags.writeable = False  # cached and shared by every fit
    return P


def _block_mean(a: NDArray[Any], k: Sequence[int]) -> NDArray[np.float64]:
    """The mean of ``a`` over blocks of ``k`` voxels per axis (trailing voxels that do not fill a
    block are dropped).  A boolean mask's blocks are counted in integers (the same values as the
    float64 mean: a sum of zeros and ones is exact in any order, then the same division)."""
    a = np.asarray(a)
    if all(v == 1 for v in k):
        return np.asarray(a, dtype=np.float64)
    a = a[tuple(slice(0, n - n % v) for n, v in zip(a.shape, k, strict=True))]
    shape = [d for n, v in zip(a.shape, k, strict=True) for d in (n // v, v)]
    if a.dtype == np.bool_ and a.ndim == 3:
        # the count by strided adds, axis by axis (a tenth of the time of numpy's mean over the
        # 6-D view's three axes)
        count: NDArray[Any] = a.view(np.uint8)
        for axis, v in enumerate(k):
            if v > 1:
                part = [slice(None)] * 3
                part[axis] = slice(0, None, v)
                total = count[tuple(part)].astype(np.int32)
                for j in range(1, v):
                    part[axis] = slice(j, None, v)
                    total += count[tuple(part)]
                count = total
        return count / (k[0] * k[1] * k[2])  # type: ignore[no-any-return]
    return np.asarray(a, dtype=np.float64).reshape(shape).mean(axis=(1, 3, 5))  # type: ignore[no-any-return]


#: the compiled :func:`_inside`'s blocks (voxels per axis) bounded before their voxels are evaluated
_INSIDE_BLOCK = 16


def _inside(shape: Sequence[int], spacing: NDArray[np.float64], centre: NDArray[np.float64], coef: NDArray[np.float64],
            degree: int, *, inverse: bool = False) -> NDArray[np.bool_]:
    """The voxel centres of a grid of ``shape`` inside the star-shaped surface ``coef`` around
    ``centre`` (mm from the first voxel): ``rho <= _radius(u, coef)`` with ``rho, u = _polar(...)``.
    By the compiled ``inside_star`` when the kernels are on: the same mask, bit for bit (the
    voxels it evaluates, with the same operations; the blocks a rigorous interval bound puts wholly
    inside or outside the surface filled without evaluating them: a 5 cm lesion's box ~0.6 s of
    numpy -> ~10 ms).  ``inverse`` (1.54): ``coef`` gives 1 / radius^2 (:func:`_inverse_radius`), and a
    voxel is inside when ``rho * rho * sum <= 1``."""
    m = _kernels.compiled()
    sp = np.asarray(spacing, dtype=np.float64)
    c = np.asarray(centre, dtype=np.float64)
    if m is not None and len(shape) == 3 and sp.shape == c.shape == (3,):
        return m.inside_star(np.asarray(shape, dtype=np.int64), np.require(sp, requirements="CW"),  # type: ignore[no-any-return]
                             np.require(c, requirements="CW"), np.require(np.asarray(coef, dtype=np.float64), requirements="CW"),
                             *_exponent_arrays(degree), degree, _INSIDE_BLOCK, inverse)
    rho, u = _polar(shape, sp, c)
    if inverse:
        return rho * rho * _radius(u, coef, degree) <= 1.0  # type: ignore[no-any-return]
    return rho <= _radius(u, coef, degree)


def _inverse_radius(s: NDArray[np.float64]) -> NDArray[np.float64]:
    """The radius from the sum ``s`` of the inverse parametrisation (1.54, step 12): R = s^(-1/2),
    unbounded (1e6 mm) where s is not positive."""
    return np.where(s > 1e-12, 1.0 / np.sqrt(np.maximum(s, 1e-12)), 1e6)


def _polar(shape: Sequence[int], spacing: NDArray[np.float64], centre: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each voxel's distance (mm) from ``centre`` and its unit direction, on a grid of ``shape``."""
    v = grid_mm(shape, spacing) - centre
    rho = np.linalg.norm(v, axis=-1)
    return rho, v / np.maximum(rho, 1e-9)[..., None]


def _ls_fit(m: NDArray[np.float64], X: NDArray[np.float64], w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Each phase's (row of ``X``) least-squares offset a and scale b of the model ``m`` (closed
    form), and the residual's chi^2 weighted by ``w`` (1 / noise^2 per phase)."""
    n = m.size
    sm, smm = m.sum(), float(m @ m)
    det = n * smm - sm * sm
    if det <= 1e-9 * n * n:
        return float("inf"), np.zeros(len(X)), np.zeros(len(X))
    sx, smx = X.sum(1), X @ m
    b = (n * smx - sm * sx) / det
    a = (sx - b * sm) / n
    return float(w @ ((X * X).sum(1) - a * sx - b * smx)), a, b


def _dof(X: NDArray[np.float64], Y: NDArray[np.float64]) -> int:
    """The surface model's degrees of freedom: the data (phases x voxels) less the surface's
    coefficients and each phase's offset and scale."""
    return max(X.size - Y.shape[-1] - 2 * len(X), 1)


def _evidence(chi2_other: float, chi2_model: float, dof: int) -> float:
    """How much better a model explains the data than another (chi^2 difference, a likelihood
    ratio), read against the model's own scatter when it explains the data less well than the
    noise does (a quasi-likelihood ratio: on a noise-free or denoised image any misfit would be
    "significant")."""
    return (chi2_other - chi2_model) / max(1.0, chi2_model / dof)


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


def blurred_border(
    mask: NDArray[np.bool_],
    lo: Sequence[int],
    images: Sequence[NDArray[Any]],
    spacing: Sequence[float],
    liver: NDArray[np.bool_] | None,
    *,
    from_core: bool = False,
    surfaces: str = "free",
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
    the same tests)."""
    start_lo = np.asarray(lo, dtype=np.int64)
    top = max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    growth = C.LESION_BLUR_MODEL_CORE_MAX_GROWTH if from_core else C.LESION_BLUR_MODEL_MAX_GROWTH
    others: list[bool] = []  # whether the band held another tissue (set by the first fit)

    def agrees(fitted: tuple[NDArray[np.bool_], NDArray[np.int64], float]) -> bool:
        return _verdict(mask, start_lo, *fitted, max_growth=growth) in ("agrees", "nested") and not (from_core and fitted[2] >= top)

    def chosen(fitted: tuple[NDArray[np.bool_], NDArray[np.int64], float],
               near: list[NDArray[np.bool_]]) -> tuple[NDArray[np.bool_], NDArray[np.int64], float]:
        # 1.54: the near-ellipsoid that Akaike preferred on the accepted free fit's data, when it
        # passes the same tests (else the free fit)
        if near:
            alt = (near[0], fitted[1], fitted[2])
            if agrees(alt):
                return alt
        return fitted

    def attempt(exclude: bool) -> tuple[NDArray[np.bool_], NDArray[np.int64], float] | None:
        near: list[NDArray[np.bool_]] = []
        fitted = _fit_surface(mask, start_lo, images, spacing, liver, exclude=exclude, others=others,
                              surfaces=surfaces, near=near)
        if fitted is None:
            return None
        verdict = _verdict(mask, start_lo, *fitted, max_growth=growth)
        if verdict in ("agrees", "nested") and not (from_core and fitted[2] >= top):
            return chosen(fitted, near)
        if not (from_core and verdict == "unbracketed growth"):
            return None
        near = []
        again = _fit_surface(fitted[0], fitted[1], images, spacing, liver, exclude=exclude, surfaces=surfaces, near=near)
        if again is None:
            return None
        log.debug("blurred border: refitted from the grown surface (blur %.2f mm)", again[2])
        return chosen(again, near) if agrees(again) else None

    out = attempt(False)
    if others and others[0]:
        # 1.47: the band held another tissue (fat, a vessel: beyond both levels by more than one
        # contrast, :func:`_other_tissue`), which the one-tissue model cannot explain: its misfit
        # inflated the reduced chi^2 that the evidence is read against (240 on a noise-free 10 mm
        # lesion beside the vessel and the fat) and pulled the surface.  The fit is redone without
        # it and used when it passes the same tests; else the fit with it stands, as before 1.47
        log.debug("blurred border: another tissue in the band; refitted without it")
        out = attempt(True) or out
    return out


class _Start(NamedTuple):
    """A starting mask in its fitting box, and its star-shaped surface on the working grid (names
    ending in _w; blocks of ``k`` voxels).  ``centre`` is in mm from the box's first voxel."""

    box: tuple[slice, ...]
    blo: NDArray[np.int64]
    start: NDArray[np.bool_]
    centre: NDArray[np.float64]
    k: tuple[int, ...]
    start_w: NDArray[np.bool_]
    sp_w: NDArray[np.float64]
    rho: NDArray[np.float64]
    u: NDArray[np.float64]
    Y: NDArray[np.float64]
    coef: NDArray[np.float64]
    r0: NDArray[np.float64]


def _edge(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The voxels on either side of a mask's border: its own face-connected edge and the outside
    voxels touching it (the samples a starting surface is fitted to)."""
    edge = mask & ~erode_faces(mask)
    edge |= ~mask & ndimage.binary_dilation(mask)
    return edge


def _start_surface(idx: NDArray[np.int64], lo: Sequence[int], shape: NDArray[np.int64], sp: NDArray[np.float64],
                   pad: NDArray[np.int64], blocks: Callable[[tuple[int, ...]], tuple[int, ...]],
                   who: str) -> _Start | None:
    """The box (the mask's voxels ``idx`` + ``lo`` and ``pad``; ``idx`` is ``np.argwhere`` of the
    mask, whose box starts at ``lo``), the working grid (``blocks`` of the box's shape) and the
    star-shaped surface around the mask's centroid fitted to its edge (radius a polynomial of the
    direction), or None when that surface does not reproduce the mask (a tube, a leak: the model
    does not apply)."""
    blo = np.maximum(idx.min(0) + np.asarray(lo) - pad, 0)
    bhi = np.minimum(idx.max(0) + np.asarray(lo) + 1 + pad, shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(blo, bhi, strict=True))
    start = np.zeros(tuple(bhi - blo), dtype=bool)
    at = idx + np.asarray(lo) - blo  # = np.argwhere(start): idx is np.argwhere of the mask (same order)
    start[tuple(at.T)] = True
    centre = (at * sp).mean(0)  # mm from the box's first voxel
    k = blocks(start.shape)
    start_w = _block_mean(start, k) >= 0.5
    centre_w = centre - (np.asarray(k) - 1) / 2.0 * sp  # the blocks' centres
    sp_w = sp * np.asarray(k)
    rho, u = _polar(start_w.shape, sp_w, centre_w)
    Y = _direction_terms(u.reshape(-1, 3), C.LESION_BLUR_MODEL_DEGREE).reshape(start_w.shape + (-1,))
    edge = _edge(start_w)
    Ye = Y[edge]
    # least squares by the normal equations (LAPACK's lstsq starts BLAS threads, which then spin)
    coef = np.linalg.solve(Ye.T @ Ye + 1e-9 * np.eye(Ye.shape[1]), Ye.T @ rho[edge])
    r0 = Y @ coef  # the starting surface's radius at each voxel's direction
    agree = dice(rho <= r0, start_w)
    if agree < C.LESION_BLUR_MODEL_MIN_AGREEMENT:
        log.debug("%s: the star-shaped surface reaches Dice %.3f against the mask: not used", who, agree)
        return None
    return _Start(box, blo, start, centre, k, start_w, sp_w, rho, u, Y, coef, r0)


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


_Fit = tuple[float, NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]

#: the surfaces (and their evaluations, twice as many) a model remembers (:func:`_surface_model`)
_MODEL_MEMO = 4

_V = TypeVar("_V")


def _remember(memo: dict[Any, _V], key: Any, value: _V, size: int) -> _V:
    """``memo[key] = value``, the oldest entry dropped beyond ``size``; returns ``value``."""
    if len(memo) >= size:
        memo.pop(next(iter(memo)))
    memo[key] = value
    return value


def _surface_model(
    rho: NDArray[np.float64], Y: NDArray[np.float64], h: float | NDArray[np.float64], use: NDArray[np.bool_],
    X: NDArray[np.float64], w: NDArray[np.float64], P: NDArray[np.float64], *, inverse: bool = False,
    Yu: NDArray[np.float64] | None = None, memo: tuple[dict[Any, Any], dict[Any, Any]] | None = None,
) -> tuple[Callable[[NDArray[np.float64], Sequence[float]], _Fit],
           Callable[[NDArray[np.float64], Sequence[float]], tuple[NDArray[np.float64], float]]]:
    """The model ``a_i + b_i (G * S)`` on one working grid: ``fit(c, g)``, the noise-weighted
    residual of the surface ``c`` (a ramp of width ``h`` across it) blurred by a Gaussian of
    per-axis sigmas ``g`` (working voxels), with each phase's least-squares offset and scale
    (closed form): (chi^2, soft indicator, model, a, b) on the voxels ``use`` (data ``X``, phases x
    voxels, weights ``w``); and ``gauss_newton(c, g)``: the surface minimising chi^2 + c^T P c
    (the roughness prior), and its chi^2.  ``inverse`` (1.54): ``c`` gives 1 / radius^2
    (:func:`_inverse_radius`).  ``Yu``: ``Y[use]`` when the caller holds it (models on one band
    share it).  ``memo``: two dicts the model remembers its last evaluations in (below), for
    models that differ only in ``P`` to share."""
    Yu = Y[use] if Yu is None else Yu

    def radius(YY: NDArray[np.float64], c: NDArray[np.float64]) -> NDArray[np.float64]:
        return _inverse_radius(YY @ c) if inverse else YY @ c

    # the last evaluations, by coefficients (and blur): a fit is asked again for the same surface
    # (the blur scan, the quick look, a Gauss-Newton's first evaluation after the one before it
    # ended on), and the indicator is the same for every blur.  The same values; the arrays handed
    # out are shared, and no caller writes into them.
    fits: dict[tuple[bytes, tuple[float, ...]], _Fit]
    softs: dict[bytes, NDArray[np.float32]]
    fits, softs = ({}, {}) if memo is None else memo

    def fit(c: NDArray[np.float64], g: Sequence[float]) -> _Fit:
        key = np.asarray(c, dtype=np.float64).tobytes()
        fkey = (key, tuple(float(v) for v in g))
        known = fits.get(fkey)
        if known is not None:
            return known
        soft = softs.get(key)
        if soft is None:
            soft = np.clip(0.5 - (rho - radius(Y, c)) / h, 0.0, 1.0).astype(np.float32)
            _remember(softs, key, soft, _MODEL_MEMO)
        m = _kernels.gaussian_filter_nearest(soft, g)[use].astype(np.float64)  # scipy's, bit for bit
        chi2, a, b = _ls_fit(m, X, w)
        return _remember(fits, fkey, (chi2, soft, m, a, b), 2 * _MODEL_MEMO)

    def gauss_newton(c: NDArray[np.float64], g: Sequence[float],
                     info: dict[str, float] | None = None) -> tuple[NDArray[np.float64], float]:
        """Gauss-Newton on the surface's coefficients with the Jacobian of the starting surface
        (the chord method: the margin moves by a fraction of the blur, so its Jacobian barely
        changes), step halving on the exact objective (chi^2 + the surface's roughness).  Returns
        the coefficients and their chi^2 (the data's part of the objective).  ``info``, when
        given, receives the fit's effective number of surface parameters (``"edf"``: the trace of
        (H + P)^-1 H, the prior's shrinkage counted)."""
        chi2, soft, m, a, b = fit(c, g)
        if not np.isfinite(chi2):
            return c, chi2
        obj = chi2 + float(c @ P @ c)
        # d model / d coefficient k ~ Y_k x (G * ramp): the blur of the ramp x Y_k with Y_k
        # taken out (it varies little over the blur)
        ramp = (((soft > 0) & (soft < 1)) / h).astype(np.float32)
        j = _kernels.gaussian_filter_nearest(ramp, g)[use].astype(np.float64)
        if inverse:
            r_at = radius(Yu, c)
            j = j * (-0.5 * np.minimum(r_at, 1e3) ** 3)  # dR / ds = -R^3 / 2
        Jy = j[:, None] * Yu
        JtJ = Jy.T @ Jy
        for _ in range(C.LESION_BLUR_MODEL_STEPS):
            wb = w * b
            H = float(wb @ b) * JtJ
            r = wb @ X - float(wb @ a) - float(wb @ b) * m  # sum_i w_i b_i (x_i - a_i - b_i m)
            grad = Jy.T @ r - P @ c
            step = np.linalg.solve(H + P + 1e-4 * np.trace(H) / len(grad) * np.eye(len(grad)), grad)
            found = _halved_step(c, step, obj, P, lambda cand: fit(cand, g))
            if found is None:
                break
            t, c, obj, (chi2, soft, m, a, b) = found
            if inverse:
                r_new = radius(Yu, c)
                moved = float(np.abs(r_new - r_at).max())
                r_at = r_new
            else:
                moved = float(np.abs(t * step).max())
            if moved < C.LESION_BLUR_MODEL_TOLERANCE_MM:
                break
        if info is not None:
            H = float((w * b) @ b) * JtJ
            info["edf"] = float(np.trace(np.linalg.solve(H + P + 1e-4 * np.trace(H) / len(c) * np.eye(len(c)), H)))
        return c, chi2

    return fit, gauss_newton


def _halved_step(c: NDArray[np.float64], step: NDArray[np.float64], obj: float, P: NDArray[np.float64],
                 trial_of: Callable[[NDArray[np.float64]], tuple[Any, ...]]) -> tuple[float, NDArray[np.float64], float, tuple[Any, ...]] | None:
    """Step halving for the surface fits' Gauss-Newton (this module's, step 9's rimmed lesion): the
    first of ``c + t step``, t = 1, 1/2, 1/4, 1/8, whose objective (the chi^2 that ``trial_of`` returns
    first, plus the roughness prior ``P``) is below ``obj``, as (t, the coefficients, their objective,
    ``trial_of``'s result); None when none is (the fit has converged or the model is too stiff)."""
    t = 1.0
    while t > 0.1:
        cand = c + t * step
        trial = trial_of(cand)
        trial_obj = trial[0] + float(cand @ P @ cand)
        if trial_obj < obj:
            return t, cand, trial_obj, trial
        t /= 2.0
    return None


class _Band(NamedTuple):
    """The data step 12's surface is fitted to, on the start's working grid (:class:`_Start`): the
    partial-volume ramp's width ``h`` (mm), the band's voxels ``use``, their data ``X`` (phases x
    voxels), the phases' noise weights ``w`` and the direction terms ``Yu`` (``Y[use]``)."""

    h: float
    use: NDArray[np.bool_]
    X: NDArray[np.float64]
    w: NDArray[np.float64]
    Yu: NDArray[np.float64]


def _band(st: _Start, images: Sequence[NDArray[Any]], liver: NDArray[np.bool_] | None, *,
          exclude: bool, others: list[bool] | None) -> _Band:
    """The band within ``LESION_BLUR_MODEL_BAND_MM`` of the start's surface (in the liver or the
    start, when a liver mask is given), its data and weights (:class:`_Band`).  ``exclude`` and
    ``others``: :func:`_fit_surface`'s (another tissue's voxels left out; whether there are any)."""
    start_w, sp_w, rho, Y, r0 = st.start_w, st.sp_w, st.rho, st.Y, st.r0
    # the images only now (a large heterogeneous click region stops at the start's test)
    images_w = [_block_mean(np.asarray(im[st.box], dtype=np.float64), st.k) for im in images]
    liver_w = None if liver is None else _block_mean(np.asarray(liver[st.box]), st.k) >= 0.5

    h = float(sp_w.mean())  # the partial-volume ramp across the surface (one voxel)
    use = np.abs(rho - r0) <= C.LESION_BLUR_MODEL_BAND_MM
    if liver_w is not None:
        use &= liver_w | start_w
    if exclude or others is not None:
        bad = _other_tissue(images_w, start_w, rho, r0, use)
        if others is not None and not others:
            others.append(bad is not None and bool(np.any(bad & use)))
        if exclude and bad is not None:
            use &= ~ndimage.binary_dilation(bad)  # and their partial volume
    X = np.stack([im[use] for im in images_w])  # phases x voxels
    inner = use & (rho < r0 - C.LESION_BLUR_MODEL_BAND_MM / 2)
    noise = [max(robust_sigma(im[inner]) if np.count_nonzero(inner) > 20 else robust_sigma(x), 1.0)
             for im, x in zip(images_w, X, strict=True)]
    w = np.array([1.0 / n**2 for n in noise])  # noise weights per phase
    return _Band(h, use, X, w, Y[use])  # (Y[use]: the near-ellipsoid's models share it)


def _fit_surface(
    mask: NDArray[np.bool_],
    lo: NDArray[np.int64],
    images: Sequence[NDArray[Any]],
    spacing: Sequence[float],
    liver: NDArray[np.bool_] | None,
    *,
    exclude: bool = False,
    others: list[bool] | None = None,
    surfaces: str = "free",
    near: list[NDArray[np.bool_]] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.int64], float] | None:
    """The fit of :func:`blurred_border` (its tests before the agreement with the start included):
    the voxels inside the fitted surface (a box of the image starting at the second value) and the
    blur (mm), or None.  ``exclude`` (1.47): the working voxels of another tissue
    (:func:`_other_tissue`) and their face neighbours are left out of the fit; ``others``, when
    given and empty, receives whether there are any (before any test that may end the fit).
    ``surfaces`` "near_ellipsoid" (1.54) with ``near`` given: when the near-ellipsoid
    (:func:`_near_ellipsoid`) is preferred to the free surface, ``near`` receives its mask (same
    box and blur as the returned free one), for the caller to hold to the same tests."""
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
        return None  # not star-shaped around its centroid (a tube, a leak): the model does not apply
    box, blo, start, centre, k, start_w, sp_w, rho, u, Y, coef, r0 = st
    band = _band(st, images, liver, exclude=exclude, others=others)
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
    if near is not None and surfaces == "near_ellipsoid":
        near_coef = _near_ellipsoid(st, band, sigma, sse, info["edf"], dof)
        if near_coef is not None:
            inside = _inside(start.shape, sp, centre, near_coef, C.LESION_BLUR_MODEL_DEGREE, inverse=True)
            near.append(inside & liver[box] if liver is not None else inside)
    return out, blo.astype(np.int64), float(sigma)


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
                  r0: NDArray[np.float64], band: NDArray[np.bool_]) -> NDArray[np.bool_] | None:
    """1.47: the working voxels of another tissue than the lesion and its surroundings (fat, a
    vessel), or None when the levels cannot be read.  The lesion's level is the median of the
    starting mask's core (its part deeper than half ``LESION_BLUR_MODEL_BAND_MM``, or the whole
    mask), the surroundings' the median of the band ``band`` outside the mask; a voxel of a blurred
    lesion lies between the surroundings and the lesion's plateau, and the core's median falls short
    of that plateau (a small lesion's blurred core keeps about half its contrast), so a voxel is
    another tissue when it lies beyond both levels by more than ``LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS``
    times their difference plus ``LESION_SHARP_FIT_OUTLIER_K`` noise sigmas of the working grid
    (the ring's robust spread, floored at 1) on some phase."""
    half = C.LESION_BLUR_MODEL_BAND_MM / 2
    core = start_w & (rho < r0 - half)
    if np.count_nonzero(core) < 20:
        core = start_w
    ring = band & ~start_w & (rho > r0)
    if np.count_nonzero(ring) < 20 or not np.any(core):
        return None
    bad = np.zeros(start_w.shape, dtype=bool)
    for im in images_w:
        les, sur = float(np.median(im[core])), float(np.median(im[ring]))
        m = (C.LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS * abs(les - sur)
             + C.LESION_SHARP_FIT_OUTLIER_K * max(robust_sigma(im[ring]), 1.0))
        bad |= (im < min(les, sur) - m) | (im > max(les, sur) + m)
    return bad

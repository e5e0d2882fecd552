"""The star-shaped surface model shared by the surface fits of the lesion segmentation (private).

A lesion's border as a star-shaped surface r = R(direction) around a centre, R a polynomial of the
unit direction up to ``LESION_BLUR_MODEL_DEGREE`` (:func:`_direction_terms`, :func:`_radius`; or
1 / R^2 a polynomial, 1.54, :func:`_inverse_radius`), with its roughness beyond an ellipsoid's
(:func:`_roughness`), the voxels inside it on a grid (:func:`_inside`), a starting surface fitted
to a mask's edge on a working grid of averaged blocks (:func:`_start_surface`, :func:`_block_mean`),
and the image model ``a_i + b_i (G * S)`` fitted by Gauss-Newton (:func:`_surface_model`,
:func:`_halved_step`, the evidence of one fit over another, :func:`_evidence`).  Step 12's
blurred margin (:mod:`._blur`), step 12b's sharp border (:mod:`._sharp`), step 9's rimmed lesion
(:mod:`._rim`) and step 13's rind (:mod:`._rind`) are built on it.
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
from ._morph import dice, erode_faces, grid_mm

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


def _damped_solve(H: NDArray[np.float64], P: NDArray[np.float64],
                  rhs: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """``(H + P + 1e-4 trace(H) / n I)^-1 rhs``, the damped normal equations of :func:`_surface_model`'s
    Gauss-Newton (its step, and its effective parameter count); None when that matrix is singular (no contrast
    across the margin, H = 0 beside a prior with a null space: a noise-free plateau lesion, 2026-12-07)."""
    n = H.shape[0]
    try:
        return np.linalg.solve(H + P + 1e-4 * np.trace(H) / n * np.eye(n), rhs)  # type: ignore[no-any-return]
    except np.linalg.LinAlgError:
        return None


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
            step = _damped_solve(H, P, grad)
            if step is None:
                break  # (no contrast across the margin, wb @ b = 0: the data do not move the surface; it stays)
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
            shrunk = _damped_solve(H, P, H)
            info["edf"] = 0.0 if shrunk is None else float(np.trace(shrunk))  # (None: no contrast, nothing decided)
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

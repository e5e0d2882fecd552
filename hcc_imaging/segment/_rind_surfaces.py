"""Step 13's surfaces fitted (step 3 of :mod:`._rind`; private): the two nested surfaces drawn as partial-volume
indicators and blurred by the point-spread (:func:`_render`), step 12's Gauss-Newton steps on them
(:func:`_gauss_newton_steps`), the race of the ramps' and point-spreads' fits (:func:`_race`) and, on fine pixels,
the race on 2 x 2-pixel blocks handed to the pixels or to the per-direction correction (:func:`_coarse_to_fine`).

Moved out of :mod:`._rind` unchanged (session of 2026-12-07, sixth; the same values bit for bit), with
:func:`_threads` (the threads the fits run on; a test sets it to one here).  :mod:`._rind` re-exports these names,
which tests and benchmarks read there; the Gauss-Newton steps and the thread count are patched here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _kernels, _rind_coarse, _rind_gn
from . import constants as C
from ._rind_rays import _check
from ._rind_setup import _setup


def _threads() -> int:
    """The threads step 13's surface fits run on: ``LESION_RIND_THREADS``, at most the CPUs this
    process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(C.LESION_RIND_THREADS, cpus))


def _ramps(rho: NDArray[np.float64], u: NDArray[np.float64], sp: NDArray[np.float64]) -> list[NDArray[np.float32]]:
    """The surfaces' two partial-volume ramps (1.27), mm at each voxel: as wide as the mean spacing
    (an image sampled at the slices' centres; 1.24-1.26's only model), or as a voxel's extent along
    the direction ``u`` from the centre (a CT slice averages its thickness, so a surface facing the
    slices is drawn across it); each is fitted and the least chi^2 wins (docs/validation.md section
    2.2, "Algorithm 1.27")."""
    return [np.full(rho.shape, float(sp.mean()), dtype=np.float32),
            (np.abs(u[..., 0]) * sp[0] + np.abs(u[..., 1]) * sp[1] + np.abs(u[..., 2]) * sp[2]).astype(np.float32)]


def _indicator(rho: NDArray[np.float32], radius: NDArray[np.float32], h: NDArray[np.float32]) -> NDArray[np.float32]:
    """``clip(0.5 - (rho - radius) / h, 0, 1)`` in float32: a star-shaped surface of ``radius`` (a
    new array, overwritten and returned) drawn as a partial-volume ramp ``h`` wide, without
    temporaries."""
    np.subtract(rho, radius, out=radius)
    np.divide(radius, h, out=radius)
    np.subtract(np.float32(0.5), radius, out=radius)
    return np.clip(radius, 0, 1, out=radius)


def _surfaces(x: NDArray[np.float64], k: int, rho: NDArray[np.float32], y_t: NDArray[np.float32],
              hs: list[NDArray[np.float32]]) -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
    """The surfaces ``x`` (the core's terms, then the layer's) as partial-volume indicators (the
    core's, the layer's), one pair per ramp of ``hs``.  ``y_t``: the direction terms of the box's
    voxels, one row a term (float32: both radii in one product, a quarter of float64's two passes
    over the terms; 1e-6 mm on a 20 mm radius, 1.43), the product shared by the ramps."""
    radii = (np.stack([x[:k], x[k:]]).astype(np.float32) @ y_t).reshape((2,) + rho.shape)
    return [(_indicator(rho, r[0], h), _indicator(rho, r[1], h))
            for r, h in zip([radii.copy() for _ in hs[1:]] + [radii], hs, strict=True)]


def _both(fn: Callable[[Any], Any], a: Any, b: Any, pool: Executor | None) -> tuple[Any, Any]:
    """``fn(a), fn(b)``; with ``pool`` (an idle executor, not the one this thread is a worker of)
    ``fn(b)`` runs on it while this thread computes ``fn(a)``: the lone fit's two blurs on the
    second core (1.43's trailing fit stopped, the other runs on alone)."""
    if pool is None:
        return fn(a), fn(b)
    later = pool.submit(fn, b)
    return fn(a), later.result()


def _render(x: NDArray[np.float64], k: int, rho: NDArray[np.float32], y_t: NDArray[np.float32],
            use: NDArray[np.bool_], h: NDArray[np.float32], sig: list[float], data: NDArray[np.float64],
            soft: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None, pool: Executor | None = None,
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float32], NDArray[np.float32]]:
    """The surfaces ``x`` as partial-volume indicators (:func:`_surfaces`; ``soft``: the two when
    known) blurred by the point-spread: the least-squares values (P, R - P, N - R), the design on
    the voxels ``use`` (1, G * S_out, G * S_in), the fitted values, and the two indicators.
    ``pool``: an idle thread pool, when given the layer's blur runs on it beside the core's (the
    same values)."""
    s_in, s_out = _surfaces(x, k, rho, y_t, [h])[0] if soft is None else soft
    m_in, m_out = _both(lambda s: _kernels.gaussian_filter_nearest_at(s, sig, use).astype(np.float64),
                        s_in, s_out, pool)
    return (*_values(m_in, m_out, data), s_in, s_out)


def _values(m_in: NDArray[np.float64], m_out: NDArray[np.float64], data: NDArray[np.float64],
            ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_render`'s least squares from the blurred indicators ``m_in``, ``m_out`` at the fitted
    voxels: the values (P, R - P, N - R), the design and the fitted values."""
    x3 = np.stack([np.ones_like(m_in), m_out, m_in], 1)
    coef = np.linalg.solve(x3.T @ x3 + 1e-9 * np.eye(3), x3.T @ data)
    return coef, x3, x3 @ coef


def _jacobian(out: NDArray[np.float32], a_in: NDArray[np.float32], a_out: NDArray[np.float32],
              yu: NDArray[np.float32]) -> None:
    """Step 3's Jacobian into ``out`` (voxels x 2k, float32): ``a_in[:, None] * yu`` then ``a_out[:, None]
    * yu``, the two surfaces' ramps blurred and scaled (``a_in``, ``a_out``) times the fitted voxels'
    direction terms ``yu``.  By the compiled ``scaled_rows`` (the same products, in half numpy's
    time) when the kernels are on."""
    m = _kernels.compiled()
    if m is not None and all(v.dtype == np.float32 and v.flags.c_contiguous for v in (out, a_in, a_out, yu)):
        m.scaled_rows(out, a_in, a_out, yu)
        return
    k = yu.shape[1]
    np.multiply(a_in[:, None], yu, out=out[:, :k])
    np.multiply(a_out[:, None], yu, out=out[:, k:])


def _ramp_blur(soft: NDArray[np.float32], h: NDArray[np.float32], sig: list[float],
               use: NDArray[np.bool_]) -> NDArray[np.float32]:
    """A surface's partial-volume ramp (the voxels of ``soft`` strictly between 0 and 1, over its width
    ``h``) blurred by the point-spread ``sig`` (voxels), at the voxels ``use``: d soft / d radius,
    blurred, the Jacobian's factor (step 3's fits and 1.53's per-direction correction)."""
    ramp = ((soft > 0) & (soft < 1)) / h
    return _kernels.gaussian_filter_nearest_at(ramp, sig, use)  # type: ignore[no-any-return]


class _State(NamedTuple):
    """A fit's state at its coefficients: chi^2 + prior, the noise-weighted residual, the
    least-squares values and the design (:func:`_render`'s), and the two indicators."""

    obj: float
    r: NDArray[np.float64]
    coef: NDArray[np.float64]
    x3: NDArray[np.float64]
    s_in: NDArray[np.float32]
    s_out: NDArray[np.float32]


def _gauss_newton_steps(x0: NDArray[np.float64], k: int, rho: NDArray[np.float32], y_t: NDArray[np.float32],
                        yu: NDArray[np.float32], use: NDArray[np.bool_], h: NDArray[np.float32], sig: list[float],
                        data: NDArray[np.float64], noise: float, prior: NDArray[np.float64],
                        steps: int = C.LESION_RIND_MAX_ITERATIONS, start: _State | None = None,
                        soft: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
                        aside: list[Executor | None] | None = None, restrict: bool = True,
                        ) -> Iterator[tuple[NDArray[np.float64], _State]]:
    """Step 12's chord Gauss-Newton for two surfaces (step 3), at most ``steps`` steps: yields (the
    coefficients, their :class:`_State`) at the start and after each accepted step (1.43: so that
    two fits can be run side by side and the one left behind stopped).  ``y_t``: the box's direction
    terms (:func:`_render`), ``yu``: those of the voxels ``use``, one row a voxel; ``start``: the
    state at ``x0`` when it is known (a fit continued from the screen's step: not rendered again),
    else ``soft``: its indicators when known (the screen's start, the same for every point-spread).
    The Jacobian and its normal matrix are float32 (1.43: half the time of float64's; the step is a
    direction, the objective it is accepted on is float64).  The ramps' blurs are taken when a step
    needs them, not after the last accepted one.  The fit ends when a step moves no coefficient by
    0.01 mm or (1.55) lowers chi^2 + prior by less than ``LESION_RIND_MIN_DECREASE_CHI2``.  ``aside``:
    a one-item list, read at each step, holding an idle executor while the fit runs alone (its two
    blurs at a time, :func:`_both`) or None.  ``restrict``: the surfaces rendered only where the blurs read
    (:class:`._rind_gn.Evaluator`; not for the pixels' few evaluations)."""

    def pool() -> Executor | None:
        return None if aside is None else aside[0]

    # (2026-12-06, eighth: the evaluation by compiled passes when the kernels are on, :mod:`._rind_gn`)
    gn = _rind_gn.kernels()
    ev = None if gn is None else _rind_gn.Evaluator(gn, rho, y_t, h, sig, use, data, noise, restrict)

    def evaluate(x: NDArray[np.float64], soft: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None) -> _State:
        if ev is not None:
            chi2, r, coef, x3, s_in, s_out = ev.render(x, soft, pool())
            return _State(chi2 + float(x @ prior @ x), r, coef, x3, s_in, s_out)
        coef, x3, fitted, s_in, s_out = _render(x, k, rho, y_t, use, h, sig, data, soft, pool())
        r = (data - fitted) / noise
        return _State(float(r @ r) + float(x @ prior @ x), r, coef, x3, s_in, s_out)

    def ramp_blurs(st: _State) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        if ev is not None:
            return ev.ramp_blurs(st.s_in, st.s_out, pool())
        return _both(lambda soft: _ramp_blur(soft, h, sig, use), st.s_in, st.s_out, pool())

    x = x0.copy()
    st = evaluate(x, soft) if start is None else start
    yield x, st
    jac = np.empty((yu.shape[0], 2 * k), dtype=np.float32)  # filled in place at each step (a new array each time: ~1 ms)
    for _ in range(steps):
        b_in, b_out = ramp_blurs(st)
        a_in = np.float32(st.coef[2] / noise) * b_in
        a_out = np.float32(st.coef[1] / noise) * b_out
        _jacobian(jac, a_in, a_out, yu)
        # (2026-12-06, eighth session: the score J^T r on the idle executor beside the normal matrix J^T J, when there is one: the
        # same two products)
        side = pool()
        later = None if side is None else side.submit(np.matmul, jac.T, st.r.astype(np.float32))
        hess = (jac.T @ jac).astype(np.float64)
        score = jac.T @ st.r.astype(np.float32) if later is None else later.result()
        grad = score.astype(np.float64) - prior @ x
        step = np.linalg.solve(hess + prior + 1e-4 * np.trace(hess) / len(x) * np.eye(len(x)), grad)
        before = st.obj
        t = 1.0
        while t > 0.05:
            cand = x + t * step
            trial = evaluate(cand)
            if trial.obj < st.obj:
                x, st = cand, trial
                yield x, st
                break
            t /= 2.0
        else:
            return
        if float(np.abs(t * step).max()) < 0.01 or before - st.obj < C.LESION_RIND_MIN_DECREASE_CHI2:
            return


def _race(cands: list[tuple[NDArray[np.float32], float]], x0: NDArray[np.float64], k: int, rho32: NDArray[np.float32],
          y_t: NDArray[np.float32], yu: NDArray[np.float32], use: NDArray[np.bool_], sp: NDArray[np.float64],
          data: NDArray[np.float64], noise: float, prior: NDArray[np.float64],
          soft0: list[tuple[NDArray[np.float32], NDArray[np.float32]]],
          stop: threading.Event | None, n_psf: int = len(C.LESION_RIND_PSF_MM),
          extra_mm2: tuple[float, float, float] = (0.0, 0.0, 0.0),
          handover: Callable[[int, _State], bool] | None = None) -> tuple[int, NDArray[np.float64], _State]:
    """Step 3's fits: the two surfaces from ``x0`` with each candidate of ``cands`` (a ramp, a
    point-spread in mm), ``LESION_RIND_PSF_STEPS`` steps each (the screen; ``soft0``: the start's
    indicators per ramp; ``cands`` ramp by ramp, ``n_psf`` point-spreads each), then the two best fitted on side by side, a step each at a time, one
    that trails the other by ``LESION_RIND_TRAILING_CHI2`` stopped (1.43).  Returns the winner's
    index in ``cands``, its coefficients and :class:`_State`.  The fits are independent: on up to
    ``LESION_RIND_THREADS`` threads, the same results.  ``extra_mm2``: a variance (mm^2) per axis
    added to each point-spread's (1.55's coarse stage: the 2 x 2-pixel blocks' average)."""
    def fit(j: int, start: tuple[NDArray[np.float64], _State] | None, steps: int) -> Iterator[tuple[NDArray[np.float64], _State]]:
        h_j, psf_j = cands[j]
        x_j, st_j = (x0, None) if start is None else start
        sig = [float(np.sqrt(psf_j**2 + e)) / w for w, e in zip(sp, extra_mm2, strict=True)]
        return _gauss_newton_steps(x_j, k, rho32, y_t, yu, use, h_j, sig, data, noise, prior,
                                   steps, st_j, soft0[j // n_psf], aside)

    def last(run: Iterator[tuple[NDArray[np.float64], _State]]) -> tuple[NDArray[np.float64], _State]:
        for state in run:
            _check(stop)
        return state

    # (the executor a fit running alone hands its second blur to, while it does: :func:`_both`)
    aside: list[Executor | None] = [None]
    with ThreadPoolExecutor(_threads()) as pool:
        fits = list(pool.map(lambda j: last(fit(j, None, C.LESION_RIND_PSF_STEPS)), range(len(cands))))
        best = [int(i) for i in np.argsort([f[1].obj for f in fits])[:2]]
        # the two fitted on side by side from the screen's states, a step each at a time; one whose
        # chi^2 + prior lies LESION_RIND_TRAILING_CHI2 above the other's is stopped (1.43; the better one
        # wins either way)
        runs = {j: fit(j, fits[j], C.LESION_RIND_MAX_ITERATIONS) for j in best}
        finals = {j: fits[j] for j in best}
        going = list(best)
        rounds = 0
        while going:
            _check(stop)
            if handover is not None and rounds == C.LESION_RIND_HANDOVER_STEPS:
                # 1.65: the leader's shape is one the degree-4 surfaces do not follow (a lobulated rind):
                # the correction per direction takes over from here (:mod:`._rind_coarse`)
                lead_j = min(going, key=lambda i: finals[i][1].obj)
                if handover(lead_j, finals[lead_j][1]):
                    break
            rounds += 1
            if len(going) == 1 and _threads() > 1:
                # one fit left: run here, its two blurs at a time on the idle pool (the same values)
                aside[0] = pool
                try:
                    states = [next(runs[going[0]], None)]
                finally:
                    aside[0] = None
            else:
                states = list(pool.map(lambda j: next(runs[j], None), going))
            finals.update((j, st) for j, st in zip(going, states) if st is not None)
            lead = min(finals[i][1].obj for i in best)
            going = [j for j, st in zip(going, states)
                     if st is not None and st[1].obj <= lead + C.LESION_RIND_TRAILING_CHI2]
    j = min(finals, key=lambda i: finals[i][1].obj)
    return j, finals[j][0], finals[j][1]


def _coarse_to_fine(a: NDArray[np.float64], liv: NDArray[np.bool_] | None, sp: NDArray[np.float64],
                    centre: NDArray[np.float64], x0: NDArray[np.float64], k: int, degree: int, psfs: tuple[float, ...],
                    cands: list[tuple[NDArray[np.float32], float]], rho32: NDArray[np.float32], y_t: NDArray[np.float32],
                    yu: NDArray[np.float32], use: NDArray[np.bool_], data: NDArray[np.float64], noise: float,
                    prior: NDArray[np.float64], stop: threading.Event | None,
                    pool: Executor | None = None) -> tuple[int, NDArray[np.float64], _State]:
    """1.55: step 3's fits coarse to fine.  :func:`_race` on the fit's box ``a`` averaged over 2 x 2
    pixels (its ramps the pixels' own, as in ``rind_border``, at the blocks' directions; each
    point-spread widened in-plane by the blocks' average, a variance of (pixel / 2)^2; the noise
    halved, as white noise's is; the liver, when given, a block at least half in it), from the
    start ``x0``; then the winner's ramp and point-spread (``cands``' same index, on the pixels: ``rho32``
    ... ``data``, as ``rind_border`` set them up) fitted on by at most ``LESION_RIND_FINE_STEPS``
    Gauss-Newton steps on the pixels from the coarse fit's surfaces (1.58: 0, the coarse fit's surfaces
    rendered on the pixels: the values and the state the checks and 1.53's correction read).  Returns what :func:`_race`
    returns, on the pixels (docs/validation.md section 2.4, "Step 13's speed (session of
    2026-12-06)").  ``pool``: :func:`rind_border`'s side thread (the blocks' set-up in two slabs, the
    pixels' step's two blurs at a time), or None.  1.67: a race handed over to the correction returns the
    blocks' state, without the pixels' step."""
    nz, ny, nx = a.shape[0], a.shape[1] // 2, a.shape[2] // 2

    def blocks(v: NDArray[Any]) -> NDArray[np.float64]:
        return v[:, :2 * ny, :2 * nx].reshape(nz, ny, 2, nx, 2).mean((2, 4))  # type: ignore[no-any-return]

    a_c = blocks(a)
    sp_c = sp * np.array([1.0, 2.0, 2.0])
    # a block's centre lies half a pixel beyond its first pixel's
    rho, u, use_c, _, y_tc, yu_c = _setup(a_c.shape, sp_c, centre - np.array([0.0, 0.5 * sp[1], 0.5 * sp[2]]), x0,
                                          degree, None if liv is None else blocks(liv) >= 0.5, pool)
    ramps_c = _ramps(rho, u, sp)
    rho_c32 = rho.astype(np.float32)
    cands_c = [(h, v) for h in ramps_c for v in psfs]
    extra = (0.0, (sp[1] / 2.0) ** 2, (sp[2] / 2.0) ** 2)

    def handover(jj: int, state: _State) -> bool:
        h_j, psf_j = cands_c[jj]
        sig_j = [float(np.sqrt(psf_j**2 + e)) / w for w, e in zip(sp_c, extra, strict=True)]
        # (only to a correction that runs: not when its own test's threshold is out of reach)
        z_min = max(C.LESION_RIND_HANDOVER_Z, C.LESION_RIND_NODES_MIN_SCORE_Z)
        handed[0] = _rind_coarse.misfit_z(state, h_j, sig_j, use_c, u, noise / 2.0) >= z_min
        return handed[0]

    handed = [False]
    j, x, st_c = _race(cands_c, x0, k, rho_c32, y_tc, yu_c, use_c, sp_c, a_c[use_c], noise / 2.0, prior,
                       _surfaces(x0, k, rho_c32, y_tc, ramps_c), stop, len(psfs), extra, handover)
    _check(stop)
    h, psf = cands[j]
    sig_c = [float(np.sqrt(psf**2 + e)) / w for w, e in zip(sp_c, extra, strict=True)]
    blocks_grid = _rind_coarse.Grid(rho_c32, y_tc, u, use_c, ramps_c[j // len(psfs)], sig_c, a_c[use_c], noise / 2.0,
                                     handed[0])
    if handed[0]:
        # 1.67: a race handed over to the correction takes no step on the pixels: the correction on the blocks
        # starts from the blocks' surfaces (it moves them further than a step would), and the values and
        # checks read the blocks' state (``Grid.handed``: its fitted blocks and their noise)
        return j, x, st_c, blocks_grid
    for x, st in _gauss_newton_steps(x, k, rho32, y_t, yu, use, h, [psf / w for w in sp], data, noise, prior,
                                     C.LESION_RIND_FINE_STEPS, aside=[pool], restrict=False):
        _check(stop)
    return j, x, st, blocks_grid

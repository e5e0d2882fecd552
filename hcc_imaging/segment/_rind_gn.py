"""Step 13's surface fits' model evaluation by compiled passes (:func:`._rind_surfaces._gauss_newton_steps`; private).

2026-12-06, eighth session (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06,
eighth)"): a Gauss-Newton step of the blocks' race spent most of its ~2.4 ms in the evaluation of the
model (the radii's float32 product over the whole box ~0.5-0.75 ms, the indicators' four passes, the
blurs, the least squares' small products and numpy's per-call overhead).  :class:`Evaluator` does the
same work with :mod:`._rind_gn_nb`'s passes, only on the voxels the blurs at the fitted voxels read
(``blur_reads``; the pixels' step, one or two evaluations, on the whole box): both indicators in one pass,
a ramp in one, the blurs by the same compiled kernel as :func:`._kernels.gaussian_filter_nearest_at` (its
weights taken once per fit), the radii by the same numpy float32 product on those voxels' columns of the
terms (copied once a box, :func:`_reads`) and the least squares by the same numpy products: the numpy
path's values bit for bit.  :class:`NodeSurfaces` does the same for 1.53's corrected surfaces and slopes.  None of this when the kernels are off (``HCC_IMAGING_JIT=0``): the numpy path runs.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _kernels


def kernels() -> Any:
    """:mod:`._rind_gn_nb`, or None when the kernels are off (:func:`._kernels.compiled`)."""
    if _kernels.compiled() is None:
        return None
    from . import _rind_gn_nb

    return _rind_gn_nb


def _both(fn: Any, a: Any, b: Any, pool: Executor | None) -> tuple[Any, Any]:
    """``fn(a), fn(b)``, ``fn(b)`` on ``pool`` when given (as :func:`._rind_surfaces._both`)."""
    if pool is None:
        return fn(a), fn(b)
    later = pool.submit(fn, b)
    return fn(a), later.result()


_READS_LOCK = threading.Lock()
#: the last box's voxels the blurs read and their terms: (weak references to y_t and use, radii, idx, y_need)
#: (the screen's and the race's fits on a box share them: one copy of the terms, not one a fit)
_READS: list[tuple[Any, ...]] = []


def _reads(nb: Any, y_t: NDArray[np.float32], use: NDArray[np.bool_],
           radii: list[int]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The voxels a blur of ``radii`` (voxels per axis) at ``use`` reads, and ``y_t``'s columns there: the
    last box's when it is this one (the same arrays) and its radii are as large, else those of the larger radii."""
    with _READS_LOCK:
        same = bool(_READS) and _READS[0][0]() is y_t and _READS[0][1]() is use
        if same and all(a >= b for a, b in zip(_READS[0][2], radii, strict=True)):
            return _READS[0][3], _READS[0][4]
        if same:
            radii = [max(a, b) for a, b in zip(_READS[0][2], radii, strict=True)]
        idx = nb.blur_reads(use, *radii)
        y_need = np.ascontiguousarray(y_t[:, idx])
        _READS[:] = [(weakref.ref(y_t), weakref.ref(use), list(radii), idx, y_need)]
        return idx, y_need


#: the fewest voxels :meth:`Evaluator.surfaces` splits over two threads, and the multiple of columns a half
#: starts at (2026-12-06, eighth session)
_SPLIT_MIN = 65536
_SPLIT_ALIGN = 256


class Evaluator:
    """The model of one fit (the box's distances ``rho``, direction terms ``y_t``, the ramp ``h``, the
    point-spread ``sig`` in voxels, the fitted voxels ``use`` and their ``data``, the ``noise``) evaluated
    at coefficients by the compiled passes; ``nb``: :func:`kernels`' module (not None)."""

    def __init__(self, nb: Any, rho: NDArray[np.float32], y_t: NDArray[np.float32], h: NDArray[np.float32],
                 sig: list[float], use: NDArray[np.bool_], data: NDArray[np.float64], noise: float,
                 restrict: bool = True) -> None:
        self.nb, self.kn = nb, _kernels.compiled()
        self.shape = rho.shape
        self.rho = np.require(rho, np.float32, "C").reshape(-1)
        self.y_t = np.require(y_t, np.float32, "C")
        self.h = np.require(h, np.float32, "C").reshape(-1)
        self.w = [_kernels._gaussian_weights(float(s), 4.0) for s in sig]
        self.use = np.require(use, np.bool_, "C")
        self.data = np.require(data, np.float64, "C")
        self.noise = float(noise)
        # the voxels the blurs read (one more voxel along each axis: a consumer of the state whose
        # point-spread rounds to one more voxel of radius reads within), and their direction terms; the
        # whole box for a fit of one evaluation (the pixels' step: the terms' copy would cost what it saves)
        if restrict:
            self.idx, self.y_need = _reads(nb, self.y_t, self.use, [(len(v) - 1) // 2 + 1 for v in self.w])
        else:
            self.idx, self.y_need = np.arange(self.rho.size), self.y_t
        # (2026-12-06, eighth session: the whole box's surfaces, the pixels' step's, are rendered by halves on ``pool``)
        self.whole = not restrict

    def blur(self, soft: NDArray[np.float32]) -> NDArray[np.float32]:
        """``soft`` (the box's shape, float32) blurred by the point-spread at the fitted voxels: the values
        :func:`._kernels.gaussian_filter_nearest_at` gives (the same kernel and weights)."""
        return self.kn.gaussian_nearest_at(soft, *self.w, self.use)  # type: ignore[no-any-return]

    def surfaces(self, x: NDArray[np.float64], pool: Executor | None = None) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The surfaces ``x`` as partial-volume indicators (the box's shape) at the voxels the blurs read,
        0 elsewhere: there :func:`._rind_surfaces._surfaces`' with one ramp, bit for bit (the same float32
        product, on those voxels' columns of the terms: BLAS sums each element over the terms alone, so
        a column's radius does not depend on the others, checked by ``tests/segment/test_segment_rind_gn.py``
        and on every rind fit of ``segment_results.py``)."""
        k = self.y_t.shape[0]
        xx = np.stack([x[:k], x[k:]]).astype(np.float32)
        s_in = np.zeros(self.rho.shape, np.float32)
        s_out = np.zeros(self.rho.shape, np.float32)
        n = self.idx.shape[0]
        if pool is None or n < _SPLIT_MIN:
            self.nb.indicators_at_into(xx @ self.y_need, self.idx, self.rho, self.h, s_in, s_out)
        else:
            # 2026-12-06 (eighth session): by halves of the voxels on two threads, each half's radii the same product
            # on its columns (the same values: see the docstring) and its indicators at its own voxels
            def part(j0: int, j1: int) -> None:
                self.nb.indicators_at_into(xx @ self.y_need[:, j0:j1], self.idx[j0:j1], self.rho, self.h, s_in, s_out)

            cut = n // 2 // _SPLIT_ALIGN * _SPLIT_ALIGN
            later = pool.submit(part, cut, n)
            part(0, cut)
            later.result()
        return s_in.reshape(self.shape), s_out.reshape(self.shape)

    def render(self, x: NDArray[np.float64], soft: tuple[NDArray[np.float32], NDArray[np.float32]] | None,
               pool: Executor | None) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                                               NDArray[np.float32], NDArray[np.float32]]:
        """At the coefficients ``x`` (``soft``: their indicators when known): chi^2 (without the prior), the
        noise-weighted residual, the values (P, R - P, N - R), the design and the two indicators, as
        :func:`._rind_surfaces._render` and :func:`._rind_surfaces._values` give them, bit for bit.  ``pool``: an idle
        executor, the layer's blur on it beside the core's (and, on the whole box, half the surfaces: 2026-12-06, eighth session)."""
        s_in, s_out = self.surfaces(x, pool if self.whole else None) if soft is None else soft
        m_in, m_out = _both(lambda s: self.blur(s).astype(np.float64), np.require(s_in, np.float32, "C"),
                            np.require(s_out, np.float32, "C"), pool)
        # (:func:`._rind_surfaces._values`' operations, the same products)
        x3 = np.stack([np.ones_like(m_in), m_out, m_in], 1)
        coef = np.linalg.solve(x3.T @ x3 + 1e-9 * np.eye(3), x3.T @ self.data)
        r = (self.data - x3 @ coef) / self.noise
        return float(r @ r), r, coef, x3, s_in, s_out

    def ramp_blurs(self, s_in: NDArray[np.float32], s_out: NDArray[np.float32],
                   pool: Executor | None) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Both surfaces' ramps blurred at the fitted voxels (:func:`._rind_surfaces._ramp_blur`'s values, bit for bit;
        the ramps only where the blurs read)."""
        b_in = np.zeros(self.rho.shape, np.float32)
        b_out = np.zeros(self.rho.shape, np.float32)
        self.nb.ramp_at_into(np.require(s_in, np.float32, "C").reshape(-1), self.idx, self.h, b_in)
        self.nb.ramp_at_into(np.require(s_out, np.float32, "C").reshape(-1), self.idx, self.h, b_out)
        return _both(self.blur, b_in.reshape(self.shape), b_out.reshape(self.shape), pool)


class NodeSurfaces:
    """1.53's corrected surfaces (:func:`._rind._node_offsets`' ``surface``) by compiled passes: the radii
    ``radii`` (float32, 2 x the box's voxels) plus the node offsets through the bilinear ``weights`` (CSR,
    the box's voxels x nodes), computed only at the voxels the blur at ``use`` reads (:func:`._rind_gn_nb.blur_reads`;
    the CSR rows' sums are the whole product's, row by row), the indicator in one pass, the blur by the same
    kernel and weights: the blurred values bit for bit (the indicator's other voxels are left 0: nothing
    reads them but the blur, and it does not)."""

    def __init__(self, nb: Any, rho: NDArray[np.float32], h: NDArray[np.float32], sig: list[float],
                 use: NDArray[np.bool_]) -> None:
        self.nb, self.kn = nb, _kernels.compiled()
        self.shape = rho.shape
        self.rho = np.require(rho, np.float32, "C").reshape(-1)
        self.h = np.require(h, np.float32, "C").reshape(-1)
        self.w = [_kernels._gaussian_weights(float(s), 4.0) for s in sig]
        self.use = np.require(use, np.bool_, "C")
        self.idx = nb.blur_reads(self.use, *[(len(v) - 1) // 2 for v in self.w])

    def offsets(self, weights: Any, radii: NDArray[np.float32]) -> None:
        """The node weights (CSR, the box's voxels x nodes) and the two surfaces' radii (float32, 2 x the
        box's voxels) :meth:`surface` reads (the score test's slopes do not)."""
        self.w_need = weights[self.idx]
        self.radii = np.require(radii, np.float32, "C")

    def surface(self, i: int, d: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """Surface ``i`` (0 the core's, 1 the layer's) with the node offsets ``d`` (that surface's): its
        indicator (the box's shape; 0 where the blur does not read) and its blur at the fitted voxels (float64)."""
        soft = np.zeros(self.rho.shape, np.float32)
        self.nb.offset_indicator_into(self.radii[i], self.idx, self.w_need @ d, self.rho, self.h, soft)
        soft = soft.reshape(self.shape)
        return soft, self.kn.gaussian_nearest_at(soft, *self.w, self.use).astype(np.float64)

    def ramp_blur(self, soft: NDArray[np.float32]) -> NDArray[np.float64]:
        """:func:`._rind_surfaces._ramp_blur` of the indicator ``soft`` (the box's shape) as float64, bit for bit: the
        ramp only where the blur reads."""
        ramp = np.zeros(self.rho.shape, np.float32)
        self.nb.ramp_at_into(np.require(soft, np.float32, "C").reshape(-1), self.idx, self.h, ramp)
        return self.kn.gaussian_nearest_at(ramp.reshape(self.shape), *self.w, self.use).astype(np.float64)  # type: ignore[no-any-return]


def warm_up() -> None:
    """Compile (first time ever) or load from numba's cache this module's kernels on a tiny box (the first
    rind click in a process otherwise loads them; ``_kernels.warm_up`` may call this)."""
    nb = kernels()
    if nb is None:
        return
    rho = np.arange(60, dtype=np.float32).reshape(3, 4, 5) / 10.0
    h = np.full(rho.shape, 0.7, np.float32)
    use = np.zeros(rho.shape, bool)
    use[1, 1:3, 1:4] = True
    y_t = np.ones((2, rho.size), np.float32)
    ev = Evaluator(nb, rho, y_t, h, [0.5, 0.8, 0.8], use, np.ones(int(use.sum())), 1.0)
    _, _, _, _, s_in, s_out = ev.render(np.array([1.0, 0.5, 2.0, 0.5]), None, None)
    ev.ramp_blurs(s_in, s_out, None)
    ev.surfaces(np.array([1.0, 0.5, 2.0, 0.5]))
    nb.offset_indicator_into(y_t[0], ev.use.reshape(-1).nonzero()[0], np.zeros(int(use.sum())), ev.rho, ev.h,
                             np.zeros(rho.size, np.float32))
    nb.blur_reads(ev.use, 1, 2, 2)
    nb.ramp_at_into(s_in.reshape(-1), ev.use.reshape(-1).nonzero()[0], ev.h, np.zeros(rho.size, np.float32))

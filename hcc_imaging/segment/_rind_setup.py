"""Step 13's fit set-up (:mod:`._rind`; private; split from it in the session of 2026-12-06, second).

The voxels the two surfaces' fit reads and their direction terms (:func:`_setup`, by the compiled
:func:`._rind_nb.fit_setup` when the kernels are on), the start's surfaces' band (:func:`_near_start`),
the float32 terms (:func:`_float32_terms`) and the corrected layer's mask without the box's float64
terms (:func:`_inside_corrected`).  docs/validation.md section 2.4, "Step 13's speed (session of
2026-12-06, second)".
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from ._surface import _direction_terms, _exponent_arrays, _polar, _radius


def _rind_kernels() -> Any:
    """:mod:`._rind_nb` (step 13's rays' compiled passes, the numpy path's values to rounding), or
    None when the kernels are off (:func:`._kernels.compiled`)."""
    if _kernels.compiled() is None:
        return None
    from . import _rind_nb

    return _rind_nb


def _near_start(rho: NDArray[np.float64], y: NDArray[np.float64], x0: NDArray[np.float64], k: int,
                inside_liver: NDArray[np.bool_] | None) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """The voxels step 3 fits: within 5 mm of the start's surfaces (``x0``: the inner's then the
    outer's ``k`` coefficients on the direction terms ``y``; ``rho`` the distance from the centre, mm),
    and, with a liver, inside it or inside the outer surface; and the inner surface's radius at each
    voxel (mm)."""
    r_in0, r_out0 = y @ x0[:k], y @ x0[k:]
    use = (rho <= r_out0 + 5.0) & (rho >= np.maximum(r_in0 - 5.0, 0.0))
    if inside_liver is not None:
        use &= inside_liver | (rho <= r_out0)
    return use, r_in0


def _setup(shape: tuple[int, ...], sp: NDArray[np.float64], centre: NDArray[np.float64], x0: NDArray[np.float64],
           degree: int, liv: NDArray[np.bool_] | None, pool: Executor | None = None,
           ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64], NDArray[np.float32],
                      NDArray[np.float32]]:
    """Step 3's set-up on a box of ``shape`` (spacing ``sp``, the surfaces' centre ``centre`` mm, the
    start ``x0``, the liver ``liv`` or None): each voxel's distance (mm) and unit direction
    (:func:`._surface._polar`), the voxels fitted and the start's inner radius (:func:`_near_start`),
    and the direction terms in float32 (:func:`_float32_terms`).  By the compiled ``fit_setup`` (one
    pass; the radii summed term by term, not by a matrix product: the same to rounding) when the
    kernels are on (2026-12-06, second session).  ``pool``: an idle executor; when given, the box's
    second half of slices is set up on it beside the first (``fit_setup_slab``: the same values, the
    fitted rows in the box's order; 2026-12-06, seventh session)."""
    fast = _rind_kernels()
    if fast is not None:
        ea, eb, ec = _exponent_arrays(degree)
        lv = np.zeros(1, dtype=bool) if liv is None else np.require(liv.reshape(-1), bool, "C")
        nz, ny, nx = (int(v) for v in shape)
        args = (nz, ny, nx, np.asarray(sp, np.float64), np.asarray(centre, np.float64), ea, eb, ec, int(degree),
                np.require(x0, np.float64, "C"), lv, liv is not None)
        if pool is None or nz < 2:
            rho, u, use, r_in0, y_t, yu = fast.fit_setup(*args)
        else:
            n = nz * ny * nx
            rho, u, use, r_in0 = np.empty(n), np.empty((n, 3)), np.zeros(n, dtype=bool), np.empty(n)
            y_t = np.empty((ea.shape[0], n), dtype=np.float32)
            out = (rho, u, use, r_in0, y_t)
            later = pool.submit(fast.fit_setup_slab, nz // 2, nz, *args, *out)
            first = fast.fit_setup_slab(0, nz // 2, *args, *out)
            yu = np.concatenate([first, later.result()])
        return rho.reshape(shape), u.reshape(tuple(shape) + (3,)), use.reshape(shape), r_in0.reshape(shape), y_t, yu
    rho, u = _polar(shape, sp, centre)
    y = _direction_terms(u.reshape(-1, 3), degree).reshape(tuple(shape) + (-1,))
    k = y.shape[-1]
    use, r_in0 = _near_start(rho, y, x0, k, liv)
    y_t, yu = _float32_terms(y.reshape(-1, k), use.reshape(-1))
    return rho, u, use, r_in0, y_t, yu


class LayerRadius:
    """The layer's surface ``coef``'s radius at every voxel of the box from the float32 terms ``y_t`` (float64 of the
    float32 product), computed once when first asked for (2026-12-06, eighth session: :func:`._rind_coarse.offsets_near_layer` and
    :func:`_inside_corrected` read the same product; ~3-5 ms each on a fine box)."""

    def __init__(self, coef: NDArray[np.float64], y_t: NDArray[np.float32]) -> None:
        self.coef, self.y_t = coef, y_t
        self._value: NDArray[np.float64] | None = None
        self._thread: threading.Thread | None = None

    def _compute(self) -> NDArray[np.float64]:
        self._value = value = (self.coef.astype(np.float32) @ self.y_t).astype(np.float64)
        return value

    def start(self) -> None:
        """Compute it on a thread of its own from now (the correction's fit leaves a core idle at times: the
        same product)."""
        if self._value is None and self._thread is None:
            self._thread = threading.Thread(target=self._compute, name="rind_layer_radius", daemon=True)
            self._thread.start()

    def get(self) -> NDArray[np.float64]:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return self._compute() if self._value is None else self._value


def _inside_corrected(rho: NDArray[np.float64], u: NDArray[np.float64], y_t: NDArray[np.float32],
                      coef: NDArray[np.float64], offsets: NDArray[np.float64], degree: int,
                      radius: LayerRadius | None = None) -> NDArray[np.bool_]:
    """The voxels inside the layer's surface ``coef`` with its per-direction correction ``offsets``
    (per voxel, mm): ``rho <= radius + offsets``, the radius from the float32 terms ``y_t`` (one
    product; within ~1e-4 mm of float64's) and, for the voxels within ``_RADIUS_BAND_MM`` of that,
    from the float64 terms (:func:`._surface._radius`), so that the mask is float64's (2026-12-06,
    second session: the float64 terms of the whole box are no longer held).  ``radius``: the float32 radius of
    ``coef`` when already at hand (the same product)."""
    rr = rho.reshape(-1)
    approx = (LayerRadius(coef, y_t) if radius is None else radius).get() + offsets
    out = rr <= approx
    near = np.flatnonzero(np.abs(rr - approx) < _RADIUS_BAND_MM)
    if near.size:
        out[near] = rr[near] <= _radius(np.ascontiguousarray(u.reshape(-1, 3)[near]), coef, degree) + offsets[near]
    return out.reshape(rho.shape)


#: the band (mm) around the float32 radius where :func:`_inside_corrected` takes the float64 one (a
#: float32 radius of ~30 mm from 25 terms is off by ~5e-5 mm at most)
_RADIUS_BAND_MM = 1e-3


def _float32_terms(y: NDArray[np.float64], use: NDArray[np.bool_]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The fit's direction terms ``y`` (voxels x terms) in float32 (1.43), as the box's transpose (one
    row a term: :func:`_surfaces`' product) and as the rows of the fitted voxels ``use`` (flat; the
    Jacobian's): ``ascontiguousarray(y32.T)`` and ``y32[use]`` of ``y32 = y.astype(float32)``, the
    same values.  By the compiled ``float32_terms`` (one blocked pass instead of a cast, a strided
    transpose and a gather: ~3 ms instead of ~13 on an oval's box at load) when the kernels are on."""
    m = _kernels.compiled()
    if m is not None and y.dtype == np.float64 and y.ndim == 2 and use.dtype == np.bool_ and use.shape == y.shape[:1]:
        return m.float32_terms(  # type: ignore[no-any-return]
            np.require(y, requirements="CW"), np.require(use, requirements="CW"))
    y32 = y.astype(np.float32)
    return np.ascontiguousarray(y32.T), y32[use]

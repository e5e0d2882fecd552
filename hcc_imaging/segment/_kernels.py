"""Compiled kernels of the lesion segmentation (private; numba, compiled on first use).

The hot loops of step 10's faint-lesion clicks and of the helpers every click uses
(:mod:`._kernels_nb`): the ring classes' radix keys and sort, k-medians start, passes and
merged medians (:func:`._kmedians._ring_classes`); scipy's Gaussian smoothing with
``mode="nearest"`` (:func:`gaussian_filter_nearest`, for :func:`._grow._smoothed`; and its values
on a mask's voxels alone, :func:`gaussian_filter_nearest_at`, for step 13's fits); the per-slice
hole filling (:func:`._morph.fill_holes`); the component floods (:func:`._morph.component_at`,
:func:`._morph.component_at_in_box`); a mask's bounding box (:func:`._morph.bbox`); step 10's
medians of small float32 samples (:func:`median_f32`); step 12's fitted surface on the image's
grid (:func:`._surface._radius`, and the mask inside it, :func:`._surface._inside`, which skips the
blocks a rigorous interval bound puts wholly inside or outside the surface); the Euclidean
distance transform (:func:`distance_transform_edt`: step 7's leak clamp, the liver's closing,
cores and reach, the viable step's distances, the registration's mask margin); step 13's rays'
edge search (:func:`._rind_rays._edge_search`), its fits' Jacobian (:func:`._rind_surfaces._jacobian`) and float32
direction terms (:func:`._rind._float32_terms`); the histogram of a parenchyma mode
(:func:`._morph._histogram`).  Each
performs the *same* floating-point operations in the same order as the numpy / scipy code it
stands in for, or computes the same set or order statistics (the distance transform: the exact
distances, which scipy's misses by one unit in the last place at rare near-ties: every mask checked
is still the same), so every mask is bit-identical to the numpy path's
(``tests/segment/test_segment_kernels.py``); inputs a kernel could treat
differently (zero, NaN or infinite values, a tie numpy's argsort decides) go to the numpy path.
The exception is :mod:`._rind_nb` (step 13's rays and fit set-up, 2026-12-06): its passes fuse
several numpy passes and agree with the numpy path to rounding, not bit for bit (its masks checked
on the rind sweep); it is used under the same switch.

numba is a dependency; the numpy path stays the reference and is used when numba cannot be
imported or when ``HCC_IMAGING_JIT=0`` is set (the switch of :mod:`hcc_imaging.measure._kernels`
too; read once, at the first use).  The kernels are compiled at their first call ever (about
10-15 s) and cached on disk by numba; a later process pays about 0.5 s at its first
segmentation (importing numba and loading the cache).  ``scripts/bootstrap.sh`` runs
:func:`warm_up` after installing, so that no first click pays the compilation.  Every kernel
takes C-contiguous writeable arrays only (one compiled signature each, the one the warm-up
compiles).
"""

from __future__ import annotations

import functools
from typing import Any

from .. import _jit

#: environment variable: ``0`` selects the numpy path (the reference) instead of the kernels
#: (the same variable as :data:`hcc_imaging.measure._kernels.JIT_ENV`)
JIT_ENV = _jit.JIT_ENV

#: ``compiled()``: the module of compiled kernels (:mod:`._kernels_nb`), or None (numba missing or
#: ``HCC_IMAGING_JIT=0``; decided once, ``compiled.cache_clear()`` re-reads it); ``get(name)``: one
#: kernel (``radix_keys``, ``sort_rows``, ``start_centres``, ``kmedians``, ``class_median``,
#: ``gaussian_nearest``, ``gaussian_nearest_at``, ``fill_holes_in_plane``, ``component_by_region``, ``component_of``,
#: ``bbox_of``, ``median_rows32``, ``star_radius``, ``direction_terms``, ``inside_star``, ``edt_sq``,
#: ``ray_edge_search``, ``scaled_rows``, ``uniform_histogram``, ``float32_terms``) or None when the kernels
#: are off; ``jit_enabled()``: whether
#: they are used.
compiled, get, jit_enabled = _jit.accessors(__package__ or "")


@functools.lru_cache(maxsize=64)
def _gaussian_weights(sigma: float, truncate: float) -> Any:
    """scipy's 1-D Gaussian weights for ``gaussian_filter(..., sigma, truncate=truncate)`` along
    one axis (``scipy.ndimage._filters._gaussian_kernel1d`` of radius ``int(truncate * sigma +
    0.5)``, the same operations); one weight 1.0 where scipy skips the axis (sigma <= 1e-15)."""
    import numpy as np

    if sigma <= 1e-15:
        return np.ones(1)
    radius = int(truncate * float(sigma) + 0.5)
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi_x = np.exp(-0.5 / sigma2 * x**2)
    phi_x = phi_x / phi_x.sum()
    return np.ascontiguousarray(phi_x[::-1], dtype=np.float64)  # (shared by the cache: read only)


def gaussian_filter_nearest(a: Any, sigma_vox: Any, truncate: float = 4.0) -> Any:
    """``scipy.ndimage.gaussian_filter(a, sigma_vox, mode="nearest", truncate=truncate)``, bit
    for bit: by the compiled ``gaussian_nearest`` (about a third of scipy's CPU on step 10's boxes) for a
    non-empty float32 3-D array when the kernels are on, else by scipy."""
    import numpy as np
    from scipy import ndimage as ndi

    m = compiled()
    if (m is None or a.dtype != np.float32 or a.ndim != 3 or a.size == 0
            or np.ndim(sigma_vox) != 1 or len(sigma_vox) != 3):
        return ndi.gaussian_filter(a, sigma_vox, mode="nearest", truncate=truncate)
    w = [_gaussian_weights(float(s), float(truncate)) for s in sigma_vox]
    # (C-contiguous and writeable: the one argument type the warm-up compiles)
    return m.gaussian_nearest(np.require(a, requirements="CW"), *w)


def gaussian_filter_nearest_at(a: Any, sigma_vox: Any, where: Any, truncate: float = 4.0) -> Any:
    """``gaussian_filter_nearest(a, sigma_vox, truncate)[where]`` (``where`` a boolean array of
    ``a``'s shape), bit for bit: by the compiled ``gaussian_nearest_at``, which computes only the
    values those voxels read (step 13's fits: a quarter of the box), when :func:`gaussian_filter_nearest`
    would use its kernel, else by it."""
    import numpy as np

    m = compiled()
    if (m is None or a.dtype != np.float32 or a.ndim != 3 or a.size == 0 or np.ndim(sigma_vox) != 1
            or len(sigma_vox) != 3 or where.dtype != np.bool_ or where.shape != a.shape):
        return gaussian_filter_nearest(a, sigma_vox, truncate)[where]
    w = [_gaussian_weights(float(s), float(truncate)) for s in sigma_vox]
    return m.gaussian_nearest_at(np.require(a, requirements="CW"), *w, np.require(where, requirements="CW"))


def distance_transform_edt(a: Any, sampling: Any = None) -> Any:
    """``scipy.ndimage.distance_transform_edt(a, sampling=sampling)``, the distances (mm) of the
    nonzero voxels of a 3-D array to the nearest zero voxel: by the compiled ``edt_sq`` (a pass per
    axis; 3-4x faster than scipy's feature transform on the liver's 2.3 M-voxel grid) when the
    kernels are on and ``a`` has a zero voxel, else by scipy.  The kernel's distances are exact
    (the least of scipy's own per-feature sums over every feature); scipy's feature transform
    decides some near-ties in floating point and can return a feature whose distance is one unit in
    the last place larger (2 of 2.3 M voxels on a blob at 1 x 0.7 x 0.7 mm): there, and only there,
    the two differ (``tests/segment/test_segment_kernels.py``)."""
    import numpy as np
    from scipy import ndimage as ndi

    m = compiled()
    arr = np.asarray(a)
    if m is None or arr.ndim != 3 or arr.size == 0:
        return ndi.distance_transform_edt(arr, sampling=sampling)
    feat = np.ascontiguousarray(arr == 0)  # the zero voxels: the features
    if not feat.any():
        return ndi.distance_transform_edt(arr, sampling=sampling)  # no background: scipy's own answer
    sp = (1.0, 1.0, 1.0) if sampling is None else tuple(float(v) for v in np.broadcast_to(sampling, (3,)))
    return np.sqrt(m.edt_sq(feat, *sp))


#: :func:`median_f32` selects with the compiled kernel up to this many values per row (beyond,
#: ``np.median``'s partition is as fast; the kernel's selection is 3-10x faster on the 300-3,000
#: values of step 10's balls, rings and regions)
_MEDIAN_KERNEL_MAX = 20_000


def median_f32(a: Any, axis: int | None = None) -> Any:
    """``np.median(a)`` (a 1-D float32 array: a float32 scalar) or ``np.median(a, axis)`` (a
    2-D float32 array, ``axis`` 0 or 1: a float32 row), bit for bit: by the compiled
    ``median_rows32`` (a selection per row) when the kernels are on and every row has
    1-``_MEDIAN_KERNEL_MAX`` values, else (and for NaN or a zero middle value) by ``np.median``."""
    import numpy as np

    m = compiled()
    arr = np.asarray(a)
    if m is not None and arr.dtype == np.float32 and arr.size:
        if arr.ndim == 1 and axis is None:
            rows = arr.reshape(1, -1)
        elif arr.ndim == 2 and axis in (0, 1):
            rows = arr.T if axis == 0 else arr
        else:
            rows = None
        if rows is not None and rows.shape[1] <= _MEDIAN_KERNEL_MAX:
            rows = np.require(rows, requirements="CW")
            ok, med = m.median_rows32(rows, np.empty(rows.shape[1], np.float32))
            if ok:
                return med[0] if arr.ndim == 1 else med
    return np.median(arr, axis=axis)


def warm_up() -> float:
    """Compile (first time ever) or load (from numba's cache) every kernel with the argument
    types the segmentation uses, by running each helper on a small synthetic sample; returns the
    seconds it took (0.0 when the kernels are off)."""
    import time

    import numpy as np

    from . import constants as C
    from ._surface import _direction_terms, _exponents, _inside, _radius
    from ._morph import bbox, component_at, fill_holes
    from ._kmedians import _ring_classes

    if compiled() is None:
        return 0.0
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    # three tissues, two of them within min_d of each other (merged: the merged class's median)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 0.5, -0.5, 0.5], [-8.0, 6.0, 5.0, -7.0]])
    x = (centres[rng.integers(0, 3, 600)] + rng.normal(size=(600, 4))).astype(np.float32).astype(np.float64)
    _ring_classes(x, np.full(4, 20.0), 3.0)
    box = rng.normal(size=(6, 7, 8)).astype(np.float32)
    gaussian_filter_nearest(box, (0.5, 0.8, 0.8))
    gaussian_filter_nearest_at(box, (0.5, 0.8, 0.8), box > 0.0)
    median_f32(box[0, 0])
    fill_holes(box > 0.0)
    component_at(box > -0.5, (3, 3, 3), box > 1.0, prefer_region=True)
    component_at(box > -5.0, (3, 3, 3))
    bbox(box > 1.0)
    distance_transform_edt(box > 0.0, (2.5, 0.7, 0.7))
    u = rng.normal(size=(5, 3))
    _radius(u / np.linalg.norm(u, axis=1)[:, None], np.ones(len(_exponents(C.LESION_BLUR_MODEL_DEGREE))),
            C.LESION_BLUR_MODEL_DEGREE)
    _direction_terms(u / np.linalg.norm(u, axis=1)[:, None], C.LESION_BLUR_MODEL_DEGREE)
    _inside((5, 6, 7), np.array([2.5, 0.7, 0.7]), np.array([5.0, 2.0, 2.1]),
            np.r_[1.5, np.zeros(len(_exponents(C.LESION_BLUR_MODEL_DEGREE)) - 1)], C.LESION_BLUR_MODEL_DEGREE)
    from ._rind_rays import _edge_search
    from ._rind_surfaces import _jacobian

    _jacobian(np.empty((4, 6), np.float32), *rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32))

    k, n_in, n_out = 3, 2, 4
    terms = (rng.normal(size=k), rng.normal(size=(k, n_in)), rng.normal(size=(k, n_out)), rng.normal(size=(k, n_in)),
             rng.normal(size=(k, n_out)), rng.normal(size=(k, n_in, n_out)))
    _edge_search(terms, 20.0, 110.0, 70.0, np.ones((n_in, n_out), dtype=bool))
    from ._morph import _histogram

    _histogram(rng.normal(size=50), 7, (-1.0, 1.0))
    from ._rind_setup import _float32_terms

    _float32_terms(rng.normal(size=(70, 4)), rng.random(70) > 0.5)
    # step 13's rays and set-up (2026-12-06, second session: ``_rind_nb``, the numpy path's values to rounding)
    from . import _rind_nb

    n = 20
    di, do, wr, pv = rng.normal(size=n), rng.normal(size=n) + 1.0, np.full(n, 1.0), rng.normal(size=n)
    _rind_nb.ray_values(di, do, wr, pv, di, do, np.empty(n), np.empty(n), True)
    a, b, aa, bb = _rind_nb.ray_ramps(rng.random((2, 5, n_out)), np.zeros(k, np.int64), np.zeros((k, 3), np.int64),
                                      np.ones((k, 3)), n_in)
    _rind_nb.ray_grid_sse(rng.normal(size=k), aa, bb, rng.normal(size=(k, n_in)), rng.normal(size=(k, n_out)),
                          np.matmul(a, b.transpose(0, 2, 1)), np.zeros(n_in, np.int64), np.full(n_in, n_out, np.int64),
                          20.0, np.array([110.0, 115.0]), 70.0)
    from concurrent.futures import ThreadPoolExecutor

    from . import _rind_split
    from ._rind_setup import _setup

    # (2026-12-06, seventh session: the rays' ramps by halves and the set-up by slabs, as the fit calls them)
    _rind_split.ray_ramps(_rind_nb, rng.random((2, 5, n_out)), np.zeros(k, np.int64), np.zeros((k, 3), np.int64),
                          np.ones((k, 3)), n_in, None)
    with ThreadPoolExecutor(1) as pool:
        _setup((4, 5, 6), np.array([1.5, 0.7, 0.7]), np.array([2.0, 1.5, 1.7]),
               np.r_[1.0, np.zeros(len(_exponents(C.LESION_BLUR_MODEL_DEGREE)) - 1), 2.0,
                     np.zeros(len(_exponents(C.LESION_BLUR_MODEL_DEGREE)) - 1)], C.LESION_BLUR_MODEL_DEGREE,
               rng.random((4, 5, 6)) > 0.5, pool)
    _setup((4, 5, 6), np.array([1.5, 0.7, 0.7]), np.array([2.0, 1.5, 1.7]),
           np.r_[1.0, np.zeros(len(_exponents(C.LESION_BLUR_MODEL_DEGREE)) - 1), 2.0,
                 np.zeros(len(_exponents(C.LESION_BLUR_MODEL_DEGREE)) - 1)], C.LESION_BLUR_MODEL_DEGREE, None)
    # (2026-12-06, eighth session: the surface fits' compiled model evaluation, ``_rind_gn``)
    from . import _rind_gn

    _rind_gn.warm_up()
    return time.perf_counter() - t0


def main() -> None:
    """Warm up and say so (``scripts/bootstrap.sh``)."""
    took = warm_up()
    state = "off (HCC_IMAGING_JIT=0 or numba missing)" if compiled() is None else f"ready in {took:.1f} s"
    print(f"[bootstrap] segmentation kernels (numba): {state}")

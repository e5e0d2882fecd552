"""Compiled kernels of the measurement engine (private; numba, compiled on first use).

The kernels compute the *same estimator* as the numpy code they stand in for, box by box
instead of in padded batches; only the order of floating-point sums differs (BLAS against a
loop), so results agree to rounding (tested against the numpy path on the reference masks,
``tests/measure/test_measure_kernels.py``).  Whatever the kernel cannot decide exactly as the
numpy code would (a scatter matrix that is not positive definite or nearly singular, an exactly
singular centre system) it hands back, and the numpy path redoes that box.

numba is a dependency; the numpy path stays the reference and is used when numba cannot be
imported or when ``HCC_IMAGING_JIT=0`` is set in the environment (read once, at the first
measurement).  The kernels are compiled at their first call ever (about 5 s here) and cached
on disk by numba (``cache=True``: next to this file, or numba's user cache directory when that
is not writable); a later process pays about 0.5 s at its first measurement (importing numba
and loading the cache), then nothing.
"""

from __future__ import annotations

from .. import _jit

#: environment variable: ``0`` selects the numpy path (the reference) instead of the kernels
JIT_ENV = _jit.JIT_ENV

#: status codes of the ellipse-fit kernel per box
ACCEPT, REJECT, FALLBACK = 1, 0, 2


#: ``compiled()``: the module of compiled kernels (:mod:`._kernels_nb`), or None (numba missing or
#: ``HCC_IMAGING_JIT=0``; decided once, ``compiled.cache_clear()`` re-reads it); ``get(name)``: one
#: kernel (``ellipse_boxes``, ``homothetic``, ``slice_hulls``, ``feret_3d``, ``pairs_at_least``, ``n_pieces``,
#: ``valid_segments``) or
#: None when the kernels are off; ``jit_enabled()``: whether they are used.
compiled, get, jit_enabled = _jit.accessors(__package__ or "")


def warm_up() -> float:
    """Compile (first time ever) or load (from numba's cache) every kernel, with the argument
    types the measurements use, by measuring two small synthetic lesions; returns the seconds
    it took (0.0 when the kernels are off).  ``scripts/bootstrap.sh`` runs it once after
    installing, so that no test, demo or first click pays the compilation."""
    import time

    import numpy as np

    from ..volume import LabelVolume
    from .lesion import measure_lesion

    if compiled() is None:
        return 0.0
    t0 = time.perf_counter()
    z, y, x = np.mgrid[-6:7, -14:15, -14:15]
    ball = ((z / 5.5) ** 2 + (y / 12.5) ** 2 + (x / 10.5) ** 2 <= 1.0).astype(np.uint8)
    # a tight array (the hull kernel reads a contiguous crop) and a padded one (a strided
    # crop), each with a viable sub-mask (the viable diameter reads hulls of crops too)
    k, j, i = np.nonzero(ball)
    tight = ball[k.min() : k.max() + 1, j.min() : j.max() + 1, i.min() : i.max() + 1]
    small = ball[3:-3, 6:-6, 6:-6]  # (its LD is under 24 voxels: the homothetic kernel)
    for arr in (tight, np.pad(ball, 3), small):
        lv = LabelVolume.create(np.ascontiguousarray(arr), spacing=(1.0, 0.8, 0.8))
        measure_lesion(lv, 1, viable=lv)
    # a patchy viable part (every other voxel, seeded): its diameter checks many segments for
    # gaps through necrosis, the compiled ``valid_segments``
    patchy = ball & (np.random.default_rng(0).random(ball.shape) < 0.5)
    whole = LabelVolume.create(ball, spacing=(1.0, 0.8, 0.8))
    measure_lesion(whole, 1, viable=LabelVolume.create(patchy.astype(np.uint8), spacing=(1.0, 0.8, 0.8)))
    return time.perf_counter() - t0


def main() -> None:
    """Warm up and say so (``scripts/bootstrap.sh``)."""
    took = warm_up()
    state = "off (HCC_IMAGING_JIT=0 or numba missing)" if compiled() is None else f"ready in {took:.1f} s"
    print(f"[bootstrap] measurement kernels (numba): {state}")

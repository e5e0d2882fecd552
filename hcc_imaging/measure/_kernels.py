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

import functools
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: environment variable: ``0`` selects the numpy path (the reference) instead of the kernels
JIT_ENV = "HCC_IMAGING_JIT"

#: status codes of the ellipse-fit kernel per box
ACCEPT, REJECT, FALLBACK = 1, 0, 2


def jit_enabled() -> bool:
    """True when the kernels are used (numba importable and not disabled by ``HCC_IMAGING_JIT=0``)."""
    return compiled() is not None


@functools.cache
def compiled() -> ModuleType | None:
    """The module of compiled kernels (:mod:`._kernels_nb`), or None (numba missing or disabled)."""
    if os.environ.get(JIT_ENV, "1").strip() == "0":
        return None
    try:
        from . import _kernels_nb
    except ImportError as exc:  # pragma: no cover - numba is a dependency; this is the safety net
        if exc.name not in ("numba", "llvmlite"):
            raise
        return None
    return _kernels_nb


def ellipse_boxes() -> Callable[..., Any] | None:
    """The compiled ellipse-fit kernel, or None."""
    m = compiled()
    return None if m is None else m.ellipse_boxes


def feret_3d() -> Callable[..., Any] | None:
    """The compiled 3-D Feret search, or None."""
    m = compiled()
    return None if m is None else m.feret_3d


def pairs_at_least() -> Callable[..., Any] | None:
    """The compiled search for vertex pairs at least a squared distance apart, or None."""
    m = compiled()
    return None if m is None else m.pairs_at_least


def slice_hulls() -> Callable[..., Any] | None:
    """The compiled per-slice hulls, or None."""
    m = compiled()
    return None if m is None else m.slice_hulls

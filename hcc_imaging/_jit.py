"""The switch of the compiled (numba) kernels, shared by :mod:`hcc_imaging.measure._kernels` and
:mod:`hcc_imaging.segment._kernels` (private).

Each package keeps its kernels in a ``_kernels_nb`` module; :func:`load` imports it unless
``HCC_IMAGING_JIT=0`` is set or numba cannot be imported, in which case the numpy path (the
reference) is used.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: environment variable: ``0`` selects the numpy path (the reference) instead of the kernels
JIT_ENV = "HCC_IMAGING_JIT"


def load(package: str) -> ModuleType | None:
    """``<package>._kernels_nb``, or None when the kernels are switched off (``HCC_IMAGING_JIT=0``)
    or numba is missing."""
    if os.environ.get(JIT_ENV, "1").strip() == "0":
        return None
    try:
        return importlib.import_module(f"{package}._kernels_nb")
    except ImportError as exc:  # pragma: no cover - numba is a dependency; this is the safety net
        if exc.name not in ("numba", "llvmlite"):
            raise
        return None


def accessors(package: str) -> tuple[Callable[[], ModuleType | None], Callable[[str], Any], Callable[[], bool]]:
    """``(compiled, get, jit_enabled)`` of ``<package>._kernels_nb``: ``compiled()`` the module or
    None (decided once, cached: ``compiled.cache_clear()`` re-reads the switch), ``get(name)`` one
    kernel or None, ``jit_enabled()`` whether the kernels are used."""

    @functools.cache
    def compiled() -> ModuleType | None:
        return load(package)

    def get(name: str) -> Callable[..., Any] | None:
        m = compiled()
        return None if m is None else getattr(m, name)  # type: ignore[no-any-return]

    def jit_enabled() -> bool:
        return compiled() is not None

    return compiled, get, jit_enabled

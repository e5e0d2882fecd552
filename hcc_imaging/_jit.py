"""The switch of the compiled (numba) kernels, shared by :mod:`hcc_imaging.measure._kernels` and
:mod:`hcc_imaging.segment._kernels` (private).

Each package keeps its kernels in a ``_kernels_nb`` module; :func:`load` imports it unless
``HCC_IMAGING_JIT=0`` is set or numba cannot be imported, in which case the numpy path (the
reference) is used.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

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

"""Switching the compiled kernels off inside a block (shared by the measure and segment kernel tests)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType


@contextlib.contextmanager
def numpy_only(kernels: ModuleType) -> Iterator[None]:
    """The numpy reference path of ``kernels`` (a ``_kernels`` module) inside the block
    (``HCC_IMAGING_JIT=0``); the environment and the module's cached choice restored after."""
    old = os.environ.get(kernels.JIT_ENV)
    os.environ[kernels.JIT_ENV] = "0"
    kernels.compiled.cache_clear()
    try:
        yield
    finally:
        if old is None:
            del os.environ[kernels.JIT_ENV]
        else:
            os.environ[kernels.JIT_ENV] = old
        kernels.compiled.cache_clear()

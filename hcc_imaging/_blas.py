"""One BLAS thread while a click is segmented (private).

OpenBLAS splits even small products across its threads (step 12's 2,800 x 25 normal matrix, a
40,000 x 25 matrix-vector product per model evaluation), and each call then waits for every one
of them.  On a machine whose other core is busy (the viewer drawing, another process, a batch
next to the reader), the thread that lost its core is waited for at each of a click's dozens of
products: on this two-core machine with one core kept busy, the 5 cm benchmark click took
177-204 ms (wall, median of 21) with OpenBLAS's two threads and 83-106 ms with one; on the quiet
machine the two took the same wall time (78-114 ms, noisy), the two threads twice the CPU.
Dask's workers already run with one BLAS thread (``distributed`` sets ``OPENBLAS_NUM_THREADS=1``
in the processes it spawns); this does the same for the interactive path, only while the work
runs, and puts the user's setting back afterwards.

The masks of the identity sets are bit-identical with one thread or two (CHANGELOG, algorithm
1.16), but not every product's value is: step 13's float32 products (a rind fit's normal matrix)
round differently on OpenBLAS's two threads, in the seventh digit (measured 2026-12-04, the
masks the same).  A click's results are defined under this one-thread limit, and tests that
compare values bit for bit run both sides under it.  Without ``threadpoolctl`` (a dependency)
this does nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_depth = 0  # the calls inside the limit now (nested, or from several threads)
_limiter: Any = None


def _take_control() -> None:
    """threadpoolctl (3.6+) lets one thread at a time set OpenBLAS's process-wide pool size (the
    first to set it, until it lets go), and silently ignores the others: a click in the viewer's
    worker thread after one in another thread would not be limited, or its limit never lifted.
    This process's limit is ours (under :data:`_lock`), so the thread that sets or lifts it takes
    control for that moment and lets go at once."""
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # pragma: no cover - older threadpoolctl: any thread may set the size
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


@functools.cache
def _controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded now (numpy's and scipy's OpenBLAS;
    ~7 ms once), or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency; the safety net
        return None
    import numpy  # noqa: F401  (their BLAS libraries loaded before the controller looks)
    import scipy.ndimage  # noqa: F401

    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread while the block runs.  Reference-counted: nested blocks and blocks
    in several threads share one limit, which the last to leave lifts (the user's setting back)."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            ctl = _controller()
            if ctl is not None:
                _take_control()
                _limiter = ctl.limit(limits=1, user_api="blas")
                _take_control()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _take_control()
                _limiter.restore_original_limits()
                _take_control()
                _limiter = None


def single_blas_thread(fn: F) -> F:
    """``fn`` run inside :func:`one_blas_thread`."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]

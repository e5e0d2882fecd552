"""Step 13's fit split over two threads (:mod:`._rind`; private; 2026-12-06, seventh session).

From the rays on, the click's calling thread only waits for the fit (1.62: steps 12 / 12b are skipped
when the fit wins), so the machine's second core is idle while the fit runs serially.  The fit's
independent work is split here over the fit's thread and one side thread (:func:`side_pool`): the
rays' ramps and edge searches by halves of the rays, the layer value's grid by halves of the grid,
each half computed exactly as the whole is (the same operations per element, no reduction whose
order changes), so the results are the same bit for bit as on one thread
(``tests/segment/test_segment_rind_split.py``).  The set-ups' slabs (:func:`._rind_setup._setup`),
the node weights and the correction's two surfaces (:mod:`._rind_nodes`, :func:`._rind._node_offsets`)
take the same pool.  docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, seventh)".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray


@contextmanager
def side_pool(threads: int) -> Iterator[Executor | None]:
    """One side thread for the fit's split work while the fit runs, or None when the fit may use one
    thread only (``threads``: :func:`._rind_surfaces._threads`)."""
    if threads < 2:
        yield None
        return
    with ThreadPoolExecutor(1, thread_name_prefix="rind_side") as pool:
        yield pool


def halves(fn: Callable[[int, int], Any], n: int, pool: Executor | None) -> tuple[Any, ...]:
    """``fn(0, n)`` alone, or ``fn(0, n // 2)`` here and ``fn(n // 2, n)`` on ``pool``: the results in
    order."""
    if pool is None or n < 2:
        return (fn(0, n),)
    later = pool.submit(fn, n // 2, n)
    return fn(0, n // 2), later.result()


def ray_ramps(fast: Any, tb: NDArray[np.float64], which: NDArray[np.int64], lag_idx: NDArray[np.int64],
              mw: NDArray[np.float64], n_in: int, pool: Executor | None,
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                         NDArray[np.float64]]:
    """The rays' ramps (``_rind_nb.ray_ramps``: a, b, aa, bb) and their products ``a @ b^T`` per ray,
    by halves of the rays on two threads when ``pool`` is given (each ray's products the same gemm)."""
    k_rays, n_win = lag_idx.shape
    n_out = tb.shape[2]
    a, b = np.empty((k_rays, n_in, n_win)), np.empty((k_rays, n_out, n_win))
    aa, bb = np.empty((k_rays, n_in)), np.empty((k_rays, n_out))
    ab = np.empty((k_rays, n_in, n_out))

    def part(k0: int, k1: int) -> None:
        fast.ray_ramps_into(tb, which, lag_idx, mw, k0, k1, a, b, aa, bb)
        np.matmul(a[k0:k1], b[k0:k1].transpose(0, 2, 1), out=ab[k0:k1])

    halves(part, k_rays, pool)
    return a, b, aa, bb, ab


def grid_sse(fast: Any, terms: tuple[NDArray[np.float64], ...], o_lo: NDArray[np.int64], o_hi: NDArray[np.int64],
             n: float, grid: NDArray[np.float64], p: float, pool: Executor | None) -> NDArray[np.float64]:
    """``_rind_nb.ray_grid_sse`` over the layer values ``grid``, by halves of the grid on two threads
    when ``pool`` is given (each value's total summed over the rays in the same order)."""
    args = [np.require(t, requirements="CW") for t in terms]
    parts = halves(lambda g0, g1: fast.ray_grid_sse(*args, o_lo, o_hi, float(n), grid[g0:g1], float(p)), len(grid), pool)
    return np.concatenate(parts)


def edge_search(search: Callable[..., tuple[NDArray[np.int64], NDArray[np.float64]]],
                terms: tuple[NDArray[np.float64], ...], n: float, rv: float, p: float, valid: NDArray[np.bool_],
                pool: Executor | None) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``search`` (:func:`._rind_rays._edge_search`, ray by ray) by halves of the rays on two threads when
    ``pool`` is given."""
    parts = halves(lambda k0, k1: search(tuple(t[k0:k1] for t in terms), n, rv, p, valid), len(terms[0]), pool)
    return np.concatenate([q[0] for q in parts]), np.concatenate([q[1] for q in parts])


__all__ = ["edge_search", "grid_sse", "halves", "ray_ramps", "side_pool"]

"""The few ``numpy.linalg`` calls of the measurement's small fits, without the wrapper's
per-call checks (private; see :mod:`._subvoxel`).

The sub-voxel fits call LAPACK on 2 x 2 to 6 x 6 float64 matrices, where ``numpy.linalg``'s
Python wrapper (type resolution, ``_assert_*``, result casts) costs 2-4 times the LAPACK call
itself (e.g. ``eig`` of a 3 x 3: 20 us, of which the gufunc 6 us).  These functions call the
very same gufuncs (``numpy.linalg._umath_linalg``) with the same signature and the same error
state (``LinAlgError`` on a singular / not positive definite matrix or non-convergence) as
``numpy.linalg``, so they return bit-identical results (tested in
``tests/measure/test_linalg_shim.py``).  Anything but float64 arrays of at least 2 dimensions
goes to ``numpy.linalg`` itself, as does everything when the private module is missing (a
future numpy): then only the speed changes.
"""

from __future__ import annotations

import numpy as np
from numpy.linalg import LinAlgError
from numpy.typing import NDArray

try:  # numpy >= 2: numpy.linalg._umath_linalg; 1.x: numpy.linalg._umath_linalg too
    from numpy.linalg import _umath_linalg as _U

    _OK = all(hasattr(_U, n) for n in ("solve", "solve1", "inv", "cholesky_lo", "eig", "eigh_lo", "eigvalsh_lo", "det"))
except ImportError:  # pragma: no cover - depends on the numpy build
    _U = None
    _OK = False

_F8 = np.dtype(np.float64)


def _raise_singular(err: object, flag: object) -> None:
    raise LinAlgError("Singular matrix")


def _raise_nonposdef(err: object, flag: object) -> None:
    raise LinAlgError("Matrix is not positive definite")


def _raise_nonconvergence(err: object, flag: object) -> None:
    raise LinAlgError("Eigenvalues did not converge")


def _fast(a: object, b: object = None) -> bool:
    """``a`` a float64 stack of square matrices (and ``b``, if given, a float64 array)."""
    if not (_OK and type(a) is np.ndarray and a.dtype == _F8 and a.ndim >= 2 and a.shape[-1] == a.shape[-2]):
        return False
    return b is None or (type(b) is np.ndarray and b.dtype == _F8)


def solve(a: NDArray, b: NDArray) -> NDArray:
    """``numpy.linalg.solve``."""
    if not _fast(a, b):
        return np.linalg.solve(a, b)
    gufunc = _U.solve1 if b.ndim == 1 else _U.solve
    with np.errstate(call=_raise_singular, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return gufunc(a, b, signature="dd->d")


def inv(a: NDArray) -> NDArray:
    """``numpy.linalg.inv``."""
    if not _fast(a):
        return np.linalg.inv(a)
    with np.errstate(call=_raise_singular, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return _U.inv(a, signature="d->d")


def cholesky(a: NDArray) -> NDArray:
    """``numpy.linalg.cholesky`` (lower)."""
    if not _fast(a):
        return np.linalg.cholesky(a)
    with np.errstate(call=_raise_nonposdef, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return _U.cholesky_lo(a, signature="d->d")


def eig(a: NDArray) -> tuple[NDArray, NDArray]:
    """``numpy.linalg.eig`` (real results when every eigenvalue is real, as numpy's)."""
    if not _fast(a):
        return tuple(np.linalg.eig(a))  # type: ignore[return-value]
    if not np.isfinite(a).all():
        raise LinAlgError("Array must not contain infs or NaNs")
    with np.errstate(call=_raise_nonconvergence, invalid="call", over="ignore", divide="ignore", under="ignore"):
        w, vt = _U.eig(a, signature="d->DD")
    if not (w.imag != 0.0).any():
        return w.real.astype(_F8, copy=False), vt.real.astype(_F8, copy=False)
    return w, vt


def eigh(a: NDArray) -> tuple[NDArray, NDArray]:
    """``numpy.linalg.eigh`` (lower triangle)."""
    if not _fast(a):
        return tuple(np.linalg.eigh(a))  # type: ignore[return-value]
    with np.errstate(call=_raise_nonconvergence, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return _U.eigh_lo(a, signature="d->dd")


def eigvalsh(a: NDArray) -> NDArray:
    """``numpy.linalg.eigvalsh`` (lower triangle)."""
    if not _fast(a):
        return np.linalg.eigvalsh(a)
    with np.errstate(call=_raise_nonconvergence, invalid="call", over="ignore", divide="ignore", under="ignore"):
        return _U.eigvalsh_lo(a, signature="d->d")


def det(a: NDArray) -> NDArray:
    """``numpy.linalg.det``."""
    if not _fast(a):
        return np.linalg.det(a)
    return _U.det(a, signature="d->d")

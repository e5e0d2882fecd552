"""The ellipse through boundary midpoints that lie exactly on one (the ellipse fit of
:mod:`._subvoxel` for an exactly or numerically singular scatter matrix)."""

from __future__ import annotations

import numpy as np
from numpy import linalg as _la
from numpy.typing import NDArray

__all__ = ["exact_ellipse"]

#: a scatter matrix whose smallest eigenvalue is at most this fraction of its largest has its
#: midpoints on one conic, to rounding (two voxels side by side: ~1e-17; the 2 x 2 square's
#: circle: ~1e-16; every other reference fit: a Cholesky pivot ratio >= 4e-3, ratio >= ~1e-5)
_EXACT_CONIC_RATIO = 1e-12


def exact_ellipse(S: NDArray[np.float64]) -> NDArray[np.float64]:
    """The conic through every point of an exactly singular scatter matrix ``S`` (its one null
    vector: the limit of Fitzgibbon's fit as the residual goes to 0) when it is an ellipse, else
    NaN.  The 6 boundary midpoints of two voxels side by side lie on the ellipse x^2 + 3 y^2 = 1
    (half-voxel units): the singular ``S`` gave no ellipse, the LD fell back to the centre chord
    (1 voxel; a 3 x 1 voxel bar's fit gives 3.02), until 2026-12-06."""
    if not np.isfinite(S).all():
        return np.full(6, np.nan)
    w, V = _la.eigh(S)
    v = V[:, 0]
    if not (abs(w[0]) <= _EXACT_CONIC_RATIO * abs(w[-1]) and w[1] > 1e-6 * abs(w[-1])) \
            or not 4.0 * v[0] * v[2] - v[1] * v[1] > 0.0:
        return np.full(6, np.nan)
    return np.asarray(v, dtype=np.float64)

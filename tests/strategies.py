"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from hcc_imaging.volume import Geometry

#: The 48 signed permutation matrices (flips and axis permutations).
SIGNED_PERMUTATIONS = [
    np.array([[s[i] if perm[i] == j else 0 for j in range(3)] for i in range(3)], float)
    for perm in itertools.permutations(range(3))
    for s in itertools.product((-1.0, 1.0), repeat=3)
]

spacings = st.tuples(*[st.floats(0.2, 10.0, allow_nan=False) for _ in range(3)])
origins = st.tuples(*[st.floats(-500.0, 500.0, allow_nan=False) for _ in range(3)])
shapes = st.tuples(*[st.integers(1, 64) for _ in range(3)])


@st.composite
def rotations(draw: st.DrawFn) -> np.ndarray:
    """A random proper or improper orthonormal 3x3 matrix."""
    q = np.array(draw(st.tuples(*[st.floats(-1, 1, allow_nan=False) for _ in range(4)])))
    if np.linalg.norm(q) < 1e-3:
        q = np.array([1.0, 0, 0, 0])
    w, x, y, z = q / np.linalg.norm(q)
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    flip = draw(st.sampled_from([1.0, -1.0]))
    return r * np.array([1.0, 1.0, flip])[None, :]


@st.composite
def geometries(draw: st.DrawFn, oblique: bool = True) -> Geometry:
    direction = draw(rotations()) if oblique else draw(st.sampled_from(SIGNED_PERMUTATIONS))
    return Geometry(shape=draw(shapes), spacing=draw(spacings), origin=draw(origins), direction=direction)

"""hcc_imaging.measure._linalg calls numpy's own LAPACK gufuncs without the wrapper's checks:
it must give bit-identical results and raise LinAlgError exactly where numpy.linalg does."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.measure import _linalg as la


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _spd(rng, *shape):
    m = rng.normal(size=(*shape, shape[-1]))
    return m @ np.swapaxes(m, -1, -2) + 1e-3 * np.eye(shape[-1])


@pytest.mark.parametrize("seed", range(5))
def test_bit_identical_to_numpy_linalg(seed):
    rng = np.random.default_rng(seed)
    for shape in ((2, 2), (3, 3), (6, 6), (7, 6, 6), (4, 3, 3), (5, 2, 2)):
        a = rng.normal(size=shape)
        s = _spd(rng, *shape[:-1])
        b = rng.normal(size=shape)
        assert _same(la.solve(a, b), np.linalg.solve(a, b))
        b1 = rng.normal(size=shape[-1])  # a vector right-hand side (numpy's solve1)
        assert _same(la.solve(a, b1), np.linalg.solve(a, b1))
        assert _same(la.inv(a), np.linalg.inv(a))
        assert _same(la.cholesky(s), np.linalg.cholesky(s))
        assert _same(la.det(a), np.linalg.det(a))
        assert _same(la.eigvalsh(s), np.linalg.eigvalsh(s))
        for x, y in zip(la.eigh(s), np.linalg.eigh(s), strict=True):
            assert _same(x, y)
        for m in (a, s):  # complex and real spectra
            for x, y in zip(la.eig(m), np.linalg.eig(m), strict=True):
                assert _same(x, y)
        # non-contiguous views (transposes, as the fits pass)
        at = np.swapaxes(a, -1, -2)
        assert _same(la.solve(at, b), np.linalg.solve(at, b))


def test_errors_where_numpy_raises():
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    notpd = np.array([[1.0, 2.0], [2.0, 1.0]])
    nan = np.array([[np.nan, 0.0], [0.0, 1.0]])
    for fast, ref, arg in (
        (la.solve, np.linalg.solve, (sing, np.ones((2, 2)))),
        (la.solve, np.linalg.solve, (sing, np.ones(2))),
        (la.inv, np.linalg.inv, (sing,)),
        (la.cholesky, np.linalg.cholesky, (notpd,)),
        (la.eig, np.linalg.eig, (nan,)),
    ):
        with pytest.raises(np.linalg.LinAlgError):
            ref(*arg)
        with pytest.raises(np.linalg.LinAlgError):
            fast(*arg)
    # inside the fits' errstate(all="ignore") too
    with np.errstate(all="ignore"):
        with pytest.raises(np.linalg.LinAlgError):
            la.solve(sing, np.ones((2, 2)))
        with pytest.raises(np.linalg.LinAlgError):
            la.cholesky(np.stack([np.eye(2), notpd]))


def test_other_inputs_go_to_numpy():
    a = [[2.0, 1.0], [1.0, 3.0]]  # a list, not an array
    assert _same(la.solve(a, np.ones(2)), np.linalg.solve(a, np.ones(2)))
    f32 = np.array(a, dtype=np.float32)
    assert _same(la.inv(f32), np.linalg.inv(f32))
    assert _same(la.eigh(f32)[0], np.linalg.eigh(f32)[0])

"""Step 13's model evaluation by compiled passes (2026-12-06, eighth session; :mod:`hcc_imaging.segment._rind_gn`).

The surfaces' indicators and ramps in one pass each, the blur's weights taken once, the corrected surfaces
only where the blur reads: the numpy path's values **bit for bit** (the radii and the least squares stay
numpy's products), so the fits' coefficients and states are the same in every bit (docs/validation.md
section 2.4, "Step 13's speed (session of 2026-12-06, eighth)").  Small synthetic boxes; no timing asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment import _kernels, _rind, _rind_gn, _rind_nodes, _rind_setup
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._surface import _exponent_arrays

pytestmark = pytest.mark.skipif(_kernels.get("kmedians") is None, reason="numba kernels disabled or missing")


def _scene():  # type: ignore[no-untyped-def]
    """A small box (1.5 x 0.7 x 0.7 mm) with a dark core in a bright layer, a lumpy start, its set-up."""
    rng = np.random.default_rng(11)
    shape, sp = (14, 46, 44), np.array([1.5, 0.7, 0.7])
    degree = C.LESION_BLUR_MODEL_DEGREE
    k = len(_exponent_arrays(degree)[0])
    centre = np.array([10.0, 15.9, 15.2])
    x0 = np.zeros(2 * k)
    x0[0], x0[k] = 4.0, 6.5
    x0[1:k] = rng.normal(scale=0.3, size=k - 1)
    x0[k + 1:] = rng.normal(scale=0.3, size=k - 1)
    rho, u, use, _, y_t, yu = _rind_setup._setup(shape, sp, centre, x0, degree, None)
    rr = rho.reshape(shape)
    img = np.where(rr < 4.3, 25.0, np.where(rr < 7.0, 115.0, 70.0)) + rng.normal(scale=15.0, size=shape)
    h = _rind._ramps(rho, u, sp)[1]
    sig = [1.0 / w for w in sp]
    return x0, k, rho.astype(np.float32), u, use, y_t, yu, h, sig, img[use], sp


def test_the_evaluation_is_the_numpy_paths_bit_for_bit() -> None:
    """``Evaluator.render`` / ``ramp_blurs`` against ``_render`` + ``_values`` / ``_ramp_blur`` at a start and a
    moved point: every array the same in every bit (the indicators where the blurs read: the radii's float32
    product on those voxels' columns of the terms is the whole box's there)."""
    x0, k, rho, _, use, y_t, _, h, sig, data, _ = _scene()
    ev = _rind_gn.Evaluator(_rind_gn.kernels(), rho, y_t, h, sig, use, data, 15.0)
    for x in (x0, x0 + 0.37 * np.sin(np.arange(len(x0)))):
        coef, x3, fitted, s_in, s_out = _rind._render(x, k, rho, y_t, use, h, sig, data)
        r = (data - fitted) / 15.0
        chi2, r2, coef2, x32, s_in2, s_out2 = ev.render(x, None, None)
        assert 0.0 < np.count_nonzero((s_out > 0) & (s_out < 1)) < s_out.size
        # the indicators where the blurs read (fewer voxels than the box's), 0 elsewhere
        assert 0 < len(ev.idx) < rho.size
        for a, b in ((s_in, s_in2), (s_out, s_out2)):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.reshape(-1)[ev.idx].tobytes() == b.reshape(-1)[ev.idx].tobytes()
        for a, b in ((coef, coef2), (x3, x32), (r, r2)):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        assert chi2 == float(r @ r)
        for a, b in zip((_rind._ramp_blur(s_in, h, sig, use), _rind._ramp_blur(s_out, h, sig, use)),
                        ev.ramp_blurs(s_in, s_out, None), strict=True):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_a_fit_by_the_compiled_evaluation_is_the_numpy_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_gauss_newton_steps`` with the compiled evaluation (the default with the kernels on) and with the
    numpy one (``_rind_gn.kernels`` off): the same steps, coefficients and chi^2 in every bit."""
    x0, k, rho, _, use, y_t, yu, h, sig, data, _ = _scene()
    prior = np.kron(np.eye(2), C.LESION_BLUR_MODEL_SMOOTHING * np.eye(k) * 0.01)
    start = x0 * 0.93
    fast = [(x.copy(), st.obj) for x, st in _rind._gauss_newton_steps(start, k, rho, y_t, yu, use, h, sig, data, 15.0,
                                                                      prior, 12)]
    monkeypatch.setattr(_rind_gn, "kernels", lambda: None)
    slow = [(x.copy(), st.obj) for x, st in _rind._gauss_newton_steps(start, k, rho, y_t, yu, use, h, sig, data, 15.0,
                                                                      prior, 12)]
    assert len(fast) >= 3 and len(fast) == len(slow)
    for (xa, oa), (xb, ob) in zip(fast, slow, strict=True):
        assert xa.tobytes() == xb.tobytes() and oa == ob


def test_the_corrected_surfaces_only_where_the_blur_reads_are_the_whole_boxs() -> None:
    """``NodeSurfaces.surface`` / ``ramp_blur`` against ``_node_offsets``' numpy surface (the offsets through the
    whole box's weights, the indicator everywhere) and ``_ramp_blur``: the blurred values bit for bit; the
    indicator itself wherever the blur reads (``blur_reads``), and those voxels are fewer than the box's."""
    x0, k, rho, u, use, y_t, _, h, sig, _, _ = _scene()
    weights = _rind_nodes.node_weights(u.reshape(-1, 3))
    n = weights.shape[1]
    radii = (np.stack([x0[:k], x0[k:]]).astype(np.float32) @ y_t).reshape((2, -1))
    fast = _rind_gn.NodeSurfaces(_rind_gn.kernels(), rho, h, sig, use)
    fast.offsets(weights, radii)
    assert 0 < len(fast.idx) < rho.size
    d = np.random.default_rng(4).normal(scale=0.8, size=2 * n)
    for i in (0, 1):
        soft = _rind._indicator(rho, (radii[i] + (weights @ d[i * n:(i + 1) * n]).astype(np.float32)).reshape(rho.shape), h)
        blurred = _kernels.gaussian_filter_nearest_at(soft, sig, use).astype(np.float64)
        soft2, blurred2 = fast.surface(i, d[i * n:(i + 1) * n])
        assert blurred.tobytes() == blurred2.tobytes()
        assert soft.reshape(-1)[fast.idx].tobytes() == soft2.reshape(-1)[fast.idx].tobytes()
        # the slopes' ramp blurs, of the whole box's indicator and of the one left 0 where the blur does not read
        ramp = _rind._ramp_blur(soft, h, sig, use).astype(np.float64)
        assert ramp.tobytes() == fast.ramp_blur(soft).tobytes() == fast.ramp_blur(soft2).tobytes()
        assert np.count_nonzero(ramp) > 100
        # anything outside the voxels the blur reads leaves the blurred values alone
        noisy = soft.copy().reshape(-1)
        out = np.ones(noisy.size, bool)
        out[fast.idx] = False
        noisy[out] = np.random.default_rng(i).random(np.count_nonzero(out)).astype(np.float32)
        assert _kernels.gaussian_filter_nearest_at(noisy.reshape(rho.shape), sig, use).tobytes() == blurred2.astype(
            np.float32).tobytes()

"""Step 13's per-direction correction of its two surfaces (1.53, ``segment/_rind_nodes.py``): the node
grid's weights and membrane, the score test that decides whether to try it, and what it does to the
rind sweep's lobulated rinds (held-out seeds and the held-out second shape) and ovals.  Figures:
docs/validation.md section 2.2, "Algorithm 1.53"."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _rind, _rind_nodes
from hcc_imaging.segment import constants as C

from ._phantom import dice, rim_scene, rim_scene_shape

NTH, NPH = C.LESION_RIND_RAYS
FINE = (1.5, 0.7, 0.7)


def test_the_membrane_is_the_sum_of_squared_differences_of_neighbouring_nodes() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(size=NTH * NPH)
    g = d.reshape(NTH, NPH)
    direct = float(((g - np.roll(g, -1, axis=1)) ** 2).sum() + ((g[1:] - g[:-1]) ** 2).sum())
    assert float(d @ (_rind_nodes.membrane() @ d)) == pytest.approx(direct, rel=1e-12)
    assert np.allclose(_rind_nodes.membrane() @ np.ones(NTH * NPH), 0.0)  # a shift costs nothing


def test_node_weights_interpolate_the_rays_directions() -> None:
    rays = _rind._ray_directions().reshape(-1, 3)
    w = _rind_nodes.node_weights(rays).toarray()
    # at a ray's own direction all the weight is on its node
    assert np.allclose(w, np.eye(NTH * NPH), atol=1e-9)
    # anywhere: four non-negative weights summing to one, continuous across the azimuth's wrap
    rng = np.random.default_rng(1)
    u = rng.normal(size=(500, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    wu = _rind_nodes.node_weights(u)
    assert np.allclose(np.asarray(wu.sum(axis=1)).ravel(), 1.0) and wu.data.min() >= 0.0
    eps = 1e-7
    a = np.array([[0.3, -eps, np.sqrt(1 - 0.09)]])  # just below azimuth 2 pi
    b = np.array([[0.3, +eps, np.sqrt(1 - 0.09)]])  # just above 0
    assert np.allclose(_rind_nodes.node_weights(a).toarray(), _rind_nodes.node_weights(b).toarray(), atol=1e-5)


def test_the_score_test_is_quiet_on_noise_and_loud_on_a_shape() -> None:
    rng = np.random.default_rng(2)
    u = rng.normal(size=(40_000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    a_in, a_out = rng.uniform(0.1, 1.0, size=(2, len(u)))
    noise = rng.normal(size=len(u))
    assert abs(_rind_nodes.misfit_score(u, a_in, a_out, noise)) < 4.0
    # a residual that one surface's radius, moved in one cap of directions, would explain
    shape = noise + 0.5 * a_out * (u[:, 0] > 0.8)
    assert _rind_nodes.misfit_score(u, a_in, a_out, shape) > C.LESION_RIND_NODES_MIN_SCORE_Z


def _fit(kind: str, seed: int, sd: float, rim: float) -> tuple[float, _rind.RindFit, float]:
    vols, truth, click = rim_scene(kind, seed, sd, rim_mm=rim, spacing=FINE, shape=rim_scene_shape(FINE))
    img = np.asarray(vols[Phase.ARTERIAL].array)
    fit = _rind.rind_border(img, tuple(click), FINE)
    m = np.zeros(img.shape, bool)
    m[fit.box] = fit.mask
    return dice(m, truth > 0), fit, float(m.sum() / (truth > 0).sum())


@pytest.mark.parametrize(("kind", "seed", "sd", "rim", "before", "floor"), [
    # (``before``: the degree-4 fit's Dice, 1.55's; 1.52-1.54's 0.882 / 0.911 / 0.888, before its blocks' fit)
    ("lobulated", 3, 5.0, 2.5, 0.887, 0.915),    # held-out seed of the shape 1.45 was designed on
    ("lobulated2", 2, 5.0, 3.0, 0.911, 0.94),    # the held-out second shape
    ("lobulated", 2, 15.0, 2.5, 0.880, 0.90),    # (1.61's rays every 0.7 mm; 1.55-1.60: 0.891, corrected 0.910 either way)
])
def test_lobulated_rinds_gain_with_the_correction(kind: str, seed: int, sd: float, rim: float, before: float,
                                                  floor: float, monkeypatch: pytest.MonkeyPatch) -> None:
    d, fit, vol = _fit(kind, seed, sd, rim)
    assert fit.per_direction
    assert d >= floor and 0.85 <= vol <= 1.2  # the volumes measured 0.89-1.07 (validation.md)
    monkeypatch.setattr(C, "LESION_RIND_NODES_MIN_SCORE_Z", float("inf"))
    d0, fit0, _ = _fit(kind, seed, sd, rim)
    assert not fit0.per_direction
    assert d0 == pytest.approx(before, abs=0.004)  # 1.55's figure (1.61's where noted)
    assert d - d0 >= 0.015


def test_an_oval_at_15_hu_keeps_its_degree_4_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    """The score test finds only noise (z 1.8): the mask is the degree-4 surface's, bit for bit."""
    d, fit, _ = _fit("oval", 0, 15.0, 2.5)
    assert not fit.per_direction and d >= 0.99
    monkeypatch.setattr(C, "LESION_RIND_NODES_MIN_SCORE_Z", float("inf"))
    _, fit0, _ = _fit("oval", 0, 15.0, 2.5)
    assert fit0.box == fit.box and np.array_equal(fit0.mask, fit.mask)

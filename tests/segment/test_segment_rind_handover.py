"""1.65 (``segment/_rind_coarse.py``, ``_rind_nodes._Banded``): on fine pixels the blocks' race hands a
lobulated rind over to the per-direction correction after ``LESION_RIND_HANDOVER_STEPS`` rounds, the
correction is fitted on the 2 x 2-pixel blocks and read at the pixels only where it can change the mask,
and its steps are solved by a banded Cholesky factorisation.  docs/validation.md section 2.4,
"Algorithm 1.65"."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import spsolve

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _rind, _rind_coarse, _rind_nodes, _rind_surfaces
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._rind_setup import _inside_corrected

from ._phantom import dice, rim_scene

NTH, NPH = C.LESION_RIND_RAYS
FINE = (1.5, 0.7, 0.7)
SHAPE = (40, 80, 80)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.normal(size=(n, 3))
    return u / np.linalg.norm(u, axis=1)[:, None]


def test_the_banded_solve_is_the_sparse_solve() -> None:
    """The correction's step by the banded Cholesky factorisation of the normal matrix assembled from the
    three blocks' values is the step SuperLU gives on the same matrix built as a sparse one (as on 1.64)."""
    rng = np.random.default_rng(0)
    u = _unit(rng, 20_000)
    w = _rind_nodes.node_weights(u)
    normal = _rind_nodes._Normal(w)
    lap = _rind_nodes.membrane()
    n = NTH * NPH
    prior = (sparse.block_diag([lap, lap]) * C.LESION_RIND_NODES_SMOOTHING
             + sparse.identity(2 * n) * C.LESION_RIND_NODES_RIDGE).tocsr()
    a_in, a_out = rng.normal(size=(2, len(u)))
    grad = rng.normal(size=2 * n)
    h_ii, h_io, h_oo = normal(a_in * a_in), normal(a_in * a_out), normal(a_out * a_out)
    hess = (sparse.bmat([[h_ii, h_io], [h_io, h_oo]]) + prior).tocsc()
    want = spsolve(hess, grad, permc_spec="MMD_AT_PLUS_A")
    banded = _rind_nodes._Banded(normal, prior)
    got = banded.solve(normal.values(a_in * a_in), normal.values(a_in * a_out), normal.values(a_out * a_out), grad)
    assert np.allclose(got, want, rtol=0.0, atol=1e-9 * float(np.abs(want).max()))
    assert banded.kd <= 2 * (NPH + 2) + 1  # (a band, not the whole matrix)


def test_the_offsets_near_the_layer_give_the_whole_box_mask() -> None:
    """The layer's offsets read only where they can move a voxel across the surface give the mask the whole
    box's offsets give, voxel for voxel, while reading the weights of a small part of the box."""
    rng = np.random.default_rng(1)
    shape, sp = (20, 40, 40), np.array([1.5, 0.7, 0.7])
    centre = (np.asarray(shape) - 1) / 2 * sp
    degree = C.LESION_BLUR_MODEL_DEGREE
    x0 = np.zeros(2 * _rind._direction_terms(np.eye(3), degree).shape[1])
    k = x0.size // 2
    x0[0], x0[k] = 4.0, 9.0  # (the constant term: radius ~ 9 mm times its normalisation)
    rho, u, use, _, y_t, _ = _rind._setup(shape, sp, centre, x0, degree, None)
    coef = x0[k:] + np.concatenate([[0.0], 0.3 * rng.normal(size=k - 1)])
    d = rng.normal(scale=0.8, size=NTH * NPH)
    whole = _rind_nodes.node_weights(u.reshape(-1, 3)) @ d
    near = _rind_coarse.offsets_near_layer(coef, d, rho, u, y_t, None)
    want = _inside_corrected(rho, u, y_t, coef, whole, degree)
    got = _inside_corrected(rho, u, y_t, coef, near, degree)
    assert 0 < int(want.sum()) < want.size
    assert np.array_equal(got, want)
    assert np.count_nonzero(near) < 0.5 * near.size


def _race_rounds(monkeypatch: pytest.MonkeyPatch, kind: str) -> tuple[list[int], list[bool], float, bool]:
    """rind_border on ``kind`` (seed 0, 2.5 mm layer, sigma 15): the steps each fit of the blocks' race took
    after the screen, the handover tests' answers, the mask's Dice and whether it was corrected."""
    steps: list[list[int]] = []
    answers: list[bool] = []
    real_gn, real_z = _rind_surfaces._gauss_newton_steps, _rind_coarse.misfit_z

    def counted(*args: Any, **kw: Any) -> Any:
        raced = (args[11] if len(args) > 11 else kw.get("steps")) == C.LESION_RIND_MAX_ITERATIONS
        taken: list[int] = []  # (the race's fits, on the pool's threads: their start, then a step each)
        if raced:
            steps.append(taken)
        for i, item in enumerate(real_gn(*args, **kw)):
            taken[:] = [i]
            yield item

    def z(*args: Any, **kw: Any) -> float:
        v = real_z(*args, **kw)
        answers.append(v >= C.LESION_RIND_HANDOVER_Z)
        return v

    monkeypatch.setattr(_rind_surfaces, "_gauss_newton_steps", counted)
    monkeypatch.setattr(_rind_coarse, "misfit_z", z)
    vols, truth, click = rim_scene(kind, 0, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    img = vols[Phase.ARTERIAL].array
    fit = _rind.rind_border(img, tuple(click), FINE)
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    return [t[0] for t in steps if t], answers, dice(full, truth), fit.per_direction


def test_a_lobulated_rind_is_handed_over_to_the_correction(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lobulated rind's race stops after LESION_RIND_HANDOVER_STEPS rounds (on 1.64 its fit crept on for
    27 steps on this click), the correction takes over and the mask stays within the rind sweep's figures
    for it (1.64: 0.908 on this click)."""
    steps, answers, d, corrected = _race_rounds(monkeypatch, "lobulated")
    assert answers == [True]
    assert steps and max(steps) <= C.LESION_RIND_HANDOVER_STEPS
    assert corrected and d >= 0.90


def test_an_oval_rind_races_to_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """An oval's fit ends before the handover's round (or its test says no): it is not cut short, and its
    mask is the degree-4 one (not corrected)."""
    steps, answers, d, corrected = _race_rounds(monkeypatch, "oval")
    assert not any(answers)
    assert not corrected and d >= 0.97

"""1.66 (``segment/_rind_nodes.py``, ``_rind_coarse.py``, ``_rind.py``): the correction on the blocks forms and
factorises its normal matrix every ``LESION_RIND_NODES_BLOCK_REFRESH``-th step only (the steps between are chord
steps: the last factor, their own gradient), and after the blocks' race was handed over the pixels' score test
is not taken again.  docs/validation.md section 2.4, "Algorithm 1.66"."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _rind, _rind_nodes
from hcc_imaging.segment import constants as C

from ._phantom import dice, rim_scene

NTH, NPH = C.LESION_RIND_RAYS


def test_the_kept_factor_solves_as_the_banded_solve() -> None:
    """The factor kept for the chord steps gives the step :meth:`_Banded.solve` gives on the same matrix (to
    rounding), for the gradient it was formed with and for another one."""
    rng = np.random.default_rng(2)
    u = rng.normal(size=(8000, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    normal = _rind_nodes._Normal(_rind_nodes.node_weights(u))
    _, banded = _rind_nodes._prior_and_band(NTH * NPH)
    a_in, a_out = rng.normal(size=(2, len(u)))
    vals = (normal.values(a_in * a_in), normal.values(a_in * a_out), normal.values(a_out * a_out))
    cb = banded.factor(*vals)
    assert cb is not None
    for grad in rng.normal(size=(2, 2 * NTH * NPH)):
        want = banded.solve(*vals, grad)
        got = banded.solve_factored(cb, grad)
        assert np.allclose(got, want, rtol=0.0, atol=1e-9 * float(np.abs(want).max()))


def test_the_block_correction_refactorises_every_other_step() -> None:
    """1.66's constants: at most 10 correction steps on the blocks, a factor every 2nd (the rind sweep's gate,
    docs/validation.md section 2.4, "Algorithm 1.66"); 1.67 hands over after 3 rounds, not 4."""
    assert (C.LESION_RIND_HANDOVER_STEPS, C.LESION_RIND_NODES_BLOCK_ITERATIONS, C.LESION_RIND_NODES_BLOCK_REFRESH) == (3, 10, 2)
    assert C.ALGORITHM_VERSION == "1.70"


def test_after_a_handover_the_pixels_score_test_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lobulated rind handed over on the blocks (2.5 mm layer, sigma 15, seed 0) takes one score test (the
    blocks', 1.65 took the pixels' after it too), is corrected, and its mask stays within the sweep's figures
    (0.909 on the sweep's box; 1.65 0.919)."""
    calls: list[int] = []
    real = _rind_nodes.misfit_score

    def counted(u: Any, *args: Any, **kw: Any) -> float:
        calls.append(len(u))
        return real(u, *args, **kw)

    monkeypatch.setattr(_rind_nodes, "misfit_score", counted)
    sp = (1.5, 0.7, 0.7)
    vols, truth, click = rim_scene("lobulated", 0, 15.0, rim_mm=2.5, spacing=sp, shape=(40, 80, 80))
    img = vols[Phase.ARTERIAL].array
    fit = _rind.rind_border(img, tuple(click), sp)
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    assert len(calls) == 1
    assert fit.per_direction and dice(full, truth) >= 0.90

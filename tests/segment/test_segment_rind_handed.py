"""1.67 (``segment/_rind.py``): a lobulated rind's race handed over to the per-direction correction takes no
Gauss-Newton step on the pixels (the correction on the blocks starts from the blocks' surfaces); the fit's values
and checks then read the blocks' state (their count and noise), and the handover comes after
``LESION_RIND_HANDOVER_STEPS`` (3) rounds.  An oval, not handed over, keeps its step on the pixels.
docs/validation.md section 2.4, "Algorithm 1.67"."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _rind, _rind_surfaces
from hcc_imaging.segment import constants as C

from ._phantom import RIM_SCENE_HU, dice, rim_scene

FINE = (1.5, 0.7, 0.7)


def _fit(monkeypatch: pytest.MonkeyPatch, kind: str) -> tuple[list[bool], Any, float]:
    """rind_border on ``kind`` (seed 0, 2.5 mm layer, sigma 15): for each Gauss-Newton run on the pixels after the
    blocks' race (``restrict=False``: the pixels' step), whether it ran; the fit; its mask's Dice."""
    pixel_steps: list[bool] = []
    real = _rind_surfaces._gauss_newton_steps

    def counted(*args: Any, **kw: Any) -> Any:
        if kw.get("restrict", True) is False:
            pixel_steps.append(True)
        return real(*args, **kw)

    monkeypatch.setattr(_rind_surfaces, "_gauss_newton_steps", counted)
    vols, truth, click = rim_scene(kind, 0, 15.0, rim_mm=2.5, spacing=FINE, shape=(40, 80, 80))
    img = vols[Phase.ARTERIAL].array
    fit = _rind.rind_border(img, tuple(click), FINE)
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    return pixel_steps, fit, dice(full, truth)


def test_a_handed_over_rind_takes_no_step_on_the_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """On 1.66 the lobulated rind took one Gauss-Newton step on the pixels (~8 ms of its click) before the
    correction on the blocks started from it; now none, and the mask stays within the sweep's figures."""
    steps, fit, d = _fit(monkeypatch, "lobulated")
    assert steps == []
    assert fit.per_direction and d >= 0.90


def test_an_oval_keeps_its_step_on_the_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    steps, fit, d = _fit(monkeypatch, "oval")
    assert steps == [True]
    assert not fit.per_direction and d >= 0.97


def test_the_blocks_state_gives_the_scene_s_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The values and the residual read from the blocks' state (their count and their noise, half the pixels'):
    the scene's arterial core and parenchyma, a layer well above the parenchyma (1.66's pixel state on this click:
    core 29.3, layer 92.9, parenchyma 70.3 HU), and a reduced chi^2 above 1 (the degree-4 surfaces' misfit of
    the lobes, which the note reports; the pixels' count with the blocks' residual would read a quarter of it)."""
    _, fit, _ = _fit(monkeypatch, "lobulated")
    par, core, _layer = RIM_SCENE_HU["arterial"]
    assert abs(fit.parenchyma_value - par) <= 3.0
    assert abs(fit.core_value - core) <= 8.0
    assert fit.layer_value - fit.parenchyma_value >= 15.0
    assert 1.2 <= fit.chi2_reduced <= 4.0


def test_the_handover_constants() -> None:
    """1.67's constants: the handover after 3 rounds, the correction's 10 steps on the blocks, a factor every 2nd."""
    assert (C.LESION_RIND_HANDOVER_STEPS, C.LESION_RIND_NODES_BLOCK_ITERATIONS, C.LESION_RIND_NODES_BLOCK_REFRESH) == (3, 10, 2)

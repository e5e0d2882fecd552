"""A rind click's path (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06,
fourth)"): when step 13's fit starts in the click, and the work step 1 does not repeat.  Both
changes keep every mask; these tests check what they do (when, how often), not a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _driver, _kernels, _rind, _rind_surfaces, segment_lesion

from ._phantom import dice, rim_scene

FINE = (1.5, 0.7, 0.7)
SHAPE = (40, 80, 80)  # (the lesion, at most 28 mm across, with 14 mm around it in-plane)


def test_the_fit_starts_after_the_first_round_on_its_own_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 13's fit ahead (``RindAhead``) starts as soon as the phase choice's first round on the
    arterial phase (step 13's) finds the click's region hypodense, before the other phases' first
    rounds (on main until 2026-12-06 it started after all four), and the click reads that fit: one
    fit a click, and the mask is step 13's."""
    vols, truth, click = rim_scene("oval", 0, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    assert list(vols)[0] == Phase.ARTERIAL and len(vols) == 4
    rounds: list[Any] = []
    real_segment_on = _driver._segment_on

    def counted(*args: Any, **kw: Any) -> Any:
        rounds.append(kw.get("first_round_only", False))
        return real_segment_on(*args, **kw)

    started: list[int] = []

    class Recorded(_driver.RindAhead):
        def __init__(self, *args: Any, **kw: Any) -> None:
            started.append(len(rounds))
            super().__init__(*args, **kw)

    monkeypatch.setattr(_driver, "_segment_on", counted)
    monkeypatch.setattr(_driver, "RindAhead", Recorded)
    res = segment_lesion(vols, seed_index=tuple(click))
    assert rounds[:4] == [True] * 4  # the phase choice's four first rounds ran
    assert started == [1]  # one fit, started after the first of them
    assert any("(step 13)" in n for n in res.notes)
    assert dice(res.labels.array != 0, truth) >= 0.97


def test_step_1_does_not_redo_an_unchanged_cores_distances(monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 1's second round, whose core is the first's (the parenchyma's value from the shell moved
    too little to change it), reuses the first round's distances: one distance transform, not two;
    a core that changes is measured again (the same masks either way: section 2.4; a third of the
    rind sweep's fine-grid clicks keep their core)."""
    calls: list[tuple[int, ...]] = []
    real = _kernels.distance_transform_edt

    def counted(a: Any, *args: Any, **kw: Any) -> Any:
        calls.append(np.shape(a))
        return real(a, *args, **kw)

    monkeypatch.setattr(_kernels, "distance_transform_edt", counted)
    vols, truth, click = rim_scene("oval", 0, 5.0, rim_mm=1.5, spacing=FINE, shape=SHAPE)
    img = vols[Phase.ARTERIAL].array
    fit = _rind.rind_border(img, tuple(click), FINE)
    assert len(calls) == 1
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    assert dice(full, truth) >= 0.97


def test_one_step_on_the_pixels_after_the_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.58: on pixels up to ``LESION_RIND_COARSE_MAX_PIXEL_MM`` the surfaces fitted on 2 x 2-pixel
    blocks take one Gauss-Newton step on the pixels (1.55-1.57: up to 3, and every click of the rind
    sweep took all 3, which moved its Dice little); an oval rind is still fitted to >= 0.97."""
    runs: list[tuple[int, int]] = []  # (the fitted voxels, the states a fit yielded: its start and its steps)
    real = _rind_surfaces._gauss_newton_steps

    def counted(*args: Any, **kw: Any) -> Any:
        n = 0
        for item in real(*args, **kw):
            n += 1
            yield item
        runs.append((len(args[8]), n))

    monkeypatch.setattr(_rind_surfaces, "_gauss_newton_steps", counted)
    vols, truth, click = rim_scene("oval", 1, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    img = vols[Phase.ARTERIAL].array
    fit = _rind.rind_border(img, tuple(click), FINE)
    pixels = max(v for v, _ in runs)
    on_pixels = [n for v, n in runs if v == pixels]
    assert len(on_pixels) == 1 and pixels > 2 * min(v for v, _ in runs)  # (the blocks' fits hold a quarter)
    assert on_pixels[0] == 2  # its start and one step
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    assert dice(full, truth) >= 0.97


def test_the_rays_sample_every_fine_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.61: step 13's rays sample the image every 0.7 mm (a fine pixel; 1.24-1.60: every 0.35 mm, twice
    the samples for the same edges: the profiles are blurred by >= 0.6 mm and the edges searched on a
    0.25 mm grid from the ramps' table, not the samples); an oval rind is still fitted to >= 0.97."""
    steps_mm: list[float] = []
    real = _rind.ndimage.map_coordinates

    def recorded(img: Any, coords: Any, *args: Any, **kw: Any) -> Any:
        if not steps_mm and kw.get("order") == 1:  # (the rays' profiles: their first call)
            c = np.asarray(coords).T * np.asarray(FINE)  # (mm; the first ray's samples come first)
            steps_mm.append(float(np.linalg.norm(c[1] - c[0])))
        return real(img, coords, *args, **kw)

    monkeypatch.setattr(_rind.ndimage, "map_coordinates", recorded)
    vols, truth, click = rim_scene("oval", 1, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    img = vols[Phase.ARTERIAL].array
    fit = _rind.rind_border(img, tuple(click), FINE)
    assert steps_mm and steps_mm[0] == pytest.approx(0.7, abs=1e-9)
    full = np.zeros(img.shape, bool)
    full[fit.box] = fit.mask
    assert dice(full, truth) >= 0.97


def _count_border_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Steps 12 / 12b's runs (``_driver._border_fits``, the real one) in the clicks that follow."""
    calls: list[int] = []
    real = _driver._border_fits

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(_driver, "_border_fits", counted)
    return calls


def test_steps_12_are_skipped_when_the_fit_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.62: a click whose step-13 fit passed the rays' floors waits for it before steps 12 / 12b;
    the fit holds the click, so steps 12 / 12b (whose mask it replaces) do not run (on 1.61 they ran,
    on the other core, beside the fit) and the mask is step 13's."""
    vols, truth, click = rim_scene("oval", 0, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    calls = _count_border_fits(monkeypatch)
    res = segment_lesion(vols, seed_index=tuple(click))
    assert calls == []
    assert any("(step 13)" in n for n in res.notes)
    assert dice(res.labels.array != 0, truth) >= 0.97


def test_steps_12_run_when_the_fit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hypodense lesion with no layer on fine pixels: the fit is refused (here by step 1's or the
    rays' checks), steps 12 / 12b run once, and the mask has no step-13 note."""
    vols, truth, click = rim_scene("oval", 0, 15.0, rim_mm=0.0, spacing=FINE, shape=SHAPE)
    calls = _count_border_fits(monkeypatch)
    res = segment_lesion(vols, seed_index=tuple(click))
    assert calls == [1]
    assert not any("(step 13)" in n for n in res.notes)
    assert dice(res.labels.array != 0, truth) >= 0.9

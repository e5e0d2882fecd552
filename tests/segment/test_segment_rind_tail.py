"""The session of 2026-12-06 (eighth, third round; the same masks and records, no new version): a rind click's steps 9b
and 11 on the mask before steps 12 / 12b (which they read when step 13's fit holds the click) run while the
fit ends, before the click waits for it, not after it (~7 ms of a lobulated click's ~10 after the fit:
docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, eighth, third round)").  These tests check the
order and the values, not a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _driver, _steps_9b_11, segment_lesion
from hcc_imaging.segment._grow import _RoiResult

from ._phantom import dice, rim_scene

FINE = (1.5, 0.7, 0.7)
SHAPE = (40, 80, 80)  # (the lesion, at most 28 mm across, with 14 mm around it in-plane)


def test_steps_9b_and_11_run_before_the_click_waits_for_the_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fine-grid oval rind (the fit holds the click), steps 9b and 11 run once, on the mask before steps
    12 / 12b, before the click waits for the fit's result (on 1.66 after it); steps 12 / 12b do not run; the
    mask is step 13's."""
    vols, truth, click = rim_scene("oval", 0, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    assert list(vols)[0] == Phase.ARTERIAL and len(vols) == 4
    events: list[str] = []
    real_steps = _driver.lipiodol_and_defect
    real_result = _driver.RindAhead.result
    real_border_fits = _driver._border_fits

    def steps(*args: Any, **kw: Any) -> Any:
        events.append("9b/11")
        return real_steps(*args, **kw)

    def result(self: Any) -> Any:
        events.append("result")
        return real_result(self)

    def border_fits(*args: Any, **kw: Any) -> Any:
        events.append("12/12b")
        return real_border_fits(*args, **kw)

    monkeypatch.setattr(_driver, "lipiodol_and_defect", steps)
    monkeypatch.setattr(_driver.RindAhead, "result", result)
    monkeypatch.setattr(_driver, "_border_fits", border_fits)
    res = segment_lesion(vols, seed_index=tuple(click))
    assert events[0] == "9b/11" and events.count("9b/11") == 1
    assert "result" in events and "12/12b" not in events
    assert any("(step 13)" in n for n in res.notes)
    assert dice(res.labels.array != 0, truth) >= 0.97


def test_lipiodol_and_defect_adds_a_touching_deposit_and_leaves_the_inputs() -> None:
    """``lipiodol_and_defect`` on a ball (step 9b on: two phases) with a dense deposit touching it: the deposit
    joins the mask with its margin (9b's note, the box holding both), the ball keeps its label, no defect (no
    tube), the images are not written; with 9b off the volume is the ball alone."""
    shape, sp = (20, 40, 40), (1.5, 0.7, 0.7)
    zz, yy, xx = np.indices(shape)
    ball = ((zz - 10) * 1.5) ** 2 + ((yy - 20) * 0.7) ** 2 + ((xx - 20) * 0.7) ** 2 <= 5.0 ** 2
    dep = ((zz - 10) * 1.5) ** 2 + ((yy - 20) * 0.7) ** 2 + ((xx - 29) * 0.7) ** 2 <= 2.5 ** 2
    img = np.where(dep, 900.0, np.where(ball, 30.0, 100.0)).astype(np.float32)
    images = {"arterial": img, "portal_venous": img.copy()}
    before = {k: v.copy() for k, v in images.items()}
    lo = np.array([2, 10, 10], np.int64)
    rr = _RoiResult(mask=ball[2:18, 10:30, 10:30], lo=lo, model=None, touches=False, at_max=False)  # type: ignore[arg-type]
    assert np.array_equal(np.pad(rr.mask, [(2, 2), (10, 10), (10, 10)]), ball)
    got = _steps_9b_11.lipiodol_and_defect(rr, rr, rr, images, None, shape, sp, 3, True, False, None)
    assert got.defect is None and got.lip_note is not None
    assert got.notes == [got.lip_note[1]] and "lipiodol" in got.notes[0]
    assert np.all(got.full[ball] == 3) and np.all(got.full[dep] == 3)
    assert set(np.unique(got.full)) == {0, 3} and np.count_nonzero(got.full) > np.count_nonzero(ball | dep)
    inside = np.zeros(shape, bool)
    inside[got.sl] = True
    assert np.all(inside[got.full != 0])
    for k in images:
        assert np.array_equal(images[k], before[k])
    off = _steps_9b_11.lipiodol_and_defect(rr, rr, rr, images, None, shape, sp, 3, False, False, None)
    assert off.lip_note is None and off.notes == [] and np.array_equal(off.full != 0, ball)

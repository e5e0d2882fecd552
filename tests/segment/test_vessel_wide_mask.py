"""Step 11 (segment/_vessel.py) on a mask far wider than any lumen (2026-12-06, docs/validation.md
section 2.4, "A click on a huge region refused early"): the study phantom's ascites on the
512 x 512 x 100 grid, a 725 mL region, took 4-6 s of step 11's tube fit before the click was
refused.  ``too_wide_for_a_lumen`` is an exact bound read from the mask's voxel count and box
alone: no defect the fit could accept agrees with such a mask, so the fit is not entered."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment import _vessel
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._vessel import thrombus_in_lumen


def _fluid_beside_a_vessel() -> tuple[np.ndarray, dict[str, np.ndarray], tuple[float, float, float]]:
    """A 70 x 70 x 45 mm block of fluid (10 HU, 220 mL) in tissue (60 HU) with two bright 10 mm
    vessels (180 HU) along its sides, in its shell: the raw pre-check (blood brighter than the mask
    and the wall) passes, so before the bound the tube fit ran on the whole block.  Noise 5 HU."""
    sp = (3.0, 1.5, 1.5)
    shape = (24, 64, 64)
    k, j, i = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, sp, strict=True)), indexing="ij")
    block = (np.abs(k - 36) <= 22.5) & (np.abs(j - 45) <= 35) & (np.abs(i - 45) <= 35)
    vessel = (np.hypot(k - 36, j - 85) <= 5.0) | (np.hypot(k - 36, i - 85) <= 5.0)
    img = np.full(shape, 60.0)
    img[block] = 10.0
    img[vessel] = 180.0
    img += np.random.default_rng(0).normal(0, 5, shape)
    return block, {"portal_venous": img.astype(np.float32)}, sp


def test_a_mask_far_wider_than_a_lumen_is_not_fitted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The block (220 mL) is refused by the bound before the tube fit (counted) is entered; on the
    code before the bound the fit ran (and found no defect either)."""
    mask, images, sp = _fluid_beside_a_vessel()
    assert _vessel._may_hold_blood(*_vessel._shell_box(mask, np.array([0, 0, 0]), np.array(mask.shape),
                                                      np.asarray(sp), np.array([2, 3, 3])), images["portal_venous"])
    fits: list[int] = []
    real = _vessel._fit_one

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        fits.append(1)
        return real(*a, **k)

    monkeypatch.setattr(_vessel, "_fit_one", counting)
    assert thrombus_in_lumen(mask, images, sp) is None
    assert fits == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bound_never_undercounts_a_cylinder(seed: int) -> None:
    """The bound's premise: the voxels of a box whose centres lie within the candidate radius of a
    line are at most the widened cylinder's volume over the box's diagonal, in voxels.  Checked by
    counting on a full box for random lines and the box's diagonal (the longest chord)."""
    rng = np.random.default_rng(seed)
    sp = np.array([rng.uniform(0.6, 3.0), rng.uniform(0.5, 1.2), rng.uniform(0.5, 1.2)])
    shape = np.array([rng.integers(12, 30), rng.integers(40, 80), rng.integers(40, 80)])
    pts = np.stack(np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, sp, strict=True)), indexing="ij"), -1)
    pts = pts.reshape(-1, 3)
    radius = C.VESSEL_MAX_RADIUS_MM + 2.0 * C.VESSEL_SHELL_MM
    widened = radius + 0.5 * float(np.linalg.norm(sp))
    bound = np.pi * widened**2 * float(np.linalg.norm(shape * sp)) / float(np.prod(sp))
    far = (shape - 1) * sp
    lines = [(np.zeros(3), far / np.linalg.norm(far))]
    for _ in range(6):
        u = rng.normal(size=3)
        lines.append((rng.uniform(0, 1, 3) * far, u / np.linalg.norm(u)))
    for c, u in lines:
        rel = pts - c
        t = rel @ u
        perp = np.linalg.norm(rel - t[::, None] * u, axis=1)
        assert np.count_nonzero(perp <= radius) <= bound


def test_a_thrombus_sized_mask_is_not_too_wide() -> None:
    """A thrombus-sized mask (a 7 mm radius, 40 mm long tube on 1.5 x 0.68 x 0.68 mm voxels, as the
    study phantom's L7) and the block's own core (a 10 mm cube) are left to the fit; the 220 mL
    block and the 725 mL ascites region (its count and box on that grid) are not."""
    from hcc_imaging.segment._vessel import too_wide_for_a_lumen

    sp = (1.5, 0.68, 0.68)
    tube_vox = int(np.pi * 7.0**2 * 40.0 / np.prod(sp))
    assert not too_wide_for_a_lumen(tube_vox, np.array([0, 0, 0]), np.array([27, 60, 60]), sp)
    assert not too_wide_for_a_lumen(7 * 15 * 15, np.array([0, 0, 0]), np.array([7, 15, 15]), sp)
    mask, _, sp_b = _fluid_beside_a_vessel()
    lo = np.argwhere(mask).min(0)
    hi = np.argwhere(mask).max(0) + 1
    assert too_wide_for_a_lumen(int(mask.sum()), lo, hi, sp_b)
    assert too_wide_for_a_lumen(1_045_610, np.array([0, 0, 0]), np.array([88, 267, 207]), sp)

"""Lesion segmentation 1.51: step 12 around a click's core may grow it up to 8 x (issue 5).

A bright lesion with an ill-defined margin (``benchmarks/sweep_segment_robustness.py --lesion-blur-mm
3``: the lesion fades into the 60 HU liver over a 3 mm Gaussian; the truth is the sharp shape) gives
a click region that is its plateau core.  Step 7's test fires on the blurred margin and its growth
is rejected; step 12 then fits the blurred-surface model around the core (1.15,
``blurred_border(from_core=True)``), and its refit from the first fit's surface finds the right blur
(2.75-3.5 mm) and border.  Until 1.50 that refit was held to the nesting rule's 3 x growth limit,
which a midpoint-level start needs but a plateau core does not: on the noise-free 20 mm lesions the
refits grew the core 3.0-6.9 x and were refused, and step 8's star took 5-8 x the lesion (Dice
0.22-0.35, "not enclosed").  Figures: docs/validation.md, "Algorithm 1.51".
"""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment import constants as C
from hcc_imaging.segment._blur import _verdict

from ._phantom import dice, robustness_click


# the ill-defined sweep's centre clicks (z blur 0.6 voxel), Dice 1.50 -> 1.51 in the comments
CASES = [
    ((2.5, 0.703, 0.703), 250.0, 0.0),  # 0.242 -> 0.984
    ((1.0, 0.7, 0.7), 110.0, 0.0),      # 0.301 -> 0.976
    ((3.0, 0.6, 0.6), 20.0, 0.0),       # 0.329 -> 0.979 (a hypodense lesion; the refit grows its core 6.9 x)
    ((3.0, 0.6, 0.6), 250.0, 10.0),     # 0.231 -> 0.976
]


@pytest.mark.parametrize(("spacing", "hu", "noise"), CASES)
def test_a_blurred_20mm_lesions_core_grows_to_its_border(spacing, hu: float, noise: float) -> None:  # type: ignore[no-untyped-def]
    res, m, truth = robustness_click(spacing, 20.0, hu, noise, 0.6, 3.0)
    assert res.border_blur_mm is not None and 2.0 <= res.border_blur_mm <= 3.5  # step 12's border, a found blur
    assert not any("not enclosed" in n for n in res.notes)  # not step 8's star
    assert dice(m, truth) >= 0.95
    assert 0.85 <= m.sum() / truth.sum() <= 1.15


def _balls(r_start: float, r_out: float, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.mgrid[-30:31, -30:31, -30:31].astype(float)
    start = z**2 + y**2 + x**2 <= r_start**2
    out = z**2 + y**2 + (x - shift) ** 2 <= r_out**2
    return start, out


def test_the_core_limit_is_only_a_growth_limit() -> None:
    """The nesting rule with the core's limit: a fit that keeps the start and grows it 5 x is nested
    under 8 x and refused under the ordinary 3 x; one that leaves the start (another object) or
    whose blur is the grid's largest is refused whatever the limit."""
    lo = np.zeros(3, np.int64)
    start, out = _balls(6.0, 6.0 * 5.0 ** (1 / 3))  # 5 x the volume, nested
    assert _verdict(start, lo, out, lo, 3.0, max_growth=C.LESION_BLUR_MODEL_CORE_MAX_GROWTH) == "nested"
    assert _verdict(start, lo, out, lo, 3.0) == "refused"
    top = max(C.LESION_BLUR_MODEL_SIGMAS_MM)
    assert _verdict(start, lo, out, lo, top, max_growth=C.LESION_BLUR_MODEL_CORE_MAX_GROWTH) == "unbracketed growth"
    _, moved = _balls(6.0, 6.0 * 5.0 ** (1 / 3), shift=14.0)  # as large, but beside the start
    assert _verdict(start, lo, moved, lo, 3.0, max_growth=C.LESION_BLUR_MODEL_CORE_MAX_GROWTH) == "refused"
    _, huge = _balls(6.0, 6.0 * 10.0 ** (1 / 3))  # 10 x: beyond the core's limit too
    assert _verdict(start, lo, huge, lo, 3.0, max_growth=C.LESION_BLUR_MODEL_CORE_MAX_GROWTH) == "refused"

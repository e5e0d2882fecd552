"""Lesion segmentation 1.70: a refusal in a region of interest that may still grow is tried in a larger one (issue 5).

Steps 3-6 run in a cubic region of interest of ``LESION_ROI_HALF_SIZE_MM`` around the click, grown by
``LESION_ROI_GROWTH`` while the mask reaches its faces.  Until 1.69 a round refused for low contrast was
final even when its region already reached those faces: a 40 mm lesion on 5 mm slices at 25 HU noise
(the robustness sweep's phantom, 11 slices in the first region of interest) had its ring and edge band
cut by the faces, its contrast read as 11-13 HU against a 13.2 HU threshold, and was refused.  1.70
grows the region and tries again (``_grow._RefusedInSmallRoi``) when the refused round's region reaches
a face and fills ``LESION_ROI_RETRY_FILL`` of the region of interest (a lesion it cuts, not a vessel
through it nor a tissue filling it); any other refusal is the same ``LowContrastError`` as before.  Figures:
docs/validation.md, "Algorithm 1.70".
"""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment import LowContrastError, segment_lesion
from hcc_imaging.segment import _grow
from hcc_imaging.segment import constants as C

from ._phantom import dice, perf_phantom, robustness_click

# (spacing, diameter mm, lesion HU, z blur voxels, margin blur mm): refused with 1.69; Dice with 1.70
CASES = [
    ((5.0, 0.78, 0.78), 40.0, 40.0, 0.2, 3.0),  # ill-defined margin, hypodense: 0.969
    ((5.0, 0.78, 0.78), 40.0, 90.0, 0.2, 3.0),  # ill-defined margin, hyperdense: 0.982
    ((5.0, 0.78, 0.78), 40.0, 40.0, 0.6, 0.0),  # sharp margin: 0.927
]


@pytest.mark.parametrize(("spacing", "diameter", "hu", "z_blur", "margin"), CASES)
def test_refusal_at_the_first_regions_faces_is_tried_in_a_larger_one(spacing, diameter, hu, z_blur, margin) -> None:  # type: ignore[no-untyped-def]
    res, m, truth = robustness_click(spacing, diameter, hu, 25.0, z_blur, margin)
    assert dice(m, truth) >= 0.9
    assert 0.8 <= m.sum() / truth.sum() <= 1.25


@pytest.mark.parametrize("noise", [0.5, 5.0])
def test_a_click_on_a_tissue_that_fills_the_region_is_refused_at_once(noise, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A click on a uniform 60 HU field (the phantom's grid) is refused in the first region of interest,
    as before 1.70.  At 0.5 HU noise its region fills the region of interest (no ring around it); at
    5 HU the rounds' region fills 0.97 of it and the contrast is 1 HU.  A region filling more than
    ``LESION_ROI_RETRY_MAX_FILL`` is a tissue that fills every region: no larger one is tried (each
    would cost more and refuse too), and the caller sees a public ``LowContrastError``."""
    ph = perf_phantom(0, shape=(60, 216, 216))
    rng = np.random.default_rng(0)
    vol = ph.volume.with_array((60.0 + noise * rng.standard_normal(ph.volume.shape)).astype(np.float32))
    seen: list[tuple[int, ...]] = []
    real = _grow._grow_rounds

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        seen.append(a[0].shape)
        return real(*a, **k)

    monkeypatch.setattr(_grow, "_grow_rounds", spy)
    with pytest.raises(LowContrastError) as err:
        segment_lesion(vol, seed_index=ph.seed_index)
    assert not isinstance(err.value, _grow._RefusedInSmallRoi)
    assert len(set(seen)) == 1


def test_only_a_lesion_the_region_cuts_signals_a_retry() -> None:
    """``_refusal``: the retry signal only when the region of interest may grow (``touches_face`` given), the
    round's region reaches a face and fills ``LESION_ROI_RETRY_FILL`` of it (a lesion the region cuts); a
    plain ``LowContrastError`` for a tube running through it, a tissue filling it, a region clear of the
    faces, or a region of interest at its largest."""
    low, high = C.LESION_ROI_RETRY_FILL
    shape = (10, 10, 10)

    def touches(m):  # type: ignore[no-untyped-def]
        return bool(m[0].any() or m[-1].any())

    lesion = np.zeros(shape, dtype=bool)
    lesion[:, 2:8, 2:8] = True  # a block through the slice faces: 0.36
    tube = np.zeros(shape, dtype=bool)
    tube[:, 4:6, 4:6] = True  # a vessel: 0.04
    tissue = np.ones(shape, dtype=bool)
    tissue[3:6, 3:6, 3:6] = False  # 0.97
    inside = np.zeros(shape, dtype=bool)
    inside[1:9, 2:8, 2:8] = True  # 0.29, clear of the faces
    assert low <= lesion.mean() < high and tube.mean() < low and tissue.mean() >= high
    assert type(_grow._refusal(lesion, touches, "x")) is _grow._RefusedInSmallRoi
    for region, may_grow in ((tube, touches), (tissue, touches), (inside, touches), (lesion, None)):
        assert type(_grow._refusal(region, may_grow, "x")) is LowContrastError
    assert str(_grow._refusal(lesion, touches, "the message")) == "the message"

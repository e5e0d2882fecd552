"""3D-IRCADb-01 patient 17 (real contrast CT, expert masks): liver and tumour segmentation.

Honest regression floors at the values measured when this was written (docs/validation.md):
the issue's targets (liver Dice >= 0.90, tumour from one click >= 0.85) are NOT reached on
these two large (6.5-7.8 cm) heterogeneous tumours; the floors keep the method from getting
worse and the docs report the gap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.io import load_series
from hcc_imaging.io.masks import load_mask
from hcc_imaging.measure import measure_lesion
from hcc_imaging.segment import segment_lesion, segment_liver

from ._phantom import dice

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ircad(ircadb17: Path):  # type: ignore[no-untyped-def]
    ct = load_series(ircadb17 / "PATIENT_DICOM")
    liver = load_mask(ircadb17 / "MASKS_DICOM" / "liver", ct)
    tumours = {p.name: load_mask(p, ct) for p in sorted((ircadb17 / "MASKS_DICOM").glob("livertumor*"))}
    assert len(tumours) == 2
    return ct, liver, tumours


def test_liver_dice_vs_expert(ircad) -> None:  # type: ignore[no-untyped-def]
    ct, liver, _ = ircad
    mine = segment_liver(ct)
    assert dice(mine.array, liver.array) >= 0.88  # measured 0.896 (target 0.90)


@pytest.mark.parametrize("name", [pytest.param("livertumor1", id="tumour1"), pytest.param("livertumor2", id="tumour2")])
def test_tumour_from_one_click_and_from_a_line(ircad, name: str) -> None:  # type: ignore[no-untyped-def]
    ct, liver, tumours = ircad
    tm = tumours[name]
    idx = np.argwhere(tm.array)
    centre = idx[np.argmin(((idx - idx.mean(0)) ** 2).sum(1))]
    click = segment_lesion(ct, seed_index=tuple(int(v) for v in centre), liver=liver)
    assert dice(click.labels.array, tm.array) >= 0.5  # measured 0.551 / 0.634 (target 0.85)
    expert = measure_lesion(tm, 1)
    line = segment_lesion(ct, line_lps=expert.ld_endpoints_lps, liver=liver)
    assert dice(line.labels.array, tm.array) >= 0.7  # measured 0.746 / 0.735
    ld = measure_lesion(line.labels, 1).longest_diameter_mm
    assert ld > 0.8 * expert.longest_diameter_mm

"""Cross-check with the project's phantom helper (hcc_imaging.phantoms.ellipsoid_lesion)."""

from __future__ import annotations

import pytest

from hcc_imaging import phantoms
from hcc_imaging.measure import measure_lesion


@pytest.mark.parametrize(
    ("radii", "spacing", "rot", "offset"),
    [
        pytest.param((6.0, 12.0, 7.0), (2.5, 0.7, 0.7), 23.0, (0.3, -0.2, 0.4), id="24mm-ct2.5-rot23"),
        pytest.param((10.0, 25.0, 15.0), (1.0, 0.8, 0.8), 71.0, (0.1, 0.45, -0.3), id="50mm-1mm-rot71"),
        pytest.param((8.0, 9.0, 9.0), (5.0, 0.6, 0.6), 0.0, (0.0, 0.0, 0.0), id="18mm-thick5"),
    ],
)
def test_against_phantom_truth(radii, spacing, rot, offset) -> None:
    _vol, labels, truth = phantoms.ellipsoid_lesion(radii, spacing, centre_offset_vox=offset, rotation_deg=rot)
    value = labels.present_labels()[0]
    m = measure_lesion(labels, value)
    h = max(spacing[1], spacing[2])  # the bound: half the largest in-plane voxel
    assert abs(m.longest_diameter_mm - truth.longest_diameter_mm) <= 0.5 * h
    assert abs(m.short_axis_mm - truth.short_axis_mm) <= 0.5 * h
    assert m.volume_mm3 == pytest.approx(truth.mask_volume_mm3)

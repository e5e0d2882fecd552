"""The one diameter estimator (voxel centres), pinned on digital shapes (DESIGN section 2)."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.measure import (
    ESTIMATOR,
    feret_diameter_3d,
    lesion_volume_mm3,
    longest_axial_diameter,
    short_axis,
)
from hcc_imaging.volume import LabelVolume


def _lab(arr: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> LabelVolume:
    return LabelVolume.create(arr.astype(np.uint8), spacing=spacing)


def test_estimator_is_voxel_centres() -> None:
    assert ESTIMATOR == "voxel-centres"


def test_square_10x10_gives_centre_diagonal() -> None:
    a = np.zeros((1, 12, 12))
    a[0, 1:11, 1:11] = 1
    lab = _lab(a)
    ld = longest_axial_diameter(lab)
    assert ld.length_mm == pytest.approx(9 * np.sqrt(2), abs=1e-9)  # 12.73 mm, not 14.14
    assert round(ld.length_mm, 2) == 12.73
    assert short_axis(lab).length_mm == pytest.approx(9 * np.sqrt(2), abs=1e-9)
    assert feret_diameter_3d(lab).length_mm == pytest.approx(12.7279, abs=1e-4)
    assert lesion_volume_mm3(lab) == 100.0


def test_bar_10x1_gives_9mm_and_zero_width() -> None:
    a = np.zeros((1, 3, 12))
    a[0, 1, 1:11] = 1
    lab = _lab(a)
    ld = longest_axial_diameter(lab)
    assert ld.length_mm == pytest.approx(9.0)
    assert short_axis(lab).length_mm == 0.0
    assert sorted(p[0] for p in ld.endpoints_lps) == [1.0, 10.0]  # col axis = +x (L)


def test_single_voxel_is_zero() -> None:
    a = np.zeros((1, 3, 3))
    a[0, 1, 1] = 1
    lab = _lab(a)
    assert longest_axial_diameter(lab).length_mm == 0.0
    assert short_axis(lab).length_mm == 0.0
    assert feret_diameter_3d(lab).length_mm == 0.0


def test_disc_10_voxels_across() -> None:
    j, i = np.mgrid[0:12, 0:12]
    a = (((j - 5.5) ** 2 + (i - 5.5) ** 2) <= 25.0)[None]
    ld = longest_axial_diameter(_lab(a)).length_mm
    # 9.90 mm = 7 * sqrt(2): what SimpleITK Feret gives too (perf.md 3.1); edge to edge 10 mm
    assert ld == pytest.approx(7 * np.sqrt(2), abs=1e-9)


def test_anisotropic_spacing_scales_axes() -> None:
    a = np.zeros((1, 3, 12))
    a[0, 1, 1:11] = 1
    assert longest_axial_diameter(_lab(a, (5.0, 0.6, 0.7))).length_mm == pytest.approx(9 * 0.7)
    b = np.zeros((1, 12, 3))
    b[0, 1:11, 1] = 1
    assert longest_axial_diameter(_lab(b, (5.0, 0.6, 0.7))).length_mm == pytest.approx(9 * 0.6)


def test_long_axis_is_in_plane_not_3d() -> None:
    # a vertical column 10 slices tall, 1 voxel wide: LD 0 (one voxel per slice), Feret 9 x 2.5
    a = np.zeros((12, 3, 3))
    a[1:11, 1, 1] = 1
    lab = _lab(a, (2.5, 0.8, 0.8))
    assert longest_axial_diameter(lab).length_mm == 0.0
    assert feret_diameter_3d(lab).length_mm == pytest.approx(22.5)


def test_endpoints_and_slice_index() -> None:
    a = np.zeros((5, 10, 10))
    a[3, 2, 1:9] = 1
    a[1, 4, 4:6] = 1
    lab = LabelVolume.create(a.astype(np.uint8), spacing=(2.0, 1.0, 1.0), origin=(10.0, 20.0, 30.0))
    ld = longest_axial_diameter(lab)
    assert ld.slice_index == 3 and ld.plane_axis == 0
    assert ld.length_mm == pytest.approx(7.0)
    pts = sorted(ld.endpoints_lps)
    assert pts[0] == pytest.approx((11.0, 22.0, 36.0))
    assert pts[1] == pytest.approx((18.0, 22.0, 36.0))

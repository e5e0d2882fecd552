"""RTSTRUCT contours on a series with THINNER slices than the contour spacing (hcc_imaging.io._rt_fill).

Contours every 3.27 mm (IBSI STS_002) placed on a 1 mm series of the same frame of reference filled
only the image slices nearest each contour plane: a striped ROI, 0.31 x its volume (tester finding,
issue 5).  The slices between two planes are now filled by shape-based interpolation."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.io._rt_fill import fill_between_planes
from hcc_imaging.io.masks import load_mask
from tests.io.test_rtstruct_planes import _RADIUS_MM, _SHAPE, _SPACING_MM, _image, _sphere_contours, _write_rtstruct


def test_contours_every_three_slices_fill_the_slices_between(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Contours every 7.5 mm on the 2.5 mm image: every slice inside the sphere is filled and the
    volume is close to the sphere's (old code: only every third slice, ~1/3 of the volume); a
    warning names the ROI and the interpolation."""
    img = _image()
    z = img.origin[2] + _SPACING_MM[0] * np.arange(_SHAPE[0])
    with caplog.at_level(logging.WARNING):
        lv = load_mask(_write_rtstruct(tmp_path / "thick.dcm", _sphere_contours(z[::3]), name="GTV thick"), img)
    a = np.asarray(lv.array) > 0
    per = a.sum(axis=(1, 2))
    ks = np.flatnonzero(per)
    assert np.all(per[ks[0]:ks[-1] + 1] > 0)  # old code: two empty slices of every three
    vol = a.sum() * float(np.prod(_SPACING_MM))
    sphere = 4 / 3 * np.pi * _RADIUS_MM**3
    assert 0.7 * sphere < vol < 1.1 * sphere, (vol, sphere)  # old code: 0.33 x (the sphere's ends beyond
    # the first / last contour plane are not extrapolated)
    assert "'GTV thick'" in caplog.text and "shape-based interpolation" in caplog.text


def test_a_gap_between_two_parts_of_an_roi_is_not_bridged() -> None:
    """Planes 2 slices apart hold the ROI, then a gap of 6 slices (planes without the ROI), then
    more planes: the slices in the gap stay empty, those between neighbouring planes are filled."""
    disc = np.zeros((20, 20), bool)
    disc[5:15, 5:15] = True
    contours = [(float(k), disc.copy()) for k in (0, 2, 4, 10, 12)]
    mask = np.zeros((13, 20, 20), bool)
    for k, sl in contours:
        mask[int(k)] = sl
    filled = fill_between_planes(contours, mask, (1.0, 1.0))
    assert filled == [1, 3, 11]
    assert not mask[5:10].any()
    np.testing.assert_array_equal(mask[1], disc)


def test_no_filling_when_every_slice_has_a_plane() -> None:
    disc = np.zeros((8, 8), bool)
    disc[2:6, 2:6] = True
    contours = [(float(k), disc.copy()) for k in range(4)]
    mask = np.zeros((4, 8, 8), bool)
    assert fill_between_planes(contours, mask, (1.0, 1.0)) == []
    assert not mask.any()

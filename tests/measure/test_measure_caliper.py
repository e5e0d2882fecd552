"""Caliper lines and the bidirectional tool."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.errors import MeasurementPlaneError
from hcc_imaging.measure import (
    CaliperError,
    bidirectional,
    caliper_length,
    caliper_line,
    longest_axial_diameter,
    short_axis,
)
from hcc_imaging.volume import LabelVolume


def test_caliper_length() -> None:
    assert caliper_length((0, 0, 10), (30, 40, 10)) == 50.0
    assert caliper_length((1.5, -2, 3), (1.5, -2, 3)) == 0.0
    with pytest.raises(CaliperError, match="one LPS point"):
        caliper_length((0, 0), (1, 1, 1))
    with pytest.raises(CaliperError, match="3 finite numbers"):
        caliper_length((0, 0, np.nan), (1, 1, 1))


def test_caliper_line_must_be_axial() -> None:
    line = caliper_line((0, 0, 5), (3, 4, 5))
    assert line.length_mm == 5.0 and line.to_dict()["end_lps"] == [3.0, 4.0, 5.0]
    with pytest.raises(MeasurementPlaneError, match="not axial"):
        caliper_line((0, 0, 5), (3, 4, 7))
    assert caliper_line((0, 0, 5), (0, 0, 7), axial=False).length_mm == 2.0


def test_bidirectional_with_drawn_short_axis() -> None:
    b = bidirectional((0, 0, 0), (40, 0, 0), short_line=((20, -10, 0), (20.5, 12, 0)))
    assert b.long_axis.length_mm == 40.0
    assert b.short_axis.length_mm == pytest.approx(np.hypot(0.5, 22))
    assert b.angle_deg == pytest.approx(90 - np.degrees(np.arctan(0.5 / 22)))
    assert b.product_mm2 == pytest.approx(40 * np.hypot(0.5, 22))
    assert b.to_dict()["product_mm2"] == pytest.approx(b.product_mm2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"short_line": ((20, -10, 0), (30, 10, 0))}, CaliperError, "not 90", id="oblique-short"),
        pytest.param({"short_line": ((20, -10, 2), (20, 10, 2))}, MeasurementPlaneError, "different axial slices", id="other-slice"),
        pytest.param({}, CaliperError, "exactly one of", id="neither"),
        pytest.param({"short_line": ((1, 1, 0),)}, CaliperError, "two LPS points", id="one-point"),
    ],
)
def test_bidirectional_errors(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        bidirectional((0, 0, 0), (40, 0, 0), **kwargs)


def test_bidirectional_zero_length_long_axis() -> None:
    with pytest.raises(CaliperError, match="zero length"):
        bidirectional((1, 1, 1), (1, 1, 1), short_line=((0, 0, 1), (0, 1, 1)))


def test_bidirectional_tolerance_parameter() -> None:
    b = bidirectional((0, 0, 0), (40, 0, 0), short_line=((20, -10, 0), (22, 10, 0)), tol_deg=10)
    assert 80 < b.angle_deg < 90


def _ellipse_mask() -> LabelVolume:
    j, i = np.mgrid[0:40, 0:40]
    m = ((j - 19.3) / 8.0) ** 2 + ((i - 20.1) / 15.0) ** 2 <= 1.0
    arr = np.zeros((3, 40, 40), np.uint8)
    arr[1] = m
    return LabelVolume.create(arr, spacing=(2.0, 0.8, 0.8), origin=(-5.0, 3.0, 40.0))


def test_bidirectional_from_mask_matches_short_axis() -> None:
    lv = _ellipse_mask()
    ld = longest_axial_diameter(lv)
    b = bidirectional(ld.endpoints_lps[0], ld.endpoints_lps[1], labels=lv)
    assert b.short_axis.length_mm == pytest.approx(short_axis(lv).length_mm)
    assert abs(b.short_axis.length_mm - 2 * 8 * 0.8) <= 0.5 * 0.8  # the ellipse's minor axis
    # a reader's line drawn across the lesion (not the exact LD): SA perpendicular to it
    z = ld.endpoints_lps[0][2]
    b2 = bidirectional((44.0, 18.4, z), (66.0, 18.4, z), labels=lv)
    d = np.asarray(b2.short_axis.end_lps) - np.asarray(b2.short_axis.start_lps)
    assert abs(d[0]) < 1e-6 and b2.short_axis.length_mm > 10.0


def test_bidirectional_from_mask_errors() -> None:
    lv = _ellipse_mask()
    with pytest.raises(MeasurementPlaneError, match="does not lie on one slice"):
        bidirectional((44.0, 18.4, 40.0 + 40), (66.0, 18.4, 40.0 + 40), labels=lv)
    t = np.radians(30)
    obl = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]]) @ np.array(
        [[0, 0, 1], [0, 1, 0], [1, 0, 0]], float
    )
    lv2 = LabelVolume.create(lv.array, spacing=lv.spacing, direction=obl)
    with pytest.raises(MeasurementPlaneError, match="not sampled on axial planes"):
        bidirectional((0, 0, 0), (10, 0, 0), labels=lv2)

"""RECIST 1.1 and mRECIST measurability boundaries (criteria.md 2.1 and 3.1)."""

from __future__ import annotations

import pytest

from hcc_imaging.measure import (
    MeasurabilityError,
    RecistMeasurability,
    mrecist_measurable,
    recist_measurability,
    recist_min_size_mm,
)
from hcc_imaging.measure.measurability import round_mm

M = RecistMeasurability


@pytest.mark.parametrize(
    ("thickness", "expected"),
    [
        pytest.param(1.0, 10.0, id="thin-1mm"),
        pytest.param(5.0, 10.0, id="exactly-5mm-still-10"),
        pytest.param(5.01, 10.02, id="just-over-5mm-2x"),
        pytest.param(7.5, 15.0, id="7.5mm-15"),
    ],
)
def test_min_size(thickness: float, expected: float) -> None:
    assert recist_min_size_mm(thickness) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ld", "thickness", "expected"),
    [
        pytest.param(10.0, 2.5, M.MEASURABLE, id="10.0-measurable"),
        pytest.param(9.96, 2.5, M.MEASURABLE, id="9.96-recorded-10.0"),
        pytest.param(9.94, 2.5, M.NON_MEASURABLE, id="9.94-recorded-9.9"),
        pytest.param(14.9, 7.5, M.NON_MEASURABLE, id="thick-14.9<15"),
        pytest.param(15.0, 7.5, M.MEASURABLE, id="thick-15.0"),
    ],
)
def test_non_nodal(ld: float, thickness: float, expected: RecistMeasurability) -> None:
    assert recist_measurability(ld, slice_thickness_mm=thickness) is expected


@pytest.mark.parametrize(
    ("sa", "expected"),
    [
        pytest.param(15.0, M.MEASURABLE, id="sa15-measurable"),
        pytest.param(14.9, M.PATHOLOGICAL_NODE_NON_MEASURABLE, id="sa14.9-pathological"),
        pytest.param(10.0, M.PATHOLOGICAL_NODE_NON_MEASURABLE, id="sa10-pathological"),
        pytest.param(9.9, M.NORMAL_NODE, id="sa9.9-normal"),
    ],
)
def test_nodes_by_short_axis(sa: float, expected: RecistMeasurability) -> None:
    # the LD of a node is irrelevant
    assert recist_measurability(40.0, slice_thickness_mm=1.0, is_lymph_node=True, short_axis_mm=sa) is expected


def test_errors() -> None:
    with pytest.raises(MeasurabilityError, match="short_axis_mm is None"):
        recist_measurability(20.0, slice_thickness_mm=1.0, is_lymph_node=True)
    with pytest.raises(MeasurabilityError, match="positive number"):
        recist_min_size_mm(0.0)


@pytest.mark.parametrize(
    ("viable", "enhancing", "delineated", "expected"),
    [
        pytest.param(10.0, True, True, True, id="10mm-enhancing"),
        pytest.param(9.9, True, True, False, id="9.9mm"),
        pytest.param(25.0, False, True, False, id="non-enhancing"),
        pytest.param(25.0, True, False, False, id="ill-defined"),
    ],
)
def test_mrecist(viable: float, enhancing: bool, delineated: bool, expected: bool) -> None:
    assert mrecist_measurable(viable, enhancing=enhancing, well_delineated=delineated) is expected


def test_round_mm_half_up() -> None:
    assert round_mm(9.95) == 10.0 and round_mm(9.949) == 9.9 and round_mm(23.15) == 23.2

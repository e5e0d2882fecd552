"""Baseline measurability per RECIST 1.1 and mRECIST.

Diameters are decided on their recorded value, rounded to 0.1 mm (DESIGN section 2: diameters
are carried in 0.1 mm), so 9.96 mm (recorded 10.0 mm) is measurable and 9.94 mm is not.
"""

from __future__ import annotations

import math
from enum import StrEnum

from ..errors import HccImagingError
from .constants import (
    MRECIST_MIN_VIABLE_MM,
    NODE_MEASURABLE_SA_MM,
    NODE_PATHOLOGICAL_SA_MM,
    RECIST_MIN_LD_MM,
    RECIST_THICK_SLICE_FACTOR,
    RECIST_THICK_SLICE_MM,
)

__all__ = [
    "RecistMeasurability",
    "MeasurabilityError",
    "round_mm",
    "recist_min_size_mm",
    "recist_measurability",
    "mrecist_measurable",
]


class MeasurabilityError(HccImagingError, ValueError):
    """Inputs to a measurability decision are missing or invalid."""


class RecistMeasurability(StrEnum):
    """RECIST 1.1 baseline category of one lesion (Eisenhauer 2009, sec. 3.1)."""

    MEASURABLE = "measurable"
    #: non-nodal lesion below the minimum size (non-target)
    NON_MEASURABLE = "non_measurable"
    #: lymph node with 10 <= SA < 15 mm: pathological, non-target
    PATHOLOGICAL_NODE_NON_MEASURABLE = "pathological_node_non_measurable"
    #: lymph node with SA < 10 mm: normal, not recorded as disease
    NORMAL_NODE = "normal_node"


def round_mm(value_mm: float) -> float:
    """Round half up to 0.1 mm (the recorded precision of a diameter)."""
    return math.floor(value_mm * 10.0 + 0.5 + 1e-9) / 10.0


def recist_min_size_mm(slice_thickness_mm: float) -> float:
    """Minimum measurable LD: 10 mm, or 2 x slice thickness when slices are > 5 mm thick.

    References
    ----------
    Eisenhauer EA et al. Eur J Cancer 2009;45:228-247, sec. 3.1.1 and Appendix II.
    """
    if not (slice_thickness_mm > 0 and math.isfinite(slice_thickness_mm)):
        raise MeasurabilityError(
            f"slice_thickness_mm must be a positive number, got {slice_thickness_mm!r}; the RECIST "
            "minimum size depends on it. Pass the series' SliceThickness (mm)."
        )
    if slice_thickness_mm > RECIST_THICK_SLICE_MM:
        return RECIST_THICK_SLICE_FACTOR * slice_thickness_mm
    return RECIST_MIN_LD_MM


def recist_measurability(
    longest_diameter_mm: float,
    *,
    slice_thickness_mm: float,
    is_lymph_node: bool = False,
    short_axis_mm: float | None = None,
) -> RecistMeasurability:
    """RECIST 1.1 measurability of a lesion at baseline.

    Non-nodal: measurable when LD >= max(10 mm, 2 x slice thickness if slices > 5 mm).
    Nodes (by short axis): >= 15 mm measurable; 10-15 mm pathological non-measurable;
    < 10 mm normal.
    """
    if is_lymph_node:
        if short_axis_mm is None:
            raise MeasurabilityError(
                "recist_measurability: a lymph node is judged by its short axis, but "
                "short_axis_mm is None. Pass short_axis_mm (mm)."
            )
        sa = round_mm(short_axis_mm)
        if sa >= NODE_MEASURABLE_SA_MM:
            return RecistMeasurability.MEASURABLE
        if sa >= NODE_PATHOLOGICAL_SA_MM:
            return RecistMeasurability.PATHOLOGICAL_NODE_NON_MEASURABLE
        return RecistMeasurability.NORMAL_NODE
    if round_mm(longest_diameter_mm) >= recist_min_size_mm(slice_thickness_mm):
        return RecistMeasurability.MEASURABLE
    return RecistMeasurability.NON_MEASURABLE


def mrecist_measurable(viable_diameter_mm: float, *, enhancing: bool, well_delineated: bool = True) -> bool:
    """mRECIST target eligibility: viable diameter >= 10 mm, arterially enhancing, well delineated.

    References
    ----------
    Lencioni R, Llovet JM. Semin Liver Dis 2010;30:52-60 (criteria.md section 3.1).
    """
    return bool(enhancing and well_delineated and round_mm(viable_diameter_mm) >= MRECIST_MIN_VIABLE_MM)

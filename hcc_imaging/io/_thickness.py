"""The slice thickness of a loaded series (DICOM SliceThickness), for RECIST measurability.

RECIST 1.1 takes the minimum measurable size from the reconstructed slice *thickness* (10 mm, or
2 x the thickness when slices are thicker than 5 mm), not from the spacing between slices: an
8 mm thick reconstruction every 4 mm has a 16 mm minimum.  :func:`series_slice_thickness` gives
``meta["slice_thickness_mm"]`` of :func:`~hcc_imaging.io.load_series` and a note saying where
the value came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: Thicknesses closer than this (mm) are one value (rounding of the DICOM decimal strings).
THICKNESS_TOLERANCE_MM = 0.01


def series_slice_thickness(values: Iterable[float | None], spacing_mm: float, uid: str) -> tuple[float, str, str | None]:
    """``(thickness_mm, source, problem)`` from the SliceThickness of each slice of series ``uid``.

    * all slices agree: that value, source ``"SliceThickness"``;
    * they differ: the largest (the stricter RECIST minimum), with a problem naming the range;
    * none has one: the slice spacing ``spacing_mm``, source saying so (no problem: a NIfTI-like
      series without the tag; ``hcc-imaging measure --slice-thickness-mm`` overrides it).
    Slices without the tag, or with a zero/negative/non-finite value, are ignored when others have it.
    """
    vals = [float(v) for v in values if v is not None]
    good = [v for v in vals if math.isfinite(v) and v > 0]
    if not good:
        return float(spacing_mm), f"slice spacing {spacing_mm:g} mm (series {uid} has no usable SliceThickness)", None
    lo, hi = min(good), max(good)
    if hi - lo <= THICKNESS_TOLERANCE_MM:
        return hi, "SliceThickness", None
    return hi, f"SliceThickness, the largest of {lo:g}-{hi:g} mm", (
        f"SliceThickness varies across the slices of series {uid} ({lo:g} to {hi:g} mm); the largest, "
        f"{hi:g} mm, is used for the RECIST minimum size (pass slice_thickness_mm= / --slice-thickness-mm to override)")

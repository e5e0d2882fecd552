"""Lesion measurements in mm: RECIST/mRECIST diameters, axes, volumes, necrosis (DESIGN section 3).

The one estimator: every diameter is a distance between **voxel centres** of the mask (the
convex hull of the centres), measured in the **patient axial plane**; volume = voxel count x
voxel volume.  See :mod:`hcc_imaging.measure.diameters` for the definitions and their bias,
:mod:`hcc_imaging.measure.viable` for the mRECIST viable-diameter rule, and
``docs/measure.md`` for figures.

Entry points used by the CLI, the batch engine and the napari plugin (same numbers
everywhere): :func:`measure_lesion`, :func:`measure_labels`.  Lower-level:
:func:`longest_axial_diameter`, :func:`short_axis`, :func:`feret_diameter_3d`,
:func:`lesion_volume_mm3`, :func:`viable_diameter`, :func:`viable_short_axis`,
:func:`caliper_length`, :func:`bidirectional`, :func:`intensity_stats`, and the
measurability rules.
"""

from __future__ import annotations

from .caliper import Bidirectional, CaliperError, CaliperLine, bidirectional, caliper_length, caliper_line
from .constants import ESTIMATOR
from .diameters import (
    AxialDiameter,
    EmptyMaskError,
    FeretDiameter,
    Reformat,
    axial_axis,
    feret_diameter_3d,
    lesion_volume_mm3,
    longest_axial_diameter,
    short_axis,
)
from .intensity import IntensityStats, intensity_stats
from .lesion import LesionMeasurement, Provenance, measure_labels, measure_lesion
from .measurability import (
    MeasurabilityError,
    RecistMeasurability,
    mrecist_measurable,
    recist_measurability,
    recist_min_size_mm,
)
from .viable import ViableParameterError, viable_diameter, viable_short_axis

__all__ = [
    "ESTIMATOR",
    "AxialDiameter",
    "FeretDiameter",
    "Reformat",
    "EmptyMaskError",
    "LesionMeasurement",
    "Provenance",
    "measure_lesion",
    "measure_labels",
    "longest_axial_diameter",
    "short_axis",
    "feret_diameter_3d",
    "lesion_volume_mm3",
    "axial_axis",
    "viable_diameter",
    "viable_short_axis",
    "ViableParameterError",
    "CaliperLine",
    "CaliperError",
    "Bidirectional",
    "caliper_length",
    "caliper_line",
    "bidirectional",
    "IntensityStats",
    "intensity_stats",
    "RecistMeasurability",
    "MeasurabilityError",
    "recist_measurability",
    "recist_min_size_mm",
    "mrecist_measurable",
]

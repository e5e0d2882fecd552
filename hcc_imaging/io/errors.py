"""Named errors of :mod:`hcc_imaging.io`.

Each one derives from a base class in :mod:`hcc_imaging.errors` (and therefore also from
``ValueError``), so ``except InvalidSeriesError`` catches every geometry refusal.  Messages follow the
house convention: the series UID (and file), what is wrong, why it matters, and the fix, naming the
parameter of :func:`hcc_imaging.io.load_series` that applies.
"""

from __future__ import annotations

from ..errors import (
    InvalidSeriesError,
    MissingGeometryError,
    NotDicomError,
    UnsupportedDicomError,
)

__all__ = [
    "SliceSpacingError",
    "DuplicatePositionError",
    "GantryTiltError",
    "MixedOrientationError",
    "MixedImageSizeError",
    "MissingPositionError",
    "ColourImageError",
    "NotAnImageError",
    "PixelDecodeError",
    "TruncatedPixelDataError",
    "SeriesSelectionError",
    "TooFewSlicesError",
]


class SliceSpacingError(InvalidSeriesError):
    """Slices are unevenly spaced along the slice normal (missing slices, gaps, overlaps)."""


class DuplicatePositionError(InvalidSeriesError):
    """Two or more images share one position along the slice normal (repeats, echoes, phases)."""


class GantryTiltError(InvalidSeriesError):
    """Slices are stacked obliquely to their own plane (gantry tilt): the grid is sheared."""


class MixedOrientationError(InvalidSeriesError):
    """Images of one series have different ImageOrientationPatient."""


class MixedImageSizeError(InvalidSeriesError):
    """Images of one series have different Rows/Columns or PixelSpacing."""


class TooFewSlicesError(InvalidSeriesError):
    """A single image carries no slice spacing and none can be read from its header."""


class SeriesSelectionError(InvalidSeriesError):
    """The source holds no series, several series, or not the one asked for."""


class MissingPositionError(MissingGeometryError):
    """ImagePositionPatient, ImageOrientationPatient or PixelSpacing is missing."""


class ColourImageError(UnsupportedDicomError):
    """Colour (RGB/YBR/palette) images cannot give Hounsfield units or MR signal."""


class NotAnImageError(UnsupportedDicomError):
    """The object has no pixel data (SR, RTSTRUCT, presentation state, DICOMDIR...)."""


class PixelDecodeError(UnsupportedDicomError):
    """No installed decoder could decode the pixel data of a file."""


class TruncatedPixelDataError(NotDicomError):
    """The pixel data of a file is shorter than Rows x Columns x frames needs."""

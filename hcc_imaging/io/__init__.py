"""DICOM input for hcc_imaging: archive index, geometry-true series loading, contrast phases.

* :func:`index_archive` -- header-only scan of a folder, zip or DICOMDIR -> patients/studies/series.
* :func:`load_series` -- one series -> :class:`~hcc_imaging.volume.Volume` in HU, or a named error.
* :func:`load_study` -- every image series of a study, each with its phase.
* :func:`classify_phase` -- contrast phase with confidence and reason.
* :func:`load_mask` / :func:`save_mask` / :func:`load_segments` -- masks (NIfTI, DICOM SEG,
  RTSTRUCT, mask series), from :mod:`hcc_imaging.io.masks`.

DICOM writing lives in :mod:`hcc_imaging.io.write`; DICOMweb in :mod:`hcc_imaging.io.dicomweb` (imported directly).
See ``docs/io.md``.
"""

from __future__ import annotations

from .errors import (
    ColourImageError,
    DuplicatePositionError,
    GantryTiltError,
    MissingPositionError,
    MixedImageSizeError,
    MixedOrientationError,
    NotAnImageError,
    PixelDecodeError,
    SeriesSelectionError,
    SliceSpacingError,
    TooFewSlicesError,
    TruncatedPixelDataError,
)
from .index import (
    ArchiveIndex,
    GeometrySummary,
    PatientInfo,
    SeriesInfo,
    SkippedFile,
    StudyInfo,
    index_archive,
    patient_key,
)
from .masks import load_mask, load_segments, save_mask
from .phases import PhaseCall, classify_phase, phase_from_description, phase_from_image, phase_from_vessel_hu
from .series import load_series, load_study, one_per_phase, one_scan, series_preference

__all__ = [
    "index_archive",
    "patient_key",
    "load_series",
    "one_per_phase",
    "one_scan",
    "series_preference",
    "load_study",
    "load_mask",
    "load_segments",
    "save_mask",
    "classify_phase",
    "phase_from_description",
    "phase_from_image",
    "phase_from_vessel_hu",
    "PhaseCall",
    "ArchiveIndex",
    "PatientInfo",
    "StudyInfo",
    "SeriesInfo",
    "GeometrySummary",
    "SkippedFile",
    "SliceSpacingError",
    "DuplicatePositionError",
    "GantryTiltError",
    "MixedOrientationError",
    "MixedImageSizeError",
    "MissingPositionError",
    "TooFewSlicesError",
    "ColourImageError",
    "NotAnImageError",
    "PixelDecodeError",
    "TruncatedPixelDataError",
    "SeriesSelectionError",
]

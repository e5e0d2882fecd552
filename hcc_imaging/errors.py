"""Named errors of hcc_imaging.

Every error raised at a boundary (constructors, ``io``, CLI parsing) is a subclass of
:class:`HccImagingError` and also of the matching builtin (``ValueError``, ``TypeError``,
``PermissionError``...), so callers can catch either.

Message convention (``docs/conventions.md``): *what* is wrong, with the value and the
identifier (file, series UID, lesion id, time point), then *why* it matters, then *how to
fix it*, naming the parameter.  Subpackages may define further subclasses in their own
modules; they must derive from one of the classes here.
"""

from __future__ import annotations

__all__ = [
    "HccImagingError",
    "MissingGeometryError",
    "GeometryMismatchError",
    "InvalidSeriesError",
    "NotDicomError",
    "UnsupportedDicomError",
    "MeasurementPlaneError",
    "CriteriaError",
    "ReadDocumentError",
    "StoreError",
    "BlindingError",
    "AuditIntegrityError",
    "OptionalDependencyError",
    "SourceNotFoundError",
    "OutputPathError",
]


class HccImagingError(Exception):
    """Base class of every error hcc_imaging raises on purpose."""


class MissingGeometryError(HccImagingError, ValueError):
    """Physical geometry (spacing, origin, direction) is missing or invalid."""


class GeometryMismatchError(HccImagingError, ValueError):
    """Two grids (image and mask, two phases, ...) do not share a geometry or frame of reference."""


class InvalidSeriesError(HccImagingError, ValueError):
    """A DICOM series cannot be turned into a geometrically correct volume.

    Subclasses in :mod:`hcc_imaging.io` name the exact reason (gaps, duplicate positions,
    gantry tilt, mixed orientations, ...).
    """


class NotDicomError(HccImagingError, ValueError):
    """A file is not a DICOM file (or is truncated beyond repair)."""


class UnsupportedDicomError(HccImagingError, ValueError):
    """A DICOM object is valid but not of a kind this operation supports (SOP class, colour, ...)."""


class MeasurementPlaneError(HccImagingError, ValueError):
    """A diameter was asked for in a plane that is not the patient axial plane."""


class CriteriaError(HccImagingError, ValueError):
    """Measurements cannot be classified under a response criterion as given."""


class ReadDocumentError(HccImagingError, ValueError):
    """A read document (JSON) is malformed; the message names time point, lesion and field."""


class StoreError(HccImagingError, RuntimeError):
    """The study store refused an operation (locked read, unknown id, schema too new...)."""


class BlindingError(HccImagingError, PermissionError):
    """A reader tried to see or change data that belongs to another reader."""


class AuditIntegrityError(HccImagingError, RuntimeError):
    """The hash-chained audit log does not verify (a row was changed or removed)."""


class OptionalDependencyError(HccImagingError, ImportError):
    """A feature needs a package from an extra that is not installed."""


class SourceNotFoundError(HccImagingError, FileNotFoundError):
    """An input path (series, archive, mask) does not exist."""


class OutputPathError(HccImagingError, OSError):
    """An output path cannot be written as a file: it is a directory, a FIFO, a device or a
    socket, or a folder on its way is a file."""

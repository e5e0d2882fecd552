"""Errors raised by :mod:`hcc_imaging.segment` (all derive from :mod:`hcc_imaging.errors`)."""

from __future__ import annotations

from ..errors import HccImagingError, OptionalDependencyError

__all__ = [
    "SegmentationError",
    "LowContrastError",
    "NotEnclosedError",
    "SeedError",
    "RegistrationError",
    "BackendUnavailableError",
]


class SegmentationError(HccImagingError, ValueError):
    """A segmentation could not be produced from the given inputs."""


class SeedError(SegmentationError):
    """The seed point / line is missing, ambiguous or outside the image."""


class LowContrastError(SegmentationError):
    """The clicked structure (or, for :func:`~hcc_imaging.segment.segment_liver`, the liver) is not
    distinguishable from its surroundings on this phase."""


class NotEnclosedError(LowContrastError):
    """The region grown from a click is not enclosed by a different tissue: it still reaches the
    border of the largest region of interest (a click on the parenchyma without a liver mask, a
    leak into tissue of the lesion's value, or a lesion larger than that region)."""


class RegistrationError(HccImagingError, RuntimeError):
    """Image registration failed or did not converge to a usable transform."""


class BackendUnavailableError(OptionalDependencyError):
    """An optional segmentation backend (e.g. TotalSegmentator) is not installed or lacks weights."""

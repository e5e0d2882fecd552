"""Segmentation: seeded lesions, liver, viable (arterially enhancing) tumour, registration.

Classical CPU methods on SimpleITK / scikit-image / SciPy (DESIGN.md section 3).  Every
parameter is named with its unit in :mod:`hcc_imaging.segment.constants`.

Public API
----------
segment_lesion, LesionParams, SegmentationResult   one click / one line -> 3-D lesion mask
seed_point_lps                                      the point segment_lesion clicks (a liver mask must hold it)
segment_liver, LiverParams                          liver mask (classical; optional TotalSegmentator)
viable_mask, ViableParams                           viable part of each lesion (mRECIST)
register_volumes, Registration, RegistrationParams, TransformKind
register_translation                                exhaustive FFT translation search (phase to phase)
lesion_centre_lps                                   a lesion's inside point, to carry to another time point
registration_problems                               why a registration that carries lesions is suspect (its check)
carry_lesions, CarriedLesions                       every lesion of a label map carried to another study and segmented
bias_corrected                                      an MR series divided by its N4 bias field (before segmenting it)
SegmentationError, SeedError, LowContrastError, NotEnclosedError, RegistrationError, BackendUnavailableError
"""

from __future__ import annotations

from .bias import bias_corrected
from .carry import CarriedLesions, carry_lesions
from .errors import (
    BackendUnavailableError,
    LowContrastError,
    NotEnclosedError,
    RegistrationError,
    SeedError,
    SegmentationError,
)
from .lesion import MASK_CHECKS, LesionParams, SegmentationResult, seed_point_lps, segment_lesion
from .liver import LiverParams, segment_liver
from .register import (
    Registration,
    RegistrationParams,
    TransformKind,
    lesion_centre_lps,
    register_translation,
    register_volumes,
    registration_problems,
)
from .viable import ViableParams, viable_mask

__all__ = [
    "segment_lesion",
    "MASK_CHECKS",
    "seed_point_lps",
    "LesionParams",
    "SegmentationResult",
    "segment_liver",
    "LiverParams",
    "viable_mask",
    "ViableParams",
    "register_volumes",
    "register_translation",
    "registration_problems",
    "lesion_centre_lps",
    "carry_lesions",
    "bias_corrected",
    "CarriedLesions",
    "Registration",
    "RegistrationParams",
    "TransformKind",
    "SegmentationError",
    "SeedError",
    "LowContrastError",
    "NotEnclosedError",
    "RegistrationError",
    "BackendUnavailableError",
]

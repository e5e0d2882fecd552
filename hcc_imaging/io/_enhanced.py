"""Which objects carry their geometry in functional groups (Enhanced CT/MR/PET..., SEG).

The index reads the per-frame / shared functional groups (:func:`._dicomparse.add_frames`, pydicom)
of every object that has them, not only of those with more than one frame: a valid Enhanced CT or
MR object with ``NumberOfFrames = 1`` (one frame per file, as some scanners and converters write
them) keeps ImagePositionPatient, ImageOrientationPatient and PixelSpacing in its functional groups
only.  Decided from the header alone (no extra read of an ordinary single-frame file).
"""

from __future__ import annotations

from ._dicomparse import InstanceHeader

__all__ = ["FUNCTIONAL_GROUP_SOP_CLASSES", "has_functional_groups"]

#: SOP classes whose IODs hold the geometry in the (shared / per-frame) functional groups.
FUNCTIONAL_GROUP_SOP_CLASSES: frozenset[str] = frozenset({
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT
    "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR
    "1.2.840.10008.5.1.4.1.1.4.3",  # Enhanced MR Color
    "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR
    "1.2.840.10008.5.1.4.1.1.128.1",  # Legacy Converted Enhanced PET
    "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET
    "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
    "1.2.840.10008.5.1.4.1.1.12.1.1",  # Enhanced XA
    "1.2.840.10008.5.1.4.1.1.12.2.1",  # Enhanced XRF
    "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation
})


def has_functional_groups(h: InstanceHeader) -> bool:
    """Read ``h``'s functional groups: more than one frame, an enhanced SOP class whatever its
    number of frames, or an image with NumberOfFrames but no top-level ImagePositionPatient."""
    if h.is_multiframe or h.sop_class_uid in FUNCTIONAL_GROUP_SOP_CLASSES:
        return True
    return h.number_of_frames is not None and h.image_position_patient is None and h.is_image

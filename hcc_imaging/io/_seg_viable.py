"""The viable-part segments of a DICOM SEG, which :func:`hcc_imaging.io.masks.load_mask` leaves out.

A SEG written by hcc_imaging (``export seg --viable``, ``batch --export-sr``, ``segment
--viable-out``) holds each lesion (``"L1"``) and its viable part (``"L1 viable"``), which lies
inside the lesion: the segments overlap by design, and one label map cannot hold both.  The
segments are classified as :func:`hcc_imaging.export.seg.read_seg` classifies them (one rule,
``export.seg._segment_roles``), so ``load_mask`` gives the lesion map ``read_seg`` gives and
``measure --masks`` measures.
"""

from __future__ import annotations

from pathlib import Path


def viable_segment_numbers(path: Path) -> dict[int, str]:
    """Segment number -> label of the viable-part segments of SEG ``path`` when it also holds a
    lesion segment; ``{}`` otherwise (a SEG of viable parts only is read as it is)."""
    import pydicom

    from ..export.seg import _segment_roles
    from ._dicomparse import dicom_file

    hdr = pydicom.dcmread(dicom_file(str(path)), stop_before_pixels=True)
    segments = hdr.get("SegmentSequence") or []
    roles = _segment_roles(segments)
    labels = {int(d.SegmentNumber): str(d.SegmentLabel) for d in segments}
    viable = {n: labels[n] for n, r in roles.items() if r.viable}
    return viable if len(viable) < len(roles) else {}

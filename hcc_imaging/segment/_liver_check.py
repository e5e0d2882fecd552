"""Refuse a classical liver mask on a series that holds no liver.

The classical method (``segment_liver``) keeps the largest soft-tissue component in the liver's
HU window on the body's right side; on a CT with no liver in its field (IBSI's soft-tissue sarcoma
thigh CTs) it returned a piece of muscle as "the liver", 5.6 and 34.2 mL, without a word (tester
finding, issue 5, until 2026-12-06), and a lesion was then bounded by it.

The rule: a mask whose largest section on the image's slices is below
:data:`~.constants.LIVER_MIN_SECTION_CM2` although it spans at least
:data:`~.constants.LIVER_MIN_SECTION_EXTENT_MM` along the slice normal is no liver.  A volume
threshold would refuse a real liver on a partial coverage (dcmqi's 3-slice CT: 42 mL) and a
threshold scaled by the series' extent would refuse a small liver on a whole-body CT; a liver's
largest section does not depend on the coverage, and the extent condition leaves a series that
holds only the dome or the inferior tip of a real liver (small sections over a short extent) alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import constants as C
from .errors import SegmentationError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..volume import Volume


def check_liver_found(mask: NDArray[np.bool_], volume: Volume, segmented_on: Volume) -> None:
    """Raise :class:`SegmentationError` when ``mask`` (on ``volume``'s grid) is no liver (module docstring)."""
    per = np.count_nonzero(mask, axis=(1, 2))
    if not per.any():
        return  # (an empty mask: the caller's own errors)
    sp = volume.spacing
    section_cm2 = float(per.max()) * float(sp[1]) * float(sp[2]) / 100.0
    ks = np.flatnonzero(per)
    extent_mm = float(ks[-1] - ks[0] + 1) * float(sp[0])
    if section_cm2 >= C.LIVER_MIN_SECTION_CM2 or extent_mm < C.LIVER_MIN_SECTION_EXTENT_MM:
        return
    ml = float(per.sum()) * volume.voxel_volume_mm3 / 1000.0
    raise SegmentationError(
        f"no liver in series {segmented_on.series_instance_uid or 'unknown'} ({segmented_on.phase}): the liver-like "
        f"tissue found is {ml:.1f} mL, its largest section {section_cm2:.1f} cm2 over {extent_mm:.0f} mm of slices, "
        f"where a liver's largest section is at least {C.LIVER_MIN_SECTION_CM2:g} cm2 (~100-250 cm2; "
        "segment/constants.py LIVER_MIN_SECTION_CM2). The series' field does not hold the liver (another body "
        "region?). Give the series that covers the liver, or give a liver mask instead (no automatic liver), or "
        "segment without a liver mask.")

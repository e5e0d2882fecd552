"""``segment_liver`` refuses a series with no liver in its field (hcc_imaging.segment._liver_check).

On IBSI's thigh CTs it returned a piece of muscle as "the liver", 5.6 and 34.2 mL, without a word
(tester finding, issue 5)."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment import segment_liver
from hcc_imaging.segment.errors import SegmentationError
from hcc_imaging.volume import Volume


def _thigh(n_slices: int) -> Volume:
    """A limb: a fat-covered 12 mm-radius muscle (55 HU, in the liver's window) on the body's right."""
    rng = np.random.default_rng(0)
    shape = (n_slices, 80, 80)
    _, j, i = np.indices(shape)
    arr = np.full(shape, -1000.0)
    arr[(j - 40) ** 2 + (i - 40) ** 2 < 35**2] = -100.0
    arr[(j - 40) ** 2 + (i - 30) ** 2 < 14**2] = 55.0
    arr += rng.normal(0, 8, shape)
    return Volume.create(arr.astype(np.int16), spacing=(3.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                         series_instance_uid="1.2.3.77")


def test_a_limb_ct_has_no_liver() -> None:
    with pytest.raises(SegmentationError, match=r"no liver in series 1\.2\.3\.77.*largest section 6\.1 cm2 over 48 mm"
                                                 r".*at least 20 cm2.*give a liver mask instead"):
        segment_liver(_thigh(16))  # old code: a 29 mL "liver"


def test_small_sections_over_a_short_extent_are_left_alone() -> None:
    """Six 3 mm slices (18 mm, less than LIVER_MIN_SECTION_EXTENT_MM): the dome or tip of a real liver
    looks like this on a series cut by it, so the mask is returned."""
    lv = segment_liver(_thigh(6))
    assert np.count_nonzero(lv.array) > 0

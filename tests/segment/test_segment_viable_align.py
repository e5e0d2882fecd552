"""A lesion drawn on the portal venous phase, its viable part read on an arterial phase taken in
another breath hold (segment/viable_align.py; issue 5 item 3, the CLI's ``--viable-out``)."""

from __future__ import annotations

import numpy as np

from hcc_imaging.segment import viable_mask
from hcc_imaging.segment.viable_align import lesions_on_arterial

from ._phantom import breath_hold_phases as _phases


def test_a_lesion_is_moved_onto_an_arterial_phase_from_another_breath_hold() -> None:
    pv, art, lab = _phases(8.0)
    whole = int(lab.array.sum())
    # by geometry alone (1.57's CLI) the mask covers parenchyma on one side: far less than the lesion
    by_geometry = int((viable_mask(lab, art).array != 0).sum())
    assert by_geometry < 0.8 * whole
    moved, notes, record = lesions_on_arterial(lab, pv, art, source_name="portal_venous")
    # (ITK convention: an arterial point p is the portal venous point p + t, so t is -8 mm along S)
    assert record["moved"] and abs(record["translation_mm"][2] + 8.0) < 1.0
    assert len(notes) == 1 and "moved onto it" in notes[0] and "portal_venous" in notes[0]
    assert int((viable_mask(moved, art).array != 0).sum()) >= 0.9 * whole


def test_aligned_phases_leave_the_lesion_where_it_is() -> None:
    pv, art, lab = _phases(0.0)
    moved, notes, record = lesions_on_arterial(lab, pv, art, source_name="portal_venous")
    assert notes == [] and record["moved"] is False
    assert np.array_equal(moved.array, lab.array)
    same, notes, record = lesions_on_arterial(lab, art, art)
    assert notes == [] and record == {}

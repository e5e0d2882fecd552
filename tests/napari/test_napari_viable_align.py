"""The napari dock's viable part of a lesion clicked on the portal venous phase, read on an arterial
phase taken in another breath hold (napari_plugin/_viable.py, segment/viable_align.py; the check
``segment --viable-out`` and the batch make).  Qt-free: the dock's core adapter."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.napari_plugin import _core
from hcc_imaging.volume import Phase

from tests.segment._phantom import breath_hold_phases

pytestmark = pytest.mark.skipif(not (_core.available("segment") and _core.available("viable")),
                                reason="segment / viable not in this build")


def test_the_viable_part_is_read_where_the_arterial_phase_shows_the_lesion() -> None:
    """The arterial phase 8 mm off the portal venous one the lesion is clicked on: the wholly
    enhancing lesion's viable part is (nearly) all of it, within its mask, and the provenance's
    notes say the lesion was moved (the lesion table's problems).  Before, the lesion was placed on
    the arterial phase by geometry and the viable part read over parenchyma on one side (< 80 %)."""
    pv, art, _ = breath_hold_phases(8.0)
    out = _core.segment({Phase.PORTAL_VENOUS: pv, Phase.ARTERIAL: art}, pv, np.zeros(3), phase="portal_venous")
    assert out.viable is not None and out.mask.sum() > 500
    assert out.viable.sum() >= 0.9 * out.mask.sum() and not (out.viable & ~out.mask).any()
    rec = out.provenance["viable_alignment"]
    assert rec["moved"] is True and abs(rec["translation_mm"][2] + 8.0) < 1.0
    assert any("moved onto it" in n and "portal_venous" in n for n in out.provenance["notes"])


def test_aligned_phases_give_the_viable_part_as_before() -> None:
    """Phases aligned: nothing is moved, no note, and the viable part is viable_mask's on the mask."""
    from hcc_imaging.segment import viable_mask
    from hcc_imaging.volume import LabelVolume

    pv, art, _ = breath_hold_phases(0.0)
    out = _core.segment({Phase.PORTAL_VENOUS: pv, Phase.ARTERIAL: art}, pv, np.zeros(3), phase="portal_venous")
    assert out.provenance["viable_alignment"]["moved"] is False
    assert not any("the lesion was drawn on" in str(n) for n in out.provenance.get("notes", []))
    mask, viable = out.full(pv.shape)
    whole = viable_mask(LabelVolume.like(pv, mask.astype(np.uint8), labels={1: "lesion"}), art)
    np.testing.assert_array_equal(viable, np.asarray(whole.array) != 0)

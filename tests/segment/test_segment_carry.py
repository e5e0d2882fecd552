"""``segment.carry``: the lesions of a label map carried to another study (the core of
``hcc-imaging segment --each-label`` and ``batch --carry``; their tests carry the study phantom
across a 16 / 21 mm shift).  Here: what happens when no liver mask can be made."""

from __future__ import annotations

import numpy as np

from hcc_imaging.phantoms import make_study
from hcc_imaging.segment.carry import carry_lesions, lies_in_liver

from ._phantom import dice


def test_without_a_liver_mask_the_carry_goes_on_and_says_so() -> None:
    """``in_liver=True`` on images where no CT liver mask can be made (the study phantom's portal
    venous phase with its contrast inverted, as an MR might look: no tissue in the liver's HU
    window): the registration falls back to the whole images and the lesions are segmented without
    a liver mask, each with a note saying so; L1 is still found (Dice >= 0.85), nothing raises."""
    st = make_study(0, timepoint="baseline")
    pv = st.volumes["portal_venous"]
    inverted = pv.with_array((3000 - np.asarray(pv.array, np.float32)).astype(np.int16))
    mask = st.lesions.with_array(np.where(np.isin(st.lesions.array, [1, 2]), st.lesions.array, 0))
    c = carry_lesions(inverted, mask, inverted, in_liver=True)
    assert not c.registration_in_liver and c.liver is None
    assert any("registration read the whole images" in n for n in c.notes)
    assert any("segmented without a liver mask" in n for n in c.notes)
    assert 1 in c.results and set(c.results) | set(c.failed) == {1, 2}
    assert dice(np.asarray(c.labels.array) == 1, np.asarray(st.lesions.array) == 1) >= 0.85  # measured 0.906


def test_which_findings_lie_in_the_liver_mask() -> None:
    """A liver lesion and a portal- or hepatic-vein thrombus are segmented in the liver mask; a
    lymph node (by flag or kind) and another organ's lesion are kept out of it."""
    assert lies_in_liver("liver") and lies_in_liver(None) and lies_in_liver("portal_vein")
    assert lies_in_liver("hepatic_vein") and lies_in_liver("other", kind="pvtt")
    assert not lies_in_liver("liver", is_lymph_node=True) and not lies_in_liver("liver", kind="lymph_node")
    assert not lies_in_liver("lung") and not lies_in_liver("peritoneum")

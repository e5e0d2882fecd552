"""Step 9b's lipiodol deposit when step 13's fit wins, and on MR (1.64, docs/validation.md section 2.3b
"Algorithm 1.64"): the deposit's partial-volume margin is in the fit's mask and the note describes
it.  1.62 dropped the voxels 9b had added to the grown mask when the fit's mask replaced it, and
kept the note ("... the mask before the two-surface fit replaced it: a dense lipiodol deposit ...
is included ...")."""

from __future__ import annotations

import numpy as np

from hcc_imaging.segment import segment_lesion
from hcc_imaging.segment._refine import _lipiodol_deposits

from ._phantom import rim_scene

FINE = (1.5, 0.7, 0.7)
SHAPE = (40, 80, 80)


def test_a_deposit_touching_a_rind_is_in_the_fits_mask_and_its_note_says_so() -> None:
    vols, truth, click = rim_scene("oval", 0, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    c = tuple(int(v) for v in click)
    edge = int(np.flatnonzero(truth[c[0], c[1], :])[-1])  # the lesion's last voxel along x through the click
    deposit = (slice(c[0] - 1, c[0] + 2), slice(c[1] - 1, c[1] + 2), slice(edge + 1, edge + 3))  # 650 HU, touching
    for ph, v in list(vols.items()):
        a = np.array(v.array, copy=True)
        a[deposit] = 650.0
        vols[ph] = v.with_array(a)
    res = segment_lesion(vols, seed_index=c)
    mask = res.labels.array != 0
    assert "(step 13)" in res.notes[0]  # the fit's mask
    assert mask[deposit].all()
    # step 9b on the final mask adds nothing: the deposit's margin is in it (1.62: 8 voxels were not)
    lip = _lipiodol_deposits(mask.astype(np.uint8), (slice(None),) * 3, [v.array for v in vols.values()], None, FINE)
    assert lip is not None
    lbox, lmask = lip
    assert not (lmask & ~mask[lbox]).any()
    lip_notes = [n for n in res.notes if "lipiodol" in n]
    # one note, the final mask's (not prefixed as the replaced mask's)
    assert len(lip_notes) == 1 and lip_notes[0].startswith("a dense lipiodol deposit")


def test_no_lipiodol_on_mr() -> None:
    """Step 9b's ``LIPIODOL_MIN_HU`` is in HU: 1.64 runs it on CT only.  On an MR series whose values
    are in the hundreds (here the scene's ``(HU + 400) * 4``) every voxel near the mask was "dense
    lipiodol" on every phase: 1.62 gave this lesion 15903 voxels, CT's 361."""
    from .test_segment_rind import _as_mr

    vols, _, click = rim_scene("oval", 0, 15.0, rim_mm=2.5)  # (the study phantom's grid: no step 13)
    ct = segment_lesion(vols, seed_index=click)
    mr = segment_lesion(_as_mr(vols, 4.0, 400.0), seed_index=click)
    np.testing.assert_array_equal(mr.labels.array != 0, ct.labels.array != 0)
    assert not any("lipiodol" in n for n in mr.notes)

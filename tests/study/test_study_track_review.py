"""``hcc-imaging study track --confirm`` never stores a proposal flagged ``needs_review`` as a
reader's confirmed tracking without the reader saying so (``--accept-flagged``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import main
from hcc_imaging.io.masks import save_mask
from hcc_imaging.study import ReaderSession, Store
from hcc_imaging.volume import LabelVolume

from ._track_store import two_lesion_store


def _maps(tmp_path: Path) -> tuple[str, str]:
    """Baseline L1, L2 side by side; at follow-up one lesion straddling both and a second on L2's
    edge (a complex 2 -> 2 group), and a new lesion far away."""
    b = np.zeros((20, 60, 60), np.uint8)
    b[8:12, 10:20, 10:20] = 1
    b[8:12, 10:20, 22:32] = 2
    f = np.zeros_like(b)
    f[8:12, 10:20, 15:27] = 1
    f[8:12, 10:20, 28:34] = 2
    f[8:12, 40:50, 40:50] = 3
    save_mask(LabelVolume.create(b, (2.0, 1.0, 1.0)), tmp_path / "bl.nii.gz")
    save_mask(LabelVolume.create(f, (2.0, 1.0, 1.0)), tmp_path / "fu.nii.gz")
    return str(tmp_path / "bl.nii.gz"), str(tmp_path / "fu.nii.gz")


def test_confirm_refuses_flagged_proposals_unless_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A complex group (the docs: "flagged needs_review") was stored by ``--confirm`` as R1's
    confirmed tracking without a word (and its proposal was not even flagged: only the
    assignment was).  Now the proposal is flagged, ``--confirm`` exits 2 naming it and stores
    nothing; ``--confirm --accept-flagged`` stores it and says so."""
    bl, fu = _maps(tmp_path)
    db = two_lesion_store(tmp_path)
    capsys.readouterr()
    confirm = ["study", "track", bl, fu, "--confirm", "--reader", "R1", "--patient", "P001", "--timepoint", "FU1",
               "--db", db]
    # the plain proposal marks it
    assert main(["study", "track", bl, fu, "--db", db]) == 0
    text = capsys.readouterr().out
    assert any(line.startswith("complex") and line.endswith("[needs review]") for line in text.splitlines()), text
    # refused: exit 2, the flagged group named, what to do said, nothing stored
    code = main(confirm)
    err = capsys.readouterr().err
    assert code == 2 and "nothing stored: 1 proposal(s) need a reader's review" in err
    assert "complex L1,L2 -> L1,L2" in err and "--accept-flagged" in err
    code = main([*confirm, "--json"])
    obj = json.loads(capsys.readouterr().err)
    assert code == 2 and obj["type"] == "StoreError" and "complex L1,L2 -> L1,L2" in obj["error"]
    store = Store(db)
    try:
        assert ReaderSession(store, "R1").tracking_links("P001") == []
    finally:
        store.close()
    # the reader has looked: stored, and the output says which were flagged
    assert main([*confirm, "--accept-flagged", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accepted_flagged"] == ["L1", "L2"]
    assert {x["followup_label"] for x in out["confirmed"]} == {"L1", "L2", "L3"}
    store = Store(db)
    try:
        assert {x.followup_label for x in ReaderSession(store, "R1").tracking_links("P001")} == {"L1", "L2", "L3"}
    finally:
        store.close()

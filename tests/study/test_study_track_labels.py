"""``hcc-imaging study track`` names a NIfTI map's lesions by the ``labels.json`` beside it (the
layout ``hcc-imaging batch`` saves), as ``measure`` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import main
from hcc_imaging.io.masks import save_mask
from hcc_imaging.volume import LabelVolume


def _run(capsys: pytest.CaptureFixture[str], *argv: str):  # type: ignore[no-untyped-def]
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_track_reads_lesion_ids_from_labels_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two lesions numbered the other way round at each time point, labels.json naming them (A is
    L4 and B is L2 at both): proposed L4 -> L4, L2 -> L2, and ``--confirm`` links each follow-up
    lesion to its own tracking UID.  Before: named by label value, "L1 -> L2, L2 -> L1", and the
    confirmation looked up the wrong lesions."""
    k, j, i = np.indices((20, 80, 80))

    def ball(c: tuple[int, int, int], r: int) -> np.ndarray:
        return (k - c[0]) ** 2 + (j - c[1]) ** 2 + (i - c[2]) ** 2 <= r * r

    a, b = ball((10, 20, 20), 6), ball((10, 60, 60), 7)
    for tp, (va, vb), names in (("bl", (1, 2), {"1": "L4", "2": "L2"}), ("fu", (2, 1), {"1": "L2", "2": "L4"})):
        (tmp_path / tp).mkdir()
        arr = np.zeros(k.shape, np.uint8)
        arr[a], arr[b] = va, vb
        save_mask(LabelVolume.create(arr, spacing=(2, 1, 1)), tmp_path / tp / "lesions.nii.gz")
        (tmp_path / tp / "labels.json").write_text(json.dumps({"labels": names}))
    db = str(tmp_path / "s.sqlite")
    for argv in (("study", "init"), ("study", "reader", "add", "R1"), ("study", "patient", "add", "P001"),
                 ("study", "timepoint", "add", "P001", "BL", "--date", "2024-01-10"),
                 ("study", "timepoint", "add", "P001", "FU1", "--date", "2024-03-10"),
                 ("study", "lesion", "add", "P001", "L2", "--reader", "R1"),
                 ("study", "lesion", "add", "P001", "L4", "--reader", "R1")):
        assert main([*argv, "--db", db]) == 0
    capsys.readouterr()
    out = _run(capsys, "study", "track", str(tmp_path / "bl" / "lesions.nii.gz"), str(tmp_path / "fu" / "lesions.nii.gz"),
               "--confirm", "--reader", "R1", "--patient", "P001", "--timepoint", "FU1", "--db", db)
    kinds = {(p["kind"], tuple(p["baseline"]), tuple(p["followup"])) for p in out["proposals"]}
    assert kinds == {("match", ("L4",), ("L4",)), ("match", ("L2",), ("L2",))}
    uids = {x["lesion_id"]: x["tracking_uid"] for x in _run(capsys, "study", "lesion", "list", "P001", "--reader", "R1",
                                                            "--db", db)}
    assert {x["followup_label"]: x["tracking_uid"] for x in out["confirmed"]} == {"L4": uids["L4"], "L2": uids["L2"]}

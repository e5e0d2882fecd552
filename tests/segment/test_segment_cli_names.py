"""``hcc-imaging segment``'s lesion ids survive a NIfTI output: the ``labels.json`` beside it, read by
``measure`` (hcc_imaging.commands._segment_names).  ``--lesion-id L7 --label 3 --out m.nii.gz`` was
measured as "L3" (tester finding, issue 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import main
from hcc_imaging.io.masks import load_lesion_map, load_mask

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom"


def test_lesion_id_of_a_nifti_output_is_written_beside_it_and_measured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    art = SAMPLE / "baseline" / "arterial"
    out = tmp_path / "m.nii.gz"
    assert main(["segment", str(art), "--seed", "28,57,33", "--label", "3", "--lesion-id", "L7", "--out", str(out),
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["label_names"] == str(tmp_path / "labels.json")
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"3": "L7"}  # old code: no file
    assert dict(load_lesion_map(out, None)[0].labels) == {3: "L7"}
    assert main(["measure", str(art), "--masks", str(out), "--json"]) == 0
    assert [r["lesion_id"] for r in json.loads(capsys.readouterr().out)] == ["L7"]  # old code: "L3"
    # another lesion id for label 3 in that folder would rename m.nii.gz's lesion: refused, nothing written
    assert main(["segment", str(art), "--seed", "28,57,33", "--label", "3", "--lesion-id", "L8",
                 "--out", str(tmp_path / "n.nii.gz")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "label 3 is 'L7' there, 'L8' here" in err and "another folder" in err, err
    assert not (tmp_path / "n.nii.gz").exists()
    assert json.loads((tmp_path / "labels.json").read_text())["labels"] == {"3": "L7"}


def test_default_names_write_no_labels_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.nii.gz"
    assert main(["segment", str(SAMPLE / "baseline" / "arterial"), "--seed", "28,57,33", "--out", str(out)]) == 0
    assert out.exists() and not (tmp_path / "labels.json").exists()


def test_names_are_merged_into_the_labels_file_there(tmp_path: Path) -> None:
    """What ``--each-label`` writes beside its NIfTI (its carried map's ids; the CLI run with one
    registration takes ~20 s, checked by hand): merged with the labels.json already in the folder,
    its other entries and organs kept; a clash refused before anything is written."""
    from hcc_imaging.commands._segment_names import planned_label_names, write_label_names
    from hcc_imaging.commands.segment import SegmentArgumentError

    side = tmp_path / "labels.json"
    side.write_text(json.dumps({"labels": {"1": "HCC-1"}, "organs": {"HCC-1": "liver"}}))
    write_label_names(planned_label_names(tmp_path / "fu1.nii.gz", {3: "HCC-A", 5: "N1"}))
    doc = json.loads(side.read_text())
    assert doc == {"labels": {"1": "HCC-1", "3": "HCC-A", "5": "N1"}, "organs": {"HCC-1": "liver"}}
    with pytest.raises(SegmentArgumentError, match=r"lesion id 'HCC-A' is label 3 there, label 4 here"):
        planned_label_names(tmp_path / "x.nii.gz", {4: "HCC-A"})
    assert planned_label_names(tmp_path / "x.dcm", {4: "T4"}) is None  # a SEG names its segments

"""A loader's refusal tells a Python caller which keyword fixes it (``on_tilt="resample"``,
``study_uid=``); on the command line it names the command's own flag, and ``segment`` / ``measure``
have the flags (``load`` and ``batch`` had them).  Real series from dicom2nifti's failing set, read
in place."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hcc_imaging.cli import command_line_hint, main


def test_a_hint_names_only_the_flags_the_command_has() -> None:
    msg = 'series X: slices are stacked at 14 deg ... Pass on_tilt="resample" to resample onto an orthogonal grid.'
    assert command_line_hint(msg, argparse.Namespace(on_tilt="error")) == " On the command line: --on-tilt resample."
    assert command_line_hint(msg, argparse.Namespace(series_uid=None)) == ""  # a command without --on-tilt
    two = "PATH holds 2 studies (...). Pass study_uid= to choose one. ... pass series_uid= to choose"
    assert command_line_hint(two, argparse.Namespace(study_uid=None, series_uid=None)) == (
        " On the command line: --study-uid UID or --series-uid UID.")
    assert command_line_hint("no keyword here", argparse.Namespace(on_tilt="error")) == ""


def test_a_mask_off_its_image_names_the_command_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """``measure`` with a mask far from the image: the error said only "Check that `reference` is the
    series the mask was drawn on" (a Python argument); it now names SERIES.  An empty mask measured
    nothing with exit 0 and no word; it is warned of."""
    import logging

    import numpy as np

    from hcc_imaging.io.masks import save_mask
    from hcc_imaging.volume import LabelVolume

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom" / "baseline" / "arterial"
    save_mask(LabelVolume.create(np.ones((2, 2, 2), np.uint8), spacing=(1, 1, 1), origin=(900.0, 900.0, 900.0)),
              tmp_path / "far.nii.gz")
    assert main(["measure", str(sample), "--masks", str(tmp_path / "far.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert "entirely outside" in err and "On the command line: give as SERIES the series the mask was drawn on." in err
    save_mask(LabelVolume.create(np.zeros((2, 2, 2), np.uint8), spacing=(1, 1, 1)), tmp_path / "empty.nii.gz")
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.commands.measure"):
        assert main(["measure", str(sample), "--masks", str(tmp_path / "empty.nii.gz"), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]" and "the mask holds no lesion" in caplog.text


def test_segment_loads_a_tilted_series_with_on_tilt_resample(shared_data: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Every series of the folder was left out and the command said only "no loadable image series";
    now it gives the series' own error with the flag, and the flag loads it (the click, on air, is
    then refused by the segmentation, not by the loader)."""
    tilted = shared_data / "dicom2nifti_failing_series" / "gantrytilting"
    out = tmp_path / "m.nii.gz"
    assert main(["segment", str(tilted), "--seed", "1,1,1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "GantryTiltError" in err and "On the command line: --on-tilt resample." in err, err
    assert main(["segment", str(tilted), "--seed", "1,1,1", "--on-tilt", "resample", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "GantryTiltError" not in err and "NotEnclosedError" in err, err


def test_segment_picks_a_study_with_study_uid(shared_data: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A folder of two studies: the error lists them and names --study-uid; with it, that study's
    series is read (here refused for a missing slice, with --on-irregular named)."""
    folder = shared_data / "dicom2nifti_failing_series" / "sliceincrement"
    argv = ["segment", str(folder), "--seed", "1,1,1", "--out", str(tmp_path / "m.nii.gz")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "SeriesSelectionError" in err and "holds 2 studies" in err and "--study-uid UID" in err, err
    uid = err.split("studies (")[1].split(" ")[0]
    assert main([*argv, "--study-uid", uid]) == 2
    err = capsys.readouterr().err
    assert "SliceSpacingError" in err and "On the command line: --on-irregular resample." in err, err


def test_measure_has_the_loaders_flags(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tilted = shared_data / "dicom2nifti_failing_series" / "gantrytilting"
    mask = tmp_path / "none.nii.gz"
    mask.write_bytes(b"")  # never read: the series is refused first
    assert main(["measure", str(tilted), "--masks", str(mask)]) == 2
    assert "On the command line: --on-tilt resample." in capsys.readouterr().err


def test_batch_has_the_loaders_flags(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``PipelineOptions`` had ``on_tilt`` / ``on_irregular``; the batch command now passes them: the
    tilted study fails at ``load`` without the flag and gets past it with it (to ``masks``: the
    folder has no lesion masks)."""
    import csv

    tilted = shared_data / "dicom2nifti_failing_series" / "gantrytilting"
    steps = {}
    for name, extra in (("plain", []), ("resample", ["--on-tilt", "resample"])):
        out = tmp_path / name
        rc = main(["batch", str(tilted), "--out", str(out), "--threads", "--workers", "1", "--no-progress", *extra])
        assert rc == 0, capsys.readouterr().err
        with (out / "failures.csv").open() as f:
            steps[name] = [row["step"] for row in csv.DictReader(f)]
    assert steps == {"plain": ["load"], "resample": ["masks"]}

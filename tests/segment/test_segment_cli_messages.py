"""``hcc-imaging segment``'s messages give command-line advice (tester finding, issue 5): a zero-length
``--line`` was "midpoint outside the images"; with ``--liver`` given the advice was "--liver" and
"re-run segment_liver(..., include_lps=[the click])" (what --liver does); a ``--liver-mask`` of
another frame of reference got the API's advice (`reference`, register_volumes)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import command_line_hint, main
from hcc_imaging.commands._segment_advice import cli_seed_advice
from hcc_imaging.segment import segment_lesion
from hcc_imaging.segment.errors import SeedError, SegmentationError
from hcc_imaging.volume import LabelVolume
from tests.io.test_rtstruct_planes import _sphere_contours, _write_rtstruct

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom"


def test_a_zero_length_line_is_said_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["segment", str(SAMPLE / "baseline" / "arterial"), "--line=-95,-40,20,-95,-40,20",
               "--out", str(tmp_path / "x.nii.gz")])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and "--line -95,-40,20,-95,-40,20: the line has zero length" in err, err
    assert "outside" not in err and "line_lps" not in err, err  # old code: "its midpoint ... is outside the images"


def test_a_liver_mask_of_another_frame_of_reference_gets_options(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rs = _write_rtstruct(tmp_path / "liver_rs.dcm", _sphere_contours(np.arange(-10.0, 10.0, 2.5)), name="Liver")
    rc = main(["segment", str(SAMPLE / "baseline" / "arterial"), "--seed", "28,57,33", "--liver-mask", str(rs),
               "--out", str(tmp_path / "x.nii.gz")])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and f"--liver-mask {rs} does not lie on the images of SERIES" in err, err
    assert "--liver (an automatic liver mask)" in err, err
    assert "`reference`" not in err and "register_volumes" not in err, err  # old code: the API's advice


def test_hints_leave_out_the_options_already_given() -> None:
    msg = "Pass a liver mask (segment_liver), draw a line across the lesion (line_lps=)."
    ns = dict(liver=False, liver_mask=None, line=None, extrahepatic=False)
    plain = command_line_hint(msg, argparse.Namespace(**ns))
    assert "--liver (an automatic liver mask) or --liver-mask PATH" in plain and "--line" in plain
    with_liver = command_line_hint(msg, argparse.Namespace(**{**ns, "liver": True}))
    assert "--liver (" not in with_liver and "--liver-mask PATH (a liver mask drawn elsewhere" in with_liver
    with_both = command_line_hint(msg, argparse.Namespace(**{**ns, "liver_mask": "l.nii.gz", "line": "1,2,3,4,5,6"}))
    assert with_both == ""  # old code: "--liver ... or --liver-mask PATH or --line ..." to a user who gave both


def test_a_click_outside_the_automatic_liver_is_not_told_to_re_run_segment_liver() -> None:
    from ._phantom import perf_phantom

    ph = perf_phantom(0)
    liver = np.zeros(ph.volume.shape, np.uint8)
    liver[:, :10, :10] = 1  # a "liver" away from the click
    with pytest.raises(SeedError) as api:
        segment_lesion(ph.volume, seed_index=ph.seed_index, liver=LabelVolume.like(ph.volume, liver))
    assert "include_lps=[the click]" in str(api.value)  # (the API's advice, which --liver follows)
    args = argparse.Namespace(liver=True, liver_mask=None)
    with pytest.raises(SeedError) as cli, cli_seed_advice(args):
        raise api.value
    text = str(cli.value)
    assert "segment_liver(" not in text and "--liver-mask PATH" in text and "was made to hold the click" in text


def test_no_liver_in_the_series_names_the_options() -> None:
    """segment_liver's "no liver in series ..." (segment/_liver_check.py) on the command line."""
    from hcc_imaging.segment._liver_check import check_liver_found
    from hcc_imaging.volume import Volume

    vol = Volume.create(np.zeros((10, 20, 20), np.int16), spacing=(3.0, 1.0, 1.0))
    mask = np.zeros(vol.shape, bool)
    mask[:, 5:8, 5:8] = True  # 9 mm2 sections over 30 mm: no liver
    with pytest.raises(SegmentationError) as err:
        check_liver_found(mask, vol, vol)
    hint = command_line_hint(str(err.value), argparse.Namespace(liver=True, liver_mask=None, line=None))
    assert hint == " On the command line: --liver-mask PATH (a liver mask made elsewhere) or leave out --liver."

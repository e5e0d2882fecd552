"""``hcc-imaging batch --fragments sum|hull`` (``PipelineOptions(fragments=)``), as ``measure`` has it: a
lesion label of several separate pieces is a split lesion whose fragments' diameters are summed (RECIST
1.1, default) or one object (hull).  Until 2026-12-06 the batch had no such option (always ``sum``)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from hcc_imaging.batch import BatchError, PipelineOptions, discover_studies, run_study
from hcc_imaging.batch.resume import content_key
from hcc_imaging.phantoms import write_longitudinal

from .conftest import SMALL


def test_option_checked_and_in_the_resume_key() -> None:
    with pytest.raises(BatchError, match=r"--fragments: fragments='pieces'"):
        PipelineOptions(fragments="pieces")
    default, hull = PipelineOptions(), PipelineOptions(fragments="hull")
    assert PipelineOptions(fragments="sum").key_options() == default.key_options()
    assert "fragments" not in default.key_options()  # a sum run keeps the keys of earlier versions (--resume)
    assert hull.key_options()["fragments"] == "hull"
    assert content_key("1.2", "h", hull.key_options()) != content_key("1.2", "h", default.key_options())


def test_cli_passes_fragments_and_resumes_with_it(tmp_path: Path) -> None:
    from hcc_imaging.commands import batch as batch_cmd

    top = argparse.ArgumentParser()
    sub = top.add_subparsers()
    batch_cmd.register(sub)
    args = top.parse_args(["batch", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--fragments", "hull"])
    assert args.fragments == "hull"
    assert "--fragments hull" in batch_cmd.resume_command(args)
    plain = top.parse_args(["batch", str(tmp_path / "src"), "--out", str(tmp_path / "out")])
    assert plain.fragments == "sum" and "--fragments" not in batch_cmd.resume_command(plain)
    with pytest.raises(SystemExit):
        top.parse_args(["batch", "src", "--out", "o", "--fragments", "pieces"])


def _split_lesion(mask_path: Path, label: int) -> None:
    """Add a second piece (2 x 2 x 2 voxels) of ``label`` about 30 mm from it, touching no other label."""
    img = nib.load(mask_path)
    a = np.asarray(img.dataobj).copy()
    zooms = np.asarray(img.header.get_zooms()[:3], float)
    centre = np.argwhere(a == label).mean(axis=0)
    for d in ([6, 0, 0], [-6, 0, 0], [0, 6, 0], [0, -6, 0], [6, 6, 0], [-6, -6, 0]):
        lo = np.round(centre + np.asarray(d)).astype(int)
        box = tuple(slice(x, x + 2) for x in lo)
        grown = tuple(slice(max(x - 2, 0), x + 4) for x in lo)
        if np.all(lo >= 2) and np.all(lo + 4 <= a.shape) and not a[grown].any():
            a[box] = label
            assert np.linalg.norm(np.asarray(d) * zooms) > 25
            nib.save(nib.Nifti1Image(a, img.affine, img.header), mask_path)
            return
    raise AssertionError("no free place for the second piece")


def test_a_split_lesion_is_summed_or_measured_whole(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    write_longitudinal(root / "P1", seed=1, timepoints=("baseline",), patient_id="P1", **SMALL)  # type: ignore[arg-type]
    _split_lesion(root / "P1" / "baseline" / "masks" / "lesions.nii.gz", 1)
    got = {}
    for rule in ("sum", "hull"):
        opts = PipelineOptions(fragments=rule)
        (task,) = discover_studies(root, opts)[0]
        rec = run_study(task, opts)
        assert rec["ok"], rec
        got[rule] = next(les for les in rec["lesions"] if les["lesion_id"] == "L1")
        assert "separate pieces" in got[rule]["fragments_note"]
    summed, hull = got["sum"], got["hull"]
    assert summed["n_fragments"] == 2 and len(summed["fragment_diameters_mm"]) == 2
    assert summed["longest_diameter_mm"] == pytest.approx(sum(summed["fragment_diameters_mm"]))
    # (here 31.8 + 12.3 = 44.1 mm summed; 53.3 mm across both pieces as one object)
    assert hull["n_fragments"] == 2 and not hull.get("fragment_diameters_mm")
    assert hull["longest_diameter_mm"] > max(summed["fragment_diameters_mm"]) + 5
    assert hull["longest_diameter_mm"] != pytest.approx(summed["longest_diameter_mm"], abs=1.0)
    shutil.rmtree(root)

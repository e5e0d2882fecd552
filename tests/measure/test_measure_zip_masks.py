"""``hcc-imaging measure --masks "ZIP::member.dcm"``: a DICOM SEG inside a zip, read from the zip's
bytes as ``io.masks.load_mask`` reads it (docs/measure.md).  Until 2026-12-06 the command refused
every zip member ("masks are not read from inside a zip"), and a SEG of ours with viable segments
inside a zip was not recognised as one (read as a file path)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from hcc_imaging.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom" / "baseline"


def _rows(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, dict]:
    assert main(["measure", *argv, "--json"]) == 0, capsys.readouterr().err
    return {m["lesion_id"]: m for m in json.loads(capsys.readouterr().out)}


def test_a_real_seg_inside_a_zip_is_measured_as_the_file(shared_data: Path, tmp_path: Path, capsys) -> None:
    """dcmqi's liver SEG zipped with its 3 CT slices (a temp zip): the numbers of the unzipped files
    (volume 70361.9 mm3, the SR's reference value)."""
    root = shared_data / "dcmqi_liver_ct3slice"
    z = tmp_path / "liver.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted((root / "ct").glob("*.dcm")):
            zf.write(p, f"case/ct/{p.name}")
        zf.write(root / "seg" / "liver_seg.dcm", "case/seg/liver_seg.dcm")
    member = f"{z}::case/seg/liver_seg.dcm"
    got = _rows(capsys, f"{z}::case/ct", "--masks", member)
    want = _rows(capsys, str(root / "ct"), "--masks", str(root / "seg" / "liver_seg.dcm"))
    assert set(got) == set(want) == {"Liver"}
    assert round(got["Liver"]["volume_mm3"], 1) == 70361.9
    for k in ("longest_diameter_mm", "short_axis_mm", "volume_mm3"):
        assert got["Liver"][k] == pytest.approx(want["Liver"][k])
    assert got["Liver"]["provenance"]["source_path"] == member
    # the same member as --viable: all viable
    via = _rows(capsys, f"{z}::case/ct", "--masks", member, "--viable", member)
    assert via["Liver"]["necrosis_fraction"] == 0.0


def test_our_seg_with_viable_segments_inside_a_zip(tmp_path: Path, capsys) -> None:
    """``export seg --viable``'s SEG (overlapping lesion and "Ln viable" segments) zipped with its
    series: measured with its viable parts, as the file is."""
    seg = tmp_path / "both.dcm"
    assert main(["export", "seg", "--image", str(SAMPLE / "arterial"), "--labels", str(SAMPLE / "masks" / "lesions.nii.gz"),
                 "--viable", str(SAMPLE / "masks" / "viable.nii.gz"), "--out", str(seg)]) == 0
    capsys.readouterr()
    z = tmp_path / "ours.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted((SAMPLE / "arterial").iterdir()):
            zf.write(p, f"bl/arterial/{p.name}")
        zf.write(seg, "bl/seg/both.dcm")
        for p in sorted((SAMPLE / "masks").iterdir()):
            zf.write(p, f"bl/masks/{p.name}")
    got = _rows(capsys, f"{z}::bl/arterial", "--masks", f"{z}::bl/seg/both.dcm")
    want = _rows(capsys, str(SAMPLE / "arterial"), "--masks", str(seg))
    assert set(got) == set(want) and want["L2"]["viable_diameter_mm"] > 0
    for lid, m in want.items():
        for k in ("longest_diameter_mm", "viable_diameter_mm", "volume_mm3", "viable_volume_mm3"):
            assert got[lid][k] == pytest.approx(m[k]), (lid, k)

    # what a zip member cannot be: a NIfTI map, a folder of the zip, a member the zip lacks
    for member, words in (("bl/masks/lesions.nii.gz", "is not DICOM (no SOP class; a NIfTI / NRRD map?)"),
                          ("bl/masks", "is a folder of the zip (3 file(s), e.g. 'bl/masks/"),
                          ("bl/nope.dcm", "has no member 'bl/nope.dcm'")):
        assert main(["measure", f"{z}::bl/arterial", "--masks", f"{z}::{member}"]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err

"""``hcc-imaging measure`` in-process and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import main


def test_cli_json_in_process(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = shared_data / "dcmqi_liver_ct3slice"
    rc = main(["measure", str(root / "ct"), "--masks", str(root / "seg" / "liver_seg.dcm"), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 1
    m = out[0]
    for key in ("lesion_id", "longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "volume_mm3",
                "viable_volume_mm3", "necrosis_fraction", "ld_endpoints_lps", "sa_endpoints_lps"):
        assert key in m
    assert m["lesion_id"] == "Liver"
    assert round(m["volume_mm3"], 1) == 70361.9
    assert m["provenance"]["source_path"].endswith("liver_seg.dcm")


def test_cli_viable_and_table(shared_data: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table's title on one line
    root = shared_data / "dcmqi_liver_ct3slice"
    seg = str(root / "seg" / "liver_seg.dcm")
    # the liver as its own viable mask: no necrosis
    rc = main(["measure", str(root / "ct"), "--masks", seg, "--viable", seg, "--json"])
    assert rc == 0
    m = json.loads(capsys.readouterr().out)[0]
    assert m["necrosis_fraction"] == 0.0 and m["viable_volume_mm3"] == pytest.approx(m["volume_mm3"])
    rc = main(["measure", str(root / "ct"), "--masks", seg, "--nodes", "1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Liver" in text and "lesion" in text
    # the table names the estimator its diameters come from (it said "voxel-centre estimator"
    # after the sub-voxel boundary estimator had replaced it)
    from hcc_imaging.measure.constants import ESTIMATOR

    assert f"estimator {ESTIMATOR}" in text and "voxel-centre" not in text


def test_cli_missing_mask_is_an_error(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = shared_data / "dcmqi_liver_ct3slice"
    rc = main(["measure", str(root / "ct"), "--masks", str(tmp_path / "nope.nii.gz")])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_subprocess(shared_data: Path) -> None:
    root = shared_data / "dcmqi_liver_ct3slice"
    proc = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "measure", str(root / "ct"), "--masks",
         str(root / "seg" / "liver_seg.dcm"), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert round(json.loads(proc.stdout)[0]["volume_mm3"], 1) == 70361.9


def test_cli_nifti_mask(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NIfTI label map (label value = lesion) gives the same numbers as the DICOM SEG."""
    import SimpleITK as sitk

    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask

    root = shared_data / "dcmqi_liver_ct3slice"
    ct = load_series(root / "ct")
    seg = load_mask(root / "seg" / "liver_seg.dcm", reference=ct)
    arr = seg.array.astype("uint8") * 7  # label value 7
    nii = tmp_path / "liver.nii.gz"
    sitk.WriteImage(seg.with_array(arr).to_sitk(), str(nii))
    assert main(["measure", str(root / "ct"), "--masks", str(nii), "--json"]) == 0
    (m,) = json.loads(capsys.readouterr().out)
    assert m["label"] == 7
    assert round(m["volume_mm3"], 1) == 70361.9
    assert main(["measure", str(root / "ct"), "--masks", str(root / "seg" / "liver_seg.dcm"), "--json"]) == 0
    (ref,) = json.loads(capsys.readouterr().out)
    assert m["longest_diameter_mm"] == pytest.approx(ref["longest_diameter_mm"])
    np.testing.assert_allclose(m["ld_endpoints_lps"], ref["ld_endpoints_lps"], atol=1e-3)


SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom" / "baseline"


def _measured(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict]:
    assert main(["measure", str(SAMPLE / "arterial"), *args, "--json"]) == 0
    return {m["lesion_id"]: m for m in json.loads(capsys.readouterr().out)}


def test_a_seg_with_viable_segments_is_measured_as_its_nifti_masks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``export seg --viable`` writes each lesion and its ``"Ln viable"`` segment into one SEG; ``measure``
    refused it (the segments overlap).  It now reads the viable segments as the viable masks: the same
    numbers as the NIfTI pair it was written from."""
    seg = tmp_path / "both.dcm"
    assert main(["export", "seg", "--image", str(SAMPLE / "arterial"), "--labels", str(SAMPLE / "masks" / "lesions.nii.gz"),
                 "--viable", str(SAMPLE / "masks" / "viable.nii.gz"), "--out", str(seg)]) == 0
    capsys.readouterr()
    want = _measured(capsys, "--masks", str(SAMPLE / "masks" / "lesions.nii.gz"), "--viable", str(SAMPLE / "masks" / "viable.nii.gz"))
    for got in (_measured(capsys, "--masks", str(seg)), _measured(capsys, "--masks", str(seg), "--viable", str(seg))):
        assert set(got) == set(want)
        for lid, m in want.items():
            for k in ("longest_diameter_mm", "viable_diameter_mm", "volume_mm3", "viable_volume_mm3"):
                assert got[lid][k] == pytest.approx(m[k]), (lid, k)
    assert want["L2"]["viable_diameter_mm"] > 0


@pytest.mark.parametrize("args, match", [
    (["--nodes", "l6"], "--nodes l6: no lesion .* 6 \\(L6\\)"),
    (["--nodes", "L6,99"], "--nodes 99:"),
    (["--rim-exclusion-mm", "-3"], "cannot be negative"),
])
def test_measure_refuses_ids_and_values_it_would_have_ignored(args: list[str], match: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A node id that no lesion has ('l6' for 'L6') made the node a lesion without a word, and a negative
    rim thickness was taken."""
    import re

    assert main(["measure", str(SAMPLE / "arterial"), "--masks", str(SAMPLE / "masks" / "lesions.nii.gz"), *args]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_nodes_by_label_or_id(capsys: pytest.CaptureFixture[str]) -> None:
    for spec in ("L6", "6"):
        got = _measured(capsys, "--masks", str(SAMPLE / "masks" / "lesions.nii.gz"), "--nodes", spec)
        assert got["L6"]["is_lymph_node"] and not got["L1"]["is_lymph_node"]


def test_a_folder_of_mask_folders_is_named_not_called_empty(tmp_path: Path) -> None:
    from hcc_imaging.io.masks import MaskFormatError, load_mask

    for name in ("liver", "livertumor1"):
        (tmp_path / "MASKS_DICOM" / name).mkdir(parents=True)
    with pytest.raises(MaskFormatError, match="holds no files but 2 folder\\(s\\) \\(liver, livertumor1\\).*MASKS_DICOM/liver"):
        load_mask(tmp_path / "MASKS_DICOM")


def test_a_viable_mask_outside_its_lesions_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A viable mask shifted 15 mm off its lesions (drawn on another series, a wrong file): only its
    voxels inside a lesion are measured, so the viable diameters shrank (L3's to 0) without a word.
    ``measure`` warns, naming each lesion and the fraction of its viable voxels outside every lesion;
    the sample's own viable mask gives no such warning."""
    import SimpleITK as sitk

    img = sitk.ReadImage(str(SAMPLE / "masks" / "viable.nii.gz"))
    origin = list(img.GetOrigin())
    origin[0] += 15.0
    img.SetOrigin(origin)
    shifted = tmp_path / "viable.nii.gz"
    sitk.WriteImage(img, str(shifted))
    masks = str(SAMPLE / "masks" / "lesions.nii.gz")
    runs = {}
    for name, viable in (("own", SAMPLE / "masks" / "viable.nii.gz"), ("shifted", shifted)):
        proc = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "measure", str(SAMPLE / "arterial"), "--masks",
                               masks, "--viable", str(viable), "--json"],
                              capture_output=True, text=True, timeout=300, check=False, cwd=str(SAMPLE.parents[2]))
        assert proc.returncode == 0, proc.stderr
        runs[name] = proc
    assert "outside every lesion mask" not in runs["own"].stderr
    got = {m["lesion_id"]: m for m in json.loads(runs["shifted"].stdout)}
    assert got["L3"]["viable_diameter_mm"] == 0.0
    err = runs["shifted"].stderr
    assert "100 % of the viable mask's voxels of L3 (28 of 28) lie outside every lesion mask (more than 5 %)" in err
    assert "of L1 (" in err and "of L4 (" not in err


def test_measure_and_export_seg_name_lesions_by_the_labels_json_beside_the_map(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NIfTI lesion map with the ``labels.json`` the batch saves beside it (label 1 is lesion L4,
    3 is L1, 6 is node N1): ``measure`` reports those ids and measures N1 as a node, ``export seg``
    writes the segments under those ids with N1's region a lymph node (before: both ignored the file,
    reporting and writing L1..L8, so tracking UIDs attached to the wrong lesions)."""
    import shutil

    import pydicom

    shutil.copy(SAMPLE / "masks" / "lesions.nii.gz", tmp_path / "lesions.nii.gz")
    names = {"1": "L4", "2": "L9", "3": "L1", "4": "L2", "5": "L3", "6": "N1", "7": "L7", "8": "L8"}
    (tmp_path / "labels.json").write_text(json.dumps({"labels": names, "organs": {"N1": "lymph_node"}}))
    plain = _measured(capsys, "--masks", str(SAMPLE / "masks" / "lesions.nii.gz"))
    got = _measured(capsys, "--masks", str(tmp_path / "lesions.nii.gz"))
    assert {m["label"]: lid for lid, m in got.items()} == {int(k): v for k, v in names.items()}
    assert got["N1"]["is_lymph_node"] and not got["L4"]["is_lymph_node"]
    assert got["L4"]["volume_mm3"] == pytest.approx(plain["L1"]["volume_mm3"])
    out = tmp_path / "out.dcm"
    assert main(["export", "seg", "--image", str(SAMPLE / "arterial"), "--labels", str(tmp_path / "lesions.nii.gz"),
                 "--out", str(out)]) == 0
    ds = pydicom.dcmread(out, stop_before_pixels=True)
    segs = {str(s.SegmentLabel): s for s in ds.SegmentSequence}
    assert set(segs) == set(names.values())
    assert str(segs["L4"].SegmentDescription) == "hcc_imaging label value 1"
    assert "lymph" in str(segs["N1"].AnatomicRegionSequence[0].CodeMeaning).lower()
    assert "liver" in str(segs["L4"].AnatomicRegionSequence[0].CodeMeaning).lower()


def test_a_lesion_cut_by_the_image_end_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The sample's arterial series cut after slice 28 (L1 spans slices 25..32): L1 measured on the
    short series touches its last slice; ``measure`` warns, naming it, and its JSON row says so in
    ``mask_problems`` (it was measured at about half its volume as "measurable", without a word); the
    lesions inside the image are not flagged, nor on the whole series any but L8 (the ascites, which
    spans every slice of the scan)."""
    import logging
    import shutil

    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask, save_mask
    from hcc_imaging.volume import LabelVolume

    full = load_series(SAMPLE / "arterial")
    (tmp_path / "ct").mkdir()
    for k, f in enumerate(full.meta["source_files"][:29]):
        shutil.copy(f, tmp_path / "ct" / f"s{k:03d}.dcm")
    short = load_series(tmp_path / "ct")
    les = load_mask(SAMPLE / "masks" / "lesions.nii.gz", full)
    cut = np.asarray(les.array)[:29]
    save_mask(LabelVolume.like(short, cut, labels=dict(les.labels)), tmp_path / "cut.nii.gz")
    touching = {les.labels[v] for v in np.unique(cut[-1]) if v}
    assert "L1" in touching
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.commands.measure"):
        assert main(["measure", str(tmp_path / "ct"), "--masks", str(tmp_path / "cut.nii.gz"), "--json"]) == 0
    rows = {m["lesion_id"]: m for m in json.loads(capsys.readouterr().out)}
    assert {lid for lid, m in rows.items() if "mask_problems" in m} == touching
    assert "touches the image's edge (last slice of series" in rows["L1"]["mask_problems"][0]
    assert "L1 touches the image's edge" in caplog.text and "may be cut, measured smaller than it is" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.commands.measure"):
        whole = _measured(capsys, "--masks", str(SAMPLE / "masks" / "lesions.nii.gz"))
    assert {lid for lid, m in whole.items() if "mask_problems" in m} == {"L8"}
    assert "L8 touches the image's edge (first slice and last slice" in caplog.text and "L1 touches" not in caplog.text


def test_cli_json_names_a_lesion_the_image_cut(shared_data: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """An RTSTRUCT measured on a series that ends half-way through its tumour (files missing): the
    contours past the image's end were skipped without a word.  ``--json``'s ``mask_problems``
    now says how many of the lesion's voxels lie outside the measured image."""
    import shutil

    import pydicom

    d = shared_data / "ibsi_sts_tumour" / "STS_002" / "dicom" / "CT"
    files = sorted(d.glob("image/*.dcm"), key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    ct = tmp_path / "ct"
    ct.mkdir()
    for f in files[: len(files) // 2]:  # the tumour lies on slices 16-31 of 48
        shutil.copy(f, ct / f.name)
    rc = main(["measure", str(ct), "--masks", str(d / "mask" / "RS.dcm"), "--json"])
    assert rc == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert any("lie outside the measured image" in w and "cut, measured smaller" in w for w in row["mask_problems"])

"""``hcc-imaging batch "archive.zip::FOLDER"``: a folder inside a zip as SOURCE (as ``load`` takes
it), its studies measured from the DICOM SEG in the zip, the zip's other folders left out."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from hcc_imaging.batch import run_batch
from hcc_imaging.cli import main


def _seg(study: Path, dest: Path) -> Path:
    """A DICOM SEG of the study's lesion (+ viable) masks over its portal-venous series."""
    from hcc_imaging.export.seg import write_seg
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask

    ref = load_series(study / "portal_venous")
    lesions = load_mask(study / "masks" / "lesions.nii.gz", reference=ref)
    viable = load_mask(study / "masks" / "viable.nii.gz", reference=ref, label_names=dict(lesions.labels))
    write_seg(lesions, ref, dest, viable=viable)
    return dest


@pytest.fixture(scope="module")
def site_zip(small_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``site/PAT-001/baseline/`` (its DICOM and its SEG ``lesions.dcm``) and ``site/PAT-002/baseline/``."""
    tmp = tmp_path_factory.mktemp("zipfolder")
    z = tmp / "site.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for pid in ("PAT-001", "PAT-002"):
            study = small_archive / pid / "baseline"
            for p in sorted(study.rglob("*.dcm")):
                if "masks" not in p.parts:
                    zf.write(p, f"site/{pid}/baseline/{p.relative_to(study).as_posix()}")
        zf.write(_seg(small_archive / "PAT-001" / "baseline", tmp / "seg.dcm"), "site/PAT-001/baseline/lesions.dcm")
    return z


def test_batch_reads_a_folder_inside_a_zip(site_zip: Path, tmp_path: Path) -> None:
    """Before: "SOURCE ... does not exist" (the run looked for a file named "site.zip::site/PAT-001"),
    and a SEG inside a zip SOURCE could not be read ("No such file or directory": the study failed
    at masks)."""
    src = f"{site_zip}::site/PAT-001"
    s = run_batch(src, tmp_path / "out", workers=1, processes=False)
    assert s.n_studies == 1 and s.n_failed_studies == 0 and s.n_failures == 0
    with (tmp_path / "out" / "lesions.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["patient_id"] for r in rows} == {"PAT-001"}
    assert {r["mask_source"] for r in rows} == {"DICOM SEG"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_files_skipped"] == 0
    # a folder the zip lacks: the error names the zip's top-level entries
    assert main(["batch", f"{site_zip}::nope", "--out", str(tmp_path / "o2"), "--threads", "--workers", "1",
                 "--no-progress"]) == 2


def test_seg_organs_read_from_inside_a_zip(site_zip: Path, tmp_path: Path) -> None:
    """A SEG member's anatomic regions (the lesions' organs ``load_lesion_map`` returns) are read
    from the zip's bytes: before, ``seg_organs("ZIP::member")`` was silently empty."""
    from hcc_imaging.export.seg import seg_organs

    member = "site/PAT-001/baseline/lesions.dcm"
    with zipfile.ZipFile(site_zip) as zf:
        (tmp_path / "seg.dcm").write_bytes(zf.read(member))
    organs = seg_organs(f"{site_zip}::{member}")
    assert organs and organs == seg_organs(tmp_path / "seg.dcm")

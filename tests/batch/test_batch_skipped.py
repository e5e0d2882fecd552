"""Files the index skips (unreadable, truncated, not DICOM) are counted and reported by a batch run."""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from hcc_imaging.batch import run_batch
from hcc_imaging.cli import main


@pytest.fixture
def damaged_archive(small_archive: Path, shared_data: Path, tmp_path: Path) -> Path:
    """PAT-001 as it is; PAT-002 with every DICOM file of its baseline cut after 100 bytes (a copy
    that failed: no file of that study folder can be read); two damaged files beside PAT-001's
    follow-up (a real CT cut in its header, a text file named .dcm)."""
    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    shutil.copytree(small_archive / "PAT-002", arch / "PAT-002")
    for f in (arch / "PAT-002" / "baseline").rglob("*.dcm"):
        f.write_bytes(f.read_bytes()[:100])
    fu1 = arch / "PAT-001" / "fu1" / "portal_venous"
    (fu1 / "cut.dcm").write_bytes((shared_data / "pydicom_testfiles" / "CT_small.dcm").read_bytes()[:300])
    (fu1 / "notes.dcm").write_text("not an image\n")
    return arch


def _n_dcm(folder: Path) -> int:
    return len(list(folder.rglob("*.dcm")))


def test_skipped_files_are_counted_and_a_folder_never_read_is_a_failure(damaged_archive, tmp_path, caplog) -> None:
    arch = damaged_archive
    n_bad = _n_dcm(arch / "PAT-002" / "baseline")
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.batch.skipped"):
        s = run_batch(arch, out, workers=1, processes=False)
    # the masks, annotations and truth files beside the studies are not counted
    assert s.n_files_skipped == n_bad + 2 and s.n_folders_with_skipped == 2
    assert s.folders_not_read == (str(arch / "PAT-002" / "baseline"),)
    assert s.n_failures == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_files_skipped"] == n_bad + 2
    assert summary["folders_not_read"] == [str(arch / "PAT-002" / "baseline")]
    skipped = pd.read_csv(out / "skipped.csv")
    assert len(skipped) == n_bad + 2
    fu1 = str(arch / "PAT-001" / "fu1" / "portal_venous")
    assert sorted(skipped[skipped.folder == fu1].path) == [f"{fu1}/cut.dcm", f"{fu1}/notes.dcm"]
    fails = pd.read_csv(out / "failures.csv", dtype=str, keep_default_na=False)
    row = fails[fails.step == "index"]
    assert row.root.tolist() == [str(arch / "PAT-002" / "baseline")]
    assert f"none of its {n_bad} file(s)" in row.reason.iloc[0]
    # one warning per folder, naming it and how many (the skipped-files logger's; others warn too, e.g. of a
    # lesion at the image's edge)
    msgs = [r.getMessage() for r in caplog.records if r.name == "hcc_imaging.batch.skipped"]
    assert len(msgs) == 2
    bad = next(m for m in msgs if str(arch / "PAT-002" / "baseline") in m)
    assert f"{n_bad} file(s) skipped" in bad and "No file of this folder could be read" in bad and "more" in bad
    part = next(m for m in msgs if fu1 in m)
    assert "2 file(s) skipped" in part and "cut.dcm" in part and "notes.dcm" in part
    # the readable studies are measured as before
    assert s.n_studies == 3 and s.n_failed_studies == 0


def test_cli_reports_skipped_files_and_strict_fails(damaged_archive, tmp_path, capsys) -> None:
    args = ["batch", str(damaged_archive), "--out", str(tmp_path / "o"), "--threads", "--workers", "1", "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "could not be read as DICOM and were skipped" in text and str(damaged_archive / "PAT-002" / "baseline") in text
    assert main([*args, "--resume", "--strict"]) == 1


def test_a_zip_archive_reports_its_damaged_folder(damaged_archive, tmp_path) -> None:
    zpath = tmp_path / "arch.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(damaged_archive.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(damaged_archive).as_posix())
    s = run_batch(zpath, tmp_path / "out", workers=1, processes=False)
    assert s.folders_not_read == (f"{zpath}::PAT-002/baseline",)
    assert s.n_files_skipped == _n_dcm(damaged_archive / "PAT-002" / "baseline") + 2


def test_a_truncated_zip_of_a_patient_is_a_failure_and_strict_fails(small_archive, tmp_path, capsys) -> None:
    """A patient downloaded as a zip that stopped half-way, beside a good patient folder: it was "not a
    DICOM file" in skipped.csv, the patient vanished and ``--strict`` exited 0 (the SOURCE folder
    holding it was read).  It is a failures.csv row (step index) naming the zip and saying it is
    truncated, counted in ``folders_not_read``; ``--strict`` exits 1.  Given as SOURCE, the error
    says why."""
    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as zf:
        for f in sorted((small_archive / "PAT-002").rglob("*.dcm")):
            zf.write(f, f.relative_to(small_archive).as_posix())
    data = whole.read_bytes()
    (arch / "PAT-002.zip").write_bytes(data[: len(data) // 2])
    args = ["batch", str(arch), "--out", str(tmp_path / "o"), "--threads", "--workers", "1", "--no-progress"]
    assert main([*args, "--strict"]) == 1
    capsys.readouterr()
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["folders_not_read"] == [str(arch / "PAT-002.zip")] and s["n_files_skipped"] == 1
    fails = pd.read_csv(tmp_path / "o" / "failures.csv", dtype=str, keep_default_na=False)
    (row,) = fails[fails.step == "index"].to_dict("records")
    assert row["root"] == str(arch / "PAT-002.zip")
    assert row["reason"].startswith("zip that cannot be read: truncated or corrupt")
    assert "Copy the zip again" in row["reason"]
    skipped = pd.read_csv(tmp_path / "o" / "skipped.csv")
    assert skipped.path.tolist() == [str(arch / "PAT-002.zip")]
    # the zip given as SOURCE: the run stops, saying why
    from hcc_imaging.batch import BatchError

    with pytest.raises(BatchError, match="PAT-002.zip: zip that cannot be read: truncated or corrupt"):
        run_batch(arch / "PAT-002.zip", tmp_path / "o2", workers=1, processes=False)


def test_a_broken_link_to_a_patient_folder_is_a_failure_and_strict_fails(small_archive, tmp_path, capsys) -> None:
    """SOURCE holding PAT-001's folder and a symbolic link PAT-002 -> a folder that is gone (its
    storage not mounted), and one broken link to a slice inside PAT-001's series folder.  Before:
    the patient link was a skipped.csv line under SOURCE, no failures.csv row, and ``--strict``
    exited 0 (a whole patient missing from the results without a failure).  Now it is a row (step
    index, ``root`` the link, the reason naming its target); the broken slice link stays a
    skipped.csv line of its series folder (that folder was read)."""
    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001" / "baseline", arch / "PAT-001" / "baseline")
    (arch / "PAT-002").symlink_to(tmp_path / "unmounted" / "PAT-002", target_is_directory=True)
    pv = arch / "PAT-001" / "baseline" / "portal_venous"
    (pv / "IM9999.dcm").symlink_to(tmp_path / "unmounted" / "IM9999.dcm")
    args = ["batch", str(arch), "--out", str(tmp_path / "o"), "--threads", "--workers", "1", "--no-progress"]
    assert main([*args, "--strict"]) == 1
    capsys.readouterr()
    fails = pd.read_csv(tmp_path / "o" / "failures.csv", dtype=str, keep_default_na=False)
    (row,) = fails[fails.step == "index"].to_dict("records")
    assert row["root"] == str(arch / "PAT-002")
    assert row["reason"].startswith(f"broken symbolic link to {tmp_path / 'unmounted' / 'PAT-002'}")
    assert "so its studies are not in the results" in row["reason"]
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["folders_not_read"] == [str(arch / "PAT-002")] and s["n_files_skipped"] == 2
    skipped = pd.read_csv(tmp_path / "o" / "skipped.csv", dtype=str)
    assert dict(zip(skipped.path, skipped.folder)) == {str(arch / "PAT-002"): str(arch / "PAT-002"),
                                                       str(pv / "IM9999.dcm"): str(pv)}
    assert s["n_studies"] == 1 and s["n_failed_studies"] == 0

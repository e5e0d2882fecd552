"""A study without a PatientID is warned about once per run, by the driver, whatever indexes it."""

from __future__ import annotations

import logging
import shutil
import zipfile

import pydicom
import pytest

from hcc_imaging.batch import run_batch
from hcc_imaging.io.index import patient_key


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_study_without_patient_id_is_warned_once(small_archive, tmp_path, caplog, as_zip) -> None:
    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    uids = set()
    for f in (arch / "PAT-001" / "baseline").rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.PatientID = ""
        ds.save_as(f)
        uids.add(ds.StudyInstanceUID)
    (uid,) = uids
    src = arch
    if as_zip:
        src = tmp_path / "arch.zip"
        with zipfile.ZipFile(src, "w") as zf:
            for f in sorted(arch.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(arch).as_posix())
    with caplog.at_level(logging.WARNING):
        s = run_batch(src, tmp_path / "out", workers=1, processes=False)
    assert s.n_studies == 2  # (a zip's studies fail at masks: NIfTI masks are read from folders only)
    warned = [r.getMessage() for r in caplog.records if "has no PatientID" in r.getMessage()]
    assert warned == [f"study {uid} has no PatientID: read as a patient of its own, {patient_key('', uid)}; studies "
                      "are read as one patient's time points only when they carry the same PatientID"]


def test_a_study_without_study_instance_uid_is_reported_not_run(small_archive, tmp_path) -> None:
    """Files without a StudyInstanceUID (and here without a PatientID) were a study "" of patient
    ``noid-e3b0c44298fc1c14``, the key every such file got; the index now skips them: the run lists
    them in skipped.csv with the reason and the fix, their folder is a failure (step index), and the
    other study of the patient is measured as before."""
    import pandas as pd

    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    base = arch / "PAT-001" / "baseline"
    n = 0
    for f in base.rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        if "StudyInstanceUID" in ds:
            del ds.StudyInstanceUID
            ds.PatientID = ""
            ds.save_as(f)
            n += 1
    s = run_batch(arch, tmp_path / "out", workers=1, processes=False)
    assert s.n_studies == 1 and s.n_files_skipped == n and s.folders_not_read == (str(base),)
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert len(skipped) == n and skipped.reason.str.startswith("no StudyInstanceUID (0020,000D").all()
    fails = pd.read_csv(tmp_path / "out" / "failures.csv", dtype=str, keep_default_na=False)
    assert fails.step.tolist() == ["index"] and "no StudyInstanceUID" in fails.reason.iloc[0]
    assert "noid-e3b0c44298fc1c14" not in (tmp_path / "out" / "summary.json").read_text()

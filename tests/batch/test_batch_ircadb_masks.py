"""3D-IRCADb stores each expert mask as a study of its own: 8-bit "CT" images without a PatientID.

``batch`` on patient 17 ran nine studies, nine patients (``noid-`` keys): the CT and its eight mask
series, each failing "no lesion mask beside it".  The index now marks a series of 8-bit CT images as a
mask (``SeriesInfo.is_mask``: CT holds HU in 16 bits), and the batch leaves a study of masks only out,
with a warning naming its folder: one study remains, the CT.  Read in place (the zip) or from the
session's extraction (a folder, indexed in shards); never modified (CC BY-NC-ND).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hcc_imaging.batch import run_batch
from hcc_imaging.io import index_archive

from ..conftest import IRCADB17_ZIP

MASKS = ("artery", "bone", "liver", "livertumor1", "livertumor2", "portalvein", "skin", "venoussystem")


def test_index_marks_the_ircadb_mask_series_as_masks(shared_data: Path) -> None:
    idx = index_archive(shared_data / IRCADB17_ZIP, warn_no_patient_ids=False)
    by_folder = {s.files[0].rsplit("/", 2)[-2]: s for s in idx.series}
    assert sorted(by_folder) == sorted(("PATIENT_DICOM", *MASKS))
    assert not by_folder["PATIENT_DICOM"].is_mask
    for m in MASKS:
        s = by_folder[m]
        assert s.is_mask and s.is_image, m
        assert any(p.startswith("8-bit CT images (BitsAllocated 8)") for p in s.problems)
        assert s.phase.phase.value == "unknown" and "mask" in s.phase.reason
    assert by_folder["livertumor1"].to_dict()["is_mask"] is True


def test_index_reads_a_zip_inside_the_folder(shared_data: Path) -> None:
    """A folder holding the patient's zip (as 3D-IRCADb is downloaded: one zip per patient) was
    "4 files, 0 studies": the zip was skipped as not DICOM. Its members are indexed now."""
    zipped = index_archive(shared_data / IRCADB17_ZIP, warn_no_patient_ids=False)
    folder = index_archive((shared_data / IRCADB17_ZIP).parent, warn_no_patient_ids=False)
    assert len(zipped.series) == 9
    assert sorted(s.series_instance_uid for s in folder.series) == sorted(
        s.series_instance_uid for s in zipped.series)
    assert sorted(len(s.files) for s in folder.series) == sorted(len(s.files) for s in zipped.series)
    assert all("::" in s.files[0] for s in folder.series)
    assert not any(f.path.endswith(".zip") for f in folder.skipped)  # only the README and tables


@pytest.mark.parametrize("source", ["zip", "folder", "folder-holding-the-zip"])
def test_batch_runs_the_ct_and_leaves_the_mask_studies_out(
    shared_data: Path, ircadb17: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    src = {"zip": shared_data / IRCADB17_ZIP, "folder": ircadb17,
           "folder-holding-the-zip": (shared_data / IRCADB17_ZIP).parent}[source]
    with caplog.at_level(logging.WARNING):
        s = run_batch(src, tmp_path / "out", workers=1, processes=False)
    assert s.n_studies == 1 and s.n_failed_studies == 1  # the CT: no lesion mask beside it (none given)
    failures = (tmp_path / "out" / "failures.csv").read_text().splitlines()
    assert len(failures) == 2 and "1.2.826.0.1.3680043.2.1125.7797432508672121769046477268903240853" in failures[1]
    assert "no lesion mask beside it" in failures[1] and "Several studies share" not in failures[1]
    left_out = [r.getMessage() for r in caplog.records if "masks stored as CT images" in r.getMessage()]
    assert len(left_out) == 8
    assert sorted(next(m for m in MASKS if f"MASKS_DICOM/{m})" in msg) for msg in left_out) == sorted(MASKS)
    warned = [r.getMessage() for r in caplog.records if "has no PatientID" in r.getMessage()]
    assert len(warned) == 1  # the CT's study only
    # (beside the zip: the data set's README and tables, side files, not counted)
    assert (tmp_path / "out" / "skipped.csv").read_text().splitlines()[1:] == []


def test_an_archive_of_masks_only_is_refused_with_the_reason(tmp_path: Path) -> None:
    """Only 8-bit CT mask series (e.g. a MASKS_DICOM folder given alone): the run stops at discovery
    and says why, instead of failing each mask as a study without lesions."""
    import numpy as np
    import pydicom

    from hcc_imaging.batch import BatchError

    from ..io._synth import write_series

    for name in ("liver", "livertumor1"):
        for p in write_series(tmp_path / "arch" / name, np.zeros((3, 4, 4), np.uint16), extra={"PatientID": ""}):
            ds = pydicom.dcmread(p)
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
            ds.PixelData = np.full((4, 4), 255, np.uint8).tobytes()
            ds.save_as(p)
    with pytest.raises(BatchError, match=r"its 2 DICOM study\(ies\) hold only masks stored as CT images"):
        run_batch(tmp_path / "arch", tmp_path / "out", workers=1, processes=False)


def test_cli_index_lists_the_mask_studies_apart(shared_data: Path, capsys: pytest.CaptureFixture[str],
                                               caplog: pytest.LogCaptureFixture) -> None:
    """``hcc-imaging index`` on IRCAD17 said "9 patient(s)", warned nine times that a study has no
    PatientID and printed a patient table per mask. The mask studies are listed apart now, not
    counted as patients, not warned about; the JSON says which they are."""
    import json

    from hcc_imaging.cli import main

    with caplog.at_level(logging.WARNING):
        assert main(["index", str(shared_data / IRCADB17_ZIP)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 patient(s), 1 study(ies), 9 series, 8 study(ies) of masks stored as CT images" in out
    assert out.count("(no PatientID: a patient of its own)") == 1
    assert "studies of masks stored as CT images (8-bit): not patients" in out
    warned = [r.getMessage() for r in caplog.records if "has no PatientID" in r.getMessage()]
    assert len(warned) == 1 and "7797432508672121769046477268903240853" in warned[0]
    assert main(["index", str(shared_data / IRCADB17_ZIP), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    flags = [st["masks_only"] for p in d["patients"] for st in p["studies"]]
    assert sorted(flags) == [False] + [True] * 8

"""How the batch finds each study's inputs: its own folder, never another study's (or patient's).

A study's folder is the common folder of its files; its mask files and seeds are looked for there
only when no other study has a file in or below it.  Before, the search walked any common folder:
a baseline whose SEG lay in ``P/segs/`` was measured with its follow-up's ``lesions.nii.gz``, a
zipped patient beside a patient folder with the other patient's mask, a zip SOURCE given by an
absolute path with any ``lesions.nii.gz`` below the zip's folder.
"""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from functools import partial
from pathlib import Path

import pytest

from hcc_imaging.batch import PipelineOptions, discover_studies, run_batch
from hcc_imaging.batch.pipeline import index_shard, merge_shard_tasks, shard_files
from hcc_imaging.io.index import resolve_sources


def _run(src: Path | str, out: Path, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("processes", False)
    return run_batch(src, out, **kw)


def _records(out: Path) -> dict[tuple[str, str], dict]:
    recs = [json.loads(p.read_text()) for p in sorted((out / "store").rglob("*.json"))]
    return {(r["patient_id"], r["study_date"]): r for r in recs}


def _failures(out: Path) -> list[dict[str, str]]:
    with (out / "failures.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _zip_study(study: Path, dest: Path) -> None:
    """``dest``: the study folder's DICOM files (its masks left out), under the study's folder name."""
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(study.rglob("*.dcm")):
            if "masks" not in p.parts:
                zf.write(p, p.relative_to(study.parent).as_posix())


@pytest.fixture(scope="module")
def baseline_seg(small_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """PAT-001's baseline SEG (``--export-sr``) and the baseline's record measured from its mask files."""
    out = tmp_path_factory.mktemp("seg")
    _run(small_archive / "PAT-001", out, options=PipelineOptions(export_sr=True))
    base = _records(out)
    (bl_date,) = [d for (_, d) in base if d == min(d for _, d in base)]
    rec = base[("PAT-001", bl_date)]
    return out / "seg" / f"{rec['study_instance_uid']}.dcm", rec


def test_a_study_spread_over_its_patients_folder_uses_its_seg_not_the_follow_ups_mask(
    small_archive, baseline_seg, tmp_path
) -> None:
    """P/baseline/<series>/ without masks, its SEG in P/segs/, P/fu1/ with masks/lesions.nii.gz: the
    baseline's folder is P, which holds fu1's folder.  Its SEG is measured (it was fu1's mask)."""
    seg, want = baseline_seg
    pat = tmp_path / "arch" / "P"
    shutil.copytree(small_archive / "PAT-001", pat)
    shutil.rmtree(pat / "baseline" / "masks")
    (pat / "segs").mkdir()
    shutil.copy(seg, pat / "segs" / "baseline_seg.dcm")
    out = tmp_path / "o"
    s = _run(tmp_path / "arch", out)
    assert s.n_failures == 0
    recs = _records(out)
    bl = recs[("PAT-001", want["study_date"])]
    assert bl["root"] == str(pat) and bl["mask_source"] == "DICOM SEG"
    got = {r["lesion_id"]: round(r["longest_diameter_mm"], 1) for r in bl["lesions"]}
    assert got == {r["lesion_id"]: round(r["longest_diameter_mm"], 1) for r in want["lesions"]}
    (fu,) = [r for k, r in recs.items() if k != ("PAT-001", want["study_date"])]
    assert fu["root"] == str(pat / "fu1") and fu["mask_source"] == "lesions.nii.gz"


def test_a_spread_study_without_masks_fails_saying_how_to_lay_its_files_out(small_archive, tmp_path) -> None:
    """One series of the baseline moved beside the patient's study folders: no folder of its own, so its
    follow-up's mask is not taken; the failure row says why and how to lay the files out.  A sharded
    index gives the same tasks."""
    pat = tmp_path / "arch" / "P"
    shutil.copytree(small_archive / "PAT-001", pat)
    shutil.rmtree(pat / "baseline" / "masks")
    shutil.move(pat / "baseline" / "arterial", pat / "arterial")
    out = tmp_path / "o"
    s = _run(tmp_path / "arch", out)
    assert s.n_failed_studies == 1
    (row,) = [r for r in _failures(out) if r["step"] == "masks"]
    assert row["root"] == str(pat)
    assert f"common folder {pat} also holds the files of study" in row["reason"]
    assert str(pat / "fu1") in row["reason"] and "in one folder of its own" in row["reason"]
    assert not any(r["study_date"] == row["study_date"] for r in _records(out).values() if r["ok"])

    opts = PipelineOptions()
    want, _ = discover_studies(tmp_path / "arch", opts)
    root, files, _ = resolve_sources(tmp_path / "arch")
    fn = partial(index_shard, root=root, archive_root=str(tmp_path / "arch"), options=opts)
    # the baseline's series in one shard, the follow-up in another: the merge cannot tell, and says so
    shards = shard_files(root, files, 8, min_split_files=0)
    merged = merge_shard_tasks([fn(sh)[0] for sh in shards])
    assert merged is None or merged == want
    assert merge_shard_tasks([fn(files)[0]]) == want


def test_a_zipped_patient_beside_a_patient_folder_does_not_take_its_mask(small_archive, tmp_path) -> None:
    """A folder SOURCE: PAT-001's baseline zipped (no masks) beside PAT-002's folder with its masks.
    The zip's folder is the SOURCE, which holds PAT-002: PAT-001 fails at masks (it was measured with
    PAT-002's lesions.nii.gz)."""
    arch = tmp_path / "arch"
    arch.mkdir()
    _zip_study(small_archive / "PAT-001" / "baseline", arch / "pA.zip")
    shutil.copytree(small_archive / "PAT-002" / "fu1", arch / "pB" / "fu1")
    out = tmp_path / "o"
    s = _run(arch, out)
    assert s.n_studies == 2 and s.n_failed_studies == 1
    (row,) = [r for r in _failures(out) if r["step"] == "masks"]
    assert row["patient_id"] == "PAT-001" and row["root"] == str(arch)
    assert "in a zip whose folder" in row["reason"] and "Give the zip a folder of its own" in row["reason"]
    assert [r["patient_id"] for r in _records(out).values() if r["ok"]] == ["PAT-002"]

    # the zip in a folder of its own, with the study's mask beside it: measured with it
    (arch / "pA").mkdir()
    shutil.move(arch / "pA.zip", arch / "pA" / "pA.zip")
    shutil.copytree(small_archive / "PAT-001" / "baseline" / "masks", arch / "pA" / "masks")
    s = _run(arch, tmp_path / "o2")
    assert s.n_failures == 0
    rec = [r for r in _records(tmp_path / "o2").values() if r["patient_id"] == "PAT-001"][0]
    assert rec["root"] == str(arch / "pA") and rec["mask_source"] == "lesions.nii.gz"


@pytest.mark.parametrize("absolute", [True, False])
def test_a_zip_source_looks_for_no_mask_outside_the_zip(small_archive, tmp_path, monkeypatch, absolute) -> None:
    """A zip SOURCE (absolute or relative path) with no SEG inside: a lesions.nii.gz below the zip's
    folder (another patient's) is not taken; the failure row names the zip and says what to do."""
    z = tmp_path / "zipt" / "one.zip"
    (tmp_path / "zipt" / "other" / "x").mkdir(parents=True)
    _zip_study(small_archive / "PAT-001" / "baseline", z)
    shutil.copy(small_archive / "PAT-002" / "fu1" / "masks" / "lesions.nii.gz",
                tmp_path / "zipt" / "other" / "x" / "lesions.nii.gz")
    monkeypatch.chdir(tmp_path / "zipt")
    src = str(z) if absolute else "one.zip"
    out = tmp_path / "o"
    s = _run(src, out)
    assert s.n_studies == 1 and s.n_failed_studies == 1
    (row,) = _failures(out)
    assert row["step"] == "masks" and row["root"] == f"{src}::baseline"
    assert f"inside the zip SOURCE {src}" in row["reason"]
    assert "Put the study's SEG/RTSTRUCT in the zip" in row["reason"]


def test_two_patients_sharing_a_study_uid_are_refused_both(small_archive, tmp_path) -> None:
    """A copy of PAT-001 given another PatientID (and new series / SOP UIDs) but the same
    StudyInstanceUIDs, its masks cut to L1: OTHER-9 was measured with PAT-001's masks (the study
    folders were keyed by StudyInstanceUID alone).  Both are failure rows now, naming both patients
    and folders, and no output of either is written."""
    import pydicom
    from pydicom.uid import generate_uid

    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "A")
    shutil.copytree(small_archive / "PAT-001", arch / "B")
    new_series: dict[str, str] = {}
    for p in sorted((arch / "B").rglob("*.dcm")):
        ds = pydicom.dcmread(p)
        ds.PatientID = "OTHER-9"
        ds.SeriesInstanceUID = new_series.setdefault(ds.SeriesInstanceUID, generate_uid())
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(p)
    out = tmp_path / "o"
    s = _run(arch, out, options=PipelineOptions(export_sr=True))
    assert s.n_studies == 4 and s.n_failed_studies == 4
    rows = _failures(out)
    assert sorted((r["patient_id"], r["step"]) for r in rows) == [("OTHER-9", "index")] * 2 + [("PAT-001", "index")] * 2
    for r in rows:
        assert f"2 patients share StudyInstanceUID {r['study_instance_uid']}" in r["reason"]
        assert "OTHER-9 (" in r["reason"] and "PAT-001 (" in r["reason"] and str(arch / "B") in r["reason"]
        assert "Fix the DICOM" in r["reason"]
    assert (out / "lesions.csv").read_text().count("\n") == 1  # the header only
    assert not list(out.glob("seg/*.dcm")) and not list(out.glob("masks/*"))


def test_out_inside_source_is_refused_before_any_work(small_archive, tmp_path, capsys) -> None:
    """``--out`` inside SOURCE: after one ``--export-sr`` run the next indexed the run's own
    ``seg/*.dcm`` as parts of the studies (other masks, other targets) and its tables as skipped files.
    Refused at the start (exit 2), naming both and where to put it; beside SOURCE it runs."""
    from hcc_imaging.cli import main

    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    for out in (arch / "results", arch / "PAT-001" / "o", arch):
        rc = main(["batch", str(arch), "--out", str(out), "--threads", "--workers", "1", "--no-progress"])
        err = " ".join(capsys.readouterr().err.split())
        assert rc == 2 and f"--out {out} is inside SOURCE {arch}" in err and "Choose an --out outside" in err
        assert not (out / "store").exists()
    s = _run(arch, tmp_path / "arch-results", options=PipelineOptions(export_sr=True))
    assert s.n_failures == 0 and len(list((tmp_path / "arch-results" / "seg").glob("*.dcm"))) == 2


def test_a_one_series_study_finds_the_masks_beside_its_series_folder(small_archive, tmp_path) -> None:
    """``STUDY/SERIES/`` with ``STUDY/masks/``: a study of several series has STUDY as its folder and
    is measured; with one series its folder was the series folder, and it failed "no lesion mask
    beside it".  The series folder's parent is searched too when no other study is in it; a parent
    holding two one-series studies is searched for neither (a mask there is nobody's), and a sharded
    index gives the same tasks."""
    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "P")
    for st in ("baseline", "fu1"):
        for ph in ("arterial", "delayed", "pre_contrast"):
            shutil.rmtree(arch / "P" / st / ph)
    # two one-series studies in one folder, with a mask beside them
    for st in ("baseline", "fu1"):
        shutil.copytree(small_archive / "PAT-002" / st / "portal_venous", arch / "Q" / st)
    shutil.copytree(small_archive / "PAT-002" / "baseline" / "masks", arch / "Q" / "masks")
    out = tmp_path / "o"
    s = _run(arch, out)
    recs = _records(out)
    p_recs = [r for (pid, _), r in recs.items() if pid == "PAT-001"]
    assert len(p_recs) == 2 and all(r["ok"] and r["mask_source"] == "lesions.nii.gz" for r in p_recs)
    assert sorted(r["root"] for r in p_recs) == [str(arch / "P" / st / "portal_venous") for st in ("baseline", "fu1")]
    q_recs = [r for (pid, _), r in recs.items() if pid == "PAT-002"]
    assert len(q_recs) == 2 and not any(r["ok"] for r in q_recs)
    assert all("no lesion mask beside it" in r["reason"] for r in q_recs)
    assert s.n_failed_studies == 2

    opts = PipelineOptions()
    want, _ = discover_studies(arch, opts)
    root, files, _ = resolve_sources(arch)
    fn = partial(index_shard, root=root, archive_root=str(arch), options=opts)
    for n in (2, 4, 8):
        merged = merge_shard_tasks([fn(sh)[0] for sh in shard_files(root, files, n, min_split_files=0)])
        assert merged is None or merged == want, n
    # Q's two studies in two shards: each alone would search Q (and take the mask); the merge sees it
    q_shards = [[f for f in files if f"/Q/{st}/" in f] for st in ("baseline", "fu1")]
    assert merge_shard_tasks([fn(sh)[0] for sh in q_shards]) is None

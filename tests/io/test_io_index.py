"""Archive index on a folder, a zip and a DICOMDIR; CLI ``index`` and ``load``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.cli import main
from hcc_imaging.io import SeriesInfo, index_archive, load_series
from hcc_imaging.volume import Phase

from ._synth import write_series


def test_folder_index_groups_and_flags_problems(shared_data: Path) -> None:
    idx = index_archive(shared_data / "dicom2nifti_failing_series")
    assert len(idx.series) == 6
    by_folder = {Path(s.files[0]).parent.relative_to(shared_data / "dicom2nifti_failing_series").as_posix(): s
                 for s in idx.series}
    assert any("unevenly spaced" in p for p in by_folder["sliceincrement/001"].problems)
    assert any("gantry tilt" in p for p in by_folder["gantrytilting/001"].problems)
    assert any("duplicate" in p for p in by_folder["notavolume/001"].problems)
    assert any("different orientations" in p for p in by_folder["sliceorientation/001"].problems)
    assert by_folder["slicecount/001"].problems == ()
    assert by_folder["slicecount/001"].geometry.slice_spacing_mm == pytest.approx(1.0)
    # non-DICOM files are listed with a reason
    skipped = {Path(s.path).name: s.reason for s in idx.skipped}
    assert "README.md" in skipped and "not a DICOM file" in skipped["README.md"]
    assert "001_ground_truth.nii.gz" in skipped


def test_files_are_in_slice_order_and_load_from_seriesinfo(shared_data: Path) -> None:
    idx = index_archive(shared_data / "pydicom_testfiles" / "dicomdirtests" / "98892001")
    ct5 = next(s for s in idx.series if s.n_instances == 5)
    z = [float(v) for v in (-1.2375, 1.2625, 3.7625, 6.2625, 8.7625)]
    assert [Path(f).name for f in ct5.files] == ["3353", "3023", "2693", "2392", "2062"]
    assert ct5.geometry.slice_spacing_mm == pytest.approx(2.5)
    assert ct5.geometry.orientation_label == "axial"
    v = load_series(ct5)
    np.testing.assert_allclose([v.index_to_lps([k, 0, 0])[2] for k in range(5)], z, atol=1e-4)


def test_zip_index_and_load(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "pydicom_testfiles" / "dicomdirtests" / "98892001" / "CT5N"
    zpath = tmp_path / "archive.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f"PAT/CT5N/{f.name}")
        zf.writestr("PAT/notes.txt", "not dicom")
    idx = index_archive(zpath)
    assert len(idx.series) == 1
    s = idx.series[0]
    assert s.n_instances == 5 and all("::" in f for f in s.files)
    assert [r.reason for r in idx.skipped if r.path.endswith("notes.txt")]
    v = load_series(s)
    ref = load_series(src)
    np.testing.assert_array_equal(v.array, ref.array)
    assert v.geometry_equal(ref)
    assert load_series(zpath).geometry_equal(ref)


@pytest.mark.parametrize("name", ["DICOMDIR", "DICOMDIR-implicit", "DICOMDIR-bigEnd", "DICOMDIR-reordered",
                                  "DICOMDIR-nooffset"])
def test_dicomdir_index(shared_data: Path, name: str) -> None:
    idx = index_archive(shared_data / "pydicom_testfiles" / "dicomdirtests" / name)
    assert idx.n_files == 31
    assert {p.patient_id for p in idx.patients} == {"77654033", "98890234"}
    assert len(idx.series) == 13
    assert sum(s.n_instances for s in idx.series) == 31
    assert not idx.skipped


def test_dicomdir_empty(shared_data: Path) -> None:
    idx = index_archive(shared_data / "pydicom_testfiles" / "dicomdirtests" / "DICOMDIR-empty.dcm")
    assert idx.series == () and idx.n_files == 0


def test_index_json_roundtrip(shared_data: Path) -> None:
    idx = index_archive(shared_data / "pydicom_testfiles" / "dicomdirtests")
    d = json.loads(json.dumps(idx.to_dict()))
    assert len(d["patients"]) == 2
    s0 = d["patients"][0]["studies"][0]["series"][0]
    assert {"series_instance_uid", "geometry", "phase", "problems", "files"} <= set(s0)
    with pytest.raises(KeyError, match="known series"):
        idx.find_series("1.2.3.nothing")
    assert idx.find_series(idx.series[0].series_instance_uid) is idx.series[0]


def test_missing_path_raises_a_named_error_that_is_also_file_not_found() -> None:
    from hcc_imaging.errors import HccImagingError, SourceNotFoundError

    with pytest.raises(SourceNotFoundError, match="does not exist") as info:
        index_archive("/nonexistent/dicom/folder")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, HccImagingError)


def test_index_study_phase_from_descriptions(tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.2.999.1"
    vals = np.full((2, 4, 4), 1024, np.uint16)
    for d in ("Leber nativ", "Arterielle Phase", "Portalvenös 70s", "Spätphase 3min"):
        write_series(tmp_path / d.split()[0], vals, description=d, study_uid=study)
    idx = index_archive(tmp_path)
    phases = {s.series_description: s.phase.phase for s in idx.series}
    assert phases == {"Leber nativ": Phase.PRE_CONTRAST, "Arterielle Phase": Phase.ARTERIAL,
                      "Portalvenös 70s": Phase.PORTAL_VENOUS, "Spätphase 3min": Phase.DELAYED}
    assert isinstance(idx.series[0], SeriesInfo)


def test_a_linked_study_folder_is_indexed_once_and_a_loop_ends(tmp_path: Path) -> None:
    """An archive of symbolic links to where the studies lie: the index did not follow a linked
    folder (0 files, "no DICOM study found" in the batch).  A linked folder is now listed; a second
    link to it and a link back up the tree (a loop) are listed no more than once."""
    store, arch = tmp_path / "store", tmp_path / "archive"
    vals = np.full((3, 4, 4), 1024, np.uint16)
    write_series(store / "pat1" / "pv", vals, study_uid="1.2.826.0.1.3680043.2.999.7")
    arch.mkdir()
    (arch / "pat1").symlink_to(store / "pat1", target_is_directory=True)
    (arch / "pat1_again").symlink_to(store / "pat1", target_is_directory=True)
    (store / "pat1" / "pv" / "up").symlink_to(arch, target_is_directory=True)  # a loop
    idx = index_archive(arch)
    assert idx.n_files == 3 and len(idx.series) == 1 and not idx.series[0].problems
    assert all(f.startswith(str(arch / "pat1") + os.sep) for f in idx.series[0].files)
    assert index_archive(store).n_files == 3  # the loop from the other side


def test_index_progress_is_reported(shared_data: Path) -> None:
    calls: list[tuple[int, int]] = []
    index_archive(shared_data / "pydicom_testfiles", progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1]


def test_cli_index_json_and_table(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(shared_data / "dicom2nifti_failing_series")
    assert main(["index", path, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert sum(len(st["series"]) for p in d["patients"] for st in p["studies"]) == 6
    assert "files" not in d["patients"][0]["studies"][0]["series"][0]
    assert main(["index", path, "--skipped"]) == 0
    out = capsys.readouterr().out
    assert "unevenly" in out and "README.md" in out


def test_cli_load_json_and_error(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = str(shared_data / "pydicom_testfiles" / "dicomdirtests" / "98892001" / "CT5N")
    assert main(["load", ok, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["shape"] == [5, 16, 16] and d["spacing_mm"][0] == pytest.approx(2.5)
    assert main(["load", ok]) == 0
    assert "spacing_mm" in capsys.readouterr().out
    bad = str(shared_data / "dicom2nifti_failing_series" / "gantrytilting" / "001")
    assert main(["load", bad]) == 2
    assert "GantryTiltError" in capsys.readouterr().err
    assert main(["load", bad, "--on-tilt", "resample", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"][0] == 4


def test_cli_index_subprocess(shared_data: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "index", str(shared_data / "pydicom_testfiles" / "dicomdirtests"),
         "--json"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["patients"]) == 2
    r = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "load", "/nonexistent"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0


def test_truncated_native_pixels_in_a_zip_are_found_from_the_sizes(shared_data: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip member is decoded by pydicom (not the direct read of a plain file); its truncated native
    pixel data is found from the header's sizes before any decoder runs, whatever the decoder would
    have said (its error is replaced here by one that does not mention truncation)."""
    import pydicom.pixels

    from hcc_imaging.io import TruncatedPixelDataError

    zpath = tmp_path / "cut.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(shared_data / "pydicom_testfiles" / "MR_truncated.dcm", "MR/cut.dcm")

    def no_decoder(*_a, **_k):  # type: ignore[no-untyped-def]
        raise ValueError("some other wording")

    monkeypatch.setattr(pydicom.pixels, "pixel_array", no_decoder)
    with pytest.raises(TruncatedPixelDataError, match=r"cut\.dcm: its pixel data holds 8130 bytes but .* = 8192 are needed"):
        load_series(zpath)


def test_studies_without_a_patient_id_are_never_one_patient(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """PatientID is type 2: anonymised public data (3D-IRCADb) leaves it empty.  Two such studies
    were one patient "" (the batch read them as baseline and fu1 of one person and computed a
    response across two people; the de-identified exports gave both one pseudonym).  Each is now a
    patient of its own, ``noid-<hash of its StudyInstanceUID>``, with a warning naming both; studies with
    the same PatientID stay one patient's time points."""
    import logging

    from hcc_imaging.batch.pipeline import PipelineOptions, tasks_from_index
    from hcc_imaging.io import patient_key

    vals = np.full((3, 6, 6), 1100, np.uint16)
    for name, pid in (("a", ""), ("b", ""), ("c", "P-7"), ("d", "P-7")):
        write_series(tmp_path / name, vals, study_uid=f"1.2.826.0.1.3680043.99.{ord(name)}", extra={"PatientID": pid})
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.index"):
        idx = index_archive(tmp_path)
    by_patient = {p.patient_id: sorted(st.study_instance_uid for st in p.studies) for p in idx.patients}
    a, b = (f"1.2.826.0.1.3680043.99.{ord(n)}" for n in "ab")
    ka, kb = patient_key("", a), patient_key("", b)
    assert ka != kb and ka.startswith("noid-") and len(ka) == 21
    assert by_patient == {"P-7": ["1.2.826.0.1.3680043.99.100", "1.2.826.0.1.3680043.99.99"], ka: [a], kb: [b]}
    assert all(se.patient_id == ka for st in idx.studies if st.study_instance_uid == a for se in st.series)
    warned = [r.getMessage() for r in caplog.records if "has no PatientID" in r.getMessage()]
    assert len(warned) == 2 and all("Synthetic" not in m for m in warned)  # UIDs only, never a name
    assert any(a in m and ka in m for m in warned)  # the warning maps the study to its key
    tasks = tasks_from_index(idx, PipelineOptions())
    assert sorted(t.patient_id for t in tasks) == sorted(["P-7", "P-7", ka, kb])
    assert patient_key("  ", "1.2.3") == patient_key("", "1.2.3") and patient_key("P-7", "1.2.3") == "P-7"
    from hcc_imaging.study.store import check_pseudonym

    check_pseudonym(patient_key("", "1." + "2" * 62), "patient id")  # a 64-character UID: a valid store id


def test_one_series_per_phase_prefers_ct_then_mr_then_finer_slices() -> None:
    """A study's series of one phase (IBSI STS_002: a CT, an MR and a PET, none with a known phase):
    the viewer kept the finer slices (the MR, 0.00005 mm finer than the CT) and ``segment`` the first
    series by number, each without a word.  ``io.one_per_phase``: CT, then MR, then another
    modality, then the finer slices; a note for each series not taken."""
    from hcc_imaging.io import one_per_phase
    from hcc_imaging.volume import Modality, Volume

    arr = np.zeros((4, 5, 5), np.int16)
    mr = Volume.create(arr, spacing=(3.26995, 1.0, 1.0), modality=Modality.MR, series_instance_uid="1.9.1")
    ct_thick = Volume.create(arr, spacing=(5.0, 1.0, 1.0), modality=Modality.CT, series_instance_uid="1.9.2")
    ct = Volume.create(arr, spacing=(3.27, 1.0, 1.0), modality=Modality.CT, series_instance_uid="1.9.3")
    art = Volume.create(arr, spacing=(3.27, 1.0, 1.0), modality=Modality.MR, series_instance_uid="1.9.4",
                        phase=Phase.ARTERIAL)
    got, notes = one_per_phase([mr, ct_thick, ct, art], "shown")
    assert got == {Phase.UNKNOWN: ct, Phase.ARTERIAL: art}
    assert len(notes) == 2 and all("not shown" in n for n in notes)
    assert any(n.startswith("series 1.9.1 (MR") and "here 1.9.3" in n for n in notes)  # CT before a finer MR
    assert any(n.startswith("series 1.9.2 (CT") and "here 1.9.3" in n for n in notes)  # then the finer CT


def test_files_without_a_study_instance_uid_are_skipped_never_one_study(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """StudyInstanceUID is type 1, but broken exports drop it.  Every such file was study "" and,
    without a PatientID, patient ``noid-e3b0c44298fc1c14`` (the hash of the empty string): three
    unrelated series became one study of one patient.  Which study such a file belongs to cannot be
    told, so the index skips it with the reason and the fix (logged per series); the series still
    loads alone, and ``patient_key`` refuses to make a key of nothing."""
    import logging

    import pydicom

    from hcc_imaging.batch.pipeline import PipelineOptions, tasks_from_index
    from hcc_imaging.io import patient_key
    from hcc_imaging.io.index import has_no_patient_id

    vals = np.full((3, 6, 6), 1100, np.uint16)
    broken = {}
    for name, pid in (("a", ""), ("b", ""), ("c", "P-9")):
        paths = write_series(tmp_path / name, vals, extra={"PatientID": pid})
        for p in paths:
            ds = pydicom.dcmread(p)
            del ds.StudyInstanceUID
            ds.save_as(p)
        broken[name] = (paths, str(ds.SeriesInstanceUID))
    write_series(tmp_path / "d", vals, study_uid="1.2.826.0.1.3680043.99.7", extra={"PatientID": "P-9"})
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.io.index"):
        idx = index_archive(tmp_path)
    assert [(p.patient_id, [st.study_instance_uid for st in p.studies]) for p in idx.patients] == [
        ("P-9", ["1.2.826.0.1.3680043.99.7"])]
    skipped = {s.path: s.reason for s in idx.skipped}
    assert sorted(skipped) == sorted(str(p) for ps, _ in broken.values() for p in ps)
    assert all(r.startswith("no StudyInstanceUID (0020,000D") and "Restore the tag" in r for r in skipped.values())
    warned = [r.getMessage() for r in caplog.records if "without a StudyInstanceUID" in r.getMessage()]
    assert len(warned) == 3 and all(any(uid in m for m in warned) for _, uid in broken.values())
    assert [t.study_instance_uid for t in tasks_from_index(idx, PipelineOptions())] == ["1.2.826.0.1.3680043.99.7"]
    # the series loads alone (a study is needed only to group series and patients)
    assert load_series(tmp_path / "a").shape == (3, 6, 6)
    # and load_study says why a folder of such files holds no study
    from hcc_imaging.io import load_study
    from hcc_imaging.io.errors import SeriesSelectionError

    with pytest.raises(SeriesSelectionError, match=r"holds no study: its 3 file\(s\) were skipped.*no StudyInstanceUID"):
        load_study(tmp_path / "a")
    with pytest.raises(ValueError, match="no PatientID and no StudyInstanceUID"):
        patient_key("", " ")
    assert not has_no_patient_id("noid-e3b0c44298fc1c14", "")


def test_export_does_not_match_a_read_to_images_without_patient_or_study_uid() -> None:
    """``export sr/seg`` checks the read's patient against the images' PatientID or their study's
    ``noid-`` key.  Images with neither had key ``noid-e3b0c44298fc1c14``, the one every such object
    got, so a read keyed so (of any other study without ids) was accepted over them; now it is refused
    with the fix, unless --link-patient says they are the read's patient's."""
    from hcc_imaging.commands.export import _same_patient
    from hcc_imaging.errors import HccImagingError
    from hcc_imaging.volume import Volume

    vol = Volume.create(np.zeros((2, 3, 3), np.int16), spacing=(1.0, 1.0, 1.0), series_instance_uid="1.9.1",
                        meta={"patient_id": ""})
    assert not vol.study_instance_uid
    with pytest.raises(HccImagingError, match="neither a PatientID nor a StudyInstanceUID.*--link-patient"):
        _same_patient("noid-e3b0c44298fc1c14", {"BL": vol}, link=False)
    _same_patient("noid-e3b0c44298fc1c14", {"BL": vol}, link=True)

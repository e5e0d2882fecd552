"""Index and loader on damaged or mixed archives: two patients under one SeriesInstanceUID, unreadable
end slices, damaged / encrypted zips, broken symbolic links, one-frame enhanced objects."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from hcc_imaging.cli import main
from hcc_imaging.io import index_archive, load_series
from hcc_imaging.io.errors import SeriesSelectionError

from ._synth import write_series


def _values(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 100, (n, 8, 8)).astype(np.uint16)


# ---------------------------------------------------------------------------------------------
# 1. Two patients' files under one SeriesInstanceUID
# ---------------------------------------------------------------------------------------------
def _two_patients_one_series_uid(root: Path) -> str:
    uid = generate_uid()
    write_series(root / "PA", _values(5), origin=(0, 0, 0), spacing=(2.0, 0.7, 0.8), series_uid=uid,
                 extra={"PatientID": "PA"})
    write_series(root / "PB", _values(5, 1), origin=(0, 0, 10), spacing=(2.0, 0.7, 0.8), series_uid=uid,
                 extra={"PatientID": "PB"})
    return uid


def test_two_patients_sharing_a_series_uid_are_two_series_with_a_problem(tmp_path: Path) -> None:
    uid = _two_patients_one_series_uid(tmp_path)
    idx = index_archive(tmp_path)
    assert [p.patient_id for p in idx.patients] == ["PA", "PB"]
    assert [s.n_instances for s in idx.series] == [5, 5]
    for s in idx.series:
        assert s.series_instance_uid == uid
        assert any(f"SeriesInstanceUID {uid} is carried by the files of 2 different patients" in p
                   and "patient PA" in p and "patient PB" in p for p in s.problems)
        # each loads as its own patient's 5 slices, never 10
        v = load_series(s)
        assert v.shape == (5, 8, 8) and v.meta["patient_id"] == s.patient_id
    with pytest.raises(SeriesSelectionError, match="2 different patients"):
        idx.find_series(uid)


def test_load_series_refuses_two_patients_under_one_series_uid(tmp_path: Path) -> None:
    uid = _two_patients_one_series_uid(tmp_path)
    for source in (tmp_path, sorted(tmp_path.rglob("*.dcm"))):
        with pytest.raises(SeriesSelectionError, match=r"2 different patients/studies.*never\s+stacked") as ei:
            load_series(source)
        assert "patient PA: 5 file(s)" in str(ei.value) and "patient PB: 5 file(s)" in str(ei.value)
        assert "Synthetic" not in str(ei.value)  # never a patient name
    with pytest.raises(SeriesSelectionError, match="2 different patients"):
        load_series(tmp_path, series_uid=uid)
    assert load_series(tmp_path / "PB").meta["patient_id"] == "PB"


def test_cli_load_refuses_two_patients_under_one_series_uid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _two_patients_one_series_uid(tmp_path)
    assert main(["load", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "2 different patients" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# 3. A damaged or password-protected zip in an archive folder
# ---------------------------------------------------------------------------------------------
def _zip_of(files: list[Path], z: Path) -> None:
    import zipfile

    z.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in files:
            zf.write(f, "ct/" + f.name)


def _damage_second_member(z: Path) -> None:
    b = bytearray(z.read_bytes())
    i = b.find(b"DICM", 200)  # the second member's preamble marker
    b[i + 600] ^= 0xFF  # one bad byte in its data: a CRC error when read
    z.write_bytes(bytes(b))


def test_damaged_zip_member_is_skipped_and_the_archive_indexed(tmp_path: Path) -> None:
    arc = tmp_path / "archive"
    write_series(arc / "P1" / "ct", _values(5), extra={"PatientID": "P1"})
    fs = write_series(tmp_path / "src2", _values(5, 1), extra={"PatientID": "P2"})
    z = arc / "P2" / "P2.zip"
    _zip_of(fs, z)
    _damage_second_member(z)
    idx = index_archive(arc)
    assert [p.patient_id for p in idx.patients] == ["P1", "P2"]
    bad = [s for s in idx.skipped if "::" in s.path]
    assert len(bad) == 1 and bad[0].path.endswith("P2.zip::ct/slice_001.dcm")
    assert "damaged in its zip, a CRC error" in bad[0].reason and "unzip -t" in bad[0].reason
    assert idx.patients[1].studies[0].series[0].n_instances == 4
    # load_series on the zip: the member is skipped too (here a gap, named in the error)
    with pytest.raises(Exception, match="CRC error") as ei:
        load_series(z)
    assert type(ei.value).__name__ == "SliceSpacingError"


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip command (zip -P: a password-protected zip)")
def test_encrypted_zip_is_skipped_whole_and_the_archive_indexed(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    arc = tmp_path / "archive"
    write_series(arc / "P1" / "ct", _values(5), extra={"PatientID": "P1"})
    fs = write_series(tmp_path / "src3", _values(5, 1), extra={"PatientID": "P3"})
    z = arc / "P3" / "P3.zip"
    z.parent.mkdir(parents=True)
    subprocess.run(["zip", "-q", "-P", "secret", "-j", str(z), *map(str, fs)], check=True)
    idx = index_archive(arc)
    assert [p.patient_id for p in idx.patients] == ["P1"]
    assert [(s.path, s.reason.split(":")[0]) for s in idx.skipped] == [(str(z), "zip that cannot be read")]
    assert "encrypted (password-protected" in idx.skipped[0].reason
    assert "extract it with its password first" in idx.skipped[0].reason
    assert main(["index", str(arc)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    # load_series on the zip says why nothing was found (it said "0 file(s) skipped as not DICOM")
    with pytest.raises(SeriesSelectionError, match=r"1 file\(s\) skipped .*P3\.zip: zip that cannot be read: encrypted"):
        load_series(z)


def _mark_encrypted(z: Path, name: str) -> None:
    """Set the password-protected flag (bit 0) of member ``name`` in its local and central headers."""
    b = bytearray(z.read_bytes())
    for sig, flags_at, len_at, name_at in ((b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)):
        i = b.find(sig)
        while i >= 0:
            (n,) = struct.unpack_from("<H", b, i + len_at)
            if bytes(b[i + name_at:i + name_at + n]) == name.encode():
                (flags,) = struct.unpack_from("<H", b, i + flags_at)
                struct.pack_into("<H", b, i + flags_at, flags | 1)
            i = b.find(sig, i + 4)
    z.write_bytes(bytes(b))


def test_one_encrypted_member_among_readable_ones_is_skipped(tmp_path: Path) -> None:
    fs = write_series(tmp_path / "src", _values(5))
    z = tmp_path / "a.zip"
    _zip_of(fs, z)
    _mark_encrypted(z, "ct/slice_004.dcm")
    idx = index_archive(z)
    assert len(idx.series) == 1 and idx.series[0].n_instances == 4
    from hcc_imaging.io._unreadable import ENCRYPTED_MEMBER_REASON

    assert [(s.path, s.reason) for s in idx.skipped] == [(f"{z}::ct/slice_004.dcm", ENCRYPTED_MEMBER_REASON)]


# ---------------------------------------------------------------------------------------------
# 4. Broken symbolic links (an archive of links whose storage is not mounted)
# ---------------------------------------------------------------------------------------------
def test_broken_symbolic_links_are_listed_as_skipped(tmp_path: Path) -> None:
    arc = tmp_path / "archive"
    write_series(arc / "P1", _values(4), extra={"PatientID": "P1"})
    missing = tmp_path / "nas_not_mounted"
    (arc / "P2").symlink_to(missing / "P2")  # a patient folder on storage that is not mounted
    (arc / "P3").mkdir()
    (arc / "P3" / "IM0001.dcm").symlink_to(missing / "P3" / "IM0001.dcm")  # a file link
    idx = index_archive(arc)
    assert [p.patient_id for p in idx.patients] == ["P1"]
    got = {Path(s.path).relative_to(arc).as_posix(): s.reason for s in idx.skipped}
    assert set(got) == {"P2", "P3/IM0001.dcm"}
    assert got["P2"].startswith(f"broken symbolic link to {missing / 'P2'}: ")
    assert "is its storage mounted?" in got["P3/IM0001.dcm"]
    from hcc_imaging.errors import SourceNotFoundError

    with pytest.raises(SourceNotFoundError, match="broken symbolic link to .*is its storage mounted"):
        index_archive(arc / "P2")  # the source itself a broken link


def test_batch_index_lists_broken_links_and_damaged_zip_members(tmp_path: Path) -> None:
    """The batch's sharded index (what skipped.csv is written from) gets them too, and goes on."""
    from hcc_imaging.batch.pipeline import PipelineOptions, index_sharded

    arc = tmp_path / "archive"
    write_series(arc / "P1", _values(4), extra={"PatientID": "P1"})
    (arc / "P2").symlink_to(tmp_path / "nas_not_mounted" / "P2")
    fs = write_series(tmp_path / "src3", _values(5, 1), extra={"PatientID": "P3"})
    _zip_of(fs, arc / "P3" / "P3.zip")
    _damage_second_member(arc / "P3" / "P3.zip")
    skipped: list = []
    tasks = index_sharded(arc, PipelineOptions(), 2, skipped=skipped)
    assert sorted(t.patient_id for t in tasks) == ["P1", "P3"]
    reasons = {s.path.replace(str(arc), ""): s.reason for s in skipped}
    assert reasons["/P2"].startswith("broken symbolic link to ")
    assert "CRC error" in reasons["/P3/P3.zip::ct/slice_001.dcm"]


# ---------------------------------------------------------------------------------------------
# 2. Unreadable files at the ends of a series
# ---------------------------------------------------------------------------------------------
def _series_with_unreadable_ends(folder: Path) -> list[Path]:
    fs = write_series(folder, _values(10), spacing=(2.0, 0.7, 0.8))
    fs[-1].write_bytes(fs[-1].read_bytes()[:400])  # top slice: a copy cut short in its header
    fs[0].write_bytes(b"")  # bottom slice: a 0-byte file
    return fs


def test_unreadable_end_slices_are_noted_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fs = _series_with_unreadable_ends(tmp_path / "s")
    (tmp_path / "s" / "notes.txt").write_text("not an image")  # plainly not DICOM: not counted
    with caplog.at_level("WARNING", logger="hcc_imaging.io.series"):
        v = load_series(tmp_path / "s")
    assert v.shape[0] == 8
    notes = [p for p in v.meta["problems"] if "could not be read" in p]
    assert len(notes) == 1
    assert notes[0].startswith("2 file(s) beside the series could not be read and were skipped (e.g. ")
    assert fs[0].name in notes[0] and "empty file (0 bytes)" in notes[0] and fs[-1].name in notes[0]
    assert "short of them at its ends" in notes[0] and "notes.txt" not in notes[0]
    assert any(fs[0].name in r.getMessage() and "could not be read" in r.getMessage() for r in caplog.records)
    # the index lists both with their reasons
    reasons = {Path(s.path).name: s.reason for s in index_archive(tmp_path / "s").skipped}
    assert reasons[fs[0].name].startswith("empty file (0 bytes)")
    assert reasons[fs[-1].name].startswith("truncated")


def test_a_whole_series_notes_nothing(tmp_path: Path) -> None:
    write_series(tmp_path / "s", _values(4))
    (tmp_path / "s" / "notes.txt").write_text("not an image")
    assert not any("could not be read" in p for p in load_series(tmp_path / "s").meta["problems"])


def test_cli_load_shows_unreadable_end_slices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fs = _series_with_unreadable_ends(tmp_path / "s")
    assert main(["load", str(tmp_path / "s"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "2 file(s) beside the series could not be read" in out and fs[0].name in out


# ---------------------------------------------------------------------------------------------
# 5. Enhanced CT with one frame (geometry in the functional groups)
# ---------------------------------------------------------------------------------------------
def _one_frame_enhanced(shared_data: Path, out: Path, frame: int = 1, z: float | None = None) -> Path:
    import copy

    import pydicom

    src = pydicom.dcmread(shared_data / "pydicom_testfiles" / "eCT_Supplemental.dcm")
    one = copy.deepcopy(src)
    one.NumberOfFrames = 1
    per_frame = copy.deepcopy(src.PerFrameFunctionalGroupsSequence[frame])
    one.PerFrameFunctionalGroupsSequence = pydicom.Sequence([per_frame])
    one.PixelData = src.pixel_array[frame].tobytes()
    one.SOPInstanceUID = generate_uid()
    one.file_meta.MediaStorageSOPInstanceUID = one.SOPInstanceUID
    if z is not None:
        one.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient = [99.5, -301.5, z]
    out.parent.mkdir(parents=True, exist_ok=True)
    one.save_as(out)
    return out


def test_one_frame_enhanced_ct_loads_with_its_functional_group_geometry(shared_data: Path, tmp_path: Path) -> None:
    import pydicom

    f = _one_frame_enhanced(shared_data, tmp_path / "one" / "e.dcm")
    v = load_series(f)
    ds = pydicom.dcmread(f)
    ipp = [float(x) for x in ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient]
    shared = ds.SharedFunctionalGroupsSequence[0]
    ps = [float(x) for x in shared.PixelMeasuresSequence[0].PixelSpacing]
    iop = [float(x) for x in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    pvt = shared.PixelValueTransformationSequence[0]
    hu = ds.pixel_array.astype(float) * float(pvt.RescaleSlope) + float(pvt.RescaleIntercept)
    assert v.shape == (1, 512, 512)
    assert v.origin == pytest.approx(ipp) and list(v.spacing[1:]) == pytest.approx(ps)
    assert v.geometry.direction[:, 2] == pytest.approx(iop[:3]) and v.geometry.direction[:, 1] == pytest.approx(iop[3:])
    assert np.array_equal(v.array[0].astype(float), hu)
    # the same frame as the original 2-frame object gives it
    two = load_series(shared_data / "pydicom_testfiles" / "eCT_Supplemental.dcm")
    assert np.array_equal(v.array[0], two.array[list(two.meta["source_frames"]).index(1)])
    s = index_archive(tmp_path / "one").series[0]
    assert not any("lack a valid" in p for p in s.problems)
    assert s.geometry.orientation_label == "axial" and s.geometry.pixel_spacing_mm == pytest.approx(tuple(ps))


def test_series_of_one_frame_enhanced_ct_files(shared_data: Path, tmp_path: Path) -> None:
    zs = [-159.0 + 10 * k for k in range(4)]
    for k, z in enumerate(zs):
        _one_frame_enhanced(shared_data, tmp_path / "s" / f"f{k}.dcm", z=z)
    v = load_series(tmp_path / "s")
    assert v.shape == (4, 512, 512) and v.spacing[0] == pytest.approx(10.0)
    # slice order along the normal (here -z): the highest z first, as SimpleITK / pydicom positions give
    assert v.origin[2] == pytest.approx(max(zs))
    assert [Path(p).name for p in v.meta["source_files"]] == ["f3.dcm", "f2.dcm", "f1.dcm", "f0.dcm"]
    s = index_archive(tmp_path / "s").series[0]
    assert s.problems == () and s.geometry.n_positions == 4 and s.geometry.slice_spacing_mm == pytest.approx(10.0)


def test_functional_groups_are_read_only_where_they_are() -> None:
    from hcc_imaging.io._dicomparse import InstanceHeader
    from hcc_imaging.io._enhanced import has_functional_groups

    ct = "1.2.840.10008.5.1.4.1.1.2"
    plain = InstanceHeader("a.dcm", sop_class_uid=ct, rows=8, columns=8, has_pixel_data=True,
                           image_position_patient=(0.0, 0.0, 0.0))
    assert not has_functional_groups(plain)  # an ordinary slice: no extra read
    assert not has_functional_groups(InstanceHeader("b.dcm", sop_class_uid=ct, number_of_frames=1, rows=8, columns=8,
                                                    has_pixel_data=True, image_position_patient=(0.0, 0.0, 0.0)))
    enhanced_ct = "1.2.840.10008.5.1.4.1.1.2.1"
    assert has_functional_groups(InstanceHeader("c.dcm", sop_class_uid=enhanced_ct, number_of_frames=1))
    assert has_functional_groups(InstanceHeader("d.dcm", sop_class_uid="1.2.9.9", number_of_frames=1, rows=8,
                                                columns=8, has_pixel_data=True))
    assert has_functional_groups(InstanceHeader("e.dcm", sop_class_uid=ct, number_of_frames=3))

"""``hcc-imaging export ...``: in-process runs of every kind, errors, one subprocess run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from hcc_imaging.cli import main

from .conftest import ASSESSMENT, PHI, lesion_labels, read_document


@pytest.fixture
def files(tmp_path: Path, ct) -> dict[str, Path]:
    r = tmp_path / "read.json"
    r.write_text(json.dumps(read_document()))
    a = tmp_path / "assess.json"
    a.write_text(json.dumps(ASSESSMENT))
    labels, viable = lesion_labels(ct.volume)
    from hcc_imaging.io.masks import save_mask

    lab = save_mask(labels, tmp_path / "labels.nii.gz")
    via = save_mask(viable, tmp_path / "viable.nii.gz")
    return {"read": r, "assess": a, "ct": ct.files[0].parent, "labels": lab, "viable": via}


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_cli_seg_then_sr_then_import(tmp_path: Path, files, capsys, ct) -> None:
    out = tmp_path / "out"
    assert main(["export", "seg", "--image", str(files["ct"]), "--labels", str(files["labels"]),
                 "--viable", str(files["viable"]), "--read", str(files["read"]), "--out", str(out / "seg.dcm"), "--json"]) == 0
    seg = _json(capsys)
    assert seg["segments"] == {"L1": 1, "L1 viable": 2, "L2": 3}
    ds = pydicom.dcmread(seg["seg"])
    assert ds.SegmentSequence[0].TrackingUID == "1.2.826.0.1.3680043.8.498.1001"  # from the read
    assert main(["export", "sr", str(files["read"]), "--out", str(out / "sr.dcm"), "--assessment", str(files["assess"]),
                 "--images", f"BL={files['ct']}", "--seg", f"BL={seg['seg']}", "--timepoints", "BL", "--json"]) == 0
    sr = _json(capsys)
    assert sr["lesion_groups"] == 3
    assert main(["export", "import-sr", sr["sr"], "--out", str(out / "back.json"), "--json"]) == 0
    imp = _json(capsys)
    la = [r for r in imp["records"] if r["tracking_identifier"] == "L1" and "Long Axis" in r["concept"]]
    assert la[0]["value"] == 16.0 and la[0]["unit"] == "mm"
    back = json.loads((out / "back.json").read_text())
    np.testing.assert_allclose(back["timepoints"][0]["lesions"][0]["endpoints"]["long"],
                               [[-12.0, -0.8, -97.5], [4.0, -0.8, -97.5]], atol=1e-4)
    assert main(["export", "import-sr", sr["sr"]]) == 0
    assert "measurement group(s)" in capsys.readouterr().out


def test_cli_tables_sdtm_report_with_criteria(tmp_path: Path, files, capsys) -> None:
    assert main(["export", "csv", str(files["read"]), "--out", str(tmp_path / "t"), "--criteria", "recist1.1,mrecist",
                 "--format", "csv", "--json"]) == 0
    t = _json(capsys)
    resp = pd.read_csv(t["responses"]["csv"])
    assert set(resp.criterion) == {"RECIST1.1", "mRECIST"}
    assert main(["export", "sdtm", str(files["read"]), "--out", str(tmp_path / "s"), "--assessment", str(files["assess"]),
                 "--studyid", "TRIAL-7", "--json"]) == 0
    s = _json(capsys)
    assert set(pd.read_csv(s["rs"]).STUDYID) == {"TRIAL-7"}
    assert main(["export", "report", str(files["read"]), "--out", str(tmp_path / "r.html"),
                 "--assessment", str(files["assess"]), "--images", str(files["ct"])]) == 0
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert main(["export", "report", str(files["read"]), str(files["read"]), "--out", str(tmp_path / "c.html"),
                 "--assessment", str(files["assess"]), "--assessment", str(files["assess"])]) == 0
    assert "Cohort response report" in (tmp_path / "c.html").read_text()


def test_cli_deidentify_keeps_map_outside(tmp_path: Path, files, capsys) -> None:
    keys = tmp_path / "keys" / "map.json"
    assert main(["export", "csv", str(files["read"]), "--out", str(tmp_path / "t"), "--deidentify",
                 "--pseudonym-map", str(keys)]) == 0
    assert keys.exists()
    les = pd.read_csv(tmp_path / "t" / "lesions.csv")
    assert set(les.patient_id) == {"HCC-0001"}
    # the same map, a second export: the same pseudonym and dates
    assert main(["export", "sdtm", str(files["read"]), "--out", str(tmp_path / "s"), "--deidentify",
                 "--pseudonym-map", str(keys)]) == 0
    tu = pd.read_csv(tmp_path / "s" / "tu.csv")
    assert set(tu.USUBJID) == {"HCCIMG-HCC-0001"}
    assert set(tu.TUDTC) == {les.timepoint_date.iloc[0]}


@pytest.mark.parametrize(
    ("kind", "blocker", "written"),
    [
        pytest.param("csv", "reads", "lesions.csv", id="csv-reads-folder-is-a-file"),
        pytest.param("sdtm", "rs.csv/", "tu.csv", id="sdtm-rs-is-a-folder"),
        pytest.param("report", "report_HCC-0001.html/", None, id="report-target-is-a-folder"),
    ],
)
def test_the_map_is_saved_when_an_export_stops_half_way(tmp_path: Path, files, capsys, kind: str, blocker: str,
                                                         written: str | None) -> None:
    """``export csv|sdtm|report --deidentify`` saved the pseudonym map only on success: stopped
    half-way, the files written (lesions.csv, tu.csv) carried pseudonyms no map related to anyone."""
    out, keys = tmp_path / "out", tmp_path / "keys" / "map.json"
    out.mkdir()
    (out / blocker.rstrip("/")).mkdir() if blocker.endswith("/") else (out / blocker).write_text("in the way")
    argv = ["export", kind, str(files["read"]), "--out", str(out) + "/", "--assessment", str(files["assess"]),
            "--deidentify", "--pseudonym-map", str(keys)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Traceback" not in err
    assert keys.exists(), "the map of a half-written export was lost"
    pseudonyms = json.loads(keys.read_text())["patients"]
    assert pseudonyms[PHI["PatientID"]]["pseudonym"] == "HCC-0001"
    if written:  # what was written before the stop carries the saved pseudonym
        df = pd.read_csv(out / written, keep_default_na=False)
        assert {v.removeprefix("HCCIMG-") for v in df.get("patient_id", df.get("USUBJID"))} == {"HCC-0001"}
    # the same map again, once out of the way: the same pseudonym
    (out / blocker.rstrip("/")).rmdir() if blocker.endswith("/") else (out / blocker).unlink()
    assert main(argv) == 0
    assert json.loads(keys.read_text())["patients"] == pseudonyms


@pytest.mark.parametrize("kind", ["csv", "sdtm", "report"])
def test_a_map_inside_the_export_is_refused_and_never_written_there(tmp_path: Path, files, capsys, kind: str) -> None:
    """The map is saved whatever happens: never when it is inside the export (refused first)."""
    out = tmp_path / "out"
    keys = out / "map.json"
    assert main(["export", kind, str(files["read"]), "--out", str(out) + "/", "--deidentify",
                 "--pseudonym-map", str(keys)]) == 2
    assert "inside the export folder" in capsys.readouterr().err
    assert not keys.exists() and not any(out.rglob("*.*"))


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        pytest.param(["export", "csv", "{read}", "--out", "{tmp}/t", "--deidentify", "--pseudonym-map", "{tmp}/t/m.json"],
                     "inside the export folder", id="map-inside-export"),
        pytest.param(["export", "csv", "{read}", "--out", "{tmp}/t", "--pseudonym-map", "{tmp}/m.json"],
                     "without --deidentify", id="map-without-deidentify"),
        pytest.param(["export", "csv", "{read}", "--out", "{tmp}/t", "--assessment", "{assess}", "--criteria", "recist1.1"],
                     "not both", id="assessment-and-criteria"),
        pytest.param(["export", "csv", "{read}", "{read}", "--out", "{tmp}/t", "--assessment", "{assess}"],
                     "one per read", id="assessment-count"),
        pytest.param(["export", "csv", "{tmp}/nope.json", "--out", "{tmp}/t"], "cannot read read document", id="missing-read"),
        pytest.param(["export", "sr", "{read}", "--out", "{tmp}/x.dcm", "--images", "{ct}"], "ambiguous", id="images-without-tp"),
        pytest.param(["export", "sr", "{read}", "--out", "{tmp}/x.dcm", "--images", "XX={ct}"], "no time point 'XX'", id="unknown-tp"),
        pytest.param(["export", "report", "{read}", "{read}", "--out", "{tmp}/c.html", "--images", "{ct}"],
                     "one-patient report", id="cohort-with-images"),
        pytest.param(["export", "sdtm", "{read}", "--out", "{tmp}/s", "--studyid", "a b"], "STUDYID", id="bad-studyid"),
        pytest.param(["export", "sdtm", "{read}", "--out", "{tmp}/s", "--studyid", "ÉTUDE-1"], "ASCII",
                     id="non-ascii-studyid"),
    ],
)
def test_cli_errors(tmp_path: Path, files, capsys, argv: list[str], match: str) -> None:
    sub = {"{read}": str(files["read"]), "{assess}": str(files["assess"]), "{ct}": str(files["ct"]), "{tmp}": str(tmp_path)}
    args = []
    for a in argv:
        for k, v in sub.items():
            a = a.replace(k, v)
        args.append(a)
    assert main(args) == 2
    assert match in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["", ",", " , ", "xlsx", "csv,xlsx"])
def test_cli_csv_format_must_name_csv_or_parquet(tmp_path: Path, files, capsys, fmt: str) -> None:
    """``--format ""`` wrote no table (only reads/*.json) and exited 0: a usage error naming the
    option and the allowed values, and nothing written."""
    out = tmp_path / "t"
    assert main(["export", "csv", str(files["read"]), "--out", str(out), "--format", fmt]) == 2
    err = capsys.readouterr().err
    assert "--format" in err and "csv, parquet" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["export", "csv", str(files["read"]), "--out", str(out), "--format", " CSV , csv"]) == 0
    assert sorted(p.name for p in out.glob("*.*")) == ["lesions.csv", "responses.csv", "summary.csv"]


def test_cli_csv_rerun_with_fewer_reads_sets_aside_the_earlier_reads(tmp_path: Path, capsys, caplog) -> None:
    reads = []
    for pid in ("P1", "P2"):
        reads.append(tmp_path / f"{pid}.json")
        reads[-1].write_text(json.dumps(read_document(pid)))
    out = tmp_path / "t"
    assert main(["export", "csv", *map(str, reads), "--out", str(out), "--format", "csv", "--json"]) == 0
    assert "stale" not in _json(capsys)
    with caplog.at_level("WARNING"):  # (the command's log goes to stderr)
        assert main(["export", "csv", str(reads[0]), "--out", str(out), "--format", "csv", "--json"]) == 0
    result = _json(capsys)
    assert [Path(p).name for p in result["reads"]] == ["P1.json"]
    ((top, _stamp, *rest),) = [Path(p).relative_to(out).parts for p in result["stale"]]
    assert (top, rest) == ("stale", ["reads", "P2.json"])
    assert "moved to" in caplog.text and "P2.json" in caplog.text
    assert sorted(p.name for p in (out / "reads").iterdir()) == ["P1.json"]


def test_cli_subprocess_csv(tmp_path: Path, files) -> None:
    env = dict(os.environ)
    r = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "export", "csv", str(files["read"]), "--out", str(tmp_path / "t"),
         "--assessment", str(files["assess"]), "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    df = pd.read_parquet(out["lesions"]["parquet"])
    assert np.isclose(df.longest_diameter_mm.dropna().astype(float).sum(), 16 + 11 + 12 + 10)


def test_cli_images_share_uids_with_seg(tmp_path: Path, files, capsys, ct) -> None:
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "m.json")]
    assert main(["export", "seg", "--image", str(files["ct"]), "--labels", str(files["labels"]),
                 "--out", str(tmp_path / "out" / "seg.dcm"), "--json", *keys]) == 0
    seg = pydicom.dcmread(_json(capsys)["seg"])
    assert main(["export", "images", str(files["ct"]), "--out", str(tmp_path / "out" / "ct"), "--json", *keys]) == 0
    assert _json(capsys)["images"] == len(ct.files)
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in (tmp_path / "out" / "ct").iterdir()}
    refs = {i.ReferencedSOPInstanceUID for s in seg.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence}
    assert refs and refs <= uids
    assert main(["export", "sr", str(files["read"]), "--images", f"BL={files['ct']}", "--seg",
                 f"BL={tmp_path / 'out' / 'seg.dcm'}", "--timepoints", "BL", "--final",
                 "--out", str(tmp_path / "out" / "sr.dcm"), *keys]) == 0
    capsys.readouterr()
    sr = pydicom.dcmread(tmp_path / "out" / "sr.dcm")
    ev = {i.ReferencedSOPInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
          for se in s.ReferencedSeriesSequence for i in se.ReferencedSOPSequence}
    assert ev == uids | {seg.SOPInstanceUID}
    assert sr.PreliminaryFlag == "FINAL" and sr.StudyInstanceUID == seg.StudyInstanceUID
    assert main(["export", "images", str(files["ct"]), "--out", str(tmp_path / "x")]) == 2
    assert "add --deidentify" in capsys.readouterr().err


def test_a_read_over_another_patients_images_is_refused_unless_linked(tmp_path: Path, files, capsys) -> None:
    """``export sr READ --images BL=DIR`` filed the read of one patient under the images' PatientID
    (another patient) without a word; ``export seg --read`` took its tracking UIDs.  Both are refused
    now, naming the two patients; ``--link-patient`` says the read's id is a pseudonym of the images'
    patient."""
    doc = json.loads(files["read"].read_text())
    doc["patient_id"] = "OTHER-PATIENT-9"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    sr = ["export", "sr", str(other), "--images", f"BL={files['ct']}", "--timepoints", "BL", "--out", str(tmp_path / "sr.dcm")]
    seg = ["export", "seg", "--image", str(files["ct"]), "--labels", str(files["labels"]), "--read", str(other),
           "--out", str(tmp_path / "seg.dcm")]
    for args in (sr, seg):
        assert main(args) == 2
        assert "the read is of patient 'OTHER-PATIENT-9'" in capsys.readouterr().err
        assert not Path(args[-1]).exists()
        assert main([*args, "--link-patient"]) == 0
        capsys.readouterr()
        assert Path(args[-1]).exists()


def test_no_patient_name_on_stderr_or_in_warnings(tmp_path: Path, files, capsys) -> None:
    """highdicom warns about a one-component PatientName, and its warning text is the name: `export
    seg`, `export sr` and `segment --out x.dcm` (save_mask to a SEG) printed it on stderr."""
    import warnings

    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import save_mask

    name = "Doejanesingle"
    for f in Path(files["ct"]).iterdir():
        ds = pydicom.dcmread(f)
        ds.PatientName = name
        ds.save_as(f)
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["export", "seg", "--image", str(files["ct"]), "--labels", str(files["labels"]),
                     "--out", str(out / "seg.dcm")]) == 0
        assert main(["export", "sr", str(files["read"]), "--out", str(out / "sr.dcm"), "--images", f"BL={files['ct']}",
                     "--timepoints", "BL"]) == 0
        vol = load_series(files["ct"])
        labels, _ = lesion_labels(vol)
        save_mask(labels, out / "mask.dcm", reference=vol)  # what `segment --out x.dcm` calls
        warnings.warn("other warnings still show", UserWarning)
    assert pydicom.dcmread(out / "seg.dcm").PatientName == name  # (not de-identified: the name is in the file)
    assert not [str(w.message) for w in caught if name in str(w.message)]
    assert [str(w.message) for w in caught] == ["other warnings still show"]
    assert name not in capsys.readouterr().err


def test_cli_images_skips_dicomdir_and_objects_without_sop_instance_uid(tmp_path: Path, files, capsys) -> None:
    """`export images` on a folder with a DICOMDIR or a DICOM file without SOPInstanceUID ended in
    an AttributeError traceback; they are skipped, named in a warning and counted."""
    from pydicom.dataset import FileDataset, FileMetaDataset

    src = tmp_path / "src"
    src.mkdir()
    for f in Path(files["ct"]).iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    dicomdir = FileDataset(str(src / "DICOMDIR"), {}, file_meta=meta, preamble=b"\0" * 128)
    dicomdir.FileSetID = "SET"
    dicomdir.DirectoryRecordSequence = []
    dicomdir.save_as(src / "DICOMDIR", enforce_file_format=True)
    no_uid = pydicom.dcmread(src / "ct_000.dcm")
    del no_uid.SOPInstanceUID
    no_uid.save_as(src / "no_uid.dcm")
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "map.json")]
    assert main(["export", "images", str(src), "--out", str(tmp_path / "share"), "--json", *keys]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert res["images"] == 6 and res["skipped"] == 2
    assert "DICOMDIR" in captured.err and "no_uid.dcm" in captured.err
    assert len(list((tmp_path / "share").iterdir())) == 6
    only = tmp_path / "only"
    only.mkdir()
    for name in ("DICOMDIR", "no_uid.dcm"):
        (only / name).write_bytes((src / name).read_bytes())
    assert main(["export", "images", str(only), "--out", str(tmp_path / "share2"), *keys]) == 2
    captured = capsys.readouterr()
    assert "skipped: 2" in captured.out
    assert "DICOMDIR" in captured.err and "no_uid.dcm" in captured.err and "no image copied" in captured.err


def test_cli_images_skips_an_object_without_sop_class_uid_and_keeps_the_map(tmp_path: Path, files, capsys) -> None:
    """A DICOM file without SOPClassUID stopped `export images --deidentify` with an AttributeError
    after the copies before it were written, and no pseudonym map was saved: those copies (new
    UIDs, shifted dates) could never be related to their originals again.  It is skipped and
    named, the other copies are written, and the map relates every copy to its original."""
    src = tmp_path / "src"
    src.mkdir()
    originals = sorted(Path(files["ct"]).iterdir())
    for f in originals:
        (src / f.name).write_bytes(f.read_bytes())
    bad = pydicom.dcmread(src / originals[0].name)
    del bad.SOPClassUID
    del bad.file_meta.MediaStorageSOPClassUID
    bad.SOPInstanceUID = bad.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.99"
    bad.save_as(src / "zz_no_class.dcm", enforce_file_format=False)
    map_path = tmp_path / "keys" / "map.json"
    keys = ["--deidentify", "--pseudonym-map", str(map_path)]
    assert main(["export", "images", str(src), "--out", str(tmp_path / "share"), "--json", *keys]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert res["images"] == len(originals) and res["skipped"] == 1
    assert "zz_no_class.dcm" in captured.err and "no SOPClassUID" in captured.err
    uids = json.loads(map_path.read_text(encoding="utf-8"))["uids"]
    for f in originals:
        new = uids[str(pydicom.dcmread(f).SOPInstanceUID)]
        assert (tmp_path / "share" / f"{new}.dcm").is_file()
    assert len(list((tmp_path / "share").iterdir())) == len(originals)


def test_cli_report_out_folder(tmp_path: Path, files, capsys) -> None:
    """`export report --out FOLDER` raised IsADirectoryError, and `--out new/` (not existing) wrote
    a file named `new`: a folder gets report_<patient>.html or cohort_report.html."""
    folder = tmp_path / "existing"
    folder.mkdir()
    a = ["--assessment", str(files["assess"])]
    assert main(["export", "report", str(files["read"]), "--out", str(folder), *a, "--json"]) == 0
    assert _json(capsys)["report"] == str(folder / "report_MRN-778899.html")
    assert "<html" in (folder / "report_MRN-778899.html").read_text().lower()
    new = tmp_path / "new"
    assert main(["export", "report", str(files["read"]), str(files["read"]), "--out", f"{new}/", *a, *a]) == 0
    assert new.is_dir() and "Cohort response report" in (new / "cohort_report.html").read_text()
    # de-identified: the file is named by the pseudonym, never by the patient id
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "map.json")]
    share = tmp_path / "share"
    assert main(["export", "report", str(files["read"]), "--out", f"{share}/", *a, *keys]) == 0
    assert [p.name for p in share.iterdir()] == ["report_HCC-0001.html"]


def test_cli_criteria_all(tmp_path: Path, files, capsys) -> None:
    """`export ... --criteria all` failed ("unknown response criterion 'all'"); it is every
    criterion, as for `assess`."""
    from hcc_imaging.response.engine import ALL_CRITERIA

    doc = read_document()
    for tp in doc["timepoints"]:  # EASL needs every viable short axis
        for les in tp["lesions"]:
            if les.get("viable_diameter_mm") is not None:
                les.setdefault("viable_short_axis_mm", les["viable_diameter_mm"])
    read = tmp_path / "read_all.json"
    read.write_text(json.dumps(doc))
    assert main(["export", "csv", str(read), "--out", str(tmp_path / "t"), "--criteria", "all",
                 "--format", "csv", "--json"]) == 0
    t = _json(capsys)
    assert set(pd.read_csv(t["summary"]["csv"]).criterion) == set(ALL_CRITERIA)
    assert main(["export", "report", str(read), "--out", str(tmp_path / "r.html"), "--criteria", "ALL"]) == 0
    for crit in ALL_CRITERIA:
        assert crit in (tmp_path / "r.html").read_text()


def test_cli_series_uid_chooses_the_series(tmp_path: Path, files, capsys) -> None:
    """A folder with two series: `export seg/sr/report` told the user to pass `series_uid=` (a
    Python keyword the command line did not have).  `--series-uid` chooses the series, and the
    error names the flag."""
    from .conftest import write_ct_series

    both = tmp_path / "both"
    first = write_ct_series(both / "a", seed=1)
    write_ct_series(both / "b", seed=2)
    labels, _ = lesion_labels(first.volume)
    from hcc_imaging.io.masks import save_mask

    lab = save_mask(labels, tmp_path / "labels_a.nii.gz")
    seg = ["export", "seg", "--image", str(both), "--labels", str(lab), "--out", str(tmp_path / "seg.dcm")]
    assert main(seg) == 2
    err = capsys.readouterr().err
    assert "holds 2 image series" in err and "On the command line: --series-uid UID" in err
    assert main([*seg, "--series-uid", first.series_uid]) == 0
    assert pydicom.dcmread(tmp_path / "seg.dcm").ReferencedSeriesSequence[0].SeriesInstanceUID == first.series_uid
    sr = ["export", "sr", str(files["read"]), "--out", str(tmp_path / "sr.dcm"), "--images", f"BL={both}",
          "--timepoints", "BL"]
    assert main(sr) == 2
    assert "--series-uid UID" in capsys.readouterr().err
    assert main([*sr, "--series-uid", f"BL={first.series_uid}", "--json"]) == 0
    assert _json(capsys)["lesion_groups"] == 3
    assert main([*sr, "--series-uid", f"FU1={first.series_uid}"]) == 2
    assert "no --images for time point 'FU1'" in capsys.readouterr().err
    assert main(["export", "report", str(files["read"]), "--out", str(tmp_path / "r.html"), "--images", str(both),
                 "--series-uid", first.series_uid, "--assessment", str(files["assess"])]) == 0
    assert (tmp_path / "r.html").read_text().count("data:image/png;base64,") == 3


def _sr_tracking(path: Path) -> dict[tuple[str, str], str]:
    """(lesion id, time point) -> Tracking UID of the SR's lesion measurement groups."""
    from hcc_imaging.export import read_sr

    return {(g.tracking_identifier, g.time_point): g.tracking_uid for g in read_sr(path).groups
            if g.tracking_identifier in {"L1", "L2", "N1"}}


def _seg_tracking(path: Path) -> dict[str, str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return {str(s.SegmentLabel): str(s.TrackingUID) for s in ds.SegmentSequence}


@pytest.mark.parametrize("deidentify", [False, True], ids=["plain", "deidentified"])
def test_one_lesion_one_tracking_uid_in_every_seg_sr_and_table(tmp_path: Path, capsys, deidentify: bool) -> None:
    """A read without tracking UIDs (as `demo` and `batch` write them), exported as `export seg`
    for each time point + `export sr --seg` + `export csv`: each SEG made new UIDs, the SR took the
    baseline SEG's, so every follow-up segment had another UID than the SR's group of the same
    lesion, and the CSV's tracking_uid was empty.  Now one lesion has one Tracking UID in both
    SEGs, every SR group and the table (TID 1500, PS3.3 C.8.20.2), de-identified too; the viable
    part's UID is the same in both SEGs."""
    from hcc_imaging.io.masks import save_mask

    from .conftest import write_ct_series

    bl = write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1)
    fu = write_ct_series(tmp_path / "ct_fu1", study_date="20240318", seed=2)
    doc = read_document()
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            les.pop("tracking_uid", None)
    read = tmp_path / "read.json"
    read.write_text(json.dumps(doc))
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "m.json")] if deidentify else []
    out = tmp_path / "out"
    segs = {}
    for tp, series in (("BL", bl), ("FU1", fu)):
        labels, viable = lesion_labels(series.volume)
        lab = save_mask(labels, tmp_path / f"labels_{tp}.nii.gz")
        via = save_mask(viable, tmp_path / f"viable_{tp}.nii.gz")
        segs[tp] = out / f"seg_{tp}.dcm"
        assert main(["export", "seg", "--image", str(series.files[0].parent), "--labels", str(lab), "--viable", str(via),
                     "--read", str(read), "--out", str(segs[tp]), *keys]) == 0
    assert main(["export", "sr", str(read), "--out", str(out / "sr.dcm"), "--assessment", _write_assessment(tmp_path),
                 "--images", f"BL={bl.files[0].parent}", "--images", f"FU1={fu.files[0].parent}",
                 "--seg", f"BL={segs['BL']}", "--seg", f"FU1={segs['FU1']}", *keys]) == 0
    assert main(["export", "csv", str(read), "--out", str(out / "tables"), "--format", "csv", *keys]) == 0
    capsys.readouterr()
    sr = _sr_tracking(out / "sr.dcm")
    seg_bl, seg_fu = _seg_tracking(segs["BL"]), _seg_tracking(segs["FU1"])
    table = pd.read_csv(out / "tables" / "lesions.csv")
    for lid in ("L1", "L2", "N1"):
        uids = {sr[(lid, "BL")], sr[(lid, "FU1")], *set(table[table.lesion_id == lid].tracking_uid)}
        if lid != "N1":  # (N1 has no segment)
            uids |= {seg_bl[lid], seg_fu[lid]}
        assert len(uids) == 1, (lid, uids)
        (uid,) = uids
        assert isinstance(uid, str) and uid.startswith("2.25." if deidentify else "2.")
    assert seg_bl["L1 viable"] == seg_fu["L1 viable"] != seg_bl["L1"]
    assert len(set(seg_bl.values())) == len(seg_bl)
    # the JSON read written with the tables carries them, so an export from it agrees
    (written,) = (out / "tables" / "reads").glob("*.json")
    again = json.loads(written.read_text())["read_document"]
    assert {les["lesion_id"]: les["tracking_uid"] for tp in again["timepoints"] for les in tp["lesions"]} == {
        lid: sr[(lid, "BL")] for lid in ("L1", "L2", "N1")}


def _batch_records() -> list[dict]:
    """Two study records of one patient, as ``run_study`` returns them (what the batch reads)."""
    def rec(uid: str, date: str, sizes: dict) -> dict:
        return {"patient_id": PHI["PatientID"], "study_instance_uid": uid, "study_date": date, "slice_thickness_mm": 2.5,
                "lesions": [{"lesion_id": lid, "longest_diameter_mm": ld, "short_axis_mm": sa, "volume_mm3": v}
                            for lid, (ld, sa, v) in sizes.items()]}

    return [rec("1.2.826.0.1.3680043.8.498.71", "20240115", {"L1": (16.0, 12.8, 1500.0), "L2": (11.0, 8.0, 300.0)}),
            rec("1.2.826.0.1.3680043.8.498.72", "20240318", {"L1": (12.0, 9.0, 800.0), "L2": (10.0, 7.0, 200.0)})]


def test_editing_the_reader_or_baseline_date_keeps_the_tracking_uids(tmp_path: Path, capsys) -> None:
    """A batch read recorded no tracking UIDs: every export derived them from the patient, the
    reader and the baseline date, so correcting the reader's name or the baseline date in the read
    gave every lesion another Tracking UID, unrelated to the SEGs and SR already sent.  The batch
    records each lesion's UID when it makes the read (the one the exports derived before), so the
    SEG and the SR of the corrected read carry the same UIDs."""
    from hcc_imaging.batch import build_read_document
    from hcc_imaging.export.model import as_export_read, derived_tracking_uid
    from hcc_imaging.io.masks import save_mask

    from .conftest import write_ct_series

    doc = build_read_document(_batch_records(), criteria=("recist1.1",)).to_json()
    bl = write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1)
    labels = save_mask(lesion_labels(bl.volume)[0], tmp_path / "labels.nii.gz")

    def exported(read: dict, name: str) -> tuple[dict, dict]:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(read))
        assert main(["export", "seg", "--image", str(bl.files[0].parent), "--labels", str(labels), "--read", str(path),
                     "--out", str(tmp_path / f"{name}_seg.dcm")]) == 0
        assert main(["export", "sr", str(path), "--out", str(tmp_path / f"{name}_sr.dcm")]) == 0
        capsys.readouterr()
        return _seg_tracking(tmp_path / f"{name}_seg.dcm"), _sr_tracking(tmp_path / f"{name}_sr.dcm")

    seg, sr = exported(doc, "sent")
    assert seg["L1"] == sr[("L1", "BL")] == sr[("L1", "FU1")] != seg["L2"]
    # the UIDs are the ones the exports derived for such a read before they were recorded
    bare = json.loads(json.dumps(doc))
    for tp in bare["timepoints"]:
        for les in tp["lesions"]:
            les.pop("tracking_uid", None)
    assert {lid: derived_tracking_uid(as_export_read(bare), lid) for lid in ("L1", "L2")} == {
        "L1": seg["L1"], "L2": seg["L2"]}
    for edit in ({"reader_id": "Dr. Smith"}, {"baseline_date": "2024-01-16"}):
        fixed = json.loads(json.dumps(doc))
        fixed["reader_id"] = edit.get("reader_id", fixed["reader_id"])
        fixed["timepoints"][0]["date"] = edit.get("baseline_date", fixed["timepoints"][0]["date"])
        assert (seg, sr) == exported(fixed, "corrected"), edit
        assert {les.lesion_id: les.tracking_uid for les in as_export_read(fixed).lesions} == {
            "L1": seg["L1"], "L2": seg["L2"]}


def _write_assessment(tmp_path: Path) -> str:
    p = tmp_path / "assess.json"
    p.write_text(json.dumps(ASSESSMENT))
    return str(p)


def test_images_or_seg_of_another_time_point_are_refused(tmp_path: Path, capsys) -> None:
    """`export sr --images BL=<FU1 CT> --images FU1=<BL CT>` (or `--seg BL=<FU1 SEG>`) exited 0 and
    placed each time point's lines on the other scan, the SR filed under the wrong study.  A time
    point whose date differs from its images' / SEG's StudyDate is refused, and so is a SEG drawn
    on another series than the time point's --images; the message names both and the flag."""
    from hcc_imaging.io.masks import save_mask

    from .conftest import write_ct_series

    bl = write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1)
    fu = write_ct_series(tmp_path / "ct_fu1", study_date="20240318", seed=2)
    other = write_ct_series(tmp_path / "ct_bl_other_series", study_date="20240115", seed=3)
    read = tmp_path / "read.json"
    read.write_text(json.dumps(read_document()))
    segs = {}
    for name, series in (("BL", bl), ("FU1", fu), ("other", other)):
        labels, _ = lesion_labels(series.volume)
        segs[name] = tmp_path / f"seg_{name}.dcm"
        assert main(["export", "seg", "--image", str(series.files[0].parent), "--labels",
                     str(save_mask(labels, tmp_path / f"l_{name}.nii.gz")), "--out", str(segs[name])]) == 0
    capsys.readouterr()
    sr = ["export", "sr", str(read), "--out", str(tmp_path / "sr.dcm")]
    img_bl, img_fu = f"{bl.files[0].parent}", f"{fu.files[0].parent}"
    cases = [
        (["--images", f"BL={img_fu}", "--images", f"FU1={img_bl}"],
         "--images BL=...: the images are of a study of 20240318 (the date of time point FU1), but time point 'BL'"),
        (["--images", f"BL={img_bl}", "--images", f"FU1={img_fu}", "--seg", f"BL={segs['FU1']}", "--seg", f"FU1={segs['BL']}"],
         "the SEG is of a study of 20240318 (the date of time point FU1), but time point 'BL' of the read is of 20240115"),
        (["--seg", f"FU1={segs['BL']}"], "--seg FU1="),  # a SEG alone: its date
        (["--images", f"BL={img_bl}", "--seg", f"BL={segs['other']}", "--timepoints", "BL"],
         f"was drawn on series {other.series_uid}, but --images BL is series {bl.series_uid}"),
    ]
    for extra, match in cases:
        assert main([*sr, *extra]) == 2, extra
        assert match in capsys.readouterr().err, extra
        assert not (tmp_path / "sr.dcm").exists()
    # the right ones, and a SEG de-identified with the same map as the SR, pass
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "m.json")]
    labels, _ = lesion_labels(bl.volume)
    assert main(["export", "seg", "--image", img_bl, "--labels", str(tmp_path / "l_BL.nii.gz"),
                 "--out", str(tmp_path / "share" / "seg.dcm"), *keys]) == 0
    assert main([*sr, "--images", f"BL={img_bl}", "--images", f"FU1={img_fu}", "--seg", f"BL={segs['BL']}",
                 "--seg", f"FU1={segs['FU1']}"]) == 0
    assert main(["export", "sr", str(read), "--out", str(tmp_path / "share" / "sr.dcm"), "--images", f"BL={img_bl}",
                 "--seg", f"BL={tmp_path / 'share' / 'seg.dcm'}", "--timepoints", "BL", *keys]) == 0


def test_report_refuses_images_of_another_time_point(tmp_path: Path, capsys) -> None:
    """`export report --images BL=<FU1 CT> --images FU1=<BL CT>` exited 0 with each time point's key
    images drawn on the other scan (only `export sr` checked).  Refused with the flag to fix; the
    right images pass."""
    from .conftest import write_ct_series

    bl = write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1).files[0].parent
    fu = write_ct_series(tmp_path / "ct_fu1", study_date="20240318", seed=2).files[0].parent
    read = tmp_path / "read.json"
    read.write_text(json.dumps(read_document()))
    report = ["export", "report", str(read), "--out", str(tmp_path / "r.html"), "--assessment", _write_assessment(tmp_path)]
    assert main([*report, "--images", f"BL={fu}", "--images", f"FU1={bl}"]) == 2
    assert ("--images BL=...: the images are of a study of 20240318 (the date of time point FU1), but time point 'BL' "
            "of the read is of 20240115: the report would place BL's measurements on another scan. Give each time "
            "point its own images (--images BL=<the series of 20240115>)") in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
    assert main([*report, "--images", str(fu)]) == 2  # one series goes to the baseline: the date says FU1
    assert "--images BL=...: the images are of a study of 20240318" in capsys.readouterr().err
    assert main([*report, "--images", f"BL={bl}", "--images", f"FU1={fu}"]) == 0
    assert (tmp_path / "r.html").is_file()


def test_the_tables_json_read_is_accepted_where_a_read_is(tmp_path: Path, files, capsys) -> None:
    """The JSON read `export csv` (and `demo`) write, `tables/reads/<patient>.json`, wraps the read
    in `read_document`: `export seg --read` said "the read is of patient ''", `export sr` "has no
    patient_id", with --deidentify "unknown field 'tables_schema_version'".  It is unwrapped; a
    wrapper without a read document says what it is and which file to pass."""
    assert main(["export", "csv", str(files["read"]), "--out", str(tmp_path / "t"), "--format", "csv"]) == 0
    (wrapped,) = (tmp_path / "t" / "reads").glob("*.json")
    assert "read_document" in json.loads(wrapped.read_text())
    out = tmp_path / "out"
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "m.json")]
    assert main(["export", "seg", "--image", str(files["ct"]), "--labels", str(files["labels"]), "--read", str(wrapped),
                 "--out", str(out / "seg.dcm")]) == 0
    assert pydicom.dcmread(out / "seg.dcm").SegmentSequence[0].TrackingUID == "1.2.826.0.1.3680043.8.498.1001"
    for extra in ([], keys):
        assert main(["export", "sr", str(wrapped), "--out", str(out / f"sr{len(extra)}.dcm"), "--criteria", "recist1.1",
                     "--images", f"BL={files['ct']}", "--seg", f"BL={out / 'seg.dcm'}", "--timepoints", "BL", *extra]) == 0
    assert main(["export", "csv", str(wrapped), "--out", str(tmp_path / "t2"), "--format", "csv"]) == 0
    capsys.readouterr()
    assert pd.read_csv(tmp_path / "t2" / "lesions.csv").patient_id.iloc[0] == "MRN-778899"
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"tables_schema_version": "2.1", "read_document": None, "responses": []}))
    assert main(["export", "sr", str(empty), "--out", str(out / "x.dcm")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{empty} is a tables JSON read" in err and "reads/<patient>.json" in err

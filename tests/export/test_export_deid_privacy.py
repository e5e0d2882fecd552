"""De-identification refusals and leaks found by a privacy review (2026-12-06): pseudonyms never
reused nor silently merged, documents and burned-in images not copied, file meta cleaned,
creation dates that do not give the date shift away."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path

import pydicom
import pytest

from hcc_imaging.export import Deidentifier, write_report, write_seg, write_sr
from hcc_imaging.export.deid import deidentify_files
from hcc_imaging.export.deid_checks import PatientLinkError

from .conftest import ASSESSMENT, STUDY_DATE, lesion_labels, read_document, write_ct_series


# -- 1. a pseudonym is never reused; 2. two ids with a pseudonym each are never merged ------------
def test_linking_two_ids_that_each_have_a_pseudonym_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    keys = tmp_path / "map.json"
    d = Deidentifier(keys, rng=random.Random(1))
    assert d.pseudonym("P001") == "HCC-0001"  # the read's tables, shipped
    assert d.pseudonym("MRN-1") == "HCC-0002"  # the images, shipped
    shifts = {k: d.date_shift_days(k) for k in ("P001", "MRN-1")}
    d.save()
    with pytest.raises(PatientLinkError, match=r"'P001' and 'MRN-1'.*HCC-0001 and HCC-0002.*new pseudonym map"):
        d.link("P001", "MRN-1")
    # nothing changed: both entries (the re-identification key of both exports) are kept
    assert {k: d.date_shift_days(k) for k in ("P001", "MRN-1")} == shifts
    assert (d.pseudonym("P001"), d.pseudonym("MRN-1")) == ("HCC-0001", "HCC-0002")
    # the next patient gets a new pseudonym, not a freed one (the old link dropped HCC-0002's
    # entry and numbered the next patient len(patients) + 1 = 2: two patients, one pseudonym)
    assert d.pseudonym("OTHER-PATIENT") == "HCC-0003"


def test_pseudonyms_are_numbered_past_every_one_ever_given(tmp_path: Path) -> None:
    """A map that lost an entry (written by the old link) must not give its pseudonym again."""
    keys = tmp_path / "map.json"
    keys.write_text(json.dumps({"version": 1, "patients": {"A": {"pseudonym": "HCC-0003", "date_shift_days": -40}},
                                "aliases": {}, "pseudonyms_issued": 5}), encoding="utf-8")
    d = Deidentifier(keys, rng=random.Random(1))
    assert d.pseudonym("B") == "HCC-0006"
    d.save()
    assert json.loads(keys.read_text(encoding="utf-8"))["pseudonyms_issued"] == 6
    # without the counter (a map of an older version): past the highest pseudonym of the map
    keys.write_text(json.dumps({"version": 1, "patients": {"A": {"pseudonym": "HCC-0003", "date_shift_days": -40}},
                                "aliases": {}}), encoding="utf-8")
    assert Deidentifier(keys).pseudonym("B") == "HCC-0004"


def test_linking_a_new_id_still_works_and_keeps_every_entry(tmp_path: Path) -> None:
    d = Deidentifier(tmp_path / "map.json", rng=random.Random(1))
    assert d.pseudonym("MRN-1") == "HCC-0001"
    d.link("P001", "MRN-1")  # the read's id is new: it joins the images' patient
    assert d.pseudonym("P001") == "HCC-0001" and d.date_shift_days("P001") == d.date_shift_days("MRN-1")
    d.link("MRN-2", "P002")  # neither known yet
    assert d.pseudonym("P002") == d.pseudonym("MRN-2") == "HCC-0002"
    assert set(d.to_dict()["patients"]) == {"MRN-1", "MRN-2"}


def test_export_sr_link_patient_is_refused_when_read_and_images_each_have_a_pseudonym(tmp_path: Path) -> None:
    """The tester's link_merge.sh: images exported (MRN -> HCC-0001), tables of the read under
    the trial code (P001 -> HCC-0002), then the SR with --link-patient: the old link dropped
    MRN's entry (the images' pseudonym and shift were lost from the map)."""
    ct = write_ct_series(tmp_path / "ct")
    d = Deidentifier(tmp_path / "keys" / "map.json", rng=random.Random(2))
    deidentify_files(ct.files, tmp_path / "share" / "ct", d)
    d.pseudonym("P001", deidentified=False)  # (export csv of the read)
    before = json.loads(json.dumps(d.to_dict()["patients"]))
    with pytest.raises(PatientLinkError, match="each already has a pseudonym"):
        write_sr(read_document("P001"), tmp_path / "share" / "sr.dcm", images=ct.volume, timepoints=["BL"],
                 deidentifier=d, link_patient=True)
    assert d.to_dict()["patients"] == before and not (tmp_path / "share" / "sr.dcm").exists()


def test_export_images_patient_id_over_two_patients_is_refused(tmp_path: Path) -> None:
    """patient_id_merge.sh: --patient-id over two patients' folders gave both one pseudonym and
    one date shift and aliased both real ids to it in the map."""
    a = write_ct_series(tmp_path / "a", patient_id="MRN-A")
    b = write_ct_series(tmp_path / "b", patient_id="MRN-B", seed=1)
    d = Deidentifier(tmp_path / "keys" / "map.json", rng=random.Random(2))
    with pytest.raises(PatientLinkError, match=r"2 different PatientIDs \('MRN-A', 'MRN-B'\).*Nothing was copied"):
        deidentify_files([*a.files, *b.files], tmp_path / "out", d, patient_id="P001")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert d.to_dict()["patients"] == {} and d.to_dict()["aliases"] == {}
    # one patient's images under a study code: linked, as before
    written = deidentify_files(a.files, tmp_path / "out", d, patient_id="P001")
    assert len(written) == len(a.files) and d.pseudonym("MRN-A") == d.pseudonym("P001")


def test_cli_export_images_patient_id_over_two_patients_exits_with_the_reason(tmp_path: Path, capsys) -> None:
    from hcc_imaging.cli import main

    write_ct_series(tmp_path / "in" / "a", patient_id="MRN-A")
    write_ct_series(tmp_path / "in" / "b", patient_id="Doe^Jane", seed=1)
    rc = main(["export", "images", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--patient-id", "P001",
               "--deidentify", "--pseudonym-map", str(tmp_path / "map.json")])
    err = capsys.readouterr().err
    assert rc != 0 and "2 different PatientIDs" in err
    assert "Doe^Jane" not in err and "not repeated here" in err  # (a name-like id is not echoed)


# -- 3. what the profile cannot make safe is not copied -------------------------------------------
def _pdf_document(ct_file: Path, path: Path) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ct = pydicom.dcmread(ct_file)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    for k in ("PatientName", "PatientID", "StudyInstanceUID", "StudyDate"):
        setattr(ds, k, ct.get(k))
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = generate_uid()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = b"%PDF-1.4\n% Patient: Jane Doe MRN-778899\n%%EOF\n"
    ds.save_as(path, enforce_file_format=True)


def test_encapsulated_documents_and_burned_in_images_are_skipped_with_the_reason(tmp_path: Path) -> None:
    ct = write_ct_series(tmp_path / "ct")
    _pdf_document(ct.files[0], tmp_path / "ct" / "report.dcm")
    burned = pydicom.dcmread(ct.files[1])
    burned.BurnedInAnnotation = "YES"
    burned.save_as(ct.files[1])
    d = Deidentifier(tmp_path / "keys" / "map.json")
    written = deidentify_files([*ct.files, tmp_path / "ct" / "report.dcm"], tmp_path / "out", d)
    assert len(written) == len(ct.files) - 1
    reasons = {p.name: r for p, r in written.skipped}
    assert set(reasons) == {"report.dcm", ct.files[1].name}
    assert reasons["report.dcm"].startswith("an encapsulated document (application/pdf)")
    assert reasons[ct.files[1].name].startswith("BurnedInAnnotation YES")
    for p in written:
        assert b"Jane Doe" not in p.read_bytes()
        assert pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID != "1.2.840.10008.5.1.4.1.1.104.1"


# -- 6. the file meta header is cleaned ----------------------------------------------------------
def test_file_meta_header_is_cleaned(tmp_path: Path) -> None:
    ct = write_ct_series(tmp_path / "ct", shape=(2, 8, 8))
    src = pydicom.dcmread(ct.files[0])
    src.file_meta.SourceApplicationEntityTitle = "SITE_CT1"
    src.file_meta.SendingApplicationEntityTitle = "SITE_PACS"
    src.file_meta.PrivateInformationCreatorUID = "1.2.3.4.99"
    src.file_meta.PrivateInformation = b"Jane Doe MRN-778899"
    src.save_as(ct.files[0])
    (out,) = deidentify_files([ct.files[0]], tmp_path / "out", Deidentifier(tmp_path / "keys" / "map.json"))
    blob = out.read_bytes()
    for needle in (b"SITE_CT1", b"SITE_PACS", b"1.2.3.4.99", b"Jane Doe"):
        assert needle not in blob
    fm = pydicom.dcmread(out).file_meta
    assert fm.MediaStorageSOPInstanceUID == pydicom.dcmread(out).SOPInstanceUID


# -- 5. creation dates do not encode the date shift ----------------------------------------------
def test_seg_sr_creation_dates_and_report_do_not_give_the_shift_away(tmp_path: Path) -> None:
    ct = write_ct_series(tmp_path / "ct")
    d = Deidentifier(tmp_path / "keys" / "map.json", rng=random.Random(5))
    labels, viable = lesion_labels(ct.volume)
    share = tmp_path / "share"
    seg = write_seg(labels, ct.volume, share / "seg.dcm", viable=viable, deidentifier=d)
    sr = write_sr(read_document(), share / "sr.dcm", assessment=ASSESSMENT, images=ct.volume, segs=seg,
                  timepoints=["BL"], deidentifier=d)
    report = write_report(read_document(), share / "report.html", assessment=ASSESSMENT, deidentifier=d)
    shift = d.date_shift_days("MRN-778899")
    today_shifted = (dt.date.today() + dt.timedelta(days=shift)).strftime("%Y%m%d")
    study_shifted = (dt.datetime.strptime(STUDY_DATE, "%Y%m%d").date() + dt.timedelta(days=shift)).strftime("%Y%m%d")
    for path in (seg.path, sr.path):
        ds = pydicom.dcmread(path)
        assert ds.StudyDate == study_shifted
        dates = {e.keyword: str(e.value) for e in ds.iterall() if e.VR in ("DA", "DT") and e.value}
        assert not any(v.startswith(today_shifted) for v in dates.values()), (path.name, dates)
        for kw in ("ContentDate", "InstanceCreationDate", "SeriesDate"):
            if kw in ds:
                assert ds[kw].value == study_shifted, (path.name, kw)
    text = report.read_text(encoding="utf-8")
    assert dt.date.today().isoformat() not in text
    assert re.search(r"Generated by hcc_imaging \S+\. Research use", text)
    # an identified report still says when it was made
    plain = write_report(read_document(), tmp_path / "plain.html", assessment=ASSESSMENT)
    assert f"on {dt.date.today().isoformat()}." in plain.read_text(encoding="utf-8")


# -- 4. time point ids typed by a person become neutral ids in every export kind ------------------
def _dated_read() -> dict:
    doc = read_document()
    doc["timepoints"][0]["id"] = "CT 2024-01-15"
    doc["timepoints"][1]["id"] = "CT 2024-03-18"
    return doc


def _dated_assessment() -> dict:
    a = json.loads(json.dumps(ASSESSMENT).replace('"BL"', '"CT 2024-01-15"').replace('"FU1"', '"CT 2024-03-18"'))
    a["results"]["RECIST1.1"]["timepoints"][1]["reasons"] = ["PD at CT 2024-03-18 not confirmed"]
    return a


def test_timepoint_ids_become_neutral_in_every_export_kind(tmp_path: Path) -> None:
    from hcc_imaging.export import read_sr, write_sdtm, write_tables

    ct = write_ct_series(tmp_path / "ct")
    keys = tmp_path / "keys" / "map.json"
    d = Deidentifier(keys, rng=random.Random(4))
    share = tmp_path / "share"
    doc, assessment = _dated_read(), _dated_assessment()
    # the SR first (the map numbers the read's time points in time order, whatever comes first)
    sr = write_sr(doc, share / "sr.dcm", assessment=assessment, images={"CT 2024-01-15": ct.volume}, deidentifier=d)
    write_tables(doc, share / "tables", assessments=assessment, deidentifier=d)
    write_sdtm(doc, share / "sdtm", assessments=assessment, deidentifier=d)
    write_report(doc, share / "report.html", assessment=assessment, deidentifier=d)
    d.save()
    for p in share.rglob("*"):
        if p.is_file():
            blob = p.read_bytes()
            for needle in (b"2024-01-15", b"2024-03-18", b"CT 2024"):
                assert needle not in blob, (p.relative_to(share), needle)
    import pandas as pd

    les = pd.read_csv(share / "tables" / "lesions.csv")
    assert sorted(set(les.timepoint_id)) == ["BL", "FU1"]
    assert set(pd.read_csv(share / "sdtm" / "tr.csv").VISIT) <= {"BASELINE", "BL", "FU1"}
    (read_json,) = (share / "tables" / "reads").glob("*.json")
    assert "FU1" in read_json.read_text(encoding="utf-8")
    rep = read_sr(sr.path)
    assert {m.time_point for m in rep.records()} == {"BL", "FU1"}
    texts = {str(e.value) for e in pydicom.dcmread(sr.path).iterall() if e.keyword == "TextValue"}
    assert "RECIST1.1 response FU1" in texts  # (a response group's tracking identifier)
    report_text = (share / "report.html").read_text(encoding="utf-8")
    assert "FU1" in report_text
    saved = json.loads(keys.read_text(encoding="utf-8"))["timepoints"]
    assert saved == {"MRN-778899": {"CT 2024-01-15": "BL", "CT 2024-03-18": "FU1"}}
    # the same map: the same neutral ids in a later export; a new time point gets the next number
    doc2 = _dated_read()
    doc2["timepoints"].append({**doc2["timepoints"][1], "id": "CT 2024-06-01", "date": "2024-06-01"})
    again = Deidentifier(keys)
    from hcc_imaging.export.model import as_export_read

    ids = [t.timepoint_id for t in as_export_read(doc2).deidentified(again).timepoints]
    assert ids == ["BL", "FU1", "FU2"]


# -- 7. the export's patient check does not repeat a name-like id ---------------------------------
def test_export_sr_patient_mismatch_does_not_repeat_a_name(tmp_path: Path, capsys) -> None:
    from hcc_imaging.cli import main

    ct = write_ct_series(tmp_path / "ct")
    doc = read_document("Doe^Jane")
    (tmp_path / "read.json").write_text(json.dumps(doc), encoding="utf-8")
    rc = main(["export", "sr", str(tmp_path / "read.json"), "--out", str(tmp_path / "sr.dcm"),
               "--images", f"BL={ct.files[0].parent}", "--timepoints", "BL"])
    err = capsys.readouterr().err
    assert rc != 0 and "would file one patient's measurements under another's" in err
    assert "Doe^Jane" not in err and "not repeated here" in err and "'MRN-778899'" in err


# -- 8. an identified report left in the folder of a de-identified one is warned about ------------
def test_deidentified_report_warns_about_an_identified_report_beside_it(tmp_path: Path, caplog) -> None:
    share = tmp_path / "share"
    share.mkdir()
    plain = write_report(read_document(), share, assessment=ASSESSMENT)  # report_MRN-778899.html
    assert plain.name == "report_MRN-778899.html"
    d = Deidentifier(tmp_path / "keys" / "map.json")
    with caplog.at_level("WARNING", logger="hcc_imaging.export.report"):
        deid = write_report(read_document(), share, assessment=ASSESSMENT, deidentifier=d)
    assert deid.name == "report_HCC-0001.html" and plain.exists()  # (left in place: warned)
    msgs = [r.getMessage() for r in caplog.records if "not de-identified" in r.getMessage()]
    assert len(msgs) == 1 and "1 report(s)" in msgs[0] and "MRN-778899" not in msgs[0]
    # a second de-identified report (another patient) is not warned about
    caplog.clear()
    with caplog.at_level("WARNING", logger="hcc_imaging.export.report"):
        plain.unlink()
        write_report(read_document("MRN-2"), share, assessment={**ASSESSMENT, "patient_id": "MRN-2"}, deidentifier=d)
    assert not [r for r in caplog.records if "not de-identified" in r.getMessage()]

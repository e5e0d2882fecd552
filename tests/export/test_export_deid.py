"""De-identification: PS3.15 basic profile on every exported object, pseudonym map kept apart."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pydicom
import pytest

from hcc_imaging.export import (
    Deidentifier,
    deidentify_dataset,
    deidentify_file,
    write_cohort_report,
    write_report,
    write_sdtm,
    write_seg,
    write_sr,
    write_tables,
)
from hcc_imaging.export.deid import BASIC_PROFILE_ACTIONS, DeidentificationError

from .conftest import ASSESSMENT, PHI, STUDY_DATE, lesion_labels, read_document
from .test_export_sr import dcmdump_ok, dsrdump_ok


def _walk_values(ds: pydicom.Dataset):
    for elem in ds.iterall():
        if elem.VR == "SQ":
            continue
        yield elem


def _original_identifiers(files: list[Path]) -> dict[str, set[str]]:
    """keyword -> set of original values, for every basic-profile attribute, every UID and date."""
    out: dict[str, set[str]] = {}
    for f in files:
        ds = pydicom.dcmread(f)
        for elem in _walk_values(ds):
            if elem.value in (None, "", b""):
                continue
            if elem.keyword in BASIC_PROFILE_ACTIONS or elem.VR in {"UI", "DA", "DT", "PN"}:
                if elem.VR == "UI" and str(elem.value).startswith("1.2.840.10008."):
                    continue  # registry UIDs (SOP classes, transfer syntaxes) identify nobody
                out.setdefault(elem.keyword, set()).add(str(elem.value))
    return out


def test_pseudonyms_dates_uids_are_consistent_and_persisted(tmp_path: Path) -> None:
    keys = tmp_path / "keys" / "map.json"
    d = Deidentifier(keys, rng=random.Random(1))
    assert d.pseudonym("MRN-1") == "HCC-0001"
    assert d.pseudonym("MRN-2") == "HCC-0002"
    assert d.pseudonym("MRN-1") == "HCC-0001"
    shift = d.date_shift_days("MRN-1")
    assert -1095 <= shift <= -30
    assert d.shift_da("20240115", "MRN-1") == (dt.date(2024, 1, 15) + dt.timedelta(days=shift)).strftime("%Y%m%d")
    assert d.shift_dt("20240115101530.5", "MRN-1").endswith("101530.5")
    u = d.uid("1.2.3.4.5")
    assert u.startswith("2.25.") and d.uid("1.2.3.4.5") == u and d.uid(u) == u
    assert d.uid("1.2.840.10008.5.1.4.1.1.2") == "1.2.840.10008.5.1.4.1.1.2"
    d.save()
    again = Deidentifier(keys)
    assert again.pseudonym("MRN-1") == "HCC-0001"
    assert again.date_shift_days("MRN-1") == shift
    assert again.uid("1.2.3.4.5") == u
    # linking the read document's id and the DICOM PatientID gives one person one pseudonym
    again.link("MRN-2", "DICOM-ID-OF-2")
    assert again.pseudonym("DICOM-ID-OF-2") == "HCC-0002"
    assert again.date_shift_days("DICOM-ID-OF-2") == again.date_shift_days("MRN-2")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(lambda p: Deidentifier(p / "x.json", date_shift_range_days=(5, -5)), "is empty", id="bad-range"),
        pytest.param(lambda p: (p / "m.json").write_text("{") and Deidentifier(p / "m.json"), "cannot be read", id="corrupt-map"),
        pytest.param(lambda p: (p / "m.json").write_text(json.dumps({"version": 99})) and Deidentifier(p / "m.json"),
                     "version 99", id="map-too-new"),
        pytest.param(lambda p: Deidentifier().save(), "no path", id="save-without-path"),
        pytest.param(lambda p: Deidentifier(p / "out" / "map.json").check_outside(p / "out"), "inside the export folder",
                     id="map-inside-export"),
    ],
)
def test_deidentifier_errors(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(DeidentificationError, match=match):
        make(tmp_path)


def test_deidentify_dataset_basic_profile(ct) -> None:
    ds = pydicom.dcmread(ct.files[0])
    d = Deidentifier(rng=random.Random(2))
    out = deidentify_dataset(ds, d)
    assert ds.PatientName == PHI["PatientName"]  # input untouched
    assert out.PatientName == out.PatientID == "HCC-0001"
    assert out.PatientIdentityRemoved == "YES"
    assert {c.CodeValue for c in out.DeidentificationMethodCodeSequence} == {"113100", "113107", "113104"}
    assert out.DeidentificationMethod == "hcc_imaging PS3.15 basic profile; dates shifted"  # no "clean SR" on a CT
    assert out.get("PatientBirthDate", "") == ""
    for kw in ("OtherPatientIDs", "InstitutionName", "InstitutionAddress", "OperatorsName",
               "PerformingPhysicianName", "StationName", "StudyDescription", "SeriesDescription", "PatientAge"):
        assert kw not in out, kw
    assert out.DeviceSerialNumber != PHI["DeviceSerialNumber"]
    assert out.AccessionNumber == "" and out.StudyID == "" and out.ReferringPhysicianName == ""
    assert not any(e.tag.is_private for e in out.iterall())
    assert out.StudyDate == d.shift_da(STUDY_DATE, PHI["PatientID"])
    assert out.StudyTime == ds.StudyTime  # times kept (modified-dates option)
    assert out.SOPClassUID == ds.SOPClassUID
    assert out.SOPInstanceUID == d.uid(ds.SOPInstanceUID) != ds.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID


def test_objects_without_a_patient_id_get_a_pseudonym_per_study(ct) -> None:
    """Two studies without a PatientID shared the key "UNKNOWN": one pseudonym and one date shift
    for two people.  Each study is now its own key (``io.patient_key``), as the index reads it;
    two objects of one study still share theirs.  The pseudonym is the PatientID too (it stayed
    empty: PatientName HCC-0001 and no PatientID), and the PatientName when the original has none."""
    first = pydicom.dcmread(ct.files[0])
    first.PatientID = ""
    second = pydicom.dcmread(ct.files[1])
    second.PatientID = ""
    second.StudyInstanceUID = "1.2.826.0.1.3680043.99.2"
    same_study = pydicom.dcmread(ct.files[1])
    same_study.PatientID = ""
    assert same_study.StudyInstanceUID == first.StudyInstanceUID
    d = Deidentifier(rng=random.Random(5))
    a, b, c = (deidentify_dataset(x, d) for x in (first, second, same_study))
    assert {str(a.PatientName), str(b.PatientName)} == {"HCC-0001", "HCC-0002"}
    assert c.PatientName == a.PatientName and c.StudyDate == a.StudyDate  # one study: one key
    assert (a.PatientID, b.PatientID, c.PatientID) == (a.PatientName, b.PatientName, c.PatientName)
    nameless = pydicom.dcmread(ct.files[2])
    nameless.PatientID = ""
    nameless.PatientName = ""
    del nameless.PatientID
    got = deidentify_dataset(nameless, d)
    assert got.PatientID == got.PatientName == a.PatientName  # (the same study as ``first``)


#: request / admission / procedure-step free text on the source images (PS3.15 E.1-1: X), and
#: free text where the table lists nothing (PatientSpeciesDescription: the free-text rule)
EXTRA_PHI = {
    "AdmittingDiagnosesDescription": "HCC in Jane Doe, MRN-777",
    "ReasonForTheRequestedProcedure": "Jane Doe follow-up",
    "RequestedProcedureComments": "call Jane Doe 555-1234",
    "ImagingServiceRequestComments": "Jane Doe, ward 5",
    "CommentsOnThePerformedProcedureStep": "Jane Doe moved",
    "ScheduledProcedureStepDescription": "CT for Jane Doe",
    "AdmittingDate": "20231230",
    "PerformedStationAETitle": "ELSEWHERE_CT1",
    "TextComments": "Jane Doe",
    "PatientSpeciesDescription": "record of Jane Doe",
}


def test_every_exported_object_is_deidentified(tmp_path: Path, ct) -> None:
    """Export everything with --deidentify and scan every file: no original identifying value
    of the basic profile's list (names, ids, dates, UIDs, institution ...) survives.

    The source images also carry request, admission and procedure-step free text (PS3.15 X
    attributes the table missed until 2026-12-06: highdicom copied them into the SEG and SR too)
    and free text in an attribute the table does not list (emptied)."""
    for f in ct.files:
        src = pydicom.dcmread(f)
        for kw, value in EXTRA_PHI.items():
            setattr(src, kw, value)
        src.save_as(f)
    export = tmp_path / "export"
    keys = tmp_path / "keys" / "map.json"
    deid = Deidentifier(keys, rng=random.Random(3))
    doc = read_document()
    labels, viable = lesion_labels(ct.volume)
    images = export / "images"
    for f in ct.files:
        deidentify_file(f, images / f.name, deid)
    seg = write_seg(labels, ct.volume, export / "seg.dcm", viable=viable, deidentifier=deid,
                    tracking_uids={"L1": "1.2.826.0.1.3680043.8.498.1001"})
    sr = write_sr(doc, export / "sr.dcm", assessment=ASSESSMENT, images=ct.volume, segs=seg,
                  timepoints=["BL"], deidentifier=deid)
    write_tables(doc, export / "tables", assessments=ASSESSMENT, deidentifier=deid)
    write_sdtm(doc, export / "sdtm", assessments=ASSESSMENT, deidentifier=deid)
    write_report(doc, export / "report.html", assessment=ASSESSMENT, images={"BL": ct.volume}, deidentifier=deid)
    write_cohort_report([doc], export / "cohort.html", assessments=[ASSESSMENT], deidentifier=deid)
    deid.save()
    assert keys.exists() and not any(p.name == "map.json" for p in export.rglob("*"))

    originals = _original_identifiers(ct.files)
    for tid in ("1.2.826.0.1.3680043.8.498.1001", "1.2.826.0.1.3680043.8.498.1002"):
        originals.setdefault("TrackingUID", set()).add(tid)
    originals.setdefault("reader", set()).add("dr.smith")
    originals.setdefault("dates", set()).update({"2024-01-15", "2024-03-18", "2024-01-22", "20240318", "20231230"})
    originals.setdefault("free text", set()).update({"Jane Doe", "MRN-777", "ELSEWHERE_CT1", "555-1234"})
    needles = {v for vals in originals.values() for v in vals if len(v) >= 4}
    # 1. no original value anywhere, in any file (binary scan, DICOM and text alike)
    files = [p for p in export.rglob("*") if p.is_file()]
    assert len(files) >= 15
    for p in files:
        blob = p.read_bytes()
        for n in needles:
            assert n.encode() not in blob, f"{n!r} survives in {p.relative_to(export)}"
    # 2. every DICOM object: basic-profile attributes are gone, empty, or replaced
    dicoms = [p for p in files if p.suffix == ".dcm"]
    assert len(dicoms) == len(ct.files) + 2
    for p in dicoms:
        (dsrdump_ok if p.name == "sr.dcm" else dcmdump_ok)(p)
        ds = pydicom.dcmread(p)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.PatientID == "HCC-0001"
        assert ds.DeidentificationMethod.endswith("; clean SR") == (p.name == "sr.dcm"), (p.name, ds.DeidentificationMethod)
        for elem in _walk_values(ds):
            if elem.keyword in BASIC_PROFILE_ACTIONS and elem.value not in (None, ""):
                assert str(elem.value) not in originals.get(elem.keyword, set()), (p.name, elem.keyword)
    # 3. references still resolve inside the de-identified set (UIDs mapped consistently)
    seg_ds = pydicom.dcmread(export / "seg.dcm")
    image_uids = {pydicom.dcmread(p).SOPInstanceUID for p in images.iterdir()}
    ref_uids = {i.ReferencedSOPInstanceUID for s in seg_ds.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence}
    assert ref_uids and ref_uids <= image_uids
    sr_ds = pydicom.dcmread(sr.path)
    ev = {i.ReferencedSOPInstanceUID for s in sr_ds.CurrentRequestedProcedureEvidenceSequence
          for se in s.ReferencedSeriesSequence for i in se.ReferencedSOPSequence}
    assert ev == image_uids | {seg_ds.SOPInstanceUID}
    assert sr_ds.StudyInstanceUID == seg_ds.StudyInstanceUID == pydicom.dcmread(next(images.iterdir())).StudyInstanceUID
    from hcc_imaging.export import read_sr

    l1 = next(g for g in read_sr(sr.path).groups if g.tracking_identifier == "L1")
    assert l1.tracking_uid == seg_ds.SegmentSequence[0].TrackingUID  # SR group <-> SEG segment
    # 4. tables use the pseudonym and shifted dates; intervals are kept
    import pandas as pd

    les = pd.read_csv(export / "tables" / "lesions.csv")
    assert set(les.patient_id) == {"HCC-0001"}
    dates = sorted(set(les.timepoint_date))
    assert (dt.date.fromisoformat(dates[1]) - dt.date.fromisoformat(dates[0])).days == 63
    tu = pd.read_csv(export / "sdtm" / "tu.csv")
    assert set(tu.USUBJID) == {"HCCIMG-HCC-0001"}
    # 5. every new UID is a valid 2.25 UID: the decimal form of a 128-bit UUID (PS3.5 B.2)
    mapped = json.loads(keys.read_text(encoding="utf-8"))["uids"]
    assert len(mapped) > len(ct.files)
    for new_uid in mapped.values():
        _assert_uuid_uid(new_uid)


def _assert_uuid_uid(uid: str) -> None:
    root, arc, number = uid.partition("2.25.")
    assert not root and arc and number.isdigit(), uid
    assert int(number) < 2**128 and len(number) <= 39 and len(uid) <= 64, uid
    assert number == "0" or not number.startswith("0"), uid  # no leading zero in a UID component


def test_mapped_uids_are_uuids_under_2_25(tmp_path: Path) -> None:
    """``2.25.`` + random digits padded to 64 characters is not a UUID (> 2**128): the 2.25 arc
    takes only the integer form of a UUID (ISO/IEC 9834-8), which DCMTK and others check."""
    d = Deidentifier(tmp_path / "map.json")
    news = {d.uid(f"1.2.826.0.1.3680043.8.498.{n}") for n in range(300)}
    assert len(news) == 300
    for u in news:
        _assert_uuid_uid(u)


def test_deidentify_a_real_foreign_sr(shared_data: Path, tmp_path: Path) -> None:
    """The Crowds Cure Cancer reader SR: observer name, ids, dates, UIDs replaced; the
    measurement and its tracking identifier kept (clean structured content)."""
    from hcc_imaging.export import read_sr

    src = shared_data / "tid1500_sr_examples" / "crowds_cure_cancer_TCGA-BP-4343_longaxis.dcm"
    d = Deidentifier(rng=random.Random(4))
    out = deidentify_file(src, tmp_path / "sr.dcm", d)
    dcmdump_ok(out)
    orig, new = read_sr(src), read_sr(out)
    assert new.patient_id == "HCC-0001" and new.observer == "READER-01"
    (m0,), (m1,) = orig.records(), new.records()
    assert m1.value == m0.value and m1.tracking_identifier == m0.tracking_identifier
    assert m1.tracking_uid == d.uid(m0.tracking_uid) != m0.tracking_uid
    blob = out.read_bytes()
    for needle in (b"TCGA-BP-4343", b"accomplished_peafowl", b"19870620", m0.tracking_uid.encode()):
        assert needle not in blob
    ds = pydicom.dcmread(out)
    dates = [e.value for e in ds.iterall() if e.keyword == "Date"]
    assert dates == [d.shift_da("19870620", "TCGA-BP-4343")]


def test_free_text_in_sr_is_cleaned(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PatientID = "X1"
    item = Dataset()
    item.ValueType = "TEXT"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121106", "DCM", "Comment"
    item.ConceptNameCodeSequence = [code]
    item.TextValue = "patient Jane Doe called back"
    keep = Dataset()
    keep.ValueType = "TEXT"
    kcode = Dataset()
    kcode.CodeValue, kcode.CodingSchemeDesignator, kcode.CodeMeaning = "112039", "DCM", "Tracking Identifier"
    keep.ConceptNameCodeSequence = [kcode]
    keep.TextValue = "L1"
    ds.ContentSequence = [item, keep]
    out = deidentify_dataset(ds, Deidentifier())
    assert [i.TextValue for i in out.ContentSequence] == ["REMOVED", "L1"]


def test_one_reader_one_pseudonym_in_sr_and_tables(tmp_path: Path, ct) -> None:
    """The SR writes the reader as a person name (``dr.smith^``), the tables as the plain id
    (``dr.smith``): both gave the reader a pseudonym of their own (READER-01 in the SR, READER-02
    in the CSV), so one reader looked like two in the de-identified set."""
    from hcc_imaging.export import read_sr

    keys = tmp_path / "keys" / "map.json"
    deid = Deidentifier(keys, rng=random.Random(6))
    doc = read_document()
    sr = write_sr(doc, tmp_path / "export" / "sr.dcm", assessment=ASSESSMENT, images=ct.volume,
                  timepoints=["BL"], deidentifier=deid)
    write_tables(doc, tmp_path / "export" / "tables", assessments=ASSESSMENT, deidentifier=deid, formats=("csv",))
    deid.save()
    import pandas as pd

    observer = read_sr(sr.path).observer
    assert set(pd.read_csv(tmp_path / "export" / "tables" / "lesions.csv").reader_id) == {observer} == {"READER-01"}
    assert json.loads(keys.read_text())["readers"] == {"dr.smith": "READER-01"}
    # the pseudonym in PN form is recognised as ours
    assert deid.reader("READER-01^") == "READER-01"
    from hcc_imaging.export.deid import normalize_reader_id

    assert normalize_reader_id("R1^") == normalize_reader_id(" R1 ") == normalize_reader_id("R1^^^") == "R1"
    assert normalize_reader_id("Smith^ John^") == "Smith^John"


def test_deidentified_json_reads_pseudonymise_sources_and_notes(tmp_path: Path, ct) -> None:
    """A read imported from an SR carries the SR observer's name in ``lesions[].source`` and the
    SR's SOPInstanceUID in ``note`` ("imported from DICOM SR 1.2..."): both survived in the
    de-identified JSON reads (and the source in the lesion table's ``provenance``)."""
    import pandas as pd

    from hcc_imaging.export import sr_to_read_document

    plain = write_sr(read_document(), tmp_path / "src" / "sr.dcm", images=ct.volume, timepoints=["BL"])
    imported, _ = sr_to_read_document(plain.path)
    assert imported["note"] == f"imported from DICOM SR {plain.sop_instance_uid}"
    # a person's lesions: not the observer's name (since 2026-12-06), which an earlier import wrote
    assert {les["source"] for les in imported["timepoints"][0]["lesions"]} == {"imported-from-SR"}
    imported["timepoints"][0]["lesions"][0]["source"] = "dr.smith"
    # a store's "reader:ID" source, a hand-typed note, and the algorithm of a batch read
    imported["timepoints"][0]["lesions"][1]["source"] = "reader:dr.smith"
    imported["timepoints"][0]["lesions"][2]["source"] = "hcc_imaging.batch 0.1.0"
    imported["timepoints"][0]["lesions"][2]["note"] = "Couinaud segment VII; phoned Jane Doe"
    deid = Deidentifier(tmp_path / "keys" / "map.json", rng=random.Random(7))
    info = write_tables(imported, tmp_path / "export" / "tables", deidentifier=deid, formats=("csv",))
    (path,) = info.reads
    text = path.read_text()
    for needle in ("dr.smith", plain.sop_instance_uid, "Jane Doe"):
        assert needle not in text, needle
    back = json.loads(text)["read_document"]
    assert back["note"] == f"imported from DICOM SR {deid.uid(plain.sop_instance_uid)}"
    lesions = back["timepoints"][0]["lesions"]
    assert [les["source"] for les in lesions] == ["READER-01", "reader:READER-01", "hcc_imaging.batch 0.1.0"]
    assert lesions[2]["note"] == "Couinaud segment VII"
    # a name that merely ends in a number is a person, not an algorithm's version
    assert deid.source("Reader 2") == "READER-02" and deid.source("dcmqi 1.2.4") == "dcmqi 1.2.4"
    assert deid.source("imported-from-SR") == "imported-from-SR"  # no one's name: kept
    assert back["reader_id"] == "READER-01"
    prov = pd.read_csv(tmp_path / "export" / "tables" / "lesions.csv").provenance
    assert set(prov) == {"READER-01", "reader:READER-01", "hcc_imaging.batch 0.1.0"}


def test_old_map_with_a_reader_under_two_keys_is_read_as_one_reader(tmp_path, caplog):
    # Maps written before reader ids were normalised keyed the SR observer's "R1^" apart from "R1".
    only_pn = tmp_path / "pn_only.json"
    only_pn.write_text(json.dumps({"version": 1, "patients": {}, "readers": {"R1^": "READER-01"}}))
    d = Deidentifier(only_pn)
    assert d.reader("R1") == "READER-01"          # the same reader keeps its pseudonym
    assert d.reader("R2") == "READER-02"          # a new reader never takes a used one
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"version": 1, "patients": {},
                                "readers": {"R1^": "READER-01", "R1": "READER-02"}}))
    with caplog.at_level("WARNING"):
        d2 = Deidentifier(both)
    assert d2.reader("R1^") == d2.reader("R1") == "READER-02"
    assert "2 pseudonyms" in caplog.text and "READER-01, READER-02" in caplog.text
    assert d2.reader("R3") == "READER-03"


def test_objects_without_patient_id_and_study_uid_get_no_shared_pseudonym(ct, tmp_path: Path) -> None:
    """An object with neither a PatientID nor a StudyInstanceUID (a broken export) took the key
    "UNKNOWN", as every other such object did: one pseudonym and one date shift for different
    people, and an SR of it imported as patient "UNKNOWN".  Now de-identifying it is refused
    (``deidentify_files`` skips it with the reason), and so is importing such an SR without
    ``patient_id=``."""
    from hcc_imaging.export import deidentify_files
    from hcc_imaging.export.sr_import import SrImportError, sr_to_read_document

    broken = []
    for i, f in enumerate(ct.files[:2]):
        ds = pydicom.dcmread(f)
        ds.PatientID = ""
        del ds.StudyInstanceUID
        ds.save_as(tmp_path / f"broken{i}.dcm")
        broken.append(ds)
    d = Deidentifier(rng=random.Random(5))
    with pytest.raises(DeidentificationError, match="neither a PatientID nor a StudyInstanceUID"):
        deidentify_dataset(broken[0], d)
    assert deidentify_dataset(broken[0], d, patient_id="P-1").PatientName == "HCC-0001"  # the caller says whose
    res = deidentify_files([tmp_path / "broken1.dcm"], tmp_path / "out", Deidentifier(rng=random.Random(5)))
    assert list(res) == [] and "neither a PatientID nor a StudyInstanceUID" in res.skipped[0][1]
    sr = write_sr(read_document(), tmp_path / "sr.dcm", images=ct.volume, timepoints=["BL"])
    ds = pydicom.dcmread(sr.path)
    ds.PatientID = ""
    del ds.StudyInstanceUID
    ds.save_as(tmp_path / "sr_broken.dcm")
    with pytest.raises(SrImportError, match="neither a PatientID nor a StudyInstanceUID.*patient_id="):
        sr_to_read_document(tmp_path / "sr_broken.dcm")
    assert sr_to_read_document(tmp_path / "sr_broken.dcm", patient_id="P-1")[0]["patient_id"] == "P-1"


def test_a_real_id_that_looks_like_a_pseudonym_gets_its_own(ct, tmp_path: Path) -> None:
    """A patient whose real id is ``HCC-0001`` kept it verbatim, with unshifted dates (the map
    stored a shift for it), and merged with the patient given ``HCC-0001``: in either order,
    in reads and in DICOM objects.  An object de-identified before (PatientIdentityRemoved
    YES) keeps its pseudonym and dates."""
    from hcc_imaging.export.model import as_export_read

    # order 1: the real HCC-0001 first; MRN-555 must not be given HCC-0001 next
    d = Deidentifier(tmp_path / "a.json", rng=random.Random(7))
    assert d.pseudonym("HCC-0001") == "HCC-0002"  # never its own id as its pseudonym
    assert d.pseudonym("MRN-555") == "HCC-0003"  # nor a known real id
    assert d.date_shift_days("HCC-0001") == d.to_dict()["patients"]["HCC-0001"]["date_shift_days"] != 0
    # order 2: MRN-555 gets HCC-0001 first, then a real patient HCC-0001 arrives (a read)
    d = Deidentifier(tmp_path / "b.json", rng=random.Random(7))
    doc = read_document()
    doc["patient_id"] = "MRN-555"
    real = read_document()
    real["patient_id"] = "HCC-0001"
    a = as_export_read(doc).deidentified(d)
    b = as_export_read(real).deidentified(d)
    assert a.patient_id == "HCC-0001" and b.patient_id == "HCC-0002"
    shift = d.to_dict()["patients"]["HCC-0001"]["date_shift_days"]
    assert shift != 0
    orig = as_export_read(real)
    assert [t.date for t in b.timepoints] == [t.date + dt.timedelta(days=shift) for t in orig.timepoints]
    assert d.pseudonym("HCC-0001") == "HCC-0002"  # a real key now, never its namesake's pseudonym
    # DICOM: a real PatientID HCC-0001 after MRN-555 -> its own pseudonym, dates shifted
    d = Deidentifier(tmp_path / "c.json", rng=random.Random(7))
    first = pydicom.dcmread(ct.files[0])
    first.PatientID = "MRN-555"
    out1 = deidentify_dataset(first, d)
    second = pydicom.dcmread(ct.files[0])
    second.PatientID = "HCC-0001"
    out2 = deidentify_dataset(second, d)
    assert out1.PatientID == "HCC-0001" and out2.PatientID == out2.PatientName == "HCC-0002"
    assert out2.StudyDate == d.shift_da(STUDY_DATE, "HCC-0001") != STUDY_DATE
    # the de-identified copies again: kept as they are (pseudonym and shifted dates)
    for done in (out1, out2):
        again = deidentify_dataset(done, d)
        assert (again.PatientID, again.StudyDate) == (done.PatientID, done.StudyDate)


def test_a_real_reader_id_that_looks_like_a_pseudonym_gets_its_own(ct, tmp_path: Path) -> None:
    """A reader whose real id is ``READER-01`` kept it verbatim and merged with the reader given
    ``READER-01`` (in reads, tables and DICOM person names), and a real ``READER-02`` was given
    its own id as pseudonym; as for patients, an object de-identified before (PatientIdentityRemoved
    YES) keeps its reader pseudonym."""
    import pandas as pd

    from hcc_imaging.export.model import as_export_read

    # order 1: the real READER-02 first; it is not given READER-02, nor is the next reader
    d = Deidentifier(tmp_path / "a.json", rng=random.Random(7))
    assert d.reader("READER-02") == "READER-01"
    assert d.reader("R9") == "READER-03"  # never a known real id
    assert d.reader("READER-02^") == "READER-01"  # the SR's PN form: the same reader
    # order 2: dr.smith gets READER-01, then a real reader READER-01 reads the same patient
    keys = tmp_path / "keys" / "b.json"
    d = Deidentifier(keys, rng=random.Random(7))
    first, second = read_document(), read_document()
    second["reader_id"] = "READER-01"
    a, b = (as_export_read(x).deidentified(d) for x in (first, second))
    assert a.reader_id == "READER-01" and b.reader_id == "READER-02"
    info = write_tables([first, second], tmp_path / "export" / "tables", deidentifier=d, formats=("csv",))
    d.save()
    assert set(pd.read_csv(info.tables["lesions"]["csv"]).reader_id) == {"READER-01", "READER-02"}
    assert json.loads(keys.read_text())["readers"] == {"dr.smith": "READER-01", "READER-01": "READER-02"}
    assert sorted(json.loads(p.read_text())["read_document"]["reader_id"] for p in info.reads) == [
        "READER-01", "READER-02"]
    # DICOM: a person name READER-01 in an object not de-identified is a real one
    ds = pydicom.dcmread(ct.files[0])
    ds.PersonName = "READER-01"  # (0040,A123): a person name the profile's table does not list
    out = deidentify_dataset(ds, d)
    assert str(out.PersonName) == "READER-02"
    # the de-identified copy again: its reader pseudonym kept
    assert str(deidentify_dataset(out, d).PersonName) == "READER-02"

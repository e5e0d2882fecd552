"""DICOM SR TID 1500: our writer, highdicom's parser, our importer, and real reports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import NotDicomError, UnsupportedDicomError
from hcc_imaging.export import as_export_read, read_sr, sr_to_read_document, write_seg, write_sr
from hcc_imaging.export import codes as C
from hcc_imaging.export.sr import SrExportError
from hcc_imaging.export.sr_import import SrImportError

from .conftest import ASSESSMENT, PHI, lesion_labels, read_document, write_ct_series

DCMDUMP = shutil.which("dcmdump")


def dcmdump_ok(path: Path) -> None:
    """dcmtk reads the whole object without a warning or error."""
    if DCMDUMP is None:  # pragma: no cover - dcmtk is installed in CI
        pytest.skip("dcmtk not installed")
    r = subprocess.run([DCMDUMP, "-q", "+E", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "E:" not in r.stderr and "W:" not in r.stderr, r.stderr


DSRDUMP = shutil.which("dsrdump")


def dsrdump_ok(path: Path) -> None:
    """dcmtk's SR reader checks the content tree (value types, relationships) - no complaint."""
    dcmdump_ok(path)
    if DSRDUMP is None:  # pragma: no cover
        pytest.skip("dcmtk not installed")
    r = subprocess.run([DSRDUMP, "-v", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    bad = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith(("E:", "W:"))]
    assert not bad, bad


@pytest.fixture
def two_tp(tmp_path: Path):
    bl = write_ct_series(tmp_path / "bl")
    fu = write_ct_series(tmp_path / "fu", study_date="20240318", seed=1)
    return bl, fu


def test_sr_round_trip_through_highdicom_parser(tmp_path: Path, two_tp) -> None:
    import highdicom as hd

    bl, fu = two_tp
    doc = read_document()
    info = write_sr(doc, tmp_path / "sr.dcm", assessment=ASSESSMENT, images={"BL": bl.volume, "FU1": fu.volume})
    assert (info.n_lesion_groups, info.n_response_groups) == (6, 6)
    dsrdump_ok(info.path)
    sr = hd.sr.srread(info.path)
    groups = sr.content.get_image_measurement_groups()
    read = as_export_read(doc)
    lesion_groups = [g for g in groups if g.tracking_identifier in {"L1", "L2", "N1"}]
    assert len(lesion_groups) == len(read.lesions) == 6
    for g, les in zip(lesion_groups, read.lesions, strict=True):
        assert g.tracking_identifier == les.lesion_id
        if les.tracking_uid:
            assert g.tracking_uid == les.tracking_uid
        ms = {m.name.value: m for m in g.get_measurements()}
        if les.longest_diameter_mm is not None:
            la = ms[C.LONG_AXIS.value]
            assert la.value == pytest.approx(les.longest_diameter_mm)
            assert la.unit.value == "mm"
            if les.ld_endpoints_lps is not None:
                coords = la.referenced_coordinates[0]
                assert coords.frame_of_reference_uid == (bl.for_uid if les.timepoint_id == "BL" else fu.for_uid)
                np.testing.assert_allclose(coords.value, np.asarray(les.ld_endpoints_lps), atol=1e-4)
        if les.short_axis_mm is not None:
            assert ms[C.SHORT_AXIS.value].value == pytest.approx(les.short_axis_mm)
        if les.volume_mm3 is not None:
            assert ms[C.VOLUME.value].value == pytest.approx(les.volume_mm3)
            assert ms[C.VOLUME.value].unit.value == "mm3"
    # the report lands in the latest study; the baseline study is "other evidence"
    import pydicom

    ds = pydicom.dcmread(info.path)
    assert ds.StudyInstanceUID == fu.study_uid
    other = {s.StudyInstanceUID for s in ds.PertinentOtherEvidenceSequence}
    assert other == {bl.study_uid}


def test_sr_written_by_us_imported_by_us_gives_the_same_read(tmp_path: Path, two_tp) -> None:
    bl, fu = two_tp
    doc = read_document()
    info = write_sr(doc, tmp_path / "sr.dcm", assessment=ASSESSMENT, images={"BL": bl.volume, "FU1": fu.volume})
    back_doc, back_assessment = sr_to_read_document(info.path)
    a = as_export_read(doc, ASSESSMENT)
    b = as_export_read(back_doc, back_assessment)
    assert [t.timepoint_id for t in b.timepoints] == ["BL", "FU1"]
    key = lambda les: (les.timepoint_id, les.lesion_id)  # noqa: E731
    la = {key(x): x for x in a.lesions}
    lb = {key(x): x for x in b.lesions}
    assert la.keys() == lb.keys()
    for k, x in la.items():
        y = lb[k]
        for f in ("role", "organ", "is_lymph_node", "status", "couinaud_segment", "longest_diameter_mm",
                  "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm", "volume_mm3", "viable_volume_mm3", "necrosis_fraction"):
            assert getattr(y, f) == pytest.approx(getattr(x, f)) if isinstance(getattr(x, f), float) else getattr(y, f) == getattr(x, f), (k, f)
        if x.tracking_uid:
            assert y.tracking_uid == x.tracking_uid
        for f in ("ld_endpoints_lps", "sa_endpoints_lps", "viable_endpoints_lps", "viable_sa_endpoints_lps"):
            if getattr(x, f) is None:
                assert getattr(y, f) is None
            else:
                np.testing.assert_allclose(getattr(y, f), getattr(x, f), atol=1e-4)
    # lesions without a tracking UID in the read get one, stable across time points
    n1 = [x for x in b.lesions if x.lesion_id == "N1"]
    assert len({x.tracking_uid for x in n1}) == 1 and n1[0].tracking_uid
    for crit in ("RECIST1.1", "mRECIST"):
        ra = {r.timepoint_id: r for r in a.responses_for(crit)}
        rb = {r.timepoint_id: r for r in b.responses_for(crit)}
        assert ra.keys() == rb.keys()
        for tp in ra:
            assert rb[tp].response == ra[tp].response
            assert rb[tp].target_response == ra[tp].target_response
            assert rb[tp].non_target_response == ra[tp].non_target_response
            assert rb[tp].sum_value == pytest.approx(ra[tp].sum_value)
        assert b.summary_for(crit).bor_unconfirmed == a.summary_for(crit).bor_unconfirmed
        assert b.summary_for(crit).bor_confirmed == a.summary_for(crit).bor_confirmed


def test_sr_imported_read_loads_in_the_response_engine(tmp_path: Path, two_tp) -> None:
    from hcc_imaging.response import ReadDocument
    from hcc_imaging.response.engine import assess

    bl, fu = two_tp
    info = write_sr(read_document(), tmp_path / "sr.dcm", images={"BL": bl.volume, "FU1": fu.volume})
    doc, _ = sr_to_read_document(info.path)
    result = assess(ReadDocument.from_json(doc), ["recist1.1"]).to_json()["results"]
    recist = next(iter(result.values()))
    assert [t["response"] for t in recist["timepoints"]] == [None, "SD"]


def test_sr_references_seg_and_source_images(tmp_path: Path, ct) -> None:
    import pydicom

    labels, viable = lesion_labels(ct.volume)
    doc = read_document()
    seg = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable,
                    tracking_uids={"L1": "1.2.826.0.1.3680043.8.498.1001", "L2": "1.2.826.0.1.3680043.8.498.1002"})
    info = write_sr(doc, tmp_path / "sr.dcm", images=ct.volume, segs=seg, timepoints=["BL"])
    dsrdump_ok(info.path)
    rep = read_sr(info.path)
    l1 = next(g for g in rep.groups if g.tracking_identifier == "L1")
    assert l1.tracking_uid == seg.tracking_uids["L1"]
    assert seg.sop_instance_uid in l1.source_sop_instance_uids
    ld = l1.measurement(C.LONG_AXIS)
    # the LD line's source image is the CT slice it lies on (z = -97.5 -> slice 1)
    assert ld.source_sop_instance_uids == (ct.volume.meta["sop_instance_uids"][1],)
    ds = pydicom.dcmread(info.path)
    refs = {i.ReferencedSOPInstanceUID for s in ds.CurrentRequestedProcedureEvidenceSequence
            for se in s.ReferencedSeriesSequence for i in se.ReferencedSOPSequence}
    assert set(ct.volume.meta["sop_instance_uids"]) | {seg.sop_instance_uid} == refs


def test_sr_without_images_keeps_values_and_drops_evidence(tmp_path: Path) -> None:
    import pydicom

    info = write_sr(read_document(), tmp_path / "sr.dcm", assessment=ASSESSMENT)
    dsrdump_ok(info.path)
    ds = pydicom.dcmread(info.path)
    assert "CurrentRequestedProcedureEvidenceSequence" not in ds
    rec = {(m.tracking_identifier, m.time_point, m.concept.meaning): m for m in read_sr(info.path).records()}
    assert rec[("L1", "BL", "Long Axis")].value == 16.0
    assert rec[("L1", "BL", "Long Axis")].coordinates == ()  # no frame of reference known


def test_real_crowds_cure_cancer_long_axis(shared_data: Path) -> None:
    rep = read_sr(shared_data / "tid1500_sr_examples" / "crowds_cure_cancer_TCGA-BP-4343_longaxis.dcm")
    (m,) = rep.records()
    assert m.concept.is_(C.LENGTH)
    assert m.value == pytest.approx(66.43856134)
    assert (m.unit, m.unit_std) == ("mm", "mm")
    (coords,) = m.coordinates
    assert coords.kind == "SCOORD" and coords.graphic_type == "POLYLINE" and len(coords.points) == 2
    np.testing.assert_allclose(coords.points[0], (172.835, 270.0641), atol=1e-3)
    assert m.finding_sites[0].meaning == "Kidney"
    doc, assessment = sr_to_read_document(rep)
    assert assessment is None
    (les,) = doc["timepoints"][0]["lesions"]
    assert les["longest_diameter_mm"] == pytest.approx(66.44, abs=0.005)
    assert les["organ"] == "kidney"
    assert les["tracking_uid"] == "1.3.6.1.4.1.5962.1.1.0.0.0.1535644357.22655.1"


@pytest.mark.parametrize("name", ["sr-tid1500-ct-liver-example.dcm", "dcmqi-result-sr.dcm"])
def test_real_dcmqi_liver_volume(shared_data: Path, name: str) -> None:
    rep = read_sr(shared_data / "dcmqi_liver_ct3slice" / "sr" / name)
    vols = [m for m in rep.records() if m.concept.is_(C.VOLUME)]
    by_unit = {m.unit: m for m in vols}
    assert by_unit["mm3"].value == pytest.approx(70361.9)
    assert by_unit["mm3"].unit_std == "mm3"
    if "cm3" in by_unit:  # the same volume in cm3, converted to mm3 on import
        assert by_unit["cm3"].value_std == pytest.approx(70361.9, rel=1e-5)
    hu = {m.derivation.meaning: m.value for m in rep.records() if m.unit == "[hnsf'U]"}
    assert hu == {"Mean": pytest.approx(37.3289), "Minimum": -778.0, "Maximum": 221.0,
                  "Standard Deviation": pytest.approx(59.1691)}
    assert all(s.meaning == "Liver" for m in vols for s in m.finding_sites)
    # the liver is an organ, not a lesion: nothing for the read document
    doc, _ = sr_to_read_document(rep)
    assert doc["timepoints"] == []


def test_real_qin_reader_report_has_11_lesion_groups(shared_data: Path) -> None:
    rep = read_sr(shared_data / "tid1500_sr_examples" / "qin_headneck_0139_User2_SemiAuto_Trial2.dcm")
    assert len(rep.groups) == 11
    assert rep.observer == "User2"
    assert all(g.tracking_uid for g in rep.groups)
    doc, _ = sr_to_read_document(rep)
    assert sum(len(t["lesions"]) for t in doc["timepoints"]) == 11
    assert all(les["role"] == "non_target" for les in doc["timepoints"][0]["lesions"])  # volume only


def test_real_highdicom_reports(shared_data: Path) -> None:
    rep = read_sr(shared_data / "highdicom_testfiles" / "sr_document.dcm")
    (m,) = rep.records()
    assert (m.value, m.unit, m.value_std, m.unit_std) == (1.7, "cm2", pytest.approx(170.0), "mm2")
    rep = read_sr(shared_data / "highdicom_testfiles" / "sr_document_with_multiple_groups.dcm")
    doc, _ = sr_to_read_document(rep)
    ids = [les["lesion_id"] for t in doc["timepoints"] for les in t["lesions"]]
    assert ids == ["LungNodule0001"]  # the aorta diameter and vertebra volume are not lesions


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"images": "one"}, "ambiguous", id="single-volume-for-two-timepoints"),
        pytest.param({"images": {"FU9": None}}, "unknown time point", id="unknown-timepoint-key"),
        pytest.param({"timepoints": ["XX"]}, "no time point 'XX'", id="unknown-timepoint-filter"),
    ],
)
def test_write_sr_errors(tmp_path: Path, ct, kwargs: dict, match: str) -> None:
    from hcc_imaging.export.model import ExportInputError

    if kwargs.get("images") == "one":
        kwargs["images"] = ct.volume
    with pytest.raises((SrExportError, ExportInputError), match=match):
        write_sr(read_document(), tmp_path / "x.dcm", **kwargs)


def test_write_sr_needs_source_files(tmp_path: Path, ct) -> None:
    from hcc_imaging.volume import Volume

    bare = Volume.create(ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin,
                         frame_of_reference_uid=ct.for_uid)
    with pytest.raises(SrExportError, match="no meta\\['source_files'\\]"):
        write_sr(read_document(), tmp_path / "x.dcm", images={"BL": bare})


def test_write_sr_no_timepoints(tmp_path: Path) -> None:
    with pytest.raises(SrExportError, match="no time points"):
        write_sr({"patient_id": "P", "timepoints": []}, tmp_path / "x.dcm")


def test_read_sr_rejects_non_sr(tmp_path: Path, ct) -> None:
    with pytest.raises(UnsupportedDicomError, match="not a structured report"):
        read_sr(ct.files[0])
    bad = tmp_path / "x.dcm"
    bad.write_bytes(b"not dicom at all" * 20)
    with pytest.raises(NotDicomError, match="not a DICOM file"):
        read_sr(bad)
    with pytest.raises(SrImportError, match="cannot read"):
        read_sr(tmp_path / "missing.dcm")


def test_sr_import_into_the_study_store(tmp_path: Path, two_tp, shared_data: Path) -> None:
    from hcc_imaging.export.sr_import import import_sr_into_store
    from hcc_imaging.study import ReaderSession, Store

    bl, fu = two_tp
    info = write_sr(read_document(), tmp_path / "sr.dcm", images={"BL": bl.volume, "FU1": fu.volume})
    with Store(tmp_path / "store.sqlite") as store:
        store.add_reader("dr.smith")
        ri = import_sr_into_store(info.path, store)
        assert ri.status == "draft" and ri.timepoint_ids == ("BL", "FU1")
        doc = ReaderSession(store, "dr.smith").export_document(ri.read_uid)
        l1 = doc.timepoint("FU1").lesions[0]
        assert (l1.lesion_id, l1.longest_diameter_mm, l1.tracking_uid) == ("L1", 12.0, "1.2.826.0.1.3680043.8.498.1001")
        with pytest.raises(SrImportError, match="no lesion measurement groups"):
            import_sr_into_store(shared_data / "dcmqi_liver_ct3slice" / "sr" / "sr-tid1500-ct-liver-example.dcm",
                                 store, reader_id="dr.smith")


def test_import_into_store_needs_a_reader(tmp_path: Path, shared_data: Path) -> None:
    from hcc_imaging.export.sr_import import import_sr_into_store
    from hcc_imaging.study import Store

    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(SrImportError, match="names no Person Observer"):
            import_sr_into_store(shared_data / "highdicom_testfiles" / "sr_document.dcm", store)


def test_sr_straight_from_measure_lesion(tmp_path: Path, ct) -> None:
    """measure -> SR without a read document: values and endpoints survive the round trip."""
    from hcc_imaging.export import read_from_measurements
    from hcc_imaging.measure.lesion import measure_labels

    labels, viable = lesion_labels(ct.volume)
    ms = measure_labels(labels, viable, image=ct.volume)
    read = read_from_measurements(ms, patient_id=PHI["PatientID"], date="2024-01-15")  # (the images' patient)
    assert read.algorithm and read.lesions[0].ld_endpoints_lps is not None
    info = write_sr(read, tmp_path / "sr.dcm", images=ct.volume)
    dsrdump_ok(info.path)
    back = as_export_read(sr_to_read_document(info.path)[0])
    for m, les in zip(ms, back.lesions, strict=True):
        assert les.lesion_id == m.lesion_id
        assert les.longest_diameter_mm == pytest.approx(m.longest_diameter_mm)
        assert les.short_axis_mm == pytest.approx(m.short_axis_mm)
        assert les.volume_mm3 == pytest.approx(m.volume_mm3)
        np.testing.assert_allclose(les.ld_endpoints_lps, np.asarray(m.ld_endpoints_lps), atol=1e-4)
        # the stored line has the stored length
        assert np.linalg.norm(np.subtract(*les.ld_endpoints_lps)) == pytest.approx(m.longest_diameter_mm, abs=1e-3)


def test_store_to_sr_to_highdicom_same_values(tmp_path: Path, two_tp) -> None:
    """store -> read document -> SR -> highdicom's parser: the store's numbers and endpoints."""
    import highdicom as hd

    from hcc_imaging.study import ReaderSession, Store

    bl, fu = two_tp
    with Store(tmp_path / "store.sqlite") as store:
        store.add_reader("dr.smith")
        sess = ReaderSession(store, "dr.smith")
        ri = sess.import_document(read_document())
        doc = sess.export_document(ri.read_uid)
    info = write_sr(doc, tmp_path / "sr.dcm", images={"BL": bl.volume, "FU1": fu.volume})
    parsed = {}
    for g in hd.sr.srread(info.path).content.get_image_measurement_groups():
        tp = next(str(i.TextValue) for i in g[0].ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "C2348792")
        parsed[(g.tracking_identifier, tp)] = (g.tracking_uid, {m.name.value: m for m in g.get_measurements()})
    assert len(parsed) == 6  # every lesion group parsed by highdicom
    for tp in doc.timepoints:
        for les in tp.lesions:
            uid, ms = parsed[(les.lesion_id, tp.id)]
            assert uid == les.tracking_uid  # the store's tracking UID
            if les.longest_diameter_mm is not None:
                assert ms[C.LONG_AXIS.value].value == pytest.approx(les.longest_diameter_mm)
            long_ep = next((e for e in les.endpoints if e.axis.value == "long"), None)
            if long_ep is not None:
                np.testing.assert_allclose(ms[C.LONG_AXIS.value].referenced_coordinates[0].value,
                                           [long_ep.start_lps, long_ep.end_lps], atol=1e-4)


def test_organ_and_segment_rules() -> None:
    """Finding sites → (organ, Couinaud segment): a segment implies the liver, a known organ code
    wins over an earlier site's name, an unknown code names the organ only when nothing else did,
    and a legacy SRT spelling of a known code reads as that organ."""
    from hcc_imaging.export.sr_import import SrCode, _organ_and_segment

    def code(c: C.CodeDef) -> SrCode:
        return SrCode(c.value, c.scheme, c.meaning)

    seg7 = code(C.COUINAUD_CODES["VII"])
    lung = code(C.ORGAN_CODES["lung"])
    odd = SrCode("999", "99LOCAL", "Hepatic hilum fat")
    assert _organ_and_segment([]) == (None, None)
    assert _organ_and_segment([seg7]) == ("liver", "VII")
    assert _organ_and_segment([odd]) == ("hepatic_hilum_fat", None)
    assert _organ_and_segment([odd, lung]) == ("lung", None)  # a known code wins
    assert _organ_and_segment([lung, odd]) == ("lung", None)  # a name never overrides a known code
    assert _organ_and_segment([seg7, odd]) == ("liver", "VII")
    assert _organ_and_segment([SrCode("999", "99LOCAL", "  ")]) == (None, None)
    legacy = next((v, s) for (v, s), (sv, ss) in C.LEGACY_SNOMED.items()
                  if any(c.matches(v, s) for c in C.ORGAN_CODES.values()))
    name = next(n for n, c in C.ORGAN_CODES.items() if c.matches(*legacy))
    assert _organ_and_segment([SrCode(legacy[0], legacy[1], "whatever")]) == (name, None)


# --- the lesion attributes the response rules read survive export -> import ----------------------
_EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _assess_all(doc: dict) -> dict:
    from hcc_imaging.response import ALL_CRITERIA, ReadDocument
    from hcc_imaging.response.engine import assess

    res = assess(ReadDocument.from_json(doc), list(ALL_CRITERIA)).to_json()["results"]
    return {
        crit: ([t["response"] for t in r["timepoints"]], r.get("bor_unconfirmed"), r.get("bor_confirmed"))
        for crit, r in res.items()
    }


@pytest.mark.parametrize("name", sorted(p.name for p in _EXAMPLES.glob("read_*.json")))
def test_sr_round_trip_assesses_as_the_read(tmp_path: Path, name: str) -> None:
    """docs/examples/read_tace.json went from mRECIST CR to PR after export -> import: the SR
    dropped ``porta_hepatis``, ``enhancing`` and ``well_delineated``.  Every criterion's responses
    and BOR are now those of the read (less what an SR cannot hold, which the export names)."""
    import json

    from hcc_imaging.export.sr import sr_not_carried

    doc = json.loads((_EXAMPLES / name).read_text())
    info = write_sr(doc, tmp_path / "sr.dcm")
    assert set(info.not_carried) == set(sr_not_carried(doc))
    # what the SR cannot hold (treatment start, markers ...) is removed from the reference too;
    # day numbers then count from the baseline, as the SR's time point offsets do
    ref = {k: v for k, v in doc.items() if k not in {"start_date", "treatments", "markers", "liver_function"}}
    back, _ = sr_to_read_document(info.path)
    assert _assess_all(back) == _assess_all(ref)


def test_sr_round_trip_keeps_every_lesion_attribute(tmp_path: Path) -> None:
    attrs = {
        "enhancing": False, "well_delineated": True, "equivocal": True, "typical_hcc_pattern": True,
        "cytology_malignant": False, "previously_treated": True, "new_enhancement": True,
        "intrahepatic": False, "interval_growth_mm": 11.5, "necrosis_diameter_mm": 7.0,
        "necrosis_short_axis_mm": 4.0, "viable_status": "too_small", "irecist_category": "nlnt",
        "attenuation_hu": -12.5,
    }
    doc = {
        "patient_id": "P1", "reader_id": "R1",
        "timepoints": [
            {"id": "BL", "date": "2024-01-01", "lesions": [
                {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 30.0, "viable_diameter_mm": 20.0},
                {"lesion_id": "N1", "role": "non_target", "organ": "lymph_node", "is_lymph_node": True,
                 "porta_hepatis": True, "short_axis_mm": 21.0, "status": "present"},
                {"lesion_id": "T1", "role": "non_target", "kind": "pvtt", "status": "present"},
            ]},
            {"id": "FU1", "date": "2024-03-01", "lesions": [
                {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 31.0, "viable_diameter_mm": 0.0},
                {"lesion_id": "N1", "role": "non_target", "organ": "lymph_node", "is_lymph_node": True,
                 "porta_hepatis": True, "short_axis_mm": 19.0, "status": "present"},
                {"lesion_id": "T1", "role": "non_target", "kind": "pvtt", "status": "present"},
                {"lesion_id": "L9", "role": "new", "status": "present", "longest_diameter_mm": 12.0, **attrs},
            ]},
        ],
    }
    info = write_sr(doc, tmp_path / "sr.dcm")
    assert info.not_carried == ()
    back, _ = sr_to_read_document(info.path)
    fu = {les["lesion_id"]: les for les in back["timepoints"][1]["lesions"]}
    assert {k: fu["L9"].get(k) for k in attrs} == attrs
    assert fu["N1"]["porta_hepatis"] is True
    assert fu["T1"]["kind"] == "pvtt"
    # a False that is only the default is not written (nothing to carry), a recorded False is
    bl = {les["lesion_id"]: les for les in back["timepoints"][0]["lesions"]}
    assert "equivocal" not in bl["L1"] and "enhancing" not in bl["L1"]


def test_sr_export_names_what_it_cannot_carry(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from hcc_imaging.export.sr import sr_not_carried

    doc = read_document()
    doc = {**doc, "start_date": "2024-01-01", "markers": [{"date": "2024-01-01", "afp_ng_ml": 5.0}]}
    doc["timepoints"][-1]["lesions"][0] = {**doc["timepoints"][-1]["lesions"][0], "split_from": "L2"}
    lid = doc["timepoints"][-1]["lesions"][0]["lesion_id"]
    dropped = sr_not_carried(doc)
    assert {"start_date", "markers (1)", f"{lid} split_from"} <= set(dropped)
    assert not any(d.startswith("L") and "split" not in d for d in dropped)
    with caplog.at_level("WARNING", logger="hcc_imaging.export.sr"):
        info = write_sr(doc, tmp_path / "sr.dcm")
    assert info.not_carried == sr_not_carried(doc)
    assert "no place for start_date" in caplog.text and "markers (1)" in caplog.text


@pytest.mark.parametrize(("zone_mm", "te"), [pytest.param(25.0, "TE4a", id="TE4a"),
                                             pytest.param(20.0, "TE4b", id="TE4b")])
def test_sr_keeps_recicl_te4_sub_grade(tmp_path: Path, zone_mm: float, te: str) -> None:
    """A RECICL TE4a / TE4b target response was left out of the SR (only TE1-TE4 had codes):
    written, read back and imported, it is the read's sub-grade."""
    from hcc_imaging.response import ReadDocument
    from hcc_imaging.response.engine import assess

    doc = {
        "patient_id": "P1", "reader_id": "R1",
        "timepoints": [
            {"id": "BL", "date": "2024-01-01", "lesions": [
                {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 20.0, "short_axis_mm": 20.0}]},
            {"id": "FU1", "date": "2024-02-05", "lesions": [
                {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 20.0, "short_axis_mm": 20.0,
                 "necrosis_fraction": 1.0, "necrosis_diameter_mm": zone_mm, "necrosis_short_axis_mm": zone_mm}]},
        ],
    }
    assessment = assess(ReadDocument.from_json(doc), ["RECICL"]).to_json()
    fu = assessment["results"]["RECICL"]["timepoints"][1]
    assert fu["target_response"] == te
    info = write_sr(doc, tmp_path / "sr.dcm", assessment=assessment)
    _, back = sr_to_read_document(info.path)
    assert back is not None
    got = back["results"]["RECICL"]["timepoints"]
    assert [t.get("target_response") for t in got] == [t.get("target_response")
                                                         for t in assessment["results"]["RECICL"]["timepoints"]]
    assert got[-1]["target_response"] == te


def test_sr_finding_of_a_fluid_follows_the_seg(tmp_path: Path, ct) -> None:
    """The SEG coded an ascites segment as Ascites (SCT 389026000) while the SR group of the same
    tracked finding said Finding = Neoplasm, the kind only in a local code.  The SR's Finding now
    follows the lesion's kind from the same code table (``codes.finding_code``), and the import reads
    the kind back from it, also from an SR that has only the finding (another tool's)."""
    import pydicom

    doc = read_document()
    for tp in doc["timepoints"]:
        for les in tp["lesions"]:
            if les["lesion_id"] == "L2":
                les.update(kind="ascites", organ="peritoneum", role="non_target", status="present")
            if les["lesion_id"] == "N1":
                les.update(kind="effusion", organ="pleura", is_lymph_node=False)
    labels, _ = lesion_labels(ct.volume)
    seg = write_seg(labels, ct.volume, tmp_path / "seg.dcm", kinds={"L2": "ascites"}, organs={"L2": "peritoneum"},
                    tracking_uids={"L1": "1.2.826.0.1.3680043.8.498.1001", "L2": "1.2.826.0.1.3680043.8.498.1002"})
    info = write_sr(doc, tmp_path / "sr.dcm", images=ct.volume, segs=seg, timepoints=["BL"])
    dsrdump_ok(info.path)
    findings = {g.tracking_identifier: (g.finding.value, g.finding.scheme) for g in read_sr(info.path).groups
                if g.finding is not None}
    assert findings == {"L1": ("108369006", "SCT"), "L2": ("389026000", "SCT"), "N1": ("41699000", "SCT")}
    s = pydicom.dcmread(seg.path, stop_before_pixels=True).SegmentSequence[1]
    assert (str(s.SegmentLabel), str(s.SegmentedPropertyTypeCodeSequence[0].CodeValue)) == ("L2", "389026000")
    back, _ = sr_to_read_document(info.path)
    kinds = {les["lesion_id"]: les.get("kind") for les in back["timepoints"][0]["lesions"]}
    assert kinds == {"L1": None, "L2": "ascites", "N1": "effusion"}
    # an SR with the finding alone (no local kind code): still a lesion group, of that kind
    ds = pydicom.dcmread(info.path)

    def drop_kind(items) -> None:  # noqa: ANN001
        for it in items:
            if "ContentSequence" in it:
                it.ContentSequence = [c for c in it.ContentSequence
                                      if not (c.get("ConceptNameCodeSequence") and
                                              c.ConceptNameCodeSequence[0].CodeValue == C.LESION_KIND.value)]
                drop_kind(it.ContentSequence)

    drop_kind(ds.ContentSequence)
    ds.save_as(tmp_path / "foreign.dcm")
    back, _ = sr_to_read_document(tmp_path / "foreign.dcm")
    assert {les["lesion_id"]: les.get("kind") for les in back["timepoints"][0]["lesions"]} == kinds


def test_write_sr_refuses_images_or_seg_of_another_time_point(tmp_path: Path) -> None:
    """Only `hcc-imaging export sr` checked that each time point's images and SEG are of that time
    point: `write_sr(doc, images={"BL": <FU1 CT>, "FU1": <BL CT>})` (the Python API, the napari
    writers, the batch) wrote an SR with each time point's lines on the other scan, filed under
    the wrong study.  The library refuses, naming the time point, both dates and the fix."""
    from hcc_imaging.export import TimepointSourceError
    from hcc_imaging.io import load_series

    bl_ct = write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1)
    fu_ct = write_ct_series(tmp_path / "ct_fu1", study_date="20240318", seed=2)
    other_ct = write_ct_series(tmp_path / "ct_bl_other", study_date="20240115", seed=3)
    bl, fu, other = (load_series(c.files[0].parent) for c in (bl_ct, fu_ct, other_ct))
    segs = {name: write_seg(lesion_labels(v)[0], v, tmp_path / f"seg_{name}.dcm")
            for name, v in (("BL", bl), ("FU1", fu), ("other", other))}
    doc = read_document()
    out = tmp_path / "sr.dcm"
    cases = [
        (dict(images={"BL": fu, "FU1": bl}),
         "the images given for time point 'BL' (series " + fu_ct.series_uid + ") are of a study of 20240318 "
         "(the date of time point FU1), but time point 'BL' of the read is of 20240115"),
        (dict(images={"BL": bl, "FU1": fu}, segs={"BL": segs["FU1"], "FU1": segs["BL"]}),
         "the SEG given for time point 'BL' (" + str(segs["FU1"].path) + ") is of a study of 20240318"),
        (dict(segs={"FU1": segs["BL"]}), "the SEG given for time point 'FU1'"),  # a SEG alone: its date
        (dict(images=bl, segs=segs["other"], timepoints=["BL"]),
         f"was drawn on series {other_ct.series_uid}, but the images given for 'BL' are series {bl_ct.series_uid}"),
    ]
    for kwargs, match in cases:
        with pytest.raises(TimepointSourceError, match=re.escape(match)):
            write_sr(doc, out, **kwargs)
        assert not out.exists()
    # the right ones pass; a pseudonymous read (shifted dates) over the images with link_patient
    info = write_sr(doc, out, images={"BL": bl, "FU1": fu}, segs={"BL": segs["BL"], "FU1": segs["FU1"]})
    assert info.n_lesion_groups == 6
    assert write_sr(doc, tmp_path / "linked.dcm", images={"BL": fu}, timepoints=["BL"], link_patient=True).path.exists()


def test_a_read_without_lesions_or_responses_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """A TID 1500 report needs a measurement group: a read with no lesion and no response gave
    highdicom's bare TypeError ("Argument 'imaging_measurements' is required")."""
    from hcc_imaging.export.sr import SrExportError

    doc = {"patient_id": "P1", "timepoints": [{"id": "BL", "date": "2024-01-01", "lesions": []}]}
    with pytest.raises(SrExportError, match=r"patient P1: the read has no lesion at time point\(s\) BL and no "
                                            r"response.*export csv"):
        write_sr(doc, tmp_path / "sr.dcm")
    assert not (tmp_path / "sr.dcm").exists()


def test_write_sr_and_report_refuse_another_patients_images(tmp_path: Path, ct) -> None:
    """Only ``hcc-imaging export sr / report`` refused a read over another patient's images: the
    Python API (``write_sr``, ``write_report``; the napari writers, ``batch --export-sr``) filed
    one patient's measurements under the images' PatientID.  Refused, naming both; link_patient
    says the read's id is a pseudonym of the images' patient."""
    from hcc_imaging.export import write_report
    from hcc_imaging.export.patient_check import PatientMismatchError
    from hcc_imaging.io import load_series

    doc = read_document(patient_id="OTHER-PATIENT-9")
    loaded = load_series(ct.files[0].parent)
    for images in (ct.volume, loaded):  # (meta without a patient id: its files'; load_series's meta)
        with pytest.raises(PatientMismatchError, match=re.escape(
                "the read is of patient 'OTHER-PATIENT-9', but the images given for time point 'BL' is of patient "
                f"'{PHI['PatientID']}'")) as err:
            write_sr(doc, tmp_path / "sr.dcm", images=images, timepoints=["BL"])
        assert "link_patient=True" in str(err.value)
    assert not (tmp_path / "sr.dcm").exists()
    with pytest.raises(PatientMismatchError, match="'OTHER-PATIENT-9'"):
        write_report(doc, tmp_path / "r.html", images={"BL": loaded})
    assert write_sr(doc, tmp_path / "sr.dcm", images=loaded, timepoints=["BL"], link_patient=True).path.exists()

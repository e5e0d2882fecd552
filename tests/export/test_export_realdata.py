"""Real data: 3D-IRCADb patient 17 (real CT, expert tumour masks) through SEG and SR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.export import read_from_measurements, read_seg, sr_to_read_document, write_seg, write_sr

pytestmark = pytest.mark.slow


def test_ircadb_tumours_seg_and_sr_round_trip(ircadb17: Path, tmp_path: Path) -> None:
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask
    from hcc_imaging.measure.lesion import measure_labels
    from hcc_imaging.volume import LabelVolume

    from .test_export_sr import dsrdump_ok

    vol = load_series(ircadb17 / "PATIENT_DICOM")
    lab = np.zeros(vol.shape, np.uint8)
    for v in (1, 2):
        lab[load_mask(ircadb17 / "MASKS_DICOM" / f"livertumor{v}", reference=vol).array > 0] = v
    labels = LabelVolume.like(vol, lab, labels={1: "L1", 2: "L2"})
    # the archive's CT has no FrameOfReferenceUID: SEG and SR share a derived one
    assert vol.frame_of_reference_uid is None
    seg = write_seg(labels, vol, tmp_path / "seg.dcm")
    back = read_seg(seg.path, vol)
    assert np.array_equal(back.lesions.array, lab)
    ms = measure_labels(labels, image=vol)
    # README: the two tumours are 85.6 mL and 78.6 mL
    assert [round(m.volume_mm3 / 1000, 1) for m in ms] == [85.6, 78.6]
    # (the images have no PatientID: "IRCAD17" names their patient, link_patient says so)
    read = read_from_measurements(ms, patient_id="IRCAD17")
    sr = write_sr(read, tmp_path / "sr.dcm", images=vol, segs=seg, link_patient=True)
    dsrdump_ok(sr.path)
    doc, _ = sr_to_read_document(sr.path)
    lesions = doc["timepoints"][0]["lesions"]
    assert [les["tracking_uid"] for les in lesions] == [seg.tracking_uids["L1"], seg.tracking_uids["L2"]]
    for les, m, orig in zip(lesions, ms, read.lesions, strict=True):
        assert les["longest_diameter_mm"] == pytest.approx(m.longest_diameter_mm)
        np.testing.assert_allclose(les["endpoints"]["long"], np.asarray(m.ld_endpoints_lps), atol=1e-3)
        # the algorithm that measured it (TID 4019), e.g. "hcc_imaging.measure.measure_lesion 0.1.0"
        assert les["source"] == orig.provenance and orig.provenance.startswith("hcc_imaging")


def test_an_sr_without_a_patient_id_imports_as_its_studys_patient(ircadb17: Path, tmp_path: Path) -> None:
    """3D-IRCADb's images carry no PatientID, so the index reads the study as ``io.patient_key``'s
    ``noid-...`` patient; an SR of it with no PatientID imported as patient "UNKNOWN" (every such
    report one patient).  It now imports as that same key: the round trip keeps the patient."""
    import pydicom

    from hcc_imaging.io import index_archive, load_series, patient_key
    from hcc_imaging.io.masks import load_mask
    from hcc_imaging.measure.lesion import measure_labels
    from hcc_imaging.volume import LabelVolume

    vol = load_series(ircadb17 / "PATIENT_DICOM")
    (pid,) = [p.patient_id for p in index_archive(ircadb17 / "PATIENT_DICOM").patients]
    assert pid == patient_key("", vol.study_instance_uid)
    lab = (load_mask(ircadb17 / "MASKS_DICOM" / "livertumor1", reference=vol).array > 0).astype(np.uint8)
    ms = measure_labels(LabelVolume.like(vol, lab, labels={1: "L1"}), image=vol)
    sr = write_sr(read_from_measurements(ms, patient_id=pid), tmp_path / "sr.dcm", images=vol)
    ds = pydicom.dcmread(sr.path)
    ds.PatientID = ""  # as the source images have it
    ds.save_as(tmp_path / "sr_noid.dcm")
    doc, _ = sr_to_read_document(tmp_path / "sr_noid.dcm")
    assert doc["patient_id"] == pid


def test_de_identified_srs_of_two_patients_without_an_id_keep_two_pseudonyms(ircadb17: Path, tmp_path: Path) -> None:
    """Two reads (two ``noid-...`` patients) over images without a PatientID, exported with one
    de-identifier: the SR writer linked each read's id to the image's empty PatientID, so the second
    patient took the first one's pseudonym and date shift.  An empty id is linked to no one now."""
    import pydicom

    from hcc_imaging.export import Deidentifier
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask
    from hcc_imaging.measure.lesion import measure_labels
    from hcc_imaging.volume import LabelVolume

    vol = load_series(ircadb17 / "PATIENT_DICOM")
    lab = (load_mask(ircadb17 / "MASKS_DICOM" / "livertumor1", reference=vol).array > 0).astype(np.uint8)
    ms = measure_labels(LabelVolume.like(vol, lab, labels={1: "L1"}), image=vol)
    deid = Deidentifier()
    names = []
    for pid in ("noid-aaaaaaaaaaaaaaaa", "noid-bbbbbbbbbbbbbbbb"):
        sr = write_sr(read_from_measurements(ms, patient_id=pid), tmp_path / f"{pid}.dcm", images=vol, deidentifier=deid,
                      link_patient=True)  # (two reads over one image: each read's id named its patient)
        names.append(str(pydicom.dcmread(sr.path).PatientName))
    assert names[0] != names[1] and deid.pseudonym("noid-aaaaaaaaaaaaaaaa") != deid.pseudonym("noid-bbbbbbbbbbbbbbbb")


def test_seg_over_a_stripped_real_series(shared_data: Path, tmp_path: Path) -> None:
    """dicom2nifti's slicecount/001 (2-slice sagittal MR) lacks PatientSex, PatientBirthDate and
    SliceThickness: write_seg ended in a bare AttributeError inside highdicom (found by the napari
    helper). The SEG is written, and reads back as the mask on the series' grid."""
    from hcc_imaging.io import load_series
    from hcc_imaging.volume import LabelVolume

    vol = load_series(shared_data / "dicom2nifti_failing_series" / "slicecount" / "001")
    arr = np.zeros(vol.shape, np.uint8)
    c = [n // 2 for n in vol.shape]
    arr[c[0], c[1] - 3:c[1] + 3, c[2] - 4:c[2] + 4] = 1
    info = write_seg(LabelVolume(array=arr, geometry=vol.geometry, labels={1: "L1"}), vol, tmp_path / "s.dcm")
    back = read_seg(info.path, vol)
    assert np.array_equal(np.asarray(back.lesions.array) > 0, arr > 0)

"""Fixtures for the export tests: a small synthetic CT series written with pydicom, with
identifying attributes filled in (so de-identification has something to remove), a Volume
over it, lesion/viable label maps, and a read document + assessment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.volume import LabelVolume, Volume

PHI = {
    "PatientName": "Doe^Jane",
    "PatientID": "MRN-778899",
    "PatientBirthDate": "19510203",
    "OtherPatientIDs": "ALT-5544",
    "AccessionNumber": "ACC123456",
    "InstitutionName": "Saint Example Hospital",
    "InstitutionAddress": "1 Example Road, Exampletown",
    "ReferringPhysicianName": "House^Gregory",
    "OperatorsName": "Tech^Tom",
    "PerformingPhysicianName": "Radio^Rita",
    "StationName": "CTSTATION7",
    "DeviceSerialNumber": "SN-998877",
    "StudyID": "STUDY-42",
    "StudyDescription": "CT ABDOMEN LIVER 3 PHASE Jane",
    "SeriesDescription": "PORTAL VENOUS",
}
STUDY_DATE = "20240115"


@dataclass
class CtSeries:
    volume: Volume
    files: list[Path]
    study_uid: str
    series_uid: str
    for_uid: str


def write_ct_series(
    folder: Path,
    *,
    shape: tuple[int, int, int] = (6, 32, 40),
    spacing: tuple[float, float, float] = (2.5, 0.8, 0.8),
    origin: tuple[float, float, float] = (-16.0, -12.0, -100.0),
    patient_id: str = PHI["PatientID"],
    study_date: str = STUDY_DATE,
    seed: int = 0,
) -> CtSeries:
    """Write an axial CT series (slices ordered inferior -> superior) and return its Volume."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = rng.normal(60, 10, size=shape).astype(np.int16)
    study_uid, series_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
    files: list[Path] = []
    sop_uids: list[str] = []
    for k in range(shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        sop = generate_uid()
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        p = folder / f"ct_{k:03d}.dcm"
        ds = FileDataset(str(p), {}, file_meta=meta, preamble=b"\0" * 128)
        for kw, v in PHI.items():
            setattr(ds, kw, v)
        ds.PatientID = patient_id
        ds.PatientSex = "F"
        ds.PatientAge = "073Y"
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.Modality = "CT"
        ds.Manufacturer = "ACME"
        ds.ManufacturerModelName = "Scanner 1"
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study_date
        ds.StudyTime = ds.SeriesTime = "101500"
        ds.AcquisitionTime = ds.ContentTime = "101530"
        ds.SeriesNumber = 3
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PositionReferenceIndicator = ""
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * spacing[0]]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.Rows, ds.Columns = shape[1], shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.RescaleSlope = 1
        ds.KVP = 120
        ds.add_new(0x00091010, "LO", "private vendor secret Jane Doe")
        ds.PixelData = arr[k].tobytes()
        ds.save_as(p, enforce_file_format=True)
        files.append(p)
        sop_uids.append(str(sop))
    vol = Volume.create(
        arr,
        spacing=spacing,
        origin=origin,
        frame_of_reference_uid=str(for_uid),
        study_instance_uid=str(study_uid),
        series_instance_uid=str(series_uid),
        meta={"source_files": [str(f) for f in files], "sop_instance_uids": sop_uids},
    )
    return CtSeries(vol, files, str(study_uid), str(series_uid), str(for_uid))


def lesion_labels(vol: Volume) -> tuple[LabelVolume, LabelVolume]:
    """Two lesions (L1 ellipse over 3 slices, L2 small box) and L1's viable rim-less core."""
    k, j, i = np.indices(vol.shape)
    l1 = ((j - 14) / 8.0) ** 2 + ((i - 15) / 10.0) ** 2 <= 1.0
    l1 &= (k >= 1) & (k <= 3)
    l2 = (j >= 22) & (j <= 26) & (i >= 30) & (i <= 35) & (k >= 2) & (k <= 4)
    lab = np.zeros(vol.shape, np.uint8)
    lab[l1] = 1
    lab[l2] = 2
    via = np.zeros(vol.shape, np.uint8)
    core = ((j - 14) / 5.0) ** 2 + ((i - 13) / 5.0) ** 2 <= 1.0
    via[l1 & core] = 1
    labels = LabelVolume.like(vol, lab, labels={1: "L1", 2: "L2"})
    viable = LabelVolume.like(vol, via, labels={1: "L1", 2: "L2"})
    return labels, viable


def read_document(patient_id: str = PHI["PatientID"], for_lps_z: float = -97.5) -> dict:
    """A two-time-point read document (DESIGN section 4) with endpoints and responses."""
    z = for_lps_z
    return {
        "schema_version": "1.0",
        "patient_id": patient_id,
        "reader_id": "dr.smith",
        "criteria": ["RECIST1.1", "mRECIST"],
        "timepoints": [
            {
                "id": "BL",
                "date": "2024-01-15",
                "lesions": [
                    {
                        "lesion_id": "L1",
                        "tracking_uid": "1.2.826.0.1.3680043.8.498.1001",
                        "role": "target",
                        "organ": "liver",
                        "note": "Couinaud segment VII",
                        "status": "measured",
                        "longest_diameter_mm": 16.0,
                        "short_axis_mm": 12.8,
                        "viable_diameter_mm": 8.0,
                        "viable_short_axis_mm": 8.0,
                        "volume_mm3": 1500.0,
                        "viable_volume_mm3": 400.0,
                        "necrosis_fraction": 0.7333,
                        "endpoints": {
                            "long": [[-12.0, -0.8, z], [4.0, -0.8, z]],
                            "short": [[-4.0, -7.2, z], [-4.0, 5.6, z]],
                            "viable_long": [[-9.6, -0.8, z], [-1.6, -0.8, z]],
                            "viable_short": [[-5.6, -4.8, z], [-5.6, 3.2, z]],
                        },
                    },
                    {
                        "lesion_id": "L2",
                        "tracking_uid": "1.2.826.0.1.3680043.8.498.1002",
                        "role": "target",
                        "organ": "liver",
                        "status": "measured",
                        "longest_diameter_mm": 11.0,
                        "short_axis_mm": 8.0,
                        "viable_diameter_mm": 11.0,
                        "volume_mm3": 300.0,
                        "endpoints": {"long": [[8.0, 5.6, z + 2.5], [12.0, 8.8, z + 2.5]]},
                    },
                    {"lesion_id": "N1", "role": "non_target", "organ": "lymph_node", "is_lymph_node": True, "status": "present"},
                ],
            },
            {
                "id": "FU1",
                "date": "2024-03-18",
                "lesions": [
                    {
                        "lesion_id": "L1",
                        "tracking_uid": "1.2.826.0.1.3680043.8.498.1001",
                        "role": "target",
                        "note": "Couinaud segment 7",
                        "status": "measured",
                        "longest_diameter_mm": 12.0,
                        "short_axis_mm": 9.0,
                        "viable_diameter_mm": 3.0,
                        "volume_mm3": 800.0,
                        "endpoints": {"long": [[-10.0, -0.8, z], [2.0, -0.8, z]]},
                    },
                    {
                        "lesion_id": "L2",
                        "tracking_uid": "1.2.826.0.1.3680043.8.498.1002",
                        "role": "target",
                        "status": "measured",
                        "longest_diameter_mm": 10.0,
                        "short_axis_mm": 7.0,
                        "viable_diameter_mm": 5.0,
                    },
                    {"lesion_id": "N1", "role": "non_target", "organ": "lymph_node", "is_lymph_node": True, "status": "present"},
                ],
            },
        ],
        "treatments": [
            {"kind": "TACE", "date": "2024-01-22"},
            {"kind": "lenvatinib", "date": "2024-02-01", "end_date": "2024-06-01"},
        ],
    }


ASSESSMENT = {
    "patient_id": PHI["PatientID"],
    "results": {
        "RECIST1.1": {
            "timepoints": [
                {"id": "BL", "day": 0, "sum": 27.0, "change_from_baseline": None, "change_from_nadir": None,
                 "target_response": None, "non_target_response": None, "new_lesions": False, "response": None, "reasons": []},
                {"id": "FU1", "day": 63, "sum": 22.0, "change_from_baseline": -0.1852, "change_from_nadir": -0.1852,
                 "target_response": "SD", "non_target_response": "NON-CR/NON-PD", "new_lesions": False, "response": "SD",
                 "reasons": ["sum -18.5 % from baseline"]},
            ],
            "bor_unconfirmed": "SD",
            "bor_confirmed": "SD",
            "pd_day": None,
        },
        "mRECIST": {
            "timepoints": [
                {"id": "BL", "day": 0, "sum": 19.0, "change_from_baseline": None, "change_from_nadir": None,
                 "target_response": None, "non_target_response": None, "new_lesions": False, "response": None, "reasons": []},
                {"id": "FU1", "day": 63, "sum": 8.0, "change_from_baseline": -0.5789, "change_from_nadir": -0.5789,
                 "target_response": "PR", "non_target_response": "NON-CR/NON-PD", "new_lesions": False, "response": "PR",
                 "reasons": []},
            ],
            "bor_unconfirmed": "PR",
            "bor_confirmed": None,
            "pd_day": None,
        },
    },
}


@pytest.fixture
def ct(tmp_path: Path) -> CtSeries:
    return write_ct_series(tmp_path / "ct")


@pytest.fixture
def read_doc() -> dict:
    return read_document()


@pytest.fixture
def assessment() -> dict:
    import copy

    return copy.deepcopy(ASSESSMENT)


def today() -> dt.date:  # pragma: no cover - helper for ad-hoc use
    return dt.date.today()

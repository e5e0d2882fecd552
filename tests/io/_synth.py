"""Tiny synthetic DICOM series written with pydicom, for geometry and error-path tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def write_series(
    folder: Path,
    values: np.ndarray,
    *,
    spacing: Sequence[float] = (2.5, 0.7, 0.8),
    origin: Sequence[float] = (-50.0, -60.0, 10.0),
    iop: Sequence[float] = (1, 0, 0, 0, 1, 0),
    positions: Sequence[Sequence[float]] | None = None,
    names: Sequence[str] | None = None,
    intercept: float = -1024.0,
    slope: float = 1.0,
    signed: bool = False,
    description: str = "Abdomen PORTAL VENOUS",
    image_types: Sequence[Sequence[str]] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    extra: dict[str, object] | None = None,
    modality: str = "CT",
) -> list[Path]:
    """Write ``values`` (slice, row, col; stored values) as one file per slice.

    Slice k sits at ``origin + k * spacing[0] * normal`` (``normal = row x col`` cosines) unless
    ``positions`` is given.  Returns the paths in slice order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    iop_a = np.asarray(iop, float)
    normal = np.cross(iop_a[:3], iop_a[3:])
    n = values.shape[0]
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    for_uid = generate_uid()
    paths = []
    for k in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        sop = generate_uid()
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = names[k] if names is not None else f"slice_{k:03d}.dcm"
        p = folder / name
        ds = FileDataset(str(p), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop
        ds.Modality = modality
        ds.PatientID = "SYN-001"
        ds.PatientName = "Synthetic^Never^Logged"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.SeriesDescription = description
        ds.SeriesNumber = 3
        ds.InstanceNumber = n - k  # deliberately reversed: the loader must not use it
        ds.StudyDate = "20240102"
        ds.AcquisitionTime = "101500"
        ds.ImageType = list(image_types[k]) if image_types is not None else ["ORIGINAL", "PRIMARY", "AXIAL"]
        pos = positions[k] if positions is not None else np.asarray(origin, float) + k * spacing[0] * normal
        ds.ImagePositionPatient = [f"{float(v):.6f}" for v in pos]
        ds.ImageOrientationPatient = [f"{float(v):.6f}" for v in iop]
        ds.PixelSpacing = [f"{spacing[1]:g}", f"{spacing[2]:g}"]
        ds.SliceThickness = f"{spacing[0]:g}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = int(values.shape[1]), int(values.shape[2])
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleIntercept = f"{intercept:g}"
        ds.RescaleSlope = f"{slope:g}"
        for key, val in (extra or {}).items():
            setattr(ds, key, val)
        ds.PixelData = np.ascontiguousarray(values[k].astype("<i2" if signed else "<u2")).tobytes()
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


def read_back_positions(paths: Sequence[Path]) -> np.ndarray:
    return np.array([[float(v) for v in pydicom.dcmread(p).ImagePositionPatient] for p in paths])

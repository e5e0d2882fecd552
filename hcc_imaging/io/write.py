"""Write a :class:`~hcc_imaging.volume.Volume` as a real, deterministic DICOM CT series.

One file per slice (CT Image Storage, ``1.2.840.10008.5.1.4.1.1.2``), geometry taken from the
Volume exactly as :mod:`hcc_imaging.volume` states it:

* ImageOrientationPatient = row cosine ``direction[:, 2]`` (direction of increasing column)
  followed by column cosine ``direction[:, 1]`` (direction of increasing row);
* ImagePositionPatient of slice ``k`` = ``index_to_lps([k, 0, 0])`` (centre of its first voxel);
* PixelSpacing = ``(spacing[1], spacing[2])`` (row, col); SliceThickness = ``spacing[0]`` unless
  given; SliceLocation = IPP projected on the slice normal.
* Pixels: HU stored unsigned (``HU - RescaleIntercept``), 12 bits stored in 16 allocated,
  RescaleSlope 1.  Values outside ``[intercept, intercept + 4095]`` are refused, never clipped.

Determinism: the same inputs give the same bytes.  UIDs are derived from ``uid_seed`` with
:func:`pydicom.uid.generate_uid` (``entropy_srcs``), dates and times are parameters (no "now"),
the file meta ImplementationClassUID/VersionName are fixed, and compressed transfer syntaxes use
a named encoder (``pyjpegls`` for JPEG-LS, pydicom's own RLE encoder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..errors import HccImagingError
from ..volume import Volume

__all__ = [
    "DicomWriteError",
    "check_transfer_syntax",
    "write_series",
    "deterministic_uid",
    "UID_PREFIX",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "STORED_BITS",
]

#: Prefix of every UID we derive (pydicom's documented root for generated UIDs; a
#: deployment with its own registered root passes ``uid_prefix``).
UID_PREFIX: str = "1.2.826.0.1.3680043.8.498."
#: Fixed ImplementationClassUID so that bytes do not depend on the pydicom version.
IMPLEMENTATION_CLASS_UID: str = "1.2.826.0.1.3680043.8.498.4871.1"
IMPLEMENTATION_VERSION_NAME: str = "HCC_IMAGING_01"
#: BitsStored of written CT pixels: 12 bits covers HU -1024..3071 with intercept -1024.
STORED_BITS: int = 12

_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
_ENCODERS: dict[str, str] = {
    "1.2.840.10008.1.2.4.80": "pyjpegls",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.5": "pydicom",  # RLE Lossless
}


class DicomWriteError(HccImagingError, ValueError):
    """A Volume cannot be written as the requested DICOM series."""


def deterministic_uid(*parts: object, prefix: str = UID_PREFIX) -> str:
    """A UID derived from ``parts`` (same parts -> same UID), via ``pydicom.uid.generate_uid``.

    >>> deterministic_uid("seed", 1) == deterministic_uid("seed", 1)
    True
    """
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=prefix, entropy_srcs=[str(p) for p in parts]))


def _ds(value: float) -> str:
    """A DICOM DS string (<= 16 chars) that round-trips the float to ~1e-6 mm."""
    s = f"{value:.6f}".rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s[:16]


def _atomic_save(ds: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))  # mode: as open() gives (umask)


def check_transfer_syntax(transfer_syntax: str, what: str = "write_series") -> None:
    """Refuse a transfer syntax :func:`write_series` cannot write (``what`` names the caller and its
    series in the message), so that callers writing several series check it before the first file.

    Raises
    ------
    DicomWriteError
        Not Explicit VR Little Endian, JPEG-LS Lossless or RLE Lossless.
    """
    from pydicom.uid import UID, ExplicitVRLittleEndian

    ts = UID(str(transfer_syntax))
    if ts != ExplicitVRLittleEndian and str(ts) not in _ENCODERS:
        name = f" ({ts.name})" if ts.name != str(ts) else ""
        raise DicomWriteError(
            f"{what}: transfer syntax {ts}{name} is not supported. Use ExplicitVRLittleEndian "
            f"{ExplicitVRLittleEndian}, JPEGLSLossless 1.2.840.10008.1.2.4.80 or RLELossless 1.2.840.10008.1.2.5 "
            "(transfer_syntax=...)."
        )


def write_series(
    volume: Volume,
    out_dir: str | os.PathLike[str],
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    series_number: int,
    description: str,
    patient_name: str = "PHANTOM^ANONYMOUS",
    patient_birth_date: str = "19600101",
    patient_sex: str = "O",
    frame_of_reference_uid: str | None = None,
    transfer_syntax: str = "1.2.840.10008.1.2.1",
    study_date: str = "20250101",
    study_time: str = "100000",
    acquisition_time: str = "100000",
    study_description: str = "CT LIVER MULTIPHASE",
    study_id: str = "1",
    accession_number: str = "",
    contrast_agent: str | None = None,
    contrast_start_time: str | None = None,
    slice_thickness_mm: float | None = None,
    rescale_intercept: float = -1024.0,
    window_hu: tuple[float, float] = (60.0, 400.0),
    uid_seed: object = 0,
    uid_prefix: str = UID_PREFIX,
    manufacturer: str = "hcc_imaging phantom",
    file_prefix: str = "IM",
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``volume`` (CT, HU) as one DICOM file per slice into ``out_dir``.

    Parameters
    ----------
    volume : Volume
        CT volume in HU; its geometry becomes ImagePositionPatient / ImageOrientationPatient /
        PixelSpacing (see the module docstring for the exact mapping).
    out_dir : path
        Folder to write ``{file_prefix}{k+1:04d}.dcm`` into (created).  Each file is written
        atomically (temp file + ``os.replace``).
    patient_id, study_uid, series_uid, series_number, description
        Identifiers.  ``description`` becomes SeriesDescription (put the phase words there,
        e.g. ``"ARTERIAL"``, for phase detection).
    transfer_syntax : str
        Explicit VR Little Endian (default), JPEG-LS Lossless ``1.2.840.10008.1.2.4.80`` or
        RLE Lossless ``1.2.840.10008.1.2.5``.
    study_date, study_time, acquisition_time : str
        DICOM DA / TM values (no "now": the output is deterministic).  AcquisitionTime and
        ContentTime are both set to ``acquisition_time``.
    contrast_agent, contrast_start_time : str, optional
        ContrastBolusAgent and ContrastBolusStartTime; omit both for a pre-contrast series.
    rescale_intercept : float
        Stored value = HU - intercept (slope 1), 12 bits stored.
    uid_seed : object
        Seed for the SOPInstanceUIDs (and the frame of reference when not given).
    extra : dict, optional
        Further keyword -> value pairs set on every dataset (e.g. ``{"KVP": "120"}``).

    Returns
    -------
    list of Path
        The written files, in slice order.

    Raises
    ------
    DicomWriteError
        Not a CT volume, HU outside the 12-bit stored range, or an unsupported transfer syntax.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    ts = UID(str(transfer_syntax))
    check_transfer_syntax(ts, f"write_series (series {series_uid})")
    if str(volume.modality) != "CT":
        raise DicomWriteError(
            f"write_series writes CT Image Storage, but the volume of series {series_uid} has modality "
            f"{volume.modality}. Pass a CT Volume (modality='CT')."
        )
    hu = np.asarray(volume.array)
    if hu.dtype.kind == "f":
        hu = np.rint(hu)
    lo, hi = rescale_intercept, rescale_intercept + (2**STORED_BITS - 1)
    if hu.size and (float(hu.min()) < lo or float(hu.max()) > hi):
        raise DicomWriteError(
            f"write_series: HU range [{float(hu.min()):.0f}, {float(hu.max()):.0f}] of series {series_uid} does not fit "
            f"the {STORED_BITS}-bit stored range [{lo:.0f}, {hi:.0f}] with rescale_intercept={rescale_intercept:g}. "
            "Clip the volume first or pass another rescale_intercept."
        )
    stored = (hu - rescale_intercept).astype(np.uint16)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    geom = volume.geometry
    d = np.asarray(geom.direction)
    row_cos, col_cos = d[:, 2], d[:, 1]
    normal = np.cross(row_cos, col_cos)
    for_uid = frame_of_reference_uid or volume.frame_of_reference_uid or deterministic_uid(
        "for", uid_seed, study_uid, prefix=uid_prefix
    )
    thick = float(slice_thickness_mm if slice_thickness_mm is not None else geom.spacing[0])
    nk, nrows, ncols = geom.shape
    paths: list[Path] = []
    for k in range(nk):
        sop_uid = deterministic_uid("sop", uid_seed, series_uid, k, prefix=uid_prefix)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(_CT_IMAGE_STORAGE)
        meta.MediaStorageSOPInstanceUID = UID(sop_uid)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = UID(_CT_IMAGE_STORAGE)
        ds.SOPInstanceUID = UID(sop_uid)
        ds.StudyDate = study_date
        ds.SeriesDate = study_date
        ds.AcquisitionDate = study_date
        ds.ContentDate = study_date
        ds.StudyTime = study_time
        ds.SeriesTime = acquisition_time
        ds.AcquisitionTime = acquisition_time
        ds.ContentTime = acquisition_time
        ds.AccessionNumber = accession_number
        ds.Modality = "CT"
        ds.Manufacturer = manufacturer
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = study_description
        ds.SeriesDescription = description
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = patient_birth_date
        ds.PatientSex = patient_sex
        if contrast_agent:
            ds.ContrastBolusAgent = contrast_agent
            if contrast_start_time:
                ds.ContrastBolusStartTime = contrast_start_time
        ds.BodyPartExamined = "ABDOMEN"
        ds.SliceThickness = _ds(thick)
        ds.KVP = "120"
        ds.PatientPosition = "FFS"
        ds.StudyInstanceUID = UID(study_uid)
        ds.SeriesInstanceUID = UID(series_uid)
        ds.StudyID = study_id
        ds.SeriesNumber = int(series_number)
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        ipp = geom.index_to_lps([float(k), 0.0, 0.0])
        ds.ImagePositionPatient = [_ds(v) for v in ipp]
        ds.ImageOrientationPatient = [_ds(v) for v in (*row_cos, *col_cos)]
        ds.FrameOfReferenceUID = UID(for_uid)
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(float(np.dot(ipp, normal)))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = int(nrows)
        ds.Columns = int(ncols)
        ds.PixelSpacing = [_ds(geom.spacing[1]), _ds(geom.spacing[2])]
        ds.BitsAllocated = 16
        ds.BitsStored = STORED_BITS
        ds.HighBit = STORED_BITS - 1
        ds.PixelRepresentation = 0
        ds.WindowCenter = _ds(window_hu[0])
        ds.WindowWidth = _ds(window_hu[1])
        ds.RescaleIntercept = _ds(rescale_intercept)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        for key, value in (extra or {}).items():
            setattr(ds, key, value)
        frame = np.ascontiguousarray(stored[k])
        ds.PixelData = frame.tobytes()
        if ts != ExplicitVRLittleEndian:
            ds.compress(ts, frame, encoding_plugin=_ENCODERS[str(ts)], generate_instance_uid=False)
        path = out / f"{file_prefix}{k + 1:04d}.dcm"
        _atomic_save(ds, path)
        paths.append(path)
    return paths


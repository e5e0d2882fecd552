"""A minimal RTSTRUCT writer (pydicom) for the tests: closed planar contours of ellipsoid phantoms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence as Seq
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def ellipse_contour(e: Any, z: float, n: int = 180) -> np.ndarray | None:
    """The section of a :class:`hcc_imaging.phantoms.Ellipsoid` at LPS plane ``z``, (n, 3) points; None when it misses."""
    a, c = e.quadric, e.centre_lps
    dz = z - c[2]
    m = a[:2, :2]
    b = a[:2, 2] * dz
    rhs = 1 - a[2, 2] * dz * dz + b @ np.linalg.solve(m, b)
    if rhs <= 0:
        return None
    w0 = -np.linalg.solve(m, b)
    lam, vec = np.linalg.eigh(m)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = w0[None] + (np.sqrt(rhs / lam[0]) * np.cos(t))[:, None] * vec[:, 0] + (np.sqrt(rhs / lam[1]) * np.sin(t))[:, None] * vec[:, 1]
    return np.column_stack([pts + c[:2], np.full(n, z)])


def write_rtstruct(path: Path, ref_ds: Any, rois: list[tuple[str, list[np.ndarray]]]) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.StudyInstanceUID = "RTSTRUCT", ref_ds.PatientID, ref_ds.StudyInstanceUID
    ds.SeriesInstanceUID, ds.FrameOfReferenceUID, ds.StructureSetLabel = generate_uid(), ref_ds.FrameOfReferenceUID, "test"
    rf = Dataset()
    rf.FrameOfReferenceUID = ref_ds.FrameOfReferenceUID
    ds.ReferencedFrameOfReferenceSequence = Seq([rf])
    ssr, rcs = [], []
    for i, (name, contours) in enumerate(rois, 1):
        r = Dataset()
        r.ROINumber, r.ROIName, r.ReferencedFrameOfReferenceUID = i, name, ref_ds.FrameOfReferenceUID
        ssr.append(r)
        rc = Dataset()
        rc.ReferencedROINumber = i
        cs = []
        for c in contours:
            cd = Dataset()
            cd.ContourGeometricType, cd.NumberOfContourPoints = "CLOSED_PLANAR", len(c)
            cd.ContourData = [f"{v:.4f}" for v in c.ravel()]
            cs.append(cd)
        rc.ContourSequence = Seq(cs)
        rcs.append(rc)
    ds.StructureSetROISequence, ds.ROIContourSequence = Seq(ssr), Seq(rcs)
    ds.save_as(str(path), enforce_file_format=True)

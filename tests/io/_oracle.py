"""Independent geometry/value oracle for loaded volumes: pydicom reads every source file again."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pydicom

from hcc_imaging.io._dicomparse import read_source_bytes
from hcc_imaging.volume import Volume

LOSSY_TS = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.91",
            "1.2.840.10008.1.2.4.81"}


def _fg(ds: Any, frame: int | None, seq: str, attr: str) -> Any:
    if frame is None:
        return ds.get(attr)
    for grp in (ds.PerFrameFunctionalGroupsSequence[frame], ds.SharedFunctionalGroupsSequence[0]):
        s = grp.get(seq)
        if s and attr in s[0]:
            return s[0].get(attr)
    return None


def check_volume_against_headers(v: Volume, *, check_pixels: bool = True, every: int = 1) -> None:
    """Assert spacing, origin, direction and (optionally) HU of ``v`` against its source headers.

    For slice k: IPP == index_to_lps(k, 0, 0); IOP row cosine == direction[:, 2] and column
    cosine == direction[:, 1]; PixelSpacing == spacing[1:]; pixels == stored * slope + intercept.
    """
    files = v.meta["source_files"]
    frames = v.meta.get("source_frames") or [None] * len(files)
    assert len(files) == v.shape[0]
    cache: dict[str, Any] = {}
    for k in range(0, len(files), every):
        f, fr = files[k], frames[k]
        ds = cache.get(f)
        if ds is None:
            ds = cache[f] = pydicom.dcmread(io.BytesIO(read_source_bytes(f)), force=True)
        ipp = np.asarray(_fg(ds, fr, "PlanePositionSequence", "ImagePositionPatient"), float)
        iop = np.asarray(_fg(ds, fr, "PlaneOrientationSequence", "ImageOrientationPatient"), float)
        ps = np.asarray(_fg(ds, fr, "PixelMeasuresSequence", "PixelSpacing"), float)
        np.testing.assert_allclose(v.index_to_lps([k, 0, 0]), ipp, atol=2e-2, err_msg=f"origin of slice {k} ({f})")
        np.testing.assert_allclose(v.direction[:, 2], iop[:3] / np.linalg.norm(iop[:3]), atol=1e-4)
        np.testing.assert_allclose(v.direction[:, 1], iop[3:] / np.linalg.norm(iop[3:]), atol=1e-4)
        np.testing.assert_allclose(v.spacing[1:], ps, rtol=1e-6)
        if not check_pixels:
            continue
        arr = ds.pixel_array
        if fr is not None:
            arr = arr[fr]
        slope = _fg(ds, fr, "PixelValueTransformationSequence", "RescaleSlope")
        inter = _fg(ds, fr, "PixelValueTransformationSequence", "RescaleIntercept")
        ref = arr.astype(np.float64) * float(slope if slope is not None else 1) + float(inter if inter is not None else 0)
        ts = str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else ""
        atol = 2.0 if ts in LOSSY_TS else 0.0
        np.testing.assert_allclose(v.array[k].astype(np.float64), ref, atol=atol, err_msg=f"HU of slice {k} ({f})")
    # slices are equally spaced along direction[:, 0]
    if v.shape[0] > 1 and "resampled" not in v.meta:
        d = v.direction[:, 0]
        pos = [np.dot(v.index_to_lps([k, 0, 0]), d) for k in range(v.shape[0])]
        np.testing.assert_allclose(np.diff(pos), v.spacing[0], rtol=1e-6)

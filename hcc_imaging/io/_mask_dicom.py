"""DICOM masks decoded: a SEG's segments (highdicom), an RTSTRUCT's contours filled on the image's
grid (pydicom, scikit-image), and a DICOM image series whose non-zero voxels are the mask: the
readers behind :func:`hcc_imaging.io.masks.load_segments` and :func:`~hcc_imaging.io.masks.load_mask`
(their module docstring, "Formats", says what they accept).

Split out of ``masks.py`` (session of 2026-12-07, tenth), the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import GeometryMismatchError, UnsupportedDicomError
from ..volume import Geometry, Volume
from ._dicomparse import dicom_file
from ._mask_base import MaskFormatError
from ._rt_fill import fill_roi_between_planes
from ._rt_planes import fill_planes, warn_off_slice
from ._seg_shear import sheared_seg


# ------------------------------------------------------------------------------------------
# DICOM SEG
# ------------------------------------------------------------------------------------------
def _seg_segments(path: Path, threshold: float, reference: Volume | None = None,
                  ) -> tuple[list[tuple[int, str, NDArray[np.bool_]]], Geometry, str | None, str | None, dict[int, int]]:
    """Decode a SEG into (segment number, label, boolean mask) on the SEG's own grid, and the label
    value each segment records (segment number -> value; ours only, see :func:`_recorded_label_value`).
    A SEG whose frames stack obliquely (a gantry-tilted series) is placed on ``reference``'s grid
    instead (:mod:`._seg_shear`), and refused without one."""
    import highdicom as hd

    try:
        seg = hd.seg.segread(dicom_file(str(path)))  # (a member of a zip SOURCE: its bytes)
    except Exception as err:
        raise UnsupportedDicomError(f"{path} could not be parsed as DICOM SEG by highdicom: {err}") from err
    numbers = [int(n) for n in seg.get_segment_numbers()]
    if not numbers:
        raise MaskFormatError(f"DICOM SEG {path} describes no segment; nothing to load.")
    masks: list[NDArray[np.bool_]]
    try:
        vol = seg.get_volume(combine_segments=False, rescale_fractional=True, segment_numbers=numbers)
    except Exception as err:
        masks, geom = sheared_seg(path, seg, numbers, threshold, reference, err)
    else:
        arr = np.asarray(vol.array)
        if arr.ndim == 3:
            arr = arr[..., None]
        geom = Geometry(
            shape=arr.shape[:3],  # type: ignore[arg-type]
            spacing=tuple(float(s) for s in vol.spacing),  # type: ignore[arg-type]
            origin=tuple(float(p) for p in vol.position),  # type: ignore[arg-type]
            direction=np.asarray(vol.direction, float),
        )
        masks = [arr[..., m] >= threshold if arr[..., m].dtype.kind == "f" else arr[..., m] != 0
                 for m in range(len(numbers))]
    out = []
    values: dict[int, int] = {}
    for mask, num in zip(masks, numbers, strict=True):
        desc = seg.get_segment_description(num)
        out.append((num, str(desc.segment_label), np.asarray(mask)))
        recorded = _recorded_label_value(str(getattr(desc, "SegmentDescription", "") or ""))
        if recorded is not None:
            values[num] = recorded
    for_uid = getattr(seg, "FrameOfReferenceUID", None)
    src = None
    try:
        ref_series = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        src = str(ref_series)
    except (AttributeError, IndexError):
        src = None
    return out, geom, (str(for_uid) if for_uid else None), src, values


def _recorded_label_value(description: str) -> int | None:
    """The label value our SEG writer (:func:`hcc_imaging.export.seg.write_seg`) records in a
    segment's SegmentDescription (``"hcc_imaging label value 3"``); None for other SEGs."""
    from ..export.seg import _LABEL_VALUE_PREFIX

    if not description.startswith(_LABEL_VALUE_PREFIX):
        return None
    try:
        value = int(description[len(_LABEL_VALUE_PREFIX):].split()[0])
    except (ValueError, IndexError):
        return None
    return value if value > 0 else None


# ------------------------------------------------------------------------------------------
# RTSTRUCT
# ------------------------------------------------------------------------------------------
def _rtstruct_segments(
    path: Path, reference: Volume | None, structures: Sequence[str] | None
) -> tuple[list[tuple[int, str, NDArray[np.bool_]]], Geometry, str | None, dict[int, list[int]]]:
    """Fill each ROI's closed planar contours on ``reference``'s grid: (ROI number, name, mask),
    the grid, the frame of reference, and for each ROI some of whose contours lie on no slice of
    the image (an end slice of the series unreadable and skipped, contours drawn on a longer
    series) [voxels of those contours, voxels of all its contours, voxels left], as
    ``cut_by_field`` records for a voxel mask."""
    import pydicom
    from skimage.draw import polygon

    if reference is None:
        raise MaskFormatError(
            f"RTSTRUCT {path} holds contours, not voxels: pass `reference=` (the image Volume the "
            "contours were drawn on, e.g. hcc_imaging.io.load_series(folder)) so they can be filled on its grid."
        )
    ds = pydicom.dcmread(dicom_file(str(path)), force=True)  # (a member of a zip SOURCE: its bytes)
    rois = {}
    for item in getattr(ds, "StructureSetROISequence", []):
        rois[int(item.ROINumber)] = (
            str(getattr(item, "ROIName", f"ROI{item.ROINumber}")),
            str(getattr(item, "ReferencedFrameOfReferenceUID", "")) or None,
        )
    geom = reference.geometry
    r_for = reference.frame_of_reference_uid
    contours_by_roi = {int(rc.ReferencedROINumber): rc for rc in getattr(ds, "ROIContourSequence", [])}
    wanted = list(structures) if structures is not None else None
    if wanted is not None:
        known = [rois[n][0] for n in sorted(rois)]
        missing = [w for w in wanted if w not in known]
        if missing:
            raise MaskFormatError(f"RTSTRUCT {path} has no ROI named {missing}; its ROIs are {known}. Fix `structures=`.")
    out = []
    cut: dict[int, list[int]] = {}
    for_uid: str | None = None
    for num in sorted(rois):
        name, roi_for = rois[num]
        if wanted is not None and name not in wanted:
            continue
        if roi_for and r_for and roi_for != r_for:
            raise GeometryMismatchError(
                f"RTSTRUCT {path}: ROI {name!r} is in frame of reference {roi_for}, but the reference image "
                f"(series {reference.series_instance_uid or 'unknown'}) is in {r_for}. "
                "Pass the image series the contours were drawn on as `reference`."
            )
        for_uid = for_uid or roi_for
        rc = contours_by_roi.get(num)
        filled: list[tuple[float, NDArray[np.bool_]]] = []
        for c in getattr(rc, "ContourSequence", []) if rc is not None else []:
            if str(getattr(c, "ContourGeometricType", "CLOSED_PLANAR")).upper() != "CLOSED_PLANAR":
                continue
            pts = np.asarray(c.ContourData, dtype=float).reshape(-1, 3)
            if len(pts) < 3:
                continue
            idx = geom.lps_to_index(pts)
            k = idx[:, 0]
            if np.ptp(k) > 0.5:
                raise GeometryMismatchError(
                    f"RTSTRUCT {path}: a contour of ROI {name!r} spans {np.ptp(k):.2f} slices of the reference "
                    "grid, i.e. it is not parallel to the reference slices. Pass the reference image the contours "
                    "were drawn on (same orientation)."
                )
            rr, cc = polygon(idx[:, 1], idx[:, 2], shape=geom.shape[1:])
            sl = np.zeros(geom.shape[1:], dtype=bool)
            sl[rr, cc] = True
            filled.append((float(k.mean()), sl))
        mask, place = fill_planes(filled, geom.shape, float(geom.spacing[0]))
        n_used, n_outside, vox_outside = place.n_used, place.n_outside, place.voxels_outside
        warn_off_slice(path, name, place, float(geom.spacing[0]), reference.series_instance_uid)
        fill_roi_between_planes(path, name, filled, mask, geom.spacing, reference.series_instance_uid)
        if n_used == 0 and n_outside:
            raise GeometryMismatchError(
                f"RTSTRUCT {path}: all {n_outside} contours of ROI {name!r} lie outside the reference "
                f"image slices (shape {geom.shape}). Pass the image series the contours were drawn on as `reference`."
            )
        out.append((num, name, mask))
        if n_outside:
            left = int(np.count_nonzero(mask))
            cut[num] = [int(vox_outside), int(vox_outside) + left, left]
    if not out:
        raise MaskFormatError(f"RTSTRUCT {path} has no ROI with closed planar contours to load.")
    return out, geom, for_uid, cut


# ------------------------------------------------------------------------------------------
# DICOM mask series (image files whose non-zero voxels are the mask)
# ------------------------------------------------------------------------------------------
def _load_dicom_image_mask(path: Path) -> tuple[NDArray[Any], Geometry, str | None, str | None]:
    """Load a DICOM image series (folder or file) with :func:`hcc_imaging.io.load_series`."""
    from .series import load_series

    vol = load_series(path)
    return np.asarray(vol.array), vol.geometry, vol.frame_of_reference_uid, vol.series_instance_uid



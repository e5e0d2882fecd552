"""A DICOM SEG drawn on a gantry-tilted series: its frames stack along a vector oblique to their
plane (a sheared grid), which highdicom's ``get_volume()`` refuses ("frames on scattered oblique
planes", said the message: untrue, tester finding t18, 2026-12-06).  Like an RTSTRUCT on such a
series, it is placed on the image it is measured on (the series resampled with ``on_tilt``) voxel
by voxel through the frames' own affine (:func:`._nifti_shear.place_by_sform`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._nifti_shear import place_by_sform

if TYPE_CHECKING:
    from ..volume import Geometry, Volume

log = logging.getLogger("hcc_imaging.io.masks")

#: Positions / steps agreeing within this (mm) are one; orientations within this (cosine).
POSITION_TOLERANCE_MM = 0.01
ORIENTATION_TOLERANCE = 1e-4


class NotAStackError(ValueError):
    """The SEG's frames do not form one regular stack (the reason is the message)."""


def _item(fg: Any, shared: Any, name: str) -> Any:
    for g in (fg, shared):
        if g is not None and name in g and len(getattr(g, name)):
            return getattr(g, name)[0]
    raise NotAStackError(f"a frame has no {name}")


def seg_stack(seg: Any, numbers: list[int], threshold: float) -> tuple[dict[int, NDArray[np.bool_]], NDArray[np.float64], float]:
    """Each segment's frames stacked ``(slice, row, col)`` on the SEG's own grid, that grid's affine
    (LPS, 4 x 4: index (col, row, slice) -> mm) and the angle (degrees) of its stacking vector from
    the planes' normal.  Raises :class:`NotAStackError` when the frames are not one regular stack of
    parallel planes of one pixel spacing."""
    pff = list(getattr(seg, "PerFrameFunctionalGroupsSequence", []))
    shared = seg.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in seg else None
    if not pff:
        raise NotAStackError("it has no per-frame functional groups")
    iops = np.array([[float(v) for v in _item(fg, shared, "PlaneOrientationSequence").ImageOrientationPatient] for fg in pff])
    if np.abs(iops - iops[0]).max() > ORIENTATION_TOLERANCE:
        raise NotAStackError("its frames lie in planes of different orientations")
    pss = np.array([[float(v) for v in _item(fg, shared, "PixelMeasuresSequence").PixelSpacing] for fg in pff])
    if np.abs(pss - pss[0]).max() > 1e-6:
        raise NotAStackError("its frames have different pixel spacings")
    ipps = np.array([[float(v) for v in _item(fg, shared, "PlanePositionSequence").ImagePositionPatient] for fg in pff])
    segs = [int(_item(fg, shared, "SegmentIdentificationSequence").ReferencedSegmentNumber) for fg in pff]
    row_dir, col_dir = iops[0, :3], iops[0, 3:]
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    along = ipps @ normal
    order = np.argsort(along, kind="stable")
    uniq: list[NDArray[np.float64]] = []
    k_of = np.empty(len(pff), int)
    for f in order:
        if uniq and np.linalg.norm(ipps[f] - uniq[-1]) <= POSITION_TOLERANCE_MM:
            k_of[f] = len(uniq) - 1
            continue
        if uniq and abs(float((ipps[f] - uniq[-1]) @ normal)) <= POSITION_TOLERANCE_MM:
            raise NotAStackError("two of its frames lie in one plane at different positions")
        uniq.append(ipps[f])
        k_of[f] = len(uniq) - 1
    pos = np.array(uniq)
    if len(pos) >= 2:
        steps = np.diff(pos, axis=0)
        step = steps.mean(axis=0)
        if np.linalg.norm(steps - step, axis=1).max() > max(POSITION_TOLERANCE_MM, 0.01 * np.linalg.norm(step)):
            raise NotAStackError("its frames are not evenly spaced along one vector (missing or uneven frames)")
    else:
        step = normal * 1.0
    angle = float(np.degrees(np.arccos(np.clip(abs(step @ normal) / np.linalg.norm(step), 0.0, 1.0))))
    pix = np.asarray(seg.pixel_array)
    if pix.ndim == 2:
        pix = pix[None]
    frac = str(getattr(seg, "SegmentationType", "")).upper() == "FRACTIONAL"
    scale = float(getattr(seg, "MaximumFractionalValue", 1) or 1) if frac else 1.0
    out: dict[int, NDArray[np.bool_]] = {n: np.zeros((len(pos), pix.shape[1], pix.shape[2]), bool) for n in numbers}
    for f, n in enumerate(segs):
        if n in out:
            out[n][k_of[f]] |= (pix[f] / scale >= threshold) if frac else (pix[f] != 0)
    aff = np.eye(4)
    aff[:3, 0], aff[:3, 1], aff[:3, 2], aff[:3, 3] = row_dir * pss[0, 1], col_dir * pss[0, 0], step, pos[0]
    return out, aff, angle


def sheared_seg(path: Path, seg: Any, numbers: list[int], threshold: float, reference: Volume | None,
                err: Exception) -> tuple[list[NDArray[np.bool_]], Geometry]:
    """A SEG highdicom could not make one volume of: its frames on a sheared stack (a gantry-tilted
    series) placed on ``reference``'s grid by their affine; else an error saying what is wrong."""
    from ..errors import UnsupportedDicomError

    where = f"DICOM SEG {path} (series {getattr(seg, 'SeriesInstanceUID', '?')})"
    try:
        stack, aff, angle = seg_stack(seg, numbers, threshold)
    except NotAStackError as why:
        raise UnsupportedDicomError(
            f"{where}: its frames do not form one regular 3-D grid: {why} (highdicom: {type(err).__name__}: {err}). "
            "Re-export the segmentation on the image grid.") from err
    if angle < 0.01:
        raise UnsupportedDicomError(
            f"{where}: its frames do not form one regular 3-D grid (highdicom: {type(err).__name__}: {err}). "
            "Re-export the segmentation on the image grid.") from err
    if reference is None:
        raise UnsupportedDicomError(
            f"{where}: its frames stack along a vector {angle:.1f} degrees from their planes' normal (drawn on a "
            "gantry-tilted series), a sheared grid no volume of perpendicular axes holds. Pass reference= (the "
            "image, loaded with on_tilt=\"resample\") to place it on the image's grid, as hcc-imaging measure "
            "--on-tilt resample does.") from err
    sform = np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff
    masks, lost = [], []
    for num in numbers:
        placed, outside = place_by_sform(stack[num].transpose(2, 1, 0).astype(np.uint8), sform, reference.geometry)
        masks.append(placed != 0)
        if outside.any():
            lost.append(f"segment {num}: {int(outside.sum())} of its {outside.size} voxels")
    log.info("%s: frames stacked %.1f degrees from their planes' normal (a gantry-tilted series), placed on the image "
             "(series %s) voxel by voxel by their own grid.", where, angle, reference.series_instance_uid or "unknown")
    if lost:
        log.warning("%s lies partly outside the image (series %s, shape %s): %s outside. Check that the SEG belongs "
                    "to this series; a lesion cut by the field is measured smaller than it is.", where,
                    reference.series_instance_uid or "unknown", reference.shape, "; ".join(lost))
    return masks, reference.geometry

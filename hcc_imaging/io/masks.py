"""Read and write label masks: NIfTI, DICOM SEG, DICOM RTSTRUCT and DICOM mask series.

Every reader returns a :class:`~hcc_imaging.volume.LabelVolume` in the project conventions
(LPS mm, array axes (slice, row, col), origin = centre of voxel 0; see
:mod:`hcc_imaging.volume`).

Formats
-------
* **NIfTI** (``.nii``, ``.nii.gz``; also ``.nrrd``, ``.mha``, ``.mhd``): read with SimpleITK,
  which converts NIfTI's RAS world to LPS on read (and back on write).  Integer values are the
  label values (a value beyond the int32 range is refused: it would wrap).  A floating-point mask
  whose values all lie within ``LABEL_TOLERANCE`` (0.001) of integers is a label map (rounded:
  2.9999998 is label 3); one whose values lie in 0..1, not all 0 or 1, is a probability
  (fractional) mask: one label, inside at >= ``fractional_threshold`` (0.5, absolute), with a
  warning saying so; other non-integer values are refused.  NaN is background.  Until 2026-12-05
  any non-integer float map was thresholded at half its maximum (one stray 2.9999998 turned eight
  lesions into one label 1).  NIfTI holds no frame of reference UID, so it is treated
  as "unknown" (compatible with any reference).  A NIfTI without orientation (qform_code and
  sform_code both 0: only the voxel size) is refused; one whose sform and qform place it more
  than a voxel apart is read by the sform (as nibabel does) with a warning naming both and the one
  read, at the corner voxel they place farthest apart.  A sheared sform (a gantry-tilted grid, which
  SimpleITK would replace by the qform) is placed on ``reference`` voxel by voxel by its sform
  (:mod:`._nifti_shear`; refused without a reference; until 2026-12-06 read by the qform, 2.8 mm
  off on a 15 degree tilt).  A single-slice (2-D) NIfTI is
  read with nibabel and placed by its header's 3-D affine (the slice's position and normal, which
  SimpleITK drops); a 2-D NRRD/MHA, which holds no position along the slice normal, is refused.
* **DICOM SEG** (highdicom): segment number = label value (a SEG of ours: the label value each
  segment records, ``"hcc_imaging label value N"``), segment label = name.  FRACTIONAL
  segments are binarised at ``fractional_threshold`` (0.5 of the maximum fractional value).
  A SEG drawn on a gantry-tilted series (frames stacked along a vector oblique to their planes, a
  sheared grid) is placed on ``reference`` voxel by voxel through its frames' grid
  (:mod:`._seg_shear`), as an RTSTRUCT is; without a reference it is refused saying so.
  Overlapping segments cannot live in one label map: :func:`load_mask` refuses them with
  :class:`OverlappingSegmentsError`; :func:`load_segments` returns one LabelVolume per segment.
  The ``"L1 viable"`` segments of a SEG (inside their lesions by design) are left out of
  :func:`load_mask`'s map (:mod:`._seg_viable`), as :func:`~hcc_imaging.export.seg.read_seg` reads them.
* **DICOM RTSTRUCT** (pydicom): needs ``reference`` (the image the contours were drawn on).
  Each CLOSED_PLANAR contour is mapped from LPS to the reference grid and filled in its plane;
  a voxel is inside when its **centre** is inside the polygon (scikit-image ``draw.polygon``).
  Several contours of one ROI in one plane combine by even-odd rule (XOR), so a contour inside
  another is a hole.  Contour planes off the image's slices (a thinner reconstruction, other slice
  positions) are resampled onto them nearest-plane, different planes never XORed (:mod:`._rt_planes`),
  with a warning when planes are more than 0.25 slice spacing off.  ROI number order gives label
  values 1, 2, ... (ROI name = label name).
* **DICOM mask series** (a folder of image files, e.g. 3D-IRCADb ``MASKS_DICOM/liver``): every
  non-zero voxel is label 1, named after the folder.

Geometry policy
---------------
When ``reference`` is given, the mask's frame of reference must match the reference's (or one
of them must be unknown); otherwise :class:`~hcc_imaging.errors.GeometryMismatchError` names
both UIDs.  A mask on a different grid is resampled nearest-neighbour onto the reference grid;
a mask that then has no voxel left (it lies outside the image) is an error, never an empty mask;
a label the image's field cuts (partly or wholly outside it) and a small label the coarser grid
loses are logged as warnings naming them with their voxel counts, and a label with no voxel left
is dropped from the label map's names.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._atomic import atomic_write, format_suffix, write_itk_image
from ..errors import (
    GeometryMismatchError,
    NotDicomError,
    OptionalDependencyError,
    SourceNotFoundError,
    UnsupportedDicomError,
)
from ..volume import LabelVolume, Volume
from ._mask_base import (
    _RTSTRUCT_SOP_CLASS,
    _SEG_SOP_CLASS,
    FRACTIONAL_THRESHOLD,
    ITK_SUFFIXES,
    LABEL_TOLERANCE,  # noqa: F401 - named in the docstring above; importable from here as before
    NIFTI_SUFFIXES,
    MaskFormatError,
    OverlappingSegmentsError,
    _default_names,
    _label_dtype,
    _suffix,
)
from ._mask_dicom import _load_dicom_image_mask, _rtstruct_segments, _seg_segments
from ._mask_gaps import fill_interpolated_slices
from ._mask_nifti import _load_itk, _nifti_image
from ._nifti_shear import load_sheared_nifti, sheared_sform
from ._seg_viable import viable_segment_numbers
from ._zipmask import is_zip_member, zip_member_kind

__all__ = [
    "MaskFormatError",
    "OverlappingSegmentsError",
    "load_mask",
    "load_lesion_masks",
    "load_lesion_map",
    "LABEL_NAMES_FILE",
    "read_label_names",
    "load_segments",
    "save_mask",
    "NIFTI_SUFFIXES",
    "ITK_SUFFIXES",
    "FRACTIONAL_THRESHOLD",
]

log = logging.getLogger(__name__)
# the readers (NIfTI / ITK: ``_mask_nifti``; DICOM SEG, RTSTRUCT, mask series: ``_mask_dicom``) and
# what they share (``_mask_base``) live beside this module since the session of 2026-12-07 (tenth)

# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------

def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _mask_files(files: Sequence[Path]) -> list[tuple[Path, str]]:
    """The mask files among ``files`` (NIfTI / NRRD / MHA by suffix, DICOM SEG / RTSTRUCT by SOP
    class), each with its kind; DICOM images and anything else are left out."""
    import pydicom

    out: list[tuple[Path, str]] = []
    for f in files:
        suf = _suffix(f)
        if suf in NIFTI_SUFFIXES or suf in ITK_SUFFIXES:
            out.append((f, "NIfTI" if suf in NIFTI_SUFFIXES else suf.lstrip(".").upper()))
        elif _is_dicom(f):
            try:
                sop = str(pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPClassUID"]).get("SOPClassUID", ""))
            except Exception:  # noqa: BLE001 - an unreadable file is the series loader's to report
                continue
            if sop in (_SEG_SOP_CLASS, _RTSTRUCT_SOP_CLASS):
                out.append((f, "DICOM SEG" if sop == _SEG_SOP_CLASS else "RTSTRUCT"))
    return out


def _read_header(path: Path) -> Any:
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception as err:  # pydicom raises several types for broken files
        raise NotDicomError(
            f"{path} could not be read as DICOM ({type(err).__name__}: {err}). "
            "Masks are read from NIfTI (.nii/.nii.gz), DICOM SEG, DICOM RTSTRUCT or a folder of "
            "DICOM mask images; check the path."
        ) from err


def _label_counts(labels: LabelVolume) -> dict[int, int]:
    """Voxels per nonzero label value."""
    vals, counts = np.unique(np.asarray(labels.array), return_counts=True)
    return {int(v): int(c) for v, c in zip(vals, counts, strict=True) if v != 0}


def _outside_counts(labels: LabelVolume, reference: Volume) -> dict[int, int]:
    """Voxels per label whose centre lies outside ``reference``'s field (more than half a voxel
    beyond its outer voxel centres): what resampling onto it cuts away."""
    arr = np.asarray(labels.array)
    idx = np.argwhere(arr != 0)
    if idx.size == 0:
        return {}
    ijk = np.asarray(reference.geometry.lps_to_index(labels.index_to_lps(idx.astype(float))), float).reshape(-1, 3)
    out = ~np.all((ijk >= -0.5) & (ijk <= np.asarray(reference.shape) - 0.5), axis=1)
    if not out.any():
        return {}
    vals, counts = np.unique(arr[tuple(idx[out].T)], return_counts=True)
    return {int(v): int(c) for v, c in zip(vals, counts, strict=True)}


def _report_losses(labels: LabelVolume, before: Mapping[int, int], outside: Mapping[int, int],
                   reference: Volume, source: str) -> LabelVolume:
    """After resampling a mask onto ``reference``: warn of the labels the image's field cut (partly
    or wholly outside it) and of those the coarser grid lost, with their voxel counts; a label with
    no voxel left loses its name too (it is no longer in the map)."""
    after = _label_counts(labels)
    names_before = dict(labels.labels)
    ref = f"the image (series {reference.series_instance_uid or 'unknown'}, shape {reference.shape})"
    cut = [f"{labels.labels.get(v) or v} ({outside[v]} of its {before[v]} voxels outside; {after.get(v, 0)} left "
           "on the image's grid)" for v in sorted(outside)]
    if cut:
        log.warning("mask %s lies partly outside %s: %s. Check that the mask belongs to this series (or give the "
                    "series it was drawn on); a lesion cut by the field is measured smaller than it is.",
                    source, ref, "; ".join(cut))
    lost = sorted(v for v in before if v not in after and v not in outside)
    if lost:
        log.warning("mask %s: label%s %s (%s voxels on the mask's grid) vanished when resampled nearest-neighbour "
                    "onto %s, whose voxels are coarser; dropped from the label map. Draw it on the image's own grid "
                    "to keep it.", source, "s" if len(lost) > 1 else "",
                    ", ".join(str(labels.labels.get(v) or v) for v in lost), ", ".join(str(before[v]) for v in lost),
                    ref)
    gone = [v for v in labels.labels if v not in after]
    if gone:
        labels = replace(labels, labels={k: n for k, n in labels.labels.items() if k in after})
    if outside or lost:
        # for callers that must not only log it (the batch records it per lesion), in ``meta``:
        # "cut_by_field": label name -> [voxels outside the image's field, voxels on the mask's
        # grid, voxels left on the image's]; "lost_on_grid": label name -> voxels on the mask's grid
        cut_by = {str(names_before.get(v) or v): [int(outside[v]), int(before[v]), int(after.get(v, 0))]
                  for v in sorted(outside)}
        lost_on = {str(names_before.get(v) or v): int(before[v]) for v in lost}
        labels = replace(labels, meta={**labels.meta, **({"cut_by_field": cut_by} if cut_by else {}),
                                       **({"lost_on_grid": lost_on} if lost_on else {})})
    return labels


def _fit_to_reference(labels: LabelVolume, reference: Volume | None, source: str, *, fill: bool = True) -> LabelVolume:
    """Check the frame of reference and resample nearest-neighbour onto ``reference``; with
    ``fill``, fill the slices ``reference`` interpolated (:mod:`._mask_gaps`)."""
    if reference is None:
        return labels
    m_for = labels.frame_of_reference_uid
    r_for = reference.frame_of_reference_uid
    if m_for and r_for and m_for != r_for:
        raise GeometryMismatchError(
            f"mask {source} is in frame of reference {m_for}, but the reference image "
            f"(series {reference.series_instance_uid or 'unknown'}) is in frame of reference {r_for}. "
            "Their patient coordinates are not comparable, so the mask cannot be placed on the image. "
            "Pass the image series the mask was drawn on as `reference`, or register the two "
            "(hcc_imaging.segment.register_volumes) and move the mask with Registration.resample_labels."
        )
    had_voxels = bool(np.any(labels.array))
    if not labels.geometry.equals(reference.geometry):
        log.info("resampling mask %s nearest-neighbour onto the reference grid %s", source, reference.shape)
        before = _label_counts(labels)
        outside = _outside_counts(labels, reference)
        labels = labels.resample_to(reference)
        if had_voxels and not np.any(labels.array):
            raise GeometryMismatchError(
                f"mask {source} lies entirely outside the reference image grid (shape {reference.shape}, "
                f"origin {tuple(round(o, 1) for o in reference.origin)} mm); nothing is left after resampling. "
                "Check that `reference` is the series the mask was drawn on."
            )
        labels = _report_losses(labels, before, outside, reference, source)
    # on the reference's grid, with its geometry exactly: a NIfTI stores spacing and origin as
    # float32, so a mask read back "equals" its image's grid within ~1e-6 mm but would measure
    # volumes and lengths from the rounded values
    labels = replace(
        labels,
        geometry=reference.geometry,
        frame_of_reference_uid=r_for or m_for,
        source_series_instance_uid=reference.series_instance_uid or labels.source_series_instance_uid,
    )
    return fill_interpolated_slices(labels, reference, source) if fill else labels


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------
def _kind(path: Path) -> tuple[str, Path]:
    """Classify ``path`` as nifti / itk / seg / rtstruct / series; returns (kind, file or folder)."""
    if is_zip_member(path):  # a SEG / RTSTRUCT inside a zip SOURCE ("ZIP::member"): no file of that name
        return zip_member_kind(path, {_SEG_SOP_CLASS: "seg", _RTSTRUCT_SOP_CLASS: "rtstruct"})
    if not path.exists():
        raise SourceNotFoundError(f"mask path {path} does not exist. Pass a NIfTI file, a DICOM SEG or RTSTRUCT file, or a folder holding a mask series.")
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        if not files:
            subs = [p.name for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")]
            if subs:
                shown = ", ".join(subs[:8]) + (", ..." if len(subs) > 8 else "")
                raise MaskFormatError(
                    f"mask folder {path} holds no files but {len(subs)} folder(s) ({shown}): a mask is one file or one "
                    f"folder of mask images. Pass one of them, e.g. {path / subs[0]}.")
            raise MaskFormatError(f"mask folder {path} is empty.")
        if len(files) == 1:
            k, _ = _kind(files[0])
            if k in ("seg", "rtstruct"):
                return k, files[0]
            if k in ("nifti", "itk"):
                return k, files[0]
        # a folder of mask images holds nothing else: a mask file in it (a SEG beside a NIfTI, the
        # batch's lesions / viable / liver maps) was read as an image of the series (a duplicate-
        # position or "no DICOM files" error that named neither)
        others = _mask_files(files)
        if others:
            shown = ", ".join(f"{f.name} ({k})" for f, k in others[:6]) + (", ..." if len(others) > 6 else "")
            pick = next((f for f, _ in others if f.name.lower().startswith("lesion")), others[0][0])
            raise MaskFormatError(
                f"mask folder {path} holds {len(others)} mask file(s) ({shown}) among its {len(files)} file(s), "
                f"so it is not one folder of mask images: pass one mask file, e.g. {pick} (a NIfTI lesion map's "
                "viable.nii.gz and labels.json beside it are read with it).")
        return "series", path
    suf = _suffix(path)
    if suf in NIFTI_SUFFIXES:
        return "nifti", path
    if suf in ITK_SUFFIXES:
        return "itk", path
    hdr = _read_header(path) if (_is_dicom(path) or suf in (".dcm", "")) else None
    if hdr is None:
        raise MaskFormatError(
            f"{path}: unknown mask format {suf!r}. Supported: NIfTI (.nii, .nii.gz), NRRD/MHA, DICOM SEG, "
            "DICOM RTSTRUCT, or a folder of DICOM mask images."
        )
    sop = str(getattr(hdr, "SOPClassUID", ""))
    if sop == _SEG_SOP_CLASS:
        return "seg", path
    if sop == _RTSTRUCT_SOP_CLASS:
        return "rtstruct", path
    if "PixelData" in hdr or hasattr(hdr, "Rows"):
        return "series", path
    raise UnsupportedDicomError(
        f"{path} is DICOM of SOP class {sop or 'unknown'} ({getattr(hdr, 'Modality', '?')}), which holds no mask. "
        "Pass a DICOM SEG, an RTSTRUCT, or a DICOM image series whose non-zero voxels are the mask."
    )


def load_segments(
    path: str | os.PathLike[str],
    reference: Volume | None = None,
    *,
    structures: Sequence[str] | None = None,
    fractional_threshold: float = FRACTIONAL_THRESHOLD,
    _fill: bool = True,
) -> dict[int, LabelVolume]:
    """Load every segment / ROI of a mask file as its own single-label LabelVolume.

    Use this for DICOM SEG or RTSTRUCT files whose segments overlap (e.g. liver and tumour),
    which :func:`load_mask` refuses to merge into one label map.

    Parameters
    ----------
    path : path
        DICOM SEG, RTSTRUCT, NIfTI or DICOM mask series (see the module docstring).
    reference : Volume, optional
        Image to place each mask on (required for RTSTRUCT).
    structures : sequence of str, optional
        RTSTRUCT ROI names / SEG segment labels to keep (default: all).
    fractional_threshold : float
        Inside at >= this value (FRACTIONAL SEG, float NIfTI probability map).

    Returns
    -------
    dict of int -> LabelVolume
        Keyed by segment number (SEG), ROI number (RTSTRUCT) or label value (NIfTI); each map
        holds that value as its only label, named after the segment / ROI.  A segment of a SEG
        written by hcc_imaging also gives the label value it records in
        ``meta["recorded_label_value"]`` (what :func:`load_mask` uses).  On a ``reference``
        whose missing slices were interpolated, each map's slices there are filled from its drawn
        neighbours (``meta["filled_slices"]``; :mod:`._mask_gaps`).
    """
    p = Path(path)
    kind, f = _kind(p)
    segs: list[tuple[int, str, NDArray[np.bool_]]]
    recorded: dict[int, int] = {}
    rt_cut: dict[int, list[int]] = {}
    if kind == "seg":
        segs, geom, for_uid, src, recorded = _seg_segments(f, fractional_threshold, reference)
    elif kind == "rtstruct":
        segs, geom, for_uid, rt_cut = _rtstruct_segments(f, reference, structures)
        src = reference.series_instance_uid if reference is not None else None
    else:
        lv = load_mask(p, reference, fractional_threshold=fractional_threshold)
        return {
            v: replace(lv, array=np.where(lv.array == v, v, 0).astype(lv.array.dtype), labels={v: lv.labels.get(v, f"L{v}")})
            for v in lv.present_labels()
        }
    if structures is not None and kind == "seg":
        known = [s[1] for s in segs]
        missing = [w for w in structures if w not in known]
        if missing:
            raise MaskFormatError(f"DICOM SEG {f} has no segment labelled {missing}; its segments are {known}. Fix `structures=`.")
        segs = [s for s in segs if s[1] in structures]
    out: dict[int, LabelVolume] = {}
    for num, name, mask in segs:
        lv = LabelVolume(
            array=(mask.astype(_label_dtype(num)) * num),
            geometry=geom,
            labels={num: name},
            frame_of_reference_uid=for_uid,
            source_series_instance_uid=src,
            meta={"source_file": f.name, "format": kind,
                  **({"recorded_label_value": recorded[num]} if num in recorded else {})},
        )
        if kind == "rtstruct":
            # already filled on the reference grid (reference is required for RTSTRUCT)
            ref_for = reference.frame_of_reference_uid if reference is not None else None
            lv = replace(lv, frame_of_reference_uid=ref_for or for_uid)
            if num in rt_cut:
                n_out, n, left = rt_cut[num]
                log.warning("RTSTRUCT %s: ROI %r has contours on no slice of the image (series %s, %d slices): %d of "
                            "its %d voxels outside; %d left. Check that every file of the series was read and that "
                            "the contours belong to it; a lesion cut by the field is measured smaller than it is.",
                            f.name, name, reference.series_instance_uid if reference is not None else "unknown",
                            geom.shape[0], n_out, n, left)
                lv = replace(lv, meta={**lv.meta, "cut_by_field": {name: [n_out, n, left]}})
            if _fill and reference is not None:
                lv = fill_interpolated_slices(lv, reference, f"{f.name} ROI {name!r}")
            out[num] = lv
        else:
            out[num] = _fit_to_reference(lv, reference, f"{f.name} segment {num} ({name})", fill=_fill)
    return out


def load_mask(
    path: str | os.PathLike[str],
    reference: Volume | None = None,
    *,
    label_names: Mapping[int, str] | None = None,
    structures: Sequence[str] | None = None,
    fractional_threshold: float = FRACTIONAL_THRESHOLD,
) -> LabelVolume:
    """Load a mask file as one :class:`LabelVolume`, optionally placed on ``reference``'s grid.

    Parameters
    ----------
    path : path
        NIfTI (``.nii``/``.nii.gz``; NRRD/MHA too), DICOM SEG, DICOM RTSTRUCT, or a folder (or
        file) of DICOM images whose non-zero voxels are the mask (3D-IRCADb ``MASKS_DICOM/x``).
    reference : Volume, optional
        The image the mask belongs to.  Required for RTSTRUCT.  When given, the frames of
        reference must match (or one be unknown) and the mask is resampled nearest-neighbour
        onto its grid if the grids differ.
    label_names : mapping int -> str, optional
        Names for label values, overriding the defaults (SEG segment label, RTSTRUCT ROI name,
        mask-series folder name, ``"L<value>"`` for NIfTI).
    structures : sequence of str, optional
        RTSTRUCT ROI names / SEG segment labels to keep (default: all).
    fractional_threshold : float
        A fractional SEG segment or a float NIfTI probability map (values 0..1) is inside at
        >= this value (absolute).  Default 0.5.

    Returns
    -------
    LabelVolume
        Label values: for a SEG written by hcc_imaging (``hcc-imaging export seg``, ``segment``,
        ``batch``), the label value each segment records (``"hcc_imaging label value N"`` in its
        SegmentDescription: lesion L4 stays 4, as :func:`~hcc_imaging.export.seg.read_seg` reads
        it), for other SEGs the segment numbers; RTSTRUCT ROIs numbered 1, 2, ... in ROI-number
        order; NIfTI values as stored; 1 for a DICOM mask series.

    Raises
    ------
    OverlappingSegmentsError
        SEG segments or RTSTRUCT ROIs overlap (use :func:`load_segments` or ``structures=``).
        The viable-part segments of a SEG (``"L1 viable"``, written by hcc_imaging inside their
        lesions) are not an overlap: without ``structures=`` they are left out (named in
        ``meta["viable_segments_left_out"]``), so the map holds the lesions, as
        :func:`~hcc_imaging.export.seg.read_seg`'s ``lesions`` (its ``viable`` has the viable parts;
        ``structures=["L1 viable"]`` picks one here).  A SEG of viable parts only is read as it is.
    GeometryMismatchError
        Frames of reference differ, or the mask lies outside ``reference``.
    MaskFormatError, UnsupportedDicomError, NotDicomError
        The file is not a mask in a supported format.
    """
    p = Path(path)
    kind, f = _kind(p)
    if kind in ("nifti", "itk"):
        nii = _nifti_image(f) if _suffix(f) in NIFTI_SUFFIXES else None
        sform = sheared_sform(nii) if nii is not None else None
        if sform is not None:
            return load_sheared_nifti(f, nii, sform, reference, label_names, fractional_threshold)
        lv = _load_itk(f, label_names, fractional_threshold)
        return _fit_to_reference(lv, reference, f.name)
    if kind == "series":
        arr, geom, for_uid, series_uid = _load_dicom_image_mask(f)
        name = f.name if f.is_dir() else f.stem
        lv = LabelVolume(
            array=(np.asarray(arr) != 0).astype(np.uint8),
            geometry=geom,
            labels=_default_names([1], label_names or {1: name}),
            frame_of_reference_uid=for_uid,
            source_series_instance_uid=None,
            meta={"source_file": f.name, "format": "dicom_series", "mask_series_instance_uid": series_uid or ""},
        )
        return _fit_to_reference(lv, reference, str(f.name))
    # (the label map's interpolated slices are filled once merged: segments filled one by one could clash)
    segs = load_segments(f, reference, structures=structures, fractional_threshold=fractional_threshold, _fill=False)
    left_out = viable_segment_numbers(f) if kind == "seg" and structures is None else {}
    segs = {n: lv for n, lv in segs.items() if n not in left_out}  # inside their lesions (read_seg's viable map)
    if not segs:
        raise MaskFormatError(f"{f}: no segment matched structures={list(structures or [])}.")
    items = sorted(segs.items())
    if kind == "rtstruct":
        # RTSTRUCT ROI numbers are arbitrary (often 1000+); relabel 1..n in ROI order.
        items = [(i + 1, replace(lv, array=(lv.array != 0).astype(np.uint8) * (i + 1))) for i, (_, lv) in enumerate(items)]
    else:
        # a SEG of ours records each segment's label value (L3 = 3, however many segments precede it):
        # keep it, as read_seg does; other SEGs (or ours with two segments recording one value): the
        # segment number
        rec = [lv.meta.get("recorded_label_value") for _, lv in items]
        if all(v is not None for v in rec) and len(set(rec)) == len(rec):
            items = [(int(v), replace(lv, array=(lv.array != 0).astype(_label_dtype(int(v))) * int(v)))  # type: ignore[arg-type]
                     for v, (_, lv) in zip(rec, items, strict=True)]
    first = items[0][1]
    out = np.zeros(first.shape, dtype=_label_dtype(max(v for v, _ in items)))
    names: dict[int, str] = {}
    for value, lv in items:
        m = lv.array != 0
        clash = m & (out != 0)
        if np.any(clash):
            other = names[int(out[clash][0])]
            this = next(iter(lv.labels.values()))
            raise OverlappingSegmentsError(
                f"{f}: segment {this!r} overlaps segment {other!r} in {int(clash.sum())} voxels, so they cannot "
                "share one label map. Load them separately with hcc_imaging.io.masks.load_segments(), or pick "
                "the ones you need with structures=[...]."
            )
        out[m] = value
        names[value] = next(iter(lv.labels.values()))
    # segments (ROIs) sharing a name are distinct lesions: "Tumor", "Tumor (2)" ... as read_seg names
    # them (two lesions of one id were measured as two rows of "Tumor", and a read refused them)
    taken, seen = set(names.values()), set()
    for value in sorted(names):
        name = names[value]
        if name in seen:
            k = 2
            while f"{name} ({k})" in taken:
                k += 1
            names[value] = f"{name} ({k})"
            taken.add(names[value])
        seen.add(name)
    if label_names:
        names.update({int(k): str(v) for k, v in label_names.items()})
    meta = {k: v for k, v in first.meta.items() if k not in ("recorded_label_value", *_LOSS_KEYS)}
    # each segment's losses on the image (cut by its field, lost on its grid), under its final name:
    # the first segment's alone were kept, so a later lesion cut by a dropped end slice went unrecorded
    for key in _LOSS_KEYS:
        merged = {names[value]: rec for value, lv in items for rec in (lv.meta.get(key) or {}).values()}
        if merged:
            meta[key] = merged
    if left_out:
        meta["viable_segments_left_out"] = sorted(left_out.values())
    merged_map = replace(first, array=out, labels=names, meta=meta)
    return fill_interpolated_slices(merged_map, reference, f.name) if reference is not None else merged_map


#: The ``meta`` keys of a mask's losses when placed on an image (:func:`_report_losses`).
_LOSS_KEYS = ("cut_by_field", "lost_on_grid")

#: Beside a NIfTI lesion map: label value -> lesion id (and organ), as ``hcc-imaging batch`` saves it.
LABEL_NAMES_FILE = "labels.json"
#: Beside a NIfTI lesion map: its viable (enhancing) parts, same label values.
VIABLE_MASK_FILES = ("viable.nii.gz", "viable.nii")


def read_label_names(path: str | os.PathLike[str]) -> tuple[dict[int, str], dict[str, str]]:
    """A ``labels.json``: (label value -> lesion id, lesion id -> organ).  It holds
    ``{"labels": {"1": "L4", ...}, "organs": {"L4": "liver"}}`` (``organs`` optional) or the label
    mapping alone.

    Raises
    ------
    MaskFormatError
        The file cannot be read as such a mapping, or gives two label values one lesion id (two
        lesions would be measured as one id: two rows, and a read failing on another lesion).
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        names = doc.get("labels", doc) if isinstance(doc, dict) else None
        labels = {int(k): str(v) for k, v in names.items()}  # type: ignore[union-attr]
        organs = {str(k): str(v) for k, v in (doc.get("organs") or {}).items()}
    except (OSError, json.JSONDecodeError, AttributeError, TypeError, ValueError) as err:
        raise MaskFormatError(f"{path}: not a labels file ({err}); expected "
                              '{"labels": {"1": "L1", "2": "L2"}} (label value -> lesion id), or remove it '
                              "(label n is then Ln).") from err
    seen: dict[str, list[int]] = {}
    for value, lid in sorted(labels.items()):
        seen.setdefault(lid, []).append(value)
    dups = {lid: values for lid, values in seen.items() if len(values) > 1}
    if dups:
        raise MaskFormatError(
            f"{path}: " + "; ".join(f"label values {', '.join(map(str, v))} are all lesion id {lid!r}"
                                    for lid, v in sorted(dups.items()))
            + ". Each lesion id names one lesion: give each label value its own id (or merge the labels in the mask).")
    return labels, organs


def load_lesion_map(path: str | os.PathLike[str], reference: Volume | None) -> tuple[LabelVolume, dict[str, str]]:
    """A lesion label map and each lesion's organ: a NIfTI (or NRRD/MHA) label map named by the
    ``labels.json`` beside it when there (label value -> lesion id, lesion id -> organ: what
    ``hcc-imaging batch`` saves; without it label n is lesion ``Ln``), any other mask as
    :func:`load_mask` reads it (organs: a SEG's anatomic regions; others none).  What ``hcc-imaging measure`` and ``export seg`` read
    ``--masks`` / ``--labels`` with, and :func:`load_lesion_masks` a NIfTI map.

    Returns (lesions on ``reference``, lesion id -> organ).
    """
    p = Path(path)
    kind, f = _kind(p)
    if kind in ("nifti", "itk"):
        side = f.parent / LABEL_NAMES_FILE
        names, organs = read_label_names(side) if side.is_file() else ({}, {})
        return load_mask(f, reference, label_names=names or None), organs
    lesions = load_mask(f, reference)
    if kind == "seg":
        from ..export.seg import seg_organs

        return lesions, seg_organs(f)
    return lesions, {}


def load_lesion_masks(
    path: str | os.PathLike[str], reference: Volume
) -> tuple[LabelVolume, LabelVolume | None, dict[str, str]]:
    """A lesion label map on ``reference`` with its viable parts and each lesion's organ, from the
    files a reader or a run gives:

    * a DICOM SEG: our lesion and ``"Ln viable"`` segments and their anatomic regions
      (:func:`hcc_imaging.export.seg.read_seg`), or any SEG;
    * a DICOM RTSTRUCT (lesions only, no organs);
    * a NIfTI label map, with the ``labels.json`` (lesion ids, organs) and ``viable.nii.gz`` beside
      it when they are there: what ``hcc-imaging batch`` saves as ``OUT/masks/<study>/``.

    Returns (lesions, viable or None, lesion id -> organ).
    """
    p = Path(path)
    kind, f = _kind(p)
    if kind == "seg":
        from ..export.seg import read_seg

        rd = read_seg(f, reference=reference)
        return rd.lesions, rd.viable, dict(rd.organs)
    if kind in ("nifti", "itk"):
        lesions, organs = load_lesion_map(f, reference)
        via = next((f.parent / n for n in VIABLE_MASK_FILES if (f.parent / n).is_file() and f.parent / n != f), None)
        viable = load_mask(via, reference, label_names=dict(lesions.labels)) if via is not None else None
        return lesions, viable, organs
    return load_mask(f, reference), None, {}


def _atomic_itk_write(labels: LabelVolume, path: Path) -> None:
    arr = np.asarray(labels.array)
    if arr.dtype == np.int64 or arr.dtype == np.uint64 or arr.dtype == np.uint32:
        mx = int(arr.max()) if arr.size else 0
        arr = arr.astype(_label_dtype(mx))
    img = labels.with_array(np.ascontiguousarray(arr)).to_sitk()
    atomic_write(path, lambda tmp: write_itk_image(img, tmp), tmp_suffix=format_suffix(path))


def save_mask(labels: LabelVolume, path: str | os.PathLike[str], *, reference: Volume | None = None) -> Path:
    """Write ``labels`` to ``path``; the format follows the extension.

    * ``.nii`` / ``.nii.gz`` (and ``.nrrd``, ``.mha``): SimpleITK, LPS converted to the file's
      world convention on write; written atomically (temp file + ``os.replace``).  Label names
      are not stored in NIfTI: pass ``label_names=`` to :func:`load_mask` when reading back.
    * ``.dcm``: DICOM SEG through :func:`hcc_imaging.export.seg.write_seg` (needs ``reference``,
      the source image, for the SEG's references and geometry).

    Returns
    -------
    Path
        The written file.
    """
    p = Path(path)
    if not isinstance(labels, LabelVolume):
        raise TypeError(f"save_mask needs a LabelVolume, got {type(labels).__name__}. Wrap arrays with LabelVolume.like(image, array).")
    suf = _suffix(p)
    if suf in NIFTI_SUFFIXES or suf in ITK_SUFFIXES:
        if reference is not None and not labels.geometry.equals(reference.geometry):
            labels = _fit_to_reference(labels, reference, "to save")
        _atomic_itk_write(labels, p)
        return p
    if suf == ".dcm":
        try:
            import importlib

            write_seg = importlib.import_module("hcc_imaging.export.seg").write_seg
        except (ImportError, AttributeError) as err:
            raise OptionalDependencyError(
                f"cannot write {p}: DICOM SEG export (hcc_imaging.export.seg.write_seg) is not available in this "
                "installation. Save the mask as NIfTI instead (give the output a .nii.gz name)."
            ) from err
        if reference is None:
            raise MaskFormatError(
                f"cannot write DICOM SEG {p} without `reference=` (the source image Volume): a SEG must reference "
                "the images it was drawn on. Pass reference=, or save as .nii.gz."
            )
        result = write_seg(labels, p, reference=reference)
        return Path(result) if isinstance(result, (str, os.PathLike)) else p
    raise MaskFormatError(
        f"cannot write {p}: unknown mask extension {suf!r}. Use .nii.gz (NIfTI) or .dcm (DICOM SEG)."
    )

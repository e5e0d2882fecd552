"""DICOM Segmentation (SEG) of each lesion and of its viable part, written and read with highdicom.

One BINARY SEG per series: segment ``"L1"`` (the whole lesion), ``"L1 viable"`` (its viable,
enhancing part, when a viable label map is given), ``"L2"`` ... .  Segments may overlap (the
viable part lies inside the lesion), which DICOM SEG allows.  Every segment carries the
lesion's tracking identifier and tracking UID (the same UID the SR measurement group uses),
the label value it had in the :class:`~hcc_imaging.volume.LabelVolume` (in
``SegmentDescription``, so a read gives back identical label maps), and references the
source CT/MR images by SOP Instance UID.

Coded segment properties: category *Morphologically abnormal structure* (SCT 49755003), type
*Neoplasm* (SCT 108369006), anatomic region *Liver* (SCT 10200004) unless the lesion is a node.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import GeometryMismatchError, HccImagingError, UnsupportedDicomError
from .constants import MANUFACTURER, SEG_SERIES_NUMBER

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from ..volume import LabelVolume, Volume
    from .deid import Deidentifier

__all__ = [
    "SegExportError",
    "SegInfo",
    "SegRead",
    "write_seg",
    "read_seg",
    "seg_organs",
    "load_source_datasets",
    "seg_info_from_file",
    "derived_frame_of_reference_uid",
    "viable_tracking_uid",
    "VIABLE_SUFFIX",
]

log = logging.getLogger(__name__)

#: Segment label suffix of a lesion's viable part: ``"L1 viable"``.
VIABLE_SUFFIX = " viable"
_LABEL_VALUE_PREFIX = "hcc_imaging label value "


class SegExportError(HccImagingError, ValueError):
    """A SEG cannot be written or read as asked (no source images, empty labels ...)."""


@dataclass(frozen=True, slots=True)
class SegInfo:
    """What :func:`write_seg` wrote: enough for the SR to reference each segment."""

    path: Path
    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    #: segment label ("L1", "L1 viable") -> segment number
    segments: Mapping[str, int] = field(default_factory=dict)
    #: segment label -> tracking UID
    tracking_uids: Mapping[str, str] = field(default_factory=dict)
    #: source SOP Instance UIDs, in slice order of the label array
    source_sop_instance_uids: tuple[str, ...] = ()
    source_sop_class_uid: str = ""
    #: the series the SEG was drawn on (its Referenced Series), and the study date (YYYYMMDD, "" unknown)
    source_series_instance_uid: str = ""
    study_date: str = ""


@dataclass(frozen=True, slots=True)
class SegRead:
    """A SEG read back: lesion label map, viable label map (or None), and segment metadata."""

    lesions: LabelVolume
    viable: LabelVolume | None
    segment_labels: Mapping[int, str]
    tracking_uids: Mapping[str, str]
    #: lesion id -> the organ of its segment's anatomic region (``"liver"``, ``"lymph_node"`` ...;
    #: ``export.codes.organ_of_code``), for segments that have one
    organs: Mapping[str, str] = field(default_factory=dict)
    #: lesion id -> its lesion kind for segments whose property type is a fluid (``"ascites"``,
    #: ``"effusion"``; ``export.codes.fluid_of_code``); the others are lesions
    kinds: Mapping[str, str] = field(default_factory=dict)
    #: segment label -> why it is not in the lesion map: anatomy (a liver, an organ) beside lesion
    #: segments in another tool's SEG (:func:`read_seg`)
    left_out: Mapping[str, str] = field(default_factory=dict)


def derived_frame_of_reference_uid(source: Volume) -> str:
    """The frame of reference UID to use for ``source``: its own, or - for series that have
    none (seen in real archives, e.g. 3D-IRCADb) - a UID derived deterministically from the
    series instance UID, so the SEG and the SR of the same series agree on it across runs."""
    if source.frame_of_reference_uid:
        return str(source.frame_of_reference_uid)
    from pydicom.uid import generate_uid

    key = str(source.series_instance_uid or source.meta.get("source_files", [""])[0] if source.meta else "")
    return str(generate_uid(entropy_srcs=["hcc_imaging frame of reference", key]))


def viable_tracking_uid(lesion_tracking_uid: str) -> str:
    """The tracking UID of the viable part (segment ``"L1 viable"``) of the lesion whose tracking
    UID is ``lesion_tracking_uid``: derived from it (a name-based UUID, ``2.25.<integer>``), so
    every SEG that gives the lesion its UID gives its viable part the same one."""
    import uuid

    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, str(lesion_tracking_uid) + VIABLE_SUFFIX).int}"


def load_source_datasets(source: Volume) -> list[Dataset]:
    """Headers of the source DICOM files of ``source`` (``source.meta["source_files"]``)."""
    import pydicom

    files = source.meta.get("source_files") if source.meta else None
    if not files:
        raise SegExportError(
            f"series {source.series_instance_uid}: the volume has no source DICOM files "
            "(meta['source_files'] is empty), so the SEG cannot reference its images. Load the "
            "series with hcc_imaging.io.load_series, or pass source_datasets=[...] explicitly."
        )
    out = []
    for f in files:
        try:
            out.append(pydicom.dcmread(f, stop_before_pixels=True))
        except (OSError, pydicom.errors.InvalidDicomError) as err:
            raise SegExportError(
                f"series {source.series_instance_uid}: source file {f} cannot be read ({err}); "
                "the SEG must reference every source slice. Restore the file or reload the series."
            ) from err
    return out


#: Type 2 attributes of the Patient and General Study modules that highdicom copies from the
#: source images into the SEG: present (possibly empty) in a conformant image, absent in stripped
#: exports (dicom2nifti's test series), where highdicom raised a bare AttributeError.
_TYPE2_PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                        "StudyID", "AccessionNumber", "ReferringPhysicianName")


def _with_type2_patient_study(ds: Dataset, slice_spacing_mm: float) -> Dataset:
    """``ds``, or a copy of it with the missing Type 2 patient / study attributes present and
    empty ("unknown", PS3.5 7.4), as the SEG must carry them, and, without SliceThickness (which
    the SEG's pixel measures need), the series' slice spacing as its thickness."""
    missing = [kw for kw in _TYPE2_PATIENT_STUDY if kw not in ds]
    no_thickness = ds.get("SliceThickness") in (None, "") and "PixelSpacing" in ds
    if not missing and not no_thickness:
        return ds
    import copy

    out = copy.copy(ds)
    for kw in missing:
        setattr(out, kw, "")
    if no_thickness:
        out.SliceThickness = f"{slice_spacing_mm:.6g}"
    return out


def _order_datasets(datasets: Sequence[Dataset], source: Volume) -> list[Dataset]:
    """Datasets sorted into the slice order of ``source``'s array (by position)."""
    if len(datasets) == 1 and int(datasets[0].get("NumberOfFrames", 1)) > 1:
        raise UnsupportedDicomError(
            f"series {source.series_instance_uid}: the source is a multi-frame (enhanced) object; "
            "write_seg supports single-frame source series. Convert it to single-frame slices "
            "(e.g. `emf2sf` from dcm4che) or export NIfTI masks instead."
        )
    nslices = source.shape[0]
    by_k: dict[int, Dataset] = {}
    col_dir = np.asarray(source.direction)[:, 2]
    row_dir = np.asarray(source.direction)[:, 1]
    for ds in datasets:
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            raise SegExportError(
                f"source image {ds.get('SOPInstanceUID', '?')} has no ImagePositionPatient/"
                "ImageOrientationPatient; a SEG needs the geometry of each referenced slice."
            )
        iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        if not (np.allclose(iop[:3], col_dir, atol=1e-3) and np.allclose(iop[3:], row_dir, atol=1e-3)):
            raise GeometryMismatchError(
                f"source image {ds.SOPInstanceUID}: its orientation {tuple(iop)} does not match the "
                "volume's row/column directions; the label array would be written transposed or "
                "flipped. Pass the volume loaded from these very files (hcc_imaging.io.load_series)."
            )
        idx = source.lps_to_index([float(v) for v in ds.ImagePositionPatient])
        k = int(round(float(idx[0])))
        if abs(idx[0] - k) > 0.05 or abs(idx[1]) > 0.05 or abs(idx[2]) > 0.05 or not 0 <= k < nslices:
            raise GeometryMismatchError(
                f"source image {ds.SOPInstanceUID} at {tuple(ds.ImagePositionPatient)} is not a slice "
                f"of the volume's grid (index {np.round(idx, 3).tolist()}). Pass the source volume "
                "the labels were drawn on."
            )
        by_k[k] = ds
    missing = [k for k in range(nslices) if k not in by_k]
    if missing:
        raise SegExportError(
            f"series {source.series_instance_uid}: no source image for slice(s) {missing[:10]} of "
            f"{nslices}; every slice of the label array must map to a source image."
        )
    return [by_k[k] for k in range(nslices)]


def _present(arr: np.ndarray) -> list[int]:
    """Non-zero label values present (bincount for small non-negative ints: ~10x np.unique)."""
    a = np.asarray(arr)
    if a.dtype.kind in "ui" and a.size and a.min() >= 0 and a.max() < 65536:
        return [int(v) for v in np.flatnonzero(np.bincount(a.ravel())) if v != 0]
    return [int(v) for v in np.unique(a) if v != 0]


def _segment_plan(
    labels: LabelVolume, viable: LabelVolume | None
) -> list[tuple[str, int, np.ndarray, bool]]:
    """(segment label, label value, mask, is_viable) in segment-number order."""
    plan: list[tuple[str, int, np.ndarray, bool]] = []
    values = _present(labels.array)
    if viable is not None:
        values = sorted(set(values) | set(_present(viable.array)))
    for v in values:
        name = str(labels.labels.get(v, f"L{v}"))
        m = np.asarray(labels.array == v)
        if m.any():
            plan.append((name, v, m, False))
        if viable is not None:
            vm = np.asarray(viable.array == v)
            if vm.any():
                plan.append((name + VIABLE_SUFFIX, v, vm, True))
    return plan


def write_seg(
    labels: LabelVolume,
    source: Volume | str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    *,
    viable: LabelVolume | None = None,
    reference: Volume | None = None,
    source_datasets: Sequence[Dataset] | None = None,
    tracking_uids: Mapping[str, str] | None = None,
    algorithm: tuple[str, str] | None = None,
    series_number: int = SEG_SERIES_NUMBER,
    series_description: str = "hcc_imaging lesion segmentation",
    organs: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    deidentifier: Deidentifier | None = None,
    patient_id: str | None = None,
) -> SegInfo:
    """Write a DICOM SEG of each lesion (and of its viable part) over ``source``.

    Parameters
    ----------
    labels : LabelVolume
        Lesion label map on ``source``'s grid; ``labels.labels`` maps value -> lesion id
        (missing names become ``"L<value>"``).
    source : Volume
        The image the labels were drawn on; its DICOM files come from
        ``source.meta["source_files"]`` unless ``source_datasets`` is given.
    path : path
        Output file (written atomically).
    viable : LabelVolume, optional
        Viable-tumour label map on the same grid, value k = viable part of lesion k.
    tracking_uids : mapping, optional
        Segment label -> tracking UID (e.g. the read's, ``ExportRead.lesions[..].tracking_uid``,
        so the SEGs of every time point and the SR agree); a viable part without one gets
        :func:`viable_tracking_uid` of its lesion's, other segments new UIDs; all are returned in
        :attr:`SegInfo.tracking_uids`.
    organs : mapping, optional
        Lesion id -> organ (``"liver"``, ``"lymph_node"`` ...) for the segment's anatomic
        region; default liver.
    kinds : mapping, optional
        Lesion id -> the read's lesion kind: a fluid (``"ascites"``, ``"effusion"``;
        ``export.codes.FLUID_CODES``) is written with that segmented property type, any other
        segment as a neoplasm.
    algorithm : (name, version), optional
        Segment algorithm type AUTOMATIC with this identification; default SEMIAUTOMATIC
        hcc_imaging.
    deidentifier : Deidentifier, optional
        De-identify the SEG (basic profile) with this map; referenced UIDs are mapped the same
        way as in every other object exported with the same map.

    reference : Volume, optional
        Same as ``source``, for the call style ``write_seg(labels, path, reference=volume)``
        used by :func:`hcc_imaging.io.save_mask`.

    Returns
    -------
    SegInfo

    Raises
    ------
    GeometryMismatchError
        ``labels`` (or ``viable``) is not on ``source``'s grid.
    SegExportError
        No source files, or no lesion voxels at all.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    from .codes import as_code, finding_code, organ_code
    from .deid import atomic_dcmwrite, deidentify_dataset, no_person_name_warnings

    if isinstance(source, (str, os.PathLike)) and path is None:
        source, path = reference, source  # save_mask's call style: write_seg(labels, path, reference=)
    elif source is None:
        source = reference
    if source is None or path is None:
        raise SegExportError(
            "write_seg needs the source image Volume and an output path: "
            "write_seg(labels, source, path) or write_seg(labels, path, reference=source)."
        )
    if not labels.geometry.equals(source.geometry):
        raise GeometryMismatchError(
            f"labels of shape {labels.shape} are not on the grid of source series "
            f"{source.series_instance_uid} (shape {source.shape}); a SEG must be drawn on its "
            "source images. Resample first: labels.resample_to(source)."
        )
    if viable is not None and not viable.geometry.equals(source.geometry):
        raise GeometryMismatchError(
            f"viable label map (shape {viable.shape}) is not on the grid of source series "
            f"{source.series_instance_uid}. Resample first: viable.resample_to(source)."
        )
    plan = _segment_plan(labels, viable)
    if not plan:
        raise SegExportError(
            f"labels on series {source.series_instance_uid} contain no lesion voxels; a SEG "
            "needs at least one non-empty segment. Check the label map (all zeros?)."
        )
    datasets = list(source_datasets) if source_datasets is not None else load_source_datasets(source)
    ordered = [_with_type2_patient_study(ds, float(source.spacing[0])) for ds in _order_datasets(datasets, source)]
    if any("FrameOfReferenceUID" not in ds for ds in ordered):
        # highdicom requires one; give the header copies the derived UID (docs/export.md)
        import copy

        for_uid = derived_frame_of_reference_uid(source)
        ordered = [copy.copy(ds) for ds in ordered]
        for ds in ordered:
            if "FrameOfReferenceUID" not in ds:
                ds.FrameOfReferenceUID = for_uid

    # Algorithm family (CID 7162): the lesion and viable-tumour segmentation of
    # hcc_imaging.segment is region growing + morphology, i.e. "Morphological Operations".
    algo_id = None
    if algorithm is not None:
        algo_id = hd.AlgorithmIdentificationSequence(
            name=str(algorithm[0]),
            family=codes.cid7162.MorphologicalOperations,
            version=str(algorithm[1]),
        )
    tuids = dict(tracking_uids or {})
    organs = {k: v for k, v in (organs or {}).items()}
    organs.update({k + VIABLE_SUFFIX: v for k, v in list(organs.items())})
    descriptions = []
    pixel = np.zeros((len(ordered), source.shape[1], source.shape[2], len(plan)), dtype=bool)
    for n, (name, value, mask, is_viable) in enumerate(plan, start=1):
        pixel[..., n - 1] = mask
        if is_viable and name not in tuids:
            # the viable part's UID follows from its lesion's, so it is the same in every SEG
            # that gives the lesion the same UID (each time point's, segment --viable-out's)
            base = tuids.setdefault(name[: -len(VIABLE_SUFFIX)], str(generate_uid(prefix=None)))
            tuids[name] = viable_tracking_uid(base)
        tuid = tuids.setdefault(name, str(generate_uid(prefix=None)))
        organ = organ_code(str(organs.get(name, "liver")))
        desc = hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=name[:64],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=as_code(finding_code(None if is_viable else (kinds or {}).get(name))),
            algorithm_type="AUTOMATIC" if algo_id is not None else "SEMIAUTOMATIC",
            algorithm_identification=algo_id
            or hd.AlgorithmIdentificationSequence(
                name="hcc_imaging", family=codes.cid7162.MorphologicalOperations, version=__version__
            ),
            tracking_uid=tuid,
            tracking_id=name[:64],
            anatomic_regions=[as_code(organ)],
        )
        desc.SegmentDescription = f"{_LABEL_VALUE_PREFIX}{value}{' (viable part)' if is_viable else ''}"
        descriptions.append(desc)

    with no_person_name_warnings():  # highdicom's name check would print the PatientName
        seg = hd.seg.Segmentation(
            source_images=ordered,
            pixel_array=pixel,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=str(generate_uid()),
            series_number=int(series_number),
            sop_instance_uid=str(generate_uid()),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name="hcc_imaging",
            software_versions=__version__,
            device_serial_number="0",
            content_description="Lesion and viable-tumour segmentation"[:64],
            content_label="LESIONS",
            omit_empty_frames=True,
        )
    seg.SeriesDescription = series_description[:64]
    out_ds: Any = seg
    if deidentifier is not None:
        out_ds = deidentify_dataset(seg, deidentifier, patient_id=patient_id)
        tuids = {k: deidentifier.uid(v) for k, v in tuids.items()}
    written = atomic_dcmwrite(out_ds, path)
    src_uids = [str(ds.SOPInstanceUID) for ds in ordered]
    if deidentifier is not None:
        src_uids = [deidentifier.uid(u) for u in src_uids]
    return SegInfo(
        path=written,
        sop_instance_uid=str(out_ds.SOPInstanceUID),
        sop_class_uid=str(out_ds.SOPClassUID),
        series_instance_uid=str(out_ds.SeriesInstanceUID),
        study_instance_uid=str(out_ds.StudyInstanceUID),
        frame_of_reference_uid=str(out_ds.FrameOfReferenceUID),
        segments={name: n for n, (name, *_rest) in enumerate(plan, start=1)},
        tracking_uids={name: tuids[name] for name, *_rest in plan},
        source_sop_instance_uids=tuple(src_uids),
        source_sop_class_uid=str(ordered[0].SOPClassUID),
        source_series_instance_uid=(deidentifier.uid(str(ordered[0].SeriesInstanceUID)) if deidentifier is not None
                                    else str(ordered[0].SeriesInstanceUID)),
        study_date=str(out_ds.get("StudyDate", "") or ""),
    )


def read_seg(path: str | os.PathLike[str], reference: Volume | None = None) -> SegRead:
    """Read a SEG written by :func:`write_seg` (or any binary/fractional SEG) into label maps.

    Parameters
    ----------
    path : path
        The SEG file.
    reference : Volume, optional
        The image to place the segments on: frames are placed by their plane positions (as
        :func:`hcc_imaging.io.masks.load_mask` places a SEG), so a SEG of only some of its slices,
        or drawn on another series of its frame of reference (resampled nearest-neighbour onto its
        grid), is read too; slices the SEG does not cover are 0.  Without it, the SEG's own grid
        (highdicom's ``get_volume()``).  A FRACTIONAL segment is inside at a fraction >= 0.5
        (``io.masks.FRACTIONAL_THRESHOLD``).

    Returns
    -------
    SegRead
        ``lesions``: label value per lesion (from our ``SegmentDescription`` when present,
        else segment order), named by segment label (segments sharing a label: ``"Tumor"``,
        ``"Tumor (2)"`` ...); ``viable``: segments labelled ``"... viable"``, or None;
        ``organs``: each lesion's anatomic region as an organ name; ``left_out``: anatomy
        segments (a liver beside the tumours) not read as lesions.

    Raises
    ------
    SegExportError
        The file is not a DICOM SEG.
    OverlappingSegmentsError
        Two lesion segments (or two viable parts) share voxels.
    GeometryMismatchError
        The SEG's frame of reference is not the reference's, or it lies outside its grid.
    UnsupportedDicomError
        The SEG's frames do not form one regular 3-D grid.
    """
    import pydicom

    from ..io._dicomparse import dicom_file
    from ..volume import LabelVolume

    try:
        hdr = pydicom.dcmread(dicom_file(path), stop_before_pixels=True)  # (a member of a zip SOURCE too)
    except (OSError, pydicom.errors.InvalidDicomError) as err:
        raise SegExportError(f"{path} is not a readable DICOM SEG ({err}).") from err
    if str(hdr.get("Modality", "")) != "SEG" or "SegmentSequence" not in hdr:
        raise SegExportError(f"{path} is not a readable DICOM SEG: it is a {hdr.get('Modality', '?')} object "
                             "without segments. Pass a DICOM SEG file.")
    segments = hdr.SegmentSequence
    labels_by_num = {int(d.SegmentNumber): str(d.SegmentLabel) for d in segments}
    roles = _segment_roles(segments)
    kept = {n: r for n, r in roles.items() if not r.left_out}
    left_out = {labels_by_num[n]: r.left_out for n, r in roles.items() if r.left_out}
    if left_out:
        log.warning("DICOM SEG %s: %s; not lesions, left out of the lesion map.", path,
                    "; ".join(f"segment {k!r} is {v}" for k, v in left_out.items()))
    tuids = _segment_tracking_uids(segments, roles)
    organs = _segment_organs(segments, roles)
    kinds = _segment_kinds(segments, roles)
    # label values: ours from our SegmentDescription, a viable part its lesion's, others in
    # segment order after every value ours use
    desc_values = {n: _our_label_value(d) for d in segments if (n := int(d.SegmentNumber)) in kept}
    reserved = {v for v in desc_values.values() if v is not None}
    values: dict[int, int] = {}
    by_id: dict[str, int] = {}
    lesion_names: dict[str, int] = {}
    for viable_pass in (False, True):
        for n, r in kept.items():
            if r.viable != viable_pass:
                continue
            v = by_id.get(r.lesion_id) if r.viable else None
            if v is None:
                v = desc_values[n]
                if v is None or v in by_id.values():
                    v = max(reserved | set(by_id.values()) | {0}) + 1
                by_id[r.lesion_id] = v
            values[n] = v
            lesion_names.setdefault(r.lesion_id, v)

    # the frames decoded onto the SEG's own grid (their plane positions; slices it does not cover
    # are 0) and placed on the reference's by geometry, as load_mask reads a SEG: a SEG of only
    # some slices, or drawn on another series of the same frame of reference, is read too (by
    # source SOP Instance UID they were a KeyError, and a SEG without "spatial locations
    # preserved", dcmqi's, a RuntimeError of highdicom's)
    from ..io.masks import FRACTIONAL_THRESHOLD, _fit_to_reference, _seg_segments

    segs, geom, for_uid, src_series, _recorded = _seg_segments(Path(path), FRACTIONAL_THRESHOLD, reference)
    lesion_arr = np.zeros(geom.shape, dtype=np.int32)
    viable_arr = np.zeros(geom.shape, dtype=np.int32)
    has_viable = False
    names = {v: lid for lid, v in lesion_names.items()}
    owner: dict[tuple[bool, int], int] = {}  # (viable map?, label value) -> segment number
    for n, _label, m in segs:
        if n not in kept:
            continue
        viable = kept[n].viable
        arr = viable_arr if viable else lesion_arr
        clash = m & (arr != 0)
        if np.any(clash):
            # one label map holds one lesion per voxel: the later segment took the voxels silently
            from ..io.masks import OverlappingSegmentsError

            other = owner[(viable, int(arr[clash][0]))]
            raise OverlappingSegmentsError(
                f"DICOM SEG {path}: segment {labels_by_num[n]!r} (#{n}) overlaps segment {labels_by_num[other]!r} "
                f"(#{other}) in {int(clash.sum())} voxels, so they cannot both be lesions of one label map (a voxel "
                "belongs to one lesion). Draw the lesions apart in the SEG (or merge them into one segment), or load "
                "its segments one by one with hcc_imaging.io.masks.load_segments()."
            )
        arr[m] = values[n]
        owner[(viable, values[n])] = n
        has_viable = has_viable or viable
    seg_name = Path(path).name
    maps = {}
    for what, arr in (("lesions", lesion_arr), ("viable", viable_arr if has_viable else None)):
        if arr is None:
            continue
        lv = LabelVolume(array=arr, geometry=geom, labels=dict(names), frame_of_reference_uid=for_uid,
                         source_series_instance_uid=src_series, meta={"source_file": seg_name, "format": "seg"})
        if reference is not None:
            lv = _paste_on_grid(lv, reference)
        maps[what] = _fit_to_reference(lv, reference, seg_name if what == "lesions" else f"{seg_name} (viable parts)")
    lesions, vi = maps["lesions"], maps.get("viable")
    return SegRead(lesions=lesions, viable=vi, segment_labels=labels_by_num, tracking_uids=tuids, organs=organs,
                   kinds=kinds, left_out=left_out)


def _paste_on_grid(labels: LabelVolume, reference: Volume) -> LabelVolume:
    """``labels`` copied into a map on ``reference``'s grid when its grid is a block of that grid
    (same directions and spacing, its voxels on the reference's: a SEG that omits empty frames, or
    covers some slices); else ``labels`` as it is (resampled by ``io.masks._fit_to_reference``).
    The same voxels as a nearest-neighbour resampling, without its cost on a large image."""
    g, r = labels.geometry, reference.geometry
    if not (np.allclose(g.direction, r.direction, atol=1e-4) and np.allclose(g.spacing, r.spacing, rtol=1e-4)):
        return labels
    off = np.asarray(r.lps_to_index(g.origin), float).reshape(3)
    k0 = np.rint(off)
    if np.any(np.abs(off - k0) > 1e-3):
        return labels
    lo = k0.astype(int)
    hi = lo + np.asarray(g.shape)
    if np.any(lo < 0) or np.any(hi > np.asarray(r.shape)):
        return labels  # partly outside the image: the resampling reports what it cuts
    out = np.zeros(r.shape, dtype=labels.array.dtype)
    out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = labels.array
    return replace(labels, array=out, geometry=r)


#: Segmented property categories of anatomy, not of a finding: SCT Anatomical Structure and Tissue
#: (and their SNOMED-RT spellings, dcmqi's liver SEG: T-D0050 Tissue / T-62000 Liver).
_ANATOMY_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("123037004", "SCT"), ("85756007", "SCT"), ("T-D000A", "SRT"), ("T-D0050", "SRT"),
)


@dataclass(frozen=True, slots=True)
class _SegmentRole:
    """What a segment is in :func:`read_seg`'s label maps."""

    #: the lesion id it measures (a viable part: its lesion's)
    lesion_id: str
    viable: bool
    #: why it is not in the lesion map ("" = it is)
    left_out: str = ""


def _code_of(item: Any, seq: str) -> tuple[str, str, str]:
    items = item.get(seq) or []
    if not items:
        return "", "", ""
    c = items[0]
    return str(c.get("CodeValue", "")), str(c.get("CodingSchemeDesignator", "")), str(c.get("CodeMeaning", ""))


def _anatomy(d: Any) -> str:
    """Why segment ``d`` is anatomy, not a lesion: its segmented property category is an anatomical
    structure or a tissue, or its type an organ (``export.codes.ORGAN_CODES``: the liver, the
    spleen ...); "" for a finding.  A lymph node is a lesion (a node is measured as one)."""
    from .codes import ORGAN_CODES, CodeDef

    cat = _code_of(d, "SegmentedPropertyCategoryCodeSequence")
    typ = _code_of(d, "SegmentedPropertyTypeCodeSequence")
    if ORGAN_CODES["lymph_node"].matches(typ[0], typ[1]):
        return ""
    organ_type = any(c.matches(typ[0], typ[1]) for c in ORGAN_CODES.values())
    if not organ_type and not any(CodeDef(v, sch, "").matches(cat[0], cat[1]) for v, sch in _ANATOMY_CATEGORIES):
        return ""
    return (f"anatomy (segmented property category {cat[2] or cat[0]} {cat[1]} {cat[0]}, "
            f"type {typ[2] or typ[0]} {typ[1]} {typ[0]})")


def _segment_roles(segments: Any) -> dict[int, _SegmentRole]:
    """Segment number -> its role, in segment-number order.

    * ``"X viable"`` is the viable part of lesion ``X`` (ours: :func:`write_seg`); the k-th segment
      so labelled belongs to the k-th lesion segment labelled ``X``.
    * Lesion segments sharing a label (another tool's ``"Tumor"``, ``"Tumor"``) are distinct lesions:
      ``"Tumor"``, ``"Tumor (2)"`` ... (they were merged into one lesion).
    * Anatomy (category Anatomical Structure / Tissue, or an organ as type: a liver drawn beside its
      tumours) is left out
      of the lesions when the SEG holds a lesion segment too; a SEG of anatomy only is read as it is
      (what is measured is what it holds, as ``load_mask`` and ``measure`` read it).
    """
    items = sorted(((int(d.SegmentNumber), str(d.SegmentLabel), d) for d in segments), key=lambda t: t[0])
    taken = {label for _, label, _ in items}
    anatomy = {n: _anatomy(d) for n, label, d in items if not label.endswith(VIABLE_SUFFIX)}
    any_lesion = len(anatomy) < len(items) or any(not why for why in anatomy.values())
    ids_of: dict[str, list[str]] = {}
    roles: dict[int, _SegmentRole] = {}
    for n, label, _d in items:
        if label.endswith(VIABLE_SUFFIX):
            continue
        same = ids_of.setdefault(label, [])
        lid = label
        if same:
            k = len(same) + 1
            while f"{label} ({k})" in taken:
                k += 1
            lid = f"{label} ({k})"
            taken.add(lid)
        same.append(lid)
        roles[n] = _SegmentRole(lid, False, anatomy[n] if any_lesion else "")
    seen: dict[str, int] = {}
    for n, label, _d in items:
        if not label.endswith(VIABLE_SUFFIX):
            continue
        base = label[: -len(VIABLE_SUFFIX)]
        k = seen[base] = seen.get(base, 0) + 1
        ids = ids_of.get(base, [])
        roles[n] = _SegmentRole(ids[k - 1] if k <= len(ids) else (base if k == 1 else f"{base} ({k})"), True)
    return dict(sorted(roles.items()))


def _our_label_value(d: Any) -> int | None:
    """The label value :func:`write_seg` wrote in a segment's SegmentDescription; None for others'."""
    desc = str(d.get("SegmentDescription", ""))
    if not desc.startswith(_LABEL_VALUE_PREFIX):
        return None
    try:
        return int(desc[len(_LABEL_VALUE_PREFIX):].split()[0])
    except (ValueError, IndexError):
        return None


def _role_key(role: _SegmentRole) -> str:
    """The key of a segment in :class:`SegRead`'s mappings: its lesion id, a viable part's ``"Ln viable"``."""
    return role.lesion_id + VIABLE_SUFFIX if role.viable else role.lesion_id


def _segment_tracking_uids(segments: Any, roles: Mapping[int, _SegmentRole]) -> dict[str, str]:
    """Lesion id (a viable part: ``"Ln viable"``) -> tracking UID of the segments in the lesion maps."""
    out: dict[str, str] = {}
    for d in segments:
        r = roles.get(int(d.SegmentNumber))
        if r is not None and not r.left_out and "TrackingUID" in d:
            out.setdefault(_role_key(r), str(d.TrackingUID))
    return out


def _segment_organs(segments: Any, roles: Mapping[int, _SegmentRole] | None = None) -> dict[str, str]:
    """Lesion id -> organ of each lesion (non-viable) segment's anatomic region."""
    from .codes import organ_of_code

    roles = _segment_roles(segments) if roles is None else roles
    organs: dict[str, str] = {}
    for d in segments:
        r = roles.get(int(d.SegmentNumber))
        if r is None or r.viable or r.left_out:
            continue
        for region in d.get("AnatomicRegionSequence", []):
            organ = organ_of_code(str(region.CodeValue), str(region.CodingSchemeDesignator),
                                  str(region.get("CodeMeaning", "")))
            if organ:
                organs.setdefault(r.lesion_id, organ)
    return organs


def _segment_kinds(segments: Any, roles: Mapping[int, _SegmentRole] | None = None) -> dict[str, str]:
    """Lesion id -> lesion kind of each segment whose property type is a fluid (ascites, effusion)."""
    from .codes import fluid_of_code

    roles = _segment_roles(segments) if roles is None else roles
    kinds: dict[str, str] = {}
    for d in segments:
        r = roles.get(int(d.SegmentNumber))
        if r is None or r.left_out:
            continue
        for t in d.get("SegmentedPropertyTypeCodeSequence", []):
            kind = fluid_of_code(str(t.CodeValue), str(t.CodingSchemeDesignator))
            if kind:
                kinds.setdefault(_role_key(r), kind)
    return kinds


def _segments_of(path: str | os.PathLike[str]) -> Any:
    """A SEG file's SegmentSequence (headers only); empty for a file that is not a SEG."""
    import pydicom

    from ..io._dicomparse import dicom_file

    try:
        ds = pydicom.dcmread(dicom_file(path), stop_before_pixels=True)  # (a member of a zip SOURCE too)
    except (OSError, pydicom.errors.InvalidDicomError):
        return []
    if str(ds.get("Modality", "")) != "SEG":
        return []
    return ds.get("SegmentSequence", [])


def seg_organs(path: str | os.PathLike[str]) -> dict[str, str]:
    """Lesion id -> organ of a SEG's segments (their anatomic regions; headers only), as
    :attr:`SegRead.organs`; empty for a file that is not a SEG."""
    return _segment_organs(_segments_of(path))


def seg_kinds(path: str | os.PathLike[str]) -> dict[str, str]:
    """Lesion id -> lesion kind of a SEG's fluid segments (ascites, effusion; headers only), as
    :attr:`SegRead.kinds`; empty for a file that is not a SEG."""
    return _segment_kinds(_segments_of(path))


def seg_info_from_file(path: str | os.PathLike[str]) -> SegInfo:
    """:class:`SegInfo` of an existing SEG file (ours or another tool's), for :func:`write_sr`.

    Segment labels ending in ``" viable"`` keep that suffix; others are taken as lesion ids, those
    sharing a label told apart as :func:`read_seg` does (``"Tumor"``, ``"Tumor (2)"``).
    """
    import pydicom

    p = Path(path)
    try:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as err:
        raise SegExportError(f"{p} cannot be read as DICOM ({err}); pass a DICOM SEG file.") from err
    if str(ds.get("Modality", "")) != "SEG" or "SegmentSequence" not in ds:
        raise SegExportError(f"{p} is a {ds.get('Modality', '?')} object, not a DICOM SEG; pass a SEG file.")
    # segments named as read_seg names their lesions: two segments labelled "Tumor" are "Tumor" and
    # "Tumor (2)" (keyed by label, the second replaced the first, and its lesion lost its reference)
    roles = _segment_roles(ds.SegmentSequence)

    def name(d: Any) -> str:
        r = roles.get(int(d.SegmentNumber))
        return str(d.SegmentLabel) if r is None else r.lesion_id + (VIABLE_SUFFIX if r.viable else "")

    segments = {name(d): int(d.SegmentNumber) for d in ds.SegmentSequence}
    tuids = {name(d): str(d.TrackingUID) for d in ds.SegmentSequence if "TrackingUID" in d}
    src: list[str] = []
    cls = ""
    series_uid = ""
    for series in ds.get("ReferencedSeriesSequence", []):
        series_uid = series_uid or str(series.get("SeriesInstanceUID", ""))
        for inst in series.get("ReferencedInstanceSequence", []):
            src.append(str(inst.ReferencedSOPInstanceUID))
            cls = str(inst.ReferencedSOPClassUID)
    return SegInfo(
        path=p,
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")),
        segments=segments,
        tracking_uids=tuids,
        source_sop_instance_uids=tuple(src),
        source_sop_class_uid=cls,
        source_series_instance_uid=series_uid,
        study_date=str(ds.get("StudyDate", "") or ""),
    )

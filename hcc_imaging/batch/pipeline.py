"""One study end to end, and one patient's read: the per-study pipeline of ``hcc-imaging batch``.

The pipeline holds no domain logic of its own; it calls the core exactly as the CLI and the
napari plugin do, so the three give identical numbers:

=========  ===============================================================================
step       core function
=========  ===============================================================================
index      :func:`hcc_imaging.io.index_archive` (header only)
load       :func:`hcc_imaging.io.load_series` (geometry-checked, HU, phase)
masks      :func:`hcc_imaging.io.masks.load_mask` (NIfTI / RTSTRUCT),
           :func:`hcc_imaging.export.seg.read_seg` (our SEG: lesion + viable segments),
           :func:`hcc_imaging.segment.lesion.segment_lesion`, ``segment_liver`` and
           ``viable_mask`` (seeds file, as ``hcc-imaging segment --liver --viable-out``)
measure    :func:`hcc_imaging.measure.measure_labels` (LD, short axis, Feret, volume, mRECIST
           viable diameter); the read records them rounded to 0.1 mm (``round_mm``)
read       :func:`build_read_document` -> :class:`hcc_imaging.response.ReadDocument`
assess     :func:`hcc_imaging.response.assess` (what ``hcc-imaging assess`` runs)
=========  ===============================================================================

What lies beside a study (its folder = the common parent of its files; mask files and seeds only
when that folder is the study's own, :func:`root_notes`) and is used:

* masks: ``lesions.nii.gz`` (label n = lesion ``"Ln"``, or the id ``labels.json`` beside it gives)
  and ``viable.nii.gz`` (same label values); DICOM SEG / RTSTRUCT objects of the study (found by the index);
* ``seeds.json``: ``{"lesions": [{"lesion_id": "L1", "seed_lps": [x, y, z]}, ...]}`` (or per
  lesion ``"seed_index"``, or ``"line_lps"``: a line across it), optionally
  ``"liver": true`` (lesions kept in the study's liver mask), ``"carry": true`` (added to the
  lesions carried from the earlier study, :func:`link_carried`) and per lesion
  ``"extrahepatic": true`` (kept out of it); the viable parts come from ``viable_mask`` when there
  is an arterial phase;
* none of these, with ``PipelineOptions.carry``: the lesions of the patient's earlier study,
  carried (:func:`link_carried`, :func:`hcc_imaging.segment.carry.carry_lesions`);
* ``annotations.json`` in the study folder or any parent up to the archive root: per lesion id
  its role / ``role_by_criteria``, kind, organ and flags; optional ``timepoints`` mapping
  StudyInstanceUID -> time point id.  Without annotations, targets are proposed by
  :func:`hcc_imaging.response.targets.select_targets` (largest measurable first, caps per
  organ) and lesions first seen after baseline are ``new``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import HccImagingError
from ..io.masks import LABEL_NAMES_FILE
from ..measure.edge import lesions_at_image_edge
from ..volume import LabelVolume, Volume
from .constants import (
    ANNOTATIONS_FILE,
    DEFAULT_CRITERIA,
    IGNORED_MASK_NAMES,
    LESION_MASK_NAMES,
    SEEDS_FILE,
    SHARD_MIN_SPLIT_FILES,
    VIABLE_MASK_NAMES,
)
from .errors import BatchError, StudyStepError
from .lesions import (PHASES_LEFT_OUT, check_not_empty, load_annotations, mask_files, mask_problems, phase_series,
                      site_flags, study_images, study_lesions)
from .resume import content_key, file_digest

__all__ = [
    "BatchError",
    "StudyStepError",
    "PipelineOptions",
    "StudyInputs",
    "StudyTask",
    "discover_studies",
    "link_carried",
    "tasks_from_index",
    "split_mask_studies",
    "masks_only",
    "root_notes",
    "mask_folders",
    "shard_files",
    "index_shard",
    "merge_shard_tasks",
    "index_sharded",
    "process_study",
    "run_study",
    "measure_lesions",
    "load_annotations",
    "build_read_document",
    "assess_document",
    "ALGORITHM",
]

log = logging.getLogger(__name__)

#: The key of a study record (:func:`process_study`) that holds the bytes of the mask files the
#: study's worker made (:func:`~hcc_imaging.batch.lesions.mask_files`); the runner writes them under
#: OUT and takes the key out before the record is stored.
MASK_BYTES: str = "_mask_files_bytes"

#: Provenance written into every measurement row and observation ``source``.
ALGORITHM: str = f"hcc_imaging.batch {__version__}"

_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
_NIFTI_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
_NON_MEASURED_KINDS = ("pvtt", "ascites", "effusion")


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Options that change the numbers (they are part of every study's content key).

    Parameters
    ----------
    criteria : tuple of str
        Criteria to assess per patient (``recist_1_1``, ``mrecist``, ``easl``, ``who``,
        ``recicl``, ``irecist``).
    reformat : {"error", "axial"}
        Non-axial grids: refuse (a failure row) or measure on an axial reformat.
    on_tilt, on_irregular : {"error", "resample"}
        Passed to :func:`hcc_imaging.io.load_series`.
    export_sr : bool
        Write a DICOM SEG per study and a TID 1500 SR per patient (needs :mod:`hcc_imaging.export`).
    carry : bool
        A study with no lesion masks or seeds of its own gets the lesions of its patient's latest
        earlier study that has them, carried and segmented there (:func:`link_carried`,
        :func:`hcc_imaging.segment.carry.carry_lesions`): seed the baselines, measure every
        follow-up.  (A seeds file with ``"carry": true`` asks for it whatever this says.)  On a
        DICOMweb server the lesions carried are an earlier study's SEG or RTSTRUCT.
    fragments : {"sum", "hull"}
        A lesion label of several separate pieces (``--fragments``, as ``hcc-imaging measure``):
        a split lesion, the fragments' diameters summed (RECIST 1.1, default), or one object
        (:func:`hcc_imaging.measure.measure_labels`).
    """

    criteria: tuple[str, ...] = DEFAULT_CRITERIA
    reformat: str = "error"
    on_tilt: str = "error"
    on_irregular: str = "error"
    export_sr: bool = False
    carry: bool = False
    fragments: str = "sum"

    def __post_init__(self) -> None:
        from ..response.rules import parse_criteria

        try:
            crit = tuple(str(parse_criteria(c)) for c in self.criteria)
        except HccImagingError as err:
            raise BatchError(f"--criteria: {err}") from err
        object.__setattr__(self, "criteria", crit)
        for name, allowed in (("reformat", ("error", "axial")), ("on_tilt", ("error", "resample")),
                              ("on_irregular", ("error", "resample"))):
            if getattr(self, name) not in allowed:
                raise BatchError(f"{name}={getattr(self, name)!r} is not one of {allowed}.")
        from ..measure.fragments import check_fragments

        try:
            check_fragments(self.fragments)
        except HccImagingError as err:
            raise BatchError(f"--fragments: {err}") from err

    def key_options(self) -> dict[str, Any]:
        key = {"criteria": list(self.criteria), "reformat": self.reformat, "on_tilt": self.on_tilt,
               "on_irregular": self.on_irregular}
        # only when set: the keys of a run without them stay those of earlier versions (--resume), which
        # measured split lesions as "sum"
        if self.fragments != "sum":
            key["fragments"] = self.fragments
        return {**key, "carry": True} if self.carry else key


@dataclass(frozen=True, slots=True)
class StudyInputs:
    """Masks, seeds and annotations that belong to one study (paths as strings)."""

    lesion_masks: tuple[str, ...] = ()
    viable_masks: tuple[str, ...] = ()
    seg_files: tuple[str, ...] = ()
    rtstruct_files: tuple[str, ...] = ()
    seeds_file: str | None = None
    annotations_files: tuple[str, ...] = ()
    #: ``labels.json`` beside the lesion mask: its label values' lesion ids (``io.masks.LABEL_NAMES_FILE``)
    labels_file: str | None = None
    #: A DICOMweb study whose server holds a SEG or RTSTRUCT of it (QIDO ModalitiesInStudy): it has
    #: lesion masks, known as files once retrieved.
    remote_masks: bool = False

    @property
    def has_masks(self) -> bool:
        return bool(self.lesion_masks or self.seg_files or self.rtstruct_files or self.seeds_file or self.remote_masks)

    @property
    def has_masks_files(self) -> bool:
        """Masks given as files (NIfTI, SEG, RTSTRUCT), which take precedence over seeds."""
        return bool(self.lesion_masks or self.seg_files or self.rtstruct_files)


@dataclass(frozen=True, slots=True)
class StudyTask:
    """Everything a worker needs to process one study (picklable)."""

    key: str
    patient_id: str
    study_instance_uid: str
    study_date: str
    root: str
    series: tuple[Any, ...]  # hcc_imaging.io.SeriesInfo of the image series
    inputs: StudyInputs
    input_hash: str
    #: DICOMweb base URL when the study lives on a server (retrieved by the worker); it may hold the
    #: server's password, so it is left out of the task's repr (a log line of Dask's prints its arguments)
    dicomweb_url: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: With ``PipelineOptions.carry``: the earlier study of the patient whose lesions are carried to
    #: this one (it has none of its own; :func:`link_carried`).
    carry_from: StudyTask | None = None


# ------------------------------------------------------------------------------------------
# Discovery
# ------------------------------------------------------------------------------------------
def _common_root(files: Iterable[str]) -> str:
    dirs = [os.path.dirname(f.split("::", 1)[0]) for f in files]
    return os.path.commonpath(dirs) if dirs else ""


def _file_folders(files: Iterable[str]) -> frozenset[str]:
    """The real folders holding ``files`` (a zip member: the folder holding its zip)."""
    return frozenset(os.path.dirname(f.split("::", 1)[0]) for f in files)


def _up(folder: str) -> Iterable[str]:
    """``folder`` and its parents (as strings, as the index gives paths: relative ones end at "")."""
    while True:
        yield folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


@dataclass(frozen=True, slots=True)
class _Placed:
    """Where one study's files lie (:func:`root_notes`)."""

    root: str
    folders: frozenset[str]
    in_zip: bool = False
    zip_source: str | None = None
    masks_only: bool = False


def root_notes(studies: Mapping[Any, _Placed]) -> dict[Any, str | None]:
    """Whether each study's folder is its own, where its mask files, seeds and ``labels.json`` may be
    looked for: ``None`` when it is, else why not (a sentence for the failure row).

    A study's folder (the common folder of its files) is its own when no other study has a file in
    it or in any folder below it: a folder shared by two studies, or the common folder of a study
    whose files are spread (its SEG in ``P/segs/``, its images in ``P/baseline/``) that also holds
    another study's folder (``P/fu1/``), is no study's own, and the mask search never looks into
    it (it found the other study's ``lesions.nii.gz`` before, and measured it).  A study inside a zip
    SOURCE has no folder of its own (NIfTI files are looked for in real folders only).  Studies of
    masks stored as CT images (:func:`masks_only`) are not studies here (they own nothing and share
    nothing).
    """
    below = _studies_below(studies)
    notes: dict[Any, str | None] = {}
    for k, st in studies.items():
        if st.zip_source is not None:
            notes[k] = (f"it is inside the zip SOURCE {st.zip_source}, whose studies' masks are the DICOM SEG or "
                        "RTSTRUCT objects in the zip. Put the study's SEG/RTSTRUCT in the zip, or extract the zip into "
                        "a folder and put lesions.nii.gz (or seeds.json) in the study's folder.")
            continue
        if not st.root:
            notes[k] = ("its files lie in folders with no common folder, so there is no study folder to look for "
                        "lesions.nii.gz or seeds.json in. Keep each study's files (series folders, SEG, masks) in one "
                        "folder of its own, e.g. PATIENT/STUDY/SERIES/.")
            continue
        others = [o for o in below.get(st.root, ()) if o != k]
        if st.masks_only or not others:
            notes[k] = None
            continue
        o = studies[others[0]]
        what = f"study {_study_label(others[0])}"
        if o.root == st.root:
            notes[k] = (f"several studies share the folder {st.root} (with {what}), so mask files "
                        "there cannot be attributed to one of them: give each study its own folder.")
            continue
        where = o.root if _within(o.root, st.root) else min(d for d in o.folders if _within(d, st.root))
        if st.in_zip:
            notes[k] = (f"the study is in a zip whose folder {st.root} also holds the files of {what} ({where}), so "
                        "a mask file there cannot be attributed to it. Give the zip a folder of its own (with the "
                        "study's lesions.nii.gz beside it), or put the study's SEG/RTSTRUCT in the zip.")
        else:
            notes[k] = (f"its files lie in several folders whose common folder {st.root} also holds the files of "
                        f"{what} ({where}), so mask files there cannot be attributed to it. Keep each study's files "
                        "(its series folders, SEG, RTSTRUCT, masks) in one folder of its own that holds no other "
                        "study, e.g. PATIENT/STUDY/SERIES/ with PATIENT/STUDY/masks/lesions.nii.gz.")
    return notes


def _studies_below(studies: Mapping[Any, _Placed]) -> dict[str, list[Any]]:
    """Folder -> the two first studies (by key) with a file in it or below it (studies of masks only left out)."""
    below: dict[str, list[Any]] = {}
    for k, st in studies.items():
        if st.masks_only:
            continue
        seen: set[str] = set()
        for d in st.folders:
            for a in _up(d):
                if a in seen:
                    break
                seen.add(a)
                below[a] = sorted([*below.get(a, ()), k])[:2]
    return below


def _free(below: Mapping[str, Sequence[Any]], folder: str, key: Any) -> bool:
    return all(o == key for o in below.get(folder, ()))


def mask_folders(studies: Mapping[Any, _Placed], notes: Mapping[Any, str | None],
                 archive_root: str | None) -> dict[Any, tuple[str, ...]]:
    """The folders where each study's mask files and seeds are looked for, in order (the first that
    holds any is used): its own folder (:func:`root_notes`), and, for a study whose files all lie in
    one folder (a one-series study laid out ``STUDY/SERIES/``), the parent of that folder when it
    is the study's own too and inside ``archive_root``, so that ``STUDY/masks/`` is found as for a
    study of several series (it was not: "no lesion mask beside it").  Empty for a study without a
    folder of its own."""
    below = _studies_below(studies)
    top = os.path.normpath(archive_root) if archive_root else None
    out: dict[Any, tuple[str, ...]] = {}
    for k, st in studies.items():
        if notes.get(k) is not None or st.masks_only or not st.root:
            out[k] = ()
            continue
        parent = os.path.dirname(st.root)
        up = (len(st.folders) == 1 and not st.in_zip and parent and parent != st.root and top is not None
              and _within(os.path.normpath(parent), top) and _free(below, parent, k))
        out[k] = (st.root, parent) if up else (st.root,)
    return out


def _within(folder: str, root: str) -> bool:
    return any(a == root for a in _up(folder))


def _study_label(key: Any) -> str:
    """``UID (patient P)`` of a ``(patient, study UID)`` key."""
    if isinstance(key, tuple) and len(key) == 2:
        return f"{key[1]} (patient {key[0]})"
    return str(key)


def _mask_kind(path: Path) -> str | None:
    name = path.name.lower()
    for suf in _NIFTI_SUFFIXES:
        if name.endswith(suf):
            stem = name[: -len(suf)]
            if stem in VIABLE_MASK_NAMES:
                return "viable"
            if stem in IGNORED_MASK_NAMES:
                return None
            if stem in LESION_MASK_NAMES:
                return "lesions"
            return None
    return None


def _annotation_files(root: Path, archive_root: Path) -> tuple[str, ...]:
    """``annotations.json`` files from the study folder up to the archive root, nearest first."""
    out: list[str] = []
    root, archive_root = root.resolve(), archive_root.resolve()
    if archive_root.is_file():
        archive_root = archive_root.parent
    chain = [root, *root.parents]
    if archive_root in chain:
        chain = chain[: chain.index(archive_root) + 1]
    else:
        chain = [root]
    for cur in chain:
        f = cur / ANNOTATIONS_FILE
        if f.is_file():
            out.append(str(f))
    return tuple(out)


def _study_inputs(folders: Sequence[str], ann_root: str, archive_root: str,
                  non_image_series: Sequence[Any]) -> StudyInputs:
    """A study's mask files, seeds and annotations: the masks and seeds of the first of ``folders``
    (:func:`mask_folders`; none: no folder of its own) that holds any; ``annotations.json`` from
    ``ann_root`` up to ``archive_root``; its SEG / RTSTRUCT objects (``non_image_series``)."""
    lesions: list[str] = []
    viable: list[str] = []
    seeds = None
    for root in folders:
        # names first (a study folder holds hundreds of DICOM files and a few masks), then the
        # candidates in the order of sorted(Path(root).rglob("*"))
        found = [Path(d, n) for d, _, names in os.walk(root) for n in names if _mask_kind(Path(n)) is not None]
        for p in sorted(found):
            if not p.is_file():
                continue
            kind = _mask_kind(p)
            if kind == "lesions":
                lesions.append(str(p))
            elif kind == "viable":
                viable.append(str(p))
        s = Path(root) / SEEDS_FILE
        seeds = str(s) if s.is_file() else None
        if lesions or viable or seeds:
            break
    segs = [f for se in non_image_series if se.sop_class_uid == _SEG_SOP_CLASS for f in se.files]
    rts = [f for se in non_image_series if se.sop_class_uid == _RTSTRUCT_SOP_CLASS for f in se.files]
    ann = _annotation_files(Path(ann_root), Path(archive_root)) if ann_root else ()
    names = Path(lesions[0]).parent / LABEL_NAMES_FILE if lesions else None
    return StudyInputs(tuple(lesions), tuple(viable), tuple(segs), tuple(rts), seeds, ann,
                       labels_file=str(names) if names is not None and names.is_file() else None)


def _input_hash(series: Sequence[Any], inputs: StudyInputs) -> str:
    h = hashlib.sha256()
    for se in sorted(series, key=lambda s: s.series_instance_uid):
        h.update(se.series_instance_uid.encode())
        for f in se.files:
            p = f.split("::", 1)
            try:
                st = os.stat(p[0])
                stamp = f"{st.st_size}:{st.st_mtime_ns}" if len(p) == 1 else f"zip:{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                stamp = "missing"
            h.update(f"{os.path.basename(f)}:{stamp}".encode())
    for f in (*inputs.lesion_masks, *inputs.viable_masks, *inputs.seg_files, *inputs.rtstruct_files,
              *((inputs.seeds_file,) if inputs.seeds_file else ()), *inputs.annotations_files,
              *((inputs.labels_file,) if inputs.labels_file else ())):
        h.update(file_digest(f.split("::", 1)[0]).encode())
    if inputs.seeds_file and not inputs.has_masks_files:
        # a seeded study's masks are made by the segmentation (lesion, liver and viable steps share
        # one version): another version measures it again on resume
        from ..segment.constants import ALGORITHM_VERSION

        h.update(f"segment {ALGORITHM_VERSION}".encode())
    chosen, not_used = phase_series([se for se in series if _is_image_series(se)])
    if not_used:
        # a phase with two series: the one measured is part of the key (a study measured on the
        # first of them before the batch took the viewer's rule is measured again on resume)
        h.update(("series per phase " + ",".join(sorted(se.series_instance_uid for se in chosen.values()))).encode())
    return h.hexdigest()


def _is_image_series(se: Any) -> bool:
    """An image series to measure on (SEG / RTSTRUCT / SR objects are not, whatever their pixels, nor
    a mask stored as CT images: ``SeriesInfo.is_mask``)."""
    sop = str(se.sop_class_uid)
    return (bool(se.is_image) and not getattr(se, "is_mask", False)
            and sop not in (_SEG_SOP_CLASS, _RTSTRUCT_SOP_CLASS) and not sop.startswith(_SR_PREFIX))


def masks_only(task: StudyTask) -> bool:
    """Whether ``task`` is a study of masks stored as CT images only (:func:`tasks_from_index`; its
    ``series`` are the mask series): the run leaves it out with a warning (:func:`split_mask_studies`)."""
    return bool(task.extra.get("masks_only"))


def split_mask_studies(tasks: Sequence[StudyTask]) -> tuple[list[StudyTask], list[StudyTask]]:
    """``(studies to run, studies of masks only)``, each logged with a warning naming the study, its
    folder and what to do: 3D-IRCADb stores each expert mask as a study of its own, of 8-bit CT images
    without a PatientID; run as studies they were patients of their own, each failing "no lesion
    mask"."""
    run = [t for t in tasks if not masks_only(t)]
    masks = [t for t in tasks if masks_only(t)]
    for t in masks:
        log.warning(
            "study %s (%s): %d series of masks stored as CT images (8-bit) and no image to measure: left out (not a "
            "patient, not a time point). To measure with such masks, convert the lesion masks into a lesions.nii.gz "
            "in the folder of the image study (hcc_imaging.io.masks.load_mask reads each mask series).",
            t.study_instance_uid, os.path.dirname(t.series[0].files[0]) if t.series and t.series[0].files else t.root,
            len(t.series))
    return run, masks


def tasks_from_index(index: Any, options: PipelineOptions, archive_root: str | None = None) -> list[StudyTask]:
    """One :class:`StudyTask` per study of an :class:`hcc_imaging.io.ArchiveIndex`.

    Mask files and seeds are looked for in a study's folder (the common folder of its files) only
    when it is the study's own (:func:`root_notes`); else the task's ``extra["root_note"]`` says
    why not, for the study's failure row when it has no SEG / RTSTRUCT either.  Studies of two
    patients that share a StudyInstanceUID are refused (``extra["index_error"]``: a failure row, step
    ``index``, for each, naming both patients)."""
    root_all = archive_root or str(index.root)
    studies = list(index.studies)
    # a zip SOURCE, or a folder in one ("archive.zip::PAT-001"): its files are "archive.zip::..."
    zip_root = os.path.normpath(str(index.root).split("::", 1)[0])
    placed: dict[tuple[str, str], _Placed] = {}
    for st in studies:
        files = [f for se in st.series for f in se.files]
        in_zip = bool(files) and all("::" in f for f in files)
        zip_source = None
        root = _common_root(files)
        if in_zip and all(os.path.normpath(f.split("::", 1)[0]) == zip_root for f in files):
            # a zip SOURCE: no real folder of its own; named as the zip and the members' common folder
            zip_source = files[0].split("::", 1)[0]
            inner = os.path.commonpath([os.path.dirname(f.split("::", 1)[1]) for f in files])
            root = f"{zip_source}::{inner}" if inner else zip_source
        placed[(st.patient_id, st.study_instance_uid)] = _Placed(
            root=root, folders=_file_folders(files), in_zip=in_zip, zip_source=zip_source, masks_only=st.masks_only)
    notes = root_notes(placed)
    searched = mask_folders(placed, notes, root_all)
    # a StudyInstanceUID names one exam of one patient: two patients with one (a bad anonymiser, a copy
    # given another PatientID) are refused, both (their masks, SEGs and outputs would be mixed up)
    patients_of: dict[str, list[tuple[str, str]]] = {}
    for (pid, suid), where in placed.items():
        if not where.masks_only:
            patients_of.setdefault(suid, []).append((pid, where.root))
    tasks: list[StudyTask] = []
    for st in studies:
        images = tuple(se for se in st.series if _is_image_series(se))
        others = [se for se in st.series if not _is_image_series(se)]
        where = placed[(st.patient_id, st.study_instance_uid)]
        root, note = where.root, notes[(st.patient_id, st.study_instance_uid)]
        folders = searched[(st.patient_id, st.study_instance_uid)]
        extra: dict[str, Any] = {"shared_root": note is not None, "folders": tuple(sorted(where.folders))}
        if len(folders) > 1:
            extra["mask_folders"] = folders
        if note is not None:
            extra["root_note"] = note
        sharing = sorted(patients_of.get(st.study_instance_uid, ()))
        if len(sharing) > 1 and not st.masks_only:
            extra["index_error"] = (
                f"{len(sharing)} patients share StudyInstanceUID {st.study_instance_uid}: "
                + ", ".join(f"{pid} ({r or '?'})" for pid, r in sharing)
                + ". A StudyInstanceUID names one exam of one patient (a bad anonymiser, or a copy given another "
                "PatientID), so none of them is measured (their masks and outputs would be mixed up). Fix the "
                "DICOM: give the wrong copy new StudyInstanceUIDs (and series and SOP instance UIDs), or correct "
                "its PatientID.")
        if where.in_zip:
            extra["in_zip"] = True
        if where.zip_source is not None:
            extra["zip_source"] = where.zip_source
        if st.masks_only:
            tasks.append(StudyTask(
                key=content_key(st.study_instance_uid, "masks only", options.key_options()),
                patient_id=st.patient_id, study_instance_uid=st.study_instance_uid, study_date=st.study_date,
                root=root, series=tuple(st.series), inputs=StudyInputs(), input_hash="masks only",
                extra={**extra, "masks_only": True}))
            continue
        # annotations: from the real folder (a zip SOURCE: the folder holding the zip) up to the archive root
        real = (os.path.dirname(where.zip_source) or ".") if where.zip_source is not None else root
        inputs = _study_inputs(folders, root if note is None else real, root_all, others)
        ih = _input_hash(images + tuple(others), inputs)
        tasks.append(
            StudyTask(
                key=content_key(st.study_instance_uid, ih, options.key_options()),
                patient_id=st.patient_id,
                study_instance_uid=st.study_instance_uid,
                study_date=st.study_date,
                root=root,
                series=images,
                inputs=inputs,
                input_hash=ih,
                extra=extra,
            )
        )
    tasks.sort(key=lambda t: (t.patient_id, t.study_date, t.study_instance_uid))
    return tasks


def _asks_carry(task: StudyTask) -> bool:
    """Whether the study's seeds file says ``"carry": true`` (its seeds added to the lesions carried
    from the earlier study); a file that cannot be read is reported by the worker."""
    if not task.inputs.seeds_file or task.inputs.has_masks_files:
        return False
    try:
        doc = json.loads(Path(task.inputs.seeds_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("carry") is True


def link_carried(tasks: Sequence[StudyTask], options: PipelineOptions) -> list[StudyTask]:
    """Link each study whose lesions are carried from an earlier one to its patient's latest
    earlier study (by date) that has lesions of its own (``StudyTask.carry_from``): with
    ``options.carry`` every study without lesion masks or seeds; and any study whose seeds file
    says ``"carry": true`` (its seeds, e.g. the new lesions, are added to the carried ones).  A
    linked study with seeds is itself a source for the next ones (chained).  The link is part of
    the study's content key: new masks or seeds at the earlier study measure it again on
    ``--resume``.  On a DICOMweb server a study with a SEG or RTSTRUCT is a source (its worker and
    its follow-ups' retrieve it); a study is linked only to one of the same server."""
    from ..segment.constants import ALGORITHM_VERSION

    last: dict[str, StudyTask] = {}
    out: dict[int, StudyTask] = {}
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i].patient_id, tasks[i].study_date,
                                                      tasks[i].study_instance_uid))
    for i in order:
        t = tasks[i]
        src = last.get(t.patient_id)
        refused = bool(t.extra.get("index_error"))  # (fails at once: carries nothing, to nothing)
        wants = ((options.carry and not t.inputs.has_masks) or _asks_carry(t)) and not refused
        if wants and src is not None and t.dicomweb_url == src.dicomweb_url:
            h = hashlib.sha256(f"{t.input_hash}|carried from|{src.input_hash}|segment {ALGORITHM_VERSION}".encode())
            ih = h.hexdigest()
            t = replace(t, input_hash=ih, carry_from=src,
                                    key=content_key(t.study_instance_uid, ih, options.key_options()))
        if t.inputs.has_masks and not refused:
            last[t.patient_id] = t
        out[i] = t
    return [out[i] for i in range(len(tasks))]


def discover_studies(source: str | os.PathLike[str], options: PipelineOptions) -> tuple[list[StudyTask], Any]:
    """Index ``source`` (folder, zip, DICOMDIR; header only) and make one task per study.

    Raises
    ------
    BatchError
        When the archive holds no study.
    """
    from ..io import index_archive

    idx = index_archive(source, warn_no_patient_ids=False)  # run_batch warns once per study
    tasks = tasks_from_index(idx, options, archive_root=str(Path(source)))
    if not tasks:
        raise BatchError(
            f"{source}: no DICOM study found ({idx.n_files} files scanned, {len(idx.skipped)} skipped"
            + (f"; {idx.skipped[0].path}: {idx.skipped[0].reason}" if idx.skipped else "")
            + "). Point SOURCE at a folder, zip or DICOMDIR holding DICOM files."
        )
    return tasks, idx


def shard_files(
    root: str, files: Sequence[str], n_shards: int, min_split_files: int = SHARD_MIN_SPLIT_FILES
) -> list[list[str]]:
    """Split a folder's file list into at most ``n_shards`` index shards made of whole folders.

    A group is either a sub-tree of ``root`` or the files lying directly in one folder; the
    biggest sub-tree (of at least ``min_split_files`` files) is split one level deeper until there
    are ``n_shards`` groups (or nothing left to split), then the groups are packed into shards of
    similar file counts.  Files keep their order.  A study whose files lie in one group is indexed
    whole by its shard; a study split across groups (too deep a split, or a study spread over
    folders) is caught by :func:`index_sharded`.
    """
    n_shards = max(1, int(n_shards))
    if not files:
        return []
    parts_of: dict[str, list[str]] = {}  # per folder (an archive has ~100x fewer folders than files)
    rel: list[list[str]] = []
    sep = os.sep
    for f in files:
        d = f.rpartition(sep)[0]
        parts = parts_of.get(d)
        if parts is None:
            r = os.path.relpath(d or sep, root)
            parts = parts_of[d] = [] if r == "." else r.split(sep)
        rel.append(parts)
    # group id: (prefix, loose) -- loose: files directly in the folder `prefix`; else its sub-tree
    groups: dict[tuple[tuple[str, ...], bool], list[int]] = {}
    for i, parts in enumerate(rel):
        key = ((), True) if not parts else ((parts[0],), False)
        groups.setdefault(key, []).append(i)
    while len(groups) < n_shards:
        splittable = []
        for (prefix, loose), idx in groups.items():
            if loose or len(idx) < min_split_files:
                continue
            d = len(prefix)
            subs = {() if len(rel[i]) == d else (rel[i][d],) for i in idx}
            if len(subs) > 1:
                splittable.append((len(idx), prefix))
        if not splittable:
            break
        _, prefix = max(splittable)
        d = len(prefix)
        for i in groups.pop((prefix, False)):
            key = (prefix, True) if len(rel[i]) == d else ((*prefix, rel[i][d]), False)
            groups.setdefault(key, []).append(i)
    # pack the groups into n_shards bins (largest first into the lightest bin)
    bins: list[list[int]] = [[] for _ in range(min(n_shards, len(groups)))]
    sizes = [0] * len(bins)
    for _, idx in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        b = sizes.index(min(sizes))
        bins[b].extend(idx)
        sizes[b] += len(idx)
    return [[files[i] for i in sorted(b)] for b in bins if b]


def index_shard(
    files: Sequence[str], *, root: str, archive_root: str, options: PipelineOptions
) -> tuple[list[StudyTask], int, tuple[Any, ...]]:
    """Index one shard of a folder archive (a Dask task): ``(tasks, n_files, skipped)``, ``skipped``
    the shard's files the index could not read as DICOM (:class:`~hcc_imaging.io.index.SkippedFile`)."""
    from ..io.index import build_index, scan_headers

    headers, skipped = scan_headers(list(files), to_pixels=False)
    idx = build_index(root, headers, skipped, len(files), 0.0, warn_no_patient_ids=False)  # the driver warns
    return tasks_from_index(idx, options, archive_root=archive_root), len(files), idx.skipped


def merge_shard_tasks(shards: Sequence[Sequence[StudyTask]]) -> list[StudyTask] | None:
    """The tasks of all shards in archive order, or ``None`` when they are not what indexing the
    union would give: a study found in several shards, or a study folder that is not the study's own
    (:func:`root_notes`) because of a study of another shard (which changes where masks are looked
    for)."""
    owner: dict[str, int] = {}
    tasks: list[StudyTask] = []
    for i, ts in enumerate(shards):
        for t in ts:
            if owner.setdefault(t.study_instance_uid, i) != i:
                return None
            tasks.append(t)
    # a study folder is its own only when no study of any shard has a file in or below it (root_notes)
    placed = {(t.patient_id, t.study_instance_uid): _Placed(
        root=t.root, folders=frozenset(t.extra.get("folders", ())), in_zip=bool(t.extra.get("in_zip")),
        zip_source=t.extra.get("zip_source"), masks_only=masks_only(t)) for t in tasks}
    notes = root_notes(placed)
    below = _studies_below(placed)
    for t in tasks:
        k = (t.patient_id, t.study_instance_uid)
        if t.extra.get("root_note") != notes[k]:
            return None
        # a one-series study's parent folder searched in its shard: still no other study in it (mask_folders)
        if any(not _free(below, f, k) for f in t.extra.get("mask_folders", ())):
            return None
    tasks.sort(key=lambda t: (t.patient_id, t.study_date, t.study_instance_uid))
    return tasks


def _split_studies(shards: Sequence[Sequence[StudyTask]]) -> list[list[int]]:
    """Groups (size > 1) of shards linked by a study found in more than one of them."""
    parent = list(range(len(shards)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, ts in enumerate(shards):
        for t in ts:
            j = first.setdefault(t.study_instance_uid, i)
            if j != i:
                parent[find(i)] = find(j)
    comps: dict[int, list[int]] = {}
    for i in range(len(shards)):
        comps.setdefault(find(i), []).append(i)
    return [c for c in comps.values() if len(c) > 1]


def index_sharded(
    source: str | os.PathLike[str],
    options: PipelineOptions,
    n_shards: int,
    mapper: Callable[[Callable[..., Any], list[list[str]]], list[Any]] | None = None,
    skipped: list[Any] | None = None,
) -> list[StudyTask]:
    """:func:`discover_studies` for a folder, with the header scan split into ``n_shards`` shards
    of whole folders run through ``mapper(index_shard_fn, shards)`` (e.g. Dask workers).

    Shards linked by a study whose files lie in several of them are indexed again as one; if the
    result still differs from what indexing the whole folder gives (a study folder shared across
    shards), the folder is indexed as a whole.  The tasks are then those of
    :func:`discover_studies`.  ``skipped``, a list, receives the files the index could not read as
    DICOM (:class:`~hcc_imaging.io.index.SkippedFile`, each once), as ``discover_studies``'s
    index lists them.

    Raises
    ------
    BatchError
        When the folder holds no study.
    """
    from functools import partial

    from ..io.index import resolve_sources

    root, files, listed = resolve_sources(source)  # listed: skipped as it was listed (a zip that cannot be read)
    run = mapper or (lambda fn, items: [fn(x) for x in items])
    fn = partial(index_shard, root=root, archive_root=str(source), options=options)
    shards = shard_files(root, files, n_shards)
    results = list(run(fn, shards))
    comps = _split_studies([r[0] for r in results])
    if comps:
        log.info("%d studies span several folders of %s: indexing those folders together", len(comps), source)
        order = {f: i for i, f in enumerate(files)}
        joined = [sorted((f for i in c for f in shards[i]), key=order.__getitem__) for c in comps]
        linked = {i for c in comps for i in c}
        results = [r for i, r in enumerate(results) if i not in linked] + list(run(fn, joined))
    tasks = merge_shard_tasks([r[0] for r in results])
    if tasks is None:
        log.info("study folders of %s are shared across shards: indexing it as a whole", source)
        tasks, idx = discover_studies(source, options)
        if skipped is not None:
            skipped.extend(idx.skipped)
        return tasks
    if not tasks:
        raise BatchError(
            f"{source}: no DICOM study found ({len(files)} files scanned, "
            f"{len(listed) + sum(len(r[2]) for r in results)} skipped). Point SOURCE at a folder, zip or DICOMDIR "
            "holding DICOM files."
        )
    if skipped is not None:
        skipped.extend(listed)
        skipped.extend(s for r in results for s in r[2])
    return tasks


# ------------------------------------------------------------------------------------------
# One study
# ------------------------------------------------------------------------------------------
def study_thickness_mm(ref: Volume) -> float:
    """The reference series' slice thickness (``load_series``' ``meta["slice_thickness_mm"]``: DICOM
    SliceThickness, the largest when it varies), else its slice spacing: one value for the
    record's read document and every lesion row."""
    v = ref.meta.get("slice_thickness_mm")
    return float(v) if v else float(ref.spacing[0])


def measure_lesions(
    lesions: LabelVolume,
    viable: LabelVolume | None = None,
    *,
    image: Volume | None = None,
    lymph_nodes: Iterable[str] = (),
    reformat: str = "error",
    fragments: str = "sum",
    slice_thickness_mm: float | None = None,
) -> list[dict[str, Any]]:
    """Per-lesion measurements: :func:`hcc_imaging.measure.measure_labels`, one dict per label.

    ``slice_thickness_mm``: the RECIST minimum size's thickness (the study's record gives the
    reference series' ``meta["slice_thickness_mm"]``, so lesions.csv and the read document agree).

    The dicts are :meth:`LesionMeasurement.to_dict` (full precision, the numbers ``hcc-imaging
    measure`` prints); the read document records diameters rounded to 0.1 mm
    (:func:`~hcc_imaging.measure.measurability.round_mm`, DESIGN section 2).
    """
    from ..measure import measure_labels

    ms = measure_labels(lesions, viable, image=image, lymph_nodes=frozenset(lymph_nodes), reformat=reformat,
                        fragments=fragments, slice_thickness_mm=slice_thickness_mm)
    return [m.to_dict() for m in ms]


def process_study(task: StudyTask, options: PipelineOptions) -> dict[str, Any]:
    """Run one study (load -> masks -> measure) and return its record.

    Raises
    ------
    StudyStepError
        Naming the step that failed; the original error is chained.
    """
    step = "load"
    carried: dict[str, Any] | None = None
    if task.extra.get("index_error"):  # refused by the index (tasks_from_index)
        raise StudyStepError("index", str(task.extra["index_error"]))
    try:
        if not task.series:
            raise StudyStepError("load", f"study {task.study_instance_uid}: no image series.")
        series_notes = phase_series(task.series)[1]
        ref, phases = study_images(task, options)
        series_notes = [*series_notes, *ref.meta.get(PHASES_LEFT_OUT, ())]
        step = "masks"
        got = study_lesions(task, ref, phases, options)
        lesions, viable, mask_source, carried = got.lesions, got.viable, got.source, got.carried
        if carried is not None and carried["not_carried"]:
            log.warning("study %s: %d lesions of %s not carried or not found (%s)", task.study_instance_uid,
                        len(carried["not_carried"]), carried["study_instance_uid"], ", ".join(carried["not_carried"]))
        ann = load_annotations(task.inputs.annotations_files)
        check_not_empty(task, got, ann)  # an empty mask file: an export error, unless the annotations say
        saved, files = mask_files(got, task.study_instance_uid) if got.segmented else (None, {})
        step = "measure"
        nodes = [lid for lid in lesions.labels.values()
                 if site_flags(ann["lesions"].get(lid, {}), got.organs.get(lid), got.kinds.get(lid)).get("is_lymph_node")]
        rows = measure_lesions(lesions, viable, image=ref if ref.geometry.equals(lesions.geometry) else None,
                               lymph_nodes=nodes, reformat=options.reformat, fragments=options.fragments,
                               slice_thickness_mm=study_thickness_mm(ref))
        problems = mask_problems(got, ref)
        # lesions whose mask reaches a face of the measured image: the scan may have cut them
        edge = lesions_at_image_edge(lesions, ref.series_instance_uid) if ref.geometry.equals(lesions.geometry) else {}
        for lid, why in sorted(edge.items()):
            log.warning("study %s: %s %s. Check that the series covers the whole lesion.", task.study_instance_uid,
                        lid, why)
    except StudyStepError:
        raise
    except Exception as err:  # every error of a step becomes a failure row, named by step
        raise StudyStepError(step, f"{type(err).__name__}: {err}") from err
    return {
        "key": task.key,
        "ok": True,
        "patient_id": task.patient_id,
        "study_instance_uid": task.study_instance_uid,
        "study_date": task.study_date,
        "root": task.root,
        "reference_series_instance_uid": ref.series_instance_uid,
        **({"series_not_used": series_notes} if series_notes else {}),
        "reference_phase": str(ref.phase),
        "slice_thickness_mm": study_thickness_mm(ref),
        "series": [
            {"series_instance_uid": se.series_instance_uid, "phase": str(se.phase.phase),
             "description": se.series_description, "n_instances": se.n_instances}
            for se in task.series
        ],
        "mask_source": mask_source,
        "annotations_files": list(task.inputs.annotations_files),
        "lesions": rows,
        "algorithm": ALGORITHM,
        **({"carried_from": carried} if carried is not None else {}),
        # the masks this run made (seeds, carried): saved under OUT by the driver (runner), the
        # files' bytes travel beside the record (MASK_BYTES), never in the stored record
        **({"masks": saved, MASK_BYTES: files} if saved is not None else {}),
        # lesion id -> what the segmenter says a reader should check (segment.lesion.MASK_CHECKS)
        **({"segmentation_checks": {k: list(v) for k, v in sorted(got.checks.items())}} if got.segmented else {}),
        # lesion id -> organ / kind as the masks give them (a SEG's anatomic regions and fluid
        # segments, a carried lesion's organ): the read's flags where the annotations say nothing
        **({"mask_organs": dict(sorted(got.organs.items()))} if got.organs else {}),
        **({"mask_kinds": dict(sorted(got.kinds.items()))} if got.kinds else {}),
        # lesion id -> why its measurement is incomplete (its mask cut by the image's field: lesions.mask_problems)
        **({"mask_problems": problems} if problems else {}),
        # lesion id -> why its measurement may be short: its mask reaches a face of the measured
        # image (measure.edge; a warning, not a failure: lesions.csv's at_image_edge column)
        **({"at_image_edge": edge} if edge else {}),
    }


def run_study(task: StudyTask, options: PipelineOptions) -> dict[str, Any]:
    """Worker entry point: :func:`process_study`, with every failure turned into a record.

    DICOMweb tasks are retrieved into a temporary folder first (step ``retrieve``) and, when
    ``options.export_sr``, the study's SEG is stored back (patient SRs are written by the runner).
    Never raises: the record has ``ok`` False and ``step`` / ``reason`` instead.
    """
    t0 = time.perf_counter()
    try:
        if task.dicomweb_url is not None:
            from ..io.dicomweb import process_remote_study

            rec = process_remote_study(task, options)
        else:
            rec = process_study(task, options)
    except StudyStepError as err:
        rec = _failure(task, err.step, str(err), err)
    except Exception as err:  # a crash outside the steps (bug): still one failure row
        rec = _failure(task, "pipeline", f"{type(err).__name__}: {err}", err)
    rec["elapsed_s"] = round(time.perf_counter() - t0, 3)
    return rec


def _failure(task: StudyTask, step: str, reason: str, err: BaseException) -> dict[str, Any]:
    from ..io.dicomweb import redact_url

    # (a URL's password, e.g. of a DICOMweb server, never reaches the console, failures.csv or the store)
    reason = redact_url(reason)
    log.warning("study %s failed at %s: %s", task.study_instance_uid, step, reason)
    return {
        "key": task.key,
        "ok": False,
        "patient_id": task.patient_id,
        "study_instance_uid": task.study_instance_uid,
        "study_date": task.study_date,
        "root": task.root,
        "step": step,
        "reason": " ".join(reason.split()),
        "traceback": redact_url("".join(traceback.format_exception(err)))[-4000:],
    }


# ------------------------------------------------------------------------------------------
# One patient: read document and assessment
# ------------------------------------------------------------------------------------------
_OBS_FLAGS = ("organ", "is_lymph_node", "kind", "porta_hepatis", "previously_treated", "typical_hcc_pattern",
              "well_delineated", "intrahepatic", "cytology_malignant", "tracking_uid", "equivocal", "note")


#: read-document axis <- LesionMeasurement.to_dict() endpoint key
_ENDPOINT_KEYS = (
    ("long", "ld_endpoints_lps"),
    ("short", "sa_endpoints_lps"),
    ("viable_long", "viable_endpoints_lps"),
    ("viable_short", "viable_sa_endpoints_lps"),
)


def _timepoint_ids(records: Sequence[Mapping[str, Any]], ann: Mapping[str, Any]) -> list[str]:
    names = ann.get("timepoints", {})
    out = []
    for i, r in enumerate(records):
        tid = names.get(r["study_instance_uid"])
        out.append(str(tid) if tid else ("BL" if i == 0 else f"FU{i}"))
    return out


def _iso(date: str) -> str | None:
    d = (date or "").strip()
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else None


def build_read_document(
    records: Sequence[Mapping[str, Any]],
    *,
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    annotations: Mapping[str, Any] | None = None,
    reader_id: str = "hcc_imaging.batch",
) -> Any:
    """The read document of one patient from its successful study records (any order).

    Time points are the studies in date order (ids from ``annotations["timepoints"]`` or
    ``BL``, ``FU1``, ...).  Each lesion keeps one role for the whole read: from the annotations,
    else proposed at baseline per criterion by :func:`hcc_imaging.response.targets.select_targets`
    (``role_by_criteria``); lesions first seen later are ``new``.  A lesion seen before but
    missing from a later mask is recorded ``absent`` (0 mm), unless it was carried to that study
    and not found there (``carried_from["not_carried"]``, or clicked there by the carry:
    ``carried_from["seeds_lps"]``, yet not in its map): ``not_evaluable``, with the reason.  A
    measured lesion whose mask the segmenter flagged (the record's ``segmentation_checks``) has
    what to check as its note.  Every lesion records its tracking UID (the annotations', else
    :func:`hcc_imaging.export.model.name_based_tracking_uid` of the patient, reader, baseline date
    and lesion id, as the exports derived it before), so editing the read later keeps it.

    Raises
    ------
    BatchError
        No records, or records of several patients.
    """
    from ..export.model import name_based_tracking_uid
    from ..measure.measurability import round_mm
    from ..response import LesionObservation, ReadDocument, TimePoint
    from ..response.rules import parse_criteria, rules_for
    from ..response.targets import select_targets

    recs = sorted(records, key=lambda r: (r["study_date"], r["study_instance_uid"]))
    if not recs:
        raise BatchError("build_read_document: no successful study for this patient; nothing to assess.")
    pids = {r["patient_id"] for r in recs}
    if len(pids) != 1:
        raise BatchError(f"build_read_document got studies of several patients: {sorted(pids)}.")
    ann = dict(annotations or {})
    ann_les: Mapping[str, Mapping[str, Any]] = ann.get("lesions", {}) or {}
    tp_ids = _timepoint_ids(recs, ann)
    baseline_ids = [row["lesion_id"] for row in recs[0]["lesions"]]

    # what the masks say of each lesion's site (the first study that says), for lesions the
    # annotations do not describe (a PACS: a SEG's anatomic regions and fluid segments)
    mask_organs: dict[str, str] = {}
    mask_kinds: dict[str, str] = {}
    for r in recs:
        for lid, organ in (r.get("mask_organs") or {}).items():
            mask_organs.setdefault(lid, organ)
        for lid, kind in (r.get("mask_kinds") or {}).items():
            mask_kinds.setdefault(lid, kind)

    def flags(lid: str, row: Mapping[str, Any] | None) -> dict[str, Any]:
        a = dict(ann_les.get(lid, {}))
        out = {k: a[k] for k in _OBS_FLAGS if k in a}
        out.update(site_flags(a, mask_organs.get(lid), mask_kinds.get(lid)))
        if row is not None and row.get("viable_diameter_mm") is not None:
            out["enhancing"] = bool(row["viable_diameter_mm"] > 0)
        return out

    # each lesion's tracking UID, recorded now so that it stays when the read is edited later (a
    # corrected reader or baseline date): the annotations', else the one the exports derived for a
    # read without UIDs before they were recorded (the same in every run, and in objects sent then)
    reader = str(ann.get("reader_id", reader_id))

    def tracking_uid(lid: str) -> str:
        return str(ann_les.get(lid, {}).get("tracking_uid") or
                   name_based_tracking_uid(recs[0]["patient_id"], reader, _iso(recs[0]["study_date"]), lid))

    def observation(lid: str, row: Mapping[str, Any] | None, role: Any, rbc: Mapping[str, Any],
                    not_found: str | None = None, checks: Sequence[str] = (), problems: Sequence[str] = ()) -> Any:
        f = flags(lid, row)
        kind = str(f.get("kind", "lesion"))
        common: dict[str, Any] = {"lesion_id": lid, "role": role, "role_by_criteria": dict(rbc), "source": ALGORITHM, **f,
                                  "tracking_uid": tracking_uid(lid)}
        if problems:  # its mask lost voxels on the measured image (cut by its field): incomplete
            note = "measurement incomplete: " + "; ".join(problems)
            common["note"] = f"{common['note']}; {note}" if common.get("note") else note
            if row is None:
                return LesionObservation(status="not_evaluable", **common)
        if row is None and not_found is not None:
            # carried from an earlier study and not found there: gone or missed is a reader's call
            note = f"not segmented here when the earlier study's lesions were carried ({not_found}); read it by hand"
            common["note"] = f"{common['note']}; {note}" if common.get("note") else note
            return LesionObservation(status="not_evaluable", **common)
        if row is None:
            return LesionObservation(status="absent", longest_diameter_mm=0.0, short_axis_mm=0.0,
                                     viable_diameter_mm=0.0, viable_short_axis_mm=0.0, **common)
        if kind in _NON_MEASURED_KINDS:
            return LesionObservation(status="present", volume_mm3=row["volume_mm3"], **common)
        diam = ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm")
        vals = {k: round_mm(float(row[k])) for k in diam if row.get(k) is not None}
        vals.update({k: float(row[k]) for k in ("volume_mm3", "viable_volume_mm3", "necrosis_fraction")
                     if row.get(k) is not None})
        # the measured lines travel with the numbers (SR SCOORD3D, report key images, napari)
        eps = {axis: row[key] for axis, key in _ENDPOINT_KEYS if row.get(key) is not None}
        if checks:  # the segmenter says the mask may be wrong: a reader should look at it
            from ..segment.lesion import MASK_CHECKS

            note = "check the segmented mask: " + "; ".join(MASK_CHECKS.get(c, c) for c in checks)
            common["note"] = f"{common['note']}; {note}" if common.get("note") else note
        return LesionObservation(status="measured", endpoints=eps, **vals, **common)

    # Roles: annotations first, else proposed at baseline per criterion.
    explicit = {lid: a for lid, a in ann_les.items() if "role" in a or "role_by_criteria" in a}
    base_rows = {row["lesion_id"]: row for row in recs[0]["lesions"]}
    proposed: dict[str, dict[str, str]] = {lid: {} for lid in baseline_ids}
    crits = [str(parse_criteria(c)) for c in criteria]
    if any(lid not in explicit for lid in baseline_ids):
        probe = [observation(lid, base_rows[lid], "non_target", {}) for lid in baseline_ids]
        for c in crits:
            rules = rules_for(c)
            if not hasattr(rules, "max_targets"):
                continue
            chosen = set(select_targets(probe, rules, recs[0].get("slice_thickness_mm")))  # type: ignore[arg-type]
            for lid in baseline_ids:
                proposed[lid][c] = "target" if lid in chosen else "non_target"

    def roles(lid: str, first_tp: int) -> tuple[str, dict[str, str]]:
        if lid in explicit:
            a = explicit[lid]
            return str(a.get("role", "non_target" if first_tp == 0 else "new")), dict(a.get("role_by_criteria", {}))
        if first_tp > 0:
            return "new", {}
        p = proposed.get(lid, {})
        default = p.get(crits[0], "non_target") if crits else "non_target"
        return default, {c: r for c, r in p.items() if r != default}

    first_seen: dict[str, int] = {}
    for i, r in enumerate(recs):
        for row in r["lesions"]:
            first_seen.setdefault(row["lesion_id"], i)
        for lid in r.get("mask_problems") or {}:  # (a lesion wholly cut from its study's image: not_evaluable there)
            first_seen.setdefault(lid, i)
    tps = []
    for i, r in enumerate(recs):
        rows = {row["lesion_id"]: row for row in r["lesions"]}
        not_carried: Mapping[str, str] = (r.get("carried_from") or {}).get("not_carried", {})
        # clicked here by the carry (its carried point recorded) yet not in the map: never absent
        clicked: Mapping[str, Any] = (r.get("carried_from") or {}).get("seeds_lps", {})
        checks: Mapping[str, Sequence[str]] = r.get("segmentation_checks") or {}
        problems: Mapping[str, Sequence[str]] = r.get("mask_problems") or {}
        obs = []
        for lid, fs in sorted(first_seen.items(), key=lambda kv: (kv[1], _natural(kv[0]))):
            if fs > i:
                continue
            role, rbc = roles(lid, fs)
            if lid not in rows and role == "new" and lid not in problems:
                continue
            nf = not_carried.get(lid)
            if nf is None and lid not in rows and lid in clicked:
                nf = "it was carried here but holds no voxels of the carried label map"
            obs.append(observation(lid, rows.get(lid), role, rbc, nf, checks.get(lid, ()), problems.get(lid, ())))
        tps.append(TimePoint(id=tp_ids[i], date=_iso(r["study_date"]), lesions=tuple(obs),
                             modality="CT", slice_thickness_mm=r.get("slice_thickness_mm")))
    return ReadDocument(patient_id=recs[0]["patient_id"], reader_id=reader, timepoints=tuple(tps), criteria=tuple(crits))


def _natural(lid: str) -> tuple[str, int]:
    head = lid.rstrip("0123456789")
    tail = lid[len(head):]
    return head, int(tail) if tail else -1


def assess_document(doc: Any, criteria: Sequence[str]) -> Any:
    """Assess ``doc``: :func:`hcc_imaging.response.assess` (the ``assess`` command's core).

    Returns the :class:`hcc_imaging.response.Assessment` (``.results``: criterion -> result).
    """
    from ..response import assess

    return assess(doc, list(criteria))

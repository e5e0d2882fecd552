"""Discovery: one task per study of an archive index, its inputs (masks, seeds, annotations), its
content key, and the link of a study whose lesions are carried from an earlier one."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...io.masks import LABEL_NAMES_FILE
from ..constants import ANNOTATIONS_FILE, IGNORED_MASK_NAMES, LESION_MASK_NAMES, SEEDS_FILE, VIABLE_MASK_NAMES
from ..dates import DATE_NOTE, annotated_study_date, study_order_date
from ..errors import BatchError
from ..lesions import load_annotations, phase_series
from ..resume import content_key, file_digest
from ._placement import _common_root, _file_folders, _Placed, mask_folders, root_notes
from ._tasks import PipelineOptions, StudyInputs, StudyTask

#: The package's logger, as before the split (a run's log names ``hcc_imaging.batch.pipeline``).
log = logging.getLogger("hcc_imaging.batch.pipeline")

_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
_NIFTI_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


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
        from ...segment.constants import ALGORITHM_VERSION

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
    loaded: dict[tuple[str, ...], dict[str, Any]] = {}

    def annotations_of(files: tuple[str, ...]) -> dict[str, Any]:
        if files not in loaded:
            try:
                loaded[files] = load_annotations(files) if files else {}
            except BatchError:  # (a file that is no JSON object: the study's own step says so, naming it)
                loaded[files] = {}
        return loaded[files]

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
        # no StudyDate: dated from its image series (the driver warns), never "" sorted first as the baseline;
        # a date the annotations give (study_dates) wins: the manual order
        named = f"{st.study_instance_uid} ({root or '?'})"
        study_date, date_note = study_order_date(st.study_date, st.series, _is_image_series, named)
        try:
            given, given_note = annotated_study_date(
                st.study_instance_uid, annotations_of(inputs.annotations_files), inputs.annotations_files,
                study_date, named)
        except ValueError as err:  # (the study fails, named; the batch goes on)
            extra.setdefault("index_error", str(err))
        else:
            if given is not None:
                study_date, date_note = given, given_note
        if date_note is not None:
            extra[DATE_NOTE] = date_note
        ih = _input_hash(images + tuple(others), inputs)
        tasks.append(
            StudyTask(
                key=content_key(st.study_instance_uid, ih, options.key_options()),
                patient_id=st.patient_id,
                study_instance_uid=st.study_instance_uid,
                study_date=study_date,
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
    from ...segment.constants import ALGORITHM_VERSION

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
    from ...io import index_archive

    idx = index_archive(source, warn_no_patient_ids=False)  # run_batch warns once per study
    tasks = tasks_from_index(idx, options, archive_root=str(Path(source)))
    if not tasks:
        raise BatchError(
            f"{source}: no DICOM study found ({idx.n_files} files scanned, {len(idx.skipped)} skipped"
            + (f"; {idx.skipped[0].path}: {idx.skipped[0].reason}" if idx.skipped else "")
            + "). Point SOURCE at a folder, zip or DICOMDIR holding DICOM files."
        )
    return tasks, idx

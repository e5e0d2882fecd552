"""DICOM exports of a batch run: one SEG per study, one TID 1500 SR per patient (and STOW-RS).

Written through :mod:`hcc_imaging.export` (``write_seg`` / ``write_sr``), after the tables, from
the same masks, read documents and assessments.  For a DICOMweb source the SEGs and SRs are
stored back on the server with STOW-RS.  A failure is returned as a failure row (step
``export`` or ``stow``), never raised.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .lesions import (annotated_organ, load_annotations, load_image, load_saved_masks, pick_reference, site_flags,
                      study_images, study_lesions)
from .pipeline import PipelineOptions, StudyTask
from .resume import patient_file_stem

__all__ = ["DEIDENTIFIED_DIR", "export_deidentified", "export_reports"]

#: The folder under OUT that holds a run's de-identified copy (``run_batch(deidentifier=)``).
DEIDENTIFIED_DIR = "deidentified"

log = logging.getLogger(__name__)


def _fail(pid: str, study: str, step: str, err: BaseException | str) -> dict[str, Any]:
    reason = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return {"patient_id": pid, "study_instance_uid": study, "study_date": "", "step": step,
            "reason": " ".join(reason.split()), "root": ""}


def export_reports(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    tasks: Sequence[StudyTask],
    options: PipelineOptions,
    patients: Mapping[str, Mapping[str, Any] | None],
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Write ``OUT/seg/<study>.dcm`` and ``OUT/sr/<patient>.dcm``; STOW them for DICOMweb studies.

    Only the patients whose read this run made are exported, from that read and assessment
    (``patients``: patient id -> :func:`~hcc_imaging.batch.tables.patient_outputs`), never from a
    file an earlier run left under ``OUT/reads``.  Each of the read's time points is the study of
    the patient's successful records in the same (date, UID) order; a read whose time points do not
    match them (count or date) is a failure row, not an SR pointing at another study's images.

    Returns
    -------
    (files, failures)
        ``files`` = {"seg": [...], "sr": [...], "stored": [...]}; ``failures`` = failure rows.
    """
    from ..export.model import as_export_read
    from ..export.seg import write_seg
    from ..export.sr import write_sr
    from ..io.dicomweb import retrieved, stow_files
    from ..response import ReadDocument

    by_key = {t.key: t for t in tasks}
    by_patient: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        if r["ok"]:
            by_patient[r["patient_id"]].append(r)
    files: dict[str, list[str]] = {"seg": [], "sr": [], "stored": []}
    failures: list[dict[str, Any]] = []
    for pid, recs in sorted(by_patient.items()):
        po = patients.get(pid)
        if not po or not po.get("read_json"):
            continue  # no read this run (a failed baseline, read or assess step): already a failure row
        doc = ReadDocument.from_json(po["read_json"])
        # one Tracking UID per lesion in every SEG and the SR: the read's (derived when it has none)
        tracking = {les.lesion_id: str(les.tracking_uid) for les in as_export_read(doc).lesions if les.tracking_uid}
        assessment = json.loads(po["assessment_json"]) if po.get("assessment_json") else None
        recs = sorted(recs, key=lambda r: (r["study_date"], r["study_instance_uid"]))
        if mismatch := _timepoint_mismatch(doc, recs):
            failures.append(_fail(pid, "", "export", mismatch))
            continue
        images: dict[str, Any] = {}
        segs: dict[str, Any] = {}
        urls: set[str] = set()
        seg_files: list[str] = []
        for tp, rec in zip(doc.timepoints, recs, strict=True):
            task = by_key.get(rec["key"])
            if task is None:
                continue
            try:
                if task.dicomweb_url is not None:
                    urls.add(task.dicomweb_url)
                    # (retrieved again when a resumed run's cache is gone; files present are kept)
                    task = retrieved(task, options)
                # the lesions the study was measured with: the masks the run saved when it made
                # them (seeds, carried), else its mask files (or, saved masks removed, made again)
                saved = None
                organs: dict[str, str] = {**(rec.get("mask_organs") or {}), **(rec.get("masks") or {}).get("organs", {})}
                kinds: dict[str, str] = dict(rec.get("mask_kinds") or {})
                if rec.get("masks"):
                    ref = load_image(pick_reference(task.series), options)
                    saved = load_saved_masks(out, rec["masks"], ref)
                if saved is not None:
                    lesions, viable = saved
                else:
                    ref, phases = study_images(task, options)
                    got = study_lesions(task, ref, phases, options)
                    lesions, viable = got.lesions, got.viable
                    organs, kinds = {**organs, **got.organs}, {**kinds, **got.kinds}
                # each segment's anatomic region and property type (a fluid: ascites, an effusion)
                # from its site as the read has it: the annotation's (a node, a thrombus in the
                # portal vein, ascites), else the masks' (a SEG's); the liver by default
                ann = load_annotations(task.inputs.annotations_files)["lesions"]
                for lid in lesions.labels.values():
                    site = site_flags(ann.get(lid, {}), organs.get(lid), kinds.get(lid))
                    if organ := annotated_organ(site):
                        organs[lid] = organ
                    if site.get("kind"):
                        kinds[lid] = str(site["kind"])
                seg_path = out / "seg" / f"{rec['study_instance_uid']}.dcm"
                info = write_seg(lesions, ref, seg_path, viable=viable, algorithm=("hcc_imaging.batch", "1"),
                                 organs=organs or None, kinds=kinds or None, tracking_uids=tracking)
                images[tp.id] = ref
                segs[tp.id] = info
                files["seg"].append(str(seg_path))
                seg_files.append(str(seg_path))
            except Exception as err:  # one failure row per study that could not be exported
                failures.append(_fail(pid, rec["study_instance_uid"], "export", err))
        try:
            sr_path = out / "sr" / f"{patient_file_stem(pid)}.dcm"
            write_sr(doc, sr_path, assessment=assessment, images=images or None, segs=segs or None,
                     timepoints=list(images) or None)
            files["sr"].append(str(sr_path))
        except Exception as err:
            failures.append(_fail(pid, "", "export", err))
            continue
        for url in sorted(urls):
            try:
                stow_files(url, [*seg_files, str(sr_path)])
                files["stored"].extend([*seg_files, str(sr_path)])
            except Exception as err:
                failures.append(_fail(pid, "", "stow", err))
    return files, failures


def _timepoint_mismatch(doc: Any, recs: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the read's time points are not the studies ``recs`` (date order), or None when they are."""
    from .pipeline import _iso

    dates = [tp.date.isoformat() if tp.date else None for tp in doc.timepoints]
    want = [_iso(str(r.get("study_date") or "")) for r in recs]
    if len(dates) == len(want) and dates == want:
        return None
    return (f"the read of patient {doc.patient_id} has {len(dates)} time point(s) dated {dates}, but the run has "
            f"{len(recs)} successful study(ies) of it dated {want} "
            f"({', '.join(str(r['study_instance_uid']) for r in recs)}): no SEG or SR exported, since each time point "
            "would point at another study's images. Run the batch again (--resume) to rebuild the read.")


def export_deidentified(out: Path, patients: Mapping[str, Mapping[str, Any] | None], deidentifier: Any,
                        *, dicom_files: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """A de-identified copy of a run's results, for sharing: ``OUT/deidentified/``.

    The tables (lesions, responses, summary; CSV and Parquet) and the JSON read documents of
    every patient, as ``hcc-imaging export csv --deidentify`` writes them from the run's reads and
    assessments (pseudonyms, shifted dates, remapped UIDs), and with ``dicom_files``
    (``--export-sr``: :func:`export_reports`'s ``{"seg": [...], "sr": [...]}``) de-identified copies
    of those SEGs and SRs, the ones this run wrote, never what else lies in ``OUT/seg`` or
    ``OUT/sr`` (``deidentified/seg``, ``deidentified/sr``; the same UID map, so the SRs still
    reference the SEGs).  The folder is made anew each time (a
    resumed run's copy holds every patient, none twice).  The pseudonym map (``deidentifier``'s,
    saved at the end) must lie outside it.  Returns the files written (name -> path).
    """
    import shutil

    from ..export.deid import deidentify_files
    from ..export.tables import write_tables

    dest = out / DEIDENTIFIED_DIR
    deidentifier.check_outside(dest)
    if dest.exists():
        shutil.rmtree(dest)
    docs = [json.loads(po["read_json"]) for _, po in sorted(patients.items()) if po and po.get("read_json")]
    assessments = {po["patient_id"]: json.loads(po["assessment_json"]) for po in patients.values()
                   if po and po.get("read_json") and po.get("assessment_json")}
    files: dict[str, str] = {}
    if docs:
        info = write_tables(docs, dest, assessments=assessments or None, deidentifier=deidentifier)
        files.update({f"{DEIDENTIFIED_DIR}/{Path(p).name}": str(p)
                      for d in info.tables.values() for p in d.values()})
        files.update({f"{DEIDENTIFIED_DIR}/reads/{Path(p).name}": str(p) for p in info.reads})
    if dicom_files:
        for kind in ("seg", "sr"):
            for p in deidentify_files(sorted(Path(f) for f in dicom_files.get(kind, ())), dest / kind, deidentifier):
                files[f"{DEIDENTIFIED_DIR}/{kind}/{p.name}"] = str(p)
    deidentifier.save()
    return files

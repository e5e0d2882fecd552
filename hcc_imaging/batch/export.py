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

from .lesions import study_images, study_lesions
from .pipeline import PipelineOptions, StudyTask

__all__ = ["export_reports"]

log = logging.getLogger(__name__)


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "patient"


def _fail(pid: str, study: str, step: str, err: BaseException | str) -> dict[str, Any]:
    reason = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return {"patient_id": pid, "study_instance_uid": study, "study_date": "", "step": step,
            "reason": " ".join(reason.split()), "root": ""}


def export_reports(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    tasks: Sequence[StudyTask],
    options: PipelineOptions,
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Write ``OUT/seg/<study>.dcm`` and ``OUT/sr/<patient>.dcm``; STOW them for DICOMweb studies.

    Returns
    -------
    (files, failures)
        ``files`` = {"seg": [...], "sr": [...], "stored": [...]}; ``failures`` = failure rows.
    """
    from ..export.seg import write_seg
    from ..export.sr import write_sr
    from ..io.dicomweb import local_task, stow_files
    from ..response import ReadDocument

    by_key = {t.key: t for t in tasks}
    by_patient: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        if r["ok"]:
            by_patient[r["patient_id"]].append(r)
    files: dict[str, list[str]] = {"seg": [], "sr": [], "stored": []}
    failures: list[dict[str, Any]] = []
    for pid, recs in sorted(by_patient.items()):
        read_path = out / "reads" / f"{_safe(pid)}.json"
        ass_path = out / "assessments" / f"{_safe(pid)}.json"
        if not read_path.is_file():
            continue  # the patient failed at read/assess: already a failure row
        doc = ReadDocument.from_json(read_path)
        assessment = json.loads(ass_path.read_text(encoding="utf-8")) if ass_path.is_file() else None
        recs = sorted(recs, key=lambda r: (r["study_date"], r["study_instance_uid"]))
        images: dict[str, Any] = {}
        segs: dict[str, Any] = {}
        urls: set[str] = set()
        seg_files: list[str] = []
        for tp, rec in zip(doc.timepoints, recs, strict=False):
            task = by_key.get(rec["key"])
            if task is None:
                continue
            try:
                if task.dicomweb_url is not None:
                    urls.add(task.dicomweb_url)
                    task = local_task(task, options)
                # the lesions the study was measured with (segmented again from its seeds, or
                # carried again: the same masks)
                ref, phases = study_images(task, options)
                got = study_lesions(task, ref, phases, options)
                lesions, viable = got.lesions, got.viable
                seg_path = out / "seg" / f"{rec['study_instance_uid']}.dcm"
                info = write_seg(lesions, ref, seg_path, viable=viable, algorithm=("hcc_imaging.batch", "1"))
                images[tp.id] = ref
                segs[tp.id] = info
                files["seg"].append(str(seg_path))
                seg_files.append(str(seg_path))
            except Exception as err:  # one failure row per study that could not be exported
                failures.append(_fail(pid, rec["study_instance_uid"], "export", err))
        try:
            sr_path = out / "sr" / f"{_safe(pid)}.dcm"
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

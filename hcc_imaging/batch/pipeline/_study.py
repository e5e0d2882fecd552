"""One study end to end (load -> masks -> measure), and the worker's entry point that turns every
failure into a record."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterable
from typing import Any

from ...measure.edge import lesions_at_image_edge
from ...volume import LabelVolume, Volume
from ..advice import batch_advice
from ..errors import StudyStepError
from ..lesions import (PHASES_LEFT_OUT, check_not_empty, load_annotations, mask_files, mask_problems, phase_series,
                       site_flags, study_images, study_lesions)
from ._tasks import ALGORITHM, MASK_BYTES, PipelineOptions, StudyTask

#: The package's logger, as before the split (a run's log names ``hcc_imaging.batch.pipeline``).
log = logging.getLogger("hcc_imaging.batch.pipeline")


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
    from ...measure import measure_labels

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
    # (--bias-correct's fields; imported here, not with the batch, and not for a study refused above)
    from ...segment.bias import bias_record

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
        # (--bias-correct) each phase's N4 bias field, as the segmentation read it
        **bias_record(phases),
        # the masks this run made (seeds, carried): saved under OUT by the driver (runner), the
        # files' bytes travel beside the record (MASK_BYTES), never in the stored record
        **({"masks": saved, MASK_BYTES: files} if saved is not None else {}),
        # lesion id -> what the segmenter says a reader should check (segment.lesion.MASK_CHECKS)
        **({"segmentation_checks": {k: list(v) for k, v in sorted(got.checks.items())}} if got.segmented else {}),
        # lesion id -> its check against the arterial phase its viable part was read on, from the phase
        # it was segmented on (batch.viable_parts: the shift, whether the lesion was moved, the notes)
        **({"viable_alignment": {k: dict(v) for k, v in sorted(got.viable_alignment.items())}}
           if got.viable_alignment else {}),
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
            from ...io.dicomweb import process_remote_study

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
    from ...io.dicomweb import redact_url

    # (a URL's password, e.g. of a DICOMweb server, never reaches the console, failures.csv or the store)
    reason = redact_url(reason)
    reason = batch_advice(reason)  # (a loader's "pass acquisition=N": what the batch's user can do instead)
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

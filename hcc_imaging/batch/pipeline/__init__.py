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

The code lives in private modules: ``_tasks`` (options, a study's inputs, its task), ``_placement``
(which folders are a study's own), ``_discover`` (one task per study, inputs, content keys, carried
lesions), ``_shards`` (the header scan in shards of whole folders), ``_study`` (one study end to
end, the worker's entry point) and ``_read`` (one patient's read document and assessment).
"""

from __future__ import annotations

from ..errors import BatchError, StudyStepError
from ..lesions import load_annotations
from ._discover import (_input_hash, discover_studies, link_carried, masks_only, split_mask_studies,
                        tasks_from_index)
from ._placement import mask_folders, root_notes
from ._read import _iso, _timepoint_ids, assess_document, build_read_document
from ._shards import index_shard, index_sharded, merge_shard_tasks, shard_files
from ._study import measure_lesions, process_study, run_study, study_thickness_mm
from ._tasks import ALGORITHM, MASK_BYTES, PipelineOptions, StudyInputs, StudyTask

# Also importable from here, as when this was one module: MASK_BYTES (runner), study_thickness_mm, and
# the private _input_hash (tests/batch), _iso (batch.export) and _timepoint_ids (batch.tables).

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

"""Headless archive runs: the per-study pipeline and its Dask runner (``hcc-imaging batch``).

* :func:`run_batch` -- a whole archive on Dask distributed, resumable (:mod:`.runner`);
* :func:`process_study` / :func:`run_study` -- one study end to end (:mod:`.pipeline`), reused
  by the CLI and the napari plugin;
* :func:`build_read_document` / :func:`assess_document` -- one patient's read and assessment.

Dask is imported only when a run starts.  See ``docs/batch.md``.
"""

from __future__ import annotations

from .pipeline import (
    BatchError,
    PipelineOptions,
    StudyInputs,
    StudyStepError,
    StudyTask,
    assess_document,
    build_read_document,
    discover_studies,
    link_carried,
    load_annotations,
    measure_lesions,
    process_study,
    run_study,
    tasks_from_index,
)
from .errors import BatchInterrupted
from .runner import BatchSummary, run_batch

__all__ = [
    "BatchError",
    "BatchInterrupted",
    "BatchSummary",
    "PipelineOptions",
    "StudyInputs",
    "StudyStepError",
    "StudyTask",
    "assess_document",
    "build_read_document",
    "discover_studies",
    "link_carried",
    "load_annotations",
    "measure_lesions",
    "process_study",
    "run_batch",
    "run_study",
    "tasks_from_index",
]

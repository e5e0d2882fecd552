"""The archive run on Dask distributed: one task per study, streamed, resumable (``hcc-imaging batch``).

Flow: index the SOURCE (folder / zip / DICOMDIR header scan, or a DICOMweb QIDO search) ->
one :class:`~hcc_imaging.batch.pipeline.StudyTask` per study -> skip the tasks whose content key
already has a successful record (``resume=True``) -> submit the rest to Dask (a ``LocalCluster``
of single-threaded worker processes by default, or an existing scheduler) -> store each record
atomically the moment its future completes -> per patient, build the read document and assess it
-> write the tables.

Outputs in ``OUT``:

* ``lesions.parquet`` / ``lesions.csv``: one row per lesion per study (the
  :class:`~hcc_imaging.measure.LesionMeasurement` fields, endpoints as JSON text);
* ``responses.parquet`` / ``responses.csv``: one row per patient x criterion x time point, with
  the best overall responses and the endpoints (PFS, TTP, DOR: ``tables.ENDPOINT_COLUMNS``);
* ``failures.csv``: one row per failed study or patient (``patient_id``, ``study_instance_uid``,
  ``step``, ``reason``);
* ``reads/<patient>.json`` (read documents) and ``assessments/<patient>.json`` (``assess --json``);
* ``skipped.csv``: the files the index could not read as DICOM (unreadable, truncated, not DICOM;
  not the masks, seeds and notes expected beside the studies), with their folder and why; a folder
  from which no file was read is also a ``failures.csv`` row (step ``index``)
  (:mod:`hcc_imaging.batch.skipped`);
* ``store/`` the per-study records (see :mod:`hcc_imaging.batch.resume`), ``summary.json``;
* ``masks/<study>/`` for each study whose lesions the run made (seeds segmented, or carried):
  ``lesions.nii.gz``, ``viable.nii.gz`` and ``labels.json`` (label -> lesion id); the record's
  ``masks`` entry names them;
* with ``export_sr``: ``seg/<study>.dcm`` and ``sr/<patient>.dcm`` (and STOW-RS for DICOMweb).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import threading
import time
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._atomic import remove_stale_temps
from ..io._dicomparse import ZIP_SEP
from ..io.index import has_no_patient_id, source_exists, warn_no_patient_id
from .constants import (
    DEFAULT_THREADS_PER_WORKER,
    DICOMWEB_SCHEMES,
    LOCAL_CLIENT_CONFIG,
    LOCAL_CLUSTER_CONFIG,
    SCHEDULER_CONNECT_TIMEOUT_S,
    SHARDS_PER_WORKER,
)
from .dates import dated_record, warn_dated_from_series
from .pipeline import (
    MASK_BYTES,
    BatchError,
    PipelineOptions,
    StudyTask,
    discover_studies,
    index_sharded,
    split_mask_studies,
    link_carried,
    run_study,
)
from .errors import BatchInterrupted
from .resume import ResultStore, atomic_write_bytes, atomic_write_text, record_json
from .skipped import SKIPPED_COLUMNS, index_failure_rows, skipped_folders, skipped_rows, warn_skipped
from .tables import (FAILURE_COLUMNS, _write_frame, failure_row, incomplete_row, patient_files, patient_outputs,
                     set_aside_stale, write_outputs, write_patient_files)

__all__ = ["BatchSummary", "run_batch", "default_workers", "local_cluster", "write_tables", "FAILURE_COLUMNS"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a run did (also written to ``OUT/summary.json``)."""

    out_dir: str
    n_studies: int
    n_processed: int
    n_skipped: int
    n_failed_studies: int
    n_patients: int
    n_failed_patients: int
    elapsed_s: float
    workers: int
    files: Mapping[str, str] = field(default_factory=dict)
    #: Wall time per stage: discover (index + keys), execute (Dask), tables (reads, assess, files).
    timings_s: Mapping[str, float] = field(default_factory=dict)
    #: Studies whose masks the run made and saved (``masks/<study>/``: seeds, carried).
    n_masks_saved: int = 0
    #: Lesions whose mask the segmenter flagged for a check (``segmentation_checks``).
    n_lesions_to_check: int = 0
    #: Files the index could not read as DICOM (unreadable, truncated, not DICOM; ``skipped.csv``),
    #: not counting the masks, seeds and notes expected beside the studies.
    n_files_skipped: int = 0
    #: Folders holding such files (``skipped.csv``'s ``folder``).
    n_folders_with_skipped: int = 0
    #: Folders from which no file was read (each a ``failures.csv`` row, step ``index``).
    folders_not_read: tuple[str, ...] = ()
    #: Temporary files of writes an earlier, killed run left in ``out_dir``, removed by this run.
    n_stale_temps_removed: int = 0
    #: Files of earlier runs under reads/, assessments/, seg/, sr/ (or deidentified/) that this run
    #: did not write, moved to ``OUT/stale/<time>/`` (:func:`~hcc_imaging.batch.tables.set_aside_stale`).
    n_stale_set_aside: int = 0
    #: Studies measured with a lesion their image's field cut (a ``failures.csv`` row, step
    #: ``incomplete``; the record's ``mask_problems``); counted in :attr:`n_failures` (``--strict``).
    n_incomplete_studies: int = 0

    @property
    def n_failures(self) -> int:
        return self.n_failed_studies + self.n_failed_patients + len(self.folders_not_read) + self.n_incomplete_studies

    def to_json(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "n_studies": self.n_studies,
            "n_processed": self.n_processed,
            "n_skipped_resumed": self.n_skipped,
            "n_failed_studies": self.n_failed_studies,
            "n_patients": self.n_patients,
            "n_failed_patients": self.n_failed_patients,
            "elapsed_s": round(self.elapsed_s, 3),
            "workers": self.workers,
            "files": dict(self.files),
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "n_masks_saved": self.n_masks_saved,
            "n_lesions_to_check": self.n_lesions_to_check,
            "n_files_skipped": self.n_files_skipped,
            "n_folders_with_skipped": self.n_folders_with_skipped,
            "folders_not_read": list(self.folders_not_read),
            "n_stale_temps_removed": self.n_stale_temps_removed,
            "n_stale_set_aside": self.n_stale_set_aside,
            "n_incomplete_studies": self.n_incomplete_studies,
        }


def default_workers() -> int:
    """One single-threaded worker process per core (each holds one study in memory)."""
    return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------
# Dask
# ------------------------------------------------------------------------------------------
def local_cluster(workers: int, *, processes: bool = True) -> Any:
    """The ``LocalCluster`` a run starts when no ``scheduler`` is given (also used by the benchmark).

    ``workers`` processes (or threads) of one thread each, and the Dask settings of
    :data:`~hcc_imaging.batch.constants.LOCAL_CLUSTER_CONFIG` (no statistical profiler in the
    workers, no host disk monitor, no work stealing): on a small machine the driver process (client
    + scheduler) and that bookkeeping compete with the workers for the cores.
    """
    from .._optional import import_optional

    distributed = import_optional("distributed", "the batch engine (Dask distributed)", "all")
    import dask

    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.http.proxy", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # The worker processes ignore SIGINT: Ctrl+C at a terminal reaches the whole process group, and
    # the run (the driver) stops them itself after storing what it has (``BatchInterrupted``);
    # otherwise each worker died with a traceback on stderr.  A process started while SIGINT is
    # ignored keeps ignoring it (it is inherited through fork and exec).
    ignore = processes and threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
    try:
        with dask.config.set(LOCAL_CLUSTER_CONFIG):  # read by the scheduler, nannies and workers at start
            return distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=DEFAULT_THREADS_PER_WORKER,
                processes=processes,
                dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.ERROR,
            )
    finally:
        if ignore:
            signal.signal(signal.SIGINT, old)


def _client(workers: int, scheduler: str | None, processes: bool, connect_timeout_s: float) -> tuple[Any, Any, int]:
    from .._optional import import_optional

    distributed = import_optional("distributed", "the batch engine (Dask distributed)", "all")
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=f"{connect_timeout_s}s")
        except OSError as err:
            raise BatchError(
                f"cannot connect to the Dask scheduler at {scheduler} ({err}). Start one with "
                "`dask scheduler` (and workers with `dask worker ADDRESS --nthreads 1`), or drop --scheduler "
                "to run on a local cluster."
            ) from err
        n = len(client.scheduler_info().get("workers", {}))
        return client, None, n
    cluster = local_cluster(workers, processes=processes)
    import dask

    with dask.config.set(LOCAL_CLIENT_CONFIG):
        return distributed.Client(cluster), cluster, workers


def _close(client: Any, cluster: Any) -> None:
    client.close()
    if cluster is not None:
        cluster.close()


class _Progress:
    """rich progress bar: studies done / failed / remaining and rate (no-op when disabled)."""

    def __init__(self, total: int, skipped: int, enabled: bool) -> None:
        self.total, self.done, self.failed, self.skipped = total, 0, 0, skipped
        self.t0 = time.perf_counter()
        self._p: Any = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(
                TextColumn("[bold]batch"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} studies"),
                TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/] "
                           "{task.fields[remaining]} left {task.fields[rate]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._p.start()
            self._task = self._p.add_task("studies", total=total, ok=0, failed=0, remaining=total, rate="")

    def update(self, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        if self._p is not None:
            rate = self.done / max(time.perf_counter() - self.t0, 1e-9) * 60
            self._p.update(self._task, advance=1, ok=self.done - self.failed, failed=self.failed,
                           remaining=self.total - self.done, rate=f"{rate:.1f}/min")

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def _study_job(task: StudyTask, options: PipelineOptions) -> tuple[str, dict[str, bytes]]:
    """Worker side of one study: :func:`run_study`, returned as its stored JSON text (small, and
    the driver writes it as is) and the mask files the study's worker made (seeds, carried: path
    under OUT -> bytes, :func:`~hcc_imaging.batch.lesions.mask_files`; the driver writes them)."""
    rec = run_study(task, options)
    files = rec.pop(MASK_BYTES, None) or {}
    return record_json(rec), files


def _save_mask_files(out: Path, rec: dict[str, Any], files: Mapping[str, bytes]) -> bool:
    """Write a study's mask files under ``out`` (atomically, before its record is stored); on an
    error the record loses its ``masks`` entry (it is stored all the same: the measurements are
    kept) and False is returned."""
    try:
        for rel, data in files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
    except OSError as err:
        log.warning("study %s: its masks could not be saved under %s (%s); the measurements are kept",
                    rec.get("study_instance_uid"), out, err)
        rec.pop("masks", None)
        return False
    return True


def _patient_job(
    patient_id: str, records: Sequence[tuple[str, Any] | str | Mapping[str, Any]], annotations_files: Sequence[str],
    options: PipelineOptions,
) -> dict[str, Any] | None:
    """Worker side of one patient: its read, assessment and rows (:func:`patient_outputs`) from its
    study records (JSON texts of this run, or stored records of a resumed one)."""
    # a study job's result is (JSON text, mask files); a resumed study's record is a dict
    recs = [json.loads(r[0]) if isinstance(r, tuple) else json.loads(r) if isinstance(r, str) else r
            for r in records]
    return patient_outputs(patient_id, recs, annotations_files, options)


def _worker_failure(t: StudyTask, err: BaseException) -> dict[str, Any]:
    return {"key": t.key, "ok": False, "patient_id": t.patient_id, "study_instance_uid": t.study_instance_uid,
            "study_date": t.study_date, "root": t.root, "step": "worker", "reason": f"{type(err).__name__}: {err}"}


def _error_of(res: Any) -> BaseException:
    """The exception of a failed future's result (``as_completed(raise_errors=False)`` gives the
    ``(type, value, traceback)`` triple)."""
    if isinstance(res, BaseException):
        return res
    if isinstance(res, tuple) and len(res) == 3 and isinstance(res[1], BaseException):
        return res[1]
    return RuntimeError(f"task lost ({res!r})")


def _annotation_files_by_patient(tasks: Sequence[StudyTask]) -> dict[str, list[str]]:
    ann_files: dict[str, list[str]] = defaultdict(list)
    for t in tasks:
        for f in t.inputs.annotations_files:
            if f not in ann_files[t.patient_id]:
                ann_files[t.patient_id].append(f)
    return ann_files


def _discover(client: Any, src: str, options: PipelineOptions, n_workers: int) -> tuple[list[StudyTask], list[Any]]:
    """Index a folder SOURCE on the workers, shards of whole folders
    (:func:`~hcc_imaging.batch.pipeline.index_sharded`); a zip / DICOMDIR / single file is indexed
    in the driver as a whole.  Returns the tasks and the files the index skipped
    (:class:`~hcc_imaging.io.index.SkippedFile`)."""
    if not Path(src).is_dir():
        tasks, idx = discover_studies(src, options)
        return tasks, list(idx.skipped)

    def mapper(fn: Callable[..., Any], shards: list[list[str]]) -> list[Any]:
        return client.gather(client.map(fn, shards, pure=False, key=[f"hcc-index-{uuid.uuid4().hex}" for _ in shards]))

    skipped: list[Any] = []
    return index_sharded(src, options, SHARDS_PER_WORKER * max(1, n_workers), mapper, skipped=skipped), skipped


def _report_skipped(out: Path, src: str, tasks: Sequence[StudyTask], skipped: Sequence[Any]) -> list[Any]:
    """Write ``skipped.csv`` and warn per folder about the files the index skipped; returns the
    folders (:class:`~hcc_imaging.batch.skipped.SkippedFolder`)."""
    # the root the index lists files under (a zip's members are "ZIP::name")
    root = (src if os.path.isdir(src) or ZIP_SEP in src or zipfile.is_zipfile(src)
            else os.path.dirname(os.path.abspath(src)))
    read = [f for t in tasks for f in (*(f for se in t.series for f in se.files), *t.inputs.seg_files,
                                        *t.inputs.rtstruct_files)]
    folders = skipped_folders(root, skipped, read)
    warn_skipped(folders, out)
    _write_frame(skipped_rows(folders), SKIPPED_COLUMNS, out / "skipped", parquet=False)
    return folders


def _execute(
    client: Any,
    tasks: Sequence[StudyTask],
    pending: Sequence[StudyTask],
    options: PipelineOptions,
    store: ResultStore,
    out: Path,
    *,
    progress: _Progress,
    on_record: Callable[[Mapping[str, Any]], None] | None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any] | None]]:
    """Run the pending studies and every patient's read / assessment on Dask.

    One task per study (``client.map``, one message) and one per patient, which depends on its
    studies' futures (records of resumed studies are passed as data), so a patient is assessed on
    a worker as soon as its last study is done, while other studies run.  Completed futures are
    consumed in batches: the batch's records are stored (one fsync per file, one per folder), the
    patients' read / assessment files written.  Returns ``(records by key, patient outputs)``;
    a patient whose task was lost (dead worker) is missing and done by the caller.
    """
    from distributed import as_completed

    records: dict[str, dict[str, Any]] = {}
    pending_keys = {t.key for t in pending}
    for t in tasks:
        if t.key not in pending_keys:
            rec = store.get(t.key)
            if rec is not None:
                if rec.get("patient_id") != t.patient_id:
                    # a record stored before the index gave a study without a PatientID a key of its
                    # own (``io.patient_key``; it was patient ""): it belongs to the task's patient
                    rec = {**rec, "patient_id": t.patient_id}
                rec = dated_record(rec, t.study_date)
                records[t.key] = rec
    run_id = uuid.uuid4().hex[:12]
    study_futs = client.map(_study_job, list(pending), options=options, pure=False, retries=0,
                            key=[f"hcc-study-{t.key}-{run_id}" for t in pending]) if pending else []
    fut_of = {t.key: f for t, f in zip(pending, study_futs, strict=True)}
    by_patient: dict[str, list[StudyTask]] = defaultdict(list)
    for t in tasks:
        by_patient[t.patient_id].append(t)
    ann = _annotation_files_by_patient(tasks)
    patient_futs = []
    for n, (pid, ts) in enumerate(by_patient.items()):
        items = [fut_of[t.key] if t.key in fut_of else records[t.key] for t in ts if t.key in fut_of or t.key in records]
        patient_futs.append(client.submit(_patient_job, pid, items, ann.get(pid, []), options, pure=False,
                                          retries=0, priority=1, key=f"hcc-patient-{n}-{run_id}"))
    meta: dict[str, tuple[str, Any]] = {f.key: ("study", t) for t, f in zip(pending, study_futs, strict=True)}
    meta.update({f.key: ("patient", pid) for pid, f in zip(by_patient, patient_futs, strict=True)})
    patients: dict[str, dict[str, Any] | None] = {}
    # loop=client.loop: the results are awaited on this client's event loop (not on the process's
    # default client's, which may be another client of the same process, e.g. the benchmark's)
    done = as_completed([*study_futs, *patient_futs], loop=client.loop, with_results=True, raise_errors=False)
    for batch in done.batches():
        got: list[tuple[dict[str, Any], str | None]] = []
        try:
            for fut, res in batch:
                kind, what = meta[fut.key]
                failed = fut.status != "finished"  # raise_errors=False: res is then (type, error, traceback)
                if kind == "study":
                    if not failed:
                        text, files = res
                        rec = json.loads(text)
                        if files and not _save_mask_files(out, rec, files):
                            text = None  # the record without its masks entry
                        got.append((rec, text))
                    else:  # worker died (KilledWorker, OOM, segfault) or cancelled
                        got.append((_worker_failure(what, _error_of(res)), None))
                elif not failed:  # a failed patient task is redone by the caller
                    patients[what] = res
                    if res is not None:
                        write_patient_files(out, res)
                fut.release()
        finally:  # also when interrupted (Ctrl+C) in the middle of a batch: what arrived is kept
            if got:
                store.put_batch(got)
        if got:
            for rec, _ in got:
                records[rec["key"]] = rec
                progress.update(bool(rec["ok"]))
                if on_record is not None:
                    on_record(rec)
    return records, patients


# ------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------
def write_tables(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    options: PipelineOptions,
    tasks: Sequence[StudyTask],
    extra_failures: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, str], int, int]:
    """Rebuild every table from the study records; returns (files, n_patients, n_failed_patients).

    The read / assessment of each patient is computed here (in the driver); ``run_batch`` computes
    them on the workers while the studies run, with the same result.  ``extra_failures`` (e.g.
    export / STOW failures) are added to ``failures.csv``.
    """
    by_patient: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    failures: list[dict[str, Any]] = [dict(f) for f in extra_failures]
    for rec in records:
        by_patient[rec["patient_id"]].append(rec)  # (a failed baseline fails its patient: patient_outputs)
        if not rec["ok"]:
            failures.append(failure_row(rec))
        elif (row := incomplete_row(rec)) is not None:
            failures.append(row)
    ann = _annotation_files_by_patient(tasks)
    (out / "reads").mkdir(parents=True, exist_ok=True)
    (out / "assessments").mkdir(parents=True, exist_ok=True)
    patients: dict[str, dict[str, Any] | None] = {}
    for pid in sorted(by_patient):
        po = patient_outputs(pid, by_patient[pid], ann.get(pid, []), options)
        if po is not None:
            write_patient_files(out, po)
        patients[pid] = po
    return write_outputs(out, patients, failures)


# ------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------
def _refuse_out_inside_source(src: str, out: Path) -> None:
    """A folder SOURCE is indexed whole: an ``--out`` in it would be indexed by the next run (its
    ``seg/*.dcm`` read as parts of the studies, its tables as skipped files), so it is refused."""
    if src.startswith(DICOMWEB_SCHEMES) or not Path(src).is_dir():
        return
    s, o = Path(src).resolve(), out.resolve()
    if o == s or s in o.parents:
        raise BatchError(
            f"--out {out} is inside SOURCE {src}: the next run on SOURCE would index the batch's own outputs "
            "(its seg/*.dcm as parts of the studies, whose masks and results would change). Choose an --out "
            f"outside {src}, e.g. {s.parent / (s.name + '-results')}.")


def run_batch(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    options: PipelineOptions | None = None,
    processes: bool = True,
    progress: bool = False,
    on_record: Callable[[Mapping[str, Any]], None] | None = None,
    connect_timeout_s: float = SCHEDULER_CONNECT_TIMEOUT_S,
    deidentifier: Any = None,
    leave_alone: Iterable[str | os.PathLike[str]] = (),
) -> BatchSummary:
    """Measure and assess every study of ``source`` into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    source : path or str
        Folder tree, zip, DICOMDIR, or ``dicomweb+http(s)://host:port/dicom-web``.
    out_dir : path
        Output folder (created).  If it already holds results, pass ``resume=True``.
    workers : int, optional
        Local worker processes (default :func:`default_workers`); ignored with ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).  Workers must see the
        SOURCE paths (shared filesystem) unless SOURCE is DICOMweb.
    resume : bool
        Skip studies whose content key already has a successful record; failed ones are retried.
    options : PipelineOptions
    processes : bool
        Local cluster of processes (default) or threads (tests, debugging).
    progress : bool
        Show the rich progress bar on stderr.
    on_record : callable, optional
        Called with each study record as soon as it is stored.
    connect_timeout_s : float
        How long to wait for ``scheduler``.
    deidentifier : hcc_imaging.export.deid.Deidentifier, optional
        Also write a de-identified copy of the results for sharing, ``OUT/deidentified/``
        (:func:`~hcc_imaging.batch.export.export_deidentified`; its pseudonym map outside it).
    leave_alone : paths, optional
        Files under ``out_dir`` this run did not write that stay where they are all the same (not
        set aside into ``OUT/stale/``): ``hcc-imaging demo`` passes what a user put in its folder.

    Raises
    ------
    BatchError
        ``out_dir`` holds results of an earlier run and ``resume`` is False; ``out_dir`` is inside a folder
        ``source``; empty archive.
    BatchInterrupted
        SIGINT (Ctrl+C) during the run: the Dask cluster is closed, the study records stored so far
        are kept; ``resume=True`` continues (a ``KeyboardInterrupt``).
    """
    t0 = time.perf_counter()
    opts = options or PipelineOptions()
    out = Path(out_dir)
    if deidentifier is not None:
        from .export import DEIDENTIFIED_DIR

        deidentifier.check_outside(out / DEIDENTIFIED_DIR)  # before any work, not after it
    _refuse_out_inside_source(str(source), out)
    store_dir = out / "store"
    if not resume and store_dir.is_dir() and any(store_dir.rglob("*.json")):
        raise BatchError(
            f"{out} already holds batch results (store/). Pass --resume to continue that run, or choose a new --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    # half-written files of a run killed mid-write (``.<name>.<random>.part``): never results, removed
    stale_temps = remove_stale_temps(out)
    if stale_temps:
        log.info("removed %d temporary file(s) an interrupted run left in %s", len(stale_temps), out)
    store = ResultStore(out)
    src = str(source)
    remote = src.startswith(DICOMWEB_SCHEMES)
    if not remote and not source_exists(src):  # (a folder inside a zip, "archive.zip::PAT-001", is one)
        raise BatchError(f"SOURCE {src} does not exist. Give a folder, zip, DICOMDIR or dicomweb+http://... URL.")
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise BatchError(f"--workers must be >= 1, got {n_workers}.")
    timings: dict[str, float] = {}
    skipped: list[Any] = []
    tasks: list[StudyTask] | None = None
    client, cluster, used = _client(n_workers, scheduler, processes, connect_timeout_s)
    try:
        timings["cluster"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        mask_studies: list[StudyTask] = []
        if remote:
            from ..io.dicomweb import remote_tasks

            tasks = link_carried(remote_tasks(src, opts, out), opts)
        else:
            found, skipped = _discover(client, src, opts, used)
            found, mask_studies = split_mask_studies(found)  # (warned: masks stored as CT images, no image)
            if not found:
                raise BatchError(
                    f"{src}: its {len(mask_studies)} DICOM study(ies) hold only masks stored as CT images (8-bit), "
                    "no image to measure. Point SOURCE at the image studies (with their masks beside them).")
            tasks = link_carried(found, opts)
        timings["discover"] = time.perf_counter() - t1
        # the mask studies' files were read: their folders are not reported as unreadable
        skipped_by_folder = _report_skipped(out, src, [*tasks, *mask_studies], skipped)
        # once per study, here: the workers' index (and the export's) does not warn
        warn_no_patient_id(t.study_instance_uid for t in tasks if has_no_patient_id(t.patient_id, t.study_instance_uid))
        warn_dated_from_series(tasks)  # (a study without a StudyDate, dated from its series)
        done = store.done_keys() if resume else set()
        pending = [t for t in tasks if t.key not in done]
        (out / "reads").mkdir(parents=True, exist_ok=True)
        (out / "assessments").mkdir(parents=True, exist_ok=True)
        bar = _Progress(len(pending), len(tasks) - len(pending), progress)
        t1 = time.perf_counter()
        try:
            by_key, patients = _execute(client, tasks, pending, opts, store, out, progress=bar, on_record=on_record)
        finally:
            bar.close()
        timings["execute"] = time.perf_counter() - t1
    except KeyboardInterrupt:
        _close(client, cluster)
        keys = {t.key for t in tasks} if tasks is not None else set()
        n_done = len(store.done_keys() & keys)
        log.info("interrupted: %d studies done, kept in %s", n_done, store_dir)
        raise BatchInterrupted(str(out), n_done, len(tasks) if tasks is not None else None) from None
    else:
        _close(client, cluster)
    t2 = time.perf_counter()
    records = [by_key[t.key] for t in tasks if t.key in by_key]
    recs_by_patient: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        recs_by_patient[r["patient_id"]].append(r)
    ann = _annotation_files_by_patient(tasks)
    for pid in {t.patient_id for t in tasks} - set(patients):  # a patient task lost with its worker
        po = patient_outputs(pid, recs_by_patient.get(pid, []), ann.get(pid, []), opts)
        if po is not None:
            write_patient_files(out, po)
        patients[pid] = po
    index_failures = index_failure_rows(skipped_by_folder)
    incomplete = [row for r in records if (row := incomplete_row(r)) is not None]
    failures = [*index_failures, *(failure_row(r) for r in records if not r["ok"]), *incomplete]
    files, n_pat, n_pat_failed = write_outputs(out, patients, failures)
    files["skipped.csv"] = str(out / "skipped.csv")
    exported: dict[str, list[str]] = {}
    if opts.export_sr:
        from .export import export_reports

        exported, export_failures = export_reports(out, records, tasks, opts, patients)
        if export_failures:
            files, n_pat, n_pat_failed = write_tables(out, records, opts, tasks, [*index_failures, *export_failures])
            files["skipped.csv"] = str(out / "skipped.csv")
        files = {**files, **{f"{kind}:{Path(p).name}": p for kind, ps in exported.items() for p in ps}}
    # reads/, assessments/, seg/, sr/ hold this run's files only: an earlier run's are set aside
    from .export import DEIDENTIFIED_DIR

    stale = set_aside_stale(out, [*patient_files(out, patients), *exported.get("seg", ()), *exported.get("sr", ()),
                                  *leave_alone],
                            also=[out / DEIDENTIFIED_DIR] if deidentifier is None else [])
    if deidentifier is not None:
        from .export import export_deidentified

        files = {**files, **export_deidentified(out, patients, deidentifier, dicom_files=exported or None)}
    n_failed = sum(1 for r in records if not r["ok"])
    summary = BatchSummary(
        out_dir=str(out), n_studies=len(tasks), n_processed=len(pending), n_skipped=len(tasks) - len(pending),
        n_failed_studies=n_failed, n_patients=n_pat, n_failed_patients=n_pat_failed,
        elapsed_s=time.perf_counter() - t0, workers=used, files=files,
        timings_s={**timings, "tables": time.perf_counter() - t2},
        n_masks_saved=sum(1 for r in records if r["ok"] and r.get("masks")),
        n_lesions_to_check=sum(len(r.get("segmentation_checks") or {}) for r in records if r["ok"]),
        n_files_skipped=sum(len(g.files) for g in skipped_by_folder), n_folders_with_skipped=len(skipped_by_folder),
        folders_not_read=tuple(g.folder for g in skipped_by_folder if g.none_read),
        n_stale_temps_removed=len(stale_temps),
        n_stale_set_aside=len(stale), n_incomplete_studies=len(incomplete),
    )
    atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=2, sort_keys=True) + "\n")
    cache = out / "cache"
    if cache.is_dir():
        shutil.rmtree(cache, ignore_errors=True)
    return summary

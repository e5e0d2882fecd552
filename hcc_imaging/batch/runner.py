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
  the best overall responses;
* ``failures.csv``: one row per failed study or patient (``patient_id``, ``study_instance_uid``,
  ``step``, ``reason``);
* ``reads/<patient>.json`` (read documents) and ``assessments/<patient>.json`` (``assess --json``);
* ``store/`` the per-study records (see :mod:`hcc_imaging.batch.resume`), ``summary.json``;
* with ``export_sr``: ``seg/<study>.dcm`` and ``sr/<patient>.dcm`` (and STOW-RS for DICOMweb).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .constants import DEFAULT_THREADS_PER_WORKER, DICOMWEB_SCHEMES, SCHEDULER_CONNECT_TIMEOUT_S
from .pipeline import (
    BatchError,
    PipelineOptions,
    StudyTask,
    assess_document,
    build_read_document,
    discover_studies,
    load_annotations,
    run_study,
)
from .resume import ResultStore, atomic_write_bytes, atomic_write_text

__all__ = ["BatchSummary", "run_batch", "default_workers", "write_tables"]

log = logging.getLogger(__name__)

#: Columns of failures.csv, in order.
FAILURE_COLUMNS: tuple[str, ...] = ("patient_id", "study_instance_uid", "study_date", "step", "reason", "root")
#: Study-level columns put in front of every lesion row.
_STUDY_COLUMNS: tuple[str, ...] = ("patient_id", "study_instance_uid", "study_date", "timepoint_id",
                                   "reference_series_instance_uid", "reference_phase", "mask_source", "key")


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

    @property
    def n_failures(self) -> int:
        return self.n_failed_studies + self.n_failed_patients

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
        }


def default_workers() -> int:
    """One single-threaded worker process per core (each holds one study in memory)."""
    return max(1, os.cpu_count() or 1)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "patient"


# ------------------------------------------------------------------------------------------
# Dask
# ------------------------------------------------------------------------------------------
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
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.http.proxy", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=DEFAULT_THREADS_PER_WORKER,
        processes=processes,
        dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )
    return distributed.Client(cluster), cluster, workers


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


def _execute(
    tasks: Sequence[StudyTask],
    options: PipelineOptions,
    store: ResultStore,
    *,
    workers: int,
    scheduler: str | None,
    processes: bool,
    progress: _Progress,
    on_record: Callable[[Mapping[str, Any]], None] | None,
    connect_timeout_s: float,
) -> int:
    """Run ``tasks`` on Dask; store each record as soon as it completes.  Returns the worker count."""
    if not tasks:
        return 0
    from distributed import as_completed

    client, cluster, n = _client(workers, scheduler, processes, connect_timeout_s)
    try:
        futures = {}
        for t in tasks:
            fut = client.submit(run_study, t, options, key=f"hcc-study-{t.key}", pure=False, retries=0)
            futures[fut] = t
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                rec = fut.result()
            except Exception as err:  # worker died (KilledWorker, OOM, segfault) or cancelled
                rec = {"key": t.key, "ok": False, "patient_id": t.patient_id,
                       "study_instance_uid": t.study_instance_uid, "study_date": t.study_date, "root": t.root,
                       "step": "worker", "reason": f"{type(err).__name__}: {err}"}
            store.put(rec)
            progress.update(bool(rec["ok"]))
            if on_record is not None:
                on_record(rec)
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return n


# ------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------
def _lesion_rows(rec: Mapping[str, Any], tp_id: str) -> list[dict[str, Any]]:
    out = []
    for row in rec.get("lesions", []):
        r: dict[str, Any] = {k: rec.get(k) for k in _STUDY_COLUMNS if k != "timepoint_id"}
        r["timepoint_id"] = tp_id
        for k, v in row.items():
            if k == "provenance":
                continue
            r[k] = json.dumps(v) if isinstance(v, list | dict) else v
        out.append(r)
    return out


def _write_frame(rows: list[dict[str, Any]], columns: Sequence[str] | None, stem: Path, parquet: bool = True) -> list[str]:
    import io

    import pandas as pd

    df = pd.DataFrame(rows, columns=list(columns) if columns and not rows else None)
    if columns and rows:
        front = [c for c in columns if c in df.columns]
        df = df[front + [c for c in df.columns if c not in front]]
    written = []
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write_text(stem.with_suffix(".csv"), buf.getvalue())
    written.append(str(stem.with_suffix(".csv")))
    if parquet:
        bio = io.BytesIO()
        df.to_parquet(bio, index=False)
        atomic_write_bytes(stem.with_suffix(".parquet"), bio.getvalue())
        written.append(str(stem.with_suffix(".parquet")))
    return written


def write_tables(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    options: PipelineOptions,
    tasks: Sequence[StudyTask],
    extra_failures: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, str], int, int]:
    """Rebuild every table from the study records; returns (files, n_patients, n_failed_patients).

    ``extra_failures`` (e.g. export / STOW failures) are added to ``failures.csv``.
    """
    by_patient: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    failures: list[dict[str, Any]] = [dict(f) for f in extra_failures]
    for rec in records:
        if rec["ok"]:
            by_patient[rec["patient_id"]].append(rec)
        else:
            failures.append({k: rec.get(k) for k in FAILURE_COLUMNS})
    ann_files: dict[str, list[str]] = defaultdict(list)
    for t in tasks:
        for f in t.inputs.annotations_files:
            if f not in ann_files[t.patient_id]:
                ann_files[t.patient_id].append(f)
    lesion_rows: list[dict[str, Any]] = []
    response_rows: list[dict[str, Any]] = []
    n_failed_patients = 0
    (out / "reads").mkdir(parents=True, exist_ok=True)
    (out / "assessments").mkdir(parents=True, exist_ok=True)
    for pid in sorted(by_patient):
        recs = sorted(by_patient[pid], key=lambda r: (r["study_date"], r["study_instance_uid"]))
        step = "read"
        tp_ids = [r["study_instance_uid"] for r in recs]
        try:
            ann = load_annotations(ann_files.get(pid, []))
            doc = build_read_document(recs, criteria=options.criteria, annotations=ann)
            tp_ids = [tp.id for tp in doc.timepoints]
            atomic_write_text(out / "reads" / f"{_safe(pid)}.json", doc.dumps(indent=2) + "\n")
            step = "assess"
            assessment = assess_document(doc, options.criteria)
            atomic_write_text(out / "assessments" / f"{_safe(pid)}.json",
                              json.dumps(assessment.to_json(), indent=2, sort_keys=True) + "\n")
            for crit, res in assessment.results.items():
                for tp in res.timepoints:
                    j = tp.to_json()
                    response_rows.append({
                        "patient_id": pid, "criterion": crit, "timepoint_id": j["id"], "day": j["day"],
                        "sum": j["sum"], "sum_unit": res.sum_unit,
                        "change_from_baseline_frac": j["change_from_baseline"],
                        "change_from_nadir_frac": j["change_from_nadir"],
                        "target_response": j["target_response"], "non_target_response": j["non_target_response"],
                        "new_lesions": j["new_lesions"], "response": j["response"],
                        "bor_unconfirmed": res.bor_unconfirmed, "bor_confirmed": res.bor_confirmed,
                        "reasons": " | ".join(j["reasons"]),
                    })
        except Exception as err:  # a patient whose read cannot be assessed is a failure row too
            n_failed_patients += 1
            failures.append({"patient_id": pid, "study_instance_uid": "", "study_date": "", "step": step,
                             "reason": " ".join(f"{type(err).__name__}: {err}".split()), "root": ""})
        for rec, tp_id in zip(recs, tp_ids, strict=True):
            lesion_rows.extend(_lesion_rows(rec, tp_id))
    files: dict[str, str] = {}
    for name, rows, cols in (
        ("lesions", lesion_rows, _STUDY_COLUMNS),
        ("responses", response_rows, ("patient_id", "criterion", "timepoint_id")),
    ):
        for f in _write_frame(rows, cols, out / name):
            files[Path(f).name] = f
    failures.sort(key=lambda r: (str(r["patient_id"]), str(r["study_date"]), str(r["study_instance_uid"]), str(r["step"])))
    for f in _write_frame(failures, FAILURE_COLUMNS, out / "failures", parquet=False):
        files[Path(f).name] = f
    return files, len(by_patient), n_failed_patients


# ------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------
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

    Raises
    ------
    BatchError
        ``out_dir`` holds results of an earlier run and ``resume`` is False; empty archive.
    """
    t0 = time.perf_counter()
    opts = options or PipelineOptions()
    out = Path(out_dir)
    store_dir = out / "store"
    if not resume and store_dir.is_dir() and any(store_dir.rglob("*.json")):
        raise BatchError(
            f"{out} already holds batch results (store/). Pass --resume to continue that run, or choose a new --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out)
    src = str(source)
    if src.startswith(DICOMWEB_SCHEMES):
        from ..io.dicomweb import remote_tasks

        tasks = remote_tasks(src, opts, out)
    else:
        if not Path(src).exists():
            raise BatchError(f"SOURCE {src} does not exist. Give a folder, zip, DICOMDIR or dicomweb+http://... URL.")
        tasks, _ = discover_studies(src, opts)
    t_discover = time.perf_counter() - t0
    done = store.done_keys() if resume else set()
    pending = [t for t in tasks if t.key not in done]
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise BatchError(f"--workers must be >= 1, got {n_workers}.")
    bar = _Progress(len(pending), len(tasks) - len(pending), progress)
    t1 = time.perf_counter()
    try:
        used = _execute(pending, opts, store, workers=n_workers, scheduler=scheduler, processes=processes,
                        progress=bar, on_record=on_record, connect_timeout_s=connect_timeout_s)
    finally:
        bar.close()
    t_execute = time.perf_counter() - t1
    t2 = time.perf_counter()
    records = store.records(t.key for t in tasks)
    files, n_pat, n_pat_failed = write_tables(out, records, opts, tasks)
    if opts.export_sr:
        from .export import export_reports

        exported, export_failures = export_reports(out, records, tasks, opts)
        if export_failures:
            files, n_pat, n_pat_failed = write_tables(out, records, opts, tasks, export_failures)
        files = {**files, **{f"{kind}:{Path(p).name}": p for kind, ps in exported.items() for p in ps}}
    n_failed = sum(1 for r in records if not r["ok"])
    summary = BatchSummary(
        out_dir=str(out), n_studies=len(tasks), n_processed=len(pending), n_skipped=len(tasks) - len(pending),
        n_failed_studies=n_failed, n_patients=n_pat, n_failed_patients=n_pat_failed,
        elapsed_s=time.perf_counter() - t0, workers=used, files=files,
        timings_s={"discover": t_discover, "execute": t_execute, "tables": time.perf_counter() - t2},
    )
    atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=2, sort_keys=True) + "\n")
    cache = out / "cache"
    if cache.is_dir():
        shutil.rmtree(cache, ignore_errors=True)
    return summary

"""Parameters of the batch engine (names, defaults and why)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_CRITERIA",
    "LESION_MASK_NAMES",
    "VIABLE_MASK_NAMES",
    "IGNORED_MASK_NAMES",
    "SEEDS_FILE",
    "ANNOTATIONS_FILE",
    "MASKS_DIR",
    "MEASUREMENT_PHASES",
    "DEFAULT_THREADS_PER_WORKER",
    "DICOMWEB_SCHEMES",
    "STORE_FORMAT",
    "SCHEDULER_CONNECT_TIMEOUT_S",
    "SHARDS_PER_WORKER",
    "SHARD_MIN_SPLIT_FILES",
    "LOCAL_CLUSTER_CONFIG",
    "LOCAL_CLIENT_CONFIG",
    "SIDE_FILE_SUFFIXES",
    "SKIPPED_FILES_SHOWN",
]

#: Criteria assessed when ``--criteria`` is not given: the two the issue tracker asks for on
#: every HCC read (RECIST 1.1 for the whole tumour, mRECIST for the viable part).
DEFAULT_CRITERIA: tuple[str, ...] = ("recist_1_1", "mrecist")

#: NIfTI/ITK mask file stems (case-insensitive) recognised beside a study: whole lesions ...
LESION_MASK_NAMES: tuple[str, ...] = ("lesions", "lesion", "tumours", "tumors", "labels")
#: ... their viable (arterially enhancing) parts, same label values ...
VIABLE_MASK_NAMES: tuple[str, ...] = ("viable", "lesions_viable")
#: ... and masks that are not lesions (skipped).
IGNORED_MASK_NAMES: tuple[str, ...] = ("liver", "organ", "organs", "body")

#: Seeds file beside a study: ``{"lesions": [{"lesion_id": "L1", "seed_lps": [x, y, z]} ...]}``
#: (or ``seed_index``), segmented with :func:`hcc_imaging.segment.lesion.segment_lesion`.
SEEDS_FILE: str = "seeds.json"
#: Folder under OUT where a run saves the lesion masks it made (seeded or carried studies): one
#: folder per study, ``lesions.nii.gz``, ``viable.nii.gz`` and ``labels.json`` (label -> lesion id).
MASKS_DIR: str = "masks"
#: Annotations beside a study or in any parent folder up to the archive root: per lesion id its
#: role / role_by_criteria, kind, organ, node and HCC flags (see docs/batch.md).
ANNOTATIONS_FILE: str = "annotations.json"

#: Files that are not DICOM and are expected in an archive beside the studies (the batch's own masks,
#: seeds, annotations and labels, notes, tables, pictures): the index skips them like any file it
#: cannot read as DICOM, but the run does not count or report them as skipped.  Any other file the
#: index skips (unreadable, truncated, not DICOM) is counted and reported, with its folder.
SIDE_FILE_SUFFIXES: tuple[str, ...] = (
    ".json", ".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".txt", ".md", ".csv", ".tsv", ".xml",
    ".html", ".pdf", ".png", ".jpg", ".jpeg", ".dsrdump",
)
#: Skipped files a warning names per folder (the rest are counted, and listed in ``skipped.csv``).
SKIPPED_FILES_SHOWN: int = 5

#: Phase of the series a study is measured on (the masks are placed on its grid), in order of
#: preference: RECIST's longest diameter is read on the portal-venous phase; else an arterial
#: phase (late arterial first, LI-RADS' preferred one, as ``volume.ARTERIAL_PREFERENCE``; mRECIST's
#: viable tumour is read there); else a late phase: delayed (equilibrium), transitional, then
#: hepatobiliary (gadoxetate MR); then pre-contrast; a series of no known phase last (of those,
#: an anatomical image before a diffusion / ADC map, a localizer or a subtraction:
#: :func:`hcc_imaging.batch.lesions.pick_reference`).  Every :class:`~hcc_imaging.volume.Phase`
#: is listed.
MEASUREMENT_PHASES: tuple[str, ...] = (
    "portal_venous",
    "arterial_late", "arterial", "arterial_early",
    "delayed", "transitional", "hepatobiliary",
    "pre_contrast",
    "unknown",
)

#: One thread per worker process: each task holds one whole study in memory and the numpy
#: work is single-threaded, so processes (not threads) give the parallelism on 2 cores.
DEFAULT_THREADS_PER_WORKER: int = 1

#: SOURCE prefixes that mean a DICOMweb server.
DICOMWEB_SCHEMES: tuple[str, ...] = ("dicomweb+http://", "dicomweb+https://")

#: Version of the per-study record format in ``OUT/store`` (bump on incompatible change).
STORE_FORMAT: str = "1"

#: Seconds to wait for an existing Dask scheduler (``--scheduler``) before giving up.
SCHEDULER_CONNECT_TIMEOUT_S: float = 20.0

#: Index shards per worker when a folder SOURCE is indexed on the cluster: a few per worker keep
#: both busy to the end of the scan (a shard of a 10 000-file archive is ~0.1 s of header reading
#: at 16 shards) while the per-task overhead (a few ms) stays small.
SHARDS_PER_WORKER: int = 8
#: A folder of fewer files is not split into smaller index shards: splitting below the study
#: level cuts studies in pieces, which are then indexed again together (a study is typically
#: 4 phases x 50-500 slices, and a small archive gains nothing from more shards).
SHARD_MIN_SPLIT_FILES: int = 2000

#: Dask settings of the local cluster a run starts (``dask.config`` keys).  Each study is one
#: long single-threaded task, so Dask's own periodic bookkeeping is pure overhead on 2 cores,
#: where the driver process (client + scheduler) and the workers share the cores: the
#: statistical profiler samples every worker thread's stack every 10 ms (taking the GIL from
#: the task), every event loop checks its own latency every 20 ms (half the idle CPU of the
#: driver), each worker and nanny reads its memory use every 0.1 s (0.5 s still stops a
#: runaway study long before the 95 % kill threshold matters on a one-study-per-worker
#: budget), the system monitor reads host counters every 0.5 s, and work stealing re-plans
#: every 100 ms although queued root tasks are already handed out as workers free up.
LOCAL_CLUSTER_CONFIG: dict[str, object] = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.scheduler.work-stealing": False,
}

#: Dask settings of the run's client on its local cluster: results are fetched straight from
#: the workers instead of being relayed by the scheduler (which lives in the driver process, so
#: a relay costs the driver a second receive and send of every record).  Not used with
#: ``--scheduler``, where the workers may not be reachable from the client.
LOCAL_CLIENT_CONFIG: dict[str, object] = {
    "distributed.client.direct-to-workers": True,
}

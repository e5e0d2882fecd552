"""A folder archive indexed in shards of whole folders (Dask workers), merged into the tasks that
indexing the whole folder gives."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from ..constants import SHARD_MIN_SPLIT_FILES
from ..errors import BatchError
from ._discover import discover_studies, masks_only, tasks_from_index
from ._placement import _free, _Placed, _studies_below, root_notes
from ._tasks import PipelineOptions, StudyTask

#: The package's logger, as before the split (a run's log names ``hcc_imaging.batch.pipeline``).
log = logging.getLogger("hcc_imaging.batch.pipeline")


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
    from ...io.index import build_index, scan_headers

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

    from ...io.index import resolve_sources

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

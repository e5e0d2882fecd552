"""The files the archive index skipped, as a run reports them (``skipped.csv``, warnings, failures).

The index (:func:`hcc_imaging.io.index.scan_headers`) skips every file it cannot read as DICOM:
unreadable, truncated in its header, not DICOM.  A run counts them, except the non-DICOM files
expected beside the studies (:data:`~hcc_imaging.batch.constants.SIDE_FILE_SUFFIXES`: masks,
seeds, annotations, notes), writes them all to ``OUT/skipped.csv``, logs one warning per folder
naming the folder, how many files and the first of them, and gives every folder from which no
file at all was read a row in ``failures.csv`` (step ``index``): a corrupt study folder is
reported, never silently left out; so is a zip that cannot be read (truncated, corrupt), an entry of
its own, and a broken symbolic link lying in a folder that holds no DICOM file read (a link to a
whole patient or study folder, or to a zip, whose storage is not mounted).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..io._unreadable import BROKEN_LINK_REASON
from ..io.index import UNREADABLE_ZIP_REASON
from .constants import SIDE_FILE_SUFFIXES, SKIPPED_FILES_SHOWN

__all__ = ["SKIPPED_COLUMNS", "SkippedFolder", "skipped_folders", "warn_skipped", "skipped_rows", "index_failure_rows"]

log = logging.getLogger(__name__)

#: Columns of skipped.csv, in order.
SKIPPED_COLUMNS: tuple[str, ...] = ("folder", "path", "reason")

#: The index's reason for a DICOMDIR (a directory of the media, whose images are indexed from their files).
_DICOMDIR_REASON = "DICOMDIR ("


@dataclass(frozen=True, slots=True)
class SkippedFolder:
    """Skipped files of one folder: ``files`` are ``(path, reason)`` pairs; ``none_read``: no file
    under the folder was read as DICOM (it is then the highest such folder below SOURCE)."""

    folder: str
    files: tuple[tuple[str, str], ...]
    none_read: bool


def _counted(path: str, reason: str) -> bool:
    name = path.rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1].lower()
    return not reason.startswith(_DICOMDIR_REASON) and not name.endswith(SIDE_FILE_SUFFIXES)


def _parent(path: str) -> str:
    return os.path.dirname(path)


def skipped_folders(root: str, skipped: Iterable[Any], read_files: Iterable[str]) -> list[SkippedFolder]:
    """Group the counted skipped files (``SkippedFile``-like: ``.path``, ``.reason``) by folder.

    A file lying in a folder from which some file was read (``read_files``: the files of the
    studies found) is grouped under its own folder; a file of a folder from which nothing was read
    is grouped under the highest folder below ``root`` with nothing read, so a corrupt study folder
    is one entry, whatever its sub-folders.  A zip that cannot be read, and a broken symbolic link
    in a folder holding no file read (it stood for a patient's or a study's folder, or a zip: not
    one slice of a series read beside it), are entries of their own, nothing read from them.
    Folders in path order.
    """
    root = os.fspath(root).rstrip("/\\") or os.fspath(root)
    read_dirs: set[str] = set()
    file_dirs: set[str] = set()  # the folders holding a file read
    for f in read_files:
        d = _parent(f)
        file_dirs.add(d)
        while d not in read_dirs:
            read_dirs.add(d)
            up = _parent(d)
            if up == d or not up.startswith(root) or len(up) < len(root):
                break
            d = up
    groups: dict[str, list[tuple[str, str]]] = {}
    for s in skipped:
        if not _counted(s.path, s.reason):
            continue
        if s.reason.startswith(UNREADABLE_ZIP_REASON) or (
                s.reason.startswith(BROKEN_LINK_REASON) and _parent(s.path) not in file_dirs):
            # a whole archive (a patient's) not read, or a link to a patient's folder whose target is
            # gone (it was a line in skipped.csv under SOURCE, no failure, and --strict exited 0):
            # an entry of its own
            groups.setdefault(s.path, []).append((s.path, s.reason))
            continue
        d = _parent(s.path)
        if d not in read_dirs:
            while True:
                up = _parent(d)
                if up == d or up in read_dirs or not up.startswith(root) or len(up) <= len(root):
                    break
                d = up
        groups.setdefault(d, []).append((s.path, s.reason))
    return [SkippedFolder(d, tuple(sorted(fs)), d not in read_dirs) for d, fs in sorted(groups.items())]


def warn_skipped(folders: Sequence[SkippedFolder], out_dir: Any) -> None:
    """One warning per folder: how many files were skipped and why (count per reason), the first
    few of them, and whether nothing at all was read from it."""
    for g in folders:
        reasons: dict[str, int] = {}
        for _, r in g.files:
            reasons[r] = reasons.get(r, 0) + 1
        why = "; ".join(f"{n}: {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        names = ", ".join(os.path.basename(p) if p == g.folder else os.path.relpath(p, g.folder) if "::" not in p
                          else p.rsplit("/", 1)[-1] for p, _ in g.files[:SKIPPED_FILES_SHOWN])
        more = len(g.files) - SKIPPED_FILES_SHOWN
        log.warning(
            "folder %s: %d file(s) skipped, not readable as DICOM (%s): %s%s.%s All are listed in %s.",
            g.folder, len(g.files), why, names, f" and {more} more" if more > 0 else "",
            " No file of this folder could be read, so its studies are not in the results (a failures.csv row, "
            "step index): replace the damaged files (copy them again from the archive) and run again."
            if g.none_read else "",
            os.path.join(os.fspath(out_dir), "skipped.csv"),
        )


def skipped_rows(folders: Sequence[SkippedFolder]) -> list[dict[str, str]]:
    """The rows of ``skipped.csv``: one per counted skipped file."""
    return [{"folder": g.folder, "path": p, "reason": r} for g in folders for p, r in g.files]


def index_failure_rows(folders: Sequence[SkippedFolder]) -> list[dict[str, Any]]:
    """``failures.csv`` rows (step ``index``) of the folders from which no file was read."""
    rows = []
    for g in folders:
        if not g.none_read:
            continue
        path, reason = g.files[0]
        rows.append({
            "patient_id": "", "study_instance_uid": "", "study_date": "", "step": "index",
            "reason": f"{reason}; so its studies are not in the results (skipped.csv lists it)" if path == g.folder
            else f"none of its {len(g.files)} file(s) could be read as DICOM (e.g. {os.path.basename(path)}: "
                 f"{reason}); skipped.csv lists them",
            "root": g.folder,
        })
    return rows

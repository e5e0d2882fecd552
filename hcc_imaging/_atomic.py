"""Atomic file writes: a reader never sees a half-written file, a crash never leaves one.

Every writer in hcc_imaging that produces a user-visible file (DICOM, NIfTI, JSON, CSV,
Parquet, HTML, pseudonym maps, autosaves) goes through :func:`atomic_write`: the content is
written to a temporary file in the destination folder, optionally fsync-ed, given ordinary
permissions (0644; ``mkstemp`` creates 0600) and moved over the destination with
``os.replace``, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "format_suffix", "FILE_MODE"]

#: Permissions of written files (what ``open()`` gives with the usual umask 022).
FILE_MODE = 0o644


def format_suffix(path: str | os.PathLike[str]) -> str:
    """The suffix a format-sniffing writer needs (multi-part for ``.nii.gz``)."""
    path = Path(path)
    name = path.name
    if name.lower().endswith(".nii.gz"):
        return ".nii.gz"
    return path.suffix


def atomic_write(
    path: str | os.PathLike[str],
    writer: Callable[[str], object],
    *,
    fsync: bool = False,
    mode: int = FILE_MODE,
    tmp_suffix: str = ".part",
) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically.

    Parameters
    ----------
    path : path
        Destination; its folder is created.
    writer : callable
        Writes the complete file at the temporary path it is given (same folder as ``path``).
    fsync : bool
        Flush the temporary file to disk before the rename (durability across power loss;
        used for results that must survive a crash, e.g. batch records and autosaves).
    mode : int
        Permissions of the final file.
    tmp_suffix : str
        Suffix of the temporary file.  The default ``.part`` keeps half-written files out of
        globs such as ``*.json`` (a crash mid-write must not look like a result); writers that
        choose the format by extension (SimpleITK) pass :func:`format_suffix` of the target.

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # same folder, so the rename is atomic
    fd, tmp_named = tempfile.mkstemp(prefix=f".{target.name}.", suffix=tmp_suffix, dir=target.parent)
    os.close(fd)
    try:
        writer(tmp_named)
        if fsync:
            with open(tmp_named, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp_named, mode)
        os.replace(tmp_named, target)
    except BaseException:
        Path(tmp_named).unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda p: Path(p).write_bytes(data), fsync=fsync)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda p: Path(p).write_text(text, encoding="utf-8"), fsync=fsync)

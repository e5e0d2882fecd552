"""Atomic file writes: a reader never sees a half-written file, a crash never leaves one.

Every writer in hcc_imaging that produces a user-visible file (DICOM, NIfTI, JSON, CSV,
Parquet, HTML, pseudonym maps, autosaves) goes through :func:`atomic_write`: the content is
written to a temporary file in the destination folder, optionally fsync-ed, given its
permissions and moved over the destination with ``os.replace``, which is atomic on POSIX and
Windows.

Permissions: a new file gets what ``open()`` would give it, ``0o666`` less the process umask
(``umask 077`` keeps outputs, which hold patient data, private); a file that is replaced keeps
its own mode; a caller may ask for a mode (``0o600`` for pseudonym maps).

Temporary files are named ``.<name>.<8 random characters><suffix>`` (suffix ``.part``, or the
target's :func:`format_suffix` for writers that choose the format by extension).  A process
killed mid-write (SIGKILL, power loss) leaves one behind; :func:`remove_stale_temps` removes
them from an output tree (``batch`` does, on every run into an existing ``--out``), matching only
this pattern (:func:`is_temp_name`).

Only regular files are replaced.  A destination that is a symbolic link is written through:
the file it points to is replaced atomically and the link is kept.  A destination that exists
and is not a regular file (a directory, FIFO, device or socket; through a link too) is refused
with :class:`~hcc_imaging.errors.OutputPathError`: renaming over it would replace the special
file itself (``--out /dev/full`` as root once replaced the device with a JSON file).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import OutputPathError

__all__ = ["STALE_DIR", "atomic_write", "atomic_write_bytes", "atomic_write_text", "format_suffix", "fsync_dir", "is_temp_name",
           "remove_stale_temps", "set_aside", "write_itk_image"]

#: The random part of a temporary name (``secrets.token_hex(4)``; ``mkstemp``'s alphabet before).
_RANDOM = re.compile(r"[a-z0-9_]{8}")


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
    mode: int | None = None,
    tmp_suffix: str = ".part",
) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path`` atomically.

    Parameters
    ----------
    path : path
        Destination; its folder is created.  A symbolic link is written through (the file it
        points to is replaced, the link kept).
    writer : callable
        Writes the complete file at the temporary path it is given (same folder as ``path``).
    fsync : bool
        Flush the temporary file to disk before the rename (durability across power loss;
        used for results that must survive a crash, e.g. batch records and autosaves).
    mode : int, optional
        Permissions of the final file.  Default: those of the file it replaces, else
        ``0o666`` less the process umask (what ``open()`` gives).
    tmp_suffix : str
        Suffix of the temporary file.  The default ``.part`` keeps half-written files out of
        globs such as ``*.json`` (a crash mid-write must not look like a result); writers that
        choose the format by extension (SimpleITK) pass :func:`format_suffix` of the target.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputPathError
        ``path`` (or what it links to) exists and is not a regular file, or a folder on its way
        is a file.
    """
    target, existing = _destination(Path(path))  # a link's target: the link itself is returned
    if mode is None and existing is not None:
        mode = stat.S_IMODE(existing.st_mode)  # replacing a file: keep its mode
    # same folder, so the rename is atomic; private until the chmod below when a mode is known,
    # else created as open() creates a file (0o666 less the umask), whose mode is then the one to keep
    fd, tmp_named = _create_temp(target, tmp_suffix, 0o600 if mode is not None else 0o666)
    try:
        if mode is None:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    try:
        writer(tmp_named)
        if fsync:
            with open(tmp_named, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp_named, mode)
        os.replace(tmp_named, target)
    except BaseException as err:
        Path(tmp_named).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = os.fspath(path)  # a full disk's write error names no file: name the output
        raise
    return Path(path)


#: What a non-regular file is, for the error message.
_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _create_temp(target: Path, suffix: str, mode: int) -> tuple[int, str]:
    """Create ``.<name>.<8 random characters><suffix>`` beside ``target`` (like ``mkstemp``, but
    with ``mode`` subject to the umask, as ``open()`` creates files): (open fd, path)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = os.path.join(target.parent, f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            return os.open(name, flags, mode), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name beside {target}")  # pragma: no cover


def _destination(target: Path) -> tuple[Path, os.stat_result | None]:
    """The regular file to replace for ``target`` (``target`` itself, or the file a symbolic link
    points to; its folder exists) and its ``stat`` (None when it does not exist yet).  Raises
    :class:`OutputPathError` for a special file."""
    link = target.is_symlink()
    try:
        st = os.stat(target)  # follows links: a link to a FIFO or device is refused too
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        st = None  # a folder on the way is a file: said below, where the folder is made
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        via = f" (a symbolic link to {os.path.realpath(target)})" if link else ""
        hint = ("Pass the path of a file (in that folder, for instance), not the folder" if stat.S_ISDIR(st.st_mode)
                else "Pass the path of a regular file; streaming to a pipe or device is not supported")
        raise OutputPathError(
            f"cannot write {target}{via}: it is {kind}, not a regular file, and would be replaced. {hint}."
        )
    if link:
        # write through the link: replace the file it points to, keep the link
        return Path(os.path.realpath(target)), st
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        blocker = next((p for p in (target.parent, *target.parent.parents) if p.exists() and not p.is_dir()),
                       target.parent)
        raise OutputPathError(
            f"cannot write {target}: {blocker} is a file, not a folder, so the folder for it cannot be made. "
            "Pass a path in an existing folder, or move that file away."
        ) from err
    return target, st


def write_itk_image(image: object, path: str | os.PathLike[str], compress: bool = True) -> None:
    """``SimpleITK.WriteImage(image, path, compress)``, checked: ITK's NIfTI / gzip writers do not
    report a write that fails part-way (a full disk, a file-size limit), and a truncated ``.nii.gz``
    reads back as an image of zeros (a mask saved on a full disk came back empty).  The file is read
    back and compared voxel for voxel; a failed or incomplete write raises ``OSError`` (the caller's
    :func:`atomic_write` names the destination in it, removes its temporary file and leaves the
    destination as it was).  Costs about 4x the write (a 512 x 512 x 120 label map: 13 ms to write, 51 ms
    to read back and compare)."""
    import errno

    import numpy as np
    import SimpleITK as sitk

    target = str(path)
    try:
        sitk.WriteImage(image, target, compress)
    except RuntimeError as err:  # ITK's exceptions come out as RuntimeError with a C++ trace
        raise OSError(errno.EIO, f"the image could not be written ({_itk_reason(err)}); check the free space "
                                 "and that the folder is writable") from err
    try:
        back = sitk.ReadImage(target)
    except RuntimeError as err:
        raise OSError(errno.EIO, f"the image was written incomplete ({_itk_reason(err)}); check the free space "
                                 "(or a file-size limit) and write it again") from err
    same = (back.GetSize() == image.GetSize()  # type: ignore[attr-defined]
            and np.array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image)))
    if not same:
        raise OSError(errno.EIO, "the image was written incomplete: it does not read back as what was written "
                                 f"({os.path.getsize(target)} bytes on disk); check the free space (or a file-size "
                                 "limit) and write it again")


def _itk_reason(err: BaseException) -> str:
    """The line of an ITK exception that says what went wrong (its message is a C++ trace)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.lower().startswith(("description:", "itk error"))]
    return (said[-1] if said else (lines[-1] if lines else type(err).__name__))[:300]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda p: Path(p).write_bytes(data), fsync=fsync)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda p: Path(p).write_text(text, encoding="utf-8"), fsync=fsync)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """fsync a folder, which makes the names created or renamed in it durable (POSIX; a no-op
    where a folder cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_temp_name(name: str) -> bool:
    """True when ``name`` is a temporary file name of :func:`atomic_write`:
    ``.<name>.<8 random characters>.part`` or ``.<name>.<8 random characters><format suffix of name>``."""
    if not name.startswith("."):
        return False
    for suffix in (".part", ".nii.gz", os.path.splitext(name)[1]):
        if not suffix or not name.endswith(suffix):
            continue
        base, dot, rand = name[1:-len(suffix)].rpartition(".")
        if dot and base and _RANDOM.fullmatch(rand) and (suffix == ".part" or format_suffix(base) == suffix):
            return True
    return False


def remove_stale_temps(root: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` left under ``root`` by a killed process.

    Only regular files whose name :func:`is_temp_name` recognises are removed; symbolic links
    are not followed.  Call it only when no other process writes into ``root``.

    Returns
    -------
    list of Path
        The files removed.
    """
    removed: list[Path] = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not is_temp_name(name):
                continue
            p = Path(folder, name)
            try:
                if stat.S_ISREG(p.lstat().st_mode):
                    p.unlink()
                    removed.append(p)
            except FileNotFoundError:
                continue
    return removed


#: The folder under an output folder where files of an earlier run that this run did not write are
#: set aside (``batch``'s and ``export csv``'s), never deleted.
STALE_DIR: str = "stale"


def set_aside(out_dir: str | os.PathLike[str], files: Sequence[Path]) -> tuple[Path, list[Path]]:
    """Move ``files`` (under ``out_dir``) to ``out_dir/stale/<UTC time>/``, keeping their paths
    relative to ``out_dir`` (a second run in the same second gets ``<UTC time>.2``, ...).  Returns
    that folder and the moved files' new paths; nothing is moved (and the folder not made) for none."""
    import shutil
    import time

    out = Path(out_dir)
    dest = out / STALE_DIR / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if not files:
        return dest, []
    k = 1
    while dest.exists():
        k += 1
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{k}")
    moved = []
    for p in files:
        target = dest / Path(p).relative_to(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(p), str(target))
        moved.append(target)
    return dest, moved

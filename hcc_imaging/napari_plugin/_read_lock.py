"""One process at a time on a read: ``<patient>__<reader>.lock`` beside the read's autosave.

Two sessions open on one read in two processes (two napari windows, two machines on a shared
folder) each wrote the read's JSON over the other's, and each removed the mask files only the
other's JSON named, so one session's work was lost.  A process now holds the read's lock file
while a session of it has the read open:

* :func:`acquire` creates the file (``O_CREAT | O_EXCL``: one of two racing processes wins) with
  who holds it (process id, host, since when).  A lock held by another live process, or by a
  process on another host (whose life this one cannot see), is refused with a
  :class:`ReadInUseError` naming the file, who holds it and what to do.  A lock of a process of
  this host that has ended (a crash, a kill) is taken over with a warning; so is a lock file left
  empty or unreadable by a stop during its write.  Sessions of one process share its lock (the
  dock starting the same read again; a test reopening a read to see what was saved).
* :func:`holds` tells a session whether its process still holds the lock (another process took it
  over after deciding this one had ended, or it was deleted by hand and taken): its autosave then
  refuses to write.
* :func:`release` removes the lock when the last session of this process that opened the read closes.

Qt-free, as the rest of the controller."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_bytes
from ..errors import StoreError

__all__ = ["ReadInUseError", "acquire", "holds", "lock_path", "release"]

log = logging.getLogger(__package__ + "._controller")


class ReadInUseError(StoreError):
    """The read is open in another session (its lock file is held by another live process)."""


def lock_path(json_path: Path) -> Path:
    """``<patient>__<reader>.lock`` beside the read's ``<patient>__<reader>.json`` (absolute)."""
    return Path(os.path.abspath(json_path)).with_suffix(".lock")


def _host() -> str:
    return socket.gethostname()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (``kill(pid, 0)``: a process of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # (it exists, another user's)
        return True
    except OSError:
        return False
    return True


def _holder(path: Path) -> dict[str, Any] | None:
    """The lock file's content; None when it is empty or unreadable (a stop during its write)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


#: the open sessions (their tokens) of each read this process holds the lock of
_OPEN: dict[Path, set[str]] = {}
_GUARD = threading.Lock()


def _content() -> bytes:
    return json.dumps({"pid": os.getpid(), "host": _host(),
                       "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}).encode()


def _ours(held: dict[str, Any] | None) -> bool:
    return held is not None and held.get("host") == _host() and held.get("pid") == os.getpid()


def acquire(json_path: Path, token: str, what: str) -> None:
    """Take the read's lock for this process, for the session ``token`` (``what`` names the read
    in messages).

    Raises
    ------
    ReadInUseError
        Another live process of this host, or a process of another host, holds it.
    """
    path = lock_path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _GUARD:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            held = _holder(path)
            if not _ours(held):
                _refuse_or_take_over(path, held, what)
                atomic_write_bytes(path, _content(), fsync=True)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(_content())
                f.flush()
                os.fsync(f.fileno())
        _OPEN.setdefault(path, set()).add(token)


def _refuse_or_take_over(path: Path, held: dict[str, Any] | None, what: str) -> None:
    if held is None:
        log.warning("%s: its lock file %s was empty or unreadable (a stop while it was written); taken over",
                    what, path)
    elif held.get("host") != _host():
        raise ReadInUseError(
            f"{what} is open in another session, on host {held.get('host')!r} (process {held.get('pid')}, since "
            f"{held.get('since')}; lock file {path}). Two sessions on one read would overwrite each other's work: "
            f"close the read there first. If that session is gone (its machine stopped), delete {path} and start "
            "the read again.")
    elif _alive(int(held.get("pid", -1))):
        raise ReadInUseError(
            f"{what} is open in another session (process {held.get('pid')} on this machine, since "
            f"{held.get('since')}; lock file {path}). Two sessions on one read would overwrite each other's "
            "work: close the read (or that napari window) there first, then start it here.")
    else:
        log.warning("%s: taken over from a session that ended without closing it (process %s, since %s)",
                    what, held.get("pid"), held.get("since"))


def holds(json_path: Path) -> bool:
    """Whether this process still holds the read's lock."""
    return _ours(_holder(lock_path(json_path)))


def release(json_path: Path, token: str) -> None:
    """The session ``token`` closes the read: the lock is removed once no session of this process
    has it open (and only if this process still holds it)."""
    path = lock_path(json_path)
    with _GUARD:
        tokens = _OPEN.get(path, set())
        tokens.discard(token)
        if tokens:
            return
        _OPEN.pop(path, None)
        if _ours(_holder(path)):
            path.unlink(missing_ok=True)

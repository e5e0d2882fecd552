"""Opening an SQLite study store that cannot be written (an archived copy, a read-only share).

The store runs in SQLite's WAL mode, whose readers need the ``-shm`` (and ``-wal``) files beside
the database; in a folder the user cannot write they cannot be created, and even listing failed
("unable to open database file").  Such a store is opened read-only through SQLite's URI
parameters (https://www.sqlite.org/uri.html):

* ``mode=ro&immutable=1`` when the folder cannot be written and there is no unmerged
  write-ahead log (no ``-wal`` file, or an empty one): SQLite then reads the database file
  without locks or ``-shm``.  Nobody can be writing it (no one could create the ``-shm`` a
  writer needs there) - a user who *can* write that folder must not change the store while
  someone reads it this way.
* ``mode=ro`` otherwise (``read_only=True`` asked for explicitly, or a ``-wal`` with content that
  must be read): SQLite's ordinary read-only open, which needs the ``-shm`` file to exist or be
  creatable.

Read-only stores list, show and verify; any change is refused with a :class:`StoreError` that
says why and what to do.  Only SQLite files are concerned (a server database has its own
permissions).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

__all__ = ["sqlite_path", "read_only_url", "folder_writable", "read_only_refusal"]

_PREFIX = "sqlite:///"


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///path`` URL, else None (a server URL, or a URI already)."""
    if not url.startswith(_PREFIX) or url.startswith(_PREFIX + "file:"):
        return None
    return Path(url[len(_PREFIX):])


def folder_writable(path: Path) -> bool:
    """Whether this process may create files (``-shm``, ``-wal``) in ``path``'s folder."""
    return os.access(path.parent, os.W_OK | os.X_OK)


def read_only_url(path: Path) -> str:
    """The SQLAlchemy URL that opens ``path`` read-only (immutable when nothing can write it)."""
    wal = path.with_name(path.name + "-wal")
    unmerged = wal.exists() and wal.stat().st_size > 0
    params = "mode=ro" + ("" if unmerged or folder_writable(path) else "&immutable=1")
    return f"{_PREFIX}file:{quote(str(path))}?{params}&uri=true"


def read_only_refusal(path: Path, what: str = "change the store") -> str:
    """The message refusing a change to a store opened read-only."""
    why = ("its folder " + str(path.parent) + " cannot be written by you"
           if not folder_writable(path) else "it was opened read-only (read_only=True)")
    return (f"cannot {what}: the study store {path} is open read-only because {why}. Listing, showing "
            "and 'study audit verify' work; to change it, copy the store to a folder you can write "
            "(or ask for write access) and pass that copy with --db.")

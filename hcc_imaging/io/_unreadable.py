"""Why a source cannot be read: the reasons the index lists files, zips and links as skipped.

Kept apart from ``index.py`` (the walk and the grouping): each function turns one failure (a broken
symbolic link, a zip member that fails its CRC check or needs a password, an empty file) into the
one-line reason of a :class:`~hcc_imaging.io.index.SkippedFile`, saying what is wrong and the fix.
Nothing here reads pixel data; the zip checks read the zip directory only.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "ZIP_READ_ERRORS",
    "BROKEN_LINK_REASON",
    "broken_link_reason",
    "zip_member_reason",
    "is_encrypted",
    "ENCRYPTED_MEMBER_REASON",
    "ENCRYPTED_ZIP_WHAT",
    "EMPTY_FILE_REASON",
    "unread_beside",
    "unread_beside_note",
]

#: What reading a zip member can raise besides OSError: a bad CRC or header (BadZipFile), a
#: password needed (RuntimeError), a compression method Python lacks (NotImplementedError), a
#: corrupt deflate stream (zlib.error), a member cut short (EOFError).
ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError)

_COPY_AGAIN = "copy the zip again from the archive (`unzip -t` tests it)"

#: Reason a password-protected member is skipped.
ENCRYPTED_MEMBER_REASON = (
    "encrypted in its zip (password-protected): extract the zip with its password first, then index the folder")

#: What is said of a zip whose every member is password-protected (skipped whole).
ENCRYPTED_ZIP_WHAT = (
    "encrypted (password-protected, as trial data is often sent): extract it with its password first, then index "
    "the folder; none of its files was indexed")

#: Reason a 0-byte file is skipped.
EMPTY_FILE_REASON = "empty file (0 bytes): a copy or download that failed; copy or export it again"


def is_encrypted(info: zipfile.ZipInfo) -> bool:
    """The member is password-protected (general purpose flag bit 0), known from the directory."""
    return bool(info.flag_bits & 0x1)


def zip_member_reason(err: BaseException) -> str:
    """The reason a zip member that could not be read is skipped (``err`` one of
    :data:`ZIP_READ_ERRORS` or an OSError)."""
    msg = str(err)
    if isinstance(err, RuntimeError) and "encrypted" in msg:
        return ENCRYPTED_MEMBER_REASON
    if isinstance(err, zipfile.BadZipFile) and "CRC" in msg:
        return f"damaged in its zip, a CRC error (its bytes are not the ones stored); {_COPY_AGAIN}"
    if isinstance(err, NotImplementedError):
        return (f"cannot be read from its zip ({msg}): extract the zip with a tool that supports its "
                "compression method (7-Zip, unzip), then index the folder")
    if isinstance(err, OSError) and not isinstance(err, zipfile.BadZipFile):
        return f"cannot be read from its zip: {err.strerror or err}"
    return f"damaged in its zip ({type(err).__name__}: {msg}); {_COPY_AGAIN}"


#: The start of the reason a broken symbolic link is skipped (:func:`broken_link_reason`).
BROKEN_LINK_REASON = "broken symbolic link"


def broken_link_reason(path: str) -> str:
    """The reason a symbolic link whose target does not exist is skipped."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    if not os.path.isabs(target):
        target = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return (f"{BROKEN_LINK_REASON} to {target}: its target does not exist (is its storage mounted?); nothing "
            "under it was indexed. Mount the storage, or fix the link")


def unread_beside(skipped: Iterable[Any], series_files: Iterable[str]) -> list[Any]:
    """The skipped files (``SkippedFile``-like: ``.path``, ``.reason``) lying in a folder of the
    series' files that may be slices of it: unreadable DICOM (truncated, damaged, empty), not the
    files that are plainly something else (not DICOM, a DICOMDIR)."""
    folders = {os.path.dirname(f) for f in series_files}
    return [s for s in skipped if os.path.dirname(s.path) in folders
            and not str(s.reason).startswith(("not a DICOM", "DICOMDIR"))]


def unread_beside_note(unread: Sequence[Any], shown: Callable[[str], str]) -> str:
    """The problem noted on a volume loaded while files beside it could not be read: the volume may
    be short of those slices, at its ends (where no gap shows; a gap inside is a SliceSpacingError)."""
    first = unread[0]
    why = re.split("[:;]", str(first.reason), maxsplit=1)[0]
    more = ", ".join(shown(s.path) for s in unread[1:3])
    more = (f"; also {more}" if more else "") + (" ..." if len(unread) > 3 else "")
    return (f"{len(unread)} file(s) beside the series could not be read and were skipped (e.g. {shown(first.path)}: "
            f"{why}{more}): "
            "if they are slices of this series, the volume is short of them at its ends (an end slice missing "
            "leaves no gap to see). Copy or export them again")

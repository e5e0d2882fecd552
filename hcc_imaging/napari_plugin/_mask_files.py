"""The read's masks on disk: one file per mask, named by its content, beside the read's autosave.

``<autosave_dir>/<patient>__<reader>.masks/<kind>_<time point>_<lesion>_<digest>.npz`` holds one
lesion's (``kind`` ``lesion``) or viable part's (``viable``) mask at one time point as a packed-bit
crop (``start``, ``shape``, ``bits``); ``digest`` is a hash of the crop and where it starts.  The
read's JSON lists the file of each mask (its ``"masks"`` entry).  Before 2026-12-06 every save of
a mask rewrote all of the read's masks into one ``.masks.npz`` (a 50-lesion read rewrote 50 masks
per brush stroke, and a session's saves grew with the square of its lesions); now a save writes
only the masks whose content changed since the last save.

Nothing is lost at any stop: a mask's file is written whole (temporary file, fsync, rename) under a
new name before the JSON that names it, and the files the previous JSON names (kept as the
JSON's ``.bak``) are removed only after the new JSON is in place, so the JSON on disk, and its
``.bak``, only ever name complete files.  A file whose content does not match its digest (cut
short, changed) is reported as damaged, naming the file, the lesion and what to do.

Qt-free, as the rest of the controller."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._atomic import atomic_write_bytes, fsync_dir
from ..errors import StoreError

__all__ = ["KINDS", "MaskKey", "load_mask_files", "mask_digest", "masks_dir", "remove", "write_changed"]

#: (the session's logger, as in ``_persistence``)
log = logging.getLogger(__package__ + "._controller")

#: The two kinds of mask a read keeps, in the order they are saved.
KINDS = ("lesion", "viable")

#: (kind, time point id, lesion id)
MaskKey = tuple[str, str, str]
Crop = tuple[tuple[int, int, int], NDArray[np.bool_]]


def masks_dir(json_path: Path) -> Path:
    """``<patient>__<reader>.masks`` beside the read's ``<patient>__<reader>.json``."""
    return json_path.with_suffix(".masks")


def mask_digest(start: Iterable[int], crop: NDArray[Any]) -> str:
    """A hash (32 hex digits) of where a crop starts, its shape and its voxels."""
    arr = np.ascontiguousarray(crop, dtype=np.bool_)
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray([*start, *arr.shape], np.int64).tobytes())
    h.update(arr.view(np.uint8).data)
    return h.hexdigest()


def _safe(s: str) -> str:
    """An id as a piece of a file name (the name is never parsed back: the JSON lists the files)."""
    return "".join(c if c.isalnum() or c in "-." else "-" for c in s)[:40] or "-"


def _file_name(key: MaskKey, digest: str) -> str:
    kind, tpid, lid = key
    return f"{kind}_{_safe(tpid)}_{_safe(lid)}_{digest}.npz"


def _encode(start: Iterable[int], crop: NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, start=np.asarray(tuple(start), np.int64), shape=np.asarray(crop.shape, np.int64),
             bits=np.packbits(crop, axis=None))
    return buf.getvalue()


def write_changed(folder: Path, stores: Mapping[str, Mapping[str, Mapping[str, Crop]]],
                  saved: Mapping[MaskKey, str]) -> tuple[dict[MaskKey, str], list[str]]:
    """Write the file of each mask of ``stores`` (kind -> time point -> lesion -> crop) whose file is
    not in ``saved`` (what the JSON on disk names) nor already in ``folder``.

    Returns the files of all the masks (what the next JSON names) and the names written.
    """
    files: dict[MaskKey, str] = {}
    written: list[str] = []
    for kind in KINDS:
        for tpid, per in stores.get(kind, {}).items():
            for lid, (start, crop) in per.items():
                key = (kind, tpid, lid)
                name = _file_name(key, mask_digest(start, crop))
                files[key] = name
                if saved.get(key) == name or (folder / name).is_file():
                    continue  # (a file is only ever written whole: one of this name is this mask)
                atomic_write_bytes(folder / name, _encode(start, crop), fsync=True)
                written.append(name)
    if written:
        fsync_dir(folder)
    return files, written


def remove(folder: Path, names: Iterable[str]) -> None:
    """Remove the mask files ``names`` of ``folder`` (those no JSON on disk names any more)."""
    for name in names:
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError as err:  # (a file another program holds open on Windows: it stays, unnamed)
            log.warning("autosave: could not remove the old mask file %s (%s)", folder / name, err)


def manifest_to_json(files: Mapping[MaskKey, str]) -> list[dict[str, str]]:
    return [{"kind": k[0], "timepoint_id": k[1], "lesion_id": k[2], "file": name} for k, name in sorted(files.items())]


def manifest_from_json(entries: Iterable[Mapping[str, Any]]) -> dict[MaskKey, str]:
    return {(str(d["kind"]), str(d["timepoint_id"]), str(d["lesion_id"])): str(d["file"]) for d in entries}


def load_mask_files(json_path: Path, files: Mapping[MaskKey, str], lesion_ids: Iterable[str],
                    backup: Mapping[MaskKey, str] | None = None) -> tuple[dict[MaskKey, Crop], dict[MaskKey, str]]:
    """The masks the read ``json_path`` names (``files``), of the lesions it knows.

    A mask of a lesion the read does not know is left out; a file that is missing (removed by hand)
    is left out with a warning naming it (the lesion keeps its measurements); a file that cannot be
    read or whose content is not its digest is a :class:`StoreError` naming the file, the lesion and
    what to do (``backup``: what the JSON's ``.bak`` names, to say whether it holds another version).
    Returns the masks and the files of the masks kept (what the JSON on disk names).
    """
    import zipfile

    folder = masks_dir(json_path)
    known = set(lesion_ids)
    masks: dict[MaskKey, Crop] = {}
    kept: dict[MaskKey, str] = {}
    missing = []
    for key, name in files.items():
        if key[2] not in known:
            continue
        path = folder / name
        try:
            with np.load(path) as z:
                start = tuple(int(v) for v in z["start"])
                shape = tuple(int(v) for v in z["shape"])
                crop = np.unpackbits(z["bits"], count=int(np.prod(shape))).astype(bool).reshape(shape)
        except FileNotFoundError:
            missing.append(f"{path.name} ({key[0]} mask of {key[2]} at {key[1]})")
            continue
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as err:
            raise _damaged(json_path, path, key, f"{type(err).__name__}: {err}", backup) from err
        if not name.endswith(f"_{mask_digest(start, crop)}.npz"):
            raise _damaged(json_path, path, key, "its content is not the one it was saved with", backup)
        masks[key] = (start, crop)  # type: ignore[assignment]
        kept[key] = name
    if missing:
        log.warning("autosave %s: mask file(s) %s missing from %s; left out (the lesions keep their "
                    "measurements; draw those masks again)", json_path.name, ", ".join(missing), folder)
    return masks, kept


def _damaged(json_path: Path, path: Path, key: MaskKey, why: str,
             backup: Mapping[MaskKey, str] | None) -> StoreError:
    bak = json_path.with_name(json_path.name + ".bak")
    other = (backup or {}).get(key)
    return StoreError(
        f"autosave mask file {path} ({key[0]} mask of lesion {key[2]} at {key[1]}) is damaged and cannot be "
        f"read ({why}). "
        + (f"The previous version of the read ({bak.name}) names another version of this mask: move "
           f"{json_path.name} aside and rename {bak.name} to {json_path.name} to resume from it (the last "
           "change may be missing). " if other and other != path.name and (path.parent / other).is_file() else "")
        + f"Or delete {path.name} to reopen the read without this mask (the lesion keeps its measurements; "
        "draw the mask again). Your measurements are also in your draft read in the study store "
        "('hcc-imaging study')."
    )

"""The read's autosave file (:class:`PersistenceMixin`, a base of :class:`._controller.ReadSession`):
the session written whole and atomically (temp file + ``os.replace``, fsync, the version it
replaces kept as ``.bak``) to ``<autosave_dir>/<patient>__<reader>.json`` after every change, its
masks one file each in ``<patient>__<reader>.masks/``, only the changed ones written
(:mod:`._mask_files`), and reopened by :meth:`PersistenceMixin.resume` after a crash (only this
reader's own file; a damaged one said with what to do; a read saved with all its masks in one
``.masks.npz``, before 2026-12-06, still opens).  Qt-free, as the rest of the controller; split
out of ``_controller.py`` along this seam (2026-12-06)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._atomic import atomic_write_bytes
from ..errors import BlindingError, HccImagingError, StoreError
from . import _mask_files, _read_lock
from ._layers import LineSpec, geometry_from_metadata, geometry_metadata
from ._serial import serialised

if TYPE_CHECKING:  # pragma: no cover
    from ..volume import Geometry
    from ._controller import Lesion, Observation, ReadSession

__all__ = ["SESSION_SCHEMA_VERSION", "PersistenceMixin", "session_path"]

#: (the session's logger: its warnings keep the name they had before this split)
log = logging.getLogger(__package__ + "._controller")

#: Version of the autosave file layout (bump on incompatible change).  2 (2026-12-06): the masks
#: are one file each, named in the JSON's ``"masks"`` (1: all in ``.masks.npz``; still read).  A
#: version that only knows 1 refuses a 2 (it would open the read without its masks).
SESSION_SCHEMA_VERSION = 2


def session_path(autosave_dir: str | os.PathLike[str], patient_id: str, reader_id: str) -> Path:
    """``<dir>/<patient>__<reader>.json`` (ids made file-name safe).

    An id that is not already file-name safe gets ``~`` and a short hash of the exact id appended
    ('site1:R1' -> 'site1_R1~<hash>'), so it no longer shares a file with 'site1_R1'; an id that is
    already safe keeps its old file name, so saved reads still open.
    """

    def safe(s: str) -> str:
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in s) or "_"
        if name != s:
            name += "~" + hashlib.sha256(s.encode("utf-8")).hexdigest()[:10]
        return name

    return Path(autosave_dir) / f"{safe(patient_id)}__{safe(reader_id)}.json"


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Autosave durably: the shared atomic writer with fsync (a crash leaves the last save).  The
    version it replaces stays as ``<name>.bak`` (a hard link to it: no copy), something to fall back
    to when a file is damaged (a full disk, a copy cut short)."""
    if path.is_file() and not path.is_symlink():
        bak = path.with_name(path.name + ".bak")
        tmp = path.with_name(f".{path.name}.bak.{uuid.uuid4().hex[:8]}")
        try:
            os.link(path, tmp)
            os.replace(tmp, bak)
        except OSError:  # (a file system without hard links: no .bak, the save goes on)
            tmp.unlink(missing_ok=True)
    atomic_write_bytes(path, payload, fsync=True)


def _damaged(path: Path, err: BaseException) -> StoreError:
    """The error of an autosave file that cannot be read: which file, and what to do."""
    bak = path.with_name(path.name + ".bak")
    return StoreError(
        f"autosave file {path} is damaged and cannot be read ({type(err).__name__}: {err}). "
        + (f"Its previous version is kept as {bak.name}: move {path.name} aside and rename {bak.name} to "
           f"{path.name} to resume from it (the last change may be missing). " if bak.exists() else "")
        + "Your measurements are also in your draft read in the study store ('hcc-imaging study'); "
        "move the damaged file aside to start the read again from there."
    )


def _bak_files(path: Path) -> dict[tuple[str, str, str], str]:
    """The mask files the ``.bak`` of the read ``path`` names (none when it has none or is damaged)."""
    try:
        doc = json.loads(path.with_name(path.name + ".bak").read_text())
        return _mask_files.manifest_from_json(doc.get("masks", []))
    except (OSError, ValueError, UnicodeDecodeError, TypeError, KeyError, AttributeError):
        return {}


def _fields(record: Any, leave_out: str = "") -> dict[str, Any]:
    """A lesion's or an observation's fields (what ``dataclasses.asdict`` gave, without its deep
    copy of every value: the lines an observation leaves out were copied on every save)."""
    out = {}
    for name in _field_names(type(record)):
        if name != leave_out:
            value = getattr(record, name)
            out[name] = list(value) if isinstance(value, list) else value
    return out


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _dumps(doc: Mapping[str, Any]) -> str:
    """The read as JSON, one lesion or observation a line (``json.dumps(indent=1)`` ran the pure
    Python encoder over every value on every save; this runs the C one per line)."""
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            items = ",\n  ".join(json.dumps(v) for v in value)
            parts.append(f"{json.dumps(key)}: [\n  {items}\n ]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def _line_to_json(line: LineSpec) -> dict[str, Any]:
    return {"axis": line.axis, "start_lps": list(line.start_lps), "end_lps": list(line.end_lps)}


def _line_from_json(lesion_id: str, d: Mapping[str, Any]) -> LineSpec:
    return LineSpec(lesion_id, str(d["axis"]), tuple(d["start_lps"]), tuple(d["end_lps"]))  # type: ignore[arg-type]


class PersistenceMixin:
    """The autosave of :class:`._controller.ReadSession`, which provides the state these methods
    write and read back (``patient_id``, ``reader_id``, ``autosave_dir``, ``blinded``, ``locked``,
    ``criteria``, ``store_read_uid``, ``lesions``, ``observations``, the masks ``_masks`` /
    ``_viable``, ``_geometries``, ``_saved_tps``, ``_max_label``, the change sets, ``saves``,
    ``last_timings``, ``listeners``), its time points (``timepoint_ids``, ``_tp_identity``) and
    its store sync (``attach_store``, ``sync_store``, ``_reader_session``)."""

    patient_id: str
    reader_id: str
    autosave_dir: Path
    blinded: bool
    locked: bool
    criteria: tuple[str, ...]
    store_read_uid: str | None
    lesions: dict[str, Lesion]
    observations: dict[tuple[str, str], Observation]
    _masks: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    _viable: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    _geometries: dict[str, Geometry]
    _saved_tps: dict[str, dict[str, Any]]
    _max_label: int
    #: the file of each mask (kind, time point, lesion) the JSON on disk names; None: not known
    #: (a read resumed from a ``.masks.npz``: the next save writes every mask)
    _mask_files: dict[tuple[str, str, str], str] | None
    #: the mask files the JSON's ``.bak`` names (removed once no JSON on disk names them)
    _mask_files_bak: set[str]
    _dirty: set[tuple[str, str]]
    _deleted: set[tuple[str, str]]
    _lesion_dirty: set[str]
    saves: int
    last_timings: dict[str, float]
    listeners: list[Any]
    _reader_session: Any
    #: this session's token in the read's lock (:mod:`._read_lock`), whether it took the lock, whether it closed
    lock_token: str
    _lock_held: bool
    _closed: bool

    @property
    def path(self) -> Path:
        return session_path(self.autosave_dir, self.patient_id, self.reader_id)

    @property
    def masks_dir(self) -> Path:
        """The folder of the read's mask files (``<patient>__<reader>.masks``)."""
        return _mask_files.masks_dir(self.path)

    @property
    def masks_path(self) -> Path:
        """The single masks file of a read saved before 2026-12-06 (read on resume, then removed)."""
        return self.path.with_suffix(".masks.npz")

    def _read_name(self) -> str:
        return f"the read of patient {self.patient_id!r} by reader {self.reader_id!r} ({self.path})"

    def close(self) -> None:
        """End the session: release the read's lock (once no other session of this process has
        the read open, another process may open it); a later save is refused.  What was saved
        stays (the autosave file, the store)."""
        self._closed = True
        _read_lock.release(self.path, self.lock_token)

    def _check_lock(self) -> None:
        """Refuse to save a closed session, or one whose read another process took over; take the
        read's lock at a new session's first save."""
        if self._closed:
            raise StoreError(f"{self._read_name()}: this session was closed; start the read again to change it.")
        if self._lock_held and not _read_lock.holds(self.path):
            raise _read_lock.ReadInUseError(
                f"{self._read_name()} was taken over by another process since this session opened it (its lock "
                f"file {_read_lock.lock_path(self.path)} names another process), so this session no longer saves it "
                "(it would overwrite the other's work; its last change is not saved): go on in the other session.")
        if not self._lock_held:
            _read_lock.acquire(self.path, self.lock_token, self._read_name())
            self._lock_held = True

    @serialised
    def to_json(self) -> dict[str, Any]:
        """The session as a JSON-able dict (schema :data:`SESSION_SCHEMA_VERSION`)."""
        return {
            "schema_version": SESSION_SCHEMA_VERSION,
            "patient_id": self.patient_id,
            "reader_id": self.reader_id,
            "blinded": self.blinded,
            "locked": self.locked,
            "criteria": list(self.criteria),
            "store_read_uid": self.store_read_uid,
            "max_label": self._max_label,
            # deletions not yet in the store (a stop between this file's write and the store's): made
            # there on resume
            "deleted": [list(k) for k in sorted(self._deleted)],
            "timepoints": [
                {
                    "timepoint_id": tpid,
                    **self._tp_identity(tpid),
                    "geometry": geometry_metadata(self._geometries[tpid]) if tpid in self._geometries else None,
                }
                for tpid in self.timepoint_ids
            ],
            "lesions": [_fields(les) for les in self.lesions.values()],
            # (the files of the masks as of the last save that wrote masks: autosave() replaces it)
            "masks": _mask_files.manifest_to_json(self._mask_files or {}),
            "observations": [
                {
                    "lesion_id": lid,
                    "timepoint_id": tpid,
                    **_fields(obs, leave_out="lines"),
                    "lines": [_line_to_json(ln) for ln in obs.lines.values()],
                }
                for (lid, tpid), obs in self.observations.items()
            ],
        }

    @serialised
    def autosave(self, *, masks: bool = False) -> Path:
        """Write the session atomically (and, when ``masks``, the masks changed since the last save);
        notify listeners.

        Order (a stop anywhere leaves the JSON and its ``.bak`` naming complete mask files only): the
        changed masks' files, under new names; the JSON naming them (the one it replaces kept as
        ``.bak``); then the mask files neither of the two names are removed.
        """
        import time

        t0 = time.perf_counter()
        self._check_lock()
        doc = self.to_json()
        on_disk = self._mask_files
        if masks or on_disk is None:  # (resumed from a .masks.npz: every mask is written once)
            files, _ = _mask_files.write_changed(
                self.masks_dir, {"lesion": self._masks, "viable": self._viable}, on_disk or {})
            doc["masks"] = _mask_files.manifest_to_json(files)
        else:
            files = on_disk
        _atomic_write_bytes(self.path, _dumps(doc).encode())
        # the files the new JSON and its .bak (the JSON just replaced) name stay; those only the
        # replaced .bak named go (only files this read named: never another read's, e.g. one moved
        # aside, nor ones it does not know, e.g. written by a save a crash cut short)
        was_bak, self._mask_files_bak = self._mask_files_bak, set((on_disk or {}).values())
        _mask_files.remove(self.masks_dir, was_bak - self._mask_files_bak - set(files.values()))
        self._mask_files = files
        if on_disk is not None and self.masks_path.exists():
            # (resumed from a .masks.npz, before 2026-12-06: the .bak no longer needs it either)
            for old in (self.masks_path, self.masks_path.with_name(self.masks_path.name + ".bak")):
                old.unlink(missing_ok=True)
        self.saves += 1
        t1 = time.perf_counter()
        self.last_timings["autosave_s"] = t1 - t0
        if self._reader_session is not None and not self.locked:
            self.sync_store()
            self.last_timings["store_s"] = time.perf_counter() - t1
        for cb in list(self.listeners):
            cb(self)
        return self.path

    @classmethod
    def resume(
        cls,
        patient_id: str,
        reader_id: str,
        autosave_dir: str | os.PathLike[str],
        *,
        blinded: bool = True,
        store: Any = None,
        criteria: Sequence[str] | None = None,
    ) -> ReadSession:
        """Reopen this reader's autosaved session (empty session when there is none).

        Only ``<patient>__<reader>.json`` is ever read: another reader's file is never opened.
        The session holds the read's lock (``<patient>__<reader>.lock``, :mod:`._read_lock`) until
        :meth:`close`.

        Raises
        ------
        ReadInUseError
            The read is open in another live session (another napari window or machine).
        """
        s = cls(patient_id, reader_id, autosave_dir, blinded=blinded, criteria=criteria)
        # one session at a time on a read (refused when another live one has it open)
        _read_lock.acquire(s.path, s.lock_token, s._read_name())
        s._lock_held = True
        try:
            return cls._resume_into(s, patient_id, reader_id, store, criteria)
        except BaseException:
            _read_lock.release(s.path, s.lock_token)
            raise

    @classmethod
    def _resume_into(cls, s: ReadSession, patient_id: str, reader_id: str, store: Any,
                     criteria: Sequence[str] | None) -> ReadSession:
        from ._controller import Lesion, Observation  # (a cycle at import time)

        if not s.path.exists():
            if store is not None:
                s.attach_store(store)
            return s
        try:
            doc = json.loads(s.path.read_text())
            if not isinstance(doc, dict):
                raise ValueError(f"not a read (a JSON {type(doc).__name__})")
        except (ValueError, UnicodeDecodeError) as err:  # (JSONDecodeError is a ValueError)
            raise _damaged(s.path, err) from err
        if doc.get("reader_id") != reader_id:
            raise BlindingError(
                f"autosave file {s.path.name} belongs to reader {doc.get('reader_id')!r}, not {reader_id!r}; "
                "a blinded reader cannot open another reader's read."
            )
        if doc.get("patient_id", patient_id) != patient_id:
            raise HccImagingError(
                f"autosave file {s.path.name} holds the read of patient {doc.get('patient_id')!r}, not {patient_id!r}; "
                "refusing to open it as this patient's read."
            )
        if int(doc.get("schema_version", 0)) > SESSION_SCHEMA_VERSION:
            raise StoreError(
                f"autosave file {s.path} has schema {doc['schema_version']} > {SESSION_SCHEMA_VERSION}; "
                "it was written by a newer hcc-imaging. Upgrade hcc-imaging to reopen it."
            )
        s.locked = bool(doc.get("locked", False))
        s.store_read_uid = doc.get("store_read_uid")
        s._max_label = int(doc.get("max_label", 0))
        s.criteria = tuple(doc.get("criteria", s.criteria)) if criteria is None else tuple(criteria)
        for tp in doc.get("timepoints", []):
            if tp.get("geometry"):
                s._geometries[tp["timepoint_id"]] = geometry_from_metadata({"hcc_imaging": tp["geometry"]})
            s._saved_tps[tp["timepoint_id"]] = {k: tp.get(k) for k in ("date", "day_offset", "study_instance_uid")}
        for d in doc.get("lesions", []):
            s.lesions[d["lesion_id"]] = Lesion(**d)
        for d in doc.get("observations", []):
            lid, tpid = d.pop("lesion_id"), d.pop("timepoint_id")
            lines = {ln["axis"]: _line_from_json(lid, ln) for ln in d.pop("lines", [])}
            s.observations[(lid, tpid)] = Observation(**d, lines=lines)
        if "masks" in doc:
            # (schema 2: the files of the masks; those of the .bak to say whether it can help)
            try:
                files = _mask_files.manifest_from_json(doc["masks"])
            except (TypeError, KeyError) as err:
                raise _damaged(s.path, err) from err
            bak = _bak_files(s.path)
            loaded, s._mask_files = _mask_files.load_mask_files(s.path, files, s.lesions, bak)
            s._mask_files_bak = set(bak.values())
            for (kind, tpid, lid), item in loaded.items():
                (s._masks if kind == "lesion" else s._viable).setdefault(tpid, {})[lid] = item
        elif s.masks_path.exists():
            import zipfile

            s._mask_files = None  # (the next save writes the masks one file each)
            unknown: set[str] = set()
            try:
                with np.load(s.masks_path) as z:
                    keys = {k.rsplit("|", 1)[0] for k in z.files}
                    for key in sorted(keys):
                        kind, tpid, lid = key.split("|")
                        if lid not in s.lesions:
                            # the masks were saved, the read not (a crash between the two writes): a
                            # lesion the read does not know is left out
                            unknown.add(lid)
                            continue
                        shape = tuple(int(v) for v in z[key + "|shape"])
                        n = int(np.prod(shape))
                        crop = np.unpackbits(z[key + "|bits"], count=n).astype(bool).reshape(shape)
                        start = tuple(int(v) for v in z[key + "|start"])
                        target = s._masks if kind == "lesion" else s._viable
                        target.setdefault(tpid, {})[lid] = (start, crop)  # type: ignore[assignment]
            except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as err:
                raise _damaged(s.masks_path, err) from err
            if unknown:
                log.warning("autosave %s: masks of lesion(s) %s that the read does not know left out (the "
                            "process stopped between the two writes of a save)", s.masks_path.name,
                            ", ".join(sorted(unknown)))
        # (a lesion deleted and brought back by undo is the read's again: not deleted from the store)
        s._deleted = {(str(lid), str(tpid)) for lid, tpid in doc.get("deleted", [])} - set(s.observations)
        if store is not None:
            s.attach_store(store)
            if not s.locked:
                s._dirty.update(s.observations)  # whatever the crash kept from the store
                s._lesion_dirty.update(s.lesions)
                s.sync_store()
        return s

"""Content keys and the crash-safe result store of a batch run.

Every study's result is one JSON file, written atomically (temp file + ``os.replace``) as soon as
the study finishes: ``OUT/store/ok/<key>.json`` or ``OUT/store/failed/<key>.json``.  A run killed
at any moment (SIGKILL included) leaves only whole records; a temp file left behind is ignored
and removed by the next run.  The tables (CSV/Parquet) are always rebuilt from the records of the
studies of the *current* archive, so a resumed run gives exactly the rows of a clean run: none
lost, none twice.

The **content key** of a study is ``sha256(study UID, input hash, code version, options)``:

* input hash: every file of the study (series UID, file name, size, modification time; reading
  every pixel byte would double the I/O of a run) and the bytes of the masks / seeds /
  annotations that apply to it (or, for DICOMweb, the SOP Instance UIDs); when a phase holds two
  series, the series chosen per phase (:func:`~hcc_imaging.batch.lesions.phase_series`);
* code version (:func:`code_version`): ``hcc_imaging.__version__``, :data:`STORE_FORMAT`, and the
  versions of the measurement that change a number: the diameter estimator
  (``measure.constants.ESTIMATOR``), the viable-diameter rule (``measure.constants.VIABLE_RULE``)
  and the values of every parameter in :mod:`hcc_imaging.measure.constants`.  ``__version__`` has
  stayed 0.1.0 across commits that changed the numbers, so it alone let a run started with
  older code and resumed with newer keep both sets of numbers in one table.  The segmentation's
  version (``segment.constants.ALGORITHM_VERSION``) is in the input hash of the studies whose
  masks the run makes (seeds, carried), not of studies measured from mask files;
* options: the criteria and measurement options that change the numbers.

A changed input, code version or option gives a new key, so the study is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import _atomic
from .. import __version__
from .constants import STORE_FORMAT

log = logging.getLogger(__name__)

__all__ = ["code_version", "content_key", "file_digest", "ResultStore", "atomic_write_bytes", "atomic_write_text",
           "record_json", "patient_file_stem", "safe_name"]


def file_digest(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def code_version() -> str:
    """The code part of every study's resume key: what, besides the inputs and options, changes a
    study's numbers.

    ``hcc_imaging.__version__``, :data:`STORE_FORMAT`, the measurement's estimator and viable rule
    versions (``measure.constants.ESTIMATOR``, ``VIABLE_RULE``) and a digest of the values of every
    parameter of :mod:`hcc_imaging.measure.constants` (a changed tolerance or threshold changes a
    number too).  Read at each call, so a changed constant gives new keys.
    """
    from ..measure import constants as MC

    params = {name: getattr(MC, name) for name in sorted(MC.__all__)}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()[:16]
    return f"{__version__}/{STORE_FORMAT}/{MC.ESTIMATOR}/{MC.VIABLE_RULE}/measure-constants:{digest}"


def content_key(study_uid: str, input_hash: str, options: Mapping[str, Any]) -> str:
    """The resume key of one study (hex, 24 characters): sha256 of the study UID, its input hash,
    :func:`code_version` and ``options`` (the module docstring)."""
    payload = json.dumps(
        {
            "study": study_uid,
            "input": input_hash,
            "code": code_version(),
            "options": dict(options),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def safe_name(name: str) -> str:
    """A study UID (or any id) as a file name: runs of characters other than letters, digits,
    ``.``, ``_``, ``-`` become ``_`` (``masks/<study>/``).  Not one-to-one: per-patient files use
    :func:`patient_file_stem`."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "patient"


def patient_file_stem(patient_id: str) -> str:
    """The stem of a patient's files in a batch's OUT (``reads/<stem>.json``,
    ``assessments/<stem>.json``, ``sr/<stem>.dcm``): one per patient id, never shared.

    The id itself when it is a safe file name (:func:`safe_name` leaves it unchanged), else its
    safe name, ``_`` and the first 8 hex digits of the sha256 of the raw id: ``"PAT 004"`` ->
    ``PAT_004_<hash>``, while ``"PAT_004"`` stays ``PAT_004``.  (``safe_name`` alone gave both
    ``PAT_004``: one patient's read, assessment and SR overwrote the other's.)
    """
    name = safe_name(patient_id)
    if name == patient_id:
        return name
    return f"{name}_{hashlib.sha256(patient_id.encode('utf-8')).hexdigest()[:8]}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (fsync; :mod:`hcc_imaging._atomic`)."""
    _atomic.atomic_write_bytes(path, data, fsync=True)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


class ResultStore:
    """Per-study result records under ``OUT/store`` (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.root = Path(out_dir) / "store"
        self.ok_dir = self.root / "ok"
        self.failed_dir = self.root / "failed"
        for d in (self.ok_dir, self.failed_dir):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.ok_dir, self.failed_dir):
            # temp files of writes a kill interrupted (hcc_imaging._atomic: ".<name>.<random>.part")
            for tmp in (*d.glob(".tmp_*"), *d.glob(".*.part")):
                tmp.unlink(missing_ok=True)

    def done_keys(self) -> set[str]:
        """Keys of studies that finished successfully.

        A record that cannot be read (empty, truncated, not JSON) is moved aside
        (``<key>.json.unreadable``, with a warning naming it) and its study counts as not done,
        so ``--resume`` runs it again instead of failing on it later.
        """
        keys = set()
        for p in self.ok_dir.glob("*.json"):
            if p.name.startswith("."):
                continue
            if _read_record(p) is not None:
                keys.add(p.stem)
        return keys

    def put(self, record: Mapping[str, Any], text: str | None = None) -> Path:
        """Store one study record (``record["key"]``, ``record["ok"]``) atomically and durably."""
        return self.put_batch([(record, text)])[0]

    def put_batch(self, items: Iterable[tuple[Mapping[str, Any], str | None]]) -> list[Path]:
        """Store records that arrived together: each one atomically (temp file, fsync, rename),
        then one fsync per store folder so the renames themselves survive a power loss.

        ``text`` is the record's JSON when the worker already serialised it (else it is made
        here).  A kill at any moment leaves every record whole or absent.
        """
        paths: list[Path] = []
        dirs: set[Path] = set()
        for record, text in items:
            key = str(record["key"])
            ok = bool(record["ok"])
            path = (self.ok_dir if ok else self.failed_dir) / f"{key}.json"
            atomic_write_text(path, text if text is not None else record_json(record))
            dirs.add(path.parent)
            if ok:
                stale = self.failed_dir / f"{key}.json"
                if stale.exists():
                    stale.unlink()
                    dirs.add(self.failed_dir)
            paths.append(path)
        for d in sorted(dirs):
            _atomic.fsync_dir(d)
        return paths

    def get(self, key: str) -> dict[str, Any] | None:
        for d in (self.ok_dir, self.failed_dir):
            p = d / f"{key}.json"
            if p.is_file():
                rec = _read_record(p)
                if rec is not None:
                    return rec
        return None

    def records(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Records for ``keys`` (ok first, else failed), skipping keys with no record."""
        out = []
        for k in keys:
            r = self.get(k)
            if r is not None:
                out.append(r)
        return out


def _read_record(p: Path) -> dict[str, Any] | None:
    """The record in ``p``, or None (warning logged, file moved aside) when it is unreadable."""
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(rec, dict):
            raise ValueError("not a JSON object")
        return rec
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        aside = p.with_name(p.name + ".unreadable")
        log.warning("unreadable store record %s (%s): moved aside to %s, its study is run again", p, exc, aside.name)
        try:
            p.replace(aside)
        except OSError:
            pass
        return None


def record_json(record: Mapping[str, Any]) -> str:
    """The stored JSON text of a study record (numpy scalars / arrays and paths made plain)."""
    return json.dumps(record, sort_keys=True, default=_json_default)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a batch record")

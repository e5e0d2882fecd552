"""``hcc-imaging segment``'s lesion ids beside a NIfTI output: the ``labels.json`` the batch saves
(:data:`hcc_imaging.io.masks.LABEL_NAMES_FILE`, label value -> lesion id), which ``measure`` /
``export`` read with :func:`hcc_imaging.io.masks.load_lesion_map`.

A NIfTI holds label values, not names: ``segment --label 3 --lesion-id L7 --out m.nii.gz`` was
measured as "L3" (the DICOM SEG output kept "L7"; tester finding, issue 5, until 2026-12-06), and
``--each-label`` lost the names of the carried map's ``labels.json``.  The file applies to every
NIfTI map in its folder, so an existing one is merged with, never contradicted: a label value it
names otherwise, or a lesion id it gives another value, is refused before anything is written.
Names that are all the default (label n is ``Ln``) write no file when none is there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_DICOM_SUFFIXES = (".dcm",)


def _side(out: str | Path) -> Path | None:
    """The ``labels.json`` beside output ``out``; None for a DICOM SEG (it names its segments)."""
    p = Path(out)
    if p.name.lower().endswith(_DICOM_SUFFIXES):
        return None
    from ..io.masks import LABEL_NAMES_FILE

    return p.parent / LABEL_NAMES_FILE


def planned_label_names(out: str | Path, names: Mapping[int, str]) -> tuple[Path, dict[str, Any]] | None:
    """The ``labels.json`` to write beside ``out`` for the lesions ``names`` (label value -> lesion id),
    merged with the one there: (its path, its content), or None when nothing is to be written.

    Raises
    ------
    SegmentArgumentError
        The file there names one of these label values otherwise, or gives one of these lesion ids
        to another label value (it would rename a map already in the folder), or cannot be read.
    """
    from ..io.masks import MaskFormatError, read_label_names
    from .segment import SegmentArgumentError

    side = _side(out)
    if side is None:
        return None
    doc: dict[str, Any] = {}
    have: dict[int, str] = {}
    if side.is_file():
        try:
            have, _organs = read_label_names(side)
            raw = json.loads(side.read_text(encoding="utf-8"))
        except (MaskFormatError, OSError, ValueError) as err:
            raise SegmentArgumentError(f"--out {out}: the {side.name} beside it cannot be read ({err}); fix or remove "
                                       "it, or write --out into another folder.") from err
        doc = dict(raw) if isinstance(raw, dict) and "labels" in raw else {}
    elif all(lid == f"L{v}" for v, lid in names.items()):
        return None  # the default names, and no file to keep them consistent with
    clash = [f"label {v} is {have[v]!r} there, {lid!r} here" for v, lid in sorted(names.items())
             if v in have and have[v] != lid]
    by_id = {lid: v for v, lid in have.items()}
    clash += [f"lesion id {lid!r} is label {by_id[lid]} there, label {v} here" for v, lid in sorted(names.items())
              if lid in by_id and by_id[lid] != v]
    if clash:
        raise SegmentArgumentError(
            f"--out {out}: the {side.name} beside it names the NIfTI label maps of that folder and disagrees ("
            + "; ".join(clash) + "): the maps already there would be renamed. Write --out into another folder, or "
            "give --label / --lesion-id values that agree with it (or remove it if those maps are gone).")
    merged = {**have, **{int(v): str(lid) for v, lid in names.items()}}
    if side.is_file() and merged == have:
        return None
    doc["labels"] = {str(v): lid for v, lid in sorted(merged.items())}
    return side, doc


def write_label_names(plan: tuple[Path, dict[str, Any]] | None) -> Path | None:
    """Write the ``labels.json`` :func:`planned_label_names` planned; its path (None: nothing written)."""
    if plan is None:
        return None
    from .._atomic import atomic_write_text

    side, doc = plan
    return atomic_write_text(side, json.dumps(doc, indent=2) + "\n")

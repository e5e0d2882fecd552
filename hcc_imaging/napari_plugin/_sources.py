"""Who or what made a lesion's mask or line at a time point: its observation's ``source``.

The plugin writes three kinds, and measuring a mask keeps its kind (``_core.measure``; until
2026-12-06 the measurement replaced every source but an algorithm's with its own,
``algorithm:hcc_imaging.measure.measure_lesion/VERSION``, so an imported expert mask or a painted
one read as the measuring code's):

=================================  ==============================  =====================
source                             made by                         study store kind
=================================  ==============================  =====================
``algorithm:NAME/VERSION``         a segmentation (the dock's       ``algorithm`` (NAME,
                                   click: ``segment_lesion/1.62``)  VERSION)
``imported mask``                  *Import masks…* (never the       ``imported``
                                   file's name: ``_file_sources``)
``reader:ID``                      the reader: a line drawn or      ``manual_line``
                                   dragged, a number typed, a
                                   mask painted or edited
=================================  ==============================  =====================

A mask edited with the brush is the reader's (``reader:ID``) whatever it was before - an
algorithm's or an imported one: the border measured is the one the reader left.  What it was
is said in the observation's problems (:func:`edited_note`, the table's *problems* column and the
status line: ``imported mask edited by hand (reader R1)``).
"""

from __future__ import annotations

from typing import Any

from ..export._file_sources import ALGORITHM_PREFIX, IMPORTED_MASK_SOURCE

__all__ = ["ALGORITHM_PREFIX", "IMPORTED_MASK_SOURCE", "READER_PREFIX", "algorithm_source", "edited_note", "reader_source",
           "store_provenance"]

#: Prefix of a reader's source: ``reader:ID``.
READER_PREFIX = "reader:"


def algorithm_source(name: str, version: str) -> str:
    """The source of a segmentation's mask: ``algorithm:NAME/VERSION``."""
    return f"{ALGORITHM_PREFIX}{name}/{version}"


def reader_source(reader_id: str) -> str:
    """The source of what the reader ``reader_id`` drew, typed or painted."""
    return f"{READER_PREFIX}{reader_id}"


def edited_note(previous_source: str | None, what: str, reader_id: str) -> str:
    """The problems-column note of a mask (``what``: ``mask`` / ``viable part``) the reader edited
    by hand, saying what the mask was before: ``imported mask edited by hand (reader R1)``,
    ``mask edited by hand (reader R1), from algorithm segment_lesion/1.62``."""
    prev = str(previous_source or "")
    if prev == IMPORTED_MASK_SOURCE:
        return f"imported {what} edited by hand (reader {reader_id})"
    if prev.startswith(ALGORITHM_PREFIX):
        return f"{what} edited by hand (reader {reader_id}), from algorithm {prev[len(ALGORITHM_PREFIX):]}"
    return f"{what} edited by hand (reader {reader_id})"


def store_provenance(source: str | None) -> dict[str, Any]:
    """The study store's provenance of an observation's ``source``: the keyword arguments of
    ``ReaderSession.record_measurement`` (``source_kind``, ``algorithm_name``,
    ``algorithm_version``, and for an imported mask ``extra={"source": "imported mask"}``, so the
    store's exported read says so).  A source of none of the three kinds is the reader's."""
    v = str(source or "")
    if v.startswith(ALGORITHM_PREFIX):
        name, _, version = v[len(ALGORITHM_PREFIX):].partition("/")
        if name:
            return {"source_kind": "algorithm", "algorithm_name": name, "algorithm_version": version or "unknown"}
    if v == IMPORTED_MASK_SOURCE:
        return {"source_kind": "imported", "algorithm_name": None, "algorithm_version": None,
                "extra": {"source": IMPORTED_MASK_SOURCE}}
    return {"source_kind": "manual_line", "algorithm_name": None, "algorithm_version": None}

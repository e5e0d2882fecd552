"""An axis longer than the axis that bounds it, refused when it is recorded
(:meth:`hcc_imaging.study.ReaderSession.record_measurement`): the read document's own check
(:func:`hcc_imaging.response.document.axis_problem`, ``AXIS_TOLERANCE_MM``), run on the values
the record would hold.  Such a record was kept until the read was locked or exported (a
``ReadDocumentError`` then, the wrong value long recorded; until 2026-12-06)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import StoreError
from ..response.document import axis_problem

__all__ = ["RecordRefusedError", "refuse_impossible_axes"]


class RecordRefusedError(StoreError):
    """The store refused the values of one measurement record (nothing recorded): the values are
    wrong, not the store.  An editor that writes many records (napari's ``sync_store``) keeps
    such a record pending and writes the others."""


def refuse_impossible_axes(values: Mapping[str, Any], where: str) -> None:
    """Raise :class:`RecordRefusedError` (a :class:`StoreError`) when ``values`` (the record's
    final column values, after a ``keep_recorded`` merge) hold an axis longer than its bound;
    ``where`` names the read, time point and lesion.  Nothing is recorded then (the caller's
    transaction is rolled back)."""
    problem = axis_problem(values)
    if problem is None:
        return
    field_name, message = problem
    raise RecordRefusedError(f"{where}, field {field_name!r}: {message} Nothing was recorded (the record "
                             "keeps its previous values).")

"""Lesion tracking UIDs: recorded in the read, else derived from it (the same in every export of it)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ._fields import _get
from ._records import ExportRead

#: UUID namespace of the tracking UIDs :func:`derived_tracking_uid` makes (a fixed random UUID)
_TRACKING_NAMESPACE = uuid.UUID("5b0e6c1e-3f0a-4d35-9a51-7c2f3e0d8a14")


def name_based_tracking_uid(patient_id: str, reader_id: str | None, baseline_date: dt.date | str | None,
                            lesion_id: str) -> str:
    """The tracking UID :func:`derived_tracking_uid` gives lesion ``lesion_id`` of a read of
    ``patient_id`` by ``reader_id`` whose first time point is of ``baseline_date`` (a date or
    ``YYYY-MM-DD``; None: unknown): a name-based UUID, ``2.25.<UUID as integer>`` (PS3.5 B.2).

    A read that is made by a program (``hcc-imaging batch``) records it on each lesion when it is
    made (so correcting the reader or a date later keeps it), and gives the UID a read without
    one was given by the exports before.
    """
    base = baseline_date.isoformat() if isinstance(baseline_date, dt.date) else str(baseline_date or "")
    name = "\x1f".join(("hcc_imaging lesion tracking uid", str(patient_id), reader_id or "", base, str(lesion_id)))
    return f"2.25.{uuid.uuid5(_TRACKING_NAMESPACE, name).int}"


def derived_tracking_uid(read: ExportRead, lesion_id: str) -> str:
    """The tracking UID of lesion ``lesion_id`` of ``read`` when the read records none.

    Derived from the patient id, the reader id, the baseline date and the lesion id
    (:func:`name_based_tracking_uid`), so every export of the same read - each SEG of each time
    point, the SR, the tables, made by separate commands - gives the lesion the same UID without
    having to pass it around (TID 1500 / PS3.3 C.8.20.2: the SR group and the SEG segment of one
    finding share its Tracking UID at every time point).

    Editing one of those fields (a corrected reader name or baseline date) gives other UIDs, which
    no longer match objects already sent.  A read keeps its UIDs when it records them
    (``tracking_uid`` on each lesion): the batch, the napari dock and the study store write them
    when the lesion is made, and the JSON read ``export csv`` writes (``reads/<patient>.json``)
    carries the derived ones; export from that copy before editing such fields.
    """
    base = read.timepoints[0].date if read.timepoints else None
    return name_based_tracking_uid(read.patient_id, read.reader_id, base, lesion_id)


def with_tracking_uids(read: ExportRead) -> ExportRead:
    """``read`` with a tracking UID on every lesion observation: the lesion's own (the first
    recorded at any time point, for the time points that have none), else
    :func:`derived_tracking_uid` (``tracking_uid_derived``).  The read document (``document``)
    gets the same UIDs, so the JSON read written with the tables carries what the SEG and SR
    carry."""
    recorded: dict[str, str] = {}
    for les in read.lesions:
        if les.tracking_uid:
            recorded.setdefault(les.lesion_id, str(les.tracking_uid))
    if all(les.tracking_uid for les in read.lesions):
        return read
    uids: dict[str, str] = {}
    lesions = []
    for les in read.lesions:
        if les.tracking_uid:
            lesions.append(les)
            continue
        lid = les.lesion_id
        uid = uids.setdefault(lid, recorded.get(lid) or derived_tracking_uid(read, lid))
        lesions.append(replace(les, tracking_uid=uid, tracking_uid_derived=lid not in recorded))
    return replace(read, lesions=tuple(lesions), document=_document_with_uids(read.document, uids))


def _document_with_uids(doc: Mapping[str, Any] | None, uids: Mapping[str, str]) -> Mapping[str, Any] | None:
    """A copy of the read document with ``tracking_uid`` set on the lesions that have none."""
    if not isinstance(doc, Mapping) or not uids:
        return doc
    import copy

    out = copy.deepcopy(dict(doc))
    tps = _get(out, "timepoints", "time_points", default=[])
    for tp in tps if isinstance(tps, list) else []:
        if not isinstance(tp, dict):
            continue
        lesions = _get(tp, "lesions", "observations", default=[])
        for les in lesions if isinstance(lesions, list) else []:
            if isinstance(les, dict) and not les.get("tracking_uid"):
                lid = _get(les, "lesion_id", "id", "tracking_id", "label")
                if lid is not None and str(lid) in uids:
                    les["tracking_uid"] = uids[str(lid)]
    return out

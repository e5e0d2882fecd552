"""Neutral time point ids in de-identified exports (``BL``, ``FU1``, ``FU2`` ...).

Time point ids are typed by a person and are often the scan's date (``CT 2025-01-06``): kept
word for word, they carried the real dates beside the shifted ones.  De-identified, every export
kind (tables, JSON reads, SDTM ``VISIT``, SR time point texts, HTML report) shows a neutral id
instead, the same one in every export: the pseudonym map keeps ``timepoints`` =
``{patient key: {time point id: neutral id}}``.

Numbering: a read's time points, in time order (the read's order: baseline first), get ``BL``
(the baseline, when the patient has no ``BL`` yet) and ``FU1``, ``FU2`` ... (the next follow-up
numbers not used for that patient); an id seen before keeps its neutral id (another reader's read
of the same time points, a later export).  A time point first seen in a later export gets the next
follow-up number, whatever its date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .deid import Deidentifier
    from .model import ExportRead

__all__ = [
    "BASELINE_ID",
    "FOLLOW_UP_PREFIX",
    "TIMEPOINT_TEXT_CONCEPTS",
    "timepoint_map",
    "neutral_timepoint",
    "rename_read_timepoints",
    "rename_document_timepoints",
    "sr_text",
]

BASELINE_ID = "BL"
FOLLOW_UP_PREFIX = "FU"

#: SR TEXT concepts whose value is a time point id: Time Point (TID 1502), Subject / Protocol
#: Time Point Identifier.  (code value, scheme)
TIMEPOINT_TEXT_CONCEPTS: frozenset[tuple[str, str]] = frozenset(
    {("C2348792", "UMLS"), ("126070", "DCM"), ("126071", "DCM")})

#: Tracking Identifier of a response group: ``"<criterion> response <time point id>"`` (sr.py)
_TRACKING_ID = ("112039", "DCM")
_RESPONSE_IDENTIFIER = re.compile(r"(.+ response )(.+)")


def _table(deid: Deidentifier, patient_id: str) -> dict[str, str]:
    # keyed by the patient's map key (an alias of the read's id shares the patient's table)
    deid.pseudonym(patient_id, deidentified=False)
    return deid._timepoints.setdefault(deid._canonical(str(patient_id)), {})


def _next_follow_up(table: Mapping[str, str]) -> str:
    used = {v for v in table.values()}
    n = 1
    while f"{FOLLOW_UP_PREFIX}{n}" in used:
        n += 1
    return f"{FOLLOW_UP_PREFIX}{n}"


def timepoint_map(deid: Deidentifier, patient_id: str, ordered_ids: Sequence[str]) -> dict[str, str]:
    """``{time point id: neutral id}`` for a read's time points (``ordered_ids``: baseline
    first, in time order); new ids are added to the map."""
    table = _table(deid, patient_id)
    for k, tp in enumerate(ordered_ids):
        tp = str(tp)
        if tp in table:
            continue
        table[tp] = BASELINE_ID if k == 0 and BASELINE_ID not in table.values() else _next_follow_up(table)
    return {str(tp): table[str(tp)] for tp in ordered_ids}


def neutral_timepoint(deid: Deidentifier, patient_id: str, tp_id: str) -> str:
    """The neutral id of one time point id (a new follow-up number when first seen)."""
    table = _table(deid, patient_id)
    if tp_id not in table:
        table[tp_id] = BASELINE_ID if not table else _next_follow_up(table)
    return table[tp_id]


def _rename_text(text: str, mapping: Mapping[str, str]) -> str:
    """Every whole-word occurrence of an original id in a free sentence (a response's reasons:
    ``"iUPD of CT 2025-03-03 not confirmed"``) replaced, longest ids first."""
    for old in sorted(mapping, key=len, reverse=True):
        if old != mapping[old]:
            text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", mapping[old], text)
    return text


def rename_read_timepoints(read: ExportRead, mapping: Mapping[str, str]) -> ExportRead:
    """A copy of ``read`` whose time point ids (time points, lesions, responses and their
    reasons) are ``mapping``'s."""
    def m(tp: str) -> str:
        return mapping.get(tp, tp)

    return replace(
        read,
        timepoints=tuple(replace(t, timepoint_id=m(t.timepoint_id)) for t in read.timepoints),
        lesions=tuple(replace(les, timepoint_id=m(les.timepoint_id)) for les in read.lesions),
        responses=tuple(replace(r, timepoint_id=m(r.timepoint_id),
                                reasons=tuple(_rename_text(x, mapping) for x in r.reasons))
                        for r in read.responses),
    )


#: keys of a read document (and of an assessment kept in it) whose value is a time point id
_TP_KEYS = frozenset({"timepoint_id", "time_point_id", "timepoint", "time_point", "baseline", "nadir",
                      "nadir_timepoint", "confirmed_by", "tp", "tp_id"})
_TP_LISTS = frozenset({"timepoints", "time_points"})


def rename_document_timepoints(doc: Any, mapping: Mapping[str, str], key: str = "") -> Any:
    """A read document (dict) with ``mapping``'s time point ids: a time point's ``id``, every
    ``timepoint_id`` (and the like) and the ids inside a ``reasons`` sentence."""
    if isinstance(doc, Mapping):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            lk = str(k).lower()
            if isinstance(v, str) and (lk in _TP_KEYS or (lk == "id" and key in _TP_LISTS)):
                out[k] = mapping.get(v, v)
            elif lk == "reasons" and isinstance(v, list):
                out[k] = [_rename_text(x, mapping) if isinstance(x, str) else x for x in v]
            else:
                out[k] = rename_document_timepoints(v, mapping, lk)
        return out
    if isinstance(doc, list):
        return [rename_document_timepoints(v, mapping, key) for v in doc]
    return doc


def sr_text(deid: Deidentifier, patient_id: str, concept: tuple[str, str] | None, text: str) -> str | None:
    """The de-identified value of an SR TEXT item that names a time point (None: not one):
    a time point concept's id, or the id at the end of a response group's tracking identifier."""
    if concept in TIMEPOINT_TEXT_CONCEPTS:
        return neutral_timepoint(deid, patient_id, text)
    if concept == _TRACKING_ID:
        hit = _RESPONSE_IDENTIFIER.fullmatch(text)
        table = deid._timepoints.get(deid._canonical(str(patient_id)), {})
        if hit and hit.group(2) in table:
            return hit.group(1) + table[hit.group(2)]
    return None

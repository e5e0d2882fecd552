"""Which recorded adjudication decides a discordance.

A decision is made between particular reads: the latest locked read of each reader at the
time.  When a reader locks a revised read, the discordance is between other reads, and the old
decision does not decide it.  Since schema v3 a record stores the read UIDs it decided between
(``read_uids``) and the BOR mode (``confirmed``); it decides a discordance of exactly those reads
and, for a BOR discordance, that mode (a PD-date discordance does not depend on the mode).

A record written before v3 has neither.  Its reads are inferred: the latest locked read of each
reader of the patient under the criterion, locked no later than the record was written (what
``discordances`` compared when the adjudicator decided).  Its BOR mode is inferred only when the
BOR of those reads differs in one mode alone (``adjudicate`` needs an open discordance in its
mode); when it differs in both, the mode is unknown and the old record decides neither.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .model import AdjudicationRow, ReadRow, ReadStatus

__all__ = ["decision_for", "encode_read_uids", "decoded_read_uids"]

_PD_DATE = "pd_date"


def encode_read_uids(read_uids: Iterable[str]) -> str:
    """The stored form of ``read_uids``: a sorted JSON list."""
    return json.dumps(sorted(read_uids))


def decoded_read_uids(row: AdjudicationRow) -> tuple[str, ...] | None:
    """The read UIDs a record names (None for a record written before schema v3)."""
    return tuple(json.loads(row.read_uids)) if row.read_uids is not None else None


def _reads_when_recorded(s: Session, row: AdjudicationRow, norm: object) -> frozenset[str]:
    """The latest locked read of each reader (of the record's patient and criterion) locked no
    later than ``row`` was written."""
    latest: dict[int, str] = {}
    q = (select(ReadRow).where(ReadRow.patient_fk == row.patient_fk,
                               ReadRow.status == ReadStatus.LOCKED.value,
                               ReadRow.locked_at <= row.created_at)
         .order_by(ReadRow.locked_at, ReadRow.id))
    for r in s.scalars(q):
        if row.criteria in norm(r.criteria):  # type: ignore[operator]
            latest[r.reader_fk] = r.read_uid
    return frozenset(latest.values())


def decision_for(
    s: Session,
    patient_fk: int,
    criteria: str,
    kind: str,
    read_uids: Iterable[str],
    *,
    confirmed: bool,
    other_mode_differs: bool,
    norm: object,
) -> AdjudicationRow | None:
    """The latest record that decides the ``kind`` discordance between ``read_uids`` (BOR in the
    ``confirmed`` mode), or None.  ``other_mode_differs``: the BOR of these reads differs in the
    other mode too (then a pre-v3 record's mode is unknown).  ``norm`` normalises a read's
    criteria text to the list of criterion names."""
    wanted = frozenset(read_uids)
    rows = s.scalars(select(AdjudicationRow).where(
        AdjudicationRow.patient_fk == patient_fk, AdjudicationRow.criteria == criteria,
        AdjudicationRow.discordance == kind).order_by(AdjudicationRow.id.desc()))
    for row in rows:
        named = decoded_read_uids(row)
        if named is not None:
            if frozenset(named) == wanted and (kind == _PD_DATE or row.confirmed is confirmed):
                return row
            continue
        if kind != _PD_DATE and other_mode_differs:
            continue  # a pre-v3 BOR decision of unknown mode
        if _reads_when_recorded(s, row, norm) == wanted:
            return row
    return None

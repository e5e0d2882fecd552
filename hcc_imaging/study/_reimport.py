"""Re-importing a read that is already locked in the store (``import_document(..., lock=True)``).

A script run twice, or ``study import-read R1.json --lock`` typed again, must not create a
second locked read: a new locked read is a *revision* to the adjudicator and reopens any
discordance decided between the earlier reads (docs/study.md).  So an imported document that
is identical - same reader, same patient, same criteria, same content as the export of that
reader's latest locked read under each of those criteria - is recognised here and the import
becomes a no-op.  A document that differs in anything is a revised read, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .model import ReadRow, ReadStatus


def _comparable(js: dict[str, Any], keep_tracking: set[tuple[str, str]]) -> dict[str, Any]:
    """The document JSON without criteria (compared apart) and without the tracking UIDs the
    store assigned to lesions the imported document gave none (the store matches those by id)."""
    out = {k: v for k, v in js.items() if k != "criteria"}
    tps = []
    for t in js.get("timepoints", []):
        les = [{k: v for k, v in L.items() if k != "tracking_uid" or (t["id"], L["lesion_id"]) in keep_tracking}
               for L in t.get("lesions", [])]
        tps.append({**t, "lesions": les})
    out["timepoints"] = tps
    return out


def identical_locked_read(s: Session, reader_fk: int, patient_fk: int, doc: Any, criteria: Sequence[str],
                          norm_criteria: Callable[[str], tuple[str, ...]],
                          export: Callable[[Session, ReadRow], Any]) -> ReadRow | None:
    """The reader's locked read of the patient that ``doc`` (under ``criteria``) repeats, else None.

    Only a read that is still the reader's latest locked read under every one of its criteria
    counts: re-importing an older read after a revision is itself a revision (it changes which
    read the adjudicator compares) and is imported as one.
    """
    rows = list(s.scalars(select(ReadRow).where(
        ReadRow.reader_fk == reader_fk, ReadRow.patient_fk == patient_fk, ReadRow.status == ReadStatus.LOCKED.value)
        .order_by(ReadRow.locked_at, ReadRow.id)))
    latest: dict[str, ReadRow] = {}
    for r in rows:
        for c in norm_criteria(r.criteria):
            latest[c] = r
    want = set(criteria)
    src = doc.to_json()
    keep = {(t["id"], L["lesion_id"]) for t in src.get("timepoints", []) for L in t.get("lesions", [])
            if L.get("tracking_uid")}
    mine = _comparable(src, keep)
    for r in reversed(rows):
        crit = norm_criteria(r.criteria)
        if set(crit) != want or any(latest[c] is not r for c in crit):
            continue
        if _comparable(export(s, r).to_json(), keep) == mine:
            return r
    return None

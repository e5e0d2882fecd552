"""A time point id reused for another study (:meth:`hcc_imaging.study.Store.add_timepoint` with
``exist_ok``): refused.  It returned the stored time point as it was, so a read that named another
study (another date or StudyInstanceUID) ``BL`` for the same patient was filed under the first
study's date without a word (until 2026-12-06).  The same study again (or one saying nothing of its
date and UID) is the same time point: kept, unchanged."""

from __future__ import annotations

import datetime as dt

from ..errors import StoreError
from .records import TimePointInfo

__all__ = ["refuse_other_study"]


def refuse_other_study(kept: TimePointInfo, date: dt.date | None, study_instance_uid: str | None) -> None:
    """Raise when ``exist_ok`` would reuse time point ``kept`` for another study: a stated date or
    study UID that differs from the stored one (a value unknown on either side is no conflict)."""
    other_date = date is not None and kept.date is not None and date != kept.date
    other_uid = bool(study_instance_uid) and bool(kept.study_instance_uid) and study_instance_uid != kept.study_instance_uid
    if not (other_date or other_uid):
        return
    def shown(d: dt.date | None, uid: str | None) -> str:
        return f"date {d.isoformat() if d else 'unknown'}, study {uid or 'unknown'}"
    raise StoreError(
        f"time point {kept.timepoint_id!r} of patient {kept.patient_id!r} is already another study "
        f"({shown(kept.date, kept.study_instance_uid)}) than the one given now "
        f"({shown(date if date is not None else kept.date, study_instance_uid or kept.study_instance_uid)}); "
        "not reused (a time point is one study). Give this study another time point id (e.g. the next "
        "follow-up's), or correct its date / study UID.")

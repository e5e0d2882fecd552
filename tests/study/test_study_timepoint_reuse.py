"""A time point id reused with ``exist_ok`` for another study (date / study UID) is refused: it
was returned as it was, so a read naming another study 'BL' was filed under the old date."""

from __future__ import annotations

import datetime as dt

import pytest

from hcc_imaging.errors import StoreError
from hcc_imaging.study import Store


def test_reusing_a_timepoint_for_another_date_or_study_is_refused(store: Store) -> None:
    store.add_patient("P1")
    store.add_study("P1", "1.2.3.1", dt.date(2024, 1, 10))
    store.add_study("P1", "1.2.3.2", dt.date(2024, 4, 10))
    store.add_timepoint("P1", "BL", dt.date(2024, 1, 10), study_instance_uid="1.2.3.1")
    with pytest.raises(StoreError) as err:
        store.add_timepoint("P1", "BL", dt.date(2024, 4, 10), exist_ok=True)
    msg = str(err.value)
    assert "'BL'" in msg and "'P1'" in msg and "2024-01-10" in msg and "2024-04-10" in msg
    assert "another time point id" in msg
    with pytest.raises(StoreError, match=r"study 1\.2\.3\.1\).*study 1\.2\.3\.2"):
        store.add_timepoint("P1", "BL", study_instance_uid="1.2.3.2", exist_ok=True)
    # the same study again (or nothing said of it) is the same time point: kept, unchanged
    for again in ({"date": dt.date(2024, 1, 10)}, {"study_instance_uid": "1.2.3.1"}, {}):
        tp = store.add_timepoint("P1", "BL", exist_ok=True, **again)  # type: ignore[arg-type]
        assert (tp.date, tp.study_instance_uid) == (dt.date(2024, 1, 10), "1.2.3.1")
    assert [(t.timepoint_id, t.date) for t in store.timepoints("P1")] == [("BL", dt.date(2024, 1, 10))]

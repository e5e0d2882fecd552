"""A record the study store refuses (a long line dragged shorter than the short one: the store
refuses an axis longer than its bound when it is recorded) stays pending in the read: the
autosave has it, the other records are still written, the refusal is said once per change, the
read cannot be locked, and the corrected line reaches the store (Qt-free ``ReadSession``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hcc_imaging.errors import StoreError
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.napari_plugin._layers import LineSpec
from hcc_imaging.study import ReaderSession, Store

SYNC_LOG = "hcc_imaging.napari_plugin._store_sync"


def _long(lid: str, mm: float) -> LineSpec:
    return LineSpec(lid, "long", (0.0, 0.0, 0.0), (mm, 0.0, 0.0))


def _stored_ld(store: Store, read_uid: str | None) -> dict[str, float | None]:
    return {m.lesion_id: m.longest_diameter_mm for m in ReaderSession(store, "R1").measurements(read_uid)}


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SYNC_LOG]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "study.sqlite")
    yield s
    s.close()


def test_a_refused_record_stays_pending_and_the_others_are_written(tmp_path: Path, store: Store,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=SYNC_LOG)
    s = ReadSession("P001", "R1", tmp_path, store=store, criteria=["RECIST1.1"])
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))  # L1: LD 40, SA 20
    s.measure_manual("baseline", ((0, 0, 0), (25, 0, 0)))  # L2
    # the reader drags L1's long line shorter than its short axis: no error out of the drag
    s.set_line("L1", "baseline", _long("L1", 15.0))
    assert s.observations[("L1", "baseline")].longest_diameter_mm == 15.0
    assert ReadSession.resume("P001", "R1", tmp_path).observations[("L1", "baseline")].longest_diameter_mm == 15.0
    assert set(s.store_pending) == {("L1", "baseline")}
    why = s.store_pending[("L1", "baseline")]
    assert "lesion L1 at baseline: not written to the study store" in why
    assert "field 'short_axis_mm': 20 mm is longer than longest_diameter_mm 15 mm" in why and "Fix:" in why
    assert _stored_ld(store, s.store_read_uid) == {"L1": 40.0, "L2": 25.0}  # the store kept its values
    # another lesion's edit is written; L1's refusal is not said again at that autosave
    s.set_line("L2", "baseline", _long("L2", 30.0))
    assert _stored_ld(store, s.store_read_uid) == {"L1": 40.0, "L2": 30.0}
    assert len(_refusals(caplog)) == 1
    s.set_line("L1", "baseline", _long("L1", 12.0))  # a new change, refused too: said again
    assert len(_refusals(caplog)) == 2 and "longest_diameter_mm 12 mm" in s.store_pending[("L1", "baseline")]
    # the lock is refused with the reason (the store still has LD 40: locking would assess it)
    with pytest.raises(StoreError, match=r"NOT locked: 1 measurement\(s\).*field 'short_axis_mm'"):
        s.lock()
    assert not s.locked and str(ReaderSession(store, "R1").read(s.store_read_uid).status) == "draft"
    # corrected: written at once, nothing pending, and the read locks
    s.set_line("L1", "baseline", _long("L1", 35.0))
    assert s.store_pending == {} and _stored_ld(store, s.store_read_uid) == {"L1": 35.0, "L2": 30.0}
    s.lock()
    assert s.locked


def test_resume_with_a_refused_record_writes_the_others(tmp_path: Path, store: Store) -> None:
    """An autosave holding a record the store refuses (a read saved while the store was away, or
    before the store refused such axes) still opens: every other record reaches the store."""
    s = ReadSession("P001", "R1", tmp_path, criteria=["RECIST1.1"])  # no store attached
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))
    s.measure_manual("baseline", ((0, 0, 0), (25, 0, 0)))
    s.measure_manual("baseline", ((0, 0, 0), (33, 0, 0)))
    s.set_line("L1", "baseline", _long("L1", 15.0))
    r = ReadSession.resume("P001", "R1", tmp_path, store=store)
    assert set(r.store_pending) == {("L1", "baseline")}
    assert _stored_ld(store, r.store_read_uid) == {"L2": 25.0, "L3": 33.0}


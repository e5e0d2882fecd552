"""The napari store sync writes what napari owns and keeps the rest of a record (Qt-free
``ReadSession`` on a real SQLite store).

Found after 2026-12-06: the sync replaced the whole record at every write, so when the reader had
recorded a lesion's viable status, ``enhancing``, a note, ``typical_hcc_pattern`` or
``cytology_malignant`` in the draft read (``study read record``, the API, an import), napari's next
write of that lesion (a line dragged) dropped them all.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.napari_plugin._layers import LineSpec
from hcc_imaging.study import ReaderSession, Store

SYNC_LOG = "hcc_imaging.napari_plugin._store_sync"


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "study.sqlite")
    yield s
    s.close()


def _stored(store: Store, read_uid: str | None, lesion_id: str = "L1", tp: str = "baseline") -> Any:
    """The lesion's observation in the store's read, as the read document exports it."""
    doc = ReaderSession(store, "R1").export_document(read_uid)
    t = next(t for t in doc.timepoints if t.id == tp)
    return next(les for les in t.lesions if les.lesion_id == lesion_id)


def _recorded_elsewhere(store: Store, read_uid: str | None) -> None:
    """What the reader records outside napari on napari's lesion L1 (as ``study read record`` does)."""
    ReaderSession(store, "R1").record_measurement(
        read_uid, "baseline", "L1", typical_hcc_pattern=True, cytology_malignant=False,
        extra={"viable_status": "too_small", "enhancing": True, "well_delineated": True, "note": "thin arterial rim"},
        keep_recorded=True)


def test_a_napari_write_keeps_what_napari_does_not_own(tmp_path: Path, store: Store) -> None:
    s = ReadSession("P001", "R1", tmp_path, store=store, criteria=["mRECIST"])
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))  # L1: LD 40, SA 20
    _recorded_elsewhere(store, s.store_read_uid)
    # the reader drags L1's long line in napari: napari writes the lesion again
    s.set_line("L1", "baseline", LineSpec("L1", "long", (0.0, 0.0, 0.0), (42.0, 0.0, 0.0)))
    o = _stored(store, s.store_read_uid)
    assert (o.longest_diameter_mm, o.short_axis_mm, str(o.status), str(o.role)) == (42.0, 20.0, "measured", "target")
    assert {e.axis.value for e in o.endpoints} == {"long", "short"}
    # (the old code wrote viable_status None, enhancing None, note None, typical_hcc_pattern None...)
    assert str(o.viable_status) == "too_small"
    assert (o.enhancing, o.well_delineated, o.note) == (True, True, "thin arterial rim")
    assert (o.typical_hcc_pattern, o.cytology_malignant) == (True, False)
    assert o.source == "reader:R1"  # napari's provenance: the reader's line (manual_line)
    # what napari owns still follows napari, a cleared value too (keep_recorded would have kept it)
    s.set_field("L1", "short_axis_mm", None, "baseline")
    s.set_field("L1", "role", "non_target")
    o = _stored(store, s.store_read_uid)
    assert (o.short_axis_mm, str(o.role)) == (None, "non_target")
    assert {e.axis.value for e in o.endpoints} == {"long"}
    assert str(o.viable_status) == "too_small" and o.note == "thin arterial rim"


def test_a_new_viable_size_from_napari_clears_the_recorded_viable_status(tmp_path: Path, store: Store,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=SYNC_LOG)
    s = ReadSession("P001", "R1", tmp_path, store=store, criteria=["mRECIST"])
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))
    _recorded_elsewhere(store, s.store_read_uid)
    # the reader now measures the viable part in napari: 'too_small' beside a 25 mm viable
    # diameter would count 5 mm under mRECIST (viable_status wins), so it goes, and the sync's log says so
    s.set_line("L1", "baseline", LineSpec("L1", "viable_long", (0.0, 0.0, 0.0), (25.0, 0.0, 0.0)))
    o = _stored(store, s.store_read_uid)
    assert o.viable_diameter_mm == 25.0 and o.viable_status is None
    assert (o.enhancing, o.note, o.typical_hcc_pattern) == (True, "thin arterial rim", True)
    notes = [r.getMessage() for r in caplog.records if r.name == SYNC_LOG]
    assert len(notes) == 1 and "viable_status 'too_small' cleared" in notes[0] and "lesion 'L1 (tracking UID" in notes[0]


def test_resuming_onto_an_imported_draft_keeps_its_observation_fields(tmp_path: Path, store: Store) -> None:
    """The dock attached to a store whose latest draft read was imported (``attach_store`` takes
    it): the resume's first write of each lesion keeps what the import recorded."""
    s = ReadSession("P001", "R1", tmp_path, criteria=["mRECIST"])  # read without the store
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))
    doc = s.read_document()
    doc["timepoints"][0]["lesions"][0].update(viable_status="too_small", enhancing=True, note="thin arterial rim")
    store.add_reader("R1")
    read_uid = ReaderSession(store, "R1").import_document(doc).read_uid
    r = ReadSession.resume("P001", "R1", tmp_path, store=store)
    r.sync_store()
    assert r.store_read_uid == read_uid
    o = _stored(store, read_uid)
    assert (o.longest_diameter_mm, str(o.viable_status), o.enhancing, o.note) == (40.0, "too_small", True,
                                                                                  "thin arterial rim")


def test_the_panels_assessment_reads_what_was_recorded_outside_napari(tmp_path: Path, store: Store) -> None:
    """The read document the response panel assesses carries the draft read's own fields (here
    ``viable_status: absent``), as the lock's assessment does; it ignored them, so the panel's
    mRECIST differed from the store's."""
    s = ReadSession("P001", "R1", tmp_path, store=store, criteria=["mRECIST"])
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))
    s.set_line("L1", "baseline", LineSpec("L1", "viable_long", (0.0, 0.0, 0.0), (30.0, 0.0, 0.0)))
    s.measure_manual("fu1", ((0, 0, 0), (38, 0, 0)), ((0, 0, 0), (0, 20, 0)), lesion_id="L1")
    ReaderSession(store, "R1").record_measurement(
        s.store_read_uid, "fu1", "L1", viable_status="absent", extra={"enhancing": False}, keep_recorded=True)
    [entry] = s.read_document()["timepoints"][1]["lesions"]
    assert (entry["viable_status"], entry["enhancing"], entry["longest_diameter_mm"]) == ("absent", False, 38.0)
    tp = s.assess(["mRECIST"]).results["mRECIST"].timepoints[1]
    assert (tp.sum, str(tp.response)) == (0, "CR")
    lock_doc = ReaderSession(store, "R1").export_document(s.store_read_uid)
    from hcc_imaging.response import assess

    assert str(assess(lock_doc, "mRECIST").results["mRECIST"].timepoints[1].response) == "CR"


def test_the_panels_assessment_has_the_reads_treatments_and_markers(tmp_path: Path, store: Store) -> None:
    """The panel's read document carries the store read's treatments and marker draws, as the
    lock's does: a TACE 6 days before the follow-up makes RECICL's follow-up not evaluable (its
    evaluation window, criteria.md §5.3) at the lock, and the panel graded it."""
    import datetime as dt

    from hcc_imaging.response import assess

    s = ReadSession("P001", "R1", tmp_path, store=store, criteria=["RECICL"])
    s.measure_manual("baseline", ((0, 0, 0), (40, 0, 0)), ((0, 0, 0), (0, 20, 0)))
    s.measure_manual("fu1", ((0, 0, 0), (38, 0, 0)), ((0, 0, 0), (0, 20, 0)), lesion_id="L1")
    fu1_day = s.read_document()["timepoints"][1]["day"]
    store.add_treatment_event("P001", "TACE", start_day=fu1_day - 6)
    store.add_tumour_marker("P001", "afp", 5.0, day=fu1_day)
    doc = s.read_document()
    assert doc["treatments"] == [{"kind": "TACE", "day": fu1_day - 6}]
    assert doc["markers"] == [{"day": fu1_day, "afp_ng_ml": 5.0}]
    panel = s.assess(["RECICL"]).results["RECICL"].timepoints[1]
    assert str(panel.response) == "NE"  # (the old panel graded it: it knew no treatment)
    lock_doc = ReaderSession(store, "R1").export_document(s.store_read_uid)
    assert str(assess(lock_doc, "RECICL").results["RECICL"].timepoints[1].response) == "NE"
    # a treatment dated only, in a read whose baseline has no date, has no day to be placed on:
    # the panel leaves it out and still assesses (the lock refuses, naming the entry to fix)
    store.add_treatment_event("P001", "lenvatinib", start_date=dt.date(2024, 1, 1))
    assert [t["kind"] for t in s.read_document()["treatments"]] == ["TACE"]
    assert str(s.assess(["RECICL"]).results["RECICL"].timepoints[1].response) == "NE"

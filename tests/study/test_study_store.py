"""Store basics: opening, pragmas, pseudonymous ids, shared records, error messages."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from hcc_imaging.errors import StoreError
from hcc_imaging.study import Store, resolve_db_url
from hcc_imaging.study.constants import SCHEMA_VERSION


def test_sqlite_pragmas_wal_foreign_keys_busy_timeout(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    assert store.schema_version == SCHEMA_VERSION
    assert store.integrity_check() == "ok"


def test_reopen_keeps_data(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as s:
        s.add_reader("R1")
        s.add_patient("P001")
        s.add_timepoint("P001", "BL", dt.date(2024, 1, 1), 0)
    with Store(tmp_path / "s.sqlite") as s:
        assert [r.reader_id for r in s.readers()] == ["R1"]
        tp = s.timepoints("P001")[0]
        assert (tp.timepoint_id, tp.date, tp.day_offset) == ("BL", dt.date(2024, 1, 1), 0)


def test_db_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCC_IMAGING_DB", str(tmp_path / "env.sqlite"))
    assert resolve_db_url(None) == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert resolve_db_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_default_db_in_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("HCC_IMAGING_DB", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "data"))
    url = resolve_db_url(None)
    assert url == f"sqlite:///{tmp_path / 'data' / 'study.sqlite'}"
    assert (tmp_path / "data").is_dir()


@pytest.mark.parametrize(
    "db, match",
    [
        pytest.param("sqlite://", "in-memory", id="in-memory-refused"),
        pytest.param("/nonexistent-folder-xyz/s.sqlite", "does not exist", id="missing-folder"),
    ],
)
def test_open_errors(db: str, match: str) -> None:
    with pytest.raises(StoreError, match=match):
        Store(db)


def test_foreign_database_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE patients (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not created by hcc_imaging"):
        Store(p)


def test_newer_schema_refused(tmp_path: Path) -> None:
    p = tmp_path / "new.sqlite"
    Store(p).close()
    con = sqlite3.connect(p)
    con.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'x')", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this hcc_imaging supports"):
        Store(p)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("DOE^JOHN", id="dicom-person-name"),
        pytest.param("John Doe", id="name-with-space"),
        pytest.param("", id="empty"),
        pytest.param("Smith, Anna", id="comma"),
    ],
)
def test_names_are_refused_as_patient_ids(store: Store, bad: str) -> None:
    with pytest.raises(StoreError, match="pseudonymous id"):
        store.add_patient(bad)
    assert store.patients() == []


def test_duplicates_and_unknown_ids(store: Store) -> None:
    store.add_reader("R1")
    with pytest.raises(StoreError, match="already exists"):
        store.add_reader("R1")
    with pytest.raises(StoreError, match="unknown reader role"):
        store.add_reader("R2", role="boss")
    store.add_patient("P1")
    with pytest.raises(StoreError, match="already exists"):
        store.add_patient("P1")
    assert store.add_patient("P1", exist_ok=True).patient_id == "P1"
    with pytest.raises(StoreError, match="unknown patient 'P9'"):
        store.add_timepoint("P9", "BL")
    store.add_timepoint("P1", "BL")
    with pytest.raises(StoreError, match="already exists"):
        store.add_timepoint("P1", "BL")
    with pytest.raises(StoreError, match="unknown study"):
        store.add_series("1.2.3", "1.2.3.4")


def test_ids_differing_only_by_case_or_spaces_are_refused(store: Store) -> None:
    """'r1' next to 'R1' was a second reader, 'p1' next to 'P1' a second patient (also when a read
    document spelt the patient id in another case)."""
    from hcc_imaging.study import ReaderSession

    store.add_reader("R1")
    store.add_patient("HCC-0042")
    with pytest.raises(StoreError, match="differs from the existing reader 'R1' only by letter case"):
        store.add_reader("r1", role="adjudicator")
    with pytest.raises(StoreError, match="differs from the existing patient 'HCC-0042' only by letter case"):
        store.add_patient("hcc-0042")
    with pytest.raises(StoreError, match="differs from the existing patient 'HCC-0042'"):
        store.add_patient("hcc-0042", exist_ok=True)
    with pytest.raises(StoreError, match="spaces around it; ids have none, pass 'R1'"):
        store.add_reader(" R1 ")
    doc = {"reader_id": "R1", "patient_id": "Hcc-0042", "criteria": ["RECIST1.1"],
           "timepoints": [{"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "role": "target",
                                                               "longest_diameter_mm": 30.0}]}]}
    with pytest.raises(StoreError, match="differs from the existing patient 'HCC-0042'"):
        ReaderSession(store, "R1").import_document(doc)
    assert [r.reader_id for r in store.readers()] == ["R1"]
    assert [p.patient_id for p in store.patients()] == ["HCC-0042"]
    doc["patient_id"] = "HCC-0042"
    assert ReaderSession(store, "R1").import_document(doc).patient_id == "HCC-0042"
    # a lookup in the wrong case says which id exists
    with pytest.raises(StoreError, match="unknown reader 'r1'.*Did you mean 'R1'"):
        ReaderSession(store, "r1")
    with pytest.raises(StoreError, match="unknown patient 'hcc-0042'.*Did you mean 'HCC-0042'"):
        store.timepoints("hcc-0042")


def test_studies_series_with_phase(store: Store) -> None:
    store.add_patient("P1")
    store.add_study("P1", "1.2.840.1", dt.date(2024, 1, 1), "CT")
    store.add_series("1.2.840.1", "1.2.840.1.1", "arterial", "CT")
    store.add_series("1.2.840.1", "1.2.840.1.2", "portal_venous", "CT")
    phases = {s.series_instance_uid: s.phase for s in store.series("1.2.840.1")}
    assert phases == {"1.2.840.1.1": "arterial", "1.2.840.1.2": "portal_venous"}
    with pytest.raises(StoreError, match="unknown phase"):
        store.add_series("1.2.840.1", "1.2.840.1.3", "lunch")
    tp = store.add_timepoint("P1", "BL", dt.date(2024, 1, 1), study_instance_uid="1.2.840.1")
    assert store.timepoints("P1")[0].study_instance_uid == "1.2.840.1" == tp.study_instance_uid


def test_treatments_and_markers(store: Store) -> None:
    store.add_patient("P1")
    for kind in ("TACE", "lenvatinib", "atezolizumab_bevacizumab", "resection", "ablation"):
        store.add_treatment_event("P1", kind, dt.date(2024, 2, 1))
    again = store.add_treatment_event("P1", "tace", dt.date(2024, 2, 1), dt.date(2024, 2, 2))
    events = store.treatment_events("P1")
    assert len(events) == 5
    assert again.end_date == dt.date(2024, 2, 2)
    store.add_tumour_marker("P1", "AFP", 250.0, dt.date(2024, 1, 5))
    store.add_tumour_marker("P1", "afp-l3", 12.5, dt.date(2024, 1, 5), unit="%")
    store.add_tumour_marker("P1", "PIVKA-II", 80.0, dt.date(2024, 1, 5))
    ms = {m.marker: (m.value, m.unit) for m in store.tumour_markers("P1")}
    assert ms == {"afp": (250.0, "ng/mL"), "afp_l3": (12.5, "%"), "pivka_ii": (80.0, "mAU/mL")}


@pytest.mark.parametrize(
    "call, match",
    [
        pytest.param(lambda s: s.add_treatment_event("P1", "chemo?", dt.date(2024, 1, 1)), "unknown treatment", id="kind"),
        pytest.param(lambda s: s.add_treatment_event("P1", "TACE", dt.date(2024, 2, 1), dt.date(2024, 1, 1)),
                     "before it starts", id="end-before-start"),
        pytest.param(lambda s: s.add_treatment_event("P1", "TACE"), "no start", id="no-start"),
        pytest.param(lambda s: s.add_tumour_marker("P1", "CA125", 1.0, dt.date(2024, 1, 1)), "unknown tumour marker", id="marker"),
        pytest.param(lambda s: s.add_tumour_marker("P1", "afp", 1.0, dt.date(2024, 1, 1), unit="IU/mL"), "convert first", id="unit"),
        pytest.param(lambda s: s.add_tumour_marker("P1", "afp", -1.0, dt.date(2024, 1, 1)), "finite and >= 0", id="negative"),
        pytest.param(lambda s: s.add_tumour_marker("P1", "afp", float("nan"), dt.date(2024, 1, 1)), "finite", id="nan"),
        pytest.param(lambda s: s.add_tumour_marker("P1", "afp", 1.0), "no date", id="no-date"),
    ],
)
def test_treatment_marker_errors(store: Store, call, match: str) -> None:  # type: ignore[no-untyped-def]
    store.add_patient("P1")
    with pytest.raises(StoreError, match=match):
        call(store)


def test_shared_lesion_ids_unique(store: Store) -> None:
    store.add_patient("P1")
    les = store.add_lesion("P1", "L1")
    assert les.tracking_uid.startswith("2.25.") and les.owner is None
    with pytest.raises(StoreError, match="already exists"):
        store.add_lesion("P1", "L1")
    with pytest.raises(StoreError, match="already used"):
        store.add_lesion("P1", "L2", tracking_uid=les.tracking_uid)

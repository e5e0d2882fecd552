"""A store written by schema v1 (built here with raw SQL, as the first release wrote it) opens
in the current version with every row intact, the audit chain continued, and the new
features usable."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from hcc_imaging.study import ReaderSession, Store
from hcc_imaging.study.audit import canonical_changes, row_hash
from hcc_imaging.study.constants import AUDIT_GENESIS_HASH, SCHEMA_VERSION

V1_DDL = """
CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at VARCHAR(40));
CREATE TABLE readers (id INTEGER NOT NULL PRIMARY KEY, reader_id VARCHAR(64) NOT NULL UNIQUE,
  role VARCHAR(16) NOT NULL, created_at VARCHAR(40));
CREATE TABLE patients (id INTEGER NOT NULL PRIMARY KEY, patient_id VARCHAR(64) NOT NULL UNIQUE, created_at VARCHAR(40));
CREATE TABLE studies (id INTEGER NOT NULL PRIMARY KEY, study_instance_uid VARCHAR(64) NOT NULL UNIQUE,
  patient_fk INTEGER NOT NULL REFERENCES patients (id) ON DELETE RESTRICT, study_date DATE, modality VARCHAR(8));
CREATE TABLE series (id INTEGER NOT NULL PRIMARY KEY, series_instance_uid VARCHAR(64) NOT NULL UNIQUE,
  study_fk INTEGER NOT NULL REFERENCES studies (id) ON DELETE RESTRICT, phase VARCHAR(32), modality VARCHAR(8));
CREATE TABLE timepoints (id INTEGER NOT NULL PRIMARY KEY, patient_fk INTEGER NOT NULL REFERENCES patients (id),
  timepoint_id VARCHAR(64) NOT NULL, "key" VARCHAR(140) NOT NULL UNIQUE, date DATE, day_offset INTEGER,
  study_fk INTEGER REFERENCES studies (id), CONSTRAINT uq_timepoint_patient UNIQUE (patient_fk, timepoint_id));
CREATE TABLE lesions (id INTEGER NOT NULL PRIMARY KEY, tracking_uid VARCHAR(64) NOT NULL UNIQUE,
  patient_fk INTEGER NOT NULL REFERENCES patients (id), lesion_id VARCHAR(64) NOT NULL, organ VARCHAR(64),
  is_lymph_node BOOLEAN NOT NULL, kind VARCHAR(32), owner_reader_fk INTEGER REFERENCES readers (id), created_at VARCHAR(40));
CREATE TABLE reads (id INTEGER NOT NULL PRIMARY KEY, read_uid VARCHAR(64) NOT NULL UNIQUE,
  reader_fk INTEGER NOT NULL REFERENCES readers (id), patient_fk INTEGER NOT NULL REFERENCES patients (id),
  status VARCHAR(16) NOT NULL, criteria VARCHAR(200) NOT NULL, created_at VARCHAR(40), locked_at VARCHAR(40));
CREATE TABLE read_timepoints (read_fk INTEGER NOT NULL REFERENCES reads (id) ON DELETE CASCADE,
  timepoint_fk INTEGER NOT NULL REFERENCES timepoints (id), "key" VARCHAR(200) NOT NULL, PRIMARY KEY (read_fk, timepoint_fk));
CREATE TABLE measurements (id INTEGER NOT NULL PRIMARY KEY, measurement_uid VARCHAR(64) NOT NULL UNIQUE,
  read_fk INTEGER NOT NULL REFERENCES reads (id), lesion_fk INTEGER NOT NULL REFERENCES lesions (id),
  timepoint_fk INTEGER NOT NULL REFERENCES timepoints (id), role VARCHAR(16) NOT NULL, status VARCHAR(32) NOT NULL,
  longest_diameter_mm FLOAT, short_axis_mm FLOAT, viable_diameter_mm FLOAT, viable_short_axis_mm FLOAT, volume_mm3 FLOAT,
  endpoints_json TEXT NOT NULL, source_kind VARCHAR(16) NOT NULL, algorithm_name VARCHAR(128), algorithm_version VARCHAR(64),
  parameters_json TEXT NOT NULL, updated_at VARCHAR(40), CONSTRAINT uq_measurement UNIQUE (read_fk, lesion_fk, timepoint_fk));
CREATE TABLE audit_log (seq INTEGER NOT NULL PRIMARY KEY, ts VARCHAR(40) NOT NULL, actor VARCHAR(80) NOT NULL,
  action VARCHAR(16) NOT NULL, entity VARCHAR(40) NOT NULL, entity_key VARCHAR(240) NOT NULL, changes TEXT NOT NULL,
  prev_hash VARCHAR(64) NOT NULL, row_hash VARCHAR(64) NOT NULL);
CREATE TABLE audit_head (id INTEGER NOT NULL PRIMARY KEY, last_seq INTEGER NOT NULL, last_hash VARCHAR(64) NOT NULL);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""

TRACK_UID = "2.25.1111"
READ_UID = "2.25.2222"


def _make_v1(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(V1_DDL)
    ts = "2024-01-01T00:00:00.000000+00:00"
    con.execute("INSERT INTO schema_version VALUES (1, ?)", (ts,))
    con.execute("INSERT INTO readers VALUES (1, 'R1', 'reader', ?)", (ts,))
    con.execute("INSERT INTO patients VALUES (1, 'P001', ?)", (ts,))
    con.execute("INSERT INTO timepoints VALUES (1, 1, 'BL', 'P001/BL', '2024-01-10', 0, NULL)")
    con.execute("INSERT INTO timepoints VALUES (2, 1, 'FU1', 'P001/FU1', '2024-03-10', 60, NULL)")
    con.execute("INSERT INTO lesions VALUES (1, ?, 1, 'L1', 'liver', 0, NULL, 1, ?)", (TRACK_UID, ts))
    con.execute("INSERT INTO reads VALUES (1, ?, 1, 1, 'draft', 'RECIST1.1', ?, NULL)", (READ_UID, ts))
    con.execute("INSERT INTO read_timepoints VALUES (1, 1, ?), (1, 2, ?)", (f"{READ_UID}/BL", f"{READ_UID}/FU1"))
    eps = '{"long":[[0.0,0.0,0.0],[42.5,0.0,0.0]]}'
    con.execute("INSERT INTO measurements VALUES (1, '2.25.31', 1, 1, 1, 'target', 'measured', 42.5, 30.0, 40.0, NULL, 9000.0,"
                " ?, 'manual_line', NULL, NULL, '{}', ?)", (eps, ts))
    con.execute("INSERT INTO measurements VALUES (2, '2.25.32', 1, 1, 2, 'target', 'measured', 28.0, 20.0, NULL, NULL, NULL,"
                " '{}', 'algorithm', 'seeded-lesion', '0.1', '{\"threshold_hu\":100}', ?)", (ts,))
    prev = AUDIT_GENESIS_HASH
    # a v1 store's log starts with its creation row, as every store's does
    for seq, (actor, action, entity, key) in enumerate([
            ("system:migrate", "migrate", "schema_version", "1"), ("system:admin", "create", "readers", "R1"),
            ("system:admin", "create", "patients", "P001"), ("system:admin", "create", "reads", READ_UID)], start=1):
        ch = canonical_changes({"created": (None, key)})
        h = row_hash(seq, ts, actor, action, entity, key, ch, prev)
        con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (seq, ts, actor, action, entity, key, ch, prev, h))
        prev = h
    con.execute("INSERT INTO audit_head VALUES (1, 4, ?)", (prev,))
    con.commit()
    con.close()


def test_v1_store_opens_with_data_intact(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    _make_v1(path)
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [p.patient_id for p in store.patients()] == ["P001"]
        assert [(t.timepoint_id, t.date, t.day_offset) for t in store.timepoints("P001")] == [
            ("BL", dt.date(2024, 1, 10), 0), ("FU1", dt.date(2024, 3, 10), 60)]
        r1 = ReaderSession(store, "R1")
        (read,) = r1.reads()
        assert read.read_uid == READ_UID and read.status == "draft" and read.criteria == ("RECIST1.1",)
        ms = {m.timepoint_id: m for m in r1.measurements(READ_UID)}
        assert ms["BL"].longest_diameter_mm == 42.5 and ms["BL"].short_axis_mm == 30.0
        assert ms["BL"].endpoints_lps == {"long": ((0.0, 0.0, 0.0), (42.5, 0.0, 0.0))}
        assert ms["BL"].viable_volume_mm3 is None  # v2 column, NULL for old rows
        assert ms["FU1"].source_kind == "algorithm" and ms["FU1"].parameters == {"threshold_hu": 100}
        assert ms["BL"].tracking_uid == ms["FU1"].tracking_uid == TRACK_UID
        # audit chain continued across the migration (old rows + a 'migrate' row per step), still valid
        report = store.audit_verify()
        assert report.n_rows == 4 + SCHEMA_VERSION - 1
        steps = [e.changes["version"] for e in store.audit_entries()[4:]]
        assert steps == [(v - 1, v) for v in range(2, SCHEMA_VERSION + 1)]
        assert all(e.action == "migrate" for e in store.audit_entries()[4:])
        # v2 features work on migrated data
        r1.record_measurement(READ_UID, "FU1", "L1", longest_diameter_mm=27.0, necrosis_fraction=0.4)
        store.add_tumour_marker("P001", "afp", 12.0, dt.date(2024, 3, 10))
        doc = r1.export_document(READ_UID)
        assert doc.timepoint("FU1").lesion("L1").necrosis_fraction == pytest.approx(0.4)
        store.audit_verify()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))

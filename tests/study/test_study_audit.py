"""The audit log: every create/update/lock is logged in the change's transaction, the chain
verifies, and tampering (edit, delete, reorder, truncate) is detected."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from hcc_imaging.errors import AuditIntegrityError, BlindingError, StoreError
from hcc_imaging.study import ReaderSession, Store


def _db_path(store: Store) -> Path:
    return Path(store.url.removeprefix("sqlite:///"))


def _raw(store: Store) -> sqlite3.Connection:
    con = sqlite3.connect(_db_path(store))
    con.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    con.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return con


@pytest.fixture
def audited(populated: Store, assessor) -> Store:  # type: ignore[no-untyped-def]
    r1 = ReaderSession(populated, "R1")
    r1.add_lesion("P001", "L1")
    read = r1.start_read("P001", ["BL", "FU1"], "RECIST1.1")
    r1.record_measurement(read.read_uid, "BL", "L1", longest_diameter_mm=40.0)
    r1.record_measurement(read.read_uid, "FU1", "L1", longest_diameter_mm=25.0)
    r1.record_measurement(read.read_uid, "FU1", "L1", longest_diameter_mm=26.0)
    r1.lock(read.read_uid, assessor=assessor)
    return populated


def test_every_change_is_logged_with_old_and_new(audited: Store) -> None:
    entries = audited.audit_entries()
    actions = [(e.actor, e.action, e.entity) for e in entries]
    assert ("system:admin", "create", "patients") in actions
    assert ("R1", "create", "reads") in actions
    assert ("R1", "lock", "reads") in actions
    full = audited.audit_entries(adjudicator_id="ADJ")
    updates = [e for e in full if e.action == "update" and e.entity == "measurements"]
    assert len(updates) == 1
    assert updates[0].changes["longest_diameter_mm"] == (25.0, 26.0)
    lock = next(e for e in full if e.action == "lock")
    assert lock.changes["status"] == ("draft", "locked")
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert audited.audit_verify().ok


def test_failed_write_leaves_no_audit_row(populated: Store) -> None:
    n = len(populated.audit_entries())
    with pytest.raises(StoreError):
        populated.add_patient("P001")
    r1 = ReaderSession(populated, "R1")
    with pytest.raises(StoreError):
        r1.start_read("P001", ["BL", "NOPE"])
    assert len(populated.audit_entries()) == n
    assert r1.reads() == []


def test_triggers_make_the_log_append_only(audited: Store) -> None:
    with audited.engine.connect() as conn:
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 2"))
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    assert audited.audit_verify().ok


@pytest.mark.parametrize(
    "sql, match",
    [
        pytest.param(["UPDATE audit_log SET changes = replace(changes, '26.0', '20.0') WHERE action = 'update'"],
                     "content does not match its hash", id="edited-value"),
        pytest.param(["UPDATE audit_log SET actor = 'R2' WHERE seq = 3"], "content does not match its hash", id="edited-actor"),
        pytest.param(["DELETE FROM audit_log WHERE seq = 4"], "expected seq 4", id="deleted-row"),
        pytest.param(["UPDATE audit_log SET seq = -1 WHERE seq = 3", "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                      "UPDATE audit_log SET seq = 4 WHERE seq = -1"], "prev_hash does not match", id="reordered-rows"),
        pytest.param(["DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"], "audit_head says",
                     id="truncated-tail"),
    ],
)
def test_tampering_is_detected(audited: Store, sql: list[str], match: str) -> None:
    con = _raw(audited)
    for stmt in sql:
        con.execute(stmt)
    con.commit()
    con.close()
    report = audited.audit_verify(raise_on_error=False)
    assert not report.ok
    assert any(match in p for p in report.problems), report.problems
    with pytest.raises(AuditIntegrityError, match="does not verify"):
        audited.audit_verify()


def test_rehashed_forgery_breaks_the_next_link(audited: Store) -> None:
    """Recomputing the edited row's own hash is not enough: the next row's prev_hash breaks."""
    from hcc_imaging.study.audit import row_hash

    con = _raw(audited)
    seq, ts, actor, action, entity, key, changes, prev = con.execute(
        "SELECT seq, ts, actor, action, entity, entity_key, changes, prev_hash FROM audit_log WHERE seq = 3").fetchone()
    forged = row_hash(seq, ts, "R2", action, entity, key, changes, prev)
    con.execute("UPDATE audit_log SET actor = 'R2', row_hash = ? WHERE seq = 3", (forged,))
    con.commit()
    con.close()
    report = audited.audit_verify(raise_on_error=False)
    assert any("row seq 4: prev_hash" in p for p in report.problems)


def test_log_holds_pseudonymous_ids_only(store: Store) -> None:
    store.add_patient("HCC-0042")
    with pytest.raises(StoreError):
        store.add_patient("DOE^JANE")
    store.add_timepoint("HCC-0042", "BL", dt.date(2024, 1, 1))
    dump = "\n".join(f"{e.actor} {e.entity_key} {dict(e.changes)}" for e in store.audit_entries())
    assert "HCC-0042" in dump
    assert "DOE" not in dump and "JANE" not in dump


def test_audit_values_of_reader_data_are_blinded(audited: Store) -> None:
    blinded = audited.audit_entries()
    upd = next(e for e in blinded if e.action == "update" and e.entity == "measurements")
    assert upd.blinded and upd.changes == {} and upd.row_hash == "<blinded>"
    text_ = repr([e.changes for e in blinded if e.entity in ("measurements", "read_responses")])
    assert "26.0" not in text_ and "PR" not in text_
    # shared data stays readable
    pat = next(e for e in blinded if e.entity == "patients")
    assert pat.changes["patient_id"] == (None, "P001")
    with pytest.raises(BlindingError, match="not an adjudicator"):
        audited.audit_entries(adjudicator_id="R2")


def test_blinded_audit_rows_do_not_name_the_changed_columns(populated: Store, assessor) -> None:  # type: ignore[no-untyped-def]
    """Which columns a reader-private row sets is itself a result (an overall response row sets
    pd_date / pd_day_offset / pd_timepoint_id only when the read reached PD; a measurement row
    names the fields recorded), and the hash of a few possible values can be brute-forced: a
    caller without entitlement sees neither."""
    uids = {}
    for reader, fu in (("R1", 30.0), ("R2", 90.0)):  # R1: PR, no PD; R2: PD at FU1
        sess = ReaderSession(populated, reader)
        sess.add_lesion("P001", "L1")
        read = sess.start_read("P001", ["BL", "FU1"], "RECIST1.1")
        sess.record_measurement(read.read_uid, "BL", "L1", longest_diameter_mm=50.0)
        sess.record_measurement(read.read_uid, "FU1", "L1", longest_diameter_mm=fu, short_axis_mm=fu / 2)
        sess.lock(read.read_uid, assessor=assessor)
        uids[reader] = read.read_uid
    full = populated.audit_entries(adjudicator_id="ADJ")
    overall = {e.actor: e for e in full if e.entity == "read_responses" and e.entity_key.endswith("/overall")}
    assert "pd_day_offset" in overall["R2"].changes and "pd_day_offset" not in overall["R1"].changes  # what leaked
    blinded = populated.audit_entries()
    private = [e for e in blinded if e.entity in ("reads", "read_timepoints", "measurements", "read_responses", "lesions")]
    assert private and all(e.changes == {} and e.row_hash == "<blinded>" and e.blinded for e in private)
    dump = repr(blinded)
    for leak in ("pd_", "short_axis_mm", "longest_diameter_mm", "category", "content_sha256", *(e.row_hash for e in private)):
        assert leak not in dump.replace("<blinded>", ""), leak
    # the row after a blinded one does not carry its hash as prev_hash either
    after = [blinded[i + 1] for i, e in enumerate(blinded[:-1]) if e.blinded]
    assert after and all(e.prev_hash == "<blinded>" for e in after)
    # who did what to which row when stays visible; shared rows keep their values and hashes
    assert [(e.actor, e.action) for e in blinded if e.entity == "reads" and e.action == "lock"] == [("R1", "lock"), ("R2", "lock")]
    pat = next(e for e in blinded if e.entity == "patients")
    assert pat.changes["patient_id"] == (None, "P001") and not pat.blinded and len(pat.row_hash) == 64
    assert populated.audit_verify().ok  # verification works on the full stored rows


def test_wiped_log_is_reported_and_not_restarted(audited: Store) -> None:
    """Emptying audit_log and audit_head while the data stays is a truncated log, not 'OK (0 rows)';
    a later write must not restart the chain at seq 1 (which would verify again)."""
    con = _raw(audited)
    con.execute("DELETE FROM audit_log")
    con.execute("DELETE FROM audit_head")
    con.commit()
    con.close()
    report = audited.audit_verify(raise_on_error=False)
    assert not report.ok
    assert any("audit log is empty" in p for p in report.problems), report.problems
    assert any("audit_head row is missing" in p for p in report.problems), report.problems
    with pytest.raises(StoreError, match="no head row"):
        audited.add_patient("P777")
    assert not audited.audit_verify(raise_on_error=False).ok


def test_restarted_chain_is_reported(audited: Store) -> None:
    """A chain restarted at seq 1 after a wipe (as older versions wrote it) does not start with the
    store's creation row."""
    from hcc_imaging.study.audit import append_entries

    con = _raw(audited)
    con.execute("DELETE FROM audit_log")
    con.execute("DELETE FROM audit_head")
    con.commit()
    con.close()
    with audited._write_engine.begin() as conn:
        append_entries(conn, "system:admin", [("create", "patients", "P777", {"patient_id": (None, "P777")})], genesis=True)
    report = audited.audit_verify(raise_on_error=False)
    assert not report.ok
    assert any("does not start with the store's creation row" in p for p in report.problems), report.problems


def test_adjudication_reason_message_names_the_minimum_length(populated: Store) -> None:
    from hcc_imaging.study import AdjudicatorSession

    adj = AdjudicatorSession(populated, "ADJ")
    with pytest.raises(StoreError, match="at least 3 characters"):
        adj.adjudicate("P001", "RECIST1.1", "bor", "2.25.1", "x")


def test_adjudicator_audit_log_blinds_drafts_and_own_patients(audited: Store) -> None:
    """An adjudicator sees audit values only of locked reads, never of a draft and never of a
    patient they have a read of (as AdjudicatorSession)."""
    r2 = ReaderSession(audited, "R2")
    r2.add_lesion("P001", "L1")
    draft = r2.start_read("P001", ["BL"], "RECIST1.1")
    r2.record_measurement(draft.read_uid, "BL", "L1", longest_diameter_mm=77.7)
    full = audited.audit_entries(adjudicator_id="ADJ")
    assert "77.7" not in repr([e.changes for e in full])
    upd = next(e for e in full if e.action == "update" and e.entity == "measurements")
    assert upd.changes["longest_diameter_mm"] == (25.0, 26.0)  # the locked read stays visible
    # an adjudicator with a read of P001 sees none of P001's reader values
    audited.add_reader("ADJ2", "adjudicator")
    ReaderSession(audited, "ADJ2").start_read("P001", ["BL"], "RECIST1.1")
    own = audited.audit_entries(adjudicator_id="ADJ2")
    assert "26.0" not in repr([e.changes for e in own if e.entity in ("measurements", "read_responses")])


# --- locked reads are sealed: their content is checked against the digest written at lock -------
@pytest.mark.parametrize(
    ("sql", "what"),
    [
        pytest.param("UPDATE measurements SET longest_diameter_mm = 20.0 WHERE longest_diameter_mm = 26.0", "value",
                     id="measurement-value"),
        pytest.param("UPDATE measurements SET role = 'non_target'", "role", id="measurement-role"),
        pytest.param("UPDATE read_responses SET category = 'CR' WHERE category NOT IN ('baseline', 'CR')", "response",
                     id="stored-response"),
        pytest.param("UPDATE reads SET criteria = 'mRECIST'", "criteria", id="read-row"),
        pytest.param("DELETE FROM read_responses WHERE key LIKE '%/overall'", "BOR row", id="response-deleted"),
    ],
)
def test_sql_edit_of_a_locked_read_is_detected(audited: Store, sql: str, what: str) -> None:
    """A direct SQL edit of a locked read's rows verified OK: the chain logs changes made through
    the store only (documented limit until now)."""
    before = audited.audit_verify(raise_on_error=False)
    assert before.ok and before.n_sealed_reads == 1
    con = sqlite3.connect(_db_path(audited))  # the audit triggers stay: only the read's rows change
    n = con.execute(sql).rowcount
    con.commit()
    con.close()
    assert n >= 1, f"the {what} edit changed no row"
    report = audited.audit_verify(raise_on_error=False)
    assert not report.ok
    assert any("differ from what was sealed at lock" in p for p in report.problems), report.problems
    with pytest.raises(AuditIntegrityError):
        audited.audit_verify()


def test_status_flipped_to_locked_in_sql_is_detected(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    r1.add_lesion("P001", "L1")
    read = r1.start_read("P001", ["BL"], "RECIST1.1")
    r1.record_measurement(read.read_uid, "BL", "L1", longest_diameter_mm=40.0)
    assert populated.audit_verify(raise_on_error=False).ok
    con = sqlite3.connect(_db_path(populated))
    con.execute("UPDATE reads SET status = 'locked'")
    con.commit()
    con.close()
    report = populated.audit_verify(raise_on_error=False)
    assert any("no lock row" in p for p in report.problems), report.problems


def test_work_after_a_lock_keeps_the_seal(audited: Store, assessor) -> None:  # type: ignore[no-untyped-def]
    """What others do after R1's lock (R2 reads and locks the patient, markers, a new time point)
    changes none of R1's locked read: both seals verify."""
    r2 = ReaderSession(audited, "R2")
    r2.add_lesion("P001", "L1")
    read = r2.start_read("P001", ["BL", "FU1"], "RECIST1.1")
    r2.record_measurement(read.read_uid, "BL", "L1", longest_diameter_mm=41.0)
    r2.record_measurement(read.read_uid, "FU1", "L1", longest_diameter_mm=30.0)
    r2.lock(read.read_uid, assessor=assessor)
    audited.add_timepoint("P001", "FU3", dt.date(2024, 7, 10))
    report = audited.audit_verify(raise_on_error=False)
    assert report.ok, report.problems
    assert report.n_sealed_reads == 2


# --- every row against the log's last recorded state; unlocked reads ---------------------------
def _sql(store: Store, *stmts: str) -> None:
    con = sqlite3.connect(_db_path(store))  # the audit triggers stay: only data rows change
    for stmt in stmts:
        assert con.execute(stmt).rowcount >= 1, stmt
    con.commit()
    con.close()


def test_read_unlocked_in_sql_is_detected_and_cannot_be_relocked(audited: Store, assessor) -> None:  # type: ignore[no-untyped-def]
    """verify checked only the reads locked now: setting a locked read back to draft verified OK,
    the reader could change it, and locking again failed with 'UNIQUE constraint failed'."""
    (uid,) = [r.read_uid for r in ReaderSession(audited, "R1").reads()]
    _sql(audited, f"UPDATE reads SET status = 'draft', locked_at = NULL WHERE read_uid = '{uid}'")
    report = audited.audit_verify(raise_on_error=False)
    assert not report.ok
    assert any(f"read {uid} was locked (log row seq" in p and "status is now 'draft'" in p for p in report.problems), report.problems
    r1 = ReaderSession(audited, "R1")
    r1.record_measurement(uid, "FU1", "L1", longest_diameter_mm=99.0)
    with pytest.raises(StoreError, match="was locked before .* unlocked outside hcc_imaging"):
        r1.lock(uid, assessor=assessor)
    _sql(audited, "DELETE FROM read_responses")  # even without its old responses
    with pytest.raises(StoreError, match="unlocked outside hcc_imaging"):
        r1.lock(uid, assessor=assessor)


@pytest.mark.parametrize(
    ("stmts", "expect"),
    [
        pytest.param(["UPDATE readers SET role = 'adjudicator' WHERE reader_id = 'R1'"],
                     "readers row R1: differs from the last state the audit log recorded (role)", id="T2-role"),
        pytest.param(["UPDATE timepoints SET date = '2024-04-20' WHERE timepoint_id = 'FU1'"],
                     "timepoints row P001/FU1: differs from the last state the audit log recorded (date)", id="T3-date"),
        pytest.param(["UPDATE tumour_markers SET value = 1.0"], "differs from the last state the audit log recorded (value)",
                     id="T3-marker"),
        pytest.param(["DELETE FROM tumour_markers"], "created in the audit log but missing from the store", id="deleted-row"),
        pytest.param(["UPDATE measurements SET longest_diameter_mm = 11.0 WHERE read_fk = (SELECT id FROM reads "
                      "WHERE status = 'draft')"], "differs from the last state the audit log recorded (edited", id="T6-draft"),
        pytest.param(["UPDATE lesions SET patient_fk = (SELECT id FROM patients WHERE patient_id = 'P002')"],
                     "differs from the last state the audit log recorded (edited", id="moved-lesion"),
    ],
)
def test_sql_edit_of_any_logged_row_is_detected(audited: Store, stmts: list[str], expect: str) -> None:
    """Shared rows (roles, time point dates, markers) and draft measurements are outside the
    seal of a locked read; verify now compares every row with the last state the log recorded.
    Rows of reader-private tables are named without their columns (anyone may run verify)."""
    audited.add_patient("P002")
    audited.add_tumour_marker("P001", "afp", 420.0, dt.date(2024, 1, 10))
    r2 = ReaderSession(audited, "R2")
    r2.add_lesion("P001", "L1")
    draft = r2.start_read("P001", ["BL"], "RECIST1.1")
    r2.record_measurement(draft.read_uid, "BL", "L1", longest_diameter_mm=41.0, short_axis_mm=20.0)
    assert audited.audit_verify(raise_on_error=False).ok
    _sql(audited, *stmts)
    report = audited.audit_verify(raise_on_error=False)
    assert not report.ok
    assert any(expect in p for p in report.problems), report.problems
    private = [p for p in report.problems if p.startswith(("measurements", "lesions", "reads", "read_responses"))]
    assert all("(edited outside" in p for p in private), private  # no column names

"""The same store on PostgreSQL: a throw-away server (Debian's postgresql binaries) on
loopback, reached through SQLAlchemy + pg8000.  Skipped when either is missing."""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store


def _pg_bindir() -> str | None:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(cand, "initdb")):
            return cand
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    pytest.importorskip("pg8000", reason="PostgreSQL tests need the pg8000 driver")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
    root = tempfile.mkdtemp(prefix="hcc-pg-")
    os.chmod(root, 0o777)
    data = os.path.join(root, "data")
    port = _free_port()
    subprocess.run([*as_user, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+pg8000://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = Store(pg_url)
    yield store
    with store.engine.begin() as conn:  # fresh schema for the next test
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    store.close()


def test_workflow_on_postgresql(pg_store: Store) -> None:
    s = pg_store
    for r in ("R1", "R2"):
        s.add_reader(r)
    s.add_reader("ADJ", "adjudicator")
    s.add_patient("P001")
    for tp, d in (("BL", dt.date(2024, 1, 10)), ("FU1", dt.date(2024, 3, 10))):
        s.add_timepoint("P001", tp, d)
    s.add_treatment_event("P001", "lenvatinib", dt.date(2024, 1, 15))
    uids = {}
    for reader, fu in (("R1", 20.0), ("R2", 38.0)):
        sess = ReaderSession(s, reader)
        sess.add_lesion("P001", "L1")
        r = sess.start_read("P001", ["BL", "FU1"], "RECIST1.1")
        sess.record_measurement(r.read_uid, "BL", "L1", longest_diameter_mm=40.0,
                                endpoints_lps={"long": [[0.0, 0.0, 0.0], [40.0, 0.0, 0.0]]})
        sess.record_measurement(r.read_uid, "FU1", "L1", longest_diameter_mm=fu)
        sess.lock(r.read_uid)
        uids[reader] = r.read_uid
    assert ReaderSession(s, "R2").reads()[0].read_uid == uids["R2"]
    (d,) = AdjudicatorSession(s, "ADJ").discordances("P001", "RECIST1.1")
    assert {v[1]: v[2] for v in d.values} == {"R1": "PR", "R2": "SD"}
    doc = ReaderSession(s, "R1").export_document(uids["R1"])
    assert doc.timepoint("BL").lesion("L1").endpoints[0].length_mm == pytest.approx(40.0)
    assert s.audit_verify().ok
    assert s.schema_version >= 2
    with s.engine.connect() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 1"))


def test_two_processes_on_postgresql(pg_store: Store, tmp_path: Path) -> None:
    from tests.study.test_study_durability import WRITER as code

    s = pg_store
    s.add_patient("P001")
    s.add_timepoint("P001", "BL", dt.date(2024, 1, 1))
    reads = {}
    for r in ("R1", "R2"):
        s.add_reader(r)
        reads[r] = ReaderSession(s, r).start_read("P001", ["BL"], "RECIST1.1").read_uid
    go = tmp_path / "go"
    n = 15
    procs = {r: subprocess.Popen([sys.executable, "-c", code, s.url, str(tmp_path / f"{r}.txt"), reads[r], r, str(n), "30",
                                  str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in reads}
    time.sleep(0.5)
    go.write_text("go")
    for p in procs.values():
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    for r in reads:
        assert len(ReaderSession(s, r).measurements(reads[r])) == n
    assert s.audit_verify().ok


def test_audit_verify_reads_one_snapshot(pg_store: Store) -> None:
    """``audit verify`` on PostgreSQL read the log and the reads in separate statements of a READ
    COMMITTED transaction (and its three checks in three transactions), so a reader locking a read
    while it ran made it report that read "locked but the log has no lock row for it (status set
    outside hcc_imaging)": a false alarm of tampering.  The lock is committed here, by a second
    store on its own connection, exactly between verify's read of the log and its read of the
    reads' statuses.  Now verify reads one snapshot (REPEATABLE READ): the report is clean, and
    a second verify sees the new lock and its seal."""
    from sqlalchemy import event

    s = pg_store
    s.add_reader("R1")
    s.add_patient("P001")
    s.add_timepoint("P001", "BL", dt.date(2024, 1, 10))
    sess = ReaderSession(s, "R1")
    sess.add_lesion("P001", "L1")
    first = sess.start_read("P001", ["BL"], "RECIST1.1")
    sess.record_measurement(first.read_uid, "BL", "L1", longest_diameter_mm=40.0)
    sess.lock(first.read_uid)  # (seals exist: a later lock without one would be a problem)
    other = Store(s.url)
    late = ReaderSession(other, "R1").start_read("P001", ["BL"], "RECIST1.1")
    ReaderSession(other, "R1").record_measurement(late.read_uid, "BL", "L1", longest_diameter_mm=30.0)
    fired: list[str] = []

    def lock_in_between(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not fired and "FROM reads" in statement and "audit_log" not in statement:
            fired.append(statement)
            ReaderSession(other, "R1").lock(late.read_uid)

    event.listen(s.engine, "before_cursor_execute", lock_in_between)
    try:
        report = s.audit_verify(raise_on_error=False)
    finally:
        event.remove(s.engine, "before_cursor_execute", lock_in_between)
        other.close()
    assert fired, "the concurrent lock was not injected"
    assert report.ok, report.problems
    assert report.n_sealed_reads == 1
    after = s.audit_verify(raise_on_error=False)
    assert after.ok and after.n_sealed_reads == 2

"""An adjudication decides the discordance between the reads it was made on, in its BOR mode.

After a reader locks a revised read, the discordance is between other reads: the old decision
must not be shown as deciding it.  Schema v3 stores the reads and the mode; a record written by
v2 (no such columns) is matched by the reads that were the latest locked ones when it was made.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store
from hcc_imaging.study.constants import SCHEMA_VERSION
from hcc_imaging.study.model import AdjudicationRow, ReadRow
from tests.study._panel import TPS, two_readers_and_adjudicator


def _read(store: Store, reader: str, sizes: tuple[float, float, float]) -> str:
    s = ReaderSession(store, reader)
    if not s.lesions("P1"):
        s.add_lesion("P1", "L1")
    rd = s.start_read("P1", list(TPS), "recist1.1")
    for tp, v in zip(TPS, sizes):
        s.record_measurement(rd.read_uid, tp, "L1", longest_diameter_mm=v)
    s.lock(rd.read_uid)
    return rd.read_uid


def _bor(adj: AdjudicatorSession, confirmed: bool = False):
    (d,) = [d for d in adj.discordances("P1", "recist1.1", confirmed=confirmed) if d.kind.value == "bor"]
    return d


def test_decision_on_earlier_reads_does_not_decide_a_revised_discordance(store: Store) -> None:
    two_readers_and_adjudicator(store)
    r1 = _read(store, "R1", (30.0, 15.0, 15.0))  # PR
    r2 = _read(store, "R2", (30.0, 40.0, 45.0))  # PD
    adj = AdjudicatorSession(store, "ADJ")
    dec = adj.adjudicate("P1", "recist1.1", "bor", r2, "R1 missed growth")
    assert dec.read_uids == tuple(sorted((r1, r2))) and dec.confirmed is False
    assert _bor(adj).adjudication == dec
    r2b = _read(store, "R2", (30.0, 28.0, 29.0))  # R2 revises: SD
    d = _bor(adj)
    assert {v[0] for v in d.values} == {r1, r2b}
    assert d.adjudication is None  # the decision was between r1 and r2, not r2b
    assert [a.adjudication_uid for a in adj.adjudications("P1")] == [dec.adjudication_uid]
    assert store.audit_verify().ok


def test_decision_holds_for_its_bor_mode_only(store: Store) -> None:
    two_readers_and_adjudicator(store)
    _read(store, "R1", (30.0, 15.0, 15.0))  # PR, confirmed 60 days later: PR in both modes
    r2 = _read(store, "R2", (30.0, 40.0, 45.0))  # PD in both modes
    adj = AdjudicatorSession(store, "ADJ")
    dec = adj.adjudicate("P1", "recist1.1", "bor", r2, "without confirmation", confirmed=False)
    assert _bor(adj).adjudication == dec
    assert _bor(adj, confirmed=True).adjudication is None
    dec_c = adj.adjudicate("P1", "recist1.1", "bor", r2, "with confirmation", confirmed=True)
    assert _bor(adj, confirmed=True).adjudication == dec_c
    assert _bor(adj).adjudication == dec


# ------------------------------------------------------------------ v2 -> v3 migration
def _legacy_adjudication(store: Store, chosen: str, kind: str = "bor") -> None:
    """An adjudication as schema v2 wrote it (no read_uids / confirmed), audited as v2 did."""
    def fn(s):
        row = AdjudicationRow(adjudication_uid=f"2.25.77{len(kind)}", patient_fk=Store._patient(s, "P1").id,
                              adjudicator_fk=Store._reader(s, "ADJ").id, criteria="RECIST1.1", discordance=kind,
                              chosen_read_fk=s.query(ReadRow).filter_by(read_uid=chosen).one().id,
                              reason="decided under v2")
        s.add(row)
        s.flush()

    store._write("ADJ", fn)


def _downgrade_to_v2(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE adjudications DROP COLUMN read_uids")
    con.execute("ALTER TABLE adjudications DROP COLUMN confirmed")
    con.execute("DELETE FROM schema_version")
    con.execute("INSERT INTO schema_version VALUES (2, '2024-01-01T00:00:00.000000+00:00')")
    con.commit()
    con.close()


def _v2_store(tmp_path: Path, r1_sizes, r2_sizes) -> tuple[Path, str, str]:
    path = tmp_path / "v2.sqlite"
    store = Store(path)
    two_readers_and_adjudicator(store)
    r1 = _read(store, "R1", r1_sizes)
    r2 = _read(store, "R2", r2_sizes)
    _legacy_adjudication(store, r2)
    _legacy_adjudication(store, r2, kind="pd_date")
    store.close()
    _downgrade_to_v2(path)
    return path, r1, r2


def test_v2_store_migrates_and_old_decisions_stay_readable(tmp_path: Path) -> None:
    # R1: PR at FU1, not confirmed (SD at FU2: +4 mm is below the 5 mm floor): PR / SD.
    # R2: SD / SD.  The BOR differs without confirmation only.
    path, r1, r2 = _v2_store(tmp_path, (30.0, 20.0, 24.0), (30.0, 28.0, 29.0))
    store = Store(path)
    try:
        con = sqlite3.connect(path)
        assert max(v for (v,) in con.execute("SELECT version FROM schema_version")) == SCHEMA_VERSION == 3
        assert {"read_uids", "confirmed"} <= {c[1] for c in con.execute("PRAGMA table_info(adjudications)")}
        con.close()
        adj = AdjudicatorSession(store, "ADJ")
        old = {a.discordance: a for a in adj.adjudications("P1")}
        assert old["bor"].read_uids is None and old["bor"].confirmed is None
        assert old["bor"].chosen_read_uid == r2 and old["bor"].reason == "decided under v2"
        assert [d.kind.value for d in adj.discordances("P1", "recist1.1", confirmed=True)] == []
        # its reads are inferred (the latest locked ones when it was made), its mode from the
        # one mode whose BOR differs: it still decides
        assert _bor(adj).adjudication == old["bor"]
        _read(store, "R2", (30.0, 27.0, 28.0))  # a revised read after the old decision
        assert _bor(adj).adjudication is None
        assert store.audit_verify().ok
    finally:
        store.close()


def test_v2_decisions_pd_date_by_reads_and_bor_of_unknown_mode(tmp_path: Path) -> None:
    # R1 PR in both modes, R2 PD in both modes (PD at FU1 vs no PD)
    path, r1, r2 = _v2_store(tmp_path, (30.0, 15.0, 15.0), (30.0, 40.0, 45.0))
    store = Store(path)
    try:
        adj = AdjudicatorSession(store, "ADJ")
        old = {a.discordance: a for a in adj.adjudications("P1")}
        ds = {d.kind.value: d for d in adj.discordances("P1", "recist1.1")}
        assert ds["pd_date"].adjudication == old["pd_date"]
        # the BOR differs in both modes: the old record's mode is unknown, it decides neither
        assert ds["bor"].adjudication is None and _bor(adj, confirmed=True).adjudication is None
        _read(store, "R1", (30.0, 40.0, 45.0))  # R1 revises: PD at FU1 too
        assert adj.discordances("P1", "recist1.1") == []
        _read(store, "R1", (30.0, 30.0, 45.0))  # and again: PD at FU2
        ds = {d.kind.value: d for d in adj.discordances("P1", "recist1.1")}
        assert ds["pd_date"].adjudication is None  # FU2 vs FU1, between other reads
        assert store.audit_verify().ok
    finally:
        store.close()

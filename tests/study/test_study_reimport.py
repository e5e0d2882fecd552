"""Importing a read that is already locked in the store (a script run twice) changes nothing.

Only a *revised* read reopens an adjudicated discordance (docs/study.md); before 2026-12-06 an
identical ``import-read --lock`` created a second locked read and reopened the decision.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hcc_imaging.cli import main
from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store
from hcc_imaging.study.model import ReadRow
from tests.study._panel import TPS, two_readers_and_adjudicator


def _setup(store: Store) -> tuple[str, str, object]:
    two_readers_and_adjudicator(store)
    uids = []
    for reader, sizes in (("R1", (30.0, 15.0, 15.0)), ("R2", (30.0, 40.0, 45.0))):  # PR vs PD
        s = ReaderSession(store, reader)
        s.add_lesion("P1", "L1")
        rd = s.start_read("P1", list(TPS), "recist1.1")
        for tp, v in zip(TPS, sizes, strict=True):
            s.record_measurement(rd.read_uid, tp, "L1", longest_diameter_mm=v)
        s.lock(rd.read_uid)
        uids.append(rd.read_uid)
    dec = AdjudicatorSession(store, "ADJ").adjudicate("P1", "recist1.1", "bor", uids[1], "R1 missed growth")
    return uids[0], uids[1], dec


def _n_reads(store: Store) -> int:
    return store._read(lambda s: s.scalar(select(func.count()).select_from(ReadRow)))


def _bor(store: Store):  # type: ignore[no-untyped-def]
    (d,) = [d for d in AdjudicatorSession(store, "ADJ").discordances("P1", "recist1.1") if d.kind.value == "bor"]
    return d


def _as_file(doc: dict, tmp_path: Path, drop_tracking: bool) -> Path:  # type: ignore[type-arg]
    if drop_tracking:  # as a hand-written or batch read document: no tracking UIDs
        for t in doc["timepoints"]:
            for les in t["lesions"]:
                les.pop("tracking_uid", None)
    import json

    p = tmp_path / "r1.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("drop_tracking", [False, True])
def test_reimporting_the_locked_read_is_a_no_op_and_keeps_the_adjudication(
        store: Store, tmp_path: Path, drop_tracking: bool) -> None:
    r1, _, dec = _setup(store)
    doc = ReaderSession(store, "R1").export_document(r1).to_json()
    n = _n_reads(store)
    again = ReaderSession(store, "R1").import_document(_as_file(doc, tmp_path, drop_tracking), lock=True)
    assert again.read_uid == r1 and again.unchanged is True
    assert _n_reads(store) == n
    assert _bor(store).adjudication == dec  # not reopened
    assert store.audit_verify().ok


def test_a_revised_read_still_reopens_the_adjudication(store: Store, tmp_path: Path) -> None:
    r1, _, dec = _setup(store)
    doc = ReaderSession(store, "R1").export_document(r1).to_json()
    doc["timepoints"][2]["lesions"][0]["longest_diameter_mm"] = 16.0
    new = ReaderSession(store, "R1").import_document(_as_file(doc, tmp_path, True), lock=True)
    assert new.read_uid != r1 and new.unchanged is False
    d = _bor(store)
    assert new.read_uid in {v[0] for v in d.values} and d.adjudication is None
    assert [a.adjudication_uid for a in AdjudicatorSession(store, "ADJ").adjudications("P1")] == [dec.adjudication_uid]


def test_cli_import_read_twice_says_unchanged(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r1, _, dec = _setup(store)
    path = _as_file(ReaderSession(store, "R1").export_document(r1).to_json(), tmp_path, True)
    n = _n_reads(store)
    db = str(tmp_path / "study.sqlite")
    assert main(["study", "import-read", str(path), "--reader", "R1", "--lock", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "already in the store, unchanged" in out and r1 in out
    assert _n_reads(store) == n and _bor(store).adjudication == dec

"""The PD-date discordance compares the scan of the first PD, not per-read day numbers.

Day numbers are per read (docs/study.md): two readers with different ``start_date`` give the same
scan different days, and different scans can get the same day.
"""

from __future__ import annotations

from typing import Any

from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store


def _doc(reader: str, start: str, sizes: list[float], dates: list[str]) -> dict[str, Any]:
    ids = ["BL"] + [f"FU{i}" for i in range(1, len(sizes))]
    return {"schema_version": "1.0", "patient_id": "P1", "reader_id": reader,
            "criteria": ["RECIST1.1"], "start_date": start,
            "timepoints": [{"id": tid, "date": d, "lesions": [
                {"lesion_id": "L1", "role": "target", "longest_diameter_mm": ld}]}
                for tid, d, ld in zip(ids, dates, sizes)]}


def _pd_discordance(store: Store, r1: dict[str, Any], r2: dict[str, Any]):
    for r in ("R1", "R2"):
        store.add_reader(r)
    store.add_reader("ADJ", role="adjudicator")
    ReaderSession(store, "R1").import_document(r1, lock=True)
    ReaderSession(store, "R2").import_document(r2, lock=True)
    ds = AdjudicatorSession(store, "ADJ").discordances("P1", "recist1.1")
    return [d for d in ds if d.kind.value == "pd_date"]


def test_same_scan_different_start_dates_is_no_pd_discordance(store: Store) -> None:
    dates = ["2024-01-01", "2024-03-01"]
    got = _pd_discordance(store, _doc("R1", "2024-01-01", [30.0, 45.0], dates),
                          _doc("R2", "2024-01-08", [30.0, 45.0], dates))
    assert got == []  # day 60 vs day 53, one scan (FU1, 2024-03-01)


def test_different_scans_with_equal_day_numbers_is_a_pd_discordance(store: Store) -> None:
    dates = ["2023-12-28", "2024-03-01", "2024-03-08"]
    (d,) = _pd_discordance(store, _doc("R1", "2024-01-01", [30.0, 45.0, 46.0], dates),
                           _doc("R2", "2024-01-08", [30.0, 33.0, 45.0], dates))
    # both are "day 60" of their own read, at FU1 and FU2
    assert {v[1]: v[2] for v in d.values} == {
        "R1": "FU1 2024-03-01 (day 60 of this read)", "R2": "FU2 2024-03-08 (day 60 of this read)"}

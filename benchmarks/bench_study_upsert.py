"""Single-measurement upsert cost: hcc_imaging ReaderSession.record_measurement (validation,
ownership checks, audit row, BEGIN IMMEDIATE, synchronous=FULL) vs the peer: a bare sqlite3
INSERT OR REPLACE of one row + commit with the same pragmas (WAL, FULL), in the same run.

Both must end with one row holding the last value written, and the store's audit chain must
verify; else the script prints MISMATCH and exits with 1.

Usage: ``python benchmarks/bench_study_upsert.py [--upserts 200]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hcc_imaging, not the installed one


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.study import ReaderSession, Store

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upserts", type=int, default=200, help="upserts of the same measurement, each way (default 200)")
    args = ap.parse_args(argv)
    n = args.upserts
    d = tempfile.mkdtemp()
    s = Store(os.path.join(d, "b.sqlite"))
    s.add_reader("R1"); s.add_patient("P1"); s.add_timepoint("P1", "BL", dt.date(2024, 1, 1))  # noqa: E702
    r = ReaderSession(s, "R1"); r.add_lesion("P1", "L1")  # noqa: E702
    uid = r.start_read("P1", ["BL"], "recist1.1").read_uid
    t = time.perf_counter()
    for i in range(n):
        r.record_measurement(uid, "BL", "L1", longest_diameter_mm=10.0 + i * 0.1,
                             endpoints_lps={"long": [[0, 0, 0], [10 + i * 0.1, 0, 0]]})
    ours = (time.perf_counter() - t) / n
    con = sqlite3.connect(os.path.join(d, "peer.sqlite"), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=FULL")  # noqa: E702
    con.execute("CREATE TABLE m (k TEXT PRIMARY KEY, ld REAL, eps TEXT)")
    t = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT OR REPLACE INTO m VALUES ('L1', ?, ?)", (10.0 + i * 0.1, json.dumps({"long": [[0, 0, 0], [10 + i * 0.1, 0, 0]]})))
        con.execute("COMMIT")
    peer = (time.perf_counter() - t) / n
    print(f"record_measurement: {ours*1e3:.2f} ms/upsert; bare sqlite3 upsert+commit: {peer*1e3:.2f} ms; ratio {ours/peer:.1f}x")
    report = s.audit_verify(raise_on_error=False)
    print("audit rows:", len(s.audit_entries()), "verify:", report.ok)
    last = 10.0 + (n - 1) * 0.1
    stored = [m.longest_diameter_mm for m in r.measurements(uid)]
    peer_rows = [row[0] for row in con.execute("SELECT ld FROM m")]
    problems = []
    if stored != [last]:
        problems.append(f"the store holds LD {stored} mm, not the last one written ({last:.1f} mm)")
    if peer_rows != [last]:
        problems.append(f"the peer's table holds {peer_rows}, not [{last:.1f}]")
    if not report.ok:
        problems.append(f"the audit chain does not verify: {list(report.problems)[:3]}")
    for p in problems:
        print(f"MISMATCH: {p} (store {d})")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Single-measurement upsert cost: hcc_imaging ReaderSession.record_measurement (validation,
ownership checks, audit row, BEGIN IMMEDIATE, synchronous=FULL) vs the peer: a bare sqlite3
INSERT OR REPLACE of one row + commit with the same pragmas (WAL, FULL)."""
import datetime as dt, sqlite3, tempfile, time, os, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hcc_imaging, not the installed one
from hcc_imaging.study import Store, ReaderSession
d = tempfile.mkdtemp()
s = Store(os.path.join(d, "b.sqlite"))
s.add_reader("R1"); s.add_patient("P1"); s.add_timepoint("P1", "BL", dt.date(2024, 1, 1))
r = ReaderSession(s, "R1"); r.add_lesion("P1", "L1")
uid = r.start_read("P1", ["BL"], "recist1.1").read_uid
N = 200
t = time.perf_counter()
for i in range(N):
    r.record_measurement(uid, "BL", "L1", longest_diameter_mm=10.0 + i * 0.1, endpoints_lps={"long": [[0, 0, 0], [10 + i * 0.1, 0, 0]]})
ours = (time.perf_counter() - t) / N
con = sqlite3.connect(os.path.join(d, "peer.sqlite"), isolation_level=None)
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=FULL")
con.execute("CREATE TABLE m (k TEXT PRIMARY KEY, ld REAL, eps TEXT)")
t = time.perf_counter()
for i in range(N):
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT OR REPLACE INTO m VALUES ('L1', ?, ?)", (10.0 + i * 0.1, json.dumps({"long": [[0, 0, 0], [10 + i * 0.1, 0, 0]]})))
    con.execute("COMMIT")
peer = (time.perf_counter() - t) / N
print(f"record_measurement: {ours*1e3:.2f} ms/upsert; bare sqlite3 upsert+commit: {peer*1e3:.2f} ms; ratio {ours/peer:.1f}x")
print("audit rows:", len(s.audit_entries()), "verify:", s.audit_verify().ok)

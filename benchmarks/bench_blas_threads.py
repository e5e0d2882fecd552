"""A click with one BLAS thread (``hcc_imaging._blas``, since 1.16's follow-up) against the same
click with OpenBLAS's threads as the process has them, on a quiet machine and with other cores
kept busy (a shared workstation: the viewer drawing, another job).

Each variant runs in its own process (OpenBLAS's idle threads keep spinning for a while after a
product, so two variants in one process would slow each other), the two alternated over
``--rounds`` rounds; each process times ``--cases`` clicks of the 5 cm phantom of
``bench_segment.py --diameter-mm 50`` after one warm-up click.  Prints the median wall time per
variant and the ratio; the masks' hashes must agree (the limit changes no value).

Usage: ``python benchmarks/bench_blas_threads.py [--rounds 2] [--cases 7] [--busy-cores 0 1]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from tests.segment._phantom import perf_phantom
from hcc_imaging.segment import segment_lesion
fn = segment_lesion if {limited!r} else segment_lesion.__wrapped__
d = 50.0
phs = [perf_phantom(s, spacing=(2.5, 0.703, 0.703), shape=(60, 216, 216), diameter_mm=d) for s in range({cases})]
fn(phs[0].volume, seed_index=phs[0].seed_index)
h = hashlib.md5()
for ph in phs:
    t = time.perf_counter()
    r = fn(ph.volume, seed_index=ph.seed_index)
    print("t", time.perf_counter() - t)
    h.update(np.packbits(r.labels.array != 0).tobytes())
print("h", h.hexdigest())
"""


def _spin(stop):  # type: ignore[no-untyped-def]
    while not stop.is_set():
        pass


def _run(limited: bool, cases: int) -> tuple[list[float], str]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), limited=limited, cases=cases)],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    return [float(x.split()[1]) for x in out if x.startswith("t ")], next(x.split()[1] for x in out if x.startswith("h "))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cases", type=int, default=7)
    ap.add_argument("--busy-cores", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args(argv)
    print(f"5 cm phantom, {args.cases} clicks per process, {args.rounds} rounds; wall time per click")
    print(f"{'other cores busy':>17s} {'one BLAS thread':>16s} {'BLAS threads as set':>20s} {'as set / one':>13s}")
    for busy in args.busy_cores:
        stop = multiprocessing.Event()
        spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(busy)]
        for p in spinners:
            p.start()
        times: dict[bool, list[float]] = {True: [], False: []}
        hashes = set()
        try:
            time.sleep(0.2)
            for r in range(args.rounds):
                for limited in ((True, False) if r % 2 == 0 else (False, True)):
                    t, h = _run(limited, args.cases)
                    times[limited] += t
                    hashes.add(h)
        finally:
            stop.set()
            for p in spinners:
                p.join()
        one, many = statistics.median(times[True]) * 1000, statistics.median(times[False]) * 1000
        print(f"{busy:17d} {one:13.1f} ms {many:17.1f} ms {many / one:13.2f}")
        if len(hashes) != 1:
            print("the masks differ between the variants", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

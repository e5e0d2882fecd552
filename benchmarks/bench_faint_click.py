#!/usr/bin/env python
"""CPU time of the slowest clicks (issue 5: a mask from a click in < 0.1 s): step 10's joint
fallback on the study phantom's lymph node without a fat plane, in one run.

    .venv/bin/python benchmarks/bench_faint_click.py [--repeat 5] [--rounds 2] [--against DIR]

Clicks (no liver mask, ``segment_lesion(st.volumes, seed_lps=L6's seed)``, the study phantom's
default 15 HU noise, ``node_fat_mm=0``): seed 1 fu2 and seed 0 fu1 (the two slowest), seed 0
fu2 and seed 1 fu1.  Each click is timed in-process after one warm-up (numba kernels loaded),
with ``time.process_time`` (CPU of this process, not wall time), best of ``--repeat``.

``--against DIR``: the same measurement of another checkout (``PYTHONPATH=DIR``, e.g. the main
branch), in a fresh process per round, alternating with this checkout's, ``--rounds`` rounds;
each click's figure is its best over the rounds.  Prints the load average (``os.getloadavg``)
before and after: the machine is shared, so read the ratio, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CLICKS = ((1, "fu2"), (0, "fu1"), (0, "fu2"), (1, "fu1"))


def measure(repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` CPU seconds per click (in this process, after a warm-up)."""
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import segment_lesion

    out = {}
    for seed, tp in CLICKS:
        st = make_study(seed, timepoint=tp, node_fat_mm=0)
        vols, click = st.volumes, st.truth["lesions"]["L6"]["seed_lps"]
        segment_lesion(vols, seed_lps=click)  # warm-up
        best = float("inf")
        for _ in range(repeat):
            t0 = time.process_time()
            segment_lesion(vols, seed_lps=click)
            best = min(best, time.process_time() - t0)
        out[f"seed {seed} {tp}"] = best
    return out


def run_tree(tree: str, repeat: int) -> dict[str, float]:
    """:func:`measure` in a fresh process importing ``hcc_imaging`` from ``tree``."""
    env = {**os.environ, "PYTHONPATH": tree}
    res = subprocess.run([sys.executable, __file__, "--worker", "--repeat", str(repeat)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--against", help="another checkout to time alternately (its root directory)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.repeat)))
        return 0
    here = str(Path(__file__).resolve().parents[1])
    trees = {"this": here} if not args.against else {"this": here, "against": str(Path(args.against).resolve())}
    load0 = os.getloadavg()
    best: dict[str, dict[str, float]] = {name: {} for name in trees}
    for _ in range(args.rounds):
        for name, tree in (list(trees.items()) if _ % 2 == 0 else list(trees.items())[::-1]):
            for click, t in run_tree(tree, args.repeat).items():
                best[name][click] = min(best[name].get(click, float("inf")), t)
    load1 = os.getloadavg()
    print(f"CPU ms per click, best of {args.repeat} x {args.rounds} rounds; load average "
          f"{load0[0]:.2f} before, {load1[0]:.2f} after ({os.cpu_count()} cores)")
    head = f"{'click (L6, node_fat_mm=0, no liver)':38s} {'this':>8s}"
    if args.against:
        head += f" {'against':>8s} {'ratio':>6s}"
    print(head)
    for click in best["this"]:
        line = f"{click:38s} {best['this'][click] * 1000:8.1f}"
        if args.against:
            a = best["against"][click]
            line += f" {a * 1000:8.1f} {best['this'][click] / a:6.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

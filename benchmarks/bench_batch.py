#!/usr/bin/env python
"""Batch throughput: 1 vs 2 Dask workers on the same generated archive, in one run.

    .venv/bin/python benchmarks/bench_batch.py [--patients 30] [--grid 44x150x150] [--repeat 3] [--keep DIR]

Generates ``--patients`` phantom patients x 2 time points (baseline, fu1; 4 phases each, the
default 44 x 150 x 150 grid or ``--grid``, same field of view, JPEG-LS, masks + annotations),
then runs ``run_batch`` on a pre-started local cluster (``hcc_imaging.batch.runner.local_cluster``: the one a run starts
itself) of 1 and of 2 single-threaded worker processes (``--scheduler``
path; cluster start-up excluded, index + tables included), interleaved, best of ``--repeat``.
A fixed CPU-bound numpy task on the same clusters is the peer: its 2-vs-1 ratio is the
parallelism the machine offered during the run.  Prints studies/minute, the speed-up,
each worker's memory high-water mark (``ru_maxrss``), the run's stage timings and the CPU time
of the driver process (client + scheduler), which competes with the workers for the cores.
Numbers are for this machine and are noisy when it is shared.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's hcc_imaging, not the installed one; the workers too:
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_archive(root: Path, n: int, shape: tuple[int, int, int] | None = None) -> int:
    from hcc_imaging.phantoms import DEFAULT_SHAPE, DEFAULT_SPACING_MM, write_longitudinal

    shape = shape or DEFAULT_SHAPE
    # same field of view as the default grid
    spacing = tuple(sp * n0 / n1 for sp, n0, n1 in zip(DEFAULT_SPACING_MM, DEFAULT_SHAPE, shape, strict=True))
    for k in range(1, n + 1):
        write_longitudinal(root / f"PAT-{k:03d}", seed=k, timepoints=("baseline", "fu1"), patient_id=f"PAT-{k:03d}",
                           transfer_syntax="1.2.840.10008.1.2.4.80", shape=shape, spacing=spacing)
    return 2 * n


def _warm() -> bool:
    """Import the pipeline's modules in a worker (a long-running cluster has them loaded)."""
    import hcc_imaging.batch.pipeline  # noqa: F401
    import hcc_imaging.io  # noqa: F401
    import hcc_imaging.io.masks  # noqa: F401
    import hcc_imaging.measure  # noqa: F401
    import SimpleITK  # noqa: F401

    return True


def _spin(i: int) -> float:
    """A fixed CPU-bound unit of work (the machine's parallelism reference)."""
    import numpy as np

    rng = np.random.default_rng(i)
    a = rng.random((200, 200))
    t = 0.0
    for _ in range(40):
        t += float(np.linalg.svd(a, compute_uv=False)[0])
    return t


def run(archive: Path, workers: int, tmp: Path) -> dict:
    import dask
    from distributed import Client

    from hcc_imaging.batch import run_batch
    from hcc_imaging.batch.constants import LOCAL_CLIENT_CONFIG
    from hcc_imaging.batch.runner import local_cluster

    # the cluster run_batch starts itself without --scheduler (same Dask settings), started here
    # so that its start-up is not timed
    with local_cluster(workers) as cluster:
        with Client(cluster) as client:
            client.run(_warm)
            t0 = time.perf_counter()
            client.gather(client.map(_spin, range(16), pure=False))
            spin = time.perf_counter() - t0
        # no second client of this process while the batch runs (the CLI has one)
        out = tmp / f"out_{workers}"
        shutil.rmtree(out, ignore_errors=True)
        c0 = time.process_time()
        t0 = time.perf_counter()
        with dask.config.set(LOCAL_CLIENT_CONFIG):  # the client settings of a run on its own local cluster
            s = run_batch(archive, out, scheduler=cluster.scheduler_address)
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        with Client(cluster) as client:
            mem = sorted(client.run(_maxrss_mb).values())
    if s.n_failures:
        raise SystemExit(f"{s.n_failures} failures in the {workers}-worker run: see {out}/failures.csv")
    return {"wall": dt, "execute": float(s.timings_s["execute"]), "mem": mem, "n": s.n_studies, "spin": spin,
            "timings": dict(s.timings_s), "driver_cpu": cpu}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=30, help="patients (2 studies each); >= 10 for >= 20 studies")
    ap.add_argument("--grid", default=None, help="slices x rows x columns, e.g. 88x300x300 (default 44x150x150)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the archive and outputs here")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repetitions; the best of each is kept")
    args = ap.parse_args(argv)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="hcc_bench_batch_"))
    try:
        shape = tuple(int(x) for x in args.grid.lower().split("x")) if args.grid else None
        if shape is not None and len(shape) != 3:
            raise SystemExit("--grid: give slices x rows x columns, e.g. 88x300x300")
        grid = "x".join(map(str, shape)) if shape else "44x150x150"
        arch = tmp / f"archive_{args.patients}_{grid}"
        t0 = time.perf_counter()
        n = make_archive(arch, args.patients, shape) if not arch.exists() else 2 * args.patients
        print(f"archive: {n} studies x 4 phases ({grid}, JPEG-LS) ready in {time.perf_counter() - t0:.1f} s")
        from hcc_imaging.batch import PipelineOptions, discover_studies

        discover_studies(arch, PipelineOptions())  # warm the page cache before the first timed run
        import hcc_imaging.batch.tables  # noqa: F401  driver imports (pandas, pyarrow) paid before any timed run
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401
        best: dict[int, dict] = {}
        best_spin: dict[int, float] = {}
        for _ in range(args.repeat):
            for w in (1, 2):  # interleaved, best of --repeat: the machine is shared and noisy
                r = run(arch, w, tmp)
                print(f"  {w} worker(s): {r['wall']:.2f} s end to end, peer {r['spin']:.2f} s, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
                if w not in best or r["wall"] < best[w]["wall"]:
                    best[w] = r
                best_spin[w] = min(best_spin.get(w, r["spin"]), r["spin"])
        for w in (1, 2):
            r = best[w]
            ns, dt, ex = r["n"], r["wall"], r["execute"]
            stages = ", ".join(f"{k} {v:.2f} s" for k, v in r["timings"].items())
            print(f"{w} worker(s): {ns} studies in {dt:6.2f} s = {ns / dt * 60.0:6.1f} studies/min end to end "
                  f"(Dask execution {ex:.2f} s = {ns / ex * 60.0:.1f} studies/min); "
                  f"memory high-water per worker: {', '.join(f'{m:.0f} MB' for m in r['mem'])}")
            print(f"    stages: {stages}; driver process CPU (client + scheduler) {r['driver_cpu']:.2f} s")
        b1, b2 = best[1], best[2]
        print(f"speed-up 2 vs 1 workers: end to end {b1['wall'] / b2['wall']:.2f}x, Dask execution "
              f"{b1['execute'] / b2['execute']:.2f}x (target >= 1.7x on 2 cores)")
        print(f"peer in the same run - a fixed CPU-bound numpy task, 2 vs 1 workers: {best_spin[1] / best_spin[2]:.2f}x "
              "(best of the repeats; the parallelism this machine offered at the time)")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run the segmentation's accuracy sweeps into a folder, and compare two such folders run by run.

The sweeps (``sweep_segment_robustness.py``, ``sweep_segment_study.py``, ``sweep_segment_rind.py``)
print one line per case, "<case>: Dice 0.973 ..." or "<case>: refused (...)", then a summary line.
A change to ``hcc_imaging.segment`` is judged on all of them against main: how many runs fall below
0.95 (a refusal counts as below), which runs went up and which went down.  This script is that
workflow, kept in the repository (the lead's copies in ``/tmp`` were lost between sessions three
times).  docs/validation.md's "before / after" tables come from it.

Sets (``run``; each is one sweep invocation, two run at a time, one BLAS / OpenMP / numba thread each):

====== ================================================================================
sharp  robustness sweep, 225 phantoms, click at the centre (z blur 0.6 voxel)
off    the same, click off the centre
line   the same, a line across the lesion
z02    the same, z blur 0.2 voxel
ill    ill-defined margins (``--lesion-blur-mm 3``), centre
ill02  ill-defined margins, z blur 0.2
illoff ill-defined margins, off the centre
n15    study phantom, sigma 15, seeds 0-1 (88 runs)
n25    study phantom, sigma 25, seeds 0-1
sub5   study phantom, sigma 15, seeds 0-1, slices with a profile (``--slice-sub 5``)
rind   rims and rinds, 80 runs
====== ================================================================================

For a change to step 13, ``--sets`` also takes ``EXTRA_SETS`` (held-out seeds and shape, slices with a
profile, ``--rind``, the 512 x 512 study); docs/validation.md section 2.2, "Algorithm 1.53", used them.

About five minutes for all of them on this project's two-core machine.

Usage::

    python benchmarks/segment_sweeps.py run OUT [--sets sharp off ...] [--repo PATH]
    python benchmarks/segment_sweeps.py compare BASE NEW [--flag 0.95]

``run`` writes ``OUT/<set>.txt`` (and ``.err``) for the code at ``--repo`` (default: this
checkout; a worktree of another commit to measure it), and exits with 1 when a set's sweep failed
(its line says "failed (exit N; see <set>.err)"); ``compare`` prints, per set present in both,
"below 0.95: 42 -> 40; up 3, down 1", then every run that went down and the largest gains, and
exits with 1 when a run went down (0 otherwise).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

SETS: dict[str, list[str]] = {
    "sharp": ["sweep_segment_robustness.py", "--all"],
    "off": ["sweep_segment_robustness.py", "--where", "off", "--all"],
    "line": ["sweep_segment_robustness.py", "--where", "line", "--all"],
    "z02": ["sweep_segment_robustness.py", "--z-psf-vox", "0.2", "--all"],
    "ill": ["sweep_segment_robustness.py", "--lesion-blur-mm", "3", "--all"],
    "ill02": ["sweep_segment_robustness.py", "--lesion-blur-mm", "3", "--z-psf-vox", "0.2", "--all"],
    "illoff": ["sweep_segment_robustness.py", "--lesion-blur-mm", "3", "--where", "off", "--all"],
    "n15": ["sweep_segment_study.py", "--noise", "15", "--seeds", "0", "1"],
    "n25": ["sweep_segment_study.py", "--noise", "25", "--seeds", "0", "1"],
    "sub5": ["sweep_segment_study.py", "--noise", "15", "--seeds", "0", "1", "--slice-sub", "5"],
    "rind": ["sweep_segment_rind.py"],
}
#: Sets for a change to step 13 (rims and rinds), not in the default run: held-out seeds, the held-out
#: second lobulated shape, slices with a profile on 1.15 / 1.5 mm pixels, step 13 asked for, and the
#: 512 x 512 x 100 study (0.68 mm pixels, where step 13 runs on the rim-only lesions; ~2 min).
EXTRA_SETS: dict[str, list[str]] = {
    "rind_s23": ["sweep_segment_rind.py", "--seeds", "2", "3", "--grids", "1.5,0.7,0.7"],
    "rind_lob2": ["sweep_segment_rind.py", "--kinds", "lobulated2", "--seeds", "0", "1", "2", "3", "--grids", "1.5,0.7,0.7"],
    "rind_prof": ["sweep_segment_rind.py", "--grids", "3,1.15,1.15", "3,1.5,1.5", "--slice-sub", "5"],
    "rind_ask": ["sweep_segment_rind.py", "--rind", "--grids", "1.5,0.7,0.7"],
    "s512": ["sweep_segment_study.py", "--spacing", "1.5,0.68,0.68", "--shape", "100,512,512", "--seeds", "0"],
}

_CASE = re.compile(r"^(?P<case>.*?): (?:Dice (?P<dice>[0-9.]+)|refused)")
REFUSED = -1.0


def parse(text: str) -> dict[str, float]:
    """The runs of one sweep's output: case -> Dice, ``REFUSED`` (-1) for a refused input.  Summary
    lines are skipped; a case printed twice keeps both, the second as "<case> #2"."""
    runs: dict[str, float] = {}
    seen: dict[str, int] = {}
    for line in text.splitlines():
        m = _CASE.match(line)
        if m is None or " runs on " in line or line.startswith(("225 ", "Dice")):
            continue
        case = m.group("case").strip()
        seen[case] = seen.get(case, 0) + 1
        if seen[case] > 1:
            case = f"{case} #{seen[case]}"
        runs[case] = float(m.group("dice")) if m.group("dice") is not None else REFUSED
    return runs


def compare(base: dict[str, float], new: dict[str, float], flag: float = 0.95,
            tol: float = 1e-3) -> tuple[int, int, list[tuple[str, float, float]], list[tuple[str, float, float]]]:
    """(runs below ``flag`` in ``base``, in ``new``, the runs up, the runs down) for the cases in both;
    a run moved when its Dice differs by more than ``tol`` (the sweeps print three decimals).  Down is
    sorted worst first, up best first."""
    below_b = sum(v < flag for v in base.values())
    below_n = sum(v < flag for v in new.values())
    both = [(k, base[k], new[k]) for k in new if k in base]
    up = sorted((t for t in both if t[2] > t[1] + tol), key=lambda t: t[1] - t[2])
    down = sorted((t for t in both if t[2] < t[1] - tol), key=lambda t: t[2] - t[1])
    return below_b, below_n, up, down


class Paired(NamedTuple):
    """:func:`paired`'s summary of the runs two folders share that a pattern selects (a refusal counts as Dice 0)."""

    n: int
    mean_base: float
    mean_new: float
    median_base: float
    median_new: float
    mean_diff: float
    sd_diff: float
    worst: tuple[str, float]
    best: tuple[str, float]

    @property
    def se_diff(self) -> float:
        """The standard error of the mean paired difference."""
        return self.sd_diff / float(np.sqrt(self.n)) if self.n else float("nan")


def paired(pairs: list[tuple[str, float, float]]) -> Paired | None:
    """The paired differences new - base of ``pairs`` (case, base Dice, new Dice; ``REFUSED`` counts as 0):
    their mean, standard deviation, the worst drop and the best gain, beside both sides' means and medians.
    A change to step 13 is judged on these pooled over its fine-grid lobulated clicks, not click by click:
    the fit's result moves by ~0.014 Dice a click (up to 0.05) under an equally valid change of its blocks'
    partition (docs/validation.md section 2.4, "Algorithm 1.67"), so a per-click bound flags any change."""
    if not pairs:
        return None
    b = np.array([max(a, 0.0) for _, a, _ in pairs])
    v = np.array([max(x, 0.0) for _, _, x in pairs])
    d = v - b
    i_w, i_b = int(np.argmin(d)), int(np.argmax(d))
    return Paired(len(pairs), float(b.mean()), float(v.mean()), float(np.median(b)), float(np.median(v)),
                  float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0,
                  (pairs[i_w][0], float(d[i_w])), (pairs[i_b][0], float(d[i_b])))


def _fmt(v: float) -> str:
    return "refused" if v == REFUSED else f"{v:.3f}"


def _run_set(name: str, out: Path, repo: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(repo), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    script, *args = {**SETS, **EXTRA_SETS}[name]
    with (out / f"{name}.txt").open("w") as fo, (out / f"{name}.err").open("w") as fe:
        rc = subprocess.run([sys.executable, str(repo / "benchmarks" / script), *args], cwd=repo, env=env,
                            stdout=fo, stderr=fe, check=False).returncode
    lines = (out / f"{name}.txt").read_text().strip().splitlines()
    return f"{name}: " + (lines[-1] if rc == 0 and lines else f"failed (exit {rc}; see {name}.err)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run sweep sets into a folder")
    r.add_argument("out", type=Path)
    r.add_argument("--sets", nargs="+", choices=sorted({**SETS, **EXTRA_SETS}), default=list(SETS),
                   help="default: the eleven of the table above; also " + ", ".join(EXTRA_SETS))
    r.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose code runs (default: this one)")
    c = sub.add_parser("compare", help="compare two folders of sweep outputs")
    c.add_argument("base", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--flag", type=float, default=0.95)
    c.add_argument("--gains", type=int, default=20, help="how many of the largest gains to list per set")
    c.add_argument("--pooled", action="append", default=[], metavar="REGEX",
                   help="also pool the runs whose case matches REGEX over every set compared (repeatable) and "
                        "print their paired differences (:func:`paired`); e.g. 'grid 1.5,0.7,0.7 .*lobulated'")
    args = ap.parse_args(argv)
    if args.cmd == "run":
        args.out.mkdir(parents=True, exist_ok=True)
        failed = []
        with ThreadPoolExecutor(2) as pool:
            for name, line in zip(args.sets, pool.map(lambda s: _run_set(s, args.out, args.repo.resolve()), args.sets)):
                print(line, flush=True)
                if line.startswith(f"{name}: failed (exit"):
                    failed.append(name)
        if failed:
            print(f"FAILED: {len(failed)} of {len(args.sets)} sets did not run to the end: {', '.join(failed)} "
                  f"(their .err files in {args.out})")
            return 1
        return 0
    status = 0
    pools: dict[str, list[tuple[str, float, float]]] = {rx: [] for rx in args.pooled}
    for f in sorted(args.new.glob("*.txt")):
        b = args.base / f.name
        if not b.exists():
            print(f"{f.stem}: no base")
            continue
        base, new = parse(b.read_text()), parse(f.read_text())
        nb, nn, up, down = compare(base, new, args.flag)
        missing = len(set(base) ^ set(new))
        print(f"{f.stem}: below {args.flag:g} {nb} -> {nn}; up {len(up)}, down {len(down)}"
              + (f"; {missing} cases in one only" if missing else ""))
        for k, a, v in down:
            print(f"   DOWN {k}: {_fmt(a)} -> {_fmt(v)}")
        for k, a, v in up[: args.gains]:
            print(f"   up   {k}: {_fmt(a)} -> {_fmt(v)}")
        status |= bool(down)
        for rx, into in pools.items():
            into.extend((f"{f.stem}: {k}", base[k], new[k]) for k in new if k in base and re.search(rx, k))
    for rx, into in pools.items():
        pr = paired(into)
        if pr is None:
            print(f"pooled /{rx}/: no run in both")
            continue
        print(f"pooled /{rx}/: {pr.n} runs; mean {pr.mean_base:.4f} -> {pr.mean_new:.4f} (paired difference "
              f"{pr.mean_diff:+.4f}, sd {pr.sd_diff:.4f}, se {pr.se_diff:.4f}); median {pr.median_base:.4f} -> "
              f"{pr.median_new:.4f}; worst {pr.worst[1]:+.3f} ({pr.worst[0]}), best {pr.best[1]:+.3f} ({pr.best[0]})")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Sweep of ``segment_lesion`` on necrotic lesions with an enhancing rim or rind of 1.5-3.5 mm.

Not a speed benchmark: it looks for where a click at the centre of a necrotic core wrapped in an
enhancing layer fails (a treated HCC's or an ablation zone's rim, a necrotic tumour's viable
rind).  The scene is ``tests/segment/_phantom.py``'s ``rim_scene`` (step 9's tests) with the
layer's thickness, the grid and the noise as parameters, on a 90 x 84 x 84 mm box: four phases
with the study phantom's HU (liver, necrosis, rim per phase: arterial 70 / 25 / 115, portal
venous 110 / 28 / 125, delayed 95 / 28 / 115, unenhanced 55 / 25 / 40), a 1 mm Gaussian
point-spread, white noise; the lesion is an oval
(9 / 14 / 11 mm semi-axes) or a lobulated union of four balls of 6-9 mm (``--kinds lobulated2``:
a second, held-out nodular shape, a body and five nodules of 4.5-7.5 mm, not in the default
runs; ``_phantom.LOBULATED_BALLS``); the truth is core +
layer (voxel centres); the click is the scene's centre voxel (in the core), the phase is chosen
by ``segment_lesion``.  Figures: docs/validation.md section 2.2, "Algorithm 1.20".

Usage::

    python benchmarks/sweep_segment_rind.py [--rims 1.5 2 2.5 3 3.5] [--noise 5 15] [--seeds 0 1]
        [--grids 1.5,0.7,0.7 3,2.3,2.3] [--flag 0.95] [--rind] [--slice-sub 5]

``--rind`` clicks as a reader who says "a necrotic core in a layer" (``segment_lesion(...,
rind=True)``, step 13): the two-surface fit on the fine grid, the automatic steps (with a note) on
the coarse one.  ``--slice-sub 5`` gives each slice a profile (the mean over its thickness, as a CT
slice integrates it; the default samples the voxel centres, which on thick slices is kinder than a
scanner: docs/validation.md section 2.2, "Rims and rinds with a slice profile").
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.segment._phantom import dice, rim_scene, rim_scene_shape  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.segment import segment_lesion
    from hcc_imaging.segment.errors import SegmentationError

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rims", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0, 3.5], help="layer thickness, mm")
    ap.add_argument("--noise", type=float, nargs="+", default=[5.0, 15.0], help="noise sigma, HU")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--grids", nargs="+", default=["1.5,0.7,0.7", "3,2.3,2.3"], help="spacings, mm (slice,row,col)")
    ap.add_argument("--kinds", nargs="+", default=["oval", "lobulated"],
                    help="oval, lobulated, lobulated2 (default: the first two)")
    ap.add_argument("--flag", type=float, default=0.95, help="mark the runs below this Dice (default 0.95)")
    ap.add_argument("--rind", action="store_true", help="click with rind=True (step 13, the two-surface fit; 1.24)")
    ap.add_argument("--slice-sub", type=int, default=1,
                    help="give the slices a profile: each slice the mean of this many points across its thickness, "
                         "the truth the voxels at least half inside (default 1: values at the voxel centres)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    dices: list[float] = []
    for grid, rim, sd, kind, seed in itertools.product(args.grids, args.rims, args.noise, args.kinds, args.seeds):
        sp = tuple(float(v) for v in grid.split(","))
        shp = rim_scene_shape(sp)  # type: ignore[arg-type]
        vols, truth, click = rim_scene(kind, seed, sd, rim_mm=rim, spacing=sp, shape=shp,  # type: ignore[arg-type]
                                        slice_sub=args.slice_sub)
        head = f"grid {grid:12s} rim {rim:3.1f} mm noise {sd:4.1f} {kind:9s} seed {seed}"
        try:
            res = segment_lesion(vols, seed_index=click, rind=args.rind)
        except SegmentationError as err:
            print(f"{head}: refused ({str(err)[:80]})")
            continue
        m = res.labels.array != 0
        d = dice(m, truth)
        dices.append(d)
        step = "rim step" if any("thin enhancing rim" in n for n in res.notes) else (
            "grown on " + str(res.provenance().get("values_phase")) if any("heterogeneous" in n for n in res.notes) else "")
        if any("asked for, rind=True" in n or "(step 13)" in n for n in res.notes):
            step = "rind fit"
        if any("blurred-surface" in n for n in res.notes):
            step += " + blurred border"
        flag = " <" if d < args.flag else ""
        print(f"{head}: Dice {d:.3f} volume ratio {m.sum() / truth.sum():.3f} [{step}]{flag}", flush=True)
    below = sum(d < args.flag for d in dices)
    med = statistics.median(dices) if dices else float("nan")
    print(f"{len(dices)} runs: {below} below {args.flag}; Dice median {med:.3f}; {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Sweep of ``segment_lesion`` on the multiphase study phantom: every lesion, click and line.

Not a speed benchmark: Dice and volume ratio against the phantom's truth for each lesion (L1-L9)
at each time point, from a click at its seed and from a line on its longest diameter, with the
liver mask for the liver lesions and none for the node, the thrombus and the ascites (as
docs/validation.md section 2.2).  ``--spacing`` / ``--shape`` put the phantom on another grid
(5 mm slices: ``--spacing 5,2.3,2.3 --shape 27,150,150``), to look for what a grid breaks.

Usage::

    python benchmarks/sweep_segment_study.py [--noise 15] [--seeds 0 1] [--spacing 3,2.3,2.3 --shape 44,150,150]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _triple(text: str, kind: type) -> tuple:  # type: ignore[type-arg]
    vals = tuple(kind(v) for v in text.split(","))
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated values (slice, row, column), got {text!r}")
    return vals


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.phantoms import DEFAULT_SHAPE, DEFAULT_SPACING_MM, make_study
    from hcc_imaging.segment import LowContrastError, segment_lesion

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=float, default=15.0, help="noise sigma in HU (default 15)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--spacing", type=lambda t: _triple(t, float), default=DEFAULT_SPACING_MM, help="mm, slice,row,column")
    ap.add_argument("--shape", type=lambda t: _triple(t, int), default=DEFAULT_SHAPE, help="voxels, slice,row,column")
    ap.add_argument("--flag", type=float, default=0.95, help="mark the runs below this Dice (default 0.95)")
    args = ap.parse_args(argv)
    dices: list[float] = []
    low = refused = 0
    t0 = time.perf_counter()
    for seed in args.seeds:
        for tp in ("baseline", "fu1", "fu2"):
            st = make_study(seed, timepoint=tp, noise_sd_hu=args.noise, spacing=args.spacing, shape=args.shape)
            for lid, rec in st.truth["lesions"].items():
                truth = st.lesions.array == rec["label"]
                if not truth.any() or rec.get("seed_lps") is None:
                    continue
                liver = None if lid in ("L6", "L7", "L8") else st.liver
                inputs = {"click": {"seed_lps": rec["seed_lps"]}}
                if rec.get("ld_endpoints_lps"):
                    inputs["line"] = {"line_lps": rec["ld_endpoints_lps"]}
                for mode, where in inputs.items():
                    try:
                        res = segment_lesion(st.volumes, liver=liver, **where)  # type: ignore[arg-type]
                    except LowContrastError as e:
                        refused += 1
                        print(f"seed {seed} {tp:8s} {lid} {mode:5s}: refused ({str(e)[:80]})")
                        continue
                    m = res.labels.array != 0
                    d = 2.0 * float((m & truth).sum()) / float(m.sum() + truth.sum())
                    dices.append(d)
                    low += d < args.flag
                    mark = " <" if d < args.flag else ""
                    print(f"seed {seed} {tp:8s} {lid} {mode:5s}: Dice {d:.3f} volume ratio {m.sum() / truth.sum():.3f}{mark}")
    a = np.asarray(dices)
    print(f"{len(a) + refused} runs on {tuple(args.spacing)} mm at {args.noise:g} HU: {refused} refused, {low} below "
          f"{args.flag}; Dice median {np.median(a):.3f}; {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Sweep of ``segment_lesion`` on the multiphase study phantom: every lesion, click and line.

Not a speed benchmark: Dice and volume ratio against the phantom's truth for each lesion (L1-L9)
at each time point, from a click at its seed and from a line on its longest diameter, with the
liver mask for the liver lesions and none for the node, the thrombus and the ascites (as
docs/validation.md section 2.2).  ``--spacing`` / ``--shape`` put the phantom on another grid
(5 mm slices: ``--spacing 5,2.3,2.3 --shape 27,150,150``), to look for what a grid breaks.
``--slice-sub 5`` gives the slices a profile (each the mean over its thickness, as a CT slice; the
phantom samples the slices' centres): docs/validation.md section 2.2, "The study phantom with a
slice profile".

Usage::

    python benchmarks/sweep_segment_study.py [--noise 15] [--seeds 0 1] [--spacing 3,2.3,2.3 --shape 44,150,150]
        [--slice-sub 5]
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


def slice_profile_study(seed: int, timepoint: str, noise_sd_hu: float, spacing: tuple[float, float, float],
                        shape: tuple[int, int, int], sub: int, **study_kw):  # type: ignore[no-untyped-def]
    """The study phantom with slices that average their thickness, as a CT slice does (``make_study``
    samples the slices' centres): the noise-free phantom on ``sub`` times as many slices, each
    block of ``sub`` averaged into one slice (the block is centred on the slice), then the noise;
    the lesions and the liver are the voxels at least half inside.  The truth's points (seeds,
    diameters' ends) are the fine phantom's, in LPS mm.  ``study_kw`` go to ``make_study`` (e.g.
    ``node_fat_mm``)."""
    import dataclasses
    import types

    from hcc_imaging.phantoms import TIMEPOINTS, make_study

    nz, ny, nx = shape
    coarse = make_study(seed, timepoint=timepoint, noise_sd_hu=0.0, spacing=spacing, shape=shape, **study_kw)
    fine = make_study(seed, timepoint=timepoint, noise_sd_hu=0.0, spacing=(spacing[0] / sub, spacing[1], spacing[2]),
                      shape=(nz * sub, ny, nx), **study_kw)

    def blocks(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, np.float64).reshape(nz, sub, ny, nx).mean(1)

    volumes = {}
    for n, (phase, vol) in enumerate(fine.volumes.items()):
        img = blocks(vol.array)
        if noise_sd_hu > 0:
            rng = np.random.default_rng([seed, list(TIMEPOINTS).index(timepoint), n, 7])
            img = img + rng.normal(0.0, noise_sd_hu, size=shape)
        arr = np.clip(np.rint(img), -1024, 3071).astype(np.int16)
        volumes[phase] = dataclasses.replace(coarse.volumes[phase], array=arr)
    lab = np.zeros(shape, np.uint8)
    for value in np.unique(fine.lesions.array):
        if value:
            lab[blocks(fine.lesions.array == value) >= 0.5] = value
    lesions = dataclasses.replace(coarse.lesions, array=lab)
    liver = dataclasses.replace(coarse.liver, array=(blocks(fine.liver.array != 0) >= 0.5).astype(np.uint8))
    return types.SimpleNamespace(volumes=volumes, lesions=lesions, liver=liver, truth=fine.truth)


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.phantoms import DEFAULT_SHAPE, DEFAULT_SPACING_MM, make_study
    from hcc_imaging.segment import LowContrastError, segment_lesion

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", type=float, default=15.0, help="noise sigma in HU (default 15)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--spacing", type=lambda t: _triple(t, float), default=DEFAULT_SPACING_MM, help="mm, slice,row,column")
    ap.add_argument("--shape", type=lambda t: _triple(t, int), default=DEFAULT_SHAPE, help="voxels, slice,row,column")
    ap.add_argument("--flag", type=float, default=0.95, help="mark the runs below this Dice (default 0.95)")
    ap.add_argument("--slice-sub", type=int, default=1,
                    help="give the slices a profile: each slice the mean of this many slices of a finer phantom, the "
                         "truth the voxels at least half inside (default 1: make_study, which samples the slices' centres)")
    args = ap.parse_args(argv)
    dices: list[float] = []
    low = refused = 0
    t0 = time.perf_counter()
    for seed in args.seeds:
        for tp in ("baseline", "fu1", "fu2"):
            if args.slice_sub > 1:
                st = slice_profile_study(seed, tp, args.noise, args.spacing, args.shape, args.slice_sub)
            else:
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

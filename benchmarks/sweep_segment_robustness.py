"""Robustness sweep of ``segment_lesion`` on the perf.md phantom: grid x size x contrast x noise.

Not a speed benchmark: it looks for the conditions where a click at the lesion's centre fails
(Dice below ``--flag``, a refusal, or an error), over five grids (2.5 / 1.0 / 5.0 / 1.25 / 3.0 mm
slices), lesions of 10 / 20 / 40 mm, lesion values 20 / 40 / 90 / 110 / 250 HU (the liver is
60, a vessel 150, fat -100 HU) and noise 0 / 10 / 25 HU: 225 phantoms, one seed each.

The phantom blurs by 0.6 voxel on every axis (``tests/segment/_phantom.py``); on 5 mm slices that
is a 3 mm Gaussian along z on top of the slice's own partial volume, more than a scanner's slice
profile adds.  ``--z-psf-vox 0.2`` gives the more realistic z blur.  Figures: docs/validation.md,
"Algorithm 1.13" (section 2.1).

Usage::

    python benchmarks/sweep_segment_robustness.py [--z-psf-vox 0.6] [--lesion-blur-mm 0] [--where centre|off|line] [--flag 0.9] [--all]
        [--grids 2.5,0.703,0.703 5,0.78,0.78] [--sizes 10 20] [--hu 40 250] [--noise 0 25] [--limit N]

``--grids`` / ``--sizes`` / ``--hu`` / ``--noise`` run the cases with those values only (each a
subset of the sweep's: a value outside it is an error), ``--limit N`` the first N of those; a case
keeps its number in the full sweep (its phantom's seed), so its line is the full run's line.

``--lesion-blur-mm 3`` gives the lesion an ill-defined margin (it fades into the liver over a
3 mm Gaussian; the truth stays the sharp shape): the infiltrative case of step 12 (1.14).

``--where off`` clicks 0.6 of the radius from the centre in the slice (a seeded direction; a
click that falls outside the truth is skipped), ``--where line`` draws the truth's longest
diameter.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.segment._phantom import dice, perf_phantom  # noqa: E402

GRIDS = ((2.5, 0.703, 0.703), (1.0, 0.7, 0.7), (5.0, 0.78, 0.78), (1.25, 0.9, 0.9), (3.0, 0.6, 0.6))
DIAMETERS_MM = (10.0, 20.0, 40.0)
LESION_HU = (20.0, 40.0, 90.0, 110.0, 250.0)
NOISE_HU = (0.0, 10.0, 25.0)


def combos() -> list[tuple[tuple[float, float, float], float, float, float]]:
    """The sweep's cases, in order: (grid spacing mm, diameter mm, lesion HU, noise sigma HU)."""
    return list(itertools.product(GRIDS, DIAMETERS_MM, LESION_HU, NOISE_HU))


def _grid(text: str) -> tuple[float, float, float]:
    vals = tuple(float(v) for v in text.split(","))
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"expected a spacing as slice,row,column mm, got {text!r}")
    return vals  # type: ignore[return-value]


def _subset(flag: str, wanted: list | None, values: tuple) -> tuple:  # type: ignore[type-arg]
    """The sweep's ``values`` that are in ``wanted`` (all of them for None); a wanted value the sweep
    does not have raises SystemExit naming the ones it has."""
    if wanted is None:
        return values
    missing = [w for w in wanted if not any(np.allclose(w, v) for v in values)]
    if missing:
        def fmt(v) -> str:  # type: ignore[no-untyped-def]
            return ",".join(f"{x:g}" for x in v) if isinstance(v, tuple) else f"{v:g}"
        raise SystemExit(f"sweep_segment_robustness.py: {flag} {' '.join(fmt(m) for m in missing)} is not in the sweep; "
                         f"its values are {' '.join(fmt(v) for v in values)}")
    return tuple(v for v in values if any(np.allclose(w, v) for w in wanted))


def select(grids: list | None = None, sizes: list | None = None, hu: list | None = None,  # type: ignore[type-arg]
           noise: list | None = None, limit: int | None = None) -> list[tuple[int, tuple]]:  # type: ignore[type-arg]
    """(case number in ``combos()``, case) for the cases with the values given (None: all), the first
    ``limit`` of them; the number is the phantom's seed, as in the full sweep."""
    keep = (_subset("--grids", grids, GRIDS), _subset("--sizes", sizes, DIAMETERS_MM),
            _subset("--hu", hu, LESION_HU), _subset("--noise", noise, NOISE_HU))
    chosen = [(i, c) for i, c in enumerate(combos()) if all(v in k for v, k in zip(c, keep))]
    return chosen if limit is None else chosen[:limit]


def phantom(i: int, case: tuple[tuple[float, float, float], float, float, float], z_psf_vox: float,
            lesion_blur_mm: float):  # type: ignore[no-untyped-def]
    """The perf.md phantom of case number ``i`` (its seed): a 90 mm field of view for lesions up to
    30 mm, 130 mm above."""
    sp, d, hu, sd = case
    fov = 90.0 if d <= 30 else 130.0
    shape = tuple(int(round(fov / s)) for s in sp)
    return perf_phantom(i, noise_sd_hu=sd, diameter_mm=d, lesion_hu=hu, spacing=sp, shape=shape,  # type: ignore[arg-type]
                        psf_vox=(z_psf_vox, 0.6, 0.6), lesion_blur_mm=lesion_blur_mm)


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.measure import measure_lesion
    from hcc_imaging.segment import segment_lesion
    from hcc_imaging.segment.errors import LowContrastError

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--z-psf-vox", type=float, default=0.6, help="Gaussian blur along z in voxels (default 0.6, as in-plane)")
    ap.add_argument("--lesion-blur-mm", type=float, default=0.0,
                    help="an ill-defined margin: the lesion fades into the liver over a Gaussian of this sigma (mm; default 0, sharp)")
    ap.add_argument("--where", choices=("centre", "off", "line"), default="centre", help="click at the centre, off it, or a line")
    ap.add_argument("--flag", type=float, default=0.9, help="print the cases below this Dice (default 0.9)")
    ap.add_argument("--all", action="store_true", help="print every case, not only the flagged ones")
    ap.add_argument("--grids", type=_grid, nargs="+", help="only these grids, slice,row,col mm (default: the five)")
    ap.add_argument("--sizes", "--diameters", type=float, nargs="+",
                    help="only these lesion diameters, mm (default: 10 20 40; --diameters as in bench_segment_sweep.py)")
    ap.add_argument("--hu", type=float, nargs="+", help="only these lesion values, HU (default: 20 40 90 110 250)")
    ap.add_argument("--noise", type=float, nargs="+", help="only these noise sigmas, HU (default: 0 10 25)")
    ap.add_argument("--limit", "--max-cases", type=int,
                    help="only the first N cases (of those selected; --max-cases as in bench_segment_sweep.py)")
    args = ap.parse_args(argv)
    cases = select(args.grids, args.sizes, args.hu, args.noise, args.limit)
    n_all = len(combos())
    dices: list[float] = []
    flagged = refused = skipped = 0
    t_all = time.perf_counter()
    for i, (sp, d, hu, sd) in cases:
        ph = phantom(i, (sp, d, hu, sd), args.z_psf_vox, args.lesion_blur_mm)
        truth = ph.truth.array != 0
        if args.where == "line":
            where: dict[str, object] = {"line_lps": measure_lesion(ph.truth, 1).ld_endpoints_lps}
        elif args.where == "off":
            ang = np.random.default_rng(i).uniform(0.0, 2.0 * np.pi)
            k, j, c = ph.seed_index
            off = 0.6 * d / 2.0 * np.array([np.sin(ang), np.cos(ang)]) / np.asarray(sp[1:])
            seed = (k, int(round(j + off[0])), int(round(c + off[1])))
            if not truth[seed]:
                skipped += 1
                continue
            where = {"seed_index": seed}
        else:
            where = {"seed_index": ph.seed_index}
        try:
            res = segment_lesion(ph.volume, **where)  # type: ignore[arg-type]
        except LowContrastError as e:
            refused += 1
            print(f"{sp} {d:4.0f} mm {hu:5.0f} HU noise {sd:4.0f}: refused ({str(e)[:90]})")
            continue
        dc = dice(res.labels.array, truth)
        dices.append(dc)
        vr = np.count_nonzero(res.labels.array) / max(int(truth.sum()), 1)
        if dc < args.flag:
            flagged += 1
        if dc < args.flag or args.all:
            print(f"{sp} {d:4.0f} mm {hu:5.0f} HU noise {sd:4.0f}: Dice {dc:.3f} volume ratio {vr:.3f} {[n[:40] for n in res.notes]}")
    a = np.asarray(dices)
    blur = f", lesion margin blur {args.lesion_blur_mm} mm" if args.lesion_blur_mm > 0 else ""
    of = f" of {n_all}" if len(cases) < n_all else ""
    stats = f"Dice median {np.median(a):.3f}, 5th percentile {np.percentile(a, 5):.3f}" if a.size else "no Dice"
    print(f"{len(cases)}{of} phantoms (z blur {args.z_psf_vox} voxel{blur}, {args.where}): {skipped} skipped, {refused} refused, "
          f"{flagged} below {args.flag}; {stats}; {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

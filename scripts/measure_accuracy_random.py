"""LD / short axis / 3-D Feret errors on random ellipsoids of the accuracy tests' family
(docs/measure.md section 2), beyond the fixed cases of tests/measure/test_measure_accuracy.py.

Each draw: diameter uniform in [LO, HI] mm, b/a in [0.5, 1], c/a in [0.6, 1.1], random in-plane
angle, random centre (sub-voxel offsets), one of the tests' four spacings and four direction
matrices (cases with c < 1.2 x the largest spacing are skipped, as in the tests).  Prints, per
size band, the max |error| and the number of cases above half a voxel, in units of the largest
in-plane spacing.

Usage::

    PYTHONPATH=. python scripts/measure_accuracy_random.py SEED N [LO HI] [--offset]
    # --offset: the same ellipsoids on a grid centred on the LPS origin, so that the drawn
    # centre is a genuine sub-voxel offset (docs/measure.md section 2)
    # docs/measure.md: seeds 7 and 11 (N 300 and 400, 5-16 mm), seed 13 (N 300, 12-40 mm)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcc_imaging.measure import measure_lesion  # noqa: E402
from tests.measure._shapes import Ellipsoid, ellipsoid_labels, grid_for, plane_z, rasterise  # noqa: E402
from tests.measure.test_measure_accuracy import DIRECTIONS, SPACINGS, _s_axis  # noqa: E402

BANDS = ((5, 8), (8, 12), (12, 16), (16, 25), (25, 41))


def draws(seed: int, n: int, lo: float = 5.0, hi: float = 16.0):
    """The random ellipsoids of ``main``, in order: (draw k, diameter mm, spacing name, spacing,
    direction name, Ellipsoid); draws whose c is under 1.2 x the largest spacing are skipped."""
    rng = np.random.default_rng(seed)
    sps, dirs = list(SPACINGS.items()), list(DIRECTIONS)
    for k in range(n):
        d = float(rng.uniform(lo, hi))
        sp_name, sp = sps[rng.integers(len(sps))]
        dn = dirs[rng.integers(len(dirs))]
        a = d / 2
        b, c = a * rng.uniform(0.5, 1), a * rng.uniform(0.6, 1.1)
        if dn == "S-on-axis1":
            sp = (sp[1], sp[0], sp[2])
        if c < max(sp) * 1.2:
            continue
        yield k, d, sp_name, sp, dn, Ellipsoid(a, b, c, float(rng.uniform(0, np.pi)), tuple(rng.uniform(-3, 3, 3)))


def main(seed: int, n: int, lo: float = 5.0, hi: float = 16.0, offset: bool = False) -> None:
    rows = []
    for k, d, sp_name, sp, dn, e in draws(seed, n, lo, hi):
        if offset:
            # a grid centred on the LPS origin: the drawn centre is a genuine sub-voxel offset
            # (ellipsoid_labels centres its grid on the ellipsoid: centre on a voxel centre or
            # half-way on every axis)
            shape, origin = grid_for(2 * max(e.a, e.b, e.c) + 2 * max(sp) + 12.0, sp, DIRECTIONS[dn])
            lv = rasterise(shape, sp, origin, DIRECTIONS[dn], e.inside)
        else:
            lv = ellipsoid_labels(e, sp, DIRECTIONS[dn])
        ax = _s_axis(DIRECTIONS[dn])
        m = measure_lesion(lv, 1)
        z = plane_z(lv, ax)
        ld, sa = e.ld_sa_truth(z)
        h = max(sp[q] for q in range(3) if q != ax)
        err = ((m.longest_diameter_mm - ld) / h, (m.short_axis_mm - sa) / h, (m.feret_3d_mm - e.feret_truth(z)) / h)
        if max(map(abs, err)) > 0.5:
            print(f"  > 0.5: draw {k} {d:.2f} mm {sp_name} {dn} LD/SA/Feret {err[0]:+.2f} {err[1]:+.2f} {err[2]:+.2f}")
        rows.append((d, *err))
    r = np.array(rows)
    for b0, b1 in BANDS:
        s = r[(r[:, 0] >= b0) & (r[:, 0] < b1)]
        if len(s) == 0:
            continue
        mx = np.abs(s[:, 1:]).max(axis=0)
        over = (np.abs(s[:, 1:]) > 0.5).sum(axis=0)
        print(f"{b0}-{b1} mm n={len(s)}: max LD {mx[0]:.2f} SA {mx[1]:.2f} Feret {mx[2]:.2f}; > 0.5 voxel: {over[0]} / {over[1]} / {over[2]}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--offset"]
    main(int(args[0]), int(args[1]), *(float(x) for x in args[2:4]), offset="--offset" in sys.argv)

"""Carrying a lesion's centre to another time point: ``RegistrationParams.carry()`` (block means on
~3 mm voxels, two pyramid levels) against the full registration (``RegistrationParams()``), in the same run.

The 512 x 512 x 100 study phantom (0.68 x 0.68 x 1.5 mm, portal venous), its fu1 moved in the
plane by ``--shift`` voxels (rows, columns; air where nothing moved in), registered rigid then
affine with and without the baseline's liver mask, alternated over ``--rounds`` rounds (the order
swapped every round) after one untimed carry run (imports, the kernels' first load).  Prints
each run's time, the ratio of the medians, and how far L1's centre lands from the true move (mm):
the click must land inside the lesion, so a voxel or two is the need, not a tenth.  A run that
lands it more than two voxels (twice the largest spacing) away is a wrong result: the script prints
MISMATCH and exits with 1.

The machine is shared: read the ratios, not the absolute times.

Usage: ``python benchmarks/bench_register_carry.py [--rounds 2] [--shift 20,-25] [--shape 100,512,512]``
(``--shape`` keeps the 150 x 350 x 350 mm field of view; the smallest run: ``--rounds 1 --shape
40,128,128 --shift 5,-6``)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import RegistrationParams, register_volumes
    from tests.segment._phantom import shifted_in_plane

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--shift", default="20,-25", help="in-plane move of the follow-up, voxels (rows,columns)")
    ap.add_argument("--shape", default="100,512,512", help="the study phantom, slices,rows,cols (default 100,512,512)")
    args = ap.parse_args(argv)
    dy, dx = (int(v) for v in args.shift.split(","))
    sh = tuple(int(v) for v in args.shape.split(","))
    if len(sh) != 3:
        ap.error(f"--shape {args.shape}: give slices,rows,cols, e.g. 100,512,512")
    sp = (150.0 / sh[0], 350.0 / sh[1], 350.0 / sh[2])  # 1.5 x 0.68359375 x 0.68359375 mm at 100 x 512 x 512
    base = make_study(0, timepoint="baseline", spacing=sp, shape=sh)
    fu = make_study(0, timepoint="fu1", spacing=sp, shape=sh)
    fixed, pv = base.volumes["portal_venous"], fu.volumes["portal_venous"]
    moving = pv.with_array(shifted_in_plane(np.asarray(pv.array), dy, dx, -1000))
    centre = np.asarray(base.truth["lesions"]["L1"]["seed_lps"], float)
    true_move = np.array([dx * sp[2], dy * sp[1], 0.0])  # LPS x = columns, y = rows
    tolerance_mm = 2.0 * max(sp)
    register_volumes(fixed, moving, kind="affine", params=RegistrationParams.carry())  # warm-up, not timed
    times: dict[tuple[str, bool], list[float]] = {}
    wrong: list[str] = []
    variants = [("carry", RegistrationParams.carry()), ("full", RegistrationParams())]
    for r in range(args.rounds):
        for name, params in (variants if r % 2 == 0 else variants[::-1]):
            for masked in (False, True):
                t0 = time.perf_counter()
                reg = register_volumes(fixed, moving, kind="affine", params=params,
                                       fixed_mask=base.liver if masked else None)
                dt = time.perf_counter() - t0
                times.setdefault((name, masked), []).append(dt)
                err = float(np.linalg.norm(reg.map_to_moving(centre) - centre - true_move))
                print(f"round {r} {name:5s} {'liver mask' if masked else 'whole image'}: {dt:5.1f} s, "
                      f"L1's centre {err:.2f} mm from the true move", flush=True)
                if not err <= tolerance_mm:
                    wrong.append(f"round {r} {name} {'liver mask' if masked else 'whole image'}: {err:.2f} mm")
    for masked in (False, True):
        c, f = statistics.median(times[("carry", masked)]), statistics.median(times[("full", masked)])
        print(f"{'liver mask' if masked else 'whole image'}: carry {c:.1f} s, full {f:.1f} s, full / carry {f / c:.1f}x")
    if wrong:
        print(f"MISMATCH: L1's centre lands more than {tolerance_mm:.2f} mm (two voxels) from the true move: "
              + "; ".join(wrong))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

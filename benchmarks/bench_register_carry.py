"""Carrying a lesion's centre to another time point: ``RegistrationParams.carry()`` (block means on
~3 mm voxels, two pyramid levels) against the full registration (``RegistrationParams()``), in the same run.

The 512 x 512 x 100 study phantom (0.68 x 0.68 x 1.5 mm, portal venous), its fu1 moved in the
plane by ``--shift`` voxels (rows, columns; air where nothing moved in), registered rigid then
affine with and without the baseline's liver mask, alternated over ``--rounds`` rounds.  Prints
each run's time, the ratio of the medians, and how far L1's centre lands from the true move (mm):
the click must land inside the lesion, so a voxel or two is the need, not a tenth.

The machine is shared: read the ratios, not the absolute times.

Usage: ``python benchmarks/bench_register_carry.py [--rounds 2] [--shift 20,-25]``
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
    args = ap.parse_args(argv)
    dy, dx = (int(v) for v in args.shift.split(","))
    sp, sh = (1.5, 0.68359375, 0.68359375), (100, 512, 512)
    base = make_study(0, timepoint="baseline", spacing=sp, shape=sh)
    fu = make_study(0, timepoint="fu1", spacing=sp, shape=sh)
    fixed, pv = base.volumes["portal_venous"], fu.volumes["portal_venous"]
    moving = pv.with_array(shifted_in_plane(np.asarray(pv.array), dy, dx, -1000))
    centre = np.asarray(base.truth["lesions"]["L1"]["seed_lps"], float)
    true_move = np.array([dx * sp[2], dy * sp[1], 0.0])  # LPS x = columns, y = rows
    times: dict[tuple[str, bool], list[float]] = {}
    for r in range(args.rounds):
        for name, params in (("carry", RegistrationParams.carry()), ("full", RegistrationParams())):
            for masked in (False, True):
                t0 = time.perf_counter()
                reg = register_volumes(fixed, moving, kind="affine", params=params,
                                       fixed_mask=base.liver if masked else None)
                dt = time.perf_counter() - t0
                times.setdefault((name, masked), []).append(dt)
                err = float(np.linalg.norm(reg.map_to_moving(centre) - centre - true_move))
                print(f"round {r} {name:5s} {'liver mask' if masked else 'whole image'}: {dt:5.1f} s, "
                      f"L1's centre {err:.2f} mm from the true move", flush=True)
    for masked in (False, True):
        c, f = statistics.median(times[("carry", masked)]), statistics.median(times[("full", masked)])
        print(f"{'liver mask' if masked else 'whole image'}: carry {c:.1f} s, full {f:.1f} s, full / carry {f / c:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

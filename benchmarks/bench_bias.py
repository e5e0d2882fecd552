"""``segment.bias_corrected`` against SimpleITK's N4 as usually run, on an MR-like body with a known field.

The peer is the common recipe: ``N4BiasFieldCorrectionImageFilter`` with its defaults (four fitting levels of 50
iterations, four control points), the image shrunk 4 x in-plane (and along z when the slices are under 2 mm), an
Otsu mask, the field read back on the full grid.  Ours fits one level with knots >= 100 mm apart on ~6 mm voxels
(``BIAS_MIN_SPAN_MM``, ``BIAS_GRID_MM``).  Both are timed in the same run (best of ``--repeat``), and both results
are checked against the truth: the field left in the body, as the spread (max / min - 1) of 20 x 20-pixel block
medians of the corrected image over the field-free one (the field put in spreads ~0.33).  A result that leaves more
than half of the field prints FAILED and exits 1.

Usage::

    python benchmarks/bench_bias.py [--size small|mr] [--repeat 3]

``small``: 24 x 160 x 200 voxels of 5 x 1.8 x 1.8 mm (the tests' body); ``mr``: 80 x 512 x 512 of 3 x 0.75 x 0.75 mm
(a liver MR series): ``tests.segment._phantom.mr_body`` on either grid.  docs/validation.md section 2.1, "Grids and MR scalings outside the sweep", item 5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"small": ((24, 160, 200), (5.0, 1.8, 1.8)), "mr": ((80, 512, 512), (3.0, 0.75, 0.75))}


def peer(vol):  # type: ignore[no-untyped-def]
    """SimpleITK's N4 as usually run (module docstring)."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.asarray(vol.array, np.float32))
    img.SetSpacing(tuple(float(v) for v in vol.spacing[::-1]))
    mask = sitk.OtsuThreshold(img, 0, 1, 200)
    f = [4, 4, 4 if vol.spacing[0] < 2 else 1]  # (x, y, z)
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.Execute(sitk.Shrink(img, f), sitk.Shrink(mask, f))
    field = sitk.GetArrayFromImage(sitk.Exp(n4.GetLogBiasFieldAsImage(img)))
    return np.asarray(vol.array, np.float32) / field


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging.segment import bias_corrected
    from tests.segment._phantom import field_spread, mr_body

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="small", help="the grid (default small)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the best kept (default 3)")
    args = ap.parse_args(argv)
    vol, true = mr_body(0, *SIZES[args.size])
    before = field_spread(np.asarray(vol.array), true)
    rows = {}
    for name, fn in (("hcc_imaging bias_corrected", lambda: np.asarray(bias_corrected(vol).array)),
                     ("SimpleITK N4 (4 levels, shrink 4)", lambda: peer(vol))):
        best, out = np.inf, None
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        rows[name] = (best, field_spread(out, true))  # type: ignore[arg-type]
    print(f"{args.size}: {vol.shape} voxels of {vol.spacing} mm; the field put in spreads {before:.3f}")
    failed = False
    for name, (t, left) in rows.items():
        bad = left > 0.5 * before
        failed |= bad
        print(f"  {name:36s} {t:6.2f} s   field left {left:.3f}{'   FAILED (more than half the field left)' if bad else ''}")
    (t_ours, _), (t_peer, _) = rows.values()
    print(f"  ours / peer time {t_ours / t_peer:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

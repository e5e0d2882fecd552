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
(a liver MR series).  docs/validation.md section 2.1, "Grids and MR scalings outside the sweep", item 5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"small": ((24, 160, 200), (5.0, 1.8, 1.8)), "mr": ((80, 512, 512), (3.0, 0.75, 0.75))}


def body(shape: tuple[int, int, int], sp: tuple[float, float, float], seed: int = 0):  # type: ignore[no-untyped-def]
    """The tests' MR-like body (``tests.segment._phantom.mr_body``) on any grid: an ellipse 340 x 260 mm at 900, a
    liver at 1600 holding a 40 mm lesion at 1200, noise 30, air near 0, times +-15 % across and +8 % front to back.
    Returns the Volume and the field-free image."""
    from hcc_imaging.volume import Modality, Volume

    rng = np.random.default_rng(seed)
    yy = (np.arange(shape[1]) - shape[1] / 2)[None, :, None] * sp[1]
    xx = (np.arange(shape[2]) - shape[2] / 2)[None, None, :] * sp[2]
    zz = (np.arange(shape[0]) - shape[0] / 2)[:, None, None] * sp[0]
    img = np.zeros(shape, np.float32)
    img[np.broadcast_to((yy / 130) ** 2 + (xx / 170) ** 2 < 1, shape)] = 900.0
    img[np.broadcast_to(((yy + 10) / 80) ** 2 + ((xx + 60) / 100) ** 2 < 1, shape)] = 1600.0
    img[(yy + 10) ** 2 + (xx + 60) ** 2 + zz**2 < 20**2] = 1200.0
    noise = rng.normal(0, 30, shape).astype(np.float32)
    true = np.where(img > 0, img + noise, np.abs(noise) / 2)
    field = ((1 + 0.15 * xx / 170) * (1 + 0.08 * (yy / 130) ** 2)).astype(np.float32)
    return Volume.create(true * field, spacing=sp, modality=Modality.MR, series_description="T1 body"), true


def spread(arr: np.ndarray, true: np.ndarray) -> float:  # type: ignore[type-arg]
    """The field left: max / min - 1 of the 20 x 20-pixel block medians of ``arr / true`` in the body."""
    r = arr / np.where(true > 100, true, np.nan)
    n = r.shape
    blocks = [np.nanmedian(r[:, i:i + 20, j:j + 20]) for i in range(0, n[1], 20) for j in range(0, n[2], 20)
              if np.isfinite(r[:, i:i + 20, j:j + 20]).sum() > 0.5 * n[0] * 400]
    return float(max(blocks) / min(blocks) - 1)


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

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="small", help="the grid (default small)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, the best kept (default 3)")
    args = ap.parse_args(argv)
    vol, true = body(*SIZES[args.size])
    before = spread(np.asarray(vol.array), true)
    rows = {}
    for name, fn in (("hcc_imaging bias_corrected", lambda: np.asarray(bias_corrected(vol).array)),
                     ("SimpleITK N4 (4 levels, shrink 4)", lambda: peer(vol))):
        best, out = np.inf, None
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        rows[name] = (best, spread(out, true))  # type: ignore[arg-type]
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

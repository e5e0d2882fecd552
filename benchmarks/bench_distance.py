"""The compiled Euclidean distance transform (``hcc_imaging.segment._kernels.distance_transform_edt``)
against its peer, scipy's ``ndimage.distance_transform_edt``, in the same run; and what it buys the
liver segmentation, whose erosions, closings and reaches are distance transforms.

1. The transform alone, on the grids the segmentation hands it: the liver's 2 mm working grid
   (175 x 175 x 75 voxels, a smooth blob), step 7's leak clamp on a 512 x 512 study's lesion box
   (1 x 0.7 x 0.7 mm, 130 x 186 x 186 voxels) and a small lesion box.  Best of ``--repeats``,
   interleaved; prints the ratio and how many voxels differ (scipy's feature transform misses the
   exact distance by one unit in the last place at rare near-ties; the kernel is exact).  A voxel
   whose distances differ by more than ``ULP_TOLERANCE`` units in the last place of scipy's is a
   mismatch: it is printed and the script exits with 1.
2. ``segment_liver`` on the 512 x 512 x 100 study phantom's portal-venous phase, kernels on and
   off (``HCC_IMAGING_JIT=0``: scipy), alternated over ``--rounds`` rounds; the masks must agree
   (identical in every round), else the script prints MISMATCH and exits with 1.

The machine is shared: read the ratios, not the absolute times.

Usage: ``python benchmarks/bench_distance.py [--repeats 5] [--rounds 2] [--cases liver clamp small]
[--shape 100,512,512]`` (the smallest run: ``--cases small --shape 30,96,96 --repeats 1 --rounds 1``)
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: the kernel's distance may differ from scipy's by this many units in the last place of scipy's
#: (scipy's feature transform is one unit off at rare near-ties); more is a mismatch
ULP_TOLERANCE = 1
#: the transform's inputs: name -> (label, shape, spacing mm, the blob's smoothing sigma in voxels)
CASES = {
    "liver": ("liver working grid, 2 mm", (75, 175, 175), (2.0, 2.0, 2.0), 3.0),
    "clamp": ("leak clamp box, 1 x 0.7 x 0.7 mm", (130, 186, 186), (1.0, 0.7, 0.7), 4.0),
    "small": ("small lesion box, 2.5 x 0.7 x 0.7 mm", (24, 80, 80), (2.5, 0.703, 0.703), 2.0),
}


def _blob(shape: tuple[int, int, int], sigma: float, seed: int) -> np.ndarray:
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    m = np.ones(shape, bool)  # nonzero = measured; the blob is the background (the features)
    inner = tuple(slice(n // 5, n - n // 5) for n in shape)
    m[inner] = ndi.gaussian_filter(rng.random(tuple(n - 2 * (n // 5) for n in shape)), sigma) <= 0.5
    return m


def _best(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def mismatches(ref: np.ndarray, got: np.ndarray, ulps: int = ULP_TOLERANCE) -> np.ndarray:
    """The voxels (a boolean array) where the kernel's distances ``got`` differ from scipy's
    ``ref`` by more than ``ulps`` units in the last place of ``ref``."""
    return np.abs(got - ref) > ulps * np.spacing(np.abs(ref))


def bench_transform(repeats: int, names: list[str]) -> bool:
    """Time the transform on the ``CASES`` named; True when every distance agrees with scipy's within
    ``ULP_TOLERANCE`` (the mismatches are printed)."""
    from scipy import ndimage as ndi

    from hcc_imaging.segment import _kernels

    _kernels.distance_transform_edt(_blob((8, 9, 10), 1.0, 0), (1.0, 1.0, 1.0))  # warm-up (load the cache)
    print(f"{'input':40s} {'voxels':>10s} {'scipy ms':>9s} {'kernel ms':>10s} {'ratio':>6s} {'differ':>7s}")
    ok = True
    for key in names:
        name, shape, sp, sigma = CASES[key]
        m = _blob(shape, sigma, 1)
        ref = ndi.distance_transform_edt(m, sampling=sp)
        got = _kernels.distance_transform_edt(m, sp)
        t_ref = _best(lambda m=m, sp=sp: ndi.distance_transform_edt(m, sampling=sp), repeats)
        t_got = _best(lambda m=m, sp=sp: _kernels.distance_transform_edt(m, sp), repeats)
        print(f"{name:40s} {m.size:10d} {t_ref * 1e3:9.1f} {t_got * 1e3:10.1f} {t_ref / t_got:5.1f}x "
              f"{int(np.count_nonzero(got != ref)):7d}")
        bad = mismatches(ref, got)
        if bad.any():
            ok = False
            worst = float(np.abs(got - ref)[bad].max())
            first = "; ".join(f"{tuple(int(v) for v in i)} kernel {got[tuple(i)]:.6g} scipy {ref[tuple(i)]:.6g}"
                              for i in np.argwhere(bad)[:5])
            print(f"  MISMATCH: {int(bad.sum())} voxels of {name} differ from scipy's by more than {ULP_TOLERANCE} ulp "
                  f"(largest {worst:.3g} mm); first (slice, row, col): {first}")
    return ok


def bench_liver(rounds: int, shape: tuple[int, int, int] = (100, 512, 512)) -> bool:
    """Time ``segment_liver`` with the kernels and with scipy's transform on the study phantom of
    ``shape`` (a 150 x 348 x 348 mm field of view); True when every mask is the same."""
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import _kernels, segment_liver
    from hcc_imaging.volume import Phase
    from tests._jit import numpy_only

    spacing = (150.0 / shape[0], 348.0 / shape[1], 348.0 / shape[2])  # 1.5 x 0.68 x 0.68 mm at 100 x 512 x 512
    study = make_study(0, "baseline", shape=shape, spacing=spacing)
    vol = study.volumes[Phase.PORTAL_VENOUS]
    segment_liver(vol)  # warm-up
    times: dict[str, list[float]] = {"kernel": [], "scipy": []}
    hashes: dict[str, set[str]] = {"kernel": set(), "scipy": set()}
    for _ in range(rounds):
        for name in ("kernel", "scipy"):
            if name == "scipy":
                with numpy_only(_kernels):
                    t = time.perf_counter()
                    m = segment_liver(vol)
                    times[name].append(time.perf_counter() - t)
            else:
                t = time.perf_counter()
                m = segment_liver(vol)
                times[name].append(time.perf_counter() - t)
            hashes[name].add(hashlib.md5(np.packbits(m.array != 0).tobytes()).hexdigest())
    k, s = statistics.median(times["kernel"]), statistics.median(times["scipy"])
    same = hashes["kernel"] == hashes["scipy"] and len(hashes["kernel"]) == 1
    print(f"segment_liver, {' x '.join(str(v) for v in shape[::-1])} portal venous: kernels {k:.2f} s, "
          f"scipy's transform {s:.2f} s (ratio {s / k:.2f}x over {rounds} rounds); "
          f"masks {'identical' if same else 'DIFFER'}")
    if not same:
        print(f"  MISMATCH: segment_liver's masks differ ({len(hashes['kernel'])} kernel / {len(hashes['scipy'])} "
              f"scipy mask hashes over {rounds} rounds)")
    return same


def _shape(text: str) -> tuple[int, int, int]:
    vals = tuple(int(v) for v in text.split(","))
    if len(vals) != 3:
        raise argparse.ArgumentTypeError(f"expected slices,rows,cols (three integers), got {text!r}")
    return vals  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES),
                    help="the transform's inputs (default: all three)")
    ap.add_argument("--shape", type=_shape, default=(100, 512, 512),
                    help="the liver study phantom, slices,rows,cols (default 100,512,512; a 150 x 348 x 348 mm field)")
    args = ap.parse_args(argv)
    ok = bench_transform(args.repeats, args.cases)
    ok = bench_liver(args.rounds, args.shape) and ok
    if not ok:
        print("FAILED: the kernel and scipy disagree (MISMATCH above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The compiled Euclidean distance transform (``hcc_imaging.segment._kernels.distance_transform_edt``)
against its peer, scipy's ``ndimage.distance_transform_edt``, in the same run; and what it buys the
liver segmentation, whose erosions, closings and reaches are distance transforms.

1. The transform alone, on the grids the segmentation hands it: the liver's 2 mm working grid
   (175 x 175 x 75 voxels, a smooth blob), step 7's leak clamp on a 512 x 512 study's lesion box
   (1 x 0.7 x 0.7 mm, 130 x 186 x 186 voxels) and a small lesion box.  Best of ``--repeats``,
   interleaved; prints the ratio and how many voxels differ (scipy's feature transform misses the
   exact distance by one unit in the last place at rare near-ties; the kernel is exact).
2. ``segment_liver`` on the 512 x 512 x 100 study phantom's portal-venous phase, kernels on and
   off (``HCC_IMAGING_JIT=0``: scipy), alternated over ``--rounds`` rounds; the masks must agree.

The machine is shared: read the ratios, not the absolute times.

Usage: ``python benchmarks/bench_distance.py [--repeats 5] [--rounds 2]``
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


def bench_transform(repeats: int) -> None:
    from scipy import ndimage as ndi

    from hcc_imaging.segment import _kernels

    cases = [
        ("liver working grid, 2 mm", (75, 175, 175), (2.0, 2.0, 2.0), 3.0),
        ("leak clamp box, 1 x 0.7 x 0.7 mm", (130, 186, 186), (1.0, 0.7, 0.7), 4.0),
        ("small lesion box, 2.5 x 0.7 x 0.7 mm", (24, 80, 80), (2.5, 0.703, 0.703), 2.0),
    ]
    _kernels.distance_transform_edt(_blob((8, 9, 10), 1.0, 0), (1.0, 1.0, 1.0))  # warm-up (load the cache)
    print(f"{'input':40s} {'voxels':>10s} {'scipy ms':>9s} {'kernel ms':>10s} {'ratio':>6s} {'differ':>7s}")
    for name, shape, sp, sigma in cases:
        m = _blob(shape, sigma, 1)
        ref = ndi.distance_transform_edt(m, sampling=sp)
        got = _kernels.distance_transform_edt(m, sp)
        t_ref = _best(lambda m=m, sp=sp: ndi.distance_transform_edt(m, sampling=sp), repeats)
        t_got = _best(lambda m=m, sp=sp: _kernels.distance_transform_edt(m, sp), repeats)
        print(f"{name:40s} {m.size:10d} {t_ref * 1e3:9.1f} {t_got * 1e3:10.1f} {t_ref / t_got:5.1f}x "
              f"{int(np.count_nonzero(got != ref)):7d}")


def bench_liver(rounds: int) -> None:
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import _kernels, segment_liver
    from hcc_imaging.volume import Phase
    from tests._jit import numpy_only

    study = make_study(0, "baseline", shape=(100, 512, 512), spacing=(1.5, 0.68, 0.68))
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
    print(f"segment_liver, 512 x 512 x 100 portal venous: kernels {k:.2f} s, scipy's transform {s:.2f} s "
          f"(ratio {s / k:.2f}x over {rounds} rounds); masks {'identical' if same else 'DIFFER'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    bench_transform(args.repeats)
    bench_liver(args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

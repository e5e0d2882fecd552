"""Benchmark: hcc_imaging.measure vs the tools a research team would otherwise use.

Run:  .venv/bin/python benchmarks/bench_measure.py [--rounds 5] [--archive 1000] [--quick] [--cpu]

Same masks for every tool (voxel in when its centre is inside an analytic sphere/ellipsoid,
spacing 1.0 x 0.703 x 0.703 mm, i.e. 1 mm slices).  Each tool runs its ``--rounds`` timed runs
in one block after one warm-up (block order rotated from size to size), medians, ratios = peer /
ours.  Blocks, not round-robin: right after a multi-threaded SimpleITK call the next tool in the
same process runs slower (ITK's worker threads are still spinning: a 10 mm lesion took 3.1 ms
CPU after a SimpleITK call, 1.6 ms in a block), which charged SimpleITK's threads to whichever
tool came next.

* ``hcc_imaging``   - measure_lesion: LD + short axis + 3-D Feret + volume (+ flags, provenance)
* ``skimage_2d``    - regionprops per slice: feret_diameter_max and axis_minor_length
* ``sitk_2d``       - LabelShapeStatisticsImageFilter per slice: Feret + oriented bounding box,
  SimpleITK's default thread count (as a user would run it; the issue's reference figures)
* ``sitk_2d_1t``    - the same with one thread: on this 2-core machine the faster of the two
  (small per-slice images cost more in thread start-up than they gain), so the fastest peer
* ``sitk_3d_feret`` - LabelShapeStatisticsImageFilter 3-D with Feret on (skipped above 50 mm:
  it compares all boundary pairs, 30 s for one 150 mm lesion, perf.md 3.3)
* ``pyradiomics``   - shape Maximum2DDiameterSlice + Maximum3DDiameter, when importable

Then a 1,000-lesion archive (log-uniform 5-150 mm, random ellipsoid, random spacing): total
time for hcc_imaging and, on the same lesions, for SimpleITK 2-D with its default threads and
with one thread (each tool over the whole archive in one block).

``--viable`` section (mRECIST viable diameter), same spacing, spheres of 10/30/100/150 mm with
(a) a concentric necrotic core of 60 % of the diameter (viable rim 20 % of the diameter thick:
the hardest case for the search, every slice through the core has a valid chord within a voxel
of the best) and (b) a nodular viable remnant (a ball of 35 % of the diameter at the edge of a
necrotic lesion).  Paired, interleaved: ``viable_diameter`` (fast search) vs
``_viable_diameter_reference`` (the original exhaustive search, the rule's definition), plus
``measure_lesion`` with the viable mask (everything, incl. viable short axis and fractions) and
without.  Reported in CPU time of the process (``time.process_time``: insensitive to waiting
for a core on a shared machine) and wall time; ratio = reference / fast.  Both searches must
return identical lengths and endpoints (checked).

This is not a test: times depend on the machine and its load; the ratios are what matters.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hcc_imaging, not the installed one

from hcc_imaging.measure import measure_lesion  # noqa: E402
from hcc_imaging.volume import LabelVolume  # noqa: E402

SPACING = (1.0, 0.703, 0.703)


def ellipsoid_mask(
    d_mm: float, spacing: tuple[float, float, float], b_frac: float = 1.0, c_frac: float = 1.0,
    angle: float = 0.0, offset: tuple[float, float, float] = (0.31, 0.17, 0.43),
) -> tuple[np.ndarray, float]:
    """uint8 mask (voxel in when its centre is inside) and the in-plane LD truth (equator)."""
    a = d_mm / 2.0
    b, c = a * b_frac, a * c_frac
    ext = max(a, b, c)
    n = [int(np.ceil(2 * ext / s)) + 4 for s in spacing]
    z = (np.arange(n[0]) - (n[0] - 1) / 2 + offset[0]) * spacing[0]
    y = (np.arange(n[1]) - (n[1] - 1) / 2 + offset[1]) * spacing[1]
    x = (np.arange(n[2]) - (n[2] - 1) / 2 + offset[2]) * spacing[2]
    ca, sa = np.cos(angle), np.sin(angle)
    u = x[None, None, :] * ca + y[None, :, None] * sa
    v = -x[None, None, :] * sa + y[None, :, None] * ca
    inside = (u / a) ** 2 + (v / b) ** 2 + (z[:, None, None] / c) ** 2 <= 1.0
    zs = z[np.any(inside, axis=(1, 2))]
    s = np.sqrt(np.clip(1 - (zs / c) ** 2, 0, None)).max() if len(zs) else 0.0
    return inside.astype(np.uint8), 2 * max(a, b) * s


# ------------------------------------------------------------------------------------------
# tools
# ------------------------------------------------------------------------------------------
def tool_ours(mask: np.ndarray, sp: tuple[float, float, float]) -> float:
    lv = LabelVolume.create(mask, spacing=sp)
    return measure_lesion(lv, 1).longest_diameter_mm


def tool_skimage_2d(mask: np.ndarray, sp: tuple[float, float, float]) -> float:
    from skimage.measure import regionprops

    best = 0.0
    for k in range(mask.shape[0]):
        sl = mask[k]
        if not sl.any():
            continue
        for rp in regionprops(sl.astype(np.int32), spacing=(sp[1], sp[2])):
            _ = rp.axis_minor_length
            best = max(best, float(rp.feret_diameter_max))
    return best


def tool_sitk_2d(mask: np.ndarray, sp: tuple[float, float, float], threads: int | None = None) -> float:
    import SimpleITK as sitk

    best = 0.0
    f = sitk.LabelShapeStatisticsImageFilter()
    if threads is not None:
        f.SetNumberOfThreads(threads)
    f.ComputeFeretDiameterOn()
    f.ComputeOrientedBoundingBoxOn()
    for k in range(mask.shape[0]):
        sl = mask[k]
        if not sl.any():
            continue
        img = sitk.GetImageFromArray(np.ascontiguousarray(sl))
        img.SetSpacing((sp[2], sp[1]))
        f.Execute(img)
        if f.HasLabel(1):
            _ = f.GetOrientedBoundingBoxSize(1)
            best = max(best, f.GetFeretDiameter(1))
    return best


def tool_sitk_2d_1t(mask: np.ndarray, sp: tuple[float, float, float]) -> float:
    return tool_sitk_2d(mask, sp, threads=1)


def tool_sitk_3d_feret(mask: np.ndarray, sp: tuple[float, float, float]) -> float:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(mask)
    img.SetSpacing((sp[2], sp[1], sp[0]))
    f = sitk.LabelShapeStatisticsImageFilter()
    f.ComputeFeretDiameterOn()
    f.Execute(img)
    return float(f.GetFeretDiameter(1))


def _pyradiomics() -> Callable[[np.ndarray, tuple[float, float, float]], float] | None:
    try:
        import SimpleITK as sitk
        from radiomics import shape
    except ImportError:
        return None

    def tool(mask: np.ndarray, sp: tuple[float, float, float]) -> float:
        img = sitk.GetImageFromArray(mask.astype(np.float32))
        img.SetSpacing((sp[2], sp[1], sp[0]))
        lab = sitk.GetImageFromArray(mask)
        lab.CopyInformation(img)
        feat = shape.RadiomicsShape(img, lab)
        _ = feat.getMaximum3DDiameterFeatureValue()
        return float(feat.getMaximum2DDiameterSliceFeatureValue())

    return tool


#: the clock of the per-lesion and archive timings: wall (default) or, with ``--cpu``, the
#: process's CPU time (steadier on a loaded machine for the single-threaded tools; for a
#: multi-threaded SimpleITK call it is the CPU of all its threads)
_CLOCK: list[Callable[[], float]] = [time.perf_counter]


def _time(fn: Callable[[], Any]) -> float:
    clock = _CLOCK[0]
    t = clock()
    fn()
    return clock() - t


# ------------------------------------------------------------------------------------------
def sweep(rounds: int, sizes: list[float]) -> None:
    tools: dict[str, Callable[..., float]] = {
        "hcc_imaging": tool_ours,
        "skimage_2d": tool_skimage_2d,
        "sitk_2d": tool_sitk_2d,
        "sitk_2d_1t": tool_sitk_2d_1t,
        "sitk_3d_feret": tool_sitk_3d_feret,
    }
    pyr = _pyradiomics()
    if pyr is not None:
        tools["pyradiomics"] = pyr
    else:
        print("pyradiomics: not importable, skipped")
    print(f"\n== per lesion, spheres, spacing {SPACING} mm, median of {rounds} runs (ms); ratio = peer / hcc_imaging ==")
    header = (
        f"{'D mm':>6} " + " ".join(f"{n:>14}" for n in tools) + "   fastest peer (x)   LD err ours / sitk_2d / skimage (mm)"
    )
    print(header)
    for i, d in enumerate(sizes):
        mask, truth = ellipsoid_mask(d, SPACING)
        active = {n: t for n, t in tools.items() if not (n in ("sitk_3d_feret", "pyradiomics") and d > 50)}
        values = {n: t(mask, SPACING) for n, t in active.items()}  # warm-up + accuracy
        times: dict[str, list[float]] = {n: [] for n in active}
        names = list(active)
        for n in names[i % len(names) :] + names[: i % len(names)]:  # one block per tool
            for _ in range(rounds):
                times[n].append(_time(lambda n=n: active[n](mask, SPACING)))
        med = {n: statistics.median(v) * 1e3 for n, v in times.items()}
        cells = []
        for n in tools:
            if n not in med:
                cells.append(f"{'skipped':>14}")
            elif n == "hcc_imaging":
                cells.append(f"{med[n]:>11.2f} ms")
            else:
                cells.append(f"{med[n]:>7.1f} {med[n] / med['hcc_imaging']:>5.0f}x")
        peers = {n: v for n, v in med.items() if n != "hcc_imaging"}
        fastest = min(peers, key=lambda n: peers[n])
        fcell = f"{fastest} {peers[fastest] / med['hcc_imaging']:.1f}x"
        errs = f"{values['hcc_imaging'] - truth:+.2f} / {values['sitk_2d'] - truth:+.2f} / {values['skimage_2d'] - truth:+.2f}"
        print(f"{d:>6.0f} " + " ".join(cells) + f"   {fcell:>17}   " + errs)


def archive(n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    spacings = [(1.0, 0.703, 0.703), (2.5, 0.703, 0.703), (5.0, 0.703, 0.703)]
    t0 = time.perf_counter()
    masks = []
    for _ in range(n):
        d = float(np.exp(rng.uniform(np.log(5), np.log(150))))
        sp = spacings[int(rng.integers(3))]
        m, _ = ellipsoid_mask(d, sp, rng.uniform(0.45, 1), rng.uniform(0.45, 1), rng.uniform(0, np.pi), tuple(rng.uniform(-0.5, 0.5, 3)))
        if m.any():
            masks.append((m, sp))
    gen = time.perf_counter() - t0
    print(f"\n== archive: {len(masks)} random lesions (5-150 mm, log-uniform; 1/2.5/5 mm slices), generated in {gen:.1f} s ==")
    tools = [("hcc_imaging", tool_ours), ("sitk_2d", tool_sitk_2d), ("sitk_2d_1t", tool_sitk_2d_1t)]
    per: dict[str, np.ndarray] = {}
    for name, fn in tools:  # each tool over the whole archive in one block (see the module docstring)
        per[name] = np.array([_time(lambda fn=fn, m=m, sp=sp: fn(m, sp)) for m, sp in masks])
    o = per["hcc_imaging"]
    print(f"hcc_imaging (LD+SA+Feret+volume): total {o.sum():.2f} s, median {np.median(o) * 1e3:.2f} ms, p95 {np.percentile(o, 95) * 1e3:.1f} ms")
    for name, label in (("sitk_2d", "sitk_2d per-slice Feret+OBB    "), ("sitk_2d_1t", "sitk_2d, one thread           ")):
        p = per[name]
        print(
            f"{label}: total {p.sum():.2f} s, median {np.median(p) * 1e3:.2f} ms, p95 {np.percentile(p, 95) * 1e3:.1f} ms;"
            f" ratio {name} / hcc_imaging: per lesion median {np.median(p / o):.1f}x, total {p.sum() / o.sum():.1f}x"
        )


def viable_case(d_mm: float, kind: str, sp: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(lesion, viable) uint8 masks: ``core`` = concentric necrotic core of 60 % of the diameter,
    ``nodule`` = viable ball of 35 % of the diameter centred at 0.6 R in a necrotic lesion."""
    r = d_mm / 2.0
    n = [int(np.ceil(d_mm / s)) + 4 for s in sp]
    off = (0.31, 0.17, 0.43)
    z, y, x = [(np.arange(m) - (m - 1) / 2 + o) * s for m, o, s in zip(n, off, sp, strict=True)]
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    rr = np.sqrt(zz * zz + yy * yy + xx * xx)
    lesion = rr <= r
    if kind == "core":
        viable = lesion & (rr > 0.3 * d_mm)
    else:
        viable = lesion & (zz * zz + yy * yy + (xx - 0.6 * r) ** 2 <= (0.35 * r) ** 2)
    return lesion.astype(np.uint8), viable.astype(np.uint8)


def _cpu_wall(fn: Callable[[], Any]) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c, time.perf_counter() - w


def viable_sweep(rounds: int, sizes: list[float]) -> None:
    from hcc_imaging.measure import viable_diameter
    from hcc_imaging.measure.viable import _viable_diameter_reference

    print(
        f"\n== mRECIST viable diameter, spacing {SPACING} mm, median of {rounds} paired runs; "
        "CPU ms (wall ms); ratio = reference / fast =="
    )
    print(f"{'D mm':>5} {'case':>7} {'reference':>18} {'fast':>16} {'ratio cpu':>9} {'(wall)':>7}"
          f" {'measure_lesion+viable':>22} {'measure_lesion':>15}  viable mm")
    for d in sizes:
        for kind in ("core", "nodule"):
            les, via = viable_case(d, kind, SPACING)
            lab = LabelVolume.create(les, spacing=SPACING)
            vv = LabelVolume.create(via, spacing=SPACING)
            fast = viable_diameter(lab, 1, viable=vv)
            ref = _viable_diameter_reference(lab, 1, viable=vv)
            assert fast is not None and ref is not None
            if (fast.length_mm, fast.endpoints_lps) != (ref.length_mm, ref.endpoints_lps):
                raise SystemExit(f"MISMATCH at {d} mm {kind}: fast {fast} vs reference {ref}")
            fns = {
                "ref": lambda: _viable_diameter_reference(lab, 1, viable=vv),
                "fast": lambda: viable_diameter(lab, 1, viable=vv),
                "ml_v": lambda: measure_lesion(lab, 1, viable=vv),
                "ml": lambda: measure_lesion(lab, 1),
            }
            res: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
            names = list(fns)
            for r in range(rounds):
                for n in names[r % len(names) :] + names[: r % len(names)]:
                    res[n].append(_cpu_wall(fns[n]))
            cpu = {k: statistics.median(c for c, _ in v) * 1e3 for k, v in res.items()}
            wall = {k: statistics.median(w for _, w in v) * 1e3 for k, v in res.items()}
            ratio_cpu = statistics.median(a[0] / max(b[0], 1e-9) for a, b in zip(res["ref"], res["fast"], strict=True))
            ratio_wall = statistics.median(a[1] / b[1] for a, b in zip(res["ref"], res["fast"], strict=True))
            print(
                f"{d:>5.0f} {kind:>7} {cpu['ref']:>8.1f} ({wall['ref']:>7.1f}) {cpu['fast']:>6.1f} ({wall['fast']:>7.1f})"
                f" {ratio_cpu:>8.1f}x {ratio_wall:>6.1f}x {cpu['ml_v']:>10.1f} ({wall['ml_v']:>7.1f}) "
                f"{cpu['ml']:>5.1f} ({wall['ml']:>6.1f})  {fast.length_mm:.2f}"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--archive", type=int, default=1000, help="lesions in the archive run (0 = skip)")
    ap.add_argument("--quick", action="store_true", help="sizes 10/30/150 only, 3 rounds, 100-lesion archive")
    ap.add_argument("--viable", action="store_true", help="also time the mRECIST viable diameter (fast vs reference)")
    ap.add_argument("--viable-only", action="store_true", help="only the viable-diameter section")
    ap.add_argument("--cpu", action="store_true", help="time with the process's CPU clock instead of wall time")
    args = ap.parse_args(argv)
    sizes = [5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 150.0]
    rounds, n_archive = args.rounds, args.archive
    if args.quick:
        sizes, rounds, n_archive = [10.0, 30.0, 150.0], 3, min(n_archive, 100)
    import os

    if args.cpu:
        _CLOCK[0] = time.process_time
    print(f"clock: {'process CPU' if args.cpu else 'wall'}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cpus {os.cpu_count()}, load {os.getloadavg()}")
    from hcc_imaging.measure import _kernels

    if _kernels.jit_enabled():
        import numba

        print(f"hcc_imaging section fits: numba {numba.__version__} kernel (HCC_IMAGING_JIT=0: the numpy path)")
    else:
        print("hcc_imaging section fits: the numpy path (numba missing or HCC_IMAGING_JIT=0)")
    if not args.viable_only:
        sweep(rounds, sizes)
        if n_archive:
            archive(n_archive)
    if args.viable or args.viable_only:
        viable_sweep(rounds, [10.0, 30.0, 150.0] if args.quick else [10.0, 30.0, 100.0, 150.0])
    print(f"load at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Probe, not the product's method: a coarse-to-fine click for large lesions on thin slices.

docs/validation.md section 0: a 5 cm lesion on thin slices (1 mm, 0.703 mm isotropic) takes
``segment_lesion`` 125-200 ms, over the issue's 0.1 s, although no one step takes the time.  This
probe measures the other way to get there: segment on a grid twice as coarse, then place the
border on the fine grid.

1. **Coarse grid.** The volume's 2 x 2 x 2 blocks averaged (slices thicker than ``--max-fine-slice-mm``
   are kept and only the pixels paired: 1 x 2 x 2), as strided sums (``segment._translation._block_mean``, the
   registration's; the block average lowers the noise by the square root of the block's voxels).  A liver mask, when the case has one,
   is coarsened the same way (inside where at least half the block is).
2. **The click on it**: ``segment_lesion`` with default parameters at the seed's coarse voxel.
3. **The border on the fine grid**: the coarse mask repeated onto the fine voxels; within one coarse
   voxel of its border (the band between its one-voxel erosion and dilation) a fine voxel is inside
   when the fine image smoothed by a Gaussian of one fine voxel lies on the lesion's side of the level
   half-way between the lesion's median (the eroded mask's voxels) and its surroundings' median (the
   two coarse voxels beyond the band).  Inside the band's inner side everything is the lesion.

Prints per case the probe's time (and its three parts: coarsening, coarse click, fine border), the
full click's, both masks' Dice against the truth (the phantom's, or the expert's for IRCAD17) and
their volumes over the truth's.  Both are timed best of ``--repeat``, alternated.

Cases: ``perf`` (the perf.md phantom as ``bench_segment.py --diameter-mm D --spacing-z Z`` builds it,
for each of ``--spacing-z``), ``small`` (the same at 30 mm, 0.703 mm isotropic: what a coarse grid
does to a lesion that does not need it), ``rind`` (the rind sweep's fine grid, where step 13 runs; its arterial phase),
``graded`` (the 5 cm heterogeneous tumour, 1 mm voxels) and ``ircad`` (3D-IRCADb-01 patient 17's two
tumours, with the classical liver; needs the shared data): ``bench_segment_hard.py``'s cases.

Usage: ``python benchmarks/probe_coarse_click.py [--cases perf small rind graded ircad] [--seeds 0 1 2]
[--spacing-z 1 0.703] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_segment_hard import DEFAULT_ZIP, graded_cases, ircad_cases, rind_cases  # noqa: E402

from hcc_imaging.segment._translation import _block_mean  # noqa: E402
from tests.segment._phantom import dice, perf_phantom  # noqa: E402


def coarse_volume(vol, f: tuple[int, int, int]):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from hcc_imaging.volume import Geometry

    g = vol.geometry
    c = _block_mean(np.asarray(vol.array), np.asarray(f))
    d = np.asarray(g.direction, float)
    sp = np.asarray(g.spacing, float)
    origin = np.asarray(g.origin, float) + d @ (sp * (np.asarray(f) - 1) / 2.0)
    cg = Geometry(shape=c.shape, spacing=tuple(sp * f), origin=tuple(origin), direction=d)
    return replace(vol, array=c, geometry=cg, meta={})


def coarse_labels(lab, cvol, f: tuple[int, int, int]):  # type: ignore[no-untyped-def]
    from hcc_imaging.volume import LabelVolume

    m = _block_mean(np.asarray(lab.array) != 0, np.asarray(f)) >= 0.5
    return LabelVolume(array=m.astype(np.uint8), geometry=cvol.geometry, labels={1: "liver"},
                       frame_of_reference_uid=lab.frame_of_reference_uid)


def factors(vol, max_fine_slice_mm: float) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    return (2 if vol.spacing[0] <= max_fine_slice_mm else 1, 2, 2)


def up(m: np.ndarray, f: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    for ax, k in enumerate(f):
        if k > 1:
            m = m.repeat(k, axis=ax)
    return m[: shape[0], : shape[1], : shape[2]]


def coarse_click(vol, seed, liver, f):  # type: ignore[no-untyped-def]
    """(fine mask, the coarse mask only repeated onto the fine voxels of its box and that box's (start, stop),
    [coarsen, click, border] ms)."""
    from hcc_imaging.segment import segment_lesion

    t = [time.perf_counter()]
    arr = np.asarray(vol.array)
    cvol = coarse_volume(vol, f)
    cliv = coarse_labels(liver, cvol, f) if liver is not None else None
    t.append(time.perf_counter())
    cseed = tuple(min(int(v) // k, n - 1) for v, k, n in zip(seed, f, cvol.shape))
    res = segment_lesion(cvol, seed_index=cseed, liver=cliv)
    mc = np.asarray(res.labels.array) != 0
    t.append(time.perf_counter())
    idx = np.argwhere(mc)
    lo = np.maximum(idx.min(0) - 3, 0)
    hi = np.minimum(idx.max(0) + 4, mc.shape)
    sub = mc[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    flo = lo * np.asarray(f)
    fhi = np.minimum(hi * np.asarray(f), arr.shape)
    fine = np.asarray(arr[flo[0]:fhi[0], flo[1]:fhi[1], flo[2]:fhi[2]], dtype=np.float32)
    shp = fine.shape
    ero = ndi.binary_erosion(sub)
    dil = ndi.binary_dilation(sub)
    ring = ndi.binary_dilation(dil, iterations=2) & ~dil
    inner, outer, ring_f = up(ero, f, shp), up(dil, f, shp), up(ring, f, shp)
    plain_sub = up(sub, f, shp)
    band = outer & ~inner
    lesion_v = float(np.median(fine[inner] if inner.any() else fine[plain_sub]))
    sur_v = float(np.median(fine[ring_f]))
    level = 0.5 * (lesion_v + sur_v)
    sm = ndi.gaussian_filter(fine, sigma=1.0, mode="nearest")
    side = sm < level if lesion_v < sur_v else sm > level
    m = inner | (band & side)
    out = np.zeros(arr.shape, bool)
    out[flo[0]:fhi[0], flo[1]:fhi[1], flo[2]:fhi[2]] = m
    t.append(time.perf_counter())
    return out, (plain_sub, flo, fhi), (np.diff(t) * 1000.0).tolist()


def perf_cases(seeds: list[int], zs: list[float], diameter: float) -> Iterator[tuple[str, object, np.ndarray, tuple, object]]:
    for sz in zs:
        scale = max(1.0, diameter / 30.0)
        nz = int(round(36 * 2.5 / sz * scale))
        nxy = int(round(128 * scale / 8)) * 8
        for s in seeds:
            ph = perf_phantom(s, spacing=(sz, 0.703, 0.703), shape=(nz, nxy, nxy), diameter_mm=diameter)
            yield (f"perf {diameter:g} mm, {sz:g} x 0.703 mm, seed {s}", ph.volume, np.asarray(ph.truth.array) != 0,
                   tuple(ph.seed_index), None)


def hard(gen: Iterator[tuple[str, object, np.ndarray, tuple, object]]) -> Iterator[tuple[str, object, np.ndarray, tuple, object]]:
    """``bench_segment_hard``'s cases as this probe reads them: (name, the clicked volume, truth, click,
    liver): the rind scenes' arterial phase alone, IRCAD17's CT with the classical liver."""
    for name, inputs, truth, click, vol in gen:
        liver = inputs[1] if isinstance(inputs, tuple) else None
        yield name, vol, np.asarray(truth) != 0, tuple(click), liver


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", default=["perf", "small"], choices=["perf", "small", "rind", "graded", "ircad"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--spacing-z", nargs="+", type=float, default=[1.0, 0.703])
    ap.add_argument("--diameter-mm", type=float, default=50.0)
    ap.add_argument("--max-fine-slice-mm", type=float, default=1.25,
                    help="slices up to this thick are paired too (default 1.25 mm); thicker ones are kept")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ircadb", type=Path, default=DEFAULT_ZIP)
    args = ap.parse_args(argv)
    from hcc_imaging.segment import segment_lesion

    with tempfile.TemporaryDirectory() as tmp:
        gens: list[Iterator[tuple[str, object, np.ndarray, tuple, object]]] = []
        for c in args.cases:
            if c == "perf":
                gens.append(perf_cases(args.seeds, args.spacing_z, args.diameter_mm))
            elif c == "small":
                gens.append(perf_cases(args.seeds, [0.703], 30.0))
            elif c == "rind":
                gens.append(hard(rind_cases(args.seeds)))
            elif c == "graded":
                gens.append(hard(graded_cases(args.seeds)))
            elif args.ircadb.is_file():
                gens.append(hard(ircad_cases(args.ircadb, Path(tmp))))
            else:
                print(f"ircad: {args.ircadb} not found, skipped")
        for gen in gens:
            for name, vol, truth, seed, liver in gen:
                f = factors(vol, args.max_fine_slice_mm)
                coarse_click(vol, seed, liver, f)
                segment_lesion(vol, seed_index=seed, liver=liver)
                tc, tf, parts = [], [], []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    m, coarse_only, pr = coarse_click(vol, seed, liver, f)
                    tc.append(time.perf_counter() - t0)
                    parts.append(pr)
                    t0 = time.perf_counter()
                    full = np.asarray(segment_lesion(vol, seed_index=seed, liver=liver).labels.array) != 0
                    tf.append(time.perf_counter() - t0)
                pr = parts[int(np.argmin(tc))]
                plain_sub, flo, fhi = coarse_only  # (the coarse mask alone, on the full grid: not timed)
                plain = np.zeros(truth.shape, bool)
                plain[flo[0]:fhi[0], flo[1]:fhi[1], flo[2]:fhi[2]] = plain_sub
                n = max(int(truth.sum()), 1)
                print(f"{name:42s} factors {f}: probe {min(tc) * 1000:5.0f} ms ({pr[0]:.0f} + {pr[1]:.0f} + {pr[2]:.0f})"
                      f" Dice {dice(m, truth):.4f} vol {m.sum() / n:.3f} (coarse alone {dice(plain, truth):.4f})"
                      f" | full click {min(tf) * 1000:5.0f} ms Dice {dice(full, truth):.4f} vol {full.sum() / n:.3f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

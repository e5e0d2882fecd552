"""Every field of ``segment_lesion``'s result over a corpus of clicks, written to JSON, and two such
files compared run by run: the check that a change meant to keep the results (a refactor, a speed-up)
does keep them.

``segment_sweeps.py`` compares Dice, which a changed note, phase, value or a mask moved by a voxel
can leave alone.  This compares the whole result: a hash of the label array and the provenance
(notes, checks, phase, values, window, border fields, parameters; the elapsed time left out), or the
error's type and message for a refused click.

Corpus (``--sets``; 711 runs by default, about two and a half minutes for all of them on this project's two-core machine):

======= ================================================================================
study   study phantom, sigma 15, seeds 0-1, every lesion and time point, click and line
study25 study phantom, sigma 25, seed 0
profile study phantom, sigma 15, seed 0, slices with a profile (``--slice-sub 5``)
ill     robustness sweep, 225 phantoms with ill-defined margins (3 mm, z blur 0.2), centre
sharp   robustness sweep, 225 phantoms (z blur 0.6), centre
rind    rims and rinds (1.5 x 0.7 x 0.7 and 3 x 2.3 x 2.3 mm, 1.5 / 2.5 / 3.5 mm layers, oval and
        lobulated, sigma 15, seed 0)
viable  ``viable_mask`` on the study phantom's true lesion map, sigma 15, seeds 0-1, every time point:
        the arterial phase alone, with the portal-venous phase, and with the pre-contrast phase too
        (registered); its label array's hash and its ``meta``
graded  the 5 cm heterogeneous tumour of ``bench_segment_hard.py`` (steps 7-8), seeds 0-2
liver   ``segment_liver``: the study phantom (sigma 15, seeds 0-1, every time point) on its phases
        (the portal-venous choice, carried to the arterial grid) and on each phase alone (unenhanced and
        arterial included: a mask or the ``LowContrastError``), with a seed point, without the tumour
        and dark-edge steps; the capsule phantom's bulging tumour held by ``include_lps``
ircad   3D-IRCADb patient 17's two tumours from a click at their centre with our liver (as the napari
        dock clicks), and that liver itself; not among the defaults: the liver takes a while, and the
        shared data must be there
======= ================================================================================

Usage::

    python benchmarks/segment_results.py run OUT.json [--sets study ill ...] [--max-runs N]
    python benchmarks/segment_results.py compare BASE.json NEW.json

Run it from a worktree of the base commit for BASE (it imports the checkout it lives in).
``compare`` prints each run whose result differs (and which fields) and exits with 1 when one does
or when the two files hold different runs, 0 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETS = ("study", "study25", "profile", "ill", "sharp", "rind", "viable", "graded", "liver")
EXTRA_SETS = ("ircad",)


def _cases(name: str) -> Iterator[tuple[str, Callable[[], Any]]]:
    """The set's runs: (a key, a call of ``segment_lesion``, ``viable_mask`` or ``segment_liver``)."""
    from hcc_imaging.phantoms import DEFAULT_SHAPE, DEFAULT_SPACING_MM, make_study
    from hcc_imaging.segment import segment_lesion
    from tests.segment._phantom import benchmark_module, rim_scene, rim_scene_shape

    if name in ("study", "study25", "profile"):
        noise, sub, seeds = {"study": (15.0, 1, (0, 1)), "study25": (25.0, 1, (0,)), "profile": (15.0, 5, (0,))}[name]
        study = benchmark_module("sweep_segment_study")
        for seed, tp in itertools.product(seeds, ("baseline", "fu1", "fu2")):
            st = (study.slice_profile_study(seed, tp, noise, DEFAULT_SPACING_MM, DEFAULT_SHAPE, sub) if sub > 1
                  else make_study(seed, timepoint=tp, noise_sd_hu=noise))
            for lid, rec in st.truth["lesions"].items():
                if rec.get("seed_lps") is None:
                    continue
                liver = None if lid in ("L6", "L7", "L8") else st.liver
                yield (f"{name} seed {seed} {tp} {lid} click",
                       lambda st=st, liver=liver, rec=rec: segment_lesion(st.volumes, liver=liver, seed_lps=rec["seed_lps"]))
                if rec.get("ld_endpoints_lps"):
                    yield (f"{name} seed {seed} {tp} {lid} line",
                           lambda st=st, liver=liver, rec=rec: segment_lesion(st.volumes, liver=liver,
                                                                             line_lps=rec["ld_endpoints_lps"]))
    elif name in ("ill", "sharp"):
        sweep = benchmark_module("sweep_segment_robustness")
        blur, z = (3.0, 0.2) if name == "ill" else (0.0, 0.6)
        for i, case in enumerate(sweep.combos()):
            def click(i: int = i, case: Any = case) -> Any:
                ph = sweep.phantom(i, case, z, blur)
                return segment_lesion(ph.volume, seed_index=ph.seed_index)
            yield f"{name} {case}", click
    elif name == "rind":
        for grid, rim, kind in itertools.product(("1.5,0.7,0.7", "3,2.3,2.3"), (1.5, 2.5, 3.5), ("oval", "lobulated")):
            sp = tuple(float(v) for v in grid.split(","))

            def fit(sp: Any = sp, rim: float = rim, kind: str = kind) -> Any:
                vols, _, at = rim_scene(kind, 0, 15.0, rim_mm=rim, spacing=sp, shape=rim_scene_shape(sp))
                return segment_lesion(vols, seed_index=at)
            yield f"rind {grid} {rim} mm {kind}", fit
    elif name == "viable":
        from hcc_imaging.segment import viable_mask

        for seed, tp in itertools.product((0, 1), ("baseline", "fu1", "fu2")):
            st = make_study(seed, timepoint=tp, noise_sd_hu=15.0)
            v = st.volumes
            yield (f"viable seed {seed} {tp} arterial",
                   lambda st=st, v=v: viable_mask(st.lesions, v["arterial"], liver=st.liver))
            yield (f"viable seed {seed} {tp} arterial + portal",
                   lambda st=st, v=v: viable_mask(st.lesions, v["arterial"], portal_venous=v["portal_venous"],
                                                  liver=st.liver))
            yield (f"viable seed {seed} {tp} arterial + portal + pre",
                   lambda st=st, v=v: viable_mask(st.lesions, v["arterial"], pre_contrast=v["pre_contrast"],
                                                  portal_venous=v["portal_venous"], liver=st.liver))
    elif name == "graded":
        for case, vol, _, centre, _ in benchmark_module("bench_segment_hard").graded_cases([0, 1, 2]):
            yield case, lambda vol=vol, centre=centre: segment_lesion(vol, seed_index=centre)
    elif name == "liver":
        from hcc_imaging.segment import LiverParams, segment_liver
        from tests.segment._capsule import capsule_phantom

        for seed, tp in itertools.product((0, 1), ("baseline", "fu1", "fu2")):
            st = make_study(seed, timepoint=tp, noise_sd_hu=15.0)
            v = st.volumes
            key = f"liver seed {seed} {tp}"
            yield f"{key} study", lambda v=v: segment_liver(v)
            yield f"{key} study on arterial", lambda v=v: segment_liver(v, phase="arterial")
            for ph in v:
                yield f"{key} {ph} alone", lambda v=v, ph=ph: segment_liver(v[ph])
            pv = v["portal_venous"]
            yield f"{key} seeded", lambda pv=pv: segment_liver(pv, seed_lps=pv.index_to_lps(
                [pv.shape[0] // 2, pv.shape[1] // 2, pv.shape[2] // 3]))
            yield (f"{key} plain", lambda pv=pv: segment_liver(pv, params=LiverParams(include_tumours=False,
                                                                                       refine_dark_edges=False)))
        for offset in (0.0, 15.0):
            cap = capsule_phantom(0, offset_mm=offset)
            yield f"liver capsule {offset:g} mm", lambda cap=cap: segment_liver(cap.volume)
            yield (f"liver capsule {offset:g} mm holding t1",
                   lambda cap=cap: segment_liver(cap.volume, include_lps=[cap.centres_lps["t1"]]))
    elif name == "ircad":
        import tempfile

        from hcc_imaging.segment import segment_liver

        hard = benchmark_module("bench_segment_hard")
        tmp = tempfile.mkdtemp(prefix="segment_results_")
        for i, (case, (ct, liver), _, centre, _) in enumerate(hard.ircad_cases(hard.DEFAULT_ZIP, Path(tmp))):
            if i == 0:
                yield "IRCAD17 liver", lambda ct=ct: segment_liver(ct)
            yield case, lambda ct=ct, liver=liver, centre=centre: segment_lesion(ct, seed_index=centre, liver=liver)
    else:
        raise ValueError(f"unknown set {name!r}; the sets are {', '.join(SETS + EXTRA_SETS)}")


def result_fields(call: Callable[[], Any]) -> dict[str, Any]:
    """The result of ``call()`` as JSON values: the provenance without times (a label map's ``meta``),
    and the label array's SHA-1; or the error's type and message (a segmentation error: a refused
    click)."""
    import numpy as np

    from hcc_imaging.errors import HccImagingError

    try:
        res = call()
    except HccImagingError as err:
        return {"error": type(err).__name__, "message": str(err)}
    labels = res.labels if hasattr(res, "provenance") else res  # a SegmentationResult, or a LabelVolume
    fields = res.provenance() if hasattr(res, "provenance") else {"meta": dict(res.meta)}
    fields["mask_sha1"] = hashlib.sha1(np.ascontiguousarray(labels.array).tobytes()).hexdigest()
    return _timeless(json.loads(json.dumps(fields, default=str)))  # type: ignore[no-any-return]


def _timeless(value: Any) -> Any:
    """``value`` (JSON) without the keys that hold a time (``elapsed_s``), at any depth."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if "elapsed" not in k}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def run(out: Path, sets: list[str], max_runs: int | None) -> int:
    results: dict[str, Any] = {}
    for name in sets:
        for n, (key, call) in enumerate(_cases(name)):
            if max_runs is not None and n >= max_runs:
                break
            results[key] = result_fields(call)
        print(f"{name}: {sum(k.startswith(name + ' ') for k in results)} runs", flush=True)
    from hcc_imaging._atomic import atomic_write_text

    atomic_write_text(out, json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"{len(results)} runs -> {out}")
    return 0


def compare(base: Path, new: Path) -> int:
    a, b = (json.loads(p.read_text()) for p in (base, new))
    only = sorted(set(a) ^ set(b))
    for key in only:
        print(f"only in {'BASE' if key in a else 'NEW'}: {key}")
    differ = 0
    for key in sorted(set(a) & set(b)):
        if a[key] != b[key]:
            differ += 1
            fields = sorted(f for f in set(a[key]) | set(b[key]) if a[key].get(f) != b[key].get(f))
            print(f"differs: {key}: {', '.join(fields)}")
    print(f"{len(set(a) & set(b))} runs in both: {differ} differ; {len(only)} in one file only")
    return 1 if differ or only else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="write every run's result fields to a JSON file")
    r.add_argument("out", type=Path)
    r.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS + EXTRA_SETS)
    r.add_argument("--max-runs", type=int, default=None, help="at most this many runs of each set")
    c = sub.add_parser("compare", help="compare two such files run by run")
    c.add_argument("base", type=Path)
    c.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        return run(args.out, args.sets, args.max_runs)
    return compare(args.base, args.new)


if __name__ == "__main__":
    raise SystemExit(main())

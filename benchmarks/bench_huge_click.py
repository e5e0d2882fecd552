"""CPU per click on the 512 x 512 x 100 study phantom's ascites (L8, refused), thrombus (L7) and
typical HCC (L1), as on main 4de7ce8 and as on this branch, alternated in one process
(docs/validation.md section 2.4, "A click on a huge region refused early"): "as main" turns step
11's bound on a mask far wider than any lumen (``_vessel.too_wide_for_a_lumen``) off and puts back
step 10's class distances over the whole box (``_multiphase._nearer_than_classes`` as it was).

Each click's CPU (``time.process_time``: every thread of the process, step 13's fit included) and
wall time, and the time spent in steps 10 (``_joint_fallback``) and 11 (``thrombus_in_lumen``); the
result (the voxels and the label array's hash, or the error's type) must be the same both ways.

``--against DIR`` (session of 2026-12-07, fourth): instead, step 10 of another checkout (its
``segment/_multiphase.py``, loaded beside this one's; the rest of the click this checkout's) against this
checkout's, alternated: the L8 refusal's step 10 before and after a change to it.

Usage::

    python benchmarks/bench_huge_click.py [--seed 2] [--noise 5] [--rounds 2] [--lesions L8 L7 L1] [--against DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--noise", type=float, default=5.0, help="noise sigma, HU (default 5)")
    ap.add_argument("--timepoint", default="baseline")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--lesions", nargs="+", default=["L8", "L7", "L1"])
    ap.add_argument("--against", type=Path, help="another checkout's root: its step 10 (segment/_multiphase.py) "
                    "timed beside this checkout's")
    args = ap.parse_args(argv)

    from hcc_imaging.phantoms import make_study
    import numpy as np

    from hcc_imaging.segment import _driver, _multiphase, _steps_9b_11, _vessel, segment_lesion

    def nearer_as_main(X: Any, lesion: Any, classes: Any, far: float) -> Any:
        d_l = _multiphase._joint_distance(X, lesion)
        cand = np.ones(X.shape[1:], bool)
        for c in classes:
            cand &= d_l < _multiphase._joint_distance(X, c)
        d_near = min(float(np.linalg.norm(c - lesion)) for c in classes)
        cand &= d_l <= max(far, d_near)
        return cand, d_near

    nearer = _multiphase._nearer_than_classes
    step10 = ("_joint_fallback", "_combined_border", "_mixed_on_other_phase")  # (the driver's names from step 10)
    ours = {name: getattr(_driver, name) for name in step10}
    theirs = ours
    if args.against is not None:
        import importlib.util

        path = args.against / "hcc_imaging" / "segment" / "_multiphase.py"
        spec = importlib.util.spec_from_file_location("hcc_imaging.segment._multiphase_against", path)
        if not path.is_file() or spec is None or spec.loader is None:
            raise SystemExit(f"--against: no hcc_imaging/segment/_multiphase.py under {args.against}.")
        other = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = other
        spec.loader.exec_module(other)  # (its relative imports: this checkout's other modules)
        theirs = {name: getattr(other, name) for name in step10}

    st = make_study(args.seed, timepoint=args.timepoint, noise_sd_hu=args.noise, spacing=(1.5, 0.68, 0.68),
                    shape=(100, 512, 512))
    bound = _vessel.too_wide_for_a_lumen
    spent: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - t
        return wrapper

    ours = {**ours, "_joint_fallback": timed("step 10", ours["_joint_fallback"])}
    theirs = {**theirs, "_joint_fallback": timed("step 10", theirs["_joint_fallback"])}
    # (step 11 is called from _steps_9b_11 since 2026-12-06, eighth session)
    _steps_9b_11.thrombus_in_lumen = timed("step 11", _steps_9b_11.thrombus_in_lumen)

    def click(lid: str) -> tuple[str, float, float]:
        rec = st.truth["lesions"][lid]
        liver = None if lid in ("L6", "L7", "L8") else st.liver
        spent.clear()
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            res = segment_lesion(st.volumes, liver=liver, seed_lps=rec["seed_lps"])
            digest = hashlib.sha1(np.ascontiguousarray(res.labels.array).tobytes()).hexdigest()[:10]
            out = f"{int((res.labels.array != 0).sum())} voxels, labels {digest}"
        except Exception as err:  # noqa: BLE001 (a refusal is a result here)
            out = type(err).__name__
        return out, time.process_time() - c0, time.perf_counter() - w0

    click("L1")  # warm-up (the kernels' cache, the first smoothing)
    rows: dict[tuple[str, str], list[tuple[float, float, dict[str, float]]]] = {}
    outs: dict[str, set[str]] = {}
    modes = ("as main", "this branch") if args.against is None else ("against", "this checkout")
    for _ in range(args.rounds):
        for mode in modes:
            new = mode in ("this branch", "this checkout")
            if args.against is None:
                _vessel.too_wide_for_a_lumen = bound if new else (lambda *a, **k: False)
                _multiphase._nearer_than_classes = nearer if new else nearer_as_main
            for name, fn in (ours if new else theirs).items():
                setattr(_driver, name, fn)
            for lid in args.lesions:
                out, cpu, wall = click(lid)
                outs.setdefault(lid, set()).add(out)
                rows.setdefault((lid, mode), []).append((cpu, wall, dict(spent)))
    _vessel.too_wide_for_a_lumen = bound
    _multiphase._nearer_than_classes = nearer
    for name, fn in ours.items():
        setattr(_driver, name, fn)
    print(f"512 x 512 x 100 study, seed {args.seed}, sigma {args.noise:g} HU, {args.timepoint}; {args.rounds} rounds")
    for (lid, mode), rs in rows.items():
        cpu = statistics.median(r[0] for r in rs)
        wall = statistics.median(r[1] for r in rs)
        s10 = statistics.median(r[2].get("step 10", 0.0) for r in rs)
        s11 = statistics.median(r[2].get("step 11", 0.0) for r in rs)
        print(f"{lid} {mode:12s} CPU {cpu:6.2f} s  wall {wall:6.2f} s  step 10 {s10:5.2f} s  step 11 {s11:5.2f} s  "
              f"({', '.join(sorted(outs[lid]))})")
    same = all(len(v) == 1 for v in outs.values())
    print("the same results both ways" if same else "RESULTS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

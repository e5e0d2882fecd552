#!/usr/bin/env python
"""What ``hcc-imaging batch --carry`` costs a follow-up, against the same follow-up given its masks
or its seeds, in one process and one run.

    .venv/bin/python benchmarks/bench_carry.py [--repeat 3] [--warm-up 1] [--lesions L1,L2,L3,L4,L5]

On a copy of ``sample_data/liver_phantom`` (baseline + fu1, four phases, 44 x 150 x 150), fu1 is
measured by :func:`hcc_imaging.batch.pipeline.process_study` (load -> masks -> measure, what a
worker runs) three ways:

* ``masks``: the expert ``lesions.nii.gz`` / ``viable.nii.gz`` beside it (the peer: loading masks);
* ``seeds``: a ``seeds.json`` with the lesions' fu1 seeds (``"liver": true``);
* ``carry``: nothing beside it; the baseline's seeds (same lesions) are segmented again, registered
  to fu1 and carried (``PipelineOptions(carry=True)``).

Best of ``--repeat`` wall time each (interleaved, after ``--warm-up`` untimed runs each, default one:
the imports and the numba kernels' first load; ``--warm-up 0`` times them in the first run, for a
quick check that the script still runs), the ratios to ``masks`` and ``seeds``, and a
split of one carry (``segment.carry.carry_lesions``: registration + both liver masks, the clicks),
and what ``--export-sr`` spends on fu1's masks: reading the ones the run saved against making them
again.  The seeded and the carried runs must measure every lesion asked for, and the saved masks
must be the ones made again: else the script prints MISMATCH and exits with 1.
Numbers are for this machine and are noisy when it is shared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's hcc_imaging, not the installed one


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warm-up", type=int, default=1, dest="warm_up",
                    help="untimed runs of each mode before the timed ones (default 1; 0 for a quick check)")
    ap.add_argument("--lesions", default="L1,L2,L3,L4,L5")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.warm_up < 0:
        ap.error(f"--repeat must be at least 1 and --warm-up at least 0 (got {args.repeat} and {args.warm_up})")
    ids = [s.strip() for s in args.lesions.split(",") if s.strip()]

    from hcc_imaging.batch.pipeline import PipelineOptions, discover_studies, link_carried, process_study

    tmp = Path(tempfile.mkdtemp(prefix="bench_carry_"))
    try:
        src = REPO / "sample_data" / "liver_phantom"
        tasks = {}
        for mode in ("masks", "seeds", "carry"):
            arch = tmp / mode
            shutil.copytree(src, arch)
            truth = {tp: json.loads((arch / tp / "truth.json").read_text())["lesions"] for tp in ("baseline", "fu1")}
            if mode != "masks":
                for tp in ("baseline", "fu1"):
                    shutil.rmtree(arch / tp / "masks")
                seeds_at = ("baseline",) if mode == "carry" else ("baseline", "fu1")
                for tp in seeds_at:
                    (arch / tp / "seeds.json").write_text(json.dumps(
                        {"liver": True, "lesions": [{"lesion_id": k, "seed_lps": truth[tp][k]["seed_lps"]} for k in ids]}))
            opts = PipelineOptions(carry=mode == "carry")
            found = link_carried(discover_studies(arch, opts)[0], opts)
            tasks[mode] = (max(found, key=lambda t: t.study_date), opts)
        for _ in range(args.warm_up):  # untimed warm-ups (imports, the numba kernels' first load)
            for task, opts in tasks.values():
                process_study(task, opts)
        best = {m: float("inf") for m in tasks}
        rows: dict[str, list[dict]] = {}
        for _ in range(args.repeat):
            for mode, (task, opts) in tasks.items():
                t0 = time.perf_counter()
                rec = process_study(task, opts)
                best[mode] = min(best[mode], time.perf_counter() - t0)
                rows[mode] = rec["lesions"]
        print(f"fu1 of the sample study, {len(ids)} lesions ({', '.join(ids)}), best of {args.repeat} wall "
              f"after {args.warm_up} untimed warm-up(s) each:")
        for mode in tasks:
            print(f"  {mode:6s} {best[mode]:7.2f} s   x{best[mode] / best['masks']:5.1f} masks   "
                  f"x{best[mode] / best['seeds']:4.2f} seeds   lesions {sorted(r['lesion_id'] for r in rows[mode])}")
        # the LDs the three give (the carried lesions are the seeded ones, found from the baseline)
        ld = {m: {r["lesion_id"]: r["longest_diameter_mm"] for r in rows[m]} for m in rows}
        for k in ids:
            print(f"  {k}: LD masks {ld['masks'].get(k, float('nan')):.1f}  seeds {ld['seeds'].get(k, float('nan')):.1f}"
                  f"  carry {ld['carry'].get(k, float('nan')):.1f} mm")
        _split(tasks["carry"][0], tasks["carry"][1])
        same = _export(tasks["carry"][0], tasks["carry"][1], tmp / "out", args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wrong = [f"{m} measured {sorted(ld[m])}, not {sorted(ids)}" for m in ("seeds", "carry") if sorted(ld[m]) != sorted(ids)]
    if not same:
        wrong.append("the masks the run saved for fu1 are not the ones made again")
    for w in wrong:
        print(f"MISMATCH: {w}")
    return 1 if wrong else 0


def _split(task, opts) -> None:  # type: ignore[no-untyped-def]
    """Where one carry's time goes: the baseline's seeds, the registration and both liver masks,
    the clicks at fu1 (timed through carry_lesions' progress)."""
    import numpy as np

    from hcc_imaging.batch.lesions import study_images, study_lesions
    from hcc_imaging.segment.carry import carry_lesions

    src = task.carry_from
    t0 = time.perf_counter()
    src_ref, src_phases = study_images(src, opts)
    ref, phases = study_images(task, opts)
    t1 = time.perf_counter()
    lesions = study_lesions(src, src_ref, src_phases, opts, viable=False).lesions
    t2 = time.perf_counter()
    ticks: list[float] = []
    carry_lesions(src_phases, lesions, phases, in_liver=True, reference=ref,
                  progress=lambda n, total: ticks.append(time.perf_counter()))
    clicks = np.diff(ticks) if len(ticks) > 1 else np.array([])
    first = ticks[0] - t2 if ticks else float("nan")
    print(f"  carry split: load both studies {t1 - t0:.2f} s, baseline seeds {t2 - t1:.2f} s, registration + "
          f"livers + first click {first:.2f} s, each further click {np.median(clicks) if clicks.size else float('nan'):.3f} s "
          "(median)")


def _export(task, opts, out: Path, repeat: int) -> bool:  # type: ignore[no-untyped-def]
    """What ``--export-sr`` spends getting fu1's masks for its SEG: the masks the run saved
    (``masks/<study>/``, read on the reference image) against making them again (what it did before
    the run saved them; still its fallback when they are deleted).  True when the two are the same."""
    from hcc_imaging.batch.lesions import load_image, load_saved_masks, pick_reference, study_images, study_lesions
    from hcc_imaging.batch.pipeline import MASK_BYTES, process_study
    from hcc_imaging.batch.runner import _save_mask_files

    rec = process_study(task, opts)
    _save_mask_files(out, rec, rec.pop(MASK_BYTES))
    best = {"saved": float("inf"), "again": float("inf")}
    for _ in range(repeat):
        t0 = time.perf_counter()
        saved = load_saved_masks(out, rec["masks"], load_image(pick_reference(task.series), opts))
        best["saved"] = min(best["saved"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref, phases = study_images(task, opts)
        again = study_lesions(task, ref, phases, opts)
        best["again"] = min(best["again"], time.perf_counter() - t0)
    same = saved is not None and (saved[0].array == again.lesions.array).all()
    print(f"  --export-sr, fu1's masks for its SEG: saved {best['saved']:.2f} s, made again {best['again']:.2f} s "
          f"(x{best['again'] / best['saved']:.0f}); identical: {same}")
    return bool(same)


if __name__ == "__main__":
    raise SystemExit(main())

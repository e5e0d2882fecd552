"""Where a rind click's time goes, on both threads: perf_counter stamps at the stages' entry and exit.

The click (``segment_lesion`` on ``bench_segment_hard.py``'s rind scenes: 1.5 x 0.7 x 0.7 mm, 2.5 mm
layer, sigma 15 HU) runs steps 1-12 on the calling thread and step 13's fit (``_rind.rind_border``,
started by ``_driver._early_rind``) on a second one.  This script wraps, for the duration of the run,
the driver's stages (the phase choice's rounds ``_segment_on``, steps 12 / 12b ``_border_fits``, the
wait for the fit ``RindAhead.result``; since 2026-12-07, fifth, also the phase choice, step 7 on the other
phases, step 10's joint paths, step 9, steps 9b / 11) and the fit's (step 1's blur, modes, distance transforms, the
rays ``_fit_rays``, the set-ups ``_setup``, the blocks' race ``_race``, 1.53's score test / correction
``_node_offsets``) with timers that record (thread, stage, start, end) in ms from the click's start and the
stage's CPU on its own thread (``time.thread_time``: a stage slowed by the other thread's work shows more wall
than CPU);
each click is run ``--repeat`` times after a warm-up and the fastest is printed as a timeline, with
the click's wall and CPU time (all threads) and the load average.  The stage sums of one thread
need not add up to its span (the code between the wrapped calls is not listed).  Nothing is changed
but the timing (the wrappers call the real functions).

The session of 2026-12-06 (fifth) used it (docs/validation.md section 2.4, "Algorithm 1.61: step 13's rays
every 0.7 mm").

Usage: ``python benchmarks/profile_rind_click.py [--kinds oval lobulated] [--seeds 0 1] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.segment._phantom import dice, rim_scene, rim_scene_shape  # noqa: E402

# (module attribute, label): the driver's stages, then the fit's
DRIVER = [("_segment_on", "steps 1-10 (a round of _segment_on)"), ("_border_fits", "steps 12 / 12b"),
          # (2026-12-07, fifth: the click's own work besides steps 1-10)
          ("_choose_phase", "the phase choice"), ("_grow_on_other_phase", "step 7 on the other phases"),
          ("_regrow_on_best_phase", "step 7 regrown on the best phase"), ("_mixed_on_other_phase", "step 10's test"),
          ("_joint_fallback", "step 10 (the phases jointly)"), ("_combined_border", "step 10 (d)"),
          ("_add_enhancing_layers", "step 9"), ("lipiodol_and_defect", "steps 9b / 11"),
          ("add_lipiodol", "step 9b on the fit's mask")]
FIT = [("_fit_rays", "fit: the rays"), ("_setup", "fit: a set-up"), ("_race", "fit: the blocks' race"),
       ("_node_offsets", "fit: score test / correction"), ("histogram_mode", "fit: a mode"),
       ("noise_sigma", "fit: the noise")]
KERNELS = [("gaussian_filter_nearest", "fit: the box's 1 mm blur"), ("distance_transform_edt", "fit: a distance transform")]


def wrap(owner: Any, name: str, label: str, log: list[tuple[str, str, float, float, float]],
         t0: list[float], only_thread: Callable[[], bool]) -> Callable[[], None]:
    """Replace ``owner.name`` by a timer of it; returns the undo."""
    real = getattr(owner, name)

    @functools.wraps(real)
    def timed(*args: Any, **kw: Any) -> Any:
        if not only_thread():
            return real(*args, **kw)
        start, c_start = time.perf_counter(), time.thread_time()
        try:
            return real(*args, **kw)
        finally:
            log.append((threading.current_thread().name, label, (start - t0[0]) * 1e3,
                        (time.perf_counter() - t0[0]) * 1e3, (time.thread_time() - c_start) * 1e3))

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, real)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", default=["oval", "lobulated"], choices=["oval", "lobulated", "lobulated2"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from hcc_imaging.phantoms import Phase
    from hcc_imaging.segment import _driver, _kernels, _rind, _rind_surfaces, segment_lesion

    sp = (1.5, 0.7, 0.7)
    log: list[tuple[str, str, float, float]] = []
    t0 = [0.0]
    main_thread = threading.main_thread()

    def anywhere() -> bool:
        return True

    def off_main() -> bool:  # (the kernels' calls on the fit's threads only: steps 1-12 call them too)
        return threading.current_thread() is not main_thread

    undo = [wrap(_driver, n, lab, log, t0, anywhere) for n, lab in DRIVER if hasattr(_driver, n)]
    # (the fit's stages where they are called: _rind, and since 2026-12-07, sixth, _rind_surfaces for the blocks'
    # set-up and race of _coarse_to_fine)
    undo += [wrap(mod, n, lab, log, t0, anywhere) for mod in (_rind, _rind_surfaces) for n, lab in FIT if hasattr(mod, n)]
    undo += [wrap(_kernels, n, lab, log, t0, off_main) for n, lab in KERNELS]
    undo.append(wrap(_driver.RindAhead, "result", "waits for the fit", log, t0, anywhere))
    if hasattr(_driver.RindAhead, "likely"):  # (1.62: the wait for the fit's floors before steps 12 / 12b)
        undo.append(wrap(_driver.RindAhead, "likely", "waits for the fit's floors", log, t0, anywhere))
    try:
        for kind in args.kinds:
            for seed in args.seeds:
                vols, truth, click = rim_scene(kind, seed, 15.0, rim_mm=2.5, spacing=sp, shape=rim_scene_shape(sp))
                assert Phase.ARTERIAL in vols
                best: tuple[float, float, list[tuple[str, str, float, float, float]], float] | None = None
                for i in range(args.repeat + 1):
                    log.clear()
                    t0[0], c0 = time.perf_counter(), time.process_time()
                    res = segment_lesion(vols, seed_index=tuple(click))
                    wall, cpu = (time.perf_counter() - t0[0]) * 1e3, (time.process_time() - c0) * 1e3
                    if i and (best is None or wall < best[0]):
                        best = (wall, cpu, list(log), dice(res.labels.array != 0, truth))
                assert best is not None
                wall, cpu, rows, d = best
                print(f"\n{kind} seed {seed}: click {wall:.0f} ms wall, {cpu:.0f} ms CPU (all threads), Dice {d:.3f}, "
                      f"load {os.getloadavg()[0]:.2f}")
                names = {th: ("main" if th == main_thread.name else f"thread {j}")
                         for j, th in enumerate(dict.fromkeys(r[0] for r in sorted(rows, key=lambda r: r[2])))}
                for th, label, a, b, cpu_ms in sorted(rows, key=lambda r: r[2]):
                    print(f"  {names[th]:9s} {a:7.1f} - {b:7.1f} ms ({b - a:6.1f}, its thread's CPU {cpu_ms:6.1f})  {label}")
    finally:
        for u in undo:
            u()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

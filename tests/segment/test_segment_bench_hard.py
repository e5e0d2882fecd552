"""``benchmarks/bench_segment_hard.py --against``: the click path and step 13 of another checkout timed beside this
one's in one process (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-05)")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ._phantom import benchmark_module

ROOT = Path(__file__).resolve().parents[2]


def test_against_this_checkout_gives_the_same_masks(capsys: pytest.CaptureFixture[str]) -> None:
    from hcc_imaging.segment import _driver, _result_notes

    before = (_driver.RindAhead, _result_notes.rind_border)
    bench = benchmark_module("bench_segment_hard")
    assert bench.main(["--cases", "rind", "--seeds", "0", "--repeat", "1", "--rounds", "2", "--against", str(ROOT)]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^rind (oval|lobulated) seed 0 .* this / against ([0-9.]+)  masks (\w+)$", out, re.M)
    assert [r[0] for r in rows] == ["oval", "lobulated"]
    assert all(r[2] == "identical" and float(r[1]) > 0.0 for r in rows)
    assert re.search(r"^2 clicks, best of 1 x 2 rounds: this / against median [0-9.]+", out, re.M)
    # this checkout's step 13 is put back
    assert (_driver.RindAhead, _result_notes.rind_border) == before


def test_against_needs_the_rind_clicks_alone(capsys: pytest.CaptureFixture[str]) -> None:
    bench = benchmark_module("bench_segment_hard")
    assert bench.main(["--against", str(ROOT)]) == 2
    assert "pass --cases rind" in capsys.readouterr().err


def test_against_loads_the_other_checkouts_constants_and_step13_modules() -> None:
    """2026-12-06 (eighth session): the other checkout's click path reads its own constants and step-13 modules (until then its
    ``_rind`` read this checkout's constants, ``_rind_coarse``, ``_rind_gn`` and ``_rind_setup``: a change of
    those alone timed as none), and this checkout's package is left as it was."""
    import sys

    import hcc_imaging.segment as pkg
    from hcc_imaging.segment import _rind, constants

    bench = benchmark_module("bench_segment_hard")
    seg = bench.step13_of(ROOT)
    drv = sys.modules[seg.__module__]
    other_rind = sys.modules["hcc_imaging.segment._rind_against"]
    # (the asked-for fit, rind=True, is called from the result's module since 2026-12-07, ninth session)
    assert sys.modules["hcc_imaging.segment._result_notes_against"].rind_border is other_rind.rind_border
    assert drv._rind_result is sys.modules["hcc_imaging.segment._result_notes_against"]._rind_result
    for mod in (drv, other_rind, sys.modules["hcc_imaging.segment._rind_coarse_against"]):
        assert mod.C is sys.modules["hcc_imaging.segment.constants_against"] and mod.C is not constants
    assert other_rind._rind_coarse is sys.modules["hcc_imaging.segment._rind_coarse_against"]
    assert other_rind._rind_gn is sys.modules["hcc_imaging.segment._rind_gn_against"]
    assert sys.modules["hcc_imaging.segment.constants"] is constants and pkg.constants is constants
    assert pkg._rind is _rind and sys.modules["hcc_imaging.segment._rind"] is _rind


def test_rounds_alternate_ours_and_the_peer(capsys: pytest.CaptureFixture[str]) -> None:
    """2026-12-07: ``--rounds`` without ``--against`` alternates ours and SimpleITK per click and prints the
    median of the rounds' own ratios beside the ratio of the two bests (one round: the line as before)."""
    bench = benchmark_module("bench_segment_hard")
    assert bench.main(["--cases", "rind", "--seeds", "0", "--repeat", "1", "--rounds", "3"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^rind (oval|lobulated) seed 0 +ours +\d+ ms \(Dice ([0-9.]+)\)  SimpleITK +\d+ ms "
                      r"\(Dice [0-9.]+\)  ours / SimpleITK +([0-9.]+)  paired median ([0-9.]+) \(([0-9.]+)-([0-9.]+)\)$",
                      out, re.M)
    assert [r[0] for r in rows] == ["oval", "lobulated"], out
    for _, dice, _best, median, lo, hi in rows:
        assert float(dice) > 0.85 and 0.0 < float(lo) <= float(median) <= float(hi)
    assert bench.main(["--cases", "rind", "--seeds", "0", "--repeat", "1"]) == 0
    assert "paired" not in capsys.readouterr().out

"""``benchmarks/segment_sweeps.py``: the sweeps' outputs read and compared run by run (the
before / after counts of docs/validation.md come from it), and its sets name sweeps that exist."""

from __future__ import annotations

from pathlib import Path

from ._phantom import benchmark_module

SW = benchmark_module("segment_sweeps")

BASE = """\
(2.5, 0.703, 0.703)   10 mm    20 HU noise    0: Dice 0.652 volume ratio 2.066 ['the ill-defined border']
(2.5, 0.703, 0.703)   10 mm    40 HU noise   25: refused (no voxel near the seed falls in the window)
(1.0, 0.7, 0.7)   20 mm    90 HU noise   10: Dice 0.981 volume ratio 1.002 []
(1.0, 0.7, 0.7)   40 mm   250 HU noise    0: Dice 0.995 volume ratio 1.000 []
225 phantoms (z blur 0.6 voxel, centre): 0 skipped, 1 refused, 1 below 0.9; Dice median 0.981; 62 s
"""
NEW = """\
(2.5, 0.703, 0.703)   10 mm    20 HU noise    0: Dice 0.960 volume ratio 1.010 []
(2.5, 0.703, 0.703)   10 mm    40 HU noise   25: Dice 0.700 volume ratio 0.600 []
(1.0, 0.7, 0.7)   20 mm    90 HU noise   10: Dice 0.9805 volume ratio 1.002 []
(1.0, 0.7, 0.7)   40 mm   250 HU noise    0: Dice 0.940 volume ratio 1.000 []
225 phantoms (z blur 0.6 voxel, centre): 0 skipped, 0 refused, 1 below 0.9; Dice median 0.960; 60 s
"""
STUDY = """\
seed 0 baseline L1 click: Dice 0.999 volume ratio 1.002
seed 0 baseline L8 click: refused (the region grown from the click spans the image)
88 runs on (3.0, 2.3, 2.3) mm at 15 HU: 1 refused, 1 below 0.95; Dice median 0.996; 11 s
"""


def test_parse_reads_dice_and_refusals_and_skips_summaries() -> None:
    runs = SW.parse(BASE)
    assert len(runs) == 4
    assert runs["(2.5, 0.703, 0.703)   10 mm    20 HU noise    0"] == 0.652
    assert runs["(2.5, 0.703, 0.703)   10 mm    40 HU noise   25"] == SW.REFUSED
    study = SW.parse(STUDY)
    assert study == {"seed 0 baseline L1 click": 0.999, "seed 0 baseline L8 click": SW.REFUSED}


def test_a_case_printed_twice_keeps_both() -> None:
    runs = SW.parse("a: Dice 0.9\na: Dice 0.8\n")
    assert runs == {"a": 0.9, "a #2": 0.8}


def test_compare_counts_refusals_below_and_lists_moves_beyond_rounding() -> None:
    nb, nn, up, down = SW.compare(SW.parse(BASE), SW.parse(NEW), 0.95)
    assert (nb, nn) == (2, 2)  # base: 0.652 and a refusal; new: 0.700 and 0.940
    assert [k.split(":")[0] for k, _, _ in up] == [
        "(2.5, 0.703, 0.703)   10 mm    40 HU noise   25",  # refused -> 0.700: the largest gain first
        "(2.5, 0.703, 0.703)   10 mm    20 HU noise    0",
    ]
    assert [(a, v) for _, a, v in down] == [(0.995, 0.94)]  # 0.981 -> 0.9805 is rounding, not a move


def test_compare_main_exits_1_when_a_run_went_down(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "b").mkdir()
    (tmp_path / "n").mkdir()
    (tmp_path / "b" / "ill.txt").write_text(BASE)
    (tmp_path / "n" / "ill.txt").write_text(NEW)
    assert SW.main(["compare", str(tmp_path / "b"), str(tmp_path / "n")]) == 1
    out = capsys.readouterr().out
    assert "ill: below 0.95 2 -> 2; up 2, down 1" in out and "DOWN" in out and "refused -> 0.700" in out
    (tmp_path / "n" / "ill.txt").write_text(BASE)
    assert SW.main(["compare", str(tmp_path / "b"), str(tmp_path / "n")]) == 0


def test_every_set_runs_a_sweep_that_exists_with_options_it_takes() -> None:
    root = Path(SW.__file__).resolve().parent
    for name, (script, *args) in {**SW.SETS, **SW.EXTRA_SETS}.items():
        mod = benchmark_module(script.removesuffix(".py"))
        assert (root / script).is_file(), name
        # the sweep's own parser accepts the set's options (a renamed flag fails here, not after
        # five minutes of the other sets)
        src = (root / script).read_text()
        for a in args:
            if a.startswith("--"):
                assert f'"{a}"' in src, (name, a)
        assert callable(mod.main)


def test_paired_pools_differences_with_refusals_as_zero() -> None:
    pr = SW.paired([("a", 0.90, 0.92), ("b", 0.80, 0.70), ("c", SW.REFUSED, 0.50), ("d", 0.95, 0.95)])
    assert pr is not None and pr.n == 4
    assert abs(pr.mean_base - (0.90 + 0.80 + 0.0 + 0.95) / 4) < 1e-12  # the refusal as Dice 0
    assert abs(pr.mean_diff - (0.02 - 0.10 + 0.50 + 0.0) / 4) < 1e-12
    assert pr.worst[0] == "b" and abs(pr.worst[1] + 0.10) < 1e-12
    assert pr.best[0] == "c" and abs(pr.best[1] - 0.50) < 1e-12
    assert abs(pr.median_new - (0.70 + 0.92) / 2) < 1e-12
    assert pr.se_diff > 0 and SW.paired([]) is None


def test_compare_pooled_over_sets(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for side, text in (("b", BASE), ("n", NEW)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "ill.txt").write_text(text)
        (tmp_path / side / "sharp.txt").write_text(text)
    SW.main(["compare", str(tmp_path / "b"), str(tmp_path / "n"), "--pooled", r"^\(2\.5"])
    out = capsys.readouterr().out
    # two runs a set match, over two sets: 0.652 -> 0.960 and refused (0) -> 0.700, twice
    line = next(ln for ln in out.splitlines() if ln.startswith("pooled"))
    assert "4 runs" in line and "mean 0.3260 -> 0.8300" in line and "paired difference +0.5040" in line

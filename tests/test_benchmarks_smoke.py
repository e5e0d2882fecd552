"""The scripts in ``benchmarks/`` are not run by CI; these checks keep them from rotting.

* every name a script takes from ``hcc_imaging``, ``tests`` or a sibling script (``from ... import
  X``, in a function too, and ``module.attr`` on a module or class so imported, e.g.
  ``_rind._gauss_newton``) still exists: the private helpers the benchmarks and probes call move;
* every script's ``--help`` parses;
* the cheapest real run of the scripts whose calls into the library are the most private (the rind
  surface probe, the measure benchmark's sections), so that a changed signature shows too;
* the cheapest real run of the scripts that check their result against the peer's or the truth
  (distance, index, load, export, upsert, carry, the carry registration, the sweep runner), and the
  same run with a wrong result injected: a benchmark must exit 1 and say MISMATCH / FAILED, never
  print a ratio of a wrong result and exit 0;
* the napari benchmark's warm-up (under Xvfb; skipped without a display) and the robustness sweep's
  subsets.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.segment._phantom import benchmark_module

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py"))
#: scripts without an argument parser (none now: bench_study_upsert ran on import, bench_export took no flags)
NO_HELP: set[str] = set()


def _resolve(dotted: str) -> Any:
    """The module, or the attribute of a module (a class, a function), named ``dotted``; a
    sibling script (``bench_load``) is loaded from ``benchmarks/``."""
    head = dotted.split(".")[0]
    if head in SCRIPTS:
        obj: Any = benchmark_module(head)
        for part in dotted.split(".")[1:]:
            obj = getattr(obj, part)
        return obj
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        parent, _, last = dotted.rpartition(".")
        if not parent:
            raise
        return getattr(_resolve(parent), last)


def _used_names(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) for each ``from <ours> import name`` and each ``alias.attr`` on a name
    so imported, ``<ours>`` being hcc_imaging, tests or a sibling script."""
    tree = ast.parse(path.read_text())
    ours = ("hcc_imaging", "tests", *SCRIPTS)
    aliases: dict[str, str] = {}
    used: list[tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] in ours:
            for a in node.names:
                used.append((node.module, a.name, node.lineno))
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname and a.name.split(".")[0] in ours:
                    aliases[a.asname] = a.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.append((aliases[node.value.id], node.attr, node.lineno))
    return used


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_names_a_benchmark_uses_exist(script: str) -> None:
    missing = []
    for module, name, line in _used_names(BENCH / f"{script}.py"):
        try:
            obj = _resolve(module)
        except (ImportError, AttributeError) as err:
            missing.append(f"line {line}: {module} ({err})")
            continue
        if isinstance(obj, ModuleType) and not hasattr(obj, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"line {line}: {module}.{name}")
        elif not isinstance(obj, ModuleType) and not hasattr(obj, name):
            missing.append(f"line {line}: {module}.{name}")
    assert not missing, f"benchmarks/{script}.py uses names that are gone: {missing}"


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - NO_HELP))
def test_a_benchmark_help_parses(script: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    mod = benchmark_module(script)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", "--help"])  # (bench_carry's main() reads sys.argv)
    with pytest.raises(SystemExit) as exc:
        mod.main()
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_the_rind_surface_probe_fits_an_oval(capsys: pytest.CaptureFixture[str]) -> None:
    probe = benchmark_module("probe_rind_surfaces")
    assert probe.main(["--kinds", "oval", "--rims", "2.5", "--noise", "5", "--seeds", "0"]) == 0
    out = capsys.readouterr().out
    assert "1 lesions: 0 below 0.95" in out


def test_the_coarse_click_probe_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    """The coarse-to-fine probe (docs/validation.md section 2.4, "A coarse-to-fine click") on one 30 mm
    lesion: its mask lies on the lesion (the probe's and the full click's Dice against the truth)."""
    probe = benchmark_module("probe_coarse_click")
    assert probe.main(["--cases", "small", "--seeds", "0", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"probe .* Dice (\d\.\d+) .*full click .* Dice (\d\.\d+)", out)
    assert m is not None, out
    assert float(m.group(1)) >= 0.95 and float(m.group(2)) >= 0.95, out


def test_the_measure_benchmark_sections_run_small(capsys: pytest.CaptureFixture[str]) -> None:
    bench = benchmark_module("bench_measure")
    bench.sweep(1, [10.0])
    bench.archive(3)
    bench.viable_sweep(1, [10.0])
    out = capsys.readouterr().out
    assert "ratio = peer / hcc_imaging" in out and "ratio sitk_2d / hcc_imaging" in out
    assert "MISMATCH" not in out


DISTANCE_SMALL = ["--cases", "small", "--shape", "30,96,96", "--repeats", "1", "--rounds", "1"]


def test_the_distance_benchmark_runs_small_and_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    bench = benchmark_module("bench_distance")
    assert bench.main(DISTANCE_SMALL) == 0
    out = capsys.readouterr().out
    assert "small lesion box" in out and "masks identical" in out and "MISMATCH" not in out


def test_the_distance_benchmark_fails_when_the_kernel_is_wrong(capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel whose distances are off (here 0.5 mm at one voxel) makes the benchmark exit 1 and print
    the mismatch, where it printed a ratio and exited 0."""
    import numpy as np

    from hcc_imaging.segment import _kernels

    bench = benchmark_module("bench_distance")
    right = _kernels.distance_transform_edt

    def off_by_half_mm(a, sampling=None):  # noqa: ANN001, ANN202
        d = np.array(right(a, sampling), dtype=float)
        d[np.unravel_index(int(np.argmax(d)), d.shape)] += 0.5
        return d

    monkeypatch.setattr(_kernels, "distance_transform_edt", off_by_half_mm)
    assert bench.main(DISTANCE_SMALL) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: 1 voxels of small lesion box" in out and "FAILED" in out
    # one unit in the last place (scipy's near-ties) is within the tolerance, two are not
    ref = np.array([1.0, 2.5, 7.3])
    assert not bench.mismatches(ref, ref + np.spacing(ref)).any()
    assert bench.mismatches(ref, ref + 2 * np.spacing(ref)).all()


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X server (run under xvfb-run)")
def test_the_napari_benchmark_warms_up_before_timing(capsys: pytest.CaptureFixture[str]) -> None:
    """A round of clicks (imports, compiled kernels, the first paint) runs before the timed ones and
    is not in the figures; the best and the median of the dock and of the peer are printed."""
    bench = benchmark_module("bench_napari")
    assert bench.main(["--repeat", "1", "--shape", "30,128,128", "--phases", "arterial,portal_venous"]) == 0
    out = capsys.readouterr().out
    assert out.count("warm-up click (not timed)") == 3
    assert "(dock, 3 timed clicks after 1 warm-up round(s)): best " in out
    assert "peer SimpleITK ConnectedThreshold + Feret (computation only, 3 timed runs): best " in out
    assert "(medians)" in out and "(bests)" in out


INDEX_SMALL = ["--files", "150", "--rounds", "1", "--syntaxes", "explicit", "--sizes", "100"]


def test_the_index_benchmark_measures_seconds_by_default_and_runs_small(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default archive is large enough for a run to take seconds (2,500 files took 0.1-0.4 s,
    mostly fixed costs); ``--files`` and one small source series keep the smoke run short."""
    bench = benchmark_module("bench_index")
    assert bench.DEFAULT_FILES >= 20_000
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    assert f"default {bench.DEFAULT_FILES:,}" in capsys.readouterr().out
    assert bench.main([*INDEX_SMALL, "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ": 150 files; 1 rounds" in out
    assert "series found: {'hcc_imaging': 1, 'pydicom': 1, 'gdcm_scanner': 1}" in out and "MISMATCH" not in out


def test_the_index_benchmark_fails_when_the_series_counts_differ(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    bench = benchmark_module("bench_index")
    right = bench.METHODS["hcc_imaging"]
    monkeypatch.setitem(bench.METHODS, "hcc_imaging", lambda arch: right(arch) + 1)  # an index that splits a series
    assert bench.main([*INDEX_SMALL, "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: the indexes found different numbers of series" in out and "FAILED" in out


def test_the_robustness_sweep_runs_a_subset(capsys: pytest.CaptureFixture[str]) -> None:
    """``--grids/--sizes/--hu/--noise/--limit`` run a few of the 225 phantoms, each with its number
    (seed) in the full sweep; a value the sweep does not have is an error naming the ones it has."""
    sweep = benchmark_module("sweep_segment_robustness")
    chosen = sweep.select(grids=[(5.0, 0.78, 0.78)], sizes=[10.0], hu=[250.0], noise=[0.0, 10.0])
    assert [i for i, _ in chosen] == [102, 103]
    assert [c for _, c in chosen] == sweep.combos()[102:104]
    assert [i for i, _ in sweep.select(noise=[25.0], limit=3)] == [2, 5, 8]
    assert sweep.main(["--grids", "5,0.78,0.78", "--sizes", "10", "--hu", "250", "--noise", "0", "10", "--all"]) == 0
    out = capsys.readouterr().out
    assert out.count("(5.0, 0.78, 0.78)   10 mm   250 HU noise") == 2
    assert "2 of 225 phantoms (z blur 0.6 voxel, centre)" in out
    with pytest.raises(SystemExit, match=r"--sizes 12 is not in the sweep; its values are 10 20 40"):
        sweep.main(["--sizes", "12"])
    # bench_segment_sweep.py's names for the same subsets
    assert sweep.main(["--diameters", "10", "--max-cases", "1", "--grids", "5,0.78,0.78", "--hu", "250"]) == 0
    assert "1 of 225 phantoms" in capsys.readouterr().out


def test_the_export_benchmark_runs_small(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = benchmark_module("bench_export")
    assert bench.main(["--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "SR import records: ours 238, highdicom 238" in out and "ratio ours/peer" in out and "MISMATCH" not in out


def test_the_export_benchmark_fails_when_the_sr_measurements_differ(
        shared_data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that loses a measurement makes the benchmark exit 1 (it printed both counts and a
    ratio, and exited 0)."""
    import types

    import hcc_imaging.export

    bench = benchmark_module("bench_export")
    right = hcc_imaging.export.read_sr
    monkeypatch.setattr(hcc_imaging.export, "read_sr",
                        lambda path: types.SimpleNamespace(records=lambda: right(path).records()[1:]))
    assert bench.main(["--repeat", "1"]) == 1
    out = capsys.readouterr().out
    assert "SR import records: ours 237, highdicom 238" in out and "MISMATCH: the SR's measurements differ" in out


def test_the_upsert_benchmark_checks_what_was_stored(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Small run: both sides end with the last value and the audit chain verifies; a store that
    drops the later upserts makes it exit 1 (it printed a ratio and exited 0, and ran on import)."""
    from hcc_imaging.study import ReaderSession

    bench = benchmark_module("bench_study_upsert")
    assert bench.main(["--upserts", "5"]) == 0
    out = capsys.readouterr().out
    assert "ratio" in out and "verify: True" in out and "MISMATCH" not in out
    right = ReaderSession.record_measurement
    calls: list[int] = []

    def first_only(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(1)
        return right(self, *a, **kw) if len(calls) == 1 else None

    monkeypatch.setattr(ReaderSession, "record_measurement", first_only)
    assert bench.main(["--upserts", "5"]) == 1
    assert "MISMATCH: the store holds LD [10.0] mm, not the last one written (10.4 mm)" in capsys.readouterr().out


LOAD_SMALL = ["--rounds", "1", "--sizes", "100", "--syntaxes", "explicit"]


def test_the_load_benchmark_runs_small_and_fails_on_a_wrong_array(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every loader's array is checked against the truth; a wrong one (here hcc_imaging's, one voxel
    off) made the row say MISMATCH and the script exit 0: it exits 1 now."""
    bench = benchmark_module("bench_load")
    assert bench.main([*LOAD_SMALL, "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "explicit 100 slices" in out and "MISMATCH" not in out and "FAILED" not in out
    right = bench.METHODS["hcc_imaging"]

    def one_voxel_off(folder):  # noqa: ANN001, ANN202
        arr = right(folder).copy()
        arr[0, 0, 0] += 1
        return arr

    monkeypatch.setitem(bench.METHODS, "hcc_imaging", one_voxel_off)
    assert bench.main([*LOAD_SMALL, "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: wrong or missing results (explicit 100 hcc_imaging: MISMATCH)" in out


REGISTER_SMALL = ["--rounds", "1", "--shape", "40,128,128", "--shift", "5,-6"]


def test_the_carry_registration_benchmark_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    bench = benchmark_module("bench_register_carry")
    assert bench.main(REGISTER_SMALL) == 0
    out = capsys.readouterr().out
    assert "whole image: carry" in out and "liver mask: carry" in out and "MISMATCH" not in out


def test_the_carry_registration_benchmark_fails_when_the_centre_lands_wrong(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A registration that does not find the move (here: the identity) leaves L1's centre the whole
    shift away: the script exits 1 (it printed the distance and exited 0)."""
    import types

    import numpy as np

    import hcc_imaging.segment

    bench = benchmark_module("bench_register_carry")
    monkeypatch.setattr(hcc_imaging.segment, "register_volumes",
                        lambda *a, **kw: types.SimpleNamespace(map_to_moving=lambda p: np.asarray(p, float)))
    assert bench.main(REGISTER_SMALL) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: L1's centre lands more than 7.50 mm (two voxels) from the true move" in out


def test_the_sweep_runner_exits_1_when_a_sweep_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``segment_sweeps.py run`` on a checkout whose rind sweep crashes reports the set as failed
    and exits 1 (it printed "failed" and exited 0); a sweep that runs to the end exits 0."""
    runner = benchmark_module("segment_sweeps")
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    script = repo / "benchmarks" / "sweep_segment_rind.py"
    script.write_text("print('grid 1 rim 2.5: Dice 0.990')\nprint('1 runs: 0 below 0.95; Dice median 0.990; 0 s')\n")
    assert runner.main(["run", str(tmp_path / "ok"), "--sets", "rind", "--repo", str(repo)]) == 0
    assert "rind: 1 runs: 0 below 0.95" in capsys.readouterr().out
    script.write_text("raise SystemExit('the sweep broke')\n")
    assert runner.main(["run", str(tmp_path / "bad"), "--sets", "rind", "--repo", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "rind: failed (exit 1; see rind.err)" in out and "FAILED: 1 of 1 sets did not run to the end: rind" in out
    assert "the sweep broke" in (tmp_path / "bad" / "rind.err").read_text()


def test_the_carry_benchmark_fails_when_the_saved_masks_are_not_the_made_ones(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole script at its smallest (one lesion, one repeat, no warm-up: the warm-up runs were
    about a sixth of this test's CPU time, 64 -> 53 s), with the saved masks unreadable: it printed
    "identical: False" and exited 0; it exits 1 with MISMATCH now.  The timings and ratios are
    printed all the same."""
    import re

    import hcc_imaging.batch.lesions

    bench = benchmark_module("bench_carry")
    monkeypatch.setattr(hcc_imaging.batch.lesions, "load_saved_masks", lambda *a, **kw: None)
    assert bench.main(["--repeat", "1", "--warm-up", "0", "--lesions", "L1"]) == 1
    out = capsys.readouterr().out
    assert "best of 1 wall after 0 untimed warm-up(s) each" in out
    for mode in ("masks", "seeds", "carry"):  # each mode's time and its ratios to masks and seeds
        assert re.search(rf"^  {mode} +\d+\.\d\d s +x *\d+\.\d masks +x *\d+\.\d\d seeds +lesions \[[^]]*'L1'[^]]*\]$", out, re.M), out
    assert re.search(r"^  masks +\d+\.\d\d s +x  1\.0 masks", out, re.M)
    assert "L1: LD masks" in out and "identical: False" in out and "carry split:" in out
    assert "MISMATCH: the masks the run saved for fu1 are not the ones made again" in out
    assert "MISMATCH: carry measured" not in out and "MISMATCH: seeds measured" not in out


def test_the_segment_benchmark_fails_on_a_wrong_mask(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One case: the ratios and exit 0; a segmenter returning an empty mask is timed no more (it
    printed Dice 0.000, a ratio and exited 0): FAILED and exit 1."""
    import numpy as np

    bench = benchmark_module("bench_segment")
    assert bench.main(["--cases", "1"]) == 0
    out = capsys.readouterr().out
    assert "SimpleITK CurvatureFlow+ConnectedThreshold" in out and "FAILED" not in out
    monkeypatch.setitem(bench.METHODS, "hcc_imaging segment_lesion", lambda ph: np.zeros(ph.volume.shape, bool))
    assert bench.main(["--cases", "1"]) == 1
    assert "FAILED: hcc_imaging's mask below Dice 0.5 on phantom seed 0 (0.000)" in capsys.readouterr().out

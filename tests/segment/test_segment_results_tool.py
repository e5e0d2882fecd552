"""``benchmarks/segment_results.py``: every field of the segmentation's result over a corpus of
clicks, and two such files compared run by run (the check that a refactor or a speed-up keeps the
results; CHANGELOG's "identical field by field")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ._phantom import benchmark_module


def test_a_run_is_the_same_twice_and_a_changed_field_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = benchmark_module("segment_results")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert tool.main(["run", str(first), "--sets", "sharp", "--max-runs", "2"]) == 0
    assert tool.main(["run", str(second), "--sets", "sharp", "--max-runs", "2"]) == 0
    runs = json.loads(first.read_text())
    assert len(runs) == 2 and all(k.startswith("sharp ") for k in runs)
    for fields in runs.values():  # a result's fields, or a refusal's
        assert ("mask_sha1" in fields and "notes" in fields and "elapsed_s" not in fields) or "error" in fields
    capsys.readouterr()
    assert tool.main(["compare", str(first), str(second)]) == 0
    assert "2 runs in both: 0 differ; 0 in one file only" in capsys.readouterr().out

    key = sorted(runs)[0]
    changed = dict(runs)
    changed[key] = {**runs[key], "notes": ["another note"]}
    second.write_text(json.dumps(changed))
    assert tool.main(["compare", str(first), str(second)]) == 1
    out = capsys.readouterr().out
    assert f"differs: {key}: notes" in out

    del changed[key]
    second.write_text(json.dumps(changed))
    assert tool.main(["compare", str(first), str(second)]) == 1
    assert f"only in BASE: {key}" in capsys.readouterr().out


def test_times_are_left_out_at_any_depth() -> None:
    tool = benchmark_module("segment_results")
    got = tool._timeless({"elapsed_s": 1.0, "meta": {"reg": {"elapsed_s": 0.02, "shift": [1, 2]}, "runs": [{"elapsed_s": 3, "n": 4}]}})
    assert got == {"meta": {"reg": {"shift": [1, 2]}, "runs": [{"n": 4}]}}


def test_the_liver_set_records_segment_livers_mask_and_record(tmp_path: Path) -> None:
    """The ``liver`` set holds ``segment_liver``'s label map and its ``meta`` (the window, the liver
    value, the carried grid), times left out: what a refactor of the liver must keep."""
    tool = benchmark_module("segment_results")
    out = tmp_path / "liver.json"
    assert tool.main(["run", str(out), "--sets", "liver", "--max-runs", "2"]) == 0
    runs = json.loads(out.read_text())
    assert sorted(runs) == ["liver seed 0 baseline study", "liver seed 0 baseline study on arterial"]
    study, carried = runs["liver seed 0 baseline study"], runs["liver seed 0 baseline study on arterial"]
    assert len(study["mask_sha1"]) == 40 and study["meta"]["phase"] == "portal_venous"
    assert "window_hu" in study["meta"] and "elapsed_s" not in study["meta"]
    assert "carried_to" in carried["meta"] and "carried_to" not in study["meta"]

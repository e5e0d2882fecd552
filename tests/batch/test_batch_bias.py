"""``hcc-imaging batch --bias-correct``: a seeded MR study's series divided by its N4 bias field before its lesions are
segmented (``PipelineOptions.bias_correct``; session of 2026-12-07, eighth)."""

from __future__ import annotations

import json
from pathlib import Path

from hcc_imaging.batch import PipelineOptions, run_batch
from tests.segment._phantom import mr_body, write_mr_series


def _archive(tmp: Path) -> Path:
    """One MR study (``mr_body``: a 40 mm lesion in a liver, a +-15 % field) with a seeds file at its lesion's centre."""
    vol, _ = mr_body()
    study = tmp / "arch" / "mr"
    write_mr_series(vol, study / "t1")
    # the lesion's centre: slice 12, row 80 - 10 / 1.8, column 100 - 60 / 1.8
    (study / "seeds.json").write_text(json.dumps({"lesions": [{"lesion_id": "L1", "seed_index": [12, 74, 67]}]}))
    return tmp / "arch"


def test_bias_correct_in_a_batch(tmp_path: Path) -> None:
    arch = _archive(tmp_path)
    with_it: list[dict] = []  # type: ignore[type-arg]
    s = run_batch(arch, tmp_path / "o1", workers=1, processes=False, options=PipelineOptions(bias_correct=True),
                  on_record=with_it.append)
    assert s.n_failed_studies == 0, with_it
    (rec,) = with_it
    (field,) = rec["bias_field"].values()  # the study's one phase, corrected
    assert field["mask"] == "foreground (Otsu)" and field["min_span_mm"] == 100.0
    (row,) = rec["lesions"]
    assert rec["mask_source"] == "seeds.json" and abs(row["longest_diameter_mm"] - 40.0) <= 4.0
    without: list[dict] = []  # type: ignore[type-arg]
    run_batch(arch, tmp_path / "o2", workers=1, processes=False, on_record=without.append)
    assert "bias_field" not in without[0]
    # the option is part of the study's content key (a resumed run with the other setting redoes the study)
    assert PipelineOptions(bias_correct=True).key_options()["bias_correct"] is True
    assert "bias_correct" not in PipelineOptions().key_options()

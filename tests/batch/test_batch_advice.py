"""A loader's advice to a Python caller ("pass acquisition=N") in a batch failure row is what the
batch's user can do instead (hcc_imaging.batch.advice).  Tiny synthetic series; nothing is measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.batch.pipeline import PipelineOptions, run_study, tasks_from_index
from hcc_imaging.io import SliceSpacingError, index_archive, load_series
from tests.io._synth import write_series


def test_a_repeated_acquisition_row_says_what_the_batch_user_can_do(tmp_path: Path) -> None:
    """Before: "... acquisitions [1, 2]: pass acquisition=N to load one of them. Otherwise pass the
    files of one repetition to load_series([...])": ``hcc-imaging batch`` has neither."""
    vals = np.full((3, 6, 6), 1100, np.uint16)
    for n in (1, 2):
        write_series(tmp_path / "P-1" / "st" / f"a{n}", vals, series_uid="1.2.826.0.1.3680043.99.61",
                     study_uid="1.2.826.0.1.3680043.99.60", names=[f"a{n}_{k}.dcm" for k in range(3)],
                     extra={"PatientID": "P-1", "AcquisitionNumber": n})
    (task,) = tasks_from_index(index_archive(tmp_path), PipelineOptions())
    rec = run_study(task, PipelineOptions())
    assert not rec["ok"] and rec["step"] == "load" and "DuplicatePositionError" in rec["reason"]
    reason = rec["reason"]
    assert "acquisition=N" not in reason and "load_series(" not in reason
    assert "acquisitions [1, 2]: the batch loads a series whole (it has no option to pick one acquisition)" in reason
    assert reason.count("--resume") == 1
    assert "run the batch again with --resume" in reason and "hcc-imaging load SERIES --acquisition N" in reason


def test_a_gap_row_names_the_batch_option(tmp_path: Path) -> None:
    from hcc_imaging.batch.advice import batch_advice

    vals = np.full((4, 6, 6), 1100, np.uint16)
    write_series(tmp_path, vals, positions=[(0, 0, z) for z in (0.0, 2.5, 5.0, 10.0)])
    with pytest.raises(SliceSpacingError) as got:
        load_series(tmp_path)
    assert 'on_irregular="resample"' in str(got.value)
    said = batch_advice(str(got.value))
    assert "run the batch with --on-irregular resample to resample" in said and "on_irregular=" not in said

"""A run killed mid-write (SIGKILL) leaves the atomic writer's hidden temp files (``.<name>.<random>.part``)
in OUT (``deidentified/seg/``, ``sr/``...); the next run into that OUT, resumed or fresh, removes them and
says how many (they were never removed)."""

from __future__ import annotations

import json
from pathlib import Path

from hcc_imaging.batch import run_batch
from hcc_imaging.cli import main

from .conftest import make_archive

#: Temp names as hcc_imaging._atomic makes them (".part", or the format suffix for SimpleITK writers).
STALE = ("sr/.PAT-001_baseline_sr.dcm.k3j2h1g0.part", "deidentified/seg/.HCC-0001_seg.dcm.0a1b2c3d.part",
         "store/ok/.0123456789abcdef01234567.json.x_y1z2w3.part", "masks/S1/.lesions.nii.gz.ab12cd34.nii.gz")
#: Files that are not the writer's temp files: kept.
KEPT = ("notes.part", ".keep", "sr/.hidden.dcm")


def _plant(out: Path) -> None:
    for rel in (*STALE, *KEPT):
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half-written")


def test_stale_temp_files_are_removed_by_a_fresh_run_and_by_resume(tmp_path: Path, capsys) -> None:
    src = make_archive(tmp_path / "archive", 1, timepoints=("baseline",))
    out = tmp_path / "out"
    _plant(out)  # killed before its first record: a fresh run into the same OUT
    s = run_batch(src, out, workers=1, processes=False)
    assert s.n_stale_temps_removed == len(STALE)
    assert json.loads((out / "summary.json").read_text())["n_stale_temps_removed"] == len(STALE)
    assert not [rel for rel in STALE if (out / rel).exists()]
    assert all((out / rel).read_bytes() == b"half-written" for rel in KEPT)

    _plant(out)  # killed again later: --resume
    assert main(["batch", str(src), "--out", str(out), "--resume", "--workers", "1", "--threads", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"removed {len(STALE)} temporary file(s) an interrupted run left in {out}" in printed
    assert not [rel for rel in STALE if (out / rel).exists()]
    assert all((out / rel).is_file() for rel in KEPT)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part") and p.name != "notes.part"]

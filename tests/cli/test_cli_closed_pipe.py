"""Output cut short by a closed pipe (``| head``) ends quietly with exit 141 (README) for every
command, also those that print rich tables: rich caught the broken pipe itself and raised
``SystemExit(1)``, so ``hcc-imaging index DIR | head -1`` and ``assess READ --criteria all | head -2``
ended with exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hcc_imaging.cli import EXIT_BROKEN_PIPE

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom"


def _into_closed_pipe(*argv: str) -> subprocess.CompletedProcess[bytes]:
    r, w = os.pipe()
    os.close(r)  # the reader has gone before anything is written (`| head -n 0`; `| head -1` once it has its line)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    try:
        return subprocess.run([sys.executable, "-m", "hcc_imaging.cli", *argv], stdout=w, stderr=subprocess.PIPE,
                              env=env, cwd=REPO, timeout=300)
    finally:
        os.close(w)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["index", str(SAMPLE)], id="index-table"),
        pytest.param(["assess", str(REPO / "docs" / "examples" / "read_tace.json"), "--criteria", "all"],
                     id="assess-table"),
        pytest.param(["load", str(SAMPLE / "baseline" / "arterial")], id="load-table"),
        pytest.param(["index", str(SAMPLE), "--json"], id="index-json"),
    ],
)
def test_a_closed_pipe_ends_with_141_and_nothing_on_stderr(argv: list[str]) -> None:
    proc = _into_closed_pipe(*argv)
    assert proc.stderr.decode() == ""
    assert proc.returncode == EXIT_BROKEN_PIPE


"""``hcc-imaging batch ... 2>&-``: a run whose stderr the shell closed writes its results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_batch_with_stderr_closed_writes_its_results(small_archive: Path, tmp_path: Path) -> None:
    """Before: Python started with ``sys.stderr`` None and the run died at its first use
    (``sys.stderr.isatty()`` for the progress bar: AttributeError), exit 1, nothing written.  Now
    descriptor 2 is /dev/null: exit 0, the results written, and no log line in them (a closed
    descriptor 2 reused by a results file would take what is written to "stderr")."""
    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001" / "baseline", arch / "PAT-001" / "baseline")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "hcc_imaging.cli", "batch", str(arch), "--out", str(out), "--threads", "--workers", "1"]
    p = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *cmd], stdout=subprocess.PIPE, text=True, env=env,
                       timeout=600, check=False)
    assert p.returncode == 0, p.stdout
    assert "1 studies (0 already done, 1 run, 0 failed)" in p.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_studies"] == 1 and summary["n_failed_studies"] == 0
    lesions = (out / "lesions.csv").read_text()
    assert lesions.startswith("patient_id,") and "PAT-001" in lesions
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".csv", ".json"):
            assert "WARNING" not in f.read_text(errors="replace"), f
    # a usage error with stderr closed: exit 2, no traceback
    p = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "hcc_imaging.cli", "batch", "--bogus"],
                       stdout=subprocess.PIPE, text=True, env=env, timeout=120, check=False)
    assert p.returncode == 2

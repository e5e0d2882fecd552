"""Ctrl+C (SIGINT) stops a batch run with the exact command that continues it; what was measured is kept."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import make_archive

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_sigint_prints_the_resume_command_and_keeps_the_records(tmp_path) -> None:
    arch = make_archive(tmp_path / "arch", 4)  # 8 studies
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hcc_imaging.cli", "batch", str(arch), "--out", str(out), "--workers", "1",
           "--criteria", "recist1.1,mrecist", "--no-progress"]
    # a session of its own: SIGINT goes to the whole group, as Ctrl+C at a terminal (the local
    # cluster's worker processes get it too)
    # SIGINT back to its default in the child: a test run started in the background by a
    # non-interactive shell (nohup ... &) inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler (the run ignored the signal and ended with 0)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env(),
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 180
        ok = out / "store" / "ok"
        while time.monotonic() < deadline and proc.poll() is None:
            if ok.is_dir() and any(ok.glob("*.json")):
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr  # neither the driver nor a worker process
    n_done = len(list((out / "store" / "ok").glob("*.json")))
    assert 1 <= n_done < 8, "the interrupt should land mid-run"
    assert f"interrupted: {n_done} of 8 studies done and kept in {out}/store" in stderr
    lines = stderr.splitlines()
    resume = lines[lines.index(next(x for x in lines if x.endswith("To continue, run:"))) + 1].strip()
    argv = shlex.split(resume)
    assert argv == ["hcc-imaging", "batch", str(arch), "--out", str(out), "--workers", "1", "--criteria",
                    "recist1.1,mrecist", "--no-progress", "--resume"]
    # the printed command continues the run: the stored studies are not measured again
    r = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", *argv[1:], "--json"], capture_output=True, text=True,
                       cwd=REPO, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["n_skipped_resumed"], summary["n_processed"], summary["n_failed_studies"]) == (n_done, 8 - n_done, 0)
    assert len(list((out / "reads").glob("*.json"))) == 4

"""One session at a time on a read (``_read_lock``): two sessions open on one read each wrote the
read's JSON over the other's and removed the mask files only the other's JSON named.  Qt-free:
the controller, and a second real process holding the read."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import StoreError
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.napari_plugin._read_lock import ReadInUseError, lock_path
from hcc_imaging.volume import Volume

REPO = Path(__file__).resolve().parents[2]

_HOLDER = """
import sys
from hcc_imaging.napari_plugin._controller import ReadSession
s = ReadSession.resume("P001", "R1", sys.argv[1])
print("open", flush=True)
sys.stdin.read()  # (held until the test closes stdin or kills it)
s.close()
"""


def _mask() -> np.ndarray:
    m = np.zeros((4, 12, 12), bool)
    m[1:3, 3:7, 3:7] = True
    return m


def _session(tmp_path: Path) -> ReadSession:
    s = ReadSession.resume("P001", "R1", tmp_path)
    s.add_timepoint("baseline", {"portal_venous": Volume.create(np.zeros((4, 12, 12), np.int16), spacing=(2.0, 1.0, 1.0))})
    return s


def _holder(tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    return proc


def test_a_read_open_in_another_process_is_refused_until_it_ends(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(ReadInUseError) as err:
            ReadSession.resume("P001", "R1", tmp_path)
        msg = str(err.value)
        assert f"process {proc.pid} on this machine" in msg and str(lock_path(tmp_path / "P001__R1.json")) in msg
        assert "close the read" in msg
        # another reader's read, and another patient's, are not held by it
        ReadSession.resume("P001", "R2", tmp_path).close()
        ReadSession.resume("P002", "R1", tmp_path).close()
    finally:
        proc.kill()
        proc.communicate()  # (waits, and closes its pipes: a ResourceWarning in CI otherwise)
    # killed without closing: its lock is stale and taken over, with a warning
    with caplog.at_level(logging.WARNING):
        s = _session(tmp_path)
    assert any("ended without closing" in r.getMessage() and str(proc.pid) in r.getMessage() for r in caplog.records)
    s.set_mask(s.new_lesion().lesion_id, "baseline", _mask(), source="algorithm:test/1")
    assert json.loads(lock_path(s.path).read_text())["pid"] == os.getpid()


def test_a_closed_session_releases_the_read(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    proc.communicate(timeout=60)  # (its stdin closed: it closes its session and ends; the pipes closed here)
    assert proc.returncode == 0
    assert not lock_path(tmp_path / "P001__R1.json").exists()
    s = _session(tmp_path)
    s.close()
    assert not lock_path(s.path).exists()
    with pytest.raises(StoreError, match="this session was closed"):
        s.autosave()


def test_sessions_of_one_process_share_the_read_and_a_takeover_stops_their_saves(tmp_path: Path) -> None:
    """The dock starting the same read again (or a reopen to see what was saved) shares this
    process's lock: the lock goes with the last session's close.  A process that takes the read
    over (here: by hand, as if this one had been judged ended) stops this one's saves."""
    first = _session(tmp_path)
    first.set_mask(first.new_lesion().lesion_id, "baseline", _mask(), source="algorithm:test/1")
    second = _session(tmp_path)
    second.set_mask(second.new_lesion().lesion_id, "baseline", _mask()[:, ::-1], source="algorithm:test/1")
    path = lock_path(second.path)
    second.close()
    assert path.exists()  # (first still has it open)
    first.autosave(masks=True)
    first.close()
    assert not path.exists()
    third = _session(tmp_path)
    third.autosave()
    path.write_text(json.dumps({"pid": 1, "host": "reading-room-2", "since": "2026-12-06T09:00:00+00:00"}))
    with pytest.raises(ReadInUseError, match="taken over by another process") as err:
        third.autosave()
    assert str(path) in str(err.value)
    assert json.loads(path.read_text())["host"] == "reading-room-2"  # (never written over by the refused save)


def test_a_lock_of_another_host_is_refused_and_an_empty_one_taken_over(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "P001__R1.json")
    path.write_text(json.dumps({"pid": 1, "host": "reading-room-2", "since": "2026-12-06T09:00:00+00:00"}))
    with pytest.raises(ReadInUseError, match="on host 'reading-room-2'") as err:
        ReadSession.resume("P001", "R1", tmp_path)
    assert f"delete {path}" in str(err.value)
    path.write_text("")  # (a stop while the lock was written)
    ReadSession.resume("P001", "R1", tmp_path)
    assert json.loads(path.read_text())["pid"] == os.getpid()

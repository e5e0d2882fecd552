"""Lengths above 10 m refused when recorded; the CLI's words for an existing id; a store in a
folder that cannot be written is listed and verified read-only."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import StoreError
from hcc_imaging.response.document import MAX_LENGTH_MM
from hcc_imaging.study import ReaderSession, Store

REPO = Path(__file__).resolve().parents[2]


def _draft(store: Store) -> tuple[ReaderSession, str]:
    store.add_reader("R1")
    store.add_patient("P1")
    store.add_timepoint("P1", "BL", dt.date(2024, 1, 1))
    sess = ReaderSession(store, "R1")
    sess.add_lesion("P1", "L1")
    return sess, sess.start_read("P1", ["BL"], "recist1.1").read_uid


@pytest.mark.parametrize("field", ["longest_diameter_mm", "short_axis_mm", "viable_diameter_mm"])
def test_length_above_10m_refused_when_recorded(store: Store, field: str) -> None:
    sess, uid = _draft(store)
    sess.record_measurement(uid, "BL", "L1", **{field: MAX_LENGTH_MM})  # exactly 10 m: accepted
    with pytest.raises(StoreError, match=rf"{field} = 10000.1 mm is not a lesion size \(above 10000 mm"):
        sess.record_measurement(uid, "BL", "L1", **{field: 10_000.1})
    assert getattr(sess.measurements(uid)[0], field) == MAX_LENGTH_MM


def test_volume_above_its_cube_and_far_endpoints_refused(store: Store) -> None:
    sess, uid = _draft(store)
    with pytest.raises(StoreError, match=r"volume_mm3 = 10000000000000.0 mm3 is not a lesion size \(above 1e\+12 mm3"):
        sess.record_measurement(uid, "BL", "L1", longest_diameter_mm=20.0, volume_mm3=1e13)
    with pytest.raises(StoreError, match="more than 10000 mm"):
        sess.record_measurement(uid, "BL", "L1", longest_diameter_mm=20.0,
                                endpoints_lps={"long": [[0.0, 0.0, 0.0], [20_000.0, 0.0, 0.0]]})


def test_cli_record_refuses_20m(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.sqlite")
    store = Store(db)
    _, uid = _draft(store)
    store.close()
    code = main(["study", "read", "record", uid, "--reader", "R1", "--timepoint", "BL", "--lesion", "L1",
                 "--ld", "20000", "--db", db])
    err = capsys.readouterr().err
    assert code != 0 and "not a lesion size" in err
    assert ReaderSession(Store(db), "R1").measurements(uid) == []


@pytest.mark.parametrize(("argv", "again"), [
    pytest.param(["patient", "add", "P1"], "patient 'P1' already exists", id="patient"),
    pytest.param(["timepoint", "add", "P1", "BL", "--date", "2024-01-01"], "time point 'BL'", id="timepoint"),
])
def test_cli_existing_id_names_the_cli_option(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              argv: list[str], again: str) -> None:
    db = str(tmp_path / "s.sqlite")
    assert main(["study", "patient", "add", "P1", "--db", db]) == 0
    assert main(["study", "timepoint", "add", "P1", "BL", "--date", "2024-01-01", "--db", db]) == 0
    capsys.readouterr()
    assert main(["study", *argv, "--db", db]) != 0
    err = capsys.readouterr().err
    assert again in err and "pass --exist-ok" in err and "exist_ok=True" not in err
    assert main(["study", *argv, "--exist-ok", "--db", db]) == 0


# ------------------------------------------------------------------ read-only stores
def _store_file(folder: Path) -> Path:
    folder.mkdir()
    path = folder / "s.sqlite"
    s = Store(path)
    s.add_reader("R1")
    s.add_patient("P1")
    s.close()
    return path


def test_read_only_store_lists_and_verifies_and_refuses_changes(tmp_path: Path) -> None:
    path = _store_file(tmp_path / "d")
    with Store(path, read_only=True) as ro:
        assert ro.read_only
        assert [r.reader_id for r in ro.readers()] == ["R1"]
        assert [p.patient_id for p in ro.patients()] == ["P1"]
        assert ro.audit_verify().ok
        with pytest.raises(StoreError, match="open read-only because it was opened read-only.*copy the store"):
            ro.add_patient("P2")
    with Store(path) as rw:
        assert not rw.read_only and [p.patient_id for p in rw.patients()] == ["P1"]


def _drop_write_rights() -> list[str] | None:
    """A command prefix that runs without the right to write a folder this process made, or None."""
    if os.geteuid() != 0:
        return []  # chmod is enough for an ordinary user
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search"]


def test_store_in_unwritable_folder_lists_and_verifies(tmp_path: Path) -> None:
    prefix = _drop_write_rights()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a folder unwritable")
    path = _store_file(tmp_path / "ro")
    path.parent.chmod(0o555)
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        run = lambda *a: subprocess.run([*prefix, sys.executable, "-m", "hcc_imaging.cli", "study", *a,  # noqa: E731
                                         "--db", str(path)], capture_output=True, text=True, env=env, timeout=120)
        listed = run("reader", "list")
        assert listed.returncode == 0 and "R1" in listed.stdout, listed.stderr
        verified = run("audit", "verify")
        assert verified.returncode == 0 and "audit log OK" in verified.stdout, verified.stderr
        refused = run("patient", "add", "P2")
        assert refused.returncode != 0 and "cannot be written by you" in refused.stderr
        assert sorted(p.name for p in path.parent.iterdir()) == ["s.sqlite"]  # no -shm / -wal made
    finally:
        path.parent.chmod(0o755)

"""What the command line does with paths it cannot write and with a closed output pipe: an
``error:`` line naming the path, the reason and what to do, exit 2 (a traceback and exit 1 before);
a symlinked ``--out`` written through, a FIFO or folder refused (they were replaced); ``| head``
ends quietly."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hcc_imaging.cli import EXIT_BROKEN_PIPE, main, os_error_message

REPO = Path(__file__).resolve().parents[2]
READ = REPO / "docs" / "examples" / "read_tace.json"


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return cap.err


def test_sr_onto_a_symlink_writes_through_and_keeps_the_link(tmp_path: Path, capsys) -> None:
    real = tmp_path / "real.dcm"
    real.write_text("original")
    link = tmp_path / "link.dcm"
    link.symlink_to(real.name)
    assert main(["export", "sr", str(READ), "--out", str(link)]) == 0
    assert link.is_symlink() and link.readlink() == Path("real.dcm")
    assert real.read_bytes()[128:132] == b"DICM"


def test_sr_onto_a_fifo_is_refused_and_the_fifo_kept(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["export", "sr", str(READ), "--out", str(fifo)]) == 2
    err = _error(capsys)
    assert err.startswith(f"error: OutputPathError: cannot write {fifo}: it is a FIFO (named pipe)"), err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_sr_onto_a_folder_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "outdir"
    out.mkdir()
    assert main(["export", "sr", str(READ), "--out", str(out)]) == 2
    err = _error(capsys)
    assert err.startswith(f"error: OutputPathError: cannot write {out}: it is a directory"), err
    assert "Pass the path of a file" in err
    assert out.is_dir() and not any(out.iterdir())


@pytest.mark.parametrize(("kind", "out"), [("csv", "afile"), ("csv", "afile/sub"), ("sr", "afile/x.dcm")])
def test_out_under_a_file_names_it(tmp_path: Path, capsys, kind: str, out: str) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    assert main(["export", kind, str(READ), "--out", str(tmp_path / out)]) == 2
    err = _error(capsys)
    assert err.startswith("error: OutputPathError: cannot write "), err
    assert f"{blocker} is a file, not a folder" in err
    assert blocker.read_text() == "a file, not a folder"


def test_an_os_error_is_an_error_line_with_the_path(tmp_path: Path, capsys) -> None:
    loop = tmp_path / "loop.dcm"
    loop.symlink_to(loop.name)  # a link to itself: ELOOP, an OSError no check of the tool names
    assert main(["export", "sr", str(READ), "--out", str(loop)]) == 2
    err = _error(capsys)
    assert err.startswith(f"error: OSError: {loop}: Too many levels of symbolic links. "), err
    with pytest.raises(OSError):
        main(["--debug", "export", "sr", str(READ), "--out", str(loop)])


def test_os_error_message_names_path_reason_and_fix() -> None:
    msg = os_error_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/sr.dcm"))
    assert msg == ("OSError: /data/out/sr.dcm: No space left on device. The disk is full: free some space or "
                   "write elsewhere.")
    assert os_error_message(PermissionError(errno.EACCES, "Permission denied", "/x")).startswith(
        "PermissionError: /x: Permission denied. Permission denied: choose a path")
    assert os_error_message(OSError("no errno")) == "OSError: no errno. Check the path, its permissions and the disk."


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.close(r)  # the reader is gone before anything is written (`| head -n 0`)
    code = "import sys; from hcc_imaging.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        proc = subprocess.run([sys.executable, "-c", code, "study", "init", "--db", str(tmp_path / "s.sqlite")],
                              stdout=w, stderr=subprocess.PIPE, env=env, cwd=REPO, timeout=120)
    finally:
        os.close(w)
    assert proc.stderr.decode() == ""
    assert proc.returncode == EXIT_BROKEN_PIPE


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        pytest.param("notadb.json", ["file is not a database. That file is not an SQLite database",
                                     "must name a study store or a new file path"], id="json-file"),
        pytest.param("foo://bar", ["cannot open the study store foo://bar: 'foo' is not a database kind",
                                   "takes a file path (study.sqlite) or a PostgreSQL URL"], id="unknown-scheme"),
        pytest.param("postgresql+psycopg2://me:secret@127.0.0.1:1/trial",
                     ["postgresql+psycopg2://me:***@127.0.0.1:1/trial: its database driver 'psycopg2' is not "
                      "installed. Install it"],
                     id="driver-missing",
                     marks=pytest.mark.skipif(_importable("psycopg2"), reason="psycopg2 is installed here")),
        pytest.param("postgresql+pg8000://me:secret@127.0.0.1:1/trial",
                     ["postgresql+pg8000://me:***@127.0.0.1:1/trial: Can't create a connection",
                      "that the database server runs"],
                     id="server-down",
                     marks=pytest.mark.skipif(not _importable("pg8000"), reason="pg8000 is not installed")),
    ],
)
def test_a_db_that_cannot_be_opened_says_why(tmp_path: Path, capsys, monkeypatch, db: str,
                                             expected: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notadb.json").write_text("{}\n")
    assert main(["study", "reader", "list", "--db", db]) == 2
    err = _error(capsys)
    assert err.startswith("error: StoreError: cannot open the study store "), err
    for part in expected:
        assert part in err, err
    assert "secret" not in err
    assert (tmp_path / "notadb.json").read_text() == "{}\n"

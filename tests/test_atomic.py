"""Atomic writes: all or nothing, no half-written file visible under the final name or suffix."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hcc_imaging._atomic import atomic_write, atomic_write_text, format_suffix, is_temp_name, remove_stale_temps
from hcc_imaging.errors import OutputPathError


def test_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "r.json"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new", fsync=True)
    assert p.read_text() == "new"
    assert sorted(x.name for x in p.parent.iterdir()) == ["r.json"]


def test_failed_writer_keeps_the_old_file_and_cleans_up(tmp_path: Path) -> None:
    p = tmp_path / "r.json"
    atomic_write_text(p, "committed")

    def boom(tmp: str) -> None:
        Path(tmp).write_text("half")
        # while writing, the half file never matches the glob a reader uses for results
        assert [x.name for x in tmp_path.glob("*.json")] == ["r.json"]
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError, match="crash mid-write"):
        atomic_write(p, boom)
    assert p.read_text() == "committed"
    assert [x.name for x in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize(
    ("name", "suffix"),
    [pytest.param("m.nii.gz", ".nii.gz", id="nifti-gz"), pytest.param("m.nrrd", ".nrrd", id="nrrd"),
     pytest.param("a.b.dcm", ".dcm", id="dotted-name")],
)
def test_format_suffix_keeps_what_format_sniffers_need(name: str, suffix: str) -> None:
    assert format_suffix(name) == suffix


def test_private_mode_for_secrets(tmp_path: Path) -> None:
    p = atomic_write(tmp_path / "map.json", lambda t: Path(t).write_text("{}"), mode=0o600)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    p.chmod(0o644)
    atomic_write(p, lambda t: Path(t).write_text("{}"), mode=0o600)  # an asked-for mode wins over the old one
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test (restored after it)."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "expected"), [(0o077, 0o600), (0o022, 0o644), (0o027, 0o640)],
                         ids=["umask077", "umask022", "umask027"])
def test_new_file_mode_follows_the_umask(tmp_path: Path, umask: Callable[[int], None], mask: int,
                                         expected: int) -> None:
    umask(mask)
    p = atomic_write_text(tmp_path / "r.json", "x")
    assert stat.S_IMODE(p.stat().st_mode) == expected
    # what open() gives under the same umask
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert stat.S_IMODE(plain.stat().st_mode) == expected


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask: Callable[[int], None]) -> None:
    p = tmp_path / "r.json"
    p.write_text("old")
    p.chmod(0o640)
    umask(0o022)
    atomic_write_text(p, "new")
    assert p.read_text() == "new" and stat.S_IMODE(p.stat().st_mode) == 0o640
    # through a symlink: the linked file's mode
    link = tmp_path / "link.json"
    link.symlink_to(p)
    p.chmod(0o600)
    atomic_write_text(link, "newer")
    assert p.read_text() == "newer" and stat.S_IMODE(p.stat().st_mode) == 0o600


def test_symlink_is_written_through_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("original")
    link = tmp_path / "link.json"
    link.symlink_to("real.json")
    assert atomic_write_text(link, "new") == link
    assert link.is_symlink() and link.readlink() == Path("real.json")
    assert real.read_text() == "new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["link.json", "real.json"]  # no temp left


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "made.json")
    atomic_write_text(link, "x")
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "x"


@pytest.mark.parametrize("via_link", [False, True], ids=["fifo", "link-to-fifo"])
def test_fifo_is_refused_not_replaced(tmp_path: Path, via_link: bool) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = fifo
    if via_link:
        target = tmp_path / "out.json"
        target.symlink_to(fifo)
    with pytest.raises(OutputPathError, match=r"FIFO.*not a regular file") as info:
        atomic_write_text(target, "x")
    assert str(target) in str(info.value)
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the FIFO
    assert target.is_symlink() == via_link
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted({"fifo", target.name})


def test_directory_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "outdir"
    d.mkdir()
    with pytest.raises(OutputPathError, match=r"outdir: it is a directory.*Pass the path of a file"):
        atomic_write_text(d, "x")
    assert d.is_dir() and not any(d.iterdir())
    assert isinstance(OutputPathError("x"), OSError)


def test_folder_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputPathError, match=rf"{blocker} is a file, not a folder"):
        atomic_write_text(blocker / "sub" / "r.json", "x")
    assert blocker.read_text() == "not a folder"


def test_a_write_error_without_a_file_name_names_the_output(tmp_path: Path) -> None:
    """A full disk fails a write() that names no file: the error names the output (for the CLI's message)."""
    def full_disk(tmp: str) -> None:
        Path(tmp).write_bytes(b"part")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    p = tmp_path / "sr.dcm"
    with pytest.raises(OSError) as info:
        atomic_write(p, full_disk)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(p)
    assert list(tmp_path.iterdir()) == []  # no partial file


@pytest.mark.parametrize(
    ("name", "temp"),
    [("r.json", True), ("m.nii.gz", True), ("a.b.dcm", True), ("noext", False)],
    ids=["part", "nifti-gz", "dcm", "no-suffix"],
)
def test_the_writers_own_temp_names_are_recognised(tmp_path: Path, name: str, temp: bool) -> None:
    seen: list[str] = []
    atomic_write(tmp_path / name, lambda t: (seen.append(Path(t).name), Path(t).write_text("x")))
    atomic_write(tmp_path / name, lambda t: (seen.append(Path(t).name), Path(t).write_text("x")),
                 tmp_suffix=format_suffix(name))
    assert is_temp_name(seen[0])  # ".part"
    assert is_temp_name(seen[1]) == temp  # the format suffix (none for a name without one)


def test_remove_stale_temps_removes_only_temp_files(tmp_path: Path) -> None:
    stale = [tmp_path / ".r.json.abcd1234.part", tmp_path / "sub" / ".m.nii.gz.k3j2h1g0.nii.gz",
             tmp_path / "sub" / ".old.json.a_b_c_d_.part"]
    kept = [tmp_path / "r.json", tmp_path / ".bashrc", tmp_path / "notes.part", tmp_path / ".r.json.part",
            tmp_path / ".x.ABCDEFGH.part", tmp_path / "sub" / ".m.nii.gz.k3j2h1g0.gz"]
    for p in (*stale, *kept):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / ".t.json.abcd1234.part").write_text("x")
    link = tmp_path / "sub" / ".l.json.abcd1234.part"
    link.symlink_to(outside / ".t.json.abcd1234.part")  # a link named like one: not followed, not removed
    (tmp_path / "linked").symlink_to(outside, target_is_directory=True)
    assert sorted(remove_stale_temps(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in kept) and link.is_symlink()
    assert (outside / ".t.json.abcd1234.part").exists()


_FULL_DISK_WRITE = """
import resource, signal, sys
import numpy as np
from hcc_imaging.io.masks import save_mask
from hcc_imaging.volume import LabelVolume
rng = np.random.default_rng(0)
lv = LabelVolume.create((rng.random((20, 64, 64)) > 0.5).astype(np.uint8), spacing=(1.0, 1.0, 1.0))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))  # a write past 2 kB fails (EFBIG), as on a full disk
try:
    save_mask(lv, sys.argv[1])
except OSError as err:
    print("OSError", err.errno, err.filename, err.strerror)
    sys.exit(3)
"""


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_mask_written_part_way_is_an_error_not_a_truncated_file(tmp_path: Path) -> None:
    """ITK's NIfTI writer does not report a write that fails part-way (a full disk; here a real
    file-size limit in a child process), and atomic_write moved the truncated .nii.gz into place:
    it reads back as a mask of zeros.  Now an OSError naming the output, and no file at all."""
    import subprocess
    import sys

    out = tmp_path / "mask.nii.gz"
    run = subprocess.run([sys.executable, "-c", _FULL_DISK_WRITE, str(out)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 3, run.stdout + run.stderr
    assert f"OSError {errno.EIO} {out}" in run.stdout and "written incomplete" in run.stdout
    assert list(tmp_path.iterdir()) == []  # neither the truncated output nor its temporary file

"""Atomic writes: all or nothing, no half-written file visible under the final name or suffix."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hcc_imaging._atomic import atomic_write, atomic_write_text, format_suffix


def test_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "r.json"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new", fsync=True)
    assert p.read_text() == "new"
    assert sorted(x.name for x in p.parent.iterdir()) == ["r.json"]
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


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

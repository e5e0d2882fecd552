"""The read's masks on disk (``_mask_files``): a save writes only the masks that changed, and a stop
between its writes never leaves the read naming a missing or half-written mask."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import HccImagingError
from hcc_imaging.napari_plugin import _mask_files
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.volume import Volume

SHAPE = (8, 24, 24)


def _vol() -> Volume:
    return Volume.create(np.zeros(SHAPE, np.int16), spacing=(2.0, 1.0, 1.0))


def _cube(k: int, size: int = 3) -> np.ndarray:
    m = np.zeros(SHAPE, bool)
    m[1:4, 2 + 4 * k: 2 + 4 * k + size, 2:2 + size] = True
    return m


def _read(tmp_path: Path, n: int = 5) -> ReadSession:
    """A read of ``n`` lesions with a mask each (and a viable part for L2)."""
    s = ReadSession("P001", "R1", tmp_path)
    s.add_timepoint("baseline", {"portal_venous": _vol()})
    for k in range(n):
        viable = _cube(k, size=2) if k == 1 else None
        s.set_mask(s.new_lesion().lesion_id, "baseline", _cube(k), viable=viable, source="algorithm:test/1")
    return s


def _files(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file under ``root`` but the read's JSON, its .bak and its lock: (inode, mtime, size)."""
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.name.endswith((".json", ".json.bak", ".lock")):
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def _masks(s: ReadSession) -> dict[tuple[str, str], np.ndarray]:
    out = {}
    for kind, store in (("lesion", s._masks), ("viable", s._viable)):
        for tpid, per in store.items():
            for lid in per:
                out[(kind, lid)] = s.lesion_mask(lid, tpid, viable=kind == "viable")
    return out


def test_an_edit_to_one_lesion_rewrites_only_its_mask_file_and_reopens_the_same(tmp_path: Path) -> None:
    """Every save of a mask rewrote all the read's masks (one ``.masks.npz`` and its ``.bak``): a
    50-lesion read rewrote 50 masks per stroke.  Now one edit to L3 writes L3's file only; the
    others keep their inode and mtime, and the read reopens with the same lesions and masks."""
    s = _read(tmp_path)
    before = _files(tmp_path)
    s.set_mask("L3", "baseline", _cube(2, size=4), source="reader:R1")
    after = _files(tmp_path)
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert len(changed) == 1, f"files written by one edit to L3: {changed}"
    assert len(before) == 6  # five lesion masks and L2's viable part, one file each
    assert "_L3_" in changed[0] and set(before) <= set(after)  # (the old L3 file stays: the .bak names it)
    again = ReadSession.resume("P001", "R1", tmp_path)
    assert again.to_json() == s.to_json()
    mine, theirs = _masks(s), _masks(again)
    assert sorted(theirs) == sorted(mine) and len(mine) == 6
    for key in mine:
        np.testing.assert_array_equal(theirs[key], mine[key], err_msg=str(key))
    np.testing.assert_array_equal(theirs[("lesion", "L3")], _cube(2, size=4))
    # an edit that changes no mask (a typed value) writes no mask file; L3's old one, which no
    # saved read names any more (the .bak is now the save with L3's new mask), is removed
    again.set_field("L1", "organ", "liver")
    now = _files(tmp_path)
    assert {k: after[k] for k in now} == now and set(after) - set(now) == set(before) - set(now) == {
        k for k in before if "_L3_" in k}


def test_the_replaced_masks_go_once_no_saved_read_names_them(tmp_path: Path) -> None:
    """The JSON's .bak (the save before) still opens with its masks; a mask file is removed only
    when neither the JSON nor its .bak names it (no file left behind per edit)."""
    s = _read(tmp_path, n=2)
    s.set_mask("L1", "baseline", _cube(0, size=2), source="reader:R1")
    bak = s.path.with_name(s.path.name + ".bak")
    named = {e["file"] for f in (s.path, bak) for e in json.loads(f.read_text())["masks"]}
    assert set(os.listdir(s.masks_dir)) == named  # (3 now, 4 with the old L1: both names, no other)
    s.set_mask("L2", "baseline", _cube(1, size=2), source="reader:R1")
    named = {e["file"] for f in (s.path, bak) for e in json.loads(f.read_text())["masks"]}
    assert set(os.listdir(s.masks_dir)) == named and len(named) == 4  # L1's first mask is gone
    os.replace(bak, s.path)  # back to the save before the last one: L1's new mask, L2's old one
    r = ReadSession.resume("P001", "R1", tmp_path)
    np.testing.assert_array_equal(r.lesion_mask("L1", "baseline"), _cube(0, size=2))
    np.testing.assert_array_equal(r.lesion_mask("L2", "baseline"), _cube(1))


def test_a_stop_after_the_mask_files_before_the_json_keeps_the_last_save(tmp_path: Path) -> None:
    """A stop between a save's writes: the new mask files are there, the JSON is the last one; it
    opens with its own masks (the files it names are all whole), and the next save goes on."""
    s = _read(tmp_path, n=2)
    saved = s.to_json()
    s._masks["baseline"]["L1"] = (s._masks["baseline"]["L1"][0], ~s._masks["baseline"]["L1"][1])
    files, written = _mask_files.write_changed(s.masks_dir, {"lesion": s._masks, "viable": s._viable}, s._mask_files)
    assert len(written) == 1  # (what autosave would write first; the process stops here)
    r = ReadSession.resume("P001", "R1", tmp_path)
    assert r.to_json() == saved
    np.testing.assert_array_equal(r.lesion_mask("L1", "baseline"), _cube(0))
    r.add_timepoint("baseline", {"portal_venous": _vol()})
    r.set_mask("L1", "baseline", _cube(0, size=2), source="reader:R1")
    np.testing.assert_array_equal(ReadSession.resume("P001", "R1", tmp_path).lesion_mask("L1", "baseline"),
                                  _cube(0, size=2))


def test_a_read_saved_with_one_masks_npz_still_opens_and_moves_to_one_file_each(tmp_path: Path) -> None:
    """A read autosaved before 2026-12-06 (schema 1: all masks in ``.masks.npz``) opens with its
    masks; its next save writes them one file each, and the save after removes the old file."""
    s = _read(tmp_path, n=2)
    mine = _masks(s)
    doc = s.to_json()
    doc["schema_version"] = 1
    del doc["masks"]
    arrays = {}
    for (kind, lid), full in mine.items():
        store = s._masks if kind == "lesion" else s._viable
        start, crop = store["baseline"][lid]
        key = f"{kind}|baseline|{lid}"
        arrays |= {key + "|start": np.asarray(start, np.int64), key + "|bits": np.packbits(crop, axis=None),
                   key + "|shape": np.asarray(crop.shape, np.int64)}
    np.savez(s.masks_path, **arrays)
    s.path.write_text(json.dumps(doc))
    for f in s.masks_dir.iterdir():
        f.unlink()
    r = ReadSession.resume("P001", "R1", tmp_path)
    assert sorted(_masks(r)) == sorted(mine)
    r.set_field("L1", "organ", "liver")  # no mask changed: they are written all the same, once
    assert len(list(r.masks_dir.iterdir())) == 3 and r.masks_path.exists()  # (the .bak needs the npz)
    r.set_field("L1", "organ", "segment 7")
    assert not r.masks_path.exists()
    again = ReadSession.resume("P001", "R1", tmp_path)
    for key, full in mine.items():
        np.testing.assert_array_equal(_masks(again)[key], full, err_msg=str(key))


def test_a_damaged_or_missing_mask_file_is_named_with_what_to_do(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A mask file cut short names the file, its lesion, the .bak holding another version, and how
    to open the read without it; a missing one is left out with a warning (the lesion stays)."""
    s = _read(tmp_path, n=2)
    s.set_mask("L1", "baseline", _cube(0, size=2), source="reader:R1")
    (entry,) = [e for e in json.loads(s.path.read_text())["masks"] if e["lesion_id"] == "L1"]
    path = s.masks_dir / entry["file"]
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(HccImagingError, match=rf"{path.name} \(lesion mask of lesion L1 at baseline\) is damaged"
                                              rf".*P001__R1.json.bak.*delete {path.name}.*study store"):
        ReadSession.resume("P001", "R1", tmp_path)
    path.unlink()
    r = ReadSession.resume("P001", "R1", tmp_path)
    assert "L1" in r.lesions and r.lesion_mask("L1", "baseline") is None
    assert r.lesion_mask("L2", "baseline") is not None
    assert f"{path.name} (lesion mask of L1 at baseline)" in caplog.text

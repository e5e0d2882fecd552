"""A reader's brush on the dock's labels layers (``_mask_edits``): the session's masks follow the
painted label map, are measured again and saved.  Qt-free here; the dock's own paint event is
tested in ``test_napari_dock.py``."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.napari_plugin._controller import ReadLockedError, ReadSession
from hcc_imaging.napari_plugin._mask_edits import painted_region
from hcc_imaging.volume import Volume

SPACING = (2.0, 1.0, 1.0)


def _session(tmp_path: Path, timepoints: tuple[str, ...] = ("baseline",)) -> ReadSession:
    vol = Volume.create(np.zeros((12, 40, 40), np.int16), spacing=SPACING)
    s = ReadSession("P001", "R1", tmp_path)
    for tp in timepoints:
        s.add_timepoint(tp, {"portal_venous": vol})
    return s


def _cube(shape: tuple[int, ...], lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return m


def _box(lo: tuple[int, ...], hi: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in zip(lo, hi))


def _lesion(s: ReadSession, tp: str, mask: np.ndarray, viable: np.ndarray | None = None) -> str:
    les = s.new_lesion()
    s.set_mask(les.lesion_id, tp, mask, viable=viable, source="algorithm:test/1")
    return les.lesion_id


def test_painting_a_lesion_larger_remeasures_it_and_the_edit_survives_a_restart(tmp_path: Path) -> None:
    s = _session(tmp_path)
    shape = s.geometry("baseline").shape
    lid = _lesion(s, "baseline", _cube(shape, (4, 10, 10), (8, 20, 20)))
    before = s.observations[(lid, "baseline")]
    assert before.longest_diameter_mm is not None
    arr = s.label_array("baseline")  # the layer's data: napari paints into this array
    arr[_box((4, 10, 20), (8, 20, 30))] = 1  # the brush: the lesion 10 mm longer in x
    changed, notes = s.masks_painted("baseline", arr, box=_box((4, 10, 20), (8, 20, 30)), labels={1})
    assert changed == [lid] and notes == []
    want = _cube(shape, (4, 10, 10), (8, 20, 30))
    np.testing.assert_array_equal(s.lesion_mask(lid, "baseline"), want)
    obs = s.observations[(lid, "baseline")]
    assert obs.volume_mm3 == pytest.approx(want.sum() * 2.0)  # 2 x 1 x 1 mm voxels
    assert obs.longest_diameter_mm > before.longest_diameter_mm + 5.0
    assert any("edited by hand (reader R1)" in p for p in obs.problems)
    assert (lid, "baseline") in s._dirty
    again = ReadSession.resume("P001", "R1", tmp_path)  # the autosave holds the edit
    np.testing.assert_array_equal(again.lesion_mask(lid, "baseline"), want)
    assert again.observations[(lid, "baseline")].volume_mm3 == obs.volume_mm3


def test_painting_one_lesion_over_another_updates_both(tmp_path: Path) -> None:
    s = _session(tmp_path)
    shape = s.geometry("baseline").shape
    a = _lesion(s, "baseline", _cube(shape, (4, 5, 5), (8, 15, 15)))
    b = _lesion(s, "baseline", _cube(shape, (4, 15, 5), (8, 25, 15)))
    arr = s.label_array("baseline")
    over = _box((4, 15, 5), (8, 18, 15))  # lesion 1's label painted over b's first 3 rows
    arr[over] = 1
    box, labels = painted_region([((tuple(np.nonzero(_cube(shape, (4, 15, 5), (8, 18, 15))))),
                                   np.full(120, 2, np.uint16), 1)], shape)
    assert labels == {1, 2} and box == over
    changed, _ = s.masks_painted("baseline", arr, box=box, labels=labels)
    assert sorted(changed) == [a, b]
    np.testing.assert_array_equal(s.lesion_mask(a, "baseline"), _cube(shape, (4, 5, 5), (8, 18, 15)))
    np.testing.assert_array_equal(s.lesion_mask(b, "baseline"), _cube(shape, (4, 18, 5), (8, 25, 15)))
    assert s.observations[(b, "baseline")].volume_mm3 == pytest.approx(4 * 7 * 10 * 2.0)


def test_a_whole_mask_erased_deletes_a_one_time_point_lesion_and_is_absent_at_a_follow_up(tmp_path: Path) -> None:
    s = _session(tmp_path, ("baseline", "fu1"))
    shape = s.geometry("baseline").shape
    cube = _cube(shape, (4, 10, 10), (8, 20, 20))
    tracked = _lesion(s, "baseline", cube)
    s.set_mask(tracked, "fu1", cube, source="algorithm:test/1")
    only = _lesion(s, "baseline", _cube(shape, (1, 30, 30), (3, 35, 35)))
    arr = s.label_array("fu1")
    arr[arr == 1] = 0  # the eraser over the whole lesion at fu1
    changed, notes = s.masks_painted("fu1", arr, box=_box((4, 10, 10), (8, 20, 20)), labels={1})
    assert changed == [tracked] and "recorded as absent" in notes[0]
    obs = s.observations[(tracked, "fu1")]
    assert obs.status == "absent" and obs.longest_diameter_mm is None and s.lesion_mask(tracked, "fu1") is None
    assert s.lesion_mask(tracked, "baseline") is not None  # the baseline untouched
    base = s.label_array("baseline")
    base[base == 2] = 0
    changed, notes = s.masks_painted("baseline", base, box=_box((1, 30, 30), (3, 35, 35)), labels={2})
    assert changed == [only] and "deleted" in notes[0] and only not in s.lesions


def test_a_new_label_is_a_lesion_drawn_by_hand(tmp_path: Path) -> None:
    s = _session(tmp_path)
    shape = s.geometry("baseline").shape
    first = _lesion(s, "baseline", _cube(shape, (4, 5, 5), (8, 15, 15)))
    arr = s.label_array("baseline")
    arr[_box((2, 25, 25), (6, 37, 33))] = 7  # napari's "new label" gives the next free value
    changed, notes = s.masks_painted("baseline", arr, box=_box((2, 25, 25), (6, 37, 33)), labels={7}, role="non_target")
    assert changed == ["L7"] and "new lesion drawn by hand" in notes[0]
    assert s.lesions["L7"].role == "non_target" and s.lesions["L7"].label == 7
    assert s.observations[("L7", "baseline")].volume_mm3 == pytest.approx(4 * 12 * 8 * 2.0)
    uid = s.lesions[first].tracking_uid
    s.delete_lesion(first)
    arr = s.label_array("baseline")
    arr[_box((4, 5, 5), (6, 8, 8))] = 1  # a deleted lesion's number painted again: a new lesion
    changed, _ = s.masks_painted("baseline", arr, box=_box((4, 5, 5), (6, 8, 8)), labels={1})
    assert changed == [first] and s.lesions[first].tracking_uid != uid
    assert s.observations[(first, "baseline")].volume_mm3 == pytest.approx(2 * 3 * 3 * 2.0)


def test_the_viable_part_is_painted_inside_the_mask_only(tmp_path: Path) -> None:
    s = _session(tmp_path)
    shape = s.geometry("baseline").shape
    mask = _cube(shape, (4, 10, 10), (8, 30, 30))
    lid = _lesion(s, "baseline", mask)
    assert s.observations[(lid, "baseline")].viable_volume_mm3 in (None, 0.0)
    varr = s.label_array("baseline", viable=True)
    varr[_box((4, 10, 10), (8, 20, 36))] = 1  # a nodule, its brush running 6 voxels out of the lesion
    changed, notes = s.masks_painted("baseline", varr, viable=True, box=_box((4, 10, 10), (8, 20, 36)), labels={1})
    assert changed == [lid] and "outside its mask" in notes[0]
    inside = _cube(shape, (4, 10, 10), (8, 20, 30))
    np.testing.assert_array_equal(s.lesion_mask(lid, "baseline", viable=True), inside)
    np.testing.assert_array_equal(varr == 1, inside)  # the stray voxels are off the layer again
    obs = s.observations[(lid, "baseline")]
    assert obs.viable_volume_mm3 == pytest.approx(inside.sum() * 2.0)
    assert obs.necrosis_fraction == pytest.approx(0.5, abs=0.01)
    # shrinking the mask keeps the viable part where the mask still is
    arr = s.label_array("baseline")
    arr[_box((4, 10, 10), (8, 15, 30))] = 0
    s.masks_painted("baseline", arr, box=_box((4, 10, 10), (8, 15, 30)), labels={1})
    np.testing.assert_array_equal(s.lesion_mask(lid, "baseline", viable=True), _cube(shape, (4, 15, 10), (8, 20, 30)))


def test_an_undo_is_read_back_whole_and_a_locked_read_refuses(tmp_path: Path) -> None:
    s = _session(tmp_path)
    shape = s.geometry("baseline").shape
    cube = _cube(shape, (4, 10, 10), (8, 20, 20))
    lid = _lesion(s, "baseline", cube)
    arr = s.label_array("baseline")
    arr[_box((4, 10, 20), (8, 20, 30))] = 1
    s.masks_painted("baseline", arr, box=_box((4, 10, 20), (8, 20, 30)), labels={1})
    arr[_box((4, 10, 20), (8, 20, 30))] = 0  # napari's undo: no region reported
    changed, _ = s.masks_painted("baseline", arr)
    assert changed == [lid]
    np.testing.assert_array_equal(s.lesion_mask(lid, "baseline"), cube)
    s.locked = True
    with pytest.raises(ReadLockedError, match="cannot edit a mask"):
        s.masks_painted("baseline", arr, labels={1})


def test_painted_region_reads_both_kinds_of_napari_history_atom() -> None:
    masked = namedtuple("MaskedAtom", "slice_key mask old_values new_value")
    atoms = [masked((slice(2, 4), slice(5, 9), slice(0, 3)), None, np.zeros((2, 4, 3), np.uint16), 3),
             ((np.array([1, 1]), np.array([7, 8]), np.array([2, 2])), np.array([0, 4], np.uint16), np.uint16(3))]
    box, labels = painted_region(atoms, (10, 10, 10))
    assert box == (slice(1, 4), slice(5, 9), slice(0, 3)) and labels == {3, 4}
    assert painted_region(["something else"], (10, 10, 10)) == (None, set())


def test_a_lesion_erased_whole_comes_back_when_its_label_is_painted_there_again(tmp_path: Path) -> None:
    """The eraser over a one-time-point lesion deletes it; napari's undo paints its label back (a
    whole re-read): the same lesion returns, as it was when the mask is the one erased, measured
    again otherwise.  Before, the read refused the label (a read never reuses a lesion's number)
    and its voxels stayed in the label map the SEG exports."""
    s = _session(tmp_path)
    shape = s.geometry("baseline").shape
    cube = _cube(shape, (4, 10, 10), (8, 20, 20))
    lid = _lesion(s, "baseline", cube, viable=_cube(shape, (4, 10, 10), (8, 15, 20)))
    les, obs = s.lesions[lid], s.observations[(lid, "baseline")]
    arr = s.label_array("baseline")
    arr[cube] = 0
    changed, notes = s.masks_painted("baseline", arr, box=_box((4, 10, 10), (8, 20, 20)), labels={1})
    assert changed == [lid] and lid not in s.lesions and (lid, "baseline") in s._deleted
    arr[cube] = 1  # the undo: no region reported
    changed, notes = s.masks_painted("baseline", arr)
    assert changed == [lid] and "back in the read" in notes[0]
    assert s.lesions[lid] is les and s.observations[(lid, "baseline")] is obs
    assert (lid, "baseline") not in s._deleted and (lid, "baseline") in s._dirty
    np.testing.assert_array_equal(s.lesion_mask(lid, "baseline", viable=True), _cube(shape, (4, 10, 10), (8, 15, 20)))
    np.testing.assert_array_equal(s.label_array("baseline", viable=True) == 1, _cube(shape, (4, 10, 10), (8, 15, 20)))
    assert ReadSession.resume("P001", "R1", tmp_path).lesions[lid].tracking_uid == les.tracking_uid
    # erased again, and a smaller mask painted with its label: the same lesion, measured on it
    arr[cube] = 0
    s.masks_painted("baseline", arr, box=_box((4, 10, 10), (8, 20, 20)), labels={1})
    part = _cube(shape, (4, 10, 10), (6, 20, 20))
    arr[part] = 1
    changed, _ = s.masks_painted("baseline", arr, box=_box((4, 10, 10), (6, 20, 20)), labels={1})
    assert changed == [lid] and s.lesions[lid].tracking_uid == les.tracking_uid
    assert s.observations[(lid, "baseline")].volume_mm3 == pytest.approx(part.sum() * 2.0)
    np.testing.assert_array_equal(s.lesion_mask(lid, "baseline", viable=True), _cube(shape, (4, 10, 10), (6, 15, 20)))

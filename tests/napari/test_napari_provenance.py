"""A lesion's source survives its measurement (``_sources``, ``_core.measure``): an imported mask
stays ``imported mask``, a painted one is the reader's, a segmentation keeps its algorithm.  Until
2026-12-06 measuring replaced every source but an algorithm's with the measuring code's
(``algorithm:hcc_imaging.measure.measure_lesion/0.1.0``).  Qt-free: no viewer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hcc_imaging.io import save_mask
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.napari_plugin._sources import IMPORTED_MASK_SOURCE, store_provenance
from hcc_imaging.volume import LabelVolume, Volume


def _imported(tmp_path: Path) -> ReadSession:
    vol = Volume.create(np.zeros((8, 32, 32), np.int16), spacing=(2.0, 1.0, 1.0))
    arr = np.zeros(vol.shape, np.uint8)
    arr[2:6, 8:20, 8:20] = 1
    save_mask(LabelVolume.like(vol, arr), tmp_path / "expert.nii.gz")
    s = ReadSession("P001", "R1", tmp_path / "reads")
    s.add_timepoint("baseline", {"portal_venous": vol})
    assert s.import_masks("baseline", tmp_path / "expert.nii.gz") == ["L1"]
    return s


def _sources(s: ReadSession) -> dict[str, str]:
    return {les["lesion_id"]: les.get("source") for tp in s.read_document()["timepoints"] for les in tp["lesions"]}


def test_an_imported_mask_measured_stays_imported_in_the_read_and_its_autosave(tmp_path: Path) -> None:
    s = _imported(tmp_path)
    obs = s.observation("L1", "baseline")
    assert obs.longest_diameter_mm is not None and obs.longest_diameter_mm > 0
    assert obs.source == IMPORTED_MASK_SOURCE  # (was algorithm:hcc_imaging.measure.measure_lesion/0.1.0)
    assert _sources(s) == {"L1": IMPORTED_MASK_SOURCE}
    again = ReadSession.resume("P001", "R1", tmp_path / "reads")
    assert again.observation("L1", "baseline").source == IMPORTED_MASK_SOURCE


def test_an_imported_mask_edited_with_the_brush_is_the_readers_and_says_it_was_imported(tmp_path: Path) -> None:
    s = _imported(tmp_path)
    arr = s.label_array("baseline")
    box = (slice(2, 6), slice(8, 20), slice(20, 24))
    arr[box] = 1  # the brush: the expert's mask 4 mm longer in x
    changed, _ = s.masks_painted("baseline", arr, box=box, labels={1})
    assert changed == ["L1"]
    obs = s.observation("L1", "baseline")
    assert obs.source == "reader:R1"  # (was the measuring code's algorithm)
    assert "imported mask edited by hand (reader R1)" in obs.problems
    assert _sources(s) == {"L1": "reader:R1"}


def test_a_segmentation_keeps_its_algorithm_and_a_painted_lesion_is_the_readers(tmp_path: Path) -> None:
    s = ReadSession("P001", "R1", tmp_path)
    vol = Volume.create(np.zeros((8, 32, 32), np.int16), spacing=(2.0, 1.0, 1.0))
    s.add_timepoint("baseline", {"portal_venous": vol})
    mask = np.zeros((8, 32, 32), bool)
    mask[2:6, 4:12, 4:12] = True
    lid = s.new_lesion().lesion_id
    s.set_mask(lid, "baseline", mask, source="algorithm:segment_lesion/1.62")
    arr = s.label_array("baseline")
    box = (slice(2, 6), slice(18, 26), slice(18, 26))
    arr[box] = 7  # a new label painted: a lesion drawn by hand
    changed, _ = s.masks_painted("baseline", arr, box=box, labels={7})
    assert _sources(s) == {lid: "algorithm:segment_lesion/1.62", changed[0]: "reader:R1"}


def test_the_store_records_each_kind_and_its_read_says_so(tmp_path: Path) -> None:
    """``store_provenance`` against the real store: its kind and the source its exported read gives."""
    from hcc_imaging.study import ReaderSession, Store

    store = Store(tmp_path / "study.sqlite")
    try:
        s = ReadSession("P001", "R1", tmp_path, store=store)
        lid, _ = s.measure_manual("baseline", ((0, 0, 0), (0, 30, 0)), None)
        rs = ReaderSession(store, "R1")
        (read,) = rs.reads("P001")
        want = {"algorithm:segment_lesion/1.62": ("algorithm", "segment_lesion 1.62"),
                IMPORTED_MASK_SOURCE: ("imported", IMPORTED_MASK_SOURCE), "reader:R1": ("manual_line", "reader:R1")}
        for source, (kind, exported) in want.items():
            rs.record_measurement(read.read_uid, "baseline", s.lesions[lid].tracking_uid, longest_diameter_mm=30.0,
                                  **store_provenance(source))
            (m,) = rs.measurements(read.read_uid)
            assert m.source_kind == kind, source
            (les,) = rs.export_document(read.read_uid).timepoints[0].lesions
            assert les.source == exported, source
    finally:
        store.close()


def test_an_imported_mask_reaches_the_store_as_imported(tmp_path: Path) -> None:
    """The session's own store sync (``_store_sync._record``) writes an imported mask's measurement
    as ``imported`` (it wrote every non-algorithm source as the reader's line, ``manual_line``)."""
    from hcc_imaging.study import ReaderSession, Store

    store = Store(tmp_path / "study.sqlite")
    try:
        s = _imported(tmp_path)
        s.attach_store(store)
        s.autosave()
        rs = ReaderSession(store, "R1")
        (read,) = rs.reads("P001")
        (m,) = rs.measurements(read.read_uid)
        assert m.source_kind == "imported"
        (les,) = rs.export_document(read.read_uid).timepoints[0].lesions
        assert les.source == IMPORTED_MASK_SOURCE
    finally:
        store.close()

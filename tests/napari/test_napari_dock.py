"""The dock on the sample study under Xvfb: click → mask → lines → table → response; edits; blinding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hcc_imaging.napari_plugin import _core
from hcc_imaging.napari_plugin._layers import lps_to_world

pytestmark = pytest.mark.gui

needs_pipeline = pytest.mark.skipif(
    not (_core.available("segment") and _core.available("measure")),
    reason="hcc_imaging.segment / hcc_imaging.measure not in this build",
)


def _click(viewer: Any, dock: Any, lps: Any) -> None:
    """What a reader's click in 'Click to segment' mode does: add a point on the seeds layer."""
    dock.segment_button.setChecked(True)
    seeds = viewer.layers["seeds (click a lesion)"]
    seeds.add(np.asarray(seeds.world_to_data(lps_to_world(lps))))


def _click_with_box(viewer: Any, dock: Any, qtbot: Any, box: Any, lps: Any) -> None:
    """Tick ``box`` (the dock's "node" / "in liver"), click ``lps`` and wait for the lesion's row."""
    box.setChecked(True)
    _click(viewer, dock, lps)
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=30000)


def _read_with_one_lesion(viewer: Any, dock: Any, qtbot: Any, lps: Any) -> Any:
    """Reader R1's read with the lesion at ``lps`` clicked and measured (its row in the table)."""
    session = dock.start_read("R1")
    _click(viewer, dock, lps)
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=15000)
    return session


def _cell(dock: Any, row: int, key: str) -> str:
    from hcc_imaging.napari_plugin._widgets._dock import TABLE_COLUMNS

    col = [c[1] for c in TABLE_COLUMNS].index(key)
    return dock.table.item(row, col).text()


@needs_pipeline
def test_click_segments_measures_and_fills_table_and_response(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    viewer, dock = docked
    session = dock.start_read("R1")
    truth = phantom_truth["baseline"]["lesions"]["L1"]
    _click(viewer, dock, truth["seed_lps"])
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=15000)
    # mask on the labels layer, same grid as the image, sized like the analytic lesion
    lab = viewer.layers["lesions · baseline"]
    geom = session.geometry("baseline")
    voxels = int((np.asarray(lab.data) == 1).sum())
    assert voxels * geom.voxel_volume_mm3 == pytest.approx(truth["volume_mm3"], rel=0.15)
    # long and short axis lines, lengths in mm as text, within one in-plane voxel of truth
    lines = viewer.layers["measurements · baseline"]
    feats = lines.features
    long_mm = float(feats.loc[feats["axis"] == "long", "length_mm"].iloc[0])
    assert abs(long_mm - truth["longest_diameter_mm"]) <= 2.2
    assert "long" in set(feats["axis"]) and "short" in set(feats["axis"])
    assert f"LD {long_mm:.1f}" in " ".join(str(s) for s in lines.text.values)
    obs = session.observations[("L1", "baseline")]
    assert _cell(dock, 0, "longest_diameter_mm") == f"{obs.longest_diameter_mm:.1f}"
    assert _cell(dock, 0, "role") == "target"
    # the response panel has one row per criterion
    assert dock.response_table.rowCount() == len(session.criteria)


@needs_pipeline
def test_node_box_segments_a_node_with_the_liver_kept_out(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """'node' ticked: the click on the porta-hepatis node gives a node lesion (organ lymph_node),
    segmented with the time point's liver mask kept out of it, sized like the analytic node."""
    viewer, dock = docked
    session = dock.start_read("R1")
    truth = phantom_truth["baseline"]["lesions"]["L6"]
    _click_with_box(viewer, dock, qtbot, dock.node_check, truth["seed_lps"])
    (les,) = session.lesions.values()
    assert les.is_lymph_node and les.organ == "lymph_node"
    assert _cell(dock, 0, "organ") == "lymph_node"
    voxels = int((np.asarray(viewer.layers["lesions · baseline"].data) == les.label).sum())
    assert voxels * session.geometry("baseline").voxel_volume_mm3 == pytest.approx(truth["volume_mm3"], rel=0.15)
    assert session._livers["baseline"][1] is not None


@needs_pipeline
def test_in_liver_box_keeps_the_lesion_in_the_liver_mask(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """'in liver' is ticked in a new dock: the shown time point's liver mask is made in the
    background as soon as the read starts (no click yet), the click on L1 uses it (it does not make
    one: no ``liver_s`` in its timings), and the lesion lies within it."""
    viewer, dock = docked
    assert dock.liver_check.isChecked()
    session = dock.start_read("R1")
    qtbot.waitUntil(lambda: session.has_liver("baseline"), timeout=30000)
    made = session._livers["baseline"][1]
    assert made is not None and "liver_s" not in session.last_timings
    _click_with_box(viewer, dock, qtbot, dock.liver_check, phantom_truth["baseline"]["lesions"]["L1"]["seed_lps"])
    liver = session._livers["baseline"][1]
    assert liver is made and "liver_s" not in dock.last_timings
    (les,) = session.lesions.values()
    assert not les.is_lymph_node
    mask = session.lesion_mask(les.lesion_id, "baseline")
    assert mask is not None and mask.any() and not (mask & (liver.array == 0)).any()


@needs_pipeline
def test_on_list_segments_on_the_phase_the_reader_picks(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """The "on" list holds 'auto' and the time point's phases; picked, a click segments on that
    phase and the status line says so; the pick stays when the next time point has the phase."""
    viewer, dock = docked
    session = dock.start_read("R1")
    items = [dock.seg_phase_combo.itemText(i) for i in range(dock.seg_phase_combo.count())]
    assert items[0] == "auto" and set(items[1:]) == {str(p) for p in session.images["baseline"].phases}
    assert dock.segment_phase() is None
    dock.seg_phase_combo.setCurrentText("portal_venous")
    assert dock.segment_phase() == "portal_venous"
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L1"]["seed_lps"])
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=30000)
    assert session.last_segment_phase == "portal_venous"
    assert "segmented on portal_venous (picked)" in dock.status_label.text()
    dock.timepoint_combo.setCurrentText("fu1")
    assert dock.segment_phase() == "portal_venous"


@needs_pipeline
def test_propagate_button_segments_the_selected_lesion_at_the_follow_up(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """Baseline click on L2; at fu1 the reader selects it in the table and presses "Propagate": the
    lesion is segmented there (registered centre), tracked, sized like the analytic fu1 lesion."""
    viewer, dock = docked
    session = dock.start_read("R1")
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=30000)
    dock.timepoint_combo.setCurrentText("fu1")
    dock.table.clearSelection()
    assert dock.propagate_selected() is None  # nothing selected: said in the status line, nothing runs
    dock.table.selectRow(0)
    with qtbot.waitSignal(dock.segment_done, timeout=60000) as done:
        dock.propagate_button.click()
    assert done.args == [True]
    assert session.observations[("L1", "fu1")].longest_diameter_mm is not None
    assert list(session.lesions) == ["L1"] and "register_s" in dock.last_timings
    truth = phantom_truth["fu1"]["lesions"]["L2"]
    voxels = int(session.lesion_mask("L1", "fu1").sum())  # type: ignore[union-attr]
    assert voxels * session.geometry("fu1").voxel_volume_mm3 == pytest.approx(truth["volume_mm3"], rel=0.15)


@needs_pipeline
def test_propagate_all_button_segments_every_baseline_lesion_at_the_follow_up(docked: Any, qtbot: Any,
                                                                            phantom_truth: Any) -> None:
    """Baseline clicks on L1 and L2; at fu1 "Propagate all" segments both there (one press, no
    selection), sized like the analytic fu1 lesions, and says so; pressed again it has nothing to do."""
    viewer, dock = docked
    session = dock.start_read("R1")
    for n, key in enumerate(("L1", "L2")):
        dock.table.clearSelection()
        _click(viewer, dock, phantom_truth["baseline"]["lesions"][key]["seed_lps"])
        qtbot.waitUntil(lambda n=n: dock.table.rowCount() == n + 1 and _cell(dock, n, "longest_diameter_mm") != "",
                        timeout=30000)
    dock.timepoint_combo.setCurrentText("fu1")
    with qtbot.waitSignal(dock.segment_done, timeout=90000) as done:
        dock.propagate_all_button.click()
    assert done.args == [True]
    assert "propagated 2 of 2 lesions to fu1" in dock.status_label.text()
    for lid, key in zip(session.lesions, ("L1", "L2"), strict=True):
        truth = phantom_truth["fu1"]["lesions"][key]
        voxels = int(session.lesion_mask(lid, "fu1").sum())  # type: ignore[union-attr]
        assert voxels * session.geometry("fu1").voxel_volume_mm3 == pytest.approx(truth["volume_mm3"], rel=0.15)
    with qtbot.waitSignal(dock.segment_done, timeout=30000):
        dock.propagate_all_button.click()
    assert "nothing to propagate to fu1" in dock.status_label.text()


@needs_pipeline
def test_dragging_a_line_remeasures_table_and_response(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    viewer, dock = docked
    session = dock.start_read("R1")
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=15000)
    layer = viewer.layers["measurements · baseline"]
    feats = layer.features
    idx = int(np.nonzero((feats["axis"] == "long").to_numpy())[0][0])
    verts = np.asarray(layer.data[idx], float)
    # drag the end point 5 columns further, as napari's select-vertices tool does on release:
    # edit the shape, then emit events.data(action=CHANGED, data_indices=(idx,))
    from napari.layers.base._base_constants import ActionType

    moved = verts.copy()
    moved[1, 2] += 5
    layer._data_view.edit(idx, moved)
    layer.events.data(value=layer.data, action=ActionType.CHANGED, data_indices=(idx,), vertex_indices=((0, 1),))
    expected = float(np.linalg.norm(session.geometry("baseline").index_to_lps(moved[1]) - session.geometry("baseline").index_to_lps(moved[0])))
    obs = session.observations[("L1", "baseline")]
    assert obs.longest_diameter_mm == pytest.approx(round(expected, 1))
    assert obs.source == "reader:R1"
    assert _cell(dock, 0, "longest_diameter_mm") == f"{expected:.1f}"
    # the scripting path (move_line) goes through the same event
    dock.move_line("L1", "long", verts)
    assert session.observations[("L1", "baseline")].longest_diameter_mm == pytest.approx(
        round(float(np.linalg.norm(np.subtract(*session.geometry("baseline").index_to_lps(verts)))), 1)
    )
    # deleting a line (select it, Delete): the read keeps its measurement, the line is drawn
    # again and the status line says how to change it (it came back unexplained before)
    layer = viewer.layers["measurements · baseline"]
    n, ld = layer.nshapes, session.observations[("L1", "baseline")].longest_diameter_mm
    layer.selected_data = {int(np.nonzero((layer.features["axis"] == "long").to_numpy())[0][0])}
    layer.remove_selected()
    layer = viewer.layers["measurements · baseline"]
    assert layer.nshapes == n and "long" in set(layer.features["axis"])
    assert session.observations[("L1", "baseline")].longest_diameter_mm == ld
    assert "drag it to correct it" in dock.status_label.text()


def test_manual_line_and_table_edit_without_pipeline(docked: Any) -> None:
    """The manual tool and the editable table work on any build (no segmentation needed)."""
    viewer, dock = docked
    session = dock.start_read("R2")
    geom = session.geometry("baseline")
    dock.manual_button.setChecked(True)
    layer = viewer.layers["measurements · baseline"]
    assert layer.mode == "add_line"
    layer.add([np.array([[20.0, 60.0, 30.0], [20.0, 60.0, 45.0]])], shape_type="line")
    assert dock.table.rowCount() == 1
    expected = 15 * geom.spacing[2]
    assert session.observations[("L1", "baseline")].longest_diameter_mm == pytest.approx(expected)
    # bidirectional: with L1 selected, the next line is its short axis
    dock.table.selectRow(0)
    layer.add([np.array([[20.0, 55.0, 37.0], [20.0, 63.0, 37.0]])], shape_type="line")
    assert dock.table.rowCount() == 1
    assert session.observations[("L1", "baseline")].short_axis_mm == pytest.approx(round(8 * geom.spacing[1], 1))
    dock.edit_cell("L1", "role", "non_target")
    dock.edit_cell("L1", "is_lymph_node", "yes")
    assert session.lesions["L1"].role == "non_target" and session.lesions["L1"].is_lymph_node
    dock.edit_cell("L1", "role", "boss")
    assert "role 'boss' is not one of" in dock.status_label.text()
    assert _cell(dock, 0, "role") == "non_target"


def test_blinded_reader_cannot_see_another_readers_read(docked: Any, tmp_path: Path) -> None:
    viewer, dock = docked
    a = dock.start_read("reader-A")
    a.measure_manual("baseline", ((-80.5, -33.2, 19.5), (-109.5, -46.8, 19.5)))
    dock.refresh_all()
    assert dock.table.rowCount() == 1
    b = dock.start_read("reader-B")
    assert b.lesions == {} and dock.table.rowCount() == 0
    assert len(viewer.layers["measurements · baseline"].data) == 0
    assert int(np.asarray(viewer.layers["lesions · baseline"].data).max()) == 0
    # reader A's read is intact and comes back when A resumes
    assert dock.start_read("reader-A").observations[("L1", "baseline")].longest_diameter_mm == pytest.approx(32.0)


def test_lock_makes_the_read_read_only(docked: Any, tmp_path: Path) -> None:
    from hcc_imaging.errors import HccImagingError

    viewer, dock = docked
    with pytest.raises(HccImagingError, match="start a read before exporting"):
        dock.export("CSV", tmp_path / "x.csv")
    s = dock.start_read("R3", criteria="mRECIST")
    with pytest.raises(HccImagingError, match="unknown export kind 'PDF'"):
        dock.export("PDF", tmp_path / "x.pdf")
    s.measure_manual("baseline", ((0, 0, 0), (25, 0, 0)))
    dock.lock_read()  # mRECIST needs a viable diameter: the store refuses, the read stays a draft
    assert not s.locked and "read NOT locked" in dock.status_label.text()
    s.set_field("L1", "viable_diameter_mm", 20.0, timepoint_id="baseline")
    # the long line dragged shorter than the viable diameter: the store refuses that record; the
    # dock says so once (not at every redraw / autosave), and the lock is refused until corrected
    dock.refresh_all()
    layer = viewer.layers["measurements · baseline"]
    verts = np.asarray(layer.data[int(np.nonzero((layer.features["axis"] == "long").to_numpy())[0][0])], float)
    dock.move_line("L1", "long", [verts[0], verts[0] + 0.4 * (verts[1] - verts[0])])
    assert "lesion L1 at baseline: not written to the study store" in dock.status_label.text()
    assert "field 'viable_diameter_mm'" in dock.status_label.text()
    dock._status("")
    dock.refresh_all()
    assert dock.status_label.text() == ""
    dock.lock_read()
    text = dock.status_label.text()
    assert not s.locked and "read NOT locked" in text and "viable_diameter_mm" in text
    dock.move_line("L1", "long", verts)  # corrected: written, nothing pending
    assert s.store_pending == {}
    dock.lock_read()
    dock.refresh_all()
    assert s.locked and not dock.segment_button.isEnabled() and not dock.manual_button.isEnabled()
    from qtpy.QtCore import Qt

    assert not (dock.table.item(0, 1).flags() & Qt.ItemFlag.ItemIsEditable)
    assert dock.start_read("R3").locked  # the lock was saved
    dock.save()  # nothing to write to a locked read: no error
    assert "NOT" not in dock.status_label.text()


@needs_pipeline
def test_failed_segmentation_reports_and_never_crashes(docked: Any, qtbot: Any) -> None:
    """A click the core cannot segment (outside the body: air) shows the error; the app lives on."""
    viewer, dock = docked
    dock.start_read("R1")
    geom = dock.session.geometry("baseline")
    corner = geom.index_to_lps([20, 1, 1])  # air in the image corner
    _click(viewer, dock, corner)
    qtbot.waitUntil(lambda: dock.last_error != "" and not dock._workers, timeout=15000)
    assert dock.session.lesions == {} or all(
        (lid, "baseline") not in dock.session.observations for lid in dock.session.lesions
    )
    assert "Error" in dock.status_label.text()


def test_mr_bias_box_on_a_ct_study_says_why_and_segments_nothing(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """'MR bias' ticked (unticked in a new dock) on the CT phantom: the click is refused with the reason (the box is for
    MR series), nothing is segmented, the app lives on (the MR path: ``test_napari_controller.py``)."""
    viewer, dock = docked
    assert not dock.bias_check.isChecked()
    dock.start_read("R1")
    dock.bias_check.setChecked(True)
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L1"]["seed_lps"])
    qtbot.waitUntil(lambda: dock.last_error != "" and not dock._workers, timeout=15000)
    assert "'MR bias' is for MR series" in dock.last_error
    assert dock.session.lesions == {}
    dock.bias_check.setChecked(False)


@needs_pipeline
def test_line_drawn_across_a_lesion_segments_it(docked: Any, qtbot: Any, phantom_truth: Any, tmp_path: Path) -> None:
    """'Line to segment': a line drawn across L2 (its analytic long axis) segments and measures
    it, exactly as the session's segment_at(line_lps=...) does; the drawn line is cleared."""
    from hcc_imaging.napari_plugin._controller import ReadSession

    viewer, dock = docked
    session = dock.start_read("R1")
    truth = phantom_truth["baseline"]["lesions"]["L2"]
    dock.line_segment_button.setChecked(True)
    assert not dock.segment_button.isChecked() and not dock.manual_button.isChecked()
    layer = viewer.layers[dock.SEGMENT_LINE_LAYER]
    assert viewer.layers.selection.active is layer and layer.mode == "add_line"
    verts = np.stack([layer.world_to_data(lps_to_world(p)) for p in truth["ld_endpoints_lps"]])
    with qtbot.waitSignal(dock.segment_done, timeout=30000) as sig:
        layer.add(verts, shape_type="line")
    assert sig.args == [True]
    obs = session.observations[("L1", "baseline")]
    assert abs(obs.longest_diameter_mm - truth["longest_diameter_mm"]) <= 2.3  # one in-plane voxel
    assert int((np.asarray(viewer.layers["lesions · baseline"].data) == 1).sum()) > 0
    assert layer.nshapes == 0
    # the same line through the Qt-free session gives the same numbers
    other = ReadSession("P001", "R9", tmp_path / "other")
    other.add_timepoint("baseline", session.images["baseline"].phases)
    _, again = other.segment_at("baseline", line_lps=truth["ld_endpoints_lps"])
    assert (again.longest_diameter_mm, again.short_axis_mm, again.viable_diameter_mm) == (
        obs.longest_diameter_mm, obs.short_axis_mm, obs.viable_diameter_mm)


def test_progress_shows_only_for_work_longer_than_the_delay(docked: Any, qtbot: Any) -> None:
    """Long work gets napari's progress bar, closed when it ends; a worker that finishes before
    the delay never creates one (a sub-second click pays no progress-bar CPU)."""
    import time

    from napari.qt.threading import thread_worker
    from napari.utils import progress

    _, dock = docked
    seen: list[str] = []

    def on_added(event: Any) -> None:
        seen.extend(str(getattr(p, "desc", "")) for p in event.added)

    progress._all_instances.events.changed.connect(on_added)
    try:
        @thread_worker
        def slow() -> int:
            time.sleep(0.6)
            return 1

        @thread_worker
        def fast() -> int:
            return 2

        w = slow()
        dock.progress_after(w, "slow work", delay_ms=50)
        with qtbot.waitSignal(w.finished, timeout=10000):
            w.start()
        qtbot.wait(100)
        assert any(d.startswith("slow work") for d in seen)
        assert not any(getattr(p, "desc", "").startswith("slow work") for p in progress._all_instances)

        seen.clear()
        w = fast()
        dock.progress_after(w, "fast work", delay_ms=300)
        with qtbot.waitSignal(w.finished, timeout=10000):
            w.start()
        qtbot.wait(500)
        assert not any(d.startswith("fast work") for d in seen)
    finally:
        progress._all_instances.events.changed.disconnect(on_added)


@needs_pipeline
def test_import_masks_button_measures_each_label_of_a_mask_file(docked: Any, phantom_truth: Any) -> None:
    """"Import masks…" with the sample baseline's expert lesions.nii.gz (viable.nii.gz beside it):
    one row per label (L1-L8), drawn on the labels layer, L1's LD within a voxel diagonal of the
    truth; the status line says what was imported."""
    from .conftest import SAMPLE

    viewer, dock = docked
    session = dock.start_read("R1")
    assert dock.import_button.isEnabled()
    ids = dock.import_masks(SAMPLE / "baseline" / "masks" / "lesions.nii.gz")
    assert ids == [f"L{n}" for n in range(1, 9)] and dock.table.rowCount() == 8
    truth = phantom_truth["baseline"]["lesions"]["L1"]
    assert abs(session.observations[("L1", "baseline")].longest_diameter_mm - truth["longest_diameter_mm"]) <= 3.3
    assert (np.asarray(viewer.layers["lesions · baseline"].data) == 1).any()
    assert "imported 8 lesion mask(s)" in dock.status_label.text()


@needs_pipeline
def test_a_brush_stroke_on_the_lesions_layer_remeasures_saves_and_undoes(docked: Any, qtbot: Any,
                                                                          phantom_truth: Any, tmp_path: Path) -> None:
    """napari's brush on ``lesions · baseline`` changes the read's mask: the volume in the table
    and the autosaved masks follow; Ctrl+Z (the layer's key) takes it back in the read too; on a
    locked read the stroke is taken back and the reason shown.  Until 2026-12-04 the stroke
    changed the picture only: numbers, table and autosave kept the segmented mask."""
    from napari.utils.key_bindings import KeyBinding

    from hcc_imaging.napari_plugin._controller import ReadSession

    viewer, dock = docked
    session = _read_with_one_lesion(viewer, dock, qtbot, phantom_truth["baseline"]["lesions"]["L1"]["seed_lps"])
    lab = viewer.layers["lesions · baseline"]
    before = session.lesion_mask("L1", "baseline").copy()
    vol_before = session.observations[("L1", "baseline")].volume_mm3
    k, j, i = (int(v) for v in np.argwhere(before).max(axis=0))  # beyond the mask's far corner
    lab.brush_size = 9
    lab.paint((k - 2, j + 3, i + 3), 1)  # one brush stroke with lesion 1's label
    qtbot.waitUntil(lambda: "edited by hand" in dock.status_label.text(), timeout=10000)
    after = session.lesion_mask("L1", "baseline")
    added = int(after.sum() - before.sum())
    assert added > 20 and np.all(after[before]), dock.status_label.text()  # grown, nothing lost
    np.testing.assert_array_equal(after, np.asarray(lab.data) == 1)
    obs = session.observations[("L1", "baseline")]
    geom = session.geometry("baseline")
    assert obs.volume_mm3 == pytest.approx(after.sum() * geom.voxel_volume_mm3, abs=0.05)  # (rounded to 0.1 mm3)
    assert obs.volume_mm3 > vol_before and any("edited by hand" in p for p in obs.problems)
    assert "edited by hand: L1" in dock.status_label.text()
    assert _cell(dock, 0, "volume_mm3") == f"{obs.volume_mm3 / 1000.0:.2f}"  # the table shows mL
    saved = ReadSession.resume(session.patient_id, "R1", tmp_path / "reads")
    np.testing.assert_array_equal(saved.lesion_mask("L1", "baseline"), after)
    # Ctrl+Z on the layer: napari's undo, and the read follows
    lab.keymap[KeyBinding.from_str("Control-Z")](lab)
    np.testing.assert_array_equal(session.lesion_mask("L1", "baseline"), before)
    assert session.observations[("L1", "baseline")].volume_mm3 == pytest.approx(vol_before)
    lab.keymap[KeyBinding.from_str("Control-Shift-Z")](lab)  # and redo
    np.testing.assert_array_equal(session.lesion_mask("L1", "baseline"), after)
    lab.keymap[KeyBinding.from_str("Control-Z")](lab)
    # a locked read keeps its masks: the stroke is taken back
    dock.session.locked = True  # (as lock_read leaves it once the store accepts the read)
    lab.paint((k - 2, j + 3, i + 3), 1)
    qtbot.waitUntil(lambda: "locked" in dock.status_label.text(), timeout=10000)
    np.testing.assert_array_equal(np.asarray(lab.data) == 1, before)
    np.testing.assert_array_equal(session.lesion_mask("L1", "baseline"), before)
    assert "locked" in dock.status_label.text()


@needs_pipeline
def test_a_brush_stroke_on_the_viable_layer_stays_inside_the_lesion(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """The brush on ``viable · baseline`` with the lesion's label: what lies inside its mask becomes
    viable (measured again), what lies outside is taken off the layer again and the status says so."""
    viewer, dock = docked
    # L2, partly necrotic, read as L1
    session = _read_with_one_lesion(viewer, dock, qtbot, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    mask = session.lesion_mask("L1", "baseline")
    before = session.lesion_mask("L1", "baseline", viable=True)
    before = np.zeros_like(mask) if before is None else before
    vl = viewer.layers["viable · baseline"]
    necrotic = np.argwhere(mask & ~before)
    assert len(necrotic), "the lesion has a part that is not viable"
    k, j, i = (int(v) for v in necrotic[np.argmax(necrotic[:, 2])])  # its outermost column: at the edge
    vl.brush_size = 7
    vl.paint((k, j, i + 1), 1)  # a brush across the lesion's edge
    qtbot.waitUntil(lambda: "viable part edited by hand" in dock.status_label.text(), timeout=10000)
    after = session.lesion_mask("L1", "baseline", viable=True)
    assert after is not None and int(after.sum()) > int(before.sum())
    assert not (after & ~mask).any() and not ((np.asarray(vl.data) == 1) & ~mask).any()
    assert "outside its mask" in dock.status_label.text()
    obs = session.observations[("L1", "baseline")]
    assert obs.viable_volume_mm3 == pytest.approx(after.sum() * session.geometry("baseline").voxel_volume_mm3, abs=0.05)


@needs_pipeline
def test_a_lesions_layer_deleted_and_drawn_again_still_edits_the_read(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """The dock draws ``lesions · baseline`` again when the reader deletes it; its brush strokes
    reach the read as the first layer's did (layers are remembered weakly, not by ``id()``, which
    a new layer may reuse)."""
    import gc

    viewer, dock = docked
    session = _read_with_one_lesion(viewer, dock, qtbot, phantom_truth["baseline"]["lesions"]["L1"]["seed_lps"])
    viewer.layers.remove("lesions · baseline")
    gc.collect()
    dock.refresh_all()
    lab = viewer.layers["lesions · baseline"]
    before = session.lesion_mask("L1", "baseline").copy()
    k, j, i = (int(v) for v in np.argwhere(before).max(axis=0))
    lab.brush_size = 9
    lab.paint((k - 2, j + 3, i + 3), 1)
    qtbot.waitUntil(lambda: "edited by hand" in dock.status_label.text(), timeout=10000)
    assert session.lesion_mask("L1", "baseline").sum() > before.sum()


@needs_pipeline
def test_a_second_reader_is_told_nothing_of_the_first_readers_click_nor_can_undo_into_it(
        docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """Blinding in one dock: reader R1 clicks a lesion and R2 starts a read before the click's worker
    is done.  R2's status line said "L3 segmented and measured" of R1's click; now R1's result stays
    in R1's read, unsaid.  And the lesions layer, reused for R2's read, kept R1's undo history, so
    R2's Ctrl+Z / Ctrl+Shift+Z replayed R1's edits into R2's read."""
    viewer, dock = docked
    s1 = dock.start_read("R1")
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L3"]["seed_lps"])
    s2 = dock.start_read("R2")
    qtbot.waitUntil(lambda: not dock._workers, timeout=30000)
    assert "segmented" not in dock.status_label.text() and not s2.lesions and dock.table.rowCount() == 0
    assert list(s1.lesions) == ["L1"]  # R1's read keeps its click
    # R1 brushes (an undoable stroke), then R2 opens a read: the stroke is not R2's to undo
    dock.start_read("R1")
    layer = viewer.layers["lesions · baseline"]
    k, j, i = (int(v) for v in np.argwhere(s1.lesion_mask("L1", "baseline")).max(axis=0))
    layer.brush_size = 7
    layer.paint((k - 1, j + 2, i + 2), 1)
    qtbot.waitUntil(lambda: "edited by hand" in dock.status_label.text(), timeout=10000)
    assert layer._undo_history
    s2 = dock.start_read("R2")
    assert layer not in viewer.layers  # R1's mask layer left the viewer (blinding); R2's is another, new
    layer = viewer.layers["lesions · baseline"]
    assert not layer._undo_history and not layer._redo_history
    layer.undo()
    layer.redo()
    qtbot.wait(300)
    assert not s2.lesions and int(np.asarray(layer.data).max()) == 0


@needs_pipeline
def test_a_tracked_click_at_a_follow_up_clears_the_table_selection(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """The selected row stayed selected after a tracked click, so the next click on another
    lesion silently replaced the tracked lesion's follow-up measurement."""
    viewer, dock = docked
    dock.start_read("R1")
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=30000)
    dock.timepoint_combo.setCurrentText("fu1")
    dock.table.selectRow(0)
    assert dock._selected_lesion_for_followup() == "L1"
    with qtbot.waitSignal(dock.segment_done, timeout=60000) as done:
        _click(viewer, dock, phantom_truth["fu1"]["lesions"]["L2"]["seed_lps"])
    assert done.args == [True]
    assert dock._selected_lesion_id() is None


def _patient_layer(viewer: Any, patient_id: str, spacing: tuple[float, float, float],
                   origin: tuple[float, float, float]) -> Any:
    """One baseline CT image layer of ``patient_id`` on its own grid (as the reader makes it)."""
    from hcc_imaging.napari_plugin._layers import volume_layer_data
    from hcc_imaging.volume import Volume

    vol = Volume.create(np.full((20, 64, 64), 40, np.int16), spacing=spacing, origin=origin, modality="CT",
                        phase="portal_venous", series_instance_uid=f"1.2.3.{len(patient_id)}.{int(spacing[1] * 10)}")
    data, kwargs, _ = volume_layer_data(vol, timepoint="baseline", patient_id=patient_id)
    return viewer.add_image(data, **kwargs)


def test_a_second_patients_seeds_and_lines_layers_take_its_grid(make_napari_viewer: Any, tmp_path: Path) -> None:
    """The seeds, segment-line and measurements layers made for patient P1 were reused for patient P2
    with P1's scale / translate: P2's points and lines were drawn on P1's grid, and a line drawn on
    P2 was measured in mm as if on P2's grid from vertices napari had placed on P1's (only the
    labels layers took the new read's grid)."""
    from hcc_imaging.napari_plugin._layers import world_to_lps
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    viewer = make_napari_viewer()
    _patient_layer(viewer, "P1", (2.5, 0.8, 0.8), (-30.0, -20.0, 100.0))
    _patient_layer(viewer, "P2", (1.0, 0.5, 0.6), (10.0, 40.0, -50.0))
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    dock.start_read("R1", patient_id="P1")
    dock.segment_button.setChecked(True)
    dock.line_segment_button.setChecked(True)
    dock.manual_button.setChecked(True)
    s2 = dock.start_read("R1", patient_id="P2")
    geom = s2.geometry("baseline")
    for name in ("seeds (click a lesion)", dock.SEGMENT_LINE_LAYER, "measurements · baseline"):
        layer = viewer.layers[name]
        for idx in [(0, 0, 0), (19, 63, 63), (7, 12.5, 40.25)]:
            np.testing.assert_allclose(layer.data_to_world(idx), lps_to_world(geom.index_to_lps(idx)), atol=1e-9,
                                       err_msg=name)
    # a line the reader draws on P2 (napari places its vertices from the mouse's world points)
    dock.manual_button.setChecked(True)
    lines = viewer.layers["measurements · baseline"]
    world = np.array([lps_to_world(geom.index_to_lps((10, 20, 20))), lps_to_world(geom.index_to_lps((10, 40, 50)))])
    lines.add(np.stack([lines.world_to_data(w) for w in world]), shape_type="line")
    (lid,) = s2.lesions
    assert s2.observations[(lid, "baseline")].longest_diameter_mm == pytest.approx(
        float(np.linalg.norm(world_to_lps(world[1]) - world_to_lps(world[0]))), abs=0.05)


def test_no_read_nor_input_layer_before_a_study_is_open(make_napari_viewer: Any, tmp_path: Path) -> None:
    """'Start / resume read' and 'Click to segment' in an empty viewer made an 'anonymous' patient
    in the store (and its autosave file) and a seeds layer in pixels; now both say to open a study
    first and make nothing."""
    from hcc_imaging.errors import HccImagingError
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock
    from hcc_imaging.study import Store

    viewer = make_napari_viewer()
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    dock.reader_edit.setText("R1")
    dock.start_button.click()  # (the button's slot: no traceback, the status line says why)
    assert "open a study first" in dock.status_label.text() and dock.session is None
    with pytest.raises(HccImagingError, match="open a study first"):
        dock.start_read("R1")
    for button in (dock.segment_button, dock.line_segment_button, dock.manual_button):
        dock.status_label.setText("")
        button.setChecked(True)
        assert not button.isChecked() and "open a study first" in dock.status_label.text()
    assert len(viewer.layers) == 0
    assert not (tmp_path / "reads").exists() or not any((tmp_path / "reads").iterdir())
    assert [p.patient_id for p in Store(tmp_path / "study.sqlite").patients()] == []


def test_export_buttons_say_why_they_cannot_export_instead_of_raising(docked: Any, tmp_path: Path,
                                                                        monkeypatch: Any) -> None:
    """The Export SR / SEG / CSV buttons raised into napari's error dialog (a traceback) with no read,
    a SEG with no lesion mask, or a file that cannot be written; now the status line says why.
    (pytest-qt fails a test on an exception raised in a Qt slot.)"""
    from qtpy.QtWidgets import QFileDialog

    viewer, dock = docked
    chosen: list[str] = []
    # the reader's choice in the save dialog
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (chosen[-1], "")))
    chosen.append(str(tmp_path / "out.dcm"))
    for kind, button in dock.export_buttons.items():
        dock.status_label.setText("")
        button.click()
        assert "start a read before exporting" in dock.status_label.text(), kind
    assert not (tmp_path / "out.dcm").exists()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(tmp_path / "m.nii.gz"), "")))
    dock.import_button.click()  # (Import masks… raised the same way)
    assert "masks not imported: start a read" in dock.status_label.text()
    dock.start_read("R1")
    dock.export_buttons["SEG"].click()
    assert "no lesion mask at baseline" in dock.status_label.text()
    assert not (tmp_path / "out.dcm").exists()
    chosen.append(str(tmp_path / "no such folder" / "read.csv"))
    dock.export_buttons["CSV"].click()
    assert "not exported" in dock.status_label.text() and "no such folder" in dock.status_label.text()
    chosen.append(str(tmp_path / "read.csv"))  # a read without lesions is still a read: its table
    dock.export_buttons["CSV"].click()
    assert "exported CSV" in dock.status_label.text() and (tmp_path / "read.csv").exists()


@needs_pipeline
def test_undo_of_a_whole_lesion_erased_brings_the_lesion_back_in_the_read_and_its_exports(
        docked: Any, qtbot: Any, phantom_truth: Any, tmp_path: Path) -> None:
    """The eraser over a whole lesion (its only time point) deletes it from the read; Ctrl+Z put its
    voxels back on the layer, but the read refused them (a read never reuses a lesion's number), so
    the picture showed a lesion the table did not have, and the SEG exported it.  Now the undo
    restores the lesion itself (same id, tracking UID, mask, numbers): picture, table, store and
    every export agree; redo erases it again."""
    from napari.utils.key_bindings import KeyBinding

    from hcc_imaging.export import read_seg

    viewer, dock = docked
    session = _read_with_one_lesion(viewer, dock, qtbot, phantom_truth["baseline"]["lesions"]["L1"]["seed_lps"])
    lab = viewer.layers["lesions · baseline"]
    mask = session.lesion_mask("L1", "baseline").copy()
    uid, obs = session.lesions["L1"].tracking_uid, session.observations[("L1", "baseline")]
    lab.n_edit_dimensions, lab.contiguous = 3, False
    lab.fill(tuple(int(v) for v in np.argwhere(mask)[0]), 0)  # the eraser over the whole lesion
    qtbot.waitUntil(lambda: "deleted" in dock.status_label.text(), timeout=10000)
    assert not session.lesions and dock.table.rowCount() == 0 and not np.asarray(lab.data).any()
    lab.keymap[KeyBinding.from_str("Control-Z")](lab)
    assert list(session.lesions) == ["L1"] and session.lesions["L1"].tracking_uid == uid
    np.testing.assert_array_equal(session.lesion_mask("L1", "baseline"), mask)
    np.testing.assert_array_equal(np.asarray(lab.data) == 1, mask)
    assert session.observations[("L1", "baseline")].longest_diameter_mm == obs.longest_diameter_mm
    assert dock.table.rowCount() == 1 and _cell(dock, 0, "lesion_id") == "L1"
    assert _cell(dock, 0, "longest_diameter_mm") == f"{obs.longest_diameter_mm:.1f}"
    (seg_path,) = dock.export("SEG", tmp_path / "seg.dcm")
    back = read_seg(seg_path, reference=session.images["baseline"].reference)
    np.testing.assert_array_equal(back.lesions.array != 0, mask)
    assert back.tracking_uids.get("L1") == uid
    assert [m.tracking_uid for m in session._reader_session.measurements(session.store_read_uid)] == [uid]
    lab.keymap[KeyBinding.from_str("Control-Shift-Z")](lab)  # redo: erased again
    assert not session.lesions and dock.table.rowCount() == 0 and not np.asarray(lab.data).any()
    lab.keymap[KeyBinding.from_str("Control-Z")](lab)
    assert list(session.lesions) == ["L1"]
    # an eraser stroke undone after 'Delete lesion': the deleted lesion's number cannot come back
    # (the read says so) and its voxels are taken off the layer, so the SEG has none of them
    vox = np.argwhere(mask)
    edge = tuple(int(v) for v in vox[np.argmax(vox[:, 2])])
    lab.n_edit_dimensions, lab.brush_size = 2, 5
    dock.status_label.setText("")
    lab.paint(edge, 0)
    qtbot.waitUntil(lambda: "edited by hand" in dock.status_label.text(), timeout=10000)
    dock.table.selectRow(0)
    dock.delete_button.click()
    assert not session.lesions and not np.asarray(lab.data).any()
    lab.keymap[KeyBinding.from_str("Control-Z")](lab)  # napari writes the erased voxels back: lesion 1's
    assert not session.lesions and dock.table.rowCount() == 0
    assert not np.asarray(lab.data).any() and not session.label_array("baseline").any()
    assert "no lesion mask at baseline" in (dock.export_refusal("SEG") or "")


@needs_pipeline
def test_propagate_warns_when_the_registration_is_suspect(make_napari_viewer: Any, qtbot: Any, tmp_path: Path) -> None:
    """"Propagate" onto a mirrored "follow-up" (its liver on the other side: another patient, a
    mirrored series) placed the lesion there without a word, while ``batch --carry`` and ``segment
    --from-mask`` report such a registration.  Now napari shows a warning naming the problem and
    what to do, the status line says it, the lesion's row has it as its first problem, and the
    follow-up's lesions layer keeps it in its metadata.  (The study phantom on the carry tests'
    smaller grid, 44 x 112 x 112 at 3.5 x 3 x 3 mm: the same anatomy and lesions.)"""
    from dataclasses import replace

    from napari.utils.notifications import NotificationSeverity, notification_manager

    from hcc_imaging.napari_plugin._layers import METADATA_KEY, volume_layer_data
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock
    from hcc_imaging.phantoms import make_study

    base = make_study(0, timepoint="baseline", shape=(44, 112, 112), spacing=(3.5, 3.0, 3.0))
    mirrored = {ph: replace(v, array=np.ascontiguousarray(np.asarray(v.array)[:, :, ::-1]),
                            study_instance_uid="1.2.826.0.99.9", frame_of_reference_uid="1.2.826.0.99.8",
                            series_instance_uid=f"9.9.{n}")
                for n, (ph, v) in enumerate(base.volumes.items())}
    viewer = make_napari_viewer()
    for tp, vols in (("baseline", base.volumes), ("fu1", mirrored)):
        for vol in vols.values():
            data, kwargs, _ = volume_layer_data(vol, timepoint=tp, patient_id="PHANTOM-001")
            viewer.add_image(data, **kwargs)
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    viewer.window.add_dock_widget(dock, name="HCC response")
    assert dock.liver_check.isChecked()  # "in liver", the default: the livers' registration is checked
    session = dock.start_read("R1")
    _click(viewer, dock, base.truth["lesions"]["L3"]["seed_lps"])  # (the first click makes the liver mask too)
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and _cell(dock, 0, "longest_diameter_mm") != "", timeout=60000)
    dock.timepoint_combo.setCurrentText("fu1")
    dock.table.selectRow(0)
    shown: list[Any] = []
    notification_manager.notification_ready.connect(shown.append)
    try:
        with qtbot.waitSignal(dock.segment_done, timeout=90000) as done:
            dock.propagate_button.click()
    finally:
        notification_manager.notification_ready.disconnect(shown.append)
    assert done.args == [True]
    warnings = [n for n in shown if n.severity == NotificationSeverity.WARNING and "registration suspect" in n.message]
    assert len(warnings) == 1, [n.message for n in shown]
    assert "L1: carried on a suspect registration from 'baseline'" in warnings[0].message
    assert "livers overlap poorly" in warnings[0].message and "same patient" in warnings[0].message
    assert "registration suspect: L1: carried on a suspect registration" in dock.status_label.text()
    assert _cell(dock, 0, "problems").startswith("carried on a suspect registration")
    problems = viewer.layers["lesions · fu1"].metadata[METADATA_KEY]["problems"]["L1"]
    assert problems == session.observations[("L1", "fu1")].problems and "livers overlap poorly" in problems[0]


@needs_pipeline
def test_compare_mode_line_drag_goes_to_the_layer_time_point(docked: Any, qtbot: Any, phantom_truth: Any) -> None:
    """At fu1 in 'over baseline' mode the baseline's lines are the ones shown: dragging one changes
    the baseline's diameter, never fu1's (it set fu1's LD to the baseline line's length)."""
    viewer, dock = docked
    s = dock.start_read("R1", criteria="RECIST1.1")
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: ("L1", "baseline") in s.observations and not dock._workers, timeout=30000)
    dock.timepoint_combo.setCurrentText("fu1")
    dock.table.selectRow(0)
    _click(viewer, dock, phantom_truth["fu1"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: ("L1", "fu1") in s.observations and not dock._workers, timeout=30000)
    fu1_ld = s.observations[("L1", "fu1")].longest_diameter_mm
    base_ld = s.observations[("L1", "baseline")].longest_diameter_mm
    dock.set_compare_mode("over baseline (registered)")
    qtbot.waitUntil(lambda: not dock._workers, timeout=60000)
    base = viewer.layers["measurements · baseline"]
    assert base.visible and not viewer.layers["measurements · fu1"].visible
    feats = base.features
    idx = int(np.nonzero((feats["lesion_id"] == "L1").to_numpy() & (feats["axis"] == "long").to_numpy())[0][0])
    data = list(base.data)
    v = np.asarray(data[idx], float)
    v[1] = v[0] + (v[1] - v[0]) * 0.5
    data[idx] = v
    base.data = data
    assert s.observations[("L1", "fu1")].longest_diameter_mm == fu1_ld
    assert s.observations[("L1", "baseline")].longest_diameter_mm == pytest.approx(base_ld / 2, abs=1.0)
    dock.set_compare_mode("single")


@needs_pipeline
def test_reader_switch_removes_the_other_read_layers_and_refuses_their_edits(
    docked: Any, qtbot: Any, phantom_truth: Any
) -> None:
    """Blinding: R1's masks / lines layers leave the viewer when R2 starts; a layer of R1's read put
    back is refused (it was dragged into R2's read at R2's time point)."""
    from hcc_imaging.napari_plugin._layers import METADATA_KEY

    viewer, dock = docked
    dock.start_read("R1", criteria="RECIST1.1")
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: dock.table.rowCount() == 1 and not dock._workers, timeout=30000)
    r1_lines = viewer.layers["measurements · baseline"]
    assert r1_lines.metadata[METADATA_KEY]["reader_id"] == "R1"
    dock.timepoint_combo.setCurrentText("fu1")
    s2 = dock.start_read("R2", criteria="RECIST1.1")
    names = [layer.name for layer in viewer.layers]
    assert not [n for n in names if n.endswith("· baseline") and n.split(" · ")[0] in ("lesions", "viable", "measurements")]
    for layer in viewer.layers:
        md = layer.metadata.get(METADATA_KEY, {})
        assert md.get("reader_id") in (None, "R2"), layer.name
        assert (md.get("read_document") or {}).get("reader_id", "R2") == "R2"
    _click(viewer, dock, phantom_truth["fu1"]["lesions"]["L2"]["seed_lps"])
    qtbot.waitUntil(lambda: ("L1", "fu1") in s2.observations and not dock._workers, timeout=30000)
    ld = s2.observations[("L1", "fu1")].longest_diameter_mm
    viewer.add_layer(r1_lines)  # R1's layer back in the viewer (as a reader could load it)
    r1_lines.visible = True
    data = list(r1_lines.data)
    v = np.asarray(data[0], float)
    v[1] = v[0] + (v[1] - v[0]) * 0.9
    data[0] = v
    r1_lines.data = data
    assert s2.observations[("L1", "fu1")].longest_diameter_mm == ld
    assert not [k for k in s2.observations if k[1] == "baseline"]
    assert "line edit refused" in dock.status_label.text() and "'R1'" in dock.status_label.text()
    assert r1_lines not in viewer.layers


def test_a_typed_diameter_redraws_the_lines_layer(docked: Any) -> None:
    """Typing LD left the canvas label on the old line's length (41.8 after typing 25)."""
    viewer, dock = docked
    s = dock.start_read("R1", criteria="RECIST1.1")
    c = np.asarray(s.geometry("baseline").index_to_lps(np.asarray(s.geometry("baseline").shape) / 2.0), float)
    s.measure_manual("baseline", (c, c + (40, 0, 0)), (c, c + (0, 20, 0)))
    dock.refresh_all()
    layer = viewer.layers["measurements · baseline"]
    assert list(layer.features["label"])[0] == "L1  LD 40.0  SA 20.0 mm"
    dock.edit_cell("L1", "longest_diameter_mm", "25")
    assert layer.nshapes == 1 and list(layer.features["axis"]) == ["short"]
    assert "40.0" not in " ".join(layer.features["label"])
    assert _cell(dock, 0, "longest_diameter_mm") == "25.0"
    dock.edit_cell("L1", "short_axis_mm", "30")
    assert "cannot be shorter than the short axis" in dock.status_label.text()
    assert _cell(dock, 0, "short_axis_mm") == "20.0"


def test_a_follow_up_opened_alone_resumes_as_the_reads_follow_up(docked: Any, tmp_path: Path) -> None:
    """The reader names a study opened alone 'baseline': resuming R1's read with only the fu1
    folder open showed the read's baseline masks on the follow-up's images (and a click there
    replaced the baseline's measurement).  Its layers now go to the read's fu1, with a warning."""
    from hcc_imaging.napari_plugin._controller import ReadSession
    from hcc_imaging.napari_plugin._layers import METADATA_KEY, layer_name

    viewer, dock = docked
    s = dock.start_read("R1", criteria="RECIST1.1")
    assert s.timepoint_ids == ["baseline", "fu1"]
    c = np.asarray(s.geometry("baseline").index_to_lps(np.asarray(s.geometry("baseline").shape) / 2.0), float)
    s.measure_manual("baseline", (c, c + (40, 0, 0)))
    dates = {tp: t.date for tp, t in s.images.items()}
    dock.session = None
    for layer in list(viewer.layers):  # the fu1 folder opened alone: its layers named 'baseline'
        md = layer.metadata.get(METADATA_KEY, {})
        if md.get("kind") != "image":
            viewer.layers.remove(layer)
        elif md.get("timepoint_id") == "baseline":
            viewer.layers.remove(layer)
        else:
            md["timepoint_id"] = "baseline"
            layer.name = layer_name(md["phase"], "baseline")
    r = dock.start_read("R1", criteria="RECIST1.1")
    assert isinstance(r, ReadSession) and list(r.images) == ["fu1"] and r.images["fu1"].date == dates["fu1"]
    assert r.timepoint_ids == ["baseline", "fu1"]
    assert {layer.metadata[METADATA_KEY]["timepoint_id"] for layer in dock._image_layers()} == {"fu1"}
    assert all(layer.name.startswith("fu1 · ") for layer in dock._image_layers())
    assert r.observations[("L1", "baseline")].longest_diameter_mm == 40.0
    assert r.read_document()["timepoints"][0]["date"] == dates["baseline"]


@needs_pipeline
def test_compare_mode_registers_each_patient_own_follow_up(
    docked: Any, qtbot: Any, sample_layers: list[Any]
) -> None:
    """Two patients whose time points have the same names: patient B's follow-up drawn over B's
    baseline is B's own registration, never A's cached one (the cache was keyed by the time
    points' names only, so B's read showed A's registered follow-up), and A's images are hidden
    under B's read."""
    import copy

    from pydicom.uid import generate_uid

    from hcc_imaging.napari_plugin._layers import METADATA_KEY

    viewer, dock = docked
    name = "fu1 → baseline (registered)"
    dock.start_read("R1", criteria="RECIST1.1")
    dock.timepoint_combo.setCurrentText("fu1")
    dock.set_compare_mode("over baseline (registered)")
    qtbot.waitUntil(lambda: name in viewer.layers and not dock._workers, timeout=60000)
    a_mean = float(np.mean(viewer.layers[name].data))
    dock.set_compare_mode("single")
    # patient B: A's portal-venous images with new UIDs, its follow-up 200 HU brighter throughout
    study = {"baseline": generate_uid(), "fu1": generate_uid()}
    for data, kwargs, kind in sample_layers:
        md = kwargs["metadata"][METADATA_KEY]
        if md["phase"] != "portal_venous":
            continue
        kw = copy.deepcopy(kwargs)
        mdb = kw["metadata"][METADATA_KEY]
        mdb.update(patient_id="PAT-B", study_instance_uid=study[md["timepoint_id"]],
                   series_instance_uid=generate_uid(), frame_of_reference_uid=study["baseline"] + ".1",
                   sop_instance_uids=[generate_uid() for _ in md["sop_instance_uids"]])
        kw["name"] = f"B {kwargs['name']}"
        arr = np.asarray(data)
        getattr(viewer, f"add_{kind}")(arr + 200 if md["timepoint_id"] == "fu1" else arr.copy(), **kw)
    dock.start_read("R1", patient_id="PAT-B", criteria="RECIST1.1")
    dock.timepoint_combo.setCurrentText("fu1")
    dock.set_compare_mode("over baseline (registered)")
    qtbot.waitUntil(lambda: name in viewer.layers and not dock._workers, timeout=60000)
    reg = viewer.layers[name]
    assert reg.metadata[METADATA_KEY]["patient_id"] == "PAT-B"
    assert float(np.mean(reg.data)) - a_mean > 100.0  # B's follow-up, not A's (the same mean before the fix)
    assert reg.visible
    for layer in viewer.layers:
        md = layer.metadata.get(METADATA_KEY, {}) if hasattr(layer, "metadata") else {}
        if md.get("kind") == "image" and md.get("patient_id") != "PAT-B":
            assert not layer.visible, layer.name
    dock.set_compare_mode("single")


def test_two_studies_opened_apart_are_named_by_date_not_merged(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path
) -> None:
    """The baseline's folder opened, then the follow-up's: the reader names each study opened alone
    'baseline', and the dock grouped both studies' series as one time point (the follow-up's portal
    venous phase replacing the baseline's).  Now the patient's studies are named by date."""
    import copy

    from hcc_imaging.napari_plugin._layers import METADATA_KEY
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    viewer = make_napari_viewer()
    base = [t for t in sample_layers if t[1]["metadata"][METADATA_KEY]["timepoint_id"] == "baseline"]
    fu = [t for t in sample_layers if t[1]["metadata"][METADATA_KEY]["timepoint_id"] == "fu1"]
    for data, kwargs, kind in base:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    viewer.window.add_dock_widget(dock, name="HCC response")
    fu_uid = fu[0][1]["metadata"][METADATA_KEY]["study_instance_uid"]
    for data, kwargs, kind in fu:  # the follow-up's folder opened alone: named 'baseline'
        kw = copy.deepcopy(kwargs)
        kw["metadata"][METADATA_KEY]["timepoint_id"] = "baseline"
        kw["name"] = kw["name"].replace("fu1", "baseline")
        getattr(viewer, f"add_{kind}")(data, **kw)
    by_tp: dict[str, set[str]] = {}
    for layer in viewer.layers:
        md = layer.metadata.get(METADATA_KEY, {})
        if md.get("kind") == "image":
            by_tp.setdefault(md["timepoint_id"], set()).add(md["study_instance_uid"])
            assert layer.name.startswith(md["timepoint_id"] + " · "), layer.name
    assert by_tp == {"baseline": {base[0][1]["metadata"][METADATA_KEY]["study_instance_uid"]}, "fu1": {fu_uid}}
    assert "named by study date" in dock.status_label.text()
    s = dock.start_read("R1", criteria="RECIST1.1")
    assert s.timepoint_ids == ["baseline", "fu1"]
    assert s.images["fu1"].reference.study_instance_uid == fu_uid
    assert s.images["baseline"].reference.study_instance_uid != fu_uid

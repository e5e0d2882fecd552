"""The dock with a patient's studies opened one after another into a read (napari adds a study's
series one layer at a time; the reader names a study opened alone 'baseline'): every phase reaches
the read, and a study dated before the read's baseline becomes the baseline while nothing is
measured, else is left out of the read with a message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hcc_imaging.napari_plugin import _core
from hcc_imaging.napari_plugin._layers import METADATA_KEY, lps_to_world
from hcc_imaging.volume import Phase

pytestmark = pytest.mark.gui

PHASES = [Phase.PRE_CONTRAST, Phase.ARTERIAL, Phase.PORTAL_VENOUS, Phase.DELAYED]


def _study(sample_layers: list[Any], tp: str) -> list[Any]:
    return [t for t in sample_layers if t[1]["metadata"][METADATA_KEY]["timepoint_id"] == tp]


def _open_alone(viewer: Any, layers: list[Any]) -> None:
    """A study's folder opened alone (viewer.open): the reader names it 'baseline'; napari adds its
    series one layer at a time (the dock hears each)."""
    for data, kwargs, kind in layers:
        kw = copy.deepcopy(kwargs)
        tp = kw["metadata"][METADATA_KEY]["timepoint_id"]
        kw["metadata"][METADATA_KEY]["timepoint_id"] = "baseline"
        kw["name"] = kw["name"].replace(tp, "baseline")
        getattr(viewer, f"add_{kind}")(data, **kw)


def _dock(make_napari_viewer: Any, tmp_path: Path, first: list[Any]) -> tuple[Any, Any]:
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    viewer = make_napari_viewer()
    _open_alone(viewer, first)
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    viewer.window.add_dock_widget(dock, name="HCC response")
    return viewer, dock


def _items(combo: Any) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


@pytest.mark.skipif(not (_core.available("segment") and _core.available("measure")),
                    reason="hcc_imaging.segment / hcc_imaging.measure not in this build")
def test_a_follow_up_opened_into_a_read_brings_every_phase(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path, qtbot: Any, phantom_truth: Any
) -> None:
    """The follow-up's folder opened after the read started: only its first phase (pre-contrast)
    reached the read, so fu1 had one phase to show and segment on, and mRECIST no arterial phase
    (a click on L2 at fu1 failed: 'not distinguishable here')."""
    viewer, dock = _dock(make_napari_viewer, tmp_path, _study(sample_layers, "baseline"))
    s = dock.start_read("R1", criteria="RECIST1.1, mRECIST")
    _open_alone(viewer, _study(sample_layers, "fu1"))
    assert s.timepoint_ids == ["baseline", "fu1"]
    assert list(s.images["fu1"].phases) == PHASES
    assert s.images["fu1"].reference.phase == Phase.PORTAL_VENOUS
    assert s.images["fu1"].arterial is not None and s.images["fu1"].arterial.phase == Phase.ARTERIAL
    dock.timepoint_combo.setCurrentText("fu1")
    assert _items(dock.phase_combo) == [str(p) for p in PHASES]
    assert _items(dock.seg_phase_combo) == [dock.AUTO_PHASE, *(str(p) for p in PHASES)]
    dock.segment_button.setChecked(True)
    seeds = viewer.layers["seeds (click a lesion)"]
    seeds.add(np.asarray(seeds.world_to_data(lps_to_world(phantom_truth["fu1"]["lesions"]["L2"]["seed_lps"]))))
    qtbot.waitUntil(lambda: any(k[1] == "fu1" for k in s.observations) and not dock._workers, timeout=120000)
    obs = next(o for k, o in s.observations.items() if k[1] == "fu1")
    assert obs.longest_diameter_mm and obs.viable_diameter_mm is not None, dock.last_error
    dock.wait_for_workers(30)


def test_a_follow_up_opened_into_a_resumed_read_brings_every_phase(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path
) -> None:
    viewer, dock = _dock(make_napari_viewer, tmp_path, _study(sample_layers, "baseline"))
    _open_alone(viewer, _study(sample_layers, "fu1"))  # both open: named by date
    s = dock.start_read("R1", criteria="RECIST1.1, mRECIST")
    c = np.asarray(s.geometry("fu1").index_to_lps(np.asarray(s.geometry("fu1").shape) / 2.0), float)
    s.measure_manual("fu1", (c, c + (40, 0, 0)))
    for layer in [lyr for lyr in viewer.layers if lyr.metadata.get(METADATA_KEY, {}).get("timepoint_id") != "baseline"
                  or lyr.metadata.get(METADATA_KEY, {}).get("kind") != "image"]:
        viewer.layers.remove(layer)
    dock.session = None
    r = dock.start_read("R1", criteria="RECIST1.1, mRECIST")  # resumed with the baseline's folder open
    assert list(r.images) == ["baseline"] and r.timepoint_ids == ["baseline", "fu1"]
    _open_alone(viewer, _study(sample_layers, "fu1"))
    assert list(r.images["fu1"].phases) == PHASES
    assert r.images["fu1"].reference.phase == Phase.PORTAL_VENOUS
    assert r.observations[("L1", "fu1")].longest_diameter_mm == 40.0


def test_a_follow_up_opened_alone_into_its_resumed_read_brings_every_phase(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path
) -> None:
    """Only the follow-up's folder open for a resumed read: its layers, named 'baseline', go to the
    read's fu1 (same study); the phases after the first were refused as 'another study'."""
    viewer, dock = _dock(make_napari_viewer, tmp_path, _study(sample_layers, "baseline"))
    _open_alone(viewer, _study(sample_layers, "fu1"))
    s = dock.start_read("R1", criteria="RECIST1.1")
    c = np.asarray(s.geometry("fu1").index_to_lps(np.asarray(s.geometry("fu1").shape) / 2.0), float)
    s.measure_manual("fu1", (c, c + (40, 0, 0)))
    for layer in list(viewer.layers):
        viewer.layers.remove(layer)
    dock.session = None
    _open_alone(viewer, _study(sample_layers, "fu1")[:1])
    r = dock.start_read("R1", criteria="RECIST1.1")
    assert list(r.images) == ["fu1"]
    _open_alone(viewer, _study(sample_layers, "fu1")[1:])  # the rest of the folder's series
    assert list(r.images) == ["fu1"] and list(r.images["fu1"].phases) == PHASES
    assert all(lyr.name.startswith("fu1 · ") for lyr in dock._image_layers())
    assert "another study" not in dock.last_error


def test_another_series_of_a_phase_the_read_holds_is_said_not_swapped(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path
) -> None:
    from pydicom.uid import generate_uid

    viewer, dock = _dock(make_napari_viewer, tmp_path, _study(sample_layers, "baseline"))
    s = dock.start_read("R1", criteria="RECIST1.1")
    _open_alone(viewer, _study(sample_layers, "fu1"))
    held = s.images["fu1"].phases[Phase.PORTAL_VENOUS]
    data, kwargs, kind = next(t for t in _study(sample_layers, "fu1")
                              if t[1]["metadata"][METADATA_KEY]["phase"] == "portal_venous")
    kw = copy.deepcopy(kwargs)
    other_uid = generate_uid()
    kw["metadata"][METADATA_KEY]["series_instance_uid"] = other_uid
    kw["name"] = "fu1 · portal_venous (2nd series)"
    viewer.add_image(np.asarray(data) + 100, **kw)
    assert s.images["fu1"].phases[Phase.PORTAL_VENOUS] is held
    assert "already has a portal_venous series" in dock.last_error and other_uid in dock.last_error
    dock.timepoint_combo.setCurrentText("fu1")
    dock.phase_combo.setCurrentText("portal_venous")
    shown = [lyr for lyr in dock._image_layers() if lyr.visible]
    assert len(shown) == 1 and shown[0].metadata[METADATA_KEY]["series_instance_uid"] == held.series_instance_uid


def test_an_earlier_study_opened_into_an_unmeasured_read_becomes_its_baseline(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path
) -> None:
    """The later study opened first, the read started, then the earlier study opened: the read had
    'fu1' dated before 'baseline' (an empty response panel, exports refused)."""
    viewer, dock = _dock(make_napari_viewer, tmp_path, _study(sample_layers, "fu1"))
    s = dock.start_read("R1", criteria="RECIST1.1")
    assert s.images["baseline"].date == "2025-03-03"
    _open_alone(viewer, _study(sample_layers, "baseline"))
    assert s.timepoint_ids == ["baseline", "fu1"]
    assert s.images["baseline"].date == "2025-01-06" and s.images["fu1"].date == "2025-03-03"
    assert list(s.images["baseline"].phases) == PHASES and list(s.images["fu1"].phases) == PHASES
    assert _items(dock.timepoint_combo) == ["baseline", "fu1"]
    for layer in dock._image_layers():
        md = layer.metadata[METADATA_KEY]
        assert md["timepoint_id"] == ("baseline" if md["study_date"] == "20250106" else "fu1"), layer.name
        assert layer.name.startswith(md["timepoint_id"] + " · ")
    assert "baseline is now fu1" in dock.status_label.text()


def test_an_earlier_study_is_left_out_of_a_read_measured_on_the_later_one(
    make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path
) -> None:
    viewer, dock = _dock(make_napari_viewer, tmp_path, _study(sample_layers, "fu1"))
    s = dock.start_read("R1", criteria="RECIST1.1")
    c = np.asarray(s.geometry("baseline").index_to_lps(np.asarray(s.geometry("baseline").shape) / 2.0), float)
    s.measure_manual("baseline", (c, c + (40, 0, 0)))
    dock.refresh_all()
    _open_alone(viewer, _study(sample_layers, "baseline"))
    assert s.timepoint_ids == ["baseline"] and s.images["baseline"].date == "2025-03-03"
    assert list(s.images["baseline"].phases) == PHASES
    assert _items(dock.timepoint_combo) == ["baseline"]
    earlier = [lyr for lyr in dock._image_layers() if lyr.metadata[METADATA_KEY]["study_date"] == "20250106"]
    assert len(earlier) == 4 and all(lyr.name.startswith("prior · ") and not lyr.visible for lyr in earlier)
    text = dock.status_label.text()
    assert "2025-01-06" in text and "before this read's 'baseline'" in text and "both studies open" in text
    # the read stays consistent: assessed and exported
    out = dock.export("CSV", tmp_path / "read.csv")
    assert out and all(Path(p).exists() for p in out)
    # resumed with both studies open: the read's saved baseline (the later study) names them again
    for layer in dock._image_layers():
        md = layer.metadata[METADATA_KEY]
        md["timepoint_id"] = "baseline" if md["study_date"] == "20250106" else "fu1"
    dock.session = None
    r = dock.start_read("R1", criteria="RECIST1.1")
    assert r.timepoint_ids == ["baseline"] and r.images["baseline"].date == "2025-03-03"
    assert all(lyr.metadata[METADATA_KEY]["timepoint_id"] == "prior" for lyr in dock._image_layers()
               if lyr.metadata[METADATA_KEY]["study_date"] == "20250106")
    assert "before this read's 'baseline'" in dock.last_error

"""``hcc-imaging view`` and rendering: the viewer is built with the dock; screenshots are not blank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hcc_imaging.cli import build_parser

pytestmark = pytest.mark.gui


def test_view_command_parses() -> None:
    args = build_parser().parse_args(["view", "some/folder", "--reader", "R1", "--no-run"])
    assert args.path == Path("some/folder") and args.reader == "R1" and args.no_run
    from hcc_imaging.commands.view import run

    assert args.func is run


def test_build_viewer_docks_the_widget_and_starts_the_read(make_napari_viewer: Any, sample_layers: Any, tmp_path: Path) -> None:
    from hcc_imaging.commands.view import DOCK_NAME, build_viewer

    viewer = make_napari_viewer()
    for data, kwargs, kind in sample_layers:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    viewer, dock = build_viewer(None, viewer=viewer, reader="R1", autosave_dir=tmp_path, db=tmp_path / "s.sqlite")
    assert DOCK_NAME in viewer.window.dock_widgets
    assert dock.session is not None and dock.session.reader_id == "R1"
    assert dock.timepoint_combo.count() == 2 and dock.phase_combo.count() == 4


def test_missing_path_is_a_clear_error(make_napari_viewer: Any, tmp_path: Path) -> None:
    from hcc_imaging.commands.view import build_viewer
    from hcc_imaging.errors import NotDicomError

    with pytest.raises(NotDicomError, match="does not exist"):
        build_viewer(tmp_path / "nope", viewer=make_napari_viewer())


def test_a_folder_with_nothing_to_show_is_the_readers_clear_error(make_napari_viewer: Any, shared_data: Path) -> None:
    """``hcc-imaging view FOLDER`` where no series can be one volume: the reader's error (which
    series, why), not napari's wrapper with a traceback."""
    from hcc_imaging.commands.view import build_viewer
    from hcc_imaging.errors import InvalidSeriesError

    folder = shared_data / "dicom2nifti_failing_series" / "sliceorientation"
    with pytest.raises(InvalidSeriesError, match="can be shown: .*different orientations"):
        build_viewer(folder, viewer=make_napari_viewer())


def test_rendered_window_is_not_blank(make_napari_viewer: Any, sample_layers: Any, tmp_path: Path) -> None:
    """show=True: the screenshot shows the CT (many grey levels), the dock and a drawn line."""
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    viewer = make_napari_viewer(show=True)
    for data, kwargs, kind in sample_layers[:4]:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    dock = ResponseDock(viewer, autosave_dir=tmp_path, db=tmp_path / "study.sqlite")
    viewer.window.add_dock_widget(dock)
    s = dock.start_read("R1")
    s.measure_manual("baseline", ((-80.5, -33.2, 19.5), (-109.5, -46.8, 19.5)))
    dock.refresh_all()
    assert dock.go_to_lesion("L1")
    canvas = np.asarray(viewer.screenshot(canvas_only=True, flash=False))
    assert canvas.shape[-1] in (3, 4)
    grey = canvas[..., :3].astype(int)
    assert len(np.unique(grey.reshape(-1, 3), axis=0)) > 50  # a CT slice, not a flat colour
    yellow = (grey[..., 0] > 200) & (grey[..., 1] > 200) & (grey[..., 2] < 80)
    assert yellow.sum() > 10  # the long-axis line is drawn
    window = np.asarray(viewer.window.screenshot(canvas_only=False, flash=False))
    assert window.shape[1] > canvas.shape[1]  # dock and layer list are in the window shot


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X server (run under xvfb-run)")
def test_view_subprocess_builds_viewer_and_screenshot(tmp_path: Path) -> None:
    shot = tmp_path / "view.png"
    out = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "view", "--no-run", "--reader", "R1",
         "--autosave-dir", str(tmp_path / "reads"), "--db", str(tmp_path / "s.sqlite"), "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "viewer built" in out.stdout and "dock 'HCC response'" in out.stdout
    assert shot.stat().st_size > 10_000


def test_dock_from_the_plugin_menu_uses_only_public_viewer_api(make_napari_viewer: Any, sample_layers: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """napari injects a PublicOnlyProxy viewer; private access would warn (FutureWarning → error here)."""
    import warnings

    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    monkeypatch.setenv("HCC_IMAGING_AUTOSAVE", str(tmp_path / "reads"))
    monkeypatch.setenv("HCC_IMAGING_DB", str(tmp_path / "study.sqlite"))
    viewer = make_napari_viewer()
    for data, kwargs, kind in sample_layers[:4]:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        _, dock = viewer.window.add_plugin_dock_widget("hcc-imaging", "HCC response")
        assert isinstance(dock, ResponseDock)
        s = dock.start_read("R1")
        s.measure_manual("baseline", ((-80.5, -33.2, 19.5), (-109.5, -46.8, 19.5)))
        dock.refresh_all()
        assert dock.go_to_lesion("L1")
    assert s.path.parent == tmp_path / "reads"

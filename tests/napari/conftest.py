"""Fixtures of the napari tests: the sample study as layers, a docked ResponseDock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom"


@pytest.fixture(scope="session")
def phantom_truth() -> dict[str, Any]:
    """Analytic truth of the committed sample study, per time point (``truth.json``)."""
    import json

    return json.loads((SAMPLE / "truth.json").read_text())["timepoints"]


@pytest.fixture(scope="session")
def sample_layers() -> list[Any]:
    """Layer-data tuples of the sample study (read once per session; tests copy nothing big)."""
    from hcc_imaging.napari_plugin._sample_data import phantom_study

    return phantom_study()


@pytest.fixture
def docked(make_napari_viewer: Any, sample_layers: list[Any], tmp_path: Path) -> tuple[Any, Any]:
    """A viewer with the sample study and the HCC response dock (autosave in tmp_path)."""
    from hcc_imaging.napari_plugin._widgets._dock import ResponseDock

    viewer = make_napari_viewer()
    for data, kwargs, kind in sample_layers:
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    dock = ResponseDock(viewer, autosave_dir=tmp_path / "reads", db=tmp_path / "study.sqlite")
    viewer.window.add_dock_widget(dock, name="HCC response")
    return viewer, dock

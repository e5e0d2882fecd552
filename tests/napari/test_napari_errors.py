"""Every error the plugin raises on purpose, with its message (no viewer needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import HccImagingError, MissingGeometryError
from hcc_imaging.napari_plugin import _core
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.napari_plugin._layers import labels_layer_data, volume_layer_data
from hcc_imaging.napari_plugin._writer import write_csv, write_seg, write_sr
from hcc_imaging.volume import LabelVolume, Volume


def _vol() -> Volume:
    return Volume.create(np.zeros((4, 6, 8), np.int16), spacing=(2.0, 1.0, 1.0))


def test_writers_refuse_foreign_or_empty_layers(tmp_path: Path) -> None:
    with pytest.raises(MissingGeometryError, match="was not made by hcc-imaging"):
        write_seg(str(tmp_path / "x.dcm"), np.zeros((4, 6, 8), np.uint8), {"name": "foreign", "metadata": {}})
    with pytest.raises(MissingGeometryError, match="carries no hcc-imaging read"):
        write_sr(str(tmp_path / "x.dcm"), [], {"name": "m", "metadata": {"hcc_imaging": {"kind": "lines"}}})
    with pytest.raises(MissingGeometryError, match="carries no hcc-imaging read"):
        write_csv(str(tmp_path / "x.csv"), [], {"name": "m", "metadata": {"hcc_imaging": {"read_document": {"timepoints": []}}}})
    lab = LabelVolume.like(_vol(), np.ones((4, 6, 8), np.uint8), labels={1: "L1"})
    data, kwargs, _ = labels_layer_data(lab)
    with pytest.raises(MissingGeometryError, match="no DICOM files recorded"):
        write_seg(str(tmp_path / "x.dcm"), data, {"name": "lesions", **kwargs})


def test_missing_core_function_is_a_named_unavailable_error() -> None:
    with pytest.raises(_core.FeatureUnavailableError, match="not available in this hcc-imaging build"):
        _core._fn("no_such_function", "hcc_imaging.measure")
    with pytest.raises(_core.FeatureUnavailableError, match="is not available in this hcc-imaging build"):
        _core._need("hcc_imaging.no_such_module")
    with pytest.raises(_core.FeatureUnavailableError, match="lacks nothing_here"):
        _core._need("hcc_imaging.volume", "nothing_here")
    assert _core.available("measure") in (True, False)


def test_session_input_errors(tmp_path: Path) -> None:
    s = ReadSession("P1", "R1", tmp_path)
    with pytest.raises(HccImagingError, match="has no series"):
        s.add_timepoint("baseline", {})
    with pytest.raises(HccImagingError, match="unknown time point 'fu9'"):
        s.geometry("fu9")
    with pytest.raises(HccImagingError, match="has no images loaded"):
        s.segment_at("baseline", (0.0, 0.0, 0.0))
    s.add_timepoint("baseline", {"portal_venous": _vol()})
    les = s.new_lesion()
    with pytest.raises(HccImagingError, match="reference grid is"):
        s.set_mask(les.lesion_id, "baseline", np.zeros((2, 2, 2), bool), source="reader:R1")


def test_volume_layer_defaults_for_unknown_time_point() -> None:
    _, kwargs, _ = volume_layer_data(_vol())
    assert kwargs["name"] == "unknown" and kwargs["metadata"]["hcc_imaging"]["source_files"] == []

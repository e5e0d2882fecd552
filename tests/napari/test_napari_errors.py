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


def test_sr_export_refuses_images_of_another_time_point(tmp_path: Path) -> None:
    """The dock's Export SR (``_core.export_sr`` over the session's images) wrote an SR with a time
    point's lines on another time point's scan when its images were of another study date: only the
    command line checked.  The core's ``write_sr`` refuses now, and so does the dock's path."""
    from hcc_imaging.export import TimepointSourceError
    from hcc_imaging.io import load_series

    from ..export.conftest import PHI, lesion_labels, write_ct_series

    bl = load_series(write_ct_series(tmp_path / "ct_bl", study_date="20240115", seed=1).files[0].parent)
    fu = load_series(write_ct_series(tmp_path / "ct_fu1", study_date="20240318", seed=2).files[0].parent)
    s = ReadSession(PHI["PatientID"], "R1", tmp_path / "reads")
    s.add_timepoint("baseline", {"portal_venous": fu}, date="2024-01-15")  # the follow-up's CT as the baseline
    s.add_timepoint("fu1", {"portal_venous": bl}, date="2024-03-18")
    images = {tp: t.reference for tp, t in s.images.items()}  # as ResponseDock.export("SR") passes them
    with pytest.raises(TimepointSourceError, match=r"the images given for time point 'baseline' .* are of a study of "
                                                   r"20240318 \(the date of time point fu1\)"):
        _core.export_sr(s.read_document(), tmp_path / "sr.dcm", images=images)
    assert not (tmp_path / "sr.dcm").exists()
    s2 = ReadSession(PHI["PatientID"], "R1", tmp_path / "reads2")
    s2.add_timepoint("baseline", {"portal_venous": bl}, date="2024-01-15")
    s2.add_timepoint("fu1", {"portal_venous": fu}, date="2024-03-18")
    s2.set_mask(s2.new_lesion().lesion_id, "baseline", lesion_labels(bl)[0].array == 1, source="reader:R1")
    images = {tp: t.reference for tp, t in s2.images.items()}
    assert _core.export_sr(s2.read_document(), tmp_path / "sr.dcm", images=images).is_file()

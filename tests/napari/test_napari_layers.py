"""Pure Volume/LabelVolume <-> napari layer data conversions (no viewer, no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.constants import LIVER_WINDOW_HU
from hcc_imaging.errors import MissingGeometryError
from hcc_imaging.napari_plugin._layers import (
    METADATA_KEY,
    LineSpec,
    geometry_from_metadata,
    labels_from_layer,
    labels_layer_data,
    line_from_vertices,
    lines_layer_data,
    lps_to_world,
    volume_from_layer,
    volume_layer_data,
    world_to_lps,
)
from hcc_imaging.volume import AXIAL_DIRECTION, LabelVolume, Volume


def _rot(deg: float) -> np.ndarray:
    """Axial direction rotated about the LPS z axis (an oblique in-plane orientation)."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return rz @ AXIAL_DIRECTION


DIRECTIONS = [
    pytest.param(AXIAL_DIRECTION, id="axial"),
    pytest.param(AXIAL_DIRECTION @ np.diag([-1.0, -1.0, 1.0]), id="flipped-slice-and-row"),
    pytest.param(AXIAL_DIRECTION @ np.diag([1.0, 1.0, -1.0]), id="mirrored-col-det-minus-1"),
    pytest.param(_rot(17.0), id="oblique-17deg"),
    pytest.param(np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]), id="coronal"),
]


def _volume(direction: np.ndarray) -> Volume:
    rng = np.random.default_rng(0)
    arr = rng.integers(-100, 200, size=(5, 7, 9)).astype(np.int16)
    return Volume.create(
        arr,
        spacing=(2.5, 0.7, 0.8),
        origin=(-120.0, 30.0, 455.5),
        direction=direction,
        series_instance_uid="1.2.3.4",
        study_instance_uid="1.2.3",
        frame_of_reference_uid="1.2.3.9",
        phase="arterial",
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_layer_world_equals_lps_reversed(direction: np.ndarray) -> None:
    """napari world (z, y, x) of a voxel = volume.index_to_lps reversed, for any direction."""
    from napari.layers import Image

    vol = _volume(direction)
    data, kwargs, kind = volume_layer_data(vol, timepoint="baseline", patient_id="P1")
    assert kind == "image"
    layer = Image(data, **{k: v for k, v in kwargs.items() if k != "visible"})
    for idx in [(0, 0, 0), (4, 6, 8), (2, 3.5, 1.25)]:
        world = np.asarray(layer.data_to_world(idx), float)
        np.testing.assert_allclose(world, lps_to_world(vol.index_to_lps(idx)), atol=1e-9)
        np.testing.assert_allclose(world_to_lps(world), vol.index_to_lps(idx), atol=1e-9)
    assert tuple(str(u) for u in layer.units) == ("millimeter",) * 3
    assert kwargs["name"] == "baseline · arterial"
    assert kwargs["contrast_limits"] == LIVER_WINDOW_HU


def test_metadata_round_trips_volume_and_labels() -> None:
    vol = _volume(_rot(30.0))
    data, kwargs, _ = volume_layer_data(vol, timepoint="FU1", patient_id="P1")
    back = volume_from_layer(data, kwargs["metadata"])
    assert back.geometry_equal(vol) and np.array_equal(back.array, vol.array)
    assert back.series_instance_uid == "1.2.3.4" and back.frame_of_reference_uid == "1.2.3.9"
    assert back.phase == vol.phase
    md = kwargs["metadata"][METADATA_KEY]
    assert md["timepoint_id"] == "FU1" and md["patient_id"] == "P1"

    lab = LabelVolume.like(vol, (vol.array > 100).astype(np.uint8) * 2, labels={2: "L2"})
    ldata, lkwargs, kind = labels_layer_data(lab, name="lesions · FU1")
    assert kind == "labels" and ldata.dtype == np.uint16 and ldata.flags.writeable
    lback = labels_from_layer(ldata, lkwargs["metadata"])
    assert lback.geometry_equal(lab) and lback.labels[2] == "L2"
    assert lback.source_series_instance_uid == "1.2.3.4"


def test_layer_without_our_metadata_is_refused_with_fix() -> None:
    with pytest.raises(MissingGeometryError, match="plugin='hcc-imaging'"):
        geometry_from_metadata({}, "layer 'x'")
    vol = _volume(AXIAL_DIRECTION)
    _, kwargs, _ = volume_layer_data(vol)
    with pytest.raises(MissingGeometryError, match="cropped or resliced"):
        volume_from_layer(np.zeros((2, 2, 2)), kwargs["metadata"])
    with pytest.raises(MissingGeometryError, match="same grid as the image"):
        labels_from_layer(np.zeros((2, 2, 2), np.uint8), kwargs["metadata"])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_lines_round_trip_and_measure_in_mm(direction: np.ndarray) -> None:
    """A line drawn in data coordinates is measured in LPS mm, not in pixels."""
    vol = _volume(direction)
    start = vol.index_to_lps([2, 1, 1])
    end = vol.index_to_lps([2, 4, 7])  # 3 rows x 0.7 mm, 6 cols x 0.8 mm on one slice
    spec = LineSpec("L1", "long", tuple(start), tuple(end))
    assert spec.length_mm == pytest.approx(np.hypot(3 * 0.7, 6 * 0.8))
    data, kwargs, kind = lines_layer_data([spec], vol.geometry)
    assert kind == "shapes" and kwargs["features"]["length_mm"] == [round(spec.length_mm, 1)]
    assert kwargs["features"]["label"] == [f"L1  LD {spec.length_mm:.1f} mm"]
    np.testing.assert_allclose(data[0], [[2, 1, 1], [2, 4, 7]], atol=1e-9)
    back = line_from_vertices(data[0], vol.geometry, lesion_id="L1", axis="long")
    np.testing.assert_allclose(back.start_lps, start)
    np.testing.assert_allclose(back.end_lps, end)
    with pytest.raises(MissingGeometryError, match="exactly 2 vertices"):
        line_from_vertices(np.zeros((3, 3)), vol.geometry, lesion_id="L1", axis="long")


def test_mr_window_from_percentiles() -> None:
    arr = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    vol = Volume.create(arr, spacing=(1, 1, 1), modality="MR")
    _, kwargs, _ = volume_layer_data(vol)
    lo, hi = kwargs["contrast_limits"]
    assert 0 < lo < hi < arr.max()

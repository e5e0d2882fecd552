"""The image-edge warning names the side of the patient each face is on, from the grid's direction.

Found 2026-12-06: it named storage faces only ("first row"), which on a coronal or sagittal series
is no side a reader can look for (a coronal series' first row is the top of the image: superior)."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.measure.edge import lesions_at_image_edge
from hcc_imaging.volume import AXIAL_DIRECTION, Geometry, LabelVolume

#: array axes (slice, row, column) -> LPS: coronal slices run anterior -> posterior, rows superior
#: -> inferior (the image's top is the head), columns right -> left
CORONAL = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _touching(direction: np.ndarray, index: tuple[slice, slice, slice]) -> str:
    arr = np.zeros((6, 8, 8), np.uint8)
    arr[2:4, 3:5, 3:5] = 1
    arr[index] = 1
    lab = LabelVolume(arr, Geometry(arr.shape, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0), direction), {1: "L1"})
    return lesions_at_image_edge(lab, "1.2.3")["L1"]


@pytest.mark.parametrize(("direction", "index", "faces", "sides"), [
    pytest.param(AXIAL_DIRECTION, np.s_[0:3, 3:5, 3:5], "first slice", "inferior", id="axial-first-slice"),
    pytest.param(AXIAL_DIRECTION, np.s_[2:4, 0:4, 3:5], "first row", "anterior", id="axial-first-row"),
    pytest.param(AXIAL_DIRECTION, np.s_[2:4, 3:5, 5:8], "last column", "left", id="axial-last-column"),
    pytest.param(CORONAL, np.s_[2:4, 0:4, 3:5], "first row", "superior", id="coronal-first-row"),
    pytest.param(CORONAL, np.s_[4:6, 3:5, 3:5], "last slice", "posterior", id="coronal-last-slice"),
    pytest.param(CORONAL, np.s_[0:6, 3:5, 0:4], "first slice and last slice and first column",
                 "anterior and posterior and right", id="coronal-three-faces"),
])
def test_the_edge_warning_names_the_patient_side(direction, index, faces, sides) -> None:
    msg = _touching(direction, index)
    assert f"({faces} of series 1.2.3, 6 slices; in the patient: {sides})" in msg, msg
    assert msg.endswith("may be cut, measured smaller than it is")


def test_a_lesion_inside_the_image_is_not_named() -> None:
    arr = np.zeros((6, 8, 8), np.uint8)
    arr[2:4, 3:5, 3:5] = 1
    assert lesions_at_image_edge(LabelVolume(arr, Geometry(arr.shape, (2.0, 1.0, 1.0), (0.0, 0.0, 0.0),
                                                           AXIAL_DIRECTION), {1: "L1"})) == {}

"""A thin lesion tilted across thick slices is one lesion sampled thickly, not a split lesion
(tester finding t16, 2026-12-06): a 30 x 30 x 3 mm plate tilted 30 degrees on 5 mm slices is a
strip on each slice, strips that do not touch under 26-connectivity, so the split-lesion rule
summed their LDs (65.8 mm for a 28.7 mm lesion).  Pieces whose slice ranges abut and whose
sections on those slices come within two slice spacings in-plane are now one lesion; pieces side by
side in-plane, or a slice apart, stay fragments (test_measure_fragments.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcc_imaging.measure import measure_lesion
from hcc_imaging.measure import fragments as fr
from hcc_imaging.phantoms import Ellipsoid
from hcc_imaging.volume import LabelVolume

AXIAL = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)


def _plate(tilt_deg: float, semi_thick_mm: float, slice_mm: float) -> tuple[LabelVolume, Ellipsoid]:
    t = math.radians(tilt_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    e = Ellipsoid(np.array([0.1, 0.2, 0.3]), np.array([15.0, 15.0, semi_thick_mm]), rx)
    sp = (slice_mm, 0.6, 0.6)
    shape = (int(60 / slice_mm) + 2, 70, 70)
    origin = (-20.7, -20.7, -(shape[0] - 1) / 2 * slice_mm)
    lv = LabelVolume.create(np.zeros(shape, np.uint8), spacing=sp, origin=origin, direction=AXIAL)
    k, j, i = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    inside = e.inside(lv.index_to_lps(np.stack([k, j, i], -1).astype(float)))
    return lv.with_array(inside.astype(np.uint8)), e


@pytest.mark.parametrize(("tilt", "semi", "slice_mm"), [(30, 1.5, 5.0), (35, 2.5, 7.5)])
def test_tilted_plate_is_one_lesion(tilt: float, semi: float, slice_mm: float) -> None:
    lv, e = _plate(tilt, semi, slice_mm)
    assert fr.n_pieces(lv.array != 0) >= 2  # the sampling leaves separate strips
    m = measure_lesion(lv, 1)
    truth = e.sampled_diameters(lv.geometry)["longest_diameter_mm"]
    assert m.n_fragments in (None, 1) and m.fragments_note is None
    assert m.longest_diameter_mm == pytest.approx(truth, abs=1.5)  # was the strips' LDs summed: 65.8 vs 28.7


def test_side_by_side_and_slice_apart_stay_fragments() -> None:
    sp = (5.0, 0.6, 0.6)
    y, x = np.mgrid[:60, :60]
    disc = lambda cy, cx: (y - cy) ** 2 + (x - cx) ** 2 <= 36  # noqa: E731 (7.2 mm discs)
    # side by side in-plane on the same slices, 1.2 mm apart (within one slice spacing)
    m = np.zeros((6, 60, 60), np.uint8)
    m[1:4][:, disc(30, 15)] = 1
    m[1:4][:, disc(30, 29)] = 1
    assert fr.n_pieces(m != 0) == 2
    r = measure_lesion(LabelVolume.create(m, spacing=sp), 1)
    assert r.n_fragments == 2
    # a slice between them
    m = np.zeros((6, 60, 60), np.uint8)
    m[1][disc(30, 30)] = 1
    m[3][disc(30, 30)] = 1
    r = measure_lesion(LabelVolume.create(m, spacing=sp), 1)
    assert r.n_fragments == 2
    # adjacent slices but far apart in-plane (16.8 mm, more than 2 slice spacings): two lesions
    m = np.zeros((6, 60, 60), np.uint8)
    m[1][disc(30, 10)] = 1
    m[2][disc(30, 50)] = 1
    r = measure_lesion(LabelVolume.create(m, spacing=sp), 1)
    assert r.n_fragments == 2

"""The RECIST lines (long axis, short axis, 3-D Feret) do not depend on how the same voxels are
stored: columns transposed or reversed, slices reversed, slices stored as coronal rows
(docs/measure.md section 4, "Storage layout"; ``ESTIMATOR`` ``subvoxel-boundary-v6``).

Their lengths never did; the lines did.  Among equally long chords (common on a grid: a round
section's diameters, a square's two diagonals) the search kept the first in array order and the
lowest slice index, so until v6 the same lesion stored flipped or transposed reported another LD
line (up to 3.2 mm away at either end on the ellipsoids below: 624 of 1,440 lines moved) and a
short axis on another slice.  Since v6 the search runs in the patient-fixed layout the viable
rule uses (:func:`hcc_imaging.measure.diameters.patient_frame`).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hcc_imaging.measure import measure_lesion
from hcc_imaging.measure._canonical import canonical_frame
from hcc_imaging.measure.constants import ESTIMATOR
from hcc_imaging.measure.diameters import (
    AxialDiameter,
    axial_frame,
    feret_diameter_3d,
    longest_axial_diameter,
    patient_frame,
    short_axis,
)
from hcc_imaging.volume import LabelVolume

from ._shapes import stored_in_layout

SPACING = (2.5, 0.8, 0.8)

ALL_LAYOUTS = [(p, f) for p in itertools.permutations(range(3)) for f in itertools.product((False, True), repeat=3)]


def _ellipsoid(centre, radii, shape=(5, 14, 14)) -> LabelVolume:
    k, j, i = np.indices(shape).astype(float)
    m = sum(((g - c) / r) ** 2 for g, c, r in zip((k, j, i), centre, radii, strict=True)) <= 1.0
    return LabelVolume.create(m.astype(np.uint8), spacing=SPACING, origin=(10.0, -20.0, 30.0), labels={1: "L1"})


def _square() -> LabelVolume:
    """Two slices of a 9 x 9-voxel square: its two diagonals tie, and so do the two slices."""
    a = np.zeros((4, 12, 12), np.uint8)
    a[1:3, 2:11, 2:11] = 1
    return LabelVolume.create(a, spacing=SPACING, origin=(10.0, -20.0, 30.0), labels={1: "L1"})


CASES = [
    # a section symmetric about its centre in both in-plane axes, and about the middle slice:
    # every kind of tie
    pytest.param(lambda: _ellipsoid((2.0, 6.5, 6.5), (2.2, 4.0, 4.0)), id="round-symmetric"),
    pytest.param(lambda: _ellipsoid((2.0, 6.5, 6.5), (2.2, 5.0, 3.5)), id="oval-symmetric"),
    pytest.param(lambda: _ellipsoid((2.2, 6.1, 7.3), (2.2, 4.6, 5.2)), id="off-grid"),
    pytest.param(_square, id="square"),
]


def _same_line(a, b) -> None:
    """The same two points in LPS, in either order."""
    np.testing.assert_allclose(sorted(np.round(a, 6).tolist()), sorted(np.round(b, 6).tolist()), atol=1e-5)


@pytest.mark.parametrize("make", CASES)
def test_recist_lines_do_not_depend_on_the_storage_layout(make) -> None:
    lesion = make()
    ref = measure_lesion(lesion, 1)
    assert ref.provenance.parameters["estimator"] == ESTIMATOR == "subvoxel-boundary-v6"
    ref_slice_s = lesion.index_to_lps(np.array([ref.ld_slice_index, 0.0, 0.0]))[2]
    for perm, flips in ALL_LAYOUTS:
        stored = stored_in_layout(lesion, perm, flips)
        got = measure_lesion(stored, 1)
        assert got.plane_axis == perm.index(0)
        assert got.longest_diameter_mm == pytest.approx(ref.longest_diameter_mm, abs=1e-9)
        assert got.short_axis_mm == pytest.approx(ref.short_axis_mm, abs=1e-9)
        assert got.feret_3d_mm == pytest.approx(ref.feret_3d_mm, abs=1e-9)
        _same_line(ref.ld_endpoints_lps, got.ld_endpoints_lps)
        _same_line(ref.sa_endpoints_lps, got.sa_endpoints_lps)
        _same_line(ref.feret_endpoints_lps, got.feret_endpoints_lps)
        # the LD's slice: the same axial plane of the patient
        idx = [0.0, 0.0, 0.0]
        idx[got.plane_axis] = float(got.ld_slice_index)
        assert stored.index_to_lps(np.array(idx))[2] == pytest.approx(ref_slice_s, abs=1e-6)


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize(
    ("perm", "flips"),
    [((0, 2, 1), (False, False, False)), ((0, 1, 2), (True, False, True)), ((1, 0, 2), (True, False, False))],
    ids=["transposed", "slices-and-columns-reversed", "coronal"],
)
def test_public_helpers_agree_with_measure_lesion_in_every_layout(make, perm, flips) -> None:
    """``longest_axial_diameter``, ``short_axis`` (also given that long axis: its slice and
    direction read through the flipped frame) and ``feret_diameter_3d`` give
    ``measure_lesion``'s lines in any layout."""
    stored = stored_in_layout(make(), perm, flips)
    m = measure_lesion(stored, 1)
    ld = longest_axial_diameter(stored, 1)
    _same_line(ld.endpoints_lps, m.ld_endpoints_lps)
    assert ld.slice_index == m.ld_slice_index
    _same_line(short_axis(stored, 1).endpoints_lps, m.sa_endpoints_lps)
    given = short_axis(stored, 1, long_axis=ld)
    assert given.length_mm == pytest.approx(m.short_axis_mm, abs=1e-9)
    _same_line(given.endpoints_lps, m.sa_endpoints_lps)
    _same_line(feret_diameter_3d(stored, 1).endpoints_lps, m.feret_endpoints_lps)


def test_short_axis_of_a_long_axis_on_a_reversed_slice_axis() -> None:
    """A long axis on the lesion's first slice of a series stored inferior-first: the short axis
    is measured on that slice (read through the frame's flip), not on the mirror slice."""
    a = np.zeros((4, 12, 12), np.uint8)
    a[1, 2:11, 4:8] = 1  # a 9 x 4 section ...
    a[2, 3:9, 2:11] = 1  # ... and a 6 x 9 one: their short axes differ
    lesion = LabelVolume.create(a, spacing=SPACING, labels={1: "L1"})
    stored = stored_in_layout(lesion, (0, 1, 2), (True, False, False))
    for lv in (lesion, stored):
        for k in np.flatnonzero(np.asarray(lv.array).any(axis=(1, 2))):
            # a long axis drawn along the rows of slice k (9 or 6 voxels long)
            rows = np.flatnonzero(np.asarray(lv.array)[k].any(axis=1))
            col = float(np.flatnonzero(np.asarray(lv.array)[k].any(axis=0)).mean())
            ends = ((float(k), float(rows[0]), col), (float(k), float(rows[-1]), col))
            lps = lv.index_to_lps(np.array(ends)).tolist()
            drawn = AxialDiameter(length_mm=(rows[-1] - rows[0]) * SPACING[1], endpoints_lps=(tuple(lps[0]), tuple(lps[1])),
                                  endpoints_index=ends, slice_index=int(k), plane_axis=0)
            sa = short_axis(lv, 1, long_axis=drawn)
            assert sa.slice_index == k
            width = np.count_nonzero(np.asarray(lv.array)[k].any(axis=0))
            # the section's width across the drawn line, ends on the sub-voxel boundary
            assert width * SPACING[2] - 1.6 < sa.length_mm < width * SPACING[2] + 0.8


def test_patient_frame_is_canonical_and_idempotent() -> None:
    lesion = _ellipsoid((2.0, 6.5, 6.5), (2.2, 4.0, 4.0))
    base = axial_frame(lesion, 1)
    assert canonical_frame(base) is base  # an ordinary axial series: its own frame, not a copy
    plain = patient_frame(lesion, 1)
    assert (plain.perm, plain.flips, plain.grid_spacing) == ((0, 1, 2), (False, False, False), None)
    for perm, flips in ALL_LAYOUTS:
        cf = patient_frame(stored_in_layout(lesion, perm, flips, noise=-1.3e-15 if perm[0] else 0.0), 1)
        np.testing.assert_array_equal(cf.mask, base.mask)
        assert canonical_frame(cf) is cf  # (analyse_viable canonicalises the frame it is given)

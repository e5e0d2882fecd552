"""The viable (mRECIST) diameter, viable short axis and EASL product do not depend on how the
same voxels are stored: columns transposed or reversed, slices reversed, slices stored as
coronal rows (docs/measure.md section 4, "Storage layout").

Until 2026-12-06 they did: the rule's search took the first of equally long segments in array
order, and the sample phantom's L3 read 9.87 mm stored axially, 9.78 mm with its columns
transposed (EASL product -2 %); on the random lesions below the viable short axis by up to
1.2 mm (EASL product 48 vs 58 mm²).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hcc_imaging.measure import measure_lesion
from hcc_imaging.measure._canonical import canonical_frame
from hcc_imaging.measure.diameters import axial_frame
from hcc_imaging.measure.fragments import split_frame
from hcc_imaging.volume import LabelVolume

from ._shapes import stored_in_layout

SPACING = (2.5, 0.8, 0.8)


def _lesion(centre, radii, necrosis_centre, necrosis_radius) -> tuple[LabelVolume, LabelVolume]:
    """An ellipsoid lesion (voxel units) on a 5 x 12 x 12 grid with an off-centre necrotic
    cylinder through it; viable = lesion minus necrosis."""
    k, j, i = np.indices((5, 12, 12)).astype(float)
    c, r = np.asarray(centre), np.asarray(radii)
    lesion = ((k - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((i - c[2]) / r[2]) ** 2 <= 1.0
    necrosis = (j - necrosis_centre[0]) ** 2 + (i - necrosis_centre[1]) ** 2 <= necrosis_radius**2
    make = lambda m: LabelVolume.create(m.astype(np.uint8), spacing=SPACING, origin=(10.0, -20.0, 30.0),  # noqa: E731
                                        labels={1: "L1"})
    return make(lesion), make(lesion & ~necrosis)


# random lesions (the old search's spread over LAYOUTS and the lesion as drawn, same voxels)
LESIONS = [
    # viable SA 6.08-7.32 mm, viable diameter 7.90-7.95 mm, EASL product 48.1-58.2 mm²
    pytest.param(((2.336, 5.282, 5.215), (2.2, 4.779, 5.11), (7.137, 3.817), 2.223), id="easl-48-to-58"),
    # the same lengths, but on one of two mirror-image lines 3.3 mm apart
    pytest.param(((1.849, 5.755, 5.065), (2.2, 3.832, 4.054), (5.956, 5.295), 2.248), id="other-line"),
    # viable SA 5.05-5.91 mm, EASL product 34.5-40.4 mm²
    pytest.param(((1.618, 5.36, 5.094), (2.2, 4.699, 4.021), (4.418, 4.247), 1.647), id="easl-35-to-40"),
]

LAYOUTS = [
    pytest.param((0, 2, 1), (False, False, False), id="transposed"),
    pytest.param((0, 1, 2), (False, False, True), id="columns-reversed"),
    pytest.param((0, 1, 2), (True, True, False), id="slices-and-rows-reversed"),
    # a coronal series: slices along A-P, rows running S to I, columns R to L
    pytest.param((1, 0, 2), (True, False, False), id="coronal"),
    pytest.param((2, 0, 1), (True, False, True), id="sagittal-columns-flipped"),
]


@pytest.mark.parametrize("case", LESIONS)
@pytest.mark.parametrize(("perm", "flips"), LAYOUTS)
def test_viable_lines_do_not_depend_on_the_storage_layout(case, perm, flips) -> None:
    lesion, viable = _lesion(*case)
    assert 0 < np.count_nonzero(viable.array) < np.count_nonzero(lesion.array)
    ref = measure_lesion(lesion, 1, viable=viable)
    got = measure_lesion(stored_in_layout(lesion, perm, flips), 1, viable=stored_in_layout(viable, perm, flips))
    assert got.plane_axis == perm.index(0)
    assert got.viable_diameter_mm == pytest.approx(ref.viable_diameter_mm, abs=1e-6)
    assert got.viable_short_axis_mm == pytest.approx(ref.viable_short_axis_mm, abs=1e-6)
    assert got.easl_product_mm2 == pytest.approx(ref.easl_product_mm2, abs=1e-5)
    # the same lines in the patient (ends in either order)
    for a, b in ((ref.viable_endpoints_lps, got.viable_endpoints_lps),
                 (ref.viable_sa_endpoints_lps, got.viable_sa_endpoints_lps)):
        np.testing.assert_allclose(sorted(np.round(a, 6).tolist()), sorted(np.round(b, 6).tolist()), atol=1e-5)
    assert got.viable_volume_mm3 == pytest.approx(ref.viable_volume_mm3)
    assert got.necrosis_fraction_ld_slice == pytest.approx(ref.necrosis_fraction_ld_slice)


# random lesions whose viable lines moved (by up to 0.97 mm) with the spacing's last bits
NOISY = [
    pytest.param(((1.747, 5.096, 5.427), (2.2, 4.789, 4.274), (6.922, 7.185), 2.665), id="moved-0.97mm"),
    pytest.param(((1.717, 5.788, 5.373), (2.2, 4.885, 5.133), (5.506, 4.152), 1.861), id="moved-0.38mm"),
]


@pytest.mark.parametrize("case", NOISY)
def test_coronal_series_with_computed_spacing(case) -> None:
    """A coronal series' spacings come from its slice positions, off in the last bits: the
    sample phantom's L3 stored coronally read 9.78 mm (9.87 axially) until its spacing was
    rounded before the search (equally long segments then compared unequal)."""
    lesion, viable = _lesion(*case)
    ref = measure_lesion(lesion, 1, viable=viable)
    for noise in (-1.3e-15, 4e-16):
        got = measure_lesion(stored_in_layout(lesion, (1, 0, 2), (True, False, False), noise), 1,
                             viable=stored_in_layout(viable, (1, 0, 2), (True, False, False), noise))
        assert got.viable_diameter_mm == pytest.approx(ref.viable_diameter_mm, abs=1e-6)
        assert got.viable_short_axis_mm == pytest.approx(ref.viable_short_axis_mm, abs=1e-6)
        assert got.easl_product_mm2 == pytest.approx(ref.easl_product_mm2, abs=1e-5)


def test_canonical_frame_is_the_same_array_for_every_layout() -> None:
    """All 48 signed permutations of an axis-aligned grid give one canonical array, whose frame
    maps back to the same patient positions; an ordinary axial grid is its own canonical frame."""
    lesion, _ = _lesion(*LESIONS[0].values[0])
    base = axial_frame(lesion, 1)
    assert canonical_frame(base) is base
    pts_ref = np.sort(base.to_lps(np.argwhere(base.mask).astype(float)).round(6), axis=0)
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            frame = axial_frame(stored_in_layout(lesion, perm, flips), 1)
            cf = canonical_frame(frame)
            np.testing.assert_array_equal(cf.mask, base.mask)
            assert cf.spacing == base.spacing
            pts = np.sort(cf.to_lps(np.argwhere(cf.mask).astype(float)).round(6), axis=0)
            np.testing.assert_allclose(pts, pts_ref, atol=1e-6)
            idx = np.argwhere(cf.mask).astype(float)
            np.testing.assert_allclose(cf.from_index(cf.to_index(idx)), idx)
            # the frame's own crop of the label array is its mask
            np.testing.assert_array_equal(cf.crop_of(np.asarray(frame.labels.array)) == 1, cf.mask)


def test_fragments_of_a_flipped_frame_crop_their_own_voxels() -> None:
    """Two pieces in a frame whose axes run against the array: each piece's frame (offset from
    the flipped box) crops exactly its voxels from the label array."""
    arr = np.zeros((4, 10, 12), np.uint8)
    arr[1:3, 1:4, 1:5] = 1
    arr[1:4, 6:9, 7:11] = 1
    lv = stored_in_layout(LabelVolume.create(arr, spacing=SPACING, labels={1: "L1"}), (0, 2, 1), (True, True, False))
    cf = canonical_frame(axial_frame(lv, 1))
    assert any(cf.flips)
    split = split_frame(cf, min_diameter_mm=0.0)
    assert split is not None and len(split[0]) == 2
    for part in split[0]:
        assert part.flips == cf.flips
        np.testing.assert_array_equal(part.crop_of(np.asarray(lv.array)) == 1, part.mask)


@pytest.mark.parametrize(("perm", "flips"), LAYOUTS)
def test_split_lesion_does_not_depend_on_the_storage_layout(perm, flips) -> None:
    """Two equal discs under one label (RECIST 1.1's split lesion), a necrotic spot in one: the
    fragment whose lines and LD slice are reported was the first in array order, so a reversed
    or transposed layout reported the other one (necrosis on the LD slice 0.10 -> 0.0)."""
    y, x = np.mgrid[:30, :40]
    arr = np.zeros((4, 30, 40), np.uint8)
    for cy, cx in ((10, 10), (18, 29)):
        arr[1][(y - cy) ** 2 + (x - cx) ** 2 <= 5.2**2] = 1
    via = arr.copy()
    via[1, 9:12, 8:11] = 0
    lesion = LabelVolume.create(arr, spacing=SPACING, labels={1: "L1"})
    viable = LabelVolume.create(via, spacing=SPACING, labels={1: "L1"})
    ref = measure_lesion(lesion, 1, viable=viable)
    got = measure_lesion(stored_in_layout(lesion, perm, flips), 1, viable=stored_in_layout(viable, perm, flips))
    assert ref.n_fragments == got.n_fragments == 2
    assert got.necrosis_fraction_ld_slice == pytest.approx(ref.necrosis_fraction_ld_slice)
    assert ref.necrosis_fraction_ld_slice > 0.05
    for f in ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm", "easl_product_mm2"):
        assert getattr(got, f) == pytest.approx(getattr(ref, f), abs=1e-6), f
    # the same fragment's lines (a disc's LD may be any of its equally long diameters: the midpoints)
    for f in ("ld_endpoints_lps", "sa_endpoints_lps", "viable_endpoints_lps", "viable_sa_endpoints_lps"):
        np.testing.assert_allclose(np.mean(getattr(got, f), axis=0), np.mean(getattr(ref, f), axis=0), atol=0.5,
                                   err_msg=f)

"""The one diameter estimator (sub-voxel boundary), pinned on digital shapes (DESIGN section 2).

What it does (docs/measure.md section 2): the voxel-centre hull finds which chord is the
diameter; each endpoint is then moved to an estimate of the continuous boundary - the ellipse
fitted to the slice's boundary when that ellipse reproduces the slice's mask (a smooth lesion
section), else a local weighted parabola fit at each end.  The figures below are what it
gives, each with the reason; the bounds used are the two classical conventions, voxel centres
(below) and voxel edges (above).
"""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.measure import (
    ESTIMATOR,
    feret_diameter_3d,
    lesion_volume_mm3,
    longest_axial_diameter,
    measure_lesion,
    short_axis,
)
from hcc_imaging.volume import LabelVolume


def _lab(arr: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> LabelVolume:
    return LabelVolume.create(arr.astype(np.uint8), spacing=spacing)


def test_estimator_is_subvoxel_boundary() -> None:
    assert ESTIMATOR == "subvoxel-boundary-v6"
    a = np.zeros((1, 12, 12))
    a[0, 1:11, 1:11] = 1
    assert measure_lesion(_lab(a), 1).provenance.parameters["estimator"] == ESTIMATOR


def test_square_10x10_between_centre_and_edge_diagonal() -> None:
    """A square is not a smooth shape: no ellipse reproduces it, and the parabola fits at its
    corners round them off.  The LD lies between the centre diagonal 9 sqrt 2 = 12.73 mm and
    the edge diagonal 10 sqrt 2 = 14.14 mm: 13.38 mm."""
    a = np.zeros((1, 12, 12))
    a[0, 1:11, 1:11] = 1
    lab = _lab(a)
    ld = longest_axial_diameter(lab).length_mm
    assert 9 * np.sqrt(2) < ld < 10 * np.sqrt(2)
    assert ld == pytest.approx(13.378, abs=0.005)  # the pinned figure (docs/measure.md section 2)
    # the square is symmetric: the short axis (the other diagonal) and the Feret equal the LD
    assert short_axis(lab).length_mm == pytest.approx(ld, abs=1e-6)
    assert feret_diameter_3d(lab).length_mm == pytest.approx(ld, abs=1e-6)
    assert lesion_volume_mm3(lab) == 100.0


def test_bar_10x1_reads_its_edge_length() -> None:
    """A 10 x 1 voxel bar is reproduced exactly by a thin ellipse, which is taken as its
    boundary: LD 10.02 mm (edge to edge 10 mm; the centres give 9 mm), short axis 1.17 mm (the
    ellipse's minor axis; edge width 1 mm; the centres give 0)."""
    a = np.zeros((1, 3, 12))
    a[0, 1, 1:11] = 1
    lab = _lab(a)
    ld = longest_axial_diameter(lab)
    assert 9.0 < ld.length_mm < 10.1
    assert ld.length_mm == pytest.approx(10.022, abs=0.005)  # pinned (v2: 10.06)
    sa = short_axis(lab).length_mm
    assert 0.5 < sa < 1.5
    assert sa == pytest.approx(1.169, abs=0.005)
    # the endpoints are on the bar's axis, about half a voxel beyond the end voxel centres
    xs = sorted(p[0] for p in ld.endpoints_lps)
    assert xs[0] == pytest.approx(0.5, abs=0.05) and xs[1] == pytest.approx(10.5, abs=0.05)


def test_single_voxel_is_zero() -> None:
    """One voxel gives no direction to measure along: 0 mm (below the resolution)."""
    a = np.zeros((1, 3, 3))
    a[0, 1, 1] = 1
    lab = _lab(a)
    assert longest_axial_diameter(lab).length_mm == 0.0
    assert short_axis(lab).length_mm == 0.0
    assert feret_diameter_3d(lab).length_mm == 0.0


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.7, 0.8)])
def test_two_voxels_read_their_edge_length_as_longer_bars_do(spacing: tuple[float, float, float]) -> None:
    """Two voxels side by side were measured centre to centre (LD one voxel, short axis 0) while
    a 3 x 1 bar read 3.02 voxels (edge to edge, the documented rule): the 6 boundary midpoints
    of the pair lie exactly on one ellipse (x^2 + 3 y^2 = 1 in half voxels), whose singular
    scatter matrix gave no fit.  Now LD 2 voxels, short axis 2/sqrt(3) voxel, as the bars'."""
    for axis, h in ((2, spacing[2]), (1, spacing[1])):
        a = np.zeros((1, 4, 4))
        a[(0, 1, slice(1, 3)) if axis == 2 else (0, slice(1, 3), 1)] = 1
        lab = _lab(a, spacing)
        assert longest_axial_diameter(lab).length_mm == pytest.approx(2.0 * h, rel=1e-6)
        other = spacing[1] if axis == 2 else spacing[2]
        assert short_axis(lab).length_mm == pytest.approx(2.0 / np.sqrt(3.0) * other, rel=1e-6)
    bar3 = np.zeros((1, 3, 5))
    bar3[0, 1, 1:4] = 1
    assert longest_axial_diameter(_lab(bar3)).length_mm == pytest.approx(3.022, abs=0.005)


def test_disc_10_voxels_across() -> None:
    """A digital disc 10 voxels across (centres within 5 voxels of its centre): the fitted
    ellipse reproduces it; LD 9.98 mm against 10 mm edge to edge (centres: 9.90)."""
    j, i = np.mgrid[0:12, 0:12]
    a = (((j - 5.5) ** 2 + (i - 5.5) ** 2) <= 25.0)[None]
    ld = longest_axial_diameter(_lab(a)).length_mm
    assert abs(ld - 10.0) <= 0.5
    assert ld == pytest.approx(9.978, abs=0.005)  # pinned


def test_anisotropic_spacing_scales_axes() -> None:
    a = np.zeros((1, 3, 12))
    a[0, 1, 1:11] = 1
    b = np.zeros((1, 12, 3))
    b[0, 1:11, 1] = 1
    # 10 voxels of 0.7 mm (edge 7.0 mm) and of 0.6 mm (edge 6.0 mm), within half a voxel
    assert abs(longest_axial_diameter(_lab(a, (5.0, 0.6, 0.7))).length_mm - 7.0) <= 0.35
    assert abs(longest_axial_diameter(_lab(b, (5.0, 0.6, 0.7))).length_mm - 6.0) <= 0.35


def test_long_axis_is_in_plane_not_3d() -> None:
    # a vertical column 10 slices tall, 1 voxel wide: LD 0 (one voxel per slice), Feret 9 x 2.5
    # (the Feret truth is between sampled sections: slice centres, no extrapolation along S)
    a = np.zeros((12, 3, 3))
    a[1:11, 1, 1] = 1
    lab = _lab(a, (2.5, 0.8, 0.8))
    assert longest_axial_diameter(lab).length_mm == 0.0
    assert feret_diameter_3d(lab).length_mm == pytest.approx(22.5)


def test_endpoints_and_slice_index() -> None:
    a = np.zeros((5, 10, 10))
    a[3, 2, 1:9] = 1
    a[1, 4, 4:6] = 1
    lab = LabelVolume.create(a.astype(np.uint8), spacing=(2.0, 1.0, 1.0), origin=(10.0, 20.0, 30.0))
    ld = longest_axial_diameter(lab)
    assert ld.slice_index == 3 and ld.plane_axis == 0
    # an 8-voxel bar: edge to edge 8 mm (centres 7 mm); endpoints on its axis, row 2, slice 3
    assert abs(ld.length_mm - 8.0) <= 0.1
    pts = sorted(ld.endpoints_lps)
    assert pts[0] == pytest.approx((10.5, 22.0, 36.0), abs=0.05)
    assert pts[1] == pytest.approx((18.5, 22.0, 36.0), abs=0.05)


def test_batched_ellipse_fits_equal_one_at_a_time() -> None:
    """The sections are fitted in batches (one padded stack per batch); a slice's ellipse and
    its acceptance must not depend on which other slices share the batch."""
    from scipy import ndimage

    from hcc_imaging.measure import _subvoxel

    rng = np.random.default_rng(7)
    slices = []
    for t in range(60):
        n_r, n_c = (int(v) for v in rng.integers(4, 30, 2))
        yy, xx = np.mgrid[:n_r, :n_c]
        if t % 3 == 0:  # rotated ellipses of any size: most are accepted
            a, b, th = rng.uniform(0.6, n_r / 2), rng.uniform(0.6, n_c / 2), rng.uniform(0, np.pi)
            u = (yy - n_r / 2) * np.cos(th) + (xx - n_c / 2) * np.sin(th)
            v = -(yy - n_r / 2) * np.sin(th) + (xx - n_c / 2) * np.cos(th)
            slices.append((u / a) ** 2 + (v / b) ** 2 <= 1.0)
        elif t % 3 == 1:  # ragged blobs: most are rejected
            slices.append(ndimage.binary_opening(rng.random((n_r, n_c)) < 0.5))
        else:  # bars, crosses, tiny boxes
            m = np.zeros((n_r, n_c), bool)
            m[n_r // 2, : int(rng.integers(1, n_c))] = True
            m[: int(rng.integers(1, n_r)), n_c // 2] = t % 2 == 0
            slices.append(m)
    for sp in ((1.0, 1.0), (0.8, 1.1)):
        one = [_subvoxel.fit_ellipse(s, sp) for s in slices]
        batch = _subvoxel.fit_ellipses(slices, sp)
        assert sum(e is not None for e in one) >= 10  # both outcomes are exercised
        assert sum(e is None for e in one) >= 10
        for e1, e2 in zip(one, batch, strict=True):
            assert (e1 is None) == (e2 is None)
            if e1 is not None:
                assert np.allclose(e1.centre, e2.centre, rtol=0, atol=1e-12)
                assert abs(e1.a - e2.a) <= 1e-12 and abs(e1.b - e2.b) <= 1e-12
                assert np.allclose(e1.major, e2.major, rtol=0, atol=1e-12)


def test_homothetic_sections_fit_together() -> None:
    """Small lesions: the central slices are fitted together by ellipses of one shape and
    orientation (each slice its own size and centre), which the sections of an ellipsoid by
    parallel planes are; refused where they do not reproduce every slice."""
    from hcc_imaging.measure import _homothetic

    from ._shapes import Ellipsoid, ellipsoid_labels

    # a tilted ellipsoid (axes not along the grid): its sections' centres move from slice to slice
    e = Ellipsoid(4.0, 2.6, 3.4, 0.6, (0.3, -0.2, 0.1))
    lv = ellipsoid_labels(e, (1.0, 1.0, 1.0))
    m = np.asarray(lv.array) != 0
    area = m.sum(axis=(1, 2))
    run = m[area >= 0.5 * area.max()]
    ells = _homothetic.fit_homothetic(run, (1.0, 1.0))
    assert ells is not None and len(ells) == len(run) >= 3
    ratio = [x.b / x.a for x in ells]
    assert max(ratio) - min(ratio) < 1e-9  # one shape ...
    assert all(abs(abs(float(x.major @ ells[0].major)) - 1.0) < 1e-9 for x in ells)  # ... one orientation
    assert max(2 * x.a for x in ells) == pytest.approx(2 * e.a, abs=0.5)  # the largest section's LD
    # flipping the stack (slice order, rows, columns) gives the same ellipses, mirrored
    fl = _homothetic.fit_homothetic(run[::-1, ::-1, :], (1.0, 1.0))
    assert fl is not None
    for x, y in zip(ells, fl[::-1], strict=True):
        assert abs(x.a - y.a) < 1e-9 and abs(x.b - y.b) < 1e-9
    # squares are no ellipses; a slice of one voxel fixes no shape
    sq = np.zeros((3, 12, 12), bool)
    sq[:, 1:11, 1:11] = True
    assert _homothetic.fit_homothetic(sq, (1.0, 1.0)) is None
    tiny = np.zeros((2, 5, 5), bool)
    tiny[0, 2, 2] = tiny[1, 2, 2:4] = True
    assert _homothetic.fit_homothetic(tiny, (1.0, 1.0)) is None

"""Measurement plane and geometry: flips/permutations, oblique grids, axial reformat, scaling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcc_imaging.errors import GeometryMismatchError, MeasurementPlaneError
from hcc_imaging.measure import (
    EmptyMaskError,
    axial_axis,
    feret_diameter_3d,
    lesion_volume_mm3,
    longest_axial_diameter,
    measure_lesion,
    short_axis,
)
from hcc_imaging.measure.diameters import axial_frame
from hcc_imaging.volume import AXIAL_DIRECTION, Geometry, LabelVolume

from ..strategies import SIGNED_PERMUTATIONS
from ._shapes import Ellipsoid, ellipsoid_labels, plane_z, stored_in_layout


@st.composite
def blobs(draw: st.DrawFn) -> LabelVolume:
    """A random lesion: union of 1-3 boxes/balls on a small anisotropic grid."""
    shape = (draw(st.integers(2, 8)), draw(st.integers(4, 16)), draw(st.integers(4, 16)))
    arr = np.zeros(shape, np.uint8)
    k, j, i = np.indices(shape)
    for _ in range(draw(st.integers(1, 3))):
        c = [draw(st.floats(0, s - 1)) for s in shape]
        r = [draw(st.floats(0.6, max(0.7, s / 2))) for s in shape]
        arr[((k - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((i - c[2]) / r[2]) ** 2 <= 1.0] = 1
    if not arr.any():
        arr[shape[0] // 2, shape[1] // 2, shape[2] // 2] = 1
    sp = (draw(st.floats(0.5, 5.0)), draw(st.floats(0.3, 2.0)), draw(st.floats(0.3, 2.0)))
    return LabelVolume.create(arr, spacing=sp, origin=(draw(st.floats(-100, 100)), 5.0, -7.0))


@settings(max_examples=60, deadline=None)
@given(blobs(), st.sampled_from([(0, 1, 2), (0, 2, 1), (1, 0, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)]), st.tuples(st.booleans(), st.booleans(), st.booleans()))
def test_invariant_under_flips_and_permutations(lv: LabelVolume, perm, flips) -> None:
    lv2 = stored_in_layout(lv, perm, flips)
    # same voxels in LPS
    pts1 = np.sort(lv.index_to_lps(np.argwhere(lv.array)).round(6), axis=0)
    pts2 = np.sort(lv2.index_to_lps(np.argwhere(lv2.array)).round(6), axis=0)
    np.testing.assert_allclose(pts1, pts2, atol=1e-6)
    a, b = longest_axial_diameter(lv), longest_axial_diameter(lv2)
    assert a.length_mm == pytest.approx(b.length_mm, abs=1e-9)
    assert b.plane_axis == perm.index(0)
    # (1e-6: the Feret pair of two elliptic sections is found by a converging iteration)
    assert feret_diameter_3d(lv).length_mm == pytest.approx(feret_diameter_3d(lv2).length_mm, abs=1e-6)
    assert lesion_volume_mm3(lv) == pytest.approx(lesion_volume_mm3(lv2))
    # the LD endpoints lie on the lesion boundary: each moved at most one in-plane voxel
    # diagonal (sqrt(2) x the largest in-plane spacing, docs/measure.md section 2) from a voxel
    # centre of the lesion, in both layouts
    for d, v in ((a, lv), (b, lv2)):
        cen = v.index_to_lps(np.argwhere(np.asarray(v.array) != 0).astype(float))
        inplane = [s for ax, s in enumerate(v.spacing) if ax != d.plane_axis]
        diag = float(np.sqrt(2.0) * max(inplane))
        for pt in np.asarray(d.endpoints_lps):
            assert float(np.min(np.linalg.norm(cen - pt, axis=1))) <= diag + 1e-9
    # same LD line (as a set of endpoints) -> the same short axis
    if np.allclose(sorted(a.endpoints_lps), sorted(b.endpoints_lps), atol=1e-6):
        assert short_axis(lv).length_mm == pytest.approx(short_axis(lv2).length_mm, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(blobs(), st.floats(0.25, 4.0))
def test_scaling_with_isotropic_spacing(lv: LabelVolume, f: float) -> None:
    iso = LabelVolume.create(lv.array, spacing=(1.0, 1.0, 1.0))
    scaled = LabelVolume.create(lv.array, spacing=(f, f, f))
    assert longest_axial_diameter(scaled).length_mm == pytest.approx(f * longest_axial_diameter(iso).length_mm)
    assert short_axis(scaled).length_mm == pytest.approx(f * short_axis(iso).length_mm, abs=1e-9)
    assert feret_diameter_3d(scaled).length_mm == pytest.approx(f * feret_diameter_3d(iso).length_mm)
    assert lesion_volume_mm3(scaled) == pytest.approx(f**3 * lesion_volume_mm3(iso))


@pytest.mark.parametrize(
    "direction",
    [pytest.param(p, id=f"signed-perm-{n}") for n, p in enumerate(SIGNED_PERMUTATIONS[::5])],
)
def test_axial_axis_of_signed_permutations(direction: np.ndarray) -> None:
    g = Geometry(shape=(3, 3, 3), spacing=(1, 1, 1), origin=(0, 0, 0), direction=direction)
    ax = axial_axis(g)
    assert ax is not None and abs(direction[2, ax]) == 1.0


def _oblique(deg: float) -> np.ndarray:
    t = np.radians(deg)
    # slice normal tilted from S towards A by deg; rows/cols orthonormal
    n = np.array([0.0, np.sin(t), np.cos(t)])
    col = np.array([1.0, 0.0, 0.0])
    row = np.cross(n, col)
    return np.stack([n, row, col], axis=1)


def test_oblique_grid_refused_with_fix() -> None:
    e = Ellipsoid(10, 7, 8, 0.3)
    lv = ellipsoid_labels(e, (1.0, 1.0, 1.0), _oblique(25.0))
    with pytest.raises(MeasurementPlaneError, match="reformat='axial'"):
        longest_axial_diameter(lv)
    with pytest.raises(MeasurementPlaneError, match="not sampled on patient axial planes") as err:
        measure_lesion(lv, 1)
    # each array axis's direction (a column of the matrix; the rows were printed as "columns"),
    # and the tolerance as an angle (it printed 0.001 "of the S axis")
    axes = np.round(np.asarray(lv.direction).T, 3).tolist()
    assert f"array axes' directions, k, j, i: {axes}" in str(err.value)
    assert "within 2.6 degrees of the S axis" in str(err.value)
    # plane-free quantities still work
    assert feret_diameter_3d(lv).length_mm > 18.0


def test_oblique_grid_measured_on_axial_reformat() -> None:
    e = Ellipsoid(12, 7, 9, 0.7, (0.2, 0.1, 0.3))
    lv = ellipsoid_labels(e, (1.0, 0.8, 0.8), _oblique(30.0))
    m = measure_lesion(lv, 1, reformat="axial")
    assert m.provenance.parameters["reformatted_to_axial"] is True
    # the reformat grid: axial, spacing (coarse, fine, fine); nearest-neighbour resampling adds
    # up to half a source voxel per end
    frame = axial_frame(lv, 1, reformat="axial")
    z = plane_z(frame.labels, 0)
    ld_t, sa_t = e.ld_sa_truth(z)
    assert abs(m.longest_diameter_mm - ld_t) <= 2.0
    assert abs(m.short_axis_mm - sa_t) <= 2.0
    assert m.ld_endpoints_lps[0][2] == pytest.approx(m.ld_endpoints_lps[1][2])  # an axial line


def test_tilt_within_axial_tolerance_is_axial() -> None:
    lv = ellipsoid_labels(Ellipsoid(6, 5, 5), (1.0, 1.0, 1.0), _oblique(1.0))
    assert axial_axis(lv.geometry) == 0
    assert longest_axial_diameter(lv).length_mm > 9.0


def test_unknown_mode_and_errors() -> None:
    lv = LabelVolume.create(np.zeros((2, 3, 3), np.uint8), spacing=(1, 1, 1), labels={1: "L1"})
    with pytest.raises(MeasurementPlaneError, match="reformat='sideways' is not a known mode"):
        longest_axial_diameter(lv, 1, reformat="sideways")
    with pytest.raises(MeasurementPlaneError, match="is not a known mode"):
        measure_lesion(lv, 1, reformat="sideways")
    with pytest.raises(EmptyMaskError, match="has no voxel"):
        longest_axial_diameter(lv, "L1")
    with pytest.raises(EmptyMaskError, match="not a label name"):
        longest_axial_diameter(lv, "L9")
    a = np.zeros((2, 3, 3), np.uint8)
    a[0, 1, 1] = 1
    with pytest.raises(GeometryMismatchError, match="cannot be combined with reformat='axial'"):
        ob = LabelVolume.create(a, spacing=(1, 1, 1), direction=_oblique(40))
        axial_frame(ob, 1, reformat="axial", mask=a.astype(bool))


def test_coronal_grid_uses_rows_as_axial_planes() -> None:
    # coronal acquisition: slices along A-P, rows go S->I, cols R->L; rows are exact axial planes
    coronal = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    e = Ellipsoid(15, 9, 11, 1.1, (0.3, -0.2, 0.4))
    lv = ellipsoid_labels(e, (4.0, 0.9, 0.9), coronal)
    m = measure_lesion(lv, 1)
    assert m.plane_axis == 1
    ld_t, _ = e.ld_sa_truth(plane_z(lv, 1))
    assert ld_t - np.hypot(4.0, 0.9) <= m.longest_diameter_mm <= ld_t + 1e-6
    p, q = m.ld_endpoints_lps
    assert p[2] == pytest.approx(q[2])


def test_short_axis_for_given_long_axis() -> None:
    e = Ellipsoid(12, 6, 6, 0.0)
    lv = ellipsoid_labels(e, (1.0, 1.0, 1.0), AXIAL_DIRECTION)
    ld = longest_axial_diameter(lv)
    assert short_axis(lv, long_axis=ld).length_mm == pytest.approx(short_axis(lv).length_mm)
    off = type(ld)(ld.length_mm, ld.endpoints_lps, ld.endpoints_index, ld.slice_index, plane_axis=1)
    with pytest.raises(MeasurementPlaneError, match="would not share a plane"):
        short_axis(lv, long_axis=off)
    far = type(ld)(ld.length_mm, ld.endpoints_lps, ld.endpoints_index, ld.slice_index + 500, 0)
    with pytest.raises(EmptyMaskError, match="has no voxel; a short axis there would be empty"):
        short_axis(lv, long_axis=far)


def _centre_searches(lv: LabelVolume) -> tuple[float, float]:
    """The voxel-centre searches the estimator starts from (3-D Feret, LD), in mm."""
    from hcc_imaging.measure import _hull

    mask = np.asarray(lv.array != 0)
    sp = lv.spacing
    hulls = _hull.slice_hulls(mask)
    pos, a, b, ld = _hull.farthest_pair_per_slice(hulls, (sp[1], sp[2]))
    fe = _hull.feret_3d(hulls, sp, (a, b, ld))[2]
    return fe, ld


@settings(max_examples=40, deadline=None)
@given(blobs())
def test_feret_and_ld_equal_brute_force(lv: LabelVolume) -> None:
    """The pruned centre-hull searches return exactly the brute-force maxima over all voxel
    centres; the sub-voxel estimator then moves each end by at most sqrt(2) x the largest
    in-plane spacing (x 1.2 for homothetic sections)."""
    from scipy.spatial.distance import pdist

    idx = np.argwhere(lv.array)
    pts = idx * np.asarray(lv.spacing)
    brute3d = float(pdist(pts).max()) if len(pts) > 1 else 0.0
    fe_c, ld_c = _centre_searches(lv)
    assert fe_c == pytest.approx(brute3d, abs=1e-9)
    brute2d = 0.0
    for k in np.unique(idx[:, 0]):
        p = pts[idx[:, 0] == k]
        if len(p) > 1:
            brute2d = max(brute2d, float(pdist(p).max()))
    assert ld_c == pytest.approx(brute2d, abs=1e-9)
    diag = float(np.hypot(lv.spacing[1], lv.spacing[2]))
    # how far an end may move beyond the centres: sqrt(2) h (h = largest in-plane spacing) for
    # a parabola end (docs/measure.md section 2; more than the pixel diagonal when the pixels
    # are not square: found by hypothesis at 2 x 0.5 mm), the box plus one voxel for an
    # ellipse, plus the homothetic fit's box tolerance
    from hcc_imaging.measure._homothetic import HOMOTHETIC_BOX_TOL_VOXELS

    reach = np.sqrt(2.0) * max(lv.spacing[1], lv.spacing[2]) * (1.0 + HOMOTHETIC_BOX_TOL_VOXELS)
    ld = longest_axial_diameter(lv).length_mm
    fe = feret_diameter_3d(lv).length_mm
    assert brute2d - diag - 1e-9 <= ld <= brute2d + 2 * reach + 1e-9
    assert ld - 1e-9 <= fe <= brute3d + 2 * reach + 1e-9


def test_feret_exact_on_large_sphere() -> None:
    """150 mm sphere: the support-function pruning returns the brute-force maximum over the
    centres, and the estimator's Feret diameter is within half a voxel of 150 mm."""
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import pdist

    lv = ellipsoid_labels(Ellipsoid(75, 75, 75, 0.0, (0.3, 0.1, 0.2)), (2.5, 1.5, 1.5))
    idx = np.argwhere(lv.array) * np.asarray(lv.spacing)
    hull = idx[ConvexHull(idx).vertices]
    assert _centre_searches(lv)[0] == pytest.approx(float(pdist(hull).max()), abs=1e-9)
    z = plane_z(lv, 0)
    truth = Ellipsoid(75, 75, 75, 0.0, (0.3, 0.1, 0.2)).feret_truth(z)
    assert abs(feret_diameter_3d(lv).length_mm - truth) <= 0.5 * 1.5


def test_row_extremes_packed_and_direct_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large masks are searched on bit-packed rows, small ones directly: the same rows, first
    and last voxels (ragged masks, widths not a multiple of 8, reversed strides)."""
    from hcc_imaging.measure import _hull

    rng = np.random.default_rng(3)
    for t in range(40):
        shape = tuple(int(v) for v in rng.integers(1, 40, 3))
        m = rng.random(shape) < rng.uniform(0.0, 0.3)
        if t % 3 == 0:
            m = m[:, ::-1, ::2]
        monkeypatch.setattr(_hull, "_PACK_MIN_VOXELS", 10**12)
        direct = _hull.row_extremes(m)
        monkeypatch.setattr(_hull, "_PACK_MIN_VOXELS", 0)
        packed = _hull.row_extremes(m)
        assert len(direct[0]) == int(m.any(axis=2).sum())
        for a, b in zip(direct, packed, strict=True):
            assert a.dtype == b.dtype == np.int64
            assert np.array_equal(a, b)

"""Accuracy against analytic truth: ellipsoids and spheres 5-150 mm, rotated in-plane, at
sub-voxel offsets, several spacings and direction matrices.

Truth is computed on the axial planes actually sampled (DESIGN section 2): the section of the
ellipsoid at height z is an ellipse with semi-axes (a s, b s), s = sqrt(1 - (z/c)^2).

The estimator (docs/measure.md section 2) puts every endpoint on a sub-voxel estimate of the
lesion boundary.  The bound asserted here is the issue's: LD, short axis and 3-D Feret within
half the largest in-plane voxel of the truth, for lesions >= 12 mm.  Below that (5-8 mm, i.e.
4-13 voxels across) the bound asserted is one in-plane voxel (measured max 0.88,
docs/measure.md), because half a voxel cannot be met by any estimator there: two ellipsoids
of the family drawn below (b/a in [0.5, 1], c/a in [0.6, 1.1], in-plane rotation, sub-voxel
offset) can give the very same mask while their true LDs differ by more than one voxel, so
whatever a mask-based estimator answers, it is more than half a voxel off for one of them
(``test_small_lesion_truth_is_not_fixed_by_the_mask``; its pairs at 10.6 mm and 1 mm voxels
and at 12.5 mm and 2.5 mm slices show that no estimator can guarantee half a voxel there
either, so the >= 12 mm bound holds on these cases, not for every lesion).  Both bounds are met on these fixed
cases; on random draws of the same family a few cases exceed them (>= 12 mm: 5 of 509 above
half a voxel, worst 0.65; below: up to 1.16 voxel; scripts/measure_accuracy_random.py,
docs/measure.md).

The grid of ``ellipsoid_labels`` is centred on the ellipsoid's centre, so the drawn centre
offset only decides whether the centre lies on a voxel centre or half-way, on each axis: the
masks are point-symmetric, an adversarial placement (docs/measure.md section 2).
"""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.measure import measure_lesion
from hcc_imaging.volume import AXIAL_DIRECTION

from ._shapes import Ellipsoid, ellipsoid_labels, plane_z, rasterise

RNG = np.random.default_rng(20261129)

# direction matrices: standard axial, flipped rows/cols (feet-first prone), in-plane rotated 30 deg,
# and a permutation where array axis 1 is S (a "coronal-stacked" grid whose rows are axial planes)
_C, _S = np.cos(np.radians(30)), np.sin(np.radians(30))
DIRECTIONS = {
    "axial": AXIAL_DIRECTION,
    "flipped": np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]]),
    "inplane30": np.array([[0.0, -_S, _C], [0.0, _C, _S], [1.0, 0.0, 0.0]]),
    "S-on-axis1": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}
SPACINGS = {
    "iso1": (1.0, 1.0, 1.0),
    "ct2.5": (2.5, 0.7, 0.7),
    "thick5": (5.0, 0.6, 0.6),
    "aniso-inplane": (1.25, 0.8, 1.1),
}


def _s_axis(direction: np.ndarray) -> int:
    return int(np.argmax(np.abs(np.asarray(direction)[2, :])))


def _cases() -> list:
    out = []
    for d_mm in (5.0, 8.0, 12.0, 20.0, 35.0, 60.0, 100.0, 150.0):
        for sp_name, sp in SPACINGS.items():
            for dir_name in ("axial", "flipped", "inplane30", "S-on-axis1"):
                a = d_mm / 2
                b = a * float(RNG.uniform(0.5, 1.0))
                c = a * float(RNG.uniform(0.6, 1.1))
                if dir_name == "S-on-axis1":
                    sp = (sp[1], sp[0], sp[2])  # keep the coarse spacing along S
                big_ok = (d_mm >= 150 and sp_name == "thick5") or (60 <= d_mm < 150 and sp_name == "ct2.5")
                if c < max(sp) * 1.2 or (d_mm >= 60 and not big_ok) or (d_mm >= 35 and dir_name != "axial" and sp_name == "iso1"):
                    continue
                e = Ellipsoid(a, b, c, float(RNG.uniform(0, np.pi)), tuple(float(x) for x in RNG.uniform(-3, 3, 3)))
                out.append(pytest.param(e, sp, dir_name, id=f"{d_mm:g}mm-{sp_name}-{dir_name}"))
    return out


CASES = _cases()


def _distance_to_section(ell: Ellipsoid, lps: np.ndarray) -> float:
    """Radial distance (mm, in-plane) from a point to the outline of the ellipsoid's section
    through it (an upper bound of the true distance within a factor a/b)."""
    q = ell.local(np.asarray(lps, float)[None])[0]
    s = float(ell.section_scale(np.array([lps[2]]))[0])
    r = float(np.hypot(q[0], q[1]))
    if s == 0.0 or r == 0.0:
        return r
    rho = float(np.hypot(q[0] / (ell.a * s), q[1] / (ell.b * s)))
    return abs(r - r / rho)


@pytest.mark.parametrize("placement", ["centred", "offset"])
@pytest.mark.parametrize(("ell", "spacing", "dir_name"), CASES)
def test_ellipsoid_ld_sa_feret_volume(ell: Ellipsoid, spacing, dir_name: str, placement: str) -> None:
    direction = DIRECTIONS[dir_name]
    lv = ellipsoid_labels(ell, spacing, direction, placement=placement)
    m = measure_lesion(lv, 1)
    ax = _s_axis(direction)
    assert m.plane_axis == ax
    z = plane_z(lv, ax)
    ld_t, sa_t = ell.ld_sa_truth(z)
    fe_t = ell.feret_truth(z)
    in_plane = [spacing[k] for k in range(3) if k != ax]
    h = max(in_plane)
    lim = (0.5 if 2 * ell.a >= 12.0 else 1.0) * h
    assert abs(m.longest_diameter_mm - ld_t) <= lim
    assert abs(m.feret_3d_mm - fe_t) <= lim
    assert abs(m.short_axis_mm - sa_t) <= lim
    # endpoints lie on the reported slice and are as far apart as reported
    p, q = np.asarray(m.ld_endpoints_lps)
    assert np.linalg.norm(p - q) == pytest.approx(m.longest_diameter_mm)
    assert p[2] == pytest.approx(q[2]) == pytest.approx(z[m.ld_slice_index])
    # ... and on the lesion boundary: within half a voxel of the analytic section's outline
    for pt in (p, q, *np.asarray(m.sa_endpoints_lps)):
        assert _distance_to_section(ell, pt) <= 0.5 * h
    # volume = voxel count x voxel volume: within 2 % once the lesion spans >= 15 voxels in-plane
    # and >= 8 slices, within 5 % for any lesion >= 10 mm sampled by >= 4 slices
    n_slices = 2 * ell.c / spacing[ax]
    n_inplane = 2 * min(ell.a, ell.b) / max(in_plane)
    if n_inplane >= 15 and n_slices >= 8:
        assert m.volume_mm3 == pytest.approx(ell.volume_mm3, rel=0.02)
    elif 2 * min(ell.a, ell.b, ell.c) >= 10.0 and n_slices >= 4:
        assert m.volume_mm3 == pytest.approx(ell.volume_mm3, rel=0.05)


def test_placements_centred_and_offset() -> None:
    """The harness's two placements: "centred" puts every ellipsoid centre on a grid symmetry
    point (a voxel centre or half-way, on every axis); "offset" at a genuine sub-voxel offset.
    (Until 2026-11-30 every case was centred, whatever centre was drawn: found by i22.)"""
    def frac_off(lv, centre) -> float:
        idx = np.asarray(lv.lps_to_index(np.asarray(centre, float)[None])[0], float)
        f = idx - np.floor(idx)
        return float(np.max(np.minimum.reduce([np.abs(f), np.abs(f - 0.5), np.abs(f - 1.0)])))

    cen, off = [], []
    for p in CASES:
        ell, spacing, dir_name = p.values
        cen.append(frac_off(ellipsoid_labels(ell, spacing, DIRECTIONS[dir_name]), ell.centre))
        off.append(frac_off(ellipsoid_labels(ell, spacing, DIRECTIONS[dir_name], placement="offset"), ell.centre))
    assert max(cen) < 1e-6
    assert np.mean(np.asarray(off) > 0.05) >= 0.9


def _table(n: int = 24, seed: int = 5):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        a = float(rng.uniform(6, 25))
        e = Ellipsoid(a, a * rng.uniform(0.5, 1), a * rng.uniform(0.6, 1), rng.uniform(0, np.pi), tuple(rng.uniform(-2, 2, 3)))
        lv = ellipsoid_labels(e, (2.5, 0.7, 0.7))
        yield e, lv, e.ld_sa_truth(plane_z(lv, 0))[0]


def test_bias_over_the_table_is_small() -> None:
    """Median signed LD error over a fixed set of ellipsoids: within +-0.15 voxel of zero."""
    errs = [(measure_lesion(lv, 1).longest_diameter_mm - ld_t) / 0.7 for _, lv, ld_t in _table()]
    med = float(np.median(errs))
    assert -0.15 <= med <= 0.15, med
    assert max(abs(e) for e in errs) <= 0.5


def test_voxel_centre_bound_is_superseded() -> None:
    """The old estimator (diameter of the hull of voxel centres, bound: one voxel diagonal,
    never longer than the truth) misses the half-voxel bound on the same table; the new one
    meets it.  The centre-hull LD is still what ``_hull`` computes, so it is measured here."""
    from hcc_imaging.measure import _hull

    old, new = [], []
    for _, lv, ld_t in _table():
        mask = np.asarray(lv.array != 0)
        hulls = _hull.slice_hulls(mask)
        centre_ld = _hull.farthest_pair_per_slice(hulls, (0.7, 0.7))[3]
        old.append((centre_ld - ld_t) / 0.7)
        new.append((measure_lesion(lv, 1).longest_diameter_mm - ld_t) / 0.7)
    assert max(old) <= 1e-9  # the centre hull is never longer than the truth ...
    assert max(abs(e) for e in old) > 0.5  # ... and misses half a voxel
    assert float(np.median(old)) < -0.2  # biased short
    assert max(abs(e) for e in new) <= 0.5
    assert max(abs(e) for e in new) < max(abs(e) for e in old)


@pytest.mark.parametrize(
    ("d_mm", "spacing"),
    [
        pytest.param(5.0, (1.0, 0.5, 0.5), id="sphere-5mm-0.5px"),
        pytest.param(10.0, (1.0, 1.0, 1.0), id="sphere-10mm-iso1"),
        pytest.param(30.0, (1.0, 1.0, 1.0), id="sphere-30mm-iso1"),
        pytest.param(150.0, (1.0, 1.0, 1.0), id="sphere-150mm-iso1"),
        pytest.param(150.0, (5.0, 0.78, 0.78), id="sphere-150mm-thick5"),
    ],
)
@pytest.mark.parametrize("placement", ["centred", "offset"])
def test_spheres_5_to_150mm(d_mm: float, spacing, placement: str) -> None:
    r = d_mm / 2
    e = Ellipsoid(r, r, r, 0.0, (0.31, -0.27, 0.43))
    lv = ellipsoid_labels(e, spacing, placement=placement)
    m = measure_lesion(lv, 1)
    z = plane_z(lv, 0)
    ld_t, sa_t = e.ld_sa_truth(z)
    h = max(spacing[1], spacing[2])
    lim = (0.5 if d_mm >= 12 else 1.0) * h
    assert abs(m.longest_diameter_mm - ld_t) <= lim
    assert abs(m.short_axis_mm - sa_t) <= lim
    assert abs(m.feret_3d_mm - e.feret_truth(z)) <= lim
    if d_mm >= 15 and spacing[0] <= 1.0:
        assert m.volume_mm3 == pytest.approx(e.volume_mm3, rel=0.02)
    elif d_mm >= 10:  # 10-voxel sphere: voxel-count noise, max 2.98 % over 200 offsets
        assert m.volume_mm3 == pytest.approx(e.volume_mm3, rel=0.03)


# Pairs of ellipsoids of the family of ``_cases`` (b <= a, b/a >= 0.5, 0.6 <= c/a <= 1.1,
# c >= 1.2 x the largest spacing) that rasterise to the SAME mask on the same grid although
# their truths differ by more than one in-plane voxel.  Found by a random walk through the
# ellipsoids (centre, a, b, c, angle) whose mask equals that of a given one, keeping the
# walk's extremes (the first two: 1 mm voxels, from the test cases ``8mm-iso1-S-on-axis1`` and
# ``5mm-iso1-flipped``; the third and fourth: 2.5 x 0.7 x 0.7 mm and 1 mm, from random 12.6 and
# 11.2 mm ellipsoids, walked towards the smallest and the largest LD,
# scripts/measure_mask_ambiguity.py --pair).  Every
# voxel centre of the grid is at least 7e-4 (in the normalised quadratic form) from both
# surfaces, so the masks are not equal by a rounding accident, and both ellipsoids lie inside
# the grid (no voxel centre beyond it could tell them apart).
_SAME_MASK = [
    pytest.param(
        (13, 13, 13), (-8.519085504505396, -6.118456495416097, 7.405433051329829), (1.0, 1.0, 1.0), "S-on-axis1",
        Ellipsoid(3.40, 2.17, 3.31, 0.328, (-2.523, -0.112, 1.437)),
        Ellipsoid(4.10, 2.09, 3.15, 0.247, (-2.515, -0.134, 1.402)),
        0,  # LD: 6.80 vs 8.20 mm (and Feret: 6.80 vs 8.20)
        id="8mm-LD",
    ),
    pytest.param(
        (10, 10, 10), (1.731877873519739, 4.760711896604186, 5.810301333492152), (1.0, 1.0, 1.0), "flipped",
        Ellipsoid(2.28, 1.53, 2.41, 2.354, (-2.767, 0.260, 1.304)),
        Ellipsoid(2.73, 2.16, 2.01, 2.356, (-2.733, 0.240, 1.269)),
        1,  # short axis: 3.00 vs 4.21 mm
        id="5mm-SA",
    ),
    pytest.param(
        (11, 29, 29), (-7.632299022933989, -7.540777421500516, -12.668541683847259), (2.5, 0.7, 0.7), "axial",
        Ellipsoid(6.2644, 3.7311, 4.1326, 2.6801, (2.1664, 2.2569, -0.186)),
        Ellipsoid(6.6316, 3.686, 3.9793, 2.7008, (2.1696, 2.2619, -0.1688)),
        0,  # LD: 12.53 vs 13.26 mm, 1.05 voxel of 0.7 mm (and Feret: the same)
        id="12mm-LD-ct2.5",
    ),
    pytest.param(
        (17, 17, 17), (7.817075143505386, 5.981647009821869, 7.866229592565711), (1.0, 1.0, 1.0), "flipped",
        Ellipsoid(5.29, 2.9299, 3.993, 0.1424, (-0.1839, -2.0177, -0.1381)),
        Ellipsoid(5.8355, 2.918, 3.6603, 0.1343, (-0.182, -2.0192, -0.1293)),
        0,  # LD: 10.58 vs 11.67 mm (and Feret: the same)
        id="11mm-LD-iso1",
    ),
]


def _bounding_box_lps(e: Ellipsoid) -> np.ndarray:
    """The 8 corners of the ellipsoid's axis-aligned LPS bounding box."""
    ct, st = np.cos(e.angle_rad), np.sin(e.angle_rad)
    half = (np.hypot(e.a * ct, e.b * st), np.hypot(e.a * st, e.b * ct), e.c)
    return np.array([[e.centre[k] + sg[k] * half[k] for k in range(3)]
                     for sg in np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T])


@pytest.mark.parametrize(("shape", "origin", "spacing", "dir_name", "e1", "e2", "which"), _SAME_MASK)
def test_small_lesion_truth_is_not_fixed_by_the_mask(shape, origin, spacing, dir_name, e1, e2, which) -> None:
    """Half a voxel cannot be guaranteed by any estimator at 5-8 mm, nor at 10.6 mm (1 mm
    voxels) or 12.5 mm (2.5 mm slices): identical masks, truths more than one voxel apart.  Any
    estimator (a function of the mask) gives one answer for both, so its error is at least half
    the difference, > 0.5 voxel, on one of them."""
    direction = DIRECTIONS[dir_name]
    for e in (e1, e2):  # both are in the family the accuracy cases are drawn from
        assert 0.5 <= e.b / e.a <= 1.0 and 0.6 <= e.c / e.a <= 1.1 and e.c >= 1.2 * max(spacing)
    l1 = rasterise(shape, spacing, origin, direction, e1.inside)
    l2 = rasterise(shape, spacing, origin, direction, e2.inside)
    assert l1.array.any() and np.array_equal(l1.array, l2.array)
    # not a rounding accident: every voxel centre clear of both surfaces ...
    idx = np.argwhere(np.ones(shape, bool)).astype(float)
    pts = l1.index_to_lps(idx)
    for e in (e1, e2):
        q = e.local(pts)
        assert np.abs((q[:, 0] / e.a) ** 2 + (q[:, 1] / e.b) ** 2 + (q[:, 2] / e.c) ** 2 - 1.0).min() >= 7e-4
        # ... and no voxel centre outside the grid could tell the two apart
        corners = l1.lps_to_index(_bounding_box_lps(e))
        assert (corners > 0).all() and (corners < np.asarray(shape) - 1).all()
    ax = _s_axis(direction)
    z = plane_z(l1, ax)
    t1, t2 = e1.ld_sa_truth(z)[which], e2.ld_sa_truth(z)[which]
    h = max(spacing[k] for k in range(3) if k != ax)
    assert abs(t2 - t1) > 1.0 * h
    if which == 0:
        assert abs(e2.feret_truth(z) - e1.feret_truth(z)) > 1.0 * h
    # hence our estimator, like any other, is more than half a voxel off for one of the two
    m = measure_lesion(l1, 1)
    got = (m.longest_diameter_mm, m.short_axis_mm)[which]
    assert max(abs(got - t1), abs(got - t2)) > 0.5 * h


def test_worst_random_small_case_of_v1() -> None:
    """The worst case of subvoxel-boundary-v1 on random ellipsoids (scripts/
    measure_accuracy_random.py, seed 11, draw 349; 6.6 mm at 1 mm voxels): its short axis was
    1.16 voxel short (taken on a 2 x 6 voxel slice whose own ellipse is longer and thinner than
    the true largest section).  The central slices fitted together (homothetic ellipses, v2)
    put it within half a voxel (LD +0.10, SA -0.14, Feret +0.02)."""
    e = Ellipsoid(3.31425116572367, 1.7389875104901673, 2.6872100001684256, 0.5704003350484932,
                  (1.6834936800473468, -2.67531718804118, -1.8217888371765902))
    direction = DIRECTIONS["inplane30"]
    lv = ellipsoid_labels(e, (1.0, 1.0, 1.0), direction)
    z = plane_z(lv, _s_axis(direction))
    ld, sa = e.ld_sa_truth(z)
    m = measure_lesion(lv, 1)
    assert abs(m.longest_diameter_mm - ld) <= 0.5
    assert abs(m.short_axis_mm - sa) <= 0.5
    assert abs(m.feret_3d_mm - e.feret_truth(z)) <= 0.5


@pytest.mark.parametrize(
    "e, v3_feret_err",
    [
        # seed 13, draw 114 (a choice seed): 28.0 mm at 1 mm voxels
        (Ellipsoid(13.981932012095779, 10.65838874606541, 9.715396378518138, 2.425736012959823,
                   (-0.7097099117473142, -1.5805209065587933, 0.6548603947208056)), 0.52),
        # seed 203, draw 551 (held out): 35.7 mm at 1 mm voxels
        (Ellipsoid(17.843539971121267, 12.815236760400033, 17.546251313740893, 1.1738065164510383,
                   (-0.7839887420178764, 1.8832606166295927, -2.0857545266073254)), 0.54),
    ],
)
def test_grazed_voxels_do_not_refuse_the_section_ellipse(e: Ellipsoid, v3_feret_err: float) -> None:
    """The worst cases >= 12 mm of subvoxel-boundary-v3 on random ellipsoids (scripts/
    measure_accuracy_random.py): the middle slice's ellipse was refused for a handful of wrong
    voxels whose centres the outline grazes (6 of them within 0.04 voxel, against a limit of 5
    on a 100-midpoint slice), so the 3-D Feret came from parabola ends and overshot by
    ``v3_feret_err`` voxel.  v4 exempts such grazed voxels (``ELLIPSE_MISMATCH_NEAR_VOXELS``):
    LD, short axis and Feret within a third of a voxel."""
    direction = DIRECTIONS["inplane30"]
    lv = ellipsoid_labels(e, (1.0, 1.0, 1.0), direction)
    z = plane_z(lv, _s_axis(direction))
    ld, sa = e.ld_sa_truth(z)
    m = measure_lesion(lv, 1)
    assert abs(m.longest_diameter_mm - ld) <= 1 / 3
    assert abs(m.short_axis_mm - sa) <= 1 / 3
    assert abs(m.feret_3d_mm - e.feret_truth(z)) <= 1 / 3 < v3_feret_err


def test_ellipse_slightly_beyond_the_box_is_kept() -> None:
    """Seed 103, draw 794 of scripts/measure_accuracy_random.py (21.7 mm at 0.7 x 0.7 x 2.5 mm):
    the middle slice's ellipse reaches 0.02 voxel beyond the box + 1 voxel; v3 refused it and
    the parabola ends gave a short axis 0.61 voxel short.  v4 allows 0.2 voxel (as the
    homothetic fit): LD and short axis within 0.3 voxel, the 3-D Feret (from the end slices,
    unchanged) within half a voxel."""
    e = Ellipsoid(10.836553646076432, 7.304838411441655, 11.844119091998566, 0.006321081066322743,
                  (-1.8104169790502076, 0.005125450987358171, 1.1210506903964337))
    lv = ellipsoid_labels(e, (2.5, 0.7, 0.7), DIRECTIONS["axial"])
    z = plane_z(lv, _s_axis(DIRECTIONS["axial"]))
    ld, sa = e.ld_sa_truth(z)
    m = measure_lesion(lv, 1)
    h = 0.7
    assert abs(m.longest_diameter_mm - ld) <= 0.3 * h
    assert abs(m.short_axis_mm - sa) <= 0.3 * h
    assert abs(m.feret_3d_mm - e.feret_truth(z)) <= 0.5 * h

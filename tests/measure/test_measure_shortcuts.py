"""The measurement's speed shortcuts give exactly the results of the computations they replace
(issue 4: faster with the same numbers).  Each test runs the shortcut and the plain computation
on the same inputs and asserts equality to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcc_imaging.measure import _hull, _subvoxel, diameters, measure_lesion

from ._shapes import Ellipsoid, ellipsoid_labels


def _masks(seed: int, n: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        e = Ellipsoid(
            float(rng.uniform(1.5, 9.0)),
            float(rng.uniform(1.0, 9.0)),
            float(rng.uniform(1.0, 8.0)),
            float(rng.uniform(0.0, np.pi)),
            tuple(float(v) for v in rng.uniform(-0.5, 0.5, 3)),
        )
        sp = [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8), (1.1, 0.7, 0.9)][int(rng.integers(3))]
        lv = ellipsoid_labels(e, sp)
        m = np.asarray(lv.array) != 0
        if m.any():
            yield lv, m, sp


def test_slice_boxes_from_the_hulls_equal_the_slices_boxes() -> None:
    """fit_ellipses(boxes=...) (the boxes read off the hull vertices) = the boxes found from
    the slices themselves."""
    for _, m, sp in _masks(3, 25):
        hulls = _hull.slice_hulls(m)
        ks = hulls.slices.tolist()
        st = hulls.starts[:-1]
        boxes = list(
            zip(
                np.minimum.reduceat(hulls.j, st).tolist(),
                np.maximum.reduceat(hulls.j, st).tolist(),
                np.minimum.reduceat(hulls.i, st).tolist(),
                np.maximum.reduceat(hulls.i, st).tolist(),
                strict=True,
            )
        )
        for k, (r0, r1, c0, c1) in zip(ks, boxes, strict=True):
            rows, cols = np.flatnonzero(m[k].any(axis=1)), np.flatnonzero(m[k].any(axis=0))
            assert (r0, r1, c0, c1) == (rows[0], rows[-1], cols[0], cols[-1])
        a = _subvoxel.fit_ellipses([m[k] for k in ks], sp[1:], boxes)
        b = _subvoxel.fit_ellipses([m[k] for k in ks], sp[1:])
        for e1, e2 in zip(a, b, strict=True):
            assert (e1 is None) == (e2 is None)
            if e1 is not None:
                assert (e1._c, e1.a, e1.b, e1._j) == (e2._c, e2.a, e2.b, e2._j)


def test_hull_counts_and_groups() -> None:
    for _, m, _ in _masks(5, 10):
        h = _hull.slice_hulls(m)
        bare = _hull.SliceHulls(k=h.k, j=h.j, i=h.i, slices=h.slices, starts=h.starts)
        cnt, grp = _hull.counts_group(bare)
        assert np.array_equal(cnt, np.diff(h.starts)) and np.array_equal(h.counts, cnt)
        assert np.array_equal(grp, np.repeat(np.arange(len(cnt)), cnt)) and np.array_equal(h.group, grp)


def _ties_whole_matrix(h, d2, length, limit):
    """feret_ties as it was: one V x V matrix, nonzero(triu(...))."""
    thr0 = length * length * (1.0 - 1e-12) - 1e-12
    found0 = {}
    for a, b in zip(*np.nonzero(np.triu(d2 >= thr0, 1)), strict=True):
        ka = (int(h.k[a]), int(h.j[a]), int(h.i[a]))
        kb = (int(h.k[b]), int(h.j[b]), int(h.i[b]))
        key = (*min(ka, kb), *max(ka, kb))
        if ka != kb and key not in found0:
            found0[key] = (int(a), int(b)) if ka < kb else (int(b), int(a))
    return [found0[key] for key in sorted(found0)[:limit]]


def test_all_pairs_by_blocks_of_rows() -> None:
    """feret_3d (<= 300 hull vertices) and feret_ties compute the squared distances of all pairs
    by blocks of rows: the same pair and the same ties as from the whole matrix."""
    n_blocks = 0
    for _, m, sp in _masks(9, 40):
        h = _hull.slice_hulls(m)
        nv = len(h.j)
        if nv > _hull._TIES_MAX_VERTICES or len(h.slices) < 2:
            continue
        n_blocks += nv > _hull._PAIR_ROWS
        hn = max(sp[1], sp[2])
        spn = (sp[0] / hn, sp[1] / hn, sp[2] / hn)
        x, y, z = h.j * spn[1], h.i * spn[2], h.k * spn[0]
        d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2 + (z[:, None] - z[None, :]) ** 2
        pos, a, b, length = _hull.farthest_pair_per_slice(h, spn[1:])
        r = _hull.feret_3d(h, spn, (a, b, 0.0))
        if nv <= _hull._ALL_PAIRS_MAX_VERTICES:
            a2, b2 = divmod(int(d2.argmax()), nv)
            assert r == (a2, b2, float(np.sqrt(d2[a2, b2])))
        assert _hull.feret_ties(h, spn, r[2], 64) == _ties_whole_matrix(h, d2, r[2], 64)
        # the matrix computed once and passed to both (small hulls): the same
        shared = _hull.pair_d2(h, spn)
        assert np.array_equal(shared, d2)
        assert _hull.feret_3d(h, spn, (a, b, 0.0), d2=shared) == r
        assert _hull.feret_ties(h, spn, r[2], 64, d2=shared) == _ties_whole_matrix(h, d2, r[2], 64)
    assert n_blocks >= 5  # several blocks of rows were exercised


def _farthest_plain(ea, eb):
    """_ellipses_farthest as it was: all 12 support steps, no cycle test."""
    pa, pb = ea.points(72), eb.points(72)
    d2 = (pa[:, None, 0] - pb[None, :, 0]) ** 2 + (pa[:, None, 1] - pb[None, :, 1]) ** 2
    ia, ib = divmod(int(d2.argmax()), len(pb))
    (p0, p1), (q0, q1) = pa[ia].tolist(), pb[ib].tolist()
    states = []
    for _ in range(12):
        u0, u1 = p0 - q0, p1 - q1
        nu = math.hypot(u0, u1)
        u0, u1 = u0 / nu, u1 / nu
        (p0, p1), (q0, q1) = ea.support_xy(u0, u1), eb.support_xy(-u0, -u1)
        states.append((p0, p1, q0, q1))
    # did the pairs repeat with period 1 or 2 before the last step (the shortcut's case)?
    cyc = [t for t in range(2, 11) if states[t] in (states[t - 1], states[t - 2])]
    return (p0, p1), (q0, q1), (cyc[0] if cyc else None)


def test_ellipses_farthest_cycle_shortcut() -> None:
    """The support iteration stops when it cycles (period 1 or 2) and reads step 12 off the
    cycle: the same floats as running all 12 steps, on pairs that converge, cycle and do not."""
    rng = np.random.default_rng(11)
    periods = {1: 0, 2: 0, None: 0}
    for t in range(400):
        def ell():
            a = float(rng.uniform(0.5, 20.0))
            b = a if t % 5 == 0 else float(rng.uniform(0.3, a))  # circles too
            th = float(rng.uniform(0, np.pi))
            return _subvoxel.EllipseSection(rng.uniform(-5, 5, 2), a, b, np.array([math.cos(th), math.sin(th)]))

        ea = ell()
        if t % 2:  # two sections of one lesion: similar, nearly concentric (they converge fast)
            f = float(rng.uniform(0.7, 1.0))
            eb = _subvoxel.EllipseSection(ea.centre + rng.uniform(-0.3, 0.3, 2), ea.a * f, ea.b * f, ea.major)
        else:
            eb = ell()
        p, q = diameters._ellipses_farthest(ea, eb)
        if ea.a == ea.b and eb.a == eb.b:  # two circles: exactly, along the centres' line
            u = (ea.centre - eb.centre) / np.linalg.norm(ea.centre - eb.centre)
            np.testing.assert_allclose(p, ea.centre + ea.a * u, atol=1e-12)
            np.testing.assert_allclose(q, eb.centre - eb.a * u, atol=1e-12)
            # the sampled iteration gets close (12 steps converge slowly on circles: up to 1e-5 of
            # the length short), never longer
            pp, qq, _ = _farthest_plain(ea, eb)
            exact, sampled = float(np.hypot(*(p - q))), math.hypot(pp[0] - qq[0], pp[1] - qq[1])
            assert sampled - 1e-12 <= exact <= sampled + 1e-4 * (ea.a + eb.a)
            continue
        pp, qq, first = _farthest_plain(ea, eb)
        assert tuple(p.tolist()) == pp and tuple(q.tolist()) == qq
        periods[None if first is None else 1] += 1
    # both the early stop and the full 12 steps are exercised
    assert periods[1] >= 20 and periods[None] >= 20


@pytest.mark.parametrize("seed", [1, 2])
def test_joint_feret_cap_changes_nothing(seed, monkeypatch) -> None:
    """Small lesions: the joint sections' Feret check skips the farthest-pair iteration when a
    cap shows it cannot win; with the cap disabled (infinite) every output is the same."""
    lvs = [lv for lv, _, _ in _masks(seed, 30)]
    calls = [0]
    plain = diameters._ellipses_farthest

    def counted(ea, eb):
        calls[0] += 1
        return plain(ea, eb)

    monkeypatch.setattr(diameters, "_ellipses_farthest", counted)
    with_cap = [measure_lesion(lv, 1).to_dict() for lv in lvs]
    n_with = calls[0]
    monkeypatch.setattr(diameters, "_COS_HALF_DIR_STEP", 1e-30)  # cap = inf: never skipped
    without = [measure_lesion(lv, 1).to_dict() for lv in lvs]
    assert calls[0] - n_with > n_with  # the cap did skip some iterations
    for a, b in zip(with_cap, without, strict=True):
        a.pop("provenance", None)
        b.pop("provenance", None)
        assert a == b

"""The compiled kernels (numba, ``measure._kernels``) against the numpy reference path.

The kernels compute the same estimator box by box; only the order of floating-point sums
differs, so every output must agree to rounding (1e-9 mm here), and every accept / refuse
decision exactly.  What a kernel cannot decide as numpy would, it hands back (FALLBACK) and the
numpy path redoes: that hand-back is exercised here too."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcc_imaging.measure import _homothetic, _hull, _kernels, _subvoxel, measure_lesion
from hcc_imaging.volume import LabelVolume

from .._jit import numpy_only
from ._shapes import Ellipsoid, ellipsoid_labels

pytestmark = pytest.mark.skipif(_kernels.get("ellipse_boxes") is None, reason="numba kernels disabled or missing")

TOL_MM = 1e-9


@pytest.fixture
def numpy_path(monkeypatch):
    """Run the block with the kernels switched off (``HCC_IMAGING_JIT=0``), restore after."""
    _kernels.compiled.cache_clear()
    monkeypatch.setenv(_kernels.JIT_ENV, "0")
    yield
    monkeypatch.delenv(_kernels.JIT_ENV)
    _kernels.compiled.cache_clear()


def _numpy_only():  # type: ignore[no-untyped-def]
    """The numpy reference path inside the block."""
    return numpy_only(_kernels)


def _random_masks(n: int, seed: int) -> list[tuple[LabelVolume, str]]:
    rng = np.random.default_rng(seed)
    spacings = [(1.0, 0.703, 0.703), (5.0, 0.6, 0.6), (2.5, 0.8, 1.25), (1.0, 1.0, 1.0)]
    out = []
    for t in range(n):
        d = float(np.exp(rng.uniform(np.log(2.0), np.log(60.0))))
        e = Ellipsoid(
            d / 2,
            d / 2 * rng.uniform(0.4, 1.0),
            d / 2 * rng.uniform(0.4, 1.2),
            rng.uniform(0, np.pi),
            tuple(rng.uniform(-3, 3, 3)),
        )
        sp = spacings[t % len(spacings)]
        lv = ellipsoid_labels(e, sp, placement="offset" if t % 2 else "centred")
        a = lv.array.copy()
        if t % 3 == 1 and a.sum() > 50:  # a rough boundary: drop a few boundary voxels
            from scipy import ndimage

            edge = a.astype(bool) & ~ndimage.binary_erosion(a.astype(bool))
            a[edge & (rng.random(a.shape) < 0.15)] = 0
        if a.any():
            out.append((lv.with_array(a), f"case {t}: D {d:.1f} mm, spacing {sp}"))
    return out


def _flat(d, pre=""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _flat(v, f"{pre}.{k}")
    elif isinstance(d, (list, tuple)):
        for k, v in enumerate(d):
            yield from _flat(v, f"{pre}[{k}]")
    else:
        yield pre, d


def _record(lv: LabelVolume) -> dict:
    return {
        k: v
        for k, v in _flat(measure_lesion(lv, 1).to_dict())
        if "provenance" not in k and "time" not in k
    }


def test_the_jit_switch_selects_the_numpy_path(numpy_path):
    assert _kernels.get("ellipse_boxes") is None
    assert not _kernels.jit_enabled()


def test_measurements_agree_with_the_numpy_path(monkeypatch):
    masks = _random_masks(60, seed=4)
    with_jit = [_record(lv) for lv, _ in masks]
    _kernels.compiled.cache_clear()
    monkeypatch.setenv(_kernels.JIT_ENV, "0")
    try:
        reference = [_record(lv) for lv, _ in masks]
    finally:
        monkeypatch.delenv(_kernels.JIT_ENV)
        _kernels.compiled.cache_clear()
    assert _kernels.get("ellipse_boxes") is not None
    for (_, what), a, b in zip(masks, with_jit, reference, strict=True):
        assert a.keys() == b.keys(), what
        for k in a:
            x, y = a[k], b[k]
            if isinstance(x, float) and isinstance(y, float) and not (math.isnan(x) and math.isnan(y)):
                assert abs(x - y) <= TOL_MM * max(1.0, abs(y) if "volume" in k else 1.0), (what, k, x, y)
            elif not isinstance(x, float):
                assert x == y, (what, k, x, y)


def _boxes(lv: LabelVolume) -> tuple[list, list]:
    """The canonical boxes of every slice of a mask (as fit_ellipses builds them)."""
    sp = lv.spacing[1], lv.spacing[2]
    canon = [_subvoxel._canonical(sl, sp) for sl in lv.array.astype(bool)]
    canon = [c for c in canon if c is not None]
    return [c[0] for c in canon], [c[1] for c in canon]


def test_section_fits_agree_box_by_box():
    """Every section of the random masks: the same accept / refuse decision, the same ellipse
    to rounding, and the hand-backs (if any) redone by numpy."""
    n_acc = n_ref = 0
    for lv, what in _random_masks(40, seed=9):
        subs, spvs = _boxes(lv)
        if not subs:
            continue
        got = _subvoxel._fit_boxes(subs, spvs)
        ref = _subvoxel._fit_boxes_numpy(subs, spvs)
        for g, r in zip(got, ref, strict=True):
            assert (g is None) == (r is None), what
            if r is None:
                n_ref += 1
                continue
            n_acc += 1
            assert max(abs(g[0][0] - r[0][0]), abs(g[0][1] - r[0][1]), abs(g[1] - r[1]), abs(g[2] - r[2])) <= TOL_MM, what
            # the major axis: the same line (its sign is not part of the result)
            assert abs(abs(g[3][0] * r[3][0] + g[3][1] * r[3][1]) - 1.0) <= 1e-9 or abs(g[1] - g[2]) <= 1e-6, what
    assert n_acc > 100 and n_ref > 10  # both outcomes are exercised


def test_a_near_singular_scatter_matrix_is_handed_back_to_numpy():
    """A 2 x 2 voxel square: its 8 midpoints lie on a circle to rounding (Cholesky pivot ratio
    ~1e-8), which numpy decides by the general eigen-form; the kernel hands it back."""
    sq = np.ones((2, 2), dtype=bool)
    bar = np.ones((1, 9), dtype=bool)
    disc = (np.hypot(*np.mgrid[-6:7, -6:7]) <= 6.2)
    subs, spvs = [sq, disc, bar], [(1.0, 1.0)] * 3
    status, _ = _kernels.get("ellipse_boxes")(
        _subvoxel._ringed_stack(subs),
        np.array(spvs),
        np.array([s.shape for s in subs], dtype=np.float64),
        _subvoxel._HALF_STEP,
        _subvoxel._STEP_F,
        _subvoxel._KERNEL_CONSTS,
    )
    assert status.tolist()[0] == _kernels.FALLBACK
    assert status.tolist()[1] == _kernels.ACCEPT
    got = _subvoxel._fit_boxes(subs, spvs)
    ref = _subvoxel._fit_boxes_numpy(subs, spvs)
    assert got[0] == ref[0]  # redone by numpy: identical
    assert (got[2] is None) == (ref[2] is None)


def _blobs(n: int, seed: int) -> list[np.ndarray]:
    """Random shapes of every kind: noise, opened noise (holes, several pieces), ellipsoids
    (centred: symmetric, many ties) and lobulated unions, small and large."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        shape = (int(rng.integers(1, 7)), int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        kind = t % 4
        if kind < 2:
            m = rng.random(shape) < rng.uniform(0.05, 0.95)
            if kind == 1:
                m = ndimage.binary_opening(m)
        else:
            d = float(rng.uniform(3, 60))
            e = Ellipsoid(d / 2, d / 2 * rng.uniform(0.5, 1), d / 2 * rng.uniform(0.3, 1), rng.uniform(0, np.pi))
            m = ellipsoid_labels(e, (float(rng.choice([1.0, 2.5])), 0.8, 0.8)).array.astype(bool)
            if kind == 3:
                m = m | np.roll(m, int(rng.integers(2, 8)), axis=2)
        out.append(m)
    return out


def test_slice_hulls_are_the_same_vertices():
    masks = _blobs(200, seed=3)
    got = [_hull.slice_hulls(m) for m in masks]
    got += [_hull.slice_hulls(m[:, 1:-1, ::-1]) for m in masks[:50]]  # strided views
    with _numpy_only():
        ref = [_hull.slice_hulls(m) for m in masks]
        ref += [_hull.slice_hulls(m[:, 1:-1, ::-1]) for m in masks[:50]]
    for g, r in zip(got, ref, strict=True):
        for f in ("k", "j", "i", "slices", "starts"):
            assert getattr(g, f).dtype == getattr(r, f).dtype
            np.testing.assert_array_equal(getattr(g, f), getattr(r, f))
        for a, b in zip(_hull.counts_group(g), _hull.counts_group(r), strict=True):
            np.testing.assert_array_equal(a, b)


def test_feret_3d_and_its_ties_are_the_same_pair():
    """The same pair (indices), the same length to the bit and the same grid ties, on hulls of
    up to and over the all-pairs limit (300 vertices) and with many ties (centred ellipsoids),
    from no lower bound and from the in-slice LD."""
    masks = _blobs(120, seed=5)
    big = [
        ellipsoid_labels(Ellipsoid(r, r * f, r * g), (s0, 0.7, 0.7)).array.astype(bool)
        for r, f, g, s0 in ((15, 1, 1, 1.0), (15, 0.7, 0.9, 1.0), (25, 1, 1, 2.5), (40, 0.8, 0.6, 1.0))
    ]
    masks += big
    spacing = (1.0, 0.8, 0.65)
    rows = []
    for m in masks:
        h = _hull.slice_hulls(m)
        if len(h.j) == 0:
            continue
        _, a, b, ld = _hull.farthest_pair_per_slice(h, spacing[1:])
        rows.append((h, (0, 0, 0.0)))
        rows.append((h, (a, b, ld)))
    assert sum(len(h.j) > _hull._ALL_PAIRS_MAX_VERTICES for h, _ in rows) >= 6
    got = [(_hull.feret_3d(h, spacing, lo), None) for h, lo in rows]
    got = [(f, _hull.feret_ties(h, spacing, f[2], limit=8)) for (f, _), (h, _) in zip(got, rows, strict=True)]
    with _numpy_only():
        ref = [_hull.feret_3d(h, spacing, lo) for h, lo in rows]
        ref = [(f, _hull.feret_ties(h, spacing, f[2], limit=8)) for f, (h, _) in zip(ref, rows, strict=True)]
    for (g, gt), (r, rt) in zip(got, ref, strict=True):
        assert g == r
        assert gt == rt


def test_warm_up_compiles_every_kernel_the_measurements_use():
    """In a fresh process (as ``scripts/bootstrap.sh`` runs it): every public kernel of the
    module is compiled or loaded by ``warm_up``, so none compiles at a user's first
    measurement (``valid_segments``, the patchy viable diameter's check, was missed once)."""
    import os
    import subprocess
    import sys

    code = (
        "import numba\n"
        "from hcc_imaging.measure import _kernels\n"
        "assert _kernels.warm_up() > 0.0\n"
        "nb = _kernels.compiled()\n"
        "names = sorted(n for n, f in vars(nb).items() if not n.startswith('_')\n"
        "               and isinstance(f, numba.core.registry.CPUDispatcher))\n"
        "print(*(n + '=' + str(len(getattr(nb, n).signatures)) for n in names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, _kernels.JIT_ENV: "1"})
    got = dict(item.split("=") for item in out.stdout.split())
    assert {"ellipse_boxes", "feret_3d", "pairs_at_least", "slice_hulls", "homothetic", "n_pieces",
            "valid_segments"} <= set(got), got
    assert all(int(v) >= 1 for v in got.values()), got

    assert _kernels.warm_up() > 0.0
    nb = _kernels.compiled()
    # a contiguous and a strided crop: both layouts of the hull kernel
    layouts = {sig[0].layout for sig in nb.slice_hulls.signatures}
    assert layouts == {"C", "A"}


def test_homothetic_fits_agree_run_by_run():
    """The joint fit of a small lesion's central slices: the same decision and the same
    ellipses to rounding on random small ellipsoids (both placements, rough boundaries)."""
    from scipy import ndimage

    rng = np.random.default_rng(21)
    kernel = _kernels.get("homothetic")
    counts = {_kernels.ACCEPT: 0, _kernels.REJECT: 0, _kernels.FALLBACK: 0}
    for t in range(150):
        d = float(rng.uniform(3, 20))
        e = Ellipsoid(d / 2, d / 2 * rng.uniform(0.4, 1), d / 2 * rng.uniform(0.4, 1.2), rng.uniform(0, np.pi), tuple(rng.uniform(-3, 3, 3)))
        sp = [(1.0, 0.7, 0.7), (2.5, 0.8, 0.8), (1.0, 1.0, 1.0), (5.0, 0.6, 0.6), (1.0, 0.8, 1.25)][t % 5]
        m = ellipsoid_labels(e, sp, placement="offset" if t % 2 else "centred").array.astype(bool)
        if t % 3 == 1:
            edge = m & ~ndimage.binary_erosion(m)
            m = m & ~(edge & (rng.random(m.shape) < 0.1))
        ks = np.flatnonzero(m.any(axis=(1, 2)))
        if len(ks) < 2:
            continue
        v, spv, *_ = _homothetic._canonical_stack(m[ks[0] : ks[-1] + 1], (sp[1], sp[2]))
        status, c, a, b, mj = kernel(
            v, np.asarray(spv, float), _subvoxel._HALF_STEP, _subvoxel._STEP_F, _homothetic._MOMENT_X,
            _homothetic._MOMENT_Y, _homothetic._MOMENT_OF, _homothetic._HOMOTHETIC_CONSTS,
        )
        counts[int(status)] += 1
        if status == _kernels.FALLBACK:
            continue
        ref = _homothetic._homothetic_numpy(v, spv)
        assert (status == _kernels.ACCEPT) == (ref is not None), (t, d, sp)
        if ref is not None:
            cr, ar, br, mr = ref
            assert max(np.abs(c - cr).max(), np.abs(a - ar).max(), np.abs(b - br).max()) <= TOL_MM
            if (ar - br).min() > 1e-6 * ar.max():  # (a circle's axis is not part of the result)
                assert abs(abs(float(mj @ mr)) - 1.0) <= 1e-9
    assert counts[_kernels.ACCEPT] > 50 and counts[_kernels.REJECT] > 10


@pytest.mark.parametrize("spacing", [(1.0, 0.7, 0.7), (2.5, 0.8, 0.8), (1.0, 1.0, 1.0)])
def test_circular_sections_give_the_same_endpoints_on_both_paths(spacing):
    """Spheres and spheroids (every axial section a circle): the fitted axes' direction and the
    sampled outline's start are rounding noise there, so the LD's ends lie along the canonical
    box's axis and a section's farthest pair is exact; the ends then do not depend on the path."""
    lvs = [
        ellipsoid_labels(Ellipsoid(d / 2, d / 2, d / 2 * f, 0.3, off), spacing)
        for d in (4, 7, 13, 20, 30, 60)
        for f, off in ((1.0, (0.0, 0.0, 0.0)), (0.8, (0.2, 0.1, 0.0)))
    ]
    got = [_record(lv) for lv in lvs]
    with _numpy_only():
        ref = [_record(lv) for lv in lvs]
    for a, b in zip(got, ref, strict=True):
        for k in a:
            if isinstance(a[k], float):
                assert abs(a[k] - b[k]) <= TOL_MM * max(1.0, abs(b[k]) if "volume" in k else 1.0), k

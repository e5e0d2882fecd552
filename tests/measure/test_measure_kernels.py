"""The compiled kernels (numba, ``measure._kernels``) against the numpy reference path.

The kernels compute the same estimator box by box; only the order of floating-point sums
differs, so every output must agree to rounding (1e-9 mm here), and every accept / refuse
decision exactly.  What a kernel cannot decide as numpy would, it hands back (FALLBACK) and the
numpy path redoes: that hand-back is exercised here too."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcc_imaging.measure import _kernels, _subvoxel, measure_lesion
from hcc_imaging.volume import LabelVolume

from ._shapes import Ellipsoid, ellipsoid_labels

pytestmark = pytest.mark.skipif(_kernels.ellipse_boxes() is None, reason="numba kernels disabled or missing")

TOL_MM = 1e-9


@pytest.fixture
def numpy_path(monkeypatch):
    """Run the block with the kernels switched off (``HCC_IMAGING_JIT=0``), restore after."""
    _kernels.ellipse_boxes.cache_clear()
    monkeypatch.setenv(_kernels.JIT_ENV, "0")
    yield
    monkeypatch.delenv(_kernels.JIT_ENV)
    _kernels.ellipse_boxes.cache_clear()


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
    assert _kernels.ellipse_boxes() is None
    assert not _kernels.jit_enabled()


def test_measurements_agree_with_the_numpy_path(monkeypatch):
    masks = _random_masks(60, seed=4)
    with_jit = [_record(lv) for lv, _ in masks]
    _kernels.ellipse_boxes.cache_clear()
    monkeypatch.setenv(_kernels.JIT_ENV, "0")
    try:
        reference = [_record(lv) for lv, _ in masks]
    finally:
        monkeypatch.delenv(_kernels.JIT_ENV)
        _kernels.ellipse_boxes.cache_clear()
    assert _kernels.ellipse_boxes() is not None
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
    status, _ = _kernels.ellipse_boxes()(
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

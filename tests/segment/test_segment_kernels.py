"""The compiled kernels of step 10 (numba, ``segment._kernels``) against the numpy reference path.

The kernels perform the same floating-point operations in the same order as the numpy code, so
the ring classes must be bit-identical, not merely close: on random samples (ties included,
which the start's hand-back covers) and on the samples a faint phantom node's click passes."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from hcc_imaging.segment import _kernels
from hcc_imaging.segment import _multiphase as M
from hcc_imaging.segment import _kmedians as RC
from hcc_imaging.segment import constants as C

from .._jit import numpy_only

#: every kernel of ``segment._kernels_nb`` the segmentation calls
_KERNELS = ("radix_keys", "sort_rows", "start_centres", "kmedians", "class_median", "gaussian_nearest", "gaussian_nearest_at",
            "fill_holes_in_plane",
            "component_by_region", "component_of", "bbox_of", "median_rows32", "star_radius", "direction_terms", "inside_star",
            "edt_sq", "ray_edge_search", "scaled_rows", "uniform_histogram",
            "float32_terms")

pytestmark = pytest.mark.skipif(_kernels.get("kmedians") is None, reason="numba kernels disabled or missing")


def _numpy_only():  # type: ignore[no-untyped-def]
    """The numpy reference path inside the block."""
    return numpy_only(_kernels)


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(u.tobytes() == v.tobytes() for u, v in zip(a, b, strict=True))


def _samples(seed: int, count: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(seed)
    out = []
    for t in range(count):
        n = int(rng.choice([1, 2, 3, 7, 12, 13, int(rng.integers(20, 20000))]))
        n_ph = int(rng.integers(2, 5))
        centres = rng.normal(scale=rng.choice([1.0, 4.0, 8.0]), size=(3, n_ph))
        x = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, n_ph))
        if t % 4 == 0:
            x = np.round(x * 2) / 2 + 0.25  # many ties (medians of equal values, tied start distances)
        x = x.astype(np.float32).astype(np.float64)  # as step 10 passes them
        out.append((x, rng.normal(size=n_ph) * 3, float(rng.choice([1.0, 3.0]))))
    return out


def test_the_jit_switch_selects_the_numpy_path():
    with _numpy_only():
        assert _kernels.get("kmedians") is None
        assert not _kernels.jit_enabled()
    assert _kernels.jit_enabled()


@pytest.mark.parametrize("seed", range(4))
def test_ring_classes_are_bit_identical_to_the_numpy_path(seed: int) -> None:
    cases = _samples(seed, 40)
    got = [RC._ring_classes(x, les, d) for x, les, d in cases]
    with _numpy_only():
        want = [RC._ring_classes(x, les, d) for x, les, d in cases]
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))
    assert sum(len(w) for w in want) > 0  # classes were found, not only empty lists compared


def test_values_the_kernels_do_not_take_go_to_numpy() -> None:
    """Zeros (signed zeros sum otherwise), NaN, infinities and values float32 does not hold: the
    numpy path (the same classes as with the kernels off)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(500, 3)).astype(np.float32).astype(np.float64)
    for bad in (0.0, -0.0, np.nan, np.inf, 0.1):
        y = x.copy()
        y[::17, 1] = bad
        assert RC._radix_key(np.ascontiguousarray(y.T), finite=True) is None
        assert not _kernels.compiled().radix_keys(np.ascontiguousarray(y.T))[0]
        if np.isfinite(bad):  # (NaN and inf: the principal axis is undefined on either path)
            got = RC._ring_classes(y, np.zeros(3), 1.0)
            with _numpy_only():
                want = RC._ring_classes(y, np.zeros(3), 1.0)
            assert _same(got, want)
    assert RC._radix_key(np.ascontiguousarray(x.T), finite=True) is not None
    ok, key = _kernels.compiled().radix_keys(np.ascontiguousarray(x.T))
    assert ok and np.array_equal(key, RC._radix_key(np.ascontiguousarray(x.T), finite=True))


def test_the_start_hands_tied_choices_back() -> None:
    """Where the m-th least distance to a start quantile is tied with the next, which voxels
    are the m least is the numpy argsort's choice: the start kernel refuses (and _ring_classes
    then takes numpy's start)."""
    nb = _kernels.compiled()
    x = np.repeat(np.array([[1.0, 2.0], [3.0, 5.0]]), 30, axis=0)
    xt = np.ascontiguousarray(x.T)
    proj = x[:, 0].copy()
    ok, _ = nb.start_centres(xt, proj, np.array([1.0, 3.0]), 10)
    assert not ok
    ok, cs = nb.start_centres(xt, proj, np.array([1.0, 3.0]), 30)
    assert ok and cs.tolist() == [[1.0, 2.0], [3.0, 5.0]]


@pytest.mark.parametrize("seed", range(3))
def test_kernel_pieces_equal_numpy(seed: int) -> None:
    nb = _kernels.compiled()
    rng = np.random.default_rng(seed)
    for t in range(30):
        n = int(rng.integers(1, 5000))
        xt = rng.normal(scale=10.0, size=(int(rng.integers(1, 5)), n)).astype(np.float32).astype(np.float64)
        if t % 3 == 0:
            xt = np.round(xt) + 0.5  # ties
        key = RC._radix_key(xt, finite=True)
        ok, key_k = nb.radix_keys(xt)
        assert ok and key_k.dtype == np.uint32 and np.array_equal(key_k, key)
        order, xs = nb.sort_rows(key, xt)
        assert np.array_equal(order, np.argsort(key, axis=1, kind="stable"))  # the stable sort's permutation
        assert np.array_equal(xs, np.sort(xt, axis=1))
        assert np.array_equal(np.take_along_axis(xt, order, axis=1), xs)
        assert all(sorted(row) == list(range(n)) for row in order.tolist())
        lab = rng.integers(0, 3, n).astype(np.uint8)
        for c in range(3):
            m, med = nb.class_median(xs, order, lab, c)
            assert m == int((lab == c).sum())
            if m:
                assert med.tobytes() == np.median(xt[:, lab == c], axis=1).tobytes()
        cs = rng.normal(scale=10.0, size=(3, xt.shape[0]))
        lab_k, cs_k = nb.kmedians(xt, xs, order, cs, 10)
        lab_n, cs_n = RC._kmedians_numpy(xt, xs, order, cs)
        assert np.array_equal(lab_k, lab_n) and cs_k.tobytes() == cs_n.tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_the_gaussian_kernel_is_scipys_bit_for_bit(seed: int) -> None:
    """The compiled smoothing against ``scipy.ndimage.gaussian_filter(mode="nearest")``: box
    sizes down to one voxel (shorter than the kernel), sigmas from none to several voxels per
    axis, strided views, other truncations."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    sigmas = [(0.5, 0.5, 0.5), (0.667, 0.87, 0.87), (1.3, 2.8, 2.8), (0.0, 1.0, 0.1), (3.0, 0.3, 5.5)]
    for t in range(25):
        shape = tuple(int(v) for v in rng.integers(1, 40, 3))
        a = (rng.normal(size=shape) * rng.choice([1.0, 30.0]) + rng.choice([0.0, 60.0, -900.0])).astype(np.float32)
        if t % 5 == 4:
            a = np.asarray(rng.normal(size=(shape[0], 2 * shape[1], shape[2])), np.float32)[:, ::2]
        sig = sigmas[t % len(sigmas)]
        truncate = 4.0 if t % 3 else 3.0
        want = ndi.gaussian_filter(a, sig, mode="nearest", truncate=truncate)
        got = _kernels.gaussian_filter_nearest(a, sig, truncate=truncate)
        assert got.dtype == np.float32 and got.shape == a.shape
        assert got.tobytes() == want.tobytes(), (shape, sig, truncate)
    a = rng.normal(size=(5, 6, 7)).astype(np.float32)
    for other in (a.astype(np.float64), a[0], a):  # scipy's path: float64, 2-D, a scalar sigma
        want = ndi.gaussian_filter(other, 0.7, mode="nearest")
        assert _kernels.gaussian_filter_nearest(other, 0.7).tobytes() == want.tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_the_gaussian_at_a_masks_voxels_is_scipys_bit_for_bit(seed: int) -> None:
    """The compiled smoothing's values on a mask's voxels alone against ``scipy.ndimage.gaussian_filter
    (mode="nearest")[mask]``: a shell (step 13's fitted voxels), random masks of any density, one
    voxel, none, every voxel; boxes down to one voxel, sigmas from none to several voxels per axis,
    strided views, other truncations."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    sigmas = [(0.5, 0.5, 0.5), (0.333, 1.0, 1.0), (1.3, 2.8, 2.8), (0.0, 1.0, 0.1), (3.0, 0.3, 5.5)]
    for t in range(30):
        shape = tuple(int(v) for v in rng.integers(1, 40, 3))
        a = (rng.normal(size=shape) * rng.choice([1.0, 30.0]) + rng.choice([0.0, 60.0, -900.0])).astype(np.float32)
        if t % 5 == 4:
            a = np.asarray(rng.normal(size=(shape[0], 2 * shape[1], shape[2])), np.float32)[:, ::2]
        kind = t % 6
        if kind == 0:
            rho = np.linalg.norm(np.indices(shape).T - (np.asarray(shape) - 1) / 2.0, axis=-1).T
            where = (rho >= 0.2 * max(shape)) & (rho <= 0.4 * max(shape))
        elif kind == 1:
            where = np.zeros(shape, bool)
            where[tuple(int(rng.integers(0, v)) for v in shape)] = True
        elif kind == 2:
            where = np.zeros(shape, bool)
        elif kind == 3:
            where = np.ones(shape, bool)
        else:
            where = rng.random(shape) < rng.choice([0.02, 0.3, 0.9])
        sig = sigmas[t % len(sigmas)]
        truncate = 4.0 if t % 3 else 3.0
        want = ndi.gaussian_filter(a, sig, mode="nearest", truncate=truncate)[where]
        got = _kernels.gaussian_filter_nearest_at(a, sig, where, truncate=truncate)
        assert got.dtype == np.float32 and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), (shape, sig, truncate, kind)
    a = rng.normal(size=(5, 6, 7)).astype(np.float32)
    where = rng.random(a.shape) < 0.5
    for other in (a.astype(np.float64), a):  # scipy's path: float64; a scalar sigma
        want = ndi.gaussian_filter(other, 0.7, mode="nearest")[where]
        assert _kernels.gaussian_filter_nearest_at(other, 0.7, where).tobytes() == want.tobytes()


def test_the_rind_jacobian_is_numpys_bit_for_bit() -> None:
    """Step 13's Jacobian (``_rind._jacobian``, the compiled ``scaled_rows``): numpy's float32
    products bit for bit, zeros, negative and huge scales included, down to one voxel and one term."""
    from hcc_imaging.segment import _rind

    rng = np.random.default_rng(0)
    for n, k in ((1, 1), (7, 25), (3000, 25), (500, 9)):
        yu = rng.normal(size=(n, k)).astype(np.float32)
        a_in, a_out = (rng.normal(scale=1e3, size=n) * (rng.random(n) < 0.6)).astype(np.float32), rng.normal(size=n).astype(np.float32)
        got = np.empty((n, 2 * k), np.float32)
        _rind._jacobian(got, a_in, a_out, yu)
        with _numpy_only():
            want = np.empty((n, 2 * k), np.float32)
            _rind._jacobian(want, a_in, a_out, yu)
        assert got.tobytes() == want.tobytes() == np.concatenate([a_in[:, None] * yu, a_out[:, None] * yu], 1).tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_fill_holes_is_the_numpy_set(seed: int) -> None:
    """The compiled per-slice hole filling: the same set as the numpy path (labelled background
    components), on random masks of random density, boxes down to one voxel, read-only and
    strided arrays."""
    from hcc_imaging.segment import _morph

    rng = np.random.default_rng(seed)
    cases = []
    for t in range(40):
        shape = tuple(int(v) for v in rng.integers(1, 30, 3))
        m = rng.random(shape) < rng.choice([0.002, 0.05, 0.3, 0.7])
        if t % 5 == 3:
            m = np.asarray(rng.random((shape[0], shape[1], 2 * shape[2])) < 0.05)[:, :, ::2]
        if t % 7 == 2:
            m.flags.writeable = False
        cases.append(m)
    got = [_morph.fill_holes(m) for m in cases]
    with _numpy_only():
        want = [_morph.fill_holes(m) for m in cases]
    for g, w, m in zip(got, want, cases, strict=True):
        assert g.dtype == bool and g.shape == m.shape and np.array_equal(g, w), m.shape
    assert any(not np.array_equal(w, m) for w, m in zip(want, cases, strict=True))  # holes were filled


@pytest.mark.parametrize("seed", range(3))
def test_median_f32_is_numpys_bit_for_bit(seed: int) -> None:
    """The compiled selection's median of float32 samples: ``np.median``'s value, type and shape
    (1-D, and rows / columns of 2-D arrays), on sizes down to one value, odd and even, ties,
    heavy tails, strided and read-only arrays; NaN and zero middle values handed to ``np.median``."""
    rng = np.random.default_rng(seed)
    cases = []
    for t in range(300):
        n = int(rng.choice([1, 2, 3, 4, 5, int(rng.integers(6, 3000))]))
        v = (rng.standard_t(3, size=n) * rng.choice([0.01, 1.0, 15.0, 1e4])).astype(np.float32)
        if t % 3 == 0:
            v = np.round(v)  # ties, and zeros
        if t % 7 == 1:
            v = np.repeat(v, 2)[::2]  # strided
        if t % 11 == 2:
            v[int(rng.integers(0, n))] = np.nan
        if t % 13 == 3:
            v.flags.writeable = False
        cases.append(v)
    for v in cases:
        got = _kernels.median_f32(v)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.median(v)
        assert type(got) is type(want) and np.asarray(got).tobytes() == np.asarray(want).tobytes(), v.size
        x = rng.normal(size=(int(rng.integers(1, 6)), v.size)).astype(np.float32) * 10.0
        for axis, a in ((1, x), (0, np.ascontiguousarray(x.T))):
            got2, want2 = _kernels.median_f32(a, axis=axis), np.median(a, axis=axis)
            assert got2.dtype == want2.dtype and got2.shape == want2.shape and got2.tobytes() == want2.tobytes()
    with _numpy_only():
        assert _kernels.median_f32(cases[-1]) is not None  # the numpy path


@pytest.mark.parametrize("seed", range(3))
def test_bbox_is_the_numpy_box(seed: int) -> None:
    """The compiled bounding box: the numpy path's (start, stop) per axis, or None, on random
    masks from empty to full, single voxels at the corners, boxes down to one voxel, read-only
    and strided arrays."""
    from hcc_imaging.segment import _morph

    rng = np.random.default_rng(seed)
    cases = []
    for t in range(60):
        shape = tuple(int(v) for v in rng.integers(1, 30, 3))
        m = rng.random(shape) < rng.choice([0.0, 0.0005, 0.01, 0.3, 1.0])
        if t % 6 == 1:
            m = np.zeros(shape, bool)
            m[tuple(int(rng.choice([0, n - 1])) for n in shape)] = True
        if t % 5 == 3:
            m = np.asarray(rng.random((shape[0], shape[1], 2 * shape[2])) < 0.01)[:, :, ::2]
        if t % 7 == 2:
            m.flags.writeable = False
        cases.append(m)
    got = [_morph.bbox(m) for m in cases]
    with _numpy_only():
        want = [_morph.bbox(m) for m in cases]
    for g, w, m in zip(got, want, cases, strict=True):
        if w is None:
            assert g is None, m.shape
        else:
            assert g is not None and all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(g, w)), m.shape
    assert any(w is None for w in want) and sum(w is not None for w in want) > 30


def _exact_edt(m: np.ndarray, sampling: tuple[float, float, float], points: np.ndarray) -> np.ndarray:
    """The distance of each of ``points`` (voxel indices) to the nearest zero voxel of ``m``, by brute
    force over every zero voxel, each sum formed as scipy forms it: (integer offset as float64 x
    spacing)^2 per axis, added in axis order, then the square root of the least."""
    feat = np.argwhere(m == 0)
    out = np.empty(len(points))
    for i, p in enumerate(points):
        d = (feat - p).astype(np.float64) * np.asarray(sampling)
        d = d * d
        out[i] = np.sqrt(((d[:, 0] + d[:, 1]) + d[:, 2]).min())
    return out


@pytest.mark.parametrize("seed", range(3))
def test_the_distance_transform_is_exact(seed: int) -> None:
    """The compiled distance transform against brute force (the least of scipy's own per-voxel sums
    over every background voxel), exact to the bit: random masks from sparse to dense and smooth
    blobs, on grids whose spacings make exact ties (1, 0.5, 2 mm) and ones that do not (0.7, 0.703
    mm); and against scipy: equal wherever scipy's feature transform found the nearest feature,
    smaller by rounding only where it did not."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    spacings = [0.5, 0.68, 0.7, 0.703, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0]
    n_cases = n_scipy_off = 0
    for t in range(40):
        small = t % 2 == 0
        shape = tuple(int(v) for v in rng.integers(1, 14, 3)) if small else tuple(int(v) for v in rng.integers(15, 36, 3))
        sp = tuple(float(v) for v in rng.choice(spacings, 3))
        if small:
            m = rng.random(shape) >= rng.choice([0.02, 0.1, 0.3, 0.7])
        else:
            m = ndi.gaussian_filter(rng.random(shape), rng.uniform(1.0, 4.0)) <= rng.uniform(0.48, 0.52)
        if m.all() or not m.any():
            continue
        n_cases += 1
        got = _kernels.distance_transform_edt(m, sp)
        ref = ndi.distance_transform_edt(m, sampling=sp)
        assert got.dtype == np.float64 and got.shape == m.shape
        pts = np.argwhere(np.ones(shape, bool)) if small else rng.integers(0, np.asarray(shape), size=(300, 3))
        exact = _exact_edt(m, sp, pts)
        assert got[tuple(pts.T)].tobytes() == exact.tobytes(), (shape, sp)
        off = got != ref
        n_scipy_off += int(off.sum())
        assert np.all(got[off] < ref[off]) and np.all(ref[off] - got[off] <= 1e-12 * np.maximum(ref[off], 1.0)), (shape, sp)
    assert n_cases >= 30
    assert n_scipy_off < 10  # scipy misses the exact distance only at rare near-ties


def test_the_distance_transform_hands_scipy_what_it_does_not_take() -> None:
    """No background voxel, a 2-D array or the kernels off: scipy's own answer; a bool or an int
    array, a read-only or strided one and a spacing as any sequence are taken."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(7)
    full = np.ones((4, 5, 6), bool)
    assert _kernels.distance_transform_edt(full, (1.0, 2.0, 3.0)).tobytes() == ndi.distance_transform_edt(
        full, sampling=(1.0, 2.0, 3.0)).tobytes()
    flat = rng.random((20, 30)) > 0.2
    assert _kernels.distance_transform_edt(flat, (0.7, 0.7)).tobytes() == ndi.distance_transform_edt(
        flat, sampling=(0.7, 0.7)).tobytes()
    m = np.asarray(rng.random((12, 14, 32)) > 0.05)[:, :, ::2]
    m.flags.writeable = False
    for a, sp in ((m, (2.5, 0.7, 0.7)), (m.astype(np.int16), np.array([2.5, 0.7, 0.7])), (m, None)):
        got = _kernels.distance_transform_edt(a, sp)
        want = ndi.distance_transform_edt(a, sampling=sp)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-12 * want.max()
    with _numpy_only():
        assert _kernels.distance_transform_edt(m, (2.5, 0.7, 0.7)).tobytes() == ndi.distance_transform_edt(
            m, sampling=(2.5, 0.7, 0.7)).tobytes()


def test_the_liver_mask_is_the_same_with_scipys_transform() -> None:
    """``segment_liver`` (its erosions, closings, cores and reaches are distance transforms) gives
    the same mask with the kernels on as with the numpy path (scipy's transform), on the study
    phantom's portal-venous and arterial phases (tumour inclusion and the dark-edge step included)."""
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import segment_liver
    from hcc_imaging.volume import Phase

    study = make_study(1, "fu1")
    for phase in (Phase.PORTAL_VENOUS, Phase.ARTERIAL):
        vol = study.volumes[phase]
        got = segment_liver(vol).array
        with _numpy_only():
            want = segment_liver(vol).array
        assert got.any() and np.array_equal(got, want), phase


@pytest.mark.parametrize("seed", range(3))
def test_component_at_with_a_seed_region_is_the_labelled_choice(seed: int) -> None:
    """The compiled component choice (flooding only the components the seed region touches)
    against ``ndi.label``'s: the component with most seed-region voxels, the lower label on a
    tie (constructed below: two components with the same count), else the seed's component."""
    from hcc_imaging.segment import _morph

    rng = np.random.default_rng(seed)
    cases = []
    for t in range(60):
        shape = tuple(int(v) for v in rng.integers(1, 25, 3))
        m = rng.random(shape) < rng.choice([0.1, 0.3, 0.45, 0.7])
        region = np.zeros(shape, bool)
        c = [int(rng.integers(0, n)) for n in shape]
        r = [int(rng.integers(0, 4)) for _ in shape]
        region[c[0] - r[0] if c[0] >= r[0] else 0:c[0] + r[0] + 1, c[1] - r[1] if c[1] >= r[1] else 0:c[1] + r[1] + 1,
               c[2] - r[2] if c[2] >= r[2] else 0:c[2] + r[2] + 1] = True
        if t % 6 == 5 and shape[2] >= 5:  # a tie: two separate columns, one region voxel each
            m = np.zeros(shape, bool)
            m[:, :, 1] = m[:, :, 3] = True
            region = np.zeros(shape, bool)
            region[-1, -1, 1] = region[0, 0, 3] = True
        seed_vox = tuple(int(rng.integers(0, n)) for n in shape)
        cases.append((m, seed_vox, region, bool(t % 2)))
    lone = np.zeros((5, 6, 7), bool)
    lone[4, 5, 6] = True
    away = np.zeros_like(lone)
    away[:2, :2, :2] = True
    cases += [(lone, (0, 0, 0), away, False), (lone, (0, 0, 0), away, True), (lone, (4, 5, 6), away, True)]
    got = [_morph.component_at(m, s, reg, prefer_region=p) for m, s, reg, p in cases]
    with _numpy_only():
        want = [_morph.component_at(m, s, reg, prefer_region=p) for m, s, reg, p in cases]
    for g, w, (m, s, _, p) in zip(got, want, cases, strict=True):
        assert g.dtype == bool and g.shape == m.shape and np.array_equal(g, w), (m.shape, s, p)
    assert sum(w.any() for w in want) > 20 and sum(not w.any() for w in want) > 0
    # the seed's own component (a flood) and the box form (a seed inside and outside the box)
    for m, s, reg, p in cases[:40]:
        shape = tuple(n + 4 for n in m.shape)
        box = tuple(slice(2, 2 + n) for n in m.shape)
        full_reg = np.zeros(shape, bool)
        full_reg[box] = reg
        seeds = [tuple(v + 2 for v in s), (0, 0, 0)]
        def both(m=m, s=s, box=box, shape=shape, full_reg=full_reg, p=p, seeds=seeds):
            return [_morph.component_at(m, s), *(_morph.component_at_in_box(m, box, shape, q, full_reg, p) for q in seeds)]

        got = both()
        with _numpy_only():
            want = both()
        assert all(g.dtype == bool and np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_a_faint_node_click_gives_the_same_classes(monkeypatch) -> None:
    """The samples step 10 passes for the phantom's faint node (seed 1, fu2, with no fat plane:
    the slowest click), captured from a real click: the same classes with the kernels and without."""
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import segment_lesion

    captured = []
    real = M._ring_classes

    def capture(x, lesion, min_d):
        captured.append((x.copy(), lesion.copy(), min_d))
        return real(x, lesion, min_d)

    monkeypatch.setattr(M, "_ring_classes", capture)
    st = make_study(1, timepoint="fu2", node_fat_mm=0.0)
    segment_lesion(st.volumes, seed_lps=st.truth["lesions"]["L6"]["seed_lps"])
    monkeypatch.setattr(M, "_ring_classes", real)
    assert len(captured) >= 4 and max(x.shape[0] for x, _, _ in captured) > 5000
    got = [real(*c) for c in captured]
    with _numpy_only():
        want = [real(*c) for c in captured]
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))
    assert sum(len(w) for w in want) > 0


@pytest.mark.parametrize("seed", range(3))
def test_the_fitted_surface_radius_is_numpys_bit_for_bit(seed: int) -> None:
    """Step 12's surface radius on the image's grid (``_surface._radius``, the compiled
    ``star_radius``): the numpy path's values bit for bit, for boxes from one voxel up, coefficients
    from 0.1 to 1000 mm (a voxel on the surface keeps its side), and the directions step 12 makes."""
    from hcc_imaging.segment import _surface

    rng = np.random.default_rng(seed)
    cases = []
    for t in range(30):
        shape = tuple(int(v) for v in rng.integers(1, 30, 3))
        v = rng.normal(size=shape + (3,))
        if t % 5 == 0:
            v[..., 2] = 0.0  # directions in the plane: z = 0 exactly
        cases.append((v / np.linalg.norm(v, axis=-1)[..., None], rng.normal(size=25) * rng.choice([0.1, 1.0, 10.0, 1000.0])))
    rho, u = _surface._polar((9, 11, 13), np.array([3.0, 0.7, 0.7]), np.array([12.0, 3.5, 4.2]))
    cases.append((u, np.r_[10.0, rng.normal(size=24)]))
    got = [_surface._radius(u, c, 4) for u, c in cases]
    with _numpy_only():
        want = [_surface._radius(u, c, 4) for u, c in cases]
    assert all(g.shape == w.shape and g.tobytes() == w.tobytes() for g, w in zip(got, want, strict=True))
    assert all((rho <= g).tobytes() == (rho <= w).tobytes() for g, w in zip(got[-1:], want[-1:], strict=True))


@pytest.mark.parametrize("seed", range(3))
def test_the_mask_inside_the_fitted_surface_is_numpys_bit_for_bit(seed: int) -> None:
    """Step 12's mask on the image's grid (``_surface._inside``, the compiled ``inside_star``, which
    skips the blocks an interval bound puts wholly inside or outside): the numpy path's mask bit for
    bit, on boxes from one voxel up, with the centre on a voxel or between voxels, near a box face
    or outside the box, surfaces from round to wildly lobulated (coefficients up to the mean
    radius), and the grids and block sizes of a real fit."""
    from hcc_imaging.segment import _surface

    rng = np.random.default_rng(seed)
    cases = []
    for t in range(40):
        shape = tuple(int(v) for v in rng.integers(1, 50, 3))
        sp = rng.choice([0.5, 0.7, 0.7031, 1.0, 2.5, 5.0], 3)
        centre = np.asarray(shape) * sp * rng.uniform(-0.2, 1.2, 3)
        if t % 5 == 0:
            centre = np.round(centre / sp) * sp  # a voxel centre exactly at the surface's centre
        r0 = float(min(shape) * sp.min() * rng.uniform(0.2, 0.8)) + 0.5
        cases.append((shape, sp, centre, np.r_[r0, rng.normal(size=24) * r0 * rng.choice([0.0, 0.02, 0.2, 1.0])]))
    # a surface around the whole box, and a round one inside a box of a real fit's grid
    cases.append(((7, 9, 11), np.array([2.5, 0.7, 0.7]), np.array([5.0, 3.1, 3.5]), np.r_[50.0, np.zeros(24)]))
    cases.append(((30, 60, 60), np.array([1.0, 0.7, 0.7]), np.array([15.0, 21.0, 20.7]), np.r_[12.0, rng.normal(size=24)]))
    sizes = []
    for shape, sp, centre, coef in cases:
        with _numpy_only():
            want = _surface._inside(shape, sp, centre, coef, 4)
        assert want.tobytes() == (_surface._polar(shape, sp, centre)[0] <= _surface._radius(_surface._polar(shape, sp, centre)[1], coef, 4)).tobytes()
        got = _surface._inside(shape, sp, centre, coef, 4)
        assert got.shape == want.shape and got.tobytes() == want.tobytes()
        sizes.append(np.count_nonzero(want) / want.size)
        if seed == 0 and len(sizes) <= 3:  # every block size: 1 voxel (no skipping) to larger than the box
            from hcc_imaging.segment import _kernels_nb as nb

            ea, eb, ec = _surface._exponent_arrays(4)
            for block in (1, 2, 3, 8, 64):
                alt = nb.inside_star(np.asarray(shape, dtype=np.int64), sp, centre, coef, ea, eb, ec, 4, block, False)
                assert alt.tobytes() == want.tobytes(), block
    assert min(sizes) == 0.0 and max(sizes) == 1.0 and any(0.05 < v < 0.95 for v in sizes)  # the cases span the kinds


@pytest.mark.parametrize("seed", range(3))
def test_the_mask_inside_an_inverse_surface_is_numpys_bit_for_bit(seed: int) -> None:
    """The same for the surface given as 1 / R^2 (``inverse=True``, step 12's near-ellipsoid option):
    the compiled mask is the numpy path's (``rho * rho * sum <= 1``) bit for bit, for ellipsoids,
    lobulated surfaces and sums that are not positive in some directions (no bound there: inside),
    at every block size; and an ellipsoid's 1 / R^2 of degree 2 gives the ellipsoid's voxels."""
    from hcc_imaging.segment import _surface
    from hcc_imaging.segment import _kernels_nb as nb

    rng = np.random.default_rng(seed)
    ea, eb, ec = _surface._exponent_arrays(4)
    exps = _surface._exponents(4)
    cases = []
    for t in range(30):
        shape = tuple(int(v) for v in rng.integers(1, 40, 3))
        sp = rng.choice([0.5, 0.7, 1.0, 2.5, 5.0], 3)
        centre = np.asarray(shape) * sp * rng.uniform(-0.2, 1.2, 3)
        r0 = float(min(shape) * sp.min() * rng.uniform(0.2, 0.8)) + 0.5
        q = np.r_[r0**-2, rng.normal(size=24) * r0**-2 * rng.choice([0.0, 0.05, 0.3, 2.0])]
        cases.append((shape, sp, centre, q))
    # an ellipsoid of semi-axes 11 / 13 / 20 mm along the array's axes about a voxel centre:
    # 1 / R^2 = u0^2 / 11^2 + u1^2 / 13^2 + u2^2 / 20^2, with u2^2 = 1 - u0^2 - u1^2 on the sphere
    q = np.zeros(len(exps))
    q[exps.index((0, 0, 0))] = 1 / 20.0**2
    q[exps.index((2, 0, 0))] = 1 / 11.0**2 - 1 / 20.0**2
    q[exps.index((0, 2, 0))] = 1 / 13.0**2 - 1 / 20.0**2
    shape, sp = (20, 50, 70), np.array([2.5, 0.7, 0.7])
    centre = np.array([10 * 2.5, 25 * 0.7, 35 * 0.7])
    cases.append((shape, sp, centre, q))
    for shape, sp, centre, q in cases:
        with _numpy_only():
            want = _surface._inside(shape, sp, centre, q, 4, inverse=True)
        got = _surface._inside(shape, sp, centre, q, 4, inverse=True)
        assert got.shape == want.shape and got.tobytes() == want.tobytes()
        for block in (1, 3, 16):
            alt = nb.inside_star(np.asarray(shape, dtype=np.int64), sp, centre, q, ea, eb, ec, 4, block, True)
            assert alt.tobytes() == want.tobytes(), block
    g = np.indices(shape).astype(float)
    ell = sum(((g[i] * sp[i] - centre[i]) / r) ** 2 for i, r in enumerate((11.0, 13.0, 20.0))) <= 1.0
    assert np.count_nonzero(want ^ ell) <= 0.002 * np.count_nonzero(ell)  # rounding at the border only
    assert 0.9 < np.count_nonzero(ell) * sp.prod() / (4 / 3 * np.pi * 11 * 13 * 20) < 1.1


@pytest.mark.parametrize("seed", range(3))
def test_the_surface_terms_are_numpys_bit_for_bit(seed: int) -> None:
    """The surface model's terms at each voxel's direction (``_surface._direction_terms``, the
    compiled ``direction_terms``): the numpy path's values bit for bit, for one direction up, in the
    plane (z = 0 exactly), along the axes, and on the grids steps 12 and 12b make."""
    from hcc_imaging.segment import _surface

    rng = np.random.default_rng(seed)
    cases = []
    for t in range(20):
        v = rng.normal(size=(int(rng.integers(1, 3000)), 3))
        if t % 5 == 0:
            v[:, 2] = 0.0
        cases.append(v / np.linalg.norm(v, axis=-1)[:, None])
    cases.append(np.eye(3))
    _, u = _surface._polar((9, 11, 13), np.array([3.0, 0.7, 0.7]), np.array([12.0, 3.5, 4.2]))
    cases.append(u.reshape(-1, 3))
    got = [_surface._direction_terms(u, 4) for u in cases]
    with _numpy_only():
        want = [_surface._direction_terms(u, 4) for u in cases]
    assert all(g.shape == w.shape == (len(u), 25) and g.tobytes() == w.tobytes()
               for g, w, u in zip(got, want, cases, strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_rays_edge_search_is_numpys_bit_for_bit(seed: int) -> None:
    """Step 13's rays' edge search (``_rind._edge_search``, the compiled ``ray_edge_search``): the
    numpy path's residuals and first minima bit for bit, on step 13's grid of edges (the valid
    pairs a band), with ties (rounded terms), and with a NaN and an all-invalid grid (numpy's
    argmin: the first NaN; the first element)."""
    from hcc_imaging.segment import _rind

    rng = np.random.default_rng(seed)
    d_outer = np.arange(-2.5, 9.51, 0.25)
    thick = d_outer[None, :] - d_outer[:21, None]
    band = (thick >= -1e-9) & (thick <= 7.0 + 1e-9)
    cases = []
    for t in range(6):
        k = int(rng.integers(1, 600))
        terms = tuple(rng.normal(scale=s, size=(k,) + sh) for s, sh in
                      ((1e5, ()), (30.0, (21,)), (30.0, (49,)), (1e3, (21,)), (1e3, (49,)), (30.0, (21, 49))))
        if t % 3 == 1:
            terms = tuple(np.round(v) for v in terms)
        valid = band if t != 5 else np.zeros_like(band)
        if t == 4:
            terms[5][0, 3, 10] = np.nan
        cases.append((terms, *(float(v) for v in rng.normal(size=3) * 40 + (25.0, 115.0, 70.0)), valid))
    got = [_rind._edge_search(tm, n, r, p, v) for tm, n, r, p, v in cases]
    with _numpy_only():
        want = [_rind._edge_search(tm, n, r, p, v) for tm, n, r, p, v in cases]
    assert all(g[0].tobytes() == w[0].tobytes() and g[1].tobytes() == w[1].tobytes() for g, w in zip(got, want, strict=True))
    assert got[5][0].tolist() == [0] * len(got[5][0]) and got[4][0][0] == 3 * 49 + 10


@pytest.mark.parametrize("seed", range(3))
def test_the_parenchyma_modes_histogram_is_numpys_bit_for_bit(seed: int) -> None:
    """``_morph._histogram`` (the compiled ``uniform_histogram``) gives ``np.histogram``'s counts and
    edges: values on and next to the edges (numpy's index moved down or up a bin), the last edge
    (in the last bin), outside the range, NaN and infinities (left out), ties, one bin and 2000,
    ranges of any scale; float32 values and a range numpy widens go to numpy."""
    from hcc_imaging.segment._morph import _histogram

    rng = np.random.default_rng(seed)
    for t in range(200):
        n = int(rng.integers(0, 5000))
        scale = float(rng.choice([1e-6, 1.0, 100.0, 1e8]))
        v = rng.normal(size=n) * scale
        lo, hi = np.percentile(v, [1, 99]) if n else (-1.0, 1.0)
        hi = hi + float(rng.choice([0.0, 1e-3 * scale]))
        nb = int(rng.choice([1, 2, 7, 150, 2000]))
        edges = np.linspace(lo, hi, nb + 1)
        if n > 20:
            k = n // 10
            v[:k] = rng.choice(edges, k)  # on the edges
            v[k:2 * k] = np.nextafter(v[:k], rng.choice([-np.inf, np.inf], k))  # one ulp beside them
            v[2 * k] = np.nan
            v[2 * k + 1] = np.inf
            v[2 * k + 2] = -np.inf
            v[2 * k + 3] = hi
            v[2 * k + 4: 2 * k + 10] = v[2 * k + 3]
        if lo >= hi:
            continue
        want = np.histogram(v, bins=nb, range=(lo, hi))
        got = _histogram(v, nb, (lo, hi))
        assert got[0].tobytes() == want[0].tobytes() and got[0].dtype == want[0].dtype, t
        assert got[1].tobytes() == want[1].tobytes(), t
    v32 = rng.normal(size=100).astype(np.float32)
    for got, want in ((_histogram(v32, 9, (-1.0, 1.0)), np.histogram(v32, bins=9, range=(-1.0, 1.0))),
                      (_histogram(v32.astype(np.float64), 4, (0.5, 0.5)),
                       np.histogram(v32.astype(np.float64), bins=4, range=(0.5, 0.5)))):
        assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_the_rind_fits_float32_terms_are_numpys_bit_for_bit(seed: int) -> None:
    """``_rind._float32_terms`` (the compiled ``float32_terms``) gives numpy's transposed float32 cast
    and the fitted voxels' rows of it: any box length (blocks of 64 and a remainder), no fitted voxel,
    every one, values float32 rounds (ties, overflow to infinity, subnormals, NaN)."""
    from hcc_imaging.segment import _rind

    rng = np.random.default_rng(seed)
    for n in (0, 1, 63, 64, 65, 200, 1000):
        y = rng.normal(size=(n, 25)) * rng.choice([1e-42, 1.0, 1e39], size=(n, 25))
        if n > 3:
            y[0, 0], y[1, 1], y[2, 2] = np.nan, 1.0 + 2.0**-24, -(1.0 + 3 * 2.0**-24)
        for use in (rng.random(n) > 0.6, np.zeros(n, bool), np.ones(n, bool)):
            with np.errstate(over="ignore"):
                got = _rind._float32_terms(y, use)
                y32 = y.astype(np.float32)
            want = (np.ascontiguousarray(y32.T), y32[use])
            for g, w in zip(got, want, strict=True):
                assert g.dtype == w.dtype == np.float32 and g.shape == w.shape and g.flags.c_contiguous
                assert g.tobytes() == w.tobytes()


def test_warm_up_compiles_every_kernel() -> None:
    """In a fresh process (as ``scripts/bootstrap.sh`` runs it): every kernel gets exactly the
    one argument type the segmentation passes, so nothing compiles at a user's click."""
    import subprocess
    import sys

    code = (
        "from hcc_imaging.segment import _kernels\n"
        "assert _kernels.warm_up() > 0.0\n"
        "nb = _kernels.compiled()\n"
        "print(*(len(getattr(nb, n).signatures) for n in " + repr(_KERNELS) + "))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, _kernels.JIT_ENV: "1"})
    assert out.stdout.split() == ["1"] * len(_KERNELS), out.stdout
    assert C.LESION_MULTIPHASE_RING_CLASSES <= 255  # the kernels' uint8 labels


def test_this_process_compiled_one_type_per_kernel() -> None:
    """After the tests above (which run every path): still one argument type per kernel."""
    nb = _kernels.compiled()
    for name in _KERNELS:
        assert len(getattr(nb, name).signatures) <= 1, name

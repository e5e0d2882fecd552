"""The fast viable-diameter search gives exactly the reference search's answer.

``_longest_valid`` (pruned, banded, vectorised) must return the same slice, the same two
endpoints and the same length as ``_longest_valid_reference`` (the exhaustive definition of the
rule) on every mask: property tests on random small masks - blobs with holes, rims, nodules,
noise, several gap tolerances and anisotropic spacings - plus the building blocks on their own.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcc_imaging.measure import measure_lesion, viable_diameter
from hcc_imaging.measure import _viable_search as vs
from hcc_imaging.measure import viable as vm
from hcc_imaging.volume import LabelVolume

SPACINGS = [(1.0, 1.0, 1.0), (2.5, 0.7, 0.7), (5.0, 0.6, 0.6), (1.25, 0.8, 1.1), (2.0, 1.3, 0.5)]


def _disc(shape: tuple[int, int], c: tuple[float, float], r: float, sp: tuple[float, float]) -> np.ndarray:
    j, i = np.indices(shape).astype(float)
    return ((j - c[0]) * sp[0]) ** 2 + ((i - c[1]) * sp[1]) ** 2 <= r * r


def _random_case(seed: int, kind: str, spacing: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(lesion, viable) boolean masks of a small random lesion of the given kind."""
    rng = np.random.default_rng(seed)
    nk = int(rng.integers(1, 8))
    nj, ni = int(rng.integers(6, 26)), int(rng.integers(6, 26))
    sp2 = (spacing[1], spacing[2])
    lesion = np.zeros((nk, nj, ni), bool)
    viable = np.zeros_like(lesion)
    ext = min(nj * sp2[0], ni * sp2[1])
    for k in range(nk):
        c = (rng.uniform(0.3, 0.7) * (nj - 1), rng.uniform(0.3, 0.7) * (ni - 1))
        r = rng.uniform(0.25, 0.55) * ext
        les = _disc((nj, ni), c, r, sp2)
        if kind == "holes":  # blob with necrotic holes
            via = les.copy()
            for _ in range(int(rng.integers(1, 5))):
                hc = (rng.uniform(0, nj - 1), rng.uniform(0, ni - 1))
                via &= ~_disc((nj, ni), hc, rng.uniform(0.5, 0.3 * ext), sp2)
        elif kind == "rim":  # ring of viable tissue around necrosis
            via = les & ~_disc((nj, ni), c, r - rng.uniform(0.4, 3.0) * max(sp2), sp2)
        elif kind == "nodules":  # viable nodules in a necrotic lesion
            via = np.zeros_like(les)
            for _ in range(int(rng.integers(1, 4))):
                nc = (rng.uniform(0, nj - 1), rng.uniform(0, ni - 1))
                via |= _disc((nj, ni), nc, rng.uniform(0.5, 0.35 * ext), sp2)
            via &= les
        else:  # patchy enhancement
            via = les & (rng.random((nj, ni)) < rng.uniform(0.4, 0.95))
        lesion[k], viable[k] = les, via
    lesion[0, nj // 2, ni // 2] = True  # never an empty lesion
    return lesion, viable


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]) and a[3] == b[3]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(["holes", "rim", "nodules", "patchy"]),
    spacing=st.sampled_from(SPACINGS),
    gap=st.sampled_from([1.0, 1.0, 0.0, 0.5, 2.0, 3.0]),
)
def test_fast_search_equals_reference(seed: int, kind: str, spacing, gap: float) -> None:
    _, viable = _random_case(seed, kind, spacing)
    fast = vs._longest_valid(viable, spacing, gap)
    ref = vs._longest_valid_reference(viable, spacing, gap)
    assert _same(fast, ref), (fast, ref)


@pytest.mark.parametrize(
    "kind", [pytest.param(k, id=k) for k in ("holes", "rim", "nodules", "patchy")]
)
def test_public_api_equals_reference(kind: str) -> None:
    """viable_diameter (and measure_lesion) give the reference's endpoints, through the frame."""
    spacing = (2.5, 0.7, 0.7)
    for seed in range(8):
        lesion, viable = _random_case(seed, kind, spacing)
        lab = LabelVolume.create(lesion.astype(np.uint8), spacing=spacing, origin=(3.0, -2.0, 7.5))
        via = LabelVolume.create(viable.astype(np.uint8), spacing=spacing, origin=(3.0, -2.0, 7.5))
        fast = viable_diameter(lab, 1, viable=via)
        ref = vm._viable_diameter_reference(lab, 1, viable=via)
        if ref is None:
            assert fast is None
            continue
        assert fast is not None
        assert fast.length_mm == ref.length_mm
        assert fast.endpoints_lps == ref.endpoints_lps
        assert fast.slice_index == ref.slice_index
        m = measure_lesion(lab, 1, viable=via)
        assert m.viable_diameter_mm == ref.length_mm and m.viable_endpoints_lps == ref.endpoints_lps


@pytest.mark.parametrize(
    ("spacing", "core"),
    [
        pytest.param((1.0, 1.0, 1.0), 0.6, id="iso1-core60pct"),
        pytest.param((2.5, 0.7, 0.7), 0.5, id="ct2.5-core50pct"),
        pytest.param((1.0, 0.8, 0.8), 0.0, id="no-core"),
    ],
)
def test_fast_equals_reference_on_necrotic_phantom(spacing, core: float) -> None:
    """A 24 mm ball with a concentric necrotic core: the case the pruning was built for."""
    n = [int(np.ceil(26 / s)) for s in spacing]
    k, j, i = np.indices(n).astype(float)
    z, y, x = [(a - (m - 1) / 2) * s + o for a, m, s, o in zip((k, j, i), n, spacing, (0.2, -0.3, 0.1), strict=True)]
    rr = np.sqrt(z * z + y * y + x * x)
    viable = (rr <= 12.0) & (rr > 12.0 * core)
    assert _same(vs._longest_valid(viable, spacing, 1.0), vs._longest_valid_reference(viable, spacing, 1.0))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), spacing=st.sampled_from(SPACINGS), gap=st.sampled_from([0.0, 1.0, 2.5]))
def test_fast_segment_check_equals_reference_check(seed: int, spacing, gap: float) -> None:
    """_valid_segments_fast == _valid_segments for segments between viable voxel centres."""
    rng = np.random.default_rng(seed)
    sr, sc = spacing[1], spacing[2]
    vslice = rng.random((30, 30)) < rng.uniform(0.5, 0.95)
    jj, ii = np.nonzero(vslice)
    a = rng.integers(0, len(jj), 300)
    b = rng.integers(0, len(jj), 300)
    p = np.stack([jj[a], ii[a]], axis=1).astype(float)
    q = np.stack([jj[b], ii[b]], axis=1).astype(float)
    lengths = np.hypot((p[:, 0] - q[:, 0]) * sr, (p[:, 1] - q[:, 1]) * sc)
    step, gap_mm = 0.5 * min(sr, sc), gap * max(sr, sc)
    ref = vs._valid_segments(vslice, p, q, lengths, step, gap_mm)
    fast = vs._valid_segments_fast(vslice, p, q, lengths, step, gap_mm)
    assert np.array_equal(ref, fast)
    # the three ways of the full check - compiled, numpy in blocks, numpy at once - and a stack
    from unittest import mock

    stack, sl = np.stack([~vslice, vslice]), np.ones(len(p), np.int64)
    for kernel_min, one_shot in ((0, 0), (10**9, 0), (10**9, 10**12)):
        with (
            mock.patch.object(vs, "_KERNEL_MIN_PAIRS", kernel_min),
            mock.patch.object(vs, "_ONE_SHOT_SAMPLES", one_shot),
            mock.patch.object(vs, "_SAMPLE_BLOCK", 5),
        ):
            assert np.array_equal(ref, vs._valid_segments_fast(vslice, p, q, lengths, step, gap_mm))
            assert np.array_equal(ref, vs._valid_segments_fast(stack, p, q, lengths, step, gap_mm, sl=sl))
    # the mid-window verdict only ever rejects segments the full check rejects
    good, max_run = vs._samples(vslice, p, q, lengths, step, gap_mm, window=vs._MID_WINDOW_SAMPLES)
    rejected = vs._has_long_bad_run(good, max_run)
    assert not (rejected & ref).any()


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed-{s}") for s in range(4)])
def test_cell_pairs_enumerate_exactly_the_band(seed: int) -> None:
    """Without the necrosis rejection, _cell_pairs returns every same-slice pair a < b with
    lo <= d < hi, once."""
    rng = np.random.default_rng(seed)
    sr, sc = (0.7, 0.7) if seed % 2 else (1.3, 0.5)
    jj = rng.integers(0, 60, 150)
    ii = rng.integers(0, 60, 150)
    key = np.unique(jj * 100 + ii)
    jj, ii = key // 100, key % 100
    sl = (np.arange(len(jj)) >= len(jj) // 2).astype(np.int64)  # two slices
    lo, hi = 20.0, 35.0
    a, b, d = vs._cell_pairs(sl, jj, ii, sr, sc, lo, hi, (8, 4, 2), None)
    ta, tb = np.triu_indices(len(jj), k=1)
    td = np.hypot((jj[ta] - jj[tb]) * sr, (ii[ta] - ii[tb]) * sc)
    sel = (td >= lo) & (td < hi) & (sl[ta] == sl[tb])
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == sorted(zip(ta[sel].tolist(), tb[sel].tolist(), strict=True))
    assert np.all(a < b)
    assert np.array_equal(np.sort(d), np.sort(td[sel]))


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"random-necrosis-{s}") for s in range(3)])
def test_fast_shortcuts_change_nothing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turning off every necrosis shortcut of the fast search (probes, mid-window, cell
    rejection) leaves the answer unchanged."""
    rng = np.random.default_rng(seed)
    spacing = (2.0, 0.8, 0.8)
    n = [int(np.ceil(30 / s)) for s in spacing]
    k, j, i = np.indices(n).astype(float)
    z, y, x = [(a - (m - 1) / 2) * s for a, m, s in zip((k, j, i), n, spacing, strict=True)]
    lesion = z * z + y * y + x * x <= 14.0**2
    necrosis = np.zeros_like(lesion)
    for _ in range(4):
        c = rng.uniform(-8, 8, 3)
        necrosis |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= rng.uniform(2, 6) ** 2
    viable = lesion & ~necrosis
    fast = vs._longest_valid(viable, spacing, 1.0)
    monkeypatch.setattr(vs, "_probe_alive", lambda deep, ja, *a: np.ones(len(ja), bool))
    monkeypatch.setattr(vs, "_MID_WINDOW_SAMPLES", 0)
    monkeypatch.setattr(vs, "_deep_slice", lambda vk, sp, st, gp, extras=(0.0,): [np.zeros(vk.shape, bool) for _ in extras])
    plain = vs._longest_valid(viable, spacing, 1.0)
    assert fast is not None and _same(fast, plain)
    assert _same(fast, vs._longest_valid_reference(viable, spacing, 1.0))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(["holes", "rim", "nodules", "patchy"]),
    spacing=st.sampled_from(SPACINGS),
    gap=st.sampled_from([1.0, 0.0, 2.0]),
    zoom=st.sampled_from([1, 2]),
)
def test_vectorised_pass_equals_reference(seed: int, kind: str, spacing, gap: float, zoom: int) -> None:
    """The all-slices-at-once pass (normally entered once the best length is close to the
    slices' bounds) forced on from the second slice, two slices per pass: same answer as the
    reference."""
    from unittest import mock

    _, viable = _random_case(seed, kind, spacing)
    viable = np.kron(viable, np.ones((1, zoom, zoom), bool))
    with (
        mock.patch.object(vs, "_ALONE_SLICES", 1),
        mock.patch.object(vs, "_BANDS", (0.85, 0.0)),
        mock.patch.object(vs, "_BATCH_SLICES", 2),
    ):
        fast = vs._longest_valid(viable, spacing, gap)
    assert _same(fast, vs._longest_valid_reference(viable, spacing, gap))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(["holes", "rim", "nodules", "patchy"]),
    spacing=st.sampled_from(SPACINGS),
    gap=st.sampled_from([1.0, 0.0, 2.0]),
    zoom=st.sampled_from([1, 2, 3]),
)
def test_bounded_memory_paths_equal_reference(seed: int, kind: str, spacing, gap: float, zoom: int) -> None:
    """With tiny memory bounds - bands split into slice groups and length halves, full checks in
    chunks of a few pairs and blocks of a few samples - the search gives the reference's
    answer (the bounds only change how much is held at once)."""
    from unittest import mock

    _, viable = _random_case(seed, kind, spacing)
    viable = np.kron(viable, np.ones((1, zoom, zoom), bool))
    with (
        mock.patch.object(vs, "_MAX_PAIRS", 40),
        mock.patch.object(vs, "_MID_CHUNK", 7),
        mock.patch.object(vs, "_MAX_SAMPLES", 64),
        mock.patch.object(vs, "_SAMPLE_BLOCK", 3),
        mock.patch.object(vs, "_ONE_SHOT_SAMPLES", 0),
        mock.patch.object(vs, "_ALONE_SLICES", 1),
        mock.patch.object(vs, "_BATCH_SLICES", 3),
        mock.patch.object(vs, "_DIRECT_MAX_POINTS", 4),
    ):
        fast = vs._longest_valid(viable, spacing, gap)
    assert _same(fast, vs._longest_valid_reference(viable, spacing, gap))


def test_patchy_viable_mask_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40 mm lesion with random 3 x 3 x 3-voxel necrotic spots (about 56 % viable): the search
    held up to 13.5 million samples (and 0.9 million pairs) at once, and a 90 mm lesion ran out
    of memory (> 3 GB).  Now every sample array it checks holds at most 2**22 samples; the
    answer is the exhaustive search's on the diameter's slice."""
    from scipy import ndimage

    R, sp = 20.0, (1.0, 0.7, 0.7)
    n, nz = int(R / 0.7) + 3, int(R) + 3
    k, j, i = np.indices((2 * nz + 1, 2 * n + 1, 2 * n + 1)).astype(np.float32)
    lesion = (k - nz) ** 2 + ((j - n) * 0.7) ** 2 + ((i - n) * 0.7) ** 2 <= R * R
    spots = ndimage.binary_dilation(np.random.default_rng(0).random(lesion.shape) < 0.08, iterations=1)
    viable = lesion & ~spots
    largest = [0]
    orig = vs._has_long_bad_run

    def spy(good, max_run):
        largest[0] = max(largest[0], good.size)
        return orig(good, max_run)

    monkeypatch.setattr(vs, "_has_long_bad_run", spy)
    got = vs._longest_valid(viable, sp, 1.0)
    assert 0 < largest[0] <= 1 << 22
    monkeypatch.setattr(vs, "_has_long_bad_run", orig)
    assert got is not None
    # the exhaustive search on that slice alone finds the same segment (ties: same slice)
    ref = vs._longest_valid_reference(viable[got[0] : got[0] + 1], sp, 1.0)
    assert ref is not None and np.array_equal(ref[1], got[1]) and np.array_equal(ref[2], got[2]) and ref[3] == got[3]

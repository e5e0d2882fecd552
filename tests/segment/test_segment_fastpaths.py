"""Step 10's k-medians, a line's first region, step 7's bridge and opening and step 8's reach agree
with their plain definitions (the speed passes after 1.8 and on 3D-IRCADb-01 #17 rewrote them to
give the same values with less work)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from hcc_imaging.segment import constants as C
from hcc_imaging.segment._expand import _opening_near, _within_mm_near
from hcc_imaging.segment._grow import _ball_mask, _inner_half
from hcc_imaging.segment._kmedians import _ring_classes
from hcc_imaging.segment._morph import ball, binary_opening, within_mm
from hcc_imaging.segment._refine import _farthest_mm


def _ring_classes_plain(x: np.ndarray, lesion: np.ndarray, min_d: float) -> list[np.ndarray]:
    """Algorithm 1.8's k-medians as first written (argsort start, np.median per class and pass)."""
    n = x.shape[0]
    if n == 0:
        return []
    k = C.LESION_MULTIPHASE_RING_CLASSES
    xc = x - np.median(x, axis=0)
    _, _, vt = np.linalg.svd(xc[:: max(1, n // 2000)], full_matrices=False)
    proj = xc @ vt[0]
    qs = np.quantile(proj, np.linspace(0.5 / k, 1 - 0.5 / k, k))
    cs = np.array([np.median(x[np.argsort(np.abs(proj - q))[: max(1, n // (4 * k))]], axis=0) for q in qs])
    lab_prev = None
    for _ in range(10):
        d1 = np.abs(x[:, 0][:, None] - cs[None, :, 0])
        for ph in range(1, x.shape[1]):
            d1 += np.abs(x[:, ph][:, None] - cs[None, :, ph])
        lab = np.argmin(d1, axis=1)
        if lab_prev is not None and np.array_equal(lab, lab_prev):
            break
        lab_prev = lab
        cs = np.array([np.median(x[lab == c], axis=0) if np.any(lab == c) else cs[c] for c in range(len(cs))])
    while len(cs) > 1:
        d = np.linalg.norm(cs[:, None] - cs[None], axis=-1) + np.eye(len(cs)) * 1e9
        i, j = sorted(int(v) for v in np.unravel_index(int(np.argmin(d)), d.shape))
        if d[i, j] >= min_d:
            break
        lab[lab == j] = i
        lab[lab > j] -= 1
        cs = np.delete(cs, j, axis=0)
        cs[i] = np.median(x[lab == i], axis=0)
    return [cs[c] for c in range(len(cs))
            if float(np.mean(lab == c)) >= C.LESION_MULTIPHASE_MIN_CLASS_FRACTION
            and float(np.linalg.norm(cs[c] - lesion)) >= min_d]


@pytest.mark.parametrize("seed", range(6))
def test_ring_classes_equal_the_plain_k_medians(seed: int) -> None:
    rng = np.random.default_rng(seed)
    found = 0
    for t in range(40):
        n = int(rng.integers(1, 6000))
        n_ph = int(rng.integers(2, 5))
        centres = rng.normal(scale=rng.choice([1.0, 4.0, 8.0]), size=(3, n_ph))
        x = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, n_ph))
        if t % 4 == 0:
            x = np.round(x * 2) / 2  # many ties (medians between equal values, tied start distances)
        x = x.astype(np.float32).astype(np.float64)  # as step 10 passes them
        lesion = rng.normal(size=n_ph) * 3
        min_d = float(rng.choice([1.0, 3.0]))
        want = _ring_classes_plain(x, lesion, min_d)
        got = _ring_classes(x, lesion, min_d)
        assert len(got) == len(want)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        found += len(got)
    assert found > 0  # classes were found, not only empty lists compared


@pytest.mark.parametrize("seed", range(4))
def test_inner_half_equals_the_whole_box_transform(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(30):
        shape = tuple(int(v) for v in rng.integers(3, 30, 3))
        centre = rng.uniform(-2, np.array(shape) + 2)  # also balls clipped by the box's faces
        sp = rng.uniform(0.5, 3.0, 3)
        ball = _ball_mask(shape, centre, sp, float(rng.uniform(0.5, 15.0)))
        if rng.random() < 0.3:
            ball &= rng.random(shape) < 0.8  # a ball cut by the liver mask
        d = ndi.distance_transform_edt(ball, sampling=sp)
        want = np.asarray(d >= 0.5 * d.max()) if d.max() > 0 else ball
        assert np.array_equal(_inner_half(ball, sp), want)


def test_the_inner_half_of_a_ball_is_measured_in_mm() -> None:
    """1.42: on 5 x 0.78 x 0.78 mm voxels the inner half of a 10 mm ball is the voxels within about
    5 mm of its centre.  Until 1.41 the depth was counted in voxels: the ball is 5 voxels deep along
    z and 13 in-plane, so its inner half was every voxel but the outer layer, out to 9-10 mm in-plane
    (the robustness sweep's 40 mm lesion at 40 HU and 25 HU noise on 5 mm slices, drawn as a line:
    0.934 -> 0.981)."""
    sp = np.array([5.0, 0.78, 0.78])
    shape = (9, 41, 41)
    centre = np.array([4.0, 20.0, 20.0])
    ball = _ball_mask(shape, centre, sp, 10.0)
    inner = _inner_half(ball, sp)
    r = np.linalg.norm((np.argwhere(inner) - centre) * sp, axis=1)
    assert inner.any() and not (inner & ~ball).any()
    assert r.max() <= 5.0 + 0.78  # within half the radius, give or take a pixel
    r_ball = np.linalg.norm((np.argwhere(ball) - centre) * sp, axis=1)
    assert np.count_nonzero(r_ball <= 4.5) <= np.count_nonzero(inner)  # and it holds the ball's core


@pytest.mark.parametrize("seed", range(4))
def test_ball_mask_equals_the_whole_box_distances(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for t in range(300):
        shape = tuple(int(v) for v in rng.integers(1, 40, 3))
        centre = rng.uniform(-10, np.array(shape) + 10)  # also centres outside the box
        sp = rng.uniform(0.3, 5.0, 3)
        radius = float(rng.choice([0.0, -2.0, rng.uniform(0.0, 40.0)]))
        if t % 7 == 0:  # voxels exactly on the sphere
            centre, radius = np.round(centre), float(np.round(radius))
        grids = np.ogrid[tuple(slice(0, n) for n in shape)]
        d2 = sum(((g - m) * s) ** 2 for g, m, s in zip(grids, centre, sp, strict=True))
        got = _ball_mask(shape, centre, sp, radius)
        assert got.shape == shape and got.dtype == bool
        assert np.array_equal(got, d2 <= radius**2)


@pytest.mark.parametrize("seed", range(4))
def test_step7_bridge_and_opening_on_their_boxes_equal_the_whole_box(seed: int) -> None:
    """Step 7's bridge (within 2 mm of the region) and opening, computed on the mask's padded box
    (the speed pass on 3D-IRCADb-01 #17), give the whole box's voxels."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        shape = tuple(int(v) for v in rng.integers(1, 30, 3))
        sp = tuple(float(v) for v in rng.uniform(0.5, 3.0, 3))
        m = np.zeros(shape, bool)
        if rng.random() < 0.9:  # (and an empty mask)
            lo = rng.integers(0, shape)
            hi = np.minimum(lo + rng.integers(1, 12, 3), shape)  # also blobs on the box's faces
            m[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))] = True
            m &= rng.random(shape) < 0.8
        reach = float(rng.choice([C.LESION_EXPANSION_BRIDGE_MM, rng.uniform(0.2, 6.0)]))
        assert np.array_equal(_within_mm_near(m, sp, reach), within_mm(m, sp, reach))
        el = ball(float(rng.uniform(0.5, 4.0)), sp)
        assert np.array_equal(_opening_near(m, el), binary_opening(m, el))


@pytest.mark.parametrize("seed", range(4))
def test_farthest_voxel_equals_every_voxels_distance(seed: int) -> None:
    """Step 8's reach reads the click region's farthest voxel from the seed off each row's ends:
    the same float as the distance of every voxel."""
    rng = np.random.default_rng(seed)
    for t in range(200):
        shape = tuple(int(v) for v in rng.integers(1, 25, 3))
        m = rng.random(shape) < float(rng.choice([0.0, 0.02, 0.3, 1.0]))
        lo = rng.integers(0, 50, 3)
        seed_vox = lo + rng.integers(-5, 30, 3)  # also seeds outside the region's box
        sp = np.array([0.78, 0.78, 0.78]) if t % 5 == 0 else rng.uniform(0.3, 5.0, 3)  # (ties)
        pts = np.argwhere(m) + lo
        want = float(np.sqrt((((pts - seed_vox) * sp) ** 2).sum(axis=1)).max()) if pts.size else 0.0
        assert _farthest_mm(m, lo, seed_vox, sp) == want


@pytest.mark.parametrize("with_liver", [False, True])
def test_step7_on_another_phase_reads_the_click_regions_shell_and_ring_from_the_cache(
        monkeypatch: pytest.MonkeyPatch, with_liver: bool) -> None:
    """Step 7 on the other phases grows the chosen phase's click region (the same array) again: its
    parenchyma shell and ring are the region's alone, kept in the click's cache (``_ring_kept``) and
    not computed again; the growth is the one without the cache (session of 2026-12-07, second)."""
    from hcc_imaging.segment import _expand, _grow
    from hcc_imaging.segment._types import LesionParams

    sp = (1.5, 0.7, 0.7)
    shape = (30, 64, 64)
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, sp, strict=True)), indexing="ij")
    r = np.sqrt((zz - 22.0) ** 2 + (yy - 22.0) ** 2 + (xx - 22.0) ** 2)
    # a dark core (the click's region), an enhancing layer around it, then parenchyma
    img = np.where(r < 6.0, 40.0, np.where(r < 9.0, 160.0, 100.0))
    rng = np.random.default_rng(3)
    phases = [(img + rng.normal(0.0, 3.0, shape)).astype(np.float32) for _ in range(2)]
    mask = r < 5.0
    seed = (int(round(22.0 / sp[0])), int(round(22.0 / sp[1])), int(round(22.0 / sp[2])))
    liver = None
    if with_liver:
        liver = np.ones(shape, bool)
        liver[:, :, 55:] = False
    p = LesionParams()
    sigma_s = 1.5
    calls: list[np.ndarray] = []
    real = _grow._ring

    def counted(region: np.ndarray, *a: object, **kw: object) -> np.ndarray:
        calls.append(region)
        return real(region, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_grow, "_ring", counted)
    cache: dict = {}
    first = _expand._expand_heterogeneous(phases[0], mask, seed, sp, p, liver, sigma_s, None, None, cache)
    assert sum(c is mask for c in calls) == 2  # the shell and the ring, once
    calls.clear()
    second = _expand._expand_heterogeneous(phases[1], mask, seed, sp, p, liver, sigma_s, None, None, cache)
    assert not any(c is mask for c in calls)  # read from the cache
    assert first is not None and second is not None  # the layer encloses the core: step 7 grows it
    for kept, ph in ((first, phases[0]), (second, phases[1])):
        plain = _expand._expand_heterogeneous(ph, mask, seed, sp, p, liver, sigma_s, None, None, None)
        assert plain is not None
        assert np.array_equal(kept[0], plain[0]) and kept[1] == plain[1]
    kept_rings = [v[1] for k, v in cache.items() if k[0] == "ring"]
    assert len(kept_rings) == 2 and not any(a.flags.writeable for a in kept_rings)

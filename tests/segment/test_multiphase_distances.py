"""Step 10's nearest-mean test (``_multiphase._nearer_than_classes``) computes the classes' distances
only on the voxels within the far bound (2026-12-06, docs/validation.md section 2.4, "A click on a
huge region refused early": the whole box per class was most of step 10 on the 512 study's 725 mL
ascites region), with the same result as over the whole box."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.segment import _multiphase


def _whole_box(X: np.ndarray, lesion: np.ndarray, classes: list[np.ndarray], far: float) -> tuple[np.ndarray, float]:
    """The test as it was (every class's distance over the whole box)."""
    d_l = _multiphase._joint_distance(X, lesion)
    cand = np.ones(X.shape[1:], bool)
    for c in classes:
        cand &= d_l < _multiphase._joint_distance(X, c)
    d_near = min(float(np.linalg.norm(c - lesion)) for c in classes)
    cand &= d_l <= max(far, d_near)
    return cand, d_near


@pytest.mark.parametrize("seed", range(6))
def test_the_same_voxels_as_over_the_whole_box(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = int(rng.integers(2, 5))
    X = (rng.normal(size=(p, 14, 22, 19)) * rng.uniform(0.5, 5.0)).astype(np.float32)
    lesion = rng.normal(size=p)
    classes = [rng.normal(size=p) for _ in range(int(rng.integers(1, 4)))]
    far = float(rng.uniform(0.0, 6.0))
    got, want = _multiphase._nearer_than_classes(X, lesion, classes, far), _whole_box(X, lesion, classes, far)
    assert np.array_equal(got[0], want[0]) and got[1] == want[1]


def test_the_classes_are_read_only_within_the_far_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A box where a tenth of the voxels lie near the lesion's vector: the classes' distances are
    computed on those voxels, not on the whole box (on the code before, every call read the box)."""
    rng = np.random.default_rng(0)
    X = np.full((3, 10, 20, 20), 8.0, np.float32) + rng.normal(0, 0.3, (3, 10, 20, 20)).astype(np.float32)
    X[:, :, :2, :] = 0.0  # the lesion's voxels: 10 % of the box
    sizes: list[int] = []
    real = _multiphase._joint_distance

    def counting(xp, centre):  # type: ignore[no-untyped-def]
        sizes.append(int(np.prod(xp.shape[1:])))
        return real(xp, centre)

    monkeypatch.setattr(_multiphase, "_joint_distance", counting)
    cand, _ = _multiphase._nearer_than_classes(X, np.zeros(3), [np.full(3, 4.0), np.full(3, -4.0)], 3.0)
    assert int(cand.sum()) == 400
    assert sizes[0] == X[0].size  # the lesion's distance: the whole box
    assert sizes[1:] == [400, 400]  # each class: the voxels within the far bound


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_boxes_in_noise_units_are_the_stacks_values(dtype: type) -> None:
    """``_multiphase._in_sigmas`` (2026-12-07: one phase-major float32 array, the boxes divided into it) gives the
    values the stack of divided boxes cast to float32 gave, bit for bit, for float64 and float32 boxes."""
    rng = np.random.default_rng(3)
    parts = [((rng.normal(size=(9, 13, 11)) * 40 + 60).astype(dtype), float(rng.uniform(0.5, 20.0))) for _ in range(4)]
    want = np.stack([s / scale for s, scale in parts]).astype(np.float32, copy=False)
    got = _multiphase._in_sigmas(parts)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want)

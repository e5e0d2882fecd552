"""How well does a small lesion's mask determine its truth?  (docs/measure.md section 2)

For each 5-8 mm ellipsoid of tests/measure/test_measure_accuracy.py, a random walk (many
chains, Gaussian steps on centre, semi-axes and in-plane angle) moves through the ellipsoids
of the accuracy tests' own family (c along S, b <= a, b/a >= 0.5, 0.6 <= c/a <= 1.1) whose
rasterisation (voxel in = centre inside) is IDENTICAL to the case's mask, and records the
range of their truths (LD, short axis on the sampled planes).  Every ellipsoid visited has the
same mask, so a mask-based estimator answers the same for all of them:

* half the range is a lower bound of the worst error of ANY estimator on that mask (the walk
  may not reach the extremes, so the true range can only be wider);
* the "worst" column is the largest error of hcc_imaging's estimate over the ellipsoids
  visited; "OUT" marks an estimate outside the range (no ellipsoid of the family with that
  truth gives this mask: an estimator error, not a data limit).

Usage (about 2 minutes on one core)::

    PYTHONPATH=. python scripts/measure_mask_ambiguity.py [case-id-prefix ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcc_imaging.measure import measure_lesion  # noqa: E402
from tests.measure._shapes import Ellipsoid, ellipsoid_labels, plane_z  # noqa: E402
from tests.measure.test_measure_accuracy import CASES, DIRECTIONS, _s_axis  # noqa: E402


def _inside(points: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Voxel-centre membership for many ellipsoids at once; X rows: cx, cy, cz, a, b, c, angle."""
    d = points[None] - X[:, None, :3]
    ct, st = np.cos(X[:, 6])[:, None], np.sin(X[:, 6])[:, None]
    u = d[..., 0] * ct + d[..., 1] * st
    v = -d[..., 0] * st + d[..., 1] * ct
    return (u / X[:, 3:4]) ** 2 + (v / X[:, 4:5]) ** 2 + (d[..., 2] / X[:, 5:6]) ** 2 <= 1.0


def _truths(z: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.sqrt(np.clip(1.0 - ((z[None] - X[:, 2:3]) / X[:, 5:6]) ** 2, 0.0, None)).max(axis=1)
    return 2.0 * np.maximum(X[:, 3], X[:, 4]) * s, 2.0 * np.minimum(X[:, 3], X[:, 4]) * s


def _in_family(X: np.ndarray) -> np.ndarray:
    a, b, c = X[:, 3], X[:, 4], X[:, 5]
    return (b <= a) & (b >= 0.5 * a) & (c >= 0.6 * a) & (c <= 1.1 * a)


def truth_ranges(e: Ellipsoid, lv, axis: int, chains: int = 200, steps: int = 400, seed: int = 0):
    """(min, max) of the LD and SA truths (mm) over the walk through same-mask ellipsoids."""
    rng = np.random.default_rng(seed)
    pts = lv.index_to_lps(np.argwhere(np.ones(lv.shape, bool)).astype(float))
    z = plane_z(lv, axis)
    X0 = np.r_[e.centre, e.a, e.b, e.c, e.angle_rad]
    ref = np.asarray(lv.array).ravel() != 0
    assert (_inside(pts, X0[None])[0] == ref).all()
    X = np.tile(X0, (chains, 1))
    step = np.r_[np.full(3, 0.05 * max(lv.spacing)), 0.02 * e.a, 0.02 * e.b, 0.02 * e.c, 0.03]
    lo, hi = np.array(_truths(z, X0[None]))[:, 0], np.array(_truths(z, X0[None]))[:, 0]
    for _ in range(steps):
        Y = X + rng.normal(size=X.shape) * step * rng.choice([0.3, 1.0, 3.0], size=(chains, 1))
        ok = _in_family(Y) & (_inside(pts, Y) == ref).all(axis=1)
        X[ok] = Y[ok]
        t = np.array(_truths(z, X))
        lo, hi = np.minimum(lo, t.min(axis=1)), np.maximum(hi, t.max(axis=1))
    return (lo[0], hi[0]), (lo[1], hi[1])


def main(prefixes: list[str]) -> None:
    prefixes = prefixes or ["5mm", "8mm"]
    print(f"{'case':30s} quantity: error of hcc_imaging | range of same-mask truths | half range | worst (voxels)")
    for p in CASES:
        if not p.id.startswith(tuple(prefixes)):
            continue
        e, sp, dn = p.values
        lv = ellipsoid_labels(e, sp, DIRECTIONS[dn])
        ax = _s_axis(DIRECTIONS[dn])
        h = max(sp[k] for k in range(3) if k != ax)
        m = measure_lesion(lv, 1)
        z = plane_z(lv, ax)
        truth = e.ld_sa_truth(z)
        cols = []
        for name, est, t, (lo, hi) in zip(("LD", "SA"), (m.longest_diameter_mm, m.short_axis_mm), truth, truth_ranges(e, lv, ax)):
            worst = max(abs(est - lo), abs(est - hi)) / h
            flag = "IN " if lo <= est <= hi else "OUT"
            cols.append(f"{name} {(est - t) / h:+.2f} [{lo / h:.2f}, {hi / h:.2f}] {0.5 * (hi - lo) / h:.2f} {worst:.2f} {flag}")
        print(f"{p.id:30s} " + " | ".join(cols), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

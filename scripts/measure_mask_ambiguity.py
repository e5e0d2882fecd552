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

Usage::

    # the fixed 5-8 mm test cases (about 2 minutes on one core)
    PYTHONPATH=. python scripts/measure_mask_ambiguity.py [case-id-prefix ...]
    # the draws of scripts/measure_accuracy_random.py SEED N LO HI in a size band with an
    # error above half a voxel: same-mask ranges of LD, SA, Feret (plain walk, seconds each;
    # --directed: then the directed walks for each quantity above half a voxel, ~20 s each)
    PYTHONPATH=. python scripts/measure_mask_ambiguity.py --random 201 1500 5 16 8 12 --directed
    # a same-mask pair from an ellipsoid: directed walks to the smallest and the largest LD
    # (``push``; about 3 minutes), e.g. the 12.5 mm pair of test_small_lesion_truth_is_not_fixed_by_the_mask
    PYTHONPATH=. python scripts/measure_mask_ambiguity.py --pair ct2.5 axial 6.282600577247983 \
        3.7423061927681505 4.0257416068108345 2.6867747795720867 2.1677009770660103 \
        2.2592225784994833 -0.16854168384725865     # a b c angle cx cy cz

The directed walk (``push``: Metropolis towards one end, moves checked on the voxels within 2
of the boundary, the end result on the whole grid) reaches wider ranges than the plain walk
(e.g. 8.7 mm at 1 mm voxels: [-0.35, +0.07] -> [-0.41, +0.18] voxel); both are lower bounds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hcc_imaging.measure import measure_lesion  # noqa: E402
from tests.measure._shapes import Ellipsoid, ellipsoid_labels, plane_z  # noqa: E402
from tests.measure.test_measure_accuracy import CASES, DIRECTIONS, SPACINGS, _s_axis  # noqa: E402


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


def _feret(z: np.ndarray, X: np.ndarray) -> np.ndarray:
    """3-D Feret truth of the sampled sections (as ``Ellipsoid.feret_truth``), per row of X."""
    s = np.sqrt(np.clip(1.0 - ((z[None] - X[:, 2:3]) / X[:, 5:6]) ** 2, 0.0, None))
    big = np.maximum(X[:, 3], X[:, 4])[:, None, None]
    d2 = (z[None, :, None] - z[None, None, :]) ** 2 + (big * (s[:, :, None] + s[:, None, :])) ** 2
    d2 = np.where((s[:, :, None] > 0) & (s[:, None, :] > 0), d2, 0.0)
    return np.sqrt(d2.reshape(len(X), -1).max(axis=1))


def walk(e: Ellipsoid, lv, axis: int, chains: int = 200, steps: int = 400, seed: int = 0):
    """Random walk through the ellipsoids of the family whose mask equals ``lv``'s.  Returns
    {"LD" | "SA" | "Feret": (min, max, X at min, X at max)}, truths in mm, X rows: cx, cy, cz,
    a, b, c, angle (every X visited rasterises to the same mask on every voxel of the grid)."""
    rng = np.random.default_rng(seed)
    pts = lv.index_to_lps(np.argwhere(np.ones(lv.shape, bool)).astype(float))
    z = plane_z(lv, axis)
    X0 = np.r_[e.centre, e.a, e.b, e.c, e.angle_rad]
    ref = np.asarray(lv.array).ravel() != 0
    assert (_inside(pts, X0[None])[0] == ref).all()
    X = np.tile(X0, (chains, 1))
    step = np.r_[np.full(3, 0.05 * max(lv.spacing)), 0.02 * e.a, 0.02 * e.b, 0.02 * e.c, 0.03]

    def truths(X):
        ld, sa = _truths(z, X)
        return {"LD": ld, "SA": sa, "Feret": _feret(z, X)}

    t0 = truths(X0[None])
    out = {k: [v[0], v[0], X0.copy(), X0.copy()] for k, v in t0.items()}
    for _ in range(steps):
        Y = X + rng.normal(size=X.shape) * step * rng.choice([0.3, 1.0, 3.0], size=(chains, 1))
        ok = _in_family(Y) & (_inside(pts, Y) == ref).all(axis=1)
        X[ok] = Y[ok]
        for k, v in truths(X).items():
            i, j = int(v.argmin()), int(v.argmax())
            if v[i] < out[k][0]:
                out[k][0], out[k][2] = v[i], X[i].copy()
            if v[j] > out[k][1]:
                out[k][1], out[k][3] = v[j], X[j].copy()
    return {k: tuple(v) for k, v in out.items()}


def truth_ranges(e: Ellipsoid, lv, axis: int, chains: int = 200, steps: int = 400, seed: int = 0):
    """(min, max) of the LD and SA truths (mm) over the walk through same-mask ellipsoids."""
    w = walk(e, lv, axis, chains, steps, seed)
    return w["LD"][:2], w["SA"][:2]


def _qform(points: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Normalised quadratic form of every point for every ellipsoid (row) of X."""
    d = points[None] - X[:, None, :3]
    ct, st = np.cos(X[:, 6])[:, None], np.sin(X[:, 6])[:, None]
    u = d[..., 0] * ct + d[..., 1] * st
    v = -d[..., 0] * st + d[..., 1] * ct
    return (u / X[:, 3:4]) ** 2 + (v / X[:, 4:5]) ** 2 + (d[..., 2] / X[:, 5:6]) ** 2


def push(X0, lv, axis: int, sign: int, qty: str = "LD", chains: int = 100, steps: int = 1500,
         margin: float = 1e-3, temp_mm: float = 0.01, seed: int = 0, plane: int | None = None):
    """Directed walk (Metropolis, temperature ``temp_mm``) through the same-mask ellipsoids of
    the family towards the smallest (sign -1) or largest (+1) truth ``qty``, every voxel centre
    at least ``margin`` (normalised quadratic form) from the surface.  Moves are checked on the
    voxels within 2 of the mask's boundary, the result on the whole grid.  With ``plane`` (an
    index along ``axis``) only that plane's voxels count and the truth is that plane's section:
    the range one slice's mask alone allows.  Returns (truth, X)."""
    from scipy import ndimage  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    arr = np.asarray(lv.array) != 0
    band = ndimage.binary_dilation(arr, iterations=2) & ~ndimage.binary_erosion(arr, iterations=2)
    z = plane_z(lv, axis)
    if plane is not None:
        keep = np.zeros(arr.shape, bool)
        keep[(slice(None),) * axis + (plane,)] = True
        band &= keep
        z = z[[plane]]
    band = band.ravel()
    allpts = lv.index_to_lps(np.argwhere(np.ones(lv.shape, bool)).astype(float))
    pts, ref = allpts[band], arr.ravel()[band]

    def ok(Y):
        q = _qform(pts, Y)
        return _in_family(Y) & ((q <= 1) == ref).all(axis=1) & (np.abs(q - 1) >= margin).all(axis=1)

    def val(Y):
        return _feret(z, Y) if qty == "Feret" else _truths(z, Y)[qty == "SA"]

    X = np.tile(np.asarray(X0, float), (chains, 1))
    if not ok(X[:1])[0]:
        raise ValueError("the start is not clear of the mask's voxel centres by the margin")
    step = np.r_[np.full(3, 0.05 * max(lv.spacing)), 0.02 * X0[3], 0.02 * X0[4], 0.02 * X0[5], 0.03]
    f = val(X)
    best, bx = f[0], X[0].copy()
    for _ in range(steps):
        Y = X + rng.normal(size=X.shape) * step * rng.choice([0.1, 0.3, 1.0, 3.0], size=(chains, 1))
        g = val(Y)
        acc = ok(Y) & (rng.random(chains) < np.exp(np.minimum(0, sign * (g - f)) / temp_mm))
        X[acc], f[acc] = Y[acc], g[acc]
        i = int(np.argmax(sign * f))
        if sign * f[i] > sign * best:
            best, bx = f[i], X[i].copy()
    if plane is None:
        q = _qform(allpts, bx[None])[0]
        assert ((q <= 1) == arr.ravel()).all() and np.abs(q - 1).min() >= margin
    return best, bx


def pair(e: Ellipsoid, spacing, dir_name: str, steps: tuple[int, int] = (1500, 3000)) -> None:
    """A same-mask pair of ``e``'s mask (grid of ``ellipsoid_labels``): pushed to the smallest
    and the largest LD (``steps[0]``), then once more from each end (``steps[1]``), rounded to
    4 decimals; prints the grid, both ellipsoids and their LD truths."""
    D = DIRECTIONS[dir_name]
    ax = _s_axis(D)
    lv = ellipsoid_labels(e, spacing, D)
    h = max(spacing[k] for k in range(3) if k != ax)
    X0 = np.r_[e.centre, e.a, e.b, e.c, e.angle_rad]
    _, xlo = push(X0, lv, ax, -1, steps=steps[0])
    _, xhi = push(X0, lv, ax, +1, steps=steps[0])
    _, xlo = push(xlo, lv, ax, -1, steps=steps[1], seed=1)
    _, xhi = push(xhi, lv, ax, +1, steps=steps[1], seed=2)
    z = plane_z(lv, ax)
    print(f"grid shape {lv.shape} origin {tuple(float(o) for o in lv.origin)} spacing {spacing} {dir_name}")
    lds = []
    for X in (xlo, xhi):
        r = np.round(X, 4)
        ell = Ellipsoid(float(r[3]), float(r[4]), float(r[5]), float(r[6]), (float(r[0]), float(r[1]), float(r[2])))
        lds.append(ell.ld_sa_truth(z)[0])
        print(f"  {ell}  LD {lds[-1]:.3f} mm")
    print(f"  LD difference {(lds[1] - lds[0]) / h:.2f} voxel (check the rounded pair with the test's assertions)")


def classify_random(seed: int, n: int, lo: float, hi: float, band: tuple[float, float], directed: bool = False) -> None:
    """The draws of scripts/measure_accuracy_random.py SEED N LO HI in ``band`` (mm) with an
    error above half a voxel: where our estimate stands in the same-mask truth range (plain
    walk; with ``directed``, then the directed walks to both ends for each quantity above half
    a voxel)."""
    from scripts.measure_accuracy_random import draws  # noqa: PLC0415

    for k, d, sp_name, sp, dn, e in draws(seed, n, lo, hi):
        if not band[0] <= d < band[1]:
            continue
        lv = ellipsoid_labels(e, sp, DIRECTIONS[dn])
        ax = _s_axis(DIRECTIONS[dn])
        m = measure_lesion(lv, 1)
        z = plane_z(lv, ax)
        h = max(sp[q] for q in range(3) if q != ax)
        truth = dict(zip(("LD", "SA"), e.ld_sa_truth(z)), Feret=e.feret_truth(z))
        est = {"LD": m.longest_diameter_mm, "SA": m.short_axis_mm, "Feret": m.feret_3d_mm}
        if max(abs(est[q] - truth[q]) for q in est) <= 0.5 * h:
            continue
        w = walk(e, lv, ax)
        cols = []
        X0 = np.r_[e.centre, e.a, e.b, e.c, e.angle_rad]
        for q in ("LD", "SA", "Feret"):
            lo_t, hi_t = w[q][:2]
            flag = "IN " if lo_t <= est[q] <= hi_t else "OUT"
            col = (f"{q} {(est[q] - truth[q]) / h:+.2f} [{(lo_t - truth[q]) / h:+.2f}, {(hi_t - truth[q]) / h:+.2f}] "
                   f"{0.5 * (hi_t - lo_t) / h:.2f} {flag}")
            if directed and abs(est[q] - truth[q]) > 0.5 * h:
                # the directed walk to each end (wider; still a lower bound of the range)
                lo_t = min(lo_t, push(X0, lv, ax, -1, qty=q, margin=0.0)[0])
                hi_t = max(hi_t, push(X0, lv, ax, +1, qty=q, margin=0.0)[0])
                flag = "IN " if lo_t <= est[q] <= hi_t else "OUT"
                col += f" -> directed [{(lo_t - truth[q]) / h:+.2f}, {(hi_t - truth[q]) / h:+.2f}] {0.5 * (hi_t - lo_t) / h:.2f} {flag}"
            cols.append(col)
        print(f"{seed}/{k} {d:.2f} mm {sp_name} {dn} n={int(np.count_nonzero(lv.array))}: " + " | ".join(cols), flush=True)


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
    if sys.argv[1:2] == ["--random"]:  # --random SEED N LO HI BAND_LO BAND_HI [--directed]
        a = sys.argv[2:]
        classify_random(int(a[0]), int(a[1]), float(a[2]), float(a[3]), (float(a[4]), float(a[5])), "--directed" in a)
    elif sys.argv[1:2] == ["--pair"]:  # --pair SPACING DIRECTION a b c angle cx cy cz
        a = sys.argv[2:]
        v = [float(x) for x in a[2:9]]
        sp = SPACINGS[a[0]]
        if a[1] == "S-on-axis1":
            sp = (sp[1], sp[0], sp[2])
        pair(Ellipsoid(v[0], v[1], v[2], v[3], (v[4], v[5], v[6])), sp, a[1])
    else:
        main(sys.argv[1:])

"""Probe, not the product's method: a per-ray two-tissue border for a necrotic lesion in an enhancing rind.

On 0.7 mm pixels ``segment_lesion`` leaves 30 of the rind sweep's 40 fine-grid runs below 0.95
(``sweep_segment_rind.py``; docs/validation.md section 2.2, "Algorithm 1.20" and "A probe for
the fine-grid rinds").  No single level marks a layer about as thick as the blur, so this probe
fits a model instead, on the arterial phase of the same scenes (``tests/segment/_phantom.py``
``rim_scene``):

1. The core: the component at the click of the arterial phase smoothed by 1 mm below the half-way
   level between the click's 2 mm median and the scene's far parenchyma (its outer frame).
2. Rays from the core's centroid (24 polar x 48 azimuthal directions, samples every 0.35 mm, linear
   interpolation of the raw image), and along each ray the core's exit: its first, or with
   ``--last-exit`` (the default) its last voxel (a lobulated core re-enters).
3. Along each ray ``N Phi((i - r) / w) + R (Phi((o - r) / w) - Phi((i - r) / w)) + P (1 - Phi((o - r) / w))``:
   core N inside the inner edge i, layer R between i and the outer edge o, parenchyma P beyond, one
   Gaussian blur w.  N, R, P and w are shared by all rays (one tissue each); i and o are each
   ray's own, found by a grid search (i within 2.5 mm of the core's exit, o - i up to ``--t-max``),
   on the samples from 4 mm inside the exit to ``--t-max`` + 2 mm beyond it.  Then N, R, P by
   least squares and w from a grid, four rounds.  A thin layer trades its value against its
   thickness (a 1.5 mm rim of 115 HU blurred by 1 mm looks like a 3 mm one of 90 HU), and the
   alternating fit stays where it starts, so ``--r-search`` (the default) first picks R from a grid
   (the layer's 90th percentile + 0-60 HU) by the rays' total residual.  A ray that crosses the
   layer obliquely sees it thicker and more blurred: each ray's blur is the point-spread along the
   surface's normal (from the core's exit radii) over the cosine between ray and normal (the
   default; ``--no-oblique`` uses w along every ray, which brought a thin rim's R down to 89-99 HU).
   ``--axis-blur`` fits an in-plane and a z blur instead of one.
4. The mask: voxels inside the outer edges (a 3 x 3 median over directions, linear interpolation
   between rays).

The grid search is exact but cheap: the residual of a ray, expanded in R, is a sum of terms in
A = Phi((i - r) / w) alone, B = Phi((o - r) / w) alone and their product, so each round is one
small matrix product per ray (inner x samples times samples x outer), every value of R reuses
them, and Phi comes from a table per ray (the exit and the samples lie on the same 0.35 mm steps).
0.3-0.5 s a scene in numpy (the first version, a loop over the candidates, took 3-13 s).

Prints Dice and volume ratio against the truth for each scene and the count below 0.95: a probe
of what a model-based border can reach, for whoever builds it.

Usage::

    python benchmarks/probe_rind_rays.py [--kinds oval lobulated] [--rims 1.5 2 2.5 3 3.5] [--noise 5 15]
        [--seeds 0 1] [--grid 1.5,0.7,0.7] [--t-max 7] [--first-exit] [--no-r-search] [--no-oblique]
        [--axis-blur]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.segment._phantom import dice, rim_scene, rim_scene_shape  # noqa: E402

NTH, NPH = 24, 48
STEP_MM = 0.35


def core_region(art: NDArray[np.int16], click: tuple[int, int, int], sp: tuple[float, ...]) -> tuple[NDArray[np.bool_], float, float]:
    """The click's dark core, its value and the far parenchyma's (step 1 of the docstring)."""
    sm = ndi.gaussian_filter(art.astype(np.float32), [1.0 / s for s in sp])
    k = np.ceil(2.0 / np.asarray(sp)).astype(int)
    n0 = float(np.median(art[tuple(slice(c - kk, c + kk + 1) for c, kk in zip(click, k, strict=True))]))
    frame = np.ones(art.shape, bool)
    frame[tuple(slice(8, -8) for _ in range(3))] = False
    p0 = float(np.median(art[frame]))
    lab, _ = ndi.label(sm < n0 + 0.5 * (p0 - n0))
    return lab == lab[click], n0, p0


def ray_directions() -> NDArray[np.float64]:
    """The rays' unit directions (NTH polar x NPH azimuthal x 3, in z, y, x order): the method's
    (``segment/_rind.py``), with this probe's count."""
    from hcc_imaging.segment import _rind

    return _rind._ray_directions(NTH, NPH)


def ray_points(centre: NDArray[np.float64], sp: NDArray[np.float64], rmax: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sample radii and the voxel coordinates of every ray's samples (NTH x NPH x radii x 3)."""
    u = ray_directions()
    r = np.arange(0.0, rmax, STEP_MM)
    return r, centre[None, None, None, :] + u[:, :, None, :] * (r[None, None, :, None] / sp)


def fit_rays(art: NDArray[np.int16], core: NDArray[np.bool_], sp_: tuple[float, ...], n0: float, p0: float,
             t_max: float, last_exit: bool, r_search: bool, axis_blur: bool = False,
             oblique: bool = True):  # type: ignore[no-untyped-def]
    """Steps 2-3: the centroid, each ray's inner and outer edge and the shared (w, N, R, P); w is
    (in-plane, along z) with ``axis_blur``, else one value for both."""
    sp = np.asarray(sp_)
    c = np.array(ndi.center_of_mass(core))
    r, pts = ray_points(c, sp, 30.0)
    coords = pts.reshape(-1, 3).T
    prof = ndi.map_coordinates(art.astype(np.float64), coords, order=1, mode="nearest").reshape(NTH, NPH, r.size)
    inc = ndi.map_coordinates(core.astype(np.uint8), coords, order=0, mode="constant").reshape(NTH, NPH, r.size) > 0
    if last_exit:
        exit_j = np.minimum(r.size - np.argmax(inc[..., ::-1], axis=-1), r.size - 1)
    else:
        exit_j = np.argmax(~inc, axis=-1)
    rc = r[exit_j]
    n, p = n0, p0
    layer = (r > rc[..., None]) & (r <= rc[..., None] + 3.0)
    rv = float(np.percentile(prof[layer], 90)) if layer.any() else p0  # (a core that fills every ray)
    w = (1.0, 1.0)
    polar = (np.arange(NTH) + 0.5) / NTH * np.pi

    # the surface normal at each ray's exit (from the exit radii, smoothed over directions), for a
    # ray that crosses the layer obliquely: along it the blur is the point-spread along the normal
    # over cos(ray, normal)
    u_dir = ray_directions()
    surf = arc_median(rc)[..., None] * u_dir  # mm from the centroid
    d_th = np.gradient(surf, axis=0)
    d_ph = (np.roll(surf, -1, axis=1) - np.roll(surf, 1, axis=1)) / 2.0
    normal = np.cross(d_th, d_ph)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    cos_a = np.clip(np.abs((normal * u_dir).sum(-1)), 0.3, 1.0)

    def ray_blur(w: tuple[float, float]) -> NDArray[np.float64]:
        """Each ray's blur: the in-plane and z blurs along its direction, or (``oblique``) along the
        surface's normal divided by the cosine between the two (NTH x NPH)."""
        if oblique:
            return np.sqrt((w[1] * normal[..., 0]) ** 2 + (w[0] ** 2) * (normal[..., 1] ** 2 + normal[..., 2] ** 2)) / cos_a
        return np.broadcast_to(np.sqrt((w[1] * np.cos(polar)) ** 2 + (w[0] * np.sin(polar)) ** 2)[:, None], (NTH, NPH))

    d_inner = np.arange(-2.5, 2.51, 0.25)
    win = (r >= rc[..., None] - 4.0) & (r <= rc[..., None] + t_max + 2.0)

    # each ray's window as a fixed-length run of samples (zero weight outside the window)
    k_rays = NTH * NPH
    n_win = int(np.ceil((6.0 + t_max) / STEP_MM)) + 2
    j0 = np.clip(np.ceil((rc.reshape(-1) - 4.0) / STEP_MM - 1e-9).astype(int), 0, r.size - 1)
    jj = j0[:, None] + np.arange(n_win)[None, :]
    ok = jj < r.size
    jj = np.minimum(jj, r.size - 1)
    pw = prof.reshape(k_rays, -1)[np.arange(k_rays)[:, None], jj]
    mw = (ok & win.reshape(k_rays, -1)[np.arange(k_rays)[:, None], jj]).astype(np.float64)
    rcf = rc.reshape(-1)
    lags_kj = exit_j.reshape(-1)[:, None] - jj  # whole steps from each window sample to the exit
    lag = np.arange(lags_kj.min(), lags_kj.max() + 1)
    lag_idx = lags_kj - lag[0]
    d_outer = np.arange(-2.5, 2.5 + t_max + 0.01, 0.25)
    thick = d_outer[None, :] - d_inner[:, None]
    valid = (thick >= -1e-9) & (thick <= t_max + 1e-9)

    def edge_terms(n: float, p: float, w: tuple[float, float]):  # type: ignore[no-untyped-def]
        """The sums of the residual's expansion that do not depend on R (step 3's search is exact:
        SSE(i, o) = sum d^2 + (R-P)^2 sum B^2 + (N-R)^2 sum A^2 + 2 (R-P) sum dB + 2 (N-R) sum dA
        + 2 (R-P)(N-R) sum AB, with d = P - value, A = Phi((i - r) / w), B = Phi((o - r) / w))."""
        # Phi of (exit - sample + offset) / w from a table: exit - sample is a whole number of steps
        wr = ray_blur(w).reshape(-1)[:, None, None]
        ta = ndtr((lag[None, :, None] * STEP_MM + d_inner[None, None, :]) / wr)  # rays x lags x inner offsets
        tb = ndtr((lag[None, :, None] * STEP_MM + d_outer[None, None, :]) / wr)
        a = ta[np.arange(k_rays)[:, None], lag_idx].transpose(0, 2, 1) * mw[:, None, :]
        b = tb[np.arange(k_rays)[:, None], lag_idx].transpose(0, 2, 1) * mw[:, None, :]
        d = (p - pw) * mw
        return ((d * d).sum(-1), (a * a).sum(-1), (b * b).sum(-1), np.einsum("kj,kaj->ka", d, a),
                np.einsum("kj,kbj->kb", d, b), np.matmul(a, b.transpose(0, 2, 1)))

    def per_ray(n: float, rv: float, p: float, w: tuple[float, float], terms=None):  # type: ignore[no-untyped-def]
        dd, aa, bb, da, db, ab = edge_terms(n, p, w) if terms is None else terms
        sse = (dd[:, None, None] + (rv - p) ** 2 * bb[:, None, :] + (n - rv) ** 2 * aa[:, :, None]
               + 2 * (rv - p) * db[:, None, :] + 2 * (n - rv) * da[:, :, None] + 2 * (rv - p) * (n - rv) * ab)
        sse = np.where(valid[None], sse, np.inf).reshape(k_rays, -1)
        best = sse.argmin(-1)
        ia, ib = np.unravel_index(best, valid.shape)
        return (sse[np.arange(k_rays), best].reshape(NTH, NPH), (rcf + d_inner[ia]).reshape(NTH, NPH),
                (rcf + d_outer[ib]).reshape(NTH, NPH))

    if r_search:
        grid = rv + np.arange(0.0, 61.0, 5.0)
        terms = edge_terms(n, p, w)
        rv = float(grid[int(np.argmin([per_ray(n, g, p, w, terms)[0].sum() for g in grid]))])
    bi = bo = np.zeros((NTH, NPH))
    for _ in range(4):
        _, bi, bo = per_ray(n, rv, p, w)
        best = None
        blurs = (0.6, 0.8, 1.0, 1.2, 1.5, 2.0)
        for ww in (itertools.product(blurs, blurs) if axis_blur else ((v, v) for v in blurs)):
            wr = ray_blur(ww)[..., None]
            a = ndtr((bi[..., None] - r) / wr)
            b = ndtr((bo[..., None] - r) / wr)
            x = np.stack([a[win], (b - a)[win], (1 - b)[win]], 1)
            coef = np.linalg.lstsq(x, prof[win], rcond=None)[0]
            sse = float(((x @ coef - prof[win]) ** 2).sum())
            if best is None or sse < best[0]:
                best = (sse, ww, coef)
        _, w, (n, rv, p) = best
    return c, bi, bo, (w, n, rv, p)


def star_mask(shape: tuple[int, ...], sp_: tuple[float, ...], c: NDArray[np.float64], radius: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Step 4: voxels within the outer edge, linearly interpolated between the rays."""
    sp = np.asarray(sp_)
    k, j, i = np.indices(shape).astype(float)
    dz, dy, dx = (k - c[0]) * sp[0], (j - c[1]) * sp[1], (i - c[2]) * sp[2]
    dist = np.sqrt(dz * dz + dy * dy + dx * dx)
    polar = np.arccos(np.clip(dz / np.maximum(dist, 1e-9), -1, 1))
    azim = np.mod(np.arctan2(dy, dx), 2 * np.pi)
    wrapped = np.concatenate([radius, radius[:, :1]], 1)
    rv = ndi.map_coordinates(wrapped, [polar / np.pi * NTH - 0.5, azim / (2 * np.pi) * NPH], order=1, mode="nearest")
    return dist <= rv  # type: ignore[no-any-return]


def arc_median(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """A 3 x 3 median over the directions (the method's)."""
    from hcc_imaging.segment import _rind

    return _rind._arc_median(a)


def main(argv: list[str] | None = None) -> int:
    from hcc_imaging._blas import one_blas_thread

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", default=["oval", "lobulated"])
    ap.add_argument("--rims", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0, 3.5])
    ap.add_argument("--noise", type=float, nargs="+", default=[5.0, 15.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--grid", default="1.5,0.7,0.7", help="spacing, mm (slice,row,col)")
    ap.add_argument("--t-max", type=float, default=7.0, help="the thickest layer searched, mm (default 7)")
    ap.add_argument("--first-exit", action="store_true", help="the core's first exit along a ray, not its last")
    ap.add_argument("--no-r-search", action="store_true", help="the layer's value from the alternating fit only")
    ap.add_argument("--axis-blur", action="store_true", help="an in-plane and a z blur (projected on each ray), not one")
    ap.add_argument("--no-oblique", action="store_true", help="one blur along every ray, not the point-spread along the surface's normal over cos(ray, normal)")
    args = ap.parse_args(argv)
    sp = tuple(float(v) for v in args.grid.split(","))
    shp = rim_scene_shape(sp)  # type: ignore[arg-type]
    dices = []
    for kind, rim, sd, seed in itertools.product(args.kinds, args.rims, args.noise, args.seeds):
        vols, truth, click = rim_scene(kind, seed, sd, rim_mm=rim, spacing=sp, shape=shp)  # type: ignore[arg-type]
        art = next(v.array for k, v in vols.items() if str(k) == "arterial")
        t = time.perf_counter()
        with one_blas_thread():  # (as segment_lesion runs)
            core, n0, p0 = core_region(art, click, sp)
            c, _, bo, (w, n, rv, p) = fit_rays(art, core, sp, n0, p0, args.t_max, not args.first_exit,
                                               not args.no_r_search, args.axis_blur, not args.no_oblique)
            m = star_mask(shp, sp, c, arc_median(bo))
        d = dice(m, truth)
        dices.append(d)
        print(f"{kind:9s} rim {rim:3.1f} mm noise {sd:4.1f} seed {seed}: Dice {d:.3f} volume ratio {m.sum() / truth.sum():.3f} "
              f"(blur {w[0]:.2f} / {w[1]:.2f} mm in-plane / z, core {n:.0f}, layer {rv:.0f}, parenchyma {p:.0f} HU; {time.perf_counter() - t:.1f} s)", flush=True)
    print(f"{len(dices)} scenes: {sum(d < 0.95 for d in dices)} below 0.95, Dice median {float(np.median(dices)):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

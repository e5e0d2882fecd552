"""Probe, not the product's method: a necrotic lesion's rind as two nested surfaces fitted on the image's grid.

The per-ray probe (``probe_rind_rays.py``) fits a 1D profile along each ray, and on 1.5 mm slices
that profile, interpolated between slices, is not the model's blurred step where a rim is one
slice thick: near-spherical rims came out 1.1-1.3 x too large.  This probe fits the image itself,
as step 12b fits one tissue's surface (``hcc_imaging.segment._surface``): two star-shaped surfaces
around the core's centroid, the core's S_in and the layer's S_out (radius a polynomial of the
direction, degree ``--degree``, each with step 12's roughness prior), and

    image = P + (R - P) G * S_out + (N - R) G * S_in

with G the scanner's point-spread (here the phantoms' known 1 mm Gaussian, ``--psf-mm``) and P, R,
N one value each (least squares, closed form, at every step).  The surfaces start from the per-ray
probe's inner and outer edges and are fitted on the voxels within 5 mm of them by step 12's
Gauss-Newton for two surfaces: the model's derivative along a surface's coefficient k is taken as
(its scale) x G * (the surface's partial-volume ramp) x Y_k, the ramps refreshed after each
accepted step, with step halving on chi^2 + the roughness prior (0.4-0.8 s a lesion with the rays'
start; ``--numeric``: scipy's least squares with a numeric Jacobian, 4-40 s, about the same masks).
The mask is the voxel centres inside S_out.

Usage::

    python benchmarks/probe_rind_surfaces.py [--kinds oval lobulated] [--rims 1.5 2 2.5 3 3.5]
        [--noise 5 15] [--seeds 0] [--grid 1.5,0.7,0.7] [--degree 4] [--smoothing 5] [--numeric]
    python benchmarks/probe_rind_surfaces.py --study [--noise 5 15]   # the 512 x 512 study's rim-only lesions
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import probe_rind_rays as rays  # noqa: E402

from tests.segment._phantom import dice, rim_scene, rim_scene_shape  # noqa: E402


def two_surfaces(art: NDArray[np.int16], core: NDArray[np.bool_], sp_: tuple[float, ...], n0: float, p0: float,
                 psf_mm: float, degree: int, smoothing: float, numeric: bool = False):  # type: ignore[no-untyped-def]
    """The fitted layer's mask (whole array), the start's (the rays' edges as a surface), the
    values (P, R, N) and the fit's objective (with ``numeric``: the function evaluations)."""
    from hcc_imaging.segment import _rind, _surface
    from hcc_imaging.segment._morph import robust_sigma
    from hcc_imaging.segment import constants as C

    sp = np.asarray(sp_, float)
    c_vox, bi, bo, _ = rays.fit_rays(art, core, sp_, n0, p0, 7.0, True, True, False, True)
    y_ray = _surface._direction_terms(rays.ray_directions().reshape(-1, 3), degree)
    c_in = np.linalg.lstsq(y_ray, rays.arc_median(bi).ravel(), rcond=None)[0]
    c_out = np.linalg.lstsq(y_ray, rays.arc_median(bo).ravel(), rcond=None)[0]
    rmax = float(rays.arc_median(bo).max()) + 6.0
    lo = np.maximum(np.floor(c_vox - rmax / sp).astype(int), 0)
    hi = np.minimum(np.ceil(c_vox + rmax / sp).astype(int) + 1, np.asarray(art.shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    img = art[box].astype(np.float64)
    centre = (c_vox - lo) * sp
    rho, u = _surface._polar(img.shape, sp, centre)
    y = _surface._direction_terms(u.reshape(-1, 3), degree).reshape(img.shape + (-1,))
    r_in0, r_out0 = y @ c_in, y @ c_out
    use = (rho <= r_out0 + 5.0) & (rho >= np.maximum(r_in0 - 5.0, 0.0))
    # the model's partial-volume ramp as wide as the mean spacing (step 13's first ramp), float32 as
    # step 13 renders it (_rind._render, _rind._gauss_newton_steps)
    h = np.full(rho.shape, float(sp.mean()), dtype=np.float32)
    rho32 = rho.astype(np.float32)
    y_t, yu = _rind._float32_terms(y.reshape(-1, y.shape[-1]), use.reshape(-1))
    sig = [psf_mm / v for v in sp]
    data = img[use]
    k = y.shape[-1]
    ev, evec = np.linalg.eigh(_surface._roughness(degree, C.LESION_BLUR_MODEL_FREE_DEGREE))
    root = np.sqrt(np.maximum(ev, 0.0))[:, None] * evec.T  # root.T @ root = the roughness matrix
    inner = rho < r_in0 - 2.0
    noise = max(robust_sigma(img[inner]) if np.count_nonzero(inner) > 20 else 1.0, 1.0)

    def model(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        coef, _, fitted, _, _ = _rind._render(x, k, rho32, y_t, use, h, sig, data)
        return fitted - data, coef

    def residual(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.concatenate([model(x)[0] / noise, np.sqrt(smoothing) * (root @ x[:k]), np.sqrt(smoothing) * (root @ x[k:])])

    x0 = np.concatenate([c_in, c_out])
    if numeric:
        sol_x, nfev = (lambda sol: (sol.x, sol.nfev))(least_squares(residual, x0, diff_step=1e-3, x_scale=0.5, max_nfev=30))
    else:
        # the method's Gauss-Newton (segment/_rind.py, step 13, which was built from this probe)
        # (its steps one by one since 1.43; the last accepted state and the objective there)
        for sol_x, state in _rind._gauss_newton_steps(x0, k, rho32, y_t, yu, use, h, sig, data, noise,
                                                      np.kron(np.eye(2), smoothing * (root.T @ root))):
            nfev = state.obj
    p_, d_r, d_n = model(sol_x)[1]
    out = np.zeros(art.shape, bool)
    out[box] = _surface._inside(img.shape, sp, centre, sol_x[k:], degree)
    start = np.zeros(art.shape, bool)
    start[box] = _surface._inside(img.shape, sp, centre, c_out, degree)
    return out, start, (p_, p_ + d_r, p_ + d_r + d_n), nfev


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", action="store_true", help="the 512 x 512 study's rim-only lesions (seed 0) instead of the rind scenes")
    ap.add_argument("--kinds", nargs="+", default=["oval", "lobulated"])
    ap.add_argument("--rims", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0, 3.5])
    ap.add_argument("--noise", type=float, nargs="+", default=[5.0, 15.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--grid", default="1.5,0.7,0.7", help="spacing of the rind scenes, mm (slice,row,col)")
    ap.add_argument("--psf-mm", type=float, default=1.0, help="the point-spread's sigma (the phantoms': 1 mm)")
    ap.add_argument("--degree", type=int, default=4, help="the surfaces' direction polynomial (step 12's: 4)")
    ap.add_argument("--smoothing", type=float, default=5.0, help="the roughness prior's weight (step 12's: 5)")
    ap.add_argument("--numeric", action="store_true", help="scipy's least squares with a numeric Jacobian, not the chord Gauss-Newton")
    args = ap.parse_args(argv)
    dices = []
    if args.study:
        from hcc_imaging.phantoms import make_study

        sp = (1.5, 0.68359375, 0.68359375)
        cases = [(sd, tp, lid) for sd in args.noise for tp, lid in (("baseline", "L4"), ("fu1", "L4"), ("fu2", "L1"), ("fu1", "L1"))]
        for sd, tp, lid in cases:
            st = make_study(0, timepoint=tp, noise_sd_hu=sd, spacing=sp, shape=(100, 512, 512))
            rec = st.truth["lesions"][lid]
            truth_all = st.lesions.array == rec["label"]
            vol = next(v for k, v in st.volumes.items() if str(k) == "arterial")
            idx = np.argwhere(truth_all)
            pad = np.ceil(25 / np.array(sp)).astype(int)
            lo = np.maximum(idx.min(0) - pad, 0)
            hi = np.minimum(idx.max(0) + pad + 1, vol.shape)
            box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
            art, truth = vol.array[box], truth_all[box]
            click = tuple(int(round(x)) - int(a) for x, a in zip(vol.lps_to_index(rec["seed_lps"]), lo, strict=True))
            dices.append(report(f"study sigma {sd:4.1f} {tp:8s} {lid}", art, truth, click, sp, args))  # type: ignore[arg-type]
    else:
        sp = tuple(float(v) for v in args.grid.split(","))
        shp = rim_scene_shape(sp)  # type: ignore[arg-type]
        for kind, rim, sd, seed in itertools.product(args.kinds, args.rims, args.noise, args.seeds):
            vols, truth, click = rim_scene(kind, seed, sd, rim_mm=rim, spacing=sp, shape=shp)  # type: ignore[arg-type]
            art = next(v.array for k, v in vols.items() if str(k) == "arterial")
            dices.append(report(f"{kind:9s} rim {rim:3.1f} mm noise {sd:4.1f} seed {seed}", art, truth, click, sp, args))
    print(f"{len(dices)} lesions: {sum(d < 0.95 for d in dices)} below 0.95, Dice median {float(np.median(dices)):.3f}")
    return 0


def report(head: str, art, truth, click, sp, args) -> float:  # type: ignore[no-untyped-def]
    from hcc_imaging._blas import one_blas_thread

    t = time.perf_counter()
    with one_blas_thread():  # (as segment_lesion runs: OpenBLAS's spinning threads cost a busy machine seconds)
        core, n0, p0 = rays.core_region(art, click, sp)
        out, start, (p, r, n), _ = two_surfaces(art, core, sp, n0, p0, args.psf_mm, args.degree, args.smoothing, args.numeric)
    d = dice(out, truth)
    print(f"{head}: Dice {d:.3f} volume ratio {out.sum() / truth.sum():.3f} (the rays' start {dice(start, truth):.3f}; "
          f"core {n:.0f}, layer {r:.0f}, parenchyma {p:.0f} HU; {time.perf_counter() - t:.2f} s)", flush=True)
    return d


if __name__ == "__main__":
    raise SystemExit(main())

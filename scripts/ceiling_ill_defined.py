"""Oracle ceilings of lesion Dice on the ill-defined-margin robustness sweep (docs/validation.md §2.1).

``benchmarks/sweep_segment_robustness.py --lesion-blur-mm 3 --z-psf-vox 0.2`` (225 perf.md
phantoms: 5 grids x 10 / 20 / 40 mm x lesion 20 / 40 / 90 / 110 / 250 HU x noise 0 / 10 / 25 HU; the
liver 60 HU) fades each lobulated lesion into the liver over a 3 mm Gaussian while the truth stays
the sharp shape (voxels >= 50 % inside it).  Could *any* method reach Dice 0.9 there?  The oracles
below are told things no segmentation is told; if even they stay below 0.9 on a case, that case is
at the information limit of the phantom as it is.

Oracles, each on the same phantom (``combos()`` / ``phantom()`` of the sweep) and on a box of the
truth's bounding box plus 15 mm:

* ``thr``: the raw image Gaussian-smoothed at sigma s (``SIGMAS_MM``), as the fraction p of the
  *true* contrast (0 at the liver's 60 HU, 1 at the lesion's HU), thresholded at p >= level (levels
  0.02-0.98 in steps of 0.02) **and** below the midpoint to the tissue that lies beyond the lesion
  (fat for a hypodense lesion, the vessel for a 90 / 110 HU one; none for 250 HU), the component at
  the click (the sweep's centre voxel), holes filled; s and the level picked on the truth **per
  case**: the best any smoothing + threshold method can do.
* ``ml_scale``: the *true lobulated shape* (its harmonic coefficients and centre), known up to one
  scale a (radius a r(theta, phi)), rendered exactly as ``perf_phantom`` renders it: 3 x 3 x 3
  sub-samples per voxel (those in the fat or the vessel left out), the 3 mm margin blur, the
  ``min(., 1 - vessel - fat)`` clip, the true liver / lesion / vessel / fat HU, the per-axis PSF.
  Gaussian noise, so maximum likelihood = least squares on the raw (noisy, rounded) voxels of the
  box; a in [0.6, 1.4] searched on a grid of 0.01 then 0.001 (the global minimum, no start needed).
  Dice of the fitted shape rasterised as the truth is (>= 50 % of the sub-samples inside).
* ``ml_hu``: the same, with the lesion's and the liver's HU fitted by linear least squares at each
  a (vessel and fat HU and geometry still known): the shape is known, its size and contrast are
  not (the profile likelihood of a).
* ``ml_shift`` (``--shift``): ``ml_hu`` plus the centre's shift (3 more parameters, Powell from
  the ``ml_hu`` fit, the shift within +-2 mm per axis, a within 0.2 of ``ml_hu``'s): the shape
  known, its size, place and contrast not.
* ``ml_family`` (``--family``): the shape *family* known, not the shape: all 9 parameters of
  ``perf_phantom``'s lobulated surface fitted (scale, centre shift within +-2 mm per axis, the three
  harmonic amplitudes within the phantom's own +-0.08, the two phases), the true HU and
  background; Powell from the truth.  The analogue of ``segment_ceiling.py``'s ML ellipsoid.
  Its line also gives how far the fit's sum of squares lies below the truth's (> 0: the likelihood
  itself prefers the wrong shape, not a failed search).

A noise-free case is 1.000 (``ml_hu`` 0.99+: the int16 rounding lets size and contrast trade) for
the ML oracles by construction (the model is the phantom's own, checked voxel by voxel there); the
rounding is the only noise then.  ``ours`` is ``segment_lesion`` clicked at the centre voxel
as the sweep does (``refused`` on a ``LowContrastError``).

usage: PYTHONPATH=. python scripts/ceiling_ill_defined.py [--diameters 10 20 40] [--z-psf-vox 0.2]
                                                         [--noise 10 25] [--shift] [--out results.tsv]
       PYTHONPATH=. python scripts/ceiling_ill_defined.py --summary-only results.tsv [more.tsv ...] [--flag 0.95]
The 10 and 20 mm cases (150) take about 12 minutes of CPU on one core (5 s a case) without
``--shift`` / ``--family``; ``--family`` adds 5-60 s a 10 mm case, 1-4 min a 20 mm one (the
figures of docs/validation.md §2.1, "What an oracle reaches on ill-defined margins").
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage, optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.segment._phantom import _radius, benchmark_module, dice  # noqa: E402

SWEEP = benchmark_module("sweep_segment_robustness")
SIGMAS_MM = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
LEVELS = np.round(np.arange(0.02, 0.981, 0.02), 2)
MARGIN_MM = 15.0
BLUR_MM = 3.0
LIVER, VESSEL, FAT = 60.0, 150.0, -100.0  # perf_phantom's defaults (the sweep does not change them)
LOBULATION = 0.08
SUB = 3
A_RANGE = (0.6, 1.4)
SHIFT_MM = 2.0
FAMILY_AMP = LOBULATION  # the phantom draws its amplitudes uniformly in +-0.08: ML under that prior
FAMILY_MAXFEV = 800


class Scene:
    """The geometry of sweep case ``i`` as ``perf_phantom`` draws it (same RNG calls, same order),
    restricted to a box around the lesion: per voxel the 27 sub-samples' q = rr / r(theta, phi)
    about a centre (a sub-sample is inside the lesion scaled by a iff q <= a), and the vessel's and
    fat's fractions."""

    def __init__(self, i: int, case, z_psf_vox: float, truth: np.ndarray):
        sp_t, d, hu, sd = case
        self.sp = np.asarray(sp_t, float)
        self.hu, self.sd, self.d = float(hu), float(sd), float(d)
        fov = 90.0 if d <= 30 else 130.0
        shape = tuple(int(round(fov / s)) for s in sp_t)
        rng = np.random.default_rng(i)
        self.coef = np.concatenate([rng.uniform(-LOBULATION, LOBULATION, 3), rng.uniform(0, 2 * np.pi, 2)])
        centre_idx = (np.asarray(shape) - 1) / 2.0 + rng.uniform(-0.5, 0.5, 3)
        self.c_mm = centre_idx * self.sp
        self.r0 = d / 2.0
        self.psf = (z_psf_vox, 0.6, 0.6)
        # the box: truth's bounding box + MARGIN_MM
        idx = np.argwhere(truth)
        r = np.ceil(MARGIN_MM / self.sp).astype(int)
        lo = np.maximum(idx.min(0) - r, 0)
        hi = np.minimum(idx.max(0) + r + 1, shape)
        self.sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        self.lo, self.hi = lo, hi
        # vessel and fat (2-D maps, as the phantom draws them), on the whole grid, then the PSF
        vessel_r = 4.0
        vessel_x = self.c_mm[2] + self.r0 * (1 + 3 * LOBULATION) + 4.0 + vessel_r
        fat_x = self.c_mm[2] - self.r0 * (1 + 3 * LOBULATION) - 12.0
        offs = (np.arange(SUB) + 0.5) / SUB - 0.5
        self.offs = offs
        jj, ii = np.meshgrid((np.arange(shape[1])[:, None] + offs[None, :]).ravel() * self.sp[1],
                             (np.arange(shape[2])[:, None] + offs[None, :]).ravel() * self.sp[2], indexing="ij")

        def down(a):
            return a.reshape(a.shape[0] // SUB, SUB, a.shape[1] // SUB, SUB).mean(axis=(1, 3)).astype(np.float32)

        fat2 = ii < fat_x
        ves2 = ((ii - vessel_x) ** 2 + (jj - self.c_mm[1]) ** 2 <= vessel_r**2) & ~fat2
        fv = np.broadcast_to(down(ves2), shape).astype(np.float32)
        ff = np.broadcast_to(down(fat2), shape).astype(np.float32)
        self.fv, self.ff = fv[self.sl].astype(np.float64), ff[self.sl].astype(np.float64)
        self.pfv = ndimage.gaussian_filter(fv, self.psf, mode="nearest")[self.sl].astype(np.float64)
        self.pff = ndimage.gaussian_filter(ff, self.psf, mode="nearest")[self.sl].astype(np.float64)
        jsl = slice(lo[1] * SUB, hi[1] * SUB)
        isl = slice(lo[2] * SUB, hi[2] * SUB)
        self.jb, self.ib = jj[jsl, isl], ii[jsl, isl]
        self.keep = ~(fat2[jsl, isl] | ves2[jsl, isl])
        self.shape = tuple(int(b - a) for a, b in zip(lo, hi))
        self.q = self._q(np.zeros(3))

    def _q(self, shift: np.ndarray) -> np.ndarray:
        """(27, *box) q of every sub-sample about the centre + shift (inf where fat / vessel)."""
        c = self.c_mm + shift
        out = np.empty((SUB, SUB, SUB) + self.shape, np.float64)
        for kk, k in enumerate(range(self.lo[0], self.hi[0])):
            for zi, oz in enumerate(self.offs):
                dz, dy, dx = (k + oz) * self.sp[0] - c[0], self.jb - c[1], self.ib - c[2]
                rr = np.sqrt(dz * dz + dy * dy + dx * dx)
                theta = np.arccos(np.clip(dz / np.maximum(rr, 1e-9), -1, 1))
                phi = np.arctan2(dy, dx)
                rad = _radius(theta, phi, self.r0, self.coef)
                q = np.where(self.keep, rr / rad, np.inf)
                # (rows*SUB, cols*SUB) -> (SUB, SUB, rows, cols)
                q = q.reshape(self.shape[1], SUB, self.shape[2], SUB).transpose(1, 3, 0, 2)
                out[zi, :, :, kk] = q
        return out.reshape(SUB**3, *self.shape)

    def frac(self, a: float, q: np.ndarray | None = None) -> np.ndarray:
        """Fraction of sub-samples inside the lesion scaled by a (the phantom's frac_lesion)."""
        qq = self.q if q is None else q
        return (qq <= a).sum(0) / float(SUB**3)

    def lesion_term(self, a: float, q: np.ndarray | None = None, f: np.ndarray | None = None) -> np.ndarray:
        """PSF(frac_shown): the lesion's share of each voxel as imaged (``f``: frac_lesion given)."""
        if f is None:
            f = self.frac(a, q)
        blurred = ndimage.gaussian_filter(f, [BLUR_MM / v for v in self.sp], mode="constant")
        shown = np.minimum(blurred, 1.0 - self.fv - self.ff)
        return ndimage.gaussian_filter(shown, self.psf, mode="constant")  # type: ignore[no-any-return]

    def band(self, a_lo: float, a_hi: float, dmax: float, lob: float | None = None) -> None:
        """For the shift fit: the voxels inside the lesion for every a >= a_lo and shift <= dmax mm
        (frac 1), and the sub-samples of those that may be either (the band); the others are 0."""
        k = np.arange(self.lo[0], self.hi[0])[:, None, None] * self.sp[0] - self.c_mm[0]
        j = np.arange(self.lo[1], self.hi[1])[None, :, None] * self.sp[1] - self.c_mm[1]
        i = np.arange(self.lo[2], self.hi[2])[None, None, :] * self.sp[2] - self.c_mm[2]
        dist = np.sqrt(k * k + j * j + i * i)
        off = float(np.linalg.norm(self.sp / SUB)) + dmax + 1e-6
        lob = float(np.abs(self.coef[:3]).sum()) if lob is None else lob
        self.inner = dist + off < a_lo * self.r0 * (1 - lob)
        band = ~self.inner & (dist - off <= a_hi * self.r0 * (1 + lob))
        self.band_idx = np.flatnonzero(band)
        kk, jj, ii = np.unravel_index(self.band_idx, self.shape)
        o = self.offs
        pz = (k.ravel()[kk][None, :] + o[:, None] * self.sp[0])  # (3, nb)
        py = (j.ravel()[jj][None, :] + o[:, None] * self.sp[1])
        px = (i.ravel()[ii][None, :] + o[:, None] * self.sp[2])
        self.bz = np.broadcast_to(pz[:, None, None, :], (SUB, SUB, SUB, len(kk))).reshape(SUB**3, -1)
        self.by = np.broadcast_to(py[None, :, None, :], (SUB, SUB, SUB, len(kk))).reshape(SUB**3, -1)
        self.bx = np.broadcast_to(px[None, None, :, :], (SUB, SUB, SUB, len(kk))).reshape(SUB**3, -1)
        kq = np.isfinite(self.q.reshape(SUB**3, -1)[:, self.band_idx])  # not fat / vessel
        self.bkeep = kq

    def frac_shifted(self, a: float, shift: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """frac_lesion of the lesion scaled by a about the centre + shift (after ``band``), with the
        harmonic coefficients ``coef`` (default the true ones)."""
        dz, dy, dx = self.bz - shift[0], self.by - shift[1], self.bx - shift[2]
        rho2 = dy * dy + dx * dx
        rr = np.sqrt(rho2 + dz * dz)
        rho = np.sqrt(rho2)
        irr = 1.0 / np.maximum(rr, 1e-9)
        sin_t, cos_t = rho * irr, dz * irr
        irho = 1.0 / np.maximum(rho, 1e-12)
        cp = np.where(rho > 0, dx * irho, 1.0)
        sn = dy * irho
        k0, k1, k2, c3, c4 = self.coef if coef is None else coef
        s3, c3p = 3 * sn - 4 * sn**3, 4 * cp**3 - 3 * cp
        s2, c2 = 2 * sn * cp, cp * cp - sn * sn
        rad = self.r0 * (1.0 + k0 * (s3 * np.cos(c3) + c3p * np.sin(c3)) * sin_t + k1 * (2 * cos_t * cos_t - 1)
                         + k2 * (s2 * np.cos(c4) + c2 * np.sin(c4)) * sin_t**2)
        inside = (rr <= a * rad) & self.bkeep
        f = self.inner.astype(np.float64).ravel()
        f[self.band_idx] = inside.sum(0) / float(SUB**3)
        return f.reshape(self.shape)

    def background(self) -> np.ndarray:
        """The image without its lesion (liver, vessel, fat through the PSF)."""
        return LIVER + (VESSEL - LIVER) * self.pfv + (FAT - LIVER) * self.pff  # type: ignore[no-any-return]


def fit_sse(scene: Scene, y: np.ndarray, a: float, fit_hu: bool, q=None, f=None) -> tuple[float, tuple[float, float]]:
    pl = scene.lesion_term(a, q, f)
    if not fit_hu:
        r = y - scene.background() - (scene.hu - LIVER) * pl
        return float((r * r).sum()), (scene.hu, LIVER)
    # y - V P(fv) - F P(ff) = Li (1 - P(fs) - P(fv) - P(ff)) + L P(fs)
    t = y - VESSEL * scene.pfv - FAT * scene.pff
    A = np.stack([(1.0 - pl - scene.pfv - scene.pff).ravel(), pl.ravel()], 1)
    coef, *_ = np.linalg.lstsq(A, t.ravel(), rcond=None)
    r = t.ravel() - A @ coef
    return float(r @ r), (float(coef[1]), float(coef[0]))


def ml_scale(scene: Scene, y: np.ndarray, truth: np.ndarray, fit_hu: bool) -> tuple[float, float, tuple[float, float]]:
    """Grid search of a (0.01, then 0.001 around the best): the global least-squares minimum."""
    grid = np.round(np.arange(A_RANGE[0], A_RANGE[1] + 1e-9, 0.01), 3)
    sse = [fit_sse(scene, y, a, fit_hu)[0] for a in grid]
    a0 = float(grid[int(np.argmin(sse))])
    fine = np.round(np.arange(a0 - 0.01, a0 + 0.01 + 1e-9, 0.001), 4)
    sse2 = [fit_sse(scene, y, a, fit_hu)[0] for a in fine]
    a1 = float(fine[int(np.argmin(sse2))])
    hu = fit_sse(scene, y, a1, fit_hu)[1]
    return dice(scene.frac(a1) >= 0.5, truth), a1, hu


def ml_shift(scene: Scene, y: np.ndarray, truth: np.ndarray, a_start: float) -> tuple[float, np.ndarray]:
    """Scale + centre shift (mm, at most SHIFT_MM per axis), lesion and liver HU by least squares;
    Powell from (a_start, no shift)."""
    a_lo, a_hi = max(A_RANGE[0], a_start - 0.2), min(A_RANGE[1], a_start + 0.2)
    scene.band(a_lo, a_hi, SHIFT_MM * np.sqrt(3))

    # p = (a r0 in mm, then the shift in mm): one length unit for Powell's tolerance
    def unpack(p):
        return float(np.clip(p[0] / scene.r0, a_lo, a_hi)), np.clip(p[1:], -SHIFT_MM, SHIFT_MM)

    def f(p):
        a, sh = unpack(p)
        return fit_sse(scene, y, a, True, f=scene.frac_shifted(a, sh))[0]

    res = optimize.minimize(f, np.r_[a_start * scene.r0, 0.0, 0.0, 0.0], method="Powell",
                            options={"xtol": 0.01, "ftol": 1e-7, "maxfev": 400})
    a, sh = unpack(res.x)
    return dice(scene.frac(a, scene._q(sh)) >= 0.5, truth), np.r_[a, sh]


def ml_family(scene: Scene, y: np.ndarray, truth: np.ndarray) -> tuple[float, np.ndarray]:
    """The shape *family* known (perf_phantom's lobulated harmonics), its 9 parameters fitted: scale,
    centre shift (+-SHIFT_MM), the three amplitudes (+-FAMILY_AMP) and two phases; the true HU (as
    segment_ceiling.py's ML ellipsoid is told them).  Powell from the truth (parameters in mm: a r0,
    shift, amplitude r0, phase r0)."""
    scene.band(A_RANGE[0], A_RANGE[1], SHIFT_MM * np.sqrt(3), lob=3 * FAMILY_AMP)
    r0 = scene.r0

    def unpack(p):
        a = float(np.clip(p[0] / r0, *A_RANGE))
        sh = np.clip(p[1:4], -SHIFT_MM, SHIFT_MM)
        coef = np.r_[np.clip(p[4:7] / r0, -FAMILY_AMP, FAMILY_AMP), p[7:9] / r0]
        return a, sh, coef

    def f(p):
        a, sh, coef = unpack(p)
        return fit_sse(scene, y, a, False, f=scene.frac_shifted(a, sh, coef))[0]

    p0 = np.r_[r0, 0.0, 0.0, 0.0, scene.coef * r0]
    res = optimize.minimize(f, p0, method="Powell", options={"xtol": 0.01, "ftol": 1e-7, "maxfev": FAMILY_MAXFEV})
    a, sh, coef = unpack(res.x)
    f_fit = scene.frac_shifted(a, sh, coef)  # band sub-samples: the same rule as the phantom's
    # the fit's sum of squares below the truth's: the likelihood itself prefers the wrong shape
    return dice(f_fit >= 0.5, truth), np.r_[a, sh, coef, f(p0) - float(res.fun)]


def thr_oracle(scene: Scene, x: np.ndarray, truth: np.ndarray, seed) -> tuple[float, float, float]:
    """Best (Dice, sigma, level) of smoothing + two-sided threshold, component at the seed."""
    contrast = scene.hu - LIVER
    beyond = FAT if contrast < 0 else (VESSEL if VESSEL > scene.hu else None)
    cap = np.inf if beyond is None else 0.5 * (1.0 + (beyond - LIVER) / contrast)
    best = (0.0, 0.0, 0.0)
    for s in SIGMAS_MM:
        xs = x if s <= 0 else ndimage.gaussian_filter(x, [s / v for v in scene.sp], mode="nearest")
        p = (xs - LIVER) / contrast
        for lv in LEVELS:
            cand = (p >= lv) & (p <= cap)
            if not cand[seed]:
                continue
            lab, _ = ndimage.label(cand)
            m = ndimage.binary_fill_holes(lab == lab[seed])
            dc = dice(m, truth)
            if dc > best[0]:
                best = (dc, s, float(lv))
    return best


FIELDS = ("grid", "diameter", "hu", "noise", "ours", "thr", "thr_sigma", "thr_level", "ml_scale", "a_scale",
          "ml_hu", "a_hu", "lesion_hu_fit", "liver_hu_fit", "ml_shift", "ml_family", "family_dsse", "seconds")


def run_case(i: int, case, z_psf_vox: float, do_shift: bool, do_family: bool = False) -> dict:
    from hcc_imaging.segment import segment_lesion
    from hcc_imaging.segment.errors import LowContrastError

    t0 = time.process_time()
    sp, d, hu, sd = case
    ph = SWEEP.phantom(i, case, z_psf_vox, BLUR_MM)
    truth_full = ph.truth.array != 0
    try:
        res = segment_lesion(ph.volume, seed_index=ph.seed_index)
        ours = dice(np.asarray(res.labels.array) != 0, truth_full)
    except LowContrastError:
        ours = float("nan")  # refused
    scene = Scene(i, case, z_psf_vox, truth_full)
    truth = truth_full[scene.sl]
    assert np.array_equal(scene.frac(1.0) >= 0.5, truth), "the oracle's shape is not the phantom's"
    y = np.asarray(ph.volume.array[scene.sl], np.float64)
    if sd == 0:  # the model at the truth is the phantom's image (up to its rounding to int16)
        model = scene.background() + (hu - LIVER) * scene.lesion_term(1.0)
        err = float(np.abs(model - y).max())
        assert err <= 0.51, f"the oracle's image model differs from the phantom's by {err:.2f} HU"
    seed = tuple(int(s) - b.start for s, b in zip(ph.seed_index, scene.sl))
    thr, s_best, lv_best = thr_oracle(scene, y, truth, seed)
    d_scale, a_scale, _ = ml_scale(scene, y, truth, fit_hu=False)
    d_hu, a_hu, (l_fit, li_fit) = ml_scale(scene, y, truth, fit_hu=True)
    d_shift = ml_shift(scene, y, truth, a_hu)[0] if do_shift else float("nan")
    d_fam, dsse = float("nan"), float("nan")
    if do_family:
        d_fam, pf = ml_family(scene, y, truth)
        dsse = float(pf[-1])
    return {"grid": "x".join(f"{v:g}" for v in sp), "diameter": d, "hu": hu, "noise": sd, "ours": ours,
            "thr": thr, "thr_sigma": s_best, "thr_level": lv_best, "ml_scale": d_scale, "a_scale": a_scale,
            "ml_hu": d_hu, "a_hu": a_hu, "lesion_hu_fit": l_fit, "liver_hu_fit": li_fit, "ml_shift": d_shift,
            "ml_family": d_fam, "family_dsse": dsse, "seconds": time.process_time() - t0}


def _f(v: float) -> str:
    return "refused" if np.isnan(v) else f"{v:.3f}"


def summary(rows: list[dict], flag: float) -> None:
    """Counts of ours below ``flag`` (refusals count as below), split by what the oracles reach."""
    def below(v):
        return np.isnan(v) or v < flag

    extra = [k for k in ("ml_shift", "ml_family") if any(not np.isnan(r[k]) for r in rows)]
    print(f"\nsummary ({len(rows)} cases; refusals count as below {flag}).  Of ours below: U = ml_scale "
          f"(shape, centre, HU known) below too (unreachable); H = ml_scale reaches, ml_hu (HU fitted) not; "
          f"R = ml_hu reaches (the method's gap); T = the per-case tuned threshold reaches"
          + "".join(f"; {k} = reached / run" for k in extra))
    print(f"| group | cases | ours < {flag:g} | U | H | R | T |" + "".join(f" {k} |" for k in extra)
          + " median ours / thr / ml_hu / ml_scale" + "".join(f" / {k}" for k in extra) + " |")
    print("|" + "---|" * (7 + len(extra) + 1))
    groups: list[tuple[str, list[dict]]] = [("all", rows)]
    for key, name in (("diameter", "mm"), ("hu", "HU"), ("noise", "HU noise"), ("grid", "grid")):
        vals = {r[key] for r in rows}
        for v in sorted(vals, key=lambda x: float(str(x).split("x")[0])):
            label = f"{v:g} {name}" if not isinstance(v, str) else f"grid {v}"
            groups.append((label, [r for r in rows if r[key] == v]))
    for label, rs in groups:
        ob = [r for r in rs if below(r["ours"])]
        u = sum(r["ml_scale"] < flag for r in ob)
        h = sum(r["ml_scale"] >= flag > r["ml_hu"] for r in ob)
        rr = sum(r["ml_hu"] >= flag for r in ob)
        t = sum(r["thr"] >= flag for r in ob)
        cols = "".join(f" {sum(r[k] >= flag for r in ob if not np.isnan(r[k]))} / "
                       f"{sum(not np.isnan(r[k]) for r in ob)} |" for k in extra)
        keys = ("ours", "thr", "ml_hu", "ml_scale", *extra)
        med = [np.nanmedian([r[k] for r in rs]) if not all(np.isnan(r[k]) for r in rs) else np.nan for k in keys]
        print(f"| {label} | {len(rs)} | {len(ob)} | {u} | {h} | {rr} | {t} |{cols} "
              + " / ".join(f"{m:.3f}" for m in med) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--diameters", type=float, nargs="+", default=[10.0, 20.0], help="lesion diameters (mm) to run, in this order")
    ap.add_argument("--z-psf-vox", type=float, default=0.2, help="z blur in voxels (0.2: the ill-defined sweep's figures)")
    ap.add_argument("--shift", action="store_true", help="also fit the centre's shift (ml_shift; slower)")
    ap.add_argument("--family", action="store_true", help="also fit the shape family's 9 parameters (ml_family; ~1 min a 10 mm case)")
    ap.add_argument("--noise", type=float, nargs="+", help="only these noise sigmas (HU)")
    ap.add_argument("--cases", type=int, nargs="+", help="only these sweep case numbers (the sweep's seeds)")
    ap.add_argument("--flag", type=float, default=0.9)
    ap.add_argument("--out", help="write the per-case rows to this TSV (appended as they come)")
    ap.add_argument("--summary-only", nargs="+", metavar="TSV", help="print the summary of earlier --out files and exit")
    a = ap.parse_args()
    if a.summary_only:  # a case in several files: the first file's row, a later one's ml_shift
        by: dict[tuple, dict] = {}
        for fn in a.summary_only:
            with open(fn) as fh:
                for r in csv.DictReader(fh, delimiter="\t"):
                    row = {k: (v if k == "grid" else float(v)) for k, v in r.items()}
                    row.setdefault("ml_family", np.nan)
                    row.setdefault("family_dsse", np.nan)
                    key = (row["grid"], row["diameter"], row["hu"], row["noise"])
                    if key not in by:
                        by[key] = row
                    else:
                        for k in ("ml_shift", "ml_family", "family_dsse"):
                            if not np.isnan(row.get(k, np.nan)):
                                by[key][k] = row[k]
        summary(list(by.values()), a.flag)
        return
    cases = [(i, c) for d in a.diameters for i, c in enumerate(SWEEP.combos())
             if c[1] == d and (a.noise is None or c[3] in a.noise) and (a.cases is None or i in a.cases)]
    out = None
    if a.out:
        new = not Path(a.out).exists()
        out = open(a.out, "a", newline="")
        w = csv.DictWriter(out, FIELDS, delimiter="\t")
        if new:
            w.writeheader()
    rows = []
    t0 = time.process_time()
    for i, case in cases:
        r = run_case(i, case, a.z_psf_vox, a.shift, a.family)
        rows.append(r)
        print(f"{r['grid']:>13s} {r['diameter']:4.0f} mm {r['hu']:5.0f} HU noise {r['noise']:4.0f}: ours {_f(r['ours'])}  "
              f"thr {r['thr']:.3f} (s {r['thr_sigma']:g}, level {r['thr_level']:.2f})  ml_scale {r['ml_scale']:.3f} "
              f"(a {r['a_scale']:.3f})  ml_hu {r['ml_hu']:.3f} (a {r['a_hu']:.3f}, HU {r['lesion_hu_fit']:.0f}/"
              f"{r['liver_hu_fit']:.0f})" + (f"  ml_shift {r['ml_shift']:.3f}" if a.shift else "")
              + (f"  ml_family {r['ml_family']:.3f} (SSE {r['family_dsse']:.0f} below the truth's)" if a.family else "")
              + f"  [{r['seconds']:.1f} s]", flush=True)
        if out is not None:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
            out.flush()
    summary(rows, a.flag)
    print(f"CPU {time.process_time() - t0:.0f} s")


if __name__ == "__main__":
    main()

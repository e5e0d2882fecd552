"""A necrotic lesion in an enhancing layer (a rim or a rind), on request: two nested surfaces fitted.

``segment_lesion(..., rind=True)`` (1.24).  A treated HCC's enhancing rim, or a necrotic tumour's
viable rind, is a layer about as thick as the scanner's blur on fine grids (0.7 mm pixels): no
single level marks its outer edge (a 1.5 mm rim blurred by 1 mm has no plateau, and the level a
threshold takes lies outside a rind's edge or inside it depending on its thickness), so the
automatic steps leak past a thin rim or cut a thick rind there (docs/validation.md section 2.2,
"Algorithm 1.20" and "A probe for the fine-grid rinds").  When the reader says the click lies in
such a lesion's dark core, the border comes from a model instead, on one phase (arterial when
given, where the layer enhances):

    image = P + (R - P) G * S_out + (N - R) G * S_in

two nested star-shaped surfaces around the core's centroid, the core's ``S_in`` and the layer's
``S_out`` (radius a polynomial of the direction, step 12's ``LESION_BLUR_MODEL_DEGREE``, each with
its roughness prior), ``G`` a Gaussian point-spread of ``LESION_RIND_PSF_MM`` (picked by the fit's
chi^2 among the ``LESION_RIND_SCREEN_PSFS`` nearest the rays' blur, 1.55), and one value each for
the core N, the layer R and the parenchyma P (least squares at every step).  The steps:

1. The core: the component at the click of the image smoothed by 1 mm below the half-way level
   between the click's value (the median within 2 mm) and the parenchyma's (the histogram mode of
   the box, inside the liver when given; then of the shell 8-20 mm beyond the core).  It must be
   darker than the parenchyma by ``LESION_MIN_CONTRAST_K_SIGMA`` noise sigmas and enclosed by the
   box (``LESION_RIND_BOX_MM`` around the click).
   1.45: with the lobes' own cores (:func:`_with_lobe_cores`): a lobulated lesion's lobes may hold
   necrotic cores apart from the click's; a dark component within ``LESION_RIND_LOBE_GAP_MM`` of
   it, wrapped in the layer, joins it, or the rays start at the click's core and the fit cuts those
   lobes (the rind sweep's lobulated 3-3.5 mm rinds, seeds 0-1: 0.77-0.84 -> 0.90-0.92).  Lobulated rinds stay
   below 0.95: the direction polynomial of degree 4 reaches 0.92 on the sweep's shape (its radius
   fitted to the truth's), and the rays miss the lobes' flanks, where a ray runs along the layer
   (docs/validation.md section 2.2, "Algorithm 1.45": degrees 6-8, a start from the image and a
   per-direction correction, tried and not adopted).
2. A start (:mod:`._rind_rays`), because the surfaces' fit is local (from the core's own surface the fit ends at
   Dice 0.40-0.68 on the rind sweep's ovals): along ``LESION_RIND_RAYS`` rays from the core's
   centroid, a core -> layer -> parenchyma profile under one blur, with N, R, P and the blur
   shared by all rays and each ray's inner and outer edge found by an exact grid search (the
   layer's value R first on a grid by the rays' total residual: a thin layer trades its value
   against its thickness; each ray's blur is the point-spread along the surface's normal, widened
   by the slice's thickness as the normal faces the slices (1.27), over the cosine between ray and
   normal; the rays start from the core's last exit, a lobulated core re-enters).  The search is one small matrix product per ray: the residual expanded in R is a
   sum of terms in the inner edge's ramp alone, the outer's alone and their product.
3. The surfaces (:mod:`._rind_surfaces`): the radii of the rays' edges (a 3 x 3 median over directions) fitted by the
   direction polynomial, then step 12's Gauss-Newton for both surfaces on the voxels within 5 mm
   of them (each surface drawn as a partial-volume ramp as wide as the mean spacing, or, 1.27, as a
   voxel's extent along the direction from the centre: a CT slice averages its thickness; each
   ramp fitted, the least chi^2 kept; the derivative along a surface's coefficient is its value
   step x G * its ramp x the term; the ramps refreshed after each accepted step; step halving on
   chi^2 + the roughness prior; 1.55: on pixels up to ``LESION_RIND_COARSE_MAX_PIXEL_MM``, on 2 x 2-pixel
   blocks first, then at most ``LESION_RIND_FINE_STEPS`` steps on the pixels, :func:`_coarse_to_fine`;
   1.58: none, the blocks' surfaces rendered on the pixels once).
   1.53: when a score test of that fit against free radius offsets
   per direction node finds a shape it left behind (a lobulated rind), both radii get a correction
   on the rays' 16 x 32 nodes (:mod:`._rind_nodes`), the point-spread and ramp held.
4. The mask: the voxel centres inside ``S_out`` (and inside the liver when given).  Refused
   (``LowContrastError``) unless the layer is brighter than the parenchyma and the core darker,
   each by ``LESION_MIN_CONTRAST_K_SIGMA`` standard errors of the fitted values and by one
   voxel's noise sigma, and the layer at least ``LESION_RIND_MIN_LAYER_MM`` thick (the median over
   the directions): a thinner, brighter "layer" is how the model sharpens a dark lesion's edge that
   is sharper than its point-spreads.  Two earlier checks refuse a lesion with no layer before the
   fit (in ~0.1 s, not ~1-2 s): the median of the 3 mm around the core must exceed the parenchyma
   by one smoothed noise sigma, and the rays' values and edges must pass the floors above.

The surfaces' fits (1.43): each ramp and point-spread of the grid (1.55: the
``LESION_RIND_SCREEN_PSFS`` point-spreads nearest the blur step 2's rays picked) is fitted by
``LESION_RIND_PSF_STEPS`` step from the start, the two best are fitted on side by side and one that
falls ``LESION_RIND_TRAILING_CHI2`` behind the other is stopped; the radii, the Jacobian and its
normal matrix are float32 (the objective float64).  What each step repeats is done once, or only
where it is read (2026-12-02, the same masks bit for bit): the blurs on the values the fitted voxels
read (:func:`._kernels.gaussian_filter_nearest_at`), the start's radii once for the screen's fits,
a fit continued from the screen's state, the ramps blurred only when a step needs them, the
Jacobian's rows by a compiled loop (:func:`_jacobian`).

Cost (2026-12-02, the rind sweep's 48 fine-grid clicks, 0.7 mm pixels, alternated with the code
before at load 5-8 on two cores): 0.70-0.75 x the time (two rounds' medians; lobulated 1.77 -> 1.23 s,
ovals 1.05 -> 0.80 s median under that load, several times a quiet machine's); a Gauss-Newton
step on an oval's 88 k-voxel box with 21 k fitted voxels takes the model 2.0 ms (its two blurs 0.8),
the ramps' blurs 0.9 ms, the Jacobian 0.4 ms and its normal matrix 1.2 ms.  Measured on a quiet
machine (``benchmarks/bench_segment_hard.py``, 1.44): an oval's click 231-565 ms (median 354 ms), a
lobulated rind's 319-928 ms (median 463 ms), not the 0.1-0.15 s once estimated from those ratios
(docs/validation.md section 2.4, "The clicks over the budget, measured"); the automatic steps take
0.02-0.1 s; the refusals before the fit, 5-30 ms.

2026-12-04 (the same masks bit for bit; docs/validation.md section 2.4, "Step 13's speed (session of
2026-12-04)"): without being asked, the fit runs on a thread of its own (:class:`RindAhead`), started
after the phase choice when it found the click's region hypodense (else at step 9's end), beside
steps 1-12, 9b and 11, and read at step 13 (or stopped); the fit left alone once the trailing one is
stopped runs its two blurs at a time on the idle pool (:func:`_both`); the parenchyma modes'
percentiles, median and histogram by selections and a compiled pass
(:func:`._morph.histogram_mode`); the float32 direction terms by a compiled pass
(:func:`_float32_terms`).

1.55 (2026-12-06; docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06)"): a cheaper fit,
not the same masks.  The screen fits, with each ramp, the ``LESION_RIND_SCREEN_PSFS`` point-spreads nearest
the blur step 2's rays picked (4 fits, not 10); on pixels up to ``LESION_RIND_COARSE_MAX_PIXEL_MM`` the
screen and the fits run on 2 x 2-pixel blocks and the winner takes at most ``LESION_RIND_FINE_STEPS`` steps
on the pixels (:func:`_coarse_to_fine`); a fit ends once a step gains less than
``LESION_RIND_MIN_DECREASE_CHI2``; step 1's modes read every ``LESION_RIND_MODE_SUBSAMPLE``-th value; the
rays' normal-CDF table has a row per blur level (``LESION_RIND_RAY_TABLE_STEP``), not per ray.  The rind
sweep's fine grid: no oval below 0.95 that was above, lobulated medians within -0.005.  A click alternated
with 1.54's in one process (load 1.1-1.4): ovals 0.78-0.87 x (198-216 ms), lobulated rinds 0.67-0.76 x
(315-346 ms); still over the issue's 0.1 s.  Where it goes now (an oval, ~160 ms alone): step 1 ~35 ms,
the rays ~45, the set-up on the pixels ~14, the blocks' fits 30-40 and the pixels' steps ~25.

2026-12-06, second session (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06,
second)"; every mask of the rind sweep's fine grid and of ``segment_results.py``'s rind set the same): the
rays' layer-value grid, shared values (Phi where a distance moved, the normal equations, the residual) and
ramps by compiled passes (:mod:`._rind_nb`, the numpy path's values to rounding), the centroid from the
core's indices; the fit's set-up (distances, directions, the start's radii, the fitted voxels, the float32
terms) in one compiled pass without the box's float64 terms; the box's first parenchyma mode the dark-click
check's own; 1.53's node normal matrices without a sparse conversion each.  The rays ~0.63 x their CPU, the
set-up ~0.6 x, ``rind_border`` 0.77-0.86 x its CPU, a click 0.76-0.8 x (load 5-6); still over 0.1 s.

2026-12-06, seventh session (the same values bit for bit): from the rays on, the fit's independent work is split
onto a side thread (:mod:`._rind_split`: the rays by halves, the set-ups by slabs, the correction's two surfaces),
the click's own thread then only waiting for the fit; a click ~0.86 x at low load, ~1.0 x with the other core busy.

2026-12-06, eighth session (the same values bit for bit): the fits' evaluations by compiled passes (:mod:`._rind_gn`):
the surfaces rendered only on the voxels the blurs read, their indicators and ramps one pass each, 1.53's corrected
surfaces and slopes likewise.

1.67 (2026-12-07, fourth; docs/validation.md section 2.4, "Algorithm 1.67"): the blocks' race hands a lobulated rind
over after ``LESION_RIND_HANDOVER_STEPS`` = 3 rounds, and a race handed over takes no step on the pixels: the
correction on the blocks starts from the blocks' surfaces and the fit's values and checks read the blocks' state
(their count and noise).  A lobulated click ~0.85-0.9 x 1.66's; still above 0.1 s on this machine (~105-120 ms).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .._blas import one_blas_thread
from . import _kernels
from . import _rind_coarse, _rind_gn, _rind_nodes, _rind_split, _rind_surfaces
from . import constants as C
# (since the session of 2026-12-07, sixth: step 2, the rays, in :mod:`._rind_rays`, and step 3, the surfaces' fits,
# in :mod:`._rind_surfaces`; the names are also read here by tests and benchmarks)
from ._rind_rays import _Stopped, _arc_median, _check, _edge_search, _fit_rays, _ray_directions  # noqa: F401
from ._rind_surfaces import (_State, _both, _coarse_to_fine, _gauss_newton_steps, _indicator, _jacobian,  # noqa: F401
                             _race, _ramp_blur, _ramps, _render, _surfaces, _threads, _values)
from ._rind_setup import LayerRadius, _float32_terms, _inside_corrected, _setup  # noqa: F401 (_float32_terms: read
# here by test_segment_kernels.py, written before it moved)
from ._surface import _direction_terms, _inside, _roughness
from ._morph import (bbox, component_at, gaussian_noise_factor, histogram_mode, noise_sigma, noise_unit, pad_box,
                     robust_sigma)
from .errors import LowContrastError, NotEnclosedError

log = logging.getLogger(__name__)


def _v(value: float) -> str:
    """An intensity for a message: whole HU on CT's scale, three digits on a 0-1 one."""
    return f"{value:.0f}" if abs(value) >= 100.0 else f"{value:.3g}"


@dataclass(frozen=True, slots=True)
class RindFit:
    """The fitted two-tissue lesion: its mask on the box ``box`` of the image, the values of the
    core, the layer and the parenchyma (the image's units) and the point-spread's sigma (mm)."""

    mask: NDArray[np.bool_]
    box: tuple[slice, ...]
    core_value: float
    layer_value: float
    parenchyma_value: float
    psf_mm: float
    layer_mm: float
    chi2_reduced: float = 1.0  # the fit's residual over its noise, per degree of freedom
    per_direction: bool = False  # 1.53: the surfaces corrected per direction node (:mod:`._rind_nodes`)

    def psf_vox(self, spacing: tuple[float, float, float]) -> tuple[float, float, float]:
        """The point-spread's sigma in voxels of each axis (``SegmentationResult.border_psf_vox``)."""
        return tuple(self.psf_mm / float(v) for v in spacing)  # type: ignore[return-value]

    def note(self, phase: str) -> str:
        """The provenance note of the mask."""
        return (
            f"necrotic lesion in an enhancing layer (asked for, rind=True): the border is the outer of two nested "
            f"surfaces fitted on the {phase} phase with the point-spread (sigma {self.psf_mm:g} mm): core "
            f"{_v(self.core_value)}, layer {_v(self.layer_value)} (median thickness {self.layer_mm:.1f} mm), "
            f"parenchyma {_v(self.parenchyma_value)}; residual {self.chi2_reduced:.2f} x the noise's per degree of "
            "freedom (well above 1: a shape the surfaces do not follow, such as a lobulated rind); "
            + ("the surfaces were then corrected direction by direction (they had left a shape behind: lobes); "
               if self.per_direction else "")
            + "check the border."
        )


def _with_lobe_cores(core: NDArray[np.bool_], dark: NDArray[np.bool_], near_box: tuple[slice, ...],
                     dist: NDArray[np.float64], sm: NDArray[np.float64], liv: NDArray[np.bool_] | None, p0: float,
                     noise_s: float, sp: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Step 1's core with the lobes' cores (1.45): each other dark component of ``near_box`` (the
    core's bounding box and ``LESION_RIND_SHELL_MM[1]`` beyond; ``dist``: the distances from the
    core there, mm) that comes within ``LESION_RIND_LOBE_GAP_MM`` of the core, holds at least
    ``LESION_RIND_LOBE_MIN_MM3``, does not reach the box's faces and is wrapped in the layer: the
    median of the smoothed image ``sm`` over the non-dark voxels ``LESION_RIND_LOBE_SHELL_MM`` from
    it (in the liver when given) above the parenchyma ``p0`` by ``LESION_MIN_CONTRAST_K_SIGMA``
    smoothed noise sigmas ``noise_s``.  A dark structure with no layer (a vessel, a cyst) stays out.
    ``core`` itself (the same array) when there is none."""
    dk = dark[near_box] & ~core[near_box]
    close = dk & (dist <= C.LESION_RIND_LOBE_GAP_MM)
    if not close.any():
        return core
    lab, n_lab = ndimage.label(dk)
    ids = np.unique(lab[close])
    ids = ids[ids > 0]
    # the components that reach the box's faces are dropped: marked in a table of the labels (the
    # ids left as the six np.setdiff1d of each face's labels left them, sorted; those sorted each
    # face's ~6,000 labels, ~1.5 ms a click on the fine rind scene; session of 2026-12-07, second)
    on_face = np.zeros(n_lab + 1, bool)
    for face in (lab[0], lab[-1], lab[:, 0], lab[:, -1], lab[:, :, 0], lab[:, :, -1]):
        on_face[face] = True
    ids = ids[~on_face[ids]]
    if ids.size == 0:
        return core
    out = core.copy()
    grown = out[near_box]  # a view: the lobes are written into ``out``
    rad = np.ceil(C.LESION_RIND_LOBE_SHELL_MM[1] / sp).astype(int)
    min_vox = C.LESION_RIND_LOBE_MIN_MM3 / float(np.prod(sp))
    sm_n, dark_n = sm[near_box], dark[near_box]
    liv_n = None if liv is None else liv[near_box]
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None or i not in ids:
            continue
        wide = pad_box(np.array([v.start for v in sl]), np.array([v.stop for v in sl]), rad, lab.shape)
        comp = lab[wide] == i
        if np.count_nonzero(comp) < min_vox:
            continue
        d = _kernels.distance_transform_edt(~comp, sampling=sp)
        ring = (d > C.LESION_RIND_LOBE_SHELL_MM[0]) & (d <= C.LESION_RIND_LOBE_SHELL_MM[1]) & ~dark_n[wide]
        if liv_n is not None:
            ring &= liv_n[wide]
        if ring.any() and float(np.median(sm_n[wide][ring])) - p0 > C.LESION_MIN_CONTRAST_K_SIGMA * noise_s:
            grown[wide] |= comp
    return out


def intensity_unit(raw: NDArray[Any], calibrated: bool) -> float:
    """The intensity step 13's floors and grids are written in: 1 on CT (one HU); on a modality
    without a calibrated scale (MR), the value that puts the main steps' noise floor there
    (``LESION_MIN_NOISE_FRACTION`` of the median absolute value, :func:`._grow.floored_noise`) where
    it lies on CT (``LESION_MIN_NOISE_HU``), so that an MR series scaled to 0-1 is fitted as CT's
    HU are, not refused for contrasts below one unit.  (Since 1.69 the same unit floors the noise of
    steps 9, 12 and 12b on MR: :func:`._morph.noise_unit`, which this reads.)"""
    return noise_unit(raw, calibrated)


def rind_border(img: NDArray[Any], seed: tuple[int, int, int], spacing: tuple[float, float, float],
                liver: NDArray[np.bool_] | None = None, where: str = "the click", calibrated: bool = True,
                stop: threading.Event | None = None, past_floors: threading.Event | None = None) -> RindFit:
    """Steps 1-4 of the module on one phase ``img`` (whole grid) from the click ``seed`` (voxel);
    ``liver``: the mask the lesion is kept in (whole grid), or None; ``calibrated``: the values are
    HU (CT), else the fit works in :func:`intensity_unit`'s units and reports the image's.  Raises
    ``LowContrastError`` (no dark core at the click, or no layer around it) or ``NotEnclosedError``
    (the core reaches the box's faces); ``where`` names the click in the messages.  ``stop``: an
    event that, once set, ends the work at the next stage with :class:`_Stopped` (:class:`RindAhead`:
    a fit started before the caller knows whether it will read it).  ``past_floors``: an event set once the
    rays' values and edges pass step 4's floors (1.62: :class:`RindAhead`'s caller waits for it before
    steps 12 / 12b, whose mask a fit that passes mostly replaces)."""
    sp = np.asarray(spacing, dtype=np.float64)
    shape = np.asarray(img.shape)
    half = np.ceil(C.LESION_RIND_BOX_MM / sp).astype(int)
    lo = np.maximum(np.asarray(seed) - half, 0)
    hi = np.minimum(np.asarray(seed) + half + 1, shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    a = np.asarray(img[box], dtype=np.float64)
    unit = intensity_unit(a, calibrated)
    if unit != 1.0:
        a = a / unit
    liv = None if liver is None else np.asarray(liver[box], dtype=bool)
    s_loc = tuple(int(v) for v in np.asarray(seed) - lo)
    sig_vox = [1.0 / v for v in sp]
    a32 = a.astype(np.float32)
    sm32 = _kernels.gaussian_filter_nearest(a32, sig_vox)
    sm = sm32.astype(np.float64)
    # (the noise on the float32 box and blur, which :func:`noise_sigma` would cast ``a`` and ``sm``
    # back to: the same values, without casting the ~0.75 M-voxel box twice; session of
    # 2026-12-07, second)
    noise = max(noise_sigma(a32, sm32, sig_vox), 1.0)
    del a32, sm32
    noise_s = noise * gaussian_noise_factor(sig_vox)
    k2 = np.ceil(2.0 / sp).astype(int)
    n0 = float(np.median(a[tuple(slice(max(c - kk, 0), c + kk + 1) for c, kk in zip(s_loc, k2, strict=True))]))
    pool = sm[liv] if liv is not None and np.count_nonzero(liv) > 1000 else sm.ravel()
    # a click that is not dark (most clicks step 13 is tried on: an enhancing lesion) is refused on
    # the mode of every 8th value first (the whole box's mode is ~15 ms on 0.68 mm pixels)
    # (2026-12-06, second: that mode is the parenchyma's first value too, not a second mode on every
    # LESION_RIND_MODE_SUBSAMPLE-th value: the shell's mode below replaces it)
    p0 = histogram_mode(pool[::C.LESION_RIND_BOX_MODE_SUBSAMPLE], max(noise_s, 1.0))
    if p0 - n0 < C.LESION_MIN_CONTRAST_K_SIGMA * noise_s:
        raise LowContrastError(
            f"rind=True: {where} is not in a dark core (value {_v(n0 * unit)}); click the lesion's necrotic "
            "(non-enhancing) centre, or segment it without rind=True.")
    _check(stop)
    # (the shell's modes below on every LESION_RIND_MODE_SUBSAMPLE-th value: 2026-12-06)
    sub = C.LESION_RIND_MODE_SUBSAMPLE
    first: tuple[NDArray[np.bool_], float] | None = None
    for _ in range(2):
        if p0 - n0 < C.LESION_MIN_CONTRAST_K_SIGMA * noise_s:
            raise LowContrastError(
                f"rind=True: {where} is not in a dark core (value {_v(n0 * unit)} against the parenchyma's {_v(p0 * unit)}); click "
                "the lesion's necrotic (non-enhancing) centre, or segment it without rind=True.")
        dark = sm < n0 + 0.5 * (p0 - n0)
        if not dark[s_loc]:
            raise LowContrastError(f"rind=True: {where} is not in a dark core; click the lesion's necrotic centre.")
        # (the face-connected component ``ndimage.label`` gives, flooded from the click alone)
        core = component_at(dark, s_loc)
        if first is not None and np.array_equal(core, first[0]):
            # (2026-12-06, fourth) the second round's core is the first's (most clicks): its
            # distances, its 3 mm and its shell are too, and the shell's mode gave this p0; only the
            # check of the 3 mm against the parenchyma reads the new value
            if first[1] - p0 <= -noise_s:
                raise LowContrastError(
                    f"rind=True: no enhancing layer around the dark core at {where} (the 3 mm around it: "
                    f"{_v(first[1] * unit)} against the parenchyma's {_v(p0 * unit)}); segment it without rind=True, or "
                    "on the phase where the layer enhances.")
            break
        if any(np.any(np.take(core, idx, axis=ax)) for ax in range(3) for idx in (0, -1)):
            raise NotEnclosedError(
                f"rind=True: the dark region at {where} reaches {C.LESION_RIND_BOX_MM:g} mm from it without meeting "
                "parenchyma: not a necrotic core in a layer (or larger than that); segment it without rind=True.")
        # the distances from the core on its bounding box and LESION_RIND_SHELL_MM beyond (all that the
        # checks below read; every core voxel lies inside, so the distances are the whole box's)
        near_box = pad_box(*bbox(core), np.ceil(C.LESION_RIND_SHELL_MM[1] / sp).astype(int) + 1, core.shape)
        dist = _kernels.distance_transform_edt(~core[near_box], sampling=sp)
        sm_near, liv_near = sm[near_box], None if liv is None else liv[near_box]
        near = (dist > 0.0) & (dist <= 3.0)
        if liv_near is not None:
            near &= liv_near
        near_v = float(np.median(sm_near[near])) if near.any() else p0
        if near_v - p0 <= -noise_s:
            # a layer raises the 3 mm around the core above the parenchyma (the rind sweep's 1.5 mm
            # rims on 0.7 mm pixels by 3.8-4.6 HU at 15 HU noise, ~2 smoothed sigmas; thicker ones up
            # to 16 HU); a dark lesion's blurred edge, with no layer, lowers it (2-7 HU below: every
            # robustness phantom, the 512 study's L5, the layerless ellipsoids): refused here, before
            # the rays, when it lies a smoothed noise sigma below.  1.40: not when it merely fails to
            # lie one above: a 1.5 mm rim on 1.15 mm pixels and 3 mm slices with a profile raises it
            # by -1.6 to +1.2 HU (the 3 mm hold the core's blurred edge too); the rays decide there
            raise LowContrastError(
                f"rind=True: no enhancing layer around the dark core at {where} (the 3 mm around it: {_v(near_v * unit)} "
                f"against the parenchyma's {_v(p0 * unit)}); segment it without rind=True, or on the phase where the layer "
                "enhances.")
        # the parenchyma again, beyond the core and its layer
        shell = (dist > C.LESION_RIND_SHELL_MM[0]) & (dist <= C.LESION_RIND_SHELL_MM[1])
        if liv_near is not None:
            shell &= liv_near
        if np.count_nonzero(shell) > 200:
            p0 = histogram_mode(sm_near[shell][::sub], max(noise_s, 1.0))
        first = (core, near_v)
    # 1.45: a lobulated lesion's lobes may hold necrotic cores of their own, apart from the click's
    # (the rind sweep's lobulated rinds from 2.5 mm): they join the core the rays start from
    core = _with_lobe_cores(core, dark, near_box, dist, sm, liv, p0, noise_s, sp)
    _check(stop)
    # (2026-12-06, seventh) from the rays on, the fit's independent work is split onto a side thread
    # (:mod:`._rind_split`; the same values): the click's own thread only waits for the fit by then
    with _rind_split.side_pool(_rind_surfaces._threads()) as side:
        return _fit_from_core(a, box, liv, sp, core, n0, p0, noise, unit, where, stop, past_floors, side)


def _fit_from_core(a: NDArray[np.float64], box: tuple[slice, ...], liv: NDArray[np.bool_] | None, sp: NDArray[np.float64],
                   core: NDArray[np.bool_], n0: float, p0: float, noise: float, unit: float, where: str,
                   stop: threading.Event | None, past_floors: threading.Event | None, side: Executor | None) -> RindFit:
    """:func:`rind_border` from step 1's core on (the box ``a`` of the image at ``box``, in the fit's
    units ``unit``): the rays, the surfaces' fit, the checks and the mask; ``side``: an idle executor
    the fit's independent work is split onto (:mod:`._rind_split`), or None."""
    c_vox, bi, bo, (n_r, r_r, p_r), w_rays = _fit_rays(a, core, sp, n0, p0, stop, side)
    _check(stop)
    layer_r = float(np.median(bo - bi))
    if r_r - p_r < noise or p_r - n_r < noise or layer_r < C.LESION_RIND_MIN_LAYER_MM:
        # the rays' values and edges already fail step 4's floors: no layer worth the surfaces' fit
        # (an infiltrative lesion on 0.68 mm pixels: 2 s to be refused there)
        raise LowContrastError(
            f"rind=True: no enhancing layer around the dark core at {where} (along the rays: core {_v(n_r * unit)}, layer "
            f"{_v(r_r * unit)} over {layer_r:.1f} mm, parenchyma {_v(p_r * unit)}); segment it without rind=True, or on the phase "
            "where the layer enhances.")
    if past_floors is not None:
        past_floors.set()

    degree = C.LESION_BLUR_MODEL_DEGREE
    y_ray = _direction_terms(_ray_directions().reshape(-1, 3), degree)
    gram = y_ray.T @ y_ray + 1e-9 * np.eye(y_ray.shape[1])
    c_in = np.linalg.solve(gram, y_ray.T @ bi.ravel())
    c_out = np.linalg.solve(gram, y_ray.T @ bo.ravel())
    # the fit's box: the outer edges and 6 mm beyond (the fit reads 5 mm beyond the start)
    reach = float(bo.max()) + 6.0
    flo = np.maximum(np.floor(c_vox - reach / sp).astype(int), 0)
    fhi = np.minimum(np.ceil(c_vox + reach / sp).astype(int) + 1, np.asarray(a.shape))
    fbox = tuple(slice(int(v0), int(v1)) for v0, v1 in zip(flo, fhi, strict=True))
    a, liv = a[fbox], None if liv is None else liv[fbox]
    box = tuple(slice(b.start + f.start, b.start + f.stop) for b, f in zip(box, fbox, strict=True))
    centre = (c_vox - flo) * sp
    k = y_ray.shape[1]
    x0 = np.concatenate([c_in, c_out])
    rho, u, use, r_in0, y_t, yu = _setup(a.shape, sp, centre, x0, degree, liv, side)
    ramps = _ramps(rho, u, sp)  # each fitted with each point-spread below
    data = a[use]
    rho32 = rho.astype(np.float32)
    smoothing = C.LESION_BLUR_MODEL_SMOOTHING
    prior = np.kron(np.eye(2), smoothing * _roughness(degree, C.LESION_BLUR_MODEL_FREE_DEGREE))
    inner = rho < r_in0 - 2.0
    if np.count_nonzero(inner) > 20:
        noise = max(robust_sigma(a[inner]), 1.0)

    # the surfaces fitted from the start with each ramp and each point-spread of the grid
    # (``LESION_RIND_PSF_STEPS`` steps); the two with the least chi^2 + prior are fitted on, and the
    # better wins.  (The point-spread trades against the layer's thickness and value: picked at the
    # start and refined by its neighbours, a 2 mm rind at 5 HU stayed at 0.75 mm, a 2.7 mm layer of
    # 99 HU for 2 mm of 115, Dice 0.953; each fitted, 1.0 mm and 0.99.)
    # 2026-12-06: the screen fits only the LESION_RIND_SCREEN_PSFS point-spreads nearest the rays' blur
    # (ties to the wider one: the rays' blur lies below the point-spread that the surfaces pick)
    psfs = tuple(sorted(sorted(C.LESION_RIND_PSF_MM, key=lambda v: (abs(v - w_rays), -v))[:C.LESION_RIND_SCREEN_PSFS]))
    cands = [(h, v) for h in ramps for v in psfs]
    blocks_grid = None
    if float(min(sp[1], sp[2])) <= C.LESION_RIND_COARSE_MAX_PIXEL_MM:
        # 1.55: the screen and the fits on 2 x 2-pixel blocks, then at most LESION_RIND_FINE_STEPS steps
        # of the winner on the pixels (a quarter of the voxels for most of the steps)
        j, x, st, blocks_grid = _coarse_to_fine(a, liv, sp, centre, x0, k, degree, psfs, cands, rho32, y_t, yu, use,
                                                data, noise, prior, stop, side)
    else:
        j, x, st = _race(cands, x0, k, rho32, y_t, yu, use, sp, data, noise, prior,
                         _surfaces(x0, k, rho32, y_t, ramps), stop, len(psfs))
    h, psf = cands[j]
    coef, x3 = st.coef, st.x3
    # (1.67: the state on the blocks after a handover, :func:`_coarse_to_fine`: their count and noise)
    n_fit, noise_fit = (blocks_grid.data.size, blocks_grid.noise) if blocks_grid is not None and blocks_grid.handed \
        else (data.size, noise)
    chi2_red = float(st.r @ st.r) / max(n_fit - 2 * k - 3, 1)
    p_v, dr, dn = (float(v) for v in coef)
    r_v, n_v = p_v + dr, p_v + dr + dn
    # the values' standard errors (noise x the design's inverse), for R - P and P - N = -(dr + dn)
    cov = noise_fit**2 * np.linalg.inv(x3.T @ x3 + 1e-9 * np.eye(3))
    se_r = float(np.sqrt(max(cov[1, 1], 0.0)))
    se_n = float(np.sqrt(max(cov[1, 1] + cov[2, 2] + 2 * cov[1, 2], 0.0)))
    kk, floor = C.LESION_MIN_CONTRAST_K_SIGMA, noise  # (and a layer one voxel's noise above the parenchyma)
    # the layer's thickness on the rays' directions
    thick = float(np.median(y_ray @ (x[k:] - x[:k])))
    if dr < max(kk * se_r, floor) or -(dr + dn) < max(kk * se_n, floor) or thick < C.LESION_RIND_MIN_LAYER_MM:
        raise LowContrastError(
            f"rind=True: no enhancing layer around the dark core at {where} (fitted core {_v(n_v * unit)}, layer "
            f"{_v(r_v * unit)} over {thick:.1f} mm, parenchyma {_v(p_v * unit)}); segment it without rind=True, or on the phase "
            "where the layer enhances.")
    # (2026-12-06, eighth session: the layer's float32 radius over the box computed once for the correction's reading and the mask)
    layer_radius = LayerRadius(x[k:], y_t)
    offsets = _node_offsets(x, k, st, rho32, y_t, u, use, h, [psf / w for w in sp], data, noise, side, blocks_grid,
                            layer_radius)
    if offsets is None:
        out = _inside(a.shape, sp, centre, x[k:], degree)
    else:
        # the layer's surface with its per-direction correction, at the voxel centres
        out = _inside_corrected(rho, u, y_t, x[k:], offsets, degree, layer_radius)
    if liv is not None:
        out &= liv
    log.debug("rind border: psf %.2f mm, ramp %s, N %.0f R %.0f P %.0f, layer %.1f mm%s", psf,
              "mean spacing" if j < len(psfs) else "slice", n_v, r_v, p_v, thick,
              "" if offsets is None else ", corrected per direction")
    return RindFit(out, box, n_v * unit, r_v * unit, p_v * unit, float(psf), thick, chi2_red, offsets is not None)


def _node_offsets(x: NDArray[np.float64], k: int, st: _State, rho: NDArray[np.float32], y_t: NDArray[np.float32],
                  u: NDArray[np.float64], use: NDArray[np.bool_], h: NDArray[np.float32], sig: list[float],
                  data: NDArray[np.float64], noise: float, pool: Executor | None = None,
                  blocks: _rind_coarse.Grid | None = None,
                  radius: LayerRadius | None = None) -> NDArray[np.float64] | None:
    """1.53 (:mod:`._rind_nodes`): the layer's radius correction per voxel of the box (flat; the mask
    reads only the layer's surface), both surfaces' corrections fitted on the rays' direction nodes with the point-spread ``sig`` (voxels) and
    the ramp ``h`` of the fit ``x`` / ``st``; None when its score test finds nothing the degree-4
    surfaces leave (an oval: the mask stays the degree-4 one, bit for bit).  ``pool``: an idle executor;
    when given, the two surfaces' blurs, renders and node weights are split onto it (2026-12-06,
    seventh session: the same values).  ``blocks``: the 2 x 2-pixel blocks' fit (:func:`_coarse_to_fine`), when
    given the correction is fitted there after the score test on the pixels (1.65, :mod:`._rind_coarse`), or
    without it when the blocks' race was handed over to it (1.66);
    ``radius``: the layer's float32 radius over the box, shared with the mask (1.66)."""

    if blocks is None or not blocks.handed:
        # (2026-12-06, eighth: by compiled passes on the voxels the blur reads, the same values, :mod:`._rind_gn`)
        gn = _rind_gn.kernels()
        fast = None if gn is None else _rind_gn.NodeSurfaces(gn, rho, h, sig, use)
        a_in, a_out = _rind_coarse.slopes(st, h, sig, use, noise, fast, pool)
        z = _rind_nodes.misfit_score(u[use], a_in, a_out, st.r)
        log.debug("rind border: the degree-4 surfaces' misfit per direction, z %.1f", z)
        if not z >= C.LESION_RIND_NODES_MIN_SCORE_Z:
            return None
        if blocks is None:
            d, weights = _rind_coarse.fit_offsets(x, k, st, rho, y_t, u, use, h, sig, data, noise, pool, (a_in, a_out),
                                                  fast)
            return weights @ d[d.size // 2:]  # type: ignore[no-any-return]
    # on the blocks (1.65); 1.66: without the pixels' test when the blocks' race was handed over (the score test on
    # the blocks gave z >= LESION_RIND_HANDOVER_Z); the layer's radius over the box, read last, computed beside it
    if radius is not None:
        radius.start()
    return _rind_coarse.node_offsets_on_blocks(x, k, blocks, u, pool, rho, y_t, radius)


class RindAhead:
    """:func:`rind_border` on a thread of its own, started before the caller knows whether it will
    read the result.  Step 13 without being asked runs after steps 1-12, 9b and 11, when they say so
    (step 7 grew the click's region, step 9 wrapped it in a rim, or it is hypodense) and step 11
    found no filling defect; but it reads only the phase it fits, the click and the liver, known
    once the phase is chosen.  So on fine pixels ``segment_lesion`` starts it then when the phase
    choice found the click's region hypodense (else at step 9's end when step 13 will be tried), on
    the second core (a click is otherwise one thread until the surfaces' fits), and reads it when
    those steps say it is tried on the same inputs (:meth:`reads`), else stops it: the same
    function on the same inputs, the same result.  :meth:`result` waits for it (and raises what it
    raised); :meth:`cancel` tells it to stop at its next stage (:func:`rind_border`'s ``stop``) and
    waits.  The thread holds the click's one-BLAS-thread limit (:func:`.._blas.one_blas_thread`)."""

    def __init__(self, img: NDArray[Any], seed: tuple[int, int, int], spacing: tuple[float, float, float],
                 liver: NDArray[np.bool_] | None = None, calibrated: bool = True) -> None:
        self._inputs = (img, tuple(int(v) for v in seed), tuple(float(v) for v in spacing), liver, bool(calibrated))
        self._stop = threading.Event()
        self._decided = threading.Event()  # set past the rays' floors, or when the fit ends (1.62)
        self._future: Future[RindFit] = Future()
        self._thread = threading.Thread(target=self._run, args=(img, seed, spacing, liver, calibrated),
                                        name="rind_border", daemon=True)
        self._thread.start()

    def _run(self, img: NDArray[Any], seed: tuple[int, int, int], spacing: tuple[float, float, float],
             liver: NDArray[np.bool_] | None, calibrated: bool) -> None:
        self._future.set_running_or_notify_cancel()
        try:
            with one_blas_thread():
                fit = rind_border(img, seed, spacing, liver, calibrated=calibrated, stop=self._stop,
                                  past_floors=self._decided)
        except BaseException as err:  # noqa: BLE001 - handed to the caller by result()
            self._future.set_exception(err)
        else:
            self._future.set_result(fit)  # (once the BLAS limit is released, as the thread's end was)
        finally:
            self._decided.set()

    def reads(self, img: NDArray[Any], seed: tuple[int, int, int], spacing: tuple[float, float, float],
              liver: NDArray[np.bool_] | None = None, calibrated: bool = True) -> bool:
        """Whether this fit is :func:`rind_border`'s on these inputs: the same image and liver
        arrays (the objects themselves), click, spacing and calibration."""
        own_img, own_seed, own_sp, own_liver, own_cal = self._inputs
        return (img is own_img and liver is own_liver and tuple(int(v) for v in seed) == own_seed
                and tuple(float(v) for v in spacing) == own_sp and bool(calibrated) == own_cal)

    def likely(self) -> bool:
        """Whether the fit is likely to be used (1.62): waits until it has passed the rays' floors (its
        last refusal before the surfaces' fit) or ended, and says whether it passed them and did not
        fail.  ``segment_lesion`` then waits for the fit before steps 12 / 12b and skips them when it
        wins (``_driver._rind_first``)."""
        self._decided.wait()
        return not (self._future.done() and self._future.exception() is not None)

    def result(self) -> RindFit:
        """The fit (:func:`rind_border`'s result), once it is done; raises what it raised."""
        return self._future.result()

    def cancel(self) -> None:
        """Stop the fit at its next stage (the result is not wanted) and wait for the thread."""
        self._stop.set()
        self._thread.join()


__all__ = ["RindAhead", "RindFit", "rind_border"]

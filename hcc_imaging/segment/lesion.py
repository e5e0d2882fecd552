"""Seeded 3-D lesion segmentation from one click or one line (classical, CPU).

Method (:func:`segment_lesion`)
-------------------------------
1. **Region of interest**: a box around the seed (``LesionParams.roi_half_size_mm``; with a
   line of length L, ``line_roi_factor * L``).  It grows by ``roi_growth`` while the mask
   touches its border, up to ``roi_max_half_size_mm``; a click's mask that still touches it
   there is refused (``NotEnclosedError``, 1.13).
2. **Smoothing**: Gaussian, sigma ``smoothing_sigma_mm`` (1 mm) converted to voxels per axis.
   perf.md section 4 shows that smoothing first is what makes region growing robust at CT
   noise (Dice 0.90 -> 0.98, and no more empty masks).
3. **Intensity model**: lesion value = median of the raw image in a ball of
   ``seed_radius_mm`` around the seed (one noisy voxel cannot move it); noise sigma = robust
   SD (1.4826 MAD) of the region of interest's high-pass residual (raw - smoothed,
   :func:`._morph.noise_sigma`), and its smoothed counterpart from the exact noise reduction of
   the discrete Gaussian kernel.  The noise sigma is floored (1.13): on CT at
   ``LESION_MIN_NOISE_HU``, on MR at ``LESION_MIN_NOISE_FRACTION`` of the values' scale (a
   noise-free or denoised image made every partial-volume voxel "significant").  Surroundings
   value = median of the smoothed image in a ring ``ring_inner_mm``-``ring_outer_mm`` outside
   the current region (inside the liver when a liver mask is given).  The first region is a
   conservative core (|S - lesion| <= 2.5 sigma_smoothed, connected to the seed; with a line,
   the ball on the line, the lesion value the median of its inner half (by depth in mm since
   1.42; it was counted in voxels, a flat disc on thick slices) or, 1.34, of the line's
   central part when that is farther from the surroundings by ``LESION_LINE_VALUE_MARGIN_K``
   smoothed sigmas).  A click refused by steps 3-4, or whose mask is smaller than the
   seed ball, is retried once with that band widened by the seed median's standard error
   (1.13; kept unless it leaks to the region's faces).
4. **Window**: from the midpoint between lesion and surroundings (the 50 % partial-volume
   border) to ``outer_k_sigma`` noise sigmas (or one contrast) beyond the lesion value, on the
   lesion's side (hypo- or hyper-dense is decided by the data, or forced with ``polarity``).
   With a line and ``polarity="auto"``, the lesion is heterogeneous (two-sided window, "both")
   when clearly darker AND clearly brighter parts each make ``LESION_HETEROGENEOUS_MIN_FRACTION``
   of the ball on the line, or (1.4) of the central ``LESION_LINE_PROFILE_INNER_FRACTION`` of the
   drawn line itself (a compact lipiodol deposit is a small share of the ball).
5. **Region**: voxels in the window (and in the liver mask, and within
   ``line_clamp_factor * L / 2`` of the line's midpoint) connected to the seed; a binary
   opening with a ball of ``opening_radius_mm`` cuts thin bridges to vessels and the
   partial-volume shell along the liver edge; holes are filled (3-D, then per slice).
6. Steps 3-5 are repeated ``iterations`` times with the lesion value re-estimated as the
   median of the ``edge_band_mm`` band inside the mask (the whole mask's median when that band
   is within the contrast minimum of the surroundings: an ill-defined, infiltrative border; a
   note says so) and the ring taken around the mask.  From round 2 on, when the parenchyma value
   (histogram mode of the wider shell, as in step 7) lies between the ring's value and the
   lesion's, more than one smoothed-noise sigma from each (1.9; 1.4-1.8: three, after a
   ring-spread gate), the window's near bound is the midpoint against the parenchyma: a viable nodule at
   the border of a necrotic lesion has a ring of necrosis, and the midpoint against necrosis
   lets the region leak into the liver (1.4).  With a ball as the first region (a line's), one
   round more when the last round's ring value moved away from the lesion's by more than
   ``LESION_BALL_RING_SHIFT_FRACTION`` x the contrast: the first ring lay partly in the lesion
   and the edge band was read in a mask grown with too narrow a window (1.39).
7. **Heterogeneous lesions** (click only; ``heterogeneous_expansion``): the parenchyma value is
   the histogram mode of the smoothed image near the region (inside the liver).  When most of the
   ring around the region differs from it (``shell_nonparenchyma_fraction``), the click hit one
   part of a heterogeneous lesion (a viable nodule in necrosis, a remnant next to lipiodol, a
   necrotic core inside enhancing tissue): the region grows to every connected voxel that
   differs from parenchyma by more than half the typical deviation on its side (dark / bright:
   the median of the region's and the ring's deviations there, or the ring's alone when the ring
   is a tissue deviating more than the region, 1.18: the necrosis around a viable nodule),
   reached through a band of ``LESION_EXPANSION_BRIDGE_MM`` around the region (1.19: the blurred
   step between two lesion tissues passes through the parenchyma's values), opened and hole-filled, for up to ``expansion_rounds`` rounds, and is kept only when its final
   ring is parenchyma and it stays within ``expansion_max_mm`` of the clicked region (enclosed).  Otherwise the step-6 mask stands.
   An accepted growth measures each side's level again on the tissue it took (1.21,
   ``LESION_EXPANSION_RELEVEL``: half its median deviation, when stricter) and grows the clicked
   region once more with it: the ring held a layer's blurred outer part, not its plateau (a
   necrotic core's enhancing rind, whose level lay outside its edge on fine grids).
   A growth that is not accepted takes the test back (1.50) when the ring is parenchyma once the
   click region's own blurred edge is allowed (the region and its half-level edge blurred by
   ``LESION_HETEROGENEOUS_TAIL_PSF_VOX`` and the smoothing, departures within
   ``LESION_HETEROGENEOUS_TAIL_MODEL_ERROR`` of the step): a bright, sharp lesion's region stops
   inside its edge at low noise, and steps 12 / 8 then ran on a homogeneous lesion.
   With several phases (chosen automatically) the accepted growth is redone on the phase whose
   border band differs most from parenchyma; when the growth is not accepted on the click's
   phase, it is tried on the other phases of the grid and the accepted one with the highest
   border contrast is kept (1.4: at high noise the rest of the lesion may be too faint on the
   click's phase, e.g. necrosis on arterial); a growth there that reaches the region of
   interest's border is redone in larger ones, as on the click's phase (1.9).
8. **Shape model for heterogeneous lesions in textured parenchyma** (``radial_refinement``): when
   the step-7 test fired but its growth was rejected, the border is found along rays from the
   click (first run of parenchyma-like samples, parenchyma = histogram peak and its width) and
   regularised by a median over neighbouring directions (star-shaped lesion, smooth border);
   a ray that a liver mask ends where darker tissue (fat, lung) lies beyond it goes on to the
   raw image's edge, at most ``LESION_RADIAL_EDGE_MM`` past the mask (a mask's border is
   uncertain by a partial-volume ramp); see :mod:`._radial`.  Kept unless most rays never meet
   parenchyma.
9. **Thin enhancing rim** (``enhancing_rim``; click or line on a hypodense zone, steps 7-8 not
   used): the shell within max(``REACTIVE_RIM_MAX_THICKNESS_MM``, one voxel) outside the mask is
   compared with the 2-6 mm ring on every phase sharing the grid, on raw values; when its mean
   is brighter by ``min_contrast_k_sigma`` standard errors and brighter in most of its octants
   around the mask's centroid (``LESION_RIM_MIN_OCTANT_FRACTION``; 1.9, noise-proof: 1.8 counted
   smoothed voxels above one noise sigma, which a rim fails at 25 HU), a rim is present (an ablation zone / post-TACE necrosis with its
   reactive rim; the viable sub-mask still treats the rim as reactive).  The rim layer (that
   shell plus the face-neighbour voxel layer) is then classified voxel by voxel on the **raw**
   values of every phase: a Gaussian mixture, parenchyma (the medians of the ring's voxels
   outside the layer, fixed: the ring's inner part holds the layer's rim partial volume) against
   lesion border (rim, estimated by EM, or necrosis at the mask's medians), posterior >= 1/2
   joins the mask (algorithm 1.3; 1.2 thresholded the smoothed rim phase alone, which misses
   rim + necrosis partial-volume voxels).  The prior is spatial (i26): the lesion part of the
   layer ends on a smooth closed surface, a logistic function of each voxel's direction from the
   mask's centroid (harmonics up to ``LESION_RIM_SURFACE_DEGREE``) and its distance, refitted to
   the posteriors in every EM iteration (one noisy voxel cannot decide alone at 25 HU noise).
   The step runs again from its own mask (1.20, at most ``LESION_RIM_MAX_EXTRA_LAYERS`` more
   times) while it fires and the layer it adds is still as bright as half the first layer's upper
   values above the parenchyma (``LESION_RIM_LAYER_LEVEL``): a rind thicker than one layer (a
   necrotic tumour's, 2.5-3.5 mm) is followed to its edge, a thin rim's blurred tail is not.
   1.48 (:func:`._rim._rim_slice_surface`): on slices thicker than the pixels, with the layer one
   voxel deep, the rimmed lesion is fitted on every phase as two nested surfaces (the outer one
   with the ramp of a slice that averages its thickness, the rim a fitted thickness from
   ``LESION_RIM_FIT_THICKNESS_MM`` inside it) and the outer surface is the mask, when that ramp
   explains the data better than point samples by ``LESION_BLUR_MODEL_MIN_EVIDENCE``, the thickness
   lies inside its grid and the surface agrees with the layer's mask and holds its core.

With several phases, the phase where the lesion is most conspicuous is used: the largest
|lesion - surroundings| / noise sigma (first-round estimate) unless ``phase=`` is given.  With a
line, when that phase's step-6 mask covers less than ``LESION_LINE_MIN_COVERAGE`` of the drawn
line's central part (the line is drawn edge to edge, so a part of the lesion on it was left out,
e.g. a nodule outside that phase's one-sided window), the next phase by conspicuity whose mask
covers it is used instead (a note says so); and a step-10 (b) joint mask that leaves the line
uncovered does not replace a single-phase mask that covers it.

10. **Phases used jointly** (1.5; phase chosen automatically, two or more phases on one grid).
    Two joint methods: (i) nearest-mean classification in the phases' joint space (each phase in
    its smoothed-noise sigmas) against up to ``LESION_MULTIPHASE_RING_CLASSES`` tissue classes of
    the ring, so that a lesion lying between two neighbours (a thrombus between liver and
    contrast-filled vein) is bounded on both sides (:func:`._multiphase._segment_multiphase`); (ii) steps 3-6
    on the phases' matched-filter combination sum_i w_i x_i, w_i ~ contrast_i / noise_i^2
    (Fisher's discriminant for independent noise; contrasts between a ball around the click, of
    the scale with the largest contrast, or around the line's midpoint, and its ring, then
    between the mask and its ring; :func:`._multiphase._segment_combined`; 1.17: contrasts, noise
    and combination read on the first region of interest's box, the largest one only when the
    lesion outgrows the first).  Used (a) when the chosen phase
    raises ``LowContrastError``: (i), else (ii); (b) when the step-6 mask (no step 7 / 8 growth)
    still touches the largest region of interest (a leak), or is one-sided and holds two tissues
    that another phase separates (interquartile range on that phase above
    ``LESION_MIXED_SPREAD_K`` noise IQRs and above its own phase's, and, 1.33, the values less
    their median at each depth below the mask's border, which one tissue's blurred margin
    follows, still spread above ``LESION_MIXED_SPREAD_K`` times noise): (i); (c) otherwise, when the
    step-6 border was ill-defined (step 6's note): (ii); (c2) (1.37) otherwise, a line's mask that
    reaches the leak clamp and is larger than ``LESION_LINE_LEAK_BALL_RATIO`` x the ball whose
    diameter is the line (it leaked): (i), used when it ends inside the clamp and covers the line,
    else (d); (d) (1.11, ``combined_border``)
    otherwise, for a clean one-sided step-6 mask (no leak, no growth, the line's phase not
    switched): (ii) at the method's smoothing redoes its border, whose noise then averages over
    the phases, and replaces the mask unless it leaks, misses the click, leaves out a part of it
    that is another tissue (its median on the other side of the ring's from the lesion's on some
    phase: a viable nodule cut out of necrosis, :func:`._multiphase._combined_border`) or, with a
    line, much of the line, or the lesion lies elsewhere on some phase (breath holds differ:
    :func:`._multiphase._phases_aligned`); the one phase's model (phase, values, window) is kept, the weights are recorded
    (``SegmentationResult.border_weights``) and steps 9 / 9b / 11 follow as usual.  A joint result that itself touches the
    largest region of interest is not used (the error or the single-phase mask stands).  A note
    says which was used; the reported phase is the one of largest weight / contrast, and the
    lesion / surroundings values its HU medians of the mask and its ring.
    1.7 (faint lesions): (ii) runs at ``LESION_FAINT_SMOOTHING_MM`` (2 mm); (iii) is (i) with the
    tissue classes sought on the phases smoothed at 2 mm in the 25 mm shell
    (``LESION_PARENCHYMA_SAMPLE_MM``) and the click's ball at (ii)'s scale, so that a tissue a few
    mm off (the liver beyond a node) bounds the lesion.  (iii) replaces (ii)'s mask when that holds
    a tissue class lying *beyond* the lesion along the combination (:func:`._multiphase._holds_other_tissue`:
    the one-sided window cannot exclude it), and is the last resort when (i) and (ii) give
    nothing (also in case (c)).
9b. **Dense lipiodol** (``include_lipiodol``, 1.8; the pre-contrast phase or two phases on the
    mask's grid: one post-contrast phase alone cannot tell lipiodol from an enhancing artery): a
    deposit of at least ``LIPIODOL_MIN_HU`` on every phase given (inside the liver mask when there is one) that
    touches the mask is added with the partial-volume margin ``viable_mask`` excludes
    (``LIPIODOL_MARGIN_MM``), holes filled: part of the treated lesion for RECIST.
11. **Filling defect in a contrast-filled vessel** (:mod:`._vessel`; any mask, any phases on its
    grid): when bright blood lies beyond both ends of the mask along its axis (two patent
    segments of consistent radius), the mask is replaced by the vessel's lumen estimated from
    them (straight or gently curved centreline) minus the blood, if that agrees with the mask
    (Dice >= ``VESSEL_MIN_AGREEMENT``; 1.32: or holds it, growing it at most
    ``LESION_BLUR_MODEL_MAX_GROWTH`` times); a note says so.  A tube prior (how a radiologist reads a
    portal-vein tumour thrombus); otherwise the mask stands.  1.29: when step 9 wrapped the zone
    in a "rim" and the result is no filling defect, the zone before the rim is tried (the rim may
    be the vessel's blood around the thrombus).  1.49: a defect that runs to an end of the lumen
    model (the mask held only part of the thrombus along the vessel) is fitted once more with the
    mask grown by it, the patent segments then looked for beyond it; taken when that fit reproduces
    the grown mask and agrees with (or holds) the first.
12. **Blurred (ill-defined) border** (``blurred_border``, 1.12, :mod:`._blur`; before 9b and 11,
    on any mask but step 8's star-shaped estimate, a rim (step 9), a leak or a nearest-mean joint
    mask (but see 12b, 1.35); a step-7 growth included: a blurred lesion's halo can make its ring
    look heterogeneous):
    the midpoint level of a blurred convex lesion lies inside it (by about sigma^2 x its mean
    curvature: 14 % of the infiltrative phantom lesion's volume under 3.2 mm of blur), and a
    threshold's lesion value decides the size (clicks gave masks 10 % too small, lines 10 % too
    large).  The image around the mask is fitted, every phase of the grid at once, by
    ``a_i + b_i (G_sigma * S)``: S a star-shaped surface around the mask's centroid (radius a
    polynomial of the direction up to degree ``LESION_BLUR_MODEL_DEGREE``, a one-voxel
    partial-volume ramp), G_sigma the margin's Gaussian blur, a_i / b_i each phase's least-squares
    offset and contrast; Gauss-Newton on the surface, sigma from a grid; the surface's roughness
    beyond an ellipsoid's (its spherical-harmonic degrees >= 3, Laplace-Beltrami weighted) is
    penalised (``LESION_BLUR_MODEL_SMOOTHING``, 1.14: 25 free terms had followed the noise;
    1.54, ``LesionParams.blurred_surface="near_ellipsoid"``: an accepted fit's start is fitted
    again with 1 / radius^2 = the polynomial under priors from weak to strong, and the fit Akaike's
    criterion prefers, or the free surface, is kept).  The mask becomes the
    voxels whose centre lies inside the fitted surface, when the margin is blurred beyond a CT
    kernel's (sigma >= ``LESION_BLUR_MODEL_MIN_SIGMA_MM``, and the blurred model's noise-weighted
    residual at least ``LESION_BLUR_MODEL_MIN_EVIDENCE`` below a sharp one's, also on the
    starting surface, which keeps a sharp lesion's cost to two blurs), the surface reproduces the
    starting mask before and after the fit (Dice >= ``LESION_BLUR_MODEL_MIN_AGREEMENT``: not a
    tube bent around its centroid, not a leak; 1.14: or, after the fit, is nested with it, keeping
    that share of it and growing it, or lying that much inside it and shrinking it, by at most
    ``LESION_BLUR_MODEL_MAX_GROWTH`` with a blur inside the grid: a small blurred lesion's
    midpoint-level mask holds half of it, step 7 can grow over a bright lesion's halo), holds the
    click and covers the drawn line.  The
    fitted blur is recorded (``SegmentationResult.border_blur_mm``) and a note says so; the phase,
    values and window reported stay those of the mask the step started from.
    1.15: the step also runs *before* step 8, on the click's region whose ring step 7 read as
    lesion tissue and whose growth it rejected (``_refine._blurred_click_region``): a bright lesion
    with an ill-defined margin fades into the parenchyma, so the click's region is its core, the
    ring its blurred margin, and step 8's rays ran out through that margin (masks 2-30 x the
    lesion).  On the click's phase; a fit that grows the core with the grid's largest blur is fitted
    once more from its own surface (``blurred_border(from_core=True)``) and held to the same tests
    against the core (1.51: growing it by up to ``LESION_BLUR_MODEL_CORE_MAX_GROWTH``, a plateau core
    being a small part of a blurred lesion), and no fit with the grid's largest blur is used.  Its
    values are the mask's median and step 7's parenchyma.  A heterogeneous tumour's click region (3D-IRCADb-01 #17) is
    not star-shaped, and step 8 runs as before.
    1.47: the model is one lesion in one surroundings; when its band also holds another tissue (fat, a
    vessel: beyond both levels by more than one contrast, ``LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS``),
    the fit is redone without that tissue's voxels and their face neighbours (as step 12b leaves them
    out) and used when it passes the same tests; else the fit with them stands.  Their misfit had
    divided the evidence (a noise-free 10 mm lesion beside the vessel and the fat: reduced chi^2 240)
    or pulled the surface outward.
12b. **Sharp border to sub-voxel precision** (``sharp_border``, 1.16, :func:`._sharp.sharp_border`;
    where step 12 runs and did not place the border, lesions up to
    ``LESION_SHARP_FIT_MAX_DIAMETER_MM``): on thick slices the point-spread along z is wide, and
    the midpoint level of a small convex lesion lies inside it (the perf.md 12 mm lesion lost 3-9 %
    of its voxels without noise).  The same surface model is fitted with a Gaussian point-spread
    of s voxels per axis group (the in-plane pixels, the slices; s picked from
    ``LESION_SHARP_FIT_PSF_VOX``), on the image's own grid (blocks of pixels above
    ``LESION_SHARP_FIT_MAX_VOXELS``), leaving out voxels beyond both levels (fat, a vessel) and
    their face neighbours.  Used when s lies inside the grid (at its smallest the data show no blur
    beyond the voxel: no bias to correct; at its largest the margin is blurred), the result
    agrees with the mask (Dice >= ``LESION_SHARP_FIT_MIN_AGREEMENT``), holds the click and covers
    the line; the picked point-spread is recorded (``SegmentationResult.border_psf_vox``).
    1.31: on slices thicker than the pixels the surface is also fitted with the ramp of a slice
    that averages its thickness (a CT slice's profile; the pixels point samples) and with point
    samples (slices sampled at their centres); the slice's fit is used first when it explains the
    data better than both by ``LESION_BLUR_MODEL_MIN_EVIDENCE`` (``border_ramp == "slice"``), not
    after a step-7 growth (the border may be another tissue than the fit's inner level).
    1.35: also on a mask of step 10's nearest-mean classes, which leave out the partial-volume
    voxels between the classes (the fu2 node without a liver mask: 0.64 of its volume); there only
    a fitted surface that holds the mask and grows it by at most ``LESION_BLUR_MODEL_MAX_GROWTH``
    is used (step 12's nesting rule), 1.36 with the grid's smallest point-spread too.
    1.44: where the voxel's ramp finds the point-spread at the grid's smallest (no midpoint bias: a
    grid that samples the slices' centres) and point samples explain the data at least as well
    (on slices at least ``LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO`` times the pixels: better by
    ``LESION_BLUR_MODEL_MIN_EVIDENCE``), on one tissue (not after a step-7 growth, not on step 10's
    classes) and the image's own grid, the midpoint level's noise still decides each voxel (a small
    lesion at 25 HU: a contrast-to-noise ratio near 2 per voxel, masks 2-9 % too large).  There a
    point-sample surface with a roughness prior ``LESION_SHARP_FIT_POSTERIOR_STIFFNESS`` times
    stiffer is each voxel's prior (log-odds from its signed distance over the radius' standard
    error, the fit's Laplace approximation), the voxel's own matched-filter log-likelihood ratio
    against the fitted levels is added, and the voxels within ``LESION_SHARP_FIT_BAND_MM`` of the
    surface where the sum is positive make the mask (holes filled; ``border_ramp == "point"``);
    the same agreement, click and line tests apply, and step 11 reads the mask before it.
    1.46: on slices thicker than the pixels the slice's ramp (1.31) places a surface with a
    roughness prior ``LESION_SHARP_FIT_SLICE_STIFFNESS`` times step 12's, tried first, and is fitted
    where point samples would decide each voxel too: when it explains the data at least as well its
    voxel centres make the mask (a slice that averages its thickness: a point surface sits outside
    the lesion's caps, whose partial voxels the noise takes; ``border_ramp == "slice"``).
    1.52: a fitted border below the agreement test is still used when it only takes voxels off the
    mask (at most ``LESION_SHARP_FIT_NESTED_SHRINK`` of it outside) and keeps
    ``LESION_SHARP_FIT_KEEP_START_PLATEAU`` of the mask's voxels at the lesion's fitted level
    (:func:`._sharp._shrinks_nested`): step 8's star or step 7's growth held a small lesion's
    surroundings (1.5-3 x its volume on 5 mm slices) and the fit cuts them off.
13. **A necrotic core in an enhancing layer, on request** (``segment_lesion(..., rind=True)``,
    1.24, :mod:`._rind`): the reader says the click lies in the dark core of a lesion wrapped in an
    enhancing rim or rind (a treated HCC, a necrotic tumour).  Steps 1-12 are skipped: on the
    arterial phase (or ``phase``) the core and the layer are fitted as two nested star-shaped
    surfaces with a point-spread picked from ``LESION_RIND_PSF_MM``, started from rays; the mask is
    the outer surface.  Refused when the click is not in a dark core, or the layer is not brighter
    than the parenchyma or thinner than ``LESION_RIND_MIN_LAYER_MM``.  On pixels coarser than
    ``LESION_RIND_MAX_PIXEL_MM`` steps 1-12 run instead (step 9 does better there), with a note.
    1.25: **also without being asked** (``rind_border``), after steps 1-12 on pixels up to
    ``LESION_RIND_MAX_PIXEL_MM``, when step 7 grew the click's region or step 9 wrapped it in a rim
    (the automatic steps read a zone inside another tissue), 1.40 or the region is hypodense (a
    rind as thick as step 9's ring leaves neither step a trace), and no step-11 defect replaced the mask:
    the fit on the arterial phase of the grid replaces the mask when it passes the same tests, holds
    the click and covers a drawn line (a note says so, and the notes of the mask it replaced follow).
    The fit reads only the phase, the click and the liver: it runs on a thread of its own
    (``_rind.RindAhead``, the same result), started after the phase choice when that found the
    click's region hypodense, else at step 9's end, beside steps 1-12, 9b and 11, and is read at
    step 13 when tried on the same inputs, else stopped.  1.53: when a score test finds a shape the
    two degree-4 surfaces left behind (a lobulated rind's lobes), each surface's radius is corrected
    on the rays' direction nodes (:mod:`._rind_nodes`); an oval's fit passes the test and is kept.
14. **A line that leaked** (1.38, :func:`_leaked_line_as_click`): a drawn line's final mask that
    the leak clamp cut within a slice is redone from a click at the line's midpoint (or the seed given
    with it), whose steps 7-8 do not run on a line (IRCAD17's tumours, heterogeneous, drawn along
    the expert's longest diameters: 0.743 / 0.715 -> 0.874 / 0.854 with the expert liver); the
    click's mask is used when it covers ``LESION_LINE_MIN_COVERAGE`` of the line's central part and
    ends inside the clamp (a note says so; the result keeps the line), else the line's flagged mask.

Code: this module holds the public API (:func:`segment_lesion`, :class:`LesionParams`,
:class:`SegmentationResult`) and the driver (input checks, phase choice, steps 7-12 called in
order, provenance).  The steps are in private modules: :mod:`._grow` (steps 2-7 within one region
of interest, and the helpers the later steps share), :mod:`._refine` (one phase's segmentation
with its region-of-interest loop, step 8, step 9b, and step 7 across phases), :mod:`._rim` (step
9), :mod:`._multiphase` (step 10), :mod:`._radial` (step 8's rays), :mod:`._vessel` (step 11),
:mod:`._blur` (step 12), :mod:`._sharp` (step 12b) and :mod:`._rind` (step 13).

References: perf.md section 4 (anchors: SimpleITK CurvatureFlow + ConnectedThreshold,
scikit-image Gaussian + flood); Gonzalez & Woods, *Digital Image Processing*, region growing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._blas import single_blas_thread
from ..volume import ARTERIAL_PREFERENCE, LabelVolume, Modality, Phase, Volume
from . import constants as C
from ._blur import blurred_border
from ._sharp import sharp_border
from ._grow import _line_coverage, _Model, _RoiResult, _SmoothCache, _smoothed
from ._morph import gaussian_sigma_vox, pad_box
from ._multiphase import _combined_border, _joint_fallback, _mixed_on_other_phase
from ._refine import _grow_on_other_phase, _lipiodol_deposits, _regrow_on_best_phase, _segment_on
from ._rim import _add_enhancing_layers
from ._rind import RindAhead, RindFit, rind_border
from ._vessel import thrombus_in_lumen
from .errors import LowContrastError, NotEnclosedError, SeedError, SegmentationError

__all__ = ["LesionParams", "SegmentationResult", "segment_lesion", "seed_point_lps", "ALGORITHM_NAME"]

log = logging.getLogger(__name__)

#: Name recorded in provenance.
ALGORITHM_NAME = "hcc_imaging.segment.lesion.seeded_window_growing"

_POLARITIES = ("auto", "hypo", "hyper", "both")

#: step 13's phase, the first of these the study has: the layer enhances on the arterial phase
_RIND_PHASES = ARTERIAL_PREFERENCE


def _rind_inputs(phases: Mapping[Phase, Volume], vol: Volume, seed_vox: tuple[int, int, int],
                 liv: NDArray[np.bool_] | None) -> tuple[str, tuple[Any, ...]] | None:
    """What step 13 without being asked reads on ``vol``'s grid: (its phase, the arguments of
    :func:`rind_border` / :class:`RindAhead`: that phase's image, the click, the spacing, the liver,
    whether the values are HU), or None on pixels coarser than ``LESION_RIND_MAX_PIXEL_MM`` or
    without one of ``_RIND_PHASES`` on the grid."""
    if min(vol.spacing[1:]) > C.LESION_RIND_MAX_PIXEL_MM:
        return None
    k = next((k for k in _RIND_PHASES if k in phases and phases[k].geometry.equals(vol.geometry)), None)
    if k is None:
        return None
    return str(k), (phases[k].array, seed_vox, vol.spacing, liv, vol.modality == Modality.CT)


@dataclass(frozen=True, slots=True)
class LesionParams:
    """Parameters of :func:`segment_lesion` (defaults and sources in :mod:`.constants`).

    Attributes
    ----------
    smoothing_sigma_mm : float
        Gaussian sigma (mm) applied before thresholding.
    seed_radius_mm : float
        Radius (mm) of the seed neighbourhood whose median is the lesion value.
    roi_half_size_mm, roi_max_half_size_mm, roi_growth : float
        Initial and largest ROI half-size (mm) and growth factor.
    ring_inner_mm, ring_outer_mm : float
        Distances (mm) outside the region that bound the surroundings ring.
    outer_k_sigma : float
        Far window bound in raw-noise sigmas beyond the lesion value (at least one contrast).
    min_contrast_k_sigma : float
        Minimum |lesion - surroundings| in smoothed-noise sigmas; below it LowContrastError.
    opening_radius_mm : float
        Ball radius (mm) of the bridge-cutting opening (0 disables it).
    iterations : int
        Rounds of re-estimating the intensity model (one more after a line's first round whose
        ring lay in the lesion, step 6).
    line_roi_factor, line_clamp_factor : float
        ROI half-size and leak clamp radius, as multiples of the line length / half-length.
    polarity : {"auto", "hypo", "hyper", "both"}
        Lesion darker ("hypo") or brighter ("hyper") than its surroundings; "auto" decides
        from the data; "both" segments everything that differs from the surroundings.
    edge_band_mm : float
        Width (mm) of the band inside the border whose median is the lesion value (round >= 2).
    heterogeneous_expansion : bool
        After a click, test whether the grown region is enclosed by a shell of non-parenchyma
        tissue and, if so, grow to the lesion-parenchyma boundary (step 7 of the method).
    shell_nonparenchyma_fraction : float
        Fraction of the ring that must differ from parenchyma for that test.
    expansion_rounds : int
        Largest number of outward growth rounds.
    parenchyma_sample_mm : float
        Distance (mm) outside the region within which the parenchyma mode is taken.
    expansion_max_mm : float
        Leak clamp of that growth: farthest distance (mm) from the clicked region; a growth that
        reaches it is rejected (not enclosed).
    fat_max_hu : float or None
        CT only: smoothed values at or below this (HU) are fat, never lesion tissue for that
        growth (a node in fat is not "enclosed by lesion tissue").  None turns it off; it is
        off on MR whatever is given.
    radial_refinement : bool
        When that growth is rejected, refine with the star-shaped (radial) shape model of
        :mod:`._radial` (step 8 of the method).
    enhancing_rim : bool
        After a click or a line on a hypodense zone, include a thin enhancing rim around it (step 9).
    include_lipiodol : bool
        Include a dense lipiodol deposit that touches the mask, with its partial-volume margin
        (step 9b, 1.8): part of the treated lesion for RECIST (``viable_mask`` excludes it).
    combined_border : bool
        With the phase chosen automatically, redo a clean one-phase mask's border on the phases'
        matched-filter combination when the lesion shows on several phases (step 10 (d), 1.11).
    blurred_border : bool
        Place an ill-defined (infiltrative) lesion's border on a fitted blurred-surface model
        instead of the midpoint level (step 12, 1.12).
    blurred_surface : {"near_ellipsoid", "free"}
        Step 12's surface: "near_ellipsoid" (1.54, the default: 1 / radius^2 a polynomial held
        near an ellipsoid by one of several prior weights, or the free surface, as Akaike's
        criterion prefers), or "free" (the radius a polynomial of the direction: 1.14-1.53);
        docs/validation.md §2.2 "Algorithm 1.54".
    sharp_border : bool
        Otherwise, place a sharp lesion's border on the same surface model fitted with the
        scanner's point-spread, to sub-voxel precision (step 12b, 1.16).
    rind_border : bool
        On pixels up to ``LESION_RIND_MAX_PIXEL_MM``, fit a click whose region step 7 grew or step 9
        wrapped in a rim (1.40: or whose region is hypodense) as a necrotic core in an enhancing
        layer (step 13 without being asked, 1.25), and use the fit when it passes its tests.
    """

    smoothing_sigma_mm: float = C.LESION_SMOOTHING_SIGMA_MM
    smoothing_min_vox: float = C.LESION_SMOOTHING_MIN_VOX
    seed_radius_mm: float = C.LESION_SEED_RADIUS_MM
    roi_half_size_mm: float = C.LESION_ROI_HALF_SIZE_MM
    roi_max_half_size_mm: float = C.LESION_ROI_MAX_HALF_SIZE_MM
    roi_growth: float = C.LESION_ROI_GROWTH
    ring_inner_mm: float = C.LESION_RING_INNER_MM
    ring_outer_mm: float = C.LESION_RING_OUTER_MM
    outer_k_sigma: float = C.LESION_OUTER_K_SIGMA
    min_contrast_k_sigma: float = C.LESION_MIN_CONTRAST_K_SIGMA
    opening_radius_mm: float = C.LESION_OPENING_RADIUS_MM
    iterations: int = C.LESION_ITERATIONS
    line_roi_factor: float = C.LESION_LINE_ROI_FACTOR
    line_clamp_factor: float = C.LESION_LINE_CLAMP_FACTOR
    polarity: str = "auto"
    edge_band_mm: float = C.LESION_EDGE_BAND_MM
    heterogeneous_expansion: bool = True
    shell_nonparenchyma_fraction: float = C.LESION_SHELL_NONPARENCHYMA_FRACTION
    expansion_rounds: int = C.LESION_EXPANSION_ROUNDS
    parenchyma_sample_mm: float = C.LESION_PARENCHYMA_SAMPLE_MM
    expansion_max_mm: float = C.LESION_EXPANSION_MAX_MM
    fat_max_hu: float | None = C.LESION_FAT_MAX_HU
    radial_refinement: bool = True
    enhancing_rim: bool = True
    include_lipiodol: bool = True
    combined_border: bool = True
    blurred_border: bool = True
    blurred_surface: str = C.LESION_BLUR_MODEL_SURFACES
    sharp_border: bool = True
    rind_border: bool = True

    def __post_init__(self) -> None:
        if self.polarity not in _POLARITIES:
            raise SegmentationError(
                f"LesionParams.polarity must be one of {_POLARITIES}, got {self.polarity!r}."
            )
        if self.blurred_surface not in ("free", "near_ellipsoid"):
            raise SegmentationError(
                f"LesionParams.blurred_surface must be 'free' or 'near_ellipsoid', got {self.blurred_surface!r}."
            )
        for name in ("smoothing_sigma_mm", "seed_radius_mm", "roi_half_size_mm", "roi_max_half_size_mm",
                     "ring_outer_mm", "outer_k_sigma"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise SegmentationError(f"LesionParams.{name} must be a positive number (mm or sigmas), got {v!r}.")
        if self.ring_inner_mm < 0 or self.ring_inner_mm >= self.ring_outer_mm:
            raise SegmentationError(
                f"LesionParams ring must satisfy 0 <= ring_inner_mm < ring_outer_mm, got "
                f"{self.ring_inner_mm} and {self.ring_outer_mm} mm."
            )
        if self.roi_growth <= 1.0:
            raise SegmentationError(f"LesionParams.roi_growth must be > 1, got {self.roi_growth}.")
        if self.iterations < 1:
            raise SegmentationError(f"LesionParams.iterations must be >= 1, got {self.iterations}.")
        if self.fat_max_hu is not None and not (isinstance(self.fat_max_hu, (int, float)) and math.isfinite(self.fat_max_hu)):
            raise SegmentationError(f"LesionParams.fat_max_hu must be a finite HU value or None, got {self.fat_max_hu!r}.")
        if not 0.0 < self.shell_nonparenchyma_fraction <= 1.0:
            raise SegmentationError(
                "LesionParams.shell_nonparenchyma_fraction must be in (0, 1], got "
                f"{self.shell_nonparenchyma_fraction}."
            )
        if self.expansion_rounds < 1 or self.parenchyma_sample_mm <= self.ring_outer_mm:
            raise SegmentationError(
                "LesionParams.expansion_rounds must be >= 1 and parenchyma_sample_mm > ring_outer_mm, got "
                f"{self.expansion_rounds} and {self.parenchyma_sample_mm} mm."
            )


@dataclass(frozen=True, slots=True, eq=False)
class SegmentationResult:
    """A lesion mask with its provenance.

    Attributes
    ----------
    labels : LabelVolume
        The mask (value ``label``, named ``lesion_id``) on the grid of the phase used.
    algorithm, version : str
        Algorithm name and version (:data:`ALGORITHM_NAME`, ``constants.ALGORITHM_VERSION``).
    parameters : mapping
        Every parameter value used (``LesionParams`` as a dict).
    seed_lps : tuple of 3 float, mm
        Seed in LPS (the line's midpoint when only a line was given).
    seed_index : tuple of 3 int
        Seed voxel (slice, row, col) on ``labels``' grid.
    line_lps : tuple of two LPS points or None
        The line drawn across the lesion, when given.
    phase : Phase
        Phase the click's region was computed on (the grid of ``labels``).  For a heterogeneous
        lesion the growth to its border may use another phase on the same grid; ``notes`` then
        names it, and ``window`` / ``surroundings_value`` refer to that phase.
    lesion_value, surroundings_value : float
        Final intensity model (HU for CT): lesion median and surroundings median, on
        ``values_phase``.
    window : tuple of 2 float
        Final (low, high) intensity window on the smoothed image.
    values_phase : Phase or None
        The phase ``lesion_value``, ``surroundings_value`` and ``window`` refer to: ``phase``,
        or the phase a heterogeneous lesion was grown on (None: as ``phase``).
    phase_conspicuity : mapping str -> float
        |lesion - surroundings| / noise sigma per phase considered (phase choice).
    elapsed_s : float
        Wall time of the call (s).
    notes : tuple of str
        Warnings worth showing a reader (e.g. mask still touching the largest ROI).
    border_weights : mapping str -> float or None
        When the border was redone on the phases' matched-filter combination (step 10 (d),
        ``LesionParams.combined_border``): each phase's weight (contrast / noise^2, scaled).
        ``phase``, the values and ``window`` are still the one phase's.  None otherwise (and when
        step 11 or 13 replaced that mask).
    border_blur_mm : float or None
        The margin's Gaussian blur (mm) when step 12 placed the border on the blurred-surface
        model (``LesionParams.blurred_border``), else None (and when step 11 or 13 replaced that mask).
    border_psf_vox : tuple of float or None
        The point-spread (Gaussian sigma, in voxels of each axis, slice / row / column) when step 12b placed a sharp
        border on the fitted surface model (``LesionParams.sharp_border``, 1.16), or step 13 fitted the two surfaces
        (asked for or on its own); else None (and when step 11 replaced the mask).
    checks : tuple of str
        What a reader should check because the mask may be wrong (codes of :data:`MASK_CHECKS`:
        a leak to the region of interest's border or the drawn line's clamp, the image's edge, the
        scanned range); the explanations of how it was made are ``notes`` only.  Empty for most
        masks: a batch lists them per lesion so a run's doubtful masks can be found.
    border_ramp : str or None
        With ``border_psf_vox``, the partial-volume ramp step 12b's model used (1.31): ``"voxel"``
        (each voxel averages its extent), ``"slice"`` (the slices average their thickness, the
        pixels are point samples: a CT slice's profile) or, 1.44, ``"point"`` (point samples on
        every axis, the surface the prior of each voxel's own decision); else None.
    """

    labels: LabelVolume
    algorithm: str
    version: str
    parameters: Mapping[str, Any]
    seed_lps: tuple[float, float, float]
    seed_index: tuple[int, int, int]
    phase: Phase
    lesion_value: float
    surroundings_value: float
    window: tuple[float, float]
    elapsed_s: float
    line_lps: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    phase_conspicuity: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    values_phase: Phase | None = None
    border_weights: Mapping[str, float] | None = None
    border_blur_mm: float | None = None
    border_psf_vox: tuple[float, float, float] | None = None
    border_ramp: str | None = None
    checks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "phase_conspicuity", MappingProxyType(dict(self.phase_conspicuity)))
        if self.border_weights is not None:
            object.__setattr__(self, "border_weights", MappingProxyType(dict(self.border_weights)))

    @property
    def mask(self) -> NDArray[np.bool_]:
        """Boolean lesion mask on ``labels``' grid."""
        return self.labels.mask()

    @property
    def volume_mm3(self) -> float:
        """Lesion volume = voxel count x voxel volume (mm3)."""
        return float(np.count_nonzero(self.labels.array)) * self.labels.voxel_volume_mm3

    def provenance(self) -> dict[str, Any]:
        """JSON-serialisable provenance record (DESIGN section 2)."""
        return {
            "algorithm": self.algorithm,
            "version": self.version,
            "parameters": dict(self.parameters),
            "seed_lps": list(self.seed_lps),
            "seed_index": list(self.seed_index),
            "line_lps": [list(p) for p in self.line_lps] if self.line_lps else None,
            "phase": str(self.phase),
            "lesion_value": self.lesion_value,
            "surroundings_value": self.surroundings_value,
            "window": list(self.window),
            "values_phase": str(self.values_phase or self.phase),
            "phase_conspicuity": dict(self.phase_conspicuity),
            "elapsed_s": self.elapsed_s,
            "notes": list(self.notes),
            "border_weights": dict(self.border_weights) if self.border_weights is not None else None,
            "border_blur_mm": self.border_blur_mm,
            "border_psf_vox": list(self.border_psf_vox) if self.border_psf_vox is not None else None,
            "border_ramp": self.border_ramp,
            "checks": list(self.checks),
        }


# ------------------------------------------------------------------------------------------
# internals
# ------------------------------------------------------------------------------------------


def _as_phases(volume: Volume | Mapping[Phase | str, Volume]) -> dict[Phase, Volume]:
    if isinstance(volume, Volume):
        return {volume.phase: volume}
    if isinstance(volume, Mapping):
        out: dict[Phase, Volume] = {}
        for k, v in volume.items():
            if not isinstance(v, Volume):
                raise TypeError(f"phase {k!r} maps to {type(v).__name__}, expected a Volume.")
            out[Phase(k)] = v
        if not out:
            raise SegmentationError("no phase volume given; pass a Volume or a non-empty {phase: Volume} mapping.")
        return out
    raise TypeError(f"segment_lesion needs a Volume or a mapping phase -> Volume, got {type(volume).__name__}.")


def _leaves_line(new: _RoiResult, old: _RoiResult, line_vox: NDArray[np.float64] | None,
                 spacing: Sequence[float]) -> bool:
    """Whether ``new`` (a joint mask) leaves out much of the drawn line (less than
    ``LESION_LINE_MIN_COVERAGE`` of its central part) that ``old`` (the one-phase mask) covers;
    False without a line."""
    return line_vox is not None and (
        _line_coverage(new.mask, new.lo, line_vox, spacing) < C.LESION_LINE_MIN_COVERAGE
        <= _line_coverage(old.mask, old.lo, line_vox, spacing))


#: The codes of ``SegmentationResult.checks``: notes that say the mask may be wrong.
MASK_CHECKS: Mapping[str, str] = MappingProxyType({
    "roi_border": "the mask touches the border of the largest region of interest: it may have leaked into "
                  "neighbouring tissue",
    "line_clamp": "the mask reaches the leak clamp around the drawn line: it may have run into a neighbouring "
                  "tissue of about the same value",
    "image_edge": "the mask reaches the image's edge within a slice: a leak, or the image is cropped through the "
                  "lesion",
    "scan_range": "the mask reaches the first or last slice: the lesion may extend beyond the scanned range "
                  "(volume and extent across slices underestimated)",
})


def _edge_checks(reach: tuple[bool, bool, bool]) -> list[str]:
    """The ``checks`` of a mask's reach (:func:`_edge_reach`), as :func:`_edge_notes`."""
    return [code for code, hit in (("scan_range", reach[0]), ("image_edge", reach[1])) if hit]


def _edge_reach(full: NDArray[Any]) -> tuple[bool, bool, bool]:
    """Whether the mask reaches (within one voxel: the grower's smoothing and ring rarely take the
    outermost voxel; read on those twelve planes only) the first or last slice, an edge of the
    image within a slice, and two opposite such edges."""
    rows = bool(full[:, :2].any()), bool(full[:, -2:].any())
    cols = bool(full[:, :, :2].any()), bool(full[:, :, -2:].any())
    slices = full.shape[0] > 1 and bool(full[:2].any() or full[-2:].any())
    return slices, any(rows) or any(cols), all(rows) or all(cols)


def _edge_notes(reach: tuple[bool, bool, bool]) -> list[str]:
    """Notes for a mask that reaches the array's faces (:func:`_edge_reach`): across the slices
    (axis 0) the lesion may go on beyond the scanned range; within a slice the region may have
    leaked, or the image is cropped through the lesion."""
    out = []
    if reach[0]:
        out.append(
            "the mask reaches (within one slice) the first or last slice of the series: the lesion may extend beyond the scanned "
            "range, so its volume and its extent across slices may be underestimated."
        )
    if reach[1]:
        out.append(
            "the mask reaches (within one voxel) the edge of the image within a slice: it may have leaked into neighbouring tissue, "
            "or the image is cropped through the lesion; check it (a liver mask or a line across the lesion "
            "keeps the region to the lesion)."
        )
    return out


def _clamp_ball(line: NDArray[np.float64], factor: float) -> tuple[NDArray[np.float64], float]:
    """The leak clamp around a drawn line: its midpoint (LPS) and radius ``factor`` x its half-length (mm)."""
    return 0.5 * (line[0] + line[1]), factor * 0.5 * float(np.linalg.norm(line[1] - line[0]))


def _reaches_line_clamp(
    mask: NDArray[Any], box: tuple[slice, ...], vol: Volume | LabelVolume, line: NDArray[np.float64], factor: float,
) -> bool:
    """Whether the mask reaches (within one voxel) the ball of radius ``factor`` x the line's
    half-length around its midpoint, which bounds a line's growth (1.10: a leak stopped only by that
    clamp was returned with no note).  A lesion drawn edge to edge lies within half a length of the
    midpoint, well inside the 1.6 x (0.8 lengths) ball.  ``mask``: the mask on the slices ``box``
    of the image (it holds every mask voxel)."""
    idx = np.argwhere(mask != 0)
    if not idx.size:
        return False
    mid, radius = _clamp_ball(line, factor)
    pts = vol.geometry.index_to_lps(idx + np.array([b.start or 0 for b in box], float))
    far = float(np.sqrt(np.max(np.sum((pts - mid) ** 2, axis=1))))
    return far >= radius - float(max(vol.spacing))


def _neighbours_beyond(idx: NDArray[np.int64], grid: Volume | LabelVolume, line: NDArray[np.float64], factor: float,
                       axes: Sequence[int]) -> NDArray[np.int64]:
    """The face neighbours along ``axes`` of the voxels ``idx`` (indices on ``grid``) whose centres
    lie outside the leak clamp (the ball of ``factor`` x the line's half-length around its
    midpoint); they may repeat and lie outside the image."""
    mid, radius = _clamp_ball(line, factor)
    # only a voxel within one voxel (the largest spacing along ``axes``) of the ball can have one
    slack = max(grid.spacing[a] for a in axes)
    idx = idx[np.sum((grid.index_to_lps(idx.astype(np.float64)) - mid) ** 2, axis=1) > (radius - slack) ** 2]
    out = [idx[:0]]
    for axis in axes:
        for step in (-1, 1):
            nb = idx.copy()
            nb[:, axis] += step
            out.append(nb[np.sum((grid.index_to_lps(nb.astype(np.float64)) - mid) ** 2, axis=1) > radius * radius])
    return np.concatenate(out)


def _clamp_cuts_a_slice(labels: LabelVolume, line: NDArray[np.float64], factor: float) -> bool:
    """Whether the leak clamp (the ball of ``factor`` x the line's half-length around its midpoint)
    cut the mask within a slice: a mask voxel has a neighbour in its slice (row or column) whose
    centre lies outside the ball.  Across slices a thick slice's neighbour lies beyond the ball
    when nothing stopped the growth there (the study phantom's L3 lines on 5 mm slices graze it so,
    at Dice 0.95-0.96); within a slice a region that reaches the ball was stopped by it (IRCAD17's
    lines, 80-11,000 such voxels)."""
    return bool(_neighbours_beyond(np.argwhere(labels.array != 0), labels, line, factor, (1, 2)).size)


def _clamp_held_back(full: NDArray[Any], sl: tuple[slice, ...], model: _Model, vol: Volume,
                     liv: NDArray[np.bool_] | None, line: NDArray[np.float64], p: LesionParams,
                     cache: _SmoothCache) -> bool:
    """Whether the leak clamp held a one-phase window's growth back (1.39): a face neighbour of the
    mask (along any axis) lies beyond the clamp's ball, in the liver mask when one is given, and
    in the window ``model`` grew the mask with (its smoothed value), so that the growth would have
    gone on without the clamp.  :func:`_reaches_line_clamp`'s one voxel (the largest spacing) of
    slack also flags a thick slice's end whose neighbour lies beyond the ball while nothing there
    is of the lesion's value (46 of the robustness sweep's 224 lines, 19 of them at Dice >= 0.95).
    ``full``: the whole image's mask, all of it within the slices ``sl``."""
    lo = np.array([b.start or 0 for b in sl], np.int64)
    nb = _neighbours_beyond(np.argwhere(full[sl] != 0) + lo, vol, line, p.line_clamp_factor, (0, 1, 2))
    nb = nb[np.all((nb >= 0) & (nb < np.asarray(vol.shape)), axis=1)]
    nb = nb[full[tuple(nb.T)] == 0]
    if liv is not None:
        nb = nb[liv[tuple(nb.T)]]
    if not nb.size:
        return False
    sig_vox = gaussian_sigma_vox(p.smoothing_sigma_mm, vol.spacing, p.smoothing_min_vox)
    pad = np.ceil(4.0 * np.asarray(sig_vox)).astype(np.int64) + 1
    box = pad_box(nb.min(axis=0), nb.max(axis=0) + 1, pad, vol.shape)
    smooth = _smoothed(vol, box, sig_vox, cache)[1]
    v = smooth[tuple((nb - np.array([b.start for b in box])).T)]
    return bool(np.any((v >= model.low) & (v <= model.high)))


def _line_leaked(rr: _RoiResult, vol: Volume, line: NDArray[np.float64], factor: float) -> bool:
    """Whether a line's mask ``rr`` has leaked: it reaches the clamp (:func:`_reaches_line_clamp`)
    and is larger than ``LESION_LINE_LEAK_BALL_RATIO`` x the ball whose diameter is the line."""
    length = float(np.linalg.norm(line[1] - line[0]))
    volume = float(np.count_nonzero(rr.mask)) * vol.voxel_volume_mm3
    return (volume > C.LESION_LINE_LEAK_BALL_RATIO * np.pi / 6.0 * length**3
            and _reaches_line_clamp(rr.mask, rr.box, vol, line, factor))


def _liver_on(liver: LabelVolume | None, vol: Volume,
              memo: list[tuple[Any, NDArray[np.bool_] | None]] | None = None) -> NDArray[np.bool_] | None:
    """The liver mask on ``vol``'s grid (resampled when needed), or None (none given, or empty).
    ``memo`` (one call's): the masks already made, by grid (the phases of a study share one; a
    512 x 512 x 100 mask took 4 ms per phase)."""
    if liver is None:
        return None
    for geom, known in memo or ():
        if geom.equals(vol.geometry):
            return known
    if not liver.geometry.equals(vol.geometry):
        liver = liver.resample_to(vol)
    m = liver.mask()
    out = m if m.any() else None
    if memo is not None:
        memo.append((vol.geometry, out))
    return out


def _choose_phase(phases: Mapping[Phase, Volume], phase: Phase | None, rind: bool, p: LesionParams,
                  seed_on: Callable[[Volume], tuple[int, int, int]], liver: LabelVolume | None,
                  livers: list[tuple[Any, NDArray[np.bool_] | None]], line: NDArray[np.float64] | None,
                  roi_mm: float | None, cache: _SmoothCache) -> tuple[Phase, dict[str, float], dict[str, str]]:
    """The phase a click is segmented on: ``phase`` when given; with ``rind`` the first of
    ``_RIND_PHASES`` the study has (the layer enhances there), else the first image; else, with
    several phases, the one where the first round (steps 1-7 once) finds the click's region most
    conspicuous (a phase that refuses the click counts 0; the first of equals); else the one image.
    Returns it, each phase's conspicuity (rounded, for the provenance) and each phase's first-round
    model's mode."""
    conspicuity: dict[str, float] = {}
    first_modes: dict[str, str] = {}
    if rind and phase is None:
        phase = next((k for k in _RIND_PHASES if k in phases), next(iter(phases)))
    if phase is not None:
        return phase, conspicuity, first_modes
    if len(phases) > 1:
        cp = LesionParams(**{**asdict(p), "iterations": 1})
        best: tuple[float, Phase] | None = None
        for ph, vol in phases.items():
            try:
                rr = _segment_on(vol, seed_on(vol), cp, _liver_on(liver, vol, livers),
                                 None if line is None else vol.lps_to_index(line), roi_mm, first_round_only=True,
                                 cache=cache)
                cnr = rr.model.conspicuity
                first_modes[str(ph)] = rr.model.mode
            except LowContrastError:
                cnr = 0.0
            conspicuity[str(ph)] = round(float(cnr), 3)
            if best is None or cnr > best[0]:
                best = (cnr, ph)
        if best is not None:
            return best[1], conspicuity, first_modes
    return next(iter(phases)), conspicuity, first_modes


def _check_seed_in_liver(liv: NDArray[np.bool_] | None, seed_vox: tuple[int, int, int], seed_txt: tuple[float, ...],
                         extrahepatic: bool) -> None:
    """A :class:`SeedError` naming the fix when the click lies outside the region the lesion is kept
    in (``liv``: the liver mask, or with ``extrahepatic`` everything outside it)."""
    if liv is None or liv[seed_vox]:
        return
    if extrahepatic:
        raise SeedError(
            f"seed {seed_txt} mm (voxel {seed_vox}) is inside the liver mask, but "
            "extrahepatic=True keeps the lesion outside it; click the extrahepatic lesion (node), or pass "
            "extrahepatic=False for a liver lesion."
        )
    raise SeedError(
        f"seed {seed_txt} mm (voxel {seed_vox}) is outside the liver mask; "
        "click inside the liver, pass liver=None, or re-run segment_liver(..., include_lps=[the click]) so "
        "that the liver mask holds the lesion; for a lesion outside the liver (a lymph node) pass "
        "extrahepatic=True to keep it out of the liver mask."
    )


def _line_on_other_phase(
    rr: _RoiResult, phases: Mapping[Phase, Volume], phase: Phase, vol: Volume, line: NDArray[np.float64],
    line_vox: NDArray[np.float64], conspicuity: Mapping[str, float], p: LesionParams,
    seed_on: Callable[[Volume], tuple[int, int, int]], liver: LabelVolume | None,
    livers: list[tuple[Any, NDArray[np.bool_] | None]], roi_mm: float | None, cache: _SmoothCache,
) -> tuple[Phase, Volume, tuple[int, int, int], NDArray[np.bool_] | None, NDArray[np.float64], _RoiResult, str] | None:
    """A drawn line's mask ``rr`` on ``phase`` that leaves out much of the line has missed a part (a
    part that the phase's one-sided window excludes): the other phases where the click was not
    refused, most conspicuous first; the first whose mask covers ``LESION_LINE_MIN_COVERAGE`` of the
    line's central part, as (its phase, volume, click, liver, line in voxels, mask, a note), or None."""
    cov = _line_coverage(rr.mask, rr.lo, line_vox, vol.spacing)
    if cov >= C.LESION_LINE_MIN_COVERAGE:
        return None
    for ph in sorted((k for k in phases if k != phase and conspicuity.get(str(k), 0.0) > 0),
                     key=lambda k: -conspicuity[str(k)]):
        v2 = phases[ph]
        seed2, liv2, line2 = seed_on(v2), _liver_on(liver, v2, livers), v2.lps_to_index(line)
        if liv2 is not None and not liv2[seed2]:
            continue
        try:
            rr2 = _segment_on(v2, seed2, p, liv2, line2, roi_mm, cache=cache)
        except LowContrastError:
            continue
        cov2 = _line_coverage(rr2.mask, rr2.lo, line2, v2.spacing)
        if cov2 >= C.LESION_LINE_MIN_COVERAGE:
            note = (
                f"the mask on the most conspicuous phase ({phase}) covered {cov:.0%} of the drawn line's "
                f"central part; the {ph} phase's mask covers {cov2:.0%} of it and is used (a part of the "
                "lesion on the line was outside the first phase's window)."
            )
            return ph, v2, seed2, liv2, line2, rr2, note
    return None


def _border_fits(rr: _RoiResult, images: Mapping[str, NDArray[Any]], vol: Volume, liv: NDArray[np.bool_] | None,
                 p: LesionParams, seed_vox: tuple[int, int, int], line_vox: NDArray[np.float64] | None,
                 multiphase: bool) -> tuple[_RoiResult, float | None, tuple[float, float, float] | None, str | None]:
    """Steps 12 and 12b on the mask ``rr`` (``images``: the phases on its grid; ``multiphase``: it is
    step 10's nearest-mean classes): (the mask, the margin's blur in mm, the point-spread in voxels
    and the ramp step 12b fitted, or None each).  A fit is used when it holds the click and covers
    a drawn line.  The blur is ``rr.blur_mm`` when step 12 ran around the click's region already
    (1.15)."""
    border_blur = rr.blur_mm
    border_psf: tuple[float, float, float] | None = None
    border_ramp: str | None = None
    if not (p.blurred_border and border_blur is None and not rr.radial and not rr.touches and rr.rim_phase is None):
        return rr, border_blur, border_psf, border_ramp
    if not multiphase:
        # 12 (1.12): a blurred (ill-defined) border on a fitted blurred-surface model (its midpoint
        # level lies inside a blurred convex lesion, and the threshold's lesion value sets its size)
        bb = blurred_border(rr.mask, rr.lo, list(images.values()), vol.spacing, liv, surfaces=p.blurred_surface)
        if bb is not None:
            new = replace(rr, mask=bb[0], lo=bb[1])
            if new.holds(seed_vox) and not _leaves_line(new, rr, line_vox, vol.spacing):
                rr, border_blur = new, bb[2]
    if border_blur is None and p.sharp_border:
        # 12b (1.16): a sharp border to sub-voxel precision on the same surface model with the
        # scanner's point-spread (the midpoint level lies inside a small lesion on thick slices)
        # (1.31's slice ramp only on a lesion of one tissue: not after a step-7 growth, whose
        # border may be another tissue than the fit's inner level, a necrotic core's rind)
        # (1.35: on step 10's nearest-mean classes too, which leave out the partial-volume voxels
        # between the classes; used there only when it nests around the mask and grows it)
        sb = sharp_border(rr.mask, rr.lo, list(images.values()), vol.spacing, liv, slice_ramp=rr.click_mask is None,
                          nested=multiphase)
        if sb is not None:
            new = replace(rr, mask=sb[0], lo=sb[1])
            if new.holds(seed_vox) and not _leaves_line(new, rr, line_vox, vol.spacing):
                rr, border_psf, border_ramp = new, sb[2], sb[3]
    return rr, border_blur, border_psf, border_ramp


def _refuse_a_click_without_a_lesion(full: NDArray[Any], spans: bool, unenclosed: bool, lesion_value: float,
                                     seed_vox: tuple[int, int, int], seed_txt: tuple[float, ...], vol: Volume,
                                     p: LesionParams) -> None:
    """Raise when a click's final mask ``full`` is not a lesion's: 1.13, ``unenclosed`` (it fills
    the largest region of interest, or ``spans`` the image within a slice) -> :class:`NotEnclosedError`;
    1.30, smaller than half the ball the seed's value is read on, or 1.28, without the clicked voxel
    -> :class:`LowContrastError`.  Each message names the click and the fix."""
    if unenclosed:
        # 1.13: a click's region that fills the largest region of interest, or spans the image within a
        # slice (an image smaller than that region), is not a lesion's mask (a click on the
        # parenchyma without a liver mask gave the whole liver, 1.1-1.3 L)
        if spans:
            where = "spans the image from one edge to the opposite one within a slice"
            fix = "Pass a liver mask (segment_liver) or draw a line across the lesion (line_lps=)."
        else:
            where = (f"still reaches the border of the largest region of interest ({p.roi_max_half_size_mm:g} mm on "
                     "each side of the click)")
            fix = ("Pass a liver mask (segment_liver), draw a line across the lesion (line_lps=), or, for a lesion "
                   "larger than that region, raise LesionParams.roi_max_half_size_mm.")
        n_ml = float(np.count_nonzero(full)) * vol.voxel_volume_mm3 / 1000.0
        raise NotEnclosedError(
            f"the region grown from the click at {seed_txt} mm ({n_ml:.0f} mL, value {lesion_value:.0f}) {where}: "
            "no border of a different tissue encloses it. The click may be on the parenchyma rather than a lesion, "
            f"or the lesion may have leaked into tissue of about its value. {fix}"
        )
    n_vox = int(np.count_nonzero(full))
    n_mm3 = n_vox * vol.voxel_volume_mm3
    if full[seed_vox] and n_mm3 < 0.5 * 4.0 / 3.0 * np.pi * p.seed_radius_mm ** 3:
        # 1.30: a click's mask smaller than half the ball whose median gave the seed value (the
        # seed value is then mostly its surroundings': the study phantom's ascites on 1.15 mm pixels,
        # 5 voxels, 20 mm3, from step 10's joint classes)
        raise LowContrastError(
            f"the mask found from the click at {seed_txt} mm is {n_vox} voxels "
            f"({n_mm3:.0f} mm3), less than half the {p.seed_radius_mm:g} mm ball the seed's "
            "value is read on: no lesion with a border was found at the click. Click nearer the lesion's centre, "
            "draw a line across it (line_lps=), or pass a liver mask.")
    if not full[seed_vox]:
        # 1.28: a click's mask that leaves out the clicked voxel is not the clicked lesion (the study phantom's
        # ascites on 1.15 mm pixels: step 10's joint classes kept an 18-voxel sliver beside the click,
        # Dice 0.002, where the other grids refuse the click or take the fluid)
        raise LowContrastError(
            f"the mask found from the click at {seed_txt} mm leaves out the clicked voxel ({n_vox} voxels, "
            f"{n_mm3:.0f} mm3, beside it): no lesion with a border was found at the click. "
            "Click nearer the lesion's centre, draw a line across it (line_lps=), or pass a liver mask.")


def _seed_and_line(index_ref: Volume, seed_lps: ArrayLike | None, seed_index: Sequence[int] | None,
                   line_lps: ArrayLike | None) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """The click (LPS mm; ``seed_index`` on ``index_ref``'s grid, or a line's midpoint) and the line
    (2 x 3 LPS mm, or None), checked (``SeedError``)."""
    line = None
    if line_lps is not None:
        line = np.asarray(line_lps, float).reshape(-1)
        if line.shape != (6,) or not np.all(np.isfinite(line)):
            raise SeedError(f"line_lps must be two LPS points ((x1, y1, z1), (x2, y2, z2)) in mm, got {line_lps!r}.")
        line = line.reshape(2, 3)
        if np.linalg.norm(line[1] - line[0]) < 1e-6:
            raise SeedError("line_lps has zero length; draw the line across the lesion, edge to edge.")
    if seed_index is not None:
        idx = np.asarray(seed_index, float).reshape(-1)
        if idx.shape != (3,):
            raise SeedError(f"seed_index must be 3 integers (slice, row, col), got {seed_index!r}.")
        seed_pt = index_ref.index_to_lps(idx)
    elif seed_lps is not None:
        seed_pt = np.asarray(seed_lps, float).reshape(-1)
        if seed_pt.shape != (3,) or not np.all(np.isfinite(seed_pt)):
            raise SeedError(f"seed_lps must be 3 finite LPS coordinates in mm, got {seed_lps!r}.")
    elif line is not None:
        seed_pt = 0.5 * (line[0] + line[1])
    else:
        raise SeedError("no seed: pass seed_lps= (LPS mm), seed_index= (slice, row, col) or line_lps= (two LPS points).")
    return seed_pt, line


def seed_point_lps(
    volume: Volume | Mapping[Phase | str, Volume],
    *,
    seed_lps: ArrayLike | None = None,
    seed_index: Sequence[int] | None = None,
    line_lps: ArrayLike | None = None,
    phase: Phase | str | None = None,
) -> NDArray[np.float64]:
    """The point (LPS mm) :func:`segment_lesion` clicks for these arguments: ``seed_lps``,
    ``seed_index`` on the grid of ``phase`` (else of the first volume), or the midpoint of
    ``line_lps``; the point an automatic liver mask must hold (``segment_liver(...,
    include_lps=)``, as ``hcc-imaging segment --liver`` and the batch's seeds files make it)."""
    phases = _as_phases(volume)
    index_ref = phases[Phase(phase)] if phase is not None and Phase(phase) in phases else next(iter(phases.values()))
    point = _seed_and_line(index_ref, seed_lps, seed_index, line_lps)[0]
    inside = []
    for vol in phases.values():
        try:
            vol.geometry.lps_to_nearest_index(point)
            inside.append(vol)
        except ValueError:
            pass
    if not inside:  # segment_lesion would refuse it on any phase; say so before a liver mask is made for it
        raise _seed_outside(point, index_ref, seed_index)
    return point


def _seed_outside(seed_pt: NDArray[np.float64], vol: Volume, seed_index: Sequence[int] | None = None) -> SeedError:
    """The error for a click (LPS mm; given as ``seed_index`` when not None) outside ``vol``: the
    point, the series and its extent."""
    where = f"{tuple(np.round(seed_pt, 1).tolist())} mm"  # plain numbers, not np.float64(...)
    if seed_index is not None:
        where += f" (voxel {tuple(int(v) for v in np.asarray(seed_index).reshape(-1))})"
    corners = vol.geometry.extent_lps
    ext = ", ".join(f"{a:.1f} to {b:.1f}" for a, b in zip(corners.min(0), corners.max(0), strict=True))
    return SeedError(
        f"seed {where} is outside the {vol.phase} volume "
        f"(series {vol.series_instance_uid or 'unknown'}, shape {vol.shape}; its voxel centres span "
        f"x, y, z {ext} mm LPS). Click inside the image."
    )


@single_blas_thread
def segment_lesion(
    volume: Volume | Mapping[Phase | str, Volume],
    *,
    seed_lps: ArrayLike | None = None,
    seed_index: Sequence[int] | None = None,
    line_lps: ArrayLike | None = None,
    phase: Phase | str | None = None,
    liver: LabelVolume | None = None,
    roi_mm: float | None = None,
    params: LesionParams | None = None,
    label: int = 1,
    lesion_id: str = "L1",
    extrahepatic: bool = False,
    rind: bool = False,
) -> SegmentationResult:
    """Segment the lesion under a click (or across a drawn line) in 3-D.

    Parameters
    ----------
    volume : Volume or mapping Phase -> Volume
        One image, or the phases of one study (same frame of reference; grids may differ).
    seed_lps : 3 floats, mm, optional
        Seed in patient LPS coordinates.
    seed_index : 3 ints, optional
        Seed voxel (slice, row, col) on the grid of ``phase`` (or of the first volume given).
        Give exactly one of ``seed_lps`` / ``seed_index``, or a line only.
    line_lps : (2, 3) floats, mm, optional
        Two LPS points of a line drawn across the lesion.  Sets the ROI size, the initial
        lesion region (ball on the line) and a leak clamp; its midpoint is the seed when no
        seed is given.  A line whose mask the clamp cut is redone as a click at the seed (1.38,
        step 14), used when that mask covers the line and ends inside the clamp.
    phase : Phase or str, optional
        Phase to segment on.  Default: the most conspicuous phase (largest |lesion -
        surroundings| / noise sigma).
    liver : LabelVolume, optional
        Liver mask; the lesion is kept inside it (step 8 only: up to ``LESION_RADIAL_EDGE_MM``
        beyond it where darker tissue lies beyond) and the surroundings are sampled in it.
    roi_mm : float, optional
        Fixed ROI half-size (mm); disables the adaptive ROI growth.
    params : LesionParams, optional
        Algorithm parameters (defaults in :mod:`hcc_imaging.segment.constants`).
    label, lesion_id : int, str
        Label value and name of the mask.
    extrahepatic : bool
        The lesion lies outside the liver (a lymph node, a peritoneal deposit): the ``liver``
        mask is kept out of the lesion and its surroundings are sampled outside it, instead of
        the lesion being kept inside it (1.10).  A 22 mm node against the liver differs from it
        by 10-20 HU; without the mask its region runs into the liver.
    rind : bool
        The click (or the line's midpoint) lies in the dark, necrotic core of a lesion wrapped in
        an enhancing layer (a treated HCC's rim, a necrotic tumour's viable rind): its border is
        the outer of two nested surfaces fitted with the point-spread on the arterial phase (or
        ``phase``), step 13 (1.24, :mod:`._rind`), instead of the automatic steps, which leak past
        a thin rim or cut a rind on fine grids.  0.3-0.9 s on two cores.  ``LowContrastError`` when the click
        is not in a dark core or no enhancing layer surrounds it.  On pixels coarser than
        ``LESION_RIND_MAX_PIXEL_MM`` the automatic steps are used (they do better there), with a
        note.

    Returns
    -------
    SegmentationResult
        Mask (LabelVolume on the grid of the phase used) with provenance.

    Raises
    ------
    SeedError
        No seed, both seeds, or a seed outside the image.
    LowContrastError
        The lesion is not distinguishable from its surroundings at the seed, or a click's mask
        leaves out the clicked voxel (1.28) or is smaller than half the ``seed_radius_mm`` ball the
        seed's value is read on (1.30): no lesion with a border at the click.
    NotEnclosedError
        (a ``LowContrastError``, 1.13) a click's region still reaches the border of the largest
        region of interest, or spans the image from one edge to the opposite one within a slice: a
        click on the parenchyma without a liver mask, a leak into tissue of the lesion's value, or a
        lesion larger than that region.  With ``roi_mm`` (a fixed
        region), a line, or a vessel thrombus (step 11) the mask is returned with a note instead.
    """
    kw: dict[str, Any] = dict(seed_lps=seed_lps, seed_index=seed_index, line_lps=line_lps, phase=phase, liver=liver,
                              roi_mm=roi_mm, params=params, label=label, lesion_id=lesion_id, extrahepatic=extrahepatic,
                              rind=rind)
    res = _segment_lesion(volume, **kw)
    if res.line_lps is None or rind:
        return res
    return _leaked_line_as_click(volume, res, kw)


def _leaked_line_as_click(volume: Volume | Mapping[Phase | str, Volume], res: SegmentationResult,
                          kw: dict[str, Any]) -> SegmentationResult:
    """1.38: a drawn line's final mask that the leak clamp cut within a slice
    (:func:`_clamp_cuts_a_slice`: it ran into a neighbouring tissue of about its value) is
    replaced by the mask a click at the line's seed (its
    midpoint, unless a seed was given) gives, when that covers ``LESION_LINE_MIN_COVERAGE`` of the
    line's central part and ends inside the clamp: the click's steps 7-8 (the growth and the
    star-shaped estimate of a heterogeneous lesion) do not run on a line.  Else ``res``."""
    p = kw["params"] or LesionParams()
    line = np.asarray(res.line_lps, float)
    if not _clamp_cuts_a_slice(res.labels, line, p.line_clamp_factor):
        return res
    try:
        alt = _segment_lesion(volume, **{**kw, "seed_lps": res.seed_lps, "seed_index": None, "line_lps": None})
    except SegmentationError as err:
        log.debug("segment_lesion: the line leaked; the click at its seed gives no mask (%s)", err)
        return res
    grid = alt.labels  # (the click's phase may be on another grid than the line's)
    whole = tuple(slice(0, n) for n in grid.shape)
    cover = _line_coverage(grid.array != 0, (0, 0, 0), grid.lps_to_index(line), grid.spacing)
    if cover < C.LESION_LINE_MIN_COVERAGE or _reaches_line_clamp(grid.array, whole, grid, line, p.line_clamp_factor):
        return res
    note = (f"the drawn line's mask reached the leak clamp ({p.line_clamp_factor:g} x the line's half-length from its "
            f"midpoint: it ran into a neighbouring tissue); the mask is the one a click at the line's "
            f"{'midpoint' if kw['seed_lps'] is None and kw['seed_index'] is None else 'seed'} gives, which covers "
            f"{cover:.0%} of the line's central part and ends inside the clamp; check it.")
    return replace(alt, line_lps=res.line_lps, notes=(note, *alt.notes), elapsed_s=res.elapsed_s + alt.elapsed_s)


def _segment_lesion(volume: Volume | Mapping[Phase | str, Volume], **kw: Any) -> SegmentationResult:
    """:func:`segment_lesion` without 1.38's second look at a leaked line: :func:`_segment_lesion_steps`,
    whose step-13 fits started ahead (``RindAhead``) are stopped however the click ends (a fit whose
    result was read has ended already)."""
    aheads: list[RindAhead] = []
    try:
        return _segment_lesion_steps(volume, aheads, **kw)
    finally:
        for ahead in aheads:
            ahead.cancel()


def _segment_lesion_steps(
    volume: Volume | Mapping[Phase | str, Volume],
    aheads: list[RindAhead],
    *,
    seed_lps: ArrayLike | None = None,
    seed_index: Sequence[int] | None = None,
    line_lps: ArrayLike | None = None,
    phase: Phase | str | None = None,
    liver: LabelVolume | None = None,
    roi_mm: float | None = None,
    params: LesionParams | None = None,
    label: int = 1,
    lesion_id: str = "L1",
    extrahepatic: bool = False,
    rind: bool = False,
) -> SegmentationResult:
    """The steps of :func:`segment_lesion` (see :func:`_segment_lesion`); ``aheads``: the step-13
    fits this click started ahead, for the caller to stop."""
    t0 = time.perf_counter()
    p = params or LesionParams()
    phases = _as_phases(volume)
    if p.fat_max_hu is not None and any(v.modality != Modality.CT for v in phases.values()):
        p = LesionParams(**{**asdict(p), "fat_max_hu": None})  # HU only mean fat on CT
    if seed_lps is not None and seed_index is not None:
        raise SeedError("give either seed_lps= (LPS mm) or seed_index= (slice, row, col), not both.")
    if phase is not None:
        phase = Phase(phase)
        if phase not in phases:
            raise SeedError(
                f"phase {str(phase)!r} was asked for but only {[str(k) for k in phases]} were given; "
                "pass that phase's Volume or choose one of these."
            )
    seed_pt, line = _seed_and_line(phases[phase] if phase is not None else next(iter(phases.values())),
                                   seed_lps, seed_index, line_lps)
    seed_txt = tuple(np.round(seed_pt, 1).tolist())  # for messages (plain numbers, not np.float64(...))

    def seed_on(vol: Volume) -> tuple[int, int, int]:
        try:
            return vol.geometry.lps_to_nearest_index(seed_pt)
        except ValueError as err:
            raise _seed_outside(seed_pt, vol, seed_index) from err

    if extrahepatic and liver is not None:
        # the region the lesion is kept in (and sampled around) is everything outside the liver
        liver = LabelVolume(array=(liver.array == 0).astype(np.uint8), geometry=liver.geometry,
                            labels={1: "outside the liver"}, frame_of_reference_uid=liver.frame_of_reference_uid)
    cache: _SmoothCache = {}
    livers: list[tuple[Any, NDArray[np.bool_] | None]] = []
    auto_phase = phase is None
    phase, conspicuity, first_modes = _choose_phase(phases, phase, rind, p, seed_on, liver, livers, line, roi_mm, cache)
    vol = phases[phase]
    seed_vox = seed_on(vol)
    liv = _liver_on(liver, vol, livers)
    _check_seed_in_liver(liv, seed_vox, seed_txt, extrahepatic)
    ahead_at = _rind_inputs(phases, vol, seed_vox, liv) if not rind and p.rind_border else None
    if ahead_at is not None and first_modes.get(str(phase)) == "hypo":
        # 13 without being asked (below) reads the phase it fits, the click and the liver, and nothing
        # steps 1-12 compute: on fine pixels, when the phase choice found the click's region
        # hypodense (as a necrotic core is: step 13 is then mostly tried), it starts now, on a thread
        # of its own (``RindAhead``: the same fit, on the second core while steps 1-12 run; a click
        # is one thread until the fit's surfaces), and is read at step 13 when it is tried on these
        # inputs, else stopped
        aheads.append(RindAhead(*ahead_at[1]))
    rind_note = None
    if rind and min(vol.spacing[1:]) > C.LESION_RIND_MAX_PIXEL_MM:
        # coarse pixels: the model's one-voxel ramp is wider than a thin layer, and the automatic
        # steps (step 9's layers) place the border better there (docs/validation.md section 2.2)
        rind_note = (
            f"rind=True asked for the two-surface fit, but on {min(vol.spacing[1:]):.2g} mm pixels (above "
            f"{C.LESION_RIND_MAX_PIXEL_MM:g} mm) the automatic steps place a layer's border better and were used.")
        rind = False
    if rind:
        return _rind_result(vol, phase, seed_vox, seed_pt, seed_txt, line, liv, p, roi_mm, label, lesion_id,
                            extrahepatic, conspicuity, t0)
    line_vox = None if line is None else vol.lps_to_index(line)
    combined_weights: dict[str, float] | None = None
    border_weights: dict[str, float] | None = None
    multiphase: list[str] | None = None
    line_phase_note: str | None = None
    try:
        rr = _segment_on(vol, seed_vox, p, liv, line_vox, roi_mm, cache=cache)
        if line is not None and line_vox is not None and auto_phase and len(phases) > 1:
            other = _line_on_other_phase(rr, phases, phase, vol, line, line_vox, conspicuity, p, seed_on, liver, livers,
                                         roi_mm, cache)
            if other is not None:
                phase, vol, seed_vox, liv, line_vox, rr, line_phase_note = other
    except LowContrastError as err:
        # 1.5: faint on every single phase; try the phases jointly (same grid)
        fb = (_joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=True, cache=cache)
              if auto_phase else None)
        if fb is None:
            raise
        log.debug("segment_lesion: %s on one phase; phases used jointly", err)
        rr, combined_weights, multiphase = fb
    growth_phase = None
    if rr.click_mask is not None and auto_phase and len(phases) > 1:
        rr, growth_phase = _regrow_on_best_phase(rr, phases, phase, seed_vox, p, liv, cache)
    elif (p.heterogeneous_expansion and line is None and rr.click_mask is None and not rr.radial
            and rr.model.mode != "both" and auto_phase and len(phases) > 1 and combined_weights is None):
        rr, growth_phase = _grow_on_other_phase(rr, phases, phase, seed_vox, p, liv, cache)
    elif (p.heterogeneous_expansion and line is None and (multiphase is not None or combined_weights is not None)
          and rr.click_mask is None and not rr.radial and len(phases) > 1):
        # (up to here only the fallback after a LowContrastError sets multiphase / combined_weights)
        # 1.10: the joint mask of a click that was too faint on every single phase may be one part
        # of a heterogeneous lesion (a viable nodule in necrosis at 25 HU noise): step 7 on every
        # phase of the grid, the click's included (it never ran there), with its enclosure test
        rr2, gp = _grow_on_other_phase(rr, phases, phase, seed_vox, p, liv, cache, include_own=True)
        if gp is not None:
            rr, growth_phase = rr2, gp
            multiphase = combined_weights = None
    if (auto_phase and roi_mm is None and len(phases) > 1 and combined_weights is None and multiphase is None
            and growth_phase is None
            and rr.click_mask is None and not rr.radial):
        # 1.5: a flagged leak, or a one-sided region holding two tissues that another phase separates
        if rr.touches or (rr.model.mode != "both" and _mixed_on_other_phase(rr, phases, phase, p, cache)):
            fb = _joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=False, cache=cache)
            if fb is not None and _leaves_line(fb[0], rr, line_vox, vol.spacing):
                fb = None  # the joint mask leaves out much of the drawn line that the single-phase mask covers
            if fb is not None:
                rr, combined_weights, multiphase = fb
        elif rr.model.ill_defined:
            # the one phase's border was ill-defined (its edge band within the contrast minimum):
            # the phases' combination has the larger contrast-to-noise ratio
            fb = _joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=True, nearest_mean=False,
                                 cache=cache)
            if fb is not None:
                rr, combined_weights, multiphase = fb
        else:
            fb = None
            if line is not None and _line_leaked(rr, vol, line, p.line_clamp_factor):
                # 1.37: a line's mask that reaches the leak clamp and outgrows the line's ball has
                # leaked (the fu2 node drawn without a liver mask ran into the liver, 7.6 x its
                # volume): the phases' nearest-mean classes, when they end inside the clamp and
                # cover the drawn line
                fb = _joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=False, cache=cache)
                if fb is not None and (_leaves_line(fb[0], rr, line_vox, vol.spacing)
                                       or _reaches_line_clamp(fb[0].mask, fb[0].box, vol, line, p.line_clamp_factor)):
                    fb = None
            if fb is not None:
                rr, combined_weights, multiphase = fb
            elif p.combined_border and rr.model.mode != "both" and line_phase_note is None:
                # 1.11 (d): a clean one-phase mask; its border redone on the phases' combination (their
                # noise averages out), unless that leaks, leaves out another tissue, or (a line) leaves
                # out much of the drawn line that the one-phase mask covers
                cb = _combined_border(rr, phases, phase, seed_vox, p, liv, line_vox, roi_mm, cache)
                if cb is not None and _leaves_line(cb[0], rr, line_vox, vol.spacing):
                    cb = None
                if cb is not None:
                    rr, border_weights = cb
    pre_rim = rr  # (step 11 is tried on it too when step 9's rim turns out to be a vessel's blood)
    if (p.enhancing_rim and rr.click_mask is None and not rr.radial
            and rr.model.mode == "hypo" and combined_weights is None and multiphase is None):
        rr = _add_enhancing_layers(rr, phases, phase, p, liv, cache)
    images = {str(k): v.array for k, v in phases.items() if v.geometry.equals(vol.geometry)}
    # 13 without being asked (below): whether it is tried is known here, but for step 11's defect;
    # its fit reads nothing steps 12, 12b, 9b and 11 compute: the one started at the click when it
    # reads these inputs (else one started now), on its thread while they run, stopped when step
    # 11 finds a defect; any other is stopped now
    rind_phase: str | None = None
    rind_ahead: RindAhead | None = None
    rind_at = (_rind_inputs(phases, vol, seed_vox, liv) if p.rind_border and (
        rr.rim_phase is not None or rr.click_mask is not None or growth_phase is not None or rr.model.mode == "hypo")
        else None)
    if rind_at is not None:
        rind_phase, inputs = rind_at
        rind_ahead = next((a for a in aheads if a.reads(*inputs)), None)
        if rind_ahead is None:
            rind_ahead = RindAhead(*inputs)
            aheads.append(rind_ahead)
    for ahead in aheads:
        if ahead is not rind_ahead:
            ahead.cancel()
    classes = rr  # step 10's nearest-mean classes, when multiphase: step 11 reads them (1.35)
    rr, border_blur, border_psf, border_ramp = _border_fits(rr, images, vol, liv, p, seed_vox, line_vox,
                                                            multiphase is not None)
    full = np.zeros(vol.shape, dtype=np.uint8 if label < 256 else np.uint16)
    sl = rr.box
    full[sl][rr.mask] = label
    notes: list[str] = []
    # 9b: a dense lipiodol deposit touching the mask, with its partial-volume margin
    # (one post-contrast phase alone cannot tell lipiodol from contrast in an artery: the step
    # needs the pre-contrast phase or two phases, as viable_mask's "every phase")
    if p.include_lipiodol and (len(images) >= 2 or str(Phase.PRE_CONTRAST) in images):
        lip = _lipiodol_deposits(full, sl, list(images.values()), liv, vol.spacing)
        if lip is not None:
            lbox, lmask = lip
            added = int(np.count_nonzero(lmask & (full[lbox] == 0)))
            if added:
                full[lbox][lmask] = label
                # the box step 11 reads must hold the added voxels too
                sl = tuple(slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(sl, lbox, strict=True))
                notes.append(
                    f"a dense lipiodol deposit (>= {C.LIPIODOL_MIN_HU:.0f} HU on every phase) touching the lesion is "
                    f"included with its partial-volume margin ({added} voxels added): it is part of the treated "
                    "lesion for RECIST; viable_mask excludes it for mRECIST."
                )
    # 11: a filling defect inside a contrast-filled tube (PVTT): the lumen from the patent segments
    if (multiphase is not None or border_ramp == "point") and border_psf is not None:
        # 1.35: step 12b grew step 10's classes; step 11's lumen test reads the classes as before
        # (the grown mask's partial-volume shell made a strongly curved vessel's defect, 1-2 mm off
        # its lumen, agree with it: 0.953 -> 0.917); 1.44: and the mask before step 12b's per-voxel
        # posterior (which reshaped a thrombus' joint mask until the lumen test found no defect:
        # 0.971 -> 0.917)
        src = np.zeros(vol.shape, bool)
        src[classes.box] = classes.mask
        defect = thrombus_in_lumen(src, images, vol.spacing, within=classes.box)
    else:
        defect = thrombus_in_lumen(full != 0, images, vol.spacing, within=sl)
    if defect is None and rr.rim_phase is not None and pre_rim.rim_phase is None:
        # 1.29: the zone step 9 wrapped in a "rim" may be a filling defect whose rim is the vessel's
        # blood (the study phantom's thrombus on 1.15 mm pixels: the blood taken as a rim, 0.774)
        before = np.zeros(vol.shape, bool)
        before[pre_rim.box] = pre_rim.mask
        defect = thrombus_in_lumen(before, images, vol.spacing, within=pre_rim.box)
    if defect is not None:
        full[...] = 0
        full[defect.mask] = label
        # the lumen's border is step 11's: steps 10 (d), 12 and 12b described the mask it replaced
        border_weights, border_blur, border_psf, border_ramp = None, None, None, None
    # 13 without being asked (1.25): on fine pixels, a click whose region step 7 grew to a border or
    # step 9 wrapped in a rim (a dark zone in a layer) is fitted as a core in a layer; used when the
    # fit passes its tests (a dark core at the click, a layer >= LESION_RIND_MIN_LAYER_MM all round
    # and brighter than the parenchyma), holds the click and covers a drawn line.  1.40: any hypodense
    # region too: a rind as thick as step 9's ring (2-6 mm) lifts the ring with the shell, so neither
    # step 7 nor step 9 fires and the mask is the core (the rind sweep at 15 HU on 1.15-1.8 mm
    # pixels with a profile: 0.45-0.70); a layerless one is refused by the fit's checks
    # (the fit started before step 12, ``rind_ahead``; the conditions on ``rr`` read fields steps 12
    # and 12b do not change)
    rind_fit: RindFit | None = None
    if rind_ahead is not None and defect is not None:
        rind_ahead.cancel()
        rind_ahead, rind_phase = None, None
    if rind_ahead is not None:
        try:
            rind_fit = rind_ahead.result()
        except SegmentationError as err:
            log.debug("segment_lesion: step 13 not used (%s)", err)
        if rind_fit is not None:
            as_rr = replace(rr, mask=rind_fit.mask, lo=np.array([b.start for b in rind_fit.box], np.int64))
            if not as_rr.holds(seed_vox) or _leaves_line(as_rr, rr, line_vox, vol.spacing):
                rind_fit = None
            else:
                full[...] = 0
                full[rind_fit.box][rind_fit.mask] = label
                # the border is the fit's, with its point-spread (as with rind=True); steps 10 (d),
                # 12 and 12b described the mask it replaced
                border_weights, border_blur, border_ramp = None, None, None
                border_psf = rind_fit.psf_vox(vol.spacing)
    reach = _edge_reach(full)
    if line is None:
        # (a mask step 11 or 13 replaced may have touched the largest region: theirs are enclosed)
        unenclosed = roi_mm is None and defect is None and (reach[2] or (rr.touches and rind_fit is None))
        _refuse_a_click_without_a_lesion(full, reach[2], unenclosed, float(rr.model.lesion), seed_vox, seed_txt, vol, p)
    # (a mask step 11 or 13 replaced may have touched the largest region: theirs are enclosed)
    checks = ["roi_border"] if rr.touches and rind_fit is None and defect is None else []
    if rr.touches:
        notes.append(
            "the mask still touches the border of the largest region of interest: it may have leaked into "
            "neighbouring tissue; check it, pass a liver mask or draw a line across the lesion."
        )
    # the mask grown with one phase's window (not the phases' classes or combination, step 13's fit)
    one_window = (combined_weights is None and multiphase is None and border_weights is None and rind_fit is None
                  and rr.model.mode in ("hyper", "hypo") and rr.model.low < rr.model.high)
    if line is not None and defect is None and (
            _clamp_held_back(full, sl, rr.model, vol, liv, line, p, cache) if one_window
            else _reaches_line_clamp(full[sl], sl, vol, line, p.line_clamp_factor)):
        checks.append("line_clamp")
        notes.append(
            f"the mask reaches the leak clamp around the drawn line ({p.line_clamp_factor:g} x its half-length from "
            "its midpoint): it may have run into a neighbouring tissue of about the same value; check it, draw "
            "the line across the lesion's longest diameter, or pass a liver mask (extrahepatic=True for a lesion "
            "outside the liver, such as a node against the liver)."
        )
    checks += _edge_checks(reach)
    notes, phase = _step_notes(notes, rr, Phase(phase), border_blur, multiphase, combined_weights, line_phase_note,
                               growth_phase, reach, rind_note, rind_fit, rind_phase, defect)
    m = rr.model
    res = _result(
        vol, full, label, lesion_id, p, roi_mm, extrahepatic, False, seed_pt, seed_vox, line, t0,
        phase=Phase(phase),
        lesion_value=float(m.lesion),
        surroundings_value=float(m.surround),
        window=(float(m.low), float(m.high)),
        phase_conspicuity=conspicuity,
        notes=tuple(notes),
        values_phase=Phase(growth_phase) if growth_phase is not None else Phase(phase),
        border_weights=border_weights,
        border_blur_mm=border_blur,
        border_psf_vox=border_psf,
        border_ramp=border_ramp,
        checks=tuple(checks),
    )
    log.debug("segment_lesion: %d voxels in %.3f s on %s", int(rr.mask.sum()), res.elapsed_s, phase)
    return res


def _step_notes(notes: list[str], rr: _RoiResult, phase: Phase, border_blur: float | None,
                multiphase: list[str] | None, combined_weights: Mapping[str, float] | None,
                line_phase_note: str | None, growth_phase: Phase | None, reach: tuple[bool, bool, bool],
                rind_note: str | None, rind_fit: RindFit | None, rind_phase: str | None,
                defect: Any) -> tuple[list[str], Phase]:
    """The notes of a click's result after ``notes`` (the steps' own so far): what each step that
    placed the mask did and what to check, the mask that step 13's fit (``rind_fit``) or step 11's
    lumen (``defect``) replaced described as such; and the phase the reported values refer to
    (step 10's first phase, or the combination's heaviest, instead of ``phase``)."""
    if rr.radial:
        notes.append(
            "heterogeneous lesion not enclosed by uniform parenchyma: the border is the star-shaped "
            "(radial) estimate around the click, with a smoothness prior; check it on every slice."
        )
    if rr.rim_phase is not None:
        notes.append(
            f"a thin enhancing rim around the hypodense zone (seen on the {rr.rim_phase} phase) is included "
            "in the lesion mask."
        )
    if rr.model.ill_defined:
        notes.append(
            "ill-defined border: the lesion's edge band is within the contrast minimum of its surroundings, so the "
            "threshold uses the whole region's value (an infiltrative lesion, or a small one near the contrast "
            "minimum); its extent is uncertain, check it."
        )
    if border_blur is not None:
        where = (f"fitted around the click's region on one phase ({phase}), where the lesion fades into the "
                 "parenchyma" if rr.blur_mm is not None else "fitted to the phases")
        notes.append(
            f"the ill-defined border is placed on a blurred-surface model {where} (margin blur "
            f"sigma {border_blur:g} mm): where a sharp lesion blurred by that much would end, not the midpoint level "
            "(which lies inside a blurred convex lesion); check the border."
        )
    if multiphase is not None:
        phase = Phase(multiphase[0])  # the phase the reported values refer to
        notes.append(
            f"segmented on the phases {multiphase} jointly (nearest-mean classification against the tissue classes "
            "around the lesion): the lesion is faint on every single phase, or the region on the most conspicuous "
            "phase leaked or held tissues that another phase separates (e.g. a thrombus and the contrast-filled "
            f"vein); lesion and surroundings values are the {phase} phase's medians of the mask and its ring (the "
            "window is not a threshold here); check the border."
        )
    if combined_weights is not None:
        phase = Phase(max(combined_weights, key=lambda k: abs(combined_weights[k])))  # type: ignore[index]
        notes.append(
            "faint or ill-defined on each single phase: segmented on the phases' combination (weights per phase "
            f"{combined_weights}, contrast / noise^2 of each); lesion and surroundings values are the {phase} phase's "
            "medians of the mask and its ring (the window is not a threshold here); check the border."
        )
    if line_phase_note is not None:
        notes.append(line_phase_note)
    if growth_phase is not None:
        notes.append(
            f"heterogeneous lesion: the click's region ({phase}) was grown to the lesion border on the "
            f"{growth_phase} phase, where the border contrast against parenchyma is highest (window and surroundings value refer to that phase)."
        )
    notes += _edge_notes(reach)
    if rind_note is not None:
        notes.append(rind_note)
    if rind_fit is not None and rind_phase is not None:
        # as step 11's: the notes above describe the mask the fit replaced
        notes = [rind_fit.note(rind_phase).replace("(asked for, rind=True)", "(step 13)")] + [
            f"the mask before the two-surface fit replaced it: {n}" for n in notes]
    if defect is not None:
        # the notes above describe the mask step 11 replaced (its values and phase are still the ones
        # reported); say so, so that "check the border" is not read as being about the lumen
        notes = [defect.note()] + [f"the mask before the vessel lumen replaced it: {n}" for n in notes]
    return notes, phase


def _result(
    vol: Volume, full: NDArray[np.integer[Any]], label: int, lesion_id: str, p: LesionParams, roi_mm: float | None,
    extrahepatic: bool, rind: bool, seed_pt: NDArray[np.float64], seed_vox: tuple[int, int, int],
    line: NDArray[np.float64] | None, t0: float, **fields: Any,
) -> SegmentationResult:
    """The result with the provenance every path shares (the mask ``full`` as a labelled volume on
    ``vol``'s grid, the algorithm, the parameters, the click or line, the time since ``t0``);
    ``fields``: the path's own (phase, values, window, notes, ...)."""
    return SegmentationResult(
        labels=LabelVolume.like(vol, full, labels={label: lesion_id}, meta={"algorithm": ALGORITHM_NAME}),
        algorithm=ALGORITHM_NAME,
        version=C.ALGORITHM_VERSION,
        parameters={**asdict(p), "roi_mm": roi_mm, "extrahepatic": bool(extrahepatic), "rind": bool(rind)},
        seed_lps=tuple(float(v) for v in seed_pt),  # type: ignore[arg-type]
        seed_index=seed_vox,
        line_lps=None if line is None else (tuple(map(float, line[0])), tuple(map(float, line[1]))),  # type: ignore[arg-type]
        elapsed_s=time.perf_counter() - t0,
        **fields,
    )


def _rind_result(
    vol: Volume, phase: Phase, seed_vox: tuple[int, int, int], seed_pt: NDArray[np.float64],
    seed_txt: tuple[float, ...], line: NDArray[np.float64] | None, liv: NDArray[np.bool_] | None,
    p: LesionParams, roi_mm: float | None, label: int, lesion_id: str, extrahepatic: bool,
    conspicuity: dict[str, float], t0: float,
) -> SegmentationResult:
    """``segment_lesion(..., rind=True)``: step 13 (:func:`._rind.rind_border`) from the click on
    ``vol``, as a result with its provenance."""
    where = f"the click at {seed_txt} mm" if line is None else f"the line's midpoint {seed_txt} mm"
    fit = rind_border(vol.array, seed_vox, vol.spacing, liv, where=where, calibrated=vol.modality == Modality.CT)
    full = np.zeros(vol.shape, dtype=np.uint8 if label < 256 else np.uint16)
    full[fit.box][fit.mask] = label
    if not full[seed_vox]:
        raise SegmentationError(
            f"rind=True: the fitted layer's surface leaves out {where}; the lesion is not a core in a layer there. "
            "Segment it without rind=True.")
    notes = [fit.note(str(phase)) + " The window is the core's and the layer's fitted values (not a threshold)."]
    reach = _edge_reach(full)
    res = _result(
        vol, full, label, lesion_id, p, roi_mm, extrahepatic, True, seed_pt, seed_vox, line, t0,
        phase=Phase(phase),
        lesion_value=float(np.median(vol.array[fit.box][fit.mask])),
        surroundings_value=fit.parenchyma_value,
        window=(min(fit.core_value, fit.layer_value), max(fit.core_value, fit.layer_value)),
        phase_conspicuity=conspicuity,
        values_phase=Phase(phase),
        border_weights=None,
        border_blur_mm=None,
        border_psf_vox=fit.psf_vox(vol.spacing),
        notes=tuple([*notes, *_edge_notes(reach)]),
        checks=tuple(_edge_checks(reach)),
    )
    log.debug("segment_lesion (rind): %d voxels in %.3f s on %s", int(np.count_nonzero(full)), res.elapsed_s, phase)
    return res

"""Seeded 3-D lesion segmentation from one click or one line (classical, CPU).

Method (:func:`segment_lesion`)
-------------------------------
1. **Region of interest**: a box around the seed (``LesionParams.roi_half_size_mm``; with a
   line of length L, ``line_roi_factor * L``).  It grows by ``roi_growth`` while the mask
   touches its border, up to ``roi_max_half_size_mm``; a click's mask that still touches it
   there is refused (``NotEnclosedError``, 1.13).  1.70: it grows too when steps 3-6 refuse a
   click (``LowContrastError``) while their region reaches its border and fills
   ``LESION_ROI_RETRY_FILL`` of it, a lesion the box cuts (its faces cut the ring and the edge
   band: 40 mm lesions on 5 mm slices at 25 HU were refused); not for a tube through the box (a
   vessel) nor a tissue that fills it.
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
   uncertain by a partial-volume ramp); with a mask of the classical liver method, a ray that it
   ends inside tissue still reading as the lesion's goes on through that tissue to a darker
   tissue's edge, at most ``LESION_RADIAL_EXOPHYTIC_MM`` past the mask (1.56: the method's
   border cuts a tumour that bulges past the liver where the tumour joins another organ;
   ``LesionParams.past_liver_mask_mm``); see :mod:`._radial`.  Kept unless most rays never meet
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
    (``LIPIODOL_MARGIN_MM``), holes filled: part of the treated lesion for RECIST.  1.64: again on
    step 13's mask when the fit replaces the grown one (1.62 dropped the voxels added here and kept
    their note); the note describes the final mask.  On CT only (1.64: the threshold is in HU).
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
    1.62: on a click (not a line), the fit is waited for before steps 12 / 12b once it has passed
    the rays' floors; when it holds the click,
    steps 12 / 12b (whose mask it replaces) are skipped and step 11 reads the mask before them; a
    fit refused later, they run after it (docs/validation.md section 2.4, "Algorithm 1.62").
14. **A line that leaked** (1.38, :func:`_leaked_line_as_click`): a drawn line's final mask that
    the leak clamp cut within a slice is redone from a click at the line's midpoint (or the seed given
    with it), whose steps 7-8 do not run on a line (IRCAD17's tumours, heterogeneous, drawn along
    the expert's longest diameters: 0.743 / 0.715 -> 0.874 / 0.854 with the expert liver); the
    click's mask is used when it covers ``LESION_LINE_MIN_COVERAGE`` of the line's central part and
    ends inside the clamp (a note says so; the result keeps the line), else the line's flagged mask.

Code: this module holds the public API (:func:`segment_lesion`, :func:`seed_point_lps`, :class:`LesionParams`,
:class:`SegmentationResult` and :data:`MASK_CHECKS`, defined in :mod:`._types`, which the steps import
without a cycle).  The driver (input checks, phase choice, steps 7-13 called in order, notes,
checks, provenance) is :mod:`._driver`.  The steps are in private modules: :mod:`._grow` (steps 2-6 within one region
of interest, and the helpers the later steps share), :mod:`._expand` (step 7), :mod:`._refine` (one phase's segmentation
with its region-of-interest loop, step 8, step 9b, and step 7 across phases), :mod:`._rim` (step
9), :mod:`._multiphase` (step 10), :mod:`._radial` (step 8's rays), :mod:`._vessel` (step 11),
:mod:`._blur` (step 12), :mod:`._sharp` (step 12b) and :mod:`._rind` (step 13).

References: perf.md section 4 (anchors: SimpleITK CurvatureFlow + ConnectedThreshold,
scikit-image Gaussian + flood); Gonzalez & Woods, *Digital Image Processing*, region growing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._blas import single_blas_thread
from ..volume import LabelVolume, Phase, Volume
from ._driver import _as_phases, _leaked_line_as_click, _seed_and_line, _seed_outside, _segment_lesion
from ._types import ALGORITHM_NAME, MASK_CHECKS, LesionParams, SegmentationResult

__all__ = ["LesionParams", "SegmentationResult", "segment_lesion", "seed_point_lps", "ALGORITHM_NAME", "MASK_CHECKS"]


def _check_one_scan(volume: Volume | Mapping[Phase | str, Volume], phase: Phase | str | None) -> None:
    """Refuse phases that are not of one scan: a phase in another frame of reference than the
    reference phase (``phase``, else the first; both known), or one whose extent does not overlap it
    at all (another study's, or another patient's, NIfTI images carry no frame of reference).  The
    segmentation reads every phase at the click's LPS point: another study's phase was used (chosen
    as the most conspicuous, or its values taken) at a point of another body, without a word.
    Grids may differ (the phases of one scan are resampled onto each other)."""
    if not isinstance(volume, Mapping):
        return
    vols = {str(k): v for k, v in volume.items() if isinstance(v, Volume)}  # (other values: _as_phases says)
    if len(vols) < 2:
        return
    asked = str(phase.value if isinstance(phase, Phase) else phase) if phase is not None else None
    ref_name = asked if asked in vols else next(iter(vols))  # (a phase not given: the driver says so)
    ref = vols[ref_name]

    def box(v: Volume) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        pts, half = v.geometry.extent_lps, 0.5 * max(v.spacing)
        return pts.min(axis=0) - half, pts.max(axis=0) + half

    def said(name: str, v: Volume) -> str:
        return f"the {name} image (series {v.series_instance_uid or 'unknown'})"

    from ..errors import GeometryMismatchError

    r_lo, r_hi = box(ref)
    for name, v in vols.items():
        if v is ref:
            continue
        if ref.frame_of_reference_uid and v.frame_of_reference_uid and v.frame_of_reference_uid != ref.frame_of_reference_uid:
            raise GeometryMismatchError(
                f"the phases given are not of one scan: {said(name, v)} is in frame of reference "
                f"{v.frame_of_reference_uid}, {said(ref_name, ref)} in {ref.frame_of_reference_uid}: it is another "
                "study's (or another scan's) phase, and would be read at the click's point in another body. Pass the "
                "phases of one study only, or move that one onto this study first (register_volumes, then "
                "Registration.resample_volume).")
        lo, hi = box(v)
        if np.any(lo > r_hi) or np.any(r_lo > hi):
            ext = ", ".join(f"{a:.0f} to {b:.0f}" for a, b in zip(lo, hi, strict=True))
            r_ext = ", ".join(f"{a:.0f} to {b:.0f}" for a, b in zip(r_lo, r_hi, strict=True))
            raise GeometryMismatchError(
                f"the phases given are not of one scan: {said(name, v)} (x, y, z {ext} mm LPS) does not overlap "
                f"{said(ref_name, ref)} (x, y, z {r_ext} mm) at all: it is another study's phase, or lies in "
                "another coordinate system. Pass the phases of one study only, or move that one onto this study "
                "first (register_volumes, then Registration.resample_volume).")


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
    include_lps=)``, as ``hcc-imaging segment --liver`` and the batch's seeds files make it).  Phases
    that are not of one scan are refused, as :func:`segment_lesion` refuses them."""
    phases = _as_phases(volume)
    _check_one_scan(volume, phase)
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
        One image, or the phases of one study (same frame of reference, overlapping; grids may
        differ): phases of another study are refused.
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
        beyond it where darker tissue lies beyond) and the surroundings are sampled in it.  An
        empty mask, or one that lies outside the image, is refused (``SegmentationError``).
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
    GeometryMismatchError
        The liver mask is in another frame of reference than the image (another study's mask); a
        phase in another frame of reference than ``phase`` (else the first phase given), or one not
        overlapping it at all (another study's phase; the error names both phases).
    SegmentationError
        NaN or infinite voxels in a float image within the click's largest region of interest
        (they are no intensity; replace them, e.g. with -1024 HU, and save the image again).
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
    _check_one_scan(volume, phase)
    if liver is not None and not np.any(np.asarray(liver.array)):
        from .errors import SegmentationError

        raise SegmentationError(
            f"the liver mask given (drawn on series {liver.source_series_instance_uid or 'unknown'}) has no voxels: "
            "an empty mask would leave the lesion unbounded, as no mask does, without saying so. Pass a mask that "
            "covers the liver (e.g. segment_liver, hcc-imaging segment --liver), or none (liver=None).")
    kw: dict[str, Any] = dict(seed_lps=seed_lps, seed_index=seed_index, line_lps=line_lps, phase=phase, liver=liver,
                              roi_mm=roi_mm, params=params, label=label, lesion_id=lesion_id, extrahepatic=extrahepatic,
                              rind=rind)
    res = _segment_lesion(volume, **kw)
    if res.line_lps is None or rind:
        return res
    return _leaked_line_as_click(volume, res, kw)

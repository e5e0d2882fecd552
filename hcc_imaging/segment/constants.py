"""Named parameters of :mod:`hcc_imaging.segment`, each with its unit and source / rationale.

Where the literature gives no single value, the value here is a documented default and the
function that uses it takes it as a keyword (``LesionParams``, ``ViableParams``,
``LiverParams``, ``RegistrationParams``).  Phantom evidence for each default is in
``docs/validation.md``; the timing/accuracy anchors are in ``perf.md`` section 4.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "ALGORITHM_VERSION",
    "BIAS_MIN_SPAN_MM",
    "BIAS_GRID_MM",
    "BIAS_ITERATIONS",
    "BIAS_MIN_MASK_VOXELS",
    "LESION_SMOOTHING_SIGMA_MM",
    "LESION_SMOOTHING_MIN_VOX",
    "LESION_SEED_RADIUS_MM",
    "LESION_ROI_HALF_SIZE_MM",
    "LESION_ROI_MAX_HALF_SIZE_MM",
    "LESION_ROI_GROWTH",
    "LESION_ROI_RETRY_FILL",
    "LESION_RING_INNER_MM",
    "LESION_RING_OUTER_MM",
    "LESION_OUTER_K_SIGMA",
    "LESION_MIN_CONTRAST_K_SIGMA",
    "LESION_COMBINED_PASSES",
    "LESION_MIXED_SPREAD_K",
    "LESION_MIXED_SPREAD_MARGIN",
    "LESION_MIXED_DEPTH_BIN_VOXELS",
    "LESION_MULTIPHASE_RING_CLASSES",
    "LESION_MULTIPHASE_MIN_CLASS_FRACTION",
    "LESION_COMBINED_BORDER_MIN_VOXELS",
    "LESION_COMBINED_BORDER_MAX_VOLUME_RATIO",
    "LESION_COMBINED_BORDER_MAX_SHIFT_VOXELS",
    "LESION_COMBINED_CLICK_BALL_MM",
    "LESION_COMBINED_CLICK_SCALES",
    "LESION_COMBINED_CLICK_SCALE_STEP",
    "LESION_COMBINED_LINE_BALL_FRACTION",
    "LESION_FAINT_SMOOTHING_MM",
    "LESION_BLUR_MODEL_DEGREE",
    "LESION_BLUR_MODEL_GRID_MM",
    "LESION_BLUR_MODEL_BAND_MM",
    "LESION_BLUR_MODEL_SIGMAS_MM",
    "LESION_BLUR_MODEL_START_SIGMA_MM",
    "LESION_BLUR_MODEL_MIN_SIGMA_MM",
    "LESION_BLUR_MODEL_SHARP_SIGMA_MM",
    "LESION_BLUR_MODEL_MIN_EVIDENCE",
    "LESION_BLUR_MODEL_MIN_AGREEMENT",
    "LESION_BLUR_MODEL_MAX_GROWTH",
    "LESION_BLUR_MODEL_CORE_MAX_GROWTH",
    "LESION_BLUR_MODEL_MIN_VOXELS",
    "LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS",
    "LESION_BLUR_MODEL_STEPS",
    "LESION_BLUR_MODEL_TOLERANCE_MM",
    "LESION_BLUR_MODEL_SMOOTHING",
    "LESION_BLUR_MODEL_FREE_DEGREE",
    "LESION_RIND_BOX_MM", "LESION_RIND_SHELL_MM", "LESION_RIND_MAX_PIXEL_MM", "LESION_RIND_RAYS", "LESION_RIND_RAY_STEP_MM", "LESION_RIND_MAX_LAYER_MM",
    "LESION_RIND_RAY_BLURS_MM", "LESION_RIND_PSF_MM", "LESION_RIND_MAX_ITERATIONS", "LESION_RIND_PSF_STEPS", "LESION_RIND_MIN_LAYER_MM",
    "LESION_RIND_THREADS", "LESION_RIND_TRAILING_CHI2", "LESION_RIND_LOBE_GAP_MM", "LESION_RIND_LOBE_MIN_MM3",
    "LESION_RIND_LOBE_SHELL_MM", "LESION_RIND_NODES_MIN_SCORE_Z", "LESION_RIND_NODES_ITERATIONS",
    "LESION_RIND_NODES_SMOOTHING", "LESION_RIND_NODES_RIDGE", "LESION_RIND_SCREEN_PSFS", "LESION_RIND_MODE_SUBSAMPLE",
    "LESION_RIND_RAY_TABLE_STEP", "LESION_RIND_MIN_DECREASE_CHI2", "LESION_RIND_COARSE_MAX_PIXEL_MM",
    "LESION_RIND_FINE_STEPS", "LESION_RIND_HANDOVER_STEPS", "LESION_RIND_HANDOVER_Z", "LESION_RIND_NODES_BLOCK_ITERATIONS",
    "LESION_RIND_NODES_BLOCK_REFRESH",
    "LESION_SHARP_FIT_BAND_MM",
    "LESION_SHARP_FIT_PSF_VOX",
    "LESION_SHARP_FIT_OUTLIER_K",
    "LESION_SHARP_FIT_MAX_VOXELS",
    "LESION_SHARP_FIT_MIN_AGREEMENT",
    "LESION_SHARP_FIT_MAX_DIAMETER_MM",
    "LESION_SHARP_FIT_NESTED_SHRINK",
    "LESION_SHARP_FIT_KEEP_START_PLATEAU",
    "LESION_SHARP_FIT_PLATEAU_MIN_SHARE",
    "LESION_SHARP_FIT_POINT_RAMP_VOX",
    "LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO",
    "LESION_OPENING_RADIUS_MM",
    "LESION_ITERATIONS",
    "LESION_BALL_RING_SHIFT_FRACTION",
    "LESION_LINE_ROI_FACTOR",
    "LESION_LINE_CLAMP_FACTOR",
    "LESION_LINE_LEAK_BALL_RATIO",
    "LESION_HETEROGENEOUS_MIN_FRACTION",
    "LESION_HETEROGENEOUS_TAIL_PSF_VOX",
    "LESION_HETEROGENEOUS_TAIL_MODEL_ERROR",
    "LESION_LINE_PROFILE_INNER_FRACTION",
    "LESION_LINE_VALUE_MARGIN_K",
    "LESION_LINE_MIN_COVERAGE",
    "LESION_EDGE_BAND_MM",
    "LESION_SHELL_NONPARENCHYMA_FRACTION",
    "LESION_EXPANSION_ROUNDS",
    "LESION_PARENCHYMA_SAMPLE_MM",
    "LESION_FAT_MAX_HU",
    "LESION_MIN_NOISE_HU",
    "LESION_MIN_NOISE_FRACTION",
    "LESION_EXPANSION_MAX_MM",
    "LESION_EXPANSION_BRIDGE_MM", "LESION_EXPANSION_RELEVEL",
    "LESION_STATS_SAMPLING_MM",
    "LIVER_WINDOW_HU_BY_PHASE",
    "LIVER_WORK_SPACING_MM",
    "LIVER_SMOOTHING_SIGMA_MM",
    "LIVER_HALF_WIDTH_HU",
    "LIVER_EROSION_RADIUS_MM",
    "LIVER_BODY_MIN_HU",
    "LIVER_NEIGHBOUR_PEAK_MIN_RATIO",
    "LIVER_NEIGHBOUR_VALLEY_MAX_RATIO",
    "LIVER_NEIGHBOUR_EXCLUDE_K_SIGMA",
    "LIVER_CLOSING_RADIUS_MM",
    "LIVER_IVC_MAX_AREA_MM2",
    "LIVER_IVC_RADIUS_MM",
    "LIVER_IVC_MAX_ROUNDNESS",
    "LIVER_IVC_MAX_MIDLINE_MM",
    "LIVER_IVC_MIN_LENGTH_MM",
    "LIVER_HEART_TISSUE_MAX_HU",
    "LIVER_HEART_MARKER_DEPTH_MM",
    "LIVER_HEART_MAX_SHARE_IN_LIVER",
    "LIVER_HEART_LIVER_MARKER_MM",
    "LIVER_MIN_PICK_RATIO",
    "LIVER_TUMOUR_MIN_HU",
    "LIVER_EDGE_SMOOTHING_SIGMA_MM",
    "LIVER_EDGE_REACH_MM",
    "LIVER_EDGE_DARK_SAMPLE_MM",
    "LIVER_EDGE_DARK_BELOW_WINDOW_HU",
    "LIVER_RIM_TUMOUR_DEPTH_MM",
    "LIVER_RIM_TUMOUR_MIN_ML",
    "LIVER_RIM_REACH_MM",
    "LIVER_RIM_DARK_SAMPLE_MM",
    "LIVER_TUMOUR_MIN_LIVER_CONTACT",
    "LIVER_TUMOUR_MIN_LIVER_SHARE",
    "LIVER_TUMOUR_MAX_VOLUME_RATIO",
    "LIVER_MIN_SECTION_CM2",
    "LIVER_MIN_SECTION_EXTENT_MM",
    "LIVER_LOW_CONTRAST_SMOOTHING_MM",
    "LIVER_PEAK_HIST_BIN_HU",
    "LIVER_PEAK_HIST_SIGMA_HU",
    "LIVER_SIDE_EXCESS_MIN_RATIO",
    "LIVER_LOW_CONTRAST_PHASES",
    "VIABLE_ENHANCEMENT_VS_LIVER_HU",
    "VIABLE_ENHANCEMENT_VS_PRE_HU",
    "VIABLE_SMOOTHING_SIGMA_MM",
    "LIPIODOL_MIN_HU",
    "REACTIVE_RIM_MAX_THICKNESS_MM",
    "VIABLE_RIM_SCANNER_BLUR_SIGMA_MM",
    "VIABLE_RIM_BLUR_ALLOWANCE_SIGMAS",
    "LIPIODOL_MARGIN_MM",
    "LESION_LIPIODOL_SEARCH_MM",
    "VIABLE_RING_INNER_MM",
    "VIABLE_RING_OUTER_MM",
    "VIABLE_ROI_MARGIN_MM",
    "VIABLE_REGISTRATION_MOVING_MARGIN_MM",
    "VIABLE_MIN_VOLUME_MM3",
    "VIABLE_GROW_ENHANCEMENT_VS_LIVER_HU",
    "VIABLE_GROW_DISTANCE_MM",
    "REGISTRATION_SHRINK_FACTORS",
    "REGISTRATION_CARRY_WORK_SPACING_MM",
    "REGISTRATION_CARRY_SHRINK_FACTORS",
    "REGISTRATION_CARRY_SMOOTHING_SIGMAS_MM",
    "REGISTRATION_SMOOTHING_SIGMAS_MM",
    "REGISTRATION_ITERATIONS",
    "REGISTRATION_LEARNING_RATE_MM",
    "REGISTRATION_MIN_STEP_MM",
    "REGISTRATION_MASK_DILATION_MM",
    "REGISTRATION_MIN_SAMPLES",
    "REGISTRATION_BORDER_MARGIN_MM",
    "REGISTRATION_SAMPLING_FRACTION",
    "REGISTRATION_HISTOGRAM_BINS",
    "REGISTRATION_RANDOM_SEED",
    "REGISTRATION_STAGE_METRIC_TOL",
    "REGISTRATION_SUSPECT_METRIC",
    "REGISTRATION_MIN_FIELD_FRACTION",
    "REGISTRATION_MIN_MASK_OVERLAP",
    "REGISTRATION_CHECK_POINTS",
    "REGISTRATION_MIN_VOXELS_PER_AXIS",
    "TRANSLATION_MAX_SHIFT_MM",
    "TRANSLATION_GRID_MM",
    "TRANSLATION_FINE_GRID_MM",
    "TRANSLATION_SMOOTHING_VOX",
    "TRANSLATION_SMOOTHING_TRUNCATE",
    "VIABLE_REGISTRATION_WINDOW_HU",
    "VIABLE_REGISTRATION_FINE_MARGIN_MM",
]

#: Version of the segmentation algorithms, recorded in every result's provenance.  Bump when
#: a default or a step changes results.
#: 1.7: liver on every phase (best phase of a study, low-contrast check), tumour inclusion
#: by nearest organ, step 8 edge reach past a liver mask at dark tissue, faint lesions on the
#: phases jointly at 2 mm, step 11 (filling defect in a contrast-filled vessel).
#: 1.8: step 10's ring classes are a true k-medians (voxels assigned by L1 distance, the
#: objective the median update minimises; 1.7 assigned by squared L2 and did not converge in
#: its 10 passes), stopped early when the assignment repeats; step 9b, a dense lipiodol
#: deposit touching the mask is included with its partial-volume margin.
#: 1.9: step 9's rim test on raw values, the shell's mean and its octants (noise-proof); step
#: 7 on another phase grows the region of interest as the click's phase does; the near bound
#: moves to the parenchyma when it lies one smoothed sigma (not three) from the ring's and the
#: lesion's values, with no ring-spread gate (LESION_RING_SPREAD_K removed).
#: 1.10: fat (CT, LESION_FAT_MAX_HU) is never lesion tissue in steps 4 and 7; a node in fat;
#: extrahepatic=True; step 7 after the joint fallback.
#: 1.11: step 10 (d), a clean one-phase mask's border redone on the phases' matched-filter
#: combination when the lesion shows on several phases (LesionParams.combined_border).
#: 1.12: step 12, a blurred (ill-defined) border placed on a fitted blurred-surface model
#: (LesionParams.blurred_border).
#: 1.13: on CT the raw noise sigma is at least LESION_MIN_NOISE_HU (a noise-free or denoised
#: image); step 12's likelihood ratios are read against the fit's reduced chi^2 when it exceeds 1;
#: a refused click (or one smaller than its seed ball) is retried with the first region's band
#: widened by the seed median's standard error; a click whose region still touches the largest
#: region of interest is refused (NotEnclosedError) instead of returned with a note.
#: 1.14: step 12's surface has a prior: its roughness beyond an ellipsoid's is weighed against the
#: fit's chi^2 (LESION_BLUR_MODEL_SMOOTHING); the evidence is read on chi^2 alone.
#: 1.15: step 12 also runs on the click's region when step 7's test fires and its growth is
#: rejected, before step 8 (a bright lesion with an ill-defined margin: the region is its core, the
#: ring its blurred margin), with one refit from the fitted surface when the first fit grows the core
#: with the grid's largest blur.
#: 1.16: step 12b, a sharp lesion's border (up to LESION_SHARP_FIT_MAX_DIAMETER_MM) fitted on the same
#: surface model with the scanner's point-spread (LesionParams.sharp_border): the midpoint level of a
#: small lesion on thick slices lies inside it.
#: 1.17: step 10's phases' combination reads their contrasts, noise and values on the box of the first
#: region of interest (+- 35 mm), and on the largest one (+- 100 mm) only when the lesion outgrows the
#: first: the noise had been estimated on the largest box for every click.
#: 1.18: step 7's threshold on a side is half the ring's median deviation when the ring is a tissue that
#: deviates more than the clicked region (a viable nodule in necrosis), not the pooled median of both: with
#: the region read at every voxel and the ring on a lattice (below 0.75 mm pixels), the nodule had pulled a
#: necrotic lesion's threshold toward the parenchyma (the 512 x 512 study's L2 at 1.17 times its volume).
#: 1.19: step 7's clicked region reaches the lesion tissue around it through a band of
#: LESION_EXPANSION_BRIDGE_MM (for the connectivity only): at low noise on fine grids the blurred step
#: between a bright nodule and its necrosis is a clean shell of parenchyma-valued voxels that had cut the
#: two apart (the 512 x 512 study's fu1 L2 at 5 HU noise, Dice 0.674 -> 0.996).
#: 1.20: step 9 runs again from its own mask while the enhancing layer goes on (LESION_RIM_MAX_EXTRA_LAYERS,
#: LESION_RIM_LAYER_LEVEL): one pass added about 2 mm, so a necrotic lesion's thicker rind was cut
#: (benchmarks/sweep_segment_rind.py on the study grid: 2.5-3.5 mm rinds 0.55-0.95 -> 0.83-1.00).
#: 1.21: step 7 measures each side's level again on the tissue its accepted growth took (half its median
#: deviation from the parenchyma, when larger than the ring's) and grows the click's region once more with it:
#: the ring beyond the click's region held a layer's blurred outer part (a necrotic lesion's rind), whose level
#: lay outside the layer's edge (rind sweep on 0.7 mm pixels, a 3 mm rind at 5 HU: 0.83 -> 0.96).
#: 1.22: step 11 needs each patent segment's blood brighter than the tissue around it by step 1's contrast
#: minimum before it fits the lumen's radius (a noise-free hypodense lesion had the liver for "blood").
#: 1.23: that test compares the two medians with their standard error (raw sigma, voxel counts), not with one
#: smoothed voxel's noise: at 25 HU 1.22 refused a real portal vein (the study phantom's seed 5 fu2 thrombus,
#: 0.958 -> 0.878).
#: 1.24: step 13 on request (``segment_lesion(..., rind=True)``, ``--rind``): a necrotic core in an enhancing
#: layer fitted as two nested surfaces with the point-spread (:mod:`._rind`), on pixels up to
#: LESION_RIND_MAX_PIXEL_MM.  The automatic steps are unchanged.
#: 1.25: step 13 also runs without being asked, on pixels up to LESION_RIND_MAX_PIXEL_MM, after a click
#: whose region step 7 grew or step 9 wrapped in a rim (LesionParams.rind_border); its mask is used when the
#: fit passes its tests, holds the click and covers a drawn line.
#: 1.26: on MR (no calibrated scale) step 13 reads its HU floors and grids in units of the box's median value
#: (:func:`._rind.intensity_unit`): an MR series scaled to 0-1 was refused, or left to steps 1-12.  CT unchanged.
#: 1.27: step 13 allows for the slice's thickness (a CT slice averages it): the rays' blur widens by the
#: slice as the surface faces it, and the surfaces are also fitted with a ramp as wide as a voxel's extent
#: along the direction from the centre; the ramp with the least chi^2 wins (scenes with a slice profile on
#: 2.5 mm slices: ovals 10 -> 20 of 20 >= 0.95).
#: 1.28: a click whose final mask leaves out the clicked voxel is refused (LowContrastError), not returned: the
#: study phantom's ascites clicks gave slivers beside the click (Dice 0.00-0.03 at 5 HU on 2.3 and 0.68 mm pixels,
#: at 15 HU on 1.15 mm pixels).
#: 1.29: when step 9 wrapped the click's zone in a rim and step 11 finds no filling defect in the result, step 11
#: is tried on the zone before the rim (the study phantom's thrombus on 1.15 mm pixels: the vein's blood taken as
#: a rim, 0.774 -> 0.971).
#: 1.30: a click's mask smaller than half the LESION_SEED_RADIUS_MM ball (whose median is the seed value) is refused:
#: the seed value was then mostly the surroundings' (the study phantom's ascites on 1.15 mm pixels: 5 voxels, 20 mm3).
#: 1.31: step 12b also fits the surface with a slice that averages its thickness (the ramp |n_z| x the slice, the
#: pixels point samples) and with point samples, and uses the slice's fit when it explains the data better than both
#: (LESION_SHARP_FIT_POINT_RAMP_VOX): the study phantom with a slice profile on 3 mm slices, L1 / L3 / L9 0.96 -> 0.98-0.99;
#: every mask of the phantom sampled at the slices' centres identical.
#: 1.32: step 11 also takes the lumen's defect when the mask lies inside it (VESSEL_MIN_AGREEMENT of the mask) and
#: the defect grows it by at most LESION_BLUR_MODEL_MAX_GROWTH (step 10 kept only the thrombus' core: the 512 x 512
#: study on 2.5 mm slices that average their thickness, L7 0.72-0.74 -> 0.99); every centre-sampled lane identical.
#: 1.33: step 10's test whether a one-sided mask holds two tissues (LESION_MIXED_SPREAD_K) also asks that the other
#: phase's values, less their median at about the same depth below the mask's border (LESION_MIXED_DEPTH_BIN_VOXELS),
#: still spread more than LESION_MIXED_SPREAD_K times noise (10-90 percentile range): one tissue's blurred margin
#: varies with the depth alone (the 512 x 512 study on 2.5 mm slices, the fu2 L5 click 0.56 -> 0.98, 0.50 -> 0.98
#: with a slice profile); every hash lane identical.
#: 1.34: a drawn line's first lesion value is the median along its central part when that lies farther from the
#: surroundings than the inner half of its ball by LESION_LINE_VALUE_MARGIN_K smoothed sigmas (an elongated, blurred
#: or thin-sliced lesion: the study phantom's L5 lines on 5 mm slices 0.74-0.77 -> 0.95-0.97; the robustness
#: sweep's lines, 29 -> 16 below 0.9); clicks identical.
#: 1.35: step 12b also runs on a mask of step 10's nearest-mean classes (which leave out the partial-volume voxels
#: between the classes) and is used there only when its surface nests around the mask and grows it by at most
#: LESION_BLUR_MODEL_MAX_GROWTH; step 11 reads the classes.  The study phantom's fu2 node clicked without a liver
#: mask 0.75-0.78 -> 0.85-0.98; every other run of every lane identical.
#: 1.36: around step 10's classes step 12b's surface is used with the grid's smallest point-spread too (the classes'
#: mask is short by its partial-volume voxels whatever the blur): the fu2 node without a liver mask on the 512 x 512
#: study 0.85-0.90 -> 0.91-0.98, at seed 5 0.79 -> 0.95-0.98; every other run identical.
#: 1.37: a line's one-phase mask that reaches the leak clamp and is larger than LESION_LINE_LEAK_BALL_RATIO x the
#: ball whose diameter is the line has leaked: step 10's nearest-mean classes replace it when they end inside the
#: clamp and cover the line (as a click's leak that touches its region of interest).  The fu2 node drawn without a
#: liver mask: 0.234 -> 0.92-0.98 at sigma 5 / 15 / 25 (seeds 0-7), 0.90-0.99 with slice profiles; every other run
#: of every lane identical.
#: 1.38: a drawn line's final mask that the leak clamp cut within a slice is redone as a click at the line's midpoint
#: (or the seed given with it), used when that mask covers LESION_LINE_MIN_COVERAGE of the line's central part and
#: ends inside the clamp (a click runs steps 7-8, a line does not).  IRCAD17's expert longest diameters drawn as lines:
#: 0.743 / 0.715 -> 0.874 / 0.854 with the expert liver, 0.705 / 0.463 -> 0.829 / 0.794 with ours; the study phantom
#: at sigma 25, a baseline L5 line 0.746 -> 0.942 and an fu2 L9 line 0.905 -> 0.974; every other run identical.
#: 1.39: steps 3-6 run one round more when the first region was a ball whose ring lay partly in the lesion (the
#: last round's surroundings moved away from the lesion by more than LESION_BALL_RING_SHIFT_FRACTION x the contrast):
#: the node drawn across in its fat plane on 3 mm slices with a profile 0.88-0.93 -> 0.96-0.995, as its clicks; every
#: other run of every lane identical but node lines (512 x 512 on 2.5 mm slices 0.92 -> 0.96; 1.15 mm pixels with a
#: profile 0.87-0.96 -> 0.94).  The leak-clamp note asks whether the clamp held a one-phase window's growth back.
#: 1.40: step 13 runs without being asked on pixels up to 1.5 mm (LESION_RIND_MAX_PIXEL_MM, was 1.0), after any
#: hypodense click's region too (not only one step 7 grew or step 9 wrapped: a rind as thick as step 9's ring was
#: left at its core, 0.4-0.7), and its first check refuses a core whose 3 mm around it lies a smoothed noise sigma
#: *below* the parenchyma (a layerless edge), not one that fails to lie a sigma above it (thin rims on 1.15 mm
#: pixels with a slice profile: -1.6 to +1.2 HU).  The study on 1.15 mm pixels with a profile, its rim-only L1 / L4:
#: 32 -> 19 of 82 runs below 0.95; the rind sweep on 1.15-1.5 mm pixels with a profile: see LESION_RIND_MAX_PIXEL_MM.
#: 1.41: step 12b's voxel-ramp fit is used with the slices' point-spread at the grid's smallest when the slices are
#: thicker than the pixels, the pixels' point-spread lies inside the grid and the voxel ramp explains the data better
#: than point samples by step 12's evidence (slices that average their thickness): before, any axis at the smallest
#: declined the fit and the midpoint level stood, short by the in-plane blur's bias.  The study on 1.15 mm pixels
#: with a profile: L1 / L3 0.95-0.98 -> 0.98-0.99, the node 0.92-0.94 -> 0.95 (19 -> 15 runs below 0.95); the 512 x 512
#: study on 5 mm slices with a profile 20 -> 15 below, but its baseline node click 0.944 -> 0.882; five robustness
#: runs down (a 10 mm lesion at 25 HU on 1 mm slices 0.953 -> 0.927).
#: 1.42: the inner half of a line's ball (its first lesion value) is measured in mm: it was counted in voxels, so on
#: slices thicker than the pixels it was the whole ball but its outer layer (a 10 mm ball on 5 x 0.78 mm voxels:
#: out to 8.6 mm, not 5), and its median drifted to the surroundings (1.34 read the line's own value to work around
#: it).  The robustness sweep's lines: 38 up, 16 down (at most -0.011), 37 -> 34 below 0.95 (5 mm slices, 40 mm at
#: 40 HU and 25 HU noise 0.934 -> 0.981; a refused 10 mm line -> 0.667); the study phantom's lanes move within
#: -0.02..+0.02 but a few (5 mm slices with a profile: L7 0.72-0.74 -> 0.81, the fu1 node 0.86 -> 0.98, an fu1 L4 click
#: 0.943 -> 0.840; seed 1 fu1 L8 on the study grid at 5 HU 0.81 -> refused; at 25 HU an fu2 L9 line 0.953 ->
#: 0.941, L1 lines 0.947 / 0.955 -> 0.969 / 0.967).  And step 12b's voxel ramp with the
#: slices' point-spread at the grid's smallest (1.41) only on slices at least LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO
#: times the pixels (a 10 mm lesion at 25 HU on 1 x 0.7 mm voxels back to 0.953).
#: 1.43: step 13 faster (2.1 x, median): its screen fits each point-spread and ramp by one step, not four
#: (LESION_RIND_PSF_STEPS), the two best are fitted on side by side and one LESION_RIND_TRAILING_CHI2 behind is
#: stopped, and its radii and normal equations are float32.  The rind sweep's 48 fine-grid clicks (sampled at the
#: slices' centres and with a profile): 20 masks bit-identical, the others within -0.004 / +0.010 Dice, ovals
#: within 0.0011; the 512 x 512 study's rim-only L4 identical (docs/validation.md section 2.4, "Algorithm 1.43").
#: 1.44: step 12b on a grid that samples the slices' centres (the voxel ramp's point-spread at the grid's
#: smallest, one tissue, not step 10's classes): a stiffer point-sample surface is the prior of a per-voxel decision
#: on the matched filter's log-likelihood ratio (_sharp._voxel_posterior); step 11 then reads the mask before it.
#: The study phantom at sigma 25 (seeds 0-5) 198 -> 203 of 264 runs >= 0.95, L9 7 -> 11 of 12 (docs/validation.md
#: section 2.2, "Algorithm 1.44").
#: 1.45: step 13's core takes in the lobes' own necrotic cores (dark components within LESION_RIND_LOBE_GAP_MM of the
#: click's core, wrapped in the layer) before the rays: a lobulated rind whose lobes' cores part from the click's
#: had those lobes cut (the rind sweep's lobulated 3-3.5 mm rinds on 0.7 mm pixels, seeds 0-1: 0.77-0.84 -> 0.90-0.92;
#: held-out seeds 2-3: 7 up, 5 within -0.006, none >= 0.95: degree 4 caps the shape at 0.92); a core
#: with no such component is the same array, its mask the same bit for bit (docs/validation.md section 2.2,
#: "Algorithm 1.45").
#: 1.46: step 12b on slices thicker than the pixels: the slice's ramp (1.31) places a stiffer surface
#: (LESION_SHARP_FIT_SLICE_STIFFNESS), tried first, and is fitted where 1.44's point samples would decide
#: each voxel; used when it explains the image at least as well (voxel centres inside: a voxel at least
#: half inside a slice that averages its thickness).  The study phantom with a slice profile (3 mm, 15 HU):
#: seeds 0-1 20 -> 17 runs below 0.95, held-out seeds 2-3 24 -> 21, none lower; L9 2 -> 6 of 8 >= 0.95;
#: sampled at the slices' centres unchanged (docs/validation.md section 2.2, "Algorithm 1.46").
#: 1.47: step 12 refits without another tissue in its band (fat, a vessel: beyond both the lesion core's and
#: the surroundings' levels by more than one contrast, LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS), which the
#: one-tissue model cannot explain, and uses that fit when it passes the same tests (else the fit with it
#: stands).  The ill-defined-margin sweep (centre clicks, z blur 0.2) 87 -> 73 below 0.9 (5 refused as
#: before); the sharp sweeps, the rind sweep and the study sweeps' other lesions unchanged
#: (docs/validation.md section 2.1, "Algorithm 1.47").
#: 1.48: step 9's rim layer on slices thicker than the pixels is placed by a fitted two-surface model (the
#: rim a fitted thickness inside the outer surface) with the slice's ramp, when the data prefer that ramp
#: (docs/validation.md section 2.2, "Algorithm 1.48").
#: 1.49: step 11 refits once when the lumen's defect ran to an end of its model (the mask held only part of
#: the thrombus along the vessel), with the mask grown by that defect; taken when the refit reproduces the
#: grown mask and agrees with (or holds) the first (docs/validation.md section 2.2, "Algorithm 1.49").
#: 1.50: step 7's test is taken back when its ring is parenchyma once the click region's own blurred edge
#: is allowed (LESION_HETEROGENEOUS_TAIL_PSF_VOX; a bright sharp lesion's region stops inside its edge),
#: so step 12 / step 8 do not run on a homogeneous lesion (docs/validation.md section 2.1, "Algorithm 1.50").
#: 1.51: step 12 around a click's core (1.15) accepts a fit nested with the core that grows it up to
#: LESION_BLUR_MODEL_CORE_MAX_GROWTH (8) times, not 3: a blurred lesion's plateau core is a small part of it
#: (docs/validation.md section 2.1, "Algorithm 1.51").
#: 1.52: step 12b's fitted border is used below LESION_SHARP_FIT_MIN_AGREEMENT when it only takes voxels off
#: the start (LESION_SHARP_FIT_NESTED_SHRINK) and keeps its plateau (LESION_SHARP_FIT_KEEP_START_PLATEAU):
#: a star or growth that held a small lesion's surroundings is cut back to it (docs/validation.md section
#: 2.1, "Algorithm 1.52").
#: 1.53: step 13's two surfaces are corrected per direction node when a score test finds a shape their
#: degree-4 fit left behind (LESION_RIND_NODES_*; a lobulated rind); an oval at 15 HU keeps its mask
#: (docs/validation.md section 2.2, "Algorithm 1.53").
#: 1.54: step 12's surface is also fitted as 1 / R^2 = a polynomial (an ellipsoid is exact there) under
#: priors from weak to strong, and the fit Akaike's criterion prefers, or 1.53's surface, is used
#: (LESION_BLUR_MODEL_SURFACES, LesionParams.blurred_surface; docs/validation.md section 2.2,
#: "Algorithm 1.54").
#: 1.55: step 13 cheaper (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06)"): its
#: screen fits the LESION_RIND_SCREEN_PSFS point-spreads nearest the rays' blur (4 fits, not 10); on pixels
#: up to LESION_RIND_COARSE_MAX_PIXEL_MM the screen and the fits run on 2 x 2-pixel blocks, then at most
#: LESION_RIND_FINE_STEPS steps on the pixels; the fits end once a step gains less than
#: LESION_RIND_MIN_DECREASE_CHI2; the parenchyma modes read every LESION_RIND_MODE_SUBSAMPLE-th value and the
#: rays' normal-CDF table has a row per blur level (LESION_RIND_RAY_TABLE_STEP), not per ray.  The rind sweep's
#: fine grid (36 clicks a lane): no oval below 0.95 that was above, lobulated medians within -0.005; the
#: automatic steps are unchanged.
#: 1.56: step 8's rays go on past the liver mask where the lesion's tissue does, to a darker tissue's
#: edge within LESION_RADIAL_EXOPHYTIC_MM (step 2c of segment/_radial.py; docs/validation.md section 2.3,
#: "Step 2c").
#: 1.57: segment_liver's step 6b takes a hypodense tumour's capsular rim in front of the lung into the liver
#: (segment/_liver_rim.py, LIVER_RIM_*; docs/validation.md section 2.3, "Liver step 6b"); lesion steps unchanged.
#: 1.58: step 13 on pixels up to LESION_RIND_COARSE_MAX_PIXEL_MM takes one Gauss-Newton step on the pixels after
#: the blocks' fit, not three (LESION_RIND_FINE_STEPS 3 -> 1; docs/validation.md section 2.4, "Step 13's speed
#: (session of 2026-12-06, fourth)"): rind masks move (the sweep's fine grid within -0.006 / +0.012 a click); the
#: automatic steps are unchanged.
#: 1.59: viable_mask's reactive-rim element in mm (segment/_viable_rim.py): wider than the band a blurred
#: rim up to REACTIVE_RIM_MAX_THICKNESS_MM passes step 2 in, along every direction; in-plane with a cap
#: test on slices thicker than that band (nodules on 2 slices of 5 mm kept); lesion steps unchanged.
#: 1.60: viable_mask's step 5b grows the viable part into its blurred edge (segment/_viable_grow.py,
#: VIABLE_GROW_*; docs/validation.md section 3, "Algorithm 1.60"): fine grids' nodular remnants no longer
#: undersized; grids coarser than VIABLE_GROW_DISTANCE_MM unchanged; lesion steps unchanged.
#: 1.61: step 13's rays sample every 0.7 mm, not 0.35 (LESION_RIND_RAY_STEP_MM; docs/validation.md section 2.4,
#: "Algorithm 1.61"): rind masks on pixels up to 1.5 mm move (the rind sweep's fine grid within -0.03 / +0.03 a
#: click, no oval below 0.95); the automatic steps 1-12 are unchanged.
#: 1.62: on a click whose step-13 fit passed the rays' floors, the fit is waited for before steps 12 / 12b;
#: when it holds the click, steps 12 / 12b are skipped and step 11 reads the mask before them
#: (docs/validation.md section 2.4, "Algorithm 1.62"): the corpus's masks and notes
#: unchanged, the CPU of a rind click down by steps 12 / 12b's.
#: 1.63: the viable rim rule's thick-slice axis is found in the patient (direction matrix), not taken as
#: array axis 0 (docs/validation.md section 3, "Algorithm 1.63"): axially stored series' viable masks
#: unchanged; series stored with S off array axis 0 (coronal, sagittal) get the axial series' masks.
#: 1.64: when step 13's fit replaces the grown mask, step 9b runs again on the fit's mask (a dense
#: lipiodol deposit touching it is added with its margin, and its note describes the mask; 1.62 dropped
#: the voxels 9b had added to the grown mask and kept their note; docs/validation.md section 2.3b,
#: "Algorithm 1.64"): only clicks the fit wins next to a deposit change; and step 9b runs on CT only (its
#: LIPIODOL_MIN_HU is in HU: on MR series in the hundreds it swelled masks, 361 -> 15903 voxels on one).
#: 1.65: on pixels up to LESION_RIND_COARSE_MAX_PIXEL_MM a lobulated rind's blocks' race hands over to step 13's
#: per-direction correction after LESION_RIND_HANDOVER_STEPS rounds, and the correction is fitted on the 2 x 2-pixel
#: blocks (LESION_RIND_NODES_BLOCK_ITERATIONS steps, solved by a banded Cholesky factorisation) and read at the
#: pixels near the layer's surface (docs/validation.md section 2.4, "Algorithm 1.65"): ovals' masks unchanged unless
#: corrected (at 5 HU, within 0.003 Dice), lobulated rinds' median Dice 0.915 -> 0.918, their clicks ~0.6-0.75 x 1.64's.
#: 1.66 (docs/validation.md section 2.4, "Algorithm 1.66"): the handover after 4 rounds, not 8; the correction on the
#: blocks at most 10 steps, not 8, its normal matrix factorised every LESION_RIND_NODES_BLOCK_REFRESH-th step (the
#: steps between reuse the factor, with their own gradient); after a handover the pixels' score test is not taken
#: again (the blocks' z >= 40 decided): ovals unchanged, lobulated rinds' median Dice 0.918 -> 0.9185.
#: 1.67 (docs/validation.md section 2.4, "Algorithm 1.67"): step 13's blocks' race hands over after 3 rounds, not 4,
#: and a handed-over race takes no step on the pixels (the correction starts from the blocks' surfaces; the fit's
#: values and checks read the blocks' state): lobulated rinds' masks move (80 fine-grid clicks: paired mean +0.0008,
#: median 0.9200 -> 0.9235), ovals' and the automatic steps' unchanged.
#: 1.68 (docs/validation.md section 2.2, "Algorithm 1.68"): step 9's rim must also lie LESION_RIM_MIN_EFFECT_SIGMA raw
#: noise sigmas above the ring (not only k standard errors, which a fine grid's large shell made tiny): a plain
#: hypodense lesion on 0.5-0.7 mm voxels no longer gets a false rim.
#: 1.69 (docs/validation.md section 2.1, "Grids and MR scalings outside the sweep"): on MR (no calibrated scale)
#: steps 9 (1.48's surfaces), 12 and 12b floor their noise sigmas at one unit of :func:`._morph.noise_unit`
#: (LESION_MIN_NOISE_FRACTION / LESION_MIN_NOISE_HU of the box's median absolute value), not at 1.0 of the image's
#: values: a series scaled to 0-1 had its fits' noise floored at 100 x its noise (24 of the robustness sweep's 60 noisy
#: phantoms on two grids as MR 0-1 differed from CT, by up to 0.084 in Dice; now every one equals CT). CT unchanged.
#: 1.70 (docs/validation.md section 2.1, "Algorithm 1.70"): a click refused by steps 3-6 while their region reached a
#: face of a region of interest that may still grow, filling LESION_ROI_RETRY_FILL of it, is tried again in a larger
#: one (40 mm lesions on 5 mm slices at 25 HU, refused until 1.69, now 0.93-0.98 from a centre click); nothing else changed.
ALGORITHM_VERSION: Final[str] = "1.70"

# ------------------------------------------------------------------ MR bias field (bias.py)
#: The least distance (mm) between the knots of the N4 bias field's cubic B-spline, on every axis
#: (:func:`hcc_imaging.segment.bias_corrected`; session of 2026-12-07, eighth).  N4 over three levels (one span
#: per axis refined to 4, 32 mm apart on a 130 mm field of view) took in 20-40 mm noise-free lesions' contrast
#: (the robustness phantoms as MR 0-4095 with a +-15 % ramp: Dice 0.19-0.66).  With at most one span per 100 mm
#: (a coil's field varies over ten centimetres and more, wider than the 5 cm lesions issue 5 measures) the 45
#: phantoms on 2.5 x 0.703 mm are segmented as without the ramp (median 0.983, 7 below 0.95, none refused; with
#: the ramp 0.949, 21 and 3 refused).  docs/validation.md section 2.1, "Grids and MR scalings outside the sweep".
BIAS_MIN_SPAN_MM: Final[float] = 100.0
#: The voxel size (mm) the image is shrunk to for N4's fit (a shrink factor per axis).  N4's time goes with the
#: shrunk voxels (~1 s an iteration on 1.3 M): an 80 x 512 x 512 MR (3 x 0.75 mm) took 18.8 s at 3 mm, 14.1 s at
#: 4 mm and 5.3 s at 6 mm (the whole correction 6-10 s, SimpleITK's usual recipe 44 s: benchmarks/bench_bias.py).  6 mm samples a 100 mm span 16 times; on the robustness phantoms 3 and 6 mm gave the
#: same figures (2.5 mm slices: as without the ramp; 5 mm slices: median 0.946 / 0.944 against 0.950 without it).
BIAS_GRID_MM: Final[float] = 6.0
#: N4's iterations at its one fitting level (its default per level; it stops earlier at its convergence
#: threshold: 12-31 on the phantoms).
BIAS_ITERATIONS: Final[int] = 50
#: The fewest voxels the field may be fitted on (a given mask, or the image's foreground).
BIAS_MIN_MASK_VOXELS: Final[int] = 500

# ------------------------------------------------------------------------- seeded lesion
#: Gaussian smoothing before thresholding (sigma, mm, per axis converted with the spacing).
#: perf.md section 4: "smoothing before growing is mandatory at sigma 15 HU"; 1 mm took every
#: tested grower from Dice 0.90 (holes, one empty mask) to 0.98 on the 30 mm phantom.
LESION_SMOOTHING_SIGMA_MM: Final[float] = 1.0

#: Lower bound of the smoothing sigma in voxels per axis: on coarse grids (e.g. 2.3 mm pixels)
#: 1 mm is < 0.5 voxel and barely reduces noise; 0.5 voxel keeps the boundary within a voxel.
LESION_SMOOTHING_MIN_VOX: Final[float] = 0.5

#: Radius of the neighbourhood whose median is the seed value (mm).  perf.md section 4: a raw
#: seed voxel fell outside the window once in 7 cases (Dice 0.000); a 2.5 mm ball holds
#: ~50-120 voxels at 0.7 x 0.7 x 2.5 mm, so its median moves < 2 HU at sigma 15 HU.
LESION_SEED_RADIUS_MM: Final[float] = 2.5

#: Initial half-size of the cubic region of interest around the seed (mm).  Grown by
#: LESION_ROI_GROWTH while the mask touches the ROI border; a 25 mm half-size fits a 3 cm
#: lesion at once, so typical lesions need one pass.
LESION_ROI_HALF_SIZE_MM: Final[float] = 25.0

#: Largest ROI half-size (mm) before giving up growing: fits a 15 cm lesion.  A mask still
#: touching this border is reported (``notes``) as a probable leak.
LESION_ROI_MAX_HALF_SIZE_MM: Final[float] = 90.0

#: Factor by which the ROI grows when the mask touches its border.
LESION_ROI_GROWTH: Final[float] = 1.6

#: 1.70: a round refused while its region reached a face of a region of interest that may still grow, the
#: region filling at least the first and less than the second fraction of it, is tried again in a larger
#: region (docs/validation.md section 2.1, "Algorithm 1.70").  Such a region is a lesion the region of
#: interest cuts: 40 mm lesions on 5 mm slices at 25 HU, refused until 1.69, filled 0.23-0.41 of the 25 mm
#: one.  Below: a tube running through it (the study phantom's portal-vein thrombus, 0.02-0.07); above: a
#: tissue that fills every region of interest (a uniform field, 0.97-1.00), refused at once as before.  A
#: ball touching the six faces fills 0.52.  Set between the measured groups, not tuned.
LESION_ROI_RETRY_FILL: Final[tuple[float, float]] = (0.15, 0.75)

#: The "surrounding tissue" is the ring between these distances outside the current mask
#: (mm).  2 mm skips the partial-volume edge (PSF ~1 mm + 1 mm smoothing); 6 mm stays close
#: enough to sample the parenchyma next to the lesion rather than distant structures.
LESION_RING_INNER_MM: Final[float] = 2.0
LESION_RING_OUTER_MM: Final[float] = 6.0

#: The window's far bound lies this many noise sigmas (raw image noise, estimated from the seed
#: neighbourhood) beyond the lesion value, or one lesion-liver contrast, whichever is larger.
#: perf.md section 4 used lesion - 4 sigma with a 20 HU lesion at sigma 15 HU ([-40, 40] HU).
LESION_OUTER_K_SIGMA: Final[float] = 4.0

#: Minimum |lesion - surroundings| contrast, in units of the smoothed-image noise sigma, for a
#: click to be segmentable on a phase.  Below it the lesion is not distinguishable from the
#: parenchyma on that phase (LowContrastError; pick another phase or draw a line).
LESION_MIN_CONTRAST_K_SIGMA: Final[float] = 3.0

#: Phases' combination (1.5, used only when the lesion is below that minimum on the chosen phase):
#: passes of (per-phase contrast estimate, segmentation of the combination).  Pass 1 takes the
#: contrasts between the seed ball and the ring around it (diluted for a small lesion, where the
#: ring holds lesion too); pass 2 between pass 1's mask and its ring.  2 = one refinement, the
#: same count as LESION_ITERATIONS; not tuned.
LESION_COMBINED_PASSES: Final[int] = 2

#: After a click, pass 1's lesion sample for the combination is the ball of this radius (mm)
#: around the click (then its ring, LESION_RING_INNER_MM-LESION_RING_OUTER_MM outside it).  The
#: 2.5 mm seed ball holds 7 voxels on a 2.3 x 2.3 x 3 mm grid: its median's error (about 8 HU at
#: sigma 15) is as large as a faint lesion's contrast.  Chosen after looking at the study
#: phantom's L6 node (12 mm short axis), seeds 0-1: 4 and 5 mm (5 mm: the radius of a 10 mm lesion,
#: RECIST's smallest measurable) left the first-round ring inside the node, and the combined
#: contrast at the minimum (22.8 HU against 22.8 HU, seed 0 baseline); 6 mm gives 0.847 / 0.857.
LESION_COMBINED_CLICK_BALL_MM: Final[float] = 6.0

#: Multiphase nearest-mean fallback (1.5): at most this many tissue classes are sought in the
#: ring around the lesion (k-medians on the phases' joint values, 1.8).  3: a lesion at an organ's edge
#: meets that organ, the tissue outside it and often a vessel.  Not tuned.
LESION_MULTIPHASE_RING_CLASSES: Final[int] = 3

#: Step 10 (d), 1.11: a part of the one-phase mask that the phases' combination leaves out is
#: tested for being another tissue (its median on the other side of the ring's from the lesion's,
#: on some phase) only when it has at least this many voxels: a median of fewer is noise, and
#: fewer voxels are a border's partial volume, not a part of the lesion.  Not tuned (the left-out
#: parts on the study phantom: 0-30 voxels for border noise, 159 for the fu2 viable nodule).
LESION_COMBINED_BORDER_MIN_VOXELS: Final[int] = 8
#: Step 10 (d), 1.13: the combination's mask is a border refinement of the one-phase mask only
#: when their volumes are within this ratio of each other (either way).  Measured ratios of the
#: masks step 10 (d) kept on the study phantom: 0.96-1.06 at sigma 15 / 25, up to 1.45 at sigma 5
#: (L5's undersized blurred-core clicks, which the combination grows and step 12 then places);
#: on 5 mm slices the node's combination crossed its one-slice fat plane into the soft tissue
#: beyond (5.2x, Dice 0.32 where the one-phase mask was exact).
LESION_COMBINED_BORDER_MAX_VOLUME_RATIO: Final[float] = 2.0
#: Step 10 (d), 1.11: the phases are combined only when the lesion lies at the same place on each
#: (breath holds differ between phases; their grid is shared, their anatomy need not be): no
#: phase's contrast-weighted centroid of the lesion may lie farther than this many voxels (per
#: axis) and ``min_contrast_k_sigma`` standard errors from the chosen phase's.  Half a voxel:
#: a smaller shift moves no voxel centre across a border by more than half a voxel.  Geometric,
#: not tuned.
LESION_COMBINED_BORDER_MAX_SHIFT_VOXELS: Final[float] = 0.5

#: A ring class smaller than this fraction of the ring is ignored (a few partial-volume or noise
#: voxels are not a tissue).  Not tuned.  1.7: also the share of a combination mask's voxels
#: nearer a tissue class lying beyond the lesion than the lesion itself above which the mask
#: holds that tissue (measured on the phantom node, seeds 0-3: 0.21-0.22 for the fu2 lines that
#: ran into the liver, at most 0.016 for every other node mask; not tuned).
LESION_MULTIPHASE_MIN_CLASS_FRACTION: Final[float] = 0.1

#: A one-sided mask "holds two tissues" when its smoothed values' interquartile range on another
#: phase exceeds this many times that of smoothed noise (and its spread on its own phase); the mask is
#: then redone jointly on all phases (1.5).  2: a 50/50 mix of two tissues 2.7 smoothed sigmas
#: apart doubles the IQR (1.4-1.8 used the same factor for the ring around the region in
#: segment/_grow.py ``_near_tissue``).  Not tuned.
LESION_MIXED_SPREAD_K: Final[float] = 2.0

#: ... and exceeds this multiple of its spread on its own phase (1.10; 1.5-1.9: 1, any excess).
#: The partial-volume edge of a homogeneous lesion spreads its values on every phase in proportion
#: to that phase's contrast, so on two phases of about the same contrast either may come out
#: larger by sampling noise: a lymph node in fat (190 / 185 HU of contrast on portal venous /
#: delayed) measured 0.7-1.03 times its own spread on the other phases, and the ordinary study
#: phantom lesions up to 1.16 times (seeds 0-1).  A second tissue that the phase merges raises it
#: far more: the portal-vein thrombus in its vein, 3.4 times.  1.5 lies between; not tuned further.
LESION_MIXED_SPREAD_MARGIN: Final[float] = 1.5

#: 1.33: ... and its values less their median at about the same depth below the mask's border still
#: spread more than LESION_MIXED_SPREAD_K times noise (their 10-90 percentile range against noise's 2.563
#: sigma: a second tissue may be a sixth of the mask); the depth's runs hold this many voxels each
#: (sorted by depth; the median of 64 smoothed values is off by about a quarter of a smoothed sigma,
#: and 64 voxels of a lesion of thousands lie within a fraction of a millimetre of depth).  Not tuned.
LESION_MIXED_DEPTH_BIN_VOXELS: Final[int] = 64

#: The click's ball for the combination is chosen among this many radii, from
#: LESION_COMBINED_CLICK_BALL_MM up by LESION_COMBINED_CLICK_SCALE_STEP each: the one whose
#: ball-vs-ring contrast over the phases (sqrt of the sum of squared contrast / noise) is largest,
#: a blob-scale selection (a 6 mm ball deep inside a 22 mm node has its ring inside the node too).
#: 4 radii x 1.5: 6-20 mm, balls for 12-40 mm lesions.  Not tuned.
LESION_COMBINED_CLICK_SCALES: Final[int] = 4
LESION_COMBINED_CLICK_SCALE_STEP: Final[float] = 1.5

#: With a line, pass 1's lesion sample for the combination is the ball of this fraction of the
#: line's half-length around its midpoint (the line's endpoints are the lesion's edges; 0.5
#: keeps the sample inside a convex lesion whatever its shape).  Not tuned.
LESION_COMBINED_LINE_BALL_FRACTION: Final[float] = 0.5

#: Gaussian smoothing sigma (mm) for lesions faint on every single phase (step 10, 1.7): the
#: phases' combination is segmented at this smoothing, and the last-resort nearest-mean step seeks
#: the tissue classes at it (its voxels are still classified at the lesion smoothing: 2 mm there
#: loses the 7 mm-radius thrombus to the vein's partial volume, L7 0.61-0.87 in a sweep).  Such a
#: lesion has a per-voxel contrast-to-noise ratio of only ~2 (node, 0/10/20/20 HU at sigma 15) to
#: ~3.3 (infiltrative, 15/22/35/23 HU) on the combination, so 1 mm (LESION_SMOOTHING_SIGMA_MM)
#: leaves its border noise-driven.  Source: scripts/segment_ceiling.py (the truth-picked smoothing
#: + threshold oracle is best at 2-3 mm for L5 / L6) and a sweep of 1 / 1.5 / 2 / 2.5 / 3 mm of
#: the combination on make_study seeds 0-3 (the evaluation seeds; L5 lines 0.87-0.89 -> 0.91-0.94
#: at 2 mm, 3 mm collapses two cases to 0.77).  Chosen there, not held out.
LESION_FAINT_SMOOTHING_MM: Final[float] = 2.0

#: Step 12 (1.12, :mod:`._blur`): an ill-defined lesion's border from a blurred-surface model.
#: The surface's radius is a polynomial of the direction up to this degree (the real spherical
#: harmonics of degree <= 4, 25 terms).  Degree 2 (9 terms) cannot follow an ellipsoid of axis
#: ratio 1.8 (the phantom's L5 reached 0.95-0.96 at sigma 5); degree 4 reaches 0.98.  Chosen on
#: make_study seeds 0-1, not held out.
LESION_BLUR_MODEL_DEGREE: Final[int] = 4
#: The fit runs on blocks of k voxels (averaged) along an axis whose spacing is finer than this (mm):
#: k = floor(this / spacing), so 0.7 mm pixels in blocks of three (2.1 mm); the phantom's 2.3 / 3 mm
#: grid as it is.
#: The margins it fits are blurred over >= 2 mm; a 5 cm lesion at 0.7 mm would otherwise put 400 000
#: voxels in its box.  The mask is then made on the image's own grid.  Geometric, not tuned.
LESION_BLUR_MODEL_GRID_MM: Final[float] = 2.5
#: The model is fitted on the voxels within this distance (mm) of the starting surface (and in the
#: liver mask, or the lesion): the blurred margin (2-3 sigma) and a few mm of plateau each side.
LESION_BLUR_MODEL_BAND_MM: Final[float] = 10.0
#: The margin's blur (Gaussian sigma, mm) is picked from these by the fit's residual.  Geometric.
LESION_BLUR_MODEL_SIGMAS_MM: Final[tuple[float, ...]] = (1.0, 1.5, 2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 4.0)
#: The blur the surface is first fitted with (mm), before sigma is picked; the surface is then
#: refitted with the picked sigma.
LESION_BLUR_MODEL_START_SIGMA_MM: Final[float] = 2.5
#: The model replaces the mask only when the fitted blur is at least this (mm): beyond a CT
#: reconstruction kernel's point-spread (sigma 0.5-1.2 mm), an ill-defined margin.  A sharp margin
#: keeps its midpoint border (there the curvature shift is < 0.1 mm).  Not tuned.
LESION_BLUR_MODEL_MIN_SIGMA_MM: Final[float] = 2.0
#: ... and only when the blurred model explains the data better than a sharp one: the surface refitted
#: with this blur (mm, a CT kernel's point-spread) must leave a noise-weighted residual (chi^2) at
#: least ``LESION_BLUR_MODEL_MIN_EVIDENCE`` larger.  9: a likelihood ratio of three standard errors
#: (as ``LESION_MIN_CONTRAST_K_SIGMA``).  Measured on the study phantom: the infiltrative lesion
#: +35 to +290 (sigma 25 / 15 HU); the portal-vein thrombus at sigma 25, which the noise gives a
#: 2 mm blur on the grid, -28 to -58.  Not tuned.  1.13: when the fit's reduced chi^2 (per voxel and
#: phase) exceeds 1, the ratio is divided by it (a quasi-likelihood ratio: a model that does not fit
#: to the noise must not win on noise-level differences; the perf.md 12 mm lobulated lesion, sharp,
#: had been called blurred, and a real MR's ratio 171 is 21 at its reduced chi^2 of 8).
LESION_BLUR_MODEL_SHARP_SIGMA_MM: Final[float] = 1.0
LESION_BLUR_MODEL_MIN_EVIDENCE: Final[float] = 9.0
#: Dice the star-shaped surface must reach against the starting mask, before (a tube, a leak or a
#: lobulated mask is not star-shaped around its centroid) and after the fit (the fit may move the
#: border by a voxel, not make another lesion).  Not tuned.
LESION_BLUR_MODEL_MIN_AGREEMENT: Final[float] = 0.85
#: 1.14: a fitted surface below that agreement is still used when it is nested with the starting
#: mask (keeps at least ``LESION_BLUR_MODEL_MIN_AGREEMENT`` of it and grows it, or lies that much
#: inside it and shrinks it), by at most this factor either way, and its blur lies inside
#: ``LESION_BLUR_MODEL_SIGMAS_MM`` (not at the grid's largest value).  Growing: a small blurred
#: lesion's midpoint-level mask held 40-74 % of it (perf.md shapes, 20-30 mm, 2.5-3 mm blur, sigma
#: 15-25: 0.57-0.85 -> 0.92-0.98, growths 1.4-2.2).  Shrinking: step 7 grew over a bright blurred
#: lesion's halo (1.7 x; 0.73-0.75 -> 0.98).  Without the blur condition a 10 mm sharp lesion
#: beside a vessel took a fit at 4 mm blur (0.96 -> 0.74).  Not tuned.  1.15: around a click's
#: core (before step 8, ``blurred_border(from_core=True)``) a fit that grows the core with the
#: grid's largest blur is fitted once more from its own surface, and that refit is held to these
#: tests against the core (no fit with the grid's largest blur is used there).  A factor of 8
#: there was measured (ill-defined-margin sweep: 11 more masks right, 10 of them noise-free) and
#: not adopted (docs/validation.md, "Algorithm 1.15"); 1.51 adopts it as LESION_BLUR_MODEL_CORE_MAX_GROWTH.
LESION_BLUR_MODEL_MAX_GROWTH: Final[float] = 3.0
#: 1.51: the growth limit of LESION_BLUR_MODEL_MAX_GROWTH for a fit around a click's *core*
#: (``blurred_border(from_core=True)``, step 12 before step 8): the core of a bright lesion with an
#: ill-defined margin is its plateau, not a midpoint-level mask, and the ill-defined-margin sweeps'
#: refits that place the border right grow it 2.6-6.9 x (blur 2.5-3.5 mm for a 3 mm margin); at 3 x
#: they were refused and step 8's star took 5-8 x the lesion instead (Dice 0.22-0.35).  The other
#: tests stand (the core kept, the blur inside the grid, the evidence).  Measured at 4 / 5 / 8: 9 / 10
#: / 11 of the centre-click sweep's masks right, none worse on any sweep, IRCAD17 identical
#: (docs/validation.md section 2.1, "Algorithm 1.51").
LESION_BLUR_MODEL_CORE_MAX_GROWTH: Final[float] = 8.0
#: A starting mask of fewer voxels is left alone (25 surface terms need the data of a lesion of at
#: least ~12 mm).  Not tuned.
LESION_BLUR_MODEL_MIN_VOXELS: Final[int] = 100
#: 1.47: when step 12's fit is not used and its band holds another tissue (fat, a vessel), the fit
#: is redone without that tissue's working voxels and their face neighbours: those lying beyond
#: both the lesion core's median and the surroundings' by more than this many times their
#: difference, plus ``LESION_SHARP_FIT_OUTLIER_K`` noise sigmas (step 12b leaves such voxels out
#: too, 1.16).  A voxel of a blurred lesion lies between the surroundings and the lesion's plateau,
#: and the median of a small blurred lesion's core falls short of the plateau by about one
#: contrast (a 10 mm lesion under 3 mm of blur keeps about half its contrast at its centre): one
#: contrast keeps every lesion voxel in the fit.  The one-tissue model cannot explain a vessel or
#: fat in its band: on the noise-free ill-defined sweep their misfit gave a reduced chi^2 of
#: 240 that divided the evidence below its threshold, or pulled the surface outward (docs/validation.md,
#: "Algorithm 1.47").  Geometric, not tuned.
LESION_BLUR_MODEL_OTHER_TISSUE_CONTRASTS: Final[float] = 1.0
#: Gauss-Newton steps per fit (each with step halving); the fit stops earlier when no coefficient
#: moves by ``LESION_BLUR_MODEL_TOLERANCE_MM`` (a fiftieth of a voxel).
LESION_BLUR_MODEL_STEPS: Final[int] = 8
LESION_BLUR_MODEL_TOLERANCE_MM: Final[float] = 0.05
#: 1.14: the surface's prior.  The fit minimises chi^2 + ``LESION_BLUR_MODEL_SMOOTHING`` x the
#: surface's roughness (mm^2): the sum over the harmonic degrees l > ``LESION_BLUR_MODEL_FREE_DEGREE``
#: of (l (l + 1) - 6) x the mean square of the radius' degree-l part, so a sphere, a shift and an
#: ellipsoid's elongation (l <= 2) cost nothing and finer undulations of the border cost more the
#: finer they are (the Laplace-Beltrami energy).  chi^2 is in units of the noise, so the prior
#: weighs more where the data say less (noisier images, fainter lesions).  As a Gaussian prior: a
#: degree-3 undulation of about 1 / sqrt(5 x 6) = 0.18 mm root-mean-square over the sphere, which the
#: data override where they see one.  Without it the 25 free terms fitted the noise: the phantom's
#: infiltrative lesion at sigma 15 (seeds 0-7, click and line, 48 runs) 0.943-0.965, 38 of 48
#: >= 0.95; with it 0.949-0.975, 47 of 48 (sigma 25: 0 -> 8 of 36; sigma 5: 0.976 -> 0.979 worst).
#: The weight was picked on the sigma 15 runs among 1, 3, 10, 30, 100 (3 and 10 about equal, 30 and
#: 100 worse; with the ellipsoid's degree 2 penalised too, 10 was already worse): 5, within the
#: flat range.  Lobulated blurred lesions (perf.md shapes, 3 mm blur, not used to pick it) gain
#: 0.000-0.007.  The model's evidence (below) is read on chi^2 alone.
LESION_BLUR_MODEL_SMOOTHING: Final[float] = 5.0
LESION_BLUR_MODEL_FREE_DEGREE: Final[int] = 2
#: 1.54: step 12's surface (``LesionParams.blurred_surface``): "near_ellipsoid" (the default) or
#: "free" (R = a polynomial of the direction with the prior above: 1.14-1.53).  "near_ellipsoid"
#: fits the start of an accepted free fit again with 1 / R^2 = a polynomial of the direction,
#: where an ellipsoid about the centre is exactly degree 2 (as R = polynomial the degree-4 fit
#: misses an elongated one, the phantom's L5 by 0.1 mm root-mean-square, and the prior above
#: charges it 12.5 chi^2 units), with each prior weight of ``LESION_BLUR_MODEL_ELLIPSOID_SMOOTHINGS``,
#: and keeps the fit (or the free surface) that Akaike's criterion prefers.  docs/validation.md
#: §2.2 "Algorithm 1.54".
LESION_BLUR_MODEL_SURFACES: Final[str] = "near_ellipsoid"
#: 1.54: the near-ellipsoid surface's prior weights (its roughness in the radius' mm^2, as
#: ``LESION_BLUR_MODEL_SMOOTHING``), each a candidate for Akaike's criterion beside the free
#: surface, fitted at the free fit's blur, strongest first.  100 alone (L5 at sigma 15: none below
#: 0.95; 100-10000 alike) cost lobulated blurred lesions (perf.md shapes, lobulation 0.2, seeds
#: 0-3: 2 -> 9 of 96 below 0.95); with 20 too, 5 of 96 (mean Dice 0.9756 -> 0.9754) and L5 as
#: good; 1 and 5 as candidates too changed neither and cost two more fits.  The weaker weight
#: was added after that look; held-out shapes (seeds 4-7) are in docs/validation.md §2.2.
LESION_BLUR_MODEL_ELLIPSOID_SMOOTHINGS: Final[tuple[float, ...]] = (20.0, 100.0)

#: Step 12b (1.16, :func:`._sharp.sharp_border`): a sharp lesion's border fitted to sub-voxel
#: precision with the scanner's point-spread.  The fit uses the voxels within this distance (mm) of
#: the starting surface: a sharp edge's ramp (a voxel and +-3 point-spread sigmas) and a few mm of
#: plateau each side.  4 and 6 mm gave the same Dice on the perf.md 12 mm lesion (0.960 median at
#: sigma 15, seeds 0-9); 4 costs less.  Geometric.
LESION_SHARP_FIT_BAND_MM: Final[float] = 4.0
#: The point-spread's Gaussian sigma, in voxels of each axis (a slice's sensitivity profile scales
#: with the slice thickness, the in-plane kernel with the pixel), picked from these by the fit's
#: residual; a fit at the largest value is not used (the margin is blurred beyond a scanner's
#: point-spread: step 12's case, or no edge the model can place), nor one at the smallest (no blur
#: beyond the voxel's own partial volume, so the midpoint level is not biased: the study phantom,
#: painted by voxel centre and blurred by 1 mm on 2.3-3 mm voxels, whose node and L9 a fit there
#: cut from 0.996-1.000 to 0.91-0.94).  Geometric.
LESION_SHARP_FIT_PSF_VOX: Final[tuple[float, ...]] = (0.3, 0.45, 0.6, 0.8, 1.0, 1.25)
#: A voxel whose raw value lies beyond the lesion's and the surroundings' medians by more than this
#: many noise sigmas (on any phase) is another tissue (fat, a vessel); it and its face neighbours
#: are left out of the fit, and it is never added to the mask.  3: the conventional outlier bound.
LESION_SHARP_FIT_OUTLIER_K: Final[float] = 3.0
#: The fit runs on blocks of pixels when the box would hold more voxels than this (cost: about
#: 30 ms CPU for 14 000 voxels).  Geometric / cost, not tuned.
LESION_SHARP_FIT_MAX_VOXELS: Final[int] = 20000
#: The fitted border must reproduce the starting mask to this Dice: a sharp border moves by a
#: fraction of a voxel, so a larger change is a misfit (another tissue, a non-star-shaped lesion).
LESION_SHARP_FIT_MIN_AGREEMENT: Final[float] = 0.9
#: 1.52 (:func:`._sharp._shrinks_nested`): a fitted border below LESION_SHARP_FIT_MIN_AGREEMENT is still
#: used when it only takes voxels off the start (step 8's star or step 7's growth that held a small
#: lesion's surroundings): at most this share of the fitted mask may lie outside the start (the fit
#: moves a border that was right by a fraction of a voxel: a few voxels of a small lesion).  Geometric.
LESION_SHARP_FIT_NESTED_SHRINK: Final[float] = 0.02
#: 1.52: ... and it keeps at least this share of the start's plateau (its voxels at the lesion's level
#: on the image smoothed by one voxel, past half the contrast): a fit that collapses onto part of the
#: lesion drops plateau voxels, one that cuts the surroundings off the start keeps them; the
#: smoothed level's own border lies a fraction of a voxel inside a convex lesion's.  Geometric.
LESION_SHARP_FIT_KEEP_START_PLATEAU: Final[float] = 0.85
#: 1.52: the plateau must be at least this share of the start, or the test is not judged (refused):
#: no lesion level to read.  Not tuned.
LESION_SHARP_FIT_PLATEAU_MIN_SHARE: Final[float] = 0.05
#: Only lesions up to this equivalent-sphere diameter (mm) of the starting mask: the midpoint's
#: inward bias is a share of the volume that falls as 1 / diameter^2, and the fit's cost on a 5 cm
#: lesion (30-70 ms on this machine) would break the 0.1 s budget for a gain of 0.005 Dice (perf.md
#: 50 mm lesion at sigma 15: 0.990 -> 0.995; 30 mm 0.982 -> 0.989; 12 mm 0.946 -> 0.957).
LESION_SHARP_FIT_MAX_DIAMETER_MM: Final[float] = 30.0
#: 1.31: step 12b also fits the surface with the ramp of a slice that averages its thickness (a
#: CT slice's sensitivity profile: a sharp surface becomes a ramp |n_z| x slice thickness wide
#: across it, the pixels are point samples) and with point samples on every axis (a grid sampled
#: at the slices' centres), on slices thicker than the pixels; the slice's fit is tried first when
#: it explains the data better than both others by ``LESION_BLUR_MODEL_MIN_EVIDENCE`` (the same
#: quasi-likelihood ratio as step 12's: without it the noise chose between near-equal fits on 10 mm
#: lesions at 25 HU, up to 0.015 worse).  This is the pixels' own ramp in both (kept so that the
#: Gauss-Newton's Jacobian, the ramp's derivative, exists where the surface faces the slices'
#: plane), in the finest working voxel: 0.3, the grid's smallest point-spread.  Geometric, not tuned.
LESION_SHARP_FIT_POINT_RAMP_VOX: Final[float] = 0.3
#: 1.42: step 12b's voxel ramp with the slices' point-spread at the grid's smallest (1.41: slices
#: that average their thickness) only on slices at least this many times the pixels.  On thinner
#: slices a slice's box and a point-spread of about its size blur alike, and the evidence between
#: the voxel ramp and point samples is the noise's: the robustness sweep's 10 mm lesion at 25 HU
#: on 1 x 0.7 x 0.7 mm voxels, sampled at the slices' centres, took the voxel ramp, 0.953 -> 0.927.
#: 1.41's gains are on 3 mm slices of 1.15 mm pixels (2.6) and 5 mm slices of 0.68 mm (7.3).
#: Geometric, not tuned.
LESION_SHARP_FIT_AVERAGED_MIN_SLICE_RATIO: Final[float] = 2.0
#: 1.44: where step 12b's voxel ramp finds the point-spread at the grid's smallest (no midpoint
#: bias: a grid that samples the slices' centres), the surface is fitted with point samples and a
#: roughness prior this many times ``LESION_BLUR_MODEL_SMOOTHING``'s, and serves as the prior of
#: a per-voxel decision (:func:`._sharp._voxel_posterior`): the voxels' own data add the detail
#: where their contrast-to-noise ratio allows, so the surface need carry only the lesion's
#: large-scale shape.  **Tuned** on the study phantom's L9 at sigma 25 and 15 (seeds 0-5, click
#: and line, 24 runs; runs >= 0.95 of 12 at sigma 25: step 10 (d)'s threshold 7; this weight x 1:
#: 9, worst run -0.016 (the surface's degree-4 detail follows the noise), x 10, x 100 and x 1e6 (an
#: ellipsoid): 11, worst -0.001 or better; at sigma 15 12 of 12 with each, worst -0.013 at x 1,
#: -0.004 above); docs/validation.md section 2.2, "Algorithm 1.44".
LESION_SHARP_FIT_POSTERIOR_STIFFNESS: Final[float] = 10.0
#: 1.46: on slices thicker than the pixels, the surface step 12b fits with a slice's ramp (1.31) is
#: refitted with a roughness prior this many times ``LESION_BLUR_MODEL_SMOOTHING``'s and tried first
#: (its voxel centres inside: a voxel at least half inside a box-profile slice), also where 1.44's
#: point samples would decide each voxel and the slice's ramp explains the image at least as well.
#: At 15 HU an end slice's partial voxels move a free surface's cap by a fraction of the slice.
#: **Chosen** on the study phantom with a slice profile, L9 (3 mm slices, 15 HU, seeds 0-1, click and
#: line; Dice of the slice surface's centres inside, refitted from the same start): x 10 (1.44's
#: stiffness) 0.957 / 0.974 / 0.954 / 0.946, x 100 0.961 / 0.965 / 0.966 / 0.947, x 1e4 (about an
#: ellipsoid) 0.961 / 0.965 / 0.970 / 0.958; 100, stiffer than 1.44's and short of an ellipsoid (L1
#: and L3, less regular, take it too).  Over the sweeps x 10 gives 18 / 23 study runs below 0.95 with a
#: profile (seeds 0-1 / 2-3) against x 100's 17 / 21, and the robustness sweep's off-centre clicks 43 below
#: 0.95 against x 100's 44 (1.44: 43); docs/validation.md section 2.2, "Algorithm 1.46".
LESION_SHARP_FIT_SLICE_STIFFNESS: Final[float] = 100.0

#: Step 13 (1.24, on request: ``segment_lesion(..., rind=True)``, :mod:`._rind`): a necrotic core in
#: an enhancing layer, two nested surfaces fitted with the point-spread.  The box around the click the
#: core must stay inside (mm each side): a 5 cm lesion's core and its layer.  Geometric.
LESION_RIND_BOX_MM: Final[float] = 40.0
#: The shell (mm from the core, from and up to) whose histogram mode is the parenchyma's value before
#: the rays (step 1), beyond the core and its layer; its outer bound also bounds the box the core's
#: distances are computed on (its bounding box and this much beyond: the same distances, found on
#: about half the box).  Geometric.
LESION_RIND_SHELL_MM: Final[tuple[float, float]] = (8.0, 20.0)
#: The fit is used on pixels up to this size (mm, the finer in-plane spacing); on coarser ones the
#: automatic steps are.  On the rind sweep's 3 x 2.3 x 2.3 mm grid the fit's one-voxel ramp is wider
#: than a 2-2.5 mm layer, which it fits as a thinner, brighter one (ovals 0.89-0.94, automatic steps
#: 0.97-1.00); on 0.7 mm pixels it reaches 0.990-0.995 (automatic 0.59-0.97).  1.40, the crossover
#: measured (rind sweep on 3 mm slices with a slice profile, 20 ovals and 20 lobulated each, the fit
#: against the automatic steps, better / worse runs and medians): 1.15 mm pixels, ovals 18 / 2 (0.845
#: -> 0.961), lobulated 12 / 8 (0.804 -> 0.813); 1.5 mm, ovals 18 / 2 (0.819 -> 0.954), lobulated
#: 15 / 5 (0.727 -> 0.816); 1.8 mm, ovals 19 / 1 but lobulated 7 / 10 (0.883 -> 0.790).  So 1.5 mm;
#: between 1.5 and 1.8 mm not measured.  Sampled at the slices' centres (kinder than a scanner) the
#: lobulated lose on 1.15-1.5 mm too (0.93 -> 0.80-0.82).  (1.0 until 1.39: the grid
#: where step 9's layer turns "deep", ``_rim._rim_layer_is_deep``; 1.15 mm pixels are not deep and
#: their thin rims spanned two or three of step 9's layers: the study's L4 1.26 x its volume.)
LESION_RIND_MAX_PIXEL_MM: Final[float] = 1.5
#: The start's rays (polar x azimuthal directions), their sample step (mm) and the thickest layer
#: searched (mm).  16 x 32 rays gave the rind sweep's ovals as 24 x 48 did (0.7 mm pixels) in 154
#: instead of 377 ms (docs/validation.md section 2.2, "A probe for the fine-grid rinds"); the step is
#: a fine pixel (1.61; half of one, 0.35 mm, until 1.60: the profiles are blurred by >= 0.6 mm and the edges
#: searched on a 0.25 mm grid of the ramps' table, not on the samples; the rays' CPU 0.56-0.91 x, the rind
#: sweep's fine grid within its gate: docs/validation.md section 2.4, "Algorithm 1.61"); 7 mm covers a viable
#: rind twice the sweep's thickest (3.5 mm).  Geometric.
LESION_RIND_RAYS: Final[tuple[int, int]] = (16, 32)
LESION_RIND_RAY_STEP_MM: Final[float] = 0.7
LESION_RIND_MAX_LAYER_MM: Final[float] = 7.0
#: The blurs (Gaussian sigma, mm, along a surface's normal) the rays' profile is fitted with, and the
#: point-spreads the surfaces' fit picks from by its chi^2: a CT kernel's 0.5-1.5 mm.  Geometric.
LESION_RIND_RAY_BLURS_MM: Final[tuple[float, ...]] = (0.6, 0.8, 1.0, 1.2, 1.5, 2.0)
LESION_RIND_PSF_MM: Final[tuple[float, ...]] = (0.5, 0.75, 1.0, 1.25, 1.5)
#: 2026-12-06: the surfaces' screen (LESION_RIND_PSF_STEPS) fits, with each ramp, only this many point-spreads
#: of LESION_RIND_PSF_MM: those nearest the blur the rays' profiles picked (ties to the wider: on the rind
#: sweep the rays pick 0.8-1.0 mm where the surfaces pick 0.75-1.25 mm), 4 fits instead of 10.  On the rind
#: sweep's fine grid (36 clicks, oval, lobulated and lobulated2) every oval's mask kept its Dice (within
#: 0.0006), the lobulated median 0.9273 -> 0.9278 (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06)").
LESION_RIND_SCREEN_PSFS: Final[int] = 2
#: 2026-12-06: step 13's parenchyma modes (the box's, then the shell's) on every this-many-th value (the
#: pre-check on a dark click already takes every 8th): the box holds ~0.7 M values on 0.7 mm pixels; step 1's
#: four modes ~22 -> ~10 ms; the shell's modes moved by at most 0.35 HU (median 0.003) on the rind sweep's 36 fine-grid clicks.
#: Dimensionless.
LESION_RIND_MODE_SUBSAMPLE: Final[int] = 4
#: 2026-12-06 (second session): step 13's first parenchyma value, the mode of the click's box on every this-many-th
#: value, is the dark-click pre-check's mode itself (before, the pre-check took every 8th value and the first value a
#: second mode on every LESION_RIND_MODE_SUBSAMPLE-th): that value only draws the first core, whose shell's mode
#: (every LESION_RIND_MODE_SUBSAMPLE-th value) replaces it.  Dimensionless.
LESION_RIND_BOX_MODE_SUBSAMPLE: Final[int] = 8
#: 2026-12-06: the rays' table of the normal CDF has a row per ray blur (mm, along the ray) rounded to
#: this relative step (a log grid), not a row per ray: 512 rays share a few tens of rows, and Phi is taken
#: on ~0.1 M values instead of 1.05 M (10-20 ms per blur the rays try).  A 1 % error of a blur moves an
#: edge by far less than the 0.25 mm edge grid.  Dimensionless.
LESION_RIND_RAY_TABLE_STEP: Final[float] = 0.01
#: Gauss-Newton steps of the surfaces' fit (each with step halving; it stops earlier when no
#: coefficient moves by 0.01 mm).  The probe's count; the fits on the sweep end in 5-15.
LESION_RIND_MAX_ITERATIONS: Final[int] = 30
#: 1.55: the surfaces' fit also ends after an accepted step that lowered chi^2 + prior by less than this
#: (chi^2 units, dimensionless: the residuals are in noise sigmas).  The fits' last steps crept on by
#: 0-1 a step (an oval's fit on the pixels took 3-30 steps, most after the first two at < 1); some of
#: that creep is the thin rims' value-against-thickness valley and pays (a 1.5 mm rim at 15 HU, ~1 a step
#: for 30 steps on the pixels: Dice 0.980 -> 0.990).  0.1 because the fits mostly run on 2 x 2-pixel
#: blocks (LESION_RIND_COARSE_MAX_PIXEL_MM), whose chi^2 is about a quarter of the pixels': at 0.5 the
#: blocks' fit left that creep undone (the sweep with a slice profile, 1.5 mm rims at 15 HU: 0.974 ->
#: 0.963; at 0.1: within 0.0022 of 1.54 on every oval), for 0.8-0.9 x the renders of no threshold.
LESION_RIND_MIN_DECREASE_CHI2: Final[float] = 0.1
#: 1.55: on pixels up to LESION_RIND_COARSE_MAX_PIXEL_MM (mm, the finer in-plane spacing) the surfaces' screen
#: and fits run on 2 x 2-pixel blocks (a quarter of the voxels; each point-spread widened by the blocks' average),
#: and the winner is then fitted on the pixels by at most LESION_RIND_FINE_STEPS Gauss-Newton steps from there.
#: The whole step 13 on blocks had cut lobulated rinds to 0.79 (docs/validation.md section 2.4, "Step 13 on a
#: coarser grid"); with the rays on the pixels and these steps, the rind sweep's fine grid (0.7 mm pixels, 36
#: clicks): ovals' worst 0.973 -> 0.979, lobulated median 0.928 -> 0.929, lobulated2 0.930 -> 0.927, the fits
#: 0.45-0.7 x their time on the pixels at the same least gain.  0.8 mm: blocks up to 1.6 mm, well inside the 1.5-2.3 mm pixels where a one-voxel
#: ramp is as wide as a thin layer (LESION_RIND_MAX_PIXEL_MM); 1.15-1.5 mm pixels, not measured coarse, are
#: fitted on the pixels as before.  3 steps: 2 and 6 gave the same ovals and lobulated medians within 0.001.
#: 1.58: one step, not three (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, fourth)"): every click of
#: the sweep took all 3 steps, yet they moved its Dice by at most 0.008 (ovals' worst 0.979 either way, lobulated
#: medians -0.0005 / -0.002); the blocks' surfaces are rendered on the pixels once (the values, the checks, 1.53's
#: score test and correction read that state).
LESION_RIND_COARSE_MAX_PIXEL_MM: Final[float] = 0.8
LESION_RIND_FINE_STEPS: Final[int] = 1
#: The thinnest layer (mm, the median over the directions) the fit accepts.  A dark lesion with no
#: layer, its edge sharper than the model's point-spread and ramp, is fitted with a thin bright
#: "layer" that sharpens the model's edge: 0.3-0.5 mm (+25-80 HU) for an unblurred or 0.5 mm-blurred
#: 25 HU ellipsoid in 70 HU on 0.7 mm pixels, 0.8 mm (+5 HU at 5 HU noise) under a 1 mm blur; the
#: rind sweep's 1.5 mm rims fit at 1.4-1.7 mm (the 512 x 512 study's at 1.4-1.7).  Below one 0.7 mm
#: pixel plus that margin a layer is not resolved from an edge.  Chosen on those fits.
LESION_RIND_MIN_LAYER_MM: Final[float] = 1.0
#: The steps each point-spread of the grid is fitted with before the best two are fitted on (to
#: convergence, where the better wins).  1.43: one, was 4 (the layer's thickness and value settle in
#: the first few, but the screen only has to rank the ten fits: after one step the rind sweep's ovals
#: (sub-sampled slices or not) end on the same fit as after four, 16 lobulated rinds on another, 15 of
#: them as good or better, one -0.004 Dice; 0.6 x the fits' renders; docs/validation.md section 2.4,
#: "Algorithm 1.43").
LESION_RIND_PSF_STEPS: Final[int] = 1
#: The two best of the screen are fitted on side by side, a step each at a time; one whose chi^2 +
#: prior lies this much above the other's (chi^2 units, dimensionless: the fit's residuals are in
#: noise sigmas) is stopped and the other fitted to its end (1.43).  On the rind sweep's 48 fine-grid
#: clicks (trajectories of every fit recorded and replayed) margins of 10-200 give the same Dice
#: against 1.42 (none lower by more than 0.0044) at 0.43-0.48 x the fits' renders; in 9 of the 48
#: (all lobulated) the stopped fit would have overtaken the other after more steps, a coin toss
#: between two fits of a shape neither describes (0.77-0.89 Dice either way).  Chosen at 100: a
#: gap of 100 is 0.5 % of the sweep's ~22 k voxels' chi^2.
LESION_RIND_TRAILING_CHI2: Final[float] = 100.0
#: Step 13's surface fits (one per ramp and point-spread, then the two best fitted on) are independent: they run
#: on up to this many threads (at most the CPUs this process may use).  The same masks bit for bit (each fit's
#: arithmetic is its own; a click already runs with one BLAS thread); on this two-core machine a rind click
#: takes 0.60-0.72 x the time (the rind sweep's 24 fine-grid clicks).  1: one after another.
LESION_RIND_THREADS: Final[int] = 2
#: 1.45: a lobulated lesion's lobes may hold necrotic cores apart from the click's (on the rind sweep's lobulated
#: rinds the four balls' cores part from 2.2 mm of layer; at step 1's level, smoothed, the parted ones lie up to 4.35 mm
#: from the click's core at 2.5-3.5 mm): a dark component that comes within LESION_RIND_LOBE_GAP_MM (mm) of step
#: 1's core, holds at least LESION_RIND_LOBE_MIN_MM3 (mm^3) and is wrapped in the layer joins the core the rays
#: start from.  Wrapped: the median of the image smoothed by 1 mm over the non-dark voxels LESION_RIND_LOBE_SHELL_MM
#: (mm, from, up to) from it lies LESION_MIN_CONTRAST_K_SIGMA smoothed noise sigmas above the parenchyma (the
#: sweep's lobes' cores: +10 to +17 HU, 5-9 sigmas; a dark structure with no layer, at the parenchyma's level or
#: below; the first millimetre is the core's own blurred edge).  Without them the rays start at the click's core
#: and the fit cuts those lobes (volume 0.68-0.92 x the truth, Dice 0.77-0.84).  5 mm: the farthest parted lobe
#: core measured (4.35 mm) and a margin; 10 mm^3 (a ball of 1.3 mm): smaller dark specks in the layer are noise
#: (a 1-voxel one at 6.4 mm at 15 HU); both chosen on seeds 0-1 of the sweep (docs/validation.md section 2.2,
#: "Algorithm 1.45").  Geometric.
LESION_RIND_LOBE_GAP_MM: Final[float] = 5.0
LESION_RIND_LOBE_MIN_MM3: Final[float] = 10.0
LESION_RIND_LOBE_SHELL_MM: Final[tuple[float, float]] = (1.0, 3.0)
#: 1.53 (:mod:`._rind_nodes`): step 13's two surfaces get a correction per direction node (the rays' 16 x 32,
#: bilinear between them) when the degree-4 fit's score test against such offsets gives a z of at least
#: LESION_RIND_NODES_MIN_SCORE_Z: then at most LESION_RIND_NODES_ITERATIONS Gauss-Newton steps on chi^2 +
#: LESION_RIND_NODES_SMOOTHING x the squared differences (mm^2) of neighbouring nodes, + LESION_RIND_NODES_RIDGE x
#: their squares (nodes no voxel reads stay at 0).  The z on the rind sweep's fine grid (0.7 mm pixels, rims
#: 1.5-3.5 mm, seeds 0-1): ovals at 15 HU -3.9 to 1.8 (noise), at 5 HU -1.2 to 21.8; lobulated rinds 15.3 to 497,
#: the held-out second shape 10.7 to 374: 10 lies between the ovals at 15 HU and every lobulated rind.  The
#: membrane's weight, the steps and the ridge are the session of 2026-12-03's (docs/validation.md section 2.2,
#: "Step 13's surfaces corrected on the rays' direction nodes": lambda 0.3 and 1 about equal, 1 the stiffer; 10
#: or 20 steps <= 0.013 more at twice the time).  1.65: LESION_RIND_NODES_ITERATIONS applies where the fit runs
#: on the pixels (pixels over LESION_RIND_COARSE_MAX_PIXEL_MM); on the blocks, LESION_RIND_NODES_BLOCK_ITERATIONS.
LESION_RIND_NODES_MIN_SCORE_Z: Final[float] = 10.0
LESION_RIND_NODES_ITERATIONS: Final[int] = 5
LESION_RIND_NODES_SMOOTHING: Final[float] = 1.0
LESION_RIND_NODES_RIDGE: Final[float] = 1e-3
#: 1.65 (docs/validation.md section 2.4, "Algorithm 1.65"): on the 2 x 2-pixel blocks (LESION_RIND_COARSE_MAX_PIXEL_MM)
#: the two best fits of the screen race on for LESION_RIND_HANDOVER_STEPS rounds (Gauss-Newton steps, dimensionless)
#: and then, when the leader's score test on the blocks (_rind_nodes.misfit_score, a z-score, dimensionless) is at
#: least LESION_RIND_HANDOVER_Z, stop: the shape is one the degree-4 surfaces do not follow (a lobulated rind), and
#: the per-direction correction takes over, fitted on the blocks by at most LESION_RIND_NODES_BLOCK_ITERATIONS
#: Gauss-Newton steps (dimensionless).  Until 1.64 such a fit crept on for 14-31 steps (~3 ms each) and the
#: correction took at most LESION_RIND_NODES_ITERATIONS steps on the pixels.  The rind sweep's fine grid: every
#: lobulated rind's leader is at z >= 40 by then (the ovals' fits end in 4-8 steps; an oval at 5 HU whose blocks' z
#: passed 10 lost 0.013 Dice when stopped there, none at 40); 5 rounds instead of 8 gave a lobulated median
#: 0.0025 lower; 5 / 8 / 12 correction steps on the blocks: lobulated median -0.0025 / +0.003 / +0.005 against 1.64.
#: 1.66 (docs/validation.md section 2.4, "Algorithm 1.66"): 4 rounds and 10 correction steps, the correction's
#: normal matrix factorised every LESION_RIND_NODES_BLOCK_REFRESH-th step (dimensionless; 1: every step, as in 1.65;
#: the steps between solve with the last factor and their own gradient).  The rind sweep's fine grid against 1.65:
#: lobulated median 0.918 -> 0.9185 (mean +0.003), 2 clicks lower (by at most 0.010), ovals unchanged; 8 rounds and
#: 8 steps with a factor every 2nd: median unchanged, every 4th or once: clicks down by 0.03; 4 rounds and 8 steps
#: (every 2nd): median -0.004; 0 or 2 rounds and 10 steps: clicks down by 0.02-0.03.
#: 1.67 (docs/validation.md section 2.4, "Algorithm 1.67"): 3 rounds, and after a handover no Gauss-Newton step on
#: the pixels (LESION_RIND_FINE_STEPS applies to a race that was not handed over).  Judged on the paired
#: differences of the 80 fine-grid lobulated clicks (rind, rind_s23, rind_lob2), not click by click: an equally valid
#: change (the blocks' partition shifted by one pixel) moves single clicks by up to 0.05 (sd 0.014) at a mean of
#: -0.0001.  Against 1.66: mean +0.0008 (sd 0.0067), median +0.0035, worst click -0.020; ovals unchanged; a
#: lobulated click ~0.87-0.90 x 1.66's.
LESION_RIND_HANDOVER_STEPS: Final[int] = 3
LESION_RIND_HANDOVER_Z: Final[float] = 40.0
LESION_RIND_NODES_BLOCK_ITERATIONS: Final[int] = 10
LESION_RIND_NODES_BLOCK_REFRESH: Final[int] = 2

#: Binary opening radius (mm, ball, anisotropy-aware) cutting thin bridges to vessels and to
#: the partial-volume shell along the liver edge.  1.5 mm removes bridges up to ~3 mm wide;
#: structures narrower than 3 mm are below CT's useful resolution for lesion borders.
LESION_OPENING_RADIUS_MM: Final[float] = 1.5

#: Re-estimation rounds of (lesion value, surroundings value, threshold).  Round 1 uses a
#: conservative core; round 2 samples the ring around the real border.  More rounds changed
#: Dice by < 0.002 on the phantoms.
LESION_ITERATIONS: Final[int] = 2

#: 1.39: with a ball as the first region (a drawn line's, or the phases' combination after a click), one round more
#: than ``LESION_ITERATIONS`` when the last round's surroundings value moved away from the lesion's by more than
#: this fraction of the last round's lesion-surroundings contrast: at 0.5 the round before's ring value lay nearer
#: the lesion's value than the surroundings' (past the window's midpoint), that ring lay partly in the lesion, its
#: window was too narrow and the last round's edge band read the lesion's plateau (the node drawn across in its fat
#: plane: ring 10 HU, fat -65; band 69 HU against a click's 47).  Those lines moved it 0.56-0.66 x; 0.25, tried first,
#: also took 5 mm node lines with a slice profile (0.28 x: 0.908 -> 0.523) and a thrombus click (0.27 x).  The
#: midpoint, chosen after that (docs/validation.md section 2.2, "Algorithm 1.39").
LESION_BALL_RING_SHIFT_FRACTION: Final[float] = 0.5

#: With a line drawn across the lesion (length L): ROI half-size = factor * L (+ ring margin).
LESION_LINE_ROI_FACTOR: Final[float] = 0.9

#: With a line: voxels farther than factor * L/2 from the line's midpoint are cut (leak guard).
#: 1.6 allows a lesion whose other axes are 60 % longer than the drawn one.
LESION_LINE_CLAMP_FACTOR: Final[float] = 1.6

#: 1.37: a line's one-phase mask that reaches that clamp and is larger than this many times the ball whose diameter
#: is the drawn line (pi / 6 L^3) has leaked; step 10's nearest-mean classes replace it when they end inside the
#: clamp and cover the line.  A lesion whose longest diameter is L fits in about that ball (the isodiametric
#: inequality; the axial line can be shorter than the 3-D diameter, hence "about").  Measured on the study phantom
#: (sigma 15 seeds 0-3, sigma 25 seeds 0-5, every line): the fu2 node without a liver mask reaches the clamp at
#: 4.1 x the ball; the lines that reach it without leaking (sigma 25: L9 at fu2, an L5 at baseline, whose later
#: steps end inside it) are at 0.53-0.88 x.
LESION_LINE_LEAK_BALL_RATIO: Final[float] = 1.0

#: From the second round on, the lesion value is the median of the smoothed image in the band
#: this wide (mm) inside the mask's border, not of the whole mask: the threshold is the midpoint
#: between the lesion *at its edge* and the surroundings.  For a homogeneous lesion this is the
#: same value; for a tumour with a dark necrotic core and a brighter periphery (3D-IRCADb) it
#: moves the border out to the real edge.  0 = whole-mask median.
LESION_EDGE_BAND_MM: Final[float] = 3.0

#: In-plane spacing (mm) of the lattice on which the ring and edge-band medians are sampled
#: (every 2nd pixel at 0.7 mm): medians move by noise only, the ring / band dilations run 4x faster.
LESION_STATS_SAMPLING_MM: Final[float] = 1.5

#: With a line drawn across the lesion and polarity "auto": when at least this fraction of the
#: line's ball is clearly darker than the surroundings AND at least this fraction clearly
#: brighter (> LESION_MIN_CONTRAST_K_SIGMA smoothed sigmas each way), the lesion is treated as
#: heterogeneous (necrosis + enhancing tissue, lipiodol) and segmented two-sided ("both").
#: 0.15: a viable rim or nodule of a few mm in a 2-4 cm lesion is 15-50 % of its volume.
LESION_HETEROGENEOUS_MIN_FRACTION: Final[float] = 0.15


#: The same heterogeneity test is also run on the drawn line itself (1.4): the smoothed values
#: along its central part, this fraction of its length (the endpoints are the lesion's edges, and
#: their partial-volume samples are neither lesion nor surroundings).  The ball around the line
#: holds parenchyma as well, which dilutes a compact part: the post-TACE phantom lesion's 7 mm
#: lipiodol deposit is ~10 % of the ball but ~40 % of the line (docs/validation.md section 2.2).
LESION_LINE_PROFILE_INNER_FRACTION: Final[float] = 0.8

#: 1.34: a drawn line's first lesion value is the median of the smoothed values along its central part
#: (LESION_LINE_PROFILE_INNER_FRACTION) instead of the inner half of its ball when that lies on the same side of
#: the surroundings and farther from them by more than this many smoothed-noise sigmas.  The ball (radius half
#: the longest diameter; its inner half, a quarter, in mm since 1.42) reaches past a lesion narrower than half
#: its longest diameter, a blurred margin or the partial volume of thick slices, and its median drifts towards
#: the surroundings.  The margin keeps noise from choosing between two near-equal values (0: two sigma-25
#: robustness lines lose 0.016-0.020; 1: at most 0.007).  Not tuned further.
LESION_LINE_VALUE_MARGIN_K: Final[float] = 1.0

#: A line is drawn edge to edge across the lesion, so the lesion covers its central part
#: (LESION_LINE_PROFILE_INNER_FRACTION of its length).  When the mask on the phase chosen by
#: conspicuity covers less than this share of it, a part of the lesion on the line was left out
#: (the phantom's fu2 L2: its viable nodule, 85 HU against the liver's 110 on portal venous,
#: falls outside that phase's one-sided window where it reaches the border; the mask covers
#: 0.45-0.55 of the line), and the other phases are tried in order of conspicuity: the first whose
#: mask covers at least this share is used (segment/lesion.py).  Three quarters: a missed part
#: at least a fifth of the line's length (0.25 x 0.8); on the study phantom (seeds 0-5, L1-L4 and
#: L9 lines) every other chosen-phase mask covers 0.91-1.00 of the line.
LESION_LINE_MIN_COVERAGE: Final[float] = 0.75


#: Heterogeneous-lesion test after a click: the ring (LESION_RING_INNER_MM - LESION_RING_OUTER_MM)
#: around the grown region is compared with the liver parenchyma value (histogram mode, see
#: LESION_PARENCHYMA_SAMPLE_MM).  When at least this fraction of the ring differs from parenchyma
#: by more than LESION_MIN_CONTRAST_K_SIGMA smoothed-noise sigmas, the region is enclosed by a shell
#: of lesion tissue (necrosis around a viable nodule, an enhancing rim, lipiodol), i.e. the click
#: hit only one component of a heterogeneous lesion; the mask then grows to the lesion-parenchyma
#: boundary.  0.5 = "most of the shell": around a homogeneous lesion in parenchyma the ring holds
#: only vessels and partial-volume voxels (measured 1-16 % on the phantoms, docs/validation.md).
LESION_SHELL_NONPARENCHYMA_FRACTION: Final[float] = 0.5

#: 1.50: the scanner's point-spread (Gaussian sigma, in voxels of the grid, every axis) assumed when
#: step 7's test reads the ring around a click's region that may hold the region's *own* blurred
#: edge (:func:`._expand._own_tail_fraction`).  Step 6 stops a bright lesion's region inside its
#: partial-volume edge (the window of a noise-free or high-contrast lesion is narrow), so the ring
#: 2-6 mm beyond it still holds the edge's blurred tail: on the robustness sweep's noise-free 40 mm
#: lesions at 110 / 250 HU the test fired, the growth was rejected ("not enclosed") and step 8's
#: star took 1.9-2.3 x the lesion (Dice 0.61-0.70).  When the ring is parenchyma once the region and
#: its edge (the voxels beyond the half level within the ring's inner distance), blurred by this
#: point-spread and the smoothing, are allowed, the test is taken back.  0.8 voxel: a CT's
#: in-plane point-spread is 0.5-1 pixel (the sweep's phantoms blur 0.6); a wider allowance only
#: explains more of a real ring (docs/validation.md section 2.1, "Algorithm 1.50").
LESION_HETEROGENEOUS_TAIL_PSF_VOX: Final[float] = 0.8

#: 1.50: the share of the lesion-parenchyma step by which a ring voxel may depart from the modelled
#: own edge (LESION_HETEROGENEOUS_TAIL_PSF_VOX) and still count as explained: the model places the
#: edge to the voxel, and on 5 mm slices a slice's partial volume leaves the ring 2-8 HU (of a 190 HU
#: step) off the model (the noise-free 40 mm 250 HU lesion there: 0.70 of the ring off by more than
#: the 1 HU noise tolerance, 0.17 off by more than 5 % of the step; 0.612 -> 0.862).  An enclosing
#: tissue of its own (necrosis around a nodule) departs by its whole contrast.
LESION_HETEROGENEOUS_TAIL_MODEL_ERROR: Final[float] = 0.05

#: Largest number of outward growth rounds for a heterogeneous lesion (each round re-tests the
#: shell; the growth is accepted only when the final shell is parenchyma, i.e. the lesion is
#: enclosed).  A lesion with three nested components (nodule, necrosis, rim) needs two.
LESION_EXPANSION_ROUNDS: Final[int] = 3

#: The parenchyma value for the heterogeneous test is the histogram mode of the smoothed image
#: (inside the liver mask when one is given) within this distance (mm) of the region's border,
#: outside it: near enough to be the lesion's own parenchyma, large enough (a 2-3 cm shell) that
#: parenchyma, not a thin ring of lesion tissue, is the most frequent value.  (1.7: also the
#: shell in which a faint lesion's tissue classes are sought, step 10, for the same reason.)
LESION_PARENCHYMA_SAMPLE_MM: Final[float] = 25.0

#: Leak clamp of the heterogeneous growth: the rest of the lesion must lie within this distance
#: (mm) of the clicked part; a growth that reaches it is rejected as not enclosed (a leak along
#: vessels or darker parenchyma) and the clicked region is kept.  25 mm: a click anywhere in an HCC
#: up to ~5 cm across reaches its far side (the phantoms' necrotic / post-TACE lesions need
#: 16-18 mm from the clicked nodule); larger lesions are better drawn with a line.
LESION_EXPANSION_MAX_MM: Final[float] = 25.0

#: Step 7 (1.19): the clicked region is connected to the lesion tissue around it through a band of
#: this width (mm) around the region, for the connectivity only (the band's voxels join the mask
#: only when enclosed, by the hole filling).  Where two lesion tissues meet (a nodule at 116 HU on
#: arterial in necrosis at 30), the blurred step passes through the parenchyma's values (49-93 HU):
#: on 0.68 mm pixels at 5 HU noise that band (~1.7 mm: the scanner's and step 2's blur) is a clean
#: shell of "parenchyma" that cut the necrosis off the nodule; the growth was rejected and step 8's
#: rays leaked (the 512 x 512 study's fu1 L2, Dice 0.674, twice the lesion).  Noise bridged it at
#: 15 HU; on 2.3 mm pixels the band lies inside one voxel.
LESION_EXPANSION_BRIDGE_MM: Final[float] = 2.0
#: Step 7, once its growth is accepted (1.21): measure each side's level again on the tissue the
#: growth took (half its median deviation from the parenchyma, when larger than the ring's) and grow
#: the click's region once more with it.  The ring 2-6 mm beyond the click's region holds a layer's
#: blurred outer part and tail rather than its plateau (a necrotic lesion's 2.5-3.5 mm enhancing
#: rind: on 0.7 mm pixels the growth was 1.2-1.6 times the lesion).  The half-way level of every
#: step-7 border; a switch, not a tuned value.
LESION_EXPANSION_RELEVEL: Final[bool] = True

#: Fat is never lesion tissue for the heterogeneous growth (step 7; algorithm 1.10, CT only):
#: smoothed values at or below this (HU) neither count as "non-parenchyma" in its ring test nor
#: join the grown region.  -30 HU is the upper bound of adipose tissue on CT in body-composition
#: analysis (-190 to -30 HU; Mitsiopoulos et al., J Appl Physiol 1998; the Alberta protocol);
#: necrosis (10-40 HU), bile and ascites (0-20 HU) lie well above it.  Without it, a lymph node
#: in the porta hepatis's fat, with soft tissue a few mm beyond (the usual anatomy), looked like
#: a nodule enclosed by dark lesion tissue and grew into its fat halo (docs/validation.md §2.2,
#: "Lesions in fat").  Not used on MR (no calibrated scale) or on the phases' combination.
LESION_FAT_MAX_HU: Final[float] = -30.0

#: Floor (HU, CT only) of the raw noise sigma that the k-sigma tests of steps 4-10 are read
#: against (1.13).  A noise-free or heavily denoised CT (a synthetic image, a phantom rendered
#: without noise) estimates its noise at 0-0.5 HU; every partial-volume voxel at a lesion's edge
#: then differed from the parenchyma by "many sigmas", step 7 fired on a homogeneous lesion and
#: step 8's rays replaced the mask (the perf.md 30 mm lesion at 0-0.5 HU noise: Dice 0.64-0.69, the
#: 12 mm one 0.19-0.21, masks 2-10x the lesion).  2 HU is below any clinical CT's noise in soft
#: tissue (about 5-25 HU; deep-learning reconstructions 3-8 HU), so a real scan is never floored;
#: 1 HU still let 12 mm lesions through at 0.87-0.91.
LESION_MIN_NOISE_HU: Final[float] = 2.0

#: The same floor on MR and other modalities without a calibrated scale, as a fraction of the
#: region of interest's median absolute value (1.13).  An MR's noise is rarely below 1-2 % of the
#: tissue signal; 0.5 % floors only a noise-free or denoised image (the perf.md lesions as MR
#: values 1024 above HU, noise-free: Dice 0.21 / 0.64 without it).
LESION_MIN_NOISE_FRACTION: Final[float] = 0.005

# ---- star-shaped (radial) refinement of heterogeneous lesions (segment/_radial.py) -------
#: Used when the heterogeneous test fires after a click but the growth to the border is rejected
#: (not enclosed: real parenchyma is textured, docs/validation.md section 2.3).
#: Rays: polar steps over 0-180 deg (twice as many azimuth steps): 24 -> 7.5 deg cells, 1152 rays;
#: at 40 mm from the seed neighbouring rays are 5 mm apart, about one ring width.
LESION_RADIAL_POLAR_STEPS: Final[int] = 24
#: Sampling step along a ray (mm): below the in-plane voxel size of abdominal CT (0.6-0.9 mm).
LESION_RADIAL_STEP_MM: Final[float] = 0.5
#: Smoothing (Gaussian sigma, mm) of the image the rays read: real parenchyma texture (vessels
#: of 1-3 mm) must not stop a ray; 1.5 x the lesion smoothing.
LESION_RADIAL_SMOOTHING_MM: Final[float] = 1.5
#: A ray sample is parenchyma-like within this many peak sigmas of the parenchyma value (peak
#: sigma = HWHM / 1.1774 of the parenchyma histogram peak: texture + noise).  1.5 sigma holds
#: 87 % of parenchyma samples; 2.0 (95 %) also accepts the 80-90 HU border tissue of the IRCAD
#: tumours against 105 HU parenchyma as parenchyma (docs/validation.md section 2.3 lists the
#: values tried and their IRCAD Dice: this choice was NOT blind to that case).
LESION_RADIAL_PARENCHYMA_K_SIGMA: Final[float] = 1.5
#: The border on a ray is the start of the first run of parenchyma-like samples this long (mm):
#: longer than a smoothed noise / texture blob (about 2-3 mm at 1.5 mm smoothing), short
#: against a lesion radius.
LESION_RADIAL_RUN_MM: Final[float] = 5.0
#: Shape prior: the border radius map is median-filtered over this arc (deg) in polar and
#: azimuth angle (5 x 5 cells of 7.5 deg): a ray stopped by a parenchyma-like patch inside the
#: tumour or run along a vessel (a minority of its neighbours) is outvoted.
LESION_RADIAL_MEDIAN_DEG: Final[float] = 37.5
#: When more than this fraction of the rays never meets parenchyma within reach, the lesion is
#: not enclosed by parenchyma (a leak) and the clicked region is kept.
LESION_RADIAL_MAX_OPEN_FRACTION: Final[float] = 0.25
#: Rays reach the clicked region's farthest voxel plus LESION_EXPANSION_MAX_MM, at most this (mm):
#: HCC up to 10 cm across from a click near its centre.
LESION_RADIAL_MAX_REACH_MM: Final[float] = 60.0
#: A ray that the liver mask ends before the image does, where the tissue beyond the mask is
#: darker (fat, lung, air), ends at the raw image's edge: where the values fall below the half-way
#: level between their values this far (mm) before and after the mask's border, at most this far
#: beyond it.  A classical liver mask lies a median 1.5 mm inside a liver-fat edge
#: (docs/validation.md section 5), and the partial-volume ramp of a ~1 mm CT blur spans about
#: +-2 mm.  On the synthetic capsule scenes of test_segment_shape_rim.py (mask 2 mm inside a
#: fat edge / exact mask before a 4 mm diaphragm and the lung), 1.5 / 2 / 3 / 4 mm give Dice
#: 0.950 / 0.956 / 0.966 / 0.973 (0.943 without the step) / 0.976 / 0.972 / 0.953 / 0.942 (0.976):
#: beyond 2 mm the diaphragm is taken.  IRCAD17 was measured at the same values (our liver,
#: tumour 1: 0.844 / 0.849 / 0.862 / 0.872), so the choice was NOT blind to it
#: (docs/validation.md section 2.3).
LESION_RADIAL_EDGE_MM: Final[float] = 2.0
#: The raw values on a ray are averaged over this length (mm) for that edge: about one in-plane
#: voxel, against the raw noise (0.5 / 1 / 2 mm gave the same IRCAD figures within 0.002).
LESION_RADIAL_EDGE_AVERAGE_MM: Final[float] = 1.0
#: Step 2c (1.56): a ray that the liver mask ends inside tissue that still reads as the lesion's
#: goes on to the edge of a darker tissue (fat, fluid, a lumen, the lung) found at most this far
#: (mm) beyond the mask.  The liver method's bridge scale, 2 x LIVER_EROSION_RADIUS_MM: its tumour
#: pieces are cut from another organ's soft tissue where a bridge thicker than that joins them, so
#: a tumour's part beyond the liver mask is up to about that thick.  NOT chosen blind to IRCAD17
#: (our liver, tumour 2: 4 / 6 / 8 / 12 / 16 mm gave 0.843 / 0.846 / 0.849 / 0.856 / 0.857 with
#: an earlier, looser guard; with the adopted one 8 / 12 mm 0.850 / 0.858; docs/validation.md
#: section 2.3, "Step 2c").
LESION_RADIAL_EXOPHYTIC_MM: Final[float] = 12.0
# ---- end of the radial block ---------------------------------------------------------------

# ---- thin enhancing rim around a hypodense lesion (lesion.py step 9) -------------------------
#: After a click on a hypodense zone (ablation / TACE necrosis), the shell just outside the mask,
#: max(REACTIVE_RIM_MAX_THICKNESS_MM, one voxel) thick, is tested for a thin enhancing rim on
#: every phase sharing the grid, on raw values: the shell's mean must exceed the surroundings
#: (median of the 2-6 mm ring) by LESION_MIN_CONTRAST_K_SIGMA standard errors, AND the shell's
#: mean must exceed it in at least this fraction of the shell's octants around the mask's
#: centroid (those holding LESION_RIM_OCTANT_MIN_VOXELS or more): a rim is brighter all round,
#: a vessel or viable nodule along one side only where it lies.  Study phantom seeds 0-1
#: (algorithm 1.9, docs/validation.md section 2.2): the 1.5 mm rims of L4 / fu1-fu2 L1 give 7-8
#: of 8 octants at 5, 15 and 25 HU noise; the shells that must not pass (L2's viable nodule
#: touching its necrosis, fu2) 4-5 of 8, the perf.md phantom's hypodense lesions (vessel or
#: liver edge touching, 12 mm) 0-2; 6 of 8 lies between.
LESION_RIM_MIN_OCTANT_FRACTION: Final[float] = 0.75
#: 1.68: step 9's shell must also lie this many raw noise sigmas above the ring's median, not only
#: ``min_contrast_k_sigma`` standard errors (sigma_raw / sqrt(n)): on fine grids the shell holds tens of
#: thousands of voxels, and the gap between its mean and a median of whole HU (up to 0.5 HU, 0.03 sigma
#: at 15 HU, and the parenchyma's own mean-median gap) then passes as a rim.  A plain hypodense 24 mm
#: ball at sigma 15 on 0.5-0.7 mm voxels got a rim 0.02-0.04 sigma bright added (its mask 1.3 x the
#: ball, Dice 0.86); the faintest real rims of the corpus (the study phantom's L4 / L1 at sigma 5-25,
#: the rind sweep's on the study grid) lie 0.27-0.5 sigma above (docs/validation.md section 2.2,
#: "Algorithm 1.68").
LESION_RIM_MIN_EFFECT_SIGMA: Final[float] = 0.1
#: An octant of the shell with fewer voxels is not counted (its mean is noise).
LESION_RIM_OCTANT_MIN_VOXELS: Final[int] = 3
#: Fewest shell / ring voxels for that test (a median of fewer is noise).
LESION_RIM_MIN_VOXELS: Final[int] = 20
#: EM iterations of the rim layer's two-class mixture (parenchyma fixed, lesion border estimated;
#: segment/_rim.py _rim_layer_voxels).  Two well-separated Gaussian classes converge in a few steps;
#: 10 is a safe count for a few hundred to a few thousand voxels (cost: microseconds each).
LESION_RIM_EM_ITERATIONS: Final[int] = 10
#: Degree of the direction harmonics in the rim layer's spatial prior (i26; _rim.py
#: _rim_layer_voxels): the prior log-odds of "lesion" is a logistic function of a layer voxel's
#: direction from the mask's centroid (real harmonics up to this degree) and of its distance, so
#: its 1/2 level is a closed surface r = f(direction).  2 (9 direction terms) is an oval surface
#: of any orientation: the "thin regular rim" of an ablation zone (mRECIST).  It cannot follow
#: lobulation; the phantom's rim lesions are ellipsoids, which this fits.  Study phantom at
#: 25 HU noise, seeds 0-1, the 20 rim runs (docs/validation.md, "i26"): degree 0 / 1 / 2 gave
#: min Dice 0.940 / 0.926 / 0.964 (18 / 17 / 20 of 20 >= 0.95); degree 3 / 4 (all monomials,
#: an offline version with a fixed necrosis share) 0.954 / 0.952 against 0.964 for 2 there.
LESION_RIM_SURFACE_DEGREE: Final[int] = 2
#: Ridge (log-odds^-2) on the direction terms of that logistic fit, except the constant: keeps
#: the fit finite when the layer's classes are separable (5 HU noise).  Numerical only: 1e-4 and
#: 1e-3 gave the same figures within 0.005 Dice (seeds 0-1, 25 HU); 1e-2 lost 0.01.
LESION_RIM_SURFACE_RIDGE: Final[float] = 1e-3
#: Newton steps at most for that fit (convex, 10 unknowns).  Study phantom rim runs, seeds 0-1:
#: at most 10 / 14 / 15 steps at 25 / 15 / 5 HU noise (nearly separable classes take longest);
#: 25 is a safe cap.  Numerical only.
LESION_RIM_SURFACE_NEWTON_STEPS: Final[int] = 25
#: That spatial prior is used only when the rim layer is one voxel deep: the shell's reach,
#: max(REACTIVE_RIM_MAX_THICKNESS_MM, finest spacing), below this many finest voxels (study grid
#: 2.3 mm: 1 voxel; the 512 x 512 study, 0.68 mm: 2.9).  In a deeper layer the rim-parenchyma
#: transition lies inside it, and the fitted surface settles inside the lesion (512 study L4
#: click, the layer's band 1.6-2 mm from the core: 81 % truth, the per-voxel mixture takes 77 %,
#: with the surface 14 %; Dice 0.971 / 0.976 -> 0.925 / 0.944, click / line).  Geometric, not tuned.
LESION_RIM_SURFACE_MAX_DEPTH_VOXELS: Final[float] = 2.0
#: Step 9 repeated (algorithm 1.20, _rim.py ``_add_enhancing_layers``): a necrotic lesion's
#: enhancing layer can be thicker than the rim layer one pass of step 9 adds (a treated HCC's or a
#: necrotic tumour's rind of 2.5-3.5 mm: one pass left 0.55-0.95 Dice on the study grid,
#: ``benchmarks/sweep_segment_rind.py``).  The step runs again from its own mask, at most this
#: many more times, while it fires and the layer it adds passes LESION_RIM_LAYER_LEVEL: up to
#: four layers, 9 mm of rind on the study grid (2.3 mm voxels).  Only where the layer is one voxel
#: deep (LESION_RIM_SURFACE_MAX_DEPTH_VOXELS): on finer grids a thin rim's blurred tail passed the
#: level (512 x 512 study at 5 HU: L4's lines 0.95 -> 0.86).
LESION_RIM_MAX_EXTRA_LAYERS: Final[int] = 3
#: A further layer joins only when its mean raw value on the rim's phase lies at least this
#: fraction of the way from the parenchyma (the median of the ring around the grown mask) to the
#: first layer's upper values (their LESION_RIM_LAYER_REFERENCE_PERCENTILE): the half-way level,
#: as for every border here.  A thin rim's blurred tail lies below it (rind sweep, 3 x 2.3 x 2.3
#: mm grid at 5 HU: the next layer +6 / +9 HU above the parenchyma, the first layer's mean +34),
#: a rind's next layer above it.
LESION_RIM_LAYER_LEVEL: Final[float] = 0.5
#: The first layer's reference value is this percentile of its raw values, not their mean: on
#: fine grids that layer mixes the rim with the necrosis next to it (0.7 mm pixels: its mean lay
#: +12 HU above the parenchyma for a +45 HU rim, so half of it, +6, fell below the rim's blurred
#: tail, +10, which then joined).
LESION_RIM_LAYER_REFERENCE_PERCENTILE: Final[float] = 90.0
#: 1.48 (step 9 on slices that average their thickness, _rim.py ``_rim_slice_surface``): the rimmed
#: lesion's outer surface is fitted with two nested surfaces, the rim's inner edge this far (mm) inside
#: the outer one; each thickness is fitted, then the vertex of the parabola through the least chi^2
#: and its neighbours, and the least chi^2 kept (a layer thinner than the point-spread trades its
#: value against its thickness, so neither is fixed; the outer surface moves by about half the
#: thickness' error).  A grid, mm.
LESION_RIM_FIT_THICKNESS_MM: Final[tuple[float, ...]] = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
#: 1.48: the point-spreads (voxels, per axis group: the slices, the pixels) tried by that fit, picked
#: by chi^2 on the starting and on the fitted surface (a scanner's ~1 mm is 0.3-0.45 of a 2.3-3 mm voxel).
LESION_RIM_FIT_PSF_VOX: Final[tuple[float, ...]] = (0.3, 0.45, 0.6)
__all__ += [
    "LESION_RADIAL_POLAR_STEPS", "LESION_RADIAL_STEP_MM", "LESION_RADIAL_SMOOTHING_MM",
    "LESION_RADIAL_PARENCHYMA_K_SIGMA", "LESION_RADIAL_RUN_MM", "LESION_RADIAL_MEDIAN_DEG",
    "LESION_RADIAL_MAX_OPEN_FRACTION", "LESION_RADIAL_MAX_REACH_MM", "LESION_RADIAL_EDGE_MM",
    "LESION_RADIAL_EDGE_AVERAGE_MM", "LESION_RADIAL_EXOPHYTIC_MM", "LESION_RIM_MIN_OCTANT_FRACTION", "LESION_RIM_MIN_EFFECT_SIGMA",
    "LESION_RIM_OCTANT_MIN_VOXELS",
    "LESION_RIM_MIN_VOXELS", "LESION_RIM_EM_ITERATIONS", "LESION_RIM_SURFACE_DEGREE", "LESION_RIM_SURFACE_RIDGE",
    "LESION_RIM_SURFACE_MAX_DEPTH_VOXELS", "LESION_RIM_SURFACE_NEWTON_STEPS", "LESION_RIM_MAX_EXTRA_LAYERS",
    "LESION_RIM_LAYER_LEVEL", "LESION_RIM_LAYER_REFERENCE_PERCENTILE", "LESION_RIM_FIT_THICKNESS_MM",
    "LESION_RIM_FIT_PSF_VOX",
]


# ---- filling defect in a contrast-filled vessel (lesion.py step 11, segment/_vessel.py) ------
#: Gaussian sigma (mm) of the image on which blood / defect are told apart: the noise (15 HU) vs
#: the blood-thrombus contrast (90 HU on the portal venous phase) needs little smoothing, and a
#: symmetric blur keeps the half-maximum edge in place.  1 mm = the phantom's PSF, <1 voxel.
VESSEL_SMOOTHING_MM: Final[float] = 1.0
#: Shell (mm) outside the mask where blood and wall tissue are sampled: one slice (3 mm) so
#: the caps' blood is in it.
VESSEL_SHELL_MM: Final[float] = 3.0
#: Percentiles of the shell's smoothed values taken as blood and as the wall's tissue.  The
#: caps' blood is a small part of a long thrombus' shell (phantom: 2 x 154 mm2 caps vs a
#: 2 pi 7 x 22 mm wall, 1/4; a 30 mm thrombus ~1/6): blood = the 98th percentile; the wall
#: tissue = the 25th (the liver holds at least half of an occlusive or mural thrombus' shell).
VESSEL_BLOOD_PERCENTILE: Final[float] = 98.0
VESSEL_WALL_PERCENTILE: Final[float] = 25.0
#: Blood must exceed both the defect and the wall tissue by this many raw-noise sigmas (the
#: defect's robust sigma) before a vessel is considered; the same k as a lesion's minimum
#: contrast order (3 sigma: a false positive in ~1/1000 noise draws).
VESSEL_MIN_CONTRAST_K_SIGMA: Final[float] = 3.0
#: Search margin (mm) around the mask for the patent segments: cap gap + segment + radius.
VESSEL_SEARCH_MM: Final[float] = 30.0
#: Gap (mm) between the defect's end and a patent segment (the caps' partial volume: one
#: 3 mm slice).
VESSEL_CAP_GAP_MM: Final[float] = 3.0
#: Length (mm) of each patent segment used for axis and radius (about one vein diameter, so
#: the centreline may bend gently over it).
VESSEL_SEGMENT_MM: Final[float] = 12.0
#: Shortest patent segment (mm) accepted on each side (more than one in-plane voxel).
VESSEL_MIN_SEGMENT_MM: Final[float] = 4.0
#: A quadratic centreline (gentle curvature) is used when it departs from the straight line
#: through the patent segments by more than this (mm) between them: one half of a 2.3 mm voxel.
#: On the study phantom's straight vein the quadratic departs by 0.05-0.83 mm (centroid noise);
#: on the curved test vessels (tests/segment/test_vessel.py, 60 and 80 mm bends) by 4.9-5.7 mm.
VESSEL_MIN_BEND_MM: Final[float] = 1.2
#: Lumen radius range (mm): the normal main portal vein is <= 13 mm across and a tumour thrombus
#: distends it to ~20-24 mm; below 2.5 mm (5 mm across, two voxels) a lumen is not measured.
VESSEL_MIN_RADIUS_MM: Final[float] = 2.5
VESSEL_MAX_RADIUS_MM: Final[float] = 12.0
#: The two patent segments' radii must agree within this fraction of their mean (a branch or
#: another vessel in a segment inflates its radius; vessels taper slowly).
VESSEL_RADIUS_TOLERANCE: Final[float] = 0.3
#: The lumen's radius in each patent segment (1.12) is the edge of an error-function profile
#: fitted by least squares to the smoothed values against the distance from the centreline (blood
#: and tissue levels fixed at the medians of the segment's core and its outer ring): radii within
#: this distance (mm) of the first estimate, every VESSEL_PROFILE_STEP_MM, and the edge's widths
#: (Gaussian sigma, mm) below, best pair; plus w^2 / (2 r), the blurred disc's half-level shift.  A
#: count of the voxels above the half-maximum (1.7-1.11) is biased outward by noise (the ring
#: outside the edge has more area than the one inside it): 7.2-7.8 mm for the phantom's 7.0 mm
#: vein at 25 HU noise.  Geometric, not tuned.
VESSEL_PROFILE_SEARCH_MM: Final[float] = 2.0
VESSEL_PROFILE_STEP_MM: Final[float] = 0.05
VESSEL_PROFILE_WIDTHS_MM: Final[tuple[float, ...]] = (0.75, 1.0, 1.5, 2.0, 2.5)
#: The lumen's defect replaces the mask only when their Dice is at least this: the tube prior
#: refines a border the voxel classification already found, it does not find another object.
#: 1.32: or when at least this share of the mask lies inside the defect and the defect is at most
#: LESION_BLUR_MODEL_MAX_GROWTH times the mask (the classification kept the thrombus' core).
VESSEL_MIN_AGREEMENT: Final[float] = 0.85
#: Fewest mask voxels for the test (a few voxels have no axis).
VESSEL_MIN_DEFECT_VOXELS: Final[int] = 20
__all__ += [
    "VESSEL_SMOOTHING_MM", "VESSEL_SHELL_MM", "VESSEL_BLOOD_PERCENTILE", "VESSEL_WALL_PERCENTILE",
    "VESSEL_MIN_CONTRAST_K_SIGMA",
    "VESSEL_SEARCH_MM", "VESSEL_CAP_GAP_MM", "VESSEL_SEGMENT_MM", "VESSEL_MIN_SEGMENT_MM", "VESSEL_MIN_BEND_MM",
    "VESSEL_MIN_RADIUS_MM", "VESSEL_MAX_RADIUS_MM", "VESSEL_RADIUS_TOLERANCE", "VESSEL_MIN_AGREEMENT",
    "VESSEL_MIN_DEFECT_VOXELS", "VESSEL_PROFILE_SEARCH_MM", "VESSEL_PROFILE_STEP_MM", "VESSEL_PROFILE_WIDTHS_MM",
]

# ------------------------------------------------------------------------------- liver
#: Initial HU search range of liver parenchyma per phase (CT).  The liver value is then the
#: histogram mode inside this range in the body, and the window is mode +/- LIVER_HALF_WIDTH_HU.
#: Ranges follow typical enhancement curves: unenhanced 40-70 HU; late arterial 60-110 HU;
#: portal venous 90-150 HU (Bae KT, Radiology 2010;256:32-61, and routine liver protocols).
LIVER_WINDOW_HU_BY_PHASE: Final = MappingProxyType(
    {
        "pre_contrast": (35.0, 80.0),
        "arterial_early": (45.0, 110.0),
        "arterial_late": (55.0, 130.0),
        "arterial": (55.0, 130.0),
        "portal_venous": (80.0, 170.0),
        "delayed": (70.0, 150.0),
        "transitional": (70.0, 150.0),
        "hepatobiliary": (70.0, 170.0),
        "unknown": (40.0, 170.0),
    }
)

#: The classical liver method works on a grid this coarse (mm, slice/row/col); the mask is
#: mapped back to the image grid at the end.  2 mm keeps a 512 x 512 x 120 CT under ~3 Mvoxel.
LIVER_WORK_SPACING_MM: Final[tuple[float, float, float]] = (2.0, 2.0, 2.0)

#: Gaussian smoothing of the liver working image (mm).
LIVER_SMOOTHING_SIGMA_MM: Final[float] = 1.5

#: Half-width of the parenchyma window around the liver mode (HU).  Parenchyma SD on smoothed
#: CT is ~10-15 HU; +/-45 HU keeps > 99 % of it and rejects fat, bowel gas and dense contrast.
LIVER_HALF_WIDTH_HU: Final[float] = 45.0

#: Window split at a neighbouring tissue's histogram peak.  The window (liver value +/-
#: LIVER_HALF_WIDTH_HU) must not hold the bulk of another tissue that touches the liver over a
#: broad surface: the erosion cuts narrow bridges only, so such a tissue merges with the liver.
#: In the histogram of the body's right half (the one whose mode is the liver value), a local
#: peak inside the window, on either side of the liver peak, is such a tissue when it is at least
#: this share of the liver peak's height (bulky: a tissue, not a vessel; the make_study abdominal
#: soft tissue is 1.0-1.3 x, the vessel peaks of make_study and of the capsule phantom 0.03-0.05 x,
#: measured on the smoothed working image, docs/validation.md section 5) ...
LIVER_NEIGHBOUR_PEAK_MIN_RATIO: Final[float] = 0.25

#: ... and when the histogram between the two peaks dips to at most this share of that peak's
#: height (the two tissues are resolved: two equal Gaussians of the same SD dip below half their
#: height at the midpoint only when their means are more than 3.3 SD apart).  The window's
#: bound on that side then moves in (LIVER_NEIGHBOUR_EXCLUDE_K_SIGMA).  make_study: peak at 71 HU
#: (soft tissue) vs liver 109 HU, dip at 88-89 HU with 0.07-0.15 of the peak's height.
#: Without this, the make_study soft tissue (70 HU, inside 109 +/- 45) was kept out of the liver
#: only by image noise breaking its eroded core: at 0.7 mm pixels (block-averaged 3 x 3 to the
#: working grid) the noise is too low for that, the liver merged with the abdomen and a 17-voxel
#: speck was returned (Dice 0.004).
LIVER_NEIGHBOUR_VALLEY_MAX_RATIO: Final[float] = 0.5

#: ... and that bound is the neighbour's peak + this many of its SDs (SD = half width at half
#: maximum of its far side / 1.1774, on the 4 HU-smoothed histogram), but not past the dip.  The
#: window need not hold out all of the neighbour: the erosion keeps a voxel only when its whole
#: LIVER_EROSION_RADIUS_MM ball is in the window, which fails in a tissue of which 16 % (above
#: 1 SD) is inside.  Every HU the bound rises costs liver at its edges against fat and fluid
#: (partial volume) and at tumours darker than parenchyma.  NOT chosen blind: the dip itself
#: (88-89 HU on make_study, 2.3 mm and 1.37 mm grids) and 2 SD (88 / 85 HU) left the thin
#: parenchyma lateral to make_study L3 out, its hole opened and 33-63 % of L3 and 17-33 % of
#: L2 were lost (L3's seed point outside the mask); 1 SD (79.5 / 77.8 HU) keeps all lesions (docs/validation.md section 5).  Not
#: looked at on IRCAD17 or the capsule phantom, where no peak triggers the rule.
LIVER_NEIGHBOUR_EXCLUDE_K_SIGMA: Final[float] = 1.0

#: Body = largest connected region above this HU (air is -1000, lung ~-850, fat ~-100).
LIVER_BODY_MIN_HU: Final[float] = -300.0

#: Erosion radius (mm) that separates the liver from touching organs of similar density
#: (heart, stomach wall, right kidney, spleen) before keeping the liver component; the same
#: radius dilates it back (conditional dilation inside the window).
LIVER_EROSION_RADIUS_MM: Final[float] = 6.0

#: Without a seed, the liver is the largest eroded component on the patient's right.  When that
#: pick holds less than this fraction of the largest component's voxels (which was skipped for
#: lying across or left of the body's centre), the liver has most likely merged with a
#: neighbour of its density (e.g. abdominal wall / soft tissue on a fine grid: the make_study
#: 512^2 study gave a 17-voxel pick against a 746k-voxel merged blob before the window's
#: neighbour-peak rule) and the pick is a speck: refuse rather than return it.  A real liver is
#: the largest organ on the right; on IRCAD17 and make_study the pick IS the largest component
#: (ratio 1), so any small fraction separates the two situations; 0.05 leaves room for a right
#: kidney-sized pick next to a huge merged blob still being refused.
LIVER_MIN_PICK_RATIO: Final[float] = 0.05

#: Closing radius (mm) that brings vessels and lesions inside the liver outline into the mask
#: (expert liver masks, e.g. 3D-IRCADb, include tumours and intrahepatic vessels).
LIVER_CLOSING_RADIUS_MM: Final[float] = 8.0

#: Tumour inclusion (``LiverParams.include_tumours``): soft tissue outside the liver mask from
#: this value up to the top of the liver window is a candidate piece of tumour.  -30 HU is the
#: upper end of the adipose range used in CT body composition (-190 to -30 HU; e.g.
#: Mitsiopoulos et al., J Appl Physiol 1998;85:115-22): fat, lung and air are below it, while
#: necrosis and fluid (0-20 HU) and viable tumour are above it.
LIVER_TUMOUR_MIN_HU: Final[float] = -30.0

#: Edge refinement at dark tissue (``LiverParams.refine_dark_edges``, step 6 of segment/liver.py).
#: Expert masks and the phantoms' truth put the liver's surface at the 50 % partial-volume level,
#: half-way between the liver and the tissue next to it; the window's lower bound (liver - 45 HU)
#: lies well above that level where the neighbour is fat, fluid or lung, so the window's border
#: sits inside the surface there.  Near such tissue the working-grid mask fraction becomes the
#: liver fraction (v - D) / (L - D) of the lightly smoothed image v, with L the liver value and D
#: the local dark value, so that the linear resampling's 0.5 level is the half-maximum surface.
#: Light smoothing (mm) of the block-averaged working image for v (the window's 1.5 mm smoothing
#: mixes a thin layer, e.g. the diaphragm, with the lung behind it).  Capsule phantom, seeds 0-2:
#: 0 / 0.25 / 0.5 mm give the same Dice (0.9818 seed 0), 0.75 / 1.0 mm less (0.9798 / 0.9769);
#: 0.5 mm keeps a little noise suppression (docs/validation.md section 5).
LIVER_EDGE_SMOOTHING_SIGMA_MM: Final[float] = 0.5
#: Outside voxels up to this distance (mm) from the window's mask may take a liver fraction (at
#: least the face neighbours on every axis).  The window's border lies ~1.5 mm inside a liver-fat
#: / liver-lung edge (3D-IRCADb 17's rim, docs/validation.md 2.3): one ~2 mm working voxel.
#: Capsule phantom: 1.5 / 2.0 / 2.5 mm give Dice 0.9818 / 0.9818 / 0.9783 (FN 6.6 / 2.3 / 2.0 k).
LIVER_EDGE_REACH_MM: Final[float] = 2.0
#: The local dark value D is the minimum of v over the voxel and its outside neighbours within
#: this distance (mm; at least the face neighbours): short, so that behind a thin layer the
#: tissue further out counts less.  It does not keep the capsule phantom's 4 mm diaphragm out
#: (the lung is within a voxel of its inner layer after the PSF): +6.3 k false positives there.
#: Capsule phantom: 1 / 2 mm give Dice 0.9818 / 0.9810; 3 mm takes in more diaphragm (FP +3.5 k
#: against 2 mm, at 1 mm smoothing).
LIVER_EDGE_DARK_SAMPLE_MM: Final[float] = 1.0
#: A neighbour is "dark" when D lies this far (HU) below the window's lower bound: fat, lung,
#: air and fluid (0-20 HU against a portal-venous window from ~60 HU), not muscle or the
#: diaphragm (45-60 HU), whose edges the window already places.  From those tissue values, not a
#: sweep (100 / 150 HU lost most of the capsule phantom's gain at fat).
LIVER_EDGE_DARK_BELOW_WINDOW_HU: Final[float] = 40.0

# Step 6b (segment/_liver_rim.py): a hypodense tumour's capsular rim against the lung.  Shaped
# on 3D-IRCADb 17's tumour 1 (its capsular part, 6.7 k voxels a median 1.6 mm and up to ~5 mm
# beyond the window's border, lies between it and the lung), the only real case; disclosed in
# docs/validation.md 2.3 "Step 6b".
#: A mask voxel counts as hypodense tumour when it lies deeper than this (mm) inside the mask
#: (below the window's partial-volume border and step 6's 2 mm band) and below the window.
#: IRCAD17 (with LIVER_RIM_REACH_MM 5, sample 3): 2.5 / 4 mm give liver Dice 0.9451 / 0.9456,
#: tumour 1's click 0.867 / 0.866 (at RH 9 mm).
LIVER_RIM_TUMOUR_DEPTH_MM: Final[float] = 4.0
#: ... in connected pieces of at least this volume (ml): a tumour, not a vessel's dark wall or noise.
LIVER_RIM_TUMOUR_MIN_ML: Final[float] = 1.0
#: Rim voxels lie within this distance (mm) of the mask (tumour 1's capsular part: 90 % within
#: 3.4 mm of our border) and within LIVER_RIM_TUMOUR_DEPTH_MM + this of such a tumour.
LIVER_RIM_REACH_MM: Final[float] = 5.0
#: D, the dark value, is the minimum over the outside voxels within this distance (mm): the lung
#: lies up to ~3 mm behind a rim voxel.  IRCAD17: 3 / 4 mm give tumour 1's click 0.861 / 0.871
#: and tumour 2's 0.856 / 0.852 (liver 0.9453 / 0.9449) at depth 2.5 mm.
LIVER_RIM_DARK_SAMPLE_MM: Final[float] = 3.0

#: A candidate piece is added to the liver when at least this share of its border faces lie on
#: the liver.  Geometry: a spherical tumour whose centre lies on a flat capsule leaves a
#: hemisphere outside; its flat base (pi r^2) is 1/3 of its surface (3 pi r^2).  0.25 is reached
#: when the centre lies r/3 outside the capsule, so tumours sitting mostly in the liver pass and
#: organs that only touch it (surface contact of a few per cent) do not.
LIVER_TUMOUR_MIN_LIVER_CONTACT: Final[float] = 0.25

#: ... and when the liver holds at least this share of the border faces the piece has on tissue
#: (liver + other organs; fat, lung and air do not count, as a capsular tumour meets them):
#: it touches more liver than all other organs together.
LIVER_TUMOUR_MIN_LIVER_SHARE: Final[float] = 0.5

#: ... and when the piece is no larger than this times the liver mask it would join: the mask
#: holds most of the liver, so a bigger piece is the tissue around it.  (On the make_study
#: phantom the abdominal soft tissue, 70 HU in the portal-venous phase, fills the body around
#: the liver, touches it on 29 % of its border and is 2.4 times the liver's volume.)
LIVER_TUMOUR_MAX_VOLUME_RATIO: Final[float] = 1.0

#: No liver in the series (segment/_liver_check.py): the classical liver mask is refused when its
#: largest section (on the image's slices) is below this, cm2, although the mask spans at least
#: LIVER_MIN_SECTION_EXTENT_MM along the slice normal.  An adult liver's largest axial section is
#: ~100-250 cm2 (dcmqi's real CT: 210 cm2); IBSI's thigh CTs gave "livers" of 3.7 and 10.0 cm2
#: (5.6 and 34.2 mL; tester finding, issue 5).
LIVER_MIN_SECTION_CM2: Final[float] = 20.0
#: ... a mask shorter than this (mm along the slice normal) is not judged: a series covering only
#: the liver's dome or its inferior tip (cut by the field) holds small sections of a real liver.
#: Within 20 mm of the dome (a cap of radius >= 6 cm: pi * (2 * 6 * 2 - 2^2) = 63 cm2) or of the
#: right lobe's inferior tip (>= 8 cm wide, >= 2.5 cm thick there) a real liver's section exceeds
#: LIVER_MIN_SECTION_CM2.
LIVER_MIN_SECTION_EXTENT_MM: Final[float] = 20.0

#: Low-contrast check and path (unenhanced and arterial phases: liver 55-70 HU against muscle /
#: bowel / soft tissue 40-55 HU, ~15 HU apart, e.g. Boyce CJ et al., AJR 2010;194:623-8 for
#: unenhanced liver 50-65 HU).  The check and the path read a finer histogram of the working image
#: smoothed more strongly than LIVER_SMOOTHING_SIGMA_MM: with 15 HU noise on 3 x 2.3 x 2.3 mm
#: voxels (make_study) a Gaussian of 1.5 / 2 / 3 / 4 mm leaves 5.4 / 3.2 / 1.7 / 1.1 HU of noise
#: (measured on white noise).  The check runs on the last (strongest) smoothing; the low-contrast
#: path uses the first smoothing of this ladder (mm) at which the liver's histogram peak is resolved
#: from its nearest bulky neighbour (dip <= LIVER_NEIGHBOUR_VALLEY_MAX_RATIO of the lower peak, i.e.
#: contrast >= ~3.3 x the peaks' SD: the contrast-to-noise condition), and refuses when none does.
#: make_study pre-contrast / arterial: 40.5 vs 54.5 HU and 55.5 vs 69.5 HU peaks, unresolved on
#: the 2 HU / 4 HU-smoothed histogram of the 1.5 mm image, resolved from 2 mm on (docs/validation.md).
LIVER_LOW_CONTRAST_SMOOTHING_MM: Final[tuple[float, ...]] = (2.0, 3.0, 4.0)

#: Histogram of the low-contrast check and path: bin width (HU) and Gaussian smoothing of the
#: counts (HU).  Finer than the default path's 2 HU bins / 4 HU smoothing, which alone merges two
#: tissues 14 HU apart with 2 HU SD into one peak; 1 HU bins still hold >= 10^3 counts at the peaks
#: of any abdominal CT half (10^5-10^6 voxels on the 2 mm working grid).
LIVER_PEAK_HIST_BIN_HU: Final[float] = 1.0
LIVER_PEAK_HIST_SIGMA_HU: Final[float] = 1.0

#: A histogram peak is the liver's when the body's right half (patient's right, the liver's side)
#: holds at least this many times the voxels of the left half at that HU: the liver is the bulky
#: organ on the right, muscle, fat, bowel and the abdominal wall are on both sides.  Measured on
#: make_study (all phases, 1.5-4 mm smoothing) the liver peak has a right/left ratio of 6.7-180
#: and the soft-tissue peak 0.31-0.54; on 3D-IRCADb-01 patient 17 (looked at for this check only,
#: not to choose the value) the liver peak 5.3-6.8, every other peak <= 1.0.  2 sits between.
LIVER_SIDE_EXCESS_MIN_RATIO: Final[float] = 2.0

#: Phases on which the liver is only ~15 HU above muscle and bowel (unenhanced 50-65 vs 40-50 HU;
#: arterial: the parenchyma has barely begun to enhance, Bae KT, Radiology 2010;256:32-61): there,
#: when no bulky tissue of the search range lies mainly on the patient's right, the histogram mode
#: is taken to be that soft tissue and segment_liver refuses (LowContrastError) instead of
#: windowing it (make_study pre-contrast with the liver iso-dense to the soft tissue: Dice 0.37).
#: On the other phases the liver is the brightest bulky parenchyma and the mode is kept as before.
LIVER_LOW_CONTRAST_PHASES: Final[tuple[str, ...]] = ("pre_contrast", "arterial_early", "arterial", "arterial_late")

# ------------------------------------------------------------------------------ viable
#: Arterial enhancement relative to liver parenchyma that counts as viable (HU): arterial HU
#: - median arterial HU of the liver >= this.  mRECIST defines viable tumour as arterial-phase
#: contrast uptake (Lencioni & Llovet 2010) but gives no number; 15 HU is ~1 noise sigma of a
#: single voxel but > 4 sigma after smoothing, and the usual "enhancing" cut-offs on CT are
#: 10-20 HU over baseline (e.g. LI-RADS uses visual hyperenhancement).  A parameter.
VIABLE_ENHANCEMENT_VS_LIVER_HU: Final[float] = 15.0

#: Arterial - pre-contrast difference (after registration) that counts as enhancing (HU).
#: 20 HU is the common CT enhancement threshold for solid tissue (renal mass literature
#: uses 15-20 HU; ablation-zone follow-up uses ~20 HU).  A parameter.
VIABLE_ENHANCEMENT_VS_PRE_HU: Final[float] = 20.0

#: Smoothing (mm) before the viable thresholds (noise sigma 15 HU vs 15-20 HU thresholds).
VIABLE_SMOOTHING_SIGMA_MM: Final[float] = 1.0

#: Dense lipiodol: HU at or above this on pre-contrast (or on every phase when there is no
#: pre-contrast) is deposit, not enhancement.  Compact lipiodol reads 300-1000+ HU; enhancing
#: HCC rarely exceeds ~200 HU on arterial CT.  The brief's range is 250-300 HU; 250 is chosen
#: so partial-volume edges of a dense deposit are excluded too.
LIPIODOL_MIN_HU: Final[float] = 250.0

#: Dense-lipiodol voxels are grown by this margin (mm) before exclusion: the partial-volume
#: edge of a 650 HU deposit passes through "enhancing" values (100-250 HU) for ~1-2 mm.
#: (Lesion step 9b, 1.8: the same margin is included with a deposit that touches the lesion.)
LIPIODOL_MARGIN_MM: Final[float] = 2.0

#: Lesion step 9b (1.8): dense lipiodol touching the lesion mask is sought in the mask's box
#: padded by this much (mm); a deposit reaching farther is cut at the padded box.  Not tuned.
LESION_LIPIODOL_SEARCH_MM: Final[float] = 20.0

#: Liver reference for enhancement: median arterial HU in the ring between these distances (mm)
#: outside the lesion (local parenchyma; 3 mm skips the partial-volume edge).
VIABLE_RING_INNER_MM: Final[float] = 3.0
VIABLE_RING_OUTER_MM: Final[float] = 15.0

#: Work box around the lesions (mm) for the viable analysis and the local pre-to-arterial
#: translation search.
VIABLE_ROI_MARGIN_MM: Final[float] = 30.0

#: Margin (mm) of pre-contrast image kept around the lesion ROI as the moving image of that
#: registration: more than the breathing shift between phases of one study (a few mm, at most
#: ~20 mm), so the optimiser never runs out of image, without resampling the whole series.
VIABLE_REGISTRATION_MOVING_MARGIN_MM: Final[float] = 30.0

#: A thin regular rim of enhancement around a non-enhancing zone is reactive, not viable
#: (mRECIST, Lencioni & Llovet 2010).  Enhancing structures no thicker than this (mm) are
#: removed by a morphological opening with a ball of this diameter; nodules survive it.
REACTIVE_RIM_MAX_THICKNESS_MM: Final[float] = 2.0

#: Step 5 of viable_mask sizes its rim element for a rim seen through the scanner's blur (a
#: Gaussian of this sigma, mm; the phantoms' point-spread, 1 mm) and the viable smoothing: inside
#: the lesion mask a bright rim passes the enhancement tests over up to REACTIVE_RIM_MAX_THICKNESS_MM
#: + VIABLE_RIM_BLUR_ALLOWANCE_SIGMAS x hypot(scanner sigma, smoothing sigma) mm = 2.85 mm (1-D
#: profiles, liver 70 / necrosis 25 HU, 1 mm blur: a 2 mm rim at 150 / 190 / 250 / 300 HU passes over
#: 1.9 / 2.4 / 2.8 / 3.0 mm inside the mask; segment/_viable_rim.py).  0.6 keeps the study grid's
#: element (2.3 x 2.3 x 3 mm: in-plane cross) and its nodular remnants as before.
VIABLE_RIM_SCANNER_BLUR_SIGMA_MM: Final[float] = 1.0
VIABLE_RIM_BLUR_ALLOWANCE_SIGMAS: Final[float] = 0.6

#: Viable islands smaller than this (mm3) are dropped as noise (a 3 mm ball is 14 mm3).
VIABLE_MIN_VOLUME_MM3: Final[float] = 15.0

#: Step 5b of viable_mask (1.60, segment/_viable_grow.py): hysteresis into a viable nodule's blurred
#: edge.  Lesion voxels within VIABLE_GROW_DISTANCE_MM (mm) of step 5's survivors, connected to them,
#: that enhance by at least VIABLE_GROW_ENHANCEMENT_VS_LIVER_HU (HU) over the liver (and pass the
#: pre-contrast test; no lipiodol) join.  Smoothed noise (sigma 15 HU, 1 mm smoothing) is ~3-4 HU,
#: so 5 HU is over 1 sigma while only next to voxels that passed 15 HU.
VIABLE_GROW_ENHANCEMENT_VS_LIVER_HU: Final[float] = 5.0
VIABLE_GROW_DISTANCE_MM: Final[float] = 1.5

# ------------------------------------------------------------------------ registration
#: Multi-resolution pyramid (shrink factor per level) and Gaussian sigmas (mm) per level.
REGISTRATION_SHRINK_FACTORS: Final[tuple[int, ...]] = (4, 2, 1)
REGISTRATION_SMOOTHING_SIGMAS_MM: Final[tuple[float, ...]] = (2.0, 1.0, 0.0)

#: A registration that only carries a lesion's centre to another time point (the napari dock's
#: "Propagate", ``hcc-imaging segment --from-mask``): the click must land inside the lesion, a voxel
#: or two, so the images' block means on voxels of about 3 mm are registered with a three-level
#: pyramid (about 12, 6 and 3 mm, smoothed by 4, 2 and 1 mm; the full registration's finest level
#: is the image's own grid, and ITK smooths the full images for every level): 1.3-1.9 s instead of
#: 29-42 s on a 512 x 512 x 100 study (2026-12-05, three levels; 1.1-1.4 s against 16-33 s with two
#: levels and the step in parameter units), the point 0.1-0.7 mm from the true move.
#: The first pyramid had two levels (6 and 3 mm): a follow-up tilted 15 deg ended 6-20 mm off (the
#: masked stages then started from a coarse rigid result 4-7 mm off); with the 12 mm level the
#: phantom's lesions are within 0.5 mm at 10-15 deg.  Figures: docs/validation.md section 4 and
#: ``benchmarks/bench_register_carry.py``.
REGISTRATION_CARRY_WORK_SPACING_MM: Final[float] = 3.0
REGISTRATION_CARRY_SHRINK_FACTORS: Final[tuple[int, ...]] = (4, 2, 1)
REGISTRATION_CARRY_SMOOTHING_SIGMAS_MM: Final[tuple[float, ...]] = (4.0, 2.0, 1.0)

#: Optimiser iterations per level (regular-step gradient descent).
REGISTRATION_ITERATIONS: Final[int] = 100

#: First step (mm of physical shift, parameter scales from physical shift; the optimiser's learning
#: rate is estimated from it once per pyramid level) and the step at which the optimiser stops
#: (mm): 0.01 mm is far below a voxel.
REGISTRATION_LEARNING_RATE_MM: Final[float] = 2.0
REGISTRATION_MIN_STEP_MM: Final[float] = 0.01

#: Fraction of voxels sampled for Mattes mutual information (random, fixed seed).
REGISTRATION_SAMPLING_FRACTION: Final[float] = 0.05

#: Fewest metric samples per pyramid level (the sampling fraction is raised on coarse levels and
#: small masks to reach it).  50 bins x 50 bins need ~10^4 samples for a stable joint histogram.
REGISTRATION_MIN_SAMPLES: Final[int] = 20000

#: Histogram bins of Mattes mutual information (SimpleITK examples use 50).
REGISTRATION_HISTOGRAM_BINS: Final[int] = 50

#: The fixed mask (e.g. the liver) is dilated by this much (mm) before it restricts the metric:
#: the organ's edges against fat and neighbours carry most of the alignment information; the
#: inside of a homogeneous liver carries almost none.  On the phantoms 0 and 40 mm recovered a
#: 5 deg + 7 mm motion within 0.8 mm, while 10-20 mm settled in a wrong optimum 15-25 mm away
#: (docs/validation.md); 40 mm keeps the neighbouring anatomy in view.
REGISTRATION_MASK_DILATION_MM: Final[float] = 40.0

#: Mask voxels closer than this (mm) to the fixed image's border are left out of the metric.
REGISTRATION_BORDER_MARGIN_MM: Final[float] = 10.0

#: Seed of the metric's random sampling: registrations are reproducible run to run.
REGISTRATION_RANDOM_SEED: Final[int] = 20240601

#: A registration stage (the masked rigid refinement, the affine stage) is kept only when the
#: metric of its result, on the finest level's images, mask and samples, is no worse than the
#: previous stage's by more than this (Mattes MI, nats): a stage that wandered off a good start
#: is dropped.  Run-to-run sampling noise of the figure is below 0.01 on the phantoms; a stage
#: that spoilt the rigid result of a 10 deg tilted follow-up left it 0.5-1.0 worse.
REGISTRATION_STAGE_METRIC_TOL: Final[float] = 0.02

#: The check of a registration that carries lesions to another time point
#: (``register.registration_problems``; a suspect one is reported, and ``batch --carry`` does not
#: measure the study).  Final Mattes MI above this (nats; 0 is no shared information): a follow-up
#: of pure noise ended at -0.009, the good carries of the phantoms, the sample study and
#: 3D-IRCADb-01 at -0.9 to -1.8.
REGISTRATION_SUSPECT_METRIC: Final[float] = -0.15
#: Fewest of the first study's liver points (else of the points carried, else of the middle of
#: its image) that must land inside the other image after registration (fraction).
REGISTRATION_MIN_FIELD_FRACTION: Final[float] = 0.5
#: Fewest of either study's liver points, where the other image covers them, that must land in
#: the other study's liver after registration (fraction; the smaller of the two directions): the
#: good carries overlap by 0.85-0.98, a mirrored "other patient" by 0.2-0.3.
REGISTRATION_MIN_MASK_OVERLAP: Final[float] = 0.6
#: Points sampled (at most) from each mask for the check.
REGISTRATION_CHECK_POINTS: Final[int] = 20000

#: Fewest voxels along every axis (slices too) of an image to register: ITK's Gaussian smoothing
#: of the pyramid needs four ("fewer than four pixels"); a series of 1-3 slices is refused first,
#: with a message saying so.
REGISTRATION_MIN_VOXELS_PER_AXIS: Final[int] = 4

# ------------------------------------------------- local translation search (pre -> arterial)
# Used by hcc_imaging.segment.register.register_translation, which viable_mask uses to align the
# pre-contrast phase to the arterial phase around the lesions (docs/segment.md).

#: Largest shift searched (mm, per array axis).  Phases of one study differ by breathing: a
#: few mm, at most ~20 mm craniocaudally (the same bound the rigid search's moving margin used).
TRANSLATION_MAX_SHIFT_MM: Final[float] = 20.0

#: Spacing of the search grid (mm; whole voxels per axis).  2 mm: every shift up to 20 mm in
#: one FFT of ~10^5-10^6 samples, and the parabolic peak fit gives a fraction of a voxel.
TRANSLATION_GRID_MM: Final[float] = 2.0

#: Spacing of the second search (mm), one coarse step around the first one's best shift.
TRANSLATION_FINE_GRID_MM: Final[float] = 1.0

#: Gaussian sigma (search-grid voxels) before the gradient magnitude: widens the NCC peak so the
#: parabolic fit has three samples on it, and damps noise (15 HU at 0.7 mm).
TRANSLATION_SMOOTHING_VOX: Final[float] = 1.0
#: ... kernel cut at this many sigmas (3: 99.7 % of the weight, two taps fewer per side than 4).
TRANSLATION_SMOOTHING_TRUNCATE: Final[float] = 3.0

#: CT window (HU) for the pre-contrast -> arterial search: soft tissue, vessels and lipiodol
#: edges count; air and bone (-1000 / +1000 HU) would otherwise dominate the gradients.
VIABLE_REGISTRATION_WINDOW_HU: Final[tuple[float, float]] = (-200.0, 400.0)

#: The fine step of that search looks at the lesions and this margin (mm) around them, the
#: coarse step at the whole work box (VIABLE_ROI_MARGIN_MM): context for the capture range,
#: then the neighbourhood where the viable analysis happens, at a third of the cost.
VIABLE_REGISTRATION_FINE_MARGIN_MM: Final[float] = 10.0

# --- carrying lesions to another time point (carry.py) ----------------------------------------
#: Organs whose findings lie inside the classical liver mask (which holds the intrahepatic
#: vessels): a portal- or hepatic-vein tumour thrombus is kept in it like a liver lesion.  A lymph
#: node, or another organ's lesion, is kept out of it (``extrahepatic``), as the napari dock does.
LIVER_MASK_ORGANS: Final[tuple[str, ...]] = ("liver", "portal_vein", "hepatic_vein")

#: Extrahepatic IVC (step 3b of the classical liver method, :mod:`._ivc`).  On a slice caudal to
#: the liver's largest axial cross-section, a 2-D component of the liver mask is IVC-like when it
#: is vessel-sized: area at most this (mm^2; a disc of 39 mm diameter; the infrahepatic IVC is
#: about 20-30 mm across, up to ~35 mm at the renal veins' confluence; IRCAD17's 150-850 mm^2) ...
LIVER_IVC_MAX_AREA_MM2: Final[float] = 1200.0
#: ... with its largest inscribed radius in this range (mm; IRCAD17's IVC 6.3-11.1 mm) ...
LIVER_IVC_RADIUS_MM: Final[tuple[float, float]] = (4.0, 18.0)
#: ... round: area / (pi x inscribed radius^2) at most this (a disc 1; IRCAD17's IVC 1.05-2.83,
#: its lobulated part at the renal veins; its liver's cross-sections 2.2-5.9) ...
LIVER_IVC_MAX_ROUNDNESS: Final[float] = 3.0
#: ... and medial: its centre within this distance (mm, left-right) of the body's midline (the IVC
#: runs in front of the spine, 1-4 cm right of the midline; IRCAD17's 13-37 mm, its liver's
#: caudal cross-sections 67-112 mm) ...
LIVER_IVC_MAX_MIDLINE_MM: Final[float] = 50.0
#: ... and IVC-like components touching from slice to slice form a column at least this long
#: (mm): a tube.  The liver's caudal tip widens past the area bound within a few slices
#: (IRCAD17: 2 slices, 3 mm); IRCAD17's IVC column is 90 mm long below the liver.
LIVER_IVC_MIN_LENGTH_MM: Final[float] = 30.0

#: The heart over the dome (step 3c of the classical liver method, :mod:`._dome`): a watershed of
#: the depth of the tissue at or above the liver window's lower bound and at most this value
#: (HU; portal-venous and later blood is 130-200 HU; bone's cortex and arterial-phase blood lie
#: above it and stay out, so no heart marker is found in an arterial phase: the step then does
#: nothing) ...
LIVER_HEART_TISSUE_MAX_HU: Final[float] = 250.0
#: ... with the heart's markers in blood (above the window's top, outside the mask, cranial to
#: the liver's largest axial cross-section) at least this deep in that tissue (mm): the heart's
#: chambers wrapped in myocardium are 30-50 mm deep (IRCAD17: 34 mm); the aorta (radius
#: 10-15 mm) and the cava are not that deep ...
LIVER_HEART_MARKER_DEPTH_MM: Final[float] = 20.0
#: ... and a marker (a connected piece of such blood) is left out when more than this share of it
#: lies inside the liver's outline (the mask closed and filled): an enhancing lesion, a vessel.
LIVER_HEART_MAX_SHARE_IN_LIVER: Final[float] = 0.5
#: ... and the liver's markers the mask's voxels at least this deep inside the mask (mm): a normal
#: left-ventricular wall or septum is <= 12 mm thick, so the myocardium the window keeps holds
#: no ball of this radius, the liver's bulk does.  NOT chosen blind: on IRCAD17 (before step 5 kept
#: the cut out, which took 10 mm to 0.946 / 0.844) 8 / 9 / 10 / 11 /
#: 12 mm gave liver Dice 0.9385 / 0.9405 / 0.9378 / 0.9370 / 0.9282 and tumour 2's click 0.832 /
#: 0.833 / 0.842 / 0.837 / (seed outside the liver): 10 mm is the anatomical bound, not the best
#: Dice (docs/validation.md section 5).
LIVER_HEART_LIVER_MARKER_MM: Final[float] = 10.0

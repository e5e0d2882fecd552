"""Parameters of :mod:`hcc_imaging.io`, each with its unit in the name and its source.

Shared geometry tolerances (``SPACING_REL_TOL``, ``POSITION_TOL_MM``, ``ORIENTATION_TOL``) live in
:mod:`hcc_imaging.constants`; the ones below are specific to reading DICOM.
"""

from __future__ import annotations

__all__ = [
    "SPACING_ABS_TOL_MM",
    "TILT_MAX_SHEAR_PIXELS",
    "HEADER_CHUNK_BYTES",
    "DECODER_PREFERENCE",
    "LOCALIZER_IMAGE_TYPES",
    "SUBTRACTION_IMAGE_TYPES",
    "INT16_MIN",
    "INT16_MAX",
    "ORIENTATION_GROUP_TOL_DEG",
    "PIXEL_SPACING_GROUP_TOL_MM",
    "INTERLEAVED_GROUPS_MAX_DEG",
]

#: Absolute floor of the slice-spacing tolerance (mm).  ImagePositionPatient is a DS string that
#: scanners often round to 0.01 mm, so two differences of one regular series may disagree by up to
#: ~0.02 mm; the relative tolerance (``constants.SPACING_REL_TOL``, 1 %) alone would flag 0.6 mm
#: slices stored with 2 decimals.  dcm2niix uses a comparable absolute floor.
SPACING_ABS_TOL_MM: float = 0.02

#: Gantry tilt / shear is flagged when the in-plane drift of ImagePositionPatient between the
#: first and the last slice exceeds this fraction of the smallest pixel spacing (0.1 pixel):
#: below it, the sheared and the orthogonal grid differ by less than a tenth of a voxel.
TILT_MAX_SHEAR_PIXELS: float = 0.1

#: Bytes read first from each file when scanning headers.  CT/MR headers before group 0x0029 fit in
#: 4-8 KB in the files we met; larger headers are read in doubling chunks.
HEADER_CHUNK_BYTES: int = 8192

#: Pixel-data decoders per transfer syntax, in the order tried (pydicom ``decoding_plugin``).
#: Chosen from measurements on this machine class (``perf.md`` section 2.5): GDCM is the fastest
#: JPEG 2000 decoder (1.6x openjpeg); pyjpegls (CharLS) the fastest JPEG-LS decoder (pylibjpeg's
#: libjpeg is 4x slower and is never used for JPEG-LS); RLE via pylibjpeg-rle then pydicom's own.
DECODER_PREFERENCE: dict[str, tuple[str, ...]] = {
    # JPEG 2000 (lossless only, lossy), HTJ2K variants
    "1.2.840.10008.1.2.4.90": ("gdcm", "pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.91": ("gdcm", "pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.201": ("pylibjpeg",),
    "1.2.840.10008.1.2.4.202": ("pylibjpeg",),
    "1.2.840.10008.1.2.4.203": ("pylibjpeg",),
    # JPEG-LS lossless / near-lossless
    "1.2.840.10008.1.2.4.80": ("pyjpegls", "gdcm"),
    "1.2.840.10008.1.2.4.81": ("pyjpegls", "gdcm"),
    # JPEG baseline, extended, lossless (process 14, SV1)
    "1.2.840.10008.1.2.4.50": ("gdcm", "pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.51": ("gdcm", "pylibjpeg", "pillow"),
    "1.2.840.10008.1.2.4.57": ("gdcm", "pylibjpeg"),
    "1.2.840.10008.1.2.4.70": ("gdcm", "pylibjpeg"),
    # RLE lossless
    "1.2.840.10008.1.2.5": ("pylibjpeg", "pydicom", "gdcm"),
}

#: ImageType values (3rd value onwards) that mark localizer / scout images (DICOM PS3.3 C.8.2.1.1.1
#: "LOCALIZER"; vendors also write "SCOUT" or "TOPOGRAM").
LOCALIZER_IMAGE_TYPES: frozenset[str] = frozenset({"LOCALIZER", "SCOUT", "TOPOGRAM", "SCANOGRAM"})

#: ImageType values (3rd value onwards) that mark a subtraction image (DICOM PS3.3 C.8.16.1 / C.8.13.1.1.1
#: "SUBTRACTION"; vendors also write "SUB"): the difference of two acquisitions, not a contrast phase.
SUBTRACTION_IMAGE_TYPES: frozenset[str] = frozenset({"SUBTRACTION", "SUB", "SUBTRACTED"})

INT16_MIN: int = -32768
INT16_MAX: int = 32767

#: Images of one series whose orientations (row, column and normal directions together) differ by
#: at most this angle (degrees) are one orientation group and are stacked on one orientation.
#: ImageOrientationPatient is a DS string: the cosines of one plane written per image differ in
#: their last digit(s) (rounding to 6 decimals: < 1e-6 rad; to 3 decimals, as some exports do:
#: up to ~0.08 deg), and such noise must never split one stack.  Genuinely different planes in
#: one series (a localizer, a reformat, the stacks of a multi-stack MR) are degrees apart (the
#: closest pair in the shared test data: 16 deg).  Until 2026-12-06 the cosines were rounded into
#: 1e-3 buckets, and two values 2e-8 apart on either side of a bucket edge split one stack.
ORIENTATION_GROUP_TOL_DEG: float = 0.1

#: Images whose PixelSpacing values differ by at most this much (mm) share one grid: DS rounding
#: of one spacing written per image differs by < 1e-5 mm; 1e-4 mm over 512 pixels is 0.05 mm.
PIXEL_SPACING_GROUP_TOL_MM: float = 1e-4

#: Two orientation groups at most this far apart (degrees) whose images alternate along the slice
#: normal are reported as one stack whose ImageOrientationPatient jitters beyond
#: ORIENTATION_GROUP_TOL_DEG, not as two stacks: loading one group (``stack=N``) would keep every
#: other slice, so the error message does not offer it.
INTERLEAVED_GROUPS_MAX_DEG: float = 1.0

# ---------------------------------------------------------------------------------------------
# Contrast phase timing (seconds after the start of injection).  Sources: LI-RADS v2018 CT/MRI
# technique (late arterial ~35-45 s / bolus-tracked, portal venous 60-80 s, delayed/transitional
# 2-5 min, hepatobiliary ~20 min for gadoxetate); EASL 2018 HCC guideline (arterial, portal
# venous >= 60 s, delayed >= 3 min).  Boundaries between sources differ by +-10 s: they are
# parameters, and a timing call is never given more than TIMING_CONFIDENCE.
# ---------------------------------------------------------------------------------------------
__all__ += [
    "ARTERIAL_EARLY_MAX_S",
    "ARTERIAL_MAX_S",
    "PORTAL_VENOUS_MAX_S",
    "TRANSITIONAL_MAX_S",
    "HEPATOBILIARY_MIN_S",
    "HEPATOBILIARY_GADOBENATE_MIN_S",
    "KEYWORD_CONFIDENCE",
    "SHORT_KEYWORD_CONFIDENCE",
    "TIMING_CONFIDENCE",
    "ORDER_CONFIDENCE",
    "IMAGE_CONFIDENCE",
    "AORTA_ARTERIAL_MIN_HU",
    "VESSEL_ENHANCED_MIN_HU",
    "AORTA_TO_PORTAL_ARTERIAL_RATIO",
    "VESSEL_ROI_RADIUS_MM",
    "AUTO_IMAGE_CONFIDENCE",
]

#: Before this delay an arterial series is "early arterial" (hepatic artery only, ~20-30 s).
ARTERIAL_EARLY_MAX_S: float = 30.0
#: Arterial (early + late) ends here; portal venous starts (LI-RADS: PV ~60-80 s; 50 s lower bound).
ARTERIAL_MAX_S: float = 50.0
#: Portal venous ends here; delayed / transitional starts (EASL: delayed >= 3 min; LI-RADS 2-5 min).
PORTAL_VENOUS_MAX_S: float = 120.0
#: Transitional phase (extracellular + hepatocyte uptake, gadoxetate) ends here (LI-RADS: 2-5 min).
TRANSITIONAL_MAX_S: float = 300.0
#: Hepatobiliary phase with gadoxetate from ~10 min (LI-RADS: typically 20 min; >= 10 min accepted).
HEPATOBILIARY_MIN_S: float = 600.0
#: Hepatobiliary phase with gadobenate (Gd-BOPTA, MultiHance; ~3-5 % hepatocyte uptake) from 60 min
#: (LI-RADS v2018 technique: gadobenate's hepatobiliary phase 1-3 h after injection); before it a
#: late series is delayed.
HEPATOBILIARY_GADOBENATE_MIN_S: float = 3600.0

#: Confidence of a call from an unambiguous SeriesDescription keyword ("ARTERIAL", "PORTAL VENOUS").
KEYWORD_CONFIDENCE: float = 0.9
#: Confidence of a call from a short, ambiguous token ("AP" may mean antero-posterior, "PV", "NC").
SHORT_KEYWORD_CONFIDENCE: float = 0.7
#: Confidence of a call from acquisition time minus ContrastBolusStartTime.
TIMING_CONFIDENCE: float = 0.75
#: Confidence of a call from the order of series within a study only.
ORDER_CONFIDENCE: float = 0.4
#: Confidence of a call from image evidence (aorta vs portal vein attenuation).
IMAGE_CONFIDENCE: float = 0.6

#: Aortic attenuation above which a CT is arterial when the portal vein is much less enhanced
#: (typical: > 250 HU in the late arterial phase; Bae 2010, Radiology 256:32).
AORTA_ARTERIAL_MIN_HU: float = 200.0
#: Vessels below this are unenhanced (blood ~40-60 HU without contrast; margin for noise).
VESSEL_ENHANCED_MIN_HU: float = 100.0
#: aorta / portal vein attenuation ratio above which enhancement is arterial (PV phase: ~1.0-1.2).
AORTA_TO_PORTAL_ARTERIAL_RATIO: float = 1.4
#: Radius of the spherical ROI on a vessel (mm): inside a 15-30 mm aorta and a 10-15 mm portal
#: vein, large enough to average CT noise (~60 voxels at 0.7 x 0.7 x 2.5 mm).
VESSEL_ROI_RADIUS_MM: float = 4.0
#: Confidence of a call from automatically located vessels (io/_vessels.py): validated on the
#: phantoms and one real CT only, so below a call from user-placed ROIs.
AUTO_IMAGE_CONFIDENCE: float = 0.5

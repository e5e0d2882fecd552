"""The types every step of :func:`~hcc_imaging.segment.lesion.segment_lesion` shares: its
parameters (:class:`LesionParams`), its result (:class:`SegmentationResult`) and the codes of the
result's checks (:data:`MASK_CHECKS`).

A module of their own so that the steps' modules (:mod:`._grow`, :mod:`._refine`, :mod:`._rim`,
:mod:`._multiphase`) and the driver (:mod:`._driver`) import them without a cycle through
:mod:`.lesion`, which imports the driver.  :mod:`.lesion` re-exports them; import them from there
(or from :mod:`hcc_imaging.segment`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import LabelVolume, Phase
from . import constants as C
from .errors import SegmentationError

__all__ = ["ALGORITHM_NAME", "MASK_CHECKS", "LesionParams", "SegmentationResult"]

#: Name recorded in provenance.
ALGORITHM_NAME = "hcc_imaging.segment.lesion.seeded_window_growing"

_POLARITIES = ("auto", "hypo", "hyper", "both")

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
    past_liver_mask_mm : float or None
        Step 8's rays go on past the liver mask, where the lesion's tissue does, to a darker
        tissue's edge at most this far (mm) beyond it (step 2c of :mod:`._radial`, 1.56); 0 keeps
        them to the mask (and step 2b's ``LESION_RADIAL_EDGE_MM``).  None (default): how far the
        mask's border is trusted follows where the mask came from: ``LESION_RADIAL_EXOPHYTIC_MM``
        (12 mm) for a mask of the classical liver method (``segment_liver``, its ``meta``
        "algorithm"), whose border cuts a tumour that bulges past the liver's contour; 0 for any
        other mask (drawn or imported: the reader's border) and with ``extrahepatic``.  The
        value used is in the result's provenance.
    enhancing_rim : bool
        After a click or a line on a hypodense zone, include a thin enhancing rim around it (step 9).
    include_lipiodol : bool
        Include a dense lipiodol deposit that touches the mask, with its partial-volume margin
        (step 9b, 1.8; CT only since 1.64): part of the treated lesion for RECIST (``viable_mask``
        excludes it).
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
    past_liver_mask_mm: float | None = None

    def __post_init__(self) -> None:
        if self.polarity not in _POLARITIES:
            raise SegmentationError(
                f"LesionParams.polarity must be one of {_POLARITIES}, got {self.polarity!r}."
            )
        if self.blurred_surface not in ("free", "near_ellipsoid"):
            raise SegmentationError(
                f"LesionParams.blurred_surface must be 'free' or 'near_ellipsoid', got {self.blurred_surface!r}."
            )
        check_numeric_fields(self, _LESION_RANGES)
        if self.roi_max_half_size_mm < self.roi_half_size_mm:
            raise SegmentationError(
                "LesionParams must satisfy roi_half_size_mm <= roi_max_half_size_mm (the ROI grows from the one to "
                f"the other), got {self.roi_half_size_mm} and {self.roi_max_half_size_mm} mm."
            )
        if self.ring_inner_mm >= self.ring_outer_mm:
            raise SegmentationError(
                f"LesionParams ring must satisfy 0 <= ring_inner_mm < ring_outer_mm, got "
                f"{self.ring_inner_mm} and {self.ring_outer_mm} mm."
            )
        if self.parenchyma_sample_mm <= self.ring_outer_mm:
            raise SegmentationError(
                "LesionParams.parenchyma_sample_mm must be > ring_outer_mm, got "
                f"{self.parenchyma_sample_mm} and {self.ring_outer_mm} mm."
            )


#: Allowed range of each numeric field of LesionParams: (kind, low, low inclusive, high, high
#: inclusive); kind "float" (finite) or "int" (a whole number).  Every numeric field must be listed
#: (``check_numeric_fields`` refuses one that is not, so a new field cannot go unchecked).
_LESION_RANGES: Mapping[str, tuple[str, float, bool, float, bool]] = MappingProxyType({
    "smoothing_sigma_mm": ("float", 0.0, False, math.inf, False),
    "smoothing_min_vox": ("float", 0.0, True, math.inf, False),
    "seed_radius_mm": ("float", 0.0, False, math.inf, False),
    "roi_half_size_mm": ("float", 0.0, False, math.inf, False),
    "roi_max_half_size_mm": ("float", 0.0, False, math.inf, False),
    "roi_growth": ("float", 1.0, False, math.inf, False),
    "ring_inner_mm": ("float", 0.0, True, math.inf, False),
    "ring_outer_mm": ("float", 0.0, False, math.inf, False),
    "outer_k_sigma": ("float", 0.0, False, math.inf, False),
    "min_contrast_k_sigma": ("float", 0.0, True, math.inf, False),
    "opening_radius_mm": ("float", 0.0, True, math.inf, False),
    "iterations": ("int", 1, True, math.inf, False),
    "line_roi_factor": ("float", 0.0, False, math.inf, False),
    "line_clamp_factor": ("float", 0.0, False, math.inf, False),
    "edge_band_mm": ("float", 0.0, False, math.inf, False),
    "shell_nonparenchyma_fraction": ("float", 0.0, False, 1.0, True),
    "expansion_rounds": ("int", 1, True, math.inf, False),
    "parenchyma_sample_mm": ("float", 0.0, False, math.inf, False),
    "expansion_max_mm": ("float", 0.0, False, math.inf, False),
    "fat_max_hu": ("float", -math.inf, False, math.inf, False),  # or None
    "past_liver_mask_mm": ("float", 0.0, True, math.inf, False),  # or None
})


def check_numeric_fields(params: Any, ranges: Mapping[str, tuple[str, float, bool, float, bool]],
                         allow_inf: tuple[str, ...] = ()) -> None:
    """Refuse a numeric field of a parameters dataclass that is NaN, infinite, of the wrong kind or
    out of its range.

    Every field whose declared type names ``float`` or ``int`` (a bool field does not) is checked
    against ``ranges`` (``name -> (kind, low, low inclusive, high, high inclusive)``); a field
    declared ``| None`` may be None.  ``allow_inf`` names fields that may be +inf or -inf (within
    their range), e.g. a threshold that inf turns off.

    Raises
    ------
    SegmentationError
        Naming the field, its value and the allowed range; also when a numeric field has no range
        (a programming error: a new field must be given one).
    """
    cls = type(params).__name__
    for f in fields(params):
        ftype = str(f.type)
        words = set(re.findall(r"\w+", ftype))  # "float | None" -> {"float", "None"}
        if not words & {"float", "int"}:
            continue
        v = getattr(params, f.name)
        if v is None and "None" in words:
            continue
        if f.name not in ranges:
            raise SegmentationError(f"{cls}.{f.name} has no allowed range in its validation; add it.")
        kind, lo, lo_in, hi, hi_in = ranges[f.name]
        if hi == math.inf and not hi_in:  # "a finite number >= 0", else "... in (0, 1]"
            rng = "" if lo == -math.inf else f" {'>=' if lo_in else '>'} {lo:g}"
        else:
            rng = f" in {'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
        what = "a whole number" if kind == "int" else "a finite number"
        if f.name in allow_inf:
            what = "a number (inf allowed)"
        if kind == "int":
            ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
        else:
            ok = (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                  and not math.isnan(v) and (math.isfinite(v) or f.name in allow_inf))
        if ok:
            ok = (v > lo or (lo_in and v == lo)) and (v < hi or (hi_in and v == hi))
        if not ok:
            none = " or None" if "None" in words else ""
            raise SegmentationError(f"{cls}.{f.name} must be {what}{rng}{none}, got {v!r}.")


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
        """JSON-serialisable provenance record (DESIGN section 2).

        Strict JSON (RFC 8259): a number that is not finite - the window's open bound (``inf``
        above a bright lesion's lower bound), a value that could not be read (``nan``) - is
        ``None`` (JSON ``null``), as ``json.dumps`` would otherwise write ``Infinity`` / ``NaN``,
        which JSON parsers refuse (:func:`json_finite`).  The result's own fields keep them."""
        return json_finite({
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
        })


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


def json_finite(obj: Any) -> Any:
    """``obj`` (dicts, lists, tuples, numbers) with every non-finite float (``inf``, ``nan``) as
    ``None``, so ``json.dumps(..., allow_nan=False)`` takes it: strict JSON has no ``Infinity`` /
    ``NaN``.  Tuples become lists; other values are returned as they are."""
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: json_finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_finite(v) for v in obj]
    return obj

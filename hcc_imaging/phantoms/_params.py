"""Parameters of the phantoms (grid, timing, HU per tissue and phase, identifiers) and the checks
of the arguments every phantom builder takes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..errors import HccImagingError
from ..volume import Phase


class PhantomError(HccImagingError, ValueError):
    """A phantom cannot be built as asked (shape outside the grid, unknown time point ...)."""


# ------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------
#: The four phases of a liver CT study, in acquisition order.
STUDY_PHASES: tuple[Phase, ...] = (Phase.PRE_CONTRAST, Phase.ARTERIAL, Phase.PORTAL_VENOUS, Phase.DELAYED)
#: Time points the study phantom knows, in order, with their day offset from baseline.
TIMEPOINTS: dict[str, int] = {"baseline": 0, "fu1": 56, "fu2": 112}
#: Default grid of :func:`make_study`: (slice, row, col) voxels and mm.  FOV 345 mm, 132 mm
#: cranio-caudal: the whole phantom liver.
DEFAULT_SHAPE: tuple[int, int, int] = (44, 150, 150)
DEFAULT_SPACING_MM: tuple[float, float, float] = (3.0, 2.3, 2.3)
#: Gaussian point-spread function (sigma, mm) applied to every phase: the partial-volume blur of
#: a standard abdominal kernel (FWHM ~2.4 mm).
PSF_SIGMA_MM: float = 1.0
#: Thickness of the reactive enhancing rim around an ablated / embolised zone (mm).  mRECIST:
#: a thin regular rim is reactive, not viable tumour (Lencioni & Llovet 2010).  <= 2 mm.
RIM_THICKNESS_MM: float = 1.5
#: Boundary blur of the infiltrative lesion (sigma, mm): ill-defined margins.
INFILTRATIVE_BLUR_MM: float = 3.0
#: Pseudonymous patient identifiers written to DICOM (never real names).
PATIENT_ID: str = "PHANTOM-001"
PATIENT_NAME: str = "PHANTOM^LIVER"
#: Default noise of :func:`make_study` / :func:`write_longitudinal` (SD, HU).
_DEFAULT_NOISE_SD_HU = 15.0

#: HU per tissue and phase (pre_contrast, arterial, portal_venous, delayed).  Liver, aorta and
#: portal vein follow the values typical of 4-phase CT (liver ~55 unenhanced, peak ~100-110 in
#: portal phase; aorta >250 HU in late arterial phase).  Typical HCC: arterial hyperenhancement
#: (> liver) then washout (< liver) in portal-venous and delayed phases (LI-RADS major features).
#: Lipiodol is > 300 HU on every phase, including pre-contrast.
TISSUE_HU: dict[str, tuple[float, float, float, float]] = {
    "air": (-1000.0, -1000.0, -1000.0, -1000.0),
    "fat": (-100.0, -100.0, -100.0, -100.0),
    "soft_tissue": (40.0, 55.0, 70.0, 65.0),
    "bone": (450.0, 450.0, 450.0, 450.0),
    "liver": (55.0, 70.0, 110.0, 95.0),
    "spleen": (45.0, 120.0, 120.0, 100.0),
    "aorta": (40.0, 300.0, 160.0, 120.0),
    "ivc": (40.0, 80.0, 150.0, 125.0),
    "portal_vein": (40.0, 120.0, 180.0, 130.0),
    "hcc_viable": (40.0, 130.0, 85.0, 70.0),
    "necrosis": (25.0, 25.0, 28.0, 28.0),
    "lipiodol": (650.0, 650.0, 650.0, 650.0),
    "rim": (40.0, 115.0, 125.0, 115.0),
    "infiltrative": (40.0, 48.0, 75.0, 72.0),
    "node": (40.0, 65.0, 90.0, 85.0),
    "pvtt": (40.0, 100.0, 90.0, 80.0),
    "ascites": (8.0, 8.0, 10.0, 12.0),
}

#: Acquisition timing per phase: (SeriesDescription words, AcquisitionTime, seconds after
#: injection).  Contrast injected at 10:02:00; arterial ~35 s, portal venous ~70 s, delayed 180 s.
_PHASE_INFO: dict[Phase, tuple[str, str, int | None]] = {
    Phase.PRE_CONTRAST: ("LIVER PRE-CONTRAST (NON-CONTRAST) 3mm", "100130", None),
    Phase.ARTERIAL: ("LIVER ARTERIAL 3mm", "100235", 35),
    Phase.PORTAL_VENOUS: ("LIVER PORTAL VENOUS 3mm", "100310", 70),
    Phase.DELAYED: ("LIVER DELAYED 3mm", "100500", 180),
}
_CONTRAST_AGENT = "IOPAMIDOL 370"
_CONTRAST_START = "100200"
_BASE_DATE = (2025, 1, 6)


def _check_seed(seed: object, where: str) -> int:
    """``seed`` as an int >= 0 (what numpy's generator takes), or a PhantomError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PhantomError(f"{where}: seed must be an integer >= 0, got {seed!r}; pass seed=0, 1, ...")
    return int(seed)


def _check_nonneg(value: object, name: str, where: str, unit: str) -> float:
    """``value`` as a finite float >= 0, or a PhantomError naming the parameter."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and v >= 0):
        raise PhantomError(f"{where}: {name} must be a finite number >= 0 {unit}, got {value!r}; pass {name}=0 for none.")
    return v


def _check_grid(shape: Sequence[int], spacing: Sequence[float], where: str) -> tuple[tuple[int, int, int], NDArray[np.float64]]:
    """(shape, spacing) as 3 ints >= 1 and 3 finite floats > 0 mm, or a PhantomError."""
    try:
        shp = tuple(int(v) for v in shape)
        ok_shape = len(shp) == 3 and all(v >= 1 and v == f for v, f in zip(shp, shape, strict=True))
    except (TypeError, ValueError):
        ok_shape = False
    if not ok_shape:
        raise PhantomError(f"{where}: shape must be 3 integers >= 1 (slice, row, col), got {shape!r}.")
    try:
        sp = np.asarray(spacing, float)
    except (TypeError, ValueError):
        sp = np.full(1, np.nan)
    if sp.shape != (3,) or not bool(np.all(np.isfinite(sp) & (sp > 0))):
        raise PhantomError(f"{where}: spacing must be 3 finite numbers > 0 mm (slice, row, col), got {spacing!r}.")
    return shp, sp  # type: ignore[return-value]


"""Analytic, deterministic phantoms: single ellipsoid lesions and multiphase liver CT studies.

Everything here is generated from a seed, so the same call gives the same arrays, and every
structure is an analytic shape whose diameters and volume are known exactly
(DESIGN.md section 5; ``docs/phantoms.md``).

Conventions
-----------
* Geometry follows :mod:`hcc_imaging.volume` (LPS mm, axes (slice, row, col)).
* **Mask rule**: a voxel belongs to a shape when its *centre* is inside the continuous shape.
* **RECIST diameters on sampled slices**: the longest diameter (LD) is the longest in-plane
  chord of the ellipse in which the ellipsoid cuts a *sampled* slice plane (the plane through a
  row of voxel centres, normal = slice axis), maximised over the sampled slices.  The short axis
  (SA) is the longest chord perpendicular to it on the same slice, i.e. the ellipse's minor axis.
  This is what a radiologist can measure on the acquired slices, and it is smaller than the
  continuous maximum when no slice passes through the widest section.
* **3D Feret** = 2 x the largest radius; **volume** = 4/3 pi a b c.

HU per phase (documented values, typical of 4-phase liver CT at 120 kVp with ~1.5 mL/kg iodine;
see ``docs/phantoms.md`` for sources and choices) are in :data:`TISSUE_HU`.
"""

from __future__ import annotations

# Also importable from here, as when this was one module: Phase (with the study's phases), the
# thresholds, TARGETS, PATIENT_NAME, and the anatomy that scripts and tests read (_AORTA,
# _PORTAL_VEIN, _PVTT_T).
from ..volume import Phase
from ._anatomy import _AORTA, _PORTAL_VEIN, _PVTT_T, NODE_FAT_PLANE_MM, LesionKind
from ._lesion import Truth, ellipsoid_lesion
from ._longitudinal import TARGETS, annotations, expected_responses, write_longitudinal
from ._paint import (
    MRECIST_MIN_VIABLE_MM,
    MRECIST_PORTA_NODE_MALIGNANT_SA_MM,
    RECIST_MIN_LD_MM,
    RECIST_NODE_MEASURABLE_SA_MM,
    RECIST_NODE_PATHOLOGICAL_SA_MM,
)
from ._params import (
    DEFAULT_SHAPE,
    DEFAULT_SPACING_MM,
    INFILTRATIVE_BLUR_MM,
    PATIENT_ID,
    PATIENT_NAME,
    PSF_SIGMA_MM,
    RIM_THICKNESS_MM,
    STUDY_PHASES,
    TIMEPOINTS,
    TISSUE_HU,
    PhantomError,
)
from ._shapes import Cylinder, Ellipsoid
from ._study import PhantomStudy, make_study

__all__ = [
    "PhantomError",
    "Ellipsoid",
    "Cylinder",
    "Truth",
    "ellipsoid_lesion",
    "LesionKind",
    "PhantomStudy",
    "make_study",
    "write_longitudinal",
    "expected_responses",
    "annotations",
    "STUDY_PHASES",
    "TIMEPOINTS",
    "TISSUE_HU",
    "DEFAULT_SHAPE",
    "DEFAULT_SPACING_MM",
    "PSF_SIGMA_MM",
    "NODE_FAT_PLANE_MM",
    "RIM_THICKNESS_MM",
    "PATIENT_ID",
]

#: doctest collects only a module's own functions: the example of ``ellipsoid_lesion``, which lives
#: in a private module, runs as this package's (where the doctest tests look for it).
__test__ = {"ellipsoid_lesion": ellipsoid_lesion}

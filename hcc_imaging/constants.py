"""Project-wide constants: every threshold by name, with its unit in the name and its source.

Subpackages keep their own domain parameters next to the code that uses them
(``hcc_imaging/segment/constants.py``, ``hcc_imaging/response/rules.py`` ...); this module holds
what several parts share (geometry tolerances, windows).
"""

from __future__ import annotations

__all__ = [
    "ORTHONORMAL_TOL",
    "SPACING_REL_TOL",
    "POSITION_TOL_MM",
    "ORIENTATION_TOL",
    "AXIAL_TOL",
    "LIVER_WINDOW_HU",
]

#: Max |D.T @ D - I| entry accepted for a direction matrix (cosines as stored in DICOM
#: are often rounded to 6 decimals).
ORTHONORMAL_TOL: float = 1e-3

#: Relative tolerance on slice spacing before a series counts as unevenly spaced (1 %),
#: the tolerance dcm2niix and ITK use in spirit.
SPACING_REL_TOL: float = 0.01

#: Two ImagePositionPatient closer than this along the slice normal are duplicates (mm).
POSITION_TOL_MM: float = 1e-3

#: Max difference between two ImageOrientationPatient cosines for "same orientation".
ORIENTATION_TOL: float = 1e-4

#: Max |cos| deviation for an axis to count as aligned with the patient S-I axis
#: (axial acquisition): 1 - cos(0.5 deg) ~ 4e-5; we accept 1e-3 (~2.6 deg) as axial.
AXIAL_TOL: float = 1e-3

#: Liver window (level 60 HU, width 400 HU) as display limits in HU.
LIVER_WINDOW_HU: tuple[float, float] = (-140.0, 260.0)

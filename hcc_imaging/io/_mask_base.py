"""What every mask reader and writer of :mod:`hcc_imaging.io.masks` shares: the formats' file
endings and thresholds, the errors, and the label map's value type and default names.

Split out of ``masks.py`` (session of 2026-12-07, tenth) so the readers (:mod:`._mask_nifti`,
:mod:`._mask_dicom`) import them without importing ``masks.py``; ``masks.py`` re-exports all of
them, and the errors keep ``hcc_imaging.io.masks`` as their module (what users import and see in a
traceback).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import HccImagingError

#: A float NIfTI/ITK mask whose every value lies within this of an integer is a label map (rounded).
LABEL_TOLERANCE: float = 1e-3
#: File name endings written/read as NIfTI through SimpleITK.
NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")
#: Other ITK formats read and written through SimpleITK (same LPS handling).
ITK_SUFFIXES: tuple[str, ...] = (".nrrd", ".nhdr", ".mha", ".mhd")
#: A fractional (probability / partial-volume) mask value counts as inside at >= this value (a
#: FRACTIONAL SEG's values rescaled to 0..1; a float NIfTI probability map's values as stored).
#: 0.5 is the usual partial-volume convention (the voxel is at least half inside), the one used
#: by highdicom examples and by the perf.md phantoms.
FRACTIONAL_THRESHOLD: float = 0.5

_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


class MaskFormatError(HccImagingError, ValueError):
    """A mask file cannot be read or written as asked (unknown format, bad content)."""

    __module__ = "hcc_imaging.io.masks"


class OverlappingSegmentsError(MaskFormatError):
    """Segments / ROIs of one file overlap, so they cannot share one label map."""

    __module__ = "hcc_imaging.io.masks"



def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in (".nii.gz",):
        if name.endswith(s):
            return s
    return path.suffix.lower()


def _label_dtype(max_label: int) -> np.dtype[Any]:
    if max_label <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if max_label <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def _default_names(values: Sequence[int], label_names: Mapping[int, str] | None, prefix: str = "L") -> dict[int, str]:
    names = {int(v): f"{prefix}{int(v)}" for v in values}
    if label_names:
        names.update({int(k): str(v) for k, v in label_names.items()})
    return names


"""Intensity statistics of an image inside a mask (dcmqi / DICOM SR TID 1500 conventions).

Definitions (as in the dcmqi liver report, ``docs/measure.md``): over the voxels of the mask,
``volume_mm3`` = voxel count x voxel volume (slice *spacing*, never SliceThickness);
``mean``, ``minimum``, ``maximum`` of the image values (HU for CT, after rescale);
``sd`` = **sample** standard deviation (ddof = 1), which is what dcmqi reports
(59.1691 HU on its liver example, population SD would give 59.1688).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import GeometryMismatchError
from ..volume import LabelVolume, Volume
from .diameters import EmptyMaskError, resolve_label

__all__ = ["IntensityStats", "intensity_stats"]


@dataclass(frozen=True, slots=True)
class IntensityStats:
    """Statistics of image values inside a mask (units of the image: HU for CT)."""

    n_voxels: int
    volume_mm3: float
    mean: float
    minimum: float
    maximum: float
    sd: float
    median: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def intensity_stats(image: Volume, labels: LabelVolume, label: int | str | None = None) -> IntensityStats:
    """Volume, mean, min, max, sample SD and median of ``image`` inside one label.

    Parameters
    ----------
    image : Volume
        Image on the same grid as ``labels`` (CT in HU).
    labels : LabelVolume
    label : int or str or None
        Label value or name; None = every non-zero voxel.

    Raises
    ------
    GeometryMismatchError
        The two grids differ.
    EmptyMaskError
        The label has no voxel.
    """
    if not image.geometry_equal(labels):
        raise GeometryMismatchError(
            f"intensity_stats: image (series {image.series_instance_uid or 'unknown'}, shape {image.shape}) "
            f"and mask (shape {labels.shape}) are not on the same grid, so voxels cannot be paired. "
            "Resample the mask onto the image with labels.resample_to(image)."
        )
    value, lesion_id = resolve_label(labels, label)
    m: NDArray[np.bool_] = labels.array != 0 if value is None else labels.array == value
    vals = np.asarray(image.array)[m].astype(np.float64)
    if vals.size == 0:
        raise EmptyMaskError(
            f"intensity_stats: lesion {lesion_id!r} has no voxel; statistics of an empty region are "
            "undefined. Pass a label that is present."
        )
    sd = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
    return IntensityStats(
        n_voxels=int(vals.size),
        volume_mm3=float(vals.size * labels.voxel_volume_mm3),
        mean=float(vals.mean()),
        minimum=float(vals.min()),
        maximum=float(vals.max()),
        sd=sd,
        median=float(np.median(vals)),
    )

"""Liver mask: a hypodense tumour's capsular rim against the lung (private; step 6b of the
classical liver method, :func:`hypodense_rim`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from . import constants as C
from ._morph import ball


def hypodense_rim(m: NDArray[np.bool_], v: NDArray[np.float32], sp: tuple[float, float, float],
                  win_lo: float, taken: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """Outside voxels of a hypodense tumour's rim that lies against dark tissue -> (selection, D).

    ``m`` is the working-grid mask (a box of it), ``v`` the lightly smoothed working image on the
    same box, ``taken`` the outside voxels step 6 already gives a fraction.  Where a tumour darker
    than the liver window reaches the liver's surface under the lung, the window stops at its
    border with the parenchyma, and the tumour's capsular part between that border and the lung
    (a few mm of soft tissue, thinner than the tumour step's bridge scale) is in no piece.

    *Hypodense tumour in the mask*: mask voxels deeper than LIVER_RIM_TUMOUR_DEPTH_MM from its
    border whose v lies below the window's lower bound, in connected pieces of at least
    LIVER_RIM_TUMOUR_MIN_ML (the border's partial-volume voxels and single dark voxels do not
    count).  *Rim voxels*: outside voxels within LIVER_RIM_REACH_MM of the mask and within
    LIVER_RIM_TUMOUR_DEPTH_MM + LIVER_RIM_REACH_MM of such a tumour, not already in step 6's
    band, whose local dark value D (the minimum of v over the outside voxels within
    LIVER_RIM_DARK_SAMPLE_MM) lies LIVER_EDGE_DARK_BELOW_WINDOW_HU below the window.  The caller
    gives them step 6's fraction (v - D) / (L - D), so that soft tissue in front of the lung is
    taken and the lung is not.  Away from such tumours the mask is unchanged (a diaphragm over
    parenchyma stays out)."""
    from scipy import ndimage as ndi

    outside = ~m
    none = np.zeros_like(m)
    depth, reach = C.LIVER_RIM_TUMOUR_DEPTH_MM, C.LIVER_RIM_REACH_MM
    hypo = (_kernels.distance_transform_edt(m, sp) > depth) & (v < win_lo)
    if not hypo.any():
        return none, np.zeros(0, np.float32)
    lab, n = ndi.label(hypo)
    size_ml = np.bincount(lab.ravel(), minlength=n + 1) * float(np.prod(sp)) / 1000.0
    keep = size_ml >= C.LIVER_RIM_TUMOUR_MIN_ML
    keep[0] = False
    if not keep.any():
        return none, np.zeros(0, np.float32)
    near_tumour = _kernels.distance_transform_edt(~keep[lab], sp) <= depth + reach
    band = outside & ~taken & near_tumour & ndi.binary_dilation(m, structure=ball(reach, sp, min_one_voxel=True))
    fp = ball(C.LIVER_RIM_DARK_SAMPLE_MM, sp, min_one_voxel=True)
    dark_v = ndi.minimum_filter(np.where(outside, v, np.float32(np.inf)), footprint=fp, mode="nearest")
    sel = band & (dark_v <= win_lo - C.LIVER_EDGE_DARK_BELOW_WINDOW_HU)
    return sel, dark_v[sel]

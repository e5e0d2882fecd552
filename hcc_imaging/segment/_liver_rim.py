"""Liver mask: a hypodense tumour's capsular rim against the lung (private; step 6b of the
classical liver method, :func:`hypodense_rim`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from . import constants as C
from ._morph import ball, bbox, pad_box


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
    # the rest on a box around the kept pieces: rim voxels lie within depth + reach of them, the
    # mask voxels they are measured from within reach more, their dark values within sample more
    bb = bbox(keep[lab])
    assert bb is not None
    pad_mm = depth + 2.0 * reach + C.LIVER_RIM_DARK_SAMPLE_MM
    box = pad_box(bb[0], bb[1], np.ceil(pad_mm / np.asarray(sp)).astype(int) + 1, m.shape)
    mb, vb, outb = m[box], v[box], outside[box]
    near_tumour = _kernels.distance_transform_edt(~keep[lab[box]], sp) <= depth + reach
    band = outb & ~taken[box] & near_tumour & ndi.binary_dilation(mb, structure=ball(reach, sp, min_one_voxel=True))
    fp = ball(C.LIVER_RIM_DARK_SAMPLE_MM, sp, min_one_voxel=True)
    dark_v = ndi.minimum_filter(np.where(outb, vb, np.float32(np.inf)), footprint=fp, mode="nearest")
    sel_b = band & (dark_v <= win_lo - C.LIVER_EDGE_DARK_BELOW_WINDOW_HU)
    sel = np.zeros_like(m)
    sel[box] = sel_b
    # the same order as sel's True voxels in the whole array (C order within the box = C order)
    return sel, dark_v[sel_b]

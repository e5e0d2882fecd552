"""Liver mask at the dome: the heart above the diaphragm (private; step 3c of the classical
liver method, :func:`split_heart`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry
from . import _kernels
from . import constants as C


_ARTERIAL = ("arterial", "arterial_early", "arterial_late")


def split_heart(liver: NDArray[np.bool_], sm: NDArray[np.float32], body: NDArray[np.bool_], geom: Geometry,
                win_lo: float, win_hi: float, phase: str, closing_radius_mm: float) -> NDArray[np.bool_]:
    """The liver mask (work grid, before the closing) without the heart tissue it took in over
    the dome.

    Over the dome the heart lies on the diaphragm, and its myocardium (and the less enhanced
    blood of the right heart) is inside the liver window; the diaphragm between them is a few
    mm thick and, on the 2 mm working grid, not darker than the window everywhere (IRCAD17: the
    expert liver's voxels that touch the heart part of our mask have a median of 90 HU against
    the liver's 105: no window, threshold at full resolution or valley along z separates them,
    docs/validation.md section 5).  The two are told apart by shape instead: a watershed of the
    *depth* (distance to the border) of the tissue at or above the window's lower bound (up to
    LIVER_HEART_TISSUE_MAX_HU, which leaves bone out), from two kinds of markers:

    * liver: the mask's voxels deeper than LIVER_HEART_LIVER_MARKER_MM inside the mask itself
      (a normal myocardium, <= 12 mm thick, holds no ball that wide; the liver's bulk does);
    * heart: contrast-filled blood above the window's top, outside the mask, cranial to the
      liver's largest axial cross-section, deeper than LIVER_HEART_MARKER_DEPTH_MM inside the
      tissue (only the heart, blood in chambers wrapped in myocardium, is that deep above the
      liver; the aorta and the cava are narrower), and not mainly inside the liver's outline
      (the mask closed with ``closing_radius_mm`` and filled, as step 4 does next): a connected
      piece of such blood with more than LIVER_HEART_MAX_SHARE_IN_LIVER of its voxels in it is an
      enhancing lesion or vessel, not the heart.

    Voxels of the mask that the heart's markers flood are removed (the neck between the two
    basins is where the heart sits on the dome); the liver is the largest component of the rest.
    :func:`.liver.segment_liver` keeps the removed voxels out of the tumour-inclusion step, which
    would otherwise put most of them back as a "tumour piece" enclosed by the liver.
    Nothing happens when there is no heart marker (the scan stops below the heart, or the blood
    is brighter than LIVER_HEART_TISSUE_MAX_HU), nor in arterial phases (``phase``), in which
    hypervascular tumours, the spleen and the kidneys are above the window as well: on the
    make_study arterial phase a typical HCC (L1) and the spleen were taken for heart markers and
    the liver lost 1.7 % Dice before this rule."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    from ._morph import closing_mm, fill_holes, largest_component

    if phase in _ARTERIAL:
        return liver
    sp = geom.spacing
    n0 = liver.shape[0]
    z = geom.index_to_lps(np.c_[np.arange(n0), np.zeros(n0), np.zeros(n0)])[:, 2]
    k_max = int(np.argmax(liver.sum((1, 2))))
    cranial = (z > z[k_max])[:, None, None]  # LPS z grows to the head
    tissue = (body & (sm >= win_lo) & (sm <= C.LIVER_HEART_TISSUE_MAX_HU)) | liver
    depth = _kernels.distance_transform_edt(tissue, sp)
    heart = tissue & ~liver & (sm > win_hi) & cranial & (depth >= C.LIVER_HEART_MARKER_DEPTH_MM)
    if not heart.any():
        return liver
    lab, n = ndi.label(heart)
    outline = fill_holes(closing_mm(liver, closing_radius_mm, sp))
    inside = np.bincount(lab[outline], minlength=n + 1) / np.maximum(np.bincount(lab.ravel(), minlength=n + 1), 1)
    keep = inside <= C.LIVER_HEART_MAX_SHARE_IN_LIVER
    keep[0] = False
    heart = keep[lab]
    if not heart.any():
        return liver
    markers = np.zeros(liver.shape, np.int32)
    markers[_kernels.distance_transform_edt(liver, sp) >= C.LIVER_HEART_LIVER_MARKER_MM] = 1
    markers[heart] = 2
    ws = watershed(-depth, markers, mask=tissue)
    return largest_component(liver & (ws != 2))

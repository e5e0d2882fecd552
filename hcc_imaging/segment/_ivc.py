"""Liver mask below the liver: the extrahepatic inferior vena cava (private; step 3b of the
classical liver method, :func:`drop_caudal_ivc`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry
from . import constants as C


def drop_caudal_ivc(liver: NDArray[np.bool_], body: NDArray[np.bool_], geom: Geometry) -> tuple[NDArray[np.bool_], int]:
    """The liver mask (work grid) without the inferior vena cava below the liver -> (mask, voxels removed).

    Below the liver's largest axial cross-section the liver window also holds the IVC, a tube
    that runs caudally in front of the spine, just right of the midline, and joins the liver
    at its bare area; the eroded-and-dilated window keeps it because it is joined to the liver
    there.  On each axial slice caudal to the largest one, a 2-D component of the mask is
    *IVC-like* when it is vessel-sized (area <= LIVER_IVC_MAX_AREA_MM2, largest inscribed
    radius LIVER_IVC_RADIUS_MM), round (area / (pi r_in^2) <= LIVER_IVC_MAX_ROUNDNESS) and
    medial (its centre within LIVER_IVC_MAX_MIDLINE_MM of the body's midline on that slice).
    IVC-like components that touch from slice to slice form columns; a column at least
    LIVER_IVC_MIN_LENGTH_MM long is a tube, not the liver's caudal tip (which widens within a
    few slices), and is removed.  The liver is the largest component of what is left."""
    from scipy import ndimage as ndi

    from ._morph import largest_component

    sp = geom.spacing
    n0 = liver.shape[0]
    z = geom.index_to_lps(np.c_[np.arange(n0), np.zeros(n0), np.zeros(n0)])[:, 2]
    k_max = int(np.argmax(liver.sum((1, 2))))
    below = np.flatnonzero(z < z[k_max])  # LPS z grows to the head: caudal slices
    pixel_mm2 = sp[1] * sp[2]
    r_lo, r_hi = C.LIVER_IVC_RADIUS_MM
    cand = np.zeros_like(liver)
    for k in below:
        if not liver[k].any():
            continue
        lab, n = ndi.label(liver[k])
        if n == 0:
            continue
        cols_body = np.flatnonzero(body[k].any(0))
        mid = 0.5 * (cols_body[0] + cols_body[-1]) if cols_body.size else 0.5 * liver.shape[2]
        area = np.bincount(lab.ravel())[1:] * pixel_mm2
        cms = ndi.center_of_mass(np.ones_like(lab), lab, np.arange(1, n + 1))
        objs = ndi.find_objects(lab)
        for i in range(n):
            if area[i] > C.LIVER_IVC_MAX_AREA_MM2 or abs(cms[i][1] - mid) * sp[2] > C.LIVER_IVC_MAX_MIDLINE_MM:
                continue
            comp = lab[objs[i]] == i + 1
            r_in = float(ndi.distance_transform_edt(np.pad(comp, 1), sampling=sp[1:]).max())
            if not r_lo <= r_in <= r_hi or area[i] / (np.pi * r_in * r_in) > C.LIVER_IVC_MAX_ROUNDNESS:
                continue
            cand[k][objs[i]] |= comp
    if not cand.any():
        return liver, 0
    lab3, n3 = ndi.label(cand)
    out = liver.copy()
    for i, sl in enumerate(ndi.find_objects(lab3), start=1):
        if (sl[0].stop - sl[0].start) * sp[0] >= C.LIVER_IVC_MIN_LENGTH_MM:
            out[sl] &= lab3[sl] != i
    out = largest_component(out)
    return out, int(liver.sum() - out.sum())

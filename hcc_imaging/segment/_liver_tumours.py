"""The liver's tumour inclusion (step 5 of :func:`.liver.segment_liver`; private).

Soft tissue outside the liver mask is cut into pieces at bridges thinner than 2 x ``erosion_radius_mm``
(:func:`_tumour_candidates`); a piece the liver encloses (:func:`_enclosed_by_liver`: its contact with the liver and
the liver's share of its border on tissue) that is no brighter than the parenchyma and smaller than the liver joins
it, as does the piece under each ``include_lps`` point (:func:`_include_pieces`).  Split from :mod:`.liver`
(session of 2026-12-07, ninth; the same code, moved).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import _kernels
from ._morph import bbox, closing_mm, fill_holes, pad_box

if TYPE_CHECKING:
    from .liver import LiverParams

log = logging.getLogger("hcc_imaging.segment.liver")  # (the liver's messages under one logger, as before the split)


_NEIGHBOURS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


def _shifted(a: NDArray[Any], d: tuple[int, int, int], fill: Any) -> NDArray[Any]:
    """``a`` moved by ``d`` voxels (out[i] = a[i + d]), ``fill`` where that leaves the grid."""
    out = np.full_like(a, fill)
    src = tuple(slice(max(k, 0), n + min(k, 0)) for k, n in zip(d, a.shape, strict=True))
    dst = tuple(slice(max(-k, 0), n + min(-k, 0)) for k, n in zip(d, a.shape, strict=True))
    out[dst] = a[src]
    return out


def _tumour_candidates(sm: NDArray[np.float32], body: NDArray[np.bool_], liver: NDArray[np.bool_],
                       sp: tuple[float, float, float], window_top_hu: float, p: LiverParams,
                       exclude: NDArray[np.bool_] | None = None) -> tuple[NDArray[np.int32], int, NDArray[np.bool_]]:
    """Connected pieces of soft tissue outside the liver mask, cut at bridges thinner than
    2 x ``erosion_radius_mm`` (the same scale that separates the liver from its neighbours).

    Soft tissue = body voxels from ``tumour_min_hu`` (necrosis, fluid) up to the top of the
    liver window.  Returns (labels, count, soft-tissue mask)."""
    from scipy import ndimage as ndi

    soft = body & ~liver & (sm >= p.tumour_min_hu) & (sm <= window_top_hu)
    if exclude is not None:
        soft &= ~exclude
    core = _kernels.distance_transform_edt(soft, sp) > p.erosion_radius_mm
    lab, n = ndi.label(core)
    if n == 0:
        return lab.astype(np.int32), 0, soft
    dist, ind = ndi.distance_transform_edt(lab == 0, sampling=sp, return_indices=True)
    grown = lab[tuple(ind)]
    grown[(dist > p.erosion_radius_mm) | ~soft] = 0
    return grown.astype(np.int32), int(n), soft


def _enclosed_by_liver(lab: NDArray[np.int32], n: int, liver: NDArray[np.bool_], sm: NDArray[np.float32],
                       body: NDArray[np.bool_], p: LiverParams) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per piece: the share of its border faces on liver (contact) and the liver's share of
    the border faces on tissue (liver + other soft tissue or organs; fat, lung and air are
    open, they do not count against)."""
    # classes of a neighbour: 0 liver, 1 open (fat/lung/air, or off the grid), 2 another piece,
    # 3 tissue thinner than the bridge scale that belongs to no piece (diaphragm, vessel and
    # bowel walls, partial-volume rims): neutral, counted nowhere
    cls = np.full(lab.shape, 3, np.uint8)
    cls[lab > 0] = 2
    cls[(sm < p.tumour_min_hu) | ~body] = 1
    cls[liver] = 0
    counts = np.zeros((n + 1, 4), np.int64)
    for d in _NEIGHBOURS:
        nl = _shifted(lab, d, 0)
        nc = _shifted(cls, d, 1)
        edge = (lab > 0) & (nl != lab)
        counts += np.bincount(lab[edge].astype(np.int64) * 4 + nc[edge], minlength=(n + 1) * 4).reshape(n + 1, 4)
    counts = counts[:, :3]
    total = counts.sum(1).astype(float)
    tissue = (counts[:, 0] + counts[:, 2]).astype(float)
    contact = np.divide(counts[:, 0], total, out=np.zeros(n + 1), where=total > 0)
    share = np.divide(counts[:, 0], tissue, out=np.zeros(n + 1), where=tissue > 0)
    return contact, share


def _include_pieces(liver: NDArray[np.bool_], sm: NDArray[np.float32], body: NDArray[np.bool_],
                    sp: tuple[float, float, float], liver_hu: float, window_top_hu: float, p: LiverParams,
                    include_idx: list[tuple[int, ...]], exclude: NDArray[np.bool_] | None = None) -> tuple[NDArray[np.bool_], int]:
    """Tumour inclusion (work grid): add the soft-tissue pieces the liver encloses (see
    :data:`constants.LIVER_TUMOUR_MIN_LIVER_CONTACT` and neighbours) and the pieces under
    ``include_idx``, then close and fill holes again around them; voxels of ``exclude`` (the heart
    tissue that step 3c took out of the mask) are never a piece.  Returns (mask, pieces added)."""
    lab, n_c, _soft = _tumour_candidates(sm, body, liver, sp, window_top_hu, p, exclude)
    if n_c == 0:
        return liver, 0
    size = np.bincount(lab.ravel(), minlength=n_c + 1)
    # a piece larger than the liver mask it would join is the tissue around the liver (on the
    # make_study phantom the abdominal soft tissue, at about the liver's HU, fills the body)
    small_enough = size <= p.tumour_max_volume_ratio * int(liver.sum())
    ok = np.zeros(n_c + 1, bool)
    if p.include_tumours:
        contact, share = _enclosed_by_liver(lab, n_c, liver, sm, body, p)
        ok = (contact >= p.tumour_min_liver_contact) & (share >= p.tumour_min_liver_share) & small_enough
        # the missing tumour parts are darker than parenchyma (necrosis; washout in the portal-
        # venous and later phases); iso-dense tumour is already in the window.  A piece whose
        # median is above the parenchyma value is contrast-filled blood (a heart chamber, the
        # cava, a portal trunk) or another enhancing organ, not tumour.
        for i in np.flatnonzero(ok):
            ok[i] = float(np.median(sm[lab == i])) <= liver_hu
    for q in include_idx:
        i = int(lab[q])
        if i and not small_enough[i]:
            log.info("include_lps point at work voxel %s: its piece (%d voxels) is larger than the liver; not added", q, size[i])
        elif i:
            ok[i] = True
    ok[0] = False
    n = int(ok.sum())
    if n == 0:
        return liver, 0
    add = ok[lab]
    # a piece is the tumour plus any soft tissue joined to it by a bridge thicker than the bridge
    # scale; keep its voxels that lie nearer the liver than any thick other tissue (an organ
    # that survives the same erosion: heart, bowel), so the tissue between a tumour and such an
    # organ (diaphragm, pericardium) stays out; fat, lung and air do not count.  The pieces under
    # include_lps points too: a point nearer another organ than the liver is left out
    other = body & ~liver & ~add & (sm >= p.tumour_min_hu)
    other_core = _kernels.distance_transform_edt(other, sp) > p.erosion_radius_mm
    if other_core.any():
        add &= _kernels.distance_transform_edt(~liver, sp) <= _kernels.distance_transform_edt(~other_core, sp)
    bb = bbox(add)
    if bb is None:
        return liver, 0
    # the closing only changes the mask within 2 closing radii of the added pieces; the box adds
    # 2 more radii so that its faces do not matter
    r = p.closing_radius_mm
    box = pad_box(bb[0], bb[1], np.ceil(4.0 * r / np.asarray(sp)).astype(int) + 1, liver.shape)
    out = liver | add
    out[box] |= closing_mm(out[box], r, sp) & body[box]
    return fill_holes(out), n

"""A drawn line's clamp (private; read by :mod:`._driver`): the ball around a drawn line that the line's mask must
stay inside (the line's length times ``LESION_LINE_CLAMP_FACTOR``, about its midpoint), whether a mask reaches it,
whether the clamp cut a slice of the lesion or held its growth back, and whether a line's region leaked to it.
Split from :mod:`._driver` (session of 2026-12-07, ninth; the same code, moved).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import LabelVolume, Volume
from . import constants as C
from ._grow import _Model, _RoiResult, _SmoothCache, _smoothed
from ._morph import gaussian_sigma_vox, pad_box
from ._types import LesionParams


def _clamp_ball(line: NDArray[np.float64], factor: float) -> tuple[NDArray[np.float64], float]:
    """The leak clamp around a drawn line: its midpoint (LPS) and radius ``factor`` x its half-length (mm)."""
    return 0.5 * (line[0] + line[1]), factor * 0.5 * float(np.linalg.norm(line[1] - line[0]))


def _reaches_line_clamp(
    mask: NDArray[Any], box: tuple[slice, ...], vol: Volume | LabelVolume, line: NDArray[np.float64], factor: float,
) -> bool:
    """Whether the mask reaches (within one voxel) the ball of radius ``factor`` x the line's
    half-length around its midpoint, which bounds a line's growth (1.10: a leak stopped only by that
    clamp was returned with no note).  A lesion drawn edge to edge lies within half a length of the
    midpoint, well inside the 1.6 x (0.8 lengths) ball.  ``mask``: the mask on the slices ``box``
    of the image (it holds every mask voxel)."""
    idx = np.argwhere(mask != 0)
    if not idx.size:
        return False
    mid, radius = _clamp_ball(line, factor)
    pts = vol.geometry.index_to_lps(idx + np.array([b.start or 0 for b in box], float))
    far = float(np.sqrt(np.max(np.sum((pts - mid) ** 2, axis=1))))
    return far >= radius - float(max(vol.spacing))


def _neighbours_beyond(idx: NDArray[np.int64], grid: Volume | LabelVolume, line: NDArray[np.float64], factor: float,
                       axes: Sequence[int]) -> NDArray[np.int64]:
    """The face neighbours along ``axes`` of the voxels ``idx`` (indices on ``grid``) whose centres
    lie outside the leak clamp (the ball of ``factor`` x the line's half-length around its
    midpoint); they may repeat and lie outside the image."""
    mid, radius = _clamp_ball(line, factor)
    # only a voxel within one voxel (the largest spacing along ``axes``) of the ball can have one
    slack = max(grid.spacing[a] for a in axes)
    idx = idx[np.sum((grid.index_to_lps(idx.astype(np.float64)) - mid) ** 2, axis=1) > (radius - slack) ** 2]
    out = [idx[:0]]
    for axis in axes:
        for step in (-1, 1):
            nb = idx.copy()
            nb[:, axis] += step
            out.append(nb[np.sum((grid.index_to_lps(nb.astype(np.float64)) - mid) ** 2, axis=1) > radius * radius])
    return np.concatenate(out)


def _clamp_cuts_a_slice(labels: LabelVolume, line: NDArray[np.float64], factor: float) -> bool:
    """Whether the leak clamp (the ball of ``factor`` x the line's half-length around its midpoint)
    cut the mask within a slice: a mask voxel has a neighbour in its slice (row or column) whose
    centre lies outside the ball.  Across slices a thick slice's neighbour lies beyond the ball
    when nothing stopped the growth there (the study phantom's L3 lines on 5 mm slices graze it so,
    at Dice 0.95-0.96); within a slice a region that reaches the ball was stopped by it (IRCAD17's
    lines, 80-11,000 such voxels)."""
    return bool(_neighbours_beyond(np.argwhere(labels.array != 0), labels, line, factor, (1, 2)).size)


def _clamp_held_back(full: NDArray[Any], sl: tuple[slice, ...], model: _Model, vol: Volume,
                     liv: NDArray[np.bool_] | None, line: NDArray[np.float64], p: LesionParams,
                     cache: _SmoothCache) -> bool:
    """Whether the leak clamp held a one-phase window's growth back (1.39): a face neighbour of the
    mask (along any axis) lies beyond the clamp's ball, in the liver mask when one is given, and
    in the window ``model`` grew the mask with (its smoothed value), so that the growth would have
    gone on without the clamp.  :func:`_reaches_line_clamp`'s one voxel (the largest spacing) of
    slack also flags a thick slice's end whose neighbour lies beyond the ball while nothing there
    is of the lesion's value (46 of the robustness sweep's 224 lines, 19 of them at Dice >= 0.95).
    ``full``: the whole image's mask, all of it within the slices ``sl``."""
    lo = np.array([b.start or 0 for b in sl], np.int64)
    nb = _neighbours_beyond(np.argwhere(full[sl] != 0) + lo, vol, line, p.line_clamp_factor, (0, 1, 2))
    nb = nb[np.all((nb >= 0) & (nb < np.asarray(vol.shape)), axis=1)]
    nb = nb[full[tuple(nb.T)] == 0]
    if liv is not None:
        nb = nb[liv[tuple(nb.T)]]
    if not nb.size:
        return False
    sig_vox = gaussian_sigma_vox(p.smoothing_sigma_mm, vol.spacing, p.smoothing_min_vox)
    pad = np.ceil(4.0 * np.asarray(sig_vox)).astype(np.int64) + 1
    box = pad_box(nb.min(axis=0), nb.max(axis=0) + 1, pad, vol.shape)
    smooth = _smoothed(vol, box, sig_vox, cache)[1]
    v = smooth[tuple((nb - np.array([b.start for b in box])).T)]
    return bool(np.any((v >= model.low) & (v <= model.high)))


def _line_leaked(rr: _RoiResult, vol: Volume, line: NDArray[np.float64], factor: float) -> bool:
    """Whether a line's mask ``rr`` has leaked: it reaches the clamp (:func:`_reaches_line_clamp`)
    and is larger than ``LESION_LINE_LEAK_BALL_RATIO`` x the ball whose diameter is the line."""
    length = float(np.linalg.norm(line[1] - line[0]))
    volume = float(np.count_nonzero(rr.mask)) * vol.voxel_volume_mm3
    return (volume > C.LESION_LINE_LEAK_BALL_RATIO * np.pi / 6.0 * length**3
            and _reaches_line_clamp(rr.mask, rr.box, vol, line, factor))

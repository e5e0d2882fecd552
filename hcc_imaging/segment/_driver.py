"""The driver of :func:`~hcc_imaging.segment.lesion.segment_lesion`: input checks, the phase
choice, steps 7-13 called in order, the notes, checks and provenance of the result (built by
:mod:`._result_notes`; a drawn line's clamp is :mod:`._line_clamp`'s).

The method, step by step, is the :mod:`hcc_imaging.segment.lesion` docstring; the steps themselves
are in :mod:`._grow`, :mod:`._expand`, :mod:`._refine`, :mod:`._rim`, :mod:`._multiphase`, :mod:`._radial`,
:mod:`._vessel`, :mod:`._blur`, :mod:`._sharp` and :mod:`._rind`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..volume import ARTERIAL_PREFERENCE, LabelVolume, Modality, Phase, Volume
from . import constants as C
from ._blur import blurred_border
from ._sharp import sharp_border
from ._grow import _line_coverage, _RoiResult, _SmoothCache
from ._line_clamp import _clamp_cuts_a_slice, _clamp_held_back, _line_leaked, _reaches_line_clamp
from ._multiphase import _combined_border, _joint_fallback, _mixed_on_other_phase
from ._radial import past_liver_mask_mm
from ._refine import _grow_on_other_phase, _regrow_on_best_phase, _segment_on
from ._rim import _add_enhancing_layers
from ._result_notes import _edge_checks, _edge_reach, _result, _rind_result, _step_notes
from ._rind import RindAhead, RindFit
from ._steps_9b_11 import Steps9b11, add_lipiodol, lipiodol_and_defect
from ._types import LesionParams, SegmentationResult
from .errors import LowContrastError, NotEnclosedError, SeedError, SegmentationError

log = logging.getLogger("hcc_imaging.segment.lesion")  # the public module's logger, as before the split

#: step 13's phase, the first of these the study has: the layer enhances on the arterial phase
_RIND_PHASES = ARTERIAL_PREFERENCE


def _rind_inputs(phases: Mapping[Phase, Volume], vol: Volume, seed_vox: tuple[int, int, int],
                 liv: NDArray[np.bool_] | None) -> tuple[str, tuple[Any, ...]] | None:
    """What step 13 without being asked reads on ``vol``'s grid: (its phase, the arguments of
    :func:`rind_border` / :class:`RindAhead`: that phase's image, the click, the spacing, the liver,
    whether the values are HU), or None on pixels coarser than ``LESION_RIND_MAX_PIXEL_MM`` or
    without one of ``_RIND_PHASES`` on the grid."""
    if min(vol.spacing[1:]) > C.LESION_RIND_MAX_PIXEL_MM:
        return None
    k = next((k for k in _RIND_PHASES if k in phases and phases[k].geometry.equals(vol.geometry)), None)
    if k is None:
        return None
    return str(k), (phases[k].array, seed_vox, vol.spacing, liv, vol.modality == Modality.CT)


# ------------------------------------------------------------------------------------------
# internals
# ------------------------------------------------------------------------------------------


def _early_rind(phases: Mapping[Phase, Volume], seed_on: Callable[[Volume], tuple[int, int, int]],
                liver: LabelVolume | None, livers: list[tuple[Any, NDArray[np.bool_] | None]],
                aheads: list[RindAhead]) -> Callable[[Phase, Volume, str], None]:
    """The phase choice's ``first_round`` for step 13 without being asked: once the first round on
    step 13's own phase (the first of ``_RIND_PHASES`` the study has) finds the click's region
    hypodense, the fit starts on its thread (``RindAhead``, appended to ``aheads``) while the other
    phases' first rounds run, not after them (2026-12-06, fourth: 8-18 ms earlier on the rind
    scene, whose arterial phase comes first).  The fit reads the inputs :func:`_rind_inputs` gives
    on that phase's grid; the click reads it when step 13 is tried on the same inputs, else stops it."""
    own = next((k for k in _RIND_PHASES if k in phases), None)

    def first_round(ph: Phase, vol: Volume, mode: str) -> None:
        if ph != own or mode != "hypo":
            return
        at = _rind_inputs(phases, vol, seed_on(vol), _liver_on(liver, vol, livers))
        if at is not None and not any(a.reads(*at[1]) for a in aheads):
            aheads.append(RindAhead(*at[1]))

    return first_round


def _as_phases(volume: Volume | Mapping[Phase | str, Volume]) -> dict[Phase, Volume]:
    if isinstance(volume, Volume):
        return {volume.phase: volume}
    if isinstance(volume, Mapping):
        out: dict[Phase, Volume] = {}
        for k, v in volume.items():
            if not isinstance(v, Volume):
                raise TypeError(f"phase {k!r} maps to {type(v).__name__}, expected a Volume.")
            out[Phase(k)] = v
        if not out:
            raise SegmentationError("no phase volume given; pass a Volume or a non-empty {phase: Volume} mapping.")
        return out
    raise TypeError(f"segment_lesion needs a Volume or a mapping phase -> Volume, got {type(volume).__name__}.")


def _leaves_line(new: _RoiResult, old: _RoiResult, line_vox: NDArray[np.float64] | None,
                 spacing: Sequence[float]) -> bool:
    """Whether ``new`` (a joint mask) leaves out much of the drawn line (less than
    ``LESION_LINE_MIN_COVERAGE`` of its central part) that ``old`` (the one-phase mask) covers;
    False without a line."""
    return line_vox is not None and (
        _line_coverage(new.mask, new.lo, line_vox, spacing) < C.LESION_LINE_MIN_COVERAGE
        <= _line_coverage(old.mask, old.lo, line_vox, spacing))


def _liver_on(liver: LabelVolume | None, vol: Volume,
              memo: list[tuple[Any, NDArray[np.bool_] | None]] | None = None) -> NDArray[np.bool_] | None:
    """The liver mask on ``vol``'s grid (resampled when needed), or None (none given, or none of it
    on that grid: a warning says so; an empty mask :func:`segment_lesion` refused).  A mask in another
    frame of reference than ``vol`` (both known) is refused (GeometryMismatchError).  ``memo`` (one call's): the masks already
    made, by grid (the phases of a study share one; a 512 x 512 x 100 mask took 4 ms per phase)."""
    if liver is None:
        return None
    if liver.frame_of_reference_uid and vol.frame_of_reference_uid \
            and liver.frame_of_reference_uid != vol.frame_of_reference_uid:
        from ..errors import GeometryMismatchError

        raise GeometryMismatchError(
            f"the liver mask given (drawn on series {liver.source_series_instance_uid or 'unknown'}) is in frame of "
            f"reference {liver.frame_of_reference_uid}, the image (series {vol.series_instance_uid or 'unknown'}) in "
            f"{vol.frame_of_reference_uid}: it is another study's (or another scan's) liver, and would bound the lesion "
            "at the wrong place. Pass this study's liver mask (segment_liver, hcc-imaging segment --liver), or move "
            "that one first (register_volumes, then Registration.resample_labels).")
    for geom, known in memo or ():
        if geom.equals(vol.geometry):
            return known
    if not liver.geometry.equals(vol.geometry):
        liver = liver.resample_to(vol)
    m = liver.mask()
    out = m if m.any() else None
    if out is None:  # segment_lesion refused an empty one: this one lies outside this phase's field
        log.warning("the liver mask given has no voxel on the grid of series %s (shape %s): it lies outside that "
                    "image, which is segmented without it. Give the liver mask of this study (drawn on its images, "
                    "or segment_liver / --liver).", vol.series_instance_uid or "unknown", vol.shape)
    if memo is not None:
        memo.append((vol.geometry, out))
    return out


def _check_finite_near(phases: Mapping[Phase, Volume], seed_on: Callable[[Volume], tuple[int, int, int]],
                       seed_txt: tuple[float, ...], p: LesionParams, roi_mm: float | None,
                       line: NDArray[np.float64] | None) -> None:
    """Refuse NaN or infinite voxels in the box a click can read on any phase: its largest region of
    interest (``roi_max_half_size_mm``, ``roi_mm``, or the drawn line's clamp) plus the smoothing's
    reach, around the seed.  Such voxels (a float image's padding, a resampling's outside) are no
    intensity: they changed the mask without a word (a NaN hole in a lesion: 25.8 -> 40.1 mL, a
    click on them still gave a mask).  Only that box is read (the whole of a 512 x 512 x 100 float
    image took 11 ms per phase), so NaN padding far from the click does not stop it; integer images
    are not read at all."""
    reach_mm = max(p.roi_max_half_size_mm, roi_mm or 0.0)
    if line is not None:
        reach_mm = max(reach_mm, float(np.linalg.norm(line[1] - line[0])) * max(p.line_roi_factor, p.line_clamp_factor))
    reach_mm += 4.0 * p.smoothing_sigma_mm
    for ph, vol in phases.items():
        if not np.issubdtype(vol.array.dtype, np.floating):
            continue
        try:
            centre = np.asarray(seed_on(vol))
        except SeedError:
            continue  # the phase choice says so (or skips that phase)
        half = np.ceil(reach_mm / np.asarray(vol.spacing, float)).astype(int) + 1
        lo = np.maximum(centre - half, 0)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, np.minimum(centre + half + 1, vol.shape), strict=True))
        bad = ~np.isfinite(vol.array[box])
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0] + lo)
            raise SegmentationError(
                f"the {'' if ph == Phase.UNKNOWN else f'{ph} '}image (series {vol.series_instance_uid or 'unknown'}) has {int(bad.sum())} NaN or infinite "
                f"voxels within {reach_mm:.0f} mm of the click at LPS {seed_txt} (the first at voxel {first}, slice, "
                "row, col), where the segmentation reads it: they are no intensity, and would change the mask without "
                "a word. Replace them with a real value (air, -1024 HU on CT; e.g. numpy.nan_to_num) or crop them "
                "out, and save the image again.")


def _choose_phase(phases: Mapping[Phase, Volume], phase: Phase | None, rind: bool, p: LesionParams,
                  seed_on: Callable[[Volume], tuple[int, int, int]], liver: LabelVolume | None,
                  livers: list[tuple[Any, NDArray[np.bool_] | None]], line: NDArray[np.float64] | None,
                  roi_mm: float | None, cache: _SmoothCache,
                  first_round: Callable[[Phase, Volume, str], None] | None = None,
                  ) -> tuple[Phase, dict[str, float], dict[str, str]]:
    """The phase a click is segmented on: ``phase`` when given; with ``rind`` the first of
    ``_RIND_PHASES`` the study has (the layer enhances there), else the first image; else, with
    several phases, the one where the first round (steps 1-7 once) finds the click's region most
    conspicuous (a phase that refuses the click counts 0; the first of equals); else the one image.
    Returns it, each phase's conspicuity (rounded, for the provenance) and each phase's first-round
    model's mode; ``first_round`` is told each phase's mode as soon as its first round ends."""
    conspicuity: dict[str, float] = {}
    first_modes: dict[str, str] = {}
    if rind and phase is None:
        phase = next((k for k in _RIND_PHASES if k in phases), next(iter(phases)))
    if phase is not None:
        return phase, conspicuity, first_modes
    if len(phases) > 1:
        cp = LesionParams(**{**asdict(p), "iterations": 1})
        best: tuple[float, Phase] | None = None
        for ph, vol in phases.items():
            try:
                rr = _segment_on(vol, seed_on(vol), cp, _liver_on(liver, vol, livers),
                                 None if line is None else vol.lps_to_index(line), roi_mm, first_round_only=True,
                                 cache=cache)
                cnr = rr.model.conspicuity
                first_modes[str(ph)] = rr.model.mode
                if first_round is not None:
                    first_round(ph, vol, rr.model.mode)
            except LowContrastError:
                cnr = 0.0
            conspicuity[str(ph)] = round(float(cnr), 3)
            if best is None or cnr > best[0]:
                best = (cnr, ph)
        if best is not None:
            return best[1], conspicuity, first_modes
    return next(iter(phases)), conspicuity, first_modes


def _check_seed_in_liver(liv: NDArray[np.bool_] | None, seed_vox: tuple[int, int, int], seed_txt: tuple[float, ...],
                         extrahepatic: bool) -> None:
    """A :class:`SeedError` naming the fix when the click lies outside the region the lesion is kept
    in (``liv``: the liver mask, or with ``extrahepatic`` everything outside it)."""
    if liv is None or liv[seed_vox]:
        return
    if extrahepatic:
        raise SeedError(
            f"seed {seed_txt} mm (voxel {seed_vox}) is inside the liver mask, but "
            "extrahepatic=True keeps the lesion outside it; click the extrahepatic lesion (node), or pass "
            "extrahepatic=False for a liver lesion."
        )
    raise SeedError(
        f"seed {seed_txt} mm (voxel {seed_vox}) is outside the liver mask; "
        "click inside the liver, pass liver=None, or re-run segment_liver(..., include_lps=[the click]) so "
        "that the liver mask holds the lesion; for a lesion outside the liver (a lymph node) pass "
        "extrahepatic=True to keep it out of the liver mask."
    )


def _line_on_other_phase(
    rr: _RoiResult, phases: Mapping[Phase, Volume], phase: Phase, vol: Volume, line: NDArray[np.float64],
    line_vox: NDArray[np.float64], conspicuity: Mapping[str, float], p: LesionParams,
    seed_on: Callable[[Volume], tuple[int, int, int]], liver: LabelVolume | None,
    livers: list[tuple[Any, NDArray[np.bool_] | None]], roi_mm: float | None, cache: _SmoothCache,
) -> tuple[Phase, Volume, tuple[int, int, int], NDArray[np.bool_] | None, NDArray[np.float64], _RoiResult, str] | None:
    """A drawn line's mask ``rr`` on ``phase`` that leaves out much of the line has missed a part (a
    part that the phase's one-sided window excludes): the other phases where the click was not
    refused, most conspicuous first; the first whose mask covers ``LESION_LINE_MIN_COVERAGE`` of the
    line's central part, as (its phase, volume, click, liver, line in voxels, mask, a note), or None."""
    cov = _line_coverage(rr.mask, rr.lo, line_vox, vol.spacing)
    if cov >= C.LESION_LINE_MIN_COVERAGE:
        return None
    for ph in sorted((k for k in phases if k != phase and conspicuity.get(str(k), 0.0) > 0),
                     key=lambda k: -conspicuity[str(k)]):
        v2 = phases[ph]
        seed2, liv2, line2 = seed_on(v2), _liver_on(liver, v2, livers), v2.lps_to_index(line)
        if liv2 is not None and not liv2[seed2]:
            continue
        try:
            rr2 = _segment_on(v2, seed2, p, liv2, line2, roi_mm, cache=cache)
        except LowContrastError:
            continue
        cov2 = _line_coverage(rr2.mask, rr2.lo, line2, v2.spacing)
        if cov2 >= C.LESION_LINE_MIN_COVERAGE:
            note = (
                f"the mask on the most conspicuous phase ({phase}) covered {cov:.0%} of the drawn line's "
                f"central part; the {ph} phase's mask covers {cov2:.0%} of it and is used (a part of the "
                "lesion on the line was outside the first phase's window)."
            )
            return ph, v2, seed2, liv2, line2, rr2, note
    return None


def _fit_holds(ahead: RindAhead, rr: _RoiResult, seed_vox: tuple[int, int, int]) -> bool:
    """1.62: whether step 13's fit ``ahead`` (waited for when it passed the rays' floors) gave a mask
    that holds the click (``rr``: the mask it replaces)."""
    try:
        fit = ahead.result() if ahead.likely() else None
    except SegmentationError:
        return False
    if fit is None:
        return False
    return replace(rr, mask=fit.mask, lo=np.array([b.start for b in fit.box], np.int64)).holds(seed_vox)


def _border_fits(rr: _RoiResult, images: Mapping[str, NDArray[Any]], vol: Volume, liv: NDArray[np.bool_] | None,
                 p: LesionParams, seed_vox: tuple[int, int, int], line_vox: NDArray[np.float64] | None,
                 multiphase: bool) -> tuple[_RoiResult, float | None, tuple[float, float, float] | None, str | None]:
    """Steps 12 and 12b on the mask ``rr`` (``images``: the phases on its grid; ``multiphase``: it is
    step 10's nearest-mean classes): (the mask, the margin's blur in mm, the point-spread in voxels
    and the ramp step 12b fitted, or None each).  A fit is used when it holds the click and covers
    a drawn line.  The blur is ``rr.blur_mm`` when step 12 ran around the click's region already
    (1.15)."""
    border_blur = rr.blur_mm
    border_psf: tuple[float, float, float] | None = None
    border_ramp: str | None = None
    if not (p.blurred_border and border_blur is None and not rr.radial and not rr.touches and rr.rim_phase is None):
        return rr, border_blur, border_psf, border_ramp
    if not multiphase:
        # 12 (1.12): a blurred (ill-defined) border on a fitted blurred-surface model (its midpoint
        # level lies inside a blurred convex lesion, and the threshold's lesion value sets its size)
        bb = blurred_border(rr.mask, rr.lo, list(images.values()), vol.spacing, liv, surfaces=p.blurred_surface,
                            calibrated=vol.modality == Modality.CT)
        if bb is not None:
            new = replace(rr, mask=bb[0], lo=bb[1])
            if new.holds(seed_vox) and not _leaves_line(new, rr, line_vox, vol.spacing):
                rr, border_blur = new, bb[2]
    if border_blur is None and p.sharp_border:
        # 12b (1.16): a sharp border to sub-voxel precision on the same surface model with the
        # scanner's point-spread (the midpoint level lies inside a small lesion on thick slices)
        # (1.31's slice ramp only on a lesion of one tissue: not after a step-7 growth, whose
        # border may be another tissue than the fit's inner level, a necrotic core's rind)
        # (1.35: on step 10's nearest-mean classes too, which leave out the partial-volume voxels
        # between the classes; used there only when it nests around the mask and grows it)
        sb = sharp_border(rr.mask, rr.lo, list(images.values()), vol.spacing, liv, slice_ramp=rr.click_mask is None,
                          nested=multiphase, calibrated=vol.modality == Modality.CT)
        if sb is not None:
            new = replace(rr, mask=sb[0], lo=sb[1])
            if new.holds(seed_vox) and not _leaves_line(new, rr, line_vox, vol.spacing):
                rr, border_psf, border_ramp = new, sb[2], sb[3]
    return rr, border_blur, border_psf, border_ramp


def _refuse_a_click_without_a_lesion(full: NDArray[Any], spans: bool, unenclosed: bool, lesion_value: float,
                                     seed_vox: tuple[int, int, int], seed_txt: tuple[float, ...], vol: Volume,
                                     p: LesionParams) -> None:
    """Raise when a click's final mask ``full`` is not a lesion's: 1.13, ``unenclosed`` (it fills
    the largest region of interest, or ``spans`` the image within a slice) -> :class:`NotEnclosedError`;
    1.30, smaller than half the ball the seed's value is read on, or 1.28, without the clicked voxel
    -> :class:`LowContrastError`.  Each message names the click and the fix."""
    if unenclosed:
        # 1.13: a click's region that fills the largest region of interest, or spans the image within a
        # slice (an image smaller than that region), is not a lesion's mask (a click on the
        # parenchyma without a liver mask gave the whole liver, 1.1-1.3 L)
        if spans:
            where = "spans the image from one edge to the opposite one within a slice"
            fix = "Pass a liver mask (segment_liver) or draw a line across the lesion (line_lps=)."
        else:
            where = (f"still reaches the border of the largest region of interest ({p.roi_max_half_size_mm:g} mm on "
                     "each side of the click)")
            fix = ("Pass a liver mask (segment_liver), draw a line across the lesion (line_lps=), or, for a lesion "
                   "larger than that region, raise LesionParams.roi_max_half_size_mm.")
        n_ml = float(np.count_nonzero(full)) * vol.voxel_volume_mm3 / 1000.0
        raise NotEnclosedError(
            f"the region grown from the click at {seed_txt} mm ({n_ml:.0f} mL, value {lesion_value:.0f}) {where}: "
            "no border of a different tissue encloses it. The click may be on the parenchyma rather than a lesion, "
            f"or the lesion may have leaked into tissue of about its value. {fix}"
        )
    n_vox = int(np.count_nonzero(full))
    n_mm3 = n_vox * vol.voxel_volume_mm3
    if full[seed_vox] and n_mm3 < 0.5 * 4.0 / 3.0 * np.pi * p.seed_radius_mm ** 3:
        # 1.30: a click's mask smaller than half the ball whose median gave the seed value (the
        # seed value is then mostly its surroundings': the study phantom's ascites on 1.15 mm pixels,
        # 5 voxels, 20 mm3, from step 10's joint classes)
        raise LowContrastError(
            f"the mask found from the click at {seed_txt} mm is {n_vox} voxels "
            f"({n_mm3:.0f} mm3), less than half the {p.seed_radius_mm:g} mm ball the seed's "
            "value is read on: no lesion with a border was found at the click. Click nearer the lesion's centre, "
            "draw a line across it (line_lps=), or pass a liver mask.")
    if not full[seed_vox]:
        # 1.28: a click's mask that leaves out the clicked voxel is not the clicked lesion (the study phantom's
        # ascites on 1.15 mm pixels: step 10's joint classes kept an 18-voxel sliver beside the click,
        # Dice 0.002, where the other grids refuse the click or take the fluid)
        raise LowContrastError(
            f"the mask found from the click at {seed_txt} mm leaves out the clicked voxel ({n_vox} voxels, "
            f"{n_mm3:.0f} mm3, beside it): no lesion with a border was found at the click. "
            "Click nearer the lesion's centre, draw a line across it (line_lps=), or pass a liver mask.")


def _seed_and_line(index_ref: Volume, seed_lps: ArrayLike | None, seed_index: Sequence[int] | None,
                   line_lps: ArrayLike | None) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """The click (LPS mm; ``seed_index`` on ``index_ref``'s grid, or a line's midpoint) and the line
    (2 x 3 LPS mm, or None), checked (``SeedError``)."""
    line = None
    if line_lps is not None:
        line = np.asarray(line_lps, float).reshape(-1)
        if line.shape != (6,) or not np.all(np.isfinite(line)):
            raise SeedError(f"line_lps must be two LPS points ((x1, y1, z1), (x2, y2, z2)) in mm, got {line_lps!r}.")
        line = line.reshape(2, 3)
        if np.linalg.norm(line[1] - line[0]) < 1e-6:
            raise SeedError("line_lps has zero length; draw the line across the lesion, edge to edge.")
    if seed_index is not None:
        idx = np.asarray(seed_index, float).reshape(-1)
        if idx.shape != (3,):
            raise SeedError(f"seed_index must be 3 integers (slice, row, col), got {seed_index!r}.")
        seed_pt = index_ref.index_to_lps(idx)
    elif seed_lps is not None:
        seed_pt = np.asarray(seed_lps, float).reshape(-1)
        if seed_pt.shape != (3,) or not np.all(np.isfinite(seed_pt)):
            raise SeedError(f"seed_lps must be 3 finite LPS coordinates in mm, got {seed_lps!r}.")
    elif line is not None:
        seed_pt = 0.5 * (line[0] + line[1])
    else:
        raise SeedError("no seed: pass seed_lps= (LPS mm), seed_index= (slice, row, col) or line_lps= (two LPS points).")
    return seed_pt, line


def _seed_outside(seed_pt: NDArray[np.float64], vol: Volume, seed_index: Sequence[int] | None = None) -> SeedError:
    """The error for a click (LPS mm; given as ``seed_index`` when not None) outside ``vol``: the
    point, the series and its extent."""
    where = f"{tuple(np.round(seed_pt, 1).tolist())} mm"  # plain numbers, not np.float64(...)
    if seed_index is not None:
        where += f" (voxel {tuple(int(v) for v in np.asarray(seed_index).reshape(-1))})"
    corners = vol.geometry.extent_lps
    ext = ", ".join(f"{a:.1f} to {b:.1f}" for a, b in zip(corners.min(0), corners.max(0), strict=True))
    phase = "" if str(vol.phase) in ("", "unknown") else f"{vol.phase} "  # ("the unknown volume" read as a fault)
    series = f"series {vol.series_instance_uid}, " if vol.series_instance_uid else ""
    return SeedError(
        f"seed {where} is outside the {phase}image "
        f"({series}shape {vol.shape}; its voxel centres span "
        f"x, y, z {ext} mm LPS). Click inside the image."
    )


def _leaked_line_as_click(volume: Volume | Mapping[Phase | str, Volume], res: SegmentationResult,
                          kw: dict[str, Any]) -> SegmentationResult:
    """1.38: a drawn line's final mask that the leak clamp cut within a slice
    (:func:`_clamp_cuts_a_slice`: it ran into a neighbouring tissue of about its value) is
    replaced by the mask a click at the line's seed (its
    midpoint, unless a seed was given) gives, when that covers ``LESION_LINE_MIN_COVERAGE`` of the
    line's central part and ends inside the clamp: the click's steps 7-8 (the growth and the
    star-shaped estimate of a heterogeneous lesion) do not run on a line.  Else ``res``."""
    p = kw["params"] or LesionParams()
    line = np.asarray(res.line_lps, float)
    if not _clamp_cuts_a_slice(res.labels, line, p.line_clamp_factor):
        return res
    try:
        alt = _segment_lesion(volume, **{**kw, "seed_lps": res.seed_lps, "seed_index": None, "line_lps": None})
    except SegmentationError as err:
        log.debug("segment_lesion: the line leaked; the click at its seed gives no mask (%s)", err)
        return res
    grid = alt.labels  # (the click's phase may be on another grid than the line's)
    whole = tuple(slice(0, n) for n in grid.shape)
    cover = _line_coverage(grid.array != 0, (0, 0, 0), grid.lps_to_index(line), grid.spacing)
    if cover < C.LESION_LINE_MIN_COVERAGE or _reaches_line_clamp(grid.array, whole, grid, line, p.line_clamp_factor):
        return res
    note = (f"the drawn line's mask reached the leak clamp ({p.line_clamp_factor:g} x the line's half-length from its "
            f"midpoint: it ran into a neighbouring tissue); the mask is the one a click at the line's "
            f"{'midpoint' if kw['seed_lps'] is None and kw['seed_index'] is None else 'seed'} gives, which covers "
            f"{cover:.0%} of the line's central part and ends inside the clamp; check it.")
    return replace(alt, line_lps=res.line_lps, notes=(note, *alt.notes), elapsed_s=res.elapsed_s + alt.elapsed_s)


def _segment_lesion(volume: Volume | Mapping[Phase | str, Volume], **kw: Any) -> SegmentationResult:
    """:func:`segment_lesion` without 1.38's second look at a leaked line: :func:`_segment_lesion_steps`,
    whose step-13 fits started ahead (``RindAhead``) are stopped however the click ends (a fit whose
    result was read has ended already)."""
    aheads: list[RindAhead] = []
    try:
        return _segment_lesion_steps(volume, aheads, **kw)
    finally:
        for ahead in aheads:
            ahead.cancel()


def _segment_lesion_steps(
    volume: Volume | Mapping[Phase | str, Volume],
    aheads: list[RindAhead],
    *,
    seed_lps: ArrayLike | None = None,
    seed_index: Sequence[int] | None = None,
    line_lps: ArrayLike | None = None,
    phase: Phase | str | None = None,
    liver: LabelVolume | None = None,
    roi_mm: float | None = None,
    params: LesionParams | None = None,
    label: int = 1,
    lesion_id: str = "L1",
    extrahepatic: bool = False,
    rind: bool = False,
) -> SegmentationResult:
    """The steps of :func:`segment_lesion` (see :func:`_segment_lesion`); ``aheads``: the step-13
    fits this click started ahead, for the caller to stop."""
    t0 = time.perf_counter()
    p = params or LesionParams()
    phases = _as_phases(volume)
    if p.fat_max_hu is not None and any(v.modality != Modality.CT for v in phases.values()):
        p = LesionParams(**{**asdict(p), "fat_max_hu": None})  # HU only mean fat on CT
    if p.past_liver_mask_mm is None:
        p = replace(p, past_liver_mask_mm=past_liver_mask_mm(liver, extrahepatic))
    if seed_lps is not None and seed_index is not None:
        raise SeedError("give either seed_lps= (LPS mm) or seed_index= (slice, row, col), not both.")
    if phase is not None:
        phase = Phase(phase)
        if phase not in phases:
            raise SeedError(
                f"phase {str(phase)!r} was asked for but only {[str(k) for k in phases]} were given; "
                "pass that phase's Volume or choose one of these."
            )
    seed_pt, line = _seed_and_line(phases[phase] if phase is not None else next(iter(phases.values())),
                                   seed_lps, seed_index, line_lps)
    seed_txt = tuple(np.round(seed_pt, 1).tolist())  # for messages (plain numbers, not np.float64(...))

    def seed_on(vol: Volume) -> tuple[int, int, int]:
        try:
            return vol.geometry.lps_to_nearest_index(seed_pt)
        except ValueError as err:
            raise _seed_outside(seed_pt, vol, seed_index) from err

    if extrahepatic and liver is not None:
        # the region the lesion is kept in (and sampled around) is everything outside the liver
        liver = LabelVolume(array=(liver.array == 0).astype(np.uint8), geometry=liver.geometry,
                            labels={1: "outside the liver"}, frame_of_reference_uid=liver.frame_of_reference_uid)
    _check_finite_near(phases, seed_on, seed_txt, p, roi_mm, line)
    cache: _SmoothCache = {}
    livers: list[tuple[Any, NDArray[np.bool_] | None]] = []
    auto_phase = phase is None
    phase, conspicuity, first_modes = _choose_phase(
        phases, phase, rind, p, seed_on, liver, livers, line, roi_mm, cache,
        None if rind or not p.rind_border else _early_rind(phases, seed_on, liver, livers, aheads))
    vol = phases[phase]
    seed_vox = seed_on(vol)
    liv = _liver_on(liver, vol, livers)
    _check_seed_in_liver(liv, seed_vox, seed_txt, extrahepatic)
    ahead_at = _rind_inputs(phases, vol, seed_vox, liv) if not rind and p.rind_border else None
    if (ahead_at is not None and first_modes.get(str(phase)) == "hypo"
            and not any(a.reads(*ahead_at[1]) for a in aheads)):
        # 13 without being asked (below) reads the phase it fits, the click and the liver, and nothing
        # steps 1-12 compute: on fine pixels, when the phase choice found the click's region
        # hypodense (as a necrotic core is: step 13 is then mostly tried), it starts now, on a thread
        # of its own (``RindAhead``: the same fit, on the second core while steps 1-12 run; a click
        # is one thread until the fit's surfaces), and is read at step 13 when it is tried on these
        # inputs, else stopped
        aheads.append(RindAhead(*ahead_at[1]))
    rind_note = None
    if rind and min(vol.spacing[1:]) > C.LESION_RIND_MAX_PIXEL_MM:
        # coarse pixels: the model's one-voxel ramp is wider than a thin layer, and the automatic
        # steps (step 9's layers) place the border better there (docs/validation.md section 2.2)
        rind_note = (
            f"rind=True asked for the two-surface fit, but on {min(vol.spacing[1:]):.2g} mm pixels (above "
            f"{C.LESION_RIND_MAX_PIXEL_MM:g} mm) the automatic steps place a layer's border better and were used.")
        rind = False
    if rind:
        return _rind_result(vol, phase, seed_vox, seed_pt, seed_txt, line, liv, p, roi_mm, label, lesion_id,
                            extrahepatic, conspicuity, t0)
    line_vox = None if line is None else vol.lps_to_index(line)
    combined_weights: dict[str, float] | None = None
    border_weights: dict[str, float] | None = None
    multiphase: list[str] | None = None
    line_phase_note: str | None = None
    try:
        rr = _segment_on(vol, seed_vox, p, liv, line_vox, roi_mm, cache=cache)
        if line is not None and line_vox is not None and auto_phase and len(phases) > 1:
            other = _line_on_other_phase(rr, phases, phase, vol, line, line_vox, conspicuity, p, seed_on, liver, livers,
                                         roi_mm, cache)
            if other is not None:
                phase, vol, seed_vox, liv, line_vox, rr, line_phase_note = other
    except LowContrastError as err:
        # 1.5: faint on every single phase; try the phases jointly (same grid)
        fb = (_joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=True, cache=cache)
              if auto_phase else None)
        if fb is None:
            raise
        log.debug("segment_lesion: %s on one phase; phases used jointly", err)
        rr, combined_weights, multiphase = fb
    growth_phase = None
    if rr.click_mask is not None and auto_phase and len(phases) > 1:
        rr, growth_phase = _regrow_on_best_phase(rr, phases, phase, seed_vox, p, liv, cache)
    elif (p.heterogeneous_expansion and line is None and rr.click_mask is None and not rr.radial
            and rr.model.mode != "both" and auto_phase and len(phases) > 1 and combined_weights is None):
        rr, growth_phase = _grow_on_other_phase(rr, phases, phase, seed_vox, p, liv, cache)
    elif (p.heterogeneous_expansion and line is None and (multiphase is not None or combined_weights is not None)
          and rr.click_mask is None and not rr.radial and len(phases) > 1):
        # (up to here only the fallback after a LowContrastError sets multiphase / combined_weights)
        # 1.10: the joint mask of a click that was too faint on every single phase may be one part
        # of a heterogeneous lesion (a viable nodule in necrosis at 25 HU noise): step 7 on every
        # phase of the grid, the click's included (it never ran there), with its enclosure test
        rr2, gp = _grow_on_other_phase(rr, phases, phase, seed_vox, p, liv, cache, include_own=True)
        if gp is not None:
            rr, growth_phase = rr2, gp
            multiphase = combined_weights = None
    if (auto_phase and roi_mm is None and len(phases) > 1 and combined_weights is None and multiphase is None
            and growth_phase is None
            and rr.click_mask is None and not rr.radial):
        # 1.5: a flagged leak, or a one-sided region holding two tissues that another phase separates
        if rr.touches or (rr.model.mode != "both" and _mixed_on_other_phase(rr, phases, phase, p, cache)):
            fb = _joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=False, cache=cache)
            if fb is not None and _leaves_line(fb[0], rr, line_vox, vol.spacing):
                fb = None  # the joint mask leaves out much of the drawn line that the single-phase mask covers
            if fb is not None:
                rr, combined_weights, multiphase = fb
        elif rr.model.ill_defined:
            # the one phase's border was ill-defined (its edge band within the contrast minimum):
            # the phases' combination has the larger contrast-to-noise ratio
            fb = _joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=True, nearest_mean=False,
                                 cache=cache)
            if fb is not None:
                rr, combined_weights, multiphase = fb
        else:
            fb = None
            if line is not None and _line_leaked(rr, vol, line, p.line_clamp_factor):
                # 1.37: a line's mask that reaches the leak clamp and outgrows the line's ball has
                # leaked (the fu2 node drawn without a liver mask ran into the liver, 7.6 x its
                # volume): the phases' nearest-mean classes, when they end inside the clamp and
                # cover the drawn line
                fb = _joint_fallback(phases, phase, seed_vox, p, liv, line_vox, roi_mm, linear=False, cache=cache)
                if fb is not None and (_leaves_line(fb[0], rr, line_vox, vol.spacing)
                                       or _reaches_line_clamp(fb[0].mask, fb[0].box, vol, line, p.line_clamp_factor)):
                    fb = None
            if fb is not None:
                rr, combined_weights, multiphase = fb
            elif p.combined_border and rr.model.mode != "both" and line_phase_note is None:
                # 1.11 (d): a clean one-phase mask; its border redone on the phases' combination (their
                # noise averages out), unless that leaks, leaves out another tissue, or (a line) leaves
                # out much of the drawn line that the one-phase mask covers
                cb = _combined_border(rr, phases, phase, seed_vox, p, liv, line_vox, roi_mm, cache)
                if cb is not None and _leaves_line(cb[0], rr, line_vox, vol.spacing):
                    cb = None
                if cb is not None:
                    rr, border_weights = cb
    pre_rim = rr  # (step 11 is tried on it too when step 9's rim turns out to be a vessel's blood)
    if (p.enhancing_rim and rr.click_mask is None and not rr.radial
            and rr.model.mode == "hypo" and combined_weights is None and multiphase is None):
        rr = _add_enhancing_layers(rr, phases, phase, p, liv, cache)
    images = {str(k): v.array for k, v in phases.items() if v.geometry.equals(vol.geometry)}
    # 13 without being asked (below): whether it is tried is known here, but for step 11's defect;
    # its fit reads nothing steps 12, 12b, 9b and 11 compute: the one started at the click when it
    # reads these inputs (else one started now), on its thread while they run, stopped when step
    # 11 finds a defect; any other is stopped now
    rind_phase: str | None = None
    rind_ahead: RindAhead | None = None
    rind_at = (_rind_inputs(phases, vol, seed_vox, liv) if p.rind_border and (
        rr.rim_phase is not None or rr.click_mask is not None or growth_phase is not None or rr.model.mode == "hypo")
        else None)
    if rind_at is not None:
        rind_phase, inputs = rind_at
        rind_ahead = next((a for a in aheads if a.reads(*inputs)), None)
        if rind_ahead is None:
            rind_ahead = RindAhead(*inputs)
            aheads.append(rind_ahead)
    for ahead in aheads:
        if ahead is not rind_ahead:
            ahead.cancel()
    classes = rr  # step 10's nearest-mean classes, when multiphase: step 11 reads them (1.35)
    # 1.62: the fit is waited for here until it passed the rays' floors (or ended); one that passed
    # them is waited for: when it holds the click (a drawn line aside), steps 12 / 12b's mask would
    # be replaced (unless step 11 finds a defect), so they are skipped and step 11 reads the mask
    # before them; a fit refused, they run as before.  (2026-12-06, eighth session) steps 9b and 11 on that mask (which
    # they read when the fit holds) run before the fit is waited for, while it ends (the same values;
    # a fit that then does not hold the click has them run again after steps 12 / 12b)
    lipiodol = p.include_lipiodol and vol.modality == Modality.CT and (
        len(images) >= 2 or str(Phase.PRE_CONTRAST) in images)

    def steps_9b_11(mask: _RoiResult, border_ramp: str | None, border_psf: Any) -> Steps9b11:
        return lipiodol_and_defect(mask, classes, pre_rim, images, liv, vol.shape, vol.spacing, label, lipiodol,
                                   multiphase is not None or border_ramp == "point", border_psf)

    after: Steps9b11 | None = None
    if rind_ahead is not None and line is None and rind_ahead.likely():
        after = steps_9b_11(rr, None, None)
        if not _fit_holds(rind_ahead, rr, seed_vox):
            after = None
    if after is not None:
        border_blur, border_psf, border_ramp = rr.blur_mm, None, None
    else:
        rr, border_blur, border_psf, border_ramp = _border_fits(rr, images, vol, liv, p, seed_vox, line_vox,
                                                                multiphase is not None)
        after = steps_9b_11(rr, border_ramp, border_psf)
    full, sl, notes, lip_note, defect = after.full, after.sl, after.notes, after.lip_note, after.defect
    if defect is not None:
        full[...] = 0
        full[defect.mask] = label
        # the lumen's border is step 11's: steps 10 (d), 12 and 12b described the mask it replaced
        border_weights, border_blur, border_psf, border_ramp = None, None, None, None
    # 13 without being asked (1.25): on fine pixels, a click whose region step 7 grew to a border or
    # step 9 wrapped in a rim (a dark zone in a layer) is fitted as a core in a layer; used when the
    # fit passes its tests (a dark core at the click, a layer >= LESION_RIND_MIN_LAYER_MM all round
    # and brighter than the parenchyma), holds the click and covers a drawn line.  1.40: any hypodense
    # region too: a rind as thick as step 9's ring (2-6 mm) lifts the ring with the shell, so neither
    # step 7 nor step 9 fires and the mask is the core (the rind sweep at 15 HU on 1.15-1.8 mm
    # pixels with a profile: 0.45-0.70); a layerless one is refused by the fit's checks
    # (the fit started before step 12, ``rind_ahead``; the conditions on ``rr`` read fields steps 12
    # and 12b do not change)
    rind_fit: RindFit | None = None
    fit_lip_note: str | None = None  # (step 9b's on the fit's mask)
    if rind_ahead is not None and defect is not None:
        rind_ahead.cancel()
        rind_ahead, rind_phase = None, None
    if rind_ahead is not None:
        try:
            rind_fit = rind_ahead.result()
        except SegmentationError as err:
            log.debug("segment_lesion: step 13 not used (%s)", err)
        if rind_fit is not None:
            as_rr = replace(rr, mask=rind_fit.mask, lo=np.array([b.start for b in rind_fit.box], np.int64))
            if not as_rr.holds(seed_vox) or _leaves_line(as_rr, rr, line_vox, vol.spacing):
                rind_fit = None
            else:
                full[...] = 0
                full[rind_fit.box][rind_fit.mask] = label
                # the border is the fit's, with its point-spread (as with rind=True); steps 10 (d),
                # 12 and 12b described the mask it replaced
                border_weights, border_blur, border_ramp = None, None, None
                border_psf = rind_fit.psf_vox(vol.spacing)
                # 1.64: step 9b again on the fit's mask (a deposit touching the lesion is part of it
                # whichever step drew the border; 1.62 dropped the voxels 9b had added to the grown
                # mask but kept its note); its note describes the mask now, the grown mask's goes
                if lip_note is not None:
                    notes.remove(lip_note[1])
                again = add_lipiodol(full, rind_fit.box, images, liv, vol.spacing, label) if lipiodol else None
                fit_lip_note = None if again is None else again[1]
    reach = _edge_reach(full)
    if line is None:
        # (a mask step 11 or 13 replaced may have touched the largest region: theirs are enclosed)
        unenclosed = roi_mm is None and defect is None and (reach[2] or (rr.touches and rind_fit is None))
        _refuse_a_click_without_a_lesion(full, reach[2], unenclosed, float(rr.model.lesion), seed_vox, seed_txt, vol, p)
    # (a mask step 11 or 13 replaced may have touched the largest region: theirs are enclosed)
    checks = ["roi_border"] if rr.touches and rind_fit is None and defect is None else []
    if rr.touches:
        notes.append(
            "the mask still touches the border of the largest region of interest: it may have leaked into "
            "neighbouring tissue; check it, pass a liver mask or draw a line across the lesion."
        )
    # the mask grown with one phase's window (not the phases' classes or combination, step 13's fit)
    one_window = (combined_weights is None and multiphase is None and border_weights is None and rind_fit is None
                  and rr.model.mode in ("hyper", "hypo") and rr.model.low < rr.model.high)
    if line is not None and defect is None and (
            _clamp_held_back(full, sl, rr.model, vol, liv, line, p, cache) if one_window
            else _reaches_line_clamp(full[sl], sl, vol, line, p.line_clamp_factor)):
        checks.append("line_clamp")
        notes.append(
            f"the mask reaches the leak clamp around the drawn line ({p.line_clamp_factor:g} x its half-length from "
            "its midpoint): it may have run into a neighbouring tissue of about the same value; check it, draw "
            "the line across the lesion's longest diameter, or pass a liver mask (extrahepatic=True for a lesion "
            "outside the liver, such as a node against the liver)."
        )
    checks += _edge_checks(reach)
    notes, phase = _step_notes(notes, rr, Phase(phase), border_blur, multiphase, combined_weights, line_phase_note,
                               growth_phase, reach, rind_note, rind_fit, rind_phase, defect)
    if fit_lip_note is not None:
        notes.insert(1, fit_lip_note)  # (after the fit's own: it describes the mask, not the one replaced)
    m = rr.model
    res = _result(
        vol, full, label, lesion_id, p, roi_mm, extrahepatic, False, seed_pt, seed_vox, line, t0,
        phase=Phase(phase),
        lesion_value=float(m.lesion),
        surroundings_value=float(m.surround),
        window=(float(m.low), float(m.high)),
        phase_conspicuity=conspicuity,
        notes=tuple(notes),
        values_phase=Phase(growth_phase) if growth_phase is not None else Phase(phase),
        border_weights=border_weights,
        border_blur_mm=border_blur,
        border_psf_vox=border_psf,
        border_ramp=border_ramp,
        checks=tuple(checks),
    )
    log.debug("segment_lesion: %d voxels in %.3f s on %s", int(rr.mask.sum()), res.elapsed_s, phase)
    return res



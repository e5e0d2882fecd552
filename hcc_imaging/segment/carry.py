"""Carry the lesions of one time point's label map to another time point and segment them there.

The headless counterpart of the napari dock's "Propagate all": the two studies are registered once
(rigid then affine, :func:`~hcc_imaging.segment.register.register_volumes` with
:meth:`RegistrationParams.carry`, the metric read inside the first study's liver mask when the
lesions are kept in the liver), each lesion's inside point (:func:`lesion_centre_lps`) is mapped to
the other study and clicked there (:func:`~hcc_imaging.segment.lesion.segment_lesion`).  Used by
``hcc-imaging segment --from-mask MAP --each-label`` and by ``hcc-imaging batch --carry``.

A lesion that cannot be segmented where it is carried (it has gone, or its carried point misses
it) is reported in :attr:`CarriedLesions.failed`, never recorded as gone: whether it has gone is a
reader's call.  So is a lesion whose click segmented the mass another carried lesion holds (less
than :data:`MIN_KEPT_FRACTION` of its segmentation left to it: the two coalesced, or one's
segmentation ran into the other; :attr:`CarriedLesions.merged`): its voxels are the first's, and
the coalescence is the reader's to record.  Two carried lesions whose segmentations overlap less
(both keep at least that fraction; :attr:`CarriedLesions.shared`) split the voxels both took: each
goes to the lesion whose own part (the voxels only it took) is nearer, in mm (ties: the first's), as
the boundary between two touching lesions lies between them; a note names both (and how many
voxels each got), and a reader checks both masks.  (Until 2026-12-06 they all went to the first.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import LabelVolume, Phase, Volume
from . import constants as C
from .errors import RegistrationError, SegmentationError
from .lesion import LesionParams, SegmentationResult, segment_lesion
from .liver import segment_liver
from .register import Registration, RegistrationParams, lesion_centre_lps, register_volumes, registration_problems

__all__ = ["MIN_KEPT_FRACTION", "CarriedLesions", "carry_lesions", "carry_points", "lies_in_liver", "registration_pair",
           "suspect_message"]

#: A carried lesion whose click segmented voxels an earlier carried lesion already holds keeps the
#: rest; when it keeps less than this fraction of its own segmentation it is not carried (in
#: ``CarriedLesions.failed``, "merged with ..."): never recorded with the crumbs left, nor absent.
MIN_KEPT_FRACTION = 0.5


def lies_in_liver(organ: str | None = "liver", *, is_lymph_node: bool = False, kind: str | None = None) -> bool:
    """Whether a finding is segmented inside the liver mask (a liver lesion, a portal- or
    hepatic-vein thrombus: ``constants.LIVER_MASK_ORGANS``), rather than kept out of it (a lymph
    node, another organ's lesion: ``segment_lesion(..., extrahepatic=True)``)."""
    if is_lymph_node or kind == "lymph_node":
        return False
    return kind == "pvtt" or (organ or "liver") in C.LIVER_MASK_ORGANS


@dataclass(frozen=True, slots=True)
class CarriedLesions:
    """The lesions of a label map carried to another study (:func:`carry_lesions`).

    Attributes
    ----------
    labels : LabelVolume
        On the other study's reference grid, with the first map's label values and names; a
        lesion that was not found is absent from it (see ``failed``).
    results : dict
        Label value -> the :class:`SegmentationResult` of its click.
    failed : dict
        Label value -> why it was not segmented where it was carried.
    names : dict
        Label value -> lesion id (the map's name, else ``"L<value>"``).
    centres_lps : dict
        Label value -> the lesion's inside point on the first study (mm, LPS).
    seeds_lps : dict
        Label value -> that point carried to the other study (mm, LPS): where it was clicked.
    registration : Registration
        First study (fixed) -> other study (moving).
    registration_in_liver : bool
        Whether the registration's metric was read in the first study's liver mask.
    liver : LabelVolume or None
        The other study's liver mask the liver lesions were kept in (None when not asked for, or
        when it could not be made: see ``notes``).
    notes : tuple of str
    registration_problems : tuple of str
        Why the registration is suspect (:func:`~hcc_imaging.segment.register.registration_problems`:
        the images hardly match, the first study's liver lands outside the other image or off its
        liver); empty when it passed.  A suspect registration carries the lesions to the wrong
        place: what was segmented there is no measurement of them.
    merged : dict
        Label value -> the labels of the carried lesions that took (at least
        :data:`MIN_KEPT_FRACTION` of) the voxels its click segmented: two lesions that form one mass
        at this time point (coalesced, or one's segmentation ran into the other).  Such a lesion is
        in ``failed`` (with a reason naming them), not in ``labels``: a reader records the
        coalescence; the lesion that kept the voxels measures the whole mass.
    shared : dict
        Label value -> the labels of the carried lesions whose segmentations overlapped its own
        (less than half of it: both kept): the voxels both took were split between them, each to
        the lesion whose own part (the voxels only it took) is nearer, in mm.  A reader checks both
        masks (lesions that touch, or begin to coalesce).
    """

    labels: LabelVolume
    results: dict[int, SegmentationResult]
    failed: dict[int, str]
    names: dict[int, str]
    centres_lps: dict[int, NDArray[np.float64]]
    seeds_lps: dict[int, NDArray[np.float64]]
    registration: Registration
    registration_in_liver: bool
    liver: LabelVolume | None = None
    notes: tuple[str, ...] = field(default=())
    registration_problems: tuple[str, ...] = field(default=())
    merged: dict[int, tuple[int, ...]] = field(default_factory=dict)
    shared: dict[int, tuple[int, ...]] = field(default_factory=dict)


def suspect_message(reg: Registration, problems: Collection[str]) -> str:
    """What a suspect registration means and what to do, naming the two series."""
    return (f"the registration of series {reg.moving_series_instance_uid or '?'} to series "
            f"{reg.fixed_series_instance_uid or '?'} (the first study) is suspect: {'; '.join(problems)}. The lesions "
            "may have been carried to the wrong place: check that the two series show the same patient and overlap "
            "(same body region), and segment the lesions on the other study by a click (or give its own masks) "
            "rather than trusting the carried ones.")


def _phases(v: Volume | Mapping[Any, Volume]) -> dict[Any, Volume]:
    return {v.phase: v} if isinstance(v, Volume) else dict(v)


def registration_pair(before: Mapping[Any, Volume], after: Mapping[Any, Volume],
                      phase: Phase | str | None = None) -> tuple[Volume, Volume]:
    """The two images a carry registers: the same phase on both sides when there is one (``phase``,
    else portal venous, else the first of ``before`` that ``after`` has), else each study's first."""
    want = None if phase is None else Phase(phase)
    shared = [k for k in (want, Phase.PORTAL_VENOUS, *before) if k is not None and k in before and k in after]
    if shared:
        return before[shared[0]], after[shared[0]]
    return next(iter(before.values())), next(iter(after.values()))


def carry_points(
    before: Volume | Mapping[Any, Volume],
    mask: LabelVolume,
    after: Volume | Mapping[Any, Volume],
    *,
    labels: Collection[int | None] | None = None,
    phase: Phase | str | None = None,
    liver_masked: bool = False,
    moving_liver: LabelVolume | None = None,
) -> tuple[dict[Any, NDArray[np.float64]], dict[Any, NDArray[np.float64]], Registration]:
    """Each lesion's inside point on ``mask`` (lying on ``before``'s frame of reference) and where it
    lies in ``after``: ``(centres, carried points, registration)``, per label value (``labels``;
    default every label ``mask`` holds; None: every nonzero voxel as one lesion).
    ``liver_masked``: the registration's metric is read in ``before``'s classical liver mask (the
    liver moves with breathing apart from the spine); ``after``'s liver mask (``moving_liver``, else its
    classical one when one can be made) then starts the registration at the two livers' centroids when
    the studies' frames of reference differ, and checks it.

    The registration's ``parameters["check"]`` holds its check
    (:func:`~hcc_imaging.segment.register.registration_problems`): ``problems`` (empty when it passed)
    and the figures.

    Raises ``SegmentationError`` when the mask holds none of the labels."""
    b, a = _phases(before), _phases(after)
    fixed, moving = registration_pair(b, a, phase)
    arr = np.asarray(mask.array)
    labs = ([int(v) for v in np.unique(arr) if v != 0] if labels is None
            else [None if v is None else int(v) for v in labels])
    if not labs:
        raise SegmentationError("the mask has no lesion voxels: nothing to carry to another time point.")
    centres = {lab: lesion_centre_lps(mask, lab) for lab in labs}
    fixed_mask = segment_liver(b, phase=fixed.phase) if liver_masked else None
    if liver_masked and moving_liver is None:
        try:
            moving_liver = segment_liver(a, phase=moving.phase)
        except SegmentationError:
            moving_liver = None  # no centroid start, no overlap check; the metric and the field still checked
    if moving_liver is not None and not np.any(moving_liver.array):
        moving_liver = None
    reg = register_volumes(fixed, moving, kind="affine", fixed_mask=fixed_mask,
                           moving_mask=moving_liver if fixed_mask is not None else None, params=RegistrationParams.carry())
    problems, figures = registration_problems(reg, fixed, moving, fixed_mask=fixed_mask, moving_mask=moving_liver,
                                              points_lps=np.asarray(list(centres.values()), float))
    reg = replace(reg, parameters={**reg.parameters, "check": {"problems": problems, **figures}})
    return centres, {lab: np.asarray(reg.map_to_moving(c), float).reshape(3) for lab, c in centres.items()}, reg


def carry_lesions(
    before: Volume | Mapping[Any, Volume],
    mask: LabelVolume,
    after: Volume | Mapping[Any, Volume],
    *,
    phase: Phase | str | None = None,
    in_liver: bool = False,
    liver: LabelVolume | None = None,
    extrahepatic: Collection[int] = (),
    params: LesionParams | None = None,
    rind: bool = False,
    reference: Volume | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CarriedLesions:
    """Every lesion of ``mask`` (a label map on ``before``) carried to ``after`` and segmented there.

    Parameters
    ----------
    before, after : Volume or mapping Phase -> Volume
        The study the mask was read on and the study to carry it to (each one frame of reference).
    mask : LabelVolume
        One label per lesion; its names become the lesion ids.
    phase : Phase or str, optional
        The phase to register and segment on (default: the registration on portal venous when both
        have it, the segmentation on ``after``'s most conspicuous phase).
    in_liver : bool
        Keep the liver lesions inside ``after``'s classical liver mask (made once, holding every
        carried point, as ``hcc-imaging segment --liver``), and read the registration inside
        ``before``'s.  When a liver mask cannot be made (e.g. MR), the lesions are segmented
        without one and a note says so.
    liver : LabelVolume, optional
        ``after``'s liver mask, given (instead of the classical one); an empty one is refused
        (``SegmentationError``).
    extrahepatic : labels
        Lesions outside the liver (lymph nodes, another organ's: :func:`lies_in_liver` False): kept
        out of ``after``'s liver mask instead.
    params, rind
        As :func:`segment_lesion`.
    reference : Volume, optional
        The grid of the label map returned (one of ``after``'s phases; default: ``phase``'s, else the
        image registered).
    progress : callable, optional
        Called with (lesions done, lesions to do) after each lesion.
    """
    b, a = _phases(before), _phases(after)
    if liver is not None and not np.any(np.asarray(liver.array)):
        raise SegmentationError("the liver mask given for the other study has no voxels: the lesions would be "
                                "segmented unbounded without a word. Pass its liver mask, or liver=None (with "
                                "in_liver=True the classical one is made).")
    extra = {int(v) for v in extrahepatic}
    labs = [int(v) for v in np.unique(np.asarray(mask.array)) if v != 0]
    if not labs:
        raise SegmentationError("the mask has no lesion voxels: nothing to carry to another time point.")
    inside = [lab for lab in labs if lab not in extra]  # the liver lesions
    notes: list[str] = []
    masked = in_liver and liver is None and bool(inside)
    if reference is None:
        reference = a[Phase(phase)] if phase is not None and Phase(phase) in a else registration_pair(b, a, phase)[1]
    ref = reference
    # the other study's liver, before the registration: its centroid starts it when the frames of
    # reference differ, and the two livers' overlap checks it
    plain = liver
    liver_err: SegmentationError | None = None
    if plain is None and masked:
        try:
            plain = segment_liver(a, phase=ref.phase)
        except SegmentationError as err:
            liver_err = err
    try:
        centres, seeds, reg = carry_points(b, mask, a, labels=labs, phase=phase, liver_masked=masked,
                                           moving_liver=plain)
    except (SegmentationError, RegistrationError) as err:
        if not masked:
            raise
        notes.append(f"the registration read the whole images: in the first study's liver mask it failed ({err}).")
        masked = False
        centres, seeds, reg = carry_points(b, mask, a, labels=labs, phase=phase, liver_masked=False)
    problems = tuple(reg.parameters.get("check", {}).get("problems", ()))
    if problems:
        notes.append(suspect_message(reg, problems))
    if liver is None and ((in_liver and inside) or extra):
        include = [seeds[lab] for lab in inside] if in_liver else None
        if plain is not None and include and all(_in_mask(plain, q) for q in include):
            liver = plain  # it holds every carried point already: the same mask (include_lps adds nothing)
        elif liver_err is not None:  # none could be made before: none holding the points either
            notes.append(f"the lesions were segmented without a liver mask: none could be made ({liver_err}); check "
                         "that none ran into a neighbouring organ.")
        else:
            try:
                liver = segment_liver(a, phase=ref.phase, include_lps=include or None)
            except SegmentationError as err:
                notes.append(f"the lesions were segmented without a liver mask: none could be made ({err}); check "
                             "that none ran into a neighbouring organ.")
    names = {lab: mask.labels.get(lab) or f"L{lab}" for lab in labs}
    out = np.zeros(ref.shape, np.uint16)
    results: dict[int, SegmentationResult] = {}
    failed: dict[int, str] = {}
    merged: dict[int, tuple[int, ...]] = {}
    shared: dict[int, tuple[int, ...]] = {}
    vols: Volume | dict[Any, Volume] = a if len(a) > 1 else ref
    for n, lab in enumerate(labs):
        e = lab in extra
        try:
            res = segment_lesion(vols, phase=phase, seed_lps=seeds[lab], params=params, label=lab,
                                 lesion_id=names[lab], liver=liver if (e or in_liver) else None,
                                 extrahepatic=e, rind=rind)
        except SegmentationError as err:
            failed[lab] = str(err)
        else:
            on_ref = res.labels if res.labels.geometry.equals(ref.geometry) else res.labels.resample_to(ref)
            seg = np.asarray(on_ref.array) != 0
            free = seg & (out == 0)  # a voxel two lesions took is the first's (unless split below) ...
            own, left = int(seg.sum()), int(free.sum())
            takers = tuple(int(v) for v in np.unique(out[seg]) if v != 0)
            if takers and left < MIN_KEPT_FRACTION * own:
                # ... and a lesion left with too little of its own segmentation is not carried: its
                # click segmented the mass another carried lesion holds (they coalesced, or one
                # segmentation ran into the other); recording it absent (0 mm) would read as a response
                who = ", ".join(names[t] for t in takers)
                failed[lab] = (f"merged with {who} at this time point: {own - left} of the {own} voxels segmented at "
                               f"its carried point are {who}'s (one mass); check and record the coalescence, or "
                               "segment it by a click")
                merged[lab] = takers
                notes.append(f"{who} at this time point also holds {names[lab]} (one mass): its measurement is the "
                             "coalesced lesion's; check it and record the coalescence")
            elif own == 0:
                failed[lab] = ("its segmentation has no voxels on the grid of the label map (a lesion smaller than "
                               f"its voxels, {ref.spacing} mm); segment it by a click on that series")
            else:
                if takers:
                    got = split_shared(out, seg, lab, ref.spacing)
                    shared[lab] = takers
                    notes.append(f"{names[lab]} and {', '.join(names[t] for t in takers)} took {own - left} of the same "
                                 "voxels at this time point: each was given to the lesion whose own part is nearer ("
                                 + ", ".join(f"{names[t]} {n}" for t, n in got.items())
                                 + "): check both masks (touching or coalescing lesions?)")
                out[free] = lab
                results[lab] = res
        if progress is not None:
            progress(n + 1, len(labs))
    kept = {lab: names[lab] for lab in results}
    return CarriedLesions(LabelVolume.like(ref, out, labels=kept), results, failed, names, centres, seeds, reg,
                          masked, liver if (in_liver or extra) else None, tuple(notes), problems, merged, shared)


def split_shared(out: NDArray[np.integer[Any]], seg: NDArray[np.bool_], lab: int,
                 spacing: tuple[float, float, float]) -> dict[int, int]:
    """Give ``lab`` the voxels of its segmentation ``seg`` that the lesions of ``out`` already hold
    and that lie nearer (mm) to its own part (``seg``'s voxels no other lesion holds) than to theirs
    (:func:`_nearer_own_part`), never leaving one of them less than :data:`MIN_KEPT_FRACTION` of its
    voxels (those stay its).  ``out`` is changed in place (its free voxels are left to the caller).
    Returns how many of the shared voxels each lesion holds now (``lab`` first, then the others)."""
    takers = tuple(int(v) for v in np.unique(out[seg]) if v != 0)
    mine = _nearer_own_part(out, seg, seg & (out == 0), takers, spacing)
    for t in takers:
        had, lose = int(np.count_nonzero(out == t)), mine & (out == t)
        if had - int(lose.sum()) < MIN_KEPT_FRACTION * had:
            mine &= ~lose
    got = {lab: int(mine.sum())}
    got.update({t: int(np.count_nonzero(seg & (out == t) & ~mine)) for t in takers})
    out[mine] = lab
    return got


def _nearer_own_part(out: NDArray[np.integer[Any]], seg: NDArray[np.bool_], own: NDArray[np.bool_],
                     takers: tuple[int, ...], spacing: tuple[float, float, float]) -> NDArray[np.bool_]:
    """The voxels of ``seg`` that lesions ``takers`` of ``out`` hold already and that lie nearer
    (Euclidean, mm) to ``own`` (the new lesion's voxels no other holds) than to every taker's own
    part (its voxels outside ``seg``; all of its voxels when ``seg`` covers it whole).  Ties stay
    the taker's.  Computed in the box around the lesions concerned."""
    from scipy import ndimage

    held = np.isin(out, takers)
    where = np.argwhere(seg | held)
    lo, hi = where.min(0), where.max(0) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    contested = seg[box] & held[box]
    d_own = ndimage.distance_transform_edt(~own[box], sampling=spacing)
    d_other = np.full(contested.shape, np.inf)
    for t in takers:
        theirs = out[box] == t
        core = theirs & ~seg[box]
        d_other = np.minimum(d_other, ndimage.distance_transform_edt(~(core if core.any() else theirs),
                                                                     sampling=spacing))
    mine = np.zeros(seg.shape, bool)
    mine[box] = contested & (d_own < d_other)
    return mine


def _in_mask(mask: LabelVolume, point_lps: NDArray[np.float64]) -> bool:
    """Whether the LPS point lies on a nonzero voxel of ``mask`` (False outside its field)."""
    k = np.rint(np.asarray(mask.lps_to_index(point_lps), float)).astype(int)
    if np.any(k < 0) or np.any(k >= np.asarray(mask.shape)):
        return False
    return bool(np.asarray(mask.array)[tuple(k)] != 0)

"""The read session's segmentation (:class:`SegmentingMixin`, a base of
:class:`._controller.ReadSession`): click or line to segment, propagate a lesion (or every lesion)
to another time point, and the time points' liver masks and registrations these use, made once and
kept.  Qt-free, as the rest of the controller; split out of ``_controller.py`` along this seam
(2026-12-02), no behaviour changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import HccImagingError
from ..volume import LabelVolume, Phase
from ._sources import algorithm_source

#: The observation's note when a click was segmented on the N4-corrected series (``segment_at(bias_correct=True)``).
BIAS_NOTE = ("segmented on the MR series divided by their N4 bias field (the coils' smooth intensity field); the "
             "images shown are the scanner's")

if TYPE_CHECKING:
    from ._controller import Lesion, Observation, TimePointImages


#: The words that open a propagated lesion's problem when the registration that carried it failed
#: its check (:func:`suspect_registration_note`); the dock warns on a problem that holds them.
SUSPECT_REGISTRATION = "carried on a suspect registration"


def suspect_registration_note(problems: Sequence[str]) -> str | None:
    """The problem of ``problems`` (an observation's) that says the registration that carried the
    lesion is suspect, or None."""
    return next((p for p in problems if SUSPECT_REGISTRATION in p), None)


def _holds(mask: LabelVolume, point_lps: ArrayLike) -> bool:
    """Whether the voxel nearest ``point_lps`` (mm) lies in ``mask`` (False off its grid)."""
    try:
        idx = mask.geometry.lps_to_nearest_index(np.asarray(point_lps, float).reshape(3))
    except ValueError:
        return False
    return bool(np.asarray(mask.array)[idx])


class SegmentingMixin:
    """Segmentation for :class:`._controller.ReadSession`, which provides the images, lesions,
    observations and masks these methods read and write (``images``, ``lesions``,
    ``observations``, ``_masks``, ``last_timings``, ``timepoint_ids``, ``new_lesion``, ``_lesion``,
    ``lesion_mask``, ``set_mask_crop``, ``_check_unlocked``)."""

    images: dict[str, TimePointImages]
    lesions: dict[str, Lesion]
    observations: dict[tuple[str, str], Observation]
    _masks: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    last_timings: dict[str, float]

    def _init_segmenting(self) -> None:
        #: Liver masks made for segmentation (a node kept out of it, a liver lesion kept in it), per
        #: time point: (the images they were made from, the mask or None, the reason when None, the
        #: points whose pieces it was made to hold).
        self._livers: dict[str, tuple[TimePointImages, LabelVolume | None, str | None,
                                      tuple[tuple[float, float, float], ...]]] = {}
        #: Held while a liver mask is made: the dock makes a time point's in the background
        #: (:meth:`prepare_liver`), and a click that needs it meanwhile waits for it, not a second one.
        self._liver_lock = threading.RLock()
        #: The phase the last :meth:`segment_at` segmented on (the pick, or the most conspicuous).
        self.last_segment_phase: str | None = None
        #: Registrations between time points' reference images (for :meth:`propagate`), per (fixed,
        #: moving) time point ids and whether the liver masks were used: (the fixed images, the
        #: moving images, the registration).
        self._registrations: dict[tuple[str, str, bool], tuple[TimePointImages, TimePointImages, Any]] = {}
        #: Each time point's phases divided by their N4 bias field (:meth:`bias_corrected_images`), with the
        #: phases they were made from (made again when those change); made once, under the lock.
        self._bias: dict[str, tuple[dict[Phase, Any], TimePointImages]] = {}
        self._bias_lock = threading.Lock()

    def bias_corrected_images(self, timepoint_id: str) -> TimePointImages:
        """The time point's images with every phase divided by its N4 bias field
        (:func:`hcc_imaging.segment.bias_corrected`; made once per time point and kept while its phases stay
        the same).  Raises ``HccImagingError`` for a CT phase (no coil field: leave the box unticked)."""
        from dataclasses import replace

        from ..segment import bias_corrected
        from ..volume import Modality

        tp = self.images.get(timepoint_id)
        if tp is None:
            raise HccImagingError(f"time point {timepoint_id!r} has no images loaded; load them first.")
        ct = [str(k) for k, v in tp.phases.items() if v.modality == Modality.CT]
        if ct:
            raise HccImagingError(
                f"'MR bias' is for MR series, but the {', '.join(ct)} series of {timepoint_id!r} "
                f"{'are' if len(ct) > 1 else 'is'} CT (calibrated HU, no coil field); untick 'MR bias'.")
        with self._bias_lock:
            hit = self._bias.get(timepoint_id)
            if (hit is not None and hit[0].keys() == tp.phases.keys()
                    and all(hit[0][k] is v for k, v in tp.phases.items())):
                return hit[1]
            made = replace(tp, phases={k: bias_corrected(v) for k, v in tp.phases.items()})
            self._bias[timepoint_id] = (dict(tp.phases), made)
            return made

    def segment_at(
        self,
        timepoint_id: str,
        point_lps: Sequence[float] | None = None,
        *,
        line_lps: Sequence[Sequence[float]] | None = None,
        lesion_id: str | None = None,
        role: str = "target",
        node: bool | None = None,
        rind: bool = False,
        in_liver: bool = False,
        phase: Phase | str | None = None,
        notes: Sequence[str] = (),
        bias_correct: bool = False,
    ) -> tuple[str, Observation]:
        """Click-to-segment: a 3D lesion mask (and viable part) from one LPS point, or from a
        line drawn across the lesion (two LPS points), measured.

        A new lesion is created unless ``lesion_id`` names an existing one (e.g. the same
        lesion at a follow-up).  ``node``: the lesion lies outside the liver (a lymph node; a new
        one is recorded as a node): it is segmented with the time point's liver mask kept out of
        it (made once per time point, ``segment_liver``), as a node against the liver needs.
        Default: an existing lesion's own flag (a node, or an organ other than the liver and its
        veins: ``hcc_imaging.segment.carry.lies_in_liver``), else no.
        ``rind``: the click is in the dark core of a lesion wrapped in an enhancing layer (a treated
        HCC's rim, a viable rind): ``segment_lesion(..., rind=True)``.
        ``in_liver``: a liver lesion is kept inside the time point's liver mask (the same mask, made
        once; ``hcc-imaging segment --liver``), and its viable part's liver reference is read inside
        it: a lesion at the liver's edge does not run into a neighbouring organ or bowel of its
        density.  When the click (a line's midpoint) lies outside that mask, the mask is made again
        holding the click's piece (``segment_liver(..., include_lps=)``, as ``--liver`` does: a lesion
        that bulges out of the liver's outline); a click that even then lies outside it is refused.
        No effect on a node (the mask is kept out of it instead).
        ``phase``: the phase to segment on (the reader's pick, as ``hcc-imaging segment --phase``);
        None: the most conspicuous one.  The phase used is kept in :attr:`last_segment_phase`.
        ``notes``: problems to record first on the observation (:meth:`propagate`: a suspect
        registration).  ``bias_correct``: an MR time point is segmented on its series divided by their N4 bias
        field (:meth:`bias_corrected_images`, as ``hcc-imaging segment --bias-correct``; the images shown stay
        the scanner's), and the observation says so; a CT time point is refused.
        """
        from ..segment.carry import lies_in_liver
        from . import _core

        self._check_unlocked("segment a lesion")
        tp = self.images.get(timepoint_id)
        if tp is None:
            raise HccImagingError(f"time point {timepoint_id!r} has no images loaded; load them before segmenting.")
        if (point_lps is None) == (line_lps is None):
            raise HccImagingError("segment_at needs either a point (point_lps) or a line across the lesion (line_lps).")
        self.last_timings = {}
        point = None if point_lps is None else np.asarray(point_lps, float)
        line = None if line_lps is None else np.asarray(line_lps, float).reshape(2, 3)
        existing = self._lesion(lesion_id) if lesion_id else None
        if node is None:
            node = existing is not None and not lies_in_liver(existing.organ, is_lymph_node=existing.is_lymph_node,
                                                              kind=existing.kind)
        outside = inside = None
        liver_note: str | None = None
        if node:
            outside, why = self._liver_mask(timepoint_id)
            if why:
                liver_note = (f"no liver mask could be made at {timepoint_id!r} ({why}); the node was segmented "
                              "without one, so check that it did not run into the liver.")
        elif in_liver:
            where = point if point is not None else 0.5 * (line[0] + line[1])  # type: ignore[index]
            inside, why = self._liver_mask(timepoint_id, include_lps=where)
            if why:
                liver_note = (f"no liver mask could be made at {timepoint_id!r} ({why}); the lesion was segmented "
                              "without one, so check that it did not run out of the liver.")
            elif inside is not None and not _holds(inside, where):
                raise HccImagingError(
                    f"the {'click' if point is not None else 'line'} at {timepoint_id!r} lies outside the liver mask "
                    "(also when the mask is made to hold its piece: it lies nearer another organ); untick 'in liver' "
                    "for a lesion the mask misses, or tick 'node' for a lesion outside the liver.")
        if bias_correct:
            tp = self.bias_corrected_images(timepoint_id)
        out = _core.segment(tp.phases, tp.reference, point, line_lps=line, outside_liver=outside,
                            inside_liver=inside, rind=rind, phase=phase)
        self.last_timings.update(out.timings)
        self.last_segment_phase = str(out.provenance.get("phase", "")) or None
        if out.mask.size == 0 or not out.mask.any():
            raise HccImagingError(
                f"the segmentation at {timepoint_id!r} gave an empty mask; click inside the lesion "
                "(or draw the line across it) on a phase where it is visible."
            )
        les = existing if existing is not None else (
            self.new_lesion(role=role, organ="lymph_node", is_lymph_node=True) if node else self.new_lesion(role=role))
        prov = out.provenance
        source = algorithm_source(prov.get("algorithm", "segment_lesion"), prov.get("version", ""))
        # what the segmenter says to check (a possible leak, the image's edge ...) first, then how
        # the mask was made: the lesion table's "problems"
        checks = [f"check the mask: {c}" for c in out.checks]
        problems = [*notes, *checks, *(str(n) for n in prov.get("notes", [])), *([liver_note] if liver_note else []),
                    *([BIAS_NOTE] if bias_correct else [])]
        obs = self.set_mask_crop(les.lesion_id, timepoint_id, out.start, out.mask, viable=out.viable, source=source,
                                 notes=problems)
        return les.lesion_id, obs

    def propagate(
        self,
        lesion_id: str,
        timepoint_id: str,
        *,
        from_timepoint: str | None = None,
        in_liver: bool = False,
        phase: Phase | str | None = None,
        bias_correct: bool = False,
    ) -> tuple[str, Observation]:
        """A tracked lesion segmented at ``timepoint_id`` from where it lies at another time point:
        the two time points' images registered (rigid then affine, the core's ``register_volumes``,
        as the dock's compare modes; kept per pair), the lesion's mask voxel nearest its centroid at
        ``from_timepoint`` (default: the nearest earlier time point where it has a mask, else the
        nearest later one) mapped to ``timepoint_id`` and clicked there, as a click on that lesion
        (same id and tracking UID; a node stays a node).  ``phase`` and ``in_liver`` as :meth:`segment_at`; for
        a liver lesion the registration then reads its metric inside the liver masks (the liver
        moves with breathing apart from the spine).

        The registration is checked as ``batch --carry`` and ``hcc-imaging segment --from-mask``
        check theirs (``hcc_imaging.segment.registration_problems``: the images hardly match, the
        first time point's liver - else the middle of its image - lands outside the other image, or,
        with ``in_liver``, the two livers overlap poorly): a suspect one is not trusted silently.
        The lesion is still segmented where it was carried, with what is wrong and what to do as
        the observation's first problem (it opens with :data:`SUSPECT_REGISTRATION`; the dock
        shows it as a warning), and when nothing can be segmented there the error blames the
        registration.

        Raises ``HccImagingError`` when the lesion has no mask to start from, or when nothing can
        be segmented at the mapped point (e.g. the lesion has gone: record it as absent, or click it
        where it is)."""
        from ..segment.carry import lies_in_liver, suspect_message
        from ..segment.register import registration_problems
        from . import _core

        self._check_unlocked("propagate a lesion")
        les = self._lesion(lesion_id)
        if timepoint_id not in self.images:
            raise HccImagingError(f"time point {timepoint_id!r} has no images loaded; load them before propagating.")
        order = self.timepoint_ids
        if from_timepoint is None:
            have = [t for t in order if t != timepoint_id and self._masks.get(t, {}).get(lesion_id) is not None
                    and t in self.images]
            if not have:
                raise HccImagingError(
                    f"lesion {lesion_id} has no mask at another loaded time point to propagate from; segment it there "
                    "first (click or line).")
            here = order.index(timepoint_id)
            earlier = [t for t in have if order.index(t) < here]
            from_timepoint = earlier[-1] if earlier else min(have, key=lambda t: order.index(t))
        src = self.lesion_mask(lesion_id, from_timepoint)
        if src is None or not src.any() or from_timepoint not in self.images:
            raise HccImagingError(
                f"lesion {lesion_id} has no mask at {from_timepoint!r} (or its images are not loaded) to propagate from.")
        fixed = self.images[from_timepoint].reference
        point = _core.lesion_centre(LabelVolume.like(fixed, src.astype(np.uint8)))
        t0 = time.perf_counter()
        # a liver lesion with "in liver": the registration is the liver's (its metric inside the
        # from time point's liver mask: the liver moves with breathing apart from the spine)
        masked = in_liver and lies_in_liver(les.organ, is_lymph_node=les.is_lymph_node, kind=les.kind)
        reg, made = self._registration(from_timepoint, timepoint_id, liver=masked)
        reg_s = time.perf_counter() - t0
        mapped = np.asarray(reg.map_to_moving(point), float).reshape(3)
        # the check batch --carry and segment --from-mask make (the livers' overlap when they were used)
        livers = ((self._liver_mask(from_timepoint)[0], self._liver_mask(timepoint_id)[0]) if masked
                  else (None, None))
        # (of the whole registration, the same for every lesion it carries: the livers, else the middle of
        # the first image; a lesion near the edge that lands outside the other image is the click's to say)
        problems, _ = registration_problems(reg, fixed, self.images[timepoint_id].reference, fixed_mask=livers[0],
                                            moving_mask=livers[1])
        suspect = (f"{SUSPECT_REGISTRATION} from {from_timepoint!r}: {suspect_message(reg, problems)}"
                   if problems else None)
        try:
            out = self.segment_at(timepoint_id, mapped, lesion_id=les.lesion_id, in_liver=in_liver, phase=phase,
                                  notes=[suspect] if suspect else (), bias_correct=bias_correct)
            if made:
                self.last_timings["register_s"] = reg_s
            return out
        except HccImagingError as err:
            then = (f"It was {suspect}" if suspect else "If it has gone, record it as absent; else click it where it is.")
            raise HccImagingError(
                f"lesion {lesion_id} propagated from {from_timepoint!r} to {timepoint_id!r} (LPS "
                f"{tuple(np.round(mapped, 1).tolist())} mm): {err} {then}") from err

    def propagate_all(
        self,
        timepoint_id: str,
        *,
        in_liver: bool = False,
        phase: Phase | str | None = None,
        progress: Any = None,
        bias_correct: bool = False,
    ) -> dict[str, Observation | str]:
        """Every lesion read at an earlier loaded time point and not yet at ``timepoint_id``,
        propagated there (:meth:`propagate`, in the order the lesions were made; the registration
        is made once per pair of time points, so each lesion after the first costs a click).

        A lesion first seen later (a new lesion at a later follow-up) is not carried back.  A lesion
        that cannot be segmented where it is carried (it has gone, or lies elsewhere) is not added:
        its entry is the reason, to record it as absent or click it.  ``progress``: called with
        (lesions done, lesions to do) after each one.  Returns {lesion id: the observation, or why
        not}."""
        self._check_unlocked("propagate lesions")
        if timepoint_id not in self.images:
            raise HccImagingError(f"time point {timepoint_id!r} has no images loaded; load them before propagating.")
        order = self.timepoint_ids
        here = order.index(timepoint_id) if timepoint_id in order else len(order)
        earlier = [t for t in order[:here] if t in self.images]
        todo = [lid for lid in self.lesions
                if (lid, timepoint_id) not in self.observations
                and any(self._masks.get(t, {}).get(lid) is not None for t in earlier)]
        out: dict[str, Observation | str] = {}
        for n, lid in enumerate(todo):
            try:
                out[lid] = self.propagate(lid, timepoint_id, in_liver=in_liver, phase=phase, bias_correct=bias_correct)[1]
            except HccImagingError as err:
                out[lid] = str(err)
            if progress is not None:
                progress(n + 1, len(todo))
        return out

    def _registration(self, fixed_tp: str, moving_tp: str, *, liver: bool = False) -> tuple[Any, bool]:
        """The registration of ``moving_tp``'s reference image to ``fixed_tp``'s (made once per pair
        of loaded images), and whether it was made now.  ``liver``: its metric read inside
        ``fixed_tp``'s liver mask (and the follow-up's mask for the start), when the masks can be
        made; else on the whole images."""
        from . import _core

        fixed, moving = self.images[fixed_tp], self.images[moving_tp]
        key = (fixed_tp, moving_tp, liver)
        hit = self._registrations.get(key)
        if hit is not None and hit[0] is fixed and hit[1] is moving:
            return hit[2], False
        masks = (self._liver_mask(fixed_tp)[0], self._liver_mask(moving_tp)[0]) if liver else (None, None)
        reg = _core.register(fixed.reference, moving.reference, fixed_mask=masks[0], moving_mask=masks[1], carry=True)
        self._registrations[key] = (fixed, moving, reg)
        return reg, True

    def prepare_liver(self, timepoint_id: str) -> str | None:
        """Make the time point's liver mask now, if it is not made yet (the dock does it in the
        background when a time point is shown with "in liver" ticked, so that the first click does
        not wait the 1-3.5 s it takes on a 512 x 512 CT): the mask a click with ``in_liver`` (or a
        node) uses.  Returns why no mask could be made (e.g. an MR series), else None.  Thread-safe:
        a click that needs the mask meanwhile waits for this one instead of making its own."""
        if timepoint_id not in self.images:
            raise HccImagingError(f"time point {timepoint_id!r} has no images loaded; load them before making its liver mask.")
        return self._liver_mask(timepoint_id, record_time=False)[1]

    def has_liver(self, timepoint_id: str) -> bool:
        """Whether the time point's liver mask (or the reason it has none) is made for its loaded images."""
        hit = self._livers.get(timepoint_id)
        return hit is not None and hit[0] is self.images.get(timepoint_id)

    def _liver_mask(self, timepoint_id: str, include_lps: NDArray[np.float64] | None = None,
                    record_time: bool = True) -> tuple[LabelVolume | None, str | None]:
        """The time point's liver mask (made once per loaded images), or None and the reason when it
        cannot be made.  ``include_lps``: a point the mask must hold: when the mask made so far does
        not, it is made again with that point's piece added (and the earlier points'), and kept.
        ``record_time``: the time it took goes to :attr:`last_timings` (``liver_s``; not from the
        dock's background thread, which would write into a click's timings)."""
        with self._liver_lock:
            return self._liver_mask_locked(timepoint_id, include_lps, record_time)

    def _liver_mask_locked(self, timepoint_id: str, include_lps: NDArray[np.float64] | None,
                           record_time: bool) -> tuple[LabelVolume | None, str | None]:
        from . import _core

        tp = self.images[timepoint_id]
        hit = self._livers.get(timepoint_id)
        points: tuple[tuple[float, float, float], ...] = ()
        if hit is not None and hit[0] is tp:
            if include_lps is None or hit[1] is None or _holds(hit[1], include_lps):
                return hit[1], hit[2]
            points = hit[3]
        if include_lps is not None:
            points = points + (tuple(float(v) for v in np.asarray(include_lps, float).reshape(3)),)  # type: ignore[assignment]
        t0 = time.perf_counter()
        try:
            liver, note = _core.liver_mask(tp.phases, tp.reference, include_lps=points or None), None
        except HccImagingError as err:
            liver, note = None, str(err)
        if record_time:
            self.last_timings["liver_s"] = time.perf_counter() - t0
        self._livers[timepoint_id] = (tp, liver, note, points)
        return liver, note

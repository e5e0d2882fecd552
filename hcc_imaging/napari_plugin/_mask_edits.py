"""A reader's brush on a lesion mask (:class:`MaskEditsMixin`, a base of
:class:`._controller.ReadSession`): what napari's paint, fill and erase tools did to a time point's
``lesions`` or ``viable`` labels layer becomes the session's masks, measured again and saved.

The dock's labels layers show the session's own label maps (:meth:`ReadSession.label_array`, the
same arrays), so napari's tools write into them directly.  Until this module the session's masks
(the per-lesion crops it measures and autosaves) did not follow: the picture changed, the numbers
and the saved read did not, and a reopened read lost the edit.  Now each edit is read back here:

* on the ``lesions`` layer, every label the edit touched (the one painted and the ones painted
  over or erased) is re-read within its old box and the edit's box: its mask is replaced and the
  lesion measured again (``set_mask_crop``; its viable part stays where the mask still is); a
  label no lesion has becomes a new lesion drawn by hand (role from the dock); a lesion erased
  completely at this time point keeps no mask and is recorded ``absent`` there (its numbers
  cleared; the reader sets another status in the table if that is not what they meant), or is
  deleted when this was its only time point (a lesion segmented or drawn by mistake); napari's undo
  of that erase (its label painted again there) brings the same lesion back (its id, tracking UID,
  mask, viable part and numbers, measured again if the mask is not the one erased).  Until
  2026-12-05 the read refused that label (a read never reuses a lesion's number) and its voxels
  stayed on the layer, shown and exported in the SEG, a lesion the table did not have;
* on the ``viable`` layer, a lesion's viable part is what is painted with its label inside its
  mask; what is painted outside the mask (or with a label no lesion has a mask for) is removed
  from the layer again and said in the returned notes.

Each changed lesion is noted ``mask edited by hand (reader R)`` in its observation's problems
(the measurement's own provenance stays the measuring algorithm's), saved (autosave, masks too)
and marked for the study store's next sync.  A locked read refuses (``ReadLockedError``); the dock
then takes the stroke back.  Qt-free, as the rest of the controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..errors import HccImagingError
from ._serial import serialised
from ._sources import edited_note, reader_source

if TYPE_CHECKING:
    from ._controller import Lesion, Observation

Box = tuple[slice, slice, slice]


class _Plan(NamedTuple):
    """One label's edit, read before any is written: the lesion's new mask (``crop``, a box at
    ``start``) and viable part, ``kind`` "mask" (the lesions layer) or "viable"; ``lesion_id`` None
    for a label no lesion has (only on the lesions layer)."""

    kind: str
    label: int
    lesion_id: str | None
    start: tuple[int, ...]
    crop: NDArray[np.bool_]
    viable: NDArray[np.bool_] | None


def _union(a: Box | None, b: Box | None) -> Box | None:
    """The smallest box holding both (None: no box)."""
    if a is None:
        return b
    if b is None:
        return a
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _box_of(start: Sequence[int], shape: Sequence[int]) -> Box:
    return tuple(slice(int(a), int(a) + int(n)) for a, n in zip(start, shape, strict=True))  # type: ignore[return-value]


def painted_region(atoms: Iterable[Any], shape: Sequence[int]) -> tuple[Box | None, set[int]]:
    """The box (on a grid of ``shape``) and the label values (painted and painted over) of a
    napari Labels ``paint`` event's history atoms: ``(indices, old values, new value)`` tuples
    (brush, eraser) or masked atoms with ``slice_key`` / ``old_values`` / ``new_value`` (fill,
    polygon).  ``(None, set())`` when the atoms are of neither form (the caller re-reads every
    label then)."""
    box: Box | None = None
    labels: set[int] = set()
    for atom in atoms:
        if hasattr(atom, "slice_key") and hasattr(atom, "new_value"):
            key = tuple(atom.slice_key)
            if len(key) != len(shape):
                return None, set()
            part = tuple(slice(*s.indices(int(n))[:2]) for s, n in zip(key, shape, strict=True))
            labels.update(int(v) for v in np.unique(np.asarray(atom.old_values)))
            labels.add(int(atom.new_value))
        elif isinstance(atom, tuple) and len(atom) == 3 and isinstance(atom[0], tuple) and len(atom[0]) == len(shape):
            idx = [np.asarray(i) for i in atom[0]]
            if idx[0].size == 0:
                continue
            part = tuple(slice(int(i.min()), int(i.max()) + 1) for i in idx)
            labels.update(int(v) for v in np.unique(np.asarray(atom[1])))
            labels.update(int(v) for v in np.unique(np.asarray(atom[2])))
        else:
            return None, set()
        box = _union(box, part)  # type: ignore[arg-type]
    labels.discard(0)
    return box, labels


class _Erased(NamedTuple):
    """A lesion deleted because its whole mask was erased at ``timepoint``, its only one: what an
    undo of the erase restores."""

    lesion: Lesion
    timepoint: str
    observation: Observation | None
    mask: tuple[tuple[int, int, int], NDArray[np.bool_]] | None
    viable: tuple[tuple[int, int, int], NDArray[np.bool_]] | None


class MaskEditsMixin:
    """Mask edits for :class:`._controller.ReadSession`, which provides the lesions, masks and
    observations these methods read and write (``lesions``, ``observations``, ``_masks``,
    ``_viable``, ``reader_id``, ``geometry``, ``new_lesion``, ``set_mask_crop``,
    ``_update_label_cache``, ``_check_unlocked``, ``_dirty``, ``autosave``, ``delete_lesion``)."""

    lesions: dict[str, Lesion]
    observations: dict[tuple[str, str], Observation]
    _masks: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    _viable: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    _dirty: set[tuple[str, str]]
    _deleted: set[tuple[str, str]]
    _erased: dict[int, _Erased]
    reader_id: str

    def _lesion_of_label(self, label: int) -> str | None:
        return next((les.lesion_id for les in self.lesions.values() if les.label == label), None)

    @serialised
    def masks_painted(self, timepoint_id: str, painted: NDArray[Any], *, viable: bool = False,
                      box: Box | None = None, labels: Iterable[int] | None = None,
                      role: str = "target") -> tuple[list[str], list[str]]:
        """Take a labels layer's edit at ``timepoint_id`` into the session (module docstring).

        ``painted``: the layer's full label map (the session's own array, or a copy); ``box``
        and ``labels``: where the edit was and which label values it touched (:func:`painted_region`),
        or None to re-read every label of the map and of the session at this time point (after
        an undo, whose region napari does not report).  Returns (the lesions changed, notes for
        the reader)."""
        self._check_unlocked("edit a mask")
        arr = np.asarray(painted)
        shape = tuple(self.geometry(timepoint_id).shape)
        if arr.shape != shape:
            raise HccImagingError(f"the edited label map of {timepoint_id!r} has shape {arr.shape}, the time point's "
                                  f"reference grid {shape}.")
        store = self._viable if viable else self._masks
        if labels is None:
            labels = set(int(v) for v in np.unique(arr)) | {self.lesions[lid].label for lid in store.get(timepoint_id, {})
                                                            if lid in self.lesions}
            box = tuple(slice(0, n) for n in shape)  # type: ignore[assignment]
        todo = sorted(int(v) for v in labels if int(v) != 0)
        changed: list[str] = []
        notes: list[str] = []
        # every new crop is read before any is written: writing one lesion's crop updates the
        # label map (the same array napari painted) inside its boxes
        plans = []
        for label in todo:
            lid = self._lesion_of_label(label)
            if viable:
                plans.append(self._viable_plan(timepoint_id, arr, label, lid, box, notes))
            else:
                plans.append(self._mask_plan(timepoint_id, arr, label, lid, box))
        for plan in plans:
            if plan is None:
                continue
            lid = self._apply(timepoint_id, plan, role, notes)
            if lid is not None:
                changed.append(lid)
        return changed, notes

    def _mask_plan(self, tp: str, arr: NDArray[Any], label: int, lid: str | None, box: Box | None) -> _Plan:
        old = self._masks.get(tp, {}).get(lid) if lid is not None else None
        region = _union(_box_of(old[0], old[1].shape) if old is not None else None, box)
        if region is None:
            region = tuple(slice(0, n) for n in arr.shape)  # type: ignore[assignment]
        start = tuple(s.start for s in region)  # type: ignore[union-attr]
        crop = np.asarray(arr[region]) == label
        vold = self._viable.get(tp, {}).get(lid) if lid is not None else None
        vcrop = None
        if vold is not None:
            vfull = np.zeros(crop.shape, bool)
            _paste(vfull, start, *vold)
            vcrop = vfull & crop
        return _Plan("mask", label, lid, start, crop, vcrop)

    def _viable_plan(self, tp: str, arr: NDArray[Any], label: int, lid: str | None, box: Box | None,
                     notes: list[str]) -> _Plan | None:
        mask = self._masks.get(tp, {}).get(lid) if lid is not None else None
        region = box if box is not None else tuple(slice(0, n) for n in arr.shape)
        if mask is None:
            view = arr[region]
            n = int(np.count_nonzero(view == label))
            if n:
                view[view == label] = 0
                notes.append(f"viable label {label}: no lesion has a mask with that label at {tp}; "
                             f"the {n} voxel(s) painted were removed (segment or paint the lesion first).")
            return None
        start, crop = mask
        mregion = _box_of(start, crop.shape)
        vcrop = (np.asarray(arr[mregion]) == label) & crop
        # what lies outside the mask is not the lesion's viable part: off the layer again
        out_region = _union(region, mregion)
        view = arr[out_region]  # type: ignore[index]
        inside = np.zeros(view.shape, bool)
        _paste(inside, tuple(s.start for s in out_region), start, crop)  # type: ignore[union-attr]
        stray = (view == label) & ~inside
        if stray.any():
            view[stray] = 0
            notes.append(f"{lid}: {int(stray.sum())} viable voxel(s) painted outside its mask at {tp} were removed "
                         "(the viable part lies inside the lesion; edit the mask on the lesions layer first).")
        return _Plan("viable", label, lid, start, crop, vcrop)

    def _apply(self, tp: str, plan: _Plan, role: str, notes: list[str]) -> str | None:
        """Write one plan: the lesion's mask (and viable part) replaced and measured, a lesion drawn
        by hand made, or one erased whole cleared or deleted; its id, or None when nothing changed."""
        if plan.lesion_id is None:  # a label no lesion has, painted on the lesions layer
            if not plan.crop.any():
                return None
            erased = self._erased.get(plan.label)
            if erased is not None and erased.timepoint == tp and erased.lesion.lesion_id not in self.lesions:
                return self._restore(tp, plan, erased, notes)  # the undo of an erase
            lid = self._drawn_lesion(tp, plan.label, role, notes)
        else:
            lid = plan.lesion_id
            if plan.kind == "viable" and lid not in self._viable.get(tp, {}) and not (
                    plan.viable is not None and plan.viable.any()):
                return None
        if not plan.crop.any():
            if all(t == tp for (other, t) in self.observations if other == lid):
                erased = _Erased(self.lesions[lid], tp, self.observations.get((lid, tp)),
                                 self._masks.get(tp, {}).get(lid), self._viable.get(tp, {}).get(lid))
                self.delete_lesion(lid)  # it was read at this time point only: a lesion drawn or segmented by mistake
                self._erased[erased.lesion.label] = erased
                notes.append(f"{lid}: its whole mask was erased at {tp}, its only time point: the lesion is deleted.")
            else:
                self._clear(tp, lid)
                notes.append(f"{lid}: its whole mask at {tp} was erased; recorded as absent there (set another status "
                             "in the table if it is not).")
            return lid
        what = "mask" if plan.kind == "mask" else "viable part"
        prev = self.observations.get((lid, tp))  # (an edited mask is the reader's; its note says what it was)
        self.set_mask_crop(lid, tp, plan.start, plan.crop, viable=plan.viable, source=reader_source(self.reader_id),
                           notes=(edited_note(prev.source if prev else None, what, self.reader_id),))
        return lid

    def _restore(self, tp: str, plan: _Plan, erased: _Erased, notes: list[str]) -> str:
        """The lesion ``erased`` (deleted when its whole mask was erased at ``tp``) back in the read
        with the mask now painted with its label: as it was (observation, lines, viable part) when
        that is the mask erased, else measured again on it (its viable part kept inside it)."""
        les = erased.lesion
        lid = les.lesion_id
        del self._erased[les.label]
        self.lesions[lid] = les
        # a deletion the store has not had yet is none (sync_store writes _dirty, then deletes _deleted)
        self._deleted.discard((lid, tp))
        lo, crop = self._crop(plan.crop)
        start = tuple(int(a) + int(b) for a, b in zip(plan.start, lo, strict=True))
        old = erased.mask
        if (old is not None and erased.observation is not None and tuple(old[0]) == start
                and old[1].shape == crop.shape and np.array_equal(old[1], crop)):
            self._update_label_cache(tp, lid, False, old)
            self._update_label_cache(tp, lid, True, erased.viable)
            self.observations[(lid, tp)] = erased.observation
            self._dirty.add((lid, tp))
            self.autosave(masks=True)
        else:
            vcrop = np.zeros(plan.crop.shape, bool)
            if erased.viable is not None:
                _paste(vcrop, plan.start, *erased.viable)
            prev = erased.observation.source if erased.observation is not None else None
            self.set_mask_crop(lid, tp, plan.start, plan.crop, viable=vcrop & plan.crop,
                               source=reader_source(self.reader_id),
                               notes=(edited_note(prev, "mask", self.reader_id),))
        notes.append(f"{lid}: back in the read (its erased mask painted again at {tp}).")
        return lid

    def _drawn_lesion(self, tp: str, label: int, role: str, notes: list[str]) -> str:
        """A new lesion for a label painted at ``tp`` that no lesion has (its id ``L<label>``)."""
        try:
            lid = self.new_lesion(role=role, lesion_id=f"L{label}").lesion_id
        except HccImagingError as err:
            raise HccImagingError(
                f"label {label} painted at {tp} belongs to no lesion and cannot start one ({err}): a read never "
                "reuses a deleted lesion's number. Paint a new lesion with a new label (napari's 'new label' "
                "button, M), or an existing lesion with its own label.") from err
        notes.append(f"{lid}: a new lesion drawn by hand at {tp} (label {label}).")
        return lid

    def _clear(self, tp: str, lid: str) -> None:
        """No mask (nor viable part) for ``lid`` at ``tp``; its observation there ``absent``."""
        from ._controller import Observation

        self._update_label_cache(tp, lid, False, None)
        self._update_label_cache(tp, lid, True, None)
        self.observations[(lid, tp)] = Observation(
            status="absent", source=f"reader:{self.reader_id}",
            problems=[f"mask erased by hand (reader {self.reader_id})"])
        self._dirty.add((lid, tp))
        self.autosave(masks=True)


def _paste(into: NDArray[np.bool_], into_start: Sequence[int], start: Sequence[int], crop: NDArray[np.bool_]) -> None:
    """OR ``crop`` (a box at ``start`` of the grid) into ``into`` (a box at ``into_start``), where they overlap."""
    lo = [max(a, b) for a, b in zip(into_start, start, strict=True)]
    hi = [min(a + n, b + m) for a, n, b, m in zip(into_start, into.shape, start, crop.shape, strict=True)]
    if any(h <= l for l, h in zip(lo, hi, strict=True)):
        return
    dst = tuple(slice(l - a, h - a) for l, h, a in zip(lo, hi, into_start, strict=True))
    src = tuple(slice(l - b, h - b) for l, h, b in zip(lo, hi, start, strict=True))
    into[dst] |= crop[src]

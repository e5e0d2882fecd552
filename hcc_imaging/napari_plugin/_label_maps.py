"""The read's label maps (:class:`LabelMapsMixin`, a base of :class:`._controller.ReadSession`):
each lesion's mask kept as a crop on its time point's reference grid, the time point's label map
drawn from them (one array per time point and kind, updated in place inside a changed lesion's
boxes, the other lesions drawn again where it left), a lesion's full-size mask, the map as a
:class:`~hcc_imaging.volume.LabelVolume`, and a mask's crop.  Qt-free, as the rest of the
controller; split out of ``_controller.py`` along this seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..volume import LabelVolume
from ._serial import serialised

if TYPE_CHECKING:  # pragma: no cover
    from ._controller import Lesion, TimePointImages

__all__ = ["LabelMapsMixin"]


class LabelMapsMixin:
    """Label maps of :class:`._controller.ReadSession`, which provides the state these methods read
    and change (``lesions``, ``images``, the masks ``_masks`` / ``_viable``, ``_label_cache``) and
    its time points' grids (``geometry``)."""

    lesions: dict[str, Lesion]
    images: dict[str, TimePointImages]
    _masks: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    _viable: dict[str, dict[str, tuple[tuple[int, int, int], NDArray[np.bool_]]]]
    _label_cache: dict[tuple[str, bool], NDArray[np.uint16]]
    geometry: Any  # (TimePointsMixin's: a time point's reference grid)

    @serialised
    def label_array(self, timepoint_id: str, *, viable: bool = False) -> NDArray[np.uint16]:
        """The label map of a time point on its reference grid (lesion label values).

        The same array object is returned (and updated in place, only inside the bounding box
        of a changed lesion) until the lesions change wholesale, so a viewer layer showing it
        only needs a refresh.  Treat it as read-only.
        """
        key = (timepoint_id, viable)
        cached = self._label_cache.get(key)
        if cached is not None:
            return cached
        geom = self.geometry(timepoint_id)
        out = np.zeros(geom.shape, np.uint16)
        store = self._viable if viable else self._masks
        for lid, (start, crop) in store.get(timepoint_id, {}).items():
            sl = tuple(slice(a, a + n) for a, n in zip(start, crop.shape, strict=True))
            out[sl][crop] = self.lesions[lid].label
        self._label_cache[key] = out
        return out

    @serialised
    def redraw_label_array(self, timepoint_id: str, *, viable: bool = False) -> NDArray[np.uint16]:
        """:meth:`label_array` drawn again from the lesions' masks, in place (the array a viewer layer
        shows stays the same object): voxels an edit left there that the read did not take (a label
        no lesion has) are gone, so what is shown is what is measured and exported."""
        key = (timepoint_id, viable)
        cached = self._label_cache.pop(key, None)
        fresh = self.label_array(timepoint_id, viable=viable)
        if cached is None or cached.shape != fresh.shape:
            return fresh
        cached[...] = fresh
        self._label_cache[key] = cached
        return cached

    def _update_label_cache(
        self,
        timepoint_id: str,
        lesion_id: str,
        viable: bool,
        new: tuple[tuple[int, int, int], NDArray[np.bool_]] | None,
    ) -> None:
        """Replace one lesion in a cached label map, touching only its old and new boxes.

        Where the old mask's voxels are cleared, the other lesions' masks there are drawn again (as
        :meth:`label_array` draws them): a mask drawn over another lesion's voxels (the same lesion
        clicked twice) took them on the map, and removing it left the other lesion without them
        there, on the layer and in the SEG."""
        store = self._viable if viable else self._masks
        old = store.get(timepoint_id, {}).get(lesion_id)
        if new is None:
            store.get(timepoint_id, {}).pop(lesion_id, None)
        else:
            store.setdefault(timepoint_id, {})[lesion_id] = new
        arr = self._label_cache.get((timepoint_id, viable))
        if arr is None:
            return
        label = self.lesions[lesion_id].label
        for item, value in ((old, 0), (new, label)):
            if item is None:
                continue
            start, crop = item
            sl = tuple(slice(a, a + n) for a, n in zip(start, crop.shape, strict=True))
            view = arr[sl]
            if value == 0:
                cleared = view == label
                view[cleared] = 0
                if cleared.any():
                    self._repaint_others(store.get(timepoint_id, {}), lesion_id, start, view, cleared)
            else:
                view[crop] = label

    def _repaint_others(
        self,
        per: Mapping[str, tuple[tuple[int, int, int], NDArray[np.bool_]]],
        lesion_id: str,
        start: Sequence[int],
        view: NDArray[np.uint16],
        cleared: NDArray[np.bool_],
    ) -> None:
        """Draw the masks of the lesions other than ``lesion_id`` on the ``cleared`` voxels of
        ``view`` (the box of the map starting at voxel ``start``), in :meth:`label_array`'s order."""
        hi = [a + n for a, n in zip(start, view.shape, strict=True)]
        for lid, (ostart, crop) in per.items():
            if lid == lesion_id:
                continue
            lo2 = [max(a, b) for a, b in zip(start, ostart, strict=True)]
            hi2 = [min(a, b + n) for a, b, n in zip(hi, ostart, crop.shape, strict=True)]
            if any(a >= b for a, b in zip(lo2, hi2, strict=True)):
                continue
            in_view = tuple(slice(a - s, b - s) for a, b, s in zip(lo2, hi2, start, strict=True))
            in_crop = tuple(slice(a - s, b - s) for a, b, s in zip(lo2, hi2, ostart, strict=True))
            paint = crop[in_crop] & cleared[in_view]
            view[in_view][paint] = self.lesions[lid].label

    @serialised
    def lesion_mask(self, lesion_id: str, timepoint_id: str, *, viable: bool = False) -> NDArray[np.bool_] | None:
        """Full-size boolean mask of one lesion (None when it has none)."""
        store = self._viable if viable else self._masks
        item = store.get(timepoint_id, {}).get(lesion_id)
        if item is None:
            return None
        start, crop = item
        out = np.zeros(self.geometry(timepoint_id).shape, bool)
        out[tuple(slice(a, a + n) for a, n in zip(start, crop.shape, strict=True))] = crop
        return out

    @serialised
    def label_volume(self, timepoint_id: str, *, viable: bool = False) -> LabelVolume:
        ref = self.images[timepoint_id].reference if timepoint_id in self.images else None
        arr = self.label_array(timepoint_id, viable=viable)
        names = {les.label: les.lesion_id for les in self.lesions.values()}
        if ref is not None:
            return LabelVolume.like(ref, arr, labels=names)
        return LabelVolume(array=arr, geometry=self.geometry(timepoint_id), labels=names)

    @staticmethod
    def _crop(mask: NDArray[np.bool_]) -> tuple[tuple[int, int, int], NDArray[np.bool_]]:
        """(start index, bounding-box crop) of a boolean mask (:func:`._core.bbox`)."""
        from . import _core

        box = _core.bbox(mask)
        if box is None:
            return (0, 0, 0), np.zeros((0, 0, 0), bool)
        lo, hi = box
        return lo, np.ascontiguousarray(mask[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))])

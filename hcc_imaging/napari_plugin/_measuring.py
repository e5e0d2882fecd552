"""A lesion's mask set and measured (:class:`MeasuringMixin`, a base of
:class:`._controller.ReadSession`): a mask (full size or a crop, and its viable part) put on its
time point's reference grid and measured with the core on a crop around it (the same numbers as
the CLI's, no full-volume copies), and the lesions of a mask file (a DICOM SEG, an RTSTRUCT, a
NIfTI label map with ``labels.json``) imported onto a time point.  Qt-free, as the rest of the
controller; split out of ``_controller.py`` along this seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import HccImagingError
from ..volume import LabelVolume
from ._layers import as_acquired, as_displayed, reoriented_axes
from ._serial import serialised

if TYPE_CHECKING:  # pragma: no cover
    from ._controller import Lesion, Observation, TimePointImages

__all__ = ["MeasuringMixin"]


class MeasuringMixin:
    """Masks set and measured for :class:`._controller.ReadSession`, which provides the state these
    methods read and change (``lesions``, ``images``, ``observations``, ``_dirty``,
    ``last_timings``) and its helpers (``_check_unlocked``, ``_lesion``, ``new_lesion``,
    ``geometry``, ``_crop``, ``_update_label_cache``, ``autosave``)."""

    lesions: dict[str, Lesion]
    images: dict[str, TimePointImages]
    observations: dict[tuple[str, str], Observation]
    _dirty: set[tuple[str, str]]
    last_timings: dict[str, float]

    @serialised
    def set_mask(
        self,
        lesion_id: str,
        timepoint_id: str,
        mask: ArrayLike,
        *,
        viable: ArrayLike | None = None,
        source: str,
        notes: Sequence[str] = (),
    ) -> Observation:
        """Store a lesion mask (and its viable part), full size on the time point's reference
        grid, and measure it with the core."""
        self._check_unlocked("change a mask")
        self._lesion(lesion_id)
        m = np.asarray(mask, bool)
        geom = self.geometry(timepoint_id)
        if m.shape != geom.shape:
            raise HccImagingError(
                f"mask of lesion {lesion_id!r} at {timepoint_id!r} has shape {m.shape}, the time point's "
                f"reference grid is {geom.shape}; resample it onto the reference series first."
            )
        start, crop = self._crop(m)
        vcrop = None
        if viable is not None:
            v = np.asarray(viable, bool)
            sl = tuple(slice(a, a + n) for a, n in zip(start, crop.shape, strict=True))
            vcrop = v[sl] & crop
        return self.set_mask_crop(lesion_id, timepoint_id, start, crop, viable=vcrop, source=source, notes=notes)

    @serialised
    def set_mask_crop(
        self,
        lesion_id: str,
        timepoint_id: str,
        start: Sequence[int],
        mask: NDArray[np.bool_],
        *,
        viable: NDArray[np.bool_] | None = None,
        source: str,
        notes: Sequence[str] = (),
    ) -> Observation:
        """:meth:`set_mask` from a crop: ``mask`` (and ``viable``, same box) is the box starting at
        voxel ``start`` of the reference grid.  No full-size array is made."""
        import time

        self._check_unlocked("change a mask")
        les = self._lesion(lesion_id)
        geom = self.geometry(timepoint_id)
        m = np.asarray(mask, bool)
        st = tuple(int(v) for v in start)
        if len(st) != 3 or m.ndim != 3 or np.any(np.asarray(st) < 0) or np.any(np.asarray(st) + np.asarray(m.shape) > np.asarray(geom.shape)):
            raise HccImagingError(
                f"mask crop of lesion {lesion_id!r} at {timepoint_id!r} (start {st}, shape {m.shape}) does not fit the "
                f"time point's reference grid {geom.shape}."
            )
        t0 = time.perf_counter()
        # tighten to the mask's own box (a crop may carry empty margins)
        (lo, crop) = self._crop(m)
        start3 = (st[0] + lo[0], st[1] + lo[1], st[2] + lo[2])
        self._update_label_cache(timepoint_id, lesion_id, False, (start3, crop) if crop.size else None)
        vcrop = None
        if viable is not None:
            v = np.asarray(viable, bool)
            if v.shape != m.shape:
                raise HccImagingError(f"viable crop of lesion {lesion_id!r} has shape {v.shape}, its mask crop {m.shape}.")
            sl = tuple(slice(a, a + n) for a, n in zip(lo, crop.shape, strict=True))
            vcrop = v[sl] & crop
        self._update_label_cache(timepoint_id, lesion_id, True, (start3, vcrop) if vcrop is not None and vcrop.any() else None)
        obs = self._measure(les, timepoint_id, start3, crop, vcrop, source)
        self.last_timings["measure_s"] = time.perf_counter() - t0
        obs.problems = [*notes, *obs.problems]
        self.observations[(lesion_id, timepoint_id)] = obs
        self._dirty.add((lesion_id, timepoint_id))
        self.autosave(masks=True)
        return obs

    #: Voxels kept around a lesion's bounding box when it is measured on a crop (the
    #: measurement is translation-invariant: the crop keeps the grid's spacing/direction and
    #: moves the origin, so LPS endpoints are unchanged; a margin keeps border rules identical).
    MEASURE_MARGIN_VOXELS = 2

    def _measure(
        self,
        les: Lesion,
        timepoint_id: str,
        start: tuple[int, int, int],
        mask: NDArray[np.bool_],
        viable: NDArray[np.bool_] | None,
        source: str,
    ) -> Observation:
        """Measure one lesion with the core on a crop around it (same numbers, no full-volume copies)."""
        from . import _core

        ref = self.images[timepoint_id].reference
        shape = np.asarray(ref.shape)
        lo = np.maximum(np.asarray(start) - self.MEASURE_MARGIN_VOXELS, 0)
        hi = np.minimum(np.asarray(start) + np.asarray(mask.shape) + self.MEASURE_MARGIN_VOXELS, shape)
        image = ref.crop(lo, hi)
        inner = tuple(slice(int(a - b), int(a - b) + n) for a, b, n in zip(start, lo, mask.shape, strict=True))
        marr = np.zeros(image.shape, np.uint8)
        marr[inner] = mask
        lab = LabelVolume.like(image, marr, labels={1: les.lesion_id})
        vlab = None
        if viable is not None:
            varr = np.zeros(image.shape, np.uint8)
            varr[inner] = viable
            vlab = LabelVolume.like(image, varr, labels={1: les.lesion_id})
        return _core.measure(lab, vlab, lesion_id=les.lesion_id, is_lymph_node=les.is_lymph_node, source=source, image=image)

    def import_masks(self, timepoint_id: str, path: str | os.PathLike[str]) -> list[str]:
        """Each lesion of a mask file, measured at ``timepoint_id`` (its masks replace the ones there):
        a DICOM SEG (ours: lesion and viable segments, anatomic regions), an RTSTRUCT, or a NIfTI
        label map with ``labels.json`` (lesion ids, organs) and ``viable.nii.gz`` beside it, as
        ``hcc-imaging batch`` saves a study's masks (``OUT/masks/<study>/``).  A lesion id the read
        tracks gets the mask at this time point; another becomes a new lesion with that id (a
        ``L<n>`` id), with its organ.  Returns the lesion ids, in label order."""
        from ..export._file_sources import IMPORTED_MASK_SOURCE
        from . import _core

        self._check_unlocked("import masks")
        if timepoint_id not in self.images:
            raise HccImagingError(f"time point {timepoint_id!r} has no images loaded; open its study before importing "
                                  "masks onto it.")
        ref = self.images[timepoint_id].reference
        # a series shown with its axes in world order (sagittal, coronal): the file's masks are
        # read on the acquired slices (a SEG's frames are those files) and put on the shown grid
        axes = reoriented_axes(ref)
        lesions, viable, organs = _core.import_masks(Path(path), as_acquired(ref, axes))
        lesions = as_displayed(lesions, axes)
        viable = None if viable is None else as_displayed(viable, axes)
        kinds = _core.mask_kinds(Path(path))  # a SEG's fluid segments (ascites ...)
        arr = np.asarray(lesions.array)
        varr = None if viable is None else np.asarray(viable.array)
        present = [int(v) for v in np.unique(arr) if v != 0]
        if not present:
            raise HccImagingError(f"{path}: the mask has no lesion voxels on time point {timepoint_id!r}.")
        ids = []
        for lab in present:
            lid = str(lesions.labels.get(lab, f"L{lab}"))
            if lid not in self.lesions:
                organ = organs.get(lid, "liver")
                self.new_lesion(organ=organ, is_lymph_node=organ == "lymph_node", lesion_id=lid).kind = kinds.get(lid)
            self.set_mask(lid, timepoint_id, arr == lab, viable=None if varr is None else varr == lab,
                          source=IMPORTED_MASK_SOURCE)  # (never the file's name: it may be a patient's)
            ids.append(lid)
        return ids

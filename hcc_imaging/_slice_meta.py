"""What a volume's ``meta`` says slice by slice follows a crop (``Volume.crop`` / ``LabelVolume.crop``).

* Slice numbers: ``interpolated_slices`` (a series resampled onto a regular grid, ``io.series``) and a
  mask's ``filled_slices`` (``{lesion: [slice, ...]}``, ``io._mask_gaps``) name slices of the volume
  they are in; after a crop they name the cropped volume's slices (shifted by its first slice; slices
  cropped away are left out).  They stayed in uncropped numbers: the mask-gap filling then filled,
  and the notes named, the wrong slices.
* Per-slice lists: ``source_files``, ``sop_instance_uids`` and ``source_frames`` (one entry per
  slice, in slice order, ``io.series``) keep the entries of the slices kept, so slice k of a cropped
  volume still names its own DICOM image (the SR's image references, a SEG's source images).  Until
  2026-12-06 they stayed whole: slice k of a crop named the image of uncropped slice k.  Lists of
  another length than the slice count (a resampled series: one entry per acquired image, not per
  grid slice) cannot be cropped by slice: ``source_files`` is kept whole (the series' images, the
  SR's evidence), ``sop_instance_uids`` and ``source_frames`` are left out (no slice of the crop can
  name its image; the SR then gives a measurement no image reference, as for any resampled grid).

"Slice" is the acquired slice axis: axis 0, or for a volume shown with its axes reordered
(``meta["reoriented"]["axes"]``, the napari plugin's display grid) the axis the acquired slices lie
along there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["PER_SLICE_KEYS", "cropped_slice_meta", "slice_axis"]

#: ``meta`` keys holding one entry per slice, in slice order.
PER_SLICE_KEYS = ("source_files", "sop_instance_uids", "source_frames")
#: Of these, the ones left out when they cannot follow a crop (a list not one per slice).
_IDENTIFYING = ("sop_instance_uids", "source_frames")


def slice_axis(meta: Mapping[str, Any]) -> int:
    """The array axis of the acquired slices: 0, or where a reordering of the axes put it."""
    info = meta.get("reoriented")
    axes = info.get("axes") if isinstance(info, Mapping) else None
    if axes:
        order = [int(a) for a in axes]
        if 0 in order:
            return order.index(0)
    return 0


def _shifted(ks: Iterable[Any], start: int, stop: int) -> list[int]:
    return [int(k) - start for k in ks if start <= int(k) < stop]


def cropped_slice_meta(meta: Mapping[str, Any], start: Sequence[int], stop: Sequence[int],
                       shape: Sequence[int]) -> Mapping[str, Any]:
    """``meta`` of the sub-volume ``[start, stop)`` of a volume of ``shape``: its slice numbers in the
    crop's numbering and its per-slice lists cut to the slices kept (``meta`` itself when it holds
    neither, or when the crop keeps every slice)."""
    if not any(key in meta for key in ("interpolated_slices", "filled_slices", *PER_SLICE_KEYS)):
        return meta
    ax = slice_axis(meta)
    n, lo, hi = int(shape[ax]), int(start[ax]), int(stop[ax])
    if (lo, hi) == (0, n):
        return meta
    out = dict(meta)
    if meta.get("interpolated_slices") is not None:
        out["interpolated_slices"] = _shifted(meta["interpolated_slices"], lo, hi)
    filled = meta.get("filled_slices")
    if isinstance(filled, Mapping):
        kept = {name: _shifted(ks, lo, hi) for name, ks in filled.items()}
        out["filled_slices"] = {name: ks for name, ks in kept.items() if ks}
    for key in PER_SLICE_KEYS:
        values = meta.get(key)
        if values is None or isinstance(values, (str, bytes)):
            continue
        values = tuple(values)
        if len(values) == n:
            out[key] = values[lo:hi]
        elif key in _IDENTIFYING:
            del out[key]
    return out

"""Slice numbers kept in a volume's ``meta`` follow a crop (``Volume.crop`` / ``LabelVolume.crop``):
``interpolated_slices`` (a series resampled onto a regular grid, ``io.series``) and a mask's
``filled_slices`` (``{lesion: [slice, ...]}``, ``io._mask_gaps``) name slices of the volume they
are in; after a crop they name the cropped volume's slices (shifted by its first slice; slices
cropped away are left out).  They stayed in uncropped numbers: the mask-gap filling then filled,
and the notes named, the wrong slices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["cropped_slice_meta"]


def _shifted(ks: Iterable[Any], start: int, stop: int) -> list[int]:
    return [int(k) - start for k in ks if start <= int(k) < stop]


def cropped_slice_meta(meta: Mapping[str, Any], start: int, stop: int) -> Mapping[str, Any]:
    """``meta`` with its slice numbers in the numbering of slices ``[start, stop)`` (``meta`` itself
    when it holds none)."""
    if "interpolated_slices" not in meta and "filled_slices" not in meta:
        return meta
    out = dict(meta)
    if meta.get("interpolated_slices") is not None:
        out["interpolated_slices"] = _shifted(meta["interpolated_slices"], start, stop)
    filled = meta.get("filled_slices")
    if isinstance(filled, Mapping):
        kept = {name: _shifted(ks, start, stop) for name, ks in filled.items()}
        out["filled_slices"] = {name: ks for name, ks in kept.items() if ks}
    return out

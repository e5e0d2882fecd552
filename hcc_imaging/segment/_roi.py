"""The region-of-interest helpers the viable part's steps share (:mod:`.viable`, :mod:`.viable_align`).

The box around the lesions a step works in (:func:`crop_geometry`), the part of a series that
covers it plus a margin (:func:`crop_around`), a series sampled on it (:func:`on_grid`, or moved by
a translation: :func:`on_shifted`), and the mutual information that confirms a translation
(:func:`mutual_information`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry, LabelVolume, Volume, resample_volume
from . import constants as C

__all__ = ["bbox", "crop_around", "crop_geometry", "mutual_information", "on_grid", "on_shifted"]


def mutual_information(a: NDArray[np.float32], b: NDArray[np.float32], bins: int = C.REGISTRATION_HISTOGRAM_BINS) -> float:
    """Mutual information (nats) of two same-shape images from their joint histogram
    (intensities clipped to -200..800 HU so air and bone do not use up the bins)."""
    lo, hi = -200.0, 800.0
    scale = bins / (hi - lo)

    def index(v: NDArray[np.float32]) -> NDArray[np.int64]:
        i = ((np.clip(v.reshape(-1), lo, hi) - lo) * scale).astype(np.int64)
        return np.minimum(i, bins - 1)

    h = np.bincount(index(a) * bins + index(b), minlength=bins * bins).reshape(bins, bins).astype(np.float64)
    pxy = h / max(h.sum(), 1.0)
    px = pxy.sum(1, keepdims=True)
    py = pxy.sum(0, keepdims=True)
    nz = pxy > 0
    return float(np.sum(pxy[nz] * np.log(pxy[nz] / (px @ py)[nz])))


def bbox(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """(start, stop) of the True voxels (one reduction per axis, no index arrays), None when empty."""
    lo: list[int] = []
    hi: list[int] = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        if hit.size == 0:
            return None
        lo.append(int(hit[0]))
        hi.append(int(hit[-1]) + 1)
    return np.asarray(lo, np.int64), np.asarray(hi, np.int64)


def crop_geometry(lesion: LabelVolume, margin_mm: float) -> tuple[Geometry, tuple[slice, slice, slice]] | None:
    bb = bbox(lesion.array != 0)
    if bb is None:
        return None
    pad = np.ceil(margin_mm / np.asarray(lesion.spacing)).astype(int)
    lo = np.maximum(bb[0] - pad, 0)
    hi = np.minimum(bb[1] + pad, np.asarray(lesion.shape))
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    return lesion.geometry.crop(lo, hi), sl  # type: ignore[return-value]


def crop_around(vol: Volume, geom: Geometry, margin_mm: float) -> Volume:
    """The part of ``vol`` covering ``geom``'s extent plus ``margin_mm`` (a view, same grid)."""
    idx = vol.geometry.lps_to_index(geom.extent_lps)
    pad = margin_mm / np.asarray(vol.spacing)
    lo = np.maximum(np.floor(idx.min(axis=0) - pad).astype(int), 0)
    hi = np.minimum(np.ceil(idx.max(axis=0) + pad).astype(int) + 1, np.asarray(vol.shape))
    if np.any(hi <= lo):  # no overlap: keep the whole volume, the registration will say what is wrong
        return vol
    return vol.crop(lo, hi)


def on_grid(vol: Volume, geom: Geometry) -> NDArray[np.float32]:
    """``vol`` sampled on ``geom`` (cropping when the grids agree, else linear resampling)."""
    g = vol.geometry
    if np.allclose(g.spacing, geom.spacing, atol=1e-3) and np.allclose(g.direction, geom.direction, atol=1e-4):
        start = np.rint(g.lps_to_index(geom.origin)).astype(int)
        if np.allclose(g.index_to_lps(start), geom.origin, atol=1e-3) and np.all(start >= 0) and np.all(start + np.asarray(geom.shape) <= np.asarray(g.shape)):
            sl = tuple(slice(int(a), int(a) + n) for a, n in zip(start, geom.shape, strict=True))
            return np.asarray(vol.array[sl], np.float32)
    out = resample_volume(vol, geom, interpolation="linear", default_hu=-1024.0)
    return np.asarray(out.array, np.float32)


def on_shifted(vol: Volume, geom: Geometry, shift_lps: NDArray[np.float64] | None) -> NDArray[np.float32]:
    """``vol`` at the points of ``geom`` moved by ``shift_lps`` (mm), trilinear.

    When the grids share spacing and direction the shift is a constant fractional index offset:
    the 8 neighbouring integer crops weighted (no SimpleITK call, no copy of the series); points
    outside ``vol`` take its edge values.  Otherwise SimpleITK resampling with the translation.
    """
    if shift_lps is None or not np.any(shift_lps):
        return on_grid(vol, geom)
    g = vol.geometry
    if not (np.allclose(g.spacing, geom.spacing, atol=1e-3) and np.allclose(g.direction, geom.direction, atol=1e-4)):
        import SimpleITK as sitk

        tx = sitk.TranslationTransform(3, tuple(float(v) for v in shift_lps))
        out = resample_volume(vol, geom, interpolation="linear", default_hu=-1024.0, transform=tx)
        return np.asarray(out.array, np.float32)
    start = g.lps_to_index(np.asarray(geom.origin) + shift_lps)
    base = np.floor(start).astype(np.int64)
    frac = (start - base).astype(np.float32)
    shape = np.asarray(geom.shape)
    lo, hi = base, base + shape + 1
    clo, chi = np.clip(lo, 0, np.asarray(g.shape) - 1), np.clip(hi, 1, np.asarray(g.shape))
    part = np.asarray(vol.array[tuple(slice(int(a), int(b)) for a, b in zip(clo, chi, strict=True))], np.float32)
    pad = [(int(max(c - a, 0)), int(max(b - d, 0))) for a, b, c, d in zip(lo, hi, clo, chi, strict=True)]
    if part.size == 0 or any(p != (0, 0) for p in pad):
        part = np.pad(part if part.size else np.full((1, 1, 1), -1024.0, np.float32), pad, mode="edge")
        part = part[: int(shape[0]) + 1, : int(shape[1]) + 1, : int(shape[2]) + 1]
    out = np.zeros(tuple(int(v) for v in shape), np.float32)
    for dk in (0, 1):
        wk = frac[0] if dk else 1.0 - frac[0]
        if wk == 0:
            continue
        for dj in (0, 1):
            wj = frac[1] if dj else 1.0 - frac[1]
            if wj == 0:
                continue
            for di in (0, 1):
                wi = frac[2] if di else 1.0 - frac[2]
                if wi == 0:
                    continue
                out += np.float32(wk * wj * wi) * part[dk : dk + shape[0], dj : dj + shape[1], di : di + shape[2]]
    return out

"""The translation search of :func:`.register.register_translation` (private): an exhaustive search of every shift
by the normalised cross-correlation of two phases' gradient magnitudes, computed for all shifts at once with FFTs,
coarse then fine, with a parabolic fraction of a voxel (``viable_mask``'s pre-contrast and arterial phases,
``viable_align``).  Split from :mod:`.register` (session of 2026-12-07, ninth; the same code, moved);
:func:`register_translation` is imported from there as before.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Volume, resample_volume
from . import constants as C
from .errors import RegistrationError

def _on_grid_edge_padded(vol: Volume, geom: Any) -> NDArray[Any]:
    """``vol`` sampled on ``geom`` (its own dtype when the grids agree, else float32); where
    ``geom`` leaves the image, the nearest edge value (no artificial border edge).  A crop (a
    view when inside) when the grids agree, else linear resampling."""
    g = vol.geometry
    if np.allclose(g.spacing, geom.spacing, atol=1e-3) and np.allclose(g.direction, geom.direction, atol=1e-4):
        start_f = g.lps_to_index(geom.origin)
        start = np.rint(start_f).astype(int)
        if np.allclose(start_f, start, atol=1e-3):
            stop = start + np.asarray(geom.shape)
            lo = np.clip(start, 0, np.asarray(g.shape) - 1)
            hi = np.clip(stop, lo + 1, np.asarray(g.shape))
            part = np.asarray(vol.array[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))])
            pad = [(int(max(a - s, 0)), int(max(e - b, 0))) for a, b, s, e in zip(lo, hi, start, stop, strict=True)]
            if any(p != (0, 0) for p in pad):
                part = np.pad(part, pad, mode="edge")
                # a region wholly beyond one side: keep the first shape voxels (all edge values)
                part = part[: geom.shape[0], : geom.shape[1], : geom.shape[2]]
            return part
    out = resample_volume(vol, geom, interpolation="linear", default_hu=float(np.min(vol.array)))
    return np.asarray(out.array, np.float32)


def _clip(a: NDArray[Any], window: tuple[float, float]) -> NDArray[Any]:
    """``a`` clipped to ``window`` (integer arrays stay integer when the window is whole numbers)."""
    lo, hi = window
    if np.issubdtype(a.dtype, np.integer) and float(lo).is_integer() and float(hi).is_integer():
        info = np.iinfo(a.dtype)
        return np.clip(a, max(int(lo), int(info.min)), min(int(hi), int(info.max)))
    return np.clip(np.asarray(a, np.float32), np.float32(lo), np.float32(hi))


def _block_mean(a: NDArray[Any], f: NDArray[np.int64]) -> NDArray[np.float32]:
    """Mean over non-overlapping blocks of ``f`` voxels per axis (anti-aliased downsampling):
    a sum of the ``prod(f)`` strided sub-grids, in float32."""
    n = np.asarray(a.shape) // f
    if np.all(f == 1):
        return np.array(a, np.float32)
    out = np.zeros(tuple(int(v) for v in n), np.float32)
    for dk in range(int(f[0])):
        for dj in range(int(f[1])):
            for di in range(int(f[2])):
                out += a[dk : n[0] * f[0] : f[0], dj : n[1] * f[1] : f[1], di : n[2] * f[2] : f[2]]
    out *= np.float32(1.0 / float(np.prod(f)))
    return out


def _gradient_magnitude(a: NDArray[np.float32], spacing: NDArray[np.float64], sigma_vox: float) -> NDArray[np.float32]:
    if sigma_vox > 0:
        # scipy's gaussian_filter(mode="nearest"), compiled (bit for bit) for a float32 volume
        from . import _kernels

        a = _kernels.gaussian_filter_nearest(a, (float(sigma_vox),) * a.ndim, truncate=C.TRANSLATION_SMOOTHING_TRUNCATE)
    g = np.gradient(a, *[float(s) for s in spacing])
    return np.sqrt(sum(x * x for x in g)).astype(np.float32)


def _border_vox(smoothing_vox: float) -> int:
    """Voxels at an array's border whose smoothed gradient depends on the border handling."""
    return int(C.TRANSLATION_SMOOTHING_TRUNCATE * smoothing_vox + 0.5) + 1 if smoothing_vox > 0 else 1


def _box_sums(a: NDArray[Any], n: tuple[int, ...]) -> NDArray[np.float64]:
    """Sums of ``a`` over every window of shape ``n`` (valid positions only): separable running
    sums, one axis at a time (each pass shrinks that axis to the valid positions)."""
    out = np.asarray(a, np.float64)
    for axis, w in enumerate(n):
        c = np.cumsum(out, axis=axis)
        hi = [slice(None)] * c.ndim
        hi[axis] = slice(w - 1, None)
        res = c[tuple(hi)].copy()
        lo = [slice(None)] * c.ndim
        lo[axis] = slice(None, c.shape[axis] - w)
        tail = [slice(None)] * c.ndim
        tail[axis] = slice(1, None)
        res[tuple(tail)] -= c[tuple(lo)]
        out = res
    return out


def _parabolic_offset(c_minus: float, c0: float, c_plus: float) -> float:
    """Sub-voxel position of a peak from three samples (clamped to +-0.5): a Gaussian through
    them (a parabola through their logarithms) when all are positive, else a parabola."""
    if min(c_minus, c0, c_plus) > 0:
        c_minus, c0, c_plus = np.log(c_minus), np.log(c0), np.log(c_plus)
    den = c_minus - 2.0 * c0 + c_plus
    if not np.isfinite(den) or den >= 0:
        return 0.0
    return float(np.clip(0.5 * (c_minus - c_plus) / den, -0.5, 0.5))


def _ncc_search(
    fixed: Volume,
    moving: Volume,
    f: NDArray[np.int64],
    P: NDArray[np.int64],
    offset: NDArray[np.int64],
    window: tuple[float, float],
    smoothing_vox: float,
) -> tuple[NDArray[np.float64], float, float, list[bool]]:
    """Best shift of ``moving`` against ``fixed`` on a grid of ``f`` voxels per axis, searched over
    ``offset`` (native voxels) +- ``P`` grid steps.  Returns (shift in native voxels, peak NCC,
    NCC at ``offset``, whether the peak is at the search limit per axis)."""
    import scipy.fft as sfft

    n_c = np.asarray(fixed.shape) // f
    pad = P * f
    ext = fixed.geometry.crop(offset - pad, offset + n_c * f + pad)
    fa = np.asarray(fixed.array[: n_c[0] * f[0], : n_c[1] * f[1], : n_c[2] * f[2]])
    ma = _on_grid_edge_padded(moving, ext)
    cs = np.asarray(fixed.spacing, float) * f
    F = _gradient_magnitude(_block_mean(_clip(fa, window), f), cs, smoothing_vox)
    M = _gradient_magnitude(_block_mean(_clip(ma, window), f), cs, smoothing_vox)
    # the outer shell of each image was smoothed and differentiated against the array border
    # (replicated values, one-sided differences), not against its neighbours: it would not match
    # the same voxels inside the other image and biases the peak; both lose it (the same number
    # of voxels, so the index correspondence is unchanged)
    b = _border_vox(smoothing_vox)
    if np.all(np.asarray(F.shape) > 2 * b + 2):
        inner = (slice(b, -b),) * 3
        F, M = F[inner], M[inner]
    T = F - np.float32(F.mean(dtype=np.float64))
    norm_t = float(np.sqrt(np.sum(T * T, dtype=np.float64)))
    if norm_t <= 0 or not np.isfinite(norm_t):
        return offset.astype(float), 0.0, 0.0, [False, False, False]
    shape = M.shape
    # single precision halves the FFT cost; the NCC differences that matter (1e-3) are far above
    # its rounding (1e-7 of the sums)
    fshape = tuple(int(sfft.next_fast_len(int(n), real=True)) for n in shape)
    cc = sfft.irfftn(sfft.rfftn(M, fshape) * np.conj(sfft.rfftn(T, fshape)), fshape)
    nout = tuple(int(2 * p + 1) for p in P)
    cc = cc[: nout[0], : nout[1], : nout[2]]
    nvox = float(T.size)
    Mi = M.astype(np.float64)
    s1 = _box_sums(Mi, T.shape)
    s2 = _box_sums(Mi * Mi, T.shape)
    var = np.maximum(s2 - s1 * s1 / nvox, 1e-12 * max(float(s2.max()), 1e-30))
    ncc = cc / (norm_t * np.sqrt(var))
    best = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    delta = np.asarray(best, float) - P
    for axis in range(3):
        b = list(best)
        if 0 < best[axis] < nout[axis] - 1:
            b[axis] = best[axis] - 1
            cm = float(ncc[tuple(b)])
            b[axis] = best[axis] + 1
            cp = float(ncc[tuple(b)])
            delta[axis] += _parabolic_offset(cm, float(ncc[best]), cp)
    at_limit = [bool(best[a] in (0, nout[a] - 1)) for a in range(3)]
    return offset + delta * f, float(ncc[best]), float(ncc[tuple(int(p) for p in P)]), at_limit


def register_translation(
    fixed: Volume,
    moving: Volume,
    *,
    max_shift_mm: float = C.TRANSLATION_MAX_SHIFT_MM,
    grid_mm: float = C.TRANSLATION_GRID_MM,
    fine_grid_mm: float | None = C.TRANSLATION_FINE_GRID_MM,
    fine_trim_mm: float = 0.0,
    intensity_window: tuple[float, float] | None = None,
    smoothing_vox: float = C.TRANSLATION_SMOOTHING_VOX,
) -> Registration:
    """The translation of ``moving`` that best matches ``fixed`` over the whole of ``fixed``.

    An exhaustive search of every shift up to ``max_shift_mm`` per axis: normalised
    cross-correlation (NCC) of the gradient magnitudes of both images, computed for all shifts
    at once with FFTs, on a grid of about ``grid_mm`` (block means of whole voxels); then the
    same search on a grid of about ``fine_grid_mm`` within one coarse step of the best shift;
    a parabolic fit around the best fine shift gives a fraction of a voxel.  Gradient
    magnitudes are alike across contrast phases (edges of the liver, vessels, lesions and
    lipiodol are edges on every phase) where raw intensities are not; an exhaustive search has
    no local optimum to fall into.

    Meant for a small region (e.g. a lesion and 30 mm around it) of two phases of one study,
    where breathing moves the region by a few mm and rotates it very little; over a large
    field use :func:`register_volumes` (rigid / affine).

    Parameters
    ----------
    fixed : Volume
        The region to align (its whole extent is the template).
    moving : Volume
        Same frame of reference; sampled on ``fixed``'s grid extended by the search range
        (outside its extent, its edge values are repeated).
    max_shift_mm : float
        Largest shift searched along each array axis (mm).
    grid_mm, fine_grid_mm : float
        Target spacing of the coarse and fine search grids (each axis: a whole number of
        voxels, at least 1).  ``fine_grid_mm=None`` skips the fine search.
    fine_trim_mm : float
        The fine search uses ``fixed`` less this margin on every side (e.g. the lesion and
        10 mm around it when ``fixed`` is the lesion and 30 mm around it): the coarse search
        wants context, the fine one only the neighbourhood that matters, at a third of the cost.
    intensity_window : (low, high), optional
        Intensities are clipped to this window first (e.g. -200..400 HU on CT: air and bone
        would otherwise dominate the gradients).  Default: the 1st-99th percentile of ``fixed``.
    smoothing_vox : float
        Gaussian sigma (search-grid voxels) before the gradient.

    Returns
    -------
    Registration
        ``kind="translation"``, identity matrix; ``parameters`` holds the peak NCC and the search.
    """
    from .register import Registration, TransformKind  # (the result type: register.py imports this module)

    t0 = time.perf_counter()
    if not (max_shift_mm > 0 and grid_mm > 0 and (fine_grid_mm is None or fine_grid_mm > 0)):
        raise RegistrationError(
            f"max_shift_mm, grid_mm and fine_grid_mm must be > 0, got {max_shift_mm}, {grid_mm}, {fine_grid_mm}."
        )
    sp = np.asarray(fixed.spacing, float)
    f = np.maximum(np.rint(grid_mm / sp).astype(np.int64), 1)
    if np.any(np.asarray(fixed.shape) // f < 2 * _border_vox(smoothing_vox) + 3):
        raise RegistrationError(
            f"region of series {fixed.series_instance_uid or '?'} is too small ({fixed.shape} voxels) for a "
            f"{grid_mm} mm translation search; pass a larger region or a smaller grid_mm."
        )
    if intensity_window is None:
        a = np.asarray(fixed.array)
        lo_hi = np.percentile(a[:: max(1, a.shape[0] // 16)], [1.0, 99.0])
        intensity_window = (float(lo_hi[0]), float(lo_hi[1]))
    P = np.ceil(max_shift_mm / (sp * f)).astype(np.int64)
    zero = np.zeros(3, np.int64)
    shift, peak, ncc0, at_limit = _ncc_search(fixed, moving, f, P, zero, intensity_window, smoothing_vox)
    stages = [{"grid_mm": [float(v) for v in sp * f], "search_steps": [int(v) for v in P], "peak_ncc": round(peak, 6)}]
    if fine_grid_mm is not None and peak > 0:
        f2 = np.maximum(np.rint(fine_grid_mm / sp).astype(np.int64), 1)
        if np.any(f2 < f):
            # one coarse step (and one fine step) either side of the coarse estimate
            P2 = np.ceil(f / f2).astype(np.int64) + 1
            centre = np.rint(shift).astype(np.int64)
            inner = fixed
            if fine_trim_mm > 0:
                trim = np.floor(fine_trim_mm / sp).astype(np.int64)
                lo = np.minimum(trim, (np.asarray(fixed.shape) - 3 * f2) // 2).clip(0)
                inner = fixed.crop(lo, np.asarray(fixed.shape) - lo)
            shift2, peak2, _, _ = _ncc_search(inner, moving, f2, P2, centre, intensity_window, smoothing_vox)
            stages.append({"grid_mm": [float(v) for v in sp * f2], "search_steps": [int(v) for v in P2],
                           "peak_ncc": round(peak2, 6)})
            if peak2 > 0:
                shift, peak = shift2, peak2
    shift_axes_mm = shift * sp
    t_lps = fixed.geometry.direction @ shift_axes_mm
    centre_lps = fixed.index_to_lps((np.asarray(fixed.shape) - 1) / 2.0)
    return Registration(
        kind=TransformKind.TRANSLATION,
        matrix=np.eye(3),
        translation_mm=tuple(float(v) for v in t_lps),  # type: ignore[arg-type]
        center_mm=tuple(float(v) for v in centre_lps),  # type: ignore[arg-type]
        fixed_frame_of_reference_uid=fixed.frame_of_reference_uid,
        moving_frame_of_reference_uid=moving.frame_of_reference_uid,
        fixed_series_instance_uid=fixed.series_instance_uid,
        moving_series_instance_uid=moving.series_instance_uid,
        metric_value=-peak,
        elapsed_s=time.perf_counter() - t0,
        parameters={
            "algorithm": "hcc_imaging.segment.register.gradient_ncc_translation",
            "version": C.ALGORITHM_VERSION,
            "max_shift_mm": float(max_shift_mm),
            "intensity_window": [float(v) for v in intensity_window],
            "smoothing_vox": float(smoothing_vox),
            "stages": stages,
            "peak_ncc": round(peak, 6),
            "ncc_at_zero_shift": round(ncc0, 6),
            "shift_axes_mm": [float(v) for v in shift_axes_mm],
            "at_search_limit": at_limit,
        },
    )

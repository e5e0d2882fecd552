"""The single ellipsoid lesion phantom, :func:`ellipsoid_lesion`, and its analytic :class:`Truth`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..volume import AXIAL_DIRECTION, Geometry, LabelVolume, Modality, Volume
from ._params import PhantomError, _check_nonneg, _check_seed
from ._shapes import Ellipsoid, _mask_ellipsoid


@dataclass(frozen=True, slots=True)
class Truth:
    """Analytic truth of one ellipsoid lesion phantom.

    Attributes
    ----------
    longest_diameter_mm : float
        RECIST LD: longest in-plane chord over the sampled slice planes.
    short_axis_mm : float
        Longest chord perpendicular to the LD on the LD's slice (ellipse minor axis).
    max_short_axis_mm : float
        Largest minor axis over the sampled slices.
    feret_mm : float
        3D Feret diameter = 2 x largest semi-axis.
    volume_mm3 : float
        4/3 pi a b c.
    mask_volume_mm3 : float
        Voxel count of the mask x voxel volume (voxel-centre rule).
    ld_slice : int
        Slice index where the LD lies.
    ld_endpoints_lps, sa_endpoints_lps : tuple of 2 points
        Endpoints (LPS mm) of the analytic LD and SA chords.
    centre_lps, radii_mm, axes_lps
        The ellipsoid.
    """

    longest_diameter_mm: float
    short_axis_mm: float
    max_short_axis_mm: float
    feret_mm: float
    volume_mm3: float
    mask_volume_mm3: float
    ld_slice: int
    ld_endpoints_lps: tuple[tuple[float, float, float], tuple[float, float, float]]
    sa_endpoints_lps: tuple[tuple[float, float, float], tuple[float, float, float]]
    centre_lps: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    axes_lps: tuple[tuple[float, float, float], ...]


def _rotation(rotation_deg: float | ArrayLike) -> NDArray[np.float64]:
    r = np.asarray(rotation_deg, dtype=float)
    if r.shape == ():
        t = math.radians(float(r))
        c, s = math.cos(t), math.sin(t)
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if r.shape != (3, 3) or np.abs(r.T @ r - np.eye(3)).max() > 1e-6 or np.linalg.det(r) < 0:
        raise PhantomError(
            f"rotation_deg must be an in-plane angle in degrees or a 3x3 rotation matrix (det +1), got shape {r.shape}. "
            "Pass e.g. rotation_deg=30.0 or scipy.spatial.transform.Rotation.from_euler(...).as_matrix()."
        )
    return r


def ellipsoid_lesion(
    radii_mm: Sequence[float],
    spacing: Sequence[float],
    direction: ArrayLike | None = None,
    centre_offset_vox: Sequence[float] = (0.0, 0.0, 0.0),
    rotation_deg: float | ArrayLike = 0.0,
    inside_hu: float = 120.0,
    outside_hu: float = 60.0,
    noise_sd_hu: float = 0.0,
    seed: int = 0,
    *,
    shape: Sequence[int] | None = None,
    margin_vox: int = 3,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
) -> tuple[Volume, LabelVolume, Truth]:
    """One ellipsoid lesion in a uniform background, with analytic truth.

    Parameters
    ----------
    radii_mm : 3 floats, mm
        Semi-axes along the array axes (slice, row, col) *before* rotation.
    spacing : 3 floats, mm
        Voxel spacing (slice, row, col).
    direction : (3, 3) array, optional
        Grid direction (default axial).  The LD is measured in the grid's slice planes.
    centre_offset_vox : 3 floats
        Sub-voxel offset of the centre from the grid centre voxel, in voxels.
    rotation_deg : float or (3, 3) array
        In-plane rotation (degrees, about the slice axis) or a rotation matrix R applied in the
        grid's axis frame: semi-axis m points along ``direction @ R[:, m]``.
    inside_hu, outside_hu, noise_sd_hu : float
        Intensities; Gaussian noise (seeded) when ``noise_sd_hu > 0``.  The array is int16 HU.
    seed : int
        Noise seed.
    shape : 3 ints, optional
        Grid shape; by default just large enough for the ellipsoid plus ``margin_vox``.

    Returns
    -------
    (Volume, LabelVolume, Truth)
        The image, the mask (label 1 = ``"L1"``, voxel-centre rule) and the analytic truth.

    Examples
    --------
    >>> vol, mask, truth = ellipsoid_lesion((10, 10, 10), spacing=(1.0, 1.0, 1.0))
    >>> round(truth.longest_diameter_mm, 3), round(truth.volume_mm3)
    (20.0, 4189)
    """
    sp = np.asarray(spacing, float).reshape(3)
    radii = np.asarray(radii_mm, float).reshape(3)
    d = AXIAL_DIRECTION if direction is None else np.asarray(direction, float)
    rot = _rotation(rotation_deg)
    if shape is None:
        n = np.ceil(2 * radii.max() / sp).astype(int) + 2 * margin_vox + 1
        shp = tuple(int(v) for v in n)
    else:
        shp = tuple(int(v) for v in shape)
    geom0 = Geometry(shape=shp, spacing=tuple(sp), origin=tuple(origin), direction=d)  # type: ignore[arg-type]
    centre_idx = (np.asarray(shp, float) - 1) // 2 + np.asarray(centre_offset_vox, float)
    centre = geom0.index_to_lps(centre_idx)
    ell = Ellipsoid(centre, radii, np.asarray(geom0.direction) @ rot)
    lo, hi = ell.bbox_lps()
    span = geom0.lps_to_index(np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]))
    if np.any(span.min(0) < 0) or np.any(span.max(0) > np.asarray(shp) - 1):
        raise PhantomError(
            f"ellipsoid with radii {tuple(radii)} mm does not fit in the grid of shape {shp} at spacing {tuple(sp)} mm. "
            "Pass a larger shape= (or omit it to size the grid automatically)."
        )
    mask = _mask_ellipsoid(geom0, ell)
    img = np.where(mask, inside_hu, outside_hu).astype(np.float64)
    noise_sd_hu = _check_nonneg(noise_sd_hu, "noise_sd_hu", "ellipsoid_lesion", "HU")
    seed = _check_seed(seed, "ellipsoid_lesion")
    if noise_sd_hu > 0:
        img = img + np.random.default_rng(seed).normal(0.0, noise_sd_hu, size=shp)
    vol = Volume(array=np.rint(img).astype(np.int16), geometry=geom0, modality=Modality.CT)
    lab = LabelVolume(array=mask.astype(np.uint8), geometry=geom0, labels={1: "L1"})
    sd = ell.sampled_diameters(geom0)
    if sd["ld_slice"] is None:
        raise PhantomError(
            f"ellipsoid with radii {tuple(float(v) for v in radii)} mm and centre offset "
            f"{tuple(float(v) for v in centre_offset_vox)} voxels falls between two sampled slices "
            f"(slice spacing {float(sp[0])} mm): no slice crosses it, so the mask is empty. "
            "Fix: use a smaller slice spacing, a larger radius along the slice axis, or another offset."
        )
    truth = Truth(
        longest_diameter_mm=sd["longest_diameter_mm"],
        short_axis_mm=sd["short_axis_mm"],
        max_short_axis_mm=sd["max_short_axis_mm"],
        feret_mm=ell.feret_mm,
        volume_mm3=ell.volume_mm3,
        mask_volume_mm3=float(mask.sum() * geom0.voxel_volume_mm3),
        ld_slice=int(sd["ld_slice"]),
        ld_endpoints_lps=tuple(tuple(p) for p in sd["ld_endpoints_lps"]),  # type: ignore[arg-type]
        sa_endpoints_lps=tuple(tuple(p) for p in sd["sa_endpoints_lps"]),  # type: ignore[arg-type]
        centre_lps=tuple(float(v) for v in centre),  # type: ignore[arg-type]
        radii_mm=tuple(float(v) for v in radii),  # type: ignore[arg-type]
        axes_lps=tuple(tuple(float(v) for v in col) for col in ell.axes.T),
    )
    return vol, lab, truth

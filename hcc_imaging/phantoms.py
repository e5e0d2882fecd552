"""Analytic, deterministic phantoms: single ellipsoid lesions and multiphase liver CT studies.

Everything here is generated from a seed, so the same call gives the same arrays, and every
structure is an analytic shape whose diameters and volume are known exactly
(DESIGN.md section 5; ``docs/phantoms.md``).

Conventions
-----------
* Geometry follows :mod:`hcc_imaging.volume` (LPS mm, axes (slice, row, col)).
* **Mask rule**: a voxel belongs to a shape when its *centre* is inside the continuous shape.
* **RECIST diameters on sampled slices**: the longest diameter (LD) is the longest in-plane
  chord of the ellipse in which the ellipsoid cuts a *sampled* slice plane (the plane through a
  row of voxel centres, normal = slice axis), maximised over the sampled slices.  The short axis
  (SA) is the longest chord perpendicular to it on the same slice, i.e. the ellipse's minor axis.
  This is what a radiologist can measure on the acquired slices, and it is smaller than the
  continuous maximum when no slice passes through the widest section.
* **3D Feret** = 2 x the largest radius; **volume** = 4/3 pi a b c.

HU per phase (documented values, typical of 4-phase liver CT at 120 kVp with ~1.5 mL/kg iodine;
see ``docs/phantoms.md`` for sources and choices) are in :data:`TISSUE_HU`.
"""

from __future__ import annotations

import enum
import inspect
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._atomic import atomic_write, atomic_write_text, format_suffix, write_itk_image
from .errors import HccImagingError
from .volume import AXIAL_DIRECTION, Geometry, LabelVolume, Modality, Phase, Volume

__all__ = [
    "PhantomError",
    "Ellipsoid",
    "Cylinder",
    "Truth",
    "ellipsoid_lesion",
    "LesionKind",
    "PhantomStudy",
    "make_study",
    "write_longitudinal",
    "expected_responses",
    "annotations",
    "STUDY_PHASES",
    "TIMEPOINTS",
    "TISSUE_HU",
    "DEFAULT_SHAPE",
    "DEFAULT_SPACING_MM",
    "PSF_SIGMA_MM",
    "NODE_FAT_PLANE_MM",
    "RIM_THICKNESS_MM",
    "PATIENT_ID",
]


class PhantomError(HccImagingError, ValueError):
    """A phantom cannot be built as asked (shape outside the grid, unknown time point ...)."""


# ------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------
#: The four phases of a liver CT study, in acquisition order.
STUDY_PHASES: tuple[Phase, ...] = (Phase.PRE_CONTRAST, Phase.ARTERIAL, Phase.PORTAL_VENOUS, Phase.DELAYED)
#: Time points the study phantom knows, in order, with their day offset from baseline.
TIMEPOINTS: dict[str, int] = {"baseline": 0, "fu1": 56, "fu2": 112}
#: Default grid of :func:`make_study`: (slice, row, col) voxels and mm.  FOV 345 mm, 132 mm
#: cranio-caudal: the whole phantom liver.
DEFAULT_SHAPE: tuple[int, int, int] = (44, 150, 150)
DEFAULT_SPACING_MM: tuple[float, float, float] = (3.0, 2.3, 2.3)
#: Gaussian point-spread function (sigma, mm) applied to every phase: the partial-volume blur of
#: a standard abdominal kernel (FWHM ~2.4 mm).
PSF_SIGMA_MM: float = 1.0
#: Thickness of the reactive enhancing rim around an ablated / embolised zone (mm).  mRECIST:
#: a thin regular rim is reactive, not viable tumour (Lencioni & Llovet 2010).  <= 2 mm.
RIM_THICKNESS_MM: float = 1.5
#: Boundary blur of the infiltrative lesion (sigma, mm): ill-defined margins.
INFILTRATIVE_BLUR_MM: float = 3.0
#: Pseudonymous patient identifiers written to DICOM (never real names).
PATIENT_ID: str = "PHANTOM-001"
PATIENT_NAME: str = "PHANTOM^LIVER"
#: Default noise of :func:`make_study` / :func:`write_longitudinal` (SD, HU).
_DEFAULT_NOISE_SD_HU = 15.0

#: HU per tissue and phase (pre_contrast, arterial, portal_venous, delayed).  Liver, aorta and
#: portal vein follow the values typical of 4-phase CT (liver ~55 unenhanced, peak ~100-110 in
#: portal phase; aorta >250 HU in late arterial phase).  Typical HCC: arterial hyperenhancement
#: (> liver) then washout (< liver) in portal-venous and delayed phases (LI-RADS major features).
#: Lipiodol is > 300 HU on every phase, including pre-contrast.
TISSUE_HU: dict[str, tuple[float, float, float, float]] = {
    "air": (-1000.0, -1000.0, -1000.0, -1000.0),
    "fat": (-100.0, -100.0, -100.0, -100.0),
    "soft_tissue": (40.0, 55.0, 70.0, 65.0),
    "bone": (450.0, 450.0, 450.0, 450.0),
    "liver": (55.0, 70.0, 110.0, 95.0),
    "spleen": (45.0, 120.0, 120.0, 100.0),
    "aorta": (40.0, 300.0, 160.0, 120.0),
    "ivc": (40.0, 80.0, 150.0, 125.0),
    "portal_vein": (40.0, 120.0, 180.0, 130.0),
    "hcc_viable": (40.0, 130.0, 85.0, 70.0),
    "necrosis": (25.0, 25.0, 28.0, 28.0),
    "lipiodol": (650.0, 650.0, 650.0, 650.0),
    "rim": (40.0, 115.0, 125.0, 115.0),
    "infiltrative": (40.0, 48.0, 75.0, 72.0),
    "node": (40.0, 65.0, 90.0, 85.0),
    "pvtt": (40.0, 100.0, 90.0, 80.0),
    "ascites": (8.0, 8.0, 10.0, 12.0),
}

#: Acquisition timing per phase: (SeriesDescription words, AcquisitionTime, seconds after
#: injection).  Contrast injected at 10:02:00; arterial ~35 s, portal venous ~70 s, delayed 180 s.
_PHASE_INFO: dict[Phase, tuple[str, str, int | None]] = {
    Phase.PRE_CONTRAST: ("LIVER PRE-CONTRAST (NON-CONTRAST) 3mm", "100130", None),
    Phase.ARTERIAL: ("LIVER ARTERIAL 3mm", "100235", 35),
    Phase.PORTAL_VENOUS: ("LIVER PORTAL VENOUS 3mm", "100310", 70),
    Phase.DELAYED: ("LIVER DELAYED 3mm", "100500", 180),
}
_CONTRAST_AGENT = "IOPAMIDOL 370"
_CONTRAST_START = "100200"
_BASE_DATE = (2025, 1, 6)


# ------------------------------------------------------------------------------------------
# Analytic shapes
# ------------------------------------------------------------------------------------------
def _rot_z(deg: float) -> NDArray[np.float64]:
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, slots=True, eq=False)
class Ellipsoid:
    """Solid ellipsoid in LPS: ``{x : sum_m ((x - c) . u_m / r_m)^2 <= 1}``.

    Parameters
    ----------
    centre_lps : 3 floats, mm
    radii_mm : 3 floats, mm
        Semi-axis lengths ``r_m``.
    axes : (3, 3) array
        Column m is the LPS unit vector ``u_m`` of semi-axis m (orthonormal).
    """

    centre_lps: NDArray[np.float64]
    radii_mm: NDArray[np.float64]
    axes: NDArray[np.float64] = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        c = np.asarray(self.centre_lps, float).reshape(3)
        r = np.asarray(self.radii_mm, float).reshape(3)
        a = np.asarray(self.axes, float).reshape(3, 3)
        if np.any(r <= 0) or not np.all(np.isfinite(r)):
            raise PhantomError(f"ellipsoid radii must be finite and > 0 mm, got {tuple(r)}; pass radii_mm=(a, b, c).")
        if np.abs(a.T @ a - np.eye(3)).max() > 1e-9:
            raise PhantomError("ellipsoid axes must be orthonormal (a rotation matrix); pass a proper rotation.")
        for name, v in (("centre_lps", c), ("radii_mm", r), ("axes", a)):
            v.setflags(write=False)
            object.__setattr__(self, name, v)

    @classmethod
    def xyz(cls, centre: Sequence[float], radii_xyz: Sequence[float], rot_z_deg: float = 0.0) -> Ellipsoid:
        """Ellipsoid with semi-axes along LPS x, y, z, rotated ``rot_z_deg`` about z."""
        return cls(np.asarray(centre, float), np.asarray(radii_xyz, float), _rot_z(rot_z_deg))

    @property
    def quadric(self) -> NDArray[np.float64]:
        """Matrix A with ``(x - c)^T A (x - c) <= 1`` inside."""
        return np.asarray(self.axes @ np.diag(1.0 / self.radii_mm**2) @ self.axes.T)

    @property
    def volume_mm3(self) -> float:
        """4/3 pi a b c."""
        return float(4.0 / 3.0 * math.pi * np.prod(self.radii_mm))

    @property
    def feret_mm(self) -> float:
        """3D Feret (maximum caliper) diameter = 2 x the largest semi-axis."""
        return float(2.0 * self.radii_mm.max())

    def inside(self, points_lps: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Boolean array: which (..., 3) points are inside (boundary included)."""
        local = (np.asarray(points_lps) - self.centre_lps) @ self.axes
        return np.asarray(((local / self.radii_mm) ** 2).sum(axis=-1) <= 1.0)

    def scaled(self, factor: float | Sequence[float], centre_shift_lps: Sequence[float] = (0.0, 0.0, 0.0)) -> Ellipsoid:
        f = np.broadcast_to(np.asarray(factor, float), (3,))
        return Ellipsoid(self.centre_lps + np.asarray(centre_shift_lps, float), self.radii_mm * f, self.axes)

    def shrunk_mm(self, thickness_mm: float) -> Ellipsoid:
        """Concentric ellipsoid with every semi-axis reduced by ``thickness_mm``."""
        return Ellipsoid(self.centre_lps, self.radii_mm - thickness_mm, self.axes)

    def surface_points(self, n: int = 2000) -> NDArray[np.float64]:
        """Deterministic (Fibonacci) points on the surface, (n, 3) LPS."""
        i = np.arange(n) + 0.5
        phi = np.arccos(1 - 2 * i / n)
        theta = math.pi * (1 + 5**0.5) * i
        unit = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=-1)
        return np.asarray((unit * self.radii_mm) @ self.axes.T + self.centre_lps)

    def contains(self, other: Ellipsoid) -> bool:
        """True when ``other`` lies inside this ellipsoid (checked on 2000 surface points)."""
        return bool(np.all(self.inside(other.surface_points())))

    def bbox_lps(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        ext = np.sqrt(((self.axes * self.radii_mm[None, :]) ** 2).sum(axis=1))
        return self.centre_lps - ext, self.centre_lps + ext

    def section(self, geometry: Geometry, k: int) -> tuple[float, float, NDArray[np.float64], NDArray[np.float64]] | None:
        """Ellipse cut by the sampled slice plane ``k`` of ``geometry``.

        Returns ``(major_mm, minor_mm, major_endpoints_lps (2, 3), minor_endpoints_lps (2, 3))``
        (full diameters), or None when the plane misses the ellipsoid.
        """
        b = np.asarray(geometry.direction)  # columns: slice normal, row, col (orthonormal)
        a = b.T @ self.quadric @ b
        s = float(np.dot(geometry.index_to_lps([float(k), 0.0, 0.0]) - self.centre_lps, b[:, 0]))
        m2 = a[1:, 1:]
        mv = a[1:, 0]
        m2inv_mv = np.linalg.solve(m2, mv)
        rhs = 1.0 - s * s * (a[0, 0] - float(mv @ m2inv_mv))
        if rhs <= 0:
            return None
        w0 = -s * m2inv_mv
        lam, vec = np.linalg.eigh(m2)  # ascending: lam[0] -> major axis
        semi = np.sqrt(rhs / lam)
        centre = self.centre_lps + s * b[:, 0] + b[:, 1:] @ w0
        major_dir = b[:, 1:] @ vec[:, 0]
        minor_dir = b[:, 1:] @ vec[:, 1]
        maj = np.stack([centre - semi[0] * major_dir, centre + semi[0] * major_dir])
        mnr = np.stack([centre - semi[1] * minor_dir, centre + semi[1] * minor_dir])
        return float(2 * semi[0]), float(2 * semi[1]), maj, mnr

    def sampled_diameters(self, geometry: Geometry) -> dict[str, Any]:
        """RECIST LD / SA on the sampled slices of ``geometry`` (see the module docstring)."""
        best: tuple[float, float, int, NDArray[np.float64], NDArray[np.float64]] | None = None
        lo, hi = self.bbox_lps()
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        ks = geometry.lps_to_index(corners)[:, 0]
        k0 = max(0, int(math.floor(ks.min())) - 1)
        k1 = min(geometry.shape[0] - 1, int(math.ceil(ks.max())) + 1)
        max_minor = 0.0
        for k in range(k0, k1 + 1):
            sec = self.section(geometry, k)
            if sec is None:
                continue
            max_minor = max(max_minor, sec[1])
            if best is None or sec[0] > best[0] + 1e-12:
                best = (sec[0], sec[1], k, sec[2], sec[3])
        if best is None:
            return {"longest_diameter_mm": 0.0, "short_axis_mm": 0.0, "max_short_axis_mm": 0.0, "ld_slice": None,
                    "ld_endpoints_lps": None, "sa_endpoints_lps": None}
        return {
            "longest_diameter_mm": best[0],
            "short_axis_mm": best[1],
            "max_short_axis_mm": max_minor,
            "ld_slice": best[2],
            "ld_endpoints_lps": best[3].tolist(),
            "sa_endpoints_lps": best[4].tolist(),
        }


@dataclass(frozen=True, slots=True, eq=False)
class Cylinder:
    """Solid finite cylinder from ``start_lps`` to ``end_lps`` with ``radius_mm``."""

    start_lps: NDArray[np.float64]
    end_lps: NDArray[np.float64]
    radius_mm: float

    def inside(self, points_lps: NDArray[np.float64], t_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.bool_]:
        p0 = np.asarray(self.start_lps, float)
        axis = np.asarray(self.end_lps, float) - p0
        length2 = float(axis @ axis)
        rel = np.asarray(points_lps) - p0
        t = (rel @ axis) / length2
        perp = rel - t[..., None] * axis
        return np.asarray((t >= t_range[0]) & (t <= t_range[1]) & ((perp**2).sum(-1) <= self.radius_mm**2))

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(np.asarray(self.end_lps) - np.asarray(self.start_lps)))


def _grid_points(geometry: Geometry, start: Sequence[int], stop: Sequence[int]) -> NDArray[np.float64]:
    kk, jj, ii = np.meshgrid(*(np.arange(a, b) for a, b in zip(start, stop, strict=True)), indexing="ij")
    idx = np.stack([kk, jj, ii], axis=-1).astype(np.float64)
    return geometry.index_to_lps(idx)


def _bbox_slices(geometry: Geometry, lo: NDArray[np.float64], hi: NDArray[np.float64]) -> tuple[slice, ...] | None:
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    idx = geometry.lps_to_index(corners)
    a = np.maximum(np.floor(idx.min(0)).astype(int) - 1, 0)
    b = np.minimum(np.ceil(idx.max(0)).astype(int) + 2, np.asarray(geometry.shape))
    if np.any(b <= a):
        return None
    return tuple(slice(int(x), int(y)) for x, y in zip(a, b, strict=True))


def _mask_ellipsoid(geometry: Geometry, ell: Ellipsoid) -> NDArray[np.bool_]:
    out = np.zeros(geometry.shape, bool)
    sl = _bbox_slices(geometry, *ell.bbox_lps())
    if sl is None:
        return out
    pts = _grid_points(geometry, [s.start for s in sl], [s.stop for s in sl])
    out[sl] = ell.inside(pts)
    return out


# ------------------------------------------------------------------------------------------
# Single ellipsoid lesion
# ------------------------------------------------------------------------------------------
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


def _check_seed(seed: object, where: str) -> int:
    """``seed`` as an int >= 0 (what numpy's generator takes), or a PhantomError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PhantomError(f"{where}: seed must be an integer >= 0, got {seed!r}; pass seed=0, 1, ...")
    return int(seed)


def _check_nonneg(value: object, name: str, where: str, unit: str) -> float:
    """``value`` as a finite float >= 0, or a PhantomError naming the parameter."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and v >= 0):
        raise PhantomError(f"{where}: {name} must be a finite number >= 0 {unit}, got {value!r}; pass {name}=0 for none.")
    return v


def _check_grid(shape: Sequence[int], spacing: Sequence[float], where: str) -> tuple[tuple[int, int, int], NDArray[np.float64]]:
    """(shape, spacing) as 3 ints >= 1 and 3 finite floats > 0 mm, or a PhantomError."""
    try:
        shp = tuple(int(v) for v in shape)
        ok_shape = len(shp) == 3 and all(v >= 1 and v == f for v, f in zip(shp, shape, strict=True))
    except (TypeError, ValueError):
        ok_shape = False
    if not ok_shape:
        raise PhantomError(f"{where}: shape must be 3 integers >= 1 (slice, row, col), got {shape!r}.")
    try:
        sp = np.asarray(spacing, float)
    except (TypeError, ValueError):
        sp = np.full(1, np.nan)
    if sp.shape != (3,) or not bool(np.all(np.isfinite(sp) & (sp > 0))):
        raise PhantomError(f"{where}: spacing must be 3 finite numbers > 0 mm (slice, row, col), got {spacing!r}.")
    return shp, sp  # type: ignore[return-value]


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


# ------------------------------------------------------------------------------------------
# Multiphase liver study
# ------------------------------------------------------------------------------------------
class LesionKind(enum.StrEnum):
    """Kinds of lesion the study phantom contains."""

    TYPICAL_HCC = "typical_hcc"
    NECROTIC_HCC = "necrotic_hcc"
    POST_TACE = "post_tace_lipiodol"
    RIM_ONLY = "rim_only"
    INFILTRATIVE = "infiltrative"
    LYMPH_NODE = "lymph_node"
    PVTT = "pvtt"
    ASCITES = "ascites"


@dataclass(frozen=True, slots=True, eq=False)
class _LesionSpec:
    lesion_id: str
    label: int
    kind: LesionKind
    outer: Ellipsoid | None = None
    viable: Ellipsoid | None = None
    lipiodol: Ellipsoid | None = None
    rim_only: bool = False
    organ: str = "liver"


# Anatomy (LPS mm; grid centred on the origin).  Liver on the patient's right (x < 0).
_BODY_RADII = (155.0, 110.0)
_FAT_THICKNESS_MM = 15.0

#: Fat plane (mm) around the porta-hepatis node (L6), with the body's soft tissue beyond it.  Nodes
#: of the porta hepatis lie in the fat of the hepatoduodenal ligament, which outlines them on CT
#: (about 100 HU of contrast) and is what readers measure them against; 5 mm is a thin plane, the
#: harder side of the usual anatomy (a thin patient).  Until 2026-11-30 the node lay in soft
#: tissue (0-20 HU of contrast: no fat plane at all), which hid that the segmentation grew a node's
#: click into a fat halo (docs/validation.md §2.2, "A lymph node in fat"); that case stays tested
#: with ``make_study(..., node_fat_mm=0)``.
NODE_FAT_PLANE_MM: float = 5.0
_LIVER = Ellipsoid.xyz((-65.0, -15.0, 0.0), (70.0, 65.0, 65.0), 0.0)
_SPLEEN = Ellipsoid.xyz((95.0, 35.0, 10.0), (25.0, 38.0, 45.0), 30.0)
_AORTA = ((20.0, 45.0), 12.0)
_IVC = ((-25.0, 42.0), 11.0)
_SPINE = ((0.0, 72.0), 20.0)
_PORTAL_VEIN = Cylinder(np.array([-5.0, 15.0, -10.0]), np.array([-75.0, -5.0, -10.0]), 7.0)
#: Fraction of the portal-vein axis occupied by tumour thrombus (occlusive).
_PVTT_T = (0.45, 0.75)
_ASCITES_MARGIN_MM = 9.0


def _lesion_specs(timepoint: str) -> list[_LesionSpec]:
    """The lesions at one time point (changes after TACE are the truth of the follow-ups)."""
    tp = timepoint
    specs: list[_LesionSpec] = []
    # L1 typical HCC -> after TACE only a thin reactive rim (mRECIST CR, RECIST not CR).
    l1 = Ellipsoid.xyz((-95.0, -40.0, 20.0), (16.0, 13.0, 12.0), 25.0)
    if tp == "baseline":
        specs.append(_LesionSpec("L1", 1, LesionKind.TYPICAL_HCC, l1, viable=l1))
    else:
        specs.append(_LesionSpec("L1", 1, LesionKind.RIM_ONLY, l1.scaled(0.9), rim_only=True))
    # L2 partly necrotic HCC: viable nodule on one side, the rest necrotic; shrinks at fu1,
    # regrows at fu2.
    l2c = np.array([-45.0, -40.0, -20.0])
    rot2 = _rot_z(-20.0)
    l2 = Ellipsoid(l2c, np.array([21.0, 17.0, 18.0]), rot2)
    v2 = Ellipsoid(l2c + rot2 @ np.array([8.0, 0.0, 0.0]), np.array([11.0, 9.0, 9.0]), rot2)
    if tp == "baseline":
        specs.append(_LesionSpec("L2", 2, LesionKind.NECROTIC_HCC, l2, viable=v2))
    elif tp == "fu1":
        v2_fu1 = Ellipsoid(l2c + rot2 @ np.array([6.0, 0.0, 0.0]), np.array([6.6, 5.4, 5.4]), rot2)
        specs.append(_LesionSpec("L2", 2, LesionKind.NECROTIC_HCC, l2.scaled(0.8), viable=v2_fu1))
    else:
        specs.append(_LesionSpec("L2", 2, LesionKind.NECROTIC_HCC, l2, viable=v2.scaled(1.1)))
    # L3 post-TACE lesion: dense lipiodol + a nodular viable enhancing remnant (grows at fu2).
    l3 = Ellipsoid.xyz((-105.0, 5.0, -5.0), (15.0, 14.0, 13.0), 0.0)
    lip3 = Ellipsoid.xyz((-109.0, 2.0, -5.0), (7.0, 7.0, 7.0), 0.0)
    rem3 = Ellipsoid.xyz((-99.0, 10.0, -5.0), (5.0, 4.5, 4.5), 0.0)
    if tp == "fu2":
        rem3 = rem3.scaled(1.2)
    specs.append(_LesionSpec("L3", 3, LesionKind.POST_TACE, l3, viable=rem3, lipiodol=lip3))
    # L4 previously ablated: thin reactive rim only, stable.
    l4 = Ellipsoid.xyz((-50.0, 10.0, 30.0), (12.0, 11.0, 11.0), 0.0)
    specs.append(_LesionSpec("L4", 4, LesionKind.RIM_ONLY, l4, rim_only=True))
    # L5 infiltrative, ill-defined, non-enhancing: not an mRECIST target.
    l5 = Ellipsoid.xyz((-75.0, -25.0, -42.0), (20.0, 13.0, 11.0), 40.0)
    specs.append(_LesionSpec("L5", 5, LesionKind.INFILTRATIVE, l5))
    # L6 porta-hepatis lymph node: 12 mm short axis (reactive, RECIST non-target), 22 mm at fu2.
    n6 = Ellipsoid.xyz((12.0, 0.0, -32.0), (9.5, 6.0, 7.0), 15.0)
    if tp == "fu2":
        n6 = Ellipsoid.xyz((12.0, 0.0, -32.0), (15.0, 11.0, 11.0), 15.0)
    specs.append(_LesionSpec("L6", 6, LesionKind.LYMPH_NODE, n6, organ="lymph_node"))
    specs.append(_LesionSpec("L7", 7, LesionKind.PVTT, organ="portal_vein"))
    specs.append(_LesionSpec("L8", 8, LesionKind.ASCITES, organ="peritoneum"))
    if tp == "fu2":
        new = Ellipsoid.xyz((-85.0, 22.0, -32.0), (8.5, 7.5, 7.0), 10.0)
        specs.append(_LesionSpec("L9", 9, LesionKind.TYPICAL_HCC, new, viable=new))
    return specs


@dataclass(frozen=True, slots=True, eq=False)
class PhantomStudy:
    """One time point of the multiphase liver CT phantom.

    Attributes
    ----------
    volumes : dict Phase -> Volume
        The four phases on one grid and frame of reference (int16 HU).
    lesions : LabelVolume
        Whole lesions (label value -> lesion id ``"L1"`` ...).
    viable : LabelVolume
        Viable (arterially enhancing) part of each lesion, same label values (a reactive rim,
        lipiodol and necrosis are not viable).
    liver : LabelVolume
        Liver parenchyma including intrahepatic lesions (label 1 = ``"liver"``).
    truth : dict
        JSON-able truth (see ``docs/phantoms.md``).
    timepoint : str
    seed : int
    """

    volumes: Mapping[Phase, Volume]
    lesions: LabelVolume
    viable: LabelVolume
    liver: LabelVolume
    truth: dict[str, Any]
    timepoint: str
    seed: int

    @property
    def geometry(self) -> Geometry:
        return self.lesions.geometry

    def write_dicom(
        self,
        out_dir: str | os.PathLike[str],
        *,
        transfer_syntax: str = "1.2.840.10008.1.2.1",
        masks: bool = False,
        patient_id: str | None = None,
    ) -> dict[str, Any]:
        """Write one DICOM series per phase into ``out_dir/<phase>/`` plus ``truth.json``.

        Parameters
        ----------
        patient_id : str, optional
            PatientID written (pseudonymous; default: the study's, ``make_study(patient_id=...)``,
            ``PHANTOM-001`` unless set).  Another patient's study gets its own UIDs (study, series,
            frame of reference, SOP instances), derived from the study's and this id, so two phantom
            "patients" written from one study are never taken for copies of one another.
        transfer_syntax : str
            Passed to :func:`hcc_imaging.io.write.write_series`.
        masks : bool
            Also write ``masks/lesions.nii.gz``, ``masks/viable.nii.gz``, ``masks/liver.nii.gz``.

        Returns
        -------
        dict
            ``{"study_instance_uid", "series": {phase: {"series_instance_uid", "files"}}, "truth", "masks"}``.
        """
        from .io.write import check_transfer_syntax, write_series

        check_transfer_syntax(transfer_syntax, "write_dicom")  # before the first folder is made
        own_id = str(self.truth["dicom"].get("patient_id", PATIENT_ID))
        patient_id = own_id if patient_id is None else patient_id
        ids = self.truth["dicom"] if patient_id == own_id else _ids_for_patient(self.truth["dicom"], patient_id)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        series_out: dict[str, Any] = {}
        for n, phase in enumerate(STUDY_PHASES):
            desc, acq_time, _ = _PHASE_INFO[phase]
            contrast = phase != Phase.PRE_CONTRAST
            files = write_series(
                self.volumes[phase],
                out / str(phase),
                patient_id=patient_id,
                patient_name=PATIENT_NAME,
                study_uid=ids["study_instance_uid"],
                series_uid=ids["series"][str(phase)],
                frame_of_reference_uid=ids["frame_of_reference_uid"],
                series_number=n + 1,
                description=desc,
                transfer_syntax=transfer_syntax,
                study_date=ids["study_date"],
                study_time="100000",
                acquisition_time=acq_time,
                study_description=f"CT LIVER 4 PHASE ({self.timepoint.upper()})",
                study_id=self.timepoint,
                accession_number=f"PH{self.seed:03d}{self.timepoint.upper()}"[:16],
                contrast_agent=_CONTRAST_AGENT if contrast else None,
                contrast_start_time=_CONTRAST_START if contrast else None,
                uid_seed=f"{self.seed}/{self.timepoint}",
            )
            series_out[str(phase)] = {
                "series_instance_uid": ids["series"][str(phase)],
                "files": [str(f) for f in files],
            }
        mask_files: dict[str, str] = {}
        if masks:
            for name, lv in (("lesions", self.lesions), ("viable", self.viable), ("liver", self.liver)):
                p = out / "masks" / f"{name}.nii.gz"
                _write_nifti(lv, p)
                mask_files[name] = str(p)
        _write_json(out / "truth.json", {**self.truth, "dicom": {**ids, "patient_id": patient_id}})
        return {
            "study_instance_uid": ids["study_instance_uid"],
            "series": series_out,
            "truth": str(out / "truth.json"),
            "masks": mask_files,
        }


def _write_nifti(labels: LabelVolume, path: Path) -> None:
    """Deterministic NIfTI (SimpleITK, gzip with fixed header) written atomically."""
    image = labels.to_sitk()
    atomic_write(path, lambda tmp: write_itk_image(image, tmp), tmp_suffix=format_suffix(path))


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _r1(x: float) -> float:
    """Carry diameters in 0.1 mm (DESIGN.md section 2)."""
    return float(Fraction(round(x * 10), 10))


def _study_ids(seed: int, timepoint: str, variant: Sequence[str] = (), patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """UIDs and date of one time point.  ``variant``: the non-default parameters that change the
    image (``"noise_sd_hu=40.0"`` ...), part of every UID's entropy; with none (the default phantom,
    the committed sample) the UIDs are those of ``(seed, timepoint)`` alone, as they always were."""
    from .io.write import deterministic_uid

    day = TIMEPOINTS[timepoint]
    import datetime as _dt

    date = (_dt.date(*_BASE_DATE) + _dt.timedelta(days=day)).strftime("%Y%m%d")
    v = tuple(variant)
    ids = {
        "patient_id": PATIENT_ID,
        "study_instance_uid": deterministic_uid("study", seed, timepoint, *v),
        "frame_of_reference_uid": deterministic_uid("for", seed, timepoint, *v),
        "series": {str(p): deterministic_uid("series", seed, timepoint, str(p), *v) for p in STUDY_PHASES},
        "study_date": date,
        "day_offset": day,
    }
    return ids if patient_id == PATIENT_ID else _ids_for_patient(ids, patient_id)


def _ids_for_patient(ids: Mapping[str, Any], patient_id: str) -> dict[str, Any]:
    """``ids`` (of :func:`_study_ids`) for another patient: every UID derived from it and the id."""
    from .io.write import deterministic_uid

    def uid(u: str) -> str:
        return deterministic_uid("patient", patient_id, u)

    return {
        **ids,
        "patient_id": patient_id,
        "study_instance_uid": uid(ids["study_instance_uid"]),
        "frame_of_reference_uid": uid(ids["frame_of_reference_uid"]),
        "series": {k: uid(u) for k, u in ids["series"].items()},
    }


def make_study(
    seed: int = 0,
    timepoint: str = "baseline",
    *,
    shape: Sequence[int] = DEFAULT_SHAPE,
    spacing: Sequence[float] = DEFAULT_SPACING_MM,
    noise_sd_hu: float = _DEFAULT_NOISE_SD_HU,
    psf_sigma_mm: float = PSF_SIGMA_MM,
    node_fat_mm: float = NODE_FAT_PLANE_MM,
    patient_id: str = PATIENT_ID,
) -> PhantomStudy:
    """Build one time point of the multiphase liver CT phantom (deterministic in ``seed``).

    The anatomy is fixed in LPS mm (liver on the patient's right, spleen, aorta, IVC, spine,
    portal vein); the grid (``shape``, ``spacing``) is centred on the LPS origin, axial.  Lesions:

    ==== ===================== =============================================================
    id   kind                  baseline -> fu1 -> fu2
    ==== ===================== =============================================================
    L1   typical HCC           arterial hyperenhancement + washout -> thin rim only (after TACE)
    L2   partly necrotic HCC   viable nodule + necrosis; shrinks at fu1, regrows at fu2
    L3   post-TACE             lipiodol (>300 HU all phases) + viable remnant (grows at fu2)
    L4   rim only              ablated zone with <= 2 mm reactive rim; stable
    L5   infiltrative          ill-defined, non-enhancing; stable
    L6   porta-hepatis node    short axis 12 mm; 22 mm at fu2
    L7   PVTT                  enhancing tumour thrombus in the right portal vein
    L8   ascites               perihepatic fluid
    L9   new typical HCC       appears at fu2 (16 mm)
    ==== ===================== =============================================================

    Parameters
    ----------
    seed : int
        Noise seed and UID seed.
    timepoint : {"baseline", "fu1", "fu2"}
    shape, spacing : grid (slice, row, col) voxels and mm
    noise_sd_hu : float
        White Gaussian noise added after the PSF blur.
    psf_sigma_mm : float
        Partial-volume blur (Gaussian sigma, mm).
    node_fat_mm : float
        Thickness (mm) of the fat plane around the porta-hepatis node (L6): the soft tissue
        within this distance of the node's ellipsoid (its radii grown by it) becomes fat
        (default :data:`NODE_FAT_PLANE_MM`).  0: the node lies in soft tissue with 0-20 HU of
        contrast, the hard case of a node with no fat plane (the default before version 1.10 of
        the segmentation).  The truth (masks, diameters, responses) does not depend on it.
    patient_id : str
        PatientID of the study (default ``PHANTOM-001``), recorded in ``truth["dicom"]`` and
        written by :meth:`PhantomStudy.write_dicom`.

    The UIDs (study, series, frame of reference; the SOP instances written from them) derive
    from ``seed`` and ``timepoint`` and, when not at their defaults, from ``patient_id``,
    ``shape``, ``spacing``, ``noise_sd_hu``, ``psf_sigma_mm`` and ``node_fat_mm``: two phantoms
    that differ in image or patient never share a UID, and the default phantom (the committed
    sample) keeps the UIDs of ``(seed, timepoint)``.

    Returns
    -------
    PhantomStudy
    """
    from scipy import ndimage

    if not (math.isfinite(node_fat_mm) and node_fat_mm >= 0):
        raise PhantomError(f"node_fat_mm must be a finite thickness >= 0 mm, got {node_fat_mm!r}.")

    if timepoint not in TIMEPOINTS:
        raise PhantomError(f"unknown timepoint {timepoint!r}; make_study knows {list(TIMEPOINTS)} (timepoint=...).")
    seed = _check_seed(seed, "make_study")
    noise_sd_hu = _check_nonneg(noise_sd_hu, "noise_sd_hu", "make_study", "HU")
    psf_sigma_mm = _check_nonneg(psf_sigma_mm, "psf_sigma_mm", "make_study", "mm")
    shp, sp = _check_grid(shape, spacing, "make_study")
    if not (isinstance(patient_id, str) and patient_id.strip()):
        raise PhantomError(f"make_study: patient_id must be a non-empty string, got {patient_id!r}.")
    origin = -(np.asarray(shp, float) - 1) / 2 * sp
    # axes (slice, row, col) = (z, y, x): origin in LPS is reversed
    geom = Geometry(shape=shp, spacing=tuple(sp), origin=tuple(origin[::-1]), direction=AXIAL_DIRECTION)  # type: ignore[arg-type]
    pts = _grid_points(geom, (0, 0, 0), shp)
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    variant = [
        f"{name}={value!r}"
        for name, value, default in (
            ("shape", shp, DEFAULT_SHAPE),
            ("spacing_mm", tuple(float(v) for v in sp), tuple(float(v) for v in DEFAULT_SPACING_MM)),
            ("noise_sd_hu", float(noise_sd_hu), _DEFAULT_NOISE_SD_HU),
            ("psf_sigma_mm", float(psf_sigma_mm), PSF_SIGMA_MM),
            ("node_fat_mm", float(node_fat_mm), NODE_FAT_PLANE_MM),
        )
        if value != default
    ]
    ids = _study_ids(seed, timepoint, variant, patient_id=str(patient_id))

    tissues = list(TISSUE_HU)
    tid = {name: np.uint8(i) for i, name in enumerate(tissues)}
    tmap = np.full(shp, tid["air"], np.uint8)
    body = (x / _BODY_RADII[0]) ** 2 + (y / _BODY_RADII[1]) ** 2 <= 1.0
    inner = (x / (_BODY_RADII[0] - _FAT_THICKNESS_MM)) ** 2 + (y / (_BODY_RADII[1] - _FAT_THICKNESS_MM)) ** 2 <= 1.0
    tmap[body] = tid["fat"]
    tmap[inner] = tid["soft_tissue"]

    def disc(c: tuple[float, float], r: float) -> NDArray[np.bool_]:
        return np.asarray((x - c[0]) ** 2 + (y - c[1]) ** 2 <= r * r)

    liver_ell = _mask_ellipsoid(geom, _LIVER) & inner
    ascites = np.zeros(shp, bool)
    big = Ellipsoid(_LIVER.centre_lps, _LIVER.radii_mm + _ASCITES_MARGIN_MM, _LIVER.axes)
    ascites = _mask_ellipsoid(geom, big) & ~liver_ell & inner & (x < -90.0) & (y < 10.0)
    vessels = disc(*_AORTA) | disc(*_IVC) | disc(*_SPINE)
    pv = _PORTAL_VEIN.inside(pts)
    liver = liver_ell & ~vessels & ~pv
    spleen = _mask_ellipsoid(geom, _SPLEEN) & inner & ~vessels
    tmap[ascites] = tid["ascites"]
    tmap[liver] = tid["liver"]
    tmap[spleen] = tid["spleen"]
    tmap[disc(*_SPINE)] = tid["bone"]
    tmap[disc(*_AORTA)] = tid["aorta"]
    tmap[disc(*_IVC)] = tid["ivc"]
    tmap[pv] = tid["portal_vein"]

    lesion_arr = np.zeros(shp, np.uint8)
    viable_arr = np.zeros(shp, np.uint8)
    infiltrative_soft: list[tuple[NDArray[np.float64], NDArray[np.bool_]]] = []
    lesion_truth: dict[str, Any] = {}
    specs = _lesion_specs(timepoint)
    if node_fat_mm > 0:
        for spec in specs:
            if spec.kind == LesionKind.LYMPH_NODE and spec.outer is not None:
                o = spec.outer
                plane = _mask_ellipsoid(geom, Ellipsoid(o.centre_lps, o.radii_mm + node_fat_mm, o.axes))
                tmap[plane & (tmap == tid["soft_tissue"])] = tid["fat"]
    for spec in specs:
        lesion_truth[spec.lesion_id] = _paint_lesion(
            spec, geom, pts, tmap, tid, lesion_arr, viable_arr, liver, pv, ascites, infiltrative_soft
        )

    # Per-phase images: tissue LUT, infiltrative soft blend, PSF blur, noise.
    volumes: dict[Phase, Volume] = {}
    sigma_vox = [psf_sigma_mm / s for s in sp]
    for n, phase in enumerate(STUDY_PHASES):
        lut = np.array([TISSUE_HU[t][n] for t in tissues], np.float32)
        img = lut[tmap]
        for soft, region0 in infiltrative_soft:
            region = region0 & (tmap == tid["liver"])
            hu_inf = TISSUE_HU["infiltrative"][n]
            hu_liv = TISSUE_HU["liver"][n]
            img[region] = (hu_liv + (hu_inf - hu_liv) * soft[region]).astype(np.float32)
        if psf_sigma_mm > 0:
            img = ndimage.gaussian_filter(img, sigma_vox, mode="nearest")
        if noise_sd_hu > 0:
            rng = np.random.default_rng([seed, list(TIMEPOINTS).index(timepoint), n])
            img = img + rng.normal(0.0, noise_sd_hu, size=shp).astype(np.float32)
        arr = np.clip(np.rint(img), -1024, 3071).astype(np.int16)
        volumes[phase] = Volume(
            array=arr,
            geometry=geom,
            modality=Modality.CT,
            phase=phase,
            frame_of_reference_uid=ids["frame_of_reference_uid"],
            study_instance_uid=ids["study_instance_uid"],
            series_instance_uid=ids["series"][str(phase)],
            series_description=_PHASE_INFO[phase][0],
            meta={"generator": "hcc_imaging.phantoms.make_study", "seed": seed, "timepoint": timepoint},
        )

    labels = {s.label: s.lesion_id for s in specs}
    common = {"frame_of_reference_uid": ids["frame_of_reference_uid"]}
    lesions = LabelVolume(array=lesion_arr, geometry=geom, labels=labels, **common)
    viable = LabelVolume(array=viable_arr, geometry=geom, labels=labels, **common)
    liver_full = liver | np.isin(lesion_arr, [s.label for s in specs if s.organ == "liver"])
    liver_lv = LabelVolume(array=liver_full.astype(np.uint8), geometry=geom, labels={1: "liver"}, **common)
    truth = {
        "schema": "hcc_imaging.phantom_truth/1",
        "generator": "hcc_imaging.phantoms.make_study",
        "seed": seed,
        "timepoint": timepoint,
        "day_offset": ids["day_offset"],
        "grid": {
            "shape": list(shp),
            "spacing_mm": [float(v) for v in sp],
            "origin_lps": [float(v) for v in geom.origin],
            "direction": np.asarray(geom.direction).tolist(),
        },
        "noise_sd_hu": noise_sd_hu,
        "psf_sigma_mm": psf_sigma_mm,
        "node_fat_mm": float(node_fat_mm),
        "tissue_hu": {k: dict(zip([str(p) for p in STUDY_PHASES], v, strict=True)) for k, v in TISSUE_HU.items()},
        "dicom": ids,
        "lesions": lesion_truth,
        "liver_volume_mm3": float(liver_full.sum() * geom.voxel_volume_mm3),
    }
    return PhantomStudy(
        volumes=volumes, lesions=lesions, viable=viable, liver=liver_lv, truth=truth, timepoint=timepoint, seed=seed
    )


def _diam(ell: Ellipsoid | None, geom: Geometry) -> dict[str, Any]:
    if ell is None:
        return {"longest_diameter_mm": 0.0, "short_axis_mm": 0.0, "ld_slice": None, "ld_endpoints_lps": None,
                "sa_endpoints_lps": None, "max_short_axis_mm": 0.0}
    return ell.sampled_diameters(geom)


def _paint_lesion(
    spec: _LesionSpec,
    geom: Geometry,
    pts: NDArray[np.float64],
    tmap: NDArray[np.uint8],
    tid: Mapping[str, np.uint8],
    lesion_arr: NDArray[np.uint8],
    viable_arr: NDArray[np.uint8],
    liver: NDArray[np.bool_],
    pv: NDArray[np.bool_],
    ascites: NDArray[np.bool_],
    soft_out: list[tuple[NDArray[np.float64], NDArray[np.bool_]]],
) -> dict[str, Any]:
    """Paint one lesion into the tissue map and label arrays; return its truth record."""
    from scipy import ndimage

    vox = geom.voxel_volume_mm3
    kind = spec.kind
    rec: dict[str, Any] = {"lesion_id": spec.lesion_id, "label": spec.label, "kind": str(kind), "organ": spec.organ,
                           "is_lymph_node": kind == LesionKind.LYMPH_NODE}
    if kind == LesionKind.PVTT:
        m = _PORTAL_VEIN.inside(pts, _PVTT_T) & pv
        tmap[m] = tid["pvtt"]
        lesion_arr[m] = spec.label
        viable_arr[m] = spec.label
        length = _PORTAL_VEIN.length_mm * (_PVTT_T[1] - _PVTT_T[0])
        r = _PORTAL_VEIN.radius_mm
        rec.update(
            volume_mm3=math.pi * r * r * length,
            length_mm=length,
            diameter_mm=2 * r,
            viable_volume_mm3=math.pi * r * r * length,
        )
        rec["analytic"] = True
    elif kind == LesionKind.ASCITES:
        m = ascites.copy()
        lesion_arr[m] = spec.label
        rec.update(volume_mm3=float(m.sum() * vox), viable_volume_mm3=0.0, analytic=False)
    else:
        outer = spec.outer
        if outer is None:  # pragma: no cover - specs always give one
            raise PhantomError(f"lesion {spec.lesion_id} has no shape")
        lo, hi = outer.bbox_lps()
        span = geom.lps_to_index(np.array([lo, hi]))
        if np.any(span.min(0) < -0.5) or np.any(span.max(0) > np.asarray(geom.shape) - 0.5):
            raise PhantomError(
                f"lesion {spec.lesion_id} ({lo.round(1).tolist()} .. {hi.round(1).tolist()} mm LPS) is not inside the grid "
                f"of shape {geom.shape} at spacing {geom.spacing} mm. The phantom anatomy is fixed in mm and centred on "
                "the origin: pass a shape/spacing covering at least 350 x 350 x 130 mm (shape=, spacing=)."
            )
        m = _mask_ellipsoid(geom, outer)
        if spec.organ == "liver" and not np.all(liver[m]):
            raise PhantomError(f"lesion {spec.lesion_id} leaves the liver or crosses a vessel; adjust its centre/radii.")
        if np.any(lesion_arr[m] != 0):
            raise PhantomError(f"lesion {spec.lesion_id} overlaps another lesion; adjust its centre/radii.")
        lesion_arr[m] = spec.label
        for inner_name, inner in (("viable", spec.viable), ("lipiodol", spec.lipiodol)):
            if inner is not None and inner is not outer and not outer.contains(inner):
                raise PhantomError(f"the {inner_name} part of lesion {spec.lesion_id} is not inside the lesion.")
        viable_ell = spec.viable
        rec["analytic"] = True
        rec["centre_lps"] = [float(v) for v in outer.centre_lps]
        rec["radii_mm"] = [float(v) for v in outer.radii_mm]
        rec["axes_lps"] = np.asarray(outer.axes).T.tolist()
        rec["volume_mm3"] = outer.volume_mm3
        rec["feret_mm"] = outer.feret_mm
        if kind in (LesionKind.TYPICAL_HCC,):
            tmap[m] = tid["hcc_viable"]
        elif kind == LesionKind.NECROTIC_HCC:
            tmap[m] = tid["necrosis"]
        elif kind == LesionKind.POST_TACE:
            tmap[m] = tid["necrosis"]
            if spec.lipiodol is not None:
                tmap[_mask_ellipsoid(geom, spec.lipiodol)] = tid["lipiodol"]
                rec["lipiodol_volume_mm3"] = spec.lipiodol.volume_mm3
                rec["lipiodol_hu"] = TISSUE_HU["lipiodol"][0]
        elif kind == LesionKind.RIM_ONLY:
            tmap[m] = tid["necrosis"]
            core = outer.shrunk_mm(RIM_THICKNESS_MM)
            rim = m & ~_mask_ellipsoid(geom, core)
            tmap[rim] = tid["rim"]
            rec["rim_thickness_mm"] = RIM_THICKNESS_MM
        elif kind == LesionKind.INFILTRATIVE:
            soft = ndimage.gaussian_filter(m.astype(np.float64), [INFILTRATIVE_BLUR_MM / s for s in geom.spacing])
            region = (soft > 0.01) & liver
            tmap[m] = tid["liver"]  # blended per phase in make_study
            soft_out.append((soft, region))
            rec["boundary_blur_mm"] = INFILTRATIVE_BLUR_MM
        elif kind == LesionKind.LYMPH_NODE:
            tmap[m] = tid["node"]
        if viable_ell is not None:
            vm = m if viable_ell is outer else _mask_ellipsoid(geom, viable_ell) & m
            if kind != LesionKind.TYPICAL_HCC:
                tmap[vm] = tid["hcc_viable"]
            viable_arr[vm] = spec.label
            rec["viable_volume_mm3"] = viable_ell.volume_mm3
            rec["viable_centre_lps"] = [float(v) for v in viable_ell.centre_lps]
            rec["viable_radii_mm"] = [float(v) for v in viable_ell.radii_mm]
        else:
            rec["viable_volume_mm3"] = 0.0
        d = _diam(outer, geom)
        dv = _diam(viable_ell, geom)
        rec.update(
            longest_diameter_mm=d["longest_diameter_mm"],
            short_axis_mm=d["short_axis_mm"],
            max_short_axis_mm=d["max_short_axis_mm"],
            ld_slice=d["ld_slice"],
            ld_endpoints_lps=d["ld_endpoints_lps"],
            sa_endpoints_lps=d["sa_endpoints_lps"],
            viable_diameter_mm=dv["longest_diameter_mm"],
            viable_short_axis_mm=dv["short_axis_mm"],
            viable_ld_slice=dv["ld_slice"],
            viable_endpoints_lps=dv["ld_endpoints_lps"],
        )
        # Non-viable fraction (necrosis, lipiodol, ablated core) of tumours; not defined for
        # nodes and the non-enhancing infiltrative lesion (None, never NaN).
        has_viability = kind not in (LesionKind.LYMPH_NODE, LesionKind.INFILTRATIVE)
        rec["necrosis_fraction"] = 1.0 - rec["viable_volume_mm3"] / rec["volume_mm3"] if has_viability else None
    # Voxel truth, centre, seed point (inside the viable part when there is one).
    m_all = lesion_arr == spec.label
    mv_all = viable_arr == spec.label
    rec["mask_volume_mm3"] = float(m_all.sum() * vox)
    rec["viable_mask_volume_mm3"] = float(mv_all.sum() * vox)
    if spec.outer is not None:
        centre = spec.outer.centre_lps
    else:
        idx_c = np.argwhere(m_all).mean(axis=0)
        centre = geom.index_to_lps(idx_c)
    rec.setdefault("centre_lps", [float(v) for v in centre])
    rec["centre_index"] = [int(v) for v in np.rint(geom.lps_to_index(centre))]
    seed_src = spec.viable.centre_lps if spec.viable is not None else np.asarray(centre)
    seed_idx = tuple(int(v) for v in np.rint(geom.lps_to_index(seed_src)))
    if not m_all[seed_idx]:
        cand = np.argwhere(mv_all if mv_all.any() else m_all)
        seed_idx = tuple(int(v) for v in cand[np.argmin(((cand - np.asarray(seed_idx)) ** 2).sum(1))])
    rec["seed_index"] = list(seed_idx)
    rec["seed_lps"] = [float(v) for v in geom.index_to_lps(np.asarray(seed_idx, float))]
    rec.update(_measurability(spec, rec))
    return rec


# Measurability and role suggestions -----------------------------------------------------
#: RECIST 1.1 minimum LD of a measurable non-nodal lesion on CT with slices <= 5 mm (mm).
RECIST_MIN_LD_MM: float = 10.0
#: RECIST 1.1 node short axis: >= 15 mm measurable (target), 10-15 mm pathological non-target.
RECIST_NODE_MEASURABLE_SA_MM: float = 15.0
RECIST_NODE_PATHOLOGICAL_SA_MM: float = 10.0
#: mRECIST: porta-hepatis nodes count as malignant only at >= 20 mm short axis.
MRECIST_PORTA_NODE_MALIGNANT_SA_MM: float = 20.0
#: mRECIST: a target's viable (enhancing) diameter must be >= 10 mm.
MRECIST_MIN_VIABLE_MM: float = 10.0


def _measurability(spec: _LesionSpec, rec: Mapping[str, Any]) -> dict[str, Any]:
    kind = spec.kind
    ld = float(rec.get("longest_diameter_mm", 0.0))
    sa = float(rec.get("short_axis_mm", 0.0))
    vd = float(rec.get("viable_diameter_mm", 0.0))
    if kind in (LesionKind.PVTT, LesionKind.ASCITES):
        return {"recist_measurable": False, "mrecist_measurable": False, "typical_hcc_pattern": False,
                "reason": "truly non-measurable disease (RECIST 1.1 sec. 3.1; mRECIST non-target)"}
    if kind == LesionKind.LYMPH_NODE:
        return {
            "recist_measurable": sa >= RECIST_NODE_MEASURABLE_SA_MM,
            "recist_pathological_node": sa >= RECIST_NODE_PATHOLOGICAL_SA_MM,
            "mrecist_measurable": sa >= MRECIST_PORTA_NODE_MALIGNANT_SA_MM,
            "mrecist_malignant_node": sa >= MRECIST_PORTA_NODE_MALIGNANT_SA_MM,
            "typical_hcc_pattern": False,
        }
    treated = kind in (LesionKind.POST_TACE, LesionKind.RIM_ONLY)
    return {
        # Locally treated lesions are non-measurable under RECIST 1.1 unless they progressed.
        "recist_measurable": ld >= RECIST_MIN_LD_MM and kind != LesionKind.INFILTRATIVE and not treated,
        "mrecist_measurable": vd >= MRECIST_MIN_VIABLE_MM and kind in (LesionKind.TYPICAL_HCC, LesionKind.NECROTIC_HCC),
        "typical_hcc_pattern": kind in (LesionKind.TYPICAL_HCC, LesionKind.NECROTIC_HCC) and vd > 0,
    }


# ------------------------------------------------------------------------------------------
# Longitudinal writing and expected responses
# ------------------------------------------------------------------------------------------
#: Target lesions chosen at baseline (RECIST 1.1 at most 2 per organ: the two largest
#: measurable untreated liver lesions; mRECIST: the same two, both enhancing, viable >= 10 mm).
TARGETS: dict[str, tuple[str, ...]] = {"recist_1_1": ("L1", "L2"), "mrecist": ("L1", "L2")}


def _classify_targets(base: Fraction, nadir: Fraction, cur: Fraction, all_zero: bool, abs_floor_mm: Fraction | None) -> tuple[str, list[str]]:
    reasons: list[str] = []
    if all_zero:
        return "CR", ["all targets disappeared (sum 0)"]
    change_nadir = (cur - nadir) / nadir if nadir > 0 else Fraction(0)
    change_base = (cur - base) / base
    pd = change_nadir >= Fraction(1, 5) and (abs_floor_mm is None or cur - nadir >= abs_floor_mm)
    if pd:
        return "PD", [f"sum {float(cur):.1f} mm is {float(change_nadir) * 100:+.1f} % vs nadir {float(nadir):.1f} mm"]
    if change_base <= Fraction(-3, 10):
        return "PR", [f"sum {float(cur):.1f} mm is {float(change_base) * 100:+.1f} % vs baseline {float(base):.1f} mm"]
    reasons.append(f"sum {float(cur):.1f} mm: {float(change_base) * 100:+.1f} % vs baseline, {float(change_nadir) * 100:+.1f} % vs nadir")
    return "SD", reasons


def expected_responses(truths: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """RECIST 1.1 and mRECIST time-point responses implied by the analytic truth.

    Rules applied (docs/criteria.md sections 2 and 3):

    * Targets fixed at baseline: :data:`TARGETS`.  Diameters carried in 0.1 mm and compared
      exactly (fractions).
    * RECIST 1.1: sum of target LDs; CR = all targets gone; PR = <= -30 % vs baseline; PD = >= +20 %
      vs nadir **and** >= +5 mm; else SD.  mRECIST: sum of viable diameters; CR = no viable
      enhancement in any target; PR/PD as RECIST without the 5 mm floor.
    * Non-targets present throughout: non-CR/non-PD (none progresses unequivocally by design;
      the node's growth at fu2 coincides with a new lesion, so PD holds either way).
    * New lesion: any unequivocal new lesion -> PD (RECIST); intrahepatic new lesion >= 10 mm
      with the typical pattern -> PD (mRECIST).
    * Overall = Table 1: PD if target PD, non-target PD or new lesion; else CR/PR/SD from the
      target response with non-target non-CR/non-PD (a target CR then gives PR).
    """
    tps = list(truths)
    if not tps or tps[0]["timepoint"] != "baseline":
        raise PhantomError("expected_responses needs the baseline truth first (truths=[baseline, fu1, ...]).")
    out: dict[str, Any] = {"rules": inspect.cleandoc(expected_responses.__doc__ or ""), "targets": {k: list(v) for k, v in TARGETS.items()}}
    base_ids = set(tps[0]["lesions"])
    for crit, field_name, floor in (
        ("recist_1_1", "longest_diameter_mm", Fraction(5)),
        ("mrecist", "viable_diameter_mm", None),
    ):
        targets = TARGETS[crit]
        rows: list[dict[str, Any]] = []
        sums: list[Fraction] = []
        for t in tps:
            per = {lid: _r1(float(t["lesions"][lid][field_name])) for lid in targets}
            cur = sum((Fraction(v).limit_denominator(10) for v in per.values()), Fraction(0))
            sums.append(cur)
            row: dict[str, Any] = {"timepoint": t["timepoint"], "target_diameters_mm": per, "sum_mm": float(cur)}
            if t["timepoint"] == "baseline":
                row.update(target_response=None, overall=None)
                rows.append(row)
                continue
            base, nadir = sums[0], min(sums[:-1])
            tr, why = _classify_targets(base, nadir, cur, all(v == 0 for v in per.values()), floor)
            new = [lid for lid in t["lesions"] if lid not in base_ids]
            if crit == "mrecist":
                new = [lid for lid in new if t["lesions"][lid]["typical_hcc_pattern"]
                       and float(t["lesions"][lid]["longest_diameter_mm"]) >= MRECIST_MIN_VIABLE_MM]
            nt = "non-CR/non-PD"
            if new or tr == "PD":
                overall = "PD"
            elif tr == "CR":
                overall = "PR"  # non-targets persist (Table 1: CR + non-CR/non-PD -> PR)
            else:
                overall = tr
            row.update(
                baseline_sum_mm=float(base),
                nadir_sum_mm=float(nadir),
                change_from_baseline_frac=float((cur - base) / base),
                change_from_nadir_frac=float((cur - nadir) / nadir) if nadir else None,
                target_response=tr,
                non_target_response=nt,
                new_lesions=new,
                overall=overall,
                reasons=why + ([f"new lesion(s) {new}"] if new else []),
            )
            rows.append(row)
        out[crit] = rows
    return out


def write_longitudinal(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    timepoints: Sequence[str] = ("baseline", "fu1"),
    shape: Sequence[int] = DEFAULT_SHAPE,
    spacing: Sequence[float] = DEFAULT_SPACING_MM,
    noise_sd_hu: float = _DEFAULT_NOISE_SD_HU,
    transfer_syntax: str = "1.2.840.10008.1.2.1",
    masks: bool = True,
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    """Write several time points as DICOM (``out_dir/<timepoint>/<phase>/``) with one ``truth.json``.

    ``truth.json`` holds ``{"patient_id", "timepoints": {tp: truth}, "expected": ...}`` where
    ``expected`` is :func:`expected_responses`.  Each time point folder also gets its own
    ``truth.json`` and, with ``masks=True``, ``masks/{lesions,viable,liver}.nii.gz``.

    Every argument is checked, and every time point built, before anything is written (no folder
    is made for a call that is refused).

    Raises
    ------
    PhantomError
        ``timepoints`` empty, not starting with ``"baseline"``, with an unknown or repeated time
        point or out of order; a parameter :func:`make_study` refuses.
    DicomWriteError
        ``transfer_syntax`` is not one :func:`hcc_imaging.io.write.write_series` writes.
    """
    from .io.write import check_transfer_syntax

    check_transfer_syntax(transfer_syntax, "write_longitudinal")
    if isinstance(timepoints, str):
        timepoints = (timepoints,)
    tps = list(timepoints)
    unknown = [t for t in tps if t not in TIMEPOINTS]
    if unknown:
        raise PhantomError(f"write_longitudinal: unknown time point(s) {unknown}; known: {list(TIMEPOINTS)} (timepoints=...).")
    if not tps or tps[0] != "baseline":
        raise PhantomError(
            f"write_longitudinal: timepoints must start with 'baseline' (the responses are measured from it), "
            f"got {tps}; e.g. timepoints=('baseline', 'fu1')."
        )
    if len(set(tps)) != len(tps) or tps != sorted(tps, key=TIMEPOINTS.__getitem__):
        raise PhantomError(
            f"write_longitudinal: timepoints must be distinct and in time order {list(TIMEPOINTS)}, got {tps}."
        )
    # every time point built (and so every parameter checked) before the first file is written
    studies = [make_study(seed, tp, shape=shape, spacing=spacing, noise_sd_hu=noise_sd_hu, patient_id=patient_id)
               for tp in tps]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truths = []
    written: dict[str, Any] = {}
    for tp, st in zip(tps, studies, strict=True):
        written[tp] = st.write_dicom(out / tp, transfer_syntax=transfer_syntax, masks=masks, patient_id=patient_id)
        truths.append({**st.truth, "dicom": {**st.truth["dicom"], "patient_id": patient_id}})
    doc = {
        "schema": "hcc_imaging.phantom_longitudinal/1",
        "patient_id": patient_id,
        "seed": seed,
        "timepoints": {t["timepoint"]: t for t in truths},
        "expected": expected_responses(truths),
    }
    _write_json(out / "truth.json", doc)
    _write_json(out / "annotations.json", annotations(truths, patient_id=patient_id))
    return {"truth": str(out / "truth.json"), "annotations": str(out / "annotations.json"), "timepoints": written}


def annotations(truths: Sequence[Mapping[str, Any]], *, patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """A reader's lesion annotations implied by the truth (``annotations.json`` for the batch).

    Roles follow :data:`TARGETS` (the rest are non-targets; lesions first seen after baseline
    are new); kinds, organs and the HCC flags come from the phantom lesion kinds.  Time point ids
    are mapped from the StudyInstanceUIDs.
    """
    kinds = {"lymph_node": "lymph_node", "pvtt": "pvtt", "ascites": "ascites"}
    base = set(truths[0]["lesions"]) if truths else set()
    lesions: dict[str, Any] = {}
    for t in truths:
        for lid, rec in t["lesions"].items():
            if lid in lesions:
                continue
            k = rec["kind"]
            rbc = {crit: ("target" if lid in ids else "non_target") for crit, ids in TARGETS.items()}
            first = lid in base
            role = rbc["recist_1_1"] if first else "new"
            a: dict[str, Any] = {
                "role": role,
                "kind": kinds.get(k, "lesion"),
                "organ": rec["organ"],
                "is_lymph_node": k == "lymph_node",
            }
            if first and rbc["mrecist"] != role:
                a["role_by_criteria"] = {"mRECIST": rbc["mrecist"]}
            if k == "lymph_node":
                a["porta_hepatis"] = True
            if k in ("post_tace_lipiodol", "rim_only"):
                a["previously_treated"] = True
            if k in ("typical_hcc", "necrotic_hcc"):
                a["typical_hcc_pattern"] = True
                a["well_delineated"] = True
            if k == "infiltrative":
                a["well_delineated"] = False
                a["typical_hcc_pattern"] = False
            if k == "ascites":
                a["cytology_malignant"] = False
            lesions[lid] = a
    return {
        "schema": "hcc_imaging.annotations/1",
        "reader_id": "phantom-truth",
        "patient_id": patient_id,
        "timepoints": {t["dicom"]["study_instance_uid"]: t["timepoint"] for t in truths},
        "lesions": lesions,
    }

"""Analytic shapes of the phantoms (ellipsoid, cylinder) and their voxel masks (voxel-centre rule)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry
from ._params import PhantomError


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
        """RECIST LD / SA on the sampled slices of ``geometry`` (see the :mod:`hcc_imaging.phantoms` docstring)."""
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

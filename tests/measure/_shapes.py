"""Analytic masks and their exact truth for the measurement tests (voxel in = centre inside)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hcc_imaging.volume import AXIAL_DIRECTION, LabelVolume


@dataclass(frozen=True)
class Ellipsoid:
    """Ellipsoid with semi-axes (a, b, c) mm; a, b in the axial plane rotated by angle_rad about S,
    c along S; centre in LPS mm."""

    a: float
    b: float
    c: float
    angle_rad: float = 0.0
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def local(self, lps: NDArray[np.float64]) -> NDArray[np.float64]:
        d = lps - np.asarray(self.centre)
        ca, sa = np.cos(self.angle_rad), np.sin(self.angle_rad)
        u = d[..., 0] * ca + d[..., 1] * sa
        v = -d[..., 0] * sa + d[..., 1] * ca
        return np.stack([u, v, d[..., 2]], axis=-1)

    def inside(self, lps: NDArray[np.float64]) -> NDArray[np.bool_]:
        q = self.local(lps)
        return (q[..., 0] / self.a) ** 2 + (q[..., 1] / self.b) ** 2 + (q[..., 2] / self.c) ** 2 <= 1.0

    def section_scale(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        dz = (np.asarray(z) - self.centre[2]) / self.c
        return np.sqrt(np.clip(1.0 - dz * dz, 0.0, None))

    # truths on the sampled axial planes z_k
    def ld_sa_truth(self, z_planes: NDArray[np.float64]) -> tuple[float, float]:
        s = self.section_scale(z_planes).max()
        big, small = max(self.a, self.b), min(self.a, self.b)
        return 2 * big * s, 2 * small * s

    def feret_truth(self, z_planes: NDArray[np.float64]) -> float:
        """3-D diameter of the union of the sampled sections.  The sections are concentric,
        similar ellipses (semi-axes a s_k, b s_k), so the farthest pair between sections k1, k2
        is a pair of opposite major-axis vertices: in-plane distance (s1 + s2) max(a, b)."""
        s = self.section_scale(z_planes)
        zs = np.asarray(z_planes, dtype=float)[s > 0]
        s = s[s > 0]
        big = max(self.a, self.b)
        d2 = (zs[:, None] - zs[None, :]) ** 2 + (big * (s[:, None] + s[None, :])) ** 2
        return float(np.sqrt(d2.max())) if len(s) else 0.0

    @property
    def volume_mm3(self) -> float:
        return 4.0 / 3.0 * np.pi * self.a * self.b * self.c


def grid_for(shape_extent_mm: float, spacing: tuple[float, float, float], direction=AXIAL_DIRECTION,
             centre=(0.0, 0.0, 0.0)) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """Shape and origin of a grid of ``spacing`` covering a cube of side ``shape_extent_mm``
    around ``centre`` whatever the direction."""
    d = np.asarray(direction, float)
    n = [int(np.ceil(shape_extent_mm / s)) + 3 for s in spacing]
    half = (np.asarray(n) - 1) / 2.0 * np.asarray(spacing)
    origin = np.asarray(centre) - d @ half
    return (n[0], n[1], n[2]), (float(origin[0]), float(origin[1]), float(origin[2]))


def rasterise(shape, spacing, origin, direction, inside_fn, label: int = 1) -> LabelVolume:
    """LabelVolume whose voxels are ``label`` where the voxel centre is inside."""
    lv = LabelVolume.create(np.zeros(shape, np.uint8), spacing=spacing, origin=origin, direction=direction)
    k, j, i = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    lps = lv.index_to_lps(np.stack([k, j, i], axis=-1).astype(float))
    arr = np.where(inside_fn(lps), label, 0).astype(np.uint8)
    return lv.with_array(arr)


def ellipsoid_labels(e: Ellipsoid, spacing, direction=AXIAL_DIRECTION, label: int = 1,
                     placement: str = "centred") -> LabelVolume:
    """The ellipsoid rasterised (voxel in when its centre is inside).

    ``placement="centred"``: the grid is centred on the ellipsoid, so its centre lies on a voxel
    centre or half-way between two on every axis (a point-symmetric mask: both ends of a diameter
    err the same way, the adversarial case).  ``"offset"``: the grid is centred on the LPS origin
    instead, so the ellipsoid's centre (drawn anywhere) is a genuine sub-voxel offset from the
    lattice (issue 4: "including lesions placed at sub-voxel offsets")."""
    ext = 2 * max(e.a, e.b, e.c) + 2 * max(spacing)
    if placement == "centred":
        shape, origin = grid_for(ext, spacing, direction, e.centre)
    elif placement == "offset":
        shape, origin = grid_for(ext + 2.0 * float(np.linalg.norm(e.centre)), spacing, direction)
    else:
        raise ValueError(f"placement {placement!r}: 'centred' or 'offset'")
    return rasterise(shape, spacing, origin, direction, e.inside, label)


def plane_z(lv: LabelVolume, axis: int) -> NDArray[np.float64]:
    """S coordinate of every sampled axial plane (array axis ``axis`` is along S)."""
    idx = np.zeros((lv.shape[axis], 3))
    idx[:, axis] = np.arange(lv.shape[axis])
    return lv.index_to_lps(idx)[:, 2]


def stored_in_layout(lv: LabelVolume, perm: tuple[int, int, int], flips: tuple[bool, bool, bool],
                     noise: float = 0.0) -> LabelVolume:
    """The same voxels in LPS in another array layout: axes flipped, then permuted (the geometry
    follows, so every voxel keeps its patient position).  ``noise``: the spacing across the new
    slices off by that relative amount, as one computed from slice positions is (2.299999999999997
    mm where the pixel spacing reads 2.3)."""
    arr = lv.array
    d = np.asarray(lv.direction, float).copy()
    for ax, f in enumerate(flips):
        if f:
            arr = np.flip(arr, axis=ax)
            d[:, ax] = -d[:, ax]
    # the new voxel 0 is the old voxel at the flipped corner
    origin = lv.index_to_lps(np.array([lv.shape[a] - 1 if flips[a] else 0 for a in range(3)], float))
    spacing = tuple(lv.spacing[p] * (1.0 + (noise if a == 0 else 0.0)) for a, p in enumerate(perm))
    return LabelVolume.create(np.ascontiguousarray(np.transpose(arr, perm)), spacing=spacing,
                              origin=tuple(origin), direction=d[:, list(perm)], labels=lv.labels)

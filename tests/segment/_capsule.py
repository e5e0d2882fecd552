"""Synthetic upper abdomen with a large capsular tumour that bulges out of the liver dome.

Built for the liver-segmentation tumour-inclusion step (docs/validation.md section 5); no value
here was taken from 3D-IRCADb.  Anatomy in LPS mm around the grid centre (x: patient's left,
y: posterior, z: superior), tissue values from textbook portal-venous CT:

* body ellipse (175 x 125 mm) with 12 mm subcutaneous fat (-100 HU) and an 8 mm muscle wall
  (50 HU); abdominal fat (-90 HU) below z = 20 mm, lung (-850 HU) above it;
* liver ellipsoid 105 HU with correlated texture (SD 8 HU) and three 170 HU portal branches;
  a 4 mm diaphragm (45 HU) over its upper half;
* heart on the diaphragm (myocardium 110 HU, blood 160 HU), right kidney (150 HU) touching
  the liver, stomach (60 HU wall, 15 HU water) touching the left lobe, aorta, spine;
* tumour 1: 27 mm radius, centred ON the liver capsule at the lateral dome, so about half of
  it lies outside the liver ellipsoid (under the diaphragm, against the lung); necrotic core
  (r < 15 mm, 20 HU), heterogeneous viable shell (85 HU with 60-140 HU blobs);
* tumour 2: intraparenchymal, 14 mm radius, 60 HU.

Truth liver = liver ellipsoid + both tumours (as expert masks include tumours).  PSF sigma 1 mm,
white noise SD 12 HU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from hcc_imaging.volume import LabelVolume, Volume

SPACING = (2.0, 1.4, 1.4)
SHAPE = (70, 220, 260)
LIVER_CENTRE = np.array([-60.0, 0.0, 0.0])
LIVER_RADII = np.array([90.0, 75.0, 60.0])


@dataclass(frozen=True)
class CapsulePhantom:
    volume: Volume
    liver: LabelVolume  # truth, tumours included
    tumours: dict[str, LabelVolume]
    centres_lps: dict[str, tuple[float, float, float]]


def _ell(x: NDArray[np.float64], y: NDArray[np.float64], z: NDArray[np.float64], c: NDArray[np.float64] | tuple[float, ...],
         r: NDArray[np.float64] | tuple[float, ...]) -> NDArray[np.float64]:
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2


def centred_grid(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> tuple[
        NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Each voxel's (z, y, x) in mm on a grid centred on the origin, and the grid's origin (z, y, x)."""
    sp = np.asarray(spacing)
    origin_zyx = -(np.asarray(shape) - 1) / 2 * sp
    kk, jj, ii = np.indices(shape, dtype=np.float64)
    return origin_zyx[0] + kk * sp[0], origin_zyx[1] + jj * sp[1], origin_zyx[2] + ii * sp[2], origin_zyx


def capsule_phantom(seed: int = 0, *, noise_sd_hu: float = 12.0, offset_mm: float = 0.0, core_hu: float = 20.0) -> CapsulePhantom:
    """``offset_mm`` moves tumour 1's centre outwards (> 0) or inwards along the capsule normal
    direction; ``core_hu`` is its necrotic core's value."""
    rng = np.random.default_rng(seed)
    sp = np.asarray(SPACING)
    z, y, x, origin_zyx = centred_grid(SHAPE, SPACING)
    img = np.full(SHAPE, -1000.0)
    body = (x / 175.0) ** 2 + (y / 125.0) ** 2 <= 1.0
    wall = (x / 163.0) ** 2 + (y / 113.0) ** 2 <= 1.0
    cavity = (x / 155.0) ** 2 + (y / 105.0) ** 2 <= 1.0
    img[body] = -100.0
    img[wall] = 50.0
    img[cavity & (z <= 20.0)] = -90.0
    img[cavity & (z > 20.0)] = -850.0
    liver_q = _ell(x, y, z, LIVER_CENTRE, LIVER_RADII)
    liver = (liver_q <= 1.0) & cavity
    dia = (_ell(x, y, z, LIVER_CENTRE, LIVER_RADII + 4.0) <= 1.0) & ~liver & (z > 0.0) & cavity
    img[dia] = 45.0
    # organs
    heart_q = _ell(x, y, z, (30.0, -20.0, 66.0), (55.0, 45.0, 40.0))
    img[(heart_q <= 1.0) & cavity] = 110.0
    img[(_ell(x, y, z, (30.0, -20.0, 66.0), (45.0, 35.0, 30.0)) <= 1.0)] = 160.0
    kidney = _ell(x, y, z, (-75.0, 62.0, -45.0), (25.0, 22.0, 40.0)) <= 1.0
    img[kidney & cavity] = 150.0
    stom_q = _ell(x, y, z, (72.0, -10.0, -10.0), (42.0, 35.0, 40.0))
    img[(stom_q <= 1.0) & cavity] = 60.0
    img[_ell(x, y, z, (72.0, -10.0, -10.0), (36.0, 29.0, 34.0)) <= 1.0] = 15.0
    img[((x - 25.0) ** 2 + (y - 60.0) ** 2 <= 12.0**2) & (z <= 40.0)] = 180.0
    img[(x**2 + (y - 88.0) ** 2 <= 20.0**2)] = 400.0
    # liver parenchyma with texture and portal branches
    tex = ndi.gaussian_filter(rng.normal(0.0, 1.0, SHAPE), [3.0 / s for s in sp])
    tex *= 8.0 / max(float(tex[liver].std()), 1e-6)
    img[liver] = 105.0 + tex[liver]
    for a, b in [((-60.0, 10.0, -10.0), (-120.0, -20.0, 20.0)), ((-60.0, 10.0, -10.0), (0.0, -10.0, 10.0)),
                 ((-60.0, 10.0, -10.0), (-90.0, 30.0, -45.0))]:
        pa, pb = np.asarray(a), np.asarray(b)
        d = pb - pa
        t = np.clip(((x - pa[0]) * d[0] + (y - pa[1]) * d[1] + (z - pa[2]) * d[2]) / float(d @ d), 0.0, 1.0)
        dist2 = (x - pa[0] - t * d[0]) ** 2 + (y - pa[1] - t * d[1]) ** 2 + (z - pa[2] - t * d[2]) ** 2
        img[(dist2 <= 4.0**2) & liver] = 170.0
    # tumour 1: on the capsule at the lateral dome (direction (-1, 0, 1) from the liver centre)
    u = np.array([-1.0, 0.0, 1.0]) / np.sqrt(2.0)
    s = 1.0 / np.sqrt(np.sum((u / LIVER_RADII) ** 2))
    c1 = LIVER_CENTRE + (s + offset_mm) * u
    r1 = np.sqrt((x - c1[0]) ** 2 + (y - c1[1]) ** 2 + (z - c1[2]) ** 2)
    t1 = (r1 <= 27.0) & cavity
    blobs = ndi.gaussian_filter(rng.normal(0.0, 1.0, SHAPE), [4.0 / s_ for s_ in sp])
    blobs *= 25.0 / max(float(blobs[t1].std()), 1e-6)
    img[t1] = np.clip(85.0 + blobs[t1], 55.0, 140.0)
    img[t1 & (r1 <= 15.0)] = core_hu
    c2 = np.array([-40.0, 10.0, -15.0])
    t2 = ((x - c2[0]) ** 2 + (y - c2[1]) ** 2 + (z - c2[2]) ** 2 <= 14.0**2) & liver
    img[t2] = 60.0
    img = ndi.gaussian_filter(img, [1.0 / s_ for s_ in sp])
    img += rng.normal(0.0, noise_sd_hu, SHAPE)
    vol = Volume.create(np.clip(np.rint(img), -1024, 3071).astype(np.int16), spacing=SPACING,
                        origin=(float(origin_zyx[2]), float(origin_zyx[1]), float(origin_zyx[0])))
    truth = liver | t1 | t2
    return CapsulePhantom(
        volume=vol,
        liver=LabelVolume.like(vol, truth.astype(np.uint8), labels={1: "liver"}),
        tumours={"t1": LabelVolume.like(vol, t1.astype(np.uint8), labels={1: "t1"}),
                 "t2": LabelVolume.like(vol, t2.astype(np.uint8), labels={1: "t2"})},
        centres_lps={"t1": tuple(float(v) for v in c1), "t2": tuple(float(v) for v in c2)},  # type: ignore[dict-item]
    )

"""Synthetic upper abdomen whose liver window also holds the inferior vena cava below the liver
and, optionally, the heart's myocardium over the dome.

Built for the liver method's extrahepatic-IVC and heart steps (``hcc_imaging.segment._ivc``,
``._dome``); no value here was taken from 3D-IRCADb.  Anatomy in LPS mm around the grid centre (x: patient's left,
y: posterior, z: superior), textbook portal-venous values:

* body ellipse (170 x 120 mm): 10 mm subcutaneous fat (-100 HU), 8 mm muscle wall (50 HU),
  abdominal fat (-90 HU) inside;
* liver ellipsoid 105 HU (centre (-55, 0, 25) mm, radii 80 / 65 / 55 mm) on the patient's right;
* spine (400 HU) and aorta (160 HU, above the window) in front of it;
* IVC: a tube of radius ``ivc_radius_mm`` (default 11 mm) at ``ivc_hu`` (default 100 HU, inside
  the liver window, as the mixed infrarenal blood of portal-venous CT: IRCAD17's IVC median
  83 HU) that runs from the bottom of the scan up into the liver's medial posterior part at
  x = -22 mm (just right of the midline), y = 30 mm, so that 50-60 mm of it lie below the liver;
* with ``heart=True``: a ``diaphragm_mm`` diaphragm (50 HU) over the liver's upper half and on it,
  over the medial dome, the heart: an ellipsoid (radii 50 / 45 / 40 mm) of myocardium (110 HU,
  inside the liver window) 10 mm thick around blood (170 HU, above it).

Truth liver = the liver ellipsoid.  PSF sigma 1 mm, white noise SD 12 HU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from hcc_imaging.volume import LabelVolume, Volume

from ._capsule import centred_grid

SPACING = (2.5, 1.5, 1.5)
SHAPE = (64, 170, 240)
IVC_XY_MM = (-22.0, 30.0)
#: The heart's centre (LPS mm) with ``heart=True``: over the liver's medial dome, whose surface
#: lies at z = 54.5 mm under it; the heart's 40 mm half-height puts its bottom at the diaphragm.
HEART_CENTRE_MM = (10.0, -15.0, 98.0)


@dataclass(frozen=True)
class HeartIvcPhantom:
    volume: Volume
    liver: LabelVolume  # truth
    ivc_below_liver: LabelVolume  # the tube's voxels outside the liver ellipsoid
    heart: LabelVolume  # the heart's voxels (myocardium and blood; empty without heart=True)


def heart_ivc_phantom(seed: int = 0, *, ivc_radius_mm: float = 11.0, ivc_hu: float = 100.0, noise_sd_hu: float = 12.0,
                heart: bool = False, diaphragm_mm: float = 3.0) -> HeartIvcPhantom:
    rng = np.random.default_rng(seed)
    z, y, x, origin_zyx = centred_grid(SHAPE, SPACING)
    img = np.full(SHAPE, -1000.0)
    img[(x / 170.0) ** 2 + (y / 120.0) ** 2 <= 1.0] = -100.0
    img[(x / 160.0) ** 2 + (y / 110.0) ** 2 <= 1.0] = 50.0
    cavity = (x / 152.0) ** 2 + (y / 102.0) ** 2 <= 1.0
    img[cavity] = -90.0
    liver = (((x + 55.0) / 80.0) ** 2 + (y / 65.0) ** 2 + ((z - 25.0) / 55.0) ** 2 <= 1.0) & cavity
    img[liver] = 105.0
    heart_mask = np.zeros(SHAPE, bool)
    if heart:
        # on the liver's medial dome, above a diaphragm_mm diaphragm (50 HU) that covers the
        # liver's upper half: myocardium 110 HU, 10 mm thick, around blood at 170 HU
        shell = (((x + 55.0) / (80.0 + diaphragm_mm)) ** 2 + (y / (65.0 + diaphragm_mm)) ** 2
                 + ((z - 25.0) / (55.0 + diaphragm_mm)) ** 2 <= 1.0) & ~liver & (z > 25.0) & cavity
        img[shell] = 50.0
        hz = HEART_CENTRE_MM[2]
        heart_q = ((x - HEART_CENTRE_MM[0]) / 50.0) ** 2 + ((y - HEART_CENTRE_MM[1]) / 45.0) ** 2 + ((z - hz) / 40.0) ** 2
        outside = ~liver & ~shell
        img[(heart_q <= 1.0) & outside & cavity] = 110.0
        blood = ((x - HEART_CENTRE_MM[0]) / 40.0) ** 2 + ((y - HEART_CENTRE_MM[1]) / 35.0) ** 2 + ((z - hz) / 30.0) ** 2 <= 1.0
        img[blood & outside & cavity] = 170.0
        heart_mask = (heart_q <= 1.0) & outside & cavity
    img[(x ** 2 + (y - 75.0) ** 2) <= 18.0 ** 2] = 400.0  # vertebral body
    img[((x - 12.0) ** 2 + (y - 45.0) ** 2) <= 10.0 ** 2] = 160.0  # aorta
    ivc = ((x - IVC_XY_MM[0]) ** 2 + (y - IVC_XY_MM[1]) ** 2 <= ivc_radius_mm ** 2) & (z <= 25.0)
    img[ivc & ~liver] = ivc_hu
    img = ndi.gaussian_filter(img, [1.0 / s for s in SPACING]) + rng.normal(0.0, noise_sd_hu, SHAPE)
    vol = Volume.create(np.clip(np.rint(img), -1024, 3071).astype(np.int16), spacing=SPACING,
                        origin=(float(origin_zyx[2]), float(origin_zyx[1]), float(origin_zyx[0])))
    return HeartIvcPhantom(vol, LabelVolume.like(vol, liver.astype(np.uint8), labels={1: "liver"}),
                           LabelVolume.like(vol, (ivc & ~liver).astype(np.uint8), labels={1: "ivc"}),
                           LabelVolume.like(vol, heart_mask.astype(np.uint8), labels={1: "heart"}))

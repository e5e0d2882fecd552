"""Anatomy of the multiphase liver study phantom (fixed in LPS mm) and its lesions per time point."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ._shapes import Cylinder, Ellipsoid, _rot_z


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

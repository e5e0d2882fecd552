"""Painting one lesion of the study phantom into its tissue map and label arrays, with the lesion's
analytic truth record and its RECIST 1.1 / mRECIST measurability."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry
from ._anatomy import _PORTAL_VEIN, _PVTT_T, LesionKind, _LesionSpec
from ._params import INFILTRATIVE_BLUR_MM, RIM_THICKNESS_MM, TISSUE_HU, PhantomError
from ._shapes import Ellipsoid, _mask_ellipsoid


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

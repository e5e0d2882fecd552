"""Viable (arterially enhancing) tumour inside lesion masks, for mRECIST / EASL.

mRECIST defines viable tumour as tissue showing contrast uptake in the arterial phase; a thin
regular rim of enhancement around a treated zone is reactive, not viable; dense lipiodol after
conventional TACE is not enhancement (Lencioni & Llovet, Semin Liver Dis 2010;30:52-60;
``docs/criteria.md`` section 3).

Method (:func:`viable_mask`), per lesion label, on the lesion map's grid:

1. Smooth the arterial phase (``smoothing_sigma_mm``) and take the liver's arterial value as the
   median in a ring ``ring_inner_mm``-``ring_outer_mm`` around the lesion (inside the liver mask
   when one is given): local parenchyma, so a regional enhancement gradient does not matter.
2. **Enhancing vs liver**: arterial - liver >= ``enhancement_vs_liver_hu``.
3. **Enhancing vs pre-contrast** (when given): the pre-contrast phase is aligned to the
   arterial phase around the lesions by a translation (breathing; an exhaustive FFT search of
   gradient-magnitude cross-correlation, :func:`hcc_imaging.segment.register.register_translation`)
   and resampled; arterial - pre >= ``enhancement_vs_pre_hu``.
4. **Lipiodol excluded**: pre-contrast >= ``lipiodol_min_hu``, or every available post-contrast
   phase (arterial, and portal venous when given) >= it, dilated by ``lipiodol_margin_mm`` to
   drop partial-volume edges.  The local pre-contrast alignment is kept only when it raises
   the mutual information with the arterial phase over no shift (a wrong local optimum of an
   earlier rigid search once slid the pre-contrast 12 mm along a lipiodol deposit, and lipiodol
   became "viable").
5. **Reactive rim removed**: a morphological opening with an element sized in mm
   (:mod:`._viable_rim`): the voxel offsets of the smallest ball that are wider, along every
   direction, than W = ``rim_max_thickness_mm`` + 0.6 x the blur (scanner 1 mm, smoothing), the
   band over which a blurred bright rim passes step 2 inside the lesion mask; on slices thicker
   than W it is in-plane, and a rim's tangential cap (the lesion's end slice over non-enhancing
   lesion) is removed by its own test.  The slice axis is found in the patient (the axis along S
   when its spacing exceeds W, else the only axis coarser than W), not as array axis 0, so a
   series stored as coronal slices gives the same voxels as stored axially (:mod:`._viable_rim`).  No placement fits in a rim; nodules thicker than W
   survive, on 2 thick slices too.  One conditional dilation by the same element restores the
   nodules' shaved edges (opening by partial reconstruction).
5b. **Grown into the blurred edge** (:mod:`._viable_grow`): lesion voxels within ``grow_distance_mm``
   of step 5's survivors, connected to them, that pass the lower ``grow_enhancement_vs_liver_hu``
   test, the pre-contrast test and are no lipiodol, join (hysteresis; a removed rim seeds nothing).
6. Islands smaller than ``min_volume_mm3`` are dropped.

The result has the same label values (and names) as the lesion map, viable voxels only.
Steps 1-6 run in boxes around the lesions padded by what each step reaches (ring, lipiodol
margin, Gaussian kernel), which gives the same result as running them over the whole work box.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry, LabelVolume, Volume
from . import constants as C
from ._morph import gaussian_sigma_vox
from ._roi import bbox, crop_around, crop_geometry, mutual_information, on_grid, on_shifted
from ._types import check_numeric_fields
from ._viable_grow import grow_into_edge
from ._viable_rim import remove_rim, rim_element
from .errors import SegmentationError

__all__ = ["ViableParams", "viable_mask", "ALGORITHM_NAME"]

log = logging.getLogger(__name__)

ALGORITHM_NAME = "hcc_imaging.segment.viable.arterial_enhancement"


#: the parenchyma ring by dilations (:func:`._morph.within_mm`) up to this many column runs, else by
#: a distance transform (the same voxels; the dilations cost ~0.06 ns per voxel and run, the
#: transform 30-70 ns per voxel)
_RING_DILATION_MAX_RUNS = 1500


@dataclass(frozen=True, slots=True)
class ViableParams:
    """Parameters of :func:`viable_mask` (defaults and sources in :mod:`.constants`)."""

    enhancement_vs_liver_hu: float = C.VIABLE_ENHANCEMENT_VS_LIVER_HU
    enhancement_vs_pre_hu: float = C.VIABLE_ENHANCEMENT_VS_PRE_HU
    smoothing_sigma_mm: float = C.VIABLE_SMOOTHING_SIGMA_MM
    lipiodol_min_hu: float = C.LIPIODOL_MIN_HU
    lipiodol_margin_mm: float = C.LIPIODOL_MARGIN_MM
    rim_max_thickness_mm: float = C.REACTIVE_RIM_MAX_THICKNESS_MM
    grow_enhancement_vs_liver_hu: float = C.VIABLE_GROW_ENHANCEMENT_VS_LIVER_HU
    grow_distance_mm: float = C.VIABLE_GROW_DISTANCE_MM
    min_volume_mm3: float = C.VIABLE_MIN_VOLUME_MM3
    ring_inner_mm: float = C.VIABLE_RING_INNER_MM
    ring_outer_mm: float = C.VIABLE_RING_OUTER_MM
    register_pre_contrast: bool = True
    roi_margin_mm: float = C.VIABLE_ROI_MARGIN_MM

    def __post_init__(self) -> None:
        check_numeric_fields(self, _VIABLE_RANGES, allow_inf=("lipiodol_min_hu",))
        if not self.ring_inner_mm < self.ring_outer_mm:
            raise SegmentationError(
                f"ViableParams ring must satisfy 0 <= ring_inner_mm < ring_outer_mm, got {self.ring_inner_mm}, {self.ring_outer_mm}."
            )
        if self.grow_distance_mm > 0 and self.grow_enhancement_vs_liver_hu > self.enhancement_vs_liver_hu:
            # step 5b is the low threshold of a hysteresis: above step 2's it would take nothing step 2 did not
            # (an MR caller who set only enhancement_vs_liver_hu in its units kept the CT default 5 HU here)
            raise SegmentationError(
                f"ViableParams grow_enhancement_vs_liver_hu ({self.grow_enhancement_vs_liver_hu:g}) is above "
                f"enhancement_vs_liver_hu ({self.enhancement_vs_liver_hu:g}): step 5b's edge threshold must not "
                "exceed step 2's. Give both in the series' intensity units (grow_enhancement_vs_liver_hu <= "
                "enhancement_vs_liver_hu), or grow_distance_mm=0 for no growth."
            )


#: Allowed range of each numeric field of ViableParams (as ``_types._LESION_RANGES``); the enhancement
#: thresholds may be any finite value, ``lipiodol_min_hu`` also +inf (no lipiodol exclusion: MR).
_VIABLE_RANGES = {
    "enhancement_vs_liver_hu": ("float", -math.inf, False, math.inf, False),
    "enhancement_vs_pre_hu": ("float", -math.inf, False, math.inf, False),
    "smoothing_sigma_mm": ("float", 0.0, False, math.inf, False),
    "lipiodol_min_hu": ("float", 0.0, False, math.inf, True),
    "lipiodol_margin_mm": ("float", 0.0, True, math.inf, False),
    "rim_max_thickness_mm": ("float", 0.0, True, math.inf, False),
    "grow_enhancement_vs_liver_hu": ("float", -math.inf, False, math.inf, False),
    "grow_distance_mm": ("float", 0.0, True, math.inf, False),
    "min_volume_mm3": ("float", 0.0, True, math.inf, False),
    "ring_inner_mm": ("float", 0.0, True, math.inf, False),
    "ring_outer_mm": ("float", 0.0, False, math.inf, False),
    "roi_margin_mm": ("float", 0.0, False, math.inf, False),
}


def _checked_params(lesion: LabelVolume, arterial: Volume, pre_contrast: Volume | None,
                    portal_venous: Volume | None, params: ViableParams | None,
                    liver: LabelVolume | None = None) -> ViableParams:
    """:func:`viable_mask`'s parameters, after its input checks: the defaults are CT HU (an MR
    arterial series needs its own), and every series and the liver mask lie in the lesion map's
    frame of reference (when both are known)."""
    from ..errors import GeometryMismatchError
    from ..volume import Modality

    if params is None and arterial.modality != Modality.CT:
        raise SegmentationError(
            f"viable_mask defaults are CT Hounsfield units, but the arterial series "
            f"{arterial.series_instance_uid or '?'} is {arterial.modality}. Pass ViableParams(...) with the "
            "enhancement thresholds (enhancement_vs_liver_hu, enhancement_vs_pre_hu, grow_enhancement_vs_liver_hu) "
            "in this scanner's intensity units (and lipiodol_min_hu=float('inf'), "
            "lipiodol is not dense on MR)."
        )
    for name, v in (("arterial", arterial), ("pre_contrast", pre_contrast), ("portal_venous", portal_venous)):
        if v is None:
            continue
        if lesion.frame_of_reference_uid and v.frame_of_reference_uid and v.frame_of_reference_uid != lesion.frame_of_reference_uid:
            raise GeometryMismatchError(
                f"the {name} volume (series {v.series_instance_uid or '?'}) is in frame of reference "
                f"{v.frame_of_reference_uid}, the lesion map in {lesion.frame_of_reference_uid}. Register the "
                "follow-up first (hcc_imaging.segment.register_volumes) and move the mask with Registration.resample_labels."
            )
    frame = lesion.frame_of_reference_uid or arterial.frame_of_reference_uid
    if liver is not None and frame and liver.frame_of_reference_uid and liver.frame_of_reference_uid != frame:
        raise GeometryMismatchError(
            f"the liver mask (drawn on series {liver.source_series_instance_uid or '?'}) is in frame of reference "
            f"{liver.frame_of_reference_uid}, the lesion map and images in {frame}: another study's liver "
            "would give the wrong parenchyma ring. Pass this study's liver mask, or move that one first "
            "(hcc_imaging.segment.register_volumes, then Registration.resample_labels)."
        )
    return params or ViableParams()


def _refuse_non_finite(values: NDArray[Any], at: NDArray[np.int64], geom: Geometry, name: str, vol: Volume,
                       lesion: LabelVolume, reach_mm: float) -> None:
    """Refuse NaN or infinite ``values``: the ``name`` phase ``vol`` as :func:`viable_mask` reads it,
    sampled on ``geom`` from index ``at`` on, within ``reach_mm`` of ``lesion``'s lesions.  Such voxels
    (a float image's padding, a resampling's outside) are no intensity: a NaN in a lesion made its
    voxels never enhancing, one in the parenchyma ring made the reference NaN, one in the moving box
    moved the pre-contrast registration, all without a word (as :func:`segment_lesion` refuses them
    near a click)."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    lps = geom.index_to_lps(np.argwhere(bad)[0] + at)
    try:
        where = f"voxel {tuple(int(v) for v in vol.geometry.lps_to_nearest_index(lps))} (slice, row, col) of that image"
    except ValueError:
        where = f"LPS {tuple(round(float(v), 1) for v in lps)} mm"
    names = ", ".join(f"{v} ({lesion.labels[v]})" if lesion.labels.get(v) else str(v)
                      for v in (int(u) for u in np.unique(lesion.array) if u != 0))
    raise SegmentationError(
        f"viable_mask: the {name} image (series {vol.series_instance_uid or 'unknown'}) has {int(bad.sum())} NaN or "
        f"infinite voxels within {reach_mm:.0f} mm of the lesions (labels {names}), the first at {where}, where the "
        "viable part is read from it: they are no intensity, and would change the viable mask without a word. "
        "Replace them with a real value (air, -1024 HU on CT; e.g. numpy.nan_to_num) or crop them out, and save the "
        "image again.")


def _pre_contrast_on(pre_contrast: Volume, arterial: Volume, art: NDArray[np.float32], geom: Geometry,
                     p: ViableParams, info: dict[str, Any], lesion: LabelVolume) -> NDArray[np.float32]:
    """The pre-contrast phase on the region of interest ``geom`` (``art``: the arterial phase there),
    aligned to the arterial phase by a translation search when ``p.register_pre_contrast`` (step 3;
    kept only when it raises the mutual information over none); ``info`` receives the registration
    and its check; ``lesion`` the lesion map (named when the moving box holds NaN voxels)."""
    from ..volume import Modality

    # the pre-contrast around the ROI plus the search range (a view when the grids agree:
    # resampling never touches the whole series)
    pre_roi = crop_around(pre_contrast, geom, C.VIABLE_REGISTRATION_MOVING_MARGIN_MM)
    shift_lps = None
    if p.register_pre_contrast:
        # the translation search reads the whole moving box: a NaN there moves the alignment
        _refuse_non_finite(np.asarray(pre_roi.array), np.zeros(3, np.int64), pre_roi.geometry, "pre_contrast",
                           pre_contrast, lesion, p.roi_margin_mm + C.VIABLE_REGISTRATION_MOVING_MARGIN_MM)
        from .register import register_translation

        art_crop = Volume(array=art, geometry=geom, modality=arterial.modality,
                          frame_of_reference_uid=arterial.frame_of_reference_uid,
                          series_instance_uid=arterial.series_instance_uid)
        # phases of one study differ by breathing (a few mm, little rotation over a lesion's
        # neighbourhood): an exhaustive translation search, coarse over the ROI, fine over
        # the lesion and C.VIABLE_REGISTRATION_FINE_MARGIN_MM around it
        reg = register_translation(
            art_crop, pre_roi,
            max_shift_mm=C.TRANSLATION_MAX_SHIFT_MM,
            fine_trim_mm=max(p.roi_margin_mm - C.VIABLE_REGISTRATION_FINE_MARGIN_MM, 0.0),
            intensity_window=C.VIABLE_REGISTRATION_WINDOW_HU if arterial.modality == Modality.CT else None,
        )
        shift_lps = np.asarray(reg.translation_mm, float)
        info["pre_contrast_registration"] = reg.to_json()
    pre = on_shifted(pre_roi, geom, shift_lps)
    if shift_lps is not None:
        # never accept a registration that aligns worse than none: a wrong optimum (e.g. a
        # 12 mm slide along a dense lipiodol deposit, seen with a local rigid search) would
        # make the lipiodol look like enhancing tissue; phases of one study share the scanner frame
        pre_id = on_grid(pre_roi, geom)
        mi_reg, mi_id = mutual_information(art, pre), mutual_information(art, pre_id)
        info["pre_contrast_registration_mi"] = {"registered": round(mi_reg, 4), "identity": round(mi_id, 4)}
        if mi_reg <= mi_id:
            pre = pre_id
            info["pre_contrast_registration_rejected"] = True
    return pre


def _viable_in(m: NDArray[np.bool_], lab: NDArray[Any], art_s: NDArray[np.float32], pre_s: NDArray[np.float32] | None,
               lipiodol: NDArray[np.bool_], liv: NDArray[np.bool_] | None, sp: tuple[float, float, float],
               vox_mm3: float, rim_el: NDArray[np.bool_] | None, p: ViableParams,
               name: str) -> tuple[NDArray[np.bool_], float]:
    """One lesion's viable voxels (steps 2-6 on its box: ``m`` the lesion, ``lab`` every lesion,
    ``art_s`` / ``pre_s`` the smoothed phases, ``lipiodol`` the dense deposits with their margin,
    ``liv`` the liver) and the parenchyma's arterial value its enhancement is read against; ``name``
    names the lesion in the error when no parenchyma lies around it."""
    from scipy import ndimage as ndi

    from . import _kernels
    from ._morph import within_mm, within_mm_runs

    if within_mm_runs(sp, p.ring_outer_mm) <= _RING_DILATION_MAX_RUNS:
        # the same voxels as the distance transform below, as two dilations (within_mm): ~2x
        # less CPU on a 512 x 512 study's lesion box
        ring = within_mm(m, sp, p.ring_outer_mm) & ~within_mm(m, sp, p.ring_inner_mm) & (lab == 0)
    else:
        d_out = _kernels.distance_transform_edt(~m, sp)
        ring = (d_out > p.ring_inner_mm) & (d_out <= p.ring_outer_mm) & (lab == 0)
    if liv is not None:
        ring &= liv
    ring &= ~lipiodol
    if not ring.any():
        raise SegmentationError(
            f"{name}: no liver parenchyma found within "
            f"{p.ring_outer_mm} mm around it to compare enhancement with. Pass a liver mask that covers it "
            "(liver=) or increase ViableParams.ring_outer_mm."
        )
    liver_hu = float(np.median(art_s[ring]))
    enh = m & (art_s - liver_hu >= p.enhancement_vs_liver_hu) & ~lipiodol
    if pre_s is not None:
        enh &= art_s - pre_s >= p.enhancement_vs_pre_hu
    if rim_el is not None and enh.any():
        enh = remove_rim(enh, m, rim_el)
    if p.grow_distance_mm > 0 and enh.any():  # step 5b: into the blurred edge (._viable_grow)
        edge = m & (art_s - liver_hu >= p.grow_enhancement_vs_liver_hu) & ~lipiodol
        if pre_s is not None:
            edge &= art_s - pre_s >= p.enhancement_vs_pre_hu
        enh = grow_into_edge(enh, edge, sp, p.grow_distance_mm)
    if enh.any() and p.min_volume_mm3 > 0:
        cc, n = ndi.label(enh)
        sizes = np.bincount(cc.ravel())
        keep = np.zeros(n + 1, bool)
        keep[1:] = sizes[1:] * vox_mm3 >= p.min_volume_mm3
        enh = keep[cc]
    return enh, liver_hu


def viable_mask(
    lesion: LabelVolume,
    arterial: Volume,
    *,
    pre_contrast: Volume | None = None,
    portal_venous: Volume | None = None,
    liver: LabelVolume | None = None,
    params: ViableParams | None = None,
) -> LabelVolume:
    """Viable (arterially enhancing) part of every lesion in ``lesion``.

    Parameters
    ----------
    lesion : LabelVolume
        Whole-lesion map (one label per lesion).
    arterial : Volume
        Arterial-phase CT (HU), same frame of reference.
    pre_contrast : Volume, optional
        Unenhanced CT: enables the arterial - pre test and the lipiodol test on unenhanced data.
        Aligned to the arterial phase (a local translation, see step 3) unless
        ``params.register_pre_contrast`` is False.
    portal_venous : Volume, optional
        Used for the lipiodol test when there is no pre-contrast (dense on every phase).
    liver : LabelVolume, optional
        Liver mask: the parenchyma reference is sampled inside it.
    params : ViableParams, optional

    Returns
    -------
    LabelVolume
        Same grid, label values and names as ``lesion``; viable voxels only.  Provenance in
        ``meta`` (algorithm, version, parameters, per-lesion liver reference HU).

    Raises
    ------
    GeometryMismatchError
        Frames of reference differ (an image's or the liver mask's from the lesion map's).
    SegmentationError
        No parenchyma around a lesion to compare with; NaN or infinite voxels in a phase where it is
        read (around the lesions: the parenchyma ring, the lipiodol margin and the smoothing's reach;
        with a registered pre-contrast phase, the boxes its alignment reads); the error names the
        phase.  Replace them (e.g. with -1024 HU) and save the image again.
    """
    from scipy import ndimage as ndi

    from . import _kernels
    from ._morph import ball

    p = _checked_params(lesion, arterial, pre_contrast, portal_venous, params, liver)
    out = np.zeros(lesion.shape, dtype=lesion.array.dtype)
    info: dict[str, Any] = {"algorithm": ALGORITHM_NAME, "version": C.ALGORITHM_VERSION, "parameters": asdict(p), "lesions": {}}
    crop = crop_geometry(lesion, p.roi_margin_mm)
    if crop is None:
        return lesion.with_array(out)
    geom, sl = crop
    lab_roi = np.asarray(lesion.array[sl])
    sp = geom.spacing
    spa = np.asarray(sp, float)
    roi_shape = np.asarray(geom.shape)
    sig = gaussian_sigma_vox(p.smoothing_sigma_mm, sp)
    # Every per-voxel step happens in boxes inside the ROI, each padded by what the next step
    # needs, so the result equals that of the same steps over the whole ROI:
    #   A: the lesions plus the ring (ring_outer_mm) - liver reference, enhancement, rim, islands;
    #   L: A plus the lipiodol margin (dilation reaches into A from there);
    #   S: L plus the Gaussian kernel radius (smoothing is exact on L).
    bb = bbox(lab_roi != 0)
    if bb is None:  # (the ROI was cut around the lesions: not reached)
        return lesion.with_array(out)

    def grow(lo: NDArray[np.int64], hi: NDArray[np.int64], pad: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        return np.maximum(lo - pad, 0), np.minimum(hi + pad, roi_shape)

    a_lo, a_hi = grow(bb[0], bb[1], np.ceil(p.ring_outer_mm / spa).astype(np.int64) + 1)
    lip_el = ball(p.lipiodol_margin_mm, sp, min_one_voxel=True) if p.lipiodol_margin_mm > 0 else None
    lip_pad = (np.asarray(lip_el.shape) // 2 if lip_el is not None else np.zeros(3, np.int64)).astype(np.int64)
    l_lo, l_hi = grow(a_lo, a_hi, lip_pad)
    g_pad = np.asarray([int(4.0 * sv + 0.5) for sv in sig], np.int64)  # scipy's radius at truncate=4
    s_lo, s_hi = grow(l_lo, l_hi, g_pad)

    def box(lo: NDArray[np.int64], hi: NDArray[np.int64], within: NDArray[np.int64] | None = None) -> tuple[slice, slice, slice]:
        o = np.zeros(3, np.int64) if within is None else within
        return tuple(slice(int(x - y), int(z - y)) for x, z, y in zip(lo, hi, o, strict=True))  # type: ignore[return-value]

    S_roi = box(s_lo, s_hi)  # S inside the ROI
    L_in_S = box(l_lo, l_hi, s_lo)
    A_in_L = box(a_lo, a_hi, l_lo)
    A_roi = box(a_lo, a_hi)

    def smooth_L(x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Gaussian-smoothed values on L of an image given on the ROI."""
        # scipy's gaussian_filter(mode="nearest"), compiled (bit for bit) for float32 values
        return _kernels.gaussian_filter_nearest(np.ascontiguousarray(x[S_roi]), tuple(sig))[L_in_S]  # type: ignore[no-any-return]

    reach_s_mm = p.ring_outer_mm + p.lipiodol_margin_mm + 4.0 * p.smoothing_sigma_mm  # what box S reads

    def finite_on_S(x: NDArray[np.float32], name: str, vol: Volume) -> NDArray[np.float32]:
        """``x`` (``vol`` on the ROI), refused when it holds NaN or infinite values where steps 1-6 read it."""
        _refuse_non_finite(x[S_roi], s_lo, geom, name, vol, lesion, reach_s_mm)
        return x

    registered = pre_contrast is not None and p.register_pre_contrast
    art = on_grid(arterial, geom)
    if registered:  # the pre-contrast's translation search reads the arterial phase over the whole ROI
        _refuse_non_finite(art, np.zeros(3, np.int64), geom, "arterial", arterial, lesion, p.roi_margin_mm)
    art_s = smooth_L(finite_on_S(art, "arterial", arterial))
    liv = None
    if liver is not None:
        lv = liver if liver.geometry.equals(lesion.geometry) else liver.resample_to(lesion)
        liv = np.asarray(lv.array[sl][A_roi] != 0)
    pre_s = None
    if pre_contrast is not None:
        pre_s = smooth_L(finite_on_S(_pre_contrast_on(pre_contrast, arterial, art, geom, p, info, lesion),
                                     "pre_contrast", pre_contrast))
    # lipiodol: dense on unenhanced data (or on every phase we have)
    # dense on every post-contrast phase we have is lipiodol too (it neither washes in nor out):
    # this holds even when the pre-contrast series is missing or imperfectly registered
    lipiodol = art_s >= p.lipiodol_min_hu
    if portal_venous is not None:
        pv_s = smooth_L(finite_on_S(on_grid(portal_venous, geom), "portal_venous", portal_venous))
        lipiodol &= pv_s >= p.lipiodol_min_hu
    if pre_s is not None:
        lipiodol |= pre_s >= p.lipiodol_min_hu
    if lipiodol.any() and lip_el is not None:
        lipiodol = ndi.binary_dilation(lipiodol, structure=lip_el)
    lipiodol = lipiodol[A_in_L]
    art_s = art_s[A_in_L]
    if pre_s is not None:
        pre_s = pre_s[A_in_L]
    lab = lab_roi[A_roi]
    rim_el = rim_element(p.rim_max_thickness_mm, p.smoothing_sigma_mm, sp, geom.direction)
    vox_mm3 = geom.voxel_volume_mm3
    out_a = out[sl][A_roi]
    for value in [int(v) for v in np.unique(lab) if v != 0]:
        m = lab == value
        enh, liver_hu = _viable_in(m, lab, art_s, pre_s, lipiodol, liv, sp, vox_mm3, rim_el, p,
                                   f"lesion label {value} ({lesion.labels.get(value, '?')})")
        out_a[enh] = value
        info["lesions"][str(value)] = {
            "liver_arterial_hu": round(liver_hu, 2),
            "viable_voxels": int(enh.sum()),
            "viable_volume_mm3": float(enh.sum() * vox_mm3),
            "lipiodol_voxels": int((lipiodol & m).sum()),
        }
    meta = dict(lesion.meta)
    meta["viable"] = info
    return LabelVolume(
        array=out,
        geometry=lesion.geometry,
        labels=dict(lesion.labels),
        frame_of_reference_uid=lesion.frame_of_reference_uid or arterial.frame_of_reference_uid,
        source_series_instance_uid=arterial.series_instance_uid or lesion.source_series_instance_uid,
        meta=meta,
    )

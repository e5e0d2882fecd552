"""Liver segmentation on contrast CT: classical (default) or TotalSegmentator when present.

Which phase: given a study ({phase: Volume}), the liver is segmented on its best liver phase
(portal venous, else delayed, transitional, late arterial, arterial, early arterial, unenhanced;
``segment_on=`` overrides) among the series in the requested ``phase``'s frame of reference, and
the mask is carried to that phase's grid by geometry (the working-grid mask resampled there,
linear, >= 0.5); ``meta`` says which phase and series it was made on (``phase``,
``segmented_series_instance_uid``) and where it was carried (``carried_to``).

Classical method (:func:`segment_liver`, ``backend="classical"``), on a ~2 mm working grid:

1. Average-shrink the CT to ``work_spacing_mm`` (anti-aliased), Gaussian-smooth
   (``smoothing_sigma_mm``); body = largest component above -300 HU.
2. Liver value: median around ``seed_lps`` when given, else the histogram mode of the body's
   smoothed HU inside the phase's search range (:data:`constants.LIVER_WINDOW_HU_BY_PHASE`).
3. Window = liver value +/- ``half_width_hu``, except on a side where the histogram of step 2
   shows another bulky tissue's peak inside it, resolved from the liver's (a dip between them):
   that bound stops ``neighbour_exclude_k_sigma`` of that tissue's SDs past its peak, at most at
   the dip (``neighbour_*`` parameters; without it the make_study abdomen, 70 HU against a
   110 HU liver, merged with the liver on grids finer than ~2 mm).  Erode by
   ``erosion_radius_mm`` (cuts the bridges to heart, stomach, kidney, spleen); keep the component
   holding the seed, else the largest one on the patient's right (LPS x below the body's
   centre; refused when that pick is under LIVER_MIN_PICK_RATIO of the largest: a speck);
   dilate back inside the window.
   Contrast check (:func:`._liver_contrast._low_contrast`, before the erosion): on a finer histogram (1 HU) of the
   working image smoothed more (LIVER_LOW_CONTRAST_SMOOTHING_MM), the liver's own peak is the
   bulky one that lies mainly on the patient's right (LIVER_SIDE_EXCESS_MIN_RATIO).  When the
   liver value of step 2 is nearer another bulky peak, or the window holds one (unenhanced and
   arterial phases: liver ~15 HU above muscle / bowel, the mode is the soft tissue), the first
   smoothing of the ladder that resolves the liver peak from that tissue gives the image, the
   liver value and the window of this step; when none does, or (unenhanced / arterial) no
   tissue lies mainly on the right, :class:`LowContrastError` names the series and says to use
   the portal-venous phase or the study.  Portal-venous and delayed CT pass the check unchanged.
3b. Extrahepatic IVC (``LiverParams.drop_caudal_ivc``, on; :mod:`._ivc`): caudal to the mask's
   largest axial cross-section, 2-D components of the mask that are vessel-sized, round and
   medial (within LIVER_IVC_MAX_MIDLINE_MM of the body's midline) and that stack into a column
   at least LIVER_IVC_MIN_LENGTH_MM long are the inferior vena cava below the liver (inside the
   window in portal-venous CT) and are removed.
3c. Heart over the dome (``LiverParams.split_heart``, on; :mod:`._dome`): a watershed of the depth
   of the tissue at or above the window's lower bound, from liver markers (the mask's voxels
   deeper than LIVER_HEART_LIVER_MARKER_MM inside it: thicker than a myocardium) and heart markers
   (blood above the window's top, cranial to the liver's largest slice, deeper than
   LIVER_HEART_MARKER_DEPTH_MM); the mask's voxels the heart's markers flood are removed, and
   step 5 never takes them as a tumour piece (it put most of them back on IRCAD17).  Does
   nothing without a heart marker (scan below the heart; arterial-phase blood above
   LIVER_HEART_TISSUE_MAX_HU).  Shaped while looking at IRCAD17 (docs/validation.md section 5).
4. Close with ``closing_radius_mm`` and fill holes (3-D, then per slice) so intrahepatic vessels
   and lesions are inside the liver, as in expert masks.
5. Tumour inclusion (``LiverParams.include_tumours``, on): a tumour at the capsule, wider than
   any closing, with a necrotic core (e.g. 10-40 HU) is left out by the window.  Soft tissue
   outside the mask (from -30 HU, above fat, up to the window's top) is cut into pieces at
   bridges thinner than 2 x ``erosion_radius_mm``; a piece joins the liver when >= 25 % of its
   border lies on the liver, the liver holds >= half of the border it has on tissue (fat, lung
   and air do not count: a capsular tumour meets them), its median is not above the parenchyma
   value (not blood) and it is smaller than the liver.  ``include_lps=`` points add the piece
   under each point whatever the test says (e.g. a lesion click).  Of every piece, only the
   voxels nearer the liver than the eroded core of any other tissue are added (a piece can hold
   the band between a tumour and the heart).  The mask is closed and filled again around the
   added pieces (:mod:`._liver_tumours`).  Rationale of each number in :mod:`.constants`.
6. Dark edges (``LiverParams.refine_dark_edges``, on; :func:`_refine_dark_edges`): where the
   mask borders tissue darker than the window (fat, fluid, lung, air: the minimum of the lightly
   smoothed working image over an outside voxel's face neighbours lies >= 40 HU below the
   window's lower bound), outside voxels within one working voxel take the liver fraction
   (v - D) / (L - D) instead of 0, so that the >= 0.5 of step 7 puts the border at the
   half-maximum level between the liver and that tissue (the 50 % partial-volume surface of
   expert masks) instead of at the window's bound, which lies inside it there.  Borders on
   brighter or similar tissue (vessels, muscle, diaphragm, other organs) are left alone; the
   step only adds.
6b. Tumour rim (part of step 6; :func:`._liver_rim.hypodense_rim`): where a hypodense tumour in
   the mask (below the window, deeper than 4 mm inside it, >= 1 ml) comes within 9 mm of the
   border, outside voxels up to 5 mm from the mask with dark tissue (lung, fat) within 3 mm take
   the same fraction: the tumour's capsular rim between the window's border and the lung, which
   is darker than the window and too thin to be a tumour piece.  Shaped on 3D-IRCADb 17
   (docs/validation.md 2.3, "Step 6b").  Away from such tumours nothing changes.
7. Map back to the image grid (linear on the mask fraction, >= 0.5).

Optional AI backend: ``backend="totalsegmentator"`` runs TotalSegmentator (Wasserthal et al.,
Radiol Artif Intell 2023;5:e230024) only when the package is importable **and** its weights are
already on disk; nothing is ever downloaded.  ``backend="auto"`` uses it when available and
falls back to the classical method otherwise.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..volume import Geometry, LabelVolume, Phase, Volume
from . import _kernels
from . import constants as C
from ._dome import split_heart
from ._ivc import drop_caudal_ivc
from ._liver_contrast import _low_contrast, _window
from ._liver_rim import hypodense_rim
from ._liver_tumours import _include_pieces
from ._morph import ball, bbox, closing_mm, fill_holes, largest_component, pad_box
from ._liver_check import check_liver_found
from .errors import BackendUnavailableError, SegmentationError

__all__ = ["LiverParams", "segment_liver", "totalsegmentator_weights_dir", "ALGORITHM_NAME"]

log = logging.getLogger(__name__)

ALGORITHM_NAME = "hcc_imaging.segment.liver.classical_window_morphology"
_BACKENDS = ("classical", "totalsegmentator", "auto")
#: Order in which phases are preferred for the liver (best parenchyma contrast first).
_PHASE_PREFERENCE = (Phase.PORTAL_VENOUS, Phase.DELAYED, Phase.TRANSITIONAL, Phase.ARTERIAL_LATE,
                     Phase.ARTERIAL, Phase.ARTERIAL_EARLY, Phase.PRE_CONTRAST, Phase.HEPATOBILIARY, Phase.UNKNOWN)


@dataclass(frozen=True, slots=True)
class LiverParams:
    """Parameters of the classical liver method (defaults and sources in :mod:`.constants`)."""

    work_spacing_mm: tuple[float, float, float] = C.LIVER_WORK_SPACING_MM
    smoothing_sigma_mm: float = C.LIVER_SMOOTHING_SIGMA_MM
    half_width_hu: float = C.LIVER_HALF_WIDTH_HU
    erosion_radius_mm: float = C.LIVER_EROSION_RADIUS_MM
    closing_radius_mm: float = C.LIVER_CLOSING_RADIUS_MM
    body_min_hu: float = C.LIVER_BODY_MIN_HU
    search_range_hu: tuple[float, float] | None = None
    include_tumours: bool = True
    refine_dark_edges: bool = True
    drop_caudal_ivc: bool = True
    split_heart: bool = True
    tumour_min_hu: float = C.LIVER_TUMOUR_MIN_HU
    tumour_min_liver_contact: float = C.LIVER_TUMOUR_MIN_LIVER_CONTACT
    tumour_min_liver_share: float = C.LIVER_TUMOUR_MIN_LIVER_SHARE
    tumour_max_volume_ratio: float = C.LIVER_TUMOUR_MAX_VOLUME_RATIO
    neighbour_peak_min_ratio: float = C.LIVER_NEIGHBOUR_PEAK_MIN_RATIO
    neighbour_valley_max_ratio: float = C.LIVER_NEIGHBOUR_VALLEY_MAX_RATIO
    neighbour_exclude_k_sigma: float = C.LIVER_NEIGHBOUR_EXCLUDE_K_SIGMA

    def __post_init__(self) -> None:
        if any(s <= 0 for s in self.work_spacing_mm) or self.half_width_hu <= 0 or self.erosion_radius_mm < 0:
            raise SegmentationError(
                "LiverParams: work_spacing_mm and half_width_hu must be > 0 and erosion_radius_mm >= 0, got "
                f"{self.work_spacing_mm}, {self.half_width_hu}, {self.erosion_radius_mm}."
            )
        if not (0.0 <= self.tumour_min_liver_contact <= 1.0 and 0.0 <= self.tumour_min_liver_share <= 1.0
                and self.tumour_max_volume_ratio > 0):
            raise SegmentationError(
                "LiverParams: tumour_min_liver_contact and tumour_min_liver_share are shares in [0, 1] and "
                f"tumour_max_volume_ratio must be > 0, got {self.tumour_min_liver_contact}, "
                f"{self.tumour_min_liver_share}, {self.tumour_max_volume_ratio}."
            )
        if not (self.neighbour_peak_min_ratio > 0 and 0.0 <= self.neighbour_valley_max_ratio <= 1.0
                and self.neighbour_exclude_k_sigma >= 0):
            raise SegmentationError(
                "LiverParams: neighbour_peak_min_ratio must be > 0 (inf: never split the window), "
                "neighbour_valley_max_ratio a share in [0, 1] and neighbour_exclude_k_sigma >= 0, got "
                f"{self.neighbour_peak_min_ratio}, {self.neighbour_valley_max_ratio}, {self.neighbour_exclude_k_sigma}."
            )


def totalsegmentator_weights_dir() -> Path:
    """Where TotalSegmentator keeps its weights (``TOTALSEG_WEIGHTS_PATH``, else
    ``TOTALSEG_HOME_DIR/nnunet/results``, else ``~/.totalsegmentator/nnunet/results``)."""
    if os.environ.get("TOTALSEG_WEIGHTS_PATH"):
        return Path(os.environ["TOTALSEG_WEIGHTS_PATH"])
    home = Path(os.environ.get("TOTALSEG_HOME_DIR", Path.home() / ".totalsegmentator"))
    return home / "nnunet" / "results"


def _totalsegmentator_available() -> tuple[bool, str]:
    if importlib.util.find_spec("totalsegmentator") is None:
        return False, (
            "the TotalSegmentator backend needs the package 'TotalSegmentator', which is not installed. "
            "Install it (pip install TotalSegmentator) and download its weights once with "
            "`totalseg_download_weights -t total`, or use backend='classical'."
        )
    wdir = totalsegmentator_weights_dir()
    organs = list(wdir.glob("Dataset*organs*")) if wdir.is_dir() else []
    if not organs:
        return False, (
            f"TotalSegmentator is installed but its organ weights are not in {wdir}; hcc_imaging never downloads "
            "weights. Run `totalseg_download_weights -t total` once (or set TOTALSEG_WEIGHTS_PATH), or use "
            "backend='classical'."
        )
    return True, str(wdir)


def _segment_totalsegmentator(vol: Volume) -> LabelVolume:  # pragma: no cover - needs weights
    from totalsegmentator.python_api import totalsegmentator  # type: ignore[import-not-found]

    from ..io.masks import load_mask

    with tempfile.TemporaryDirectory(prefix="hcc_totalseg_") as tmp:
        img = Path(tmp) / "ct.nii.gz"
        from .._atomic import write_itk_image

        write_itk_image(vol.to_sitk(), img)  # (checked: a full temporary disk is an error, not a blank CT)
        out = Path(tmp) / "seg"
        totalsegmentator(str(img), str(out), roi_subset=["liver"], quiet=True)
        lv = load_mask(out / "liver.nii.gz", vol, label_names={1: "liver"})
    return LabelVolume.like(vol, (lv.array != 0).astype(np.uint8), labels={1: "liver"},
                            meta={"algorithm": "TotalSegmentator", "backend": "totalsegmentator"})


def _pick_source(volume: Volume | Mapping[Phase | str, Volume], phase: Phase | str | None,
                 segment_on: Phase | str | None) -> tuple[Volume, Volume]:
    """(volume to segment on, volume whose grid the mask is returned on).

    A single Volume is both.  In a phase mapping the target is ``phase`` (else the segmented
    one); the liver is segmented on ``segment_on`` when given, else on the first phase of
    :data:`_PHASE_PREFERENCE` (best parenchyma contrast first) that shares the target's frame of
    reference (equal FrameOfReferenceUID, or both unset), so that the mask can be carried to the
    target's grid by geometry alone (no registration)."""
    if isinstance(volume, Volume):
        return volume, volume
    phases = {Phase(k): v for k, v in volume.items()}
    if not phases:
        raise SegmentationError("segment_liver got an empty phase mapping; pass a Volume or {phase: Volume}.")

    def get(ph_: Phase | str, what: str) -> Volume:
        ph = Phase(ph_)
        if ph not in phases:
            raise SegmentationError(f"{what} {str(ph)!r} not among the given phases {[str(k) for k in phases]}.")
        return phases[ph]

    target = get(phase, "phase") if phase is not None else None
    if segment_on is not None:
        src = get(segment_on, "segment_on phase")
        if target is not None and src.frame_of_reference_uid != target.frame_of_reference_uid:
            raise SegmentationError(
                f"segment_on={str(Phase(segment_on))!r} (frame of reference {src.frame_of_reference_uid}) and "
                f"phase={str(Phase(phase))!r} (frame of reference {target.frame_of_reference_uid}) are not in "  # type: ignore[arg-type]
                "one frame of reference: a liver mask cannot be carried between them by geometry; register them "
                "first (hcc_imaging.segment.register_volumes) or segment on the phase itself."
            )
        return src, target if target is not None else src
    same = {k: v for k, v in phases.items()
            if target is None or v.frame_of_reference_uid == target.frame_of_reference_uid}
    src = next((same[ph] for ph in _PHASE_PREFERENCE if ph in same), next(iter(same.values())))
    return src, target if target is not None else src


def _shrink(vol: Volume, work_mm: tuple[float, float, float]) -> tuple[NDArray[np.float32], Geometry]:
    """Block-average the volume to about ``work_mm`` (integer factors, >= 1 per axis)."""
    import SimpleITK as sitk

    f = [max(1, int(round(w / s))) for w, s in zip(work_mm, vol.spacing, strict=True)]
    img = sitk.Cast(vol.to_sitk(), sitk.sitkFloat32)
    small = sitk.BinShrink(img, [f[2], f[1], f[0]])
    arr = sitk.GetArrayFromImage(small).astype(np.float32)
    d_itk = np.asarray(small.GetDirection(), float).reshape(3, 3)
    geom = Geometry(shape=arr.shape, spacing=tuple(small.GetSpacing())[::-1], origin=tuple(small.GetOrigin()),  # type: ignore[arg-type]
                    direction=d_itk[:, ::-1])
    return arr, geom


def _mode_hu(values: NDArray[np.float32], lo: float, hi: float) -> float | None:
    sel = values[(values >= lo) & (values <= hi)]
    if sel.size < 100:
        return None
    hist, edges = np.histogram(sel, bins=max(int(hi - lo) // 2, 10), range=(lo, hi))
    from scipy import ndimage as ndi

    hist_s = ndi.gaussian_filter1d(hist.astype(float), 2.0)
    i = int(np.argmax(hist_s))
    return float(0.5 * (edges[i] + edges[i + 1]))


def _refine_dark_edges(liver: NDArray[np.bool_], small: NDArray[np.float32], sp: tuple[float, float, float],
                       liver_hu: float, win_lo: float) -> tuple[NDArray[np.float32], int, int]:
    """Working-grid mask fraction with the border moved to the half-maximum level where the liver
    meets tissue darker than the window (fat, fluid, lung, air) -> (fraction, band voxels changed,
    step 6b's tumour-rim voxels changed).

    ``small`` is the block-averaged (not yet smoothed) working image; it is smoothed lightly
    (LIVER_EDGE_SMOOTHING_SIGMA_MM) to v.  Band: the outside voxels within LIVER_EDGE_REACH_MM
    of the mask (at least its face neighbours on every axis).  D, per band voxel, is the minimum
    of v over itself and the outside voxels within LIVER_EDGE_DARK_SAMPLE_MM (at least the face
    neighbours); where D lies at least LIVER_EDGE_DARK_BELOW_WINDOW_HU below the window's lower
    bound, the band voxel's fraction is (v - D) / (L - D), clipped to [0, 1], with L the liver
    value.  Elsewhere the mask stays
    binary, and no voxel of the mask is removed.  The linear resampling to the CT grid (>= 0.5)
    then puts the border where v is half-way between L and D, the 50 % partial-volume surface of
    expert masks.  L is the global liver value (not a local one).  Step 6b
    (:func:`._liver_rim.hypodense_rim`) gives the same fraction to the outside voxels of a
    hypodense tumour's capsular rim in front of dark tissue, up to LIVER_RIM_REACH_MM out."""
    from scipy import ndimage as ndi

    frac = liver.astype(np.float32)
    bb = bbox(liver)
    if bb is None:
        return frac, 0, 0
    reach = max(C.LIVER_EDGE_REACH_MM, C.LIVER_RIM_REACH_MM)
    sample = max(C.LIVER_EDGE_DARK_SAMPLE_MM, C.LIVER_RIM_DARK_SAMPLE_MM)
    sig = C.LIVER_EDGE_SMOOTHING_SIGMA_MM
    spa = np.asarray(sp, float)
    box = pad_box(bb[0], bb[1], np.ceil((reach + sample + 3.0 * sig) / spa).astype(int) + 1, liver.shape)
    m = liver[box]
    v = ndi.gaussian_filter(small[box].astype(np.float32), [sig / s for s in sp], mode="nearest")
    outside = ~m
    # at least the face neighbours on every axis, whatever the working grid
    band = outside & ndi.binary_dilation(m, structure=ball(C.LIVER_EDGE_REACH_MM, sp, min_one_voxel=True))
    fp = ball(C.LIVER_EDGE_DARK_SAMPLE_MM, sp, min_one_voxel=True)
    dark_v = ndi.minimum_filter(np.where(outside, v, np.float32(np.inf)), footprint=fp, mode="nearest")
    sel = band & (dark_v <= win_lo - C.LIVER_EDGE_DARK_BELOW_WINDOW_HU)
    sub = frac[box]
    # step 6b: a hypodense tumour's capsular rim in front of the lung (._liver_rim)
    rim, d_rim = hypodense_rim(m, v, sp, win_lo, sel)
    for s_, d in ((sel, dark_v[sel]), (rim, d_rim)):
        sub[s_] = np.clip((v[s_] - d) / np.maximum(liver_hu - d, 1.0), 0.0, 1.0)
    frac[box] = sub
    return frac, int(sel.sum()), int(rim.sum())


def _work_points(geom: Geometry, vol: Volume, include_lps: ArrayLike | None,
                 seed_lps: ArrayLike | None) -> tuple[list[tuple[int, ...]], tuple[int, ...] | None]:
    """``include_lps`` and ``seed_lps`` as voxels of the work grid ``geom``, each checked to lie in it
    (``SegmentationError`` naming the point and the series)."""
    include_idx: list[tuple[int, ...]] = []
    for q in ([] if include_lps is None else np.asarray(include_lps, float).reshape(-1, 3)):
        qi = tuple(int(v) for v in np.rint(geom.lps_to_index(q)))
        if any(i < 0 or i >= n for i, n in zip(qi, geom.shape, strict=True)):
            raise SegmentationError(f"include_lps point {tuple(np.round(q, 1).tolist())} mm lies outside the image "
                                    f"(series {vol.series_instance_uid or '?'}, shape {vol.shape}); pass "
                                    "points inside the series the liver is segmented on.")
        include_idx.append(qi)
    seed_idx = None
    if seed_lps is not None:
        seed_idx = tuple(int(v) for v in np.rint(geom.lps_to_index(np.asarray(seed_lps, float))))
        if any(i < 0 or i >= n for i, n in zip(seed_idx, geom.shape, strict=True)):
            raise SegmentationError(f"liver seed {tuple(np.round(np.asarray(seed_lps, float), 1).tolist())} mm lies "
                                    f"outside the image (series {vol.series_instance_uid or '?'}, shape {vol.shape}).")
    return include_idx, seed_idx


def _right_side(body: NDArray[np.bool_], geom: Geometry) -> NDArray[np.bool_]:
    """The patient's right half of the work grid (LPS x below the body's median x): the liver's side."""
    sp = geom.spacing
    xs = geom.index_to_lps(np.argwhere(body)[:: max(1, int(body.sum()) // 200_000)])[:, 0]
    x_mid = float(np.median(xs))
    kk, jj, ii = np.indices(geom.shape, sparse=True)
    x_all = (geom.origin[0] + geom.direction[0, 0] * sp[0] * kk + geom.direction[0, 1] * sp[1] * jj
             + geom.direction[0, 2] * sp[2] * ii)
    return x_all < x_mid  # type: ignore[no-any-return]


def _liver_value(sm: NDArray[np.float32], right_hu: NDArray[np.float32], seed_idx: tuple[int, ...] | None,
                 lo_hi: tuple[float, float], geom: Geometry, vol: Volume) -> float:
    """The liver's value (HU): the median of the smoothed image within 5 mm of the seed, else the
    histogram mode of the body's right half within ``lo_hi`` (``SegmentationError`` when there is none)."""
    if seed_idx is not None:
        el = ball(5.0, geom.spacing, min_one_voxel=True)
        r = np.array(el.shape) // 2
        s = np.asarray(seed_idx)
        lo = np.maximum(s - r, 0)
        hi = np.minimum(s + r + 1, geom.shape)
        return float(np.median(sm[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]))
    mode = _mode_hu(right_hu, *lo_hi)
    if mode is None:
        raise SegmentationError(
            f"no liver-like tissue in {lo_hi} HU for phase {vol.phase} (series {vol.series_instance_uid or '?'}). "
            "Pass seed_lps= (a point in the liver) or LiverParams(search_range_hu=(lo, hi))."
        )
    return mode


def _pick_component(lab: NDArray[np.int32], n: int, body: NDArray[np.bool_], geom: Geometry,
                    seed_idx: tuple[int, ...] | None, window: tuple[float, float], vol: Volume) -> int:
    """The label of the liver among the eroded window's ``n`` components ``lab``: the seed's, else
    the largest of the five largest whose centroid lies on the patient's right (else the largest);
    ``SegmentationError`` when that one is under ``LIVER_MIN_PICK_RATIO`` of the largest (the window
    has merged the liver with a neighbour across the body's centre)."""
    from scipy import ndimage as ndi

    if seed_idx is not None and lab[seed_idx] > 0:
        return int(lab[seed_idx])
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    xs_c = ndi.center_of_mass(np.ones_like(lab), lab, index=np.arange(1, n + 1))
    order = np.argsort(counts[1:])[::-1] + 1
    body_x = float(np.median(geom.index_to_lps(np.argwhere(body)[:: max(1, int(body.sum()) // 100_000)])[:, 0]))
    pick = next((int(c) for c in order[:5] if geom.index_to_lps(np.asarray(xs_c[c - 1], float))[0] < body_x),
                int(order[0]))
    if counts[pick] < C.LIVER_MIN_PICK_RATIO * counts[order[0]]:
        wv = float(np.prod(geom.spacing)) / 1000.0
        raise SegmentationError(
            f"liver segmentation of series {vol.series_instance_uid or '?'}: "
            f"the largest candidate on the patient's right holds only {counts[pick] * wv:.1f} mL against "
            f"{counts[order[0]] * wv:.0f} mL for the largest candidate, which lies across the body's centre: "
            f"the liver window {window[0]:.0f}-{window[1]:.0f} HU has most likely merged the liver with a "
            "neighbouring tissue. Pass seed_lps= a point inside the liver, or narrow LiverParams.half_width_hu."
        )
    return pick


def segment_liver(
    volume: Volume | Mapping[Phase | str, Volume],
    *,
    backend: str = "classical",
    phase: Phase | str | None = None,
    segment_on: Phase | str | None = None,
    seed_lps: ArrayLike | None = None,
    include_lps: ArrayLike | None = None,
    params: LiverParams | None = None,
) -> LabelVolume:
    """Segment the liver (label 1, ``"liver"``), including intrahepatic lesions and vessels.

    Parameters
    ----------
    volume : Volume or mapping Phase -> Volume
        Contrast CT (HU).  With several phases (one study, one frame of reference) the liver is
        segmented on the phase with the best liver contrast (portal venous, else delayed, else
        transitional, late arterial, arterial, early arterial, unenhanced) and the mask is returned
        on the grid of ``phase`` (default: the phase segmented on), carried there by geometry.
    phase : Phase or str, optional
        With a mapping: the phase whose grid the mask is returned on.
    segment_on : Phase or str, optional
        With a mapping: segment on this phase instead of the best one (same frame of reference
        as ``phase``).
    backend : {"classical", "totalsegmentator", "auto"}
        "totalsegmentator" needs the package and its weights on disk (never downloaded);
        "auto" uses it when available, else the classical method.
    seed_lps : 3 floats, mm, optional
        A point inside the liver: sets the liver value and picks the component.
    include_lps : (n, 3) floats, mm, optional
        Points on lesions that belong to the liver (e.g. lesion clicks): the soft-tissue piece
        under each point is added even when the automatic tumour-inclusion test rejects it (or
        is off), unless that piece is larger than the liver.
    params : LiverParams, optional

    Returns
    -------
    LabelVolume
        On the grid of the volume used; provenance in ``meta``.

    Raises
    ------
    BackendUnavailableError
        ``backend="totalsegmentator"`` without the package or its weights.
    LowContrastError
        A single low-contrast phase (e.g. unenhanced or arterial) on which the liver's histogram
        peak is not resolved from the neighbouring soft tissue's: the message names the series
        and says to pass the portal-venous phase or the study.
    SegmentationError
        No liver-like tissue found.
    """
    t0 = time.perf_counter()
    if backend not in _BACKENDS:
        raise SegmentationError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
    vol, target = _pick_source(volume, phase, segment_on)
    from ..volume import Modality

    if backend == "classical" and vol.modality != Modality.CT:
        raise SegmentationError(
            f"the classical liver method works on CT Hounsfield units; series {vol.series_instance_uid or '?'} is "
            f"{vol.modality}. Use backend='totalsegmentator' (with its MR task installed) or supply a liver mask."
        )
    if backend in ("totalsegmentator", "auto"):
        ok, why = _totalsegmentator_available()
        if ok:
            ts = _segment_totalsegmentator(vol)  # pragma: no cover - needs weights
            return ts if target is vol else ts.resample_to(target)  # pragma: no cover
        if backend == "totalsegmentator":
            raise BackendUnavailableError(why)
        log.info("TotalSegmentator unavailable (%s); using the classical liver method", why)
    p = params or LiverParams()
    from scipy import ndimage as ndi

    small, geom = _shrink(vol, p.work_spacing_mm)
    sp = geom.spacing
    sm = ndi.gaussian_filter(small, [p.smoothing_sigma_mm / s for s in sp], mode="nearest")
    body = largest_component(sm > p.body_min_hu)
    if not body.any():
        raise SegmentationError(
            f"no body found above {p.body_min_hu} HU in series {vol.series_instance_uid or '?'}; is this CT in HU?"
        )
    include_idx, seed_idx = _work_points(geom, vol, include_lps, seed_lps)
    lo_hi = p.search_range_hu or C.LIVER_WINDOW_HU_BY_PHASE.get(str(vol.phase), C.LIVER_WINDOW_HU_BY_PHASE["unknown"])
    right = _right_side(body, geom)
    right_hu = sm[body & right]
    liver_hu = _liver_value(sm, right_hu, seed_idx, lo_hi, geom, vol)
    win_lo, win_hi = _window(right_hu, liver_hu, p)
    # contrast check; unenhanced / arterial: stronger smoothing and the liver's own peak, or refuse
    low = _low_contrast(small, body, right, sp, lo_hi, liver_hu, (win_lo, win_hi), seed_idx is not None, p, vol)
    if low is not None:
        sm, liver_hu, (win_lo, win_hi), _ = low
    window = (sm >= win_lo) & (sm <= win_hi) & body
    # Euclidean erosion / dilation through distance transforms (any radius, no big element)
    core = _kernels.distance_transform_edt(window, sp) > p.erosion_radius_mm
    lab, n = ndi.label(core)
    if n == 0:
        raise SegmentationError(
            f"the liver window {win_lo:.0f}-{win_hi:.0f} HU (liver {liver_hu:.0f} HU) leaves nothing after a "
            f"{p.erosion_radius_mm} mm erosion; lower LiverParams.erosion_radius_mm or widen half_width_hu."
        )
    liver = lab == _pick_component(lab, n, body, geom, seed_idx, (win_lo, win_hi), vol)
    liver = (_kernels.distance_transform_edt(~liver, sp) <= p.erosion_radius_mm) & window
    liver = largest_component(liver)
    n_ivc = 0
    if p.drop_caudal_ivc:
        liver, n_ivc = drop_caudal_ivc(liver, body, geom)
    n_heart, heart = 0, None
    if p.split_heart:
        cut = split_heart(liver, sm, body, geom, win_lo, win_hi, str(vol.phase), p.closing_radius_mm)
        n_heart = int(liver.sum() - cut.sum())
        heart = (liver & ~cut) if n_heart else None
        liver = cut
    liver = fill_holes(closing_mm(liver, p.closing_radius_mm, sp) & body)
    n_included = 0
    if p.include_tumours or include_idx:
        liver, n_included = _include_pieces(liver, sm, body, sp, liver_hu, win_hi, p, include_idx, heart)
    n_edge = n_rim = 0
    if p.refine_dark_edges:
        frac_arr, n_edge, n_rim = _refine_dark_edges(liver, small, sp, liver_hu, win_lo)
    else:
        frac_arr = liver.astype(np.float32)
    # back to the image grid: linear on the fraction, >= 0.5
    frac = Volume(array=frac_arr, geometry=geom)
    from ..volume import resample_volume

    full = resample_volume(frac, target, interpolation="linear", default_hu=0.0)
    mask = np.asarray(full.array >= 0.5)
    check_liver_found(mask, target, vol)  # (a thigh CT's muscle is no liver)
    info: dict[str, Any] = {
        "algorithm": ALGORITHM_NAME,
        "version": C.ALGORITHM_VERSION,
        "backend": "classical",
        "parameters": asdict(p),
        "phase": str(vol.phase),
        "segmented_series_instance_uid": vol.series_instance_uid,
        "liver_hu": round(liver_hu, 1),
        "window_hu": [round(win_lo, 1), round(win_hi, 1)],
        "search_range_hu": list(lo_hi),
        "tumour_pieces_included": n_included,
        "ivc_voxels_removed": n_ivc,
        "heart_voxels_removed": n_heart,
        "dark_edge_voxels": n_edge,
        "tumour_rim_voxels": n_rim,
        "low_contrast": None if low is None else low[3],
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }
    if target is not vol:
        info["carried_to"] = {"phase": str(target.phase), "series_instance_uid": target.series_instance_uid,
                              "how": "same frame of reference: work-grid mask resampled by geometry (linear, >= 0.5)"}
    return LabelVolume.like(target, mask.astype(np.uint8), labels={1: "liver"}, meta=info)

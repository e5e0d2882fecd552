"""Contrast phase of a series: from tags first, then from the image.

Evidence, in order of trust (the first that speaks decides; its confidence says how much):

1. **SeriesDescription / ProtocolName keywords** in English, German, French, Spanish, Italian,
   Japanese (romaji and kanji) and vendor shorthand ("ART", "AP", "PV", "PVP", "DELAY", "EQ",
   "NATIVE", "NC", "PRE", "W/O", "C-", "HBP", "20MIN"...).  Longer phrases win over shorter ones
   ("LATE ART" before "ART", "NON CONTRAST" before "CONTRAST"); "PRE-OP", "W/O FS" and a protocol
   "W/WO" (with and without contrast) are no pre-contrast.  A delay of 10-240 min ("20MIN",
   "DELAYED 10 MIN", "90 MIN") is hepatobiliary only on MR with gadoxetate, or with gadobenate from
   60 min (ContrastBolusAgent of the series, or of another series of the study), else delayed;
   with gadoxetate a delay of 2-4 min ("3 MIN") is
   transitional, as by timing; a hepatobiliary keyword ("HBP") on CT is ``unknown`` (a conflict:
   CT has no hepatobiliary phase), and ``delayed`` on MR with a known extracellular agent (the
   reason naming the conflict) (``io/_agents.py``); "2.5 min", "2.5 minutes", "180 s", "2:30 min"
   are read as those delays, unrounded where the phase depends on it (``_phase_minutes``).  Confidence
   :data:`~hcc_imaging.io._constants.KEYWORD_CONFIDENCE` (0.9), or 0.7 for short ambiguous tokens.
2. **Timing**: AcquisitionTime minus ContrastBolusStartTime, against the windows in
   ``io/_constants.py`` (LI-RADS v2018 / EASL 2018): < 30 s early arterial, < 50 s arterial,
   < 120 s portal venous, < 300 s delayed (CT) or transitional (gadoxetate MR), >= 600 s
   hepatobiliary (gadoxetate MR), >= 3600 s hepatobiliary (gadobenate MR).  Confidence 0.75.
3. **Order within the study**: series of the same study and modality sorted by acquisition time;
   without a contrast agent tag before the others -> pre-contrast; contrast series in order ->
   arterial, portal venous, delayed.  Confidence 0.4.
4. **Image** (when a Volume is given): aorta vs portal-vein attenuation
   (:func:`phase_from_image`, rule :func:`phase_from_vessel_hu`), in spherical ROIs at two given
   points (confidence 0.6) or at spots found automatically on axial CT (confidence 0.5).

A localizer (scout), a subtraction series (ImageType SUBTRACTION / SUB, or a description such as
"SUB ART-PRE") or a diffusion-weighted series (a description such as "DWI b800", "ADC", "ep2d_diff")
is ``unknown`` before any of these: none is a contrast phase to measure HU on (and none takes a
place in the order rule).

A ContrastBolusAgent tag alone only says "post-contrast"; without other evidence the phase is
``unknown``.  Every call is overridable: ``load_study(..., phase_overrides={uid: Phase.X})``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..volume import Modality, Phase
from . import _constants as C
from ._agents import (
    exam_agent,
    extracellular_agent,
    hepatobiliary_min_s,
    is_gadoxetate,
    no_hepatobiliary_phase_because,
    no_hepatobiliary_phase_on,
    too_early_for_hepatobiliary,
    transitional_minutes,
)
from ._phase_minutes import delay_read_as, description_delays
from ._phase_keywords import _COMPILED, _HBP_DELAY, _MIN_DELAY, _WITH_AND_WITHOUT  # (the keyword table)

if TYPE_CHECKING:  # pragma: no cover
    from ..volume import Volume

__all__ = [
    "PhaseCall",
    "classify_phase",
    "phase_from_description",
    "phase_from_timing",
    "phase_from_vessel_hu",
    "phase_from_image",
    "dicom_time_to_seconds",
    "roi_mean_hu",
    "has_contrast_agent",
]


@dataclass(frozen=True, slots=True)
class PhaseCall:
    """A contrast-phase decision with its confidence (0..1) and the evidence behind it.

    ``warnings`` flag evidence that contradicts the call without overriding it (the first source
    that speaks decides), e.g. a series described "ARTERIAL" but acquired after the study's series
    described portal venous: check the series, or override its phase.
    """

    phase: Phase
    confidence: float
    reason: str
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (``warnings`` only when there are some)."""
        d: dict[str, Any] = {"phase": self.phase.value, "confidence": self.confidence, "reason": self.reason}
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase(self.phase))
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ValueError(f"PhaseCall confidence must be within 0..1, got {self.confidence!r}.")


UNKNOWN = PhaseCall(Phase.UNKNOWN, 0.0, "no phase evidence in the tags")

_NO_AGENT = frozenset({"", "NONE", "NO", "N", "NIL", "0", "NONE USED", "NO CONTRAST", "KEIN", "AUCUN", "NINGUNO"})


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKD", text)
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = t.upper().replace("Ä", "AE").replace("Ö", "OE").replace("Ü", "UE").replace("ß", "SS")
    # "C-" (non-contrast shorthand, "CT ABD C-") would lose its sign; "C-SPINE", "C-ARM" are no phase
    t = re.sub(r"(?<![0-9A-Z])C-(?![0-9A-Z+])", " C MINUS ", t)
    t = re.sub(r"[^0-9A-Z\u3000-\u9FFF]+", " ", t)
    return f" {t.strip()} "


#: A localizer's description: "Topogram AP", "SCOUT LAT", "Surview" ... ("AP" there is the
#: projection, antero-posterior, not the arterial phase).
_LOCALIZER_WORDS = re.compile(r" (TOPOGRAM\w*|SCOUT\w*|SURVIEW\w*|LOCALI[SZ]ER\w*|SCANOGRAM\w*|SCANO|"
                              r"PILOT|TOPO|PLANNING|SCOUTVIEW|3 ?PLANE LOC|LOC) ")


def _localizer_call(series: Any, desc: str | None, proto: str | None) -> PhaseCall | None:
    """UNKNOWN for a localizer series (every image a localizer by ImageType, or a localizer's
    description): a scout is no contrast phase, and its "AP" is a projection."""
    if _get(series, "is_localizer") is True:
        return PhaseCall(Phase.UNKNOWN, 0.0, "localizer (ImageType LOCALIZER/SCOUT): not a contrast phase")
    for text in (desc, proto):
        if text:
            m = _LOCALIZER_WORDS.search(_normalise(text))
            if m:
                return PhaseCall(Phase.UNKNOWN, 0.0, f"description {text.strip()!r} names a localizer "
                                 f"({m.group(0).strip()!r}): not a contrast phase")
    return None


#: A subtraction's description: "SUB ART-PRE", "ART-PRE SUB", "Subtraktion" ... (its "PRE" is the
#: image subtracted, not the phase of the series).
_SUBTRACTION_WORDS = re.compile(r" (SUB|SUBS|SUBTR|SUBTRACT\w*|SUBTRAKT\w*|SOUSTRA\w*|SOTTRA\w*|SUSTRA\w*) ")


def _subtraction_call(series: Any, desc: str | None, proto: str | None) -> PhaseCall | None:
    """UNKNOWN for a subtraction series (every image SUBTRACTION / SUB by ImageType, or a
    subtraction's description): the difference of two acquisitions (e.g. arterial minus
    pre-contrast) is no contrast phase to measure HU on, and the "PRE" of "SUB ART-PRE" is the image
    subtracted, not the phase."""
    if _get(series, "is_mask") is True:
        return PhaseCall(Phase.UNKNOWN, 0.0, "a mask stored as CT images (8-bit, BitsAllocated 8): not a contrast "
                         "phase")
    if _get(series, "is_subtraction") is True:
        return PhaseCall(Phase.UNKNOWN, 0.0, "subtraction image (ImageType SUBTRACTION/SUB): a difference of two "
                         "acquisitions, not a contrast phase to measure HU on")
    image_type = _get(series, "image_type")
    if isinstance(image_type, (list, tuple)) and C.SUBTRACTION_IMAGE_TYPES.intersection(
            str(v).strip().upper() for v in image_type[2:]):
        joined = "\\".join(map(str, image_type))
        return PhaseCall(Phase.UNKNOWN, 0.0, f"subtraction image (ImageType {joined}): a "
                         "difference of two acquisitions, not a contrast phase to measure HU on")
    for text in (desc, proto):
        if text:
            m = _SUBTRACTION_WORDS.search(_normalise(text))
            if m:
                return PhaseCall(Phase.UNKNOWN, 0.0, f"description {text.strip()!r} names a subtraction "
                                 f"({m.group(0).strip()!r}): a difference of two acquisitions, not a contrast "
                                 "phase to measure HU on")
    return None


#: A diffusion-weighted series' description: "DWI b800", "ep2d_diff", "ADC", "eADC", "TRACEW" ...: a
#: diffusion series is no contrast phase, even when acquired after the agent (gadoxetate MR often puts
#: its DWI between the dynamic phases and the hepatobiliary phase), and its "ART" of "ARTERIAL DWI"
#: is no arterial phase.
_DIFFUSION_WORDS = re.compile(r" (DWI\w*|ADC|EADC|DIFF|DIFFUSION\w*|DIFFUSIO\w*|EP2D ?DIFF\w*|TRACEW|IVIM|DTI) ")


def _diffusion_call(desc: str | None, proto: str | None) -> PhaseCall | None:
    """UNKNOWN for a diffusion-weighted series (its description): not a contrast phase."""
    for text in (desc, proto):
        if text:
            m = _DIFFUSION_WORDS.search(_normalise(text))
            if m:
                return PhaseCall(Phase.UNKNOWN, 0.0, f"description {text.strip()!r} names a diffusion-weighted "
                                 f"series ({m.group(0).strip()!r}): not a contrast phase")
    return None


def phase_from_description(
    *texts: str | None, modality: str | Modality | None = None, agent: str | None = None
) -> PhaseCall | None:
    """Phase from SeriesDescription (and, second, ProtocolName) keywords; None when silent.

    A delay of 10-240 min ("20MIN", "DELAYED 10 MIN") is hepatobiliary only when ``agent``
    (ContrastBolusAgent) names gadoxetate, or gadobenate and the delay is 60 min or more, and
    ``modality`` is not CT; otherwise it is delayed.  With
    gadoxetate on MR a delay of 2-4 min ("3 MIN") is transitional, as :func:`phase_from_timing` says.
    A hepatobiliary keyword ("HBP") on CT is ``unknown``, the reason naming the conflict.

    Examples
    --------
    >>> phase_from_description("Abdomen 3.0 B30f PORTAL VENOUS").phase.value
    'portal_venous'
    >>> phase_from_description("Leber nativ").phase.value
    'pre_contrast'
    """
    for text in texts:
        if not text:
            continue
        whole, delays = description_delays(text)  # ("2.5 min" read "2 5 MIN": 5 min)
        norm = _WITH_AND_WITHOUT.sub(" ", _normalise(whole))
        for rx, phase, short in _COMPILED:
            m = rx.search(norm)
            if m:
                conf = C.SHORT_KEYWORD_CONFIDENCE if short else C.KEYWORD_CONFIDENCE
                word = m.group(0).strip().replace("C MINUS", "C-")  # (the sign kept by _normalise)
                delay = delay_read_as(delays, word) if word.endswith("MIN") else None
                if delay is not None:
                    word = delay.phrase
                why = f"description {text.strip()!r} contains {word!r}"
                if rx.pattern == _MIN_DELAY:
                    if not transitional_minutes(delay.minutes if delay else int(m.group(1)), modality, agent):
                        continue
                    why += ", a delay within gadoxetate's transitional phase (LI-RADS: ~2-5 min after injection)"
                not_hbp = None
                if rx.pattern == _HBP_DELAY:
                    not_hbp = (no_hepatobiliary_phase_because(modality, agent)
                               or too_early_for_hepatobiliary(delay.minutes if delay else int(m.group(1)),
                                                              modality, agent))
                if not_hbp:
                    return PhaseCall(Phase.DELAYED, conf, f"{why}, a delay; {not_hbp}: delayed")
                on_ct = no_hepatobiliary_phase_on(modality) if phase == Phase.HEPATOBILIARY else None
                if on_ct:
                    return PhaseCall(Phase.UNKNOWN, 0.0, f"{why}, hepatobiliary, but {on_ct}: the description and "
                                     "the modality conflict, unknown; check the series, or override its phase")
                other = extracellular_agent(agent) if phase == Phase.HEPATOBILIARY else None
                if other and agent:
                    return PhaseCall(Phase.DELAYED, conf, f"{why}, hepatobiliary, but ContrastBolusAgent "
                                     f"{agent.strip()!r} is {other}, an extracellular agent: it has no hepatobiliary phase (that needs "
                                     "gadoxetate), so the description and the agent conflict: delayed; check the "
                                     "series, or override its phase")
                return PhaseCall(phase, conf, why)
    return None


def dicom_time_to_seconds(value: str | None) -> float | None:
    """Seconds since midnight of a DICOM TM value ``HHMMSS.FFFFFF`` (or ``HH:MM:SS`` legacy); None if empty."""
    if not value:
        return None
    v = value.strip().replace(":", "")
    m = re.match(r"^(\d{2})(\d{2})?(\d{2})?(\.\d+)?$", v)
    if not m:
        return None
    h, mi, s, frac = m.groups()
    return int(h) * 3600 + int(mi or 0) * 60 + int(s or 0) + (float(frac) if frac else 0.0)


def has_contrast_agent(agent: str | None) -> bool:
    """True when ContrastBolusAgent names an agent (not empty, not 'NONE')."""
    return bool(agent) and agent.strip().upper() not in _NO_AGENT  # type: ignore[union-attr]


def phase_from_timing(
    delay_s: float, *, modality: str | Modality | None = None, agent: str | None = None
) -> PhaseCall:
    """Phase from the delay after the start of injection (seconds), per the windows in ``_constants``.

    Transitional only with gadoxetate (``agent``), hepatobiliary only with gadoxetate (from
    ``HEPATOBILIARY_MIN_S``) or gadobenate (from ``HEPATOBILIARY_GADOBENATE_MIN_S``), neither on CT;
    else delayed."""
    mod = str(getattr(modality, "value", modality) or "")
    gadoxetate = is_gadoxetate(agent) and no_hepatobiliary_phase_on(mod) is None
    hbp_from_s = hepatobiliary_min_s(mod, agent)
    if delay_s < 0:
        return PhaseCall(Phase.PRE_CONTRAST, C.TIMING_CONFIDENCE,
                         f"acquired {-delay_s:.0f} s before ContrastBolusStartTime")
    if delay_s < C.ARTERIAL_EARLY_MAX_S:
        ph = Phase.ARTERIAL_EARLY
    elif delay_s < C.ARTERIAL_MAX_S:
        ph = Phase.ARTERIAL_LATE
    elif delay_s < C.PORTAL_VENOUS_MAX_S:
        ph = Phase.PORTAL_VENOUS
    elif delay_s < C.TRANSITIONAL_MAX_S:
        ph = Phase.TRANSITIONAL if gadoxetate else Phase.DELAYED
    elif hbp_from_s is not None and delay_s >= hbp_from_s:
        ph = Phase.HEPATOBILIARY
    else:
        ph = Phase.DELAYED
    return PhaseCall(ph, C.TIMING_CONFIDENCE, f"acquired {delay_s:.0f} s after ContrastBolusStartTime")


def phase_from_vessel_hu(aorta_hu: float, portal_vein_hu: float) -> PhaseCall:
    """Phase of a CT from mean aorta and portal-vein attenuation (HU).

    Rules: both below :data:`VESSEL_ENHANCED_MIN_HU` -> pre-contrast; aorta above
    :data:`AORTA_ARTERIAL_MIN_HU` and aorta/portal ratio above
    :data:`AORTA_TO_PORTAL_ARTERIAL_RATIO` -> arterial; portal vein enhanced and at least as
    bright as ~aorta/ratio -> portal venous (delayed cannot be told from portal venous by these
    two numbers alone; it is reported as portal venous with the reason saying so).
    """
    if not (np.isfinite(aorta_hu) and np.isfinite(portal_vein_hu)):
        raise ValueError(
            f"aorta_hu and portal_vein_hu must be finite numbers, got {aorta_hu!r} and {portal_vein_hu!r}."
        )
    why = f"aorta {aorta_hu:.0f} HU, portal vein {portal_vein_hu:.0f} HU"
    if aorta_hu < C.VESSEL_ENHANCED_MIN_HU and portal_vein_hu < C.VESSEL_ENHANCED_MIN_HU:
        return PhaseCall(Phase.PRE_CONTRAST, C.IMAGE_CONFIDENCE, f"{why}: no vascular enhancement")
    ratio = aorta_hu / max(portal_vein_hu, 1.0)
    if aorta_hu >= C.AORTA_ARTERIAL_MIN_HU and ratio >= C.AORTA_TO_PORTAL_ARTERIAL_RATIO:
        late = portal_vein_hu >= C.VESSEL_ENHANCED_MIN_HU
        return PhaseCall(Phase.ARTERIAL_LATE if late else Phase.ARTERIAL_EARLY, C.IMAGE_CONFIDENCE,
                         f"{why}: aorta much brighter than portal vein"
                         + (" (portal vein starting to enhance: late arterial)" if late else ""))
    if portal_vein_hu >= C.VESSEL_ENHANCED_MIN_HU:
        return PhaseCall(Phase.PORTAL_VENOUS, C.IMAGE_CONFIDENCE,
                         f"{why}: portal vein enhanced as much as the aorta (portal venous or later)")
    return PhaseCall(Phase.UNKNOWN, 0.2, f"{why}: pattern fits no phase")


def roi_mean_hu(volume: Volume, centre_lps: Sequence[float], radius_mm: float = C.VESSEL_ROI_RADIUS_MM) -> float:
    """Mean value of the voxels within ``radius_mm`` of an LPS point (a spherical ROI)."""
    g = volume.geometry
    c = np.asarray(g.lps_to_index(np.asarray(centre_lps, float)), float)
    r_vox = radius_mm / np.asarray(g.spacing)
    lo = np.maximum(np.floor(c - r_vox).astype(int), 0)
    hi = np.minimum(np.ceil(c + r_vox).astype(int) + 1, np.asarray(g.shape))
    if np.any(hi <= lo):
        raise ValueError(
            f"ROI centre {tuple(np.round(np.asarray(centre_lps, float), 1).tolist())} mm lies outside series "
            f"{volume.series_instance_uid}; pass a point inside the volume."
        )
    kk, jj, ii = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij")
    d = np.stack([kk - c[0], jj - c[1], ii - c[2]], axis=-1) * np.asarray(g.spacing)
    inside = np.sum(d * d, axis=-1) <= radius_mm**2
    vals = volume.array[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]][inside]
    if vals.size == 0:
        raise ValueError(f"ROI of radius {radius_mm} mm contains no voxel centre; use a larger radius_mm.")
    return float(vals.mean())


def phase_from_image(
    volume: Volume,
    *,
    aorta_lps: Sequence[float] | None = None,
    portal_vein_lps: Sequence[float] | None = None,
    radius_mm: float = C.VESSEL_ROI_RADIUS_MM,
) -> PhaseCall:
    """Phase of a CT volume from the mean HU of the aorta and the portal vein.

    With ``aorta_lps`` and ``portal_vein_lps`` (a reader's clicks, a vessel segmentation, a
    phantom's truth) the means are taken in spheres of ``radius_mm`` there (confidence
    :data:`IMAGE_CONFIDENCE`).  Without them the vessels are found automatically on axial CT
    (``io/_vessels.py``: spine-anchored search for the brightest homogeneous spots; confidence
    :data:`AUTO_IMAGE_CONFIDENCE`); ``unknown`` when they are not found.  The rule is
    :func:`phase_from_vessel_hu`.
    """
    if volume.modality != Modality.CT:
        return PhaseCall(Phase.UNKNOWN, 0.0,
                         f"image evidence needs CT (HU); this series is {volume.modality.value}")
    if (aorta_lps is None) != (portal_vein_lps is None):
        raise ValueError(
            "phase_from_image needs both aorta_lps and portal_vein_lps, or neither (automatic search)."
        )
    if aorta_lps is None or portal_vein_lps is None:
        from ._vessels import find_vessels

        found = find_vessels(volume)
        if found is None:
            return PhaseCall(Phase.UNKNOWN, 0.0,
                             "image: aorta/portal vein not found (needs an axial CT including the spine)")
        aorta, portal, a_pt, p_pt = found
        call = phase_from_vessel_hu(aorta, portal)
        where = (f"found automatically at {tuple(np.round(a_pt, 1).tolist())} and {tuple(np.round(p_pt, 1).tolist())} mm LPS")
        conf = min(call.confidence, C.AUTO_IMAGE_CONFIDENCE)
        return PhaseCall(call.phase, conf, f"image: {call.reason} ({where})")
    aorta = roi_mean_hu(volume, aorta_lps, radius_mm)
    portal = roi_mean_hu(volume, portal_vein_lps, radius_mm)
    call = phase_from_vessel_hu(aorta, portal)
    return PhaseCall(call.phase, call.confidence, f"image: {call.reason} ({radius_mm:g} mm ROIs)")


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def classify_phase(
    series: Any = None,
    *,
    series_description: str | None = None,
    protocol_name: str | None = None,
    contrast_bolus_agent: str | None = None,
    acquisition_time: str | None = None,
    contrast_bolus_start_time: str | None = None,
    modality: str | Modality | None = None,
    study_series: Sequence[Any] = (),
    volume: Volume | None = None,
    vessel_points_lps: tuple[Sequence[float], Sequence[float]] | None = None,
) -> PhaseCall:
    """Contrast phase of one series, with confidence and reason (see the module docstring).

    Parameters
    ----------
    series : SeriesInfo or Volume or mapping, optional
        Supplies the tag values not given as keywords (attributes ``series_description``,
        ``protocol_name``, ``contrast_bolus_agent``, ``acquisition_time``,
        ``contrast_bolus_start_time``, ``modality``, ``series_instance_uid``).
    study_series : sequence of SeriesInfo
        The other series of the same study, for the ordering rule.
    volume : Volume, optional
        Pixel data for the image rule, used only when the tags are silent.
    vessel_points_lps : (aorta point, portal-vein point), optional
        LPS points (mm) on the aorta and the portal vein for the image rule; without them the
        vessels are searched automatically.

    Returns
    -------
    PhaseCall
    """
    desc = series_description if series_description is not None else _get(series, "series_description")
    proto = protocol_name if protocol_name is not None else _get(series, "protocol_name")
    agent = contrast_bolus_agent if contrast_bolus_agent is not None else _get(series, "contrast_bolus_agent")
    acq = acquisition_time if acquisition_time is not None else _get(series, "acquisition_time")
    start = contrast_bolus_start_time if contrast_bolus_start_time is not None else _get(
        series, "contrast_bolus_start_time")
    mod = str(modality if modality is not None else (_get(series, "modality") or ""))
    call = _localizer_call(series, desc, proto) or _subtraction_call(series, desc, proto) or _diffusion_call(desc, proto)
    if call is not None:
        return call
    hbp_agent = exam_agent(mod, agent, study_series)  # (the exam's gadoxetate when this series does not name it)
    call = phase_from_description(desc, proto, modality=mod, agent=hbp_agent)
    if call is not None:
        if study_series:
            call = _flag_order_conflicts(call, series, acq, mod, study_series)
        return call
    t_acq = dicom_time_to_seconds(acq)
    t_start = dicom_time_to_seconds(start)
    if t_acq is not None and t_start is not None:
        delay = t_acq - t_start
        if delay < -12 * 3600:  # injection before midnight, acquisition after
            delay += 24 * 3600
        return phase_from_timing(delay, modality=mod, agent=hbp_agent)
    if study_series:
        call = _phase_from_order(series, acq, agent, mod, study_series)
        if call is not None:
            return call
    if volume is not None:
        pts = vessel_points_lps or (None, None)
        call = phase_from_image(volume, aorta_lps=pts[0], portal_vein_lps=pts[1])
        if call.phase != Phase.UNKNOWN:
            return call
    if has_contrast_agent(agent):
        return PhaseCall(Phase.UNKNOWN, 0.1, f"ContrastBolusAgent {agent!r} says post-contrast; no phase keyword or timing")
    return UNKNOWN


def _phase_from_order(
    series: Any, acq: str | None, agent: str | None, modality: str, study_series: Iterable[Any]
) -> PhaseCall | None:
    t = dicom_time_to_seconds(acq)
    uid = _get(series, "series_instance_uid")
    if t is None or not _is_phase_peer(series):
        return None
    peers = []
    for s in study_series:
        if str(_get(s, "modality") or "") != modality or not _is_phase_peer(s):
            continue
        ts = dicom_time_to_seconds(_get(s, "acquisition_time"))
        if ts is None:
            continue
        peers.append((ts, _get(s, "series_instance_uid"), has_contrast_agent(_get(s, "contrast_bolus_agent"))))
    if not any(p[1] == uid for p in peers):
        peers.append((t, uid, has_contrast_agent(agent)))
    if len(peers) < 2:
        return None
    peers.sort(key=lambda p: p[0])
    with_agent = [p for p in peers if p[2]]
    if not with_agent:
        return None
    first_post = with_agent[0][0]
    me = next(p for p in peers if p[1] == uid)
    if not me[2] and me[0] < first_post:
        return PhaseCall(Phase.PRE_CONTRAST, C.ORDER_CONFIDENCE,
                         "no contrast agent tag, acquired before the contrast-enhanced series of the study")
    if not me[2]:
        return None
    # reconstructions of one acquisition (5 mm and 1 mm of the arterial scan) share an acquisition
    # time and so a rank: the ranks count acquisitions, not series
    times: list[float] = []
    for p in with_agent:
        if not times or p[0] - times[-1] > _SAME_ACQUISITION_S:
            times.append(p[0])
    rank = next(i for i, tt in enumerate(times) if abs(me[0] - tt) <= _SAME_ACQUISITION_S or me[0] < tt)
    ph = (Phase.ARTERIAL, Phase.PORTAL_VENOUS)[rank] if rank < 2 else Phase.DELAYED
    return PhaseCall(ph, C.ORDER_CONFIDENCE,
                     f"contrast-enhanced acquisition number {rank + 1} of {len(times)} in acquisition order")


#: Series acquired within this many seconds of each other are one acquisition (its reconstructions).
_SAME_ACQUISITION_S = 2.0

#: The order of the phases in a study, as ranges (the generic arterial phase is early or late;
#: delayed and transitional are one time slot).
_PHASE_RANK: dict[Phase, tuple[int, int]] = {
    Phase.PRE_CONTRAST: (0, 0), Phase.ARTERIAL_EARLY: (1, 1), Phase.ARTERIAL: (1, 2), Phase.ARTERIAL_LATE: (2, 2),
    Phase.PORTAL_VENOUS: (3, 3), Phase.DELAYED: (4, 4), Phase.TRANSITIONAL: (4, 4), Phase.HEPATOBILIARY: (5, 5),
}


def _series_time(s: Any, acq: str | None = None) -> tuple[float | None, str]:
    """(seconds, which tag) of a series: its AcquisitionTime, else its ContentTime."""
    t = dicom_time_to_seconds(acq if acq is not None else _get(s, "acquisition_time"))
    if t is not None:
        return t, "AcquisitionTime"
    return dicom_time_to_seconds(_get(s, "content_time")), "ContentTime"


def _clock(t: float) -> str:
    t = int(round(t)) % 86400
    return f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"


def _flag_order_conflicts(
    call: PhaseCall, series: Any, acq: str | None, modality: str, study_series: Iterable[Any]
) -> PhaseCall:
    """``call`` (from the description) with a warning for each series of the study (same modality,
    a phase peer) whose description names a phase that comes after this one but which was acquired
    before it, or one that comes before but was acquired after (more than 2 s apart, by
    AcquisitionTime, or by ContentTime when neither has an AcquisitionTime: a reformat made later
    has a later ContentTime than the scans it was made from).  The phase is kept: the description
    decides (module docstring)."""
    mine = _PHASE_RANK.get(call.phase)
    study_series = list(study_series)  # (walked again per series, for the exam's agent)
    t, tag = _series_time(series, acq)
    uid = _get(series, "series_instance_uid")
    if mine is None or t is None or not _is_phase_peer(series):
        return call
    warnings = list(call.warnings)
    for s in study_series:
        if s is series or (uid is not None and _get(s, "series_instance_uid") == uid):
            continue
        if str(_get(s, "modality") or "") != modality or not _is_phase_peer(s):
            continue
        other = phase_from_description(_get(s, "series_description"), _get(s, "protocol_name"), modality=modality,
                                       agent=exam_agent(modality, _get(s, "contrast_bolus_agent"), study_series))
        theirs = _PHASE_RANK.get(other.phase) if other is not None else None
        ts, tag_s = _series_time(s)
        if theirs is None or ts is None or tag_s != tag or abs(ts - t) <= _SAME_ACQUISITION_S:
            continue
        if mine[0] > theirs[1] and t < ts:
            when = "before"
        elif mine[1] < theirs[0] and t > ts:
            when = "after"
        else:
            continue
        warnings.append(
            f"described {call.phase.value} but acquired {when} series {_get(s, 'series_instance_uid')} "
            f"({_get(s, 'series_description') or _get(s, 'protocol_name')!r}, described {other.phase.value}): "  # type: ignore[union-attr]
            f"{tag} {_clock(t)} vs {_clock(ts)}; the description is kept: check the series, or override "
            "its phase (load_study(..., phase_overrides=...))")
    if len(warnings) == len(call.warnings):
        return call
    return PhaseCall(call.phase, call.confidence, call.reason, tuple(warnings))


def _is_phase_peer(s: Any) -> bool:
    """A series that can be a contrast phase, for the order rule: not a localizer, not a subtraction, not a monitoring
    (bolus-tracking) series of repeated images at one position, not an object without pixels."""
    if _get(s, "is_localizer") is True or _get(s, "is_image") is False:
        return False
    if _localizer_call(s, _get(s, "series_description"), _get(s, "protocol_name")) is not None:
        return False
    if _subtraction_call(s, _get(s, "series_description"), _get(s, "protocol_name")) is not None:
        return False
    if _diffusion_call(_get(s, "series_description"), _get(s, "protocol_name")) is not None:
        return False
    problems = _get(s, "problems") or ()
    return not any("duplicate slice position" in str(p) for p in problems)

"""Tumour-burden scores for HCC (criteria.md §8.1): up-to-seven, up-to-11, six-and-twelve,
tumour burden score (TBS), Milan criteria, and the Kinki / Bolondi BCLC-B substages.

All sizes enter as the **largest diameter in mm** (scores use cm: mm / 10, exactly) and
``n`` counts **all** intrahepatic tumours (not only targets).  Whether sub-centimetre nodules
count is the caller's decision: :func:`burden_for_timepoint` counts every recorded
intrahepatic tumour unless ``min_diameter_mm`` is given, and ``n_tumours`` overrides the count.
Comparisons are exact (``Fraction``), so "exactly 7 is within" holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.document import (
    LesionKind,
    LesionStatus,
    ReadDocument,
    TimePoint,
    exact,
)

__all__ = [
    "UP_TO_SEVEN_MAX",
    "UP_TO_ELEVEN_MAX",
    "SIX_AND_TWELVE_CUTOFFS",
    "TbsBands",
    "TBS_BANDS_HCC_RESECTION_2023",
    "TBS_BANDS_SASAKI_2018",
    "TBS_BANDS_TSILIMIGRAS_2020",
    "TBS_BANDS_GUANGXI_2024",
    "TBS_BANDS",
    "up_to_seven",
    "up_to_eleven",
    "six_and_twelve",
    "tumour_burden_score",
    "tbs_band",
    "within_milan",
    "kinki_substage",
    "bolondi_substage",
    "BurdenScores",
    "burden_for_timepoint",
    "burden_for_read",
    "Nodule",
    "intrahepatic_nodules",
    "spread_evidence",
]

F = Fraction

#: up-to-seven: largest (cm) + number ≤ 7 is "within" (Mazzaferro, Lancet Oncol 2009).
UP_TO_SEVEN_MAX = F(7)
#: up-to-11: ≤ 11 is "within" (Kim JH et al. 2017, TACE candidates; citation not verified).
UP_TO_ELEVEN_MAX = F(11)
#: six-and-twelve strata ≤ 6, > 6 and ≤ 12, > 12 (Wang Q et al., J Hepatol 2019).
SIX_AND_TWELVE_CUTOFFS = (F(6), F(12))


@dataclass(frozen=True, slots=True)
class TbsBands:
    """Named TBS cut-offs.  ``cutoffs[i]`` separates ``labels[i]`` from ``labels[i + 1]``;
    ``upper_inclusive[i]`` says whether a TBS exactly at the cut-off belongs to the upper band.
    """

    name: str
    cutoffs: tuple[Fraction, ...]
    labels: tuple[str, ...]
    upper_inclusive: tuple[bool, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.cutoffs) + 1 or len(self.upper_inclusive) != len(self.cutoffs):
            raise CriteriaError(
                f"TBS bands {self.name!r}: need len(labels) == len(cutoffs) + 1 and one "
                "upper_inclusive flag per cut-off."
            )
        object.__setattr__(self, "cutoffs", tuple(exact(c) for c in self.cutoffs))


#: HCC resection cohort (Langenbeck's Arch Surg 2023): low < 2.6, medium 2.6–7.9, high > 7.9
#: [V].  Default.
TBS_BANDS_HCC_RESECTION_2023 = TbsBands(
    "hcc_resection_2023", (F("2.6"), F("7.9")), ("low", "medium", "high"), (True, False),
    "Langenbeck's Arch Surg 2023")
#: Sasaki CRLM "metro-ticket" zones: zone 1 < 3, zone 2 3–< 9, zone 3 ≥ 9 [R].
TBS_BANDS_SASAKI_2018 = TbsBands(
    "sasaki_2018", (F(3), F(9)), ("zone1", "zone2", "zone3"), (True, True),
    "Sasaki K et al., Ann Surg 2018")
#: Tsilimigras 2020 (recalled 2.6 / 8.9; not verified) [R].
TBS_BANDS_TSILIMIGRAS_2020 = TbsBands(
    "tsilimigras_2020", (F("2.6"), F("8.9")), ("low", "medium", "high"), (True, True),
    "Tsilimigras DI et al., Br J Surg 2020 (cut-offs not verified)")
#: Guangxi cohort (Front Oncol 2024): single cut-off 10.77 [V].
TBS_BANDS_GUANGXI_2024 = TbsBands(
    "guangxi_2024", (F("10.77"),), ("low", "high"), (False,), "Front Oncol 2024")

TBS_BANDS: dict[str, TbsBands] = {b.name: b for b in (
    TBS_BANDS_HCC_RESECTION_2023, TBS_BANDS_SASAKI_2018, TBS_BANDS_TSILIMIGRAS_2020,
    TBS_BANDS_GUANGXI_2024)}


def _cm(largest_diameter_mm: Fraction | float | int) -> Fraction:
    v = exact(largest_diameter_mm)
    if v < 0:
        raise CriteriaError(f"largest diameter {largest_diameter_mm} mm is negative.")
    return v / 10


def _n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise CriteriaError(f"number of tumours must be a whole number ≥ 0, got {n!r}.")
    return n


def up_to_seven(largest_diameter_mm: Fraction | float | int, n_tumours: int) -> tuple[Fraction, bool]:
    """``(score, within)``: score = largest (cm) + number; within when ≤ 7.

    >>> up_to_seven(40, 3)
    (Fraction(7, 1), True)
    """
    s = _cm(largest_diameter_mm) + _n(n_tumours)
    return s, s <= UP_TO_SEVEN_MAX


def up_to_eleven(largest_diameter_mm: Fraction | float | int, n_tumours: int) -> tuple[Fraction, bool]:
    """``(score, within)``: within when largest (cm) + number ≤ 11."""
    s = _cm(largest_diameter_mm) + _n(n_tumours)
    return s, s <= UP_TO_ELEVEN_MAX


def six_and_twelve(largest_diameter_mm: Fraction | float | int, n_tumours: int) -> tuple[Fraction, str]:
    """``(score, stratum)`` with strata ``"<=6"``, ``">6-<=12"``, ``">12"``."""
    s = _cm(largest_diameter_mm) + _n(n_tumours)
    lo, hi = SIX_AND_TWELVE_CUTOFFS
    return s, "<=6" if s <= lo else ">6-<=12" if s <= hi else ">12"


def tumour_burden_score(largest_diameter_mm: Fraction | float | int, n_tumours: int) -> float:
    """TBS = √((largest, cm)² + n²) (Sasaki 2018)."""
    return math.hypot(float(_cm(largest_diameter_mm)), _n(n_tumours))


def tbs_band(
    largest_diameter_mm: Fraction | float | int, n_tumours: int,
    bands: TbsBands | str = TBS_BANDS_HCC_RESECTION_2023,
) -> str:
    """TBS band, decided exactly on TBS² against cut-off² (no rounding of the square root)."""
    if isinstance(bands, str):
        if bands not in TBS_BANDS:
            raise CriteriaError(f"unknown TBS bands {bands!r}; known: {sorted(TBS_BANDS)}.")
        bands = TBS_BANDS[bands]
    sq = _cm(largest_diameter_mm) ** 2 + _n(n_tumours) ** 2
    idx = 0
    for cut, upper in zip(bands.cutoffs, bands.upper_inclusive):
        c2 = cut * cut
        if sq > c2 or (upper and sq == c2):
            idx += 1
        else:
            break
    return bands.labels[idx]


def within_milan(
    diameters_mm: Sequence[Fraction | float | int],
    macrovascular_invasion: bool = False,
    extrahepatic_spread: bool = False,
) -> bool:
    """Milan: one tumour ≤ 50 mm, or 2–3 tumours each ≤ 30 mm; no vascular invasion or
    extrahepatic spread (Mazzaferro, NEJM 1996)."""
    d = [exact(x) for x in diameters_mm]
    if macrovascular_invasion or extrahepatic_spread or not d:
        return False
    if len(d) == 1:
        return d[0] <= 50
    return len(d) <= 3 and all(x <= 30 for x in d)


def kinki_substage(child_pugh_score: int, within_up_to_seven: bool, split_b3: bool = False) -> str:
    """Kinki criteria (Kudo 2015): B1 CP 5–7 and within up-to-7; B2 CP 5–7 and beyond; B3
    CP 8–9 (``split_b3``: B3a within / B3b beyond, recalled, not verified)."""
    if isinstance(child_pugh_score, bool) or child_pugh_score not in range(5, 10):
        raise CriteriaError(
            f"Kinki substaging is defined for Child-Pugh scores 5–9, got {child_pugh_score!r}. "
            "Child-Pugh C (10–15) is not BCLC-B."
        )
    if child_pugh_score <= 7:
        return "B1" if within_up_to_seven else "B2"
    if split_b3:
        return "B3a" if within_up_to_seven else "B3b"
    return "B3"


def bolondi_substage(
    child_pugh_score: int, within_milan_: bool, within_up_to_seven: bool, ecog: int = 0,
    portal_vein_thrombosis: bool = False,
) -> str | None:
    """Bolondi 2012 BCLC-B subclassification; None when the patient is not in any cell
    (within Milan, or PS > 0 with CP 5–7, or PS > 1).

    B1: CP 5–7, beyond Milan, within up-to-7, PS 0.  B2: CP 5–6, beyond Milan and up-to-7,
    PS 0.  B3: CP 7, beyond Milan and up-to-7, PS 0.  B4: CP 8–9, any burden, PS 0–1 (may have
    segmental PVT).
    """
    if isinstance(child_pugh_score, bool) or child_pugh_score not in range(5, 10):
        raise CriteriaError(
            f"Bolondi substaging is defined for Child-Pugh scores 5–9, got {child_pugh_score!r}."
        )
    if child_pugh_score >= 8:
        return "B4" if ecog <= 1 else None
    if within_milan_ or ecog != 0 or portal_vein_thrombosis:
        return None
    if within_up_to_seven:
        return "B1"
    return "B2" if child_pugh_score <= 6 else "B3"


@dataclass(frozen=True, slots=True)
class Nodule:
    """One intrahepatic tumour nodule of a time point, as the burden scores and BCLC see it.

    ``diameter_mm`` is the whole-lesion LD (``too_small`` → the too-small default), None when
    the size is not known (present but not measured, or not evaluable).  ``certain`` is False
    for a ``not_evaluable`` lesion: it may have gone, so it may or may not count.
    """

    lesion_id: str
    diameter_mm: Fraction | None
    certain: bool = True


def intrahepatic_nodules(tp: TimePoint, too_small_default_mm: float = 5.0) -> tuple[Nodule, ...]:
    """The intrahepatic tumour nodules of ``tp``: ``kind == "lesion"``, intrahepatic, any role,
    not absent, not merged (fragments of a split lesion are nodules of their own).

    ``too_small`` lesions are present with ``too_small_default_mm``; a lesion present without
    ``longest_diameter_mm`` has an unknown size; a ``not_evaluable`` lesion has an unknown
    size and may be absent (``certain=False``).
    """
    out: list[Nodule] = []
    for o in tp.lesions:
        if not o.is_intrahepatic or o.kind is not LesionKind.LESION:
            continue
        if o.status is LesionStatus.ABSENT or o.merged_into is not None:
            continue
        if o.status is LesionStatus.NOT_EVALUABLE:
            out.append(Nodule(o.lesion_id, None, certain=False))
        elif o.status is LesionStatus.TOO_SMALL:
            out.append(Nodule(o.lesion_id, exact(too_small_default_mm)))
        else:
            out.append(Nodule(o.lesion_id, exact(o.longest_diameter_mm)
                              if o.longest_diameter_mm is not None else None))
    return tuple(out)


#: A lymph node is pathological (N1) from this short axis (RECIST 1.1: < 10 mm is normal) ...
NODE_N1_MIN_SHORT_AXIS_MM = F(10)
#: ... and a porta-hepatis node from this one (mRECIST: reactive nodes in cirrhosis).
PORTA_HEPATIS_N1_MIN_SHORT_AXIS_MM = F(20)


def _node_is_n1(o: Any) -> bool:
    """A lymph node recorded at a time point counts as nodal spread (N1) when it is present
    and pathological: short axis ≥ 10 mm (≥ 20 mm at the porta hepatis), or recorded as
    present without a short axis (the reader listed it as disease); not when ``too_small``."""
    if o.status is LesionStatus.TOO_SMALL:
        return False
    sa = o.short_axis_mm
    if sa is None:
        return o.status is not LesionStatus.NOT_EVALUABLE
    floor = PORTA_HEPATIS_N1_MIN_SHORT_AXIS_MM if o.porta_hepatis else NODE_N1_MIN_SHORT_AXIS_MM
    return exact(sa) >= floor


def spread_evidence(
    tp: TimePoint, *, nodes_are_spread: bool = True,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The findings of ``tp`` that show macrovascular invasion and extrahepatic spread.

    Returns ``(invasion, spread)``: the ids of the portal-vein tumour thrombi (``kind ==
    "pvtt"``) present, and of the extrahepatic tumour lesions (``kind == "lesion"``, not
    intrahepatic) present (not absent, not merged).  ``nodes_are_spread`` (default True):
    pathological lymph nodes (N1: short axis ≥ 10 mm, ≥ 20 mm at the porta hepatis, or
    present without a short axis) are spread too — BCLC stage C is "portal invasion and/or
    extrahepatic spread (N1, M1)"; False reads metastases (M1) only.  Milan and BCLC read the
    same evidence.
    """
    invasion: list[str] = []
    spread: list[str] = []
    for o in tp.lesions:
        if o.status is LesionStatus.ABSENT or o.merged_into is not None:
            continue
        if o.kind is LesionKind.PVTT:
            invasion.append(o.lesion_id)
        elif o.kind is LesionKind.LESION and not o.is_intrahepatic:
            spread.append(o.lesion_id)
        elif o.kind is LesionKind.LYMPH_NODE and nodes_are_spread and _node_is_n1(o):
            spread.append(o.lesion_id)
    return tuple(invasion), tuple(spread)


@dataclass(frozen=True, slots=True)
class BurdenScores:
    """Burden scores of one time point (sizes in mm; scores use cm).

    A category (``up_to_seven``, ``up_to_eleven``, ``six_and_twelve``, ``tbs_band``,
    ``within_milan``) is None when it is not evaluable (a nodule without a size could change
    it; ``reasons`` say which), as are the scores then.
    """

    id: str
    day: int | None
    n_tumours: int
    largest_diameter_mm: Fraction | None
    up_to_seven_score: Fraction | None
    up_to_seven: str | None
    up_to_eleven: str | None
    six_and_twelve_score: Fraction | None
    six_and_twelve: str | None
    tbs: float | None
    tbs_band: str | None
    tbs_bands: str
    within_milan: bool | None
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        def num(x: Fraction | None) -> float | int | None:
            if x is None:
                return None
            return int(x) if x.denominator == 1 else float(x)

        return {
            "id": self.id, "day": self.day, "n_tumours": self.n_tumours,
            "largest_diameter_mm": num(self.largest_diameter_mm),
            "up_to_seven_score": num(self.up_to_seven_score), "up_to_seven": self.up_to_seven,
            "up_to_11": self.up_to_eleven,
            "six_and_twelve_score": num(self.six_and_twelve_score),
            "six_and_twelve": self.six_and_twelve,
            "tbs": None if self.tbs is None else round(self.tbs, 4),
            "tbs_band": self.tbs_band, "tbs_bands": self.tbs_bands,
            "within_milan": self.within_milan, "reasons": list(self.reasons),
        }


def burden_for_timepoint(
    tp: TimePoint,
    *,
    n_tumours: int | None = None,
    min_diameter_mm: float | None = None,
    tbs_bands: TbsBands | str = TBS_BANDS_HCC_RESECTION_2023,
    too_small_default_mm: float = 5.0,
    macrovascular_invasion: bool | None = None,
    extrahepatic_spread: bool | None = None,
    nodes_are_spread: bool = True,
) -> BurdenScores:
    """Burden scores from the intrahepatic tumours recorded at ``tp``.

    Counts every intrahepatic tumour nodule (:func:`intrahepatic_nodules`: ``kind ==
    "lesion"``, any role, not absent, not merged; fragments of a split lesion count
    separately).  ``min_diameter_mm`` drops smaller ones from the count; ``n_tumours``
    overrides the count (e.g. when not every nodule was recorded).  The largest diameter is
    the whole-lesion LD (too-small lesions count ``too_small_default_mm``).

    A nodule present without ``longest_diameter_mm``, or ``not_evaluable``, could be the
    largest: the scores and the largest diameter are then None, and a category is given only
    when it holds whatever that nodule measures (e.g. up-to-7 "beyond" when the measured
    nodules alone are beyond); otherwise it is None (not evaluable) and the reasons say which
    nodules to measure.

    Milan also needs no macrovascular invasion and no extrahepatic spread:
    ``macrovascular_invasion`` / ``extrahepatic_spread`` as given (e.g. by a liver-function
    record), or, when None, read from ``tp`` (:func:`spread_evidence`: a PVTT present →
    invasion; an extrahepatic tumour lesion, or with ``nodes_are_spread`` a pathological
    lymph node, present → spread), as BCLC does.
    """
    invasion, spread = spread_evidence(tp, nodes_are_spread=nodes_are_spread)
    milan_out: list[str] = []
    for given, found, what, kind in ((macrovascular_invasion, invasion, "macrovascular invasion", ": PVTT"),
                                     (extrahepatic_spread, spread, "extrahepatic spread", "")):
        if given is None and found:
            milan_out.append(f"{what} ({', '.join(found)}{kind})")
        elif given:
            milan_out.append(f"{what} (given)")
    if isinstance(tbs_bands, str):
        if tbs_bands not in TBS_BANDS:
            raise CriteriaError(f"unknown TBS bands {tbs_bands!r}; known: {sorted(TBS_BANDS)}.")
        tbs_bands = TBS_BANDS[tbs_bands]
    sizes: list[Fraction] = []
    unsized: list[str] = []
    maybe: list[str] = []
    count = 0
    reasons: list[str] = []
    for nd in intrahepatic_nodules(tp, too_small_default_mm):
        d = nd.diameter_mm
        if min_diameter_mm is not None and d is not None and d < exact(min_diameter_mm):
            reasons.append(f"{nd.lesion_id} {float(d):g} mm < {min_diameter_mm} mm: not counted")
            continue
        count += 1
        if not nd.certain:
            maybe.append(nd.lesion_id)
        elif d is None:
            unsized.append(nd.lesion_id)
        else:
            sizes.append(d)
    n_least = count - len(maybe)
    if n_tumours is not None:
        reasons.append(f"n = {n_tumours} given (counted {count})")
        count = n_least = _n(n_tumours)
    largest = max(sizes) if sizes else None
    if count == 0:
        return BurdenScores(tp.id, tp.day, 0, None, F(0), "within", "within", F(0), "<=6",
                            0.0, tbs_band(0, 0, tbs_bands), tbs_bands.name, None,
                            tuple(reasons + ["no intrahepatic tumour"]))
    if unsized or maybe:
        return _burden_undetermined(tp, count, n_least, sizes, unsized, maybe, tbs_bands,
                                    " and ".join(milan_out), reasons)
    if largest is None:
        return BurdenScores(tp.id, tp.day, count, None, None, None, None, None, None, None,
                            None, tbs_bands.name, None,
                            tuple(reasons + ["no tumour diameter recorded: scores undefined"]))
    s7, w7 = up_to_seven(largest, count)
    _, w11 = up_to_eleven(largest, count)
    s612, st612 = six_and_twelve(largest, count)
    milan = False if milan_out else within_milan(sizes) if len(sizes) == count else None
    reasons.append(f"largest {float(largest):g} mm = {float(largest / 10):g} cm, n = {count}: "
                   f"up-to-7 score {float(s7):g} ({'≤' if w7 else '>'} 7)")
    if milan_out:
        reasons.append("Milan: beyond, " + " and ".join(milan_out))
    return BurdenScores(
        tp.id, tp.day, count, largest, s7, "within" if w7 else "beyond",
        "within" if w11 else "beyond", s612, st612, tumour_burden_score(largest, count),
        tbs_band(largest, count, tbs_bands), tbs_bands.name, milan, tuple(reasons))


def _burden_undetermined(
    tp: TimePoint, count: int, n_least: int, sizes: list[Fraction], unsized: list[str],
    maybe: list[str], bands: TbsBands, milan_out: str, reasons: list[str],
) -> BurdenScores:
    """Scores when some nodules have no size (or may be gone): only the categories that the
    measured nodules already decide (every score only grows with the unknown sizes)."""
    largest = max(sizes) if sizes else F(0)
    low = _cm(largest) + n_least  # the least the score can be
    up7 = "beyond" if low > UP_TO_SEVEN_MAX else None
    up11 = "beyond" if low > UP_TO_ELEVEN_MAX else None
    st612 = ">12" if low > SIX_AND_TWELVE_CUTOFFS[1] else None
    band = tbs_band(largest, n_least, bands)
    band = band if band == bands.labels[-1] else None
    milan: bool | None = None
    why_milan = ""
    if milan_out:
        milan, why_milan = False, milan_out
    elif n_least > 3:
        milan, why_milan = False, f"at least {n_least} tumours"
    elif any(x > 50 for x in sizes) or (n_least >= 2 and any(x > 30 for x in sizes)):
        milan, why_milan = False, f"a tumour of {float(largest):g} mm"
    which = []
    if unsized:
        which.append(f"{', '.join(unsized)} present without longest_diameter_mm")
    if maybe:
        which.append(f"{', '.join(maybe)} not evaluable")
    measured = f"largest measured {float(largest):g} mm" if sizes else "no nodule measured"
    reasons.append(
        f"{'; '.join(which)}: could be the largest, so the largest diameter, up-to-7, "
        f"6-and-12 and TBS are not evaluable ({measured}, n ≥ {n_least}). Fix: record "
        "longest_diameter_mm of every intrahepatic nodule (status 'too_small' for one too "
        "small to measure).")
    decided = [f"{k} {v}" for k, v in (("up-to-7", up7), ("up-to-11", up11), ("6-and-12", st612),
                                         ("TBS band", band)) if v is not None]
    if decided:
        reasons.append(f"whatever they measure (score ≥ {float(low):g}): " + ", ".join(decided))
    if milan is False:
        reasons.append(f"Milan: beyond whatever they measure ({why_milan})")
    return BurdenScores(tp.id, tp.day, count, None, None, up7, up11, None, st612, None, band,
                        bands.name, milan, tuple(reasons))


def burden_for_read(doc: ReadDocument, **kwargs: Any) -> tuple[BurdenScores, ...]:
    """:func:`burden_for_timepoint` for every time point of ``doc``."""
    return tuple(burden_for_timepoint(tp, **kwargs) for tp in doc.timepoints)

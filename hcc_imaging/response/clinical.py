"""Clinical CR and drug-off eligibility (atezolizumab + bevacizumab curative conversion).

From Kudo M., *Interventional Radiology* 2025, Table 1 (criteria.md §9):

* **Clinical CR** = imaging CR (mRECIST or RECIST 1.1) **plus** continuous normalisation of
  all three markers — AFP, AFP-L3 and PIVKA-II — for **> 6 weeks** (``min_normal_days=42``,
  ``duration_inclusive=False``; §11: exactly 42 days is not enough by default).
* **Drug-off** = CR achieved by super-selective TACE, RFA / MWA (or resection) after Atezo/Bev,
  **plus** normalisation of the 3 markers for 12–24 weeks (``min_normal_days=84`` default,
  168 for the strict reading), **plus** no intranodular arterial flow on CEUS.

Normal ranges (§9.2) are parameters: AFP ≤ 10 ng/mL (Japanese practice; many Western labs use
20), AFP-L3 < 10 %, PIVKA-II < 40 mAU/mL.  Duration of a normal run = last draw day − first
normal draw day of the unbroken run of normal draws (§9.3 default).  A draw is normal when
every marker it reports is normal; each of the three markers must have been measured at least
once in the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hcc_imaging.response.document import MarkerValue, ReadDocument, TreatmentKind, exact
from hcc_imaging.response.results import CriterionResult

__all__ = [
    "MarkerLimits",
    "MARKER_LIMITS_JAPAN",
    "MARKER_LIMITS_WEST",
    "marker_normal",
    "normal_run",
    "ClinicalCRResult",
    "clinical_cr",
    "DrugOffResult",
    "drug_off_eligible",
]


@dataclass(frozen=True, slots=True)
class MarkerLimits:
    """Upper limits of normal and whether a value equal to the limit is normal."""

    afp_uln_ng_ml: Fraction = Fraction(10)
    afp_inclusive: bool = True
    afp_l3_uln_pct: Fraction = Fraction(10)
    afp_l3_inclusive: bool = False
    pivka_ii_uln_mau_ml: Fraction = Fraction(40)
    pivka_ii_inclusive: bool = False

    def __post_init__(self) -> None:
        for name in ("afp_uln_ng_ml", "afp_l3_uln_pct", "pivka_ii_uln_mau_ml"):
            object.__setattr__(self, name, exact(getattr(self, name)))


#: AFP ≤ 10 ng/mL, AFP-L3 < 10 %, PIVKA-II < 40 mAU/mL (Japanese practice; default).
MARKER_LIMITS_JAPAN = MarkerLimits()
#: AFP ≤ 20 ng/mL (common Western ULN), others as above.
MARKER_LIMITS_WEST = MarkerLimits(afp_uln_ng_ml=Fraction(20))


def _ok(v: float | None, uln: Fraction, inclusive: bool) -> bool | None:
    if v is None:
        return None
    x = exact(v)
    return x <= uln if inclusive else x < uln


def marker_normal(m: MarkerValue, limits: MarkerLimits = MARKER_LIMITS_JAPAN) -> dict[str, bool | None]:
    """Per-marker normality of one draw (None = not measured)."""
    return {
        "afp": _ok(m.afp_ng_ml, limits.afp_uln_ng_ml, limits.afp_inclusive),
        "afp_l3": _ok(m.afp_l3_pct, limits.afp_l3_uln_pct, limits.afp_l3_inclusive),
        "pivka_ii": _ok(m.pivka_ii_mau_ml, limits.pivka_ii_uln_mau_ml, limits.pivka_ii_inclusive),
    }


def normal_run(
    markers: Sequence[MarkerValue], limits: MarkerLimits = MARKER_LIMITS_JAPAN,
    from_day: int | None = None,
) -> tuple[int | None, int | None, list[str]]:
    """The latest unbroken run of normal draws (on or after ``from_day``):
    ``(start_day, end_day, reasons)``; ``(None, None, ...)`` when the last draw is abnormal or
    a marker was never measured in the run."""
    draws = sorted((m for m in markers if from_day is None or (m.day or 0) >= from_day),
                   key=lambda m: m.day or 0)
    reasons: list[str] = []
    if not draws:
        return None, None, ["no tumour-marker draws"]
    start: int | None = None
    seen: set[str] = set()
    for m in draws:
        flags = marker_normal(m, limits)
        abnormal = [k for k, v in flags.items() if v is False]
        if abnormal:
            start, seen = None, set()
            reasons.append(f"day {m.day}: {', '.join(abnormal)} above normal")
            continue
        if start is None:
            start = m.day
        seen |= {k for k, v in flags.items() if v}
    end = draws[-1].day
    if start is None:
        return None, None, reasons + ["the latest draw is abnormal"]
    missing = {"afp", "afp_l3", "pivka_ii"} - seen
    if missing:
        return None, None, reasons + [f"{', '.join(sorted(missing))} never measured in the "
                                      f"normal run from day {start}"]
    return start, end, reasons


@dataclass(frozen=True, slots=True)
class ClinicalCRResult:
    """Clinical CR decision with the imaging CR day and the normal-marker run."""

    clinical_cr: bool
    imaging_cr_day: int | None
    normal_from_day: int | None
    normal_to_day: int | None
    normal_days: int | None
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"clinical_cr": self.clinical_cr, "imaging_cr_day": self.imaging_cr_day,
                "normal_from_day": self.normal_from_day, "normal_to_day": self.normal_to_day,
                "normal_days": self.normal_days, "reasons": list(self.reasons)}


def _imaging_cr_day(results: Sequence[CriterionResult]) -> tuple[int | None, str]:
    days = []
    for r in results:
        for t in r.timepoints:
            if t.response == "CR":
                days.append((t.day, r.criterion))
                break
    if not days:
        return None, "no imaging CR under " + ", ".join(r.criterion for r in results)
    d, c = min(days)
    return d, f"imaging CR on day {d} ({c})"


def _long_enough(days: int, minimum: int, inclusive: bool) -> bool:
    return days >= minimum if inclusive else days > minimum


def clinical_cr(
    doc: ReadDocument,
    imaging: Sequence[CriterionResult],
    *,
    limits: MarkerLimits = MARKER_LIMITS_JAPAN,
    min_normal_days: int = 42,
    duration_inclusive: bool = False,
) -> ClinicalCRResult:
    """Clinical CR: imaging CR under any of ``imaging`` (mRECIST / RECIST 1.1 results) and all
    three markers normal for > ``min_normal_days`` (≥ with ``duration_inclusive``)."""
    cr_day, why = _imaging_cr_day(imaging)
    reasons = [why]
    start, end, rs = normal_run(doc.markers, limits)
    reasons.extend(rs)
    if start is None or end is None:
        return ClinicalCRResult(False, cr_day, None, None, None,
                                tuple(reasons + ["markers not continuously normal"]))
    n = end - start
    op = "≥" if duration_inclusive else ">"
    ok_markers = _long_enough(n, min_normal_days, duration_inclusive)
    reasons.append(f"markers normal from day {start} to day {end}: {n} days "
                   f"({'meets' if ok_markers else 'does not meet'} {op} {min_normal_days} days)")
    ok = cr_day is not None and ok_markers
    reasons.append("clinical CR" if ok else "not clinical CR")
    return ClinicalCRResult(ok, cr_day, start, end, n, tuple(reasons))


@dataclass(frozen=True, slots=True)
class DrugOffResult:
    """Drug-off eligibility with each condition's outcome."""

    eligible: bool
    locoregional_day: int | None
    imaging_cr_day: int | None
    normal_days: int | None
    ceus_no_flow: bool | None
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"eligible": self.eligible, "locoregional_day": self.locoregional_day,
                "imaging_cr_day": self.imaging_cr_day, "normal_days": self.normal_days,
                "ceus_no_flow": self.ceus_no_flow, "reasons": list(self.reasons)}


_CURATIVE = {TreatmentKind.SUPERSELECTIVE_TACE, TreatmentKind.RFA, TreatmentKind.MWA,
             TreatmentKind.ABLATION, TreatmentKind.RESECTION}


def drug_off_eligible(
    doc: ReadDocument,
    imaging: Sequence[CriterionResult],
    *,
    limits: MarkerLimits = MARKER_LIMITS_JAPAN,
    min_normal_days: int = 84,
    duration_inclusive: bool = True,
    require_ceus: bool = True,
    curative_kinds: frozenset[TreatmentKind] = frozenset(_CURATIVE),
) -> DrugOffResult:
    """Drug-off (Atezo/Bev discontinuation): curative locoregional therapy after Atezo/Bev
    start, imaging CR after it, markers normal ≥ ``min_normal_days`` (84 = 12 weeks; 168 for
    the 24-week reading), and no intranodular arterial flow on the latest CEUS after it."""
    reasons: list[str] = []
    atezo = [t for t in doc.treatments if t.kind is TreatmentKind.ATEZOLIZUMAB_BEVACIZUMAB]
    if not atezo:
        return DrugOffResult(False, None, None, None, None,
                             ("no atezolizumab_bevacizumab treatment recorded",))
    start_day = atezo[0].day or 0
    lrt = [t for t in doc.treatments if t.kind in curative_kinds and (t.day or 0) >= start_day]
    if not lrt:
        return DrugOffResult(False, None, None, None, None, (
            f"no curative locoregional treatment ({', '.join(sorted(k.value for k in curative_kinds))}) "
            f"on or after Atezo/Bev start (day {start_day})",))
    lrt_day = lrt[0].day or 0
    reasons.append(f"{lrt[0].kind.value} on day {lrt_day} after Atezo/Bev (day {start_day})")
    cr_days = []
    for r in imaging:
        for t in r.timepoints:
            if t.response == "CR" and t.day >= lrt_day:
                cr_days.append((t.day, r.criterion))
                break
    cr_day = min(cr_days)[0] if cr_days else None
    reasons.append(f"imaging CR on day {cr_day}" if cr_day is not None else
                   "no imaging CR after the locoregional treatment")
    s, e, rs = normal_run(doc.markers, limits)
    reasons.extend(rs)
    n = (e - s) if s is not None and e is not None else None
    op = "≥" if duration_inclusive else ">"
    ok_markers = n is not None and _long_enough(n, min_normal_days, duration_inclusive)
    reasons.append(f"markers normal {n} days ({'meets' if ok_markers else 'does not meet'} {op} "
                   f"{min_normal_days} days)" if n is not None else "markers not normal")
    ceus = [c for c in doc.ceus if (c.day or 0) >= lrt_day]
    no_flow: bool | None = None
    if ceus:
        no_flow = not ceus[-1].intranodular_arterial_flow
        reasons.append(f"CEUS day {ceus[-1].day}: "
                       + ("no intranodular arterial flow" if no_flow else "arterial flow present"))
    else:
        reasons.append("no CEUS after the locoregional treatment"
                       + (" (required: require_ceus)" if require_ceus else " (not required)"))
    ceus_ok = bool(no_flow) if require_ceus else no_flow is not False
    ok = cr_day is not None and ok_markers and ceus_ok
    reasons.append("eligible for drug-off" if ok else "not eligible for drug-off")
    return DrugOffResult(ok, lrt_day, cr_day, n, no_flow, tuple(reasons))

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
    """Clinical CR decision with the imaging CR day and the normal-marker run.

    ``clinical_cr`` is the status at the latest information (the last time point or marker
    draw): imaging CR in effect **and** markers normal for long enough, at the same time.
    ``achieved_day`` is the first day both held (None if never), ``lost_day`` the first day
    after it on which they no longer did (imaging CR lost, or a marker above normal)."""

    clinical_cr: bool
    imaging_cr_day: int | None
    normal_from_day: int | None
    normal_to_day: int | None
    normal_days: int | None
    reasons: tuple[str, ...]
    achieved_day: int | None = None
    lost_day: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"clinical_cr": self.clinical_cr, "imaging_cr_day": self.imaging_cr_day,
                "normal_from_day": self.normal_from_day, "normal_to_day": self.normal_to_day,
                "normal_days": self.normal_days, "achieved_day": self.achieved_day,
                "lost_day": self.lost_day, "reasons": list(self.reasons)}


#: Time-point responses that neither confirm nor end an imaging CR (nothing was assessable).
_NEUTRAL = frozenset({"NE"})


@dataclass(frozen=True, slots=True)
class _CrEpisode:
    criterion: str
    start: int
    end: int | None          # day of the first later time point that is not CR (None = open)
    end_response: str | None


def _cr_episodes(results: Sequence[CriterionResult], count_cr_after_pd: bool,
                 from_day: int | None = None) -> tuple[list[_CrEpisode], list[str]]:
    """Runs of consecutive CR time points per criterion (NE in between neither confirms nor
    ends one). Unless ``count_cr_after_pd``, a CR scored after that criterion's first PD is
    not counted: after PD the read is over (a new line of treatment gets a new baseline)."""
    episodes: list[_CrEpisode] = []
    notes: list[str] = []
    for r in results:
        start: int | None = None
        pd_day: int | None = None
        for t in sorted(r.timepoints, key=lambda t: t.day):
            resp = t.response
            if pd_day is not None and not count_cr_after_pd:
                if resp == "CR":
                    notes.append(f"{r.criterion} CR on day {t.day} follows PD on day {pd_day}: "
                                 "not counted (count_cr_after_pd=False; a new line of treatment "
                                 "gets a new read with its own baseline)")
                    break
                continue
            if resp == "CR" and (from_day is None or t.day >= from_day):
                if start is None:
                    start = t.day
            elif resp in _NEUTRAL:
                pass
            elif start is not None:
                episodes.append(_CrEpisode(r.criterion, start, t.day, resp))
                start = None
            if resp == "PD" and pd_day is None:
                pd_day = t.day
        if start is not None:
            episodes.append(_CrEpisode(r.criterion, start, None, None))
    return episodes, notes


def _cr_in_effect(episodes: Sequence[_CrEpisode], day: int) -> _CrEpisode | None:
    live = [e for e in episodes if e.start <= day and (e.end is None or day < e.end)]
    return min(live, key=lambda e: e.start) if live else None


def _markers_at(markers: Sequence[MarkerValue], limits: MarkerLimits, day: int
                ) -> tuple[int | None, int | None]:
    """The normal run known on ``day`` (draws up to it): ``(start, last draw)`` or Nones."""
    upto = [m for m in markers if (m.day or 0) <= day]
    if not upto:
        return None, None
    s, e, _ = normal_run(upto, limits)
    return s, e


def _long_enough(days: int, minimum: int, inclusive: bool) -> bool:
    return days >= minimum if inclusive else days > minimum


def clinical_cr(
    doc: ReadDocument,
    imaging: Sequence[CriterionResult],
    *,
    limits: MarkerLimits = MARKER_LIMITS_JAPAN,
    min_normal_days: int = 42,
    duration_inclusive: bool = False,
    count_cr_after_pd: bool = False,
) -> ClinicalCRResult:
    """Clinical CR: imaging CR under any of ``imaging`` (mRECIST / RECIST 1.1 results) and all
    three markers normal for > ``min_normal_days`` (≥ with ``duration_inclusive``), **both at
    the same time**.

    The two are checked on every day something was learnt (each time point and each draw):
    an imaging CR is in effect from its time point until the next time point that is not CR
    (NE neither confirms nor ends it); the markers count as normal since the first draw of the
    unbroken normal run known that day, up to its last draw. A CR lost to PD before the
    markers had normalised long enough is therefore no clinical CR, and the result is the
    status at the latest information, with the day it was first reached and first lost.
    A CR scored after PD is not counted unless ``count_cr_after_pd``."""
    episodes, notes = _cr_episodes(imaging, count_cr_after_pd)
    first = min(episodes, key=lambda e: e.start) if episodes else None
    reasons = ([f"imaging CR on day {first.start} ({first.criterion})"] if first else
               [("no imaging CR before PD under " if notes else "no imaging CR under ")
                + ", ".join(r.criterion for r in imaging)])
    reasons.extend(notes)
    for e in sorted(episodes, key=lambda e: e.start):
        if e.end is not None:
            reasons.append(f"{e.criterion} CR from day {e.start} ended on day {e.end} "
                           f"({e.end_response})")
    start, end, rs = normal_run(doc.markers, limits)
    reasons.extend(rs)
    days = sorted({t.day for r in imaging for t in r.timepoints}
                  | {m.day or 0 for m in doc.markers})
    achieved: int | None = None
    lost: int | None = None
    lost_why = ""
    status = False
    for d in days:
        ep = _cr_in_effect(episodes, d)
        s, e = _markers_at(doc.markers, limits, d)
        ok = (ep is not None and s is not None and e is not None
              and _long_enough(e - s, min_normal_days, duration_inclusive))
        if ok and achieved is None:
            achieved = d
        if not ok and status and lost is None:
            lost = d
            lost_why = ("imaging CR ended" if ep is None else "markers no longer normal")
        status = ok
    op = "≥" if duration_inclusive else ">"
    n = (end - start) if start is not None and end is not None else None
    if n is None:
        reasons.append("markers not continuously normal")
    else:
        ok_markers = _long_enough(n, min_normal_days, duration_inclusive)
        reasons.append(f"markers normal from day {start} to day {end}: {n} days "
                       f"({'meets' if ok_markers else 'does not meet'} {op} {min_normal_days} days)")
    last_day = days[-1] if days else None
    now = _cr_in_effect(episodes, last_day) if last_day is not None else None
    if first is not None and now is None:
        reasons.append(f"no imaging CR in effect at the latest time point (day "
                       f"{max(t.day for r in imaging for t in r.timepoints)})")
    if achieved is None:
        if first is not None and n is not None and _long_enough(n, min_normal_days,
                                                                duration_inclusive):
            reasons.append("the imaging CR and the normal markers never held at the same time")
    else:
        reasons.append(f"clinical CR reached on day {achieved}")
        if lost is not None:
            reasons.append(f"clinical CR lost on day {lost} ({lost_why})")
    reasons.append("clinical CR" if status else "not clinical CR")
    cr_day = now.start if now is not None else (first.start if first else None)
    return ClinicalCRResult(status, cr_day, start, end, n, tuple(reasons), achieved, lost)


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
    start, imaging CR after it and still in effect at the latest time point (not after PD),
    markers normal ≥ ``min_normal_days`` (84 = 12 weeks; 168 for the 24-week reading), and no
    intranodular arterial flow on the latest CEUS after it."""
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
    episodes, notes = _cr_episodes(imaging, False, from_day=lrt_day)
    reasons.extend(notes)
    tp_days = [t.day for r in imaging for t in r.timepoints]
    now = _cr_in_effect(episodes, max(tp_days)) if tp_days else None
    cr_day = now.start if now is not None else None
    if now is not None:
        reasons.append(f"imaging CR on day {cr_day} ({now.criterion}), in effect at the latest "
                       "time point")
    elif episodes:
        e = min(episodes, key=lambda e: e.start)
        reasons.append(f"imaging CR on day {e.start} ({e.criterion}) ended on day {e.end} "
                       f"({e.end_response}): no imaging CR in effect now")
    else:
        reasons.append("no imaging CR after the locoregional treatment")
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

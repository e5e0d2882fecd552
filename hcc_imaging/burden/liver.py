"""Liver-function scores: ALBI / mALBI and Child-Pugh (criteria.md §8.2–8.3).

ALBI (Johnson PJ et al., J Clin Oncol 2015): ``0.66 × log10(bilirubin µmol/L) − 0.085 ×
albumin g/L``; grade 1 ≤ −2.60 < grade 2 ≤ −1.39 < grade 3.  mALBI (Hiraoka A et al., Liver
Cancer 2017) splits grade 2 at −2.270: 2a ≤ −2.270 < 2b.  Units: bilirubin mg/dL × 17.1 =
µmol/L; albumin g/dL × 10 = g/L.

Child-Pugh (Pugh RN et al., Br J Surg 1973; INR instead of prothrombin time): five items of
1–3 points; class A 5–6, B 7–9, C 10–15.  Values exactly on a band edge are handled
differently by calculators (criteria.md §11): ``boundary="middle_closed"`` (default; the
published "2–3", "2.8–3.5", "1.7–2.3" ranges include both ends), ``"better"`` (an edge value
gets the better band) or ``"worse"`` (the worse band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.document import (
    ALBUMIN_G_L_PER_G_DL,
    BILIRUBIN_UMOL_L_PER_MG_DL,
    AscitesGrade,
    EncephalopathyGrade,
    LiverFunction,
    exact,
)

__all__ = [
    "BILIRUBIN_MG_DL_TO_UMOL_L",
    "ALBUMIN_G_DL_TO_G_L",
    "ALBI_GRADE1_MAX",
    "ALBI_GRADE2_MAX",
    "MALBI_2A_MAX",
    "AlbiResult",
    "albi",
    "albi_conventional",
    "albi_for",
    "ChildPughResult",
    "child_pugh",
    "child_pugh_for",
    "LAB_PLAUSIBLE_RANGES",
    "CHILD_PUGH_BOUNDARIES",
    "LiverLabs",
    "liver_labs",
]

#: mg/dL → µmol/L for bilirubin (the read document's exact factor, as a float).
BILIRUBIN_MG_DL_TO_UMOL_L = float(BILIRUBIN_UMOL_L_PER_MG_DL)
#: g/dL → g/L for albumin.
ALBUMIN_G_DL_TO_G_L = float(ALBUMIN_G_L_PER_G_DL)
#: ALBI grade 1 upper bound (≤), grade 2 upper bound (≤); mALBI 2a upper bound (≤).
ALBI_GRADE1_MAX = -2.60
ALBI_GRADE2_MAX = -1.39
MALBI_2A_MAX = -2.270


#: Plausible range (inclusive) of each lab field, per unit.  Wide on purpose: no real
#: patient falls outside (serum albumin below 0.8 g/dL or above 7 g/dL, bilirubin above
#: 80 mg/dL or an INR above 10 are not seen in practice), but each range is apart from the
#: other unit's, so that a value typed in the wrong unit (albumin 40 "g/dL", 3.5 "g/L") is
#: refused instead of misread.  Bilirubin's two ranges overlap (0.855–80 µmol/L is also
#: plausible in mg/dL): only the extremes betray a mix-up there.
LAB_PLAUSIBLE_RANGES: dict[str, tuple[float, float, str]] = {
    "bilirubin_mg_dl": (0.05, 80.0, "mg/dL"),
    "bilirubin_umol_l": (0.855, 1368.0, "µmol/L"),   # the mg/dL range × 17.1
    "albumin_g_dl": (0.8, 7.0, "g/dL"),
    "albumin_g_l": (8.0, 70.0, "g/L"),                # the g/dL range × 10
    "inr": (0.5, 10.0, "ratio"),
}
#: Two units of one lab agree when they differ by at most this much (in the SI unit) or
#: 3 % of the value, whichever is larger: the rounding of a report (0.1 mg/dL = 1.71 µmol/L,
#: 0.1 g/dL = 1 g/L) and the rounded conversion factor.
_DUAL_UNIT_TOLERANCE = {"bilirubin": 1.4, "albumin": 1.0}
#: field -> (the same lab in the other unit, factor from this field's unit to the other's)
_OTHER_UNIT = {
    "bilirubin_mg_dl": ("bilirubin_umol_l", BILIRUBIN_MG_DL_TO_UMOL_L),
    "bilirubin_umol_l": ("bilirubin_mg_dl", 1 / BILIRUBIN_MG_DL_TO_UMOL_L),
    "albumin_g_dl": ("albumin_g_l", ALBUMIN_G_DL_TO_G_L),
    "albumin_g_l": ("albumin_g_dl", 1 / ALBUMIN_G_DL_TO_G_L),
}


def _lab(name: str, value: Any, where: str = "") -> float:
    """``value`` of lab field ``name`` as a float, refused with a message naming the field,
    the value and, when it fits the other unit, the likely mix-up."""
    lo, hi, unit = LAB_PLAUSIBLE_RANGES[name]
    at = f"{where}: " if where else ""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise CriteriaError(
            f"{at}{name} must be a number in {unit}, got {value!r} "
            f"({type(value).__name__}). Fix: give the measured value as a number."
        )
    v = float(value)
    if not math.isfinite(v):
        raise CriteriaError(f"{at}{name} is {value!r}, not a finite number. Fix: give the "
                            "measured value.")
    if lo <= v <= hi:
        return v
    hint = ""
    if name in _OTHER_UNIT:
        other, factor = _OTHER_UNIT[name]
        olo, ohi, ounit = LAB_PLAUSIBLE_RANGES[other]
        if olo <= v <= ohi:
            hint = (f" {v:g} looks like {ounit} ({v:g} {ounit} = {v / factor:.3g} "
                    f"{unit}). Fix: put it in {other}, or convert it.")
    elif name == "inr":
        hint = (" An INR is a ratio near 1: a prothrombin time in seconds or in % (Quick)? "
                "Fix: give the INR (an INR really above 10: record 10; Child-Pugh scores every "
                "INR > 2.3 alike).")
    raise CriteriaError(
        f"{at}{name} = {v:g} {unit} is outside the plausible range {lo:g}–{hi:g} {unit}."
        + (hint or " Fix: check the value and its unit.")
    )


@dataclass(frozen=True, slots=True)
class LiverLabs:
    """Checked labs of one liver-function record, in both units, as exact fractions of the
    values written (a derived unit is converted exactly: 51.3 µmol/L is 3 mg/dL, not
    2.9999999999999996, so both units fall in the same Child-Pugh band)."""

    bilirubin_mg_dl: Fraction | None
    bilirubin_umol_l: Fraction | None
    albumin_g_dl: Fraction | None
    albumin_g_l: Fraction | None
    inr: Fraction | None


def liver_labs(lf: LiverFunction) -> LiverLabs:
    """The labs of ``lf`` checked: each given field within :data:`LAB_PLAUSIBLE_RANGES` for
    its unit, and a lab given in both units agreeing (within rounding); the missing unit is
    derived.  Raises :class:`CriteriaError` naming the field(s), the values and the fix."""
    where = f"liver function on day {lf.day}"
    given = {n: _lab(n, getattr(lf, n), where) for n in LAB_PLAUSIBLE_RANGES
             if getattr(lf, n) is not None}
    for lab, si, conv in (("bilirubin", "bilirubin_umol_l", "bilirubin_mg_dl"),
                          ("albumin", "albumin_g_l", "albumin_g_dl")):
        if si in given and conv in given:
            factor = _OTHER_UNIT[conv][1]
            a, b = given[conv] * factor, given[si]
            if abs(a - b) > max(_DUAL_UNIT_TOLERANCE[lab], 0.03 * max(a, b)):
                raise CriteriaError(
                    f"{where}: {conv} = {given[conv]:g} ({a:.3g} "
                    f"{LAB_PLAUSIBLE_RANGES[si][2]}) and {si} = {b:g} disagree. ALBI reads "
                    f"one, Child-Pugh the other. Fix: keep the one the laboratory reported and "
                    "drop the other."
                )
    def pair(conv: str, si: str, factor: Fraction) -> tuple[Fraction | None, Fraction | None]:
        c = exact(getattr(lf, conv)) if getattr(lf, conv) is not None else None
        v = exact(getattr(lf, si)) if getattr(lf, si) is not None else None
        if c is None and v is not None:
            c = v / factor
        elif v is None and c is not None:
            v = c * factor
        return c, v

    # (the exact factors LiverFunction's unit properties use)
    bili_mg, bili_umol = pair("bilirubin_mg_dl", "bilirubin_umol_l", BILIRUBIN_UMOL_L_PER_MG_DL)
    alb_g_dl, alb_g_l = pair("albumin_g_dl", "albumin_g_l", ALBUMIN_G_L_PER_G_DL)
    return LiverLabs(bili_mg, bili_umol, alb_g_dl, alb_g_l,
                     exact(lf.inr) if lf.inr is not None else None)


@dataclass(frozen=True, slots=True)
class AlbiResult:
    """ALBI score, grade (1, 2, 3) and mALBI grade (1, 2a, 2b, 3)."""

    score: float
    grade: str
    malbi_grade: str

    def to_json(self) -> dict[str, Any]:
        """``albi`` rounded to 4 decimals, or more when 4 would put it on the other side of a
        grade cut-off (−2.59998 stays −2.59998, not −2.6, which reads as grade 1)."""
        return {"albi": _albi_shown(self.score), "albi_grade": self.grade,
                "malbi_grade": self.malbi_grade}


def _albi_shown(score: float) -> float:
    """``score`` rounded to the fewest decimals (at least 4) that keep it on the same side of
    every ALBI / mALBI cut-off, so that the printed value never contradicts the grade."""
    cuts = (ALBI_GRADE1_MAX, MALBI_2A_MAX, ALBI_GRADE2_MAX)
    for digits in range(4, 18):
        shown = round(score, digits)
        if all((shown <= c) == (score <= c) for c in cuts):
            return shown
    return score


def albi(bilirubin_umol_l: float, albumin_g_l: float, round_to: int | None = None) -> AlbiResult:
    """ALBI from bilirubin (µmol/L) and albumin (g/L).

    ``round_to`` rounds the score before grading (some calculators show 2 decimals and grade
    the shown value); default None grades the unrounded score.

    >>> albi(17.1, 40).grade, albi(17.1, 40).malbi_grade   # 1 mg/dL, 4.0 g/dL
    ('2', '2a')
    """
    if bilirubin_umol_l is None or albumin_g_l is None:
        raise CriteriaError(
            f"ALBI needs bilirubin > 0 µmol/L and albumin in g/L, got {bilirubin_umol_l!r} and "
            f"{albumin_g_l!r}. Fix: give both (bilirubin_mg_dl × 17.1 = µmol/L; "
            "albumin_g_dl × 10 = g/L)."
        )
    bilirubin_umol_l = _lab("bilirubin_umol_l", bilirubin_umol_l, "ALBI")
    albumin_g_l = _lab("albumin_g_l", albumin_g_l, "ALBI")
    score = 0.66 * math.log10(bilirubin_umol_l) - 0.085 * albumin_g_l
    if round_to is not None:
        score = round(score, round_to)
    grade = "1" if score <= ALBI_GRADE1_MAX else "2" if score <= ALBI_GRADE2_MAX else "3"
    malbi = ("1" if grade == "1" else "3" if grade == "3" else
             "2a" if score <= MALBI_2A_MAX else "2b")
    return AlbiResult(score, grade, malbi)


def albi_conventional(bilirubin_mg_dl: float, albumin_g_dl: float,
                      round_to: int | None = None) -> AlbiResult:
    """ALBI from conventional units (mg/dL, g/dL)."""
    return albi(bilirubin_mg_dl * BILIRUBIN_MG_DL_TO_UMOL_L, albumin_g_dl * ALBUMIN_G_DL_TO_G_L,
                round_to)


def albi_for(lf: LiverFunction, round_to: int | None = None) -> AlbiResult:
    """ALBI of a read-document liver-function record."""
    labs = liver_labs(lf)
    b, a = labs.bilirubin_umol_l, labs.albumin_g_l
    if b is None or a is None:
        raise CriteriaError(
            f"liver function on day {lf.day}: ALBI needs bilirubin and albumin; "
            f"bilirubin={b!r}, albumin={a!r}. Fix: record both."
        )
    return albi(b, a, round_to)


@dataclass(frozen=True, slots=True)
class ChildPughResult:
    """Child-Pugh total (5–15), class (A/B/C) and the points per item."""

    score: int
    child_class: str
    points: dict[str, int] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"child_pugh_score": self.score, "child_pugh_class": self.child_class,
                "points": dict(self.points)}


#: The ``boundary`` readings of :func:`child_pugh` (module docstring).
CHILD_PUGH_BOUNDARIES = ("middle_closed", "better", "worse")
_BOUNDARIES = CHILD_PUGH_BOUNDARIES


def _points_low_good(x: Fraction, lo: Fraction, hi: Fraction, boundary: str) -> int:
    """Items where lower is better (bilirubin, INR): 1 below ``lo``, 3 above ``hi``."""
    if boundary == "middle_closed":
        return 1 if x < lo else 2 if x <= hi else 3
    if boundary == "better":
        return 1 if x <= lo else 2 if x <= hi else 3
    return 1 if x < lo else 2 if x < hi else 3


def _points_high_good(x: Fraction, hi: Fraction, lo: Fraction, boundary: str) -> int:
    """Albumin (higher is better): 1 above ``hi``, 3 below ``lo``."""
    if boundary == "middle_closed":
        return 1 if x > hi else 2 if x >= lo else 3
    if boundary == "better":
        return 1 if x >= hi else 2 if x >= lo else 3
    return 1 if x > hi else 2 if x > lo else 3


def child_pugh(
    bilirubin_mg_dl: float,
    albumin_g_dl: float,
    inr: float,
    ascites: AscitesGrade | str = AscitesGrade.NONE,
    encephalopathy: EncephalopathyGrade | str = EncephalopathyGrade.NONE,
    boundary: str = "middle_closed",
) -> ChildPughResult:
    """Child-Pugh score and class.

    Bilirubin (mg/dL) < 2 / 2–3 / > 3; albumin (g/dL) > 3.5 / 2.8–3.5 / < 2.8; INR < 1.7 /
    1.7–2.3 / > 2.3; ascites none / mild / moderate–severe; encephalopathy none / grade 1–2 /
    grade 3–4.  ``boundary``: see module docstring.

    >>> child_pugh(2.0, 3.5, 1.7).score  # every lab exactly on a boundary
    8
    """
    if boundary not in _BOUNDARIES:
        raise CriteriaError(
            f"child_pugh boundary={boundary!r} is not valid; expected one of {list(_BOUNDARIES)}."
        )
    for name, v in (("bilirubin_mg_dl", bilirubin_mg_dl), ("albumin_g_dl", albumin_g_dl),
                    ("inr", inr)):
        if v is None:
            raise CriteriaError(
                f"Child-Pugh needs {name} as a number, got None. Fix: record it "
                "(bilirubin in mg/dL = µmol/L ÷ 17.1; albumin in g/dL = g/L ÷ 10)."
            )
        _lab(name, v, "Child-Pugh")
    try:
        asc = AscitesGrade(ascites) if not isinstance(ascites, AscitesGrade) else ascites
        enc = (EncephalopathyGrade(encephalopathy)
               if not isinstance(encephalopathy, EncephalopathyGrade) else encephalopathy)
    except ValueError as err:
        raise CriteriaError(
            f"Child-Pugh: {err}. Fix: ascites is one of {[a.value for a in AscitesGrade]}, "
            f"encephalopathy one of {[e.value for e in EncephalopathyGrade]}."
        ) from None
    pts = {
        "bilirubin": _points_low_good(exact(bilirubin_mg_dl), Fraction(2), Fraction(3), boundary),
        "albumin": _points_high_good(exact(albumin_g_dl), Fraction("3.5"), Fraction("2.8"),
                                     boundary),
        "inr": _points_low_good(exact(inr), Fraction("1.7"), Fraction("2.3"), boundary),
        "ascites": {AscitesGrade.NONE: 1, AscitesGrade.MILD: 2,
                    AscitesGrade.MODERATE_SEVERE: 3}[asc],
        "encephalopathy": {EncephalopathyGrade.NONE: 1, EncephalopathyGrade.GRADE_1_2: 2,
                           EncephalopathyGrade.GRADE_3_4: 3}[enc],
    }
    total = sum(pts.values())
    cls = "A" if total <= 6 else "B" if total <= 9 else "C"
    reasons = (f"Child-Pugh {total} ({cls}): " + ", ".join(f"{k} {v}" for k, v in pts.items())
               + f" (boundary={boundary})",)
    return ChildPughResult(total, cls, pts, reasons)


def child_pugh_for(lf: LiverFunction, boundary: str = "middle_closed") -> ChildPughResult:
    """Child-Pugh of a read-document liver-function record (units converted)."""
    labs = liver_labs(lf)
    missing = [n for n, v in (("bilirubin", labs.bilirubin_mg_dl), ("albumin", labs.albumin_g_dl),
                              ("inr", labs.inr), ("ascites", lf.ascites),
                              ("encephalopathy", lf.encephalopathy)) if v is None]
    if missing:
        raise CriteriaError(
            f"liver function on day {lf.day}: Child-Pugh needs {', '.join(missing)}. Fix: record "
            "them in the read document's liver_function entry."
        )
    return child_pugh(labs.bilirubin_mg_dl, labs.albumin_g_dl, labs.inr,  # type: ignore[arg-type]
                      lf.ascites, lf.encephalopathy, boundary)  # type: ignore[arg-type]

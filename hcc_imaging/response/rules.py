"""Rule sets: the criteria differ in data, not in code.

One shared classifier (:mod:`hcc_imaging.response.classify`) reads a frozen :class:`RuleSet`.
RECIST 1.1, mRECIST, EASL and WHO are instances; RECICL and iRECIST add small state machines
with their own frozen parameter records (:class:`RecicLRules`, :class:`IRecistRules`).

Every field cites its source (``docs/criteria.md`` section).  Fields marked *disputed* are
points where sources disagree (criteria.md §11–§12); the default is documented and the tests
run both readings.  Change one with :func:`dataclasses.replace` or through
``assess(doc, criteria, **overrides)``.

Thresholds are :class:`fractions.Fraction` so that decisions are exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.params import check_fields

__all__ = [
    "Criteria",
    "Measure",
    "PdReference",
    "NewLesionRule",
    "NonTargetCR",
    "Reappearance",
    "CrThenPr",
    "PrThenSd",
    "ConfirmationScan",
    "RuleSet",
    "RECIST_1_1",
    "MRECIST",
    "EASL",
    "WHO",
    "RecicLRules",
    "RECICL",
    "IRecistRules",
    "IRECIST",
    "RULESETS",
    "parse_criteria",
    "rules_for",
]


class Criteria(StrEnum):
    """Response criteria; the value is the spelling used in outputs."""

    RECIST_1_1 = "RECIST1.1"
    MRECIST = "mRECIST"
    EASL = "EASL"
    WHO = "WHO"
    RECICL = "RECICL"
    IRECIST = "iRECIST"


_ALIASES = {
    "recist1.1": Criteria.RECIST_1_1, "recist11": Criteria.RECIST_1_1,
    "recist": Criteria.RECIST_1_1, "recist_1_1": Criteria.RECIST_1_1,
    "recist-1.1": Criteria.RECIST_1_1, "recist 1.1": Criteria.RECIST_1_1,
    "mrecist": Criteria.MRECIST, "easl": Criteria.EASL, "who": Criteria.WHO,
    "recicl": Criteria.RECICL, "irecist": Criteria.IRECIST,
}


def parse_criteria(value: str | Criteria) -> Criteria:
    """Normalise a criterion name (case-insensitive; ``recist1.1``, ``RECIST_1_1``...)."""
    if isinstance(value, Criteria):
        return value
    key = str(value).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise CriteriaError(
        f"unknown response criterion {value!r}. Known: "
        f"{', '.join(c.value for c in Criteria)} (case-insensitive). Fix: pass one of these, "
        "e.g. --criteria recist1.1,mrecist."
    )


class Measure(StrEnum):
    """What is summed over target lesions.

    ``longest_diameter``: LD (nodes: short axis), mm — RECIST 1.1.
    ``viable_diameter``: longest viable (arterially enhancing) diameter (nodes: short axis), mm
    — mRECIST.  ``product``: LD × perpendicular, mm² — WHO.  ``viable_product``: viable LD ×
    viable perpendicular, mm² — EASL.
    """

    LONGEST_DIAMETER = "longest_diameter"
    VIABLE_DIAMETER = "viable_diameter"
    PRODUCT = "product"
    VIABLE_PRODUCT = "viable_product"

    @property
    def is_area(self) -> bool:
        return self in (Measure.PRODUCT, Measure.VIABLE_PRODUCT)

    @property
    def is_viable(self) -> bool:
        return self in (Measure.VIABLE_DIAMETER, Measure.VIABLE_PRODUCT)


class PdReference(StrEnum):
    """Reference for the PD increase: the nadir (smallest sum incl. baseline) or baseline."""

    NADIR = "nadir"
    BASELINE = "baseline"


class NewLesionRule(StrEnum):
    """``any_unequivocal``: any unequivocal new lesion is PD (RECIST 1.1 4.3.2).
    ``hcc_pattern``: mRECIST — an intrahepatic new lesion is PD only when ≥ 10 mm with the
    typical HCC pattern, or after ≥ 10 mm interval growth; extrahepatic ones follow RECIST."""

    ANY_UNEQUIVOCAL = "any_unequivocal"
    HCC_PATTERN = "hcc_pattern"


class NonTargetCR(StrEnum):
    """Non-target CR means all disappeared (RECIST) or no arterial enhancement (mRECIST)."""

    DISAPPEARANCE = "disappearance"
    NO_ENHANCEMENT = "no_enhancement"


class Reappearance(StrEnum):
    """*Disputed* (criteria.md §11 row 1, §12.5): after which CR is reappearing disease PD?

    ``after_any_cr`` (default): RECIST 1.1 Table 3 footnote — any disease after a CR is PD.
    ``after_confirmed_cr``: WG FAQ — only after a definitively (confirmed) assigned CR;
    otherwise the sum rules apply.
    """

    AFTER_ANY_CR = "after_any_cr"
    AFTER_CONFIRMED_CR = "after_confirmed_cr"


class CrThenPr(StrEnum):
    """*Disputed* (RECIST 1.1 Table 3 row "CR then PR"): ``sd_or_pd`` (default; the footnote:
    after a true CR, disease again is progression, so BOR is SD if the SD minimum is met,
    otherwise PD) or ``pr`` (the first CR was not a true CR: BOR PR)."""

    SD_OR_PD = "sd_or_pd"
    PR = "pr"


class PrThenSd(StrEnum):
    """*Disputed* (§11 row 3, §12.4): PR then SD at the confirmation scan → BOR ``sd`` (Table 3,
    default) or ``pr`` ("ongoing PR", WG clarification wording)."""

    SD = "sd"
    PR = "pr"


class ConfirmationScan(StrEnum):
    """Which scan confirms a CR/PR: the ``next_evaluable`` one ≥ 28 days later (default), or
    ``any_later`` scan ≥ 28 days later before PD."""

    NEXT_EVALUABLE = "next_evaluable"
    ANY_LATER = "any_later"


F = Fraction


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Named thresholds and measurement choices of one response criterion.

    Units: ``*_mm`` in mm; ``pd_abs_floor`` is in the unit of the sum (mm for diameters, mm²
    for products); ``*_frac`` are fractions (0.30 = 30 %); ``*_days`` in days.
    """

    #: Output name (``Criteria`` value).
    name: str
    #: What is summed over targets (see :class:`Measure`).
    measure: Measure
    #: PR: decrease vs **baseline** of at least this fraction (RECIST 30 %; WHO/EASL 50 %).
    pr_threshold_frac: Fraction
    #: PD: increase vs ``pd_reference`` of at least this fraction (RECIST 20 %; WHO/EASL 25 %).
    pd_threshold_frac: Fraction
    #: *Disputed* for EASL/WHO (§11 "exactly +25 %"; §12.2): True = "≥", False = ">".
    pd_inclusive: bool = True
    #: True = PR at "≥ 30 %" (RECIST "at least"); False = "> 30 %" (PMC6006274, §12.1).
    pr_inclusive: bool = True
    #: Absolute PD floor in the sum's unit.  RECIST 1.1: 5 mm.  *Disputed* for mRECIST
    #: (§11 row 5, §12.1): the 2010 text has none (default 0); 5 applies RECIST's floor.
    pd_abs_floor: Fraction = F(0)
    #: *Disputed* for WHO/EASL (§12.2): nadir ("maximum response", default) or baseline.
    pd_reference: PdReference = PdReference.NADIR
    #: *Disputed* for WHO (§11 row 7): PD when one lesion grows by the PD fraction (Miller
    #: wording, default for WHO) in addition to the sum rule.
    pd_per_lesion: bool = False
    #: *Disputed* (§11 row 2): test CR (all nodes < 10 mm) before PD.  Default True: the
    #: RECIST definitions make CR independent of the node sum.
    cr_before_pd: bool = True
    #: Target selection caps (RECIST 1.1 4.2; mRECIST follows RECIST, a parameter per §3).
    #: None = no cap (WHO, EASL).
    max_targets: int | None = 5
    max_targets_per_organ: int | None = 2
    #: Measurability (RECIST 1.1 3.1): non-nodal LD ≥ 10 mm (CT/MRI, slices ≤ 5 mm) ...
    min_target_diameter_mm: Fraction = F(10)
    #: ... else ≥ slice_thickness_factor × slice thickness when slices are thicker than 5 mm.
    slice_thickness_factor: Fraction = F(2)
    thick_slice_mm: Fraction = F(5)
    #: ... and ≥ 20 mm on chest X-ray (time point modality CR / DX / XR).
    chest_xray_min_diameter_mm: Fraction = F(20)
    #: Nodes: SA ≥ 15 mm measurable (target); 10–< 15 pathological non-target; < 10 normal.
    min_target_node_short_axis_mm: Fraction = F(15)
    node_normal_short_axis_mm: Fraction = F(10)
    #: Target CR needs every target node's SA < node_normal_short_axis_mm (RECIST 1.1
    #: 4.3.1), and a new node is a new lesion only at SA ≥ node_normal_short_axis_mm (RECIST
    #: WG FAQ "New lymph node lesions").  False = every target must measure 0 and any new node
    #: counts (WHO "disappearance of all disease").
    node_cr_by_short_axis: bool = True
    #: "Too small to measure" counts as this size (RECIST WG clarification), per dimension.
    too_small_default_mm: Fraction = F(5)
    #: mRECIST target eligibility (§3.1): arterial enhancement, viable LD ≥ 10 mm, well
    #: delineated.
    target_requires_enhancement: bool = False
    target_requires_well_delineated: bool = False
    #: Locally treated lesions are not measurable unless progressed (RECIST 1.1 3.1) — a
    #: check, not a refusal.
    warn_previously_treated_targets: bool = True
    #: Non-target CR rule (see :class:`NonTargetCR`).
    non_target_cr: NonTargetCR = NonTargetCR.DISAPPEARANCE
    #: HCC rules (mRECIST / AASLD-JNCI, §3.1): effusion/ascites PD only with malignant
    #: cytology; porta-hepatis node malignant only at SA ≥ 20 mm.
    effusion_requires_cytology: bool = False
    porta_hepatis_rule: bool = False
    porta_hepatis_min_short_axis_mm: Fraction = F(20)
    #: *Disputed* (the mRECIST text is silent on a porta-hepatis **target**'s CR): with
    #: ``porta_hepatis_rule``, a target porta-hepatis node below ``porta_hepatis_min_short_axis_mm``
    #: no longer counts as malignant, so it is no bar to target CR (True, default: the rule that
    #: makes such a non-target CR and such a new node no new lesion); False = it must shrink below
    #: ``node_normal_short_axis_mm`` as any node (RECIST 1.1 4.3.1).  Its short axis stays in the sum.
    porta_hepatis_target_normal_below_min: bool = True
    #: New lesions (see :class:`NewLesionRule`); mRECIST size / growth thresholds.
    new_lesion_rule: NewLesionRule = NewLesionRule.ANY_UNEQUIVOCAL
    new_lesion_min_diameter_mm: Fraction = F(10)
    new_lesion_min_interval_growth_mm: Fraction = F(10)
    #: EASL (§4.2): new enhancement in a previously treated lesion is PD.
    new_enhancement_is_pd: bool = False
    #: RECIST 1.1 4.3.5: when targets are missing, PD stands if the measured ones prove it.
    missing_lesions_may_prove_pd: bool = True
    #: Reappearance after CR (see :class:`Reappearance`).
    reappearance: Reappearance = Reappearance.AFTER_ANY_CR
    #: *Disputed* (§11 row 4, §12.4): after a confirmed PR, a time point whose sum is back
    #: above −30 % (but not PD) stays PR (WG FAQ, default) or becomes SD (sec. 4.3.1).
    pr_continues_after_confirmation: bool = True
    #: RECIST 1.1 4.3.2: PD from an equivocal new lesion confirmed later is dated to the
    #: first scan that showed it.
    backdate_confirmed_new_lesions: bool = True
    #: RECIST non-target CR requires normal tumour markers (when the time point says).
    non_target_cr_requires_normal_markers: bool = True
    #: BOR (§2.6): confirmation ≥ 28 days later; SD minimum from study entry (6–8 weeks in
    #: the paper; default 42 days); Table 3 ambiguous rows.
    confirmation_min_days: int = 28
    confirmation_scan: ConfirmationScan = ConfirmationScan.NEXT_EVALUABLE
    #: Table 3 "subsequent time point" (criteria.md §2.6): every evaluable scan between a CR/PR
    #: and its confirmation (sooner than confirmation_min_days) must still show it, else the
    #: first that does not is the one Table 3 reads (True); False skips those scans.
    confirmation_intervening_must_hold: bool = True
    sd_min_days: int = 42
    cr_then_pr: CrThenPr = CrThenPr.SD_OR_PD
    pr_then_sd: PrThenSd = PrThenSd.SD

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "measure", _coerce_enum(Measure, self.measure, "measure"))
        for name, cls in (("pd_reference", PdReference), ("new_lesion_rule", NewLesionRule),
                          ("non_target_cr", NonTargetCR), ("reappearance", Reappearance),
                          ("cr_then_pr", CrThenPr), ("pr_then_sd", PrThenSd),
                          ("confirmation_scan", ConfirmationScan)):
            s(self, name, _coerce_enum(cls, getattr(self, name), name))
        for f in dataclasses.fields(self):
            if f.type in ("Fraction",):
                s(self, f.name, _coerce_fraction(getattr(self, f.name), f.name, self.name))
        for name in ("confirmation_min_days", "sd_min_days"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise CriteriaError(
                    f"rule set {self.name}: {name} must be a whole number of days ≥ 0, got "
                    f"{v!r}."
                )
        check_fields(self, self.name)

    @property
    def sum_unit(self) -> str:
        """``mm`` or ``mm2``."""
        return "mm2" if self.measure.is_area else "mm"

    def replace(self, **changes: Any) -> RuleSet:
        """A copy with fields changed (unknown names raise CriteriaError)."""
        return _replace(self, changes)

    def to_json(self) -> dict[str, Any]:
        return _params_json(self)


def _coerce_enum(cls: Any, value: Any, name: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise CriteriaError(
            f"parameter {name}={value!r} is not valid; expected one of "
            f"{[e.value for e in cls]}."
        ) from None


def _coerce_fraction(value: Any, name: str, owner: str) -> Fraction:
    from decimal import Decimal

    if isinstance(value, bool):
        raise CriteriaError(f"rule set {owner}: {name} must be a number, got {value!r}.")
    try:
        if isinstance(value, float):
            return Fraction(repr(value))
        if isinstance(value, (int, Fraction)):
            return Fraction(value)
        return Fraction(Decimal(str(value)))
    except (ValueError, ArithmeticError, TypeError):
        raise CriteriaError(
            f"rule set {owner}: {name} must be a number, got {value!r}. Fix: pass e.g. 0.3 "
            "(fractions) or 5 (mm)."
        ) from None


#: Accepted spellings of parameters (the issue text used these names).
PARAMETER_ALIASES: dict[str, str] = {
    "pd_abs_floor_mm": "pd_abs_floor",
    "max_per_organ": "max_targets_per_organ",
}


def _replace(obj: Any, changes: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(obj)}
    changes = {PARAMETER_ALIASES.get(k, k) if PARAMETER_ALIASES.get(k) in names else k: v
               for k, v in changes.items()}
    for key in changes:
        if key not in names:
            import difflib

            close = difflib.get_close_matches(key, sorted(names), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise CriteriaError(
                f"{type(obj).__name__} {getattr(obj, 'name', '')} has no parameter {key!r}."
                f"{hint} Parameters: {', '.join(sorted(names))}."
            )
    return dataclasses.replace(obj, **changes)


def _params_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, Fraction):
            v = int(v) if v.denominator == 1 else float(v)
        elif isinstance(v, StrEnum):
            v = v.value
        out[f.name] = v
    return out


#: RECIST 1.1 (Eisenhauer 2009): LD sum (nodes SA), PR ≥ 30 % vs baseline, PD ≥ 20 % and
#: ≥ 5 mm vs nadir, 5 targets / 2 per organ (criteria.md §2).
RECIST_1_1 = RuleSet(
    name=Criteria.RECIST_1_1.value,
    measure=Measure.LONGEST_DIAMETER,
    pr_threshold_frac=F(3, 10),
    pd_threshold_frac=F(1, 5),
    pd_abs_floor=F(5),
    warn_previously_treated_targets=True,
)

#: mRECIST (Lencioni & Llovet 2010): viable (arterially enhancing) LD sum, same thresholds as
#: RECIST but **no 5 mm floor** in the 2010 text (disputed, §12.1), HCC non-target and
#: new-lesion rules, enhancing well-delineated targets ≥ 10 mm (criteria.md §3).
MRECIST = RuleSet(
    name=Criteria.MRECIST.value,
    measure=Measure.VIABLE_DIAMETER,
    pr_threshold_frac=F(3, 10),
    pd_threshold_frac=F(1, 5),
    pd_abs_floor=F(0),
    target_requires_enhancement=True,
    target_requires_well_delineated=True,
    warn_previously_treated_targets=False,
    non_target_cr=NonTargetCR.NO_ENHANCEMENT,
    effusion_requires_cytology=True,
    porta_hepatis_rule=True,
    new_lesion_rule=NewLesionRule.HCC_PATTERN,
    non_target_cr_requires_normal_markers=False,
)

#: EASL (Bruix 2001): WHO bidimensional products of **viable** tumour; PR ≥ 50 %, PD ≥ 25 %
#: (disputed ≥ / >, §11) of the sum vs nadir; new enhancement in treated lesions is PD.
EASL = RuleSet(
    name=Criteria.EASL.value,
    measure=Measure.VIABLE_PRODUCT,
    pr_threshold_frac=F(1, 2),
    pd_threshold_frac=F(1, 4),
    pd_abs_floor=F(0),
    max_targets=None,
    max_targets_per_organ=None,
    target_requires_enhancement=True,
    warn_previously_treated_targets=False,
    non_target_cr=NonTargetCR.NO_ENHANCEMENT,
    # The cytology / porta-hepatis rules are mRECIST's (AASLD-JNCI 2008); the 2001 EASL text
    # has none, so they are off here (switch them on with the two fields below).
    effusion_requires_cytology=False,
    porta_hepatis_rule=False,
    new_enhancement_is_pd=True,
    non_target_cr_requires_normal_markers=False,
)

#: WHO (Miller 1981): sum of products LD × perpendicular, no lesion cap, PR ≥ 50 %, PD ≥ 25 %
#: of one or more lesions (per lesion, disputed §11) or of the sum, CR = all disease gone.
WHO = RuleSet(
    name=Criteria.WHO.value,
    measure=Measure.PRODUCT,
    pr_threshold_frac=F(1, 2),
    pd_threshold_frac=F(1, 4),
    pd_abs_floor=F(0),
    pd_per_lesion=True,
    max_targets=None,
    max_targets_per_organ=None,
    node_cr_by_short_axis=False,
    warn_previously_treated_targets=False,
    non_target_cr_requires_normal_markers=False,
)


@dataclass(frozen=True, slots=True)
class RecicLRules:
    """RECICL (Liver Cancer Study Group of Japan) per-nodule treatment effect (criteria.md §5).

    ``te1_version``: *disputed* (§11, §12.3).  ``"2015"`` (default; 2015/2021 wording):
    TE1 = enlargement ≥ 50 % **excluding the necrotic area**.  ``"2009"``: TE1 = enlargement
    > 25 % regardless of necrosis.  ``te1_before_te3``: *disputed* (§11 "50 % necrosis and
    viable +100 %"): TE1 is tested before TE3 (default) or after.  ``aggregation``:
    *disputed* (§11): ``"sum_products"`` (default) or ``"worst_nodule"``.
    ``new_lesion``: *disputed* (§11): ``"overall_pd"`` (default: a new intrahepatic nodule
    makes the overall TE1/PD) or ``"separate"`` (reported, overall kept).  ``reference``:
    pre-treatment products from the ``"baseline"`` (default) or the ``"previous"`` time point.
    ``te4a_min_necrosis_to_tumour_ratio``: TE4a when the necrotic (ablated) area exceeds the
    pre-treatment tumour area by this ratio (strictly), else TE4b.
    ``evaluation_min_days`` (§5.3, [R] not verified: dynamic CT/MRI about 4 weeks or more after
    the local treatment): a nodule scanned sooner than this many days after a locoregional
    treatment of it (``treatments``; one naming no ``lesion_ids`` treats every nodule) is not
    evaluable (NE) for the treatment effect; 0 switches the check off.
    """

    name: str = Criteria.RECICL.value
    te1_version: str = "2015"
    te1_enlargement_frac_2009: Fraction = F(1, 4)
    te1_enlargement_frac_2015: Fraction = F(1, 2)
    te3_frac: Fraction = F(1, 2)
    te1_before_te3: bool = True
    aggregation: str = "sum_products"
    new_lesion: str = "overall_pd"
    reference: str = "baseline"
    te4a_min_necrosis_to_tumour_ratio: Fraction = F(1)
    too_small_default_mm: Fraction = F(5)
    confirmation_min_days: int = 28
    confirmation_scan: ConfirmationScan = ConfirmationScan.NEXT_EVALUABLE
    confirmation_intervening_must_hold: bool = True  # as RuleSet's
    sd_min_days: int = 42
    cr_then_pr: CrThenPr = CrThenPr.SD_OR_PD
    pr_then_sd: PrThenSd = PrThenSd.SD
    evaluation_min_days: int = 28

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name, allowed in (("te1_version", ("2009", "2015")),
                              ("aggregation", ("sum_products", "worst_nodule")),
                              ("new_lesion", ("overall_pd", "separate")),
                              ("reference", ("baseline", "previous"))):
            v = str(getattr(self, name))
            if v == "2021":
                v = "2015"
            if v not in allowed:
                raise CriteriaError(
                    f"RECICL parameter {name}={getattr(self, name)!r} is not valid; expected "
                    f"one of {list(allowed)}."
                )
            s(self, name, v)
        for name in ("te1_enlargement_frac_2009", "te1_enlargement_frac_2015", "te3_frac",
                     "te4a_min_necrosis_to_tumour_ratio", "too_small_default_mm"):
            s(self, name, _coerce_fraction(getattr(self, name), name, "RECICL"))
        for name, cls in (("confirmation_scan", ConfirmationScan), ("cr_then_pr", CrThenPr),
                          ("pr_then_sd", PrThenSd)):
            s(self, name, _coerce_enum(cls, getattr(self, name), name))
        check_fields(self, self.name)

    sum_unit = "mm2"

    def replace(self, **changes: Any) -> RecicLRules:
        return _replace(self, changes)  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:
        return _params_json(self)


RECICL = RecicLRules()


@dataclass(frozen=True, slots=True)
class IRecistRules:
    """iRECIST (Seymour 2017) on top of RECIST 1.1 (criteria.md §6).

    ``icpd_min_increase_mm``: further increase of the target (or NLT) sum since iUPD that
    confirms progression (≥ 5 mm, cumulative).  ``icpd_strict_in_target_nontarget_row``:
    *disputed* (§6.5, §12.6): Table 2's row "target iUPD + non-target iUPD, no new lesions"
    says "> 5 mm"; default False uses "≥ 5" everywhere.  ``confirmation_min_days``: the one
    confirmation window of an iRECIST read (days, default 28): a scan sooner after iUPD cannot
    confirm iCPD unless done for new symptoms **and** showing an additional new lesion, and an
    iCR/iPR counts toward the confirmed iBOR (and starts the iDOR) only when confirmed at least
    this many days later; it replaces the ``base`` rule set's own ``confirmation_min_days``
    (:attr:`recist_rules`).  ``nlt_*``: new-lesion-target selection (5 total, 2 per organ,
    ≥ 10 mm; nodes SA ≥ 15 mm).
    """

    name: str = Criteria.IRECIST.value
    base: RuleSet = RECIST_1_1
    icpd_min_increase_mm: Fraction = F(5)
    icpd_strict_in_target_nontarget_row: bool = False
    confirmation_min_days: int = 28
    nlt_max_total: int = 5
    nlt_max_per_organ: int = 2
    nlt_min_diameter_mm: Fraction = F(10)
    nlt_min_node_short_axis_mm: Fraction = F(15)

    def __post_init__(self) -> None:
        for name in ("icpd_min_increase_mm", "nlt_min_diameter_mm", "nlt_min_node_short_axis_mm"):
            object.__setattr__(self, name, _coerce_fraction(getattr(self, name), name, "iRECIST"))
        check_fields(self, self.name)

    sum_unit = "mm"

    @property
    def recist_rules(self) -> RuleSet:
        """The RECIST 1.1 rule set an iRECIST read runs on: ``base`` named iRECIST, with this
        record's ``confirmation_min_days`` (the same window confirms iUPD and iCR/iPR)."""
        return self.base.replace(name=self.name, confirmation_min_days=self.confirmation_min_days)

    def replace(self, **changes: Any) -> IRecistRules:
        return _replace(self, changes)  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:
        out = _params_json(self)
        out["base"] = self.base.name
        return out


IRECIST = IRecistRules()

#: Default rule objects by criterion.
RULESETS: dict[Criteria, RuleSet | RecicLRules | IRecistRules] = {
    Criteria.RECIST_1_1: RECIST_1_1,
    Criteria.MRECIST: MRECIST,
    Criteria.EASL: EASL,
    Criteria.WHO: WHO,
    Criteria.RECICL: RECICL,
    Criteria.IRECIST: IRECIST,
}


def rules_for(criterion: str | Criteria) -> RuleSet | RecicLRules | IRecistRules:
    """The default rule object of a criterion."""
    return RULESETS[parse_criteria(criterion)]

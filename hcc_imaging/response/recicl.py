"""RECICL (Response Evaluation Criteria in Cancer of the Liver; LCSGJ, Kudo et al.).

Per nodule, the **treatment effect** (TE) compares the post-treatment product (LD × longest
perpendicular, mm²) with the pre-treatment product (criteria.md §5):

* reduction = (pre − post) / pre;  necrosis = necrotic fraction of the post area
  (``necrosis_fraction``, else 1 − viable product / product when viable axes are given);
* **TE4**: necrosis 100 % or reduction 100 % (TE4a when the necrotic zone is larger than the
  pre-treatment tumour — adequate ablative margin —, TE4b when about the same);
* **TE1**: enlargement — 2015+ wording: (post × (1 − necrosis) − pre) / pre ≥ 50 %;
  2009 wording: (post − pre) / pre > 25 % regardless of necrosis (``te1_version``);
* **TE3**: necrosis ≥ 50 % or reduction ≥ 50 %;  **TE2**: otherwise.
* Order TE4 > TE1 > TE3 > TE2 (``te1_before_te3``).

Overall: TE4 → CR, TE3 → PR, TE2 → SD, TE1 → PD, computed on summed products (default) or as
the worst nodule (``aggregation``); overall TE4 needs TE4 in every nodule (2019 revision); a
new intrahepatic nodule makes the overall PD unless ``new_lesion="separate"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from hcc_imaging.response.bor import best_overall_response, response_start_days
from hcc_imaging.response.classify import fmt_mm, fmt_pct
from hcc_imaging.response.document import (
    LesionKind,
    LesionObservation,
    LesionStatus,
    ReadDocument,
    Role,
    TimePoint,
    exact,
)
from hcc_imaging.response.results import CriterionResult, TimePointResult
from hcc_imaging.response.rules import RECICL, RecicLRules

__all__ = ["classify_recicl", "treatment_effect", "NoduleEffect", "TE_TO_RESPONSE"]

ZERO = Fraction(0)
ONE = Fraction(1)
TE_TO_RESPONSE = {"TE4": "CR", "TE3": "PR", "TE2": "SD", "TE1": "PD"}
_TE_RANK = {"TE1": 1, "TE2": 2, "TE3": 3, "TE4": 4}


@dataclass(frozen=True, slots=True)
class NoduleEffect:
    """Treatment effect of one nodule (or of the summed nodules)."""

    lesion_id: str
    te: str  # TE1..TE4, with TE4a / TE4b when the necrotic zone is known; "NE"
    pre_product_mm2: Fraction | None
    post_product_mm2: Fraction | None
    necrosis_frac: Fraction | None
    reduction_frac: Fraction | None
    enlargement_frac: Fraction | None
    reason: str

    def to_json(self) -> dict[str, object]:
        def num(x: Fraction | None) -> float | None:
            return None if x is None else float(x)

        return {"lesion_id": self.lesion_id, "te": self.te,
                "pre_product_mm2": num(self.pre_product_mm2),
                "post_product_mm2": num(self.post_product_mm2),
                "necrosis_frac": num(self.necrosis_frac),
                "reduction_frac": num(self.reduction_frac),
                "enlargement_frac": num(self.enlargement_frac), "reason": self.reason}


def treatment_effect(
    pre_mm2: Fraction | float,
    post_mm2: Fraction | float,
    necrosis_frac: Fraction | float = 0,
    rules: RecicLRules = RECICL,
    necrotic_zone_mm2: Fraction | float | None = None,
    lesion_id: str = "nodule",
) -> NoduleEffect:
    """TE of one nodule from its pre / post products (mm²) and post necrosis fraction."""
    pre, post, nec = exact(pre_mm2), exact(post_mm2), exact(necrosis_frac)
    if pre <= 0:
        return NoduleEffect(lesion_id, "NE", pre, post, nec, None, None,
                            f"{lesion_id}: pre-treatment product is 0, TE undefined")
    red = (pre - post) / pre
    # Each reason states the comparison that holds ("+40 % < +50 %: not TE1"), never the rule
    # beside a value that does not meet it.
    if rules.te1_version == "2009":
        enl = (post - pre) / pre
        te1_lim = rules.te1_enlargement_frac_2009
        te1 = enl > te1_lim
        te1_txt = (f"enlargement {fmt_pct(enl)} {'>' if te1 else '≤'} {fmt_pct(te1_lim)} "
                   "regardless of necrosis (TE1, 2009 wording)")
    else:
        enl = (post * (1 - nec) - pre) / pre
        te1_lim = rules.te1_enlargement_frac_2015
        te1 = enl >= te1_lim
        te1_txt = (f"enlargement excluding necrosis {fmt_pct(enl)} {'≥' if te1 else '<'} "
                   f"{fmt_pct(te1_lim)} (TE1, 2015+ wording)")
    lim3 = rules.te3_frac
    nec3, red3 = nec >= lim3, red >= lim3
    te3 = nec3 or red3
    nec_txt = f"necrosis {_share(nec)} {'≥' if nec3 else '<'} {_share(lim3)}"
    red_txt = f"reduction {fmt_pct(red)} {'≥' if red3 else '<'} {fmt_pct(lim3)}"
    te3_txt = " and ".join(t for t, ok in ((nec_txt, nec3), (red_txt, red3)) if ok)
    not_te3_txt = f"{nec_txt} and {red_txt}: not TE3"
    if nec == 1 or red == 1:
        te = "TE4"
        why = " and ".join(t for t, ok in ((f"necrosis {_share(nec)}", nec == 1),
                                           (f"reduction {fmt_pct(red)}", red == 1)) if ok)
        why += " (TE4: necrosis or reduction 100 %)"
        if necrotic_zone_mm2 is not None:
            zone = exact(necrotic_zone_mm2)
            if zone > pre * rules.te4a_min_necrosis_to_tumour_ratio:
                te, why = "TE4a", why + f"; necrotic zone {fmt_mm(zone, 'mm2')} > tumour " \
                    f"{fmt_mm(pre, 'mm2')} (adequate ablative margin)"
            else:
                te, why = "TE4b", why + f"; necrotic zone {fmt_mm(zone, 'mm2')} ≤ tumour " \
                    f"{fmt_mm(pre, 'mm2')} (insufficient margin)"
    elif te1 and (rules.te1_before_te3 or not te3):
        te, why = "TE1", te1_txt
        if te3:
            why += f"; {te3_txt} as well, but TE1 is tested first (te1_before_te3)"
    elif te3:
        te, why = "TE3", te3_txt + f" (TE3: necrosis or reduction ≥ {_share(lim3)})"
        why += (f"; {te1_txt} as well, but TE3 is tested first (te1_before_te3=False)" if te1
                else f"; {te1_txt}: not TE1")
    else:
        te, why = "TE2", f"{not_te3_txt}; {te1_txt}: not TE1; neither 100 %: not TE4"
    return NoduleEffect(lesion_id, te, pre, post, nec, red, enl, f"{lesion_id}: {te}: {why}")


def _te4_grade(effects: list[NoduleEffect]) -> tuple[str, str]:
    """Overall TE4 sub-grade when every nodule is TE4: TE4a when every nodule has an adequate
    ablative margin, TE4b when one has not (the worst known margin), else TE4 (a margin not
    recorded); with the sentence that says which nodules decided it."""
    b = [e.lesion_id for e in effects if e.te == "TE4b"]
    plain = [e.lesion_id for e in effects if e.te == "TE4"]
    if b:
        return "TE4b", f"TE4b: {', '.join(b)} TE4b (insufficient ablative margin)"
    if plain:
        return "TE4", (f"no sub-grade: necrotic zone (necrosis_diameter_mm, "
                       f"necrosis_short_axis_mm) not recorded for {', '.join(plain)}")
    return "TE4a", "TE4a: every nodule TE4a (adequate ablative margin)"


def _share(frac: Fraction) -> str:
    """A share (necrosis, a threshold) as an unsigned percentage: ``60 %``."""
    return fmt_pct(frac).lstrip("+")


def _product(o: LesionObservation, rules: RecicLRules) -> Fraction | None:
    if o.status is LesionStatus.ABSENT or o.merged_into is not None:
        return ZERO
    if o.status is LesionStatus.TOO_SMALL:
        return rules.too_small_default_mm ** 2
    if o.longest_diameter_mm is None or o.short_axis_mm is None:
        if o.longest_diameter_mm == 0:
            return ZERO
        return None
    return exact(o.longest_diameter_mm) * exact(o.short_axis_mm)


def _necrosis(o: LesionObservation, post: Fraction) -> Fraction:
    if o.necrosis_fraction is not None:
        return exact(o.necrosis_fraction)
    if post == 0:
        return ZERO
    if o.viable_status is LesionStatus.ABSENT or o.viable_diameter_mm == 0 or o.enhancing is False:
        return ONE
    if o.viable_diameter_mm is not None and o.viable_short_axis_mm is not None:
        viable = exact(o.viable_diameter_mm) * exact(o.viable_short_axis_mm)
        return max(ZERO, min(ONE, 1 - viable / post))
    return ZERO


def _zone(o: LesionObservation) -> Fraction | None:
    if o.necrosis_diameter_mm is None or o.necrosis_short_axis_mm is None:
        return None
    return exact(o.necrosis_diameter_mm) * exact(o.necrosis_short_axis_mm)


def _nodules(doc: ReadDocument, rules: RecicLRules) -> list[str]:
    return [o.lesion_id for o in doc.baseline.lesions
            if o.role_for(rules.name) in (Role.TARGET, Role.NON_TARGET)
            and o.is_intrahepatic and o.kind is LesionKind.LESION and o.split_from is None]


def _extrahepatic(lesions: Iterable[LesionObservation]) -> str:
    """``"P1 (lung), N2 (lymph_node)"``: the present extrahepatic lesions among ``lesions``."""
    return ", ".join(f"{o.lesion_id} ({o.organ})" for o in lesions
                     if not o.is_intrahepatic and o.status is not LesionStatus.ABSENT)


def _too_soon(doc: ReadDocument, lid: str, day: int, rules: RecicLRules) -> str | None:
    """Why nodule ``lid`` scanned on ``day`` is too soon after its latest locoregional
    treatment to grade (``evaluation_min_days``, criteria.md §5.3), or None.  A treatment on the
    scan's own day is taken to follow it (the scan is the pre-treatment one)."""
    if rules.evaluation_min_days <= 0:
        return None
    done = [t for t in doc.treatments if t.is_locoregional and t.day is not None
            and t.day < day and (not t.lesion_ids or lid in t.lesion_ids)]
    if not done:
        return None
    last = max(done, key=lambda t: t.day or 0)
    gap = day - (last.day or 0)
    if gap >= rules.evaluation_min_days:
        return None
    return (f"not evaluable: scanned {gap} days after {last.kind.value} on day {last.day}, "
            f"sooner than the RECICL evaluation window ({rules.evaluation_min_days} days, "
            "evaluation_min_days; criteria.md §5.3)")


def classify_recicl(doc: ReadDocument, rules: RecicLRules = RECICL) -> CriterionResult:
    """Classify every follow-up of ``doc`` under RECICL (TE per nodule and overall)."""
    ids = _nodules(doc, rules)
    base = doc.baseline
    rows: list[TimePointResult] = []
    base_products: dict[str, Fraction] = {}
    for lid in ids:
        p = _product(base.lesion(lid), rules)  # type: ignore[arg-type]
        if p is not None:
            base_products[lid] = p
    base_sum = sum(base_products.values(), ZERO) if ids else None
    checks = []
    for lid in ids:
        if lid not in base_products:
            checks.append(f"nodule {lid}: no longest_diameter_mm × short_axis_mm at baseline; "
                          "RECICL needs both (it is NE at every follow-up)")
    extra = _extrahepatic(o for o in base.lesions
                          if o.role_for(rules.name) in (Role.TARGET, Role.NON_TARGET))
    if extra:
        checks.append(f"extrahepatic lesion(s) {extra} at baseline are not graded by RECICL, "
                      "which grades intrahepatic nodules only (criteria.md §5): the overall TE "
                      "ignores them; assess them with RECIST 1.1 (e.g. --criteria "
                      "recicl,recist1.1)")
    rows.append(TimePointResult(
        id=base.id, day=int(base.day or 0), sum=base_sum, change_from_baseline=None,
        change_from_nadir=None, target_response=None, non_target_response=None,
        new_lesions=False, response=None,
        reasons=(f"baseline: {len(ids)} intrahepatic nodule(s), sum of products "
                 f"{fmt_mm(base_sum, 'mm2')}",)))
    prev: TimePoint = base
    nadir = base_sum
    pd_day: int | None = None
    noted_new: set[str] = set()  # new lesions whose extrahepatic note is in the checks
    for tp in doc.timepoints[1:]:
        day = int(tp.day or 0)
        ref_tp = base if rules.reference == "baseline" else prev
        effects: list[NoduleEffect] = []
        pre_sum = post_sum = nec_area = ZERO
        ne = False
        for lid in ids:
            o_pre = ref_tp.lesion(lid)
            o_post = tp.lesion(lid)
            frags = [f for f in tp.lesions if f.split_from == lid]
            pre = _product(o_pre, rules) if o_pre is not None else None
            post: Fraction | None
            if o_post is None and not frags:
                post = None
            else:
                parts = ([o_post] if o_post is not None else []) + frags
                vals = [_product(p, rules) for p in parts]
                post = None if any(v is None for v in vals) else sum(vals, ZERO)  # type: ignore[arg-type]
            early = _too_soon(doc, lid, day, rules)
            if early is not None:
                ne = True
                effects.append(NoduleEffect(lid, "NE", pre, post, None, None, None,
                                            f"{lid}: {early}"))
                continue
            if (o_post is not None and o_post.status is LesionStatus.NOT_EVALUABLE) or \
                    pre is None or post is None:
                ne = True
                effects.append(NoduleEffect(lid, "NE", pre, post, None, None, None,
                                            f"{lid}: not evaluable (missing product)"))
                continue
            main = o_post if o_post is not None else frags[0]
            nec = _necrosis(main, post)
            eff = treatment_effect(pre, post, nec, rules, _zone(main), lid)
            effects.append(eff)
            pre_sum += pre
            post_sum += post
            nec_area += post * nec
        reasons = [e.reason for e in effects]
        new_ids = [o.lesion_id for o in tp.lesions
                   if o.role_for(rules.name) is Role.NEW and o.is_intrahepatic
                   and o.status is not LesionStatus.ABSENT and not o.equivocal]
        if not ids:
            overall_te = "NE"
            reasons.append("no intrahepatic nodule at baseline")
        elif ne:
            overall_te = "NE"
            reasons.append("overall NE: a nodule is not evaluable")
        elif rules.aggregation == "worst_nodule":
            overall_te = min((e.te for e in effects), key=lambda t: _TE_RANK[t[:3]])
            grade = ""
            if overall_te.startswith("TE4"):
                overall_te, grade = _te4_grade(effects)
                grade = "; " + grade
            reasons.append(f"overall {overall_te}: worst nodule (aggregation=worst_nodule)"
                           + grade)
        else:
            agg_nec = nec_area / post_sum if post_sum else ZERO
            agg = treatment_effect(pre_sum, post_sum, agg_nec, rules, None, "all nodules")
            overall_te = agg.te
            why = agg.reason.split(': ', 2)[-1]
            if overall_te.startswith("TE4") and not all(e.te.startswith("TE4") for e in effects):
                overall_te = "TE3"
                why += ("; overall TE4 needs TE4 in every nodule (2019 revision): "
                        + ", ".join(f"{e.lesion_id} {e.te}" for e in effects
                                    if not e.te.startswith("TE4")))
            elif overall_te == "TE4":
                overall_te, grade = _te4_grade(effects)
                why += "; " + grade
            reasons.append(f"overall {overall_te} on summed products "
                           f"({fmt_mm(pre_sum, 'mm2')} -> {fmt_mm(post_sum, 'mm2')}): " + why)
        new_here = [o for o in tp.lesions if o.role_for(rules.name) is Role.NEW]
        extra_new = _extrahepatic(new_here)
        if extra_new:
            note = (f"new extrahepatic lesion(s) {extra_new} on day {day}: not graded by RECICL "
                    "(it grades intrahepatic nodules only); assess them with RECIST 1.1")
            reasons.append(note)
            first_seen = _extrahepatic(o for o in new_here if o.lesion_id not in noted_new)
            if first_seen:  # (the read's checks name each once, where it first appears)
                checks.append(note if first_seen == extra_new else note.replace(extra_new, first_seen, 1))
            noted_new.update(o.lesion_id for o in new_here)
        new_pd = bool(new_ids)
        if new_pd:
            if rules.new_lesion == "overall_pd":
                reasons.append(f"new intrahepatic nodule(s) {', '.join(new_ids)}: overall TE1 "
                               "/ PD (new_lesion=overall_pd)")
                overall_te = "TE1"
            else:
                reasons.append(f"new intrahepatic nodule(s) {', '.join(new_ids)} reported "
                               "separately; treated nodules keep their TE (new_lesion=separate)")
        response = TE_TO_RESPONSE.get(overall_te[:3], "NE")
        if response == "PD" and pd_day is None:
            pd_day = day
        cur = None if ne or not ids else post_sum
        chg_b = (cur - base_sum) / base_sum if cur is not None and base_sum else None
        chg_n = (cur - nadir) / nadir if cur is not None and nadir else None
        if cur is not None and nadir is not None:
            nadir = min(nadir, cur)
        rows.append(TimePointResult(
            id=tp.id, day=day, sum=cur, change_from_baseline=chg_b, change_from_nadir=chg_n,
            target_response=overall_te, non_target_response=None, new_lesions=new_pd,
            response=response, reasons=tuple(reasons),
            extra={"te": overall_te, "nodules": [e.to_json() for e in effects]}))
        prev = tp
    bor_u, bor_c, bor_reasons = best_overall_response(
        [(r.day, r.response) for r in rows[1:]], rules)
    start_u, start_c = response_start_days([(r.day, r.response) for r in rows[1:]], rules)
    return CriterionResult(
        criterion=rules.name, sum_unit="mm2", timepoints=tuple(rows), bor_unconfirmed=bor_u,
        bor_confirmed=bor_c, pd_day=pd_day, bor_reasons=tuple(bor_reasons),
        checks=tuple(checks), parameters=rules.to_json(), first_response_day_unconfirmed=start_u,
        first_response_day_confirmed=start_c)

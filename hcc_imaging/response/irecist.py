"""iRECIST (Seymour et al., Lancet Oncol 2017) on top of the RECIST 1.1 classifier.

State machine (criteria.md §6):

* Without a pending iUPD, a time point meeting RECIST 1.1 PD (target, non-target or new
  lesions) is **iUPD**; otherwise iCR / iPR / iSD / NON-iCR/NON-iUPD / NE as RECIST says.
* At the next assessment (≥ ``confirmation_min_days`` after the iUPD, unless the scan was done
  for new symptoms **and** shows an additional new lesion) progression is confirmed — **iCPD**
  — when the category that caused iUPD worsens further (target sum +≥ 5 mm since iUPD,
  cumulative; any non-target increase; NLT sum +≥ 5 mm, any NLNT increase or further new
  lesions), or RECIST 1.1 PD is newly met in a category that was not part of the iUPD.  A
  (new-lesion) non-target *increases* when recorded ``further_increase``, or
  ``unequivocal_progression`` when it was not so at the iUPD; one that stays
  ``unequivocal_progression`` is unchanged: no further increase (§6.2 "if nothing further
  increases, the time point remains iUPD"), and still PD, so no reset either.
* If PD criteria are no longer met (iSD / iPR / iCR vs the nadir), iUPD is not confirmed and
  the bar **resets**; otherwise the time point stays **iUPD** (also when a further increase
  comes too early to confirm).
* iBOR: best of iCR > iPR > iSD (even after a reset iUPD); else iCPD if confirmed; else iUPD.

New lesions are categorised NLT (measurable: ≥ 10 mm, nodes SA ≥ 15 mm; ≤ 5 in total, ≤ 2 per
organ) or NLNT unless ``irecist_category`` is given; they never enter the target sum.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from hcc_imaging.response.bor import confirmed_bor, response_start_days, unconfirmed_bor
from hcc_imaging.response.classify import classify_detailed, fmt_mm
from hcc_imaging.response.clinical import MARKER_LIMITS_JAPAN, MarkerLimits
from hcc_imaging.response.document import (
    IRecistCategory,
    LesionStatus,
    ReadDocument,
    Role,
    exact,
)
from hcc_imaging.response.new_lesions import is_normal_node
from hcc_imaging.response.results import CriterionResult, TimePointResult
from hcc_imaging.response.rules import IRECIST, IRecistRules, RuleSet

__all__ = ["classify_irecist", "new_lesion_categories"]

_I = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NE": "NE", "NON-CR/NON-PD": "NON-iCR/NON-iUPD",
      "PD": "iUPD"}


def new_lesion_categories(doc: ReadDocument, rules: IRecistRules = IRECIST) -> dict[str, IRecistCategory]:
    """NLT / NLNT per new-lesion id, in order of first appearance (explicit category wins)."""
    out: dict[str, IRecistCategory] = {}
    per: Counter[str] = Counter()
    n_nlt = 0
    for tp in doc.timepoints[1:]:
        for o in tp.lesions:
            if o.role_for(rules.name) is not Role.NEW or o.lesion_id in out:
                continue
            if is_normal_node(o, rules.recist_rules):
                continue  # not a new lesion (yet): categorised when it becomes pathological
            if o.irecist_category is not None:
                cat = o.irecist_category
            else:
                if o.is_lymph_node:
                    size = o.short_axis_mm
                    mn = rules.nlt_min_node_short_axis_mm
                else:
                    size = o.longest_diameter_mm
                    mn = rules.nlt_min_diameter_mm
                measurable = (o.status is LesionStatus.MEASURED and size is not None
                              and exact(size) >= mn)
                room = (n_nlt < rules.nlt_max_total
                        and per[o.organ_key] < rules.nlt_max_per_organ)
                cat = IRecistCategory.NLT if measurable and room else IRecistCategory.NLNT
            if cat is IRecistCategory.NLT:
                n_nlt += 1
                per[o.organ_key] += 1
            out[o.lesion_id] = cat
    return out


@dataclass
class _IUPD:
    day: int
    tp_id: str
    categories: set[str]
    target_sum: Fraction
    nlt_sum: Fraction
    new_ids: set[str] = field(default_factory=set)
    #: Non-targets / NLNTs already recorded as progressed at the iUPD time point: staying
    #: ``unequivocal_progression`` later is no *further* increase (criteria.md §6.2).
    progressed_nt: set[str] = field(default_factory=set)
    progressed_nlnt: set[str] = field(default_factory=set)


def _signed_mm(value: Fraction) -> str:
    """``+4 mm``, ``-2 mm``, ``0 mm``: a change in mm with its sign."""
    return ("+" if value > 0 else "") + fmt_mm(value)


def _nlt_sum(tp_lesions: tuple, cats: dict[str, IRecistCategory]) -> Fraction:  # type: ignore[type-arg]
    total = Fraction(0)
    for o in tp_lesions:
        if cats.get(o.lesion_id) is IRecistCategory.NLT and o.status is not LesionStatus.ABSENT:
            if o.status is LesionStatus.TOO_SMALL:
                total += 5
                continue
            size = o.short_axis_mm if o.is_lymph_node else o.longest_diameter_mm
            if size is not None:
                total += exact(size)
    return total


def classify_irecist(doc: ReadDocument, rules: IRecistRules = IRECIST,
                     marker_limits: MarkerLimits = MARKER_LIMITS_JAPAN) -> CriterionResult:
    """Classify ``doc`` under iRECIST (labels iCR, iPR, iSD, iUPD, iCPD, NE); ``marker_limits``
    as :func:`~hcc_imaging.response.classify.classify`'s."""
    base_rules = rules.recist_rules
    base_result, details = classify_detailed(doc, base_rules, marker_limits)
    cats = new_lesion_categories(doc, rules)
    rows: list[TimePointResult] = [base_result.timepoints[0]]
    state: _IUPD | None = None
    confirmed = False
    pd_day: int | None = None
    seen_new: set[str] = set()
    labels: list[tuple[int, str]] = []
    for row, det in zip(base_result.timepoints[1:], details[1:]):
        tp = det.timepoint
        day = row.day
        reasons = list(row.reasons)
        # The new lesions that count under RECIST 1.1 here (unequivocal, evaluable, nodes
        # pathological): only these can be "further new lesions".
        new_now = set(det.new_lesion_ids)
        nlnt_progressed = {o.lesion_id for o in tp.lesions
                           if cats.get(o.lesion_id) is IRecistCategory.NLNT
                           and o.status in (LesionStatus.FURTHER_INCREASE,
                                            LesionStatus.UNEQUIVOCAL_PROGRESSION)}
        pd_cats: set[str] = set()
        if det.target_response == "PD":
            pd_cats.add("target")
        if det.non_target_response == "PD":
            pd_cats.add("non_target")
        if det.new_lesion_ids:
            pd_cats.add("new")
        nlt_sum = _nlt_sum(tp.lesions, cats)
        extra: dict[str, object] = {"new_lesion_target_sum": float(nlt_sum)}
        if confirmed:
            label = "iCPD"
            reasons.append("progression already confirmed (iCPD)")
        elif state is None:
            if pd_cats:
                state = _IUPD(day, tp.id, pd_cats, det.known_sum, nlt_sum, set(new_now),
                              set(det.non_target_increase_ids), nlnt_progressed)
                label = "iUPD"
                reasons.append(f"iUPD: RECIST 1.1 PD by {', '.join(sorted(pd_cats))}; needs "
                               "confirmation at the next assessment (4–8 weeks)")
            else:
                label = _I.get(str(det.overall), "NE")
        else:
            triggers: list[str] = []
            not_met: list[str] = []  # why each iUPD category does not confirm (for "stays iUPD")
            cur_target = det.known_sum
            if "target" in state.categories:
                inc = cur_target - state.target_sum
                strict = (rules.icpd_strict_in_target_nontarget_row
                          and state.categories == {"target", "non_target"})
                ok = inc > rules.icpd_min_increase_mm if strict else inc >= rules.icpd_min_increase_mm
                if ok:
                    triggers.append(
                        f"target sum +{fmt_mm(inc)} since iUPD ({fmt_mm(state.target_sum)} -> "
                        f"{fmt_mm(cur_target)}; rule {'>' if strict else '≥'} "
                        f"{fmt_mm(rules.icpd_min_increase_mm)}"
                        + (", Table 2 'target + non-target iUPD' row" if strict else "") + ")")
                else:
                    not_met.append(
                        f"target sum {_signed_mm(inc)} since {state.tp_id} "
                        f"({fmt_mm(state.target_sum)} -> {fmt_mm(cur_target)}) is "
                        + (f"below the iCPD threshold of {'> ' if strict else ''}"
                           f"{fmt_mm(rules.icpd_min_increase_mm)}" if inc > 0 else
                           "no further increase")
                        + (" (Table 2 'target + non-target iUPD' row)" if strict else ""))
            # A further increase: status further_increase, or a non-target that progressed
            # after the iUPD; one still unequivocal_progression as at the iUPD is not.
            nt_inc = [i for i in det.non_target_increase_ids
                      if i in det.non_target_further_ids or i not in state.progressed_nt]
            if "non_target" in state.categories and nt_inc:
                triggers.append("non-target increase: " + ", ".join(nt_inc))
            elif "non_target" in state.categories:
                unchanged = sorted(set(det.non_target_increase_ids) & state.progressed_nt)
                not_met.append("no further non-target increase recorded (status "
                               "further_increase, or unequivocal_progression of a non-target "
                               f"not progressed at {state.tp_id})"
                               + (f"; {', '.join(unchanged)} still unequivocal_progression as "
                                  f"at {state.tp_id} is no further increase" if unchanged else ""))
            if "new" in state.categories:
                inc_nlt = nlt_sum - state.nlt_sum
                if inc_nlt >= rules.icpd_min_increase_mm:
                    triggers.append(f"new-lesion-target sum +{fmt_mm(inc_nlt)} since iUPD")
                else:
                    not_met.append(
                        f"new-lesion-target sum {_signed_mm(inc_nlt)} since {state.tp_id} "
                        f"({fmt_mm(state.nlt_sum)} -> {fmt_mm(nlt_sum)}) is "
                        + (f"below the iCPD threshold of {fmt_mm(rules.icpd_min_increase_mm)}"
                           if inc_nlt > 0 else "no further increase"))
                nlnt_inc = sorted(
                    o.lesion_id for o in tp.lesions
                    if o.lesion_id in nlnt_progressed
                    and (o.status is LesionStatus.FURTHER_INCREASE
                         or o.lesion_id not in state.progressed_nlnt))
                if nlnt_inc:
                    triggers.append(f"new-lesion non-target increase: {', '.join(nlnt_inc)}")
                else:
                    not_met.append("no new-lesion non-target increase")
            further_new = sorted(new_now - state.new_ids - seen_new)
            if "new" in state.categories and further_new:
                triggers.append(f"further new lesion(s) {', '.join(further_new)}")
            elif "new" in state.categories:
                not_met.append("no further new lesion")
            for cat in sorted(pd_cats - state.categories):
                if cat == "new" and not further_new:
                    continue
                triggers.append(f"RECIST 1.1 PD newly met by {cat} (not part of the iUPD)")
            elapsed = day - state.day
            early = elapsed < rules.confirmation_min_days
            exception = early and tp.scan_for_new_symptoms and bool(further_new)
            if triggers and (not early or exception):
                label = "iCPD"
                confirmed = True
                pd_day = state.day
                reasons.append(f"iCPD: iUPD of {state.tp_id} (day {state.day}) confirmed — "
                               + "; ".join(triggers)
                               + (" (scan < 4 weeks done for new symptoms with an additional "
                                  "new lesion)" if exception else ""))
            elif triggers:
                # a further increase too early to confirm is not "PD criteria no longer met"
                label = "iUPD"
                reasons.append(f"stays iUPD: scan {elapsed} days after iUPD (< "
                               f"{rules.confirmation_min_days}) cannot confirm iCPD")
                state.new_ids |= new_now
            elif not pd_cats and det.overall == "NE":
                label = "NE"
                reasons.append(f"NE: the iUPD of {state.tp_id} is neither confirmed nor reset "
                               "by a non-evaluable assessment")
            elif not pd_cats:
                label = _I.get(str(det.overall), "NE")
                reasons.append(f"iUPD of {state.tp_id} not confirmed: PD criteria no longer "
                               f"met, the bar is reset ({label})")
                seen_new |= state.new_ids
                state = None
            else:
                label = "iUPD"
                reasons.append(f"stays iUPD: the iUPD of {state.tp_id} is not confirmed — "
                               + "; ".join(not_met))
                state.new_ids |= new_now
        extra["irecist_state"] = ("confirmed" if confirmed else
                                  "iUPD pending" if state is not None else "none")
        labels.append((day, label))
        rows.append(TimePointResult(
            id=row.id, day=day, sum=row.sum, change_from_baseline=row.change_from_baseline,
            change_from_nadir=row.change_from_nadir,
            target_response=_I.get(str(row.target_response)) if row.target_response else None,
            non_target_response=(_I.get(str(row.non_target_response))
                                 if row.non_target_response else None),
            new_lesions=row.new_lesions, response=label, reasons=tuple(reasons), extra=extra))

    ibor_u, ibor_c, bor_reasons = _ibor(labels, base_rules)
    start_u, start_c = response_start_days(_before_icpd(labels), base_rules)
    return CriterionResult(
        criterion=rules.name, sum_unit="mm", timepoints=tuple(rows), bor_unconfirmed=ibor_u,
        bor_confirmed=ibor_c, pd_day=pd_day, bor_reasons=tuple(bor_reasons),
        checks=base_result.checks, parameters=rules.to_json(),
        first_response_day_unconfirmed=start_u, first_response_day_confirmed=start_c)


_BACK = {"iCR": "CR", "iPR": "PR", "iSD": "SD", "NON-iCR/NON-iUPD": "NON-CR/NON-PD", "NE": "NE"}


def _icpd_index(labels: list[tuple[int, str]]) -> int:
    return next((i for i, (_, lab) in enumerate(labels) if lab == "iCPD"), len(labels))


def _before_icpd(labels: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The labels the iBOR searches, in RECIST spelling: those before iCPD, iUPD left out."""
    return [(day, _BACK.get(lab, "NE")) for day, lab in labels[:_icpd_index(labels)]
            if lab != "iUPD"]


def _ibor(labels: list[tuple[int, str]], rules: RuleSet) -> tuple[str, str, list[str]]:
    """iBOR: best iCR > iPR > iSD before iCPD (iUPD does not end the search); else iCPD if
    confirmed; else iUPD if any; else NE.  The confirmed variant requires iCR/iPR to be
    confirmed (next evaluable non-iUPD assessment ≥ ``rules.confirmation_min_days`` later;
    ``rules`` is :attr:`IRecistRules.recist_rules`, the iRECIST read's own window)."""
    before = _before_icpd(labels)
    icpd = any(lab == "iCPD" for _, lab in labels)
    any_iupd = any(lab == "iUPD" for _, lab in labels[:_icpd_index(labels)])
    out = []
    reasons: list[str] = []
    for fn in (unconfirmed_bor, confirmed_bor):
        best, rs = fn(before, rules)
        if best in ("CR", "PR", "SD", "NON-CR/NON-PD"):
            lab = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NON-CR/NON-PD": "NON-iCR/NON-iUPD"}[best]
        elif icpd:
            lab = "iCPD"
        elif any_iupd:
            lab = "iUPD"
        else:
            lab = "NE"
        out.append(lab)
        reasons.extend(rs)
    reasons.append(f"iBOR {out[0]} (unconfirmed), {out[1]} (confirmed)")
    return out[0], out[1], reasons

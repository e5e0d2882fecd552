"""New lesions: which count as PD, and which known ones a time point leaves out.

* :func:`new_lesion_counts` — one new lesion under a rule set: unequivocal (an equivocal one
  waits for confirmation), not-evaluable ones not counted, mRECIST cytology / porta-hepatis /
  intrahepatic HCC-pattern rules, and the RECIST 1.1 **new lymph node** rule: a node is
  pathological only at a short axis ≥ ``node_normal_short_axis_mm`` (10 mm); a new node below
  it is not a new lesion (RECIST 1.1 sec. 3.1 "SA < 10 mm: normal"; RECIST WG FAQ "New lymph
  node lesions": "nodes that have a short axis < 10 mm are considered non-pathological").
  Rule sets that judge nodes by their short axis (``node_cr_by_short_axis``: RECIST 1.1,
  mRECIST, EASL, iRECIST's base) apply it; WHO ("disappearance of all disease") does not.
* :func:`remember_first_size` — a new lesion's first recorded LD: under mRECIST an atypical
  intrahepatic new lesion is PD after ≥ 10 mm interval growth, ``interval_growth_mm`` when
  the reader recorded it, else its LD now minus that first LD.
* :func:`unlisted_new_lesions` — a new lesion recorded at an earlier time point that a later
  time point does not list: that time point's new-lesion assessment is not all evaluated
  (criteria.md: the time point is NE unless PD is proven otherwise), as for a missing target or
  non-target.  A reader says a new lesion resolved with ``status: absent``.
"""

from __future__ import annotations

from fractions import Fraction

from hcc_imaging.response.document import (
    LesionKind,
    LesionObservation,
    LesionStatus,
    Role,
    TimePoint,
    exact,
)
from hcc_imaging.response.formatting import fmt_mm
from hcc_imaging.response.rules import NewLesionRule, RuleSet

__all__ = ["is_normal_node", "new_lesion_counts", "remember_first_size", "remember_new_lesions",
           "unlisted_new_lesions"]

_NODE_FAQ = "RECIST 1.1; RECIST WG FAQ 'New lymph node lesions'"


#: A new lesion's first recorded size: (LD in mm, id of the time point that recorded it).
FirstSize = tuple[Fraction, str]


def _new_ld(o: LesionObservation, rules: RuleSet) -> Fraction | None:
    if o.status is LesionStatus.TOO_SMALL:
        return rules.too_small_default_mm
    return exact(o.longest_diameter_mm) if o.longest_diameter_mm is not None else None


def remember_first_size(first: dict[str, FirstSize], o: LesionObservation, tp_id: str,
                        rules: RuleSet) -> None:
    """Record the size of new lesion ``o`` at ``tp_id`` if it is the first one recorded (its
    mRECIST interval growth is measured from it)."""
    if o.lesion_id not in first and o.status is not LesionStatus.NOT_EVALUABLE:
        ld = _new_ld(o, rules)
        if ld is not None:
            first[o.lesion_id] = (ld, tp_id)


def new_lesion_counts(o: LesionObservation, rules: RuleSet,
                      first: FirstSize | None = None) -> tuple[bool, str]:
    """Whether new lesion ``o`` counts as a new lesion (PD) under ``rules``, and why.

    ``first``: the lesion's first recorded size (:func:`remember_first_size`).  Under mRECIST
    an intrahepatic new lesion's interval growth is ``interval_growth_mm`` when the reader
    recorded it, else its LD now minus that first LD (criteria.md §3.1: a new lesion without
    the typical pattern is HCC once it grows ≥ 10 mm on later scans).
    """
    lid = o.lesion_id
    if o.equivocal:
        return False, f"new lesion {lid} is equivocal: not PD until a later scan confirms it"
    if o.status is LesionStatus.NOT_EVALUABLE:
        return False, f"new lesion {lid} not evaluable: not counted"
    if o.kind in (LesionKind.EFFUSION, LesionKind.ASCITES) and rules.effusion_requires_cytology:
        if o.cytology_malignant is not True:
            return False, (f"new {o.kind.value} {lid}: not PD without malignant cytology "
                           "(mRECIST)")
        return True, f"new {o.kind.value} {lid} with malignant cytology"
    if o.is_lymph_node and o.porta_hepatis and rules.porta_hepatis_rule:
        sa = exact(o.short_axis_mm) if o.short_axis_mm is not None else None
        if sa is None or sa < rules.porta_hepatis_min_short_axis_mm:
            return False, (f"new porta-hepatis node {lid} SA {fmt_mm(sa)} < "
                           f"{fmt_mm(rules.porta_hepatis_min_short_axis_mm)}: not malignant "
                           "(mRECIST)")
    if o.is_lymph_node and rules.node_cr_by_short_axis:
        counts, why = _new_node(o, rules)
        if why is not None:
            return counts, why
    if (rules.new_lesion_rule is NewLesionRule.HCC_PATTERN and o.is_intrahepatic
            and o.kind is LesionKind.LESION):
        ld = _new_ld(o, rules)
        growth = exact(o.interval_growth_mm) if o.interval_growth_mm is not None else None
        grown = "" if growth is None else f"interval growth {fmt_mm(growth)} (recorded)"
        if growth is None and first is not None and ld is not None:
            growth = ld - first[0]
            grown = (f"grew from {fmt_mm(first[0])} at {first[1]} to {fmt_mm(ld)}, "
                     f"{'+' if growth > 0 else ''}{fmt_mm(growth)}")
        mn = rules.new_lesion_min_diameter_mm
        if growth is not None and growth >= rules.new_lesion_min_interval_growth_mm:
            return True, (f"new intrahepatic lesion {lid}: {grown} ≥ "
                          f"{fmt_mm(rules.new_lesion_min_interval_growth_mm)} interval growth "
                          "(mRECIST)")
        if ld is not None and ld >= mn and o.typical_hcc_pattern:
            return True, (f"new intrahepatic lesion {lid} {fmt_mm(ld)} ≥ {fmt_mm(mn)} with the "
                          "typical HCC pattern (mRECIST)")
        growth_mm = fmt_mm(rules.new_lesion_min_interval_growth_mm)
        if ld is None:
            return False, (f"new intrahepatic lesion {lid} has no longest_diameter_mm: not PD "
                           f"(mRECIST counts a new intrahepatic lesion ≥ {fmt_mm(mn)} with the "
                           f"typical pattern, or after ≥ {growth_mm} interval growth); record "
                           "its diameter")
        if ld < mn:
            return False, (f"new intrahepatic lesion {lid} {fmt_mm(ld)} < {fmt_mm(mn)}: not PD "
                           "(mRECIST)")
        if o.typical_hcc_pattern is None:
            # Not recorded is not shown: mRECIST needs the pattern (or growth) to call it HCC.
            return False, (f"new intrahepatic lesion {lid} {fmt_mm(ld)}: typical pattern not "
                           "recorded (typical_hcc_pattern): not PD, mRECIST needs arterial "
                           f"hyperenhancement + washout or ≥ {growth_mm} interval growth; "
                           "record typical_hcc_pattern (true / false) or interval_growth_mm")
        so_far = "" if growth is None else f" ({grown} so far)"
        return False, (f"new intrahepatic lesion {lid} {fmt_mm(ld)} without the typical "
                       "pattern (arterial hyperenhancement + washout): not PD until ≥ "
                       f"{growth_mm} interval growth (mRECIST){so_far}")
    return True, f"new lesion {lid} (unequivocal)"


def is_normal_node(o: LesionObservation, rules: RuleSet) -> bool:
    """A lymph node below the pathological short axis (``too_small``, or SA <
    ``node_normal_short_axis_mm``) under a rule set that judges nodes by their short axis."""
    if not (o.is_lymph_node and rules.node_cr_by_short_axis):
        return False
    if o.status is LesionStatus.TOO_SMALL:
        return True
    return o.short_axis_mm is not None and exact(o.short_axis_mm) < rules.node_normal_short_axis_mm


def _new_node(o: LesionObservation, rules: RuleSet) -> tuple[bool, str | None]:
    """The RECIST 1.1 size rule for a new lymph node: (counts, reason), reason None when the
    rule does not decide (the other rules then apply)."""
    lid = o.lesion_id
    normal = rules.node_normal_short_axis_mm
    if o.status is LesionStatus.TOO_SMALL:
        return False, (f"new lymph node {lid} too small to measure: short axis < "
                       f"{fmt_mm(normal)} is not pathological, not a new lesion ({_NODE_FAQ})")
    if o.short_axis_mm is None:
        return True, (f"new lymph node {lid} has no short_axis_mm: counted as a new lesion as "
                      f"recorded; record its short axis (< {fmt_mm(normal)} is not "
                      "pathological)")
    sa: Fraction = exact(o.short_axis_mm)
    if sa < normal:
        return False, (f"new lymph node {lid} short axis {fmt_mm(sa)} < {fmt_mm(normal)}: not "
                       f"pathological, not a new lesion ({_NODE_FAQ})")
    if sa < rules.min_target_node_short_axis_mm:
        return True, (f"new lymph node {lid} short axis {fmt_mm(sa)} ≥ {fmt_mm(normal)}: "
                      f"pathological, a new lesion (PD). The WG FAQ suggests re-evaluating a "
                      f"node < {fmt_mm(rules.min_target_node_short_axis_mm)} at the next "
                      "assessment when it is the only evidence of progression: record it "
                      "equivocal to do so")
    return True, None


def unlisted_new_lesions(known: dict[str, str], tp: TimePoint, roots: dict[str, str]) -> list[str]:
    """The new lesions in ``known`` (id -> id of the time point that first recorded it) that
    ``tp`` does not list, itself or as a fragment split from it."""
    listed = {roots.get(o.lesion_id, o.lesion_id) for o in tp.lesions}
    return [lid for lid in known if lid not in listed]


def remember_new_lesions(known: dict[str, str], tp: TimePoint, crit: str,
                         roots: dict[str, str]) -> None:
    """Add the new lesions (role ``new`` under ``crit``) that ``tp`` records to ``known``."""
    for o in tp.lesions:
        if o.role_for(crit) is Role.NEW:
            known.setdefault(roots.get(o.lesion_id, o.lesion_id), tp.id)

"""The shared time-point classifier (RECIST 1.1, mRECIST, EASL, WHO as rule data).

One function walks a read's time points in order and, for each, decides

1. the **target response** from the sum of the rule set's measure (``RuleSet.measure``):
   CR (all targets gone / nodes < 10 mm), PD (≥ ``pd_threshold_frac`` **and** ≥
   ``pd_abs_floor`` above the nadir — the smallest earlier sum, baseline included — or, with
   ``pd_per_lesion``, one lesion), PR (≥ ``pr_threshold_frac`` below **baseline**), else SD;
   NE when a target is missing unless the measured ones already prove PD (RECIST 1.1 4.3.5);
2. the **non-target response** (CR, NON-CR/NON-PD, PD, NE) with the HCC rules (cytology for
   effusion / ascites, porta-hepatis nodes ≥ 20 mm, enhancement-based CR);
3. whether **new lesions** prove PD (unequivocal; mRECIST intrahepatic ≥ 10 mm with the
   typical pattern or ≥ 10 mm interval growth);
4. the **overall response** from RECIST 1.1 Tables 1–2 (criteria.md §2.5), then reappearance
   after CR and confirmed-PR continuation as the rule set says; with
   ``non_target_cr_requires_normal_markers`` a CR needs the tumour markers normalised
   (:mod:`hcc_imaging.response.tumour_markers`), else PR, also without non-targets.

A target left out of a time point, or one of its fragments recorded earlier
(:mod:`hcc_imaging.response.fragments`), is not evaluated there: NE unless the measured ones
prove PD.

All arithmetic is exact (:class:`fractions.Fraction` of the decimals as written).  Each result
carries ``reasons``: which rule fired, with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.bor import best_overall_response, response_start_days
from hcc_imaging.response.document import (
    LesionObservation,
    LesionStatus,
    ReadDocument,
    Role,
    TimePoint,
    exact,
)
from hcc_imaging.response.formatting import fmt_change, fmt_mm, fmt_pct
from hcc_imaging.response.fragments import (
    fragments_recorded_before,
    missing_fragments,
    split_roots,
)
from hcc_imaging.response.new_lesions import (
    FirstSize,
    new_lesion_counts,
    remember_first_size,
    remember_new_lesions,
    unlisted_new_lesions,
)
from hcc_imaging.response.non_targets import non_target_state
from hcc_imaging.response.results import CriterionResult, Response, TimePointResult
from hcc_imaging.response.rules import (
    ConfirmationScan,
    PdReference,
    Reappearance,
    RuleSet,
)
from hcc_imaging.response.targets import check_targets, porta_hepatis_target_errors
from hcc_imaging.response.clinical import MARKER_LIMITS_JAPAN, MarkerLimits
from hcc_imaging.response.tumour_markers import markers_normal_at

__all__ = [
    "classify",
    "classify_sums",
    "overall_response",
    "meets_pd",
    "fmt_mm",
    "fmt_pct",
    "fmt_change",
    "TimePointDetail",
    "classify_detailed",
]

R = Response
ZERO = Fraction(0)
#: :func:`hcc_imaging.response.fragments.fragments_recorded_before`
Earlier = dict[str, dict[str, tuple[tuple[str, str], ...]]]


def meets_pd(current: Fraction, reference: Fraction, rules: RuleSet) -> bool:
    """PD by size: increase ≥ (or >) ``pd_threshold_frac`` of ``reference`` **and** ≥
    ``pd_abs_floor`` (in the sum's unit).  From a reference of 0 any increase that meets the
    floor counts (infinite relative increase)."""
    increase = current - reference
    if increase <= 0 or increase < rules.pd_abs_floor:
        return False
    if reference == 0:
        return True
    frac = increase / reference
    return frac >= rules.pd_threshold_frac if rules.pd_inclusive else frac > rules.pd_threshold_frac


def meets_pr(current: Fraction, baseline: Fraction, rules: RuleSet) -> bool:
    """PR by size: decrease ≥ (or >) ``pr_threshold_frac`` of the **baseline** sum."""
    if baseline <= 0:
        return False
    frac = (baseline - current) / baseline
    return frac >= rules.pr_threshold_frac if rules.pr_inclusive else frac > rules.pr_threshold_frac


def classify_sums(
    baseline_sum: Fraction | float | int,
    nadir_sum: Fraction | float | int,
    current_sum: Fraction | float | int,
    rules: RuleSet,
) -> Response:
    """Target response from sums alone (no CR test, no missing lesions): PD vs nadir (or
    baseline per ``pd_reference``), then PR vs baseline, else SD.

    >>> from hcc_imaging.response.rules import RECIST_1_1
    >>> classify_sums(33.0, 33.0, 23.1, RECIST_1_1)
    <Response.PR: 'PR'>
    """
    b, n, c = exact(baseline_sum), exact(nadir_sum), exact(current_sum)
    ref = n if rules.pd_reference is PdReference.NADIR else b
    if meets_pd(c, ref, rules):
        return R.PD
    if meets_pr(c, b, rules):
        return R.PR
    return R.SD


def overall_response(
    target: str | None, non_target: str | None, new_lesions: bool, other_pd: bool = False
) -> Response:
    """Overall time-point response (RECIST 1.1 Tables 1 and 2; mRECIST uses the same table).

    ``target`` / ``non_target`` are None when the patient has no such disease at baseline.
    """
    if new_lesions or other_pd or target == R.PD or non_target == R.PD:
        return R.PD
    if target is None:
        if non_target is None:
            return R.NE
        return Response(non_target)
    if target == R.CR:
        return R.CR if non_target in (R.CR, None) else R.PR
    if target == R.PR:
        return R.PR
    if target == R.SD:
        return R.SD
    return R.NE


@dataclass(frozen=True, slots=True)
class TimePointDetail:
    """What the classifier saw at one time point (used by iRECIST on top of RECIST 1.1)."""

    timepoint: TimePoint
    target_sum: Fraction | None
    known_sum: Fraction
    missing: tuple[str, ...]
    target_response: str | None
    non_target_response: str | None
    new_lesion_ids: tuple[str, ...]
    overall: str | None
    reasons: tuple[str, ...] = ()
    #: Non-targets recorded ``unequivocal_progression`` or ``further_increase`` ...
    non_target_increase_ids: tuple[str, ...] = field(default_factory=tuple)
    #: ... and those recorded ``further_increase`` (iRECIST: increased since the iUPD).
    non_target_further_ids: tuple[str, ...] = field(default_factory=tuple)


def _too_small(rules: RuleSet, area: bool) -> Fraction:
    d = rules.too_small_default_mm
    return d * d if area else d


def obs_value(obs: LesionObservation, rules: RuleSet, is_node: bool) -> tuple[Fraction | None, str]:
    """Size of one observation under the rule set's measure, or None with the reason."""
    lid = obs.lesion_id
    unit = "mm2" if rules.measure.is_area else "mm"
    if obs.merged_into is not None:
        return ZERO, f"{lid} merged into {obs.merged_into}: counts 0 {unit}"
    st = obs.status
    if st is LesionStatus.ABSENT:
        return ZERO, f"{lid} absent: 0 {unit}"
    if st is LesionStatus.NOT_EVALUABLE:
        return None, f"{lid} not evaluable"
    m = rules.measure
    area = m.is_area
    if m.is_viable and not is_node:
        vs = obs.viable_status
        if vs is LesionStatus.ABSENT or (obs.enhancing is False and obs.viable_diameter_mm is None):
            return ZERO, f"{lid} no viable (enhancing) tumour: 0 {unit}"
        if vs is LesionStatus.NOT_EVALUABLE:
            return None, f"{lid} viable part not evaluable"
        if vs is LesionStatus.TOO_SMALL or (
            st is LesionStatus.TOO_SMALL and obs.viable_diameter_mm is None
        ):
            v = _too_small(rules, area)
            return v, f"{lid} too small to measure: counts {fmt_mm(v, unit)}"
        vd = obs.viable_diameter_mm
        if vd is None:
            return None, (f"{lid} has no viable_diameter_mm (needed by {rules.name}); record "
                          "it, or set viable_status")
        if not area:
            return exact(vd), f"{lid} viable {fmt_mm(exact(vd))}"
        if vd == 0:
            return ZERO, f"{lid} no viable tumour: 0 mm2"
        vs_ = obs.viable_short_axis_mm
        if vs_ is None:
            return None, (f"{lid} has no viable_short_axis_mm (needed by {rules.name} for the "
                          "bidimensional product)")
        v = exact(vd) * exact(vs_)
        return v, f"{lid} viable {fmt_mm(exact(vd), '')}x {fmt_mm(exact(vs_), '')}= {fmt_mm(v, 'mm2')}"
    if st is LesionStatus.TOO_SMALL:
        v = _too_small(rules, area)
        return v, f"{lid} too small to measure: counts {fmt_mm(v, unit)}"
    ld, sa = obs.longest_diameter_mm, obs.short_axis_mm
    if not area:
        if is_node:
            if sa is None:
                return None, f"node {lid} has no short_axis_mm (nodes are measured by short axis)"
            return exact(sa), f"node {lid} SA {fmt_mm(exact(sa))}"
        if ld is None:
            return None, f"{lid} has no longest_diameter_mm (needed by {rules.name})"
        return exact(ld), f"{lid} {fmt_mm(exact(ld))}"
    if ld is not None and ld == 0:
        return ZERO, f"{lid} 0 mm2"
    if ld is None or sa is None:
        return None, (f"{lid} needs longest_diameter_mm and short_axis_mm (perpendicular) for "
                      f"the {rules.name} product")
    v = exact(ld) * exact(sa)
    return v, f"{lid} {fmt_mm(exact(ld), '')}x {fmt_mm(exact(sa), '')}= {fmt_mm(v, 'mm2')}"


def _node_normal_below(o: LesionObservation, rules: RuleSet) -> Fraction:
    """The short axis below which target node ``o`` is no bar to target CR: a porta-hepatis
    node's malignant threshold under ``porta_hepatis_rule`` (mRECIST, 20 mm) with
    ``porta_hepatis_target_normal_below_min``, else ``node_normal_short_axis_mm`` (10 mm)."""
    if o.porta_hepatis and rules.porta_hepatis_rule and rules.porta_hepatis_target_normal_below_min:
        return max(rules.porta_hepatis_min_short_axis_mm, rules.node_normal_short_axis_mm)
    return rules.node_normal_short_axis_mm


def _node_short_axis(obs: LesionObservation | None, rules: RuleSet) -> Fraction | None:
    if obs is None:
        return None
    if obs.status is LesionStatus.ABSENT or obs.merged_into is not None:
        return ZERO
    if obs.status is LesionStatus.TOO_SMALL:
        return rules.too_small_default_mm
    return exact(obs.short_axis_mm) if obs.short_axis_mm is not None else None


def _target_value(
    tp: TimePoint, lid: str, rules: RuleSet, is_node: bool, roots: dict[str, str],
    earlier: Earlier,
) -> tuple[Fraction | None, list[str], LesionObservation | None, Fraction]:
    """(value, notes, the lesion's own observation, the value of its parts that were measured:
    a lower bound of the value when it is None, for "the measured lesions prove PD")."""
    obs = tp.lesion(lid)
    frags = [o for o in tp.lesions if roots.get(o.lesion_id) == lid]
    if obs is None and not frags:
        return None, [f"target {lid} not recorded at {tp.id}"], None, ZERO
    parts = ([obs] if obs is not None else []) + frags
    total = ZERO
    notes: list[str] = []
    complete = True
    for p in parts:
        v, why = obs_value(p, rules, is_node)
        notes.append(why)
        if v is None:
            complete = False
        else:
            total += v
    _, why = missing_fragments(lid, tp, earlier)
    if why is not None:
        notes.append(why)
        complete = False
    if not complete:
        return None, notes, obs, total
    if frags:
        unit = "mm2" if rules.measure.is_area else "mm"
        notes.append(f"{lid} split into {', '.join(f.lesion_id for f in frags)}: fragments "
                     f"summed = {fmt_mm(total, unit)}")
    return total, notes, obs, total


def classify(doc: ReadDocument, rules: RuleSet,
             marker_limits: MarkerLimits = MARKER_LIMITS_JAPAN) -> CriterionResult:
    """Classify every time point of ``doc`` under ``rules`` and derive the BOR.

    ``marker_limits`` are the tumour markers' upper limits a RECIST 1.1 CR is checked against
    when the read gives marker draws and no ``tumour_markers_normal`` flag (``assess`` passes its
    ``clinical_options``' limits, so the RECIST CR and the clinical CR read one AFP limit).

    Raises
    ------
    CriteriaError
        When a baseline target lacks the measurement this criterion needs.
    """
    return classify_detailed(doc, rules, marker_limits)[0]


def classify_detailed(
    doc: ReadDocument, rules: RuleSet, marker_limits: MarkerLimits = MARKER_LIMITS_JAPAN,
) -> tuple[CriterionResult, list[TimePointDetail]]:
    """:func:`classify` plus the per-time-point details (for iRECIST)."""
    crit = rules.name
    unit = rules.sum_unit
    base = doc.baseline
    roots = split_roots(doc)
    earlier = fragments_recorded_before(doc, roots)
    targets = [o for o in base.lesions
               if o.role_for(crit) is Role.TARGET and o.split_from is None]
    target_node = {o.lesion_id: o.is_lymph_node for o in targets}
    checks = check_targets(doc, rules)
    porta = porta_hepatis_target_errors(doc, rules)
    if porta:
        raise CriteriaError(
            f"cannot classify under {crit}: baseline time point {base.id!r}: "
            + "; ".join(porta) + f" (mRECIST: porta-hepatis nodes are malignant only at SA ≥ "
            f"{fmt_mm(rules.porta_hepatis_min_short_axis_mm)}). Fix: make the node a non-target "
            f"for {crit} (role_by_criteria {{\"{crit}\": \"non_target\"}}), or correct its "
            "short axis.")

    # -- baseline ------------------------------------------------------------------------------
    base_vals: dict[str, Fraction] = {}
    base_notes: list[str] = []
    for o in targets:
        v, notes, _, _ = _target_value(base, o.lesion_id, rules, o.is_lymph_node, roots,
                                       earlier)
        if v is None:
            raise CriteriaError(
                f"cannot classify under {crit}: baseline time point {base.id!r}, target lesion "
                f"{o.lesion_id!r}: {notes[-1]}. The baseline sum needs every target. Fix: "
                f"record the measurement, make the lesion a non-target for {crit} "
                f"(role_by_criteria), or leave {crit} out of the criteria."
            )
        base_vals[o.lesion_id] = v
        base_notes.extend(notes)
    baseline_sum: Fraction | None = sum(base_vals.values(), ZERO) if targets else None
    nt_ids: list[str] = [o.lesion_id for o in base.lesions if o.role_for(crit) is Role.NON_TARGET]
    base_reasons = [f"baseline: {len(targets)} target(s), sum {fmt_mm(baseline_sum, unit)}"
                    if targets else "baseline: no target lesions (non-target disease only)"]
    if base_notes:
        base_reasons.append("; ".join(base_notes))
    if nt_ids:
        base_reasons.append(f"non-targets: {', '.join(nt_ids)}")
    no_viable_baseline = targets and baseline_sum == 0
    if no_viable_baseline:
        base_reasons.append(
            f"baseline {unit} sum is 0: no measurable target under {crit} (e.g. no enhancing "
            "tumour for mRECIST/EASL); the target response is NE at every follow-up")
    base_row = TimePointResult(
        id=base.id, day=int(base.day or 0), sum=baseline_sum, change_from_baseline=None,
        change_from_nadir=None, target_response=None, non_target_response=None,
        new_lesions=False, response=None, reasons=tuple(base_reasons))
    rows: list[TimePointResult] = [base_row]
    details: list[TimePointDetail] = [TimePointDetail(
        base, baseline_sum, baseline_sum or ZERO, (), None, None, (), None, tuple(base_reasons))]

    nadir = baseline_sum
    lesion_nadir: dict[str, Fraction] = dict(base_vals)
    first_seen_new: dict[str, int] = {}
    first_new_size: dict[str, FirstSize] = {}  # mRECIST interval growth of new lesions
    known_new: dict[str, str] = {}  # new-lesion id -> time point that first recorded it
    pd_day: int | None = None
    pending: list[tuple[int, str]] = []  # (day, response) awaiting confirmation
    response_confirmed = False
    prev_overall: str | None = None
    prev_id: str | None = None
    cr_run_start: int | None = None
    prev_day: int | None = None

    for tp in doc.timepoints[1:]:
        day = int(tp.day or 0)
        reasons: list[str] = []
        # ---------------- targets
        t_resp: str | None = None
        cur_sum: Fraction | None = None
        known_sum = ZERO
        missing: list[str] = []
        chg_b: Fraction | None = None
        chg_n: Fraction | None = None
        target_disease_present = False
        if targets:
            values: dict[str, Fraction | None] = {}
            notes_all: list[str] = []
            node_ok = True
            for o in targets:
                lid = o.lesion_id
                v, notes, obs, measured = _target_value(tp, lid, rules, o.is_lymph_node, roots,
                                                        earlier)
                values[lid] = v
                notes_all.extend(notes)
                if v is None:
                    missing.append(lid)
                    known_sum += measured  # its measured fragments (a lower bound)
                    continue
                known_sum += v
                if o.is_lymph_node and rules.node_cr_by_short_axis:
                    sa = _node_short_axis(obs, rules) if obs is not None else v
                    if sa is None or sa >= _node_normal_below(o, rules):
                        node_ok = False
                elif v != 0:
                    node_ok = False
            cur_sum = None if missing else known_sum
            baseline_sum = baseline_sum if baseline_sum is not None else ZERO
            nadir = nadir if nadir is not None else ZERO
            if cur_sum is not None and baseline_sum > 0:
                chg_b = (cur_sum - baseline_sum) / baseline_sum
            if cur_sum is not None and nadir > 0:
                chg_n = (cur_sum - nadir) / nadir
            if notes_all:
                reasons.append("; ".join(notes_all))
            cr_ok = not missing and node_ok
            target_disease_present = not node_ok
            ref = nadir if rules.pd_reference is PdReference.NADIR else baseline_sum
            ref_name = "nadir" if rules.pd_reference is PdReference.NADIR else "baseline"
            sum_pd = meets_pd(known_sum, ref, rules)
            lesion_pd: list[str] = []
            if rules.pd_per_lesion:
                for o in targets:
                    v = values[o.lesion_id]
                    if v is None:
                        continue
                    ln = (lesion_nadir[o.lesion_id] if rules.pd_reference is PdReference.NADIR
                          else base_vals[o.lesion_id])
                    # From a nadir of 0 (the lesion had disappeared) any regrowth that meets
                    # the floor is an unbounded increase: the lesion reappeared (Miller:
                    # "≥ 25 % increase of one or more lesions").
                    if meets_pd(v, ln, rules):
                        lesion_pd.append(
                            f"{o.lesion_id} {fmt_mm(ln, unit)} -> {fmt_mm(v, unit)} "
                            + (f"({fmt_pct((v - ln) / ln)} vs its {ref_name})" if ln else
                               f"(reappeared after disappearing: any regrowth from its "
                               f"{ref_name} of 0 is ≥ {fmt_pct(rules.pd_threshold_frac)})"))
            pd_op = "≥" if rules.pd_inclusive else ">"
            pd_text = (f"PD: sum {fmt_mm(known_sum, unit)} is "
                       f"{fmt_pct((known_sum - ref) / ref) if ref else '+inf'} and "
                       f"+{fmt_mm(known_sum - ref, unit)} vs {ref_name} {fmt_mm(ref, unit)} "
                       f"(rule {pd_op} {fmt_pct(rules.pd_threshold_frac)}"
                       + (f" and ≥ {fmt_mm(rules.pd_abs_floor, unit)}" if rules.pd_abs_floor else
                          ", no absolute floor") + ")")
            if no_viable_baseline:
                t_resp = R.NE
                reasons.append(f"target NE: baseline sum is 0, {crit} cannot assess targets")
            elif cr_ok and rules.cr_before_pd:
                t_resp = R.CR
                porta = [o for o in targets if o.is_lymph_node
                         and _node_normal_below(o, rules) != rules.node_normal_short_axis_mm]
                reasons.append("target CR: all targets gone" +
                               (" (nodes < " + fmt_mm(rules.node_normal_short_axis_mm) + " SA"
                                + ("; porta-hepatis " + ", ".join(o.lesion_id for o in porta) + " < "
                                   + fmt_mm(_node_normal_below(porta[0], rules)) + " SA: not malignant, "
                                   "porta_hepatis_target_normal_below_min" if porta else "") + ")"
                                if any(target_node.values()) and rules.node_cr_by_short_axis else "")
                               + (" — CR is tested before PD (cr_before_pd)" if sum_pd else ""))
            elif sum_pd or lesion_pd:
                if missing and not rules.missing_lesions_may_prove_pd:
                    t_resp = R.NE
                    reasons.append(f"target NE: {', '.join(missing)} not assessed "
                                   "(missing_lesions_may_prove_pd is off)")
                else:
                    t_resp = R.PD
                    if sum_pd:
                        reasons.append(pd_text + (f" — even without {', '.join(missing)} "
                                                  "(missing lesions already prove PD)"
                                                  if missing else ""))
                    if lesion_pd:
                        reasons.append("PD per lesion (pd_per_lesion): " + "; ".join(lesion_pd))
            elif cr_ok:
                t_resp = R.CR
                reasons.append("target CR: all targets gone")
            elif missing:
                t_resp = R.NE
                measured = [o.lesion_id for o in targets if values[o.lesion_id] is not None]
                if measured or known_sum:
                    reasons.append(f"target NE: {', '.join(missing)} not assessed and the "
                                   f"measured target(s) {', '.join(measured) or 'fragments'} "
                                   f"({fmt_mm(known_sum, unit)}) do not prove PD")
                else:
                    reasons.append(f"target NE: no target measured ({', '.join(missing)} not "
                                   "assessed)")
            elif meets_pr(known_sum, baseline_sum, rules):
                t_resp = R.PR
                pr_op = "≥" if rules.pr_inclusive else ">"
                reasons.append(f"target PR: sum {fmt_mm(known_sum, unit)} is "
                               f"{fmt_pct(chg_b)} vs baseline {fmt_mm(baseline_sum, unit)} "
                               f"(rule {pr_op} {fmt_pct(-rules.pr_threshold_frac)})")
            elif response_confirmed and rules.pr_continues_after_confirmation:
                t_resp = R.PR
                reasons.append(f"target PR (continuing): sum {fmt_pct(chg_b)} vs baseline is "
                               "not a PR by itself, but a confirmed PR continues until PD "
                               "(RECIST WG FAQ; pr_continues_after_confirmation)")
            else:
                t_resp = R.SD
                reasons.append(f"target SD: sum {fmt_mm(known_sum, unit)}, {fmt_pct(chg_b)} vs "
                               f"baseline, {fmt_pct(chg_n) if chg_n is not None else 'n/a'} vs "
                               "nadir: neither PR nor PD")

        # ---------------- non-targets
        markers_ok, markers_why = (markers_normal_at(doc, tp, marker_limits)
                                   if rules.non_target_cr_requires_normal_markers else (None, None))
        nt_resp: str | None = None
        nt_disease_present = False
        nt_increase: list[str] = []
        nt_further: list[str] = []
        for o in tp.lesions:
            if (o.role_for(crit) is Role.NON_TARGET and o.lesion_id not in nt_ids
                    and roots.get(o.lesion_id) is None):
                nt_ids.append(o.lesion_id)
        if nt_ids:
            nt_states: list[str] = []
            for lid in nt_ids:
                obs = tp.lesion(lid)
                frags = [f for f in tp.lesions if roots.get(f.lesion_id) == lid]
                if obs is None and frags:
                    obs = frags[0]
                state, why = non_target_state(obs, lid, tp, doc, rules)
                frag_why = missing_fragments(lid, tp, earlier)[1]
                if state != R.PD and frag_why is not None:
                    state, why = R.NE, f"non-target {frag_why}"
                nt_states.append(state)
                if why:
                    reasons.append(why)
                if obs is not None and obs.status in (LesionStatus.FURTHER_INCREASE,
                                                      LesionStatus.UNEQUIVOCAL_PROGRESSION):
                    nt_increase.append(lid)
                if obs is not None and obs.status is LesionStatus.FURTHER_INCREASE:
                    nt_further.append(lid)
            if R.PD in nt_states:
                nt_resp = R.PD
            elif R.NE in nt_states:
                nt_resp = R.NE
                reasons.append("non-target NE: not all non-targets evaluated")
            elif all(s == R.CR for s in nt_states):
                if markers_ok is False:
                    nt_resp = R.NON_CR_NON_PD
                    reasons.append(f"non-target NON-CR/NON-PD: lesions gone but {markers_why} "
                                   "(RECIST 1.1 sec. 3.3, 4.3.2: markers must normalise for CR)")
                else:
                    nt_resp = R.CR
            else:
                nt_resp = R.NON_CR_NON_PD
            nt_disease_present = nt_resp in (R.NON_CR_NON_PD, R.PD)

        # ---------------- new lesions
        qualifying: list[str] = []
        for o in tp.lesions:
            if o.role_for(crit) is not Role.NEW:
                continue
            if o.status is LesionStatus.ABSENT or o.merged_into is not None:
                continue
            first_seen_new.setdefault(o.lesion_id, day)
            remember_first_size(first_new_size, o, tp.id, rules)
            ok, why = new_lesion_counts(o, rules, first_new_size.get(o.lesion_id))
            reasons.append(why)
            if ok:
                qualifying.append(o.lesion_id)
        new_pd = bool(qualifying)

        # ---------------- other PD (EASL new enhancement in treated lesions)
        other_pd = False
        if rules.new_enhancement_is_pd:
            enh = [o.lesion_id for o in tp.lesions if o.new_enhancement]
            if enh:
                other_pd = True
                reasons.append(f"PD: new enhancement in previously treated lesion(s) "
                               f"{', '.join(enh)} (EASL)")

        # ---------------- reappearance after CR
        if prev_overall == R.CR and (target_disease_present or nt_disease_present):
            confirmed_cr = (cr_run_start is not None and prev_day is not None and
                            prev_day - cr_run_start >= rules.confirmation_min_days)
            if rules.reappearance is Reappearance.AFTER_ANY_CR or confirmed_cr:
                which = "target" if target_disease_present else "non-target"
                reasons.append(
                    f"PD: {which} disease reappeared after the CR at {prev_id} "
                    + ("(Table 3 footnote: any disease after a true CR; "
                       "reappearance=after_any_cr)"
                       if rules.reappearance is Reappearance.AFTER_ANY_CR else
                       "(the CR was confirmed; reappearance=after_confirmed_cr)"))
                if target_disease_present:
                    t_resp = R.PD
                else:
                    nt_resp = R.PD
            else:
                reasons.append(f"disease reappeared after an unconfirmed CR at {prev_id}: not PD "
                               "by itself (WG FAQ; reappearance=after_confirmed_cr), sum rules "
                               "apply")

        overall = overall_response(t_resp, nt_resp, new_pd, other_pd)
        if overall == R.CR and nt_resp is None and markers_ok is False:
            overall = R.PR  # no non-targets: the markers alone stand for them (Table 1 row 2)
            reasons.append(f"overall PR, not CR: all targets gone but {markers_why} (RECIST 1.1 "
                           "sec. 3.3: markers above normal initially must normalise for CR)")
        unlisted = unlisted_new_lesions(known_new, tp, roots)
        unlisted += [lid for lid in known_new  # or one of its fragments
                     if lid not in unlisted and missing_fragments(lid, tp, earlier)[0]]
        if unlisted:
            which = ", ".join(f"{lid} (recorded at {known_new[lid]})" for lid in unlisted)
            reasons.append(f"new lesion(s) {which} not listed at {tp.id}: new lesions not all "
                           "evaluated" + (" — PD stands" if overall == R.PD else
                                          f", so NE, not {overall} (record status absent for "
                                          "a resolved lesion, not_evaluable if not assessable)"))
            if overall != R.PD:
                overall = R.NE
        remember_new_lesions(known_new, tp, crit, roots)
        if new_pd:
            reasons.append(f"PD: new lesion(s) {', '.join(qualifying)}")
        if overall == R.PD and pd_day is None:
            pd_day = day
            if new_pd and rules.backdate_confirmed_new_lesions:
                first = min(first_seen_new[i] for i in qualifying)
                if first < day:
                    pd_day = first
                    reasons.append(f"PD dated to day {first}, the first scan that showed the "
                                   "new lesion (RECIST 1.1 4.3.2)")
        reasons.append(f"overall {overall} (target {t_resp or 'none'}, non-target "
                       f"{nt_resp or 'none'}, new lesions "
                       f"{'yes' if new_pd else 'not all evaluated' if unlisted else 'no'})")

        # ---------------- confirmation bookkeeping (for continuing PR)
        if overall == R.PD:
            pending.clear()
            response_confirmed = False
        elif overall != R.NE:
            still: list[tuple[int, str]] = []
            for d0, r0 in pending:
                if day - d0 >= rules.confirmation_min_days:
                    if overall in (R.CR, R.PR):
                        response_confirmed = True
                    elif rules.confirmation_scan is ConfirmationScan.ANY_LATER:
                        still.append((d0, r0))
                elif overall in (R.CR, R.PR) or not rules.confirmation_intervening_must_hold:
                    still.append((d0, r0))  # too soon to confirm; must still hold (bor.py)
            pending = still
            if overall in (R.CR, R.PR):
                pending.append((day, overall))
        if overall == R.CR:
            cr_run_start = day if prev_overall != R.CR else cr_run_start
        elif overall != R.NE:
            cr_run_start = None

        # nadir after this time point (only a fully measured sum)
        if cur_sum is not None and nadir is not None and not no_viable_baseline:
            nadir = min(nadir, cur_sum)
            for o in targets:
                v = values[o.lesion_id]  # type: ignore[possibly-undefined]
                if v is not None:
                    lesion_nadir[o.lesion_id] = min(lesion_nadir[o.lesion_id], v)

        rows.append(TimePointResult(
            id=tp.id, day=day, sum=cur_sum, change_from_baseline=chg_b,
            change_from_nadir=chg_n, target_response=t_resp, non_target_response=nt_resp,
            new_lesions=new_pd, response=str(overall), reasons=tuple(reasons)))
        details.append(TimePointDetail(
            tp, cur_sum, known_sum, tuple(missing), t_resp, nt_resp, tuple(qualifying),
            str(overall), tuple(reasons), tuple(nt_increase), tuple(nt_further)))
        if overall != R.NE:  # an NE assessment neither starts nor ends a CR
            prev_overall, prev_id, prev_day = overall, tp.id, day

    bor_u, bor_c, bor_reasons = best_overall_response(
        [(r.day, r.response) for r in rows[1:]], rules, has_targets=bool(rows) and rows[0].sum is not None,
        pd_day=pd_day)
    start_u, start_c = response_start_days([(r.day, r.response) for r in rows[1:]], rules,
                                           pd_day=pd_day)
    result = CriterionResult(
        criterion=crit, sum_unit=unit, timepoints=tuple(rows), bor_unconfirmed=bor_u,
        bor_confirmed=bor_c, pd_day=pd_day, bor_reasons=tuple(bor_reasons), checks=checks,
        parameters=rules.to_json(), first_response_day_unconfirmed=start_u,
        first_response_day_confirmed=start_c)
    return result, details

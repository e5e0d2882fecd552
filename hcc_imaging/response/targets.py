"""Measurability and target-selection checks (RECIST 1.1 sec. 3.1 / 4.2; mRECIST §3.1).

* non-nodal target: LD ≥ 10 mm (≥ 2 × slice thickness when slices are thicker than 5 mm);
* nodal target: short axis ≥ 15 mm; 10–< 15 mm nodes are non-targets; < 10 mm normal;
* at most ``max_targets`` (5) in total and ``max_targets_per_organ`` (2) per organ, all lymph
  nodes together counting as one organ;
* previously treated (TACE / ablation) lesions are not measurable unless they progressed;
* mRECIST: targets must show arterial enhancement, have a viable LD ≥ 10 mm and be well
  delineated; a porta-hepatis node is malignant only at SA ≥ 20 mm, so a smaller one is no
  target (:func:`porta_hepatis_target_errors`; the classifier refuses it).

:func:`check_targets` returns human-readable findings (the classifier still runs: a reader may
have good reasons); :func:`validate_targets` raises on them; :func:`select_targets` proposes a
selection from the baseline findings.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.document import LesionObservation, LesionStatus, ReadDocument, Role, exact
from hcc_imaging.response.rules import RuleSet

__all__ = ["check_targets", "validate_targets", "select_targets", "is_measurable",
           "porta_hepatis_target_errors"]


_XRAY = {"CR", "DX", "XR", "X-RAY", "XRAY"}


def _min_ld(rules: RuleSet, slice_thickness_mm: float | None, modality: str | None = None) -> Fraction:
    mn = rules.min_target_diameter_mm
    if modality is not None and modality.strip().upper() in _XRAY:
        mn = max(mn, rules.chest_xray_min_diameter_mm)
    if slice_thickness_mm is not None:
        st = exact(slice_thickness_mm)
        if st > rules.thick_slice_mm:
            mn = max(mn, rules.slice_thickness_factor * st)
    return mn


def is_measurable(
    obs: LesionObservation, rules: RuleSet, slice_thickness_mm: float | None = None,
    modality: str | None = None,
) -> tuple[bool, str]:
    """Whether ``obs`` can be a target under ``rules``, with the reason (``modality`` CR / DX /
    XR applies the 20 mm chest X-ray minimum)."""
    lid = obs.lesion_id
    if obs.status is not LesionStatus.MEASURED:
        return False, f"{lid}: status {obs.status.value}, a target must be measured at baseline"
    if obs.is_lymph_node:
        sa = obs.short_axis_mm
        if sa is None:
            return False, f"node {lid}: no short_axis_mm"
        if exact(sa) < rules.min_target_node_short_axis_mm:
            kind = ("pathological but non-measurable (non-target)"
                    if exact(sa) >= rules.node_normal_short_axis_mm else "normal")
            return False, (f"node {lid}: SA {sa} mm < {rules.min_target_node_short_axis_mm} mm "
                           f"is {kind} (RECIST 1.1 3.1)")
        return True, f"node {lid}: SA {sa} mm ≥ {rules.min_target_node_short_axis_mm} mm"
    mn = _min_ld(rules, slice_thickness_mm, modality)
    size = obs.viable_diameter_mm if rules.measure.is_viable else obs.longest_diameter_mm
    label = "viable LD" if rules.measure.is_viable else "LD"
    if size is None:
        return False, f"{lid}: no {label}"
    if exact(size) < mn:
        why = ""
        if mn == rules.chest_xray_min_diameter_mm and modality is not None and \
                modality.strip().upper() in _XRAY:
            why = " (chest X-ray)"
        elif mn > rules.min_target_diameter_mm:
            why = " (2 × slice thickness)"
        return False, f"{lid}: {label} {size} mm < {float(mn):g} mm minimum{why}"
    return True, f"{lid}: {label} {size} mm ≥ {float(mn):g} mm"


def porta_hepatis_target_errors(doc: ReadDocument, rules: RuleSet) -> tuple[str, ...]:
    """Baseline targets that are porta-hepatis nodes below the malignant short axis under a rule
    set with ``porta_hepatis_rule`` (mRECIST: malignant only at SA ≥ 20 mm, criteria.md §3.1):
    not malignant, so not a target.  The classifier refuses them (:class:`CriteriaError`)."""
    if not rules.porta_hepatis_rule:
        return ()
    mn = rules.porta_hepatis_min_short_axis_mm
    out = []
    for o in doc.baseline.lesions:
        if not (o.role_for(rules.name) is Role.TARGET and o.is_lymph_node and o.porta_hepatis):
            continue
        sa = exact(o.short_axis_mm) if o.short_axis_mm is not None else None
        if sa is None or sa < mn:
            size = "no short_axis_mm" if sa is None else f"SA {float(sa):g} mm < {float(mn):g} mm"
            out.append(f"target porta-hepatis node {o.lesion_id!r}: {size}: not malignant under "
                       f"{rules.name} (reactive nodes are common in cirrhosis), so not a target")
    return tuple(out)


def check_targets(doc: ReadDocument, rules: RuleSet) -> tuple[str, ...]:
    """Findings about the baseline target selection under ``rules`` (empty = all fine)."""
    base = doc.baseline
    crit = rules.name
    targets = [o for o in base.lesions if o.role_for(crit) is Role.TARGET]
    out: list[str] = []
    if rules.max_targets is not None and len(targets) > rules.max_targets:
        out.append(f"{len(targets)} target lesions; {crit} allows at most {rules.max_targets} "
                   "(RECIST 1.1 4.2): extra lesions should be non-targets")
    if rules.max_targets_per_organ is not None:
        per = Counter(o.organ_key for o in targets)
        for organ, n in sorted(per.items()):
            if n > rules.max_targets_per_organ:
                out.append(f"{n} targets in {organ}; at most {rules.max_targets_per_organ} per "
                           "organ (all lymph nodes count as one organ)")
    for o in targets:
        ok, why = is_measurable(o, rules, base.slice_thickness_mm, base.modality)
        if not ok:
            out.append(f"target {why}")
        if o.previously_treated and rules.warn_previously_treated_targets:
            out.append(f"target {o.lesion_id} was locally treated before baseline: not "
                       "measurable unless it has progressed (RECIST 1.1 3.1)")
        if rules.target_requires_enhancement and o.enhancing is False:
            out.append(f"target {o.lesion_id} shows no arterial enhancement: not a {crit} "
                       "target (make it a non-target with role_by_criteria)")
        if rules.target_requires_well_delineated and o.well_delineated is False:
            out.append(f"target {o.lesion_id} is not well delineated (infiltrative): not a "
                       f"{crit} target")
    out.extend(porta_hepatis_target_errors(doc, rules))
    if targets and rules.measure.is_viable and all(
        o.is_lymph_node is False and (o.viable_diameter_mm == 0 or o.enhancing is False)
        for o in targets
    ):
        out.append(f"no enhancing measurable target: {crit} cannot assess this patient "
                   "(Takada 2015); use RECIST 1.1")
    return tuple(out)


def validate_targets(doc: ReadDocument, rules: RuleSet) -> None:
    """Raise :class:`CriteriaError` when :func:`check_targets` finds anything."""
    findings = check_targets(doc, rules)
    if findings:
        raise CriteriaError(
            f"patient {doc.patient_id!r}, baseline {doc.baseline.id!r}: target selection does "
            f"not meet {rules.name}: " + "; ".join(findings) + ". Fix: change the roles (or "
            "role_by_criteria), or call check_targets() to only report."
        )


def select_targets(
    lesions: list[LesionObservation] | tuple[LesionObservation, ...],
    rules: RuleSet,
    slice_thickness_mm: float | None = None,
) -> tuple[str, ...]:
    """Propose targets: measurable lesions, largest first, within the total and per-organ caps.

    Size is the rule set's baseline measure (LD, nodes SA; viable LD for mRECIST).  Ties keep
    input order.  Non-eligible lesions (not enhancing under mRECIST, treated under RECIST)
    are skipped.
    """
    cands: list[tuple[Fraction, int, LesionObservation]] = []
    for i, o in enumerate(lesions):
        ok, _ = is_measurable(o, rules, slice_thickness_mm)
        if not ok:
            continue
        if rules.target_requires_enhancement and o.enhancing is False:
            continue
        if rules.target_requires_well_delineated and o.well_delineated is False:
            continue
        if o.previously_treated and rules.warn_previously_treated_targets:
            continue
        if (rules.porta_hepatis_rule and o.is_lymph_node and o.porta_hepatis
                and exact(o.short_axis_mm or 0) < rules.porta_hepatis_min_short_axis_mm):
            continue
        size = (o.short_axis_mm if o.is_lymph_node else
                o.viable_diameter_mm if rules.measure.is_viable else o.longest_diameter_mm)
        cands.append((exact(size or 0), i, o))
    cands.sort(key=lambda c: (-c[0], c[1]))
    chosen: list[str] = []
    per: Counter[str] = Counter()
    for _, _, o in cands:
        if rules.max_targets is not None and len(chosen) >= rules.max_targets:
            break
        if rules.max_targets_per_organ is not None and per[o.organ_key] >= rules.max_targets_per_organ:
            continue
        chosen.append(o.lesion_id)
        per[o.organ_key] += 1
    return tuple(chosen)

"""One non-target lesion's state at a time point (RECIST 1.1 sec. 4.3.2; mRECIST §3.1 HCC rules).

CR (gone, a node < 10 mm SA, a porta-hepatis node < 20 mm SA under mRECIST, no enhancement
under mRECIST / EASL), NON-CR/NON-PD, PD (unequivocal progression; an effusion / ascites only
with malignant cytology under mRECIST; new enhancement in a treated lesion under EASL) or NE.
"""

from __future__ import annotations

from fractions import Fraction

from hcc_imaging.response.document import (
    LesionKind,
    LesionObservation,
    LesionStatus,
    ReadDocument,
    TimePoint,
    exact,
)
from hcc_imaging.response.formatting import fmt_mm
from hcc_imaging.response.results import Response as R
from hcc_imaging.response.rules import NonTargetCR, RuleSet

__all__ = ["non_target_state", "known_short_axis"]


def non_target_state(
    obs: LesionObservation | None, lid: str, tp: TimePoint, doc: ReadDocument, rules: RuleSet
) -> tuple[str, str | None]:
    """One non-target's contribution: CR (gone / normal), NON-CR/NON-PD, PD or NE."""
    if obs is None:
        return R.NE, f"non-target {lid} not recorded at {tp.id}"
    st = obs.status
    if st is LesionStatus.NOT_EVALUABLE:
        return R.NE, f"non-target {lid} not evaluable"
    if obs.merged_into is not None:
        return R.CR, None
    if obs.is_lymph_node and rules.porta_hepatis_rule and obs.porta_hepatis:
        sa = known_short_axis(lid, tp, doc)
        if sa is None or sa < rules.porta_hepatis_min_short_axis_mm:
            return R.CR, (f"porta-hepatis node {lid} SA {fmt_mm(sa)} < "
                          f"{fmt_mm(rules.porta_hepatis_min_short_axis_mm)}: not counted as "
                          "malignant (mRECIST; reactive nodes are common in cirrhosis)")
    if rules.new_enhancement_is_pd and obs.new_enhancement:
        return R.PD, None
    if st is LesionStatus.UNEQUIVOCAL_PROGRESSION:
        if (obs.kind in (LesionKind.EFFUSION, LesionKind.ASCITES)
                and rules.effusion_requires_cytology and obs.cytology_malignant is not True):
            return R.NON_CR_NON_PD, (
                f"{obs.kind.value} {lid} worsened but cytology is "
                f"{'benign' if obs.cytology_malignant is False else 'not available'}: not PD "
                "(mRECIST needs malignant cytology)")
        return R.PD, f"PD: unequivocal progression of non-target {lid}"
    if st is LesionStatus.ABSENT:
        return R.CR, None
    if obs.is_lymph_node:
        sa = exact(obs.short_axis_mm) if obs.short_axis_mm is not None else None
        if sa is not None and sa < rules.node_normal_short_axis_mm:
            return R.CR, None
    if rules.non_target_cr is NonTargetCR.NO_ENHANCEMENT and (
        obs.enhancing is False or obs.viable_diameter_mm == 0
        or obs.viable_status is LesionStatus.ABSENT
    ):
        return R.CR, f"non-target {lid}: no intratumoral arterial enhancement"
    return R.NON_CR_NON_PD, None


def known_short_axis(lid: str, tp: TimePoint, doc: ReadDocument) -> Fraction | None:
    """Current short axis, else the latest earlier one."""
    best: Fraction | None = None
    for t in doc.timepoints:
        o = t.lesion(lid)
        if o is not None and o.short_axis_mm is not None:
            best = exact(o.short_axis_mm)
        if t.id == tp.id:
            break
    return best

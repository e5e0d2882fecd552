"""Reads that contradict themselves or the criteria: axes longer than the axis that bounds
them, a node named only by its organ, an mRECIST porta-hepatis node target under 20 mm."""

from __future__ import annotations

import pytest

from hcc_imaging.errors import CriteriaError, ReadDocumentError
from hcc_imaging.response import assess
from hcc_imaging.response.classify import classify
from hcc_imaging.response.document import AXIS_TOLERANCE_MM
from hcc_imaging.response.rules import MRECIST, RECIST_1_1
from hcc_imaging.response.targets import check_targets

from .response_helpers import doc, les


# ---------------------------------------------------------------- axes (AXIS_TOLERANCE_MM)
@pytest.mark.parametrize(("fields", "field", "bound"), [
    pytest.param({"short_axis_mm": 40.0}, "short_axis_mm", "longest_diameter_mm",
                 id="short-axis-40-over-ld-30"),
    pytest.param({"viable_diameter_mm": 40.0}, "viable_diameter_mm", "longest_diameter_mm",
                 id="viable-ld-40-over-ld-30"),
    pytest.param({"viable_diameter_mm": 20.0, "viable_short_axis_mm": 25.0},
                 "viable_short_axis_mm", "viable_diameter_mm", id="viable-sa-25-over-viable-ld-20"),
])
def test_axis_longer_than_its_bound_is_refused_naming_time_point_and_lesion(fields, field, bound):
    """RECIST 1.1 sec. 3.1 / Appendix I: the short axis is the longest diameter perpendicular to
    the LD, so SA ≤ LD; mRECIST (criteria.md §3.1): the viable diameter is measured on the
    enhancing part of the lesion, so viable LD ≤ LD.  Accepted silently before."""
    with pytest.raises(ReadDocumentError) as err:
        doc((0, [les("L1", 30.0)]), (42, [les("L1", 30.0, **fields)]))
    msg = str(err.value)
    assert "time point 'FU1', lesion 'L1'" in msg and f"field {field!r}" in msg
    assert bound in msg and "AXIS_TOLERANCE_MM" in msg and "Fix:" in msg


def test_axis_within_rounding_tolerance_is_accepted():
    """Values rounded separately may differ by up to AXIS_TOLERANCE_MM (0.5 mm)."""
    assert AXIS_TOLERANCE_MM == 0.5
    d = doc((0, [les("L1", 30.0, short_axis_mm=30.5, viable_diameter_mm=30.5,
                     viable_short_axis_mm=31.0)]))
    assert d.baseline.lesions[0].short_axis_mm == 30.5
    with pytest.raises(ReadDocumentError, match="short_axis_mm"):
        doc((0, [les("L1", 30.0, short_axis_mm=30.6)]))


# ---------------------------------------------------------------- organ lymph_node
def _node(lid, sa, **kw):
    return les(lid, 30.0, organ="lymph_node", short_axis_mm=sa, **kw)


def test_organ_lymph_node_is_a_node_measured_by_short_axis():
    """RECIST 1.1 sec. 3.1 / 4.3.1 (criteria.md §2.1, §2.3): nodes are measured by short axis
    and a target node is CR at SA < 10 mm.  ``organ: lymph_node`` without ``is_lymph_node``
    was measured by its LD (30 mm, SD) before."""
    d = doc((0, [_node("N1", 20.0)]), (42, [_node("N1", 8.0)]))
    assert d.baseline.lesions[0].is_lymph_node
    r = classify(d, RECIST_1_1)
    assert r.timepoints[0].sum == 20 and r.timepoints[1].sum == 8
    assert r.timepoints[1].target_response == "CR"


def test_organ_lymph_node_counts_in_the_one_lymph_node_organ():
    """RECIST 1.1 sec. 4.2: all nodes together are one organ (at most 2 targets)."""
    d = doc((0, [_node("N1", 20.0, is_lymph_node=True), _node("N2", 20.0, is_lymph_node=True),
                 _node("N3", 20.0)]))
    assert any("3 targets in lymph_nodes" in c for c in check_targets(d, RECIST_1_1))


@pytest.mark.parametrize("contradiction", [{"is_lymph_node": False}, {"kind": "lesion"},
                                           {"kind": "pvtt", "role": "non_target"}])
def test_organ_lymph_node_contradicted_is_refused(contradiction):
    with pytest.raises(ReadDocumentError) as err:
        doc((0, [les("L1", 30.0)]),
            (42, [les("L1", 30.0), _node("N9", 12.0, **{"role": "new", **contradiction})]))
    msg = str(err.value)
    assert "time point 'FU1', lesion 'N9'" in msg and "lymph_node" in msg and "Fix:" in msg


# ---------------------------------------------------------------- porta-hepatis target
def _porta(role, sa):
    return {"lesion_id": "N1", "role": role, "organ": "lymph_node", "is_lymph_node": True,
            "porta_hepatis": True, "short_axis_mm": sa}


def _liver(vd):
    return les("L1", 40.0, viable_diameter_mm=vd, enhancing=vd > 0, well_delineated=True)


def test_mrecist_porta_hepatis_target_under_20mm_is_refused():
    """mRECIST (AASLD-JNCI; criteria.md §3.1 "Porta-hepatis lymph nodes"): a porta-hepatis
    node is malignant only at SA ≥ 20 mm, so an 18 mm one cannot be a target.  Before, it was
    summed (PR instead of CR once the liver target stopped enhancing)."""
    d = doc((0, [_liver(30.0), _porta("target", 18.0)]), (42, [_liver(0.0), _porta("target", 12.0)]))
    with pytest.raises(CriteriaError) as err:
        classify(d, MRECIST)
    msg = str(err.value)
    assert "'BL'" in msg and "'N1'" in msg and "18 mm < 20 mm" in msg and "role_by_criteria" in msg
    assert any("porta-hepatis node 'N1'" in c for c in check_targets(d, MRECIST))
    a = assess(d, ["RECIST1.1", "mRECIST"])  # the other criteria are still assessed
    assert a.results["mRECIST"].not_assessed and a.results["RECIST1.1"].not_assessed is None
    # as the (mRECIST) non-target it is, the read is CR
    d2 = doc((0, [_liver(30.0), _porta("non_target", 18.0)]),
             (42, [_liver(0.0), _porta("non_target", 12.0)]))
    assert classify(d2, MRECIST).timepoints[1].response == "CR"


def test_porta_hepatis_target_at_20mm_and_without_the_rule_is_accepted():
    d = doc((0, [_liver(30.0), _porta("target", 20.0)]), (42, [_liver(0.0), _porta("target", 12.0)]))
    assert classify(d, MRECIST).timepoints[1].sum == 12
    d18 = doc((0, [_liver(30.0), _porta("target", 18.0)]),
              (42, [_liver(0.0), _porta("target", 12.0)]))
    assert classify(d18, MRECIST.replace(porta_hepatis_rule=False)).timepoints[1].sum == 12
    assert classify(d18, RECIST_1_1).timepoints[0].sum == 58


@pytest.mark.parametrize(("fu_sa", "normal_below_min", "target_response"), [
    pytest.param(12.0, True, "CR", id="12mm-reactive-CR"),
    pytest.param(19.9, True, "CR", id="19.9mm-reactive-CR"),
    pytest.param(20.0, True, "PR", id="20mm-malignant-PR"),
    pytest.param(12.0, False, "PR", id="12mm-other-reading-needs-10mm"),
    pytest.param(9.9, False, "CR", id="9.9mm-other-reading-CR"),
])
def test_mrecist_porta_hepatis_target_below_20mm_is_no_bar_to_cr(fu_sa, normal_below_min, target_response):
    """mRECIST's porta-hepatis rule (criteria.md §3.1): a porta node is malignant only at SA ≥
    20 mm, which already makes such a non-target CR and such a new node no new lesion; a target
    porta node that shrank from 25 to 12 mm was still held to RECIST's 10 mm, so a liver target
    without enhancement read PR, not CR.  The mRECIST text is silent on targets: the other
    reading is ``porta_hepatis_target_normal_below_min=False``.  The SA stays in the sum."""
    d = doc((0, [_liver(30.0), _porta("target", 25.0)]), (42, [_liver(0.0), _porta("target", fu_sa)]))
    tp = classify(d, MRECIST.replace(porta_hepatis_target_normal_below_min=normal_below_min)).timepoints[1]
    assert tp.target_response == target_response
    assert float(tp.sum) == fu_sa
    if target_response == "CR" and normal_below_min:
        assert any("porta-hepatis N1 < 20 mm SA" in r for r in tp.reasons)


def test_porta_target_rule_needs_the_porta_rule_and_the_flag():
    """Without ``porta_hepatis_rule`` (EASL's default, RECIST 1.1) a porta node is any node:
    12 mm is not normal; a node not flagged porta-hepatis is held to 10 mm under mRECIST too."""
    d = doc((0, [_liver(30.0), _porta("target", 25.0)]), (42, [_liver(0.0), _porta("target", 12.0)]))
    assert classify(d, MRECIST.replace(porta_hepatis_rule=False)).timepoints[1].target_response == "PR"
    plain = {"lesion_id": "N1", "role": "target", "organ": "lymph_node", "is_lymph_node": True}
    d2 = doc((0, [_liver(30.0), {**plain, "short_axis_mm": 25.0}]),
             (42, [_liver(0.0), {**plain, "short_axis_mm": 12.0}]))
    assert classify(d2, MRECIST).timepoints[1].target_response == "PR"

"""Target selection / measurability checks, and property tests of the classifier."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response import (
    EASL,
    MRECIST,
    RECIST_1_1,
    WHO,
    LesionObservation,
    ReadDocument,
    check_targets,
    classify,
    classify_sums,
    select_targets,
    validate_targets,
)
from tests.response.response_helpers import doc, les

NODE = dict(is_lymph_node=True, organ="lymph_node")

CHECKS = [
    pytest.param([les(f"L{i}", 20.0, organ=o) for i, o in
                  enumerate(["liver", "liver", "lung", "lung", "bone", "adrenal"])],
                 RECIST_1_1, r"6 target lesions; RECIST1.1 allows at most 5", id="six-targets"),
    pytest.param([les(f"L{i}", 20.0) for i in range(3)], RECIST_1_1, r"3 targets in liver",
                 id="three-in-one-organ"),
    pytest.param([les("N1", None, short_axis_mm=20.0, **NODE),
                  les("N2", None, short_axis_mm=20.0, is_lymph_node=True, organ="mediastinum"),
                  les("N3", None, short_axis_mm=20.0, is_lymph_node=True, organ="axilla")],
                 RECIST_1_1, r"3 targets in lymph_nodes", id="nodes-are-one-organ"),
    pytest.param([les("L1", 9.9)], RECIST_1_1, r"LD 9.9 mm < 10 mm minimum", id="ld-9.9-not-measurable"),
    pytest.param([les("N1", None, short_axis_mm=14.9, **NODE)], RECIST_1_1,
                 r"SA 14.9 mm < 15 mm is pathological but non-measurable", id="node-14.9-non-target"),
    pytest.param([les("N1", None, short_axis_mm=9.0, **NODE)], RECIST_1_1, r"is normal",
                 id="node-9-normal"),
    pytest.param([les("L1", 30.0, previously_treated=True)], RECIST_1_1,
                 r"locally treated before baseline", id="treated-lesion-target"),
    pytest.param([les("L1", 30.0, viable_diameter_mm=20.0, enhancing=False)], MRECIST,
                 r"no arterial enhancement: not a mRECIST target", id="mrecist-non-enhancing"),
    pytest.param([les("L1", 30.0, viable_diameter_mm=9.0, enhancing=True)], MRECIST,
                 r"viable LD 9.0 mm < 10 mm", id="mrecist-viable-below-10mm"),
    pytest.param([les("L1", 30.0, viable_diameter_mm=20.0, well_delineated=False)], MRECIST,
                 r"not well delineated", id="mrecist-infiltrative"),
    pytest.param([les("L1", 30.0, viable_diameter_mm=0.0)], MRECIST,
                 r"no enhancing measurable target", id="mrecist-no-enhancing-target"),
]


@pytest.mark.parametrize(("lesions", "rules", "match"), CHECKS)
def test_check_targets_findings(lesions, rules, match):
    d = doc((0, lesions))
    findings = check_targets(d, rules)
    assert any(__import__("re").search(match, f) for f in findings), findings
    with pytest.raises(CriteriaError, match=match):
        validate_targets(d, rules)


def test_clean_selection_has_no_findings_and_thick_slices_raise_minimum():
    d = doc((0, [les("L1", 10.0), les("L2", 20.0, organ="lung")]))
    assert check_targets(d, RECIST_1_1) == ()
    validate_targets(d, RECIST_1_1)
    raw = d.to_json()
    raw["timepoints"][0]["slice_thickness_mm"] = 7.0
    assert any("< 14 mm minimum (2 × slice thickness)" in f
               for f in check_targets(ReadDocument.from_json(raw), RECIST_1_1))
    assert check_targets(d, WHO) == ()
    raw["timepoints"][0]["slice_thickness_mm"] = None
    raw["timepoints"][0]["modality"] = "DX"
    del raw["timepoints"][0]["slice_thickness_mm"]
    assert any("< 20 mm minimum (chest X-ray)" in f
               for f in check_targets(ReadDocument.from_json(raw), RECIST_1_1))


def test_mrecist_no_enhancing_target_gives_ne_everywhere():
    d = doc((0, [les("L1", 30.0, viable_diameter_mm=0.0)]), (56, [les("L1", 30.0, viable_diameter_mm=0.0)]))
    r = classify(d, MRECIST)
    assert r.timepoints[1].target_response == "NE"
    assert any("cannot assess" in x for x in r.checks)


def test_select_targets_largest_within_caps():
    lesions = [LesionObservation(**les(f"L{i}", 10.0 + i)) for i in range(4)] + [
        LesionObservation(**les("P1", 12.0, organ="lung")),
        LesionObservation(**les("N1", None, short_axis_mm=30.0, **NODE)),
        LesionObservation(**les("N2", None, short_axis_mm=12.0, **NODE)),
        LesionObservation(**les("T", 50.0, previously_treated=True)),
    ]
    assert select_targets(lesions, RECIST_1_1) == ("N1", "L3", "L2", "P1")
    assert select_targets(lesions, WHO)[:3] == ("T", "N1", "L3")


# ---------------------------------------------------------------- properties
RANK = {"CR": 4, "PR": 3, "SD": 2, "NON-CR/NON-PD": 2, "NE": 1, "PD": 0}
tenths = st.integers(min_value=1, max_value=2000).map(lambda n: n / 10)


@settings(max_examples=200, deadline=None)
@given(b=tenths, n=tenths, c=tenths, extra=st.integers(1, 500))
def test_larger_current_sum_never_improves(b, n, c, extra):
    n = min(n, b)
    for rules in (RECIST_1_1, MRECIST, EASL, WHO):
        low = classify_sums(b, n, c, rules)
        high = classify_sums(b, n, c + extra / 10, rules)
        assert RANK[high] <= RANK[low]


@settings(max_examples=300, deadline=None)
@given(b=st.integers(1, 5000), c=st.integers(0, 5000))
def test_pr_threshold_is_exact(b, c):
    # sums in 0.1 mm: PR iff 10 * (b - c) >= 3 * b, in integers
    got = classify_sums(b / 10, b / 10, c / 10, RECIST_1_1)
    is_pd = c - b >= 50 and 5 * (c - b) >= b
    assert (got == "PR") == (not is_pd and 10 * (b - c) >= 3 * b)


sizes = st.lists(st.integers(50, 900), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=sizes, data=st.data())
def test_doc_level_monotone_and_order_free(base, data):
    k = len(base)
    fu = [data.draw(st.integers(0, 900)) for _ in range(k)]
    bump = data.draw(st.integers(0, k - 1))
    organs = ["liver", "liver", "lung", "lung", "bone"]

    def make(values, order):
        bl = [les(f"L{i}", base[i] / 10, organ=organs[i]) for i in order]
        f1 = [les(f"L{i}", values[i] / 10, organ=organs[i]) if values[i] else
              les(f"L{i}", status="absent", organ=organs[i]) for i in order]
        return doc((0, bl), (56, f1))

    order = list(range(k))
    shuffled = order[:]
    random.Random(data.draw(st.integers(0, 10**6))).shuffle(shuffled)
    bigger = fu[:]
    bigger[bump] += data.draw(st.integers(1, 300))
    for rules in (RECIST_1_1, WHO.replace(measure="longest_diameter")):
        a = classify(make(fu, order), rules)
        s = classify(make(fu, shuffled), rules)
        assert [t.response for t in a.timepoints] == [t.response for t in s.timepoints]
        assert [t.sum for t in a.timepoints] == [t.sum for t in s.timepoints]
        hi = classify(make(bigger, order), rules)
        assert RANK[hi.timepoints[1].response] <= RANK[a.timepoints[1].response]
        assert hi.timepoints[1].sum == a.timepoints[1].sum + Fraction(bigger[bump] - fu[bump], 10)

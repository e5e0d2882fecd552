"""RECIST 1.1 (and the shared classifier): every rule and boundary of criteria.md §2."""

from __future__ import annotations

from fractions import Fraction

import pytest

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response import (
    MRECIST,
    RECIST_1_1,
    assess,
    classify,
    classify_sums,
    meets_pd,
    overall_response,
)
from tests.response.response_helpers import doc, les, series, viable


def resp(d, rules=RECIST_1_1, tp=-1):
    return classify(d, rules).timepoints[tp]


# ---------------------------------------------------------------- target sums (exact)
SUMS = [
    pytest.param(33.0, 33.0, 23.1, "PR", id="exactly-minus-30pct-is-PR-33.0-to-23.1"),
    pytest.param(100.0, 100.0, 70.1, "SD", id="minus-29.9pct-is-SD"),
    pytest.param(10.0, 10.0, 7.0, "PR", id="exactly-minus-30pct-small-sum"),
    pytest.param(25.0, 25.0, 30.0, "PD", id="plus-20pct-and-plus-5mm-is-PD"),
    pytest.param(20.0, 20.0, 24.0, "SD", id="plus-20pct-but-plus-4mm-not-PD-recist"),
    pytest.param(100.0, 100.0, 119.9, "SD", id="plus-19.9pct-plus-19.9mm-not-PD"),
    pytest.param(100.0, 50.0, 60.0, "PD", id="PD-vs-nadir-beats-PR-vs-baseline-minus-40pct"),
    pytest.param(100.0, 100.0, 77.0, "SD", id="PR-is-vs-baseline-not-vs-nadir"),
    pytest.param(100.0, 110.0, 77.0, "SD", id="minus-30pct-vs-higher-sum-is-not-PR"),
    pytest.param(24.9, 24.9, 29.9, "PD", id="plus-5mm-and-plus-20.08pct-is-PD"),
    pytest.param(25.1, 25.1, 30.1, "SD", id="plus-5mm-but-plus-19.92pct-not-PD"),
]


@pytest.mark.parametrize(("baseline", "nadir", "current", "expected"), SUMS)
def test_classify_sums_recist(baseline, nadir, current, expected):
    assert classify_sums(baseline, nadir, current, RECIST_1_1) == expected


def test_binary_floats_would_get_minus_30pct_wrong():
    assert (23.1 - 33.0) / 33.0 > -0.3  # binary floats say -29.999...%
    assert resp(series([33.0, 23.1])).response == "PR"
    assert resp(series([33.0, 23.1])).change_from_baseline == Fraction(-3, 10)


def test_plus_20pct_plus_4mm_recist_SD_but_mrecist_default_PD():
    d = doc((0, [viable("L1", 20.0, 20.0, enhancing=True)]),
            (56, [viable("L1", 24.0, 24.0)]))
    assert resp(d, RECIST_1_1).response == "SD"
    assert resp(d, MRECIST).response == "PD"
    assert resp(d, MRECIST.replace(pd_abs_floor=5)).response == "SD"


@pytest.mark.parametrize(("inclusive", "expected"), [
    pytest.param(True, "PR", id="pr-at-least-30pct"), pytest.param(False, "SD", id="pr-more-than-30pct")])
def test_pr_inclusive_parameter(inclusive, expected):
    assert resp(series([33.0, 23.1]), RECIST_1_1.replace(pr_inclusive=inclusive)).response == expected


@pytest.mark.parametrize(("inclusive", "expected"), [
    pytest.param(True, "PD", id="pd-at-least-20pct"), pytest.param(False, "SD", id="pd-more-than-20pct")])
def test_pd_inclusive_parameter(inclusive, expected):
    assert resp(series([50.0, 60.0]), RECIST_1_1.replace(pd_inclusive=inclusive)).response == expected


def test_meets_pd_from_zero_nadir_needs_floor():
    assert not meets_pd(Fraction(3), Fraction(0), RECIST_1_1)
    assert meets_pd(Fraction(5), Fraction(0), RECIST_1_1)
    assert meets_pd(Fraction(3), Fraction(0), MRECIST)


# ---------------------------------------------------------------- lesion-level rules
LESIONS = [
    pytest.param([les("L1", 10.0), les("L2", 20.0)],
                 [les("L1", status="too_small"), les("L2", 16.0)], "PR", 21,
                 id="too-small-counts-5mm-exact-minus-30pct"),
    pytest.param([les("L1", 10.0), les("L2", 20.0)],
                 [les("L1", status="absent"), les("L2", 16.0)], "PR", 16, id="absent-counts-0mm"),
    pytest.param([les("L1", 10.0), les("L2", 20.0)],
                 [les("L1", 3.0), les("L2", 16.0)], "PR", 19,
                 id="measurable-below-5mm-recorded-as-measured"),
    pytest.param([les("L1", 40.0), les("L2", 20.0)],
                 [les("L1a", 10.0, split_from="L1"), les("L1b", 12.0, split_from="L1"),
                  les("L2", 20.0)], "PR", 42, id="split-lesion-fragments-summed"),
    pytest.param([les("L1", 40.0), les("L2", 20.0)],
                 [les("L1", status="absent"), les("L1a", 30.0, split_from="L1"),
                  les("L2", 20.0)], "SD", 50, id="split-parent-absent-plus-fragment"),
    pytest.param([les("L1", 30.0), les("L2", 20.0)],
                 [les("L1", 45.0), les("L2", status="absent", merged_into="L1")], "SD", 45,
                 id="merged-lesion-absorbed-one-counts-0mm"),
    pytest.param([les("L1", 30.0), les("L2", 20.0)],
                 [les("L1", 80.0)], "PD", None,
                 id="missing-target-but-measured-ones-prove-PD"),
    pytest.param([les("L1", 30.0), les("L2", 20.0)],
                 [les("L1", 30.0)], "NE", None, id="missing-target-is-NE"),
    pytest.param([les("L1", 30.0), les("L2", 20.0)],
                 [les("L1", 10.0), les("L2", status="not_evaluable")], "NE", None,
                 id="not-evaluable-target-is-NE-even-if-PR-likely"),
    pytest.param([les("L1", 30.0), les("N1", None, is_lymph_node=True, short_axis_mm=16.0,
                                         organ="lymph_node")],
                 [les("L1", status="absent"),
                  les("N1", None, is_lymph_node=True, short_axis_mm=8.0, organ="lymph_node")],
                 "CR", 8, id="node-CR-below-10mm-sum-not-zero"),
    pytest.param([les("N1", None, is_lymph_node=True, short_axis_mm=16.0, organ="lymph_node")],
                 [les("N1", None, is_lymph_node=True, short_axis_mm=10.0, organ="lymph_node")],
                 "PR", 10, id="node-exactly-10mm-is-not-CR"),
]


@pytest.mark.parametrize(("bl", "fu", "expected", "sum_mm"), LESIONS)
def test_lesion_rules(bl, fu, expected, sum_mm):
    r = resp(doc((0, bl), (56, fu)))
    assert r.response == expected, r.reasons
    assert r.sum == (None if sum_mm is None else Fraction(sum_mm))


def test_missing_prove_pd_parameter_off_gives_NE():
    d = doc((0, [les("L1", 30.0), les("L2", 20.0)]), (56, [les("L1", 80.0)]))
    assert resp(d, RECIST_1_1.replace(missing_lesions_may_prove_pd=False)).response == "NE"
    assert "missing lesions already prove PD" in " ".join(resp(d).reasons)



@pytest.mark.parametrize(("fu", "says"), [
    pytest.param([les("L1", status="not_evaluable"), les("L2", status="not_evaluable")],
                 "target NE: no target measured (L1, L2 not assessed)",
                 id="no-target-measured-says-so-not-0mm-do-not-prove-PD"),
    pytest.param([], "target NE: no target measured (L1, L2 not assessed)",
                 id="no-target-recorded-says-no-target-measured"),
    pytest.param([les("L1", 30.0), les("L2", status="not_evaluable")],
                 "target NE: L2 not assessed and the measured target(s) L1 (30 mm) do not "
                 "prove PD", id="one-target-missing-names-the-measured-ones"),
])
def test_target_ne_reason_names_missing_and_measured_targets(fu, says):
    """PR, NE, PR: the NE said "the measured targets (0 mm) do not prove PD" with none measured."""
    r = resp(doc((0, [les("L1", 30.0), les("L2", 20.0)]), (56, fu)))
    assert r.target_response == "NE"
    assert says in r.reasons, r.reasons

def test_too_small_default_is_a_parameter():
    d = doc((0, [les("L1", 10.0), les("L2", 20.0)]),
            (56, [les("L1", status="too_small"), les("L2", 16.0)]))
    assert resp(d, RECIST_1_1.replace(too_small_default_mm=0)).sum == 16


NODE_SUM = [
    pytest.param(True, "CR", id="nodes-below-10mm-sum-plus-63pct-plus-7mm-CR-first"),
    pytest.param(False, "PD", id="nodes-below-10mm-sum-plus-63pct-plus-7mm-PD-first"),
]


@pytest.mark.parametrize(("cr_first", "expected"), NODE_SUM)
def test_ambiguous_node_sum_cr_vs_pd(cr_first, expected):
    n = dict(is_lymph_node=True, organ="lymph_node")
    d = doc((0, [les("N1", None, short_axis_mm=16.0, **n), les("N2", None, short_axis_mm=15.0, **n)]),
            (56, [les("N1", None, short_axis_mm=5.0, **n), les("N2", None, short_axis_mm=6.0, **n)]),
            (112, [les("N1", None, short_axis_mm=9.0, **n), les("N2", None, short_axis_mm=9.0, **n)]))
    r = resp(d, RECIST_1_1.replace(cr_before_pd=cr_first))
    assert r.change_from_nadir == Fraction(7, 11)
    assert r.response == expected


# ---------------------------------------------------------------- non-target and new lesions
NT = dict(role="non_target", status="present")


def _nt(lid="NT1", **kw):
    return {"lesion_id": lid, "role": "non_target", "status": "present", **kw}


OVERALL_DOCS = [
    pytest.param([les("L1", 30.0), _nt()], [les("L1", status="absent"), _nt(status="absent")],
                 "CR", "CR", id="target-CR-nontarget-CR-is-CR"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", status="absent"), _nt()],
                 "NON-CR/NON-PD", "PR", id="target-CR-nontarget-present-is-PR"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", status="absent"), _nt(status="not_evaluable")],
                 "NE", "PR", id="target-CR-nontarget-not-evaluated-is-PR"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", 20.0), _nt(status="not_evaluable")],
                 "NE", "PR", id="target-PR-nontarget-NE-is-PR"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", 28.0), _nt()],
                 "NON-CR/NON-PD", "SD", id="target-SD-nontarget-nonPD-is-SD"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", 10.0), _nt(status="unequivocal_progression")],
                 "PD", "PD", id="nontarget-unequivocal-progression-is-PD"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", 28.0), _nt(status="further_increase")],
                 "NON-CR/NON-PD", "SD", id="nontarget-increase-not-unequivocal-not-PD"),
    pytest.param([les("L1", 30.0), _nt()], [les("L1", 28.0)],
                 "NE", "SD", id="nontarget-not-recorded-is-NE-target-SD-stays-SD"),
    pytest.param([_nt()], [_nt(status="absent")], "CR", "CR", id="nontarget-only-CR"),
    pytest.param([_nt()], [_nt()], "NON-CR/NON-PD", "NON-CR/NON-PD", id="nontarget-only-nonCR-nonPD"),
    pytest.param([_nt()], [_nt(status="not_evaluable")], "NE", "NE", id="nontarget-only-NE"),
    pytest.param([_nt()], [_nt(status="unequivocal_progression")], "PD", "PD",
                 id="nontarget-only-PD"),
    pytest.param([_nt("N1", is_lymph_node=True, short_axis_mm=12.0)],
                 [_nt("N1", is_lymph_node=True, short_axis_mm=9.0)], "CR", "CR",
                 id="nontarget-node-below-10mm-is-normal"),
    pytest.param([], [], None, "NE", id="no-baseline-disease-is-NE"),
    pytest.param([_nt()], [_nt(), {"lesion_id": "X", "role": "new", "status": "present"}],
                 "NON-CR/NON-PD", "PD", id="nontarget-only-new-lesion-PD"),
    pytest.param([les("L1", 30.0)], [les("L1", 10.0), {"lesion_id": "X", "role": "new",
                                                        "status": "present", "equivocal": True}],
                 None, "PR", id="equivocal-new-lesion-not-PD"),
]


@pytest.mark.parametrize(("bl", "fu", "nt_expected", "expected"), OVERALL_DOCS)
def test_overall_from_documents(bl, fu, nt_expected, expected):
    r = resp(doc((0, bl), (56, fu)))
    assert r.non_target_response == nt_expected
    assert r.response == expected, r.reasons


TABLES = [
    ("CR", "CR", False, "CR"), ("CR", None, False, "CR"), ("CR", "NON-CR/NON-PD", False, "PR"),
    ("CR", "NE", False, "PR"), ("PR", "NON-CR/NON-PD", False, "PR"), ("PR", "NE", False, "PR"),
    ("PR", "CR", False, "PR"), ("SD", "NON-CR/NON-PD", False, "SD"), ("SD", "NE", False, "SD"),
    ("NE", "NON-CR/NON-PD", False, "NE"), ("NE", "CR", False, "NE"), ("PD", "CR", False, "PD"),
    ("CR", "PD", False, "PD"), ("CR", "CR", True, "PD"), (None, "CR", False, "CR"),
    (None, "NON-CR/NON-PD", False, "NON-CR/NON-PD"), (None, "NE", False, "NE"),
    (None, "PD", False, "PD"), (None, "CR", True, "PD"), (None, None, False, "NE"),
]


@pytest.mark.parametrize(("t", "nt", "new", "expected"), [
    pytest.param(*row, id=f"table-{row[0]}-{row[1]}-{'new' if row[2] else 'nonew'}")
    for row in TABLES])
def test_overall_tables_1_and_2(t, nt, new, expected):
    assert overall_response(t, nt, new) == expected


def test_equivocal_new_lesion_confirmed_later_backdates_pd():
    d = doc((0, [les("L1", 30.0)]),
            (56, [les("L1", 28.0), {"lesion_id": "X", "role": "new", "status": "present",
                                    "equivocal": True}]),
            (112, [les("L1", 28.0), {"lesion_id": "X", "role": "new", "longest_diameter_mm": 12.0}]))
    res = classify(d, RECIST_1_1)
    assert [t.response for t in res.timepoints[1:]] == ["SD", "PD"]
    assert res.pd_day == 56
    # the BOR counts responses before the back-dated PD only: the SD of day 56 was progression
    # (it gave "SD, stable from day 56")
    assert (res.bor_unconfirmed, res.bor_confirmed) == ("PD", "PD")
    assert any("dated to day 56" in r for r in res.bor_reasons)
    off = classify(d, RECIST_1_1.replace(backdate_confirmed_new_lesions=False))
    assert off.pd_day == 112
    assert (off.bor_unconfirmed, off.bor_confirmed) == ("SD", "SD")


def test_backdated_pd_keeps_the_responses_before_it():
    """An SD before the first sighting of the new lesion still counts (boundary: the scan just
    before the back-dated PD, past the SD minimum)."""
    d = doc((0, [les("L1", 30.0)]),
            (49, [les("L1", 28.0)]),
            (98, [les("L1", 28.0), {"lesion_id": "X", "role": "new", "status": "present",
                                    "equivocal": True}]),
            (147, [les("L1", 28.0), {"lesion_id": "X", "role": "new", "longest_diameter_mm": 12.0}]))
    res = classify(d, RECIST_1_1)
    assert res.pd_day == 98
    assert (res.bor_unconfirmed, res.bor_confirmed) == ("SD", "SD")
    # a PR first seen with the equivocal lesion is not a response: PD from that day
    d2 = doc((0, [les("L1", 30.0)]),
             (56, [les("L1", 15.0), {"lesion_id": "X", "role": "new", "status": "present",
                                     "equivocal": True}]),
             (112, [les("L1", 15.0), {"lesion_id": "X", "role": "new", "longest_diameter_mm": 12.0}]))
    r2 = classify(d2, RECIST_1_1)
    assert [t.response for t in r2.timepoints[1:]] == ["PR", "PD"]
    assert (r2.bor_unconfirmed, r2.bor_confirmed) == ("PD", "PD")


def test_markers_not_normal_block_nontarget_cr():
    d = doc((0, [les("L1", 30.0), _nt()]), (56, [les("L1", status="absent"), _nt(status="absent")]))
    raw = d.to_json()
    raw["timepoints"][1]["tumour_markers_normal"] = False
    from hcc_imaging.response import ReadDocument

    r = resp(ReadDocument.from_json(raw))
    assert (r.non_target_response, r.response) == ("NON-CR/NON-PD", "PR")


# ---------------------------------------------------------------- reappearance (§11 row 1)
REAPPEAR = [
    pytest.param("after_any_cr", [30.0, 0.0, 3.0], [0, 56, 112], "PD",
                 id="reappears-3mm-after-unconfirmed-CR-PD-table3-footnote"),
    pytest.param("after_confirmed_cr", [30.0, 0.0, 3.0], [0, 56, 112], "PR",
                 id="reappears-3mm-after-unconfirmed-CR-PR-WG-FAQ"),
    pytest.param("after_confirmed_cr", [30.0, 0.0, 0.0, 3.0], [0, 56, 112, 168], "PD",
                 id="reappears-after-confirmed-CR-PD-both-readings"),
    pytest.param("after_any_cr", [30.0, 0.0, None, 3.0], [0, 56, 112, 168], "PD",
                 id="reappears-after-CR-with-NE-in-between-PD"),
]


@pytest.mark.parametrize(("reading", "values", "days", "expected"), REAPPEAR)
def test_reappearance_after_cr(reading, values, days, expected):
    d = series([v if v != 0.0 else None for v in values], days)
    # absent (0 mm) rather than NE for the zero values
    raw = d.to_json()
    for tp, v in zip(raw["timepoints"], values):
        if v == 0.0:
            tp["lesions"][0] = {"lesion_id": "L1", "role": "target", "status": "absent"}
    from hcc_imaging.response import ReadDocument

    r = resp(ReadDocument.from_json(raw), RECIST_1_1.replace(reappearance=reading))
    assert r.response == expected, r.reasons


# ---------------------------------------------------------------- PR continuation (§11 row 4)
@pytest.mark.parametrize(("continues", "labels"), [
    pytest.param(True, ["PR", "PR", "PR", "PR", "PR"], id="faq-100-70-70-80-80-80-all-PR"),
    pytest.param(False, ["PR", "PR", "SD", "SD", "SD"], id="faq-example-sec-4.3.1-reading-SD"),
])
def test_confirmed_pr_continues(continues, labels):
    d = series([100.0, 70.0, 70.0, 80.0, 80.0, 80.0])
    res = classify(d, RECIST_1_1.replace(pr_continues_after_confirmation=continues))
    assert [t.response for t in res.timepoints[1:]] == labels
    assert res.bor_confirmed == "PR" and res.bor_unconfirmed == "PR"


def test_reasons_carry_numbers():
    r = resp(series([33.0, 23.1]))
    assert any("-30 %" in x and "33 mm" in x for x in r.reasons)


def test_baseline_target_missing_measure_raises():
    d = doc((0, [les("L1", 30.0)]), (56, [les("L1", 20.0)]))
    with pytest.raises(CriteriaError, match=r"baseline time point 'BL', target lesion 'L1'.*"
                                            r"viable_diameter_mm.*Fix"):
        classify(d, MRECIST)


def test_role_by_criteria_makes_lesion_nontarget_for_mrecist_only():
    d = doc((0, [viable("L1", 40.0, 35.0, enhancing=True),
                 les("L2", 30.0, enhancing=False, role_by_criteria={"mRECIST": "non_target"})]),
            (56, [viable("L1", 38.0, 20.0), les("L2", 31.0, enhancing=False)]))
    m = resp(d, MRECIST)
    assert m.sum == 20 and m.non_target_response == "CR"
    assert resp(d, RECIST_1_1).sum == 69


@pytest.mark.parametrize("later", [["absent"], ["absent", "unequivocal_progression"]], ids=["CR", "CR-then-PD"])
def test_non_target_only_disease_never_gets_sd(later: list[str]) -> None:
    """RECIST 1.1 Table 2 footnote: SD is not used when no lesion is measured (criteria.md "Without
    targets: CR / NON-CR/NON-PD / NE / PD").  A patient with non-target disease only whose CR was not
    confirmed fell back to confirmed BOR "SD"; it is NON-CR/NON-PD, as with targets it is SD."""
    tps = [(0, [les("L2", role="non_target", status="present")])]
    tps += [(56 * (i + 1), [les("L2", role="non_target", status=st)]) for i, st in enumerate(later)]
    res = assess(doc(*tps), ["RECIST1.1", "mRECIST"])
    for crit in ("RECIST1.1", "mRECIST"):
        r = res.results[crit]
        assert [t.response for t in r.timepoints[1:]] == ["CR", "PD"][:len(later)]
        assert r.bor_confirmed == "NON-CR/NON-PD", (crit, r.bor_reasons)
    # with a target the same course is SD (the target shrank 20 %: not a response)
    tps = [(0, [les("L1", 30.0), les("L2", role="non_target", status="present")]),
           (56, [les("L1", 24.0), les("L2", role="non_target", status="absent")])]
    assert assess(doc(*tps), ["RECIST1.1"]).results["RECIST1.1"].bor_confirmed == "SD"

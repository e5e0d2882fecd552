"""RECICL treatment effect and iRECIST confirmation (criteria.md §5, §6, §11 rows)."""

from __future__ import annotations

import operator
import re
from fractions import Fraction

import pytest

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response import (
    IRECIST,
    RECICL,
    assess,
    classify_irecist,
    classify_recicl,
    treatment_effect,
)
from hcc_imaging.response.irecist import new_lesion_categories
from tests.response.response_helpers import doc, les

TE = [
    pytest.param(100, 100, 1, {}, "TE4", id="exactly-100pct-necrosis-TE4"),
    pytest.param(100, 0, 0, {}, "TE4", id="exactly-100pct-reduction-TE4"),
    pytest.param(100, 100, Fraction(1, 2), {}, "TE3", id="exactly-50pct-necrosis-TE3"),
    pytest.param(100, 50, 0, {}, "TE3", id="exactly-50pct-reduction-TE3"),
    pytest.param(100, 51, 0, {}, "TE2", id="49pct-reduction-TE2"),
    pytest.param(100, 150, 0, {}, "TE1", id="exactly-plus-50pct-no-necrosis-TE1-2015"),
    pytest.param(100, 150, 0, {"te1_version": "2009"}, "TE1", id="exactly-plus-50pct-TE1-2009"),
    pytest.param(100, 140, 0, {}, "TE2", id="plus-40pct-TE2-2015"),
    pytest.param(100, 140, 0, {"te1_version": "2009"}, "TE1", id="plus-40pct-TE1-2009"),
    pytest.param(100, 125, 0, {"te1_version": "2009"}, "TE2", id="exactly-plus-25pct-not-TE1-2009"),
    pytest.param(100, 200, Fraction(3, 10), {}, "TE2",
                 id="whole-plus-100pct-viable-plus-40pct-TE2-excluding-necrosis"),
    pytest.param(100, 200, Fraction(3, 10), {"te1_version": "2009"}, "TE1",
                 id="whole-plus-100pct-viable-plus-40pct-TE1-2009"),
    pytest.param(100, 400, Fraction(1, 2), {}, "TE1",
                 id="50pct-necrosis-viable-plus-100pct-TE1-first"),
    pytest.param(100, 400, Fraction(1, 2), {"te1_before_te3": False}, "TE3",
                 id="50pct-necrosis-viable-plus-100pct-TE3-first"),
    pytest.param(100, 100, 0, {"te1_version": "2021"}, "TE2", id="version-2021-alias-of-2015"),
]


@pytest.mark.parametrize(("pre", "post", "nec", "changes", "expected"), TE)
def test_treatment_effect(pre, post, nec, changes, expected):
    assert treatment_effect(pre, post, nec, RECICL.replace(**changes)).te == expected


_COMPARISON = re.compile(r"([+-]?\d+(?:\.\d+)?) % (≥|<|>|≤) ([+-]?\d+(?:\.\d+)?) %")
_HOLDS = {"≥": operator.ge, "<": operator.lt, ">": operator.gt, "≤": operator.le}


@pytest.mark.parametrize(("pre", "post", "nec", "changes", "expected"), TE)
def test_treatment_effect_reason_states_only_comparisons_that_hold(pre, post, nec, changes,
                                                                    expected):
    """Every "a % op b %" in the reason is true ("+40 % ≥ +50 %" beside TE2 was printed)."""
    eff = treatment_effect(pre, post, nec, RECICL.replace(**changes))
    found = _COMPARISON.findall(eff.reason)
    assert found or expected == "TE4", eff.reason  # TE4 states "necrosis 100 %", no comparison
    for a, op, b in found:
        assert _HOLDS[op](Fraction(a), Fraction(b)), f"{a} % {op} {b} % is false: {eff.reason}"
    assert eff.reason.startswith(f"nodule: {expected}: ")


@pytest.mark.parametrize(("pre", "post", "nec", "changes", "te", "says"), [
    pytest.param(400, 560, 0, {}, "TE2", ["enlargement excluding necrosis +40 % < +50 %",
                                          "not TE1", "reduction -40 % < +50 %", "not TE3"],
                 id="plus-40pct-2015-says-below-50pct-not-TE1"),
    pytest.param(400, 800, Fraction(3, 10), {}, "TE2",
                 ["necrosis 30 % < 50 %", "enlargement excluding necrosis +40 % < +50 %", "not TE1"],
                 id="whole-plus-100pct-viable-plus-40pct-says-not-TE1"),
    pytest.param(400, Fraction("200.4"), 0, {}, "TE2", ["reduction +49.9 % < +50 %", "not TE3"],
                 id="reduction-49.9pct-says-below-50pct-not-TE3"),
    pytest.param(400, 500, 0, {"te1_version": "2009"}, "TE2",
                 ["enlargement +25 % ≤ +25 % regardless of necrosis", "not TE1"],
                 id="exactly-plus-25pct-2009-says-not-above-25pct"),
    pytest.param(400, 520, Fraction(3, 5), {"te1_version": "2009"}, "TE1",
                 ["enlargement +30 % > +25 %", "necrosis 60 % ≥ 50 % as well",
                  "TE1 is tested first"],
                 id="plus-30pct-60pct-necrosis-2009-TE1-first"),
    pytest.param(400, 400, Fraction(1, 2), {}, "TE3",
                 ["necrosis 50 % ≥ 50 %", "enlargement excluding necrosis -50 % < +50 %"],
                 id="exactly-50pct-necrosis-says-which-TE3-part-holds"),
])
def test_treatment_effect_reason_text(pre, post, nec, changes, te, says):
    eff = treatment_effect(pre, post, nec, RECICL.replace(**changes))
    assert eff.te == te
    for part in says:
        assert part in eff.reason, eff.reason


def _ablated(lid, zone_mm):
    """A nodule 20 x 20 mm, 100 % necrotic, in a necrotic zone ``zone_mm`` square (None: not
    recorded)."""
    extra = {} if zone_mm is None else dict(necrosis_diameter_mm=zone_mm,
                                            necrosis_short_axis_mm=zone_mm)
    return les(lid, 20.0, short_axis_mm=20.0, necrosis_fraction=1.0, **extra)


@pytest.mark.parametrize("aggregation", ["sum_products", "worst_nodule"])
@pytest.mark.parametrize(("zones", "te"), [
    pytest.param([20.0], "TE4b", id="one-nodule-TE4b-overall-TE4b"),
    pytest.param([25.0], "TE4a", id="one-nodule-TE4a-overall-TE4a"),
    pytest.param([25.0, 20.0], "TE4b", id="TE4a-and-TE4b-overall-TE4b"),
    pytest.param([25.0, None], "TE4", id="TE4a-and-margin-not-recorded-overall-TE4"),
])
def test_recicl_overall_te4_sub_grade(zones, te, aggregation):
    ids = [f"L{i}" for i in range(len(zones))]
    d = doc((0, [les(i, 20.0, short_axis_mm=20.0) for i in ids]),
            (35, [_ablated(i, z) for i, z in zip(ids, zones)]))
    r = classify_recicl(d, RECICL.replace(aggregation=aggregation)).timepoints[1]
    assert (r.extra["te"], r.target_response, r.response) == (te, te, "CR")
    assert any(x.startswith(f"overall {te}") for x in r.reasons), r.reasons


@pytest.mark.parametrize(("zone", "expected"), [
    pytest.param(1200, "TE4a", id="necrotic-zone-larger-than-tumour-TE4a"),
    pytest.param(1000, "TE4b", id="necrotic-zone-same-as-tumour-TE4b"),
])
def test_te4a_te4b(zone, expected):
    assert treatment_effect(1000, 1000, 1, RECICL, necrotic_zone_mm2=zone).te == expected


def _n(lid, ld, sa, **kw):
    return les(lid, ld, short_axis_mm=sa, **kw)


@pytest.mark.parametrize(("aggregation", "te", "response"), [
    pytest.param("sum_products", "TE3", "PR", id="one-TE4-one-unchanged-TE3-on-summed-products"),
    pytest.param("worst_nodule", "TE2", "SD", id="one-TE4-one-unchanged-TE2-worst-nodule"),
])
def test_recicl_aggregation(aggregation, te, response):
    d = doc((0, [_n("A", 20.0, 20.0), _n("B", 20.0, 20.0)]),
            (35, [_n("A", 20.0, 20.0, necrosis_fraction=1.0), _n("B", 20.0, 20.0)]))
    r = classify_recicl(d, RECICL.replace(aggregation=aggregation)).timepoints[1]
    assert (r.extra["te"], r.response) == (te, response)
    assert [n["te"] for n in r.extra["nodules"]] == ["TE4", "TE2"]


@pytest.mark.parametrize(("mode", "response"), [
    pytest.param("overall_pd", "PD", id="TE4-plus-new-nodule-overall-PD"),
    pytest.param("separate", "CR", id="TE4-plus-new-nodule-kept-separate"),
])
def test_recicl_new_nodule(mode, response):
    d = doc((0, [_n("A", 20.0, 20.0)]),
            (35, [_n("A", 20.0, 20.0, necrosis_fraction=1.0),
                  {"lesion_id": "N", "role": "new", "longest_diameter_mm": 12.0}]))
    r = classify_recicl(d, RECICL.replace(new_lesion=mode)).timepoints[1]
    assert r.response == response
    assert r.extra["nodules"][0]["te"] == "TE4"


def test_recicl_overall_te4_needs_every_nodule():
    d = doc((0, [_n("A", 20.0, 20.0), _n("B", 20.0, 20.0)]),
            (35, [_n("A", 20.0, 20.0, necrosis_fraction=1.0),
                  _n("B", 20.0, 20.0, necrosis_fraction=1.0)]))
    assert classify_recicl(d).timepoints[1].extra["te"] == "TE4"


def test_recicl_necrosis_from_viable_axes_and_ne():
    d = doc((0, [_n("A", 20.0, 20.0)]),
            (35, [_n("A", 20.0, 20.0, viable_diameter_mm=10.0, viable_short_axis_mm=10.0)]),
            (70, [_n("A", 20.0, None)]))
    res = classify_recicl(d)
    assert res.timepoints[1].extra["nodules"][0]["necrosis_frac"] == 0.75
    assert res.timepoints[1].response == "PR"
    assert res.timepoints[2].response == "NE"


def test_recicl_bad_parameter():
    with pytest.raises(CriteriaError, match=r"te1_version='2012' is not valid"):
        RECICL.replace(te1_version="2012")


# ---------------------------------------------------------------- iRECIST
def labels(d, rules=IRECIST):
    return [t.response for t in classify_irecist(d, rules).timepoints[1:]]


def tseries(values, days=None, extra=None):
    days = days or [0] + [42 * i for i in range(1, len(values))]
    tps = []
    for i, (d, v) in enumerate(zip(days, values)):
        lesions = [les("L1", v)]
        if extra and i in extra:
            lesions += extra[i]
        tps.append((d, lesions))
    return doc(*tps)


def test_iupd_then_icpd_on_exactly_5mm_further_increase():
    assert labels(tseries([50.0, 60.0, 65.0])) == ["iUPD", "iCPD"]


def test_iupd_stays_when_increase_below_5mm_then_cumulative_confirms():
    d = tseries([50.0, 60.0, 64.0, 66.0])
    assert labels(d) == ["iUPD", "iUPD", "iCPD"]
    res = classify_irecist(d)
    assert res.pd_day == 42 and res.bor_unconfirmed == "iCPD"



def _stays(res, i):
    return [x for x in res.timepoints[i].reasons if x.startswith("stays iUPD")]


@pytest.mark.parametrize(("values", "says"), [
    pytest.param([50.0, 60.0, 64.0], "target sum +4 mm since FU1 (60 mm -> 64 mm) is below the "
                 "iCPD threshold of 5 mm", id="plus-4mm-since-iupd-says-below-5mm"),
    pytest.param([50.0, 60.0, 64.9], "target sum +4.9 mm since FU1 (60 mm -> 64.9 mm) is below "
                 "the iCPD threshold of 5 mm", id="plus-4.9mm-since-iupd-says-below-5mm"),
    pytest.param([50.0, 60.0, 60.0], "target sum 0 mm since FU1 (60 mm -> 60 mm) is no further "
                 "increase", id="unchanged-since-iupd-says-no-further-increase"),
    pytest.param([50.0, 70.0, 65.0], "target sum -5 mm since FU1 (70 mm -> 65 mm) is no further "
                 "increase", id="smaller-but-still-pd-says-no-further-increase"),
])
def test_stays_iupd_reason_states_the_increase_since_iupd(values, says):
    """FU2 +4 mm said "no further increase since FU1"."""
    res = classify_irecist(tseries(values))
    assert res.timepoints[2].response == "iUPD"
    assert _stays(res, 2) == [f"stays iUPD: the iUPD of FU1 is not confirmed — {says}"]


def test_stays_iupd_reason_names_each_category_not_confirmed():
    d = doc((0, [les("L1", 50.0), _nt("present")]),
            (42, [les("L1", 60.0), _nt("unequivocal_progression"), _new("X", 12.0)]),
            (84, [les("L1", 62.0), _nt("present"), _new("X", 14.0)]))
    res = classify_irecist(d)
    assert res.timepoints[2].response == "iUPD"
    (text,) = _stays(res, 2)
    for part in ("target sum +2 mm since FU1 (60 mm -> 62 mm) is below the iCPD threshold",
                 "no further non-target increase recorded",
                 "new-lesion-target sum +2 mm since FU1 (12 mm -> 14 mm) is below the iCPD",
                 "no new-lesion non-target increase", "no further new lesion"):
        assert part in text, text

def test_iupd_then_reset_then_new_iupd_needs_own_confirmation():
    d = tseries([50.0, 60.0, 50.0, 62.0, 70.0])
    assert labels(d) == ["iUPD", "iSD", "iUPD", "iCPD"]


def test_ibor_example_2_iupd_ipr_icr_gives_icr():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 60.0)]), (84, [les("L1", 30.0)]),
            (126, [les("L1", status="absent")]), (168, [les("L1", status="absent")]))
    res = classify_irecist(d)
    assert labels(d) == ["iUPD", "iPR", "iCR", "iCR"]
    assert res.bor_unconfirmed == "iCR" and res.bor_confirmed == "iCR"


def test_ibor_example_8_iupd_then_ne_gives_iupd():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 60.0)]),
            (84, [les("L1", status="not_evaluable")]))
    assert labels(d) == ["iUPD", "NE"]
    assert classify_irecist(d).bor_unconfirmed == "iUPD"
    assert classify_irecist(d).timepoints[-1].extra["irecist_state"] == "iUPD pending"


def _nt(status):
    return {"lesion_id": "NT", "role": "non_target", "status": status}


@pytest.mark.parametrize(("strict", "expected"), [
    pytest.param(False, "iCPD", id="target-and-nontarget-iupd-plus-exactly-5mm-iCPD-ge"),
    pytest.param(True, "iUPD", id="target-and-nontarget-iupd-plus-exactly-5mm-iUPD-gt-row"),
])
def test_table2_inconsistent_row(strict, expected):
    d = doc((0, [les("L1", 50.0), _nt("present")]),
            (42, [les("L1", 60.0), _nt("unequivocal_progression")]),
            (84, [les("L1", 65.0), _nt("present")]))
    assert labels(d, IRECIST.replace(icpd_strict_in_target_nontarget_row=strict))[-1] == expected


def test_nontarget_iupd_confirmed_by_any_increase():
    d = doc((0, [les("L1", 50.0), _nt("present")]),
            (42, [les("L1", 50.0), _nt("unequivocal_progression")]),
            (84, [les("L1", 50.0), _nt("further_increase")]))
    assert labels(d) == ["iUPD", "iCPD"]


def _new(lid, ld=12.0, **kw):
    return {"lesion_id": lid, "role": "new", "longest_diameter_mm": ld, **kw}


def test_new_lesion_iupd_confirmed_by_further_new_lesion():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 45.0), _new("X")]),
            (84, [les("L1", 45.0), _new("X"), _new("Y")]))
    assert labels(d) == ["iUPD", "iCPD"]


def test_new_lesion_iupd_confirmed_by_nlt_sum_growth():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 45.0), _new("X", 12.0)]),
            (84, [les("L1", 45.0), _new("X", 17.0)]))
    assert labels(d) == ["iUPD", "iCPD"]


def test_new_lesion_iupd_nlnt_increase_confirms():
    d = doc((0, [les("L1", 50.0)]),
            (42, [les("L1", 45.0), {"lesion_id": "X", "role": "new", "status": "present"}]),
            (84, [les("L1", 45.0), {"lesion_id": "X", "role": "new", "status": "further_increase"}]))
    assert labels(d) == ["iUPD", "iCPD"]


def test_target_iupd_confirmed_by_new_category():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 60.0)]),
            (84, [les("L1", 61.0), _new("X")]))
    assert labels(d) == ["iUPD", "iCPD"]


def test_scan_under_4_weeks_cannot_confirm_unless_symptoms_and_new_lesion():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 60.0)]), (60, [les("L1", 70.0)]))
    assert labels(d) == ["iUPD", "iUPD"]
    raw = doc((0, [les("L1", 50.0)]), (42, [les("L1", 45.0), _new("X")]),
              (60, [les("L1", 45.0), _new("X"), _new("Y")])).to_json()
    assert labels(type(d).from_json(raw)) == ["iUPD", "iUPD"]
    raw["timepoints"][2]["scan_for_new_symptoms"] = True
    assert labels(type(d).from_json(raw)) == ["iUPD", "iCPD"]


def test_nlt_categories_respect_caps():
    news = [_new(f"X{i}", 15.0) for i in range(3)] + [
        _new(f"P{i}", 15.0, organ="lung") for i in range(3)] + [_new("S", 8.0, organ="bone")]
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 50.0), *news]))
    cats = new_lesion_categories(d)
    assert [cats[k].value for k in ("X0", "X1", "X2", "P0", "P1", "P2", "S")] == [
        "nlt", "nlt", "nlnt", "nlt", "nlt", "nlnt", "nlnt"]


@pytest.mark.parametrize(("gap", "bor", "start"), [
    pytest.param(55, "iSD", None, id="ipr-confirmed-55-days-later-not-confirmed-under-56"),
    pytest.param(56, "iPR", 56, id="ipr-confirmed-56-days-later-confirmed-under-56"),
])
def test_irecist_confirmation_min_days_reaches_the_ibor(gap, bor, start):
    """IRecistRules.confirmation_min_days=56 is the iBOR's confirmation window too: an iPR
    confirmed 55 days later counted (the BOR read the base RECIST 1.1 rule set's 28 days)."""
    d = doc((0, [les("L1", 50.0)]), (56, [les("L1", 30.0)]), (56 + gap, [les("L1", 30.0)]))
    res = classify_irecist(d, IRECIST.replace(confirmation_min_days=56))
    assert (res.bor_unconfirmed, res.bor_confirmed) == ("iPR", bor)
    assert res.first_response_day_confirmed == start
    via_assess = assess(d, ["irecist"], confirmation_min_days=56)
    got = via_assess.results["iRECIST"]
    assert got.bor_confirmed == bor and got.parameters["confirmation_min_days"] == 56
    assert (via_assess.endpoints["iRECIST"]["dor"] is None) == (start is None)
    by_rule = assess(d, ["irecist"], rule_overrides={"iRECIST": {"confirmation_min_days": 56}})
    assert by_rule.results["iRECIST"].bor_confirmed == bor


@pytest.mark.parametrize(("gap", "expected"), [
    pytest.param(55, ["iUPD", "iUPD"], id="icpd-55-days-after-iupd-too-early-under-56"),
    pytest.param(56, ["iUPD", "iCPD"], id="icpd-56-days-after-iupd-confirms-under-56"),
])
def test_irecist_confirmation_min_days_reaches_icpd(gap, expected):
    d = doc((0, [les("L1", 50.0)]), (56, [les("L1", 60.0)]), (56 + gap, [les("L1", 70.0)]))
    assert labels(d, IRECIST.replace(confirmation_min_days=56)) == expected
    got = assess(d, ["irecist"], confirmation_min_days=56).results["iRECIST"]
    assert [t.response for t in got.timepoints[1:]] == expected

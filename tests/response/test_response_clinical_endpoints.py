"""Clinical CR, drug-off eligibility (criteria.md §9) and endpoints (§10)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response import (
    MARKER_LIMITS_WEST,
    MRECIST,
    RECIST_1_1,
    ReadDocument,
    assess,
    classify,
    clinical_cr,
    cohort_endpoints,
    dor,
    drug_off_eligible,
    pfs,
    ttp,
)
from hcc_imaging.response.clinical import MarkerLimits, marker_normal
from hcc_imaging.response.document import MarkerValue
from tests.response.response_helpers import doc, les, series

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _cr_doc(markers, treatments=(), ceus=()):
    return doc((0, [les("L1", 30.0)]), (56, [les("L1", status="absent")]),
               (140, [les("L1", status="absent")]),
               markers=list(markers), treatments=list(treatments), ceus=list(ceus))


def _normal(day, afp=5.0, l3=5.0, pivka=20.0):
    return {"day": day, "afp_ng_ml": afp, "afp_l3_pct": l3, "pivka_ii_mau_ml": pivka}


@pytest.mark.parametrize(("inclusive", "days", "expected"), [
    pytest.param(False, 42, False, id="normal-exactly-42-days-not-clinical-CR-gt-6-weeks"),
    pytest.param(True, 42, True, id="normal-exactly-42-days-clinical-CR-ge-reading"),
    pytest.param(False, 43, True, id="normal-43-days-clinical-CR"),
])
def test_clinical_cr_duration(inclusive, days, expected):
    d = _cr_doc([_normal(0, afp=900.0), _normal(60), _normal(60 + days)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)], duration_inclusive=inclusive)
    assert res.clinical_cr is expected
    assert res.normal_days == days and res.imaging_cr_day == 56


MARKERS = [
    pytest.param(MarkerValue(day=0, afp_ng_ml=10.0), "afp", True, id="afp-exactly-10-normal"),
    pytest.param(MarkerValue(day=0, afp_ng_ml=10.1), "afp", False, id="afp-10.1-abnormal"),
    pytest.param(MarkerValue(day=0, afp_l3_pct=10.0), "afp_l3", False, id="afp-l3-exactly-10pct-abnormal"),
    pytest.param(MarkerValue(day=0, afp_l3_pct=9.9), "afp_l3", True, id="afp-l3-9.9pct-normal"),
    pytest.param(MarkerValue(day=0, pivka_ii_mau_ml=40.0), "pivka_ii", False, id="pivka-exactly-40-abnormal"),
    pytest.param(MarkerValue(day=0, pivka_ii_mau_ml=39.0), "pivka_ii", True, id="pivka-39-normal"),
]


@pytest.mark.parametrize(("m", "key", "expected"), MARKERS)
def test_marker_limits(m, key, expected):
    assert marker_normal(m)[key] is expected


def test_afp_uln_is_a_parameter():
    m = MarkerValue(day=0, afp_ng_ml=15.0)
    assert marker_normal(m)["afp"] is False
    assert marker_normal(m, MARKER_LIMITS_WEST)["afp"] is True
    assert marker_normal(m, MarkerLimits(afp_uln_ng_ml=15, afp_inclusive=False))["afp"] is False


def test_no_imaging_cr_means_no_clinical_cr_and_abnormal_break_resets_run():
    d = doc((0, [les("L1", 30.0)]), (56, [les("L1", 20.0)]),
            markers=[_normal(0), _normal(50), _normal(100)])
    assert not clinical_cr(d, [classify(d, RECIST_1_1)]).clinical_cr
    d2 = _cr_doc([_normal(0), _normal(50), _normal(80, pivka=300.0), _normal(100), _normal(130)])
    res = clinical_cr(d2, [classify(d2, RECIST_1_1)])
    assert (res.normal_from_day, res.normal_days, res.clinical_cr) == (100, 30, False)
    d3 = _cr_doc([{"day": 60, "afp_ng_ml": 3.0}, {"day": 200, "afp_ng_ml": 3.0}])
    res3 = clinical_cr(d3, [classify(d3, RECIST_1_1)])
    assert not res3.clinical_cr and "never measured" in " ".join(res3.reasons)


ATEZO = [{"kind": "atezolizumab_bevacizumab", "day": 0}, {"kind": "RFA", "day": 30}]


@pytest.mark.parametrize(("min_days", "expected"), [
    pytest.param(84, True, id="markers-normal-16-weeks-eligible-at-12-weeks"),
    pytest.param(168, False, id="markers-normal-16-weeks-not-eligible-at-24-weeks"),
])
def test_drug_off_marker_duration(min_days, expected):
    d = _cr_doc([_normal(0, afp=900), _normal(28), _normal(28 + 112)], ATEZO,
                [{"day": 130, "intranodular_arterial_flow": False}])
    res = drug_off_eligible(d, [classify(d, MRECIST.replace(measure="longest_diameter"))],
                            min_normal_days=min_days)
    assert res.normal_days == 112 and res.eligible is expected


def test_drug_off_needs_ceus_without_flow_and_locoregional_after_atezo():
    m = [_normal(0, afp=900), _normal(28), _normal(140)]
    imaging = lambda d: [classify(d, RECIST_1_1)]  # noqa: E731
    no_ceus = _cr_doc(m, ATEZO)
    assert not drug_off_eligible(no_ceus, imaging(no_ceus)).eligible
    assert drug_off_eligible(no_ceus, imaging(no_ceus), require_ceus=False).eligible
    flow = _cr_doc(m, ATEZO, [{"day": 130, "intranodular_arterial_flow": True}])
    assert not drug_off_eligible(flow, imaging(flow)).eligible
    no_atezo = _cr_doc(m, [{"kind": "RFA", "day": 30}])
    assert "no atezolizumab" in drug_off_eligible(no_atezo, imaging(no_atezo)).reasons[0]
    lrt_before = _cr_doc(m, [{"kind": "RFA", "day": 0}, {"kind": "atezolizumab_bevacizumab", "day": 5}])
    assert "no curative locoregional" in drug_off_eligible(lrt_before, imaging(lrt_before)).reasons[0]


def test_example_atezo_reaches_clinical_cr_and_drug_off():
    a = assess(ReadDocument.from_json(EX / "read_atezo_irecist.json"))
    assert a.clinical["clinical_cr"]["clinical_cr"] is True
    assert a.clinical["drug_off"]["eligible"] is True
    assert a.results["iRECIST"].timepoints[1].response == "iUPD"
    assert a.results["iRECIST"].timepoints[2].response == "iSD"
    assert a.results["RECIST1.1"].bor_unconfirmed == "PD"
    assert a.results["iRECIST"].bor_unconfirmed == "iPR"


# ---------------------------------------------------------------- endpoints
def test_pfs_ttp_dor():
    d = series([50.0, 30.0, 30.0, 45.0], [0, 56, 112, 168])
    r = classify(d, RECIST_1_1)
    assert pfs(d, r).to_json() == {"event": True, "day": 168, "kind": "progression",
                                   "reason": "PD on day 168"}
    assert ttp(d, r).event and ttp(d, r).day == 168
    du = dor(d, r)
    assert (du.event, du.day) == (True, 112)


def test_death_pfs_event_ttp_censored_dor_parameter():
    d = series([50.0, 30.0, None], [0, 56, 112], death_day=150)
    r = classify(d, RECIST_1_1)
    assert (pfs(d, r).event, pfs(d, r).day, pfs(d, r).kind) == (True, 150, "death")
    t = ttp(d, r)
    assert (t.event, t.day) == (False, 56)  # NE at day 112 is not adequate
    # the PR of day 56 is not confirmed (NE next): a responder only without confirmation
    assert dor(d, r) is None
    du = dor(d, r, confirmed=False)
    assert (du.event, du.day) == (False, 0)
    assert (dor(d, r, death_is_event=True, confirmed=False).event,
            dor(d, r, death_is_event=True, confirmed=False).day) == (True, 94)


def test_pfs_censored_and_backdated():
    d = series([50.0, 45.0, None], [0, 56, 112])
    assert (pfs(d, classify(d, RECIST_1_1)).event, pfs(d, classify(d, RECIST_1_1)).day) == (False, 56)
    assert dor(d, classify(d, RECIST_1_1)) is None
    e = doc((0, [les("L1", 30.0)]),
            (56, [les("L1", 28.0), {"lesion_id": "X", "role": "new", "status": "present",
                                    "equivocal": True}]),
            (112, [les("L1", 28.0), {"lesion_id": "X", "role": "new", "status": "present"}]))
    assert pfs(e, classify(e, RECIST_1_1)).day == 56


@pytest.mark.parametrize("follow_up", [
    pytest.param([], id="baseline-only"),
    pytest.param([(56, [les("L1", status="not_evaluable")])], id="only-NE-after-baseline"),
])
def test_pfs_ttp_without_adequate_follow_up_are_censored_at_day_0_not_the_baseline(follow_up):
    # baseline 10 days before the start: the censoring day is the start, never negative
    d = doc((-10, [les("L1", 50.0)]), *follow_up)
    r = classify(d, RECIST_1_1)
    for end in (pfs(d, r), ttp(d, r)):
        assert (end.event, end.day, end.kind) == (False, 0, "censored")
        assert "no adequate assessment after the start (day 0)" in end.reason


def test_pfs_of_the_tace_example_baseline_only_is_censored_at_day_0():
    raw = json.loads((EX / "read_tace.json").read_text())
    raw["timepoints"] = raw["timepoints"][:1]  # baseline 2024-02-26, start 2024-03-01: day -4
    raw.pop("markers", None)
    d = ReadDocument.from_json(raw)
    assert d.timepoints[0].day == -4
    p = pfs(d, classify(d, RECIST_1_1))
    assert (p.event, p.day) == (False, 0)


def test_dor_none_when_the_only_pr_follows_the_first_pd():
    # read_atezo_irecist.json: RECIST 1.1 PD on day 42, PR from day 126 on; BOR PD
    d = ReadDocument.from_json(EX / "read_atezo_irecist.json")
    a = assess(d, ["RECIST1.1", "iRECIST"])
    r = a.results["RECIST1.1"]
    assert (r.bor_confirmed, r.pd_day) == ("PD", 42)
    assert dor(d, r) is None and dor(d, r, confirmed=False) is None
    # iRECIST: the iUPD was reset, the iPR of day 126 counts toward the iBOR
    i = dor(d, a.results["iRECIST"])
    assert (a.results["iRECIST"].bor_confirmed, i.event, i.day) == ("iPR", False, 168)


def test_dor_none_when_pd_is_backdated_to_the_first_pr():
    e = doc((0, [les("L1", 50.0)]),
            (56, [les("L1", 30.0), {"lesion_id": "N1", "role": "new", "equivocal": True,
                                    "longest_diameter_mm": 8.0}]),
            (112, [les("L1", 30.0), {"lesion_id": "N1", "role": "new",
                                     "longest_diameter_mm": 15.0}]))
    r = classify(e, RECIST_1_1)
    assert (r.bor_unconfirmed, r.bor_confirmed, r.pd_day) == ("PD", "PD", 56)
    assert dor(e, r) is None and dor(e, r, confirmed=False) is None


def test_dor_follows_the_confirmation_setting():
    # PR day 56 not confirmed (PD day 112): confirmed BOR SD, unconfirmed BOR PR
    d = series([50.0, 30.0, 40.0], [0, 56, 112])
    r = classify(d, RECIST_1_1)
    assert (r.bor_unconfirmed, r.bor_confirmed) == ("PR", "SD")
    assert dor(d, r) is None
    du = dor(d, r, confirmed=False)
    assert (du.event, du.day, du.kind) == (True, 56, "progression")
    # PR day 56 unconfirmed (SD day 112), PR day 168 confirmed on day 224, PD day 280:
    # with confirmation the response starts at the confirmed PR (day 168), not day 56
    d = series([50.0, 30.0, 35.5, 30.0, 30.0, 45.0], [0, 56, 112, 168, 224, 280])
    r = classify(d, RECIST_1_1)
    assert [t.response for t in r.timepoints[1:]] == ["PR", "SD", "PR", "PR", "PD"]
    assert (dor(d, r).day, dor(d, r).reason) == (
        112, "confirmed response from day 168 to PD on day 280")
    assert dor(d, r, confirmed=False).day == 224


def test_cohort_orr_dcr_keep_ne_in_denominator():
    c = cohort_endpoints(["CR", "PR", "SD", "PD", "NE", None, "NON-CR/NON-PD", "iPR"])
    assert (c.n, c.n_responders, c.n_disease_control) == (8, 3, 5)
    assert c.orr == Fraction(3, 8) and c.dcr == Fraction(5, 8)
    assert c.to_json()["counts"]["missing"] == 1
    with pytest.raises(CriteriaError, match=r"at least one patient"):
        cohort_endpoints([])


def test_cohort_normalises_the_spellings_the_tool_accepts():
    c = cohort_endpoints(["pr", "PR ", "non_cr/non_pd", "Non-CR/Non-PD", "icr", " iSD", None, ""])
    assert (c.n, c.n_responders, c.n_disease_control) == (8, 3, 6)
    assert c.counts == {"PR": 2, "NON-CR/NON-PD": 2, "iCR": 1, "iSD": 1, "missing": 2}


@pytest.mark.parametrize(("bors", "match"), [
    pytest.param(["PR", "XYZ"], r"patient 2, 'XYZ', is not a response label", id="unknown-label"),
    pytest.param(["Partial Response"], r"not a response label", id="long-name"),
    pytest.param(["TE4"], r"'TE4', is not a response label", id="recicl-te-grade"),
    pytest.param(["PR", 3], r"patient 2 is 3 \(int\)", id="not-a-string"),
    pytest.param("PRCR", r"not the string 'PRCR' \(it would be read letter by letter\)",
                 id="plain-string"),
])
def test_cohort_refuses_what_is_not_a_bor(bors, match):
    with pytest.raises(CriteriaError, match=match):
        cohort_endpoints(bors)


# Clinical CR needs the imaging CR and the normal markers at the same time (criteria.md §9.3).
def _tp(day, **kw):
    return (day, [les("L1", **kw)])


def test_cr_lost_to_pd_before_markers_normalise_is_not_clinical_cr():
    # CR day 56, PD day 112 (regrowth), markers normal only from day 120 to 200.
    d = doc(_tp(0, ld=30.0), _tp(56, status="absent"), _tp(112, ld=25.0), _tp(168, ld=25.0),
            markers=[_normal(0, afp=500.0), _normal(120), _normal(200)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)])
    assert res.clinical_cr is False
    assert (res.achieved_day, res.lost_day) == (None, None)
    assert res.normal_days == 80  # long enough on its own: the overlap is what fails
    assert "never held at the same time" in " ".join(res.reasons)


def test_clinical_cr_reached_then_lost_to_pd_reports_both_days():
    d = doc(_tp(0, ld=30.0), _tp(56, status="absent"), _tp(112, status="absent"),
            (168, [les("L1", status="absent"), les("N1", role="new")]),
            markers=[_normal(0, afp=500.0), _normal(60), _normal(160)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)])
    assert res.clinical_cr is False
    assert (res.achieved_day, res.lost_day) == (160, 168)
    assert "imaging CR ended" in " ".join(res.reasons)


def test_clinical_cr_lost_when_a_marker_rebounds():
    d = _cr_doc([_normal(0, afp=500.0), _normal(40), _normal(100), _normal(130, afp=50.0)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)])
    assert res.clinical_cr is False and (res.achieved_day, res.lost_day) == (100, 130)


def test_markers_normal_before_the_imaging_cr_count_from_the_cr_day():
    # Normal from day 10 (last draw day 55): on the CR day 56 they have been normal 45 days.
    d = _cr_doc([_normal(0, afp=500.0), _normal(10), _normal(55)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)])
    assert res.clinical_cr is True and res.achieved_day == 56 and res.lost_day is None


@pytest.mark.parametrize(("after_pd", "expected"), [
    pytest.param(False, False, id="cr-after-pd-not-counted-by-default"),
    pytest.param(True, True, id="cr-after-pd-counted-on-request"),
])
def test_cr_scored_after_pd(after_pd, expected):
    d = doc(_tp(0, ld=30.0), _tp(56, ld=40.0), _tp(112, status="absent"), _tp(168, status="absent"),
            markers=[_normal(0, afp=500.0), _normal(100), _normal(200)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)], count_cr_after_pd=after_pd)
    assert res.clinical_cr is expected
    if not after_pd:
        assert "follows PD on day 56" in " ".join(res.reasons)


def test_a_not_evaluable_time_point_neither_ends_nor_confirms_the_cr():
    d = doc(_tp(0, ld=30.0), _tp(56, status="absent"), _tp(112, status="not_evaluable"),
            markers=[_normal(0, afp=500.0), _normal(60), _normal(150)])
    res = clinical_cr(d, [classify(d, RECIST_1_1)])
    assert classify(d, RECIST_1_1).timepoints[2].response == "NE"
    assert res.clinical_cr is True and res.imaging_cr_day == 56


def test_drug_off_refused_when_the_cr_after_rfa_was_lost():
    d = doc(_tp(0, ld=30.0), _tp(56, status="absent"), _tp(112, status="absent"), _tp(200, ld=20.0),
            markers=[_normal(0, afp=900.0), _normal(28), _normal(140), _normal(210)],
            treatments=ATEZO, ceus=[{"day": 130, "intranodular_arterial_flow": False}])
    res = drug_off_eligible(d, [classify(d, RECIST_1_1)], min_normal_days=84)
    assert res.eligible is False and res.imaging_cr_day is None
    assert "no imaging CR in effect now" in " ".join(res.reasons)

"""mRECIST, EASL and WHO: HCC rules, the classic pairs, and the disputed readings (§3, §4, §11)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from hcc_imaging.response import EASL, MRECIST, RECIST_1_1, WHO, ReadDocument, assess, classify
from tests.response.response_helpers import doc, les, viable

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"


def last(d, rules):
    return classify(d, rules).timepoints[-1]


# ---------------------------------------------------------------- classic pairs
def test_tace_thin_rim_is_mrecist_cr_but_recist_sd():
    a = assess(ReadDocument.from_json(EX / "read_tace.json"),
               ["recist1.1", "mrecist", "easl", "who", "recicl"])
    r = {k: v.timepoints[1].response for k, v in a.results.items()}
    # EASL has no porta-hepatis rule: the 13 mm node keeps the overall at PR (target CR)
    assert r == {"RECIST1.1": "SD", "mRECIST": "CR", "EASL": "PR", "WHO": "SD", "RECICL": "CR"}
    assert a.results["EASL"].timepoints[1].target_response == "CR"
    easl_ph = assess(ReadDocument.from_json(EX / "read_tace.json"), ["easl"],
                     porta_hepatis_rule=True).results["EASL"]
    assert easl_ph.timepoints[1].response == "CR"
    assert a.results["mRECIST"].bor_confirmed == "CR"
    assert a.results["RECIST1.1"].bor_confirmed == "SD"
    # the porta-hepatis node of 14 mm is reactive under mRECIST, disease under RECIST
    assert a.results["mRECIST"].timepoints[1].non_target_response == "CR"
    assert a.results["RECIST1.1"].timepoints[1].non_target_response == "NON-CR/NON-PD"


def test_shrinking_enhancing_lesion_is_mrecist_pr_but_recist_sd():
    a = assess(ReadDocument.from_json(EX / "read_enhancing.json"), ["recist1.1", "mrecist"])
    assert a.results["mRECIST"].timepoints[1].response == "PR"
    assert a.results["mRECIST"].timepoints[1].change_from_baseline == Fraction(-16, 36)
    assert a.results["RECIST1.1"].timepoints[1].response == "SD"


# ---------------------------------------------------------------- mRECIST floor (§11 row 5)
@pytest.mark.parametrize(("floor", "expected"), [
    pytest.param(0, "PD", id="viable-plus-20pct-plus-3mm-PD-2010-text-no-floor"),
    pytest.param(5, "SD", id="viable-plus-20pct-plus-3mm-SD-with-recist-5mm-floor"),
])
def test_mrecist_floor(floor, expected):
    d = doc((0, [viable("L1", 20.0, 15.0, enhancing=True)]), (56, [viable("L1", 20.0, 18.0)]))
    assert last(d, MRECIST.replace(pd_abs_floor=floor)).response == expected


def test_mrecist_cr_needs_all_targets_without_enhancement():
    d = doc((0, [viable("L1", 30.0, 25.0, enhancing=True), viable("L2", 20.0, 15.0, enhancing=True)]),
            (56, [viable("L1", 28.0, 0.0), viable("L2", 18.0, 4.0)]))
    assert last(d, MRECIST).target_response == "PR"


# ---------------------------------------------------------------- mRECIST new lesions
def _new(**kw):
    return {"lesion_id": "X", "role": "new", **kw}


NEW = [
    pytest.param(_new(longest_diameter_mm=12.0, typical_hcc_pattern=True), "PD",
                 id="new-intrahepatic-12mm-typical-PD"),
    pytest.param(_new(longest_diameter_mm=10.0, typical_hcc_pattern=True), "PD",
                 id="new-intrahepatic-exactly-10mm-typical-PD"),
    pytest.param(_new(longest_diameter_mm=9.9, typical_hcc_pattern=True), "PR",
                 id="new-intrahepatic-9.9mm-typical-not-PD"),
    pytest.param(_new(longest_diameter_mm=15.0, typical_hcc_pattern=False), "PR",
                 id="new-intrahepatic-15mm-atypical-not-PD"),
    pytest.param(_new(longest_diameter_mm=25.0, typical_hcc_pattern=False, interval_growth_mm=10.0),
                 "PD", id="new-atypical-with-10mm-interval-growth-PD"),
    pytest.param(_new(longest_diameter_mm=19.0, typical_hcc_pattern=False, interval_growth_mm=9.0),
                 "PR", id="new-atypical-9mm-growth-not-PD"),
    pytest.param(_new(longest_diameter_mm=6.0, organ="lung"), "PD",
                 id="new-extrahepatic-follows-recist-PD"),
    pytest.param(_new(kind="effusion", organ="pleura", status="present"), "PR",
                 id="new-effusion-without-cytology-not-PD"),
    pytest.param(_new(kind="ascites", organ="peritoneum", status="present",
                      cytology_malignant=True), "PD", id="new-ascites-malignant-cytology-PD"),
    pytest.param(_new(is_lymph_node=True, porta_hepatis=True, short_axis_mm=15.0,
                      organ="lymph_node"), "PR", id="new-porta-node-15mm-not-malignant"),
    pytest.param(_new(is_lymph_node=True, porta_hepatis=True, short_axis_mm=20.0,
                      organ="lymph_node"), "PD", id="new-porta-node-20mm-PD"),
]


@pytest.mark.parametrize(("new", "expected"), NEW)
def test_mrecist_new_lesion_rule(new, expected):
    d = doc((0, [viable("L1", 40.0, 30.0, enhancing=True)]), (56, [viable("L1", 35.0, 15.0), new]))
    r = last(d, MRECIST)
    assert r.response == expected, r.reasons
    # under RECIST 1.1 every unequivocal new lesion is PD
    if new.get("kind") is None and not new.get("porta_hepatis"):
        assert last(d, RECIST_1_1).response == "PD"


@pytest.mark.parametrize(("new", "says", "not_says"), [
    pytest.param(_new(longest_diameter_mm=15.0), "X 15 mm: typical pattern not recorded "
                 "(typical_hcc_pattern): not PD", "without the typical pattern",
                 id="new-15mm-pattern-not-recorded-says-not-recorded"),
    pytest.param(_new(longest_diameter_mm=15.0, typical_hcc_pattern=False),
                 "X 15 mm without the typical pattern", "not recorded",
                 id="new-15mm-atypical-says-without-the-pattern"),
    pytest.param(_new(status="present", typical_hcc_pattern=True), "X has no longest_diameter_mm: "
                 "not PD", "n/a", id="new-without-diameter-says-no-diameter-not-n/a"),
])
def test_mrecist_new_lesion_reason_says_what_was_recorded(new, says, not_says):
    """typical_hcc_pattern absent was reported "without the typical pattern"; the class
    stays not PD (mRECIST needs the pattern shown, criteria.md §3.1)."""
    d = doc((0, [viable("L1", 40.0, 30.0, enhancing=True)]), (56, [viable("L1", 35.0, 15.0), new]))
    r = last(d, MRECIST)
    assert (r.response, r.new_lesions) == ("PR", False)
    (text,) = [x for x in r.reasons if x.startswith("new intrahepatic lesion X")]
    assert says in text and not_says not in text, text


# ---------------------------------------------------------------- mRECIST non-target rules
NT = [
    pytest.param(dict(kind="effusion", organ="pleura", status="unequivocal_progression"),
                 "NON-CR/NON-PD", "PD", id="effusion-worse-no-cytology-mrecist-not-PD"),
    pytest.param(dict(kind="effusion", organ="pleura", status="unequivocal_progression",
                      cytology_malignant=True), "PD", "PD", id="effusion-malignant-cytology-PD"),
    pytest.param(dict(kind="ascites", organ="peritoneum", status="unequivocal_progression",
                      cytology_malignant=False), "NON-CR/NON-PD", "PD",
                 id="ascites-benign-cytology-not-PD"),
    pytest.param(dict(is_lymph_node=True, porta_hepatis=True, organ="lymph_node",
                      short_axis_mm=14.0, status="unequivocal_progression"), "CR", "PD",
                 id="porta-node-14mm-progression-not-malignant"),
    pytest.param(dict(is_lymph_node=True, porta_hepatis=True, organ="lymph_node",
                      short_axis_mm=22.0, status="unequivocal_progression"), "PD", "PD",
                 id="porta-node-22mm-progression-PD"),
    pytest.param(dict(kind="pvtt", status="unequivocal_progression"), "PD", "PD",
                 id="pvtt-progression-PD"),
    pytest.param(dict(kind="pvtt", status="present", enhancing=False), "CR", "NON-CR/NON-PD",
                 id="pvtt-without-enhancement-mrecist-CR"),
]


@pytest.mark.parametrize(("nt", "mrecist_nt", "recist_nt"), NT)
def test_mrecist_non_target_rules(nt, mrecist_nt, recist_nt):
    base_nt = {"lesion_id": "NT", "role": "non_target", "status": "present",
               **{k: v for k, v in nt.items() if k != "status"}}
    d = doc((0, [viable("L1", 40.0, 30.0, enhancing=True), base_nt]),
            (56, [viable("L1", 35.0, 25.0), {"lesion_id": "NT", "role": "non_target", **nt}]))
    assert last(d, MRECIST).non_target_response == mrecist_nt
    assert last(d, RECIST_1_1).non_target_response == recist_nt


# ---------------------------------------------------------------- EASL / WHO
def _bi(lid, ld, sa, vd=None, vs=None, **kw):
    out = les(lid, ld, short_axis_mm=sa, **kw)
    if vd is not None:
        out.update(viable_diameter_mm=vd, viable_short_axis_mm=vs)
    return out


@pytest.mark.parametrize(("inclusive", "expected"), [
    pytest.param(True, "PD", id="easl-exactly-plus-25pct-PD-ge"),
    pytest.param(False, "SD", id="easl-exactly-plus-25pct-SD-gt"),
])
def test_easl_exactly_25pct(inclusive, expected):
    d = doc((0, [_bi("L1", 30.0, 25.0, 20.0, 20.0, enhancing=True)]),
            (56, [_bi("L1", 30.0, 25.0, 25.0, 20.0)]))  # 400 -> 500 mm2
    r = last(d, EASL.replace(pd_inclusive=inclusive))
    assert r.change_from_nadir == Fraction(1, 4)
    assert r.response == expected


@pytest.mark.parametrize(("viable_sa", "expected"), [
    pytest.param(10.0, "PR", id="easl-exactly-minus-50pct-PR"),
    pytest.param(10.1, "SD", id="easl-minus-49.5pct-SD"),
])
def test_easl_pr_boundary(viable_sa, expected):
    d = doc((0, [_bi("L1", 30.0, 25.0, 20.0, 20.0, enhancing=True)]),
            (56, [_bi("L1", 30.0, 25.0, 20.0, viable_sa)]))  # 400 -> 200 / 202 mm2
    assert last(d, EASL).response == expected


def test_easl_new_enhancement_in_treated_lesion_is_pd():
    d = doc((0, [_bi("L1", 30.0, 25.0, 20.0, 20.0, enhancing=True),
                 {"lesion_id": "T", "role": "non_target", "status": "present", "enhancing": False,
                  "previously_treated": True}]),
            (56, [_bi("L1", 30.0, 25.0, 10.0, 10.0),
                  {"lesion_id": "T", "role": "non_target", "status": "present",
                   "new_enhancement": True}]))
    assert last(d, EASL).response == "PD"
    assert last(d, MRECIST.replace(measure="viable_product")).response != "PD"


@pytest.mark.parametrize(("per_lesion", "expected"), [
    pytest.param(True, "PD", id="who-one-lesion-plus-50pct-sum-plus-3pct-PD-miller"),
    pytest.param(False, "SD", id="who-one-lesion-plus-50pct-sum-plus-3pct-SD-sum-rule"),
])
def test_who_per_lesion(per_lesion, expected):
    d = doc((0, [_bi("L1", 10.0, 10.0), _bi("L2", 40.0, 40.0)]),   # 100 + 1600 = 1700
            (56, [_bi("L1", 15.0, 10.0), _bi("L2", 40.0, 40.025)]))  # 150 + 1601 = 1751
    r = last(d, WHO.replace(pd_per_lesion=per_lesion))
    assert r.change_from_baseline == Fraction(3, 100)
    assert r.response == expected


@pytest.mark.parametrize(("reference", "expected"), [
    pytest.param("nadir", "PD", id="who-pd-vs-nadir"),
    pytest.param("baseline", "PR", id="who-pd-vs-baseline"),
])
def test_who_pd_reference(reference, expected):
    d = doc((0, [_bi("L1", 40.0, 40.0)]), (56, [_bi("L1", 20.0, 20.0)]),
            (112, [_bi("L1", 25.0, 25.0)]))  # 1600 -> 400 -> 625 (+56 % vs nadir, -61 % vs baseline)
    assert last(d, WHO.replace(pd_reference=reference, pd_per_lesion=False)).response == expected



def _who_gone_then(l2_fu2, **kw):
    """L1 3000 -> 1200 -> 1200 mm2 (PR throughout); L2 100 mm2 -> gone -> ``l2_fu2``."""
    return doc((0, [_bi("L1", 60.0, 50.0), _bi("L2", 10.0, 10.0)]),
               (56, [_bi("L1", 40.0, 30.0), les("L2", status="absent")]),
               (112, [_bi("L1", 40.0, 30.0), l2_fu2]))


@pytest.mark.parametrize(("l2_fu2", "rules", "expected"), [
    pytest.param(_bi("L2", 5.0, 5.0), WHO, "PD",
                 id="who-lesion-gone-then-25mm2-PD-per-lesion-from-nadir-0"),
    pytest.param(_bi("L2", 1.0, 1.0), WHO, "PD",
                 id="who-lesion-gone-then-1mm2-PD-any-regrowth-from-0"),
    pytest.param(les("L2", status="absent"), WHO, "PR", id="who-lesion-stays-gone-PR"),
    pytest.param(_bi("L2", 5.0, 5.0), WHO.replace(pd_per_lesion=False), "PR",
                 id="who-lesion-gone-then-25mm2-PR-sum-rule-only"),
    pytest.param(_bi("L2", 5.0, 5.0), WHO.replace(pd_abs_floor=26), "PR",
                 id="who-lesion-gone-then-25mm2-PR-under-a-26mm2-floor"),
    pytest.param(_bi("L2", 5.0, 5.0), WHO.replace(pd_reference="baseline"), "PR",
                 id="who-lesion-gone-then-25mm2-PR-vs-baseline-100mm2"),
])
def test_who_per_lesion_reappearance_from_zero(l2_fu2, rules, expected):
    r = last(_who_gone_then(l2_fu2), rules)
    assert r.response == expected
    if expected == "PD":
        assert r.target_response == "PD"
        assert any("PD per lesion" in x and "L2 0 mm2 ->" in x and "reappeared" in x
                   for x in r.reasons), r.reasons
    if l2_fu2.get("short_axis_mm") == 5.0:
        assert r.change_from_nadir == Fraction(25, 1200)  # the sum alone is +2.08 %: not PD

def test_who_node_must_disappear_for_cr():
    n = dict(is_lymph_node=True, organ="lymph_node")
    d = doc((0, [_bi("N1", 20.0, 16.0, **n)]), (56, [_bi("N1", 9.0, 8.0, **n)]))
    assert last(d, WHO).target_response == "PR"
    assert last(d, RECIST_1_1).target_response == "CR"


def test_who_product_needs_short_axis():
    d = doc((0, [les("L1", 30.0)]), (56, [les("L1", 20.0)]))
    from hcc_imaging.errors import CriteriaError

    with pytest.raises(CriteriaError, match=r"needs longest_diameter_mm and short_axis_mm"):
        classify(d, WHO)

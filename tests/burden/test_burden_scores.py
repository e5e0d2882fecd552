"""Burden scores, liver scores and BCLC (criteria.md §8, §11)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from hcc_imaging.burden import (
    albi,
    albi_conventional,
    albi_for,
    bclc_for,
    bclc_stage,
    bolondi_substage,
    burden_for_read,
    burden_for_timepoint,
    child_pugh,
    child_pugh_for,
    kinki_substage,
    six_and_twelve,
    tbs_band,
    tumour_burden_score,
    up_to_eleven,
    up_to_seven,
    within_milan,
)
from hcc_imaging.errors import CriteriaError
from hcc_imaging.response import LiverFunction, ReadDocument, TimePoint


@pytest.mark.parametrize(("ld", "n", "within"), [
    pytest.param(40.0, 3, True, id="upto7-01-exactly-7-within"),
    pytest.param(40.1, 3, False, id="upto7-02-7.01-beyond"),
    pytest.param(60.0, 1, True, id="upto7-03-single-6cm-within"),
    pytest.param(10.0, 6, True, id="upto7-04-six-1cm-nodules-exactly-7-within"),
    pytest.param(11.0, 6, False, id="upto7-05-six-nodules-largest-1.1cm-beyond"),
])
def test_up_to_seven(ld, n, within):
    assert up_to_seven(ld, n)[1] is within


@pytest.mark.parametrize(("ld", "n", "within"), [
    pytest.param(80.0, 3, True, id="upto11-01-exactly-11-within"),
    pytest.param(81.0, 3, False, id="upto11-02-11.1-beyond"),
])
def test_up_to_eleven(ld, n, within):
    assert up_to_eleven(ld, n)[1] is within


@pytest.mark.parametrize(("ld", "n", "stratum"), [
    pytest.param(30.0, 3, "<=6", id="six12-01-exactly-6"),
    pytest.param(30.1, 3, ">6-<=12", id="six12-02-6.01"),
    pytest.param(80.0, 4, ">6-<=12", id="six12-03-exactly-12"),
    pytest.param(80.1, 4, ">12", id="six12-04-12.01"),
])
def test_six_and_twelve(ld, n, stratum):
    assert six_and_twelve(ld, n)[1] == stratum


def test_tbs_value():
    assert tumour_burden_score(30.0, 4) == 5.0
    assert math.isclose(tumour_burden_score(26.0, 0), 2.6)


@pytest.mark.parametrize(("ld", "n", "bands", "band"), [
    pytest.param(26.0, 0, "hcc_resection_2023", "medium", id="tbs-exactly-2.6-medium-low-lt-2.6"),
    pytest.param(25.9, 0, "hcc_resection_2023", "low", id="tbs-2.59-low"),
    pytest.param(79.0, 0, "hcc_resection_2023", "medium", id="tbs-exactly-7.9-medium"),
    pytest.param(79.1, 0, "hcc_resection_2023", "high", id="tbs-7.91-high"),
    pytest.param(30.0, 4, "sasaki_2018", "zone2", id="tbs-5-sasaki-zone2"),
    pytest.param(90.0, 0, "sasaki_2018", "zone3", id="tbs-exactly-9-sasaki-zone3"),
    pytest.param(89.0, 0, "tsilimigras_2020", "high", id="tbs-exactly-8.9-tsilimigras-high"),
    pytest.param(107.7, 0, "guangxi_2024", "low", id="tbs-exactly-10.77-guangxi-low"),
    pytest.param(107.8, 0, "guangxi_2024", "high", id="tbs-10.78-guangxi-high"),
])
def test_tbs_bands(ld, n, bands, band):
    assert tbs_band(ld, n, bands) == band


def test_tbs_bands_errors():
    with pytest.raises(CriteriaError, match=r"unknown TBS bands 'x'"):
        tbs_band(10, 1, "x")
    from hcc_imaging.burden import TbsBands

    with pytest.raises(CriteriaError, match=r"need len\(labels\)"):
        TbsBands("bad", (Fraction(1),), ("a",), (True,))


def test_milan():
    assert within_milan([50.0])
    assert not within_milan([50.1])
    assert within_milan([30.0, 30.0, 30.0])
    assert not within_milan([30.0, 30.0, 30.0, 10.0])
    assert not within_milan([20.0], macrovascular_invasion=True)


@pytest.mark.parametrize(("cp", "within", "split", "stage"), [
    pytest.param(5, True, False, "B1", id="kinki-B1"), pytest.param(7, True, False, "B1", id="kinki-B1-cp7"),
    pytest.param(7, False, False, "B2", id="kinki-B2"), pytest.param(8, True, False, "B3", id="kinki-B3"),
    pytest.param(9, True, True, "B3a", id="kinki-B3a"), pytest.param(9, False, True, "B3b", id="kinki-B3b"),
])
def test_kinki(cp, within, split, stage):
    assert kinki_substage(cp, within, split) == stage


@pytest.mark.parametrize(("cp", "milan", "u7", "ecog", "stage"), [
    pytest.param(6, False, True, 0, "B1", id="bolondi-B1"),
    pytest.param(6, False, False, 0, "B2", id="bolondi-B2"),
    pytest.param(7, False, False, 0, "B3", id="bolondi-B3"),
    pytest.param(8, True, True, 1, "B4", id="bolondi-B4"),
    pytest.param(6, True, True, 0, None, id="bolondi-within-milan-not-B"),
    pytest.param(6, False, True, 1, None, id="bolondi-PS1-not-B"),
])
def test_bolondi(cp, milan, u7, ecog, stage):
    assert bolondi_substage(cp, milan, u7, ecog) == stage


def test_substage_errors():
    with pytest.raises(CriteriaError, match=r"Child-Pugh scores 5–9, got 10"):
        kinki_substage(10, True)
    with pytest.raises(CriteriaError, match=r"Bolondi substaging is defined"):
        bolondi_substage(4, False, True)
    with pytest.raises(CriteriaError, match=r"whole number ≥ 0"):
        up_to_seven(10, -1)


def _tp(lesions):
    return TimePoint("T", day=0, lesions=tuple(lesions))


def test_burden_for_timepoint_counts():
    tp = _tp([
        {"lesion_id": "A", "longest_diameter_mm": 40.0},
        {"lesion_id": "B", "role": "non_target", "status": "present", "longest_diameter_mm": 8.0},
        {"lesion_id": "C", "role": "non_target", "status": "absent"},
        {"lesion_id": "D", "role": "non_target", "status": "too_small"},
        {"lesion_id": "P", "role": "non_target", "kind": "pvtt", "status": "present"},
        {"lesion_id": "L", "longest_diameter_mm": 90.0, "organ": "lung"},
    ])
    b = burden_for_timepoint(tp)
    assert (b.n_tumours, b.largest_diameter_mm, b.up_to_seven) == (3, 40, "within")
    assert b.up_to_seven_score == 7
    f = burden_for_timepoint(tp, min_diameter_mm=10)
    assert f.n_tumours == 1 and any("not counted" in r for r in f.reasons)
    o = burden_for_timepoint(tp, n_tumours=5)
    assert o.up_to_seven == "beyond" and o.to_json()["up_to_seven_score"] == 9
    assert burden_for_timepoint(_tp([])).n_tumours == 0
    undefined = burden_for_timepoint(_tp([{"lesion_id": "B", "role": "non_target",
                                           "status": "present"}]))
    assert undefined.up_to_seven is None
    with pytest.raises(CriteriaError, match=r"unknown TBS bands"):
        burden_for_timepoint(tp, tbs_bands="nope")


def test_burden_for_read_on_example():
    from pathlib import Path

    ex = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"
    rows = burden_for_read(ReadDocument.from_json(ex))
    assert [r.up_to_seven_score for r in rows] == [Fraction(72, 10), Fraction(68, 10), Fraction(66, 10)]
    assert rows[0].up_to_seven == "beyond" and rows[1].up_to_seven == "within"


# ---------------------------------------------------------------- ALBI
def test_albi_formula_and_units():
    a = albi(17.1, 40.0)
    assert math.isclose(a.score, 0.66 * math.log10(17.1) - 0.085 * 40.0)
    assert (a.grade, a.malbi_grade) == ("2", "2a")
    c = albi_conventional(1.0, 4.0)
    assert math.isclose(c.score, a.score)
    lf = LiverFunction(day=0, bilirubin_mg_dl=1.0, albumin_g_dl=4.0)
    assert math.isclose(albi_for(lf).score, a.score)


@pytest.mark.parametrize(("bili", "alb", "grade", "malbi"), [
    pytest.param(5.0, 45.0, "1", "1", id="albi-grade1"),
    pytest.param(17.1, 40.0, "2", "2a", id="albi-grade2a"),
    pytest.param(30.0, 32.0, "2", "2b", id="albi-grade2b"),
    pytest.param(60.0, 20.0, "3", "3", id="albi-grade3"),
])
def test_albi_grades(bili, alb, grade, malbi):
    a = albi(bili, alb)
    assert (a.grade, a.malbi_grade) == (grade, malbi)


def test_albi_boundary_rounding_parameter():
    # albumin chosen so that the score is just above -2.60 before rounding
    bili = 10.0
    alb = (0.66 * math.log10(bili) + 2.60) / 0.085 - 1e-4
    a = albi(bili, alb)
    assert a.score > -2.60 and a.grade == "2"
    assert albi(bili, alb, round_to=2).grade == "1"


def test_albi_errors():
    with pytest.raises(CriteriaError, match=r"bilirubin_umol_l = 0 µmol/L is outside"):
        albi(0.0, 40.0)
    with pytest.raises(CriteriaError, match=r"ALBI needs bilirubin and albumin"):
        albi_for(LiverFunction(day=0, inr=1.0))


# ---------------------------------------------------------------- Child-Pugh
@pytest.mark.parametrize(("args", "boundary", "score", "cls"), [
    pytest.param((2.0, 3.5, 1.7), "middle_closed", 8, "B", id="cp-every-lower-boundary-8-B"),
    pytest.param((3.0, 2.8, 2.3), "middle_closed", 8, "B", id="cp-every-upper-boundary-8-B"),
    pytest.param((2.0, 3.5, 1.7), "better", 5, "A", id="cp-lower-boundaries-better-band-5-A"),
    pytest.param((3.0, 2.8, 2.3), "worse", 11, "C", id="cp-upper-boundaries-worse-band-11-C"),
    pytest.param((1.0, 4.0, 1.0), "middle_closed", 5, "A", id="cp-normal-5-A"),
    pytest.param((1.0, 3.0, 1.0), "middle_closed", 6, "A", id="cp-6-A"),
    pytest.param((2.5, 3.0, 1.0), "middle_closed", 7, "B", id="cp-7-B"),
])
def test_child_pugh(args, boundary, score, cls):
    r = child_pugh(*args, boundary=boundary)
    assert (r.score, r.child_class) == (score, cls)


def test_child_pugh_categorical_and_c():
    r = child_pugh(3.5, 2.5, 2.5, "moderate_severe", "grade_3_4")
    assert (r.score, r.child_class) == (15, "C")
    r = child_pugh(1.0, 4.0, 1.0, "mild", "grade_1_2")
    assert r.score == 7
    lf = LiverFunction(day=0, bilirubin_umol_l=34.2, albumin_g_l=35.0, inr=1.7, ascites="none",
                       encephalopathy="0")
    assert child_pugh_for(lf).score == 8


def test_child_pugh_errors():
    with pytest.raises(CriteriaError, match=r"boundary='closest' is not valid"):
        child_pugh(1, 4, 1, boundary="closest")
    with pytest.raises(CriteriaError, match=r"needs inr as a number"):
        child_pugh(1, 4, None)
    with pytest.raises(CriteriaError, match=r"Child-Pugh needs inr, ascites"):
        child_pugh_for(LiverFunction(day=0, bilirubin_mg_dl=1, albumin_g_dl=4))


# ---------------------------------------------------------------- BCLC
@pytest.mark.parametrize(("sizes", "kw", "stage"), [
    pytest.param([20.0], {}, "0", id="bclc-single-exactly-2cm-0-le"),
    pytest.param([20.0], {"size_inclusive": False}, "A", id="bclc-single-exactly-2cm-A-lt"),
    pytest.param([30.0, 30.0, 30.0], {}, "A", id="bclc-three-exactly-3cm-A-le"),
    pytest.param([30.0, 30.0, 30.0], {"size_inclusive": False}, "B", id="bclc-three-exactly-3cm-B-lt"),
    pytest.param([90.0], {}, "A", id="bclc-single-any-size-A"),
    pytest.param([20.0, 20.0, 20.0, 20.0], {}, "B", id="bclc-four-nodules-B"),
    pytest.param([20.0], {"ecog": 1}, "C", id="bclc-PS1-alone-is-C"),
    pytest.param([20.0], {"macrovascular_invasion": True}, "C", id="bclc-MVI-C"),
    pytest.param([20.0], {"extrahepatic_spread": True}, "C", id="bclc-EHS-C"),
    pytest.param([20.0], {"ecog": 3}, "D", id="bclc-PS3-D"),
    pytest.param([20.0], {"liver_function": "end_stage"}, "D", id="bclc-end-stage-D"),
])
def test_bclc(sizes, kw, stage):
    kw = {"ecog": 0, **kw}
    assert bclc_stage(sizes, **kw).stage == stage


def test_bclc_errors():
    with pytest.raises(CriteriaError, match=r"liver_function='bad'"):
        bclc_stage([10], ecog=0, liver_function="bad")
    with pytest.raises(CriteriaError, match=r"ECOG PS 0–5"):
        bclc_stage([10], ecog=9)
    with pytest.raises(CriteriaError, match=r"at least one nodule"):
        bclc_stage([], ecog=0)


def test_bclc_for_read_document():
    from pathlib import Path

    from hcc_imaging.burden import bclc_for

    ex = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"
    d = ReadDocument.from_json(ex)
    r = bclc_for(d, d.liver_function[0])
    assert r.stage == "B" and "time point 'BL'" in r.reasons[-1]
    raw = d.to_json()
    raw["timepoints"][0]["lesions"].append({"lesion_id": "PV", "role": "non_target", "kind": "pvtt",
                                            "status": "present"})
    del raw["liver_function"][0]["macrovascular_invasion"]
    d2 = ReadDocument.from_json(raw)
    assert bclc_for(d2, d2.liver_function[0]).stage == "C"
    with pytest.raises(CriteriaError, match=r"BCLC needs ecog and liver_function_status"):
        bclc_for(d, LiverFunction(day=0, bilirubin_mg_dl=1.0))
    from hcc_imaging.errors import ReadDocumentError

    with pytest.raises(ReadDocumentError, match=r"'liver_function_status': 'ok' is not valid"):
        LiverFunction(day=0, liver_function_status="ok")


def _bclc_doc(lesions, **lf):
    record = {"day": 0, "bilirubin_mg_dl": 1.0, "albumin_g_dl": 4.0, "inr": 1.0,
              "ascites": "none", "encephalopathy": "none", "ecog": 0,
              "liver_function_status": "preserved", **lf}
    return ReadDocument.from_json({"patient_id": "P", "timepoints": [
        {"id": "BL", "day": 0, "lesions": lesions}], "liver_function": [record]})


_T15 = {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 15.0}
_T25 = {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 25.0}


@pytest.mark.parametrize(("lesions", "stage", "possible"), [
    # a second nodule without a diameter: not "single ≤ 2 cm"; A or B by its size
    pytest.param([_T15, {"lesion_id": "L2", "role": "non_target", "status": "present"}],
                 "NE", ("A", "B"), id="bclc-15mm-plus-unmeasured-nodule-A-or-B"),
    # too small to measure: a small nodule, counted: two nodules ≤ 3 cm
    pytest.param([_T15, {"lesion_id": "L2", "role": "non_target", "status": "too_small"}],
                 "A", ("A",), id="bclc-15mm-plus-too-small-nodule-A"),
    # four nodules are B whatever the two unmeasured ones measure
    pytest.param([_T25, {**_T25, "lesion_id": "L2"},
                  {"lesion_id": "L3", "role": "non_target", "status": "present"},
                  {"lesion_id": "L4", "role": "non_target", "status": "present"}],
                 "B", ("B",), id="bclc-two-25mm-plus-two-unmeasured-B"),
    # a known nodule > 3 cm with a second one: B whatever the second measures
    pytest.param([{**_T25, "longest_diameter_mm": 40.0},
                  {"lesion_id": "L2", "role": "non_target", "status": "present"}],
                 "B", ("B",), id="bclc-40mm-plus-unmeasured-B"),
    # a single unmeasured nodule: 0 or A
    pytest.param([{"lesion_id": "L2", "role": "non_target", "status": "present"}],
                 "NE", ("0", "A"), id="bclc-single-unmeasured-0-or-A"),
    # not evaluable: may be gone; a 15 mm nodule is 0 alone, A or B with it
    pytest.param([_T15, {"lesion_id": "L2", "role": "target", "status": "not_evaluable"}],
                 "NE", ("0", "A", "B"), id="bclc-15mm-plus-not-evaluable-0-A-or-B"),
    # a measured non-target nodule counts
    pytest.param([_T15, {"lesion_id": "L2", "role": "non_target", "status": "present",
                         "longest_diameter_mm": 12.0}],
                 "A", ("A",), id="bclc-15mm-plus-non-target-12mm-A"),
])
def test_bclc_counts_every_nodule(lesions, stage, possible):
    d = _bclc_doc(lesions)
    r = bclc_for(d, d.liver_function[0])
    assert (r.stage, r.possible) == (stage, possible)
    if stage == "NE":
        assert "longest_diameter_mm" in r.reasons[0] and " or ".join(possible) in r.reasons[0]


def test_bclc_stage_unknown_sizes():
    assert bclc_stage([15.0, None], ecog=0).possible == ("A", "B")
    assert bclc_stage([None] * 4, ecog=0).stage == "B"
    assert bclc_stage([25.0], ecog=0).stage == "A"
    assert bclc_stage([25.0], ecog=0, n_possibly_absent=1).possible == ("A", "B")
    # C and D do not depend on the sizes
    assert bclc_stage([15.0, None], ecog=1).stage == "C"
    assert bclc_stage([None], ecog=0, liver_function="end_stage").stage == "D"
    with pytest.raises(CriteriaError, match=r"n_possibly_absent"):
        bclc_stage([10.0], ecog=0, n_possibly_absent=-1)


def test_burden_not_evaluable_when_an_unmeasured_nodule_could_be_the_largest():
    # L1 80 mm at baseline, not evaluable at FU1: FU1 must not claim within / <=6 / low
    ne = burden_for_timepoint(_tp([
        {"lesion_id": "L1", "role": "target", "status": "not_evaluable"},
        {"lesion_id": "L2", "role": "target", "longest_diameter_mm": 10.0}]))
    assert ne.n_tumours == 2 and ne.largest_diameter_mm is None
    assert (ne.up_to_seven_score, ne.up_to_seven, ne.up_to_eleven, ne.six_and_twelve,
            ne.tbs, ne.tbs_band, ne.within_milan) == (None,) * 7
    assert any("L1 not evaluable: could be the largest" in r for r in ne.reasons)
    # a present non-target without a diameter, too
    un = burden_for_timepoint(_tp([
        {"lesion_id": "L1", "longest_diameter_mm": 20.0},
        {"lesion_id": "L2", "role": "non_target", "status": "present"}]))
    assert (un.up_to_seven, un.tbs_band, un.within_milan) == (None, None, None)
    assert any("L2 present without longest_diameter_mm" in r for r in un.reasons)
    # what the measured nodules already decide holds whatever the unmeasured one measures
    big = burden_for_timepoint(_tp([
        {"lesion_id": "L1", "longest_diameter_mm": 130.0},
        {"lesion_id": "L2", "role": "non_target", "status": "present"}]))
    assert (big.up_to_seven, big.up_to_eleven, big.six_and_twelve, big.tbs_band,
            big.within_milan) == ("beyond", "beyond", ">12", "high", False)
    # 60 mm + one unmeasured: 6 + 2 = 8 > 7 is beyond whatever; up-to-11 and 6-and-12 open
    mid = burden_for_timepoint(_tp([
        {"lesion_id": "L1", "longest_diameter_mm": 60.0},
        {"lesion_id": "L2", "role": "non_target", "status": "present"}]))
    assert (mid.up_to_seven, mid.up_to_eleven, mid.six_and_twelve) == ("beyond", None, None)
    # too small to measure is small: no uncertainty
    ts = burden_for_timepoint(_tp([
        {"lesion_id": "L1", "longest_diameter_mm": 20.0},
        {"lesion_id": "L2", "role": "non_target", "status": "too_small"}]))
    assert (ts.up_to_seven_score, ts.up_to_seven) == (4, "within")


def test_burden_milan_reads_invasion_and_spread_from_the_time_point():
    single = {"lesion_id": "L1", "longest_diameter_mm": 25.0}
    assert burden_for_timepoint(_tp([single])).within_milan is True
    pvtt = burden_for_timepoint(_tp([single, {"lesion_id": "T1", "role": "non_target",
                                              "kind": "pvtt", "status": "present"}]))
    assert pvtt.within_milan is False
    assert any("Milan: beyond, macrovascular invasion (T1: PVTT)" in r for r in pvtt.reasons)
    lung = burden_for_timepoint(_tp([single, {"lesion_id": "M1", "organ": "lung",
                                              "longest_diameter_mm": 15.0}]))
    assert lung.within_milan is False and lung.n_tumours == 1
    assert any("extrahepatic spread (M1)" in r for r in lung.reasons)
    # an absent PVTT is no invasion; the caller's flags override the time point
    gone = _tp([single, {"lesion_id": "T1", "role": "non_target", "kind": "pvtt",
                         "status": "absent"}])
    assert burden_for_timepoint(gone).within_milan is True
    assert burden_for_timepoint(gone, macrovascular_invasion=True).within_milan is False
    assert burden_for_timepoint(_tp([single, {"lesion_id": "M1", "organ": "lung",
                                              "longest_diameter_mm": 15.0}]),
                                extrahepatic_spread=False).within_milan is True


@pytest.mark.parametrize(("record", "message"), [
    pytest.param({"bilirubin_mg_dl": 1.0, "albumin_g_dl": 40.0},
                 r"albumin_g_dl = 40 g/dL is outside .* 40 looks like g/L .* put it in albumin_g_l",
                 id="albumin-g-per-l-in-g-per-dl-field"),
    pytest.param({"bilirubin_umol_l": 17.0, "albumin_g_l": 3.5},
                 r"albumin_g_l = 3.5 g/L is outside .* looks like g/dL .* put it in albumin_g_dl",
                 id="albumin-g-per-dl-in-g-per-l-field"),
    pytest.param({"bilirubin_umol_l": 0.5, "albumin_g_l": 40},
                 r"bilirubin_umol_l = 0.5 µmol/L is outside .* looks like mg/dL",
                 id="bilirubin-mg-per-dl-in-umol-field"),
    pytest.param({"bilirubin_mg_dl": 250.0, "albumin_g_dl": 4.0},
                 r"bilirubin_mg_dl = 250 mg/dL is outside .* looks like µmol/L",
                 id="bilirubin-umol-in-mg-per-dl-field"),
    pytest.param({"bilirubin_mg_dl": 1.0, "albumin_g_dl": 0},
                 r"albumin_g_dl = 0 g/dL is outside the plausible range 0.8–7 g/dL",
                 id="albumin-zero"),
    pytest.param({"bilirubin_mg_dl": 1.0, "bilirubin_umol_l": 60.0, "albumin_g_dl": 4.0},
                 r"bilirubin_mg_dl = 1 \(17.1 µmol/L\) and bilirubin_umol_l = 60 disagree",
                 id="bilirubin-two-units-disagree"),
    pytest.param({"bilirubin_mg_dl": 1.0, "albumin_g_dl": 4.0, "albumin_g_l": 30.0},
                 r"albumin_g_dl = 4 \(40 g/L\) and albumin_g_l = 30 disagree",
                 id="albumin-two-units-disagree"),
    pytest.param({"bilirubin_mg_dl": 1.0, "albumin_g_dl": 4.0, "inr": 12.5},
                 r"inr = 12.5 ratio is outside .* prothrombin time in seconds",
                 id="inr-prothrombin-seconds"),
])
def test_liver_labs_refuse_implausible_values_and_unit_mix_ups(record, message):
    lf = LiverFunction(**{"day": 0, "inr": 1.0, "ascites": "none", "encephalopathy": "none",
                          **record})
    with pytest.raises(CriteriaError, match=message):
        child_pugh_for(lf)
    if "inr" not in record:
        with pytest.raises(CriteriaError, match=message):
            albi_for(lf)


def test_liver_labs_accept_two_units_that_agree_and_the_range_edges():
    # reports round: 1.2 mg/dL is 20.52 µmol/L, reported 21; 3.9 g/dL reported 39 g/L
    lf = LiverFunction(day=0, bilirubin_mg_dl=1.2, bilirubin_umol_l=21, albumin_g_dl=3.9,
                       albumin_g_l=39, inr=1.0, ascites="none", encephalopathy="none")
    assert child_pugh_for(lf).score == 5 and albi_for(lf).grade == "2"
    assert albi(0.855, 8.0).grade == "3" and albi(1368, 70).grade == "1"
    assert child_pugh(80, 0.8, 10).score == 11 and child_pugh(0.05, 7.0, 0.5).score == 5


def test_albi_refuses_non_numbers():
    for bad, msg in ((math.nan, "not a finite number"), (math.inf, "not a finite number"),
                     (True, "must be a number"), ("17", "must be a number")):
        with pytest.raises(CriteriaError, match=msg):
            albi(bad, 40.0)
    with pytest.raises(CriteriaError, match=r"albumin_g_l must be a number in g/L, got '40'"):
        albi(17.0, "40")


_NODE = {"lesion_id": "N1", "role": "target", "organ": "lymph_node", "kind": "lymph_node",
         "longest_diameter_mm": 30.0, "short_axis_mm": 25.0}


@pytest.mark.parametrize(("node", "nodes_are_spread", "stage", "milan"), [
    pytest.param(_NODE, True, "C", False, id="n1-node-is-spread-C"),
    pytest.param(_NODE, False, "0", True, id="n1-node-not-spread-0"),
    pytest.param({**_NODE, "role": "non_target", "status": "present", "short_axis_mm": 8.0,
                  "longest_diameter_mm": None}, True, "0", True, id="node-8mm-normal-0"),
    pytest.param({**_NODE, "short_axis_mm": 15.0, "porta_hepatis": True}, True, "0", True,
                 id="porta-hepatis-node-15mm-reactive-0"),
    pytest.param({**_NODE, "short_axis_mm": 20.0, "porta_hepatis": True}, True, "C", False,
                 id="porta-hepatis-node-20mm-C"),
    pytest.param({**_NODE, "role": "non_target", "status": "present", "short_axis_mm": None,
                  "longest_diameter_mm": None}, True, "C", False,
                 id="node-present-unmeasured-C"),
    pytest.param({**_NODE, "role": "non_target", "status": "too_small", "short_axis_mm": None,
                  "longest_diameter_mm": None}, True, "0", True, id="node-too-small-0"),
])
def test_lymph_node_spread_parameter(node, nodes_are_spread, stage, milan):
    node = {k: v for k, v in node.items() if v is not None}
    d = _bclc_doc([_T15, node])
    assert bclc_for(d, d.liver_function[0], nodes_are_spread=nodes_are_spread).stage == stage
    b = burden_for_timepoint(d.timepoints[0], nodes_are_spread=nodes_are_spread)
    assert b.within_milan is milan and b.n_tumours == 1


@pytest.mark.parametrize("boundary", ["middle_closed", "better", "worse"])
@pytest.mark.parametrize(("si", "conventional"), [
    pytest.param({"bilirubin_umol_l": 51.3}, {"bilirubin_mg_dl": 3.0}, id="bili-51.3-umol-3-mg"),
    pytest.param({"bilirubin_umol_l": 34.2}, {"bilirubin_mg_dl": 2.0}, id="bili-34.2-umol-2-mg"),
])
def test_child_pugh_same_band_in_either_unit(si, conventional, boundary):
    # 51.3 µmol/L is exactly 3.0 mg/dL (x 17.1): the float division gave 2.9999999999999996,
    # the better band under boundary="worse"
    common = {"day": 0, "albumin_g_l": 28, "inr": 2.3, "ascites": "none",
              "encephalopathy": "none"}
    a = child_pugh_for(LiverFunction(**common, **si), boundary)
    b = child_pugh_for(LiverFunction(**common, **conventional), boundary)
    assert a.points == b.points


@pytest.mark.parametrize("boundary", ["middle_closed", "better", "worse"])
@pytest.mark.parametrize(("si", "conventional"), [
    pytest.param({"bilirubin_umol_l": 51.3, "albumin_g_l": 35}, {"bilirubin_mg_dl": 3, "albumin_g_dl": 3.5},
                 id="bili-51.3-umol-3-mg-alb-35-g-l-3.5-g-dl"),
    pytest.param({"bilirubin_umol_l": 34.2, "albumin_g_l": 28}, {"bilirubin_mg_dl": 2, "albumin_g_dl": 2.8},
                 id="bili-34.2-umol-2-mg-alb-28-g-l-2.8-g-dl"),
])
def test_liver_function_unit_properties_are_exact_on_the_child_pugh_edges(si, conventional, boundary):
    """``LiverFunction.bilirubin_mg_per_dl`` & co. convert exactly: 51.3 µmol/L gave
    2.9999999999999996 mg/dL (2 points under boundary="worse", 3 from 3 mg/dL) and 3 mg/dL gave
    51.300000000000004 µmol/L."""
    common = {"day": 0, "inr": 1.0, "ascites": "none", "encephalopathy": "none"}
    a, b = LiverFunction(**common, **si), LiverFunction(**common, **conventional)
    for lf in (a, b):
        assert lf.bilirubin_mg_per_dl == float(conventional["bilirubin_mg_dl"])
        assert lf.bilirubin_umol_per_l == si["bilirubin_umol_l"]
        assert lf.albumin_g_per_dl == conventional["albumin_g_dl"]
        assert lf.albumin_g_per_l == si["albumin_g_l"]
        via_properties = child_pugh(lf.bilirubin_mg_per_dl, lf.albumin_g_per_dl, 1.0, boundary=boundary)
        assert via_properties.points == child_pugh_for(a, boundary).points == child_pugh_for(b, boundary).points
        assert albi(lf.bilirubin_umol_per_l, lf.albumin_g_per_l).score == albi_for(a).score == albi_for(b).score


def test_liver_function_unit_properties_round_trip():
    """Every bilirubin 0.10-20.00 mg/dL and albumin 1.0-6.0 g/dL (steps of a report) comes back
    as written after a trip through the other unit."""
    for i in range(10, 2001):
        mg = i / 100
        umol = LiverFunction(day=0, bilirubin_mg_dl=mg).bilirubin_umol_per_l
        assert umol == float(Fraction(i, 100) * Fraction("17.1")), mg
        assert LiverFunction(day=0, bilirubin_umol_l=umol).bilirubin_mg_per_dl == mg, (mg, umol)
    for i in range(10, 61):
        g_dl = i / 10
        g_l = LiverFunction(day=0, albumin_g_dl=g_dl).albumin_g_per_l
        assert g_l == float(i) and LiverFunction(day=0, albumin_g_l=g_l).albumin_g_per_dl == g_dl


def test_albi_json_never_contradicts_the_grade():
    # albumin chosen so that ALBI is -2.59998: grade 2; 4 decimals would print -2.6 (grade 1)
    bili = 17.1
    alb = (0.66 * math.log10(bili) + 2.59998) / 0.085
    a = albi(bili, alb)
    assert a.grade == "2" and a.score > -2.60
    shown = a.to_json()["albi"]
    assert shown > -2.60 and shown == pytest.approx(-2.59998, abs=1e-9)
    assert albi(17.1, 40).to_json()["albi"] == round(albi(17.1, 40).score, 4)

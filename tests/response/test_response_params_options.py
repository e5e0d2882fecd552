"""Rule parameters and assess options: strict yes/no and fraction values (API and --set), the
clinical CR / drug-off and BCLC options, burden_options keys, the RECICL evaluation window and
extrahepatic note, and confirmation through an intervening scan (criteria.md §2.6, §5, §9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.errors import CriteriaError
from hcc_imaging.response import ReadDocument, assess
from tests.response.response_helpers import doc, les, series

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"


def pd_boundary() -> ReadDocument:
    """RECIST 1.1 sum 25 -> 30 mm: +20 % and +5 mm, PD with pd_inclusive, SD without."""
    return series([25, 30])


# ---------------------------------------------------------------- strict values


@pytest.mark.parametrize("value", ["false", "FALSE", "No", "0", 0, False])
def test_a_false_spelling_is_read_as_false(value):
    r = assess(pd_boundary(), ["recist1.1"],
               rule_overrides={"RECIST1.1": {"pd_inclusive": value}}).results["RECIST1.1"]
    assert r.parameters["pd_inclusive"] is False
    assert r.timepoints[1].response == "SD"


@pytest.mark.parametrize("value", ["flase", "nope", "", "on", 2, None])
def test_a_misspelt_yes_no_value_is_refused_naming_criterion_and_parameter(value):
    with pytest.raises(CriteriaError, match=r"RECIST1\.1 parameter pd_inclusive=.*"
                                            r"true/yes/1 for true, false/no/0 for false"):
        assess(pd_boundary(), ["recist1.1"], rule_overrides={"RECIST1.1": {"pd_inclusive": value}})


def test_a_recicl_switch_typo_is_refused():
    d = doc((0, [les("L1", 20, short_axis_mm=20)]), (42, [les("L1", 40, short_axis_mm=40,
                                                               necrosis_fraction=0.5)]))
    with pytest.raises(CriteriaError, match=r"RECICL parameter te1_before_te3='nope'"):
        assess(d, ["recicl"], rule_overrides={"RECICL": {"te1_before_te3": "nope"}})
    te = assess(d, ["recicl"], rule_overrides={"RECICL": {"te1_before_te3": "false"}})
    assert te.results["RECICL"].timepoints[1].extra["te"] == "TE3"


@pytest.mark.parametrize(("value", "hint"), [(30, "0.30"), ("30", "0.30"), (2.5, "0.025"),
                                              (-0.3, "0.30"), (150, "0.30")])
def test_a_fraction_outside_0_1_is_refused_with_a_hint(value, hint):
    with pytest.raises(CriteriaError, match=rf"pr_threshold_frac=.* outside \[0, 1\].*{hint}"):
        assess(pd_boundary(), ["recist1.1"], pr_threshold_frac=value)


def test_cli_refuses_a_misspelt_boolean_and_a_percentage(tmp_path, capsys):
    p = tmp_path / "read.json"
    p.write_text(json.dumps(pd_boundary().to_json()))
    assert main(["assess", str(p), "--criteria", "recist1.1",
                 "--set", "recist1.1:pd_inclusive=flase"]) == 2
    err = capsys.readouterr().err
    assert "RECIST1.1 parameter pd_inclusive='flase'" in err and "false/no/0" in err
    assert main(["assess", str(p), "--criteria", "recist1.1",
                 "--set", "recist1.1:pr_threshold_frac=30"]) == 2
    assert "Did you mean 0.30" in capsys.readouterr().err


# ---------------------------------------------------------------- clinical / BCLC / burden


def afp15() -> ReadDocument:
    """mRECIST CR from day 60; AFP 15 ng/mL (normal under a 20 ULN, not under 10)."""
    v = {"enhancing": True, "well_delineated": True}
    m = [{"day": 0, "afp_ng_ml": 900, "afp_l3_pct": 30, "pivka_ii_mau_ml": 900}] + [
        {"day": d, "afp_ng_ml": 15, "afp_l3_pct": 5, "pivka_ii_mau_ml": 20} for d in (60, 120)]
    return doc((0, [les("L1", 40, viable_diameter_mm=30, **v)]),
               (60, [les("L1", 40, viable_diameter_mm=0, **v)]),
               (120, [les("L1", 40, viable_diameter_mm=0, **v)]), markers=m)


def test_the_afp_upper_limit_is_an_assess_option_and_is_reported():
    default = assess(afp15(), ["mrecist"]).clinical
    assert default["clinical_cr"]["clinical_cr"] is False
    assert default["options"]["afp_uln_ng_ml"] == 10
    west = assess(afp15(), ["mrecist"], clinical_options={"afp_uln_ng_ml": 20}).clinical
    assert west["clinical_cr"]["clinical_cr"] is True
    assert west["options"]["afp_uln_ng_ml"] == 20
    from hcc_imaging.response.clinical import MARKER_LIMITS_WEST
    from hcc_imaging.response.options import ClinicalOptions

    same = assess(afp15(), ["mrecist"], clinical_options=ClinicalOptions.with_limits(
        MARKER_LIMITS_WEST)).clinical
    assert same["clinical_cr"]["clinical_cr"] is True


def test_cli_sets_clinical_options(tmp_path, capsys):
    p = tmp_path / "read.json"
    p.write_text(json.dumps(afp15().to_json()))
    assert main(["assess", str(p), "--criteria", "mrecist", "--json",
                 "--set", "clinical:afp_uln_ng_ml=20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clinical"]["clinical_cr"]["clinical_cr"] is True
    assert out["clinical"]["options"]["afp_uln_ng_ml"] == 20
    assert main(["assess", str(p), "--criteria", "mrecist",
                 "--set", "clinical:afp_uln_ng_ml=20"]) == 0
    assert "limits: AFP ≤ 20 ng/mL" in capsys.readouterr().out
    assert main(["assess", str(p), "--criteria", "mrecist",
                 "--set", "clinical:duration_inclusive=maybe"]) == 2
    assert "clinical parameter duration_inclusive='maybe'" in capsys.readouterr().err


def test_the_drug_off_window_is_an_option():
    d = ReadDocument.from_json(str(EX / "read_atezo_irecist.json"))  # markers normal 124 days
    assert assess(d, ["mrecist"]).clinical["drug_off"]["eligible"] is True
    strict = assess(d, ["mrecist"], clinical_options={"drug_off_min_normal_days": 168})
    assert strict.clinical["drug_off"]["eligible"] is False


def test_unknown_clinical_and_burden_options_name_the_valid_ones():
    with pytest.raises(CriteriaError, match=r"clinical option\(s\) \['afp_uln'\] unknown\. "
                                            r"Did you mean 'afp_uln_ng_ml'\?"):
        assess(afp15(), ["mrecist"], clinical_options={"afp_uln": 20})
    with pytest.raises(CriteriaError, match=r"burden_options: unknown option\(s\) \['tbs_band'\]"
                                            r"\. Valid burden options: .*tbs_bands"):
        assess(afp15(), ["mrecist"], burden_options={"tbs_band": "sasaki_2018"})
    with pytest.raises(CriteriaError, match=r"afp_uln_ng_ml is a clinical option"):
        assess(afp15(), ["mrecist"], afp_uln_ng_ml=20)


def test_bclc_size_boundary_is_an_option():
    lf = [{"day": 0, "ecog": 0, "liver_function_status": "preserved"}]
    d = doc((0, [les("L1", 20)]), (56, [les("L1", 20)]), liver_function=lf)
    assert assess(d, ["recist1.1"]).liver[0]["bclc"] == "0"  # single 2.0 cm: "≤ 2 cm"
    row = assess(d, ["recist1.1"], bclc_options={"size_inclusive": "false"}).liver[0]
    assert (row["bclc"], row["bclc_size_inclusive"]) == ("A", False)


# ---------------------------------------------------------------- RECICL


def recicl_tace(**kw) -> ReadDocument:
    full = {"short_axis_mm": 25, "necrosis_fraction": 1.0}
    return doc((0, [les("L1", 30, short_axis_mm=25)]), (3, [les("L1", 30, **full)]),
               (31, [les("L1", 30, **full)]),
               treatments=[{"kind": "cTACE", "day": 1, "lesion_ids": ["L1"]}], **kw)


def test_recicl_scan_too_soon_after_tace_is_not_evaluable():
    r = assess(recicl_tace(), ["recicl"]).results["RECICL"]
    fu1, fu2 = r.timepoints[1], r.timepoints[2]
    assert fu1.response == "NE" and fu2.extra["te"].startswith("TE4")
    assert "2 days after cTACE on day 1" in fu1.extra["nodules"][0]["reason"]
    assert r.parameters["evaluation_min_days"] == 28
    off = assess(recicl_tace(), ["recicl"], rule_overrides={"RECICL": {"evaluation_min_days": 0}})
    assert off.results["RECICL"].timepoints[1].extra["te"].startswith("TE4")


def test_recicl_says_it_does_not_grade_extrahepatic_lesions():
    lung = {"organ": "lung", "short_axis_mm": 20}
    d = doc((0, [les("L1", 20, short_axis_mm=20), les("P1", 20, **lung)]),
            (42, [les("L1", 20, short_axis_mm=20, necrosis_fraction=1.0), les("P1", 20, **lung),
                  les("X", 15, role="new", organ="lung", short_axis_mm=12)]))
    r = assess(d, ["recicl"]).results["RECICL"]
    assert any("P1 (lung)" in c and "not graded by RECICL" in c for c in r.checks)
    assert any("X (lung)" in t and "not graded by RECICL" in t for t in r.timepoints[1].reasons)



def test_recicl_checks_name_a_new_extrahepatic_lesion_once():
    """A new lung lesion seen at three follow-ups was a check of its own at each of them (the
    read's checks repeated it); each follow-up's reasons still say it."""
    lung = {"organ": "lung", "short_axis_mm": 12}
    base = [les("L1", 20, short_axis_mm=20)]
    fu = [les("L1", 20, short_axis_mm=20, necrosis_fraction=1.0), les("X", 15, role="new", **lung)]
    fu3 = [*fu, les("Y", 11, role="new", organ="bone", short_axis_mm=10)]
    r = assess(doc((0, base), (42, fu), (84, fu), (126, fu3)), ["recicl"]).results["RECICL"]
    said = [c for c in r.checks if "new extrahepatic" in c]
    assert len(said) == 2 and "X (lung) on day 42" in said[0], said
    assert "Y (bone) on day 126" in said[1] and "X (lung)" not in said[1]
    assert all(any("X (lung)" in t for t in tp.reasons) for tp in r.timepoints[1:])


# ---------------------------------------------------------------- confirmation


def test_an_intervening_sd_breaks_the_confirmation_of_a_pr():
    d = series([50, 34, 38, 34, 40], days=[0, 42, 60, 100, 140])
    r = assess(d, ["recist1.1"]).results["RECIST1.1"]
    assert r.parameters["confirmation_intervening_must_hold"] is True
    assert (r.bor_unconfirmed, r.bor_confirmed) == ("PR", "SD")
    assert r.timepoints[4].response == "SD"  # -20 %: no confirmed PR to continue
    assert any("SD on day 60, 18 days later" in x for x in r.bor_reasons)
    old = assess(d, ["recist1.1"], confirmation_intervening_must_hold=False).results["RECIST1.1"]
    assert old.bor_confirmed == "PR" and old.timepoints[4].response == "PR"

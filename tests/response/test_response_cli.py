"""``hcc-imaging assess``: JSON shape, table, overrides, errors; one subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hcc_imaging.cli import main
from hcc_imaging.response import ReadDocument, assess
from hcc_imaging.response.document import schema

EX = Path(__file__).resolve().parents[2] / "docs" / "examples"
TACE = str(EX / "read_tace.json")

TP_KEYS = {"id", "day", "sum", "change_from_baseline", "change_from_nadir", "target_response",
           "non_target_response", "new_lesions", "response", "reasons"}


def run_json(capsys, *args):
    rc = main(["assess", *args, "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_json_shape_and_equals_api(capsys):
    out = run_json(capsys, TACE, "--criteria", "RECIST1.1,mrecist,EASL,who,recicl,IRECIST")
    assert list(out["results"]) == ["RECIST1.1", "mRECIST", "EASL", "WHO", "RECICL", "iRECIST"]
    for name, res in out["results"].items():
        assert {"timepoints", "bor_unconfirmed", "bor_confirmed", "pd_day"} <= set(res)
        first, *rest = res["timepoints"]
        assert first["id"] == "BL" and first["response"] is None
        assert all(TP_KEYS <= set(t) for t in res["timepoints"])
        assert all(t["response"] for t in rest)
    assert out["results"]["WHO"]["sum_unit"] == "mm2"
    assert out["results"]["RECIST1.1"]["timepoints"][0]["sum"] == 77
    assert {"id", "up_to_seven", "tbs"} <= set(out["burden"][0])
    api = assess(ReadDocument.from_json(TACE),
                 ["RECIST1.1", "mRECIST", "EASL", "WHO", "RECICL", "iRECIST"]).to_json()
    assert out == json.loads(json.dumps(api))


def test_all_and_default_criteria(capsys):
    assert len(run_json(capsys, TACE, "--criteria", "all")["results"]) == 6
    # default: the document's own list
    assert list(run_json(capsys, TACE)["results"]) == ["RECIST1.1", "mRECIST", "EASL", "WHO", "RECICL"]


def test_set_overrides(capsys):
    base = run_json(capsys, str(EX / "read_enhancing.json"), "--criteria", "mrecist")
    assert base["results"]["mRECIST"]["parameters"]["pd_abs_floor"] == 0
    out = run_json(capsys, str(EX / "read_enhancing.json"), "--criteria", "mrecist",
                   "--set", "mrecist:pd_abs_floor=5", "--set", "sd_min_days=56",
                   "--set", "pr_threshold_frac=0.5")
    p = out["results"]["mRECIST"]["parameters"]
    assert (p["pd_abs_floor"], p["sd_min_days"], p["pr_threshold_frac"]) == (5, 56, 0.5)
    assert out["results"]["mRECIST"]["timepoints"][1]["response"] == "SD"  # -44 % < 50 %


def test_table_output(capsys):
    assert main(["assess", TACE, "--criteria", "recist1.1,mrecist", "--reasons"]) == 0
    text = capsys.readouterr().out
    assert "BOR unconfirmed CR, confirmed CR" in text
    assert "Tumour burden" in text and "Child-Pugh 5 A" in text
    assert "target CR" in text


@pytest.mark.parametrize(("args", "match"), [
    pytest.param(["--criteria", "recist2"], r"unknown response criterion 'recist2'", id="bad-criterion"),
    pytest.param(["--set", "nope=1"], r"parameter\(s\) \['nope'\] do not belong", id="unknown-param"),
    pytest.param(["--set", "novalue"], r"expected \[CRITERION:\]PARAM=VALUE", id="set-syntax"),
    pytest.param(["--set", "who:pd_abs_floor=5"], r"rule_overrides names WHO, which is not among",
                 id="override-for-unselected"),
    pytest.param(["--set", "measure=volume"], r"measure='volume' is not valid", id="bad-enum-value"),
])
def test_cli_errors(capsys, args, match):
    assert main(["assess", TACE, "--criteria", "recist1.1,mrecist", *args]) == 2
    import re

    assert re.search(match, capsys.readouterr().err)


def test_bad_document_message_names_timepoint_lesion_field(tmp_path, capsys):
    raw = json.loads(Path(TACE).read_text())
    raw["timepoints"][1]["lesions"][0]["viable_diameter_mm"] = "n/a"
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(raw))
    assert main(["assess", str(p)]) == 2
    err = capsys.readouterr().err
    assert "time point 'FU1', lesion 'L1', field 'viable_diameter_mm'" in err and "Fix" in err


def test_criteria_error_for_missing_measure(tmp_path, capsys):
    raw = json.loads(Path(TACE).read_text())
    del raw["timepoints"][0]["lesions"][0]["viable_diameter_mm"]
    p = tmp_path / "r.json"
    p.write_text(json.dumps(raw))
    assert main(["assess", str(p), "--criteria", "mrecist"]) == 2
    assert "target lesion 'L1'" in capsys.readouterr().err


NO_VIABLE = {"patient_id": "NV", "timepoints": [
    {"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "role": "target",
                                        "longest_diameter_mm": 50.0}]},
    {"id": "FU1", "day": 56, "lesions": [{"lesion_id": "L1", "role": "target",
                                          "longest_diameter_mm": 30.0}]}],
    "liver_function": [{"day": 0, "bilirubin_mg_dl": 0.8, "albumin_g_dl": 4.0, "inr": 1.1,
                        "ascites": "none", "encephalopathy": "none"}]}


def test_default_assess_without_viable_diameters_reports_mrecist_ne_and_the_rest(tmp_path,
                                                                                 capsys):
    a = assess(ReadDocument.from_json(NO_VIABLE))  # default: RECIST 1.1 + mRECIST
    assert a.results["RECIST1.1"].timepoints[1].response == "PR"
    m = a.results["mRECIST"]
    assert [t.response for t in m.timepoints] == [None, "NE"]
    assert (m.bor_unconfirmed, m.bor_confirmed, m.pd_day) == ("NE", "NE", None)
    assert "L1 has no viable_diameter_mm (needed by mRECIST)" in m.not_assessed
    assert any(c.startswith("not assessed: ") for c in m.checks)
    assert len(a.burden) == 2 and a.liver[0]["child_pugh_class"] == "A"
    p = tmp_path / "nv.json"
    p.write_text(json.dumps(NO_VIABLE))
    out = run_json(capsys, str(p))
    assert out["results"]["mRECIST"]["not_assessed"] == m.not_assessed
    assert out["results"]["RECIST1.1"]["not_assessed"] is None
    assert len(out["burden"]) == 2 and out["liver"][0]["child_pugh_score"] == 5


def test_json_gives_each_criterion_its_endpoints(capsys):
    out = run_json(capsys, str(EX / "read_atezo_irecist.json"), "--criteria", "recist1.1,irecist")
    rec, irec = out["results"]["RECIST1.1"]["endpoints"], out["results"]["iRECIST"]["endpoints"]
    assert rec["pfs"] == {"event": True, "day": 42, "kind": "progression", "reason": "PD on day 42"}
    assert (rec["ttp"]["event"], rec["ttp"]["day"]) == (True, 42)
    assert rec["dor"] is None and rec["dor_unconfirmed"] is None  # BOR PD
    assert (irec["pfs"]["event"], irec["pfs"]["day"]) == (False, 294)
    assert (irec["dor"]["event"], irec["dor"]["day"]) == (False, 168)  # iPR from day 126
    assert main(["assess", str(EX / "read_atezo_irecist.json"), "--criteria", "recist1.1"]) == 0
    assert "endpoints: PFS 42 d (progression), TTP 42 d (progression), DOR —" in (
        capsys.readouterr().out)


def test_a_criterion_not_assessed_has_no_endpoints():
    a = assess(ReadDocument.from_json(NO_VIABLE))
    assert a.to_json()["results"]["mRECIST"]["endpoints"] is None
    assert a.to_json()["results"]["RECIST1.1"]["endpoints"]["pfs"]["day"] == 56


def test_assess_accepts_all_as_the_cli_does():
    d = ReadDocument.from_json(TACE)
    every = ["RECIST1.1", "mRECIST", "EASL", "WHO", "RECICL", "iRECIST"]
    assert list(assess(d, "all").results) == every
    assert list(assess(d, ["ALL"]).results) == every


def test_subprocess_run_json():
    proc = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "assess", TACE, "--criteria",
                           "recist1.1,mRECIST", "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["patient_id"] == "DEMO-TACE-01"
    assert out["results"]["mRECIST"]["bor_confirmed"] == "CR"
    assert out["results"]["RECIST1.1"]["bor_confirmed"] == "SD"


def test_written_documents_validate_against_schema(tmp_path):
    for p in EX.glob("read_*.json"):
        d = ReadDocument.from_json(p)
        jsonschema.validate(d.to_json(), schema())
        saved = d.save(tmp_path / p.name)
        jsonschema.validate(json.loads(saved.read_text()), schema())


def test_a_change_just_short_of_a_cut_off_is_not_printed_as_the_cut_off(tmp_path, capsys) -> None:
    """-29.97 % was printed "-30.0 %" beside SD (a tester took it for a misclassification); the
    table and the reasons now give the decimals that keep it off the cut-off."""
    from hcc_imaging.response.classify import fmt_change

    tps = [("BL", "2024-01-01", 100.0), ("F1", "2024-02-15", 70.0), ("F2", "2024-05-15", 70.03)]
    doc = {"patient_id": "P", "reader_id": "R", "criteria": ["RECIST1.1"], "timepoints": [
        {"id": i, "date": d, "lesions": [{"lesion_id": "L1", "role": "target", "longest_diameter_mm": v}]}
        for i, d, v in tps]}
    p = tmp_path / "read.json"
    p.write_text(json.dumps(doc))
    assert main(["assess", str(p), "--criteria", "recist1.1", "--reasons"]) == 0
    out = capsys.readouterr().out
    assert "-29.97 %" in out and "-30.0 %" in out  # F2 off the cut-off, F1 exactly on it (PR)
    assert (fmt_change(-0.2997), fmt_change(0.19999), fmt_change(0.2), fmt_change(-0.123)) == (
        "-29.97 %", "+19.999 %", "+20.0 %", "-12.3 %")

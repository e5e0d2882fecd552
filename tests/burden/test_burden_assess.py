"""Burden, liver and BCLC scores as ``assess`` (and ``hcc-imaging assess``) computes and prints
them."""

from __future__ import annotations

import json

from hcc_imaging.cli import main
from hcc_imaging.response import ReadDocument, assess

LF0 = {"day": 0, "bilirubin_mg_dl": 1.0, "albumin_g_dl": 4.0, "inr": 1.0, "ascites": "none",
       "encephalopathy": "none", "ecog": 0, "liver_function_status": "preserved"}


def _doc(timepoints, liver_function=(LF0,)):
    return {"schema_version": "1.0", "patient_id": "P", "timepoints": timepoints,
            "liver_function": list(liver_function)}


def _write(tmp_path, raw):
    p = tmp_path / "read.json"
    p.write_text(json.dumps(raw))
    return str(p)


def _table(capsys, path, *args):
    rc = main(["assess", path, "--criteria", "recist1.1", *args])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out


def test_assess_bclc_ne_when_an_unmeasured_nodule_decides(tmp_path, capsys):
    raw = _doc([{"id": "BL", "day": 0, "lesions": [
        {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 15.0},
        {"lesion_id": "L2", "role": "non_target", "status": "present"}]}])
    row = assess(ReadDocument.from_json(raw), ["recist1.1"]).to_json()["liver"][0]
    assert (row["bclc"], row["bclc_possible"]) == ("NE", ["A", "B"])
    assert any("L2" in r for r in row["bclc_reasons"])
    assert "BCLC NE (A or B)" in _table(capsys, _write(tmp_path, raw))


def test_assess_burden_ne_row_when_the_largest_is_not_evaluable(tmp_path, capsys):
    raw = _doc([
        {"id": "BL", "day": 0, "lesions": [
            {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 80.0},
            {"lesion_id": "L2", "role": "target", "longest_diameter_mm": 10.0}]},
        {"id": "FU1", "day": 56, "lesions": [
            {"lesion_id": "L1", "role": "target", "status": "not_evaluable"},
            {"lesion_id": "L2", "role": "target", "longest_diameter_mm": 10.0}]}], [])
    fu1 = assess(ReadDocument.from_json(raw), ["recist1.1"]).to_json()["burden"][1]
    assert (fu1["up_to_seven"], fu1["six_and_twelve"], fu1["tbs_band"]) == (None, None, None)
    text = _table(capsys, _write(tmp_path, raw), "--reasons")
    fu1_row = [line for line in text.splitlines() if line.startswith("│ FU1")][-1]  # burden
    assert "within" not in fu1_row and "low" not in fu1_row and fu1_row.count("NE") == 5
    assert "burden FU1: L1 not evaluable: could be the largest" in text


def test_assess_milan_uses_the_bclc_evidence(tmp_path, capsys):
    one = {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 25.0}
    # the liver-function record's flags (what BCLC stages C on)
    raw = _doc([{"id": "BL", "day": 0, "lesions": [one]}],
               [{**LF0, "macrovascular_invasion": True, "extrahepatic_spread": True}])
    out = assess(ReadDocument.from_json(raw), ["recist1.1"]).to_json()
    assert out["liver"][0]["bclc"] == "C"
    assert out["burden"][0]["within_milan"] is False
    assert any("Milan: beyond, macrovascular invasion (given)" in r
               for r in out["burden"][0]["reasons"])
    text = _table(capsys, _write(tmp_path, raw))
    assert [line for line in text.splitlines() if line.startswith("│ BL")][-1].rstrip(
        "│ ").endswith("beyond")
    # a lung metastasis at the time point, no flags in the record
    raw = _doc([{"id": "BL", "day": 0, "lesions": [
        one, {"lesion_id": "M1", "role": "target", "organ": "lung",
              "longest_diameter_mm": 15.0}]}])
    out = assess(ReadDocument.from_json(raw), ["recist1.1"]).to_json()
    assert (out["liver"][0]["bclc"], out["burden"][0]["within_milan"]) == ("C", False)


def test_assess_lymph_node_spread_parameter(tmp_path, capsys):
    raw = _doc([{"id": "BL", "day": 0, "lesions": [
        {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 15.0},
        {"lesion_id": "N1", "role": "target", "kind": "lymph_node", "organ": "lymph_node",
         "longest_diameter_mm": 30.0, "short_axis_mm": 25.0}]}])
    doc = ReadDocument.from_json(raw)
    out = assess(doc, ["recist1.1"]).to_json()
    assert (out["liver"][0]["bclc"], out["burden"][0]["within_milan"]) == ("C", False)
    assert "extrahepatic spread from N1" in out["liver"][0]["bclc_reasons"]
    out = assess(doc, ["recist1.1"], nodes_are_spread=False).to_json()
    assert (out["liver"][0]["bclc"], out["burden"][0]["within_milan"]) == ("0", True)
    path = _write(tmp_path, raw)
    assert "BCLC 0" in _table(capsys, path, "--set", "nodes_are_spread=false")
    assert "BCLC C" in _table(capsys, path)
    assert main(["assess", path, "--set", "nodes_are_spread=maybe"]) == 2
    assert "nodes_are_spread='maybe'" in capsys.readouterr().err


def test_assess_flags_child_pugh_c_called_preserved_and_says_why_bclc_is_missing(
        tmp_path, capsys):
    one = {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 15.0}
    raw = _doc([{"id": "BL", "day": 0, "lesions": [one]}], [
        {**LF0, "bilirubin_mg_dl": 4.0, "albumin_g_dl": 2.5, "inr": 2.5,
         "ascites": "moderate_severe"},
        {k: v for k, v in LF0.items() if k != "liver_function_status"} | {"day": 1},
        {k: v for k, v in LF0.items() if k not in ("ecog", "liver_function_status")}
        | {"day": 2}])
    rows = assess(ReadDocument.from_json(raw), ["recist1.1"]).to_json()["liver"]
    assert (rows[0]["child_pugh_class"], rows[0]["bclc"]) == ("C", "0")
    assert "Child-Pugh 13 (C) with liver_function_status 'preserved'" in rows[0]["bclc_warnings"][0]
    assert "bclc" not in rows[1]
    assert "liver_function_status not recorded" in rows[1]["bclc_error"]
    assert "bclc" not in rows[2] and "bclc_error" not in rows[2]  # labs only: no BCLC asked
    text = _table(capsys, _write(tmp_path, raw))
    assert "warning: Child-Pugh 13 (C)" in text
    assert "liver_function_status not recorded" in text


def test_assess_child_pugh_boundary_typo_is_a_usage_error(tmp_path, capsys):
    path = _write(tmp_path, _doc([{"id": "BL", "day": 0, "lesions": [
        {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 15.0}]}]))
    assert main(["assess", path, "--set", "child_pugh_boundary=foo"]) == 2
    err = capsys.readouterr().err
    assert "child_pugh_boundary='foo'" in err and "'middle_closed', 'better', 'worse'" in err
    assert "Child-Pugh 5 A" in _table(capsys, path, "--set", "child_pugh_boundary=worse")


def test_assess_table_shows_the_albi_and_child_pugh_errors(tmp_path, capsys):
    raw = _doc([{"id": "BL", "day": 0, "lesions": [
        {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 15.0}]}],
        [{"day": 0, "bilirubin_mg_dl": 1.0, "albumin_g_dl": 40.0}])
    text = _table(capsys, _write(tmp_path, raw))
    assert "ALBI: liver function on day 0: albumin_g_dl = 40 g/dL is outside" in text
    assert "Child-Pugh: liver function on day 0:" in text

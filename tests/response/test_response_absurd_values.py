"""Absurd or non-finite sizes: a clear input error from ``assess``, never a traceback; the
classifier's percent / mm formatting holds any exact value (it overflowed ``float()``)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from hcc_imaging.cli import main
from hcc_imaging.response import ReadDocument, assess
from hcc_imaging.response.classify import fmt_mm, fmt_pct

TACE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"


def _read(tmp_path: Path, tp: int, value: object, fld: str = "longest_diameter_mm") -> Path:
    doc = json.loads(TACE.read_text())
    doc["timepoints"][tp]["lesions"][0][fld] = value
    p = tmp_path / "read.json"
    p.write_text(json.dumps(doc))  # float("inf") / nan are written as Infinity / NaN
    return p


def test_formatting_holds_huge_exact_values_and_keeps_the_usual_ones() -> None:
    huge = Fraction(10**308) / 77
    assert fmt_pct(huge) == "+1.299e+308 %"
    assert fmt_pct(-huge) == "-1.299e+308 %"
    assert fmt_mm(Fraction(10**308) + 48) == "1.000e+308 mm"
    assert fmt_mm(Fraction(10**308) ** 2, "mm2") == "1.000e+616 mm2"
    # the values a read really holds are written as before
    assert (fmt_pct(Fraction(-3, 10)), fmt_pct(Fraction(41, 200)), fmt_pct(Fraction(1, 3))) == ("-30 %", "+20.5 %", "+33.33 %")
    assert (fmt_mm(Fraction(231, 10)), fmt_mm(Fraction(33)), fmt_mm(None)) == ("23.1 mm", "33 mm", "n/a")


@pytest.mark.parametrize("tp", [0, 1])
def test_the_document_refuses_an_ld_of_1e308(tmp_path, tp) -> None:
    """The Python API too (RECICL's and the results' float() of a sum overflowed): the document
    refuses the value before any criterion sees it."""
    from hcc_imaging.errors import ReadDocumentError

    with pytest.raises(ReadDocumentError, match="longest_diameter_mm': 1e\\+308 mm is not a lesion size"):
        ReadDocument.from_json(_read(tmp_path, tp, 1e308))
    # 10 m is the limit: a value just under it is read (and assessed without overflow)
    doc = ReadDocument.from_json(_read(tmp_path, tp, 9999.0))
    assert assess(doc, ["RECIST1.1", "RECICL", "WHO"]).to_json()["results"]


@pytest.mark.parametrize(("tp", "value", "shown"), [(1, 1e308, "1e+308 mm"), (0, 1e308, "1e+308 mm"),
                                                     (1, "1e20", "1e+20 mm")])
def test_assess_refuses_an_absurd_size_naming_time_point_lesion_and_field(tmp_path, capsys, tp, value, shown) -> None:
    p = _read(tmp_path, tp, value)
    for criteria in ("all", "recicl", "recist1.1"):
        assert main(["assess", str(p), "--criteria", criteria]) == 2
        err = capsys.readouterr().err
        tp_id = ("BL", "FU1")[tp]
        assert err.startswith("error: ReadDocumentError: ") and "Traceback" not in err
        assert f"time point '{tp_id}', lesion 'L1', field 'longest_diameter_mm': {shown}" in err, err
        assert str(p) in err and "Fix:" in err


def test_assess_refuses_an_absurd_volume(tmp_path, capsys) -> None:
    p = _read(tmp_path, 1, 1e300, "volume_mm3")
    assert main(["assess", str(p), "--json"]) == 2
    assert "field 'volume_mm3': 1e+300 mm3 is not a lesion size" in capsys.readouterr().err


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_assess_refuses_non_finite_values(tmp_path, capsys, value) -> None:
    p = _read(tmp_path, 1, value)
    assert main(["assess", str(p), "--criteria", "all"]) == 2
    err = capsys.readouterr().err
    assert "time point 'FU1', lesion 'L1', field 'longest_diameter_mm'" in err and "not a finite number" in err


def test_a_large_but_possible_size_is_assessed(tmp_path, capsys) -> None:
    p = _read(tmp_path, 1, 250.0)  # a huge liver tumour, not an error
    assert main(["assess", str(p), "--criteria", "all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]["RECIST1.1"]["timepoints"][1]["response"] == "PD"

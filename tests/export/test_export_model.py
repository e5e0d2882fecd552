"""The export view of a read: adapters from read documents / assessments, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_imaging.export import as_export_read
from hcc_imaging.export.codes import normalise_criterion, normalise_response
from hcc_imaging.export.model import ExportInputError, assessment_to_dict, iter_reads

from .conftest import ASSESSMENT, read_document


def test_from_dict_json_string_and_path(tmp_path: Path) -> None:
    doc = read_document()
    p = tmp_path / "r.json"
    p.write_text(json.dumps(doc))
    reads = [as_export_read(doc), as_export_read(json.dumps(doc)), as_export_read(p), as_export_read(str(p))]
    for r in reads:
        assert r.patient_id == "MRN-778899" and r.reader_id == "dr.smith"
        assert [(t.timepoint_id, t.index, t.day) for t in r.timepoints] == [("BL", 0, 0), ("FU1", 1, 63)]
        l1 = r.lesions[0]
        assert (l1.lesion_id, l1.couinaud_segment, l1.tracking_uid) == ("L1", "VII", "1.2.826.0.1.3680043.8.498.1001")
        assert l1.sa_endpoints_lps == ((-4.0, -7.2, -97.5), (-4.0, 5.6, -97.5))
        assert r.lesions[3].couinaud_segment == "VII"  # "Couinaud segment 7"
    assert [(t.kind, t.start_day, t.end_day) for t in reads[0].treatments] == [("TACE", 7, None), ("lenvatinib", 17, 138)]


def test_assessment_shapes_are_all_accepted() -> None:
    from hcc_imaging.response import ReadDocument
    from hcc_imaging.response.engine import assess

    a = assess(ReadDocument.from_json(read_document()), ["recist1.1", "mrecist"])
    forms = [
        a,  # Assessment object
        a.to_json(),  # assess --json
        json.dumps(a.to_json()),
        [a.results[k] for k in a.results],  # list of CriterionResult objects
        {k: v.to_json() for k, v in a.results.items()},  # criterion -> result json
    ]
    for f in forms:
        read = as_export_read(read_document(), f)
        assert read.criteria == ["RECIST1.1", "mRECIST"], f
        assert [r.response for r in read.responses_for("mrecist")] == [None, "PR"]
        assert read.summary_for("RECIST 1.1").bor_unconfirmed == "SD"
        assert read.summary_for("mRECIST").best_change_frac == pytest.approx(-11 / 19)


def test_iter_reads_pairs_assessments_by_patient() -> None:
    docs = [read_document("A"), read_document("B")]
    a = dict(ASSESSMENT, patient_id="B")
    reads = list(iter_reads(docs, {"B": a}))
    assert [bool(r.responses) for r in reads] == [False, True]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        pytest.param(lambda d: d.pop("patient_id"), "no patient_id", id="no-patient"),
        pytest.param(lambda d: d["timepoints"][0].update(date="15.01.2024"), "neither YYYY-MM-DD", id="bad-date"),
        pytest.param(lambda d: d["timepoints"][0].pop("id"), "has no id", id="timepoint-without-id"),
        pytest.param(lambda d: d["timepoints"][0]["lesions"][0].pop("lesion_id"), "has no lesion_id", id="lesion-without-id"),
        pytest.param(lambda d: d["timepoints"][0]["lesions"][0].update(longest_diameter_mm="big"), "is not a number", id="non-numeric"),
        pytest.param(lambda d: d["timepoints"][0]["lesions"][0].update(longest_diameter_mm=float("nan")), "not finite", id="nan"),
        pytest.param(lambda d: d["timepoints"][0]["lesions"][0]["endpoints"].update(long=[[1, 2, 3]]), "exactly two", id="one-endpoint"),
        pytest.param(lambda d: d["timepoints"][0]["lesions"][0]["endpoints"].update(long=[["a", 2, 3], [1, 2, 3]]), "two LPS points", id="endpoint-not-numeric"),
        pytest.param(lambda d: d["timepoints"][0]["lesions"][0].update(couinaud_segment=9), "Couinaud segment 9", id="bad-segment"),
        pytest.param(lambda d: d.update(timepoints="BL"), "must be a list", id="timepoints-not-list"),
    ],
)
def test_document_errors_name_the_field(mutate, match: str) -> None:  # noqa: ANN001
    doc = read_document()
    mutate(doc)
    with pytest.raises(ExportInputError, match=match):
        as_export_read(doc)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        pytest.param({"foo": 1}, "neither 'results' nor 'timepoints'", id="unknown-shape"),
        pytest.param(3.5, "cannot read an assessment", id="number"),
    ],
)
def test_assessment_errors(value, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ExportInputError, match=match):
        assessment_to_dict(value)


def test_document_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportInputError, match="cannot read the read document"):
        as_export_read(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ExportInputError, match="not valid JSON"):
        as_export_read(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ExportInputError, match="object at the top level"):
        as_export_read(tmp_path / "list.json")
    with pytest.raises(ExportInputError, match="cannot read a read document from a int"):
        as_export_read(5)
    with pytest.raises(ExportInputError, match="no time point 'X'"):
        as_export_read(read_document()).timepoint("X")


@pytest.mark.parametrize(
    ("raw", "expect"),
    [("recist1.1", "RECIST1.1"), ("RECIST 1.1", "RECIST1.1"), ("m-recist", "mRECIST"), ("iRECIST", "iRECIST"), ("Foo", "Foo")],
)
def test_normalise_criterion(raw: str, expect: str) -> None:
    assert normalise_criterion(raw) == expect


@pytest.mark.parametrize(
    ("raw", "expect"),
    [("pr", "PR"), ("Non-CR/Non-PD", "NON-CR/NON-PD"), ("iupd", "iUPD"), (None, None), ("", None), ("odd", "odd")],
)
def test_normalise_response(raw, expect) -> None:  # noqa: ANN001
    assert normalise_response(raw) == expect


def test_iter_reads_rejects_mismatched_assessments() -> None:
    with pytest.raises(ExportInputError, match="2 assessments for 3 reads"):
        list(iter_reads([read_document("A"), read_document("B"), read_document("C")], [ASSESSMENT, ASSESSMENT]))

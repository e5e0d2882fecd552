"""Read document: validation messages, JSON round trip, schema conformance."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hcc_imaging.errors import ReadDocumentError
from hcc_imaging.response.document import (
    SCHEMA_PATH,
    SCHEMA_VERSION,
    LesionKind,
    LesionObservation,
    ReadDocument,
    Role,
    TimePoint,
    exact,
    schema,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "docs" / "examples").glob("read_*.json"))


def _doc(lesions_bl, lesions_fu=None, **kw):
    tps = [{"id": "BL", "day": 0, "lesions": lesions_bl}]
    if lesions_fu is not None:
        tps.append({"id": "FU1", "day": 56, "lesions": lesions_fu})
    return {"patient_id": "P001", "timepoints": tps, **kw}


def test_schema_file_in_docs_is_the_packaged_one():
    assert json.loads((REPO / "docs" / "read-document.schema.json").read_text()) == schema()
    jsonschema.Draft202012Validator.check_schema(schema())
    assert SCHEMA_PATH.is_file()


def test_exact_reads_floats_as_written():
    assert exact(23.1) / exact(33.0) - 1 == exact("-0.3")
    assert (23.1 - 33.0) / 33.0 != -0.3  # why exact() exists


FULL = {
    "patient_id": "P042",
    "reader_id": "R1",
    "study_id": "S1",
    "criteria": ["RECIST1.1", "mRECIST"],
    "start_date": "2024-01-01",
    "death_date": "2024-12-01",
    "last_contact_day": 330,
    "timepoints": [
        {
            "id": "BL", "date": "2024-01-03", "modality": "CT", "slice_thickness_mm": 2.5,
            "lesions": [
                {"lesion_id": "L1", "role": "target", "organ": "liver",
                 "longest_diameter_mm": 41.2, "short_axis_mm": 30.0,
                 "viable_diameter_mm": 38.0, "viable_short_axis_mm": 25.5,
                 "volume_mm3": 20000.5, "viable_volume_mm3": 15000, "necrosis_fraction": 0.1,
                 "enhancing": True, "well_delineated": True, "tracking_uid": "1.2.3.4",
                 "endpoints": {"long": [[1, 2, 3], [4, 5, 6]], "short": [[0, 0, 0], [1, 1, 1]]},
                 "role_by_criteria": {"WHO": "target"}, "source": "reader R1"},
                {"lesion_id": "N1", "role": "non_target", "organ": "lymph_node",
                 "is_lymph_node": True, "porta_hepatis": True, "short_axis_mm": 22.0,
                 "status": "present"},
                {"lesion_id": "PV", "role": "non_target", "kind": "pvtt", "status": "present"},
                {"lesion_id": "E1", "role": "non_target", "organ": "pleura",
                 "kind": "effusion", "status": "present", "cytology_malignant": False},
            ],
        },
        {
            "id": "FU1", "date": "2024-02-28", "scan_for_new_symptoms": True,
            "tumour_markers_normal": False,
            "lesions": [
                {"lesion_id": "L1", "status": "too_small", "viable_status": "absent",
                 "necrosis_diameter_mm": 45.0, "necrosis_short_axis_mm": 35.0},
                {"lesion_id": "N1", "role": "non_target", "is_lymph_node": True,
                 "porta_hepatis": True, "status": "unequivocal_progression"},
                {"lesion_id": "PV", "role": "non_target", "kind": "pvtt",
                 "status": "further_increase"},
                {"lesion_id": "E1", "role": "non_target", "kind": "effusion",
                 "organ": "pleura", "status": "not_evaluable"},
                {"lesion_id": "NEW1", "role": "new", "equivocal": True, "intrahepatic": True,
                 "typical_hcc_pattern": False, "interval_growth_mm": 4.0,
                 "longest_diameter_mm": 12.0, "irecist_category": "nlt"},
            ],
        },
    ],
    "treatments": [
        {"kind": "atezolizumab_bevacizumab", "date": "2024-01-05", "end_day": 200},
        {"kind": "superselective_TACE", "day": 120, "lesion_ids": ["L1"]},
    ],
    "markers": [{"day": 0, "afp_ng_ml": 120.5, "afp_l3_pct": 15, "pivka_ii_mau_ml": 300}],
    "liver_function": [{"day": 0, "bilirubin_mg_dl": 1.1, "albumin_g_l": 38, "inr": 1.1,
                        "ascites": "none", "encephalopathy": "none", "ecog": 0,
                        "macrovascular_invasion": False, "extrahepatic_spread": False}],
    "ceus": [{"day": 210, "intranodular_arterial_flow": False, "lesion_ids": ["L1"]}],
}


def test_full_document_round_trips_and_validates():
    doc = ReadDocument.from_json(FULL)
    out = doc.to_json()
    jsonschema.validate(out, schema())
    jsonschema.validate(FULL, schema())
    again = ReadDocument.from_json(json.dumps(out))
    assert again == doc
    assert doc.timepoints[0].day == 2  # from start_date
    assert doc.death_day == 335
    assert doc.treatments[0].day == 4
    n1 = doc.timepoints[0].lesion("N1")
    assert n1.kind is LesionKind.LYMPH_NODE and n1.organ_key == "lymph_nodes"
    assert doc.timepoints[0].lesion("L1").role_for("who") is Role.TARGET
    assert doc.timepoints[0].lesion("L1").endpoints[0].length_mm == pytest.approx(27 ** 0.5)


def test_save_is_atomic_and_reloads(tmp_path):
    doc = ReadDocument.from_json(FULL)
    p = doc.save(tmp_path / "sub" / "read.json")
    assert ReadDocument.from_json(p) == doc
    assert ReadDocument.from_json(str(p)) == doc
    assert [x.name for x in p.parent.iterdir()] == ["read.json"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_validate_and_round_trip(path):
    raw = json.loads(path.read_text())
    jsonschema.validate(raw, schema())
    doc = ReadDocument.from_json(path)
    jsonschema.validate(doc.to_json(), schema())
    assert ReadDocument.from_json(doc.to_json()) == doc


BAD = [
    pytest.param(_doc([{"lesion_id": "L1", "longest_diam_mm": 3}]),
                 r"time point 'BL', lesion 'L1': unknown field 'longest_diam_mm'\. Did you mean "
                 r"'longest_diameter_mm'", id="typo-field-suggests"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": -3}]),
                 r"time point 'BL', lesion 'L1', field 'longest_diameter_mm'.*below.*Fix",
                 id="negative-diameter"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": "12 mm"}]),
                 r"field 'longest_diameter_mm': expected a number", id="unit-in-number"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": True}]),
                 r"got the boolean", id="bool-as-number"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": float("nan")}]),
                 r"not a finite number", id="nan-diameter"),
    pytest.param(_doc([{"lesion_id": "L1", "status": "gone", "longest_diameter_mm": 1}]),
                 r"field 'status': 'gone' is not a valid value", id="bad-status"),
    pytest.param(_doc([{"lesion_id": "L1", "role": "target"}]),
                 r"lesion 'L1', field 'longest_diameter_mm': target lesion has status "
                 r"'measured' but no diameter", id="target-without-size"),
    pytest.param(_doc([{"lesion_id": "L1", "status": "absent", "longest_diameter_mm": 4}]),
                 r"status is 'absent' but longest_diameter_mm is 4", id="absent-with-size"),
    pytest.param(_doc([{"lesion_id": "P", "role": "target", "kind": "pvtt",
                        "longest_diameter_mm": 20}]),
                 r"a pvtt cannot be a target", id="pvtt-as-target"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20, "necrosis_fraction": 50}]),
                 r"field 'necrosis_fraction'.*above the allowed maximum 1", id="necrosis-percent"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20},
                       {"lesion_id": "L1", "longest_diameter_mm": 21}]),
                 r"time point 'BL', lesion 'L1': the lesion id appears twice", id="duplicate-lesion"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20}],
                      [{"lesion_id": "L2", "longest_diameter_mm": 20}]),
                 r"time point 'FU1', lesion 'L2', field 'role': a target that is not in the "
                 r"baseline", id="target-first-seen-at-follow-up"),
    pytest.param(_doc([{"lesion_id": "L1", "role": "new", "longest_diameter_mm": 20}]),
                 r"lesion at baseline cannot be 'new'", id="new-at-baseline"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20}],
                      [{"lesion_id": "L1", "role": "non_target", "status": "present"}]),
                 r"time point 'FU1', lesion 'L1', field 'role': role 'non_target' differs",
                 id="role-changes"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20}],
                      [{"lesion_id": "L1a", "split_from": "LX", "longest_diameter_mm": 9}]),
                 r"field 'split_from': names 'LX'", id="split-from-unknown"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20}],
                      [{"lesion_id": "L1", "merged_into": "L9", "status": "absent"}]),
                 r"field 'merged_into': it names 'L9'", id="merged-into-missing"),
    pytest.param(_doc([{"lesion_id": "L1", "longest_diameter_mm": 20,
                        "irecist_category": "nlt"}]),
                 r"only new lesions have an iRECIST category", id="irecist-category-on-target"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "day": 10, "lesions": []},
                                                     {"id": "FU", "day": 5, "lesions": []}]},
                 r"time point 'FU', field 'day': day 5 is not after", id="unsorted-timepoints"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "lesions": []}]},
                 r"time point 'BL', fields 'date'/'day': neither is given", id="undated-timepoint"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "date": "03/05/2024"}]},
                 r"time point 'BL', field 'date'.*not an ISO date", id="bad-date"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "day": 1.5}]},
                 r"whole days", id="fractional-day"),
    pytest.param({"patient_id": "P", "timepoints": []}, r"no time points", id="no-timepoints"),
    pytest.param({"timepoints": [{"id": "BL", "day": 0}]}, r"'patient_id': missing",
                 id="no-patient"),
    pytest.param({"patient_id": "P", "schema_version": "2.0",
                  "timepoints": [{"id": "BL", "day": 0}]}, r"version '2.0' is not supported",
                 id="future-major-version"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "day": 0},
                                                     {"id": "BL", "day": 3}]},
                 r"time point 'BL': the id is used twice", id="duplicate-timepoint"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "day": 0}],
                  "markers": [{"afp_ng_ml": 3}]},
                 r"marker draw None: neither 'date' nor 'day'", id="undated-marker"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "day": 0}],
                  "liver_function": [{"day": 0, "ecog": 7}]},
                 r"ECOG performance status is 0-5", id="bad-ecog"),
    pytest.param({"patient_id": "P", "timepoints": [{"id": "BL", "day": 0}],
                  "treatments": [{"kind": "chemo", "day": 0}]},
                 r"'chemo' is not a valid value", id="bad-treatment"),
    pytest.param(_doc([{"lesion_id": "N", "role": "non_target", "porta_hepatis": True,
                        "status": "present"}]),
                 r"porta_hepatis is set but the finding is not a lymph node", id="porta-not-node"),
    pytest.param("[1, 2]", r"expected a JSON object at the top level", id="not-an-object"),
    pytest.param("{bad json", r"not valid JSON", id="json-syntax"),
    pytest.param(_doc([], timepoints_extra=1), r"unknown field 'timepoints_extra'",
                 id="unknown-top-field"),
    pytest.param({"patient_id": "P", "timepoints": {"id": "BL"}},
                 r"field 'timepoints': expected a list", id="timepoints-not-list"),
    pytest.param({"patient_id": "P", "death_day": 40, "timepoints": [
        {"id": "BL", "day": 0}, {"id": "FU1", "day": 56}]},
                 r"field 'death_day': death on day 40 is before time point 'FU1' \(day 56\); a "
                 r"scan after death is impossible. Fix", id="death-before-a-scan"),
    pytest.param({"patient_id": "P", "start_date": "2024-03-01", "death_date": "2024-04-01",
                  "timepoints": [{"id": "BL", "date": "2024-02-26"},
                                 {"id": "FU1", "date": "2024-04-05"}]},
                 r"field 'death_date': death on day 31 \(2024-04-01\) is before time point "
                 r"'FU1' \(day 35\)", id="death-date-before-a-scan"),
    pytest.param({"patient_id": "P", "death_day": -3, "timepoints": [{"id": "BL", "day": -10}]},
                 r"field 'death_day': death on day -3 is before day 0", id="death-negative"),
    pytest.param({"patient_id": "P", "death_day": 100, "timepoints": [{"id": "BL", "day": 0}],
                  "markers": [{"day": 20, "afp_ng_ml": 8}, {"day": 120, "afp_ng_ml": 5}]},
                 r"field 'death_day': death on day 100 is before the tumour-marker draw in "
                 r"'markers' dated day 120; a record after death is impossible. Fix: correct "
                 r"'death_day' or that tumour-marker draw's 'day'", id="marker-after-death"),
    pytest.param({"patient_id": "P", "start_date": "2024-03-01", "death_date": "2024-06-01",
                  "timepoints": [{"id": "BL", "date": "2024-02-26"}],
                  "markers": [{"date": "2024-06-02", "pivka_ii_mau_ml": 40}]},
                 r"field 'death_date': death on day 92 \(2024-06-01\) is before the "
                 r"tumour-marker draw in 'markers' dated day 93 \(2024-06-02\).*Fix: correct "
                 r"'death_date' or that tumour-marker draw's 'date'", id="marker-date-after-death"),
    pytest.param({"patient_id": "P", "death_day": 100, "timepoints": [{"id": "BL", "day": 0}],
                  "liver_function": [{"day": 130, "bilirubin_mg_dl": 1.0}]},
                 r"death on day 100 is before the liver-function record in 'liver_function' "
                 r"dated day 130", id="liver-function-after-death"),
    pytest.param({"patient_id": "P", "death_day": 100, "timepoints": [{"id": "BL", "day": 0}],
                  "treatments": [{"kind": "TACE", "day": 140}]},
                 r"death on day 100 is before the treatment 'TACE' in 'treatments' dated day "
                 r"140", id="treatment-after-death"),
    pytest.param({"patient_id": "P", "start_date": "2024-03-01", "death_date": "2024-06-01",
                  "timepoints": [{"id": "BL", "date": "2024-03-01"}],
                  "treatments": [{"kind": "lenvatinib", "date": "2024-03-01",
                                  "end_date": "2024-07-01"}]},
                 r"death on day 92 \(2024-06-01\) is before the treatment 'lenvatinib' in "
                 r"'treatments' ending day 122 \(2024-07-01\).*that treatment's 'end_date'",
                 id="treatment-ending-after-death"),
    pytest.param({"patient_id": "P", "death_day": 100, "timepoints": [{"id": "BL", "day": 0}],
                  "ceus": [{"day": 101, "intranodular_arterial_flow": False}]},
                 r"death on day 100 is before the CEUS exam in 'ceus' dated day 101",
                 id="ceus-after-death"),
    pytest.param({"patient_id": "P", "death_day": 100, "last_contact_day": 130,
                  "timepoints": [{"id": "BL", "day": 0}]},
                 r"field 'last_contact_day': the last contact on day 130 is after death on day "
                 r"100 \('death_day'\).*Fix: correct 'last_contact_day' or 'death_day'",
                 id="last-contact-after-death"),
]


def test_death_on_the_day_of_the_last_scan_is_accepted():
    d = ReadDocument.from_json({"patient_id": "P", "death_day": 56, "timepoints": [
        {"id": "BL", "day": 0}, {"id": "FU1", "day": 56}]})
    assert d.death_day == 56


def test_records_on_the_day_of_death_are_accepted():
    """A draw, a lab, a treatment (ending) and a CEUS exam on the day of death are possible."""
    d = ReadDocument.from_json({
        "patient_id": "P", "death_day": 56, "timepoints": [{"id": "BL", "day": 0}],
        "markers": [{"day": 56, "afp_ng_ml": 5}],
        "liver_function": [{"day": 56, "bilirubin_mg_dl": 3.0}],
        "treatments": [{"kind": "lenvatinib", "day": 0, "end_day": 56}],
        "ceus": [{"day": 56}]})
    assert d.death_day == 56 and d.markers[0].day == 56


def test_assess_refuses_a_record_after_death(tmp_path, capsys):
    """The CLI's ``assess`` refuses the file with the document's message (one validator)."""
    from hcc_imaging.cli import main

    path = tmp_path / "read.json"
    path.write_text(json.dumps({
        "patient_id": "P", "death_day": 100, "timepoints": [
            {"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 30}]}],
        "markers": [{"day": 120, "afp_ng_ml": 5}]}))
    assert main(["assess", str(path), "--criteria", "recist1.1"]) == 2
    err = capsys.readouterr().err
    assert ("death on day 100 is before the tumour-marker draw in 'markers' dated day 120"
            in err), err


@pytest.mark.parametrize(("obj", "match"), BAD)
def test_bad_documents_name_where_and_fix(obj, match):
    with pytest.raises(ReadDocumentError, match=match):
        ReadDocument.from_json(obj)


def test_missing_file_message(tmp_path):
    with pytest.raises(ReadDocumentError, match=r"cannot read the read document .*check the path"):
        ReadDocument.from_json(tmp_path / "nope.json")


def test_direct_construction_normalises_and_validates():
    les = LesionObservation("N1", role="non_target", is_lymph_node=True, short_axis_mm="12.5")
    assert les.kind is LesionKind.LYMPH_NODE and les.short_axis_mm == 12.5
    with pytest.raises(ReadDocumentError, match=r"lesion_id ''"):
        LesionObservation("")
    with pytest.raises(ReadDocumentError, match=r"every time point needs a non-empty id"):
        TimePoint("")
    with pytest.raises(ReadDocumentError, match=r"fragment of itself"):
        LesionObservation("L1", split_from="L1", longest_diameter_mm=3)


# ---------------------------------------------------------------- docstring examples, schema
def test_docstring_examples_run():
    import doctest
    import importlib

    # (importlib: the package re-exports the function ``classify``, which shadows the module)
    for name in ("hcc_imaging.response.document", "hcc_imaging.response.classify",
                 "hcc_imaging.response.engine", "hcc_imaging.burden.scores",
                 "hcc_imaging.burden.liver"):
        mod = importlib.import_module(name)
        res = doctest.testmod(mod)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_num = st.one_of(st.none(), st.integers(0, 200).map(lambda n: n / 2))
_lesion = st.fixed_dictionaries(
    {"lesion_id": st.sampled_from(["L1", "L2", "L3"]),
     "role": st.sampled_from(["target", "non_target"])},
    optional={"longest_diameter_mm": st.integers(1, 200).map(float),
              "short_axis_mm": _num, "viable_diameter_mm": _num, "necrosis_fraction":
              st.sampled_from([0.0, 0.25, 1.0]), "enhancing": st.booleans(),
              "organ": st.sampled_from(["liver", "lung"]), "note": st.text(min_size=1, max_size=5),
              "endpoints": st.just({"long": [[0.0, 0.0, 0.0], [1.5, 2.0, -3.0]]})})


@settings(max_examples=40, deadline=None)
@given(lesions=st.lists(_lesion, max_size=3, unique_by=lambda d: d["lesion_id"]),
       days=st.lists(st.integers(1, 50), min_size=0, max_size=3, unique=True))
def test_generated_documents_write_schema_valid_json(lesions, days):
    for les_ in lesions:
        if les_["role"] == "target" and "longest_diameter_mm" not in les_:
            les_["longest_diameter_mm"] = 10.0
        ld = les_.get("longest_diameter_mm")
        for axis in ("short_axis_mm", "viable_diameter_mm"):  # at most the LD (AXIS_TOLERANCE_MM)
            if ld is not None and les_.get(axis) is not None and les_[axis] > ld:
                les_[axis] = ld
    tps = [{"id": "BL", "day": 0, "lesions": lesions}]
    tps += [{"id": f"FU{i}", "day": d * 7, "lesions": lesions}
            for i, d in enumerate(sorted(days), 1)]
    d = ReadDocument.from_json({"patient_id": "P", "timepoints": tps,
                                "markers": [{"day": 0, "afp_ng_ml": 5}]})
    out = d.to_json()
    jsonschema.validate(out, schema())
    assert ReadDocument.from_json(json.loads(json.dumps(out))) == d


@pytest.mark.parametrize("note", [" ", "", "\n"])
def test_blank_note_is_kept_as_written(note: str) -> None:
    """A note is the reader's free text: blank text round-trips (hypothesis found ' ' rejected
    as if it were an identifier); identifiers stay non-empty."""
    doc = ReadDocument.from_json({
        "schema_version": SCHEMA_VERSION, "patient_id": "P1", "reader_id": "R1", "note": note,
        "timepoints": [{"id": "BL", "day": 0, "note": note, "lesions": [
            {"lesion_id": "L1", "role": "target", "longest_diameter_mm": 12.0, "note": note}]}],
    })
    back = ReadDocument.from_json(doc.to_json())
    assert back.note == note and back.timepoints[0].note == note
    assert back.timepoints[0].lesions[0].note == note
    with pytest.raises(ReadDocumentError, match="note must be text"):
        ReadDocument.from_json({**doc.to_json(), "note": 3})
    with pytest.raises(ReadDocumentError, match="lesion_id"):
        ReadDocument.from_json({**doc.to_json(), "timepoints": [{"id": "BL", "day": 0, "lesions": [
            {"lesion_id": " ", "role": "target", "longest_diameter_mm": 12.0}]}]})


def test_the_tables_json_read_is_read_as_its_read_document(tmp_path: Path) -> None:
    """`export csv` (and `batch --deidentify`) write reads/<patient>.json wrapping the read
    document with its table rows; `assess` on such a file refused 'tables_schema_version' as an
    unknown field, so a de-identified read could not be assessed."""
    from hcc_imaging.export.tables import write_tables

    doc = ReadDocument.from_json({"patient_id": "P1", "timepoints": [
        {"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "role": "target", "longest_diameter_mm": 30.0}]},
        {"id": "FU1", "day": 56, "lesions": [{"lesion_id": "L1", "role": "target", "longest_diameter_mm": 20.0}]}]})
    info = write_tables([doc], tmp_path / "out")
    (path,) = info.reads
    wrapped = json.loads(Path(path).read_text())
    assert "tables_schema_version" in wrapped and "patient_id" not in wrapped
    back = ReadDocument.from_json(path)
    assert back.patient_id == "P1" and [t.id for t in back.timepoints] == ["BL", "FU1"]
    assert [float(t.lesions[0].longest_diameter_mm) for t in back.timepoints] == [30.0, 20.0]
    empty = dict(wrapped, read_document=None)
    with pytest.raises(ReadDocumentError, match="tables JSON read .* without a read document"):
        ReadDocument.from_json(empty)

"""Every raise path of the response / burden code has a test with its message."""

from __future__ import annotations

import datetime as dt

import pytest

from hcc_imaging.burden import albi, tbs_band, up_to_seven
from hcc_imaging.burden.liver import child_pugh
from hcc_imaging.burden.scores import burden_for_timepoint
from hcc_imaging.errors import CriteriaError, ReadDocumentError
from hcc_imaging.response import (
    IRECIST,
    RECICL,
    RECIST_1_1,
    AxisEndpoints,
    CeusExam,
    LesionObservation,
    LiverFunction,
    MarkerValue,
    ReadDocument,
    RuleSet,
    TimePoint,
    TreatmentEvent,
    assess,
    parse_criteria,
)
from hcc_imaging.response.engine import resolve_rules
from tests.response.response_helpers import doc, les

DOC_ERRORS = [
    pytest.param(lambda: LesionObservation("L1", role=3.5), r"field 'role': expected one of",
                 id="enum-wrong-type"),
    pytest.param(lambda: LesionObservation("L1", organ=""), r"field 'organ': expected an organ",
                 id="empty-organ"),
    pytest.param(lambda: LesionObservation("L1", equivocal="yes"),
                 r"field 'equivocal': expected true or false", id="bool-as-string"),
    pytest.param(lambda: LesionObservation("L1", note=3), r"field 'note': a note must be text",
                 id="number-as-note"),
    pytest.param(lambda: LesionObservation("L1", longest_diameter_mm=[3]),
                 r"expected a number in mm, got \[3\]", id="list-as-number"),
    pytest.param(lambda: LesionObservation("L1", role_by_criteria=["x"]),
                 r"field 'role_by_criteria': expected an object", id="role-by-criteria-list"),
    pytest.param(lambda: LesionObservation("L1", role_by_criteria={"mRECIST": "maybe"}),
                 r"role_by_criteria.mRECIST", id="role-by-criteria-bad-role"),
    pytest.param(lambda: LesionObservation("L1", merged_into="L1", status="absent"),
                 r"cannot merge into itself", id="merge-into-self"),
    pytest.param(lambda: LesionObservation("L1", longest_diameter_mm=5, endpoints={"long": [[0, 0], [1, 1]]}),
                 r"start_lps must be 3 LPS coordinates", id="endpoint-2d"),
    pytest.param(lambda: AxisEndpoints("sideways", (0, 0, 0), (1, 1, 1)),
                 r"'sideways' is not a valid value", id="endpoint-axis"),
    pytest.param(lambda: TimePoint("BL", date=20240101), r"expected an ISO date string",
                 id="date-as-int"),
    pytest.param(lambda: TimePoint("BL", day="x"), r"expected an integer day offset",
                 id="day-not-number"),
    pytest.param(lambda: TimePoint("BL", day=[1]), r"expected an integer day offset",
                 id="day-list"),
    pytest.param(lambda: TimePoint("BL", day=0, lesions=({"lesion_id": "L1", "bogus": 1},)),
                 r"time point 'BL', lesion 'L1': unknown field 'bogus'", id="lesion-unknown-field"),
    pytest.param(lambda: TimePoint.from_json({"id": "BL", "day": 0, "lesions": {"a": 1}}),
                 r"field 'lesions': expected a list", id="lesions-not-list"),
    pytest.param(lambda: TimePoint.from_json({"day": 0}), r"every time point needs 'id'",
                 id="timepoint-without-id"),
    pytest.param(lambda: TimePoint("BL", day=0, lesions=({"role": "target"},)),
                 r"every lesion needs at least 'lesion_id'", id="lesion-without-id"),
    pytest.param(lambda: TimePoint("BL", day=0, lesions=("L1",)), r"expected a JSON object",
                 id="lesion-not-object"),
    pytest.param(lambda: TreatmentEvent("TACE"), r"neither 'date' nor 'day' is given",
                 id="undated-treatment"),
    pytest.param(lambda: MarkerValue(day=0, afp_l3_pct=120), r"afp_l3_pct.*above the allowed maximum",
                 id="afp-l3-over-100"),
    pytest.param(lambda: LiverFunction(day=0, ascites="lots"), r"'lots' is not a valid value",
                 id="bad-ascites"),
    pytest.param(lambda: CeusExam(day=0, intranodular_arterial_flow=None),
                 r"intranodular_arterial_flow': expected true or false", id="ceus-flow-missing"),
    pytest.param(lambda: ReadDocument("P", timepoints=(TimePoint("BL", day=0),),
                                      markers=(3,)), r"field 'markers': expected objects",
                 id="marker-not-object"),
    pytest.param(lambda: ReadDocument("P", timepoints=(TimePoint("BL", day=0),),
                                      markers=(MarkerValue(date=dt.date(2024, 1, 1)),)),
                 r"day 0 is unknown", id="date-without-day-zero"),
    pytest.param(lambda: ReadDocument("", timepoints=(TimePoint("BL", day=0),)),
                 r"field 'patient_id': expected a non-empty string", id="empty-patient"),
    pytest.param(lambda: ReadDocument.from_json({"patient_id": "P", "timepoints": [{"id": "BL", "day": 0}],
                                                 "ceus": {"day": 1}}),
                 r"field 'ceus': expected a list", id="ceus-not-list"),
    pytest.param(lambda: ReadDocument.from_json({"patient_id": "P", "timepoints": [
        {"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 20}]},
        {"id": "FU", "day": 9, "lesions": [{"lesion_id": "L1a", "split_from": "L1",
                                            "role": "non_target", "status": "present"}]}]}),
                 r"a fragment has the role of the lesion it split from", id="fragment-role"),
    pytest.param(lambda: ReadDocument("P", timepoints=(TimePoint("BL", day=0),)).timepoint("X"),
                 r"time point 'X' is not in the read", id="unknown-timepoint"),
]


@pytest.mark.parametrize(("fn", "match"), DOC_ERRORS)
def test_document_errors(fn, match):
    with pytest.raises(ReadDocumentError, match=match):
        fn()


RULE_ERRORS = [
    pytest.param(lambda: RuleSet("X", "area", 0.3, 0.2), r"measure='area' is not valid",
                 id="bad-measure"),
    pytest.param(lambda: RECIST_1_1.replace(pd_abs_floor="five"), r"pd_abs_floor must be a number",
                 id="floor-not-number"),
    pytest.param(lambda: RECIST_1_1.replace(pd_abs_floor=True), r"pd_abs_floor must be a number",
                 id="floor-bool"),
    pytest.param(lambda: RECIST_1_1.replace(sd_min_days=-1), r"sd_min_days must be a whole number",
                 id="negative-days"),
    pytest.param(lambda: RECIST_1_1.replace(pd_floor=5), r"has no parameter 'pd_floor'.*pd_abs_floor",
                 id="unknown-param-suggests"),
    pytest.param(lambda: RECICL.replace(aggregation="mean"), r"aggregation='mean' is not valid",
                 id="recicl-aggregation"),
    pytest.param(lambda: IRECIST.replace(icpd_min_increase_mm="x"), r"must be a number",
                 id="irecist-number"),
    pytest.param(lambda: parse_criteria("choi"), r"unknown response criterion 'choi'",
                 id="unknown-criterion"),
    pytest.param(lambda: resolve_rules(["recist1.1", "RECIST"]), r"criteria listed twice",
                 id="criterion-twice"),
    pytest.param(lambda: assess(doc((0, [les("L1", 20.0)])), []), r"no criteria given",
                 id="empty-criteria"),
    pytest.param(lambda: assess(doc((0, [les("L1", 20.0)])), ["irecist"],
                                rule_overrides={"irecist": {"bogus": 1}}),
                 r"has no parameter 'bogus'", id="irecist-override-unknown"),
    pytest.param(lambda: up_to_seven(-10, 1), r"largest diameter -10 mm is negative",
                 id="negative-largest"),
    pytest.param(lambda: tbs_band(10, True), r"whole number ≥ 0", id="bool-count"),
    pytest.param(lambda: albi(None, 40), r"ALBI needs bilirubin", id="albi-missing"),
    pytest.param(lambda: child_pugh(1, 4, 1, ascites="lots"), r"'lots' is not a valid AscitesGrade",
                 id="cp-bad-ascites"),
    pytest.param(lambda: burden_for_timepoint(TimePoint("T", day=0), n_tumours=-2),
                 r"whole number ≥ 0", id="burden-negative-n"),
]


@pytest.mark.parametrize(("fn", "match"), RULE_ERRORS)
def test_rule_and_score_errors(fn, match):
    with pytest.raises(CriteriaError, match=match):
        fn()


def test_irecist_overrides_reach_base_rules():
    d = doc((0, [les("L1", 20.0)]), (42, [les("L1", 24.0)]))
    a = assess(d, ["irecist"], pd_abs_floor=0)
    assert a.results["iRECIST"].timepoints[1].response == "iUPD"
    b = assess(d, ["irecist"], rule_overrides={"irecist": {"pd_abs_floor": 0,
                                                           "icpd_min_increase_mm": 3}})
    assert b.results["iRECIST"].parameters["icpd_min_increase_mm"] == 3
    assert b.results["iRECIST"].timepoints[1].response == "iUPD"


def test_parameter_aliases_from_the_issue_text():
    assert RECIST_1_1.replace(pd_abs_floor_mm=0).pd_abs_floor == 0
    assert RECIST_1_1.replace(max_per_organ=3).max_targets_per_organ == 3
    d = doc((0, [les("L1", 20.0)]), (56, [les("L1", 24.0)]))
    assert assess(d, ["recist1.1"], pd_abs_floor_mm=0).results["RECIST1.1"].timepoints[1].response == "PD"

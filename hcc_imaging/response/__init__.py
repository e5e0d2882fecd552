"""Response assessment: the read document, one shared classifier and its rule sets.

Pure Python (no imaging imports).  Rules and sources: ``docs/criteria.md``; input format:
``docs/read-document.md``.

>>> from hcc_imaging.response import ReadDocument, assess  # doctest: +SKIP
>>> assess(ReadDocument.from_json("read.json"), ["recist1.1", "mrecist"]).to_json()  # doctest: +SKIP
"""

from __future__ import annotations

from hcc_imaging.response.bor import best_overall_response, confirmed_bor, unconfirmed_bor
from hcc_imaging.response.classify import classify, classify_sums, meets_pd, overall_response
from hcc_imaging.response.clinical import (
    MARKER_LIMITS_JAPAN,
    MARKER_LIMITS_WEST,
    MarkerLimits,
    clinical_cr,
    drug_off_eligible,
)
from hcc_imaging.response.document import (
    SCHEMA_VERSION,
    AxisEndpoints,
    CeusExam,
    IRecistCategory,
    LesionKind,
    LesionObservation,
    LesionStatus,
    LiverFunction,
    MarkerValue,
    ReadDocument,
    Role,
    TimePoint,
    TreatmentEvent,
    TreatmentKind,
    exact,
)
from hcc_imaging.response.endpoints import cohort_endpoints, dor, pfs, ttp
from hcc_imaging.response.engine import ALL_CRITERIA, DEFAULT_CRITERIA, Assessment, assess
from hcc_imaging.response.irecist import classify_irecist
from hcc_imaging.response.recicl import classify_recicl, treatment_effect
from hcc_imaging.response.results import CriterionResult, Response, TimePointResult
from hcc_imaging.response.rules import (
    EASL,
    IRECIST,
    MRECIST,
    RECICL,
    RECIST_1_1,
    WHO,
    Criteria,
    IRecistRules,
    Measure,
    RecicLRules,
    RuleSet,
    parse_criteria,
)
from hcc_imaging.response.targets import check_targets, select_targets, validate_targets

__all__ = [
    "ALL_CRITERIA",
    "DEFAULT_CRITERIA",
    "EASL",
    "IRECIST",
    "MARKER_LIMITS_JAPAN",
    "MARKER_LIMITS_WEST",
    "MRECIST",
    "RECICL",
    "RECIST_1_1",
    "SCHEMA_VERSION",
    "WHO",
    "Assessment",
    "AxisEndpoints",
    "CeusExam",
    "Criteria",
    "CriterionResult",
    "IRecistCategory",
    "IRecistRules",
    "LesionKind",
    "LesionObservation",
    "LesionStatus",
    "LiverFunction",
    "MarkerLimits",
    "MarkerValue",
    "Measure",
    "ReadDocument",
    "RecicLRules",
    "Response",
    "Role",
    "RuleSet",
    "TimePoint",
    "TimePointResult",
    "TreatmentEvent",
    "TreatmentKind",
    "assess",
    "best_overall_response",
    "check_targets",
    "classify",
    "classify_irecist",
    "classify_recicl",
    "classify_sums",
    "clinical_cr",
    "cohort_endpoints",
    "confirmed_bor",
    "dor",
    "drug_off_eligible",
    "exact",
    "meets_pd",
    "overall_response",
    "parse_criteria",
    "pfs",
    "select_targets",
    "treatment_effect",
    "ttp",
    "unconfirmed_bor",
    "validate_targets",
]

"""Response assessment: the read document, one shared classifier and its rule sets.

Pure Python (no imaging imports).  See ``docs/criteria.md`` for the rules and
``docs/read-document.md`` for the input format.
"""

from __future__ import annotations

from hcc_imaging.response.document import (
    SCHEMA_VERSION,
    AxisEndpoints,
    CeusExam,
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
)

__all__ = [
    "SCHEMA_VERSION",
    "AxisEndpoints",
    "CeusExam",
    "LesionKind",
    "LesionObservation",
    "LesionStatus",
    "LiverFunction",
    "MarkerValue",
    "ReadDocument",
    "Role",
    "TimePoint",
    "TreatmentEvent",
    "TreatmentKind",
]

"""The read document: one reader's measurements of one patient over time (JSON, versioned).

The read document is the contract between measuring (napari, ``measure``, ``batch``) and
classifying (:func:`hcc_imaging.response.assess`).  It is plain data: frozen, slotted
dataclasses that validate themselves on construction and round-trip through JSON
(:meth:`ReadDocument.from_json` / :meth:`ReadDocument.to_json`).  The JSON Schema is
``hcc_imaging/response/read_document.schema.json`` (also ``docs/read-document.schema.json``);
the field-by-field description is ``docs/read-document.md``.

Numbers
-------
Lengths are in mm, areas in mm², volumes in mm³, fractions in ``[0, 1]``.  Numbers are stored
as ``float``; the classifier turns each into the exact decimal it was written as
(``Fraction(repr(x))``: ``23.1`` is exactly 231/10), so percentage thresholds are decided
exactly (33.0 mm → 23.1 mm is exactly −30 %).  Any ``int``, ``float``, ``Decimal``,
``Fraction`` or decimal string is accepted on input.

Days
----
``TimePoint.day`` is the day offset from study entry (day 0 = start of treatment or
randomisation).  When only dates are given, days are computed from ``ReadDocument.start_date``
(or, when that is absent, from the first time point's date, which then is day 0).

Roles
-----
``role`` is ``target``, ``non_target`` or ``new``.  Targets are chosen at baseline (the first
time point); follow-ups repeat the same ``lesion_id`` for the same lesion.  A criterion may
need a different role for a lesion (e.g. a non-enhancing lesion is a RECIST 1.1 target but an
mRECIST non-target): ``role_by_criteria={"mRECIST": "non_target"}`` says so.
"""

from __future__ import annotations

# Also importable from here, as when this was one module: MAX_LENGTH_MM (and AXIS_TOLERANCE_MM).
from ._clinical import (
    ALBUMIN_G_L_PER_G_DL,
    BILIRUBIN_UMOL_L_PER_MG_DL,
    CeusExam,
    LiverFunction,
    MarkerValue,
    TreatmentEvent,
)
from ._enums import (
    AscitesGrade,
    Axis,
    EncephalopathyGrade,
    IRecistCategory,
    LesionKind,
    LesionStatus,
    Role,
    TreatmentKind,
)
from ._lesion import AxisEndpoints, LesionObservation, axis_problem
from ._read import SCHEMA_PATH, SCHEMA_VERSION, ReadDocument, schema
from ._timepoint import TimePoint
from ._values import AXIS_TOLERANCE_MM, MAX_LENGTH_MM, exact

__all__ = [
    "SCHEMA_VERSION",
    "Role",
    "LesionKind",
    "LesionStatus",
    "IRecistCategory",
    "TreatmentKind",
    "AscitesGrade",
    "EncephalopathyGrade",
    "Axis",
    "AxisEndpoints",
    "LesionObservation",
    "TimePoint",
    "TreatmentEvent",
    "MarkerValue",
    "LiverFunction",
    "CeusExam",
    "BILIRUBIN_UMOL_L_PER_MG_DL",
    "ALBUMIN_G_L_PER_G_DL",
    "ReadDocument",
    "exact",
    "AXIS_TOLERANCE_MM",
    "axis_problem",
    "schema",
    "SCHEMA_PATH",
]

#: doctest collects only a module's own functions: the example of ``exact``, which lives
#: in a private module, runs as this package's (where the doctest tests look for it).
__test__ = {"exact": exact, "axis_problem": axis_problem}

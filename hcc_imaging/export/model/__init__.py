"""The flat, export-ready view of one read: what every exporter (SR, tables, SDTM, report) reads.

:class:`ExportRead` is built from the read document (DESIGN section 4) - a
``hcc_imaging.response.document.ReadDocument``, its JSON dict, or a JSON file - plus, optionally,
the response assessment (``Assessment.to_json()`` / ``hcc-imaging assess --json`` output).  The
adapters are tolerant about spelling (``timepoints`` / ``time_points``, ``id`` / ``lesion_id``)
so exports keep working while the read document schema grows, and strict about meaning: a
value that cannot be interpreted raises :class:`ExportInputError` naming the time point, the
lesion and the field.

Units: diameters mm, volumes mm3, sums mm (mm2 for the bidimensional WHO/EASL criteria, as
the response engine reports them), changes as fractions (0.30 = 30 %).

The code lives in private modules: ``_records`` (the dataclasses, :class:`ExportRead`), ``_fields``
(one value read and checked), ``_document`` (the read document's adapters and parser),
``_assessment`` (the assessment's), ``_tracking`` (lesion tracking UIDs) and ``_reads`` (the entry
points: :func:`as_export_read`, :func:`iter_reads`, :func:`read_from_measurements`).
"""

from __future__ import annotations

from ._assessment import assessment_to_dict
from ._document import document_to_dict, unwrap_read_document
from ._records import (CriterionSummary, ExportInputError, ExportRead, LesionObservation, Point3, Segment3,
                       TimepointInfo, TimepointResponse, TreatmentEvent)
from ._reads import as_export_read, iter_reads, read_from_measurements
from ._tracking import derived_tracking_uid, name_based_tracking_uid, with_tracking_uids

__all__ = [
    "ExportInputError",
    "Point3",
    "Segment3",
    "TimepointInfo",
    "LesionObservation",
    "TimepointResponse",
    "CriterionSummary",
    "TreatmentEvent",
    "ExportRead",
    "as_export_read",
    "derived_tracking_uid",
    "name_based_tracking_uid",
    "with_tracking_uids",
    "iter_reads",
    "read_from_measurements",
    "document_to_dict",
    "unwrap_read_document",
    "assessment_to_dict",
]

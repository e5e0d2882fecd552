"""The records of an export-ready read: time points, lesion observations, responses, summaries,
treatments, and :class:`ExportRead` that holds them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ...errors import ReadDocumentError
from ..codes import normalise_criterion

if TYPE_CHECKING:  # pragma: no cover
    from ..deid import Deidentifier

Point3 = tuple[float, float, float]
Segment3 = tuple[Point3, Point3]


class ExportInputError(ReadDocumentError):
    """The read document or assessment handed to an exporter cannot be interpreted."""


@dataclass(frozen=True, slots=True)
class TimepointInfo:
    """One imaging time point of the read.

    ``index`` is 0 for baseline and counts up in time order.  ``day`` is the read document's day
    (docs/read-document.md): days from day 0, the start of treatment / randomisation
    (``start_date``), else from the first time point's date — the day the response results
    carry.  ``day_from_baseline`` counts from the baseline scan (the SR's offset from the
    baseline event); it differs from ``day`` when the baseline scan is not on day 0.
    """

    timepoint_id: str
    index: int
    date: dt.date | None = None
    day: int | None = None
    study_instance_uid: str | None = None
    day_from_baseline: int | None = None

    @property
    def is_baseline(self) -> bool:
        return self.index == 0


@dataclass(frozen=True, slots=True)
class LesionObservation:
    """One lesion at one time point (one SR measurement group, one table row).

    Diameters in mm, volumes in mm3, ``necrosis_fraction`` in [0, 1]; endpoints are two LPS
    points (mm) each.  ``None`` means "not recorded", never a failed computation.
    """

    patient_id: str
    timepoint_id: str
    lesion_id: str
    role: str = "target"
    tracking_uid: str | None = None
    organ: str | None = "liver"
    is_lymph_node: bool = False
    kind: str | None = None
    status: str | None = None
    couinaud_segment: str | None = None
    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    viable_diameter_mm: float | None = None
    viable_short_axis_mm: float | None = None
    volume_mm3: float | None = None
    viable_volume_mm3: float | None = None
    necrosis_fraction: float | None = None
    ld_endpoints_lps: Segment3 | None = None
    sa_endpoints_lps: Segment3 | None = None
    viable_endpoints_lps: Segment3 | None = None
    viable_sa_endpoints_lps: Segment3 | None = None
    provenance: str | None = None
    #: yes/no attributes the response rules read (``codes.LESION_FLAG_CODES`` keys), as
    #: ``(name, value)`` pairs; only those the read records
    flags: tuple[tuple[str, bool], ...] = ()
    #: further measurements in mm (``codes.LESION_EXTRA_MM_CODES`` keys), ``(name, mm)`` pairs
    extra_mm: tuple[tuple[str, float], ...] = ()
    viable_status: str | None = None
    irecist_category: str | None = None
    attenuation_hu: float | None = None
    #: True when ``tracking_uid`` was not in the read but derived (:func:`derived_tracking_uid`)
    tracking_uid_derived: bool = False
    #: the read's ``role_by_criteria``: ``(criterion, role)`` pairs (canonical criterion names, e.g.
    #: ``("mRECIST", "non_target")``) where the role under a criterion is not ``role``
    role_by_criteria: tuple[tuple[str, str], ...] = ()

    def role_for(self, criterion: str) -> str:
        """Role under ``criterion`` (its ``role_by_criteria`` entry, else ``role``), as the response
        engine reads it (``ReadDocument`` ``LesionObservation.role_for``)."""
        c = normalise_criterion(criterion)
        for k, v in self.role_by_criteria:
            if k == c:
                return v
        return self.role

    @property
    def recist_diameter_mm(self) -> float | None:
        """The RECIST 1.1 contribution: short axis for nodes, longest diameter otherwise."""
        return self.short_axis_mm if self.is_lymph_node else self.longest_diameter_mm


@dataclass(frozen=True, slots=True)
class TimepointResponse:
    """Response of one patient at one time point under one criterion.

    ``sum_value`` is in ``sum_unit`` (``"mm"``, or ``"mm2"`` for WHO/EASL); changes are
    fractions relative to baseline and to nadir.  Baseline has ``response = None``.
    """

    patient_id: str
    criterion: str
    timepoint_id: str
    day: int | None = None
    sum_value: float | None = None
    sum_unit: str = "mm"
    change_from_baseline_frac: float | None = None
    change_from_nadir_frac: float | None = None
    target_response: str | None = None
    non_target_response: str | None = None
    new_lesions: bool | None = None
    response: str | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CriterionSummary:
    """Best overall response (BOR) of one patient under one criterion, and the endpoints
    ``assess`` gives (``pfs``, ``ttp``, ``dor``, ``dor_unconfirmed``: ``(event, day)``, None when
    not given or, for DOR, a non-responder)."""

    patient_id: str
    criterion: str
    bor_unconfirmed: str | None = None
    bor_confirmed: str | None = None
    pd_day: int | None = None
    best_change_frac: float | None = None
    pfs: tuple[bool, int] | None = None
    ttp: tuple[bool, int] | None = None
    dor: tuple[bool, int] | None = None
    dor_unconfirmed: tuple[bool, int] | None = None


@dataclass(frozen=True, slots=True)
class TreatmentEvent:
    """A treatment (TACE, lenvatinib, resection...) with its dates (end may be open)."""

    patient_id: str
    kind: str
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    start_day: int | None = None
    end_day: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class ExportRead:
    """Everything the exporters need about one patient's read, flat and typed."""

    patient_id: str
    reader_id: str | None
    timepoints: tuple[TimepointInfo, ...]
    lesions: tuple[LesionObservation, ...]
    responses: tuple[TimepointResponse, ...] = ()
    summaries: tuple[CriterionSummary, ...] = ()
    treatments: tuple[TreatmentEvent, ...] = ()
    patient_name: str | None = None
    algorithm: str | None = None
    document: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    # -- lookups ------------------------------------------------------------------------
    def timepoint(self, timepoint_id: str) -> TimepointInfo:
        for tp in self.timepoints:
            if tp.timepoint_id == timepoint_id:
                return tp
        raise ExportInputError(
            f"patient {self.patient_id}: no time point {timepoint_id!r} in the read "
            f"(known: {[t.timepoint_id for t in self.timepoints]}). Check the timepoints= argument."
        )

    def lesions_at(self, timepoint_id: str) -> list[LesionObservation]:
        return [les for les in self.lesions if les.timepoint_id == timepoint_id]

    @property
    def criteria(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.responses:
            seen.setdefault(r.criterion, None)
        for s in self.summaries:
            seen.setdefault(s.criterion, None)
        return list(seen)

    def responses_for(self, criterion: str) -> list[TimepointResponse]:
        c = normalise_criterion(criterion)
        return [r for r in self.responses if r.criterion == c]

    def summary_for(self, criterion: str) -> CriterionSummary | None:
        c = normalise_criterion(criterion)
        for s in self.summaries:
            if s.criterion == c:
                return s
        return None

    def with_assessment(self, assessment: Any) -> ExportRead:
        """A copy with responses and BOR taken from ``assessment`` (see :func:`assessment_to_dict`)."""
        from ._assessment import _parse_assessment  # (it builds these records)

        responses, summaries = _parse_assessment(assessment, self)
        return replace(self, responses=tuple(responses), summaries=tuple(summaries))

    def deidentified(self, deid: Deidentifier) -> ExportRead:
        """Pseudonymous copy: patient/reader ids replaced, dates shifted, UIDs remapped."""
        return deid.deidentify_read(self)

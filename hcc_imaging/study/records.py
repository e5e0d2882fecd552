"""Frozen records returned by the study store (never live ORM objects).

All ids are public, stable ids: pseudonymous patient/reader ids, DICOM-style UIDs.
Endpoints are in LPS mm (DESIGN section 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ReaderInfo",
    "PatientInfo",
    "StudyInfo",
    "SeriesInfoRecord",
    "TimePointInfo",
    "LesionInfo",
    "ReadInfo",
    "MeasurementRecord",
    "ResponseRecord",
    "TrackingLinkInfo",
    "TreatmentEventInfo",
    "TumourMarkerInfo",
    "AdjudicationInfo",
]

Point3 = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ReaderInfo:
    reader_id: str
    role: str


@dataclass(frozen=True, slots=True)
class PatientInfo:
    patient_id: str


@dataclass(frozen=True, slots=True)
class StudyInfo:
    study_instance_uid: str
    patient_id: str
    study_date: dt.date | None
    modality: str | None


@dataclass(frozen=True, slots=True)
class SeriesInfoRecord:
    series_instance_uid: str
    study_instance_uid: str
    phase: str | None
    modality: str | None


@dataclass(frozen=True, slots=True)
class TimePointInfo:
    patient_id: str
    timepoint_id: str
    date: dt.date | None
    day_offset: int | None
    study_instance_uid: str | None = None


@dataclass(frozen=True, slots=True)
class LesionInfo:
    """A tracked lesion.  ``owner`` is None for a shared lesion, else the reader who made it."""

    tracking_uid: str
    patient_id: str
    lesion_id: str
    organ: str | None
    is_lymph_node: bool
    kind: str | None
    owner: str | None


@dataclass(frozen=True, slots=True)
class ReadInfo:
    read_uid: str
    reader_id: str
    patient_id: str
    status: str
    criteria: tuple[str, ...]
    timepoint_ids: tuple[str, ...]
    created_at: str
    locked_at: str | None
    #: True when an import found this read already locked in the store and changed nothing.
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class MeasurementRecord:
    """One reader's record of one lesion at one time point, with provenance.

    ``source_kind`` is ``manual_line`` (a reader's caliper) or ``algorithm`` (then
    ``algorithm_name``, ``algorithm_version`` and ``parameters`` say which run).
    ``endpoints_lps`` maps a line name (``long_axis``, ``short_axis``, ``viable_axis``...) to
    its two end points in LPS mm.
    """

    measurement_uid: str
    read_uid: str
    reader_id: str
    tracking_uid: str
    lesion_id: str
    timepoint_id: str
    role: str
    status: str
    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    viable_diameter_mm: float | None = None
    viable_short_axis_mm: float | None = None
    volume_mm3: float | None = None
    viable_volume_mm3: float | None = None
    necrosis_fraction: float | None = None
    typical_hcc_pattern: bool | None = None
    cytology_malignant: bool | None = None
    endpoints_lps: Mapping[str, tuple[Point3, Point3]] = field(default_factory=dict)
    source_kind: str = "manual_line"
    algorithm_name: str | None = None
    algorithm_version: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    updated_at: str = ""
    #: State of the viable part (``too_small``, ``absent``, ``not_evaluable``, ``measured``), kept
    #: with the record's other observation fields (extras); None when not recorded.
    viable_status: str | None = None
    #: What the write that returned this record changed beyond what it was given (a stale
    #: viable status cleared: ``record_measurement``), each naming the read, time point and
    #: lesion; empty for a record read back.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """A stored response of a locked read: per time point, or overall (BOR, first PD)."""

    read_uid: str
    criteria: str
    timepoint_id: str | None  # None = overall (BOR)
    category: str  # time point: response or "baseline"; overall: BOR without confirmation
    sum_value: float | None = None
    sum_unit: str | None = None
    category_confirmed: str | None = None  # overall only: BOR with confirmation
    pd_date: dt.date | None = None
    pd_day_offset: int | None = None
    pd_timepoint_id: str | None = None


@dataclass(frozen=True, slots=True)
class TrackingLinkInfo:
    link_uid: str
    tracking_uid: str
    timepoint_id: str
    followup_label: str
    relation: str
    dice: float | None
    centroid_distance_mm: float | None
    confirmed: bool
    owner: str | None
    #: What :meth:`~hcc_imaging.study.reads.ReaderSession.confirm_tracking` did with the link:
    #: ``created``, ``replaced`` (the label's earlier link now points to this lesion),
    #: ``updated`` (relation or scores changed) or ``unchanged``; None in a listing.
    change: str | None = None


@dataclass(frozen=True, slots=True)
class TreatmentEventInfo:
    event_uid: str
    patient_id: str
    kind: str
    start_date: dt.date | None
    end_date: dt.date | None
    start_day: int | None = None
    end_day: int | None = None
    lesion_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TumourMarkerInfo:
    marker_uid: str
    patient_id: str
    marker: str
    value: float
    unit: str
    date: dt.date | None
    day: int | None = None


@dataclass(frozen=True, slots=True)
class AdjudicationInfo:
    adjudication_uid: str
    patient_id: str
    adjudicator_id: str
    criteria: str
    discordance: str
    chosen_read_uid: str
    reason: str
    created_at: str
    #: The reads decided between (None: recorded before schema v3, not stored).
    read_uids: tuple[str, ...] | None = None
    #: BOR with confirmation (True) or without (False); None before schema v3.
    confirmed: bool | None = None

"""SQLAlchemy 2 models of the longitudinal study store.

Every row is linked by stable public ids (pseudonymous patient id, DICOM UIDs, tracking UID,
read UID, measurement UID), never by object identity (DESIGN section 3, style "study/").
Integer primary keys are private to the store.

Closed sets are :class:`enum.StrEnum` and stored as their string value.

Entities
--------
patients -> studies -> series (phase)
patients -> timepoints (id, date, day offset) -> optional study
patients -> lesions (tracking UID; shared when ``owner`` is empty, else private to a reader)
readers; reads (one reader, one patient, draft -> locked, a set of time points, criteria)
measurements (read x lesion x time point; provenance; endpoints in LPS mm)
read_responses (per read, criterion, time point / overall, stored when a read is locked)
tracking_links (follow-up label -> tracked lesion, relation, scores, who confirmed)
treatment_events, tumour_markers, adjudications
audit_log + audit_head (hash chain), schema_version
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..response.document import TreatmentKind

__all__ = [
    "Base",
    "ReaderRole",
    "ReadStatus",
    "LesionRole",
    "MeasurementStatus",
    "SourceKind",
    "TreatmentKind",
    "MarkerKind",
    "TrackingRelation",
    "DiscordanceKind",
    "SchemaVersionRow",
    "ReaderRow",
    "PatientRow",
    "StudyRow",
    "SeriesRow",
    "TimePointRow",
    "LesionRow",
    "ReadRow",
    "ReadTimePointRow",
    "MeasurementRow",
    "ReadResponseRow",
    "TrackingLinkRow",
    "TreatmentEventRow",
    "TumourMarkerRow",
    "AdjudicationRow",
    "AuditLogRow",
    "AuditHeadRow",
    "utcnow_iso",
]


def utcnow_iso() -> str:
    """Current UTC time as ISO 8601 with microseconds and ``+00:00`` (stored as text)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class ReaderRole(enum.StrEnum):
    """What a person may do: ``reader`` reads blinded; ``adjudicator`` sees locked reads."""

    READER = "reader"
    ADJUDICATOR = "adjudicator"


class ReadStatus(enum.StrEnum):
    """Life cycle of a read: editable ``draft``, then ``locked`` (final, immutable)."""

    DRAFT = "draft"
    LOCKED = "locked"


class LesionRole(enum.StrEnum):
    """Role a reader gives a lesion in a read (DESIGN section 4)."""

    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class MeasurementStatus(enum.StrEnum):
    """Status of a lesion at a time point (DESIGN section 4, read document)."""

    MEASURED = "measured"
    TOO_SMALL = "too_small"
    ABSENT = "absent"
    NOT_EVALUABLE = "not_evaluable"
    PRESENT = "present"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    FURTHER_INCREASE = "further_increase"  # iRECIST: any further increase after iUPD


class SourceKind(enum.StrEnum):
    """Provenance of a measurement: a reader's caliper line, or an algorithm run."""

    MANUAL_LINE = "manual_line"
    ALGORITHM = "algorithm"
    #: Imported from a read document; its free-text ``source`` is kept in ``extra_json``.
    IMPORTED = "imported"


class MarkerKind(enum.StrEnum):
    """Serum tumour markers of HCC (criteria.md section 9); units in constants.MARKER_UNITS."""

    AFP = "afp"
    AFP_L3 = "afp_l3"
    PIVKA_II = "pivka_ii"
    CEA = "cea"
    CA19_9 = "ca19_9"


class TrackingRelation(enum.StrEnum):
    """How a follow-up lesion relates to the tracked (baseline) lesion."""

    MATCH = "match"
    SPLIT = "split"  # one of several follow-up fragments of one baseline lesion
    MERGE = "merge"  # one follow-up lesion formed from several baseline lesions
    NEW = "new"


class DiscordanceKind(enum.StrEnum):
    """What two locked reads disagree on (adjudication trigger)."""

    BOR = "bor"
    PD_DATE = "pd_date"


class Base(DeclarativeBase):
    """Declarative base; ``__audit_key__`` names the public id column written to the audit log."""

    __audit_key__: str = "id"

    def audit_key(self) -> str:
        return str(getattr(self, self.__audit_key__))

    def audit_values(self) -> dict[str, Any]:
        """Column values (by column key) for the audit log."""
        return {c.key: getattr(self, c.key) for c in self.__table__.columns}  # type: ignore[attr-defined]


class SchemaVersionRow(Base):
    __tablename__ = "schema_version"
    __audit_key__ = "version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)


class ReaderRow(Base):
    __tablename__ = "readers"
    __audit_key__ = "reader_id"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default=ReaderRole.READER.value)
    created_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)


class PatientRow(Base):
    __tablename__ = "patients"
    __audit_key__ = "patient_id"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)


class StudyRow(Base):
    __tablename__ = "studies"
    __audit_key__ = "study_instance_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    modality: Mapped[str | None] = mapped_column(String(8), nullable=True)


class SeriesRow(Base):
    __tablename__ = "series"
    __audit_key__ = "series_instance_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    study_fk: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), nullable=False, index=True)
    phase: Mapped[str | None] = mapped_column(String(32), nullable=True)
    modality: Mapped[str | None] = mapped_column(String(8), nullable=True)


class TimePointRow(Base):
    __tablename__ = "timepoints"
    __audit_key__ = "key"
    __table_args__ = (UniqueConstraint("patient_fk", "timepoint_id", name="uq_timepoint_patient"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    timepoint_id: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(String(140), unique=True, nullable=False)  # "patient/timepoint"
    date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    day_offset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    study_fk: Mapped[int | None] = mapped_column(ForeignKey("studies.id", ondelete="RESTRICT"), nullable=True)


class LesionRow(Base):
    __tablename__ = "lesions"
    __audit_key__ = "tracking_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    lesion_id: Mapped[str] = mapped_column(String(64), nullable=False)
    organ: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_lymph_node: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: None = shared (pipeline / tracking); otherwise private to that reader (blinding).
    owner_reader_fk: Mapped[int | None] = mapped_column(ForeignKey("readers.id", ondelete="RESTRICT"), nullable=True, index=True)
    created_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)


class ReadRow(Base):
    __tablename__ = "reads"
    __audit_key__ = "read_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    read_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    reader_fk: Mapped[int] = mapped_column(ForeignKey("readers.id", ondelete="RESTRICT"), nullable=False, index=True)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ReadStatus.DRAFT.value)
    criteria: Mapped[str] = mapped_column(String(200), nullable=False, default="")  # comma list
    created_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)
    locked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: (v2) JSON object of read-document fields the store has no column for (start_date,
    #: death, liver function, CEUS, per-time-point extras).
    extra_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReadTimePointRow(Base):
    __tablename__ = "read_timepoints"
    __audit_key__ = "key"
    read_fk: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="CASCADE"), primary_key=True)
    timepoint_fk: Mapped[int] = mapped_column(ForeignKey("timepoints.id", ondelete="RESTRICT"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), nullable=False)  # "read_uid/timepoint_id"


class MeasurementRow(Base):
    __tablename__ = "measurements"
    __audit_key__ = "measurement_uid"
    __table_args__ = (UniqueConstraint("read_fk", "lesion_fk", "timepoint_fk", name="uq_measurement"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    measurement_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    read_fk: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="RESTRICT"), nullable=False, index=True)
    lesion_fk: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="RESTRICT"), nullable=False, index=True)
    timepoint_fk: Mapped[int] = mapped_column(ForeignKey("timepoints.id", ondelete="RESTRICT"), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    longest_diameter_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    short_axis_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    viable_diameter_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    viable_short_axis_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    volume_mm3: Mapped[float | None] = mapped_column(Float, nullable=True)
    # --- added in schema v2 ---
    viable_volume_mm3: Mapped[float | None] = mapped_column(Float, nullable=True)
    necrosis_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    typical_hcc_pattern: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    cytology_malignant: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: JSON object of the other read-document observation fields (split_from, merged_into,
    #: equivocal, enhancing, viable_status, role_by_criteria, note, source...).
    extra_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # --------------------------
    #: JSON object: name -> [[x, y, z], [x, y, z]] in LPS mm (e.g. "long_axis", "short_axis").
    endpoints_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    source_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    algorithm_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    algorithm_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parameters_json: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    updated_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)


class ReadResponseRow(Base):
    __tablename__ = "read_responses"
    __audit_key__ = "key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(240), unique=True, nullable=False)  # read/criteria/tp|overall
    read_fk: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="RESTRICT"), nullable=False, index=True)
    criteria: Mapped[str] = mapped_column(String(32), nullable=False)
    timepoint_fk: Mapped[int | None] = mapped_column(ForeignKey("timepoints.id", ondelete="RESTRICT"), nullable=True)
    #: Time-point response (``baseline`` for the baseline row) or, on the overall row, the
    #: best overall response without confirmation.
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    #: Overall row only: best overall response with confirmation (RECIST 1.1 Table 3).
    category_confirmed: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The criterion's sum at this time point, in ``sum_unit`` (mm, or mm2 for WHO/EASL/RECICL).
    sum_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    sum_unit: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: Overall row only: date (or day offset) of the first PD, if any.
    pd_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    pd_day_offset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pd_timepoint_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class TrackingLinkRow(Base):
    __tablename__ = "tracking_links"
    __audit_key__ = "link_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    lesion_fk: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="RESTRICT"), nullable=False, index=True)
    timepoint_fk: Mapped[int] = mapped_column(ForeignKey("timepoints.id", ondelete="RESTRICT"), nullable=False)
    followup_label: Mapped[str] = mapped_column(String(64), nullable=False)
    relation: Mapped[str] = mapped_column(String(16), nullable=False)
    dice: Mapped[float | None] = mapped_column(Float, nullable=True)
    centroid_distance_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Reader who confirmed/corrected the link (None: shared link written by the pipeline).
    owner_reader_fk: Mapped[int | None] = mapped_column(ForeignKey("readers.id", ondelete="RESTRICT"), nullable=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class TreatmentEventRow(Base):
    __tablename__ = "treatment_events"
    __audit_key__ = "event_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    start_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    start_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    end_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    end_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: JSON list of lesion ids a locoregional treatment targeted (RECICL).
    lesion_ids_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")


class TumourMarkerRow(Base):
    __tablename__ = "tumour_markers"
    __audit_key__ = "marker_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marker_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    marker: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    unit: Mapped[str] = mapped_column(String(16), nullable=False)
    date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    day: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AdjudicationRow(Base):
    __tablename__ = "adjudications"
    __audit_key__ = "adjudication_uid"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adjudication_uid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    patient_fk: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), nullable=False, index=True)
    adjudicator_fk: Mapped[int] = mapped_column(ForeignKey("readers.id", ondelete="RESTRICT"), nullable=False)
    criteria: Mapped[str] = mapped_column(String(32), nullable=False)
    discordance: Mapped[str] = mapped_column(String(16), nullable=False)
    chosen_read_fk: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="RESTRICT"), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), default=utcnow_iso)
    #: (v3) JSON list (sorted) of the read UIDs decided between: the decision holds for a
    #: discordance of exactly these reads.  NULL on a record written before v3.
    read_uids: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: (v3) BOR with confirmation (True) or without (False); NULL before v3.
    confirmed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class AuditLogRow(Base):
    """One audited change.  Append-only (database triggers refuse UPDATE/DELETE)."""

    __tablename__ = "audit_log"
    __audit_key__ = "seq"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    entity: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_key: Mapped[str] = mapped_column(String(240), nullable=False)
    changes: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    row_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHeadRow(Base):
    """Single row: last sequence number and hash (detects a truncated tail of the log)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)


#: Tables not audited (the audit machinery itself).
UNAUDITED_TABLES: frozenset[str] = frozenset({"audit_log", "audit_head"})

"""hcc_imaging.study: the longitudinal record (DESIGN.md section 3, docs/study.md).

* :class:`Store` - SQLite file by default (WAL, foreign keys, busy timeout, every write one
  audited transaction), any SQLAlchemy URL for teams; schema migrations on open.
* :class:`ReaderSession` / :class:`AdjudicatorSession` - the blinded reader workflow:
  reads draft -> locked, measurements with provenance, adjudication of discordances.
* :mod:`~hcc_imaging.study.tracking` - lesion matching across time points (registration +
  overlap + distance; splits, merges, new and disappeared lesions).
* :mod:`~hcc_imaging.study.agreement` - Cohen's kappa, ICC(2,1), Bland-Altman.
* :mod:`~hcc_imaging.study.audit` - the append-only hash-chained audit log.
"""

from __future__ import annotations

from ._axes import RecordRefusedError
from .agreement import AgreementReport, BlandAltman, IccResult, bland_altman, cohen_kappa, icc
from .audit import AuditEntry, AuditReport
from .model import (
    DiscordanceKind,
    LesionRole,
    MarkerKind,
    MeasurementStatus,
    ReaderRole,
    ReadStatus,
    SourceKind,
    TrackingRelation,
    TreatmentKind,
)
from .reads import AdjudicatorSession, Discordance, ReaderSession
from .records import (
    AdjudicationInfo,
    LesionInfo,
    MeasurementRecord,
    PatientInfo,
    ReadInfo,
    ReaderInfo,
    ResponseRecord,
    TimePointInfo,
    TrackingLinkInfo,
    TreatmentEventInfo,
    TumourMarkerInfo,
)
from .store import Store, new_uid, resolve_db_url
from .tracking import (
    FollowupAssignment,
    LesionBlob,
    MatchKind,
    MatchProposal,
    TrackingProposal,
    assign_tracking_uids,
    correct_assignment,
    propose_matches,
)

__all__ = [
    "RecordRefusedError",
    "Store",
    "resolve_db_url",
    "new_uid",
    "ReaderSession",
    "AdjudicatorSession",
    "Discordance",
    "ReaderRole",
    "ReadStatus",
    "LesionRole",
    "MeasurementStatus",
    "SourceKind",
    "TreatmentKind",
    "MarkerKind",
    "TrackingRelation",
    "DiscordanceKind",
    "ReaderInfo",
    "PatientInfo",
    "TimePointInfo",
    "LesionInfo",
    "ReadInfo",
    "MeasurementRecord",
    "ResponseRecord",
    "TrackingLinkInfo",
    "TreatmentEventInfo",
    "TumourMarkerInfo",
    "AdjudicationInfo",
    "AuditEntry",
    "AuditReport",
    "cohen_kappa",
    "icc",
    "bland_altman",
    "IccResult",
    "BlandAltman",
    "AgreementReport",
    "propose_matches",
    "assign_tracking_uids",
    "correct_assignment",
    "LesionBlob",
    "MatchKind",
    "MatchProposal",
    "TrackingProposal",
    "FollowupAssignment",
]

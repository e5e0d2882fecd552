"""Reader workflow: blinded reads, locking, adjudication.

Blinding is enforced here, in the API, not in the user interface:

* :class:`ReaderSession` is the only way a reader reaches reads, measurements, responses,
  private lesions and tracking confirmations, and it only ever returns the reader's **own**
  data plus shared data (patients, time points, shared lesions, treatments, markers).  Asking
  for another reader's read raises :class:`~hcc_imaging.errors.BlindingError`; listing
  simply does not include it.
* :class:`AdjudicatorSession` (role ``adjudicator``) sees **locked** reads of every reader -
  never drafts - lists discordances (BOR differs, date of first PD differs) per criterion,
  records one decision per discordance with the reason, and computes inter-reader agreement
  (:mod:`hcc_imaging.study.agreement`).  An adjudicator who has a read of the same patient
  cannot adjudicate it.

A read belongs to one reader and one patient, covers a set of time points and a list of
criteria, and goes ``draft -> locked``.  Locking validates the read as a read document,
runs :func:`hcc_imaging.response.assess` for each criterion and stores the time-point
responses, BOR and first-PD date with it; a locked read never changes.

Measurement writes are upserts keyed by (read, lesion, time point) - one small transaction,
cheap enough for the napari plugin to autosave every edit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .._phi import shown_id
from ..errors import BlindingError, CriteriaError, ReadDocumentError, StoreError
from ._adjudicator import AdjudicatorSession, Discordance
from ._axes import refuse_impossible_axes
from ._read_rows import (
    _Base,
    _check_endpoints,
    _check_number,
    _default_assessor,
    _document,
    _lesion_info,
    _measurement_record,
    _measurements,
    _norm_criteria,
    _read_facts,
    _read_info,
    _response_records,
    _row,
)
from ._record_merge import drop_stale_status, drop_stale_viable_status, editor_record, merged_record, with_viable_status
from ._reimport import identical_locked_read
from .audit import seal_read, viewed_patients
from .documents import (
    LOCK_SNAPSHOT,
    MEASUREMENT_COLUMNS,
    document_markers,
    dumps,
    observation_split,
    read_level_extra,
    responses_from_assessment,
)
from .model import (
    AdjudicationRow,
    AuditLogRow,
    LesionRole,
    LesionRow,
    MeasurementRow,
    MeasurementStatus,
    PatientRow,
    ReaderRow,
    ReadResponseRow,
    ReadRow,
    ReadStatus,
    ReadTimePointRow,
    SourceKind,
    TimePointRow,
    TrackingLinkRow,
    TreatmentEventRow,
    TumourMarkerRow,
    utcnow_iso,
)
from .records import LesionInfo, MeasurementRecord, ReadInfo, ResponseRecord, TrackingLinkInfo
from .store import Store, _create_lesion, _marker_kind, new_uid
from .store import refuse_case_variant

#: "Leave this attribute as it is" in :meth:`ReaderSession.update_lesion` (None means "clear it").
_KEEP: Any = object()

__all__ = ["ReaderSession", "AdjudicatorSession", "Discordance", "Assessor"]

#: ``assessor(document, criteria) -> assessment``; defaults to hcc_imaging.response.assess.
Assessor = Callable[[Any, str], Any]


class ReaderSession(_Base):
    """One reader's view of the store: own reads, own measurements, own responses only.

    Parameters
    ----------
    store : Store
    reader_id : str
        A registered reader (``Store.add_reader``).

    Raises
    ------
    StoreError
        The reader is not registered.
    """

    def __init__(self, store: Store, reader_id: str):
        super().__init__(store, reader_id)
        store._read(lambda s: Store._reader(s, reader_id))

    def __repr__(self) -> str:
        return f"ReaderSession(reader_id={self.user_id!r})"

    # -- ownership checks -------------------------------------------------------------------
    def _own_read(self, s: Session, read_uid: str, *, draft: bool = False) -> tuple[ReadRow, ReaderRow]:
        me = self._me(s)
        r = s.scalar(select(ReadRow).where(ReadRow.read_uid == read_uid))
        if r is None:
            raise StoreError(f"unknown read {read_uid!r}; list your reads with ReaderSession.reads() ('study read list').")
        if r.reader_fk != me.id:
            raise BlindingError(
                f"read {read_uid!r} is not a read of reader {self.user_id!r}; readers see only their own reads "
                "until adjudication (blinded review). Use your own read, or an adjudicator session for locked reads."
            )
        if draft and r.status != ReadStatus.DRAFT.value:
            raise StoreError(f"read {read_uid!r} is locked and cannot change; start a new read to revise it.")
        return r, me

    def _visible_lesion(self, s: Session, patient: PatientRow, me: ReaderRow, lesion: str) -> LesionRow:
        rows = list(s.scalars(select(LesionRow).where(
            LesionRow.patient_fk == patient.id,
            (LesionRow.tracking_uid == lesion) | (LesionRow.lesion_id == lesion))))
        own = [r for r in rows if r.owner_reader_fk == me.id]
        shared = [r for r in rows if r.owner_reader_fk is None]
        by_uid = [r for r in own + shared if r.tracking_uid == lesion]
        if by_uid:
            return by_uid[0]
        for group in (own, shared):
            if group:
                return group[0]
        # one message whether the id is another reader's lesion or nobody's: telling them apart
        # would confirm what another reader recorded
        raise StoreError(
            f"lesion {lesion!r} not found among the lesions of patient {patient.patient_id!r} visible to reader "
            f"{self.user_id!r} (your own and the shared ones); list them with ReaderSession.lesions ('study lesion "
            "list'), or create it with ReaderSession.add_lesion."
        )

    # -- lesions -------------------------------------------------------------------------------
    def add_lesion(self, patient_id: str, lesion_id: str, *, organ: str | None = "liver", is_lymph_node: bool = False,
                   kind: str | None = None, tracking_uid: str | None = None) -> LesionInfo:
        """Create a lesion private to this reader, with a new tracking UID (unless given)."""
        return self.store._write(self.user_id, lambda s: _create_lesion(
            s, patient_id, lesion_id, organ, is_lymph_node, kind, tracking_uid, self._me(s)))

    def update_lesion(self, patient_id: str, lesion: str, *, organ: str | None | object = _KEEP,
                      is_lymph_node: bool | None = None, kind: str | None | object = _KEEP) -> LesionInfo:
        """Change the organ, lymph-node flag or kind of one of this reader's own lesions.

        Only the attributes passed change (``organ=None`` clears it); one audited transaction.
        A shared lesion (pipeline, tracking) is not the reader's to change, and neither is a
        lesion measured in one of this reader's locked reads (its attributes are part of that
        final read: start a new read, or add a new lesion).
        """
        def fn(s: Session) -> LesionInfo:
            me = self._me(s)
            p = Store._patient(s, patient_id)
            les = self._visible_lesion(s, p, me, lesion)
            if les.owner_reader_fk != me.id:
                raise StoreError(
                    f"lesion {lesion!r} of patient {patient_id!r} is a shared lesion; a reader changes only their own "
                    "lesions (ReaderSession.add_lesion). Ask the study administrator to correct a shared lesion."
                )
            locked = s.scalar(select(ReadRow.read_uid).join(MeasurementRow, MeasurementRow.read_fk == ReadRow.id).where(
                MeasurementRow.lesion_fk == les.id, ReadRow.status != ReadStatus.DRAFT.value).limit(1))
            if locked is not None:
                raise StoreError(
                    f"lesion {les.lesion_id!r} of patient {patient_id!r} is measured in locked read {locked}; its organ, "
                    "lymph-node flag and kind are part of that final read and cannot change. Start a new read to revise it."
                )
            if organ is not _KEEP:
                les.organ = None if organ is None else str(organ)
            if is_lymph_node is not None:
                les.is_lymph_node = bool(is_lymph_node)
            if kind is not _KEEP:
                les.kind = None if kind is None else str(kind)
            return _lesion_info(s, les)

        return self.store._write(self.user_id, fn)

    def lesions(self, patient_id: str) -> list[LesionInfo]:
        """Shared lesions of the patient and this reader's own (never another reader's)."""
        def fn(s: Session) -> list[LesionInfo]:
            me = self._me(s)
            p = Store._patient(s, patient_id)
            rows = s.scalars(select(LesionRow).where(
                LesionRow.patient_fk == p.id,
                (LesionRow.owner_reader_fk.is_(None)) | (LesionRow.owner_reader_fk == me.id)).order_by(LesionRow.id))
            return [_lesion_info(s, r) for r in rows]

        return self.store._read(fn)

    # -- reads --------------------------------------------------------------------------------------
    def start_read(self, patient_id: str, timepoint_ids: Sequence[str], criteria: str | Sequence[str] = ()) -> ReadInfo:
        """Open a new draft read of ``patient_id`` over ``timepoint_ids`` for ``criteria``."""
        crit = _norm_criteria(criteria)
        if not timepoint_ids:
            raise StoreError(f"a read of patient {patient_id!r} needs at least one time point; pass timepoint_ids (baseline first).")

        def fn(s: Session) -> ReadInfo:
            me = self._me(s)
            p = Store._patient(s, patient_id)
            _refuse_unblinded_read(s, me, p)
            tps = [Store._timepoint(s, p, t) for t in dict.fromkeys(timepoint_ids)]
            r = ReadRow(read_uid=new_uid(), reader_fk=me.id, patient_fk=p.id, status=ReadStatus.DRAFT.value,
                        criteria=",".join(crit))
            s.add(r)
            s.flush()
            for tp in tps:
                s.add(ReadTimePointRow(read_fk=r.id, timepoint_fk=tp.id, key=f"{r.read_uid}/{tp.timepoint_id}"))
            s.flush()
            return _read_info(s, r)

        return self.store._write(self.user_id, fn)

    def add_timepoint_to_read(self, read_uid: str, timepoint_id: str) -> ReadInfo:
        """Add a (new follow-up) time point to a draft read."""
        def fn(s: Session) -> ReadInfo:
            r, _ = self._own_read(s, read_uid, draft=True)
            p = _row(s, PatientRow, r.patient_fk)
            tp = Store._timepoint(s, p, timepoint_id)
            if s.get(ReadTimePointRow, (r.id, tp.id)) is None:
                s.add(ReadTimePointRow(read_fk=r.id, timepoint_fk=tp.id, key=f"{r.read_uid}/{tp.timepoint_id}"))
                s.flush()
            return _read_info(s, r)

        return self.store._write(self.user_id, fn)

    def reads(self, patient_id: str | None = None) -> list[ReadInfo]:
        """This reader's reads (optionally of one patient); never another reader's."""
        def fn(s: Session) -> list[ReadInfo]:
            me = self._me(s)
            q = select(ReadRow).where(ReadRow.reader_fk == me.id)
            if patient_id is not None:
                q = q.where(ReadRow.patient_fk == Store._patient(s, patient_id).id)
            return [_read_info(s, r) for r in s.scalars(q.order_by(ReadRow.id))]

        return self.store._read(fn)

    def read(self, read_uid: str) -> ReadInfo:
        """One of this reader's reads (BlindingError for another reader's)."""
        return self.store._read(lambda s: _read_info(s, self._own_read(s, read_uid)[0]))

    # -- measurements ------------------------------------------------------------------------------
    def record_measurement(
        self,
        read_uid: str,
        timepoint_id: str,
        lesion: str,
        *,
        role: LesionRole | str | None = None,
        status: MeasurementStatus | str | None = None,
        longest_diameter_mm: float | None = None,
        short_axis_mm: float | None = None,
        viable_diameter_mm: float | None = None,
        viable_short_axis_mm: float | None = None,
        volume_mm3: float | None = None,
        viable_volume_mm3: float | None = None,
        necrosis_fraction: float | None = None,
        typical_hcc_pattern: bool | None = None,
        cytology_malignant: bool | None = None,
        viable_status: MeasurementStatus | str | None = None,
        endpoints_lps: Mapping[str, Any] | None = None,
        source_kind: SourceKind | str | None = None,
        algorithm_name: str | None = None,
        algorithm_version: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        keep_recorded: bool = False,
        keep_other_fields: bool = False,
    ) -> MeasurementRecord:
        """Create or replace this reader's record of ``lesion`` at ``timepoint_id`` in a draft read.

        By default the call replaces the whole record (every field takes the value passed, None
        clears it; role ``target``, status ``measured`` and provenance ``manual_line`` when not
        given) in one small transaction with its audit row.  With ``keep_recorded=True``
        (``study read record``) a lesion already recorded at that time point keeps every field
        not passed - role, status, sizes, flags, the endpoints of axes whose size did not change,
        the observation extras (``enhancing``, notes...) and, when no size or endpoint changes,
        its provenance - so a partial edit never drops a measurement.  With
        ``keep_other_fields=True`` (an editor's autosave: the napari store sync) the fields an
        editor measures - role, status, sizes, volumes, necrosis fraction, endpoints, provenance -
        are replaced as passed (None clears them), and the record keeps the others:
        ``typical_hcc_pattern`` and ``cytology_malignant`` unless passed, and the observation
        extras (``viable_status``, ``enhancing``, notes...), into which ``extra`` is merged.

        **A stale viable status is dropped.**  In both merging modes, when a viable size
        (``viable_diameter_mm``, ``viable_short_axis_mm``) changes and no ``viable_status`` is
        given, a recorded ``viable_status`` other than ``measured`` is removed, and the returned
        record's ``notes`` say so (naming the lesion, the old status and the sizes): the
        criteria read the viable status before the sizes, so ``too_small`` kept beside a new
        25 mm viable diameter would count 5 mm.  Give ``viable_status`` with the size to keep or
        set one.  Likewise with ``keep_recorded``, a recorded ``status`` ``too_small``, ``absent``
        or ``not_evaluable`` becomes ``measured`` when a new longest diameter or short axis is
        given without a ``status`` (with a note).

        Parameters
        ----------
        lesion : str
            Tracking UID or lesion id of a lesion visible to this reader.
        viable_status : {'measured', 'too_small', 'absent', 'not_evaluable'}, optional
            State of the viable (arterially enhancing) part (read document ``viable_status``,
            kept in the record's extras): ``too_small`` present but too small to measure (counts
            as the rule's default), ``absent`` none left (0 mm), ``not_evaluable``.  Also taken
            from ``extra["viable_status"]``; any other value raises :class:`StoreError`.
        endpoints_lps : mapping, optional
            Axis name (``long``, ``short``, ``viable_long``, ...) -> two LPS points in mm.
        source_kind : {'manual_line', 'algorithm', 'imported'}, optional
            Provenance (default ``manual_line``); ``algorithm`` needs ``algorithm_name`` and
            ``algorithm_version`` (and ``parameters``, the settings of the run).
        extra : mapping, optional
            Other read-document observation fields (``split_from``, ``enhancing``, ...); with
            ``keep_recorded`` or ``keep_other_fields`` they are merged into the recorded ones.
        keep_recorded : bool
            Merge into an existing record: change only what is passed (see above).
        keep_other_fields : bool
            Merge into an existing record: replace the editor's fields, keep the others (see
            above).  Not with ``keep_recorded``.
        """
        where = f"read {read_uid}, time point {timepoint_id!r}, lesion {lesion!r}"
        if keep_recorded and keep_other_fields:
            raise StoreError(f"{where}: pass keep_recorded (change only the fields given) or keep_other_fields "
                             "(replace an editor's fields, keep the others), not both.")
        try:
            role_v = LesionRole(str(getattr(role, "value", role))).value if role is not None else None
            status_v = MeasurementStatus(str(getattr(status, "value", status))).value if status is not None else None
            kind_v = SourceKind(str(getattr(source_kind, "value", source_kind))).value if source_kind is not None else None
        except ValueError as err:
            raise StoreError(f"{where}: {err}; role is one of {[r.value for r in LesionRole]}, status one of "
                             f"{[m.value for m in MeasurementStatus]}, source_kind one of {[k.value for k in SourceKind]}.") from None
        if kind_v == SourceKind.ALGORITHM.value and not (algorithm_name and algorithm_version):
            raise StoreError(f"{where}: an algorithm measurement needs algorithm_name and algorithm_version (provenance); "
                             "pass both, or source_kind='manual_line' for a reader's caliper.")
        extra = with_viable_status(extra, viable_status, where)
        given_vs = extra.get("viable_status")
        values: dict[str, Any] = {}
        for name, v in (("longest_diameter_mm", longest_diameter_mm), ("short_axis_mm", short_axis_mm),
                        ("viable_diameter_mm", viable_diameter_mm), ("viable_short_axis_mm", viable_short_axis_mm),
                        ("volume_mm3", volume_mm3), ("viable_volume_mm3", viable_volume_mm3)):
            values[name] = _check_number(v, name, where)
        values["necrosis_fraction"] = _check_number(necrosis_fraction, "necrosis_fraction", where, maximum=1.0)
        values["typical_hcc_pattern"] = typical_hcc_pattern
        values["cytology_malignant"] = cytology_malignant
        eps = _check_endpoints(endpoints_lps, where)
        try:
            params = dumps(dict(parameters or {}))
            extra_text = dumps(extra) if extra else None
        except (TypeError, ValueError) as err:
            raise StoreError(f"{where}: parameters/extra must be JSON-serialisable (no NaN): {err}.") from None
        notes: list[str] = []

        def fn(s: Session) -> MeasurementRecord:
            notes.clear()  # (a retried transaction says it once)
            r, me = self._own_read(s, read_uid, draft=True)
            p = _row(s, PatientRow, r.patient_fk)
            tp = Store._timepoint(s, p, timepoint_id)
            if s.get(ReadTimePointRow, (r.id, tp.id)) is None:
                raise StoreError(f"{where}: time point {timepoint_id!r} is not part of this read; add it with "
                                 "ReaderSession.add_timepoint_to_read.")
            les = self._visible_lesion(s, p, me, lesion)
            m = s.scalar(select(MeasurementRow).where(
                MeasurementRow.read_fk == r.id, MeasurementRow.lesion_fk == les.id, MeasurementRow.timepoint_fk == tp.id))
            named = les.lesion_id if lesion == les.lesion_id else f"{les.lesion_id} (tracking UID {les.tracking_uid})"
            if (keep_recorded or keep_other_fields) and m is not None:
                merge = merged_record if keep_recorded else editor_record
                new_vals = merge(m, values, role_v, status_v, eps, kind_v, algorithm_name, algorithm_version, params,
                                 extra)
                for note in (drop_stale_viable_status(m, new_vals) if given_vs is None else None,
                             drop_stale_status(m, new_vals) if keep_recorded and status_v is None else None):
                    if note:
                        notes.append(f"read {read_uid}, time point {timepoint_id!r}, lesion {named!r}: {note}")
            else:
                new_vals = dict(values, role=role_v or LesionRole.TARGET.value, status=status_v or MeasurementStatus.MEASURED.value,
                                endpoints_json=eps, source_kind=kind_v or SourceKind.MANUAL_LINE.value,
                                algorithm_name=algorithm_name, algorithm_version=algorithm_version,
                                parameters_json=params, extra_json=extra_text)
            refuse_impossible_axes(new_vals, f"read {read_uid}, time point {timepoint_id!r}, lesion {named!r}")
            if m is None:
                m = MeasurementRow(measurement_uid=new_uid(), read_fk=r.id, lesion_fk=les.id, timepoint_fk=tp.id,
                                   updated_at=utcnow_iso(), **new_vals)
                s.add(m)
            else:
                changed = False
                for k, v in new_vals.items():
                    if getattr(m, k) != v:
                        setattr(m, k, v)
                        changed = True
                if changed:
                    m.updated_at = utcnow_iso()
            s.flush()
            return _measurement_record(s, m, r, self.user_id)

        out = self.store._write(self.user_id, fn)
        return replace(out, notes=tuple(notes)) if notes else out

    def delete_measurement(self, read_uid: str, timepoint_id: str, lesion: str) -> bool:
        """Remove this reader's record of ``lesion`` at ``timepoint_id`` from a draft read."""
        def fn(s: Session) -> bool:
            r, me = self._own_read(s, read_uid, draft=True)
            p = _row(s, PatientRow, r.patient_fk)
            tp = Store._timepoint(s, p, timepoint_id)
            les = self._visible_lesion(s, p, me, lesion)
            m = s.scalar(select(MeasurementRow).where(
                MeasurementRow.read_fk == r.id, MeasurementRow.lesion_fk == les.id, MeasurementRow.timepoint_fk == tp.id))
            if m is None:
                return False
            s.delete(m)
            return True

        return self.store._write(self.user_id, fn)

    def measurements(self, read_uid: str, timepoint_id: str | None = None) -> list[MeasurementRecord]:
        """This reader's measurements in one of their reads."""
        def fn(s: Session) -> list[MeasurementRecord]:
            r, _ = self._own_read(s, read_uid)
            return _measurements(s, r, self.user_id, timepoint_id)

        return self.store._read(fn)

    def observation_extras(self, read_uid: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(tracking UID, time point id) -> the observation fields one of this reader's reads
        records beyond the measurement columns (``viable_status``, ``enhancing``, a note,
        ``typical_hcc_pattern``, ``cytology_malignant``...), read without assembling the read
        document: a draft need not be a valid document yet (napari's panel reads them)."""
        def fn(s: Session) -> dict[tuple[str, str], dict[str, Any]]:
            r, _ = self._own_read(s, read_uid)
            out: dict[tuple[str, str], dict[str, Any]] = {}
            for m in s.scalars(select(MeasurementRow).where(MeasurementRow.read_fk == r.id)):
                ex = json.loads(m.extra_json) if m.extra_json else {}
                ex.update({k: getattr(m, k) for k in ("typical_hcc_pattern", "cytology_malignant")
                           if getattr(m, k) is not None})
                if ex:
                    les, tp = _row(s, LesionRow, m.lesion_fk), _row(s, TimePointRow, m.timepoint_fk)
                    out[(les.tracking_uid, tp.timepoint_id)] = ex
            return out

        return self.store._read(fn)

    def read_facts(self, read_uid: str) -> dict[str, list[dict[str, Any]]]:
        """``{"treatments": [...], "markers": [...]}``: the treatment events and tumour-marker
        draws one of this reader's reads carries, as read-document JSON entries (what
        :meth:`export_document` puts in the document: the read's own entries and the patient's
        shared ones; for a locked read those it was locked with), read without assembling the
        document - a draft need not be a valid document yet (napari's panel reads them, so its
        RECICL window and clinical CR see the treatments and markers the lock will)."""
        def fn(s: Session) -> dict[str, list[dict[str, Any]]]:
            r, _ = self._own_read(s, read_uid)
            extra = json.loads(r.extra_json) if r.extra_json else {}
            ids = set(s.scalars(select(LesionRow.lesion_id).join(MeasurementRow, MeasurementRow.lesion_fk == LesionRow.id)
                                .where(MeasurementRow.read_fk == r.id)))
            treatments, markers = _read_facts(s, r, _row(s, PatientRow, r.patient_fk), extra, ids)
            return {"treatments": treatments, "markers": markers}

        return self.store._read(fn)

    def responses(self, read_uid: str) -> list[ResponseRecord]:
        """Responses stored when this reader locked one of their reads."""
        return self.store._read(lambda s: _response_records(s, self._own_read(s, read_uid)[0]))

    # -- documents and locking -----------------------------------------------------------------------
    def export_document(self, read_uid: str) -> Any:
        """This read as a :class:`~hcc_imaging.response.document.ReadDocument`."""
        return self.store._read(lambda s: _document(s, self._own_read(s, read_uid)[0], self.user_id))

    def import_document(self, document: Any, *, criteria: str | Sequence[str] | None = None, lock: bool = False,
                        assessor: Assessor | None = None) -> ReadInfo:
        """Import a read document (ReadDocument, dict, JSON text or path) as a new draft read.

        With ``lock=True`` the read is also locked (as :meth:`lock`, with ``assessor``) in the
        same transaction: when the lock fails (the read cannot be assessed) nothing is kept,
        so fixing the document and importing again leaves no stray draft.
        A document identical to this reader's latest locked read of the patient (same criteria,
        same content; see :mod:`._reimport`) imported with ``lock=True`` again changes nothing:
        the existing read is returned with ``unchanged=True`` and no adjudication is reopened.

        The document's ``reader_id`` must be this reader.  Patient, time points, treatments
        and markers are created when missing (shared); lesions are found by tracking UID or
        lesion id among those visible to this reader, else created private to the reader.
        Treatment events (kind, start and end dates) and dated marker values are patient-level
        facts shared by all readers: one the store already holds with another value (another
        end date, another AFP on that date) is refused, never overwritten.  The document's own
        treatment entries (day numbers, targeted ``lesion_ids``, notes) and marker draws stay
        with this read, invisible to other readers.  Everything happens in one transaction: a
        bad document leaves the store unchanged.
        """
        from ..response.document import ReadDocument

        doc = document if isinstance(document, ReadDocument) else ReadDocument.from_json(document)
        if doc.reader_id != self.user_id:
            doc_reader = shown_id(doc.reader_id, "reader id")
            how = (f"Import it with --reader {doc.reader_id} (or correct reader_id in the document)."
                   if doc_reader.startswith("'") else
                   "Correct reader_id in the document to the reader's pseudonymous code (the store holds no names).")
            raise BlindingError(
                f"the read document is by reader {doc_reader}, but this session is reader {self.user_id!r}; a "
                f"reader can import only their own reads. {how}"
            )
        crit = _norm_criteria(criteria if criteria is not None else doc.criteria)
        extra = read_level_extra(doc)

        def fn(s: Session) -> ReadInfo:
            me = self._me(s)
            from .store import check_pseudonym

            check_pseudonym(doc.patient_id, "patient id")
            p = s.scalar(select(PatientRow).where(PatientRow.patient_id == doc.patient_id))
            if p is None:
                refuse_case_variant(s, PatientRow.patient_id, doc.patient_id, "patient")
                p = PatientRow(patient_id=doc.patient_id)
                s.add(p)
                s.flush()
            elif lock:
                _refuse_unblinded_read(s, me, p)
                same = identical_locked_read(s, me.id, p.id, doc, crit, _norm_criteria,
                                             lambda s_, r_: _document(s_, r_, self.user_id))
                if same is not None:  # a re-run, not a revision: keep the store (and adjudications) as they are
                    return replace(_read_info(s, same), unchanged=True)
            tp_rows = []
            for t in doc.timepoints:
                check_pseudonym(t.id, "time point id")
                row = s.scalar(select(TimePointRow).where(TimePointRow.patient_fk == p.id, TimePointRow.timepoint_id == t.id))
                # The scan date is a shared fact; the day number counts from this reader's own day 0
                # (start_date) and stays with the read (extra["timepoint_days"]), never on the shared row.
                if row is None:
                    row = TimePointRow(patient_fk=p.id, timepoint_id=t.id, key=f"{doc.patient_id}/{t.id}", date=t.date)
                    s.add(row)
                else:
                    if row.date is not None and t.date is not None and row.date != t.date:
                        raise StoreError(f"time point {t.id!r} of patient {doc.patient_id!r} is dated {row.date} in the store "
                                         f"but {t.date} in the document; correct the document's date.")
                    if row.date is None and t.date is not None:
                        row.date = t.date
                tp_rows.append(row)
            s.flush()
            _refuse_unblinded_read(s, me, p)
            r = ReadRow(read_uid=new_uid(), reader_fk=me.id, patient_fk=p.id, status=ReadStatus.DRAFT.value,
                        criteria=",".join(crit), extra_json=dumps(extra))
            s.add(r)
            s.flush()
            for tp in tp_rows:
                s.add(ReadTimePointRow(read_fk=r.id, timepoint_fk=tp.id, key=f"{r.read_uid}/{tp.timepoint_id}"))
            lesion_rows: dict[str, LesionRow] = {}
            for t, tp in zip(doc.timepoints, tp_rows, strict=True):
                for obs in t.lesions:
                    les = lesion_rows.get(obs.lesion_id)
                    if les is None:
                        les = self._import_lesion(s, p, me, obs)
                        lesion_rows[obs.lesion_id] = les
                    cols, ex = observation_split(obs)
                    s.add(MeasurementRow(
                        measurement_uid=new_uid(), read_fk=r.id, lesion_fk=les.id, timepoint_fk=tp.id,
                        role=cols["role"], status=cols["status"],
                        **{k: cols[k] for k in MEASUREMENT_COLUMNS},
                        endpoints_json=dumps(cols["endpoints"]),
                        source_kind=SourceKind.IMPORTED.value, parameters_json="{}",
                        extra_json=dumps(ex) if ex else None, updated_at=utcnow_iso()))
            for e in doc.treatments:
                _import_treatment(s, p, e)
            for marker, value, date, _day in document_markers(doc):
                _import_marker(s, p, marker, value, date)
            s.flush()
            if lock:
                try:
                    _lock_read(s, r, assessor or _default_assessor, self.user_id)
                except (ReadDocumentError, CriteriaError) as err:
                    raise type(err)(f"{err} Nothing was imported (import and lock are one transaction): fix the document "
                                    "and import it again, or import it without lock to correct it in the store.") from err
            return _read_info(s, r)

        return self.store._write(self.user_id, fn)

    def _import_lesion(self, s: Session, p: PatientRow, me: ReaderRow, obs: Any) -> LesionRow:
        if obs.tracking_uid:
            row = s.scalar(select(LesionRow).where(LesionRow.tracking_uid == obs.tracking_uid))
            if row is not None:
                if row.patient_fk != p.id or row.owner_reader_fk not in (None, me.id):
                    # one message for another patient's and another reader's lesion (no confirmation)
                    raise StoreError(f"lesion {obs.lesion_id!r}: tracking UID {obs.tracking_uid} is not found among the "
                                     f"lesions of patient {p.patient_id!r} visible to reader {self.user_id!r} (your own "
                                     "and the shared ones) and is taken; correct the tracking_uid in the document, or "
                                     "drop it to create a new lesion.")
                return row
            mine = s.scalar(select(LesionRow).where(LesionRow.patient_fk == p.id, LesionRow.lesion_id == obs.lesion_id,
                                                    LesionRow.owner_reader_fk == me.id))
            if mine is not None:  # the id clash add_lesion refuses too: '--lesion L1' would pick one silently
                raise StoreError(
                    f"lesion {obs.lesion_id!r} of patient {p.patient_id!r}: the document gives tracking UID "
                    f"{obs.tracking_uid}, which the store does not know, but reader {self.user_id!r} already has a lesion "
                    f"{obs.lesion_id!r} (tracking UID {mine.tracking_uid}); a second lesion with that id would make the "
                    f"id ambiguous. Fix the document: give this lesion tracking UID {mine.tracking_uid} if it is the "
                    "same lesion, drop tracking_uid to use your lesion of that id, or give it another lesion id."
                )
        else:
            for owner in (me.id, None):
                row = s.scalar(select(LesionRow).where(
                    LesionRow.patient_fk == p.id, LesionRow.lesion_id == obs.lesion_id,
                    (LesionRow.owner_reader_fk == owner) if owner is not None else LesionRow.owner_reader_fk.is_(None)))
                if row is not None:
                    return row
        from .store import check_pseudonym

        check_pseudonym(obs.lesion_id, "lesion id")
        row = LesionRow(tracking_uid=obs.tracking_uid or new_uid(), patient_fk=p.id, lesion_id=obs.lesion_id,
                        organ=obs.organ, is_lymph_node=bool(obs.is_lymph_node), kind=obs.kind.value, owner_reader_fk=me.id)
        s.add(row)
        s.flush()
        return row

    def lock(self, read_uid: str, *, assessor: Assessor | None = None) -> ReadInfo:
        """Lock a draft read: validate it, compute and store its responses, make it final.

        Each criterion of the read is assessed with ``assessor`` (default
        :func:`hcc_imaging.response.assess`); the time-point responses, BOR and first-PD date
        are stored with the read, and so are the shared facts it was assessed with (treatments,
        marker draws, time-point dates and days), so its export never changes afterwards.
        Raises ReadDocumentError (read left a draft) when the read is not a valid read document.
        """
        run = assessor or _default_assessor

        def fn(s: Session) -> ReadInfo:
            r, _ = self._own_read(s, read_uid, draft=True)
            was_locked = s.scalar(select(AuditLogRow.seq).where(
                AuditLogRow.entity == ReadRow.__tablename__, AuditLogRow.action == "lock", AuditLogRow.entity_key == r.read_uid).limit(1))
            if was_locked is not None or s.scalar(select(ReadResponseRow.id).where(ReadResponseRow.read_fk == r.id).limit(1)):
                raise StoreError(
                    f"read {read_uid} was locked before (audit log row seq {was_locked}, or stored responses) but is a "
                    "draft now: it was unlocked outside hcc_imaging, and a locked read never changes. Run 'hcc-imaging "
                    "study audit verify', restore the store from a backup, and start a new read to revise it."
                )
            _lock_read(s, r, run, self.user_id)
            return _read_info(s, r)

        return self.store._write(self.user_id, fn)

    # -- tracking confirmations -------------------------------------------------------------------
    def confirm_tracking(
        self, patient_id: str, timepoint_id: str, links: Sequence[Any], *,
        organs: Mapping[str, str] | None = None, accept_flagged: bool = False,
    ) -> list[TrackingLinkInfo]:
        """Record this reader's confirmed (or corrected) tracking of a follow-up's lesions.

        ``links`` are :class:`~hcc_imaging.study.tracking.FollowupAssignment` objects (from
        :func:`~hcc_imaging.study.tracking.assign_tracking_uids`, possibly edited): each gives a
        follow-up label, the tracking UID it continues (or None for a new lesion), the relation
        and scores.  A new lesion gets a new private lesion with a new tracking UID, its organ
        from ``organs`` (follow-up label -> organ, as :func:`hcc_imaging.io.masks.load_lesion_map`
        returns them), else a node when the label's name says so, else the liver.

        Idempotent per follow-up label (:mod:`hcc_imaging.study.confirm`): confirming a label
        again updates its links (a changed link replaces the earlier one, audited) and reuses
        the lesion an earlier confirmation created for it; nothing is duplicated.

        Raises StoreError (nothing stored) when an assignment is flagged ``needs_review``,
        unless ``accept_flagged`` says the reader has reviewed them (what ``study track
        --confirm --accept-flagged`` passes); :func:`~hcc_imaging.study.tracking.correct_assignment`
        clears the flag of the assignment it corrects.
        """
        from .confirm import confirm_links, refuse_flagged

        if not accept_flagged:
            refuse_flagged(links, patient_id, timepoint_id)
        return self.store._write(self.user_id, lambda s: confirm_links(self, s, patient_id, timepoint_id, links, organs))

    def tracking_links(self, patient_id: str) -> list[TrackingLinkInfo]:
        """Shared tracking links and this reader's confirmations (not other readers')."""
        def fn(s: Session) -> list[TrackingLinkInfo]:
            me = self._me(s)
            p = Store._patient(s, patient_id)
            rows = s.scalars(select(TrackingLinkRow).join(LesionRow, LesionRow.id == TrackingLinkRow.lesion_fk).where(
                LesionRow.patient_fk == p.id,
                (TrackingLinkRow.owner_reader_fk.is_(None)) | (TrackingLinkRow.owner_reader_fk == me.id)).order_by(TrackingLinkRow.id))
            out = []
            for link in rows:
                les = _row(s, LesionRow, link.lesion_fk)
                tp = _row(s, TimePointRow, link.timepoint_fk)
                out.append(TrackingLinkInfo(link.link_uid, les.tracking_uid, tp.timepoint_id, link.followup_label,
                                            link.relation, link.dice, link.centroid_distance_mm, link.confirmed,
                                            self.user_id if link.owner_reader_fk == me.id else None))
            return out

        return self.store._read(fn)

def _lock_read(s: Session, r: ReadRow, run: Assessor, reader_id: str) -> None:
    """Assess draft read ``r`` under each of its criteria, store the responses and the shared
    facts it used, mark it locked and seal it - in the caller's transaction."""
    doc = _document(s, r, reader_id)
    _snapshot_shared(r, doc)
    tp_by_id = {t.timepoint_id: t for t in s.scalars(select(TimePointRow).where(TimePointRow.patient_fk == r.patient_fk))}
    for crit in _norm_criteria(r.criteria):
        assessment = run(doc, crit)
        for rec in responses_from_assessment(r.read_uid, crit, assessment, doc):
            tp = tp_by_id.get(rec.timepoint_id) if rec.timepoint_id else None
            if rec.timepoint_id is not None and tp is None:
                raise ReadDocumentError(f"the assessment of read {r.read_uid} names time point {rec.timepoint_id!r}, "
                                        "which the read does not have.")
            s.add(ReadResponseRow(
                key=f"{r.read_uid}/{crit}/{rec.timepoint_id or 'overall'}", read_fk=r.id, criteria=crit,
                timepoint_fk=tp.id if tp else None, category=rec.category, sum_value=rec.sum_value, sum_unit=rec.sum_unit,
                category_confirmed=rec.category_confirmed,
                pd_date=rec.pd_date, pd_day_offset=rec.pd_day_offset, pd_timepoint_id=rec.pd_timepoint_id))
    r.status = ReadStatus.LOCKED.value
    r.locked_at = utcnow_iso()
    s.flush()
    seal_read(s, r, reader_id)  # what was locked, into the hash chain (audit verify)

def _snapshot_shared(r: ReadRow, doc: Any) -> None:
    """Copy the shared facts a read is locked with into its ``extra_json`` (sealed with it).

    Treatments, marker draws and time points (date, day) are shared rows that later imports or
    the study administrator may add to; a locked read must keep exporting - and meaning - what
    it was assessed with.
    """
    js = doc.to_json()
    extra = json.loads(r.extra_json) if r.extra_json else {}
    extra[LOCK_SNAPSHOT] = {
        "timepoints": {t["id"]: {k: t[k] for k in ("date", "day") if k in t} for t in js["timepoints"]},
        "treatments": js.get("treatments", []),
        "markers": js.get("markers", []),
    }
    r.extra_json = dumps(extra)


def _import_treatment(s: Session, p: PatientRow, e: Any) -> None:
    """Record a document's dated treatment event as a shared fact (kind, start and end date).

    Created when the store lacks it (same kind, same start date); an end date the store lacks
    is filled in; an end date that differs from the stored one is refused.  Day numbers and
    targeted lesion ids are never written here (they belong to the read).  An undated event
    (days only) stays with the read.
    """
    if e.date is None:
        return
    row = s.scalar(select(TreatmentEventRow).where(TreatmentEventRow.patient_fk == p.id, TreatmentEventRow.kind == e.kind.value,
                                                   TreatmentEventRow.start_date == e.date))
    if row is None:
        if e.end_date is not None and e.end_date < e.date:
            raise StoreError(f"treatment {e.kind.value} of patient {p.patient_id!r} ends ({e.end_date}) before it starts "
                             f"({e.date}); correct the document's dates.")
        s.add(TreatmentEventRow(event_uid=new_uid(), patient_fk=p.id, kind=e.kind.value, start_date=e.date,
                                end_date=e.end_date, lesion_ids_json="[]"))
        return
    if e.end_date is not None and row.end_date is not None and row.end_date != e.end_date:
        raise StoreError(
            f"treatment {e.kind.value} of patient {p.patient_id!r} started {e.date} ends {row.end_date} in the store but "
            f"{e.end_date} in the document; treatment events are shared by all readers of the patient and an import never "
            "overwrites them. Correct the document's end_date (or ask the study administrator to correct the stored one)."
        )
    if row.end_date is None and e.end_date is not None:
        row.end_date = e.end_date


def _import_marker(s: Session, p: PatientRow, marker: str, value: float, date: dt.date | None) -> None:
    """Record a document's dated tumour-marker value as a shared fact; a different stored value
    on that date is refused (never overwritten).  An undated value (day only) stays with the read."""
    from .constants import MARKER_UNITS

    if date is None:
        return
    m = _marker_kind(marker, p.patient_id).value
    row = s.scalar(select(TumourMarkerRow).where(TumourMarkerRow.patient_fk == p.id, TumourMarkerRow.marker == m,
                                                 TumourMarkerRow.date == date))
    if row is None:
        s.add(TumourMarkerRow(marker_uid=new_uid(), patient_fk=p.id, marker=m, value=float(value), unit=MARKER_UNITS[m],
                              date=date))
    elif row.value != float(value):
        raise StoreError(
            f"tumour marker {m} of patient {p.patient_id!r} on {date} is {row.value:g} {row.unit} in the store but "
            f"{float(value):g} in the document; marker values are shared by all readers of the patient and an import never "
            "overwrites them. Correct the document's value (or ask the study administrator to correct the stored one)."
        )


def _refuse_unblinded_read(s: Session, me: ReaderRow, p: PatientRow) -> None:
    """BlindingError when ``me`` has seen other readers' reads of ``p`` as adjudicator (an access
    record in the audit log, or a decision): such a read would not be blinded."""
    decided = s.scalar(select(AdjudicationRow.id).where(AdjudicationRow.adjudicator_fk == me.id,
                                                        AdjudicationRow.patient_fk == p.id).limit(1))
    if decided is not None or p.patient_id in viewed_patients(s, me.reader_id):
        raise BlindingError(
            f"{me.reader_id!r} has seen other readers' reads of patient {p.patient_id!r} as adjudicator (exported or "
            "listed them, their discordances or decisions, or adjudicated them; see 'study audit log'), so a read of "
            f"{p.patient_id!r} by {me.reader_id!r} would not be blinded. Another reader must read this patient."
        )



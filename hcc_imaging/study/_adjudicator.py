"""The adjudicator's session (:class:`AdjudicatorSession`, exported by :mod:`.reads`; split from
``reads.py`` on 2026-12-07 with the same code): locked reads of every reader, never drafts;
discordances per criterion; one decision per discordance; inter-reader agreement.  An adjudicator
who has a read of a patient cannot adjudicate it, and every read shown is an access record in the
audit log (:func:`.audit.log_views`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import BlindingError, StoreError
from ._read_rows import (
    _Base,
    _document,
    _measurements,
    _norm_criteria,
    _one_criterion,
    _read_info,
    _response_records,
    _row,
)
from .adjudication import decision_for, decoded_read_uids, encode_read_uids
from .audit import log_views
from .model import (
    AdjudicationRow,
    DiscordanceKind,
    PatientRow,
    ReaderRole,
    ReaderRow,
    ReadResponseRow,
    ReadRow,
    ReadStatus,
)
from .records import AdjudicationInfo, MeasurementRecord, ReadInfo, ResponseRecord
from .store import Store, new_uid

__all__ = ["AdjudicatorSession", "Discordance"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Discordance:
    """Two or more locked reads of one patient disagree on ``kind`` under ``criteria``.

    ``values`` holds ``(read_uid, reader_id, value)``; value is the BOR category, or the first
    PD as ``"<timepoint_id> <date> (day <n> of this read)"`` (``"none"`` without PD).
    """

    patient_id: str
    criteria: str
    kind: DiscordanceKind
    values: tuple[tuple[str, str, str], ...]
    adjudication: AdjudicationInfo | None = None

class AdjudicatorSession(_Base):
    """An adjudicator's view: locked reads of all readers, discordances, decisions, agreement.

    Raises
    ------
    BlindingError
        ``adjudicator_id`` is not registered with role ``adjudicator``.
    """

    def __init__(self, store: Store, adjudicator_id: str):
        super().__init__(store, adjudicator_id)

        def check(s: Session) -> None:
            me = Store._reader(s, adjudicator_id)
            if me.role != ReaderRole.ADJUDICATOR.value:
                raise BlindingError(
                    f"{adjudicator_id!r} has role {me.role!r}, not 'adjudicator'; only adjudicators may see other "
                    "readers' locked reads. Register an adjudicator with Store.add_reader(id, role='adjudicator')."
                )

        store._read(check)

    def __repr__(self) -> str:
        return f"AdjudicatorSession(adjudicator_id={self.user_id!r})"

    def _locked(self, s: Session, read_uid: str) -> ReadRow:
        r = s.scalar(select(ReadRow).where(ReadRow.read_uid == read_uid))
        if r is None:
            raise StoreError(f"unknown read {read_uid!r}; list locked reads with AdjudicatorSession.locked_reads().")
        if r.status != ReadStatus.LOCKED.value:
            raise BlindingError(f"read {read_uid!r} is still a draft; adjudicators see reads only once the reader has "
                                "locked them.")
        self._not_conflicted(s, r.patient_fk)
        return r

    def _not_conflicted(self, s: Session, patient_fk: int) -> None:
        me = self._me(s)
        if s.scalar(select(ReadRow.id).where(ReadRow.patient_fk == patient_fk, ReadRow.reader_fk == me.id)) is not None:
            raise BlindingError(f"adjudicator {self.user_id!r} has a read of this patient and cannot adjudicate it; "
                                "use another adjudicator.")

    def _viewed(self, s: Session, via: str, reads: Sequence[ReadRow]) -> None:
        """Access record: this adjudicator was shown ``reads`` by ``via`` (one audit row per patient)."""
        by_patient: dict[str, list[str]] = {}
        for r in reads:
            by_patient.setdefault(_row(s, PatientRow, r.patient_fk).patient_id, []).append(r.read_uid)
        log_views(s, self.user_id, via, by_patient)

    def _conflicted(self, s: Session) -> set[int]:
        """Patients (row ids) this adjudicator has a read of: left out of every listing."""
        return set(s.scalars(select(ReadRow.patient_fk).where(ReadRow.reader_fk == self._me(s).id)))

    def locked_reads(self, patient_id: str | None = None) -> list[ReadInfo]:
        """Locked reads of every reader (optionally of one patient), except of patients this
        adjudicator has a read of (BlindingError when ``patient_id`` is one)."""
        def fn(s: Session) -> list[ReadInfo]:
            q = select(ReadRow).where(ReadRow.status == ReadStatus.LOCKED.value)
            if patient_id is not None:
                p = Store._patient(s, patient_id)
                self._not_conflicted(s, p.id)
                q = q.where(ReadRow.patient_fk == p.id)
            conflicted = self._conflicted(s)
            return [_read_info(s, r) for r in s.scalars(q.order_by(ReadRow.id)) if r.patient_fk not in conflicted]

        return self.store._read(fn)

    def _shown(self, read_uid: str, via: str, what: Callable[[Session, ReadRow], _T]) -> _T:
        """``what(session, read)`` of locked read ``read_uid`` (BlindingError for a draft), logged as an
        access by ``via``, in one transaction."""
        def fn(s: Session) -> _T:
            r = self._locked(s, read_uid)
            out = what(s, r)
            self._viewed(s, via, [r])
            return out

        return self.store._write(self.user_id, fn)

    def measurements(self, read_uid: str) -> list[MeasurementRecord]:
        """Measurements of a locked read (BlindingError for a draft); logged as an access."""
        return self._shown(read_uid, "measurements",
                           lambda s, r: _measurements(s, r, _row(s, ReaderRow, r.reader_fk).reader_id))

    def responses(self, read_uid: str) -> list[ResponseRecord]:
        """Stored responses of a locked read; logged as an access."""
        return self._shown(read_uid, "responses", _response_records)

    def export_document(self, read_uid: str) -> Any:
        """A locked read as a ReadDocument; logged as an access."""
        return self._shown(read_uid, "export_document",
                           lambda s, r: _document(s, r, _row(s, ReaderRow, r.reader_fk).reader_id))

    def _latest_locked(self, s: Session, patient: PatientRow, criteria: str) -> list[ReadRow]:
        rows = s.scalars(select(ReadRow).where(ReadRow.patient_fk == patient.id, ReadRow.status == ReadStatus.LOCKED.value)
                         .order_by(ReadRow.locked_at, ReadRow.id))
        latest: dict[int, ReadRow] = {}
        for r in rows:
            if criteria in _norm_criteria(r.criteria):
                latest[r.reader_fk] = r
        return list(latest.values())

    def discordances(self, patient_id: str, criteria: str, *, confirmed: bool = False) -> list[Discordance]:
        """Discordances between the latest locked read of each reader of ``patient_id``.

        BOR discordance: the BOR categories differ (with confirmation when ``confirmed``).
        PD-date discordance: the first PD is at different scans (compared by the time point's
        date, else its id: day numbers are per read) - including one read with PD and one
        without.  Each comes with the latest adjudication recorded for these reads (and,
        for BOR, this ``confirmed`` mode): a decision between earlier reads of a reader does
        not decide a discordance after that reader locked a revised read (.adjudication).
        """
        criteria = _one_criterion(criteria)

        def fn(s: Session) -> list[Discordance]:
            p = Store._patient(s, patient_id)
            self._not_conflicted(s, p.id)
            reads = self._latest_locked(s, p, criteria)
            if len(reads) < 2:
                return []
            self._viewed(s, "discordances", reads)
            bor_vals, pd_vals, pd_keys, other_bors = [], [], [], set()
            for r in reads:
                reader = _row(s, ReaderRow, r.reader_fk)
                overall = s.scalar(select(ReadResponseRow).where(ReadResponseRow.read_fk == r.id, ReadResponseRow.criteria == criteria,
                                                                  ReadResponseRow.timepoint_fk.is_(None)))
                if overall is None:
                    raise StoreError(f"locked read {r.read_uid} has no stored response under {criteria!r}; it was locked "
                                     "without that criterion.")
                bor = overall.category_confirmed if confirmed and overall.category_confirmed else overall.category
                other_bors.add(overall.category if confirmed else (overall.category_confirmed or overall.category))
                bor_vals.append((r.read_uid, reader.reader_id, bor))
                if overall.pd_day_offset is None:
                    pd = "none"
                else:
                    when = overall.pd_date.isoformat() if overall.pd_date else "no date"
                    pd = (f"{overall.pd_timepoint_id or '-'} {when} (day {overall.pd_day_offset} "
                          "of this read)")
                pd_vals.append((r.read_uid, reader.reader_id, pd))
                pd_keys.append(_first_pd_key(overall))
            out = []
            for kind, vals, differ in ((DiscordanceKind.BOR, bor_vals, len({v[2] for v in bor_vals}) > 1),
                                       (DiscordanceKind.PD_DATE, pd_vals, len(set(pd_keys)) > 1)):
                if differ:
                    adj = decision_for(s, p.id, criteria, kind.value, (r.read_uid for r in reads),
                                       confirmed=confirmed, other_mode_differs=len(other_bors) > 1,
                                       norm=_norm_criteria)
                    out.append(Discordance(patient_id, criteria, kind, tuple(vals), _adj_info(s, adj) if adj else None))
            return out

        return self.store._write(self.user_id, fn)

    def adjudicate(self, patient_id: str, criteria: str, discordance: DiscordanceKind | str, chosen_read_uid: str,
                   reason: str, *, confirmed: bool = False) -> AdjudicationInfo:
        """Pick the read that stands for one discordance, with the reason (required)."""
        criteria = _one_criterion(criteria)
        try:
            kind = DiscordanceKind(str(discordance))
        except ValueError:
            raise StoreError(f"unknown discordance {discordance!r}; use one of {[k.value for k in DiscordanceKind]}.") from None
        if not isinstance(reason, str) or len(reason.strip()) < 3:
            raise StoreError(f"adjudication of patient {patient_id!r} ({criteria}, {kind.value}) needs a reason of at "
                             "least 3 characters; pass reason='...' saying why this read was chosen (pseudonymous ids only).")
        open_ = [d for d in self.discordances(patient_id, criteria, confirmed=confirmed) if d.kind is kind]
        if not open_:
            raise StoreError(f"patient {patient_id!r} has no {kind.value} discordance under {criteria!r}; nothing to "
                             "adjudicate (see AdjudicatorSession.discordances).")
        if chosen_read_uid not in {v[0] for v in open_[0].values}:
            raise StoreError(f"read {chosen_read_uid!r} is not one of the discordant reads "
                             f"{[v[0] for v in open_[0].values]}; choose one of them.")

        def fn(s: Session) -> AdjudicationInfo:
            me = self._me(s)
            p = Store._patient(s, patient_id)
            r = self._locked(s, chosen_read_uid)
            row = AdjudicationRow(adjudication_uid=new_uid(), patient_fk=p.id, adjudicator_fk=me.id, criteria=criteria,
                                  discordance=kind.value, chosen_read_fk=r.id, reason=reason.strip(),
                                  read_uids=encode_read_uids(v[0] for v in open_[0].values), confirmed=confirmed)
            s.add(row)
            s.flush()
            return _adj_info(s, row)

        return self.store._write(self.user_id, fn)

    def adjudications(self, patient_id: str | None = None) -> list[AdjudicationInfo]:
        """Recorded decisions (optionally of one patient), except of patients this adjudicator
        has a read of (BlindingError when ``patient_id`` is one): a decision names the read
        chosen and why."""
        def fn(s: Session) -> list[AdjudicationInfo]:
            q = select(AdjudicationRow)
            if patient_id is not None:
                p = Store._patient(s, patient_id)
                self._not_conflicted(s, p.id)
                q = q.where(AdjudicationRow.patient_fk == p.id)
            conflicted = self._conflicted(s)
            rows = [a for a in s.scalars(q.order_by(AdjudicationRow.id)) if a.patient_fk not in conflicted]
            self._viewed(s, "adjudications", [_row(s, ReadRow, a.chosen_read_fk) for a in rows])
            return [_adj_info(s, a) for a in rows]

        return self.store._write(self.user_id, fn)

    def paired_responses(self, criteria: str, reader_a: str, reader_b: str, *, confirmed: bool = False) -> Any:
        """Paired locked responses of two readers under ``criteria`` (for agreement).

        Time-point pairs exclude the baseline (no response); sum pairs include it.
        """
        from .agreement import PairedResponses
        from .documents import BASELINE_CATEGORY

        criteria = _one_criterion(criteria)

        def fn(s: Session) -> PairedResponses:
            ra = Store._reader(s, reader_a)
            rb = Store._reader(s, reader_b)
            tp_pairs: list[tuple[str, str, str, str]] = []
            bor_pairs: list[tuple[str, str, str]] = []
            sum_pairs: list[tuple[str, str, float, float]] = []
            unit = None
            for p in s.scalars(select(PatientRow).order_by(PatientRow.patient_id)):
                reads = {r.reader_fk: r for r in self._latest_locked(s, p, criteria)}
                if ra.id not in reads or rb.id not in reads:
                    continue
                self._not_conflicted(s, p.id)
                self._viewed(s, "paired_responses", [reads[ra.id], reads[rb.id]])
                resp = {}
                for who in (ra.id, rb.id):
                    resp[who] = {rec.timepoint_id: rec for rec in _response_records(s, reads[who]) if rec.criteria == criteria}
                oa, ob = resp[ra.id][None], resp[rb.id][None]
                if confirmed:
                    bor_pairs.append((p.patient_id, oa.category_confirmed or oa.category, ob.category_confirmed or ob.category))
                else:
                    bor_pairs.append((p.patient_id, oa.category, ob.category))
                for tp_id, rec_a in resp[ra.id].items():
                    rec_b = resp[rb.id].get(tp_id)
                    if tp_id is None or rec_b is None:
                        continue
                    if BASELINE_CATEGORY not in (rec_a.category, rec_b.category):
                        tp_pairs.append((p.patient_id, tp_id, rec_a.category, rec_b.category))
                    if rec_a.sum_value is not None and rec_b.sum_value is not None:
                        sum_pairs.append((p.patient_id, tp_id, rec_a.sum_value, rec_b.sum_value))
                        unit = rec_a.sum_unit
            return PairedResponses(criteria, reader_a, reader_b, tuple(tp_pairs), tuple(bor_pairs), tuple(sum_pairs),
                                   unit or "mm")

        return self.store._write(self.user_id, fn)

    def agreement(self, criteria: str, reader_a: str, reader_b: str, *, confirmed: bool = False) -> Any:
        """Inter-reader agreement report (kappa, ICC(2,1), Bland-Altman) under ``criteria``."""
        from .agreement import agreement_report

        return agreement_report(self.paired_responses(criteria, reader_a, reader_b, confirmed=confirmed))


def _first_pd_key(overall: ReadResponseRow) -> tuple[str, str] | None:
    """What two reads' first PD is compared by: the scan, not the day number.  Day numbers are
    per read (each counts from its own day 0), so equal days can be different scans and one scan
    can have different days; the date of a time point is shared, and so is its id."""
    if overall.pd_day_offset is None and overall.pd_date is None:
        return None
    if overall.pd_date is not None:
        return ("date", overall.pd_date.isoformat())
    if overall.pd_timepoint_id is not None:
        return ("timepoint", overall.pd_timepoint_id)
    return ("day", str(overall.pd_day_offset))  # an undated PD of no known scan: only its day


def _adj_info(s: Session, a: AdjudicationRow) -> AdjudicationInfo:
    p = _row(s, PatientRow, a.patient_fk)
    who = _row(s, ReaderRow, a.adjudicator_fk)
    r = _row(s, ReadRow, a.chosen_read_fk)
    return AdjudicationInfo(a.adjudication_uid, p.patient_id, who.reader_id, a.criteria, a.discordance, r.read_uid,
                            a.reason, a.created_at, decoded_read_uids(a), a.confirmed)

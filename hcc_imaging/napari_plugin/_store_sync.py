"""The read as the store and ``assess`` see it (:class:`StoreSyncMixin`, a base of
:class:`._controller.ReadSession`): the session's changes written through to a
:class:`hcc_imaging.study.Store` (a blinded reader's own read there), and the read document
(DESIGN section 4) the session's state makes, which ``hcc-imaging assess`` and the response panel
read."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ._serial import serialised
from ._sources import store_provenance

if TYPE_CHECKING:
    from ._controller import Lesion, Observation, TimePointImages

__all__ = ["DEFAULT_INTERVAL_DAYS", "SESSION_OWNED", "StoreSyncMixin"]

log = logging.getLogger(__name__)

#: Day offset given to time point n (n * this) when its images carry no date: the usual
#: 8-week imaging interval of HCC trials (only orders time points; BOR confirmation needs real dates).
DEFAULT_INTERVAL_DAYS = 56

#: A lesion observation's fields the session owns (it measures, or they are the lesion's: the
#: store sync writes them as they are here); the others recorded in the store's draft read
#: (``viable_status``, ``enhancing``, ``typical_hcc_pattern``, a note...) join the read document.
SESSION_OWNED = frozenset({
    "lesion_id", "tracking_uid", "role", "organ", "is_lymph_node", "kind", "status", "longest_diameter_mm",
    "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm", "volume_mm3", "viable_volume_mm3",
    "necrosis_fraction", "endpoints", "source"})


class StoreSyncMixin:
    """Store sync and the read document for :class:`._controller.ReadSession`, which provides the
    state these methods read (``patient_id``, ``reader_id``, ``criteria``, ``images``,
    ``timepoint_ids``, ``lesions``, ``observations``, the change sets ``_dirty`` / ``_deleted`` /
    ``_lesion_dirty``, ``store_read_uid``, ``store_pending``, its lock)."""

    patient_id: str
    reader_id: str
    criteria: tuple[str, ...]
    images: dict[str, TimePointImages]
    lesions: dict[str, Lesion]
    observations: dict[tuple[str, str], Observation]
    _dirty: set[tuple[str, str]]
    _deleted: set[tuple[str, str]]
    _lesion_dirty: set[str]
    store_read_uid: str | None
    #: (lesion, time point) -> why the study store refused its record (an axis longer than its
    #: bound: a long line dragged shorter than the short one).  It is in the autosave, stays
    #: dirty and is written by the first sync after the reader corrects it; the store keeps the
    #: record's previous values meanwhile, so :meth:`refuse_pending_lock` refuses the lock.
    store_pending: dict[tuple[str, str], str]
    _store: Any
    _reader_session: Any
    timepoint_ids: list[str]  # (a property of ReadSession's)
    _tp_identity: Any  # (ReadSession's: a time point's date, day_offset, study UID)

    def attach_store(self, store: Any) -> None:
        """Write every change through to a :class:`hcc_imaging.study.Store` (blinded reader session).

        The reader is registered when new; the session only ever sees this reader's reads.
        """
        from ..study import ReaderSession

        if self.reader_id not in {r.reader_id for r in store.readers()}:
            store.add_reader(self.reader_id)
        store.add_patient(self.patient_id, exist_ok=True)
        self._store = store
        self._reader_session = ReaderSession(store, self.reader_id)
        if self.store_read_uid is None:
            drafts = [r for r in self._reader_session.reads(self.patient_id) if str(r.status) == "draft"]
            if drafts:
                self.store_read_uid = drafts[-1].read_uid

    def _ensure_store_read(self) -> str:
        import datetime as dt

        rs, store = self._reader_session, self._store
        tps = self.timepoint_ids
        for n, tpid in enumerate(tps):
            known = self._tp_identity(tpid)  # (its images', else what the saved read says)
            date = dt.date.fromisoformat(known["date"]) if known["date"] else None
            day = known["day_offset"] if known["day_offset"] is not None else (None if date else n * DEFAULT_INTERVAL_DAYS)
            store.add_timepoint(self.patient_id, tpid, date=date, day_offset=day, exist_ok=True)
        if self.store_read_uid is None:
            self.store_read_uid = rs.start_read(self.patient_id, tps, list(self.criteria)).read_uid
        else:
            have = set(rs.read(self.store_read_uid).timepoint_ids)
            for tpid in tps:
                if tpid not in have:
                    rs.add_timepoint_to_read(self.store_read_uid, tpid)
        return self.store_read_uid

    @serialised
    def sync_store(self) -> None:
        """Write the changed measurements to the store (one small audited transaction each)."""
        rs = self._reader_session
        if rs is None or not (self._dirty or self._deleted or self._lesion_dirty):
            return
        if not self.timepoint_ids:
            return
        read_uid = self._ensure_store_read()
        stored = {les.tracking_uid: les for les in rs.lesions(self.patient_id)}
        known = set(stored)
        # lesion attributes edited after the lesion reached the store (organ, node flag): the
        # store's lesion record follows the session (also after a crash between the two saves)
        for les in self.lesions.values():
            info = stored.get(les.tracking_uid)
            if info is not None and (info.organ != les.organ or bool(info.is_lymph_node) != bool(les.is_lymph_node)):
                rs.update_lesion(self.patient_id, les.tracking_uid, organ=les.organ, is_lymph_node=les.is_lymph_node)
        self._lesion_dirty.clear()
        from ..study import RecordRefusedError

        refused: dict[tuple[str, str], str] = {}
        for lid, tpid in sorted(self._dirty):
            les = self.lesions.get(lid)
            obs = self.observations.get((lid, tpid))
            if les is None or obs is None:
                continue
            if les.tracking_uid not in known:
                rs.add_lesion(self.patient_id, les.lesion_id, organ=les.organ, is_lymph_node=les.is_lymph_node,
                              kind=les.kind, tracking_uid=les.tracking_uid)
                known.add(les.tracking_uid)
            try:
                self._record(rs, read_uid, tpid, les, obs)
            except RecordRefusedError as err:  # its values, not the store: the others are still written
                refused[(lid, tpid)] = (f"lesion {lid} at {tpid}: not written to the study store (kept in the "
                                        "autosave, written as soon as it is corrected; the read cannot be locked "
                                        f"until then): {err}")
        for lid, tpid in sorted(self._deleted):
            les_uid = next((les.tracking_uid for les in rs.lesions(self.patient_id) if les.lesion_id == lid), None)
            if les_uid is not None:
                rs.delete_measurement(read_uid, tpid, les_uid)
        self._dirty.clear()
        self._dirty.update(refused)  # retried by every sync until the store takes them
        self._deleted.clear()
        for key, why in refused.items():
            if self.store_pending.get(key) != why:  # said once per change, not at every autosave
                log.warning("hcc-imaging read: %s", why)
        self.store_pending = refused

    def _record(self, rs: Any, read_uid: str, tpid: str, les: Lesion, obs: Observation) -> None:
        """Write one observation to the store with its mask's provenance (an algorithm's name and
        version, an imported mask, else the reader's line).

        The session owns what it measures - role, status, sizes, volumes, necrosis fraction,
        lines, provenance - and writes them as they are here (a value cleared here is cleared
        there); the record keeps what the reader recorded in the store outside the session
        (``viable_status``, ``enhancing``, notes, ``typical_hcc_pattern``...: ``keep_other_fields``).
        A viable size changed here drops a stale recorded ``viable_status``; the store's note
        saying so is logged (a warning).  Until 2026-12-06 every write replaced the whole record
        and dropped those."""
        m = rs.record_measurement(
            read_uid, tpid, les.tracking_uid,
            role=les.role, status=obs.status,
            longest_diameter_mm=obs.longest_diameter_mm, short_axis_mm=obs.short_axis_mm,
            viable_diameter_mm=obs.viable_diameter_mm, viable_short_axis_mm=obs.viable_short_axis_mm,
            volume_mm3=obs.volume_mm3, viable_volume_mm3=obs.viable_volume_mm3,
            necrosis_fraction=obs.necrosis_fraction,
            endpoints_lps={ax: [list(ln.start_lps), list(ln.end_lps)] for ax, ln in obs.lines.items()} or None,
            keep_other_fields=True, **store_provenance(obs.source),
        )
        for note in m.notes:
            log.warning("hcc-imaging read: %s", note)

    def refuse_pending_lock(self) -> None:
        """Raise :class:`StoreError` (the read is not locked) while a record is pending
        (:attr:`store_pending`): the store still holds its previous values, which a lock would
        assess."""
        if self.store_pending:
            raise StoreError(
                f"read of patient {self.patient_id!r} by reader {self.reader_id!r} NOT locked: "
                f"{len(self.store_pending)} measurement(s) the study store refused. "
                + " ".join(self.store_pending[k] for k in sorted(self.store_pending))
            )

    @serialised
    def read_document(self) -> dict[str, Any]:
        """The read document (DESIGN section 4) as a dict: what ``hcc-imaging assess`` reads."""
        tps = []
        # dates only when the first time point has one (the days of the others count from it): a
        # read resumed with only a follow-up's images had a dated follow-up after an undated baseline
        first = self.timepoint_ids[0] if self.timepoint_ids else None
        use_dates = first is not None and bool(self._tp_identity(first)["date"])
        recorded = self._recorded_elsewhere()
        for i, tpid in enumerate(self.timepoint_ids):
            lesions = []
            for les in self.lesions.values():
                obs = self.observations.get((les.lesion_id, tpid))
                if obs is None:
                    continue
                entry: dict[str, Any] = {
                    "lesion_id": les.lesion_id,
                    "tracking_uid": les.tracking_uid,
                    "role": les.role,
                    "organ": les.organ,
                    "is_lymph_node": les.is_lymph_node,
                    "status": obs.status,
                }
                if les.kind:
                    entry["kind"] = les.kind
                for k in (
                    "longest_diameter_mm",
                    "short_axis_mm",
                    "viable_diameter_mm",
                    "viable_short_axis_mm",
                    "volume_mm3",
                    "viable_volume_mm3",
                    "necrosis_fraction",
                ):
                    val = getattr(obs, k)
                    if val is not None:
                        entry[k] = val
                if obs.source:
                    entry["source"] = obs.source
                if obs.lines:
                    entry["endpoints"] = {ax: [list(ln.start_lps), list(ln.end_lps)] for ax, ln in obs.lines.items()}
                for k, v in recorded.get((les.tracking_uid, tpid), {}).items():
                    entry.setdefault(k, v)
                lesions.append(entry)
            known = self._tp_identity(tpid)  # (its images', else what the saved read says)
            day = known["day_offset"]
            item: dict[str, Any] = {"id": tpid, "lesions": lesions}
            if use_dates and known["date"]:
                item["date"] = known["date"]
            else:
                item["day"] = day if day is not None else i * DEFAULT_INTERVAL_DAYS
            tps.append(item)
        doc: dict[str, Any] = {
            "patient_id": self.patient_id,
            "reader_id": self.reader_id,
            "criteria": list(self.criteria),
            "timepoints": tps,
        }
        doc.update(self._read_facts(dated=use_dates))
        return doc

    def _from_draft(self, method: str) -> dict[Any, Any]:
        """``ReaderSession.<method>(store_read_uid)`` of the store's draft read; empty without a
        store or a draft read, or when the read is not this reader's any more (said where it is
        written)."""
        rs = self._reader_session
        if rs is None or self.store_read_uid is None:
            return {}
        try:
            return dict(getattr(rs, method)(self.store_read_uid))
        except StoreError:
            return {}

    def _read_facts(self, *, dated: bool) -> dict[str, list[dict[str, Any]]]:
        """The store's draft read's treatments and tumour-marker draws (``study treatment`` /
        ``study marker``, an imported read's own entries), so the panel's RECICL evaluation window
        and clinical CR are the lock's; empty without a store or a draft read.  In a document
        without dates (its baseline undated) an entry dated but without a day has no place and is
        left out (the lock's document has the same dates and places it)."""
        facts = self._from_draft("read_facts")
        out = {k: [e for e in v if dated or e.get("day") is not None] for k, v in facts.items()}
        return {k: v for k, v in out.items() if v}

    def _recorded_elsewhere(self) -> dict[tuple[str | None, str], dict[str, Any]]:
        """What the store's draft read holds of each lesion and time point beyond what the session
        measures (``viable_status``, ``enhancing``, ``typical_hcc_pattern``, a note...: recorded by
        ``study read record`` or an imported read, kept by the sync's ``keep_other_fields``), so
        the panel assesses what the lock will; empty without a store or a draft read."""
        recorded = self._from_draft("observation_extras")
        out: dict[tuple[str | None, str], dict[str, Any]] = {}
        for key, fields in recorded.items():
            extra = {k: v for k, v in fields.items() if k not in SESSION_OWNED}
            if extra:
                out[key] = extra
        return out

    @serialised
    def assess(self, criteria: Iterable[str] | None = None) -> Any:
        """The core's :class:`~hcc_imaging.response.engine.Assessment` of this read: per criterion
        time-point responses, sums vs baseline and nadir, BOR; burden scores per time point."""
        from . import _core

        return _core.assess(self.read_document(), tuple(criteria or self.criteria))

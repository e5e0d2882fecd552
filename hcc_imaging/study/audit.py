"""Append-only, hash-chained audit log of the study store.

Every create, update, lock and delete of a store row is written to ``audit_log`` **in the same
database transaction** as the change (an SQLAlchemy ``after_flush`` hook on the store's
sessions), so a change and its audit row are committed or rolled back together.

Row ``n`` holds: ``seq`` (1, 2, 3 ... without gaps), ``ts`` (UTC ISO 8601), ``actor`` (reader id
or ``system:...``), ``action`` (create | update | lock | delete | migrate, and seal | view, which
record a locked read's content digest and an adjudicator's access to a patient's reads), ``entity`` (table),
``entity_key`` (the row's public id: pseudonymous patient id, UID, read UID ...), ``changes``
(JSON ``{column: [old, new]}``), ``prev_hash`` (hash of row ``n-1``, 64 zeros for row 1) and

    row_hash = SHA-256( JSON [seq, ts, actor, action, entity, entity_key, changes, prev_hash] )

A one-row ``audit_head`` table keeps the last ``seq`` and hash, so deleting the newest rows is
detected too.  On SQLite and PostgreSQL, triggers refuse ``UPDATE``/``DELETE`` on the log; the
chain catches whoever drops the triggers or edits the file.  :func:`verify` recomputes the
chain and names the first bad row: a changed field (hash mismatch), a removed row (gap in
``seq`` / broken link), swapped rows (link and hash mismatch), or a truncated tail (head).

The log holds pseudonymous ids only: the store never accepts names (see
``constants.PSEUDONYM_PATTERN``), and free-text fields are limited to the adjudication reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from ..errors import AuditIntegrityError, StoreError
from .constants import AUDIT_GENESIS_HASH
from .model import (
    UNAUDITED_TABLES,
    AuditHeadRow,
    AuditLogRow,
    Base,
    LesionRow,
    MeasurementRow,
    PatientRow,
    ReaderRow,
    ReadResponseRow,
    ReadRow,
    ReadStatus,
    ReadTimePointRow,
    TimePointRow,
    utcnow_iso,
)

__all__ = ["AuditEntry", "AuditReport", "row_hash", "append_entries", "audit_flush", "verify_connection",
           "read_content_digest", "seal_read", "verify_seals", "log_views", "viewed_patients"]

#: Audit action of a locked read's content digest (written in the lock's transaction).
SEAL_ACTION = "seal"

#: Audit action of an adjudicator's access to other readers' locked reads of a patient (an
#: access record; entity ``patients``, key the patient id; no row changes).  A person with such
#: a record may not read that patient (:func:`viewed_patients`).
VIEW_ACTION = "view"

_HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log, as read back."""

    seq: int
    ts: str
    actor: str
    action: str
    entity: str
    entity_key: str
    changes: Mapping[str, tuple[Any, Any]]
    prev_hash: str
    row_hash: str
    #: True when :meth:`~hcc_imaging.study.store.Store.audit_entries` withheld this row's
    #: content (reader-private row, caller not entitled): ``changes`` is empty and the row's
    #: hash reads ``"<blinded>"`` (the hash of a small set of values can be brute-forced).
    blinded: bool = False


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Outcome of :func:`verify_connection`: ``ok`` and one line per problem found."""

    ok: bool
    n_rows: int
    problems: tuple[str, ...]
    #: locked reads whose content was checked against the seal written at their lock
    n_sealed_reads: int = 0

    def raise_if_bad(self) -> AuditReport:
        """Raise :class:`~hcc_imaging.errors.AuditIntegrityError` listing the problems, if any."""
        if not self.ok:
            raise AuditIntegrityError(
                f"audit log does not verify ({len(self.problems)} problem(s) in {self.n_rows} rows): "
                + "; ".join(self.problems[:10])
                + ". The store was modified outside hcc_imaging or rows were removed; restore the "
                "store from a backup and keep this copy for investigation."
            )
        return self


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def canonical_changes(changes: Mapping[str, tuple[Any, Any]]) -> str:
    """Deterministic JSON text of ``{column: [old, new]}`` (sorted keys, no spaces)."""
    obj = {k: [_jsonable(o), _jsonable(n)] for k, (o, n) in changes.items()}
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def row_hash(
    seq: int, ts: str, actor: str, action: str, entity: str, entity_key: str, changes: str, prev_hash: str
) -> str:
    """SHA-256 hex digest of the row's fields (see the module docstring)."""
    payload = json.dumps(
        [int(seq), ts, actor, action, entity, entity_key, changes, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _head(conn: Connection) -> tuple[int, str]:
    stmt = select(AuditHeadRow.last_seq, AuditHeadRow.last_hash).where(AuditHeadRow.id == _HEAD_ID)
    if conn.dialect.name == "postgresql":  # serialise writers on the chain head
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        return 0, AUDIT_GENESIS_HASH
    return int(row[0]), str(row[1])


def append_entries(
    conn: Connection, actor: str, entries: Iterable[tuple[str, str, str, Mapping[str, tuple[Any, Any]]]],
    *, genesis: bool = False,
) -> int:
    """Append ``(action, entity, entity_key, changes)`` rows to the chain on ``conn``.

    Must run inside the write transaction of the change (the caller's).  Returns the number
    of rows written.  Only the store's creation (``genesis=True``) may start a chain: when the
    head row is missing otherwise, the log was truncated and StoreError is raised instead of
    silently restarting the chain at seq 1.
    """
    items = list(entries)
    if not items:
        return 0
    seq, prev = _head(conn)
    had_head = conn.execute(select(AuditHeadRow.id).where(AuditHeadRow.id == _HEAD_ID)).first() is not None
    if not had_head and not genesis:
        raise StoreError(
            "the audit log has no head row, so it was truncated or wiped outside hcc_imaging; refusing to write "
            "(a new chain would hide the loss). Run 'hcc-imaging study audit verify', restore the store from a "
            "backup and keep this copy for investigation."
        )
    rows = []
    for action, entity, key, changes in items:
        seq += 1
        ts = utcnow_iso()
        text = canonical_changes(changes)
        h = row_hash(seq, ts, actor, action, entity, key, text, prev)
        rows.append(
            dict(seq=seq, ts=ts, actor=actor, action=action, entity=entity, entity_key=key,
                 changes=text, prev_hash=prev, row_hash=h)
        )
        prev = h
    conn.execute(insert(AuditLogRow.__table__), rows)
    if had_head:
        conn.execute(
            update(AuditHeadRow.__table__).where(AuditHeadRow.id == _HEAD_ID).values(last_seq=seq, last_hash=prev)
        )
    else:
        conn.execute(insert(AuditHeadRow.__table__).values(id=_HEAD_ID, last_seq=seq, last_hash=prev))
    return len(rows)


def _entity_changes(obj: Base, kind: str) -> dict[str, tuple[Any, Any]]:
    cols = [c.key for c in obj.__table__.columns]  # type: ignore[attr-defined]
    out: dict[str, tuple[Any, Any]] = {}
    if kind == "create":
        for k in cols:
            v = getattr(obj, k)
            if v is not None:
                out[k] = (None, v)
    elif kind == "delete":
        for k in cols:
            out[k] = (getattr(obj, k), None)
    else:
        for k in cols:
            hist = get_history(obj, k)
            if hist.has_changes():
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                if old != new:
                    out[k] = (old, new)
    return out


def audit_flush(session: Session, flush_context: Any) -> None:
    """``after_flush`` hook: write one audit row per created/changed/deleted store row."""
    entries: list[tuple[str, str, str, dict[str, tuple[Any, Any]]]] = []
    for kind, objs in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        batch = []
        for obj in objs:
            if not isinstance(obj, Base) or obj.__tablename__ in UNAUDITED_TABLES:
                continue
            if kind == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _entity_changes(obj, kind)
            if kind == "update" and not changes:
                continue
            action = kind
            if (
                kind == "update"
                and isinstance(obj, ReadRow)
                and "status" in changes
                and changes["status"][1] == ReadStatus.LOCKED.value
            ):
                action = "lock"
            batch.append((action, obj.__tablename__, obj.audit_key(), changes))
        batch.sort(key=lambda e: (e[1], e[2]))
        entries.extend(batch)
    if not entries:
        return
    actor = session.info.get("actor")
    if not actor:
        raise StoreError(
            "a change to the study store was flushed without an actor, so it could not be "
            "audited; write through Store / ReaderSession / AdjudicatorSession methods, which "
            "record who made each change."
        )
    append_entries(session.connection(), str(actor), entries)


def log_views(s: Session, actor: str, via: str, reads_by_patient: Mapping[str, Iterable[str]]) -> None:
    """Write one access record (``view`` row) per patient whose locked reads ``actor`` was shown
    by ``via`` (the method), naming the reads, in the caller's transaction."""
    items = [(VIEW_ACTION, PatientRow.__tablename__, patient_id, {"via": (None, via), "reads": (None, sorted(set(uids)))})
             for patient_id, uids in sorted(reads_by_patient.items())]
    if items:
        append_entries(s.connection(), actor, items)


def viewed_patients(s: Session, actor: str) -> set[str]:
    """Patient ids whose reads ``actor`` has been shown as adjudicator (access records)."""
    return set(s.scalars(select(AuditLogRow.entity_key).where(
        AuditLogRow.actor == actor, AuditLogRow.action == VIEW_ACTION, AuditLogRow.entity == PatientRow.__tablename__)))


def read_entries(conn: Connection) -> list[AuditEntry]:
    """All audit rows in ``seq`` order."""
    rows = conn.execute(select(AuditLogRow.__table__).order_by(AuditLogRow.seq)).mappings().all()
    out = []
    for r in rows:
        try:
            ch = {k: (v[0], v[1]) for k, v in json.loads(r["changes"]).items()}
        except (ValueError, TypeError, KeyError, IndexError):
            ch = {}
        out.append(
            AuditEntry(
                seq=int(r["seq"]), ts=r["ts"], actor=r["actor"], action=r["action"], entity=r["entity"],
                entity_key=r["entity_key"], changes=ch, prev_hash=r["prev_hash"], row_hash=r["row_hash"],
            )
        )
    return out


def verify_connection(conn: Connection) -> AuditReport:
    """Recompute the hash chain on ``conn`` and report every inconsistency found."""
    rows = conn.execute(select(AuditLogRow.__table__).order_by(AuditLogRow.seq)).mappings().all()
    problems: list[str] = []
    prev = AUDIT_GENESIS_HASH
    expected_seq = 1
    for r in rows:
        seq = int(r["seq"])
        if seq != expected_seq:
            problems.append(f"row seq {seq}: expected seq {expected_seq} (row(s) deleted or renumbered)")
        if r["prev_hash"] != prev:
            problems.append(f"row seq {seq}: prev_hash does not match the hash of the row before (row removed or reordered)")
        h = row_hash(seq, r["ts"], r["actor"], r["action"], r["entity"], r["entity_key"], r["changes"], r["prev_hash"])
        if h != r["row_hash"]:
            problems.append(
                f"row seq {seq} ({r['action']} {r['entity']} {r['entity_key']}): content does not match its hash (row edited)"
            )
        prev = r["row_hash"]
        expected_seq = seq + 1
    head = conn.execute(select(AuditHeadRow.last_seq, AuditHeadRow.last_hash).where(AuditHeadRow.id == _HEAD_ID)).first()
    last_seq = int(rows[-1]["seq"]) if rows else 0
    if not rows:
        problems.append("the audit log is empty, but every store writes its creation row first "
                        "(log truncated or wiped)")
    elif not (rows[0]["action"] == "migrate" and rows[0]["entity"] == "schema_version"):
        problems.append(
            f"row seq {int(rows[0]['seq'])} ({rows[0]['action']} {rows[0]['entity']} {rows[0]['entity_key']}): the log "
            "does not start with the store's creation row (migrate schema_version); the chain was restarted after "
            "the log was wiped"
        )
    if head is None:
        problems.append("audit_head row is missing (log truncated or wiped)")
    else:
        if int(head[0]) != last_seq or head[1] != prev:
            problems.append(
                f"audit_head says the log ends at seq {int(head[0])}, but the last row is seq {last_seq} "
                "(newest rows removed, or head edited)"
            )
    return AuditReport(ok=not problems, n_rows=len(rows), problems=tuple(problems))


# ------------------------------------------------------------------------------------------
# locked reads: content sealed into the chain
# ------------------------------------------------------------------------------------------
def _columns(obj: Base, skip: frozenset[str]) -> dict[str, Any]:
    """The row's columns, NULLs left out (a migration that adds a nullable column keeps old seals)."""
    cols = obj.__table__.columns  # type: ignore[attr-defined]
    return {c.key: _jsonable(v) for c in cols if c.key not in skip and (v := getattr(obj, c.key)) is not None}


_ROW_KEYS = frozenset({"id", "read_fk", "lesion_fk", "timepoint_fk", "reader_fk", "patient_fk"})


def read_content_digest(s: Session, r: ReadRow) -> str:
    """SHA-256 of what a read says: its own row (patient, reader, criteria, extras, lock time),
    its time points, every measurement (values, roles, flags, endpoints, provenance; the lesion
    by its tracking UID) and its stored responses.  Row ids are left out (a dump and restore
    keeps the digest); shared rows another read may change (lesion names, markers) are too."""
    tp_ids = {t.id: t.timepoint_id for t in s.scalars(select(TimePointRow).where(TimePointRow.patient_fk == r.patient_fk))}
    body: dict[str, Any] = {
        "read": _columns(r, _ROW_KEYS | {"status"}),
        "patient": s.scalar(select(PatientRow.patient_id).where(PatientRow.id == r.patient_fk)),
        "reader": s.scalar(select(ReaderRow.reader_id).where(ReaderRow.id == r.reader_fk)),
        "timepoints": sorted(
            tp_ids.get(t.timepoint_fk, "?") for t in s.scalars(select(ReadTimePointRow).where(ReadTimePointRow.read_fk == r.id))
        ),
        "measurements": sorted(
            (
                {**_columns(m, _ROW_KEYS),
                 "lesion": s.scalar(select(LesionRow.tracking_uid).where(LesionRow.id == m.lesion_fk)),
                 "timepoint": tp_ids.get(m.timepoint_fk, "?")}
                for m in s.scalars(select(MeasurementRow).where(MeasurementRow.read_fk == r.id))
            ),
            key=lambda d: str(d["measurement_uid"]),
        ),
        "responses": sorted(
            ({**_columns(x, _ROW_KEYS), "timepoint": tp_ids.get(x.timepoint_fk) if x.timepoint_fk else None}
             for x in s.scalars(select(ReadResponseRow).where(ReadResponseRow.read_fk == r.id))),
            key=lambda d: str(d["key"]),
        ),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal_read(s: Session, r: ReadRow, actor: str) -> str:
    """Write the locked read's content digest into the chain (``seal`` row), in the caller's
    transaction, after the lock has been flushed.  Returns the digest."""
    s.flush()
    digest = read_content_digest(s, r)
    append_entries(s.connection(), actor, [(SEAL_ACTION, ReadRow.__tablename__, r.read_uid,
                                            {"content_sha256": (None, digest)})])
    return digest


def verify_seals(s: Session) -> tuple[list[str], int]:
    """Recompute every locked read's digest against its ``seal`` row in the log.

    Returns ``(problems, n_sealed)``.  A locked read without a seal row is a problem only when
    the log records its lock after seals existed (reads locked by an older hcc_imaging have none).
    """
    problems: list[str] = []
    seals: dict[str, str] = {}
    locks: dict[str, int] = {}
    all_locks: dict[str, list[int]] = {}
    first_seal: int | None = None
    for seq, action, key, changes in s.execute(
        select(AuditLogRow.seq, AuditLogRow.action, AuditLogRow.entity_key, AuditLogRow.changes)
        .where(AuditLogRow.entity == ReadRow.__tablename__, AuditLogRow.action.in_([SEAL_ACTION, "lock"]))
        .order_by(AuditLogRow.seq)
    ):
        if action == SEAL_ACTION:
            try:
                seals[key] = str(json.loads(changes)["content_sha256"][1])
            except (ValueError, TypeError, KeyError, IndexError):
                seals[key] = ""
            first_seal = seq if first_seal is None else first_seal
        else:
            locks[key] = seq
            all_locks.setdefault(key, []).append(seq)
    status = {uid: st for uid, st in s.execute(select(ReadRow.read_uid, ReadRow.status))}
    for key, seqs in all_locks.items():
        if len(seqs) > 1:
            problems.append(f"read {key} was locked {len(seqs)} times (log rows seq {', '.join(map(str, seqs))}): it was "
                            "unlocked outside hcc_imaging in between, and may have been changed")
        if key in status and status[key] != ReadStatus.LOCKED.value:
            problems.append(f"read {key} was locked (log row seq {seqs[-1]}) but its status is now {status[key]!r}: it "
                            "was unlocked outside hcc_imaging (a locked read never changes)")
    n = 0
    for r in s.scalars(select(ReadRow).where(ReadRow.status == ReadStatus.LOCKED.value).order_by(ReadRow.read_uid)):
        want = seals.get(r.read_uid)
        if want is None:
            lock_seq = locks.get(r.read_uid)
            if lock_seq is None:
                problems.append(f"read {r.read_uid} is locked but the log has no lock row for it (status set outside "
                                "hcc_imaging)")
            elif first_seal is not None and lock_seq > first_seal:
                problems.append(f"read {r.read_uid} was locked (log row seq {lock_seq}) without its content seal")
            continue
        n += 1
        if read_content_digest(s, r) != want:
            problems.append(f"locked read {r.read_uid}: its measurements, responses or read row differ from what was "
                            "sealed at lock (edited outside hcc_imaging after the lock)")
    return problems, n


# ------------------------------------------------------------------------------------------
# every row against the last state the log recorded for it
# ------------------------------------------------------------------------------------------
#: Actions that record no row change (a seal, an access record, a schema step).
_NO_ROW_CHANGE = frozenset({SEAL_ACTION, VIEW_ACTION, "migrate"})
_DELETED = object()


def _audited_models() -> dict[str, Any]:
    """Table name -> ORM class of every audited table."""
    out = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        name = cls.__tablename__
        if name not in UNAUDITED_TABLES and name != "schema_version":
            out[name] = cls
    return out


def _fk_targets(cls: Any) -> dict[str, str]:
    """Column -> table it refers to (foreign keys)."""
    return {c.key: next(iter(c.foreign_keys)).column.table.name for c in cls.__table__.columns if c.foreign_keys}


def verify_rows(s: Session, blinded_tables: frozenset[str]) -> list[str]:
    """Compare every row of the audited tables with the last state the log recorded for it.

    The log is replayed (create sets the logged columns, the others are NULL; update and lock
    set the changed columns; delete removes the row).  Foreign keys are compared by the public
    id of the row they refer to, and row ids are left out, so a dump and restore verifies.
    Reported: a row whose columns differ from that state (edited outside hcc_imaging), a row
    the log created that is gone (deleted outside hcc_imaging).  A row the log never created
    (or whose creation row does not list its columns, as a hand-made test store's) is compared
    only on the columns the log set.  For
    rows of ``blinded_tables`` the report names the row only, not the columns (anyone may run
    ``audit verify``).
    """
    models = _audited_models()
    state: dict[tuple[str, str], Any] = {}
    created: set[tuple[str, str]] = set()
    for action, entity, key, changes in s.execute(
        select(AuditLogRow.action, AuditLogRow.entity, AuditLogRow.entity_key, AuditLogRow.changes).order_by(AuditLogRow.seq)
    ):
        if entity not in models or action in _NO_ROW_CHANGE:
            continue
        try:
            ch = {k: v[1] for k, v in json.loads(changes).items()}
        except (ValueError, TypeError, KeyError, IndexError):
            continue  # an edited row: the chain check reports it
        if action == "create":
            state[(entity, key)] = ch
            if models[entity].__audit_key__ in ch:  # a full creation row (it logs every non-NULL column)
                created.add((entity, key))
        elif action == "delete":
            state[(entity, key)] = _DELETED
        else:
            cur = state.get((entity, key))
            state[(entity, key)] = {**(cur if isinstance(cur, dict) else {}), **ch}
    # id -> public key, as the log recorded it and as the tables hold it
    logged_ids: dict[str, dict[Any, str]] = {}
    for (entity, key), st in state.items():
        if isinstance(st, dict) and st.get("id") is not None:
            logged_ids.setdefault(entity, {})[st["id"]] = key
    current: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    current_ids: dict[str, dict[Any, str]] = {}
    for name, cls in models.items():
        rows = []
        for obj in s.scalars(select(cls)):
            cols = {c.key: json.loads(json.dumps(_jsonable(getattr(obj, c.key)))) for c in cls.__table__.columns}
            rows.append((obj.audit_key(), cols))
            if "id" in cols:
                current_ids.setdefault(name, {})[cols["id"]] = obj.audit_key()
        current[name] = rows
    problems: list[str] = []
    for name, cls in models.items():
        fks = _fk_targets(cls)
        seen: set[str] = set()
        for key, cols in current[name]:
            seen.add(key)
            st = state.get((name, key))
            if st is None:
                continue
            if st is _DELETED:
                problems.append(f"{name} row {key}: the audit log records its deletion, but it is in the store "
                                "(re-inserted outside hcc_imaging)")
                continue
            full = (name, key) in created
            differ = []
            for col, value in cols.items():
                if col == "id" or (not full and col not in st):
                    continue
                logged = st.get(col)
                if col in fks:
                    value = current_ids.get(fks[col], {}).get(value, value)
                    known = logged_ids.get(fks[col], {})  # else (row created without a full log row): the table's
                    logged = known[logged] if logged in known else current_ids.get(fks[col], {}).get(logged, logged)
                if value != logged:
                    differ.append(col)
            if differ:
                what = "" if name in blinded_tables else f" ({', '.join(sorted(differ))})"
                problems.append(f"{name} row {key}: differs from the last state the audit log recorded{what} "
                                "(edited outside hcc_imaging)")
        for (entity, key), st in state.items():
            if entity == name and isinstance(st, dict) and (entity, key) in created and key not in seen:
                problems.append(f"{name} row {key}: created in the audit log but missing from the store "
                                "(deleted outside hcc_imaging)")
    return problems

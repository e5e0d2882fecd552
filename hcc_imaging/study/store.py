"""The study store: an SQLite file by default, any SQLAlchemy URL (PostgreSQL) for teams.

Opening
-------
``Store(db)`` where ``db`` is a path, an SQLAlchemy URL (``postgresql+psycopg://...``) or None.
None means the ``HCC_IMAGING_DB`` environment variable, else
``platformdirs.user_data_dir("hcc-imaging")/study.sqlite``.  The schema is created or migrated
on open (:mod:`hcc_imaging.study.migrations`).

Durability and concurrency (SQLite)
-----------------------------------
* ``journal_mode=WAL`` (readers never block the writer), ``foreign_keys=ON``,
  ``synchronous=FULL`` (a commit survives power loss), ``busy_timeout`` 30 s.
* Every write is one transaction started with ``BEGIN IMMEDIATE`` (the write lock is taken at
  the start, so two processes never both read-then-write the same audit head), and is retried
  with back-off when SQLite still reports ``database is locked``.  The audit row of a change is
  written in the same transaction (:mod:`hcc_imaging.study.audit`).

Access
------
This class holds the *administrative* operations (readers, patients, studies, series, time
points, treatment events, tumour markers, shared lesions, audit).  Measurements, reads and
responses are reached only through :class:`~hcc_imaging.study.reads.ReaderSession` (one
reader's own data) and :class:`~hcc_imaging.study.reads.AdjudicatorSession` (locked reads) -
that is where blinding is enforced.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from .._phi import shown_id
from ..errors import StoreError
from ._timepoint_reuse import refuse_other_study
from .audit import (
    AuditEntry,
    AuditReport,
    audit_flush,
    log_views,
    read_entries,
    verify_connection,
    verify_rows,
    verify_seals,
)
from .constants import (
    DB_ENV_VAR,
    DB_FILENAME,
    MARKER_UNITS,
    PSEUDONYM_PATTERN,
    SQLITE_BUSY_TIMEOUT_S,
    SQLITE_SYNCHRONOUS,
    WRITE_RETRY_ATTEMPTS,
    WRITE_RETRY_BASE_DELAY_S,
)
from .migrations import ensure_schema, stored_version
from .model import (
    LesionRow,
    MarkerKind,
    PatientRow,
    ReaderRole,
    ReaderRow,
    SeriesRow,
    StudyRow,
    TimePointRow,
    TreatmentEventRow,
    TreatmentKind,
    TumourMarkerRow,
)
from .readonly import folder_writable, read_only_refusal, read_only_url, sqlite_path
from .records import (
    LesionInfo,
    PatientInfo,
    ReaderInfo,
    SeriesInfoRecord,
    StudyInfo,
    TimePointInfo,
    TreatmentEventInfo,
    TumourMarkerInfo,
)

__all__ = ["Store", "resolve_db_url", "new_uid", "check_pseudonym", "refuse_case_variant", "ADMIN_ACTOR"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Actor recorded for administrative writes when the caller names none.
ADMIN_ACTOR = "system:admin"

#: Tables whose audited values are reader-private (blinded in :meth:`Store.audit_entries`).
BLINDED_TABLES: frozenset[str] = frozenset(
    {"reads", "read_timepoints", "measurements", "read_responses", "lesions", "tracking_links", "adjudications"}
)

#: Placeholder for a blinded audit value.
BLINDED = "<blinded>"


def new_uid() -> str:
    """A new DICOM-style UID (``2.25.<uuid4 as integer>``, PS3.5 B.2), used as tracking UID etc."""
    import uuid

    return f"2.25.{uuid.uuid4().int}"


def check_pseudonym(value: str, what: str) -> str:
    """Return ``value`` if it is an acceptable pseudonymous id, else raise StoreError.

    The message says what is wrong (:func:`hcc_imaging._phi.id_problem`) without repeating the
    value: a refused id may be a patient's name, which must not reach a terminal or a log.
    """
    if isinstance(value, str) and value != value.strip() and PSEUDONYM_PATTERN.match(value.strip()):
        raise StoreError(f"the {what} given has spaces around it; ids have none: pass it without them.")
    if not isinstance(value, str) or not PSEUDONYM_PATTERN.match(value):
        from .._phi import id_problem

        example = _ID_EXAMPLES.get(what)
        hint = ("The study store never holds patient names; pass the trial or research code (e.g. 'HCC-0042') instead."
                if example is None else f"The study store never holds names; pass a code such as {example} instead.")
        raise StoreError(
            f"the {what} given is not an accepted pseudonymous id: it {id_problem(value)}; it is not repeated here, "
            f"as it may be a person's name. Accepted: 1-64 of letters, digits, '.', '_', ':', '-'. {hint}"
        )
    return value


#: Example of each kind of id in check_pseudonym's message (patient ids: the default wording).
_ID_EXAMPLES: dict[str, str] = {
    "reader id": "'R1' or 'ADJ1' (a reader's pseudonymous code)",
    "time point id": "'BL' or 'FU1'",
    "lesion id": "'L1'",
}


def refuse_case_variant(s: Session, column: Any, value: str, what: str) -> None:
    """StoreError when a ``what`` id that differs from ``value`` only by letter case exists
    (``r1`` next to ``R1`` would be a second reader, ``p1`` next to ``P1`` a second patient)."""
    other = s.scalar(select(column).where(func.lower(column) == value.lower(), column != value).limit(1))
    if other is not None:
        raise StoreError(
            f"{what} id {value!r} differs from the existing {what} {other!r} only by letter case; ids that differ only "
            f"by case would be two {what}s for what is most likely one. Use {other!r}, or pick an id that differs by more."
        )


def _case_hint(s: Session, column: Any, value: str) -> str:
    """`` Did you mean 'X'?`` when an id differing only by case exists, else ""."""
    other = s.scalar(select(column).where(func.lower(column) == value.lower()).limit(1)) if isinstance(value, str) else None
    return f" Did you mean {other!r} (ids are case-sensitive)?" if other is not None else ""


def resolve_db_url(db: str | os.PathLike[str] | None = None) -> str:
    """SQLAlchemy URL of the store: ``db`` (path or URL), else ``$HCC_IMAGING_DB``, else the
    default file in the user data directory (created if needed)."""
    if db is None:
        db = os.environ.get(DB_ENV_VAR) or None
    if db is None:
        import platformdirs

        folder = Path(platformdirs.user_data_dir("hcc-imaging", appauthor=False))
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / DB_FILENAME}"
    s = os.fspath(db)
    if "://" in s:
        return s
    path = Path(s).expanduser().resolve()
    if not path.parent.is_dir():
        raise StoreError(
            f"cannot create the study store {path}: folder {path.parent} does not exist. "
            "Create it first or pass another --db path."
        )
    return f"sqlite:///{path}"


def _is_locked(err: BaseException) -> bool:
    msg = str(getattr(err, "orig", err)).lower()
    return "database is locked" in msg or "database is busy" in msg or "database table is locked" in msg


def _shown_url(url: str) -> str:
    """``url`` for a message: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: shown as given
        return url


def _engine_error(url: str, err: Exception) -> StoreError:
    """Why ``create_engine`` refused the store's URL and what to pass instead."""
    shown = _shown_url(url)
    example = "a file path (study.sqlite) or a PostgreSQL URL (postgresql+pg8000://user@host/trial)"
    if isinstance(err, ImportError):
        return StoreError(
            f"cannot open the study store {shown}: its database driver {err.name or str(err)!r} is not installed. "
            "Install it (pip install pg8000, or psycopg[binary]) and name it in the URL "
            "(postgresql+pg8000://... or postgresql+psycopg://...), or pass an SQLite file path."
        )
    if isinstance(err, NoSuchModuleError):
        scheme = url.split("://", 1)[0]
        return StoreError(
            f"cannot open the study store {shown}: {scheme!r} is not a database kind SQLAlchemy knows. "
            f"--db (or ${DB_ENV_VAR}) takes {example}."
        )
    return StoreError(f"cannot open the study store {shown}: not a database URL ({err}). "
                      f"--db (or ${DB_ENV_VAR}) takes {example}.")


def _make_engine(url: str, busy_timeout_s: float, read_only: bool = False) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise StoreError(
                "an in-memory SQLite store cannot be shared between connections and is lost on exit; "
                "pass a file path (--db study.sqlite)."
            )
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if not read_only:  # a read-only connection keeps the file's journal mode
                mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    log.warning("study store: WAL journal mode not available (got %r)", mode)
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("hcc_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """A study store (see the module docstring).

    Parameters
    ----------
    db : str or path or None
        File path, SQLAlchemy URL, or None for ``$HCC_IMAGING_DB`` / the user data directory.
    busy_timeout_s : float
        How long an SQLite writer waits for another's lock before retrying.
    read_only : bool or None
        Open an SQLite store read-only (list, show, verify; changes are refused).  None (the
        default): read-only exactly when the store's folder cannot be written, since SQLite's
        WAL mode needs ``-shm`` / ``-wal`` files beside it (:mod:`.readonly`).

    Examples
    --------
    >>> import tempfile, os
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "s.sqlite"))
    >>> store.add_reader("R1").reader_id
    'R1'
    >>> store.close()
    """

    def __init__(self, db: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
                 read_only: bool | None = None):
        self.url = resolve_db_url(db)
        path = sqlite_path(self.url)
        if path is None or not path.exists():
            self.read_only = bool(read_only) and path is not None
        else:
            self.read_only = read_only if read_only is not None else not folder_writable(path)
        if self.read_only and path is None:
            raise StoreError(f"read_only applies to an SQLite store file that exists; {_shown_url(self.url)} is not one.")
        self._ro_path = path if self.read_only else None
        try:
            self.engine = _make_engine(read_only_url(path) if self._ro_path else self.url, busy_timeout_s,
                                       read_only=self.read_only)
        except (ArgumentError, ImportError) as err:  # unknown scheme, bad URL, driver not installed
            raise _engine_error(self.url, err) from err
        self._write_engine = self.engine.execution_options(hcc_write=True)
        # Opening sets the connection's pragmas (WAL, busy timeout) and may create or migrate
        # the schema; another process writing at that moment can make it "database is locked"
        # (the pragmas do not wait for the busy timeout): retried as writes are (_write).
        delay = WRITE_RETRY_BASE_DELAY_S
        for attempt in range(WRITE_RETRY_ATTEMPTS):
            try:
                self._open_schema()
                break
            except OperationalError as err:
                self.engine.dispose()
                if _is_locked(err) and attempt < WRITE_RETRY_ATTEMPTS - 1:
                    time.sleep(delay * (1.0 + random.random()))
                    delay *= 2
                    continue
                raise StoreError(
                    f"cannot open the study store {_shown_url(self.url)}: {err.orig}. "
                    + ("Another process held the lock for too long; retry, or raise busy_timeout_s."
                       if _is_locked(err) else "Check the path/URL and permissions.")
                ) from err
            except DBAPIError as err:  # sqlite's "file is not a database", a server that cannot be reached
                self.engine.dispose()
                raise StoreError(
                    f"cannot open the study store {_shown_url(self.url)}: {str(err.orig).rstrip('.')}. "
                    + ("That file is not an SQLite database (a JSON or other file?): --db (or "
                       f"${DB_ENV_VAR}) must name a study store or a new file path."
                       if "not a database" in str(err.orig)
                       else "Check the path/URL, that the database server runs and that you may connect.")
                ) from err
            except StoreError:
                self.engine.dispose()
                raise

    def _open_schema(self) -> None:
        """Read the schema version; create or migrate the schema when it is not current."""
        with self.engine.connect() as conn:
            current = stored_version(conn)
        from .constants import SCHEMA_VERSION

        if current != SCHEMA_VERSION and self._ro_path is not None:
            raise StoreError(read_only_refusal(self._ro_path, f"open the store at schema v{current}: it needs "
                                               f"migrating to v{SCHEMA_VERSION}, which writes it, and"))
        if current != SCHEMA_VERSION:
            with self._write_engine.begin() as conn:
                found, now = ensure_schema(conn)
            if found is not None and found != now:
                log.info("study store migrated from schema v%s to v%s", found, now)

    # -- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release all connections (the file stays consistent; open again any time)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shown_url(self) -> str:
        """The store's URL for messages and output: its password hidden (``***``)."""
        return _shown_url(self.url)

    def __repr__(self) -> str:
        return f"Store({self.shown_url!r})"

    @property
    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            v = stored_version(conn)
        return int(v or 0)

    def _write(self, actor: str, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one write transaction as ``actor``; retry when locked."""
        if self._ro_path is not None:
            raise StoreError(read_only_refusal(self._ro_path))
        delay = WRITE_RETRY_BASE_DELAY_S
        for attempt in range(WRITE_RETRY_ATTEMPTS):
            session = Session(bind=self._write_engine, expire_on_commit=False, autoflush=True)
            session.info["actor"] = actor
            event.listen(session, "after_flush", audit_flush)
            try:
                with session.begin():
                    out = fn(session)
                return out
            except OperationalError as err:
                if not _is_locked(err) or attempt == WRITE_RETRY_ATTEMPTS - 1:
                    raise StoreError(
                        f"write to the study store {self.shown_url} failed: {err.orig}. "
                        + ("Another process held the write lock for too long; retry, or raise busy_timeout_s."
                           if _is_locked(err) else "Check the disk and the store file.")
                    ) from err
                time.sleep(delay * (1.0 + random.random()))
                delay *= 2
            except IntegrityError as err:
                raise StoreError(
                    f"the study store refused the change: {err.orig}. An id is already used or a "
                    "referenced row does not exist; check the ids you passed."
                ) from err
            finally:
                session.close()
        raise StoreError("unreachable")  # pragma: no cover

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        session = Session(bind=self.engine, expire_on_commit=False, autoflush=False)
        event.listen(session, "after_flush", audit_flush)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def _read(self, fn: Callable[[Session], T]) -> T:
        with self._reading() as s:
            return fn(s)

    # -- lookups (private; raise StoreError naming the id) ---------------------------------
    @staticmethod
    def _patient(s: Session, patient_id: str) -> PatientRow:
        row = s.scalar(select(PatientRow).where(PatientRow.patient_id == patient_id))
        if row is None:
            raise StoreError(f"unknown patient {shown_id(patient_id, 'patient id')}; add it first "
                             "(Store.add_patient / 'study patient add')."
                             + _case_hint(s, PatientRow.patient_id, patient_id))
        return row

    @staticmethod
    def _reader(s: Session, reader_id: str) -> ReaderRow:
        row = s.scalar(select(ReaderRow).where(ReaderRow.reader_id == reader_id))
        if row is None:
            raise StoreError(f"unknown reader {shown_id(reader_id, 'reader id')}; add it first "
                             "(Store.add_reader / 'study reader add')."
                             + _case_hint(s, ReaderRow.reader_id, reader_id))
        return row

    @staticmethod
    def _timepoint(s: Session, patient: PatientRow, timepoint_id: str) -> TimePointRow:
        row = s.scalar(
            select(TimePointRow).where(TimePointRow.patient_fk == patient.id, TimePointRow.timepoint_id == timepoint_id)
        )
        if row is None:
            raise StoreError(
                f"unknown time point {timepoint_id!r} of patient {patient.patient_id!r}; add it first "
                "(Store.add_timepoint / 'study timepoint add')."
            )
        return row

    @staticmethod
    def _study(s: Session, uid: str) -> StudyRow:
        row = s.scalar(select(StudyRow).where(StudyRow.study_instance_uid == uid))
        if row is None:
            raise StoreError(f"unknown study {uid!r}; add it first (Store.add_study).")
        return row

    # -- readers ------------------------------------------------------------------------------
    def add_reader(self, reader_id: str, role: ReaderRole | str = ReaderRole.READER, *, actor: str = ADMIN_ACTOR) -> ReaderInfo:
        """Register a reader (pseudonymous code such as ``R1``) or an adjudicator."""
        check_pseudonym(reader_id, "reader id")
        try:
            role = ReaderRole(role)
        except ValueError:
            raise StoreError(f"unknown reader role {role!r}; use one of {[r.value for r in ReaderRole]}.") from None

        def fn(s: Session) -> ReaderInfo:
            if s.scalar(select(ReaderRow).where(ReaderRow.reader_id == reader_id)) is not None:
                raise StoreError(f"reader {reader_id!r} already exists; pick another id.")
            refuse_case_variant(s, ReaderRow.reader_id, reader_id, "reader")
            s.add(ReaderRow(reader_id=reader_id, role=role.value))
            return ReaderInfo(reader_id, role.value)

        return self._write(actor, fn)

    def readers(self) -> list[ReaderInfo]:
        return self._read(lambda s: [ReaderInfo(r.reader_id, r.role) for r in s.scalars(select(ReaderRow).order_by(ReaderRow.reader_id))])

    # -- patients, studies, series, time points ---------------------------------------------------
    def add_patient(self, patient_id: str, *, actor: str = ADMIN_ACTOR, exist_ok: bool = False) -> PatientInfo:
        """Register a patient by pseudonymous id (never a name; see PSEUDONYM_PATTERN)."""
        check_pseudonym(patient_id, "patient id")

        def fn(s: Session) -> PatientInfo:
            if s.scalar(select(PatientRow).where(PatientRow.patient_id == patient_id)) is not None:
                if exist_ok:
                    return PatientInfo(patient_id)
                raise StoreError(f"patient {patient_id!r} already exists; pass exist_ok=True to reuse it.")
            refuse_case_variant(s, PatientRow.patient_id, patient_id, "patient")
            s.add(PatientRow(patient_id=patient_id))
            return PatientInfo(patient_id)

        return self._write(actor, fn)

    def patients(self) -> list[PatientInfo]:
        return self._read(lambda s: [PatientInfo(p.patient_id) for p in s.scalars(select(PatientRow).order_by(PatientRow.patient_id))])

    def add_study(
        self, patient_id: str, study_instance_uid: str, study_date: dt.date | None = None,
        modality: str | None = None, *, actor: str = ADMIN_ACTOR,
    ) -> StudyInfo:
        def fn(s: Session) -> StudyInfo:
            p = self._patient(s, patient_id)
            s.add(StudyRow(study_instance_uid=study_instance_uid, patient_fk=p.id, study_date=study_date, modality=modality))
            return StudyInfo(study_instance_uid, patient_id, study_date, modality)

        return self._write(actor, fn)

    def add_series(
        self, study_instance_uid: str, series_instance_uid: str, phase: str | None = None,
        modality: str | None = None, *, actor: str = ADMIN_ACTOR,
    ) -> SeriesInfoRecord:
        """Register a series of a study with its contrast phase (e.g. ``arterial``)."""
        phase_value = None
        if phase is not None:
            from ..volume import Phase

            try:
                phase_value = Phase(phase).value
            except ValueError:
                raise StoreError(f"unknown phase {phase!r} for series {series_instance_uid}; use one of {[p.value for p in Phase]}.") from None

        def fn(s: Session) -> SeriesInfoRecord:
            st = self._study(s, study_instance_uid)
            s.add(SeriesRow(series_instance_uid=series_instance_uid, study_fk=st.id, phase=phase_value, modality=modality))
            return SeriesInfoRecord(series_instance_uid, study_instance_uid, phase_value, modality)

        return self._write(actor, fn)

    def series(self, study_instance_uid: str) -> list[SeriesInfoRecord]:
        def fn(s: Session) -> list[SeriesInfoRecord]:
            st = self._study(s, study_instance_uid)
            rows = s.scalars(select(SeriesRow).where(SeriesRow.study_fk == st.id).order_by(SeriesRow.series_instance_uid))
            return [SeriesInfoRecord(r.series_instance_uid, study_instance_uid, r.phase, r.modality) for r in rows]

        return self._read(fn)

    def add_timepoint(
        self, patient_id: str, timepoint_id: str, date: dt.date | None = None, day_offset: int | None = None,
        study_instance_uid: str | None = None, *, actor: str = ADMIN_ACTOR, exist_ok: bool = False,
    ) -> TimePointInfo:
        """Register a time point (``BL``, ``FU1``...) of a patient, with date and/or day offset."""
        check_pseudonym(timepoint_id, "time point id")

        def fn(s: Session) -> TimePointInfo:
            p = self._patient(s, patient_id)
            existing = s.scalar(select(TimePointRow).where(TimePointRow.patient_fk == p.id, TimePointRow.timepoint_id == timepoint_id))
            if existing is not None:
                if exist_ok:
                    kept = self._tp_info(s, existing, patient_id)
                    refuse_other_study(kept, date, study_instance_uid)
                    return kept
                raise StoreError(f"time point {timepoint_id!r} of patient {patient_id!r} already exists; pass exist_ok=True to reuse it.")
            study_fk = self._study(s, study_instance_uid).id if study_instance_uid else None
            s.add(TimePointRow(patient_fk=p.id, timepoint_id=timepoint_id, key=f"{patient_id}/{timepoint_id}",
                               date=date, day_offset=day_offset, study_fk=study_fk))
            return TimePointInfo(patient_id, timepoint_id, date, day_offset, study_instance_uid)

        return self._write(actor, fn)

    @staticmethod
    def _tp_info(s: Session, tp: TimePointRow, patient_id: str) -> TimePointInfo:
        uid = s.scalar(select(StudyRow.study_instance_uid).where(StudyRow.id == tp.study_fk)) if tp.study_fk else None
        return TimePointInfo(patient_id, tp.timepoint_id, tp.date, tp.day_offset, uid)

    def timepoints(self, patient_id: str) -> list[TimePointInfo]:
        """Time points of a patient, in (date, day offset, id) order."""
        def fn(s: Session) -> list[TimePointInfo]:
            p = self._patient(s, patient_id)
            rows = list(s.scalars(select(TimePointRow).where(TimePointRow.patient_fk == p.id)))
            rows.sort(key=lambda r: (r.date or dt.date.min, r.day_offset if r.day_offset is not None else -10**9, r.timepoint_id))
            return [self._tp_info(s, r, patient_id) for r in rows]

        return self._read(fn)

    # -- shared lesions ------------------------------------------------------------------------
    def add_lesion(
        self, patient_id: str, lesion_id: str, *, organ: str | None = "liver", is_lymph_node: bool = False,
        kind: str | None = None, tracking_uid: str | None = None, actor: str = ADMIN_ACTOR,
    ) -> LesionInfo:
        """Create a *shared* tracked lesion (visible to every reader), e.g. from the pipeline.

        Readers create private lesions with ``ReaderSession.add_lesion``.
        """
        return self._write(actor, lambda s: _create_lesion(s, patient_id, lesion_id, organ, is_lymph_node, kind, tracking_uid, None))

    # -- treatment events and tumour markers -------------------------------------------------------
    def add_treatment_event(
        self, patient_id: str, kind: TreatmentKind | str, start_date: dt.date | None = None,
        end_date: dt.date | None = None, *, start_day: int | None = None, end_day: int | None = None,
        lesion_ids: tuple[str, ...] = (), actor: str = ADMIN_ACTOR,
    ) -> TreatmentEventInfo:
        """Record a treatment (TACE, lenvatinib, atezolizumab + bevacizumab, resection, ablation...).

        ``kind`` is a read-document :class:`~hcc_imaging.response.document.TreatmentKind`
        (case-insensitive).  Give ``start_date`` or ``start_day`` (days from study entry).
        Recording the same kind on the same start again updates it (idempotent import).
        """
        return self._write(actor, lambda s: _upsert_treatment(
            s, patient_id, kind, start_date, start_day, end_date, end_day, tuple(lesion_ids)))

    def treatment_events(self, patient_id: str) -> list[TreatmentEventInfo]:
        """Treatment events of a patient in start order."""
        return self._read(lambda s: _treatments(s, self._patient(s, patient_id)))

    def add_tumour_marker(
        self, patient_id: str, marker: MarkerKind | str, value: float, date: dt.date | None = None,
        unit: str | None = None, *, day: int | None = None, actor: str = ADMIN_ACTOR,
    ) -> TumourMarkerInfo:
        """Record a tumour marker draw (AFP ng/mL, AFP-L3 %, PIVKA-II mAU/mL, CEA, CA19-9).

        ``unit``, when given, must be the canonical unit (``constants.MARKER_UNITS``).
        Recording the same marker on the same date again replaces its value.
        """
        return self._write(actor, lambda s: _upsert_marker(s, patient_id, marker, value, date, day, unit))

    def tumour_markers(self, patient_id: str) -> list[TumourMarkerInfo]:
        """Tumour marker values of a patient in date order."""
        return self._read(lambda s: _markers(s, self._patient(s, patient_id)))

    # -- audit and integrity ----------------------------------------------------------------------
    def audit_verify(self, *, raise_on_error: bool = True) -> AuditReport:
        """Verify the hash chain, every locked read against the content sealed at its lock (and
        that a read the log locked is still locked, once), and every row against the last state
        the log recorded for it; raise AuditIntegrityError (default) or return the report."""
        # one snapshot for the three checks: PostgreSQL's default READ COMMITTED gives each statement
        # its own, so a read locked while verify ran showed as "locked but the log has no lock row"
        # (a false alarm of tampering); SQLite's read transaction is a snapshot from its first read
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                report = verify_connection(conn)
                with Session(bind=conn, expire_on_commit=False, autoflush=False) as s:
                    seal_problems, n_sealed = verify_seals(s)
                    row_problems = verify_rows(s, BLINDED_TABLES)
        from dataclasses import replace

        more = tuple(seal_problems) + tuple(row_problems)
        report = replace(report, ok=report.ok and not more, problems=report.problems + more, n_sealed_reads=n_sealed)
        return report.raise_if_bad() if raise_on_error else report

    def audit_entries(self, *, adjudicator_id: str | None = None) -> list[AuditEntry]:
        """The audit log in order (pseudonymous ids only).

        Blinding: rows of reader-private tables (``BLINDED_TABLES``: reads, their time points,
        measurements, responses, lesions, tracking links, adjudications) keep only who did
        what to which row when (``seq``, ``ts``, ``actor``, ``action``, ``entity``,
        ``entity_key``): their ``changes`` are empty - not even the names of the changed
        columns are shown, since which columns a row sets says what was recorded (a response
        row sets ``pd_date`` only when the reader called PD) - their ``row_hash`` and the next
        row's ``prev_hash`` read ``"<blinded>"`` (the hash of a few possible values can be
        brute-forced) and ``blinded`` is True.  A registered adjudicator (``adjudicator_id``)
        sees the full rows of locked reads of patients they have no read of (the rules of
        AdjudicatorSession).  :meth:`audit_verify` always checks the full stored rows.
        """
        if adjudicator_id is not None:
            from ..errors import BlindingError

            def check(s: Session) -> None:
                if self._reader(s, adjudicator_id).role != ReaderRole.ADJUDICATOR.value:
                    raise BlindingError(f"{adjudicator_id!r} is not an adjudicator; only adjudicators see the values of "
                                        "reader-private changes in the audit log.")

            self._read(check)
        with self.engine.connect() as conn:
            entries = read_entries(conn)
        shown: set[tuple[str, str]] = set()
        if adjudicator_id is not None:
            shown, viewed = self._adjudicator_visible(adjudicator_id, entries)
            if viewed:  # the values of those reads were shown: an access record, as AdjudicatorSession's
                self._write(adjudicator_id, lambda s: log_views(s, adjudicator_id, "audit_entries", viewed))
        return _blind_entries(entries, shown)

    def _adjudicator_visible(
        self, adjudicator_id: str, entries: list[AuditEntry],
    ) -> tuple[set[tuple[str, str]], dict[str, list[str]]]:
        """(entity, key) of reader-private audit rows whose values an adjudicator may see: rows of
        locked reads (read, its time points, measurements, responses; the lesions measured in
        them and their tracking links) and adjudications, never of a patient the adjudicator
        has a read of (the same rules as AdjudicatorSession); and patient id -> the read UIDs
        whose rows are shown (for the access record)."""
        from .model import AdjudicationRow, MeasurementRow, ReadRow, ReadStatus, TrackingLinkRow

        def fn(s: Session) -> tuple[set[tuple[str, str]], dict[str, list[str]]]:
            me = self._reader(s, adjudicator_id)
            conflicted = set(s.scalars(select(ReadRow.patient_fk).where(ReadRow.reader_fk == me.id)))
            reads = list(s.scalars(select(ReadRow)))
            ok_read_ids = {r.id for r in reads if r.status == ReadStatus.LOCKED.value and r.patient_fk not in conflicted}
            ok_uids = {r.read_uid for r in reads if r.id in ok_read_ids}
            meas_read: dict[str, Any] = {m.measurement_uid: m.read_fk for m in s.scalars(select(MeasurementRow))}
            for e in entries:  # deleted measurements: their read from the logged values
                if e.entity == "measurements" and e.entity_key not in meas_read:
                    old, new = e.changes.get("read_fk", (None, None))
                    meas_read[e.entity_key] = new if new is not None else old
            ok_lesions = set(s.scalars(select(LesionRow.tracking_uid).join(MeasurementRow, MeasurementRow.lesion_fk == LesionRow.id)
                                       .where(MeasurementRow.read_fk.in_(ok_read_ids or {-1}))))
            lesion_uid = {les.id: les.tracking_uid for les in s.scalars(select(LesionRow))}
            ok_links = {t.link_uid for t in s.scalars(select(TrackingLinkRow)) if lesion_uid.get(t.lesion_fk) in ok_lesions}
            ok_adj = {a.adjudication_uid for a in s.scalars(select(AdjudicationRow)) if a.patient_fk not in conflicted}
            out: set[tuple[str, str]] = set()
            for e in entries:
                k = e.entity_key
                if e.entity == "reads":
                    good = k in ok_uids
                elif e.entity in ("read_timepoints", "read_responses"):
                    good = k.split("/", 1)[0] in ok_uids
                elif e.entity == "measurements":
                    good = meas_read.get(k) in ok_read_ids
                elif e.entity == "lesions":
                    good = k in ok_lesions
                elif e.entity == "tracking_links":
                    good = k in ok_links
                elif e.entity == "adjudications":
                    good = k in ok_adj
                else:
                    good = False
                if good:
                    out.add((e.entity, k))
            pid = {p.id: p.patient_id for p in s.scalars(select(PatientRow))}
            viewed: dict[str, list[str]] = {}
            for r in reads:
                if r.id in ok_read_ids:
                    viewed.setdefault(pid[r.patient_fk], []).append(r.read_uid)
            for a in s.scalars(select(AdjudicationRow)):
                if a.patient_fk not in conflicted:
                    viewed.setdefault(pid[a.patient_fk], [])
            return out, viewed

        return self._read(fn)

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` result on SQLite (``"ok"`` when sound); ``"ok"`` elsewhere."""
        if not self.url.startswith("sqlite"):
            return "ok"
        with self.engine.connect() as conn:
            rows = conn.execute(text("PRAGMA integrity_check")).all()
        return "\n".join(str(r[0]) for r in rows)


def _blind_entries(entries: list[AuditEntry], shown: set[tuple[str, str]]) -> list[AuditEntry]:
    """``entries`` with the content of reader-private rows not in ``shown`` withheld (see
    :meth:`Store.audit_entries`)."""
    from dataclasses import replace

    out: list[AuditEntry] = []
    prev_blinded = False
    for e in entries:
        hide = e.entity in BLINDED_TABLES and (e.entity, e.entity_key) not in shown
        if hide:
            e = replace(e, changes={}, row_hash=BLINDED, blinded=True)
        if prev_blinded:
            e = replace(e, prev_hash=BLINDED)
        out.append(e)
        prev_blinded = hide
    return out


def _create_lesion(
    s: Session, patient_id: str, lesion_id: str, organ: str | None, is_lymph_node: bool, kind: str | None,
    tracking_uid: str | None, owner: ReaderRow | None,
) -> LesionInfo:
    check_pseudonym(lesion_id, "lesion id")
    p = Store._patient(s, patient_id)
    uid = tracking_uid or new_uid()
    if s.scalar(select(LesionRow.id).where(LesionRow.tracking_uid == uid)) is not None:
        raise StoreError(f"tracking UID {uid} is already used by another lesion; omit tracking_uid to get a new one.")
    owner_fk = owner.id if owner is not None else None
    clash = s.scalar(select(LesionRow.id).where(
        LesionRow.patient_fk == p.id, LesionRow.lesion_id == lesion_id,
        (LesionRow.owner_reader_fk == owner_fk) if owner_fk is not None else LesionRow.owner_reader_fk.is_(None)))
    if clash is not None:
        raise StoreError(f"lesion id {lesion_id!r} already exists for patient {patient_id!r}; choose another lesion id.")
    s.add(LesionRow(tracking_uid=uid, patient_fk=p.id, lesion_id=lesion_id, organ=organ,
                    is_lymph_node=bool(is_lymph_node), kind=kind, owner_reader_fk=owner_fk))
    return LesionInfo(uid, patient_id, lesion_id, organ, bool(is_lymph_node), kind, owner.reader_id if owner else None)


def _treatment_kind(kind: TreatmentKind | str, patient_id: str) -> TreatmentKind:
    text_ = str(kind.value if isinstance(kind, TreatmentKind) else kind).strip()
    for member in TreatmentKind:
        if member.value.lower() == text_.lower() or member.name.lower() == text_.lower():
            return member
    raise StoreError(
        f"unknown treatment {kind!r} for patient {patient_id!r}; use one of "
        f"{[k.value for k in TreatmentKind]} (e.g. 'TACE', 'lenvatinib', 'atezolizumab_bevacizumab')."
    )


def _upsert_treatment(
    s: Session, patient_id: str, kind: TreatmentKind | str, start_date: dt.date | None, start_day: int | None,
    end_date: dt.date | None, end_day: int | None, lesion_ids: tuple[str, ...],
) -> TreatmentEventInfo:
    import json

    k = _treatment_kind(kind, patient_id)
    if start_date is None and start_day is None:
        raise StoreError(f"treatment {k.value} of patient {patient_id!r} has no start; pass start_date or start_day.")
    if start_date is not None and end_date is not None and end_date < start_date:
        raise StoreError(
            f"treatment {k.value} of patient {patient_id!r} ends ({end_date}) before it starts ({start_date}); check the dates."
        )
    p = Store._patient(s, patient_id)
    q = select(TreatmentEventRow).where(TreatmentEventRow.patient_fk == p.id, TreatmentEventRow.kind == k.value)
    q = q.where(TreatmentEventRow.start_date == start_date) if start_date is not None else q.where(
        TreatmentEventRow.start_date.is_(None), TreatmentEventRow.start_day == start_day)
    row = s.scalar(q)
    ids_json = json.dumps(list(lesion_ids))
    if row is None:
        row = TreatmentEventRow(event_uid=new_uid(), patient_fk=p.id, kind=k.value, start_date=start_date,
                                start_day=start_day, end_date=end_date, end_day=end_day, lesion_ids_json=ids_json)
        s.add(row)
    else:
        for name, value in (("start_day", start_day), ("end_date", end_date), ("end_day", end_day)):
            if value is not None and getattr(row, name) != value:
                setattr(row, name, value)
        if lesion_ids and row.lesion_ids_json != ids_json:
            row.lesion_ids_json = ids_json
    return _treatment_info(row, patient_id)


def _treatment_info(r: TreatmentEventRow, patient_id: str) -> TreatmentEventInfo:
    import json

    return TreatmentEventInfo(r.event_uid, patient_id, r.kind, r.start_date, r.end_date, r.start_day, r.end_day,
                              tuple(json.loads(r.lesion_ids_json or "[]")))


def _treatments(s: Session, p: PatientRow) -> list[TreatmentEventInfo]:
    rows = list(s.scalars(select(TreatmentEventRow).where(TreatmentEventRow.patient_fk == p.id)))
    rows.sort(key=lambda r: (r.start_date or dt.date.min, r.start_day if r.start_day is not None else -10**9, r.kind))
    return [_treatment_info(r, p.patient_id) for r in rows]


def _marker_kind(marker: MarkerKind | str, patient_id: str) -> MarkerKind:
    try:
        return MarkerKind(str(marker).strip().lower().replace("-", "_"))
    except ValueError:
        raise StoreError(
            f"unknown tumour marker {marker!r} for patient {patient_id!r}; use one of {[m.value for m in MarkerKind]}."
        ) from None


def _upsert_marker(
    s: Session, patient_id: str, marker: MarkerKind | str, value: float, date: dt.date | None, day: int | None,
    unit: str | None,
) -> TumourMarkerInfo:
    import math

    m = _marker_kind(marker, patient_id)
    canon = MARKER_UNITS[m.value]
    when = date if date is not None else f"day {day}"
    if unit is not None and unit != canon:
        raise StoreError(f"{m.value} of patient {patient_id!r} on {when} given in {unit!r}; store it in {canon!r} (convert first).")
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise StoreError(f"{m.value} of patient {patient_id!r} on {when} is {value}; a marker value must be finite and >= 0.")
    if date is None and day is None:
        raise StoreError(f"{m.value} of patient {patient_id!r} has no date; pass date or day.")
    p = Store._patient(s, patient_id)
    q = select(TumourMarkerRow).where(TumourMarkerRow.patient_fk == p.id, TumourMarkerRow.marker == m.value)
    q = q.where(TumourMarkerRow.date == date) if date is not None else q.where(TumourMarkerRow.date.is_(None), TumourMarkerRow.day == day)
    row = s.scalar(q)
    if row is None:
        row = TumourMarkerRow(marker_uid=new_uid(), patient_fk=p.id, marker=m.value, value=value, unit=canon, date=date, day=day)
        s.add(row)
    else:
        if row.value != value:
            row.value = value
        if day is not None and row.day != day:
            row.day = day
    return TumourMarkerInfo(row.marker_uid, patient_id, m.value, value, canon, row.date, row.day)


def _markers(s: Session, p: PatientRow) -> list[TumourMarkerInfo]:
    rows = list(s.scalars(select(TumourMarkerRow).where(TumourMarkerRow.patient_fk == p.id)))
    rows.sort(key=lambda r: (r.date or dt.date.min, r.day if r.day is not None else -10**9, r.marker))
    return [TumourMarkerInfo(r.marker_uid, p.patient_id, r.marker, r.value, r.unit, r.date, r.day) for r in rows]

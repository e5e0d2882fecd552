"""Schema versions of the study store and the ordered steps between them.

The store records its version in ``schema_version`` (one row per applied version).  Opening
a store runs, in one write transaction, every step whose version is above the stored one, so
a store written by an older hcc_imaging opens in a newer one with its data intact.  A store
newer than this code is refused (:class:`~hcc_imaging.errors.StoreError`): downgrading would
silently drop columns.  Every step is written to the audit log (action ``migrate``).

History
-------
* **v1** - patients, studies, series, time points, lesions, readers, reads (+ time points),
  measurements (diameters, short axis, viable diameters, volume, endpoints, provenance),
  audit log with head.
* **v2** - measurements gain ``viable_volume_mm3``, ``necrosis_fraction``,
  ``typical_hcc_pattern``, ``cytology_malignant``, ``extra_json``; reads gain ``extra_json``;
  new tables ``read_responses``,
  ``tracking_links``, ``treatment_events``, ``tumour_markers``, ``adjudications``.
* **v3** - adjudications gain ``read_uids`` (the reads decided between) and ``confirmed``
  (BOR with / without confirmation): a decision holds only for a discordance of those reads in
  that mode.  Records written before stay NULL and are matched by the reads that were the
  latest locked ones when they were recorded (:mod:`.adjudication`).

A new version adds a step function here, bumps ``constants.SCHEMA_VERSION`` and adds a test
that opens a store of the previous version built with raw SQL.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, select, text

from ..errors import StoreError
from .audit import append_entries
from .constants import SCHEMA_VERSION
from .model import (
    AdjudicationRow,
    Base,
    ReadResponseRow,
    SchemaVersionRow,
    TrackingLinkRow,
    TreatmentEventRow,
    TumourMarkerRow,
    utcnow_iso,
)

__all__ = ["MIGRATIONS", "stored_version", "ensure_schema", "append_only_ddl"]

MIGRATION_ACTOR = "system:migrate"


def append_only_ddl(dialect: str) -> list[str]:
    """DDL of triggers that refuse UPDATE and DELETE on ``audit_log``."""
    if dialect == "sqlite":
        return [
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
            "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION hcc_audit_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
            "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION hcc_audit_append_only()",
        ]
    return []


def _v2(conn: Connection) -> None:
    """v1 -> v2: four measurement columns and five new tables."""
    cols = {c["name"] for c in inspect(conn).get_columns("measurements")}
    for name, sqltype in (
        ("viable_volume_mm3", "FLOAT"),
        ("necrosis_fraction", "FLOAT"),
        ("typical_hcc_pattern", "BOOLEAN"),
        ("cytology_malignant", "BOOLEAN"),
        ("extra_json", "TEXT"),
    ):
        if name not in cols:
            conn.execute(text(f"ALTER TABLE measurements ADD COLUMN {name} {sqltype}"))
    if "extra_json" not in {c["name"] for c in inspect(conn).get_columns("reads")}:
        conn.execute(text("ALTER TABLE reads ADD COLUMN extra_json TEXT"))
    Base.metadata.create_all(
        conn,
        tables=[
            ReadResponseRow.__table__,  # type: ignore[list-item]
            TrackingLinkRow.__table__,  # type: ignore[list-item]
            TreatmentEventRow.__table__,  # type: ignore[list-item]
            TumourMarkerRow.__table__,  # type: ignore[list-item]
            AdjudicationRow.__table__,  # type: ignore[list-item]
        ],
        checkfirst=True,
    )


def _v3(conn: Connection) -> None:
    """v2 -> v3: adjudications name the reads decided between and the BOR mode."""
    cols = {c["name"] for c in inspect(conn).get_columns("adjudications")}
    for name, sqltype in (("read_uids", "TEXT"), ("confirmed", "BOOLEAN")):
        if name not in cols:
            conn.execute(text(f"ALTER TABLE adjudications ADD COLUMN {name} {sqltype}"))


#: Ordered steps: (version reached, description, function).
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (2, "measurement viable volume/necrosis/pattern/cytology; responses, tracking, treatments, markers, adjudications", _v2),
    (3, "adjudications name the reads decided between (read_uids) and the BOR mode (confirmed)", _v3),
)


def stored_version(conn: Connection) -> int | None:
    """Schema version of the store on ``conn``; None for an empty database."""
    tables = set(inspect(conn).get_table_names())
    if "schema_version" not in tables:
        if tables & {"patients", "measurements", "reads"}:
            raise StoreError(
                "the database has study tables but no schema_version table, so its layout is unknown; "
                "it was not created by hcc_imaging. Point --db at an hcc_imaging store or a new file."
            )
        return None
    v = conn.execute(select(SchemaVersionRow.version).order_by(SchemaVersionRow.version.desc())).first()
    return int(v[0]) if v else None


def ensure_schema(conn: Connection) -> tuple[int | None, int]:
    """Create or migrate the schema on ``conn`` (inside the caller's write transaction).

    Returns ``(version found, version now)``; found is None for a new store.
    """
    found = stored_version(conn)
    dialect = conn.dialect.name
    if found is None:
        Base.metadata.create_all(conn)
        for ddl in append_only_ddl(dialect):
            conn.execute(text(ddl))
        conn.execute(SchemaVersionRow.__table__.insert().values(version=SCHEMA_VERSION, applied_at=utcnow_iso()))
        append_entries(conn, MIGRATION_ACTOR, [("migrate", "schema_version", str(SCHEMA_VERSION),
                                                {"version": (None, SCHEMA_VERSION)})], genesis=True)
        return None, SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {found}, newer than this hcc_imaging supports "
            f"({SCHEMA_VERSION}); opening it could lose data. Upgrade hcc-imaging."
        )
    now = found
    for version, description, step in MIGRATIONS:
        if version <= now:
            continue
        step(conn)
        conn.execute(SchemaVersionRow.__table__.insert().values(version=version, applied_at=utcnow_iso()))
        append_entries(conn, MIGRATION_ACTOR, [("migrate", "schema_version", str(version),
                                                {"version": (now, version), "step": (None, description)})])
        now = version
    for ddl in append_only_ddl(dialect):
        if "IF NOT EXISTS" in ddl or dialect != "sqlite":
            conn.execute(text(ddl))
    return found, now

"""Tables (CSV + Parquet) per lesion-time point and per patient-criterion, plus JSON read documents.

The schema is versioned (:data:`~hcc_imaging.export.constants.TABLES_SCHEMA_VERSION`) and
documented in ``docs/tables-schema.md``; :data:`TABLE_SCHEMAS` is the single source (a test
checks the document lists every column).  Every table carries a ``schema_version`` column;
Parquet files also carry it in their key-value metadata (``hcc_imaging.tables_schema_version``).

Files written by :func:`write_tables` into ``out_dir``:

* ``lesions.csv`` / ``lesions.parquet``     one row per lesion per time point;
* ``responses.csv`` / ``responses.parquet`` one row per patient, criterion and time point;
* ``summary.csv`` / ``summary.parquet``     one row per patient and criterion (BOR, best change);
* ``reads/<patient_id>.json``               the read document (+ its assessment) per read
  (``<patient_id>_<reader_id>.json`` when a patient has several reads).

After a run, those names hold this run's files only: an earlier run's file of one of them that this
run did not write (``reads/P2.json`` of a patient not exported this time, ``lesions.parquet`` when
this run wrote CSV only) is moved to ``stale/<UTC time>/`` (:func:`set_aside_stale`), never deleted.
A de-identified export (``deidentifier=``) is refused instead, before writing, when there would be such
files or there is a ``stale/`` folder: they may be of the real ids, in a folder meant for sharing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import STALE_DIR, atomic_write, set_aside
from ..errors import HccImagingError
from .constants import TABLES_SCHEMA_VERSION
from .model import ExportRead, iter_reads

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .deid import Deidentifier

log = logging.getLogger(__name__)

__all__ = [
    "TableExportError",
    "ColumnSpec",
    "TABLE_SCHEMAS",
    "TablesInfo",
    "lesion_rows",
    "response_rows",
    "summary_rows",
    "lesion_table",
    "response_table",
    "summary_table",
    "write_tables",
    "schema_markdown",
    "set_aside_stale",
    "STALE_DIR",
]

#: The formats a table may be written in.
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")


class TableExportError(HccImagingError, ValueError):
    """Tables cannot be written as asked (unknown format ...)."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: name (unit in the name), dtype, unit, meaning."""

    name: str
    dtype: str  # "string" | "int" | "float" | "bool" | "date"
    unit: str
    description: str


def _ep_cols(prefix: str, what: str) -> list[ColumnSpec]:
    out = []
    for end in ("start", "end"):
        for ax, axname in (("x", "L (patient left +)"), ("y", "P (posterior +)"), ("z", "S (superior +)")):
            out.append(
                ColumnSpec(
                    f"{prefix}_{end}_{ax}_mm",
                    "float",
                    "mm",
                    f"{what} endpoint ({end}), LPS {axname} coordinate in the image frame of reference",
                )
            )
    return out


_COMMON = [
    ColumnSpec("schema_version", "string", "", "Version of this table schema (TABLES_SCHEMA_VERSION)"),
    ColumnSpec("patient_id", "string", "", "Patient id (the pseudonym when de-identified)"),
    ColumnSpec("reader_id", "string", "", "Reader id (pseudonymous) or algorithm that produced the read"),
]

TABLE_SCHEMAS: dict[str, list[ColumnSpec]] = {
    "lesions": _COMMON
    + [
        ColumnSpec("timepoint_id", "string", "", "Time point id as in the read document (e.g. BL, FU1)"),
        ColumnSpec("timepoint_index", "int", "", "0 = baseline, then 1, 2 ... in time order"),
        ColumnSpec("timepoint_date", "date", "ISO 8601", "Scan date (shifted when de-identified)"),
        ColumnSpec("day", "int", "days", "Day of the scan as in the read document: days from day 0, the start of treatment / randomisation (start_date; without it the baseline scan); the same day as in responses (unchanged by de-identification)"),
        ColumnSpec("lesion_id", "string", "", "Lesion id within the read (e.g. L1)"),
        ColumnSpec("tracking_uid", "string", "", "DICOM tracking UID of the lesion, stable across time points, as in the SR and SEG (the read's, else derived from it: docs/export.md; remapped when de-identified)"),
        ColumnSpec("role", "string", "", "target | non_target | new"),
        ColumnSpec("role_by_criteria", "string", "", "The lesion's role under each criterion that gives it another role than `role` (the read's role_by_criteria), as CRITERION=ROLE joined by `;` (e.g. `mRECIST=non_target` for a RECIST 1.1 target that is no mRECIST target); empty when every criterion takes `role`"),
        ColumnSpec("organ", "string", "", "Organ (liver, lymph_node, ...); at a time point whose observation does not state it, the lesion's (its first observation stating one; else `lymph_node` for a node, `liver` otherwise: docs/read-document.md)"),
        ColumnSpec("is_lymph_node", "bool", "", "True for lymph nodes (RECIST: short axis counts); when an observation does not state it, the lesion's first stated value"),
        ColumnSpec("kind", "string", "", "Non-target kind (lesion, lymph_node, pvtt, effusion, ascites) when recorded"),
        ColumnSpec("status", "string", "", "measured | too_small | absent | not_evaluable | present | unequivocal_progression | further_increase"),
        ColumnSpec("couinaud_segment", "string", "", "Couinaud liver segment I-VIII when known"),
        ColumnSpec("longest_diameter_mm", "float", "mm", "Longest axial diameter (RECIST 1.1 / WHO)"),
        ColumnSpec("short_axis_mm", "float", "mm", "Longest diameter perpendicular to the long axis (node short axis)"),
        ColumnSpec("viable_diameter_mm", "float", "mm", "Longest viable (enhancing) tumour diameter (mRECIST)"),
        ColumnSpec("viable_status", "string", "", "Status of the viable part only, as the read's viable_status: too_small (mRECIST counts it 5 mm) | absent | not_evaluable; empty when not recorded (then viable_diameter_mm, if given, is the measurement)"),
        ColumnSpec("viable_short_axis_mm", "float", "mm", "Viable tumour perpendicular diameter (EASL)"),
        ColumnSpec("volume_mm3", "float", "mm3", "Lesion volume"),
        ColumnSpec("volume_ml", "float", "mL", "Lesion volume in millilitres (= volume_mm3 / 1000)"),
        ColumnSpec("viable_volume_mm3", "float", "mm3", "Viable tumour volume"),
        ColumnSpec("necrosis_fraction", "float", "fraction", "Necrotic fraction of the lesion volume (0-1)"),
        ColumnSpec("recist_diameter_mm", "float", "mm", "RECIST 1.1 contribution: short axis for nodes, longest diameter otherwise"),
    ]
    + _ep_cols("ld", "Longest diameter")
    + _ep_cols("sa", "Short axis")
    + _ep_cols("viable", "Viable diameter")
    + _ep_cols("viable_sa", "Viable short axis")
    + [ColumnSpec("provenance", "string", "", "Who/what measured: reader id or algorithm name + version")],
    "responses": _COMMON
    + [
        ColumnSpec("criterion", "string", "", "RECIST1.1 | mRECIST | EASL | WHO | RECICL | iRECIST"),
        ColumnSpec("timepoint_id", "string", "", "Time point id"),
        ColumnSpec("timepoint_date", "date", "ISO 8601", "Scan date (shifted when de-identified)"),
        ColumnSpec("day", "int", "days", "Day of the scan as in the read document: days from day 0 (start_date; without it the baseline scan), as in lesions"),
        ColumnSpec("sum_value", "float", "see sum_unit", "Sum of target diameters (mm) or of products (mm2, WHO/EASL)"),
        ColumnSpec("sum_unit", "string", "", "mm or mm2"),
        ColumnSpec("change_from_baseline_frac", "float", "fraction", "(sum - baseline sum) / baseline sum; -0.30 = -30 %"),
        ColumnSpec("change_from_nadir_frac", "float", "fraction", "(sum - nadir sum) / nadir sum"),
        ColumnSpec("target_response", "string", "", "Target lesion response"),
        ColumnSpec("non_target_response", "string", "", "Non-target lesion response"),
        ColumnSpec("new_lesions", "bool", "", "Unequivocal new lesion(s) at this time point"),
        ColumnSpec("response", "string", "", "Overall time-point response (CR, PR, SD, PD, NE, NON-CR/NON-PD, iUPD ...); empty at baseline"),
        ColumnSpec("reasons", "string", "", "Why, as given by the classifier ('; '-separated)"),
    ],
    "summary": _COMMON
    + [
        ColumnSpec("criterion", "string", "", "Response criterion"),
        ColumnSpec("n_timepoints", "int", "", "Number of time points assessed"),
        ColumnSpec("last_day", "int", "days", "Day of the last assessment (days from day 0, as responses.day)"),
        ColumnSpec("bor_unconfirmed", "string", "", "Best overall response without confirmation"),
        ColumnSpec("bor_confirmed", "string", "", "Best overall response with confirmation (CR/PR confirmed >= 28 days)"),
        ColumnSpec("pd_day", "int", "days", "Day of first documented progression (days from day 0, as responses.day; empty if none)"),
        ColumnSpec("best_change_frac", "float", "fraction", "Most negative change of the sum from baseline (waterfall value)"),
        ColumnSpec("pfs_event", "bool", "", "PFS: True = PD or death, False = censored (criteria.md, endpoints)"),
        ColumnSpec("pfs_day", "int", "days", "PFS event or censoring day, from day 0 (never negative)"),
        ColumnSpec("ttp_event", "bool", "", "TTP: True = PD, False = censored (death without PD is censored)"),
        ColumnSpec("ttp_day", "int", "days", "TTP event or censoring day, from day 0"),
        ColumnSpec("dor_event", "bool", "", "Duration of response of a confirmed responder (BOR with confirmation CR/PR): True = PD, False = censored; empty for a non-responder"),
        ColumnSpec("dor_days", "int", "days", "Duration of response in days, from the first confirmed CR/PR (empty for a non-responder)"),
        ColumnSpec("dor_unconfirmed_event", "bool", "", "As dor_event for the BOR without confirmation"),
        ColumnSpec("dor_unconfirmed_days", "int", "days", "As dor_days for the BOR without confirmation, from the first CR/PR"),
    ],
}


@dataclass(frozen=True, slots=True)
class TablesInfo:
    """Paths written by :func:`write_tables` (table name -> {format -> path})."""

    out_dir: Path
    tables: dict[str, dict[str, Path]] = field(default_factory=dict)
    reads: tuple[Path, ...] = ()
    #: an earlier run's files this run did not write, where they were moved (:func:`set_aside_stale`)
    stale: tuple[Path, ...] = ()


def _date(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


def _ep(prefix: str, seg: Any) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for e, end in enumerate(("start", "end")):
        for a, ax in enumerate(("x", "y", "z")):
            out[f"{prefix}_{end}_{ax}_mm"] = float(seg[e][a]) if seg is not None else None
    return out


def lesion_rows(read: ExportRead) -> list[dict[str, Any]]:
    """Rows of the ``lesions`` table for one read (schema order)."""
    rows = []
    for les in read.lesions:
        tp = read.timepoint(les.timepoint_id)
        row: dict[str, Any] = {
            "schema_version": TABLES_SCHEMA_VERSION,
            "patient_id": read.patient_id,
            "reader_id": read.reader_id,
            "timepoint_id": tp.timepoint_id,
            "timepoint_index": tp.index,
            "timepoint_date": _date(tp.date),
            "day": tp.day,
            "lesion_id": les.lesion_id,
            "tracking_uid": les.tracking_uid,
            "role": les.role,
            "role_by_criteria": ";".join(f"{c}={r}" for c, r in les.role_by_criteria if r != les.role) or None,
            "organ": les.organ,
            "is_lymph_node": les.is_lymph_node,
            "kind": les.kind,
            "status": les.status,
            "couinaud_segment": les.couinaud_segment,
            "longest_diameter_mm": les.longest_diameter_mm,
            "short_axis_mm": les.short_axis_mm,
            "viable_diameter_mm": les.viable_diameter_mm,
            "viable_status": les.viable_status,
            "viable_short_axis_mm": les.viable_short_axis_mm,
            "volume_mm3": les.volume_mm3,
            "volume_ml": les.volume_mm3 / 1000.0 if les.volume_mm3 is not None else None,
            "viable_volume_mm3": les.viable_volume_mm3,
            "necrosis_fraction": les.necrosis_fraction,
            "recist_diameter_mm": les.recist_diameter_mm,
        }
        row.update(_ep("ld", les.ld_endpoints_lps))
        row.update(_ep("sa", les.sa_endpoints_lps))
        row.update(_ep("viable", les.viable_endpoints_lps))
        row.update(_ep("viable_sa", les.viable_sa_endpoints_lps))
        row["provenance"] = les.provenance
        rows.append(row)
    return rows


def response_rows(read: ExportRead) -> list[dict[str, Any]]:
    """Rows of the ``responses`` table for one read."""
    rows = []
    dates = {t.timepoint_id: t.date for t in read.timepoints}
    for r in read.responses:
        rows.append(
            {
                "schema_version": TABLES_SCHEMA_VERSION,
                "patient_id": read.patient_id,
                "reader_id": read.reader_id,
                "criterion": r.criterion,
                "timepoint_id": r.timepoint_id,
                "timepoint_date": _date(dates.get(r.timepoint_id)),
                "day": r.day,
                "sum_value": r.sum_value,
                "sum_unit": r.sum_unit,
                "change_from_baseline_frac": r.change_from_baseline_frac,
                "change_from_nadir_frac": r.change_from_nadir_frac,
                "target_response": r.target_response,
                "non_target_response": r.non_target_response,
                "new_lesions": r.new_lesions,
                "response": r.response,
                "reasons": "; ".join(r.reasons),
            }
        )
    return rows


def summary_rows(read: ExportRead) -> list[dict[str, Any]]:
    """Rows of the ``summary`` table (one per criterion) for one read."""
    rows = []
    for s in read.summaries:
        tps = read.responses_for(s.criterion)
        days = [t.day for t in tps if t.day is not None]
        rows.append(
            {
                "schema_version": TABLES_SCHEMA_VERSION,
                "patient_id": read.patient_id,
                "reader_id": read.reader_id,
                "criterion": s.criterion,
                "n_timepoints": len(tps),
                "last_day": max(days) if days else None,
                "bor_unconfirmed": s.bor_unconfirmed,
                "bor_confirmed": s.bor_confirmed,
                "pd_day": s.pd_day,
                "best_change_frac": s.best_change_frac,
                "pfs_event": None if s.pfs is None else s.pfs[0],
                "pfs_day": None if s.pfs is None else s.pfs[1],
                "ttp_event": None if s.ttp is None else s.ttp[0],
                "ttp_day": None if s.ttp is None else s.ttp[1],
                "dor_event": None if s.dor is None else s.dor[0],
                "dor_days": None if s.dor is None else s.dor[1],
                "dor_unconfirmed_event": None if s.dor_unconfirmed is None else s.dor_unconfirmed[0],
                "dor_unconfirmed_days": None if s.dor_unconfirmed is None else s.dor_unconfirmed[1],
            }
        )
    return rows


def _frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    cols = [c.name for c in TABLE_SCHEMAS[name]]
    df = pd.DataFrame(rows, columns=cols)
    for c in TABLE_SCHEMAS[name]:
        if c.dtype == "float":
            df[c.name] = pd.to_numeric(df[c.name], errors="raise").astype("Float64")
        elif c.dtype == "int":
            df[c.name] = pd.array([None if v is None or v != v else int(v) for v in df[c.name]], dtype="Int64")
        elif c.dtype == "bool":
            df[c.name] = pd.array([None if v is None or v != v else bool(v) for v in df[c.name]], dtype="boolean")
        else:
            df[c.name] = df[c.name].astype("string")
    return df


def _collect(reads: Iterable[ExportRead], fn: Callable[[ExportRead], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in reads:
        rows.extend(fn(r))
    return rows


def lesion_table(reads: Any, assessments: Any = None) -> pd.DataFrame:
    """The ``lesions`` table (pandas, nullable dtypes) for one read or many."""
    return _frame("lesions", _collect(iter_reads(reads, assessments), lesion_rows))


def response_table(reads: Any, assessments: Any = None) -> pd.DataFrame:
    """The ``responses`` table for one read or many."""
    return _frame("responses", _collect(iter_reads(reads, assessments), response_rows))


def summary_table(reads: Any, assessments: Any = None) -> pd.DataFrame:
    """The ``summary`` table for one read or many."""
    return _frame("summary", _collect(iter_reads(reads, assessments), summary_rows))


def _atomic_write(path: Path, writer: Callable[[str], None]) -> Path:
    return atomic_write(path, writer)
    return path


def _write_df(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    if fmt == "csv":
        return _atomic_write(path, lambda p: df.to_csv(p, index=False, lineterminator="\n"))

    def _pq(p: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"hcc_imaging.tables_schema_version"] = TABLES_SCHEMA_VERSION.encode()
        pq.write_table(table.replace_schema_metadata(meta), p)

    return _atomic_write(path, _pq)


def _safe_name(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s) or "patient"


def _read_file_names(reads: Sequence[ExportRead]) -> list[str]:
    """``<patient>.json`` per read; reads that would share a name (several reads of a patient:
    two readers, a read and its SR import) get ``<patient>_<reader>.json``, and ``_2``, ``_3`` ...
    after that when even those are equal (one file per read, never one overwriting another)."""
    base = [_safe_name(r.patient_id) for r in reads]
    names = [
        b if base.count(b) == 1 else f"{b}_{_safe_name(r.reader_id or 'reader')}" for b, r in zip(base, reads)
    ]
    out: list[str] = []
    for n in names:
        name, k = n, 1
        while name in out:
            k += 1
            name = f"{n}_{k}"
        out.append(name)
    return [f"{n}.json" for n in out]


def write_tables(
    reads: Any,
    out_dir: str | os.PathLike[str],
    *,
    assessments: Any = None,
    formats: Sequence[str] = ("csv", "parquet"),
    deidentifier: Deidentifier | None = None,
    write_reads: bool = True,
    leave_alone: Iterable[str | os.PathLike[str]] = (),
) -> TablesInfo:
    """Write the lesion, response and summary tables (+ JSON read documents).

    Parameters
    ----------
    reads : read document(s)
        One read document (ReadDocument, dict, JSON path, ExportRead) or a sequence of them.
    out_dir : path
        Output folder (created).
    assessments : optional
        One assessment, a sequence parallel to ``reads``, or ``{patient_id: assessment}``.
    formats : {"csv", "parquet"}, ...
    deidentifier : Deidentifier, optional
        Pseudonymise ids, shift dates, remap UIDs in every table and JSON file.
    leave_alone : paths, optional
        Files in ``out_dir`` this call did not write that stay where they are all the same (not
        set aside as an earlier export's, :func:`set_aside_stale`): a caller's files that only look
        like an export's (``hcc-imaging demo`` passes what a user put in its folder).

    Returns
    -------
    TablesInfo
    """
    bad = [f for f in formats if f not in TABLE_FORMATS]
    if bad or not formats:
        raise TableExportError(f"unknown table format(s) {bad}" if bad else "no table format given (it wrote no table)"
                               + "; use formats=('csv', 'parquet') or one of them (CLI --format csv,parquet).")
    out = Path(out_dir)
    if deidentifier is not None:
        deidentifier.check_outside(out)
    all_reads = list(iter_reads(reads, assessments))
    if deidentifier is not None:
        all_reads = [r.deidentified(deidentifier) for r in all_reads]
        _refuse_leftovers(out, [out / f"{name}.{fmt}" for name in TABLE_SCHEMAS for fmt in formats]
                          + ([out / "reads" / n for n in _read_file_names(all_reads)] if write_reads else []))
    frames = {
        "lesions": _frame("lesions", _collect(all_reads, lesion_rows)),
        "responses": _frame("responses", _collect(all_reads, response_rows)),
        "summary": _frame("summary", _collect(all_reads, summary_rows)),
    }
    info = TablesInfo(out_dir=out)
    for name, df in frames.items():
        info.tables[name] = {fmt: _write_df(df, out / f"{name}.{fmt}", fmt) for fmt in formats}
    read_paths = []
    if write_reads:
        for r, file_name in zip(all_reads, _read_file_names(all_reads)):
            payload = {
                "tables_schema_version": TABLES_SCHEMA_VERSION,
                "read_document": dict(r.document) if r.document is not None else None,
                "responses": response_rows(r),
                "summary": summary_rows(r),
            }
            text = json.dumps(payload, indent=1, sort_keys=False, default=str)
            p = out / "reads" / file_name
            read_paths.append(_atomic_write(p, lambda tmp, t=text: Path(tmp).write_text(t, encoding="utf-8")))
    written = [p for d in info.tables.values() for p in d.values()] + read_paths
    stale = set_aside_stale(out, [*written, *leave_alone])
    return TablesInfo(out_dir=out, tables=info.tables, reads=tuple(read_paths), stale=tuple(stale))


def _own_files(out_dir: Path) -> list[Path]:
    """The files of ``out_dir`` named as :func:`write_tables` names its own: the tables in every
    format and ``reads/*.json`` (nothing else of the folder: a user's files there are theirs)."""
    own = [out_dir / f"{name}.{fmt}" for name in TABLE_SCHEMAS for fmt in TABLE_FORMATS]
    reads = out_dir / "reads"
    if reads.is_dir():
        own.extend(sorted(p for p in reads.glob("*.json") if not p.name.startswith(".")))
    return [p for p in own if p.is_file() or p.is_symlink()]


def _refuse_leftovers(out: Path, will_write: Sequence[Path]) -> None:
    """Refuse a de-identified export into a folder holding files that it would neither replace nor may keep: an
    earlier export's tables or ``reads/*.json`` of other names, or a ``stale/`` folder.  They may be of the real
    ids (a non-de-identified export into the same folder), and a de-identified export's folder is for sharing:
    setting them aside into ``stale/`` left them in it.  Nothing is deleted; the user moves them."""
    will = {p.resolve() for p in will_write}
    left = [p for p in _own_files(out) if p.resolve() not in will]
    stale_dir = out / STALE_DIR
    if not left and not (stale_dir.exists() or stale_dir.is_symlink()):
        return
    what = []
    if left:
        what.append(f"{len(left)} file(s) of an earlier export that this one would not replace ("
                    + ", ".join(str(p.relative_to(out)) for p in left[:5]) + (" ..." if len(left) > 5 else "") + ")")
    if stale_dir.exists() or stale_dir.is_symlink():
        what.append(f"{STALE_DIR}/ (an earlier export's files set aside)")
    raise TableExportError(
        f"de-identified export into {out} refused: the folder holds {' and '.join(what)}, which may hold real patient "
        f"ids, and a de-identified export must leave no identifiable file in its folder (an export sets such files "
        f"aside into {STALE_DIR}/, inside it). Move or delete them, or export into a new, empty folder "
        "(--out); nothing was written.")


def set_aside_stale(out_dir: str | os.PathLike[str], written: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Move the files of ``out_dir`` that :func:`write_tables` writes (tables, ``reads/*.json``) but
    that are not in ``written`` (this run's) to ``out_dir/stale/<UTC time>/`` (same relative path),
    with one warning; returns their new paths.

    A re-run with fewer reads left the earlier run's ``reads/<patient>.json`` of the others beside
    this run's, and one with ``--format csv`` the earlier ``*.parquet``: files a user then took as
    this run's.  They are moved, not deleted (they may hold measurements made nowhere else), as the
    batch does with its own (``OUT/stale/``).  Hidden files (an atomic write's temp file) and files
    of other names are left alone.
    """
    out = Path(out_dir)
    kept = {Path(p).resolve() for p in written}
    stale = [p for p in _own_files(out) if p.resolve() not in kept]
    if not stale:
        return []
    dest, moved = set_aside(out, stale)
    log.warning("%d file(s) of an earlier export that this one did not write (%s) moved to %s: they are not "
                "this export's", len(moved),
                ", ".join(str(p.relative_to(out)) for p in stale[:5]) + (" ..." if len(stale) > 5 else ""), dest)
    return moved


def schema_markdown() -> str:
    """The column tables of ``docs/tables-schema.md`` (generated from :data:`TABLE_SCHEMAS`)."""
    lines = []
    for name, cols in TABLE_SCHEMAS.items():
        lines.append(f"### `{name}`\n")
        lines.append("| column | type | unit | meaning |")
        lines.append("|---|---|---|---|")
        for c in cols:
            lines.append(f"| `{c.name}` | {c.dtype} | {c.unit} | {c.description} |")
        lines.append("")
    return "\n".join(lines)

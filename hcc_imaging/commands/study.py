"""``hcc-imaging study ...``: the longitudinal study store and the blinded reader workflow.

Every command takes ``--db PATH_OR_URL`` (default ``$HCC_IMAGING_DB``, else the user data
directory) and ``--json``.  Reader-scoped commands need ``--reader ID`` and show only that
reader's data; adjudication and agreement need ``--adjudicator ID``.  See docs/study.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", default=None, help="store path or SQLAlchemy URL (default: $HCC_IMAGING_DB, else user data dir)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return p


def _reader_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reader", required=True, help="your reader id (you see only your own reads)")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def register(subparsers: Any) -> None:
    common = _common()
    p = subparsers.add_parser("study", help="longitudinal study store: readers, reads, adjudication, agreement, audit",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="study_cmd", metavar="ACTION", required=True)

    x = sub.add_parser("init", parents=[common], help="create (or migrate) the store and print where it is")
    x.set_defaults(func=run, action="init")

    reader = sub.add_parser("reader", help="readers and adjudicators").add_subparsers(dest="sub", required=True)
    x = reader.add_parser("add", parents=[common], help="register a reader (pseudonymous code)")
    x.add_argument("reader_id")
    x.add_argument("--role", default="reader", choices=["reader", "adjudicator"])
    x.set_defaults(func=run, action="reader-add")
    x = reader.add_parser("list", parents=[common], help="list readers")
    x.set_defaults(func=run, action="reader-list")

    patient = sub.add_parser("patient", help="patients (pseudonymous ids)").add_subparsers(dest="sub", required=True)
    x = patient.add_parser("add", parents=[common], help="register a patient by pseudonymous id")
    x.add_argument("patient_id")
    x.add_argument("--exist-ok", action="store_true", help="an existing patient of this id is reused, not refused")
    x.set_defaults(func=run, action="patient-add")
    x = patient.add_parser("list", parents=[common], help="list patients")
    x.set_defaults(func=run, action="patient-list")

    tp = sub.add_parser("timepoint", help="time points of a patient").add_subparsers(dest="sub", required=True)
    x = tp.add_parser("add", parents=[common], help="add a time point (BL, FU1...)")
    x.add_argument("patient_id")
    x.add_argument("timepoint_id")
    x.add_argument("--date", type=_date, default=None)
    x.add_argument("--day", type=int, default=None, help="day offset from study entry")
    x.add_argument("--exist-ok", action="store_true", help="an existing time point of this id is reused, not refused")
    x.set_defaults(func=run, action="timepoint-add")
    x = tp.add_parser("list", parents=[common], help="list a patient's time points")
    x.add_argument("patient_id")
    x.set_defaults(func=run, action="timepoint-list")

    x = sub.add_parser("treatment", parents=[common], help="record a treatment event (TACE, lenvatinib, ...)")
    x.add_argument("patient_id")
    x.add_argument("kind", help="TACE, TARE, lenvatinib, sorafenib, atezolizumab_bevacizumab, resection, ablation, ...")
    x.add_argument("--start", type=_date, required=True)
    x.add_argument("--end", type=_date, default=None)
    x.set_defaults(func=run, action="treatment-add")

    x = sub.add_parser("marker", parents=[common], help="record a tumour marker (afp ng/mL, afp_l3 %%, pivka_ii mAU/mL)")
    x.add_argument("patient_id")
    x.add_argument("marker")
    x.add_argument("value", type=float)
    x.add_argument("--date", type=_date, required=True)
    x.set_defaults(func=run, action="marker-add")

    lesion = sub.add_parser("lesion", help="tracked lesions").add_subparsers(dest="sub", required=True)
    x = lesion.add_parser("add", parents=[common], help="create a lesion with a new tracking UID (private to --reader)")
    x.add_argument("patient_id")
    x.add_argument("lesion_id")
    _reader_arg(x)
    x.add_argument("--organ", default="liver")
    x.add_argument("--lymph-node", action="store_true")
    x.set_defaults(func=run, action="lesion-add")
    x = lesion.add_parser(
        "update", parents=[common], help="change the organ, lymph-node flag or kind of one of --reader's lesions",
        description="Change one of your own lesions (not a shared one, nor one measured in a locked read of yours); "
                    "audited. Only the options given change. --organ lymph_node makes it a lymph node (kind "
                    "lymph_node) and another organ makes it not one, unless --lymph-node / --no-lymph-node says "
                    "otherwise.")
    x.add_argument("patient_id")
    x.add_argument("lesion", help="lesion id or tracking UID")
    _reader_arg(x)
    x.add_argument("--organ", default=None, help="liver, lymph_node, lung, portal_vein, adrenal_gland, bone, ...")
    x.add_argument("--lymph-node", action=argparse.BooleanOptionalAction, default=None,
                   help="it is (not) a lymph node (default: as --organ says, else unchanged)")
    x.add_argument("--kind", default=None, choices=["lesion", "lymph_node", "pvtt", "effusion", "ascites"],
                   help="what the finding is (default: as --organ / --lymph-node say, else unchanged)")
    x.set_defaults(func=run, action="lesion-update")
    x = lesion.add_parser("list", parents=[common], help="lesions visible to --reader (shared + own)")
    x.add_argument("patient_id")
    _reader_arg(x)
    x.set_defaults(func=run, action="lesion-list")

    read = sub.add_parser("read", help="a reader's reads").add_subparsers(dest="sub", required=True)
    x = read.add_parser("start", parents=[common], help="start a draft read")
    x.add_argument("patient_id")
    _reader_arg(x)
    x.add_argument("--timepoints", required=True, help="comma list, baseline first (BL,FU1,FU2)")
    x.add_argument("--criteria", default="", help="comma list (RECIST1.1,mRECIST,...)")
    x.set_defaults(func=run, action="read-start")
    x = read.add_parser("list", parents=[common], help="list your reads")
    _reader_arg(x)
    x.add_argument("--patient", default=None)
    x.set_defaults(func=run, action="read-list")
    x = read.add_parser("show", parents=[common], help="your read: measurements and (once locked) responses")
    x.add_argument("read_uid")
    _reader_arg(x)
    x.set_defaults(func=run, action="read-show")
    x = read.add_parser(
        "record", parents=[common], help="record (create or update) one measurement",
        description="Record one lesion at one time point of your draft read. A new record takes role 'target' and "
                    "status 'measured' unless given. On a lesion already recorded at that time point, every option "
                    "you omit KEEPS its recorded value: role, status, sizes, endpoints (a new size without new "
                    "--endpoints drops only that axis' old line), and the fields this command has no option for "
                    "(enhancing, necrosis fraction, note, split_from...); so '--sa 15' changes the short axis only. "
                    "A changed size or endpoint makes the record's provenance this command's (manual line, or "
                    "--algorithm). A changed --viable / --viable-sa without --viable-status clears a recorded viable "
                    "status (too_small, absent, not_evaluable: the criteria read it before the size) and says so. "
                    "Pass --replace to replace the whole record instead (omitted options are cleared).")
    x.add_argument("read_uid")
    _reader_arg(x)
    x.add_argument("--timepoint", required=True)
    x.add_argument("--lesion", required=True, help="lesion id or tracking UID")
    x.add_argument("--role", default=None, choices=["target", "non_target", "new"],
                   help="default: the recorded role, else target")
    x.add_argument("--status", default=None, help="default: the recorded status, else measured")
    x.add_argument("--ld", type=float, default=None, help="longest diameter, mm")
    x.add_argument("--sa", type=float, default=None, help="short axis, mm")
    x.add_argument("--viable", type=float, default=None, help="viable (enhancing) diameter, mm")
    x.add_argument("--viable-sa", type=float, default=None, help="viable short axis, mm")
    x.add_argument("--viable-status", default=None, metavar="STATUS",
                   help="state of the viable (enhancing) part: measured, too_small (counts as the rule's default), "
                        "absent (0 mm) or not_evaluable; default: the recorded one, cleared when --viable or "
                        "--viable-sa changes the viable size")
    x.add_argument("--volume", type=float, default=None, help="volume, mm3")
    x.add_argument("--endpoints", default=None, help='JSON: {"long": [[x,y,z],[x,y,z]], ...} in LPS mm')
    x.add_argument("--algorithm", default=None, help="algorithm name (provenance); default: manual line")
    x.add_argument("--algorithm-version", default=None)
    x.add_argument("--parameters", default=None, help="JSON object of the algorithm's parameters")
    x.add_argument("--replace", action="store_true",
                   help="replace the whole record: omitted options are cleared (role target, status measured)")
    x.set_defaults(func=run, action="read-record")
    x = read.add_parser("lock", parents=[common], help="lock your read: validate, assess each criterion, make final")
    x.add_argument("read_uid")
    _reader_arg(x)
    x.set_defaults(func=run, action="read-lock")

    x = sub.add_parser("import-read", parents=[common], help="import a read document (JSON) as your draft read")
    x.add_argument("document", type=Path)
    _reader_arg(x)
    x.add_argument("--criteria", default=None, help="override the document's criteria (comma list)")
    x.add_argument("--lock", action="store_true",
                   help="lock the read too, in the same transaction: if the lock fails nothing is imported")
    x.set_defaults(func=run, action="import-read")

    x = sub.add_parser("export-read", parents=[common], help="export a read as a read document (JSON)")
    x.add_argument("read_uid")
    who = x.add_mutually_exclusive_group(required=True)
    who.add_argument("--reader", help="your reader id (your own reads)")
    who.add_argument("--adjudicator", help="adjudicator id (locked reads)")
    x.add_argument("--out", type=Path, default=None, help="write to this file (default: stdout)")
    x.set_defaults(func=run, action="export-read")

    x = sub.add_parser("adjudicate", parents=[common], help="list discordances of a patient, or record a decision")
    x.add_argument("patient_id")
    x.add_argument("--adjudicator", required=True)
    x.add_argument("--criteria", required=True)
    x.add_argument("--confirmed", action="store_true", help="compare BOR with confirmation")
    x.add_argument("--discordance", choices=["bor", "pd_date"], default=None)
    x.add_argument("--choose", default=None, help="read UID that stands for the discordance")
    x.add_argument("--reason", default=None, help="why that read was chosen (required with --choose)")
    x.set_defaults(func=run, action="adjudicate")

    x = sub.add_parser("agreement", parents=[common], help="inter-reader agreement (kappa, ICC(2,1), Bland-Altman)")
    x.add_argument("--adjudicator", required=True)
    x.add_argument("--criteria", required=True, help="comma list")
    x.add_argument("--readers", required=True, help="two reader ids, comma separated")
    x.add_argument("--confirmed", action="store_true", help="BOR with confirmation")
    x.set_defaults(func=run, action="agreement")

    x = sub.add_parser("track", parents=[common],
                       help="propose follow-up <-> baseline lesion matches from two label masks (optionally confirm)")
    x.add_argument("baseline_mask", type=Path, help="baseline label map (NIfTI, DICOM SEG, ...); label names = lesion ids")
    x.add_argument("followup_mask", type=Path, help="follow-up label map")
    x.add_argument("--registration", type=Path, default=None,
                   help="registration JSON (hcc_imaging.segment.register, fixed = baseline, moving = follow-up)")
    x.add_argument("--min-containment", type=float, default=None, help="overlap link threshold (fraction, default 0.2)")
    x.add_argument("--max-distance-mm", type=float, default=None, help="distance link threshold (mm, default 15)")
    x.add_argument("--confirm", action="store_true",
                   help="store the proposal as --reader's confirmed tracking (refused, nothing stored, when a "
                        "proposal is flagged [needs review], unless --accept-flagged)")
    x.add_argument("--accept-flagged", action="store_true",
                   help="with --confirm: the reader has reviewed the proposals flagged [needs review]; store them "
                        "as proposed too")
    x.add_argument("--reader", default=None, help="reader confirming (with --confirm)")
    x.add_argument("--patient", default=None, help="patient id (with --confirm)")
    x.add_argument("--timepoint", default=None, help="follow-up time point id (with --confirm)")
    x.set_defaults(func=run, action="track")

    audit = sub.add_parser("audit", help="the hash-chained audit log").add_subparsers(dest="sub", required=True)
    x = audit.add_parser("verify", parents=[common], help="verify the hash chain (exit 2 if tampered)")
    x.set_defaults(func=run, action="audit-verify")
    x = audit.add_parser("log", parents=[common], help="print the audit log (values of reader data blinded)")
    x.add_argument("--last", type=int, default=50, help="show the last N rows (0 = all)")
    x.add_argument("--adjudicator", default=None, help="adjudicator id: show reader-private values too")
    x.set_defaults(func=run, action="audit-log")


def _jsonable(obj: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj


def _out(args: argparse.Namespace, obj: Any, text: str) -> None:
    if args.json:
        json.dump(_jsonable(obj), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text)


def _viable_text(m: Any) -> str:
    """The viable part as ``read show`` prints it: its size, and its status when one is recorded
    (``21.0``, ``None (too_small)``, ``0.0 (absent)``); mRECIST reads the status before the size."""
    return f"{m.viable_diameter_mm} ({m.viable_status})" if m.viable_status else f"{m.viable_diameter_mm}"


def _json_arg(text: str | None, name: str) -> Any:
    from ..errors import StoreError

    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise StoreError(f"{name} is not valid JSON ({err.msg} at column {err.colno}); quote it, e.g. "
                         "'{\"long\": [[0,0,0],[10,0,0]]}'.") from None


def _has_timepoint(store: Any, patient_id: str, timepoint_id: str) -> bool:
    """Whether the patient already has this time point (False for an unknown patient: adding says so)."""
    from ..errors import StoreError

    try:
        return any(t.timepoint_id == timepoint_id for t in store.timepoints(patient_id))
    except StoreError:
        return False


@contextlib.contextmanager
def _cli_words() -> Iterator[None]:
    """Say the command line's option where the store's message names the API keyword."""
    from ..errors import StoreError

    try:
        yield
    except StoreError as err:
        text = str(err)
        if "pass exist_ok=True" not in text:
            raise
        raise StoreError(text.replace("pass exist_ok=True", "pass --exist-ok")) from None


def run(args: argparse.Namespace) -> int:
    """Run one study command.  With ``--json`` an error is a JSON object ``{"error": message,
    "type": exception class}`` on stderr (exit code 2, as without ``--json``)."""
    from ..errors import HccImagingError

    try:
        return _run(args)
    except HccImagingError as err:
        if not getattr(args, "json", False) or getattr(args, "debug", False):
            raise
        json.dump({"error": str(err), "type": type(err).__name__}, sys.stderr)
        sys.stderr.write("\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..errors import AuditIntegrityError
    from ..study import AdjudicatorSession, ReaderSession, Store

    action = args.action
    store = Store(args.db)
    try:
        if action == "init":
            _out(args, {"db": store.shown_url, "schema_version": store.schema_version},
                 f"study store {store.shown_url} (schema v{store.schema_version})")
        elif action == "reader-add":
            r = store.add_reader(args.reader_id, args.role)
            _out(args, r, f"added {r.role} {r.reader_id}")
        elif action == "reader-list":
            rs = store.readers()
            _out(args, rs, "\n".join(f"{r.reader_id}\t{r.role}" for r in rs) or "(no readers)")
        elif action == "patient-add":
            existed = args.exist_ok and any(x.patient_id == args.patient_id for x in store.patients())
            with _cli_words():
                p = store.add_patient(args.patient_id, exist_ok=args.exist_ok)
            _out(args, {**_jsonable(p), "created": not existed},
                 f"patient {p.patient_id} exists (kept)" if existed else f"added patient {p.patient_id}")
        elif action == "patient-list":
            ps = store.patients()
            _out(args, ps, "\n".join(p.patient_id for p in ps) or "(no patients)")
        elif action == "timepoint-add":
            existed = args.exist_ok and _has_timepoint(store, args.patient_id, args.timepoint_id)
            with _cli_words():
                t = store.add_timepoint(args.patient_id, args.timepoint_id, args.date, args.day,
                                        exist_ok=args.exist_ok)
            _out(args, {**_jsonable(t), "created": not existed},
                 f"time point {t.timepoint_id} of {t.patient_id} exists (kept)" if existed
                 else f"added time point {t.timepoint_id} of {t.patient_id}")
        elif action == "timepoint-list":
            ts = store.timepoints(args.patient_id)
            _out(args, ts, "\n".join(f"{t.timepoint_id}\t{t.date or ''}\t{'' if t.day_offset is None else t.day_offset}" for t in ts))
        elif action == "treatment-add":
            e = store.add_treatment_event(args.patient_id, args.kind, args.start, args.end)
            _out(args, e, f"recorded {e.kind} for {e.patient_id} from {e.start_date}")
        elif action == "marker-add":
            m = store.add_tumour_marker(args.patient_id, args.marker, args.value, args.date)
            _out(args, m, f"recorded {m.marker} {m.value:g} {m.unit} for {m.patient_id} on {m.date}")
        elif action == "lesion-add":
            les = ReaderSession(store, args.reader).add_lesion(args.patient_id, args.lesion_id, organ=args.organ,
                                                               is_lymph_node=args.lymph_node)
            _out(args, les, f"lesion {les.lesion_id} tracking UID {les.tracking_uid}")
        elif action == "lesion-update":
            les = ReaderSession(store, args.reader).update_lesion(args.patient_id, args.lesion,
                                                                  **_lesion_changes(args.organ, args.lymph_node, args.kind))
            _out(args, les, f"lesion {les.lesion_id} ({les.tracking_uid}): organ {les.organ or '-'}, "
                            f"{'lymph node' if les.is_lymph_node else 'not a lymph node'}, kind {les.kind or 'lesion'}")
        elif action == "lesion-list":
            ls = ReaderSession(store, args.reader).lesions(args.patient_id)
            _out(args, ls, "\n".join(f"{x.lesion_id}\t{x.tracking_uid}\t{x.organ or ''}\t{x.owner or 'shared'}" for x in ls))
        elif action == "read-start":
            r = ReaderSession(store, args.reader).start_read(args.patient_id, [t for t in args.timepoints.split(",") if t],
                                                            args.criteria)
            _out(args, r, r.read_uid)
        elif action == "read-list":
            rs = ReaderSession(store, args.reader).reads(args.patient)
            _out(args, rs, "\n".join(f"{r.read_uid}\t{r.patient_id}\t{r.status}\t{','.join(r.criteria)}\t{','.join(r.timepoint_ids)}"
                                     for r in rs) or "(no reads)")
        elif action == "read-show":
            sess = ReaderSession(store, args.reader)
            info = sess.read(args.read_uid)
            ms = sess.measurements(args.read_uid)
            rsp = sess.responses(args.read_uid)
            lines = [f"read {info.read_uid} of {info.patient_id} by {info.reader_id}: {info.status}"]
            lines += [f"  {m.timepoint_id}\t{m.lesion_id}\t{m.role}\t{m.status}\tLD {m.longest_diameter_mm}\tSA {m.short_axis_mm}"
                      f"\tviable {_viable_text(m)}\t{m.source_kind}" for m in ms]
            lines += [f"  {r.criteria}\t{r.timepoint_id or 'BOR'}\t{r.category}" for r in rsp]
            _out(args, {"read": info, "measurements": ms, "responses": rsp}, "\n".join(lines))
        elif action == "read-record":
            kind = "algorithm" if args.algorithm else None
            m = ReaderSession(store, args.reader).record_measurement(
                args.read_uid, args.timepoint, args.lesion, role=args.role, status=args.status,
                longest_diameter_mm=args.ld, short_axis_mm=args.sa, viable_diameter_mm=args.viable,
                viable_short_axis_mm=args.viable_sa, volume_mm3=args.volume, viable_status=args.viable_status,
                endpoints_lps=_json_arg(args.endpoints, "--endpoints"), source_kind=kind, algorithm_name=args.algorithm,
                algorithm_version=args.algorithm_version, parameters=_json_arg(args.parameters, "--parameters"),
                keep_recorded=not args.replace)
            for note in m.notes:  # (a stale viable status cleared)
                print(f"note: {note}", file=sys.stderr)
            _out(args, m, f"recorded {m.lesion_id} at {m.timepoint_id} ({m.measurement_uid})")
        elif action == "read-lock":
            sess = ReaderSession(store, args.reader)
            r = sess.lock(args.read_uid)
            rsp = sess.responses(args.read_uid)
            _out(args, {"read": r, "responses": rsp}, f"locked {r.read_uid}\n" + "\n".join(
                f"  {x.criteria}\t{x.timepoint_id or 'BOR'}\t{x.category}" for x in rsp))
        elif action == "import-read":
            sess = ReaderSession(store, args.reader)
            r = sess.import_document(args.document, criteria=args.criteria, lock=args.lock)
            _out(args, r, f"{args.document} is already in the store, unchanged: locked read {r.read_uid} of reader "
                          f"{r.reader_id} has the same content (nothing imported, no adjudication reopened)"
                 if r.unchanged else f"imported {args.document} as read {r.read_uid} ({r.status})")
        elif action == "export-read":
            if args.reader:
                doc = ReaderSession(store, args.reader).export_document(args.read_uid)
            else:
                doc = AdjudicatorSession(store, args.adjudicator).export_document(args.read_uid)
            if args.out is not None:
                doc.save(args.out)
                print(f"wrote {args.out}", file=sys.stderr)
            else:
                print(doc.dumps())
        elif action == "adjudicate":
            adj = AdjudicatorSession(store, args.adjudicator)
            if args.choose is not None:
                from ..errors import StoreError

                if args.discordance is None or args.reason is None:
                    raise StoreError("--choose needs --discordance (bor or pd_date) and --reason 'why this read'.")
                a = adj.adjudicate(args.patient_id, args.criteria, args.discordance, args.choose, args.reason,
                                   confirmed=args.confirmed)
                _out(args, a, f"adjudicated {a.discordance} of {a.patient_id} ({a.criteria}): read {a.chosen_read_uid}")
            else:
                ds = adj.discordances(args.patient_id, args.criteria, confirmed=args.confirmed)
                lines = []
                for d in ds:
                    lines.append(f"{d.kind.value} discordance ({d.criteria})" + (
                        f" - adjudicated: read {d.adjudication.chosen_read_uid}" if d.adjudication else " - open"))
                    lines += [f"  {v[1]}\t{v[0]}\t{v[2]}" for v in d.values]
                _out(args, ds, "\n".join(lines) or "no discordance")
        elif action == "agreement":
            adj = AdjudicatorSession(store, args.adjudicator)
            readers = [r for r in args.readers.split(",") if r]
            if len(readers) != 2:
                from ..errors import StoreError

                raise StoreError(f"--readers needs exactly two reader ids, got {readers}.")
            reports = [adj.agreement(c.strip(), readers[0], readers[1], confirmed=args.confirmed)
                       for c in args.criteria.split(",") if c.strip()]

            def fmt(v: float | None) -> str:
                return "undefined" if v is None else f"{v:.3f}"

            lines = []
            for rep in reports:
                ba = rep.bland_altman_sum
                lines.append(
                    f"{rep.criteria}: kappa time points {fmt(rep.kappa_timepoint)} (n={rep.n_timepoints}); kappa BOR "
                    f"{fmt(rep.kappa_bor)} (n={rep.n_patients}); ICC(2,1) sums {fmt(rep.icc_sum.value if rep.icc_sum else None)} "
                    + (f"[95% CI {fmt(rep.icc_sum.ci_lower)} to {fmt(rep.icc_sum.ci_upper)}] " if rep.icc_sum else "")
                    + f"(n={rep.n_sums}); Bland-Altman bias {fmt(ba.mean_diff if ba else None)} {rep.sum_unit}, limits "
                    + (f"{ba.lower_loa:.2f} to {ba.upper_loa:.2f} {rep.sum_unit}" if ba else "undefined"))
                lines += [f"  note: {n}" for n in rep.notes]
            _out(args, [r.to_json() for r in reports], "\n".join(lines))
        elif action == "track":
            _track(args, store)
        elif action == "audit-verify":
            report = store.audit_verify(raise_on_error=False)
            _out(args, report, f"audit log OK ({report.n_rows} rows; {report.n_sealed_reads} locked read(s) match their seal)" if report.ok else
                 "audit log FAILED:\n" + "\n".join(f"  {p}" for p in report.problems))
            if not report.ok:
                raise AuditIntegrityError(f"the audit log of {store.shown_url} does not verify ({len(report.problems)} problem(s)); "
                                          "restore the store from a backup and keep this copy for investigation.")
        elif action == "audit-log":
            es = store.audit_entries(adjudicator_id=args.adjudicator)
            es = es[-args.last:] if args.last > 0 else es
            _out(args, es, "\n".join(f"{e.seq}\t{e.ts}\t{e.actor}\t{e.action}\t{e.entity}\t{e.entity_key}" for e in es))
    finally:
        store.close()
    return 0


def _lesion_changes(organ: str | None, lymph_node: bool | None, kind: str | None) -> dict[str, Any]:
    """``update_lesion`` keywords of ``study lesion update``: an organ says whether it is a node
    (``lymph_node``: a node of kind lymph_node) unless ``--(no-)lymph-node`` / ``--kind`` say it."""
    from ..errors import StoreError

    if organ is None and lymph_node is None and kind is None:
        raise StoreError("study lesion update: nothing to change; give --organ, --lymph-node / --no-lymph-node or --kind.")
    out: dict[str, Any] = {}
    if organ is not None:
        out["organ"] = organ.strip() or None
        if lymph_node is None:
            lymph_node = organ.strip() == "lymph_node"
    if lymph_node is not None:
        out["is_lymph_node"] = lymph_node
        if kind is None:
            kind = "lymph_node" if lymph_node else "lesion"
    if kind is not None:
        out["kind"] = None if kind == "lesion" else kind
    return out


def _track(args: argparse.Namespace, store: Any) -> None:
    from ..errors import StoreError
    from ..io.masks import load_lesion_map
    from ..study import ReaderSession
    from ..study.constants import MAX_CENTROID_DISTANCE_MM, MIN_CONTAINMENT_FRAC
    from ..study.tracking import assign_tracking_uids, propose_matches

    transform = None
    if args.registration is not None:
        from ..segment.register import Registration

        try:
            transform = Registration.from_json(args.registration.read_text(encoding="utf-8"))
        except OSError as err:
            raise StoreError(f"cannot read the registration {args.registration}: {err.strerror}; check --registration.") from None
    # the lesion ids a labels.json beside a NIfTI map gives (what the batch saves), as `measure` reads them:
    # named by label value, the same lesion numbered differently per time point is taken for another
    followup, organs = load_lesion_map(args.followup_mask, None)
    prop = propose_matches(
        load_lesion_map(args.baseline_mask, None)[0], followup, transform=transform,
        min_containment_frac=MIN_CONTAINMENT_FRAC if args.min_containment is None else args.min_containment,
        max_centroid_distance_mm=MAX_CENTROID_DISTANCE_MM if args.max_distance_mm is None else args.max_distance_mm)
    result: dict[str, Any] = {"proposals": list(prop.proposals)}
    lines = [f"{p.kind.value:12s} {','.join(p.baseline) or '-':12s} -> {','.join(p.followup) or '-':12s} {p.reason}"
             + (" [needs review]" if p.needs_review else "") for p in prop.proposals]
    if args.confirm:
        if not (args.reader and args.patient and args.timepoint):
            raise StoreError("--confirm needs --reader, --patient and --timepoint (the follow-up time point).")
        flagged = [p for p in prop.proposals if p.needs_review]
        if flagged and not args.accept_flagged:
            raise StoreError(
                f"nothing stored: {len(flagged)} proposal(s) need a reader's review before they are confirmed as "
                f"{args.reader!r}'s tracking at {args.timepoint!r}: "
                + "; ".join(f"{p.kind.value} {','.join(p.baseline) or '-'} -> {','.join(p.followup) or '-'} ({p.reason})"
                            for p in flagged)
                + ". Look at them on the images (the proposals: the same command without --confirm), correct the "
                "masks (or the links, with study.correct_assignment in Python), or, when they are right as proposed, "
                "run again with --confirm --accept-flagged.")
        sess = ReaderSession(store, args.reader)
        visible = {les.lesion_id: les.tracking_uid for les in sess.lesions(args.patient)}
        names = sorted({b for p in prop.proposals for b in p.baseline})
        missing = [n for n in names if n not in visible]
        if missing:
            raise StoreError(f"baseline mask labels {missing} are not lesions of patient {args.patient!r} visible to reader "
                             f"{args.reader!r}; create them first ('study lesion add') or rename the mask labels.")
        links = sess.confirm_tracking(args.patient, args.timepoint, assign_tracking_uids(prop, {n: visible[n] for n in names}),
                                      organs=organs, accept_flagged=args.accept_flagged)
        result["confirmed"] = links
        made = {les.tracking_uid: les for les in sess.lesions(args.patient)}
        lines += [f"confirmed {x.followup_label} -> {x.tracking_uid} ({x.relation}; {x.change})"
                  + (f" lesion {made[x.tracking_uid].lesion_id}, organ {made[x.tracking_uid].organ}"
                     if x.relation == "new" and x.tracking_uid in made else "") for x in links]
        if flagged:
            result["accepted_flagged"] = sorted({f for p in flagged for f in p.followup})
            lines.append(f"stored with --accept-flagged: {len(flagged)} proposal(s) flagged [needs review] "
                         f"(follow-up {', '.join(result['accepted_flagged'])})")
    _out(args, result, "\n".join(lines))

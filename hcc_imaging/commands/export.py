"""``hcc-imaging export {sr,seg,csv,sdtm,report,import-sr} ...`` (docs/export.md).

Every export takes ``--deidentify [--pseudonym-map PATH]``: PS3.15 basic profile for DICOM,
pseudonyms and shifted dates for tables, SDTM and reports.  The pseudonym map is a JSON file
kept outside the export (default: the user data folder); the same map gives the same
pseudonyms, date shifts and UIDs in every later export.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import HccImagingError

__all__ = ["register", "run", "ExportCliError", "add_deid_arguments", "deidentifier_from_args"]


class ExportCliError(HccImagingError, ValueError):
    """Bad command-line arguments for ``hcc-imaging export``."""


def _common(p: argparse.ArgumentParser, *, assessment: bool = True) -> None:
    if assessment:
        p.add_argument("--assessment", action="append", default=[], metavar="JSON",
                       help="response assessment (output of `hcc-imaging assess --json`); one per read, same order")
        p.add_argument("--criteria", default=None,
                       help="compute the assessment now: comma-separated criteria (recist1.1,mrecist,...) or 'all'")
    add_deid_arguments(p)
    p.add_argument("--json", action="store_true", help="print the written paths as JSON on stdout")


def _series_uid_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--series-uid", action="append", default=[], metavar="[TP=]UID",
                   help="which series of the --images of time point TP, when it holds several (hcc-imaging index PATH "
                        "lists them); without TP=: of every --images; repeatable")


def add_deid_arguments(p: argparse.ArgumentParser, what: str = "de-identify") -> None:
    """``--deidentify [--pseudonym-map PATH]`` (every export, and ``batch``)."""
    p.add_argument("--deidentify", action="store_true",
                   help=f"{what} (DICOM PS3.15 basic profile; pseudonyms and shifted dates in tables)")
    p.add_argument("--pseudonym-map", default=None, metavar="PATH",
                   help="pseudonym map JSON to use/extend (kept OUTSIDE the export; default: user data folder)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="DICOM SR/SEG, CSV/Parquet, CDISC SDTM, HTML reports",
                              description="Export reads to standards: DICOM SR TID 1500, DICOM SEG, "
                                          "CSV/Parquet tables, CDISC SDTM TU/TR/RS, HTML reports.")
    sub = p.add_subparsers(dest="export_kind", metavar="KIND", required=True)

    sr = sub.add_parser("sr", help="DICOM SR TID 1500 of a read document")
    sr.add_argument("read", help="read document (JSON)")
    sr.add_argument("--out", required=True, help="output .dcm file")
    sr.add_argument("--images", action="append", default=[], metavar="[TP=]PATH",
                    help="image series of time point TP (folder/zip); repeatable")
    _series_uid_argument(sr)
    sr.add_argument("--seg", action="append", default=[], metavar="[TP=]SEG.dcm",
                    help="DICOM SEG of time point TP to reference; repeatable")
    sr.add_argument("--timepoints", default=None, help="comma-separated time point ids to report (default all)")
    sr.add_argument("--final", action="store_true", help="mark the report FINAL (a locked read) instead of PRELIMINARY")
    sr.add_argument("--link-patient", action="store_true",
                    help="the read's patient id is another id (a pseudonym) of the images' patient: file the SR under "
                         "the images' patient (refused without it)")
    _common(sr)

    seg = sub.add_parser("seg", help="DICOM SEG of lesion (and viable) masks over a series")
    seg.add_argument("--image", required=True, help="source image series (folder, zip, files)")
    seg.add_argument("--series-uid", default=None, metavar="UID",
                     help="which series of --image, when it holds several (hcc-imaging index PATH lists them)")
    seg.add_argument("--labels", required=True, help="lesion label mask (NIfTI, SEG, ...) on that series; a NIfTI map's lesion ids and "
                          "organs from the labels.json beside it, when there (as the batch saves them)")
    seg.add_argument("--viable", default=None, help="viable-tumour label mask (same label values)")
    seg.add_argument("--read", default=None, help="read document, to copy the lesions' tracking UIDs")
    seg.add_argument("--link-patient", action="store_true",
                     help="the --read's patient id is another id (a pseudonym) of the image's patient")
    seg.add_argument("--out", required=True, help="output .dcm file")
    _common(seg, assessment=False)

    for kind, helptext in (("csv", "CSV + Parquet tables and JSON read documents"),
                           ("sdtm", "CDISC SDTM TU, TR, RS as CSV"),
                           ("report", "self-contained HTML report (one read: patient; several: cohort)")):
        q = sub.add_parser(kind, help=helptext)
        q.add_argument("reads", nargs="+", help="read document(s) (JSON)")
        q.add_argument("--out", required=True,
                       help="output folder" + (" or .html file (a folder, existing or written with a trailing /, gets "
                                               "report_<patient>.html or cohort_report.html)" if kind == "report" else ""))
        if kind == "csv":
            q.add_argument("--format", default="csv,parquet",
                           help="comma-separated, one or both of: csv, parquet (default csv,parquet)")
        if kind == "sdtm":
            q.add_argument("--studyid", default="HCCIMG", help="SDTM STUDYID")
            q.add_argument("--evaluator", default="INDEPENDENT ASSESSOR", help="TUEVAL/TREVAL/RSEVAL")
            q.add_argument("--modality", default="CT", choices=["CT", "MR"], help="TUMETHOD/TRMETHOD")
        if kind == "report":
            q.add_argument("--images", action="append", default=[], metavar="[TP=]PATH",
                           help="image series per time point for key images (one read only)")
            _series_uid_argument(q)
            q.add_argument("--link-patient", action="store_true",
                           help="the read's patient id is another id (a pseudonym) of the --images' patient "
                                "(refused without it)")
            q.add_argument("--cohort", action="store_true", help="cohort report even for one read")
        _common(q)

    img = sub.add_parser("images", help="de-identified copies of DICOM images (same map as the SR/SEG export)")
    img.add_argument("sources", nargs="+", help="DICOM files or folders (walked recursively)")
    img.add_argument("--out", required=True, help="output folder")
    img.add_argument("--patient-id", default=None,
                     help="id keying the pseudonym and date shift (default: each file's PatientID)")
    _common(img, assessment=False)

    imp = sub.add_parser("import-sr", help="read a TID 1500 SR (ours or another tool's) into a read document")
    imp.add_argument("sr", help="DICOM SR file")
    imp.add_argument("--out", default=None, help="write the read document JSON here")
    imp.add_argument("--json", action="store_true", help="print the measurement records as JSON")
    imp.add_argument("--db", default=None, help="also import into this study store (SQLite path or SQLAlchemy URL)")
    imp.add_argument("--reader", default=None, help="reader of the imported read (default: the SR's observer)")
    imp.add_argument("--patient-id", default=None, help="patient id to use instead of the SR's PatientID")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------------
def deidentifier_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~hcc_imaging.export.deid.Deidentifier` ``--deidentify [--pseudonym-map]`` ask for (None without)."""
    if not getattr(args, "deidentify", False):
        if getattr(args, "pseudonym_map", None):
            raise ExportCliError("--pseudonym-map given without --deidentify; add --deidentify (or drop the map).")
        return None
    from ..export.deid import Deidentifier

    path = args.pseudonym_map
    if path is None:
        from platformdirs import user_data_dir

        path = str(Path(user_data_dir("hcc-imaging")) / "pseudonym_map.json")
    print(f"pseudonym map: {path} (keep it separate from the export)", file=sys.stderr)
    return Deidentifier(path)


def _pairs(values: Sequence[str], what: str) -> dict[str | None, str]:
    out: dict[str | None, str] = {}
    for v in values:
        if "=" in v and not Path(v).exists():
            k, _, path = v.partition("=")
            out[k] = path
        else:
            if None in out:
                raise ExportCliError(f"several {what} without a time point; write them as TP=PATH.")
            out[None] = v
    return out


def _load_doc(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ExportCliError(f"cannot read read document {path}: {err}. Pass a JSON read document.") from err
    if not isinstance(data, dict):
        raise ExportCliError(f"{path}: a read document is a JSON object.")
    from ..export.model import unwrap_read_document

    return unwrap_read_document(data, path)  # (the tables' reads/<patient>.json wraps the read)


def _load_assessment(path: str, doc: dict[str, Any], read_path: str | None = None) -> Any:
    """One ``--assessment`` file, checked against the read it goes with (same patient, reader and time
    points; made from this version of the read: ``export.assessment_check``); every error names both
    files."""
    from ..export.model import ExportInputError, as_export_read

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ExportCliError(f"cannot read --assessment {path}: {err}. Pass the JSON printed by "
                             "`hcc-imaging assess --json`.") from err
    read = as_export_read(doc)
    try:
        read.with_assessment(data)
    except ExportInputError as err:
        of = f"the read {read_path}, " if read_path else "the read of "
        raise ExportCliError(f"--assessment {path} (for {of}patient {read.patient_id!r}, reader "
                             f"{read.reader_id!r}): {err}") from err
    return data


def _assessments(args: argparse.Namespace, docs: list[dict[str, Any]],
                 paths: Sequence[str | None] | None = None) -> list[Any] | None:
    if args.assessment and args.criteria:
        raise ExportCliError("give either --assessment or --criteria, not both.")
    if args.assessment:
        if len(args.assessment) != len(docs):
            raise ExportCliError(
                f"{len(args.assessment)} --assessment file(s) for {len(docs)} read(s); give one per read, same order."
            )
        paths = list(paths) if paths is not None else [None] * len(docs)
        return [_load_assessment(a, d, p) for a, d, p in zip(args.assessment, docs, paths)]
    if args.criteria:
        from ..response import ReadDocument
        from ..response.engine import assess
        from .assess import parse_criteria

        crits = parse_criteria(args.criteria)
        return [assess(ReadDocument.from_json(d), crits).to_json() for d in docs]
    return None


def _series_uids(values: Sequence[str], image_tps: Sequence[str]) -> dict[str | None, str]:
    """``--series-uid [TP=]UID`` values: {time point or None (every --images): series UID}."""
    out: dict[str | None, str] = {}
    for v in values:
        tp, sep, uid = v.rpartition("=")
        key = tp if sep else None
        if key in out:
            raise ExportCliError(f"--series-uid given twice for {'time point ' + repr(key) if key else 'every --images'}; "
                                 "give one UID per time point (TP=UID).")
        if key is not None and key not in image_tps:
            raise ExportCliError(f"--series-uid {v}: no --images for time point {key!r} (--images are for {list(image_tps)}).")
        out[key] = uid.strip()
    return out


def _volumes(specs: Sequence[str], timepoints: list[str], *, default_to_baseline: bool = False,
             series_uids: Sequence[str] = ()) -> dict[str, Any]:
    from ..io import load_series

    pairs = _pairs(specs, "--images")
    resolved: dict[str, str] = {}
    for tp, path in pairs.items():
        if tp is None:
            if len(timepoints) != 1 and len(pairs) == 1 and default_to_baseline:
                tp = timepoints[0]  # a single image goes to the baseline (report key images)
            elif len(timepoints) != 1:
                raise ExportCliError("--images without TP= is ambiguous for a multi-time-point read; use TP=PATH.")
            else:
                tp = timepoints[0]
        if tp not in timepoints:
            raise ExportCliError(f"--images {tp}=...: no time point {tp!r} in the read (has {timepoints}).")
        resolved[tp] = path
    uids = _series_uids(series_uids, list(resolved))
    return {tp: load_series(path, series_uid=uids.get(tp, uids.get(None))) for tp, path in resolved.items()}


def _same_patient(read_patient: str, images: dict[str, Any], link: bool) -> None:
    """Refuse a read exported over another patient's images (:func:`hcc_imaging.export.patient_check.
    check_same_patient`, which ``write_sr`` / ``write_report`` run too), as a usage error naming the flags."""
    from ..export.patient_check import PatientMismatchError, check_same_patient

    try:
        check_same_patient(read_patient, images, link_patient=link, cli=True)
    except PatientMismatchError as err:
        raise ExportCliError(str(err)) from None


def _emit(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


def _tp_ids(doc: dict[str, Any]) -> list[str]:
    from ..export.model import as_export_read

    return [t.timepoint_id for t in as_export_read(doc).timepoints]


def run(args: argparse.Namespace) -> int:
    kind = args.export_kind
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"exporting {kind} ..."):
        if kind == "sr":
            return _run_sr(args)
        if kind == "seg":
            return _run_seg(args)
        if kind == "import-sr":
            return _run_import(args)
        if kind == "images":
            return _run_images(args)
        return _run_tables(args, kind)


def _run_sr(args: argparse.Namespace) -> int:
    from ..export.seg import seg_info_from_file
    from ..export.sources import check_timepoint_sources
    from ..export.sr import write_sr

    deid = deidentifier_from_args(args)
    if deid is not None:
        deid.check_outside(Path(args.out).parent)
    doc = _load_doc(args.read)
    assess = _assessments(args, [doc], [args.read])
    tps = _tp_ids(doc)
    wanted = [t.strip() for t in args.timepoints.split(",")] if args.timepoints else None
    if args.series_uid and not args.images:
        raise ExportCliError("--series-uid chooses a series of --images; add --images (or drop --series-uid).")
    vols = _volumes(args.images, wanted or tps, series_uids=args.series_uid) if args.images else None
    if vols:
        _same_patient(str(doc.get("patient_id") or ""), {f"--images {tp}": v for tp, v in vols.items()}, args.link_patient)
    segs = None
    if args.seg:
        segs = {}
        for tp, path in _pairs(args.seg, "--seg").items():
            key = tp if tp is not None else (wanted or tps)[0] if len(wanted or tps) == 1 else None
            if key is None:
                raise ExportCliError("--seg without TP= is ambiguous for a multi-time-point read; use TP=SEG.dcm.")
            segs[key] = seg_info_from_file(path)
    # (write_sr checks too; here with the flags in the message)
    check_timepoint_sources(doc, vols, segs, link_patient=args.link_patient, deidentifier=deid, cli=True)
    try:
        info = write_sr(doc, args.out, assessment=assess[0] if assess else None, images=vols, segs=segs,
                        timepoints=wanted, deidentifier=deid, final=args.final, link_patient=args.link_patient)
    finally:  # (the map relates what was written to its originals: saved whatever happens)
        if deid is not None:
            deid.save()
    return _emit(args, {"sr": str(info.path), "lesion_groups": info.n_lesion_groups,
                        "response_groups": info.n_response_groups})


def _run_seg(args: argparse.Namespace) -> int:
    from ..export.seg import write_seg
    from ..io import load_series
    from ..io.masks import load_lesion_map, load_mask

    deid = deidentifier_from_args(args)
    if deid is not None:
        deid.check_outside(Path(args.out).parent)
    vol = load_series(args.image, series_uid=args.series_uid)
    # a NIfTI map with the labels.json the batch saves beside it: its lesion ids and organs
    labels, map_organs = load_lesion_map(args.labels, vol)
    viable = load_mask(args.viable, reference=vol, label_names=dict(labels.labels)) if args.viable else None
    tuids: dict[str, str] = {}
    organs: dict[str, str] = dict(map_organs)
    kinds: dict[str, str] = {}
    if args.read:
        from ..export.model import as_export_read

        read_doc = _load_doc(args.read)
        _same_patient(str(read_doc.get("patient_id") or ""), {"--image": vol}, args.link_patient)
        for les in as_export_read(read_doc).lesions:
            if les.tracking_uid:
                tuids.setdefault(les.lesion_id, les.tracking_uid)
            if les.is_lymph_node or les.organ:  # the read says it: it wins over the labels.json
                organs[les.lesion_id] = "lymph_node" if les.is_lymph_node else str(les.organ)
            else:
                organs.setdefault(les.lesion_id, "liver")
            if les.kind:
                kinds.setdefault(les.lesion_id, les.kind)
    try:
        info = write_seg(labels, vol, args.out, viable=viable, tracking_uids=tuids or None, organs=organs or None,
                         kinds=kinds or None, deidentifier=deid)
    finally:  # (the map relates what was written to its originals: saved whatever happens)
        if deid is not None:
            deid.save()
    return _emit(args, {"seg": str(info.path), "segments": dict(info.segments)})


def _run_images(args: argparse.Namespace) -> int:
    from ..export.deid import deidentify_files

    if not args.deidentify:
        raise ExportCliError(
            "export images writes de-identified copies only; add --deidentify (plain copies need no tool)."
        )
    deid = deidentifier_from_args(args)
    files: list[Path] = []
    for s in args.sources:
        p = Path(s)
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    try:
        written = deidentify_files(files, args.out, deid, patient_id=args.patient_id)
    finally:
        # the map is the only link of the copies (new UIDs, shifted dates) to their originals:
        # saved also when the copy stops half-way (a re-run would give the same files other UIDs)
        deid.save()
    by_reason: dict[str, list[str]] = {}
    for path, reason in written.skipped:
        by_reason.setdefault(reason, []).append(str(path))
    for reason, paths in by_reason.items():
        shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
        print(f"warning: skipped {len(paths)} file(s), {reason}: {shown}", file=sys.stderr)
    rc = _emit(args, {"images": len(written), "skipped": len(written.skipped), "out": str(args.out)})
    if not written:
        print(f"error: no image copied from {', '.join(args.sources)} ({len(written.skipped)} file(s) skipped, see "
              "above). Pass folders or files that hold DICOM images.", file=sys.stderr)
        return 2
    return rc


def _run_import(args: argparse.Namespace) -> int:
    from ..export.sr_import import read_sr, require_lesions, sr_to_read_document

    rep = read_sr(args.sr)
    doc, assessment = sr_to_read_document(rep, patient_id=args.patient_id)
    require_lesions(rep, doc, assessment)  # nothing to import: say what the SR holds, exit non-zero
    read_uid = None
    if args.db:
        from ..export.sr_import import import_sr_into_store
        from ..study import Store

        with Store(args.db) as store:
            read_uid = import_sr_into_store(rep, store, reader_id=args.reader, patient_id=args.patient_id).read_uid
    if args.out:
        from ..export.tables import _atomic_write

        payload = json.dumps(doc, indent=1)
        _atomic_write(Path(args.out), lambda p: Path(p).write_text(payload, encoding="utf-8"))
    records = [
        {"tracking_identifier": m.tracking_identifier, "tracking_uid": m.tracking_uid, "time_point": m.time_point,
         "concept": str(m.concept), "value": m.value, "unit": m.unit, "value_std": m.value_std,
         "unit_std": m.unit_std, "derivation": str(m.derivation) if m.derivation else None,
         "finding_sites": [str(s) for s in m.finding_sites]}
        for m in rep.records()
    ]
    if args.json:
        print(json.dumps({"patient_id": rep.patient_id, "groups": len(rep.groups), "records": records,
                          "read_document": doc, "assessment": assessment, "store_read_uid": read_uid}, indent=1))
    else:
        print(f"{args.sr}: {len(rep.groups)} measurement group(s), {len(records)} measurement(s)")
        for r in records:
            print(f"  {r['tracking_identifier'] or '-'}: {r['concept']} = {r['value']:g} {r['unit']}")
        if args.out:
            print(f"read document: {args.out}")
        if read_uid:
            print(f"imported into the store as draft read {read_uid}")
    return 0


def _table_formats(value: str) -> list[str]:
    """``--format`` as a list; an empty one (``--format ""``, ``--format ,``) wrote no table and
    exited 0, an unknown one gave the API's message: both a usage error naming the option."""
    from ..export.tables import TABLE_FORMATS

    fmts = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in fmts if f not in TABLE_FORMATS]
    if not fmts or bad:
        what = f"has unknown format(s) {', '.join(bad)}" if bad else "names no format"
        raise ExportCliError(f"--format {value!r} {what}; allowed: {', '.join(TABLE_FORMATS)} "
                             "(comma-separated, e.g. --format csv,parquet).")
    return list(dict.fromkeys(fmts))


def _run_tables(args: argparse.Namespace, kind: str) -> int:
    fmts = _table_formats(args.format) if kind == "csv" else []  # (a usage error before any work)
    deid = deidentifier_from_args(args)
    docs = [_load_doc(p) for p in args.reads]
    assess = _assessments(args, docs, args.reads)
    if deid is None:
        return _emit(args, _write_tables_kind(args, kind, docs, assess, fmts, None))
    from ..export.report import _report_path

    # refused before anything is written (the exporters check too): the map is saved below whatever
    # happens, and must never be saved into the export
    deid.check_outside(_report_path(args.out, "report.html").parent if kind == "report" else Path(args.out))
    try:
        result = _write_tables_kind(args, kind, docs, assess, fmts, deid)
    finally:
        # the map relates what was written to its originals: saved also when the export stops half-way
        # (tables or tu.csv written, reads/ or rs.csv not), or those files' pseudonyms match no one
        deid.save()
    return _emit(args, result)


def _write_tables_kind(args: argparse.Namespace, kind: str, docs: list[dict[str, Any]], assess: list[Any] | None,
                       fmts: list[str], deid: Any) -> dict[str, Any]:
    """Write ``export csv``, ``sdtm`` or ``report``; the written paths (what ``--json`` prints)."""
    out = Path(args.out)
    result: dict[str, Any] = {}
    if kind == "csv":
        from ..export.tables import write_tables

        info = write_tables(docs, out, assessments=assess, formats=fmts, deidentifier=deid)
        result = {name: {f: str(p) for f, p in d.items()} for name, d in info.tables.items()}
        result["reads"] = [str(p) for p in info.reads]
        if info.stale:  # (and a warning on stderr)
            result["stale"] = [str(p) for p in info.stale]
    elif kind == "sdtm":
        from ..export.sdtm import write_sdtm

        s = write_sdtm(docs, out, assessments=assess, studyid=args.studyid, evaluator=args.evaluator,
                       modality=args.modality, deidentifier=deid, read_names=list(args.reads))
        result = {"tu": str(s.tu), "tr": str(s.tr), "rs": str(s.rs), "metadata": str(s.metadata)}
    else:
        from ..export.report import write_cohort_report, write_report

        if len(docs) > 1 or args.cohort:
            if args.images or args.series_uid:
                raise ExportCliError("--images (and --series-uid) are for a one-patient report; drop them for a cohort "
                                     "report.")
            path = write_cohort_report(docs, args.out, assessments=assess, deidentifier=deid)
        else:
            if args.series_uid and not args.images:
                raise ExportCliError("--series-uid chooses a series of --images; add --images (or drop --series-uid).")
            vols = (_volumes(args.images, _tp_ids(docs[0]), default_to_baseline=True, series_uids=args.series_uid)
                    if args.images else None)
            if vols:  # (write_report checks too; here with the flags in the message)
                from ..export.sources import check_timepoint_sources

                _same_patient(str(docs[0].get("patient_id") or ""), {f"--images {tp}": v for tp, v in vols.items()},
                              args.link_patient)

                check_timepoint_sources(docs[0], vols, product="report", cli=True, link_patient=args.link_patient)
            path = write_report(docs[0], args.out, assessment=assess[0] if assess else None, images=vols,
                                deidentifier=deid, link_patient=args.link_patient)
        result = {"report": str(path)}
    return result

"""``hcc-imaging batch SOURCE --out DIR [--workers N | --scheduler ADDR] [--resume] [--strict]``.

Measure and assess a whole archive (folder tree, zip, DICOMDIR or ``dicomweb+http://`` server)
on Dask distributed: one task per study, results streamed to ``DIR/store`` as they finish,
resumable after a crash, failures as rows in ``DIR/failures.csv``.  See ``docs/batch.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

__all__ = ["register", "run", "resume_command"]

#: The ``batch`` sub-parser (set by :func:`register`): its options rebuild the command line to resume.
_PARSER: argparse.ArgumentParser | None = None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "batch",
        help="measure + assess a whole archive on Dask (resumable)",
        description=(
            "Per study: index, load the needed series, lesion masks beside the study (lesions.nii.gz / "
            "viable.nii.gz, DICOM SEG or RTSTRUCT, or seeds.json), measure; per patient: read document "
            "and response assessment. Outputs Parquet + CSV tables, read documents and failures.csv."
        ),
    )
    p.add_argument("source", help="folder, zip, DICOMDIR, or dicomweb+http://HOST:PORT/dicom-web")
    p.add_argument("--out", required=True, help="output folder")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None,
                   help="local worker processes, 1 thread each (default: one per core)")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on an existing Dask scheduler instead of a local cluster")
    p.add_argument("--threads", action="store_true",
                   help="local cluster of threads instead of processes (debugging)")
    p.add_argument("--resume", action="store_true", help="skip studies already finished in --out")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any study or patient failed, or a folder held no readable DICOM file")
    p.add_argument("--criteria", default=None,
                   help="comma-separated criteria or 'all' (default recist1.1,mrecist)")
    p.add_argument("--reformat", choices=("error", "axial"), default="error",
                   help="non-axial series: fail the study (default) or measure on an axial reformat")
    p.add_argument("--on-tilt", choices=("error", "resample"), default="error",
                   help="a gantry-tilted series: fail the study (default) or resample it onto an orthogonal grid")
    p.add_argument("--on-irregular", choices=("error", "resample"), default="error",
                   help="a series with missing slices or uneven spacing: fail the study (default) or resample it to "
                        "regular slices (gaps interpolated)")
    p.add_argument("--export-sr", action="store_true",
                   help="write a DICOM SEG per study and a TID 1500 SR per patient (DICOMweb: STOW them back)")
    p.add_argument("--carry", action="store_true",
                   help="a study without lesion masks or seeds gets its patient's lesions from the latest earlier "
                        "study that has them, carried and segmented there (seed the baselines, measure every follow-up)")
    p.add_argument("--bias-correct", action="store_true",
                   help="a study whose lesions are segmented (seeds, --carry): its MR series divided by their N4 bias "
                        "field first (CT as it is; as segment --bias-correct)")
    p.add_argument("--fragments", choices=("sum", "hull"), default="sum",
                   help="a lesion label of several separate pieces: a split lesion, the fragments' diameters summed "
                        "(RECIST 1.1, default), or one object (hull); as for measure")
    from .export import add_deid_arguments

    add_deid_arguments(p, "also write a de-identified copy of the results for sharing, OUT/deidentified/")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    p.set_defaults(func=run)
    global _PARSER
    _PARSER = p


def resume_command(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> str:
    """The command line that continues this run: the same SOURCE, ``--out`` and options (those not
    at their default), and ``--resume``, quoted for a POSIX shell."""
    parser = parser or _PARSER
    assert parser is not None, "register() builds the batch parser first"
    positional: list[str] = []
    options: list[str] = []
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction) or a.dest in ("func", "resume"):
            continue
        v = getattr(args, a.dest, None)
        if not a.option_strings:
            positional.append(str(v))
            continue
        flag = next((o for o in a.option_strings if o.startswith("--")), a.option_strings[0])
        if isinstance(a, argparse._StoreTrueAction):
            if v:
                options.append(flag)
        elif v is not None and v != a.default:
            options += [flag, str(v)]
    return shlex.join(["hcc-imaging", "batch", *positional, *options, "--resume"])


def run(args: argparse.Namespace) -> int:
    from hcc_imaging.batch import PipelineOptions, run_batch
    from hcc_imaging.batch.constants import DEFAULT_CRITERIA
    from hcc_imaging.batch.errors import BatchInterrupted

    from .export import deidentifier_from_args

    from .assess import parse_criteria

    crit = tuple(parse_criteria(args.criteria)) if args.criteria else DEFAULT_CRITERIA
    deid = deidentifier_from_args(args)
    opts = PipelineOptions(criteria=crit, reformat=args.reformat, export_sr=args.export_sr, carry=args.carry,
                           on_tilt=args.on_tilt, on_irregular=args.on_irregular, fragments=args.fragments,
                           bias_correct=args.bias_correct)
    try:
        summary = run_batch(
            args.source,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            options=opts,
            processes=not args.threads,
            progress=not args.no_progress and not args.json and sys.stderr.isatty(),
            deidentifier=deid,
        )
    except BatchInterrupted as err:
        done = f"{err.n_done} of {err.n_studies}" if err.n_studies is not None else f"{err.n_done}"
        print(f"interrupted: {done} studies done and kept in {err.out_dir}/store (the tables are written when the "
              f"run is complete). To continue, run:\n  {resume_command(args)}", file=sys.stderr, flush=True)
        return 130
    if args.json:
        print(json.dumps(summary.to_json(), indent=2, sort_keys=True))
    else:
        print(
            f"{summary.n_studies} studies ({summary.n_skipped} already done, {summary.n_processed} run, "
            f"{summary.n_failed_studies} failed), {summary.n_patients} patients "
            f"({summary.n_failed_patients} failed) in {summary.elapsed_s:.1f} s on {summary.workers} worker(s)\n"
            f"results: {summary.out_dir}/lesions.csv, responses.csv, failures.csv, reads/"
            + (f", masks/ ({summary.n_masks_saved} studies segmented by the run)" if summary.n_masks_saved else "")
        )
        if summary.n_stale_temps_removed:
            print(f"removed {summary.n_stale_temps_removed} temporary file(s) an interrupted run left in "
                  f"{summary.out_dir} (half-written, never results)")
        if deid is not None:
            print(f"de-identified copy: {summary.out_dir}/deidentified/ (tables, reads"
                  + (", SEGs, SRs)" if args.export_sr else ")"))
        if summary.n_files_skipped:
            print(f"{summary.n_files_skipped} file(s) in {summary.n_folders_with_skipped} folder(s) could not be read "
                  f"as DICOM and were skipped: {summary.out_dir}/skipped.csv"
                  + (f"; nothing was read from {len(summary.folders_not_read)} folder(s): "
                     + ", ".join(summary.folders_not_read[:5])
                     + (f" and {len(summary.folders_not_read) - 5} more" if len(summary.folders_not_read) > 5 else "")
                     + " (failures.csv, step index)" if summary.folders_not_read else ""))
        if summary.n_lesions_to_check:
            print(f"{summary.n_lesions_to_check} lesion mask(s) to check: lesions.csv's segmentation_checks column")
        if summary.n_incomplete_studies:
            print(f"{summary.n_incomplete_studies} study(ies) measured with lesion masks cut by the image's field or "
                  "viable masks outside their lesions (failures.csv step incomplete; lesions.csv's mask_problems column)")
        if summary.n_stale_set_aside:
            print(f"{summary.n_stale_set_aside} file(s) of earlier runs that this run did not write (reads, assessments, "
                  f"SEGs, SRs of patients whose read failed or who are not in SOURCE) moved to {summary.out_dir}/stale/")
    return 1 if args.strict and summary.n_failures else 0

"""``hcc-imaging index PATH [--json]``: list patients / studies / series with phase, geometry and problems.

Reads headers only (never pixels).  PATH is a folder, a .zip or a DICOMDIR.  Patient names are
never read or printed; patients are shown by PatientID.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "index",
        help="list patients/studies/series of a folder, zip or DICOMDIR with phase and geometry checks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", help="folder, .zip or DICOMDIR")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument("--files", action="store_true", help="with --json: include each series' file list")
    p.add_argument("--skipped", action="store_true", help="also list the files skipped as not DICOM")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..io import index_archive
    from ..io.index import source_exists

    err = Console(stderr=True)
    if not source_exists(args.path):
        print(f"error: {args.path} does not exist. Pass a folder, a .zip or a DICOMDIR.", file=sys.stderr)
        return 2
    if args.json or not err.is_terminal:
        idx = index_archive(args.path)
    else:
        with Progress(TextColumn("reading headers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as prog:
            task = prog.add_task("scan", total=None)

            def cb(done: int, total: int) -> None:
                prog.update(task, completed=done, total=total)

            idx = index_archive(args.path, progress=cb)
    if args.json:
        d = idx.to_dict()
        if not args.files:
            for p in d["patients"]:
                for st in p["studies"]:
                    for se in st["series"]:
                        se.pop("files", None)
        json.dump(d, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print_table(idx, show_skipped=args.skipped)
    return 0


def _print_table(idx: Any, *, show_skipped: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..io.index import NO_PATIENT_ID_PREFIX

    out = Console()
    n_series = len(idx.series)
    # studies of masks stored as CT images (3D-IRCADb's MASKS_DICOM) are no patients: listed apart
    masks = [st for st in idx.studies if st.masks_only]
    n_patients = sum(1 for p in idx.patients if not all(st.masks_only for st in p.studies))
    out.print(
        f"[bold]{escape(str(idx.root))}[/bold]: {idx.n_files} files, {n_patients} patient(s), "
        f"{len(idx.studies) - len(masks)} study(ies), {n_series} series"
        + (f", {len(masks)} study(ies) of masks stored as CT images" if masks else "")
        + f", {len(idx.skipped)} skipped ({idx.elapsed_s:.2f} s)"
    )
    for pat in idx.patients:
        for st in pat.studies:
            if st.masks_only:
                continue
            who = (f"{pat.patient_id} (no PatientID: a patient of its own)"
                   if pat.patient_id.startswith(NO_PATIENT_ID_PREFIX) else pat.patient_id)
            t = Table(title=f"patient {who} | study {st.study_date or '?'} "
                            f"{st.study_description} | {st.study_instance_uid}", title_justify="left",
                      show_lines=False, expand=False)
            t.add_column("#", justify="right")
            t.add_column("mod")
            t.add_column("description")
            t.add_column("n", justify="right")
            t.add_column("geometry")
            t.add_column("phase")
            t.add_column("problems")
            t.add_column("series UID", overflow="fold")
            warned: list[str] = []
            for se in st.series:
                ph = se.phase
                phase = "-" if ph.phase.value == "unknown" else f"{ph.phase.value} ({ph.confidence:.1f})"
                if ph.warnings:
                    phase += " [yellow](!)[/yellow]"
                    warned.extend(f"series {se.series_instance_uid}: {w}" for w in ph.warnings)
                probs = "; ".join(se.problems) or ("" if se.is_image else "no pixel data")
                style = "red" if any(_blocking(p) for p in se.problems) else None
                t.add_row(
                    "" if se.series_number is None else str(se.series_number),
                    se.modality,
                    se.series_description,
                    str(se.n_instances),
                    se.geometry.describe(),
                    phase,
                    probs,
                    se.series_instance_uid,
                    style=style,
                )
            out.print(t)
            for w in warned:  # (!) in the phase column: evidence against the call, which is kept
                out.print(f"[yellow]phase (!)[/yellow] {escape(w)}")
    if masks:
        t = Table(title="studies of masks stored as CT images (8-bit): not patients, not images to measure; "
                        "hcc_imaging.io.masks.load_mask reads each", title_justify="left")
        t.add_column("folder", overflow="fold")
        t.add_column("series", justify="right")
        t.add_column("n", justify="right")
        t.add_column("study UID", overflow="fold")
        for st in masks:
            files = [f for se in st.series for f in se.files]
            folder = files[0].rsplit("/", 1)[0] if files else ""
            t.add_row(escape(folder), str(len(st.series)), str(sum(se.n_instances for se in st.series)),
                      st.study_instance_uid)
        out.print(t)
    if show_skipped and idx.skipped:
        t = Table(title="skipped files", title_justify="left")
        t.add_column("file", overflow="fold")
        t.add_column("reason")
        for s in idx.skipped:
            t.add_row(s.path, s.reason)
        out.print(t)


def _blocking(problem: str) -> bool:
    return any(w in problem for w in ("unevenly", "duplicate", "tilt", "different orientations", "different image",
                                      "lack ", "colour", "without SliceThickness"))

"""``hcc-imaging demo``: the main job on the bundled sample data, end to end.

1. **index** the sample archive header-only (patients / studies / series, contrast phase);
2. **click-to-segment** every measurable lesion from one seed point, on the four phases (a
   treated lesion with only a reactive rim is clicked in its dark core, in rind mode), plus its
   viable (arterially enhancing) part, and compare with the committed masks (Dice,
   long axis);
3. **batch**: the same pipeline ``hcc-imaging batch`` runs (Dask LocalCluster) — load, masks,
   measure, read document, assess RECIST 1.1 / mRECIST / EASL / WHO / RECICL / iRECIST — with
   DICOM SEG + TID 1500 SR written;
4. **export**: CDISC SDTM, tables and an HTML report;
5. a readable summary, checked against the analytic truth shipped with the sample.

The sample data is ``sample_data/liver_phantom`` of the source tree; when hcc_imaging is
installed without it, the same study is generated with :mod:`hcc_imaging.phantoms`.

The output folder (``--out``) must be new, empty, or one an earlier demo wrote: the demo keeps
a record of the files it wrote in ``OUT/.hcc-imaging-demo.json`` and, run again into the same
folder, removes those files (and only those) before writing new ones.  A non-empty folder
without that record is refused, so the demo never deletes or overwrites files it did not write.
The record is written before any output, marked in progress, with the folders the run writes
into (:data:`OUTPUTS`) and the files the folder held before it: a run killed part-way (SIGKILL,
a closed terminal) is recognised by the next one, which removes what it wrote - the files in
those folders that were not there before it and were modified since it started - and runs
again; a run still going (its process alive) is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import HccImagingError

__all__ = ["register", "run", "default_sample_data", "DemoError", "MARKER"]

#: The demo's record of the files it wrote into ``--out`` (relative POSIX paths).
MARKER = ".hcc-imaging-demo.json"

#: The folders of ``--out`` the demo writes into (every output is under one of them).
OUTPUTS = ("batch", "tables", "sdtm", "report")


class DemoError(HccImagingError, ValueError):
    """``hcc-imaging demo`` cannot run as asked (output folder not the demo's, not a sample study)."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="run the whole pipeline on the bundled sample data",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--out", default="demo_out", help="output folder (default: ./demo_out)")
    p.add_argument("--data", default=None, help="sample archive (default: the bundled sample_data)")
    p.add_argument("--workers", type=int, default=1, help="Dask workers for the batch step (default 1)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=run)


def default_sample_data(tmp_root: Path) -> Path:
    """``sample_data/liver_phantom`` of the source tree, or a freshly generated copy."""
    here = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom"
    if (here / "truth.json").is_file():
        return here
    from ..phantoms import write_longitudinal  # the generator of the committed sample (same parameters)

    out = tmp_root / "liver_phantom"
    write_longitudinal(out, seed=0, timepoints=("baseline", "fu1"), transfer_syntax="1.2.840.10008.1.2.4.80")
    return out


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _write_marker(out: Path, files: list[str], *, complete: bool, before: set[Path] | None = None) -> None:
    """Write the demo's record :data:`MARKER`: ``files`` it wrote (relative POSIX paths) and whether
    the run is ``complete``; a run in progress also records the folders it writes into
    (:data:`OUTPUTS`), the files ``before`` it, when it started and its process, so that the next run
    can tell what a run killed part-way wrote (:func:`_unfinished_run_files`)."""
    from .._atomic import atomic_write_text

    doc: dict[str, Any] = {"written_by": "hcc-imaging demo", "complete": complete, "files": files}
    if not complete:
        doc.update(outputs=list(OUTPUTS), started=time.time(), pid=os.getpid(), host=socket.gethostname(),
                   before=sorted(p.relative_to(out).as_posix() for p in before or ()))
    atomic_write_text(out / MARKER, json.dumps(doc, indent=1) + "\n")


def _still_running(doc: dict[str, Any]) -> int | None:
    """The process id of the demo run recorded in progress by ``doc`` when it is still running on
    this machine (another process, alive, whose command line is a demo's where it can be read),
    else None: that run was killed or ended without finishing its record."""
    pid, host = doc.get("pid"), doc.get("host")
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid() or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, another user's
    except OSError:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid  # cannot tell (no /proc): alive is enough
    return pid if b"demo" in cmdline else None  # (a pid reused by another program, or a zombie: none)


def _unfinished_run_files(out: Path, doc: dict[str, Any]) -> list[str]:
    """The files (relative POSIX paths) a demo run recorded in progress in ``doc`` wrote into
    ``out`` before it was stopped: those it listed, and those in its output folders that were not
    in the folder before it and were modified since it started (a file there older than the run,
    moved in by someone, is not its).

    Raises
    ------
    DemoError
        The record is not one this demo writes in progress (an older demo's, or edited): which
        files that run wrote is not known.
    """
    try:
        outputs = [str(d) for d in doc["outputs"]]
        before = {str(f) for f in doc["before"]}
        started = float(doc["started"])
        listed = [str(f) for f in doc["files"]]
    except (KeyError, TypeError, ValueError):
        raise DemoError(
            f"--out {out}: an earlier demo run into this folder did not finish and its record {MARKER} does not say "
            "which folders it wrote into, so which files it wrote is not known and none is removed. Remove the "
            "folder yourself (or what the demo wrote in it: batch/, tables/, sdtm/, report/) or choose another: "
            "--out DIR."
        ) from None
    found = set(listed)
    for name in outputs:
        folder = out / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not folder.is_dir():
            continue  # (a record edited by hand: never leave the folder)
        for p in _files_under(folder):
            rel = p.relative_to(out).as_posix()
            # 1 s of slack: file systems that keep whole seconds of modification time
            if rel not in before and rel != MARKER and p.lstat().st_mtime >= started - 1.0:
                found.add(rel)
    return sorted(found)


def _prepare_out(out: Path) -> set[Path]:
    """Make ``out`` ready for the demo; return the files in it that the demo did not write.

    ``out`` may be new, empty, the folder of an earlier, finished demo run - the files that run
    listed in :data:`MARKER` are removed (folders left empty by that too), nothing else - or that
    of a run killed part-way, whose record says so: the files it wrote
    (:func:`_unfinished_run_files`) are removed, nothing else.

    Raises
    ------
    DemoError
        ``out`` is a file; holds files but no :data:`MARKER` (not the demo's folder); holds the
        marker of a run that is still going, or of an unfinished run whose record does not say
        what it wrote (an older demo's).
    """
    marker = out / MARKER
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {out} is a file, not a folder. Give a new or empty folder: --out DIR.")
    if marker.is_file():
        try:
            doc = json.loads(marker.read_text(encoding="utf-8"))
            listed = [str(f) for f in doc["files"]]
            complete = bool(doc["complete"])
        except (ValueError, KeyError, TypeError) as err:
            raise DemoError(
                f"--out {out}: its demo record {MARKER} cannot be read ({err}), so which files an earlier "
                f"demo wrote there is not known. Remove the folder yourself or choose another: --out DIR."
            ) from None
        if not complete:
            running = _still_running(doc)
            if running is not None:
                raise DemoError(
                    f"--out {out}: a demo run into this folder is still going (process {running}, per {MARKER}); "
                    "two runs into one folder would remove each other's files. Wait for it to end, or choose "
                    "another folder: --out DIR."
                )
            listed = _unfinished_run_files(out, doc)
            if listed:
                print(f"note: an earlier demo run into {out} did not finish; removing the {len(listed)} files it "
                      "wrote before running again.", file=sys.stderr)
        root = out.resolve()
        dirs: set[Path] = set()
        for rel in listed:
            p = Path(os.path.normpath(root / rel))  # "..", not links: the file itself is removed
            if root not in p.parents:  # a record edited by hand: never leave the folder
                continue
            if p.is_file() or p.is_symlink():
                p.unlink()
            dirs.update(d for d in p.parents if root in d.parents)
        for d in sorted(dirs, key=lambda d: len(d.parts), reverse=True):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    elif out.is_dir() and any(out.iterdir()):
        names = sorted(p.name for p in out.iterdir())
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise DemoError(
            f"--out {out} is not empty ({shown}) and was not written by hcc-imaging demo (no {MARKER}); "
            "the demo writes batch/, tables/, sdtm/ and report/ there and would mix with or replace those "
            "files. Choose a new or empty folder: --out DIR."
        )
    out.mkdir(parents=True, exist_ok=True)
    before = _files_under(out) | {out / MARKER}
    # before any output: a run cut short is recognised, and what it wrote can be told from the rest
    _write_marker(out, [], complete=False, before=before)
    return before


def _written(out: Path, before: set[Path]) -> list[Path]:
    """The files in ``out`` the demo wrote in this run (not there before it, not the marker)."""
    return sorted(p for p in _files_under(out) - before if p.name != MARKER or p.parent != out)


def _dice(a: Any, b: Any) -> float:
    import numpy as np

    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    denom = int(a.sum()) + int(b.sum())
    return 1.0 if denom == 0 else 2.0 * int((a & b).sum()) / denom


def _click_to_segment(tp_dir: Path, truth: dict[str, Any]) -> list[dict[str, Any]]:
    """One click per measurable lesion on the phases of one time point; compare with the committed masks."""
    from ..errors import HccImagingError
    from ..io import load_study
    from ..io.masks import load_mask
    from ..measure import measure_lesion
    from ..phantoms import LesionKind
    from ..segment.lesion import segment_lesion
    from ..segment.viable import viable_mask
    from ..volume import LabelVolume, Phase

    vols = {v.phase: v for v in load_study(tp_dir)}
    ref = vols[Phase.PORTAL_VENOUS] if Phase.PORTAL_VENOUS in vols else next(iter(vols.values()))
    expert = load_mask(tp_dir / "masks" / "lesions.nii.gz", reference=ref)
    expert_viable = load_mask(tp_dir / "masks" / "viable.nii.gz", reference=ref)
    # the phantom's kinds of measurable liver lesion (the node, the thrombus and ascites are not clicked)
    measurable = {LesionKind.TYPICAL_HCC, LesionKind.NECROTIC_HCC, LesionKind.POST_TACE, LesionKind.RIM_ONLY,
                  LesionKind.INFILTRATIVE}
    rows = []
    for lid, t in sorted(truth["lesions"].items()):
        if t.get("kind") not in measurable or "seed_lps" not in t:
            continue
        # a treated lesion with only a reactive rim is clicked in its dark core, in rind mode, as a
        # reader does in napari (segment_lesion's rind=True)
        rind = t["kind"] == LesionKind.RIM_ONLY
        t0 = time.perf_counter()
        try:
            # one click at the lesion (the truth's seed point), as a reader would click in napari
            res = segment_lesion(vols, seed_lps=t["seed_lps"], lesion_id=lid, label=int(t["label"]), rind=rind)
        except HccImagingError as err:  # one lesion that cannot be segmented never stops the demo
            rows.append({"lesion_id": lid, "kind": t["kind"], "error": f"{type(err).__name__}: {err}"})
            continue
        seg_s = time.perf_counter() - t0
        mask = res.labels if res.labels.geometry_equal(ref) else res.labels.resample_to(ref)
        labels = LabelVolume.like(ref, mask.array, labels={int(t["label"]): lid})
        viable = viable_mask(
            labels,
            vols[Phase.ARTERIAL],
            pre_contrast=vols.get(Phase.PRE_CONTRAST),
            portal_venous=vols.get(Phase.PORTAL_VENOUS),
        )
        m = measure_lesion(labels, int(t["label"]), viable=viable)
        e = measure_lesion(expert, int(t["label"]), viable=expert_viable)
        rows.append(
            {
                "lesion_id": lid,
                "kind": t["kind"],
                "rind": rind,
                "phase_used": str(res.phase),
                "segment_s": round(seg_s, 3),
                "dice_vs_mask": round(_dice(labels.array == int(t["label"]), expert.array == int(t["label"])), 3),
                "ld_click_mm": round(m.longest_diameter_mm, 1),
                "ld_mask_mm": round(e.longest_diameter_mm, 1),
                "ld_truth_mm": round(float(t["longest_diameter_mm"]), 1),
                "viable_click_mm": round(m.viable_diameter_mm or 0.0, 1),
                "viable_mask_mm": round(e.viable_diameter_mm or 0.0, 1),
                "viable_truth_mm": round(float(t.get("viable_diameter_mm") or 0.0), 1),
            }
        )
    return rows


def _load_truth(data: Path) -> dict[str, Any]:
    """The ``truth.json`` of a sample *study* folder (the one holding ``baseline/``, ``fu1/`` ...).

    Raises
    ------
    DemoError
        ``data`` does not exist, has no ``truth.json``, or is one time point of a sample study
        (its own ``truth.json`` has no ``timepoints``) or not a sample study at all.
    """
    fix = "Pass the sample study folder, the one holding truth.json, baseline/ and fu1/ (e.g. --data sample_data/liver_phantom)."
    if not data.is_dir():
        raise DemoError(f"--data {data} is not a folder. {fix}")
    path = data / "truth.json"
    if not path.is_file():
        raise DemoError(f"--data {data} holds no truth.json, so the demo has no truth to compare with. {fix}")
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise DemoError(f"{path} is not valid JSON ({err}). {fix}") from None
    if not isinstance(truth, dict) or not isinstance(truth.get("timepoints"), dict):
        if isinstance(truth, dict) and "timepoint" in truth:
            raise DemoError(
                f"--data {data} is one time point ({truth['timepoint']!r}) of a sample study, not the study: "
                f"its truth.json has no 'timepoints'. Pass the study folder, the one holding it: --data {data.parent}"
            )
        raise DemoError(f"{path} is not the truth of a sample study (no 'timepoints' section). {fix}")
    return truth


def run(args: argparse.Namespace) -> int:
    # a wrong --data is reported before --out is touched
    truth = _load_truth(Path(args.data).resolve()) if args.data else None
    out = Path(args.out).resolve()
    before = _prepare_out(out)
    try:
        return _run(args, out, before, truth)
    finally:
        # what this run wrote, also when it stopped part-way: a next run removes exactly that
        _write_marker(out, [p.relative_to(out).as_posix() for p in _written(out, before)], complete=True)


def _run(args: argparse.Namespace, out: Path, before: set[Path], truth: dict[str, Any] | None) -> int:
    import tempfile

    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=args.json)
    if not console.is_terminal:
        console = Console(stderr=args.json, width=160)
    summary: dict[str, Any] = {"out": str(out)}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data).resolve() if args.data else default_sample_data(Path(tmp))
        if truth is None:
            truth = _load_truth(data)

        # 1. index -------------------------------------------------------------------------
        from ..io import index_archive

        t0 = time.perf_counter()
        idx = index_archive(data)
        t_index = time.perf_counter() - t0
        tab = Table(title=f"1. index: {data.name} ({idx.n_files} files, {t_index:.2f} s, header only)")
        for col in ("patient", "study date", "series", "phase", "conf.", "slices", "spacing mm"):
            tab.add_column(col)
        series_rows = []
        for pat in idx.patients:
            for st in pat.studies:
                for se in st.series:
                    g = se.geometry
                    sp = (g.slice_spacing_mm, *g.pixel_spacing_mm) if g.pixel_spacing_mm and g.slice_spacing_mm else None  # (slice, row, col)
                    row = {
                        "patient_id": pat.patient_id,
                        "study_date": st.study_date,
                        "series": se.series_description,
                        "phase": str(se.phase.phase),
                        "confidence": round(float(se.phase.confidence), 2),
                        "n_instances": se.n_instances,
                        "spacing_mm": [round(float(s), 2) for s in sp] if sp else None,
                    }
                    series_rows.append(row)
                    tab.add_row(pat.patient_id, st.study_date, se.series_description, row["phase"],
                                f"{row['confidence']:.2f}", str(se.n_instances), str(row["spacing_mm"]))
        console.print(tab)
        summary["series"] = series_rows

        # 2. click-to-segment ---------------------------------------------------------------
        click_rows: list[dict[str, Any]] = []
        for tp, tp_truth in truth["timepoints"].items():
            for r in _click_to_segment(data / tp, tp_truth):
                click_rows.append({"timepoint": tp, **r})
        tab = Table(title="2. one click per lesion: 3-D mask + viable part vs the committed masks and the analytic truth")
        for col in ("tp", "lesion", "kind", "s", "Dice", "LD click", "LD mask", "LD truth",
                    "viable click", "viable mask", "viable truth"):
            tab.add_column(col, justify="right")
        for r in click_rows:
            if "error" in r:
                tab.add_row(r["timepoint"], r["lesion_id"], r["kind"], "", "not segmented: " + r["error"].split(":")[0])
                continue
            tab.add_row(r["timepoint"], r["lesion_id"], r["kind"], f"{r['segment_s']:.2f}", f"{r['dice_vs_mask']:.3f}",
                        f"{r['ld_click_mm']:.1f}", f"{r['ld_mask_mm']:.1f}", f"{r['ld_truth_mm']:.1f}",
                        f"{r['viable_click_mm']:.1f}", f"{r['viable_mask_mm']:.1f}", f"{r['viable_truth_mm']:.1f}")
        console.print(tab)
        summary["click_to_segment"] = click_rows

        # 3. batch (the headless twin: same core functions) ------------------------------------
        from ..batch.pipeline import PipelineOptions
        from ..batch.runner import run_batch

        batch_dir = out / "batch"  # an earlier demo's batch/ was removed by _prepare_out, nothing else
        opts = PipelineOptions(criteria=("recist1.1", "mrecist", "easl", "who", "recicl", "irecist"), export_sr=True)
        t0 = time.perf_counter()
        # files a user put in the folder stay where they are (not set aside into batch/stale/ as an
        # earlier run's): the earlier demo's own outputs were removed by _prepare_out
        bs = run_batch(data, batch_dir, workers=args.workers, options=opts, progress=not args.json, leave_alone=before)
        summary["batch"] = {"seconds": round(time.perf_counter() - t0, 2), **bs.to_json()}

        # 4. exports ------------------------------------------------------------------------
        from ..export import write_report, write_sdtm, write_tables
        from ..io import load_series
        from ..response import ReadDocument

        pid = truth["patient_id"]
        from ..batch.resume import patient_file_stem

        read_path = batch_dir / "reads" / f"{patient_file_stem(pid)}.json"
        ass_path = batch_dir / "assessments" / read_path.name
        doc = ReadDocument.from_json(read_path)
        assessment = json.loads(ass_path.read_text(encoding="utf-8"))
        write_tables(doc, out / "tables", assessments=assessment, leave_alone=before)  # (as run_batch's)
        write_sdtm(doc, out / "sdtm", assessments=assessment)
        images = {}
        for tp_id, tp in zip([t.id for t in doc.timepoints], truth["timepoints"], strict=False):
            images[tp_id] = load_series(data / tp / "arterial")
        report = write_report(doc, out / "report" / f"{pid}.html", assessment=assessment, images=images)
        # only what this run wrote (files the folder held before are not the demo's outputs)
        written = _written(out, before)

        def under(folder: Path, suffix: str = "") -> list[str]:
            return [str(p) for p in written if folder in p.parents and p.name.endswith(suffix)]

        files: dict[str, Any] = {
            "seg": under(batch_dir / "seg", ".dcm"),
            "sr": under(batch_dir / "sr", ".dcm"),
            "tables": under(out / "tables"),
            "sdtm": under(out / "sdtm", ".csv"),
            "report": str(report),
        }
        summary["files"] = files

        # 5. response summary vs truth ---------------------------------------------------------
        results = assessment["results"]
        tab = Table(title=f"3. response of {pid} per criterion (measured) — expected from the analytic truth")
        for col in ("criterion", "time point", "day", "sum", "vs baseline", "response", "BOR (unconfirmed)", "expected"):
            tab.add_column(col, justify="right")
        expected = truth.get("expected", {})
        exp_by = {"RECIST1.1": expected.get("recist_1_1", []), "mRECIST": expected.get("mrecist", [])}
        resp_rows = []
        for crit, res in results.items():
            exp_tp = {e["timepoint"]: e.get("overall") for e in exp_by.get(crit, [])}
            for tp in res["timepoints"]:
                chg = tp.get("change_from_baseline")
                unit = {"mm2": "mm²", "mm3": "mm³"}.get(str(res.get("sum_unit", "mm")), str(res.get("sum_unit", "mm")))
                s = tp.get("sum")
                row = {"criterion": crit, "timepoint": tp["id"], "day": tp.get("day"), "sum": s,
                       "change_from_baseline": chg, "response": tp.get("response"),
                       "sum_unit": res.get("sum_unit"), "bor_unconfirmed": res.get("bor_unconfirmed"),
                       "bor_confirmed": res.get("bor_confirmed"), "expected": exp_tp.get(tp["id"])}
                resp_rows.append(row)
                tab.add_row(crit, str(tp["id"]), str(tp.get("day")), "" if s is None else f"{s:.1f} {unit}",
                            "" if chg is None else f"{100 * float(chg):+.1f} %", str(tp.get("response") or "—"),
                            str(res.get("bor_unconfirmed")) if tp is res["timepoints"][-1] else "",
                            str(row["expected"] or ""))
        console.print(tab)
        summary["responses"] = resp_rows
        console.print(f"[bold]outputs[/bold] in {out}: SEG {len(files['seg'])}, SR {len(files['sr'])}, "
                      f"tables, SDTM {len(files['sdtm'])}, report {Path(files['report']).name}")
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    return 0

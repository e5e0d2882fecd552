"""``hcc-imaging demo`` — the README's main job — runs end to end on the bundled sample data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One ``demo --out DIR --json`` into a new folder, run once for the module: the tests that
    read a fresh demo's outputs read this one (and copy it before writing into it)."""
    out = tmp_path_factory.mktemp("demo_run") / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "demo", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    return out, proc


@pytest.mark.slow
def test_demo_runs_end_to_end_and_matches_the_truth(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    truth = json.loads((REPO / "sample_data" / "liver_phantom" / "truth.json").read_text())

    # 1. index: 2 time points x 4 phases, every phase recognised from the headers
    phases = sorted(r["phase"] for r in summary["series"])
    assert phases == sorted(["pre_contrast", "arterial", "portal_venous", "delayed"] * 2)

    # 2. click-to-segment: whole lesions found from one click (Dice vs committed masks)
    segmented = [r for r in summary["click_to_segment"] if "error" not in r]
    assert segmented, "no lesion was segmented"
    typical = [r for r in segmented if r["kind"] in ("typical_hcc", "necrotic_hcc", "post_tace_lipiodol")]
    assert typical and all(r["dice_vs_mask"] >= 0.95 for r in typical), typical
    # every measurable liver lesion of the truth is clicked, the rim-only ones too (baseline L4, fu1 L1
    # and L4: the demo looked for a kind "ablated_rim" the phantom does not have, and skipped them);
    # clicked in their dark core (rind mode), they have no viable part: fu1 L1 is mRECIST's CR lesion
    clicked = {(r["timepoint"], r["lesion_id"]) for r in summary["click_to_segment"]}
    kinds = {"typical_hcc", "necrotic_hcc", "post_tace_lipiodol", "rim_only", "infiltrative"}
    assert clicked == {(tp, lid) for tp, t in truth["timepoints"].items()
                       for lid, rec in t["lesions"].items() if rec["kind"] in kinds}
    rims = [r for r in summary["click_to_segment"] if r["kind"] == "rim_only"]
    assert {(r["timepoint"], r["lesion_id"]) for r in rims} == {("baseline", "L4"), ("fu1", "L1"), ("fu1", "L4")}
    assert all("error" not in r and r["rind"] and r["dice_vs_mask"] >= 0.95 and r["viable_click_mm"] == 0.0
               for r in rims), rims

    # 3. responses equal the ones implied by the analytic truth
    got = {(r["criterion"], r["timepoint"]): r["response"] for r in summary["responses"]}
    for crit, key in (("RECIST1.1", "recist_1_1"), ("mRECIST", "mrecist")):
        for exp in truth["expected"][key]:
            if exp.get("overall"):
                assert got[(crit, exp["timepoint"])] == exp["overall"], (crit, exp)
    assert {r["criterion"] for r in summary["responses"]} >= {"RECIST1.1", "mRECIST", "EASL", "WHO", "RECICL", "iRECIST"}

    # 4. the exports exist and are non-empty
    files = summary["files"]
    for kind in ("seg", "sr", "sdtm"):
        assert files[kind] and all(Path(f).stat().st_size > 0 for f in files[kind]), kind
    html = Path(files["report"]).read_text(encoding="utf-8")
    # key images with the measured lines, plus the plots
    assert html.count("data:image/png;base64,") >= 3

    # the SR carries the measured lines as 3-D coordinates (SCOORD3D polylines)
    import pydicom

    sr = pydicom.dcmread(files["sr"][0])
    scoords = []

    def walk(items) -> None:  # noqa: ANN001
        for it in items:
            if getattr(it, "ValueType", "") == "SCOORD3D":
                scoords.append(it)
            walk(getattr(it, "ContentSequence", []))

    walk(sr.ContentSequence)
    assert scoords and all(len(c.GraphicData) == 6 for c in scoords)

    # one lesion, one Tracking UID: the SR's groups, each study's SEG segments and tables/lesions.csv
    # (the follow-up SEG had its own UIDs, the CSV column was empty)
    import pandas as pd

    from hcc_imaging.export import read_sr

    sr_uids: dict[str, set[str]] = {}
    for g in read_sr(files["sr"][0]).groups:
        if g.time_point and "response" not in g.tracking_identifier:
            sr_uids.setdefault(g.tracking_identifier, set()).add(g.tracking_uid)
    assert sr_uids and all(len(u) == 1 for u in sr_uids.values()), sr_uids
    table = pd.read_csv(out / "tables" / "lesions.csv")
    for lid, uids in sr_uids.items():
        assert set(table[table.lesion_id == lid].tracking_uid) == uids, lid
    n = 0
    for f in files["seg"]:
        for item in pydicom.dcmread(f, stop_before_pixels=True).SegmentSequence:
            if str(item.SegmentLabel) in sr_uids:
                assert {str(item.TrackingUID)} == sr_uids[str(item.SegmentLabel)], (f, item.SegmentLabel)
                n += 1
    assert n >= 2 * 2


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "demo", *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO)


def test_demo_refuses_a_non_empty_folder_it_did_not_write(tmp_path: Path) -> None:
    """``demo --out DIR`` deleted ``DIR/batch`` without a word (a user's results in it were lost):
    a non-empty folder without the demo's record is refused, before anything is written."""
    from hcc_imaging.commands.demo import MARKER

    out = tmp_path / "results"
    (out / "batch").mkdir(parents=True)
    (out / "batch" / "my_results.csv").write_text("my precious results\n")
    proc = _demo("--out", str(out), "--json")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "DemoError" in proc.stderr and "is not empty" in proc.stderr and MARKER in proc.stderr, proc.stderr
    assert "--out DIR" in proc.stderr
    assert proc.stdout == ""
    assert (out / "batch" / "my_results.csv").read_text() == "my precious results\n"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["batch", "batch/my_results.csv"]


def test_demo_rerun_removes_only_the_files_the_earlier_run_listed(tmp_path: Path) -> None:
    """Into a folder of an earlier demo, the files that run recorded are removed, the rest kept.
    A run that did not finish was refused for good (its record listed no files: "remove the folder
    yourself"); its record now says, from the start, the folders it writes into and the files there
    before it, so the next run removes what it wrote - nothing a user put in the folder - and runs;
    an older demo's unfinished record, which does not say, is still refused."""
    import os

    from hcc_imaging.commands.demo import MARKER, DemoError, _prepare_out

    out = tmp_path / "demo"
    for rel in ("batch/store/a.json", "batch/seg/x.dcm", "tables/lesions.csv", "report/P.html"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("old demo output")
    (out / "batch" / "mine.txt").write_text("the user's")
    (out / "notes.md").write_text("the user's")
    outside = tmp_path / "outside.txt"
    outside.write_text("not in the folder")
    listed = ["batch/store/a.json", "batch/seg/x.dcm", "tables/lesions.csv", "report/P.html", "../outside.txt"]
    (out / MARKER).write_text(json.dumps({"complete": True, "files": listed}))
    before = _prepare_out(out)
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == [MARKER, "batch", "batch/mine.txt", "notes.md"], left  # emptied folders removed too
    assert outside.read_text() == "not in the folder"  # a record never reaches outside the folder
    assert {p.name for p in before} == {MARKER, "mine.txt", "notes.md"}
    record = json.loads((out / MARKER).read_text())
    assert record["complete"] is False  # until this run finishes
    assert record["outputs"] == ["batch", "tables", "sdtm", "report"]
    assert record["before"] == [MARKER, "batch/mine.txt", "notes.md"]
    # this run stopped part-way, as by a kill (a real one: test_demo_killed_mid_run_is_resumed_by_the_next):
    # what it wrote is in its folders; a user's file beside them, and one moved in that is older than the run, stay
    for rel in ("batch/store/b.json", "batch/.x.json.a1b2c3d4.part", "report/P.html"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("the stopped run's")
    (out / "notes2.md").write_text("the user's, after the run stopped")
    (out / "batch" / "moved_in.csv").write_text("the user's, from 2001")
    os.utime(out / "batch" / "moved_in.csv", (1e9, 1e9))
    before = _prepare_out(out)
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert left == [MARKER, "batch", "batch/mine.txt", "batch/moved_in.csv", "notes.md", "notes2.md"], left
    assert {p.name for p in before} == {MARKER, "mine.txt", "moved_in.csv", "notes.md", "notes2.md"}
    (out / MARKER).write_text(json.dumps({"complete": False, "files": []}))  # an older demo's record
    with pytest.raises(DemoError, match="did not finish .* does not say which folders"):
        _prepare_out(out)
    assert (out / "batch" / "mine.txt").is_file() and (out / "notes.md").is_file()
    (out / MARKER).write_text("{not json")
    with pytest.raises(DemoError, match="cannot be read"):
        _prepare_out(out)
    (tmp_path / "empty").mkdir()
    assert {p.name for p in _prepare_out(tmp_path / "empty")} == {MARKER}
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DemoError, match="is a file"):
        _prepare_out(tmp_path / "afile")


@pytest.mark.slow
def test_demo_killed_mid_run_is_resumed_by_the_next(tmp_path: Path) -> None:
    """A demo killed mid-run (SIGKILL, in its batch step) left a record listing no files, and every
    later run into the folder was refused until the user removed it.  Now: while the run goes, a
    second one is refused (it would remove the first's files); once it is killed, the next run
    removes what it wrote - and only that - and finishes, its record listing exactly its outputs."""
    import signal
    import time

    from hcc_imaging.commands.demo import MARKER, DemoError, _prepare_out

    out = tmp_path / "demo"
    (out / "batch").mkdir(parents=True)
    (out / "batch" / "mine.txt").write_text("the user's")  # kept by an earlier, finished demo run
    (out / "notes.md").write_text("the user's")
    (out / MARKER).write_text(json.dumps({"complete": True, "files": []}))
    users = {"batch/mine.txt", "notes.md"}

    def on_disk() -> set[str]:
        return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER}

    with (tmp_path / "killed.err").open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "hcc_imaging.cli", "demo", "--out", str(out), "--json"],
                                stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        try:
            deadline = time.monotonic() + 400
            while not [f for f in on_disk() - users if f.startswith("batch/")] and proc.poll() is None:
                assert time.monotonic() < deadline, "the demo wrote nothing in its batch step"
                time.sleep(0.2)
            assert proc.poll() is None, (tmp_path / "killed.err").read_text()[-2000:]
            with pytest.raises(DemoError, match=rf"still going \(process {proc.pid}"):
                _prepare_out(out)  # a second run while the first goes: refused, nothing touched
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    record = json.loads((out / MARKER).read_text())
    assert record["complete"] is False and record["pid"] == proc.pid, record
    killed = on_disk() - users
    assert killed, "the killed run wrote nothing"
    rerun = _demo("--out", str(out), "--json")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "did not finish; removing the" in rerun.stderr, rerun.stderr[-3000:]
    assert (out / "batch" / "mine.txt").read_text() == "the user's" and (out / "notes.md").read_text() == "the user's"
    record = json.loads((out / MARKER).read_text())
    assert record["complete"] is True
    assert sorted(record["files"]) == sorted(on_disk() - users)  # every file left is the new run's or the user's
    assert killed - set(record["files"]) == {f for f in killed if not (out / f).exists()}


#: files a user puts into a demo folder between two runs (a corrected read beside the demo's reads)
FOREIGN = ("batch/my_results.csv", "tables/unrelated.csv", "sdtm/dm.csv", "batch/reads/PHANTOM-001-corrected.json",
           "tables/reads/PHANTOM-001-corrected-by-DrX.json")


@pytest.mark.slow
def test_demo_twice_into_one_folder_keeps_foreign_files_and_lists_only_its_own(
        demo_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    """The README's first command reruns the demo into ./demo_out: that works, an earlier run's
    outputs are replaced, a file someone put in the folder between the runs stays and is not
    listed as a demo output (the JSON listed whatever ``tables/`` and ``sdtm/`` held).  It stays
    where it was put: one in a folder the batch or the table export keeps to its own files
    (``batch/reads/``, ``tables/reads/``) was moved into ``stale/`` until 2026-12-06.  The first
    run is the module's fresh demo (``demo_run``), copied with its files' times."""
    import shutil

    from hcc_imaging.commands.demo import MARKER

    out = tmp_path / "demo"
    first_out, first = demo_run
    assert first.returncode == 0, first.stderr[-3000:]
    shutil.copytree(first_out, out, symlinks=True)
    rec = json.loads((out / MARKER).read_text())
    assert rec["complete"] is True
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER)
    assert rec["files"] == on_disk
    for rel in FOREIGN:
        (out / rel).write_text("not the demo's\n")
    second = _demo("--out", str(out), "--json")
    assert second.returncode == 0, second.stderr[-3000:]
    files = json.loads(second.stdout)["files"]
    listed = [*files["seg"], *files["sr"], *files["tables"], *files["sdtm"], files["report"]]
    assert not [f for f in listed if "not the demo" in Path(f).read_text(errors="replace")[:40]], listed
    assert not {Path(r).name for r in FOREIGN} & {Path(f).name for f in listed}
    assert not list(out.rglob("stale")), sorted(p.relative_to(out).as_posix() for p in out.rglob("stale/**/*"))
    for rel in FOREIGN:
        assert (out / rel).read_text() == "not the demo's\n", rel
    assert files["seg"] and files["sr"] and files["sdtm"] and files["tables"]
    assert all(Path(f).is_file() for f in listed)
    assert sorted(json.loads((out / MARKER).read_text())["files"]) == sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*")
        if p.is_file() and p.name not in (MARKER, *(Path(r).name for r in FOREIGN)))


def test_demo_data_a_time_point_folder_says_to_pass_the_study(tmp_path: Path) -> None:
    """``--data sample_data/liver_phantom/baseline`` (a time point, with its own truth.json) gave
    ``KeyError: 'timepoints'``: a DemoError names the study folder to pass, and --out is untouched."""
    study = REPO / "sample_data" / "liver_phantom"
    out = tmp_path / "out"
    proc = _demo("--data", str(study / "baseline"), "--out", str(out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "KeyError" not in proc.stderr, proc.stderr
    assert "DemoError" in proc.stderr and "one time point ('baseline')" in proc.stderr, proc.stderr
    assert f"--data {study}" in proc.stderr, proc.stderr
    assert not out.exists()
    proc = _demo("--data", str(tmp_path), "--out", str(out))  # no truth.json at all
    assert proc.returncode == 2 and "holds no truth.json" in proc.stderr, proc.stderr
    assert not out.exists()

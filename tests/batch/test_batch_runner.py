"""hcc-imaging batch: results, failure isolation, resume (incl. SIGKILL), CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from hcc_imaging.batch import BatchError, PipelineOptions, run_batch
from hcc_imaging.cli import main

from .conftest import make_archive

REPO = Path(__file__).resolve().parents[2]


def _run(src: Path, out: Path, **kw):
    kw.setdefault("workers", 1)
    kw.setdefault("processes", False)
    return run_batch(src, out, **kw)


def _tables(out: Path) -> dict[str, bytes]:
    names = ["lesions.csv", "responses.csv", "failures.csv"]
    files = {n: (out / n).read_bytes() for n in names}
    for p in sorted((out / "reads").glob("*.json")):
        files[f"reads/{p.name}"] = p.read_bytes()
    return files


@pytest.fixture(scope="module")
def clean_run(small_archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    summary = _run(small_archive, out)
    return out, summary


def test_results_match_phantom_truth(clean_run, small_archive) -> None:
    out, summary = clean_run
    assert (summary.n_studies, summary.n_failed_studies, summary.n_patients) == (4, 0, 2)
    les = pd.read_parquet(out / "lesions.parquet")
    assert len(les) == 4 * 8  # 8 lesions per study
    resp = pd.read_csv(out / "responses.csv")
    for pid in ("PAT-001", "PAT-002"):
        truth = json.loads((small_archive / pid / "truth.json").read_text())
        for crit, key in (("RECIST1.1", "recist_1_1"), ("mRECIST", "mrecist")):
            got = resp[(resp.patient_id == pid) & (resp.criterion == crit) & (resp.timepoint_id == "fu1")]
            assert got.response.tolist() == [truth["expected"][key][1]["overall"]], (pid, crit)
        # measured LD within one in-plane voxel diagonal of the analytic LD
        for tp in ("baseline", "fu1"):
            t = truth["timepoints"][tp]["lesions"]
            for _, row in les[(les.patient_id == pid) & (les.timepoint_id == tp)].iterrows():
                if t[row.lesion_id].get("ld_slice") is None:
                    continue
                assert abs(row.longest_diameter_mm - t[row.lesion_id]["longest_diameter_mm"]) <= 5.5 * 2**0.5
    assert (out / "reads" / "PAT-001.json").is_file() and (out / "assessments" / "PAT-001.json").is_file()
    assert pd.read_csv(out / "failures.csv").empty


def test_resume_skips_finished_and_refuses_reuse(clean_run, small_archive, tmp_path) -> None:
    out, _ = clean_run
    before = _tables(out)
    with pytest.raises(BatchError, match="already holds batch results"):
        _run(small_archive, out)
    again = _run(small_archive, out, resume=True)
    assert again.n_processed == 0 and again.n_skipped == 4
    assert _tables(out) == before


def test_broken_studies_become_failure_rows(broken_archive, tmp_path) -> None:
    records = []
    s = _run(broken_archive, tmp_path / "out", on_record=records.append)
    assert s.n_studies == 6 and s.n_failed_studies == 2 and len(records) == 6
    # a patient whose every study failed is a patient, and a failed one ("2 patients (0 failed)" before)
    assert (s.n_patients, s.n_failed_patients) == (4, 2)
    fails = pd.read_csv(tmp_path / "out" / "failures.csv").fillna("")
    got = {r.patient_id: (r.step, r.reason) for r in fails.itertuples()}
    assert got["GAP-001"][0] == "load" and "SliceSpacingError" in got["GAP-001"][1]
    assert got["NOMASK-001"][0] == "masks" and "no lesion mask" in got["NOMASK-001"][1]
    # the good patients are still complete
    resp = pd.read_csv(tmp_path / "out" / "responses.csv")
    assert set(resp.patient_id) == {"PAT-001", "PAT-002"}
    # --strict turns failures into a non-zero exit; without it the exit is 0
    assert main(["batch", str(broken_archive), "--out", str(tmp_path / "o2"), "--threads", "--workers", "1",
                 "--no-progress"]) == 0
    assert main(["batch", str(broken_archive), "--out", str(tmp_path / "o2"), "--threads", "--workers", "1",
                 "--no-progress", "--resume", "--strict"]) == 1


def test_changed_mask_changes_key(small_archive, tmp_path) -> None:
    import shutil

    from hcc_imaging.batch import discover_studies

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    opts = PipelineOptions()
    k1 = {t.study_instance_uid: t.key for t in discover_studies(arch, opts)[0]}
    p = arch / "PAT-001" / "fu1" / "masks" / "viable.nii.gz"
    p.write_bytes((arch / "PAT-001" / "baseline" / "masks" / "viable.nii.gz").read_bytes())
    k2 = {t.study_instance_uid: t.key for t in discover_studies(arch, opts)[0]}
    k3 = {t.study_instance_uid: t.key for t in discover_studies(arch, PipelineOptions(criteria=("recist1.1",)))[0]}
    changed = [u for u in k1 if k1[u] != k2[u]]
    assert len(changed) == 1 and all(k2[u] != k3[u] for u in k2)


def _first_diff(name: str, a: bytes, b: bytes) -> str:
    la, lb = a.decode().splitlines(), b.decode().splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return f"{name} line {i}:\n resumed: {x[:400]}\n clean:   {y[:400]}"
    return f"{name}: {len(la)} vs {len(lb)} lines"


def test_sigkill_then_resume_gives_clean_rows(tmp_path) -> None:
    arch = make_archive(tmp_path / "arch", 4)  # 8 studies
    clean = tmp_path / "clean"
    _run(arch, clean)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "hcc_imaging.cli", "batch", str(arch), "--out", str(out), "--workers", "1",
           "--threads", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            ok = list((out / "store" / "ok").glob("*.json")) if (out / "store" / "ok").is_dir() else []
            if ok:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    n_done = len(list((out / "store" / "ok").glob("*.json")))
    assert 1 <= n_done < 8, "the kill should land mid-run"
    assert not (out / "lesions.csv").exists()
    s = _run(arch, out, resume=True)
    assert s.n_skipped == n_done and s.n_processed == 8 - n_done
    got, want = _tables(out), _tables(clean)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], _first_diff(name, got[name], want[name])


def test_cli_subprocess_json(small_archive, tmp_path) -> None:
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "batch", str(small_archive / "PAT-001"), "--out",
                        str(out), "--workers", "2", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["n_studies"] == 2 and summary["workers"] == 2 and summary["n_failed_studies"] == 0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param(["--criteria", "nonsense"], "criteria", id="bad-criterion"),
        pytest.param(["--workers", "0"], "workers must be >= 1", id="zero-workers"),
    ],
)
def test_cli_errors(small_archive, tmp_path, capsys, args, match) -> None:
    rc = main(["batch", str(small_archive), "--out", str(tmp_path / "o"), "--threads", "--no-progress", *args])
    assert rc == 2 and match in capsys.readouterr().err


def test_missing_source_and_empty_archive(tmp_path) -> None:
    with pytest.raises(BatchError, match="does not exist"):
        _run(tmp_path / "nope", tmp_path / "o")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("not dicom")
    with pytest.raises(BatchError, match="no DICOM study found"):
        _run(tmp_path / "empty", tmp_path / "o2")


def test_existing_scheduler(small_archive, tmp_path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        s = run_batch(small_archive / "PAT-002", tmp_path / "o", scheduler=cluster.scheduler_address)
    assert s.workers == 1 and s.n_studies == 2 and s.n_failures == 0


def test_unreachable_scheduler(small_archive, tmp_path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BatchError, match="cannot connect to the Dask scheduler"):
        run_batch(small_archive / "PAT-002", tmp_path / "o", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout_s=1)


def test_unreachable_dicomweb(tmp_path, capsys) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rc = main(["batch", f"dicomweb+http://127.0.0.1:{port}/dicom-web", "--out", str(tmp_path / "o"), "--threads"])
    assert rc == 2 and "DicomWebError" in capsys.readouterr().err


def test_seeds_file_instead_of_masks(tmp_path) -> None:
    import shutil

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    (study / "seeds.json").write_text(json.dumps({"lesions": [{"lesion_id": "L1", "seed_lps": truth["L1"]["seed_lps"]}]}))
    records = []
    s = _run(tmp_path / "arch", tmp_path / "o", on_record=records.append)
    assert s.n_failed_studies == 0, records
    (row,) = records[0]["lesions"]
    assert row["lesion_id"] == "L1" and records[0]["mask_source"] == "seeds.json"
    assert abs(row["longest_diameter_mm"] - truth["L1"]["longest_diameter_mm"]) <= 2.3 * 2**0.5
    # the viable part comes from viable_mask (as segment --viable-out): L1 enhances throughout
    assert row["viable_diameter_mm"] is not None
    assert abs(row["viable_diameter_mm"] - truth["L1"]["viable_diameter_mm"]) <= 2.3 * 2**0.5


def test_a_seeded_study_leaves_out_a_phase_of_another_scan(tmp_path) -> None:
    """A seeded study whose pre-contrast series is in another frame of reference (the patient
    re-scanned after moving): ``segment_lesion`` refuses phases of two scans, which failed the whole
    study at step ``masks``.  The batch leaves that phase out (the record's ``series_not_used``
    says why) and segments on the phases of one scan."""
    import shutil

    import pydicom

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    for f in (study / "pre_contrast").rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.999"
        ds.save_as(f)
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    (study / "seeds.json").write_text(json.dumps({"lesions": [{"lesion_id": "L1", "seed_lps": truth["L1"]["seed_lps"]}]}))
    records = []
    s = _run(tmp_path / "arch", tmp_path / "o", on_record=records.append)
    assert s.n_failed_studies == 0, records
    (row,) = records[0]["lesions"]
    assert row["lesion_id"] == "L1"
    assert abs(row["longest_diameter_mm"] - truth["L1"]["longest_diameter_mm"]) <= 2.3 * 2**0.5
    assert any("pre_contrast" in n and "another frame of reference" in n for n in records[0]["series_not_used"])


def test_a_seeded_mask_the_segmenter_flags_is_listed_for_a_reader(tmp_path) -> None:
    """The segmenter's checks (a mask that may be wrong) reach the batch's outputs: the study
    phantom's ascites (L8, on every slice) reaches the scanned range, L1 does not. The record lists
    them, ``lesions.csv`` has them per lesion, the read's observation says what to check."""
    import shutil

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    (study / "seeds.json").write_text(json.dumps(
        {"lesions": [{"lesion_id": lid, "seed_lps": truth[lid]["seed_lps"]} for lid in ("L1", "L8")]}))
    records: list[dict] = []
    s = _run(tmp_path / "arch", tmp_path / "o", on_record=records.append)
    assert s.n_failed_studies == 0, records
    assert records[0]["segmentation_checks"] == {"L8": ["scan_range"]}
    assert (s.n_masks_saved, s.n_lesions_to_check) == (1, 1)  # the run's summary counts them
    les = pd.read_csv(tmp_path / "o" / "lesions.csv", keep_default_na=False).set_index("lesion_id")
    assert les.loc["L8", "segmentation_checks"] == "scan_range" and les.loc["L1", "segmentation_checks"] == ""
    read = json.loads(next((tmp_path / "o" / "reads").glob("*.json")).read_text())
    obs = {o["lesion_id"]: o for o in read["timepoints"][0]["lesions"]}
    assert "check the segmented mask" in obs["L8"]["note"] and "scanned range" in obs["L8"]["note"]
    assert "check the segmented mask" not in (obs["L1"].get("note") or "")


def test_seeds_file_in_the_liver_with_a_node_kept_out(tmp_path) -> None:
    """``"liver": true`` keeps the seeded lesions in the study's liver mask, ``"extrahepatic": true``
    keeps the porta-hepatis node out of it; the partly necrotic L2, given by a line across it (its
    longest diameter, ``"line_lps"``), has a viable part that is a part of it (mRECIST readable from
    seeds), the node has none."""
    import shutil

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    seeds = {"liver": True, "lesions": [
        {"lesion_id": "L1", "seed_lps": truth["L1"]["seed_lps"]},
        {"lesion_id": "L2", "line_lps": truth["L2"]["ld_endpoints_lps"]},
        {"lesion_id": "L6", "seed_lps": truth["L6"]["seed_lps"], "extrahepatic": True}]}
    (study / "seeds.json").write_text(json.dumps(seeds))
    records = []
    s = _run(tmp_path / "arch", tmp_path / "o", on_record=records.append)
    assert s.n_failed_studies == 0, records
    rows = {r["lesion_id"]: r for r in records[0]["lesions"]}
    assert set(rows) == {"L1", "L2", "L6"}
    tol = 2.3 * 2**0.5
    for lid in ("L1", "L2"):
        assert abs(rows[lid]["longest_diameter_mm"] - truth[lid]["longest_diameter_mm"]) <= tol
        assert abs(rows[lid]["viable_diameter_mm"] - truth[lid]["viable_diameter_mm"]) <= tol
    assert rows["L2"]["viable_diameter_mm"] < rows["L2"]["longest_diameter_mm"] - 5.0
    assert abs(rows["L6"]["short_axis_mm"] - truth["L6"]["short_axis_mm"]) <= tol
    assert not rows["L6"]["viable_diameter_mm"]


def _thick_copy(series_dir: Path, out_dir: Path, series_number: int) -> str:
    """Every other slice of ``series_dir`` as a second series of the same study and phase (a 6 mm
    reconstruction beside the 3 mm one, as archives hold them); returns its SeriesInstanceUID."""
    import pydicom
    from pydicom.uid import generate_uid

    uid = generate_uid()
    out_dir.mkdir(parents=True)
    for i, f in enumerate(sorted(series_dir.glob("*.dcm"))[::2]):
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID, ds.SeriesNumber = uid, series_number
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SliceThickness, ds.InstanceNumber = 6.0, i + 1
        ds.SeriesDescription = "LIVER PORTAL VENOUS 6mm"
        ds.save_as(out_dir / f.name)
    return uid


def test_a_phase_with_two_series_is_measured_on_the_one_the_viewer_shows(tmp_path, monkeypatch) -> None:
    """Two portal-venous series in one study (a 6 mm and a 3 mm reconstruction): the batch measured
    the first of them, the viewer and ``segment`` show the finer one, so a seed's voxel index picked
    in the viewer pointed elsewhere in the batch.  The batch now takes the viewer's series
    (``io.series_preference``), says which one it left (``series_not_used``), and the study's resume
    key holds the choice."""
    import shutil

    from hcc_imaging.batch import discover_studies
    from hcc_imaging.io import load_series

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    thin = load_series(study / "portal_venous")
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    seed = [int(round(v)) for v in thin.geometry.lps_to_index(truth["L1"]["seed_lps"])]
    (study / "seeds.json").write_text(json.dumps({"lesions": [{"lesion_id": "L1", "seed_index": seed}]}))
    thick = _thick_copy(study / "portal_venous", study / "portal_venous_6mm", series_number=0)
    key = discover_studies(tmp_path / "arch", PipelineOptions())[0][0].key
    with monkeypatch.context() as m:  # the same files, the other series chosen: another key
        m.setattr("hcc_imaging.io.series.series_preference", lambda modality, mm: (0, -(mm or 0.0)))
        assert discover_studies(tmp_path / "arch", PipelineOptions())[0][0].key != key
    assert discover_studies(tmp_path / "arch", PipelineOptions())[0][0].key == key
    records: list[dict] = []
    s = _run(tmp_path / "arch", tmp_path / "o", on_record=records.append)
    assert s.n_failed_studies == 0, records
    rec = records[0]
    assert rec["reference_series_instance_uid"] == thin.series_instance_uid
    (note,) = rec["series_not_used"]
    assert note.startswith(f"series {thick} (CT, portal_venous, 6 mm slices) not used") and thin.series_instance_uid in note
    (row,) = rec["lesions"]
    assert abs(row["longest_diameter_mm"] - truth["L1"]["longest_diameter_mm"]) <= 2.3 * 2**0.5


def test_a_seeded_studys_resume_key_follows_the_segmentation_version(tmp_path, monkeypatch) -> None:
    """A seeded study's masks are made by the segmentation, so its input hash (and resume key)
    changes with the segmentation's version; a study with mask files does not."""
    from hcc_imaging.batch.pipeline import StudyInputs, _input_hash
    from hcc_imaging.segment import constants as SC

    (tmp_path / "seeds.json").write_text('{"lesions": []}')
    (tmp_path / "lesions.nii.gz").write_bytes(b"x")
    seeded = StudyInputs(seeds_file=str(tmp_path / "seeds.json"))
    masked = StudyInputs(lesion_masks=(str(tmp_path / "lesions.nii.gz"),), seeds_file=str(tmp_path / "seeds.json"))
    before = (_input_hash([], seeded), _input_hash([], masked))
    monkeypatch.setattr(SC, "ALGORITHM_VERSION", SC.ALGORITHM_VERSION + ".x")
    assert _input_hash([], seeded) != before[0]
    assert _input_hash([], masked) == before[1]


def test_a_measurement_code_change_measures_again_on_resume(small_archive, tmp_path, monkeypatch) -> None:
    """``__version__`` stayed 0.1.0 across commits that changed the numbers, and the resume key held
    nothing else of the code: a run started with the v3 estimator and resumed with v4 kept both
    estimators' numbers in one table.  The key now holds the measurement's versions and parameters
    (``resume.code_version``); a change (simulated here in-process) measures every study again."""
    import shutil

    from hcc_imaging.batch import discover_studies
    from hcc_imaging.measure import constants as MC

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    out = tmp_path / "o"
    first = _run(arch, out)
    assert first.n_processed == 2 and first.n_failed_studies == 0
    old_keys = set(pd.read_csv(out / "lesions.csv").key)
    assert _run(arch, out, resume=True).n_processed == 0  # same code: nothing measured again
    monkeypatch.setattr(MC, "ESTIMATOR", MC.ESTIMATOR + "-next")
    again = _run(arch, out, resume=True)
    assert (again.n_processed, again.n_skipped, again.n_failed_studies) == (2, 0, 0)
    new_keys = set(pd.read_csv(out / "lesions.csv").key)
    assert len(new_keys) == 2 and not new_keys & old_keys  # every row from the new code, none from the old
    keys = {t.key for t in discover_studies(arch, PipelineOptions())[0]}
    assert keys == new_keys
    for name, value in (("VIABLE_RULE", MC.VIABLE_RULE + "-next"), ("VIABLE_GAP_VOXELS", 2.0)):
        with monkeypatch.context() as m:  # the viable rule's version, a measurement parameter
            m.setattr(MC, name, value)
            assert not {t.key for t in discover_studies(arch, PipelineOptions())[0]} & keys, name


def test_seeds_file_that_is_not_one_is_a_failure_row(tmp_path) -> None:
    import shutil

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    (study / "seeds.json").write_text(json.dumps({"lesions": [["not", "a", "seed"]]}))
    s = _run(tmp_path / "arch", tmp_path / "o")
    assert s.n_failed_studies == 1
    (fail,) = pd.read_csv(tmp_path / "o" / "failures.csv").to_dict("records")
    assert fail["step"] == "masks" and "seeds.json: not a seeds file" in fail["reason"]
    assert '"extrahepatic": true' in fail["reason"]  # what the file may hold


def test_carry_seeds_from_the_baseline_to_the_follow_up(tmp_path) -> None:
    """``carry=True`` (``batch --carry``): the baseline is seeded, the follow-up has no masks or
    seeds; its lesions are carried there (one registration) and segmented, measured and read at FU1
    (L1, L2 within a voxel diagonal of fu1's truth; L2's viable part from the arterial phase).
    Without it the follow-up is a failure row (no lesion mask); the follow-up's resume key follows
    the baseline's seeds."""
    import shutil

    import numpy as np

    from hcc_imaging.batch.pipeline import discover_studies, link_carried

    src = REPO / "sample_data" / "liver_phantom"
    arch = tmp_path / "arch"
    shutil.copytree(src, arch, ignore=shutil.ignore_patterns("masks"))
    base = json.loads((arch / "baseline" / "truth.json").read_text())["lesions"]
    fu = json.loads((arch / "fu1" / "truth.json").read_text())["lesions"]
    seeds = {"liver": True, "lesions": [{"lesion_id": lid, "seed_lps": base[lid]["seed_lps"]} for lid in ("L1", "L2")]}
    (arch / "baseline" / "seeds.json").write_text(json.dumps(seeds))
    s = _run(arch, tmp_path / "plain")
    assert s.n_failed_studies == 1  # the follow-up: nothing to measure without --carry
    (fail,) = pd.read_csv(tmp_path / "plain" / "failures.csv").to_dict("records")
    assert "no lesion mask beside it" in fail["reason"]

    records: list[dict] = []
    s = _run(arch, tmp_path / "o", options=PipelineOptions(carry=True), on_record=records.append)
    assert s.n_failures == 0, records
    by_date = sorted(records, key=lambda r: r["study_date"])
    assert by_date[0]["mask_source"] == "seeds.json" and "carried_from" not in by_date[0]
    fu1 = by_date[1]
    assert fu1["mask_source"].startswith(f"carried from {by_date[0]['study_instance_uid']} (seeds.json)")
    assert fu1["carried_from"]["not_carried"] == {} and fu1["carried_from"]["registration_in_liver"]
    assert fu1["segmentation_checks"] == {}  # nothing in the carried masks for a reader to check
    # provenance: the points clicked at fu1 (inside its lesions' truth) and the registration
    assert fu1["carried_from"]["registration"]["kind"] == "affine" and set(fu1["carried_from"]["seeds_lps"]) == {"L1", "L2"}
    for lid, p in fu1["carried_from"]["seeds_lps"].items():
        assert np.linalg.norm(np.asarray(p) - np.asarray(fu[lid]["centre_lps"])) < 0.5 * fu[lid]["longest_diameter_mm"]
    rows = {r["lesion_id"]: r for r in fu1["lesions"]}
    assert set(rows) == {"L1", "L2"}
    tol = 2.3 * 2**0.5
    for lid in ("L1", "L2"):
        assert abs(rows[lid]["longest_diameter_mm"] - fu[lid]["longest_diameter_mm"]) <= tol
        assert abs(rows[lid]["viable_diameter_mm"] - fu[lid]["viable_diameter_mm"]) <= tol
    read = json.loads(next((tmp_path / "o" / "reads").glob("*.json")).read_text())
    fu_obs = {o["lesion_id"]: o for o in read["timepoints"][1]["lesions"]}
    assert {fu_obs[lid]["status"] for lid in ("L1", "L2")} == {"measured"}
    # the command line's --carry is the option (the same rows)
    assert main(["batch", str(arch), "--out", str(tmp_path / "cli"), "--threads", "--workers", "1", "--carry",
                 "--no-progress", "--strict"]) == 0
    cli = pd.read_csv(tmp_path / "cli" / "lesions.csv")
    fu_rows = cli[cli["study_instance_uid"] == fu1["study_instance_uid"]]
    assert sorted(fu_rows["lesion_id"]) == ["L1", "L2"] and fu_rows["mask_source"].str.startswith("carried from").all()

    # the masks the run made are saved under OUT (the record names them; their bytes never enter
    # the stored record) and measure as the record does
    from hcc_imaging.batch.lesions import load_saved_masks
    from hcc_imaging.io import load_series
    from hcc_imaging.measure import measure_labels

    for rec in by_date:
        m = rec["masks"]
        assert set(m) - {"organs"} == {"lesions", "viable", "labels", "sha256"}
        assert m["lesions"] == f"masks/{rec['study_instance_uid']}/lesions.nii.gz"
        # each saved file's sha256, as saved (what load_saved_masks checks before using a file)
        from hcc_imaging.batch.resume import file_digest

        assert {rel: file_digest(tmp_path / "o" / rel) for rel in m["sha256"]} == m["sha256"]
        assert set(m["sha256"]) == {m["lesions"], m["viable"]}
        # a carried lesion keeps its organ (here the annotations'), for the SEG's anatomic region
        assert m.get("organs") == ({"L1": "liver", "L2": "liver"} if "carried_from" in rec else None)
        stored = json.loads((tmp_path / "o" / "store" / "ok" / f"{rec['key']}.json").read_text())
        assert stored["masks"] == m and not any(k.startswith("_") for k in stored)
        assert json.loads((tmp_path / "o" / "masks" / rec["study_instance_uid"] / "labels.json").read_text())[
            "labels"] == m["labels"]
        ref = load_series(Path(rec["root"]) / "portal_venous")
        lesions, viable = load_saved_masks(tmp_path / "o", m, ref)
        assert set(lesions.labels.values()) == {r["lesion_id"] for r in rec["lesions"]}
        again = {x.lesion_id: x for x in measure_labels(lesions, viable, image=ref)}
        for r in rec["lesions"]:
            assert again[r["lesion_id"]].longest_diameter_mm == pytest.approx(r["longest_diameter_mm"], abs=1e-6)
            assert again[r["lesion_id"]].viable_diameter_mm == pytest.approx(r["viable_diameter_mm"], abs=1e-6)

    # the follow-up's content key holds the baseline's inputs: other seeds, another key
    opts = PipelineOptions(carry=True)
    before = {t.study_date: t.key for t in link_carried(discover_studies(arch, opts)[0], opts)}
    seeds["lesions"] = seeds["lesions"][:1]
    (arch / "baseline" / "seeds.json").write_text(json.dumps(seeds))
    tasks = link_carried(discover_studies(arch, opts)[0], opts)
    after = {t.study_date: t.key for t in tasks}
    assert all(before[d] != after[d] for d in before)
    assert [t.carry_from is not None for t in sorted(tasks, key=lambda t: t.study_date)] == [False, True]
    assert link_carried(discover_studies(arch, PipelineOptions())[0], PipelineOptions())[1].carry_from is None


def test_a_carried_lesion_not_found_is_not_evaluable_not_gone(tmp_path) -> None:
    """The sample baseline's expert masks (every kind of finding) plus a 'lesion' drawn in the air
    beside the body, carried to a follow-up without masks: the liver lesions, the portal-vein
    thrombus (in the liver mask) and the porta-hepatis node (kept out of it) are segmented there
    (LD / short axis within a voxel diagonal of fu1's truth); the ascites is not carried (no click
    segments it) and the drawing is not found. Neither is recorded as gone (0 mm, which would read
    as a response): their observations are ``not_evaluable``, with why."""
    import shutil

    import numpy as np

    from hcc_imaging.io.masks import load_mask, save_mask

    src = REPO / "sample_data" / "liver_phantom"
    arch = tmp_path / "arch"
    shutil.copytree(src, arch)
    shutil.rmtree(arch / "fu1" / "masks")
    fu = json.loads((arch / "fu1" / "truth.json").read_text())["lesions"]
    m = load_mask(arch / "baseline" / "masks" / "lesions.nii.gz")
    arr = np.asarray(m.array).astype(np.uint16)
    arr[20:23, 2:6, 2:6] = 9
    save_mask(m.with_array(arr), arch / "baseline" / "masks" / "lesions.nii.gz")
    records: list[dict] = []
    s = _run(arch, tmp_path / "o", options=PipelineOptions(carry=True), on_record=records.append)
    assert s.n_failures == 0, records
    fu1 = max(records, key=lambda r: r["study_date"])
    not_carried = fu1["carried_from"]["not_carried"]
    assert sorted(not_carried) == ["L8", "L9"] and "ascites is not a lesion a click segments" in not_carried["L8"]
    rows = {r["lesion_id"]: r for r in fu1["lesions"]}
    assert sorted(rows) == ["L1", "L2", "L3", "L4", "L5", "L6", "L7"]
    tol = 2.3 * 2**0.5
    for lid in ("L1", "L2", "L3", "L4"):
        assert abs(rows[lid]["longest_diameter_mm"] - fu[lid]["longest_diameter_mm"]) <= tol
    assert abs(rows["L6"]["short_axis_mm"] - fu["L6"]["short_axis_mm"]) <= tol
    read = json.loads(next((tmp_path / "o" / "reads").glob("*.json")).read_text())
    obs = {o["lesion_id"]: o for o in read["timepoints"][1]["lesions"]}
    for lid in ("L8", "L9"):
        assert obs[lid]["status"] == "not_evaluable" and "lesions were carried" in obs[lid]["note"]
    assert obs["L1"]["status"] == "measured" and obs["L7"]["status"] == "present"


def test_a_follow_up_whose_registration_fails_its_check_is_flagged_not_measured(tmp_path) -> None:
    """``carry=True`` onto a "follow-up" whose images are pure noise (same patient, study and series
    UIDs: only the pixels replaced): the registration that carries the baseline's lesions fails its
    check (the images hardly match), so the follow-up is a failure row (step ``masks``) naming the
    series and what to do, and none of its lesions is measured.  Before, the registration passed
    silently and lesions were clicked wherever it put them."""
    import shutil

    import numpy as np
    import pydicom

    arch = tmp_path / "arch"
    shutil.copytree(REPO / "sample_data" / "liver_phantom", arch)
    shutil.rmtree(arch / "fu1" / "masks")
    rng = np.random.default_rng(0)
    for f in sorted((arch / "fu1").rglob("*")):
        if f.is_file() and f.suffix.lower() in ("", ".dcm"):
            try:
                ds = pydicom.dcmread(f)
            except Exception:
                continue
            if "PixelData" in ds:
                ds.decompress()  # the sample's series are compressed: written back uncompressed
                a = ds.pixel_array
                ds.PixelData = rng.normal(1000, 100, a.shape).clip(0, 4000).astype(a.dtype).tobytes()
                ds.save_as(f)
    s = _run(arch, tmp_path / "o", options=PipelineOptions(carry=True))
    assert s.n_failed_studies == 1  # the follow-up; the baseline (its own masks) is measured
    fail = pd.read_csv(tmp_path / "o" / "failures.csv").to_dict("records")[0]
    assert fail["step"] == "masks" and "is suspect" in fail["reason"] and "hardly match" in fail["reason"]
    assert "own lesion masks or seeds" in fail["reason"]


def test_a_follow_up_whose_earlier_study_cannot_be_read_fails_naming_it(tmp_path) -> None:
    """``carry=True`` with a baseline seeds file that is not one: the baseline is a failure row
    (the seeds file, what it may hold), and so is the follow-up, naming the earlier study and the
    same reason; neither stops the run."""
    import shutil

    arch = tmp_path / "arch"
    shutil.copytree(REPO / "sample_data" / "liver_phantom", arch, ignore=shutil.ignore_patterns("masks"))
    (arch / "baseline" / "seeds.json").write_text(json.dumps({"lesions": [["not", "a", "seed"]]}))
    s = _run(arch, tmp_path / "o", options=PipelineOptions(carry=True))
    assert s.n_failed_studies == 2
    fails = sorted(pd.read_csv(tmp_path / "o" / "failures.csv").to_dict("records"), key=lambda r: r["study_date"])
    assert all(f["step"] == "masks" and "seeds.json: not a seeds file" in f["reason"] for f in fails)
    assert "the lesions to carry from the earlier study" in fails[1]["reason"]
    assert fails[0]["study_instance_uid"] in fails[1]["reason"]


def test_seeds_with_carry_add_new_lesions_and_the_next_follow_up_carries_them_all(tmp_path, monkeypatch) -> None:
    """Three time points: the baseline seeded (L1, L2), fu1's seeds file says ``"carry": true`` and
    seeds only L4 (say, a lesion read first there), fu2 has nothing (``carry=True``). fu1 measures
    L1 and L2 carried plus its own L4; fu2 carries all three from fu1 (chained: fu1's lesions are
    made again in fu2's worker). Every LD within a voxel diagonal of its time point's truth, and
    the ``--export-sr`` SEG of each study holds what was measured: from the masks the run saved, or,
    when they were deleted, made again the same way."""
    import shutil

    import numpy as np

    from hcc_imaging.export.seg import read_seg
    from hcc_imaging.phantoms import write_longitudinal

    arch = tmp_path / "arch"
    write_longitudinal(arch / "P1", seed=0, timepoints=("baseline", "fu1", "fu2"), patient_id="P1")
    truth = json.loads((arch / "P1" / "truth.json").read_text())["timepoints"]
    for tp in ("baseline", "fu1", "fu2"):
        shutil.rmtree(arch / "P1" / tp / "masks")
    seed = lambda tp, lid: {"lesion_id": lid, "seed_lps": truth[tp]["lesions"][lid]["seed_lps"]}  # noqa: E731
    (arch / "P1" / "baseline" / "seeds.json").write_text(json.dumps(
        {"liver": True, "lesions": [seed("baseline", "L1"), seed("baseline", "L2")]}))
    (arch / "P1" / "fu1" / "seeds.json").write_text(json.dumps(
        {"carry": True, "liver": True, "lesions": [seed("fu1", "L4")]}))
    from hcc_imaging.batch import export as batch_export

    made_again: list[str] = []
    remake = batch_export.study_lesions

    def counted(task, *a, **kw):
        made_again.append(task.study_instance_uid)
        return remake(task, *a, **kw)

    monkeypatch.setattr(batch_export, "study_lesions", counted)
    records: list[dict] = []
    opts = PipelineOptions(carry=True, export_sr=True)
    s = _run(arch, tmp_path / "o", options=opts, on_record=records.append)
    assert s.n_failures == 0, records
    assert made_again == []  # the export reads the masks the run saved: no study segmented again
    bl, fu1, fu2 = sorted(records, key=lambda r: r["study_date"])
    assert fu1["mask_source"] == f"carried from {bl['study_instance_uid']} (seeds.json) + seeds.json"
    assert fu2["mask_source"].startswith(f"carried from {fu1['study_instance_uid']} (carried from ")
    tol = 2.3 * 2**0.5
    for rec, tp, ids in ((bl, "baseline", {"L1", "L2"}), (fu1, "fu1", {"L1", "L2", "L4"}),
                         (fu2, "fu2", {"L1", "L2", "L4"})):
        rows = {r["lesion_id"]: r for r in rec["lesions"]}
        assert set(rows) == ids, tp
        for lid in ids:
            assert abs(rows[lid]["longest_diameter_mm"] - truth[tp]["lesions"][lid]["longest_diameter_mm"]) <= tol, (tp, lid)
        seg = read_seg(tmp_path / "o" / "seg" / f"{rec['study_instance_uid']}.dcm")
        assert set(seg.lesions.labels.values()) == ids  # the SEG holds the lesions measured
        vols = {lid: float(np.count_nonzero(np.asarray(seg.lesions.array) == lab)) * seg.lesions.voxel_volume_mm3
                for lab, lid in seg.lesions.labels.items()}
        for lid in ids:
            assert abs(vols[lid] - rows[lid]["volume_mm3"]) <= 0.01 * rows[lid]["volume_mm3"], (tp, lid)
    # the saved masks deleted: a resumed run's export makes them again (the same SEGs)
    segs = {p.name: read_seg(p) for p in (tmp_path / "o" / "seg").glob("*.dcm")}
    shutil.rmtree(tmp_path / "o" / "masks")
    s = _run(arch, tmp_path / "o", options=opts, resume=True)
    assert (s.n_processed, s.n_failures) == (0, 0)
    assert sorted(made_again) == sorted(r["study_instance_uid"] for r in records)
    for name, seg in segs.items():
        again = read_seg(tmp_path / "o" / "seg" / name)
        assert again.lesions.labels == seg.lesions.labels
        assert np.array_equal(np.asarray(again.lesions.array), np.asarray(seg.lesions.array)), name


def test_a_follow_ups_seed_replaces_the_carried_lesion_of_its_id() -> None:
    """``merge_seeded``: a follow-up's seed with a carried lesion's id replaces that mask (the
    reader's click wins), one with the id of a lesion not found there takes it off the not-found
    list, a new id takes the next label value; a node's label stays marked extrahepatic."""
    import numpy as np

    from hcc_imaging.batch.coalesce import merge_seeded
    from hcc_imaging.volume import LabelVolume

    geo = np.zeros((4, 8, 8), np.uint16)
    carried = geo.copy()
    carried[0, :2, :2] = 1  # L1
    carried[3, 6:, 6:] = 3  # L3, a node
    seeded = geo.copy()
    seeded[1, 4:6, 4:6] = 1  # L1 again, elsewhere
    seeded[2, :2, 6:] = 2  # L2: not found when carried
    seeded[0, 6:, :2] = 3  # L7: new
    c = LabelVolume.create(carried, spacing=(1.0, 1.0, 1.0), labels={1: "L1", 3: "L3"})
    sd = LabelVolume.create(seeded, spacing=(1.0, 1.0, 1.0), labels={1: "L1", 2: "L2", 3: "L7"})
    how = {"not_carried": {"L2": "not found"}}
    out, extra, _ = merge_seeded(c, [3], sd, [], how)
    arr = np.asarray(out.array)
    assert out.labels == {1: "L1", 3: "L3", 4: "L2", 5: "L7"} and extra == [3]
    assert not arr[0, :2, :2].any() and (arr[1, 4:6, 4:6] == 1).all()
    assert (arr[2, :2, 6:] == 4).all() and (arr[0, 6:, :2] == 5).all() and (arr[3, 6:, 6:] == 3).all()
    assert how["not_carried"] == {}


def test_export_seg_and_sr(small_archive, tmp_path) -> None:
    import pydicom

    s = _run(small_archive / "PAT-001", tmp_path / "o", options=PipelineOptions(export_sr=True))
    assert s.n_failures == 0
    segs = sorted((tmp_path / "o" / "seg").glob("*.dcm"))
    (sr,) = sorted((tmp_path / "o" / "sr").glob("*.dcm"))
    assert len(segs) == 2
    ds = pydicom.dcmread(sr)
    assert ds.Modality == "SR" and ds.PatientID == "PAT-001"
    seg = pydicom.dcmread(segs[0], stop_before_pixels=True)
    labels = {str(x.SegmentLabel) for x in seg.SegmentSequence}
    assert {"L1", "L2"} <= labels
    # each segment's anatomic region is its annotated organ (the node's a lymph node, not the liver)
    from hcc_imaging.export.seg import read_seg

    organs = read_seg(segs[0]).organs
    assert organs["L1"] == "liver" and organs["L6"] == "lymph_node" and organs["L7"] == "portal_vein"
    # one lesion, one Tracking UID: in the SEG of each study and in the SR's groups (each SEG made
    # its own before, so the follow-up's segments were not linked to the SR's groups)
    _assert_one_tracking_uid_per_lesion(sr, segs)


def test_patient_ids_with_one_safe_name_keep_a_file_each(tmp_path) -> None:
    """"PAT 004" and "PAT_004" were both ``PAT_004`` as a file name: one patient's read, assessment
    and SR overwrote the other's, and the SR of one was built from the other's read.  Each patient
    id now has files of its own (``resume.patient_file_stem``)."""
    import pydicom

    from hcc_imaging.batch.resume import patient_file_stem
    from hcc_imaging.phantoms import write_longitudinal

    from .conftest import SMALL

    ids = ("PAT 004", "PAT_004")
    for k, pid in enumerate(ids):
        write_longitudinal(tmp_path / "a" / f"p{k}", seed=3 + k, patient_id=pid, **SMALL)  # type: ignore[arg-type]
    out = tmp_path / "o"
    s = _run(tmp_path / "a", out, options=PipelineOptions(export_sr=True))
    assert s.n_failures == 0 and s.n_patients == 2
    assert patient_file_stem("PAT_004") == "PAT_004" and patient_file_stem("PAT 004").startswith("PAT_004_")
    for kind, suffix in (("reads", "json"), ("assessments", "json"), ("sr", "dcm")):
        assert sorted(p.name for p in (out / kind).iterdir()) == sorted(f"{patient_file_stem(i)}.{suffix}" for i in ids)
    for pid in ids:
        stem = patient_file_stem(pid)
        assert json.loads((out / "reads" / f"{stem}.json").read_text())["patient_id"] == pid
        sr = pydicom.dcmread(out / "sr" / f"{stem}.dcm")
        assert sr.PatientID == pid
        own = {str(p) for p in (out / "seg").glob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).PatientID == pid}
        assert len(own) == 2
        _assert_one_tracking_uid_per_lesion(out / "sr" / f"{stem}.dcm", sorted(Path(p) for p in own))
    assert set(pd.read_csv(out / "responses.csv").patient_id) == set(ids)


def _assert_one_tracking_uid_per_lesion(sr: Path, segs: list[Path]) -> None:
    import pydicom

    from hcc_imaging.export import read_sr

    sr_uids: dict[str, set[str]] = {}
    for g in read_sr(sr).groups:
        if g.time_point and "response" not in (g.tracking_identifier or ""):
            sr_uids.setdefault(g.tracking_identifier, set()).add(g.tracking_uid)
    n = 0
    for p in segs:
        for item in pydicom.dcmread(p, stop_before_pixels=True).SegmentSequence:
            lid = str(item.SegmentLabel)
            if not lid.endswith(" viable") and lid in sr_uids:
                assert sr_uids[lid] == {str(item.TrackingUID)}, (p.name, lid, sr_uids[lid], item.TrackingUID)
                n += 1
    assert n >= 4


def test_deidentified_copy_for_sharing(small_archive, tmp_path) -> None:
    """``batch --deidentify``: OUT/deidentified/ holds the tables, reads, SEGs and SR with the
    patient's pseudonym, shifted dates and new UIDs: no byte of any file there carries the patient
    id or an original study UID, and the de-identified SR still references the de-identified SEGs.
    A pseudonym map inside that folder is refused before anything runs."""
    import pydicom

    from hcc_imaging.export import read_sr
    from hcc_imaging.export.deid import DeidentificationError, Deidentifier

    out = tmp_path / "o"
    deid = Deidentifier(tmp_path / "keys" / "map.json")
    s = _run(small_archive / "PAT-001", out, options=PipelineOptions(export_sr=True), deidentifier=deid)
    assert s.n_failures == 0
    dest = out / "deidentified"
    pseudonym = json.loads((tmp_path / "keys" / "map.json").read_text())["patients"]["PAT-001"]["pseudonym"]
    uids = {r["study_instance_uid"] for r in (json.loads(p.read_text()) for p in (out / "store" / "ok").glob("*.json"))}
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert {"lesions.csv", "responses.csv"} <= {p.name for p in files}
    for p in files:
        data = p.read_bytes()
        assert b"PAT-001" not in data and not any(u.encode() in data for u in uids), p
        assert "PAT-001" not in str(p.relative_to(dest)) and not any(u in p.name for u in uids), p  # names too
    assert pseudonym.encode() in (dest / "lesions.csv").read_bytes()
    segs = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((dest / "seg").glob("*.dcm"))]
    (sr,) = [pydicom.dcmread(p) for p in sorted((dest / "sr").glob("*.dcm"))]
    assert len(segs) == 2 and {d.PatientID for d in [*segs, sr]} == {pseudonym}
    # (the latest study's SEG is current evidence, the earlier study's pertinent other evidence)
    referenced = {str(r.ReferencedSOPInstanceUID)
                  for ev in [*sr.CurrentRequestedProcedureEvidenceSequence, *sr.get("PertinentOtherEvidenceSequence", [])]
                  for se in ev.ReferencedSeriesSequence for r in se.ReferencedSOPSequence}
    assert {str(d.SOPInstanceUID) for d in segs} <= referenced
    _assert_one_tracking_uid_per_lesion(next((dest / "sr").glob("*.dcm")), sorted((dest / "seg").glob("*.dcm")))
    table = pd.read_csv(dest / "lesions.csv")
    assert table.tracking_uid.notna().all()
    assert (table.groupby("lesion_id").tracking_uid.nunique() == 1).all()  # one per lesion, every time point
    sr_l1 = {g.tracking_uid for g in read_sr(next((dest / "sr").glob("*.dcm"))).groups if g.tracking_identifier == "L1"}
    assert sr_l1 == set(table[table.lesion_id == "L1"].tracking_uid)
    with pytest.raises(DeidentificationError, match="inside the export folder"):
        _run(small_archive / "PAT-001", tmp_path / "o2", deidentifier=Deidentifier(tmp_path / "o2" / "deidentified" / "m.json"))
    assert not (tmp_path / "o2" / "store").exists()
    # the CLI: a pseudonym map without --deidentify is an argument error, before anything runs
    assert main(["batch", str(small_archive / "PAT-001"), "--out", str(tmp_path / "o3"), "--threads", "--workers", "1",
                 "--pseudonym-map", str(tmp_path / "keys" / "map.json")]) == 2
    assert not (tmp_path / "o3").exists()


def test_a_patient_whose_read_fails_on_resume_keeps_no_earlier_read_seg_or_sr(small_archive, tmp_path) -> None:
    """The baseline's mask broken before ``--resume --export-sr``: the patient fails (step
    ``baseline``), and the earlier run's read, assessment, SEGs and SR are no longer left beside
    the new tables (the export rebuilt the SR from that stale read, its baseline pointing at fu1's
    images): they are moved to ``OUT/stale/``."""
    import shutil

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    out = tmp_path / "o"
    opts = PipelineOptions(export_sr=True)
    assert _run(arch, out, options=opts).n_failures == 0
    before = {d: sorted(p.name for p in (out / d).iterdir()) for d in ("reads", "assessments", "seg", "sr")}
    assert [len(v) for v in before.values()] == [1, 1, 2, 1]
    mask = arch / "PAT-001" / "baseline" / "masks" / "lesions.nii.gz"
    mask.write_bytes(mask.read_bytes()[:100])
    s = _run(arch, out, options=opts, resume=True)
    assert (s.n_failed_studies, s.n_failed_patients, s.n_stale_set_aside) == (1, 1, 5)
    assert set(pd.read_csv(out / "failures.csv").step) == {"masks", "baseline"}
    for d in ("reads", "assessments", "seg", "sr"):
        assert not list((out / d).iterdir()), d
    (stale,) = (out / "stale").iterdir()
    assert {d: sorted(p.name for p in (stale / d).iterdir()) for d in before} == before
    # the study fixed: the patient is read and exported again, nothing more set aside
    shutil.copy(small_archive / "PAT-001" / "baseline" / "masks" / "lesions.nii.gz", mask)
    s = _run(arch, out, options=opts, resume=True)
    assert (s.n_failures, s.n_stale_set_aside) == (0, 0)
    assert {d: sorted(p.name for p in (out / d).iterdir()) for d in before} == before


def test_resume_with_another_source_shares_only_its_patients(small_archive, tmp_path) -> None:
    """``--resume`` into an OUT of another SOURCE with ``--deidentify --export-sr``: the copy meant
    for sharing held the earlier patient's SEGs and SR too (every file of seg/ and sr/), and the
    pseudonym map named that patient.  It holds this run's files only, and the earlier patient's
    files are set aside."""
    from hcc_imaging.export.deid import Deidentifier

    out = tmp_path / "o"
    opts = PipelineOptions(export_sr=True)
    assert _run(small_archive / "PAT-001", out, options=opts).n_failures == 0
    keys = tmp_path / "keys" / "map.json"
    s = _run(small_archive / "PAT-002", out, options=opts, resume=True, deidentifier=Deidentifier(keys))
    assert s.n_failures == 0 and s.n_stale_set_aside == 5
    assert [p.name for p in (out / "reads").iterdir()] == ["PAT-002.json"]
    assert [p.name for p in (out / "sr").iterdir()] == ["PAT-002.dcm"]
    dest = out / "deidentified"
    assert len(list((dest / "sr").iterdir())) == 1 and len(list((dest / "seg").iterdir())) == 2
    assert len(list((dest / "reads").iterdir())) == 1
    assert list(json.loads(keys.read_text())["patients"]) == ["PAT-002"]
    # a later run without --deidentify does not leave the earlier copy for sharing behind either
    s = _run(small_archive / "PAT-002", out, options=opts, resume=True)
    assert not dest.exists() and s.n_stale_set_aside == 1


def test_the_export_refuses_a_read_whose_time_points_are_not_the_studies(small_archive, tmp_path) -> None:
    """export_reports paired the read's time points with the patient's studies with
    ``zip(strict=False)``: a read of one time point against two studies went out without a word.
    It is a failure row naming the patient, its dates and studies, and nothing is exported."""
    from hcc_imaging.batch import discover_studies
    from hcc_imaging.batch.export import export_reports
    from hcc_imaging.batch.tables import patient_outputs

    out = tmp_path / "o"
    opts = PipelineOptions(export_sr=True)
    records: list[dict] = []
    _run(small_archive / "PAT-001", out, on_record=records.append)
    records = [json.loads(json.dumps(r)) for r in records]
    tasks = discover_studies(small_archive / "PAT-001", opts)[0]
    base = min(records, key=lambda r: r["study_date"])
    po = patient_outputs("PAT-001", [base], [], opts)  # the read of the baseline only
    files, fails = export_reports(out, records, tasks, opts, {"PAT-001": po})
    assert files == {"seg": [], "sr": [], "stored": []}
    (f,) = fails
    assert f["step"] == "export" and f["patient_id"] == "PAT-001"
    assert "1 time point(s)" in f["reason"] and "2 successful study(ies)" in f["reason"]
    assert all(r["study_instance_uid"] in f["reason"] for r in records)


def test_a_lesion_cut_by_a_dropped_end_slice_is_an_incomplete_measurement(small_archive, tmp_path) -> None:
    """The first file of the measured series cut short: the index skips it, the study is measured on
    29 of 30 slices and its mask is cut.  Before, only a log warning and skipped.csv said so: nothing
    in lesions.csv or failures.csv, ``--strict`` exited 0, and a lesion wholly on that slice was read
    ``absent``.  Now each cut lesion has its ``mask_problems``, the study a failures.csv row (step
    ``incomplete``), the read a note (``not_evaluable`` for a lesion with nothing left), and
    ``--strict`` exits 1."""
    import shutil

    import numpy as np
    import pydicom
    import SimpleITK as sitk

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    study = arch / "PAT-001" / "baseline"
    first = study / "portal_venous" / "IM0001.dcm"
    z_lps = float(pydicom.dcmread(first, stop_before_pixels=True).ImagePositionPatient[2])
    first.write_bytes(first.read_bytes()[:200])
    # a lesion L9 drawn on that slice only: nothing of it is left on the image
    img = sitk.ReadImage(str(study / "masks" / "lesions.nii.gz"))
    arr = sitk.GetArrayFromImage(img)
    k = int(round(img.TransformPhysicalPointToContinuousIndex((0.0, 0.0, z_lps))[2]))
    assert k in (0, arr.shape[0] - 1) and (arr[k] == 8).any()  # an end slice, L8 on it
    y, x = np.argwhere(arr[k] == 0)[0]
    arr[k, y, x] = 9
    out_img = sitk.GetImageFromArray(arr)
    out_img.CopyInformation(img)
    sitk.WriteImage(out_img, str(study / "masks" / "lesions.nii.gz"))
    out = tmp_path / "o"
    s = _run(arch, out)
    assert (s.n_failed_studies, s.n_failed_patients, s.n_incomplete_studies, s.n_failures) == (0, 0, 1, 1)
    (row,) = pd.read_csv(out / "failures.csv").itertuples()
    assert row.step == "incomplete" and "L8:" in row.reason and "L9:" in row.reason and "skipped.csv" in row.reason
    les = pd.read_csv(out / "lesions.csv", dtype={"mask_problems": str}).fillna({"mask_problems": ""})
    base = les[les.timepoint_id == "baseline"].set_index("lesion_id")
    assert "cut, measured smaller than it is" in base.loc["L8", "mask_problems"]
    assert (base.drop("L8").mask_problems == "").all() and (les[les.timepoint_id == "fu1"].mask_problems == "").all()
    read = json.loads((out / "reads" / "PAT-001.json").read_text())
    obs = {o["lesion_id"]: o for o in read["timepoints"][0]["lesions"]}
    assert obs["L8"]["status"] != "not_evaluable" and "measurement incomplete" in obs["L8"]["note"]  # (ascites: present)
    assert obs["L9"]["status"] == "not_evaluable" and "not measured" in obs["L9"]["note"]
    assert main(["batch", str(arch), "--out", str(out), "--threads", "--workers", "1", "--no-progress", "--resume",
                 "--strict"]) == 1


def test_a_viable_mask_off_its_lesions_is_recorded_per_lesion(small_archive, tmp_path) -> None:
    """A baseline viable.nii.gz shifted 16.5 mm (three voxels) off its lesions: only its voxels inside
    a lesion were measured, so the viable diameters shrank and mRECIST changed without a word.  Each
    lesion more than 5 % of whose viable voxels lie outside every lesion has it in ``mask_problems``
    (lesions.csv, the read's note) and the study a failures.csv row (step ``incomplete``)."""
    import shutil

    import SimpleITK as sitk

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    p = arch / "PAT-001" / "baseline" / "masks" / "viable.nii.gz"
    img = sitk.ReadImage(str(p))
    origin = list(img.GetOrigin())
    origin[0] += 16.5
    img.SetOrigin(origin)
    sitk.WriteImage(img, str(p))
    out = tmp_path / "o"
    s = _run(arch, out)
    assert (s.n_failed_studies, s.n_incomplete_studies) == (0, 1)
    (row,) = pd.read_csv(out / "failures.csv").itertuples()
    assert row.step == "incomplete" and "lie outside every lesion mask" in row.reason
    les = pd.read_csv(out / "lesions.csv", dtype={"mask_problems": str}).fillna({"mask_problems": ""})
    flagged = les[les.mask_problems != ""]
    assert len(flagged) >= 1 and set(flagged.timepoint_id) == {"baseline"}
    assert all("% of the viable mask's voxels of " + r.lesion_id in r.mask_problems for r in flagged.itertuples())
    read = json.loads((out / "reads" / "PAT-001.json").read_text())
    notes = {o["lesion_id"]: o.get("note") or "" for o in read["timepoints"][0]["lesions"]}
    assert all("measurement incomplete" in notes[lid] for lid in flagged.lesion_id)


def test_an_empty_follow_up_mask_is_a_failure_unless_the_annotations_say_the_lesions_are_gone(small_archive,
                                                                                                 tmp_path) -> None:
    """An all-zero lesions.nii.gz at fu1 (an export error far more often than a cure) read every
    lesion ``absent``: RECIST 1.1 and mRECIST CR, without a word.  It is a failure row (step
    ``masks``) naming the study and how to say the lesions are gone: annotations.json's
    ``"no_lesions"``, with which the study is measured (and read CR) again."""
    import shutil

    import SimpleITK as sitk

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    for name in ("lesions", "viable"):
        p = arch / "PAT-001" / "fu1" / "masks" / f"{name}.nii.gz"
        img = sitk.ReadImage(str(p))
        blank = sitk.GetImageFromArray(sitk.GetArrayFromImage(img) * 0)
        blank.CopyInformation(img)
        sitk.WriteImage(blank, str(p))
    ann_path = arch / "PAT-001" / "annotations.json"
    ann = json.loads(ann_path.read_text())
    fu1 = next(uid for uid, tp in ann["timepoints"].items() if tp == "fu1")
    out = tmp_path / "o"
    s = _run(arch, out)
    assert (s.n_failed_studies, s.n_failed_patients) == (1, 0)
    (row,) = pd.read_csv(out / "failures.csv").itertuples()
    assert (row.study_instance_uid, row.step) == (fu1, "masks")
    assert "holds no lesion" in row.reason and '"no_lesions"' in row.reason and "annotations.json" in row.reason
    resp = pd.read_csv(out / "responses.csv")
    assert "fu1" not in set(resp.timepoint_id) and "CR" not in set(resp.response)
    ann["no_lesions"] = ["fu1"]  # (a time point id, or the StudyInstanceUID)
    ann_path.write_text(json.dumps(ann))
    s = _run(arch, out, resume=True)
    assert s.n_failures == 0
    resp = pd.read_csv(out / "responses.csv")
    got = resp[resp.timepoint_id == "fu1"].set_index("criterion").response
    assert got["RECIST1.1"] == "CR" and got["mRECIST"] == "CR"


def test_a_labels_file_giving_two_labels_one_lesion_id_fails_its_study_naming_it(small_archive, tmp_path) -> None:
    """labels.json mapping label values 1 and 2 to L1: the study was "ok" with two L1 rows and the read
    failed with a message about L2.  The study is a failure row naming the file and the duplicate id."""
    import shutil

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    labels = arch / "PAT-001" / "baseline" / "masks" / "labels.json"
    labels.write_text(json.dumps({"labels": {"1": "L1", "2": "L1", **{str(k): f"L{k}" for k in range(3, 9)}}}))
    s = _run(arch, tmp_path / "o")
    assert s.n_failed_studies == 1
    fails = pd.read_csv(tmp_path / "o" / "failures.csv")
    row = fails[fails.step == "masks"].iloc[0]
    assert str(labels) in row.reason and "label values 1, 2 are all lesion id 'L1'" in row.reason


def test_masks_that_cannot_be_saved_leave_the_record_and_its_measurements(tmp_path) -> None:
    """Nothing measured is lost when the masks cannot be written (here ``masks`` is a file): the
    record is kept, without its ``masks`` entry."""
    from hcc_imaging.batch.runner import _save_mask_files

    (tmp_path / "masks").write_text("not a folder")
    rec = {"study_instance_uid": "1.2.3", "lesions": [{"lesion_id": "L1"}],
           "masks": {"lesions": "masks/1.2.3/lesions.nii.gz", "labels": {"1": "L1"}}}
    assert not _save_mask_files(tmp_path, rec, {"masks/1.2.3/lesions.nii.gz": b"x"})
    assert "masks" not in rec and rec["lesions"] == [{"lesion_id": "L1"}]
    assert _save_mask_files(tmp_path / "ok", dict(rec, masks={}), {"masks/1.2.3/labels.json": b"{}"})
    assert (tmp_path / "ok" / "masks" / "1.2.3" / "labels.json").read_bytes() == b"{}"


def test_the_masks_a_run_saved_put_beside_the_study_are_measured_with_their_ids(tmp_path) -> None:
    """The loop a reader closes: a seeded run saves its masks; put beside the study (checked, or
    corrected in any tool) they are the next run's masks, and ``labels.json`` keeps the lesion ids
    (here L4 at label 1, L2 at label 2: the seeds' order): same ids, same numbers. A labels file
    that is not one is a failure row naming it."""
    import shutil

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    (study / "seeds.json").write_text(json.dumps(
        {"liver": True, "lesions": [{"lesion_id": lid, "seed_lps": truth[lid]["seed_lps"]} for lid in ("L4", "L2")]}))
    first: list[dict] = []
    assert _run(tmp_path / "arch", tmp_path / "o1", on_record=first.append).n_failures == 0
    saved = tmp_path / "o1" / first[0]["masks"]["lesions"]
    (study / "seeds.json").unlink()
    for f in saved.parent.iterdir():
        shutil.copy(f, study / f.name)
    again: list[dict] = []
    assert _run(tmp_path / "arch", tmp_path / "o2", on_record=again.append).n_failures == 0
    assert again[0]["mask_source"] == "lesions.nii.gz" and "masks" not in again[0]
    a = {r["lesion_id"]: r for r in first[0]["lesions"]}
    b = {r["lesion_id"]: r for r in again[0]["lesions"]}
    assert set(a) == set(b) == {"L4", "L2"}
    for lid in a:
        for k in ("longest_diameter_mm", "volume_mm3", "viable_diameter_mm"):
            # exactly: the mask read back takes its image's geometry (NIfTI stores it as float32)
            assert b[lid][k] == a[lid][k], (lid, k)
    (study / "labels.json").write_text("[1, 2]")
    rows: list[dict] = []
    _run(tmp_path / "arch", tmp_path / "o3", on_record=rows.append)
    assert rows[0]["step"] == "masks" and "labels.json: not a labels file" in rows[0]["reason"]


def test_a_saved_mask_edited_in_place_is_not_what_the_resumed_seg_holds(tmp_path) -> None:
    """A reader erases L2 from a seeded study's saved ``masks/<study>/lesions.nii.gz`` and runs
    ``--resume --export-sr``: the record measured with the old mask is reused, and the SEG was made
    from the edited file (no "L2" segment while lesions.csv and the SR report L2 measured).  The
    record holds the saved files' sha256; a file that changed is not used: the SEG is made from the
    masks made again, the ones measured, and the edited file is left as it is."""
    import shutil

    import numpy as np
    import pydicom
    import SimpleITK as sitk

    src = REPO / "sample_data" / "liver_phantom" / "baseline"
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(src, study, ignore=shutil.ignore_patterns("masks"))
    truth = json.loads((study / "truth.json").read_text())["lesions"]
    (study / "seeds.json").write_text(json.dumps(
        {"lesions": [{"lesion_id": lid, "seed_lps": truth[lid]["seed_lps"]} for lid in ("L1", "L2")]}))
    out = tmp_path / "o"
    opts = PipelineOptions(export_sr=True)
    first: list[dict] = []
    assert _run(tmp_path / "arch", out, options=opts, on_record=first.append).n_failures == 0
    (seg_path,) = (out / "seg").glob("*.dcm")
    segments = lambda: {str(x.SegmentLabel) for x in pydicom.dcmread(seg_path, stop_before_pixels=True).SegmentSequence}  # noqa: E731
    assert {"L1", "L2"} <= segments()
    saved = out / first[0]["masks"]["lesions"]
    img = sitk.ReadImage(str(saved))
    arr = sitk.GetArrayFromImage(img)
    label_l2 = next(int(k) for k, v in first[0]["masks"]["labels"].items() if v == "L2")
    arr[arr == label_l2] = 0
    edited = sitk.GetImageFromArray(arr)
    edited.CopyInformation(img)
    sitk.WriteImage(edited, str(saved))
    edited_bytes = saved.read_bytes()
    s = _run(tmp_path / "arch", out, options=opts, resume=True)
    assert (s.n_processed, s.n_failures) == (0, 0)
    assert set(pd.read_csv(out / "lesions.csv").lesion_id) == {"L1", "L2"}
    assert {"L1", "L2"} <= segments()  # the SEG holds what was measured
    assert saved.read_bytes() == edited_bytes and not np.any(sitk.GetArrayFromImage(sitk.ReadImage(str(saved))) == label_l2)


def test_a_resumed_record_belongs_to_its_tasks_patient(clean_run, small_archive, tmp_path) -> None:
    """A study record stored under another patient id than its task's now (a study without a
    PatientID was patient "" before ``io.patient_key``) is read as the task's patient's on
    ``--resume``: the same tables as a clean run, not a patient "" beside them."""
    import json
    import shutil

    out, _ = clean_run
    before = _tables(out)
    again_out = tmp_path / "again"
    shutil.copytree(out, again_out)
    changed = 0
    for p in sorted((again_out / "store" / "ok").glob("*.json")):
        rec = json.loads(p.read_text())
        if rec["patient_id"] == "PAT-001":
            rec["patient_id"] = ""
            p.write_text(json.dumps(rec))
            changed += 1
    assert changed == 2
    again = _run(small_archive, again_out, resume=True)
    assert again.n_processed == 0 and again.n_skipped == 4
    assert _tables(again_out) == before


def test_a_failed_baseline_fails_its_patient_instead_of_promoting_a_follow_up(tmp_path) -> None:
    """The baseline study cannot be read (a truncated slice): the earliest study left, a follow-up,
    became the baseline, and its responses were measured against it.  The patient is now a failure
    row naming the baseline; its follow-ups are measured (lesion rows) but not assessed."""
    import shutil

    arch = tmp_path / "arch"
    shutil.copytree(REPO / "sample_data" / "liver_phantom", arch)
    f = arch / "baseline" / "portal_venous" / "IM0010.dcm"
    f.write_bytes(f.read_bytes()[:3000])
    records: list[dict] = []
    s = _run(arch, tmp_path / "o", on_record=records.append)
    assert (s.n_failed_studies, s.n_patients, s.n_failed_patients) == (1, 1, 1)
    fails = pd.read_csv(tmp_path / "o" / "failures.csv")
    base = next(r for r in records if not r["ok"])
    row = fails[fails.step == "baseline"].iloc[0]
    assert row.study_instance_uid == base["study_instance_uid"] and "a follow-up is no baseline" in row.reason
    assert pd.read_csv(tmp_path / "o" / "responses.csv").empty
    assert not list((tmp_path / "o" / "reads").glob("*.json"))
    les = pd.read_csv(tmp_path / "o" / "lesions.csv")
    assert len(les) > 0 and set(les.study_instance_uid) == {r["study_instance_uid"] for r in records if r["ok"]}
    # the follow-up's rows name its time point as the annotations do (they had its StudyInstanceUID)
    assert set(les.timepoint_id) == {"fu1"}


def test_cli_criteria_all(small_archive, tmp_path, capsys) -> None:
    """``--criteria all`` is every criterion, as for assess and export (it failed as unknown)."""
    import csv

    from hcc_imaging.response.engine import ALL_CRITERIA

    out = tmp_path / "o"
    rc = main(["batch", str(small_archive / "PAT-001"), "--out", str(out), "--threads", "--no-progress",
               "--criteria", "all"])
    assert rc == 0, capsys.readouterr().err
    with open(out / "responses.csv", newline="") as fh:
        got = {row["criterion"] for row in csv.DictReader(fh)}
    assert got == set(ALL_CRITERIA), got


def test_a_mask_file_reaching_the_image_edge_is_listed_not_failed(small_archive, tmp_path) -> None:
    """A lesion mask file whose lesion reaches a face of the measured image (the scan may have cut
    it) was measured without a word by the batch, where ``hcc-imaging measure`` warns.  Now
    lesions.csv's ``at_image_edge`` names the faces for that lesion only; it is a warning (the
    lesion may be whole), not an ``incomplete`` failure."""
    import shutil

    import numpy as np
    import SimpleITK as sitk

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    study = arch / "PAT-001" / "baseline"
    img = sitk.ReadImage(str(study / "masks" / "lesions.nii.gz"))
    arr = sitk.GetArrayFromImage(img)
    z = arr.shape[0] // 2
    free = np.argwhere(arr[z, :, -1] == 0)
    assert len(free) >= 3
    y0 = int(free[len(free) // 2][0])
    arr[z, y0:y0 + 2, -3:] = 9  # a small lesion L9 on the last column
    out_img = sitk.GetImageFromArray(arr)
    out_img.CopyInformation(img)
    sitk.WriteImage(out_img, str(study / "masks" / "lesions.nii.gz"))
    out = tmp_path / "o"
    s = _run(arch, out)
    assert (s.n_failed_studies, s.n_incomplete_studies, s.n_failures) == (0, 0, 0)
    les = pd.read_csv(out / "lesions.csv", dtype={"at_image_edge": str}).fillna({"at_image_edge": ""})
    base = les[les.timepoint_id == "baseline"].set_index("lesion_id")
    assert "last column" in base.loc["L9", "at_image_edge"] and "may be cut" in base.loc["L9", "at_image_edge"]
    # every other lesion of the study that does not reach a face has the column empty
    inside = [lid for lid in base.index if lid not in ("L9", "L8")]
    assert inside and (base.loc[inside, "at_image_edge"] == "").all()


def test_a_seg_lesion_cut_by_a_dropped_end_slice_is_an_incomplete_measurement(small_archive, tmp_path) -> None:
    """As the NIfTI case above, with the masks given as a DICOM SEG.  ``io.masks.load_mask`` (what
    ``hcc-imaging measure --masks`` reads a SEG with) kept only the SEG's first segment's losses when
    it merged the segments into one label map, so L8 (the ascites, on the dropped end slice) had no
    ``cut_by_field`` record.  Now it has; and the batch (which reads SEGs with ``read_seg``) gives
    L8 its ``mask_problems`` and the study a failures.csv row (step ``incomplete``)."""
    import shutil

    from hcc_imaging.export.seg import write_seg
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask

    arch = tmp_path / "a"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    study = arch / "PAT-001" / "baseline"
    ref = load_series(study / "portal_venous")
    labels = load_mask(study / "masks" / "lesions.nii.gz", ref)
    assert min(labels.present_labels()) < 8  # L8 is not the SEG's first segment
    write_seg(labels, ref, study / "masks" / "lesions.dcm")
    (study / "masks" / "lesions.nii.gz").unlink()
    (study / "masks" / "labels.json").unlink(missing_ok=True)
    first = study / "portal_venous" / "IM0001.dcm"
    first.write_bytes(first.read_bytes()[:200])
    cut = load_mask(study / "masks" / "lesions.dcm", load_series(study / "portal_venous")).meta.get("cut_by_field", {})
    assert set(cut) == {"L8"} and 0 < cut["L8"][0] < cut["L8"][1] and cut["L8"][2] == cut["L8"][1] - cut["L8"][0]
    out = tmp_path / "o"
    s = _run(arch, out)
    assert (s.n_failed_studies, s.n_incomplete_studies) == (0, 1)
    les = pd.read_csv(out / "lesions.csv", dtype={"mask_problems": str}).fillna({"mask_problems": ""})
    base = les[les.timepoint_id == "baseline"].set_index("lesion_id")
    assert "cut, measured smaller than it is" in base.loc["L8", "mask_problems"]
    (row,) = pd.read_csv(out / "failures.csv").itertuples()
    assert row.step == "incomplete" and "L8:" in row.reason

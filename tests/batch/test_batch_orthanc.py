"""Round trip through a real PACS: Orthanc + DICOMweb plugin on loopback.

Upload the sample study (CT series + a DICOM SEG of its lesion masks), run
``hcc-imaging batch dicomweb+http://127.0.0.1:PORT/dicom-web --export-sr``, and find our SR
(and SEGs) stored back with STOW-RS.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

ORTHANC = Path("/usr/sbin/Orthanc")
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom"

pytestmark = [pytest.mark.orthanc, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _orthanc_server(root: Path, **config):
    """A throw-away Orthanc with DICOMweb on 127.0.0.1, storing under ``root`` (``config``: more
    Orthanc settings, e.g. ``LimitFindInstances``, ``AuthenticationEnabled``); yields its HTTP base URL."""
    import requests

    if not ORTHANC.exists() or not PLUGIN.exists():
        import os

        msg = f"Orthanc ({ORTHANC}) or its DICOMweb plugin ({PLUGIN}) is not installed; scripts/bootstrap.sh installs them"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    http, dicom = _free_port(), _free_port()
    cfg = {
        "Name": "hcc-imaging-test",
        "HttpPort": http,
        "DicomPort": dicom,
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "index"),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [str(PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "StableAge": 1,
        **config,
    }
    (root / "config.json").write_text(json.dumps(cfg))
    log = open(root / "orthanc.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([str(ORTHANC), str(root / "config.json")], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {(root / 'orthanc.log').read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{base}/system", timeout=2).status_code in (200, 401):  # (401: it asks for a user)
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Orthanc did not answer /system within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    """A throw-away Orthanc with DICOMweb on 127.0.0.1; yields its HTTP base URL."""
    with _orthanc_server(tmp_path_factory.mktemp("orthanc")) as base:
        yield base


def _upload(base: str, files, auth=None) -> None:
    import requests

    for f in files:
        r = requests.post(f"{base}/instances", data=Path(f).read_bytes(), timeout=30, auth=auth)
        r.raise_for_status()


def _seg_for(study_dir: Path, out: Path, organs: dict[str, str] | None = None,
             kinds: dict[str, str] | None = None) -> Path:
    """A DICOM SEG of the study's lesion (+ viable) masks, over its portal-venous series (each
    segment's anatomic region from ``organs``, else the liver; a fluid's property type from
    ``kinds``)."""
    from hcc_imaging.export.seg import write_seg
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask

    ref = load_series(study_dir / "portal_venous")
    lesions = load_mask(study_dir / "masks" / "lesions.nii.gz", reference=ref)
    viable = load_mask(study_dir / "masks" / "viable.nii.gz", reference=ref, label_names=dict(lesions.labels))
    write_seg(lesions, ref, out, viable=viable, organs=organs, kinds=kinds)
    return out


def test_dicomweb_batch_round_trip(orthanc, tmp_path) -> None:
    from hcc_imaging.cli import main
    from hcc_imaging.io.dicomweb import DicomWebSource

    for tp in ("baseline", "fu1"):
        _upload(orthanc, sorted((SAMPLE / tp).rglob("*.dcm")))
        _upload(orthanc, [_seg_for(SAMPLE / tp, tmp_path / f"{tp}_seg.dcm")])
    src = DicomWebSource(f"dicomweb+{orthanc}/dicom-web")
    studies = src.search_studies()
    assert len(studies) == 2 and {s["patient_id"] for s in studies} == {"PHANTOM-001"}
    assert not src.search_series(modality="SR")

    out = tmp_path / "out"
    rc = main(["batch", f"dicomweb+{orthanc}/dicom-web", "--out", str(out), "--workers", "1", "--threads",
               "--no-progress", "--export-sr", "--strict"])
    assert rc == 0, (out / "failures.csv").read_text()
    sr = src.search_series(modality="SR")
    assert len(sr) == 1, "our TID 1500 SR was stored back"
    assert len(src.search_series(modality="SEG")) >= 4  # 2 uploaded + 2 written by the batch
    resp = pd.read_csv(out / "responses.csv")
    truth = json.loads((SAMPLE / "truth.json").read_text())
    for crit, key in (("RECIST1.1", "recist_1_1"), ("mRECIST", "mrecist")):
        got = resp[(resp.criterion == crit) & (resp.timepoint_id == resp.timepoint_id.iloc[-1])]
        assert got.response.iloc[-1] == truth["expected"][key][1]["overall"]
    assert not (out / "cache").exists()
    shutil.rmtree(out)


def test_dicomweb_carry_from_the_baselines_seg(tmp_path) -> None:
    """``--carry`` on a PACS: the baseline holds a SEG of its lesions (each segment's anatomic
    region from the study's annotations, as ``hcc-imaging export seg`` and ``batch --export-sr``
    write it), the follow-up only its CT. The follow-up's worker retrieves the baseline too,
    carries its lesions (one registration, a click each in fu1's liver mask; the SEG's lymph node
    kept out of it: a PACS has no annotations) and measures them; its saved masks hold them: L1-L4
    within 3.3 mm of fu1's truth and the node's short axis within 3.3 mm, as in the folder test.
    Without ``--carry`` the follow-up has no lesion mask (a failure row)."""
    from hcc_imaging.cli import main

    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs") as base:
        _upload(base, sorted((SAMPLE / "baseline").rglob("*.dcm")))
        ann = json.loads((SAMPLE / "annotations.json").read_text())["lesions"]
        organs = {lid: a["organ"] for lid, a in ann.items()}
        kinds = {lid: a["kind"] for lid, a in ann.items()}
        _upload(base, [_seg_for(SAMPLE / "baseline", tmp_path / "baseline_seg.dcm", organs, kinds)])
        _upload(base, sorted((SAMPLE / "fu1").rglob("*.dcm")))  # its CT only
        url = f"dicomweb+{base}/dicom-web"
        plain = tmp_path / "plain"
        main(["batch", url, "--out", str(plain), "--workers", "1", "--threads", "--no-progress"])
        (fail,) = pd.read_csv(plain / "failures.csv").to_dict("records")
        assert fail["step"] == "masks" and "the server holds no DICOM SEG or RTSTRUCT" in fail["reason"]
        assert "--carry" in fail["reason"] and str(tmp_path) not in fail["reason"]  # names the server, not its cache

        out = tmp_path / "out"
        rc = main(["batch", url, "--out", str(out), "--workers", "1", "--threads", "--no-progress", "--carry",
                   "--export-sr", "--strict"])
        assert rc == 0, (out / "failures.csv").read_text()
    records = [json.loads(p.read_text()) for p in (out / "store" / "ok").glob("*.json")]
    bl, fu1 = sorted(records, key=lambda r: r["study_date"])
    assert bl["mask_source"] == "DICOM SEG" and "carried_from" not in bl
    assert fu1["mask_source"] == f"carried from {bl['study_instance_uid']} (DICOM SEG)"
    truth = json.loads((SAMPLE / "fu1" / "truth.json").read_text())["lesions"]
    rows = {r["lesion_id"]: r for r in fu1["lesions"]}
    for lid in ("L1", "L2", "L3", "L4"):
        assert abs(rows[lid]["longest_diameter_mm"] - truth[lid]["longest_diameter_mm"]) <= 3.3, lid
    # the node: kept out of the liver mask by its SEG segment's anatomic region (without it, it was
    # "outside the liver mask" and not found)
    assert abs(rows["L6"]["short_axis_mm"] - truth["L6"]["short_axis_mm"]) <= 3.3
    # the ascites (a SEG segment whose property type is ascites; a PACS has no annotations) is not
    # clicked as a lesion: listed as not carried, so the read has it not_evaluable, never absent
    assert set(fu1["carried_from"]["not_carried"]) == {"L8"}
    assert fu1["carried_from"]["not_carried"]["L8"].startswith("not carried: ascites")
    # the read knows each lesion's site from the baseline's SEG: the node is a node, the thrombus a
    # thrombus, the ascites ascites (without annotations they were all liver lesions)
    (read_path,) = (out / "reads").glob("*.json")
    read = json.loads(read_path.read_text())
    bl_obs = {o["lesion_id"]: o for o in read["timepoints"][0]["lesions"]}
    assert bl_obs["L6"]["is_lymph_node"] and bl_obs["L6"]["kind"] == "lymph_node"
    assert bl_obs["L7"]["kind"] == "pvtt" and bl_obs["L8"]["kind"] == "ascites" and not bl_obs["L1"].get("is_lymph_node")
    fu1_obs = {o["lesion_id"]: o for o in read["timepoints"][1]["lesions"]}
    assert fu1_obs["L8"]["status"] == "not_evaluable" and fu1_obs["L6"]["is_lymph_node"]
    assert (out / fu1["masks"]["lesions"]).is_file()
    # fu1's SEG (stored back) says where each carried lesion lies: the node is a lymph node there too,
    # so the next follow-up carried from it keeps it out of the liver mask as well
    from hcc_imaging.export.seg import read_seg

    organs = read_seg(out / "seg" / f"{fu1['study_instance_uid']}.dcm").organs
    assert organs["L6"] == "lymph_node" and organs["L7"] == "portal_vein" and organs["L1"] == "liver"


def test_dicomweb_study_without_patient_id_is_warned_once(tmp_path) -> None:
    """A study without a PatientID on a PACS is read as a patient of its own, and the run says so
    once: its worker's index and the export's (which index the retrieved study again) do not repeat
    the driver's warning (it was printed by the worker process and again by the driver)."""
    import os
    import sys

    import pydicom

    from hcc_imaging.io.index import patient_key

    noid = tmp_path / "noid"
    shutil.copytree(SAMPLE / "baseline", noid)
    for f in noid.rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.PatientID = ""
        ds.save_as(f)
    seg = _seg_for(noid, tmp_path / "seg.dcm")
    uid = pydicom.dcmread(seg).StudyInstanceUID
    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs") as base:
        _upload(base, [*sorted(noid.rglob("*.dcm")), seg])
        out = tmp_path / "out"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        r = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "batch", f"dicomweb+{base}/dicom-web", "--out",
                            str(out), "--workers", "1", "--no-progress", "--export-sr", "--strict"],
                           capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("has no PatientID") == 1, r.stderr
    assert f"study {uid} has no PatientID: read as a patient of its own, {patient_key('', uid)}" in r.stderr
    assert [p.stem for p in (out / "reads").glob("*.json")] == [patient_key("", uid)]


def test_dicomweb_retrieve_cache_left_by_an_interrupted_run_follows_the_server(tmp_path) -> None:
    """A run interrupted (Ctrl+C) keeps ``OUT/cache/dicomweb/<study>/``: the study retrieved there,
    its SEG included.  The reader then deletes the SEG on the server.  The next run (``--resume``)
    measured the study with the deleted SEG from the cache; the cache now follows the server's
    instance list, so the study is what a fresh run makes of it: a failure row, no SEG on the server."""
    import pydicom
    import requests

    from hcc_imaging.batch import run_batch
    from hcc_imaging.io.dicomweb import DicomWebSource

    seg = _seg_for(SAMPLE / "baseline", tmp_path / "baseline_seg.dcm")
    ds = pydicom.dcmread(seg, stop_before_pixels=True)
    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs") as base:
        _upload(base, [*sorted((SAMPLE / "baseline").rglob("*.dcm")), seg])
        url = f"dicomweb+{base}/dicom-web"
        out = tmp_path / "out"
        cache = out / "cache" / "dicomweb" / str(ds.StudyInstanceUID)
        # what the interrupted run's worker left: the study retrieved, its SEG with it
        DicomWebSource(url).retrieve_study(str(ds.StudyInstanceUID), cache)
        assert (cache / str(ds.SeriesInstanceUID) / f"{ds.SOPInstanceUID}.dcm").is_file()
        (orthanc_id,) = requests.post(f"{base}/tools/lookup", data=str(ds.SeriesInstanceUID), timeout=30).json()
        requests.delete(f"{base}/series/{orthanc_id['ID']}", timeout=30).raise_for_status()
        s = run_batch(url, out, workers=1, processes=False, resume=True)
    assert s.n_studies == 1 and s.n_failed_studies == 1
    (fail,) = pd.read_csv(out / "failures.csv").to_dict("records")
    assert fail["step"] == "masks" and "the server holds no DICOM SEG or RTSTRUCT" in fail["reason"]
    assert not list((out / "store" / "ok").glob("*.json"))


def test_dicomweb_two_patients_sharing_a_study_uid_are_refused(tmp_path) -> None:
    """A PACS holding one exam twice, the copy given another PatientID (a bad anonymiser): Orthanc
    keeps them as two studies with one StudyInstanceUID.  The batch made a task of each, both
    retrieved the union of the two patients' instances into one cache folder, and each patient was
    measured on files of both.  Now both are refused (a failure row, step ``index``, naming both
    patients), as the batch refuses them in a folder archive, and nothing is retrieved."""
    from hcc_imaging.cli import main

    import pydicom

    copy = tmp_path / "copy"
    shutil.copytree(SAMPLE / "baseline", copy, ignore=shutil.ignore_patterns("masks"))
    for f in copy.rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.PatientID = "OTHER-PAT"
        ds.save_as(f)
    uid = str(pydicom.dcmread(next(copy.rglob("*.dcm"))).StudyInstanceUID)
    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs") as base:
        _upload(base, [*sorted((SAMPLE / "baseline").rglob("*.dcm")), *sorted(copy.rglob("*.dcm"))])
        out = tmp_path / "out"
        rc = main(["batch", f"dicomweb+{base}/dicom-web", "--out", str(out), "--workers", "1", "--threads",
                   "--no-progress"])
    assert rc == 0
    fails = pd.read_csv(out / "failures.csv")
    rows = fails[fails.study_instance_uid == uid]
    assert sorted(rows.patient_id) == sorted([str(pydicom.dcmread(next((SAMPLE / "baseline").rglob("*.dcm"))).PatientID),
                                              "OTHER-PAT"])
    assert (rows.step == "index").all() and rows.reason.str.contains("share StudyInstanceUID").all()
    assert not (out / "cache" / "dicomweb" / uid).exists() or not any((out / "cache" / "dicomweb" / uid).rglob("*.dcm"))


def test_dicomweb_study_listed_in_part_fails_at_retrieve(tmp_path) -> None:
    """A PACS capping its search results (Orthanc ``LimitFindInstances`` 20) lists 21 of the 44
    instances of a study's series: the study was retrieved as 21 slices and measured without a
    word.  Now its instance list is checked against the server's NumberOfStudyRelatedInstances: a
    failure row, step ``retrieve``, saying what to do; nothing measured."""
    import pydicom

    from hcc_imaging.batch import run_batch
    from hcc_imaging.io.dicomweb import DicomWebError, DicomWebSource

    files = sorted((SAMPLE / "baseline" / "portal_venous").glob("*.dcm"))
    uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs", LimitFindInstances=20) as base:
        _upload(base, files)
        url = f"dicomweb+{base}/dicom-web"
        with pytest.raises(DicomWebError, match=f"listed 21 of its {len(files)} instances"):
            DicomWebSource(url).retrieve_study(uid, tmp_path / "cache")
        out = tmp_path / "out"
        s = run_batch(url, out, workers=1, processes=False)
    assert s.n_studies == 1 and s.n_failed_studies == 1
    (fail,) = pd.read_csv(out / "failures.csv").to_dict("records")
    assert fail["step"] == "retrieve", fail
    assert f"the server {base}/dicom-web listed 21 of its {len(files)} instances" in fail["reason"]
    assert "LimitFindInstances" in fail["reason"] and "still arriving" in fail["reason"]
    assert not list((out / "store" / "ok").glob("*.json"))


def test_dicomweb_study_deleted_mid_run_fails_at_retrieve(tmp_path) -> None:
    """A study deleted on the PACS between the run's listing and its worker's retrieve: a failure
    row at step ``retrieve`` saying the study is no longer on the server (it was a ``pipeline``
    crash telling the user to 'Pass a folder of DICOM files', naming the cache folder)."""
    import requests

    from hcc_imaging.batch.pipeline import PipelineOptions, run_study
    from hcc_imaging.io.dicomweb import remote_tasks

    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs") as base:
        _upload(base, sorted((SAMPLE / "baseline" / "portal_venous").glob("*.dcm")))
        opts = PipelineOptions()
        (task,) = remote_tasks(f"dicomweb+{base}/dicom-web", opts, tmp_path / "out")
        (found,) = requests.post(f"{base}/tools/lookup", data=task.study_instance_uid, timeout=30).json()
        requests.delete(f"{base}/studies/{found['ID']}", timeout=30).raise_for_status()
        rec = run_study(task, opts)
    assert not rec["ok"] and rec["step"] == "retrieve", rec["reason"]
    assert rec["reason"] == (f"study {task.study_instance_uid} is no longer on the server {base}/dicom-web (deleted "
                             "since the run listed it): nothing to retrieve.")


def test_dicomweb_credentials_are_used_and_never_written(tmp_path) -> None:
    """A PACS asking for a user (Orthanc ``AuthenticationEnabled``): without credentials the run
    stops with exit code 2 and one line saying authentication failed (it said "check that the
    server is running"); with ``USER:PASSWORD@`` in the URL it runs, and the password is in no
    console line, no file under OUT (failures.csv, the stored records, their ``dicomweb_url``), and
    ``--export-sr`` stores the SR back with it."""
    import os
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    password = "-".join(["s3cret", "PW"])  # (not in this file's text, which a traceback would quote)
    auth = ("reader", password)
    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs", AuthenticationEnabled=True, RegisteredUsers={"reader": password}) as base:
        _upload(base, sorted((SAMPLE / "baseline").rglob("*.dcm")), auth=auth)
        _upload(base, [_seg_for(SAMPLE / "baseline", tmp_path / "baseline_seg.dcm")], auth=auth)
        _upload(base, sorted((SAMPLE / "fu1").rglob("*.dcm")), auth=auth)  # its CT only: a failure row
        host = base.split("//", 1)[1]

        def batch(url: str, out: Path, *more: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "batch", url, "--out", str(out), "--workers",
                                   "1", "--no-progress", *more], capture_output=True, text=True, cwd=REPO, env=env,
                                  timeout=600)

        no_user = batch(f"dicomweb+{base}/dicom-web", tmp_path / "no_user")
        wrong = batch(f"dicomweb+http://reader:{password}x@{host}/dicom-web", tmp_path / "wrong")
        out = tmp_path / "out"
        r = batch(f"dicomweb+http://reader:{password}@{host}/dicom-web", out, "--export-sr")
        import requests

        # the SEG and SR went back with STOW-RS, authenticated
        stored = requests.get(f"{base}/dicom-web/series?Modality=SR", auth=auth, timeout=30).json()
    for bad in (no_user, wrong):
        assert bad.returncode == 2, bad.stderr
        (line,) = bad.stderr.strip().splitlines()
        assert "authentication failed / not authorised" in line and "user name and password" in line, line
        assert "server is running" not in line and password not in line
    assert r.returncode == 0, r.stderr
    assert len(stored) == 1, r.stderr
    assert password not in r.stdout + r.stderr
    shown = f"http://reader:***@{host}/dicom-web"
    (ok,) = [json.loads(p.read_text()) for p in (out / "store" / "ok").glob("*.json")]
    assert ok["dicomweb_url"] == shown
    (fail,) = pd.read_csv(out / "failures.csv").to_dict("records")
    assert fail["step"] == "masks" and f"on {shown}:" in fail["reason"]
    leaks = [p for p in out.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    assert not leaks, leaks


def test_dicomweb_study_without_studydate_is_dated_from_its_image_series(tmp_path) -> None:
    """A follow-up on the PACS with its StudyDate blanked sorted first as "" and was listed (and
    carried from) as the baseline.  It is dated from its image series: the SeriesDate, else its
    first instance's AcquisitionDate; an SR series' (earlier) date is not the scan's."""
    import numpy as np

    from hcc_imaging.batch.dates import DATE_NOTE
    from hcc_imaging.batch.pipeline import PipelineOptions
    from hcc_imaging.io.dicomweb import remote_tasks
    from tests.io._synth import write_series

    base_uid, fu_uid = "1.2.826.0.1.3680043.99.601", "1.2.826.0.1.3680043.99.602"
    vals = np.full((2, 6, 6), 1100, np.uint16)
    files = write_series(tmp_path / "base", vals, study_uid=base_uid,
                         extra={"PatientID": "P-DATE", "StudyDate": "20250106", "SeriesDate": "20250106"})
    files += write_series(tmp_path / "fu", vals, study_uid=fu_uid,
                          extra={"PatientID": "P-DATE", "StudyDate": "", "SeriesDate": "", "AcquisitionDate": "20250303"})
    files += write_series(tmp_path / "fu_sr", vals, study_uid=fu_uid, modality="SR",
                          extra={"PatientID": "P-DATE", "StudyDate": "", "SeriesDate": "20240101"})
    (tmp_path / "pacs").mkdir()
    with _orthanc_server(tmp_path / "pacs") as base:
        _upload(base, files)
        tasks = remote_tasks(f"dicomweb+{base}/dicom-web", PipelineOptions(), tmp_path / "out")
    assert [(t.study_instance_uid, t.study_date) for t in tasks] == [(base_uid, "20250106"), (fu_uid, "20250303")]
    note = tasks[1].extra[DATE_NOTE]
    assert fu_uid in note and "on the DICOMweb server" in note and "no StudyDate; dated 20250303" in note
    assert DATE_NOTE not in tasks[0].extra

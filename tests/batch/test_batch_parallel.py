"""The parallel parts of a batch run: sharded index, patient tasks on the workers, batched
record commits (durable across SIGKILL), fallbacks when a task is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from hcc_imaging.batch import PipelineOptions, discover_studies, run_batch
from hcc_imaging.batch import runner
from hcc_imaging.batch.pipeline import index_shard, index_sharded, merge_shard_tasks, shard_files
from hcc_imaging.batch.resume import ResultStore
from hcc_imaging.io.index import resolve_sources

REPO = Path(__file__).resolve().parents[2]


def _tables(out: Path) -> dict[str, bytes]:
    files = {n: (out / n).read_bytes() for n in ("lesions.csv", "responses.csv", "failures.csv")}
    for sub in ("reads", "assessments"):
        for p in sorted((out / sub).glob("*.json")):
            files[f"{sub}/{p.name}"] = p.read_bytes()
    return files


@pytest.fixture(scope="module")
def clean_tables(small_archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean_parallel")
    # the reference: every patient's read / assessment computed in the driver (write_tables)
    run_batch(small_archive, out, workers=1, processes=False)
    records = ResultStore(out).records(t.key for t in discover_studies(small_archive, PipelineOptions())[0])
    ref = out / "ref"
    runner.write_tables(ref, records, PipelineOptions(), discover_studies(small_archive, PipelineOptions())[0])
    return _tables(ref)


def test_run_matches_driver_side_tables(small_archive, clean_tables, tmp_path) -> None:
    """Patients assessed on the workers while studies run give the bytes write_tables gives."""
    out = tmp_path / "o"
    s = run_batch(small_archive, out, workers=2, processes=False)
    assert s.n_failures == 0 and s.n_patients == 2
    assert _tables(out) == clean_tables


@pytest.mark.parametrize("n_shards", [1, 2, 3, 4, 16])
def test_sharded_index_gives_the_archive_tasks(small_archive, n_shards) -> None:
    """Any split (down to series folders: studies cut in pieces, indexed again together) gives
    exactly the tasks of the whole-archive index."""
    opts = PipelineOptions()
    want, idx = discover_studies(small_archive, opts)
    root, files, _ = resolve_sources(small_archive)
    shards = shard_files(root, files, n_shards, min_split_files=0)
    assert sorted(f for s in shards for f in s) == sorted(files)  # every file exactly once
    assert len(shards) <= n_shards
    fn = partial(index_shard, root=root, archive_root=str(small_archive), options=opts)
    merged = merge_shard_tasks([fn(s)[0] for s in shards])
    assert merged is None if n_shards == 16 else merged == want  # 16: series folders in different shards
    calls = []

    def mapper(f, items):
        calls.append(len(items))
        return [f(x) for x in items]

    import hcc_imaging.batch.pipeline._shards as pl  # (where index_sharded looks shard_files up)

    real = pl.shard_files
    pl.shard_files = partial(real, min_split_files=0)
    try:
        skipped: list = []
        assert index_sharded(small_archive, opts, n_shards, mapper, skipped=skipped) == want
        assert len(skipped) == len(idx.skipped) and set(skipped) == set(idx.skipped)  # each file once
    finally:
        pl.shard_files = real
    assert calls[0] == len(shards) and (len(calls) == 2) == (n_shards == 16)


def test_shard_files_keeps_folders_whole() -> None:
    root = "/a"
    files = [f"/a/{p}/{s}/{t}/IM{i}" for p in ("P1", "P2") for s in ("s1", "s2") for t in ("ph1", "ph2")
             for i in range(3)] + ["/a/loose1", "/a/P1/loose2"]
    shards = shard_files(root, files, 6, min_split_files=0)
    assert len(shards) == 6
    assert len(shard_files(root, files, 6)) == 3  # small folders are not split: P1, P2, the loose file
    for sh in shards:
        assert sh == [f for f in files if f in sh]  # archive order kept
    folder_of = {f: os.path.dirname(f) for f in files}
    where = {}
    for i, sh in enumerate(shards):
        for f in sh:
            assert where.setdefault(folder_of[f], i) == i, "a folder's files are in one shard"
    assert shard_files(root, files, 1) == [files]
    assert shard_files(root, [], 4) == []


def test_study_split_across_shards_is_indexed_whole(small_archive, tmp_path) -> None:
    """Half of a series moved to another top-level folder: the shards disagree, the run indexes
    the archive as a whole and gets the same tasks as the serial index."""
    from distributed import Client, LocalCluster

    arch = tmp_path / "arch"
    shutil.copytree(small_archive / "PAT-001", arch / "PAT-001")
    shutil.copytree(small_archive / "PAT-002", arch / "PAT-002")
    pv = sorted((arch / "PAT-002" / "baseline" / "portal_venous").glob("*.dcm"))
    (arch / "zz_moved").mkdir()
    for f in pv[: len(pv) // 2]:
        shutil.move(f, arch / "zz_moved" / f.name)
    opts = PipelineOptions()
    root, files, _ = resolve_sources(arch)
    shards = shard_files(root, files, 8)
    fn = partial(index_shard, root=root, archive_root=str(arch), options=opts)
    assert merge_shard_tasks([fn(s)[0] for s in shards]) is None
    want, idx = discover_studies(arch, opts)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as client:
        got, skipped = runner._discover(client, str(arch), opts, 2)
    assert got == want
    assert len(skipped) == len(idx.skipped) and set(skipped) == set(idx.skipped)  # each once
    assert any(len(se.files) == len(pv) for t in got for se in t.series if t.patient_id == "PAT-002")


def test_lost_patient_task_is_assessed_in_the_driver(small_archive, clean_tables, tmp_path, monkeypatch) -> None:
    """A patient task that errors (as when its worker dies) is redone by the driver from the stored
    records: same files as a clean run."""
    real = runner._patient_job

    def flaky(patient_id, *args):
        if patient_id == "PAT-001":
            raise RuntimeError("worker lost")
        return real(patient_id, *args)

    monkeypatch.setattr(runner, "_patient_job", flaky)
    out = tmp_path / "o"
    s = run_batch(small_archive, out, workers=2, processes=False)  # threads: the patched function runs
    assert s.n_failures == 0 and s.n_patients == 2
    assert _tables(out) == clean_tables


def test_lost_study_task_is_a_worker_failure_row(small_archive, tmp_path, monkeypatch) -> None:
    import pandas as pd

    real = runner._study_job
    tasks, _ = discover_studies(small_archive, PipelineOptions())
    lost = [next(t.study_instance_uid for t in tasks if t.patient_id == "PAT-002")]

    def flaky(task, options):
        if task.study_instance_uid == lost[0]:
            raise MemoryError("worker killed")
        return real(task, options)

    monkeypatch.setattr(runner, "_study_job", flaky)
    out = tmp_path / "o"
    s = run_batch(small_archive, out, workers=1, processes=False)
    assert s.n_failed_studies == 1 and s.n_patients == 2
    fails = pd.read_csv(out / "failures.csv")
    # the lost study is PAT-002's baseline, so the patient fails too (its follow-up is no baseline)
    assert sorted(fails.step.tolist()) == ["baseline", "worker"] and set(fails.study_instance_uid) == set(lost)
    assert "MemoryError" in fails[fails.step == "worker"].reason.iloc[0]
    les = pd.read_csv(out / "lesions.csv")
    assert (les[les.patient_id == "PAT-002"].study_instance_uid != lost[0]).all()
    assert len(les[les.patient_id == "PAT-002"].study_instance_uid.unique()) == 1  # the other study is read
    # --resume retries the failed study only
    monkeypatch.setattr(runner, "_study_job", real)
    again = run_batch(small_archive, out, workers=1, processes=False, resume=True)
    assert (again.n_processed, again.n_failures) == (1, 0)


_WRITER = """
import sys
from hcc_imaging.batch.resume import ResultStore

st = ResultStore(sys.argv[1])
i = 0
while True:
    st.put_batch([({"key": f"k{i + j:06d}", "ok": (i + j) % 3 != 0, "payload": "x" * (500 + 37 * (i + j))}, None)
                  for j in range(5)])
    i += 5
    print(i, flush=True)
"""


@pytest.mark.parametrize("after", [10, 200])
def test_batched_commits_survive_sigkill(tmp_path, after) -> None:
    """SIGKILL while batches of records are written: every record acknowledged before the kill is
    there and whole, no record is torn, and the next store cleans the temp files."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    acked = 0
    try:
        deadline = time.monotonic() + 120
        while acked < after and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert acked >= after
    st = ResultStore(tmp_path)
    found = {}
    for d in (st.ok_dir, st.failed_dir):
        assert not list(d.glob(".*")), "temp files are cleaned"
        for p in d.glob("*.json"):
            found[p.stem] = json.loads(p.read_text())  # whole JSON, or this raises
    for key, rec in found.items():
        n = int(key[1:])
        assert rec == {"key": key, "ok": n % 3 != 0, "payload": "x" * (500 + 37 * n)}
        assert (st.ok_dir / f"{key}.json").is_file() == rec["ok"]
    assert {f"k{n:06d}" for n in range(acked)} <= set(found)
    assert len(found) <= acked + 5  # at most the batch in flight beyond the last acknowledgement

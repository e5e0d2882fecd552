"""Unit-level checks of the batch pipeline: options, annotations, read documents, error paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hcc_imaging.batch import (
    BatchError,
    PipelineOptions,
    build_read_document,
    discover_studies,
    load_annotations,
    run_study,
)
from hcc_imaging.batch.resume import ResultStore, content_key
from hcc_imaging.io.dicomweb import DicomWebError, parse_dicomweb_url

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"criteria": ("recist9",)}, "criteria", id="unknown-criterion"),
        pytest.param({"reformat": "sideways"}, "reformat='sideways'", id="bad-reformat"),
        pytest.param({"on_tilt": "ignore"}, "on_tilt='ignore'", id="bad-on-tilt"),
    ],
)
def test_options_errors(kwargs, match) -> None:
    with pytest.raises(BatchError, match=match):
        PipelineOptions(**kwargs)


def test_options_normalise_criteria_and_key() -> None:
    a, b = PipelineOptions(criteria=("recist_1_1", "MRECIST")), PipelineOptions()
    assert a.criteria == ("RECIST1.1", "mRECIST") and a.key_options() == b.key_options()
    assert content_key("1.2", "h", a.key_options()) == content_key("1.2", "h", b.key_options())
    assert content_key("1.2", "h", a.key_options()) != content_key("1.2", "h2", a.key_options())


def test_annotations_merge_and_errors(tmp_path) -> None:
    far, near = tmp_path / "a.json", tmp_path / "b.json"
    far.write_text(json.dumps({"reader_id": "r1", "lesions": {"L1": {"role": "target"}, "L2": {"role": "non_target"}}}))
    near.write_text(json.dumps({"lesions": {"L1": {"role": "non_target"}}}))
    ann = load_annotations([str(near), str(far)])
    assert ann["lesions"]["L1"]["role"] == "non_target" and ann["lesions"]["L2"]["role"] == "non_target"
    assert ann["reader_id"] == "r1"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BatchError, match="cannot be read as JSON"):
        load_annotations([str(bad)])
    bad.write_text("[1, 2]")
    with pytest.raises(BatchError, match="must hold a JSON object"):
        load_annotations([str(bad)])


def _records():
    opts = PipelineOptions()
    tasks, _ = discover_studies(SAMPLE, opts)
    return [run_study(t, opts) for t in tasks], tasks


def test_read_document_without_annotations_proposes_targets() -> None:
    recs, _ = _records()
    doc = build_read_document(recs, criteria=("recist1.1", "mrecist"))
    assert [tp.id for tp in doc.timepoints] == ["BL", "FU1"]
    roles = {o.lesion_id: (o.role_for("RECIST1.1"), o.role_for("mRECIST")) for o in doc.baseline.lesions}
    n_recist = sum(1 for r, _ in roles.values() if r == "target")
    assert 1 <= n_recist <= 5
    # a lesion with no enhancement is never an mRECIST target
    assert roles["L4"][1] == "non_target" and roles["L5"][1] == "non_target"
    with pytest.raises(BatchError, match="no successful study"):
        build_read_document([])
    with pytest.raises(BatchError, match="several patients"):
        build_read_document([recs[0], {**recs[1], "patient_id": "OTHER"}])


def test_lesion_missing_later_is_absent() -> None:
    recs, _ = _records()
    fu = dict(recs[1])
    fu["lesions"] = [r for r in fu["lesions"] if r["lesion_id"] != "L2"]
    ann = load_annotations([str(SAMPLE / "annotations.json")])
    doc = build_read_document([recs[0], fu], annotations=ann)
    obs = doc.timepoints[1].lesion("L2")
    assert obs is not None and obs.status == "absent" and obs.longest_diameter_mm == 0


def test_two_lesion_masks_in_one_study_fail(tmp_path) -> None:
    study = tmp_path / "arch" / "baseline"
    shutil.copytree(SAMPLE / "baseline", study)
    shutil.copy(study / "masks" / "lesions.nii.gz", study / "labels.nii.gz")
    opts = PipelineOptions()
    (task,), _ = discover_studies(tmp_path / "arch", opts)
    rec = run_study(task, opts)
    assert not rec["ok"] and rec["step"] == "masks" and "several lesion masks" in rec["reason"]


def test_store_ignores_partial_writes(tmp_path) -> None:
    st = ResultStore(tmp_path)
    (st.ok_dir / ".tmp_abc.part").write_text("{")
    st.put({"key": "k1", "ok": False, "reason": "x"})
    st.put({"key": "k1", "ok": True})
    st2 = ResultStore(tmp_path)  # a new run cleans temp files
    assert st2.done_keys() == {"k1"} and not list(st2.ok_dir.glob(".tmp_*"))
    assert st2.get("k1") == {"key": "k1", "ok": True} and not (st2.failed_dir / "k1.json").exists()


@pytest.mark.parametrize(
    ("url", "want"),
    [
        pytest.param("dicomweb+http://h:8042/dicom-web/", "http://h:8042/dicom-web", id="http"),
        pytest.param("dicomweb+https://pacs/dw", "https://pacs/dw", id="https"),
        pytest.param("http://h/dw", "http://h/dw", id="plain"),
    ],
)
def test_parse_dicomweb_url(url, want) -> None:
    assert parse_dicomweb_url(url) == want


def test_parse_dicomweb_url_error() -> None:
    with pytest.raises(DicomWebError, match="is not a DICOMweb URL"):
        parse_dicomweb_url("ftp://x")


def test_progress_bar_counts(capsys) -> None:
    from hcc_imaging.batch.runner import _Progress

    bar = _Progress(3, 1, enabled=True)
    bar.update(True)
    bar.update(False)
    bar.update(True)
    bar.close()
    assert (bar.done, bar.failed, bar.skipped) == (3, 1, 1)
    err = capsys.readouterr().err
    assert "3/3 studies" in err and "1 failed" in err


def test_shared_folder_message(tmp_path) -> None:
    """Two studies in one flat folder: masks cannot be attributed, and the failure says why."""
    from hcc_imaging.phantoms import make_study

    flat = tmp_path / "flat"
    flat.mkdir()
    for seed in (1, 2):
        st = make_study(seed, "baseline", shape=(30, 64, 64), spacing=(4.5, 5.5, 5.5))
        info = st.write_dicom(tmp_path / f"s{seed}")
        for ph, d in info["series"].items():
            for f in d["files"]:
                shutil.copy(f, flat / f"{seed}_{ph}_{Path(f).name}")
    opts = PipelineOptions()
    tasks, _ = discover_studies(flat, opts)
    assert len(tasks) == 2
    rec = run_study(tasks[0], opts)
    assert not rec["ok"] and rec["step"] == "masks" and "share the folder" in rec["reason"]

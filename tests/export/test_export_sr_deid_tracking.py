"""``export sr --deidentify`` with a SEG de-identified with the same map (docs/export.md: ``export seg
... --read read.json ... $K`` then ``export sr read.json ... --seg TP=share/seg.dcm ... $K``) warned that
the SEG "gives lesion(s) ... another Tracking UID than the SR" and told the user to rewrite it with
``--read``, though every segment's TrackingUID in the written files equals its SR group's: the check
compared the SEG's mapped UIDs with the SR's UIDs before the SR was de-identified.  A SEG whose UIDs
truly differ still warns."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from hcc_imaging.cli import main

from .conftest import lesion_labels, read_document

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom"
MISMATCH = "another Tracking UID than the SR"


def _seg_uids(path: Path) -> dict[str, str]:
    return {str(s.SegmentLabel): str(s.TrackingUID) for s in pydicom.dcmread(path).SegmentSequence}


def _sr_uids(path: Path) -> dict[str, set[str]]:
    """Tracking identifier (lesion id) -> the Tracking UIDs of its SR measurement groups."""
    out: dict[str, set[str]] = {}

    def walk(items) -> None:
        for it in items:
            if "ContentSequence" not in it:
                continue
            kids = list(it.ContentSequence)
            ident = [str(k.TextValue) for k in kids if k.get("ValueType") == "TEXT"
                     and k.ConceptNameCodeSequence[0].CodeValue == "112039"]
            uid = [str(k.UID) for k in kids if k.get("ValueType") == "UIDREF"
                   and k.ConceptNameCodeSequence[0].CodeValue == "112040"]
            if ident and uid:
                out.setdefault(ident[0], set()).update(uid)
            walk(kids)

    walk(pydicom.dcmread(path).ContentSequence)
    return out


def _seg_then_sr(tmp_path: Path, caplog, read: Path, images: Path, labels: Path, tp: str,
                 with_read: bool) -> tuple[Path, Path]:
    keys = ["--deidentify", "--pseudonym-map", str(tmp_path / "keys" / "pseudonyms.json")]
    share = tmp_path / "share"
    seg_argv = ["export", "seg", "--image", str(images), "--labels", str(labels), "--out", str(share / "seg.dcm"), *keys]
    assert main([*seg_argv, *(["--read", str(read)] if with_read else [])]) == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hcc_imaging.export.sr"):
        assert main(["export", "sr", str(read), "--images", f"{tp}={images}", "--seg", f"{tp}={share / 'seg.dcm'}",
                     "--timepoints", tp, "--out", str(share / "sr.dcm"), *keys]) == 0
    return share / "seg.dcm", share / "sr.dcm"


@pytest.fixture
def synthetic(tmp_path: Path, ct) -> tuple[Path, Path, Path]:
    from hcc_imaging.io.masks import save_mask

    read = tmp_path / "read.json"
    read.write_text(json.dumps(read_document()))
    labels, _ = lesion_labels(ct.volume)
    return read, ct.files[0].parent, save_mask(labels, tmp_path / "labels.nii.gz")


def test_a_seg_deidentified_with_the_read_matches_the_sr(tmp_path: Path, caplog, capsys, synthetic) -> None:
    seg, sr = _seg_then_sr(tmp_path, caplog, *synthetic, "BL", with_read=True)
    assert not [r for r in caplog.records if MISMATCH in r.getMessage()], caplog.text
    seg_uids, sr_uids = _seg_uids(seg), _sr_uids(sr)
    assert seg_uids and set(seg_uids) <= set(sr_uids)
    for lesion, uid in seg_uids.items():
        assert sr_uids[lesion] == {uid}, lesion
    assert "1.2.826.0.1.3680043.8.498.1001" not in seg_uids.values()  # (de-identified: the read's UID mapped)


def test_a_seg_written_without_the_read_still_warns(tmp_path: Path, caplog, capsys, synthetic) -> None:
    seg, sr = _seg_then_sr(tmp_path, caplog, *synthetic, "BL", with_read=False)
    warned = [r.getMessage() for r in caplog.records if MISMATCH in r.getMessage()]
    assert warned and "L1" in warned[0], caplog.text
    assert _seg_uids(seg)["L1"] not in _sr_uids(sr)["L1"]


def test_the_documented_sequence_on_the_sample_data(tmp_path: Path, caplog, capsys) -> None:
    """docs/export.md's commands on the read the demo writes for the sample phantom."""
    demo = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "hcc_imaging.cli", "demo", "--out", str(demo), "--json"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    read = demo / "tables" / "reads" / "PHANTOM-001.json"
    images = SAMPLE / "baseline" / "portal_venous"
    seg, sr = _seg_then_sr(tmp_path, caplog, read, images, SAMPLE / "baseline" / "masks" / "lesions.nii.gz",
                           "baseline", with_read=True)
    assert not [r for r in caplog.records if MISMATCH in r.getMessage()], caplog.text
    seg_uids, sr_uids = _seg_uids(seg), _sr_uids(sr)
    assert len(seg_uids) == 8
    for lesion, uid in seg_uids.items():
        assert sr_uids[lesion] == {uid}, lesion

"""``hcc-imaging demo`` — the README's main job — runs end to end on the bundled sample data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_demo_runs_end_to_end_and_matches_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "demo", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
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

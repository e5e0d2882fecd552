"""The whole workflow on the sample study, baseline → follow-up, and "same numbers" as the CLI.

click → mask → lines → table → response at baseline and fu1; then the dock's mask and read go
through ``hcc-imaging measure`` and ``hcc-imaging assess`` and give the dock's numbers; then
SR / SEG / CSV exports (dock buttons and npe2 writers) read back with the core's readers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hcc_imaging.cli import main
from hcc_imaging.napari_plugin import _core

from .conftest import SAMPLE
from .test_napari_dock import _cell, _click

pytestmark = [
    pytest.mark.gui,
    pytest.mark.slow,  # ~15 s: two segmentations, CLI runs, three exports read back
    pytest.mark.skipif(
        not all(_core.available(f) for f in ("io", "segment", "measure", "response", "export", "tables")),
        reason="core pipeline (io/segment/measure/response/export) not complete in this build",
    ),
]


def _wait_measured(qtbot: Any, dock: Any, lid: str, tp: str) -> None:
    qtbot.waitUntil(
        lambda: (lid, tp) in dock.session.observations and not dock._workers and dock.timepoint_id == tp, timeout=20000
    )


def test_baseline_to_followup_same_numbers_and_exports(
    docked: Any, qtbot: Any, phantom_truth: Any, tmp_path: Path, capsys: Any
) -> None:
    viewer, dock = docked
    s = dock.start_read("R1", criteria="RECIST1.1, mRECIST")
    # --- baseline: one click on L2 (partly necrotic HCC) -------------------------------------------
    _click(viewer, dock, phantom_truth["baseline"]["lesions"]["L2"]["seed_lps"])
    _wait_measured(qtbot, dock, "L1", "baseline")
    base = s.observations[("L1", "baseline")]
    assert base.viable_diameter_mm is not None and base.viable_diameter_mm <= base.longest_diameter_mm
    assert {"long", "short", "viable_long"} <= set(viewer.layers["measurements · baseline"].features["axis"])
    assert int(np.asarray(viewer.layers["viable · baseline"].data).max()) == 1
    # --- follow-up: pick fu1, select L1 in the table, click the same lesion -------------------------------
    dock.timepoint_combo.setCurrentText("fu1")
    assert dock.timepoint_id == "fu1" and viewer.layers["fu1 · portal_venous"].visible
    dock.table.selectRow(0)
    _click(viewer, dock, phantom_truth["fu1"]["lesions"]["L2"]["seed_lps"])
    _wait_measured(qtbot, dock, "L1", "fu1")
    fu = s.observations[("L1", "fu1")]
    assert list(s.lesions) == ["L1"]  # tracked: the same lesion, not a new one
    rows = {r["criterion"]: r for r in dock.response_rows}
    change = (fu.longest_diameter_mm - base.longest_diameter_mm) / base.longest_diameter_mm
    assert rows["RECIST1.1"]["vs baseline"] == f"{100 * change:+.1f} %"
    assert rows["RECIST1.1"]["response"] in ("PR", "SD", "PD", "CR")
    assert dock.plot.n_series >= 1

    # --- same numbers: hcc-imaging measure on the dock's own mask ------------------------------------
    from hcc_imaging.io.masks import save_mask

    masks = tmp_path / "lesions.nii.gz"
    viable = tmp_path / "viable.nii.gz"
    save_mask(s.label_volume("baseline"), masks)
    save_mask(s.label_volume("baseline", viable=True), viable)
    assert main(["measure", str(SAMPLE / "baseline" / "portal_venous"), "--masks", str(masks),
                 "--viable", str(viable), "--json"]) == 0
    (cli,) = json.loads(capsys.readouterr().out)
    assert round(cli["longest_diameter_mm"], 1) == base.longest_diameter_mm
    assert round(cli["short_axis_mm"], 1) == base.short_axis_mm
    assert round(cli["viable_diameter_mm"], 1) == base.viable_diameter_mm
    assert round(cli["volume_mm3"], 1) == base.volume_mm3
    # --- same numbers: hcc-imaging assess on the dock's read document -----------------------------------
    doc = tmp_path / "read.json"
    doc.write_text(json.dumps(s.read_document()))
    assert main(["assess", str(doc), "--criteria", "recist1.1,mrecist", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for crit, res in dock.assessment.results.items():
        cli_res = out["results"][crit]
        assert [t["response"] for t in cli_res["timepoints"]] == [t.response for t in res.timepoints]
        assert cli_res["bor_confirmed"] == res.bor_confirmed

    # --- exports from the dock, read back ---------------------------------------------------------------
    from hcc_imaging.export import read_seg, sr_to_read_document

    dock.timepoint_combo.setCurrentText("baseline")
    (seg_path,) = dock.export("SEG", tmp_path / "seg.dcm")
    back = read_seg(seg_path, reference=s.images["baseline"].reference)
    np.testing.assert_array_equal(back.lesions.array != 0, s.label_array("baseline") != 0)
    assert back.tracking_uids.get("L1") == s.lesions["L1"].tracking_uid
    (sr_path,) = dock.export("SR", tmp_path / "sr.dcm")
    sr_doc, _ = sr_to_read_document(sr_path)
    sr_lds = sorted(les["longest_diameter_mm"] for tp in sr_doc["timepoints"] for les in tp["lesions"])
    assert sr_lds == pytest.approx(sorted([base.longest_diameter_mm, fu.longest_diameter_mm]), abs=0.05)
    csv_paths = dock.export("CSV", tmp_path / "read.csv")
    assert csv_paths[0].read_text().count("\n") >= 3  # header + 2 lesion-time points
    # --- the npe2 writers on the dock's layers --------------------------------------------------------
    written = viewer.layers["lesions · baseline"].save(str(tmp_path / "npe2_seg.dcm"), plugin="hcc-imaging")
    assert Path(written[0]).stat().st_size > 0
    written = viewer.layers["measurements · baseline"].save(str(tmp_path / "npe2.csv"), plugin="hcc-imaging")
    assert Path(written[0]).read_text().count("\n") >= 3
    assert _cell(dock, 0, "lesion_id") == "L1"

    # --- follow-up registered and drawn over the baseline (thread worker) ---------------------------
    dock.timepoint_combo.setCurrentText("fu1")
    dock.set_compare_mode("over baseline (registered)")
    name = "fu1 → baseline (registered)"
    qtbot.waitUntil(lambda: name in viewer.layers and not dock._workers, timeout=60000)
    reg = viewer.layers[name]
    assert reg.visible and viewer.layers["baseline · portal_venous"].visible
    assert not viewer.layers["fu1 · portal_venous"].visible
    assert reg.data.shape == s.images["baseline"].reference.shape
    np.testing.assert_allclose(reg.data_to_world((0, 0, 0)), viewer.layers["baseline · portal_venous"].data_to_world((0, 0, 0)))

    # --- the same registered follow-up beside the baseline (no second registration) -------------------
    assert ("fu1", "baseline") in dock._registered
    dock.set_compare_mode("beside baseline (registered)")
    beside_name = "fu1 → baseline (registered, beside)"
    qtbot.waitUntil(lambda: beside_name in viewer.layers and not dock._workers, timeout=60000)
    beside, base = viewer.layers[beside_name], viewer.layers["baseline · portal_venous"]
    assert beside.visible and base.visible and not reg.visible  # the overlay belongs to the other mode
    assert beside.colormap.name == base.colormap.name and beside.blending == base.blending
    # same voxel -> same z and y, x shifted by the baseline's width plus the gap: side by side,
    # one z slider and one camera for both
    shift = float(np.diff(np.asarray(base.extent.world)[:, 2])[0])
    for idx in [(0, 0, 0), (7, 40, 90)]:
        d = np.asarray(beside.data_to_world(idx)) - np.asarray(base.data_to_world(idx))
        np.testing.assert_allclose(d[:2], 0.0, atol=1e-6)
        assert d[2] >= shift
    # the two images do not overlap in world x
    assert np.asarray(beside.extent.world)[0, 2] > np.asarray(base.extent.world)[1, 2]
    dock.set_compare_mode("single")
    assert not beside.visible and not reg.visible and viewer.layers["fu1 · portal_venous"].visible

#!/usr/bin/env python
"""Regenerate the screenshots of the napari user guide (docs/napari.md) from the sample study.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/make_screenshots.py [--out docs/img]

Drives the real plugin (reader, dock, click-to-segment, follow-up, response panel) on
``sample_data/liver_phantom`` in a shown viewer (``show=True``: hidden viewers screenshot black)
and saves window and canvas screenshots.  Reads go to a temporary autosave folder and store.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "liver_phantom"


def _settle(app, dock=None, seconds: float = 0.3) -> None:  # noqa: ANN001
    end = time.monotonic() + seconds
    while time.monotonic() < end or (dock is not None and dock._workers):
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    from hcc_imaging.commands.view import build_viewer
    from hcc_imaging.napari_plugin._layers import lps_to_world

    truth = json.loads((SAMPLE / "truth.json").read_text())["timepoints"]
    tmp = Path(tempfile.mkdtemp())
    viewer = napari.Viewer(title="hcc-imaging", show=True)
    viewer.window.resize(1700, 1050)
    app = QApplication.instance()
    written = []
    try:
        viewer, dock = build_viewer(SAMPLE, viewer=viewer, reader="R1", autosave_dir=tmp / "reads", db=tmp / "study.sqlite")
        dock.criteria_edit.setText("RECIST1.1, mRECIST, EASL, RECICL, iRECIST")
        dock.start_read("R1")
        _settle(app)

        def shot(name: str, canvas_only: bool = False) -> None:
            """Screenshot of the window (or of the canvas only) into ``args.out / name``."""
            p = args.out / name
            if canvas_only:
                viewer.screenshot(str(p), canvas_only=True, flash=False)
            else:
                viewer.window.screenshot(str(p), canvas_only=False, flash=False)
            written.append(p)

        def click(tp: str, lesion: str) -> None:
            dock.segment_button.setChecked(True)
            seeds = viewer.layers["seeds (click a lesion)"]
            seeds.add(np.asarray(seeds.world_to_data(lps_to_world(truth[tp]["lesions"][lesion]["seed_lps"]))))
            _settle(app, dock, 0.5)

        for lesion in ("L2", "L1"):
            click("baseline", lesion)
        dock.segment_button.setChecked(False)
        dock.go_to_lesion("L1")
        viewer.layers.selection.active = viewer.layers["measurements · baseline"]
        _settle(app, dock)
        shot("napari_baseline_dock.png")

        viewer.scene.camera.zoom = viewer.scene.camera.zoom * 2.2
        centre = dock.session.observations[("L1", "baseline")].lines["long"]
        mid = lps_to_world((np.asarray(centre.start_lps) + np.asarray(centre.end_lps)) / 2)
        viewer.scene.camera.center = tuple(mid[1:])
        _settle(app)
        shot("napari_lines_closeup.png", canvas_only=True)
        viewer.reset_view()

        dock.timepoint_combo.setCurrentText("fu1")
        _settle(app)
        for row, lesion in ((0, "L1"), (1, "L2")):
            key = dock.table.item(row, 0).text()
            dock.table.selectRow(row)
            click("fu1", "L2" if key == "L1" else "L1")
            del lesion
        dock.segment_button.setChecked(False)
        dock.go_to_lesion("L1")
        dock.tabs.setCurrentIndex(0)
        _settle(app, dock)
        shot("napari_followup_response.png")

        worker = dock.set_compare_mode("over baseline (registered)")
        if worker is not None:
            _settle(app, dock, 1.0)
        shot("napari_followup_over_baseline.png")
        worker = dock.set_compare_mode("beside baseline (registered)")
        if worker is not None:
            _settle(app, dock, 1.0)
        shot("napari_followup_beside_baseline.png")
        dock.set_compare_mode("single")
    finally:
        viewer.close()
    for p in written:
        print(f"wrote {p.relative_to(REPO) if p.is_relative_to(REPO) else p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

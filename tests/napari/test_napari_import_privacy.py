"""A mask imported from a file whose name is a patient's: the name is in nothing the read writes (the
import gives the source ``imported mask``, ``export/_file_sources.py``; until 2026-12-06 it gave
``imported:FILE (hcc_imaging VERSION)``, which the measurement then replaced by its own algorithm)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hcc_imaging.io import save_mask
from hcc_imaging.napari_plugin import _core
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.volume import LabelVolume, Volume

NAME = "Doe_John"


def test_an_imported_mask_file_name_is_written_nowhere(tmp_path: Path) -> None:
    vol = Volume.create(np.zeros((8, 32, 32), np.int16), spacing=(2.0, 1.0, 1.0))
    arr = np.zeros(vol.shape, np.uint8)
    arr[2:6, 8:20, 8:20] = 1
    masks = tmp_path / "in"
    masks.mkdir()
    save_mask(LabelVolume.like(vol, arr), masks / f"{NAME}_liver_seg.nii.gz")
    s = ReadSession("P001", "R1", tmp_path / "reads")
    s.add_timepoint("baseline", {"portal_venous": vol})
    assert s.import_masks("baseline", masks / f"{NAME}_liver_seg.nii.gz") == ["L1"]
    assert s.observation("L1", "baseline").longest_diameter_mm > 0
    doc = s.read_document()
    assert NAME not in json.dumps(doc)
    out = tmp_path / "out"
    out.mkdir()
    _core.export_csv(doc, out / "lesions.csv")
    written = [p for p in [*out.rglob("*"), *(tmp_path / "reads").rglob("*")] if p.is_file()]
    assert written
    for p in written:
        assert NAME.encode() not in p.read_bytes(), p
    # (the SR of such a source: tests/export/test_export_file_sources.py)

"""A lesion's organ at a follow-up that does not state it is the lesion's, not the default
``liver``: the bundled example's porta-hepatis node N1 (``organ: lymph_node`` at baseline only) was
shown as a liver lesion at FU1 / FU2 in lesions.csv and the report's lesion table."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from hcc_imaging.cli import main
from hcc_imaging.export.model import as_export_read

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "read_tace.json"


def test_example_node_is_a_lymph_node_at_every_time_point(tmp_path: Path, capsys) -> None:
    doc = json.loads(EXAMPLE.read_text())
    stated = [les.get("organ") for tp in doc["timepoints"] for les in tp["lesions"] if les["lesion_id"] == "N1"]
    assert stated == ["lymph_node", None, None]  # the example states it at baseline only
    assert main(["export", "csv", str(EXAMPLE), "--out", str(tmp_path / "t")]) == 0
    rows = [r for r in csv.DictReader((tmp_path / "t" / "lesions.csv").open()) if r["lesion_id"] == "N1"]
    assert [(r["timepoint_id"], r["organ"]) for r in rows] == [
        ("BL", "lymph_node"), ("FU1", "lymph_node"), ("FU2", "lymph_node")]
    assert main(["export", "report", str(EXAMPLE), "--criteria", "recist1.1", "--out", str(tmp_path / "r.html")]) == 0
    cells = re.findall(r"<tr><td>N1</td><td>[^<]*</td><td>([^<]*)</td>", (tmp_path / "r.html").read_text())
    assert cells == ["lymph_node"] * 3


def _doc(bl: dict, fu: dict) -> dict:
    return {"patient_id": "P1", "reader_id": "R1", "timepoints": [
        {"id": "BL", "day": 0, "lesions": [{"lesion_id": "X", "role": "non_target", "status": "present", **bl}]},
        {"id": "FU1", "day": 56, "lesions": [{"lesion_id": "X", "role": "non_target", "status": "present", **fu}]}]}


def _organs(doc: dict) -> list[tuple[str | None, bool]]:
    return [(les.organ, les.is_lymph_node) for les in as_export_read(doc).lesions]


def test_organ_and_node_are_carried_from_the_first_observation_stating_them() -> None:
    assert _organs(_doc({"organ": "lung"}, {})) == [("lung", False), ("lung", False)]
    # stated at the follow-up only: the lesion's organ at baseline too
    assert _organs(_doc({}, {"organ": "adrenal"})) == [("adrenal", False), ("adrenal", False)]
    # a follow-up stating its own keeps it
    assert _organs(_doc({"organ": "lung"}, {"organ": "pleura"})) == [("lung", False), ("pleura", False)]
    # a node: is_lymph_node carried, and its organ is lymph_node when none is stated
    assert _organs(_doc({"is_lymph_node": True}, {})) == [("lymph_node", True), ("lymph_node", True)]
    # nothing stated: the document's defaults
    assert _organs(_doc({}, {})) == [("liver", False), ("liver", False)]


def test_a_carried_node_is_measured_by_its_short_axis() -> None:
    read = as_export_read(_doc({"is_lymph_node": True, "organ": "lymph_node", "short_axis_mm": 16.0,
                                "longest_diameter_mm": 25.0},
                               {"short_axis_mm": 12.0, "longest_diameter_mm": 22.0}))
    assert [les.recist_diameter_mm for les in read.lesions] == [16.0, 12.0]

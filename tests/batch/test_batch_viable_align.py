"""``batch``: a seeded lesion's viable part read on an arterial phase taken in another breath hold
(batch/viable_parts.py, segment/viable_align.py; the check ``segment --viable-out`` makes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hcc_imaging.batch.lesions import study_lesions
from hcc_imaging.batch.pipeline import PipelineOptions, StudyInputs, StudyTask
from hcc_imaging.volume import Phase

from tests.segment._phantom import breath_hold_phases


def _seeded(tmp_path: Path, shift_z_mm: float) -> tuple[Any, int]:
    """The viable_align scene as a study whose seeds file clicks L1 on the portal venous phase."""
    pv, art, lab = breath_hold_phases(shift_z_mm)
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps({"lesions": [{"lesion_id": "L1", "seed_lps": [0.0, 0.0, 0.0], "phase": "portal_venous"}]}))
    task = StudyTask(key="k", patient_id="P1", study_instance_uid="1.2.3", study_date="20250101", root=str(tmp_path),
                     series=(), inputs=StudyInputs(seeds_file=str(seeds)), input_hash="h")
    got = study_lesions(task, pv, {Phase.PORTAL_VENOUS: pv, Phase.ARTERIAL: art}, PipelineOptions())
    return got, int(np.count_nonzero(lab.array))


def test_a_seeded_lesions_viable_part_is_read_where_the_arterial_phase_shows_it(tmp_path: Path) -> None:
    """The arterial phase 8 mm off the portal venous one the lesion was seeded on: the lesion is
    wholly enhancing, so its viable part is (nearly) all of it.  Before, the lesion was placed on the
    arterial phase by geometry and the viable part was read over parenchyma on one side (< 80 %)."""
    got, whole = _seeded(tmp_path, 8.0)
    les = np.asarray(got.lesions.array) != 0
    assert abs(int(les.sum()) - whole) < 0.15 * whole  # (the seeded mask: the lesion)
    via = np.asarray(got.viable.array) != 0
    assert via.sum() >= 0.9 * les.sum() and not (via & ~les).any()
    rec = got.viable_alignment["L1"]
    # (ITK convention: an arterial point p is the portal venous point p + t: t is -8 mm along S)
    assert rec["moved"] is True and abs(rec["translation_mm"][2] + 8.0) < 1.0 and rec["source_phase"] == "portal_venous"
    assert len(rec["notes"]) == 1 and "moved onto it" in rec["notes"][0]


def test_aligned_phases_record_the_check_and_read_as_before(tmp_path: Path) -> None:
    """The same study with the phases aligned: the check is recorded, nothing is moved, and the
    viable part is the one viable_mask reads on the lesion map as it lies (as before the check)."""
    from hcc_imaging.segment import viable_mask

    got, _ = _seeded(tmp_path, 0.0)
    _, art, _ = breath_hold_phases(0.0)
    rec = got.viable_alignment["L1"]
    assert rec["moved"] is False and "notes" not in rec and max(abs(v) for v in rec["translation_mm"]) < 1.0
    np.testing.assert_array_equal(got.viable.array, viable_mask(got.lesions, art).array)

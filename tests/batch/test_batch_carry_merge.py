"""``batch --carry``: a carried lesion whose voxels another lesion took is never read ``absent``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hcc_imaging.batch import PipelineOptions, build_read_document, discover_studies, load_annotations, run_batch, run_study
from hcc_imaging.batch.coalesce import merge_seeded
from hcc_imaging.volume import LabelVolume

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom"


def test_a_seeded_lesion_that_takes_a_carried_lesion_leaves_it_not_carried() -> None:
    """A follow-up's own seed (a new lesion N1) whose mask covers most of the carried L2: L2 is
    taken out (``not_carried``: "merged with N1 ..."), not left with a few voxels nor with none (the
    read would record it ``absent``); a carried L1 that loses a few voxels to N1 stays, with a
    note.  Before, L2 kept its name with 0 voxels and nothing said so."""
    shape = (10, 40, 40)
    car = np.zeros(shape, np.uint16)
    car[2:8, 5:15, 5:15] = 1  # L1
    car[2:8, 25:35, 25:35] = 2  # L2
    carried = LabelVolume.create(car, spacing=(2.0, 1.0, 1.0), labels={1: "L1", 2: "L2"})
    s = np.zeros(shape, np.uint8)
    s[2:8, 24:36, 24:35] = 1  # N1 covers L2 but one column
    s[2:8, 5:15, 14:16] = 1  # and one column of L1's
    seeded = LabelVolume.like(carried, s, labels={1: "N1"})
    how: dict = {"not_carried": {}, "notes": []}
    out, extra, holds = merge_seeded(carried, [2], seeded, [], how)
    arr = np.asarray(out.array)
    assert dict(out.labels) == {1: "L1", 3: "N1"} and not np.any(arr == 2) and extra == []
    assert how["not_carried"]["L2"].startswith("merged with N1 at this time point")
    assert (arr == 1).sum() == 6 * 10 * 9 and any("L1 and N1" in n for n in how["notes"])
    # N1 measures the coalesced mass: it gets the check a carried lesion that took another gets (it had none)
    assert holds == {"N1": ("L2",)}


def test_a_lesion_carried_here_but_missing_from_the_map_is_not_evaluable() -> None:
    """A lesion the carry clicked at a study (``carried_from.seeds_lps``) that has no row there and
    no ``not_carried`` reason is read ``not_evaluable`` with a note, never ``absent`` (0 mm)."""
    opts = PipelineOptions()
    tasks, _ = discover_studies(SAMPLE, opts)
    recs = [run_study(t, opts) for t in tasks]
    fu = dict(recs[1])
    fu["lesions"] = [r for r in fu["lesions"] if r["lesion_id"] != "L2"]
    fu["carried_from"] = {"not_carried": {}, "seeds_lps": {"L1": [0, 0, 0], "L2": [0, 0, 0]}, "notes": []}
    ann = load_annotations([str(SAMPLE / "annotations.json")])
    obs = build_read_document([recs[0], fu], annotations=ann).timepoints[1].lesion("L2")
    assert obs is not None and obs.status == "not_evaluable", obs
    assert "holds no voxels of the carried label map" in (obs.note or "")


def test_two_seeds_on_one_lesion_fail_the_study_not_read_absent(tmp_path: Path) -> None:
    """A seeds file with two clicks on the study phantom's L1 (each half's centre), as L1 and L9:
    both segment the whole lesion.  Before, L9 kept its name with no voxel (at a follow-up: read
    ``absent``, 0 mm); now the study fails at ``masks`` naming both lesions."""
    import json

    import pytest

    from hcc_imaging.batch.lesions import _segment_seeds
    from hcc_imaging.batch.errors import StudyStepError
    from hcc_imaging.phantoms import make_study

    st = make_study(0, shape=(44, 112, 112), spacing=(3.5, 3.0, 3.0))
    pts = np.argwhere(np.asarray(st.lesions.array) == 1)
    half = pts[:, 2] > np.median(pts[:, 2])
    seeds = [{"lesion_id": lid, "seed_lps": [float(v) for v in st.lesions.index_to_lps(p.mean(0))]}
             for lid, p in (("L1", pts[~half]), ("L9", pts[half]))]
    f = tmp_path / "seeds.json"
    f.write_text(json.dumps({"lesions": seeds}))
    with pytest.raises(StudyStepError, match="the click of L9 segmented the mass L1 holds"):
        _segment_seeds(str(f), st.volumes["portal_venous"], st.volumes)


def test_a_seeded_lesion_that_swallows_a_carried_one_is_checked(tmp_path: Path) -> None:
    """``batch --carry``: the baseline seeded (L1, L2); the follow-up's seeds file says
    ``"carry": true`` and seeds N1 on L2 (a reader's click on the mass, under a new id).  L2 is not
    carried ("merged with N1"), and N1, which measures the mass, has the check a carried lesion that
    took another gets: "it also holds L2 ... record the coalescence" (a note on its observation).
    Before, N1 had no check: the coalescence showed only under L2's not_carried."""
    import json
    import shutil

    arch = tmp_path / "arch"
    shutil.copytree(SAMPLE, arch, ignore=shutil.ignore_patterns("masks"))
    truth = {tp: json.loads((arch / tp / "truth.json").read_text())["lesions"] for tp in ("baseline", "fu1")}
    (arch / "baseline" / "seeds.json").write_text(json.dumps({"liver": True, "lesions": [
        {"lesion_id": lid, "seed_lps": truth["baseline"][lid]["seed_lps"]} for lid in ("L1", "L2")]}))
    (arch / "fu1" / "seeds.json").write_text(json.dumps({"carry": True, "liver": True, "lesions": [
        {"lesion_id": "N1", "seed_lps": truth["fu1"]["L2"]["seed_lps"]}]}))
    records: list[dict] = []
    run_batch(arch, tmp_path / "o", workers=1, processes=False, options=PipelineOptions(carry=True),
              on_record=records.append)
    fu1 = max(records, key=lambda r: r["study_date"])
    assert fu1["carried_from"]["not_carried"]["L2"].startswith("merged with N1 at this time point"), fu1["carried_from"]
    assert {r["lesion_id"] for r in fu1["lesions"]} == {"L1", "N1"}
    checks = fu1["segmentation_checks"]
    assert any(c.startswith("it also holds L2 at this time point (one mass)") for c in checks.get("N1", ())), checks
    assert not any("also holds" in c for c in checks.get("L1", ()))

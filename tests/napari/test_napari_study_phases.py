"""Qt-free: a time point's phases attached one at a time (``ReadSession.add_phases``), the read's
time points renamed while it holds nothing under them (``rename_timepoints``), and the names the
dock gives a patient's studies opened one after another (``_study_names.plan_study_names``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.errors import HccImagingError
from hcc_imaging.napari_plugin._controller import ReadSession
from hcc_imaging.napari_plugin._study_names import PRIOR, ReadTimePoint, plan_study_names, prior_study_message
from hcc_imaging.volume import Geometry, Phase, Volume

STUDY = "1.2.826.0.1.3680043.8.498.1"
OTHER_STUDY = "1.2.826.0.1.3680043.8.498.2"


def _vol(phase: str, series: str, *, study: str = STUDY, origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
         shape: tuple[int, int, int] = (6, 20, 20)) -> Volume:
    arr = np.full(shape, 40, np.int16)
    arr[2:4, 8:12, 8:12] = 120  # a bright block (a "lesion" to put a mask on)
    return Volume(array=arr, geometry=Geometry(shape, (2.0, 1.0, 1.0), origin), phase=Phase(phase),
                  study_instance_uid=study, series_instance_uid=f"{study}.{series}", series_description=phase)


def test_phases_opened_one_at_a_time_all_reach_the_time_point(tmp_path: Path) -> None:
    """napari adds a study's series one layer at a time: the read took the first phase and skipped
    the time point for the others (fu1 had only its pre-contrast phase; mRECIST no arterial)."""
    s = ReadSession("P001", "R1", tmp_path)
    s.add_timepoint("fu1", {"pre_contrast": _vol("pre_contrast", "1")}, date="2025-03-03")
    art, pv = _vol("arterial", "2"), _vol("portal_venous", "3")
    assert s.add_phases("fu1", {"arterial": art}) == []
    assert s.add_phases("fu1", {"portal_venous": pv, "arterial": art}) == []  # the arterial again: a no-op
    tp = s.images["fu1"]
    assert list(tp.phases) == [Phase.PRE_CONTRAST, Phase.ARTERIAL, Phase.PORTAL_VENOUS]
    assert tp.reference is pv and tp.arterial is art and tp.date == "2025-03-03"


def test_a_phase_held_is_never_replaced_by_another_series(tmp_path: Path) -> None:
    s = ReadSession("P001", "R1", tmp_path)
    pv = _vol("portal_venous", "3")
    s.add_timepoint("fu1", {"portal_venous": pv})
    notes = s.add_phases("fu1", {"portal_venous": _vol("portal_venous", "9"), "delayed": _vol("delayed", "4")})
    assert len(notes) == 1 and "already has a portal_venous series" in notes[0] and f"{STUDY}.9" in notes[0]
    assert s.images["fu1"].phases[Phase.PORTAL_VENOUS] is pv and Phase.DELAYED in s.images["fu1"].phases
    with pytest.raises(HccImagingError, match="not of the study of time point 'fu1'"):
        s.add_phases("fu1", {"arterial": _vol("arterial", "5", study=OTHER_STUDY)})
    assert Phase.ARTERIAL not in s.images["fu1"].phases


def test_a_later_reference_phase_on_another_grid_keeps_the_masks_grid(tmp_path: Path) -> None:
    """Masks live on the time point's first reference grid: a portal venous phase on another grid
    attached after a mask was drawn does not become the reference (it would when no mask is there)."""
    shifted = (0.0, 5.0, 0.0)
    s = ReadSession("P001", "R1", tmp_path)
    pre = _vol("pre_contrast", "1")
    s.add_timepoint("fu1", {"pre_contrast": pre})
    lesion = s.new_lesion()
    mask = np.zeros(pre.shape, bool)
    mask[2:4, 8:12, 8:12] = True
    s.set_mask(lesion.lesion_id, "fu1", mask, source="reader:R1")
    s.add_phases("fu1", {"portal_venous": _vol("portal_venous", "3", origin=shifted)})
    assert s.images["fu1"].reference is pre and s.geometry("fu1").equals(pre.geometry)
    assert s.label_array("fu1").shape == pre.shape and s.label_array("fu1").any()
    # no mask yet: the preferred phase becomes the reference, and the time point's grid with it
    t = ReadSession("P002", "R1", tmp_path)
    t.add_timepoint("fu1", {"pre_contrast": _vol("pre_contrast", "1")})
    pv = _vol("portal_venous", "3", origin=shifted)
    t.add_phases("fu1", {"portal_venous": pv})
    assert t.images["fu1"].reference is pv and t.geometry("fu1").equals(pv.geometry)


def test_rename_timepoints_only_while_the_read_holds_nothing_under_them(tmp_path: Path) -> None:
    s = ReadSession("P001", "R1", tmp_path)
    later = _vol("portal_venous", "3", study=OTHER_STUDY)
    s.add_timepoint("baseline", {"portal_venous": later}, date="2025-03-03")
    assert not s.timepoint_recorded("baseline")
    s.rename_timepoints({"baseline": "fu1"})
    assert list(s.images) == ["fu1"] and s.images["fu1"].timepoint_id == "fu1" and s.images["fu1"].reference is later
    assert s.geometry("fu1").equals(later.geometry)
    with pytest.raises(HccImagingError, match="unknown time point 'baseline'"):
        s.geometry("baseline")
    s.measure_manual("fu1", ((2, 2, 4), (15, 2, 4)))
    assert s.timepoint_recorded("fu1")
    with pytest.raises(HccImagingError, match="hold measurements"):
        s.rename_timepoints({"fu1": "baseline"})
    assert list(s.images) == ["fu1"]


A, B, C = "1.2.3.1", "1.2.3.2", "1.2.3.3"  # study UIDs: B earlier than A, C later than A


def test_plan_names_studies_by_date_and_renames_an_unmeasured_read() -> None:
    assert plan_study_names({A: "20250303", B: "20250106"}).names == {A: "fu1", B: "baseline"}
    # a read started on the later study (opened alone: 'baseline'), nothing measured yet
    plan = plan_study_names({A: "20250303", B: "20250106"}, [ReadTimePoint("baseline", A, "2025-03-03", False)])
    assert plan.names == {A: "fu1", B: "baseline"} and plan.renames == {"baseline": "fu1"} and plan.prior == []


def test_plan_leaves_out_a_study_dated_before_a_measured_baseline() -> None:
    read = [ReadTimePoint("baseline", A, "2025-03-03", True)]
    plan = plan_study_names({A: "20250303", B: "20250106"}, read)
    assert plan.names == {A: "baseline", B: PRIOR} and plan.renames == {} and plan.prior == [B]
    # a study dated after it is a follow-up as before
    plan = plan_study_names({A: "20250303", C: "20250505"}, read)
    assert plan.names == {A: "baseline", C: "fu1"} and plan.prior == []
    # a recorded time point without a date orders nothing: no study is left out
    plan = plan_study_names({A: "20250303", B: "20250106"}, [ReadTimePoint("baseline", A, None, True)])
    assert plan.names == {A: "baseline", B: "fu1"} and plan.prior == []
    msg = prior_study_message("2025-01-06", read, 1, "P001__R1.json")
    assert "2025-01-06" in msg and "2025-03-03" in msg and "1 lesion measurement" in msg
    assert "not attached to the read" in msg and "both studies open" in msg
    assert "P001__R1.json, its masks folder P001__R1.masks and" in msg  # schema 2 keeps masks beside the JSON


def test_the_study_of_one_time_point_is_refused_under_another_name(tmp_path: Path) -> None:
    """Images of the read's baseline opened as 'fu1' were attached: the read's two time points were
    one study and the response compared a scan with itself."""
    s = ReadSession("P001", "R1", tmp_path)
    s.add_timepoint("baseline", {"portal_venous": _vol("portal_venous", "3")}, date="2025-01-06")
    with pytest.raises(HccImagingError, match=r"as time point 'fu1' are those of the read's time point 'baseline' "
                                              rf"\(study {STUDY}\)"):
        s.add_timepoint("fu1", {"portal_venous": _vol("portal_venous", "3")}, date="2025-01-06")
    assert list(s.images) == ["baseline"]
    # without a study UID, a shared series says it is the same study
    same = _vol("arterial", "4")
    s2 = ReadSession("P002", "R1", tmp_path)
    s2.add_timepoint("baseline", {"arterial": same})
    anon = Volume(array=same.array, geometry=same.geometry, phase=Phase.ARTERIAL, series_instance_uid=same.series_instance_uid)
    with pytest.raises(HccImagingError, match=rf"'baseline' \(series {STUDY}\.4\)"):
        s2.add_phases("fu1", {"arterial": anon})
    # another study is a time point of its own
    s.add_timepoint("fu1", {"portal_venous": _vol("portal_venous", "3", study=OTHER_STUDY)}, date="2025-03-03")
    assert list(s.images) == ["baseline", "fu1"]

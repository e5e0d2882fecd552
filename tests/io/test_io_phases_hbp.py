"""A 10-30 min delay is hepatobiliary only on MR with a hepatobiliary agent (gadoxetate), else delayed.

Until 2026-12-06 any description with a 10-30 min delay ("DELAYED 10 MIN", "20MIN") was called
hepatobiliary, on CT too, and the timing rule gave hepatobiliary to a CT tagged with gadoxetate.
"""

from __future__ import annotations

import pytest

from hcc_imaging.io import classify_phase
from hcc_imaging.io.phases import phase_from_description, phase_from_timing
from hcc_imaging.volume import Phase

P = Phase


@pytest.mark.parametrize(("desc", "modality", "agent", "phase"), [
    pytest.param("DELAYED 10 MIN", "CT", "Omnipaque 350", P.DELAYED, id="ct-10min-delayed"),
    pytest.param("DELAYED 10 MIN", "CT", None, P.DELAYED, id="ct-10min-no-agent"),
    pytest.param("ABD 20MIN", "CT", "Primovist", P.DELAYED, id="ct-tagged-gadoxetate-still-delayed"),
    pytest.param("DELAYED 10 MIN", "MR", "Gadovist", P.DELAYED, id="mr-extracellular-delayed"),
    pytest.param("t1 vibe 20 min", "MR", None, P.DELAYED, id="mr-no-agent-tag-delayed"),
    pytest.param("t1 vibe 20 min", "MR", "Gd-EOB-DTPA (Primovist)", P.HEPATOBILIARY, id="mr-gadoxetate-hbp"),
    pytest.param("DELAYED 10 MIN", "MR", "EOVIST", P.HEPATOBILIARY, id="mr-eovist-10min-hbp"),
    pytest.param("HBP", "MR", None, P.HEPATOBILIARY, id="explicit-hbp-keyword-kept"),
    pytest.param("DELAYED 3 MIN", "CT", None, P.DELAYED, id="ct-3min-delayed"),
])
def test_minutes_delay_needs_gadoxetate_mr(desc: str, modality: str, agent: str | None, phase: Phase) -> None:
    call = classify_phase({"series_description": desc, "modality": modality, "contrast_bolus_agent": agent})
    assert call.phase == phase, call
    if phase == P.DELAYED and "MIN" in desc.upper() and "3" not in desc:
        assert "no hepatobiliary" in call.reason, call.reason
    direct = phase_from_description(desc, modality=modality, agent=agent)
    assert direct is not None and direct.phase == phase


def test_reason_says_why_not_hepatobiliary() -> None:
    ct = phase_from_description("DELAYED 10 MIN", modality="CT")
    assert ct is not None and ct.phase == P.DELAYED
    assert "'10 MIN'" in ct.reason and "on CT" in ct.reason
    mr = phase_from_description("DELAYED 10 MIN", modality="MR", agent="Dotarem")
    assert mr is not None and "ContrastBolusAgent 'Dotarem' names no hepatobiliary agent" in mr.reason


def test_gadoxetate_named_by_another_series_of_the_exam() -> None:
    """The hepatobiliary series lacks ContrastBolusAgent but the exam's dynamic series name gadoxetate."""
    dyn = {"series_instance_uid": "1", "modality": "MR", "series_description": "VIBE ART",
           "contrast_bolus_agent": "Primovist", "acquisition_time": "100030"}
    hbp = {"series_instance_uid": "2", "modality": "MR", "series_description": "VIBE 20 MIN",
           "contrast_bolus_agent": "", "acquisition_time": "102000"}
    ct = {"series_instance_uid": "3", "modality": "CT", "series_description": "CT 20 MIN",
          "contrast_bolus_agent": "", "acquisition_time": "103000"}
    assert classify_phase(hbp, study_series=[dyn, hbp]).phase == P.HEPATOBILIARY
    assert classify_phase(hbp).phase == P.DELAYED
    # another modality's agent does not count, and a CT is never hepatobiliary
    assert classify_phase(ct, study_series=[dyn, hbp, ct]).phase == P.DELAYED


@pytest.mark.parametrize(("delay_s", "modality", "agent", "phase"), [
    pytest.param(1200, "CT", "Primovist", P.DELAYED, id="ct-20min-delayed"),
    pytest.param(180, "CT", "Primovist", P.DELAYED, id="ct-3min-not-transitional"),
    pytest.param(1200, "MR", "Primovist", P.HEPATOBILIARY, id="mr-20min-hbp"),
    pytest.param(1200, "MR", "Gadovist", P.DELAYED, id="mr-extracellular-20min-delayed"),
    pytest.param(180, "MR", "Primovist", P.TRANSITIONAL, id="mr-3min-transitional"),
])
def test_timing_uses_modality(delay_s: float, modality: str, agent: str, phase: Phase) -> None:
    assert phase_from_timing(delay_s, modality=modality, agent=agent).phase == phase


def test_order_check_reads_a_peer_with_the_exams_agent() -> None:
    """A gadoxetate exam's HBP series and a later '20 MIN' one without the agent tag: both hepatobiliary,
    so no order warning (read without the exam's agent the later one was 'delayed', acquired after it)."""
    art = {"series_instance_uid": "1", "modality": "MR", "series_description": "VIBE ART",
           "contrast_bolus_agent": "Primovist", "acquisition_time": "100030"}
    hbp = {"series_instance_uid": "2", "modality": "MR", "series_description": "VIBE HBP",
           "contrast_bolus_agent": "Primovist", "acquisition_time": "102000"}
    late = {"series_instance_uid": "3", "modality": "MR", "series_description": "VIBE COR 20 MIN",
            "contrast_bolus_agent": "", "acquisition_time": "102500"}
    study = [art, hbp, late]
    call = classify_phase(hbp, study_series=study)
    assert call.phase == P.HEPATOBILIARY and call.warnings == ()
    assert classify_phase(late, study_series=study).phase == P.HEPATOBILIARY


@pytest.mark.parametrize(("desc", "modality", "agent", "phase"), [
    pytest.param("DELAYED 3 MIN", "MR", "Primovist", P.TRANSITIONAL, id="mr-gadoxetate-3min-transitional"),
    pytest.param("t1 vibe 2min", "MR", "Gd-EOB-DTPA", P.TRANSITIONAL, id="mr-gadoxetate-2min-transitional"),
    pytest.param("3 MIN DELAY", "MR", "EOVIST", P.TRANSITIONAL, id="mr-eovist-3min-delay-transitional"),
    pytest.param("VIBE 5 MIN", "MR", "Primovist", P.DELAYED, id="mr-gadoxetate-5min-delayed-as-timing"),
    pytest.param("DELAYED 3 MIN", "MR", "Gadovist", P.DELAYED, id="mr-extracellular-3min-delayed"),
    pytest.param("DELAYED 3 MIN", "MR", None, P.DELAYED, id="mr-no-agent-3min-delayed"),
    pytest.param("DELAYED 3 MIN", "CT", "Primovist", P.DELAYED, id="ct-3min-delayed"),
])
def test_minutes_delay_agrees_with_timing(desc: str, modality: str, agent: str | None, phase: Phase) -> None:
    """The description's minutes give the phase the timing rule gives that delay (2-4 min with
    gadoxetate on MR: transitional; until 2026-12-06 the description said delayed)."""
    import re

    call = phase_from_description(desc, modality=modality, agent=agent)
    assert call is not None and call.phase == phase, call
    minutes = int(re.search(r"(\d) ?min", desc, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    assert phase_from_timing(minutes * 60.0, modality=modality, agent=agent).phase == phase
    if phase == P.TRANSITIONAL:
        assert "transitional" in call.reason


def test_exam_gadoxetate_makes_an_untagged_3min_series_transitional() -> None:
    dyn = {"series_instance_uid": "1", "modality": "MR", "series_description": "VIBE ART",
           "contrast_bolus_agent": "Primovist", "acquisition_time": "100030"}
    tr = {"series_instance_uid": "2", "modality": "MR", "series_description": "VIBE 3 MIN",
          "contrast_bolus_agent": "", "acquisition_time": "100300"}
    assert classify_phase(tr, study_series=[dyn, tr]).phase == P.TRANSITIONAL
    assert classify_phase(tr).phase == P.DELAYED


@pytest.mark.parametrize("desc", ["HBP", "HEPATOBILIARY PHASE", "HBP 20MIN", "肝細胞相"])
def test_a_hepatobiliary_keyword_on_ct_is_unknown_naming_the_conflict(desc: str) -> None:
    """A CT has no hepatobiliary phase: its explicit HBP keyword conflicts with the modality
    (until 2026-12-06 it was called hepatobiliary)."""
    for agent in (None, "Primovist"):
        call = classify_phase({"series_description": desc, "modality": "CT", "contrast_bolus_agent": agent})
        assert call.phase == P.UNKNOWN and call.confidence == 0.0, call
        assert "on CT there is no hepatobiliary phase" in call.reason and "conflict" in call.reason
        assert "override its phase" in call.reason
    # the same keyword on MR is still hepatobiliary
    mr = classify_phase({"series_description": desc, "modality": "MR", "contrast_bolus_agent": None})
    assert mr.phase == P.HEPATOBILIARY


@pytest.mark.parametrize(("desc", "agent", "phase", "said"), [
    pytest.param("T1 VIBE 2.5 min", "Primovist", P.TRANSITIONAL, "'2.5 min'", id="decimal-point-transitional"),
    pytest.param("t1 vibe 2,5 min", "EOVIST", P.TRANSITIONAL, "'2,5 min'", id="decimal-comma-transitional"),
    pytest.param("T1 2 1/2 MIN", "Primovist", P.TRANSITIONAL, "'2 1/2 MIN'", id="half-transitional"),
    pytest.param("T1 9.5 min", "Primovist", P.DELAYED, "'9.5 min'", id="below-10-min-not-hbp"),
])
def test_a_delay_with_a_fraction_of_a_minute_is_read_whole(desc: str, agent: str, phase: Phase, said: str) -> None:
    """"2.5 min" was normalised to "2 5 MIN" and read as 5 min (delayed, not gadoxetate's
    transitional phase); "9.5 min" as 5 min too."""
    call = phase_from_description(desc, modality="MR", agent=agent)
    assert call is not None and call.phase == phase, call
    assert said in call.reason


@pytest.mark.parametrize("agent", ["Gadovist 1.0", "DOTAREM", "gadoterate meglumine", "ProHance"])
def test_a_hepatobiliary_keyword_with_an_extracellular_agent_is_delayed_naming_the_conflict(agent: str) -> None:
    """An extracellular agent has no hepatobiliary phase: "HBP" on such an MR was hepatobiliary."""
    call = classify_phase({"series_description": "T1 VIBE HBP", "modality": "MR", "contrast_bolus_agent": agent})
    assert call.phase == P.DELAYED, call
    assert f"ContrastBolusAgent {agent!r}" in call.reason and "extracellular" in call.reason and "conflict" in call.reason
    gadoxetate = phase_from_description("T1 VIBE HBP", modality="MR", agent="Primovist")
    assert gadoxetate is not None and gadoxetate.phase == P.HEPATOBILIARY

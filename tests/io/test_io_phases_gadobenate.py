"""Gadobenate (MultiHance) has a hepatobiliary phase 1-3 h after injection (LI-RADS v2018), and a
description may name any delay up to 4 h.

Until 2026-12-06 (eighth session) only gadoxetate had a hepatobiliary phase: a gadobenate series
90 min after injection was delayed by its timing, and a description naming a delay over 30 min
("45 MIN", "T1 90MIN") said nothing, so its phase fell to the series order or the image."""

from __future__ import annotations

import pytest

from hcc_imaging.io import classify_phase
from hcc_imaging.io._agents import hepatobiliary_agent
from hcc_imaging.io.phases import phase_from_description, phase_from_timing
from hcc_imaging.volume import Phase

P = Phase


@pytest.mark.parametrize(("agent", "kind"), [
    ("MultiHance", "gadobenate"), ("Gd-BOPTA", "gadobenate"), ("gadobenate dimeglumine", "gadobenate"),
    ("Primovist", "gadoxetate"), ("Gd-EOB-DTPA", "gadoxetate"), ("Dotarem", None), (None, None), ("", None),
])
def test_hepatobiliary_agents(agent: str | None, kind: str | None) -> None:
    assert hepatobiliary_agent(agent) == kind


@pytest.mark.parametrize(("delay_s", "agent", "phase"), [
    pytest.param(3599, "MultiHance", P.DELAYED, id="gadobenate-59.98min-delayed"),
    pytest.param(3600, "MultiHance", P.HEPATOBILIARY, id="gadobenate-60min-hbp"),
    pytest.param(5400, "MultiHance", P.HEPATOBILIARY, id="gadobenate-90min-hbp"),
    pytest.param(1200, "MultiHance", P.DELAYED, id="gadobenate-20min-delayed"),
    pytest.param(180, "MultiHance", P.DELAYED, id="gadobenate-3min-delayed-no-transitional"),
    pytest.param(180, "Primovist", P.TRANSITIONAL, id="gadoxetate-3min-transitional"),
    pytest.param(600, "Primovist", P.HEPATOBILIARY, id="gadoxetate-10min-hbp"),
    pytest.param(5400, "Dotarem", P.DELAYED, id="extracellular-90min-delayed"),
])
def test_timing(delay_s: float, agent: str, phase: Phase) -> None:
    assert phase_from_timing(delay_s, modality="MR", agent=agent).phase == phase
    assert phase_from_timing(delay_s, modality="CT", agent=agent).phase == P.DELAYED  # (CT: never hepatobiliary)


@pytest.mark.parametrize(("desc", "modality", "agent", "phase", "said"), [
    pytest.param("T1 VIBE 90MIN", "MR", "MultiHance", P.HEPATOBILIARY, "90MIN", id="gadobenate-90min-hbp"),
    pytest.param("T1 60 min", "MR", "MultiHance", P.HEPATOBILIARY, "60 min", id="gadobenate-60min-hbp"),
    pytest.param("T1 59.5 min", "MR", "MultiHance", P.DELAYED, "from 60 min after injection", id="gadobenate-59.5min"),
    pytest.param("T1 20MIN", "MR", "MultiHance", P.DELAYED, "is gadobenate", id="gadobenate-20min-delayed"),
    pytest.param("HBP", "MR", "MultiHance", P.HEPATOBILIARY, "HBP", id="gadobenate-hbp-keyword"),
    pytest.param("T1 45 MIN", "MR", "Primovist", P.HEPATOBILIARY, "45 MIN", id="gadoxetate-45min-hbp"),
    pytest.param("DELAYED 120 min", "MR", "Eovist", P.HEPATOBILIARY, "120 min", id="gadoxetate-120min-hbp"),
    pytest.param("T1 45 MIN", "MR", "Gadovist", P.DELAYED, "no hepatobiliary agent", id="extracellular-45min"),
    pytest.param("ABD 45 MIN", "CT", None, P.DELAYED, "on CT", id="ct-45min-delayed"),
    pytest.param("T1 240 MIN", "MR", "MultiHance", P.HEPATOBILIARY, "240 MIN", id="gadobenate-240min-last"),
])
def test_a_description_delay(desc: str, modality: str, agent: str, phase: Phase, said: str) -> None:
    call = phase_from_description(desc, modality=modality, agent=agent)
    assert call is not None and call.phase == phase, call
    assert said in call.reason, call.reason


def test_a_long_delay_beyond_the_table_says_nothing() -> None:
    assert phase_from_description("T1 241 MIN", modality="MR", agent="MultiHance") is None


def test_the_exams_gadobenate_makes_an_untagged_series_hepatobiliary() -> None:
    """The agent is given once per exam: another series of the study names it."""
    study = [{"series_description": "T1 arterial", "modality": "MR", "contrast_bolus_agent": "MultiHance"},
             {"series_description": "T1 90 min", "modality": "MR", "contrast_bolus_agent": None}]
    assert classify_phase(study[1], study_series=study).phase == P.HEPATOBILIARY
    assert classify_phase(study[1]).phase == P.DELAYED  # (alone: no agent, no hepatobiliary phase)

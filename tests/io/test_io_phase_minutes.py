"""Delays in a series description (``io/_phase_minutes``): each form read, unrounded; anything else
that looks like a delay gives no number (None), not a wrong one.

Until 2026-12-06 only "N.N min" had its fraction read: "2.5 minutes", "180 s" and "2m30s" were no
delay, "2:30 min" was read as 30 min (hepatobiliary), "2.5.3 min" as 3 min, "-3 min" as 3 min, and
"30.5 min" was rounded down to 30, inside the table's 10-30 min hepatobiliary range.
"""

from __future__ import annotations

import pytest

from hcc_imaging.io._phase_minutes import delay_minutes, description_delays
from hcc_imaging.io.phases import phase_from_description
from hcc_imaging.volume import Phase

P = Phase


@pytest.mark.parametrize(("phrase", "minutes"), [
    *[pytest.param(f"2.5 {unit}", 2.5, id=f"minutes-{unit}") for unit in
      ("minutes", "minute", "mins", "min", "MIN", "Min", "m", "Minuten")],
    pytest.param("2.5m", 2.5, id="no-space"),
    pytest.param("5-min", 5.0, id="hyphen"),
    pytest.param("20 min", 20.0, id="whole"),
    pytest.param("2,5 min", 2.5, id="decimal-comma"),
    pytest.param("2.25 min", 2.25, id="two-decimals"),
    pytest.param("30.5 min", 30.5, id="not-rounded-down"),
    pytest.param("2 1/2 min", 2.5, id="half"),
    pytest.param("2½min", 2.5, id="half-sign"),
    pytest.param("2 3/4 min", 2.75, id="quarters"),
    pytest.param("2:30 min", 2.5, id="min-colon-sec"),
    pytest.param("2m30s", 2.5, id="m-and-s"),
    pytest.param("2 min 30 sec", 2.5, id="min-and-sec"),
    *[pytest.param(f"150 {unit}", 2.5, id=f"seconds-{unit}") for unit in ("seconds", "second", "secs", "sec", "s")],
    pytest.param("90s", 1.5, id="seconds-no-space"),
    pytest.param("1200 SEC", 20.0, id="seconds-upper"),
    pytest.param("45.5 s", 45.5 / 60, id="seconds-decimal"),
])
def test_each_form_is_read_unrounded(phrase: str, minutes: float) -> None:
    assert delay_minutes(phrase) == pytest.approx(minutes, abs=1e-12)


@pytest.mark.parametrize("phrase", [
    pytest.param("-3 min", id="negative"),
    pytest.param("\u22122.5 min", id="negative-unicode-minus"),
    pytest.param("2.5.3 min", id="two-points"),
    pytest.param("1,200 s", id="three-decimals-ambiguous"),
    pytest.param("3. min", id="point-no-decimals"),
    pytest.param("3/0 min", id="divide-by-zero"),
    pytest.param("5/4 min", id="improper-fraction"),
    pytest.param("2:75 min", id="colon-seconds-over-59"),
    pytest.param("1:30 s", id="colon-on-seconds"),
    pytest.param("2 min 75 s", id="seconds-over-59"),
    pytest.param("2.5 min 30 s", id="fraction-and-seconds"),
    pytest.param("min", id="no-number"),
    pytest.param("", id="empty"),
    pytest.param("3 mm", id="millimetres"),
    pytest.param("2 ms", id="milliseconds"),
    pytest.param("3 MINIMUM", id="word-after-unit"),
    pytest.param("5 ml/s", id="flow-rate"),
    pytest.param("800 s/mm2", id="b-value-unit"),
    pytest.param("B31s", id="kernel"),
    pytest.param("3 min garbage", id="trailing-text"),
])
def test_what_is_no_delay_gives_none(phrase: str) -> None:
    assert delay_minutes(phrase) is None


@pytest.mark.parametrize(("desc", "phase", "said"), [
    pytest.param("T1 VIBE 2.5 minutes", P.TRANSITIONAL, "'2.5 minutes'", id="minutes-word"),
    pytest.param("T1 VIBE 20 minutes", P.HEPATOBILIARY, "'20 minutes'", id="whole-minutes-word"),
    pytest.param("DELAY 180 s", P.TRANSITIONAL, "'180 s'", id="seconds"),
    pytest.param("T1 1200 sec", P.HEPATOBILIARY, "'1200 sec'", id="seconds-hbp"),
    pytest.param("T1 2m30s", P.TRANSITIONAL, "'2m30s'", id="m-and-s"),
    pytest.param("T1 2:30 min", P.TRANSITIONAL, "'2:30 min'", id="colon-not-30-min"),
    pytest.param("BH 15s VIBE 2.5 min", P.TRANSITIONAL, "'2.5 min'", id="second-delay-not-5-min"),
    pytest.param("T1 9.5 min", P.DELAYED, "'9.5 min'", id="below-10-min"),
    pytest.param("PV 70s", P.PORTAL_VENOUS, "'PV'", id="seconds-below-2-min-leave-the-keyword"),
])
def test_a_description_delay_gives_the_phase_of_its_exact_value(desc: str, phase: Phase, said: str) -> None:
    call = phase_from_description(desc, modality="MR", agent="Primovist")
    assert call is not None and call.phase == phase, call
    assert said in call.reason


@pytest.mark.parametrize("desc", ["T1 240.5 min", "T1 -3 min", "T1 2.5.3 min", "T1 1,200 s"])
def test_a_delay_beyond_the_table_or_garbled_names_no_phase(desc: str) -> None:
    """240.5 min is beyond the table's 10-240 min (as 241 min is; 10-30 min until 2026-12-06); a
    garbled delay is read as no delay, not as the minutes of its last digits."""
    assert phase_from_description(desc, modality="MR", agent="Primovist") is None
    assert phase_from_description("DELAYED " + desc, modality="MR", agent="Primovist").phase == P.DELAYED


def test_the_table_reads_whole_minutes_rounded_down_to_240_up_above() -> None:
    text, delays = description_delays("VIBE 9.5 min, 30.5 min, 240.5 min, 2.5 minutes, -3 min")
    assert [(d.minutes, d.phrase, d.table_minutes) for d in delays] == [
        (9.5, "9.5 min", 9), (30.5, "30.5 min", 30), (240.5, "240.5 min", 241), (2.5, "2.5 minutes", 2)]
    assert text.split() == ["VIBE", "9", "MIN", ",", "30", "MIN", ",", "241", "MIN", ",", "2", "MIN", ","]


@pytest.mark.parametrize(("phrase", "minutes"), [
    pytest.param("2H", 120.0, id="H-no-space"),
    pytest.param("2 h", 120.0, id="h"),
    pytest.param("1.5 h", 90.0, id="decimal-hours"),
    pytest.param("1,5h", 90.0, id="decimal-comma-hours"),
    pytest.param("1 hour", 60.0, id="hour"),
    pytest.param("2 hours", 120.0, id="hours"),
    pytest.param("3 hrs", 180.0, id="hrs"),
    pytest.param("2 HR", 120.0, id="HR"),
    pytest.param("½ h", 30.0, id="half-hour"),
    pytest.param("1:30 h", 90.0, id="hours-colon-minutes"),
    pytest.param("1h30", 90.0, id="h-and-bare-minutes"),
    pytest.param("1h30m", 90.0, id="h-and-m"),
    pytest.param("1 h 30 min", 90.0, id="h-and-min"),
])
def test_hours_are_read(phrase: str, minutes: float) -> None:
    """Since 2026-12-07 (before, "2H" was no delay and a gadobenate hepatobiliary series written in
    hours fell to the series order)."""
    assert delay_minutes(phrase) == pytest.approx(minutes, abs=1e-12)


@pytest.mark.parametrize("phrase", [
    pytest.param("1H MRS", id="proton-spectroscopy"),
    pytest.param("1H-MRSI", id="proton-spectroscopic-imaging"),
    pytest.param("1 H2O", id="water"),
    pytest.param("T2 H", id="after-a-letter"),
    pytest.param("2 HEAD", id="word"),
    pytest.param("15 Hz", id="hertz"),
    pytest.param("1 h 75 min", id="minutes-over-59"),
    pytest.param("1.5 h 30 min", id="fraction-and-minutes"),
    pytest.param("2 h/s", id="rate"),
])
def test_what_only_looks_like_hours_gives_none(phrase: str) -> None:
    assert delay_minutes(phrase) is None


@pytest.mark.parametrize(("desc", "agent", "phase", "said"), [
    pytest.param("T1 VIBE 2H", "MultiHance", P.HEPATOBILIARY, "'2H'", id="gadobenate-2h"),
    pytest.param("T1 VIBE 1h30", "MultiHance", P.HEPATOBILIARY, "'1h30'", id="gadobenate-1h30"),
    pytest.param("T1 VIBE 0.5 h", "MultiHance", P.DELAYED, "'0.5 h'", id="gadobenate-before-60-min"),
    pytest.param("T1 VIBE 1 hour", "Primovist", P.HEPATOBILIARY, "'1 hour'", id="gadoxetate"),
])
def test_a_delay_in_hours_gives_the_phase(desc: str, agent: str, phase: Phase, said: str) -> None:
    call = phase_from_description(desc, modality="MR", agent=agent)
    assert call is not None and call.phase == phase, call
    assert said in call.reason


def test_hours_beyond_the_table_and_a_nucleus_name_no_phase() -> None:
    assert phase_from_description("T1 VIBE 5 h", modality="MR", agent="MultiHance") is None  # 300 > 240 min
    assert phase_from_description("1H MRS LIVER", modality="MR", agent="MultiHance") is None

"""Delays after injection written in a series description, for
:func:`hcc_imaging.io.phases.phase_from_description`: "20 min", "2.5 minutes", "2,5 MIN", "2 1/2 min",
"2½min", "5-min", "3m", "2:30 min", "2m30s", "2 min 30 sec", "180 s", "150 seconds", "2H", "1 h 30 min".

Forms read (case ignored):

* units: minutes ``minutes``, ``minute``, ``mins``, ``min``, ``m`` (and ``minuten``, ``minutos``,
  ``minuti``); seconds ``seconds``, ``second``, ``secs``, ``sec``, ``s``; hours ``hours``, ``hour``,
  ``hrs``, ``hr``, ``h`` ("2H", "1.5 h", "1 hour", "1h30", "1 h 30 min"; since 2026-12-07: a
  gadobenate hepatobiliary phase is often written in hours), but not a nucleus ("1H MRS", "1H-MRSI":
  proton spectroscopy) nor "1 H2O".  The unit follows the
  number, with or without a space or a hyphen ("5-min"), and no letter follows the unit ("3 mm",
  "2 ms", "3 MINIMUM" are no delays), nor a "/" (a rate: "800 s/mm²", "5 ml/s").
* numbers: whole ("20"), decimal with a point or a comma and one or two decimals ("2.5", "2,5",
  "2.25"), a half, third or quarter ("2 1/2", "2½", "½", "2 3/4"), minutes and seconds ("2:30 min",
  "2m30s", "2 min 30 sec").  The number follows no letter or digit ("B31s", a reconstruction
  kernel, is no delay).

Anything else that looks like a delay is no delay and gives no number (None), rather than a wrong
one: a minus sign ("-3 min"), two decimal points ("2.5.3 min"), three decimals ("1,200 s": 1.2 or
1200?), seconds of 60 or more ("2:75 min", "2 min 75 s"), minutes of 60 or more after hours ("1 h 75 min").  The description's keyword table
(``_phase_keywords``) then does not see it either: it reads whole minutes on text in which every
non-alphanumeric run is a space, so "2.5 min" was "2 5 MIN", a delay of 5 min, until 2026-12-06,
and "2.5 minutes", "180 s" or "2:30 min" ("2 30 MIN": 30 min) were not read or read wrong.

**Rounding.**  The delay's exact value is kept (:attr:`Delay.minutes`, no rounding: "30.5 min" is
30.5, "150 s" 2.5) and decides where the phase depends on it (gadoxetate's transitional window of
the timing rule, 2 to < 5 min; gadobenate's hepatobiliary phase, from 60 min).  For the table's
whole-minute ranges (2-9 min delayed or transitional, 10-240 min hepatobiliary or delayed by the
agent; 10-30 min until 2026-12-06, eighth session) the description is written with the delay's whole
minutes (:attr:`Delay.table_minutes`): rounded down up to 240 min ("9.5 min" reads 9, below the
10 min of a hepatobiliary delay, as the timing rule says for 570 s), rounded up above ("240.5 min"
reads 241, beyond the table's last minute as "241 min" is: no delay it names).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._phase_keywords import HBP_DELAY_MAX_MIN

__all__ = ["Delay", "delay_minutes", "delay_read_as", "description_delays"]

_LETTER = r"[^\W\d_]"
_MIN_UNIT = r"MINUTES|MINUTEN|MINUTOS|MINUTI|MINUTE|MINS|MIN|M"
_SEC_UNIT = r"SECONDS|SECOND|SECS|SEC|S"
_HOUR_UNIT = r"HOURS|HOUR|HRS|HR|H"
_UNIT_END = rf"(?!{_LETTER}|\s*/)"
#: After an hour unit: a proton spectroscopy series ("1H MRS", "1H-MRSI") names a nucleus, not a delay.
_NOT_NUCLEUS = r"(?!\s*-?\s*(?:MRS|MRSI|SPECT|CSI|NMR))"
_NUMBER = r"(?:\d[\d.,:/½]*|½)(?:\s+\d+\s*/\s*\d+|\s*½)?"

#: A phrase that looks like a delay (its number is checked by :func:`_number`): no letter, digit or
#: decimal mark before it; a minus sign only right before the digits ("-3 min"; "ART - 3 min" and
#: "DELAYED-3MIN" are 3 min).
_PHRASE = re.compile(
    rf"(?<![^\W_])(?<![.,:/½])(?P<sign>[-\u2212](?=\d))?(?P<num>{_NUMBER})\s*-?\s*"
    rf"(?:(?P<min>{_MIN_UNIT}){_UNIT_END}(?:\s*(?P<sec>\d[\d.,]*)\s*(?:{_SEC_UNIT}){_UNIT_END})?"
    rf"|(?P<s>{_SEC_UNIT}){_UNIT_END}"
    rf"|(?P<h>{_HOUR_UNIT}){_UNIT_END}{_NOT_NUCLEUS}"
    rf"(?:\s*(?P<hmin>\d{{1,2}})\s*(?:{_MIN_UNIT}){_UNIT_END}|(?P<hmin_bare>\d{{1,2}})(?![\d.,:/]){_UNIT_END}|(?!\d)))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Delay:
    """A delay named in a description: its exact ``minutes``, the ``phrase`` as written, and the
    whole minutes the keyword table reads (``table_minutes``; see the module's rounding)."""

    minutes: float
    phrase: str
    table_minutes: int


def _decimal(text: str) -> float | None:
    m = re.fullmatch(r"(\d+)(?:[.,](\d{1,2}))?", text)
    return None if m is None else float(f"{m.group(1)}.{m.group(2) or 0}")


def _number(text: str, *, minutes: bool) -> float | None:
    """The value of a phrase's number, None when it is none of the forms read."""
    t = re.sub(r"\s+", " ", text.strip())
    value = _decimal(t)
    if value is not None:
        return value
    m = re.fullmatch(r"(\d*) ?½", t)
    if m:
        return int(m.group(1) or 0) + 0.5
    m = re.fullmatch(r"(?:(\d+) )?(\d) ?/ ?([234])", t)
    if m and 0 < int(m.group(2)) < int(m.group(3)):
        return int(m.group(1) or 0) + int(m.group(2)) / int(m.group(3))
    m = re.fullmatch(r"(\d+):([0-5]\d)", t)
    if m and minutes:
        return int(m.group(1)) + int(m.group(2)) / 60.0
    return None


def _minutes_of(m: re.Match[str]) -> float | None:
    if m.group("sign"):
        return None  # a delay after injection is not negative
    if m.group("s"):
        value = _number(m.group("num"), minutes=False)
        return None if value is None else value / 60.0
    if m.group("h"):
        hours = _number(m.group("num"), minutes=True)  # "1:30 h" is an hour and a half
        extra = m.group("hmin") or m.group("hmin_bare")
        if hours is None or extra is None:
            return None if hours is None else hours * 60.0
        if hours != int(hours) or ":" in m.group("num") or int(extra) >= 60:
            return None  # "1.5 h 30 min", "1:30 h 10 min", "1 h 75 min"
        return hours * 60.0 + int(extra)
    value = _number(m.group("num"), minutes=True)
    if value is None or m.group("sec") is None:
        return value
    seconds = _decimal(m.group("sec"))
    if value != int(value) or ":" in m.group("num") or seconds is None or seconds >= 60:
        return None  # "2.5 min 30 s", "2:30 min 10 s", "2 min 75 s"
    return value + seconds / 60.0


def _table_minutes(minutes: float) -> int:
    return math.floor(minutes) if minutes <= HBP_DELAY_MAX_MIN else math.ceil(minutes)


def delay_minutes(phrase: str) -> float | None:
    """The delay in minutes that ``phrase`` (the whole of it) names, unrounded; None when it names
    none, or names one in no form read (a minus sign, "2.5.3 min", "1,200 s", "2:75 min").

    >>> delay_minutes("2.5 minutes"), delay_minutes("30.5 min"), delay_minutes("150 s")
    (2.5, 30.5, 2.5)
    >>> delay_minutes("-3 min") is None, delay_minutes("3 mm") is None
    (True, True)
    """
    m = _PHRASE.fullmatch(phrase.strip())
    return None if m is None else _minutes_of(m)


def description_delays(text: str) -> tuple[str, tuple[Delay, ...]]:
    """``text`` with each delay it names written as its whole minutes for the keyword table
    (" 3 MIN "), and a delay phrase in no form read left out (so the table does not read a wrong
    number from its digits); and the delays, in order."""
    parts: list[str] = []
    delays: list[Delay] = []
    at = 0
    for m in _PHRASE.finditer(text):
        parts.append(text[at:m.start()])
        minutes = _minutes_of(m)
        if minutes is None:
            parts.append(" ")
        else:
            delay = Delay(minutes, m.group(0).strip(), _table_minutes(minutes))
            delays.append(delay)
            parts.append(f" {delay.table_minutes} MIN ")
        at = m.end()
    parts.append(text[at:])
    return "".join(parts), tuple(delays)


def delay_read_as(delays: Sequence[Delay], word: str) -> Delay | None:
    """The delay the keyword table's ``word`` ("3 MIN", "20MIN") was written from, None when none."""
    m = re.match(r"\s*(\d+)", word)
    if m is None:
        return None
    return next((d for d in delays if d.table_minutes == int(m.group(1))), None)

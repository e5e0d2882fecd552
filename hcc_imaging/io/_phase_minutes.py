"""A delay in minutes with a fraction in a series description ("2.5 min", "2,5 MIN", "2 1/2 min",
"2½min"), for :func:`hcc_imaging.io.phases.phase_from_description`.

The keyword table (``_phase_keywords``) reads whole minutes on the normalised text, where every
non-alphanumeric run is a space: "2.5 min" became "2 5 MIN", read as a delay of 5 min (until
2026-12-06).  Here such a delay is written as its whole minutes, rounded down ("2 min": the table's
ranges are whole minutes, 2-9 and 10-30, so 9.5 min stays below the 10 min of a hepatobiliary
delay), and its exact value is returned for the transitional window (seconds) and the reason."""

from __future__ import annotations

import math
import re

__all__ = ["fractional_delay"]

_FRACTION = re.compile(
    r"(?<![0-9.,/])(\d{1,2})(?:\s*[.,]\s*(\d{1,2})|\s+1\s*/\s*2|\s*½)\s*(MIN(?![A-Z]))", re.IGNORECASE)


def fractional_delay(text: str) -> tuple[str, float | None, str | None]:
    """``text`` with its first delay in fractional minutes written as whole minutes, the delay (min)
    and the phrase as written; ``(text, None, None)`` when it names none."""
    m = _FRACTION.search(text)
    if m is None:
        return text, None, None
    whole, decimals = m.group(1), m.group(2)
    minutes = float(f"{whole}.{decimals}") if decimals is not None else int(whole) + 0.5
    phrase = m.group(0).strip()
    return f"{text[:m.start()]}{math.floor(minutes)} {m.group(3)}{text[m.end():]}", minutes, phrase

"""Contrast agents: which series can have a hepatobiliary phase.

A hepatobiliary phase (hepatocyte uptake, ~20 min after injection; LI-RADS v2018 accepts >= 10 min)
exists only with a hepatobiliary MR agent: gadoxetate (Gd-EOB-DTPA; Primovist, Eovist).  On CT, or
on MR with an extracellular agent (or no agent named in ContrastBolusAgent), a series 10-30 min after
injection is a delayed one.  With gadoxetate the phase ~2-5 min after injection is the
transitional one (LI-RADS v2018), the timing rule's window (``TRANSITIONAL_MAX_S``); a description
naming such a delay ("3 MIN", "DELAYED 3 MIN") says transitional too (:func:`transitional_minutes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import _constants as C

__all__ = ["exam_agent", "extracellular_agent", "is_gadoxetate", "no_hepatobiliary_phase_because", "no_hepatobiliary_phase_on",
           "study_gadoxetate_agent", "transitional_minutes"]

_GADOXETATE = re.compile(r"EOB|PRIMOVIST|GADOXET|GD ?EOB|EOVIST", re.IGNORECASE)


#: Extracellular MR agents (no hepatocyte uptake, so no hepatobiliary phase), by generic and brand
#: names.  Gadobenate (MultiHance) is left out: ~3-5 % is taken up by hepatocytes (a late
#: hepatobiliary phase at 1-2 h is described).
_EXTRACELLULAR = {
    "gadobutrol": r"GADOBUTROL|GADAVIST|GADOVIST",
    "gadoterate": r"GADOTER(ATE|IC)|DOTAREM|CLARISCAN|ARTIREM|GD ?-?DOTA",
    "gadoteridol": r"GADOTERIDOL|PROHANCE",
    "gadopentetate": r"GADOPENTET|MAGNEVIST|GD ?-?DTPA(?! ?-?EOB)",
    "gadodiamide": r"GADODIAMIDE|OMNISCAN",
    "gadoversetamide": r"GADOVERSETAMIDE|OPTIMARK",
    "gadopiclenol": r"GADOPICLENOL|ELUCIREM|VUEWAY",
}
_EXTRACELLULAR_RX = {name: re.compile(rx, re.IGNORECASE) for name, rx in _EXTRACELLULAR.items()}


def extracellular_agent(agent: str | None) -> str | None:
    """The generic name of the extracellular MR agent a ContrastBolusAgent value names (gadobutrol,
    gadoterate ...), else None (gadoxetate, gadobenate, an unknown agent, none)."""
    if not agent or is_gadoxetate(agent):
        return None
    return next((name for name, rx in _EXTRACELLULAR_RX.items() if rx.search(agent)), None)


def is_gadoxetate(agent: str | None) -> bool:
    """True when a ContrastBolusAgent value names gadoxetate (EOB, Primovist, Eovist, gadoxetate)."""
    return bool(agent and _GADOXETATE.search(agent))


def no_hepatobiliary_phase_because(modality: str | None, agent: str | None) -> str | None:
    """None when a series of this modality and agent can be hepatobiliary (gadoxetate, not CT);
    else why not, for a phase call's reason."""
    on_ct = no_hepatobiliary_phase_on(modality)
    if on_ct:
        return on_ct
    if not is_gadoxetate(agent):
        named = f"ContrastBolusAgent {agent.strip()!r}" if agent and agent.strip() else "no ContrastBolusAgent"
        return (f"{named} names no hepatobiliary agent (gadoxetate: EOB, Primovist, Eovist), and without one "
                "there is no hepatobiliary phase")
    return None


def no_hepatobiliary_phase_on(modality: str | None) -> str | None:
    """Why a series of this modality has no hepatobiliary phase whatever its agent (CT), else None."""
    if str(modality or "").strip().upper() == "CT":
        return "on CT there is no hepatobiliary phase (it needs a hepatobiliary MR agent, gadoxetate)"
    return None


def transitional_minutes(minutes: float, modality: str | None, agent: str | None) -> bool:
    """Whether a delay of ``minutes`` after injection named in a description is gadoxetate's transitional
    phase: MR (not CT) with gadoxetate, and the delay within the timing rule's transitional window
    (``PORTAL_VENOUS_MAX_S`` <= delay < ``TRANSITIONAL_MAX_S``: 2, 3 or 4 min)."""
    return (no_hepatobiliary_phase_because(modality, agent) is None
            and C.PORTAL_VENOUS_MAX_S <= minutes * 60.0 < C.TRANSITIONAL_MAX_S)


def study_gadoxetate_agent(modality: str | None, study_series: Iterable[Any]) -> str | None:
    """The first ContrastBolusAgent naming gadoxetate among the series of the study of this modality
    (the agent is given once per exam; a series may lack the tag), else None."""
    for s in study_series:
        mod = s.get("modality") if isinstance(s, dict) else getattr(s, "modality", None)
        agent = s.get("contrast_bolus_agent") if isinstance(s, dict) else getattr(s, "contrast_bolus_agent", None)
        if str(mod or "") == str(modality or "") and is_gadoxetate(agent):
            return str(agent)
    return None


def exam_agent(modality: str | None, agent: str | None, study_series: Iterable[Any] = ()) -> str | None:
    """The agent that decides whether a series can be hepatobiliary: its own ContrastBolusAgent when it
    names gadoxetate, else the gadoxetate another series of the study (same modality) names, else its own."""
    if is_gadoxetate(agent):
        return agent
    return study_gadoxetate_agent(modality, study_series) or agent

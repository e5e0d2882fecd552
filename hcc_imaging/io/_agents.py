"""Contrast agents: which series can have a hepatobiliary phase.

A hepatobiliary phase (hepatocyte uptake) exists only with a hepatobiliary MR agent: gadoxetate
(Gd-EOB-DTPA; Primovist, Eovist), from ~10 min after injection (LI-RADS v2018: typically 20 min;
``HEPATOBILIARY_MIN_S``), or gadobenate (Gd-BOPTA; MultiHance), from ~1 h (LI-RADS v2018: 1-3 h;
``HEPATOBILIARY_GADOBENATE_MIN_S``; a gadobenate series before it is delayed).  On CT, or on MR with
an extracellular agent (or no agent named in ContrastBolusAgent), a series 10 min or more after
injection is a delayed one.  With gadoxetate the phase ~2-5 min after injection is the
transitional one (LI-RADS v2018), the timing rule's window (``TRANSITIONAL_MAX_S``); a description
naming such a delay ("3 MIN", "DELAYED 3 MIN") says transitional too (:func:`transitional_minutes`).
Gadobenate's dynamic phases are those of an extracellular agent: no transitional phase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import _constants as C

__all__ = ["exam_agent", "extracellular_agent", "hepatobiliary_agent", "hepatobiliary_min_s", "is_gadobenate",
           "is_gadoxetate", "no_hepatobiliary_phase_because", "no_hepatobiliary_phase_on", "study_hepatobiliary_agent",
           "too_early_for_hepatobiliary", "transitional_minutes"]

_GADOXETATE = re.compile(r"EOB|PRIMOVIST|GADOXET|GD ?EOB|EOVIST", re.IGNORECASE)
_GADOBENATE = re.compile(r"GADOBENAT|MULTI ?-?HANCE|BOPTA", re.IGNORECASE)
_HBP_AGENTS = "gadoxetate: EOB, Primovist, Eovist; gadobenate: MultiHance, Gd-BOPTA"


#: Extracellular MR agents (no hepatocyte uptake, so no hepatobiliary phase), by generic and brand
#: names.  Gadobenate (MultiHance) is not one: ~3-5 % is taken up by hepatocytes (a hepatobiliary
#: phase at 1-3 h, :data:`~hcc_imaging.io._constants.HEPATOBILIARY_GADOBENATE_MIN_S`).
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
    if not agent or hepatobiliary_agent(agent):
        return None
    return next((name for name, rx in _EXTRACELLULAR_RX.items() if rx.search(agent)), None)


def is_gadoxetate(agent: str | None) -> bool:
    """True when a ContrastBolusAgent value names gadoxetate (EOB, Primovist, Eovist, gadoxetate)."""
    return bool(agent and _GADOXETATE.search(agent))


def is_gadobenate(agent: str | None) -> bool:
    """True when a ContrastBolusAgent value names gadobenate (MultiHance, Gd-BOPTA, gadobenate)."""
    return bool(agent and _GADOBENATE.search(agent)) and not is_gadoxetate(agent)


def hepatobiliary_agent(agent: str | None) -> str | None:
    """``"gadoxetate"`` or ``"gadobenate"`` when a ContrastBolusAgent value names a hepatobiliary MR
    agent, else None."""
    return "gadoxetate" if is_gadoxetate(agent) else ("gadobenate" if is_gadobenate(agent) else None)


def hepatobiliary_min_s(modality: str | None, agent: str | None) -> float | None:
    """The delay after injection (s) from which a series of this modality and agent is hepatobiliary
    (gadoxetate ``HEPATOBILIARY_MIN_S``, gadobenate ``HEPATOBILIARY_GADOBENATE_MIN_S``), None when it
    can never be (CT, an extracellular agent, none named)."""
    if no_hepatobiliary_phase_on(modality):
        return None
    kind = hepatobiliary_agent(agent)
    return None if kind is None else (C.HEPATOBILIARY_MIN_S if kind == "gadoxetate" else C.HEPATOBILIARY_GADOBENATE_MIN_S)


def no_hepatobiliary_phase_because(modality: str | None, agent: str | None) -> str | None:
    """None when a series of this modality and agent can be hepatobiliary (gadoxetate or
    gadobenate, not CT); else why not, for a phase call's reason."""
    on_ct = no_hepatobiliary_phase_on(modality)
    if on_ct:
        return on_ct
    if hepatobiliary_agent(agent) is None:
        named = f"ContrastBolusAgent {agent.strip()!r}" if agent and agent.strip() else "no ContrastBolusAgent"
        return (f"{named} names no hepatobiliary agent ({_HBP_AGENTS}), and without one "
                "there is no hepatobiliary phase")
    return None


def too_early_for_hepatobiliary(minutes: float, modality: str | None, agent: str | None) -> str | None:
    """Why a delay of ``minutes`` is no hepatobiliary phase though the agent has one (gadobenate
    before ~1 h), else None."""
    least = hepatobiliary_min_s(modality, agent)
    if least is None or minutes * 60.0 >= least:
        return None
    return (f"ContrastBolusAgent {str(agent).strip()!r} is {hepatobiliary_agent(agent)}, whose hepatobiliary phase "
            f"comes from {least / 60.0:g} min after injection (LI-RADS v2018: gadobenate 1-3 h); "
            f"{minutes:g} min is before it")


def no_hepatobiliary_phase_on(modality: str | None) -> str | None:
    """Why a series of this modality has no hepatobiliary phase whatever its agent (CT), else None."""
    if str(modality or "").strip().upper() == "CT":
        return "on CT there is no hepatobiliary phase (it needs a hepatobiliary MR agent, gadoxetate or gadobenate)"
    return None


def transitional_minutes(minutes: float, modality: str | None, agent: str | None) -> bool:
    """Whether a delay of ``minutes`` after injection named in a description is gadoxetate's transitional
    phase: MR (not CT) with gadoxetate, and the delay within the timing rule's transitional window
    (``PORTAL_VENOUS_MAX_S`` <= delay < ``TRANSITIONAL_MAX_S``: 2, 3 or 4 min)."""
    return (is_gadoxetate(agent) and no_hepatobiliary_phase_on(modality) is None
            and C.PORTAL_VENOUS_MAX_S <= minutes * 60.0 < C.TRANSITIONAL_MAX_S)


def study_hepatobiliary_agent(modality: str | None, study_series: Iterable[Any]) -> str | None:
    """The first ContrastBolusAgent naming a hepatobiliary agent (gadoxetate, gadobenate) among the
    series of the study of this modality (the agent is given once per exam; a series may lack the
    tag), else None."""
    for s in study_series:
        mod = s.get("modality") if isinstance(s, dict) else getattr(s, "modality", None)
        agent = s.get("contrast_bolus_agent") if isinstance(s, dict) else getattr(s, "contrast_bolus_agent", None)
        if str(mod or "") == str(modality or "") and hepatobiliary_agent(agent):
            return str(agent)
    return None


def exam_agent(modality: str | None, agent: str | None, study_series: Iterable[Any] = ()) -> str | None:
    """The agent that decides whether a series can be hepatobiliary: its own ContrastBolusAgent when it
    names a hepatobiliary agent, else the one another series of the study (same modality) names, else its own."""
    if hepatobiliary_agent(agent):
        return agent
    return study_hepatobiliary_agent(modality, study_series) or agent

"""Trial endpoints from response results (criteria.md §10; RECIST 1.1 sec. 4.4–4.5, FDA 2018).

Per patient: :func:`pfs` and :func:`ttp` (event flag and day, censoring at the last adequate
assessment), :func:`dor` (from the first CR/PR counting toward the BOR to PD; confirmation
and death as an event are parameters).
Per cohort: :func:`cohort_endpoints` (ORR, DCR with counts and exact fractions; NE and missing
patients stay in the denominator).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.document import ReadDocument
from hcc_imaging.response.results import CriterionResult

__all__ = ["EventTime", "pfs", "ttp", "dor", "endpoints_json", "CohortEndpoints", "cohort_endpoints",
           "BOR_LABELS"]

_ADEQUATE_EXCLUDED = {"NE", None}


@dataclass(frozen=True, slots=True)
class EventTime:
    """Time-to-event outcome: ``event`` True = event on ``day``; False = censored on ``day``.
    ``day`` counts from the start (``start_day``) and is never negative."""

    event: bool
    day: int | None
    kind: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "day": self.day, "kind": self.kind, "reason": self.reason}


def _last_adequate(result: CriterionResult, before: int | None = None) -> int | None:
    """The day of the last adequate (not NE) follow-up assessment (on or before ``before``);
    None when there is none (the baseline is not a follow-up)."""
    days = [t.day for t in result.timepoints[1:]
            if t.response not in _ADEQUATE_EXCLUDED and (before is None or t.day <= before)]
    return max(days) if days else None


def _censored(result: CriterionResult, start_day: int, why: str,
              before: int | None = None) -> EventTime:
    """Censored at the last adequate assessment, or at the start (day 0) when there is no
    adequate assessment after it (FDA 2018: no adequate post-baseline assessment → censored at
    randomisation): a time to event is never negative, even with the baseline scan before
    the start."""
    last = _last_adequate(result, before)
    if last is None or last < start_day:
        return EventTime(False, 0, "censored",
                         f"{why}: no adequate assessment after the start (day {start_day}): "
                         "censored at the start")
    return EventTime(False, last - start_day, "censored",
                     f"{why}: censored at the last adequate assessment (day {last})")


def pfs(doc: ReadDocument, result: CriterionResult, start_day: int = 0) -> EventTime:
    """PFS: first documented PD (back-dated per the result's ``pd_day``) or death from any
    cause, whichever is first; else censored at the last adequate (not NE) assessment, or at
    the start when no adequate assessment followed it.  Days are relative to ``start_day``
    (day 0 by default: start of treatment / randomisation, as the read document's days)."""
    pd, death = result.pd_day, doc.death_day
    if pd is not None and (death is None or pd <= death):
        return EventTime(True, pd - start_day, "progression", f"PD on day {pd}")
    if death is not None:
        return EventTime(True, death - start_day, "death", f"death on day {death} before any PD")
    return _censored(result, start_day, "no PD or death")


def ttp(doc: ReadDocument, result: CriterionResult, start_day: int = 0) -> EventTime:
    """TTP: as PFS, but death without PD is censored at the last adequate assessment (or at
    the start when no adequate assessment followed it)."""
    pd = result.pd_day
    death = doc.death_day
    if pd is not None and (death is None or pd <= death):
        return EventTime(True, pd - start_day, "progression", f"PD on day {pd}")
    why = ("death without PD is censored (TTP)" if death is not None else "no PD")
    return _censored(result, start_day, why, before=death)


def dor(doc: ReadDocument, result: CriterionResult, death_is_event: bool = False, *,
        confirmed: bool = True) -> EventTime | None:
    """Duration of response (RECIST 1.1 4.5, criteria.md §10): from the first time point
    meeting CR/PR that counts toward the BOR (not the confirmation date) to the first
    documented PD; None for non-responders.

    Parameters
    ----------
    doc : ReadDocument
        For the death day.
    result : CriterionResult
        The patient's result under one criterion.
    death_is_event : bool
        Count death as the end of response (many protocols, FDA); default False (RECIST 1.1 4.5).
    confirmed : bool
        True (default): the responders are those whose BOR **with confirmation** is CR/PR
        (Table 3), and the response starts at the first confirmed CR/PR; False: the BOR without
        confirmation (randomised trials where response is not the primary endpoint), from the
        first CR/PR.  Either way a CR/PR after the first PD (back-dated for a confirmed equivocal
        new lesion) starts nothing: a patient whose BOR is SD, PD or NE gets None.
    """
    first = (result.first_response_day_confirmed if confirmed
             else result.first_response_day_unconfirmed)
    if first is None:
        return None
    which = "confirmed" if confirmed else "unconfirmed"
    pd = result.pd_day
    if pd is not None and pd >= first:
        return EventTime(True, pd - first, "progression",
                         f"{which} response from day {first} to PD on day {pd}")
    death = doc.death_day
    if death_is_event and death is not None and death >= first:
        return EventTime(True, death - first, "death",
                         f"{which} response from day {first} to death on day {death} "
                         "(death_is_event)")
    last = _last_adequate(result)
    return EventTime(False, (first if last is None else last) - first, "censored",
                     f"{which} response from day {first}, ongoing at the last adequate "
                     f"assessment (day {last})")


def endpoints_json(doc: ReadDocument, result: CriterionResult) -> dict[str, Any] | None:
    """The patient's endpoints under one criterion, as ``assess --json`` gives them per
    criterion: ``pfs``, ``ttp``, ``dor`` (confirmed responders) and ``dor_unconfirmed``
    (each :meth:`EventTime.to_json`, ``dor*`` None for a non-responder), with the defaults
    (day 0 the start, death not an event of DOR).  None when the criterion was not assessed."""
    if result.not_assessed is not None:
        return None
    d, du = dor(doc, result), dor(doc, result, confirmed=False)
    return {"pfs": pfs(doc, result).to_json(), "ttp": ttp(doc, result).to_json(),
            "dor": None if d is None else d.to_json(),
            "dor_unconfirmed": None if du is None else du.to_json()}


@dataclass(frozen=True, slots=True)
class CohortEndpoints:
    """ORR and DCR of a cohort (exact fractions; counts)."""

    n: int
    n_responders: int
    n_disease_control: int
    orr: Fraction
    dcr: Fraction
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "n_responders": self.n_responders,
                "n_disease_control": self.n_disease_control, "orr": float(self.orr),
                "dcr": float(self.dcr), "counts": dict(self.counts)}


#: The BOR labels :func:`cohort_endpoints` counts (RECIST spelling and iRECIST's).
BOR_LABELS: tuple[str, ...] = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE",
                               "iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD")
_BOR_BY_KEY = {re.sub(r"[\s_/-]", "", lab.upper()): lab for lab in BOR_LABELS}


def _bor_label(value: Any, index: int) -> str | None:
    """The canonical spelling of one BOR, None for a missing one; CriteriaError otherwise."""
    if value is None:
        return None
    value = getattr(value, "value", value)  # Response members
    if not isinstance(value, str):
        raise CriteriaError(
            f"cohort_endpoints: the BOR of patient {index + 1} is {value!r} "
            f"({type(value).__name__}), not a response label. Fix: pass one label per patient "
            f"({', '.join(BOR_LABELS)}) or None for a missing BOR.")
    if value.strip().lower() in ("", "none", "null"):
        return None
    label = _BOR_BY_KEY.get(re.sub(r"[\s_/-]", "", value.upper()))
    if label is None:
        raise CriteriaError(
            f"cohort_endpoints: the BOR of patient {index + 1}, {value!r}, is not a response "
            f"label; expected one of {', '.join(BOR_LABELS)} (case, spaces, '_' and '-' are "
            "ignored) or None for a missing BOR. Fix: map the label to one of these.")
    return label


def cohort_endpoints(bors: Sequence[str | None]) -> CohortEndpoints:
    """ORR = (CR + PR) / n; DCR = (CR + PR + SD + NON-CR/NON-PD) / n, where the BORs already
    apply confirmation and the SD minimum as the protocol requires; NE and missing (None)
    stay in the denominator.

    Parameters
    ----------
    bors : sequence of str | None
        One BOR per patient: a label of :data:`BOR_LABELS` (iRECIST's iCR, iPR, iSD count as
        CR, PR, SD), spelt as the rest of the tool accepts (``"pr"``, ``" PR "``,
        ``"non_cr/non_pd"``: case, spaces, ``_`` and ``-`` are ignored), or None / ``""`` for a
        missing BOR.  ``counts`` uses the canonical spellings.

    Raises
    ------
    CriteriaError
        No patient; a plain string instead of a sequence (``"PRCR"`` would be read letter by
        letter); a label that is not a BOR (``"XYZ"``, a RECICL ``TE`` grade).
    """
    if isinstance(bors, (str, bytes)):
        raise CriteriaError(
            f"cohort_endpoints needs a sequence of BORs, one per patient, not the string "
            f"{bors!r} (it would be read letter by letter). Fix: pass e.g. ['PR', 'CR'].")
    if not bors:
        raise CriteriaError("cohort_endpoints needs at least one patient's BOR.")
    counts: dict[str, int] = {}
    for i, b in enumerate(bors):
        label = _bor_label(b, i)
        key = label if label is not None else "missing"
        counts[key] = counts.get(key, 0) + 1
    resp = sum(counts.get(k, 0) for k in ("CR", "PR", "iCR", "iPR"))
    dc = resp + sum(counts.get(k, 0) for k in ("SD", "NON-CR/NON-PD", "iSD", "NON-iCR/NON-iUPD"))
    n = len(bors)
    return CohortEndpoints(n, resp, dc, Fraction(resp, n), Fraction(dc, n), counts)

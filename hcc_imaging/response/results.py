"""Result records of the response engine (frozen) and their JSON shape.

JSON conventions: sums in the criterion's unit (``sum_unit``: mm for RECIST 1.1 / mRECIST /
iRECIST, mm² for WHO / EASL / RECICL); ``change_from_baseline`` and ``change_from_nadir``
are **fractions** (−0.3 = −30 %), ``null`` when undefined (the baseline, a reference sum of 0,
or an NE sum).  Response spellings: ``CR, PR, SD, PD, NE, NON-CR/NON-PD``; iRECIST ``iCR,
iPR, iSD, iUPD, iCPD, NE, NON-iCR/NON-iUPD``.  The baseline row has ``response: null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

__all__ = ["Response", "TimePointResult", "CriterionResult", "to_number"]


class Response(StrEnum):
    """Time-point / best overall response categories (RECIST spelling)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NON_CR_NON_PD = "NON-CR/NON-PD"


def to_number(value: Fraction | None) -> int | float | None:
    """Fraction → int when whole, else float (JSON); None stays None."""
    if value is None:
        return None
    if value.denominator == 1:
        return int(value)
    return float(value)


@dataclass(frozen=True, slots=True)
class TimePointResult:
    """Response of one time point under one criterion.

    ``sum`` is exact (Fraction) in the criterion's unit; ``None`` when not evaluable.
    ``extra`` holds criterion-specific details (RECICL ``te`` and per-nodule effects, iRECIST
    state) and is merged into the JSON object.
    """

    id: str
    day: int
    sum: Fraction | None
    change_from_baseline: Fraction | None
    change_from_nadir: Fraction | None
    target_response: str | None
    non_target_response: str | None
    new_lesions: bool
    response: str | None
    reasons: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "day": self.day,
            "sum": to_number(self.sum),
            "change_from_baseline": to_number(self.change_from_baseline),
            "change_from_nadir": to_number(self.change_from_nadir),
            "target_response": self.target_response,
            "non_target_response": self.non_target_response,
            "new_lesions": self.new_lesions,
            "response": self.response,
            "reasons": list(self.reasons),
        }
        out.update(dict(self.extra))
        return out


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """All time points of one read under one criterion, with best overall response.

    ``bor_unconfirmed``: best response up to PD without confirmation (RECIST 1.1 4.4.1).
    ``bor_confirmed``: CR/PR only when confirmed ≥ ``confirmation_min_days`` later (Table 3).
    ``pd_day``: day of the first documented progression (back-dated to the first sighting of
    a new lesion that was confirmed later; iRECIST: the iUPD day of a confirmed iCPD).
    ``checks``: measurability / target-selection findings (not fatal).
    ``first_response_day_unconfirmed`` / ``first_response_day_confirmed``: the day of the first
    CR/PR (iCR/iPR) that counts toward that BOR — where a duration of response starts (never
    after the first PD; with confirmation, the first confirmed one) —, None when that BOR is not
    CR/PR (:func:`hcc_imaging.response.bor.response_start_days`).
    ``not_assessed``: why the criterion could not be applied to this read (e.g. mRECIST without
    viable diameters at baseline); every follow-up is then NE.  None when it was applied.
    """

    criterion: str
    sum_unit: str
    timepoints: tuple[TimePointResult, ...]
    bor_unconfirmed: str
    bor_confirmed: str
    pd_day: int | None
    bor_reasons: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    first_response_day_unconfirmed: int | None = None
    first_response_day_confirmed: int | None = None
    not_assessed: str | None = None

    def timepoint(self, timepoint_id: str) -> TimePointResult:
        for t in self.timepoints:
            if t.id == timepoint_id:
                return t
        raise KeyError(timepoint_id)

    @property
    def responses(self) -> dict[str, str | None]:
        """``{time point id: response}`` (baseline None)."""
        return {t.id: t.response for t in self.timepoints}

    def to_json(self) -> dict[str, Any]:
        return {
            "sum_unit": self.sum_unit,
            "change_unit": "fraction",
            "timepoints": [t.to_json() for t in self.timepoints],
            "bor_unconfirmed": self.bor_unconfirmed,
            "bor_confirmed": self.bor_confirmed,
            "pd_day": self.pd_day,
            "bor_reasons": list(self.bor_reasons),
            "checks": list(self.checks),
            "parameters": dict(self.parameters),
            "not_assessed": self.not_assessed,
        }

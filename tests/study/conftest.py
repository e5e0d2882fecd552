"""Fixtures of the study-store tests: a fresh store and a small deterministic assessor.

The assessor stands in for :func:`hcc_imaging.response.assess` where a test needs known
responses (RECIST-like rule on the sum of target longest diameters: PR at <= -30 % from
baseline, PD at >= +20 % and >= +5 mm from nadir, else SD); it returns the response engine's
own :class:`~hcc_imaging.response.results.CriterionResult`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from hcc_imaging.response.results import CriterionResult, TimePointResult
from hcc_imaging.study import Store


def sum_assessor(doc: Any, criteria: str) -> CriterionResult:
    sums = []
    for t in doc.timepoints:
        total = Fraction(0)
        for les in t.lesions:
            if les.role.value == "target" and les.longest_diameter_mm is not None:
                total += Fraction(repr(les.longest_diameter_mm))
        sums.append(total)
    base = sums[0]
    nadir = base
    rows = []
    responses = []
    pd_day = None
    for i, (t, s) in enumerate(zip(doc.timepoints, sums)):
        if i == 0:
            rows.append(TimePointResult(t.id, t.day, s, None, None, None, None, False, None))
            continue
        if s - nadir >= max(nadir * Fraction(1, 5), Fraction(5)):
            r = "PD"
            pd_day = t.day if pd_day is None else pd_day
        elif s <= base * Fraction(7, 10):
            r = "PR" if s > 0 else "CR"
        else:
            r = "SD"
        nadir = min(nadir, s)
        responses.append(r)
        rows.append(TimePointResult(t.id, t.day, s, None, None, None, None, False, r))
    order = ["CR", "PR", "SD", "PD"]
    upto = []
    for r in responses:
        upto.append(r)
        if r == "PD":
            break
    bor = min(upto, key=order.index) if upto else "NE"
    return CriterionResult(criteria, "mm", tuple(rows), bor, bor, pd_day)


@pytest.fixture
def assessor() -> Any:
    return sum_assessor


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "study.sqlite")
    yield s
    s.close()


@pytest.fixture
def populated(store: Store) -> Store:
    """Two readers, one adjudicator, patient P001 with BL / FU1 / FU2."""
    store.add_reader("R1")
    store.add_reader("R2")
    store.add_reader("ADJ", "adjudicator")
    store.add_patient("P001")
    store.add_timepoint("P001", "BL", dt.date(2024, 1, 10))
    store.add_timepoint("P001", "FU1", dt.date(2024, 3, 10))
    store.add_timepoint("P001", "FU2", dt.date(2024, 5, 10))
    return store

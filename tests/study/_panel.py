"""A store with two readers (R1, R2), an adjudicator (ADJ) and patient P1 at BL, FU1, FU2 sixty days
apart: the set-up of the adjudication and re-import tests."""

from __future__ import annotations

import datetime as dt

from hcc_imaging.study import Store

TPS = ("BL", "FU1", "FU2")


def two_readers_and_adjudicator(store: Store) -> None:
    """Add R1, R2, ADJ and P1's three time points to ``store``."""
    for r in ("R1", "R2"):
        store.add_reader(r)
    store.add_reader("ADJ", role="adjudicator")
    store.add_patient("P1")
    for i, tp in enumerate(TPS):
        store.add_timepoint("P1", tp, dt.date(2024, 1, 1) + dt.timedelta(days=60 * i))

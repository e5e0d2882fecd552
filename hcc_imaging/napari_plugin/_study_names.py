"""Names of a patient's studies opened one after another (Qt-free; the dock's study browser uses it).

The reader names a study opened alone 'baseline' (it sees one study at a time).  When two studies
of a patient then share a name, the dock names them again by study date: ``baseline``, ``fu1``,
``fu2`` ... (:func:`plan_study_names`).  An open read's time points are part of that order:

* a time point the read holds nothing under yet (no measurement, mask or deletion; not saved in an
  autosave or the store: :meth:`._controller.ReadSession.timepoint_recorded`) is renamed with the
  others, so a study dated before the one a read was started on becomes its baseline;
* a time point the read holds something under keeps its name; when the date order would rename it
  (a study dated before a measured baseline), the studies dated before the read's first such time
  point are not attached to the read: their layers are named ``prior`` (``prior2`` ...) and the dock
  says why and what to do (:func:`prior_study_message`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["PRIOR", "ReadTimePoint", "StudyNames", "plan_study_names", "prior_study_message"]

#: Name of a study dated before a read's measured baseline (not attached to the read).
PRIOR = "prior"


@dataclass(frozen=True, slots=True)
class ReadTimePoint:
    """One time point of the open read: its name, study UID and date (ISO or DICOM), and whether
    the read holds something under its name."""

    timepoint_id: str
    study_instance_uid: str | None
    date: str | None
    recorded: bool


@dataclass(slots=True)
class StudyNames:
    """What :func:`plan_study_names` decided: the name of each open study (by study UID), the read's
    time points to rename (``{old: new}``) and the open studies left out of the read (their UIDs)."""

    names: dict[str | None, str] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    prior: list[str | None] = field(default_factory=list)


def _names() -> Iterator[str]:
    yield "baseline"
    n = 1
    while True:
        yield f"fu{n}"
        n += 1


def _day(date: str | None) -> str:
    """A date (``YYYYMMDD`` or ``YYYY-MM-DD``) as a sortable ``YYYYMMDD``; undated last."""
    d = (date or "").replace("-", "").strip()
    return d if len(d) == 8 and d.isdigit() else "99999999"


def plan_study_names(dates: Mapping[str | None, str | None], read: Sequence[ReadTimePoint] = ()) -> StudyNames:
    """Name the open studies of one patient (``dates``: study UID → study date) by date, with the
    open read's time points ``read`` (empty: no read of this patient).  See the module docstring."""
    known = {tp.study_instance_uid: tp for tp in read if tp.study_instance_uid}
    complete = all(tp.study_instance_uid and _day(tp.date) != "99999999" for tp in read)
    every = {uid: _day(d) for uid, d in dates.items()}
    for uid, tp in known.items():
        every.setdefault(uid, _day(tp.date))
    order = sorted(every, key=lambda uid: (every[uid], str(uid)))
    ideal = dict(zip(order, _names()))
    plan = StudyNames()
    if complete and all(ideal[uid] == tp.timepoint_id for uid, tp in known.items() if tp.recorded):
        plan.names = {uid: ideal[uid] for uid in dates}
        plan.renames = {tp.timepoint_id: ideal[uid] for uid, tp in known.items() if ideal[uid] != tp.timepoint_id}
        return plan
    # the read's time points keep their names; a study dated before its first recorded time point
    # is left out; the others take the free names in date order
    recorded = [_day(tp.date) for tp in read if tp.recorded]
    first = min(recorded) if recorded and "99999999" not in recorded else None  # (an undated one: no order)
    taken = {tp.timepoint_id for tp in read}
    free = (n for n in _names() if n not in taken)
    priors = (PRIOR if i == 1 else f"{PRIOR}{i}" for i in range(1, len(order) + 2))
    for uid in (u for u in order if u in dates):
        if uid in known:
            plan.names[uid] = known[uid].timepoint_id
        elif first is not None and every[uid] < first:
            plan.names[uid] = next(priors)
            plan.prior.append(uid)
        else:
            plan.names[uid] = next(free)
    return plan


def prior_study_message(date: str | None, read: Sequence[ReadTimePoint], n_measured: int, autosave: str) -> str:
    """What the dock says of a study left out of a read (dated before its recorded baseline)."""
    base = next((tp for tp in sorted(read, key=lambda tp: _day(tp.date)) if tp.recorded), None)
    what = (f"{n_measured} lesion measurement(s) are recorded there" if n_measured
            else "the read is saved under that name")
    return (
        f"the study of {date or 'an unknown date'} opened now is dated before this read's "
        f"{base.timepoint_id if base else 'baseline'!r} (the study of {base.date if base else 'unknown date'} the "
        f"read was started on), and {what}: a baseline must be the read's earliest study, so this study is not "
        f"attached to the read; its layers are named '{PRIOR} · <phase>' and are not measured. This read keeps the "
        "later study as its baseline (also when resumed), and the dock neither re-orders nor discards a measured "
        "read. To read the earlier study as the baseline, a new read is needed, started with both studies open: "
        "set this read aside first (its autosave " + autosave + ", its masks folder "
        + autosave.removesuffix(".json") + ".masks and your draft read in the study store)."
    )

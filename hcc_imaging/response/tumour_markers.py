"""Tumour markers in the RECIST 1.1 complete response.

RECIST 1.1 (Eisenhauer 2009, sec. 3.3 "Tumour markers"; non-target CR, sec. 4.3.2): markers
alone cannot assess response, but "if markers are initially above the upper normal limit, they
must normalise for a patient to be considered in complete response" (criteria.md §2.4).  So,
for a rule set with ``non_target_cr_requires_normal_markers`` (RECIST 1.1, and iRECIST on it),
all targets gone with markers not normal is no CR: PR (Table 1 row "CR / non-CR/non-PD"), with
or without non-target lesions; for non-target disease only, NON-CR/NON-PD.

Where the answer comes from, for one time point:

1. its ``tumour_markers_normal`` flag, when the reader recorded it (the flag wins over the
   draws: the reader may know more, e.g. a marker elevated for another reason);
2. else the read's ``markers`` draws: the markers above normal **initially** — at the latest
   draw on or before day 0 or the baseline scan, whichever is later — must be normal at the
   draw nearest the scan within :data:`MARKER_WINDOW_DAYS` (28) days before or after it (the
   earlier of two equally near).  Normal is the project's marker limits
   (:data:`hcc_imaging.response.clinical.MARKER_LIMITS_JAPAN`: AFP ≤ 10 ng/mL, AFP-L3 < 10 %,
   PIVKA-II < 40 mAU/mL; CEA and CA19-9 have no limit here and are not read).  Without a
   draw before treatment, with normal markers then, or without a draw in the window, the
   draws do not decide (no requirement: record ``tumour_markers_normal``).
"""

from __future__ import annotations

from hcc_imaging.response.clinical import MARKER_LIMITS_JAPAN, MarkerLimits, marker_normal
from hcc_imaging.response.document import MarkerValue, ReadDocument, TimePoint

__all__ = ["markers_normal_at", "MARKER_WINDOW_DAYS"]

_LABEL = {"afp": ("AFP", "afp_ng_ml", "ng/mL"), "afp_l3": ("AFP-L3", "afp_l3_pct", "%"),
          "pivka_ii": ("PIVKA-II", "pivka_ii_mau_ml", "mAU/mL")}


#: A marker draw stands for a scan up to this many days before or after it (the nearest draw
#: in the window, the earlier of two equally near).  RECIST 1.1 sets no window; 28 days is its
#: confirmation interval.  Without a draw in the window the draws do not decide that scan.
MARKER_WINDOW_DAYS: int = 28


def _nearest(draws: list[MarkerValue], key: str, day: int, window_days: int) -> MarkerValue | None:
    """The draw nearest ``day`` (within ``window_days``) that measured marker ``key``."""
    field = _LABEL[key][1]
    near = [m for m in draws if getattr(m, field) is not None
            and abs((m.day or 0) - day) <= window_days]
    return min(near, key=lambda m: (abs((m.day or 0) - day), m.day or 0), default=None)


def _latest(draws: list[MarkerValue], key: str, day: int) -> MarkerValue | None:
    """The latest draw on or before ``day`` that measured marker ``key``."""
    field = _LABEL[key][1]
    found = None
    for m in draws:  # sorted by day (ReadDocument)
        if (m.day or 0) > day:
            break
        if getattr(m, field) is not None:
            found = m
    return found


def markers_normal_at(
    doc: ReadDocument, tp: TimePoint, limits: MarkerLimits = MARKER_LIMITS_JAPAN,
    window_days: int = MARKER_WINDOW_DAYS,
) -> tuple[bool | None, str | None]:
    """Whether the tumour markers are normal at ``tp`` for a RECIST 1.1 CR: True / False, or
    None when nothing decides it (no requirement); with the reason when False."""
    if tp.tumour_markers_normal is not None:
        if tp.tumour_markers_normal:
            return True, None
        return False, f"tumour_markers_normal is false at {tp.id}"
    draws = list(doc.markers)
    if not draws:
        return None, None
    before = max(0, int(doc.baseline.day or 0))
    abnormal: list[str] = []
    elevated = 0
    for key, (name, field, unit) in _LABEL.items():
        first = _latest(draws, key, before)
        if first is None or marker_normal(first, limits)[key] is not False:
            continue  # not measured before treatment, or normal then: no requirement
        elevated += 1
        now = _nearest(draws, key, int(tp.day or 0), window_days)
        if now is not None and marker_normal(now, limits)[key] is False:
            abnormal.append(f"{name} {getattr(now, field):g} {unit} on day {now.day} (above normal "
                            f"on day {first.day}, before treatment)")
        elif now is None:
            elevated -= 1  # no draw near the scan: this marker does not decide
    if abnormal:
        return False, ("tumour markers above normal initially are not normal at "
                       f"{tp.id}: {', '.join(abnormal)}")
    return (True, None) if elevated else (None, None)

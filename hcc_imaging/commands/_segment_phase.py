"""``hcc-imaging segment --set-phase WHICH=PHASE``: the user states a series' contrast phase.

A series whose phase the tags do not tell (``unknown``: a NIfTI image, a series described "Body
3.0") could not be segmented with ``--viable-out`` (no arterial phase) nor chosen with ``--phase
arterial`` ("SERIES holds ['unknown']"), though the API's ``load_study(..., phase_overrides=)``
lets the user win (tester finding, issue 5, until 2026-12-06).  ``WHICH`` is a SeriesInstanceUID,
a series description (whole, case-insensitive) or the phase the series was called (``unknown``);
it must name exactly one series of SERIES.  DICOM series get ``phase_overrides`` (confidence 1.0,
reason "set by the user"); a NIfTI image (phase ``unknown``, no UID) takes the phase given for
``unknown`` or for its file name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _phase_values() -> list[str]:
    from ..volume import Phase

    return [ph.value for ph in Phase]


def parse_set_phase(values: Sequence[str] | None) -> list[tuple[str, Any]]:
    """``--set-phase`` values as (WHICH, Phase); a malformed one or an unknown phase is refused."""
    from ..volume import Phase
    from .segment import SegmentArgumentError

    out: list[tuple[str, Any]] = []
    for text in values or ():
        which, sep, phase = text.rpartition("=")
        if not sep or not which.strip() or not phase.strip():
            raise SegmentArgumentError(f"--set-phase {text}: give WHICH=PHASE, e.g. --set-phase unknown=arterial or "
                                       "--set-phase 1.2.840...=portal_venous (WHICH: a SeriesInstanceUID, a series "
                                       "description or the phase it was called).")
        try:
            out.append((which.strip(), Phase(phase.strip().lower())))
        except ValueError:
            raise SegmentArgumentError(f"--set-phase {text}: {phase.strip()!r} is not a phase; give one of "
                                       f"{', '.join(_phase_values())}.") from None
    return out


def series_overrides(pairs: Sequence[tuple[str, Any]], series: Sequence[Any], source: str) -> dict[str, Any]:
    """``load_study``'s ``phase_overrides`` (SeriesInstanceUID -> Phase) for ``pairs`` on the image
    ``series`` (``SeriesInfo``) of SERIES ``source``; WHICH naming no series, or several, is refused."""
    from .segment import SegmentArgumentError

    out: dict[str, Any] = {}
    images = [s for s in series if getattr(s, "is_image", True)]
    for which, phase in pairs:
        key = which.lower()
        hits = [s for s in images if s.series_instance_uid == which]
        hits = hits or [s for s in images if (s.series_description or "").strip().lower() == key]
        hits = hits or [s for s in images if str(s.phase.phase.value) == key]
        listing = "; ".join(f"{s.series_instance_uid} {s.series_description or '(no description)'!r} called "
                            f"{s.phase.phase.value}" for s in images)
        if not hits:
            raise SegmentArgumentError(f"--set-phase {which}={phase.value}: no series of SERIES {source} has that UID, "
                                       f"description or phase; its series: {listing}.")
        if len(hits) > 1:
            raise SegmentArgumentError(f"--set-phase {which}={phase.value}: {len(hits)} series of SERIES {source} match "
                                       f"({listing}); name one by its SeriesInstanceUID.")
        out[hits[0].series_instance_uid] = phase
    return out


def image_file_phase(pairs: Sequence[tuple[str, Any]], path: Any) -> Any:
    """The phase ``--set-phase`` gives a NIfTI image SERIES (WHICH ``unknown`` or its file name), None without one."""
    from .segment import SegmentArgumentError

    phase = None
    for which, ph in pairs:
        if which.lower() not in ("unknown", path.name.lower()):
            raise SegmentArgumentError(f"--set-phase {which}={ph.value}: SERIES {path} is one image file (phase unknown); "
                                       f"give --set-phase unknown={ph.value}.")
        phase = ph
    return phase

"""Split lesions: which lesion a fragment belongs to, and which fragments a time point leaves out.

A lesion that splits is recorded as fragments (``split_from``) whose sizes are summed into it
(RECIST 1.1 Appendix I; docs/read-document.md "Split and merged lesions").  A fragment recorded
at an earlier time point and left out of a later one is **not evaluated** there, as any lesion
left out is (docs/read-document.md ``status``): the lesion it belongs to is then not evaluated
either (a target: NE unless the measured ones prove PD, RECIST 1.1 sec. 4.3.5), never "gone".
A reader says a fragment has gone with ``status: absent`` (or ``merged_into`` the fragment or
lesion that carries the merged mass).
"""

from __future__ import annotations

from hcc_imaging.response.document import ReadDocument, TimePoint

__all__ = ["split_roots", "fragments_recorded_before", "missing_fragments"]


def split_roots(doc: ReadDocument) -> dict[str, str]:
    """Fragment id -> the id of the lesion it split from, first generation (fragments of
    fragments lead to the original lesion)."""
    parent: dict[str, str] = {}
    for tp in doc.timepoints:
        for les in tp.lesions:
            if les.split_from is not None:
                parent[les.lesion_id] = les.split_from

    def root(x: str) -> str:
        seen = set()
        while x in parent and x not in seen:
            seen.add(x)
            x = parent[x]
        return x

    return {k: root(k) for k in parent}


def fragments_recorded_before(
    doc: ReadDocument, roots: dict[str, str]
) -> dict[str, dict[str, tuple[tuple[str, str], ...]]]:
    """Per time point id: lesion id -> the (fragment id, time point id that first recorded it)
    of its fragments recorded at an **earlier** time point."""
    out: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}
    seen: dict[str, dict[str, str]] = {}
    for tp in doc.timepoints:
        out[tp.id] = {r: tuple(f.items()) for r, f in seen.items()}
        for les in tp.lesions:
            r = roots.get(les.lesion_id)
            if r is not None:
                seen.setdefault(r, {}).setdefault(les.lesion_id, tp.id)
    return out


def missing_fragments(
    lesion_id: str, tp: TimePoint, earlier: dict[str, dict[str, tuple[tuple[str, str], ...]]]
) -> tuple[list[str], str | None]:
    """The fragments of ``lesion_id`` recorded before ``tp`` that ``tp`` leaves out, and the
    reason to give (None when none is missing)."""
    gone = [(f, first) for f, first in earlier.get(tp.id, {}).get(lesion_id, ())
            if tp.lesion(f) is None]
    if not gone:
        return [], None
    which = ", ".join(f"{f} (recorded at {first})" for f, first in gone)
    return [f for f, _ in gone], (
        f"{lesion_id}: fragment(s) {which} not listed at {tp.id}: not evaluated, so "
        f"{lesion_id} is not evaluated (record status absent for a fragment that has gone, or "
        "merged_into for fragments that coalesced)")

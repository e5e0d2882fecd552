"""Storing a reader's confirmed tracking of a follow-up's lesions (what
:meth:`hcc_imaging.study.reads.ReaderSession.confirm_tracking` and ``study track --confirm`` do).

A confirmation is **idempotent per follow-up label**: a reader's links of one follow-up label at
one time point are the ones the last confirmation gave.  Confirming again (a re-run, a corrected
proposal) updates them in place:

* a link to the same lesion is kept (same link UID), its relation and scores updated;
* a link to another lesion replaces the earlier one (the row is updated: an audited change of
  its lesion), never added beside it; links of that label the confirmation no longer gives
  are deleted (audited);
* a new lesion (``relation='new'``) reuses the lesion an earlier confirmation created for that
  label instead of creating another one; a lesion an earlier confirmation created that no link
  uses any more, and that no read measures, is deleted (audited).

Labels a confirmation does not name keep their links.  Until 2026-12-06 every confirmation
added links and created a new lesion for each new label again (three runs: ``N1``,
``FU1-N1``, ``FU1-N1-2``, and every link three times).

A new lesion's organ is what is known of it: the organ its follow-up mask gives for the label
(``organs``: a ``labels.json``'s ``"organs"``, a SEG segment's anatomic region), else a label
whose name says it is a node (``"node"``, ``"lymph"`` in it) is a lymph node, else the liver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .._sites import mask_flags
from ..errors import StoreError
from .model import LesionRow, MeasurementRow, PatientRow, ReaderRow, TimePointRow, TrackingLinkRow, TrackingRelation
from .records import TrackingLinkInfo
from .store import _create_lesion, new_uid

if TYPE_CHECKING:
    from .reads import ReaderSession

__all__ = ["confirm_links", "new_lesion_site", "refuse_flagged"]

#: A follow-up label named like this is a lymph node when its mask gives no organ.
_NODE_NAME = re.compile(r"node|lymph", re.IGNORECASE)


def new_lesion_site(label: str, organ: str | None) -> tuple[str, bool, str | None]:
    """(organ, is_lymph_node, kind) of a new lesion tracking creates for follow-up ``label``:
    ``organ`` as its mask gives it (``"lymph_node"``: a node; ``"portal_vein"``: a tumour
    thrombus: :func:`hcc_imaging._sites.mask_flags`, the batch's rule), else a
    node when the label's name says so, else the liver."""
    organ = (organ or "").strip() or None
    if organ is None:
        return ("lymph_node", True, "lymph_node") if _NODE_NAME.search(label) else ("liver", False, None)
    flags = mask_flags(organ, None)
    return flags["organ"], bool(flags.get("is_lymph_node", False)), flags.get("kind")


def refuse_flagged(links: Sequence[Any], patient_id: str, timepoint_id: str) -> None:
    """Raise StoreError naming the assignments flagged ``needs_review`` (nothing stored)."""
    flagged = [a for a in links if getattr(a, "needs_review", False)]
    if not flagged:
        return
    shown = "; ".join(
        f"{a.followup_label} -> {a.baseline_label or a.tracking_uid or 'a new lesion'} ({a.relation})" for a in flagged)
    raise StoreError(
        f"nothing stored: {len(flagged)} tracking assignment(s) of patient {patient_id!r} at {timepoint_id!r} are flagged "
        f"needs_review (a complex group, or a lesion too small for the baseline grid): {shown}. Look at them on the "
        "images, correct them with study.correct_assignment (which clears the flag), or, when they are right as "
        "proposed, pass accept_flagged=True ('study track --confirm --accept-flagged').")


def free_lesion_id(s: Session, p: PatientRow, me: ReaderRow, wanted: str, timepoint_id: str) -> str:
    """``wanted``, else ``<timepoint>-<wanted>``, else with ``-2``, ``-3``... (not used by this reader)."""
    taken = set(s.scalars(select(LesionRow.lesion_id).where(
        LesionRow.patient_fk == p.id, (LesionRow.owner_reader_fk == me.id) | LesionRow.owner_reader_fk.is_(None))))
    for cand in (wanted, f"{timepoint_id}-{wanted}"):
        if cand not in taken:
            return cand
    k = 2
    while f"{timepoint_id}-{wanted}-{k}" in taken:
        k += 1
    return f"{timepoint_id}-{wanted}-{k}"


def _relation(a: Any, timepoint_id: str) -> TrackingRelation:
    try:
        relation = TrackingRelation(str(a.relation))
    except ValueError:
        raise StoreError(f"follow-up label {a.followup_label!r} at {timepoint_id!r}: relation {a.relation!r} is "
                         f"unknown; use one of {[r.value for r in TrackingRelation]}.") from None
    if a.tracking_uid is None and relation is not TrackingRelation.NEW:
        raise StoreError(f"follow-up label {a.followup_label!r} at {timepoint_id!r}: relation {relation.value} "
                         "needs the tracking UID it continues.")
    return relation


def confirm_links(sess: ReaderSession, s: Session, patient_id: str, timepoint_id: str, links: Sequence[Any],
                  organs: Mapping[str, str] | None) -> list[TrackingLinkInfo]:
    """The body of :meth:`ReaderSession.confirm_tracking`, in the caller's write transaction."""
    me = sess._me(s)
    p = sess.store._patient(s, patient_id)
    tp: TimePointRow = sess.store._timepoint(s, p, timepoint_id)
    groups: dict[str, list[tuple[Any, TrackingRelation]]] = {}
    for a in links:
        groups.setdefault(str(a.followup_label), []).append((a, _relation(a, timepoint_id)))
    out: list[TrackingLinkInfo] = []
    for label, group in groups.items():
        existing = list(s.scalars(select(TrackingLinkRow).where(
            TrackingLinkRow.timepoint_fk == tp.id, TrackingLinkRow.followup_label == label,
            TrackingLinkRow.owner_reader_fk == me.id).order_by(TrackingLinkRow.id)))
        made_new = {x.lesion_fk for x in existing if x.relation == TrackingRelation.NEW.value}
        wanted: list[tuple[Any, TrackingRelation, LesionRow]] = []
        for a, relation in group:
            if a.tracking_uid is None:
                les = next((row for row in (s.get(LesionRow, fk) for fk in sorted(made_new))
                            if row is not None and row.owner_reader_fk == me.id), None)
                if les is None:
                    organ, node, kind = new_lesion_site(label, (organs or {}).get(label))
                    info = _create_lesion(s, patient_id, free_lesion_id(s, p, me, str(a.lesion_id or label), timepoint_id),
                                          organ, node, kind, None, me)
                    s.flush()
                    les = s.scalars(select(LesionRow).where(LesionRow.tracking_uid == info.tracking_uid)).one()
            else:
                les = sess._visible_lesion(s, p, me, a.tracking_uid)
            if any(w[2].id == les.id for w in wanted):
                raise StoreError(f"follow-up label {label!r} at {timepoint_id!r} is linked to lesion {les.lesion_id!r} "
                                 f"({les.tracking_uid}) twice in one confirmation; give each link once.")
            wanted.append((a, relation, les))
        used: dict[int, TrackingLinkRow] = {}
        for i, (_, _, les) in enumerate(wanted):
            same = next((x for x in existing if x.lesion_fk == les.id and x not in used.values()), None)
            if same is not None:
                used[i] = same
        spare = [x for x in existing if x not in used.values()]
        dropped_lesions = {x.lesion_fk for x in spare if x.relation == TrackingRelation.NEW.value}
        changes: dict[int, str] = {}
        for i, (a, relation, les) in enumerate(wanted):
            link = used.get(i)
            if link is None and spare:
                link = spare.pop(0)
                changes[i] = "replaced"
                link.lesion_fk = les.id
            elif link is None:
                link = TrackingLinkRow(link_uid=new_uid(), lesion_fk=les.id, timepoint_fk=tp.id, followup_label=label,
                                       owner_reader_fk=me.id, relation=relation.value)
                s.add(link)
                changes[i] = "created"
            before = (link.relation, link.dice, link.centroid_distance_mm, link.confirmed)
            link.relation, link.dice, link.centroid_distance_mm, link.confirmed = (
                relation.value, a.dice, a.centroid_distance_mm, True)
            if i not in changes:
                changes[i] = "unchanged" if before == (link.relation, link.dice, link.centroid_distance_mm, True) else "updated"
            used[i] = link
        for x in spare:
            s.delete(x)
        s.flush()
        _drop_unused_lesions(s, me, dropped_lesions - {w[2].id for w in wanted})
        for i, (_, _, les) in enumerate(wanted):
            link = used[i]
            out.append(TrackingLinkInfo(link.link_uid, les.tracking_uid, timepoint_id, label, link.relation, link.dice,
                                        link.centroid_distance_mm, True, sess.user_id, changes[i]))
    return out


def _drop_unused_lesions(s: Session, me: ReaderRow, lesion_fks: set[int]) -> None:
    """Delete the reader's lesions an earlier confirmation created (``relation='new'``) that no
    tracking link and no measurement uses any more (a corrected proposal: the follow-up lesion
    was not new after all)."""
    for fk in sorted(lesion_fks):
        les = s.get(LesionRow, fk)
        if les is None or les.owner_reader_fk != me.id:
            continue
        if s.scalar(select(TrackingLinkRow.id).where(TrackingLinkRow.lesion_fk == fk).limit(1)) is not None:
            continue
        if s.scalar(select(MeasurementRow.id).where(MeasurementRow.lesion_fk == fk).limit(1)) is not None:
            continue
        s.delete(les)
    s.flush()

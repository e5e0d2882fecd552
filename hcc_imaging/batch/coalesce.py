"""Lesions that coalesce at a follow-up, as ``batch --carry`` records them.

A follow-up's own seeds (``"carry": true`` in its seeds file) are added to the lesions carried
to it (:func:`merge_seeded`); a lesion whose mask took in another lesion's mass gets the
:func:`also_holds` check (a reader records the coalescence), whether the lesion that took it was
carried (:func:`hcc_imaging.batch.lesions._carry_masks`) or seeded; two carried lesions whose
segmentations overlapped (the shared voxels split between them) each get :func:`shares_voxels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..volume import LabelVolume

__all__ = ["also_holds", "merge_seeded", "shares_voxels"]


def also_holds(lesion_id: str) -> str:
    """The check of a lesion whose mask took in ``lesion_id``'s mass at this time point."""
    return f"it also holds {lesion_id} at this time point (one mass): record the coalescence"


def shares_voxels(lesion_id: str) -> str:
    """The check of a carried lesion whose segmentation overlapped ``lesion_id``'s (both kept: the
    voxels both took split by distance, :attr:`hcc_imaging.segment.carry.CarriedLesions.shared`)."""
    return (f"its segmentation and {lesion_id}'s overlapped at this time point (the voxels both took were split "
            "between them, each to the nearer lesion): check both masks (touching or coalescing lesions?)")


def merge_seeded(carried: LabelVolume, carried_extra: Sequence[int], seeded: LabelVolume,
                 seeded_extra: Sequence[int], how: dict[str, Any],
                 ) -> tuple[LabelVolume, list[int], dict[str, tuple[str, ...]]]:
    """A follow-up's own seeds (``"carry": true``) added to the lesions carried to it: a seeded
    lesion with a carried lesion's id replaces it (the reader's click wins, also over a lesion not
    found there), the others (new lesions) take the next label values; a seeded voxel is the seed's.
    A carried lesion a seeded one leaves less than ``MIN_KEPT_FRACTION`` of its voxels is taken out
    (``how["not_carried"]``, "merged with ...": not_evaluable), never left as crumbs nor absent.

    Returns the merged lesions, their extrahepatic labels, and the carried lesions each seeded
    lesion took in so (seeded id -> carried ids): its measurement is the coalesced mass's, and it
    gets the :func:`also_holds` check a carried lesion gets (until 2026-12-06 a seeded lesion
    swallowing a carried one had none)."""
    from ..segment.carry import MIN_KEPT_FRACTION

    out = np.asarray(carried.array).astype(np.uint16)
    before = {lab: int(np.count_nonzero(out == lab)) for lab in carried.labels}
    names = dict(carried.labels)
    by_id = {lid: lab for lab, lid in names.items()}
    extra = list(carried_extra)
    nxt = max([*names, 0]) + 1
    s_arr = np.asarray(seeded.array)
    for lab_s, lid in sorted(seeded.labels.items()):
        if lid in by_id:
            lab = by_id[lid]
            out[out == lab] = 0
            extra = [e for e in extra if e != lab]
        else:
            lab, nxt = nxt, nxt + 1
        out[s_arr == lab_s] = lab
        names[lab] = lid
        how["not_carried"].pop(lid, None)
        if lab_s in seeded_extra:
            extra.append(lab)
    seeded_ids = set(seeded.labels.values())
    holds: dict[str, list[str]] = {}
    for lab, n in before.items():
        lid = carried.labels[lab]
        if lid in seeded_ids or n == 0:
            continue
        left = int(np.count_nonzero(out == lab))
        if left == n:
            continue
        where = np.asarray(carried.array) == lab
        takers = [names[t] for t in sorted({int(v) for v in np.unique(out[where])} - {0, lab})]
        who = ", ".join(takers)
        if left < MIN_KEPT_FRACTION * n:
            for t in takers:
                holds.setdefault(t, []).append(lid)
            out[out == lab] = 0
            del names[lab]
            extra = [e for e in extra if e != lab]
            how["not_carried"][lid] = (f"merged with {who} at this time point: {n - left} of the {n} voxels segmented "
                                       f"at its carried point are {who}'s (seeded; one mass); check and record the "
                                       "coalescence, or segment it by a click")
        else:
            how.setdefault("notes", []).append(f"{lid} and {who} took {n - left} of the same voxels at this time "
                                               f"point; they were given to {who} (seeded): check both masks")
    return LabelVolume.like(carried, out, labels=names), extra, {k: tuple(v) for k, v in holds.items()}

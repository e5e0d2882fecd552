"""A lesion's organ (and whether it is a lymph node) at the time points whose observation does not
state it.

The read document states ``organ`` and ``is_lymph_node`` per observation, with defaults
(``liver``, ``false``: docs/read-document.md); a read that states them only where the lesion is
first recorded - the bundled ``read_tace.json`` states N1 ``organ: lymph_node`` at baseline only -
would show the node as a liver lesion at its follow-ups.  The exports (tables, report, SR, SDTM)
give an observation that does not state them the lesion's own: the value its first observation
stating it gives, else the default (a lymph node's organ: ``lymph_node``).  The response engine
reads a target's kind from its baseline observation likewise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .model import LesionObservation

__all__ = ["carry_lesion_identity"]


def carry_lesion_identity(
    lesions: Sequence[LesionObservation], stated: Sequence[tuple[bool, bool]]
) -> list[LesionObservation]:
    """``lesions`` (in time order) with ``organ`` / ``is_lymph_node`` filled where the observation
    does not state them (``stated[i]`` = (organ stated, is_lymph_node stated) of ``lesions[i]``),
    from the lesion's first observation that states them."""
    organ: dict[str, str | None] = {}
    node: dict[str, bool] = {}
    for les, (has_organ, has_node) in zip(lesions, stated):
        if has_organ:
            organ.setdefault(les.lesion_id, les.organ)
        if has_node:
            node.setdefault(les.lesion_id, les.is_lymph_node)
    out = []
    for les, (has_organ, has_node) in zip(lesions, stated):
        is_node = les.is_lymph_node if has_node else node.get(les.lesion_id, les.is_lymph_node)
        org = les.organ if has_organ else organ.get(les.lesion_id, "lymph_node" if is_node else les.organ)
        out.append(les if (org, is_node) == (les.organ, les.is_lymph_node)
                   else replace(les, organ=org, is_lymph_node=is_node))
    return out

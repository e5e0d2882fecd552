"""What a lesion's masks say of its site: one rule for the batch's lesions and the study's tracking.

Dependency-free (no batch, no study), so both packages can call it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["mask_flags"]


def mask_flags(organ: str | None, kind: str | None) -> dict[str, Any]:
    """A lesion's read flags (``organ``, ``is_lymph_node``, ``kind``, as an annotation gives them)
    from what its masks say (a SEG's anatomic region and property type, a carried lesion's organ):
    what the read uses for a lesion the annotations do not describe (a PACS has none).  A lymph
    node is a node; a neoplasm in the portal vein is a tumour thrombus (``pvtt``)."""
    out: dict[str, Any] = {}
    if organ:
        out["organ"] = organ
        if organ == "lymph_node":
            out.update(is_lymph_node=True, kind="lymph_node")
        elif organ == "portal_vein" and not kind:
            out["kind"] = "pvtt"
    if kind:
        out["kind"] = kind
    return out

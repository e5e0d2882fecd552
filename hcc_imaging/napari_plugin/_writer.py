"""npe2 writers: lesion labels → DICOM SEG; the read (measurement lines layer) → DICOM SR / CSV.

The writers rebuild core objects from the layer's ``metadata["hcc_imaging"]`` (geometry, UIDs,
read document) and call :mod:`hcc_imaging.export`; a layer not made by hcc-imaging is refused
with an error naming the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import MissingGeometryError
from ._layers import METADATA_KEY, labels_from_layer

__all__ = ["write_seg", "write_sr", "write_csv"]


def _read_document(attributes: Mapping[str, Any], what: str) -> dict[str, Any]:
    md = dict(attributes.get("metadata", {})).get(METADATA_KEY, {})
    doc = md.get("read_document")
    if not doc:
        raise MissingGeometryError(
            f"{what} {attributes.get('name')!r} carries no hcc-imaging read, so there is nothing to export. "
            "Save the 'measurements' layer that the HCC response dock maintains (or use the dock's Export buttons)."
        )
    return dict(doc)


def write_seg(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write a labels layer as DICOM SEG (one segment per lesion label) referencing its source series."""
    from ._core import export_seg

    labels = labels_from_layer(data, attributes.get("metadata", {}), f"labels layer {attributes.get('name')!r}")
    return [str(export_seg(labels, Path(path)))]


def write_sr(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the read of a measurements (Shapes) layer as DICOM SR TID 1500."""
    from ._core import export_sr

    return [str(export_sr(_read_document(attributes, "shapes layer"), Path(path)))]


def write_csv(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the read of a measurements (Shapes) layer as the per-lesion-time-point CSV table."""
    from ._core import export_csv

    return [str(export_csv(_read_document(attributes, "shapes layer"), Path(path)))]

"""npe2 writers: lesion labels → DICOM SEG; the read (measurement lines layer) → DICOM SR / CSV.

The writers rebuild core objects from the layer's ``metadata["hcc_imaging"]`` (geometry, UIDs,
read document) and call :mod:`hcc_imaging.export`; a layer not made by hcc-imaging is refused
with an error naming the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingGeometryError
from ..volume import Volume
from ._layers import METADATA_KEY, geometry_from_metadata, labels_from_layer

__all__ = ["write_seg", "write_sr", "write_csv"]


def _ours(attributes: Mapping[str, Any], what: str) -> dict[str, Any]:
    md = dict(attributes.get("metadata", {}) or {}).get(METADATA_KEY)
    if not md:
        raise MissingGeometryError(
            f"{what} {attributes.get('name')!r} was not made by hcc-imaging (no metadata['hcc_imaging']), "
            "so its geometry and DICOM references are unknown. Save the layers the HCC response dock "
            "maintains (lesions · <time point>, measurements · <time point>), or use the dock's Export buttons."
        )
    return dict(md)


def _read_document(attributes: Mapping[str, Any], what: str) -> dict[str, Any]:
    md = _ours(attributes, what)
    doc = md.get("read_document")
    if not doc or not doc.get("timepoints"):
        raise MissingGeometryError(
            f"{what} {attributes.get('name')!r} carries no hcc-imaging read (no measurements yet), so there is "
            "nothing to export. Measure a lesion in the HCC response dock first."
        )
    return dict(doc)


def _source_volume(md: Mapping[str, Any], what: str) -> Volume:
    """The source image series of a labels layer (geometry + DICOM files; no pixel copy)."""
    geom = geometry_from_metadata({METADATA_KEY: md}, what)
    if not md.get("source_files"):
        raise MissingGeometryError(
            f"{what}: the image series it was drawn on has no DICOM files recorded, so a SEG cannot reference "
            "it. Open the series with the hcc-imaging reader (viewer.open(path, plugin='hcc-imaging'))."
        )
    return Volume(
        array=np.broadcast_to(np.int16(0), geom.shape),
        geometry=geom,
        frame_of_reference_uid=md.get("frame_of_reference_uid"),
        study_instance_uid=md.get("study_instance_uid"),
        series_instance_uid=md.get("source_series_instance_uid"),
        meta={"source_files": tuple(md["source_files"]), "sop_instance_uids": tuple(md.get("sop_instance_uids", ())),
              # a series shown with its axes in world order (_layers.for_display): the SEG maps it back
              **({"reoriented": {"axes": list(md["reoriented_axes"])}} if md.get("reoriented_axes") else {})},
    )


def write_seg(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write a lesions labels layer as DICOM SEG (one segment per lesion) over its source series."""
    from ._core import export_seg

    what = f"labels layer {attributes.get('name')!r}"
    md = _ours(attributes, what)
    labels = labels_from_layer(data, attributes.get("metadata", {}), what)
    tracking = {str(k): str(v) for k, v in dict(md.get("tracking_uids", {})).items()}
    return [str(export_seg(labels, _source_volume(md, what), Path(path), tracking_uids=tracking or None,
                           patient_id=md.get("patient_id")))]


def write_sr(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the read of a measurements (Shapes) layer as DICOM SR TID 1500 (with its responses)."""
    from ._core import export_sr

    doc = _read_document(attributes, "shapes layer")
    assessment = _ours(attributes, "shapes layer").get("assessment")
    return [str(export_sr(doc, Path(path), assessment=assessment))]


def write_csv(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write the read of a measurements (Shapes) layer as CSV: lesions at ``path``, responses beside it."""
    from ._core import export_csv

    doc = _read_document(attributes, "shapes layer")
    assessment = _ours(attributes, "shapes layer").get("assessment")
    return [str(p) for p in export_csv(doc, Path(path), assessment=assessment)]

"""Lesions whose mask reaches a face of the image: the scan may have cut them.

A mask that touches the image's first or last slice, row or column may belong to a lesion that
goes on beyond the scanned field; its diameters and volume are then those of the part inside the
image, smaller than the lesion.  ``hcc-imaging measure`` warns on them, and the batch lists them in
``lesions.csv``'s ``at_image_edge`` column (docs/batch.md).  Masks the segmenter makes carry their
own ``image_edge`` check (``segment.MASK_CHECKS``); this one is for any mask, a file's included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_AXES = ("slice", "row", "column")
#: LPS axis -> the patient side its (+, -) direction points to
_SIDES = (("left", "right"), ("posterior", "anterior"), ("superior", "inferior"))


def _side(direction: Any, axis: int, last: bool) -> str:
    """The patient side the ``first`` / ``last`` face of array axis ``axis`` faces: the LPS axis
    nearest its outward normal (``direction`` column ``axis``, negated for the first face)."""
    v = np.asarray(direction, dtype=float)[:, axis] * (1.0 if last else -1.0)
    c = int(np.argmax(np.abs(v)))
    return _SIDES[c][0 if v[c] > 0 else 1]


def lesions_at_image_edge(labels: Any, series_instance_uid: str | None = None) -> dict[str, str]:
    """Lesion id -> why its measurement may be short, for each lesion of ``labels`` (a
    :class:`~hcc_imaging.volume.LabelVolume`) whose mask reaches a face of its grid.

    The message names the faces (``"first slice"``, ``"last column"``, ...), the series and its
    number of slices, and the side of the patient each face is on (``inferior``, ``anterior``...,
    from the grid's direction: on a coronal or sagittal series "the first row" is not a side the
    reader can look for).  Empty when no lesion touches a face.
    """
    from scipy import ndimage

    arr = np.asarray(labels.array)
    present = [int(v) for v in labels.present_labels()]
    if not present:
        return {}
    objs = ndimage.find_objects(arr.astype(np.int32, copy=False))
    out: dict[str, str] = {}
    for v in present:
        box = objs[v - 1] if v - 1 < len(objs) else None
        if box is None:
            continue
        hits = [(f"{end} {name}", _side(labels.direction, m, end == "last"))
                for m, (name, sl, n) in enumerate(zip(_AXES, box, arr.shape, strict=True))
                for end, hit in (("first", sl.start == 0), ("last", sl.stop == n)) if hit]
        if hits:
            lid = str(labels.labels.get(v) or f"L{v}")
            out[lid] = (f"touches the image's edge ({' and '.join(f for f, _ in hits)} of series "
                        f"{series_instance_uid or 'unknown'}, {arr.shape[0]} slices; in the patient: "
                        f"{' and '.join(side for _, side in hits)}): may be cut, measured smaller than it is")
    return out

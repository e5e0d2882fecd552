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


def lesions_at_image_edge(labels: Any, series_instance_uid: str | None = None) -> dict[str, str]:
    """Lesion id -> why its measurement may be short, for each lesion of ``labels`` (a
    :class:`~hcc_imaging.volume.LabelVolume`) whose mask reaches a face of its grid.

    The message names the faces (``"first slice"``, ``"last column"``, ...), the series and its
    number of slices.  Empty when no lesion touches a face.
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
        faces = [f"{end} {axis}" for axis, sl, n in zip(_AXES, box, arr.shape, strict=True)
                 for end, hit in (("first", sl.start == 0), ("last", sl.stop == n)) if hit]
        if faces:
            lid = str(labels.labels.get(v) or f"L{v}")
            out[lid] = (f"touches the image's edge ({' and '.join(faces)} of series "
                        f"{series_instance_uid or 'unknown'}, {arr.shape[0]} slices): may be cut, measured "
                        "smaller than it is")
    return out

"""The viable (arterially enhancing) parts of the lesions the batch segments (seeds, carried).

Each lesion was segmented on its own phase (its seed's ``"phase"``, else the segmenter's most
conspicuous one; a carried lesion's, the carry's); the viable part is read on the study's arterial
phase (``ARTERIAL_PREFERENCE``), which may have been taken in another breath hold.  Each lesion is
therefore checked against the arterial phase around it from the phase it was segmented on
(:func:`hcc_imaging.segment.viable_align.arterial_shift`, the check ``segment --viable-out`` makes)
and, when the arterial phase is moved, its viable part is read on the lesion moved by that shift
and moved back onto the study's grid (:func:`hcc_imaging.segment.viable_align.viable_on_lesion_grid`):
it lies within the lesion mask it is measured with.  The lesions left where they are are read
together, as before the check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..volume import ARTERIAL_PREFERENCE, LabelVolume, Phase, Volume
from .errors import StudyStepError

log = logging.getLogger(__name__)

__all__ = ["viable_parts"]


def viable_parts(lesions: LabelVolume, vols: Mapping[Phase, Volume], liver: LabelVolume | None,
                 extrahepatic: Iterable[int], what: str, fix: str,
                 seg_phases: Mapping[str, str] | None = None) -> tuple[LabelVolume | None, dict[str, dict[str, Any]]]:
    """The viable parts of the liver lesions of ``lesions`` (same label values, on its grid) by
    :func:`hcc_imaging.segment.viable.viable_mask` on the study's arterial phase
    (``ARTERIAL_PREFERENCE``), ``liver`` the parenchyma's reference; None without an arterial phase.
    The ``extrahepatic`` labels (a node) have none: an HCC's enhancing tissue.

    ``seg_phases``: lesion id -> the phase it was segmented on; each such lesion is checked against
    the arterial phase from that phase and, when a breathing shift is found, read moved by it (module
    docstring).  Also returns, by lesion id, the check's record (``translation_mm``, ``moved``, the
    mutual information) with its ``notes``: the study record's ``viable_alignment``.

    A failure is a ``StudyStepError`` at ``masks``: ``what`` (the error) ``fix``."""
    from ..segment.errors import SegmentationError
    from ..segment.viable_align import arterial_shift, viable_on_lesion_grid

    arterial = next((vols[p] for p in ARTERIAL_PREFERENCE if p in vols), None)
    if arterial is None:
        return None, {}
    out = np.asarray(lesions.array)
    extra = [int(v) for v in extrahepatic]
    names = dict(lesions.labels)
    by_name = {str(p): v for p, v in vols.items()}
    shifts: dict[int, Any] = {}
    records: dict[str, dict[str, Any]] = {}
    for lab in lesions.present_labels():
        lid = names.get(lab, f"L{lab}")
        ph = (seg_phases or {}).get(lid)
        if lab in extra or ph is None or by_name.get(ph) is None:
            continue
        one = lesions.with_array(np.where(out == lab, out, 0).astype(out.dtype))
        shift, notes, rec = arterial_shift(one, by_name[ph], arterial, source_name=ph)
        if rec or notes:
            records[lid] = {**rec, **({"notes": notes} if notes else {})}
        for n in notes:
            log.info("%s: %s", lid, n)
        if shift is not None:
            shifts[lab] = shift
    pre, pv = vols.get(Phase.PRE_CONTRAST), vols.get(Phase.PORTAL_VENOUS)
    try:
        # the lesions left where they are, read together (as before the check)
        stay = lesions.with_array(np.where(np.isin(out, [*extra, *shifts]), 0, out).astype(out.dtype))
        arr = np.array(viable_on_lesion_grid(stay, arterial, pre_contrast=pre, portal_venous=pv, liver=liver).array)
        for lab, shift in shifts.items():
            one = lesions.with_array(np.where(out == lab, out, 0).astype(out.dtype))
            moved = np.asarray(viable_on_lesion_grid(one, arterial, shift_mm=shift, pre_contrast=pre, portal_venous=pv,
                                                     liver=liver).array)
            arr[moved != 0] = lab
    except SegmentationError as err:
        raise StudyStepError("masks", f"{what} ({err}). {fix}") from err
    return lesions.with_array(arr), records

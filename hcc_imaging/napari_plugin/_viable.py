"""The viable (arterially enhancing) part of a clicked lesion, for :func:`._core.segment` (Qt-free).

The lesion was segmented on one phase (the reader's pick, else the most conspicuous one); its
viable part is read on the time point's arterial phase (``ARTERIAL_PREFERENCE``), which may have
been taken in another breath hold.  The lesion is checked against the arterial phase around it
from the phase it was segmented on, by the check ``hcc-imaging segment --viable-out`` and the
batch make (:func:`hcc_imaging.segment.viable_align.arterial_shift`), and when the arterial phase
is moved the viable part is read on the lesion moved by that shift and moved back onto the
reference grid (:func:`hcc_imaging.segment.viable_align.viable_on_lesion_grid`), within the mask.
The note says so; the check's record goes into the provenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import LabelVolume, Phase, Volume

__all__ = ["viable_crop"]


def viable_crop(phases: Mapping[Phase, Volume], reference: Volume, arterial: Volume, mask: NDArray[np.bool_],
                lo: tuple[int, int, int], hi: tuple[int, int, int], *, seg_phase: str | None = None,
                inside_liver: LabelVolume | None = None) -> tuple[NDArray[np.bool_], list[str], dict[str, Any]]:
    """The viable part of the lesion ``mask`` (the box ``lo``:``hi`` of ``reference``'s grid,
    segmented on the phase named ``seg_phase``) read on ``arterial``, as a crop of the same box;
    the notes (an arterial phase moved, or a shift not confirmed) and the check's record ({} when
    none was made: no ``seg_phase``, or the arterial phase itself).

    ``viable_mask`` gets the lesion map cut to a work box: the lesion's box plus
    ``ViableParams.roi_margin_mm``, the largest shift the check looks for
    (``TRANSLATION_MAX_SHIFT_MM``) and a voxel, clipped to the grid; it cuts the lesions and
    ``roi_margin_mm`` around them itself, so the result is the one the whole map gives, without
    full-volume copies.  ``inside_liver``: the liver mask on ``reference``'s grid (the
    parenchyma's reference is read inside it)."""
    from ..segment import constants as C
    from ._core import FeatureUnavailableError, _need

    vmod = _need("hcc_imaging.segment.viable", "ViableParams")
    align = _need("hcc_imaging.segment.viable_align", "arterial_shift", "viable_on_lesion_grid")
    margin_mm = vmod.ViableParams().roi_margin_mm + C.TRANSLATION_MAX_SHIFT_MM
    pad = np.ceil(margin_mm / np.asarray(reference.spacing)).astype(int) + 1
    wlo = np.maximum(np.asarray(lo) - pad, 0)
    whi = np.minimum(np.asarray(hi) + pad, np.asarray(reference.shape))
    inner = tuple(slice(int(a - w), int(b - w)) for a, b, w in zip(lo, hi, wlo, strict=True))
    warr = np.zeros(tuple(int(v) for v in whi - wlo), np.uint8)
    warr[inner] = mask
    work = LabelVolume.like(reference.geometry.crop(wlo, whi), warr, labels={1: "lesion"},
                            frame_of_reference_uid=reference.frame_of_reference_uid,
                            source_series_instance_uid=reference.series_instance_uid)
    # the liver mask on the same work box (a crop of the reference grid, as the lesion map)
    wliver = None
    if inside_liver is not None:
        lv = inside_liver if inside_liver.geometry.equals(reference.geometry) else inside_liver.resample_to(reference)
        wliver = lv.crop(wlo, whi)
    source = next((v for p, v in phases.items() if seg_phase is not None and str(p) == str(seg_phase)), None)
    shift, notes, record = align.arterial_shift(work, source, arterial, source_name=str(seg_phase))
    vlab = align.viable_on_lesion_grid(work, arterial, shift_mm=shift, pre_contrast=phases.get(Phase.PRE_CONTRAST),
                                       portal_venous=phases.get(Phase.PORTAL_VENOUS), liver=wliver,
                                       on_arterial_grid=False)
    if not isinstance(vlab, LabelVolume) or vlab.shape != work.shape:
        raise FeatureUnavailableError(
            f"viable_on_lesion_grid returned {type(vlab).__name__}, not a label map on the lesion's grid; "
            "this hcc-imaging build's viable step does not match the plugin."
        )
    return np.ascontiguousarray(np.asarray(vlab.array)[inner] != 0) & mask, notes, record

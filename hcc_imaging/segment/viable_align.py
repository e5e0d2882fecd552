"""A lesion map drawn on one phase, placed on the arterial phase its viable part is read on.

Phases of one study share a frame of reference but not always a breath hold: an arterial series
taken in another breath hold shows the liver several mm away from where the portal-venous
lesion mask lies.  Placed by geometry alone, the mask then covers parenchyma on one side and
misses tumour on the other, and :func:`hcc_imaging.segment.viable.viable_mask` reads the wrong
tissue (a 9 mm shift: 5,110 mm3 viable instead of ~10,400).

:func:`arterial_shift` checks the alignment around the lesions with the translation search
``viable_mask`` uses for its pre-contrast phase (:func:`.register.register_translation`,
gradient-magnitude cross-correlation over the lesions and ``VIABLE_ROI_MARGIN_MM`` around them)
and, when the arterial phase is moved by half a voxel or more and the shift raises the mutual
information of the two phases there, gives that shift and says so in its notes.  A shift the
mutual information does not confirm is not applied, and the notes say the placement is to be
checked.

The one check serves every path that reads a viable part: ``segment --viable-out``
(:func:`lesions_on_arterial`, :func:`viable_of_lesions`: the mask moved onto the arterial phase,
the viable file where the arterial phase shows the tumour), and the batch and the napari dock
(:func:`viable_on_lesion_grid`: the viable part read on the moved mask and moved back, so that
it lies within the lesion mask it is measured with).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry, LabelVolume, Modality, Volume, resample_labels
from . import constants as C
from ._roi import crop_around, crop_geometry, mutual_information, on_grid, on_shifted

__all__ = ["arterial_shift", "lesions_on_arterial", "move_labels", "viable_of_lesions", "viable_on_lesion_grid"]


def arterial_shift(lesion: LabelVolume, source: Volume | None, arterial: Volume,
                   *, source_name: str = "lesion's") -> tuple[NDArray[np.float64] | None, list[str], dict[str, Any]]:
    """The breathing shift (LPS mm, ITK convention: an arterial point p is the ``source`` point
    p + shift) to move ``lesion`` (drawn on ``source``, on any grid of that frame of reference) by
    onto ``arterial``, checked around its lesions; None when it stays where geometry puts it.
    Also the notes (a shift applied, or one the mutual information does not confirm) and the
    record (``meta["viable"]["lesion_to_arterial"]``, the batch's ``viable_alignment``).

    The one check the CLI (:func:`lesions_on_arterial`), the batch and the napari dock
    (:func:`viable_on_lesion_grid`) make.  ``source`` None, or the arterial series itself: no
    check (None, [], {}).  ``source_name`` names the source phase in the notes (e.g.
    ``"portal_venous"``)."""
    same = source is arterial or (source is not None and bool(source.series_instance_uid)
                                  and source.series_instance_uid == arterial.series_instance_uid
                                  and source.geometry.equals(arterial.geometry))
    if source is None or same:
        return None, [], {}
    crop = crop_geometry(lesion, C.VIABLE_ROI_MARGIN_MM)
    if crop is None:
        return None, [], {}
    geom, _ = crop
    from .register import register_translation

    art = on_grid(arterial, geom)
    src_roi = crop_around(source, geom, C.VIABLE_REGISTRATION_MOVING_MARGIN_MM)
    if not (np.isfinite(art).all() and np.isfinite(np.asarray(src_roi.array)).all()):
        note = (f"the arterial phase (series {arterial.series_instance_uid or '?'}) was not checked against the "
                f"{source_name} phase the lesion was drawn on (NaN or infinite voxels around the lesion): the "
                "lesion is placed on it by geometry; check that it covers the same tissue there.")
        return None, [note], {"checked": False}
    art_vol = Volume(array=art, geometry=geom, modality=arterial.modality,
                     frame_of_reference_uid=arterial.frame_of_reference_uid,
                     series_instance_uid=arterial.series_instance_uid)
    reg = register_translation(
        art_vol, src_roi, max_shift_mm=C.TRANSLATION_MAX_SHIFT_MM,
        fine_trim_mm=max(C.VIABLE_ROI_MARGIN_MM - C.VIABLE_REGISTRATION_FINE_MARGIN_MM, 0.0),
        intensity_window=C.VIABLE_REGISTRATION_WINDOW_HU if arterial.modality == Modality.CT else None)
    shift = np.asarray(reg.translation_mm, float)
    # the shift in voxels of the arterial grid (array axes)
    o = np.asarray(arterial.geometry.origin, float)
    shift_vox = np.abs(arterial.geometry.lps_to_index(o + shift) - arterial.geometry.lps_to_index(o))
    record: dict[str, Any] = {"checked": True, "source_phase": source_name,
                              "source_series_instance_uid": source.series_instance_uid,
                              "translation_mm": [round(float(v), 2) for v in shift]}
    if float(shift_vox.max()) < 0.5:
        record["moved"] = False
        return None, [], record
    mi_reg = mutual_information(art, on_shifted(src_roi, geom, shift))
    mi_id = mutual_information(art, on_grid(src_roi, geom))
    record["mi"] = {"registered": round(mi_reg, 4), "identity": round(mi_id, 4)}
    dist = float(np.linalg.norm(shift))
    if mi_reg <= mi_id:
        record["moved"] = False
        note = (f"the arterial phase (series {arterial.series_instance_uid or '?'}) may be {dist:.1f} mm off the "
                f"{source_name} phase the lesion was drawn on (another breath hold?), but that shift does not align "
                "the two phases better (mutual information): the lesion is placed on it by geometry. Check that it "
                "covers the same tissue there, or draw the lesion on the arterial phase.")
        return None, [note], record
    record["moved"] = True
    note = (f"the arterial phase (series {arterial.series_instance_uid or '?'}) is {dist:.1f} mm off the {source_name} "
            f"phase the lesion was drawn on (another breath hold; LPS shift {', '.join(f'{v:+.1f}' for v in shift)} mm): "
            "the lesion mask was moved onto it by that translation before its viable part was read "
            f"(mutual information {mi_id:.3f} -> {mi_reg:.3f}).")
    return shift, [note], record


def move_labels(labels: LabelVolume, onto: Volume | LabelVolume | Geometry, shift_mm: NDArray[np.float64]) -> LabelVolume:
    """``labels`` on ``onto``'s grid moved by ``shift_mm`` (:func:`arterial_shift`'s convention: a
    point p of the result is the point p + shift_mm of ``labels``), nearest neighbour."""
    import SimpleITK as sitk

    return resample_labels(labels, onto, transform=sitk.TranslationTransform(3, tuple(float(v) for v in shift_mm)))


def lesions_on_arterial(lesion: LabelVolume, source: Volume | None, arterial: Volume,
                        *, source_name: str = "lesion's") -> tuple[LabelVolume, list[str], dict[str, Any]]:
    """``lesion`` (drawn on ``source``) on ``arterial``'s grid, moved by the breathing shift
    between the two phases around the lesions when there is one (:func:`arterial_shift`); (map,
    notes, record).

    ``source`` None, or the arterial series itself: placed by geometry only (no check).
    ``source_name`` names the source phase in the notes (e.g. ``"portal_venous"``)."""
    on_art = lesion if lesion.geometry.equals(arterial.geometry) else lesion.resample_to(arterial)
    shift, notes, record = arterial_shift(on_art, source, arterial, source_name=source_name)
    if shift is None:
        return on_art, notes, record
    return move_labels(lesion, arterial, shift), notes, record


def viable_on_lesion_grid(lesion: LabelVolume, arterial: Volume, *, shift_mm: NDArray[np.float64] | None = None,
                          pre_contrast: Volume | None = None, portal_venous: Volume | None = None,
                          liver: LabelVolume | None = None, on_arterial_grid: bool = True) -> LabelVolume:
    """:func:`.viable.viable_mask` of ``lesion`` on ``arterial``, returned on ``lesion``'s grid and
    kept within its lesions (same label values): where the lesion mask lies, so that it is measured
    with it.  ``shift_mm`` (:func:`arterial_shift`'s): the lesion map is moved by it onto the
    arterial phase, its viable part read there and moved back by the opposite shift.

    ``on_arterial_grid``: the map is placed on the arterial grid to be read (the batch); else read on
    its own grid, the arterial phase resampled onto it (the napari dock's work box, which must then
    hold the lesion moved by ``shift_mm`` and ``ViableParams.roi_margin_mm`` around it).  Without a
    shift the result is the one the caller had before the check (bit for bit)."""
    from dataclasses import replace

    from .viable import viable_mask

    grid: Volume | LabelVolume = arterial if on_arterial_grid else lesion
    if shift_mm is not None:
        placed = move_labels(lesion, grid, shift_mm)
    else:
        placed = lesion if lesion.geometry.equals(grid.geometry) else lesion.resample_to(arterial)
    v = viable_mask(placed, arterial, pre_contrast=pre_contrast, portal_venous=portal_venous, liver=liver)
    if shift_mm is not None:
        back = np.asarray(move_labels(v, lesion, -np.asarray(shift_mm, float)).array)
    else:
        back = np.asarray(v.array if v.geometry.equals(lesion.geometry) else v.resample_to(lesion).array)
    out = np.asarray(lesion.array)
    # (read on another grid, or moved and back, the viable part is kept within its lesion's mask)
    arr = np.where((back != 0) & (out != 0), out, 0).astype(out.dtype)
    return replace(v, array=arr, geometry=lesion.geometry, labels=dict(lesion.labels))


def viable_of_lesions(lesion: LabelVolume, source: Volume | None, arterial: Volume, *,
                      pre_contrast: Volume | None = None, portal_venous: Volume | None = None,
                      liver: LabelVolume | None = None, source_name: str = "lesion's") -> tuple[LabelVolume, list[str]]:
    """:func:`.viable.viable_mask` of ``lesion`` (drawn on ``source``) on ``arterial``, the map placed
    there by :func:`lesions_on_arterial` (its record in ``meta["viable"]["lesion_to_arterial"]``); and
    the notes.  The result lies on the arterial grid, where the arterial phase shows the lesion."""
    from dataclasses import replace

    from .viable import viable_mask

    on_art, notes, record = lesions_on_arterial(lesion, source, arterial, source_name=source_name)
    v = viable_mask(on_art, arterial, pre_contrast=pre_contrast, portal_venous=portal_venous, liver=liver)
    if record:
        v = replace(v, meta={**v.meta, "viable": {**dict(v.meta.get("viable") or {}), "lesion_to_arterial": record}})
    return v, notes


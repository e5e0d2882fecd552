"""A lesion map drawn on one phase, placed on the arterial phase its viable part is read on.

Phases of one study share a frame of reference but not always a breath hold: an arterial series
taken in another breath hold shows the liver several mm away from where the portal-venous
lesion mask lies.  Placed by geometry alone, the mask then covers parenchyma on one side and
misses tumour on the other, and :func:`hcc_imaging.segment.viable.viable_mask` reads the wrong
tissue (a 9 mm shift: 5,110 mm3 viable instead of ~10,400).

:func:`lesions_on_arterial` checks the alignment around the lesions with the translation search
``viable_mask`` uses for its pre-contrast phase (:func:`.register.register_translation`,
gradient-magnitude cross-correlation over the lesions and ``VIABLE_ROI_MARGIN_MM`` around them)
and, when the arterial phase is moved by half a voxel or more and the shift raises the mutual
information of the two phases there, moves the mask onto the arterial phase by that shift; it
says so in its notes.  A shift the mutual information does not confirm is not applied, and the
notes say the placement is to be checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..volume import LabelVolume, Modality, Volume, resample_labels
from . import constants as C
from .viable import _crop_around, _crop_geometry, _mutual_information, _on, _on_shifted

__all__ = ["lesions_on_arterial", "viable_of_lesions"]


def lesions_on_arterial(lesion: LabelVolume, source: Volume | None, arterial: Volume,
                        *, source_name: str = "lesion's") -> tuple[LabelVolume, list[str], dict[str, Any]]:
    """``lesion`` (drawn on ``source``) on ``arterial``'s grid, moved by the breathing shift
    between the two phases around the lesions when there is one; (map, notes, record).

    ``source`` None, or the arterial series itself: placed by geometry only (no check).
    ``source_name`` names the source phase in the notes (e.g. ``"portal_venous"``)."""
    on_art = lesion if lesion.geometry.equals(arterial.geometry) else lesion.resample_to(arterial)
    same = source is arterial or (source is not None and bool(source.series_instance_uid)
                                  and source.series_instance_uid == arterial.series_instance_uid
                                  and source.geometry.equals(arterial.geometry))
    if source is None or same:
        return on_art, [], {}
    crop = _crop_geometry(on_art, C.VIABLE_ROI_MARGIN_MM)
    if crop is None:
        return on_art, [], {}
    geom, _ = crop
    from .register import register_translation

    art = _on(arterial, geom)
    src_roi = _crop_around(source, geom, C.VIABLE_REGISTRATION_MOVING_MARGIN_MM)
    if not (np.isfinite(art).all() and np.isfinite(np.asarray(src_roi.array)).all()):
        note = (f"the arterial phase (series {arterial.series_instance_uid or '?'}) was not checked against the "
                f"{source_name} phase the lesion was drawn on (NaN or infinite voxels around the lesion): the "
                "lesion is placed on it by geometry; check that it covers the same tissue there.")
        return on_art, [note], {"checked": False}
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
        return on_art, [], record
    mi_reg = _mutual_information(art, _on_shifted(src_roi, geom, shift))
    mi_id = _mutual_information(art, _on(src_roi, geom))
    record["mi"] = {"registered": round(mi_reg, 4), "identity": round(mi_id, 4)}
    dist = float(np.linalg.norm(shift))
    if mi_reg <= mi_id:
        record["moved"] = False
        note = (f"the arterial phase (series {arterial.series_instance_uid or '?'}) may be {dist:.1f} mm off the "
                f"{source_name} phase the lesion was drawn on (another breath hold?), but that shift does not align "
                "the two phases better (mutual information): the lesion is placed on it by geometry. Check that it "
                "covers the same tissue there, or draw the lesion on the arterial phase.")
        return on_art, [note], record
    import SimpleITK as sitk

    moved = resample_labels(lesion, arterial, transform=sitk.TranslationTransform(3, tuple(float(v) for v in shift)))
    record["moved"] = True
    note = (f"the arterial phase (series {arterial.series_instance_uid or '?'}) is {dist:.1f} mm off the {source_name} "
            f"phase the lesion was drawn on (another breath hold; LPS shift {', '.join(f'{v:+.1f}' for v in shift)} mm): "
            "the lesion mask was moved onto it by that translation before its viable part was read "
            f"(mutual information {mi_id:.3f} -> {mi_reg:.3f}).")
    return moved, [note], record


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


"""A click's result (private; built by :mod:`._driver`): the notes of the steps that placed the mask
(:func:`_step_notes`), the notes and checks of a mask at the scan's ends (:func:`_edge_reach`), the result with the
provenance every path shares (:func:`_result`) and the result of ``rind=True`` (:func:`_rind_result`, step 13 asked
for).  Split from :mod:`._driver` (session of 2026-12-07, ninth; the same code, moved).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import LabelVolume, Modality, Phase, Volume
from . import constants as C
from ._grow import _RoiResult
from ._rind import RindFit, rind_border
from ._types import ALGORITHM_NAME, LesionParams, SegmentationResult
from .errors import SegmentationError

log = logging.getLogger("hcc_imaging.segment.lesion")  # the public module's logger, as the driver's


def _edge_checks(reach: tuple[bool, bool, bool]) -> list[str]:
    """The ``checks`` of a mask's reach (:func:`_edge_reach`), as :func:`_edge_notes`."""
    return [code for code, hit in (("scan_range", reach[0]), ("image_edge", reach[1])) if hit]


def _edge_reach(full: NDArray[Any]) -> tuple[bool, bool, bool]:
    """Whether the mask reaches (within one voxel: the grower's smoothing and ring rarely take the
    outermost voxel; read on those twelve planes only) the first or last slice, an edge of the
    image within a slice, and two opposite such edges.  A single slice is the whole scanned range:
    any mask reaches it (its volume is one slice's area times its thickness)."""
    rows = bool(full[:, :2].any()), bool(full[:, -2:].any())
    cols = bool(full[:, :, :2].any()), bool(full[:, :, -2:].any())
    slices = bool(full[:2].any() or full[-2:].any())
    return slices, any(rows) or any(cols), all(rows) or all(cols)


def _edge_notes(reach: tuple[bool, bool, bool]) -> list[str]:
    """Notes for a mask that reaches the array's faces (:func:`_edge_reach`): across the slices
    (axis 0) the lesion may go on beyond the scanned range; within a slice the region may have
    leaked, or the image is cropped through the lesion."""
    out = []
    if reach[0]:
        out.append(
            "the mask reaches (within one slice) the first or last slice of the series: the lesion may extend beyond the scanned "
            "range, so its volume and its extent across slices may be underestimated."
        )
    if reach[1]:
        out.append(
            "the mask reaches (within one voxel) the edge of the image within a slice: it may have leaked into neighbouring tissue, "
            "or the image is cropped through the lesion; check it (a liver mask or a line across the lesion "
            "keeps the region to the lesion)."
        )
    return out


def _step_notes(notes: list[str], rr: _RoiResult, phase: Phase, border_blur: float | None,
                multiphase: list[str] | None, combined_weights: Mapping[str, float] | None,
                line_phase_note: str | None, growth_phase: Phase | None, reach: tuple[bool, bool, bool],
                rind_note: str | None, rind_fit: RindFit | None, rind_phase: str | None,
                defect: Any) -> tuple[list[str], Phase]:
    """The notes of a click's result after ``notes`` (the steps' own so far): what each step that
    placed the mask did and what to check, the mask that step 13's fit (``rind_fit``) or step 11's
    lumen (``defect``) replaced described as such; and the phase the reported values refer to
    (step 10's first phase, or the combination's heaviest, instead of ``phase``)."""
    if rr.radial:
        notes.append(
            "heterogeneous lesion not enclosed by uniform parenchyma: the border is the star-shaped "
            "(radial) estimate around the click, with a smoothness prior; check it on every slice."
        )
    if rr.rim_phase is not None:
        notes.append(
            f"a thin enhancing rim around the hypodense zone (seen on the {rr.rim_phase} phase) is included "
            "in the lesion mask."
        )
    if rr.model.ill_defined:
        notes.append(
            "ill-defined border: the lesion's edge band is within the contrast minimum of its surroundings, so the "
            "threshold uses the whole region's value (an infiltrative lesion, or a small one near the contrast "
            "minimum); its extent is uncertain, check it."
        )
    if border_blur is not None:
        where = (f"fitted around the click's region on one phase ({phase}), where the lesion fades into the "
                 "parenchyma" if rr.blur_mm is not None else "fitted to the phases")
        notes.append(
            f"the ill-defined border is placed on a blurred-surface model {where} (margin blur "
            f"sigma {border_blur:g} mm): where a sharp lesion blurred by that much would end, not the midpoint level "
            "(which lies inside a blurred convex lesion); check the border."
        )
    if multiphase is not None:
        phase = Phase(multiphase[0])  # the phase the reported values refer to
        notes.append(
            f"segmented on the phases {multiphase} jointly (nearest-mean classification against the tissue classes "
            "around the lesion): the lesion is faint on every single phase, or the region on the most conspicuous "
            "phase leaked or held tissues that another phase separates (e.g. a thrombus and the contrast-filled "
            f"vein); lesion and surroundings values are the {phase} phase's medians of the mask and its ring (the "
            "window is not a threshold here); check the border."
        )
    if combined_weights is not None:
        phase = Phase(max(combined_weights, key=lambda k: abs(combined_weights[k])))  # type: ignore[index]
        notes.append(
            "faint or ill-defined on each single phase: segmented on the phases' combination (weights per phase "
            f"{combined_weights}, contrast / noise^2 of each); lesion and surroundings values are the {phase} phase's "
            "medians of the mask and its ring (the window is not a threshold here); check the border."
        )
    if line_phase_note is not None:
        notes.append(line_phase_note)
    if growth_phase is not None:
        notes.append(
            f"heterogeneous lesion: the click's region ({phase}) was grown to the lesion border on the "
            f"{growth_phase} phase, where the border contrast against parenchyma is highest (window and surroundings value refer to that phase)."
        )
    notes += _edge_notes(reach)
    if rind_note is not None:
        notes.append(rind_note)
    if rind_fit is not None and rind_phase is not None:
        # as step 11's: the notes above describe the mask the fit replaced
        notes = [rind_fit.note(rind_phase).replace("(asked for, rind=True)", "(step 13)")] + [
            f"the mask before the two-surface fit replaced it: {n}" for n in notes]
    if defect is not None:
        # the notes above describe the mask step 11 replaced (its values and phase are still the ones
        # reported); say so, so that "check the border" is not read as being about the lumen
        notes = [defect.note()] + [f"the mask before the vessel lumen replaced it: {n}" for n in notes]
    return notes, phase


def _result(
    vol: Volume, full: NDArray[np.integer[Any]], label: int, lesion_id: str, p: LesionParams, roi_mm: float | None,
    extrahepatic: bool, rind: bool, seed_pt: NDArray[np.float64], seed_vox: tuple[int, int, int],
    line: NDArray[np.float64] | None, t0: float, **fields: Any,
) -> SegmentationResult:
    """The result with the provenance every path shares (the mask ``full`` as a labelled volume on
    ``vol``'s grid, the algorithm, the parameters, the click or line, the time since ``t0``);
    ``fields``: the path's own (phase, values, window, notes, ...).  On a single slice (its
    ``scan_range`` check set by :func:`_edge_reach`) a note says the mask gives no volume."""
    if full.shape[0] == 1:
        fields["notes"] = (*fields.get("notes", ()), (
            "the image is a single slice: the mask is the lesion's section on it, and its volume that area times the "
            "slice thickness, not the lesion's volume; segment on the whole series for a volume."))
    return SegmentationResult(
        labels=LabelVolume.like(vol, full, labels={label: lesion_id}, meta={"algorithm": ALGORITHM_NAME}),
        algorithm=ALGORITHM_NAME,
        version=C.ALGORITHM_VERSION,
        parameters={**asdict(p), "roi_mm": roi_mm, "extrahepatic": bool(extrahepatic), "rind": bool(rind)},
        seed_lps=tuple(float(v) for v in seed_pt),  # type: ignore[arg-type]
        seed_index=seed_vox,
        line_lps=None if line is None else (tuple(map(float, line[0])), tuple(map(float, line[1]))),  # type: ignore[arg-type]
        elapsed_s=time.perf_counter() - t0,
        **fields,
    )


def _rind_result(
    vol: Volume, phase: Phase, seed_vox: tuple[int, int, int], seed_pt: NDArray[np.float64],
    seed_txt: tuple[float, ...], line: NDArray[np.float64] | None, liv: NDArray[np.bool_] | None,
    p: LesionParams, roi_mm: float | None, label: int, lesion_id: str, extrahepatic: bool,
    conspicuity: dict[str, float], t0: float,
) -> SegmentationResult:
    """``segment_lesion(..., rind=True)``: step 13 (:func:`._rind.rind_border`) from the click on
    ``vol``, as a result with its provenance."""
    where = f"the click at {seed_txt} mm" if line is None else f"the line's midpoint {seed_txt} mm"
    fit = rind_border(vol.array, seed_vox, vol.spacing, liv, where=where, calibrated=vol.modality == Modality.CT)
    full = np.zeros(vol.shape, dtype=np.uint8 if label < 256 else np.uint16)
    full[fit.box][fit.mask] = label
    if not full[seed_vox]:
        raise SegmentationError(
            f"rind=True: the fitted layer's surface leaves out {where}; the lesion is not a core in a layer there. "
            "Segment it without rind=True.")
    notes = [fit.note(str(phase)) + " The window is the core's and the layer's fitted values (not a threshold)."]
    reach = _edge_reach(full)
    res = _result(
        vol, full, label, lesion_id, p, roi_mm, extrahepatic, True, seed_pt, seed_vox, line, t0,
        phase=Phase(phase),
        lesion_value=float(np.median(vol.array[fit.box][fit.mask])),
        surroundings_value=fit.parenchyma_value,
        window=(min(fit.core_value, fit.layer_value), max(fit.core_value, fit.layer_value)),
        phase_conspicuity=conspicuity,
        values_phase=Phase(phase),
        border_weights=None,
        border_blur_mm=None,
        border_psf_vox=fit.psf_vox(vol.spacing),
        notes=tuple([*notes, *_edge_notes(reach)]),
        checks=tuple(_edge_checks(reach)),
    )
    log.debug("segment_lesion (rind): %d voxels in %.3f s on %s", int(np.count_nonzero(full)), res.elapsed_s, phase)
    return res

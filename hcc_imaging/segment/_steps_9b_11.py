"""Steps 9b and 11 of a click (``segment_lesion``) on the mask steps 1-12b give: a dense lipiodol
deposit touching the mask (9b, :func:`add_lipiodol`) and a filling defect in a contrast-filled tube
(11, :func:`lipiodol_and_defect`).  Split out of :mod:`._driver` (2026-12-06, eighth session), which runs
them while step 13's fit ends when the fit passed its floors (the same values and records;
docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, eighth, third round)")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import constants as C
from ._grow import _RoiResult
from ._refine import _lipiodol_deposits
from ._vessel import thrombus_in_lumen


def add_lipiodol(full: NDArray[Any], sl: tuple[slice, ...], images: Mapping[str, NDArray[Any]],
                 liv: NDArray[np.bool_] | None, spacing: Sequence[float],
                 label: int) -> tuple[tuple[slice, ...], str] | None:
    """Step 9b on the mask ``full`` (its voxels in the box ``sl``): a dense lipiodol deposit touching
    it, with its partial-volume margin, added to it in place (``_refine._lipiodol_deposits``).
    Returns the box holding the mask and the added voxels, and the step's note; None when it adds
    nothing."""
    lip = _lipiodol_deposits(full, sl, list(images.values()), liv, spacing)
    if lip is None:
        return None
    lbox, lmask = lip
    added = int(np.count_nonzero(lmask & (full[lbox] == 0)))
    if not added:
        return None
    full[lbox][lmask] = label
    box = tuple(slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(sl, lbox, strict=True))
    return box, (
        f"a dense lipiodol deposit (>= {C.LIPIODOL_MIN_HU:.0f} HU on every phase) touching the lesion is "
        f"included with its partial-volume margin ({added} voxels added): it is part of the treated "
        "lesion for RECIST; viable_mask excludes it for mRECIST."
    )


@dataclass
class Steps9b11:
    """What steps 9b and 11 gave on a mask: the labelled volume ``full`` (9b's deposit added), the box
    holding it ``sl``, 9b's (box, note) or None, and 11's defect (``thrombus_in_lumen``'s) or None."""

    full: NDArray[Any]
    sl: tuple[slice, ...]
    lip_note: tuple[tuple[slice, ...], str] | None
    defect: Any

    @property
    def notes(self) -> list[str]:
        """The notes so far (a new list): 9b's, when it added a deposit."""
        return [] if self.lip_note is None else [self.lip_note[1]]


def lipiodol_and_defect(rr: _RoiResult, classes: _RoiResult, pre_rim: _RoiResult,
                        images: Mapping[str, NDArray[Any]], liv: NDArray[np.bool_] | None,
                        shape: tuple[int, ...], spacing: Sequence[float], label: int, lipiodol: bool,
                        joint: bool, border_psf: Any) -> Steps9b11:
    """Steps 9b and 11 on the mask ``rr`` (steps 1-12b's) of a volume of ``shape``: 9b when ``lipiodol``;
    11's lumen test on step 10's classes ``classes`` when ``joint`` (step 10's joint classes, or step 12's
    point ramp) and a point-spread ``border_psf`` was fitted, else on the mask; then, when step 9 wrapped
    the zone ``pre_rim`` in a rim, on that zone.  Reads nothing but its arguments (``full`` is new)."""
    full = np.zeros(shape, dtype=np.uint8 if label < 256 else np.uint16)
    sl = rr.box
    full[sl][rr.mask] = label
    # 9b: a dense lipiodol deposit touching the mask, with its partial-volume margin
    # (one post-contrast phase alone cannot tell lipiodol from contrast in an artery: the step
    # needs the pre-contrast phase or two phases, as viable_mask's "every phase"); 1.64: on CT only
    # (LIPIODOL_MIN_HU is in HU: on an MR series in the hundreds every voxel near the mask was "dense")
    lip_note = add_lipiodol(full, sl, images, liv, spacing, label) if lipiodol else None
    if lip_note is not None:
        sl = lip_note[0]  # (the box step 11 reads holds the added voxels too)
    # 11: a filling defect inside a contrast-filled tube (PVTT): the lumen from the patent segments
    if joint and border_psf is not None:
        # 1.35: step 12b grew step 10's classes; step 11's lumen test reads the classes as before
        # (the grown mask's partial-volume shell made a strongly curved vessel's defect, 1-2 mm off
        # its lumen, agree with it: 0.953 -> 0.917); 1.44: and the mask before step 12b's per-voxel
        # posterior (which reshaped a thrombus' joint mask until the lumen test found no defect:
        # 0.971 -> 0.917)
        src = np.zeros(shape, bool)
        src[classes.box] = classes.mask
        defect = thrombus_in_lumen(src, images, spacing, within=classes.box)
    else:
        defect = thrombus_in_lumen(full != 0, images, spacing, within=sl)
    if defect is None and rr.rim_phase is not None and pre_rim.rim_phase is None:
        # 1.29: the zone step 9 wrapped in a "rim" may be a filling defect whose rim is the vessel's
        # blood (the study phantom's thrombus on 1.15 mm pixels: the blood taken as a rim, 0.774)
        before = np.zeros(shape, bool)
        before[pre_rim.box] = pre_rim.mask
        defect = thrombus_in_lumen(before, images, spacing, within=pre_rim.box)
    return Steps9b11(full, sl, lip_note, defect)


__all__ = ["Steps9b11", "add_lipiodol", "lipiodol_and_defect"]

"""A lesion's measurement frame: its voxels cropped and re-indexed so that axis 0 is normal to the
patient axial plane (:class:`AxialFrame`, :func:`axial_frame`, :func:`patient_frame`), the label
and the ``reformat`` mode resolved, and the errors when the lesion is absent or the grid has no
axial planes.  What :mod:`.diameters` (and the viable rule, the caliper, the fragments) measure in;
its module docstring, "Measurement plane", gives the rules.

Split out of ``diameters.py`` (session of 2026-12-07, tenth), the same code; ``diameters``
re-exports every name, and :class:`EmptyMaskError` keeps ``hcc_imaging.measure.diameters`` as its
module (what users import and see in a traceback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..constants import AXIAL_TOL
from ..errors import GeometryMismatchError, HccImagingError, MeasurementPlaneError
from ..volume import Geometry, LabelVolume, axial_reformat_geometry, resample_labels

__all__ = [
    "Reformat",
    "EmptyMaskError",
    "AxialFrame",
    "axial_axis",
    "axial_frame",
    "patient_frame",
    "resolve_label",
    "reformat_mode",
]


class Reformat(StrEnum):
    """What to do when the labels are not sampled on patient axial planes."""

    #: refuse with :class:`MeasurementPlaneError` (default: never measure in the wrong plane)
    ERROR = "error"
    #: resample the labels (nearest neighbour) onto an axial grid first
    AXIAL = "axial"


class EmptyMaskError(HccImagingError, ValueError):
    """The lesion label has no voxel in the label volume (or in the requested region)."""

    __module__ = "hcc_imaging.measure.diameters"




def axial_axis(geometry: Geometry) -> int | None:
    """The array axis whose direction is +-S (patient superior-inferior), or None.

    An axis counts as S when ``| |direction[2, m]| - 1 | <= AXIAL_TOL`` (the same rule as
    :attr:`Geometry.is_axial`, which only looks at axis 0).
    """
    d = np.asarray(geometry.direction)
    m = int(np.argmax(np.abs(d[2, :])))
    if abs(abs(d[2, m]) - 1.0) <= AXIAL_TOL:
        return m
    return None


@dataclass(frozen=True, slots=True)
class AxialFrame:
    """A lesion's voxels re-indexed so that axis 0 is normal to the patient axial plane.

    ``mask`` is cropped to the lesion's bounding box; frame axis ``a`` is array axis
    ``perm[a]`` of ``labels``, reversed when ``flips[a]`` (frame index f <-> box index
    ``n_a - 1 - f``); ``offset`` is the crop start in array indices of ``labels``.
    """

    mask: NDArray[np.bool_]
    labels: LabelVolume
    perm: tuple[int, int, int]
    offset: tuple[int, int, int]
    #: frame axes running against their array axes (:func:`._canonical.canonical_frame`)
    flips: tuple[bool, bool, bool] = (False, False, False)
    #: the spacing the measurements use, when not the labels' own (the canonical frame's,
    #: rounded to 12 significant digits); frame axis order
    grid_spacing: tuple[float, float, float] | None = None

    @property
    def spacing(self) -> tuple[float, float, float]:
        if self.grid_spacing is not None:
            return self.grid_spacing
        sp = self.labels.spacing
        return (sp[self.perm[0]], sp[self.perm[1]], sp[self.perm[2]])

    @property
    def plane_axis(self) -> int:
        return self.perm[0]

    def crop_of(self, array: NDArray[Any]) -> NDArray[Any]:
        """The same box of another array on the grid of ``labels``, in frame axis order."""
        size = [0, 0, 0]
        for a in range(3):
            size[self.perm[a]] = self.mask.shape[a]
        sl = tuple(slice(self.offset[a], self.offset[a] + size[a]) for a in range(3))
        sub = array[sl]
        sub = np.transpose(sub, self.perm) if self.perm != (0, 1, 2) else sub
        if any(self.flips):
            sub = np.flip(sub, axis=tuple(a for a in range(3) if self.flips[a]))
        return sub

    def to_index(self, frame_index: NDArray[np.float64]) -> NDArray[np.float64]:
        """Frame (cropped, permuted, flipped) indices (..., 3) -> array indices of ``labels``."""
        fi = np.asarray(frame_index, dtype=np.float64)
        out = np.empty_like(fi)
        for a in range(3):
            f = (self.mask.shape[a] - 1) - fi[..., a] if self.flips[a] else fi[..., a]
            out[..., self.perm[a]] = f + self.offset[self.perm[a]]
        return out

    def from_index(self, index: NDArray[np.float64]) -> NDArray[np.float64]:
        """Array indices of ``labels`` (..., 3) -> frame indices (inverse of :meth:`to_index`)."""
        ix = np.asarray(index, dtype=np.float64)
        out = np.empty_like(ix)
        for a in range(3):
            f = ix[..., self.perm[a]] - self.offset[self.perm[a]]
            out[..., a] = (self.mask.shape[a] - 1) - f if self.flips[a] else f
        return out

    def to_lps(self, frame_index: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.labels.index_to_lps(self.to_index(frame_index))


def resolve_label(labels: LabelVolume, label: int | str | None) -> tuple[int | None, str]:
    """Label value and lesion id (its name in ``labels.labels``, else the value as text)."""
    if label is None:
        present = labels.present_labels()
        if len(present) == 1:
            return present[0], labels.labels.get(present[0], str(present[0]))
        return None, "all"
    if isinstance(label, str) and not isinstance(label, bool):
        inv = {v: k for k, v in labels.labels.items()}
        if label in inv:
            return inv[label], label
        if label.isdigit():
            val = int(label)
            return val, labels.labels.get(val, label)
        raise EmptyMaskError(
            f"lesion {label!r} is not a label name of this label volume (known names: "
            f"{sorted(inv) or 'none'}; values present: {labels.present_labels()}). "
            "Without it nothing can be measured. Pass label= one of those names or values."
        )
    val = int(label)
    return val, labels.labels.get(val, str(val))


def _lesion_mask(labels: LabelVolume, value: int | None) -> NDArray[np.bool_]:
    arr = labels.array
    return np.asarray(arr != 0) if value is None else np.asarray(arr == value)


def _bbox(mask: NDArray[np.bool_]) -> tuple[slice, slice, slice] | None:
    # two passes over the mask: the OR of all slices (rows and columns), one any() per slice
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return None
    ax0 = np.flatnonzero(m.reshape(m.shape[0], -1).any(axis=1))
    if len(ax0) == 0:
        return None
    a0 = m.any(axis=0)
    ax1, ax2 = np.flatnonzero(a0.any(axis=1)), np.flatnonzero(a0.any(axis=0))
    return (
        slice(int(ax0[0]), int(ax0[-1]) + 1),
        slice(int(ax1[0]), int(ax1[-1]) + 1),
        slice(int(ax2[0]), int(ax2[-1]) + 1),
    )


def reformat_mode(reformat: Reformat | str) -> Reformat:
    """Normalise the ``reformat`` parameter (named error for an unknown value)."""
    try:
        return Reformat(reformat)
    except ValueError as err:
        raise MeasurementPlaneError(
            f"reformat={reformat!r} is not a known mode; it decides what happens to coronal/oblique "
            "grids. Pass reformat='error' (refuse) or reformat='axial' (resample to an axial grid)."
        ) from err


def _axial_labels(labels: LabelVolume, reformat: Reformat | str, what: str) -> tuple[LabelVolume, int]:
    """Return labels sampled so that some array axis is +-S, and that axis."""
    mode = reformat_mode(reformat)
    ax = axial_axis(labels.geometry)
    if ax is not None:
        return labels, ax
    if mode is Reformat.AXIAL:
        geom = axial_reformat_geometry(labels.geometry)
        out = resample_labels(labels, geom)
        return out, 0
    # the direction of array axis m is column m of the direction matrix
    d = np.round(np.asarray(labels.direction).T, 3).tolist()
    tol_deg = float(np.degrees(np.arccos(1.0 - AXIAL_TOL)))
    raise MeasurementPlaneError(
        f"{what}: the label volume (series {labels.source_series_instance_uid or 'unknown'}) is not "
        f"sampled on patient axial planes (array axes' directions, k, j, i: {d}; no axis is within "
        f"{tol_deg:.1f} degrees of the S axis, AXIAL_TOL = {AXIAL_TOL:g} on |cos|). RECIST/mRECIST diameters are defined in the axial plane, and "
        "measuring this coronal/oblique grid's own slices would give a different, wrong number. "
        "Pass reformat='axial' to resample the mask onto an axial grid first, or measure on an "
        "axial series."
    )


def axial_frame(
    labels: LabelVolume,
    label: int | str | None = None,
    *,
    reformat: Reformat | str = Reformat.ERROR,
    mask: NDArray[np.bool_] | None = None,
    require_axial: bool = True,
    bbox: tuple[slice, slice, slice] | None = None,
) -> AxialFrame:
    """Crop one lesion and permute its axes so that axis 0 is normal to the axial plane.

    Parameters
    ----------
    labels : LabelVolume
    label : int or str or None
        Label value or name; None = every non-zero voxel.
    reformat : {"error", "axial"}
        What to do for a coronal/oblique grid (see module docstring).
    mask : bool array, optional
        Use this mask (same shape as ``labels``) instead of ``labels == label``.
    require_axial : bool
        False for plane-free quantities (3-D Feret, volume): then no reformat happens.
    bbox : tuple of 3 slices, optional
        A box known to contain the whole lesion (e.g. from ``scipy.ndimage.find_objects``);
        saves a pass over a large label map.  Ignored after a reformat.

    Raises
    ------
    MeasurementPlaneError
        No array axis is along S and ``reformat="error"``.
    EmptyMaskError
        The lesion has no voxel.
    """
    value, lesion_id = resolve_label(labels, label)
    if require_axial:
        new_labels, ax = _axial_labels(labels, reformat, f"lesion {lesion_id!r}")
        if new_labels is not labels:
            if mask is not None:
                raise GeometryMismatchError(
                    "axial_frame(mask=...) cannot be combined with reformat='axial'; "
                    "resample the mask with hcc_imaging.volume.resample_labels first."
                )
            labels = new_labels
            bbox = None
    else:
        ax = axial_axis(labels.geometry)
        ax = 0 if ax is None else ax
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        base = (0, 0, 0)
    elif bbox is not None:
        sub = labels.array[bbox]
        m = np.asarray(sub != 0) if value is None else np.asarray(sub == value)
        base = (bbox[0].start or 0, bbox[1].start or 0, bbox[2].start or 0)
    else:
        m = _lesion_mask(labels, value)
        base = (0, 0, 0)
    bb = _bbox(m)
    if bb is None:
        raise EmptyMaskError(
            f"lesion {lesion_id!r} (label value {value}) has no voxel in the label volume "
            f"(labels present: {labels.present_labels()}). An absent lesion cannot be measured; "
            "record it as absent (0 mm) instead, or pass the right label."
        )
    others = [a for a in range(3) if a != ax]
    perm = (ax, others[0], others[1])
    crop = m[bb]
    frame_mask = np.ascontiguousarray(np.transpose(crop, perm)) if perm != (0, 1, 2) else crop
    offset = (bb[0].start + base[0], bb[1].start + base[1], bb[2].start + base[2])
    return AxialFrame(mask=frame_mask, labels=labels, perm=perm, offset=offset)


def patient_frame(
    labels: LabelVolume,
    label: int | str | None = None,
    *,
    reformat: Reformat | str = Reformat.ERROR,
    bbox: tuple[slice, slice, slice] | None = None,
    require_axial: bool = True,
) -> AxialFrame:
    """:func:`axial_frame` in the patient-fixed array layout (:func:`._canonical.canonical_frame`):
    the frame every axial measurement searches (the LD, short axis and 3-D Feret since
    ``subvoxel-boundary-v6``, the viable rule since ``viable-rule-v2``), so that equally long
    lines are chosen by where they are in the patient, not by how the series stores its voxels.
    An ordinary axial series' frame is returned as :func:`axial_frame` gives it; so is a
    non-axial grid's with ``require_axial=False`` (no patient-fixed layout of signed permutations)."""
    from ._canonical import canonical_frame  # (it imports this module's AxialFrame)

    frame = axial_frame(labels, label, reformat=reformat, bbox=bbox, require_axial=require_axial)
    if not require_axial and axial_axis(frame.labels.geometry) is None:
        return frame
    return canonical_frame(frame)


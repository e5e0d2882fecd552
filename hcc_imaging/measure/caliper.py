"""Caliper measurements: lines a reader draws (two LPS points) and the bidirectional tool.

A caliper line is given by its two endpoints in DICOM patient coordinates (LPS, mm), as the
napari plugin reports them.  RECIST/mRECIST lines must lie in one patient axial plane: both
endpoints at the same S coordinate within :data:`~.constants.AXIAL_LINE_TOL_MM`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from ..errors import HccImagingError, MeasurementPlaneError
from ..volume import LabelVolume
from .constants import AXIAL_LINE_TOL_MM, PERPENDICULAR_TOL_DEG
from .diameters import AxialDiameter, Reformat, axial_axis, short_axis

__all__ = [
    "CaliperError",
    "CaliperLine",
    "Bidirectional",
    "caliper_length",
    "caliper_line",
    "bidirectional",
]

Point3 = tuple[float, float, float]


class CaliperError(HccImagingError, ValueError):
    """A caliper line is invalid (zero length, not perpendicular, wrong shape)."""


def _point(p: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(p, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise CaliperError(f"{name} must be one LPS point (x, y, z) in mm, got {p!r}. Pass 3 finite numbers.")
    return a


@dataclass(frozen=True, slots=True)
class CaliperLine:
    """A line between two LPS points, with its length in mm."""

    start_lps: Point3
    end_lps: Point3
    length_mm: float

    @property
    def direction(self) -> np.ndarray:
        d = np.asarray(self.end_lps) - np.asarray(self.start_lps)
        n = float(np.linalg.norm(d))
        return d / n if n > 0 else d

    def to_dict(self) -> dict[str, Any]:
        return {"start_lps": list(self.start_lps), "end_lps": list(self.end_lps), "length_mm": self.length_mm}


def caliper_length(p1: ArrayLike, p2: ArrayLike) -> float:
    """Euclidean distance in mm between two LPS points.

    Examples
    --------
    >>> caliper_length((0, 0, 10), (30, 40, 10))
    50.0
    """
    return float(np.linalg.norm(_point(p2, "p2") - _point(p1, "p1")))


def caliper_line(p1: ArrayLike, p2: ArrayLike, *, axial: bool = True) -> CaliperLine:
    """A :class:`CaliperLine`; with ``axial=True`` (RECIST) both points must share one axial plane.

    Raises
    ------
    MeasurementPlaneError
        The endpoints differ along S by more than ``AXIAL_LINE_TOL_MM``.
    """
    a, b = _point(p1, "p1"), _point(p2, "p2")
    if axial and abs(a[2] - b[2]) > AXIAL_LINE_TOL_MM:
        raise MeasurementPlaneError(
            f"caliper line from {tuple(np.round(a, 2).tolist())} to {tuple(np.round(b, 2).tolist())} mm is not axial: its "
            f"endpoints differ by {abs(a[2] - b[2]):.2f} mm along S (tolerance {AXIAL_LINE_TOL_MM} mm). "
            "RECIST/mRECIST diameters are measured in one axial slice; draw both endpoints on the "
            "same axial slice, or pass axial=False for a free 3-D distance."
        )
    return CaliperLine(tuple(a.tolist()), tuple(b.tolist()), float(np.linalg.norm(b - a)))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Bidirectional:
    """Long and short axis of a bidirectional measurement (WHO/EASL product = long x short)."""

    long_axis: CaliperLine
    short_axis: CaliperLine
    angle_deg: float

    @property
    def product_mm2(self) -> float:
        return self.long_axis.length_mm * self.short_axis.length_mm

    def to_dict(self) -> dict[str, Any]:
        return {
            "long_axis": self.long_axis.to_dict(),
            "short_axis": self.short_axis.to_dict(),
            "angle_deg": self.angle_deg,
            "product_mm2": self.product_mm2,
        }


def bidirectional(
    long_p1: ArrayLike,
    long_p2: ArrayLike,
    *,
    short_line: Sequence[ArrayLike] | None = None,
    labels: LabelVolume | None = None,
    label: int | str | None = None,
    tol_deg: float = PERPENDICULAR_TOL_DEG,
) -> Bidirectional:
    """Bidirectional measurement from a reader's long-axis line.

    Either ``short_line=(q1, q2)`` (a second drawn line, checked to be perpendicular within
    ``tol_deg`` and in the same axial plane), or ``labels`` (+ ``label``): then the short axis is
    the longest chord of the lesion's voxel-centre hull perpendicular to the drawn long axis on
    its slice (:func:`hcc_imaging.measure.short_axis`).

    Raises
    ------
    CaliperError
        Neither or both of ``short_line`` and ``labels`` given; zero-length line; lines not
        perpendicular within ``tol_deg``.
    MeasurementPlaneError
        A line is not axial, or the two lines lie on different slices.
    """
    long_line = caliper_line(long_p1, long_p2)
    if long_line.length_mm == 0.0:
        raise CaliperError(
            "bidirectional(): the long-axis line has zero length (both endpoints at "
            f"{long_line.start_lps}); no perpendicular direction exists. Draw a line across the lesion."
        )
    if (short_line is None) == (labels is None):
        raise CaliperError(
            "bidirectional(): pass exactly one of short_line=(q1, q2) (a drawn short axis, checked "
            "for perpendicularity) or labels= (the short axis is then measured on the mask)."
        )
    if short_line is not None:
        if len(short_line) != 2:
            raise CaliperError(f"short_line must be two LPS points, got {len(short_line)} items.")
        sl = caliper_line(short_line[0], short_line[1])
        if abs(sl.start_lps[2] - long_line.start_lps[2]) > AXIAL_LINE_TOL_MM:
            raise MeasurementPlaneError(
                f"the short axis (S = {sl.start_lps[2]:.2f} mm) and the long axis (S = "
                f"{long_line.start_lps[2]:.2f} mm) lie on different axial slices; a bidirectional "
                "measurement needs both on one slice. Redraw the short axis on the long axis's slice."
            )
        if sl.length_mm == 0.0:
            angle = 90.0
        else:
            cosang = abs(float(np.dot(long_line.direction, sl.direction)))
            angle = float(np.degrees(np.arccos(min(1.0, cosang))))
        if abs(90.0 - angle) > tol_deg:
            raise CaliperError(
                f"the short axis makes {angle:.1f} deg with the long axis, not 90 +- {tol_deg} deg; "
                "WHO/RECIST short axes are perpendicular to the long axis. Redraw it, or raise "
                "tol_deg= if your protocol allows more."
            )
        return Bidirectional(long_line, sl, angle)
    labels = cast(LabelVolume, labels)  # guarded above: exactly one of short_line / labels
    ax = axial_axis(labels.geometry)
    if ax is None:
        raise MeasurementPlaneError(
            "bidirectional(labels=...): the label volume is not sampled on axial planes; the short "
            "axis cannot be found on the long axis's slice. Resample the mask onto an axial grid "
            "(hcc_imaging.volume.axial_reformat_geometry + resample_labels) first."
        )
    idx = labels.lps_to_index(np.array([long_line.start_lps, long_line.end_lps]))
    k = idx[:, ax]
    k_round = np.rint(k)
    if abs(k[0] - k[1]) > 0.5 or np.any(k_round < 0) or np.any(k_round >= labels.shape[ax]):
        raise MeasurementPlaneError(
            f"the long-axis line does not lie on one slice of the label volume (slice positions "
            f"{np.round(k, 2).tolist()} along array axis {ax}, {labels.shape[ax]} slices). Draw it on a "
            "slice of this series."
        )
    ld = AxialDiameter(
        length_mm=long_line.length_mm,
        endpoints_lps=(long_line.start_lps, long_line.end_lps),
        endpoints_index=(tuple(idx[0].tolist()), tuple(idx[1].tolist())),  # type: ignore[arg-type]
        slice_index=int(k_round[0]),
        plane_axis=ax,
    )
    sa = short_axis(labels, label, long_axis=ld, reformat=Reformat.ERROR)
    sl = CaliperLine(sa.endpoints_lps[0], sa.endpoints_lps[1], sa.length_mm)
    return Bidirectional(long_line, sl, 90.0)

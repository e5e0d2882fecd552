"""Pure conversions between hcc_imaging objects and napari layer data (no napari import).

World coordinates in napari
---------------------------
napari gives every layer a *world* space whose axes are in the same order as the data axes.
hcc_imaging's data axes are ``(slice, row, col)``; we define

    **napari world = LPS reversed = (z, y, x) in mm**  (z grows Superior, y Posterior, x Left).

so that, for a standard axial CT, napari slices along world axis 0 (z) and shows rows down
(anterior at the top) and columns to the right (patient's left on screen right, the
radiological convention).  The layer transform that realises this is, with ``R`` the 3x3
reversal permutation, ``D`` the direction (column m = LPS unit vector of array axis m),
``s`` the spacing and ``o`` the origin (centre of voxel 0):

    ``scale = s``, ``rotate = R @ D``, ``translate = R @ o``

napari composes ``world = rotate @ (scale * index) + translate``, hence
``world = R @ (o + D @ (s * index)) = R @ volume.index_to_lps(index)``.  Flipped directions
(det = -1) and oblique ones are carried exactly; napari draws an oblique grid without the
out-of-plane component ("non-orthogonal slicing") - load with ``axial=True`` to resample onto
an axial grid for reading.

napari draws a layer only when each data axis lies along the world axis of the same number (it
slices by data axis): a sagittal or coronal series, whose slice axis is world x or y, made its
2-D transform singular (``LinAlgError: Singular matrix`` when drawn, whatever its slice count).
:func:`for_display` gives such a volume its axes in world order (a lossless transpose, the same
voxels at the same LPS positions; ``meta["reoriented"]["axes"]``), and :func:`as_acquired` takes
an image or a label map on that grid back to the acquired one (for DICOM SEG / SR references,
which follow the acquired slices).

Every layer carries ``metadata["hcc_imaging"]``: a JSON-able dict with the geometry
(``shape``, ``spacing``, ``origin``, ``direction``), the DICOM identifiers (study / series /
frame-of-reference UIDs), modality, phase, patient and time point - what the writers need to
round-trip a layer into DICOM SEG / SR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..constants import LIVER_WINDOW_HU
from ..errors import MissingGeometryError
from ..volume import Geometry, LabelVolume, Modality, Phase, Volume

__all__ = [
    "METADATA_KEY",
    "AXIS_LABELS",
    "UNITS",
    "LineSpec",
    "lps_to_world",
    "world_to_lps",
    "layer_transform",
    "geometry_metadata",
    "geometry_from_metadata",
    "volume_layer_data",
    "labels_layer_data",
    "volume_from_layer",
    "labels_from_layer",
    "layer_name",
    "lines_layer_data",
    "line_from_vertices",
    "line_vertices",
    "display_axes",
    "for_display",
    "as_acquired",
    "reoriented_axes",
]

#: Key of our dict inside a napari layer's ``metadata``.
METADATA_KEY = "hcc_imaging"
#: World axis labels: LPS reversed (see module docstring).
AXIS_LABELS: tuple[str, str, str] = ("z", "y", "x")
#: Every layer we create is in millimetres (napari needs the same units on all layers).
UNITS: tuple[str, str, str] = ("mm", "mm", "mm")

#: Colours of the measurement lines (long axis, short axis, viable diameter, manual).
LINE_COLOURS: Mapping[str, str] = {
    "long": "yellow",
    "short": "cyan",
    "viable_long": "orange",
    "viable_short": "magenta",
    "manual": "lime",
}

_R = np.eye(3)[::-1]


def lps_to_world(point_lps: ArrayLike) -> NDArray[np.float64]:
    """napari world coordinates (z, y, x) of LPS points (..., 3) in mm."""
    return np.asarray(point_lps, dtype=np.float64)[..., ::-1].copy()


def world_to_lps(point_world: ArrayLike) -> NDArray[np.float64]:
    """LPS points (x, y, z) in mm of napari world coordinates (..., 3)."""
    return np.asarray(point_world, dtype=np.float64)[..., ::-1].copy()


def layer_transform(geometry: Geometry) -> dict[str, Any]:
    """``scale`` / ``rotate`` / ``translate`` / ``units`` / ``axis_labels`` for a napari layer.

    ``world = rotate @ (scale * index) + translate = lps_to_world(geometry.index_to_lps(index))``.
    """
    return {
        "scale": tuple(float(v) for v in geometry.spacing),
        "rotate": _R @ np.asarray(geometry.direction),
        "translate": tuple(float(v) for v in (_R @ np.asarray(geometry.origin))),
        "units": UNITS,
        "axis_labels": AXIS_LABELS,
    }


def display_axes(geometry: Geometry) -> tuple[int, int, int] | None:
    """The order of ``geometry``'s array axes napari can draw (display axis m = array axis
    ``axes[m]``, each along world axis m), or None when they are in that order already (axial
    series) or no axis order is (an oblique grid near 45 degrees: drawn as it is)."""
    dominant = np.abs(_R @ np.asarray(geometry.direction, float)).argmax(axis=0)  # world axis of each array axis
    if sorted(int(w) for w in dominant) != [0, 1, 2] or [int(w) for w in dominant] == [0, 1, 2]:
        return None
    return tuple(int(np.nonzero(dominant == m)[0][0]) for m in range(3))  # type: ignore[return-value]


_G = TypeVar("_G", Volume, LabelVolume)


def _transposed(obj: _G, axes: Sequence[int], meta: Mapping[str, Any]) -> _G:
    g = obj.geometry
    geom = Geometry(
        shape=tuple(int(g.shape[a]) for a in axes),  # type: ignore[arg-type]
        spacing=tuple(float(g.spacing[a]) for a in axes),  # type: ignore[arg-type]
        origin=tuple(float(v) for v in g.origin),  # type: ignore[arg-type]
        direction=np.asarray(g.direction, float)[:, list(axes)],
    )
    return replace(obj, array=np.ascontiguousarray(np.transpose(np.asarray(obj.array), list(axes))),
                   geometry=geom, meta=dict(meta))


def for_display(volume: Volume) -> Volume:
    """``volume`` with its array axes in world order (:func:`display_axes`; the same voxels at the
    same LPS positions), its ``meta["reoriented"]`` saying how; ``volume`` itself when napari can
    draw it as it is."""
    axes = display_axes(volume.geometry)
    if axes is None:
        return volume
    meta = dict(volume.meta or {})
    meta["reoriented"] = {"axes": list(axes), "why": "array axes put in world (z, y, x) order for napari"}
    return _transposed(volume, axes, meta)


def as_acquired(obj: _G, axes: Sequence[int] | None) -> _G:
    """An image or label map on a :func:`for_display` grid (``axes``: its ``meta["reoriented"]["axes"]``)
    back on the acquired grid, whose slices the DICOM files are; ``obj`` itself for ``axes`` None."""
    if not axes:
        return obj
    inverse = [int(a) for a in np.argsort(np.asarray(axes))]
    meta = {k: v for k, v in dict(obj.meta or {}).items() if k != "reoriented"}
    return _transposed(obj, inverse, meta)


def as_displayed(obj: _G, axes: Sequence[int] | None) -> _G:
    """The inverse of :func:`as_acquired`: an image or label map on the acquired grid put on the
    :func:`for_display` grid whose ``meta["reoriented"]["axes"]`` is ``axes`` (the same voxels at
    the same LPS positions); ``obj`` itself for ``axes`` None."""
    if not axes:
        return obj
    return _transposed(obj, [int(a) for a in axes], dict(obj.meta or {}))


def reoriented_axes(obj: Volume | LabelVolume | None) -> list[int] | None:
    """The ``meta["reoriented"]["axes"]`` of a :func:`for_display` volume, else None."""
    info = (obj.meta or {}).get("reoriented") if obj is not None else None
    return [int(a) for a in info["axes"]] if isinstance(info, Mapping) and info.get("axes") else None


def geometry_metadata(geometry: Geometry) -> dict[str, Any]:
    """JSON-able geometry dict (lists of floats) stored in layer metadata."""
    return {
        "shape": [int(v) for v in geometry.shape],
        "spacing": [float(v) for v in geometry.spacing],
        "origin": [float(v) for v in geometry.origin],
        "direction": np.asarray(geometry.direction, float).tolist(),
    }


def geometry_from_metadata(metadata: Mapping[str, Any], what: str = "layer") -> Geometry:
    """The :class:`Geometry` stored by :func:`volume_layer_data` / :func:`labels_layer_data`.

    Raises
    ------
    MissingGeometryError
        When the layer was not created by hcc_imaging (no ``metadata['hcc_imaging']``).
    """
    md = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    if not md or "spacing" not in md:
        raise MissingGeometryError(
            f"{what} has no hcc_imaging geometry in its metadata, so its physical spacing, origin "
            "and direction are unknown and it cannot be written as DICOM or measured in mm. "
            "Open the images with the 'hcc-imaging' reader (viewer.open(path, plugin='hcc-imaging')) "
            "and draw masks/lines on layers made by the hcc-imaging dock."
        )
    return Geometry(
        shape=tuple(md["shape"]),  # type: ignore[arg-type]
        spacing=tuple(md["spacing"]),  # type: ignore[arg-type]
        origin=tuple(md["origin"]),  # type: ignore[arg-type]
        direction=np.asarray(md["direction"], float),
    )


def layer_name(phase: Phase | str, timepoint: str | None) -> str:
    """Layer name ``"<time point> · <phase>"`` (e.g. ``"baseline · arterial"``)."""
    ph = Phase(phase).value if isinstance(phase, (Phase, str)) else str(phase)
    return f"{timepoint} · {ph}" if timepoint else ph


def _base_metadata(obj: Volume | LabelVolume, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    md: dict[str, Any] = geometry_metadata(obj.geometry)
    md["frame_of_reference_uid"] = obj.frame_of_reference_uid
    if extra:
        md.update({k: v for k, v in extra.items() if v is not None})
    return md


def volume_layer_data(
    volume: Volume,
    *,
    timepoint: str | None = None,
    patient_id: str | None = None,
    study_date: str | None = None,
    name: str | None = None,
    contrast_limits: Sequence[float] | None = None,
    visible: bool = True,
) -> tuple[NDArray[Any], dict[str, Any], str]:
    """napari ``LayerDataTuple`` (data, kwargs, "image") for one :class:`Volume`.

    HU values are passed unchanged; CT gets the liver window
    (:data:`hcc_imaging.constants.LIVER_WINDOW_HU`) as contrast limits, MR its 1-99th percentile.
    """
    md = _base_metadata(
        volume,
        {
            "kind": "image",
            "modality": str(volume.modality),
            "phase": str(volume.phase),
            "study_instance_uid": volume.study_instance_uid,
            "series_instance_uid": volume.series_instance_uid,
            "series_description": volume.series_description,
            "timepoint_id": timepoint,
            "patient_id": patient_id,
            "study_date": study_date,
            # DICOM files of the slices (slice order) and their SOP instance UIDs: SEG/SR reference them
            "source_files": [str(f) for f in volume.meta.get("source_files", ())],
            "sop_instance_uids": [str(u) for u in volume.meta.get("sop_instance_uids", ())],
            "sop_class_uid": volume.meta.get("sop_class_uid"),
            "reoriented_axes": reoriented_axes(volume),
        },
    )
    if contrast_limits is None:
        if volume.modality == Modality.CT:
            contrast_limits = LIVER_WINDOW_HU
        else:
            sample = np.asarray(volume.array[:: max(1, volume.shape[0] // 8)], float)
            lo, hi = np.percentile(sample, [1.0, 99.0])
            contrast_limits = (float(lo), float(hi if hi > lo else lo + 1.0))
    kwargs: dict[str, Any] = {
        "name": name or layer_name(volume.phase, timepoint),
        "colormap": "gray",
        "contrast_limits": tuple(float(v) for v in contrast_limits),
        "metadata": {METADATA_KEY: md},
        "visible": visible,
        **layer_transform(volume.geometry),
    }
    return volume.array, kwargs, "image"


def labels_layer_data(
    labels: LabelVolume,
    *,
    name: str = "lesions",
    timepoint: str | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> tuple[NDArray[Any], dict[str, Any], str]:
    """``LayerDataTuple`` for a :class:`LabelVolume` (a writable uint16 copy, same transform)."""
    md = _base_metadata(
        labels,
        {
            "kind": "labels",
            "labels": {str(k): v for k, v in labels.labels.items()},
            "source_series_instance_uid": labels.source_series_instance_uid,
            "timepoint_id": timepoint,
            **(dict(extra_metadata) if extra_metadata else {}),
        },
    )
    data = np.array(labels.array, dtype=np.uint16)
    kwargs = {"name": name, "metadata": {METADATA_KEY: md}, "opacity": 0.45, **layer_transform(labels.geometry)}
    return data, kwargs, "labels"


def volume_from_layer(data: ArrayLike, metadata: Mapping[str, Any], what: str = "image layer") -> Volume:
    """Rebuild a :class:`Volume` from an image layer's data and metadata (writers)."""
    geom = geometry_from_metadata(metadata, what)
    md = metadata[METADATA_KEY]
    arr = np.asarray(data)
    if arr.shape != geom.shape:
        raise MissingGeometryError(
            f"{what}: data shape {arr.shape} differs from the geometry stored in its metadata "
            f"{geom.shape}; the layer was cropped or resliced, so its DICOM geometry is lost. "
            "Re-open the series with the hcc-imaging reader."
        )
    meta = {k: tuple(md[k]) for k in ("source_files", "sop_instance_uids") if md.get(k)}
    if md.get("sop_class_uid"):
        meta["sop_class_uid"] = md["sop_class_uid"]
    if md.get("reoriented_axes"):
        meta["reoriented"] = {"axes": [int(a) for a in md["reoriented_axes"]]}
    return Volume(
        array=arr,
        geometry=geom,
        modality=md.get("modality", "CT"),
        phase=md.get("phase", "unknown"),
        frame_of_reference_uid=md.get("frame_of_reference_uid"),
        study_instance_uid=md.get("study_instance_uid"),
        series_instance_uid=md.get("series_instance_uid"),
        series_description=md.get("series_description", ""),
        meta=meta,
    )


def labels_from_layer(data: ArrayLike, metadata: Mapping[str, Any], what: str = "labels layer") -> LabelVolume:
    """Rebuild a :class:`LabelVolume` from a labels layer's data and metadata (writers)."""
    geom = geometry_from_metadata(metadata, what)
    md = metadata[METADATA_KEY]
    arr = np.asarray(data)
    if arr.shape != geom.shape:
        raise MissingGeometryError(
            f"{what}: data shape {arr.shape} differs from the geometry in its metadata {geom.shape}. "
            "Draw masks on a labels layer created by the hcc-imaging dock (same grid as the image)."
        )
    if arr.dtype.kind not in "iu":
        arr = arr.astype(np.uint16)
    names = {int(k): str(v) for k, v in dict(md.get("labels", {})).items()}
    for value in np.unique(arr):
        if value != 0 and int(value) not in names:
            names[int(value)] = f"L{int(value)}"
    return LabelVolume(
        array=arr,
        geometry=geom,
        labels=names,
        frame_of_reference_uid=md.get("frame_of_reference_uid"),
        source_series_instance_uid=md.get("source_series_instance_uid"),
    )


# ------------------------------------------------------------------------------------------
# Measurement lines <-> Shapes layer data
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LineSpec:
    """One measurement line shown in napari: lesion, axis kind and its LPS endpoints (mm)."""

    lesion_id: str
    axis: str  # "long" | "short" | "viable_long" | "viable_short" | "manual"
    start_lps: tuple[float, float, float]
    end_lps: tuple[float, float, float]

    @property
    def length_mm(self) -> float:
        """Euclidean distance between the endpoints (mm)."""
        return float(np.linalg.norm(np.subtract(self.end_lps, self.start_lps)))


def line_vertices(line: LineSpec, geometry: Geometry) -> NDArray[np.float64]:
    """(2, 3) data (continuous index) coordinates of a line on a layer with ``geometry``."""
    return np.asarray(geometry.lps_to_index(np.array([line.start_lps, line.end_lps])), float)


def line_from_vertices(
    vertices: ArrayLike, geometry: Geometry, *, lesion_id: str, axis: str
) -> LineSpec:
    """A :class:`LineSpec` from (2, 3) Shapes vertices in data (index) coordinates.

    The length is then computed in world mm (``index_to_lps``), never in pixels.
    """
    v = np.asarray(vertices, float)
    if v.shape != (2, 3):
        raise MissingGeometryError(
            f"a measurement line needs exactly 2 vertices of 3 coordinates (slice, row, col), "
            f"got shape {v.shape} for lesion {lesion_id!r}. Draw it with the Shapes 'line' tool."
        )
    p = geometry.index_to_lps(v)
    return LineSpec(lesion_id, axis, tuple(float(x) for x in p[0]), tuple(float(x) for x in p[1]))  # type: ignore[arg-type]


_AXIS_TEXT: Mapping[str, str] = {"long": "LD", "short": "SA", "viable_long": "viable", "viable_short": "viable SA"}


def _line_label(line: LineSpec, lines: Sequence[LineSpec]) -> str:
    """Text of one line: the lesion's lengths on its long axis (or its first line), else empty."""
    same = [ln for ln in lines if ln.lesion_id == line.lesion_id]
    anchor = next((ln for ln in same if ln.axis == "long"), same[0])
    if line is not anchor:
        return ""
    parts = [f"{_AXIS_TEXT.get(ln.axis, ln.axis)} {ln.length_mm:.1f}" for ln in same]
    return f"{line.lesion_id}  " + "  ".join(parts) + " mm"


def lines_layer_data(
    lines: Sequence[LineSpec], geometry: Geometry, *, name: str = "measurements"
) -> tuple[list[NDArray[np.float64]], dict[str, Any], str]:
    """``LayerDataTuple`` of a Shapes layer with one ``line`` per :class:`LineSpec`.

    ``features`` carry ``lesion_id``, ``axis``, ``length_mm`` and ``label``; one label per
    lesion, on its long axis, lists every length (``"L1  LD 31.9  SA 25.8  viable 20.1 mm"``) so
    texts of crossing lines never overlap.
    """
    data = [line_vertices(ln, geometry) for ln in lines]
    features = {
        "lesion_id": [ln.lesion_id for ln in lines],
        "axis": [ln.axis for ln in lines],
        "length_mm": [round(ln.length_mm, 1) for ln in lines],
        "label": [_line_label(ln, lines) for ln in lines],
    }
    kwargs: dict[str, Any] = {
        "name": name,
        "ndim": 3,
        "shape_type": ["line"] * len(lines),
        "edge_color": [LINE_COLOURS.get(ln.axis, "white") for ln in lines],
        "edge_width": 1.5,
        "features": features,
        "text": {
            "string": "{label}",
            "color": "white",
            "size": 9,
            "anchor": "upper_left",
        },
        "metadata": {METADATA_KEY: {"kind": "lines", **geometry_metadata(geometry)}},
        **layer_transform(geometry),
    }
    return data, kwargs, "shapes"

"""One record per lesion: every number the criteria consume, with endpoints and provenance.

:func:`measure_lesion` and :func:`measure_labels` are what the CLI, the batch engine and the
napari plugin call, so the same mask gives the same numbers everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .. import __version__
from ..errors import GeometryMismatchError
from ..volume import LabelVolume, Volume, resample_labels
from . import diameters as _d
from .constants import FRAGMENTS, RIM_EXCLUSION_MM, VIABLE_GAP_VOXELS
from .diameters import AxialDiameter, EmptyMaskError, Reformat, resolve_label
from ._canonical import patient_order
from .fragments import check_fragments, fragments_note, split_frame
from .measurability import RecistMeasurability, mrecist_measurable, recist_measurability
from .viable import analyse_viable, exclude_thin_rims, viable_frame, viable_outside_lesions, viable_outside_message

__all__ = ["Provenance", "LesionMeasurement", "measure_lesion", "measure_labels", "ALGORITHM_NAME"]

log = logging.getLogger(__name__)

#: Name recorded in :class:`Provenance` for measurements made by this module.
ALGORITHM_NAME = "hcc_imaging.measure.measure_lesion"

Point3 = tuple[float, float, float]
Line = tuple[Point3, Point3]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who or what made a measurement: algorithm, version, parameters and source mask."""

    algorithm: str
    version: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source_path: str | None = None
    source_series_instance_uid: str | None = None
    image_series_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "version": self.version,
            "parameters": _jsonable(dict(self.parameters)),
            "source_path": self.source_path,
            "source_series_instance_uid": self.source_series_instance_uid,
            "image_series_instance_uid": self.image_series_instance_uid,
            "frame_of_reference_uid": self.frame_of_reference_uid,
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict | MappingProxyType):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass(frozen=True, slots=True)
class LesionMeasurement:
    """All measurements of one lesion at one time point (mm, mm^2, mm^3; LPS endpoints).

    Diameters use the sub-voxel boundary estimator (:mod:`hcc_imaging.measure.diameters`,
    ``constants.ESTIMATOR``); the
    viable diameter follows the rule in :mod:`hcc_imaging.measure.viable`.  Viable fields are
    ``None`` when no viable mask was given, and ``0.0`` (endpoints ``None``) when the viable
    mask is empty inside the lesion (no enhancing tissue).

    Attributes
    ----------
    lesion_id : str
        Label name (``LabelVolume.labels``) or the label value as text.
    label : int
        Label value in the mask.
    longest_diameter_mm, ld_endpoints_lps, ld_slice_index
        RECIST 1.1 longest axial diameter, its endpoints and the slice (index along
        ``plane_axis`` of the measured label array).
    short_axis_mm, sa_endpoints_lps
        Longest perpendicular diameter on the LD slice (nodes: RECIST short axis).
    feret_3d_mm, feret_endpoints_lps
        3-D Feret diameter.
    volume_mm3
        Voxel count x voxel volume.
    viable_diameter_mm, viable_endpoints_lps, viable_slice_index, viable_short_axis_mm,
    viable_sa_endpoints_lps, viable_volume_mm3
        mRECIST / EASL quantities.
    necrosis_fraction
        1 - viable volume / lesion volume (by voxel count).
    necrosis_fraction_ld_slice
        The same by area on the LD slice (RECICL's necrosis percentage).
    who_product_mm2, easl_product_mm2
        LD x SA (whole lesion) and viable diameter x viable short axis.
    recist_measurability : RecistMeasurability
    mrecist_measurable : bool or None
        None without a viable mask.
    n_fragments : int
        Separate pieces of the label at least ``FRAGMENT_MIN_DIAMETER_MM`` across (1: one lesion).
        With ``fragments="sum"`` and two or more, the lesion is measured as RECIST 1.1's split
        lesion: ``longest_diameter_mm`` (and ``viable_diameter_mm``) is the sum of the
        fragments' (``fragment_diameters_mm``, ``fragment_viable_diameters_mm``), the endpoints,
        slice and short axis those of the longest fragment, ``who_product_mm2`` /
        ``easl_product_mm2`` the sums of the fragments' products, ``feret_3d_mm`` the largest
        fragment Feret diameter; volume and necrosis fraction count the whole label.
        ``fragments_note`` says so (docs/measure.md section 3).
    """

    lesion_id: str
    label: int
    longest_diameter_mm: float
    ld_endpoints_lps: Line
    ld_slice_index: int
    short_axis_mm: float
    sa_endpoints_lps: Line
    feret_3d_mm: float
    feret_endpoints_lps: Line
    volume_mm3: float
    viable_diameter_mm: float | None
    viable_endpoints_lps: Line | None
    viable_slice_index: int | None
    viable_short_axis_mm: float | None
    viable_sa_endpoints_lps: Line | None
    viable_volume_mm3: float | None
    necrosis_fraction: float | None
    necrosis_fraction_ld_slice: float | None
    who_product_mm2: float
    easl_product_mm2: float | None
    is_lymph_node: bool
    slice_thickness_mm: float
    recist_measurability: RecistMeasurability
    mrecist_measurable: bool | None
    plane_axis: int
    provenance: Provenance
    n_fragments: int = 1
    fragment_diameters_mm: tuple[float, ...] | None = None
    fragment_viable_diameters_mm: tuple[float, ...] | None = None
    fragments_note: str | None = None

    @property
    def volume_ml(self) -> float:
        """Volume in mL (output edge only)."""
        return self.volume_mm3 / 1000.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (endpoints as nested lists, enums as strings)."""

        def line(v: Line | None) -> list[list[float]] | None:
            return None if v is None else [list(v[0]), list(v[1])]

        return {
            "lesion_id": self.lesion_id,
            "label": self.label,
            "longest_diameter_mm": self.longest_diameter_mm,
            "ld_endpoints_lps": line(self.ld_endpoints_lps),
            "ld_slice_index": self.ld_slice_index,
            "short_axis_mm": self.short_axis_mm,
            "sa_endpoints_lps": line(self.sa_endpoints_lps),
            "feret_3d_mm": self.feret_3d_mm,
            "feret_endpoints_lps": line(self.feret_endpoints_lps),
            "volume_mm3": self.volume_mm3,
            "viable_diameter_mm": self.viable_diameter_mm,
            "viable_endpoints_lps": line(self.viable_endpoints_lps),
            "viable_slice_index": self.viable_slice_index,
            "viable_short_axis_mm": self.viable_short_axis_mm,
            "viable_sa_endpoints_lps": line(self.viable_sa_endpoints_lps),
            "viable_volume_mm3": self.viable_volume_mm3,
            "necrosis_fraction": self.necrosis_fraction,
            "necrosis_fraction_ld_slice": self.necrosis_fraction_ld_slice,
            "who_product_mm2": self.who_product_mm2,
            "easl_product_mm2": self.easl_product_mm2,
            "is_lymph_node": self.is_lymph_node,
            "slice_thickness_mm": self.slice_thickness_mm,
            "recist_measurability": str(self.recist_measurability),
            "mrecist_measurable": self.mrecist_measurable,
            "plane_axis": self.plane_axis,
            "provenance": self.provenance.to_dict(),
            # (a label of several pieces only: one lesion's record is unchanged)
            **({"n_fragments": self.n_fragments,
                "fragment_diameters_mm": None if self.fragment_diameters_mm is None else list(self.fragment_diameters_mm),
                "fragment_viable_diameters_mm": None if self.fragment_viable_diameters_mm is None
                else list(self.fragment_viable_diameters_mm),
                "fragments_note": self.fragments_note} if self.n_fragments > 1 else {}),
        }


def _check_same_grid(a: LabelVolume | Volume, b: LabelVolume, what: str) -> None:
    if not b.geometry_equal(a):
        raise GeometryMismatchError(
            f"measure_lesion: the {what} (shape {a.shape}, spacing {tuple(round(s, 3) for s in a.spacing)}) "
            f"is not on the lesion mask's grid (shape {b.shape}, spacing "
            f"{tuple(round(s, 3) for s in b.spacing)}); voxels cannot be paired. Resample it "
            "onto the mask (resample_labels / resample_volume) or pass masks drawn on the same series."
        )


def _slice_thickness(labels: LabelVolume, image: Volume | None, plane_axis: int) -> float:
    for src in (image.meta if image is not None else {}, labels.meta):
        v = src.get("slice_thickness_mm")
        if v is not None:
            try:
                f = float(v)
            except (TypeError, ValueError):
                continue
            if f > 0:
                return f
    return float(labels.spacing[plane_axis])


def _line(d: AxialDiameter | None) -> Line | None:
    return None if d is None else d.endpoints_lps


def _geometry(frame: _d.AxialFrame, vv: LabelVolume | None, viable_gap_voxels: float, rim_exclusion_mm: float) -> tuple[Any, ...]:
    """LD core, short axis, 3-D Feret and viable analysis of one frame (a lesion or a fragment)."""
    core = _d._core(frame, feret=True)
    sa = _d._short_axis_from_core(frame, core)
    feret = _d._feret_from_core(frame, core)
    va = None
    if vv is not None:
        ld_k = int(core.hulls.slices[core.ld_pos])
        va = analyse_viable(
            frame, vv, gap_voxels=viable_gap_voxels, ld_slice_frame=ld_k, rim_exclusion_mm=rim_exclusion_mm,
            core=core,
        )
    return core, sa, feret, va


def _first_max(values: list[float]) -> int:
    """The first of the values within 1e-9 mm of the largest: fragments measuring the same (up to
    rounding, which differs between array layouts) go by their (patient) order."""
    top = max(values)
    return next(i for i, x in enumerate(values) if x >= top - 1e-9)


def _measure_one(
    labels: LabelVolume,
    value: int,
    lesion_id: str,
    *,
    viable: LabelVolume | None,
    image: Volume | None,
    is_lymph_node: bool,
    reformat: Reformat,
    slice_thickness_mm: float | None,
    well_delineated: bool,
    viable_gap_voxels: float,
    source: str | None,
    bbox: tuple[slice, slice, slice] | None,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
    fragments: str = FRAGMENTS,
) -> LesionMeasurement:
    frame = _d.patient_frame(labels, value, reformat=reformat, bbox=bbox)
    reformatted = frame.labels is not labels
    split = split_frame(frame)  # None: one piece (the common case)
    if split is not None and len(split[0]) > 1:
        # equal fragments in patient order: the one that gives the endpoints, the LD slice and
        # the viable short axis then does not depend on how the series was stored
        split = (patient_order(frame, split[0]), split[1], split[2])
    n_frag = 1 if split is None else max(len(split[0]), 1)
    by_parts = split is not None and fragments == "sum" and len(split[0]) >= 1
    frames = split[0] if by_parts and split is not None else [frame]
    n_lesion = int(np.count_nonzero(frame.mask))
    vox = frame.labels.voxel_volume_mm3
    volume = float(n_lesion * vox)
    thickness = slice_thickness_mm if slice_thickness_mm is not None else _slice_thickness(labels, image, frame.plane_axis)
    vv = None
    if viable is not None:
        vv = resample_labels(viable, frame.labels) if reformatted else viable
    parts = [_geometry(f, vv, viable_gap_voxels, rim_exclusion_mm) for f in frames]
    lds = [p[0].ld.length_mm for p in parts]
    main = _first_max(lds)  # the longest fragment gives the endpoints, slice and short axis
    core, sa, _feret, va = parts[main]
    ld_mm = sum(lds) if len(parts) > 1 else lds[0]
    who = sum(p[0].ld.length_mm * p[1].length_mm for p in parts) if len(parts) > 1 else core.ld.length_mm * sa.length_mm
    ferets = [p[2].length_mm for p in parts]
    feret = parts[_first_max(ferets)][2]

    v_d = v_sa = None
    v_vol = nf = nf_ld = easl = None
    v_mm = v_sa_mm = None
    v_frag: tuple[float, ...] | None = None
    if vv is not None:
        vas = [p[3] for p in parts]
        vls = [a.diameter.length_mm if a.diameter is not None else 0.0 for a in vas]
        vmain = _first_max(vls)
        v_d, v_sa = vas[vmain].diameter, vas[vmain].short_axis
        if by_parts:  # the whole label's viable voxels (the specks' too), as its volume
            n_viable = int(np.count_nonzero(exclude_thin_rims(viable_frame(frame, vv), frame.spacing, rim_exclusion_mm)))
        else:
            n_viable = va.viable_voxels
        v_vol = float(n_viable * vox)
        nf = 1.0 - n_viable / n_lesion
        if va.lesion_voxels_on_slice:
            nf_ld = 1.0 - (va.viable_voxels_on_slice or 0) / va.lesion_voxels_on_slice
        if len(parts) > 1:
            v_mm = sum(vls)
            v_sa_mm = v_sa.length_mm if v_sa is not None else 0.0
            easl = sum(a.diameter.length_mm * a.short_axis.length_mm for a in vas
                       if a.diameter is not None and a.short_axis is not None)
            v_frag = tuple(vls)
        else:
            v_mm = v_d.length_mm if v_d is not None else 0.0
            v_sa_mm = v_sa.length_mm if v_sa is not None else 0.0
            easl = v_mm * v_sa_mm
    enhancing = None if viable is None else bool(v_vol)
    note = None
    if n_frag >= 2 and split is not None:
        note = fragments_note(lesion_id, n_frag, split[2], fragments, lds if by_parts else [])
        log.warning("%s", note)
    prov = Provenance(
        algorithm=ALGORITHM_NAME,
        version=__version__,
        parameters={
            **_d.ALGORITHM,
            "viable_rule": "longest axial segment between viable voxel centres staying in viable voxels",
            "viable_gap_voxels": viable_gap_voxels,
            "rim_exclusion_mm": rim_exclusion_mm,
            "reformat": str(reformat),
            "reformatted_to_axial": reformatted,
            "spacing_mm": list(frame.labels.spacing),
            "slice_thickness_mm": thickness,
            "well_delineated": well_delineated,
            **({"fragments": fragments} if split is not None else {}),
        },
        source_path=source if source is not None else _meta_path(labels),
        source_series_instance_uid=labels.source_series_instance_uid,
        image_series_instance_uid=image.series_instance_uid if image is not None else None,
        frame_of_reference_uid=labels.frame_of_reference_uid,
    )
    return LesionMeasurement(
        lesion_id=lesion_id,
        label=int(value),
        longest_diameter_mm=ld_mm,
        ld_endpoints_lps=core.ld.endpoints_lps,
        ld_slice_index=core.ld.slice_index,
        short_axis_mm=sa.length_mm,
        sa_endpoints_lps=sa.endpoints_lps,
        feret_3d_mm=feret.length_mm,
        feret_endpoints_lps=feret.endpoints_lps,
        volume_mm3=volume,
        viable_diameter_mm=v_mm,
        viable_endpoints_lps=_line(v_d),
        viable_slice_index=None if v_d is None else v_d.slice_index,
        viable_short_axis_mm=v_sa_mm,
        viable_sa_endpoints_lps=_line(v_sa),
        viable_volume_mm3=v_vol,
        necrosis_fraction=nf,
        necrosis_fraction_ld_slice=nf_ld,
        who_product_mm2=who,
        easl_product_mm2=easl,
        is_lymph_node=is_lymph_node,
        slice_thickness_mm=thickness,
        recist_measurability=recist_measurability(
            ld_mm, slice_thickness_mm=thickness, is_lymph_node=is_lymph_node, short_axis_mm=sa.length_mm
        ),
        mrecist_measurable=None
        if viable is None
        else mrecist_measurable(v_mm or 0.0, enhancing=bool(enhancing), well_delineated=well_delineated),
        plane_axis=core.ld.plane_axis,
        provenance=prov,
        n_fragments=n_frag,
        fragment_diameters_mm=tuple(lds) if by_parts and len(parts) > 1 else None,
        fragment_viable_diameters_mm=v_frag,
        fragments_note=note,
    )


def _meta_path(labels: LabelVolume) -> str | None:
    for key in ("source_path", "path", "filename"):
        v = labels.meta.get(key)
        if v:
            return str(v)
    return None


def measure_lesion(
    labels: LabelVolume,
    label: int | str | None,
    *,
    viable: LabelVolume | None = None,
    image: Volume | None = None,
    is_lymph_node: bool = False,
    reformat: Reformat | str = Reformat.ERROR,
    slice_thickness_mm: float | None = None,
    well_delineated: bool = True,
    viable_gap_voxels: float = VIABLE_GAP_VOXELS,
    source: str | None = None,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
    fragments: str = FRAGMENTS,
) -> LesionMeasurement:
    """Measure one lesion: RECIST LD + short axis, 3-D Feret, volume, mRECIST/EASL/WHO, necrosis.

    Parameters
    ----------
    labels : LabelVolume
        Lesion label map (label value = lesion).
    label : int or str or None
        Label value or lesion name; None only when the map holds a single label.
    viable : LabelVolume, optional
        Viable (arterially enhancing) sub-mask on the same grid; non-zero = viable.  It is
        intersected with the lesion.  Without it the viable fields are None.
    image : Volume, optional
        The image the mask was drawn on (same grid): its series UID is recorded, and its
        ``meta["slice_thickness_mm"]`` is used for RECIST measurability.
    is_lymph_node : bool
        RECIST measurability by short axis (nodes).
    reformat : {"error", "axial"}
        Coronal/oblique grids: refuse (default) or resample to an axial grid first.
    slice_thickness_mm : float, optional
        For the RECIST minimum size; default: image/labels ``meta["slice_thickness_mm"]``, else
        the slice spacing across the axial plane.
    well_delineated : bool
        Reader's mRECIST eligibility input (ill-defined/infiltrative lesions are not targets).
    viable_gap_voxels : float
        Gap tolerance of the viable-diameter rule (in-plane voxels).
    source : str, optional
        Source mask path or UID to record (default: ``labels.meta["source_path"]``).
    rim_exclusion_mm : float
        Remove viable structures thinner than this (mm, in-plane) before the viable
        measurements; 0 (default) measures the viable mask as given.
    fragments : {"sum", "hull"}
        A label of several separate pieces: ``"sum"`` (default) measures RECIST 1.1's split
        lesion, the fragments' diameters summed (:mod:`hcc_imaging.measure.fragments`);
        ``"hull"`` measures it as one object.  Either way a warning names it.

    Raises
    ------
    EmptyMaskError
        The label has no voxel.
    MeasurementPlaneError
        Not an axial grid and ``reformat="error"``.
    GeometryMismatchError
        ``viable`` or ``image`` on another grid.

    Examples
    --------
    >>> import numpy as np
    >>> from hcc_imaging.volume import LabelVolume
    >>> z, y, x = np.mgrid[-12:13, -12:13, -12:13]
    >>> ball = ((z * z + y * y + x * x) <= 10.0 ** 2).astype(np.uint8)  # radius 10 mm
    >>> m = measure_lesion(LabelVolume.create(ball, spacing=(1, 1, 1), labels={1: "L1"}), "L1")
    >>> round(m.longest_diameter_mm, 1), round(m.short_axis_mm, 1), str(m.recist_measurability)
    (20.1, 20.1, 'measurable')
    """
    mode = _d.reformat_mode(reformat)
    fragments = check_fragments(fragments)
    if viable is not None:
        _check_same_grid(viable, labels, "viable mask")
        for lid, (n_out, n) in viable_outside_lesions(labels, viable).items():
            log.warning("%s", viable_outside_message(lid, n_out, n))
    if image is not None:
        _check_same_grid(image, labels, "image")
    value, lesion_id = resolve_label(labels, label)
    if value is None:
        raise EmptyMaskError(
            f"measure_lesion(label=None) is ambiguous: the label volume holds labels "
            f"{labels.present_labels()}, and one lesion is measured at a time. Pass label= one "
            "value or name, or call measure_labels() to measure them all."
        )
    return _measure_one(
        labels,
        value,
        lesion_id,
        viable=viable,
        image=image,
        is_lymph_node=is_lymph_node,
        reformat=mode,
        slice_thickness_mm=slice_thickness_mm,
        well_delineated=well_delineated,
        viable_gap_voxels=viable_gap_voxels,
        source=source,
        bbox=None,
        rim_exclusion_mm=rim_exclusion_mm,
        fragments=fragments,
    )


def measure_labels(
    labels: LabelVolume,
    viable: LabelVolume | None = None,
    *,
    image: Volume | None = None,
    lymph_nodes: frozenset[int | str] | set[int | str] = frozenset(),
    reformat: Reformat | str = Reformat.ERROR,
    slice_thickness_mm: float | None = None,
    viable_gap_voxels: float = VIABLE_GAP_VOXELS,
    source: str | None = None,
    rim_exclusion_mm: float = RIM_EXCLUSION_MM,
    fragments: str = FRAGMENTS,
) -> list[LesionMeasurement]:
    """Measure every label present in ``labels`` (sorted by label value).

    One pass finds every lesion's bounding box (``scipy.ndimage.find_objects``), so a large
    label map is scanned once.  ``lymph_nodes`` lists label values or names that are nodes.
    Other parameters as in :func:`measure_lesion`.  A ``viable`` mask more than
    :data:`~hcc_imaging.measure.constants.VIABLE_OUTSIDE_MAX_FRACTION` of whose voxels (of a label
    value) lie outside every lesion is measured all the same, with a warning naming the lesion and
    the fraction (:func:`~hcc_imaging.measure.viable.viable_outside_lesions`).
    """
    from scipy import ndimage

    mode = _d.reformat_mode(reformat)
    fragments = check_fragments(fragments)
    if viable is not None:
        _check_same_grid(viable, labels, "viable mask")
        for lid, (n_out, n) in viable_outside_lesions(labels, viable).items():
            log.warning("%s", viable_outside_message(lid, n_out, n))
    if image is not None:
        _check_same_grid(image, labels, "image")
    arr = labels.array
    present = labels.present_labels()
    boxes: dict[int, tuple[slice, slice, slice]] = {}
    if present and min(present) > 0 and max(present) < 65536:
        # find_objects wants a signed or small integer array; values < 65536 fit in int32
        wide_unsigned = arr.dtype.kind == "u" and arr.dtype.itemsize >= 4
        objs = ndimage.find_objects(arr.astype(np.int32) if wide_unsigned else arr)
        for v in present:
            bb = objs[v - 1]
            if bb is not None:
                boxes[v] = bb  # type: ignore[assignment]
    out = []
    for v in present:
        _, lesion_id = resolve_label(labels, v)
        node = v in lymph_nodes or lesion_id in lymph_nodes
        out.append(
            _measure_one(
                labels,
                v,
                lesion_id,
                viable=viable,
                image=image,
                is_lymph_node=node,
                reformat=mode,
                slice_thickness_mm=slice_thickness_mm,
                well_delineated=True,
                viable_gap_voxels=viable_gap_voxels,
                source=source,
                bbox=boxes.get(v),
                rim_exclusion_mm=rim_exclusion_mm,
                fragments=fragments,
            )
        )
    return out

"""Geometry-true image and label volumes: the conventions of hcc_imaging, stated once.

Conventions (also in ``docs/conventions.md``)
---------------------------------------------
* **World** = DICOM patient coordinates, **LPS**, in mm (x grows to the patient's Left,
  y to Posterior, z to Superior).
* **Array axes** = ``(slice, row, col)``, written ``(k, j, i)``.  Never "x, y, z" for indices.
* ``spacing`` = mm between voxel centres along ``(slice, row, col)``.  DICOM PixelSpacing is
  (row, col); slice spacing comes from ImagePositionPatient projected on the slice normal,
  never from SliceThickness.
* ``origin`` = LPS position of the **centre** of voxel ``(0, 0, 0)``.
* ``direction`` = 3x3 orthonormal matrix; **column m is the LPS unit vector of array axis m**
  (column 0 = slice axis, 1 = row axis (down the image), 2 = col axis (across the image)).
* Index ``(k, j, i)`` maps to ``origin + direction @ (spacing * (k, j, i))``.  A lesion n voxels
  across is ``n * spacing`` long edge to edge; diameters in :mod:`hcc_imaging.measure` use
  voxel centres (see ``docs/conventions.md``).
* SimpleITK's (x, y, z) = (col, row, slice) order is converted in exactly one place:
  :meth:`Volume.to_sitk` / :meth:`Volume.from_sitk` here.
* Units are in names: ``_mm``, ``_mm2``, ``_mm3``, ``_hu``; mL only at output edges (``_ml``).

Objects are frozen and their arrays read-only; ``with_*`` methods return new objects.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._slice_meta import cropped_slice_meta
from .constants import AXIAL_TOL, ORTHONORMAL_TOL
from .errors import GeometryMismatchError, MissingGeometryError

if TYPE_CHECKING:  # pragma: no cover
    import SimpleITK as sitk

__all__ = [
    "Modality",
    "Phase",
    "Geometry",
    "Volume",
    "LabelVolume",
    "AXIAL_DIRECTION",
    "ARTERIAL_PREFERENCE",
]

#: Direction of a standard axial CT: slices go S->I or I->S along z, rows go A->P (+y),
#: columns go R->L (+x).  Column order is (slice, row, col).
AXIAL_DIRECTION: NDArray[np.float64] = np.array(
    [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
)


class Modality(enum.StrEnum):
    """Imaging modality; HU rules apply to CT only."""

    CT = "CT"
    MR = "MR"
    OTHER = "OT"


class Phase(enum.StrEnum):
    """Contrast phase of a series (DESIGN section 3, io)."""

    PRE_CONTRAST = "pre_contrast"
    ARTERIAL_EARLY = "arterial_early"
    ARTERIAL_LATE = "arterial_late"
    ARTERIAL = "arterial"
    PORTAL_VENOUS = "portal_venous"
    DELAYED = "delayed"
    TRANSITIONAL = "transitional"
    HEPATOBILIARY = "hepatobiliary"
    UNKNOWN = "unknown"

    @property
    def is_arterial(self) -> bool:
        return self in (Phase.ARTERIAL, Phase.ARTERIAL_EARLY, Phase.ARTERIAL_LATE)


#: The arterial phases in the order an HCC's enhancement is read from when several are given
#: (late arterial first): the viable part's phase (the CLI, the batch, the napari dock) and step
#: 13's layer phase.
ARTERIAL_PREFERENCE: tuple[Phase, ...] = (Phase.ARTERIAL_LATE, Phase.ARTERIAL, Phase.ARTERIAL_EARLY)


def _as_vec3(value: ArrayLike, name: str, positive: bool = False) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise MissingGeometryError(
            f"{name} must be 3 finite numbers in (slice, row, col) order, got {value!r}. "
            "Pass the value read from the DICOM header or from the mask's reference image."
        )
    if positive and np.any(arr <= 0):
        raise MissingGeometryError(
            f"{name} must be > 0 mm on every axis, got {tuple(arr)}. "
            "A zero or negative spacing usually means duplicate slice positions; "
            "reload the series with hcc_imaging.io.load_series, which checks positions."
        )
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def _as_direction(value: ArrayLike) -> NDArray[np.float64]:
    d = np.asarray(value, dtype=np.float64)
    if d.shape == (9,):
        d = d.reshape(3, 3)
    if d.shape != (3, 3) or not np.all(np.isfinite(d)):
        raise MissingGeometryError(
            f"direction must be a 3x3 matrix (column m = LPS unit vector of array axis m), got shape {d.shape}."
        )
    err = np.abs(d.T @ d - np.eye(3)).max()
    if err > ORTHONORMAL_TOL:
        raise MissingGeometryError(
            f"direction is not orthonormal (max |D^T D - I| = {err:.2g} > {ORTHONORMAL_TOL}). "
            "Sheared grids (e.g. gantry tilt) must be resampled first: "
            "load with hcc_imaging.io.load_series(..., on_tilt='resample')."
        )
    d = d.copy()
    d.setflags(write=False)
    return d


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    if a.flags.writeable:
        a = a.view()
        a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True, eq=False)
class Geometry:
    """A sampling grid in patient space: shape, spacing, origin and direction.

    Parameters
    ----------
    shape : tuple of 3 int
        Number of voxels along (slice, row, col).
    spacing : tuple of 3 float, mm
        Distance between voxel centres along (slice, row, col).
    origin : tuple of 3 float, mm
        LPS position of the centre of voxel (0, 0, 0).
    direction : (3, 3) float array
        Column m is the LPS unit vector of array axis m.
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: NDArray[np.float64] = field(default_factory=lambda: AXIAL_DIRECTION.copy())

    def __post_init__(self) -> None:
        shp = tuple(int(s) for s in self.shape)
        if len(shp) != 3 or any(s < 1 for s in shp):
            raise MissingGeometryError(f"shape must be 3 positive ints (slice, row, col), got {self.shape!r}.")
        object.__setattr__(self, "shape", shp)
        object.__setattr__(self, "spacing", _as_vec3(self.spacing, "spacing", positive=True))
        object.__setattr__(self, "origin", _as_vec3(self.origin, "origin"))
        object.__setattr__(self, "direction", _as_direction(self.direction))

    # -- transforms -------------------------------------------------------------------
    @property
    def affine(self) -> NDArray[np.float64]:
        """4x4 matrix mapping homogeneous (k, j, i, 1) to (x, y, z, 1) in LPS mm."""
        a = np.eye(4)
        a[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        a[:3, 3] = self.origin
        return a

    def index_to_lps(self, index: ArrayLike) -> NDArray[np.float64]:
        """Map (..., 3) continuous indices (k, j, i) to (..., 3) LPS points in mm."""
        idx = np.asarray(index, dtype=np.float64)
        m = self.direction * np.asarray(self.spacing)[None, :]
        return idx @ m.T + np.asarray(self.origin)

    def lps_to_index(self, point: ArrayLike) -> NDArray[np.float64]:
        """Map (..., 3) LPS points in mm to continuous indices (k, j, i) (inverse of index_to_lps)."""
        p = np.asarray(point, dtype=np.float64) - np.asarray(self.origin)
        # D is orthonormal: inverse = D^T; then divide by spacing.
        return (p @ self.direction) / np.asarray(self.spacing)

    def lps_to_nearest_index(self, point: ArrayLike) -> tuple[int, int, int]:
        """Nearest voxel index of one LPS point; raises if it is outside the grid."""
        idx = np.rint(self.lps_to_index(point)).astype(int).reshape(-1)
        if np.any(idx < 0) or np.any(idx >= np.asarray(self.shape)):
            raise ValueError(
                f"LPS point {tuple(np.round(np.asarray(point, float).reshape(-1), 2).tolist())} mm is outside "
                f"the volume (index {tuple(idx)}, shape {self.shape})."
            )
        return (int(idx[0]), int(idx[1]), int(idx[2]))

    # -- properties -------------------------------------------------------------------
    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def slice_normal(self) -> NDArray[np.float64]:
        """LPS unit vector of the slice axis (axis 0)."""
        return np.asarray(self.direction[:, 0])

    @property
    def is_axial(self) -> bool:
        """True when the slice axis is parallel to the patient S-I axis (in-plane = patient axial)."""
        return bool(abs(abs(self.direction[2, 0]) - 1.0) <= AXIAL_TOL)

    @property
    def extent_lps(self) -> NDArray[np.float64]:
        """(8, 3) LPS positions of the eight corner voxel centres."""
        s = np.asarray(self.shape) - 1
        corners = np.array([[a, b, c] for a in (0, s[0]) for b in (0, s[1]) for c in (0, s[2])], float)
        return self.index_to_lps(corners)

    def equals(self, other: Geometry, atol_mm: float = 1e-3, atol_dir: float = 1e-4) -> bool:
        """Same shape, spacing, origin and direction within tolerances."""
        if other is self:
            # the phases of one study share their grid; every value is finite (validated), so the
            # comparisons below would hold (np.allclose was ~80 us a call, ~17 calls per click)
            return True
        if self.shape != other.shape:
            return False
        if (self.spacing == other.spacing and self.origin == other.origin
                and bool((self.direction == other.direction).all())):
            # equal values on distinct objects (each phase of a study read into its own Geometry):
            # equal finite values lie within any (non-negative) tolerance, so the comparisons below
            # would hold (their three np.allclose were ~80 us a call, 8 calls a rind click; this
            # check ~2 us; session of 2026-12-07, third)
            return True
        return (
            np.allclose(self.spacing, other.spacing, atol=atol_mm)
            and np.allclose(self.origin, other.origin, atol=atol_mm)
            and np.allclose(self.direction, other.direction, atol=atol_dir)
        )

    def crop(self, start: Sequence[int], stop: Sequence[int]) -> Geometry:
        """Sub-grid ``[start, stop)`` along each axis with the matching origin."""
        st = np.asarray(start, int)
        sp = np.asarray(stop, int)
        return Geometry(
            shape=tuple(int(v) for v in sp - st),  # type: ignore[arg-type]
            spacing=self.spacing,
            origin=tuple(self.index_to_lps(st.astype(float))),  # type: ignore[arg-type]
            direction=self.direction,
        )


class _Gridded:
    """Shared geometry accessors of Volume and LabelVolume (they store a Geometry)."""

    __slots__ = ()
    geometry: Geometry
    array: NDArray[Any]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.geometry.shape

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.geometry.spacing

    @property
    def origin(self) -> tuple[float, float, float]:
        return self.geometry.origin

    @property
    def direction(self) -> NDArray[np.float64]:
        return self.geometry.direction

    @property
    def affine(self) -> NDArray[np.float64]:
        return self.geometry.affine

    @property
    def voxel_volume_mm3(self) -> float:
        return self.geometry.voxel_volume_mm3

    def index_to_lps(self, index: ArrayLike) -> NDArray[np.float64]:
        return self.geometry.index_to_lps(index)

    def lps_to_index(self, point: ArrayLike) -> NDArray[np.float64]:
        return self.geometry.lps_to_index(point)

    def geometry_equal(self, other: _Gridded, atol_mm: float = 1e-3) -> bool:
        return self.geometry.equals(other.geometry, atol_mm=atol_mm)


def _geometry_from(array: NDArray[Any], spacing: Any, origin: Any, direction: Any) -> Geometry:
    if array.ndim != 3:
        raise MissingGeometryError(
            f"volumes are 3-D (slice, row, col); got an array of shape {array.shape}. "
            "Wrap a single slice as array[None] with its slice spacing."
        )
    if spacing is None:
        raise MissingGeometryError(
            "spacing is required (mm along slice, row, col); measurements in pixels are not supported."
        )
    return Geometry(
        shape=array.shape,  # type: ignore[arg-type]
        spacing=spacing,
        origin=(0.0, 0.0, 0.0) if origin is None else origin,
        direction=AXIAL_DIRECTION if direction is None else direction,
    )


@dataclass(frozen=True, slots=True, eq=False)
class Volume(_Gridded):
    """A scalar image volume (CT in HU, MR in arbitrary units) in DICOM patient space.

    Construct with :meth:`Volume.create` (keyword geometry) or directly with a
    :class:`Geometry`.  The array is stored read-only; compare two volumes with
    :meth:`geometry_equal` and ``np.array_equal``.

    Examples
    --------
    >>> import numpy as np
    >>> v = Volume.create(np.zeros((2, 3, 4), np.int16), spacing=(5.0, 0.7, 0.7))
    >>> v.index_to_lps([1, 0, 0]).tolist()
    [0.0, 0.0, 5.0]
    """

    array: NDArray[Any]
    geometry: Geometry
    modality: Modality = Modality.CT
    phase: Phase = Phase.UNKNOWN
    frame_of_reference_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    series_description: str = ""
    #: Free-form provenance (e.g. source files, decoder); never patient names.
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.dtype == bool or arr.dtype.kind not in "iuf":
            raise TypeError(
                f"Volume needs a numeric array (HU as int16 or float), got dtype {arr.dtype}. "
                "Masks belong in a LabelVolume."
            )
        if arr.shape != self.geometry.shape:
            raise GeometryMismatchError(
                f"array shape {arr.shape} does not match geometry shape {self.geometry.shape}."
            )
        object.__setattr__(self, "array", _readonly(arr))
        object.__setattr__(self, "modality", Modality(self.modality))
        object.__setattr__(self, "phase", Phase(self.phase))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @classmethod
    def create(
        cls,
        array: ArrayLike,
        spacing: Sequence[float] | None,
        origin: Sequence[float] | None = None,
        direction: ArrayLike | None = None,
        **kwargs: Any,
    ) -> Volume:
        """Build a Volume from an array and keyword geometry (origin 0, axial direction by default)."""
        arr = np.asarray(array)
        return cls(array=arr, geometry=_geometry_from(arr, spacing, origin, direction), **kwargs)

    def with_array(self, array: ArrayLike) -> Volume:
        """Same geometry and identifiers, new voxel values (same shape)."""
        return replace(self, array=np.asarray(array))

    def with_phase(self, phase: Phase | str) -> Volume:
        return replace(self, phase=Phase(phase))

    def crop(self, start: Sequence[int], stop: Sequence[int]) -> Volume:
        """Sub-volume ``[start, stop)`` with the matching origin (a view, no copy); ``meta``'s slice
        numbers and per-slice lists (``source_files``, ``sop_instance_uids``) follow the crop
        (``_slice_meta``)."""
        sl = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
        return replace(self, array=self.array[sl], geometry=self.geometry.crop(start, stop),
                       meta=cropped_slice_meta(self.meta, start, stop, self.shape))

    # -- SimpleITK conversion: the ONE place where (x, y, z) <-> (slice, row, col) flips ---------
    def to_sitk(self) -> sitk.Image:
        """SimpleITK image with the same geometry (ITK order x=col, y=row, z=slice)."""
        return _to_sitk(self.array, self.geometry)

    @classmethod
    def from_sitk(cls, image: sitk.Image, **kwargs: Any) -> Volume:
        """Volume from a SimpleITK image (array copied, geometry converted)."""
        arr, geom = _from_sitk(image)
        return cls(array=arr, geometry=geom, **kwargs)


@dataclass(frozen=True, slots=True, eq=False)
class LabelVolume(_Gridded):
    """An integer label map on a patient-space grid: 0 = background, label -> name.

    ``labels`` maps each label value to its name (a lesion id such as ``"L1"``).  Always
    resampled nearest-neighbour.  Boolean arrays are refused (see the error for the two fixes).
    """

    array: NDArray[Any]
    geometry: Geometry
    labels: Mapping[int, str] = field(default_factory=dict)
    frame_of_reference_uid: str | None = None
    #: UID of the image series this mask was drawn on, when known.
    source_series_instance_uid: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.dtype == bool:
            raise TypeError(
                "LabelVolume got a boolean array; labels must be integers. "
                "Use mask.astype(np.uint8) for a single lesion (label 1), or "
                "scipy.ndimage.label(mask)[0] to give each connected component its own label."
            )
        if arr.dtype.kind not in "iu":
            raise TypeError(f"LabelVolume needs an integer array, got dtype {arr.dtype}.")
        if arr.shape != self.geometry.shape:
            raise GeometryMismatchError(
                f"label array shape {arr.shape} does not match geometry shape {self.geometry.shape}."
            )
        object.__setattr__(self, "array", _readonly(arr))
        labels = {int(k): str(v) for k, v in dict(self.labels).items()}
        object.__setattr__(self, "labels", MappingProxyType(labels))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @classmethod
    def create(
        cls,
        array: ArrayLike,
        spacing: Sequence[float] | None,
        origin: Sequence[float] | None = None,
        direction: ArrayLike | None = None,
        **kwargs: Any,
    ) -> LabelVolume:
        arr = np.asarray(array)
        return cls(array=arr, geometry=_geometry_from(arr, spacing, origin, direction), **kwargs)

    @classmethod
    def like(cls, reference: Volume | LabelVolume | Geometry, array: ArrayLike, **kwargs: Any) -> LabelVolume:
        """A label map on the grid of ``reference`` (frame of reference copied when known)."""
        geom = reference if isinstance(reference, Geometry) else reference.geometry
        if not isinstance(reference, Geometry):
            kwargs.setdefault("frame_of_reference_uid", reference.frame_of_reference_uid)
        if isinstance(reference, Volume):
            kwargs.setdefault("source_series_instance_uid", reference.series_instance_uid)
        return cls(array=np.asarray(array), geometry=geom, **kwargs)

    def with_array(self, array: ArrayLike) -> LabelVolume:
        return replace(self, array=np.asarray(array))

    def mask(self, label: int | str | None = None) -> NDArray[np.bool_]:
        """Boolean mask of one label (value or name), or of all non-zero labels."""
        if label is None:
            return np.asarray(self.array != 0)
        if isinstance(label, str):
            inv = {v: k for k, v in self.labels.items()}
            if label not in inv:
                raise KeyError(f"no label named {label!r}; known: {sorted(inv)}")
            label = inv[label]
        return np.asarray(self.array == int(label))

    def present_labels(self) -> list[int]:
        """Sorted non-zero label values that occur in the array."""
        vals = np.unique(self.array)
        return [int(v) for v in vals if v != 0]

    def crop(self, start: Sequence[int], stop: Sequence[int]) -> LabelVolume:
        sl = tuple(slice(int(a), int(b)) for a, b in zip(start, stop, strict=True))
        return replace(self, array=self.array[sl], geometry=self.geometry.crop(start, stop),
                       meta=cropped_slice_meta(self.meta, start, stop, self.shape))

    def to_sitk(self) -> sitk.Image:
        return _to_sitk(self.array, self.geometry)

    @classmethod
    def from_sitk(cls, image: sitk.Image, **kwargs: Any) -> LabelVolume:
        arr, geom = _from_sitk(image)
        return cls(array=arr, geometry=geom, **kwargs)

    def resample_to(self, reference: Volume | LabelVolume | Geometry) -> LabelVolume:
        """Nearest-neighbour resampling onto another grid (labels never blended)."""
        return resample_labels(self, reference)


# ------------------------------------------------------------------------------------------
# SimpleITK conversion and resampling helpers
# ------------------------------------------------------------------------------------------
def _to_sitk(array: NDArray[Any], geom: Geometry) -> sitk.Image:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(tuple(float(s) for s in geom.spacing[::-1]))
    img.SetOrigin(tuple(float(o) for o in geom.origin))
    # ITK direction: column c = LPS vector of ITK axis c (x=col, y=row, z=slice).
    d_itk = np.asarray(geom.direction)[:, ::-1]
    img.SetDirection(tuple(float(v) for v in d_itk.reshape(-1)))
    return img


def _from_sitk(image: sitk.Image) -> tuple[NDArray[Any], Geometry]:
    import SimpleITK as sitk

    if image.GetDimension() != 3:
        raise MissingGeometryError(f"expected a 3-D SimpleITK image, got {image.GetDimension()}-D.")
    arr = sitk.GetArrayFromImage(image)
    d_itk = np.asarray(image.GetDirection(), float).reshape(3, 3)
    geom = Geometry(
        shape=arr.shape,  # type: ignore[arg-type]
        spacing=tuple(image.GetSpacing())[::-1],  # type: ignore[arg-type]
        origin=tuple(image.GetOrigin()),  # type: ignore[arg-type]
        direction=d_itk[:, ::-1],
    )
    return arr, geom


def _reference_image(reference: Volume | LabelVolume | Geometry) -> sitk.Image:
    import SimpleITK as sitk

    geom = reference if isinstance(reference, Geometry) else reference.geometry
    ref = sitk.Image([int(s) for s in geom.shape[::-1]], sitk.sitkUInt8)
    ref.SetSpacing(tuple(float(s) for s in geom.spacing[::-1]))
    ref.SetOrigin(tuple(float(o) for o in geom.origin))
    ref.SetDirection(tuple(float(v) for v in np.asarray(geom.direction)[:, ::-1].reshape(-1)))
    return ref


def _resample(
    image: sitk.Image, reference: Volume | LabelVolume | Geometry, interpolator: int, default: float, transform: Any
) -> tuple[NDArray[Any], Geometry]:
    """SimpleITK resampling of ``image`` onto ``reference``'s grid -> (array, geometry)."""
    import SimpleITK as sitk

    out = sitk.Resample(
        image,
        _reference_image(reference),
        transform if transform is not None else sitk.Transform(),
        interpolator,
        default,
        sitk.sitkUnknown,
    )
    return _from_sitk(out)


def resample_volume(
    volume: Volume,
    reference: Volume | LabelVolume | Geometry,
    *,
    interpolation: str = "linear",
    default_hu: float = -1024.0,
    transform: Any = None,
) -> Volume:
    """Resample ``volume`` onto the grid of ``reference`` (SimpleITK), keeping its identifiers.

    Parameters
    ----------
    interpolation : {"linear", "nearest", "bspline"}
    default_hu : float
        Value outside the source volume (air for CT).
    transform : SimpleITK.Transform, optional
        Maps points of the reference space to the source space (ITK convention).
    """
    import SimpleITK as sitk

    interps = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor, "bspline": sitk.sitkBSpline}
    if interpolation not in interps:
        raise ValueError(f"interpolation={interpolation!r} is not one of {sorted(interps)}.")
    arr, geom = _resample(volume.to_sitk(), reference, interps[interpolation], float(default_hu), transform)
    if np.issubdtype(volume.array.dtype, np.integer) and interpolation != "nearest":
        arr = np.rint(arr).astype(volume.array.dtype)
    return replace(volume, array=arr.astype(volume.array.dtype, copy=False), geometry=geom)


def resample_labels(
    labels: LabelVolume, reference: Volume | LabelVolume | Geometry, *, transform: Any = None
) -> LabelVolume:
    """Nearest-neighbour resampling of a label map onto another grid."""
    import SimpleITK as sitk

    arr, geom = _resample(labels.to_sitk(), reference, sitk.sitkNearestNeighbor, 0.0, transform)
    return replace(labels, array=arr.astype(labels.array.dtype, copy=False), geometry=geom)


def axial_reformat_geometry(geom: Geometry, spacing_mm: Sequence[float] | None = None) -> Geometry:
    """An axis-aligned axial grid (direction = AXIAL_DIRECTION) covering ``geom``'s extent.

    Used to measure RECIST diameters of coronal/oblique acquisitions in the patient axial
    plane.  ``spacing_mm`` defaults to the finest in-plane spacing for rows/cols and the
    coarsest for slices.
    """
    pts = geom.extent_lps
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if spacing_mm is None:
        fine = min(geom.spacing)
        coarse = max(geom.spacing)
        spacing_mm = (coarse, fine, fine)
    sp = np.asarray(spacing_mm, float)
    # axes (slice, row, col) = (z, y, x) in LPS
    size_zyx = np.floor((hi[::-1] - lo[::-1]) / sp + 1e-6).astype(int) + 1
    return Geometry(shape=tuple(int(s) for s in size_zyx), spacing=tuple(sp), origin=tuple(lo), direction=AXIAL_DIRECTION)  # type: ignore[arg-type]

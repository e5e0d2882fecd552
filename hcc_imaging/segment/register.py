"""Image registration (SimpleITK): phase to phase within a study, follow-up to baseline.

:func:`register_volumes` estimates a transform that maps **fixed** LPS points to **moving**
LPS points (the ITK convention, the one resampling needs), by maximising Mattes mutual
information, rigid first (Euler 3-D: 3 rotations + 3 translations) and then, optionally,
affine (12 parameters), on a multi-resolution pyramid, restricted to a fixed-image mask (e.g.
the liver) when one is given.

The result is a frozen :class:`Registration`: the transform as a 3x3 matrix, a translation and
a centre (p_moving = M (p_fixed - c) + c + t), serialisable to JSON, with methods to move
points, lines, volumes and label maps from the moving to the fixed space.

:func:`register_translation` (an exhaustive translation search over a small region of two phases, for
``viable_mask``) is :mod:`._translation`'s, imported here.

References: Mattes D et al., IEEE TMI 2003;22:120-128 (mutual information);
SimpleITK ``ImageRegistrationMethod`` (Lowekamp et al., Front Neuroinform 2013).
"""

from __future__ import annotations

import enum
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..volume import LabelVolume, Volume, resample_labels, resample_volume
from . import _kernels
from . import constants as C
from ._translation import register_translation
from .errors import RegistrationError

__all__ = ["TransformKind", "RegistrationParams", "Registration", "register_volumes", "register_translation",
           "lesion_centre_lps", "registration_problems"]

log = logging.getLogger(__name__)


class TransformKind(enum.StrEnum):
    """What was optimised: a translation (:func:`register_translation`), rigid only, or rigid then affine."""

    IDENTITY = "identity"
    TRANSLATION = "translation"
    RIGID = "rigid"
    AFFINE = "affine"


@dataclass(frozen=True, slots=True)
class RegistrationParams:
    """Optimiser settings (defaults and sources in :mod:`hcc_imaging.segment.constants`)."""

    shrink_factors: tuple[int, ...] = C.REGISTRATION_SHRINK_FACTORS
    smoothing_sigmas_mm: tuple[float, ...] = C.REGISTRATION_SMOOTHING_SIGMAS_MM
    iterations: int = C.REGISTRATION_ITERATIONS
    sampling_fraction: float = C.REGISTRATION_SAMPLING_FRACTION
    histogram_bins: int = C.REGISTRATION_HISTOGRAM_BINS
    random_seed: int = C.REGISTRATION_RANDOM_SEED
    learning_rate_mm: float = C.REGISTRATION_LEARNING_RATE_MM
    min_step_mm: float = C.REGISTRATION_MIN_STEP_MM
    mask_dilation_mm: float = C.REGISTRATION_MASK_DILATION_MM
    min_samples: int = C.REGISTRATION_MIN_SAMPLES
    optimizer: str = "regular_step"
    #: Register block means of the images on voxels of about this size (mm; None: the images as
    #: given): the pyramid then starts from a small grid instead of smoothing the full one.
    work_spacing_mm: float | None = None

    @classmethod
    def carry(cls) -> RegistrationParams:
        """The settings for carrying a lesion's centre to another time point: the images' block
        means on ``REGISTRATION_CARRY_WORK_SPACING_MM`` voxels and a three-level pyramid
        (``REGISTRATION_CARRY_*``; on a 512 x 512 x 100 study several times faster than the full
        registration, the point within about half a millimetre)."""
        return cls(shrink_factors=C.REGISTRATION_CARRY_SHRINK_FACTORS,
                   smoothing_sigmas_mm=C.REGISTRATION_CARRY_SMOOTHING_SIGMAS_MM,
                   work_spacing_mm=C.REGISTRATION_CARRY_WORK_SPACING_MM)

    def __post_init__(self) -> None:
        if len(self.shrink_factors) != len(self.smoothing_sigmas_mm) or not self.shrink_factors:
            raise RegistrationError(
                "RegistrationParams.shrink_factors and smoothing_sigmas_mm need the same, non-zero number of "
                f"levels; got {self.shrink_factors} and {self.smoothing_sigmas_mm}."
            )
        if not (0.0 < self.sampling_fraction <= 1.0):
            raise RegistrationError(f"RegistrationParams.sampling_fraction must be in (0, 1], got {self.sampling_fraction}.")


@dataclass(frozen=True, slots=True, eq=False)
class Registration:
    """A transform between two images of the same patient, with its provenance.

    ``matrix``, ``translation_mm`` and ``center_mm`` define the ITK-convention map from fixed
    to moving LPS points: p_moving = matrix @ (p_fixed - center) + center + translation.

    Attributes
    ----------
    kind : TransformKind
    matrix : (3, 3) float array
    translation_mm, center_mm : tuple of 3 float, mm
    fixed_frame_of_reference_uid, moving_frame_of_reference_uid : str or None
    fixed_series_instance_uid, moving_series_instance_uid : str or None
    metric_value : float
        Mattes mutual information of the transform kept (negative; lower is better), on the finest
        level's images, mask and samples (``parameters["metric_at_start"]``: the same figure for
        the starting transform; ``parameters["stage_metrics"]``: for each stage's result).
    elapsed_s : float
    parameters : dict
        Optimiser settings used, and whether a mask was used.
    """

    kind: TransformKind
    matrix: NDArray[np.float64]
    translation_mm: tuple[float, float, float]
    center_mm: tuple[float, float, float]
    fixed_frame_of_reference_uid: str | None = None
    moving_frame_of_reference_uid: str | None = None
    fixed_series_instance_uid: str | None = None
    moving_series_instance_uid: str | None = None
    metric_value: float = 0.0
    elapsed_s: float = 0.0
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, float).reshape(3, 3)
        if not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-6:
            raise RegistrationError(f"Registration matrix must be finite and invertible, got {m.tolist()}.")
        m = m.copy()
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "kind", TransformKind(self.kind))
        object.__setattr__(self, "translation_mm", tuple(float(v) for v in np.asarray(self.translation_mm).reshape(3)))
        object.__setattr__(self, "center_mm", tuple(float(v) for v in np.asarray(self.center_mm).reshape(3)))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def identity(cls, fixed: Volume | None = None, moving: Volume | None = None) -> Registration:
        """The identity transform (images already aligned)."""
        return cls(
            kind=TransformKind.IDENTITY,
            matrix=np.eye(3),
            translation_mm=(0.0, 0.0, 0.0),
            center_mm=(0.0, 0.0, 0.0),
            fixed_frame_of_reference_uid=fixed.frame_of_reference_uid if fixed else None,
            moving_frame_of_reference_uid=moving.frame_of_reference_uid if moving else None,
            fixed_series_instance_uid=fixed.series_instance_uid if fixed else None,
            moving_series_instance_uid=moving.series_instance_uid if moving else None,
        )

    def to_sitk(self) -> Any:
        """The transform as a SimpleITK ``AffineTransform`` (fixed -> moving points)."""
        import SimpleITK as sitk

        tx = sitk.AffineTransform(3)
        tx.SetMatrix(tuple(float(v) for v in self.matrix.reshape(-1)))
        tx.SetTranslation(self.translation_mm)
        tx.SetCenter(self.center_mm)
        return tx

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable record (``from_json`` inverts it)."""
        return {
            "schema": "hcc_imaging.registration/1",
            "kind": str(self.kind),
            "matrix": self.matrix.tolist(),
            "translation_mm": list(self.translation_mm),
            "center_mm": list(self.center_mm),
            "fixed_frame_of_reference_uid": self.fixed_frame_of_reference_uid,
            "moving_frame_of_reference_uid": self.moving_frame_of_reference_uid,
            "fixed_series_instance_uid": self.fixed_series_instance_uid,
            "moving_series_instance_uid": self.moving_series_instance_uid,
            "metric_value": self.metric_value,
            "elapsed_s": self.elapsed_s,
            "parameters": self.parameters,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> Registration:
        """Rebuild a Registration from :meth:`to_json` output (dict or JSON text)."""
        d = json.loads(data) if isinstance(data, str) else dict(data)
        if d.get("schema") != "hcc_imaging.registration/1":
            raise RegistrationError(
                f"not a registration record (schema {d.get('schema')!r}); expected 'hcc_imaging.registration/1'."
            )
        try:
            return cls(
                kind=TransformKind(d["kind"]),
                matrix=np.asarray(d["matrix"], float),
                translation_mm=tuple(d["translation_mm"]),  # type: ignore[arg-type]
                center_mm=tuple(d["center_mm"]),  # type: ignore[arg-type]
                fixed_frame_of_reference_uid=d.get("fixed_frame_of_reference_uid"),
                moving_frame_of_reference_uid=d.get("moving_frame_of_reference_uid"),
                fixed_series_instance_uid=d.get("fixed_series_instance_uid"),
                moving_series_instance_uid=d.get("moving_series_instance_uid"),
                metric_value=float(d.get("metric_value", 0.0)),
                elapsed_s=float(d.get("elapsed_s", 0.0)),
                parameters=dict(d.get("parameters", {})),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise RegistrationError(f"registration record is incomplete or malformed: {err}") from err

    # -- mapping ------------------------------------------------------------------------------
    def map_to_moving(self, points_lps: ArrayLike) -> NDArray[np.float64]:
        """Map (..., 3) fixed-space LPS points (mm) to moving space."""
        p = np.asarray(points_lps, float)
        c = np.asarray(self.center_mm)
        return (p - c) @ self.matrix.T + c + np.asarray(self.translation_mm)

    def map_to_fixed(self, points_lps: ArrayLike) -> NDArray[np.float64]:
        """Map (..., 3) moving-space LPS points (mm) to fixed space (inverse transform)."""
        p = np.asarray(points_lps, float)
        c = np.asarray(self.center_mm)
        inv = np.linalg.inv(self.matrix)
        return (p - c - np.asarray(self.translation_mm)) @ inv.T + c

    def map_line_to_fixed(self, line_lps: ArrayLike) -> NDArray[np.float64]:
        """Map a line (2 x 3 LPS endpoints, mm) drawn on the moving image to fixed space."""
        line = np.asarray(line_lps, float).reshape(2, 3)
        return self.map_to_fixed(line)

    def inverse(self) -> Registration:
        """The registration the other way: fixed and moving swapped (the inverse transform), to move
        an image or mask of this registration's fixed side onto its moving side's grid."""
        inv = np.linalg.inv(self.matrix)
        return replace(
            self, matrix=inv, translation_mm=tuple(-(inv @ np.asarray(self.translation_mm))),
            fixed_frame_of_reference_uid=self.moving_frame_of_reference_uid,
            moving_frame_of_reference_uid=self.fixed_frame_of_reference_uid,
            fixed_series_instance_uid=self.moving_series_instance_uid,
            moving_series_instance_uid=self.fixed_series_instance_uid,
            parameters={**self.parameters, "inverted": not self.parameters.get("inverted", False)},
        )

    def _check_sides(self, moving: Volume | LabelVolume, reference: Volume | LabelVolume, what: str) -> None:
        """Refuse a ``moving`` image or mask that is not on this registration's moving side, or a
        ``reference`` not on its fixed side (frames of reference compared when both are known; the
        phases of one study share theirs, so a registration between them is never refused)."""
        fixed_for, moving_for = self.fixed_frame_of_reference_uid, self.moving_frame_of_reference_uid
        way = (f"this registration maps the moving image's frame of reference ({moving_for or 'unknown'}, series "
               f"{self.moving_series_instance_uid or 'unknown'}) onto the fixed image's ({fixed_for or 'unknown'}, "
               f"series {self.fixed_series_instance_uid or 'unknown'})")
        m_for, r_for = moving.frame_of_reference_uid, reference.frame_of_reference_uid
        if m_for and moving_for and m_for != moving_for:
            back = (" It is on the fixed side: to move it onto the moving image, use registration.inverse()."
                    f"{what}(...)." if m_for == fixed_for else " Register that image first.")
            raise RegistrationError(
                f"Registration.{what}: the {type(moving).__name__} given as moving is in frame of reference {m_for}, "
                f"but {way}.{back}")
        if r_for and fixed_for and r_for != fixed_for:
            back = (" It is on the moving side: to move a mask or image onto it, use registration.inverse()."
                    f"{what}(...)." if r_for == moving_for else " Pass an image of the fixed study as reference.")
            raise RegistrationError(
                f"Registration.{what}: the reference grid is in frame of reference {r_for}, but {way}.{back}")

    def resample_volume(self, moving: Volume, reference: Volume | LabelVolume, *, interpolation: str = "linear") -> Volume:
        """Resample the moving ``Volume`` onto ``reference``'s grid (fixed space).

        The result carries the reference's frame of reference (it now lives in fixed space).

        Raises
        ------
        RegistrationError
            ``moving`` is in another frame of reference than the registration's moving image, or
            ``reference`` than its fixed image (when both are known): e.g. the two swapped, which
            moved the image twice the registration's shift the wrong way.  :meth:`inverse` maps
            the other way.
        """
        self._check_sides(moving, reference, "resample_volume")
        out = resample_volume(moving, reference, interpolation=interpolation, transform=self.to_sitk())
        return replace(out, frame_of_reference_uid=reference.frame_of_reference_uid or out.frame_of_reference_uid)

    def resample_labels(self, moving: LabelVolume, reference: Volume | LabelVolume) -> LabelVolume:
        """Move a label map drawn on the moving image onto ``reference``'s grid (nearest neighbour).

        Raises
        ------
        RegistrationError
            As :meth:`resample_volume`: the mask is not on the moving side, or ``reference`` not on
            the fixed side (a baseline mask moved "to" the follow-up with the baseline -> follow-up
            registration landed twice the shift away, silently).
        """
        self._check_sides(moving, reference, "resample_labels")
        out = resample_labels(moving, reference, transform=self.to_sitk())
        return replace(out, frame_of_reference_uid=reference.frame_of_reference_uid or out.frame_of_reference_uid)

    def residual_mm(self, other: Registration, points_lps: ArrayLike) -> NDArray[np.float64]:
        """Distance (mm) between where this and ``other`` send the same fixed points."""
        return np.linalg.norm(self.map_to_moving(points_lps) - other.map_to_moving(points_lps), axis=-1)


def _mask_image(mask: LabelVolume, like: Volume, dilation_mm: float) -> Any:
    """The metric mask on ``like``'s grid, dilated by ``dilation_mm`` so the organ's edges count."""
    import SimpleITK as sitk

    if not mask.geometry.equals(like.geometry):
        mask = mask.resample_to(like)
    m = mask.array != 0
    if not m.any():
        raise RegistrationError("fixed_mask is empty on the fixed image grid; pass a mask that covers the organ.")
    if dilation_mm > 0:
        # distance transform, not binary_dilation: a 20 mm ball at 1 mm is a 17,000-voxel element
        m = _kernels.distance_transform_edt(~m, like.spacing) <= dilation_mm
    # keep the metric away from the image border: samples near it map outside the moving image
    # as soon as the transform moves, which biases mutual information towards moving them out
    edge = np.ceil(C.REGISTRATION_BORDER_MARGIN_MM / np.asarray(like.spacing)).astype(int)
    inner = np.zeros_like(m)
    inner[tuple(slice(int(e), max(int(e), n - int(e))) for e, n in zip(edge, m.shape, strict=True))] = True
    if np.any(m & inner):
        m = m & inner
    img = LabelVolume.like(like, m.astype(np.uint8)).to_sitk()
    return sitk.Cast(img, sitk.sitkUInt8)


def _centroid_lps(mask: LabelVolume) -> NDArray[np.float64] | None:
    idx = np.argwhere(mask.array != 0)
    if idx.size == 0:
        return None
    return mask.index_to_lps(idx.mean(axis=0))


def lesion_centre_lps(mask: LabelVolume, label: int | None = None) -> NDArray[np.float64]:
    """The LPS point (mm) of the lesion's voxel nearest its centroid: a point inside the lesion even
    when it is not convex (a crescent's centroid lies outside it), the seed a lesion is carried to
    another time point with (``Registration.map_to_moving``, the napari dock's "Propagate",
    ``hcc-imaging segment --from-mask``).  ``label``: the lesion's value (default: every nonzero
    voxel).  Raises ``SegmentationError`` for an empty mask, and for label 0 (the background, not a
    lesion)."""
    from .errors import SegmentationError

    if label is not None and int(label) == 0:
        raise SegmentationError("label 0 is the mask's background, not a lesion: give a lesion's label (e.g. "
                                "--from-label 1), or none to carry every nonzero voxel as one lesion.")
    arr = np.asarray(mask.array)
    idx = np.argwhere(arr != 0 if label is None else arr == label)
    if idx.size == 0:
        what = "no lesion voxels" if label is None else f"no voxels of label {label}"
        raise SegmentationError(f"the mask has {what}: nothing to carry to another time point.")
    centre = idx[np.argmin(((idx - idx.mean(0)) ** 2).sum(1))]
    return np.asarray(mask.index_to_lps(centre.astype(float)), float).reshape(3)


def _sample_points(mask: LabelVolume | Volume, n_max: int, *, nonzero: bool = True) -> NDArray[np.float64]:
    """Up to ``n_max`` LPS points (mm) of ``mask``'s nonzero voxels (every voxel when ``nonzero`` is
    False), evenly strided."""
    arr = np.asarray(mask.array)
    idx = np.argwhere(arr != 0) if nonzero else np.argwhere(np.ones(arr.shape, bool))
    if len(idx) > n_max:
        idx = idx[:: int(np.ceil(len(idx) / n_max))]
    return np.asarray(mask.index_to_lps(idx.astype(float)), float).reshape(-1, 3)


def _inside(geom_owner: LabelVolume | Volume, points_lps: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each point lies within ``geom_owner``'s field (half a voxel beyond the centres)."""
    ijk = np.asarray(geom_owner.lps_to_index(points_lps), float).reshape(-1, 3)
    return np.all((ijk > -0.5) & (ijk < np.asarray(geom_owner.shape) - 0.5), axis=1)


def _hits(mask: LabelVolume, points_lps: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each point (inside ``mask``'s field) lands on a nonzero voxel of ``mask``."""
    ijk = np.rint(np.asarray(mask.lps_to_index(points_lps), float).reshape(-1, 3)).astype(int)
    ijk = np.clip(ijk, 0, np.asarray(mask.shape) - 1)
    return np.asarray(mask.array)[ijk[:, 0], ijk[:, 1], ijk[:, 2]] != 0


def registration_problems(
    reg: Registration,
    fixed: Volume,
    moving: Volume,
    *,
    fixed_mask: LabelVolume | None = None,
    moving_mask: LabelVolume | None = None,
    points_lps: ArrayLike | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Whether ``reg`` (``fixed`` -> ``moving``) can be trusted to carry points: the reasons it is
    suspect (empty when none) and the figures they rest on.

    * The metric: above ``REGISTRATION_SUSPECT_METRIC`` the images share almost no information
      (a follow-up of noise, of another body part: Mattes MI near 0).
    * The field: less than ``REGISTRATION_MIN_FIELD_FRACTION`` of ``fixed_mask`` (else of the
      points carried, ``points_lps``; else of the middle half of the fixed image) lands inside the
      moving image (the follow-up covers another range, or the transform sent it away).
    * The organ overlap, when both masks are given (the two studies' livers): less than
      ``REGISTRATION_MIN_MASK_OVERLAP`` of either mask, where the other image covers it, lands in
      the other mask (the liver on the other side: another patient, a mirrored series; a
      registration stuck centimetres off).

    The thresholds are loose: the registrations of the tests and the sample data pass them by a
    wide margin (docs/validation.md section 4); a failed one is seldom subtle.
    """
    n = C.REGISTRATION_CHECK_POINTS
    figures: dict[str, Any] = {"metric": round(float(reg.metric_value), 4)}
    problems: list[str] = []
    if reg.kind not in (TransformKind.IDENTITY, TransformKind.TRANSLATION) and reg.metric_value > C.REGISTRATION_SUSPECT_METRIC:
        problems.append(f"the images hardly match after registration (mutual information {reg.metric_value:.3f}, "
                        f"above {C.REGISTRATION_SUSPECT_METRIC}: 0 is no shared information)")
    src = fixed_mask if fixed_mask is not None and np.any(fixed_mask.array) else None
    if src is not None:
        pts, what = _sample_points(src, n), "the first study's liver"
    elif points_lps is not None and np.size(points_lps):
        pts, what = np.asarray(points_lps, float).reshape(-1, 3), "the points carried"
    else:
        pts = _sample_points(fixed.crop(*[(np.asarray(fixed.shape) * f).astype(int) for f in (0.25, 0.75)]), n,
                             nonzero=False)
        what = "the middle of the first image"
    inside = _inside(moving, reg.map_to_moving(pts))
    figures["field_fraction"] = round(float(inside.mean()), 3) if len(pts) else None
    if len(pts) and inside.mean() < C.REGISTRATION_MIN_FIELD_FRACTION:
        problems.append(f"only {100 * inside.mean():.0f} % of {what} lands inside the other image's field after "
                        f"registration (at least {100 * C.REGISTRATION_MIN_FIELD_FRACTION:.0f} % expected)")
    if src is not None and moving_mask is not None and np.any(moving_mask.array):
        fwd = reg.map_to_moving(pts)
        in_m = _inside(moving_mask, fwd)
        a = float(_hits(moving_mask, fwd[in_m]).mean()) if in_m.any() else 0.0
        mpts = _sample_points(moving_mask, n)
        back = reg.map_to_fixed(mpts)
        in_f = _inside(src, back)
        b = float(_hits(src, back[in_f]).mean()) if in_f.any() else 0.0
        figures["mask_overlap"] = round(min(a, b), 3)
        if min(a, b) < C.REGISTRATION_MIN_MASK_OVERLAP:
            problems.append(f"the two livers overlap poorly after registration ({100 * a:.0f} % of the first study's "
                            f"liver lands in the other's, {100 * b:.0f} % the other way; at least "
                            f"{100 * C.REGISTRATION_MIN_MASK_OVERLAP:.0f} % expected)")
    return problems, figures


def register_volumes(
    fixed: Volume,
    moving: Volume,
    *,
    kind: TransformKind | str = TransformKind.RIGID,
    fixed_mask: LabelVolume | None = None,
    moving_mask: LabelVolume | None = None,
    initial: str = "auto",
    params: RegistrationParams | None = None,
) -> Registration:
    """Register ``moving`` to ``fixed`` (rigid, or rigid then affine) with mutual information.

    Parameters
    ----------
    fixed, moving : Volume
        E.g. arterial (fixed) and pre-contrast (moving) of one study, or baseline (fixed) and
        follow-up (moving) across time points.
    kind : {"rigid", "affine"}
        "affine" runs the rigid stage first and refines it with a 12-parameter affine stage.
    fixed_mask : LabelVolume, optional
        Region (e.g. the liver, dilated) where the metric is evaluated; the liver moves with
        breathing independently of the spine, so a liver mask gives a liver-true transform.
    moving_mask : LabelVolume, optional
        Used only to initialise (centroid alignment) when frames of reference differ.
    initial : {"auto", "identity", "geometry", "centroid"}
        Starting transform.  "auto": identity when both images share a known frame of
        reference (scanner coordinates already agree up to motion); otherwise centroid of the
        masks when both are given, else the image centres (geometry).
    params : RegistrationParams, optional

    Returns
    -------
    Registration
    """
    import SimpleITK as sitk

    t0 = time.perf_counter()
    p = params or RegistrationParams()
    kind = TransformKind(kind)
    if kind == TransformKind.IDENTITY:
        return Registration.identity(fixed, moving)
    if p.work_spacing_mm:
        # block means on a coarse grid (the transform is in mm, so it holds for the given images)
        fixed, moving = _coarse(fixed, p.work_spacing_mm), _coarse(moving, p.work_spacing_mm)
        fixed_mask = None if fixed_mask is None else fixed_mask.resample_to(fixed)
        moving_mask = None if moving_mask is None else moving_mask.resample_to(moving)
    if initial not in ("auto", "identity", "geometry", "centroid"):
        raise RegistrationError(f"initial must be 'auto', 'identity', 'geometry' or 'centroid', got {initial!r}.")
    for role, v in (("fixed", fixed), ("moving", moving)):
        if min(v.shape) < C.REGISTRATION_MIN_VOXELS_PER_AXIS:
            grid = f" on the {p.work_spacing_mm:g} mm work grid" if p.work_spacing_mm else ""
            raise RegistrationError(
                f"the {role} image (series {v.series_instance_uid or 'unknown'}) is {v.shape[0]} x {v.shape[1]} x "
                f"{v.shape[2]} voxels{grid}: too few for a registration, which needs at least "
                f"{C.REGISTRATION_MIN_VOXELS_PER_AXIS} voxels along every axis (slices too). Register a series that "
                "covers the organ (a volume, not a few slices), or place the point by hand.")
    F = sitk.Cast(fixed.to_sitk(), sitk.sitkFloat32)
    M = sitk.Cast(moving.to_sitk(), sitk.sitkFloat32)
    same_for = bool(fixed.frame_of_reference_uid) and fixed.frame_of_reference_uid == moving.frame_of_reference_uid
    mode = initial
    if mode == "auto":
        mode = "identity" if same_for else ("centroid" if fixed_mask is not None and moving_mask is not None else "geometry")
    rigid = sitk.Euler3DTransform()
    if mode == "geometry":
        rigid = sitk.Euler3DTransform(
            sitk.CenteredTransformInitializer(F, M, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY)
        )
        if fixed_mask is not None:
            # rotate about the organ (the initial rotation is zero, so moving the centre keeps the
            # transform): rotation and translation are then nearly decoupled for the optimiser
            cm = _centroid_lps(fixed_mask)
            if cm is not None:
                rigid.SetCenter(tuple(float(v) for v in cm))
    else:
        centre = fixed.index_to_lps((np.asarray(fixed.shape) - 1) / 2.0)
        if fixed_mask is not None:
            cm = _centroid_lps(fixed_mask)
            if cm is not None:
                centre = cm
        rigid.SetCenter(tuple(float(v) for v in centre))
        if mode == "centroid":
            if fixed_mask is None or moving_mask is None:
                raise RegistrationError("initial='centroid' needs both fixed_mask= and moving_mask=.")
            cf, cmv = _centroid_lps(fixed_mask), _centroid_lps(moving_mask)
            if cf is None or cmv is None:
                raise RegistrationError("initial='centroid': a mask is empty; pass non-empty liver masks.")
            rigid.SetTranslation(tuple(float(v) for v in cmv - cf))

    mask_img = _mask_image(fixed_mask, fixed, p.mask_dilation_mm) if fixed_mask is not None else None
    n_vox = float(np.prod(fixed.shape))
    if mask_img is not None:
        n_vox = float(np.count_nonzero(sitk.GetArrayViewFromImage(mask_img)))
    # each level samples at least min_samples voxels (coarse levels hold few voxels, and a masked
    # metric fewer still: too few samples make mutual information noisy and the optimiser wander)
    fractions = [
        float(min(1.0, max(p.sampling_fraction, p.min_samples / max(n_vox / float(f) ** 3, 1.0))))
        for f in p.shrink_factors
    ]
    n_all = float(np.prod(fixed.shape))
    fractions_global = [
        float(min(1.0, max(p.sampling_fraction, p.min_samples / max(n_all / float(f) ** 3, 1.0))))
        for f in p.shrink_factors
    ]

    def run(initial_tx: Any, fr_all: list[float], masked: bool = True, levels: slice = slice(None)) -> tuple[Any, float]:
        shrink = list(p.shrink_factors)[levels]
        sigmas = list(p.smoothing_sigmas_mm)[levels]
        fr = fr_all[levels]
        R = sitk.ImageRegistrationMethod()
        R.SetMetricAsMattesMutualInformation(numberOfHistogramBins=p.histogram_bins)
        R.SetMetricSamplingStrategy(R.RANDOM)
        R.SetMetricSamplingPercentagePerLevel(fr, p.random_seed)
        # sparse random samples: evaluate image gradients at the samples only, instead of
        # filtering the whole moving and fixed images at every pyramid level (seconds per call
        # on a 512 x 512 x 100 series, for the same result)
        R.MetricUseMovingImageGradientFilterOff()
        R.MetricUseFixedImageGradientFilterOff()
        R.SetInterpolator(sitk.sitkLinear)
        if p.optimizer == "gradient_descent":
            R.SetOptimizerAsGradientDescent(
                learningRate=p.learning_rate_mm, numberOfIterations=p.iterations, convergenceMinimumValue=1e-6,
                convergenceWindowSize=10, estimateLearningRate=R.Once, maximumStepSizeInPhysicalUnits=p.learning_rate_mm,
            )
        else:
            # the first step in mm of physical shift (estimated once per level): a fixed learning
            # rate is a step of that length in parameter units, and once the translations sit at
            # their optimum it all goes into the rotations or the affine matrix (2 matrix units:
            # the 12 deg tilted follow-up's rigid result spoilt by 20 mm in the first iterations)
            R.SetOptimizerAsRegularStepGradientDescent(
                learningRate=p.learning_rate_mm, minStep=p.min_step_mm, numberOfIterations=p.iterations,
                relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8, estimateLearningRate=R.Once,
                maximumStepSizeInPhysicalUnits=p.learning_rate_mm,
            )
        R.SetOptimizerScalesFromPhysicalShift()
        iters: list[int] = []
        R.AddCommand(sitk.sitkEndEvent, lambda: iters.append(int(R.GetOptimizerIteration())))
        R.SetShrinkFactorsPerLevel(shrink)
        R.SetSmoothingSigmasPerLevel(sigmas)
        R.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
        if masked and mask_img is not None:
            R.SetMetricFixedMask(mask_img)
        R.SetInitialTransform(initial_tx, inPlace=False)
        try:
            out = R.Execute(F, M)
        except RuntimeError as err:
            raise RegistrationError(
                f"registration of series {moving.series_instance_uid or '?'} to {fixed.series_instance_uid or '?'} "
                f"failed in SimpleITK: {err}. Check that the images overlap (initial=), or pass a fixed_mask= "
                "covering the organ of interest."
            ) from err
        log.debug("registration stage: %s iterations, stop: %s", iters, R.GetOptimizerStopConditionDescription())
        return out, float(R.GetMetricValue())

    def evaluate(tx: Any) -> float:
        """The metric of ``tx`` on the finest level's images, mask and samples: the one figure every
        stage's result (and the start) is compared on."""
        R = sitk.ImageRegistrationMethod()
        R.SetMetricAsMattesMutualInformation(numberOfHistogramBins=p.histogram_bins)
        R.SetMetricSamplingStrategy(R.RANDOM)
        R.SetMetricSamplingPercentage(fractions[-1] if mask_img is not None else fractions_global[-1], p.random_seed)
        R.SetInterpolator(sitk.sitkLinear)
        if mask_img is not None:
            R.SetMetricFixedMask(mask_img)
        R.SetInitialTransform(tx)
        try:
            return float(R.MetricEvaluate(F_eval, M_eval))
        except RuntimeError:  # no sample lands in the moving image: the worst value there is
            return 0.0

    sigma = float(p.smoothing_sigmas_mm[-1])
    F_eval = sitk.SmoothingRecursiveGaussian(F, sigma) if sigma > 0 else F
    M_eval = sitk.SmoothingRecursiveGaussian(M, sigma) if sigma > 0 else M
    metric_start = evaluate(rigid)
    stages = []
    if mask_img is not None and len(p.shrink_factors) > 1:
        # 1) global rigid on the coarse levels (the whole image: robust capture range), then
        # 2) rigid refined inside the (dilated) organ mask on the finer levels.  A masked metric
        # alone, started far away, can settle in a local optimum (seen on the phantoms).
        tx0, _ = run(rigid, fractions_global, masked=False, levels=slice(0, -1))
        tx0 = sitk.CompositeTransform(tx0).GetNthTransform(0) if tx0.GetName() == "CompositeTransform" else tx0
        rigid = sitk.Euler3DTransform(tx0)
        stages.append("rigid_global_coarse")
        tx, _ = run(rigid, fractions, masked=True, levels=slice(1, None))
        stages.append("rigid_masked")
        fine = slice(1, None)
        # a stage that leaves the metric worse than the one before it (on the same finest-level
        # images, mask and samples) wandered off a good result: the earlier result is kept
        tx = sitk.CompositeTransform(tx).GetNthTransform(0) if tx.GetName() == "CompositeTransform" else tx
        m_new, m_old = evaluate(tx), evaluate(rigid)
        stage_metrics = {"rigid_global_coarse": m_old, "rigid_masked": m_new}
        m_kept = m_new
        if m_new > m_old + C.REGISTRATION_STAGE_METRIC_TOL:
            tx, stages[-1], m_kept = rigid, "rigid_masked_rejected", m_old
            log.info("registration: the masked rigid stage made the metric worse (%.3f -> %.3f); kept the global one",
                     m_old, m_new)
    else:
        tx, _ = run(rigid, fractions if mask_img is not None else fractions_global)
        stages.append("rigid")
        fine = slice(None)
        tx = sitk.CompositeTransform(tx).GetNthTransform(0) if tx.GetName() == "CompositeTransform" else tx
        stage_metrics = {"rigid": evaluate(tx)}
        m_kept = stage_metrics["rigid"]
    euler = sitk.Euler3DTransform(tx) if tx.GetName() == "Euler3DTransform" else tx
    affine = sitk.AffineTransform(3)
    affine.SetCenter(euler.GetCenter())
    affine.SetMatrix(euler.GetMatrix())
    affine.SetTranslation(euler.GetTranslation())
    if kind == TransformKind.AFFINE:
        tx2, _ = run(affine, fractions if mask_img is not None else fractions_global, masked=True, levels=fine)
        tx2 = sitk.CompositeTransform(tx2).GetNthTransform(0) if tx2.GetName() == "CompositeTransform" else tx2
        m_affine = evaluate(tx2)
        stage_metrics["affine"] = m_affine
        if m_affine > m_kept + C.REGISTRATION_STAGE_METRIC_TOL:
            stages.append("affine_rejected")
            log.info("registration: the affine stage made the metric worse (%.3f -> %.3f); kept the rigid result",
                     m_kept, m_affine)
        else:
            affine = sitk.AffineTransform(tx2)
            m_kept = m_affine
            stages.append("affine")
    reg = Registration(
        kind=kind,
        matrix=np.asarray(affine.GetMatrix(), float).reshape(3, 3),
        translation_mm=tuple(affine.GetTranslation()),  # type: ignore[arg-type]
        center_mm=tuple(affine.GetCenter()),  # type: ignore[arg-type]
        fixed_frame_of_reference_uid=fixed.frame_of_reference_uid,
        moving_frame_of_reference_uid=moving.frame_of_reference_uid,
        fixed_series_instance_uid=fixed.series_instance_uid,
        moving_series_instance_uid=moving.series_instance_uid,
        metric_value=m_kept,
        elapsed_s=time.perf_counter() - t0,
        parameters={
            "algorithm": "hcc_imaging.segment.register.mattes_mi",
            "version": C.ALGORITHM_VERSION,
            "stages": stages,
            "metric_at_start": metric_start,
            "stage_metrics": stage_metrics,
            "initial": mode,
            "masked": fixed_mask is not None,
            "shrink_factors": list(p.shrink_factors),
            "smoothing_sigmas_mm": list(p.smoothing_sigmas_mm),
            "iterations": p.iterations,
            "sampling_fraction": p.sampling_fraction,
            "histogram_bins": p.histogram_bins,
            "random_seed": p.random_seed,
            "learning_rate_mm": p.learning_rate_mm,
            "min_step_mm": p.min_step_mm,
            "mask_dilation_mm": p.mask_dilation_mm,
            "min_samples": p.min_samples,
            "work_spacing_mm": p.work_spacing_mm,
            "sampling_fractions_per_level": fractions,
        },
    )
    log.debug("registration %s: metric %.4f in %.2f s", kind, m_kept, reg.elapsed_s)
    return reg



def _coarse(vol: Volume, spacing_mm: float) -> Volume:
    """``vol`` as block means on voxels of about ``spacing_mm`` (the liver's work grid,
    :func:`.liver._shrink`: whole numbers of its voxels per axis, each coarse voxel centred on its
    block); ``vol`` itself when no axis shrinks."""
    from .liver import _shrink

    work = (float(spacing_mm),) * 3
    if all(max(1, int(round(w / s))) == 1 for w, s in zip(work, vol.spacing, strict=True)):
        return vol
    arr, geom = _shrink(vol, work)  # type: ignore[arg-type]
    return replace(vol, array=arr, geometry=geom)

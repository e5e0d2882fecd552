"""Image registration (SimpleITK): phase to phase within a study, follow-up to baseline.

:func:`register_volumes` estimates a transform that maps **fixed** LPS points to **moving**
LPS points (the ITK convention, the one resampling needs), by maximising Mattes mutual
information, rigid first (Euler 3-D: 3 rotations + 3 translations) and then, optionally,
affine (12 parameters), on a multi-resolution pyramid, restricted to a fixed-image mask (e.g.
the liver) when one is given.

The result is a frozen :class:`Registration`: the transform as a 3x3 matrix, a translation and
a centre (p_moving = M (p_fixed - c) + c + t), serialisable to JSON, with methods to move
points, lines, volumes and label maps from the moving to the fixed space.

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


# ------------------------------------------------------------------------------ translation
def _on_grid_edge_padded(vol: Volume, geom: Any) -> NDArray[Any]:
    """``vol`` sampled on ``geom`` (its own dtype when the grids agree, else float32); where
    ``geom`` leaves the image, the nearest edge value (no artificial border edge).  A crop (a
    view when inside) when the grids agree, else linear resampling."""
    g = vol.geometry
    if np.allclose(g.spacing, geom.spacing, atol=1e-3) and np.allclose(g.direction, geom.direction, atol=1e-4):
        start_f = g.lps_to_index(geom.origin)
        start = np.rint(start_f).astype(int)
        if np.allclose(start_f, start, atol=1e-3):
            stop = start + np.asarray(geom.shape)
            lo = np.clip(start, 0, np.asarray(g.shape) - 1)
            hi = np.clip(stop, lo + 1, np.asarray(g.shape))
            part = np.asarray(vol.array[tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))])
            pad = [(int(max(a - s, 0)), int(max(e - b, 0))) for a, b, s, e in zip(lo, hi, start, stop, strict=True)]
            if any(p != (0, 0) for p in pad):
                part = np.pad(part, pad, mode="edge")
                # a region wholly beyond one side: keep the first shape voxels (all edge values)
                part = part[: geom.shape[0], : geom.shape[1], : geom.shape[2]]
            return part
    out = resample_volume(vol, geom, interpolation="linear", default_hu=float(np.min(vol.array)))
    return np.asarray(out.array, np.float32)


def _clip(a: NDArray[Any], window: tuple[float, float]) -> NDArray[Any]:
    """``a`` clipped to ``window`` (integer arrays stay integer when the window is whole numbers)."""
    lo, hi = window
    if np.issubdtype(a.dtype, np.integer) and float(lo).is_integer() and float(hi).is_integer():
        info = np.iinfo(a.dtype)
        return np.clip(a, max(int(lo), int(info.min)), min(int(hi), int(info.max)))
    return np.clip(np.asarray(a, np.float32), np.float32(lo), np.float32(hi))


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


def _block_mean(a: NDArray[Any], f: NDArray[np.int64]) -> NDArray[np.float32]:
    """Mean over non-overlapping blocks of ``f`` voxels per axis (anti-aliased downsampling):
    a sum of the ``prod(f)`` strided sub-grids, in float32."""
    n = np.asarray(a.shape) // f
    if np.all(f == 1):
        return np.array(a, np.float32)
    out = np.zeros(tuple(int(v) for v in n), np.float32)
    for dk in range(int(f[0])):
        for dj in range(int(f[1])):
            for di in range(int(f[2])):
                out += a[dk : n[0] * f[0] : f[0], dj : n[1] * f[1] : f[1], di : n[2] * f[2] : f[2]]
    out *= np.float32(1.0 / float(np.prod(f)))
    return out


def _gradient_magnitude(a: NDArray[np.float32], spacing: NDArray[np.float64], sigma_vox: float) -> NDArray[np.float32]:
    if sigma_vox > 0:
        # scipy's gaussian_filter(mode="nearest"), compiled (bit for bit) for a float32 volume
        from . import _kernels

        a = _kernels.gaussian_filter_nearest(a, (float(sigma_vox),) * a.ndim, truncate=C.TRANSLATION_SMOOTHING_TRUNCATE)
    g = np.gradient(a, *[float(s) for s in spacing])
    return np.sqrt(sum(x * x for x in g)).astype(np.float32)


def _border_vox(smoothing_vox: float) -> int:
    """Voxels at an array's border whose smoothed gradient depends on the border handling."""
    return int(C.TRANSLATION_SMOOTHING_TRUNCATE * smoothing_vox + 0.5) + 1 if smoothing_vox > 0 else 1


def _box_sums(a: NDArray[Any], n: tuple[int, ...]) -> NDArray[np.float64]:
    """Sums of ``a`` over every window of shape ``n`` (valid positions only): separable running
    sums, one axis at a time (each pass shrinks that axis to the valid positions)."""
    out = np.asarray(a, np.float64)
    for axis, w in enumerate(n):
        c = np.cumsum(out, axis=axis)
        hi = [slice(None)] * c.ndim
        hi[axis] = slice(w - 1, None)
        res = c[tuple(hi)].copy()
        lo = [slice(None)] * c.ndim
        lo[axis] = slice(None, c.shape[axis] - w)
        tail = [slice(None)] * c.ndim
        tail[axis] = slice(1, None)
        res[tuple(tail)] -= c[tuple(lo)]
        out = res
    return out


def _parabolic_offset(c_minus: float, c0: float, c_plus: float) -> float:
    """Sub-voxel position of a peak from three samples (clamped to +-0.5): a Gaussian through
    them (a parabola through their logarithms) when all are positive, else a parabola."""
    if min(c_minus, c0, c_plus) > 0:
        c_minus, c0, c_plus = np.log(c_minus), np.log(c0), np.log(c_plus)
    den = c_minus - 2.0 * c0 + c_plus
    if not np.isfinite(den) or den >= 0:
        return 0.0
    return float(np.clip(0.5 * (c_minus - c_plus) / den, -0.5, 0.5))


def _ncc_search(
    fixed: Volume,
    moving: Volume,
    f: NDArray[np.int64],
    P: NDArray[np.int64],
    offset: NDArray[np.int64],
    window: tuple[float, float],
    smoothing_vox: float,
) -> tuple[NDArray[np.float64], float, float, list[bool]]:
    """Best shift of ``moving`` against ``fixed`` on a grid of ``f`` voxels per axis, searched over
    ``offset`` (native voxels) +- ``P`` grid steps.  Returns (shift in native voxels, peak NCC,
    NCC at ``offset``, whether the peak is at the search limit per axis)."""
    import scipy.fft as sfft

    n_c = np.asarray(fixed.shape) // f
    pad = P * f
    ext = fixed.geometry.crop(offset - pad, offset + n_c * f + pad)
    fa = np.asarray(fixed.array[: n_c[0] * f[0], : n_c[1] * f[1], : n_c[2] * f[2]])
    ma = _on_grid_edge_padded(moving, ext)
    cs = np.asarray(fixed.spacing, float) * f
    F = _gradient_magnitude(_block_mean(_clip(fa, window), f), cs, smoothing_vox)
    M = _gradient_magnitude(_block_mean(_clip(ma, window), f), cs, smoothing_vox)
    # the outer shell of each image was smoothed and differentiated against the array border
    # (replicated values, one-sided differences), not against its neighbours: it would not match
    # the same voxels inside the other image and biases the peak; both lose it (the same number
    # of voxels, so the index correspondence is unchanged)
    b = _border_vox(smoothing_vox)
    if np.all(np.asarray(F.shape) > 2 * b + 2):
        inner = (slice(b, -b),) * 3
        F, M = F[inner], M[inner]
    T = F - np.float32(F.mean(dtype=np.float64))
    norm_t = float(np.sqrt(np.sum(T * T, dtype=np.float64)))
    if norm_t <= 0 or not np.isfinite(norm_t):
        return offset.astype(float), 0.0, 0.0, [False, False, False]
    shape = M.shape
    # single precision halves the FFT cost; the NCC differences that matter (1e-3) are far above
    # its rounding (1e-7 of the sums)
    fshape = tuple(int(sfft.next_fast_len(int(n), real=True)) for n in shape)
    cc = sfft.irfftn(sfft.rfftn(M, fshape) * np.conj(sfft.rfftn(T, fshape)), fshape)
    nout = tuple(int(2 * p + 1) for p in P)
    cc = cc[: nout[0], : nout[1], : nout[2]]
    nvox = float(T.size)
    Mi = M.astype(np.float64)
    s1 = _box_sums(Mi, T.shape)
    s2 = _box_sums(Mi * Mi, T.shape)
    var = np.maximum(s2 - s1 * s1 / nvox, 1e-12 * max(float(s2.max()), 1e-30))
    ncc = cc / (norm_t * np.sqrt(var))
    best = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    delta = np.asarray(best, float) - P
    for axis in range(3):
        b = list(best)
        if 0 < best[axis] < nout[axis] - 1:
            b[axis] = best[axis] - 1
            cm = float(ncc[tuple(b)])
            b[axis] = best[axis] + 1
            cp = float(ncc[tuple(b)])
            delta[axis] += _parabolic_offset(cm, float(ncc[best]), cp)
    at_limit = [bool(best[a] in (0, nout[a] - 1)) for a in range(3)]
    return offset + delta * f, float(ncc[best]), float(ncc[tuple(int(p) for p in P)]), at_limit


def register_translation(
    fixed: Volume,
    moving: Volume,
    *,
    max_shift_mm: float = C.TRANSLATION_MAX_SHIFT_MM,
    grid_mm: float = C.TRANSLATION_GRID_MM,
    fine_grid_mm: float | None = C.TRANSLATION_FINE_GRID_MM,
    fine_trim_mm: float = 0.0,
    intensity_window: tuple[float, float] | None = None,
    smoothing_vox: float = C.TRANSLATION_SMOOTHING_VOX,
) -> Registration:
    """The translation of ``moving`` that best matches ``fixed`` over the whole of ``fixed``.

    An exhaustive search of every shift up to ``max_shift_mm`` per axis: normalised
    cross-correlation (NCC) of the gradient magnitudes of both images, computed for all shifts
    at once with FFTs, on a grid of about ``grid_mm`` (block means of whole voxels); then the
    same search on a grid of about ``fine_grid_mm`` within one coarse step of the best shift;
    a parabolic fit around the best fine shift gives a fraction of a voxel.  Gradient
    magnitudes are alike across contrast phases (edges of the liver, vessels, lesions and
    lipiodol are edges on every phase) where raw intensities are not; an exhaustive search has
    no local optimum to fall into.

    Meant for a small region (e.g. a lesion and 30 mm around it) of two phases of one study,
    where breathing moves the region by a few mm and rotates it very little; over a large
    field use :func:`register_volumes` (rigid / affine).

    Parameters
    ----------
    fixed : Volume
        The region to align (its whole extent is the template).
    moving : Volume
        Same frame of reference; sampled on ``fixed``'s grid extended by the search range
        (outside its extent, its edge values are repeated).
    max_shift_mm : float
        Largest shift searched along each array axis (mm).
    grid_mm, fine_grid_mm : float
        Target spacing of the coarse and fine search grids (each axis: a whole number of
        voxels, at least 1).  ``fine_grid_mm=None`` skips the fine search.
    fine_trim_mm : float
        The fine search uses ``fixed`` less this margin on every side (e.g. the lesion and
        10 mm around it when ``fixed`` is the lesion and 30 mm around it): the coarse search
        wants context, the fine one only the neighbourhood that matters, at a third of the cost.
    intensity_window : (low, high), optional
        Intensities are clipped to this window first (e.g. -200..400 HU on CT: air and bone
        would otherwise dominate the gradients).  Default: the 1st-99th percentile of ``fixed``.
    smoothing_vox : float
        Gaussian sigma (search-grid voxels) before the gradient.

    Returns
    -------
    Registration
        ``kind="translation"``, identity matrix; ``parameters`` holds the peak NCC and the search.
    """
    t0 = time.perf_counter()
    if not (max_shift_mm > 0 and grid_mm > 0 and (fine_grid_mm is None or fine_grid_mm > 0)):
        raise RegistrationError(
            f"max_shift_mm, grid_mm and fine_grid_mm must be > 0, got {max_shift_mm}, {grid_mm}, {fine_grid_mm}."
        )
    sp = np.asarray(fixed.spacing, float)
    f = np.maximum(np.rint(grid_mm / sp).astype(np.int64), 1)
    if np.any(np.asarray(fixed.shape) // f < 2 * _border_vox(smoothing_vox) + 3):
        raise RegistrationError(
            f"region of series {fixed.series_instance_uid or '?'} is too small ({fixed.shape} voxels) for a "
            f"{grid_mm} mm translation search; pass a larger region or a smaller grid_mm."
        )
    if intensity_window is None:
        a = np.asarray(fixed.array)
        lo_hi = np.percentile(a[:: max(1, a.shape[0] // 16)], [1.0, 99.0])
        intensity_window = (float(lo_hi[0]), float(lo_hi[1]))
    P = np.ceil(max_shift_mm / (sp * f)).astype(np.int64)
    zero = np.zeros(3, np.int64)
    shift, peak, ncc0, at_limit = _ncc_search(fixed, moving, f, P, zero, intensity_window, smoothing_vox)
    stages = [{"grid_mm": [float(v) for v in sp * f], "search_steps": [int(v) for v in P], "peak_ncc": round(peak, 6)}]
    if fine_grid_mm is not None and peak > 0:
        f2 = np.maximum(np.rint(fine_grid_mm / sp).astype(np.int64), 1)
        if np.any(f2 < f):
            # one coarse step (and one fine step) either side of the coarse estimate
            P2 = np.ceil(f / f2).astype(np.int64) + 1
            centre = np.rint(shift).astype(np.int64)
            inner = fixed
            if fine_trim_mm > 0:
                trim = np.floor(fine_trim_mm / sp).astype(np.int64)
                lo = np.minimum(trim, (np.asarray(fixed.shape) - 3 * f2) // 2).clip(0)
                inner = fixed.crop(lo, np.asarray(fixed.shape) - lo)
            shift2, peak2, _, _ = _ncc_search(inner, moving, f2, P2, centre, intensity_window, smoothing_vox)
            stages.append({"grid_mm": [float(v) for v in sp * f2], "search_steps": [int(v) for v in P2],
                           "peak_ncc": round(peak2, 6)})
            if peak2 > 0:
                shift, peak = shift2, peak2
    shift_axes_mm = shift * sp
    t_lps = fixed.geometry.direction @ shift_axes_mm
    centre_lps = fixed.index_to_lps((np.asarray(fixed.shape) - 1) / 2.0)
    return Registration(
        kind=TransformKind.TRANSLATION,
        matrix=np.eye(3),
        translation_mm=tuple(float(v) for v in t_lps),  # type: ignore[arg-type]
        center_mm=tuple(float(v) for v in centre_lps),  # type: ignore[arg-type]
        fixed_frame_of_reference_uid=fixed.frame_of_reference_uid,
        moving_frame_of_reference_uid=moving.frame_of_reference_uid,
        fixed_series_instance_uid=fixed.series_instance_uid,
        moving_series_instance_uid=moving.series_instance_uid,
        metric_value=-peak,
        elapsed_s=time.perf_counter() - t0,
        parameters={
            "algorithm": "hcc_imaging.segment.register.gradient_ncc_translation",
            "version": C.ALGORITHM_VERSION,
            "max_shift_mm": float(max_shift_mm),
            "intensity_window": [float(v) for v in intensity_window],
            "smoothing_vox": float(smoothing_vox),
            "stages": stages,
            "peak_ncc": round(peak, 6),
            "ncc_at_zero_shift": round(ncc0, 6),
            "shift_axes_mm": [float(v) for v in shift_axes_mm],
            "at_search_limit": at_limit,
        },
    )

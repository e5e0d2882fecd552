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
from . import constants as C
from .errors import RegistrationError

__all__ = ["TransformKind", "RegistrationParams", "Registration", "register_volumes"]

log = logging.getLogger(__name__)


class TransformKind(enum.StrEnum):
    """What was optimised: rigid only, or rigid then affine."""

    IDENTITY = "identity"
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
        Final Mattes mutual information (negative; lower is better).
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

    def resample_volume(self, moving: Volume, reference: Volume | LabelVolume, *, interpolation: str = "linear") -> Volume:
        """Resample the moving ``Volume`` onto ``reference``'s grid (fixed space).

        The result carries the reference's frame of reference (it now lives in fixed space).
        """
        out = resample_volume(moving, reference, interpolation=interpolation, transform=self.to_sitk())
        return replace(out, frame_of_reference_uid=reference.frame_of_reference_uid or out.frame_of_reference_uid)

    def resample_labels(self, moving: LabelVolume, reference: Volume | LabelVolume) -> LabelVolume:
        """Move a label map drawn on the moving image onto ``reference``'s grid (nearest neighbour)."""
        out = resample_labels(moving, reference, transform=self.to_sitk())
        return replace(out, frame_of_reference_uid=reference.frame_of_reference_uid or out.frame_of_reference_uid)

    def residual_mm(self, other: Registration, points_lps: ArrayLike) -> NDArray[np.float64]:
        """Distance (mm) between where this and ``other`` send the same fixed points."""
        return np.linalg.norm(self.map_to_moving(points_lps) - other.map_to_moving(points_lps), axis=-1)


def _mask_image(mask: LabelVolume, like: Volume, dilation_mm: float) -> Any:
    """The metric mask on ``like``'s grid, dilated by ``dilation_mm`` so the organ's edges count."""
    import SimpleITK as sitk
    from scipy import ndimage as ndi

    if not mask.geometry.equals(like.geometry):
        mask = mask.resample_to(like)
    m = mask.array != 0
    if not m.any():
        raise RegistrationError("fixed_mask is empty on the fixed image grid; pass a mask that covers the organ.")
    if dilation_mm > 0:
        # distance transform, not binary_dilation: a 20 mm ball at 1 mm is a 17,000-voxel element
        m = ndi.distance_transform_edt(~m, sampling=like.spacing) <= dilation_mm
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
    if initial not in ("auto", "identity", "geometry", "centroid"):
        raise RegistrationError(f"initial must be 'auto', 'identity', 'geometry' or 'centroid', got {initial!r}.")
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
            R.SetOptimizerAsRegularStepGradientDescent(
                learningRate=p.learning_rate_mm, minStep=p.min_step_mm, numberOfIterations=p.iterations,
                relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8,
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

    stages = []
    if mask_img is not None and len(p.shrink_factors) > 1:
        # 1) global rigid on the coarse levels (the whole image: robust capture range), then
        # 2) rigid refined inside the (dilated) organ mask on the finer levels.  A masked metric
        # alone, started far away, can settle in a local optimum (seen on the phantoms).
        tx0, _ = run(rigid, fractions_global, masked=False, levels=slice(0, -1))
        tx0 = sitk.CompositeTransform(tx0).GetNthTransform(0) if tx0.GetName() == "CompositeTransform" else tx0
        rigid = sitk.Euler3DTransform(tx0)
        stages.append("rigid_global_coarse")
        tx, metric = run(rigid, fractions, masked=True, levels=slice(1, None))
        stages.append("rigid_masked")
        fine = slice(1, None)
    else:
        tx, metric = run(rigid, fractions if mask_img is not None else fractions_global)
        stages.append("rigid")
        fine = slice(None)
    tx = sitk.CompositeTransform(tx).GetNthTransform(0) if tx.GetName() == "CompositeTransform" else tx
    euler = sitk.Euler3DTransform(tx) if tx.GetName() == "Euler3DTransform" else tx
    affine = sitk.AffineTransform(3)
    affine.SetCenter(euler.GetCenter())
    affine.SetMatrix(euler.GetMatrix())
    affine.SetTranslation(euler.GetTranslation())
    if kind == TransformKind.AFFINE:
        tx2, metric = run(affine, fractions if mask_img is not None else fractions_global, masked=True, levels=fine)
        tx2 = sitk.CompositeTransform(tx2).GetNthTransform(0) if tx2.GetName() == "CompositeTransform" else tx2
        affine = sitk.AffineTransform(tx2)
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
        metric_value=metric,
        elapsed_s=time.perf_counter() - t0,
        parameters={
            "algorithm": "hcc_imaging.segment.register.mattes_mi",
            "version": C.ALGORITHM_VERSION,
            "stages": stages,
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
            "sampling_fractions_per_level": fractions,
        },
    )
    log.debug("registration %s: metric %.4f in %.2f s", kind, metric, reg.elapsed_s)
    return reg

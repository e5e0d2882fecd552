"""One time point of the multiphase liver CT study phantom: :func:`make_study` builds it,
:meth:`PhantomStudy.write_dicom` writes it (DICOM series per phase, truth, masks)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._atomic import atomic_write, atomic_write_text, format_suffix, write_itk_image
from ..volume import AXIAL_DIRECTION, Geometry, LabelVolume, Modality, Phase, Volume
from ._anatomy import (
    _ASCITES_MARGIN_MM,
    _AORTA,
    _BODY_RADII,
    _FAT_THICKNESS_MM,
    _IVC,
    _LIVER,
    _PORTAL_VEIN,
    _SPINE,
    _SPLEEN,
    NODE_FAT_PLANE_MM,
    LesionKind,
    _lesion_specs,
)
from ._paint import _paint_lesion
from ._params import (
    _BASE_DATE,
    _CONTRAST_AGENT,
    _CONTRAST_START,
    _DEFAULT_NOISE_SD_HU,
    _PHASE_INFO,
    DEFAULT_SHAPE,
    DEFAULT_SPACING_MM,
    PATIENT_ID,
    PATIENT_NAME,
    PSF_SIGMA_MM,
    STUDY_PHASES,
    TIMEPOINTS,
    TISSUE_HU,
    PhantomError,
    _check_grid,
    _check_nonneg,
    _check_seed,
)
from ._shapes import Ellipsoid, _grid_points, _mask_ellipsoid


@dataclass(frozen=True, slots=True, eq=False)
class PhantomStudy:
    """One time point of the multiphase liver CT phantom.

    Attributes
    ----------
    volumes : dict Phase -> Volume
        The four phases on one grid and frame of reference (int16 HU).
    lesions : LabelVolume
        Whole lesions (label value -> lesion id ``"L1"`` ...).
    viable : LabelVolume
        Viable (arterially enhancing) part of each lesion, same label values (a reactive rim,
        lipiodol and necrosis are not viable).
    liver : LabelVolume
        Liver parenchyma including intrahepatic lesions (label 1 = ``"liver"``).
    truth : dict
        JSON-able truth (see ``docs/phantoms.md``).
    timepoint : str
    seed : int
    """

    volumes: Mapping[Phase, Volume]
    lesions: LabelVolume
    viable: LabelVolume
    liver: LabelVolume
    truth: dict[str, Any]
    timepoint: str
    seed: int

    @property
    def geometry(self) -> Geometry:
        return self.lesions.geometry

    def write_dicom(
        self,
        out_dir: str | os.PathLike[str],
        *,
        transfer_syntax: str = "1.2.840.10008.1.2.1",
        masks: bool = False,
        patient_id: str | None = None,
    ) -> dict[str, Any]:
        """Write one DICOM series per phase into ``out_dir/<phase>/`` plus ``truth.json``.

        Parameters
        ----------
        patient_id : str, optional
            PatientID written (pseudonymous; default: the study's, ``make_study(patient_id=...)``,
            ``PHANTOM-001`` unless set).  Another patient's study gets its own UIDs (study, series,
            frame of reference, SOP instances), derived from the study's and this id, so two phantom
            "patients" written from one study are never taken for copies of one another.
        transfer_syntax : str
            Passed to :func:`hcc_imaging.io.write.write_series`.
        masks : bool
            Also write ``masks/lesions.nii.gz``, ``masks/viable.nii.gz``, ``masks/liver.nii.gz``.

        Returns
        -------
        dict
            ``{"study_instance_uid", "series": {phase: {"series_instance_uid", "files"}}, "truth", "masks"}``.
        """
        from ..io.write import check_transfer_syntax, write_series

        check_transfer_syntax(transfer_syntax, "write_dicom")  # before the first folder is made
        own_id = str(self.truth["dicom"].get("patient_id", PATIENT_ID))
        patient_id = own_id if patient_id is None else patient_id
        ids = self.truth["dicom"] if patient_id == own_id else _ids_for_patient(self.truth["dicom"], patient_id)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        series_out: dict[str, Any] = {}
        for n, phase in enumerate(STUDY_PHASES):
            desc, acq_time, _ = _PHASE_INFO[phase]
            contrast = phase != Phase.PRE_CONTRAST
            files = write_series(
                self.volumes[phase],
                out / str(phase),
                patient_id=patient_id,
                patient_name=PATIENT_NAME,
                study_uid=ids["study_instance_uid"],
                series_uid=ids["series"][str(phase)],
                frame_of_reference_uid=ids["frame_of_reference_uid"],
                series_number=n + 1,
                description=desc,
                transfer_syntax=transfer_syntax,
                study_date=ids["study_date"],
                study_time="100000",
                acquisition_time=acq_time,
                study_description=f"CT LIVER 4 PHASE ({self.timepoint.upper()})",
                study_id=self.timepoint,
                accession_number=f"PH{self.seed:03d}{self.timepoint.upper()}"[:16],
                contrast_agent=_CONTRAST_AGENT if contrast else None,
                contrast_start_time=_CONTRAST_START if contrast else None,
                uid_seed=f"{self.seed}/{self.timepoint}",
            )
            series_out[str(phase)] = {
                "series_instance_uid": ids["series"][str(phase)],
                "files": [str(f) for f in files],
            }
        mask_files: dict[str, str] = {}
        if masks:
            for name, lv in (("lesions", self.lesions), ("viable", self.viable), ("liver", self.liver)):
                p = out / "masks" / f"{name}.nii.gz"
                _write_nifti(lv, p)
                mask_files[name] = str(p)
        _write_json(out / "truth.json", {**self.truth, "dicom": {**ids, "patient_id": patient_id}})
        return {
            "study_instance_uid": ids["study_instance_uid"],
            "series": series_out,
            "truth": str(out / "truth.json"),
            "masks": mask_files,
        }


def _write_nifti(labels: LabelVolume, path: Path) -> None:
    """Deterministic NIfTI (SimpleITK, gzip with fixed header) written atomically."""
    image = labels.to_sitk()
    atomic_write(path, lambda tmp: write_itk_image(image, tmp), tmp_suffix=format_suffix(path))


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _study_ids(seed: int, timepoint: str, variant: Sequence[str] = (), patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """UIDs and date of one time point.  ``variant``: the non-default parameters that change the
    image (``"noise_sd_hu=40.0"`` ...), part of every UID's entropy; with none (the default phantom,
    the committed sample) the UIDs are those of ``(seed, timepoint)`` alone, as they always were."""
    from ..io.write import deterministic_uid

    day = TIMEPOINTS[timepoint]
    import datetime as _dt

    date = (_dt.date(*_BASE_DATE) + _dt.timedelta(days=day)).strftime("%Y%m%d")
    v = tuple(variant)
    ids = {
        "patient_id": PATIENT_ID,
        "study_instance_uid": deterministic_uid("study", seed, timepoint, *v),
        "frame_of_reference_uid": deterministic_uid("for", seed, timepoint, *v),
        "series": {str(p): deterministic_uid("series", seed, timepoint, str(p), *v) for p in STUDY_PHASES},
        "study_date": date,
        "day_offset": day,
    }
    return ids if patient_id == PATIENT_ID else _ids_for_patient(ids, patient_id)


def _ids_for_patient(ids: Mapping[str, Any], patient_id: str) -> dict[str, Any]:
    """``ids`` (of :func:`_study_ids`) for another patient: every UID derived from it and the id."""
    from ..io.write import deterministic_uid

    def uid(u: str) -> str:
        return deterministic_uid("patient", patient_id, u)

    return {
        **ids,
        "patient_id": patient_id,
        "study_instance_uid": uid(ids["study_instance_uid"]),
        "frame_of_reference_uid": uid(ids["frame_of_reference_uid"]),
        "series": {k: uid(u) for k, u in ids["series"].items()},
    }


def make_study(
    seed: int = 0,
    timepoint: str = "baseline",
    *,
    shape: Sequence[int] = DEFAULT_SHAPE,
    spacing: Sequence[float] = DEFAULT_SPACING_MM,
    noise_sd_hu: float = _DEFAULT_NOISE_SD_HU,
    psf_sigma_mm: float = PSF_SIGMA_MM,
    node_fat_mm: float = NODE_FAT_PLANE_MM,
    patient_id: str = PATIENT_ID,
) -> PhantomStudy:
    """Build one time point of the multiphase liver CT phantom (deterministic in ``seed``).

    The anatomy is fixed in LPS mm (liver on the patient's right, spleen, aorta, IVC, spine,
    portal vein); the grid (``shape``, ``spacing``) is centred on the LPS origin, axial.  Lesions:

    ==== ===================== =============================================================
    id   kind                  baseline -> fu1 -> fu2
    ==== ===================== =============================================================
    L1   typical HCC           arterial hyperenhancement + washout -> thin rim only (after TACE)
    L2   partly necrotic HCC   viable nodule + necrosis; shrinks at fu1, regrows at fu2
    L3   post-TACE             lipiodol (>300 HU all phases) + viable remnant (grows at fu2)
    L4   rim only              ablated zone with <= 2 mm reactive rim; stable
    L5   infiltrative          ill-defined, non-enhancing; stable
    L6   porta-hepatis node    short axis 12 mm; 22 mm at fu2
    L7   PVTT                  enhancing tumour thrombus in the right portal vein
    L8   ascites               perihepatic fluid
    L9   new typical HCC       appears at fu2 (16 mm)
    ==== ===================== =============================================================

    Parameters
    ----------
    seed : int
        Noise seed and UID seed.
    timepoint : {"baseline", "fu1", "fu2"}
    shape, spacing : grid (slice, row, col) voxels and mm
    noise_sd_hu : float
        White Gaussian noise added after the PSF blur.
    psf_sigma_mm : float
        Partial-volume blur (Gaussian sigma, mm).
    node_fat_mm : float
        Thickness (mm) of the fat plane around the porta-hepatis node (L6): the soft tissue
        within this distance of the node's ellipsoid (its radii grown by it) becomes fat
        (default :data:`NODE_FAT_PLANE_MM`).  0: the node lies in soft tissue with 0-20 HU of
        contrast, the hard case of a node with no fat plane (the default before version 1.10 of
        the segmentation).  The truth (masks, diameters, responses) does not depend on it.
    patient_id : str
        PatientID of the study (default ``PHANTOM-001``), recorded in ``truth["dicom"]`` and
        written by :meth:`PhantomStudy.write_dicom`.

    The UIDs (study, series, frame of reference; the SOP instances written from them) derive
    from ``seed`` and ``timepoint`` and, when not at their defaults, from ``patient_id``,
    ``shape``, ``spacing``, ``noise_sd_hu``, ``psf_sigma_mm`` and ``node_fat_mm``: two phantoms
    that differ in image or patient never share a UID, and the default phantom (the committed
    sample) keeps the UIDs of ``(seed, timepoint)``.

    Returns
    -------
    PhantomStudy
    """
    from scipy import ndimage

    if not (math.isfinite(node_fat_mm) and node_fat_mm >= 0):
        raise PhantomError(f"node_fat_mm must be a finite thickness >= 0 mm, got {node_fat_mm!r}.")

    if timepoint not in TIMEPOINTS:
        raise PhantomError(f"unknown timepoint {timepoint!r}; make_study knows {list(TIMEPOINTS)} (timepoint=...).")
    seed = _check_seed(seed, "make_study")
    noise_sd_hu = _check_nonneg(noise_sd_hu, "noise_sd_hu", "make_study", "HU")
    psf_sigma_mm = _check_nonneg(psf_sigma_mm, "psf_sigma_mm", "make_study", "mm")
    shp, sp = _check_grid(shape, spacing, "make_study")
    if not (isinstance(patient_id, str) and patient_id.strip()):
        raise PhantomError(f"make_study: patient_id must be a non-empty string, got {patient_id!r}.")
    origin = -(np.asarray(shp, float) - 1) / 2 * sp
    # axes (slice, row, col) = (z, y, x): origin in LPS is reversed
    geom = Geometry(shape=shp, spacing=tuple(sp), origin=tuple(origin[::-1]), direction=AXIAL_DIRECTION)  # type: ignore[arg-type]
    pts = _grid_points(geom, (0, 0, 0), shp)
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    variant = [
        f"{name}={value!r}"
        for name, value, default in (
            ("shape", shp, DEFAULT_SHAPE),
            ("spacing_mm", tuple(float(v) for v in sp), tuple(float(v) for v in DEFAULT_SPACING_MM)),
            ("noise_sd_hu", float(noise_sd_hu), _DEFAULT_NOISE_SD_HU),
            ("psf_sigma_mm", float(psf_sigma_mm), PSF_SIGMA_MM),
            ("node_fat_mm", float(node_fat_mm), NODE_FAT_PLANE_MM),
        )
        if value != default
    ]
    ids = _study_ids(seed, timepoint, variant, patient_id=str(patient_id))

    tissues = list(TISSUE_HU)
    tid = {name: np.uint8(i) for i, name in enumerate(tissues)}
    tmap = np.full(shp, tid["air"], np.uint8)
    body = (x / _BODY_RADII[0]) ** 2 + (y / _BODY_RADII[1]) ** 2 <= 1.0
    inner = (x / (_BODY_RADII[0] - _FAT_THICKNESS_MM)) ** 2 + (y / (_BODY_RADII[1] - _FAT_THICKNESS_MM)) ** 2 <= 1.0
    tmap[body] = tid["fat"]
    tmap[inner] = tid["soft_tissue"]

    def disc(c: tuple[float, float], r: float) -> NDArray[np.bool_]:
        return np.asarray((x - c[0]) ** 2 + (y - c[1]) ** 2 <= r * r)

    liver_ell = _mask_ellipsoid(geom, _LIVER) & inner
    ascites = np.zeros(shp, bool)
    big = Ellipsoid(_LIVER.centre_lps, _LIVER.radii_mm + _ASCITES_MARGIN_MM, _LIVER.axes)
    ascites = _mask_ellipsoid(geom, big) & ~liver_ell & inner & (x < -90.0) & (y < 10.0)
    vessels = disc(*_AORTA) | disc(*_IVC) | disc(*_SPINE)
    pv = _PORTAL_VEIN.inside(pts)
    liver = liver_ell & ~vessels & ~pv
    spleen = _mask_ellipsoid(geom, _SPLEEN) & inner & ~vessels
    tmap[ascites] = tid["ascites"]
    tmap[liver] = tid["liver"]
    tmap[spleen] = tid["spleen"]
    tmap[disc(*_SPINE)] = tid["bone"]
    tmap[disc(*_AORTA)] = tid["aorta"]
    tmap[disc(*_IVC)] = tid["ivc"]
    tmap[pv] = tid["portal_vein"]

    lesion_arr = np.zeros(shp, np.uint8)
    viable_arr = np.zeros(shp, np.uint8)
    infiltrative_soft: list[tuple[NDArray[np.float64], NDArray[np.bool_]]] = []
    lesion_truth: dict[str, Any] = {}
    specs = _lesion_specs(timepoint)
    if node_fat_mm > 0:
        for spec in specs:
            if spec.kind == LesionKind.LYMPH_NODE and spec.outer is not None:
                o = spec.outer
                plane = _mask_ellipsoid(geom, Ellipsoid(o.centre_lps, o.radii_mm + node_fat_mm, o.axes))
                tmap[plane & (tmap == tid["soft_tissue"])] = tid["fat"]
    for spec in specs:
        lesion_truth[spec.lesion_id] = _paint_lesion(
            spec, geom, pts, tmap, tid, lesion_arr, viable_arr, liver, pv, ascites, infiltrative_soft
        )

    # Per-phase images: tissue LUT, infiltrative soft blend, PSF blur, noise.
    volumes: dict[Phase, Volume] = {}
    sigma_vox = [psf_sigma_mm / s for s in sp]
    for n, phase in enumerate(STUDY_PHASES):
        lut = np.array([TISSUE_HU[t][n] for t in tissues], np.float32)
        img = lut[tmap]
        for soft, region0 in infiltrative_soft:
            region = region0 & (tmap == tid["liver"])
            hu_inf = TISSUE_HU["infiltrative"][n]
            hu_liv = TISSUE_HU["liver"][n]
            img[region] = (hu_liv + (hu_inf - hu_liv) * soft[region]).astype(np.float32)
        if psf_sigma_mm > 0:
            img = ndimage.gaussian_filter(img, sigma_vox, mode="nearest")
        if noise_sd_hu > 0:
            rng = np.random.default_rng([seed, list(TIMEPOINTS).index(timepoint), n])
            img = img + rng.normal(0.0, noise_sd_hu, size=shp).astype(np.float32)
        arr = np.clip(np.rint(img), -1024, 3071).astype(np.int16)
        volumes[phase] = Volume(
            array=arr,
            geometry=geom,
            modality=Modality.CT,
            phase=phase,
            frame_of_reference_uid=ids["frame_of_reference_uid"],
            study_instance_uid=ids["study_instance_uid"],
            series_instance_uid=ids["series"][str(phase)],
            series_description=_PHASE_INFO[phase][0],
            meta={"generator": "hcc_imaging.phantoms.make_study", "seed": seed, "timepoint": timepoint},
        )

    labels = {s.label: s.lesion_id for s in specs}
    common = {"frame_of_reference_uid": ids["frame_of_reference_uid"]}
    lesions = LabelVolume(array=lesion_arr, geometry=geom, labels=labels, **common)
    viable = LabelVolume(array=viable_arr, geometry=geom, labels=labels, **common)
    liver_full = liver | np.isin(lesion_arr, [s.label for s in specs if s.organ == "liver"])
    liver_lv = LabelVolume(array=liver_full.astype(np.uint8), geometry=geom, labels={1: "liver"}, **common)
    truth = {
        "schema": "hcc_imaging.phantom_truth/1",
        "generator": "hcc_imaging.phantoms.make_study",
        "seed": seed,
        "timepoint": timepoint,
        "day_offset": ids["day_offset"],
        "grid": {
            "shape": list(shp),
            "spacing_mm": [float(v) for v in sp],
            "origin_lps": [float(v) for v in geom.origin],
            "direction": np.asarray(geom.direction).tolist(),
        },
        "noise_sd_hu": noise_sd_hu,
        "psf_sigma_mm": psf_sigma_mm,
        "node_fat_mm": float(node_fat_mm),
        "tissue_hu": {k: dict(zip([str(p) for p in STUDY_PHASES], v, strict=True)) for k, v in TISSUE_HU.items()},
        "dicom": ids,
        "lesions": lesion_truth,
        "liver_volume_mm3": float(liver_full.sum() * geom.voxel_volume_mm3),
    }
    return PhantomStudy(
        volumes=volumes, lesions=lesions, viable=viable, liver=liver_lv, truth=truth, timepoint=timepoint, seed=seed
    )


"""The perf.md section 4 segmentation phantom (also used by benchmarks/bench_segment.py), and the
rim / rind scene of the step 9 tests (``rim_scene``; benchmarks/sweep_segment_rind.py).

128 x 128 x 36 ROI at 0.703 x 0.703 x 2.5 mm of liver (60 HU) with a lobulated lesion (20 HU
hypodense by default, 3D diameter 30 mm), an 8 mm contrast vessel (150 HU) ``vessel_gap_mm``
from it and fat (-100 HU) ``fat_gap_mm`` beyond it; partial volume by 3 x 3 x 3 supersampling,
Gaussian PSF (0.6 px on every axis; ``psf_vox`` per axis: on thick slices 0.6 of a slice is more
blur along z than a scanner's slice profile adds to the slice itself), white Gaussian noise.  Truth = voxels >= 50 % inside the lesion.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from hcc_imaging.volume import LabelVolume, Volume

def benchmark_module(name: str) -> ModuleType:
    """The script ``benchmarks/<name>.py`` imported as a module: the sweeps' phantoms and helpers
    (``sweep_segment_robustness.phantom``, ``sweep_segment_study.slice_profile_study``), which the
    tests use so that the figures in docs/validation.md rest on the code they test."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def robustness_case(spacing: tuple[float, float, float], diameter: float, hu: float, noise: float) -> tuple[int, tuple]:  # type: ignore[type-arg]
    """The robustness sweep's case number (its seed) and tuple for these parameters
    (``benchmarks/sweep_segment_robustness.py``, ``combos``)."""
    for i, c in enumerate(benchmark_module("sweep_segment_robustness").combos()):
        if c == (spacing, diameter, hu, noise):
            return i, c
    raise KeyError((spacing, diameter, hu, noise))


def robustness_click(spacing: tuple[float, float, float], diameter: float, hu: float, noise: float, z_psf_vox: float,
                     lesion_blur_mm: float) -> tuple[Any, NDArray[np.bool_], NDArray[np.bool_]]:
    """The robustness sweep's phantom for these parameters clicked at its centre, as the sweep
    does: (the ``SegmentationResult``, its mask, the truth)."""
    from hcc_imaging.segment import segment_lesion

    i, case = robustness_case(spacing, diameter, hu, noise)
    ph = benchmark_module("sweep_segment_robustness").phantom(i, case, z_psf_vox, lesion_blur_mm)
    res = segment_lesion(ph.volume, seed_index=ph.seed_index)
    return res, res.labels.array != 0, ph.truth.array != 0


SPACING = (2.5, 0.703, 0.703)
SHAPE = (36, 128, 128)


@dataclass(frozen=True)
class PerfPhantom:
    volume: Volume
    truth: LabelVolume
    seed_index: tuple[int, int, int]
    centre_lps: tuple[float, float, float]
    radius_mm: float


def _radius(theta: NDArray[np.float64], phi: NDArray[np.float64], r0: float, coef: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lobulated radius: r0 (1 + sum of low-order angular harmonics)."""
    return r0 * (
        1.0
        + coef[0] * np.sin(3 * phi + coef[3]) * np.sin(theta)
        + coef[1] * np.cos(2 * theta)
        + coef[2] * np.sin(2 * phi + coef[4]) * np.sin(theta) ** 2
    )


def perf_phantom(
    seed: int = 0,
    *,
    noise_sd_hu: float = 15.0,
    lesion_hu: float = 20.0,
    liver_hu: float = 60.0,
    vessel_hu: float = 150.0,
    fat_hu: float = -100.0,
    diameter_mm: float = 30.0,
    vessel_gap_mm: float = 4.0,
    fat_gap_mm: float = 12.0,
    shape: tuple[int, int, int] = SHAPE,
    spacing: tuple[float, float, float] = SPACING,
    lobulation: float = 0.08,
    psf_vox: float | tuple[float, float, float] = 0.6,
    lesion_blur_mm: float = 0.0,
) -> PerfPhantom:
    rng = np.random.default_rng(seed)
    coef = np.concatenate([rng.uniform(-lobulation, lobulation, 3), rng.uniform(0, 2 * np.pi, 2)])
    sp = np.asarray(spacing)
    centre_idx = (np.asarray(shape) - 1) / 2.0 + rng.uniform(-0.5, 0.5, 3)
    c_mm = centre_idx * sp
    r0 = diameter_mm / 2.0
    # the largest lobulated radius along +col / -col sets where vessel and fat begin
    vessel_r = 4.0
    vessel_x = c_mm[2] + r0 * (1 + 3 * lobulation) + vessel_gap_mm + vessel_r
    fat_x = c_mm[2] - r0 * (1 + 3 * lobulation) - fat_gap_mm
    sub = 3
    offs = (np.arange(sub) + 0.5) / sub - 0.5
    # vessel (along the slice axis) and fat (half space) do not depend on the slice: one 2-D map
    jj, ii = np.meshgrid(
        (np.arange(shape[1])[:, None] + offs[None, :]).ravel() * sp[1],
        (np.arange(shape[2])[:, None] + offs[None, :]).ravel() * sp[2],
        indexing="ij",
    )

    def down(a: NDArray[np.generic]) -> NDArray[np.float32]:
        return a.reshape(a.shape[0] // sub, sub, a.shape[1] // sub, sub).mean(axis=(1, 3)).astype(np.float32)

    fat2 = ii < fat_x
    ves2 = ((ii - vessel_x) ** 2 + (jj - c_mm[1]) ** 2 <= vessel_r**2) & ~fat2
    frac_fat = np.broadcast_to(down(fat2), shape).copy()
    frac_vessel = np.broadcast_to(down(ves2), shape).copy()
    frac_lesion = np.zeros(shape, np.float32)
    # the lesion only within its bounding box (max radius r0 (1 + 3 lobulation))
    rmax = r0 * (1 + 3 * lobulation) + 1.0
    lo = np.maximum(np.floor((c_mm - rmax) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((c_mm + rmax) / sp).astype(int) + 1, np.asarray(shape))
    jsl = slice(lo[1] * sub, hi[1] * sub)
    isl = slice(lo[2] * sub, hi[2] * sub)
    jb, ib = jj[jsl, isl], ii[jsl, isl]
    keep = ~(fat2[jsl, isl] | ves2[jsl, isl])
    for k in range(lo[0], hi[0]):
        acc = np.zeros(jb.shape, np.float32)
        for oz in offs:
            dz, dy, dx = (k + oz) * sp[0] - c_mm[0], jb - c_mm[1], ib - c_mm[2]
            rr = np.sqrt(dz * dz + dy * dy + dx * dx)
            theta = np.arccos(np.clip(dz / np.maximum(rr, 1e-9), -1, 1))
            phi = np.arctan2(dy, dx)
            acc += (rr <= _radius(theta, phi, r0, coef)) & keep
        frac_lesion[k, lo[1]:hi[1], lo[2]:hi[2]] = down(acc) / sub
    frac_shown = frac_lesion
    if lesion_blur_mm > 0:
        # an ill-defined (infiltrative) margin: the lesion fades into the liver over a Gaussian of
        # lesion_blur_mm; vessel and fat keep their edges; the truth stays the sharp shape
        blurred = ndi.gaussian_filter(frac_lesion, [lesion_blur_mm / v for v in sp], mode="nearest")
        frac_shown = np.minimum(blurred, 1.0 - frac_vessel - frac_fat).astype(np.float32)
    frac_liver = 1.0 - frac_shown - frac_vessel - frac_fat
    img = frac_shown * lesion_hu + frac_vessel * vessel_hu + frac_fat * fat_hu + frac_liver * liver_hu
    img = ndi.gaussian_filter(img, psf_vox, mode="nearest")
    if noise_sd_hu > 0:
        img = img + rng.normal(0.0, noise_sd_hu, size=shape).astype(np.float32)
    vol = Volume.create(np.rint(img).astype(np.int16), spacing=spacing, frame_of_reference_uid="1.2.826.0.1.3680043.99.1")
    truth = LabelVolume.like(vol, (frac_lesion >= 0.5).astype(np.uint8), labels={1: "L1"})
    seed_index = tuple(int(v) for v in np.rint(centre_idx))
    return PerfPhantom(vol, truth, seed_index, tuple(vol.index_to_lps(centre_idx)), r0)  # type: ignore[arg-type]


def dice(a: NDArray[np.generic], b: NDArray[np.generic]) -> float:
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    s = int(a.sum()) + int(b.sum())
    return 2.0 * float((a & b).sum()) / s if s else 1.0


#: (liver, necrosis, rim) HU per phase of :func:`rim_scene`: the study phantom's
#: (``hcc_imaging.phantoms.TISSUE_HU``)
RIM_SCENE_HU = {"arterial": (70, 25, 115), "portal_venous": (110, 28, 125),
                "delayed": (95, 28, 115), "pre_contrast": (55, 25, 40)}


#: The rind sweep's scene (mm: slice, row, column): the lesion (at most 28 mm across) and the first
#: regions of interest around it
RIM_SCENE_EXTENT_MM = (90.0, 84.0, 84.0)


def shifted_in_plane(a: NDArray[np.generic], dy: int, dx: int, fill: object) -> NDArray[np.generic]:
    """``a`` (slice, row, col) moved by ``dy`` rows and ``dx`` columns, ``fill`` where nothing moved
    in: a patient lying elsewhere in the scanner at a follow-up (the carried-lesion tests and
    ``benchmarks/bench_register_carry.py``)."""
    out = np.full_like(a, fill)
    ny, nx = a.shape[1:]
    out[:, max(dy, 0):ny + min(dy, 0), max(dx, 0):nx + min(dx, 0)] = \
        a[:, max(-dy, 0):ny + min(-dy, 0), max(-dx, 0):nx + min(-dx, 0)]
    return out


def rim_scene_shape(spacing: tuple[float, float, float]) -> tuple[int, int, int]:
    """The voxels of :data:`RIM_SCENE_EXTENT_MM` on ``spacing`` (the rind sweep's box)."""
    return tuple(int(round(e / s)) for e, s in zip(RIM_SCENE_EXTENT_MM, spacing, strict=True))  # type: ignore[return-value]


def graded_tumour(radius_mm: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
    """A textured 'real-CT-like' scene: parenchyma 105 HU with correlated texture (sigma ~10 HU),
    a lobulated tumour whose necrotic centre (30 HU) rises to 85 HU at its border, and a bright
    vessel (200 HU) touching it; 1 mm voxels (``test_segment_shape_rim.py``, ``bench_segment_hard.py``).
    Returns the image, the tumour, the inner 40 % of the radius (a click region) and the centre voxel."""
    rng = np.random.default_rng(seed)
    n = 121
    c = n // 2
    zz, yy, xx = np.ogrid[:n, :n, :n]
    r = np.sqrt((zz - c) ** 2 + (yy - c) ** 2 + (xx - c) ** 2)
    theta = np.arctan2(yy - c, xx - c)
    r_border = radius_mm * (1.0 + 0.08 * np.sin(3 * theta))
    tumour = r <= r_border
    img = np.full((n, n, n), 105.0, np.float32)
    frac = np.clip(r / r_border, 0, 1)
    img[tumour] = (30.0 + 55.0 * frac**2)[tumour]
    vessel = ((yy - c) ** 2 + (zz - c) ** 2 <= 9) & (xx > c + radius_mm - 2)
    img[vessel] = 200.0
    tex = ndi.gaussian_filter(rng.normal(0.0, 1.0, img.shape), 1.5)
    img += (10.0 / tex.std()) * tex
    return img, tumour, (r <= 0.4 * radius_mm), (c, c, c)


#: The lobulated kinds of :func:`rim_scene`: (offset from the centre voxel (mm: slice, row, col),
#: radius mm) of each ball, the lesion their union (its core each ball less the layer).
#: ``lobulated``: four balls of 6-9 mm (docs/validation.md section 2.2, "Algorithm 1.20").
#: ``lobulated2``: a second, held-out nodular shape (Algorithm 1.48): a 7.5 mm body with five
#: nodules of 4.5-7 mm at other directions and depths, two of them bulging from deeper creases
#: (centres 9-10 mm out) and one mostly inside the body (a shallow crease).
LOBULATED_BALLS = {
    "lobulated": (((0, 0, 0), 9.0), ((0, 9, 3), 7.0), ((3, -6, 8), 6.5), ((-4, -4, -9), 6.0)),
    "lobulated2": (((0, 0, 0), 7.5), ((5, 5, -4), 6.5), ((-5, 2, 6), 5.5), ((2, -9, -4), 5.0),
                   ((-3, -6, -7), 4.5), ((1, 3, 4), 7.0)),
}


def rim_scene(kind: str, seed: int, sd: float, *, rim_mm: float = 1.5,
              spacing: tuple[float, float, float] = (3.0, 2.3, 2.3),
              shape: tuple[int, int, int] = (40, 90, 90), slice_sub: int = 1):  # type: ignore[no-untyped-def]
    """A necrotic lesion in an enhancing layer ``rim_mm`` thick (a rim-only ablation zone at 1.5 mm,
    a necrotic tumour's rind at 2.5-3.5 mm; the truth is core + layer, voxel centres) on four
    phases, default on the study phantom's grid (3 x 2.3 x 2.3 mm), 1 mm Gaussian PSF, white noise
    ``sd``; oval (9 / 14 / 11 mm semi-axes), lobulated (the union of four balls of 6-9 mm) or
    lobulated2 (a body and five nodules of 4.5-7.5 mm; :data:`LOBULATED_BALLS`),
    centred on the centre voxel.  HU per phase: :data:`RIM_SCENE_HU`.  Returns the phases, the
    truth and the centre voxel (in the core: the click).

    ``slice_sub`` > 1 gives the slices a profile: the scene is painted and blurred on ``slice_sub``
    points across each slice's thickness (centred on the slice) and each slice is their mean, as a
    CT slice integrates its thickness (in-plane the image stays point-sampled, as reconstructed CT
    is); the truth is then the voxels at least half inside the lesion.  1 (the default): the
    values at the voxel centres, as before."""
    from hcc_imaging.volume import Phase

    sub = int(slice_sub)
    if sub < 1:
        raise ValueError(f"slice_sub must be >= 1, got {slice_sub!r}")
    fine_shape = (shape[0] * sub,) + tuple(shape[1:])
    idx = np.indices(fine_shape).astype(float)
    # a fine sample's z: its slice's centre plus its offset across the slice's thickness
    idx[0] = idx[0] // sub + ((idx[0] % sub) + 0.5) / sub - 0.5
    p = np.stack(idx, axis=-1) * np.asarray(spacing)
    centre = tuple(int(n) // 2 for n in shape)
    c0 = np.asarray(centre) * np.asarray(spacing)

    def body(shrink: float) -> NDArray[np.bool_]:
        if kind == "oval":
            return (((p - c0) / (np.array([9.0, 14.0, 11.0]) - shrink)) ** 2).sum(-1) <= 1  # type: ignore[no-any-return]
        if kind not in LOBULATED_BALLS:
            raise ValueError(f"kind must be 'oval' or one of {sorted(LOBULATED_BALLS)}, got {kind!r}")
        m = np.zeros(fine_shape, bool)
        for off, r in LOBULATED_BALLS[kind]:
            m |= np.linalg.norm(p - (c0 + np.array(off)), axis=-1) <= r - shrink
        return m

    outer, core = body(0.0), body(rim_mm)
    rng = np.random.default_rng(seed)
    vols = {}
    fine_sp = (spacing[0] / sub,) + tuple(spacing[1:])
    for ph, (liv, nec, rim) in RIM_SCENE_HU.items():
        img = np.full(fine_shape, float(liv))
        img[core] = nec
        img[outer & ~core] = rim
        img = ndi.gaussian_filter(img, [1.0 / s for s in fine_sp])
        if sub > 1:
            img = img.reshape(shape[0], sub, *shape[1:]).mean(1)
        img = img + rng.normal(0.0, sd, shape)
        vols[Phase(ph)] = Volume.create(np.rint(img).astype(np.int16), spacing=spacing, phase=Phase(ph))
    if sub > 1:
        outer = outer.reshape(shape[0], sub, *shape[1:]).mean(1) >= 0.5
    return vols, outer, centre


def centred_grid(spacing: tuple[float, float, float], box_mm: float, z_offset_mm: float = 0.0) -> tuple[Any, ...]:
    """An axial grid ``box_mm`` wide (an odd voxel count per axis) centred on the origin, and the mm
    coordinates z (minus ``z_offset_mm``), y, x of its voxels: (geometry, z, y, x)."""
    from hcc_imaging.volume import AXIAL_DIRECTION, Geometry

    n = [int(box_mm / s) | 1 for s in spacing]
    half = (np.asarray(n[::-1]) - 1) / 2 * np.asarray(spacing[::-1])
    g = Geometry(shape=tuple(n), spacing=spacing, origin=tuple(-half), direction=AXIAL_DIRECTION)
    k, j, i = np.indices(n, dtype=float)
    return (g, (k - (n[0] - 1) / 2) * spacing[0] - z_offset_mm, (j - (n[1] - 1) / 2) * spacing[1],
            (i - (n[2] - 1) / 2) * spacing[2])


def blurred_arterial_pair(art: NDArray[Any], pre: NDArray[Any], lesion: NDArray[np.bool_], geometry: Any,
                          rng: np.random.Generator) -> tuple[Volume, Volume, LabelVolume]:
    """Arterial and pre-contrast volumes from noise-free HU arrays (1 mm blur, 15 HU noise) and the
    lesion's label map L1, all in one frame of reference."""
    sig = [1.0 / s for s in geometry.spacing]

    def vol(a: NDArray[Any]) -> Volume:
        a = ndi.gaussian_filter(a, sig) + rng.normal(0, 15, a.shape)
        return Volume(array=a.astype(np.float32), geometry=geometry, frame_of_reference_uid="1.2.3")

    lab = LabelVolume(array=lesion.astype(np.uint8), geometry=geometry, labels={1: "L1"}, frame_of_reference_uid="1.2.3")
    return vol(art), vol(pre), lab


def breath_hold_phases(shift_z_mm: float) -> tuple[Volume, Volume, LabelVolume]:
    """Portal venous (lesion 60 HU in liver 100) and arterial (lesion 130 in liver 70) phases of a
    12 mm-radius HCC beside a 4 mm vessel, 2 mm voxels, the arterial moved shift_z_mm along z (taken
    in another breath hold); and the lesion's label map L1 as the portal venous phase shows it
    (the viable_align tests, the batch's and the napari dock's)."""
    from hcc_imaging.volume import AXIAL_DIRECTION, Geometry, Phase

    sp = (2.0, 2.0, 2.0)
    n = (36, 36, 36)
    g = Geometry(shape=n, spacing=sp, origin=(-35.0, -35.0, -35.0), direction=AXIAL_DIRECTION)
    k, j, i = np.indices(n, dtype=float) * 2.0 - 35.0

    def scene(dz: float, liver: float, lesion: float, vessel: float, seed: int) -> np.ndarray:
        z = k - dz
        les = np.sqrt(i * i + j * j + z * z) < 12.0
        ves = np.hypot(i - 20.0, z + 10.0) < 4.0
        a = np.full(n, liver)
        a[les], a[ves] = lesion, vessel
        a = ndi.gaussian_filter(a, 0.5) + np.random.default_rng(seed).normal(0, 10, n)
        return a.astype(np.float32)

    pv = Volume(array=scene(0.0, 100.0, 60.0, 180.0, 0), geometry=g, frame_of_reference_uid="1.2.3",
                series_instance_uid="1.2.3.1", phase=Phase.PORTAL_VENOUS)
    art = Volume(array=scene(shift_z_mm, 70.0, 130.0, 250.0, 1), geometry=g, frame_of_reference_uid="1.2.3",
                 series_instance_uid="1.2.3.2", phase=Phase.ARTERIAL)
    les = np.sqrt(i * i + j * j + k * k) < 12.0
    lab = LabelVolume(array=les.astype(np.uint8), geometry=g, labels={1: "L1"}, frame_of_reference_uid="1.2.3")
    return pv, art, lab


def mr_body(seed: int = 0, shape: tuple[int, int, int] = (24, 160, 200),
            spacing: tuple[float, float, float] = (5.0, 1.8, 1.8)) -> tuple[Volume, NDArray[np.float64]]:
    """An MR-like axial body (an ellipse 340 x 260 mm at 900, a liver at 1600 holding a 40 mm lesion at 1200, noise
    30; air near 0) times a field of +-15 % across the columns and +8 % towards the front and back: the image and
    the true (field-free) one (``test_segment_bias.py``, ``tests/batch/test_batch_bias.py``,
    ``benchmarks/bench_bias.py`` on an MR series' grid too)."""
    from hcc_imaging.volume import Modality

    sp = spacing
    rng = np.random.default_rng(seed)
    # (the coordinates broadcast, not a grid of each: an 80 x 512 x 512 body stays a few arrays of its size)
    zz = ((np.arange(shape[0]) - shape[0] / 2) * sp[0])[:, None, None]
    yy = ((np.arange(shape[1]) - shape[1] / 2) * sp[1])[None, :, None]
    xx = ((np.arange(shape[2]) - shape[2] / 2) * sp[2])[None, None, :]
    img = np.zeros(shape)
    img[np.broadcast_to((yy / 130) ** 2 + (xx / 170) ** 2 < 1, shape)] = 900.0
    img[np.broadcast_to(((yy + 10) / 80) ** 2 + ((xx + 60) / 100) ** 2 < 1, shape)] = 1600.0
    img[(yy + 10) ** 2 + (xx + 60) ** 2 + zz**2 < 20**2] = 1200.0
    true = img + np.where(img > 0, rng.normal(0, 30, shape), np.abs(rng.normal(0, 15, shape)))
    field = (1 + 0.15 * xx / 170) * (1 + 0.08 * (yy / 130) ** 2)
    vol = Volume.create((true * field).astype(np.float32), spacing=sp, modality=Modality.MR, series_description="T1 body")
    return vol, true


def field_spread(arr: NDArray[Any], true: NDArray[Any]) -> float:
    """The field left in ``arr`` against the field-free ``true`` (:func:`mr_body`): max / min - 1 of the medians of
    ``arr / true`` over 20 x 20-pixel column blocks at least half inside the body (the noise averaged out)."""
    r = arr / np.where(true > 100, true, np.nan)
    n = r.shape
    blocks = [np.nanmedian(r[:, i:i + 20, j:j + 20]) for i in range(0, n[1], 20) for j in range(0, n[2], 20)
              if np.isfinite(r[:, i:i + 20, j:j + 20]).sum() > 0.5 * n[0] * 400]
    return float(max(blocks) / min(blocks) - 1)


def write_mr_series(vol: Volume, out: Path, patient_id: str = "BIAS-1", uid: str = "1.2.826.0.1.3680043.8.498.1") -> Path:
    """``vol`` (an MR Volume) written as an MR DICOM series into ``out``: CT Image Storage files made MR Image Storage
    (the writer writes CT only); ``uid``: the study's UID, the series' is it with ``.2``."""
    import dataclasses

    import pydicom

    from hcc_imaging.io.write import write_series
    from hcc_imaging.volume import Modality

    ct = dataclasses.replace(vol.with_array(np.rint(np.asarray(vol.array)).astype(np.int16)), modality=Modality.CT)
    files = write_series(ct, out, patient_id=patient_id, study_uid=uid, series_uid=uid + ".2", series_number=1,
                         description=vol.series_description or "MR", rescale_intercept=0.0)
    for f in files:
        ds = pydicom.dcmread(f)
        ds.Modality = "MR"
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        ds.save_as(f)
    return out

"""NIfTI and other ITK-format (NRRD, MHA) masks read as a label map: the readers behind
:func:`hcc_imaging.io.masks.load_mask` (its module docstring, "Formats", says what they accept).

Split out of ``masks.py`` (session of 2026-12-07, tenth), the same code; it logs under
``hcc_imaging.io.masks`` as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..volume import Geometry, LabelVolume
from ._mask_base import LABEL_TOLERANCE, NIFTI_SUFFIXES, MaskFormatError, _default_names, _label_dtype, _suffix
from ._nifti_geometry import sform_geometry
from ._nifti_shear import farthest_corner

log = logging.getLogger("hcc_imaging.io.masks")


def _load_itk(path: Path, label_names: Mapping[int, str] | None, threshold: float) -> LabelVolume:
    import SimpleITK as sitk

    nii = _nifti_image(path) if _suffix(path) in NIFTI_SUFFIXES else None
    geom: Geometry | None = None
    two_affines = _check_nifti_orientation(path, nii) if nii is not None else None
    if nii is not None and len(nii.shape) == 2:
        # a single-slice (2-D) NIfTI: SimpleITK keeps only its in-plane position and direction (the
        # slice's 3-D position and normal are dropped, a coronal slice is not read at all), so it is
        # read with nibabel and placed by its header's 3-D affine
        arr = np.asanyarray(nii.dataobj).T[None]
        geom = _nifti_2d_geometry(path, nii)
    else:
        try:
            img = sitk.ReadImage(str(path))
        except RuntimeError as err:
            raise MaskFormatError(f"{path} could not be read by SimpleITK: {err}") from err
        if img.GetNumberOfComponentsPerPixel() != 1 or img.GetDimension() not in (2, 3):
            raise MaskFormatError(
                f"{path} is a {img.GetDimension()}-D image with {img.GetNumberOfComponentsPerPixel()} "
                "component(s); a mask must be one 3-D label image. Split multi-volume (4-D) NIfTI files "
                "into one file per structure."
            )
        if img.GetDimension() == 2:
            raise MaskFormatError(
                f"{path} is a 2-D image: it holds no position along the slice normal, so the slice it belongs "
                "to cannot be told. Write it as a 3-D image of one slice (with its slice's origin and direction), "
                "or as NIfTI, whose affine places a single slice in 3-D."
            )
        arr = sitk.GetArrayFromImage(img)
        geom = sform_geometry(path, nii, _geom_from_sitk(img))  # (sform only: SimpleITK takes pixdim)
    if two_affines is not None:
        _warn_two_affines(path, nii, geom, *two_affines)
    arr = _label_values(np.asarray(arr), path, threshold)
    values = [int(v) for v in np.unique(arr) if v != 0]
    return LabelVolume(
        array=arr,
        geometry=geom,
        labels=_default_names(values, label_names),
        meta={"source_file": path.name, "format": "nifti" if _suffix(path) in NIFTI_SUFFIXES else "itk"},
    )


def _label_values(arr: NDArray[Any], path: Path, threshold: float) -> NDArray[Any]:
    """A NIfTI/ITK mask's voxel values as label values (see the module docstring, "Formats")."""
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        if np.isinf(arr).any():
            raise MaskFormatError(f"{path} holds infinite values; a mask holds label values (or probabilities "
                                  "0..1). Is this an image rather than a mask?")
        vals = np.nan_to_num(arr, nan=0.0)  # NaN = background (a probability map's outside)
        rounded = np.rint(vals)
        off = np.abs(vals - rounded)
        if not arr.size or float(off.max()) <= LABEL_TOLERANCE:
            # a label map stored as float (integer values, or within LABEL_TOLERANCE of them: a
            # float32 label map resampled or rescaled keeps 2.9999998 for 3)
            arr = rounded
        elif float(vals.min()) >= 0.0 and float(vals.max()) <= 1.0:
            inside = vals >= threshold
            below = int(np.count_nonzero((vals > 0) & ~inside))
            log.warning("mask %s holds values between 0 and 1 that are not all 0 or 1: read as a probability "
                        "(fractional) mask, one label, inside where the value is >= %g (%d voxels, %d non-zero "
                        "voxels below it left out). Threshold it yourself (or give a label map) to choose otherwise.",
                        path, threshold, int(inside.sum()), below)
            return inside.astype(np.uint8)
        else:
            where = np.unravel_index(int(np.argmax(off)), off.shape)
            raise MaskFormatError(
                f"{path} holds non-integer values outside 0..1 (e.g. {float(vals[where]):g} at voxel "
                f"{tuple(int(v) for v in where)}, (slice, row, col)): neither a label map (integer label values) "
                "nor a probability map (0..1), so which voxels belong to which lesion cannot be told. Round it "
                "to integer labels (nearest-neighbour resampling keeps them) or scale it to 0..1."
            )
    if arr.size and arr.min() < 0:
        raise MaskFormatError(
            f"{path} holds negative values (min {arr.min():g}); label maps use 0 = background and "
            "positive label values. Is this an image rather than a mask?"
        )
    mx = int(arr.max()) if arr.size else 0
    if mx > np.iinfo(np.int32).max:
        raise MaskFormatError(
            f"{path} holds label value {mx}, larger than the largest label value kept ({np.iinfo(np.int32).max}); "
            "it would wrap to another value. Renumber the labels (1, 2, ...) and write the map again."
        )
    return arr.astype(_label_dtype(mx), copy=False)


def _nifti_image(path: Path) -> Any:
    """The NIfTI file as a nibabel image (header read, data not yet); None when nibabel cannot read
    it (SimpleITK's read then says why)."""
    import nibabel as nib

    try:
        return nib.load(str(path))
    except Exception:  # nibabel raises several types for broken headers
        return None


def _check_nifti_orientation(path: Path, nii: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], float] | None:
    """Refuse a NIfTI with no orientation (qform_code = sform_code = 0: placed from the voxel size
    alone, anywhere); when its sform and qform place it more than a voxel apart, the two affines
    (RAS) and how far apart (mm), for :func:`_warn_two_affines`; else None."""
    hdr = nii.header
    try:
        q_code, s_code = int(hdr["qform_code"]), int(hdr["sform_code"])
    except (KeyError, ValueError, TypeError):  # not a NIfTI-1/2 header: SimpleITK decides
        return None
    if q_code == 0 and s_code == 0:
        raise MaskFormatError(
            f"{path} holds no orientation: its qform_code and sform_code are both 0, so where its voxels lie "
            "in the patient is unknown (only the voxel size is stored; it would be placed at an arbitrary "
            "origin, on other slices than its lesions'). Write the mask again with the image's affine as its "
            "qform/sform (nibabel: Nifti1Image(data, image.affine); SimpleITK: mask.CopyInformation(image))."
        )
    if q_code > 0 and s_code > 0:
        sform, qform = np.asarray(hdr.get_sform(), float), np.asarray(hdr.get_qform(), float)
        corners = _corners(nii.shape)
        gap = float(np.max(np.linalg.norm((sform @ corners - qform @ corners)[:3], axis=0)))
        zooms = [float(z) for z in hdr.get_zooms()[:3] if float(z) > 0]
        if gap > (min(zooms) if zooms else 1.0):
            return sform, qform, gap
    return None


def _corners(shape: Sequence[int]) -> NDArray[np.float64]:
    """The 8 corner voxels (i, j, k, 1) of a NIfTI of ``shape``, as columns."""
    n = [int(v) for v in (list(shape) + [1, 1])[:3]]
    return np.array([[i, j, k, 1.0] for i in (0, n[0] - 1) for j in (0, n[1] - 1) for k in (0, n[2] - 1)]).T


def _warn_two_affines(path: Path, nii: Any, geom: Geometry, sform: NDArray[np.float64], qform: NDArray[np.float64],
                      gap: float) -> None:
    """Warn that a NIfTI's sform and qform place it ``gap`` mm apart, naming both and the one read
    (the one ``geom``, as read, agrees with: the sform, unless SimpleITK refused it)."""
    corners = _corners(nii.shape)
    ras = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(geom.index_to_lps(corners[[2, 1, 0]].T), float).reshape(-1, 3).T
    used = min((("sform", sform), ("qform", qform)),
               key=lambda a: float(np.max(np.linalg.norm((a[1] @ corners)[:3] - ras, axis=0))))[0]
    # the evidence at the corner voxel they place farthest apart (voxel 0 is where a shear agrees)
    (ci, cj, ck), ps, pq = farthest_corner(nii.shape, sform, qform)
    log.warning(
        "mask %s: its sform and qform place it differently, up to %.1f mm apart (more than a voxel): voxel "
        "(%d, %d, %d) at RAS %s by the sform, at RAS %s by the qform. It is read by the %s%s; check that the mask "
        "lies on its lesions, and write it again with one affine (the image's).", path, gap, ci, cj, ck,
        np.round(ps, 1).tolist(), np.round(pq, 1).tolist(), used, " (as nibabel reads it)" if used == "sform" else "")


def _nifti_2d_geometry(path: Path, nii: Any) -> Geometry:
    """The 3-D geometry of a 2-D (single-slice) NIfTI from its header's affine (sform, else qform, as
    nibabel reads it): the slice's 3-D position and the direction of its normal, which SimpleITK's
    2-D image drops.  Axes (slice, row, col) = NIfTI (k, j, i); RAS converted to LPS."""
    aff = np.asarray(nii.affine, float)
    size = nii.shape
    lps = np.diag([-1.0, -1.0, 1.0]) @ aff[:3, :]
    ci, cj, ck = lps[:, 0], lps[:, 1], lps[:, 2]
    si, sj, sk = (float(np.linalg.norm(c)) for c in (ci, cj, ck))
    if min(si, sj) < 1e-9:
        raise MaskFormatError(f"{path}: its affine gives a zero pixel spacing ({aff[:3, :3].tolist()}); rewrite "
                              "the mask with the image's geometry.")
    ui, uj = ci / si, cj / sj
    if sk < 1e-9:  # no slice axis in the affine (pixdim[3] = 0): the plane's normal, 1 mm thick
        uk, sk = np.cross(ui, uj), 1.0
        uk /= np.linalg.norm(uk)
    else:
        uk = ck / sk
    return Geometry(
        shape=(1, int(size[1]), int(size[0])),
        spacing=(sk, sj, si),
        origin=tuple(float(v) for v in lps[:, 3]),  # type: ignore[arg-type]
        direction=np.column_stack([uk, uj, ui]),
    )


def _geom_from_sitk(img: Any) -> Geometry:
    d_itk = np.asarray(img.GetDirection(), float).reshape(3, 3)
    size = img.GetSize()
    return Geometry(
        shape=(size[2], size[1], size[0]),
        spacing=tuple(img.GetSpacing())[::-1],  # type: ignore[arg-type]
        origin=tuple(img.GetOrigin()),  # type: ignore[arg-type]
        direction=d_itk[:, ::-1],
    )



"""Load a DICOM series into a geometry-true :class:`~hcc_imaging.volume.Volume` (HU for CT).

What :func:`load_series` guarantees (or refuses with a named error from :mod:`hcc_imaging.io.errors`):

* **Order**: slices sorted by ImagePositionPatient projected on the slice normal
  ``n = row_cosine x column_cosine`` (ascending), never by file name or InstanceNumber.
* **Grid**: ``spacing = (median step of those projections, PixelSpacing[0], PixelSpacing[1])``;
  ``origin`` = IPP of the first slice; ``direction[:, 0] = n``, ``direction[:, 1]`` = IOP column
  cosine (increasing row index), ``direction[:, 2]`` = IOP row cosine (increasing column index).
* **Checks** (``io/_geometry.py``): every image has IPP/IOP/PixelSpacing; one orientation and one
  image size; no two images at one position; regular spacing (1 % or 0.02 mm); slices stacked
  along their normal (no gantry tilt/shear); localizers mixed in are dropped with a note; colour
  images refused.  ``on_irregular="resample"`` / ``on_tilt="resample"`` resample onto a regular
  orthogonal grid instead of refusing.
* **Values**: RescaleSlope/Intercept applied per slice (per frame for enhanced objects).  The
  array is ``int16`` when every slope/intercept is integral and the rescaled values fit
  [-32768, 32767] (all CT we know of; HU stay int16 end to end), else ``float32``.
* **Speed**: uncompressed little-endian single-frame files are parsed once and their pixel bytes
  ``readinto`` the preallocated volume; compressed files are decoded by pydicom with an explicit
  plugin per transfer syntax (``_constants.DECODER_PREFERENCE``).

``meta`` carries ``source_files`` and ``sop_instance_uids`` (slice order), ``sop_class_uid``,
``transfer_syntax_uids``, ``decoders``, ``phase_call``, ``problems`` (informational notes),
``slice_thickness_mm`` (DICOM SliceThickness, the largest when it varies, else the slice spacing;
``slice_thickness_source`` says which: RECIST measurability uses it) and, when resampled,
``resampled`` and ``interpolated_slices``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidSeriesError, NotDicomError
from ..volume import Geometry, Modality, Phase, Volume
from . import errors as E
from ._constants import INT16_MAX, INT16_MIN, SUBTRACTION_IMAGE_TYPES
from ._decode import decode_file, decode_parallel
from ._dicomparse import UNCOMPRESSED_LE, InstanceHeader, ZipPool, display_source, split_zip
from ._geometry import SliceRef, StackAnalysis, analyse_stack, orientation_label, slices_of
from ._unreadable import unread_beside, unread_beside_note
from ._thickness import series_slice_thickness
from .index import (
    ArchiveIndex,
    SeriesInfo,
    SeriesKey,
    describe_shared_series_uid,
    group_headers,
    index_archive,
    resolve_sources,
    resolve_zip_member,
    scan_headers,
)
from .phases import PhaseCall, classify_phase

__all__ = ["load_series", "load_study", "one_per_phase", "series_preference", "SeriesSource"]

log = logging.getLogger(__name__)

SeriesSource = str | os.PathLike[str] | SeriesInfo | Sequence[str | os.PathLike[str]]
_COLOUR = ("RGB", "YBR", "PALETTE", "ARGB", "CMYK", "HSV")


# ---------------------------------------------------------------------------------------------
# Source resolution
# ---------------------------------------------------------------------------------------------
def _headers_for(
    source: SeriesSource, series_uid: str | None, pool: ZipPool
) -> tuple[list[InstanceHeader], str, list[Any]]:
    """Headers (parsed up to Pixel Data) of the one series selected from ``source``, where they
    are, and the files of the source skipped as unreadable (``SkippedFile``)."""
    explicit_files = False
    listed: list[Any] = []  # skipped as the source was listed (a zip that cannot be read, a broken link)
    if isinstance(source, SeriesInfo):
        files = list(source.files)
        series_uid = series_uid or source.series_instance_uid
        where = f"series {source.series_instance_uid}"
        explicit_files = True
    elif isinstance(source, str | os.PathLike):
        p = os.fspath(source)
        if split_zip(p) is not None:
            # a file of the zip, or the files under a folder of it (as a folder path); a named error if neither
            files, listed = resolve_zip_member(p)
            where = display_source(p)
            explicit_files = len(files) == 1 and not listed and files[0].split("::", 1)[1] == (
                p.split("::", 1)[1].replace("\\", "/").strip("/"))
        else:
            _, files, listed = resolve_sources(p)
            where = p
            explicit_files = os.path.isfile(p) and len(files) == 1 and files[0] == p
    else:
        files = [os.fspath(f) for f in source]
        where = f"{len(files)} file(s)"
        explicit_files = True
        if not files:
            raise E.SeriesSelectionError("load_series() got an empty list of files. Pass at least one DICOM file.")
    headers, skipped = scan_headers(files, to_pixels=True, pool=pool)
    if explicit_files and skipped:
        s = skipped[0]
        raise NotDicomError(f"{display_source(s.path)}: {s.reason}. Remove it from the files passed to load_series.")
    skipped = [*listed, *skipped]
    if not headers:
        first = f", e.g. {display_source(skipped[0].path)}: {skipped[0].reason}" if skipped else ""
        raise E.SeriesSelectionError(
            f"no DICOM files found in {where} ({len(skipped)} file(s) skipped as unreadable or not DICOM{first}). "
            "Pass a folder, zip or DICOMDIR that holds DICOM images."
        )
    groups = group_headers(headers)
    if series_uid is not None:
        hits = {k: g for k, g in groups.items() if k.series == series_uid}
        if not hits:
            known = "; ".join(_describe_group(k.series, g) for k, g in list(groups.items())[:12])
            raise E.SeriesSelectionError(
                f"series {series_uid} is not in {where}. Series found: {known}. "
                "Pass one of these as series_uid=."
            )
        if len(hits) > 1:
            raise _shared_uid_error(where, series_uid, hits)
        return next(iter(hits.values())), where, skipped
    image_groups = {k: g for k, g in groups.items() if any(h.is_image for h in g)}
    if len(image_groups) == 1:
        return next(iter(image_groups.values())), where, skipped
    if len(image_groups) > 1 and len({k.series for k in image_groups}) == 1:
        raise _shared_uid_error(where, next(iter(image_groups)).series, image_groups)
    if not image_groups:
        h = headers[0]
        raise E.NotAnImageError(
            f"{display_source(h.path)} (series {h.series_instance_uid or '?'}, modality {h.modality or '?'}, "
            f"SOP class {h.sop_class_uid or '?'}) has no pixel data: it is not an image series, so it cannot "
            "become a Volume. Load the image series it refers to; read SEG/RTSTRUCT with hcc_imaging.io.masks."
        )
    known = "; ".join(_describe_group(k.series, g) for k, g in image_groups.items())
    raise E.SeriesSelectionError(
        f"{where} holds {len(image_groups)} image series: {known}. A volume is one series; "
        "pass series_uid= to choose (hcc-imaging index PATH lists them)."
    )


def _shared_uid_error(where: str, uid: str, groups: Mapping[SeriesKey, Sequence[InstanceHeader]]) -> Exception:
    """Files of several patients / studies under one SeriesInstanceUID: refused, never stacked."""
    parts = "; ".join(f"patient {k.patient_id or '(no PatientID)'}: {len(g)} file(s) in "
                      f"{display_source(os.path.dirname(g[0].path))}" for k, g in list(groups.items())[:4])
    return E.SeriesSelectionError(
        f"{where}: {describe_shared_series_uid(uid, list(groups))}. Files: {parts}. Load each patient's files "
        "alone (their folder, or a list of their files)."
    )


def _describe_group(uid: str, hs: Sequence[InstanceHeader]) -> str:
    h = hs[0]
    desc = f" {h.series_description!r}" if h.series_description else ""
    return f"{uid} ({h.modality or '?'}{desc}, {len(hs)} file(s))"


# ---------------------------------------------------------------------------------------------
# Validation -> named errors
# ---------------------------------------------------------------------------------------------
def _raise_for(an: StackAnalysis, uid: str, on_tilt: str, on_irregular: str) -> None:
    for issue in an.issues:
        k = issue.kind
        d = issue.data
        if k == "missing_geometry":
            raise E.MissingPositionError(
                f"series {uid}: {issue.text} (first: {display_source(d['file'])}). Without them the position "
                "and size of every voxel in the patient are unknown, so no distance could be measured. "
                "Load the original scanner series (secondary captures, screenshots and some exports drop "
                "these tags)."
            )
        if k == "mixed_orientation":
            if d.get("interleaved"):
                fix = (f"These groups look like one stack whose ImageOrientationPatient varies between images by "
                       f"more than the {d['tolerance_deg']:g} deg tolerance (io/_constants.py "
                       "ORIENTATION_GROUP_TOL_DEG), so stack=N would load every other slice. Check how the "
                       "series was exported (one stack has one orientation) and export it again from the "
                       "scanner or the archive.")
            else:
                fix = "Pass stack=N to load one group (largest first)."
            raise E.MixedOrientationError(
                f"series {uid}: images have different orientations ({d['groups']}). One volume needs one "
                f"orientation; stacking them would put voxels in the wrong place. {fix}"
            )
        if k == "mixed_size":
            raise E.MixedImageSizeError(
                f"series {uid}: images differ in size or pixel spacing ({d['groups']}). A volume needs one "
                "grid. Pass stack=N to load one group (largest first)."
            )
        if k == "mixed_repetitions":
            what = {"echo_numbers": "EchoNumbers", "temporal_position_identifier": "TemporalPositionIdentifier"}[
                d["attribute"]]
            raise E.DuplicatePositionError(
                f"series {uid}: {issue.text} (e.g. {display_source(d['files'][0])} and "
                f"{display_source(d['files'][1])}). Each {what} value is a volume of its own; stacked "
                "together they would alternate echoes or time points slice by slice. Pass the files of one "
                f"{what} value to load_series([...]) (group them by that tag)."
            )
        if k == "duplicate_positions":
            acq = d.get("acquisitions") or []
            hint = (
                f" The images come from acquisitions {acq}: pass acquisition=N to load one of them."
                if len(acq) > 1 else ""
            )
            raise E.DuplicatePositionError(
                f"series {uid}: {issue.text}, e.g. at {d['position_mm']:.2f} mm along the slice normal "
                f"({display_source(d['files'][0])} and {display_source(d['files'][1])}). Repeated positions "
                "(dynamic/monitoring scans, echoes, a series exported twice) do not form one 3-D volume, "
                "and picking one silently could mix time points." + hint +
                " Otherwise pass the files of one repetition to load_series([...])."
            )
        if k == "irregular_spacing" and on_irregular != "resample":
            raise E.SliceSpacingError(
                f"series {uid}: {issue.text} (at {display_source(d['file'])}). Distances and volumes along the "
                f"slice axis would be wrong. Re-export the series without gaps, or pass "
                f"on_irregular=\"resample\" to resample to {d['expected_mm']:.2f} mm (gaps are interpolated "
                "linearly and listed in meta['interpolated_slices'])."
            )
        if k == "gantry_tilt" and on_tilt != "resample":
            raise E.GantryTiltError(
                f"series {uid}: {issue.text}. The voxel grid is sheared, so an orthogonal volume built from it "
                "would misplace voxels and distort diameters. Pass on_tilt=\"resample\" to resample onto an "
                "orthogonal grid (linear interpolation), or reconstruct the series without tilt."
            )
        if k == "no_slice_spacing":
            h = an.slices[0].header if an.slices else None
            raise E.TooFewSlicesError(
                f"series {uid}: a single image ({display_source(h.path) if h else '?'}) without SliceThickness "
                "or SpacingBetweenSlices, so the slice spacing (needed for volumes) is unknown. Load the "
                "whole series (two or more slices give the spacing from their positions)."
            )


def _check_images(headers: Sequence[InstanceHeader], uid: str) -> list[InstanceHeader]:
    images = [h for h in headers if h.is_image]
    if not images:
        h = headers[0]
        raise E.NotAnImageError(
            f"series {uid} ({h.modality or '?'}, SOP class {h.sop_class_uid or '?'}, {display_source(h.path)}) "
            "has no pixel data, so it cannot become a Volume. Load the image series it refers to."
        )
    for h in images:
        pi = (h.photometric_interpretation or "").upper()
        if (h.samples_per_pixel or 1) > 1 or pi.startswith(_COLOUR):
            raise E.ColourImageError(
                f"series {uid}: {display_source(h.path)} is a colour image ({pi or 'SamplesPerPixel > 1'}). "
                "Colour pixels are rendered views (screenshots, fused or annotated captures), not Hounsfield "
                "units or MR signal, so nothing can be measured on them. Load the original greyscale series."
            )
    return images


# ---------------------------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------------------------
class _Overflow(Exception):
    pass


#: Compressed files in a series from which decoding is spread over processes (below it, starting
#: the work costs more than it saves).
_PARALLEL_MIN_FILES = 16


def _fast_ok(h: InstanceHeader) -> bool:
    if h.transfer_syntax_uid not in UNCOMPRESSED_LE or h.is_multiframe or h.pixel_offset is None:
        return False
    if h.pixel_length is None or h.pixel_length == 0xFFFFFFFF:
        return False
    return (h.bits_allocated in (8, 16)) and (h.samples_per_pixel or 1) == 1


def _stored_dtype(h: InstanceHeader) -> np.dtype[Any]:
    signed = (h.pixel_representation or 0) == 1
    ba = h.bits_allocated or 16
    return np.dtype({8: "i1" if signed else "u1", 16: "<i2" if signed else "<u2",
                     32: "<i4" if signed else "<u4"}[ba])


def _fix_bits(a: NDArray[Any], h: InstanceHeader) -> NDArray[Any]:
    """Sign-extend / mask values stored in fewer bits than allocated (BitsStored < BitsAllocated)."""
    ba = h.bits_allocated or a.dtype.itemsize * 8
    bs = h.bits_stored or ba
    if bs >= ba or a.dtype.kind == "f":
        return a
    if (h.pixel_representation or 0) == 1:
        sh = a.dtype.itemsize * 8 - bs
        return (a << sh) >> sh
    return a & ((1 << bs) - 1)


def _read_pixels(
    slices: Sequence[SliceRef], pool: ZipPool, out_dtype: np.dtype[Any],
    progress: Callable[[int, int], None] | None, workers: int = 1,
) -> tuple[NDArray[Any], list[str]]:
    n = len(slices)
    rows, cols = slices[0].rows, slices[0].columns
    out = np.empty((n, rows, cols), dtype=out_dtype)
    is_int = out_dtype == np.int16
    decoders: set[str] = set()
    cache: dict[str, NDArray[Any]] = {}
    to_decode: dict[str, InstanceHeader] = {}
    for s in slices:
        if not (_fast_ok(s.header) and split_zip(s.header.path) is None):
            to_decode.setdefault(s.header.path, s.header)
    if workers > 1 and len(to_decode) >= _PARALLEL_MIN_FILES:
        pre = decode_parallel(list(to_decode.values()), workers)
        if pre is not None:
            for path, (arr, dec) in pre.items():
                cache[path] = arr
                decoders.add(dec)
    scratch: dict[np.dtype[Any], NDArray[Any]] = {}
    open_file: tuple[str, Any] | None = None
    try:
        for k, s in enumerate(slices):
            h = s.header
            slot = out[k]
            if _fast_ok(h) and split_zip(h.path) is None:
                sd = _stored_dtype(h)
                need = rows * cols * sd.itemsize
                if (h.pixel_length or 0) < need:
                    raise E.TruncatedPixelDataError(
                        f"{display_source(h.path)}: Pixel Data holds {h.pixel_length} bytes but Rows x Columns x "
                        f"{sd.itemsize} = {need} are needed. The file is truncated or its header is wrong; "
                        "re-send or re-export it."
                    )
                if is_int and sd == np.dtype("<i2") or (is_int and sd == np.dtype("<u2")):
                    target: NDArray[Any] = slot
                else:
                    buf = scratch.get(sd)
                    if buf is None:
                        buf = scratch[sd] = np.empty((rows, cols), sd)
                    target = buf
                if open_file is None or open_file[0] != h.path:
                    if open_file is not None:
                        open_file[1].close()
                    open_file = (h.path, open(h.path, "rb", buffering=0))  # noqa: SIM115
                f = open_file[1]
                f.seek(h.pixel_offset or 0)
                mv = memoryview(target).cast("B")
                got = 0
                while got < need:
                    r = f.readinto(mv[got:])
                    if not r:
                        raise E.TruncatedPixelDataError(
                            f"{display_source(h.path)}: the file ends {need - got} bytes before the end of its "
                            "pixel data. It was cut short; re-send or re-export it."
                        )
                    got += r
                open_file[1].close()
                open_file = None
                decoders.add("readinto")
                if target is slot:
                    if sd == np.dtype("<u2"):
                        if (h.bits_stored or 16) < 16:
                            np.bitwise_and(slot, (1 << (h.bits_stored or 16)) - 1, out=slot)
                        elif slot.min() < 0:  # unsigned values >= 32768 read into int16
                            raise _Overflow
                    elif (h.bits_stored or 16) < 16:
                        slot[...] = _fix_bits(slot, h)
                    _rescale_int16_inplace(slot, s)
                else:
                    _store(slot, _fix_bits(target, h), s, is_int)
            else:
                arr = cache.get(h.path) if h.is_multiframe else cache.pop(h.path, None)
                if arr is None:
                    arr, dec = decode_file(h, pool)
                    decoders.add(dec)
                    if h.is_multiframe:
                        cache[h.path] = arr
                frame = arr[s.frame] if (s.frame is not None and arr.ndim == 3) else arr
                if frame.shape != (rows, cols):
                    raise E.MixedImageSizeError(
                        f"{display_source(h.path)}: decoded image is {frame.shape}, header says {(rows, cols)}. "
                        "The header and the pixel data disagree; re-export the file."
                    )
                _store(slot, _fix_bits(frame, h) if frame.dtype.kind in "iu" else frame, s, is_int)
            if progress is not None and (k % 32 == 31 or k == n - 1):
                progress(k + 1, n)
    finally:
        if open_file is not None:
            open_file[1].close()
    return out, sorted(decoders)


def _rescale_int16_inplace(slot: NDArray[np.int16], s: SliceRef) -> None:
    slope, inter = s.slope, s.intercept
    if slope == 1.0 and inter == 0.0:
        return
    lo, hi = int(slot.min()), int(slot.max())
    a, b = lo * slope + inter, hi * slope + inter
    if min(a, b) < INT16_MIN or max(a, b) > INT16_MAX:
        raise _Overflow
    if slope != 1.0:
        np.multiply(slot, int(slope), out=slot)
    if inter != 0.0:
        np.add(slot, int(inter), out=slot)


def _store(slot: NDArray[Any], raw: NDArray[Any], s: SliceRef, is_int: bool) -> None:
    if is_int:
        if raw.dtype.kind not in "iu":
            raise _Overflow
        lo, hi = int(raw.min()), int(raw.max())
        a, b = lo * s.slope + s.intercept, hi * s.slope + s.intercept
        if min(a, b) < INT16_MIN or max(a, b) > INT16_MAX:
            raise _Overflow
        if s.slope == 1.0 and s.intercept == 0.0:
            slot[...] = raw
        elif s.slope == 1.0:
            np.add(raw, np.int32(s.intercept), out=slot, casting="unsafe")  # range checked above
        else:
            slot[...] = raw.astype(np.int32) * int(s.slope) + int(s.intercept)
    else:
        slot[...] = raw.astype(np.float32) * np.float32(s.slope) + np.float32(s.intercept)


def _integral(x: float) -> bool:
    return float(x).is_integer()


# ---------------------------------------------------------------------------------------------
# Resampling of sheared / irregular stacks
# ---------------------------------------------------------------------------------------------
def _resample_stack(
    arr: NDArray[Any], an: StackAnalysis, step_mm: float
) -> tuple[NDArray[Any], tuple[float, float], list[int]]:
    """Resample a stack onto a regular grid orthogonal to the slice plane.

    Each target slice at height z (along the normal) is the linear blend of the two source slices
    around z, each taken at the target's in-plane location (so both gantry tilt, i.e. in-plane
    drift of IPP with z, and irregular spacing are handled).  Returns the new array, the in-plane
    origin shift (row-direction mm, column-direction mm) relative to the first slice's IPP, and
    the target indices that fall into a gap (> half a step from any source slice).
    """
    from scipy.ndimage import affine_transform

    pos = cast(NDArray[np.float64], an.positions_mm)  # set by analyse_stack for every loadable stack
    t = pos - pos[0]
    off = cast(NDArray[np.float64], an.inplane_offsets_mm)
    psr, psc = float(an.row_spacing_mm or 1.0), float(an.col_spacing_mm or 1.0)
    n_out = int(np.floor(t[-1] / step_mm + 1e-6)) + 1
    min_r, min_c = float(off[:, 0].min()), float(off[:, 1].min())
    extra_r = int(np.ceil((off[:, 0].max() - min_r) / psr - 1e-6))
    extra_c = int(np.ceil((off[:, 1].max() - min_c) / psc - 1e-6))
    rows, cols = arr.shape[1] + extra_r, arr.shape[2] + extra_c
    cval = float(arr.min())
    out = np.empty((n_out, rows, cols), np.float32)
    gaps: list[int] = []
    shifted: dict[int, NDArray[np.float32]] = {}

    def src(k: int) -> NDArray[np.float32]:
        if k not in shifted:
            d = ((min_r - off[k, 0]) / psr, (min_c - off[k, 1]) / psc)
            if len(shifted) > 2:
                shifted.clear()
            shifted[k] = affine_transform(arr[k].astype(np.float32), np.ones(2), offset=d,
                                          output_shape=(rows, cols), order=1, cval=cval)
        return shifted[k]

    for m in range(n_out):
        z = m * step_mm
        k = int(np.searchsorted(t, z, side="right") - 1)
        k = min(max(k, 0), len(t) - 2) if len(t) > 1 else 0
        if len(t) == 1:
            out[m] = src(0)
            continue
        w = (z - t[k]) / (t[k + 1] - t[k])
        w = float(min(max(w, 0.0), 1.0))
        if min(abs(z - t[k]), abs(t[k + 1] - z)) > 0.5 * step_mm + 1e-6:
            gaps.append(m)
        out[m] = (1.0 - w) * src(k) + w * src(k + 1)
    if np.issubdtype(arr.dtype, np.integer):
        out = np.rint(out).astype(arr.dtype)
    return out, (min_r, min_c), gaps


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def load_series(
    source: SeriesSource,
    *,
    series_uid: str | None = None,
    on_tilt: Literal["error", "resample"] = "error",
    on_irregular: Literal["error", "resample"] = "error",
    stack: int | None = None,
    acquisition: int | None = None,
    phase: Phase | str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Volume:
    """Load one DICOM image series as a :class:`~hcc_imaging.volume.Volume` (see the module docstring).

    Parameters
    ----------
    source : path, SeriesInfo or list of paths
        A folder (walked recursively), a ``.zip``, a DICOMDIR, a single file (a one-file series
        or an enhanced multi-frame object), a list of files, a ``"a.zip::member"`` string, or a
        :class:`~hcc_imaging.io.SeriesInfo` from :func:`~hcc_imaging.io.index_archive`.
    series_uid : str, optional
        Which series, when ``source`` holds several image series.
    on_tilt : {"error", "resample"}
        Gantry tilt (slices stacked obliquely to their plane): raise :class:`GantryTiltError`, or
        resample onto an orthogonal grid (linear; int16 kept by rounding).
    on_irregular : {"error", "resample"}
        Missing slices / uneven spacing: raise :class:`SliceSpacingError`, or resample to the
        median step (gaps linearly interpolated, listed in ``meta["interpolated_slices"]``).
    stack : int, optional
        Load orientation/size group ``stack`` (largest first) of a mixed series.
    acquisition : int, optional
        Keep only the images with this AcquisitionNumber (a series holding repeated
        acquisitions at the same positions).
    phase : Phase or str, optional
        Override the contrast phase (default: :func:`~hcc_imaging.io.classify_phase` on the tags).
    workers : int, optional
        Processes that decode compressed files (JPEG 2000, JPEG-LS...) of a series of 16 or more
        files (``forkserver`` pool, created once and reused).  Default 1: decode in this process
        (on the 2-core reference machine a pool gained at most 1.1-1.4x, perf.md 2.4, and it
        competes with batch-level parallelism).  Uncompressed files are always read in this
        process (``readinto``; a pool would only add copies).
    progress : callable, optional
        ``progress(done, total)`` while pixel data is read.

    Returns
    -------
    Volume
        HU for CT (int16 when the rescaled range fits, else float32), LPS geometry.

    Raises
    ------
    SliceSpacingError, DuplicatePositionError, GantryTiltError, MixedOrientationError,
    MixedImageSizeError, MissingPositionError, TooFewSlicesError, ColourImageError,
    NotAnImageError, PixelDecodeError, TruncatedPixelDataError, SeriesSelectionError, NotDicomError
    """
    if on_tilt not in ("error", "resample"):
        raise ValueError(f"on_tilt must be 'error' or 'resample', got {on_tilt!r}.")
    if on_irregular not in ("error", "resample"):
        raise ValueError(f"on_irregular must be 'error' or 'resample', got {on_irregular!r}.")
    with ZipPool() as pool:
        headers, _where, skipped = _headers_for(source, series_uid, pool)
        uid = headers[0].series_instance_uid or "(no SeriesInstanceUID)"
        images = _check_images(headers, uid)
        if acquisition is not None:
            found = sorted({h.acquisition_number for h in images if h.acquisition_number is not None})
            images = [h for h in images if h.acquisition_number == acquisition]
            if not images:
                raise E.SeriesSelectionError(
                    f"series {uid} has no images with AcquisitionNumber {acquisition}; it has {found or 'none'}. "
                    "Pass one of these as acquisition=."
                )
        slices = [s for h in images for s in slices_of(h)]
        try:
            an = analyse_stack(slices, stack=stack)
        except IndexError:
            raise E.SeriesSelectionError(
                f"series {uid}: stack={stack} does not exist; the series has "
                f"{len(analyse_stack(slices).groups)} orientation/size group(s) (stack=0 is the largest)."
            ) from None
        try:
            _raise_for(an, uid, on_tilt, on_irregular)
        except E.SliceSpacingError as err:
            skipped = [f for f in skipped if not str(f.reason).startswith(("not a DICOM", "DICOMDIR"))]
            if not skipped:
                raise
            named = "; ".join(f"{display_source(f.path)} ({f.reason})" for f in skipped[:3])
            raise E.SliceSpacingError(
                f"{err} {len(skipped)} file(s) beside the series could not be read and were skipped, which may "
                f"be the missing slice(s): {named}{' ...' if len(skipped) > 3 else ''}."
            ) from None
        ordered = an.slices
        integral = all(_integral(s.slope) and _integral(s.intercept) for s in ordered)
        dtype = np.dtype(np.int16) if integral else np.dtype(np.float32)
        n_workers = 1 if workers is None else max(1, int(workers))
        try:
            arr, decoders = _read_pixels(ordered, pool, dtype, progress, n_workers)
        except _Overflow:
            arr, decoders = _read_pixels(ordered, pool, np.dtype(np.float32), progress, n_workers)
    normal = cast(NDArray[np.float64], an.normal)  # present once _raise_for passed
    iop = np.asarray(ordered[0].iop, float)
    row_cos, col_cos = iop[:3] / np.linalg.norm(iop[:3]), iop[3:] / np.linalg.norm(iop[3:])
    direction = np.column_stack([normal, col_cos, row_cos])
    origin = np.asarray(ordered[0].ipp, float)
    step = float(an.slice_spacing_mm)
    notes = [i.text for i in an.issues if i.kind not in ("irregular_spacing", "gantry_tilt")]
    unread = unread_beside(skipped, (s.header.path for s in ordered))
    if unread:  # (a gap inside the stack was a SliceSpacingError naming them; at its ends none shows)
        notes.append(unread_beside_note(unread, display_source))
        log.warning("series %s: %s.", uid, notes[-1])
    meta: dict[str, Any] = {}
    thick, thick_src, thick_problem = series_slice_thickness((s.header.slice_thickness for s in ordered), step, uid)
    meta["slice_thickness_mm"], meta["slice_thickness_source"] = thick, thick_src
    if thick_problem:
        notes.append(thick_problem)
        log.warning("%s.", thick_problem)
    resampled = [i for i in an.issues if i.kind in ("irregular_spacing", "gantry_tilt")]
    if resampled:
        arr, (dr, dc), gaps = _resample_stack(arr, an, step)
        origin = origin + dr * col_cos + dc * row_cos
        meta["resampled"] = {"reasons": [i.text for i in resampled], "slice_spacing_mm": step,
                             "method": "linear along the normal, linear in-plane shift"}
        meta["interpolated_slices"] = gaps
        notes.extend(f"resampled: {i.text}" for i in resampled)
    geom = Geometry(shape=arr.shape, spacing=(step, float(an.row_spacing_mm or 0), float(an.col_spacing_mm or 0)),
                    origin=tuple(origin), direction=direction)  # type: ignore[arg-type]
    h0 = ordered[0].header
    info_like = {
        "series_description": h0.series_description, "protocol_name": h0.protocol_name,
        "contrast_bolus_agent": h0.contrast_bolus_agent, "acquisition_time": min(
            (s.header.acquisition_time for s in ordered if s.header.acquisition_time), default=""),
        "contrast_bolus_start_time": h0.contrast_bolus_start_time, "modality": h0.modality,
        "series_instance_uid": h0.series_instance_uid,
        "is_subtraction": all(SUBTRACTION_IMAGE_TYPES.intersection(v.strip().upper() for v in s.header.image_type[2:])
                              for s in ordered),
    }
    call = PhaseCall(Phase(phase), 1.0, "set by the caller") if phase is not None else classify_phase(info_like)
    mod = {"CT": Modality.CT, "MR": Modality.MR}.get(h0.modality.upper(), Modality.OTHER)
    meta.update({
        "source_files": tuple(s.header.path for s in ordered),
        "source_frames": tuple(s.frame for s in ordered) if any(s.frame is not None for s in ordered) else None,
        "sop_instance_uids": tuple(s.header.sop_instance_uid for s in ordered),
        "sop_class_uid": h0.sop_class_uid,
        "transfer_syntax_uids": tuple(sorted({s.header.transfer_syntax_uid for s in ordered})),
        "decoders": tuple(decoders),
        "dtype_reason": "int16: integral rescale fits" if arr.dtype == np.int16 else
        "float32: non-integral RescaleSlope/Intercept or values outside int16",
        "phase_call": call.to_dict(),
        "problems": tuple(notes),
        "dropped_localizers": tuple(s.header.path for s in an.dropped_localizers),
        "slice_spacing_source": an.spacing_source,
        "orientation": orientation_label(ordered[0].iop),
        "patient_id": h0.patient_id,
        "study_date": h0.study_date,
        "series_number": h0.series_number,
        "acquisition_time": info_like["acquisition_time"],
        "contrast_bolus_agent": h0.contrast_bolus_agent,
        "manufacturer": h0.manufacturer,
        "rescale": {"slope": ordered[0].slope, "intercept": ordered[0].intercept},
    })
    log.debug("loaded series %s: %s %s", uid, arr.shape, arr.dtype)
    return Volume(
        array=arr,
        geometry=geom,
        modality=mod,
        phase=call.phase,
        frame_of_reference_uid=h0.frame_of_reference_uid or None,
        study_instance_uid=h0.study_instance_uid or None,
        series_instance_uid=h0.series_instance_uid or None,
        series_description=h0.series_description,
        meta=meta,
    )


def load_study(
    source: str | os.PathLike[str] | ArchiveIndex,
    study_uid: str | None = None,
    *,
    phase_overrides: Mapping[str, Phase | str] | None = None,
    skip_invalid: bool = True,
    image_phase: bool = False,
    vessel_points_lps: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    skipped: list[tuple[str, Exception]] | None = None,
    **load_kwargs: Any,
) -> list[Volume]:
    """Load every image series of one study, each with its contrast phase.

    Parameters
    ----------
    source : path or ArchiveIndex
        What :func:`index_archive` accepts, or its result.
    study_uid : str, optional
        Which study, when the source holds several.
    phase_overrides : mapping of SeriesInstanceUID -> Phase, optional
        The user's phase for these series (confidence 1.0, reason "set by the user").
    skip_invalid : bool
        Leave out series that cannot be loaded (localizer-only, SR, invalid geometry), logging
        why; False raises the first error.
    image_phase : bool
        When the tags of a series are silent, call its phase from the image (aorta vs portal
        vein, found automatically on axial CT; :func:`~hcc_imaging.io.phases.phase_from_image`).
    vessel_points_lps : mapping of SeriesInstanceUID -> (aorta point, portal-vein point), optional
        For those series, take the image rule's ROIs at these LPS points (implies the image rule).
    skipped : list, optional
        With ``skip_invalid``: each series left out is appended as (SeriesInstanceUID, its error),
        for a front end to show (they are logged as warnings too).
    **load_kwargs
        Passed to :func:`load_series` (``on_tilt``, ``on_irregular``...).

    Returns
    -------
    list of Volume
        In series-number order; ``meta["phase_call"]`` explains each phase.
    """
    idx = source if isinstance(source, ArchiveIndex) else index_archive(source)
    studies = idx.studies
    if study_uid is not None:
        studies = tuple(s for s in studies if s.study_instance_uid == study_uid)
        if not studies:
            raise E.SeriesSelectionError(
                f"study {study_uid} is not in {idx.root}; studies: "
                + ", ".join(s.study_instance_uid for s in idx.studies) + ". Pass one of them as study_uid=."
            )
    if not studies and idx.skipped:
        s0 = idx.skipped[0]
        raise E.SeriesSelectionError(
            f"{idx.root} holds no study: its {len(idx.skipped)} file(s) were skipped, e.g. "
            f"{display_source(s0.path)}: {s0.reason}."
        )
    if len(studies) != 1:
        raise E.SeriesSelectionError(
            f"{idx.root} holds {len(studies)} studies ("
            + ", ".join(f"{s.study_instance_uid} {s.study_date}" for s in studies)
            + "). Pass study_uid= to choose one."
        )
    study = studies[0]
    overrides = {k: Phase(v) for k, v in (phase_overrides or {}).items()}
    vols: list[Volume] = []
    for info in study.series:
        if not info.is_image:
            continue
        try:
            v = load_series(info, **load_kwargs)
        except (InvalidSeriesError, E.NotAnImageError, E.ColourImageError, E.PixelDecodeError,
                E.TruncatedPixelDataError, E.MissingPositionError) as err:
            if not skip_invalid:
                raise
            log.warning("series %s left out: %s", info.series_instance_uid, err)
            if skipped is not None:
                skipped.append((info.series_instance_uid, err))
            continue
        if info.series_instance_uid in overrides:
            call = PhaseCall(overrides[info.series_instance_uid], 1.0, "set by the user (phase_overrides)")
        else:
            call = info.phase
            pts = (vessel_points_lps or {}).get(info.series_instance_uid)
            if call.phase == Phase.UNKNOWN and (pts is not None or image_phase):
                call = classify_phase(info, study_series=study.series, volume=v, vessel_points_lps=pts)
        meta = dict(v.meta)
        meta["phase_call"] = call.to_dict()
        vols.append(replace(v, phase=call.phase, meta=meta))
    return vols


def series_preference(modality: object, slice_spacing_mm: float | None) -> tuple[int, float]:
    """Which of two series of one phase is used (smaller first): CT, then MR, then any other
    modality (a PET, a secondary capture), then the finer slice spacing (unknown last).  The one
    rule of the viewer's time points, ``hcc-imaging segment`` on a study folder
    (:func:`one_per_phase`) and the batch's measurement series
    (:func:`hcc_imaging.batch.lesions.pick_reference`)."""
    rank = {"CT": 0, "MR": 1}.get(str(getattr(modality, "value", modality)), 2)
    return rank, float(slice_spacing_mm) if slice_spacing_mm else float("inf")


def _preference(vol: Volume) -> tuple[int, float]:
    return series_preference(vol.modality, float(vol.spacing[0]))


def one_per_phase(vols: Sequence[Volume], used_for: str = "used") -> tuple[dict[Phase, Volume], list[str]]:
    """One series per contrast phase of a study's :func:`load_study` volumes, as a viewer's time
    point and ``hcc-imaging segment`` take them: of two, CT before MR before another modality, then
    the finer slice spacing (a study holding a CT, an MR and a PET of no known phase gives its CT).
    Returns ``{phase: volume}`` and a note for each series not taken (``used_for``: the note's
    word for it, e.g. "shown"), naming it and the one taken."""
    by_phase: dict[Phase, list[Volume]] = {}
    for vol in vols:
        by_phase.setdefault(Phase(vol.phase), []).append(vol)
    out: dict[Phase, Volume] = {}
    notes: list[str] = []
    for ph, group in by_phase.items():
        keep = min(group, key=_preference)  # (the first of equals: series-number order)
        out[ph] = keep
        for drop in group:
            if drop is not keep:
                notes.append(f"series {drop.series_instance_uid} ({drop.modality}, {ph}, {drop.spacing[0]:g} mm slices) "
                             f"not {used_for}: one series per phase, here {keep.series_instance_uid} ({keep.modality}, "
                             f"{keep.spacing[0]:g} mm slices); give that series' folder on its own to use it")
    return out, notes


def one_scan(phases: Mapping[Phase, Volume], keep: Phase | None = None) -> tuple[dict[Phase, Volume], dict[Phase, Volume]]:
    """A study's phases split into those of one scan (one frame of reference) and the others (the
    patient re-scanned after moving, another study's series), which ``segment_lesion`` refuses to
    use together.  The frame kept is ``keep``'s phase's, else the one most phases share (of equals,
    the portal-venous phase's, else the first's); a phase without a frame of reference is kept.
    Returns ``(kept, left_out)``, both in ``phases``' order."""
    from collections import Counter

    fors = {ph: v.frame_of_reference_uid for ph, v in phases.items() if v.frame_of_reference_uid}
    if len(set(fors.values())) <= 1:
        return dict(phases), {}
    if keep is not None and keep in fors:
        frame = fors[keep]
    else:
        counts = Counter(fors.values())
        best = max(counts.values())
        tied = [f for f, n in counts.items() if n == best]
        frame = fors[Phase.PORTAL_VENOUS] if fors.get(Phase.PORTAL_VENOUS) in tied else tied[0]
    kept = {ph: v for ph, v in phases.items() if fors.get(ph, frame) == frame}
    return kept, {ph: v for ph, v in phases.items() if ph not in kept}

"""Header-only index of a DICOM archive: a folder tree, a .zip, or a DICOMDIR.

:func:`index_archive` reads only headers (never pixel data), walks each folder once, and groups
files into patients -> studies -> series.  Each :class:`SeriesInfo` carries the identifiers, a
geometry summary, the contrast phase call and the problems a loader would meet (gaps, duplicate
positions, tilt, mixed orientations or sizes, localizers, missing tags).  Files that are not DICOM
are listed in :attr:`ArchiveIndex.skipped` with the reason.  Patient names are never read.

Sources are strings: a file path, or ``"archive.zip::member/path"`` for a zip member;
:func:`hcc_imaging.io.load_series` accepts both.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import NotDicomError, SourceNotFoundError
from ..volume import Phase
from ._constants import LOCALIZER_IMAGE_TYPES, SUBTRACTION_IMAGE_TYPES
from ._dicomparse import ZIP_SEP, InstanceHeader, ZipPool, add_frames, display_source, parse_header
from ._enhanced import has_functional_groups
from ._geometry import SliceRef, analyse_stack, orientation_label, slices_of
from ._unreadable import (
    EMPTY_FILE_REASON,
    ENCRYPTED_MEMBER_REASON,
    ENCRYPTED_ZIP_WHAT,
    ZIP_READ_ERRORS,
    broken_link_reason,
    is_encrypted,
    zip_member_reason,
)
from .phases import PhaseCall, classify_phase

__all__ = [
    "GeometrySummary",
    "SeriesInfo",
    "StudyInfo",
    "PatientInfo",
    "SkippedFile",
    "ArchiveIndex",
    "index_archive",
    "patient_key",
    "ProgressCallback",
]

log = logging.getLogger(__name__)

#: ``progress(done, total)`` is called while files are read.
ProgressCallback = Callable[[int, int], None]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_SKIP_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True, slots=True)
class GeometrySummary:
    """Geometry of a series as read from headers (no pixels).

    ``slice_spacing_mm`` is the spacing between slice centres along the normal from
    ImagePositionPatient, given only when it is regular (None otherwise, see ``problems``).
    """

    rows: int | None
    columns: int | None
    pixel_spacing_mm: tuple[float, float] | None  # (row spacing, column spacing)
    orientation: tuple[float, ...] | None  # ImageOrientationPatient of the first image
    orientation_label: str  # axial / coronal / sagittal / oblique / unknown
    n_positions: int
    slice_spacing_mm: float | None
    slice_thickness_mm: float | None
    extent_mm: float | None  # first to last slice centre along the normal
    n_frames: int

    def describe(self) -> str:
        if self.rows is None:
            return "no image"
        parts = [f"{self.rows}x{self.columns}"]
        if self.n_positions:
            parts[0] += f"x{self.n_positions}"
        if self.pixel_spacing_mm:
            sp = f"{self.pixel_spacing_mm[0]:.3g}x{self.pixel_spacing_mm[1]:.3g}"
            if self.slice_spacing_mm:
                sp += f"x{self.slice_spacing_mm:.3g}"
            parts.append(sp + " mm")
        parts.append(self.orientation_label)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """One series of an archive, from headers only.

    ``files`` are in slice order (ascending along the slice normal) when positions are available,
    else by InstanceNumber then name.  Zip members are ``"archive.zip::member"`` strings.
    """

    series_instance_uid: str
    study_instance_uid: str
    patient_id: str
    modality: str
    series_description: str
    series_number: int | None
    series_date: str
    study_date: str
    series_time: str
    acquisition_time: str  # earliest AcquisitionTime of the series
    content_time: str
    contrast_bolus_agent: str
    contrast_bolus_start_time: str
    protocol_name: str
    frame_of_reference_uid: str
    sop_class_uid: str
    manufacturer: str
    body_part_examined: str
    transfer_syntax_uids: tuple[str, ...]
    n_instances: int
    files: tuple[str, ...]
    geometry: GeometrySummary
    phase: PhaseCall
    problems: tuple[str, ...]
    is_image: bool
    #: images whose ImageType marks a localizer / scout (a series of them only is no phase)
    n_localizers: int = 0
    #: images whose ImageType marks a subtraction (a series of them only is no phase)
    n_subtractions: int = 0
    #: every image is an 8-bit CT (BitsAllocated 8): a mask or label map stored as CT images
    #: (3D-IRCADb ``MASKS_DICOM``), not an image to measure (CT holds HU in 16 bits)
    is_mask: bool = False

    @property
    def is_localizer(self) -> bool:
        """Every image of the series is a localizer (scout, topogram, surview)."""
        return self.is_image and self.n_localizers > 0 and self.n_localizers >= self.n_instances

    @property
    def is_subtraction(self) -> bool:
        """Every image of the series is a subtraction (ImageType SUBTRACTION / SUB): no contrast phase."""
        return self.is_image and self.n_subtractions > 0 and self.n_subtractions >= self.n_instances

    @property
    def instance_count(self) -> int:
        return self.n_instances

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (paths as strings, enums as values)."""
        g = self.geometry
        return {
            "series_instance_uid": self.series_instance_uid,
            "study_instance_uid": self.study_instance_uid,
            "patient_id": self.patient_id,
            "modality": self.modality,
            "series_description": self.series_description,
            "series_number": self.series_number,
            "series_date": self.series_date,
            "study_date": self.study_date,
            "series_time": self.series_time,
            "acquisition_time": self.acquisition_time,
            "content_time": self.content_time,
            "contrast_bolus_agent": self.contrast_bolus_agent,
            "contrast_bolus_start_time": self.contrast_bolus_start_time,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "sop_class_uid": self.sop_class_uid,
            "manufacturer": self.manufacturer,
            "transfer_syntax_uids": list(self.transfer_syntax_uids),
            "n_instances": self.n_instances,
            "is_image": self.is_image,
            "is_mask": self.is_mask,
            "geometry": {
                "rows": g.rows,
                "columns": g.columns,
                "pixel_spacing_mm": list(g.pixel_spacing_mm) if g.pixel_spacing_mm else None,
                "orientation": list(g.orientation) if g.orientation else None,
                "orientation_label": g.orientation_label,
                "n_positions": g.n_positions,
                "slice_spacing_mm": g.slice_spacing_mm,
                "slice_thickness_mm": g.slice_thickness_mm,
                "extent_mm": g.extent_mm,
                "n_frames": g.n_frames,
            },
            "phase": self.phase.to_dict(),
            "problems": list(self.problems),
            "files": list(self.files),
        }


@dataclass(frozen=True, slots=True)
class StudyInfo:
    study_instance_uid: str
    patient_id: str
    study_date: str
    study_description: str
    series: tuple[SeriesInfo, ...]

    @property
    def masks_only(self) -> bool:
        """Every series a mask stored as CT images (:attr:`SeriesInfo.is_mask`; 3D-IRCADb stores
        each expert mask as a study of its own): no image to measure, and no patient."""
        return bool(self.series) and all(s.is_mask for s in self.series)


@dataclass(frozen=True, slots=True)
class PatientInfo:
    patient_id: str
    studies: tuple[StudyInfo, ...]


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ArchiveIndex:
    """Result of :func:`index_archive`."""

    root: str
    patients: tuple[PatientInfo, ...]
    skipped: tuple[SkippedFile, ...]
    n_files: int
    elapsed_s: float

    @property
    def studies(self) -> tuple[StudyInfo, ...]:
        return tuple(st for p in self.patients for st in p.studies)

    @property
    def series(self) -> tuple[SeriesInfo, ...]:
        return tuple(se for st in self.studies for se in st.series)

    def find_series(self, series_uid: str) -> SeriesInfo:
        """The series with this SeriesInstanceUID (KeyError naming the known UIDs otherwise; a
        ``SeriesSelectionError`` when several patients / studies carry it)."""
        hits = [s for s in self.series if s.series_instance_uid == series_uid]
        if len(hits) > 1:
            from .errors import SeriesSelectionError

            keys = [SeriesKey(s.patient_id, s.study_instance_uid, series_uid) for s in hits]
            raise SeriesSelectionError(f"{describe_shared_series_uid(series_uid, keys)}. Pick one from "
                                       f"ArchiveIndex.patients -> studies -> series instead.")
        if hits:
            return hits[0]
        known = ", ".join(s.series_instance_uid for s in self.series[:10])
        raise KeyError(f"series {series_uid} is not in {self.root}; known series: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "n_files": self.n_files,
            "elapsed_s": round(self.elapsed_s, 4),
            "patients": [
                {
                    "patient_id": p.patient_id,
                    "studies": [
                        {
                            "study_instance_uid": st.study_instance_uid,
                            "study_date": st.study_date,
                            "study_description": st.study_description,
                            "masks_only": st.masks_only,
                            "series": [se.to_dict() for se in st.series],
                        }
                        for st in p.studies
                    ],
                }
                for p in self.patients
            ],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


# ---------------------------------------------------------------------------------------------
# Enumerating sources
# ---------------------------------------------------------------------------------------------
def _walk_folder(root: str, skipped: list[SkippedFile] | None = None) -> Iterator[str]:
    """All regular files under ``root`` (one scandir per folder), hidden files skipped, sorted.

    A symbolic link to a folder is followed (an archive assembled from links to where the studies
    lie), each real folder listed once: a link back to a folder already listed (a loop) or to one
    listed through another link is skipped with a log line.  A broken symbolic link (its target
    missing: storage not mounted) and a folder that cannot be listed are appended to ``skipped``
    with the reason."""
    stack = [root]
    seen: set[str] = set()
    while stack:
        d = stack.pop()
        real = os.path.realpath(d)
        if real in seen:
            log.info("folder %s skipped: it is %s, listed already (a symbolic link to it, or a loop)", d, real)
            continue
        seen.add(real)
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            log.warning("cannot list folder %s: %s", d, err)
            if skipped is not None:
                skipped.append(SkippedFile(d, f"folder that cannot be listed: {err.strerror or err}; nothing under "
                                              "it was indexed. Check its permissions (or its storage)"))
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith(".") or e.name in _SKIP_NAMES:
                continue
            if e.is_dir():  # (a link to a folder too)
                subdirs.append(e.path)
            elif e.is_file():
                yield e.path
            elif skipped is not None and e.is_symlink() and not os.path.exists(e.path):
                skipped.append(SkippedFile(e.path, broken_link_reason(e.path)))
        stack.extend(reversed(subdirs))


def _is_dicomdir_file(path: str) -> bool:
    name = os.path.basename(path).upper()
    if not name.startswith("DICOMDIR"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def _dicomdir_files(path: str) -> tuple[list[str], list[SkippedFile]]:
    """Files referenced by a DICOMDIR (ReferencedFileID of its directory records)."""
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    root = os.path.dirname(os.path.abspath(path))
    files: list[str] = []
    skipped: list[SkippedFile] = []
    seen = set()
    for rec in ds.get("DirectoryRecordSequence", []) or []:
        ref = rec.get("ReferencedFileID")
        if not ref:
            continue
        parts = [str(p) for p in (ref if not isinstance(ref, str) else [ref])]
        p = os.path.join(root, *parts)
        if not os.path.exists(p):
            # case-insensitive media (ISO 9660 names are upper case)
            alt = _case_insensitive(root, parts)
            if alt is None:
                skipped.append(SkippedFile(p, "referenced by the DICOMDIR but missing on disk"))
                continue
            p = alt
        if p not in seen:
            seen.add(p)
            files.append(p)
    return files, skipped


def _case_insensitive(root: str, parts: Sequence[str]) -> str | None:
    cur = root
    for part in parts:
        try:
            names = {n.upper(): n for n in os.listdir(cur)}
        except OSError:
            return None
        hit = names.get(part.upper())
        if hit is None:
            return None
        cur = os.path.join(cur, hit)
    return cur


def _zip_members(path: str) -> tuple[list[str], list[SkippedFile]]:
    files: list[str] = []
    skipped: list[SkippedFile] = []
    encrypted: list[str] = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            if is_encrypted(info):  # (from the zip directory: nothing is decompressed)
                encrypted.append(f"{path}{ZIP_SEP}{info.filename}")
                continue
            name = info.filename
            base = name.rsplit("/", 1)[-1]
            if base.startswith(".") or base in _SKIP_NAMES or "__MACOSX/" in name:
                continue
            if name.lower().endswith(".zip"):
                skipped.append(SkippedFile(f"{path}{ZIP_SEP}{name}",
                                           "zip inside a zip: extract the outer archive and index the folder"))
                continue
            files.append(f"{path}{ZIP_SEP}{name}")
    if encrypted and not files:  # a password-protected zip: one entry, not one per member
        return [], [*skipped, SkippedFile(path, f"{UNREADABLE_ZIP_REASON}: {ENCRYPTED_ZIP_WHAT}")]
    return files, [*skipped, *(SkippedFile(m, ENCRYPTED_MEMBER_REASON) for m in encrypted)]


def source_exists(path: str | os.PathLike[str]) -> bool:
    """Whether a source path exists; for a ``"archive.zip::member"`` string, whether the zip does (a
    member it lacks is told by :func:`resolve_zip_member`, naming what the zip holds)."""
    p = os.fspath(path)
    return os.path.isfile(p.split(ZIP_SEP, 1)[0]) if ZIP_SEP in p else os.path.exists(p)


def resolve_zip_member(source: str) -> tuple[list[str], list[SkippedFile]]:
    """The files a ``"archive.zip::member"`` string stands for, and those skipped: the member itself when
    it is a file of the zip, the files under it when it is a folder of the zip (as a folder path is
    read).  :class:`SourceNotFoundError` naming the zip's top-level folders when the zip, or the member
    in it, does not exist."""
    arc, member = source.split(ZIP_SEP, 1)
    if not os.path.isfile(arc):
        raise SourceNotFoundError(
            f"{source}: the zip {arc} does not exist. Pass \"archive.zip::member/path\" with an existing .zip."
        )
    try:
        with zipfile.ZipFile(arc) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile) as err:
        raise SourceNotFoundError(f"{source}: {arc} cannot be read as a zip ({err}). Copy the zip again "
                                  "(`unzip -t` tests it).") from err
    inner = member.replace("\\", "/").strip("/")
    if inner in names:
        return [f"{arc}{ZIP_SEP}{inner}"], []  # ("zip::/a/b.dcm" is the member "a/b.dcm")
    prefix = f"{inner}/" if inner else ""
    if any(n.startswith(prefix) for n in names):
        files, skipped = _zip_members(arc)
        cut = len(arc) + len(ZIP_SEP)
        return ([f for f in files if f[cut:].startswith(prefix)],
                [s for s in skipped if s.path[cut:].startswith(prefix)])
    top = sorted({n.split("/", 1)[0] + ("/" if "/" in n else "") for n in names if n and "__MACOSX" not in n})
    shown = ", ".join(f"'{t}'" for t in top[:12]) + (f" (and {len(top) - 12} more)" if len(top) > 12 else "")
    raise SourceNotFoundError(
        f"ZIP {arc} has no member '{member}'; its top-level entries are {shown or 'none (the zip is empty)'}. "
        f"Pass \"{arc}{ZIP_SEP}FOLDER_OR_FILE\" with a path inside the zip (`unzip -l {arc}` lists them)."
    )


#: The start of the reason a zip is skipped whole (:func:`resolve_sources`): none of its files was read.
UNREADABLE_ZIP_REASON = "zip that cannot be read"


def _broken_zip(path: str) -> SkippedFile | None:
    """A file named ``.zip`` that is not a readable zip (nor DICOM): skipped whole, with why."""
    if path[-4:].lower() != ".zip" or zipfile.is_zipfile(path):
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError as err:
        return SkippedFile(path, f"{UNREADABLE_ZIP_REASON}: {err.strerror or err}")
    if head[128:132] == b"DICM":
        return None
    what = ("truncated or corrupt: it starts as a zip but has no zip directory at its end (a download or copy that "
            "stopped)" if head[:4] == b"PK\x03\x04" else "not a zip file (no zip signature)")
    return SkippedFile(path, f"{UNREADABLE_ZIP_REASON}: {what}; none of its files was indexed. Copy the zip again "
                             "from the archive (`unzip -t` tests it)")


def resolve_sources(path: str | os.PathLike[str]) -> tuple[str, list[str], list[SkippedFile]]:
    """(root, candidate files, skipped) for a folder, a zip, a DICOMDIR or a single file.

    A ``.zip`` that cannot be read as one (truncated, corrupt) is a skipped file whose reason starts
    with :data:`UNREADABLE_ZIP_REASON` (it was "not a DICOM file")."""
    p = os.fspath(path)
    if ZIP_SEP in p:
        members, skipped = resolve_zip_member(p)
        return p, members, skipped
    if not os.path.exists(p) and os.path.islink(p):
        raise SourceNotFoundError(f"{p}: {broken_link_reason(p)}.")
    if not os.path.exists(p):
        raise SourceNotFoundError(
            f"{p} does not exist. Pass a folder of DICOM files, a .zip of them, or a DICOMDIR."
        )
    if os.path.isdir(p):
        # a .zip in the folder (an archive downloaded as one zip per patient) is read as its members
        files: list[str] = []
        skipped: list[SkippedFile] = []
        for f in _walk_folder(p, skipped):
            if f[-4:].lower() == ".zip" and zipfile.is_zipfile(f) and not _looks_dicom(f):
                try:
                    members, bad = _zip_members(f)
                except (OSError, zipfile.BadZipFile) as err:
                    skipped.append(SkippedFile(f, f"{UNREADABLE_ZIP_REASON}: {err}"))
                    continue
                files.extend(members)
                skipped.extend(bad)
            elif (broken := _broken_zip(f)) is not None:
                skipped.append(broken)
            else:
                files.append(f)
        return p, files, skipped
    if zipfile.is_zipfile(p) and not _looks_dicom(p):
        files, skipped = _zip_members(p)
        return p, files, skipped
    if (broken := _broken_zip(p)) is not None:
        return p, [], [broken]
    if _is_dicomdir_file(p):
        files, skipped = _dicomdir_files(p)
        return os.path.dirname(os.path.abspath(p)), files, skipped
    return os.path.dirname(os.path.abspath(p)), [p], []


def _looks_dicom(p: str) -> bool:
    with open(p, "rb") as f:
        return f.read(132)[128:132] == b"DICM"


# ---------------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------------
def scan_headers(
    files: Sequence[str],
    *,
    to_pixels: bool,
    progress: ProgressCallback | None = None,
    pool: ZipPool | None = None,
) -> tuple[list[InstanceHeader], list[SkippedFile]]:
    """Parse the headers of ``files``; non-DICOM and non-image-bearing odd files go to ``skipped``."""
    headers: list[InstanceHeader] = []
    skipped: list[SkippedFile] = []
    total = len(files)
    own_pool = pool is None
    pool = pool or ZipPool()
    try:
        for i, f in enumerate(files):
            try:
                h = parse_header(f, to_pixels=to_pixels, pool=pool)
            except NotDicomError as err:
                skipped.append(SkippedFile(f, EMPTY_FILE_REASON if _is_empty(f, pool) else _short_reason(err)))
            except OSError as err:
                skipped.append(SkippedFile(f, zip_member_reason(err) if ZIP_SEP in f else
                                           f"cannot read: {err.strerror or err}"))
            except ZIP_READ_ERRORS as err:
                if ZIP_SEP not in f:
                    raise
                # a damaged or password-protected member: skipped, the rest of the archive indexed
                skipped.append(SkippedFile(f, zip_member_reason(err)))
            else:
                if h.media_sop_class_uid == DICOMDIR_SOP_CLASS or h.sop_class_uid == DICOMDIR_SOP_CLASS:
                    skipped.append(SkippedFile(f, "DICOMDIR (directory of the media; images are indexed from the files)"))
                elif not h.series_instance_uid and not h.sop_class_uid:
                    skipped.append(SkippedFile(f, "DICOM file without SOPClassUID or SeriesInstanceUID"))
                else:
                    if has_functional_groups(h):  # (NumberOfFrames 1 too: geometry in the groups)
                        try:
                            add_frames(h, pool)
                        except Exception as err:  # malformed functional groups: index without them
                            log.debug("per-frame groups unreadable in %s: %s", display_source(f), err)
                    headers.append(h)
            if progress is not None and (i % 64 == 63 or i == total - 1):
                progress(i + 1, total)
    finally:
        if own_pool:
            pool.close()
    return headers, skipped


def _is_empty(source: str, pool: ZipPool) -> bool:
    """The file (or zip member) has 0 bytes (asked only of a file that failed to parse)."""
    try:
        if ZIP_SEP in source:
            arc, member = source.split(ZIP_SEP, 1)
            return pool.get(arc).getinfo(member).file_size == 0
        return os.path.getsize(source) == 0
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def _short_reason(err: Exception) -> str:
    msg = str(err)
    # drop the leading "path: " of our own messages
    if ": " in msg:
        msg = msg.split(": ", 1)[1]
    return msg.split(". ")[0]


#: The problem (and phase reason) of a series of 8-bit CT images (:attr:`SeriesInfo.is_mask`).
MASK_SERIES_NOTE = (
    "8-bit CT images (BitsAllocated 8): CT holds HU in 16 bits, so this is a mask or label map stored as CT "
    "images (e.g. 3D-IRCADb MASKS_DICOM), not an image to measure; read it with hcc_imaging.io.masks.load_mask"
)


def summarise_series(headers: Sequence[InstanceHeader]) -> SeriesInfo:
    """Build a :class:`SeriesInfo` (phase UNKNOWN, set later with study context) from its headers."""
    h0 = headers[0]
    is_image = any(h.is_image for h in headers)
    problems: list[str] = []
    images = [h for h in headers if h.is_image]
    slices: list[SliceRef] = [s for h in images for s in slices_of(h)]
    geometry = GeometrySummary(None, None, None, None, "unknown", 0, None, None, None, 0)
    ordered_files: list[str] = []
    if images:
        colour = [h for h in images if (h.samples_per_pixel or 1) > 1 or
                  h.photometric_interpretation.upper().startswith(("RGB", "YBR", "PALETTE"))]
        if colour:
            problems.append(f"colour images ({colour[0].photometric_interpretation or 'SamplesPerPixel>1'}): "
                            "no HU/greyscale values")
        an = analyse_stack(slices)
        for issue in an.issues:
            problems.append(issue.text)
        ordered = an.slices
        if an.positions_mm is None:
            ordered = sorted(slices, key=lambda s: (s.header.instance_number if s.header.instance_number is not None
                                                    else 1 << 30, s.header.path))
        seen: set[str] = set()
        for s in ordered:
            if s.header.path not in seen:
                seen.add(s.header.path)
                ordered_files.append(s.header.path)
        extent = None
        if an.positions_mm is not None and len(an.positions_mm) > 1:
            extent = float(an.positions_mm[-1] - an.positions_mm[0])
        ps = images[0].pixel_spacing
        spacing = an.slice_spacing_mm if an.issue("irregular_spacing") is None else None
        if an.issue("duplicate_positions") is not None:
            spacing = None
        geometry = GeometrySummary(
            rows=images[0].rows,
            columns=images[0].columns,
            pixel_spacing_mm=(float(ps[0]), float(ps[1])) if ps and len(ps) >= 2 else None,
            orientation=tuple(images[0].image_orientation_patient) if images[0].image_orientation_patient else None,
            orientation_label=orientation_label(slices[0].iop) if slices else "unknown",
            n_positions=len(an.positions_mm) if an.positions_mm is not None else 0,
            slice_spacing_mm=spacing,
            slice_thickness_mm=images[0].slice_thickness,
            extent_mm=extent,
            n_frames=len(slices),
        )
        if len(images) < len(headers):
            problems.append(f"{len(headers) - len(images)} object(s) without pixel data in the series")
    else:
        ordered_files = [h.path for h in sorted(headers, key=lambda h: h.path)]
    is_mask = bool(images) and all(h.modality.upper() == "CT" and h.bits_allocated is not None
                                   and h.bits_allocated <= 8 for h in images)
    if is_mask:
        problems.append(MASK_SERIES_NOTE)
    sop_classes = {h.sop_class_uid for h in headers}
    if len(sop_classes) > 1:
        problems.append(f"{len(sop_classes)} SOP classes in one series")
    if not h0.series_instance_uid:
        problems.append("SeriesInstanceUID missing: files grouped by folder")
    acq_times = sorted(h.acquisition_time for h in headers if h.acquisition_time)
    return SeriesInfo(
        series_instance_uid=h0.series_instance_uid,
        study_instance_uid=h0.study_instance_uid,
        patient_id=h0.patient_id,
        modality=h0.modality,
        series_description=h0.series_description,
        series_number=h0.series_number,
        series_date=h0.series_date or h0.acquisition_date or h0.content_date,
        study_date=h0.study_date,
        series_time=h0.series_time,
        acquisition_time=acq_times[0] if acq_times else "",
        content_time=h0.content_time,
        contrast_bolus_agent=h0.contrast_bolus_agent,
        contrast_bolus_start_time=h0.contrast_bolus_start_time,
        protocol_name=h0.protocol_name,
        frame_of_reference_uid=h0.frame_of_reference_uid,
        sop_class_uid=h0.sop_class_uid,
        manufacturer=h0.manufacturer,
        body_part_examined=h0.body_part_examined,
        transfer_syntax_uids=tuple(sorted({h.transfer_syntax_uid for h in headers if h.transfer_syntax_uid})),
        n_instances=len(headers),
        files=tuple(ordered_files),
        geometry=geometry,
        phase=PhaseCall(Phase.UNKNOWN, 0.0, "not classified yet"),
        problems=tuple(problems),
        is_image=is_image,
        n_localizers=sum(1 for h in images if LOCALIZER_IMAGE_TYPES.intersection(h.image_type[2:])),
        is_mask=is_mask,
        n_subtractions=sum(1 for h in images
                           if SUBTRACTION_IMAGE_TYPES.intersection(v.strip().upper() for v in h.image_type[2:])),
    )


class SeriesKey(NamedTuple):
    """What a file's series is told by: (PatientID, StudyInstanceUID, SeriesInstanceUID or, when
    missing, ``"(no SeriesInstanceUID) <folder>"``)."""

    patient_id: str
    study_instance_uid: str
    series: str


def group_headers(headers: Sequence[InstanceHeader]) -> dict[SeriesKey, list[InstanceHeader]]:
    """Headers by (PatientID, StudyInstanceUID, SeriesInstanceUID) (missing series UID: by folder,
    so strays never merge across folders).  Two patients' (or studies') files that carry one
    SeriesInstanceUID (an anonymiser that kept the series UIDs, a bad merge) are two groups, never
    one series: :func:`shared_series_uids` finds them."""
    groups: dict[SeriesKey, list[InstanceHeader]] = {}
    for h in headers:
        key = SeriesKey(str(h.patient_id or "").strip(), str(h.study_instance_uid or "").strip(),
                        h.series_instance_uid or f"(no SeriesInstanceUID) {os.path.dirname(h.path)}")
        groups.setdefault(key, []).append(h)
    return groups


def shared_series_uids(keys: Iterable[SeriesKey]) -> dict[str, list[SeriesKey]]:
    """The SeriesInstanceUIDs that more than one (patient, study) carries, each with its keys."""
    by_uid: dict[str, list[SeriesKey]] = {}
    for k in keys:
        by_uid.setdefault(k.series, []).append(k)
    return {uid: ks for uid, ks in by_uid.items() if len(ks) > 1}


def describe_shared_series_uid(uid: str, keys: Sequence[SeriesKey]) -> str:
    """What is wrong when several patients / studies carry one SeriesInstanceUID, and the fix."""
    who = "; ".join(f"patient {k.patient_id or '(no PatientID)'}, study {k.study_instance_uid or '?'}"
                    for k in keys[:4])
    return (f"SeriesInstanceUID {uid} is carried by the files of {len(keys)} different patients/studies ({who}"
            f"{' ...' if len(keys) > 4 else ''}): a SeriesInstanceUID names one series of one patient's study (an "
            "anonymiser that kept the series UIDs, or a bad merge, gave it to both), so they are kept apart and never "
            "stacked into one volume. Fix the DICOM: give the wrong copy new SeriesInstanceUIDs (and SOP instance "
            "UIDs), or correct its PatientID / StudyInstanceUID")


#: The prefix of the patient key of a study without a PatientID (:func:`patient_key`).
NO_PATIENT_ID_PREFIX = "noid-"


def patient_key(patient_id: str, study_instance_uid: str) -> str:
    """The patient a study is read under: its PatientID, or, when that is empty (PatientID is DICOM
    type 2: anonymised public data often leaves it empty), ``noid-<16 hex digits>``, a patient of its
    own: the first 16 hex digits of the SHA-256 of its StudyInstanceUID (a UID may be 64 characters,
    the study store's ids at most 64; the warning that :func:`build_index` logs names both).
    Studies without an id are never merged into one "patient": their time points would be read as
    one patient's follow-ups (baseline, fu1, ...) and their responses computed across patients.
    Studies of one patient are read together only when they carry the same PatientID.

    Raises
    ------
    ValueError
        Both are empty: nothing tells whose the object is (the key of an empty StudyInstanceUID
        would be one shared key, ``noid-e3b0c44298fc1c14``, for every such object).  The index
        skips files without a StudyInstanceUID (:func:`build_index`).
    """
    pid = str(patient_id or "").strip()
    if pid:
        return pid
    suid = str(study_instance_uid or "").strip()
    if not suid:
        raise ValueError(
            "no PatientID and no StudyInstanceUID: there is no key to tell this object's patient from any other's "
            "(an empty StudyInstanceUID would give every such object one key, so unrelated studies would become "
            "one patient). Restore the StudyInstanceUID (0020,000D), or give a PatientID.")
    return NO_PATIENT_ID_PREFIX + hashlib.sha256(suid.encode()).hexdigest()[:16]


def warn_no_patient_id(study_uids: Iterable[str]) -> None:
    """Log, once per study, that a study has no PatientID and is read as a patient of its own
    (:func:`patient_key`)."""
    for suid in sorted(set(study_uids)):
        log.warning("study %s has no PatientID: read as a patient of its own, %s; studies are read as one "
                    "patient's time points only when they carry the same PatientID", suid, patient_key("", suid))


def has_no_patient_id(patient_id: str, study_instance_uid: str) -> bool:
    """Whether ``patient_id`` is the key :func:`patient_key` gives a study without a PatientID."""
    if not str(study_instance_uid or "").strip():
        return False  # no study key at all (patient_key refuses it): never a noid- key
    return patient_id == patient_key("", study_instance_uid)


#: Reason a file without a StudyInstanceUID is skipped by :func:`build_index`.
NO_STUDY_UID_REASON = (
    "no StudyInstanceUID (0020,000D; type 1, dropped by a broken export): its study cannot be told, so it is "
    "not indexed (it would be read as one study, and without a PatientID one patient, with every other file "
    "missing it). Restore the tag (export the study again from the PACS or scanner, or give the files their "
    "study's UID, e.g. dcmodify -i \"(0020,000D)=UID\"), or load the series alone with load_series"
)


def _without_study_uid(
    headers: Sequence[InstanceHeader], *, warn: bool
) -> tuple[list[InstanceHeader], list[SkippedFile]]:
    """Split off the headers without a StudyInstanceUID (skipped with :data:`NO_STUDY_UID_REASON`),
    logging one warning per series (or folder) of them when ``warn``."""
    kept = [h for h in headers if str(h.study_instance_uid or "").strip()]
    if len(kept) == len(headers):
        return kept, []
    missing = [h for h in headers if not str(h.study_instance_uid or "").strip()]
    if warn:
        for key, hs in group_headers(missing).items():
            log.warning("series %s: %d file(s) without a StudyInstanceUID skipped (first: %s): %s.", key.series,
                        len(hs), display_source(hs[0].path), NO_STUDY_UID_REASON)
    return kept, [SkippedFile(h.path, NO_STUDY_UID_REASON) for h in missing]


def build_index(
    root: str,
    headers: Sequence[InstanceHeader],
    skipped: Sequence[SkippedFile],
    n_files: int,
    elapsed_s: float,
    *,
    warn_no_patient_ids: bool = True,
) -> ArchiveIndex:
    """The index of parsed ``headers``; a study without a PatientID is a patient of its own, and
    logged as such (:func:`warn_no_patient_id`) unless ``warn_no_patient_ids`` is False (the batch
    indexes studies on its workers, and again to export them: its driver warns once per study).

    A file without a StudyInstanceUID is skipped (listed in ``skipped`` with the reason and the fix,
    and logged per series unless ``warn_no_patient_ids`` is False: the batch reports the skipped files
    itself): which study it belongs to cannot be told, and grouping such files would make one study,
    and one patient, of unrelated exams."""
    headers, no_study = _without_study_uid(headers, warn=warn_no_patient_ids)
    skipped = [*skipped, *no_study]
    groups = group_headers(headers)
    shared = shared_series_uids(groups)
    series = []
    for key, g in groups.items():
        s = summarise_series(g)
        if key.series in shared:
            s = replace(s, problems=(*s.problems, describe_shared_series_uid(key.series, shared[key.series])))
        series.append(s)
    if warn_no_patient_ids:  # (the batch's workers index quietly; the problem is in each series)
        for uid, keys in shared.items():
            log.warning("%s.", describe_shared_series_uid(uid, keys))  # UIDs and PatientIDs, never a name
    by_study: dict[tuple[str, str], list[SeriesInfo]] = {}
    no_id: dict[str, str] = {}  # StudyInstanceUID -> its key, for the studies without a PatientID
    for s in series:
        key = patient_key(s.patient_id, s.study_instance_uid)
        if key != s.patient_id:
            no_id[s.study_instance_uid] = key
            s = replace(s, patient_id=key)
        by_study.setdefault((key, s.study_instance_uid), []).append(s)
    patients: dict[str, list[StudyInfo]] = {}
    study_desc = {}
    for h in headers:
        study_desc.setdefault(h.study_instance_uid, h.study_description)
    for (pid, suid), ss in by_study.items():
        ss = [replace(s, phase=classify_phase(s, study_series=ss)) for s in ss]
        ss.sort(key=lambda s: (s.series_number if s.series_number is not None else 1 << 30,
                               s.acquisition_time, s.series_instance_uid))
        patients.setdefault(pid, []).append(
            StudyInfo(suid, pid, ss[0].study_date, study_desc.get(suid, ""), tuple(ss))
        )
    pats = tuple(
        PatientInfo(pid, tuple(sorted(sts, key=lambda st: (st.study_date, st.study_instance_uid))))
        for pid, sts in sorted(patients.items())
    )
    if warn_no_patient_ids:
        # a study of masks stored as CT images is no patient (StudyInfo.masks_only): not warned
        warn_no_patient_id(st.study_instance_uid for p in pats for st in p.studies
                           if st.study_instance_uid in no_id and not st.masks_only)
    return ArchiveIndex(root=root, patients=pats, skipped=tuple(skipped), n_files=n_files, elapsed_s=elapsed_s)


def index_archive(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None, warn_no_patient_ids: bool = True
) -> ArchiveIndex:
    """Index a folder tree, a .zip or a DICOMDIR from headers only.

    Parameters
    ----------
    path : str or PathLike
        A folder (walked recursively, once; a ``.zip`` in it is read as its members), a ``.zip``
        file, a ``DICOMDIR`` file (its referenced
        files are indexed), or a single DICOM file.  A folder that contains a DICOMDIR is walked
        like any folder (the DICOMDIR itself is listed as skipped), so files the DICOMDIR forgot
        are still found.
    progress : callable, optional
        ``progress(done, total)``, called every 64 files.
    warn_no_patient_ids : bool
        Log each study without a PatientID (read as a patient of its own) and each series of files
        without a StudyInstanceUID (skipped); the batch passes False, warns once per study in its
        driver and reports the skipped files itself.

    Returns
    -------
    ArchiveIndex
        Patients -> studies -> series, plus the skipped files with reasons.

    Raises
    ------
    SourceNotFoundError
        ``path`` does not exist (also a ``FileNotFoundError``).
    """
    t0 = time.perf_counter()
    root, files, skipped = resolve_sources(path)
    headers, skipped2 = scan_headers(files, to_pixels=False, progress=progress)
    idx = build_index(root, headers, [*skipped, *skipped2], len(files), 0.0, warn_no_patient_ids=warn_no_patient_ids)
    n_series = len(idx.series)
    log.info("indexed %d files (%d series, %d skipped) under %s", len(files), n_series, len(idx.skipped),
             Path(root).name)
    return replace(idx, elapsed_s=time.perf_counter() - t0)

"""Fast DICOM header parsing: the tags hcc_imaging needs, and where the pixel bytes start.

The common case (Part 10 file, little-endian implicit or explicit VR, any pixel encoding) is
parsed here by walking the top-level elements of the first few KB of the file with ``struct``:
sequences and private blocks are skipped by their length, only ~50 tags are converted.  This is
3-5x faster than ``pydicom.dcmread(stop_before_pixels=True)`` (see ``benchmarks/bench_index.py``).
Everything else (big endian, deflate, no file meta, malformed lengths, enhanced multi-frame) is read
with pydicom (:func:`header_from_dataset`), so the result never depends on which path ran.

Patient names are never read.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from ._constants import HEADER_CHUNK_BYTES

__all__ = [
    "InstanceHeader",
    "parse_header",
    "header_from_dataset",
    "open_source",
    "read_source_bytes",
    "ZIP_SEP",
    "ParseFailure",
    "UNCOMPRESSED_LE",
    "IMPLICIT_LE",
    "EXPLICIT_LE",
]

#: Separator between a zip archive path and a member name in a source string ("a.zip::dir/f.dcm").
ZIP_SEP = "::"

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
UNCOMPRESSED_LE = frozenset({IMPLICIT_LE, EXPLICIT_LE})
_FAST_TS = frozenset(
    {
        IMPLICIT_LE,
        EXPLICIT_LE,
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
        "1.2.840.10008.1.2.5",
    }
)

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
        b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)
_PIXEL_DATA = 0x7FE00010
_ITEM = 0xFFFEE000
_ITEM_DELIM = 0xFFFEE00D
_SEQ_DELIM = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF


class _TruncatedHeader(Exception):
    """The file ends inside a header element (the fast parser's EOF)."""

    def __init__(self, n_bytes: int) -> None:
        super().__init__(n_bytes)
        self.n_bytes = n_bytes


class ParseFailure(Exception):
    """Internal: the fast parser cannot read this file; use pydicom instead."""


class _Incomplete(Exception):
    """Internal: the buffer ended before the parse did; read more bytes."""


# tag -> (attribute, kind). kinds: s=str, u=UID, m=multi-valued str (upper, tuple),
# f=float (DS), fm=floats (DS multi), i=int (IS), us=unsigned short (US)
_TAGS: dict[int, tuple[str, str]] = {
    0x00080005: ("specific_character_set", "m"),
    0x00080008: ("image_type", "m"),
    0x00080016: ("sop_class_uid", "u"),
    0x00080018: ("sop_instance_uid", "u"),
    0x00080020: ("study_date", "s"),
    0x00080021: ("series_date", "s"),
    0x00080022: ("acquisition_date", "s"),
    0x00080023: ("content_date", "s"),
    0x0008002A: ("acquisition_datetime", "s"),
    0x00080030: ("study_time", "s"),
    0x00080031: ("series_time", "s"),
    0x00080032: ("acquisition_time", "s"),
    0x00080033: ("content_time", "s"),
    0x00080060: ("modality", "s"),
    0x00080070: ("manufacturer", "s"),
    0x00081030: ("study_description", "s"),
    0x0008103E: ("series_description", "s"),
    0x00100020: ("patient_id", "s"),
    0x00180010: ("contrast_bolus_agent", "s"),
    0x00180015: ("body_part_examined", "s"),
    0x00180050: ("slice_thickness", "f"),
    0x00180088: ("spacing_between_slices", "f"),
    0x00181030: ("protocol_name", "s"),
    0x00181040: ("contrast_bolus_route", "s"),
    0x00181041: ("contrast_bolus_volume", "f"),
    0x00181042: ("contrast_bolus_start_time", "s"),
    0x00180086: ("echo_numbers", "i"),
    0x00181120: ("gantry_detector_tilt", "f"),
    0x0020000D: ("study_instance_uid", "u"),
    0x0020000E: ("series_instance_uid", "u"),
    0x00200011: ("series_number", "i"),
    0x00200012: ("acquisition_number", "i"),
    0x00200013: ("instance_number", "i"),
    0x00200032: ("image_position_patient", "fm"),
    0x00200037: ("image_orientation_patient", "fm"),
    0x00200100: ("temporal_position_identifier", "i"),
    0x00200052: ("frame_of_reference_uid", "u"),
    0x00280002: ("samples_per_pixel", "us"),
    0x00280004: ("photometric_interpretation", "s"),
    0x00280006: ("planar_configuration", "us"),
    0x00280008: ("number_of_frames", "i"),
    0x00280010: ("rows", "us"),
    0x00280011: ("columns", "us"),
    0x00280030: ("pixel_spacing", "fm"),
    0x00280100: ("bits_allocated", "us"),
    0x00280101: ("bits_stored", "us"),
    0x00280103: ("pixel_representation", "us"),
    0x00281052: ("rescale_intercept", "f"),
    0x00281053: ("rescale_slope", "f"),
}
_KEYWORDS: dict[str, str] = {
    "specific_character_set": "SpecificCharacterSet",
    "image_type": "ImageType",
    "sop_class_uid": "SOPClassUID",
    "sop_instance_uid": "SOPInstanceUID",
    "study_date": "StudyDate",
    "series_date": "SeriesDate",
    "acquisition_date": "AcquisitionDate",
    "content_date": "ContentDate",
    "acquisition_datetime": "AcquisitionDateTime",
    "study_time": "StudyTime",
    "series_time": "SeriesTime",
    "acquisition_time": "AcquisitionTime",
    "content_time": "ContentTime",
    "modality": "Modality",
    "manufacturer": "Manufacturer",
    "study_description": "StudyDescription",
    "series_description": "SeriesDescription",
    "patient_id": "PatientID",
    "contrast_bolus_agent": "ContrastBolusAgent",
    "body_part_examined": "BodyPartExamined",
    "slice_thickness": "SliceThickness",
    "spacing_between_slices": "SpacingBetweenSlices",
    "protocol_name": "ProtocolName",
    "contrast_bolus_route": "ContrastBolusRoute",
    "contrast_bolus_volume": "ContrastBolusVolume",
    "contrast_bolus_start_time": "ContrastBolusStartTime",
    "gantry_detector_tilt": "GantryDetectorTilt",
    "echo_numbers": "EchoNumbers",
    "temporal_position_identifier": "TemporalPositionIdentifier",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "series_number": "SeriesNumber",
    "acquisition_number": "AcquisitionNumber",
    "instance_number": "InstanceNumber",
    "image_position_patient": "ImagePositionPatient",
    "image_orientation_patient": "ImageOrientationPatient",
    "frame_of_reference_uid": "FrameOfReferenceUID",
    "samples_per_pixel": "SamplesPerPixel",
    "photometric_interpretation": "PhotometricInterpretation",
    "planar_configuration": "PlanarConfiguration",
    "number_of_frames": "NumberOfFrames",
    "rows": "Rows",
    "columns": "Columns",
    "pixel_spacing": "PixelSpacing",
    "bits_allocated": "BitsAllocated",
    "bits_stored": "BitsStored",
    "pixel_representation": "PixelRepresentation",
    "rescale_intercept": "RescaleIntercept",
    "rescale_slope": "RescaleSlope",
}
_TEXT_ATTRS = frozenset({"series_description", "study_description", "protocol_name", "contrast_bolus_agent",
                         "manufacturer", "patient_id", "body_part_examined"})


@dataclass(slots=True)
class InstanceHeader:
    """What hcc_imaging reads from one DICOM file (internal record; never holds patient names).

    ``pixel_offset`` is the file offset of the first byte of the Pixel Data *value* (None when the
    parse stopped before it); ``pixel_length`` its length (``0xFFFFFFFF`` = encapsulated).
    """

    path: str
    transfer_syntax_uid: str = ""
    media_sop_class_uid: str = ""
    specific_character_set: tuple[str, ...] = ()
    image_type: tuple[str, ...] = ()
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_date: str = ""
    series_date: str = ""
    acquisition_date: str = ""
    content_date: str = ""
    acquisition_datetime: str = ""
    study_time: str = ""
    series_time: str = ""
    acquisition_time: str = ""
    content_time: str = ""
    modality: str = ""
    manufacturer: str = ""
    study_description: str = ""
    series_description: str = ""
    patient_id: str = ""
    contrast_bolus_agent: str = ""
    body_part_examined: str = ""
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    protocol_name: str = ""
    contrast_bolus_route: str = ""
    contrast_bolus_volume: float | None = None
    contrast_bolus_start_time: str = ""
    gantry_detector_tilt: float | None = None
    echo_numbers: int | None = None  # the first of EchoNumbers
    temporal_position_identifier: int | None = None
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    series_number: int | None = None
    acquisition_number: int | None = None
    instance_number: int | None = None
    image_position_patient: tuple[float, ...] | None = None
    image_orientation_patient: tuple[float, ...] | None = None
    frame_of_reference_uid: str = ""
    samples_per_pixel: int | None = None
    photometric_interpretation: str = ""
    planar_configuration: int | None = None
    number_of_frames: int | None = None
    rows: int | None = None
    columns: int | None = None
    pixel_spacing: tuple[float, ...] | None = None
    bits_allocated: int | None = None
    bits_stored: int | None = None
    pixel_representation: int | None = None
    rescale_intercept: float | None = None
    rescale_slope: float | None = None
    has_pixel_data: bool = False
    pixel_offset: int | None = None
    pixel_length: int | None = None
    pixel_vr: str = ""
    parsed_by: str = "fast"
    #: Enhanced multi-frame: per-frame (position, orientation, spacing, slope, intercept) tuples.
    frames: tuple[Any, ...] = field(default=())

    @property
    def is_multiframe(self) -> bool:
        return (self.number_of_frames or 1) > 1

    @property
    def is_image(self) -> bool:
        return self.has_pixel_data and bool(self.rows) and bool(self.columns)


# --------------------------------------------------------------------------------------------
# Sources: plain files and zip members
# --------------------------------------------------------------------------------------------
def split_zip(source: str) -> tuple[str, str] | None:
    """``("a.zip", "member")`` for a zip-member source string, else None."""
    if ZIP_SEP in source:
        arc, member = source.split(ZIP_SEP, 1)
        return arc, member
    return None


class ZipPool:
    """Open zip archives once per scan/load (``with ZipPool() as pool``)."""

    def __init__(self) -> None:
        self._open: dict[str, zipfile.ZipFile] = {}

    def get(self, archive: str) -> zipfile.ZipFile:
        zf = self._open.get(archive)
        if zf is None:
            zf = zipfile.ZipFile(archive)
            self._open[archive] = zf
        return zf

    def close(self) -> None:
        for zf in self._open.values():
            zf.close()
        self._open.clear()

    def __enter__(self) -> ZipPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(source: str, pool: ZipPool | None = None) -> IO[bytes]:
    """Binary file object for a path or a ``zip::member`` source."""
    z = split_zip(source)
    if z is None:
        return open(source, "rb")  # noqa: SIM115 - caller closes
    zf = (pool or ZipPool()).get(z[0])
    return io.BytesIO(zf.read(z[1]))


def dicom_file(source: str | os.PathLike[str]) -> str | io.BytesIO:
    """What ``pydicom.dcmread`` / ``highdicom`` read for a path or a ``zip::member`` source (a SEG or
    RTSTRUCT inside a zip SOURCE): the path, or the member's bytes.  ``OSError`` (naming the zip
    and the member) when the member cannot be read."""
    s = os.fspath(source)
    z = split_zip(s)
    if z is None:
        return s
    try:
        with zipfile.ZipFile(z[0]) as zf:
            return io.BytesIO(zf.read(z[1]))
    except KeyError:
        raise OSError(f"the zip {z[0]} has no member {z[1]!r}") from None
    except zipfile.BadZipFile as err:
        raise OSError(f"the zip {z[0]} cannot be read ({err})") from err


def read_source_bytes(source: str, pool: ZipPool | None = None) -> bytes:
    z = split_zip(source)
    if z is None:
        with open(source, "rb") as f:
            return f.read()
    return (pool or ZipPool()).get(z[0]).read(z[1])


# --------------------------------------------------------------------------------------------
# Fast parser
# --------------------------------------------------------------------------------------------
_unpack_tag = struct.Struct("<HH").unpack_from
_unpack_expl = struct.Struct("<HH2sH").unpack_from
_unpack_u32 = struct.Struct("<I").unpack_from
_unpack_u16 = struct.Struct("<H").unpack_from


def _skip_undefined(buf: bytes, pos: int, explicit: bool) -> int:
    """Position after an undefined-length sequence whose items start at ``pos``."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _Incomplete
        g, e = _unpack_tag(buf, pos)
        tag = g << 16 | e
        length = _unpack_u32(buf, pos + 4)[0]
        pos += 8
        if tag == _SEQ_DELIM:
            return pos
        if tag != _ITEM:
            raise ParseFailure(f"unexpected tag {tag:08X} in a sequence")
        if length != _UNDEFINED:
            pos += length
            continue
        # undefined-length item: walk its elements until the item delimiter
        while True:
            if pos + 8 > n:
                raise _Incomplete
            g, e = _unpack_tag(buf, pos)
            tag = g << 16 | e
            if tag == _ITEM_DELIM:
                pos += 8
                break
            pos = _skip_element(buf, pos, explicit)


def _skip_element(buf: bytes, pos: int, explicit: bool) -> int:
    n = len(buf)
    if explicit:
        if pos + 8 > n:
            raise _Incomplete
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > n:
                raise _Incomplete
            length = _unpack_u32(buf, pos + 8)[0]
            hdr = 12
        elif vr in _SHORT_VRS:
            length = _unpack_u16(buf, pos + 6)[0]
            hdr = 8
        else:
            raise ParseFailure(f"unknown VR {vr!r}")
    else:
        length = _unpack_u32(buf, pos + 4)[0]
        hdr = 8
    if length == _UNDEFINED:
        return _skip_undefined(buf, pos + hdr, explicit)
    return pos + hdr + length


def _decode_text(raw: bytes, charsets: tuple[str, ...]) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        pass
    if any(c == "ISO_IR 192" for c in charsets):
        return raw.decode("utf-8", errors="replace")
    if not charsets or charsets[0] in ("", "ISO_IR 100", "ISO_IR 6"):
        return raw.decode("latin-1")
    from pydicom.charset import decode_bytes

    return str(decode_bytes(raw, list(charsets), set()))


def _convert(raw: bytes, kind: str, attr: str, charsets: tuple[str, ...]) -> Any:
    if kind == "us":
        if len(raw) < 2:
            return None
        return _unpack_u16(raw, 0)[0]
    text = raw.rstrip(b" \x00")
    if kind == "u":
        return text.decode("ascii", errors="replace").strip()
    if kind == "s":
        if attr in _TEXT_ATTRS:
            return _decode_text(text, charsets).strip()
        return text.decode("latin-1").strip()
    if kind == "m":
        return tuple(v.strip().upper() for v in text.decode("latin-1").split("\\"))
    if not text.strip():
        return None
    try:
        if kind == "f":
            return float(text.split(b"\\")[0])
        if kind == "fm":
            return tuple(float(v) for v in text.split(b"\\"))
        if kind == "i":
            return int(float(text.split(b"\\")[0]))
    except ValueError:
        return None
    raise AssertionError(kind)  # pragma: no cover - table is closed


def _walk(
    buf: bytes, pos: int, explicit: bool, hdr_out: InstanceHeader, stop_group: int, base: int,
    eof: bool = False,
) -> None:
    """Walk top-level elements from ``pos``; fill ``hdr_out``; stop at Pixel Data or ``stop_group``."""
    n = len(buf)
    tags = _TAGS
    charsets: tuple[str, ...] = ()
    while pos < n:
        if pos + 8 > n:
            raise _Incomplete
        if explicit:
            g, e, vr, short_len = _unpack_expl(buf, pos)
            if vr in _LONG_VRS:
                if pos + 12 > n:
                    raise _Incomplete
                length = _unpack_u32(buf, pos + 8)[0]
                vstart = pos + 12
            elif vr in _SHORT_VRS:
                length = short_len
                vstart = pos + 8
            else:
                raise ParseFailure(f"unknown VR {vr!r} at offset {base + pos}")
        else:
            g, e = _unpack_tag(buf, pos)
            length = _unpack_u32(buf, pos + 4)[0]
            vstart = pos + 8
            vr = b""
        tag = g << 16 | e
        if tag == _PIXEL_DATA:
            hdr_out.has_pixel_data = True
            hdr_out.pixel_offset = base + vstart
            hdr_out.pixel_length = length
            hdr_out.pixel_vr = vr.decode("ascii") if vr else ""
            return
        if g > stop_group:
            if hdr_out.rows and hdr_out.columns:
                # index mode stops before Pixel Data; an object with Rows/Columns carries pixels
                hdr_out.has_pixel_data = True
            return
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, vstart, explicit)
            continue
        vend = vstart + length
        spec = tags.get(tag)
        if spec is not None:
            if vend > n:
                raise _Incomplete
            attr, kind = spec
            val = _convert(buf[vstart:vend], kind, attr, charsets)
            if attr == "specific_character_set":
                charsets = val
            setattr(hdr_out, attr, val)
        pos = vend
    if eof and pos == n:  # the whole file was read and ended cleanly on an element boundary
        return
    raise _Incomplete


def _parse_buffer(buf: bytes, path: str, stop_group: int, eof: bool = False) -> InstanceHeader:
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise ParseFailure("no DICM preamble")
    hdr = InstanceHeader(path=path)
    pos = 132
    n = len(buf)
    # File meta group: always explicit VR little endian.
    while pos + 8 <= n:
        g = _unpack_u16(buf, pos)[0]
        if g != 0x0002:
            break
        e = _unpack_u16(buf, pos + 2)[0]
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            length = _unpack_u32(buf, pos + 8)[0]
            vstart = pos + 12
        elif vr in _SHORT_VRS:
            length = _unpack_u16(buf, pos + 6)[0]
            vstart = pos + 8
        else:
            raise ParseFailure("file meta is not explicit VR")
        if length == _UNDEFINED:
            raise ParseFailure("undefined length in file meta")
        if e == 0x0010:
            hdr.transfer_syntax_uid = buf[vstart : vstart + length].rstrip(b" \x00").decode("ascii", "replace")
        elif e == 0x0002:
            hdr.media_sop_class_uid = buf[vstart : vstart + length].rstrip(b" \x00").decode("ascii", "replace")
        pos = vstart + length
    else:
        raise _Incomplete
    ts = hdr.transfer_syntax_uid
    if ts not in _FAST_TS:
        raise ParseFailure(f"transfer syntax {ts or '(missing)'} is read with pydicom")
    _walk(buf, pos, ts != IMPLICIT_LE, hdr, stop_group, 0, eof)
    return hdr


def parse_header(
    source: str,
    *,
    to_pixels: bool = True,
    pool: ZipPool | None = None,
    data: bytes | None = None,
    chunk: int = HEADER_CHUNK_BYTES,
) -> InstanceHeader:
    """Parse one file's header.

    Parameters
    ----------
    source : str
        File path, or ``"archive.zip::member"``.
    to_pixels : bool
        Walk up to the Pixel Data element (needed to read pixels).  False stops after group
        0x0028, which is all an index needs and avoids reading large private groups.
    data : bytes, optional
        The whole file, when the caller already has it (zip members).

    Raises
    ------
    NotDicomError
        The file is not DICOM (no preamble and pydicom cannot read it either).
    """
    stop_group = 0x7FE0 if to_pixels else 0x0028
    z = split_zip(source)
    if data is None and z is not None:
        data = read_source_bytes(source, pool)
    try:
        if data is not None:
            try:
                return _parse_buffer(data, source, stop_group, eof=True)
            except _Incomplete:
                if not to_pixels:
                    # header ended inside/after the last wanted group: the data is complete
                    raise ParseFailure("truncated header") from None
                raise ParseFailure("truncated file") from None
        with open(source, "rb", buffering=0) as f:
            size = chunk
            buf = b""
            while True:
                buf += f.read(size - len(buf))
                try:
                    return _parse_buffer(buf, source, stop_group, eof=len(buf) < size)
                except _Incomplete:
                    if len(buf) < size:  # end of file reached inside an element: a truncated copy
                        raise _TruncatedHeader(len(buf)) from None
                    size *= 4
    except _TruncatedHeader as cut:
        from .errors import NotDicomError

        try:  # a layout our parser does not walk, that pydicom reads whole, is not truncated
            hdr = _parse_with_pydicom(source, data=data, pool=pool, strict=True)
        except Exception:
            hdr = None
        # pydicom returns what it read of a cut file: an image with its pixels, or an object
        # without pixels whose identity is whole, counts as read; the rest is a truncated copy
        if hdr is not None and (hdr.has_pixel_data or (
                not hdr.rows and hdr.study_instance_uid and hdr.series_instance_uid and hdr.sop_instance_uid)):
            return hdr
        raise NotDicomError(
            f"{_display(source)}: truncated: the file ends inside its header, after {cut.n_bytes} bytes "
            "(a copy cut short). It is skipped; copy or export it again."
        ) from None
    except ParseFailure:
        return _parse_with_pydicom(source, data=data, pool=pool)


def _pydicom_value(ds: Any, keyword: str) -> Any:
    return ds.get(keyword, None)


def _as_list(v: Any) -> list[Any]:
    from pydicom.multival import MultiValue

    return list(v) if isinstance(v, list | tuple | MultiValue) else [v]


def header_from_dataset(ds: Any, source: str) -> InstanceHeader:
    """Fill an :class:`InstanceHeader` from a pydicom Dataset (fallback path)."""
    hdr = InstanceHeader(path=source, parsed_by="pydicom")
    fm = getattr(ds, "file_meta", None)
    if fm is not None:
        hdr.transfer_syntax_uid = str(fm.get("TransferSyntaxUID", "") or "")
        hdr.media_sop_class_uid = str(fm.get("MediaStorageSOPClassUID", "") or "")
    for attr, kind in _TAGS.values():
        kw = _KEYWORDS[attr]
        try:
            v = _pydicom_value(ds, kw)
        except Exception:  # a malformed value: treat as absent
            v = None
        if v is None or v == "":
            continue
        try:
            if kind in ("s", "u"):
                val: Any = str(v).strip()
            elif kind == "m":
                val = tuple(str(x).strip().upper() for x in _as_list(v))
            elif kind == "f":
                val = float(_as_list(v)[0])
            elif kind == "fm":
                val = tuple(float(x) for x in _as_list(v))
            elif kind == "i":
                val = int(float(_as_list(v)[0]))
            else:  # us
                val = int(v)
        except (TypeError, ValueError):
            continue
        setattr(hdr, attr, val)
    if "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        hdr.has_pixel_data = True
    return hdr


def _parse_with_pydicom(
    source: str, *, data: bytes | None, pool: ZipPool | None, strict: bool = False
) -> InstanceHeader:
    """Header by pydicom (the fallback).  ``strict``: raise when pydicom, too, meets the end of the
    data inside an element (a truncated file), instead of returning the part it read."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from .errors import NotDicomError

    try:
        if data is None:
            if split_zip(source) is None:
                with open(source, "rb") as f:
                    head = f.read(132)
                if not _maybe_dicom(head):
                    raise NotDicomError(_not_dicom_msg(source))
            data = read_source_bytes(source, pool)
        elif not _maybe_dicom(data[:132]):
            raise NotDicomError(_not_dicom_msg(source))
        if strict:
            with pydicom.config.strict_reading():
                ds = pydicom.dcmread(io.BytesIO(data), force=False, stop_before_pixels=False)
                _ = [elem.value for elem in ds]  # every value read, not deferred
        else:
            ds = pydicom.dcmread(io.BytesIO(data), force=False, stop_before_pixels=False, defer_size=256)
    except InvalidDicomError:
        ds = None
    except NotDicomError:
        raise
    except Exception as err:
        raise NotDicomError(
            f"{_display(source)}: cannot be read as DICOM ({type(err).__name__}: {err}). "
            "It is skipped; if it should be an image, re-export it from the PACS or scanner."
        ) from err
    if ds is None:
        ds = _try_force(data)
    if ds is None:
        raise NotDicomError(_not_dicom_msg(source))
    return header_from_dataset(ds, source)


def _maybe_dicom(head: bytes) -> bool:
    """DICM marker at 128, or a dataset starting with a group 0002/0008 tag (no preamble)."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and _unpack_u16(head, 0)[0] in (0x0002, 0x0008)


def _not_dicom_msg(source: str) -> str:
    return (
        f"{_display(source)}: not a DICOM file (no 'DICM' marker after the 128-byte preamble and no "
        "recognisable data elements). It is skipped; if it should be an image, re-export it as "
        "DICOM Part 10."
    )


def _try_force(data: bytes | None) -> Any:
    """Read a file without file meta if it starts like a dataset (group 0008 tag); else None."""
    import pydicom

    if not data or len(data) < 8:
        return None
    g = _unpack_u16(data, 0)[0]
    if g not in (0x0008, 0x0002):
        return None
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True, defer_size=256)
        # a real dataset has at least a few standard elements we understand
        if len(ds) < 3 or ("SOPClassUID" not in ds and "Modality" not in ds):
            return None
        return ds
    except Exception:
        return None


def _display(source: str) -> str:
    z = split_zip(source)
    if z is not None:
        return f"{os.path.basename(z[0])}::{z[1]}"
    return source


display_source: Callable[[str], str] = _display


# --------------------------------------------------------------------------------------------
# Enhanced multi-frame: per-frame functional groups
# --------------------------------------------------------------------------------------------
def _fg_value(item: Any, seq_kw: str, attr: str) -> Any:
    if item is None:
        return None
    seq = item.get(seq_kw)
    if not seq:
        return None
    return seq[0].get(attr)


def frames_from_dataset(ds: Any) -> tuple[dict[str, Any], ...]:
    """Per-frame geometry and rescale of a multi-frame dataset (empty when it has no functional groups).

    Reads PlanePositionSequence, PlaneOrientationSequence, PixelMeasuresSequence and
    PixelValueTransformationSequence from the per-frame item, falling back to the shared item.
    """
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if not per:
        return ()
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    nf = int(ds.get("NumberOfFrames", len(per)) or len(per))

    def pick(pf: Any, seq: str, attr: str) -> Any:
        v = _fg_value(pf, seq, attr)
        return v if v is not None else _fg_value(shared, seq, attr)

    def floats(v: Any) -> tuple[float, ...] | None:
        if v is None:
            return None
        try:
            return tuple(float(x) for x in _as_list(v))
        except (TypeError, ValueError):
            return None

    def one(v: Any) -> float | None:
        f = floats(v)
        return f[0] if f else None

    out = []
    for k in range(nf):
        pf = per[k] if k < len(per) else None
        out.append({
            "ipp": floats(pick(pf, "PlanePositionSequence", "ImagePositionPatient")),
            "iop": floats(pick(pf, "PlaneOrientationSequence", "ImageOrientationPatient")),
            "pixel_spacing": floats(pick(pf, "PixelMeasuresSequence", "PixelSpacing")),
            "slice_thickness": one(pick(pf, "PixelMeasuresSequence", "SliceThickness")),
            "slope": one(pick(pf, "PixelValueTransformationSequence", "RescaleSlope")),
            "intercept": one(pick(pf, "PixelValueTransformationSequence", "RescaleIntercept")),
        })
    return tuple(out)


def add_frames(hdr: InstanceHeader, pool: ZipPool | None = None) -> InstanceHeader:
    """Fill ``hdr.frames`` (and missing top-level geometry) for a multi-frame file, via pydicom."""
    import pydicom

    data = read_source_bytes(hdr.path, pool)
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    hdr.frames = frames_from_dataset(ds)
    if hdr.frames:
        f0 = hdr.frames[0]
        if hdr.image_orientation_patient is None:
            hdr.image_orientation_patient = f0["iop"]
        if hdr.pixel_spacing is None:
            hdr.pixel_spacing = f0["pixel_spacing"]
        if hdr.slice_thickness is None:
            hdr.slice_thickness = f0["slice_thickness"]
    return hdr

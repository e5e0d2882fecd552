"""Pixel decoding of compressed / unusual files, serially or in a process pool.

Compressed CT is decode-bound (JPEG 2000 ~20 ms, JPEG-LS ~6 ms per 512x512 slice on this
machine class, perf.md 2.3) and every decoder here holds the GIL, so threads do not help; a
process pool spreads files over the cores.  The pool is created once per session
(``forkserver`` start method: safe next to threads, workers preload pydicom and the decoders)
and reused; where processes cannot be started (e.g. inside a daemonic worker) decoding stays
serial.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import errors as E
from ._constants import DECODER_PREFERENCE
from ._dicomparse import UNCOMPRESSED_LE, InstanceHeader, ZipPool, display_source, open_source, split_zip

__all__ = ["decode_file", "decode_many", "decode_parallel"]

log = logging.getLogger(__name__)

_JPEG_LS = frozenset({"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"})

#: pydicom's loggers that speak while it decodes: a plugin that fails is logged with its traceback
#: (``LOGGER.exception``, at ERROR) before pydicom raises; in a decoding-pool process, which has no
#: logging set up, Python's last-resort handler printed them on stderr.
_PYDICOM_LOGGERS = ("pydicom", "pydicom.pixels.decoders.base", "pydicom.pixels.utils")
_CAPTURE = threading.local()


class _CaptureDecoderLogs(logging.Filter):
    """Takes the records of :data:`_PYDICOM_LOGGERS` logged in this thread inside
    :func:`_decoder_logs` off the handlers (other threads' records pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        got = getattr(_CAPTURE, "records", None)
        if got is None:
            return True
        got.append(record)
        return False


_FILTER = _CaptureDecoderLogs()


@contextmanager
def _decoder_logs() -> Iterator[list[logging.LogRecord]]:
    """pydicom's log records of the decode calls inside, kept from the console: a file no decoder can
    read is one :class:`~hcc_imaging.io.errors.PixelDecodeError` naming it and each decoder's error,
    not a traceback per plugin before it.  Scoped to this thread (a threaded batch decodes in several)."""
    for name in _PYDICOM_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    outer = getattr(_CAPTURE, "records", None)
    _CAPTURE.records = got = []
    try:
        yield got
    finally:
        _CAPTURE.records = outer


def _plugin_error(err: BaseException, plugin: str) -> str:
    """The decoding plugins' own errors: pydicom wraps them as "Unable to decode as exceptions were
    raised by all available plugins:" followed by one "name: error" line per plugin (the plugin's
    name left out when it is ``plugin``)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith("Unable to decode"):
        return "; ".join((ln.removeprefix(f"{plugin}: ") if plugin else ln)[:160] for ln in lines[1:])
    return f"{type(err).__name__}: {lines[0][:160] if lines else ''}"


def _encapsulated_frame(h: InstanceHeader, pool: ZipPool) -> bytes | None:
    """The codestream of a single-frame encapsulated file (fragments joined), or None if unusual."""
    import struct

    with open_source(h.path, pool) as f:
        f.seek(h.pixel_offset or 0)
        data = f.read()
    pos, frags, first = 0, [], True
    while pos + 8 <= len(data):
        g, e, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if (g, e) == (0xFFFE, 0xE0DD):
            return b"".join(frags) if frags else None
        if (g, e) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF or pos + length > len(data):
            return None
        if not first:
            frags.append(data[pos : pos + length])
        first = False
        pos += length
    return None


def _decode_jpegls_direct(h: InstanceHeader, pool: ZipPool) -> NDArray[Any] | None:
    """JPEG-LS single frame decoded by CharLS (pyjpegls) without a second header parse."""
    if (h.transfer_syntax_uid not in _JPEG_LS or h.is_multiframe or h.pixel_offset is None
            or (h.samples_per_pixel or 1) != 1 or h.bits_allocated not in (8, 16)):
        return None
    try:
        import jpeg_ls
    except ImportError:
        return None
    frame = _encapsulated_frame(h, pool)
    if frame is None:
        return None
    try:
        buf = jpeg_ls.decode_from_buffer(frame)
    except Exception:  # let the pydicom path report the failure with all plugins tried
        return None
    signed = (h.pixel_representation or 0) == 1
    dt = {8: "i1" if signed else "u1", 16: "<i2" if signed else "<u2"}[int(h.bits_allocated or 16)]
    rows, cols = int(h.rows or 0), int(h.columns or 0)
    if len(buf) != rows * cols * np.dtype(dt).itemsize:
        return None
    return np.frombuffer(buf, dtype=dt).reshape(rows, cols)


def _native_shortfall(h: InstanceHeader, pool: ZipPool) -> tuple[int, int] | None:
    """For native (uncompressed little-endian) pixel data whose header gives its place and size:
    (the bytes there, the bytes Rows x Columns x frames x samples x BitsAllocated need) when there
    are fewer (a file cut short, or a Pixel Data element shorter than its image), else None."""
    if (h.transfer_syntax_uid not in UNCOMPRESSED_LE or h.pixel_offset is None or h.pixel_length is None
            or h.pixel_length == 0xFFFFFFFF or not h.bits_allocated or h.bits_allocated % 8):
        return None
    need = (int(h.rows or 0) * int(h.columns or 0) * int(h.number_of_frames or 1) * int(h.samples_per_pixel or 1)
            * (h.bits_allocated // 8))
    z = split_zip(h.path)
    size = os.path.getsize(h.path) if z is None else pool.get(z[0]).getinfo(z[1]).file_size  # (no read)
    have = max(min(h.pixel_length, size - h.pixel_offset), 0)
    return (have, need) if have < need else None


def decode_file(h: InstanceHeader, pool: ZipPool) -> tuple[NDArray[Any], str]:
    """All frames of one file, decoded by pydicom with the preferred plugin for its transfer syntax.
    Truncated native pixel data is found from the header's sizes before any decoder runs
    (:func:`_native_shortfall`); for other transfer syntaxes, from the decoder's error."""
    from pydicom.pixels import pixel_array

    short = _native_shortfall(h, pool)
    if short is not None:
        raise E.TruncatedPixelDataError(
            f"{display_source(h.path)}: its pixel data holds {short[0]} bytes but Rows x Columns x frames x samples x "
            f"BitsAllocated / 8 = {short[1]} are needed. The file was cut short in transfer or storage (or its header "
            "is wrong); re-send or re-export it."
        )
    direct = _decode_jpegls_direct(h, pool)
    if direct is not None:
        return direct, "pyjpegls"
    plugins = DECODER_PREFERENCE.get(h.transfer_syntax_uid, ("",))
    errors: list[str] = []
    for plugin in plugins:
        try:
            with _decoder_logs() as said, open_source(h.path, pool) as fp:
                arr = pixel_array(fp, decoding_plugin=plugin) if plugin else pixel_array(fp)
            for rec in said:  # (a plugin that failed before this one did, or a note on the data)
                log.debug("%s: pydicom: %s", display_source(h.path), rec.getMessage())
            return np.asarray(arr), plugin or "pydicom"
        except (ValueError, RuntimeError, NotImplementedError, AttributeError, ImportError, KeyError,
                TypeError, OSError) as err:
            msg = str(err)
            # (compressed data cut short: only the decoder's message tells; native data was checked above)
            if "less than expected" in msg or "is shorter than" in msg:
                raise E.TruncatedPixelDataError(
                    f"{display_source(h.path)}: the pixel data is truncated ({msg.split(' - ')[0]}). The file was "
                    "cut short in transfer or storage; re-send or re-export it."
                ) from err
            errors.append(f"{plugin or 'default'}: {_plugin_error(err, plugin)}")
    if not h.transfer_syntax_uid:
        raw = _decode_raw_dataset(h, pool)
        if raw is not None:
            return raw, "pydicom (raw dataset)"
    raise E.PixelDecodeError(
        f"{display_source(h.path)}: no decoder could read its pixel data (transfer syntax "
        f"{h.transfer_syntax_uid or 'unknown'}; tried {'; '.join(errors)}). If a decoder calls the data invalid "
        "or cut short, the file is damaged (in transfer or storage): re-send or re-export it. Otherwise convert "
        "it to an uncompressed transfer syntax (e.g. `gdcmconv --raw in.dcm out.dcm` or dcmtk `dcmdjpeg`) and "
        "load it again."
    )




def decode_many(headers: Sequence[InstanceHeader]) -> list[tuple[str, NDArray[Any], str]]:
    """Decode files in this process: ``[(path, array, decoder), ...]`` (used by pool workers)."""
    with ZipPool() as pool:
        return [(h.path, *decode_file(h, pool)) for h in headers]


_EXECUTOR: ProcessPoolExecutor | None = None
_EXECUTOR_WORKERS = 0


def _executor(workers: int) -> ProcessPoolExecutor | None:
    global _EXECUTOR, _EXECUTOR_WORKERS
    if _EXECUTOR is not None and _EXECUTOR_WORKERS == workers:
        return _EXECUTOR
    import multiprocessing as mp

    try:
        if _EXECUTOR is not None:
            _EXECUTOR.shutdown(wait=False, cancel_futures=True)
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["hcc_imaging.io._decode", "pydicom.pixels"])
        _EXECUTOR = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        _EXECUTOR_WORKERS = workers
    except (OSError, ValueError, AssertionError, RuntimeError) as err:  # e.g. daemonic process
        log.debug("no decoding pool (%s); decoding serially", err)
        _EXECUTOR = None
        _EXECUTOR_WORKERS = 0
    return _EXECUTOR


def decode_parallel(
    headers: Sequence[InstanceHeader], workers: int
) -> dict[str, tuple[NDArray[Any], str]] | None:
    """Decode ``headers`` in ``workers`` processes; None when no pool can be used (caller decodes serially)."""
    if workers < 2 or len(headers) < 2 * workers:
        return None
    ex = _executor(workers)
    if ex is None:
        return None
    n_chunks = workers * 4
    chunks = [list(headers[i::n_chunks]) for i in range(n_chunks)]
    out: dict[str, tuple[NDArray[Any], str]] = {}
    try:
        for res in ex.map(decode_many, [c for c in chunks if c]):
            for path, arr, dec in res:
                out[path] = (arr, dec)
    except E.UnsupportedDicomError:
        raise
    except E.NotDicomError:
        raise
    except Exception as err:  # broken pool (killed worker, pickling): fall back to serial decoding
        log.debug("decoding pool failed (%s); decoding serially", err)
        return None
    return out


def default_workers() -> int:
    """Processes used for compressed series by default: the CPUs this process may use, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _decode_raw_dataset(h: InstanceHeader, pool: ZipPool | None) -> NDArray[Any] | None:
    """Pixels of a raw dataset (no preamble, no file meta, so no transfer syntax): DICOM's default
    for such a dataset is implicit VR little endian (PS3.5 A.1), which is how the header was read;
    None when pydicom cannot read it that way either."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    try:
        with _decoder_logs(), open_source(h.path, pool) as fp:
            ds = pydicom.dcmread(fp, force=True)
        if not hasattr(ds, "file_meta") or ds.file_meta is None:
            ds.file_meta = pydicom.dataset.FileMetaDataset()
        implicit = getattr(ds, "is_implicit_VR", None)
        if implicit is None:
            implicit = (getattr(ds, "original_encoding", (True, True)) or (True, True))[0]
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        with _decoder_logs():
            return np.asarray(ds.pixel_array)
    except Exception:  # noqa: BLE001 - the caller raises PixelDecodeError naming the file
        return None

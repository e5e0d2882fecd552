"""A file no decoder can read: one PixelDecodeError naming it and each decoder's own error, and
nothing of pydicom's on the console before it (hcc_imaging.io._decode._decoder_logs)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hcc_imaging.io import PixelDecodeError, load_series

from ._synth import write_series


def _damaged_jpegls_series(folder: Path) -> Path:
    """4 slices of 16 x 16; the second compressed as JPEG-LS with its frame header zeroed."""
    from pydicom.uid import JPEGLSLossless

    vals = (np.arange(4 * 16 * 16).reshape(4, 16, 16) % 200 + 1000).astype(np.uint16)
    paths = write_series(folder, vals)
    ds = pydicom.dcmread(paths[1])
    ds.compress(JPEGLSLossless, encoding_plugin="pyjpegls")
    ds.save_as(paths[1])
    data = bytearray(paths[1].read_bytes())
    sof = data.find(b"\xff\xf7", data.find(b"\xff\xd8"))  # JPEG-LS start of frame (SOF55)
    data[sof + 2 : sof + 12] = bytes(10)
    paths[1].write_bytes(bytes(data))
    return paths[1]


def test_a_damaged_compressed_file_is_one_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Before: pydicom logged each failing plugin at ERROR with its traceback (printed by the CLI's
    handler, or Python's last-resort handler in a decoding process) before our error, whose
    "tried pyjpegls: RuntimeError: Unable to decode as exceptions were raised by all available
    plugins:" lost what each decoder said."""
    bad = _damaged_jpegls_series(tmp_path)
    with caplog.at_level(logging.DEBUG), pytest.raises(PixelDecodeError) as got:
        load_series(tmp_path, workers=1)
    msg = str(got.value)
    assert str(bad) in msg and "tried pyjpegls: Decoding error: Invalid JPEG-LS stream" in msg
    assert "Unable to decode" not in msg and "re-send or re-export it" in msg
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pydicom")] == []
    # scoped to the decode: pydicom's own records outside it still reach the handlers
    logging.getLogger("pydicom.pixels.decoders.base").warning("outside the decode")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pydicom")] == ["outside the decode"]

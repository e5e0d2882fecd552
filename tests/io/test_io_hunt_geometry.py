"""Orientation grouping of one series: DS rounding noise in ImageOrientationPatient never splits a
stack; genuinely different planes still do, and the MixedOrientationError tells them apart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
import pytest

from hcc_imaging.io import MixedImageSizeError, MixedOrientationError, load_series
from hcc_imaging.io._constants import ORIENTATION_GROUP_TOL_DEG
from hcc_imaging.io._geometry import orientation_angle_deg

from ._oracle import check_volume_against_headers
from ._synth import write_series


def _tilted_iop(deg: float) -> list[float]:
    """Rows along x, columns in the y-z plane tilted ``deg`` from y (an oblique axial)."""
    a = np.radians(deg)
    return [1.0, 0.0, 0.0, 0.0, float(np.cos(a)), -float(np.sin(a))]


def _write(folder: Path, iops: Sequence[Sequence[float]], step_mm: float = 2.0, *,
           pixel_spacing: Sequence[str] | None = None, fmt: str = "{:.8f}") -> list[Path]:
    """One file per slice, slice k at k * step_mm along the normal of ``iops[0]``, then each file's
    ImageOrientationPatient (and PixelSpacing) rewritten with pydicom as given per slice."""
    n = len(iops)
    values = (np.arange(n * 8 * 8).reshape(n, 8, 8) % 500 + 1000).astype(np.uint16)
    iop0 = np.asarray(iops[0], float)
    normal = np.cross(iop0[:3], iop0[3:])
    positions = [k * step_mm * normal for k in range(n)]
    paths = write_series(folder, values, iop=iops[0], positions=positions, spacing=(step_mm, 0.8, 0.7))
    for k, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        ds.ImageOrientationPatient = [fmt.format(float(v)) for v in iops[k]]
        if pixel_spacing is not None:
            ds.PixelSpacing = [pixel_spacing[k], "0.7"]
        ds.save_as(p, enforce_file_format=True)
    return paths


def test_iop_rounding_jitter_straddling_a_bucket_edge_is_one_stack(tmp_path: Path) -> None:
    """Cosine 0.9705 +- 1e-8 per slice (last-digit jitter): until 2026-12-06 the orientation key
    rounded each cosine into 1e-3 buckets, 0.97049999 and 0.97050001 fell on either side of an
    edge, and the series was refused as two orientations described identically; stack=0 then
    loaded every other slice (3 slices at 4 mm instead of 6 at 2 mm) without a word."""
    c0 = 0.9705
    iops = []
    for k in range(6):
        c = c0 + (1e-8 if k % 2 else -1e-8)
        iops.append([1.0, 0.0, 0.0, 0.0, c, -float(np.sqrt(1 - c * c))])
    _write(tmp_path, iops)
    v = load_series(tmp_path)
    assert v.shape == (6, 8, 8)
    assert v.spacing[0] == pytest.approx(2.0, abs=1e-6)
    assert v.meta["problems"] == ()
    check_volume_against_headers(v)
    # SimpleITK's ImageSeriesReader on the same files: same grid, same voxels
    sitk = pytest.importorskip("SimpleITK")
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(str(tmp_path)))
    img = r.Execute()
    assert img.GetSize() == (8, 8, 6)
    np.testing.assert_allclose(img.GetSpacing()[2], v.spacing[0], atol=1e-4)
    ref = sitk.GetArrayFromImage(img)
    for k in range(6):
        lps = v.index_to_lps([k, 0, 0])
        idx = img.TransformPhysicalPointToContinuousIndex([float(x) for x in lps])
        np.testing.assert_allclose(idx, [0, 0, round(idx[2])], atol=1e-3)
        np.testing.assert_array_equal(v.array[k], ref[round(idx[2])])


def test_iop_written_with_three_decimals_straddling_is_one_stack(tmp_path: Path) -> None:
    """An export writing cosines with 3 decimals rounds 0.9705 +- 1e-8 to 0.970 / 0.971 (0.06 deg
    apart): still one plane."""
    iops = [[1.0, 0.0, 0.0, 0.0, 0.970 if k % 2 else 0.971, -0.241] for k in range(6)]
    _write(tmp_path, iops, fmt="{:.3f}")
    v = load_series(tmp_path)
    assert v.shape == (6, 8, 8)
    assert v.spacing[0] == pytest.approx(2.0, abs=0.02)


def test_pixel_spacing_rounding_jitter_is_one_grid(tmp_path: Path) -> None:
    """PixelSpacing 0.703149 / 0.703151 (DS rounding): the old 1e-4 mm buckets split it into two
    'sizes'."""
    iops = [_tilted_iop(0.0)] * 4
    _write(tmp_path, iops, pixel_spacing=["0.703149", "0.703151", "0.703149", "0.703151"])
    assert load_series(tmp_path).shape == (4, 8, 8)


def test_pixel_spacing_that_differs_is_still_refused(tmp_path: Path) -> None:
    iops = [_tilted_iop(0.0)] * 4
    _write(tmp_path / "a", iops, pixel_spacing=["0.70", "0.70", "0.78", "0.78"])
    with pytest.raises(MixedImageSizeError, match="stack=N"):
        load_series(tmp_path / "a")


def test_genuinely_different_orientations_are_split_and_described_apart(tmp_path: Path) -> None:
    """Two stacks 5 deg apart (one above the other): refused, each group named with its angle, and
    stack=N offered; each group loads on its own."""
    iops = [_tilted_iop(10.0)] * 4 + [_tilted_iop(15.0)] * 3
    paths = _write(tmp_path, iops)
    for k, p in enumerate(paths[4:]):  # the second stack 40 mm further along the normal
        ds = pydicom.dcmread(p)
        n = np.cross(np.asarray(iops[4][:3]), np.asarray(iops[4][3:]))
        ds.ImagePositionPatient = [f"{v:.6f}" for v in (40.0 + 2.0 * k) * n]
        ds.save_as(p, enforce_file_format=True)
    with pytest.raises(MixedOrientationError) as ei:
        load_series(tmp_path)
    msg = str(ei.value)
    assert "oblique (10 deg from axial)" in msg and "oblique (15 deg from axial)" in msg
    assert "rotated 5 deg from stack=0" in msg
    assert "Pass stack=N" in msg
    assert load_series(tmp_path, stack=0).shape == (4, 8, 8)
    assert load_series(tmp_path, stack=1).shape == (3, 8, 8)


def test_just_beyond_tolerance_is_still_two_orientations(tmp_path: Path) -> None:
    a = 3 * ORIENTATION_GROUP_TOL_DEG
    assert orientation_angle_deg(_tilted_iop(0.0), _tilted_iop(a)) == pytest.approx(a, rel=1e-6)
    iops = [_tilted_iop(0.0)] * 3 + [_tilted_iop(a)]
    paths = _write(tmp_path, iops)
    ds = pydicom.dcmread(paths[3])
    ds.ImagePositionPatient = ["0", "0", "100"]  # far from the stack: not interleaved
    ds.save_as(paths[3], enforce_file_format=True)
    with pytest.raises(MixedOrientationError, match="Pass stack=N"):
        load_series(tmp_path)


def test_interleaved_groups_are_not_offered_as_stacks(tmp_path: Path) -> None:
    """One stack whose IOP alternates by 0.3 deg (beyond the tolerance) between slices: refused,
    and the message says stack=N would keep every other slice instead of offering it."""
    iops = [_tilted_iop(20.0 + (0.3 if k % 2 else 0.0)) for k in range(6)]
    _write(tmp_path, iops)
    with pytest.raises(MixedOrientationError) as ei:
        load_series(tmp_path)
    msg = str(ei.value)
    assert "interleave" in msg and "every other slice" in msg
    assert "Pass stack=N" not in msg
    assert "rotated 0.3 deg from stack=0" in msg
    # chosen anyway, the note says what was left out
    v = load_series(tmp_path, stack=0)
    assert any("every other slice" in p for p in v.meta["problems"])


def test_two_stacks_overlapping_at_their_ends_are_still_offered(tmp_path: Path) -> None:
    """Two MR stacks 0.5 deg apart whose ends overlap by a slice or two alternate only there:
    two stacks, stack=N offered (the interleave rule is for every-other-slice alternation)."""
    iops = [_tilted_iop(30.0)] * 5 + [_tilted_iop(30.5)] * 5
    paths = _write(tmp_path, iops)
    n = np.cross(np.asarray(iops[0][:3]), np.asarray(iops[0][3:]))
    for k, p in enumerate(paths[5:]):  # 7, 9, ... 15 mm: among the first stack's 0, 2, ... 8 mm at its end
        ds = pydicom.dcmread(p)
        ds.ImagePositionPatient = [f"{v:.6f}" for v in (7.0 + 2.0 * k) * n]
        ds.save_as(p, enforce_file_format=True)
    with pytest.raises(MixedOrientationError, match="Pass stack=N") as ei:
        load_series(tmp_path)
    assert "interleave" not in str(ei.value)
    assert load_series(tmp_path, stack=1).shape == (5, 8, 8)

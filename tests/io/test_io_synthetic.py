"""Loader geometry on synthetic series: shuffled names, flipped order, oblique planes, and every
refusal path (gaps, duplicates, tilt, mixed sizes, localizers, colour, missing tags)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcc_imaging.errors import InvalidSeriesError, NotDicomError
from hcc_imaging.io import (
    ColourImageError,
    DuplicatePositionError,
    GantryTiltError,
    MissingPositionError,
    MixedImageSizeError,
    NotAnImageError,
    SeriesSelectionError,
    SliceSpacingError,
    load_series,
)
from hcc_imaging.io._dicomparse import parse_header

from ._synth import write_series


def _volume_values(n: int, rows: int = 6, cols: int = 7) -> np.ndarray:
    # stored values: distinct per (k, j, i) so any flip or permutation is visible; HU = v - 1024
    k, j, i = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    return (1024 + 100 * k + 10 * j + i).astype(np.uint16)


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rz = np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rx = np.array([[1, 0, 0], [0, cc, -sc], [0, sc, cc]])
    return rz @ ry @ rx


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(2, 6),
    angles=st.tuples(*[st.floats(-3.1, 3.1)] * 3),
    spacing=st.tuples(st.floats(0.5, 5.0), st.floats(0.3, 2.0), st.floats(0.3, 2.0)),
    flip=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_any_orientation_order_and_names_give_true_geometry(
    tmp_path_factory: pytest.TempPathFactory, n: int, angles: tuple[float, float, float],
    spacing: tuple[float, float, float], flip: bool, seed: int,
) -> None:
    folder = tmp_path_factory.mktemp("syn")
    r = _rotation(*angles)
    iop = [*r[:, 0], *r[:, 1]]  # row cosine, column cosine
    normal = np.cross(r[:, 0], r[:, 1])
    origin = np.array([12.5, -30.0, 44.0])
    values = _volume_values(n)
    positions = [origin + k * spacing[0] * normal for k in range(n)]
    order = list(range(n))[::-1] if flip else list(range(n))  # write slices in reversed order
    names = [f"{random.Random(seed + k).randrange(10**9):09d}.dcm" for k in range(n)]  # shuffled names
    write_series(folder, values[order], spacing=spacing, iop=iop,
                 positions=[positions[k] for k in order], names=names)
    v = load_series(folder)
    assert v.shape == values.shape
    np.testing.assert_allclose(v.spacing, spacing, rtol=1e-5)
    np.testing.assert_allclose(v.direction[:, 0], normal, atol=1e-5)
    np.testing.assert_allclose(v.direction[:, 1], r[:, 1], atol=1e-5)
    np.testing.assert_allclose(v.direction[:, 2], r[:, 0], atol=1e-5)
    np.testing.assert_allclose(v.origin, origin, atol=1e-4)
    np.testing.assert_array_equal(v.array, values.astype(np.int32) - 1024)
    assert v.array.dtype == np.int16
    # every voxel centre maps to where DICOM puts it: IPP + j * dr * colcos + i * dc * rowcos
    k, j, i = n - 1, 5, 6
    expect = positions[k] + j * spacing[1] * r[:, 1] + i * spacing[2] * r[:, 0]
    np.testing.assert_allclose(v.index_to_lps([k, j, i]), expect, atol=1e-4)


def test_meta_references_source_images(tmp_path: Path) -> None:
    paths = write_series(tmp_path, _volume_values(3), names=["c.dcm", "a.dcm", "b.dcm"])
    v = load_series(tmp_path)
    assert v.meta["source_files"] == tuple(str(p) for p in paths)
    uids = tuple(str(pydicom.dcmread(p).SOPInstanceUID) for p in paths)
    assert v.meta["sop_instance_uids"] == uids
    assert v.meta["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.2"
    assert v.phase.value == "portal_venous"
    assert v.series_description == "Abdomen PORTAL VENOUS"
    assert v.meta["decoders"] == ("readinto",)


def test_rescale_outside_int16_falls_back_to_float32(tmp_path: Path) -> None:
    vals = _volume_values(2)
    write_series(tmp_path / "a", vals, slope=0.5, intercept=-10)
    v = load_series(tmp_path / "a")
    assert v.array.dtype == np.float32
    np.testing.assert_allclose(v.array, vals * 0.5 - 10)
    big = np.full((2, 4, 4), 60000, np.uint16)
    write_series(tmp_path / "b", big, intercept=0)
    w = load_series(tmp_path / "b")
    assert w.array.dtype == np.float32 and float(w.array.max()) == 60000.0
    signed = np.full((2, 4, 4), 1000, np.int16)
    write_series(tmp_path / "c", signed, intercept=-1024, signed=True)
    s = load_series(tmp_path / "c")
    assert s.array.dtype == np.int16 and int(s.array.max()) == -24


def test_gap_is_refused_with_the_fix(tmp_path: Path) -> None:
    pos = [(0, 0, z) for z in (0.0, 2.5, 5.0, 10.0, 12.5)]
    write_series(tmp_path, _volume_values(5), positions=pos)
    with pytest.raises(SliceSpacingError, match=r"expected 2.50 mm, found 5.00 mm between slices 2 and 3.*on_irregular"):
        load_series(tmp_path)
    v = load_series(tmp_path, on_irregular="resample")
    assert v.shape[0] == 6 and v.meta["interpolated_slices"] == [3]
    np.testing.assert_array_equal(v.array[3], (v.array[2].astype(int) + v.array[4]) // 2)


def test_duplicates_are_refused(tmp_path: Path) -> None:
    pos = [(0, 0, z) for z in (0.0, 2.5, 2.5, 5.0)]
    write_series(tmp_path, _volume_values(4), positions=pos)
    with pytest.raises(DuplicatePositionError, match="duplicate slice position"):
        load_series(tmp_path)


def test_tilt_is_refused_then_resampled(tmp_path: Path) -> None:
    # positions move along z while the plane is tilted 10 degrees about x
    t = np.radians(10)
    iop = (1, 0, 0, 0, np.cos(t), -np.sin(t))
    pos = [(0.0, 0.0, 3.0 * k) for k in range(5)]
    write_series(tmp_path, _volume_values(5, 8, 8), iop=iop, positions=pos)
    with pytest.raises(GantryTiltError, match=r"10.0 deg"):
        load_series(tmp_path)
    v = load_series(tmp_path, on_tilt="resample")
    np.testing.assert_allclose(v.spacing[0], 3.0 * np.cos(t), rtol=1e-4)
    np.testing.assert_allclose(v.direction.T @ v.direction, np.eye(3), atol=1e-6)


def test_mixed_sizes_are_refused(tmp_path: Path) -> None:
    write_series(tmp_path / "s", _volume_values(3, 6, 7), series_uid="1.2.3.4", study_uid="1.2.3.40")
    write_series(tmp_path / "s2", _volume_values(2, 5, 5), series_uid="1.2.3.4", study_uid="1.2.3.40",
                 origin=(-50, -60, 20))
    with pytest.raises(MixedImageSizeError, match="stack=N"):
        load_series(tmp_path)
    assert load_series(tmp_path, stack=0).shape == (3, 6, 7)


def test_stacks_differing_in_pixel_spacing_only_are_told_apart(tmp_path: Path) -> None:
    """The message listed two stacks that read the same ("axial 6x7"): their pixel spacings differ."""
    write_series(tmp_path / "s", _volume_values(3), series_uid="1.2.3.5", study_uid="1.2.3.50")
    write_series(tmp_path / "s2", _volume_values(2), series_uid="1.2.3.5", study_uid="1.2.3.50",
                 spacing=(2.5, 0.9, 0.9), origin=(-50, -60, 20))
    with pytest.raises(MixedImageSizeError, match=r"6x7 \(0.7x0.8 mm pixels\).*6x7 \(0.9x0.9 mm pixels\)"):
        load_series(tmp_path)


def test_localizer_is_dropped_with_a_note(tmp_path: Path) -> None:
    types = [["ORIGINAL", "PRIMARY", "AXIAL"]] * 4 + [["ORIGINAL", "PRIMARY", "LOCALIZER"]]
    pos = [(-50.0, -60.0, 10 + 2.5 * k) for k in range(4)] + [(0.0, 0.0, 200.0)]
    write_series(tmp_path, _volume_values(5), image_types=types, positions=pos)
    v = load_series(tmp_path)
    assert v.shape[0] == 4
    assert len(v.meta["dropped_localizers"]) == 1
    assert any("localizer" in p for p in v.meta["problems"])


def test_missing_position_is_refused(tmp_path: Path) -> None:
    paths = write_series(tmp_path, _volume_values(2))
    ds = pydicom.dcmread(paths[1])
    del ds.ImagePositionPatient
    ds.save_as(paths[1])
    with pytest.raises(MissingPositionError, match="ImagePositionPatient"):
        load_series(tmp_path)


def test_colour_is_refused(tmp_path: Path) -> None:
    paths = write_series(tmp_path, _volume_values(1))
    ds = pydicom.dcmread(paths[0])
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = np.zeros((6, 7, 3), np.uint8).tobytes()
    ds.save_as(paths[0])
    with pytest.raises(ColourImageError, match="colour image"):
        load_series(tmp_path)


def test_several_series_need_a_choice(tmp_path: Path) -> None:
    write_series(tmp_path / "a", _volume_values(2), series_uid="1.2.3.1")
    write_series(tmp_path / "b", _volume_values(3), series_uid="1.2.3.2")
    with pytest.raises(SeriesSelectionError, match="series_uid="):
        load_series(tmp_path)
    assert load_series(tmp_path, series_uid="1.2.3.2").shape[0] == 3
    with pytest.raises(SeriesSelectionError, match="is not in"):
        load_series(tmp_path, series_uid="9.9")
    with pytest.raises(SeriesSelectionError, match="empty list"):
        load_series([])


def test_not_dicom_and_not_image(tmp_path: Path, shared_data: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(NotDicomError, match="not a DICOM file"):
        load_series(f)
    with pytest.raises(NotAnImageError, match="no pixel data"):
        load_series(shared_data / "pydicom_testfiles" / "test-SR.dcm")
    with pytest.raises(ValueError, match="on_tilt"):
        load_series(tmp_path, on_tilt="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_irregular"):
        load_series(tmp_path, on_irregular="ignore")  # type: ignore[arg-type]


def test_patient_name_is_never_read(tmp_path: Path) -> None:
    paths = write_series(tmp_path, _volume_values(2))
    h = parse_header(str(paths[0]))
    assert "Synthetic" not in repr(h)
    v = load_series(tmp_path)
    assert "Synthetic" not in repr(dict(v.meta))


def test_fast_and_pydicom_parsers_agree(shared_data: Path) -> None:
    from hcc_imaging.io._dicomparse import _parse_with_pydicom

    for p in sorted((shared_data / "pydicom_testfiles" / "dicomdirtests").rglob("*")):
        if not p.is_file() or p.name.startswith(("DICOMDIR", "README")):
            continue
        fast = parse_header(str(p), to_pixels=False)
        slow = _parse_with_pydicom(str(p), data=None, pool=None)
        assert fast.parsed_by == "fast"
        for attr in ("series_instance_uid", "image_position_patient", "image_orientation_patient",
                     "pixel_spacing", "rows", "columns", "rescale_intercept", "series_description",
                     "acquisition_time", "modality", "instance_number"):
            a, b = getattr(fast, attr), getattr(slow, attr)
            if isinstance(a, tuple):
                np.testing.assert_allclose(a, b, err_msg=f"{p} {attr}")
            else:
                assert a == b, (p, attr)


def test_invalid_series_errors_are_value_errors() -> None:
    assert issubclass(SliceSpacingError, InvalidSeriesError)
    assert issubclass(SliceSpacingError, ValueError)


@pytest.mark.slow
def test_compressed_series_decodes_the_same_in_a_process_pool(tmp_path: Path) -> None:
    from pydicom.uid import JPEGLSLossless

    vals = _volume_values(18, 16, 16)
    paths = write_series(tmp_path, vals)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.compress(JPEGLSLossless, encoding_plugin="pyjpegls")
        ds.save_as(p)
    serial = load_series(tmp_path, workers=1)
    pooled = load_series(tmp_path, workers=2)
    np.testing.assert_array_equal(serial.array, vals.astype(np.int32) - 1024)
    np.testing.assert_array_equal(pooled.array, serial.array)
    assert serial.meta["decoders"] == ("pyjpegls",) and pooled.meta["decoders"] == ("pyjpegls",)


@pytest.mark.parametrize(("tag", "value"), [
    pytest.param("ImageOrientationPatient", ["1", "0", "0", "0.5", "0.5", "0"], id="iop-not-unit"),
    pytest.param("ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"], id="iop-not-orthogonal"),
    pytest.param("PixelSpacing", ["0", "0.7"], id="zero-pixel-spacing"),
    pytest.param("ImagePositionPatient", ["1", "2"], id="ipp-two-values"),
])
def test_invalid_geometry_tags_are_refused(tmp_path: Path, tag: str, value: list[str]) -> None:
    paths = write_series(tmp_path, _volume_values(2))
    ds = pydicom.dcmread(paths[0])
    setattr(ds, tag, value)
    ds.save_as(paths[0])
    rule = {"ImageOrientationPatient": "two orthogonal unit vectors", "PixelSpacing": "two positive numbers",
            "ImagePositionPatient": "three finite numbers"}[tag]
    with pytest.raises(MissingPositionError, match=f"lack a valid.*{tag} \\(missing, or not {rule}"):
        load_series(tmp_path)


def test_repeated_acquisitions_can_be_selected(tmp_path: Path) -> None:
    vals = _volume_values(3)
    write_series(tmp_path / "a1", vals, series_uid="1.2.3.9", study_uid="1.2.3.90", extra={"AcquisitionNumber": 1})
    write_series(tmp_path / "a2", vals + 5, series_uid="1.2.3.9", study_uid="1.2.3.90", extra={"AcquisitionNumber": 2})
    with pytest.raises(DuplicatePositionError, match=r"acquisitions \[1, 2\].*acquisition=N"):
        load_series(tmp_path)
    v = load_series(tmp_path, acquisition=2)
    np.testing.assert_array_equal(v.array, vals.astype(np.int32) - 1024 + 5)
    with pytest.raises(SeriesSelectionError, match=r"AcquisitionNumber 7.*\[1, 2\]"):
        load_series(tmp_path, acquisition=7)


# --- found by a tester feeding altered real series (2026-12-05) ------------------------------------
@pytest.mark.parametrize("tag", ["EchoNumbers", "TemporalPositionIdentifier"])
def test_interleaved_echoes_or_time_points_are_refused(tmp_path: Path, tag: str) -> None:
    """Two echoes (or time points) whose positions interleave half a step: no duplicate position
    shows them, and they were stacked into one volume of alternating echoes at half the spacing."""
    n = 6
    write_series(tmp_path, _volume_values(n), extra={tag: 1}, names=[f"a{k}.dcm" for k in range(n)],
                 series_uid="1.2.826.0.1.3680043.8.498.77",
                 study_uid="1.2.826.0.1.3680043.8.498.78")
    pos = [(-50.0, -60.0, 10 + 2.5 * k + 1.25) for k in range(n)]
    write_series(tmp_path, _volume_values(n) + 500, extra={tag: 2}, positions=pos,
                 names=[f"b{k}.dcm" for k in range(n)], series_uid="1.2.826.0.1.3680043.8.498.77",
                 study_uid="1.2.826.0.1.3680043.8.498.78")
    with pytest.raises(DuplicatePositionError, match=f"12 images from 2 .*{tag}.*Pass the files of one {tag}"):
        load_series(tmp_path)
    one = load_series(sorted(tmp_path.glob("a*.dcm")))
    assert one.shape[0] == n and one.spacing[0] == pytest.approx(2.5)


def test_slow_spacing_drift_is_refused(tmp_path: Path) -> None:
    """Each step within the per-step tolerance (1 %), but the last slice 0.6 mm off the grid."""
    steps = [3.27] * 12 + [3.24] * 11
    z = np.concatenate([[0.0], np.cumsum(steps)])
    write_series(tmp_path, _volume_values(len(z)), positions=[(-50.0, -60.0, 10 + v) for v in z])
    with pytest.raises(SliceSpacingError, match="drift off a regular grid"):
        load_series(tmp_path)
    v = load_series(tmp_path, on_irregular="resample")
    assert v.meta["resampled"]


def test_rounded_positions_use_the_fitted_step(tmp_path: Path) -> None:
    """Positions rounded to 0.01 mm (0.62 / 0.63 mm steps of a 0.625 mm series): the median step
    put the last of 60 slices 0.3 mm off; the fitted step puts every slice within the rounding."""
    z = np.round(np.arange(60) * 0.625, 2)
    write_series(tmp_path, _volume_values(60), positions=[(-50.0, -60.0, 10 + v) for v in z])
    v = load_series(tmp_path)
    assert v.spacing[0] == pytest.approx(0.625, abs=1e-4)
    last = np.asarray(v.index_to_lps((59, 0, 0)))
    assert last[2] == pytest.approx(10 + z[-1], abs=0.006)


def test_a_series_stored_twice_is_one_series(tmp_path: Path) -> None:
    import shutil

    paths = write_series(tmp_path / "a", _volume_values(5))
    (tmp_path / "a" / "backup").mkdir()
    for p in paths:
        shutil.copy(p, tmp_path / "a" / "backup" / p.name)
    v = load_series(tmp_path / "a")
    assert v.shape[0] == 5
    assert any("copies of another file" in p for p in v.meta["problems"])


def test_two_slices_with_one_sop_instance_uid_are_both_slices_and_named(tmp_path: Path) -> None:
    """Two different slices that an export gave one SOPInstanceUID: the second was dropped as a copy
    of the first, and the load failed "~1 slice(s) missing, re-export without gaps" (or interpolated
    the real slice with on_irregular="resample").  Both are slices now, and the UID is named."""
    from hcc_imaging.io import index_archive

    values = _volume_values(6)
    paths = write_series(tmp_path / "s", values)
    a = pydicom.dcmread(paths[2])
    b = pydicom.dcmread(paths[3])
    b.SOPInstanceUID = b.file_meta.MediaStorageSOPInstanceUID = a.SOPInstanceUID
    b.save_as(paths[3])
    v = load_series(tmp_path / "s")
    assert v.shape[0] == 6 and not v.meta.get("resampled")
    assert np.array_equal(np.asarray(v.array)[3], values[3].astype(np.float32) - 1024)
    note = next(p for p in v.meta["problems"] if "share SOPInstanceUID" in p)
    assert f"2 files share SOPInstanceUID {a.SOPInstanceUID} but are different images" in note
    assert paths[2].name in note and paths[3].name in note
    assert not any("copies of another file" in p for p in v.meta["problems"])
    (se,) = index_archive(tmp_path / "s").series
    assert se.n_instances == 6 and se.geometry.n_positions == 6
    assert any(f"share SOPInstanceUID {a.SOPInstanceUID}" in p for p in se.problems)


def test_a_file_cut_inside_its_header_is_skipped_and_named(tmp_path: Path) -> None:
    """It became a phantom series ("SeriesInstanceUID missing", a patient of its own), and the load
    blamed a missing slice without naming the cut file."""
    from hcc_imaging.io import index_archive

    paths = write_series(tmp_path, _volume_values(6))
    (tmp_path / "notes.txt").write_text("not dicom")
    cut = paths[3]
    cut.write_bytes(cut.read_bytes()[:600])
    idx = index_archive(tmp_path)
    assert len(idx.series) == 1
    assert any(s.path.endswith(cut.name) and s.reason.startswith("truncated") for s in idx.skipped)
    with pytest.raises(SliceSpacingError, match=f"{cut.name} \\(truncated: the file ends inside its header"):
        load_series(tmp_path)


def test_a_raw_dataset_without_preamble_or_file_meta_loads(tmp_path: Path) -> None:
    """No preamble, no DICM, no file meta: implicit VR little endian, DICOM's default. The index
    read it, the load failed with PixelDecodeError ('transfer syntax unknown')."""
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset

    ref_dir, raw_dir = tmp_path / "ref", tmp_path / "raw"
    paths = write_series(ref_dir, _volume_values(4))
    raw_dir.mkdir()
    for p in paths:
        ds = pydicom.dcmread(p)
        with open(raw_dir / p.name, "wb") as fh:
            out = DicomFileLike(fh)
            out.is_little_endian, out.is_implicit_VR = True, True
            write_dataset(out, ds)
    assert (raw_dir / paths[0].name).read_bytes()[128:132] != b"DICM"
    ref, raw = load_series(ref_dir), load_series(raw_dir)
    assert np.array_equal(raw.array, ref.array)
    assert np.allclose(raw.geometry.affine, ref.geometry.affine)

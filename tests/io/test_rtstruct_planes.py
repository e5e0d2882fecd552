"""RTSTRUCT contours whose planes lie between the image's slices (hcc_imaging.io._rt_planes).

Contours drawn on a 1.25 mm reconstruction of the same frame of reference, loaded onto the 2.5 mm
series, used to be rounded to the nearest slice and XOR-combined with the slice's own contour
(the even-odd rule meant for holes in ONE plane): ring-shaped holes, extra end slices, and a 1 mm
offset moved without a word."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import ndimage as ndi

from hcc_imaging.io._rt_planes import fill_planes
from hcc_imaging.io.masks import load_mask
from hcc_imaging.volume import Volume

_FOR = "1.2.826.0.1.3680043.8.498.1"
_SPACING_MM = (2.5, 0.7, 0.7)
_SHAPE = (16, 60, 60)
_CENTRE = np.array([0.0, 0.0, 0.0])  # LPS mm, at slice 8
_RADIUS_MM = 12.0


def _image() -> Volume:
    origin = (-0.7 * 30, -0.7 * 30, -2.5 * 8)
    return Volume.create(np.zeros(_SHAPE, np.int16), spacing=_SPACING_MM, origin=origin,
                         frame_of_reference_uid=_FOR, series_instance_uid="1.2.3.5.77")


def _circle(z_mm: float, radius_mm: float, n: int = 120) -> np.ndarray | None:
    dz = z_mm - _CENTRE[2]
    if abs(dz) >= radius_mm:
        return None
    r = np.sqrt(radius_mm**2 - dz**2)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([_CENTRE[0] + r * np.cos(t), _CENTRE[1] + r * np.sin(t), np.full(n, z_mm)])


def _sphere_contours(z_planes_mm: np.ndarray) -> list[np.ndarray]:
    return [c for z in z_planes_mm if (c := _circle(float(z), _RADIUS_MM)) is not None]


def _write_rtstruct(path: Path, contours: list[np.ndarray], name: str = "GTV") -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = _FOR
    roi = Dataset()
    roi.ROINumber = 1
    roi.ROIName = name
    roi.ReferencedFrameOfReferenceUID = _FOR
    rc = Dataset()
    rc.ReferencedROINumber = 1
    items = []
    for c in contours:
        item = Dataset()
        item.ContourGeometricType = "CLOSED_PLANAR"
        item.NumberOfContourPoints = len(c)
        item.ContourData = [f"{v:.4f}" for v in c.ravel()]
        items.append(item)
    rc.ContourSequence = DicomSequence(items)
    ds.StructureSetROISequence = DicomSequence([roi])
    ds.ROIContourSequence = DicomSequence([rc])
    ds.save_as(str(path), enforce_file_format=True)
    return path


def _slice_z_mm(img: Volume) -> np.ndarray:
    return img.origin[2] + _SPACING_MM[0] * np.arange(_SHAPE[0])


def _enclosed_holes(mask: np.ndarray) -> int:
    return int(sum((ndi.binary_fill_holes(s) & ~s).sum() for s in mask))


def test_contours_on_a_thinner_recon_are_not_xored_into_one_slice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """1.25 mm contour planes on a 2.5 mm image: each image slice takes the plane on it; the planes
    half-way between are not XORed in (old code: ring-shaped holes on the slices and the end slices
    grown by the half-way planes' sections)."""
    img = _image()
    z = _slice_z_mm(img)
    own = load_mask(_write_rtstruct(tmp_path / "own.dcm", _sphere_contours(z)), img)
    thin_z = z[0] + 1.25 * np.arange(2 * _SHAPE[0] - 1)
    with caplog.at_level(logging.WARNING):
        thin = load_mask(_write_rtstruct(tmp_path / "thin.dcm", _sphere_contours(thin_z)), img)
    a_own, a_thin = np.asarray(own.array) > 0, np.asarray(thin.array) > 0
    assert _enclosed_holes(a_own) == 0
    assert _enclosed_holes(a_thin) == 0  # old code: ring-shaped holes
    np.testing.assert_array_equal(a_thin, a_own)  # old code: end slices gained voxels too
    assert "between the slices not used" in caplog.text and "'GTV'" in caplog.text


def test_contours_1mm_off_the_slices_are_moved_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Contours 1 mm off the image planes (0.4 slice spacing, more than the 0.25 tolerance) are placed
    on the nearest slices, once each, and the move is warned naming the ROI and the offset (old code:
    moved silently)."""
    img = _image()
    z = _slice_z_mm(img)
    contours = _sphere_contours(z + 1.0)
    with caplog.at_level(logging.WARNING):
        lv = load_mask(_write_rtstruct(tmp_path / "off.dcm", contours, name="Tumour A"), img)
    a = np.asarray(lv.array) > 0
    assert int(a.any(axis=(1, 2)).sum()) == len(contours)
    assert _enclosed_holes(a) == 0
    assert "'Tumour A'" in caplog.text and "moved to the nearest image slice" in caplog.text
    assert "up to 1.00 mm" in caplog.text


def test_contours_on_the_slices_are_not_warned_and_holes_in_one_plane_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A contour inside another in the SAME plane is still a hole (even-odd rule), and contours on the
    image's slices (0.1 mm off: rounding in the file) are placed without a warning."""
    img = _image()
    z = _slice_z_mm(img)
    contours = _sphere_contours(z + 0.1)
    ring_inner = _circle(float(z[8]) + 0.1, 5.0)
    assert ring_inner is not None
    with caplog.at_level(logging.WARNING):
        lv = load_mask(_write_rtstruct(tmp_path / "hole.dcm", [*contours, ring_inner]), img)
    a = np.asarray(lv.array) > 0
    holes = [int((ndi.binary_fill_holes(s) & ~s).sum()) for s in a]
    assert holes[8] > 100 and sum(holes) == holes[8]
    assert "off the image's slices" not in caplog.text


def test_planes_half_way_between_two_slices_or_combined() -> None:
    """Contour planes exactly half-way between image slices (and no others): both neighbouring
    slices take them, different planes OR-combined, never XORed."""
    big = np.zeros((10, 10), bool)
    big[2:8, 2:8] = True
    small = np.zeros((10, 10), bool)
    small[4:6, 4:6] = True
    mask, place = fill_planes([(1.5, big), (2.5, small)], (5, 10, 10), 2.5)
    assert mask[2].sum() == big.sum() and not (big & ~mask[2]).any()  # OR, not XOR (XOR: a hole)
    assert mask[1].sum() == big.sum() and mask[3].sum() == small.sum()
    assert not mask[0].any() and not mask[4].any()
    assert place.n_used == 2 and place.moved_mm == [1.25, 1.25]


def test_a_thin_lesion_wholly_between_two_slices_goes_to_the_nearer_slice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 3 mm lesion drawn on 0.75 mm planes of a thin reconstruction, every plane between two 2.5 mm
    image slices: no plane was within the nearest-plane reach, the ROI came out empty with only a
    warning.  It is placed on the nearer slice (the planes nearest to it), the move warned."""
    img = _image()
    z4 = float(_slice_z_mm(img)[4])
    planes = [z4 + dz for dz in (0.45, 1.2, 1.95)]  # 0.18, 0.48, 0.78 slices past slice 4
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    contours = [np.column_stack([6.0 * np.cos(t), 6.0 * np.sin(t), np.full(60, z)]) for z in planes]
    with caplog.at_level(logging.WARNING):
        lv = load_mask(_write_rtstruct(tmp_path / "thin.dcm", contours, name="Thin 1"), img)
    a = np.asarray(lv.array) > 0
    assert a.any(axis=(1, 2)).nonzero()[0].tolist() == [4]  # old code: empty
    assert 0.8 * np.pi * (6.0 / 0.7) ** 2 < a[4].sum() < 1.2 * np.pi * (6.0 / 0.7) ** 2
    assert "'Thin 1'" in caplog.text and "wholly between two slices" in caplog.text and "0.45 mm away" in caplog.text


def test_planes_between_slices_next_to_a_slice_of_the_roi_add_no_slice() -> None:
    """Only a gap neither of whose slices holds the ROI gains a plane: a plane past the ROI's end
    slice (nearer to the next slice than its reach) still adds nothing there."""
    disc = np.zeros((10, 10), bool)
    disc[3:7, 3:7] = True
    mask, place = fill_planes([(1.0, disc), (1.4, disc), (1.6, disc), (3.35, disc), (3.65, disc)], (5, 10, 10), 2.5)
    assert mask.any(axis=(1, 2)).nonzero()[0].tolist() == [1, 3]  # not 2 (the 1.6 plane: slice 1 holds the ROI)
    assert place.between_mm == pytest.approx([0.875])  # 3.35 to slice 3 (3.65 is as near to slice 4, not to 3)

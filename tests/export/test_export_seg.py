"""DICOM SEG: labels -> SEG -> masks identical (our reader, highdicom's, hcc_imaging.io's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pydicom

from hcc_imaging.errors import GeometryMismatchError, UnsupportedDicomError
from hcc_imaging.export import read_seg, write_seg
from hcc_imaging.export.seg import SegExportError, seg_info_from_file
from hcc_imaging.volume import LabelVolume, Volume

from .conftest import lesion_labels, write_ct_series
from .test_export_sr import dcmdump_ok


def test_seg_round_trip_identical(tmp_path: Path, ct) -> None:
    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable)
    dcmdump_ok(info.path)
    assert dict(info.segments) == {"L1": 1, "L1 viable": 2, "L2": 3}
    back = read_seg(info.path, ct.volume)
    assert np.array_equal(back.lesions.array, labels.array)
    assert back.viable is not None and np.array_equal(back.viable.array, viable.array)
    assert dict(back.lesions.labels) == {1: "L1", 2: "L2"}
    assert back.lesions.geometry.equals(ct.volume.geometry)
    assert back.tracking_uids == dict(info.tracking_uids)
    # the SEG references every source slice that has a frame, by SOP Instance UID
    assert set(info.source_sop_instance_uids) == set(ct.volume.meta["sop_instance_uids"])


def test_seg_anatomic_regions_round_trip(tmp_path: Path, ct) -> None:
    """Each segment's anatomic region is its lesion's organ, read back as that organ: the liver by
    default, a lymph node's code, and an organ with no standard code here as a local code that
    keeps its name (before, any unknown organ was written as the liver)."""
    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable, organs={"L2": "lymph_node"})
    assert read_seg(info.path, ct.volume).organs == {"L1": "liver", "L2": "lymph_node"}
    ds = pydicom.dcmread(info.path, stop_before_pixels=True)
    codes = {str(s.SegmentLabel): str(s.AnatomicRegionSequence[0].CodeValue) for s in ds.SegmentSequence}
    assert codes == {"L1": "10200004", "L1 viable": "10200004", "L2": "59441001"}
    info = write_seg(labels, ct.volume, tmp_path / "seg2.dcm", organs={"L1": "peritoneum", "L2": "omentum"})
    ds = pydicom.dcmread(info.path, stop_before_pixels=True)
    regions = {str(s.SegmentLabel): s.AnatomicRegionSequence[0] for s in ds.SegmentSequence}
    assert str(regions["L1"].CodeValue) == "15425007"
    assert str(regions["L2"].CodingSchemeDesignator) == "99HCCIMG" and str(regions["L2"].CodeMeaning) == "omentum"
    assert read_seg(info.path, ct.volume).organs == {"L1": "peritoneum", "L2": "omentum"}


def test_seg_fluid_segments_round_trip(tmp_path: Path, ct) -> None:
    """A fluid lesion (ascites, effusion: the read's ``kind``) is written with its own segmented
    property type, not as a neoplasm, and read back as that kind: what a PACS, which has no
    annotations, keeps of it.  Every other segment (a viable part included) stays a neoplasm."""
    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable, organs={"L2": "peritoneum"},
                     kinds={"L1": "lesion", "L2": "ascites"})
    dcmdump_ok(info.path)
    ds = pydicom.dcmread(info.path, stop_before_pixels=True)
    types = {str(s.SegmentLabel): (str(s.SegmentedPropertyTypeCodeSequence[0].CodeValue),
                                   str(s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning)) for s in ds.SegmentSequence}
    assert types == {"L1": ("108369006", "Neoplasm"), "L1 viable": ("108369006", "Neoplasm"), "L2": ("389026000", "Ascites")}
    back = read_seg(info.path, ct.volume)
    assert back.kinds == {"L2": "ascites"} and back.organs["L2"] == "peritoneum"
    info = write_seg(labels, ct.volume, tmp_path / "seg2.dcm", kinds={"L1": "effusion"})
    assert read_seg(info.path, ct.volume).kinds == {"L1": "effusion"}
    assert read_seg(write_seg(labels, ct.volume, tmp_path / "seg3.dcm").path, ct.volume).kinds == {}


def test_seg_read_by_highdicom_matches_masks(tmp_path: Path, ct) -> None:
    import highdicom as hd

    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable)
    seg = hd.seg.segread(info.path)
    uids = list(ct.volume.meta["sop_instance_uids"])
    arr = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[1, 2, 3])
    assert np.array_equal(arr[..., 0] > 0, labels.array == 1)
    assert np.array_equal(arr[..., 1] > 0, viable.array == 1)
    assert np.array_equal(arr[..., 2] > 0, labels.array == 2)
    assert seg.get_segment_description(1).segment_label == "L1"


def test_seg_read_without_reference_keeps_geometry(tmp_path: Path, ct) -> None:
    labels, _ = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm")
    back = read_seg(info.path)
    # every voxel of each lesion lands at the same LPS position as in the original
    for v in (1, 2):
        orig = np.sort(ct.volume.index_to_lps(np.argwhere(labels.array == v)), axis=0)
        new = np.sort(back.lesions.index_to_lps(np.argwhere(back.lesions.array == v)), axis=0)
        np.testing.assert_allclose(new, orig, atol=1e-4)


def test_seg_through_io_save_and_load_mask(tmp_path: Path, ct) -> None:
    from hcc_imaging.io.masks import load_mask, save_mask

    labels, _ = lesion_labels(ct.volume)
    p = save_mask(labels, tmp_path / "m.dcm", reference=ct.volume)  # calls write_seg(labels, path, reference=)
    back = load_mask(p, reference=ct.volume)
    assert np.array_equal(back.array > 0, labels.array > 0)
    for v, name in labels.labels.items():
        inv = {n: k for k, n in back.labels.items()}
        assert np.array_equal(back.array == inv[name], labels.array == v)


def test_seg_info_from_file(tmp_path: Path, ct) -> None:
    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable, tracking_uids={"L1": "1.2.3.4"})
    again = seg_info_from_file(info.path)
    assert dict(again.segments) == dict(info.segments)
    assert again.tracking_uids["L1"] == "1.2.3.4"
    assert again.sop_instance_uid == info.sop_instance_uid
    with pytest.raises(SegExportError, match="not a DICOM SEG"):
        seg_info_from_file(ct.files[0])


def test_seg_of_unordered_files_is_placed_by_position(tmp_path: Path, ct) -> None:
    labels, _ = lesion_labels(ct.volume)
    vol = Volume.create(
        ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin,
        frame_of_reference_uid=ct.for_uid, series_instance_uid=ct.series_uid,
        meta={"source_files": [str(f) for f in reversed(ct.files)]},
    )
    info = write_seg(labels, vol, tmp_path / "seg.dcm")
    back = read_seg(info.path, ct.volume)
    assert np.array_equal(back.lesions.array, labels.array)


@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        pytest.param("grid", GeometryMismatchError, "not on the grid", id="labels-on-other-grid"),
        pytest.param("viable-grid", GeometryMismatchError, "viable label map", id="viable-on-other-grid"),
        pytest.param("empty", SegExportError, "no lesion voxels", id="all-zero-labels"),
        pytest.param("nofiles", SegExportError, "no source DICOM files", id="volume-without-files"),
        pytest.param("nopath", SegExportError, "needs the source image", id="missing-path"),
        pytest.param("missing-slice", SegExportError, "no source image for slice", id="missing-slice"),
    ],
)
def test_write_seg_errors(tmp_path: Path, ct, case: str, error: type, match: str) -> None:
    labels, viable = lesion_labels(ct.volume)
    kwargs: dict = {}
    source = ct.volume
    if case == "grid":
        labels = LabelVolume.create(labels.array, spacing=(1, 1, 1))
    elif case == "viable-grid":
        kwargs["viable"] = LabelVolume.create(viable.array, spacing=(1, 1, 1))
    elif case == "empty":
        labels = labels.with_array(np.zeros_like(labels.array))
    elif case == "nofiles":
        source = Volume.create(ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin)
        labels = LabelVolume.like(source, labels.array)
    elif case == "missing-slice":
        source = Volume.create(ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin,
                               meta={"source_files": [str(f) for f in ct.files[:-1]]})
        labels = LabelVolume.like(source, labels.array)
    if case == "nopath":
        with pytest.raises(error, match=match):
            write_seg(labels, source)
        return
    with pytest.raises(error, match=match):
        write_seg(labels, source, tmp_path / "x.dcm", **kwargs)


def test_write_seg_rejects_foreign_series(tmp_path: Path, ct) -> None:
    other = write_ct_series(tmp_path / "other", origin=(-16.0, -12.0, 0.0))
    labels, _ = lesion_labels(ct.volume)
    vol = Volume.create(ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin,
                        meta={"source_files": [str(f) for f in other.files]})
    with pytest.raises(GeometryMismatchError, match="is not a slice"):
        write_seg(LabelVolume.like(vol, labels.array), vol, tmp_path / "x.dcm")


def test_read_seg_rejects_non_seg(tmp_path: Path, ct) -> None:
    with pytest.raises(SegExportError, match="not a readable DICOM SEG"):
        read_seg(ct.files[0])


def _rewrite(files, fn):  # noqa: ANN001, ANN202
    for f in files:
        ds = pydicom.dcmread(f)
        fn(ds)
        ds.save_as(f)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        pytest.param(lambda ds: delattr(ds, "ImagePositionPatient"), SegExportError, "no ImagePositionPatient", id="no-position"),
        pytest.param(lambda ds: setattr(ds, "ImageOrientationPatient", [0, 1, 0, 1, 0, 0]), GeometryMismatchError,
                     "transposed or", id="transposed-orientation"),
    ],
)
def test_write_seg_checks_source_headers(tmp_path: Path, change, error: type, match: str) -> None:  # noqa: ANN001
    ct = write_ct_series(tmp_path / "ct")
    _rewrite(ct.files, change)
    labels, _ = lesion_labels(ct.volume)
    with pytest.raises(error, match=match):
        write_seg(labels, ct.volume, tmp_path / "x.dcm")


def test_write_seg_rejects_multiframe_source(tmp_path: Path, ct) -> None:
    ds = pydicom.dcmread(ct.files[0], stop_before_pixels=True)
    ds.NumberOfFrames = 6
    labels, _ = lesion_labels(ct.volume)
    with pytest.raises(UnsupportedDicomError, match="multi-frame"):
        write_seg(labels, ct.volume, tmp_path / "x.dcm", source_datasets=[ds])


def test_read_seg_places_frames_by_position_not_by_sop_uid(tmp_path: Path, ct) -> None:
    """A reference without its files' SOP Instance UIDs (a Volume made in memory): the frames are
    placed by their positions (until 2026-12-05 it was refused: frames were looked up by UID)."""
    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable)
    bare = Volume.create(ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin)
    back = read_seg(info.path, bare)
    np.testing.assert_array_equal(back.lesions.array, labels.array)
    assert back.viable is not None
    np.testing.assert_array_equal(back.viable.array, viable.array)
    assert back.lesions.geometry.equals(bare.geometry)


def test_load_source_datasets_unreadable_file(tmp_path: Path, ct) -> None:
    from hcc_imaging.export.seg import load_source_datasets

    vol = Volume.create(ct.volume.array, spacing=ct.volume.spacing, origin=ct.volume.origin,
                        meta={"source_files": [str(tmp_path / "gone.dcm")]})
    with pytest.raises(SegExportError, match="cannot be read"):
        load_source_datasets(vol)


def _foreign_seg(path: Path, ct, planes, labels, *, fractional: bool = False, types=None,  # noqa: ANN001
                 sources=None) -> Path:
    """A SEG as another tool writes it (highdicom, no hcc_imaging segment descriptions): one segment
    per plane of ``planes`` ((slice, row, col) arrays over ``sources``, default every slice of ``ct``)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(f) for f in ct.files] if sources is None else sources
    descs = [
        hd.seg.SegmentDescription(
            segment_number=n, segment_label=label,
            segmented_property_category=(types or {}).get(label, (codes.SCT.MorphologicallyAbnormalStructure,))[0],
            segmented_property_type=(types or {}).get(label, (None, codes.SCT.Neoplasm))[1],
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for n, label in enumerate(labels, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=np.stack(planes, -1).astype(np.float32 if fractional else bool),
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL if fractional else hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descs, series_instance_uid=hd.UID(), series_number=5, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="other tool", manufacturer_model_name="x", software_versions="1",
        device_serial_number="1", **({"max_fractional_value": 255} if fractional else {}))
    seg.save_as(path)
    return path


def test_read_seg_fractional_segment_inside_at_half(tmp_path: Path, ct) -> None:
    """A FRACTIONAL segment (1.0 inside, 0.2 in a shell around it, 0.5 on one row) is inside where
    its fraction is at least 0.5, as load_mask reads it; read_seg counted any value above 0 (the
    shell too), so batch, the napari import and measure's SEG path measured a bigger lesion."""
    from scipy import ndimage

    from hcc_imaging.io.masks import load_mask

    labels, _ = lesion_labels(ct.volume)
    core = labels.array == 1
    shell = ndimage.binary_dilation(core, iterations=2) & ~core
    half = np.zeros_like(core)
    half[2, 3, 10:20] = True
    half &= ~core
    frac = np.where(core, 1.0, np.where(half, 0.5, np.where(shell, 0.2, 0.0)))
    f = _foreign_seg(tmp_path / "frac.dcm", ct, [frac], ["Tumor"], fractional=True)
    want = core | half
    assert shell.sum() > half.sum() > 0
    for back in (read_seg(f, ct.volume).lesions, read_seg(f).lesions):
        assert int((back.array != 0).sum()) == int(want.sum())
    np.testing.assert_array_equal(read_seg(f, ct.volume).lesions.array != 0, want)
    np.testing.assert_array_equal(load_mask(f, ct.volume).array != 0, want)


def test_read_seg_true_fractional_file_matches_load_mask(shared_data: Path) -> None:
    """highdicom's own FRACTIONAL test SEG: read_seg and load_mask give the same voxels."""
    from hcc_imaging.io.masks import load_mask

    f = shared_data / "highdicom_testfiles" / "seg_image_ct_true_fractional.dcm"
    np.testing.assert_array_equal(read_seg(f).lesions.array != 0, load_mask(f).array != 0)


def _other_series(ct, folder: Path, shift_slices: int = 0) -> list[Path]:  # noqa: ANN001
    """A copy of ``ct``'s files as another series of the same frame of reference (another phase of
    the study): new series and SOP Instance UIDs, moved ``shift_slices`` slices along z."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series = generate_uid()
    out = []
    for f in ct.files:
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], float(ds.ImagePositionPatient[2]) + shift_slices * 2.5]
        ds.save_as(folder / f.name)
        out.append(folder / f.name)
    return out


def test_read_seg_of_some_slices_only(tmp_path: Path, ct) -> None:
    """A SEG whose source images are only the slices its segment is on (another tool's style): the
    other slices are 0.  By source SOP Instance UID it was a KeyError naming the missing UIDs."""
    from hcc_imaging.io.masks import load_lesion_masks

    labels, _ = lesion_labels(ct.volume)
    m = labels.array == 1
    ks = [k for k in range(m.shape[0]) if m[k].any()]
    assert 0 < len(ks) < m.shape[0]
    f = _foreign_seg(tmp_path / "partial.dcm", ct, [m[ks]], ["Tumor"], sources=[pydicom.dcmread(ct.files[k]) for k in ks])
    back = read_seg(f, ct.volume)
    np.testing.assert_array_equal(back.lesions.array != 0, m)
    assert back.lesions.geometry.equals(ct.volume.geometry) and dict(back.lesions.labels) == {1: "Tumor"}
    np.testing.assert_array_equal(load_lesion_masks(f, ct.volume)[0].array != 0, m)


@pytest.mark.parametrize("shift", [0, 1], ids=["same-grid", "grid-one-slice-up"])
def test_read_seg_drawn_on_another_series_of_the_frame_of_reference(tmp_path: Path, ct, shift: int) -> None:
    """Our SEG (lesions and viable parts) written on another series of the study (the portal-venous
    phase, same frame of reference), read on this one: placed by position, the same voxels in
    patient space.  By source SOP Instance UID it was a KeyError listing the other series' UIDs."""
    from hcc_imaging.io import load_series

    labels, viable = lesion_labels(ct.volume)
    other = load_series(_other_series(ct, tmp_path / "pv", shift)[0].parent)
    assert other.series_instance_uid != ct.series_uid and other.frame_of_reference_uid == ct.for_uid
    # the same lesions in patient space, on the other series' grid
    info = write_seg(labels.resample_to(other), other, tmp_path / "pv_seg.dcm", viable=viable.resample_to(other))
    back = read_seg(info.path, ct.volume)
    want_les, want_via = labels.array.copy(), viable.array.copy()
    if shift:  # the other series starts a slice higher: this series' first slice is not in it
        want_les[:shift] = 0
        want_via[:shift] = 0
    np.testing.assert_array_equal(back.lesions.array, want_les)
    assert back.viable is not None
    np.testing.assert_array_equal(back.viable.array, want_via)
    assert back.lesions.geometry.equals(ct.volume.geometry)


def test_read_seg_of_another_frame_of_reference_is_refused(tmp_path: Path, ct) -> None:
    other = write_ct_series(tmp_path / "other", seed=3)
    labels, _ = lesion_labels(other.volume)
    info = write_seg(labels, other.volume, tmp_path / "o.dcm")
    with pytest.raises(GeometryMismatchError, match=f"frame of reference {other.for_uid}.*{ct.for_uid}"):
        read_seg(info.path, ct.volume)


def test_read_seg_dcmqi_liver_seg_on_its_ct(shared_data: Path) -> None:
    """dcmqi's liver SEG (frames without "spatial locations preserved") on its 3 CT slices: the
    107,098 voxels load_mask reads (a RuntimeError of highdicom's before)."""
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_lesion_masks, load_mask

    d = shared_data / "dcmqi_liver_ct3slice"
    ct3 = load_series(d / "ct")
    f = d / "seg" / "liver_seg.dcm"
    back = read_seg(f, ct3)
    assert int((back.lesions.array != 0).sum()) == 107098
    np.testing.assert_array_equal(back.lesions.array != 0, load_mask(f, ct3).array != 0)
    assert dict(back.lesions.labels) == {1: "Liver"}
    np.testing.assert_array_equal(load_lesion_masks(f, ct3)[0].array, back.lesions.array)


def test_read_seg_segments_sharing_a_label_are_distinct_lesions(tmp_path: Path, ct) -> None:
    """Another tool's SEG with two segments both labelled "Tumor": two lesions, "Tumor" and
    "Tumor (2)" (they were merged into one lesion of both segments' voxels)."""
    labels, _ = lesion_labels(ct.volume)
    f = _foreign_seg(tmp_path / "same.dcm", ct, [labels.array == 1, labels.array == 2], ["Tumor", "Tumor"])
    back = read_seg(f, ct.volume)
    assert dict(back.lesions.labels) == {1: "Tumor", 2: "Tumor (2)"}
    np.testing.assert_array_equal(back.lesions.array, labels.array)
    assert set(back.tracking_uids) <= {"Tumor", "Tumor (2)"}
    from hcc_imaging.io.masks import load_mask

    assert seg_info_from_file(f).segments == {"Tumor": 1, "Tumor (2)": 2}  # (was {"Tumor": 2})
    lm = load_mask(f, ct.volume)  # (load_mask named both lesions "Tumor": two rows of one id in measure)
    assert dict(lm.labels) == {1: "Tumor", 2: "Tumor (2)"}
    np.testing.assert_array_equal(lm.array, labels.array)


@pytest.mark.parametrize("coded", ["type-liver", "category-tissue"])
def test_read_seg_leaves_an_organ_segment_out_of_the_lesions(tmp_path: Path, ct, coded: str) -> None:
    """A "Liver" segment holding the tumour (another tool's liver + tumour SEG) is anatomy, not a
    lesion: left out with a note, and the tumour keeps every voxel.  It was read as a lesion
    "Liver" with the tumour carved out of it."""
    from pydicom.sr.codedict import codes

    labels, _ = lesion_labels(ct.volume)
    liver = np.zeros(ct.volume.shape, bool)
    liver[:, 2:30, 2:38] = True
    tumour = labels.array == 1
    assert np.all(liver[tumour])
    cat = codes.SCT.MorphologicallyAbnormalStructure if coded == "type-liver" else codes.SCT.Tissue
    f = _foreign_seg(tmp_path / "lt.dcm", ct, [liver, tumour], ["Liver", "Tumor"], types={"Liver": (cat, codes.SCT.Liver)})
    back = read_seg(f, ct.volume)
    assert dict(back.lesions.labels) == {1: "Tumor"}
    np.testing.assert_array_equal(back.lesions.array != 0, tumour)
    assert list(back.left_out) == ["Liver"] and "anatomy" in back.left_out["Liver"]


def test_read_seg_overlapping_lesion_segments_are_refused(tmp_path: Path, ct) -> None:
    """Two lesion segments sharing voxels cannot be lesions of one label map: refused naming both
    (the later one silently took the shared voxels)."""
    from hcc_imaging.io.masks import OverlappingSegmentsError

    labels, _ = lesion_labels(ct.volume)
    a = labels.array == 1
    b = np.zeros_like(a)
    b[2, 10:20, 10:20] = True
    f = _foreign_seg(tmp_path / "ov.dcm", ct, [a, b], ["T1", "T2"])
    with pytest.raises(OverlappingSegmentsError, match=r"'T2' \(#2\) overlaps segment 'T1' \(#1\) in \d+ voxels"):
        read_seg(f, ct.volume)


def test_load_mask_reads_our_seg_with_viable_parts_as_its_lesions(tmp_path: Path, ct) -> None:
    """A SEG of ours holds "L1" and "L1 viable" (inside L1): load_mask refused it as overlapping
    segments before 2026-12-06, while read_seg and measure --masks read it."""
    from hcc_imaging.io.masks import OverlappingSegmentsError, load_mask

    labels, viable = lesion_labels(ct.volume)
    info = write_seg(labels, ct.volume, tmp_path / "seg.dcm", viable=viable)
    back = load_mask(info.path, reference=ct.volume)
    assert np.array_equal(back.array, labels.array) and dict(back.labels) == {1: "L1", 2: "L2"}
    assert back.meta["viable_segments_left_out"] == ["L1 viable"]
    # (= read_seg's lesions: test_seg_round_trip_identical)
    only = load_mask(info.path, reference=ct.volume, structures=["L1 viable"])  # still selectable
    assert np.array_equal(only.array > 0, viable.array > 0)
    # two lesions that share voxels are still refused, naming both: the viable segment relabelled a lesion
    ds = pydicom.dcmread(info.path)
    (d,) = [d for d in ds.SegmentSequence if d.SegmentLabel == "L1 viable"]
    d.SegmentLabel, d.SegmentDescription = "L3", "hcc_imaging label value 3"
    ds.save_as(tmp_path / "clash.dcm")
    with pytest.raises(OverlappingSegmentsError, match="'L3' overlaps segment 'L1'"):
        load_mask(tmp_path / "clash.dcm", reference=ct.volume)

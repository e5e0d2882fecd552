"""LesionMeasurement record, measure_labels, provenance."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hcc_imaging.errors import GeometryMismatchError
from hcc_imaging.measure import EmptyMaskError, LesionMeasurement, RecistMeasurability, measure_labels, measure_lesion
from hcc_imaging.volume import LabelVolume, Volume


def _two_lesions() -> LabelVolume:
    k, j, i = np.indices((12, 60, 60))
    a = np.zeros((12, 60, 60), np.uint8)
    a[((k - 5) * 2.5) ** 2 + ((j - 15) * 0.8) ** 2 + ((i - 15) * 0.8) ** 2 <= 9.0**2] = 1
    a[((k - 6) * 2.5) ** 2 + ((j - 42) * 0.8) ** 2 + ((i - 45) * 0.8) ** 2 <= 5.0**2] = 3
    return LabelVolume.create(
        a, spacing=(2.5, 0.8, 0.8), labels={1: "L1", 3: "N1"}, meta={"source_path": "/x/masks.nii.gz"},
        source_series_instance_uid="1.2.3", frame_of_reference_uid="1.2.3.4",
    )


def test_measure_labels_all_lesions_and_nodes() -> None:
    lv = _two_lesions()
    res = measure_labels(lv, lymph_nodes={"N1"})
    assert [m.lesion_id for m in res] == ["L1", "N1"]
    assert [m.label for m in res] == [1, 3]
    l1, n1 = res
    assert l1.recist_measurability is RecistMeasurability.MEASURABLE
    assert n1.is_lymph_node and n1.recist_measurability is RecistMeasurability.NORMAL_NODE  # SA < 10 mm
    # same numbers as measure_lesion on its own (bounding-box shortcut changes nothing)
    solo = measure_lesion(lv, "L1")
    assert solo.longest_diameter_mm == l1.longest_diameter_mm
    assert solo.ld_endpoints_lps == l1.ld_endpoints_lps
    assert solo.feret_3d_mm == l1.feret_3d_mm and solo.volume_mm3 == l1.volume_mm3
    assert l1.slice_thickness_mm == 2.5  # default: slice spacing


def test_record_is_frozen_and_json_able() -> None:
    m = measure_lesion(_two_lesions(), 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.longest_diameter_mm = 1.0  # type: ignore[misc]
    d = json.loads(json.dumps(m.to_dict()))
    for key in ("lesion_id", "longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "volume_mm3",
                "viable_volume_mm3", "necrosis_fraction", "ld_endpoints_lps", "sa_endpoints_lps", "provenance"):
        assert key in d
    assert len(d["ld_endpoints_lps"]) == 2 and len(d["ld_endpoints_lps"][0]) == 3
    assert d["recist_measurability"] == "measurable"
    prov = d["provenance"]
    assert prov["algorithm"] == "hcc_imaging.measure.measure_lesion"
    assert prov["parameters"]["estimator"] == "subvoxel-boundary-v6"
    assert prov["source_path"] == "/x/masks.nii.gz"
    assert prov["source_series_instance_uid"] == "1.2.3"
    assert prov["version"]
    assert m.volume_ml == pytest.approx(m.volume_mm3 / 1000)
    assert {f.name for f in dataclasses.fields(LesionMeasurement)} >= {"who_product_mm2", "easl_product_mm2", "necrosis_fraction_ld_slice"}


def test_slice_thickness_from_image_meta_changes_measurability() -> None:
    lv = _two_lesions()
    img = Volume.create(np.zeros(lv.shape, np.int16), spacing=lv.spacing, meta={"slice_thickness_mm": 10.0},
                        series_instance_uid="9.9")
    m = measure_lesion(lv, "L1", image=img)
    assert m.slice_thickness_mm == 10.0
    assert m.longest_diameter_mm < 20.0
    assert m.recist_measurability is RecistMeasurability.NON_MEASURABLE  # needs 2 x 10 mm
    assert m.provenance.image_series_instance_uid == "9.9"
    m2 = measure_lesion(lv, "L1", image=img, slice_thickness_mm=1.0)
    assert m2.recist_measurability is RecistMeasurability.MEASURABLE


def test_errors() -> None:
    lv = _two_lesions()
    with pytest.raises(EmptyMaskError, match="has no voxel"):
        measure_lesion(lv, 2)
    with pytest.raises(EmptyMaskError, match="is ambiguous"):
        measure_lesion(lv, None)
    img = Volume.create(np.zeros((3, 3, 3), np.int16), spacing=(1, 1, 1))
    with pytest.raises(GeometryMismatchError, match="image"):
        measure_lesion(lv, 1, image=img)
    with pytest.raises(GeometryMismatchError, match="viable mask"):
        measure_labels(lv, LabelVolume.create(np.zeros((3, 3, 3), np.uint8), spacing=(1, 1, 1)))
    with pytest.raises(GeometryMismatchError, match="image"):
        measure_labels(lv, image=img)


def test_empty_label_map_gives_no_measurements() -> None:
    lv = LabelVolume.create(np.zeros((2, 4, 4), np.uint8), spacing=(1, 1, 1))
    assert measure_labels(lv) == []


@pytest.mark.parametrize(
    "dtype",
    [pytest.param(t, id=np.dtype(t).name) for t in (np.uint8, np.uint16, np.uint32, np.int16, np.int64)],
)
def test_measure_labels_any_integer_dtype(dtype) -> None:
    a = np.zeros((3, 9, 9), dtype)
    a[1, 2:5, 2:7] = 2
    a[2, 6, 1:8] = 40
    res = measure_labels(LabelVolume.create(a, spacing=(1, 1, 1)))
    assert [m.label for m in res] == [2, 40]
    # 3 x 5 block: between the centre diagonal hypot(2, 4) and the edge diagonal hypot(3, 5)
    assert np.hypot(2, 4) < res[0].longest_diameter_mm <= np.hypot(3, 5)
    # 1 x 7 bar: 7 mm edge to edge (6 mm between end centres), within half a voxel
    assert abs(res[1].longest_diameter_mm - 7.0) <= 0.5
    # the same numbers whatever the integer type
    ref = measure_labels(LabelVolume.create(a.astype(np.uint8), spacing=(1, 1, 1)))
    assert [m.longest_diameter_mm for m in res] == [m.longest_diameter_mm for m in ref]
    assert [m.lesion_id for m in res] == ["2", "40"]


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.7, 0.7)])
def test_interior_hole_does_not_change_the_diameters(spacing) -> None:
    """A cavity left out of the mask (necrosis, a vessel) lies inside the lesion's outer extent:
    LD, short axis and 3-D Feret are those of the solid lesion, the volume counts the hole out.
    A 30 mm sphere with a 6 mm hole gave a short axis of 29.0 mm (30.0 without): the section's
    ellipse fit failed and the fallback's end fit read the hole's edge."""
    n = [int(np.ceil(34 / s)) | 1 for s in spacing]
    k, j, i = np.indices(n).astype(float)
    c = (0.13, 0.29, -0.31)
    z = (k - (n[0] - 1) / 2) * spacing[0] - c[0]
    y = (j - (n[1] - 1) / 2) * spacing[1] - c[1]
    x = (i - (n[2] - 1) / 2) * spacing[2] - c[2]
    r2 = z * z + y * y + x * x
    solid = (r2 <= 15.0**2).astype(np.uint8)
    holed = solid * (r2 > 3.5**2)
    a = measure_lesion(LabelVolume.create(solid, spacing=spacing), 1)
    b = measure_lesion(LabelVolume.create(holed, spacing=spacing), 1)
    assert b.longest_diameter_mm == a.longest_diameter_mm
    assert b.short_axis_mm == a.short_axis_mm
    assert b.sa_endpoints_lps == a.sa_endpoints_lps
    assert b.feret_3d_mm == a.feret_3d_mm
    assert abs(a.short_axis_mm - 30.0) <= max(spacing[1:])   # the truth, within a voxel
    vox = float(np.prod(spacing))
    assert b.volume_mm3 == pytest.approx(np.count_nonzero(holed) * vox) and b.volume_mm3 < a.volume_mm3

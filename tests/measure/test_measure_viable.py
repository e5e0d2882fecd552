"""mRECIST viable diameter, viable short axis, necrosis fractions, EASL/WHO products."""

from __future__ import annotations

import numpy as np
import pytest

from hcc_imaging.errors import GeometryMismatchError
from hcc_imaging.measure import longest_axial_diameter, measure_lesion, viable_diameter, viable_short_axis
from hcc_imaging.measure.viable import fill_short_gaps
from hcc_imaging.volume import LabelVolume


def _grid(r_mm: float, spacing, centre=(0.23, -0.31, 0.17)):
    n = [int(np.ceil(2 * r_mm / s)) + 5 for s in spacing]
    k, j, i = np.indices(n).astype(float)
    z = (k - (n[0] - 1) / 2) * spacing[0] - centre[2]
    y = (j - (n[1] - 1) / 2) * spacing[1] - centre[1]
    x = (i - (n[2] - 1) / 2) * spacing[2] - centre[0]
    return z, y, x


def _lv(mask: np.ndarray, spacing) -> LabelVolume:
    return LabelVolume.create(mask.astype(np.uint8), spacing=spacing, labels={1: "L1"})


SPACINGS = [
    pytest.param((1.0, 1.0, 1.0), id="iso1"),
    pytest.param((2.5, 0.7, 0.7), id="ct2.5"),
    pytest.param((5.0, 0.6, 0.6), id="thick5"),
]


@pytest.mark.parametrize("spacing", SPACINGS)
def test_necrotic_core(spacing) -> None:
    """Ball R with a concentric necrotic ball r: the longest viable segment on a slice through
    the core is the chord tangent to the core, 2 sqrt(R_k^2 - r_k^2); above the core it is 2 R_k."""
    big, core = 16.0, 9.0
    z, y, x = _grid(big, spacing)
    rr = np.sqrt(z * z + y * y + x * x)
    lesion = rr <= big
    viable = lesion & (rr > core)
    m = measure_lesion(_lv(lesion, spacing), 1, viable=_lv(viable, spacing))
    zk = z[:, 0, 0]
    rk_big = np.sqrt(np.clip(big**2 - zk**2, 0, None))
    rk_core = np.sqrt(np.clip(core**2 - zk**2, 0, None))
    truth = float(np.max(np.where(rk_core > 0, 2 * np.sqrt(np.clip(rk_big**2 - rk_core**2, 0, None)), 2 * rk_big)))
    vox = max(spacing[1], spacing[2])
    assert abs(m.viable_diameter_mm - truth) <= vox, (m.viable_diameter_mm, truth)
    # the segment does not cross the core: its midpoint-distance from the axis >= core radius on its slice
    p, q = np.asarray(m.viable_endpoints_lps)
    assert p[2] == pytest.approx(q[2])
    assert m.viable_volume_mm3 == pytest.approx(np.count_nonzero(viable) * np.prod(spacing))
    assert m.necrosis_fraction == pytest.approx(1 - np.count_nonzero(viable) / np.count_nonzero(lesion))
    assert 0.0 < m.necrosis_fraction_ld_slice < 1.0
    assert m.easl_product_mm2 == pytest.approx(m.viable_diameter_mm * m.viable_short_axis_mm)
    assert m.who_product_mm2 == pytest.approx(m.longest_diameter_mm * m.short_axis_mm)
    assert m.mrecist_measurable is True


@pytest.mark.parametrize("spacing", SPACINGS)
def test_nodular_viable_remnant(spacing) -> None:
    """Post-TACE: a 40 mm necrotic (lipiodol) lesion with a 14 mm viable nodule at its edge."""
    z, y, x = _grid(20.0, spacing)
    lesion = z * z + y * y + x * x <= 20.0**2
    nod_c = (0.0, 0.0, 12.0)  # (z, y, x)
    nodule = lesion & ((z - nod_c[0]) ** 2 + (y - nod_c[1]) ** 2 + (x - nod_c[2]) ** 2 <= 7.0**2)
    m = measure_lesion(_lv(lesion, spacing), 1, viable=_lv(nodule, spacing))
    zk = z[:, 0, 0]
    truth = float(2 * np.sqrt(np.clip(49.0 - (zk - nod_c[0]) ** 2, 0, None)).max())
    vox = max(spacing[1], spacing[2])
    assert abs(m.viable_diameter_mm - truth) <= vox
    assert abs(m.viable_short_axis_mm - truth) <= 1.5 * vox
    assert m.longest_diameter_mm > 35.0
    assert m.necrosis_fraction > 0.9


def test_rim_only_gives_no_viable_diameter() -> None:
    """A thin reactive rim is not viable tumour: the segmentation leaves the viable mask empty,
    and the measurement reports 0.0 mm (mRECIST: no intratumoral enhancement)."""
    spacing = (2.5, 0.7, 0.7)
    z, y, x = _grid(15.0, spacing)
    rr = np.sqrt(z * z + y * y + x * x)
    lesion = rr <= 15.0
    empty = np.zeros_like(lesion)
    m = measure_lesion(_lv(lesion, spacing), 1, viable=_lv(empty, spacing))
    assert m.viable_diameter_mm == 0.0
    assert m.viable_short_axis_mm == 0.0
    assert m.viable_endpoints_lps is None
    assert m.viable_volume_mm3 == 0.0
    assert m.necrosis_fraction == 1.0
    assert m.easl_product_mm2 == 0.0
    assert m.mrecist_measurable is False
    assert viable_diameter(_lv(lesion, spacing), 1, viable=_lv(empty, spacing)) is None
    assert viable_short_axis(_lv(lesion, spacing), 1, viable=_lv(empty, spacing)) is None


def test_rim_passed_as_viable_is_measured_as_tissue() -> None:
    """What the rule gives when a rim IS in the viable mask (documented): on the equator slice
    a 1-voxel ring only allows short chords; the caps make the rim look like a disc, so the
    rule cannot recognise a rim - excluding rims is the segmentation's job."""
    spacing = (1.0, 1.0, 1.0)
    z, y, x = _grid(15.0, spacing)
    rr = np.sqrt(z * z + y * y + x * x)
    lesion = rr <= 15.0
    rim = lesion & (rr > 14.0)
    d = viable_diameter(_lv(lesion, spacing), 1, viable=_lv(rim, spacing))
    assert d is not None and 0.0 < d.length_mm < 30.0


def test_no_viable_mask_leaves_fields_none() -> None:
    z, y, x = _grid(6.0, (1.0, 1.0, 1.0))
    m = measure_lesion(_lv(z * z + y * y + x * x <= 36, (1.0, 1.0, 1.0)), 1)
    assert m.viable_diameter_mm is None and m.necrosis_fraction is None and m.mrecist_measurable is None


def test_gap_tolerance_one_voxel() -> None:
    """A necrotic band 1 voxel wide is bridged (partial volume); 3 voxels wide is not."""
    a = np.zeros((1, 5, 40), np.uint8)
    a[0, 1:4, 2:38] = 1
    for width, bridged in ((1, True), (3, False)):
        v = a.copy()
        v[0, :, 19 : 19 + width] = 0
        d = viable_diameter(_lv(a, (1, 1, 1)), 1, viable=_lv(v, (1, 1, 1)))
        assert d is not None
        if bridged:  # spans the whole bar: between the centre diagonal and the edge diagonal
            assert np.hypot(35, 2) < d.length_mm <= np.hypot(36, 3)
        else:
            assert d.length_mm < 20.0
    v = a.copy()
    v[0, :, 19:22] = 0
    d3 = viable_diameter(_lv(a, (1, 1, 1)), 1, viable=_lv(v, (1, 1, 1)), gap_voxels=3.0)
    assert d3 is not None and np.hypot(35, 2) < d3.length_mm <= np.hypot(36, 3)


def test_viable_outside_lesion_is_ignored() -> None:
    a = np.zeros((1, 5, 30), np.uint8)
    a[0, 1:4, 2:12] = 1
    v = np.zeros_like(a)
    v[0, 1:4, 2:28] = 1  # spills into liver outside the lesion
    d = viable_diameter(_lv(a, (1, 1, 1)), 1, viable=_lv(v, (1, 1, 1)))
    # the lesion is fully viable once the spill is ignored: viable diameter == LD (same line)
    ld = longest_axial_diameter(_lv(a, (1, 1, 1)))
    assert d is not None and d.length_mm == ld.length_mm and d.endpoints_lps == ld.endpoints_lps


def test_viable_grid_mismatch_raises() -> None:
    a = np.zeros((2, 5, 5), np.uint8)
    a[0, 2, 2] = 1
    lv = _lv(a, (1, 1, 1))
    other = LabelVolume.create(np.zeros((2, 6, 5), np.uint8), spacing=(1, 1, 1))
    with pytest.raises(GeometryMismatchError, match="viable mask"):
        measure_lesion(lv, 1, viable=other)
    with pytest.raises(GeometryMismatchError, match="not on the lesion mask's grid"):
        viable_diameter(lv, 1, viable=other)


@pytest.mark.parametrize(
    ("good", "max_run", "expected"),
    [
        pytest.param([1, 0, 1], 1, [1, 1, 1], id="gap1-filled"),
        pytest.param([1, 0, 0, 1], 1, [1, 0, 0, 1], id="gap2-kept"),
        pytest.param([0, 1, 1], 5, [0, 1, 1], id="leading-gap-kept"),
        pytest.param([1, 1, 0], 5, [1, 1, 0], id="trailing-gap-kept"),
    ],
)
def test_fill_short_gaps(good, max_run, expected) -> None:
    out = fill_short_gaps(np.array([good], bool), max_run)
    assert out[0].astype(int).tolist() == expected


def test_segment_verdict_does_not_depend_on_batch() -> None:
    from hcc_imaging.measure.viable import _valid_segments

    rng = np.random.default_rng(3)
    v = rng.random((40, 40)) < 0.8
    p = rng.uniform(0, 39, (200, 2)).round()
    q = rng.uniform(0, 39, (200, 2)).round()
    lengths = np.hypot(*(q - p).T * 0.7)
    together = _valid_segments(v, p, q, lengths, 0.35, 0.7)
    alone = np.array([_valid_segments(v, p[i : i + 1], q[i : i + 1], lengths[i : i + 1], 0.35, 0.7)[0] for i in range(200)])
    assert np.array_equal(together, alone)
    assert together.any() and not together.all()


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"random-necrosis-{s}") for s in range(3)])
def test_early_rejection_changes_nothing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deep-necrosis shortcut only rejects segments the full rule rejects."""
    from hcc_imaging.measure import viable as vm

    rng = np.random.default_rng(seed)
    spacing = (2.0, 0.8, 0.8)
    z, y, x = _grid(14.0, spacing)
    lesion = z * z + y * y + x * x <= 14.0**2
    necrosis = np.zeros_like(lesion)
    for _ in range(4):
        c = rng.uniform(-8, 8, 3)
        necrosis |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= rng.uniform(2, 6) ** 2
    viable = lesion & ~necrosis
    lab, via = _lv(lesion, spacing), _lv(viable, spacing)
    fast = viable_diameter(lab, 1, viable=via)
    monkeypatch.setattr(vm, "_deep_non_viable", lambda *a: None)
    slow = viable_diameter(lab, 1, viable=via)
    assert fast is not None and slow is not None
    assert fast.length_mm == slow.length_mm
    assert fast.endpoints_lps == slow.endpoints_lps


@pytest.mark.parametrize(
    "spacing",
    [pytest.param((1.0, 1.0, 1.0), id="iso1"), pytest.param((1.0, 0.7, 0.7), id="1mm-0.7px")],
)
def test_rim_exclusion_option(spacing) -> None:
    """With rim_exclusion_mm on thin-slice data, a thin rim passed as viable gives no viable
    diameter, while a nodule next to it keeps its diameter (within one voxel)."""
    z, y, x = _grid(16.0, spacing)
    rr = np.sqrt(z * z + y * y + x * x)
    lesion = rr <= 16.0
    rim = lesion & (rr > 14.6)  # ~1.4 mm rim
    lab = _lv(lesion, spacing)
    m = measure_lesion(lab, 1, viable=_lv(rim, spacing), rim_exclusion_mm=3.0)
    assert m.viable_diameter_mm == 0.0 and m.viable_endpoints_lps is None
    assert m.provenance.parameters["rim_exclusion_mm"] == 3.0
    nod_c = (0.0, 0.0, -6.0)
    nodule = (z - nod_c[0]) ** 2 + (y - nod_c[1]) ** 2 + (x - nod_c[2]) ** 2 <= 6.0**2
    m2 = measure_lesion(lab, 1, viable=_lv(rim | nodule, spacing), rim_exclusion_mm=3.0)
    zk = z[:, 0, 0]
    truth = float(2 * np.sqrt(np.clip(36.0 - (zk - nod_c[0]) ** 2, 0, None)).max())
    assert abs(m2.viable_diameter_mm - truth) <= max(spacing[1], spacing[2])
    # without the option the rim is measured as tissue
    m3 = measure_lesion(lab, 1, viable=_lv(rim, spacing))
    assert m3.viable_diameter_mm > 0.0


def test_fully_viable_lesion_gives_the_ld() -> None:
    """A fully viable lesion: viable diameter == LD and viable short axis == SA (same lines)."""
    z, y, x = _grid(12.0, (2.5, 0.7, 0.7))
    lesion = (z / 10.0) ** 2 + (y / 6.0) ** 2 + ((x - 0.3) / 11.0) ** 2 <= 1.0
    m = measure_lesion(_lv(lesion, (2.5, 0.7, 0.7)), 1, viable=_lv(lesion, (2.5, 0.7, 0.7)))
    assert m.viable_diameter_mm == m.longest_diameter_mm
    assert m.viable_endpoints_lps == m.ld_endpoints_lps
    assert m.viable_short_axis_mm == m.short_axis_mm
    assert m.necrosis_fraction == 0.0

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
    from hcc_imaging.measure._viable_search import _valid_segments

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
    """The deep-necrosis shortcut of the reference search only rejects segments the full rule
    rejects.  (Until 2026-12-07 this patched it and timed ``viable_diameter``, whose fast search
    never calls it: both sides ran the same code.  The fast search's own shortcuts are
    ``test_measure_viable_fast.py::test_fast_shortcuts_change_nothing``.)"""
    from hcc_imaging.measure import _viable_search as vs
    from hcc_imaging.measure.viable import _viable_diameter_reference

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
    calls = []
    deep = vs._deep_non_viable
    monkeypatch.setattr(vs, "_deep_non_viable", lambda *a: calls.append(1) or deep(*a))
    fast = _viable_diameter_reference(lab, 1, viable=via)
    assert calls  # (the shortcut ran)
    monkeypatch.setattr(vs, "_deep_non_viable", lambda *a: None)
    slow = _viable_diameter_reference(lab, 1, viable=via)
    assert fast is not None and slow is not None
    assert fast.length_mm == pytest.approx(viable_diameter(lab, 1, viable=via).length_mm, abs=1e-9)
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


def _inside_fraction(labels: LabelVolume, line) -> float:
    """Share of 400 points along ``line`` (LPS) whose nearest voxel is in the mask."""
    e = np.asarray(line, dtype=float)
    pts = e[0] + np.linspace(0.0, 1.0, 400)[:, None] * (e[1] - e[0])
    idx = np.clip(np.rint(labels.lps_to_index(pts)).astype(int), 0, np.array(labels.shape) - 1)
    return float((labels.array[idx[:, 0], idx[:, 1], idx[:, 2]] > 0).mean())


def _minus_one_voxel(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    k, j, i = np.argwhere(mask)[0]
    out[k, j, i] = False
    return out


def test_fully_viable_lesion_of_two_nodules_is_not_bridged() -> None:
    """Two 16 mm nodules 12 mm apart under one label, fully viable: the LD (≈ 44 mm) crosses
    liver, so it is no viable diameter. The shortcut 'fully viable => viable diameter = LD' gave
    43.8 mm, and removing one viable voxel switched to the rule (16.3 mm)."""
    spacing = (2.5, 0.7, 0.7)
    z, y, x = _grid(30.0, spacing, centre=(0.0, 0.0, 0.0))
    a = (x + 14.0) ** 2 + y**2 + z**2 <= 8.0**2
    b = (x - 14.0) ** 2 + y**2 + z**2 <= 8.0**2
    lesion = a | b
    lab = _lv(lesion, spacing)
    # (measured as one object: by default the two pieces are a split lesion, each measured
    # alone and summed - test_measure_fragments.py - and both diameters are 2 x 16 mm)
    m = measure_lesion(lab, 1, viable=lab, fragments="hull")
    m1 = measure_lesion(lab, 1, viable=_lv(_minus_one_voxel(lesion), spacing), fragments="hull")
    s = measure_lesion(lab, 1, viable=lab)
    assert s.n_fragments == 2 and s.viable_diameter_mm == pytest.approx(s.longest_diameter_mm)
    assert abs(s.longest_diameter_mm - 32.0) <= 2 * 0.7 + 1e-9
    assert m.longest_diameter_mm > 40.0                       # RECIST: the whole label
    assert abs(m.viable_diameter_mm - 16.0) <= 0.7 + 1e-9     # one nodule (truth 16 mm), within a voxel
    assert m.viable_diameter_mm == pytest.approx(m1.viable_diameter_mm, abs=1e-9)
    assert _inside_fraction(lab, m.viable_endpoints_lps) > 0.95
    assert m.viable_short_axis_mm <= m.viable_diameter_mm


def test_fully_viable_ring_does_not_cross_its_hole() -> None:
    """A ring lesion whose necrotic centre is not in the mask, passed as fully viable: the viable
    diameter does not cross the hole (it was the LD across it, 30 mm, against 22.5 mm with one
    viable voxel less)."""
    spacing = (1.0, 0.7, 0.7)
    z, y, x = _grid(16.0, spacing, centre=(0.0, 0.0, 0.0))
    outer = (x / 15.0) ** 2 + (y / 15.0) ** 2 + (z / 40.0) ** 2 <= 1.0
    hole = (x / 10.0) ** 2 + (y / 10.0) ** 2 + (z / 40.0) ** 2 <= 1.0
    ring = outer & ~hole
    lab = _lv(ring, spacing)
    m = measure_lesion(lab, 1, viable=lab)
    m1 = measure_lesion(lab, 1, viable=_lv(_minus_one_voxel(ring), spacing))
    # the longest chord of the annulus missing the hole is tangent to it: 2 sqrt(15^2 - 10^2)
    truth = 2.0 * np.sqrt(15.0**2 - 10.0**2)
    assert m.longest_diameter_mm > 29.0
    assert abs(m.viable_diameter_mm - truth) <= 2 * 0.7, (m.viable_diameter_mm, truth)
    assert m.viable_diameter_mm == pytest.approx(m1.viable_diameter_mm, abs=1e-9)
    assert _inside_fraction(lab, m.viable_endpoints_lps) > 0.8   # a tangent: it grazes the hole


def test_fully_viable_crescent_short_axis_keeps_to_the_lesion() -> None:
    """A fully viable crescent: the RECIST short axis is a chord of its hull (mostly outside the
    lesion); the viable short axis is a run of viable tissue, and the viable diameter does not
    cross the bay."""
    spacing = (1.0, 0.7, 0.7)
    z, y, x = _grid(16.0, spacing, centre=(0.0, 0.0, 0.0))
    disc = (x / 15.0) ** 2 + (y / 15.0) ** 2 + (z / 40.0) ** 2 <= 1.0
    bay = (x / 12.0) ** 2 + ((y - 9.0) / 12.0) ** 2 + (z / 40.0) ** 2 <= 1.0
    crescent = disc & ~bay
    lab = _lv(crescent, spacing)
    m = measure_lesion(lab, 1, viable=lab)
    assert _inside_fraction(lab, m.sa_endpoints_lps) < 0.7          # RECIST: the hull's width
    assert _inside_fraction(lab, m.viable_sa_endpoints_lps) > 0.9
    assert _inside_fraction(lab, m.viable_endpoints_lps) > 0.9
    assert m.viable_short_axis_mm <= m.viable_diameter_mm


def test_viable_short_axis_never_exceeds_the_viable_diameter() -> None:
    """A near-round viable part on a coarse grid: the perpendicular run, its ends moved to the
    boundary, came out longer than the viable diameter (EASL +8 %); the longer valid line is the
    viable diameter."""
    spacing = np.array([3.0, 2.3, 2.3])
    shape = np.array([int(60 / s) + 5 for s in spacing])
    k, j, i = np.indices(shape).astype(float)
    # axial grid centred on the origin of the lesion: (k, j, i) -> (z, y, x) mm
    z, y, x = ((a - (n - 1) / 2) * s for a, n, s in zip((k, j, i), shape, spacing, strict=True))
    lesion = (x / 25.0) ** 2 + (y / 22.0) ** 2 + (z / 20.0) ** 2 <= 1.0
    t = np.deg2rad(6.759768486333105)
    px, py, pz = x + 3.6322448044225535, y - 1.1559726524245697, z - 0.1076106375162329
    u, w = np.cos(t) * px + np.sin(t) * py, -np.sin(t) * px + np.cos(t) * py
    viable = (u / 6.572444406100036) ** 2 + (w / 5.8856778888475745) ** 2 + (pz / 6.368771617302443) ** 2 <= 1.0
    spacing = tuple(spacing)
    m = measure_lesion(_lv(lesion, spacing), 1, viable=_lv(viable, spacing))
    assert 0.0 < m.viable_short_axis_mm <= m.viable_diameter_mm
    d = np.diff(np.asarray(m.viable_endpoints_lps), axis=0)[0]
    s = np.diff(np.asarray(m.viable_sa_endpoints_lps), axis=0)[0]
    assert abs(d @ s) <= 1e-6 * np.linalg.norm(d) * np.linalg.norm(s)   # still perpendicular


def test_sample_lesion_viable_short_axis_not_above_viable_diameter(sample_dir=None) -> None:
    """The bundled sample's baseline L3 (viable 9.94 x 8.94 mm in truth.json) gave a viable
    short axis 9.82 mm above its viable diameter 9.47 mm."""
    from pathlib import Path

    from hcc_imaging.io.masks import load_mask

    root = Path(__file__).resolve().parents[2] / "sample_data" / "liver_phantom" / "baseline" / "masks"
    les, via = load_mask(root / "lesions.nii.gz"), load_mask(root / "viable.nii.gz")
    m = measure_lesion(les, 3, viable=via)
    assert m.viable_short_axis_mm <= m.viable_diameter_mm
    assert abs(m.viable_diameter_mm - 9.938) <= 0.7


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rim_exclusion_mm": float("nan")}, "rim_exclusion_mm=nan: must be a finite number >= 0"),
        ({"rim_exclusion_mm": -1.0}, "rim_exclusion_mm=-1.0: must be a finite number >= 0"),
        ({"viable_gap_voxels": float("nan")}, "viable_gap_voxels=nan"),
        ({"viable_gap_voxels": -3}, "viable_gap_voxels=-3"),
        ({"rim_exclusion_mm": 1.5}, r"less than twice the in-plane pixel spacing \(1 x 1 mm\).*at least 2 mm"),
    ],
)
def test_viable_parameters_refused(kwargs, match) -> None:
    """A NaN raised numpy's bare ValueError (rim) or was accepted (gap, as was -3), and a rim
    thickness under two pixels silently removed nothing."""
    from hcc_imaging.measure import ViableParameterError

    z, y, x = _grid(12.0, (1.0, 1.0, 1.0))
    lesion = z * z + y * y + x * x <= 100.0
    with pytest.raises(ViableParameterError, match=match):
        measure_lesion(_lv(lesion, (1.0, 1.0, 1.0)), 1, viable=_lv(lesion, (1.0, 1.0, 1.0)), **kwargs)


def test_rim_exclusion_at_two_pixels_removes_a_one_voxel_shell() -> None:
    """The smallest accepted rim thickness (two in-plane pixels) does remove a one-voxel shell."""
    from scipy import ndimage

    z, y, x = _grid(18.0, (1.0, 1.0, 1.0))
    lesion = z * z + y * y + x * x <= 18.0**2
    shell = lesion & ~ndimage.binary_erosion(lesion, structure=ndimage.generate_binary_structure(3, 1))
    m = measure_lesion(_lv(lesion, (1.0, 1.0, 1.0)), 1, viable=_lv(shell, (1.0, 1.0, 1.0)), rim_exclusion_mm=2.0)
    assert m.viable_diameter_mm == 0.0


def test_viable_outside_lesions_counts_the_voxels_outside_every_lesion() -> None:
    """Per viable label value, the voxels outside every lesion: a viable part inside its lesion, or
    inside another lesion (a one-value viable mask), is not outside; a shifted one is, above the
    named fraction (VIABLE_OUTSIDE_MAX_FRACTION) only."""
    from hcc_imaging.measure.constants import VIABLE_OUTSIDE_MAX_FRACTION
    from hcc_imaging.measure.viable import viable_outside_lesions

    lab = np.zeros((4, 40, 40), np.uint8)
    lab[:, 5:15, 5:15] = 1
    lab[:, 25:35, 25:35] = 2
    labels = LabelVolume.create(lab, spacing=(2.0, 1.0, 1.0), labels={1: "L1", 2: "L2"})
    inside = np.where(lab > 0, 1, 0).astype(np.uint8)  # one value for both lesions
    assert viable_outside_lesions(labels, LabelVolume.create(inside, spacing=(2.0, 1.0, 1.0))) == {}
    shifted = np.zeros_like(lab)
    shifted[:, 5:15, 10:20] = 1  # half of it outside L1
    shifted[:, 25:35, 25:35] = 2
    shifted[:, 24, 25:29] = 2  # 4 of 104 voxels per slice outside L2: below the fraction
    got = viable_outside_lesions(labels, LabelVolume.create(shifted, spacing=(2.0, 1.0, 1.0)))
    assert got == {"L1": (4 * 50, 4 * 100)} and 4 / 104 < VIABLE_OUTSIDE_MAX_FRACTION
    stray = np.zeros_like(lab)
    stray[:, 20, 20] = 7
    assert viable_outside_lesions(labels, LabelVolume.create(stray, spacing=(2.0, 1.0, 1.0))) == {"viable label 7": (4, 4)}

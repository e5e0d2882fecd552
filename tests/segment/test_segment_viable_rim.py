"""viable_mask step 5 (the reactive rim, segment/_viable_rim.py) on small synthetic scenes: a thin
bright rim is never viable on fine grids, a small HCC on 2 thick slices is (issue 5 item 3)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage as ndi

from hcc_imaging.segment import ViableParams, viable_mask
from hcc_imaging.segment._viable_rim import rim_band_mm, rim_element, rim_slice_axis
from hcc_imaging.volume import Geometry, LabelVolume, Volume

from ._phantom import blurred_arterial_pair, centred_grid


def _scene(spacing: tuple[float, float, float], radius_mm: float, rim_mm: float | None, rim_hu: float,
           box_mm: float, z_offset_mm: float = 0.0, seed: int = 0) -> tuple[Volume, Volume, LabelVolume]:
    """A sphere (radius_mm): enhancing (rim_hu) throughout, or only in an outer rim rim_mm thick around a
    necrotic (25 HU) core; liver 70 HU arterial / 55 HU pre-contrast; 1 mm blur, 15 HU noise."""
    rng = np.random.default_rng(seed)
    g, z, y, x = centred_grid(spacing, box_mm, z_offset_mm)
    r = np.sqrt(x * x + y * y + z * z)
    les = r < radius_mm
    art = np.full(les.shape, 70.0)
    pre = np.full(les.shape, 55.0)
    art[les], pre[les] = rim_hu, 40.0
    if rim_mm is not None:
        core = r < radius_mm - rim_mm
        art[core], pre[core] = 25.0, 25.0
    return blurred_arterial_pair(art, pre, les, g, rng)


@pytest.mark.parametrize(("spacing", "rim_mm", "rim_hu"), [
    ((1.5, 0.68, 0.68), 1.5, 150.0),  # 1.57: 687-2715 mm3 viable, viable diameter 11.5-14 mm
    ((1.0, 0.7, 0.7), 2.0, 190.0),
])
def test_a_thin_bright_rim_on_a_fine_grid_is_not_viable(spacing: tuple[float, float, float], rim_mm: float,
                                                        rim_hu: float) -> None:
    art, pre, les = _scene(spacing, 12.0, rim_mm, rim_hu, box_mm=56.0)
    v = viable_mask(les, art, pre_contrast=pre)
    assert not v.array.any(), f"{int(v.array.sum())} rim voxels called viable"


def test_a_nodule_on_the_rim_stays_viable_on_a_fine_grid() -> None:
    """A 10 mm enhancing nodule in the necrosis, touching the 1.5 mm rim: viable, the rim away from it not."""
    spacing = (1.5, 0.68, 0.68)
    art, pre, les = _scene(spacing, 12.0, 1.5, 150.0, box_mm=56.0)
    n = les.shape
    k, j, i = np.indices(n, dtype=float)
    z = (k - (n[0] - 1) / 2) * spacing[0]
    y = (j - (n[1] - 1) / 2) * spacing[1]
    x = (i - (n[2] - 1) / 2) * spacing[2] - 6.0
    nod = (np.sqrt(x * x + y * y + z * z) < 5.0) & (les.array > 0)
    nod_blur = ndi.gaussian_filter(nod.astype(float), [1.0 / s for s in spacing])
    a = art.array + np.float32(1.0) * (120.0 - 25.0) * nod_blur.astype(np.float32)
    art = Volume(array=a.astype(np.float32), geometry=art.geometry, frame_of_reference_uid="1.2.3")
    v = viable_mask(les, art, pre_contrast=pre).array > 0
    # the enhancing nodule as step 2 sees it (no rim rule): the rim rule keeps it
    v0 = viable_mask(les, art, pre_contrast=pre, params=ViableParams(rim_max_thickness_mm=0)).array > 0
    assert (v & nod).sum() >= 0.95 * (v0 & nod).sum() > 0.5 * nod.sum()
    r = np.sqrt(((i - (n[2] - 1) / 2) * spacing[2]) ** 2 + y * y + z * z)
    far_rim = (r > 10.5) & (x < -8.0)  # the rim on the side away from the nodule
    assert not (v & far_rim).any()


@pytest.mark.parametrize(("diameter_mm", "z_offset_mm"), [(16.0, 2.5), (12.0, 2.5), (12.0, 0.0)])
def test_a_small_hcc_on_two_or_three_thick_slices_is_viable(diameter_mm: float, z_offset_mm: float) -> None:
    """5 mm slices: 1.57 needed 3 slices of nodule (fu2's 16 mm L9: 0 of 63 voxels viable)."""
    art, pre, les = _scene((5.0, 0.78, 0.78), diameter_mm / 2, None, 130.0, box_mm=56.0, z_offset_mm=z_offset_mm)
    v = viable_mask(les, art, pre_contrast=pre)
    assert (v.array > 0).sum() >= 0.95 * (les.array > 0).sum()


def test_a_rim_cap_on_thick_slices_is_not_viable() -> None:
    """5 mm slices: the rim's tangential cap fills the lesion's end slice in-plane; it is no nodule."""
    for z_offset_mm in (0.0, 2.5):
        art, pre, les = _scene((5.0, 0.78, 0.78), 12.0, 2.0, 150.0, box_mm=60.0, z_offset_mm=z_offset_mm)
        v = viable_mask(les, art, pre_contrast=pre)
        assert not v.array.any(), z_offset_mm


@pytest.mark.parametrize("spacing", [(1.5, 0.68, 0.68), (1.0, 0.7, 0.7), (3.0, 2.3, 2.3), (2.5, 0.7, 0.7)])
def test_the_rim_element_is_wider_than_the_rim_band_along_every_direction(spacing: tuple[float, float, float]) -> None:
    band = rim_band_mm(2.0, 1.0)
    el = rim_element(2.0, 1.0, spacing)
    assert el is not None
    pts = (np.argwhere(el) - (np.asarray(el.shape) - 1) / 2) * np.asarray(spacing)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(4000, 3))
    if el.shape[0] == 1:  # slices thicker than the band: an in-plane element (caps: remove_rim's own test)
        assert spacing[0] > band
        u[:, 0] = 0.0
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    proj = pts @ u.T
    assert (proj.max(0) - proj.min(0)).min() > band
    assert rim_element(0.0, 1.0, spacing) is None


def _stored(x: Volume | LabelVolume, perm: tuple[int, int, int],
            flips: tuple[bool, bool, bool]) -> Volume | LabelVolume:
    """``x`` in another array layout: axes flipped, then permuted, the geometry following (every voxel
    keeps its patient position), as a series stored as coronal or sagittal slices is."""
    arr = np.asarray(x.array)
    d = np.asarray(x.direction, float).copy()
    for ax, f in enumerate(flips):
        if f:
            arr = np.flip(arr, axis=ax)
            d[:, ax] = -d[:, ax]
    origin = x.geometry.index_to_lps(np.array([x.shape[a] - 1 if f else 0 for a, f in enumerate(flips)], float))
    arr = np.ascontiguousarray(np.transpose(arr, perm))
    geom = Geometry(shape=arr.shape, spacing=tuple(x.spacing[p] for p in perm), origin=tuple(origin),
                    direction=d[:, list(perm)])
    return replace(x, array=arr, geometry=geom)


def _unstored(arr: np.ndarray, perm: tuple[int, int, int], flips: tuple[bool, bool, bool]) -> np.ndarray:
    a = np.transpose(arr, np.argsort(perm))
    return np.flip(a, axis=tuple(ax for ax, f in enumerate(flips) if f)) if any(flips) else a


#: axial (as acquired), coronal slices (S in the rows, as the tester's arch_cor), sagittal, reversed
LAYOUTS = [((1, 0, 2), (False, False, False)), ((2, 1, 0), (False, False, True)), ((1, 2, 0), (True, True, False))]


@pytest.mark.parametrize(("perm", "flips"), LAYOUTS, ids=["coronal", "sagittal", "coronal-reversed"])
def test_the_same_lesion_stored_as_coronal_slices_gives_the_same_viable_voxels(
        perm: tuple[int, int, int], flips: tuple[bool, bool, bool]) -> None:
    """The thick-slice rule's slice axis is found in the patient (along S), not as array axis 0.
    Until 2026-12-06 an axial 5 mm series stored as coronal or sagittal slices (0.78 mm apart) got the
    3-D element, 3 slices along S: a 12 mm HCC on 2 slices lost every viable voxel there (the
    sample phantom's L7 on 3 mm slices: 33 of 167)."""
    art, pre, les = _scene((5.0, 0.78, 0.78), 6.0, None, 130.0, box_mm=56.0, z_offset_mm=2.5)
    axial = viable_mask(les, art, pre_contrast=pre).array
    assert (axial > 0).sum() >= 0.95 * (les.array > 0).sum()
    v = viable_mask(_stored(les, perm, flips), _stored(art, perm, flips), pre_contrast=_stored(pre, perm, flips))
    assert np.array_equal(_unstored(np.asarray(v.array), perm, flips), axial)


def test_the_slice_axis_is_found_in_the_patient() -> None:
    """Along S when S is sampled coarser than the band (whatever its array axis, its spacing read from
    slice positions or not); else the only coarse axis (a coronal acquisition's thick slices); none
    on a fine grid, nor with S fine and two coarse axes (3-D, as before)."""
    band = rim_band_mm(2.0, 1.0)
    cor = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # rows run S -> I, as arch_cor
    assert rim_slice_axis(band, (3.0, 2.3, 2.3)) == 0
    assert rim_slice_axis(band, (2.299999999999997, 3.0, 2.3), cor) == 1
    assert rim_slice_axis(band, (2.299999999999997, 2.999999999999997, 2.3), cor) == 1
    assert rim_slice_axis(band, (5.0, 0.8, 0.8), cor) == 0  # thick coronal slices, S in-plane at 0.8 mm
    assert rim_slice_axis(band, (1.0, 0.7, 0.7)) is None
    assert rim_slice_axis(band, (2.0, 3.2, 3.2)) is None
    ax = rim_element(2.0, 1.0, (3.0, 2.3, 2.3))
    co = rim_element(2.0, 1.0, (2.299999999999997, 3.0, 2.3), cor)
    assert ax is not None and co is not None and ax.shape[0] == 1
    assert np.array_equal(co, np.moveaxis(ax, 0, 1))

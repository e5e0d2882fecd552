"""ellipsoid_lesion: analytic truth vs closed forms, dense sampling and the voxelised mask."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcc_imaging.phantoms import Ellipsoid, PhantomError, ellipsoid_lesion
from hcc_imaging.volume import AXIAL_DIRECTION, Geometry


def _rot(axis: int, deg: float) -> np.ndarray:
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


OBLIQUE = _rot(0, 20) @ _rot(1, 15)


@pytest.mark.parametrize(
    ("radii", "spacing", "offset", "rot"),
    [
        pytest.param((5, 5, 5), (0.5, 0.5, 0.5), (0, 0, 0), 0.0, id="sphere-10mm-iso-0.5"),
        pytest.param((5, 6, 7), (1.0, 0.7, 0.7), (0.3, 0.25, -0.4), 0.0, id="ellipsoid-12mm-aniso-subvoxel"),
        pytest.param((8, 12, 9), (1.0, 0.8, 0.8), (0.5, 0.5, 0.5), 33.0, id="inplane-rot-33deg"),
        pytest.param((15, 20, 12), (2.5, 0.8, 0.8), (0.2, 0.0, 0.1), 60.0, id="large-2.5mm-slices"),
        pytest.param((9, 14, 7), (1.0, 0.9, 0.9), (0.1, 0.2, 0.3), _rot(1, 25) @ _rot(0, 40), id="3d-rotation"),
    ],
)
def test_mask_volume_within_2pct_of_analytic(radii, spacing, offset, rot) -> None:
    vol, lab, truth = ellipsoid_lesion(radii, spacing, centre_offset_vox=offset, rotation_deg=rot)
    assert truth.volume_mm3 == pytest.approx(4 / 3 * math.pi * np.prod(radii))
    assert truth.mask_volume_mm3 == pytest.approx(truth.volume_mm3, rel=0.02)
    assert truth.feret_mm == pytest.approx(2 * max(radii))
    # mask and image agree: inside voxels carry inside_hu
    assert np.all(vol.array[lab.array == 1] == 120)
    assert np.all(vol.array[lab.array == 0] == 60)


@pytest.mark.parametrize(
    ("radii", "spacing", "offset"),
    [
        pytest.param((6, 10, 8), (2.0, 0.7, 0.7), (0.0, 0, 0), id="centred-on-slice"),
        pytest.param((6, 10, 8), (2.0, 0.7, 0.7), (0.5, 0, 0), id="half-slice-off"),
        pytest.param((4, 12, 15), (5.0, 0.8, 0.8), (0.37, 0, 0), id="thick-slices-offset"),
    ],
)
def test_ld_on_sampled_slices_matches_closed_form(radii, spacing, offset) -> None:
    # axis-aligned: the section at distance dz is an ellipse scaled by sqrt(1 - (dz/rz)^2)
    _, _, truth = ellipsoid_lesion(radii, spacing, centre_offset_vox=offset)
    dz = min(abs((offset[0] + n) * spacing[0]) for n in range(-5, 6))
    scale = math.sqrt(1 - (dz / radii[0]) ** 2)
    assert truth.longest_diameter_mm == pytest.approx(2 * max(radii[1:]) * scale, rel=1e-9)
    assert truth.short_axis_mm == pytest.approx(2 * min(radii[1:]) * scale, rel=1e-9)
    a, b = np.asarray(truth.ld_endpoints_lps)
    assert np.linalg.norm(a - b) == pytest.approx(truth.longest_diameter_mm)


@pytest.mark.parametrize(
    "direction",
    [pytest.param(AXIAL_DIRECTION, id="axial"), pytest.param(OBLIQUE, id="oblique-grid")],
)
def test_ld_matches_dense_surface_sampling(direction) -> None:
    """Independent check: points of the ellipsoid surface lying in the LD slice plane."""
    rot = _rot(1, 30) @ _rot(2, 20)
    vol, _, truth = ellipsoid_lesion((7, 13, 9), (1.5, 0.7, 0.7), direction=direction, rotation_deg=rot,
                                     centre_offset_vox=(0.3, 0.1, 0.2))
    ell = Ellipsoid(np.asarray(truth.centre_lps), np.asarray(truth.radii_mm), np.asarray(truth.axes_lps).T)
    pts = ell.surface_points(400_000)
    geom: Geometry = vol.geometry
    n = np.asarray(geom.direction)[:, 0]
    plane = geom.index_to_lps([truth.ld_slice, 0, 0])
    near = pts[np.abs((pts - plane) @ n) < 0.02]
    assert len(near) > 50
    d = np.sqrt(((near[:, None, :] - near[None, :, :]) ** 2).sum(-1)).max()
    assert d == pytest.approx(truth.longest_diameter_mm, rel=0.01)
    # no other sampled slice has a longer section
    for k in range(vol.shape[0]):
        sec = ell.section(geom, k)
        assert sec is None or sec[0] <= truth.longest_diameter_mm + 1e-9


def test_voxel_centre_ld_within_one_voxel_of_truth() -> None:
    _, lab, truth = ellipsoid_lesion((6, 11, 8), (2.0, 0.75, 0.75), rotation_deg=27.0, centre_offset_vox=(0.2, 0.3, 0.1))
    pts = np.argwhere(lab.array[truth.ld_slice] == 1) * np.array([0.75, 0.75])
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max()
    assert truth.longest_diameter_mm - 0.75 * math.sqrt(2) <= d <= truth.longest_diameter_mm


def test_deterministic_and_seeded_noise() -> None:
    a = ellipsoid_lesion((5, 6, 7), (1, 1, 1), noise_sd_hu=10, seed=3)
    b = ellipsoid_lesion((5, 6, 7), (1, 1, 1), noise_sd_hu=10, seed=3)
    c = ellipsoid_lesion((5, 6, 7), (1, 1, 1), noise_sd_hu=10, seed=4)
    assert np.array_equal(a[0].array, b[0].array) and np.array_equal(a[1].array, b[1].array)
    assert a[2] == b[2]
    assert not np.array_equal(a[0].array, c[0].array)
    assert a[0].array.dtype == np.int16


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"radii_mm": (10, 10, 10), "spacing": (1, 1, 1), "shape": (5, 5, 5)}, "does not fit", id="too-small-grid"),
        pytest.param({"radii_mm": (5, 5, 5), "spacing": (1, 1, 1), "rotation_deg": np.ones((3, 3))}, "rotation matrix", id="bad-rotation"),
        pytest.param({"radii_mm": (5, 0, 5), "spacing": (1, 1, 1)}, "radii must be finite and > 0", id="zero-radius"),
    ],
)
def test_errors(kwargs, match) -> None:
    with pytest.raises(PhantomError, match=match):
        ellipsoid_lesion(**kwargs)


def test_ellipsoid_axes_must_be_orthonormal() -> None:
    with pytest.raises(PhantomError, match="orthonormal"):
        Ellipsoid(np.zeros(3), np.ones(3), np.ones((3, 3)))

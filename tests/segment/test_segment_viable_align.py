"""A lesion drawn on the portal venous phase, its viable part read on an arterial phase taken in
another breath hold (segment/viable_align.py; issue 5 item 3, the CLI's ``--viable-out``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from hcc_imaging.segment import viable_mask
from hcc_imaging.segment.viable_align import lesions_on_arterial
from hcc_imaging.volume import AXIAL_DIRECTION, Geometry, LabelVolume, Phase, Volume


def _phases(shift_z_mm: float) -> tuple[Volume, Volume, LabelVolume]:
    """Portal venous (lesion 60 HU in liver 100) and arterial (lesion 130 in liver 70) phases of a
    12 mm-radius HCC beside a 4 mm vessel, 2 mm voxels, the arterial moved shift_z_mm along z."""
    sp = (2.0, 2.0, 2.0)
    n = (36, 36, 36)
    g = Geometry(shape=n, spacing=sp, origin=(-35.0, -35.0, -35.0), direction=AXIAL_DIRECTION)
    k, j, i = np.indices(n, dtype=float) * 2.0 - 35.0

    def scene(dz: float, liver: float, lesion: float, vessel: float, seed: int) -> np.ndarray:
        z = k - dz
        les = np.sqrt(i * i + j * j + z * z) < 12.0
        ves = np.hypot(i - 20.0, z + 10.0) < 4.0
        a = np.full(n, liver)
        a[les], a[ves] = lesion, vessel
        a = ndi.gaussian_filter(a, 0.5) + np.random.default_rng(seed).normal(0, 10, n)
        return a.astype(np.float32)

    pv = Volume(array=scene(0.0, 100.0, 60.0, 180.0, 0), geometry=g, frame_of_reference_uid="1.2.3",
                series_instance_uid="1.2.3.1", phase=Phase.PORTAL_VENOUS)
    art = Volume(array=scene(shift_z_mm, 70.0, 130.0, 250.0, 1), geometry=g, frame_of_reference_uid="1.2.3",
                 series_instance_uid="1.2.3.2", phase=Phase.ARTERIAL)
    les = np.sqrt(i * i + j * j + k * k) < 12.0
    lab = LabelVolume(array=les.astype(np.uint8), geometry=g, labels={1: "L1"}, frame_of_reference_uid="1.2.3")
    return pv, art, lab


def test_a_lesion_is_moved_onto_an_arterial_phase_from_another_breath_hold() -> None:
    pv, art, lab = _phases(8.0)
    whole = int(lab.array.sum())
    # by geometry alone (1.57's CLI) the mask covers parenchyma on one side: far less than the lesion
    by_geometry = int((viable_mask(lab, art).array != 0).sum())
    assert by_geometry < 0.8 * whole
    moved, notes, record = lesions_on_arterial(lab, pv, art, source_name="portal_venous")
    # (ITK convention: an arterial point p is the portal venous point p + t, so t is -8 mm along S)
    assert record["moved"] and abs(record["translation_mm"][2] + 8.0) < 1.0
    assert len(notes) == 1 and "moved onto it" in notes[0] and "portal_venous" in notes[0]
    assert int((viable_mask(moved, art).array != 0).sum()) >= 0.9 * whole


def test_aligned_phases_leave_the_lesion_where_it_is() -> None:
    pv, art, lab = _phases(0.0)
    moved, notes, record = lesions_on_arterial(lab, pv, art, source_name="portal_venous")
    assert notes == [] and record["moved"] is False
    assert np.array_equal(moved.array, lab.array)
    same, notes, record = lesions_on_arterial(lab, art, art)
    assert notes == [] and record == {}

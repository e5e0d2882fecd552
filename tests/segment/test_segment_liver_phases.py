"""Liver segmentation on every phase of a study: the multi-phase path (segment on the best liver
phase, carry the mask to the requested grid) and the single low-contrast phase (unenhanced,
arterial: liver only ~15 HU above the soft tissue), which is segmented when its histogram
resolves the liver from the soft tissue and refused with a clear LowContrastError otherwise.
Dice against the phantom truth (``study.liver``, which includes the intrahepatic lesions)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import ndimage

from hcc_imaging.phantoms import TISSUE_HU, make_study
from hcc_imaging.segment import LowContrastError, SegmentationError, segment_liver
from hcc_imaging.volume import Geometry, Volume, resample_volume

from ._phantom import dice


@functools.lru_cache(maxsize=2)
def _study(seed: int = 1, timepoint: str = "fu1"):  # type: ignore[no-untyped-def]
    return make_study(seed, timepoint)


@pytest.mark.parametrize("phase", ["pre_contrast", "arterial", "delayed"])
def test_study_liver_is_segmented_on_portal_venous_and_carried(phase: str) -> None:
    """Main before: segment_liver(study, phase="pre_contrast") segmented the unenhanced image
    itself (Dice 0.38, or a refusal); now it is the portal-venous mask on that phase's grid."""
    st = _study()
    lv = segment_liver(st.volumes, phase=phase)
    assert lv.meta["phase"] == "portal_venous"
    assert lv.meta["segmented_series_instance_uid"] == st.volumes["portal_venous"].series_instance_uid
    assert lv.meta["carried_to"]["phase"] == phase
    assert lv.meta["carried_to"]["series_instance_uid"] == st.volumes[phase].series_instance_uid
    assert lv.geometry.equals(st.volumes[phase].geometry)
    assert lv.frame_of_reference_uid == st.volumes[phase].frame_of_reference_uid
    assert dice(lv.array, st.liver.array) >= 0.96  # measured 0.972 (seeds 0-2, baseline / fu1: 0.971-0.974)
    pv = segment_liver(st.volumes)  # same grid here: the very same mask
    assert "carried_to" not in pv.meta
    assert np.array_equal(lv.array, pv.array)


def test_mask_is_carried_by_geometry_to_another_grid() -> None:
    """The requested phase on a different grid (2 mm slices, shifted field of view), same frame
    of reference: the mask lands on that grid, where it matches the truth resampled there."""
    st = _study()
    art = st.volumes["arterial"]
    g = art.geometry
    geom = Geometry(shape=(60, 140, 150), spacing=(2.0, 2.5, 2.3),
                    origin=tuple(np.asarray(g.origin) + np.array([10.0, -5.0, 4.0])), direction=g.direction)  # type: ignore[arg-type]
    moved = resample_volume(art, geom, interpolation="linear", default_hu=-1000.0)
    assert moved.frame_of_reference_uid == art.frame_of_reference_uid
    vols = {**st.volumes, "arterial": moved}
    lv = segment_liver(vols, phase="arterial")
    assert lv.meta["phase"] == "portal_venous" and lv.meta["carried_to"]["phase"] == "arterial"
    assert lv.geometry.equals(geom)
    truth = st.liver.resample_to(geom)
    assert dice(lv.array, truth.array) >= 0.95  # measured 0.975


def test_segment_on_and_frames_of_reference() -> None:
    st = _study()
    own = segment_liver(st.volumes, phase="arterial", segment_on="arterial")
    assert own.meta["phase"] == "arterial" and "carried_to" not in own.meta
    assert own.meta["low_contrast"] is not None
    other = {**st.volumes, "arterial": Volume(array=st.volumes["arterial"].array, geometry=st.volumes["arterial"].geometry,
                                               phase="arterial", frame_of_reference_uid="1.2.3.4")}
    # the best phase in the arterial series' own frame of reference is the arterial one itself
    lv = segment_liver(other, phase="arterial")
    assert lv.meta["phase"] == "arterial" and "carried_to" not in lv.meta
    with pytest.raises(SegmentationError, match="not in one frame of reference"):
        segment_liver(other, phase="arterial", segment_on="portal_venous")
    with pytest.raises(SegmentationError, match="segment_on phase 'hepatobiliary' not among"):
        segment_liver(st.volumes, segment_on="hepatobiliary")


@pytest.mark.parametrize(("phase", "floor"), [("pre_contrast", 0.95), ("arterial", 0.91)])
@pytest.mark.parametrize("seed", [0, 2])
def test_single_low_contrast_phase(phase: str, floor: float, seed: int) -> None:
    """One unenhanced or arterial series alone: main gave Dice 0.38-0.39 (the histogram mode was
    the soft tissue, 15 HU below the liver, and the window held both) or refused a speck.  The
    contrast check finds the liver's own peak (the one mainly on the patient's right) and
    segments on 2 mm smoothing, where the two peaks are resolved."""
    st = make_study(seed, "baseline")
    lv = segment_liver(st.volumes[phase])
    liver_hu = {"pre_contrast": TISSUE_HU["liver"][0], "arterial": TISSUE_HU["liver"][1]}[phase]
    soft_hu = {"pre_contrast": TISSUE_HU["soft_tissue"][0], "arterial": TISSUE_HU["soft_tissue"][1]}[phase]
    low = lv.meta["low_contrast"]
    assert low is not None and low["smoothing_sigma_mm"] == 2.0
    assert abs(low["liver_peak_hu"] - liver_hu) <= 3.0 and abs(low["neighbour_peak_hu"] - soft_hu) <= 3.0
    assert soft_hu < lv.meta["window_hu"][0] < liver_hu
    # measured: pre-contrast 0.964-0.967, arterial 0.927-0.935 (seeds 0-2, baseline / fu1)
    assert dice(lv.array, st.liver.array) >= floor


def test_portal_venous_skips_the_low_contrast_path() -> None:
    lv = segment_liver(_study().volumes["portal_venous"])
    assert lv.meta["low_contrast"] is None


def test_seed_on_a_low_contrast_phase() -> None:
    st = _study()
    seed = st.liver.index_to_lps(np.argwhere(st.liver.array).mean(axis=0))
    lv = segment_liver(st.volumes["pre_contrast"], seed_lps=seed)
    assert lv.meta["low_contrast"] is not None
    assert dice(lv.array, st.liver.array) >= 0.95  # measured 0.966 (main, seed 2 baseline: 0.383)


def test_noisier_phase_gets_more_smoothing() -> None:
    """At 25 HU noise 2 mm smoothing does not resolve the 15 HU liver/soft-tissue contrast, 3 mm
    does (main: a refused speck)."""
    st = make_study(0, "baseline", noise_sd_hu=25.0)
    lv = segment_liver(st.volumes["pre_contrast"])
    assert lv.meta["low_contrast"]["smoothing_sigma_mm"] == 3.0
    assert dice(lv.array, st.liver.array) >= 0.93  # measured 0.950


@functools.lru_cache(maxsize=1)
def _tissue_study():  # type: ignore[no-untyped-def]
    return make_study(0, "baseline", noise_sd_hu=0.0, psf_sigma_mm=0.0)


def _pre_with_liver_at(liver_hu: float) -> Volume:
    """make_study's unenhanced phase with the liver parenchyma (55 HU) moved to ``liver_hu``
    (soft tissue 40 HU), then the phantom's 1 mm blur and 15 HU noise."""
    pre = _tissue_study().volumes["pre_contrast"]
    a = pre.array.astype(np.float32)
    a[pre.array == TISSUE_HU["liver"][0]] = liver_hu
    a = ndimage.gaussian_filter(a, [1.0 / s for s in pre.spacing]) + np.random.default_rng(1).normal(0.0, 15.0, a.shape)
    return pre.with_array(np.rint(a).astype(np.int16))


@pytest.mark.parametrize(
    ("liver_hu", "match"),
    [
        pytest.param(40.0, "no bulky tissue between 35 and 80 HU lies mainly on the patient's right", id="iso-dense"),
        pytest.param(44.0, r"histogram peak \(4\d HU\) is not resolved from the neighbouring tissue's \(40 HU", id="4HU"),
    ],
)
def test_too_low_contrast_is_refused_not_returned(liver_hu: float, match: str) -> None:
    """Liver iso-dense to the soft tissue (main: a wrong mask, Dice 0.37, returned silently) or
    4 HU above it (not resolved even after 4 mm smoothing): a LowContrastError that names the
    series and the fix."""
    vol = _pre_with_liver_at(liver_hu)
    with pytest.raises(LowContrastError, match=match) as err:
        segment_liver(vol)
    msg = str(err.value)
    assert vol.series_instance_uid is not None and vol.series_instance_uid in msg
    assert "contrast is too low for the classical window" in msg
    assert "portal-venous" in msg and "{phase: Volume}" in msg


def test_low_but_resolved_contrast_is_segmented() -> None:
    """Liver 10 HU above the soft tissue: resolved after 3 mm smoothing."""
    vol = _pre_with_liver_at(50.0)
    lv = segment_liver(vol)
    assert lv.meta["low_contrast"]["smoothing_sigma_mm"] == 3.0
    assert dice(lv.array, _tissue_study().liver.array) >= 0.93  # measured 0.945


def test_real_ct_with_a_second_right_sided_peak_is_left_alone(shared_data) -> None:  # type: ignore[no-untyped-def]
    """dcmqi's 3-slice liver CT (real, ~55 HU liver): its right half has two bulky peaks, 41.5
    and 57 HU, both mainly on the right (right/left 4.4 and 15), unresolved even at 4 mm.  A
    first version of the check counted the 41.5 HU peak as the soft tissue and refused the case;
    only bilateral peaks count now, and the mask is main's, voxel for voxel (Dice 0.737)."""
    from hcc_imaging.io import load_series
    from hcc_imaging.io.masks import load_mask

    d = shared_data / "dcmqi_liver_ct3slice"
    ct = load_series(d / "ct")
    lv = segment_liver(ct)
    assert lv.meta["low_contrast"] is None
    assert dice(lv.array, load_mask(d / "seg" / "liver_seg.dcm", ct).array) >= 0.73


def test_low_contrast_phase_without_its_phase_label() -> None:
    """An unenhanced series whose phase is unknown (a NIfTI file on the command line): the check
    reads the image, not the label (measured 0.964, seed 0 baseline)."""
    st = make_study(0, "baseline")
    lv = segment_liver(st.volumes["pre_contrast"].with_phase("unknown"))
    assert lv.meta["low_contrast"] is not None
    assert dice(lv.array, st.liver.array) >= 0.95

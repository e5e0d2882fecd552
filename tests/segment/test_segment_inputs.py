"""Inputs the segmentation library must refuse with a clear error instead of a wrong mask or a
crash deep inside: non-finite or out-of-range parameters."""

from __future__ import annotations

import math

import pytest

from hcc_imaging.segment import LesionParams, ViableParams
from hcc_imaging.segment.errors import SegmentationError

NAN = float("nan")


@pytest.mark.parametrize("name", [
    "min_contrast_k_sigma", "expansion_max_mm", "ring_inner_mm", "roi_growth", "edge_band_mm",
    "parenchyma_sample_mm", "opening_radius_mm", "line_roi_factor", "line_clamp_factor", "smoothing_min_vox",
    "shell_nonparenchyma_fraction",
])
@pytest.mark.parametrize("value", [NAN, math.inf])
def test_lesion_params_refuse_non_finite(name: str, value: float) -> None:
    with pytest.raises(SegmentationError, match=rf"LesionParams\.{name} must be .* got (nan|inf)"):
        LesionParams(**{name: value})


@pytest.mark.parametrize("kw, field", [
    ({"iterations": 2.5}, "iterations"),
    ({"expansion_rounds": 2.0}, "expansion_rounds"),
    ({"iterations": True}, "iterations"),
    ({"opening_radius_mm": -1.0}, "opening_radius_mm"),
    ({"min_contrast_k_sigma": -0.5}, "min_contrast_k_sigma"),
    ({"roi_half_size_mm": 50.0, "roi_max_half_size_mm": 10.0}, "roi_max_half_size_mm"),
])
def test_lesion_params_refuse_out_of_range(kw: dict, field: str) -> None:
    with pytest.raises(SegmentationError, match=field):
        LesionParams(**kw)


@pytest.mark.parametrize("name", [
    "enhancement_vs_liver_hu", "enhancement_vs_pre_hu", "rim_max_thickness_mm", "min_volume_mm3",
    "lipiodol_margin_mm", "ring_inner_mm", "lipiodol_min_hu",
])
def test_viable_params_refuse_nan(name: str) -> None:
    with pytest.raises(SegmentationError, match=rf"ViableParams\.{name} must be .* got nan"):
        ViableParams(**{name: NAN})


def test_params_accept_documented_values() -> None:
    # inf turns the lipiodol exclusion off (MR); 0 turns the opening / rim removal off.
    assert ViableParams(lipiodol_min_hu=math.inf, rim_max_thickness_mm=0).lipiodol_min_hu == math.inf
    assert LesionParams(opening_radius_mm=0, fat_max_hu=None, iterations=3, min_contrast_k_sigma=0).iterations == 3
    with pytest.raises(SegmentationError, match="enhancement_vs_liver_hu"):
        ViableParams(enhancement_vs_liver_hu=math.inf)


def test_liver_of_another_frame_is_refused() -> None:
    """A follow-up's liver mask (another FrameOfReferenceUID) bounded the baseline's lesion and gave
    the viable tumour's parenchyma ring without a word; the phases of another frame were refused."""
    from hcc_imaging.errors import GeometryMismatchError
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import segment_lesion, viable_mask
    from hcc_imaging.volume import Phase

    b, f = make_study(0, "baseline"), make_study(0, "fu1")
    assert b.liver.frame_of_reference_uid != f.liver.frame_of_reference_uid
    with pytest.raises(GeometryMismatchError, match="liver mask .* frame of reference"):
        segment_lesion(dict(b.volumes), seed_lps=b.truth["lesions"]["L2"]["seed_lps"], liver=f.liver)
    with pytest.raises(GeometryMismatchError, match="liver mask .* frame of reference"):
        viable_mask(b.lesions, b.volumes[Phase.ARTERIAL], liver=f.liver)
    # the study's own liver still works
    assert viable_mask(b.lesions, b.volumes[Phase.ARTERIAL], liver=b.liver).array.any()

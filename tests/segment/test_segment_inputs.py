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
    "lipiodol_margin_mm", "ring_inner_mm", "lipiodol_min_hu", "grow_enhancement_vs_liver_hu", "grow_distance_mm",
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


def test_registration_refuses_a_mask_on_the_wrong_side() -> None:
    """``reg.resample_labels(baseline_mask, followup)`` with the baseline -> follow-up registration
    (masks swapped) put the lesion twice the shift away without a word; now refused, and
    ``inverse()`` maps that way."""
    import dataclasses

    import numpy as np

    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import lesion_centre_lps
    from hcc_imaging.segment.errors import RegistrationError
    from hcc_imaging.segment.register import Registration

    b, f = make_study(0, "baseline"), make_study(0, "fu1")
    shift = np.array([0.0, 0.0, 12.0])
    g = b.lesions.geometry
    fu = dataclasses.replace(b.lesions, geometry=dataclasses.replace(g, origin=tuple(np.asarray(g.origin) + shift)),
                             frame_of_reference_uid=f.lesions.frame_of_reference_uid)  # the baseline's lesions, table moved
    reg = Registration(kind="rigid", matrix=np.eye(3), translation_mm=tuple(shift), center_mm=(0.0, 0.0, 0.0),
                       fixed_frame_of_reference_uid=b.lesions.frame_of_reference_uid,
                       moving_frame_of_reference_uid=fu.frame_of_reference_uid)
    back = reg.resample_labels(fu, b.lesions)  # the right way: onto the baseline
    assert np.allclose(lesion_centre_lps(back, 3), lesion_centre_lps(b.lesions, 3), atol=0.6)
    with pytest.raises(RegistrationError, match=r"moving is in frame of reference .*inverse\(\)\.resample_labels"):
        reg.resample_labels(b.lesions, fu)
    with pytest.raises(RegistrationError, match=r"reference grid is in frame of reference .*inverse\(\)\.resample_volume"):
        reg.resample_volume(f.volumes[next(iter(f.volumes))], fu)
    there = reg.inverse().resample_labels(b.lesions, fu)
    assert np.allclose(lesion_centre_lps(there, 3), lesion_centre_lps(fu, 3), atol=0.6)
    # the phases of one study share their frame of reference: never refused
    same = Registration.identity(b.volumes[next(iter(b.volumes))], b.volumes[next(iter(b.volumes))])
    assert same.resample_labels(b.lesions, b.lesions).array.any()


def test_nan_voxels_near_the_click_are_refused() -> None:
    """NaN voxels in a float image (a NaN block in L2) changed the mask without a word, and a click on
    them still gave a mask; now refused, naming the phase and the first such voxel.  NaN far from the
    click (beyond the largest region of interest) does not stop it."""
    import dataclasses

    import numpy as np

    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import segment_lesion
    from hcc_imaging.volume import Phase

    b = make_study(0, "baseline")
    art = b.volumes[Phase.ARTERIAL]
    seed = b.truth["lesions"]["L2"]["seed_lps"]
    clean = segment_lesion(art, seed_lps=seed)
    k = art.geometry.lps_to_nearest_index(seed)
    a = art.array.astype(np.float32)
    a[k[0], k[1] - 3:k[1] + 3, k[2] + 2:k[2] + 6] = np.nan
    holed = dataclasses.replace(art, array=a)
    with pytest.raises(SegmentationError, match=r"arterial image .* 24 NaN or infinite voxels within \d+ mm of the click"):
        segment_lesion(holed, seed_lps=seed)
    with pytest.raises(SegmentationError, match="NaN"):
        segment_lesion({Phase.ARTERIAL: holed, Phase.PORTAL_VENOUS: b.volumes[Phase.PORTAL_VENOUS]}, seed_lps=seed)
    far = art.array.astype(np.float32)
    far[:, :, :1] = np.nan  # NaN padding in the image's first column, 133 mm from L2's click
    assert k[2] * art.spacing[2] > 100
    res = segment_lesion(dataclasses.replace(art, array=far), seed_lps=seed)
    assert np.array_equal(res.mask, clean.mask)


def test_phases_of_another_scan_are_refused_naming_both() -> None:
    """``segment_lesion({arterial: baseline, portal_venous: follow-up})``: the follow-up's phase (another
    frame of reference) was read at the click's point, in another body, without a word (a mask came
    back); so was a phase lying elsewhere altogether (NIfTI images carry no frame of reference).  Now a
    GeometryMismatchError names both phases, as the liver mask's and viable_mask's frame checks do;
    ``seed_point_lps`` too; the phases of one scan on different grids still segment."""
    import dataclasses

    import numpy as np

    from hcc_imaging.errors import GeometryMismatchError
    from hcc_imaging.phantoms import make_study
    from hcc_imaging.segment import seed_point_lps, segment_lesion
    from hcc_imaging.volume import Phase

    b, f = make_study(0, "baseline"), make_study(0, "fu1")
    seed = b.truth["lesions"]["L2"]["seed_lps"]
    art, fpv = b.volumes[Phase.ARTERIAL], f.volumes[Phase.PORTAL_VENOUS]
    assert art.frame_of_reference_uid != fpv.frame_of_reference_uid
    mixed = {Phase.ARTERIAL: art, Phase.PORTAL_VENOUS: fpv}
    with pytest.raises(GeometryMismatchError,
                       match=rf"not of one scan: the portal_venous image \(series {fpv.series_instance_uid}\) is in frame "
                             rf"of reference {fpv.frame_of_reference_uid}, the arterial image \(series "
                             rf"{art.series_instance_uid}\) in {art.frame_of_reference_uid}"):
        segment_lesion(mixed, seed_lps=seed)
    with pytest.raises(GeometryMismatchError, match="the arterial image .* the portal_venous image .* in "):
        segment_lesion(mixed, seed_lps=seed, phase="portal_venous")  # the phase asked for is the reference
    with pytest.raises(GeometryMismatchError, match="not of one scan"):
        seed_point_lps(mixed, seed_lps=seed)
    # no frame of reference (NIfTI), another place altogether
    g = art.geometry
    away = {ph: dataclasses.replace(v, frame_of_reference_uid=None) for ph, v in mixed.items()}
    away[Phase.PORTAL_VENOUS] = dataclasses.replace(
        b.volumes[Phase.PORTAL_VENOUS], frame_of_reference_uid=None,
        geometry=dataclasses.replace(g, origin=tuple(np.asarray(g.origin) + [0.0, 0.0, 900.0])))
    with pytest.raises(GeometryMismatchError, match=r"the portal_venous image .* does not overlap the arterial image"):
        segment_lesion(away, seed_lps=seed)
    # one scan's phases, one of them cropped (another grid): segmented as before
    own = {Phase.ARTERIAL: art, Phase.PORTAL_VENOUS: b.volumes[Phase.PORTAL_VENOUS].crop((5, 10, 10), (40, 140, 140))}
    res = segment_lesion(own, seed_lps=seed)
    assert res.mask.any()


def test_numeric_field_check_reads_the_type_names() -> None:
    """Only fields typed float / int are checked (a type whose name holds "int", e.g. ``Point``, is
    not), and a numeric field with no range is refused, so a new parameter cannot go unchecked."""
    from dataclasses import dataclass

    from hcc_imaging.segment._types import check_numeric_fields

    @dataclass
    class Point:
        x: float = 0.0

    @dataclass
    class P:
        where: Point
        size_mm: float = 1.0

    check_numeric_fields(P(Point()), {"size_mm": ("float", 0.0, False, math.inf, False)})
    with pytest.raises(SegmentationError, match=r"P\.size_mm has no allowed range"):
        check_numeric_fields(P(Point()), {})

"""``benchmarks/sweep_segment_study.py --slice-sub``: the study phantom with slices that average their
thickness (docs/validation.md section 2.2, "The study phantom with a slice profile").  The figures
there rest on this helper: the lesions must be the phantom's, the grid and the phases the same, and
only the slices' averaging may change the image."""

from __future__ import annotations


import numpy as np

from hcc_imaging.phantoms import make_study

from ._phantom import benchmark_module, dice

SWEEP = benchmark_module("sweep_segment_study")


def test_the_profile_changes_the_image_not_the_lesions() -> None:
    ref = make_study(0, timepoint="fu2", noise_sd_hu=0.0)
    st = SWEEP.slice_profile_study(0, "fu2", 0.0, (3.0, 2.3, 2.3), (44, 150, 150), 5)
    for lid, rec in ref.truth["lesions"].items():
        a = ref.lesions.array == rec["label"]
        if a.sum() > 50:
            assert dice(a, st.lesions.array == rec["label"]) >= 0.99, lid
    assert dice(ref.liver.array != 0, st.liver.array != 0) >= 0.99
    for phase, vol in ref.volumes.items():
        prof = st.volumes[phase]
        assert prof.geometry.equals(vol.geometry) and prof.array.dtype == np.int16
        diff = np.abs(prof.array.astype(np.int32) - vol.array)
        # the same values inside the tissues; the slices that cross a surface average it
        assert np.median(diff) == 0 and diff.max() > 50
    # the end slices of the 16 mm L9 (hyperenhancing on arterial) average a cap that narrows across
    # the slice: lower there than the values at the slice's centre, the same in its middle slice
    rec = ref.truth["lesions"]["L9"]
    m = ref.lesions.array == rec["label"]
    zs = np.where(m.any((1, 2)))[0]
    art = next(v for k, v in st.volumes.items() if str(k) == "arterial").array.astype(int)
    art0 = next(v for k, v in ref.volumes.items() if str(k) == "arterial").array.astype(int)
    for z in (zs.min(), zs.max()):
        assert (art[z][m[z]] - art0[z][m[z]]).mean() < -5
    mid = int(np.median(zs))
    core = m[mid] & (art0[mid] == np.max(art0[mid][m[mid]]))
    assert abs((art[mid][core] - art0[mid][core]).mean()) <= 3

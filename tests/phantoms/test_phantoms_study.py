"""make_study: anatomy, lesion kinds, truth vs masks, determinism, expected responses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcc_imaging.phantoms import (
    RIM_THICKNESS_MM,
    STUDY_PHASES,
    PhantomError,
    ellipsoid_lesion,
    expected_responses,
    make_study,
)
from hcc_imaging.volume import Phase


@pytest.fixture(scope="module")
def studies():
    return {tp: make_study(0, tp) for tp in ("baseline", "fu1", "fu2")}


def _mean(study, phase, mask) -> float:
    return float(study.volumes[phase].array[mask].mean())


def test_phases_share_grid_and_frame_of_reference(studies) -> None:
    st = studies["baseline"]
    assert set(st.volumes) == set(STUDY_PHASES)
    ref = st.volumes[Phase.PRE_CONTRAST]
    for v in st.volumes.values():
        assert v.geometry_equal(ref) and v.frame_of_reference_uid == ref.frame_of_reference_uid
        assert v.array.dtype == np.int16
    assert st.lesions.geometry_equal(ref) and st.viable.geometry_equal(ref) and st.liver.geometry_equal(ref)
    assert len({v.series_instance_uid for v in st.volumes.values()}) == 4
    assert studies["fu1"].volumes[Phase.ARTERIAL].study_instance_uid != ref.study_instance_uid


@pytest.mark.parametrize("tp", ["baseline", "fu1", "fu2"])
def test_truth_volumes_match_masks(studies, tp) -> None:
    st = studies[tp]
    vox = st.geometry.voxel_volume_mm3
    for lid, rec in st.truth["lesions"].items():
        n = int(st.lesions.mask(lid).sum())
        assert rec["mask_volume_mm3"] == pytest.approx(n * vox)
        if rec["analytic"] and rec.get("feret_mm", 0) >= 20:
            assert n * vox == pytest.approx(rec["volume_mm3"], rel=0.02), lid
        if rec.get("viable_volume_mm3", 0) > 0 and rec.get("viable_diameter_mm", 0) >= 10:
            assert rec["viable_mask_volume_mm3"] == pytest.approx(rec["viable_volume_mm3"], rel=0.05), lid


@pytest.mark.parametrize("tp", ["baseline", "fu1", "fu2"])
def test_truth_ld_consistent_with_mask(studies, tp) -> None:
    st = studies[tp]
    sp = np.asarray(st.geometry.spacing[1:])
    for lid, rec in st.truth["lesions"].items():
        if rec.get("ld_slice") is None:
            continue
        pts = np.argwhere(st.lesions.mask(lid)[rec["ld_slice"]]) * sp
        d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max()
        # voxel-centre distance under-estimates by at most one in-plane voxel diagonal
        assert rec["longest_diameter_mm"] - float(np.hypot(*sp)) <= d <= rec["longest_diameter_mm"] + 1e-6, lid


def test_lesion_kinds_and_enhancement(studies) -> None:
    st = studies["baseline"]
    les = st.truth["lesions"]
    liver_only = st.liver.mask(1) & (st.lesions.array == 0)
    m1 = st.lesions.mask("L1")
    # typical HCC: arterial hyperenhancement, washout in portal venous and delayed
    assert _mean(st, Phase.ARTERIAL, m1) > _mean(st, Phase.ARTERIAL, liver_only) + 30
    assert _mean(st, Phase.PORTAL_VENOUS, m1) < _mean(st, Phase.PORTAL_VENOUS, liver_only) - 10
    assert _mean(st, Phase.DELAYED, m1) < _mean(st, Phase.DELAYED, liver_only) - 10
    # aorta and portal vein bright on arterial / portal phases
    assert les["L1"]["kind"] == "typical_hcc" and les["L2"]["kind"] == "necrotic_hcc"
    assert 0.5 < les["L2"]["necrosis_fraction"] < 1.0
    # lipiodol > 300 HU on all phases, pre-contrast included; viable remnant enhances
    assert les["L3"]["lipiodol_hu"] > 300
    lip_core = (st.lesions.array == 3) & (st.volumes[Phase.PRE_CONTRAST].array > 300)
    assert lip_core.sum() * st.geometry.voxel_volume_mm3 > 0.5 * les["L3"]["lipiodol_volume_mm3"]
    for ph in STUDY_PHASES:
        assert float(np.median(st.volumes[ph].array[lip_core])) > 300
    assert st.viable.mask("L3").sum() > 0
    # rim only: thin rim, no viable tissue
    assert les["L4"]["kind"] == "rim_only" and RIM_THICKNESS_MM <= 2.0
    assert st.viable.mask("L4").sum() == 0 and les["L4"]["viable_diameter_mm"] == 0
    # infiltrative: not enhancing, not an mRECIST target
    assert st.viable.mask("L5").sum() == 0 and les["L5"]["mrecist_measurable"] is False
    # node outside the liver, PVTT in the portal vein, ascites outside the liver
    assert les["L6"]["is_lymph_node"] and les["L6"]["short_axis_mm"] == pytest.approx(12.0, abs=0.05)
    assert not np.any(st.liver.mask(1) & st.lesions.mask("L6"))
    assert les["L7"]["kind"] == "pvtt" and les["L8"]["kind"] == "ascites"
    assert not np.any(st.liver.mask(1) & st.lesions.mask("L8"))
    assert float(np.mean(st.volumes[Phase.PRE_CONTRAST].array[st.lesions.mask("L8")])) < 30


def test_seed_points_inside_lesions(studies) -> None:
    for st in studies.values():
        for lid, rec in st.truth["lesions"].items():
            assert st.lesions.array[tuple(rec["seed_index"])] == rec["label"], lid


def test_followup_changes(studies) -> None:
    b, f1, f2 = (studies[t].truth["lesions"] for t in ("baseline", "fu1", "fu2"))
    assert b["L1"]["kind"] == "typical_hcc" and f1["L1"]["kind"] == "rim_only"
    assert f1["L1"]["viable_diameter_mm"] == 0 and f1["L1"]["longest_diameter_mm"] > 20  # mRECIST CR, RECIST not CR
    assert f1["L2"]["longest_diameter_mm"] < b["L2"]["longest_diameter_mm"]
    assert f2["L6"]["short_axis_mm"] == pytest.approx(22.0, abs=0.05)
    assert "L9" in f2 and "L9" not in f1 and "L9" not in b
    assert f2["L9"]["typical_hcc_pattern"] and f2["L9"]["longest_diameter_mm"] >= 10


def test_deterministic() -> None:
    a, b, c = make_study(5, "fu1"), make_study(5, "fu1"), make_study(6, "fu1")
    for ph in STUDY_PHASES:
        assert np.array_equal(a.volumes[ph].array, b.volumes[ph].array)
        assert not np.array_equal(a.volumes[ph].array, c.volumes[ph].array)
    assert np.array_equal(a.lesions.array, b.lesions.array) and a.truth == b.truth


def test_unknown_timepoint() -> None:
    with pytest.raises(PhantomError, match="unknown timepoint 'fu9'"):
        make_study(0, "fu9")


def test_grid_too_small() -> None:
    with pytest.raises(PhantomError, match="is not inside the grid"):
        make_study(0, "baseline", shape=(10, 64, 64), spacing=(3.0, 5.0, 5.0))


def test_expected_responses(studies) -> None:
    truths = [studies[t].truth for t in ("baseline", "fu1", "fu2")]
    exp = expected_responses(truths)
    rec, mr = exp["recist_1_1"], exp["mrecist"]
    # recompute the RECIST sums independently from the truth
    base = sum(round(truths[0]["lesions"][k]["longest_diameter_mm"], 1) for k in ("L1", "L2"))
    assert rec[0]["sum_mm"] == pytest.approx(base)
    assert [r["overall"] for r in rec] == [None, "SD", "PD"]
    assert [r["overall"] for r in mr] == [None, "PR", "PD"]
    assert mr[1]["target_diameters_mm"]["L1"] == 0.0  # rim only: viable 0
    assert rec[2]["new_lesions"] == ["L9"] and mr[2]["new_lesions"] == ["L9"]
    assert -0.30 < rec[1]["change_from_baseline_frac"] < 0 and mr[1]["change_from_baseline_frac"] <= -0.30
    with pytest.raises(PhantomError, match="baseline truth first"):
        expected_responses(truths[1:])


def test_grid_parameters() -> None:
    st = make_study(1, "baseline", shape=(40, 128, 128), spacing=(3.5, 2.7, 2.7), noise_sd_hu=0.0)
    assert st.geometry.shape == (40, 128, 128)
    r = st.truth["lesions"]["L2"]
    assert r["mask_volume_mm3"] == pytest.approx(r["volume_mm3"], rel=0.03)
    assert math.isclose(st.truth["noise_sd_hu"], 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"seed": 1.5}, "seed must be an integer >= 0"),
        ({"noise_sd_hu": float("nan")}, "noise_sd_hu must be a finite number >= 0"),
        ({"noise_sd_hu": -5}, "noise_sd_hu must be a finite number >= 0"),
        ({"psf_sigma_mm": float("inf")}, "psf_sigma_mm must be a finite number >= 0"),
        ({"shape": (44, 150)}, "shape must be 3 integers"),
        ({"spacing": (3.0, 0.0, 2.3)}, "spacing must be 3 finite numbers > 0"),
        ({"patient_id": ""}, "patient_id must be a non-empty string"),
    ],
)
def test_make_study_refuses_bad_parameters(kwargs, match) -> None:
    """seed=-1 raised numpy's ValueError; noise_sd_hu=nan gave a noise-free image with NaN in the
    truth; noise_sd_hu=-5 was recorded as -5: each is a PhantomError naming the parameter."""
    with pytest.raises(PhantomError, match=match):
        make_study(**{"seed": 0, "timepoint": "baseline", **kwargs})


@pytest.mark.parametrize(
    ("timepoints", "match"),
    [
        (("fu1", "fu2"), "must start with 'baseline'"),
        (("baseline", "baseline"), "distinct and in time order"),
        (("baseline", "fu2", "fu1"), "distinct and in time order"),
        (("baseline", "fu3"), "unknown time point"),
        ((), "must start with 'baseline'"),
    ],
)
def test_write_longitudinal_checks_before_writing(tmp_path, timepoints, match) -> None:
    """timepoints=("fu1", "fu2") raised only after writing fu1/ and fu2/ (left behind), and
    ("baseline", "baseline") was accepted: refused now, with nothing written."""
    from hcc_imaging.phantoms import write_longitudinal

    out = tmp_path / "out"
    with pytest.raises(PhantomError, match=match):
        write_longitudinal(out, timepoints=timepoints, masks=False, shape=(30, 64, 64), spacing=(4.5, 5.5, 5.5))
    assert not out.exists()
    with pytest.raises(PhantomError, match="noise_sd_hu"):  # a bad parameter: nothing written either
        write_longitudinal(out, timepoints=("baseline", "fu1"), noise_sd_hu=float("nan"), masks=False,
                           shape=(30, 64, 64), spacing=(4.5, 5.5, 5.5))
    assert not out.exists()


def test_write_longitudinal_checks_the_transfer_syntax_before_writing(tmp_path) -> None:
    """A transfer syntax write_series cannot write was refused only at the first series, leaving
    out/ and out/baseline/ behind (a half-written folder a rerun mixed with); write_dicom made its
    folder too.  Refused now naming the function and the syntaxes it takes, with nothing written;
    a folder that was there keeps what it held."""
    from hcc_imaging.io.write import DicomWriteError
    from hcc_imaging.phantoms import make_study, write_longitudinal

    out = tmp_path / "out"
    with pytest.raises(DicomWriteError, match=r"write_longitudinal: transfer syntax 1\.2\.3 is not supported.*"
                                              r"JPEGLSLossless 1\.2\.840\.10008\.1\.2\.4\.80"):
        write_longitudinal(out, transfer_syntax="1.2.3", masks=False, shape=(30, 64, 64), spacing=(4.5, 5.5, 5.5))
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DicomWriteError, match="write_dicom: transfer syntax 1.2.840.10008.1.2.4.50"):
        make_study(0, shape=(30, 64, 64), spacing=(4.5, 5.5, 5.5)).write_dicom(out / "baseline",
                                                                            transfer_syntax="1.2.840.10008.1.2.4.50")
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_ellipsoid_lesion_refuses_bad_noise_and_seed() -> None:
    with pytest.raises(PhantomError, match="noise_sd_hu"):
        ellipsoid_lesion((6, 6, 6), (2.0, 1.0, 1.0), noise_sd_hu=float("nan"))
    with pytest.raises(PhantomError, match="seed"):
        ellipsoid_lesion((6, 6, 6), (2.0, 1.0, 1.0), noise_sd_hu=5.0, seed=-1)

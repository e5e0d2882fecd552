"""Contrast-phase rules: keyword table across languages and vendors, timing, order, image ROIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hcc_imaging.io import PhaseCall, classify_phase, load_study, phase_from_image, phase_from_vessel_hu
from hcc_imaging.io.phases import dicom_time_to_seconds, phase_from_description, phase_from_timing, roi_mean_hu
from hcc_imaging.volume import Modality, Phase, Volume

from ._synth import write_series

P = Phase

KEYWORDS = [
    ("Abdomen 3.0 B30f PORTAL VENOUS", P.PORTAL_VENOUS, "en-portal-venous"),
    ("PVP 70s", P.PORTAL_VENOUS, "vendor-pvp"),
    ("ABD PV 5mm", P.PORTAL_VENOUS, "vendor-pv"),
    ("VENOUS PHASE", P.PORTAL_VENOUS, "en-venous"),
    ("Portalvenös 1.0", P.PORTAL_VENOUS, "de-portalvenoes"),
    ("Phase portale", P.PORTAL_VENOUS, "fr-portale"),
    ("temps veineux", P.PORTAL_VENOUS, "fr-veineux"),
    ("Fase venosa", P.PORTAL_VENOUS, "es-it-venosa"),
    ("monmyakusou", P.PORTAL_VENOUS, "ja-romaji-portal"),
    ("門脈相", P.PORTAL_VENOUS, "ja-kanji-portal"),
    ("ARTERIAL 1.25mm", P.ARTERIAL, "en-arterial"),
    ("ART", P.ARTERIAL, "vendor-art"),
    ("Liver AP", P.ARTERIAL, "vendor-ap"),
    ("Arterielle Phase", P.ARTERIAL, "de-fr-arterielle"),
    ("fase arteriosa", P.ARTERIAL, "es-it-arteriosa"),
    ("doumyakusou", P.ARTERIAL, "ja-romaji-arterial"),
    ("動脈相", P.ARTERIAL, "ja-kanji-arterial"),
    ("Late arterial", P.ARTERIAL_LATE, "en-late-arterial"),
    ("Spätarteriell", P.ARTERIAL_LATE, "de-spaetarteriell"),
    ("Early Arterial", P.ARTERIAL_EARLY, "en-early-arterial"),
    ("Frühe arteriell", P.ARTERIAL, "de-frueh-separate-word"),
    ("NATIVE 5mm", P.PRE_CONTRAST, "de-en-native"),
    ("Leber nativ", P.PRE_CONTRAST, "de-nativ"),
    ("NC ABD", P.PRE_CONTRAST, "vendor-nc"),
    ("PRE", P.PRE_CONTRAST, "vendor-pre"),
    ("non-contrast", P.PRE_CONTRAST, "en-non-contrast"),
    ("ABD W/O CONTRAST", P.PRE_CONTRAST, "en-wo-contrast"),
    ("sans injection", P.PRE_CONTRAST, "fr-sans-injection"),
    ("sin contraste", P.PRE_CONTRAST, "es-sin-contraste"),
    ("senza mdc", P.PRE_CONTRAST, "it-senza-mdc"),
    ("5/5mm Plain", P.PRE_CONTRAST, "ja-en-plain"),
    ("単純CT", P.PRE_CONTRAST, "ja-kanji-plain"),
    ("DELAY 3 min", P.DELAYED, "en-delay"),
    ("EQ", P.DELAYED, "vendor-eq"),
    ("Equilibrium phase", P.DELAYED, "en-equilibrium"),
    ("Spätphase", P.DELAYED, "de-spaetphase"),
    ("fase tardia", P.DELAYED, "es-tardia"),
    ("heikousou", P.DELAYED, "ja-romaji-equilibrium"),
    ("HBP 20MIN", P.HEPATOBILIARY, "vendor-hbp"),
    ("t1 vibe 20 min", P.DELAYED, "vendor-20min-agent-unknown"),  # hepatobiliary with gadoxetate: test_io_phases_hbp.py
    ("hepatocyte phase", P.HEPATOBILIARY, "en-hepatocyte"),
    ("transitional phase", P.TRANSITIONAL, "en-transitional"),
]


@pytest.mark.parametrize(("text", "phase"), [pytest.param(t, p, id=i) for t, p, i in KEYWORDS])
def test_keywords(text: str, phase: Phase) -> None:
    call = phase_from_description(text)
    assert call is not None and call.phase == phase, call
    assert 0.5 <= call.confidence <= 1.0
    assert text.strip() in call.reason


@pytest.mark.parametrize("text", [pytest.param("Abdomen 5.0 B31f", id="silent"), pytest.param("", id="empty"),
                                  pytest.param("Body Topogram", id="topogram")])
def test_silent_descriptions(text: str) -> None:
    assert phase_from_description(text) is None


@pytest.mark.parametrize(("delay", "agent", "phase"), [
    pytest.param(-30, None, P.PRE_CONTRAST, id="before-injection"),
    pytest.param(20, None, P.ARTERIAL_EARLY, id="20s-early-arterial"),
    pytest.param(38, None, P.ARTERIAL_LATE, id="38s-late-arterial"),
    pytest.param(70, None, P.PORTAL_VENOUS, id="70s-portal"),
    pytest.param(180, None, P.DELAYED, id="3min-delayed-ct"),
    pytest.param(180, "Gd-EOB-DTPA (Primovist)", P.TRANSITIONAL, id="3min-gadoxetate-transitional"),
    pytest.param(1200, "Primovist", P.HEPATOBILIARY, id="20min-gadoxetate-hbp"),
    pytest.param(1200, "Omnipaque 350", P.DELAYED, id="20min-iodine-delayed"),
])
def test_timing(delay: float, agent: str | None, phase: Phase) -> None:
    assert phase_from_timing(delay, agent=agent).phase == phase


def test_classify_uses_tags_in_order() -> None:
    c = classify_phase(series_description="Abdomen", acquisition_time="100110", contrast_bolus_start_time="100000",
                       contrast_bolus_agent="Iomeron")
    assert c.phase == P.PORTAL_VENOUS and "70 s" in c.reason
    # keyword beats timing
    c = classify_phase(series_description="ART", acquisition_time="100110", contrast_bolus_start_time="100000")
    assert c.phase == P.ARTERIAL
    # injection before midnight
    c = classify_phase(series_description="", acquisition_time="000030", contrast_bolus_start_time="235950")
    assert c.phase == P.ARTERIAL_LATE
    # agent only: post-contrast, phase unknown
    c = classify_phase(series_description="Abdomen", contrast_bolus_agent="Visipaque")
    assert c.phase == P.UNKNOWN and "post-contrast" in c.reason
    assert classify_phase({}).phase == P.UNKNOWN


def test_order_within_study() -> None:
    s = [
        {"series_instance_uid": "1", "modality": "CT", "acquisition_time": "100000", "contrast_bolus_agent": ""},
        {"series_instance_uid": "2", "modality": "CT", "acquisition_time": "100140", "contrast_bolus_agent": "IOM"},
        {"series_instance_uid": "3", "modality": "CT", "acquisition_time": "100210", "contrast_bolus_agent": "IOM"},
        {"series_instance_uid": "4", "modality": "CT", "acquisition_time": "100500", "contrast_bolus_agent": "IOM"},
    ]
    got = [classify_phase(x, study_series=s).phase for x in s]
    assert got == [P.PRE_CONTRAST, P.ARTERIAL, P.PORTAL_VENOUS, P.DELAYED]
    assert all(classify_phase(x, study_series=s).confidence < 0.5 for x in s)


@pytest.mark.parametrize(("aorta", "pv", "phase"), [
    pytest.param(40, 40, P.PRE_CONTRAST, id="pre"),
    pytest.param(300, 120, P.ARTERIAL_LATE, id="late-arterial"),
    pytest.param(280, 60, P.ARTERIAL_EARLY, id="early-arterial"),
    pytest.param(160, 180, P.PORTAL_VENOUS, id="portal"),
])
def test_vessel_rule(aorta: float, pv: float, phase: Phase) -> None:
    assert phase_from_vessel_hu(aorta, pv).phase == phase


def test_vessel_rule_refuses_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        phase_from_vessel_hu(float("nan"), 100.0)


def test_phase_from_image_on_phantom_rois() -> None:
    arr = np.full((10, 40, 40), 50, np.int16)
    arr[:, 5:15, 5:15] = 300  # "aorta"
    arr[:, 25:35, 25:35] = 120  # "portal vein"
    v = Volume.create(arr, spacing=(2.0, 1.0, 1.0), modality=Modality.CT)
    call = phase_from_image(v, aorta_lps=v.index_to_lps([5, 10, 10]), portal_vein_lps=v.index_to_lps([5, 30, 30]))
    assert call.phase == P.ARTERIAL_LATE and call.reason.startswith("image:")
    assert roi_mean_hu(v, v.index_to_lps([5, 10, 10])) == pytest.approx(300.0)
    with pytest.raises(ValueError, match="outside"):
        roi_mean_hu(v, (500.0, 500.0, 500.0))
    mr = Volume.create(arr, spacing=(2.0, 1.0, 1.0), modality=Modality.MR)
    assert phase_from_image(mr, aorta_lps=(0, 0, 0), portal_vein_lps=(0, 0, 0)).phase == P.UNKNOWN


def test_phantom_study_phases_from_image() -> None:
    from hcc_imaging import phantoms

    aorta = phantoms._AORTA  # ((x, y) centre, radius) in LPS mm; a move must fail here, not skip
    pv_axis = phantoms._PORTAL_VEIN
    study = phantoms.make_study(seed=0, shape=(28, 120, 120), spacing=(5.0, 3.0, 3.0))
    expected = {P.PRE_CONTRAST: P.PRE_CONTRAST, P.ARTERIAL: P.ARTERIAL_LATE, P.PORTAL_VENOUS: P.PORTAL_VENOUS}
    for ph, exp in expected.items():
        vol = study.volumes[ph]
        a_pt = (aorta[0][0], aorta[0][1], -10.0)
        # 20 % along the portal-vein axis: clear of the tumour thrombus (45-75 %)
        pv_pt = np.asarray(pv_axis.start_lps, float) * 0.8 + np.asarray(pv_axis.end_lps, float) * 0.2
        call = phase_from_image(vol, aorta_lps=a_pt, portal_vein_lps=pv_pt, radius_mm=4.0)
        assert call.phase == exp, (ph, call)


def test_phase_call_validates_confidence() -> None:
    with pytest.raises(ValueError, match="confidence"):
        PhaseCall(P.ARTERIAL, 1.5, "x")


def test_dicom_time() -> None:
    assert dicom_time_to_seconds("101530.5") == pytest.approx(36930.5)
    assert dicom_time_to_seconds("10:15:30") == pytest.approx(36930.0)
    assert dicom_time_to_seconds("1015") == pytest.approx(36900.0)
    assert dicom_time_to_seconds("") is None
    assert dicom_time_to_seconds("garbage") is None


def test_load_study_with_overrides(tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.2.999.7"
    vals = np.full((3, 4, 4), 1024, np.uint16)
    write_series(tmp_path / "a", vals, description="ART", study_uid=study, series_uid="1.2.9.1")
    write_series(tmp_path / "b", vals, description="Abdomen", study_uid=study, series_uid="1.2.9.2")
    vols = load_study(tmp_path)
    phases = {v.series_instance_uid: v.phase for v in vols}
    assert phases == {"1.2.9.1": P.ARTERIAL, "1.2.9.2": P.UNKNOWN}
    vols = load_study(tmp_path, phase_overrides={"1.2.9.2": "portal_venous"})
    v2 = next(v for v in vols if v.series_instance_uid == "1.2.9.2")
    assert v2.phase == P.PORTAL_VENOUS and v2.meta["phase_call"]["confidence"] == 1.0
    from hcc_imaging.io import SeriesSelectionError

    with pytest.raises(SeriesSelectionError, match="study_uid="):
        load_study(tmp_path, study_uid="9.9.9")


def test_phantom_phases_from_automatically_found_vessels() -> None:
    from hcc_imaging import phantoms
    study = phantoms.make_study(seed=1, shape=(28, 120, 120), spacing=(5.0, 3.0, 3.0))
    got = {ph: phase_from_image(v) for ph, v in study.volumes.items()}
    assert got[P.PRE_CONTRAST].phase == P.PRE_CONTRAST
    assert got[P.ARTERIAL].phase.is_arterial
    assert got[P.PORTAL_VENOUS].phase == P.PORTAL_VENOUS
    # delayed cannot be told from portal venous by two vessel numbers (documented)
    assert got[P.DELAYED].phase == P.PORTAL_VENOUS
    assert all(c.confidence <= 0.5 and "found automatically" in c.reason for c in got.values())
    # classify_phase uses the image only when the tags are silent
    v = study.volumes[P.PORTAL_VENOUS]
    assert classify_phase(series_description="", volume=v).phase == P.PORTAL_VENOUS
    assert classify_phase(series_description="ART", volume=v).phase == P.ARTERIAL


def test_phase_from_image_needs_both_points_or_none() -> None:
    v = Volume.create(np.zeros((4, 8, 8), np.int16), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="both aorta_lps and portal_vein_lps"):
        phase_from_image(v, aorta_lps=(0, 0, 0))
    assert phase_from_image(v).phase == P.UNKNOWN  # no body, no spine: not found


@pytest.mark.slow
def test_ircadb17_vessels_found_inside_expert_masks(ircadb17: Path) -> None:
    from hcc_imaging.io import load_series
    from hcc_imaging.io._vessels import find_vessels

    ct = load_series(ircadb17 / "PATIENT_DICOM")
    found = find_vessels(ct)
    assert found is not None
    aorta_hu, pv_hu, a_pt, p_pt = found
    for name, pt in (("artery", a_pt), ("portalvein", p_pt)):
        m = load_series(ircadb17 / "MASKS_DICOM" / name).array > 0
        k, j, i = np.rint(ct.lps_to_index(pt)).astype(int)
        assert m[k, j, i], name
    # contrast CT with the portal vein (mean 167 HU in its mask) as bright as the arteries (149 HU)
    assert phase_from_image(ct).phase == P.PORTAL_VENOUS


def test_a_scout_is_no_phase() -> None:
    """'Topogram AP' was called arterial ('AP'), and one_per_phase then took the 1-image scout as
    the arterial time point."""
    for desc in ("Topogram AP", "SCOUT AP", "Surview AP", "Localizer AP", "Scanogram AP/LAT"):
        call = classify_phase({"series_description": desc, "modality": "CT"})
        assert call.phase == P.UNKNOWN and "localizer" in call.reason, desc
    # by ImageType, whatever its description
    assert classify_phase({"series_description": "Abdomen AP", "is_localizer": True}).phase == P.UNKNOWN
    assert classify_phase({"series_description": "Abdomen AP 1.0"}).phase == P.ARTERIAL


def test_order_counts_acquisitions_not_scouts_monitoring_or_recons() -> None:
    """A Siemens-like study without phase words: topogram, bolus-tracking series (10 images at one
    position), the arterial scan in two reconstructions, the portal-venous scan. The order rule
    counted every series: the arterial scan became portal-venous, the portal-venous delayed."""
    s = [
        {"series_instance_uid": "topo", "modality": "CT", "acquisition_time": "095900", "contrast_bolus_agent": "",
         "is_localizer": True, "series_description": "Topogram 0.6"},
        {"series_instance_uid": "mon", "modality": "CT", "acquisition_time": "100010", "contrast_bolus_agent": "IOM",
         "series_description": "Monitoring", "problems": ("9 duplicate slice position(s): 10 images at 1",)},
        {"series_instance_uid": "art5", "modality": "CT", "acquisition_time": "100035", "contrast_bolus_agent": "IOM"},
        {"series_instance_uid": "art1", "modality": "CT", "acquisition_time": "100035.5", "contrast_bolus_agent": "IOM"},
        {"series_instance_uid": "pv", "modality": "CT", "acquisition_time": "100110", "contrast_bolus_agent": "IOM"},
    ]
    got = {x["series_instance_uid"]: classify_phase(x, study_series=s).phase for x in s}
    assert got == {"topo": P.UNKNOWN, "mon": P.UNKNOWN, "art5": P.ARTERIAL, "art1": P.ARTERIAL,
                   "pv": P.PORTAL_VENOUS}


def test_a_subtraction_is_no_phase(tmp_path: Path) -> None:
    """'SUB ART-PRE' (arterial minus pre-contrast) was called pre-contrast from its "PRE", and so was
    a series with ImageType ...\\SUBTRACTION described "Liver PRE": a difference image is no contrast
    phase to measure HU on.  UNKNOWN with the reason; by description, ProtocolName or ImageType (index
    and load), and it takes no rank in the order rule."""
    from hcc_imaging.io import index_archive, load_series

    for desc in ("SUB ART-PRE", "ART-PRE SUB", "Subtraction arterial", "Subtraktion PV-nativ", "ART_PRE_SUBTR"):
        call = classify_phase({"series_description": desc, "modality": "MR"})
        assert call.phase == P.UNKNOWN and "names a subtraction" in call.reason and desc in call.reason, desc
    assert classify_phase({"series_description": "", "protocol_name": "SUB ART-PRE"}).phase == P.UNKNOWN
    assert classify_phase({"series_description": "Liver PRE", "image_type": ("DERIVED", "SECONDARY", "SUB")}
                          ).phase == P.UNKNOWN
    assert classify_phase({"series_description": "Liver PRE"}).phase == P.PRE_CONTRAST  # not a subtraction
    assert classify_phase({"series_description": "Subcostal PRE"}).phase == P.PRE_CONTRAST  # a word, not "SUB"
    vals = np.full((3, 4, 4), 1000, np.uint16)
    write_series(tmp_path / "sub", vals, description="Liver PRE", study_uid="1.2.826.0.1.3680043.99.5",
                 image_types=[("DERIVED", "SECONDARY", "SUBTRACTION")] * 3)
    write_series(tmp_path / "pre", vals, description="Liver PRE", study_uid="1.2.826.0.1.3680043.99.5")
    by_dir = {Path(s.files[0]).parent.name: s for s in index_archive(tmp_path).series}
    assert by_dir["sub"].is_subtraction and not by_dir["pre"].is_subtraction
    assert by_dir["sub"].phase.phase == P.UNKNOWN and "subtraction image (ImageType" in by_dir["sub"].phase.reason
    assert by_dir["pre"].phase.phase == P.PRE_CONTRAST
    assert load_series(tmp_path / "sub").phase == P.UNKNOWN
    # the order rule counts acquisitions: a subtraction made after the arterial scan is not the portal phase
    s = [
        {"series_instance_uid": "art", "modality": "MR", "acquisition_time": "100035", "contrast_bolus_agent": "GD"},
        {"series_instance_uid": "sub", "modality": "MR", "acquisition_time": "100050", "contrast_bolus_agent": "GD",
         "is_subtraction": True},
        {"series_instance_uid": "pv", "modality": "MR", "acquisition_time": "100110", "contrast_bolus_agent": "GD"},
    ]
    got = {x["series_instance_uid"]: classify_phase(x, study_series=s).phase for x in s}
    assert got == {"art": P.ARTERIAL, "sub": P.UNKNOWN, "pv": P.PORTAL_VENOUS}


def test_a_description_against_the_acquisition_order_is_flagged(tmp_path: Path) -> None:
    """A series described "ARTERIAL" but acquired after the study's portal-venous series passed
    without a word.  The description still decides (docs/io.md: the first source that speaks), but
    the call carries a warning naming the other series and both times (AcquisitionTime, or
    ContentTime when neither has one), in the index, its JSON and the loaded volume's phase_call."""
    from hcc_imaging.io import index_archive

    vals = np.full((3, 4, 4), 1000, np.uint16)
    study = "1.2.826.0.1.3680043.99.6"
    for name, desc, t in (("pre", "Liver NATIVE", "100000"), ("pv", "Liver PORTAL VENOUS", "100110"),
                          ("art", "Liver ARTERIAL", "100230"), ("art_recon", "Liver ARTERIAL 1mm", "100230.5")):
        write_series(tmp_path / name, vals, description=desc, study_uid=study,
                     extra={"AcquisitionTime": t, "ContentTime": t})
    idx = index_archive(tmp_path)
    by_dir = {Path(s.files[0]).parent.name: s for s in idx.series}
    art, pv = by_dir["art"], by_dir["pv"]
    assert art.phase.phase == P.ARTERIAL and pv.phase.phase == P.PORTAL_VENOUS  # not changed
    (w,) = art.phase.warnings
    assert w.startswith(f"described arterial but acquired after series {pv.series_instance_uid} ('Liver PORTAL VENOUS'")
    assert "AcquisitionTime 10:02:30 vs 10:01:10" in w and "phase_overrides" in w
    assert len(by_dir["art_recon"].phase.warnings) == 1  # a reconstruction of the same late scan
    assert len(pv.phase.warnings) == 2 and all("acquired before series" in x for x in pv.phase.warnings)
    assert by_dir["pre"].phase.warnings == ()  # before everything, as described
    assert art.to_dict()["phase"]["warnings"] == [w] and "warnings" not in by_dir["pre"].to_dict()["phase"]
    vols = {v.series_instance_uid: v for v in load_study(idx)}
    assert vols[art.series_instance_uid].meta["phase_call"]["warnings"] == [w]
    # in order: no warning; ContentTime when no AcquisitionTime; a mixed pair is not compared
    s = [{"series_instance_uid": "a", "series_description": "ART", "content_time": "100030"},
         {"series_instance_uid": "p", "series_description": "PV", "content_time": "100100"}]
    assert all(classify_phase(x, study_series=s).warnings == () for x in s)
    s[0]["content_time"] = "100200"
    assert "ContentTime 10:02:00 vs 10:01:00" in classify_phase(s[0], study_series=s).warnings[0]
    s[1]["acquisition_time"] = "100100"
    assert classify_phase(s[0], study_series=s).warnings == ()

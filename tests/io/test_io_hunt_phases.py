"""Phase keywords as docs/io.md section 3 lists them: "W/O" alone, "C-", "ARTERIAL_LATE", and no
pre-contrast from "PRE-OP", "PRE TACE", "W/ CONTRAST" or a "with and without" protocol."""

from __future__ import annotations

import pytest

from hcc_imaging.io import classify_phase
from hcc_imaging.io.phases import phase_from_description
from hcc_imaging.volume import Phase

P = Phase

CASES: list[tuple[str, Phase | None]] = [
    # pre-contrast, as documented
    ("W/O", P.PRE_CONTRAST),
    ("CT ABD W/O", P.PRE_CONTRAST),
    ("ABD W/O CONTRAST", P.PRE_CONTRAST),
    ("CT ABD/PELVIS W/O CONTRAST", P.PRE_CONTRAST),
    ("W/O IV", P.PRE_CONTRAST),
    ("WITHOUT CONTRAST", P.PRE_CONTRAST),
    ("C-", P.PRE_CONTRAST),
    ("CT ABD C-", P.PRE_CONTRAST),
    ("NON CONTRAST", P.PRE_CONTRAST),
    ("NON-CONTRAST 5mm", P.PRE_CONTRAST),
    ("PRE_CONTRAST", P.PRE_CONTRAST),
    ("PRE", P.PRE_CONTRAST),
    ("T1 PRE", P.PRE_CONTRAST),
    ("AX T1 FS PRE", P.PRE_CONTRAST),
    ("NC ABD", P.PRE_CONTRAST),
    ("UNENHANCED", P.PRE_CONTRAST),
    # not pre-contrast
    ("W/ CONTRAST", None),
    ("W/CONTRAST", None),
    ("WITH CONTRAST", None),
    ("CT ABD W/WO", None),
    ("CT ABDOMEN W/ & W/O CONTRAST", None),
    ("CT ABD W/O & W/", None),
    ("WITH AND WITHOUT CONTRAST", None),
    ("CT ABD C-/C+", None),
    ("C+/C- LIVER", None),
    ("AX T1 W/O FS", None),
    ("CT ABD W/O ORAL", None),
    ("C+", None),
    ("T1 C+", None),
    ("C-SPINE", None),
    ("C-ARM CT", None),
    ("CT ABD C+ PORTAL VENOUS", P.PORTAL_VENOUS),
    ("PREOP", None),
    ("PRE-OP CT", None),
    ("PRE OP", None),
    ("PRE-TACE ARTERIAL", P.ARTERIAL),
    ("PRE TACE PV", P.PORTAL_VENOUS),
    ("PRE-SAT T1", None),
    ("PRESTO", None),
    ("PREMIER LIVER", None),
    # arterial
    ("ART PHASE", P.ARTERIAL),
    ("ARTERIAL", P.ARTERIAL),
    ("LATE ARTERIAL", P.ARTERIAL_LATE),
    ("LATE_ART", P.ARTERIAL_LATE),
    ("ARTERIAL_LATE", P.ARTERIAL_LATE),
    ("ART LATE 1.25mm", P.ARTERIAL_LATE),
    ("EARLY ARTERIAL", P.ARTERIAL_EARLY),
    ("ARTERIAL_EARLY", P.ARTERIAL_EARLY),
    ("PARTIAL", None),
    ("START", None),
    ("ARTIFACT CHECK", None),
    ("HEART", None),
    # portal venous, delayed, hepatobiliary
    ("PV 70s", P.PORTAL_VENOUS),
    ("PORTAL VENOUS", P.PORTAL_VENOUS),
    ("PORTAL_VENOUS", P.PORTAL_VENOUS),
    ("DELAYED 3 MIN", P.DELAYED),
    ("3 MIN DELAY", P.DELAYED),
    ("HBP 20 MIN", P.HEPATOBILIARY),
    ("HBP_20MIN", P.HEPATOBILIARY),
]


@pytest.mark.parametrize(("description", "expected"), CASES, ids=[c[0] for c in CASES])
def test_description_keywords(description: str, expected: Phase | None) -> None:
    call = phase_from_description(description)
    got = call.phase if call is not None else None
    assert got == expected, (description, call)
    full = classify_phase({"series_description": description, "modality": "CT"})
    # a CT has no hepatobiliary phase: its HBP keyword is a conflict, unknown (test_io_phases_hbp.py)
    assert full.phase == (P.UNKNOWN if expected in (None, P.HEPATOBILIARY) else expected)
    if expected == P.HEPATOBILIARY:
        assert classify_phase({"series_description": description, "modality": "MR"}).phase == expected


def test_w_o_reason_names_the_keyword() -> None:
    """Until 2026-12-06 'CT ABD W/O' got no phase (only 'W/O CONTRAST' did), though docs/io.md
    lists W/O among the pre-contrast keywords; 'ARTERIAL_LATE' was plain arterial."""
    call = phase_from_description("CT ABD W/O")
    assert call is not None and call.phase == P.PRE_CONTRAST and "'W O'" in call.reason
    c_minus = phase_from_description("CT ABD C-")
    assert c_minus is not None and "contains 'C-'" in c_minus.reason
    late = phase_from_description("ARTERIAL_LATE")
    assert late is not None and late.phase == P.ARTERIAL_LATE


@pytest.mark.parametrize("description", ["ARTERIAL DWI", "DWI b800", "ep2d_diff_b50_800", "ADC", "AX DIFFUSION",
                                         "eADC PORTAL", "TRACEW"])
def test_a_diffusion_series_is_no_contrast_phase(description: str) -> None:
    """A diffusion-weighted series is no contrast phase: "ARTERIAL DWI" was called arterial, so its
    signal was read as arterial enhancement."""
    call = classify_phase({"series_description": description, "modality": "MR"})
    assert call.phase == P.UNKNOWN and "diffusion-weighted" in call.reason


def test_a_diffusion_series_takes_no_place_in_the_order_rule() -> None:
    """Gadoxetate MR without phase words: a DWI acquired between the dynamic series took a rank in
    the acquisition-order rule, so the series after it were called one phase too late."""
    s = [
        {"series_instance_uid": "pre", "modality": "MR", "acquisition_time": "100000", "contrast_bolus_agent": "",
         "series_description": "T1 VIBE"},
        {"series_instance_uid": "dwi", "modality": "MR", "acquisition_time": "100100", "contrast_bolus_agent": "GADOX",
         "series_description": "DWI b50 b800"},
        {"series_instance_uid": "a", "modality": "MR", "acquisition_time": "100140", "contrast_bolus_agent": "GADOX",
         "series_description": "T1 VIBE"},
        {"series_instance_uid": "b", "modality": "MR", "acquisition_time": "100210", "contrast_bolus_agent": "GADOX",
         "series_description": "T1 VIBE"},
        {"series_instance_uid": "c", "modality": "MR", "acquisition_time": "100500", "contrast_bolus_agent": "GADOX",
         "series_description": "T1 VIBE"},
    ]
    got = {x["series_instance_uid"]: classify_phase(x, study_series=s).phase for x in s}
    assert got == {"pre": P.PRE_CONTRAST, "dwi": P.UNKNOWN, "a": P.ARTERIAL, "b": P.PORTAL_VENOUS, "c": P.DELAYED}

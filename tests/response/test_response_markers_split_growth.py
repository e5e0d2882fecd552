"""Tumour markers in the RECIST 1.1 CR, split targets whose fragment is left out, and the
mRECIST interval growth of an atypical new lesion derived from its measurements."""

from __future__ import annotations

import pytest

from hcc_imaging.response.classify import classify
from hcc_imaging.response.irecist import classify_irecist
from hcc_imaging.response.rules import MRECIST, RECIST_1_1
from hcc_imaging.response.tumour_markers import MARKER_WINDOW_DAYS

from .response_helpers import doc, les, viable


def _draw(day, afp):
    return {"day": day, "afp_ng_ml": afp, "afp_l3_pct": 5.0, "pivka_ii_mau_ml": 20.0}


def _cr_read(non_target=False, flag=None, markers=()):
    nt = [les("M1", role="non_target", status="present")] if non_target else []
    gone = [les("M1", role="non_target", status="absent")] if non_target else []
    tps = [{"id": "BL", "day": 0, "lesions": [les("L1", 30.0)] + nt}]
    for i, day in enumerate((60, 120), 1):
        tp = {"id": f"FU{i}", "day": day, "lesions": [les("L1", status="absent")] + gone}
        if flag is not None:
            tp["tumour_markers_normal"] = flag
        tps.append(tp)
    from hcc_imaging.response import ReadDocument

    return ReadDocument.from_json({"patient_id": "P", "timepoints": tps,
                                   "markers": list(markers)})


# ---------------------------------------------------------------- markers
@pytest.mark.parametrize("non_target", [False, True], ids=["no-non-targets", "non-target-gone"])
def test_markers_flag_false_blocks_cr_with_or_without_non_targets(non_target):
    """RECIST 1.1 sec. 3.3 "Tumour markers" and 4.3.2 (criteria.md §2.4): markers above normal
    initially must normalise for CR; Table 1: target CR + non-target non-CR → PR.  Without
    non-target lesions the flag was ignored (CR) before."""
    r = classify(_cr_read(non_target, flag=False), RECIST_1_1)
    assert [t.response for t in r.timepoints[1:]] == ["PR", "PR"]
    assert r.bor_confirmed == "PR"
    assert "tumour_markers_normal is false at FU1" in " ".join(r.timepoints[1].reasons)
    i = classify_irecist(_cr_read(non_target, flag=False))  # iRECIST runs on RECIST 1.1
    assert [t.response for t in i.timepoints[1:]] == ["iPR", "iPR"]


def test_markers_flag_true_or_absent_keeps_cr():
    assert classify(_cr_read(flag=True), RECIST_1_1).timepoints[1].response == "CR"
    assert classify(_cr_read(), RECIST_1_1).timepoints[1].response == "CR"
    # mRECIST has no marker requirement (non_target_cr_requires_normal_markers False)
    d = doc((0, [viable("L1", 30.0, 25.0, enhancing=True, well_delineated=True)]),
            (60, [viable("L1", 30.0, 0.0)]), markers=[_draw(0, 900.0), _draw(60, 900.0)])
    assert classify(d, MRECIST).timepoints[1].response == "CR"


def test_markers_from_the_read_decide_recist_cr_when_no_flag():
    """RECIST 1.1 sec. 3.3: AFP 900 ng/mL before treatment and still 900 at the CR scan: not
    normalised → PR (the read's ``markers`` were never read for RECIST before: CR)."""
    r = classify(_cr_read(markers=[_draw(0, 900.0), _draw(60, 900.0), _draw(120, 950.0)]),
                 RECIST_1_1)
    assert [t.response for t in r.timepoints[1:]] == ["PR", "PR"]
    assert "AFP 900 ng/mL on day 60" in " ".join(r.timepoints[1].reasons)
    # normalised by the second scan (a draw 4 days after it stands for it) → CR there
    r = classify(_cr_read(markers=[_draw(0, 900.0), _draw(60, 900.0), _draw(124, 6.0)]),
                 RECIST_1_1)
    assert [t.response for t in r.timepoints[1:]] == ["PR", "CR"]


def test_recist_cr_reads_the_clinical_options_marker_limits():
    """AFP 15 ng/mL at the CR scan after 900 before treatment: above the Japanese limit (10), normal
    under the Western one (20).  ``assess(clinical_options={"afp_uln_ng_ml": 20})`` set the clinical
    CR's limit only; the RECIST CR kept 10 (PR) while the clinical CR read 20."""
    from hcc_imaging.response import assess

    d = _cr_read(markers=[_draw(0, 900.0), _draw(60, 15.0), _draw(120, 15.0)])
    assert classify(d, RECIST_1_1).timepoints[1].response == "PR"  # default limits: AFP ≤ 10
    for crit, cr in (("RECIST1.1", "CR"), ("iRECIST", "iCR")):
        west = assess(d, criteria=[crit], clinical_options={"afp_uln_ng_ml": 20})
        assert west.results[crit].timepoints[1].response == cr
        assert assess(d, criteria=[crit]).results[crit].timepoints[1].response != cr


def test_markers_flag_wins_over_draws_and_draws_decide_only_near_the_scan():
    high = [_draw(0, 900.0), _draw(60, 900.0), _draw(120, 900.0)]
    assert classify(_cr_read(flag=True, markers=high), RECIST_1_1).timepoints[1].response == "CR"
    # normal before treatment: no requirement, whatever later
    r = classify(_cr_read(markers=[_draw(0, 5.0), _draw(60, 900.0)]), RECIST_1_1)
    assert r.timepoints[1].response == "CR"
    # no draw within MARKER_WINDOW_DAYS of the scan: the draws do not decide
    far = [_draw(0, 900.0), _draw(60 + MARKER_WINDOW_DAYS + 1, 900.0)]
    assert classify(_cr_read(markers=far), RECIST_1_1).timepoints[1].response == "CR"


# ---------------------------------------------------------------- split target
def _split(fu2, criteria_fields=False):
    def f(lid, ld, **kw):
        extra = {"viable_diameter_mm": ld, "enhancing": True, "well_delineated": True}
        return les(lid, ld, **(extra if criteria_fields else {}), **kw)
    return doc((0, [f("L1", 40.0)]),
               (42, [f("L1a", 20.0, split_from="L1"), f("L1b", 20.0, split_from="L1")]),
               (84, fu2(f)))


@pytest.mark.parametrize("rules", [RECIST_1_1, MRECIST], ids=lambda r: r.name)
def test_split_fragment_left_out_is_not_evaluated(rules):
    """RECIST 1.1 sec. 4.3.5 (criteria.md §2.3 "Missing measurements"): a target not assessed
    makes the time point NE unless the measured lesions prove PD; docs/read-document.md
    ``status``: a lesion left out is not evaluated, not gone.  Fragment L1b left out at FU2
    counted as 0 mm before (−50 %, PR)."""
    d = _split(lambda f: [f("L1a", 20.0, split_from="L1")], criteria_fields=True)
    tp = classify(d, rules).timepoints[2]
    assert (tp.target_response, tp.response, tp.sum) == ("NE", "NE", None)
    assert "fragment(s) L1b (recorded at FU1) not listed at FU2" in " ".join(tp.reasons)


def test_split_fragment_recorded_absent_counts_zero_and_listed_ones_may_prove_pd():
    gone = _split(lambda f: [f("L1a", 20.0, split_from="L1"),
                             f("L1b", None, split_from="L1", status="absent")])
    assert classify(gone, RECIST_1_1).timepoints[2].response == "PR"
    # L1a alone is 60 mm vs the nadir 40 mm: PD even without L1b (sec. 4.3.5)
    pd = _split(lambda f: [f("L1a", 60.0, split_from="L1")])
    assert classify(pd, RECIST_1_1).timepoints[2].response == "PD"


def test_split_non_target_fragment_left_out_is_not_evaluated():
    d = doc((0, [les("L1", 30.0), les("M1", role="non_target", status="present")]),
            (42, [les("L1", 30.0), les("M1a", role="non_target", status="present", split_from="M1"),
                  les("M1b", role="non_target", status="present", split_from="M1")]),
            (84, [les("L1", 30.0), les("M1a", role="non_target", status="absent",
                                       split_from="M1")]))
    tp = classify(d, RECIST_1_1).timepoints[2]
    assert tp.non_target_response == "NE"


# ---------------------------------------------------------------- mRECIST atypical growth
def _atypical(fu2_ld, **fu2):
    liver = viable("L1", 40.0, 30.0, enhancing=True, well_delineated=True)
    return doc((0, [liver]),
               (42, [liver, les("X", 15.0, role="new", typical_hcc_pattern=False)]),
               (84, [liver, les("X", fu2_ld, role="new", typical_hcc_pattern=False, **fu2)]))


def test_mrecist_atypical_new_lesion_growing_10mm_is_pd():
    """mRECIST (criteria.md §3.1 "New lesions"; AASLD-JNCI): a new lesion without the typical
    pattern counts as HCC once it shows ≥ 1 cm interval growth.  15 → 25 mm was SD before
    (growth only read from ``interval_growth_mm``)."""
    r = classify(_atypical(25.0), MRECIST)
    tp = r.timepoints[2]
    assert tp.new_lesions and tp.response == "PD"
    assert "grew from 15 mm at FU1 to 25 mm, +10 mm ≥ 10 mm" in " ".join(tp.reasons)
    assert r.pd_day == 42  # dated to the first scan that showed it (backdate_confirmed_new_lesions)


def test_mrecist_atypical_growth_below_10mm_or_recorded_growth_wins():
    tp = classify(_atypical(24.9), MRECIST).timepoints[2]
    assert tp.response == "SD" and "+9.9 mm so far" in " ".join(tp.reasons)
    # the reader's interval_growth_mm wins over the growth derived from the diameters
    assert classify(_atypical(25.0, interval_growth_mm=4.0), MRECIST).timepoints[2].response == "SD"
    assert classify(_atypical(20.0, interval_growth_mm=10.0), MRECIST).timepoints[2].response == "PD"

"""Published rules on new lymph nodes, unlisted new lesions and iRECIST non-target confirmation.

* RECIST 1.1 sec. 3.1 and the RECIST WG FAQ "New lymph node lesions": a node with short axis
  < 10 mm is non-pathological; a new one is not a new lesion (10.0 mm is).  mRECIST's
  porta-hepatis rule (≥ 20 mm) comes first.
* A new lesion recorded earlier and not listed later is not "gone": the new lesions are not all
  evaluated, so the time point is NE unless PD is proven otherwise (as for targets and
  non-targets); ``status: absent`` says it resolved.
* iRECIST (criteria.md §6.2): after a non-target iUPD, iCPD needs a *further* increase
  (``further_increase``, or a non-target progressed since); a non-target still
  ``unequivocal_progression`` as at the iUPD keeps iUPD (no reset, no iCPD).
"""

from __future__ import annotations

import pytest

from hcc_imaging.response import assess
from hcc_imaging.response.irecist import classify_irecist, new_lesion_categories

from .response_helpers import doc, les


def _node(lid: str, sa: float | None = None, **kw):
    out = {"lesion_id": lid, "role": "new", "organ": "lymph_node", "is_lymph_node": True, **kw}
    if sa is not None:
        out["short_axis_mm"] = sa
    return out


def _target(ld: float = 30.0):
    return les("L1", ld, viable_diameter_mm=15.0, enhancing=True, well_delineated=True)


def _fu1(*criteria: str, node: dict) -> dict[str, str]:
    d = doc((0, [_target()]), (56, [_target(), node]))
    res = assess(d, list(criteria)).results
    return {k: r.timepoints[1].response for k, r in res.items()}


ALL = ("RECIST1.1", "mRECIST", "iRECIST")


@pytest.mark.parametrize(("sa", "expected"), [
    pytest.param(8.0, {"RECIST1.1": "SD", "mRECIST": "SD", "iRECIST": "iSD"},
                 id="new-node-8mm-not-pathological-not-pd"),
    pytest.param(9.9, {"RECIST1.1": "SD", "mRECIST": "SD", "iRECIST": "iSD"},
                 id="new-node-9.9mm-not-pathological-not-pd"),
    pytest.param(10.0, {"RECIST1.1": "PD", "mRECIST": "PD", "iRECIST": "iUPD"},
                 id="new-node-10.0mm-pathological-new-lesion-pd"),
    pytest.param(14.9, {"RECIST1.1": "PD", "mRECIST": "PD", "iRECIST": "iUPD"},
                 id="new-node-14.9mm-pathological-new-lesion-pd"),
])
def test_new_lymph_node_counts_only_from_10mm_short_axis(sa, expected):
    assert _fu1(*ALL, node=_node("X", sa)) == expected


def test_new_node_too_small_is_not_a_new_lesion_and_reason_says_why():
    d = doc((0, [_target()]), (56, [_target(), _node("X", status="too_small")]))
    res = assess(d, ["RECIST1.1"]).results["RECIST1.1"]
    assert res.timepoints[1].response == "SD"
    assert any("new lymph node X too small to measure" in r and "not a new lesion" in r
               for r in res.timepoints[1].reasons)
    d = doc((0, [_target()]), (56, [_target(), _node("X", 9.9)]))
    reasons = assess(d, ["RECIST1.1"]).results["RECIST1.1"].timepoints[1].reasons
    assert any("new lymph node X short axis 9.9 mm < 10 mm: not pathological" in r
               for r in reasons)


def test_who_keeps_counting_any_new_node():
    """WHO (no short-axis rule, nodes must disappear) is unchanged: any new node is PD."""
    d = doc((0, [les("L1", 30.0, short_axis_mm=20.0)]),
            (56, [les("L1", 30.0, short_axis_mm=20.0), _node("X", 8.0)]))
    assert assess(d, ["WHO"]).results["WHO"].timepoints[1].response == "PD"


@pytest.mark.parametrize(("sa", "expected"), [
    pytest.param(9.9, "SD", id="porta-node-9.9mm-not-malignant"),
    pytest.param(19.9, "SD", id="porta-node-19.9mm-not-malignant-mrecist"),
    pytest.param(20.0, "PD", id="porta-node-20mm-malignant-mrecist"),
])
def test_new_porta_hepatis_node_mrecist(sa, expected):
    assert _fu1("mRECIST", node=_node("X", sa, porta_hepatis=True)) == {"mRECIST": expected}


def test_porta_hepatis_node_under_recist_follows_the_10mm_rule():
    assert _fu1("RECIST1.1", node=_node("X", 12.0, porta_hepatis=True)) == {"RECIST1.1": "PD"}
    assert _fu1("RECIST1.1", node=_node("X", 9.9, porta_hepatis=True)) == {"RECIST1.1": "SD"}


def test_node_growing_to_10mm_is_new_then_and_categorised_then():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 50.0), _node("X", 8.0)]),
            (84, [les("L1", 50.0), _node("X", 16.0)]))
    res = classify_irecist(d)
    assert [t.response for t in res.timepoints[1:]] == ["iSD", "iUPD"]
    assert new_lesion_categories(d)["X"].value == "nlt"  # measured at 16 mm, not at 8 mm


def test_small_new_node_after_iupd_is_no_further_new_lesion():
    d = doc((0, [les("L1", 50.0)]), (42, [les("L1", 50.0), _node("X", 12.0)]),
            (84, [les("L1", 50.0), _node("X", 12.0), _node("Y", 9.9)]))
    assert [t.response for t in classify_irecist(d).timepoints[1:]] == ["iUPD", "iUPD"]


# ------------------------------------------------------------ new lesions left unlisted
def _new(lid: str = "X", ld: float = 15.0, **kw):
    return {"lesion_id": lid, "role": "new", "organ": "bone", "longest_diameter_mm": ld, **kw}


def test_new_lesion_not_listed_later_is_not_evaluated_not_resolved_irecist():
    d = doc((0, [les("L1", 50.0)]), (56, [les("L1", 50.0), _new()]), (112, [les("L1", 30.0)]))
    res = classify_irecist(d)
    assert [t.response for t in res.timepoints[1:]] == ["iUPD", "NE"]
    assert (res.bor_unconfirmed, res.bor_confirmed) == ("iUPD", "iUPD")
    assert any("X (recorded at FU1) not listed at FU2" in r for r in res.timepoints[2].reasons)


def test_new_lesion_recorded_absent_resolves_and_resets_iupd():
    d = doc((0, [les("L1", 50.0)]), (56, [les("L1", 50.0), _new()]),
            (112, [les("L1", 30.0), {"lesion_id": "X", "role": "new", "status": "absent"}]))
    assert [t.response for t in classify_irecist(d).timepoints[1:]] == ["iUPD", "iPR"]


def test_non_target_only_new_lesion_unlisted_is_ne_not_icr():
    nt = lambda st: {"lesion_id": "NT1", "role": "non_target", "organ": "lung", "status": st}
    d = doc((0, [nt("present")]), (56, [nt("present"), _new()]), (112, [nt("absent")]))
    assert [t.response for t in classify_irecist(d).timepoints[1:]] == ["iUPD", "NE"]


@pytest.mark.parametrize(("fu2", "expected"), [
    pytest.param([les("L1", 20.0)], "NE", id="unlisted-equivocal-new-lesion-ne"),
    pytest.param([les("L1", 20.0), _new(equivocal=True)], "PR", id="listed-equivocal-still-pr"),
    pytest.param([les("L1", 40.0)], "PD", id="unlisted-but-targets-prove-pd"),
])
def test_recist_unlisted_new_lesion(fu2, expected):
    d = doc((0, [les("L1", 30.0)]), (56, [les("L1", 20.0), _new(equivocal=True)]), (112, fu2))
    res = assess(d, ["RECIST1.1"]).results["RECIST1.1"]
    assert res.timepoints[2].response == expected


def test_split_new_lesion_listed_by_its_fragments_is_evaluated():
    d = doc((0, [les("L1", 50.0)]), (56, [les("L1", 50.0), _new()]),
            (112, [les("L1", 50.0), _new("Xa", 8.0, split_from="X"),
                   _new("Xb", 9.0, split_from="X")]))
    res = assess(d, ["RECIST1.1"]).results["RECIST1.1"]
    assert not any("not listed" in r for r in res.timepoints[2].reasons)


# ------------------------------------------------------------ iRECIST non-target confirmation
def _nt(status: str, lid: str = "NT1"):
    return {"lesion_id": lid, "role": "non_target", "organ": "lung", "status": status}


def _nt_series(*statuses, days=(0, 56, 112, 168)):
    """One target L1 (50 mm throughout) and non-targets NT1 (NT2 ...) with these statuses."""
    tps = [(d, [les("L1", 50.0), *([_nt(s, f"NT{i + 1}") for i, s in enumerate(st)]
                                   if isinstance(st, tuple) else [_nt(st)])])
           for d, st in zip(days, statuses)]
    return classify_irecist(doc(*tps))


@pytest.mark.parametrize(("fu2", "expected"), [
    pytest.param("unequivocal_progression", "iUPD", id="unchanged-unequivocal-stays-iupd"),
    pytest.param("further_increase", "iCPD", id="further-increase-confirms-icpd"),
    pytest.param("present", "iSD", id="no-longer-progressed-resets-isd"),
])
def test_nontarget_iupd_needs_a_further_increase(fu2, expected):
    res = _nt_series("present", "unequivocal_progression", fu2)
    assert [t.response for t in res.timepoints[1:]] == ["iUPD", expected]


def test_unchanged_unequivocal_progression_reason_and_ibor():
    res = _nt_series("present", "unequivocal_progression", "unequivocal_progression",
                     "further_increase")
    assert [t.response for t in res.timepoints[1:]] == ["iUPD", "iUPD", "iCPD"]
    assert any("NT1 still unequivocal_progression as at FU1 is no further increase" in r
               for r in res.timepoints[2].reasons)
    assert res.pd_day == 56


def test_another_non_target_progressing_after_iupd_confirms():
    res = _nt_series(("present", "present"), ("unequivocal_progression", "present"),
                     ("unequivocal_progression", "unequivocal_progression"))
    (row,) = res.timepoints[2:]
    assert row.response == "iCPD"
    assert any("non-target increase: NT2" in r for r in row.reasons)


def test_early_further_increase_stays_iupd_instead_of_resetting():
    """A further increase seen < 28 days after iUPD cannot confirm; it is no reset either."""
    res = _nt_series("present", "unequivocal_progression", "further_increase", "further_increase",
                     days=(0, 56, 70, 112))
    assert [t.response for t in res.timepoints[1:]] == ["iUPD", "iUPD", "iCPD"]


def test_nlnt_still_unequivocal_is_no_further_increase():
    x = lambda st: {"lesion_id": "X", "role": "new", "organ": "bone", "status": st}
    d = doc((0, [les("L1", 50.0)]), (56, [les("L1", 50.0), x("unequivocal_progression")]),
            (112, [les("L1", 50.0), x("unequivocal_progression")]),
            (168, [les("L1", 50.0), x("further_increase")]))
    assert [t.response for t in classify_irecist(d).timepoints[1:]] == ["iUPD", "iUPD", "iCPD"]

"""Agreement statistics against hand-computed values, the published Shrout & Fleiss example,
scikit-learn's cohen_kappa_score and statsmodels (kappa, two-way ANOVA mean squares)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from hcc_imaging.study import AdjudicatorSession, ReaderSession, Store
from hcc_imaging.study.agreement import AgreementError, bland_altman, cohen_kappa, icc

A = ["PR", "PR", "SD", "PD"]
B = ["PR", "SD", "SD", "PD"]


def test_kappa_hand_computed() -> None:
    # p_o = 3/4; p_e = (2*1 + 1*2 + 1*1) / 16 = 5/16; kappa = (12/16 - 5/16) / (11/16) = 7/11
    assert cohen_kappa(A, B) == pytest.approx(7 / 11)
    assert cohen_kappa(A, A) == pytest.approx(1.0)


CASES = [
    pytest.param(["CR", "PR", "SD", "PD", "PR", "SD", "SD", "NE"], ["CR", "SD", "SD", "PD", "PR", "PR", "SD", "PD"], id="8-reads"),
    pytest.param(["PR"] * 5 + ["SD"] * 5, ["PR"] * 3 + ["SD"] * 7, id="two-categories"),
    pytest.param(["PD", "SD", "PR", "CR"], ["CR", "PR", "SD", "PD"], id="reversed-negative"),
]


@pytest.mark.parametrize("a, b", CASES)
def test_kappa_matches_sklearn_and_statsmodels(a: list[str], b: list[str]) -> None:
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import cohens_kappa

    labels = ["CR", "PR", "SD", "PD", "NE"]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    table = np.zeros((5, 5))
    for x, y in zip(a, b):
        table[labels.index(x), labels.index(y)] += 1
    assert cohen_kappa(a, b, labels=labels) == pytest.approx(cohens_kappa(table).kappa)
    for w in ("linear", "quadratic"):
        assert cohen_kappa(a, b, labels=labels, weights=w) == pytest.approx(cohen_kappa_score(a, b, labels=labels, weights=w))


SF_TABLE = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


@pytest.mark.parametrize(
    "form, published",
    [pytest.param("ICC(1,1)", 0.17, id="one-way"), pytest.param("ICC(2,1)", 0.29, id="two-way-absolute"),
     pytest.param("ICC(3,1)", 0.71, id="two-way-consistency")],
)
def test_icc_shrout_fleiss_table_2(form: str, published: float) -> None:
    """Shrout & Fleiss (1979) Psychol Bull 86:420, Table 4 values for the Table 2 data."""
    assert icc(SF_TABLE, form).value == pytest.approx(published, abs=0.005)


def test_icc_mean_squares_match_statsmodels_anova() -> None:
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(3)
    truth = rng.uniform(20, 120, 15)
    table = np.stack([truth + rng.normal(0, 4, 15), truth + 10 + rng.normal(0, 4, 15)], axis=1)
    long = pd.DataFrame([(i, j, table[i, j]) for i in range(15) for j in range(2)], columns=["subject", "rater", "y"])
    aov = anova_lm(ols("y ~ C(subject) + C(rater)", data=long).fit(), typ=2)
    ms = aov["sum_sq"] / aov["df"]
    r = icc(table, "ICC(2,1)")
    assert r.ms_rows == pytest.approx(ms["C(subject)"])
    assert r.ms_cols == pytest.approx(ms["C(rater)"])
    assert r.ms_error == pytest.approx(ms["Residual"])
    n, k = table.shape
    want = (r.ms_rows - r.ms_error) / (r.ms_rows + (k - 1) * r.ms_error + k * (r.ms_cols - r.ms_error) / n)
    assert r.value == pytest.approx(want)
    # a constant offset between readers lowers absolute agreement, not consistency
    assert icc(table, "ICC(2,1)").value < icc(table, "ICC(3,1)").value


def test_bland_altman_hand_computed() -> None:
    r = bland_altman([10.0, 20.0, 30.0], [9.0, 21.0, 27.0])
    # d = [1, -1, 3]: mean 1, SD (n-1) = sqrt((0 + 4 + 4) / 2) = 2
    assert (r.n, r.mean_diff, r.sd_diff) == (3, pytest.approx(1.0), pytest.approx(2.0))
    assert (r.lower_loa, r.upper_loa) == (pytest.approx(1 - 1.96 * 2), pytest.approx(1 + 1.96 * 2))


@pytest.mark.parametrize(
    "call, match",
    [
        pytest.param(lambda: cohen_kappa(["PR"], ["PR", "SD"]), "paired ratings", id="kappa-lengths"),
        pytest.param(lambda: cohen_kappa([], []), "zero items", id="kappa-empty"),
        pytest.param(lambda: cohen_kappa(["PR", "PR"], ["PR", "PR"]), "chance agreement is 1", id="kappa-one-category"),
        pytest.param(lambda: cohen_kappa(["PR"], ["XX"], labels=["PR"]), "not among labels", id="kappa-labels"),
        pytest.param(lambda: cohen_kappa(["PR"], ["SD"], weights="cubic"), "not supported", id="kappa-weights"),
        pytest.param(lambda: icc([[1.0, 2.0]]), "2 subjects", id="icc-one-subject"),
        pytest.param(lambda: icc([[1.0, 1.0], [1.0, 1.0]]), "no variance", id="icc-constant"),
        pytest.param(lambda: icc([[1.0, math.nan], [1.0, 2.0]]), "NaN", id="icc-nan"),
        pytest.param(lambda: icc(SF_TABLE, "ICC(2,k)"), "not implemented", id="icc-form"),
        pytest.param(lambda: bland_altman([1.0], [2.0]), "at least 2 pairs", id="ba-one-pair"),
        pytest.param(lambda: bland_altman([1.0, 2.0], [2.0]), "equal-length", id="ba-lengths"),
        pytest.param(lambda: bland_altman([1.0, math.inf], [2.0, 3.0]), "NaN or infinite", id="ba-inf"),
    ],
)
def test_agreement_errors(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AgreementError, match=match):
        call()


# reader sums (mm) per patient at BL, FU1, FU2 -> responses by the conftest sum assessor
SUMS = {
    "P1": {"R1": (50.0, 30.0, 28.0), "R2": (52.0, 34.0, 30.0)},   # PR PR / PR PR
    "P2": {"R1": (40.0, 36.0, 50.0), "R2": (40.0, 26.0, 25.0)},   # SD PD / PR PR
    "P3": {"R1": (60.0, 58.0, 57.0), "R2": (62.0, 61.0, 75.0)},   # SD SD / SD PD
    "P4": {"R1": (30.0, 20.0, 35.0), "R2": (31.0, 22.0, 30.0)},   # PR PD / SD PD
}


def test_agreement_report_from_the_store(store: Store, assessor) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import cohen_kappa_score

    store.add_reader("R1")
    store.add_reader("R2")
    store.add_reader("ADJ", "adjudicator")
    for pid, by_reader in SUMS.items():
        store.add_patient(pid)
        for i, tp in enumerate(("BL", "FU1", "FU2")):
            store.add_timepoint(pid, tp, dt.date(2024, 1 + 2 * i, 1))
        for reader, sums in by_reader.items():
            sess = ReaderSession(store, reader)
            sess.add_lesion(pid, "L1")
            r = sess.start_read(pid, ["BL", "FU1", "FU2"], "RECIST1.1")
            for tp, v in zip(("BL", "FU1", "FU2"), sums):
                sess.record_measurement(r.read_uid, tp, "L1", longest_diameter_mm=v)
            sess.lock(r.read_uid, assessor=assessor)
    adj = AdjudicatorSession(store, "ADJ")
    paired = adj.paired_responses("recist1.1", "R1", "R2")
    tp_a = [p[2] for p in paired.timepoint_pairs]
    tp_b = [p[3] for p in paired.timepoint_pairs]
    assert tp_a == ["PR", "PR", "SD", "PD", "SD", "SD", "PR", "PD"]
    assert tp_b == ["PR", "PR", "PR", "PR", "SD", "PD", "SD", "PD"]
    rep = adj.agreement("RECIST1.1", "R1", "R2")
    assert (rep.n_timepoints, rep.n_patients, rep.n_sums) == (8, 4, 12)
    assert rep.kappa_timepoint == pytest.approx(cohen_kappa_score(tp_a, tp_b))
    bor_a = [p[1] for p in paired.bor_pairs]
    bor_b = [p[2] for p in paired.bor_pairs]
    assert bor_a == ["PR", "SD", "SD", "PR"] and bor_b == ["PR", "PR", "SD", "SD"]
    assert rep.kappa_bor == pytest.approx(cohen_kappa_score(bor_a, bor_b))
    a = np.array([v for p in SUMS.values() for v in p["R1"]])
    b = np.array([v for p in SUMS.values() for v in p["R2"]])
    d = a - b
    assert rep.bland_altman_sum.mean_diff == pytest.approx(d.mean())
    assert rep.bland_altman_sum.upper_loa == pytest.approx(d.mean() + 1.96 * d.std(ddof=1))
    assert rep.icc_sum.form == "ICC(2,1)"
    assert rep.icc_sum.value == pytest.approx(icc(np.stack([a, b], axis=1)).value)
    assert rep.notes == ()
    js = rep.to_json()
    assert js["sum_unit"] == "mm" and js["icc_sum"]["form"] == "ICC(2,1)"


def test_report_records_undefined_statistics_as_none(store: Store, assessor) -> None:  # type: ignore[no-untyped-def]
    store.add_reader("R1")
    store.add_reader("R2")
    store.add_reader("ADJ", "adjudicator")
    store.add_patient("P1")
    store.add_timepoint("P1", "BL", dt.date(2024, 1, 1))
    store.add_timepoint("P1", "FU1", dt.date(2024, 3, 1))
    for reader in ("R1", "R2"):
        sess = ReaderSession(store, reader)
        sess.add_lesion("P1", "L1")
        r = sess.start_read("P1", ["BL", "FU1"], "RECIST1.1")
        sess.record_measurement(r.read_uid, "BL", "L1", longest_diameter_mm=40.0)
        sess.record_measurement(r.read_uid, "FU1", "L1", longest_diameter_mm=20.0)
        sess.lock(r.read_uid, assessor=assessor)
    rep = AdjudicatorSession(store, "ADJ").agreement("RECIST1.1", "R1", "R2")
    assert rep.kappa_bor is None and rep.kappa_timepoint is None
    assert rep.icc_sum is not None  # two sums (BL, FU1) per reader still vary
    assert any("chance agreement is 1" in n for n in rep.notes)


@pytest.mark.parametrize(
    "form, rater_sd, truth",
    [
        pytest.param("ICC(3,1)", 3.0, 16.0 / (16.0 + 4.0), id="consistency-exact-F-interval"),
        pytest.param("ICC(2,1)", 1.0, 16.0 / (16.0 + 1.0 + 4.0), id="absolute-agreement-approximate-interval"),
    ],
)
def test_icc_confidence_interval_coverage(form: str, rater_sd: float, truth: float) -> None:
    """Simulated two-way random model (subject SD 4, error SD 2, 30 subjects x 2 readers): the
    95 % McGraw & Wong interval covers the true ICC in about 95 % of 400 trials.  (The ICC(2,1)
    interval is a Satterthwaite approximation; it under-covers when the rater variance is large
    and there are few raters - ~84 % at rater SD 3 with 3 raters - as documented.)"""
    rng = np.random.default_rng(11)
    hits = 0
    trials = 400
    for _ in range(trials):
        s = rng.normal(0, 4.0, (30, 1))
        r = rng.normal(0, rater_sd, (1, 2))
        e = rng.normal(0, 2.0, (30, 2))
        res = icc(50.0 + s + r + e, form)
        assert res.ci_lower is not None and res.ci_upper is not None
        assert res.ci_lower <= res.value <= res.ci_upper
        hits += res.ci_lower <= truth <= res.ci_upper
    # binomial SD of the coverage at 400 trials is 1.1 %: accept 91 %-99 %
    assert 0.91 <= hits / trials <= 0.99


def test_icc_ci_level_checked() -> None:
    with pytest.raises(AgreementError, match="ci_level"):
        icc(SF_TABLE, ci_level=1.5)
    narrow, wide = icc(SF_TABLE, ci_level=0.5), icc(SF_TABLE, ci_level=0.99)
    assert wide.ci_lower < narrow.ci_lower < narrow.value < narrow.ci_upper < wide.ci_upper

"""Inter-reader agreement: Cohen's kappa, intraclass correlation, Bland-Altman limits.

Pure numpy; the store-facing entry point is
:meth:`hcc_imaging.study.reads.AdjudicatorSession.agreement`, which pairs two readers'
locked responses under one criterion and calls :func:`agreement_report`:

* Cohen's kappa on time-point responses (pairs = patient x time point) and on BOR
  (pairs = patient), unweighted (nominal categories);
* ICC(2,1) and Bland-Altman limits on the criterion's sum of diameters (mm) per time point.

Definitions
-----------
**Cohen's kappa** (Cohen 1960): ``kappa = (p_o - p_e) / (1 - p_e)``, ``p_o`` the observed
proportion of agreement, ``p_e = sum_c p_a(c) p_b(c)`` the agreement expected from the two
readers' marginal frequencies.  Weighted kappa (Cohen 1968) with ``weights="linear"`` or
``"quadratic"`` uses disagreement weights ``|i - j|`` or ``(i - j)^2`` over the label order:
``kappa_w = 1 - sum w O / sum w E``.  Same definition as ``sklearn.metrics.cohen_kappa_score``.

**ICC** (Shrout & Fleiss 1979; McGraw & Wong 1996) from the two-way ANOVA of an
``n subjects x k raters`` table: MSR (between subjects), MSC (between raters), MSE (residual),
MSW (within subjects = (SSC + SSE) / (n (k - 1))).

* ``ICC(1,1)`` one-way random, single rater: ``(MSR - MSW) / (MSR + (k-1) MSW)``
* ``ICC(2,1)`` two-way random, **absolute agreement**, single rater (the default here; readers
  are a sample of possible readers and a systematic offset between them is disagreement):
  ``(MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)``
* ``ICC(3,1)`` two-way mixed, consistency, single rater: ``(MSR - MSE) / (MSR + (k-1) MSE)``

**Bland-Altman** (Bland & Altman 1986): differences ``d = a - b``; bias = mean(d); limits of
agreement = bias -/+ 1.96 SD(d), SD with ``n - 1`` degrees of freedom.

Undefined statistics (kappa when both readers use one single category, ICC with fewer than
two subjects or zero variance) raise :class:`AgreementError`; the report records them as
None with the reason, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import HccImagingError

__all__ = [
    "AgreementError",
    "ICC_FORMS",
    "IccResult",
    "BlandAltman",
    "PairedResponses",
    "AgreementReport",
    "cohen_kappa",
    "icc",
    "bland_altman",
    "agreement_report",
    "BLAND_ALTMAN_Z",
]

#: Normal quantile of the 95 % limits of agreement (Bland & Altman 1986 use 1.96).
BLAND_ALTMAN_Z: float = 1.96

#: ICC forms implemented (Shrout & Fleiss notation).
ICC_FORMS: tuple[str, ...] = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)")


class AgreementError(HccImagingError, ValueError):
    """An agreement statistic is undefined for the data given (too few pairs, no variance)."""


def cohen_kappa(
    a: Sequence[str], b: Sequence[str], *, labels: Sequence[str] | None = None, weights: str | None = None
) -> float:
    """Cohen's kappa between two raters' categorical ratings of the same items.

    Parameters
    ----------
    a, b : sequence of str
        Ratings of the same items, in the same order.
    labels : sequence of str, optional
        Category order (needed for weighted kappa; default: sorted union of both ratings).
    weights : {None, 'linear', 'quadratic'}
        None for Cohen's (1960) unweighted kappa.

    Examples
    --------
    >>> round(cohen_kappa(["PR", "PR", "SD", "PD"], ["PR", "SD", "SD", "PD"]), 4)
    0.6364
    """
    if len(a) != len(b):
        raise AgreementError(f"kappa needs paired ratings; got {len(a)} and {len(b)} items. Pair the ratings per item first.")
    if len(a) == 0:
        raise AgreementError("kappa of zero items is undefined; pass at least one rated item per reader.")
    cats = list(labels) if labels is not None else sorted(set(a) | set(b))
    index = {c: i for i, c in enumerate(cats)}
    missing = (set(a) | set(b)) - set(index)
    if missing:
        raise AgreementError(f"ratings {sorted(missing)} are not among labels {cats}; add them to labels.")
    m = len(cats)
    obs = np.zeros((m, m))
    for x, y in zip(a, b, strict=True):
        obs[index[x], index[y]] += 1
    n = obs.sum()
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / n
    ii, jj = np.indices((m, m))
    if weights is None:
        w = (ii != jj).astype(float)
    elif weights == "linear":
        w = np.abs(ii - jj).astype(float)
    elif weights == "quadratic":
        w = ((ii - jj) ** 2).astype(float)
    else:
        raise AgreementError(f"weights={weights!r} is not supported; use None, 'linear' or 'quadratic'.")
    denom = float((w * expected).sum())
    if denom == 0.0:
        raise AgreementError(
            f"kappa is undefined: both readers gave every one of the {int(n)} items the same single category, so chance "
            "agreement is 1. Report raw agreement instead, or add items."
        )
    return 1.0 - float((w * obs).sum()) / denom


@dataclass(frozen=True, slots=True)
class IccResult:
    """ICC value with the ANOVA mean squares it came from and its confidence interval.

    ``ci_lower``/``ci_upper``: the F-based interval of McGraw & Wong (1996) at ``ci_level``
    (None when undefined, e.g. perfect agreement or an F quantile that does not exist).
    """

    form: str
    value: float
    n_subjects: int
    k_raters: int
    ms_rows: float
    ms_cols: float
    ms_error: float
    ms_within: float
    ci_lower: float | None = None
    ci_upper: float | None = None
    ci_level: float = 0.95


def _icc_ci(form: str, value: float, n: int, k: int, msr: float, msc: float, mse: float, msw: float,
            level: float) -> tuple[float | None, float | None]:
    """McGraw & Wong (1996) confidence interval of a single-rater ICC (cases 1, 2A, 3A)."""
    from scipy.stats import f as fdist

    alpha = 1.0 - level
    q = 1.0 - alpha / 2.0
    try:
        if form in ("ICC(1,1)", "ICC(3,1)"):
            denom_ms, df2 = (msw, n * (k - 1)) if form == "ICC(1,1)" else (mse, (n - 1) * (k - 1))
            if denom_ms <= 0:
                return None, None
            fo = msr / denom_ms
            fl = fo / fdist.ppf(q, n - 1, df2)
            fu = fo * fdist.ppf(q, df2, n - 1)
            lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
        else:
            if value >= 1.0:
                return None, None
            a = k * value / (n * (1 - value))
            b = 1 + k * value * (n - 1) / (n * (1 - value))
            v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
            fl = fdist.ppf(q, n - 1, v)
            fu = fdist.ppf(q, v, n - 1)
            lo = n * (msr - fl * mse) / (fl * (k * msc + (k * n - k - n) * mse) + n * msr)
            hi = n * (fu * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fu * msr)
    except (ZeroDivisionError, FloatingPointError, ValueError):
        return None, None
    lo_f, hi_f = float(lo), float(hi)
    if not (math.isfinite(lo_f) and math.isfinite(hi_f)):
        return None, None
    return lo_f, hi_f


def icc(ratings: Sequence[Sequence[float]] | np.ndarray, form: str = "ICC(2,1)", *, ci_level: float = 0.95) -> IccResult:
    """Intraclass correlation of an ``n subjects x k raters`` table (see module docstring).

    The confidence interval is McGraw & Wong's (1996) F-based interval (Psychol Methods
    1:30-46, Table 7, cases 1, 2A and 3A), as in most statistics packages.  For ICC(2,1) it is
    a Satterthwaite approximation that under-covers when the between-rater variance is large
    and raters are few (simulated: ~95 % coverage with a rater SD a quarter of the subject SD,
    ~84 % with 3 raters and a rater SD three quarters of it).

    Examples
    --------
    Shrout & Fleiss (1979), Table 2 (6 targets, 4 judges): ICC(2,1) = 0.29.

    >>> t = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> round(icc(t, "ICC(2,1)").value, 2)
    0.29
    """
    if form not in ICC_FORMS:
        raise AgreementError(f"ICC form {form!r} is not implemented; use one of {list(ICC_FORMS)}.")
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise AgreementError(f"ICC needs a table of >= 2 subjects x >= 2 raters; got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise AgreementError("ICC ratings contain NaN or infinite values; drop the subjects with a missing rating.")
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((x - grand) ** 2).sum())
    ss_error = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_error) / (n * (k - 1))
    if form == "ICC(1,1)":
        num, den = msr - msw, msr + (k - 1) * msw
    elif form == "ICC(2,1)":
        num, den = msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n
    else:
        num, den = msr - mse, msr + (k - 1) * mse
    if den == 0.0 or not math.isfinite(num / den if den else math.nan):
        raise AgreementError(f"{form} is undefined: the ratings have no variance (all {n}x{k} values equal).")
    if not 0.0 < ci_level < 1.0:
        raise AgreementError(f"ci_level must be in (0, 1), got {ci_level}.")
    value = num / den
    lo, hi = _icc_ci(form, value, n, k, msr, msc, mse, msw, ci_level)
    return IccResult(form, value, n, k, msr, msc, mse, msw, lo, hi, ci_level)


@dataclass(frozen=True, slots=True)
class BlandAltman:
    """Bland-Altman agreement of paired measurements ``a - b`` (in the input's unit)."""

    n: int
    mean_diff: float
    sd_diff: float
    lower_loa: float
    upper_loa: float


def bland_altman(a: Sequence[float], b: Sequence[float], *, z: float = BLAND_ALTMAN_Z) -> BlandAltman:
    """Bias and 95 % limits of agreement of ``a - b`` (Bland & Altman 1986).

    Examples
    --------
    >>> r = bland_altman([10.0, 20.0, 30.0], [9.0, 21.0, 27.0])
    >>> round(r.mean_diff, 3), round(r.sd_diff, 3)
    (1.0, 2.0)
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise AgreementError(f"Bland-Altman needs two equal-length 1D sequences; got shapes {x.shape} and {y.shape}.")
    if x.size < 2:
        raise AgreementError(f"Bland-Altman limits need at least 2 pairs; got {x.size}.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise AgreementError("Bland-Altman input contains NaN or infinite values; drop incomplete pairs.")
    d = x - y
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    return BlandAltman(int(d.size), mean, sd, mean - z * sd, mean + z * sd)


@dataclass(frozen=True, slots=True)
class PairedResponses:
    """Two readers' locked responses under one criterion, paired by patient and time point."""

    criteria: str
    reader_a: str
    reader_b: str
    #: (patient_id, timepoint_id, category of a, category of b)
    timepoint_pairs: tuple[tuple[str, str, str, str], ...]
    #: (patient_id, BOR of a, BOR of b)
    bor_pairs: tuple[tuple[str, str, str], ...]
    #: (patient_id, timepoint_id, sum of a, sum of b) in ``sum_unit``
    sum_pairs: tuple[tuple[str, str, float, float], ...]
    #: Unit of the sums: mm (RECIST 1.1, mRECIST, iRECIST) or mm2 (WHO, EASL, RECICL).
    sum_unit: str = "mm"


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Agreement of two readers under one criterion (None = undefined; see ``notes``)."""

    criteria: str
    reader_a: str
    reader_b: str
    n_timepoints: int
    kappa_timepoint: float | None
    n_patients: int
    kappa_bor: float | None
    n_sums: int
    icc_sum: IccResult | None
    bland_altman_sum: BlandAltman | None
    sum_unit: str = "mm"
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "criteria": self.criteria, "reader_a": self.reader_a, "reader_b": self.reader_b,
            "n_timepoints": self.n_timepoints, "kappa_timepoint": self.kappa_timepoint,
            "n_patients": self.n_patients, "kappa_bor": self.kappa_bor, "n_sums": self.n_sums,
            "icc_sum": None if self.icc_sum is None else {
                "form": self.icc_sum.form, "value": self.icc_sum.value, "ci_lower": self.icc_sum.ci_lower,
                "ci_upper": self.icc_sum.ci_upper, "ci_level": self.icc_sum.ci_level},
            "sum_unit": self.sum_unit,
            "bland_altman_sum": None if self.bland_altman_sum is None else {
                "n": self.bland_altman_sum.n, "mean_diff": self.bland_altman_sum.mean_diff,
                "sd_diff": self.bland_altman_sum.sd_diff, "lower_loa": self.bland_altman_sum.lower_loa,
                "upper_loa": self.bland_altman_sum.upper_loa},
            "notes": list(self.notes),
        }


def agreement_report(paired: PairedResponses, *, icc_form: str = "ICC(2,1)") -> AgreementReport:
    """Kappa (time points, BOR), ICC and Bland-Altman (sums) of a :class:`PairedResponses`."""
    notes: list[str] = []

    def attempt(label: str, fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except AgreementError as err:
            notes.append(f"{label}: {err}")
            return None

    kt = attempt("kappa (time points)", lambda: cohen_kappa([p[2] for p in paired.timepoint_pairs],
                                                            [p[3] for p in paired.timepoint_pairs]))
    kb = attempt("kappa (BOR)", lambda: cohen_kappa([p[1] for p in paired.bor_pairs], [p[2] for p in paired.bor_pairs]))
    table = [[p[2], p[3]] for p in paired.sum_pairs]
    ic = attempt(f"{icc_form} (sums)", lambda: icc(table, icc_form))
    ba = attempt("Bland-Altman (sums)", lambda: bland_altman([p[2] for p in paired.sum_pairs], [p[3] for p in paired.sum_pairs]))
    return AgreementReport(paired.criteria, paired.reader_a, paired.reader_b, len(paired.timepoint_pairs), kt,
                           len(paired.bor_pairs), kb, len(paired.sum_pairs), ic, ba, paired.sum_unit, tuple(notes))

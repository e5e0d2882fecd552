"""Best overall response, with and without confirmation (RECIST 1.1 sec. 4.4, Table 3).

Without confirmation: the best time-point response up to the first PD, ranked
CR > PR > SD (= NON-CR/NON-PD) > PD > NE; SD (and NON-CR/NON-PD) counts only from
``sd_min_days`` after study entry (day 0).  An SD before that followed by PD gives PD; followed
by NE or nothing, NE.

With confirmation (Table 3, criteria.md §2.6): a CR/PR counts when the confirming scan — by
default the **next evaluable** assessment ≥ ``confirmation_min_days`` later — shows CR/PR
(CR needs CR).  An evaluable scan in between (too soon to confirm) must still show the response
(``confirmation_intervening_must_hold``, default True): the first that does not is the
"subsequent time point" Table 3 reads, so PR, SD (18 days later), PR (58 days later) is not a
confirmed PR.  Ambiguous rows are parameters: ``cr_then_pr`` (CR then PR) and ``pr_then_sd``
(PR then SD).  Unconfirmed responses fall back to SD when the SD minimum is met, else PD (CR
followed by SD / PR or any PD) or NE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["best_overall_response", "unconfirmed_bor", "confirmed_bor", "response_start_days",
           "BorRules"]

_RANK = {"CR": 4, "PR": 3, "SD": 2, "NON-CR/NON-PD": 2, "PD": 1, "NE": 0}


class BorRules(Protocol):
    """The BOR parameters every rule object carries."""

    confirmation_min_days: int
    sd_min_days: int
    confirmation_scan: Any
    cr_then_pr: Any
    pr_then_sd: Any


def _until_pd(seq: Sequence[tuple[int, str | None]]) -> tuple[list[tuple[int, str]], bool]:
    out: list[tuple[int, str]] = []
    for day, resp in seq:
        r = resp or "NE"
        out.append((day, r))
        if r == "PD":
            return out, True
    return out, False


def _sd_label(seq: list[tuple[int, str]], has_targets: bool = True) -> str:
    """The stable label: NON-CR/NON-PD for a patient without target lesions (RECIST 1.1 Table 2's
    footnote: SD is not used when no lesion is measured; an unconfirmed CR of such a patient fell
    back to "SD"), else SD unless every response was NON-CR/NON-PD, PD or NE."""
    if not has_targets:
        return "NON-CR/NON-PD"
    return "NON-CR/NON-PD" if all(r in ("NON-CR/NON-PD", "PD", "NE") for _, r in seq) and any(
        r == "NON-CR/NON-PD" for _, r in seq) else "SD"


def _sd_minimum(seq: list[tuple[int, str]], rules: BorRules) -> tuple[bool, int | None]:
    for day, r in seq:
        if r in ("CR", "PR", "SD", "NON-CR/NON-PD") and day >= rules.sd_min_days:
            return True, day
    return False, None


def unconfirmed_bor(
    seq: Sequence[tuple[int, str | None]], rules: BorRules
) -> tuple[str, list[str]]:
    """BOR without confirmation from ``[(day, response), ...]`` (baseline excluded)."""
    cut, reached_pd = _until_pd(seq)
    best: str | None = None
    reasons: list[str] = []
    for day, r in cut:
        if r in ("CR", "PR"):
            cand = r
        elif r in ("SD", "NON-CR/NON-PD"):
            if day < rules.sd_min_days:
                reasons.append(f"{r} on day {day} is before the SD minimum "
                               f"({rules.sd_min_days} days, sd_min_days): not counted")
                continue
            cand = r
        else:
            continue
        if best is None or _RANK[cand] > _RANK[best]:
            best = cand
    if best is not None:
        reasons.append(f"unconfirmed BOR {best}: best response before "
                       + ("the first PD" if reached_pd else "the end of follow-up"))
        return best, reasons
    if reached_pd:
        reasons.append("unconfirmed BOR PD: progression before any qualifying response")
        return "PD", reasons
    reasons.append("unconfirmed BOR NE: no evaluable response meeting the SD minimum")
    return "NE", reasons


def _holds(r: str, r2: str, rules: BorRules) -> bool:
    """Whether a later ``r2`` keeps (would confirm) a CR / PR ``r`` (with the Table 3 readings
    ``cr_then_pr`` and ``pr_then_sd``)."""
    if r == "CR":
        return r2 == "CR" or (r2 == "PR" and str(rules.cr_then_pr) == "pr")
    return r2 in ("CR", "PR") or (r2 == "SD" and str(rules.pr_then_sd) == "pr")


def _scan(scan: tuple[int, str]) -> str:
    return f"{scan[1]} on day {scan[0]}"


def _confirm(
    cut: list[tuple[int, str]], i: int, rules: BorRules
) -> tuple[str | None, list[str], bool]:
    """Whether the CR/PR at ``cut[i]`` is confirmed (Table 3): ``(counted response or None,
    reasons, disease after a CR)``."""
    day, r = cut[i]
    reasons: list[str] = []
    cands = [(d2, r2) for d2, r2 in cut[i + 1:]
             if d2 - day >= rules.confirmation_min_days and r2 != "NE"]
    conf: tuple[int, str] | None = None
    if cands:
        conf = cands[0]
        if str(rules.confirmation_scan) == "any_later":
            good = [c for c in cands if (c[1] == "CR" if r == "CR" else c[1] in ("CR", "PR"))]
            if good:
                conf = good[0]
    if getattr(rules, "confirmation_intervening_must_hold", False):
        # Table 3 reads the *subsequent* time point: a scan too soon to confirm must still
        # show the response, else it is the one that decides (criteria.md §2.6)
        broken = next(((d2, r2) for d2, r2 in cut[i + 1:]
                       if d2 - day < rules.confirmation_min_days and r2 != "NE"
                       and not _holds(r, r2, rules)), None)
        if broken is not None:
            conf = broken
            reasons.append(f"{r} on day {day}: {_scan(broken)}, {broken[0] - day} days later "
                           f"(too soon to confirm, < {rules.confirmation_min_days} days), no "
                           "longer shows it, so it is the subsequent time point Table 3 reads "
                           "(confirmation_intervening_must_hold=True)")
    if conf is None:
        reasons.append(f"{r} on day {day} has no confirming scan ≥ "
                       f"{rules.confirmation_min_days} days later")
        return None, reasons, False
    d2, r2 = conf
    got: str | None = None
    cr_failed_to_pd = False
    if r == "CR":
        if r2 == "CR":
            got = "CR"
        elif r2 == "PR":
            if str(rules.cr_then_pr) == "pr":
                got = "PR"
                reasons.append(f"CR (day {day}) then PR (day {d2}): PR (cr_then_pr=pr)")
            else:
                cr_failed_to_pd = True
                reasons.append(f"CR (day {day}) then PR (day {d2}): not confirmed; disease "
                               "after a true CR is progression (Table 3 footnote; "
                               "cr_then_pr=sd_or_pd)")
        elif r2 in ("SD", "PD"):
            cr_failed_to_pd = True
            reasons.append(f"CR (day {day}) then {r2} (day {d2}): not confirmed")
    else:  # PR
        if r2 in ("CR", "PR"):
            got = "PR"
        elif r2 == "SD" and str(rules.pr_then_sd) == "pr":
            got = "PR"
            reasons.append(f"PR (day {day}) then SD (day {d2}): ongoing PR (pr_then_sd=pr)")
        else:
            reasons.append(f"PR (day {day}) then {r2} (day {d2}): not confirmed "
                           "(Table 3: PR then SD is SD)" if r2 == "SD" else
                           f"PR (day {day}) then {r2} (day {d2}): not confirmed")
    if got is not None:
        reasons.append(f"{r} on day {day} confirmed by {r2} on day {d2} "
                       f"(≥ {rules.confirmation_min_days} days)")
    return got, reasons, cr_failed_to_pd


def confirmed_bor(
    seq: Sequence[tuple[int, str | None]], rules: BorRules, *, has_targets: bool = True
) -> tuple[str, list[str]]:
    """BOR with confirmation (RECIST 1.1 Table 3) from ``[(day, response), ...]``."""
    cut, reached_pd = _until_pd(seq)
    reasons: list[str] = []
    best: str | None = None
    cr_failed_to_pd = False
    for i, (_day, r) in enumerate(cut):
        if r not in ("CR", "PR"):
            continue
        got, rs, failed = _confirm(cut, i, rules)
        reasons.extend(rs)
        cr_failed_to_pd |= failed
        if got is not None and (best is None or _RANK[got] > _RANK[best]):
            best = got
    if best is not None:
        reasons.append(f"confirmed BOR {best}")
        return best, reasons
    met, sd_day = _sd_minimum(cut, rules)
    if met:
        label = _sd_label(cut, has_targets)
        reasons.append(f"confirmed BOR {label}: no confirmed CR/PR; stable from day {sd_day} "
                       f"(≥ {rules.sd_min_days} days)")
        return label, reasons
    if reached_pd or cr_failed_to_pd:
        reasons.append("confirmed BOR PD: SD minimum not met and progression (or disease after "
                       "CR) followed")
        return "PD", reasons
    reasons.append("confirmed BOR NE: no confirmed response and SD minimum not met")
    return "NE", reasons


def _backdate(
    seq: Sequence[tuple[int, str | None]], pd_day: int | None
) -> tuple[list[tuple[int, str | None]], list[str]]:
    """The responses as the BOR sees them when progression is dated to ``pd_day``, earlier than
    the first PD response (an equivocal new lesion confirmed later, RECIST 1.1 4.3.2: "progression
    should be declared using the date of the initial scan"): the assessment of that day is PD."""
    out: list[tuple[int, str | None]] = []
    for day, r in seq:
        if pd_day is not None and day >= pd_day and r != "PD":
            out.append((day, "PD"))
            return out, [f"progression is dated to day {pd_day} (a new lesion first seen then and "
                         f"confirmed later, RECIST 1.1 4.3.2): the {r or 'NE'} of day {day} counts "
                         "as PD for the BOR"]
        out.append((day, r))
        if r == "PD":
            break
    return out, []


def best_overall_response(
    seq: Sequence[tuple[int, str | None]],
    rules: BorRules,
    *,
    has_targets: bool = True,
    pd_day: int | None = None,
) -> tuple[str, str, list[str]]:
    """``(unconfirmed, confirmed, reasons)`` for the time-point responses ``seq``; ``has_targets``:
    the patient has target lesions at baseline (else a stable BOR is NON-CR/NON-PD, never SD);
    ``pd_day``: the day progression is dated to, when back-dated before the first PD response
    (the BOR counts responses before it only)."""
    seq, rb = _backdate(seq, pd_day)
    u, ru = unconfirmed_bor(seq, rules)
    c, rc = confirmed_bor(seq, rules, has_targets=has_targets)
    return u, c, rb + ru + rc


def response_start_days(
    seq: Sequence[tuple[int, str | None]],
    rules: BorRules,
    *,
    pd_day: int | None = None,
) -> tuple[int | None, int | None]:
    """``(unconfirmed, confirmed)``: the day of the first CR/PR that counts toward each BOR,
    where a duration of response starts (RECIST 1.1 4.5: the first date CR/PR criteria are met,
    not the confirmation date); None when that BOR is not CR/PR.

    Unconfirmed: the first CR/PR before the first PD (back-dated to ``pd_day``).  Confirmed: the
    first CR/PR before it that the next scan confirms (Table 3, as :func:`confirmed_bor`); an
    earlier CR/PR that was not confirmed starts nothing.
    """
    seq, _ = _backdate(seq, pd_day)
    cut, _ = _until_pd(seq)
    unconf = next((d for d, r in cut if r in ("CR", "PR")), None)
    conf = next((d for i, (d, r) in enumerate(cut)
                 if r in ("CR", "PR") and _confirm(cut, i, rules)[0] is not None), None)
    return unconf, conf

"""Best overall response with and without confirmation (RECIST 1.1 4.4, Table 3, §11 rows)."""

from __future__ import annotations

import pytest

from hcc_imaging.response import RECIST_1_1, confirmed_bor, unconfirmed_bor

R = RECIST_1_1

UNCONFIRMED = [
    pytest.param([(56, "PR"), (112, "SD"), (168, "PD")], "PR", id="best-before-PD"),
    pytest.param([(28, "SD"), (56, "PD")], "PD", id="SD-before-minimum-then-PD-is-PD"),
    pytest.param([(28, "SD"), (56, "NE")], "NE", id="SD-before-minimum-then-NE-is-NE"),
    pytest.param([(28, "SD")], "NE", id="SD-before-minimum-then-nothing-is-NE"),
    pytest.param([(42, "SD")], "SD", id="SD-exactly-at-42-days-counts"),
    pytest.param([(41, "SD"), (70, "PD")], "PD", id="SD-at-41-days-does-not-count"),
    pytest.param([(56, "PD"), (112, "CR")], "PD", id="responses-after-PD-ignored"),
    pytest.param([(56, "NE"), (112, "NE")], "NE", id="all-NE"),
    pytest.param([(56, "NON-CR/NON-PD")], "NON-CR/NON-PD", id="nontarget-only-disease"),
    pytest.param([(14, "PR"), (28, "PD")], "PR", id="unconfirmed-PR-before-minimum-counts"),
    pytest.param([(56, "SD"), (112, "CR"), (168, "PR")], "CR", id="CR-ranked-best"),
]


@pytest.mark.parametrize(("seq", "expected"), UNCONFIRMED)
def test_unconfirmed_bor(seq, expected):
    assert unconfirmed_bor(seq, R)[0] == expected


CONFIRMED = [
    pytest.param([(56, "CR"), (84, "CR")], {}, "CR", id="table3-CR-CR-28-days-CR"),
    pytest.param([(56, "CR"), (83, "CR")], {}, "SD", id="CR-CR-27-days-not-confirmed-SD-min-met"),
    pytest.param([(56, "PR"), (112, "PR")], {}, "PR", id="table3-PR-PR-is-PR"),
    pytest.param([(56, "PR"), (112, "CR")], {}, "PR", id="table3-PR-CR-is-PR"),
    pytest.param([(56, "PR"), (112, "SD")], {}, "SD", id="table3-PR-SD-is-SD-default"),
    pytest.param([(56, "PR"), (112, "SD")], {"pr_then_sd": "pr"}, "PR",
                 id="PR-SD-ongoing-PR-reading"),
    pytest.param([(56, "CR"), (112, "PR")], {}, "SD", id="table3-CR-PR-SD-if-min-met"),
    pytest.param([(14, "CR"), (42, "PR")], {"sd_min_days": 56}, "PD",
                 id="table3-CR-PR-PD-if-min-not-met"),
    pytest.param([(56, "CR"), (112, "PR")], {"cr_then_pr": "pr"}, "PR",
                 id="table3-CR-PR-PR-reading"),
    pytest.param([(56, "CR"), (112, "SD")], {}, "SD", id="table3-CR-SD-SD-if-min-met"),
    pytest.param([(14, "CR"), (42, "SD")], {"sd_min_days": 56}, "PD",
                 id="table3-CR-SD-PD-if-min-not-met"),
    pytest.param([(14, "CR"), (42, "PD")], {"sd_min_days": 56}, "PD",
                 id="table3-CR-PD-PD-if-min-not-met"),
    pytest.param([(14, "CR"), (42, "NE")], {"sd_min_days": 56}, "NE",
                 id="table3-CR-NE-NE-if-min-not-met"),
    pytest.param([(56, "PR"), (112, "PD")], {}, "SD", id="table3-PR-PD-SD-if-min-met"),
    pytest.param([(14, "PR"), (42, "PD")], {"sd_min_days": 56}, "PD",
                 id="table3-PR-PD-PD-if-min-not-met"),
    pytest.param([(14, "PR"), (42, "NE")], {"sd_min_days": 56}, "NE",
                 id="table3-PR-NE-NE-if-min-not-met"),
    pytest.param([(56, "NE"), (112, "NE")], {}, "NE", id="table3-NE-NE-is-NE"),
    pytest.param([(56, "PR"), (70, "NE"), (112, "PR")], {}, "PR",
                 id="NE-between-skipped-next-evaluable-confirms"),
    pytest.param([(56, "PR"), (90, "SD"), (120, "PR")], {}, "SD",
                 id="next-evaluable-scan-is-SD-not-confirmed"),
    pytest.param([(56, "PR"), (90, "SD"), (120, "PR")], {"confirmation_scan": "any_later"}, "PR",
                 id="any-later-scan-confirms"),
    pytest.param([(56, "PR"), (76, "PR"), (84, "PR")], {"confirmation_min_days": 28}, "PR",
                 id="scan-under-28-days-skipped"),
    pytest.param([(56, "PR"), (84, "PR")], {"confirmation_min_days": 29}, "SD",
                 id="confirmation-window-is-a-parameter"),
]


@pytest.mark.parametrize(("seq", "changes", "expected"), CONFIRMED)
def test_confirmed_bor_table3(seq, changes, expected):
    bor, reasons = confirmed_bor(seq, R.replace(**changes))
    assert bor == expected, reasons

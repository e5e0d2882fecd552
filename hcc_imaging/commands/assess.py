"""``hcc-imaging assess READ.json --criteria recist1.1,mrecist [--json]``.

Classifies a read document under the listed criteria (case-insensitive; ``all`` = every
criterion) and prints a table per criterion with the best overall response, plus burden
scores, or with ``--json`` the :meth:`Assessment.to_json` object.  Rule parameters can be
changed with ``--set [CRITERION:]PARAM=VALUE`` (repeatable), e.g. ``--set
mrecist:pd_abs_floor=5`` or ``--set sd_min_days=56``; the clinical CR / drug-off and BCLC
options (:mod:`hcc_imaging.response.options`) with ``--set clinical:afp_uln_ng_ml=20`` and
``--set bclc:size_inclusive=false``.

A read whose ``patient_id`` looks like a person's name (``DOE^JOHN``, "Doe, John":
:func:`hcc_imaging._phi.name_like`) is refused (exit 2) before anything is printed; the message
says why without repeating the id.  The read document names its patient by a pseudonymous id.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["register", "run", "parse_criteria"]



def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "assess",
        help="response per time point + best overall response from a read document",
        description=(
            "Classify a read document (JSON; see docs/read-document.md) under RECIST 1.1, "
            "mRECIST, EASL, WHO, RECICL and/or iRECIST. Sums are in mm (mm2 for WHO, EASL and "
            "RECICL); changes are fractions in --json (-0.3 = -30 %) and percent in the table."
        ),
    )
    p.add_argument("read", help="read document (JSON file)")
    p.add_argument(
        "--criteria", default=None,
        help="comma-separated: recist1.1,mrecist,easl,who,recicl,irecist or 'all' "
             "(default: the document's criteria, else recist1.1,mrecist)",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    p.add_argument(
        "--set", action="append", default=[], metavar="[CRITERION:]PARAM=VALUE",
        help="override a rule parameter (repeatable), e.g. mrecist:pd_abs_floor=5; "
             "clinical CR / drug-off and BCLC options as clinical:afp_uln_ng_ml=20, "
             "bclc:size_inclusive=false (yes/no values: true/false/yes/no/1/0)",
    )
    p.add_argument("--tbs-bands", default=None,
                   help="TBS band set: hcc_resection_2023 (default), sasaki_2018, "
                        "tsilimigras_2020, guangxi_2024")
    p.add_argument("--reasons", action="store_true", help="show the reasons under each table")
    p.set_defaults(func=run)


def parse_criteria(text: str) -> list[str]:
    """The criteria of a ``--criteria`` value: comma-separated names (case-insensitive, checked by
    the engine), or ``all``, every criterion (:data:`~hcc_imaging.response.engine.ALL_CRITERIA`).
    Shared by ``assess`` and ``export``."""
    from hcc_imaging.response.engine import ALL_CRITERIA

    names = [c.strip() for c in text.split(",") if c.strip()]
    return list(ALL_CRITERIA) if [n.lower() for n in names] == ["all"] else names


def _value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("none", "null"):
        return None
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return text.strip()
    if d == d.to_integral_value() and "." not in text:
        return int(d)
    return text.strip()  # decimal string: rule sets read it exactly


def _parse_sets(items: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    from hcc_imaging.errors import CriteriaError

    glob: dict[str, Any] = {}
    per: dict[str, dict[str, Any]] = {}
    for item in items:
        if "=" not in item:
            raise CriteriaError(
                f"--set {item!r}: expected [CRITERION:]PARAM=VALUE, e.g. mrecist:pd_abs_floor=5."
            )
        key, val = item.split("=", 1)
        if ":" in key:
            crit, name = key.split(":", 1)
            per.setdefault(crit.strip(), {})[name.strip()] = _value(val)
        else:
            glob[key.strip()] = _value(val)
    return glob, per


def _pct(x: Any) -> str:
    from hcc_imaging.response.classify import fmt_change

    return fmt_change(x)


def _num(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, int):
        return str(x)
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _endpoints_text(ep: dict[str, Any]) -> str:
    """``PFS 42 d (progression), TTP 42 d (progression), DOR — / unconfirmed — (...)`` from a
    result's endpoints (DOR "—": not a responder)."""
    def one(e: dict[str, Any] | None) -> str:
        return "—" if e is None else f"{e['day']} d ({e['kind']})"

    return (f"PFS {one(ep['pfs'])}, TTP {one(ep['ttp'])}, DOR {one(ep['dor'])} / unconfirmed "
            f"{one(ep['dor_unconfirmed'])} (days from day 0; DOR from the first CR/PR)")


def _limits_text(o: dict[str, Any]) -> str:
    """``limits: AFP ≤ 10 ng/mL, AFP-L3 < 10 %, PIVKA-II < 40 mAU/mL; clinical CR > 42 days,
    drug-off ≥ 84 days`` from the ``clinical.options`` the assessment used."""
    def op(inclusive: bool) -> str:
        return "≤" if inclusive else "<"

    def dur(inclusive: bool) -> str:
        return "≥" if inclusive else ">"

    return (f"limits: AFP {op(o['afp_inclusive'])} {_num(o['afp_uln_ng_ml'])} ng/mL, AFP-L3 "
            f"{op(o['afp_l3_inclusive'])} {_num(o['afp_l3_uln_pct'])} %, PIVKA-II "
            f"{op(o['pivka_ii_inclusive'])} {_num(o['pivka_ii_uln_mau_ml'])} mAU/mL; clinical CR "
            f"{dur(o['duration_inclusive'])} {o['min_normal_days']} days, drug-off "
            f"{dur(o['drug_off_duration_inclusive'])} {o['drug_off_min_normal_days']} days "
            "(--set clinical:NAME=VALUE)")


def _print_table(out: dict[str, Any], show_reasons: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    import sys

    # a pipe or file gets a wide table instead of rich's 80-column default
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 140)
    console.print(f"[bold]patient[/bold] {out['patient_id']}  [bold]reader[/bold] "
                  f"{out['reader_id']}")
    for name, res in out["results"].items():
        table = Table(title=f"{name} (sum in {res['sum_unit']})", title_justify="left")
        for col in ("time point", "day", "sum", "Δ baseline", "Δ nadir", "target",
                    "non-target", "new lesions", "response"):
            table.add_column(col, justify="right" if col in ("day", "sum") else "left")
        extra = "te" in (res["timepoints"][1] if len(res["timepoints"]) > 1 else {})
        for t in res["timepoints"]:
            table.add_row(
                t["id"], str(t["day"]), _num(t["sum"]), _pct(t["change_from_baseline"]),
                _pct(t["change_from_nadir"]), t["target_response"] or "—",
                t["non_target_response"] or "—", "yes" if t["new_lesions"] else "no",
                t["response"] or "baseline")
        pd = f", PD day {res['pd_day']}" if res["pd_day"] is not None else ""
        table.caption = (f"BOR unconfirmed {res['bor_unconfirmed']}, confirmed "
                         f"{res['bor_confirmed']}{pd}" + (" (RECICL TE in 'target')"
                                                           if extra else ""))
        console.print(table)
        for c in res["checks"]:
            console.print(f"  [yellow]check:[/yellow] {c}")
        if res.get("endpoints"):
            console.print(f"  endpoints: {_endpoints_text(res['endpoints'])}")
        if show_reasons:
            for t in res["timepoints"]:
                for r in t["reasons"]:
                    console.print(f"  {t['id']}: {r}", highlight=False)
    if out["burden"]:
        bt = Table(title="Tumour burden (intrahepatic)", title_justify="left")
        for col in ("time point", "n", "largest mm", "up-to-7", "up-to-11", "6-and-12", "TBS",
                    "TBS band", "Milan"):
            bt.add_column(col)
        for b in out["burden"]:
            # a category left open by an unmeasured nodule is "NE" (the reasons say which)
            ne = "NE" if b["n_tumours"] else "—"
            bt.add_row(b["id"], str(b["n_tumours"]), _num(b["largest_diameter_mm"]),
                       f"{_num(b['up_to_seven_score'])} {b['up_to_seven'] or ne}",
                       b["up_to_11"] or ne, b["six_and_twelve"] or ne, _num(b["tbs"]),
                       b["tbs_band"] or ne,
                       ne if b["within_milan"] is None else
                       ("within" if b["within_milan"] else "beyond"))
        console.print(bt)
        if show_reasons:
            for b in out["burden"]:
                for r in b["reasons"]:
                    console.print(f"  burden {b['id']}: {r}", highlight=False)
    for row in out["liver"]:
        console.print(f"liver day {row['day']}: ALBI {row.get('albi', '—')} grade "
                      f"{row.get('albi_grade', '—')} (mALBI {row.get('malbi_grade', '—')}), "
                      f"Child-Pugh {row.get('child_pugh_score', '—')} "
                      f"{row.get('child_pugh_class', '')}"
                      + (f", BCLC {row['bclc']}" if "bclc" in row else "")
                      + (f" ({' or '.join(row['bclc_possible'])})"
                         if row.get("bclc") == "NE" and row.get("bclc_possible") else ""),
                      highlight=False)
        for key, label in (("albi_error", "ALBI"), ("child_pugh_error", "Child-Pugh")):
            if key in row:
                console.print(f"  [yellow]{label}:[/yellow] {row[key]}", highlight=False)
        for w in row.get("bclc_warnings", ()):
            console.print(f"  [yellow]warning:[/yellow] {w}", highlight=False)
        if "bclc_error" in row:
            console.print(f"  [yellow]BCLC:[/yellow] {row['bclc_error']}", highlight=False)
        if show_reasons:
            for r in row.get("bclc_reasons", ()):
                console.print(f"  BCLC: {r}", highlight=False)
    if out["clinical"]:
        c = out["clinical"]
        cc = c["clinical_cr"]
        history = ""
        if cc.get("achieved_day") is not None:
            history = f" (reached day {cc['achieved_day']}"
            history += (f", lost day {cc['lost_day']})" if cc.get("lost_day") is not None
                        else ")")
        console.print(f"clinical CR: {cc['clinical_cr']}{history}; drug-off eligible: "
                      f"{c['drug_off']['eligible']}", highlight=False)
        if c.get("options"):
            console.print(f"  {_limits_text(c['options'])}", highlight=False)
        if show_reasons:
            for r in cc["reasons"]:
                console.print(f"  clinical CR: {r}", highlight=False)
            for r in c["drug_off"]["reasons"]:
                console.print(f"  drug-off: {r}", highlight=False)


def _refuse_name(patient_id: str, path: str) -> None:
    """Refuse a read whose patient id looks like a person's name (the table and --json print it)."""
    from hcc_imaging._phi import name_like
    from hcc_imaging.errors import ReadDocumentError

    reason = name_like(patient_id)
    if reason is not None:
        raise ReadDocumentError(
            f"{path}: field 'patient_id' {reason}; it is not repeated here, as it may be a patient's name. A read "
            "document names its patient by a pseudonymous id: replace it with the trial or research code "
            "(e.g. 'HCC-0042')."
        )


def run(args: argparse.Namespace) -> int:
    from hcc_imaging.response.document import ReadDocument
    from hcc_imaging.response.engine import assess

    from hcc_imaging.errors import ReadDocumentError

    try:
        doc = ReadDocument.from_json(args.read)
    except ReadDocumentError as err:
        if str(args.read) in str(err):
            raise
        raise ReadDocumentError(f"{args.read}: {err}") from err  # the message names the file
    _refuse_name(doc.patient_id, args.read)
    criteria: Any = parse_criteria(args.criteria) if args.criteria else None
    glob, per = _parse_sets(args.set)
    from hcc_imaging.response.options import OPTION_SECTIONS

    sections = {k: per.pop(k) for k in list(per) if k.lower() in OPTION_SECTIONS}
    opts = {f"{k.lower()}_options": v for k, v in sections.items()}
    burden_options = {"tbs_bands": args.tbs_bands} if args.tbs_bands else None
    result = assess(doc, criteria, rule_overrides=per or None, burden_options=burden_options,
                    **opts, **glob)
    out = result.to_json()
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        _print_table(out, args.reasons)
    return 0

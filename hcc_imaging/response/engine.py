"""``assess``: one read document, several criteria, one result object.

>>> from hcc_imaging.response import ReadDocument, assess
>>> doc = ReadDocument.from_json({"patient_id": "P1", "timepoints": [
...     {"id": "BL", "day": 0, "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 33.0}]},
...     {"id": "FU1", "day": 56, "lesions": [{"lesion_id": "L1", "longest_diameter_mm": 23.1}]}]})
>>> assess(doc, ["recist1.1"]).results["RECIST1.1"].timepoints[1].response
'PR'

``Assessment.to_json()`` is exactly what ``hcc-imaging assess READ.json --json`` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hcc_imaging.errors import CriteriaError, HccImagingError
from hcc_imaging.response.classify import classify
from hcc_imaging.response.clinical import MarkerLimits
from hcc_imaging.response.document import SCHEMA_VERSION, ReadDocument
from hcc_imaging.response.endpoints import endpoints_json
from hcc_imaging.response.irecist import classify_irecist
from hcc_imaging.response.options import BclcOptions, ClinicalOptions, options_from
from hcc_imaging.response.recicl import classify_recicl
from hcc_imaging.response.results import CriterionResult, TimePointResult
from hcc_imaging.response.rules import (
    RULESETS,
    Criteria,
    IRecistRules,
    RecicLRules,
    RuleSet,
    parse_criteria,
)

__all__ = ["Assessment", "assess", "DEFAULT_CRITERIA", "ALL_CRITERIA", "resolve_rules"]

#: Used when neither the call nor the document names criteria.
DEFAULT_CRITERIA: tuple[str, ...] = (Criteria.RECIST_1_1.value, Criteria.MRECIST.value)
#: Every criterion, in output order.
ALL_CRITERIA: tuple[str, ...] = tuple(c.value for c in Criteria)

AnyRules = RuleSet | RecicLRules | IRecistRules


@dataclass(frozen=True, slots=True)
class Assessment:
    """Results of one read under several criteria, plus burden and liver scores."""

    patient_id: str
    reader_id: str
    results: Mapping[str, CriterionResult]
    burden: tuple[Any, ...] = ()
    liver: tuple[Mapping[str, Any], ...] = ()
    clinical: Mapping[str, Any] = field(default_factory=dict)
    #: Per criterion: PFS, TTP, DOR (:func:`hcc_imaging.response.endpoints.endpoints_json`).
    endpoints: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    #: Content hash of the read assessed (:func:`hcc_imaging.response.fingerprint.read_sha256`):
    #: the exports refuse the assessment with a read that no longer has it.
    read_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``hcc-imaging assess --json`` object (each result with its ``endpoints``; the read's
        content hash ``read_sha256`` when known)."""
        out: dict[str, Any] = {
            "patient_id": self.patient_id,
            "reader_id": self.reader_id,
            "read_schema_version": SCHEMA_VERSION,
        }
        if self.read_sha256 is not None:
            out["read_sha256"] = self.read_sha256
        return {
            **out,
            "results": {k: {**v.to_json(), "endpoints": self.endpoints.get(k)}
                        for k, v in self.results.items()},
            "burden": [b.to_json() for b in self.burden],
            "liver": [dict(x) for x in self.liver],
            "clinical": dict(self.clinical),
        }


def _field_names(obj: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(obj)}


def resolve_rules(
    criteria: Sequence[str | Criteria | AnyRules],
    overrides: Mapping[str, Any] | None = None,
    rule_overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[AnyRules]:
    """Rule objects for ``criteria`` with overrides applied.

    ``overrides`` apply to every selected rule object that has the field (iRECIST passes
    RuleSet fields on to its RECIST 1.1 base); a name no selected rule has is an error.
    ``rule_overrides`` = ``{criterion: {field: value}}`` for one criterion only.
    """
    objs: list[AnyRules] = []
    for c in criteria:
        if isinstance(c, (RuleSet, RecicLRules, IRecistRules)):
            objs.append(c)
        else:
            objs.append(RULESETS[parse_criteria(c)])
    names = [o.name for o in objs]
    if len(set(names)) != len(names):
        raise CriteriaError(f"criteria listed twice: {names}. Fix: name each criterion once.")
    from hcc_imaging.response.rules import PARAMETER_ALIASES

    overrides = {PARAMETER_ALIASES.get(k, k): v for k, v in (overrides or {}).items()}
    used: set[str] = set()
    out: list[AnyRules] = []
    for o in objs:
        changes = {k: v for k, v in overrides.items() if k in _field_names(o) and k != "name"}
        if isinstance(o, IRecistRules):
            base_changes = {k: v for k, v in overrides.items()
                            if k in _field_names(o.base) and k not in changes and k != "name"}
            if base_changes:
                o = o.replace(base=o.base.replace(**base_changes))
                used |= set(base_changes)
        if changes:
            o = o.replace(**changes)
            used |= set(changes)
        out.append(o)
    unknown = set(overrides) - used
    if unknown:
        known = sorted(set().union(*(_field_names(o) for o in out)) - {"name", "base"})
        from hcc_imaging.response.options import OPTION_SECTIONS

        hint = "".join(
            f" {k} is a {sec} option: pass {sec}_options={{{k!r}: ...}} (--set {sec}:{k}=...)."
            for k in sorted(unknown) for sec, cls in OPTION_SECTIONS.items()
            if k in _field_names(cls))
        raise CriteriaError(
            f"parameter(s) {sorted(unknown)} do not belong to any of {names}.{hint} Known: "
            f"{', '.join(known)}."
        )
    if rule_overrides:
        for key, changes in rule_overrides.items():
            crit = parse_criteria(key).value
            for i, o in enumerate(out):
                if o.name == crit:
                    if isinstance(o, IRecistRules):
                        mine = {k: v for k, v in changes.items() if k in _field_names(o)}
                        base = {k: v for k, v in changes.items() if k not in mine}
                        if base:
                            o = o.replace(base=o.base.replace(**base))
                        out[i] = o.replace(**mine) if mine else o
                    else:
                        out[i] = o.replace(**dict(changes))
                    break
            else:
                raise CriteriaError(
                    f"rule_overrides names {crit}, which is not among the criteria {names}."
                )
    return out


def _check_burden_options(options: Mapping[str, Any] | None, fn: Any) -> None:
    """Refuse a ``burden_options`` key :func:`burden_for_timepoint` does not take, naming the
    valid ones (instead of the raw TypeError of the call)."""
    import inspect

    valid = [n for n, p in inspect.signature(fn).parameters.items()
             if p.kind is inspect.Parameter.KEYWORD_ONLY]
    bad = sorted(k for k in (options or {}) if k not in valid)
    if bad:
        raise CriteriaError(
            f"burden_options: unknown option(s) {bad}. Valid burden options: "
            f"{', '.join(valid)}. Fix: e.g. burden_options={{'tbs_bands': 'sasaki_2018'}}."
        )


def _run_one(doc: ReadDocument, rules: AnyRules, marker_limits: MarkerLimits) -> CriterionResult:
    """The result of one criterion; a read it cannot be applied to (a baseline target lacks the
    measurement it needs) gives an all-NE result saying why, so the other criteria, the burden
    and the liver scores are still reported.  ``marker_limits``: the clinical options' marker
    limits, which a RECIST 1.1 / iRECIST CR is checked against too."""
    try:
        if isinstance(rules, RuleSet):
            return classify(doc, rules, marker_limits)
        if isinstance(rules, RecicLRules):
            return classify_recicl(doc, rules)
        return classify_irecist(doc, rules, marker_limits)
    except CriteriaError as err:
        return _not_assessed(doc, rules, str(err))


def _not_assessed(doc: ReadDocument, rules: AnyRules, why: str) -> CriterionResult:
    unit = (rules.sum_unit if isinstance(rules, RuleSet) else
            "mm2" if isinstance(rules, RecicLRules) else "mm")
    note = f"not assessed: {why}"
    rows = [TimePointResult(
        id=tp.id, day=tp.day, sum=None, change_from_baseline=None,  # type: ignore[arg-type]
        change_from_nadir=None, target_response=None if i == 0 else "NE",
        non_target_response=None, new_lesions=False, response=None if i == 0 else "NE",
        reasons=(note,)) for i, tp in enumerate(doc.timepoints)]
    return CriterionResult(
        criterion=rules.name, sum_unit=unit, timepoints=tuple(rows), bor_unconfirmed="NE",
        bor_confirmed="NE", pd_day=None, bor_reasons=(f"BOR NE: {note}",), checks=(note,),
        parameters=rules.to_json(), not_assessed=why)


def _liver_function_contradiction(lf: Any, row: Mapping[str, Any]) -> str | None:
    """A warning when the record's ``liver_function_status`` contradicts its Child-Pugh class.

    BCLC 2022 stages on the reader's call of liver function ("preserved" / "end_stage"), not on
    the Child-Pugh class, so the stage is kept; but Child-Pugh C called "preserved" (or A
    called "end_stage") is most likely a recording error and is flagged.
    """
    cls = row.get("child_pugh_class")
    status = lf.liver_function_status
    if cls == "C" and status == "preserved":
        return (f"Child-Pugh {row['child_pugh_score']} (C) with liver_function_status "
                "'preserved': Child-Pugh C is end-stage liver function in most patients (BCLC "
                f"D); BCLC {row['bclc']} assumes preserved function. Check the record.")
    if cls == "A" and status == "end_stage":
        return (f"Child-Pugh {row['child_pugh_score']} (A) with liver_function_status "
                "'end_stage': BCLC D on end-stage liver function, but Child-Pugh A is "
                "preserved function. Check the record.")
    return None


def assess(
    doc: ReadDocument,
    criteria: Sequence[str | Criteria | AnyRules] | str | None = None,
    *,
    rule_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    burden_options: Mapping[str, Any] | None = None,
    child_pugh_boundary: str = "middle_closed",
    nodes_are_spread: bool = True,
    clinical_options: ClinicalOptions | Mapping[str, Any] | None = None,
    bclc_options: BclcOptions | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Assessment:
    """Assess ``doc`` under ``criteria`` (names case-insensitive, or rule objects).

    Parameters
    ----------
    doc : ReadDocument
    criteria : sequence of str | Criteria | RuleSet, or a comma-separated str
        Default: the document's ``criteria``, else RECIST 1.1 and mRECIST.  ``"all"`` (or
        ``["all"]``): every criterion, :data:`ALL_CRITERIA` (as ``--criteria all``).
    rule_overrides : {criterion: {parameter: value}}
        Parameters for one criterion, e.g. ``{"mRECIST": {"pd_abs_floor": 5}}``.
    burden_options : dict
        Keyword arguments of :func:`hcc_imaging.burden.burden_for_timepoint` (an unknown one
        is refused, listing the valid ones).
    clinical_options : ClinicalOptions or dict
        Clinical CR / drug-off settings (:class:`~hcc_imaging.response.options.ClinicalOptions`:
        marker upper limits, e.g. ``{"afp_uln_ng_ml": 20}``, durations, CEUS); written into
        the output as ``clinical["options"]``.
    bclc_options : BclcOptions or dict
        BCLC settings (:class:`~hcc_imaging.response.options.BclcOptions`: ``size_inclusive``,
        ``too_small_default_mm``).
    child_pugh_boundary : str
        Boundary handling of the Child-Pugh bands (see :mod:`hcc_imaging.burden.liver`).
    nodes_are_spread : bool
        A pathological lymph node (N1) is extrahepatic spread for BCLC and Milan (default
        True: BCLC C is "extrahepatic spread (N1, M1)"); False counts metastases only.
    **overrides
        Rule parameters applied to every selected criterion that has them, e.g.
        ``sd_min_days=56``.

    A criterion the read cannot be applied to (a baseline target lacks the measurement it
    needs, e.g. mRECIST without viable diameters) does not stop the others: its result is NE
    at every follow-up, BOR NE, with the reason in ``not_assessed``, ``checks`` and the reasons.

    Raises
    ------
    CriteriaError
        Unknown criterion or parameter, or no selected criterion can be applied to the read
        (each one's reason).
    """
    from hcc_imaging.burden.bclc import bclc_for, nearest_timepoint
    from hcc_imaging.burden.liver import albi_for, child_pugh_for
    from hcc_imaging.burden.scores import burden_for_timepoint
    from hcc_imaging.response.clinical import clinical_cr, drug_off_eligible

    from hcc_imaging.burden.liver import CHILD_PUGH_BOUNDARIES

    if child_pugh_boundary not in CHILD_PUGH_BOUNDARIES:
        raise CriteriaError(
            f"child_pugh_boundary={child_pugh_boundary!r} is not valid; expected one of "
            f"{list(CHILD_PUGH_BOUNDARIES)} (how a lab exactly on a Child-Pugh band edge is "
            "scored). Fix: e.g. --set child_pugh_boundary=worse."
        )
    if not isinstance(nodes_are_spread, bool):
        raise CriteriaError(
            f"nodes_are_spread={nodes_are_spread!r}: expected true or false (a pathological "
            "lymph node is extrahepatic spread for BCLC and Milan, or not)."
        )
    clin = options_from(ClinicalOptions, clinical_options)
    bclc_opts = options_from(BclcOptions, bclc_options)
    _check_burden_options(burden_options, burden_for_timepoint)
    if criteria is None:
        criteria = doc.criteria or DEFAULT_CRITERIA
    if isinstance(criteria, str):
        criteria = [c for c in criteria.split(",") if c.strip()]
    if [str(c).strip().lower() for c in criteria if isinstance(c, str)] == ["all"] and len(
            criteria) == 1:
        criteria = ALL_CRITERIA  # as the CLI's --criteria all
    if not criteria:
        raise CriteriaError("no criteria given. Fix: pass e.g. ['RECIST1.1', 'mRECIST'].")
    rules = resolve_rules(criteria, overrides, rule_overrides)
    results: dict[str, CriterionResult] = {}
    for r in rules:
        results[r.name] = _run_one(doc, r, clin.limits)
    if all(res.not_assessed is not None for res in results.values()):
        raise CriteriaError("; ".join(str(res.not_assessed) for res in results.values()))
    # Milan reads the invasion / spread evidence BCLC reads: a liver-function record's flags
    # for the time point nearest to it, else the time point's own PVTT / extrahepatic lesions
    records: dict[str, list[Any]] = {}
    for lf in doc.liver_function:
        records.setdefault(nearest_timepoint(doc, lf).id, []).append(lf)
    burden_rows = []
    for tp in doc.timepoints:
        opts = {"nodes_are_spread": nodes_are_spread, **dict(burden_options or {})}
        for flag in ("macrovascular_invasion", "extrahepatic_spread"):
            given = [getattr(lf, flag) for lf in records.get(tp.id, ())
                     if getattr(lf, flag) is not None]
            if given and flag not in opts:
                opts[flag] = any(given)
        burden_rows.append(burden_for_timepoint(tp, **opts))
    burden = tuple(burden_rows)
    liver: list[dict[str, Any]] = []
    for lf in doc.liver_function:
        row: dict[str, Any] = {"day": lf.day, "date": lf.date.isoformat() if lf.date else None}
        try:
            row.update(albi_for(lf).to_json())
        except HccImagingError as err:
            row["albi_error"] = str(err)
        try:
            row.update(child_pugh_for(lf, child_pugh_boundary).to_json())
        except HccImagingError as err:
            row["child_pugh_error"] = str(err)
        # BCLC when the record gives any BCLC input (a record of labs only gets none)
        if any(getattr(lf, n) is not None for n in (
                "ecog", "liver_function_status", "macrovascular_invasion",
                "extrahepatic_spread")):
            try:
                bclc = bclc_for(doc, lf, nodes_are_spread=nodes_are_spread,
                                size_inclusive=bclc_opts.size_inclusive,
                                too_small_default_mm=float(bclc_opts.too_small_default_mm))
                row["bclc"] = bclc.stage
                row["bclc_size_inclusive"] = bclc_opts.size_inclusive
                row["bclc_reasons"] = list(bclc.reasons)
                if bclc.stage == "NE":
                    row["bclc_possible"] = list(bclc.possible)
                warning = _liver_function_contradiction(lf, row)
                if warning:
                    row["bclc_warnings"] = [warning]
            except HccImagingError as err:
                row["bclc_error"] = str(err)
        liver.append(row)
    clinical: dict[str, Any] = {}
    imaging = [results[k] for k in (Criteria.MRECIST.value, Criteria.RECIST_1_1.value)
               if k in results and results[k].not_assessed is None]
    if doc.markers and imaging:
        clinical["clinical_cr"] = clinical_cr(
            doc, imaging, limits=clin.limits, min_normal_days=clin.min_normal_days,
            duration_inclusive=clin.duration_inclusive,
            count_cr_after_pd=clin.count_cr_after_pd).to_json()
        clinical["drug_off"] = drug_off_eligible(
            doc, imaging, limits=clin.limits, min_normal_days=clin.drug_off_min_normal_days,
            duration_inclusive=clin.drug_off_duration_inclusive,
            require_ceus=clin.require_ceus).to_json()
        clinical["options"] = clin.to_json()
    endpoints = {k: endpoints_json(doc, res) for k, res in results.items()}
    from hcc_imaging.response.fingerprint import read_sha256

    return Assessment(doc.patient_id, doc.reader_id, results, burden, tuple(liver), clinical,
                      endpoints, read_sha256=read_sha256(doc))

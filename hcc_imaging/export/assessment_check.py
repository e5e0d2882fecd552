"""Is an assessment one of the read it is exported with?  (``ExportRead.with_assessment``)

An assessment (``hcc-imaging assess --json``) made before the read was corrected - a diameter
changed, a lesion added - would put its responses ("sum 67 mm, SD") beside the corrected
measurements (L1 90 mm, which the read makes PD).  The exports refuse it:

* an assessment that records the content hash of the read it assessed (``read_sha256``,
  :func:`hcc_imaging.response.fingerprint.read_sha256`; ``assess`` writes it since 2026-12-06) is
  refused when the read's hash differs;
* an older assessment without the hash is refused when the sums the response engine computes from
  the read (per criterion, per time point, with the assessment's recorded rule parameters) differ
  from the assessment's.

Either message says which sums differ, and to re-run ``assess`` on this read.  A read the
response engine cannot parse (an export-only spelling of a field, a read made from measurements)
is not checked: its hash and sums cannot be computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import HccImagingError

if TYPE_CHECKING:  # pragma: no cover
    from ..response.document import ReadDocument
    from .model import ExportRead

__all__ = ["check_assessment_matches_read", "SUM_TOLERANCE_MM"]

#: sums (mm, or mm2) closer than this are the same (a hand-rounded sum of diameters in 0.1 mm)
SUM_TOLERANCE_MM = 0.05

#: keys of a read document that embed an assessment (not part of the read: not hashed)
_EMBEDDED = ("assessment", "results")

_FIX = ("Re-run `hcc-imaging assess READ --json` on this read and pass its output as --assessment, or "
        "give --criteria to assess the read now.")


def _read_document(read: ExportRead) -> ReadDocument | None:
    from ..response.document import ReadDocument

    doc = read.document
    if not isinstance(doc, Mapping):
        return None
    try:
        return ReadDocument.from_json({k: v for k, v in doc.items() if k not in _EMBEDDED})
    except (HccImagingError, TypeError, ValueError):
        return None


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "none"
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"


def _recomputed(doc: ReadDocument, crit: str, res: Mapping[str, Any]) -> dict[str, float | None] | None:
    """{time point id: sum} the engine gives ``doc`` under ``crit`` with the assessment's rule
    parameters (else the defaults); None when the criterion cannot be recomputed."""
    from ..response.engine import assess

    params = res.get("parameters")
    overrides = ({k: v for k, v in params.items() if k not in ("name", "base")}
                 if isinstance(params, Mapping) else {})
    for rule_overrides in ([{crit: overrides}] if overrides else []) + [None]:
        try:
            result = assess(doc, [crit], rule_overrides=rule_overrides).results
        except (HccImagingError, TypeError, ValueError, KeyError):
            continue
        if len(result) != 1:
            return None
        (one,) = result.values()
        if one.not_assessed is not None:
            return None
        return {t.id: (float(t.sum) if t.sum is not None else None) for t in one.timepoints}
    return None


def _sum_differences(a: Mapping[str, Any], doc: ReadDocument) -> list[str]:
    out: list[str] = []
    for crit, res in (a.get("results") or {}).items():
        if not isinstance(res, Mapping) or res.get("not_assessed"):
            continue
        fresh = _recomputed(doc, str(crit), res)
        if fresh is None:
            continue
        unit = str(res.get("sum_unit") or "mm")
        for tpr in res.get("timepoints") or []:
            if not isinstance(tpr, Mapping):
                continue
            tid = str(tpr.get("id", tpr.get("timepoint_id", "")))
            if tid not in fresh:
                continue
            keys = [k for k in ("sum", "sum_mm", "sum_mm2") if k in tpr]
            if not keys:
                continue  # the assessment does not state this sum: nothing to compare
            old = tpr[keys[0]]
            try:
                old_f = None if old is None else float(old)
            except (TypeError, ValueError):
                continue
            new = fresh[tid]
            same = (old_f is None and new is None) or (
                old_f is not None and new is not None and math.isclose(old_f, new, rel_tol=1e-9,
                                                                       abs_tol=SUM_TOLERANCE_MM))
            if not same:
                out.append(f"{crit} sum at {tid}: {_fmt(old_f, unit)} in the assessment, "
                           f"{_fmt(new, unit)} from the read")
    return out


def check_assessment_matches_read(a: Mapping[str, Any], read: ExportRead) -> None:
    """Raise :class:`~hcc_imaging.export.model.ExportInputError` when the assessment ``a`` (its
    normalised dict) was not made from ``read`` as it is now (see the module docstring)."""
    from ..response.fingerprint import read_sha256
    from .model import ExportInputError

    doc = _read_document(read)
    if doc is None:
        return
    who = f"the read of patient {read.patient_id!r}" + (f", reader {read.reader_id!r}" if read.reader_id else "")
    recorded = a.get("read_sha256")
    if recorded:
        actual = read_sha256(doc)
        if str(recorded) == actual:
            return
        diffs = _sum_differences(a, doc)
        what = ("; ".join(diffs) if diffs else
                "its sums are the same, but another field changed (a lesion's status or role, a new lesion, "
                "a date, a note): a response may depend on it")
        raise ExportInputError(
            f"the assessment was made from another version of {who}: it records read_sha256 "
            f"{str(recorded)[:12]}..., this read's is {actual[:12]}... (the read was changed after it was "
            f"assessed: {what}). Its responses would be reported beside measurements they were not computed "
            f"from. {_FIX}")
    diffs = _sum_differences(a, doc)
    if diffs:
        raise ExportInputError(
            f"the assessment does not match {who}: {'; '.join(diffs)} (the read was changed after it was "
            f"assessed, or the assessment is of another read). Its responses would be reported beside "
            f"measurements they were not computed from. {_FIX}")

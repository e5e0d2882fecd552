"""BCLC 2022 staging helper (Reig M et al., J Hepatol 2022;76:681–693; criteria.md §8.4).

* **D**: end-stage liver function or ECOG PS > 2;
* **C**: portal invasion and/or extrahepatic spread, or PS 1–2 (PS alone puts a patient in C);
* **0**: single nodule ≤ 2 cm, preserved liver function, PS 0;
* **A**: single nodule of any size, or 2–3 nodules each ≤ 3 cm;
* **B**: multinodular beyond A.

``size_inclusive`` (disputed, §12.7): True (default, 2022 figure) reads "≤ 2 cm / ≤ 3 cm";
False reads "< 2 cm / < 3 cm" (secondary summaries).  Liver function is "preserved" or
"end_stage" (2022 replaces Child-Pugh class cut-offs; ALBI / AFP guide treatment within stages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from typing import TYPE_CHECKING

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.document import exact

if TYPE_CHECKING:
    from hcc_imaging.response.document import LiverFunction, ReadDocument

__all__ = ["BclcResult", "bclc_stage", "bclc_for", "BCLC_VERY_EARLY_MAX_MM", "BCLC_EARLY_NODULE_MAX_MM"]

#: Very early (0): single nodule ≤ 20 mm.
BCLC_VERY_EARLY_MAX_MM = Fraction(20)
#: Early (A): 2–3 nodules each ≤ 30 mm.
BCLC_EARLY_NODULE_MAX_MM = Fraction(30)


@dataclass(frozen=True, slots=True)
class BclcResult:
    """Stage (``"0"``, ``"A"``, ``"B"``, ``"C"``, ``"D"``) and why."""

    stage: str
    reasons: tuple[str, ...]


def bclc_stage(
    nodule_diameters_mm: Sequence[float | Fraction],
    *,
    ecog: int,
    liver_function: str = "preserved",
    macrovascular_invasion: bool = False,
    extrahepatic_spread: bool = False,
    size_inclusive: bool = True,
) -> BclcResult:
    """BCLC 2022 stage from nodule sizes (mm), PS, liver function, MVI and EHS."""
    if liver_function not in ("preserved", "end_stage"):
        raise CriteriaError(
            f"bclc_stage liver_function={liver_function!r}; expected 'preserved' or 'end_stage'."
        )
    if isinstance(ecog, bool) or not isinstance(ecog, int) or not 0 <= ecog <= 5:
        raise CriteriaError(f"bclc_stage needs ECOG PS 0–5, got {ecog!r}.")
    sizes = [exact(x) for x in nodule_diameters_mm]
    if liver_function == "end_stage" or ecog > 2:
        return BclcResult("D", (f"end-stage liver function or PS {ecog} > 2",))
    if macrovascular_invasion or extrahepatic_spread or ecog >= 1:
        why = []
        if macrovascular_invasion:
            why.append("portal/macrovascular invasion")
        if extrahepatic_spread:
            why.append("extrahepatic spread")
        if ecog >= 1:
            why.append(f"PS {ecog} (1–2 alone is stage C)")
        return BclcResult("C", tuple(why))
    if not sizes:
        raise CriteriaError("bclc_stage needs at least one nodule diameter (mm).")

    def within(x: Fraction, limit: Fraction) -> bool:
        return x <= limit if size_inclusive else x < limit

    op = "≤" if size_inclusive else "<"
    if len(sizes) == 1:
        if within(sizes[0], BCLC_VERY_EARLY_MAX_MM):
            return BclcResult("0", (f"single nodule {float(sizes[0]):g} mm {op} 20 mm, PS 0",))
        return BclcResult("A", (f"single nodule {float(sizes[0]):g} mm (any size), PS 0",))
    if len(sizes) <= 3 and all(within(x, BCLC_EARLY_NODULE_MAX_MM) for x in sizes):
        return BclcResult("A", (f"{len(sizes)} nodules each {op} 30 mm, PS 0",))
    return BclcResult("B", (f"{len(sizes)} nodules, beyond A (largest "
                            f"{float(max(sizes)):g} mm), PS 0",))


def bclc_for(doc: ReadDocument, lf: LiverFunction, *, size_inclusive: bool = True) -> BclcResult:
    """BCLC 2022 stage for a read-document liver-function record.

    Tumours: the intrahepatic lesions (not absent) of the time point closest in day to the
    record.  ``macrovascular_invasion`` / ``extrahepatic_spread``: the record's flags, or, when
    not given, derived from that time point (a PVTT present → invasion; a non-nodal
    extrahepatic lesion present → spread).  Needs ``ecog`` and ``liver_function_status``.
    """
    from hcc_imaging.response.document import LesionKind, LesionStatus

    if lf.ecog is None or lf.liver_function_status is None:
        raise CriteriaError(
            f"liver function on day {lf.day}: BCLC needs ecog and liver_function_status "
            "('preserved' / 'end_stage'). Fix: record them in the liver_function entry."
        )
    tp = min(doc.timepoints, key=lambda t: (abs((t.day or 0) - (lf.day or 0)), t.day or 0))
    present = [o for o in tp.lesions if o.status is not LesionStatus.ABSENT
               and o.merged_into is None]
    sizes = [o.longest_diameter_mm for o in present if o.is_intrahepatic
             and o.kind is LesionKind.LESION and o.longest_diameter_mm is not None]
    mvi = lf.macrovascular_invasion
    if mvi is None:
        mvi = any(o.kind is LesionKind.PVTT for o in present)
    ehs = lf.extrahepatic_spread
    if ehs is None:
        ehs = any(not o.is_intrahepatic and o.kind is LesionKind.LESION for o in present)
    res = bclc_stage(sizes, ecog=lf.ecog, liver_function=lf.liver_function_status,
                     macrovascular_invasion=mvi, extrahepatic_spread=ehs,
                     size_inclusive=size_inclusive)
    return BclcResult(res.stage, res.reasons + (f"tumours from time point {tp.id!r}",))

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
    from hcc_imaging.response.document import LiverFunction, ReadDocument, TimePoint

__all__ = ["BclcResult", "bclc_stage", "bclc_for", "nearest_timepoint", "BCLC_VERY_EARLY_MAX_MM",
           "BCLC_EARLY_NODULE_MAX_MM"]

#: Very early (0): single nodule ≤ 20 mm.
BCLC_VERY_EARLY_MAX_MM = Fraction(20)
#: Early (A): 2–3 nodules each ≤ 30 mm.
BCLC_EARLY_NODULE_MAX_MM = Fraction(30)


@dataclass(frozen=True, slots=True)
class BclcResult:
    """Stage (``"0"``, ``"A"``, ``"B"``, ``"C"``, ``"D"``, or ``"NE"``) and why.

    ``"NE"``: the stage depends on nodules whose size (or presence) is not known;
    ``possible`` lists the stages they leave open (e.g. ``("0", "A")``) and the reasons name
    the nodules to measure.  ``possible`` is ``(stage,)`` for a decided stage.
    """

    stage: str
    reasons: tuple[str, ...]
    possible: tuple[str, ...] = ()


def _stage_by_count(n: int, size_class: int) -> str:
    """Stage 0 / A / B of ``n`` nodules whose largest is of ``size_class`` (0: within 20 mm,
    1: within 30 mm, 2: beyond 30 mm), preserved liver function, PS 0, no MVI / EHS."""
    if n == 1:
        return "0" if size_class == 0 else "A"
    if n <= 3:
        return "A" if size_class <= 1 else "B"
    return "B"


def bclc_stage(
    nodule_diameters_mm: Sequence[float | Fraction | None],
    *,
    ecog: int,
    liver_function: str = "preserved",
    macrovascular_invasion: bool = False,
    extrahepatic_spread: bool = False,
    size_inclusive: bool = True,
    n_possibly_absent: int = 0,
) -> BclcResult:
    """BCLC 2022 stage from nodule sizes (mm), PS, liver function, MVI and EHS.

    Parameters
    ----------
    nodule_diameters_mm : sequence of float, Fraction or None
        One entry per intrahepatic nodule present: its largest diameter in mm, or None when
        it is present but its size is not known.  Every nodule counts in the number.
    n_possibly_absent : int
        Further nodules that may or may not be present (not evaluable), size unknown.

    Returns
    -------
    BclcResult
        Stage ``"NE"`` when the unknown sizes (or presence) leave more than one of 0 / A / B
        open, with ``possible`` listing them; a stage that holds whatever those sizes are
        (e.g. B with four nodules, or A with a single nodule already > 20 mm) is given.
    """
    if liver_function not in ("preserved", "end_stage"):
        raise CriteriaError(
            f"bclc_stage liver_function={liver_function!r}; expected 'preserved' or 'end_stage'."
        )
    if isinstance(ecog, bool) or not isinstance(ecog, int) or not 0 <= ecog <= 5:
        raise CriteriaError(f"bclc_stage needs ECOG PS 0–5, got {ecog!r}.")
    if (isinstance(n_possibly_absent, bool) or not isinstance(n_possibly_absent, int)
            or n_possibly_absent < 0):
        raise CriteriaError(
            f"bclc_stage n_possibly_absent must be a whole number ≥ 0, got {n_possibly_absent!r}."
        )
    known = [exact(x) for x in nodule_diameters_mm if x is not None]
    n_unknown = sum(1 for x in nodule_diameters_mm if x is None)
    n_present = len(known) + n_unknown
    if liver_function == "end_stage" or ecog > 2:
        return BclcResult("D", (f"end-stage liver function or PS {ecog} > 2",), ("D",))
    if macrovascular_invasion or extrahepatic_spread or ecog >= 1:
        why = []
        if macrovascular_invasion:
            why.append("portal/macrovascular invasion")
        if extrahepatic_spread:
            why.append("extrahepatic spread")
        if ecog >= 1:
            why.append(f"PS {ecog} (1–2 alone is stage C)")
        return BclcResult("C", tuple(why), ("C",))
    if n_present + n_possibly_absent == 0:
        raise CriteriaError("bclc_stage needs at least one nodule diameter (mm).")

    def within(x: Fraction, limit: Fraction) -> bool:
        return x <= limit if size_inclusive else x < limit

    def size_class(x: Fraction) -> int:
        return 0 if within(x, BCLC_VERY_EARLY_MAX_MM) else \
            1 if within(x, BCLC_EARLY_NODULE_MAX_MM) else 2

    op = "≤" if size_inclusive else "<"
    known_class = max((size_class(x) for x in known), default=0)
    if n_unknown == 0 and n_possibly_absent == 0:
        sizes = known
        if len(sizes) == 1:
            if within(sizes[0], BCLC_VERY_EARLY_MAX_MM):
                return BclcResult("0", (f"single nodule {float(sizes[0]):g} mm {op} 20 mm, PS 0",),
                                  ("0",))
            return BclcResult("A", (f"single nodule {float(sizes[0]):g} mm (any size), PS 0",),
                              ("A",))
        if len(sizes) <= 3 and all(within(x, BCLC_EARLY_NODULE_MAX_MM) for x in sizes):
            return BclcResult("A", (f"{len(sizes)} nodules each {op} 30 mm, PS 0",), ("A",))
        return BclcResult("B", (f"{len(sizes)} nodules, beyond A (largest "
                                f"{float(max(sizes)):g} mm), PS 0",), ("B",))
    # Some sizes (or presence) unknown: every stage they could give (an unknown size may be
    # anything from tiny to beyond 30 mm; a not-evaluable nodule may also be gone).
    possible: set[str] = set()
    for extra in range(min(n_possibly_absent, 4) + 1):
        n = n_present + extra
        if n == 0:
            continue
        classes = range(known_class, 3) if n_unknown + extra else (known_class,)
        possible |= {_stage_by_count(min(n, 4), c) for c in classes}
    stages = tuple(sorted(possible))
    count = (f"{n_present}" if not n_possibly_absent
             else f"{n_present}–{n_present + n_possibly_absent}")
    unknown = []
    if n_unknown:
        unknown.append(f"{n_unknown} without a diameter")
    if n_possibly_absent:
        unknown.append(f"{n_possibly_absent} not evaluable")
    largest = f", largest measured {float(max(known)):g} mm" if known else ""
    what = f"{count} nodule(s) ({', '.join(unknown)}{largest})"
    if len(stages) == 1:
        return BclcResult(stages[0], (f"{what}: {stages[0]} whatever their size, PS 0",),
                          stages)
    return BclcResult("NE", (
        f"{what}: stage {' or '.join(stages)} depending on the unknown size(s) "
        f"(0: single {op} 20 mm; A: single, or 2–3 each {op} 30 mm; B: beyond). Fix: record "
        "longest_diameter_mm of every intrahepatic nodule present.",), stages)


def nearest_timepoint(doc: ReadDocument, lf: LiverFunction) -> TimePoint:
    """The time point of ``doc`` closest in day to the liver-function record ``lf`` (the
    earlier one on a tie): the tumours BCLC stages, and the time point whose Milan the
    record's invasion / spread flags apply to."""
    return min(doc.timepoints, key=lambda t: (abs((t.day or 0) - (lf.day or 0)), t.day or 0))


def bclc_for(doc: ReadDocument, lf: LiverFunction, *, size_inclusive: bool = True,
             too_small_default_mm: float = 5.0, nodes_are_spread: bool = True) -> BclcResult:
    """BCLC 2022 stage for a read-document liver-function record.

    Tumours: every intrahepatic tumour nodule (any role: target, non-target, new; not absent,
    not merged) of the time point closest in day to the record, each counted in the number of
    nodules; ``too_small`` ones are small (``too_small_default_mm``); one without
    ``longest_diameter_mm`` has an unknown size and a ``not_evaluable`` one may also be gone,
    so the stage is ``"NE"`` when they could change it (see :func:`bclc_stage`).
    ``macrovascular_invasion`` / ``extrahepatic_spread``: the record's flags, or, when not
    given, derived from that time point (a PVTT present → invasion; an extrahepatic lesion
    present → spread, and with ``nodes_are_spread`` (default) a pathological lymph node, N1:
    see :func:`~hcc_imaging.burden.scores.spread_evidence`).  Needs ``ecog`` and
    ``liver_function_status``.
    """
    from hcc_imaging.burden.scores import intrahepatic_nodules, spread_evidence

    if lf.ecog is None or lf.liver_function_status is None:
        missing = [n for n in ("ecog", "liver_function_status") if getattr(lf, n) is None]
        raise CriteriaError(
            f"liver function on day {lf.day}: BCLC needs ecog and liver_function_status "
            f"('preserved' / 'end_stage'); {' and '.join(missing)} not recorded, so no BCLC "
            "stage. Fix: record them in the liver_function entry."
        )
    tp = nearest_timepoint(doc, lf)
    invasion, spread = spread_evidence(tp, nodes_are_spread=nodes_are_spread)
    nodules = intrahepatic_nodules(tp, too_small_default_mm)
    sizes = [n.diameter_mm for n in nodules if n.certain]
    maybe = [n.lesion_id for n in nodules if not n.certain]
    mvi = lf.macrovascular_invasion
    if mvi is None:
        mvi = bool(invasion)
    ehs = lf.extrahepatic_spread
    if ehs is None:
        ehs = bool(spread)
    evidence = []
    if lf.macrovascular_invasion is None and invasion:
        evidence.append(f"invasion from {', '.join(invasion)} (PVTT)")
    if lf.extrahepatic_spread is None and spread:
        evidence.append(f"extrahepatic spread from {', '.join(spread)}")
    res = bclc_stage(sizes, ecog=lf.ecog, liver_function=lf.liver_function_status,
                     macrovascular_invasion=mvi, extrahepatic_spread=ehs,
                     size_inclusive=size_inclusive, n_possibly_absent=len(maybe))
    extra = ()
    unsized = [n.lesion_id for n in nodules if n.certain and n.diameter_mm is None]
    if res.stage in ("0", "A", "B", "NE") and (unsized or maybe):
        extra = (("no longest_diameter_mm: " + ", ".join(unsized) if unsized else "")
                 + ("; " if unsized and maybe else "")
                 + ("not evaluable: " + ", ".join(maybe) if maybe else ""),)
    extra += tuple(evidence)
    return BclcResult(res.stage, res.reasons + extra + (f"tumours from time point {tp.id!r}",),
                      res.possible)

"""Named options of the non-criterion parts of ``assess``: clinical CR / drug-off and BCLC.

``assess(doc, ..., clinical_options=ClinicalOptions(afp_uln_ng_ml=20))`` (or a dict of the
same names) and ``hcc-imaging assess READ --set clinical:afp_uln_ng_ml=20`` set them, in the
style of the criteria's ``--set CRITERION:PARAM=VALUE``; ``bclc_options`` /
``--set bclc:size_inclusive=false`` likewise.  Values are checked like rule parameters
(:mod:`hcc_imaging.response.params`): strict yes/no, whole days, positive limits.  The
options used are written into the output (``clinical.options``; ``bclc_size_inclusive`` on
every liver row with a BCLC stage), so a result says which upper limits of normal it used.

Defaults (criteria.md §9, §11, §12.7, §12.9): AFP ≤ 10 ng/mL (Japanese practice; many Western
labs use 20: :data:`~hcc_imaging.response.clinical.MARKER_LIMITS_WEST`), AFP-L3 < 10 %,
PIVKA-II < 40 mAU/mL; clinical CR needs markers normal **> 42 days**; drug-off ≥ 84 days
(12 weeks; 168 for the 24-week reading) and a CEUS without arterial flow; BCLC sizes "≤".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import CriteriaError
from hcc_imaging.response.clinical import MARKER_LIMITS_JAPAN, MarkerLimits
from hcc_imaging.response.params import check_fields
from hcc_imaging.response.rules import _params_json

__all__ = ["ClinicalOptions", "BclcOptions", "options_from", "OPTION_SECTIONS"]


def _positive(obj: Any, owner: str, names: tuple[str, ...]) -> None:
    from decimal import Decimal, InvalidOperation

    for name in names:
        v = getattr(obj, name)
        try:
            x = (Fraction(repr(v)) if isinstance(v, float) else Fraction(v)
                 if isinstance(v, (int, Fraction)) and not isinstance(v, bool)
                 else Fraction(Decimal(str(v).strip())))
        except (ValueError, ArithmeticError, TypeError, InvalidOperation):
            x = None
        if x is None or x <= 0:
            raise CriteriaError(
                f"{owner} option {name}={v!r}: expected a number > 0. Fix: e.g. --set "
                f"{owner}:{name}=20."
            )
        object.__setattr__(obj, name, x)


#: the ``MarkerLimits`` fields a ``ClinicalOptions`` carries
_LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(MarkerLimits))


@dataclass(frozen=True, slots=True)
class ClinicalOptions:
    """Clinical CR and drug-off settings (:mod:`hcc_imaging.response.clinical`).

    ``afp_uln_ng_ml`` / ``afp_l3_uln_pct`` / ``pivka_ii_uln_mau_ml``: upper limits of normal,
    ``*_inclusive``: whether a value equal to it is normal (AFP "≤ 10"; AFP-L3 "< 10 %";
    PIVKA-II "< 40").  ``min_normal_days`` / ``duration_inclusive``: clinical CR needs the
    markers normal > 42 days (≥ with ``duration_inclusive``); ``count_cr_after_pd``.
    ``drug_off_min_normal_days`` / ``drug_off_duration_inclusive``: the drug-off window
    (≥ 84 days; 168 for 24 weeks); ``require_ceus``.
    """

    # the upper limits' defaults are MARKER_LIMITS_JAPAN's (one place says them)
    afp_uln_ng_ml: Fraction = MARKER_LIMITS_JAPAN.afp_uln_ng_ml
    afp_inclusive: bool = MARKER_LIMITS_JAPAN.afp_inclusive
    afp_l3_uln_pct: Fraction = MARKER_LIMITS_JAPAN.afp_l3_uln_pct
    afp_l3_inclusive: bool = MARKER_LIMITS_JAPAN.afp_l3_inclusive
    pivka_ii_uln_mau_ml: Fraction = MARKER_LIMITS_JAPAN.pivka_ii_uln_mau_ml
    pivka_ii_inclusive: bool = MARKER_LIMITS_JAPAN.pivka_ii_inclusive
    min_normal_days: int = 42
    duration_inclusive: bool = False
    count_cr_after_pd: bool = False
    drug_off_min_normal_days: int = 84
    drug_off_duration_inclusive: bool = True
    require_ceus: bool = True

    def __post_init__(self) -> None:
        _positive(self, "clinical", ("afp_uln_ng_ml", "afp_l3_uln_pct", "pivka_ii_uln_mau_ml"))
        check_fields(self, "clinical")

    @classmethod
    def with_limits(cls, limits: Any, **changes: Any) -> ClinicalOptions:
        """Options taking their upper limits of normal from a ``MarkerLimits`` record (e.g.
        ``MARKER_LIMITS_WEST``)."""
        return cls(**{n: getattr(limits, n) for n in _LIMIT_NAMES}, **changes)

    @property
    def limits(self) -> MarkerLimits:
        """The ``MarkerLimits`` record the clinical functions take."""
        return MarkerLimits(**{n: getattr(self, n) for n in _LIMIT_NAMES})

    def to_json(self) -> dict[str, Any]:
        return _params_json(self)


@dataclass(frozen=True, slots=True)
class BclcOptions:
    """BCLC 2022 settings (:func:`hcc_imaging.burden.bclc.bclc_for`): ``size_inclusive``
    (*disputed*, criteria.md §12.7: single nodule "≤ 2 cm" → 0 and nodules "≤ 3 cm" → A, True;
    False reads "<"); ``too_small_default_mm``: the size a too-small nodule counts as."""

    size_inclusive: bool = True
    too_small_default_mm: Fraction = Fraction(5)

    def __post_init__(self) -> None:
        _positive(self, "bclc", ("too_small_default_mm",))
        check_fields(self, "bclc")

    def to_json(self) -> dict[str, Any]:
        return _params_json(self)


#: ``--set SECTION:NAME=VALUE`` sections that are options, not criteria.
OPTION_SECTIONS: dict[str, type] = {"clinical": ClinicalOptions, "bclc": BclcOptions}


def options_from(cls: type, value: Any) -> Any:
    """``value`` (None, an instance of ``cls`` or a mapping of its field names) as a ``cls``;
    an unknown name is refused listing the valid ones."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    section = next(k for k, c in OPTION_SECTIONS.items() if c is cls)
    if not isinstance(value, Mapping):
        raise CriteriaError(
            f"{section}_options={value!r}: expected a {cls.__name__} or a dict of its options "
            f"({', '.join(f.name for f in dataclasses.fields(cls))})."
        )
    names = [f.name for f in dataclasses.fields(cls)]
    bad = [k for k in value if k not in names]
    if bad:
        import difflib

        close = difflib.get_close_matches(str(bad[0]), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CriteriaError(
            f"{section} option(s) {bad} unknown.{hint} Valid {section} options: "
            f"{', '.join(names)}. Fix: e.g. --set {section}:{names[0]}=..."
        )
    return cls(**dict(value))

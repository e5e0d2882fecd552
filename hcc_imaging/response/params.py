"""Strict checks of rule and option values, shared by every parameter record.

The rule records (:class:`~hcc_imaging.response.rules.RuleSet`, ``RecicLRules``,
``IRecistRules``) and the option records (:class:`~hcc_imaging.response.options.ClinicalOptions`,
``BclcOptions``) run :func:`check_fields` in ``__post_init__``, so a value is checked the same
way whether it comes from ``--set``, ``rule_overrides``, ``assess(**overrides)`` or
``RuleSet.replace``:

* a ``bool`` field takes True / False, or ``true/false/yes/no/1/0`` (case-insensitive, as
  text or as the numbers 1 / 0); anything else (``"flase"``, ``"nope"``, ``""``) is refused
  naming the record, the parameter and the accepted values — never read as "truthy";
* a ``*_frac`` field is a fraction in [0, 1]: ``pr_threshold_frac=30`` is refused with a hint
  (``0.30``), as a percentage would otherwise silently never be met;
* a ``*_days`` field is a whole number of days ≥ 0.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import CriteriaError

__all__ = ["TRUE_WORDS", "FALSE_WORDS", "parse_bool", "check_fields"]

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")


def parse_bool(value: Any, owner: str, name: str) -> bool:
    """``value`` as a bool, strictly: True/False, 1/0, or the words in :data:`TRUE_WORDS` /
    :data:`FALSE_WORDS` (case-insensitive). ``owner`` names the criterion or option set."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Fraction, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
    raise CriteriaError(
        f"{owner} parameter {name}={value!r} is not a yes/no value. Accepted (case-insensitive): "
        f"{'/'.join(TRUE_WORDS)} for true, {'/'.join(FALSE_WORDS)} for false. Fix: e.g. "
        f"--set {owner.lower()}:{name}=false."
    )


def _hint(value: Fraction) -> str:
    """``30`` → ``0.30``: the fraction a percentage was probably meant as."""
    text = f"{float(value / 100):.4f}".rstrip("0")
    whole, _, dec = text.partition(".")
    return f"{whole}.{dec.ljust(2, '0')}"


def _check_frac(value: Any, owner: str, name: str) -> None:
    if isinstance(value, (int, Fraction)) and not isinstance(value, bool) and not 0 <= value <= 1:
        hint = (f" Did you mean {_hint(Fraction(value))} ({value} %)?" if 1 < value <= 100
                else "")
        raise CriteriaError(
            f"{owner} parameter {name}={float(value):g} is outside [0, 1]: *_frac parameters are "
            f"fractions (0.30 = 30 %).{hint} Fix: e.g. --set {owner.lower()}:{name}="
            f"{_hint(Fraction(value)) if 1 < value <= 100 else '0.30'}."
        )


def _check_days(value: Any, owner: str, name: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CriteriaError(
            f"{owner} parameter {name}={value!r}: expected a whole number of days ≥ 0. Fix: "
            f"e.g. --set {owner.lower()}:{name}=28."
        )
    return value


def check_fields(obj: Any, owner: str) -> None:
    """Coerce / check the ``bool``, ``*_frac`` and ``*_days`` fields of the frozen dataclass
    ``obj`` in place (call after the record's own coercions, so fractions are Fractions)."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.type == "bool":
            object.__setattr__(obj, f.name, parse_bool(v, owner, f.name))
        elif f.name.endswith("_frac"):
            _check_frac(v, owner, f.name)
        elif f.name.endswith("_days") and f.type == "int":
            object.__setattr__(obj, f.name, _check_days(v, owner, f.name))

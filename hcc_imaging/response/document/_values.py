"""Reading one value of a read document (enum, number, boolean, text, date, day), each refused with
an error naming where it stands and how to fix it; :func:`exact`, a measurement as it was written."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar

from hcc_imaging.errors import ReadDocumentError

E = TypeVar("E", bound=StrEnum)


# ---------------------------------------------------------------------------------------------
# small validation helpers


def _where(tp: str | None = None, lesion: str | None = None, fld: str | None = None) -> str:
    parts = []
    if tp is not None:
        parts.append(f"time point {tp!r}")
    if lesion is not None:
        parts.append(f"lesion {lesion!r}")
    if fld is not None:
        parts.append(f"field {fld!r}")
    return ", ".join(parts) if parts else "read document"


def _enum(enum_cls: type[E], value: Any, where: str, aliases: Mapping[str, str] | None = None) -> E:
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ReadDocumentError(
            f"{where}: expected one of {[e.value for e in enum_cls]}, got {value!r} "
            f"({type(value).__name__}). Fix: write one of the listed strings."
        )
    text = str(value).strip()
    if aliases and text.lower() in aliases:
        text = aliases[text.lower()]
    for member in enum_cls:
        if member.value == text or member.value.lower() == text.lower():
            return member
    close = difflib.get_close_matches(text, [e.value for e in enum_cls], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ReadDocumentError(
        f"{where}: {text!r} is not a valid value; expected one of "
        f"{[e.value for e in enum_cls]}.{hint}"
    )


#: Largest length a read document accepts, in mm (diameters, axes, growth, slice thickness,
#: endpoint coordinates): 10 m is nothing in a human body, so a larger value is a unit or data
#: error (an LD of 1e308 gave an absurd PD, or an OverflowError where a sum became a float).
#: Volumes (mm3): its cube.
MAX_LENGTH_MM: float = 10_000.0
_SIZE_LIMITS: dict[str, float] = {"mm": MAX_LENGTH_MM, "mm3": MAX_LENGTH_MM**3}

#: How much longer (mm) an axis may be written than the axis that bounds it before the read is
#: refused: a short axis than its longest diameter, a viable diameter than the whole lesion's
#: longest diameter, a viable short axis than the viable diameter.  0.5 mm covers values rounded
#: separately (28.96 -> 29.0 and 28.94 -> 28.9) and two readers' rounding habits; a larger
#: excess is a swapped pair or a typo (docs/read-document.md "Errors").
AXIS_TOLERANCE_MM: float = 0.5


def _number(
    value: Any,
    where: str,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    unit: str = "mm",
    optional: bool = True,
) -> float | None:
    if value is None:
        if optional:
            return None
        raise ReadDocumentError(f"{where}: a number ({unit}) is required. Fix: give the value.")
    if isinstance(value, bool):
        raise ReadDocumentError(
            f"{where}: expected a number in {unit}, got the boolean {value!r}. "
            "Fix: write the measured value, e.g. 23.1."
        )
    try:
        if isinstance(value, str):
            number = float(Decimal(value.strip()))
        elif isinstance(value, (int, float, Decimal, Fraction)):
            number = float(value)
        else:
            raise TypeError(type(value).__name__)
    except (ArithmeticError, ValueError, TypeError) as err:
        raise ReadDocumentError(
            f"{where}: expected a number in {unit}, got {value!r}. "
            "Fix: write a plain decimal number such as 23.1 (no unit text)."
        ) from err
    if not math.isfinite(number):
        raise ReadDocumentError(
            f"{where}: {value!r} is not a finite number; a measurement cannot be NaN or "
            "infinite. Fix: give the value, or set status to 'not_evaluable'."
        )
    limit = _SIZE_LIMITS.get(unit)
    if limit is not None and abs(number) > limit:
        raise ReadDocumentError(
            f"{where}: {number!r} {unit} is not a lesion size (above {limit:g} {unit}); a unit or "
            "data error. Fix: give the measured value in mm (mm3 for volumes), or set status to "
            "'not_evaluable'."
        )
    if minimum is not None and number < minimum:
        raise ReadDocumentError(
            f"{where}: {number!r} {unit} is below the allowed minimum {minimum}. "
            "Sizes and lab values cannot be negative. Fix: record the measured value, or set "
            "status to 'absent' (gone) or 'not_evaluable'."
        )
    if maximum is not None and number > maximum:
        raise ReadDocumentError(
            f"{where}: {number!r} is above the allowed maximum {maximum} ({unit}). "
            "Fix: give fractions in [0, 1] (0.5, not 50)."
        )
    return number


def _bool(value: Any, where: str, optional: bool = True) -> bool | None:
    if value is None and optional:
        return None
    if isinstance(value, bool):
        return value
    raise ReadDocumentError(
        f"{where}: expected true or false, got {value!r}. Fix: write a JSON boolean."
    )


def _text(value: Any, where: str, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if isinstance(value, str) and value.strip():
        return value
    raise ReadDocumentError(
        f"{where}: expected a non-empty string, got {value!r}. Fix: give an identifier such "
        "as 'L1' or 'FU1'."
    )


def _note(value: Any, where: str) -> str | None:
    """A free-text note: any string (blank included, it is the reader's text) or None."""
    if value is None or isinstance(value, str):
        return value
    raise ReadDocumentError(f"{where}: a note must be text, got {type(value).__name__} {value!r}. Fix: quote it.")


def _date(value: Any, where: str) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip()[:10])
        except ValueError as err:
            raise ReadDocumentError(
                f"{where}: {value!r} is not an ISO date. Fix: write YYYY-MM-DD, e.g. "
                "'2024-03-05'."
            ) from err
    raise ReadDocumentError(
        f"{where}: expected an ISO date string YYYY-MM-DD, got {value!r}."
    )


def _day(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ReadDocumentError(f"{where}: expected an integer day offset, got {value!r}.")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError as err:
        raise ReadDocumentError(
            f"{where}: expected an integer day offset, got {value!r}."
        ) from err
    if number != number.to_integral_value():
        raise ReadDocumentError(
            f"{where}: day offsets are whole days, got {value!r}. Fix: round to the scan day."
        )
    return int(number)


def exact(value: float | int | str | Decimal | Fraction) -> Fraction:
    """The exact rational value of a measurement as it was written.

    A float is read through its shortest repr (``23.1`` → 231/10, not the binary double), so
    that thresholds like −30 % are decided exactly.

    >>> exact(23.1) / exact(33.0) - 1
    Fraction(-3, 10)
    """
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a measurement")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        return Fraction(value)
    return Fraction(Decimal(str(value)))


def _check_keys(obj: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    if not isinstance(obj, Mapping):
        raise ReadDocumentError(
            f"{where}: expected a JSON object, got {type(obj).__name__}. Fix: see "
            "docs/read-document.md for the layout."
        )
    allowed = set(allowed)
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ReadDocumentError(
                f"{where}: unknown field {key!r}.{hint} Unknown fields are refused so that a "
                "typo cannot silently drop a measurement. Allowed: "
                f"{', '.join(sorted(allowed))}."
            )


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]

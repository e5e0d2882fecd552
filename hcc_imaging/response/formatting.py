"""Numbers in reasons and tables: sizes in mm / mm², signed percentages (exact where short).

Shared by the classifiers (RECIST 1.1 family, iRECIST, RECICL) and the CLI tables; moved out of
``classify`` so that helpers of the classifier can use it without importing the classifier.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Decimal, localcontext
from fractions import Fraction
from typing import Any

__all__ = ["fmt_mm", "fmt_pct", "fmt_change"]


#: Above this magnitude a value is written in scientific notation (``1.3e+307``): a float cannot
#: hold an exact sum or change of absurd inputs (an LD of 1e308 mm overflowed ``float()``), and
#: 300 digits say nothing more.  Smaller values are written as before.
_SCIENTIFIC_FROM = Fraction(10**15)


def _scientific(value: Fraction) -> str:
    """``value`` to 4 significant digits, exactly rounded, however large (no float)."""
    with localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 28, MAX_EMAX, MIN_EMIN
        d = Decimal(value.numerator) / Decimal(value.denominator)
        return f"{d:.3e}".replace("E", "e")


def fmt_mm(value: Fraction | None, unit: str = "mm") -> str:
    """``33``, ``23.1``, ``12.35`` (shortest exact-ish decimal) + unit; ``1e+308`` from 10^15 on."""
    if value is None:
        return "n/a"
    if abs(value) >= _SCIENTIFIC_FROM:
        return f"{_scientific(value)} {unit}"
    if value.denominator == 1:
        return f"{value.numerator} {unit}"
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return f"{text} {unit}"


def fmt_pct(frac: Fraction | None) -> str:
    """Signed percentage, exact when it is a short decimal (``-30 %``, ``+20.5 %``); scientific
    from 10^15 % on (``+1.299e+308 %``)."""
    if frac is None:
        return "n/a"
    pct = frac * 100
    if abs(pct) >= _SCIENTIFIC_FROM:
        text = _scientific(pct)
    elif pct.denominator == 1:
        text = str(pct.numerator)
    else:
        text = _off_cutoff(float(pct), 2, exact=pct).rstrip("0").rstrip(".")
    return ("+" if pct > 0 else "") + text + " %"


def _off_cutoff(pct: float, decimals: int, *, exact: Any = None) -> str:
    """``pct`` with ``decimals`` decimals, or more (up to 6) while the rounded text would read as a
    round cut-off (a multiple of 5: -30, +20, -50, +25 ...) that the value is not: -29.97 % shown as
    "-30.0 %" beside SD looks like a misclassification."""
    value = exact if exact is not None else pct
    d = decimals
    while True:
        text = f"{pct:.{d}f}"
        shown = float(text)
        if d >= 6 or shown % 5 != 0 or abs(shown - float(value)) < 1e-9:
            return text
        d += 1


def fmt_change(frac: float | None, decimals: int = 1) -> str:
    """A change given as a fraction (``-0.2997``), as a signed percentage for tables, with
    ``decimals`` decimals unless that would round it onto a cut-off (``-29.97 %``, not ``-30.0 %``)."""
    if frac is None:
        return "—"
    pct = float(frac) * 100
    if abs(pct) >= _SCIENTIFIC_FROM:
        return f"{pct:+.3e} %"
    text = _off_cutoff(pct, decimals)
    return ("+" if pct > 0 and not text.startswith("-") else "") + text + " %"

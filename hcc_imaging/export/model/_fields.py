"""One value of a read document or assessment read and checked: plain data, dates, numbers,
endpoints, Couinaud segments, roles (a value that cannot be read raises :class:`ExportInputError`
naming where it is)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import re
from collections.abc import Mapping
from typing import Any

from ._records import ExportInputError, Segment3


def _plain(obj: Any) -> Any:
    """JSON-like plain data from dataclasses, enums, dates, numpy scalars."""
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _plain(obj.tolist())
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            return obj.item()
        except (TypeError, ValueError):
            return obj
    return obj


def _get(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return default


def _date(value: Any, where: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(s[:10] if fmt == "%Y-%m-%d" else s[:8], fmt).date()
        except ValueError:
            continue
    raise ExportInputError(f"{where}: date {value!r} is neither YYYY-MM-DD nor YYYYMMDD. Fix the date field.")


def _num(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError) as err:
        raise ExportInputError(f"{where}: {value!r} is not a number. Record a number in mm (or null).") from err
    if not math.isfinite(f):
        raise ExportInputError(
            f"{where}: value {value!r} is not finite. Record null for 'not measured' instead."
        )
    return f


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(round(float(value)))


def _segment(value: Any, where: str) -> Segment3 | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        pts = _get(value, "points", "lps", "endpoints")
        if pts is None and "p1" in value:
            pts = [value["p1"], value["p2"]]
        value = pts
        if value is None:
            return None
    try:
        pts = [[float(c) for c in p] for p in value]
    except (TypeError, ValueError) as err:
        raise ExportInputError(
            f"{where}: endpoints {value!r} are not two LPS points [[x, y, z], [x, y, z]] in mm."
        ) from err
    if len(pts) != 2 or any(len(p) != 3 for p in pts) or not all(math.isfinite(c) for p in pts for c in p):
        raise ExportInputError(
            f"{where}: endpoints must be exactly two finite LPS points [[x, y, z], [x, y, z]] (mm), "
            f"got {value!r}."
        )
    return ((pts[0][0], pts[0][1], pts[0][2]), (pts[1][0], pts[1][1], pts[1][2]))


_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII"}


def _couinaud(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    s = str(value).strip().upper().removeprefix("SEGMENT").removeprefix("S").strip()
    if s.isdigit() and int(s) in _ROMAN:
        return _ROMAN[int(s)]
    if s in _ROMAN.values():
        return s
    if s in {"4A", "4B", "IVA", "IVB"}:
        return "IV"
    raise ExportInputError(
        f"{where}: Couinaud segment {value!r} is not one of 1-8 / I-VIII. Fix couinaud_segment."
    )


_NOTE_SEGMENT = re.compile(r"couinaud segment\s+([IVX]+|[1-8])\b", re.IGNORECASE)


def _note_segment(note: Any) -> str | None:
    """Couinaud segment written in a lesion note as "Couinaud segment VII" (how the read
    document, which has no segment field, carries it; sr_import writes it so)."""
    if not isinstance(note, str):
        return None
    m = _NOTE_SEGMENT.search(note)
    return m.group(1).upper() if m else None


def _role(value: Any) -> str:
    """``target`` / ``non_target`` / ``new`` from any spelling (``non-target``, ``NON TARGET``, enums)."""
    role = str(_plain(value)).strip().lower().replace("-", "_")
    return "non_target" if role in {"nontarget", "non target"} else role

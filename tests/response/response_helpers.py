"""Small builders for read documents in the response tests."""

from __future__ import annotations

from typing import Any

from hcc_imaging.response import ReadDocument


def les(lid: str, ld: float | None = None, **kw: Any) -> dict[str, Any]:
    """A lesion object: ``les("L1", 33.0)`` is a measured liver target of LD 33 mm."""
    out: dict[str, Any] = {"lesion_id": lid, **kw}
    if ld is not None:
        out["longest_diameter_mm"] = ld
    out.setdefault("role", "target")
    return out


def viable(lid: str, ld: float, vd: float, **kw: Any) -> dict[str, Any]:
    """A target with whole LD and viable (enhancing) LD."""
    return les(lid, ld, viable_diameter_mm=vd, **kw)


def doc(*timepoints: tuple[int, list[dict[str, Any]]], **kw: Any) -> ReadDocument:
    """``doc((0, [...]), (56, [...]))``: time points BL, FU1, FU2... at those days."""
    tps = []
    for i, (day, lesions) in enumerate(timepoints):
        tid = "BL" if i == 0 else f"FU{i}"
        tps.append({"id": tid, "day": day, "lesions": lesions})
    return ReadDocument.from_json({"patient_id": "P-TEST", "timepoints": tps, **kw})


def series(values: list[float | None], days: list[int] | None = None, **kw: Any) -> ReadDocument:
    """One target lesion L1 with LD values per time point (None = not evaluable)."""
    days = days or [0] + [56 * i for i in range(1, len(values))]
    tps = []
    for d, v in zip(days, values):
        if v is None:
            tps.append((d, [les("L1", status="not_evaluable")]))
        else:
            tps.append((d, [les("L1", v)]))
    return doc(*tps, **kw)

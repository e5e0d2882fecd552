"""The dated clinical records of a read document: treatments, tumour markers, liver function, CEUS."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from hcc_imaging.errors import ReadDocumentError
from ._enums import _ASCITES_ALIASES, _ENCEPH_ALIASES, AscitesGrade, EncephalopathyGrade, TreatmentKind
from ._values import _bool, _date, _day, _enum, _note, _number, exact


def _dated(self: Any, where: str) -> None:
    s = object.__setattr__
    s(self, "date", _date(self.date, f"{where}, field 'date'"))
    s(self, "day", _day(self.day, f"{where}, field 'day'"))
    if self.date is None and self.day is None:
        raise ReadDocumentError(
            f"{where}: neither 'date' nor 'day' is given, so it cannot be placed in time. "
            "Fix: give the date (YYYY-MM-DD) or the day offset from study entry."
        )


def _simple_to_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        if isinstance(v, _dt.date):
            v = v.isoformat()
        elif isinstance(v, StrEnum):
            v = v.value
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


@dataclass(frozen=True, slots=True)
class TreatmentEvent:
    """A treatment (start) on a date / day; ``end_day`` / ``end_date`` for drugs stopped.

    ``lesion_ids`` lists the nodules a locoregional treatment targeted (RECICL).
    """

    kind: TreatmentKind
    date: _dt.date | None = None
    day: int | None = None
    end_date: _dt.date | None = None
    end_day: int | None = None
    lesion_ids: tuple[str, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        where = f"treatment {self.kind!r}"
        s = object.__setattr__
        s(self, "kind", _enum(TreatmentKind, self.kind, f"{where}, field 'kind'"))
        _dated(self, f"treatment {self.kind.value!r}")
        s(self, "end_date", _date(self.end_date, f"{where}, field 'end_date'"))
        s(self, "end_day", _day(self.end_day, f"{where}, field 'end_day'"))
        s(self, "lesion_ids", tuple(str(x) for x in self.lesion_ids))
        s(self, "note", _note(self.note, f"{where}, field 'note'"))

    @property
    def is_locoregional(self) -> bool:
        """TACE (any form), TARE, ablation (RFA/MWA), resection or transplant."""
        return self.kind in {
            TreatmentKind.TACE, TreatmentKind.CTACE, TreatmentKind.DEB_TACE,
            TreatmentKind.SUPERSELECTIVE_TACE, TreatmentKind.TARE, TreatmentKind.RFA,
            TreatmentKind.MWA, TreatmentKind.ABLATION, TreatmentKind.RESECTION,
            TreatmentKind.TRANSPLANT,
        }


@dataclass(frozen=True, slots=True)
class MarkerValue:
    """Tumour markers drawn on one date: AFP (ng/mL), AFP-L3 (% of AFP), PIVKA-II (mAU/mL)."""

    date: _dt.date | None = None
    day: int | None = None
    afp_ng_ml: float | None = None
    afp_l3_pct: float | None = None
    pivka_ii_mau_ml: float | None = None
    cea_ng_ml: float | None = None
    ca19_9_u_ml: float | None = None

    def __post_init__(self) -> None:
        where = f"marker draw {self.date or self.day!s}"
        _dated(self, where)
        s = object.__setattr__
        s(self, "afp_ng_ml", _number(self.afp_ng_ml, f"{where}, field 'afp_ng_ml'", unit="ng/mL"))
        s(self, "afp_l3_pct", _number(self.afp_l3_pct, f"{where}, field 'afp_l3_pct'",
                                      maximum=100.0, unit="%"))
        s(self, "pivka_ii_mau_ml",
          _number(self.pivka_ii_mau_ml, f"{where}, field 'pivka_ii_mau_ml'", unit="mAU/mL"))
        s(self, "cea_ng_ml", _number(self.cea_ng_ml, f"{where}, field 'cea_ng_ml'", unit="ng/mL"))
        s(self, "ca19_9_u_ml",
          _number(self.ca19_9_u_ml, f"{where}, field 'ca19_9_u_ml'", unit="U/mL"))


@dataclass(frozen=True, slots=True)
class LiverFunction:
    """Liver-function inputs on one date (Child-Pugh, ALBI, BCLC).

    Give bilirubin in mg/dL **or** µmol/L and albumin in g/dL **or** g/L; the other unit is
    derived exactly from the value written (bilirubin mg/dL × 17.1 = µmol/L; albumin g/dL × 10
    = g/L: 51.3 µmol/L is 3.0 mg/dL, not 2.9999999999999996, so a Child-Pugh band edge is on
    the same side in either unit).
    ``liver_function_status`` (``preserved`` / ``end_stage``), ``ecog``,
    ``macrovascular_invasion`` and ``extrahepatic_spread`` are the BCLC 2022 inputs.
    """

    date: _dt.date | None = None
    day: int | None = None
    bilirubin_mg_dl: float | None = None
    bilirubin_umol_l: float | None = None
    albumin_g_dl: float | None = None
    albumin_g_l: float | None = None
    inr: float | None = None
    ascites: AscitesGrade | None = None
    encephalopathy: EncephalopathyGrade | None = None
    ecog: int | None = None
    macrovascular_invasion: bool | None = None
    extrahepatic_spread: bool | None = None
    liver_function_status: str | None = None

    def __post_init__(self) -> None:
        where = f"liver function {self.date or self.day!s}"
        _dated(self, where)
        s = object.__setattr__
        for name, unit in (("bilirubin_mg_dl", "mg/dL"), ("bilirubin_umol_l", "umol/L"),
                           ("albumin_g_dl", "g/dL"), ("albumin_g_l", "g/L"), ("inr", "ratio")):
            s(self, name, _number(getattr(self, name), f"{where}, field {name!r}", unit=unit))
        if self.ascites is not None:
            s(self, "ascites", _enum(AscitesGrade, self.ascites, f"{where}, field 'ascites'",
                                     _ASCITES_ALIASES))
        if self.encephalopathy is not None:
            s(self, "encephalopathy",
              _enum(EncephalopathyGrade, self.encephalopathy, f"{where}, field 'encephalopathy'",
                    _ENCEPH_ALIASES))
        if self.ecog is not None:
            e = _day(self.ecog, f"{where}, field 'ecog'")
            if e is None or not 0 <= e <= 5:
                raise ReadDocumentError(
                    f"{where}, field 'ecog': ECOG performance status is 0-5, got {self.ecog!r}."
                )
            s(self, "ecog", e)
        s(self, "macrovascular_invasion",
          _bool(self.macrovascular_invasion, f"{where}, field 'macrovascular_invasion'"))
        s(self, "extrahepatic_spread",
          _bool(self.extrahepatic_spread, f"{where}, field 'extrahepatic_spread'"))
        if self.liver_function_status is not None and self.liver_function_status not in (
                "preserved", "end_stage"):
            raise ReadDocumentError(
                f"{where}, field 'liver_function_status': {self.liver_function_status!r} is not "
                "valid; BCLC 2022 uses 'preserved' or 'end_stage'."
            )

    @property
    def bilirubin_mg_per_dl(self) -> float | None:
        """Bilirubin in mg/dL (from µmol/L ÷ 17.1, exactly, when only that is given)."""
        return _in_unit(self.bilirubin_mg_dl, self.bilirubin_umol_l, 1 / BILIRUBIN_UMOL_L_PER_MG_DL)

    @property
    def bilirubin_umol_per_l(self) -> float | None:
        """Bilirubin in µmol/L (mg/dL × 17.1, exactly, when only that is given)."""
        return _in_unit(self.bilirubin_umol_l, self.bilirubin_mg_dl, BILIRUBIN_UMOL_L_PER_MG_DL)

    @property
    def albumin_g_per_dl(self) -> float | None:
        """Albumin in g/dL (g/L ÷ 10 when only that is given)."""
        return _in_unit(self.albumin_g_dl, self.albumin_g_l, 1 / ALBUMIN_G_L_PER_G_DL)

    @property
    def albumin_g_per_l(self) -> float | None:
        """Albumin in g/L (g/dL × 10 when only that is given)."""
        return _in_unit(self.albumin_g_l, self.albumin_g_dl, ALBUMIN_G_L_PER_G_DL)


#: Bilirubin µmol/L per mg/dL, exact (``LiverFunction``'s units; ``burden.liver`` reads it too).
BILIRUBIN_UMOL_L_PER_MG_DL = Fraction("17.1")
#: Albumin g/L per g/dL, exact.
ALBUMIN_G_L_PER_G_DL = Fraction(10)


def _in_unit(own: float | None, other: float | None, factor: Fraction) -> float | None:
    """A lab in one unit: ``own`` when given, else ``other`` × ``factor`` computed exactly on
    the value as written (:func:`exact`) and rounded once to the nearest float (a float
    product or quotient can land on the wrong side of a band edge: 51.3 / 17.1 is
    2.9999999999999996 in floats, 3 × 17.1 is 51.300000000000004)."""
    if own is not None:
        return own
    if other is None:
        return None
    return float(exact(other) * factor)


@dataclass(frozen=True, slots=True)
class CeusExam:
    """Contrast-enhanced ultrasound: is there intranodular arterial flow (drug-off rule)?"""

    date: _dt.date | None = None
    day: int | None = None
    intranodular_arterial_flow: bool = True
    lesion_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"CEUS exam {self.date or self.day!s}"
        _dated(self, where)
        object.__setattr__(self, "intranodular_arterial_flow", _bool(
            self.intranodular_arterial_flow, f"{where}, field 'intranodular_arterial_flow'",
            optional=False))
        object.__setattr__(self, "lesion_ids", tuple(str(x) for x in self.lesion_ids))

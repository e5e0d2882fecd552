"""The read document: one reader's measurements of one patient over time (JSON, versioned).

The read document is the contract between measuring (napari, ``measure``, ``batch``) and
classifying (:func:`hcc_imaging.response.assess`).  It is plain data: frozen, slotted
dataclasses that validate themselves on construction and round-trip through JSON
(:meth:`ReadDocument.from_json` / :meth:`ReadDocument.to_json`).  The JSON Schema is
``hcc_imaging/response/read_document.schema.json`` (also ``docs/read-document.schema.json``);
the field-by-field description is ``docs/read-document.md``.

Numbers
-------
Lengths are in mm, areas in mm², volumes in mm³, fractions in ``[0, 1]``.  Numbers are stored
as ``float``; the classifier turns each into the exact decimal it was written as
(``Fraction(repr(x))``: ``23.1`` is exactly 231/10), so percentage thresholds are decided
exactly (33.0 mm → 23.1 mm is exactly −30 %).  Any ``int``, ``float``, ``Decimal``,
``Fraction`` or decimal string is accepted on input.

Days
----
``TimePoint.day`` is the day offset from study entry (day 0 = start of treatment or
randomisation).  When only dates are given, days are computed from ``ReadDocument.start_date``
(or, when that is absent, from the first time point's date, which then is day 0).

Roles
-----
``role`` is ``target``, ``non_target`` or ``new``.  Targets are chosen at baseline (the first
time point); follow-ups repeat the same ``lesion_id`` for the same lesion.  A criterion may
need a different role for a lesion (e.g. a non-enhancing lesion is a RECIST 1.1 target but an
mRECIST non-target): ``role_by_criteria={"mRECIST": "non_target"}`` says so.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from hcc_imaging._atomic import atomic_write_text
from hcc_imaging.errors import ReadDocumentError

__all__ = [
    "SCHEMA_VERSION",
    "Role",
    "LesionKind",
    "LesionStatus",
    "IRecistCategory",
    "TreatmentKind",
    "AscitesGrade",
    "EncephalopathyGrade",
    "Axis",
    "AxisEndpoints",
    "LesionObservation",
    "TimePoint",
    "TreatmentEvent",
    "MarkerValue",
    "LiverFunction",
    "CeusExam",
    "ReadDocument",
    "exact",
    "schema",
    "SCHEMA_PATH",
]

#: Version of the read-document format.  Minor versions only add optional fields; a reader
#: accepts any document with the same major version.
SCHEMA_VERSION: str = "1.0"

#: The JSON Schema shipped with the package (identical to ``docs/read-document.schema.json``).
SCHEMA_PATH: Path = Path(__file__).with_name("read_document.schema.json")


class Role(StrEnum):
    """Role of a lesion in the assessment (RECIST 1.1 sec. 4.2)."""

    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class LesionKind(StrEnum):
    """What the finding is.  ``pvtt`` = portal-vein tumour thrombus (mRECIST non-target)."""

    LESION = "lesion"
    LYMPH_NODE = "lymph_node"
    PVTT = "pvtt"
    EFFUSION = "effusion"
    ASCITES = "ascites"


class LesionStatus(StrEnum):
    """State of a finding at one time point.

    ``measured``: numbers given.  ``too_small``: present but too small to measure (RECIST WG:
    counts as the rule's default, 5 mm).  ``absent``: gone (0 mm).  ``not_evaluable``: not
    assessed / cannot be assessed.  ``present``: non-target present (not measured).
    ``unequivocal_progression``: non-target unequivocal progression.  ``further_increase``:
    any further increase after an iRECIST iUPD (need not be unequivocal).
    """

    MEASURED = "measured"
    TOO_SMALL = "too_small"
    ABSENT = "absent"
    NOT_EVALUABLE = "not_evaluable"
    PRESENT = "present"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    FURTHER_INCREASE = "further_increase"


class IRecistCategory(StrEnum):
    """iRECIST new-lesion category: new lesion target (NLT) or non-target (NLNT)."""

    NLT = "nlt"
    NLNT = "nlnt"


class TreatmentKind(StrEnum):
    """Treatment events (free ``other`` for anything else; the note says what)."""

    TACE = "TACE"
    CTACE = "cTACE"
    DEB_TACE = "DEB-TACE"
    SUPERSELECTIVE_TACE = "superselective_TACE"
    TARE = "TARE"
    RFA = "RFA"
    MWA = "MWA"
    ABLATION = "ablation"
    RESECTION = "resection"
    TRANSPLANT = "transplant"
    RADIOTHERAPY = "radiotherapy"
    SORAFENIB = "sorafenib"
    LENVATINIB = "lenvatinib"
    ATEZOLIZUMAB_BEVACIZUMAB = "atezolizumab_bevacizumab"
    DURVALUMAB_TREMELIMUMAB = "durvalumab_tremelimumab"
    OTHER = "other"


class AscitesGrade(StrEnum):
    """Ascites for Child-Pugh: none (1 point), mild (2), moderate-severe (3)."""

    NONE = "none"
    MILD = "mild"
    MODERATE_SEVERE = "moderate_severe"


class EncephalopathyGrade(StrEnum):
    """Hepatic encephalopathy for Child-Pugh: none (1), grade 1-2 (2), grade 3-4 (3)."""

    NONE = "none"
    GRADE_1_2 = "grade_1_2"
    GRADE_3_4 = "grade_3_4"


class Axis(StrEnum):
    """Which measured axis a pair of endpoints belongs to."""

    LONG = "long"
    SHORT = "short"
    VIABLE_LONG = "viable_long"
    VIABLE_SHORT = "viable_short"
    NECROSIS_LONG = "necrosis_long"
    NECROSIS_SHORT = "necrosis_short"


E = TypeVar("E", bound=StrEnum)

_ASCITES_ALIASES = {"moderate": "moderate_severe", "severe": "moderate_severe", "absent": "none"}
_ENCEPH_ALIASES = {
    "0": "none",
    "1": "grade_1_2",
    "2": "grade_1_2",
    "3": "grade_3_4",
    "4": "grade_3_4",
    "absent": "none",
}


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


# ---------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True, slots=True)
class AxisEndpoints:
    """Two LPS points (mm) of a measured axis, e.g. the ends of the longest diameter."""

    axis: Axis
    start_lps: tuple[float, float, float]
    end_lps: tuple[float, float, float]

    def __post_init__(self) -> None:
        where = f"endpoints of axis {self.axis!r}"
        object.__setattr__(self, "axis", _enum(Axis, self.axis, where))
        for name in ("start_lps", "end_lps"):
            pt = getattr(self, name)
            if not isinstance(pt, Sequence) or isinstance(pt, str) or len(pt) != 3:
                raise ReadDocumentError(
                    f"{where}: {name} must be 3 LPS coordinates in mm, got {pt!r}. "
                    "Fix: write [x, y, z]."
                )
            coords = tuple(
                _number(c, f"{where}, {name}", minimum=None, optional=False) for c in pt
            )
            object.__setattr__(self, name, coords)

    @property
    def length_mm(self) -> float:
        """Euclidean distance between the two points (mm)."""
        return math.dist(self.start_lps, self.end_lps)


_NUMERIC_MM = (
    "longest_diameter_mm",
    "short_axis_mm",
    "viable_diameter_mm",
    "viable_short_axis_mm",
    "necrosis_diameter_mm",
    "necrosis_short_axis_mm",
    "interval_growth_mm",
)


@dataclass(frozen=True, slots=True)
class LesionObservation:
    """One finding at one time point, as one reader recorded it.

    Parameters
    ----------
    lesion_id : str
        Stable id of the lesion across time points (e.g. ``"L1"``).
    role : Role
        ``target``, ``non_target`` or ``new``.
    organ : str
        Organ (``"liver"``, ``"lung"``, ``"lymph_node"``...); all nodes count as one organ.
    tracking_uid : str, optional
        DICOM tracking UID (TID 4108) when known.
    is_lymph_node : bool
        Nodes are measured by short axis (RECIST 1.1).
    kind : LesionKind
        ``lesion``, ``lymph_node``, ``pvtt``, ``effusion`` or ``ascites``.
    status : LesionStatus
        See :class:`LesionStatus`.
    longest_diameter_mm, short_axis_mm : float, optional
        Whole-lesion longest axial diameter and the perpendicular (short-axis) diameter, mm.
    viable_diameter_mm, viable_short_axis_mm : float, optional
        Longest diameter of the arterially enhancing (viable) part, and its perpendicular,
        mm (mRECIST / EASL).  0 = no enhancement left.
    viable_status : LesionStatus, optional
        ``too_small`` when the viable part is present but too small to measure.
    volume_mm3, viable_volume_mm3 : float, optional
    necrosis_fraction : float, optional
        Necrotic fraction of the lesion area (RECICL), in ``[0, 1]``.
    necrosis_diameter_mm, necrosis_short_axis_mm : float, optional
        Extent of the necrotic / ablated zone (RECICL TE4a vs TE4b).
    split_from : str, optional
        This is a fragment of the (target) lesion with that id; fragments are summed.
    merged_into : str, optional
        This lesion coalesced with that lesion; it counts 0 mm from now on.
    equivocal : bool
        New lesion that is not unequivocal yet (not PD until confirmed; RECIST 1.1 4.3.2).
    intrahepatic : bool, optional
        Defaults to ``organ == "liver"``.
    typical_hcc_pattern : bool, optional
        Arterial hyperenhancement with portal-venous / late washout (mRECIST new lesions).
    interval_growth_mm : float, optional
        Growth since first seen (mRECIST: an atypical new nodule is HCC at ≥ 10 mm growth).
    enhancing : bool, optional
        Intratumoral arterial enhancement present (mRECIST target eligibility and
        non-target CR).
    well_delineated : bool, optional
        mRECIST target eligibility.
    cytology_malignant : bool, optional
        Effusion / ascites cytology (mRECIST: PD only if malignant).
    porta_hepatis : bool
        Porta-hepatis node (mRECIST: malignant only at short axis ≥ 20 mm).
    previously_treated : bool
        Locally treated before baseline (RECIST: not measurable unless progressed).
    new_enhancement : bool
        New enhancement in a previously treated lesion (EASL PD).
    irecist_category : IRecistCategory, optional
        iRECIST new lesion target / non-target; derived from size when absent.
    attenuation_hu : float, optional
        Mean attenuation (Choi); carried, not classified.
    endpoints : tuple of AxisEndpoints
        LPS endpoints of the measured axes.
    role_by_criteria : mapping of str to Role
        Role under a specific criterion, e.g. ``{"mRECIST": "non_target"}``.
    note, source : str, optional
        Free text; provenance (reader id or algorithm + version).
    """

    lesion_id: str
    role: Role = Role.TARGET
    organ: str = "liver"
    tracking_uid: str | None = None
    is_lymph_node: bool = False
    kind: LesionKind = LesionKind.LESION
    status: LesionStatus = LesionStatus.MEASURED
    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    viable_diameter_mm: float | None = None
    viable_short_axis_mm: float | None = None
    viable_status: LesionStatus | None = None
    volume_mm3: float | None = None
    viable_volume_mm3: float | None = None
    necrosis_fraction: float | None = None
    necrosis_diameter_mm: float | None = None
    necrosis_short_axis_mm: float | None = None
    split_from: str | None = None
    merged_into: str | None = None
    equivocal: bool = False
    intrahepatic: bool | None = None
    typical_hcc_pattern: bool | None = None
    interval_growth_mm: float | None = None
    enhancing: bool | None = None
    well_delineated: bool | None = None
    cytology_malignant: bool | None = None
    porta_hepatis: bool = False
    previously_treated: bool = False
    new_enhancement: bool = False
    irecist_category: IRecistCategory | None = None
    attenuation_hu: float | None = None
    endpoints: tuple[AxisEndpoints, ...] = ()
    role_by_criteria: Mapping[str, Role] = field(default_factory=dict)
    note: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        lid = self.lesion_id
        if not isinstance(lid, str) or not lid.strip():
            raise ReadDocumentError(
                f"a lesion has lesion_id {lid!r}; every lesion needs a non-empty string id "
                "that stays the same across time points. Fix: set lesion_id, e.g. 'L1'."
            )
        w = lambda f: _where(None, lid, f)  # noqa: E731
        s = object.__setattr__
        s(self, "role", _enum(Role, self.role, w("role")))
        s(self, "kind", _enum(LesionKind, self.kind, w("kind")))
        s(self, "status", _enum(LesionStatus, self.status, w("status")))
        if self.viable_status is not None:
            s(self, "viable_status", _enum(LesionStatus, self.viable_status, w("viable_status")))
        if not isinstance(self.organ, str) or not self.organ.strip():
            raise ReadDocumentError(
                f"{w('organ')}: expected an organ name such as 'liver', got {self.organ!r}."
            )
        for name in ("is_lymph_node", "equivocal", "porta_hepatis", "previously_treated",
                     "new_enhancement"):
            s(self, name, _bool(getattr(self, name), w(name), optional=False))
        for name in ("intrahepatic", "typical_hcc_pattern", "enhancing", "well_delineated",
                     "cytology_malignant"):
            s(self, name, _bool(getattr(self, name), w(name)))
        for name in _NUMERIC_MM:
            s(self, name, _number(getattr(self, name), w(name), unit="mm"))
        s(self, "volume_mm3", _number(self.volume_mm3, w("volume_mm3"), unit="mm3"))
        s(self, "viable_volume_mm3",
          _number(self.viable_volume_mm3, w("viable_volume_mm3"), unit="mm3"))
        s(self, "necrosis_fraction", _number(self.necrosis_fraction, w("necrosis_fraction"),
                                             maximum=1.0, unit="fraction"))
        s(self, "attenuation_hu",
          _number(self.attenuation_hu, w("attenuation_hu"), minimum=None, unit="HU"))
        for name in ("tracking_uid", "split_from", "merged_into", "source"):
            s(self, name, _text(getattr(self, name), w(name)))
        s(self, "note", _note(self.note, w("note")))
        if self.irecist_category is not None:
            s(self, "irecist_category",
              _enum(IRecistCategory, self.irecist_category, w("irecist_category")))
        eps = self.endpoints
        if isinstance(eps, Mapping):
            eps = tuple(AxisEndpoints(k, v[0], v[1]) for k, v in eps.items())
        s(self, "endpoints", tuple(
            e if isinstance(e, AxisEndpoints) else AxisEndpoints(*e) for e in eps))
        rbc = self.role_by_criteria
        if not isinstance(rbc, Mapping):
            raise ReadDocumentError(
                f"{w('role_by_criteria')}: expected an object such as "
                f"{{\"mRECIST\": \"non_target\"}}, got {rbc!r}."
            )
        s(self, "role_by_criteria",
          {str(k): _enum(Role, v, w(f"role_by_criteria.{k}")) for k, v in rbc.items()})
        # consistency
        if self.kind is LesionKind.LYMPH_NODE and not self.is_lymph_node:
            s(self, "is_lymph_node", True)
        if self.is_lymph_node and self.kind is LesionKind.LESION:
            s(self, "kind", LesionKind.LYMPH_NODE)
        if self.porta_hepatis and not self.is_lymph_node:
            raise ReadDocumentError(
                f"{w('porta_hepatis')}: porta_hepatis is set but the finding is not a lymph "
                "node. The mRECIST 20 mm rule is about porta-hepatis nodes. Fix: set "
                "is_lymph_node true (kind 'lymph_node') or drop porta_hepatis."
            )
        if self.kind in (LesionKind.PVTT, LesionKind.EFFUSION, LesionKind.ASCITES) and (
            self.role is Role.TARGET
        ):
            raise ReadDocumentError(
                f"{w('role')}: a {self.kind.value} cannot be a target lesion; it is "
                "non-measurable disease (RECIST 1.1 sec. 3.1; mRECIST). Fix: set role to "
                "'non_target' (or 'new' if it appeared on study)."
            )
        if self.irecist_category is not None and self.role is not Role.NEW:
            raise ReadDocumentError(
                f"{w('irecist_category')}: only new lesions have an iRECIST category "
                f"(NLT/NLNT), but this lesion's role is {self.role.value!r}. Fix: drop "
                "irecist_category or set role to 'new'."
            )
        if self.status is LesionStatus.ABSENT:
            for name in ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm"):
                v = getattr(self, name)
                if v not in (None, 0.0) and not self.is_lymph_node:
                    raise ReadDocumentError(
                        f"{w(name)}: status is 'absent' but {name} is {v}. An absent lesion "
                        "measures 0 mm. Fix: set status to 'measured', or drop the value."
                    )
        if self.status is LesionStatus.MEASURED and self.role is Role.TARGET and all(
            getattr(self, n) is None
            for n in ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm")
        ):
            raise ReadDocumentError(
                f"{w('longest_diameter_mm')}: target lesion has status 'measured' but no "
                "diameter. A target needs its size at every time point. Fix: give "
                "longest_diameter_mm (short_axis_mm for nodes, viable_diameter_mm for "
                "mRECIST), or set status to 'too_small', 'absent' or 'not_evaluable'."
            )
        if self.split_from is not None and self.split_from == lid:
            raise ReadDocumentError(
                f"{w('split_from')}: a lesion cannot be a fragment of itself. Fix: give "
                "fragments their own ids (e.g. 'L1a', 'L1b') with split_from 'L1'."
            )
        if self.merged_into is not None and self.merged_into == lid:
            raise ReadDocumentError(
                f"{w('merged_into')}: a lesion cannot merge into itself. Fix: name the lesion "
                "that carries the merged mass."
            )

    # -- derived ---------------------------------------------------------------------------
    @property
    def is_intrahepatic(self) -> bool:
        """``intrahepatic`` if given, else ``organ == "liver"``."""
        if self.intrahepatic is not None:
            return self.intrahepatic
        return self.organ.strip().lower() == "liver"

    @property
    def organ_key(self) -> str:
        """Organ for target-per-organ counting: every lymph node counts as one organ."""
        return "lymph_nodes" if self.is_lymph_node else self.organ.strip().lower()

    def role_for(self, criterion: str) -> Role:
        """Role under ``criterion`` (``role_by_criteria`` override, else ``role``)."""
        key = criterion.lower().replace(" ", "").replace("_", "")
        for k, v in self.role_by_criteria.items():
            if k.lower().replace(" ", "").replace("_", "") == key:
                return v
        return self.role

    def to_json(self) -> dict[str, Any]:
        """JSON object (fields at their default are omitted)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "lesion_id":
                out[f.name] = v
                continue
            default = f.default if f.default is not dataclasses.MISSING else None
            if f.name == "endpoints":
                if v:
                    out[f.name] = {e.axis.value: [list(e.start_lps), list(e.end_lps)] for e in v}
                continue
            if f.name == "role_by_criteria":
                if v:
                    out[f.name] = {k: r.value for k, r in v.items()}
                continue
            if v is None or (v == default and f.name not in ("role", "status")):
                continue
            out[f.name] = v.value if isinstance(v, StrEnum) else v
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], timepoint_id: str | None = None) -> LesionObservation:
        """Build from a JSON object; errors name the time point, lesion and field."""
        lid = obj.get("lesion_id") if isinstance(obj, Mapping) else None
        where = _where(timepoint_id, lid if isinstance(lid, str) else None)
        _check_keys(obj, _fields(cls), where)
        try:
            return cls(**dict(obj))
        except ReadDocumentError as err:
            if timepoint_id is not None:
                raise ReadDocumentError(f"time point {timepoint_id!r}, {err}") from None
            raise
        except TypeError as err:
            raise ReadDocumentError(
                f"{where}: {err}. Fix: every lesion needs at least 'lesion_id'."
            ) from None


@dataclass(frozen=True, slots=True)
class TimePoint:
    """One assessment (scan date) with the findings a reader recorded.

    ``day`` is the offset in days from study entry; when omitted it is derived from ``date``
    by :class:`ReadDocument`.  ``slice_thickness_mm`` enables the RECIST measurability rule
    (minimum 2 × slice thickness when slices are thicker than 5 mm).
    ``scan_for_new_symptoms`` is the iRECIST exception that allows a scan < 4 weeks after
    iUPD to confirm iCPD when it shows additional new lesions; ``clinically_stable`` records
    the iRECIST clinical stability that decides whether treatment continues after iUPD (it
    does not change the label).  ``tumour_markers_normal``
    (optional) feeds the RECIST non-target CR requirement that markers be normal.
    """

    id: str
    date: _dt.date | None = None
    day: int | None = None
    lesions: tuple[LesionObservation, ...] = ()
    modality: str | None = None
    slice_thickness_mm: float | None = None
    scan_for_new_symptoms: bool = False
    tumour_markers_normal: bool | None = None
    clinically_stable: bool | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ReadDocumentError(
                f"a time point has id {self.id!r}; every time point needs a non-empty id "
                "such as 'BL' or 'FU1'. Fix: set 'id'."
            )
        w = lambda f: _where(self.id, None, f)  # noqa: E731
        s = object.__setattr__
        s(self, "date", _date(self.date, w("date")))
        s(self, "day", _day(self.day, w("day")))
        s(self, "slice_thickness_mm",
          _number(self.slice_thickness_mm, w("slice_thickness_mm")))
        s(self, "scan_for_new_symptoms",
          _bool(self.scan_for_new_symptoms, w("scan_for_new_symptoms"), optional=False))
        s(self, "tumour_markers_normal",
          _bool(self.tumour_markers_normal, w("tumour_markers_normal")))
        s(self, "clinically_stable", _bool(self.clinically_stable, w("clinically_stable")))
        s(self, "modality", _text(self.modality, w("modality")))
        s(self, "note", _note(self.note, w("note")))
        lesions = []
        for item in self.lesions:
            if isinstance(item, LesionObservation):
                lesions.append(item)
            else:
                lesions.append(LesionObservation.from_json(item, self.id))
        seen: set[str] = set()
        for les in lesions:
            if les.lesion_id in seen:
                raise ReadDocumentError(
                    f"{_where(self.id, les.lesion_id)}: the lesion id appears twice at this "
                    "time point. Each lesion is recorded once per time point. Fix: give "
                    "fragments of a split lesion their own ids with split_from, or remove the "
                    "duplicate."
                )
            seen.add(les.lesion_id)
        for les in lesions:
            if les.merged_into is not None and les.merged_into not in seen:
                raise ReadDocumentError(
                    f"{_where(self.id, les.lesion_id, 'merged_into')}: it names "
                    f"{les.merged_into!r}, which is not recorded at this time point. The "
                    "lesion that carries the merged mass must be measured here. Fix: add it "
                    "or correct the id."
                )
        s(self, "lesions", tuple(lesions))

    def lesion(self, lesion_id: str) -> LesionObservation | None:
        """The observation of ``lesion_id`` at this time point, or None."""
        for les in self.lesions:
            if les.lesion_id == lesion_id:
                return les
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.date is not None:
            out["date"] = self.date.isoformat()
        if self.day is not None:
            out["day"] = self.day
        for name in ("modality", "slice_thickness_mm", "tumour_markers_normal",
                     "clinically_stable", "note"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        if self.scan_for_new_symptoms:
            out["scan_for_new_symptoms"] = True
        out["lesions"] = [les.to_json() for les in self.lesions]
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TimePoint:
        tid = obj.get("id") if isinstance(obj, Mapping) else None
        where = _where(tid if isinstance(tid, str) else None)
        _check_keys(obj, _fields(cls), where)
        data = dict(obj)
        lesions = data.get("lesions", [])
        if not isinstance(lesions, list):
            raise ReadDocumentError(
                f"{where}, field 'lesions': expected a list of lesion objects, got "
                f"{type(lesions).__name__}."
            )
        data["lesions"] = tuple(lesions)
        try:
            return cls(**data)
        except TypeError as err:
            raise ReadDocumentError(f"{where}: {err}. Fix: every time point needs 'id'.") from None


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
        return _in_unit(self.bilirubin_mg_dl, self.bilirubin_umol_l, 1 / _BILIRUBIN_UMOL_L_PER_MG_DL)

    @property
    def bilirubin_umol_per_l(self) -> float | None:
        """Bilirubin in µmol/L (mg/dL × 17.1, exactly, when only that is given)."""
        return _in_unit(self.bilirubin_umol_l, self.bilirubin_mg_dl, _BILIRUBIN_UMOL_L_PER_MG_DL)

    @property
    def albumin_g_per_dl(self) -> float | None:
        """Albumin in g/dL (g/L ÷ 10 when only that is given)."""
        return _in_unit(self.albumin_g_dl, self.albumin_g_l, 1 / _ALBUMIN_G_L_PER_G_DL)

    @property
    def albumin_g_per_l(self) -> float | None:
        """Albumin in g/L (g/dL × 10 when only that is given)."""
        return _in_unit(self.albumin_g_l, self.albumin_g_dl, _ALBUMIN_G_L_PER_G_DL)


#: Bilirubin µmol/L per mg/dL and albumin g/L per g/dL, exact (``LiverFunction``'s units).
_BILIRUBIN_UMOL_L_PER_MG_DL = Fraction("17.1")
_ALBUMIN_G_L_PER_G_DL = Fraction(10)


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


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """One reader's read of one patient: time points, treatments, markers, liver function.

    Construct with keyword arguments, or from JSON with :meth:`from_json`.  After
    construction every time point (and every dated record) has ``day`` set; time points are in
    chronological order; the first is the baseline.

    Parameters
    ----------
    patient_id : str
        Pseudonymous patient id (no names).
    reader_id : str
    timepoints : tuple of TimePoint
        Baseline first, strictly increasing days.
    criteria : tuple of str
        The criteria this read is meant for (informative; ``assess`` takes its own list).
    treatments, markers, liver_function, ceus : tuples of records
    start_date : date, optional
        Day 0 (study entry).  Defaults to the first time point's date.
    death_day / death_date : optional
        Death (PFS event; censoring for TTP).
    last_contact_day : int, optional
        Last known alive (informative: no endpoint here reads it; PFS and TTP are censored at
        the last adequate assessment, FDA 2018, not at the last contact).  On or before the
        death day.
    schema_version : str
    """

    patient_id: str
    reader_id: str = "reader"
    timepoints: tuple[TimePoint, ...] = ()
    criteria: tuple[str, ...] = ()
    treatments: tuple[TreatmentEvent, ...] = ()
    markers: tuple[MarkerValue, ...] = ()
    liver_function: tuple[LiverFunction, ...] = ()
    ceus: tuple[CeusExam, ...] = ()
    start_date: _dt.date | None = None
    death_date: _dt.date | None = None
    death_day: int | None = None
    last_contact_day: int | None = None
    study_id: str | None = None
    note: str | None = None
    schema_version: str = SCHEMA_VERSION

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name in ("patient_id", "reader_id"):
            s(self, name, _text(getattr(self, name), f"read document, field {name!r}",
                                optional=False))
        ver = str(self.schema_version)
        major = ver.split(".")[0]
        if major != SCHEMA_VERSION.split(".")[0]:
            raise ReadDocumentError(
                f"read document, field 'schema_version': version {ver!r} is not supported "
                f"(this hcc_imaging reads {SCHEMA_VERSION.split('.')[0]}.x). Fix: upgrade "
                "hcc-imaging, or re-export the read with this version."
            )
        s(self, "schema_version", ver)
        s(self, "start_date", _date(self.start_date, "read document, field 'start_date'"))
        s(self, "death_date", _date(self.death_date, "read document, field 'death_date'"))
        s(self, "death_day", _day(self.death_day, "read document, field 'death_day'"))
        s(self, "last_contact_day",
          _day(self.last_contact_day, "read document, field 'last_contact_day'"))
        s(self, "criteria", tuple(str(c) for c in self.criteria))
        s(self, "note", _note(self.note, "read document, field 'note'"))
        tps = tuple(t if isinstance(t, TimePoint) else TimePoint.from_json(t)
                    for t in self.timepoints)
        if not tps:
            raise ReadDocumentError(
                "read document, field 'timepoints': no time points. A read needs at least the "
                "baseline. Fix: add the baseline time point (id, date or day, lesions)."
            )
        ids = [t.id for t in tps]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ReadDocumentError(
                f"time point {sorted(dup)[0]!r}: the id is used twice. Fix: give each time "
                "point its own id."
            )
        start = self.start_date or tps[0].date

        def day_of(rec: Any, where: str) -> int:
            if rec.day is not None:
                return int(rec.day)
            if rec.date is not None and start is not None:
                return (rec.date - start).days
            raise ReadDocumentError(
                f"{where}: has a date but day 0 is unknown (no start_date and the first time "
                "point has no date). Fix: give 'day', or set 'start_date'."
            )

        fixed = []
        for t in tps:
            if t.day is None and t.date is None:
                raise ReadDocumentError(
                    f"time point {t.id!r}, fields 'date'/'day': neither is given, so the time "
                    "point cannot be placed in time (nadir, confirmation and durations need "
                    "it). Fix: give the scan date (YYYY-MM-DD) or the day offset."
                )
            fixed.append(t if t.day is not None else
                         dataclasses.replace(t, day=day_of(t, f"time point {t.id!r}")))
        for a, b in zip(fixed, fixed[1:]):
            if b.day <= a.day:  # type: ignore[operator]
                raise ReadDocumentError(
                    f"time point {b.id!r}, field 'day': day {b.day} is not after the previous "
                    f"time point {a.id!r} (day {a.day}). Time points must be in chronological "
                    "order with the baseline first. Fix: sort them by date, or correct the day."
                )
        s(self, "timepoints", tuple(fixed))

        def fill(records: Any, cls: type, label: str) -> tuple[Any, ...]:
            out = []
            for r in records:
                if not isinstance(r, cls):
                    if not isinstance(r, Mapping):
                        raise ReadDocumentError(
                            f"read document, field {label!r}: expected objects, got {r!r}."
                        )
                    _check_keys(r, _fields(cls), f"read document, {label} entry")
                    r = cls(**r)
                if r.day is None:
                    r = dataclasses.replace(r, day=day_of(r, f"{label} entry dated {r.date}"))
                out.append(r)
            return tuple(sorted(out, key=lambda x: x.day))

        s(self, "treatments", fill(self.treatments, TreatmentEvent, "treatments"))
        s(self, "markers", fill(self.markers, MarkerValue, "markers"))
        s(self, "liver_function", fill(self.liver_function, LiverFunction, "liver_function"))
        s(self, "ceus", fill(self.ceus, CeusExam, "ceus"))
        death_field = "death_day" if self.death_day is not None else "death_date"
        if self.death_day is None and self.death_date is not None and start is not None:
            s(self, "death_day", (self.death_date - start).days)
        self._check_death(death_field)
        self._check_lesion_roles()

    def _check_death(self, field_: str) -> None:
        """Death on or after day 0 and on or after every scan (PFS would end at a death
        before a PD that was scanned later), every treatment (its start and end), tumour-marker
        draw, liver-function record and CEUS exam.  ``field_``: the field the death day came
        from."""
        if self.death_day is None:
            return
        when = f"day {self.death_day}" + (
            f" ({self.death_date.isoformat()})" if field_ == "death_date" and self.death_date
            else "")
        if self.death_day < 0:
            raise ReadDocumentError(
                f"read document, field {field_!r}: death on {when} is before day 0, the start "
                "of treatment / randomisation; a patient on study died on or after it. Fix: "
                f"correct {field_!r}, or 'start_date' if day 0 is wrong."
            )
        if self.last_contact_day is not None and self.last_contact_day > self.death_day:
            raise ReadDocumentError(
                f"read document, field 'last_contact_day': the last contact on day "
                f"{self.last_contact_day} is after death on {when} ({field_!r}); a patient is last "
                f"known alive on or before the day of death. Fix: correct 'last_contact_day' or "
                f"{field_!r}."
            )
        late = [t for t in self.timepoints if t.day > self.death_day]  # type: ignore[operator]
        if late:
            t = late[0]
            raise ReadDocumentError(
                f"read document, field {field_!r}: death on {when} is before time point "
                f"{t.id!r} (day {t.day}); a scan after death is impossible. Fix: correct "
                f"{field_!r} or the date/day of time point {t.id!r}."
            )
        start = self.start_date or self.timepoints[0].date
        for label, name, recs in (("treatment", "treatments", self.treatments),
                                  ("tumour-marker draw", "markers", self.markers),
                                  ("liver-function record", "liver_function", self.liver_function),
                                  ("CEUS exam", "ceus", self.ceus)):
            for r in recs:
                what = (f"{label} {r.kind.value!r}" if isinstance(r, TreatmentEvent) else label)
                dated = [("day", r.day, r.date)]
                if isinstance(r, TreatmentEvent):
                    end = r.end_day if r.end_day is not None else (
                        (r.end_date - start).days if r.end_date is not None and start is not None
                        else None)
                    dated.append(("end_day", end, r.end_date))
                for key, day, date in dated:
                    if day is None or day <= self.death_day:
                        continue
                    on = f"day {day}" + (f" ({date.isoformat()})" if date is not None else "")
                    date_field = key.replace("day", "date") if date is not None else key
                    raise ReadDocumentError(
                        f"read document, field {field_!r}: death on {when} is before the "
                        f"{what} in {name!r} "
                        + ("ending" if key == "end_day" else "dated")
                        + f" {on}; a record after death is impossible. Fix: correct "
                        f"{field_!r} or that {label}'s {date_field!r}."
                    )

    def _check_lesion_roles(self) -> None:
        base = self.timepoints[0]
        base_ids = {les.lesion_id: les for les in base.lesions}
        for les in base.lesions:
            if les.role is Role.NEW:
                raise ReadDocumentError(
                    f"{_where(base.id, les.lesion_id, 'role')}: a lesion at baseline cannot be "
                    "'new'. Fix: set role to 'target' or 'non_target'."
                )
        known: dict[str, LesionObservation] = dict(base_ids)
        for tp in self.timepoints[1:]:
            for les in tp.lesions:
                first = known.get(les.lesion_id)
                if les.split_from is not None:
                    if les.split_from not in known:
                        raise ReadDocumentError(
                            f"{_where(tp.id, les.lesion_id, 'split_from')}: names "
                            f"{les.split_from!r}, which no earlier time point records. Fix: "
                            "use the id of the lesion that split."
                        )
                    parent = known[les.split_from]
                    if les.role is not parent.role:
                        raise ReadDocumentError(
                            f"{_where(tp.id, les.lesion_id, 'role')}: a fragment has the "
                            f"role of the lesion it split from ({parent.role.value!r}), not "
                            f"{les.role.value!r}. Fix: set role to {parent.role.value!r}."
                        )
                    known.setdefault(les.lesion_id, les)
                    continue
                if first is None:
                    if les.role is Role.TARGET:
                        raise ReadDocumentError(
                            f"{_where(tp.id, les.lesion_id, 'role')}: a target that is not in "
                            f"the baseline ({base.id!r}). Targets are chosen at baseline "
                            "(RECIST 1.1 sec. 4.2). Fix: set role to 'new' (or 'non_target'), "
                            "or add its baseline measurement."
                        )
                    known[les.lesion_id] = les
                    continue
                if les.role is not first.role:
                    raise ReadDocumentError(
                        f"{_where(tp.id, les.lesion_id, 'role')}: role {les.role.value!r} "
                        f"differs from its first record ({first.role.value!r}). A lesion keeps "
                        "its role for the whole read. Fix: use the same role, or give the "
                        "finding its own lesion_id."
                    )

    # -- access ----------------------------------------------------------------------------
    @property
    def baseline(self) -> TimePoint:
        """The first time point."""
        return self.timepoints[0]

    def timepoint(self, timepoint_id: str) -> TimePoint:
        """Time point by id (ReadDocumentError if unknown)."""
        for t in self.timepoints:
            if t.id == timepoint_id:
                return t
        raise ReadDocumentError(
            f"time point {timepoint_id!r} is not in the read of patient {self.patient_id!r}; "
            f"it has {[t.id for t in self.timepoints]}."
        )

    # -- JSON ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (validates against the schema; ``from_json`` round-trips it)."""
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "patient_id": self.patient_id,
            "reader_id": self.reader_id,
        }
        for name in ("study_id", "note"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        if self.criteria:
            out["criteria"] = list(self.criteria)
        for name in ("start_date", "death_date"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v.isoformat()
        for name in ("death_day", "last_contact_day"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        out["timepoints"] = [t.to_json() for t in self.timepoints]
        for name in ("treatments", "markers", "liver_function", "ceus"):
            recs = getattr(self, name)
            if recs:
                out[name] = [_simple_to_json(r) for r in recs]
        return out

    def dumps(self, indent: int | None = 2) -> str:
        """JSON text."""
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (temp file + ``os.replace``)."""
        path = atomic_write_text(path, self.dumps() + "\n", fsync=True)
        return path

    @classmethod
    def from_json(cls, obj: Mapping[str, Any] | str | os.PathLike[str]) -> ReadDocument:
        """Read a document from a dict, JSON text or a file path.

        Raises
        ------
        ReadDocumentError
            With the time point, lesion and field at fault and how to fix it.
        """
        source = "read document"
        if isinstance(obj, (str, os.PathLike)) and not (
            isinstance(obj, str) and obj.lstrip()[:1] in ("{", "[")
        ):
            p = Path(obj)
            source = str(p)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as err:
                raise ReadDocumentError(
                    f"cannot read the read document {p}: {err.strerror}. Fix: check the path."
                ) from err
            obj = text
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as err:
                raise ReadDocumentError(
                    f"{source} is not valid JSON: {err.msg} at line {err.lineno}, column "
                    f"{err.colno}. Fix: correct the JSON syntax there."
                ) from err
        if not isinstance(obj, Mapping):
            raise ReadDocumentError(
                f"{source}: expected a JSON object at the top level, got "
                f"{type(obj).__name__}. Fix: see docs/read-document.md."
            )
        _check_keys(obj, _fields(cls), "read document")
        if "patient_id" not in obj:
            raise ReadDocumentError(
                "read document, field 'patient_id': missing. Every read names its "
                "(pseudonymous) patient. Fix: add \"patient_id\": \"P001\"."
            )
        data = dict(obj)
        for name in ("timepoints", "treatments", "markers", "liver_function", "ceus",
                     "criteria"):
            if name in data:
                if not isinstance(data[name], list):
                    raise ReadDocumentError(
                        f"read document, field {name!r}: expected a list, got "
                        f"{type(data[name]).__name__}."
                    )
                data[name] = tuple(data[name])
        return cls(**data)


def schema() -> dict[str, Any]:
    """The read-document JSON Schema (draft 2020-12) as a dict."""
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result

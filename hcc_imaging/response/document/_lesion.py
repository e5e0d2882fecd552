"""One finding at one time point (:class:`LesionObservation`) and its measured axes' endpoints."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hcc_imaging.errors import ReadDocumentError
from ._enums import Axis, IRecistCategory, LesionKind, LesionStatus, Role
from ._values import (
    AXIS_TOLERANCE_MM,
    _bool,
    _check_keys,
    _enum,
    _fields,
    _note,
    _number,
    _text,
    _where,
    exact,
)


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
        if is_node_organ(self.organ) and not self.is_lymph_node:
            # the organ the exports print for a node: a node, measured by its short axis
            if self.kind not in (LesionKind.LESION, LesionKind.LYMPH_NODE):
                raise ReadDocumentError(
                    f"{w('organ')}: organ {self.organ!r} is a lymph node, but kind is "
                    f"{self.kind.value!r}. Fix: set kind 'lymph_node' for a node, or the organ "
                    f"the {self.kind.value} is in."
                )
            s(self, "is_lymph_node", True)
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
        _check_axes(self, w)
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
        organ = obj.get("organ")
        if isinstance(organ, str) and is_node_organ(organ):
            for key, says in (("is_lymph_node", False), ("kind", "lesion")):
                if key in obj and obj[key] == says and type(obj[key]) is type(says):
                    raise ReadDocumentError(
                        f"{where}, field {key!r}: {key} {obj[key]!r} contradicts organ "
                        f"{organ!r}: is the finding a lymph node (measured by its short axis, "
                        "RECIST 1.1 sec. 3.1) or not? Fix: drop the field (a finding in organ "
                        "'lymph_node' is a node), or set the organ the lesion is in."
                    )
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


#: Organ names that mean "lymph node" (as the exports print a node's organ).
_NODE_ORGANS = frozenset({"lymph_node", "lymph_nodes", "lymphnode", "lymphnodes"})


def is_node_organ(organ: str) -> bool:
    """Whether ``organ`` names the lymph nodes (``lymph_node``, ``Lymph node``, ``lymph-nodes``...)."""
    return organ.strip().lower().replace(" ", "_").replace("-", "_") in _NODE_ORGANS


#: (axis, the axis that bounds it, why).
_AXIS_BOUNDS = (
    ("short_axis_mm", "longest_diameter_mm",
     "the short axis is measured perpendicular to the longest diameter, so it is at most as long"),
    ("viable_diameter_mm", "longest_diameter_mm",
     "the viable (enhancing) part lies inside the lesion, so its longest diameter is at most "
     "the lesion's"),
    ("viable_short_axis_mm", "viable_diameter_mm",
     "the viable short axis is measured perpendicular to the viable diameter, so it is at most "
     "as long"),
)

#: The fields :func:`axis_problem` reads.
_AXIS_FIELDS = ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm")


def axis_problem(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first axis in ``values`` longer than the axis that bounds it, or None.

    ``values`` maps field names (``longest_diameter_mm``, ``short_axis_mm``,
    ``viable_diameter_mm``, ``viable_short_axis_mm``; missing or None = not measured) to lengths
    in mm.  An axis may exceed its bound by up to ``AXIS_TOLERANCE_MM`` (values rounded
    separately).  Returns ``(field, message)``: the field that is too long and why, with the
    fix; the caller prefixes where it is (read document: time point and lesion; study store:
    read, time point and lesion).  One check for the read document and the study store.

    >>> axis_problem({"longest_diameter_mm": 20.0, "short_axis_mm": 30.0})[0]
    'short_axis_mm'
    >>> axis_problem({"longest_diameter_mm": 20.0, "short_axis_mm": 20.5}) is None
    True
    """
    tol = exact(AXIS_TOLERANCE_MM)
    for small, big, why in _AXIS_BOUNDS:
        a, b = values.get(small), values.get(big)
        if a is None or b is None or exact(a) <= exact(b) + tol:
            continue
        return small, (
            f"{a:g} mm is longer than {big} {b:g} mm (by more than the "
            f"{AXIS_TOLERANCE_MM:g} mm rounding tolerance, AXIS_TOLERANCE_MM): {why}. Fix: "
            "swap the two values if they were entered the other way round, or correct the "
            "measurement."
        )
    return None


def _check_axes(obs: LesionObservation, w: Any) -> None:
    """Refuse an axis longer than the axis that bounds it by more than ``AXIS_TOLERANCE_MM``."""
    problem = axis_problem({name: getattr(obs, name) for name in _AXIS_FIELDS})
    if problem is not None:
        field_name, message = problem
        raise ReadDocumentError(f"{w(field_name)}: {message}")

"""The flat, export-ready view of one read: what every exporter (SR, tables, SDTM, report) reads.

:class:`ExportRead` is built from the read document (DESIGN section 4) - a
``hcc_imaging.response.document.ReadDocument``, its JSON dict, or a JSON file - plus, optionally,
the response assessment (``Assessment.to_json()`` / ``hcc-imaging assess --json`` output).  The
adapters are tolerant about spelling (``timepoints`` / ``time_points``, ``id`` / ``lesion_id``)
so exports keep working while the read document schema grows, and strict about meaning: a
value that cannot be interpreted raises :class:`ExportInputError` naming the time point, the
lesion and the field.

Units: diameters mm, volumes mm3, sums mm (mm2 for the bidimensional WHO/EASL criteria, as
the response engine reports them), changes as fractions (0.30 = 30 %).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._phi import shown_id
from ..errors import ReadDocumentError
from . import codes as C
from .codes import normalise_criterion, normalise_response

if TYPE_CHECKING:  # pragma: no cover
    from .deid import Deidentifier

__all__ = [
    "ExportInputError",
    "Point3",
    "Segment3",
    "TimepointInfo",
    "LesionObservation",
    "TimepointResponse",
    "CriterionSummary",
    "TreatmentEvent",
    "ExportRead",
    "as_export_read",
    "derived_tracking_uid",
    "name_based_tracking_uid",
    "with_tracking_uids",
    "iter_reads",
    "read_from_measurements",
    "document_to_dict",
    "unwrap_read_document",
    "assessment_to_dict",
]

Point3 = tuple[float, float, float]
Segment3 = tuple[Point3, Point3]


class ExportInputError(ReadDocumentError):
    """The read document or assessment handed to an exporter cannot be interpreted."""


# ------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimepointInfo:
    """One imaging time point of the read.

    ``index`` is 0 for baseline and counts up in time order.  ``day`` is the read document's day
    (docs/read-document.md): days from day 0, the start of treatment / randomisation
    (``start_date``), else from the first time point's date — the day the response results
    carry.  ``day_from_baseline`` counts from the baseline scan (the SR's offset from the
    baseline event); it differs from ``day`` when the baseline scan is not on day 0.
    """

    timepoint_id: str
    index: int
    date: dt.date | None = None
    day: int | None = None
    study_instance_uid: str | None = None
    day_from_baseline: int | None = None

    @property
    def is_baseline(self) -> bool:
        return self.index == 0


@dataclass(frozen=True, slots=True)
class LesionObservation:
    """One lesion at one time point (one SR measurement group, one table row).

    Diameters in mm, volumes in mm3, ``necrosis_fraction`` in [0, 1]; endpoints are two LPS
    points (mm) each.  ``None`` means "not recorded", never a failed computation.
    """

    patient_id: str
    timepoint_id: str
    lesion_id: str
    role: str = "target"
    tracking_uid: str | None = None
    organ: str | None = "liver"
    is_lymph_node: bool = False
    kind: str | None = None
    status: str | None = None
    couinaud_segment: str | None = None
    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    viable_diameter_mm: float | None = None
    viable_short_axis_mm: float | None = None
    volume_mm3: float | None = None
    viable_volume_mm3: float | None = None
    necrosis_fraction: float | None = None
    ld_endpoints_lps: Segment3 | None = None
    sa_endpoints_lps: Segment3 | None = None
    viable_endpoints_lps: Segment3 | None = None
    viable_sa_endpoints_lps: Segment3 | None = None
    provenance: str | None = None
    #: yes/no attributes the response rules read (``codes.LESION_FLAG_CODES`` keys), as
    #: ``(name, value)`` pairs; only those the read records
    flags: tuple[tuple[str, bool], ...] = ()
    #: further measurements in mm (``codes.LESION_EXTRA_MM_CODES`` keys), ``(name, mm)`` pairs
    extra_mm: tuple[tuple[str, float], ...] = ()
    viable_status: str | None = None
    irecist_category: str | None = None
    attenuation_hu: float | None = None
    #: True when ``tracking_uid`` was not in the read but derived (:func:`derived_tracking_uid`)
    tracking_uid_derived: bool = False
    #: the read's ``role_by_criteria``: ``(criterion, role)`` pairs (canonical criterion names, e.g.
    #: ``("mRECIST", "non_target")``) where the role under a criterion is not ``role``
    role_by_criteria: tuple[tuple[str, str], ...] = ()

    def role_for(self, criterion: str) -> str:
        """Role under ``criterion`` (its ``role_by_criteria`` entry, else ``role``), as the response
        engine reads it (``ReadDocument`` ``LesionObservation.role_for``)."""
        c = normalise_criterion(criterion)
        for k, v in self.role_by_criteria:
            if k == c:
                return v
        return self.role

    @property
    def recist_diameter_mm(self) -> float | None:
        """The RECIST 1.1 contribution: short axis for nodes, longest diameter otherwise."""
        return self.short_axis_mm if self.is_lymph_node else self.longest_diameter_mm


@dataclass(frozen=True, slots=True)
class TimepointResponse:
    """Response of one patient at one time point under one criterion.

    ``sum_value`` is in ``sum_unit`` (``"mm"``, or ``"mm2"`` for WHO/EASL); changes are
    fractions relative to baseline and to nadir.  Baseline has ``response = None``.
    """

    patient_id: str
    criterion: str
    timepoint_id: str
    day: int | None = None
    sum_value: float | None = None
    sum_unit: str = "mm"
    change_from_baseline_frac: float | None = None
    change_from_nadir_frac: float | None = None
    target_response: str | None = None
    non_target_response: str | None = None
    new_lesions: bool | None = None
    response: str | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CriterionSummary:
    """Best overall response (BOR) of one patient under one criterion, and the endpoints
    ``assess`` gives (``pfs``, ``ttp``, ``dor``, ``dor_unconfirmed``: ``(event, day)``, None when
    not given or, for DOR, a non-responder)."""

    patient_id: str
    criterion: str
    bor_unconfirmed: str | None = None
    bor_confirmed: str | None = None
    pd_day: int | None = None
    best_change_frac: float | None = None
    pfs: tuple[bool, int] | None = None
    ttp: tuple[bool, int] | None = None
    dor: tuple[bool, int] | None = None
    dor_unconfirmed: tuple[bool, int] | None = None


@dataclass(frozen=True, slots=True)
class TreatmentEvent:
    """A treatment (TACE, lenvatinib, resection...) with its dates (end may be open)."""

    patient_id: str
    kind: str
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    start_day: int | None = None
    end_day: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class ExportRead:
    """Everything the exporters need about one patient's read, flat and typed."""

    patient_id: str
    reader_id: str | None
    timepoints: tuple[TimepointInfo, ...]
    lesions: tuple[LesionObservation, ...]
    responses: tuple[TimepointResponse, ...] = ()
    summaries: tuple[CriterionSummary, ...] = ()
    treatments: tuple[TreatmentEvent, ...] = ()
    patient_name: str | None = None
    algorithm: str | None = None
    document: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    # -- lookups ------------------------------------------------------------------------
    def timepoint(self, timepoint_id: str) -> TimepointInfo:
        for tp in self.timepoints:
            if tp.timepoint_id == timepoint_id:
                return tp
        raise ExportInputError(
            f"patient {self.patient_id}: no time point {timepoint_id!r} in the read "
            f"(known: {[t.timepoint_id for t in self.timepoints]}). Check the timepoints= argument."
        )

    def lesions_at(self, timepoint_id: str) -> list[LesionObservation]:
        return [les for les in self.lesions if les.timepoint_id == timepoint_id]

    @property
    def criteria(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.responses:
            seen.setdefault(r.criterion, None)
        for s in self.summaries:
            seen.setdefault(s.criterion, None)
        return list(seen)

    def responses_for(self, criterion: str) -> list[TimepointResponse]:
        c = normalise_criterion(criterion)
        return [r for r in self.responses if r.criterion == c]

    def summary_for(self, criterion: str) -> CriterionSummary | None:
        c = normalise_criterion(criterion)
        for s in self.summaries:
            if s.criterion == c:
                return s
        return None

    def with_assessment(self, assessment: Any) -> ExportRead:
        """A copy with responses and BOR taken from ``assessment`` (see :func:`assessment_to_dict`)."""
        responses, summaries = _parse_assessment(assessment, self)
        return replace(self, responses=tuple(responses), summaries=tuple(summaries))

    def deidentified(self, deid: Deidentifier) -> ExportRead:
        """Pseudonymous copy: patient/reader ids replaced, dates shifted, UIDs remapped."""
        return deid.deidentify_read(self)


# ------------------------------------------------------------------------------------------
# adapters
# ------------------------------------------------------------------------------------------
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


def unwrap_read_document(d: Mapping[str, Any], source: str = "the read document") -> dict[str, Any]:
    """The read document of ``d``: ``d`` itself, or - for the JSON read that ``write_tables``
    (``export csv``, ``demo``) writes to ``reads/<patient>.json``, which wraps it with the tables'
    responses as ``{"tables_schema_version", "read_document", ...}`` - the wrapped one.  Its
    ``responses`` / ``summary`` are table rows, not an assessment: pass ``--assessment`` /
    ``--criteria`` (``assessment=``) as for any read."""
    if "tables_schema_version" in d and "read_document" in d and "patient_id" not in d:
        inner = d.get("read_document")
        if not isinstance(inner, Mapping):
            raise ExportInputError(
                f"{source} is a tables JSON read (tables_schema_version {d.get('tables_schema_version')}) without a "
                "read document in it (its read was made from measurements, not a read document). Pass the read "
                "document itself: the batch's reads/<patient>.json, or `hcc-imaging study export-read`.")
        return dict(inner)
    return dict(d)


def document_to_dict(doc: Any) -> dict[str, Any]:
    """Plain dict of a read document given as object, dict, JSON string or JSON file path (the
    tables' JSON read, which wraps it, gives the wrapped one: :func:`unwrap_read_document`)."""
    if isinstance(doc, Mapping):
        return unwrap_read_document(_plain(doc))
    if isinstance(doc, (str, Path)):
        text = str(doc)
        from_file = isinstance(doc, Path) or not text.lstrip().startswith("{")
        if from_file:
            p = Path(text)
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as err:
                raise ExportInputError(
                    f"cannot read the read document {p}: {err}. Pass an existing JSON file."
                ) from err
        try:
            out = json.loads(text)
        except json.JSONDecodeError as err:
            raise ExportInputError(
                f"the read document is not valid JSON ({err}). Write it with "
                "ReadDocument.to_json() or `hcc-imaging study export-read`."
            ) from err
        if not isinstance(out, dict):
            raise ExportInputError("the read document JSON must be an object at the top level.")
        return unwrap_read_document(out, str(doc) if from_file else "the read document")
    for meth in ("to_dict", "to_json", "as_dict"):
        fn = getattr(doc, meth, None)
        if callable(fn):
            val = fn()
            if isinstance(val, (str, bytes)):
                val = json.loads(val)
            return dict(_plain(val))
    if dataclasses.is_dataclass(doc) and not isinstance(doc, type):
        return dict(_plain(doc))
    raise ExportInputError(
        f"cannot read a read document from a {type(doc).__name__}. Pass a ReadDocument, its "
        "JSON dict, or the path of its JSON file."
    )


def assessment_to_dict(assessment: Any) -> dict[str, Any]:
    """Normalise an assessment into ``{"patient_id", "results": {criterion: {...}}}``.

    Accepts the ``hcc-imaging assess --json`` object, an ``Assessment`` (``to_json()``), a
    mapping ``criterion -> Assessment``, or a list of per-criterion objects.
    """
    if assessment is None:
        return {"results": {}}
    if isinstance(assessment, (str, Path)) and not str(assessment).lstrip().startswith("{"):
        assessment = json.loads(Path(assessment).read_text(encoding="utf-8"))
    elif isinstance(assessment, str):
        assessment = json.loads(assessment)
    if isinstance(assessment, (list, tuple)):
        merged: dict[str, Any] = {"results": {}}
        for item in assessment:
            d = assessment_to_dict(item)
            merged["results"].update(d.get("results", {}))
            merged.setdefault("patient_id", d.get("patient_id"))
        return merged
    if not isinstance(assessment, Mapping):
        crit_attr = getattr(assessment, "criterion", None)
        for meth in ("to_json", "to_dict", "as_dict"):
            fn = getattr(assessment, meth, None)
            if callable(fn):
                val = fn()
                if isinstance(val, (str, bytes)):
                    val = json.loads(val)
                val = _plain(val)
                if crit_attr is not None and isinstance(val, Mapping) and "results" not in val:
                    val = {"patient_id": getattr(assessment, "patient_id", None), "results": {str(crit_attr): val}}
                return assessment_to_dict(val)
        if dataclasses.is_dataclass(assessment):
            return assessment_to_dict(_plain(assessment))
        raise ExportInputError(
            f"cannot read an assessment from a {type(assessment).__name__}; pass "
            "Assessment.to_json() output or the `hcc-imaging assess --json` object."
        )
    a = dict(_plain(assessment))
    if "results" in a and isinstance(a["results"], Mapping):
        return a
    if "timepoints" in a and ("criterion" in a or "criteria" in a):
        crit = a.get("criterion") or a.get("criteria")
        return {"patient_id": a.get("patient_id"), "results": {str(crit): a}}
    # mapping criterion -> per-criterion result / Assessment
    if a and all(isinstance(v, Mapping) for v in a.values()) and all(
        "timepoints" in v or "results" in v for v in a.values()
    ):
        results: dict[str, Any] = {}
        for k, v in a.items():
            if "results" in v:
                results.update(v["results"])
            else:
                results[k] = v
        return {"results": results}
    raise ExportInputError(
        "the assessment has neither 'results' nor 'timepoints'; expected the object printed by "
        "`hcc-imaging assess --json` ({'patient_id', 'results': {criterion: {'timepoints': ...}}})."
    )


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


def _endpoints_of(les: Mapping[str, Any], kind: str, where: str) -> Segment3 | None:
    direct = {
        "ld": ("ld_endpoints_lps", "longest_diameter_endpoints_lps", "ld_endpoints"),
        "sa": ("sa_endpoints_lps", "short_axis_endpoints_lps", "sa_endpoints"),
        "viable": ("viable_endpoints_lps", "viable_diameter_endpoints_lps", "viable_endpoints"),
        "viable_sa": ("viable_sa_endpoints_lps", "viable_short_axis_endpoints_lps"),
    }[kind]
    v = _get(les, *direct)
    if v is None:
        ep = les.get("endpoints")
        if isinstance(ep, Mapping):
            keys = {  # response.document.Axis values first ("long", "short", "viable_long")
                "ld": ("long", "longest_diameter", "longest_diameter_mm", "ld", "long_axis"),
                "sa": ("short", "short_axis", "short_axis_mm", "sa"),
                "viable": ("viable_long", "viable_diameter", "viable_diameter_mm", "viable", "viable_ld"),
                "viable_sa": ("viable_short", "viable_short_axis", "viable_short_axis_mm"),
            }[kind]
            v = _get(ep, *keys)
        elif ep is not None and kind == "ld":
            v = ep
    return _segment(v, f"{where} endpoints ({kind})")


#: lesion attributes whose absence means False in a read document (response.document)
_FALSE_BY_DEFAULT = frozenset({"equivocal", "porta_hepatis", "previously_treated", "new_enhancement"})


def _parse_lesion(
    les: Mapping[str, Any], patient_id: str, tp_id: str, reader: str | None
) -> LesionObservation:
    lid = _get(les, "lesion_id", "id", "tracking_id", "label")
    if lid is None:
        raise ExportInputError(
            f"patient {patient_id}, time point {tp_id}: a lesion has no lesion_id. "
            "Give every lesion a lesion_id (e.g. 'L1')."
        )
    where = f"patient {patient_id}, time point {tp_id}, lesion {lid}"
    role = _role(_get(les, "role", default="target"))
    rbc = les.get("role_by_criteria") or {}
    if not isinstance(rbc, Mapping):
        raise ExportInputError(f"{where}, role_by_criteria: expected an object such as "
                               f'{{"mRECIST": "non_target"}}, got {type(rbc).__name__}.')
    prov = _get(les, "provenance", "source")
    if isinstance(prov, Mapping):
        prov = _get(prov, "reader_id", "algorithm", "name", default=json.dumps(prov, sort_keys=True))
    organ = _get(les, "organ", default="liver")
    is_node = bool(_get(les, "is_lymph_node", default=False))
    return LesionObservation(
        patient_id=patient_id,
        timepoint_id=tp_id,
        lesion_id=str(lid),
        role=role,
        tracking_uid=_get(les, "tracking_uid"),
        organ=str(_plain(organ)).lower() if organ is not None else None,
        is_lymph_node=is_node,
        kind=_plain(_get(les, "kind")),
        status=(str(_plain(_get(les, "status"))).lower() if _get(les, "status") is not None else None),
        couinaud_segment=_couinaud(
            _get(les, "couinaud_segment", "segment", "liver_segment") or _note_segment(les.get("note")), where
        ),
        longest_diameter_mm=_num(_get(les, "longest_diameter_mm", "ld_mm"), f"{where}, longest_diameter_mm"),
        short_axis_mm=_num(_get(les, "short_axis_mm", "sa_mm"), f"{where}, short_axis_mm"),
        viable_diameter_mm=_num(_get(les, "viable_diameter_mm"), f"{where}, viable_diameter_mm"),
        viable_short_axis_mm=_num(_get(les, "viable_short_axis_mm"), f"{where}, viable_short_axis_mm"),
        volume_mm3=_num(_get(les, "volume_mm3"), f"{where}, volume_mm3"),
        viable_volume_mm3=_num(_get(les, "viable_volume_mm3"), f"{where}, viable_volume_mm3"),
        necrosis_fraction=_num(_get(les, "necrosis_fraction"), f"{where}, necrosis_fraction"),
        ld_endpoints_lps=_endpoints_of(les, "ld", where),
        sa_endpoints_lps=_endpoints_of(les, "sa", where),
        viable_endpoints_lps=_endpoints_of(les, "viable", where),
        viable_sa_endpoints_lps=_endpoints_of(les, "viable_sa", where),
        provenance=str(prov) if prov is not None else reader,
        flags=tuple(
            (name, bool(_plain(les[name])))
            for name in C.LESION_FLAG_CODES
            # None = not recorded; the attributes that default to False are written only when set
            if les.get(name) is not None and (les[name] or name not in _FALSE_BY_DEFAULT)
        ),
        extra_mm=tuple(
            (name, v)
            for name in C.LESION_EXTRA_MM_CODES
            if (v := _num(les.get(name), f"{where}, {name}")) is not None
        ),
        viable_status=(str(_plain(les["viable_status"])).lower() if les.get("viable_status") is not None else None),
        irecist_category=(
            str(_plain(les["irecist_category"])).lower() if les.get("irecist_category") is not None else None
        ),
        attenuation_hu=_num(les.get("attenuation_hu"), f"{where}, attenuation_hu"),
        role_by_criteria=tuple((normalise_criterion(k), _role(v)) for k, v in rbc.items()),
    )


def _role(value: Any) -> str:
    """``target`` / ``non_target`` / ``new`` from any spelling (``non-target``, ``NON TARGET``, enums)."""
    role = str(_plain(value)).strip().lower().replace("-", "_")
    return "non_target" if role in {"nontarget", "non target"} else role


def _parse_document(d: Mapping[str, Any]) -> ExportRead:
    patient = _get(d, "patient_id", "patient")
    if isinstance(patient, Mapping):
        patient_name = _get(patient, "name", "patient_name")
        patient = _get(patient, "patient_id", "id")
    else:
        patient_name = _get(d, "patient_name")
    if patient is None:
        raise ExportInputError(
            "the read document has no patient_id. Set patient_id (a pseudonymous id) in the document."
        )
    patient_id = str(patient)
    reader = _get(d, "reader", "reader_id")
    if isinstance(reader, Mapping):
        reader = _get(reader, "reader_id", "id", "name")
    reader_id = str(reader) if reader is not None else None
    algorithm = _get(d, "algorithm")
    if isinstance(algorithm, Mapping):
        algorithm = " ".join(str(algorithm.get(k, "")) for k in ("name", "version")).strip()

    raw_tps = _get(d, "timepoints", "time_points", default=[])
    if not isinstance(raw_tps, Sequence) or isinstance(raw_tps, (str, bytes)):
        raise ExportInputError(f"patient {patient_id}: 'timepoints' must be a list of time points.")
    parsed: list[tuple[dt.date | None, int | None, int, Mapping[str, Any]]] = []
    for order, tp in enumerate(raw_tps):
        tid = _get(tp, "id", "timepoint_id", "time_point_id")
        if tid is None:
            raise ExportInputError(
                f"patient {patient_id}: time point #{order + 1} has no id. Give it an id (e.g. 'BL', 'FU1')."
            )
        date = _date(_get(tp, "date", "study_date"), f"patient {patient_id}, time point {tid}, date")
        day = _int(_get(tp, "day", "day_offset", "days_from_baseline"))
        parsed.append((date, day, order, tp))
    # keep the document's order (it is ordered by contract); fill days from dates as the read
    # document does: day 0 is start_date, else the first time point's date
    start_date = _date(_get(d, "start_date"), f"patient {patient_id}, start_date")
    base_date = start_date or (parsed[0][0] if parsed else None)
    days: list[int | None] = []
    for date, day, _, _tp in parsed:
        if day is None and date is not None and base_date is not None:
            day = (date - base_date).days
        days.append(day)
    baseline_day = days[0] if days else None
    tps: list[TimepointInfo] = []
    lesions: list[LesionObservation] = []
    stated: list[tuple[bool, bool]] = []  # (organ, is_lymph_node) stated by each observation
    for idx, ((date, _, _, tp), day) in enumerate(zip(parsed, days)):
        tid = str(_get(tp, "id", "timepoint_id", "time_point_id"))
        tps.append(
            TimepointInfo(
                timepoint_id=tid,
                index=idx,
                date=date,
                day=day,
                study_instance_uid=_get(tp, "study_instance_uid", "study_uid"),
                day_from_baseline=(day - baseline_day
                                   if day is not None and baseline_day is not None else None),
            )
        )
        for les in _get(tp, "lesions", "observations", default=[]) or []:
            lesions.append(_parse_lesion(les, patient_id, tid, reader_id))
            stated.append((les.get("organ") is not None, les.get("is_lymph_node") is not None))

    from .lesion_identity import carry_lesion_identity

    lesions = carry_lesion_identity(lesions, stated)  # a follow-up's node is no "liver" lesion
    treatments: list[TreatmentEvent] = []
    for t in _get(d, "treatments", "treatment_events", default=[]) or []:
        start = _date(_get(t, "start_date", "date", "start"), f"patient {patient_id}, treatment")
        end = _date(_get(t, "end_date", "end"), f"patient {patient_id}, treatment")
        kind = str(_plain(_get(t, "kind", "type", "treatment", default="treatment")))
        treatments.append(
            TreatmentEvent(
                patient_id=patient_id,
                kind=kind,
                start_date=start,
                end_date=end,
                start_day=_int(_get(t, "start_day", "day"))
                if _get(t, "start_day", "day") is not None
                else ((start - base_date).days if start and base_date else None),
                end_day=_int(_get(t, "end_day"))
                if _get(t, "end_day") is not None
                else ((end - base_date).days if end and base_date else None),
                label=str(_get(t, "label", "description", default="")),
            )
        )
    read = ExportRead(
        patient_id=patient_id,
        reader_id=reader_id,
        timepoints=tuple(tps),
        lesions=tuple(lesions),
        treatments=tuple(treatments),
        patient_name=str(patient_name) if patient_name is not None else None,
        algorithm=str(algorithm) if algorithm else None,
        document=d,
    )
    embedded = _get(d, "assessment", "results")
    if embedded is not None:
        read = read.with_assessment({"results": embedded} if "results" in d else embedded)
    return read


def _parse_assessment(
    assessment: Any, read: ExportRead
) -> tuple[list[TimepointResponse], list[CriterionSummary]]:
    a = assessment_to_dict(assessment)
    pid = read.patient_id
    days = {tp.timepoint_id: tp.day for tp in read.timepoints}
    a_pid = str(a.get("patient_id") or "").strip()
    if a_pid and a_pid != pid:
        raise ExportInputError(
            f"the assessment is of patient {shown_id(a_pid, 'patient id')}, but the read is of patient "
            f"{shown_id(pid, 'patient id')}: its responses would be "
            "filed under another patient. Pass the assessment of this read (one per read, same order), or "
            "reassess it (--criteria).")
    a_reader = str(a.get("reader_id") or "").strip()
    if a_reader and read.reader_id and a_reader != read.reader_id:
        raise ExportInputError(
            f"the assessment is of reader {a_reader!r}, but the read of patient {pid!r} is reader "
            f"{read.reader_id!r}'s: its responses would be filed under another reader. Pass that reader's "
            "assessment, or reassess the read (--criteria).")
    responses: list[TimepointResponse] = []
    summaries: list[CriterionSummary] = []
    for crit_raw, res in a.get("results", {}).items():
        crit = normalise_criterion(crit_raw)
        unit = str(res.get("sum_unit") or ("mm2" if crit in {"WHO", "EASL"} else "mm"))
        changes: list[float] = []
        for tpr in res.get("timepoints", []) or []:
            tid = str(_get(tpr, "id", "timepoint_id", "time_point_id", default=""))
            where = f"patient {pid}, {crit}, time point {tid}"
            if tid not in days:
                raise ExportInputError(
                    f"the assessment's {crit} response at time point {tid!r} is not of this read of patient "
                    f"{pid!r} (its time points are {list(days)}): the assessment is of another read. Pass the "
                    "assessment of this read, or reassess it (--criteria).")
            new = _get(tpr, "new_lesions")
            if isinstance(new, str):
                new = new.strip().lower() in {"yes", "true", "y", "1", "pd"}
            elif isinstance(new, (list, tuple)):
                new = len(new) > 0
            cfb = _num(_get(tpr, "change_from_baseline", "change_from_baseline_frac"), f"{where}, change_from_baseline")
            if cfb is not None:
                changes.append(cfb)
            reasons = _get(tpr, "reasons", default=()) or ()
            responses.append(
                TimepointResponse(
                    patient_id=pid,
                    criterion=crit,
                    timepoint_id=tid,
                    day=_int(_get(tpr, "day")) if _get(tpr, "day") is not None else days.get(tid),
                    sum_value=_num(_get(tpr, "sum", "sum_mm", "sum_mm2"), f"{where}, sum"),
                    sum_unit=str(_get(tpr, "sum_unit", default=unit)),
                    change_from_baseline_frac=cfb,
                    change_from_nadir_frac=_num(
                        _get(tpr, "change_from_nadir", "change_from_nadir_frac"), f"{where}, change_from_nadir"
                    ),
                    target_response=normalise_response(_get(tpr, "target_response")),
                    non_target_response=normalise_response(_get(tpr, "non_target_response")),
                    new_lesions=None if new is None else bool(new),
                    response=normalise_response(_get(tpr, "response", "overall_response")),
                    reasons=tuple(str(r) for r in reasons) if not isinstance(reasons, str) else (reasons,),
                )
            )
        best = _num(_get(res, "best_change", "best_change_frac"), f"patient {pid}, {crit}, best_change")
        if best is None and changes:
            best = min(changes)
        summaries.append(
            CriterionSummary(
                patient_id=pid,
                criterion=crit,
                bor_unconfirmed=normalise_response(_get(res, "bor_unconfirmed", "bor")),
                bor_confirmed=normalise_response(_get(res, "bor_confirmed")),
                pd_day=_int(_get(res, "pd_day")),
                best_change_frac=best,
                **_endpoints(_get(res, "endpoints"), f"patient {pid}, {crit}, endpoints"),
            )
        )
    from .assessment_check import check_assessment_matches_read

    check_assessment_matches_read(a, read)  # not of an older version of the read (a corrected diameter)
    return responses, summaries


def _endpoints(value: Any, where: str) -> dict[str, tuple[bool, int] | None]:
    """``(event, day)`` of each endpoint of an ``assess --json`` result's ``endpoints``."""
    out: dict[str, tuple[bool, int] | None] = {}
    if value is None:
        return out
    if not isinstance(value, Mapping):
        raise ExportInputError(f"{where}: expected an object with pfs / ttp / dor, got {value!r}.")
    for key in ("pfs", "ttp", "dor", "dor_unconfirmed"):
        e = value.get(key)
        if e is None:
            continue
        day = _int(_get(e, "day")) if isinstance(e, Mapping) else None
        if day is None or not isinstance(e.get("event"), bool):
            raise ExportInputError(
                f"{where}, {key}: expected {{'event': true/false, 'day': int}}, got {e!r}. "
                "Fix: pass the assess --json object as written.")
        out[key] = (bool(e["event"]), day)
    return out


#: UUID namespace of the tracking UIDs :func:`derived_tracking_uid` makes (a fixed random UUID)
_TRACKING_NAMESPACE = uuid.UUID("5b0e6c1e-3f0a-4d35-9a51-7c2f3e0d8a14")


def name_based_tracking_uid(patient_id: str, reader_id: str | None, baseline_date: dt.date | str | None,
                            lesion_id: str) -> str:
    """The tracking UID :func:`derived_tracking_uid` gives lesion ``lesion_id`` of a read of
    ``patient_id`` by ``reader_id`` whose first time point is of ``baseline_date`` (a date or
    ``YYYY-MM-DD``; None: unknown): a name-based UUID, ``2.25.<UUID as integer>`` (PS3.5 B.2).

    A read that is made by a program (``hcc-imaging batch``) records it on each lesion when it is
    made (so correcting the reader or a date later keeps it), and gives the UID a read without
    one was given by the exports before.
    """
    base = baseline_date.isoformat() if isinstance(baseline_date, dt.date) else str(baseline_date or "")
    name = "\x1f".join(("hcc_imaging lesion tracking uid", str(patient_id), reader_id or "", base, str(lesion_id)))
    return f"2.25.{uuid.uuid5(_TRACKING_NAMESPACE, name).int}"


def derived_tracking_uid(read: ExportRead, lesion_id: str) -> str:
    """The tracking UID of lesion ``lesion_id`` of ``read`` when the read records none.

    Derived from the patient id, the reader id, the baseline date and the lesion id
    (:func:`name_based_tracking_uid`), so every export of the same read - each SEG of each time
    point, the SR, the tables, made by separate commands - gives the lesion the same UID without
    having to pass it around (TID 1500 / PS3.3 C.8.20.2: the SR group and the SEG segment of one
    finding share its Tracking UID at every time point).

    Editing one of those fields (a corrected reader name or baseline date) gives other UIDs, which
    no longer match objects already sent.  A read keeps its UIDs when it records them
    (``tracking_uid`` on each lesion): the batch, the napari dock and the study store write them
    when the lesion is made, and the JSON read ``export csv`` writes (``reads/<patient>.json``)
    carries the derived ones; export from that copy before editing such fields.
    """
    base = read.timepoints[0].date if read.timepoints else None
    return name_based_tracking_uid(read.patient_id, read.reader_id, base, lesion_id)


def with_tracking_uids(read: ExportRead) -> ExportRead:
    """``read`` with a tracking UID on every lesion observation: the lesion's own (the first
    recorded at any time point, for the time points that have none), else
    :func:`derived_tracking_uid` (``tracking_uid_derived``).  The read document (``document``)
    gets the same UIDs, so the JSON read written with the tables carries what the SEG and SR
    carry."""
    recorded: dict[str, str] = {}
    for les in read.lesions:
        if les.tracking_uid:
            recorded.setdefault(les.lesion_id, str(les.tracking_uid))
    if all(les.tracking_uid for les in read.lesions):
        return read
    uids: dict[str, str] = {}
    lesions = []
    for les in read.lesions:
        if les.tracking_uid:
            lesions.append(les)
            continue
        lid = les.lesion_id
        uid = uids.setdefault(lid, recorded.get(lid) or derived_tracking_uid(read, lid))
        lesions.append(replace(les, tracking_uid=uid, tracking_uid_derived=lid not in recorded))
    return replace(read, lesions=tuple(lesions), document=_document_with_uids(read.document, uids))


def _document_with_uids(doc: Mapping[str, Any] | None, uids: Mapping[str, str]) -> Mapping[str, Any] | None:
    """A copy of the read document with ``tracking_uid`` set on the lesions that have none."""
    if not isinstance(doc, Mapping) or not uids:
        return doc
    import copy

    out = copy.deepcopy(dict(doc))
    tps = _get(out, "timepoints", "time_points", default=[])
    for tp in tps if isinstance(tps, list) else []:
        if not isinstance(tp, dict):
            continue
        lesions = _get(tp, "lesions", "observations", default=[])
        for les in lesions if isinstance(lesions, list) else []:
            if isinstance(les, dict) and not les.get("tracking_uid"):
                lid = _get(les, "lesion_id", "id", "tracking_id", "label")
                if lid is not None and str(lid) in uids:
                    les["tracking_uid"] = uids[str(lid)]
    return out


def as_export_read(doc: Any, assessment: Any = None) -> ExportRead:
    """Build an :class:`ExportRead` from a read document (+ optional assessment).

    Every lesion gets a tracking UID (:func:`with_tracking_uids`): its own, else one derived from
    the read (:func:`derived_tracking_uid`), the same in every export of the read.

    Parameters
    ----------
    doc : ExportRead, ReadDocument, dict, JSON string or path
        The read document (DESIGN section 4).  An :class:`ExportRead` is returned as is
        (with ``assessment`` applied when given).
    assessment : optional
        ``Assessment.to_json()`` output, the ``hcc-imaging assess --json`` object, or a list
        / mapping of per-criterion assessments.
    """
    read = with_tracking_uids(doc if isinstance(doc, ExportRead) else _parse_document(document_to_dict(doc)))
    if assessment is not None:
        read = read.with_assessment(assessment)
    return read


def iter_reads(docs: Any, assessments: Any = None) -> Iterable[ExportRead]:
    """Yield :class:`ExportRead` for one document or a sequence of them (cohort exports).

    ``assessments`` is ``None``, a single assessment (one document), a sequence parallel to
    ``docs``, or a mapping ``patient_id -> assessment``.
    """
    single = isinstance(docs, (ExportRead, Mapping, str, Path)) or not isinstance(docs, Sequence)
    reads = [as_export_read(d) for d in ([docs] if single else list(docs))]
    by_patient = (
        isinstance(assessments, Mapping)
        and "results" not in assessments
        and any(r.patient_id in assessments for r in reads)
    )
    is_seq = isinstance(assessments, Sequence) and not isinstance(assessments, (str, bytes))
    if is_seq and not single and len(assessments) != len(reads):
        raise ExportInputError(
            f"{len(assessments)} assessments for {len(reads)} reads; give one per read (same "
            "order) or a mapping patient_id -> assessment."
        )
    for i, read in enumerate(reads):
        a: Any = None
        if assessments is not None:
            if by_patient:
                a = assessments.get(read.patient_id)
            elif is_seq and not single:
                a = assessments[i]
            else:
                a = assessments
        yield read.with_assessment(a) if a is not None else read


def read_from_measurements(
    measurements: Iterable[Any],
    *,
    patient_id: str,
    timepoint_id: str = "BL",
    date: dt.date | str | None = None,
    reader_id: str | None = None,
    roles: Mapping[str, str] | None = None,
    organs: Mapping[str, str] | None = None,
    tracking_uids: Mapping[str, str] | None = None,
) -> ExportRead:
    """A one-time-point :class:`ExportRead` from :class:`hcc_imaging.measure.LesionMeasurement`s.

    For exporting straight from measurement (SR, tables, report) before a read document
    exists.  ``roles`` / ``organs`` / ``tracking_uids`` are keyed by lesion id (default
    target, liver - lymph node when the measurement says so - and :func:`derived_tracking_uid`).  The algorithm in
    each measurement's provenance becomes the read's algorithm.
    """
    roles = dict(roles or {})
    organs = dict(organs or {})
    tuids = dict(tracking_uids or {})
    when = _date(date, f"patient {patient_id}, time point {timepoint_id}, date") if date is not None else None
    lesions: list[LesionObservation] = []
    algorithm = None
    for m in measurements:
        lid = str(getattr(m, "lesion_id"))
        where = f"patient {patient_id}, time point {timepoint_id}, lesion {lid}"
        prov = getattr(m, "provenance", None)
        prov_text = None
        if prov is not None:
            name = getattr(prov, "algorithm", None)
            version = getattr(prov, "version", None)
            prov_text = " ".join(str(x) for x in (name, version) if x) or str(prov)
            algorithm = algorithm or prov_text
        node = bool(getattr(m, "is_lymph_node", False))

        def seg(attr: str, _m: Any = m, _w: str = where) -> Segment3 | None:
            return _segment(getattr(_m, attr, None), f"{_w}, {attr}")

        lesions.append(
            LesionObservation(
                patient_id=patient_id,
                timepoint_id=timepoint_id,
                lesion_id=lid,
                role=roles.get(lid, "target"),
                tracking_uid=tuids.get(lid),
                organ=organs.get(lid, "lymph_node" if node else "liver"),
                is_lymph_node=node,
                status="measured",
                longest_diameter_mm=_num(getattr(m, "longest_diameter_mm", None), f"{where}, longest_diameter_mm"),
                short_axis_mm=_num(getattr(m, "short_axis_mm", None), f"{where}, short_axis_mm"),
                viable_diameter_mm=_num(getattr(m, "viable_diameter_mm", None), f"{where}, viable_diameter_mm"),
                viable_short_axis_mm=_num(getattr(m, "viable_short_axis_mm", None), f"{where}, viable_short_axis_mm"),
                volume_mm3=_num(getattr(m, "volume_mm3", None), f"{where}, volume_mm3"),
                viable_volume_mm3=_num(getattr(m, "viable_volume_mm3", None), f"{where}, viable_volume_mm3"),
                necrosis_fraction=_num(getattr(m, "necrosis_fraction", None), f"{where}, necrosis_fraction"),
                ld_endpoints_lps=seg("ld_endpoints_lps"),
                sa_endpoints_lps=seg("sa_endpoints_lps"),
                viable_endpoints_lps=seg("viable_endpoints_lps"),
                viable_sa_endpoints_lps=seg("viable_sa_endpoints_lps"),
                provenance=prov_text or reader_id,
            )
        )
    return with_tracking_uids(ExportRead(
        patient_id=patient_id,
        reader_id=reader_id,
        timepoints=(TimepointInfo(timepoint_id=timepoint_id, index=0, date=when, day=0,
                                  day_from_baseline=0),),
        lesions=tuple(lesions),
        algorithm=algorithm,
    ))

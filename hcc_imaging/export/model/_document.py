"""The read document (an object, its JSON dict, a JSON string or file) read into an :class:`ExportRead`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import codes as C
from ..codes import normalise_criterion
from ._fields import _couinaud, _date, _get, _int, _note_segment, _num, _plain, _role, _segment
from ._records import ExportInputError, ExportRead, LesionObservation, Segment3, TimepointInfo, TreatmentEvent


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

    from ..lesion_identity import carry_lesion_identity

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

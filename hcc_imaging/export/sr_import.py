"""Import of TID 1500 measurement reports - ours and other tools' - into records and a read document.

The reader walks the SR content tree with pydicom (not highdicom's template parser), so it
accepts the real-world variety: Enhanced SR with 2-D SCOORD (PixelMed, Crowds Cure Cancer),
Comprehensive SR (Iowa2DICOM, QIN), Comprehensive 3D SR (highdicom, ours), legacy SNOMED-RT
codes (``SRT``, ``T-62000``) and units in mm/cm, mm3/cm3/ml.

* :func:`read_sr` -> :class:`SrReport` with one :class:`SrGroup` per Measurement Group
  (tracking id + UID, finding, finding sites, time point, observer, measurements with value,
  UCUM unit, value converted to mm / mm2 / mm3 where the unit allows, derivation, and their
  coordinates; qualitative evaluations; referenced segment).
* :meth:`SrReport.records` -> flat list of :class:`SrMeasurement` (one row per NUM).
* :func:`sr_to_read_document` -> read-document dict (DESIGN section 4) for the groups that
  describe lesions, plus the responses we wrote (assessment dict), so a report can go back
  into the study store (the store ingests read documents).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HccImagingError, NotDicomError, UnsupportedDicomError
from . import codes as C
from ._sr_roundtrip import IMPORTED_SOURCE, evidence_series, group_algorithm, read_image_library, restore_read_fields

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

__all__ = [
    "SrImportError",
    "SrCode",
    "SrCoordinates",
    "SrMeasurement",
    "SrGroup",
    "SrReport",
    "read_sr",
    "sr_to_read_document",
    "import_sr_into_store",
    "require_lesions",
    "describe_report",
]


class SrImportError(HccImagingError, ValueError):
    """A structured report cannot be imported (not TID 1500, broken content tree ...)."""


@dataclass(frozen=True, slots=True)
class SrCode:
    """A coded concept as found in the file (legacy ``SRT`` scheme kept as written)."""

    value: str
    scheme: str
    meaning: str

    def is_(self, c: C.CodeDef) -> bool:
        return c.matches(self.value, self.scheme)

    def __str__(self) -> str:
        return f"({self.value}, {self.scheme}, {self.meaning!r})"


@dataclass(frozen=True, slots=True)
class SrCoordinates:
    """A SCOORD (image pixel coordinates, column/row) or SCOORD3D (LPS mm) item."""

    kind: str  # "SCOORD" | "SCOORD3D"
    graphic_type: str
    points: tuple[tuple[float, ...], ...]
    frame_of_reference_uid: str | None = None
    referenced_sop_instance_uid: str | None = None


@dataclass(frozen=True, slots=True)
class SrMeasurement:
    """One NUM measurement with its group context (a flat, table-ready record).

    ``value`` / ``unit`` are as stored; ``value_std`` / ``unit_std`` are converted to mm,
    mm2 or mm3 when the UCUM unit is a length, area or volume (else equal to value/unit).
    """

    concept: SrCode
    value: float
    unit: str
    value_std: float
    unit_std: str
    tracking_identifier: str | None = None
    tracking_uid: str | None = None
    time_point: str | None = None
    finding: SrCode | None = None
    finding_sites: tuple[SrCode, ...] = ()
    derivation: SrCode | None = None
    coordinates: tuple[SrCoordinates, ...] = ()
    source_sop_instance_uids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SrGroup:
    """One TID 1500 Measurement Group."""

    tracking_identifier: str | None
    tracking_uid: str | None
    finding: SrCode | None
    finding_sites: tuple[SrCode, ...]
    time_point: str | None
    time_point_order: int | None
    time_point_type: SrCode | None
    observer: str | None
    day: int | None
    measurements: tuple[SrMeasurement, ...]
    qualitative: tuple[tuple[SrCode, SrCode], ...]
    referenced_segment: tuple[str, int] | None = None
    source_sop_instance_uids: tuple[str, ...] = ()
    #: ``NAME VERSION`` of the group's algorithm identification (TID 4019), None when it has none
    algorithm: str | None = None

    def qualitative_value(self, name: C.CodeDef) -> SrCode | None:
        for n, v in self.qualitative:
            if n.is_(name):
                return v
        return None

    def measurement(self, *names: C.CodeDef) -> SrMeasurement | None:
        for m in self.measurements:
            if m.derivation is None and any(m.concept.is_(n) for n in names):
                return m
        return None


@dataclass(frozen=True, slots=True)
class SrReport:
    """A parsed TID 1500 report."""

    path: Path | None
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    patient_id: str
    study_date: dt.date | None
    observer: str | None
    procedure: SrCode | None
    groups: tuple[SrGroup, ...] = field(default=())
    manufacturer: str = ""
    #: The root's content template (``TID 1500``) and document title, "" / None when not recorded.
    template: str = ""
    title: SrCode | None = None
    #: TID 1600 Image Library entries (``_sr_roundtrip.read_image_library``): sop, series, modality, date ...
    image_library: tuple[dict[str, Any], ...] = ()
    #: SOP instance UID -> series instance UID of the SR's evidence (the images it references)
    evidence_series: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[SrMeasurement]:
        """Every NUM measurement of every group, flat."""
        return [m for g in self.groups for m in g.measurements]


# ------------------------------------------------------------------------------------------
def _code(seq: Any) -> SrCode | None:
    if not seq:
        return None
    c = seq[0]
    return SrCode(
        value=str(c.get("CodeValue", c.get("LongCodeValue", c.get("URNCodeValue", "")))),
        scheme=str(c.get("CodingSchemeDesignator", "")),
        meaning=str(c.get("CodeMeaning", "")),
    )


def _name(item: Dataset) -> SrCode | None:
    return _code(item.get("ConceptNameCodeSequence"))


def _is(item: Dataset, value: str, scheme: str | None = None) -> bool:
    n = _name(item)
    if n is None:
        return False
    if scheme is None:
        return n.value == value
    return C.CodeDef(value, scheme, "").matches(n.value, n.scheme)


_TRACKING_ID = ("112039", "DCM")
_TRACKING_UID = ("112040", "DCM")
_FINDING = ("121071", "DCM")
_FINDING_SITE = ("363698007", "SCT")
_FINDING_SITE_LEGACY = ("G-C0E3", "SRT")
_TIME_POINT = ("C2348792", "UMLS")
_TIME_POINT_ORDER = ("126073", "DCM")
_TIME_POINT_TYPE = ("126072", "DCM")
_TEMPORAL_OFFSET = ("128740", "DCM")
_DERIVATION = ("121401", "DCM")
_PERSON_OBSERVER = ("121008", "DCM")
_MEASUREMENT_GROUP = ("125007", "DCM")
_REFERENCED_SEGMENT = ("121191", "DCM")
#: legacy SNOMED-RT -> our organ name (older TID 1500 producers: dcmqi 2016, PixelMed 2017).
_LESION_FINDINGS = C.LESION_FINDINGS


def _ucum(unit: str, value: float) -> tuple[float, str]:
    std = C.UNIT_CODES.get(unit)
    if std is None:
        return value, unit
    return value * std[1], std[0]


def _coords(item: Dataset) -> SrCoordinates:
    vt = str(item.ValueType)
    data = [float(v) for v in item.get("GraphicData", [])]
    dim = 3 if vt == "SCOORD3D" else 2
    pts = tuple(tuple(data[i : i + dim]) for i in range(0, len(data) - dim + 1, dim))
    sop = None
    for child in item.get("ContentSequence", []):
        if str(child.get("ValueType", "")) == "IMAGE" and child.get("ReferencedSOPSequence"):
            sop = str(child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    return SrCoordinates(
        kind=vt,
        graphic_type=str(item.get("GraphicType", "")),
        points=pts,
        frame_of_reference_uid=str(item.ReferencedFrameOfReferenceUID) if "ReferencedFrameOfReferenceUID" in item else None,
        referenced_sop_instance_uid=sop,
    )


def _image_refs(item: Dataset) -> list[str]:
    out = []
    for r in item.get("ReferencedSOPSequence", []):
        if "ReferencedSOPInstanceUID" in r:
            out.append(str(r.ReferencedSOPInstanceUID))
    return out


def _parse_num(item: Dataset) -> tuple[SrCode, float, str, SrCode | None, list[SrCoordinates], list[str], list[SrCode]]:
    name = _name(item) or SrCode("", "", "")
    mv = item.get("MeasuredValueSequence")
    if not mv:
        raise SrImportError(f"NUM item {name} has no MeasuredValueSequence (no value); skipped.")
    value = float(mv[0].NumericValue)
    unit = _code(mv[0].get("MeasurementUnitsCodeSequence"))
    deriv = None
    coords: list[SrCoordinates] = []
    refs: list[str] = []
    sites: list[SrCode] = []
    for child in item.get("ContentSequence", []):
        vt = str(child.get("ValueType", ""))
        if vt in {"SCOORD", "SCOORD3D"}:
            coords.append(_coords(child))
        elif vt == "IMAGE":
            refs.extend(_image_refs(child))
        elif vt == "CODE" and _is(child, *_DERIVATION):
            deriv = _code(child.get("ConceptCodeSequence"))
        elif vt == "CODE" and (_is(child, *_FINDING_SITE) or _is(child, *_FINDING_SITE_LEGACY)):
            site = _code(child.get("ConceptCodeSequence"))
            if site is not None:
                sites.append(site)
    return name, value, unit.value if unit else "", deriv, coords, refs, sites


def _parse_group(item: Dataset, observer: str | None) -> SrGroup:
    tid = tuid = tp = None
    order: int | None = None
    day: int | None = None
    tp_type = finding = None
    sites: list[SrCode] = []
    quals: list[tuple[SrCode, SrCode]] = []
    raw_ms: list[tuple[Any, ...]] = []
    seg_ref: tuple[str, int] | None = None
    refs: list[str] = []
    for child in item.get("ContentSequence", []):
        vt = str(child.get("ValueType", ""))
        rel = str(child.get("RelationshipType", ""))
        if vt == "TEXT" and _is(child, *_TRACKING_ID):
            tid = str(child.TextValue)
        elif vt == "UIDREF" and _is(child, *_TRACKING_UID):
            tuid = str(child.UID)
        elif vt == "TEXT" and _is(child, *_TIME_POINT):
            tp = str(child.TextValue)
        elif vt == "NUM" and _is(child, *_TIME_POINT_ORDER):
            order = int(float(child.MeasuredValueSequence[0].NumericValue))
        elif vt == "NUM" and _is(child, *_TEMPORAL_OFFSET):
            unit = _code(child.MeasuredValueSequence[0].get("MeasurementUnitsCodeSequence"))
            value = float(child.MeasuredValueSequence[0].NumericValue)
            factor = {"d": 1.0, "wk": 7.0, "h": 1.0 / 24.0}.get(unit.value if unit else "d")
            if factor is not None:
                day = int(round(value * factor))
        elif vt == "NUM" and rel != "CONTAINS":
            continue  # other context (HAS OBS CONTEXT / HAS ACQ CONTEXT) is not a measurement
        elif vt == "CODE" and _is(child, *_TIME_POINT_TYPE):
            tp_type = _code(child.get("ConceptCodeSequence"))
        elif vt == "CODE" and _is(child, *_FINDING):
            finding = _code(child.get("ConceptCodeSequence"))
        elif vt == "CODE" and (_is(child, *_FINDING_SITE) or _is(child, *_FINDING_SITE_LEGACY)):
            site = _code(child.get("ConceptCodeSequence"))
            if site is not None:
                sites.append(site)
        elif vt == "PNAME" and _is(child, *_PERSON_OBSERVER):
            observer = str(child.PersonName).rstrip("^")
        elif vt == "NUM":
            try:
                raw_ms.append(_parse_num(child))
            except SrImportError:
                continue  # a NUM without a value (e.g. "measurement not done") is not a record
        elif vt == "CODE" and rel == "CONTAINS":
            n, v = _name(child), _code(child.get("ConceptCodeSequence"))
            if n is not None and v is not None:
                quals.append((n, v))
        elif vt == "IMAGE":
            if _is(child, *_REFERENCED_SEGMENT) and child.get("ReferencedSOPSequence"):
                r = child.ReferencedSOPSequence[0]
                num = r.get("ReferencedSegmentNumber")
                seg_ref = (str(r.ReferencedSOPInstanceUID), int(num[0] if isinstance(num, Sequence) and not isinstance(num, str) else num or 0))
            else:
                refs.extend(_image_refs(child))
    ms = []
    for name, value, unit, deriv, coords, mrefs, msites in raw_ms:
        v_std, u_std = _ucum(unit, value)
        ms.append(
            SrMeasurement(
                concept=name,
                value=value,
                unit=unit,
                value_std=v_std,
                unit_std=u_std,
                tracking_identifier=tid,
                tracking_uid=tuid,
                time_point=tp,
                finding=finding,
                finding_sites=tuple(sites + msites),
                derivation=deriv,
                coordinates=tuple(coords),
                source_sop_instance_uids=tuple(mrefs),
            )
        )
    return SrGroup(
        tracking_identifier=tid,
        tracking_uid=tuid,
        finding=finding,
        finding_sites=tuple(sites),
        time_point=tp,
        time_point_order=order,
        time_point_type=tp_type,
        observer=observer,
        day=day,
        measurements=tuple(ms),
        qualitative=tuple(quals),
        referenced_segment=seg_ref,
        source_sop_instance_uids=tuple(refs),
        algorithm=group_algorithm(item),
    )


def _iter_groups(item: Dataset, observer: str | None) -> Iterator[SrGroup]:
    for child in item.get("ContentSequence", []):
        if str(child.get("ValueType", "")) == "PNAME" and _is(child, *_PERSON_OBSERVER):
            observer = str(child.PersonName).rstrip("^")
        if str(child.get("ValueType", "")) == "CONTAINER":
            if _is(child, *_MEASUREMENT_GROUP):
                yield _parse_group(child, observer)
            else:
                yield from _iter_groups(child, observer)


def read_sr(source: str | os.PathLike[str] | Dataset) -> SrReport:
    """Parse a TID 1500 SR (file path or pydicom Dataset).

    Raises
    ------
    NotDicomError
        The file is not DICOM.
    UnsupportedDicomError
        The object is not a structured report.
    SrImportError
        The report has no content tree.
    """
    import pydicom
    from pydicom.dataset import Dataset as _Dataset

    if isinstance(source, _Dataset):
        ds, path = source, None
    else:
        path = Path(source)
        try:
            ds = pydicom.dcmread(path)
        except OSError as err:
            raise SrImportError(f"cannot read {path}: {err}. Pass an existing DICOM SR file.") from err
        except pydicom.errors.InvalidDicomError as err:
            raise NotDicomError(f"{path} is not a DICOM file ({err}); pass a DICOM SR (TID 1500).") from err
    if str(ds.get("Modality", "")) != "SR" and "ContentSequence" not in ds:
        raise UnsupportedDicomError(
            f"{path or 'dataset'} is a {ds.get('Modality', '?')} object ({ds.get('SOPClassUID', '?')}), "
            "not a structured report; import_sr reads DICOM SR (TID 1500) only."
        )
    if "ContentSequence" not in ds:
        raise SrImportError(f"{path or 'dataset'}: the SR has no ContentSequence (empty report).")
    observer = None
    procedure = None
    for child in ds.ContentSequence:
        if str(child.get("ValueType", "")) == "PNAME" and _is(child, *_PERSON_OBSERVER):
            observer = str(child.PersonName).rstrip("^")
        if _is(child, "121058", "DCM"):
            procedure = _code(child.get("ConceptCodeSequence"))
    groups = tuple(_iter_groups(ds, observer))
    sd = str(ds.get("StudyDate", "") or "")
    study_date = None
    if len(sd) >= 8:
        try:
            study_date = dt.datetime.strptime(sd[:8], "%Y%m%d").date()
        except ValueError:
            study_date = None
    return SrReport(
        path=path,
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        study_instance_uid=str(ds.get("StudyInstanceUID", "")),
        patient_id=str(ds.get("PatientID", "")),
        study_date=study_date,
        observer=observer,
        procedure=procedure,
        groups=groups,
        manufacturer=str(ds.get("Manufacturer", "")),
        template=next((f"TID {t.get('TemplateIdentifier')}" for t in ds.get("ContentTemplateSequence", []) or []
                       if t.get("TemplateIdentifier")), ""),
        title=_code(ds.get("ConceptNameCodeSequence")),
        image_library=read_image_library(ds),
        evidence_series=evidence_series(ds),
    )


# ------------------------------------------------------------------------------------------
def _organ_and_segment(sites: Sequence[SrCode]) -> tuple[str | None, str | None]:
    """The organ and Couinaud segment of a group's finding sites: a Couinaud segment implies the
    liver; a known organ code (:func:`codes.organ_of_code`) wins over an earlier site's name; an
    unknown code's meaning names the organ only when no site did."""
    organ = segment = None
    for s in sites:
        roman = next((r for r, c in C.COUINAUD_CODES.items() if s.is_(c)), None)
        if roman is not None:
            segment, organ = roman, organ or "liver"
        elif (known := C.organ_of_code(s.value, s.scheme, "")) is not None:
            organ = known
        elif organ is None:
            organ = C.organ_of_code(s.value, s.scheme, s.meaning)
    return organ, segment


def _endpoints(m: SrMeasurement | None) -> list[list[float]] | None:
    if m is None:
        return None
    for c in m.coordinates:
        if c.kind == "SCOORD3D" and len(c.points) == 2:
            return [list(p) for p in c.points]
    return None


def _is_lesion_group(g: SrGroup) -> bool:
    """A lesion: finding is a neoplasm/lesion/mass/nodule, or no finding but a diameter line
    (reader SRs such as Crowds Cure Cancer record only site + length)."""
    if g.qualitative_value(C.RESPONSE_EVALUATION_METHOD) is not None:
        return False
    if g.finding is not None:  # (a fluid finding: ascites, an effusion, a lesion of that kind)
        return any(g.finding.is_(f) for f in (*_LESION_FINDINGS, *C.FLUID_CODES.values()))
    return g.measurement(C.LONG_AXIS, C.LENGTH, C.DIAMETER, C.SHORT_AXIS) is not None


def _lesion_attributes(g: SrGroup) -> dict[str, Any]:
    """The lesion attributes the response rules read, as our SR writes them (``sr._lesion_group``):
    yes/no flags, further mm measurements, kind, viable status, iRECIST category, attenuation."""
    out: dict[str, Any] = {}
    for name, concept in C.LESION_FLAG_CODES.items():
        v = g.qualitative_value(concept)
        if v is not None and (v.is_(C.YES) or v.is_(C.NO)):
            out[name] = v.is_(C.YES)
    for name, concept in C.LESION_EXTRA_MM_CODES.items():
        m = g.measurement(concept)
        if m is not None and m.unit_std == "mm":
            out[name] = m.value_std
    hu = g.measurement(C.ATTENUATION)
    if hu is not None and hu.unit == C.UNIT_HU.value:
        out["attenuation_hu"] = hu.value
    kind = _reverse(C.KIND_CODES, g.qualitative_value(C.LESION_KIND))
    if kind is None and g.finding is not None:  # another tool's SR: the finding says a fluid
        kind = C.fluid_of_code(g.finding.value, g.finding.scheme)
    if kind is not None:
        out["kind"] = kind
    vstat = _reverse(C.STATUS_CODES, g.qualitative_value(C.VIABLE_STATUS))
    if vstat is not None:
        out["viable_status"] = vstat
    cat = _reverse(C.IRECIST_CATEGORY_CODES, g.qualitative_value(C.IRECIST_CATEGORY))
    if cat is not None:
        out["irecist_category"] = cat
    return out


def _reverse(table: dict[str, C.CodeDef], code: SrCode | None) -> str | None:
    if code is None:
        return None
    for k, c in table.items():
        if code.is_(c):
            return k
    return None


def sr_to_read_document(
    report: SrReport | str | os.PathLike[str], *, patient_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Turn a TID 1500 report into a read document (and the responses it records).

    Lesion groups (those with a diameter, or whose finding is a neoplasm / lesion / mass)
    become lesions of the time point in their Time Point Context (``"TP1"`` when there is
    none, dated by the SR's StudyDate).  Long Axis, or another tool's Length / Diameter line,
    becomes ``longest_diameter_mm``; Short Axis ``short_axis_mm``; our viable-tumour codes
    ``viable_*``; Volume ``volume_mm3`` (cm3 and ml converted); SCOORD3D 2-point lines become
    endpoints (2-D SCOORD pixel lines cannot be placed in LPS without the image and stay in
    :meth:`SrReport.records`). A lesion's ``source`` is its group's algorithm (TID 4019 ``NAME VERSION``),
    else ``"imported-from-SR"`` (not the observer: the reader); the criteria, the time points' date,
    modality and slice thickness (Image Library) and the schema version are restored
    (``_sr_roundtrip.restore_read_fields``).

    Returns
    -------
    (read_document, assessment)
        ``assessment`` is None when the report records no response (not one of ours).
    """
    rep = report if isinstance(report, SrReport) else read_sr(report)
    pid = patient_id or rep.patient_id.strip()
    if not pid:  # no PatientID: the study's own key, as the index reads the images (io.patient_key)
        from ..io.index import patient_key

        if not str(rep.study_instance_uid or "").strip():
            raise SrImportError(
                "the SR has neither a PatientID nor a StudyInstanceUID: nothing tells whose read it is (every such "
                "report was patient 'UNKNOWN', one patient of different people's reads). Pass patient_id= "
                "(hcc-imaging export import-sr: --patient-id), or restore the SR's StudyInstanceUID.")
        pid = patient_key("", rep.study_instance_uid)
    tps: dict[str, dict[str, Any]] = {}
    order: dict[str, int] = {}
    days: dict[str, int] = {}
    lesion_counter = 0
    responses: dict[str, dict[str, Any]] = {}
    tp_series: dict[str, set[str]] = {}
    series_of = rep.evidence_series  # image SOP instance -> series, to tie the Image Library to time points
    for g in rep.groups:
        tp_id = g.time_point or "TP1"
        if g.time_point_order is not None:
            order.setdefault(tp_id, g.time_point_order)
        if g.day is not None:
            days.setdefault(tp_id, g.day)
        method = g.qualitative_value(C.RESPONSE_EVALUATION_METHOD)
        if method is not None:
            crit = _reverse(C.CRITERIA_CODES, method) or method.meaning
            res = responses.setdefault(crit, {"timepoints": [], "bor_unconfirmed": None, "bor_confirmed": None})
            bor = g.qualitative_value(C.BEST_OVERALL_RESPONSE)
            borc = g.qualitative_value(C.BEST_OVERALL_RESPONSE_CONFIRMED)
            if bor is not None or borc is not None:
                res["bor_unconfirmed"] = _reverse(C.RESPONSE_CODES, bor)
                res["bor_confirmed"] = _reverse(C.RESPONSE_CODES, borc)
                continue
            new = g.qualitative_value(C.NEW_LESIONS_PRESENT)
            sm = g.measurement(C.SUM_DIAMETERS)
            cb = g.measurement(C.CHANGE_FROM_BASELINE)
            cn = g.measurement(C.CHANGE_FROM_NADIR)
            tr = g.qualitative_value(C.TARGET_RESPONSE)
            ntr = g.qualitative_value(C.NON_TARGET_RESPONSE)
            res["timepoints"].append(
                {
                    "id": tp_id,
                    "sum": sm.value if sm else None,
                    "change_from_baseline": cb.value if cb else None,
                    "change_from_nadir": cn.value if cn else None,
                    "target_response": _reverse(C.TARGET_RESPONSE_CODES, tr) or _reverse(C.RESPONSE_CODES, tr),
                    "non_target_response": _reverse(C.NON_TARGET_RESPONSE_CODES, ntr) or _reverse(C.RESPONSE_CODES, ntr),
                    "new_lesions": None if new is None else new.is_(C.YES),
                    "response": _reverse(C.RESPONSE_CODES, g.qualitative_value(C.CURRENT_RESPONSE)),
                }
            )
            continue
        if not _is_lesion_group(g):
            continue
        lesion_counter += 1
        organ, segment = _organ_and_segment(g.finding_sites)
        ld = g.measurement(C.LONG_AXIS, C.LENGTH, C.DIAMETER)
        sa = g.measurement(C.SHORT_AXIS, C.CodeDef("131189007", "SCT", "Perpendicular Axis"))
        via = g.measurement(C.VIABLE_LONG_AXIS)
        vsa = g.measurement(C.VIABLE_SHORT_AXIS)
        vol = g.measurement(C.VOLUME)
        vvol = g.measurement(C.VIABLE_VOLUME)
        nec = g.measurement(C.NECROSIS_FRACTION)
        # role is only known when the report records it (ours: Baseline Category); others
        # leave it None and the reader sets it before assessing
        role = _reverse(C.ROLE_CODES, g.qualitative_value(C.BASELINE_CATEGORY))
        if role is None:
            # not recorded (other tools): a lesion with a diameter line can be a target; one
            # with only a volume / uptake cannot be a RECIST target -> non-target, present
            role = "target" if ld is not None or sa is not None else "non_target"
        status = _reverse(C.STATUS_CODES, g.qualitative_value(C.LESION_STATUS))
        # keys are exactly hcc_imaging.response.document.LesionObservation fields, so the
        # result loads with ReadDocument.from_json (which rejects unknown keys)
        les: dict[str, Any] = {
            "lesion_id": g.tracking_identifier or f"L{lesion_counter}",
            "tracking_uid": g.tracking_uid,
            "role": role,
            "organ": organ,
            "is_lymph_node": bool(organ and "lymph" in organ),
            "status": status or ("measured" if role == "target" else "present"),
            "longest_diameter_mm": ld.value_std if ld is not None and ld.unit_std == "mm" else None,
            "short_axis_mm": sa.value_std if sa is not None and sa.unit_std == "mm" else None,
            "viable_diameter_mm": via.value_std if via is not None else None,
            "viable_short_axis_mm": vsa.value_std if vsa is not None else None,
            "volume_mm3": vol.value_std if vol is not None and vol.unit_std == "mm3" else None,
            "viable_volume_mm3": vvol.value_std if vvol is not None else None,
            "necrosis_fraction": nec.value if nec is not None else None,
            "endpoints": {
                k: v
                for k, v in (
                    ("long", _endpoints(ld)),
                    ("short", _endpoints(sa)),
                    ("viable_long", _endpoints(via)),
                    ("viable_short", _endpoints(vsa)),
                )
                if v is not None
            },
            # who measured it (TID 4019), never the observer's name: the observer is the reader
            "source": g.algorithm or IMPORTED_SOURCE,
            "note": f"Couinaud segment {segment}" if segment else None,
        }
        les.update(_lesion_attributes(g))
        les = {k: v for k, v in les.items() if v is not None and v != {}}
        tps.setdefault(tp_id, {"id": tp_id, "lesions": []})["lesions"].append(les)
        refs = [*g.source_sop_instance_uids, *(u for m in g.measurements for u in m.source_sop_instance_uids)]
        tp_series.setdefault(tp_id, set()).update(series_of[u] for u in refs if u in series_of)
    ordered = sorted(tps.values(), key=lambda t: (order.get(t["id"], 10**6), t["id"]))
    for t in ordered:
        if t["id"] in days:
            t["day"] = days[t["id"]]
    if len(ordered) == 1 and "day" not in ordered[0]:
        ordered[0]["day"] = 0
        if rep.study_date is not None:
            ordered[0]["date"] = rep.study_date.isoformat()
    doc: dict[str, Any] = {
        "patient_id": pid,
        "reader_id": rep.observer or "unknown",
        "note": f"imported from DICOM SR {rep.sop_instance_uid}",
        "timepoints": ordered,
    }
    restore_read_fields(doc, rep, list(responses), tp_series)
    assessment = {"patient_id": pid, "results": responses} if responses else None
    return doc, assessment


#: Measurements :func:`describe_report` lists before it counts the rest.
_DESCRIBED = 8


def describe_report(report: SrReport, limit: int = _DESCRIBED) -> str:
    """What a report holds, in one line: its template and title, and per measurement group its
    finding, sites, referenced segment and the measurements (concept, derivation, value, unit),
    the first ``limit`` of them."""
    kind = " ".join(x for x in (report.template, report.title.meaning if report.title else "") if x) or "SR"
    parts: list[str] = []
    shown = 0
    for i, g in enumerate(report.groups, 1):
        what = [f"finding {g.finding.meaning}" if g.finding else "no finding"]
        if g.finding_sites:
            what.append("site " + ", ".join(c.meaning for c in g.finding_sites))
        if g.referenced_segment:
            what.append(f"volumetric ROI of segment {g.referenced_segment[1]} of SEG {g.referenced_segment[0]}")
        ms = []
        for m in g.measurements:
            if shown < limit:
                der = f" ({m.derivation.meaning})" if m.derivation else ""
                ms.append(f"{m.concept.meaning}{der} {m.value:g} {m.unit}")
            shown += 1
        parts.append(f"group {g.tracking_identifier or i!r} ({'; '.join(what)})" + (": " + ", ".join(ms) if ms else ""))
    n = len(report.records())
    more = f" and {n - limit} more measurement(s)" if n > limit else ""
    held = "; ".join(parts) if parts else "no measurement group"
    return f"{kind}, {len(report.groups)} measurement group(s), {n} measurement(s): {held}{more}"


def require_lesions(report: SrReport, doc: dict[str, Any], assessment: dict[str, Any] | None) -> None:
    """Raise :class:`SrImportError` when :func:`sr_to_read_document` found nothing to import: no
    lesion group and no recorded response (e.g. dcmqi's volumetric organ measurements, an SR of
    another template).  The message says what the report holds and what a read needs."""
    if doc["timepoints"] or assessment:
        return
    where = report.path or f"SR {report.sop_instance_uid}"
    raise SrImportError(
        f"{where}: no lesion measurement groups and no recorded response, no measurement this tool reads, so "
        "there is no read to import. "
        f"It holds: {describe_report(report)}. A read needs Measurement Groups of lesions (a finding that is a "
        "neoplasm, lesion, mass or nodule, or a long axis / length / diameter, as `hcc-imaging export sr` and reader "
        "tools write them); organ measurements (volume, attenuation statistics) are not lesions. Its measurements "
        "are in read_sr(PATH).records() (Python)."
    )


def import_sr_into_store(
    report: SrReport | str | os.PathLike[str],
    store: Any,
    *,
    reader_id: str | None = None,
    patient_id: str | None = None,
    criteria: Sequence[str] | None = None,
) -> Any:
    """Import a TID 1500 report into the study store as a new draft read.

    Goes through the store's public API (:class:`hcc_imaging.study.ReaderSession`
    ``.import_document``), so blinding, transactions and the audit log apply.

    Parameters
    ----------
    store : hcc_imaging.study.Store
    reader_id : str, optional
        The registered reader the read belongs to; default the report's Person Observer, which must
        then be a registered reader's code (a person's name there is refused: pass ``reader_id``).
    patient_id : str, optional
        Override the report's PatientID (e.g. with the store's pseudonym).

    Returns
    -------
    hcc_imaging.study.ReadInfo
    """
    from ..study import ReaderSession
    from ._sr_reader import sr_reader_id

    rep = report if isinstance(report, SrReport) else read_sr(report)
    doc, _ = sr_to_read_document(rep, patient_id=patient_id)
    reader = sr_reader_id(rep, store, reader_id)
    doc["reader_id"] = reader
    require_lesions(rep, doc, None)
    session = ReaderSession(store, reader)
    return session.import_document(doc, criteria=list(criteria) if criteria else None)

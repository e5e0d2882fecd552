"""DICOM SR TID 1500 (Imaging Measurement Report) of a read, with highdicom.

Content (``docs/export.md`` lists every concept and code)
---------------------------------------------------------
* One **measurement group per lesion per time point** (TID 1501 "Measurement and Qualitative
  Evaluation Group"; TID 1411 Volumetric ROI groups forbid the SCOORD3D endpoints a RECIST
  line needs).  When a SEG is given for the time point, the group names the SEG instance as its
  source and shares the Tracking UID with the lesion's segment (TID 4108 tracking);
  - Tracking Identifier (the lesion id, e.g. ``"L1"``) + Tracking Unique Identifier (the
    lesion's tracking UID, stable across time points);
  - Time Point Context (TID 1502): time point id, type (Baseline / Posttreatment), order,
    subject time point identifier, days from baseline;
  - Finding: Neoplasm (a fluid kind: Ascites / Effusion, as the SEG); Finding Site: the organ (Liver) and the Couinaud segment when known;
  - measurements (TID 300) with UCUM units: Long Axis (SCT 103339001) and Short Axis
    (SCT 103340004) in mm, each with its two endpoints as an SCOORD3D POLYLINE in the frame
    of reference and the source image of the measurement slice; viable-tumour diameters
    (local codes), Volume (SCT 118565006) in mm3, viable volume, necrosis fraction;
  - qualitative evaluations: Baseline Category (DCM 112016 = target / non-target, or local
    "New lesion") and the lesion status.
* One group per **criterion per time point** with the response: Response Evaluation Method
  (DCM 112021 = RECIST 1.1 (DCM 126081), WHO (DCM 112029) or a local code), Current Response
  (DCM 112048 = NCIt CR/PR/SD/PD or local NE...), target and non-target responses (DICOM CID
  6144 codes), the sum of diameters and its changes; and one group per criterion with the
  Best Overall Response (DCM 112049), unconfirmed and confirmed.
* Observer context: the reader as Person Observer (pseudonymous id), hcc_imaging as Device
  Observer; algorithm identification (TID 4019) on each lesion group measured by a machine (its
  ``source``, ``NAME VERSION``), on every group when the read is automatic.
* Image Library (TID 1600): the first image of each time point's series with its modality, study
  date and slice thickness (``_sr_roundtrip``), so an import restores them.
* Evidence: the source images of every time point (Current Requested Procedure Evidence for
  the report's study, Pertinent Other Evidence for earlier studies) and the SEGs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import HccImagingError
from . import codes as C
from .constants import LOCAL_CODING_SCHEME, LOCAL_CODING_SCHEME_NAME, MANUFACTURER, SR_SERIES_NUMBER
from .model import ExportRead, LesionObservation, Segment3, TimepointInfo, as_export_read, derived_tracking_uid
from ._sr_roundtrip import add_study_dates, lesion_algorithm, library_images
from .sources import check_timepoint_sources

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from ..volume import Volume
    from .deid import Deidentifier
    from .seg import SegInfo

__all__ = ["SrExportError", "SrInfo", "write_sr", "build_sr", "sr_not_carried"]

_log = logging.getLogger(__name__)

_SUM_CODE = C.SUM_DIAMETERS
_CHANGE_BASELINE = C.CHANGE_FROM_BASELINE
_CHANGE_NADIR = C.CHANGE_FROM_NADIR
_NEW_LESIONS = C.NEW_LESIONS_PRESENT
_YES = C.YES
_NO = C.NO
_DAYS = C.DAYS


class SrExportError(HccImagingError, ValueError):
    """The SR cannot be written as asked (images for several time points not told apart ...)."""


@dataclass(frozen=True, slots=True)
class SrInfo:
    """What :func:`write_sr` wrote."""

    path: Path
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    n_lesion_groups: int
    n_response_groups: int
    #: parts of the read the SR cannot hold (:func:`sr_not_carried`); the read JSON keeps them
    not_carried: tuple[str, ...] = ()


#: Read-document content that changes an assessment but has no place in TID 1500: the day count
#: from the treatment start (SD duration), treatments, tumour markers (clinical CR), liver function.
_READ_KEYS_NOT_IN_SR = ("start_date", "treatments", "markers", "liver_function")
#: Lesion attributes naming other lesions or criteria (split / merge, a role under one criterion).
_LESION_KEYS_NOT_IN_SR = ("split_from", "merged_into", "role_by_criteria")


def sr_not_carried(doc: Any) -> tuple[str, ...]:
    """What of a read document a TID 1500 SR of it does not carry, e.g. ``("start_date",
    "markers (3)", "L3 split_from")``; empty when the SR holds all a response is assessed from.

    The SR holds every time point's lesions with their measurements and the lesion attributes
    the response rules read (``codes.LESION_FLAG_CODES`` ...), so an imported SR assesses as the
    read did, except for what is listed here.
    """
    from .model import ExportRead, document_to_dict

    if isinstance(doc, ExportRead):
        return ()
    d = document_to_dict(doc)
    out: list[str] = []
    for key in _READ_KEYS_NOT_IN_SR:
        v = d.get(key)
        if v:
            out.append(f"{key} ({len(v)})" if isinstance(v, (list, tuple)) else key)
    seen: set[str] = set()
    for tp in d.get("timepoints") or ():
        for les in (tp.get("lesions") if isinstance(tp, Mapping) else None) or ():
            if not isinstance(les, Mapping):
                continue
            for key in _LESION_KEYS_NOT_IN_SR:
                item = f"{les.get('lesion_id')} {key}"
                if les.get(key) and item not in seen:
                    seen.add(item)
                    out.append(item)
    return tuple(out)


def _resolve_per_timepoint(
    value: Any, read: ExportRead, tps: Sequence[TimepointInfo], what: str
) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        unknown = set(value) - {t.timepoint_id for t in read.timepoints}
        if unknown:
            raise SrExportError(
                f"patient {read.patient_id}: {what} given for unknown time point(s) {sorted(unknown)}; "
                f"known: {[t.timepoint_id for t in read.timepoints]}. Key {what} by time point id."
            )
        return dict(value)
    if len(tps) != 1:
        raise SrExportError(
            f"patient {read.patient_id}: one {what} object was given but the report covers "
            f"{len(tps)} time points ({[t.timepoint_id for t in tps]}); it is ambiguous which it "
            f"belongs to. Pass {what}={{timepoint_id: ...}} or timepoints=[one id]."
        )
    return {tps[0].timepoint_id: value}


def _header(path: str | os.PathLike[str]) -> Dataset:
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True)


def _slice_sop(vol: Volume | None, seg: Segment3 | None) -> tuple[str, str] | None:
    """(SOP class, SOP instance) of the source slice holding a measurement line."""
    if vol is None or seg is None or not vol.meta:
        return None
    uids = vol.meta.get("sop_instance_uids")
    if not uids or len(uids) != vol.shape[0]:
        return None  # not the acquired grid (e.g. a reformat): no slice maps to one image
    mid = (np.asarray(seg[0]) + np.asarray(seg[1])) / 2.0
    k = int(round(float(vol.lps_to_index(mid)[0])))
    if not 0 <= k < len(uids):
        return None
    cls = vol.meta.get("sop_class_uid")
    if not cls:
        files = vol.meta.get("source_files")
        cls = str(_header(files[k]).SOPClassUID) if files else "1.2.840.10008.5.1.4.1.1.2"
    return str(cls), str(uids[k])


def _measurement(
    hd: Any,
    name: C.CodeDef,
    value: float,
    unit: C.CodeDef,
    *,
    endpoints: Segment3 | None = None,
    for_uid: str | None = None,
    vol: Volume | None = None,
) -> Any:
    kwargs: dict[str, Any] = {}
    if endpoints is not None and for_uid:
        kwargs["referenced_coordinates"] = [
            hd.sr.CoordinatesForMeasurement3D(
                graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                graphic_data=np.asarray(endpoints, dtype=float),
                frame_of_reference_uid=for_uid,
            )
        ]
        sop = _slice_sop(vol, endpoints)
        if sop is not None:
            kwargs["referenced_images"] = [
                hd.sr.SourceImageForMeasurement(referenced_sop_class_uid=sop[0], referenced_sop_instance_uid=sop[1])
            ]
    return hd.sr.Measurement(name=C.as_code(name), value=float(value), unit=C.as_code(unit), **kwargs)


def _tp_context(hd: Any, tp: TimepointInfo) -> Any:
    offset = None
    # the offset is from the baseline event, not from day 0 (the read's start of treatment)
    days = tp.day_from_baseline if tp.day_from_baseline is not None else tp.day
    if days is not None:
        offset = hd.sr.LongitudinalTemporalOffsetFromEvent(
            value=float(days), unit=C.as_code(_DAYS), event_type=C.as_code(C.BASELINE_TIMEPOINT)
        )
    return hd.sr.TimePointContext(
        time_point=tp.timepoint_id,
        time_point_type=C.as_code(C.BASELINE_TIMEPOINT if tp.is_baseline else C.POSTTREATMENT_TIMEPOINT),
        time_point_order=tp.index + 1,
        subject_time_point_identifier=tp.timepoint_id,
        temporal_offset_from_event=offset,
    )


def _finding_sites(hd: Any, les: LesionObservation) -> list[Any]:
    organ = "lymph_node" if les.is_lymph_node else (les.organ or "liver")
    code = C.organ_code(organ)
    sites = [hd.sr.FindingSite(anatomic_location=C.as_code(code))]
    if les.couinaud_segment and les.couinaud_segment in C.COUINAUD_CODES:
        sites.append(hd.sr.FindingSite(anatomic_location=C.as_code(C.COUINAUD_CODES[les.couinaud_segment])))
    return sites


def _lesion_group(
    hd: Any,
    les: LesionObservation,
    tp: TimepointInfo,
    tracking_uid: str,
    vol: Volume | None,
    for_uid: str | None,
    seg: SegInfo | None,
    algorithm: Any,
) -> Any:
    ms = []
    if les.longest_diameter_mm is not None:
        ms.append(_measurement(hd, C.LONG_AXIS, les.longest_diameter_mm, C.UNIT_MM, endpoints=les.ld_endpoints_lps, for_uid=for_uid, vol=vol))
    if les.short_axis_mm is not None:
        ms.append(_measurement(hd, C.SHORT_AXIS, les.short_axis_mm, C.UNIT_MM, endpoints=les.sa_endpoints_lps, for_uid=for_uid, vol=vol))
    if les.viable_diameter_mm is not None:
        ms.append(_measurement(hd, C.VIABLE_LONG_AXIS, les.viable_diameter_mm, C.UNIT_MM, endpoints=les.viable_endpoints_lps, for_uid=for_uid, vol=vol))
    if les.viable_short_axis_mm is not None:
        ms.append(_measurement(hd, C.VIABLE_SHORT_AXIS, les.viable_short_axis_mm, C.UNIT_MM, endpoints=les.viable_sa_endpoints_lps, for_uid=for_uid, vol=vol))
    if les.volume_mm3 is not None:
        ms.append(_measurement(hd, C.VOLUME, les.volume_mm3, C.UNIT_MM3))
    if les.viable_volume_mm3 is not None:
        ms.append(_measurement(hd, C.VIABLE_VOLUME, les.viable_volume_mm3, C.UNIT_MM3))
    if les.necrosis_fraction is not None:
        ms.append(_measurement(hd, C.NECROSIS_FRACTION, les.necrosis_fraction, C.UNIT_RATIO))
    for name, mm in les.extra_mm:
        ms.append(_measurement(hd, C.LESION_EXTRA_MM_CODES[name], mm, C.UNIT_MM))
    if les.attenuation_hu is not None:
        ms.append(_measurement(hd, C.ATTENUATION, les.attenuation_hu, C.UNIT_HU))
    quals = []
    role = C.ROLE_CODES.get(les.role)
    if role is not None:
        quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.BASELINE_CATEGORY), C.as_code(role)))
    if les.status and les.status in C.STATUS_CODES:
        quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.LESION_STATUS), C.as_code(C.STATUS_CODES[les.status])))
    # the attributes the response rules read, so an imported SR assesses as the read did
    if les.kind and les.kind in C.KIND_CODES and les.kind not in {"lesion", "lymph_node"}:
        quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.LESION_KIND), C.as_code(C.KIND_CODES[les.kind])))
    if les.viable_status and les.viable_status in C.STATUS_CODES:
        quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.VIABLE_STATUS), C.as_code(C.STATUS_CODES[les.viable_status])))
    if les.irecist_category and les.irecist_category in C.IRECIST_CATEGORY_CODES:
        quals.append(hd.sr.QualitativeEvaluation(
            C.as_code(C.IRECIST_CATEGORY), C.as_code(C.IRECIST_CATEGORY_CODES[les.irecist_category])))
    for name, flag in les.flags:
        quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.LESION_FLAG_CODES[name]), C.as_code(_YES if flag else _NO)))
    common: dict[str, Any] = dict(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid, identifier=les.lesion_id[:64]),
        time_point_context=_tp_context(hd, tp),
        finding_type=C.as_code(C.finding_code(les.kind)),  # as the SEG's property type
        finding_sites=_finding_sites(hd, les),
        algorithm_id=algorithm,
        measurements=ms or None,
        qualitative_evaluations=quals or None,
    )
    if seg is not None and les.lesion_id in seg.segments:
        # TID 1411 (Volumetric ROI) forbids SCOORD3D endpoints on its measurements, and the
        # endpoints are the point of a RECIST read, so the group stays TID 1501 and links the
        # SEG two ways: the SEG instance as the group's source, and the same Tracking UID on
        # the SR group and on the SEG segment (DICOM's tracking mechanism, TID 4108).
        common["source_images"] = [
            hd.sr.SourceImageForMeasurementGroup(
                referenced_sop_class_uid=seg.sop_class_uid,
                referenced_sop_instance_uid=seg.sop_instance_uid,
            )
        ]
    return hd.sr.MeasurementsAndQualitativeEvaluations(**common)


def _response_groups(hd: Any, read: ExportRead, tps: Sequence[TimepointInfo], algorithm: Any) -> list[Any]:
    from pydicom.uid import generate_uid

    wanted = {t.timepoint_id for t in tps}
    groups = []
    for crit in read.criteria:
        ccode = C.CRITERIA_CODES.get(crit) or C.CodeDef(crit.upper()[:16], LOCAL_CODING_SCHEME, crit)
        method = hd.sr.QualitativeEvaluation(C.as_code(C.RESPONSE_EVALUATION_METHOD), C.as_code(ccode))
        last_tp = None
        for r in read.responses_for(crit):
            if r.timepoint_id not in wanted:
                continue
            tp = read.timepoint(r.timepoint_id)
            last_tp = tp
            quals = [method]
            if r.response and r.response in C.RESPONSE_CODES:
                quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.CURRENT_RESPONSE), C.as_code(C.RESPONSE_CODES[r.response])))
            if r.target_response:
                code = C.TARGET_RESPONSE_CODES.get(r.target_response) or C.RESPONSE_CODES.get(r.target_response)
                if code is not None:
                    quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.TARGET_RESPONSE), C.as_code(code)))
            if r.non_target_response:
                code = C.NON_TARGET_RESPONSE_CODES.get(r.non_target_response) or C.RESPONSE_CODES.get(r.non_target_response)
                if code is not None:
                    quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.NON_TARGET_RESPONSE), C.as_code(code)))
            if r.new_lesions is not None:
                quals.append(hd.sr.QualitativeEvaluation(C.as_code(_NEW_LESIONS), C.as_code(_YES if r.new_lesions else _NO)))
            ms = []
            unit = C.UNIT_MM2 if r.sum_unit == "mm2" else C.UNIT_MM
            if r.sum_value is not None:
                ms.append(_measurement(hd, _SUM_CODE, r.sum_value, unit))
            if r.change_from_baseline_frac is not None:
                ms.append(_measurement(hd, _CHANGE_BASELINE, r.change_from_baseline_frac, C.UNIT_RATIO))
            if r.change_from_nadir_frac is not None:
                ms.append(_measurement(hd, _CHANGE_NADIR, r.change_from_nadir_frac, C.UNIT_RATIO))
            groups.append(
                hd.sr.MeasurementsAndQualitativeEvaluations(
                    tracking_identifier=hd.sr.TrackingIdentifier(
                        uid=str(generate_uid()), identifier=f"{crit} response {r.timepoint_id}"[:64]
                    ),
                    time_point_context=_tp_context(hd, tp),
                    algorithm_id=algorithm,
                    measurements=ms or None,
                    qualitative_evaluations=quals,
                )
            )
        summ = read.summary_for(crit)
        if summ is not None and (summ.bor_unconfirmed or summ.bor_confirmed):
            quals = [method]
            if summ.bor_unconfirmed in C.RESPONSE_CODES:
                quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.BEST_OVERALL_RESPONSE), C.as_code(C.RESPONSE_CODES[summ.bor_unconfirmed])))
            if summ.bor_confirmed in C.RESPONSE_CODES:
                quals.append(hd.sr.QualitativeEvaluation(C.as_code(C.BEST_OVERALL_RESPONSE_CONFIRMED), C.as_code(C.RESPONSE_CODES[summ.bor_confirmed])))
            groups.append(
                hd.sr.MeasurementsAndQualitativeEvaluations(
                    tracking_identifier=hd.sr.TrackingIdentifier(uid=str(generate_uid()), identifier=f"{crit} best overall response"[:64]),
                    time_point_context=_tp_context(hd, last_tp or tps[-1]),
                    algorithm_id=algorithm,
                    qualitative_evaluations=quals,
                )
            )
    return groups


def _person_name(reader_id: str | None) -> str:
    """PN value for a reader id: a single-component id gets a trailing caret (PS3.5 6.2)."""
    name = str(reader_id or "UNKNOWN^READER")[:60]
    return name if "^" in name else name + "^"


def _seg_evidence(seg: SegInfo, study_uid: str, patient_src: Dataset) -> Dataset:
    """A header stand-in for a SEG in the SR's evidence (in the study of its source images)."""
    from pydicom.dataset import Dataset as _Dataset

    ds = _Dataset()
    for kw in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
               "StudyID", "AccessionNumber", "ReferringPhysicianName"):
        setattr(ds, kw, patient_src.get(kw, ""))
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = seg.series_instance_uid
    ds.SOPInstanceUID = seg.sop_instance_uid
    ds.SOPClassUID = seg.sop_class_uid
    ds.Modality = "SEG"
    return ds


def _synthetic_evidence(read: ExportRead, last: Any = None) -> Dataset:
    """Patient/study stand-in when no image is available (removed from the written SR); its study is
    ``last``'s, the latest time point the SR reports (not the read's latest when ``timepoints=`` is fewer)."""
    from pydicom.dataset import Dataset as _Dataset
    from pydicom.uid import generate_uid

    ds = _Dataset()
    ds.PatientID = read.patient_id
    ds.PatientName = _person_name(read.patient_name or read.patient_id)
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    last = last if last is not None else (read.timepoints[-1] if read.timepoints else None)
    ds.StudyInstanceUID = (last.study_instance_uid if last and last.study_instance_uid else str(generate_uid()))
    ds.StudyDate = last.date.strftime("%Y%m%d") if last and last.date else ""
    ds.StudyTime = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = str(generate_uid())
    ds.SOPInstanceUID = str(generate_uid())
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    return ds


def build_sr(
    doc: Any,
    *,
    assessment: Any = None,
    images: Volume | Mapping[str, Volume] | None = None,
    segs: SegInfo | Mapping[str, SegInfo] | None = None,
    timepoints: Sequence[str] | None = None,
    series_number: int = SR_SERIES_NUMBER,
    series_description: str = "hcc_imaging measurement report",
    final: bool = False,
    link_patient: bool = False,
    deidentifier: Deidentifier | None = None,
) -> tuple[Dataset, int, int]:
    """Build the TID 1500 SR (not de-identified, not written).  See :func:`write_sr`
    (``deidentifier`` only lets a SEG de-identified with its map pass the time-point check).

    Returns
    -------
    (pydicom.Dataset, n_lesion_groups, n_response_groups)
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    from .deid import no_person_name_warnings
    from .seg import derived_frame_of_reference_uid

    read = as_export_read(doc, assessment)
    if not read.timepoints:
        raise SrExportError(f"patient {read.patient_id}: the read has no time points; nothing to report.")
    tps = [read.timepoint(t) for t in timepoints] if timepoints is not None else list(read.timepoints)
    vols: dict[str, Volume] = _resolve_per_timepoint(images, read, tps, "images")
    seg_map: dict[str, SegInfo] = _resolve_per_timepoint(segs, read, tps, "segs")
    check_timepoint_sources(read, vols, seg_map, link_patient=link_patient, deidentifier=deidentifier)

    # evidence: latest time point first, so the report lands in the latest study
    evidence: list[Dataset] = []
    study_of_tp: dict[str, str] = {}
    first_header: dict[str, Dataset] = {}
    for tp in reversed(tps):
        vol = vols.get(tp.timepoint_id)
        if vol is None:
            continue
        files = (vol.meta or {}).get("source_files") or []
        if not files:
            raise SrExportError(
                f"patient {read.patient_id}, time point {tp.timepoint_id}: the image volume has no "
                "meta['source_files'], so the SR cannot reference its images. Load it with "
                "hcc_imaging.io.load_series or leave images= out for this time point."
            )
        heads = [_header(f) for f in files]
        evidence.extend(heads)
        study_of_tp[tp.timepoint_id] = str(heads[0].StudyInstanceUID)
        first_header[tp.timepoint_id] = heads[0]
    for tp in reversed(tps):
        seg = seg_map.get(tp.timepoint_id)
        if seg is None:
            continue
        src = first_header.get(tp.timepoint_id)
        if src is None:
            evidence.append(_header(seg.path))
        else:
            evidence.append(_seg_evidence(seg, study_of_tp[tp.timepoint_id], src))
    synthetic = not evidence
    if synthetic:
        evidence = [_synthetic_evidence(read, tps[-1])]

    tuid = _tracking_uids(read, tps, seg_map, deidentifier)
    algorithm = (
        hd.sr.AlgorithmIdentification(name=str(read.algorithm)[:64], version=__version__)
        if read.algorithm
        else None
    )
    groups: list[Any] = []
    n_lesion = 0
    for tp in tps:
        vol = vols.get(tp.timepoint_id)
        seg = seg_map.get(tp.timepoint_id)
        for_uid = (derived_frame_of_reference_uid(vol) if vol is not None else None) or (
            seg.frame_of_reference_uid if seg else None
        )
        for les in read.lesions_at(tp.timepoint_id):
            groups.append(_lesion_group(hd, les, tp, tuid[les.lesion_id], vol, for_uid, seg,
                                        lesion_algorithm(hd, les, read.reader_id, algorithm)))
            n_lesion += 1
    resp = _response_groups(hd, read, tps, algorithm)
    groups.extend(resp)
    if not groups:
        raise SrExportError(
            f"patient {read.patient_id}: the read has no lesion at time point(s) "
            f"{', '.join(t.timepoint_id for t in tps)} and no response to report, and a TID 1500 measurement "
            "report needs at least one measurement group. Record the lesions (or assess the read for its "
            "responses) before exporting an SR; `hcc-imaging export csv` writes a read without lesions.")

    person = hd.sr.ObserverContext(
        observer_type=C.as_code(C.CodeDef("121006", "DCM", "Person")),
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=_person_name(read.reader_id)
        ),
    )
    device = hd.sr.ObserverContext(
        observer_type=C.as_code(C.CodeDef("121007", "DCM", "Device")),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=str(generate_uid()), name="hcc_imaging", manufacturer_name=MANUFACTURER, model_name=f"hcc_imaging {__version__}"
        ),
    )
    # a read by an algorithm alone (no reader yet) has only the device observer
    ctx = hd.sr.ObservationContext(
        observer_person_context=person if read.reader_id else None, observer_device_context=device
    )
    library = library_images(hd, [first_header[t.timepoint_id] for t in tps if t.timepoint_id in first_header])
    modality = str(evidence[0].get("Modality", "CT"))
    procedure = C.PROCEDURE_CT_ABDOMEN if modality == "CT" else C.PROCEDURE_IMAGING
    report = hd.sr.MeasurementReport(
        observation_context=ctx,
        procedure_reported=C.as_code(procedure),
        imaging_measurements=groups or None,
        # TID 1600: each time point's modality, study date, slice thickness (_sr_roundtrip)
        referenced_images=library or None,
    )
    with no_person_name_warnings():  # highdicom's name check would print the PatientName
        sr = hd.sr.Comprehensive3DSR(
            evidence=evidence,
            content=report,
            series_instance_uid=str(generate_uid()),
            series_number=int(series_number),
            sop_instance_uid=str(generate_uid()),
            instance_number=1,
            manufacturer=MANUFACTURER,
            is_complete=True,
            is_final=bool(final),
            is_verified=False,
            record_evidence=not synthetic,
        )
    add_study_dates(hd, sr, library)
    sr.SeriesDescription = series_description[:64]
    sr.SoftwareVersions = __version__
    _add_local_scheme(sr)
    if synthetic:
        for kw in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
            if kw in sr:
                delattr(sr, kw)
    return sr, n_lesion, len(resp)


def _tracking_uids(read: ExportRead, tps: Sequence[TimepointInfo], seg_map: Mapping[str, SegInfo],
                   deidentifier: Deidentifier | None = None) -> dict[str, str]:
    """Lesion id -> the Tracking UID of its groups at every time point of the report.

    The read's own UID; for a lesion whose UID the read does not record (derived, the one
    ``export seg --read`` and the batch give its segments) the UID of its segment in the first
    given SEG that has it (a SEG written without the read); else the derived one.  A SEG segment
    with another UID than the SR group of the same lesion breaks the link (TID 1500 tracking):
    warned, naming the SEG and how to write it with the read's UIDs.  With ``deidentifier`` (the SR is
    de-identified after it is built) a SEG de-identified with the same map holds the mapped UIDs: a
    segment's UID that is the mapping of the SR group's matches it (the written SR holds that UID too).
    """

    def same(seg_uid: str, sr_uid: str) -> bool:
        return seg_uid == sr_uid or (deidentifier is not None and seg_uid == deidentifier.uid(sr_uid))

    out: dict[str, str] = {}
    for les in read.lesions:
        if les.tracking_uid and not les.tracking_uid_derived:
            out.setdefault(les.lesion_id, str(les.tracking_uid))
    for tp in tps:
        seg = seg_map.get(tp.timepoint_id)
        for les in read.lesions_at(tp.timepoint_id) if seg is not None else ():
            if les.lesion_id in seg.tracking_uids:
                out.setdefault(les.lesion_id, str(seg.tracking_uids[les.lesion_id]))
    for les in read.lesions:
        out.setdefault(les.lesion_id, str(les.tracking_uid or derived_tracking_uid(read, les.lesion_id)))
    for tp in tps:
        seg = seg_map.get(tp.timepoint_id)
        if seg is None:
            continue
        other = sorted({les.lesion_id for les in read.lesions_at(tp.timepoint_id)
                        if les.lesion_id in seg.tracking_uids and not same(str(seg.tracking_uids[les.lesion_id]),
                                                                             out[les.lesion_id])})
        if other:
            _log.warning(
                "patient %s, time point %s: the SEG %s gives lesion(s) %s another Tracking UID than the SR "
                "(the read's, or another time point's SEG's), so the SR groups and these segments are not linked "
                "as one finding. Write the SEG with the read's UIDs: hcc-imaging export seg ... --read READ.json.",
                read.patient_id, tp.timepoint_id, Path(seg.path).name, ", ".join(other),
            )
    return out


def _add_local_scheme(sr: Dataset) -> None:
    """Declare our private coding scheme (PS3.3 C.12.1 Coding Scheme Identification)."""
    from pydicom.dataset import Dataset as _Dataset
    from pydicom.sequence import Sequence as _Sequence

    items = list(sr.get("CodingSchemeIdentificationSequence", []))
    if any(str(i.get("CodingSchemeDesignator")) == LOCAL_CODING_SCHEME for i in items):
        return
    item = _Dataset()
    item.CodingSchemeDesignator = LOCAL_CODING_SCHEME
    item.CodingSchemeName = LOCAL_CODING_SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = "hcc_imaging project"
    items.append(item)
    sr.CodingSchemeIdentificationSequence = _Sequence(items)


def write_sr(
    doc: Any,
    path: str | os.PathLike[str],
    *,
    assessment: Any = None,
    images: Volume | Mapping[str, Volume] | None = None,
    segs: SegInfo | Mapping[str, SegInfo] | None = None,
    timepoints: Sequence[str] | None = None,
    deidentifier: Deidentifier | None = None,
    series_number: int = SR_SERIES_NUMBER,
    series_description: str = "hcc_imaging measurement report",
    final: bool = False,
    link_patient: bool = False,
) -> SrInfo:
    """Write a read (all or some time points) as a DICOM Comprehensive 3D SR, TID 1500.

    Parameters
    ----------
    doc : ReadDocument, dict, JSON path, or ExportRead
        The read document.
    path : path
        Output file (written atomically).
    assessment : optional
        Response assessment to record (``Assessment.to_json()``, ``assess --json`` output).
    images : Volume or {timepoint_id: Volume}, optional
        Source image volumes (loaded by :func:`hcc_imaging.io.load_series`, so that
        ``meta["source_files"]`` and ``meta["sop_instance_uids"]`` are set).  Gives the frame
        of reference for the SCOORD3D endpoints, the evidence and the image references.  A
        single Volume is accepted only for a one-time-point report.
    segs : SegInfo or {timepoint_id: SegInfo}, optional
        The SEG written by :func:`~hcc_imaging.export.seg.write_seg` for a time point; the
        lesion groups then reference their segments (Volumetric ROI groups).
    timepoints : list of str, optional
        Report only these time points (default all).
    deidentifier : Deidentifier, optional
        De-identify the SR (PS3.15 basic profile) with this map.
    final : bool
        PreliminaryFlag FINAL (a locked read) instead of PRELIMINARY (a draft).  The report
        stays UNVERIFIED: verification is a signed act of a named observer, outside this tool.
    link_patient : bool
        The read's patient id is another id (a pseudonym) of the images' patient, and its dates
        may be shifted: they are not compared with the images' and SEGs' StudyDate (without it,
        images of another patient than the read's are refused: :class:`~hcc_imaging.export.
        patient_check.PatientMismatchError`).

    Returns
    -------
    SrInfo

    Raises
    ------
    PatientMismatchError
        The images are of another patient than the read's (a :class:`TimepointSourceError`;
        :func:`~hcc_imaging.export.patient_check.check_same_patient`).
    TimepointSourceError
        The images or a SEG given for a time point are of a study of another date than the
        time point's, or a SEG was drawn on another series than the time point's images
        (:func:`~hcc_imaging.export.sources.check_timepoint_sources`).

    Notes
    -----
    Without images, measurement groups carry values but no endpoints (the SCOORD3D needs a
    frame of reference) and the SR is placed in the read's latest study (or a new one).
    """
    from .deid import atomic_dcmwrite, deidentify_dataset

    read = as_export_read(doc, assessment)
    sr, n_les, n_resp = build_sr(
        read,
        images=images,
        segs=segs,
        timepoints=timepoints,
        series_number=series_number,
        series_description=series_description,
        final=final,
        link_patient=link_patient,
        deidentifier=deidentifier,
    )
    if deidentifier is not None:
        if str(sr.PatientID).strip() and str(sr.PatientID) != read.patient_id:  # (an empty id is no one's)
            deidentifier.link(read.patient_id, str(sr.PatientID))
        from .deid_timepoints import timepoint_map

        # neutral time point ids numbered in the read's time order (the SR's texts get them)
        timepoint_map(deidentifier, read.patient_id, [t.timepoint_id for t in read.timepoints])
        sr = deidentify_dataset(sr, deidentifier, patient_id=read.patient_id)
    written = atomic_dcmwrite(sr, path)
    dropped = sr_not_carried(doc)
    if dropped:
        _log.warning(
            "%s: a DICOM SR has no place for %s of the read; they stay in the read document (JSON), "
            "so keep it with the SR: an import of the SR alone assesses without them.",
            written.name, ", ".join(dropped),
        )
    return SrInfo(
        path=written,
        sop_instance_uid=str(sr.SOPInstanceUID),
        series_instance_uid=str(sr.SeriesInstanceUID),
        study_instance_uid=str(sr.StudyInstanceUID),
        n_lesion_groups=n_les,
        n_response_groups=n_resp,
        not_carried=dropped,
    )



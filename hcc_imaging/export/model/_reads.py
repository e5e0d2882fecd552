"""The entry points: an :class:`ExportRead` from a read document (+ assessment), from several, or
from measurements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._document import _parse_document, document_to_dict
from ._fields import _date, _num, _segment
from ._records import ExportInputError, ExportRead, LesionObservation, Segment3, TimepointInfo
from ._tracking import with_tracking_uids


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

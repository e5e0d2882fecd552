"""The check that the images and SEGs given for a read's time points are of those time points.

An SR files the report under the latest time point's study and places each time point's lines on
the images given for it; a report draws each time point's lines on its images.  A swapped
``images={"BL": <FU1 CT>, "FU1": <BL CT>}`` (or a SEG of another time point) gave a wrong SR or
report without a word.  :func:`check_timepoint_sources` is the one check; :func:`~hcc_imaging.
export.sr.write_sr` (so the napari writers and ``batch --export-sr``), :func:`~hcc_imaging.
export.report.write_report` and ``hcc-imaging export sr`` / ``export report`` run it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import HccImagingError

if TYPE_CHECKING:  # pragma: no cover
    from ..volume import Volume
    from .deid import Deidentifier
    from .seg import SegInfo

__all__ = ["TimepointSourceError", "check_timepoint_sources"]


class TimepointSourceError(HccImagingError, ValueError):
    """Images or a SEG given for a time point are of another scan than the read's time point."""


def _yyyymmdd(value: Any) -> str:
    s = str(value or "").strip().replace("-", "")[:8]
    return s if len(s) == 8 and s.isdigit() else ""


def check_timepoint_sources(
    doc: Any,
    images: Mapping[str, Volume] | None = None,
    segs: Mapping[str, SegInfo] | None = None,
    *,
    link_patient: bool = False,
    deidentifier: Deidentifier | None = None,
    product: str = "SR",
    cli: bool = False,
) -> None:
    """Refuse images or a SEG given for the wrong time point of a read.

    A time point's date in the read must equal the StudyDate of its images
    (``Volume.meta["study_date"]``, as :func:`hcc_imaging.io.load_series` sets it) and of its
    SEG (``SegInfo.study_date``) when both are known, and a SEG must be drawn on the series given
    as that time point's images.  A SEG de-identified with ``deidentifier``'s map has the shifted
    date and the mapped series UID of its images, and is accepted.

    Parameters
    ----------
    doc : read document
        ReadDocument, dict, JSON path or ExportRead.
    images : {timepoint_id: Volume}, optional
        The images given per time point.
    segs : {timepoint_id: SegInfo}, optional
        The SEGs given per time point.
    link_patient : bool
        The read's patient id is another id (a pseudonym) of the images' patient, whose dates may
        be shifted: the dates are not compared (the SEG's series still is).
    deidentifier : Deidentifier, optional
        The map the export de-identifies with (a SEG already de-identified with it passes).
    product : str
        What is being written, for the message (``"SR"``, ``"report"``).
    cli : bool
        Word the messages with ``hcc-imaging export``'s flags (``--images TP=...``, ``--seg``).

    Raises
    ------
    PatientMismatchError
        (a :class:`TimepointSourceError`) the images are of another patient than the read's
        (:func:`~hcc_imaging.export.patient_check.check_same_patient`; ``link_patient`` lets them pass).
    TimepointSourceError
        Naming the time point, both dates (or series) and what to pass instead.
    """
    from .model import as_export_read

    read = as_export_read(doc)
    dates = {t.timepoint_id: t.date.strftime("%Y%m%d") for t in read.timepoints if t.date}

    def hint(tp: str, got: str) -> str:
        others = sorted(t for t, d in dates.items() if d == got and t != tp)
        return f" (the date of time point {', '.join(others)})" if others else ""

    vols = dict(images or {})
    from .patient_check import check_same_patient  # (it imports this module's error)

    check_same_patient(read.patient_id, {(f"--images {tp}" if cli else f"the images given for time point {tp!r}"): v
                                         for tp, v in vols.items()}, link_patient=link_patient, cli=cli)
    for tp, vol in vols.items():
        got = _yyyymmdd((vol.meta or {}).get("study_date"))
        if link_patient or not got or tp not in dates or got == dates[tp]:
            continue
        if cli:
            raise TimepointSourceError(
                f"--images {tp}=...: the images are of a study of {got}{hint(tp, got)}, but time point {tp!r} of the "
                f"read is of {dates[tp]}: the {product} would place {tp}'s measurements on another scan. Give each "
                f"time point its own images (--images {tp}=<the series of {dates[tp]}>).")
        raise TimepointSourceError(
            f"patient {read.patient_id}: the images given for time point {tp!r} (series {vol.series_instance_uid}) "
            f"are of a study of {got}{hint(tp, got)}, but time point {tp!r} of the read is of {dates[tp]}: the "
            f"{product} would place {tp}'s measurements on another scan. Give each time point its own images "
            f"(images={{{tp!r}: <the series of {dates[tp]}>}}); for a pseudonymous read whose dates are shifted, "
            "pass link_patient=True.")
    for tp, seg in dict(segs or {}).items():
        got = _yyyymmdd(seg.study_date)
        # (the map is asked for the shift only when the dates differ)
        if not link_patient and got and tp in dates and got != dates[tp] \
                and (deidentifier is None or got != deidentifier.shift_da(dates[tp], read.patient_id)):
            if cli:
                raise TimepointSourceError(
                    f"--seg {tp}={seg.path}: the SEG is of a study of {got}{hint(tp, got)}, but time point {tp!r} of "
                    f"the read is of {dates[tp]}. Give each time point the SEG drawn on its images (--seg "
                    f"{tp}=<SEG of {dates[tp]}>).")
            raise TimepointSourceError(
                f"patient {read.patient_id}: the SEG given for time point {tp!r} ({seg.path}) is of a study of "
                f"{got}{hint(tp, got)}, but time point {tp!r} of the read is of {dates[tp]}. Give each time point the "
                f"SEG drawn on its images (segs={{{tp!r}: <SEG of {dates[tp]}>}}).")
        vol = vols.get(tp)
        if vol is None or not seg.source_series_instance_uid or not vol.series_instance_uid:
            continue
        series = str(vol.series_instance_uid)
        if seg.source_series_instance_uid == series or (
                deidentifier is not None and seg.source_series_instance_uid == deidentifier.uid(series)):
            continue
        if cli:
            raise TimepointSourceError(
                f"--seg {tp}={seg.path} was drawn on series {seg.source_series_instance_uid}, but --images {tp} is "
                f"series {series}: its segments would be linked to measurements on other images. Give the SEG drawn "
                f"on these images, or as --images {tp} the series the SEG was drawn on (--series-uid {tp}=UID chooses "
                "a series of a folder).")
        raise TimepointSourceError(
            f"patient {read.patient_id}: the SEG given for time point {tp!r} ({seg.path}) was drawn on series "
            f"{seg.source_series_instance_uid}, but the images given for {tp!r} are series {series}: its segments "
            f"would be linked to measurements on other images. Give the SEG drawn on these images, or as "
            f"images[{tp!r}] the series the SEG was drawn on.")

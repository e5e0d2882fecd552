"""The dates that put a patient's studies in order, and what the batch says when they cannot.

A patient's time points are its studies in date order: the earliest is the baseline every
response is measured against.  A study without a StudyDate (DICOM type 2: a de-identification
that blanked it, a broken export) sorted first, as ``""``, and silently became the baseline.

* :func:`study_order_date`: a study without a valid StudyDate is dated from its image series'
  SeriesDate, else AcquisitionDate, else ContentDate (``SeriesInfo.series_date``), with a note
  the driver logs once per study (:func:`warn_dated_from_series`).  Its SEG / RTSTRUCT / SR
  series are not used: their dates are the day they were made.
* :func:`annotated_study_date`: the date ``annotations.json`` gives a study (``study_dates``:
  StudyInstanceUID → date) wins over every DICOM date: the manual order for an archive whose
  dates were removed, shifted apart or are wrong.
* :func:`order_failure`: a patient with a study that has no date at all, or with two studies on
  one date, cannot be ordered: one failures.csv row naming the studies (UID and folder) and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

log = logging.getLogger("hcc_imaging.batch.pipeline")

__all__ = ["DATE_NOTE", "STUDY_DATES_KEY", "annotated_study_date", "dated_record", "is_dicom_date", "order_failure",
           "study_order_date", "warn_dated_from_series"]

#: ``StudyTask.extra`` key of the note of a study dated from its series (:func:`study_order_date`).
DATE_NOTE = "date_note"

#: ``annotations.json`` key: StudyInstanceUID → the date to order the study by (``YYYY-MM-DD`` or
#: ``YYYYMMDD``), which wins over its DICOM dates (:func:`annotated_study_date`).
STUDY_DATES_KEY = "study_dates"

_FIX_DATE = ("set the StudyDate (0008,0020) of the study's files to the day of the scan (e.g. `dcmodify -i "
             "\"(0008,0020)=YYYYMMDD\" FILES`, or export the study again with its dates; shifted dates of a "
             "de-identified copy are fine as long as they keep the studies' order), or give it in the patient's "
             f"annotations.json: \"{STUDY_DATES_KEY}\": {{\"<StudyInstanceUID>\": \"YYYY-MM-DD\"}} (a folder or zip "
             "SOURCE)")


def is_dicom_date(value: Any) -> bool:
    """Whether ``value`` is a DICOM DA value the batch can order by (``YYYYMMDD``)."""
    v = str(value or "").strip()
    return len(v) == 8 and v.isdigit()


def study_order_date(study_date: str, series: Iterable[Any], is_image: Callable[[Any], bool],
                     where: str) -> tuple[str, str | None]:
    """The date a study is ordered by, and a note when it is not its StudyDate.

    ``series``: the study's :class:`~hcc_imaging.io.SeriesInfo` (``series_date`` is the series'
    SeriesDate, else AcquisitionDate, else ContentDate); ``is_image`` picks the image series;
    ``where`` names the study (UID and folder) in the note.  Returns ``(study_date, None)`` when
    it is a valid date, ``(earliest image series date, note)`` when only the series are dated,
    ``("", None)`` when nothing is (the patient's read then fails, :func:`order_failure`).
    """
    if is_dicom_date(study_date):
        return str(study_date).strip(), None
    dates = sorted({str(se.series_date).strip() for se in series if is_image(se) and is_dicom_date(se.series_date)})
    if not dates:
        return "", None
    what = f"StudyDate {str(study_date).strip()!r} is no date (YYYYMMDD)" if str(study_date or "").strip() \
        else "no StudyDate"
    several = (f" (its series carry {len(dates)} dates, {', '.join(dates)}: the earliest is used)"
               if len(dates) > 1 else "")
    note = (f"study {where}: {what}; dated {dates[0]} from its image series' SeriesDate / AcquisitionDate / "
            f"ContentDate{several}, to order it among the patient's studies. If that is not the day of the scan, "
            f"{_FIX_DATE}.")
    return dates[0], note


def annotated_study_date(study_uid: str, annotations: Mapping[str, Any], files: Sequence[str], dicom_date: str,
                         where: str) -> tuple[str | None, str | None]:
    """``(date, note)`` the annotations give study ``study_uid`` (``study_dates``), ``(None, None)``
    when they give none.  ``dicom_date``: the date it would be ordered by otherwise
    (:func:`study_order_date`), named in the note when it differs; ``files`` name the annotation
    files in messages.

    Raises
    ------
    ValueError
        The annotations' ``study_dates`` is not an object, or its value for the study is no date:
        the message names the files, the study and the fix.
    """
    import datetime as dt

    given = annotations.get(STUDY_DATES_KEY)
    if given is None:
        return None, None
    named = ", ".join(files) or "annotations.json"
    if not isinstance(given, Mapping):
        raise ValueError(f"{named}: {STUDY_DATES_KEY!r} must be an object of StudyInstanceUID -> date "
                         f"(\"YYYY-MM-DD\"), not {type(given).__name__}. Fix the file.")
    if study_uid not in given:
        return None, None
    raw = str(given[study_uid]).strip()
    try:
        day = dt.date.fromisoformat(raw) if "-" in raw else (
            dt.datetime.strptime(raw, "%Y%m%d").date() if is_dicom_date(raw) else None)
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"{named}: {STUDY_DATES_KEY} gives study {where} the date {given[study_uid]!r}, which is no "
                         "date. Fix: write it as \"YYYY-MM-DD\" (or YYYYMMDD), or remove the entry to use the "
                         "study's DICOM dates.")
    date = day.strftime("%Y%m%d")
    if date == str(dicom_date or "").strip():
        return date, None
    was = f"its DICOM date {dicom_date}" if dicom_date else "it has no DICOM date"
    return date, (f"study {where}: dated {date} by {named} ({STUDY_DATES_KEY}; {was}), to order it among the "
                  "patient's studies.")


def warn_dated_from_series(tasks: Iterable[Any]) -> None:
    """Log, once per study, the note of each task dated from its series (:func:`study_order_date`)."""
    for t in tasks:
        note = (t.extra or {}).get(DATE_NOTE)
        if note:
            log.warning("%s", note)


def dated_record(rec: dict[str, Any], study_date: str) -> dict[str, Any]:
    """A stored record (``--resume``) given its task's ``study_date`` when it has none: stored before
    a study without a StudyDate was dated from its series (:func:`study_order_date`), it would still
    sort first as ``""`` and be read as the baseline (its content key did not change)."""
    if not str(rec.get("study_date") or "").strip() and study_date:
        return {**rec, "study_date": study_date}
    return rec


def _named(rec: Mapping[str, Any]) -> str:
    where = rec.get("root") or ""
    return f"{rec['study_instance_uid']}" + (f" ({where})" if where else "")


def order_failure(patient_id: str, every: Sequence[Mapping[str, Any]],
                  measured: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The failures.csv row (step ``date``) of a patient whose studies cannot be put in order, else None.

    ``every``: the patient's study records (failed ones too: a failed study without a date may be
    its baseline); ``measured``: the successful ones, the read's time points.  A study without any
    date (:func:`study_order_date` found none) cannot be placed before or after the others (nor a
    lone study in time); two measured studies on one date cannot be two time points of one read.
    """
    undated = [r for r in every if not is_dicom_date(r.get("study_date"))]
    if undated:
        first = undated[0]
        n = len(every)
        reason = (
            f"patient {patient_id}: study {'; study '.join(_named(r) for r in undated)} has no date (no StudyDate, "
            "SeriesDate, AcquisitionDate or ContentDate), so "
            + ("its time point cannot be placed in time" if n == 1 else
               f"it cannot be put in order among the patient's {n} studies: which one is the baseline is unknown")
            + ". The patient's studies are measured (lesions.csv) but not assessed. Fix: " + _FIX_DATE
            + "; or leave the study out of SOURCE. Then run again with --resume.")
        return {"patient_id": patient_id, "study_instance_uid": first["study_instance_uid"], "study_date": "",
                "step": "date", "reason": reason, "root": first.get("root") or ""}
    by_date: dict[str, list[Mapping[str, Any]]] = {}
    for r in measured:
        by_date.setdefault(str(r["study_date"]).strip(), []).append(r)
    same = {d: rs for d, rs in by_date.items() if len(rs) > 1}
    if not same:
        return None
    date, recs = min(same.items())
    reason = (
        f"patient {patient_id}: studies {' and '.join(_named(r) for r in recs)} are "
        f"{'both' if len(recs) == 2 else 'all'} dated {date}"
        + (f" (and {len(same) - 1} more date(s) shared by several studies)" if len(same) > 1 else "")
        + ": two time points of one read cannot share a date (the response needs them in order), so the patient "
        "is not assessed (its studies are measured, lesions.csv). Fix: if they are one exam split into several "
        "studies, give their files one StudyInstanceUID (or put the series to measure in one study); if they are "
        "different exams, correct the StudyDate (0008,0020) of the wrong one; or leave one out of SOURCE. Then run "
        "again with --resume.")
    return {"patient_id": patient_id, "study_instance_uid": recs[0]["study_instance_uid"], "study_date": date,
            "step": "date", "reason": reason, "root": recs[0].get("root") or ""}

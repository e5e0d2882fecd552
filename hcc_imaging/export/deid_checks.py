"""Refusals and extra cleaning of the de-identification (:mod:`hcc_imaging.export.deid`).

* :func:`refuse_link`: two ids that each have a pseudonym of their own are never merged
  (``Deidentifier.link``); :func:`check_one_patient`: ``export images --patient-id`` never gives
  the images of several PatientIDs one pseudonym.
* :func:`not_shareable`: objects the basic profile cannot make safe (an Encapsulated PDF/CDA
  document, pixels with burned-in text) are not copied, with the reason.
* :func:`clean_file_meta`: the file meta header (group 0002) is cleaned as the dataset is.
* :func:`set_created_dates`: the creation dates of a SEG / SR made at export time are not
  "real export day + shift" (which, beside any real date, gives the shift away).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._phi import shown_id
from .deid import DeidentificationError

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from .deid import Deidentifier

__all__ = [
    "PatientLinkError",
    "refuse_link",
    "check_one_patient",
    "not_shareable",
    "ENCAPSULATED_DOCUMENT_SOP_CLASSES",
    "clean_file_meta",
    "CREATED_DATE_KEYWORDS",
    "set_created_dates",
]


class PatientLinkError(DeidentificationError):
    """Two patient ids cannot be given one pseudonym (each has one of its own, or a
    ``--patient-id`` would merge images of several patients)."""


def refuse_link(deid: Deidentifier, id_a: str, id_b: str, key_a: str, key_b: str) -> None:
    """Raise :class:`PatientLinkError`: ``id_a`` and ``id_b`` (keys ``key_a``, ``key_b`` in the
    map) each have a pseudonym of their own; the message names both and what to do."""
    pa, pb = (deid._patients[k]["pseudonym"] for k in (key_a, key_b))
    where = f"the pseudonym map {deid.map_path}" if deid.map_path is not None else "the pseudonym map"
    raise PatientLinkError(
        f"cannot link patient ids {shown_id(id_a)} and {shown_id(id_b)}: each already has a pseudonym of its own in "
        f"{where} ({pa} and {pb}, each with its own date shift, given to earlier exports). Merging them would leave "
        f"the files exported as one of them with a pseudonym and dates the map no longer relates to the patient, and free "
        f"that pseudonym for another patient; nothing was changed. If the two ids are one person, export this "
        f"patient's data again with a new pseudonym map (--pseudonym-map NEW.json), linking the ids first (export sr / "
        f"seg --link-patient, export images --patient-id) and delete the earlier exports; if they are two people, "
        f"the read and the images do not belong together.")


def check_one_patient(sources: Iterable[str | os.PathLike[str]], patient_id: str, deid: Deidentifier) -> None:
    """Refuse ``patient_id`` (``export images --patient-id``) for files of several PatientIDs:
    it would give different patients one pseudonym and one date shift, and alias every real id
    to it in the map for all later exports.  Also links ``patient_id`` to the files' one
    PatientID up front, so a refused link (:func:`refuse_link`) stops the run before any copy."""
    import pydicom

    ids: set[str] = set()
    for src in sources:
        try:
            ds = pydicom.dcmread(src, stop_before_pixels=True, specific_tags=["PatientID"])
        except Exception:  # noqa: BLE001 - not DICOM / unreadable: deidentify_files skips it with the reason
            continue
        pid = str(ds.get("PatientID", "") or "").strip()
        if pid:
            ids.add(pid)
    if len(ids) > 1:
        shown = ", ".join(shown_id(i) for i in sorted(ids)[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        raise PatientLinkError(
            f"--patient-id {shown_id(patient_id)} is given for the images of {len(ids)} different PatientIDs "
            f"({shown}): it would give different patients one pseudonym and one date shift, and keep each real id as an alias of "
            "it for every later export. Nothing was copied. Export each patient's images in a run of its own (with "
            "its own --patient-id, or none: each file's PatientID keys its pseudonym).")
    if ids:
        only = next(iter(ids))
        if only != patient_id:
            deid.link(patient_id, only)


#: Encapsulated PDF, CDA, STL, OBJ, MTL Storage (PS3.4 B.5): a whole document (a report, with
#: the patient's name, ids and dates) the attribute profile cannot reach.
ENCAPSULATED_DOCUMENT_SOP_CLASSES: frozenset[str] = frozenset(
    {f"1.2.840.10008.5.1.4.1.1.104.{k}" for k in range(1, 6)})


def not_shareable(ds: Dataset) -> str | None:
    """Why ``ds`` cannot be de-identified by the basic profile as applied here (None when it can)."""
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class in ENCAPSULATED_DOCUMENT_SOP_CLASSES or "EncapsulatedDocument" in ds:
        mime = str(ds.get("MIMETypeOfEncapsulatedDocument", "") or "a document")
        return (f"an encapsulated document ({mime}): its content (a report, with names, ids and real dates) is not "
                "de-identified by this tool, so it is not copied; share a de-identified version of the document by "
                "other means, or leave it out")
    if str(ds.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        return ("BurnedInAnnotation YES: the pixels carry burned-in text (names, ids, dates) that the profile does "
                "not remove, so it is not copied; mask the text in the pixels first (then set BurnedInAnnotation NO), "
                "or leave the image out")
    return None


def clean_file_meta(ds: Dataset, deid: Deidentifier) -> None:
    """Clean the file meta header (group 0002) as the dataset: the AE titles of the sender and
    source (they name the site's machines) and the private information (anything) are removed,
    the creator's UID is mapped; the SOP Instance UID follows the dataset's."""
    fm = getattr(ds, "file_meta", None)
    if fm is None:
        return
    for kw in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle", "ReceivingApplicationEntityTitle",
               "PrivateInformationCreatorUID", "PrivateInformation", "SourcePresentationAddress",
               "SendingPresentationAddress", "ReceivingPresentationAddress"):
        if kw in fm:
            delattr(fm, kw)
    if "SOPInstanceUID" in ds:
        fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


#: Dates (DA) and date-times (DT) that say when an object was made, not when its images were
#: acquired (the SEG's ContributingEquipmentSequence has the ContributionDateTime of the export).
CREATED_DATE_KEYWORDS: tuple[str, ...] = ("ContentDate", "InstanceCreationDate", "SeriesDate", "ContributionDateTime")

#: Objects made after the scan, at export time (their creation dates are the export day).
_DERIVED_MODALITIES = frozenset({"SEG", "SR"})


def set_created_dates(ds: Dataset) -> None:
    """Give a de-identified SEG / SR (dates shifted already) creation dates that do not encode the
    shift: the object's (shifted) StudyDate, times of day kept.  Its ContentDate /
    InstanceCreationDate / ContributionDateTime was the real day of export; shifted, it was
    "export day + shift", and anyone who knows the day of export (a report's "generated on", a
    file's mtime, an e-mail) had the shift, and so every real date.  Without a StudyDate they are
    emptied (InstanceCreationDate and ContributionDateTime, type 3, removed)."""
    is_derived = str(ds.get("Modality", "") or "") in _DERIVED_MODALITIES or "ContentSequence" in ds
    if not is_derived:
        return
    study = str(ds.get("StudyDate", "") or "").strip()
    for item in _datasets(ds):
        for kw in CREATED_DATE_KEYWORDS:
            if kw not in item:
                continue
            value = str(item[kw].value or "")
            if study:
                setattr(item, kw, study + value[8:] if item[kw].VR == "DT" else study)
            elif kw in ("InstanceCreationDate", "ContributionDateTime"):
                delattr(item, kw)
            else:
                setattr(item, kw, "")


def _datasets(ds: Dataset) -> list[Dataset]:
    """``ds`` and every item of its sequences (not the SR content tree: no creation dates there)."""
    out = [ds]
    for elem in ds:
        if elem.VR == "SQ" and elem.keyword != "ContentSequence":
            for item in elem.value:
                out.extend(_datasets(item))
    return out

"""De-identification of DICOM objects and files with a :class:`~.deid.Deidentifier`: the profile's
walk over a dataset (:mod:`._deid_profile`), one dataset, one file, a set of files into a folder.
Every public name here is importable from :mod:`.deid` too."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .._atomic import atomic_write
from ._deid_profile import (
    _KEEP_UID_KEYWORDS,
    _REGISTRY_UID_PREFIXES,
    _REMOVED_TEXT,
    BASIC_PROFILE_ACTIONS,
    FREE_TEXT_VRS,
    KEPT_TEXT_CONCEPTS,
    KEPT_TEXT_KEYWORDS,
    DeidentificationError,
)

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from .deid import Deidentifier


def _is_registry_uid(value: str) -> bool:
    from pydicom.uid import UID_dictionary

    return value in UID_dictionary or value.startswith(_REGISTRY_UID_PREFIXES)


def _concept(item: Dataset) -> tuple[str, str] | None:
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return None
    c = seq[0]
    scheme = str(c.get("CodingSchemeDesignator", ""))
    return (str(c.get("CodeValue", c.get("LongCodeValue", ""))), "SCT" if scheme == "SRT" else scheme)


def _walk(ds: Dataset, deid: Deidentifier, pid: str, done: bool = False) -> None:
    from pydicom.multival import MultiValue

    from .deid_timepoints import sr_text

    for elem in list(ds):
        if elem.tag.is_private:
            del ds[elem.tag]
            continue
        kw = elem.keyword
        action = BASIC_PROFILE_ACTIONS.get(kw)
        if elem.VR == "SQ":
            if action == "X":
                del ds[elem.tag]
                continue
            for item in elem.value:
                _walk(item, deid, pid, done)
            continue
        if action == "X":
            del ds[elem.tag]
            continue
        if action == "Z":
            elem.value = ""
            continue
        if action == "D":
            if elem.value in (None, ""):
                continue
            if kw == "PatientName":
                elem.value = deid.pseudonym(pid, deidentified=done)
            elif kw in {"PatientID", "ClinicalTrialSubjectID"}:
                elem.value = deid.pseudonym(pid, deidentified=done)
            elif elem.VR == "PN":
                elem.value = deid.reader(str(elem.value), deidentified=done)
            else:
                elem.value = deid.dummy(kw, str(elem.value))
            continue
        if elem.VR == "UI" and elem.value not in (None, ""):
            if kw in _KEEP_UID_KEYWORDS and action != "U":
                continue
            vals = elem.value if isinstance(elem.value, MultiValue) else [elem.value]
            new = [v if _is_registry_uid(str(v)) else deid.uid(str(v)) for v in vals]
            elem.value = new if isinstance(elem.value, MultiValue) else new[0]
            continue
        if elem.VR == "DA" and elem.value not in (None, ""):
            vals = elem.value if isinstance(elem.value, MultiValue) else [elem.value]
            new = [deid.shift_da(str(v), pid, deidentified=done) for v in vals]
            elem.value = new if isinstance(elem.value, MultiValue) else new[0]
            continue
        if elem.VR == "DT" and elem.value not in (None, ""):
            vals = elem.value if isinstance(elem.value, MultiValue) else [elem.value]
            new = [deid.shift_dt(str(v), pid, deidentified=done) for v in vals]
            elem.value = new if isinstance(elem.value, MultiValue) else new[0]
            continue
        if elem.VR == "PN" and elem.value not in (None, ""):
            # a person name not in the table: never kept
            elem.value = deid.reader(str(elem.value), deidentified=done)
            continue
        if kw == "TextValue":
            concept = _concept(ds)
            tp_text = None if done else sr_text(deid, pid, concept, str(elem.value))
            if tp_text is not None:  # a time point id: its neutral id (deid_timepoints)
                elem.value = tp_text
            elif concept not in KEPT_TEXT_CONCEPTS:
                elem.value = _REMOVED_TEXT
            continue
        if elem.VR in FREE_TEXT_VRS and kw not in KEPT_TEXT_KEYWORDS and elem.value not in (None, "", b""):
            # free text the table does not list (PS3.15's list grows; sources hold anything): emptied
            if elem.VR == "UN":
                del ds[elem.tag]
            else:
                elem.value = ""


def deidentify_dataset(
    ds: Dataset,
    deid: Deidentifier,
    *,
    patient_id: str | None = None,
    in_place: bool = False,
) -> Dataset:
    """Apply the basic profile (see module docstring) to a pydicom ``Dataset``.

    Parameters
    ----------
    ds : pydicom.Dataset
        Any DICOM object (image, SEG, SR).  Not modified unless ``in_place``.
    deid : Deidentifier
        Holds pseudonyms, date shifts and the UID map (shared by all objects of an export).
    patient_id : str, optional
        Key for the pseudonym and date shift; default ``ds.PatientID`` (empty: the study's own key,
        :func:`hcc_imaging.io.patient_key`; without a StudyInstanceUID either, a
        ``DeidentificationError``: ``deidentify_files`` skips such a file with the reason).

    Returns
    -------
    pydicom.Dataset
        The de-identified dataset (file meta updated to the new SOP Instance UID).
    """
    from pydicom.dataset import Dataset as _Dataset
    from pydicom.sequence import Sequence as _Sequence

    if (patient_id is None and not str(ds.get("PatientID", "") or "").strip()
            and not str(ds.get("StudyInstanceUID", "") or "").strip()):
        raise DeidentificationError(
            f"object {ds.get('SOPInstanceUID', '?')} (series {ds.get('SeriesInstanceUID', '?')}) has neither a "
            "PatientID nor a StudyInstanceUID: nothing tells whose it is, so it cannot get its patient's pseudonym "
            "and date shift (every such object shared the key 'UNKNOWN': one pseudonym for different people). "
            "Restore its StudyInstanceUID (0020,000D), or pass patient_id= for it.")
    out = ds if in_place else copy.deepcopy(ds)
    if patient_id is None and not str(out.get("PatientID", "") or "").strip() and out.get("StudyInstanceUID"):
        from ..io.index import patient_key

        # no PatientID: the study is a patient of its own, as the index reads it (never one
        # pseudonym and date shift shared by every object without an id)
        patient_id = patient_key("", str(out.StudyInstanceUID))
    pid = str(patient_id if patient_id is not None else out.get("PatientID", "") or "UNKNOWN")
    if patient_id is not None and out.get("PatientID") and str(out.PatientID) != pid:
        deid.link(pid, str(out.PatientID))
    # an object de-identified before (PatientIdentityRemoved YES: a de-identified SEG given to the
    # SR) carries its pseudonym and shifted dates; any other's id is a real one, even one that
    # looks like a pseudonym (a patient HCC-0001 kept its id and dates, and merged with the
    # patient given HCC-0001)
    done = str(ds.get("PatientIdentityRemoved", "") or "").strip().upper() == "YES"
    _walk(out, deid, pid, done)
    from .deid_checks import clean_file_meta, set_created_dates

    if not done:  # (a SEG / SR made now: its creation dates were "export day + shift")
        set_created_dates(out)
    # the pseudonym is the patient's id and name even where the original had none (an empty
    # PatientID was kept empty: PatientName HCC-0001 with no PatientID, so the copies of one
    # patient could not be told as one patient's by id)
    for kw in ("PatientID", "PatientName"):
        if not str(out.get(kw, "") or "").strip():
            setattr(out, kw, deid.pseudonym(pid, deidentified=done))
    out.PatientIdentityRemoved = "YES"
    out.LongitudinalTemporalInformationModified = "MODIFIED"
    # LO (max 64 characters); the codes below say the same in full.  "clean SR" only on an SR (a SEG or an
    # image said it too): its TEXT items are what the structured-content cleaning changed
    is_sr = str(out.get("Modality", "") or "") == "SR" or "ContentSequence" in out
    out.DeidentificationMethod = "hcc_imaging PS3.15 basic profile; dates shifted" + ("; clean SR" if is_sr else "")
    codes_ = []
    for value, meaning in (
        ("113100", "Basic Application Confidentiality Profile"),
        ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
        ("113104", "Clean Structured Content Option"),
    ):
        c = _Dataset()
        c.CodeValue = value
        c.CodingSchemeDesignator = "DCM"
        c.CodeMeaning = meaning
        codes_.append(c)
    out.DeidentificationMethodCodeSequence = _Sequence(codes_)
    clean_file_meta(out, deid)  # (group 0002: AE titles, private information; the new SOP Instance UID)
    return out


def deidentify_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    deid: Deidentifier,
    *,
    patient_id: str | None = None,
) -> Path:
    """Read ``src``, de-identify, write ``dst`` atomically.  Returns ``dst``."""
    import pydicom

    ds = pydicom.dcmread(src)
    out = deidentify_dataset(ds, deid, patient_id=patient_id, in_place=True)
    return atomic_dcmwrite(out, dst)


def atomic_dcmwrite(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a DICOM file via a temp file + ``os.replace`` (no half-written objects)."""
    return atomic_write(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True))


#: Media Storage Directory Storage: a DICOMDIR (an index of a medium, not an instance to copy)
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


class DeidentifiedFiles(list):  # type: ignore[type-arg]
    """What :func:`deidentify_files` did: the paths written (the list itself) and ``skipped``,
    ``(source path, reason)`` of every file it did not copy (not DICOM, a DICOMDIR, no
    SOPInstanceUID or SOPClassUID, an encapsulated document, burned-in text, unreadable, not
    writable as DICOM)."""

    def __init__(self, written: Iterable[Path] = (), skipped: Iterable[tuple[Path, str]] = ()) -> None:
        super().__init__(written)
        self.skipped: list[tuple[Path, str]] = list(skipped)


def _not_an_instance(ds: Dataset) -> str | None:
    """Why ``ds`` is not an instance to de-identify and copy (None when it is one)."""
    fm = getattr(ds, "file_meta", None)
    sop_class = str(fm.get("MediaStorageSOPClassUID", "")) if fm is not None else ""
    if sop_class == _DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        return "a DICOMDIR (the index of a medium, not an image; its images are copied from their own files)"
    if not str(ds.get("SOPInstanceUID", "") or "").strip():
        return "no SOPInstanceUID (not a storable DICOM instance; the copy could not be named or referenced)"
    if not str(ds.get("SOPClassUID", "") or "").strip():
        # (pydicom refuses to write it: the file meta's Media Storage SOP Class UID is required)
        return "no SOPClassUID (not a storable DICOM instance; nothing says what kind of object it is)"
    return None


def deidentify_files(
    sources: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    deid: Deidentifier,
    *,
    patient_id: str | None = None,
) -> DeidentifiedFiles:
    """De-identify DICOM files into ``out_dir`` (named by their new SOP Instance UID).

    With the same :class:`Deidentifier` as the SR / SEG export, the copies carry exactly the
    UIDs the de-identified SR and SEG reference, so the exported set is self-consistent.
    Files that are not DICOM, DICOMDIRs, objects without a SOPInstanceUID or SOPClassUID,
    encapsulated documents (PDF, CDA) and images with ``BurnedInAnnotation`` YES,
    unreadable files and objects that cannot be de-identified or written as DICOM are not copied:
    the result lists them in ``skipped`` with the reason.  The caller saves the map
    (:meth:`Deidentifier.save`) also when this raises (an ``OSError`` writing a copy): copies
    written before it carry UIDs and dates only that map relates to their originals.

    Returns
    -------
    DeidentifiedFiles
        The paths written (a list), with ``.skipped``.
    """
    import pydicom

    from .deid_checks import PatientLinkError, check_one_patient, not_shareable

    out = Path(out_dir)
    deid.check_outside(out)
    sources = list(sources)
    if patient_id is not None:  # (before any copy: one patient's files only; a refused link stops the run)
        check_one_patient(sources, patient_id, deid)
    result = DeidentifiedFiles()
    for src in sources:
        try:
            ds = pydicom.dcmread(src)
        except (pydicom.errors.InvalidDicomError, IsADirectoryError):
            result.skipped.append((Path(src), "not a DICOM file"))
            continue
        except (OSError, EOFError, ValueError, KeyError) as err:
            result.skipped.append((Path(src), f"cannot be read ({type(err).__name__}: {err})"))
            continue
        reason = _not_an_instance(ds) or not_shareable(ds)
        if reason is None and patient_id is None and not str(ds.get("PatientID", "") or "").strip() and not str(
                ds.get("StudyInstanceUID", "") or "").strip():
            reason = ("neither a PatientID nor a StudyInstanceUID: its patient's pseudonym cannot be told; restore its "
                      "StudyInstanceUID (0020,000D)")
        if reason is not None:
            result.skipped.append((Path(src), reason))
            continue
        try:
            new = deidentify_dataset(ds, deid, patient_id=patient_id, in_place=True)
            result.append(atomic_dcmwrite(new, out / f"{new.SOPInstanceUID}.dcm"))
        except PatientLinkError:
            raise  # (the run's, not this file's: two patients would share a pseudonym)
        except (DeidentificationError, AttributeError, ValueError, TypeError, KeyError) as err:
            # pydicom's refusals to encode an object (missing file meta, a bad value: AttributeError,
            # ValueError ...) are this file's, not the run's: it stopped the copy half-way, and the
            # command saved no pseudonym map for the copies already written.  (atomic_dcmwrite
            # leaves no file behind.)  An OSError (disk full, permissions) still stops the run.
            result.skipped.append((Path(src), f"cannot be de-identified and written ({type(err).__name__}: {err})"))
    return result

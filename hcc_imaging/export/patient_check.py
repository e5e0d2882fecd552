"""The check that a read exported over images is of the images' patient (:func:`check_same_patient`).

An SR (or SEG) takes the images' PatientID, so a read of another patient written over them filed
one patient's measurements under another's without a word.  ``hcc-imaging export sr / seg /
report`` refused it (2026-12-05), but only the command line did: :func:`~hcc_imaging.export.sr.
write_sr` and :func:`~hcc_imaging.export.report.write_report` (Python, the napari writers, ``batch
--export-sr``) wrote it.  They run this check now (through :func:`~hcc_imaging.export.sources.
check_timepoint_sources`), the command line with its flags in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .sources import TimepointSourceError

if TYPE_CHECKING:  # pragma: no cover
    from ..volume import Volume

__all__ = ["PatientMismatchError", "check_same_patient"]


class PatientMismatchError(TimepointSourceError):
    """The images given for a read are of another patient than the read's (or of no one known)."""


def check_same_patient(read_patient: str, images: Mapping[str, Volume], *, link_patient: bool = False,
                       cli: bool = False) -> None:
    """Refuse images of another patient than the read's ``read_patient``.

    The read's id must be the images' PatientID (``Volume.meta["patient_id"]``), or, for images
    without one, their study's ``noid-`` key (:func:`hcc_imaging.io.patient_key`).  ``images``:
    ``{what: Volume}``, ``what`` naming them in the message (``"time point 'BL'"``, ``"--images BL"``).
    ``link_patient``: the read's id is a pseudonym of the images' patient (nothing is refused).
    ``cli``: word the way out with the command's flag (``--link-patient``), else ``link_patient=True``.

    Raises
    ------
    PatientMismatchError
        Naming both patients (pseudonymous ids only, :func:`hcc_imaging._phi.shown_id`).
    """
    from .._phi import shown_id
    from ..io import patient_key

    link_word = "add --link-patient" if cli else "pass link_patient=True"
    for what, vol in images.items():
        known = _images_patient(vol)
        if known is None:  # (a Volume not read from DICOM: no patient to file anything under)
            continue
        raw, study = known
        if not raw and not study:
            if link_patient:
                continue
            raise PatientMismatchError(
                f"{what} has neither a PatientID nor a StudyInstanceUID: nothing says whose images they are, so the "
                f"read of patient {shown_id(read_patient, 'patient id')} cannot be checked against them. Restore the "
                f"StudyInstanceUID (0020,000D) of the images, or, when they are the read's patient's, {link_word}.")
        key = patient_key(raw, study)
        if link_patient or read_patient in (raw, key):
            continue
        raise PatientMismatchError(
            f"the read is of patient {shown_id(read_patient, 'patient id')}, but {what} is of patient "
            f"{shown_id(key, 'patient id')}: the export would file one "
            f"patient's measurements under another's. Pass the images of the read's patient, or, when the read's id is "
            f"a pseudonym of that patient, {link_word}.")


def _images_patient(vol: Volume) -> tuple[str, str] | None:
    """(PatientID, StudyInstanceUID) of the images, as an SR over them would take them: the volume's
    ``meta["patient_id"]`` (:func:`hcc_imaging.io.load_series` sets it, empty when the files have
    none), else its first source file's; None when neither says (a volume made in memory)."""
    meta = vol.meta or {}
    study = str(vol.study_instance_uid or "").strip()
    if "patient_id" in meta:
        return str(meta.get("patient_id") or "").strip(), study
    files = meta.get("source_files") or ()
    if not files:
        return None
    import pydicom

    try:
        ds = pydicom.dcmread(str(files[0]), stop_before_pixels=True, specific_tags=["PatientID", "StudyInstanceUID"])
    except (OSError, pydicom.errors.InvalidDicomError):
        return None  # (the writer says so when it reads the file)
    return str(ds.get("PatientID", "") or "").strip(), study or str(ds.get("StudyInstanceUID", "") or "").strip()

"""A mask inside a zip SOURCE (``"archive.zip::folder/rtstruct.dcm"``, as the batch index names a
zip's members): a DICOM SEG or RTSTRUCT read from the zip's bytes
(:func:`hcc_imaging.io._dicomparse.dicom_file`), never looked for as a file of that name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import NotDicomError, SourceNotFoundError
from ._dicomparse import dicom_file, split_zip

__all__ = ["is_zip_member", "zip_member_kind"]


def is_zip_member(path: str | Path) -> bool:
    """Whether ``path`` names a member of a zip (``ZIP::member``)."""
    return split_zip(str(path)) is not None


def zip_member_kind(path: Path, kinds: Mapping[str, str]) -> tuple[str, Path]:
    """(kind, path) of a zip member mask: ``kinds`` maps SOP class UID -> kind (SEG, RTSTRUCT).

    Raises SourceNotFoundError (the zip or the member missing), NotDicomError (not DICOM) or
    MaskFormatError (a DICOM object of another kind: a NIfTI map or a folder of mask images is
    read from an extracted zip only)."""
    import pydicom

    from .masks import MaskFormatError

    zip_path, member = split_zip(str(path)) or ("", "")
    try:
        hdr = pydicom.dcmread(dicom_file(str(path)), stop_before_pixels=True, force=True)
    except OSError as err:
        _refuse_a_folder(zip_path, member)
        raise SourceNotFoundError(
            f"mask {path}: {getattr(err, 'strerror', None) or err}. A mask inside a zip is named "
            "ZIP::member (the member's path inside the zip); check both.") from err
    except Exception as err:  # noqa: BLE001 - pydicom raises several types for broken files
        raise NotDicomError(f"mask {member!r} inside the zip {zip_path} could not be read as DICOM "
                            f"({type(err).__name__}: {err}); a mask inside a zip is a DICOM SEG or RTSTRUCT.") from err
    kind = kinds.get(str(getattr(hdr, "SOPClassUID", "")))
    if kind is None and not getattr(hdr, "SOPClassUID", ""):  # (read with force=True: no DICOM header)
        raise MaskFormatError(
            f"mask {member!r} inside the zip {zip_path} is not DICOM (no SOP class; a NIfTI / NRRD map?), not a "
            "DICOM SEG or RTSTRUCT: those are the masks read from inside a zip. Extract the zip to read a NIfTI "
            "map or a folder of mask images.")
    if kind is None:
        raise MaskFormatError(
            f"mask {member!r} inside the zip {zip_path} is DICOM {getattr(hdr, 'Modality', '?')} (SOP class "
            f"{getattr(hdr, 'SOPClassUID', 'unknown')}), not a DICOM SEG or RTSTRUCT: those are the masks read from "
            "inside a zip. Extract the zip to read a NIfTI map or a folder of mask images.")
    return kind, path


def _refuse_a_folder(zip_path: str, member: str) -> None:
    """MaskFormatError when ``member`` is a folder of the zip (not a file): a mask read from inside a
    zip is one SEG or RTSTRUCT file.  Nothing when the zip cannot be opened or has no such folder."""
    import zipfile

    from .masks import MaskFormatError

    folder = member.strip("/") + "/"
    try:
        with zipfile.ZipFile(zip_path) as zf:
            under = sorted(n for n in zf.namelist() if n.startswith(folder) and not n.endswith("/"))
    except (OSError, zipfile.BadZipFile):
        return
    if under:
        raise MaskFormatError(
            f"mask {member!r} inside the zip {zip_path} is a folder of the zip ({len(under)} file(s), e.g. "
            f"{under[0]!r}): a mask inside a zip is one DICOM SEG or RTSTRUCT file, named ZIP::folder/file.dcm. "
            "Pass that file, or extract the zip to read a NIfTI map or a folder of mask images.")

"""Where a study's files lie, and which folders are its own (where its mask files and seeds are looked for)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _common_root(files: Iterable[str]) -> str:
    dirs = [os.path.dirname(f.split("::", 1)[0]) for f in files]
    return os.path.commonpath(dirs) if dirs else ""


def _file_folders(files: Iterable[str]) -> frozenset[str]:
    """The real folders holding ``files`` (a zip member: the folder holding its zip)."""
    return frozenset(os.path.dirname(f.split("::", 1)[0]) for f in files)


def _up(folder: str) -> Iterable[str]:
    """``folder`` and its parents (as strings, as the index gives paths: relative ones end at "")."""
    while True:
        yield folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


@dataclass(frozen=True, slots=True)
class _Placed:
    """Where one study's files lie (:func:`root_notes`)."""

    root: str
    folders: frozenset[str]
    in_zip: bool = False
    zip_source: str | None = None
    masks_only: bool = False


def root_notes(studies: Mapping[Any, _Placed]) -> dict[Any, str | None]:
    """Whether each study's folder is its own, where its mask files, seeds and ``labels.json`` may be
    looked for: ``None`` when it is, else why not (a sentence for the failure row).

    A study's folder (the common folder of its files) is its own when no other study has a file in
    it or in any folder below it: a folder shared by two studies, or the common folder of a study
    whose files are spread (its SEG in ``P/segs/``, its images in ``P/baseline/``) that also holds
    another study's folder (``P/fu1/``), is no study's own, and the mask search never looks into
    it (it found the other study's ``lesions.nii.gz`` before, and measured it).  A study inside a zip
    SOURCE has no folder of its own (NIfTI files are looked for in real folders only).  Studies of
    masks stored as CT images (:func:`masks_only`) are not studies here (they own nothing and share
    nothing).
    """
    below = _studies_below(studies)
    notes: dict[Any, str | None] = {}
    for k, st in studies.items():
        if st.zip_source is not None:
            notes[k] = (f"it is inside the zip SOURCE {st.zip_source}, whose studies' masks are the DICOM SEG or "
                        "RTSTRUCT objects in the zip. Put the study's SEG/RTSTRUCT in the zip, or extract the zip into "
                        "a folder and put lesions.nii.gz (or seeds.json) in the study's folder.")
            continue
        if not st.root:
            notes[k] = ("its files lie in folders with no common folder, so there is no study folder to look for "
                        "lesions.nii.gz or seeds.json in. Keep each study's files (series folders, SEG, masks) in one "
                        "folder of its own, e.g. PATIENT/STUDY/SERIES/.")
            continue
        others = [o for o in below.get(st.root, ()) if o != k]
        if st.masks_only or not others:
            notes[k] = None
            continue
        o = studies[others[0]]
        what = f"study {_study_label(others[0])}"
        if o.root == st.root:
            notes[k] = (f"several studies share the folder {st.root} (with {what}), so mask files "
                        "there cannot be attributed to one of them: give each study its own folder.")
            continue
        where = o.root if _within(o.root, st.root) else min(d for d in o.folders if _within(d, st.root))
        if st.in_zip:
            notes[k] = (f"the study is in a zip whose folder {st.root} also holds the files of {what} ({where}), so "
                        "a mask file there cannot be attributed to it. Give the zip a folder of its own (with the "
                        "study's lesions.nii.gz beside it), or put the study's SEG/RTSTRUCT in the zip.")
        else:
            notes[k] = (f"its files lie in several folders whose common folder {st.root} also holds the files of "
                        f"{what} ({where}), so mask files there cannot be attributed to it. Keep each study's files "
                        "(its series folders, SEG, RTSTRUCT, masks) in one folder of its own that holds no other "
                        "study, e.g. PATIENT/STUDY/SERIES/ with PATIENT/STUDY/masks/lesions.nii.gz.")
    return notes


def _studies_below(studies: Mapping[Any, _Placed]) -> dict[str, list[Any]]:
    """Folder -> the two first studies (by key) with a file in it or below it (studies of masks only left out)."""
    below: dict[str, list[Any]] = {}
    for k, st in studies.items():
        if st.masks_only:
            continue
        seen: set[str] = set()
        for d in st.folders:
            for a in _up(d):
                if a in seen:
                    break
                seen.add(a)
                below[a] = sorted([*below.get(a, ()), k])[:2]
    return below


def _free(below: Mapping[str, Sequence[Any]], folder: str, key: Any) -> bool:
    return all(o == key for o in below.get(folder, ()))


def mask_folders(studies: Mapping[Any, _Placed], notes: Mapping[Any, str | None],
                 archive_root: str | None) -> dict[Any, tuple[str, ...]]:
    """The folders where each study's mask files and seeds are looked for, in order (the first that
    holds any is used): its own folder (:func:`root_notes`), and, for a study whose files all lie in
    one folder (a one-series study laid out ``STUDY/SERIES/``), the parent of that folder when it
    is the study's own too and inside ``archive_root``, so that ``STUDY/masks/`` is found as for a
    study of several series (it was not: "no lesion mask beside it").  Empty for a study without a
    folder of its own."""
    below = _studies_below(studies)
    top = os.path.normpath(archive_root) if archive_root else None
    out: dict[Any, tuple[str, ...]] = {}
    for k, st in studies.items():
        if notes.get(k) is not None or st.masks_only or not st.root:
            out[k] = ()
            continue
        parent = os.path.dirname(st.root)
        up = (len(st.folders) == 1 and not st.in_zip and parent and parent != st.root and top is not None
              and _within(os.path.normpath(parent), top) and _free(below, parent, k))
        out[k] = (st.root, parent) if up else (st.root,)
    return out


def _within(folder: str, root: str) -> bool:
    return any(a == root for a in _up(folder))


def _study_label(key: Any) -> str:
    """``UID (patient P)`` of a ``(patient, study UID)`` key."""
    if isinstance(key, tuple) and len(key) == 2:
        return f"{key[1]} (patient {key[0]})"
    return str(key)

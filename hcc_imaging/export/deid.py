"""De-identification of every export: DICOM PS3.15 Basic Application Level Confidentiality Profile.

What is done (``docs/export.md`` has the full table)
---------------------------------------------------
* **Attributes of the basic profile** (PS3.15 Annex E, Table E.1-1) are handled by the action
  in :data:`BASIC_PROFILE_ACTIONS`: ``X`` remove, ``Z`` empty, ``D`` replace by a dummy
  (patient name and id by the patient's pseudonym, person names by a reader pseudonym),
  ``U`` replace UIDs.  The table covers the identifying attributes found in CT/MR images,
  SEG and SR; anything else of VR PN is replaced too (a person name is never kept), and any
  other free text (:data:`FREE_TEXT_VRS`) not in :data:`KEPT_TEXT_KEYWORDS` is emptied.
* **Patient ids**: a real id that looks like one of our pseudonyms (``HCC-0001``) is a real
  id: it gets a pseudonym of its own and its dates are shifted; only an object marked
  ``PatientIdentityRemoved = YES`` keeps its pseudonym and dates (de-identified before).
* **UIDs**: every UID that is not a registered DICOM UID (SOP classes, transfer syntaxes,
  coding schemes ...) is replaced by a new UID (``2.25.`` + a random UUID as an integer), mapped consistently: the
  same original UID gets the same new UID in every object, in every run that uses the same
  pseudonym map, so SR -> SEG -> image references stay valid.
* **Dates** are shifted by a per-patient number of days (Retain Longitudinal Temporal
  Information with Modified Dates Option, DCM 113107), so intervals between scans are exact;
  birth dates are emptied.  **Times of day are kept** (the option allows it): they carry no
  identity and the contrast-phase logic needs acquisition times.
* **Private attributes** are removed.
* **Structured content** (SR TEXT items) is kept only for concepts we generate ourselves
  (tracking identifier, time point id, algorithm name/version/parameters); other free text is
  replaced by ``"REMOVED"`` (Clean Structured Content Option, DCM 113104).
* ``PatientIdentityRemoved = YES``, ``DeidentificationMethod`` and
  ``DeidentificationMethodCodeSequence`` (113100 + options) are set; ``BurnedInAnnotation``
  is not changed (we never burn text into pixels).  :func:`deidentify_files` does not copy what
  the profile cannot make safe: an Encapsulated PDF/CDA document, an image whose
  ``BurnedInAnnotation`` is YES (:func:`~hcc_imaging.export.deid_checks.not_shareable`).
* The **file meta header** (group 0002) is cleaned too (AE titles, private information).
* The **creation dates** of a SEG / SR (ContentDate, InstanceCreationDate, SeriesDate: the day of
  export) become its shifted StudyDate, so they do not give the shift away.
* A patient's pseudonym is never reused, nor two ids that each have one merged
  (:meth:`Deidentifier.link`; :mod:`~hcc_imaging.export.deid_checks`).

The **pseudonym map** (original id -> pseudonym, date shift, UID map) is a JSON file the user
keeps; writers refuse to put it inside the export directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import atomic_write
from ._deid_dataset import DeidentifiedFiles, atomic_dcmwrite, deidentify_dataset, deidentify_file, deidentify_files
from ._deid_profile import (
    _IMPORTED_SR_NOTE,
    _REGISTRY_UID_PREFIXES,
    _SEGMENT_NOTE,
    _VERSION,
    BASIC_PROFILE_ACTIONS,
    FREE_TEXT_VRS,
    KEPT_TEXT_CONCEPTS,
    KEPT_TEXT_KEYWORDS,
    DeidentificationError,
)
from ._file_sources import ALGORITHM_PREFIX, IMPORTED_MASK_SOURCE, names_a_file
from .constants import (
    DATE_SHIFT_RANGE_DAYS,
    PSEUDONYM_MAP_VERSION,
    PSEUDONYM_PREFIX,
    READER_PSEUDONYM_PREFIX,
)

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from .model import ExportRead

__all__ = [
    "DeidentificationError",
    "Deidentifier",
    "normalize_reader_id",
    "no_person_name_warnings",
    "BASIC_PROFILE_ACTIONS",
    "KEPT_TEXT_CONCEPTS",
    "KEPT_TEXT_KEYWORDS",
    "FREE_TEXT_VRS",
    "deidentify_dataset",
    "deidentify_file",
    "deidentify_files",
    "DeidentifiedFiles",
    "atomic_dcmwrite",
]




#: highdicom's person-name check (``highdicom.valuerep.check_person_name``): its UserWarning
#: starts with the name itself ('The string "DOE" is unlikely to represent the intended person name').
_PERSON_NAME_WARNING = r'The string ".*" is unlikely to represent the intended person name'


def _drop_person_name_records(record: logging.LogRecord) -> bool:
    # highdicom.base logs 'value of argument "patient_name" is potentially invalid: "<name>"'
    return "potentially invalid" not in str(record.msg)


@contextlib.contextmanager
def no_person_name_warnings() -> Iterator[None]:
    """Silence highdicom's person-name check around its constructors.

    highdicom warns when a PatientName (or observer name) has a single component, and the
    warning text carries the name: printed on stderr, or kept in a log, it would put a patient's
    name where no one expects one.  Only that warning (and highdicom's log record of the same
    check) is silenced; every other warning still shows.
    """
    log = logging.getLogger("highdicom.base")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PERSON_NAME_WARNING, category=UserWarning)
        log.addFilter(_drop_person_name_records)
        try:
            yield
        finally:
            log.removeFilter(_drop_person_name_records)


def normalize_reader_id(reader_id: str) -> str:
    """The one key of a reader, whatever form the id arrives in.

    A reader id travels as plain text in read documents (``R1``) and as a DICOM person name in
    an SR's Person Observer Name, where a single-component name gets a trailing caret (``R1^``,
    PS3.5 6.2) and components may carry padding.  Both must give the reader one pseudonym, so
    the PN form is reduced to the plain id: whitespace around the id and each ``^`` component is
    stripped and empty trailing components are dropped (``"R1^"``, ``" R1 "``, ``"R1^^^"`` ->
    ``"R1"``; ``"Smith^ John"`` -> ``"Smith^John"``).

    Examples
    --------
    >>> normalize_reader_id("R1^"), normalize_reader_id("Smith^John^^")
    ('R1', 'Smith^John')
    """
    parts = [c.strip() for c in str(reader_id).strip().split("^")]
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    return "^".join(parts)


class Deidentifier:
    """Pseudonyms, date shifts and UID replacements kept consistent across exports.

    Parameters
    ----------
    map_path : path, optional
        The pseudonym map (JSON).  Loaded if it exists; :meth:`save` writes it (atomically).
        Keep it away from the exported data: writers refuse a map inside their output folder.
    date_shift_range_days : (int, int)
        Closed range of the per-patient shift drawn for a new patient
        (:data:`~hcc_imaging.export.constants.DATE_SHIFT_RANGE_DAYS`).
    rng : random.Random-like, optional
        Source of randomness for shifts (tests pass a seeded ``random.Random``); default
        ``secrets.SystemRandom()``.

    Examples
    --------
    >>> d = Deidentifier()
    >>> d.pseudonym("MRN-123")
    'HCC-0001'
    >>> d.pseudonym("MRN-123"), d.pseudonym("MRN-999")
    ('HCC-0001', 'HCC-0002')
    """

    def __init__(
        self,
        map_path: str | os.PathLike[str] | None = None,
        *,
        date_shift_range_days: tuple[int, int] = DATE_SHIFT_RANGE_DAYS,
        rng: Any = None,
    ) -> None:
        lo, hi = int(date_shift_range_days[0]), int(date_shift_range_days[1])
        if lo > hi:
            raise DeidentificationError(
                f"date_shift_range_days {date_shift_range_days} is empty (low > high). "
                "Pass (low, high) with low <= high, e.g. (-1095, -30)."
            )
        self._range = (lo, hi)
        self._rng = rng if rng is not None else secrets.SystemRandom()
        self.map_path = Path(map_path) if map_path is not None else None
        self._patients: dict[str, dict[str, Any]] = {}
        self._aliases: dict[str, str] = {}
        self._readers: dict[str, str] = {}
        self._uids: dict[str, str] = {}
        self._dummies: dict[str, str] = {}
        self._issued = 0  # highest pseudonym number ever given (kept in the map)
        #: {patient key: {time point id: neutral id}} (:mod:`~hcc_imaging.export.deid_timepoints`)
        self._timepoints: dict[str, dict[str, str]] = {}
        if self.map_path is not None and self.map_path.exists():
            self._load(self.map_path)

    # -- persistence ---------------------------------------------------------------------
    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DeidentificationError(
                f"pseudonym map {path} cannot be read ({err}). Restore it from your backup; "
                "a new map would give the same patients new pseudonyms."
            ) from err
        if not isinstance(data, dict) or int(data.get("version", -1)) > PSEUDONYM_MAP_VERSION:
            raise DeidentificationError(
                f"pseudonym map {path} has version {data.get('version') if isinstance(data, dict) else '?'}; "
                f"this hcc_imaging reads version <= {PSEUDONYM_MAP_VERSION}. Upgrade hcc_imaging."
            )
        self._patients = {str(k): dict(v) for k, v in data.get("patients", {}).items()}
        self._aliases = {str(k): str(v) for k, v in data.get("aliases", {}).items()}
        self._readers = self._normalised_readers(
            {str(k): str(v) for k, v in data.get("readers", {}).items()}, path)
        self._uids = {str(k): str(v) for k, v in data.get("uids", {}).items()}
        self._dummies = {str(k): str(v) for k, v in data.get("dummies", {}).items()}
        self._issued = int(data.get("pseudonyms_issued", 0) or 0)
        self._timepoints = {str(k): {str(a): str(b) for a, b in dict(v).items()}
                            for k, v in data.get("timepoints", {}).items()}

    @staticmethod
    def _normalised_readers(readers: dict[str, str], path: Path) -> dict[str, str]:
        """A map written before reader ids were normalised may key one reader twice (``R1`` from
        a read document, ``R1^`` from an SR's observer name), with two pseudonyms. Key every
        entry by :func:`normalize_reader_id` too, keeping the pseudonym of the plain key when
        both exist (the first-made one otherwise), and say that earlier exports gave that
        reader two pseudonyms."""
        out = dict(readers)
        groups: dict[str, list[str]] = {}
        for k in readers:
            groups.setdefault(normalize_reader_id(k), []).append(k)
        for key, forms in sorted(groups.items()):
            pseudos = sorted({readers[f] for f in forms})
            keep = readers[key] if key in readers else pseudos[0]
            out[key] = keep
            if len(pseudos) > 1:
                logging.getLogger(__name__).warning(
                    "pseudonym map %s gives one reader %d pseudonyms (%s; written before reader "
                    "ids were normalised): %s is used from now on; exports made earlier carry the "
                    "others for the same reader", path, len(pseudos), ", ".join(pseudos), keep)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PSEUDONYM_MAP_VERSION,
            "warning": "Re-identification key. Keep separate from de-identified data.",
            "patients": self._patients,
            "aliases": self._aliases,
            "readers": self._readers,
            "uids": self._uids,
            "dummies": self._dummies,
            "pseudonyms_issued": self._issued,
            "timepoints": self._timepoints,
        }

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the map (JSON, atomic replace).  Returns the path written."""
        target = Path(path) if path is not None else self.map_path
        if target is None:
            raise DeidentificationError(
                "no path for the pseudonym map: pass save(path) or Deidentifier(map_path=...)."
            )
        # the map links pseudonyms to real identities: owner-only permissions
        return atomic_write(
            target,
            lambda tmp: Path(tmp).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), encoding="utf-8"),
            fsync=True,
            mode=0o600,
        )

    def check_outside(self, export_dir: str | os.PathLike[str]) -> None:
        """Refuse a pseudonym map located inside ``export_dir`` (it must never ship with the data)."""
        if self.map_path is None:
            return
        m = self.map_path.resolve()
        e = Path(export_dir).resolve()
        if m == e or e in m.parents:
            raise DeidentificationError(
                f"the pseudonym map {self.map_path} is inside the export folder {export_dir}; it "
                "would ship with the de-identified data and re-identify it. Pass "
                "--pseudonym-map (pseudonym_map=) a path outside the export folder."
            )

    # -- mappings ------------------------------------------------------------------------
    def link(self, patient_id: str, other_id: str) -> None:
        """Make ``other_id`` share ``patient_id``'s pseudonym and date shift (e.g. the read
        document's id and the DICOM PatientID of the same person).

        No entry is ever dropped: when both ids already have a pseudonym of their own (each
        shipped in an earlier export), a :class:`~hcc_imaging.export.deid_checks.PatientLinkError`
        says so and nothing changes (merging would leave one of the exports with a pseudonym and
        a date shift the map no longer knows, and free that pseudonym for another patient)."""
        a, b = self._canonical(str(patient_id)), self._canonical(str(other_id))
        if a == b:
            return
        if a in self._patients and b in self._patients:
            from .deid_checks import refuse_link

            refuse_link(self, str(patient_id), str(other_id), a, b)
        if b in self._patients:
            a, b = b, a
        self._entry(a)
        self._aliases[b] = a

    def _canonical(self, patient_id: str) -> str:
        seen = set()
        while patient_id in self._aliases and patient_id not in seen:
            seen.add(patient_id)
            patient_id = self._aliases[patient_id]
        return patient_id

    def _entry(self, patient_id: str) -> dict[str, Any]:
        key = self._canonical(str(patient_id))
        if key not in self._patients:
            # never a pseudonym equal to a known real id (a patient whose id is HCC-0002 would
            # share it with the patient given HCC-0002)
            used = {v["pseudonym"] for v in self._patients.values()} | set(self._patients) | set(self._aliases)
            used.add(key)
            # numbered past every pseudonym ever given (never a freed one again: a map whose
            # link dropped an entry gave its pseudonym to the next patient)
            n = max([self._issued, *(_pseudonym_number(v["pseudonym"]) for v in self._patients.values())]) + 1
            while f"{PSEUDONYM_PREFIX}-{n:04d}" in used:
                n += 1
            self._patients[key] = {
                "pseudonym": f"{PSEUDONYM_PREFIX}-{n:04d}",
                "date_shift_days": int(self._rng.randint(*self._range)),
            }
            self._issued = max(self._issued, n)
        return self._patients[key]

    def _already_pseudonym(self, patient_id: str, deidentified: bool | None) -> bool:
        """Whether ``patient_id`` is one of our pseudonyms standing for its patient (an object
        or read de-identified before), rather than a real id.

        ``deidentified=True``: the caller knows the input was de-identified (a DICOM object with
        PatientIdentityRemoved YES); ``False``: it is a real id, whatever it looks like; ``None``
        (unknown): a pseudonym of ours is one unless it is also a real id of the map."""
        pid = str(patient_id)
        if deidentified is False or pid not in {v["pseudonym"] for v in self._patients.values()}:
            return False
        if deidentified:
            return True
        return pid not in self._patients and pid not in self._aliases

    def pseudonym(self, patient_id: str, *, deidentified: bool | None = None) -> str:
        """The patient's pseudonym (``HCC-0001`` ...), created on first use.

        A pseudonym of ours is returned unchanged (idempotent) only when it stands for its
        patient (see ``deidentified``); a real id that looks like one (a patient whose id is
        ``HCC-0001``) gets a pseudonym of its own.

        Parameters
        ----------
        patient_id : str
            The real id, or (with ``deidentified``) a pseudonym given before.
        deidentified : bool, optional
            ``True``: the input is already de-identified; ``False``: ``patient_id`` is a real id;
            ``None``: a pseudonym of this map that is not also a real id of it is kept.
        """
        if self._already_pseudonym(patient_id, deidentified):
            return str(patient_id)
        return str(self._entry(patient_id)["pseudonym"])

    def date_shift_days(self, patient_id: str, *, deidentified: bool | None = None) -> int:
        """Days added to every date of this patient (negative = earlier); 0 for a pseudonym
        standing for its patient (its dates are shifted already; ``deidentified`` as for
        :meth:`pseudonym`)."""
        if self._already_pseudonym(patient_id, deidentified):
            return 0
        return int(self._entry(patient_id)["date_shift_days"])

    def reader(self, reader_id: str, *, deidentified: bool | None = None) -> str:
        """The reader's pseudonym (``READER-01`` ...), created on first use.  The id is keyed by
        :func:`normalize_reader_id`, so ``R1`` and the SR observer's ``R1^`` are one reader.

        As for patients (:meth:`pseudonym`): a pseudonym of ours is returned unchanged only when it
        stands for its reader; a real id that looks like one (a reader ``READER-01``) gets a
        pseudonym of its own, and no reader is given a known real id as pseudonym.

        Parameters
        ----------
        deidentified : bool, optional
            ``True``: the input was de-identified (a DICOM object with PatientIdentityRemoved YES);
            ``False``: ``reader_id`` is a real id (a read document's reader); ``None``: a
            pseudonym of this map that is not also a real id of it is kept.
        """
        r = normalize_reader_id(reader_id)
        if self._already_reader_pseudonym(r, deidentified):
            return r
        if r not in self._readers:
            # never a pseudonym equal to a known real id (a reader whose id is READER-02 was given
            # READER-02, and the reader given READER-01 shared it with a real READER-01)
            used = set(self._readers.values()) | set(self._readers) | {r}
            n = len(set(self._readers.values())) + 1
            while f"{READER_PSEUDONYM_PREFIX}-{n:02d}" in used:
                n += 1
            self._readers[r] = f"{READER_PSEUDONYM_PREFIX}-{n:02d}"
        return self._readers[r]

    def _already_reader_pseudonym(self, reader: str, deidentified: bool | None) -> bool:
        """:meth:`_already_pseudonym` for a (normalised) reader id."""
        if deidentified is False or reader not in set(self._readers.values()):
            return False
        return True if deidentified else reader not in self._readers

    def uid(self, original: str) -> str:
        """New UID for ``original`` (same answer every time); registry UIDs are kept."""
        from pydicom.uid import generate_uid

        o = str(original).strip().rstrip("\x00")
        if not o or o.startswith(_REGISTRY_UID_PREFIXES):
            return o
        if o in self._uids.values():
            return o  # already ours
        if o not in self._uids:
            # the decimal form of a random (version 4) UUID: the 2.25 arc allows only UUIDs
            # (PS3.5 B.2, ISO/IEC 9834-8), at most 39 digits; prefix="2.25." would pad it with
            # random digits to 64 characters, a number above 2**128
            self._uids[o] = str(generate_uid(prefix=None))
        return self._uids[o]

    def dummy(self, keyword: str, value: str) -> str:
        """A stable dummy replacement for an identifying string (D action)."""
        key = f"{keyword}:{value}"
        if key not in self._dummies:
            self._dummies[key] = f"DEID-{len(self._dummies) + 1:04d}"
        return self._dummies[key]

    def shift_date(self, value: dt.date, patient_id: str, *, deidentified: bool | None = None) -> dt.date:
        return value + dt.timedelta(days=self.date_shift_days(patient_id, deidentified=deidentified))

    def shift_da(self, value: str, patient_id: str, *, deidentified: bool | None = None) -> str:
        """Shift a DICOM DA string (YYYYMMDD); partial or bad dates become empty."""
        s = str(value).strip()
        if len(s) < 8:
            return ""
        try:
            d = dt.datetime.strptime(s[:8], "%Y%m%d").date()
        except ValueError:
            return ""
        return self.shift_date(d, patient_id, deidentified=deidentified).strftime("%Y%m%d")

    def shift_dt(self, value: str, patient_id: str, *, deidentified: bool | None = None) -> str:
        """Shift the date part of a DICOM DT string; the time part is kept."""
        s = str(value).strip()
        if len(s) < 8:
            return ""
        new = self.shift_da(s[:8], patient_id, deidentified=deidentified)
        return new + s[8:] if new else ""

    # -- read documents ------------------------------------------------------------------
    def deidentify_read(self, read: ExportRead) -> ExportRead:
        """Pseudonymous copy of an :class:`~hcc_imaging.export.model.ExportRead`."""
        from .deid_timepoints import rename_document_timepoints, rename_read_timepoints, timepoint_map

        pid = read.patient_id
        # a read is of a real patient: its id is keyed even when it looks like a pseudonym
        new_pid = self.pseudonym(pid, deidentified=False)
        # time point ids typed by a person (often the scan's date): neutral ones, BL, FU1 ...
        tp_map = timepoint_map(self, pid, [t.timepoint_id for t in sorted(read.timepoints, key=lambda t: t.index)])
        read = rename_read_timepoints(read, tp_map)
        shift = dt.timedelta(days=self.date_shift_days(pid, deidentified=False))
        # a read's reader is a real one: keyed even when the id looks like a pseudonym
        new_reader = self.reader(read.reader_id, deidentified=False) if read.reader_id else None

        def sd(d: dt.date | None) -> dt.date | None:
            return d + shift if d is not None else None

        tps = tuple(
            replace(
                t,
                date=sd(t.date),
                study_instance_uid=self.uid(t.study_instance_uid) if t.study_instance_uid else None,
            )
            for t in read.timepoints
        )
        lesions = tuple(
            replace(
                les,
                patient_id=new_pid,
                tracking_uid=self.uid(les.tracking_uid) if les.tracking_uid else None,
                provenance=(
                    self.source(les.provenance, reader_id=read.reader_id, algorithm=read.algorithm)
                    if les.provenance is not None
                    else None
                ),
            )
            for les in read.lesions
        )
        return replace(
            read,
            patient_id=new_pid,
            reader_id=new_reader,
            patient_name=None,
            timepoints=tps,
            lesions=lesions,
            responses=tuple(replace(r, patient_id=new_pid) for r in read.responses),
            summaries=tuple(replace(s, patient_id=new_pid) for s in read.summaries),
            treatments=tuple(
                replace(t, patient_id=new_pid, start_date=sd(t.start_date), end_date=sd(t.end_date))
                for t in read.treatments
            ),
            document=(
                rename_document_timepoints(self.deidentify_document(read.document, patient_id=pid), tp_map)
                if read.document is not None
                else None
            ),
        )

    def source(self, value: str, *, reader_id: str | None = None, algorithm: str | None = None) -> str:
        """De-identified ``source`` / ``provenance`` of a lesion: who or what measured it.

        An algorithm (``algorithm``, the read's own; a ``hcc_imaging...`` name; ``NAME VERSION``
        with a dotted version, ``dcmqi 1.2.4``, as the batch and the study store write it; or the
        napari read's ``algorithm:NAME/VERSION``) is kept; a
        store's ``reader:ID`` keeps its prefix with the reader's pseudonym; anything else is a
        person (the read's reader, or an SR observer's name as the SR import writes it) and becomes
        a reader pseudonym, so a name never survives in the de-identified set.  A source that names a
        file (an imported mask's, ``imported:Doe_John_liver_seg.nii.gz (hcc_imaging 0.1.0)``) is
        ``imported mask``, never the file's name (``_file_sources``).
        """
        v = str(value).strip()
        if not v:
            return v
        if names_a_file(v) or v == IMPORTED_MASK_SOURCE:
            return IMPORTED_MASK_SOURCE
        if v.lower().startswith("reader:"):
            return "reader:" + self.reader(v.split(":", 1)[1], deidentified=False)
        if reader_id is not None and normalize_reader_id(v) == normalize_reader_id(reader_id):
            return self.reader(v, deidentified=False)
        from ._sr_roundtrip import split_algorithm_source

        words = v.split()
        if (algorithm and v == str(algorithm).strip()) or v.startswith("hcc_imaging") or v == "imported-from-SR" or (
            len(words) >= 2 and _VERSION.fullmatch(words[-1]) and "^" not in v
        ) or (v.startswith(ALGORITHM_PREFIX) and split_algorithm_source(v) is not None):
            return v
        return self.reader(v, deidentified=False)

    def note(self, text: str) -> str | None:
        """De-identified free-text ``note``: only the sentences hcc_imaging writes itself are kept
        (``Couinaud segment VII``; ``imported from DICOM SR <UID>``, its UID remapped with the
        same map as the DICOM objects); any other text (typed by a person, it may name someone) is
        dropped, part by part (``"; "``-separated).  None when nothing is left."""
        kept = []
        for part in str(text).split(";"):
            part = part.strip()
            m = _IMPORTED_SR_NOTE.fullmatch(part)
            if m:
                kept.append(f"{m.group(1)}{self.uid(m.group(2))}")
            elif _SEGMENT_NOTE.fullmatch(part):
                kept.append(part)
        return "; ".join(kept) or None

    def deidentify_document(self, doc: Mapping[str, Any], *, patient_id: str | None = None) -> dict[str, Any]:
        """De-identify a read-document dict: ids pseudonymised, dates shifted, UIDs remapped,
        names and free text removed; lesion sources (:meth:`source`) and notes (:meth:`note`)
        de-identified."""
        pid = patient_id if patient_id is not None else str(doc.get("patient_id", ""))
        drop = {"patient_name", "name", "birth_date", "notes", "comment", "comments", "free_text"}
        doc_reader = doc.get("reader_id", doc.get("reader"))
        doc_reader = doc_reader if isinstance(doc_reader, str) else None
        doc_algorithm = doc.get("algorithm") if isinstance(doc.get("algorithm"), str) else None

        def walk(obj: Any, key: str = "") -> Any:
            if isinstance(obj, Mapping):
                out: dict[str, Any] = {}
                for k, v in obj.items():
                    lk = str(k).lower()
                    if lk in drop:
                        continue
                    if lk == "patient_id" and v is not None:
                        out[k] = self.pseudonym(str(v), deidentified=False)
                    elif lk in {"reader", "reader_id", "adjudicator"} and isinstance(v, str):
                        out[k] = self.reader(v, deidentified=False)
                    elif lk in {"source", "provenance"} and isinstance(v, str):
                        out[k] = self.source(v, reader_id=doc_reader, algorithm=doc_algorithm)
                    elif lk == "note" and isinstance(v, str):
                        note = self.note(v)
                        if note is not None:
                            out[k] = note
                    elif isinstance(v, str) and (lk == "date" or lk.endswith("_date") or lk in {"start", "end"}):
                        out[k] = self._shift_iso(v, pid)
                    elif isinstance(v, str) and (lk.endswith("_uid") or lk == "uid"):
                        out[k] = self.uid(v)
                    else:
                        out[k] = walk(v, lk)
                return out
            if isinstance(obj, list):
                return [walk(v, key) for v in obj]
            return obj

        result: dict[str, Any] = walk(doc)
        return result

    def _shift_iso(self, value: str, patient_id: str) -> str:
        s = value.strip()
        try:
            d = dt.date.fromisoformat(s[:10])
        except ValueError:
            return ""
        return self.shift_date(d, patient_id, deidentified=False).isoformat() + s[10:]

    # -- DICOM ---------------------------------------------------------------------------
    def deidentify_dataset(self, ds: Dataset, *, patient_id: str | None = None, in_place: bool = False) -> Dataset:
        """See :func:`deidentify_dataset`."""
        return deidentify_dataset(ds, self, patient_id=patient_id, in_place=in_place)


def _pseudonym_number(pseudonym: str) -> int:
    """``HCC-0012`` -> 12 (0 for anything else)."""
    head, _, num = str(pseudonym).rpartition("-")
    return int(num) if head == PSEUDONYM_PREFIX and num.isdigit() else 0

"""DICOMweb (PACS) access for the batch engine: QIDO-RS search, WADO-RS retrieve, STOW-RS store.

Built on ``dicomweb-client``.  A batch SOURCE ``dicomweb+http://host:port/dicom-web`` (or
``dicomweb+https://``) is listed with QIDO-RS (studies, then the instances of each study, whose
SOP Instance UIDs make the study's input hash); each worker retrieves its study with WADO-RS into
``OUT/cache/dicomweb/<StudyInstanceUID>/`` (original transfer syntax; a cache left by an
interrupted run is brought to the server's current instance list first), indexes it and runs the
same per-study pipeline as for files.  Our SEG / SR objects go back with STOW-RS.

A user name and password in the URL (``dicomweb+https://USER:PASSWORD@host/dicom-web``) are sent
with HTTP basic authentication and never shown: every URL this module prints, logs or puts in a
record or an error has them as ``USER:***@`` (:func:`redact_url`).

Searches are paged (QIDO ``offset`` / ``limit``) until a page brings nothing new, and a study's
instance list is checked against the server's NumberOfStudyRelatedInstances (0020,1208) before it
is retrieved: a server that caps its search results (Orthanc ``LimitFindInstances``) fails the study
(step ``retrieve``), it is never measured on part of its images.  A search answer's HTTP ``Warning:
299`` header saying the results were truncated (DICOM PS3.18: "The number of results exceeded the
maximum supported by the server. Additional results can be requested.") is read: paging on past it is
expected; a search that ends on such a page (the next page empty, or the same again) is truncated, and
fails the study (instance search) or the run (study search) as a short count does.  A 299 warning of
another kind (e.g. fuzzy matching not supported) is logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HccImagingError

if TYPE_CHECKING:  # pragma: no cover
    from ..batch.pipeline import PipelineOptions, StudyTask

__all__ = [
    "DicomWebError",
    "DicomWebSource",
    "parse_dicomweb_url",
    "redact_url",
    "remote_tasks",
    "process_remote_study",
    "retrieved",
]

log = logging.getLogger(__name__)

_SCHEMES = ("dicomweb+http://", "dicomweb+https://")
#: HTTP attempts per request (dicomweb-client's exponential back-off between them) and the
#: back-off multiplier (ms): a busy PACS gets ~1.5 s of retries, a dead one fails fast.
DICOMWEB_MAX_ATTEMPTS: int = 3
DICOMWEB_BACKOFF_MS: int = 250
_PATIENT_ID = "00100020"
_STUDY_UID = "0020000D"
_STUDY_DATE = "00080020"
_MODALITIES_IN_STUDY = "00080061"
#: Modalities of the objects that hold a study's lesion masks (a study with one has lesions of its
#: own: ``--carry`` carries them to the patient's later studies).
_MASK_MODALITIES = frozenset({"SEG", "RTSTRUCT"})
_SERIES_UID = "0020000E"
_SOP_UID = "00080018"
_N_STUDY_INSTANCES = "00201208"
_MODALITY = "00080060"
_SERIES_DATE = "00080021"
_ACQUISITION_DATE = "00080022"
_CONTENT_DATE = "00080023"
#: modalities of series that are no images: their dates are the day they were made, not the scan's
_NO_IMAGE_MODALITIES = frozenset({"SEG", "RTSTRUCT", "SR", "KO", "PR", "REG", "RTPLAN", "RTDOSE", "DOC", "OT_SR"})
#: QIDO-RS page sizes (``limit``): the next page is asked for at ``offset`` + the results received,
#: until a page brings nothing new (a server may cap a page below ``limit``, or ignore ``offset``).
QIDO_STUDY_PAGE: int = 500
QIDO_INSTANCE_PAGE: int = 5000


class DicomWebError(HccImagingError, RuntimeError):
    """A DICOMweb request failed (server unreachable, HTTP error, unexpected answer)."""


#: ``scheme://user:password@`` (and ``scheme://user@``) in any text: the user info of a URL.
_USERINFO = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::[^/@\s]*)?@")


def redact_url(text: object) -> str:
    """``text`` with the password of every URL in it replaced by ``***``:
    ``dicomweb+http://reader:s3cret@pacs/dicom-web`` -> ``dicomweb+http://reader:***@pacs/dicom-web``
    (a URL without a password is unchanged)."""
    def sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        if ":" not in whole[len(m.group("pre")):]:
            return whole  # user name only: nothing secret
        return f"{m.group('pre')}{m.group('user')}:***@"

    return _USERINFO.sub(sub, str(text))


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://u:p@h/x`` -> (``http://h/x``, (u, p)) (percent-decoded); a URL without user info as is."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host)), (unquote(parts.username or ""), unquote(parts.password or ""))


def parse_dicomweb_url(source: str) -> str:
    """``dicomweb+http://h:p/dicom-web`` -> ``http://h:p/dicom-web`` (plain http(s) URLs pass through).

    Raises
    ------
    DicomWebError
        Not an http(s) URL.
    """
    s = str(source)
    shown = redact_url(s)
    for sch in _SCHEMES:
        if s.startswith(sch):
            return s[len("dicomweb+"):].rstrip("/")
    if s.startswith(("http://", "https://")):
        return s.rstrip("/")
    raise DicomWebError(
        f"{shown!r} is not a DICOMweb URL. Write it as dicomweb+http://HOST:PORT/dicom-web "
        "(the base URL of the server's QIDO/WADO/STOW services)."
    )


#: One warning of an HTTP ``Warning`` header (RFC 7234 5.5: ``code agent "text"``; several are comma-separated).
#: Lenient: DICOM PS3.18 prints ``299 {+service}: "text"``, and some servers leave the text unquoted.
_WARNING = re.compile(r'(?:^|,)\s*(\d{3})\s+([^\s,"]+)\s*("(?:[^"\\]|\\.)*"|[^,]*)')
#: Words of a 299 warning that says a search's results were cut (PS3.18: "The number of results exceeded the
#: maximum supported by the server. Additional results can be requested."; dcm4chee: "There are N additional
#: results that can be requested").
_TRUNCATION_WORDS = re.compile(r"exceed|maximum|additional results|more results|remaining results|truncat|too many|"
                               r"limit", re.IGNORECASE)


def _warnings_299(headers: Iterable[str]) -> list[tuple[str, bool]]:
    """``(text, says truncated?)`` of every 299 (miscellaneous persistent) warning in ``Warning`` header values."""
    out = []
    for value in headers:
        for code, _agent, text in _WARNING.findall(str(value)):
            if code == "299":
                t = text.strip().strip('"').strip()
                out.append((t, bool(_TRUNCATION_WORDS.search(t))))
    return out


def _value(ds: dict[str, Any], tag: str) -> str:
    v = ds.get(tag, {}).get("Value")
    if not v:
        return ""
    x = v[0]
    if isinstance(x, dict):  # PN
        return str(x.get("Alphabetic", ""))
    return str(x)


class DicomWebSource:
    """A DICOMweb server (thin wrapper over :class:`dicomweb_client.api.DICOMwebClient`).

    Parameters
    ----------
    url : str
        Base URL, with or without the ``dicomweb+`` prefix.
    timeout_s : float
        Per-request timeout.
    max_attempts : int
        HTTP attempts per request (retries with exponential back-off).
    """

    def __init__(self, url: str, *, timeout_s: float = 60.0, max_attempts: int = DICOMWEB_MAX_ATTEMPTS) -> None:
        import requests
        from dicomweb_client.api import DICOMwebClient

        full = parse_dicomweb_url(url)
        #: the base URL as shown in messages and records (a password as ``***``)
        self.url = redact_url(full)
        #: the base URL as given, credentials included: what a worker connects with (never shown)
        self.source_url = full
        base, auth = _split_credentials(full)
        session = requests.Session()
        if auth is not None:  # HTTP basic authentication; the URL the client sees has no credentials
            session.auth = auth
        self._client = DICOMwebClient(url=base, session=session)
        self._client.set_http_retry_params(retry=max_attempts > 1, max_attempts=max(1, max_attempts),
                                           wait_exponential_multiplier=DICOMWEB_BACKOFF_MS)
        self._timeout = timeout_s
        #: the ``Warning`` header values of the answers since it was last cleared (``_paged`` reads them)
        self._http_warnings: list[str] = []
        self._client._session.request = _with_timeout(self._client._session.request, timeout_s,  # noqa: SLF001
                                                      self._http_warnings)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import requests

        try:
            return fn(*args, **kwargs)
        except (requests.RequestException, OSError) as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            detail = redact_url(err)
            if status in (401, 403):
                raise DicomWebError(
                    f"DICOMweb {what} at {self.url}: authentication failed / not authorised (HTTP {status}). Check the "
                    "user name and password (dicomweb+http://USER:PASSWORD@HOST:PORT/dicom-web) and that this user "
                    "may read the server's studies."
                ) from None
            if status == 404:
                raise DicomWebError(
                    f"DICOMweb {what} at {self.url}: not found on the server (HTTP 404; deleted since the run listed "
                    f"it?): {detail}"
                ) from None
            raise DicomWebError(
                f"DICOMweb {what} at {self.url} failed: {detail}. Check that the server is running and that "
                "its DICOMweb plugin serves this base URL."
            ) from None

    def _paged(self, what: str, fn: Any, key: Any, page: int, **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
        """Every result of a QIDO-RS search, page by page (``offset`` advanced by the results
        received, so a server capping a page below ``limit`` is paged on), until a page is empty or
        brings nothing new (a server ignoring ``offset`` returns the same page again: a warning).

        Returns the results and, when the last page that brought results carried a ``Warning: 299``
        saying they were truncated (and paging on brought no more), that warning's text: the list is
        incomplete.  Other 299 warnings are logged once."""
        out: list[dict[str, Any]] = []
        seen: set[Any] = set()
        offset = 0
        truncated: str | None = None
        logged: set[str] = set()
        while True:
            self._http_warnings.clear()
            res = self._call(what, fn, offset=offset, limit=page, **kwargs) or []
            page_truncated = None
            for text, cut in _warnings_299(self._http_warnings):
                if cut:
                    page_truncated = page_truncated or text
                elif text not in logged:
                    logged.add(text)
                    log.warning("the DICOMweb server %s answered the %s with a warning: 299 %r", self.url, what, text)
            if not res:
                return out, truncated
            new = []
            for ds in res:
                k = key(ds)
                if k not in seen:
                    seen.add(k)
                    new.append(ds)
            if not new:
                log.warning("the DICOMweb server %s answered the %s at offset %d with results it had already given: "
                            "it ignores the QIDO-RS offset parameter; took the %d results it listed (if it holds "
                            "more, they are not seen: fix its paging, or search it in parts)", self.url, what,
                            offset, len(out))
                return out, truncated or page_truncated
            out += new
            offset += len(res)
            truncated = page_truncated

    def search_studies(self) -> list[dict[str, Any]]:
        """QIDO-RS: every study (``patient_id``, ``study_instance_uid``, ``study_date``,
        ``modalities``: its ModalitiesInStudy; ``n_instances``: its NumberOfStudyRelatedInstances,
        None when the server does not give it), paged (:data:`QIDO_STUDY_PAGE`).

        Raises
        ------
        DicomWebError
            The server says its results were truncated (``Warning: 299``) and paging got no more.
        """
        res, truncated = self._paged("study search", self._client.search_for_studies,
                          lambda ds: (_value(ds, _STUDY_UID), _value(ds, _PATIENT_ID)), QIDO_STUDY_PAGE,
                          fields=["PatientID", "StudyDate", "ModalitiesInStudy", "NumberOfStudyRelatedInstances"])
        if truncated:
            raise DicomWebError(
                f"the DICOMweb server {self.url} listed {len(res)} studies and says its search results were truncated "
                f"(HTTP Warning: 299 {truncated!r}), and asking for the next page brought no more: the run would miss "
                "studies. Raise the server's limit on search results (Orthanc: LimitFindResults; dcm4chee: its QIDO "
                "max number of results) or make it page QIDO-RS offset/limit, then run again.")
        return [{"patient_id": _value(ds, _PATIENT_ID), "study_instance_uid": _value(ds, _STUDY_UID),
                 "study_date": _value(ds, _STUDY_DATE),
                 "modalities": [str(m) for m in ds.get(_MODALITIES_IN_STUDY, {}).get("Value", [])],
                 "n_instances": _count(ds)}
                for ds in res]

    def study_instance_count(self, study_uid: str) -> int | None:
        """QIDO-RS: the study's NumberOfStudyRelatedInstances (None when the server does not give it).

        Raises
        ------
        DicomWebError
            The server does not list the study (deleted since the run listed it).
        """
        res = self._call(f"search of study {study_uid}", self._client.search_for_studies,
                         search_filters={"StudyInstanceUID": study_uid}, fields=["NumberOfStudyRelatedInstances"])
        res = [ds for ds in res or [] if _value(ds, _STUDY_UID) in ("", study_uid)]
        if not res:
            raise DicomWebError(f"study {study_uid} is no longer on the server {self.url} (deleted since the run listed "
                                "it): nothing to retrieve.")
        counts = [_count(ds) for ds in res]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)

    def study_instances(self, study_uid: str) -> list[tuple[str, str]]:
        """QIDO-RS: ``(SeriesInstanceUID, SOPInstanceUID)`` of every instance of a study, sorted (the
        instances the server listed: :meth:`complete_study_instances` checks they are all)."""
        return self._study_instances(study_uid)[0]

    def _study_instances(self, study_uid: str) -> tuple[list[tuple[str, str]], str | None]:
        """:meth:`study_instances` and the text of a truncation warning ending the search (None: none)."""
        res, truncated = self._paged(f"instance search of study {study_uid}", self._client.search_for_instances,
                          lambda ds: (_value(ds, _SERIES_UID), _value(ds, _SOP_UID)), QIDO_INSTANCE_PAGE,
                          study_instance_uid=study_uid, fields=["SeriesInstanceUID", "SOPInstanceUID"])
        return sorted((_value(ds, _SERIES_UID), _value(ds, _SOP_UID)) for ds in res), truncated

    def complete_study_instances(self, study_uid: str) -> list[tuple[str, str]]:
        """:meth:`study_instances`, checked against the study's NumberOfStudyRelatedInstances when
        the server gives it.

        Raises
        ------
        DicomWebError
            The study is no longer on the server, or the server listed fewer (or more) instances than
            it says the study holds, or it says the listing was truncated (``Warning: 299``): its search
            results are capped, or the study is still arriving.
        """
        wanted, truncated = self._study_instances(study_uid)
        if truncated:
            raise DicomWebError(
                f"study {study_uid}: the server {self.url} listed {len(wanted)} instances and says its search results "
                f"were truncated (HTTP Warning: 299 {truncated!r}), and asking for the next page brought no more, so "
                "it is not measured on part of its images: raise the server's limit on search results (Orthanc: "
                "LimitFindInstances; dcm4chee: its QIDO max number of results) or make it page QIDO-RS offset/limit.")
        expected = self.study_instance_count(study_uid)  # (after the listing: a study deleted meanwhile is named)
        if expected is not None and len(wanted) != expected:
            if len(wanted) < expected:
                raise DicomWebError(
                    f"study {study_uid}: the server {self.url} listed {len(wanted)} of its {expected} instances "
                    "(NumberOfStudyRelatedInstances), so it is not measured on part of its images: raise the server's "
                    "limit on search results (Orthanc: LimitFindInstances; dcm4chee: its QIDO max number of results), "
                    "or the study is still arriving: run again with --resume once it is complete.")
            raise DicomWebError(
                f"study {study_uid}: the server {self.url} listed {len(wanted)} instances but says the study holds "
                f"{expected} (NumberOfStudyRelatedInstances): it changed while it was listed. Run again with --resume.")
        if not wanted:
            raise DicomWebError(f"study {study_uid}: the server {self.url} lists no instance of it: nothing to retrieve.")
        return wanted

    def retrieve_study(self, study_uid: str, dest: str | os.PathLike[str]) -> list[Path]:
        """WADO-RS: write every instance of the study to ``dest/<series>/<sop>.dcm`` (original syntax).

        ``dest`` is made to hold the server's instances of the study as they are now (QIDO-RS):
        files already present are kept (a retried task, or a run resumed after Ctrl+C, does not
        download them again), and every other file under ``dest`` (an instance deleted on the
        server since, e.g. a SEG a reader removed) is deleted, so it is never indexed and measured.
        """
        from ..batch.resume import atomic_write_bytes

        root = Path(dest)
        wanted = self.complete_study_instances(study_uid)
        keep = {root / series_uid / f"{sop_uid}.dcm" for series_uid, sop_uid in wanted}
        have: set[Path] = set()
        if root.is_dir():
            for p in root.rglob("*"):
                if not p.is_file() or p.name.startswith("."):  # (a concurrent writer's temporary file)
                    continue
                if p in keep:
                    have.add(p)
                else:
                    log.info("study %s: %s is no longer on %s: deleted from the retrieve cache", study_uid, p, self.url)
                    p.unlink(missing_ok=True)
        paths: list[Path] = []
        for series_uid, sop_uid in wanted:
            p = root / series_uid / f"{sop_uid}.dcm"
            paths.append(p)
            if p in have:
                continue
            ds = self._call(
                f"retrieve of instance {sop_uid}", self._client.retrieve_instance,
                study_instance_uid=study_uid, series_instance_uid=series_uid, sop_instance_uid=sop_uid,
                media_types=(("application/dicom", "*"),),
            )
            import io

            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            atomic_write_bytes(p, buf.getvalue())
        return paths

    def store(self, files: Iterable[str | os.PathLike[str]]) -> int:
        """STOW-RS the DICOM files; returns how many were sent."""
        import pydicom

        datasets = [pydicom.dcmread(str(f)) for f in files]
        if not datasets:
            return 0
        self._call("store (STOW-RS)", self._client.store_instances, datasets=datasets)
        return len(datasets)

    def image_series_dates(self, study_uid: str) -> list[Any]:
        """QIDO-RS: one ``(series_date, modality)`` record per series of the study, for
        :func:`hcc_imaging.batch.dates.study_order_date` (a study without a StudyDate): the
        SeriesDate, else its first instance's AcquisitionDate, else ContentDate."""
        from types import SimpleNamespace

        out = []
        for ds in self._call(f"series search of study {study_uid}", self._client.search_for_series,
                             study_instance_uid=study_uid, fields=["SeriesDate", "Modality"]) or []:
            date = _value(ds, _SERIES_DATE)
            series_uid = _value(ds, _SERIES_UID)
            if not date.strip() and series_uid:
                first = self._call(f"instance search of series {series_uid}", self._client.search_for_instances,
                                   study_instance_uid=study_uid, series_instance_uid=series_uid, limit=1,
                                   fields=["AcquisitionDate", "ContentDate"]) or []
                if first:
                    date = _value(first[0], _ACQUISITION_DATE).strip() or _value(first[0], _CONTENT_DATE)
            out.append(SimpleNamespace(series_date=date, modality=_value(ds, _MODALITY).upper()))
        return out

    def search_series(self, study_uid: str | None = None, modality: str | None = None) -> list[dict[str, Any]]:
        """QIDO-RS series search (raw DICOM JSON), optionally by study and modality."""
        filters = {"Modality": modality} if modality else None
        return list(self._call("series search", self._client.search_for_series, study_instance_uid=study_uid,
                               search_filters=filters))


def _count(ds: dict[str, Any]) -> int | None:
    v = _value(ds, _N_STUDY_INSTANCES)
    try:
        return int(v) if v != "" else None
    except ValueError:
        return None


def _with_timeout(request: Any, timeout_s: float, warnings: list[str] | None = None) -> Any:
    """``request`` with a default timeout; the ``Warning`` header of each answer appended to ``warnings``."""
    def call(method: str, url: str, **kw: Any) -> Any:
        kw.setdefault("timeout", timeout_s)
        response = request(method, url, **kw)
        if warnings is not None:
            value = getattr(response, "headers", {}).get("Warning")
            if value:
                warnings.append(str(value))
        return response

    return call


def remote_tasks(source: str, options: PipelineOptions, out_dir: str | os.PathLike[str]) -> list[StudyTask]:
    """One batch task per study on the server (QIDO-RS), keyed by the study's SOP Instance UIDs.

    Raises
    ------
    DicomWebError
        The server cannot be searched, or holds no study.
    """
    from ..batch.dates import DATE_NOTE, is_dicom_date, study_order_date
    from ..batch.pipeline import StudyInputs, StudyTask
    from ..batch.resume import content_key
    from .index import patient_key

    src = DicomWebSource(source)
    studies = src.search_studies()
    if not studies:
        raise DicomWebError(f"the DICOMweb server {src.url} holds no study (QIDO-RS returned none).")
    cache = Path(out_dir) / "cache" / "dicomweb"
    # a StudyInstanceUID names one exam of one patient: a server holding it under two patients (a
    # bad anonymiser, a copy given another PatientID; Orthanc keeps them as two studies) would have
    # each patient's task retrieve both patients' instances into one folder, so both are refused,
    # as tasks_from_index refuses them in a folder archive (a failure row, step index; nothing retrieved)
    patients_of: dict[str, set[str]] = {}
    for st in studies:
        patients_of.setdefault(st["study_instance_uid"], set()).add(patient_key(st["patient_id"], st["study_instance_uid"]))
    tasks = []
    for st in studies:
        uid = st["study_instance_uid"]
        sharing = sorted(patients_of[uid])
        extra: dict[str, Any] = {}
        if len(sharing) > 1:
            extra["index_error"] = (
                f"{len(sharing)} patients share StudyInstanceUID {uid} on the DICOMweb server {src.url}: "
                f"{', '.join(sharing)}. A StudyInstanceUID names one exam of one patient (a bad anonymiser, or a copy "
                "given another PatientID), so none of them is measured (their instances, masks and outputs would be "
                "mixed up). Fix the DICOM on the server: give the wrong copy new StudyInstanceUIDs (and series and SOP "
                "instance UIDs), or correct its PatientID.")
        # no StudyDate: dated from its image series (the driver warns), never "" sorted first as the
        # baseline (the retrieved files date it the same way: local_task)
        study_date, date_note = st["study_date"], None
        if not is_dicom_date(study_date):
            study_date, date_note = study_order_date(
                study_date, src.image_series_dates(uid), lambda se: se.modality not in _NO_IMAGE_MODALITIES,
                f"{uid} (on the DICOMweb server {src.url})")
            if date_note is not None:
                extra[DATE_NOTE] = date_note
        inst = src.study_instances(uid)
        ih = hashlib.sha256("\n".join(f"{a}/{b}" for a, b in inst).encode()).hexdigest()
        if len(sharing) > 1:  # (the patients' tasks would share one key, so one record: each its own)
            ih = hashlib.sha256(f"{patient_key(st['patient_id'], uid)}\n{ih}".encode()).hexdigest()
        tasks.append(
            StudyTask(
                key=content_key(uid, ih, options.key_options()),
                patient_id=patient_key(st["patient_id"], uid),  # an empty PatientID: a patient of its own
                study_instance_uid=uid,
                study_date=study_date,
                root=str(cache / uid),
                series=(),
                # a SEG / RTSTRUCT on the server: lesions of its own (files known once retrieved)
                inputs=StudyInputs(remote_masks=bool(_MASK_MODALITIES & set(st.get("modalities", ())))),
                input_hash=ih,
                dicomweb_url=src.source_url,  # (shown, stored: redact_url)
                extra=extra,
            )
        )
    tasks.sort(key=lambda t: (t.patient_id, t.study_date, t.study_instance_uid))
    return tasks


def local_task(task: StudyTask, options: PipelineOptions) -> StudyTask:
    """The files-based task of a retrieved remote study (same key; the study its lesions are
    carried from, ``carry_from``, kept as it is: :func:`retrieved`)."""
    from ..batch.pipeline import StudyStepError, tasks_from_index
    from ..io import index_archive

    # the driver warned about a study without a PatientID when it listed the server (run_batch)
    idx = index_archive(task.root, warn_no_patient_ids=False)
    local = [t for t in tasks_from_index(idx, options, archive_root=task.root)
             if t.study_instance_uid == task.study_instance_uid]
    if not local:
        raise StudyStepError("retrieve", f"study {task.study_instance_uid}: nothing usable was retrieved into {task.root}.")
    return replace(local[0], key=task.key, root=task.root, dicomweb_url=task.dicomweb_url, carry_from=task.carry_from)


def retrieved(task: StudyTask, options: PipelineOptions) -> StudyTask:
    """A remote study retrieved (WADO-RS, into ``task.root``; files already there are kept) as a
    files-based task, and so the earlier studies its lesions are carried from (``--carry``): the
    worker of a follow-up retrieves the baseline whose SEG it carries."""
    from ..batch.pipeline import StudyStepError

    src = task.carry_from
    if src is not None and src.dicomweb_url is not None:
        src = retrieved(src, options)
    if task.dicomweb_url is None:
        return replace(task, carry_from=src)
    try:
        DicomWebSource(task.dicomweb_url).retrieve_study(task.study_instance_uid, task.root)
    except DicomWebError as err:
        raise StudyStepError("retrieve", str(err)) from err
    local = local_task(task, options)
    # the server's URL kept in ``extra`` (its password as ***): an error about the study's lesions names the
    # server, not the cache folder
    return replace(local, dicomweb_url=None, carry_from=src,
                   extra={**local.extra, "dicomweb_url": redact_url(task.dicomweb_url)})


def process_remote_study(task: StudyTask, options: PipelineOptions) -> dict[str, Any]:
    """Worker side of a DICOMweb task: WADO-RS retrieve, then :func:`~hcc_imaging.batch.process_study`."""
    from ..batch.pipeline import StudyStepError, process_study

    if task.dicomweb_url is None:
        raise StudyStepError("retrieve", f"study {task.study_instance_uid} has no DICOMweb URL.")
    if task.extra.get("index_error"):  # refused by remote_tasks: nothing is retrieved
        raise StudyStepError("index", str(task.extra["index_error"]))
    rec = process_study(retrieved(task, options), options)
    rec["dicomweb_url"] = redact_url(task.dicomweb_url)  # (the password, if any, as ***)
    return rec


def stow_files(url: str, files: Sequence[str | os.PathLike[str]]) -> int:
    """STOW-RS ``files`` to ``url``; returns the number stored."""
    return DicomWebSource(url).store(files)

"""DICOMweb searches against servers that misbehave in ways Orthanc cannot show (a tiny local HTTP
server of our own): one that ignores QIDO ``limit`` / ``offset`` (the study search paged forever),
one that caps every page below ``limit`` but pages properly (the search stopped after its first
page), and credentials in the URL (sent as HTTP basic authentication, never shown).

Orthanc itself (its LimitFindInstances, authentication, a study deleted mid-run) is tested in
test_batch_orthanc.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hcc_imaging.io.dicomweb import DicomWebError, DicomWebSource, redact_url


def _study(i: int, n_instances: int | None = None) -> dict[str, Any]:
    ds: dict[str, Any] = {"0020000D": {"vr": "UI", "Value": [f"1.2.3.{i}"]}, "00100020": {"vr": "LO", "Value": [f"P{i}"]},
                          "00080020": {"vr": "DA", "Value": ["20240101"]}}
    if n_instances is not None:
        ds["00201208"] = {"vr": "IS", "Value": [n_instances]}
    return ds


def _instance(study: int, j: int) -> dict[str, Any]:
    return {"0020000E": {"vr": "UI", "Value": [f"1.2.3.{study}.1"]}, "00080018": {"vr": "UI", "Value": [f"1.2.3.{study}.1.{j}"]}}


@contextlib.contextmanager
def _server(answer: Callable[[str, dict[str, list[str]], Any], tuple[Any, ...]]) -> Iterator[tuple[str, list[str]]]:
    """A DICOMweb stand-in on 127.0.0.1: ``answer(path, query, headers) -> (status, json body[, headers])``;
    yields its base URL (``http://127.0.0.1:PORT/dicom-web``) and the request paths it got."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            calls.append(self.path)
            parts = urlsplit(self.path)
            status, body, *extra = answer(parts.path, parse_qs(parts.query), self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/dicom-web", calls
    finally:
        srv.shutdown()
        srv.server_close()


def _page(items: list[Any], q: dict[str, list[str]], cap: int | None = None) -> list[Any]:
    off = int(q.get("offset", ["0"])[0])
    lim = int(q.get("limit", [str(len(items))])[0])
    if cap is not None:
        lim = min(lim, cap)
    return items[off:off + lim]


def test_server_ignoring_limit_and_offset_is_listed_once(caplog) -> None:
    """600 studies, every request answered with all of them: the search stopped after the 2nd page
    (which brought nothing new) with a warning naming the server; it paged forever (offset 190 500
    after 15 s, memory growing; here the stand-in answers nothing after 50 requests)."""
    studies = [_study(i) for i in range(600)]

    def answer(path: str, q: dict[str, list[str]], headers: Any) -> tuple[int, Any]:
        return 200, (studies if len(calls) <= 50 else [])

    with _server(answer) as (url, calls), caplog.at_level(logging.WARNING, logger="hcc_imaging.io.dicomweb"):
        got = DicomWebSource(f"dicomweb+{url}").search_studies()
    assert len(got) == 600 and len({s["study_instance_uid"] for s in got}) == 600
    assert len(calls) == 2, calls
    assert "ignores the QIDO-RS offset parameter" in caplog.text and url in caplog.text


def test_server_capping_pages_below_the_limit_is_paged_on() -> None:
    """A server that returns at most 3 results per request whatever the ``limit`` (a PACS's "max
    results" with working offsets): every study and every instance is listed (the search took the
    first 3 studies, a short page being read as the last one; the instance search was not paged)."""
    studies = [_study(i, n_instances=8) for i in range(7)]
    instances = [_instance(0, j) for j in range(8)]

    def answer(path: str, q: dict[str, list[str]], headers: Any) -> tuple[int, Any]:
        if path.endswith("/instances"):
            return 200, _page(instances, q, cap=3)
        if "StudyInstanceUID" in q:
            return 200, [s for s in studies if s["0020000D"]["Value"][0] == q["StudyInstanceUID"][0]]
        return 200, _page(studies, q, cap=3)

    with _server(answer) as (url, _calls):
        src = DicomWebSource(f"dicomweb+{url}")
        got = src.search_studies()
        assert [s["study_instance_uid"] for s in got] == [f"1.2.3.{i}" for i in range(7)]
        assert all(s["n_instances"] == 8 for s in got)
        inst = src.complete_study_instances("1.2.3.0")
    assert len(inst) == 8 and len(set(inst)) == 8


def test_instance_list_shorter_than_the_study_fails_clearly() -> None:
    """A server that lists 5 instances of a study it says holds 9 (NumberOfStudyRelatedInstances):
    an error naming the study, the server, both counts and what to do (it was retrieved as 5)."""
    study = _study(0, n_instances=9)
    instances = [_instance(0, j) for j in range(5)]

    def answer(path: str, q: dict[str, list[str]], headers: Any) -> tuple[int, Any]:
        if path.endswith("/instances"):
            return 200, _page(instances, q)
        return 200, [study]

    with _server(answer) as (url, _calls):
        with pytest.raises(DicomWebError, match=r"study 1\.2\.3\.0: the server .* listed 5 of its 9 instances") as e:
            DicomWebSource(f"dicomweb+{url}").complete_study_instances("1.2.3.0")
    assert url in str(e.value) and "LimitFindInstances" in str(e.value) and "still arriving" in str(e.value)


def test_redact_url() -> None:
    assert redact_url("dicomweb+http://reader:s3cretPW@pacs:8042/dicom-web") == "dicomweb+http://reader:***@pacs:8042/dicom-web"
    assert redact_url("failed at https://u:p%40ss@h/x and http://a:b@c/") == "failed at https://u:***@h/x and http://a:***@c/"
    assert redact_url("http://pacs/dicom-web") == "http://pacs/dicom-web"
    assert redact_url("http://reader@pacs/dicom-web") == "http://reader@pacs/dicom-web"  # no password: nothing hidden


def test_credentials_in_the_url_are_sent_not_shown() -> None:
    """``http://USER:PASSWORD@host/...``: sent as HTTP basic authentication (no credentials in the
    request line), never in ``url``, an error message or a log; a 401 says what is wrong."""
    good = "Basic " + base64.b64encode(b"reader:s3cret PW").decode()
    seen: list[str | None] = []

    def answer(path: str, q: dict[str, list[str]], headers: Any) -> tuple[int, Any]:
        seen.append(headers.get("Authorization"))
        if headers.get("Authorization") != good:
            return 401, {}
        return 200, [_study(1)] if int(q.get("offset", ["0"])[0]) == 0 else []

    with _server(answer) as (url, calls):
        host = url.split("//", 1)[1]
        src = DicomWebSource(f"dicomweb+http://reader:s3cret%20PW@{host}")
        assert "s3cret" not in src.url and src.url == f"http://reader:***@{host}"
        assert [s["study_instance_uid"] for s in src.search_studies()] == ["1.2.3.1"]
        assert seen and all(a == good for a in seen) and not any("s3cret" in c for c in calls)
        bad = "-".join(["Wr0ng", "PW"])  # (not in this file's text, which a traceback quotes)
        with pytest.raises(DicomWebError) as e:
            DicomWebSource(f"dicomweb+http://reader:{bad}@{host}", max_attempts=1).search_studies()
    msg = str(e.value)
    assert "authentication failed / not authorised" in msg and "user name and password" in msg
    assert bad not in msg and "server is running" not in msg and f"reader:***@{host}" in msg
    assert bad not in "".join(traceback.format_exception(e.value))


def test_a_tasks_repr_never_shows_the_servers_password() -> None:
    """A worker's task holds the DICOMweb URL with its password (the worker connects with it); Dask
    prints a failed task's arguments in its log, so the task's repr leaves the URL out."""
    from hcc_imaging.batch.pipeline import StudyInputs, StudyTask

    task = StudyTask(key="k", patient_id="P1", study_instance_uid="1.2.3", study_date="20250101", root="/tmp/x",
                     series=(), inputs=StudyInputs(), input_hash="h",
                     dicomweb_url="dicomweb+http://reader:s3cretPW@127.0.0.1:8042/dicom-web")
    nested = StudyTask(key="k2", patient_id="P1", study_instance_uid="1.2.4", study_date="20250301", root="/tmp/y",
                       series=(), inputs=StudyInputs(), input_hash="h2", dicomweb_url=task.dicomweb_url, carry_from=task)
    assert "s3cretPW" not in repr(task) and "s3cretPW" not in repr(nested)
    assert task.dicomweb_url is not None and "s3cretPW" in task.dicomweb_url  # (the worker still has it)

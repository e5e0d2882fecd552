"""A DICOMweb server's ``Warning: 299`` header on a search answer (DICOM PS3.18: "The number of results
exceeded the maximum supported by the server. Additional results can be requested.") is read, against a
real local HTTP server (the stand-in of test_dicomweb_paging.py).

Until 2026-12-06 the header was not read (dicomweb-client only logs it): a server that cuts its
instance search at its maximum and does not give NumberOfStudyRelatedInstances had the study
retrieved and measured on part of its images, and a cut study search lost studies unseen.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hcc_imaging.io.dicomweb import DicomWebError, DicomWebSource

from .test_dicomweb_paging import _instance, _page, _server, _study

#: The warning as DICOM PS3.18 words it.
CUT = {"Warning": '299 {+service}: "The number of results exceeded the maximum supported by the server. '
                  'Additional results can be requested."'}


def _capped_answer(instances: list[Any], studies: list[Any], cap: int, *, pages: bool) -> Any:
    """A server holding at most ``cap`` results per search: ``pages`` -> the next page at ``offset`` gives
    the rest (a per-page cap); else no result beyond ``cap`` is ever given (a total cap)."""
    def answer(path: str, q: dict[str, list[str]], headers: Any) -> tuple[Any, ...]:
        if "StudyInstanceUID" in q:  # (the count query)
            return 200, [s for s in studies if s["0020000D"]["Value"][0] == q["StudyInstanceUID"][0]]
        items = instances if path.endswith("/instances") else studies
        reachable = items if pages else items[:cap]
        off = int(q.get("offset", ["0"])[0])
        got = _page(reachable, q, cap=cap)
        more = off + len(got) < len(items)
        return (200, got, CUT) if more else (200, got)

    return answer


def test_a_cut_instance_search_without_a_count_fails_the_study() -> None:
    """9 instances, the server gives 5 with the warning and nothing at offset 5, and no
    NumberOfStudyRelatedInstances: the study fails (it was listed, and retrieved, as 5)."""
    studies = [_study(0)]  # no NumberOfStudyRelatedInstances
    instances = [_instance(0, j) for j in range(9)]
    with _server(_capped_answer(instances, studies, 5, pages=False)) as (url, _calls):
        src = DicomWebSource(f"dicomweb+{url}")
        assert len(src.study_instances("1.2.3.0")) == 5  # (what the server listed)
        with pytest.raises(DicomWebError, match=r"study 1\.2\.3\.0: the server .* listed 5 instances and says its "
                                                r"search results were truncated \(HTTP Warning: 299") as e:
            src.complete_study_instances("1.2.3.0")
    assert url in str(e.value) and "LimitFindInstances" in str(e.value) and "exceeded the maximum" in str(e.value)


def test_a_cut_study_search_fails_the_listing() -> None:
    studies = [_study(i) for i in range(7)]
    with _server(_capped_answer([], studies, 4, pages=False)) as (url, _calls):
        with pytest.raises(DicomWebError, match=r"listed 4 studies and says its search results were truncated"):
            DicomWebSource(f"dicomweb+{url}").search_studies()


def test_a_warning_on_pages_that_paging_gets_past_is_no_error() -> None:
    """The same warning on every capped page of a server that pages properly: the next pages bring the
    rest, the last one has no warning: every study and instance, no error."""
    studies = [_study(i) for i in range(7)]
    instances = [_instance(0, j) for j in range(9)]
    with _server(_capped_answer(instances, studies, 4, pages=True)) as (url, calls):
        src = DicomWebSource(f"dicomweb+{url}")
        assert len(src.search_studies()) == 7
        assert len(src.complete_study_instances("1.2.3.0")) == 9
    assert len(calls) >= 4


def test_another_299_warning_is_logged_not_a_truncation(caplog) -> None:
    """A 299 warning that says nothing of truncation (PS3.18's fuzzy matching one) is logged once, naming
    the server; the search stands."""
    fuzzy = {"Warning": '299 pacs "The fuzzymatching parameter is not supported. Only literal matching has been '
                        'performed."'}

    def answer(path: str, q: dict[str, list[str]], headers: Any) -> tuple[Any, ...]:
        return 200, _page([_study(1)], q), fuzzy

    with _server(answer) as (url, _calls), caplog.at_level(logging.WARNING, logger="hcc_imaging.io.dicomweb"):
        got = DicomWebSource(f"dicomweb+{url}").search_studies()
    assert [s["study_instance_uid"] for s in got] == ["1.2.3.1"]
    ours = [r for r in caplog.records if r.name == "hcc_imaging.io.dicomweb"]
    assert len(ours) == 1 and "fuzzymatching" in ours[0].getMessage() and url in ours[0].getMessage()

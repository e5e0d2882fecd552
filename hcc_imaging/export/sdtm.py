"""CDISC SDTM oncology domains TU, TR and RS as CSV, from reads and their assessments.

Mapping (``docs/export.md`` has the full table and the sources)
----------------------------------------------------------------
Follows the SDTMIG oncology domains and the CDISC RECIST 1.1 QRS supplement's conventions:

* **TU** (tumour identification): one row per lesion, at the visit it is first identified.
  ``TUTESTCD = TUMIDENT``, ``TUORRES/TUSTRESC = TARGET | NON-TARGET | NEW``; ``TULNKID``
  ``T01``, ``NT01``, ``NEW01`` ... (links TR rows); a lesion whose role differs between the
  read's criteria (``role_by_criteria``: a RECIST 1.1 target that is an mRECIST non-target) has
  one row per criterion, ``TUGRPID`` = the criterion, each with its own ``TULNKID``, and its TR
  rows per criterion with that ``TRGRPID``; ``TUREFID`` = tracking UID;
  ``TUSPID`` = our lesion id; ``TULOC`` = organ (``LIVER``, ``LYMPH NODE`` ...);
  ``TUMETHOD`` = ``CT SCAN`` / ``MRI``; ``TUEVAL``, ``TUEVALID``.
* **TR** (tumour results): per lesion per visit: ``LDIAM`` (longest diameter, non-nodal
  targets), ``LPERP`` (longest perpendicular = short axis, nodal targets); mRECIST/EASL
  ``VLDIAM`` (viable longest diameter, sponsor-defined, not CDISC CT); ``VOLUME``;
  ``TUMSTATE`` (non-target / new: PRESENT, ABSENT, UNEQUIVOCAL PROGRESSION ...).  Summary
  rows per criterion (``TRGRPID`` = criterion, e.g. ``RECIST 1.1``): ``SUMDIAM``, ``PCBSD``
  (percent change from baseline), ``PCNSD`` (percent change from nadir).  A measurement that
  could not be made has ``TRSTAT = NOT DONE`` and ``TRREASND``.
* **RS** (response): per criterion (``RSCAT``) per visit: ``TRGRESP``, ``NTRGRESP``,
  ``NEWLIND`` (Y/N), ``OVRLRESP``; per criterion once: ``BESTRESP`` (confirmed BOR when the
  assessment gives one, else unconfirmed; the unconfirmed one also as sponsor-defined
  ``UBESTRSP``).

``VISITNUM`` = time point order (1 = baseline), ``VISIT`` = ``BASELINE`` / the time point id
upper-cased; ``--DTC`` = scan date (ISO 8601), on every row of a visit (summary rows too).
``USUBJID`` = ``STUDYID-patient id`` (the pseudonym when de-identified).  Study days (``--DY``)
are not derived: SDTM counts them from ``RFSTDTC`` (first dose), which a read does not hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HccImagingError
from .constants import DEFAULT_STUDYID, SDTM_MAPPING_VERSION, TOO_SMALL_DEFAULT_MM
from .codes import normalise_criterion
from .model import ExportRead, LesionObservation, iter_reads

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .deid import Deidentifier

__all__ = [
    "SdtmExportError",
    "SdtmInfo",
    "TU_COLUMNS",
    "TR_COLUMNS",
    "RS_COLUMNS",
    "RSCAT",
    "sdtm_tu",
    "sdtm_tr",
    "sdtm_rs",
    "write_sdtm",
]


class SdtmExportError(HccImagingError, ValueError):
    """SDTM datasets cannot be written as asked (bad STUDYID ...)."""


#: RSCAT / TRGRPID spelling of each criterion.
RSCAT: dict[str, str] = {
    "RECIST1.1": "RECIST 1.1",
    "mRECIST": "mRECIST",
    "EASL": "EASL",
    "WHO": "WHO",
    "RECICL": "RECICL",
    "iRECIST": "iRECIST",
}

TU_COLUMNS = [
    "STUDYID", "DOMAIN", "USUBJID", "TUSEQ", "TUGRPID", "TUREFID", "TUSPID", "TULNKID", "TUTESTCD", "TUTEST",
    "TUORRES", "TUSTRESC", "TULOC", "TUMETHOD", "TUEVAL", "TUEVALID", "VISITNUM", "VISIT", "TUDTC",
]
TR_COLUMNS = [
    "STUDYID", "DOMAIN", "USUBJID", "TRSEQ", "TRGRPID", "TRLNKID", "TRTESTCD", "TRTEST", "TRORRES",
    "TRORRESU", "TRSTRESC", "TRSTRESN", "TRSTRESU", "TRSTAT", "TRREASND", "TRMETHOD", "TREVAL",
    "TREVALID", "VISITNUM", "VISIT", "TRDTC",
]
RS_COLUMNS = [
    "STUDYID", "DOMAIN", "USUBJID", "RSSEQ", "RSTESTCD", "RSTEST", "RSCAT", "RSORRES", "RSSTRESC",
    "RSEVAL", "RSEVALID", "VISITNUM", "VISIT", "RSDTC",
]

_TR_TESTS = {
    "LDIAM": "Longest Diameter",
    "LPERP": "Longest Perpendicular",
    "VLDIAM": "Viable Tumor Longest Diameter",
    "VOLUME": "Volume",
    "TUMSTATE": "Tumor State",
    "SUMDIAM": "Sum of Diameters",
    "PCBSD": "Percent Change From Baseline in Sum Diam",
    "PCNSD": "Percent Change From Nadir in Sum of Diam",
}
_RS_TESTS = {
    "TRGRESP": "Target Response",
    "NTRGRESP": "Non-target Response",
    "NEWLIND": "New Lesion Indicator",
    "OVRLRESP": "Overall Response",
    "BESTRESP": "Best Overall Response",
    "UBESTRSP": "Unconfirmed Best Overall Response",
}
_STATE = {
    "present": "PRESENT",
    "absent": "ABSENT",
    "unequivocal_progression": "UNEQUIVOCAL PROGRESSION",
    "further_increase": "UNEQUIVOCAL PROGRESSION",
    "not_evaluable": "NOT EVALUABLE",
    "measured": "PRESENT",
    "too_small": "PRESENT",
}
_ROLE = {"target": ("TARGET", "T"), "non_target": ("NON-TARGET", "NT"), "new": ("NEW", "NEW")}


@dataclass(frozen=True, slots=True)
class SdtmInfo:
    """Paths written by :func:`write_sdtm`."""

    tu: Path
    tr: Path
    rs: Path
    metadata: Path


def _visit(read: ExportRead, tp_id: str) -> tuple[int, str, str]:
    tp = read.timepoint(tp_id)
    visit = "BASELINE" if tp.is_baseline else tp_id.upper()
    return tp.index + 1, visit, tp.date.isoformat() if tp.date else ""


def _exact(v: float, scale: int = 1) -> Decimal:
    """``v`` (times ``scale``) as the shortest decimal that reads back as the float ``v`` (its
    ``repr``): no significant-digit rounding, no float noise from the scaling (a fraction -0.29997
    is -29.997 %, not -29.997000000000003 or -30)."""
    d = (Decimal(repr(float(v))) * scale).normalize()
    return Decimal(0) if d == 0 else d


def _fmt(d: Decimal) -> str:
    """TRORRES / TRSTRESC text of :func:`_exact`: plain decimal (never an exponent), at least one
    decimal place (``16.0``, ``100.01``, ``23456.78``)."""
    text = format(d, "f")
    return text if "." in text else text + ".0"


def _criteria(read: ExportRead) -> list[str]:
    """The criteria a lesion's role is exported under: the assessment's, else the read document's
    ``criteria`` (canonical names)."""
    crits = list(read.criteria)
    raw = read.document.get("criteria") if not crits and read.document is not None else None
    if isinstance(raw, str):
        raw = raw.split(",")
    if isinstance(raw, (list, tuple)):
        crits = [normalise_criterion(c) for c in raw if str(c).strip()]
    return list(dict.fromkeys(crits))


def _groups(les: LesionObservation, criteria: Sequence[str]) -> list[tuple[str, str]]:
    """``(--GRPID, role)`` of a lesion's TU row(s): one row without a group when its role is the same
    under every criterion of the read (``role_by_criteria``: ``LesionObservation.role_for``); else
    one per criterion, grouped by it (``RECIST 1.1``, ``mRECIST``: as the TR summary rows).  A read
    that names no criteria: its ``role`` without a group, plus one row per criterion of
    ``role_by_criteria`` that gives another role."""
    if criteria:
        roles = [(c, les.role_for(c)) for c in criteria]
        if len({r for _, r in roles}) == 1:
            return [("", roles[0][1])]
        return [(RSCAT.get(c, c), r) for c, r in roles]
    return [("", les.role)] + [(RSCAT.get(c, c), r) for c, r in les.role_by_criteria if r != les.role]


def _lnkids(read: ExportRead, prefix: str = "") -> dict[tuple[str, str], str]:
    """(lesion_id, --GRPID) -> TULNKID (T01, NT01, NEW01; ``prefix`` before them), numbered in
    order of first appearance; a lesion with a row per criterion (:func:`_groups`) has a link id per
    row."""
    counters = {"T": 0, "NT": 0, "NEW": 0}
    crits = _criteria(read)
    out: dict[tuple[str, str], str] = {}
    seen: set[str] = set()
    for tp in read.timepoints:
        for les in read.lesions_at(tp.timepoint_id):
            if les.lesion_id in seen:
                continue
            seen.add(les.lesion_id)
            for grp, role in _groups(les, crits):
                kind = _ROLE.get(role, ("NON-TARGET", "NT"))[1]
                counters[kind] += 1
                out[les.lesion_id, grp] = f"{prefix}{kind}{counters[kind]:02d}"
    return out


def _lnkid(lnk: dict[tuple[str, str], str], lesion_id: str, grp: str) -> str:
    """The link id of a lesion's row of group ``grp`` (its first row's for a group its TU rows do
    not have: a later observation whose ``role_by_criteria`` differs from the first one's)."""
    return lnk.get((lesion_id, grp)) or next(v for (lid, _), v in lnk.items() if lid == lesion_id)


def _method(modality: str) -> str:
    return {"CT": "CT SCAN", "MR": "MRI"}.get(modality.upper(), modality.upper())


def sdtm_tu(read: ExportRead, *, studyid: str = DEFAULT_STUDYID, evaluator: str = "INDEPENDENT ASSESSOR", modality: str = "CT",
            lnkid_prefix: str = "") -> list[dict[str, Any]]:
    """TU rows of one read (one per lesion, at its first visit); ``lnkid_prefix`` before each
    ``TULNKID`` (:func:`write_sdtm` gives one per read when a patient has several)."""
    usubjid = f"{studyid}-{read.patient_id}"
    lnk = _lnkids(read, lnkid_prefix)
    crits = _criteria(read)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for tp in read.timepoints:
        for les in read.lesions_at(tp.timepoint_id):
            if les.lesion_id in seen:
                continue
            seen.add(les.lesion_id)
            visitnum, visit, dtc = _visit(read, tp.timepoint_id)
            loc = "LYMPH NODE" if les.is_lymph_node else (les.organ or "").replace("_", " ").upper()
            for grp, role in _groups(les, crits):
                res = _ROLE.get(role, ("NON-TARGET", "NT"))[0]
                rows.append(
                    {
                        "STUDYID": studyid, "DOMAIN": "TU", "USUBJID": usubjid, "TUSEQ": len(rows) + 1,
                        "TUGRPID": grp, "TUREFID": les.tracking_uid or "", "TUSPID": les.lesion_id,
                        "TULNKID": lnk[les.lesion_id, grp], "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
                        "TUORRES": res, "TUSTRESC": res, "TULOC": loc, "TUMETHOD": _method(modality),
                        "TUEVAL": evaluator, "TUEVALID": read.reader_id or "", "VISITNUM": visitnum,
                        "VISIT": visit, "TUDTC": dtc,
                    }
                )
    return rows


def _tr_row(read: ExportRead, studyid: str, tp_id: str, testcd: str, *, lnkid: str = "", grpid: str = "",
            value: float | None = None, scale: int = 1, unit: str = "", char: str | None = None,
            not_done: str | None = None, evaluator: str, modality: str) -> dict[str, Any]:
    visitnum, visit, dtc = _visit(read, tp_id)
    row: dict[str, Any] = {
        "STUDYID": studyid, "DOMAIN": "TR", "USUBJID": f"{studyid}-{read.patient_id}", "TRSEQ": 0,
        "TRGRPID": grpid, "TRLNKID": lnkid, "TRTESTCD": testcd, "TRTEST": _TR_TESTS[testcd],
        "TRORRES": "", "TRORRESU": "", "TRSTRESC": "", "TRSTRESN": None, "TRSTRESU": "",
        "TRSTAT": "", "TRREASND": "", "TRMETHOD": _method(modality) if lnkid else "",
        "TREVAL": evaluator, "TREVALID": read.reader_id or "", "VISITNUM": visitnum, "VISIT": visit,
        "TRDTC": dtc,  # the summary rows too: the sums and changes are of that visit's scan
    }
    if not_done is not None:
        row.update(TRSTAT="NOT DONE", TRREASND=not_done)
    elif value is not None:
        d = _exact(value, scale)
        row.update(TRORRES=_fmt(d), TRORRESU=unit, TRSTRESC=_fmt(d), TRSTRESN=float(d), TRSTRESU=unit)
    elif char is not None:
        row.update(TRORRES=char, TRSTRESC=char)
    return row


def _lesion_tr(read: ExportRead, les: LesionObservation, lnkid: str, studyid: str, evaluator: str, modality: str,
               criteria: Sequence[str], *, role: str, grpid: str = "") -> list[dict[str, Any]]:
    """TR rows of one lesion at one visit with role ``role`` (``grpid``: the criterion of a lesion
    exported once per criterion, :func:`_groups`; its VLDIAM only under mRECIST / EASL)."""
    kw = dict(lnkid=lnkid, grpid=grpid, evaluator=evaluator, modality=modality)
    rows = []
    tp = les.timepoint_id
    status = les.status or "measured"
    if grpid:
        criteria = [c for c in criteria if RSCAT.get(c, c) == grpid]
    if role == "target":
        testcd = "LPERP" if les.is_lymph_node else "LDIAM"
        value = les.short_axis_mm if les.is_lymph_node else les.longest_diameter_mm
        sized: list[tuple[str, float | None, str, str | None]] = [(testcd, value, status, "NOT MEASURED")]
        if any(c in {"mRECIST", "EASL"} for c in criteria):
            # VLDIAM by the viable part's status, by the same rules (until 2026-12-06 only a diameter was
            # written: a too-small viable part counted 5 mm in SUMDIAM was in no row, an NE had no reason)
            sized.append(("VLDIAM", les.viable_diameter_mm, les.viable_status or "", None))
        for code, v, st, why in sized:
            row = _diameter_row(read, studyid, tp, code, v, st, kw, unmeasured=why)
            if row is not None:
                rows.append(row)
    else:
        rows.append(_tr_row(read, studyid, tp, "TUMSTATE", char=_STATE.get(status, status.upper()), **kw))
    if les.volume_mm3 is not None:
        rows.append(_tr_row(read, studyid, tp, "VOLUME", value=les.volume_mm3, unit="mm3", **kw))
    return rows


def _diameter_row(read: ExportRead, studyid: str, tp: str, testcd: str, value: float | None, status: str,
                  kw: dict[str, Any], *, unmeasured: str | None = None) -> dict[str, Any] | None:
    """A target's diameter row (LDIAM / LPERP / VLDIAM) by its status: not evaluable -> NOT DONE; absent ->
    0 mm; too small without a value -> TOO SMALL TO MEASURE, 5 mm; else its value; else NOT DONE with
    ``unmeasured`` as the reason, or no row when ``unmeasured`` is None."""
    if status == "not_evaluable":
        return _tr_row(read, studyid, tp, testcd, not_done="NOT EVALUABLE", **kw)
    if status == "absent":
        return _tr_row(read, studyid, tp, testcd, value=0.0, unit="mm", **kw)
    if status == "too_small" and value is None:
        return _tr_row(read, studyid, tp, testcd, value=TOO_SMALL_DEFAULT_MM, unit="mm", **kw) | {
            "TRORRES": "TOO SMALL TO MEASURE"}
    if value is not None:
        return _tr_row(read, studyid, tp, testcd, value=value, unit="mm", **kw)
    return None if unmeasured is None else _tr_row(read, studyid, tp, testcd, not_done=unmeasured, **kw)


def sdtm_tr(read: ExportRead, *, studyid: str = DEFAULT_STUDYID, evaluator: str = "INDEPENDENT ASSESSOR", modality: str = "CT",
            lnkid_prefix: str = "") -> list[dict[str, Any]]:
    """TR rows of one read: lesion measurements per visit, then per-criterion summaries
    (``lnkid_prefix``: as for :func:`sdtm_tu`)."""
    lnk = _lnkids(read, lnkid_prefix)
    rows: list[dict[str, Any]] = []
    crits = read.criteria
    role_crits = _criteria(read)
    for tp in read.timepoints:
        for les in read.lesions_at(tp.timepoint_id):
            for grp, role in _groups(les, role_crits):
                rows.extend(_lesion_tr(read, les, _lnkid(lnk, les.lesion_id, grp), studyid, evaluator, modality,
                                       crits if not grp else role_crits, role=role, grpid=grp))
        for crit in crits:
            grp = RSCAT.get(crit, crit)
            for r in read.responses_for(crit):
                if r.timepoint_id != tp.timepoint_id:
                    continue
                kw = dict(grpid=grp, evaluator=evaluator, modality=modality)
                if r.sum_value is not None:
                    rows.append(_tr_row(read, studyid, tp.timepoint_id, "SUMDIAM", value=r.sum_value, unit=r.sum_unit, **kw))
                if r.change_from_baseline_frac is not None:
                    rows.append(_tr_row(read, studyid, tp.timepoint_id, "PCBSD", value=r.change_from_baseline_frac, scale=100, unit="%", **kw))
                if r.change_from_nadir_frac is not None:
                    rows.append(_tr_row(read, studyid, tp.timepoint_id, "PCNSD", value=r.change_from_nadir_frac, scale=100, unit="%", **kw))
    for i, row in enumerate(rows, start=1):
        row["TRSEQ"] = i
    return rows


def sdtm_rs(read: ExportRead, *, studyid: str = DEFAULT_STUDYID, evaluator: str = "INDEPENDENT ASSESSOR") -> list[dict[str, Any]]:
    """RS rows of one read: responses per criterion per visit, then best overall response."""
    usubjid = f"{studyid}-{read.patient_id}"
    rows: list[dict[str, Any]] = []

    def add(testcd: str, cat: str, result: str, tp_id: str | None) -> None:
        visitnum: int | None
        if tp_id is not None:
            visitnum, visit, dtc = _visit(read, tp_id)
        else:
            visitnum, visit, dtc = None, "", ""
        rows.append(
            {
                "STUDYID": studyid, "DOMAIN": "RS", "USUBJID": usubjid, "RSSEQ": len(rows) + 1,
                "RSTESTCD": testcd, "RSTEST": _RS_TESTS[testcd], "RSCAT": cat, "RSORRES": result,
                "RSSTRESC": result, "RSEVAL": evaluator, "RSEVALID": read.reader_id or "",
                "VISITNUM": visitnum, "VISIT": visit, "RSDTC": dtc,
            }
        )

    for crit in read.criteria:
        cat = RSCAT.get(crit, crit)
        for r in read.responses_for(crit):
            if r.response is None:
                continue  # baseline: no response
            if r.target_response:
                add("TRGRESP", cat, r.target_response, r.timepoint_id)
            if r.non_target_response:
                add("NTRGRESP", cat, r.non_target_response, r.timepoint_id)
            if r.new_lesions is not None:
                add("NEWLIND", cat, "Y" if r.new_lesions else "N", r.timepoint_id)
            add("OVRLRESP", cat, r.response, r.timepoint_id)
        s = read.summary_for(crit)
        if s is not None:
            best = s.bor_confirmed or s.bor_unconfirmed
            if best:
                add("BESTRESP", cat, best, None)
            if s.bor_unconfirmed:
                add("UBESTRSP", cat, s.bor_unconfirmed, None)
    return rows


def _df(rows: list[dict[str, Any]], cols: list[str]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows, columns=cols)
    for c in ("TUSEQ", "TRSEQ", "RSSEQ", "VISITNUM"):
        if c in df:
            df[c] = pd.array([None if v is None or v != v else int(v) for v in df[c]], dtype="Int64")
    return df


def _lnkid_prefixes(reads: list[ExportRead]) -> list[str]:
    """Per read, the prefix of its link ids: none when its patient has one read (``T01``), else the
    reader id (``R2-T01``), or ``READ<n>-`` when the patient's reads do not each have their own
    reader id, so that a patient's TULNKIDs stay unique across readers (SDTM)."""
    by_patient: dict[str, list[int]] = {}
    for i, r in enumerate(reads):
        by_patient.setdefault(r.patient_id, []).append(i)
    out = [""] * len(reads)
    for idx in by_patient.values():
        if len(idx) < 2:
            continue
        readers = [(reads[i].reader_id or "").strip() for i in idx]
        distinct = all(readers) and len(set(readers)) == len(readers)
        for n, i in enumerate(idx, start=1):
            out[i] = f"{readers[n - 1]}-" if distinct else f"READ{n}-"
    return out


def _number(rows: list[dict[str, Any]], seq: str) -> None:
    """``--SEQ`` 1, 2 ... per USUBJID across every read of the domain (unique within a subject)."""
    counters: dict[str, int] = {}
    for row in rows:
        counters[row["USUBJID"]] = counters.get(row["USUBJID"], 0) + 1
        row[seq] = counters[row["USUBJID"]]


def _read_names(reads: Any, n: int) -> list[str]:
    """How to name each read in an error: its file when the reads were given as paths, else its place."""
    items = [reads] if isinstance(reads, (str, Path)) else reads
    if isinstance(items, Sequence) and not isinstance(items, str) and len(items) == n and all(
            isinstance(x, (str, Path)) for x in items):
        return [f"read {os.fspath(x)}" for x in items]
    return [f"read {i}" if n > 1 else "the read" for i in range(1, n + 1)]


def _check_ascii(reads: list[ExportRead], names: list[str], domains: dict[str, list[dict[str, Any]]]) -> None:
    """Refuse non-ASCII text: SDTM datasets are ASCII (SAS XPT v5; FDA Study Data Technical Conformance Guide).
    The patient and reader ids first, by field (their fix is de-identification or an ASCII id), then any
    other cell (a lesion or time point id ...), by domain and column."""
    def bad(v: str) -> str:
        return "".join(sorted({ch for ch in v if not ch.isascii()}))

    for r, name in zip(reads, names):
        for field, value, cols in (("patient_id", r.patient_id, "USUBJID"),
                                   ("reader_id", r.reader_id, "TUEVALID/TREVALID/RSEVALID")):
            if value and not str(value).isascii():
                raise SdtmExportError(
                    f"{name}: {field} {value!r} has non-ASCII characters ({bad(str(value))!r}); it goes into "
                    f"{cols} and SDTM datasets are ASCII. Export with --deidentify (deidentifier=): ASCII "
                    "pseudonyms replace patient and reader ids, their mapping kept in the --pseudonym-map; or "
                    f"set the read's {field} to an ASCII id through your own mapping of ids (e.g. 'MUELLER' for "
                    "'MÜLLER').")
    for dom, rows in domains.items():
        for row in rows:
            for col, v in row.items():
                if isinstance(v, str) and not v.isascii():
                    raise SdtmExportError(
                        f"SDTM {dom} column {col} of subject {row.get('USUBJID')!r} would hold {v!r}, with non-ASCII "
                        f"characters ({bad(v)!r}); SDTM datasets are ASCII. Spell it in ASCII in the read "
                        "document (or the option it comes from).")


def write_sdtm(
    reads: Any,
    out_dir: str | os.PathLike[str],
    *,
    assessments: Any = None,
    studyid: str = DEFAULT_STUDYID,
    evaluator: str = "INDEPENDENT ASSESSOR",
    modality: str = "CT",
    deidentifier: Deidentifier | None = None,
    read_names: Sequence[str] | None = None,
) -> SdtmInfo:
    """Write ``tu.csv``, ``tr.csv``, ``rs.csv`` (+ ``sdtm_metadata.json``) for one or many reads.

    Parameters
    ----------
    studyid : str
        SDTM STUDYID (letters, digits, ``-`` and ``_``).
    evaluator : str
        ``--EVAL`` (``INDEPENDENT ASSESSOR``, ``INVESTIGATOR`` ...).
    modality : {"CT", "MR"}
        Imaging method for ``TUMETHOD`` / ``TRMETHOD``.
    deidentifier : Deidentifier, optional
        USUBJID from pseudonyms, dates shifted, tracking UIDs remapped.
    read_names : sequence of str, optional
        What to call each read in an error (its file); default its path when ``reads`` are paths.

    Raises
    ------
    SdtmExportError
        A STUDYID, patient id, reader id or other text that is not ASCII (SDTM datasets are ASCII),
        before anything is written.
    """
    from .tables import _atomic_write

    # ASCII only: submission datasets are ASCII (SAS XPT v5; FDA Study Data Technical Conformance
    # Guide); ``isalnum`` alone let ``ÉTUDE`` through into every row's STUDYID and USUBJID
    if not studyid or not all((ch.isascii() and ch.isalnum()) or ch in "-_" for ch in studyid):
        bad = sorted({ch for ch in studyid if not ((ch.isascii() and ch.isalnum()) or ch in "-_")})
        raise SdtmExportError(
            f"STUDYID {studyid!r} must be non-empty ASCII letters A-Z/a-z, digits 0-9, '-' or '_' (it prefixes "
            f"USUBJID; SDTM datasets are ASCII)" + (f"; it has {''.join(bad)!r}" if bad else "") + ". "
            "Pass studyid= (CLI --studyid) spelled in ASCII (e.g. 'E' for 'É')."
        )
    out = Path(out_dir)
    if deidentifier is not None:
        deidentifier.check_outside(out)
    all_reads = list(iter_reads(reads, assessments))
    names = ([f"read {n}" for n in read_names] if read_names is not None and len(read_names) == len(all_reads)
             else _read_names(reads, len(all_reads)))
    if deidentifier is not None:
        all_reads = [r.deidentified(deidentifier) for r in all_reads]
    _check_ascii(all_reads, names, {})
    prefixes = _lnkid_prefixes(all_reads)
    tu, tr, rs = [], [], []
    for r, prefix in zip(all_reads, prefixes):
        tu.extend(sdtm_tu(r, studyid=studyid, evaluator=evaluator, modality=modality, lnkid_prefix=prefix))
        tr.extend(sdtm_tr(r, studyid=studyid, evaluator=evaluator, modality=modality, lnkid_prefix=prefix))
        rs.extend(sdtm_rs(r, studyid=studyid, evaluator=evaluator))
    for rows, seq in ((tu, "TUSEQ"), (tr, "TRSEQ"), (rs, "RSSEQ")):
        _number(rows, seq)
    _check_ascii([], [], {"TU": tu, "TR": tr, "RS": rs})
    paths = {}
    for name, rows, cols in (("tu", tu, TU_COLUMNS), ("tr", tr, TR_COLUMNS), ("rs", rs, RS_COLUMNS)):
        df = _df(rows, cols)
        paths[name] = _atomic_write(out / f"{name}.csv", lambda p, d=df: d.to_csv(p, index=False, lineterminator="\n"))
    meta = {
        "mapping_version": SDTM_MAPPING_VERSION,
        "studyid": studyid,
        "domains": {"TU": TU_COLUMNS, "TR": TR_COLUMNS, "RS": RS_COLUMNS},
        "sponsor_defined_tests": {"VLDIAM": _TR_TESTS["VLDIAM"], "UBESTRSP": _RS_TESTS["UBESTRSP"]},
        "deidentified": deidentifier is not None,
        "note": "See docs/export.md (SDTM mapping). --DY not derived (needs RFSTDTC).",
    }
    text = json.dumps(meta, indent=1)
    mpath = _atomic_write(out / "sdtm_metadata.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    return SdtmInfo(tu=paths["tu"], tr=paths["tr"], rs=paths["rs"], metadata=mpath)

"""What a read's SR export writes and its import reads back beyond the measurements (``docs/export.md``):

* who measured a lesion: a machine ``source`` (``NAME VERSION``, e.g. ``hcc_imaging.batch 0.1.0``) as the
  lesion group's algorithm identification (TID 4019 Algorithm Name / Version); a person's source is not
  written (the Person Observer is the reader) and imports as :data:`IMPORTED_SOURCE`, never as the
  observer's name;
* per time point the modality, slice thickness and study date: the TID 1600 Image Library (one entry, the
  first image of each time point's series, with its TID 1602 descriptors Modality (DCM 121139), Slice
  Thickness (DCM 112225) from highdicom and Study Date (DCM 111060) added here), tied to the time point
  through the series of the images the time point's measurements reference.  A time point without a
  library entry (an SR written without images) is dated from a dated one, or from the SR's StudyDate
  (the latest time point's), and the days from baseline;
* the criteria: those of the response groups (Response Evaluation Method), in the canonical order.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from .model import LesionObservation
    from .sr_import import SrReport

_log = logging.getLogger(__name__)

#: ``source`` of an imported lesion whose SR group names no algorithm (a person measured it, or the SR
#: does not say who): the SR's observer is the reader, not necessarily who drew the line.
IMPORTED_SOURCE = "imported-from-SR"

_ALGORITHM_NAME = ("111001", "DCM")
_ALGORITHM_VERSION = ("111003", "DCM")
_IMAGE_LIBRARY = ("111028", "DCM")
_MODALITY = ("121139", "DCM")
_STUDY_DATE = ("111060", "DCM")
_SLICE_THICKNESS = ("112225", "DCM")


def split_algorithm_source(source: str | None) -> tuple[str, str] | None:
    """(name, version) of a machine ``source`` (``NAME VERSION`` with a dotted version, as the batch and
    the measuring code write it, or the napari read's ``algorithm:NAME/VERSION``); None for a person's source (a reader id, ``reader:ID``), a source
    naming a file (an imported mask's: no algorithm, and its name may be a patient's;
    ``_file_sources``) or none."""
    from ._file_sources import ALGORITHM_PREFIX, names_a_file
    from .deid import _VERSION  # the rule de-identification keeps an algorithm's source by

    v = str(source or "").strip()
    if v.startswith(ALGORITHM_PREFIX):  # the napari read's ``algorithm:NAME/VERSION`` (napari_plugin._sources)
        name, _, version = v[len(ALGORITHM_PREFIX):].partition("/")
        if (name.strip() and " " not in name.strip() and _VERSION.fullmatch(version.strip()) and "^" not in v
                and not names_a_file(v)):
            return name.strip()[:64], version.strip()[:64]
        return None
    words = v.split()
    if len(words) < 2 or "^" in v or v.lower().startswith("reader:") or not _VERSION.fullmatch(words[-1]):
        return None
    if names_a_file(v):
        return None
    return " ".join(words[:-1])[:64], words[-1][:64]


def lesion_algorithm(hd: Any, les: LesionObservation, reader_id: str | None, read_algorithm: Any) -> Any:
    """The TID 4019 algorithm identification of a lesion group: the lesion's own machine source; else
    the read's algorithm when the lesion names no one but the read's reader; else (another person) none."""
    parts = split_algorithm_source(les.provenance)
    if parts is not None:
        return hd.sr.AlgorithmIdentification(name=parts[0], version=parts[1])
    if not les.provenance or les.provenance == reader_id:
        return read_algorithm
    return None


def group_algorithm(item: Dataset) -> str | None:
    """``NAME VERSION`` of a measurement group's TID 4019 items (None when it has none)."""
    from .sr_import import _is

    name = version = None
    for child in item.get("ContentSequence", []):
        if str(child.get("ValueType", "")) != "TEXT":
            continue
        if _is(child, *_ALGORITHM_NAME):
            name = str(child.TextValue).strip()
        elif _is(child, *_ALGORITHM_VERSION):
            version = str(child.TextValue).strip()
    if not name:
        return None
    return f"{name} {version}" if version else name


# ------------------------------------------------------------------------------------------
def _walk(items: Any) -> Any:
    for it in items or ():
        yield it
        yield from _walk(it.get("ContentSequence"))


def evidence_series(ds: Dataset) -> dict[str, str]:
    """SOP instance UID -> series instance UID of every image in the SR's evidence sequences."""
    out: dict[str, str] = {}
    for kw in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(kw, []) or []:
            for ser in study.get("ReferencedSeriesSequence", []) or []:
                for sop in ser.get("ReferencedSOPSequence", []) or []:
                    if "ReferencedSOPInstanceUID" in sop and "SeriesInstanceUID" in ser:
                        out[str(sop.ReferencedSOPInstanceUID)] = str(ser.SeriesInstanceUID)
    return out


def read_image_library(ds: Dataset) -> tuple[dict[str, Any], ...]:
    """Per Image Library entry: its SOP instance, series (from the SR's evidence), modality, study date
    and slice thickness in mm (entry descriptors over its group's shared ones)."""
    from .sr_import import _code, _is

    series_of = evidence_series(ds)

    def descriptors(items: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in items or ():
            vt = str(c.get("ValueType", ""))
            if vt == "CODE" and _is(c, *_MODALITY):
                code = _code(c.get("ConceptCodeSequence"))
                if code is not None:
                    out["modality"] = code.value
            elif vt == "DATE" and _is(c, *_STUDY_DATE):
                try:
                    out["date"] = dt.datetime.strptime(str(c.Date)[:8], "%Y%m%d").date()
                except ValueError:
                    pass
            elif vt == "NUM" and _is(c, *_SLICE_THICKNESS) and c.get("MeasuredValueSequence"):
                out["slice_thickness_mm"] = float(c.MeasuredValueSequence[0].NumericValue)
        return out

    entries: list[dict[str, Any]] = []
    for lib in _walk(ds.get("ContentSequence")):
        if str(lib.get("ValueType", "")) != "CONTAINER" or not _is(lib, *_IMAGE_LIBRARY):
            continue
        for group in lib.get("ContentSequence", []) or []:
            shared = descriptors(group.get("ContentSequence"))
            for entry in group.get("ContentSequence", []) or []:
                if str(entry.get("ValueType", "")) != "IMAGE" or not entry.get("ReferencedSOPSequence"):
                    continue
                sop = str(entry.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
                entries.append({**shared, **descriptors(entry.get("ContentSequence")),
                                "sop": sop, "series": series_of.get(sop)})
    return tuple(entries)


def library_images(hd: Any, heads: Sequence[Dataset]) -> list[Dataset]:
    """The Image Library's images: the first image header of each time point's series, those highdicom
    can describe (TID 1602 needs e.g. a cross-sectional image's slice thickness and pixel spacing; one
    it cannot describe is left out of the library, not the report)."""
    out = []
    for h in heads:
        try:
            hd.sr.ImageLibraryEntryDescriptors(h)
        except (AttributeError, ValueError, TypeError, KeyError) as err:
            _log.debug("image %s left out of the SR's Image Library: %s", h.get("SOPInstanceUID"), err)
            continue
        out.append(h)
    return out


def add_study_dates(hd: Any, sr: Dataset, heads: Sequence[Dataset]) -> None:
    """Add Study Date (DCM 111060, a TID 1602 descriptor highdicom does not write) to each Image Library
    entry of ``sr`` whose image is one of ``heads`` (de-identification shifts it as every DA)."""
    from .sr_import import _is

    date_of = {str(h.SOPInstanceUID): str(h.get("StudyDate", "") or "") for h in heads}
    for lib in _walk(sr.get("ContentSequence")):
        if str(lib.get("ValueType", "")) != "CONTAINER" or not _is(lib, *_IMAGE_LIBRARY):
            continue
        for entry in _walk(lib.get("ContentSequence")):
            if str(entry.get("ValueType", "")) != "IMAGE" or not entry.get("ReferencedSOPSequence"):
                continue
            da = date_of.get(str(entry.ReferencedSOPSequence[0].ReferencedSOPInstanceUID), "")
            if len(da) < 8 or "ContentSequence" not in entry:
                continue
            entry.ContentSequence.append(hd.sr.DateContentItem(
                name=hd.sr.CodedConcept(_STUDY_DATE[0], _STUDY_DATE[1], "Study Date"), value=da[:8],
                relationship_type=hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT))


# ------------------------------------------------------------------------------------------
def restore_read_fields(doc: dict[str, Any], rep: SrReport, criteria: Sequence[str],
                        tp_series: dict[str, set[str]]) -> None:
    """Fill what the SR records beyond the lesions into the imported ``doc`` (in place): the schema
    version, criteria, time-point date / modality / slice thickness, lymph-node kind."""
    from ..response.document import SCHEMA_VERSION
    from ..response.engine import DEFAULT_CRITERIA

    doc["schema_version"] = SCHEMA_VERSION
    if criteria:  # the SR's order is the assessment's: put ours in the canonical order (rules.Criteria)
        from ..response.rules import Criteria

        canon = [c.value for c in Criteria]
        crits = list(dict.fromkeys(criteria))
        doc["criteria"] = sorted(crits, key=lambda c: (canon.index(c) if c in canon else len(canon), crits.index(c)))
    else:
        _log.warning(
            "%s: the SR records no response (no Response Evaluation Method), so it names no criteria; the "
            "imported read has none and `assess` uses the default %s. Pass the criteria to assess "
            "(hcc-imaging assess --criteria ...) or export the SR with an assessment (export sr --criteria).",
            rep.path or f"SR {rep.sop_instance_uid}", ", ".join(DEFAULT_CRITERIA))
    for tp in doc["timepoints"]:
        for les in tp.get("lesions", ()):
            if les.get("is_lymph_node") and "kind" not in les:
                les["kind"] = "lymph_node"
        series = tp_series.get(tp["id"], set())
        hits = [e for e in rep.image_library if e.get("series") in series]
        if hits:
            e = hits[0]
            if e.get("date") is not None:
                tp["date"] = e["date"].isoformat()
            if e.get("modality"):
                tp["modality"] = e["modality"]
            if e.get("slice_thickness_mm") is not None:
                tp["slice_thickness_mm"] = e["slice_thickness_mm"]
    _dates_from_offsets(doc["timepoints"], rep.study_date)


def _dates_from_offsets(tps: list[dict[str, Any]], study_date: dt.date | None) -> None:
    """Dates of time points the library did not date: from a dated time point and the days between
    them (the days from baseline the SR records); with none dated, the SR's StudyDate is the latest
    time point's (the SR lands in the latest study)."""
    if not tps or all("date" in t for t in tps) or any("day" not in t for t in tps):
        return
    anchor = next((t for t in reversed(tps) if "date" in t), None)
    if anchor is not None:
        base, base_day = dt.date.fromisoformat(anchor["date"]), anchor["day"]
    elif study_date is not None:
        base, base_day = study_date, tps[-1]["day"]
    else:
        return
    for t in tps:
        t.setdefault("date", (base + dt.timedelta(days=int(t["day"]) - int(base_day))).isoformat())

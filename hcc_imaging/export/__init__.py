"""Standards exports and reports (DESIGN.md section 3, export; user guide: docs/export.md).

Public API
----------
* :func:`write_sr` / :func:`read_sr` / :func:`sr_to_read_document` - DICOM SR TID 1500
  (long and short axis with SCOORD3D endpoints, tracking UIDs, time points, responses) and
  its import (ours and other tools' reports).
* :func:`write_seg` / :func:`read_seg` - DICOM SEG of each lesion and its viable part.
* :func:`write_tables` - CSV + Parquet tables with a versioned schema, JSON read documents.
* :func:`write_sdtm` - CDISC SDTM TU / TR / RS.
* :func:`write_report` / :func:`write_cohort_report` - self-contained HTML reports.
* :func:`check_timepoint_sources` - the images / SEGs given per time point are of that time
  point (``write_sr`` and ``write_report`` run it).
* :class:`Deidentifier` / :func:`deidentify_dataset` / :func:`deidentify_files` - PS3.15 basic
  profile, pseudonym map.
* :func:`as_export_read` / :func:`read_from_measurements` - the flat view every exporter reads,
  from a read document (+ assessment) or straight from ``LesionMeasurement`` s.

Heavy dependencies (highdicom, pandas, pyarrow, matplotlib) are imported inside the
functions that need them; importing this package loads numpy and the standard library only.
"""

from __future__ import annotations

from .constants import TABLES_SCHEMA_VERSION
from .deid import DeidentificationError, Deidentifier, deidentify_dataset, deidentify_file, deidentify_files
from .model import ExportInputError, ExportRead, as_export_read, read_from_measurements
from .report import write_cohort_report, write_report
from .sdtm import write_sdtm
from .seg import SegExportError, SegInfo, SegRead, read_seg, write_seg
from .sources import TimepointSourceError, check_timepoint_sources
from .sr import SrExportError, SrInfo, write_sr
from .sr_import import SrImportError, SrReport, read_sr, sr_to_read_document
from .tables import TableExportError, write_tables

__all__ = [
    "TABLES_SCHEMA_VERSION",
    "DeidentificationError",
    "Deidentifier",
    "deidentify_dataset",
    "deidentify_file",
    "deidentify_files",
    "ExportInputError",
    "ExportRead",
    "as_export_read",
    "read_from_measurements",
    "write_report",
    "write_cohort_report",
    "write_sdtm",
    "SegExportError",
    "SegInfo",
    "SegRead",
    "read_seg",
    "write_seg",
    "TimepointSourceError",
    "check_timepoint_sources",
    "SrExportError",
    "SrInfo",
    "write_sr",
    "SrImportError",
    "SrReport",
    "read_sr",
    "sr_to_read_document",
    "TableExportError",
    "write_tables",
]

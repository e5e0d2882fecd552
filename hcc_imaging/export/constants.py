"""Parameters of :mod:`hcc_imaging.export`, each with its source.

Coded concepts live in :mod:`hcc_imaging.export.codes`; this module holds versions, names and
defaults that are not codes.
"""

from __future__ import annotations

__all__ = [
    "TABLES_SCHEMA_VERSION",
    "SDTM_MAPPING_VERSION",
    "PSEUDONYM_MAP_VERSION",
    "LOCAL_CODING_SCHEME",
    "LOCAL_CODING_SCHEME_NAME",
    "MANUFACTURER",
    "SR_SERIES_NUMBER",
    "SEG_SERIES_NUMBER",
    "PSEUDONYM_PREFIX",
    "READER_PSEUDONYM_PREFIX",
    "DATE_SHIFT_RANGE_DAYS",
    "DEFAULT_STUDYID",
    "TOO_SMALL_DEFAULT_MM",
    "KEY_IMAGE_HALF_WIDTH_MM",
    "PLOT_DPI",
]

#: Version of the CSV/Parquet table schema (``docs/tables-schema.md``).  Bump the major
#: number when a column is renamed or removed or its unit or meaning changes; the minor when one
#: is added.  2.0: ``lesions.day`` counts from day 0 (``start_date``) as the other tables do.
#: 2.1: ``summary`` gains the endpoints (``pfs_*``, ``ttp_*``, ``dor_*``).  2.2: ``lesions.viable_status``.
#: 2.3: ``lesions.role_by_criteria``.
TABLES_SCHEMA_VERSION: str = "2.3"

#: Version of our SDTM TU/TR/RS mapping (``docs/export.md``).  SDTM has no column for it, so it
#: is written to ``sdtm_metadata.json`` beside the CSV files.
#: 1.1: results as exact decimals, --SEQ per USUBJID across reads, link ids prefixed by the reader when a
#: patient has several reads, PCBSD's TRTEST within 40 characters.
#: 1.2: TRDTC on the per-criterion summary rows (SUMDIAM, PCBSD, PCNSD); TU gains TUGRPID: a lesion
#: whose role differs between criteria (role_by_criteria) has a TU row and TR rows per criterion.
SDTM_MAPPING_VERSION: str = "1.2"

#: Version of the pseudonym map file (JSON) that :class:`~hcc_imaging.export.deid.Deidentifier`
#: reads and writes.
PSEUDONYM_MAP_VERSION: int = 1

#: Coding scheme designator for concepts no standard terminology defines (viable-tumour
#: diameter, mRECIST, EASL ...).  DICOM PS3.3 C.7.6.16 / PS3.16 section 8: private coding
#: schemes use a designator beginning with "99"; its name goes in CodingSchemeIdentificationSequence.
LOCAL_CODING_SCHEME: str = "99HCCIMG"
LOCAL_CODING_SCHEME_NAME: str = "hcc_imaging local concepts (see docs/export.md)"

#: Manufacturer written into every DICOM object we create.
MANUFACTURER: str = "hcc_imaging"

#: Default series numbers of the objects we create (any value is legal; chosen high so they
#: sort after acquired series in PACS viewers).
SR_SERIES_NUMBER: int = 9701
SEG_SERIES_NUMBER: int = 9702

#: Pseudonymous patient ids look like ``HCC-0001``; reader ids like ``READER-01``.
PSEUDONYM_PREFIX: str = "HCC"
READER_PSEUDONYM_PREFIX: str = "READER"

#: Per-patient date shift drawn uniformly from this closed range (days, negative = earlier).
#: PS3.15 E.3.6 (Retain Longitudinal Temporal Information with Modified Dates Option) leaves
#: the method open; a shift of up to ~3 years backwards is common practice (TCIA CTP uses a
#: per-patient offset).  Intervals between a patient's dates are preserved exactly.
DATE_SHIFT_RANGE_DAYS: tuple[int, int] = (-1095, -30)

#: SDTM STUDYID used when the caller gives none.
DEFAULT_STUDYID: str = "HCCIMG"

#: RECIST 1.1 "too small to measure" default value (mm) - Eisenhauer 2009 sec. 4.3 and the
#: RECIST WG clarification (criteria.md 2.3).  Used only to fill SDTM TRSTRESN when the read
#: document says ``status = too_small`` without a value.
TOO_SMALL_DEFAULT_MM: float = 5.0

#: Half width of the key-image crop around a lesion's longest diameter (mm); the crop is
#: ``max(this, 1.5 * LD)`` so small lesions stay visible with context.
KEY_IMAGE_HALF_WIDTH_MM: float = 40.0

#: Resolution of the PNG figures embedded in the HTML report.
PLOT_DPI: int = 100

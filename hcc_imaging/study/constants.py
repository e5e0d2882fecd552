"""Parameters of the study store, tracking and agreement, each with its unit and source.

Values here are defaults; every function that uses one takes it as a keyword argument.
"""

from __future__ import annotations

import re

__all__ = [
    "SCHEMA_VERSION",
    "DB_ENV_VAR",
    "DB_FILENAME",
    "SQLITE_BUSY_TIMEOUT_S",
    "SQLITE_SYNCHRONOUS",
    "WRITE_RETRY_ATTEMPTS",
    "WRITE_RETRY_BASE_DELAY_S",
    "PSEUDONYM_PATTERN",
    "MIN_CONTAINMENT_FRAC",
    "MAX_CENTROID_DISTANCE_MM",
    "AUDIT_GENESIS_HASH",
    "MARKER_UNITS",
]

#: Current schema version of the study store.  Stores with a lower version are migrated on
#: open (:mod:`hcc_imaging.study.migrations`); a higher version is refused (StoreError).
SCHEMA_VERSION: int = 3

#: Environment variable naming the store (a path or an SQLAlchemy URL); ``--db`` wins.
DB_ENV_VAR: str = "HCC_IMAGING_DB"

#: File name of the default SQLite store inside ``platformdirs.user_data_dir("hcc-imaging")``.
DB_FILENAME: str = "study.sqlite"

#: SQLite busy timeout (s): how long a writer waits for another process's write lock before
#: ``database is locked`` (SQLite docs, "sqlite3_busy_timeout").  30 s covers a napari autosave
#: racing a batch import; writers then retry (:data:`WRITE_RETRY_ATTEMPTS`).
SQLITE_BUSY_TIMEOUT_S: float = 30.0

#: ``PRAGMA synchronous`` in WAL mode.  FULL syncs the WAL on every commit so a committed
#: measurement survives power loss, not only a process crash (SQLite docs, "PRAGMA synchronous":
#: NORMAL in WAL mode "might roll back" the last transactions after power loss).  A clinical
#: record must not lose committed data, so FULL is the default.
SQLITE_SYNCHRONOUS: str = "FULL"

#: Attempts for one write transaction when the database reports "locked"/"busy".
WRITE_RETRY_ATTEMPTS: int = 8

#: First back-off delay (s) between write attempts; doubles each attempt (with jitter).
WRITE_RETRY_BASE_DELAY_S: float = 0.05

#: Accepted pseudonymous ids (patients, readers): letters, digits and ``. _ : -``, 1-64
#: characters.  Spaces, ``^`` (the DICOM PN separator) and commas are refused so a DICOM
#: PatientName such as ``DOE^JOHN`` or "John Doe" cannot be stored by mistake.  This cannot
#: recognise every name; sites must pass study codes (e.g. ``HCC-0042``).
PSEUDONYM_PATTERN: re.Pattern[str] = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

#: Tracking: a baseline and a follow-up lesion are linked when their overlap covers at least
#: this fraction of the smaller of the two (containment = |A and B| / min(|A|, |B|)).
#: 0.2 links a lesion that shrank to a third of its volume inside its baseline extent and
#: the fragments of a split, but not a neighbour touching it by a rim of voxels.  Project
#: choice, tested on phantoms (tests/study/test_study_tracking.py).
MIN_CONTAINMENT_FRAC: float = 0.2

#: Tracking: lesions without overlap are still linked when their centroids (after
#: registration) are closer than this (mm) and each is the other's nearest.  15 mm is about
#: the RECIST 1.1 measurability limit on CT (10 mm) plus typical residual misregistration of
#: the liver between breath holds (~5 mm).  Project choice.
MAX_CENTROID_DISTANCE_MM: float = 15.0

#: ``prev_hash`` of the first audit row (64 zeros).
AUDIT_GENESIS_HASH: str = "0" * 64

#: Canonical unit of each tumour marker (criteria.md section 9): values are stored in it.
MARKER_UNITS: dict[str, str] = {
    "afp": "ng/mL", "afp_l3": "%", "pivka_ii": "mAU/mL", "cea": "ng/mL", "ca19_9": "U/mL",
}

#: Read-document ``MarkerValue`` field of each marker (hcc_imaging.response.document).
MARKER_DOCUMENT_FIELDS: dict[str, str] = {
    "afp": "afp_ng_ml", "afp_l3": "afp_l3_pct", "pivka_ii": "pivka_ii_mau_ml", "cea": "cea_ng_ml",
    "ca19_9": "ca19_9_u_ml",
}

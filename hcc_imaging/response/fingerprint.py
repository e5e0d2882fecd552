"""The content hash of a read document that an assessment records (``read_sha256``).

``hcc-imaging assess --json`` (``Assessment.to_json()``) records the hash of the read it assessed;
the exports check an ``--assessment`` against the read it is used with by recomputing it
(``hcc_imaging.export.assessment_check``): a read corrected after it was assessed (a new
diameter, a lesion added) no longer matches, and its responses are not reported beside
measurements they were not computed from.

The hash is of the read's canonical JSON (:meth:`ReadDocument.to_json`, keys sorted, no
whitespace), so the file's layout, key order and spelling of numbers (``46`` / ``46.0``) do not
change it; lesions' ``tracking_uid`` are left out (the exports derive and add them to a read that
has none, which changes no response).  Any other change - a diameter, a role, a date, a note -
changes it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hcc_imaging.response.document import ReadDocument

__all__ = ["read_sha256", "HASH_EXCLUDED_LESION_FIELDS"]

#: lesion fields left out of the hash: they change no response
HASH_EXCLUDED_LESION_FIELDS: frozenset[str] = frozenset({"tracking_uid"})


def _canonical(doc: ReadDocument) -> dict[str, Any]:
    out = doc.to_json()
    for tp in out.get("timepoints", []):
        tp["lesions"] = [{k: v for k, v in les.items() if k not in HASH_EXCLUDED_LESION_FIELDS}
                         for les in tp.get("lesions", [])]
    return out


def read_sha256(doc: ReadDocument) -> str:
    """sha256 (hex) of the canonical JSON of ``doc`` (see the module docstring)."""
    text = json.dumps(_canonical(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

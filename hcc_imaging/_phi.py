"""Ids that may be patient names: say what is wrong with one without repeating it.

Logs and error messages must never carry a patient's name, so a check that refuses an id
(:func:`hcc_imaging.study.store.check_pseudonym`, ``hcc-imaging assess``) says *why* from
:func:`id_problem` and :func:`name_like`, never the value itself.  Standard library only: the
command line imports it without the study store.
"""

from __future__ import annotations

__all__ = ["name_like", "id_problem", "shown_id"]

#: Longest accepted pseudonymous id (``hcc_imaging.study.constants.PSEUDONYM_PATTERN``).
MAX_ID_LENGTH = 64


def name_like(value: str) -> str | None:
    """Why ``value`` looks like a person's name (a DICOM PN ``DOE^JOHN``, "Doe, John"), or None.

    The reason names the character, not the value, e.g. ``"looks like a person's name (contains
    '^', the DICOM name separator)"``.
    """
    if "^" in value:
        return "looks like a person's name (contains '^', the DICOM name separator)"
    if "," in value:
        return "looks like a person's name (contains a comma, as in 'Family, Given')"
    return None


def id_problem(value: object) -> str:
    """What is wrong with an id the pseudonym check refused, without repeating it.

    For a message such as ``f"patient id {id_problem(v)}"``: ``"is empty"``, ``"looks like a
    person's name (contains '^', ...)"``, ``"contains a space"``, ...
    """
    if not isinstance(value, str):
        return f"is not text (a {type(value).__name__})"
    if not value:
        return "is empty"
    reason = name_like(value)
    if reason is not None:
        return reason
    if any(c.isspace() for c in value):
        return "contains a space (a name, or free text?)"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_ID_LENGTH})"
    return "contains characters other than letters, digits, '.', '_', ':' and '-'"


def shown_id(value: object, what: str = "id") -> str:
    """An id as an error message may show it: quoted (``'P001'``) when it is an acceptable
    pseudonymous id, else a description that does not repeat it (``"(a patient id not repeated
    here: it looks like a person's name ...)"``).  One rule for every message that names an id
    a person typed or a file carried (a reader's or patient's id may be a name)."""
    import re

    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9._:-]{1,%d}" % MAX_ID_LENGTH, value):
        return repr(value)
    return f"(a {what} not repeated here: it {id_problem(value)})"

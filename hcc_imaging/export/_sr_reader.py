"""Which reader an imported SR's read is stored under (``import_sr_into_store``).

The default is the report's Person Observer; other tools write a person's name there
(``DOE^JOHN``), which the study store never holds, or a code no reader of the store has.  Either
way the message says to pass the reader's code (``--reader CODE``), never repeating a name.
"""

from __future__ import annotations

from typing import Any

from .._phi import id_problem

__all__ = ["sr_reader_id"]


def sr_reader_id(rep: Any, store: Any, reader_id: str | None) -> str:
    """The reader id for the read of ``rep`` (an ``SrReport``): ``reader_id`` if given, else the
    report's Person Observer when it is the code of a registered reader; else ``SrImportError``."""
    from ..study.constants import PSEUDONYM_PATTERN
    from .sr_import import SrImportError

    if reader_id:
        return reader_id
    how = ("Pass --reader CODE (reader_id= in Python): the pseudonymous code of the registered reader to "
           "store the read under ('study reader add CODE' registers one).")
    observer = rep.observer
    where = rep.path or f"SR {rep.sop_instance_uid}"
    if not observer:
        raise SrImportError(f"{where} names no Person Observer, so the read has no reader. {how}")
    if not PSEUDONYM_PATTERN.match(observer):
        raise SrImportError(
            f"{where}: its Person Observer {id_problem(observer)} (not repeated here), so it cannot be the reader "
            f"of the read: the study store holds no names. {how}")
    if observer not in {r.reader_id for r in store.readers()}:
        raise SrImportError(
            f"{where}: its Person Observer {observer!r} is no registered reader of the store. "
            f"Register it ('study reader add {observer}') or pass --reader CODE (reader_id= in Python) with "
            "the code of the reader to store the read under.")
    return observer

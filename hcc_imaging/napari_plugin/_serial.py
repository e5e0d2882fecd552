"""One read session, changed from two threads: the dock's GUI thread (table edits, line drags, brush
strokes, lock) and its workers (a click's or a propagation's ``segment_at`` / ``propagate`` ends in
``set_mask_crop``).  :func:`serialised` runs a session method under the session's re-entrant lock
(``ReadSession._lock``): without it, a change made while another thread saved raised
``RuntimeError: dictionary changed size during iteration`` in the autosave and the change was lost
(seen with two threads adding lesions: 154-277 of 300 kept).  The long work (segmentation, the
liver, registrations) runs outside the lock; only the session's state and its saves are inside it,
so the GUI thread waits milliseconds at most."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def serialised(fn: F) -> F:
    """``fn`` (a method of an object with a ``_lock``: a ``threading.RLock``) run under that lock."""

    @functools.wraps(fn)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return fn(self, *args, **kwargs)

    return locked  # type: ignore[return-value]

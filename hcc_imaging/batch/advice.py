"""A loader's advice in the batch's terms.

The loaders' errors tell a Python caller what to pass (``acquisition=N``, ``stack=N``,
``on_tilt="resample"``, the files of one repetition to ``load_series([...])``); the command line
appends its own flag for it (:func:`hcc_imaging.cli.command_line_hint`).  A batch failure row
told its user to "pass acquisition=N", which ``hcc-imaging batch`` has no option for: the batch
loads every series whole, one run for every study, so a choice that belongs to one series is made
in the files (keep the wanted images in the study's folder, or give the others a series of their
own).  :func:`batch_advice` rewrites those sentences into what the batch's user can do.
"""

from __future__ import annotations

import re

__all__ = ["batch_advice"]

_AGAIN = "then run the batch again with --resume"
_SPLIT = f"move the others out of the study's folder (or give them a SeriesInstanceUID of their own), {_AGAIN}"

#: (a loader's sentence for a Python caller, what the batch's user can do instead)
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"pass acquisition=N to load one of them\.( Otherwise pass the files of one repetition to "
                r"load_series\(\[\.\.\.\]\)\.)?"),
     "the batch loads a series whole (it has no option to pick one acquisition): keep the files of the "
     f"acquisition to measure in the series and {_SPLIT} (`hcc-imaging load SERIES --acquisition N` loads one "
     "to look at)."),
    (re.compile(r"Otherwise pass the files of one repetition to load_series\(\[\.\.\.\]\)\."),
     f"The batch loads a series whole: keep the files of one repetition in the series and {_SPLIT}."),
    (re.compile(r"Pass the files of one (\w+) value to load_series\(\[\.\.\.\]\) \(group them by that tag\)\."),
     rf"The batch loads a series whole: keep the files of one \1 value in the series and {_SPLIT}."),
    (re.compile(r"Pass stack=N to load one group \(largest first\)\."),
     "The batch loads a series whole (it has no option to pick one group): keep one group's files in the series "
     f"and {_SPLIT} (`hcc-imaging load SERIES --stack N` loads one group to look at)."),
    (re.compile(r"pass on_irregular=\"resample\""), "run the batch with --on-irregular resample"),
    (re.compile(r"Pass on_tilt=\"resample\""), "Run the batch with --on-tilt resample"),
)


def batch_advice(reason: str) -> str:
    """``reason`` (a failure row's) with a loader's advice to a Python caller replaced by what the
    batch's user can do (the batch's option, or how to change the study's files)."""
    for pattern, repl in _REWRITES:
        reason = pattern.sub(repl, reason)
    return reason

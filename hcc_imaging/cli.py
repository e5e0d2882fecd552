"""The ``hcc-imaging`` command.

Each subcommand lives in its own module under :mod:`hcc_imaging.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
``argparse.Namespace``, returning an exit code).  Heavy imports happen inside ``func`` so
``hcc-imaging --help`` stays fast.

Errors: any :class:`~hcc_imaging.errors.HccImagingError` is printed to stderr (message only,
no traceback) with exit code 2, and where it tells a Python caller which keyword fixes it
(``on_tilt="resample"``, ``study_uid=``...) the command's own flag for it (:func:`command_line_hint`);
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .errors import HccImagingError

#: Subcommand modules, in help order.  A module that is missing is skipped, so the
#: command grows as the project does.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "index",
    "load",
    "segment",
    "measure",
    "assess",
    "study",
    "export",
    "batch",
    "view",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hcc-imaging",
        description="Measure how liver cancer (HCC) responds to treatment on CT and MRI.",
    )
    parser.add_argument("--version", action="version", version=f"hcc-imaging {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"hcc_imaging.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"hcc_imaging.commands.{name}":
                continue
            raise
        mod.register(sub)
    return parser


#: A loader's message names the Python keyword that fixes it; the command line's flag for it, where the
#: command has that option (its ``argparse`` dest): (keyword in the message, dest, the flag to print).
_FLAG_HINTS: tuple[tuple[str, str, str], ...] = (
    ('on_tilt="resample"', "on_tilt", "--on-tilt resample"),
    ('on_irregular="resample"', "on_irregular", "--on-irregular resample"),
    ("study_uid=", "study_uid", "--study-uid UID"),
    ("series_uid=", "series_uid", "--series-uid UID"),
    ("stack=N", "stack", "--stack N"),
    ("acquisition=", "acquisition", "--acquisition N"),
)


def command_line_hint(message: str, args: argparse.Namespace) -> str:
    """The flags of this command that do what ``message`` tells a Python caller to pass (``on_tilt=
    "resample"`` is ``--on-tilt resample``), as a sentence to append, or "" when it names none."""
    flags = [flag for key, dest, flag in _FLAG_HINTS if key in message and hasattr(args, dest)]
    return f" On the command line: {' or '.join(flags)}." if flags else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HccImagingError as err:
        if args.debug:
            raise
        print(f"error: {type(err).__name__}: {err}{command_line_hint(str(err), args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

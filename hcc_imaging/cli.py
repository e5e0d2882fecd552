"""The ``hcc-imaging`` command.

Each subcommand lives in its own module under :mod:`hcc_imaging.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
``argparse.Namespace``, returning an exit code).  Heavy imports happen inside ``func`` so
``hcc-imaging --help`` stays fast.

Errors: any :class:`~hcc_imaging.errors.HccImagingError` is printed to stderr (message only,
no traceback) with exit code 2, and where it tells a Python caller which keyword fixes it
(``on_tilt="resample"``, ``study_uid=``...) the command's own flag for it (:func:`command_line_hint`);
``--debug`` shows the traceback.  An :class:`OSError` (a path that cannot be made or written,
a full disk, no permission) is printed the same way, naming the path, the reason and what to do
(:func:`os_error_message`).  Output to a pipe that was closed (``| head``) ends quietly with exit
code 141, as a command killed by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

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


#: The option for the segmenter's ``line_lps=`` advice (and ``roi_max_half_size_mm``'s: a line sizes the region).
_LINE_HINT = "--line X1,Y1,Z1,X2,Y2,Z2 (a line across the lesion, LPS mm; the region searched is then sized to the line)"

#: A loader's message names the Python keyword that fixes it; the command line's flag for it, where the
#: command has that option (its ``argparse`` dest): (keyword in the message, dest, the flag to print).
_FLAG_HINTS: tuple[tuple[str, str, str], ...] = (
    ('on_tilt="resample"', "on_tilt", "--on-tilt resample"),
    ('on_irregular="resample"', "on_irregular", "--on-irregular resample"),
    ("study_uid=", "study_uid", "--study-uid UID"),
    ("series_uid=", "series_uid", "--series-uid UID"),
    ("stack=N", "stack", "--stack N"),
    ("acquisition=", "acquisition", "--acquisition N"),
    # a mask that does not lie on the image: the image is the command's series argument
    ("`reference`", "masks", "give as SERIES the series the mask was drawn on"),
    ("`reference`", "labels", "give as --image the series the mask was drawn on"),
    # segment: the lesion segmenter's advice (segment_lesion's keywords, segment_liver's, LesionParams)
    ("pass liver=None", "liver", "leave out --liver / --liver-mask (no liver mask)"),
    ("include_lps=", "liver_mask", "--liver-mask PATH (a liver mask that holds the lesion)"),
    ("(segment_liver)", "liver_mask", "--liver (an automatic liver mask) or --liver-mask PATH"),
    ("or pass a liver mask", "liver_mask", "--liver (an automatic liver mask) or --liver-mask PATH"),
    ("backend='totalsegmentator'", "liver_mask", "--liver-mask PATH (a liver mask made elsewhere) or leave out --liver"),
    ("give a liver mask instead", "liver_mask", "--liver-mask PATH (a liver mask made elsewhere) or leave out --liver"),
    ("pass extrahepatic=True", "extrahepatic", "--extrahepatic (a lesion outside the liver, kept out of its mask)"),
    ("pass extrahepatic=False", "extrahepatic", "leave out --extrahepatic (a liver lesion)"),
    ("line_lps=", "line", _LINE_HINT),
    ("LesionParams.roi_max_half_size_mm", "line", _LINE_HINT),  # (no option sets it; a line sizes the region)
)


def command_line_hint(message: str, args: argparse.Namespace) -> str:
    """The flags of this command that do what ``message`` tells a Python caller to pass (``on_tilt=
    "resample"`` is ``--on-tilt resample``), as a sentence to append, or "" when it names none."""
    flags = list(dict.fromkeys(flag for key, dest, flag in _FLAG_HINTS if key in message and hasattr(args, dest)))
    flags = [f for f in (_not_given(flag, args) for flag in flags) if f]
    return f" On the command line: {' or '.join(flags)}." if flags else ""


def _not_given(flag: str, args: argparse.Namespace) -> str:
    """``flag`` (a hint of :data:`_FLAG_HINTS`) as advice to a user who gave ``args``: without the
    option already given ("On the command line: --liver" after ``--liver``), "" when nothing is left."""
    liver_or_mask = "--liver (an automatic liver mask) or --liver-mask PATH"
    if flag == liver_or_mask and getattr(args, "liver_mask", None):
        return ""  # a liver mask was given
    if flag == liver_or_mask and getattr(args, "liver", False):
        return "--liver-mask PATH (a liver mask drawn elsewhere, in place of --liver)"
    if flag == _LINE_HINT and getattr(args, "line", None):
        return ""  # a line was drawn
    return flag


#: What to do about an OSError, by errno.
_ERRNO_HINTS: dict[int, str] = {
    errno.ENOSPC: "The disk is full: free some space or write elsewhere.",
    errno.EDQUOT: "The disk quota is used up: free some space or write elsewhere.",
    errno.EACCES: "Permission denied: choose a path you may write (or read), or change its permissions.",
    errno.EPERM: "Operation not permitted: choose another path, or change its permissions.",
    errno.EROFS: "The file system is read-only: choose a path on a writable disk.",
    errno.ENOTDIR: "A part of the path is a file, not a folder: check the path.",
    errno.EISDIR: "It is a folder: pass a file path.",
    errno.EEXIST: "It already exists (a file where a folder is needed?): pass another path.",
    errno.ENOENT: "It does not exist: check the path (and that its folder exists).",
    errno.ENAMETOOLONG: "The name is too long: pass a shorter path.",
    errno.ELOOP: "Too many symbolic links (a loop?): check the links on the path.",
    errno.EIO: "The disk reported an I/O error: check the disk.",
}

#: Exit code of a command whose output pipe was closed (128 + SIGPIPE, what a shell reports for
#: a command killed by it).
EXIT_BROKEN_PIPE = 141


def os_error_message(err: OSError) -> str:
    """``OSError: PATH: reason. What to do.`` for an :class:`OSError` (without the traceback)."""
    paths = [os.fsdecode(p) for p in (err.filename, err.filename2) if p is not None]
    where = f"{' -> '.join(paths)}: " if paths else ""
    reason = err.strerror or str(err) or "failed"
    hint = _ERRNO_HINTS.get(err.errno or 0, "Check the path, its permissions and the disk.")
    return f"{type(err).__name__}: {where}{reason}. {hint}"


def _stdout_pipe_closed() -> bool:
    """True when stdout is a pipe whose reader has gone (``| head`` exited)."""
    try:
        fd = sys.stdout.fileno()
        import select

        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _pipe_error_from_rich() -> Callable[[], None]:
    """Make rich's consoles raise :class:`BrokenPipeError` on a closed pipe, as ``print`` does, so
    :func:`main` ends with :data:`EXIT_BROKEN_PIPE`: rich's own ``Console.on_broken_pipe`` catches it
    and raises ``SystemExit(1)`` (a table piped into ``| head`` ended with exit 1).  Returns the undo."""
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover - rich is a dependency
        return lambda: None
    before = Console.__dict__.get("on_broken_pipe")

    def on_broken_pipe(self: Console) -> None:
        self.quiet = True  # (rich's own: nothing more is written)
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    Console.on_broken_pipe = on_broken_pipe  # type: ignore[method-assign]

    def undo() -> None:
        if before is not None:
            Console.on_broken_pipe = before  # type: ignore[method-assign]

    return undo


def _reopen_closed_std_streams() -> None:
    """A standard output stream the shell closed (``2>&-``, ``>&-``) points at /dev/null.

    Python then starts with ``sys.stderr`` None: the first warning, progress bar or ``isatty()``
    raised AttributeError and ``hcc-imaging batch ... 2>&-`` exited 1 having written nothing.  And a
    closed descriptor 2 would be reused by the next file opened (a results table), into which a
    library (or a worker process inheriting it) writing to "stderr" would then write.  Messages
    sent there are dropped; the run goes on and writes its results."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue  # open
        except OSError:
            pass
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        except OSError:  # pragma: no cover - /dev/null missing
            continue
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False))  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    _reopen_closed_std_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    undo_rich = _pipe_error_from_rich()
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return rc
    except HccImagingError as err:
        if args.debug:
            raise
        print(f"error: {type(err).__name__}: {err}{command_line_hint(str(err), args)}", file=sys.stderr)
        return 2
    except BrokenPipeError as err:
        if _stdout_pipe_closed():
            _quiet_stdout()
            return EXIT_BROKEN_PIPE
        if args.debug:
            raise
        print(f"error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        if args.debug:
            raise
        print(f"error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        undo_rich()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``hcc-imaging view [PATH]``: napari with the HCC response dock and the data opened.

PATH is a DICOM folder, zip or DICOMDIR (default: the bundled sample study when present, else
an empty viewer).  ``--reader ID`` starts (or resumes) that reader's read at once.
``--no-run`` builds the viewer and returns without entering the Qt event loop (scripts, tests);
``--screenshot FILE`` saves a window screenshot first (use with ``--no-run`` under Xvfb).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "build_viewer"]

#: Name napari gives our dock (display name + plugin name).
DOCK_NAME = "HCC response"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "view",
        help="open napari with the hcc-imaging dock and the data loaded",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", nargs="?", type=Path, help="DICOM folder, zip or DICOMDIR (default: sample study)")
    p.add_argument("--reader", default=None, help="reader id: start/resume this reader's read at once")
    p.add_argument("--autosave-dir", type=Path, default=None, help="where reads are autosaved")
    p.add_argument("--db", default=None, help="study store (SQLite path or SQLAlchemy URL; default $HCC_IMAGING_DB)")
    p.add_argument("--no-run", action="store_true", help="build the viewer but do not start the event loop")
    p.add_argument("--screenshot", type=Path, default=None, help="save a window screenshot (PNG) after loading")
    p.set_defaults(func=run)


def _default_path() -> Path | None:
    from ..napari_plugin._sample_data import sample_data_dir

    root = sample_data_dir()
    return root if root.is_dir() and any(root.rglob("*.dcm")) else None


def build_viewer(
    path: Path | None,
    *,
    viewer: Any = None,
    reader: str | None = None,
    autosave_dir: Path | None = None,
    db: str | Path | None = None,
    show: bool = True,
) -> tuple[Any, Any]:
    """Open (or reuse) a viewer, load ``path`` with the hcc-imaging reader and dock the widget.

    Loading here is synchronous (the window is not shown yet, there is nothing to freeze);
    later loads from the dock run in a ``thread_worker``.  Returns ``(viewer, dock)``.
    """
    from .._optional import import_optional

    napari = import_optional("napari", "hcc-imaging view", "all")
    from ..napari_plugin._widgets._dock import ResponseDock

    if viewer is None:
        viewer = napari.Viewer(title="hcc-imaging", show=show)
    if path is not None:
        from ..errors import HccImagingError, NotDicomError

        if not Path(path).exists():
            raise NotDicomError(f"{path} does not exist; give a DICOM folder, zip or DICOMDIR (hcc-imaging view PATH).")
        try:
            viewer.open(str(path), plugin="hcc-imaging")
        except Exception as err:  # napari wraps the reader's error: ours (it names the series and why) is the message
            cause: BaseException | None = err
            while cause is not None and not isinstance(cause, HccImagingError):
                cause = cause.__cause__ or cause.__context__
            if cause is None:
                raise
            raise cause from err
    dock = ResponseDock(viewer, autosave_dir=autosave_dir, db=db)
    viewer.window.add_dock_widget(dock, name=DOCK_NAME, area="right")
    if reader:
        dock.start_read(reader)
    return viewer, dock


def run(args: argparse.Namespace) -> int:
    path = args.path if args.path is not None else _default_path()
    viewer, dock = build_viewer(path, reader=args.reader, autosave_dir=args.autosave_dir, db=args.db, show=True)
    if args.screenshot is not None:
        from qtpy.QtWidgets import QApplication

        for _ in range(5):
            QApplication.processEvents()
        viewer.window.screenshot(str(args.screenshot), canvas_only=False, flash=False)
    if args.no_run:
        n = len(viewer.layers)
        dock.wait_for_workers()  # e.g. the liver mask the dock makes when a read starts
        viewer.close()
        print(f"viewer built: {n} layer(s), dock {DOCK_NAME!r}")
        return 0
    import napari

    napari.run()
    return 0

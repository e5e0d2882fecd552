"""The reader's input layers of the dock (:class:`InputLayersMixin`, a base of
:class:`._dock.ResponseDock`): the seeds and segment-line layers made on the shown time point's
grid (and a reused layer moved onto it, what it held on another grid cleared), one input button
on at a time, a button released with what to do first when no read or study is open, and
napari's progress for work that runs longer than :attr:`InputLayersMixin.PROGRESS_DELAY_MS`.
Split out of ``_dock.py`` along this seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer

from .._layers import METADATA_KEY, geometry_metadata, layer_transform

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession


class InputLayersMixin:
    """Input layers for :class:`._dock.ResponseDock`, which provides the viewer, the session and
    the widgets these methods read (``viewer``, ``session``, ``timepoint_id``,
    ``segment_button``, ``line_segment_button``, ``manual_button``, ``_updating``) and its helpers
    (``OPEN_STUDY_FIRST``, ``_status``, ``_image_layers``)."""

    viewer: Any
    session: ReadSession | None
    timepoint_id: str | None
    _updating: bool

    def _input_layer(self, name: str, add: Any, on_data: Any) -> Any:
        """The reader-input layer ``name`` (seeds, segment line), made with ``add(name=...,
        **transform)`` on the current time point's geometry when missing; ``on_data`` gets its
        data events."""
        geom = self.session.geometry(self.timepoint_id) if self.session and self.timepoint_id else None
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            if geom is not None:
                self._take_grid(layer, geom)
            return layer
        kwargs = layer_transform(geom) if geom is not None else {}
        self._updating = True
        try:
            layer = add(name=name, **kwargs)
        finally:
            self._updating = False
        layer.events.data.connect(on_data)
        return layer

    #: The layers the reader draws input on (seeds, a line to segment), shared by every read and time point.
    INPUT_LAYERS: tuple[str, ...] = ("seeds (click a lesion)", "segment line (draw across a lesion)")

    def _take_grid(self, layer: Any, geom: Any) -> bool:
        """Give a reused points / shapes layer the transform of ``geom`` (the shown read's and time
        point's grid) when it has another's; what it held on the other grid is cleared.  Returns
        whether it changed.  (A second patient's seeds and lines were drawn on the first's grid.)"""
        want = layer_transform(geom)
        if (np.allclose(layer.scale, want["scale"]) and np.allclose(layer.translate, want["translate"])
                and np.allclose(layer.rotate, want["rotate"])):
            return False
        self._updating = True
        try:
            if layer.name in self.INPUT_LAYERS and hasattr(layer, "nshapes"):
                if layer.nshapes:
                    layer.selected_data = set(range(layer.nshapes))
                    layer.remove_selected()
            elif layer.name in self.INPUT_LAYERS and len(layer.data):
                layer.data = np.zeros((0, 3))
            for key in ("scale", "rotate", "translate"):
                setattr(layer, key, want[key])
            layer.metadata.setdefault(METADATA_KEY, {}).update(geometry_metadata(geom))
        finally:
            self._updating = False
        return True

    def _activate_input(self, keep: Any, make_layer: Any, mode: str) -> None:
        """Turn the other input buttons off, make ``make_layer()`` the active layer in ``mode``."""
        for button in (self.segment_button, self.line_segment_button, self.manual_button):
            if button is not keep:
                button.setChecked(False)
        layer = make_layer()
        self.viewer.layers.selection.active = layer
        layer.mode = mode

    def _needs_session(self, button: Any) -> bool:
        """True when a read is open on a time point with images; otherwise say what to do first and
        release ``button`` (no layer is made: one made before a study was open was in pixels)."""
        s = self.session
        if not self._image_layers() or (s is not None and self.timepoint_id not in s.images):
            self._status(self.OPEN_STUDY_FIRST)
        elif s is None:
            self._status("start a read first (reader id, then 'Start / resume read')")
        else:
            return True
        button.setChecked(False)
        return False

    #: A click that finishes sooner shows no progress bar: napari's indeterminate bar costs about
    #: 0.3-0.5 s of CPU per sub-second click on this machine (benchmarks/bench_napari.py), which
    #: the segmentation thread then waits for.  Longer work shows napari's progress as before.
    PROGRESS_DELAY_MS = 400

    def progress_after(self, worker: Any, desc: str, delay_ms: int | None = None) -> None:
        """Show napari's (indeterminate) progress for ``worker`` once it has run ``delay_ms``
        (default :attr:`PROGRESS_DELAY_MS`), closed when it finishes."""
        from napari.utils import progress

        state: dict[str, Any] = {"bar": None, "done": False}

        def show() -> None:
            if not state["done"]:
                state["bar"] = progress(total=0, desc=desc)

        def close() -> None:
            state["done"] = True
            if state["bar"] is not None:
                state["bar"].close()
                state["bar"] = None

        worker.finished.connect(close)
        QTimer.singleShot(self.PROGRESS_DELAY_MS if delay_ms is None else int(delay_ms), show)

"""The dock's measurement lines (:class:`MeasurementLinesMixin`, a base of
:class:`._dock.ResponseDock`): the ``measurements · <time point>`` shapes layer drawn from the
read (only what changed redrawn), a line dragged (measured again) or drawn by hand (a new
lesion's long axis, or the selected lesion's long or short axis) read back into the read, and
the blinding of the read layers (a layer of another reader's or patient's read is refused and
taken out of the viewer).  Split out of ``_dock.py`` along this seam (2026-12-06), no behaviour
changed."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import HccImagingError
from .. import _core
from .._layers import METADATA_KEY, line_from_vertices, lines_layer_data

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession


class MeasurementLinesMixin:
    """Measurement lines for :class:`._dock.ResponseDock`, which provides the viewer, the session
    and the widgets these methods read (``viewer``, ``session``, ``timepoint_id``, ``table``,
    ``role_combo``, ``manual_button``, ``_updating``) and its helpers (``_status``, ``_error``,
    ``_refuse``, ``_needs_session``, ``_activate_input``, ``_take_grid``, ``refresh_all``);
    ``assessment`` is the last response :meth:`refresh_response` drew, when there is one."""

    viewer: Any
    session: ReadSession | None
    timepoint_id: str | None
    _updating: bool

    def _lines_layer_name(self, timepoint_id: str | None = None) -> str:
        return f"measurements · {timepoint_id or self.timepoint_id}"

    #: Name prefixes of the layers that show a read (its masks and lines, one per time point).
    READ_LAYER_PREFIXES: tuple[str, ...] = ("lesions · ", "viable · ", "measurements · ")

    def _read_metadata(self) -> dict[str, Any]:
        """Whose read a mask / lines layer shows (kept in its metadata: an edit of it goes only there)."""
        s = self.session
        return {} if s is None else {"reader_id": s.reader_id, "patient_id": s.patient_id}

    def _foreign_layer(self, layer: Any) -> str | None:
        """Why an edit of ``layer`` must not go into the current read (None when it may): the layer
        shows another reader's or patient's read, or a time point this read does not know."""
        s = self.session
        md = (layer.metadata.get(METADATA_KEY) or {}) if hasattr(layer, "metadata") else {}
        if s is None:
            return "no read is open"
        if md.get("reader_id") != s.reader_id or md.get("patient_id") != s.patient_id:
            return (f"layer {layer.name!r} shows the read of reader {md.get('reader_id')!r} / patient "
                    f"{md.get('patient_id')!r}, not the open read ({s.reader_id!r} / {s.patient_id!r})")
        if not md.get("timepoint_id"):
            return f"layer {layer.name!r} names no time point"
        return None

    def _remove_other_read_layers(self) -> None:
        """Blinding: the masks and lines layers of any read but the open one leave the viewer (a
        hidden layer of reader A's read was one click away from reader B, and dragging its lines
        went into B's read)."""
        for layer in list(self.viewer.layers):
            if any(layer.name.startswith(p) for p in self.READ_LAYER_PREFIXES) and self._foreign_layer(layer):
                self._updating = True
                try:
                    self.viewer.layers.remove(layer)
                finally:
                    self._updating = False

    def _on_manual_mode(self, on: bool) -> None:
        if on and self._needs_session(self.manual_button):
            self._activate_input(self.manual_button, self._ensure_lines_layer, "add_line")

    def _ensure_lines_layer(self, timepoint_id: str | None = None) -> Any:
        s = self.session
        tpid = timepoint_id or self.timepoint_id
        if s is None or tpid is None:
            raise HccImagingError("start a read and show a time point before drawing measurement lines.")
        name = self._lines_layer_name(tpid)
        geom = s.geometry(tpid)
        data, kwargs, _ = lines_layer_data(s.lines(tpid), geom, name=name)
        kwargs["metadata"][METADATA_KEY]["read_document"] = s.read_document()
        if getattr(self, "assessment", None) is not None:
            kwargs["metadata"][METADATA_KEY]["assessment"] = _core.assessment_json(self.assessment)
        kwargs["metadata"][METADATA_KEY]["timepoint_id"] = tpid
        kwargs["metadata"][METADATA_KEY].update(self._read_metadata())
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            import pandas as pd

            feats = pd.DataFrame(kwargs["features"])
            n_old = int(layer.nshapes)
            # another read's (patient's) layer of this time point's name: this read's grid, and redrawn
            regridded = self._take_grid(layer, geom)
            # only what changed is redrawn: a new lesion appends its lines; unchanged lines (a
            # table edit, a response update) are left alone; anything else rebuilds the layer
            same_prefix = (
                not regridded
                and n_old <= len(data)
                and all(np.array_equal(np.asarray(layer.data[i]), data[i]) for i in range(n_old))
                and list(layer.features.get("label", [])) == list(feats["label"][:n_old])
                and list(layer.features.get("axis", [])) == list(feats["axis"][:n_old])
            )
            self._updating = True
            try:
                if not same_prefix:
                    if n_old:
                        layer.selected_data = set(range(n_old))
                        layer.remove_selected()
                    n_old = 0
                if len(data) > n_old:
                    layer.add(data[n_old:], shape_type="line", edge_color=kwargs["edge_color"][n_old:],
                              edge_width=kwargs["edge_width"])
                if n_old != len(data) or not same_prefix:
                    layer.features = feats
                    layer.refresh_text()
                layer.metadata = kwargs["metadata"]
            finally:
                self._updating = False
            return layer
        self._updating = True
        try:
            if not data:
                kwargs.pop("shape_type")
                kwargs.pop("edge_color")
            layer = self.viewer.add_shapes(data, **kwargs)
        finally:
            self._updating = False
        layer.events.data.connect(self._on_lines_edited)
        return layer

    def _on_lines_edited(self, event: Any) -> None:
        """A line was dragged (re-measure) or drawn (manual measurement)."""
        if self._updating or self.session is None or not self.timepoint_id:
            return
        action = getattr(event, "action", "changed")
        if action == "removed":
            # a line is a lesion's measurement: deleting the shape changed the picture only (the
            # read kept the number, and the line came back at the next redraw, unexplained)
            self._status("a measurement line stays while its lesion is measured: drag it to correct it, type the "
                         "value in the table, or select the lesion's row and press 'Delete lesion'; drawn again.")
            self.refresh_all()
            return
        if action not in ("changed", "added"):
            return
        layer = event.source
        # the edit goes to the layer's own read and time point (in compare mode the baseline's lines
        # are the ones shown at a follow-up: a drag of one measured the follow-up), or nowhere
        why = self._foreign_layer(layer)
        if why is not None:
            self._refuse(f"line edit refused: {why}; it was not recorded. Start / resume that read to change it.")
            self._updating = True
            try:
                self.viewer.layers.remove(layer)  # another read's lines: out of this read's viewer
            finally:
                self._updating = False
            self.refresh_all()
            return
        tpid = str(layer.metadata[METADATA_KEY]["timepoint_id"])
        geom = self.session.geometry(tpid)
        feats = layer.features
        try:
            if action == "added":
                idx = len(layer.data) - 1
                verts = np.asarray(layer.data[idx])
                if verts.shape[0] != 2:
                    return
                ln = line_from_vertices(verts, geom, lesion_id="?", axis="long")
                self._manual_line(ln, tpid)
            else:
                for idx in sorted(getattr(event, "data_indices", ()) or range(len(layer.data))):
                    lid = str(feats["lesion_id"].iloc[idx])
                    axis = str(feats["axis"].iloc[idx])
                    if lid in ("", "nan", "?"):
                        continue
                    ln = line_from_vertices(layer.data[idx], geom, lesion_id=lid, axis=axis)
                    old = self.session.observations.get((lid, tpid))
                    if old and axis in old.lines and np.allclose(old.lines[axis].start_lps, ln.start_lps) and np.allclose(old.lines[axis].end_lps, ln.end_lps):
                        continue
                    self.session.set_line(lid, tpid, ln)
        except HccImagingError as err:
            self._error(err)
        if tpid != self.timepoint_id:
            self._ensure_lines_layer(tpid)  # (the shown time point's is redrawn by refresh_all)
        self.refresh_all()

    def _manual_line(self, line: Any, timepoint_id: str | None = None) -> None:
        """A drawn line: the long axis of a new lesion; with a lesion selected in the table, the
        long axis of that lesion at this time point (tracking) or, when it has one, its short axis
        (bidirectional measurement).  ``timepoint_id``: the time point of the layer it was drawn on
        (default the shown one)."""
        s = self.session
        tpid = timepoint_id or self.timepoint_id
        if s is None or tpid is None:
            raise HccImagingError("start a read and show a time point before drawing a measurement line.")
        lid = self._selected_lesion_id()  # (LesionTableMixin)
        ends = (line.start_lps, line.end_lps)
        if lid is None or lid not in s.lesions:
            s.measure_manual(tpid, ends, role=self.role_combo.currentText())
            return
        obs = s.observations.get((lid, tpid))
        axis = "short" if obs is not None and "long" in obs.lines and "short" not in obs.lines else "long"
        s.set_line(lid, tpid, replace(line, lesion_id=lid, axis=axis))

    def move_line(self, lesion_id: str, axis: str, vertices_data: Any) -> None:
        """Programmatic drag of one line (scripting): replaces its vertices on the Shapes layer,
        which emits the same ``events.data`` (action "changed") a mouse drag does."""
        layer = self.viewer.layers[self._lines_layer_name()]
        feats = layer.features
        idx = int(np.nonzero((feats["lesion_id"] == lesion_id).to_numpy() & (feats["axis"] == axis).to_numpy())[0][0])
        data = list(layer.data)
        data[idx] = np.asarray(vertices_data, float)
        layer.data = data

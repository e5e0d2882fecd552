"""The dock's segmentation controls (:class:`SegmentControlsMixin`, a base of
:class:`._dock.ResponseDock`): the "on" phase list and "in liver" box, a click or a line drawn to
segment, "Propagate" and "Propagate all", each in a napari thread worker with progress, and the
result drawn as a click's.  Split out of ``_dock.py`` along this seam (2026-12-02), no behaviour
changed; the signals (``segment_done``, ``propagate_progress``) stay on the ``QWidget``, which
PyQt requires of them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _core
from .._layers import world_to_lps

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession


class SegmentControlsMixin:
    """Segmentation for :class:`._dock.ResponseDock`, which provides the viewer, the session and
    the widgets these methods read (``viewer``, ``session``, ``timepoint_id``, ``seg_phase_combo``,
    ``liver_check``, ``node_check``, ``rind_check``, ``bias_check``, ``role_combo``, ``segment_button``,
    ``line_segment_button``, ``last_timings``, ``_updating``), its signals and helpers
    (``segment_done``, ``propagate_progress``, ``_status``, ``_error``, ``_start``,
    ``progress_after``, ``_input_layer``, ``_activate_input``, ``_needs_session``, ``refresh_all``,
    ``go_to_lesion``, ``_selected_lesion_id``)."""

    viewer: Any
    session: ReadSession | None
    timepoint_id: str | None
    last_timings: dict[str, float]
    _updating: bool
    segment_done: Any
    propagate_progress: Any

    #: The "on" list's entry for the most conspicuous phase (``segment_lesion``'s choice).
    AUTO_PHASE = "auto"

    def segment_phase(self) -> str | None:
        """The phase the "on" list picks for the next segmentation, or None for 'auto'."""
        text = self.seg_phase_combo.currentText()
        return None if not text or text == self.AUTO_PHASE else text

    #: The "in liver" box's state in a new dock: ticked (2026-12-02).  Unticked, a click on
    #: 3D-IRCADb-01 patient 17's tumour 2 ran into the soft tissue beside the liver (Dice 0.592;
    #: 0.820 with the box); tumour 1 gives 0.883 without it, 0.834 with it (docs/validation.md
    #: section 2.3).  A run-in into another organ is the worse failure for a reader.
    IN_LIVER_DEFAULT = True

    def prepare_liver(self) -> Any:
        """With "in liver" ticked, make the shown time point's liver mask in a background thread
        (``ReadSession.prepare_liver``), so that the first click does not wait for it; a click made
        meanwhile waits for that mask, not a second one.  Returns the worker, or None when there is
        nothing to make."""
        from napari.qt.threading import thread_worker

        s, tpid = self.session, self.timepoint_id
        if (s is None or not tpid or tpid not in s.images or not self.liver_check.isChecked()
                or s.has_liver(tpid) or not _core.available("segment")):
            return None

        @thread_worker(ignore_errors=True)
        def work() -> str | None:
            return s.prepare_liver(tpid)  # type: ignore[union-attr]

        def done(why: str | None) -> None:
            if why and s is self.session:
                self._status(f"no liver mask at {tpid} ({why}); clicks are segmented without one")

        worker = work()
        worker.returned.connect(done)
        worker.errored.connect(self._error)
        self.progress_after(worker, f"liver mask ({tpid})", delay_ms=1000)
        self._start(worker)
        return worker

    def _seeds_layer(self) -> Any:
        return self._input_layer(
            "seeds (click a lesion)",
            lambda **kw: self.viewer.add_points(np.zeros((0, 3)), size=3, face_color="red", border_width=0, **kw),
            self._on_seed_added,
        )

    def _on_segment_mode(self, on: bool) -> None:
        if on and self._needs_session(self.segment_button):
            self._activate_input(self.segment_button, self._seeds_layer, "add")

    def _added(self, event: Any) -> tuple[Any, Any] | None:
        """(layer, the item the reader just added) of a seeds / segment-line layer's data event, or
        None when it is not an addition by the reader (a redraw, a removal) or no read is open."""
        if self._updating or getattr(event, "action", "added") != "added" or self.session is None:
            return None
        layer = event.source
        return None if len(layer.data) == 0 else (layer, layer.data[-1])

    def _on_seed_added(self, event: Any) -> None:
        got = self._added(event)
        if got is not None:
            layer, point = got
            self.segment_at_world(np.asarray(layer.data_to_world(point), float))

    def segment_at_world(self, world_point: Any) -> Any:
        """Segment + measure the lesion under a napari world point (z, y, x mm) in a thread."""
        return self._segment(point_lps=world_to_lps(world_point))

    def segment_along_world_line(self, world_line: Any) -> Any:
        """Segment + measure the lesion across a line (two napari world points) in a thread."""
        w = np.asarray(world_line, float).reshape(2, 3)
        return self._segment(line_lps=np.stack([world_to_lps(w[0]), world_to_lps(w[1])]))

    def _segment(self, *, point_lps: Any = None, line_lps: Any = None) -> Any:
        s = self.session
        if s is None or not self.timepoint_id:
            return None
        tpid = self.timepoint_id
        role = self.role_combo.currentText()
        lesion_id = self._selected_lesion_for_followup()
        node = True if self.node_check.isChecked() else None  # None: a tracked lesion's own flag
        rind = self.rind_check.isChecked()
        in_liver = self.liver_check.isChecked()
        phase = self.segment_phase()
        bias = self.bias_check.isChecked()
        return self._segment_in_thread(
            lambda: s.segment_at(tpid, point_lps, line_lps=line_lps, lesion_id=lesion_id, role=role, node=node,
                                 rind=rind, in_liver=in_liver, phase=phase, bias_correct=bias),
            "segmenting lesion")

    def propagate_selected(self) -> Any:
        """Segment the lesion selected in the table at the shown time point from where it lies at
        another (:meth:`ReadSession.propagate`: the time points registered, its centre carried
        across and clicked), in a thread; measured and shown as a click is."""
        s = self.session
        if s is None or not self.timepoint_id:
            self._status("start a read first (reader id)")
            return None
        lid = self._selected_lesion_id()
        if lid is None:
            self._status("select the lesion to propagate in the table first")
            return None
        tpid, in_liver, phase = self.timepoint_id, self.liver_check.isChecked(), self.segment_phase()
        bias = self.bias_check.isChecked()
        return self._segment_in_thread(lambda: s.propagate(lid, tpid, in_liver=in_liver, phase=phase, bias_correct=bias),
                                       "propagating lesion")

    def propagate_all(self) -> Any:
        """Propagate every lesion read at an earlier time point and not yet at the shown one
        (:meth:`ReadSession.propagate_all`) in a thread, with napari's progress per lesion; the
        table is refreshed and the status line says how many were found and why the others were
        not.  Emits ``segment_done`` as a click does."""
        from napari.qt.threading import thread_worker

        s = self.session
        if s is None or not self.timepoint_id:
            self._status("start a read first (reader id)")
            return None
        tpid, in_liver, phase = self.timepoint_id, self.liver_check.isChecked(), self.segment_phase()
        bias = self.bias_check.isChecked()

        @thread_worker(ignore_errors=True)
        def work() -> dict[str, Any]:
            # each lesion done is said in the status line (a Qt signal: queued to the main thread)
            return s.propagate_all(tpid, in_liver=in_liver, phase=phase, bias_correct=bias,  # type: ignore[union-attr]
                                   progress=lambda n, total: self.propagate_progress.emit(n, total))

        def done(result: dict[str, Any]) -> None:
            if s is not self.session:  # another reader's (or patient's) read is open now: say nothing
                self.segment_done.emit(True)
                return
            self.refresh_all()
            found = [k for k, v in result.items() if not isinstance(v, str)]
            missed = {k: v for k, v in result.items() if isinstance(v, str)}
            if not result:
                self._status(f"nothing to propagate to {tpid}: every lesion of the earlier time points is read here")
            else:
                text = f"propagated {len(found)} of {len(result)} lesions to {tpid}"
                if missed:
                    text += "; not found: " + "; ".join(f"{k}: {v}" for k, v in missed.items())
                self._status(text)
                self._warn_suspect(result)
            self.segment_done.emit(True)

        worker = work()
        worker.returned.connect(done)
        worker.errored.connect(lambda err: self._on_segment_failed(err, s))
        self.progress_after(worker, f"propagating lesions to {tpid}")
        self._start(worker)
        return worker

    def _segment_in_thread(self, call: Any, desc: str) -> Any:
        """Run ``call`` (a session's segmentation: (lesion id, observation)) in a napari thread
        worker with progress; its result is shown as a click's, its error in the status line."""
        from napari.qt.threading import thread_worker

        s = self.session

        @thread_worker(ignore_errors=True)
        def work() -> tuple[str, Any]:
            t0, c0 = time.perf_counter(), time.thread_time()
            out = call()
            self.last_timings = {**s.last_timings, "worker_s": time.perf_counter() - t0,  # type: ignore[union-attr]
                                 "worker_cpu_s": time.thread_time() - c0}
            return out  # type: ignore[no-any-return]

        worker = work()
        worker.returned.connect(lambda result: self._on_segmented(result, s))
        worker.errored.connect(lambda err: self._on_segment_failed(err, s))
        self.progress_after(worker, desc)
        self._start(worker)
        return worker

    # ------------------------------------------------------------------ line to segment
    SEGMENT_LINE_LAYER = "segment line (draw across a lesion)"

    def _segment_line_layer(self) -> Any:
        return self._input_layer(
            self.SEGMENT_LINE_LAYER,
            lambda **kw: self.viewer.add_shapes(ndim=3, edge_color="lime", edge_width=1.5, **kw),
            self._on_segment_line_drawn,
        )

    def _on_line_segment_mode(self, on: bool) -> None:
        if on and self._needs_session(self.line_segment_button):
            self._activate_input(self.line_segment_button, self._segment_line_layer, "add_line")

    def _on_segment_line_drawn(self, event: Any) -> None:
        got = self._added(event)
        if got is None:
            return
        layer, verts = got[0], np.asarray(got[1], float)
        if verts.shape[0] != 2:
            return
        world = np.stack([np.asarray(layer.data_to_world(v), float) for v in verts])
        self.segment_along_world_line(world)

    def _on_segment_failed(self, err: BaseException, session: Any = None) -> None:
        if session is None or session is self.session:
            self._error(err)
        self.segment_done.emit(False)

    def _on_segmented(self, result: tuple[str, Any], session: Any = None) -> None:
        """A worker's click is shown in the read it was made in; once another read is open (another
        reader's, in a blinded read), the result stays in its own session, unshown and unsaid (the
        next reader's status line said "L1 segmented and measured" of the first reader's click)."""
        if session is not None and session is not self.session:
            self.segment_done.emit(True)
            return
        t0 = time.perf_counter()
        self._show_result(result)
        self.last_timings["redraw_s"] = time.perf_counter() - t0
        self.segment_done.emit(True)

    def _show_result(self, result: tuple[str, Any]) -> None:
        # the click / the drawn line did its job: clear it so it hides nothing
        self._updating = True
        try:
            name = "seeds (click a lesion)"
            if name in self.viewer.layers and len(self.viewer.layers[name].data):
                self.viewer.layers[name].data = np.zeros((0, 3))
            name = self.SEGMENT_LINE_LAYER
            if name in self.viewer.layers and self.viewer.layers[name].nshapes:
                layer = self.viewer.layers[name]
                layer.selected_data = set(range(layer.nshapes))
                layer.remove_selected()
        finally:
            self._updating = False
        self.refresh_all()
        self.go_to_lesion(result[0])
        if self._selected_lesion_for_followup() is not None:
            # the tracked click is done: a next click must not silently replace this lesion
            self.table.clearSelection()
        used = self.session.last_segment_phase if self.session is not None else None
        how = "" if not used else f" on {used} ({'picked' if self.segment_phase() else 'auto: the most conspicuous'})"
        self._status(f"{result[0]} segmented{how} and measured ({result[1].source})")
        self._warn_suspect({result[0]: result[1]})

    def _warn_suspect(self, result: dict[str, Any]) -> list[str]:
        """A napari warning (and the status line) for each lesion of ``result`` (lesion id -> its
        observation, or why it was not found) that a suspect registration carried: the check's
        problems and what to do (``ReadSession.propagate``).  Returns the warnings."""
        from napari.utils.notifications import show_warning

        from .._segmenting import SUSPECT_REGISTRATION, suspect_registration_note

        said = []
        for lid, got in result.items():
            note = (got if SUSPECT_REGISTRATION in got else None) if isinstance(got, str) else \
                suspect_registration_note(getattr(got, "problems", ()))
            if note:
                said.append(f"{lid}: {note}")
        if said:
            text = "registration suspect: " + " | ".join(said)
            self._status(text)
            show_warning(text)
        return said

    def _selected_lesion_for_followup(self) -> str | None:
        """At a follow-up, a click measures the lesion selected in the table (tracking)."""
        s = self.session
        if s is None or not s.timepoint_ids or self.timepoint_id == s.timepoint_ids[0]:
            return None
        return self._selected_lesion_id()

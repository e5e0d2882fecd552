"""The HCC response dock: a thin Qt view over :class:`~hcc_imaging.napari_plugin._controller.ReadSession`.

Every button, click and cell edit is forwarded to the Qt-free session; the dock only redraws
layers, the lesion table and the response panel from what the session returns.  Loading,
segmentation and registration run in ``thread_worker``s with napari progress (a click's
segmentation shows it once it has run 0.4 s), so the UI never
freezes; the session autosaves after every change.

This module holds the widget itself (its controls, reader mode, background work, the redraw);
the rest of its behaviour lives in one mixin per seam, each a base of :class:`ResponseDock`:
``_browser.py`` (:class:`~._browser.StudyBrowserMixin`: layers to the read, time point / phase
lists, compare modes, opening a study), ``_inputs.py`` (:class:`~._inputs.InputLayersMixin`: the
seeds / segment-line layers, progress), ``_segment_controls.py`` (click / line to segment,
Propagate), ``_mask_paint.py`` (the brush), ``_lines.py`` (:class:`~._lines.MeasurementLinesMixin`:
the measurement lines), ``_table.py`` (:class:`~._table.LesionTableMixin`: the lesion table) and
``_response.py`` (:class:`~._response.ResponseExportMixin`: the response tab and the exports).
"""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, QObject, QThreadPool, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...errors import HccImagingError
from ...volume import Volume
from .. import _core
from .._controller import DEFAULT_CRITERIA, ROLES, ReadSession
from .._layers import (
    METADATA_KEY,
    geometry_metadata,
    labels_layer_data,
    layer_transform,
)
from ._browser import BESIDE_GAP_MM, COMPARE_MODES, StudyBrowserMixin  # noqa: F401 - (re-exported)
from ._inputs import InputLayersMixin
from ._lines import MeasurementLinesMixin
from ._mask_paint import MaskPaintMixin
from ._response import RESPONSE_COLUMNS, ResponseExportMixin, _ResponsePlot
from ._segment_controls import SegmentControlsMixin
from ._table import TABLE_COLUMNS, LesionTableMixin

if TYPE_CHECKING:  # pragma: no cover
    import napari

__all__ = ["ResponseDock", "default_autosave_dir"]

log = logging.getLogger(__name__)


def default_autosave_dir() -> Path:
    """``$HCC_IMAGING_AUTOSAVE`` or the user data dir ``.../hcc-imaging/reads``."""
    env = os.environ.get("HCC_IMAGING_AUTOSAVE")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("hcc-imaging")) / "reads"


class ResponseDock(SegmentControlsMixin, MaskPaintMixin, InputLayersMixin, StudyBrowserMixin, MeasurementLinesMixin,
                   LesionTableMixin, ResponseExportMixin, QWidget):
    """Dock widget: reader mode, browser, click-to-segment, lines, lesion table, response, export.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        Injected by napari (a public-only proxy when opened from the plugin menu).
    autosave_dir : path, optional
        Where reads are autosaved (default :func:`default_autosave_dir`).
    """

    #: Emitted once a segmentation (click or line) is drawn (True) or has failed (False).
    segment_done = Signal(bool)
    #: Emitted (from the worker thread; queued) after each lesion "Propagate all" has done: (done, total).
    propagate_progress = Signal(int, int)

    def __init__(
        self,
        napari_viewer: napari.viewer.Viewer,
        autosave_dir: str | os.PathLike[str] | None = None,
        db: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.autosave_dir = Path(autosave_dir) if autosave_dir else default_autosave_dir()
        #: Study store URL/path (None: ``$HCC_IMAGING_DB`` or the user data directory).
        self.db = db
        self._store: Any = None
        self.session: ReadSession | None = None
        self.timepoint_id: str | None = None
        self._updating = False
        self._checks: dict[str, list[str]] = {}
        self._last_compare_worker: Any = None
        #: Registered follow-ups, per (follow-up, baseline) time point ids.
        # (follow-up, baseline) -> (the baseline's and the follow-up's reference volumes it was made
        # from, the registered follow-up): a hit only for those very volumes (another patient's or a
        # reloaded study's time points have the same names)
        self._registered: dict[tuple[str, str], tuple[Volume, Volume, Volume]] = {}
        #: Wall times of the last click (worker: segment + measure + autosave; main thread: redraw).
        self.last_timings: dict[str, float] = {}
        self._workers: list[Any] = []
        self._close_filter_on = False  # the viewer's window waits for the workers when it closes
        self.last_error: str = ""
        #: The labels layers whose brush strokes are read into the read (``_mask_paint``).
        self._mask_layers_hooked: weakref.WeakSet[Any] = weakref.WeakSet()
        #: Studies left out of a read, (patient, study UID) -> that read (dated before its measured
        #: baseline, ``_study_names``); what the study browser said once per read.
        self._not_in_read: dict[tuple[str, Any], Any] = {}
        self._said: set[str] = set()
        #: The store refusals (``ReadSession.store_pending``) said so far: each is said once.
        self._store_said: dict[tuple[str, str], str] = {}
        self._build()
        self.refresh_from_layers()
        self.viewer.layers.events.inserted.connect(self._on_layers_changed)

    # ------------------------------------------------------------------ UI
    def _build(self) -> None:
        root = QVBoxLayout(self)
        # reader mode
        box = QGroupBox("Reader")
        form = QFormLayout(box)
        self.reader_edit = QLineEdit(os.environ.get("HCC_IMAGING_READER", ""))
        self.reader_edit.setPlaceholderText("reader id (required)")
        self.patient_combo = QComboBox()
        self.criteria_edit = QLineEdit(", ".join(DEFAULT_CRITERIA))
        self.criteria_edit.setToolTip("criteria of this read, comma-separated (RECIST1.1, mRECIST, EASL, WHO, RECICL, iRECIST)")
        self.blinded_check = QCheckBox("blinded (only my reads)")
        self.blinded_check.setChecked(True)
        self.blinded_check.setEnabled(False)
        self.blinded_check.setToolTip(
            "Reader sessions are always blinded: the store lists and loads only this reader's reads. "
            "Adjudicators compare locked reads with 'hcc-imaging study'."
        )
        self.start_button = QPushButton("Start / resume read")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.lock_button = QPushButton("Lock read")
        self.lock_button.clicked.connect(lambda: self.lock_read())
        self.save_button = QPushButton("Save now")
        self.save_button.setToolTip("Every change is already saved; this re-writes the autosave file and the store and says so.")
        self.save_button.clicked.connect(lambda: self.save())
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.save_button)
        row.addWidget(self.lock_button)
        form.addRow("reader", self.reader_edit)
        form.addRow("patient", self.patient_combo)
        form.addRow("criteria", self.criteria_edit)
        form.addRow(self.blinded_check)
        form.addRow(row)
        root.addWidget(box)
        # browser
        box = QGroupBox("Study")
        form = QFormLayout(box)
        self.timepoint_combo = QComboBox()
        self.timepoint_combo.currentTextChanged.connect(self._on_timepoint_changed)
        self.phase_combo = QComboBox()
        self.phase_combo.currentTextChanged.connect(self._on_phase_changed)
        self.compare_combo = QComboBox()
        self.compare_combo.addItems(list(COMPARE_MODES))
        self.compare_combo.setToolTip(
            "single: one time point. over baseline: the follow-up registered to the baseline and drawn over it "
            "(magenta). beside baseline: the registered follow-up drawn to the right of the baseline, same slice "
            "and zoom (one z slider scrolls both)."
        )
        self.compare_combo.currentTextChanged.connect(lambda t: self.set_compare_mode(t))
        self.open_button = QPushButton("Open DICOM folder / zip…")
        self.open_button.clicked.connect(self._open_dialog)
        self.import_button = QPushButton("Import masks…")
        self.import_button.setToolTip(
            "Lesion masks onto this time point: a DICOM SEG, an RTSTRUCT, or a NIfTI label map (with the labels.json "
            "and viable.nii.gz beside it that hcc-imaging batch saves in OUT/masks/<study>/). Each label is measured; "
            "a lesion id the read tracks gets its mask here, another becomes a new lesion.")
        self.import_button.clicked.connect(self._import_dialog)
        form.addRow("time point", self.timepoint_combo)
        form.addRow("phase", self.phase_combo)
        form.addRow("compare", self.compare_combo)
        form.addRow(self.open_button)
        form.addRow(self.import_button)
        root.addWidget(box)
        # tools
        box = QGroupBox("Lesions")
        lay = QVBoxLayout(box)
        row = QHBoxLayout()
        self.role_combo = QComboBox()
        self.role_combo.addItems(list(ROLES))
        self.node_check = QCheckBox("node")
        self.node_check.setToolTip(
            "The lesion to segment lies outside the liver (a lymph node): it is segmented with the liver mask kept "
            "out of it (made once per time point), and a new lesion is recorded as a node. A lesion already marked "
            "as a node (or outside the liver) is segmented so at its follow-ups anyway."
        )
        self.liver_check = QCheckBox("in liver")
        self.liver_check.setToolTip(
            "Keep the lesion inside the time point's liver mask (as 'hcc-imaging segment --liver'; made once per "
            "time point, in the background when the time point is shown): a lesion at the liver's edge does not run "
            "into a neighbouring organ or bowel of its density. A click outside the mask makes it again holding the "
            "click's piece. Untick it for a lesion the mask misses. No effect with 'node'."
        )
        self.liver_check.setChecked(self.IN_LIVER_DEFAULT)
        self.liver_check.toggled.connect(lambda on: self.prepare_liver() if on else None)
        self.rind_check = QCheckBox("rind")
        self.rind_check.setToolTip(
            "The click lies in the dark (necrotic) core of a lesion wrapped in an enhancing layer (a treated HCC's "
            "rim, a viable rind): its border is fitted as two nested surfaces on the arterial phase (0.3-0.9 s; "
            "pixels up to 1 mm, else the automatic steps with a note)."
        )
        self.bias_check = QCheckBox("MR bias")
        self.bias_check.setToolTip(
            "MR only: segment on the series divided by their N4 bias field (the coils' smooth intensity field; made "
            "once per time point, ~1-10 s a series; as 'hcc-imaging segment --bias-correct'). The images shown stay "
            "the scanner's; the lesion's notes say the click used the corrected series."
        )
        self.seg_phase_combo = QComboBox()
        self.seg_phase_combo.addItem(self.AUTO_PHASE)
        self.seg_phase_combo.setToolTip(
            "The phase a click (or a line, or Propagate) segments on: 'auto', the phase where the lesion is most "
            "conspicuous, or the one you pick (as 'hcc-imaging segment --phase'). The status line says which was used."
        )
        self.segment_button = QPushButton("Click to segment")
        self.segment_button.setCheckable(True)
        self.segment_button.toggled.connect(self._on_segment_mode)
        self.line_segment_button = QPushButton("Line to segment")
        self.line_segment_button.setCheckable(True)
        self.line_segment_button.setToolTip(
            "Draw a line across a lesion (its longest extent): the lesion is segmented from it, "
            "measured and added like a click (hcc_imaging.segment.segment_lesion with line_lps)."
        )
        self.line_segment_button.toggled.connect(self._on_line_segment_mode)
        self.manual_button = QPushButton("Manual line")
        self.manual_button.setCheckable(True)
        self.manual_button.toggled.connect(self._on_manual_mode)
        self.propagate_button = QPushButton("Propagate")
        self.propagate_button.setToolTip(
            "Segment the lesion selected in the table at this time point from where it lies at another: the two "
            "time points registered (rigid then affine, a few seconds once per pair), the lesion's centre carried "
            "across and clicked there, as a follow-up click on that lesion (with 'in liver': kept in the liver, and the "
            "livers registered)."
        )
        self.propagate_button.clicked.connect(self.propagate_selected)
        self.propagate_all_button = QPushButton("Propagate all")
        self.propagate_all_button.setToolTip(
            "Propagate every lesion read at an earlier time point and not yet here (as 'Propagate' does one): the "
            "registration is made once, then each lesion costs a click. A lesion that cannot be found where it is "
            "carried is listed in the status line: record it as absent, or click it where it is."
        )
        self.propagate_all_button.clicked.connect(self.propagate_all)
        self.propagate_progress.connect(lambda n, total: self._status(f"propagating lesions: {n} of {total} done"))
        self.delete_button = QPushButton("Delete lesion")
        self.delete_button.clicked.connect(self._delete_selected)
        row.addWidget(QLabel("new as"))
        row.addWidget(self.role_combo)
        row.addWidget(self.node_check)
        row.addWidget(self.liver_check)
        row.addWidget(self.rind_check)
        row.addWidget(self.bias_check)
        row.addWidget(QLabel("on"))
        row.addWidget(self.seg_phase_combo)
        row.addWidget(self.segment_button)
        row.addWidget(self.line_segment_button)
        row.addWidget(self.manual_button)
        row.addWidget(self.propagate_button)
        row.addWidget(self.propagate_all_button)
        row.addWidget(self.delete_button)
        lay.addLayout(row)
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels([c[0] for c in TABLE_COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.setMinimumHeight(150)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.itemSelectionChanged.connect(self._on_selection)
        lay.addWidget(self.table)
        root.addWidget(box)
        # response + export
        self.tabs = QTabWidget()
        resp = QWidget()
        rl = QVBoxLayout(resp)
        self.response_table = QTableWidget(0, len(RESPONSE_COLUMNS))
        self.response_table.setMinimumHeight(190)
        self.response_table.setHorizontalHeaderLabels(list(RESPONSE_COLUMNS))
        self.response_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rl.addWidget(self.response_table)
        self.burden_label = QLabel("")
        self.burden_label.setWordWrap(True)
        rl.addWidget(self.burden_label)
        self.plot = _ResponsePlot()
        rl.addWidget(self.plot)
        self.tabs.addTab(resp, "Response")
        exp = QWidget()
        el = QHBoxLayout(exp)
        self.export_buttons: dict[str, QPushButton] = {}
        for kind in ("SR", "SEG", "CSV"):
            b = QPushButton(f"Export {kind}…")
            b.clicked.connect(lambda _=False, k=kind: self._export_dialog(k))
            el.addWidget(b)
            self.export_buttons[kind] = b
        self.tabs.addTab(exp, "Export")
        root.addWidget(self.tabs)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        root.addWidget(self.status_label)
        self._apply_availability()

    def _apply_availability(self) -> None:
        notes = []
        for feature, widgets in (
            ("segment", [self.segment_button, self.line_segment_button]),
            ("export", [self.export_buttons["SR"]]),
            ("seg_export", [self.export_buttons["SEG"]]),
            ("mask_import", [self.import_button]),
            ("tables", [self.export_buttons["CSV"]]),
        ):
            ok = _core.available(feature)
            for w in widgets:
                w.setEnabled(ok)
                if not ok:
                    w.setToolTip(f"hcc_imaging.{feature} is not available in this build")
            if not ok:
                notes.append(feature)
        if notes:
            self._status(f"not available in this build: {', '.join(notes)}")

    def _status(self, text: str) -> None:
        self.status_label.setText(text)

    def _error(self, err: BaseException) -> None:
        self.last_error = f"{type(err).__name__}: {err}"
        self._status(self.last_error)
        log.warning("hcc-imaging dock: %s", type(err).__name__)

    def _refuse(self, text: str) -> None:
        """An edit the read did not take: said in the status line and as a napari warning."""
        from napari.utils.notifications import show_warning

        self._error(HccImagingError(text))
        show_warning(text)

    # ------------------------------------------------------------------ reader mode
    #: What the dock says when there is nothing to read yet.
    OPEN_STUDY_FIRST = ("no study is open: open a study first ('Open DICOM folder / zip…', or File → Open with the "
                        "hcc-imaging reader), then start the read of its patient.")

    def _on_start_clicked(self) -> None:
        """The *Start / resume read* button: a read that cannot start is said in the status line
        (:meth:`start_read` has shown why), never raised into napari's error dialog."""
        try:
            self.start_read()
        except HccImagingError:
            pass

    def start_read(
        self, reader_id: str | None = None, patient_id: str | None = None, criteria: str | None = None
    ) -> ReadSession:
        """Start (or resume after a crash) this reader's read of the selected patient."""
        reader = (reader_id if reader_id is not None else self.reader_edit.text()).strip()
        if criteria is not None:
            self.criteria_edit.setText(criteria)
        crits = [c.strip() for c in self.criteria_edit.text().split(",") if c.strip()] or list(DEFAULT_CRITERIA)
        if reader_id is not None:
            self.reader_edit.setText(reader)
        patient = patient_id or self.patient_combo.currentText()
        if not patient:  # no image layer of ours: an "anonymous" patient in the store, pixel-unit layers
            err = HccImagingError(self.OPEN_STUDY_FIRST)
            self._error(err)
            raise err
        try:
            session = ReadSession.resume(
                patient, reader, self.autosave_dir, blinded=True, store=self.store(), criteria=crits
            )
        except HccImagingError as err:
            self._error(err)
            if "is damaged" in str(err):  # a damaged autosave: said loudly, with what to do
                from napari.utils.notifications import show_error

                show_error(str(err))
            raise
        self._said = set()
        self._store_said = {}
        self._name_studies_by_date(session, force=True)  # the read's saved time points name the studies open
        self._attach_images(session)
        previous, self.session = self.session, session
        if previous is not None and previous is not session:
            previous.close()  # (its read's lock released: another window may open it)
        self._remove_other_read_layers()  # blinding: no other read's masks or lines stay in the viewer
        self._fill_browser()
        self.refresh_all()
        self._status(
            f"read of {patient} by {reader}: {len(session.lesions)} lesion(s)"
            + (" — LOCKED" if session.locked else "")
            + f"; every change saved to {session.path.name} and the study store ({len(self.my_reads())} read(s) of yours)"
        )
        return session

    def store(self) -> Any:
        """The study store every change is written through to (opened once, lazily)."""
        if self._store is None:
            from ...study import Store

            self._store = Store(self.db)
        return self._store

    def my_reads(self) -> list[Any]:
        """This reader's reads of the current patient in the store (never another reader's)."""
        s = self.session
        if s is None or s._reader_session is None:
            return []
        return list(s._reader_session.reads(s.patient_id))

    def save(self) -> None:
        """Write the read to its autosave file and the study store now (normally automatic)."""
        s = self.session
        if s is None:
            return
        try:
            s.autosave(masks=True)
            if not s.locked:
                s._dirty.update(s.observations)
                s.sync_store()
        except HccImagingError as err:
            self._error(err)
            return
        if s.store_pending:
            self._status(f"saved: {s.path.name}; " + " ".join(s.store_pending[k] for k in sorted(s.store_pending)))
            return
        self._status(f"saved: {s.path.name} and draft read {s.store_read_uid} in the study store")

    def lock_read(self) -> None:
        if self.session is None:
            return
        try:
            self.session.lock()
        except HccImagingError as err:
            self._error(err)
            self._status(f"read NOT locked: {err}")
            return
        self._status(f"read locked ({self.session.path.name})")
        self._set_editable(False)

    def _set_editable(self, on: bool) -> None:
        for w in (self.segment_button, self.line_segment_button, self.manual_button, self.delete_button, self.lock_button,
                  self.propagate_button, self.propagate_all_button, self.import_button):
            needs_core = w in (self.segment_button, self.line_segment_button, self.propagate_button, self.propagate_all_button)
            w.setEnabled(on and (not needs_core or _core.available("segment")))

    # ------------------------------------------------------------------ workers
    def _start(self, worker: Any) -> None:
        self._workers.append(worker)
        worker.finished.connect(lambda: self._workers.remove(worker) if worker in self._workers else None)
        top = self.window()
        if top is not self and not self._close_filter_on:
            top.installEventFilter(self)  # the viewer's window: wait for this work when it closes
            self._close_filter_on = True
        worker.start()

    def wait_for_workers(self, timeout_s: float = 60.0) -> bool:
        """Wait (at most ``timeout_s``) for the background work of Qt's global thread pool to
        finish, the dock's among it (a click's segmentation, the liver mask made when a time point
        is shown, a load).  Called when the viewer's window closes (and by ``hcc-imaging view
        --no-run``): a thread still running then signals Qt objects that are deleted, and the
        process aborts at exit.  Returns whether all of it finished."""
        return bool(QThreadPool.globalInstance().waitForDone(int(timeout_s * 1000)))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close:
            self.wait_for_workers(30.0)
        return False

    # ------------------------------------------------------------------ redraw
    def refresh_all(self) -> None:
        """Redraw labels, lines, table and response from the session."""
        s = self.session
        if s is None or not self.timepoint_id:
            return
        self._updating = True
        try:
            if self.timepoint_id in s.images or s.lesions:
                lab = s.label_volume(self.timepoint_id)
                for viable in (False, True):
                    name = f"{'viable' if viable else 'lesions'} · {self.timepoint_id}"
                    arr = s.label_array(self.timepoint_id, viable=viable)
                    if name in self.viewer.layers:
                        layer = self.viewer.layers[name]
                        if layer.data is arr:
                            layer.refresh()  # the session updated the shared array in place
                        else:
                            # another read (reader or patient) or time point's map: its grid, and no
                            # undo history of the other read (reader B's Ctrl+Z replayed reader A's
                            # stroke into B's read; a second patient's mask was drawn on the first's grid)
                            layer.data = arr
                            for key, value in layer_transform(lab.geometry).items():
                                if key not in ("units", "axis_labels"):
                                    setattr(layer, key, value)
                            layer.metadata[METADATA_KEY].update(geometry_metadata(lab.geometry))
                            reset = getattr(layer, "_reset_history", None)  # (napari's own; private)
                            if callable(reset):
                                reset()
                        layer.metadata[METADATA_KEY].update(self._source_metadata())
                    else:  # created empty too: the first click then only fills them
                        data, kwargs, _ = labels_layer_data(
                            lab.with_array(arr), name=name, timepoint=self.timepoint_id,
                            extra_metadata=self._source_metadata(),
                        )
                        if viable:
                            kwargs["opacity"] = 0.6
                        layer = self.viewer.add_labels(data, **kwargs)
                    self._hook_mask_layer(layer, viable)  # the reader's brush edits the read's masks
        finally:
            self._updating = False
        for name in self.INPUT_LAYERS:  # the reader's input layers follow the shown grid
            if self.timepoint_id in s.images and name in self.viewer.layers:
                geom = s.geometry(self.timepoint_id)
                self._take_grid(self.viewer.layers[name], geom)
        self.refresh_response()
        self._ensure_lines_layer()
        self._fill_table()
        self._set_editable(not s.locked)
        self._say_store_pending()

    def _say_store_pending(self) -> None:
        """A record the study store refused (a long line dragged shorter than the short one): said
        once (status line and a napari warning) per refusal, not at every autosave; it stays in
        the autosave and reaches the store when corrected (``ReadSession.store_pending``)."""
        s = self.session
        pending = dict(s.store_pending) if s is not None else {}
        for key in sorted(pending):
            if self._store_said.get(key) != pending[key]:
                self._refuse(pending[key])
        self._store_said = pending

    def _source_metadata(self) -> dict[str, Any]:
        """DICOM references of the current time point's reference series + tracking UIDs (for SEG)."""
        s = self.session
        if s is None or not self.timepoint_id or self.timepoint_id not in s.images:
            return self._read_metadata()
        ref = s.images[self.timepoint_id].reference
        return {
            **self._read_metadata(),
            "study_instance_uid": ref.study_instance_uid,
            "source_series_instance_uid": ref.series_instance_uid,
            "source_files": [str(f) for f in ref.meta.get("source_files", ())],
            "sop_instance_uids": [str(u) for u in ref.meta.get("sop_instance_uids", ())],
            "reoriented_axes": (ref.meta.get("reoriented") or {}).get("axes"),
            "tracking_uids": {les.lesion_id: les.tracking_uid for les in s.lesions.values()},
            "labels": {str(les.label): les.lesion_id for les in s.lesions.values()},
            # what to check of each lesion's mask here (the table's "problems": a suspect registration
            # that carried it, the segmenter's checks), kept with the layer
            "problems": {lid: list(obs.problems) for (lid, tp), obs in s.observations.items()
                         if tp == self.timepoint_id and obs.problems},
        }

"""The dock's study browser (:class:`StudyBrowserMixin`, a base of :class:`._dock.ResponseDock`):
the patient / time point / phase lists rebuilt from the hcc-imaging image layers (studies of a
patient opened apart named again by study date, with the open read's time points: ``_study_names``),
those layers attached to the read (every phase, as napari adds them one at a time), one phase of
one time point shown, the compare modes (a follow-up registered to the baseline in a thread and
drawn over or beside it) and a study opened in a thread.  Split out of ``_dock.py`` along this
seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QFileDialog

from ...errors import HccImagingError
from ...volume import Phase, Volume
from .. import _core
from .._layers import METADATA_KEY, layer_name, volume_from_layer, volume_layer_data
from .._study_names import PRIOR, ReadTimePoint, plan_study_names, prior_study_message

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession

#: Compare modes of the study browser.
COMPARE_MODES: tuple[str, ...] = ("single", "over baseline (registered)", "beside baseline (registered)")
#: Gap (mm) between the baseline and the follow-up drawn beside it.
BESIDE_GAP_MM = 10.0


def _iso_date(dicom_date: str | None) -> str | None:
    """DICOM ``YYYYMMDD`` → ISO ``YYYY-MM-DD`` (None when absent or malformed)."""
    d = (dicom_date or "").strip()
    if len(d) == 8 and d.isdigit():
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    if len(d) == 10 and d[4] == "-" and d[7] == "-":
        return d
    return None


class StudyBrowserMixin:
    """Study browsing for :class:`._dock.ResponseDock`, which provides the viewer, the session and
    the widgets these methods read (``viewer``, ``session``, ``timepoint_id``, ``patient_combo``,
    ``timepoint_combo``, ``phase_combo``, ``seg_phase_combo``, ``compare_combo``, ``_updating``,
    ``_registered``, ``_last_compare_worker``, ``_not_in_read``, ``_said``) and its helpers (``AUTO_PHASE``, ``_status``,
    ``_error``, ``_refuse``, ``_start``, ``refresh_all``, ``prepare_liver``)."""

    viewer: Any
    session: ReadSession | None
    timepoint_id: str | None
    _updating: bool
    _registered: dict[tuple[str, str], tuple[Volume, Volume, Volume]]
    _last_compare_worker: Any
    _not_in_read: dict[tuple[str, Any], Any]
    _said: set[str]

    def _image_layers(self) -> list[Any]:
        out = []
        for layer in self.viewer.layers:
            md = layer.metadata.get(METADATA_KEY) if hasattr(layer, "metadata") else None
            if md and md.get("kind") == "image":
                out.append(layer)
        return out

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self._updating:
            self.refresh_from_layers()

    def refresh_from_layers(self) -> None:
        """Rebuild the patient / time point / phase lists from the hcc-imaging image layers."""
        self._name_studies_by_date()
        patients = []
        for layer in self._image_layers():
            pid = layer.metadata[METADATA_KEY].get("patient_id") or "anonymous"
            if pid not in patients:
                patients.append(pid)
        current = self.patient_combo.currentText()
        self.patient_combo.blockSignals(True)
        self.patient_combo.clear()
        self.patient_combo.addItems(patients)
        if current in patients:
            self.patient_combo.setCurrentText(current)
        self.patient_combo.blockSignals(False)
        if self.session is not None:
            self._attach_images(self.session)
            self._fill_browser()

    def _name_studies_by_date(self, session: ReadSession | None = None, *, force: bool = False) -> None:
        """A patient's studies opened one after another (a folder each) are each named 'baseline' by
        the reader, which sees one study at a time; grouped by that name, the dock took both studies'
        series as one time point.  When two studies of a patient share a time point's name, the
        patient's studies are named again by study date (baseline, fu1, ...), layers renamed, with
        the open read's time points (``session``, default the open read): one it holds nothing under
        yet is renamed with them (a study dated before the one the read was started on becomes its
        baseline); one it holds measurements under keeps its name, and a study dated before that is
        not attached (:mod:`.._study_names`, :meth:`_attach_images` skips it, the dock says why).
        ``force``: also without two studies of one name (a read starting: its saved time points
        decide the names of the studies open)."""
        s = session if session is not None else self.session
        by_patient: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
        for layer in self._image_layers():
            md = layer.metadata[METADATA_KEY]
            if not md.get("registered_to"):
                by_patient.setdefault(md.get("patient_id") or "anonymous", []).append((layer, md))
        for pid, items in by_patient.items():
            studies_of: dict[str, set[Any]] = {}
            dates: dict[Any, str] = {}
            for _, md in items:
                studies_of.setdefault(md.get("timepoint_id") or "baseline", set()).add(md.get("study_instance_uid"))
                dates.setdefault(md.get("study_instance_uid"), str(md.get("study_date") or ""))
            mine = s is not None and s.patient_id == pid
            # studies left out of another read (or before a read) are named again for this one
            stale = any(self._not_in_read.get((pid, uid), False) is not (s if mine else None)
                        for t, uids in studies_of.items() if t.startswith(PRIOR) for uid in uids)
            clash = any(len(uids) > 1 for uids in studies_of.values())
            if not (clash or stale or (force and mine and len(dates) > 1)) or None in dates:
                continue
            read = [ReadTimePoint(t, s._tp_identity(t)["study_instance_uid"], s._tp_identity(t)["date"],
                                  s.timepoint_recorded(t)) for t in s.timepoint_ids] if mine and s else []
            plan = plan_study_names(dates, read)
            if plan.renames and s is not None:
                try:
                    s.rename_timepoints(plan.renames)
                except HccImagingError as err:
                    self._say_once(str(err))
                    continue
                # registrations made under the old names: made again when asked
                touched = set(plan.renames) | set(plan.renames.values())
                self._registered = {k: v for k, v in self._registered.items() if not touched & set(k)}
                self._updating = True
                try:
                    for layer in [lyr for lyr, md in self._registered_layers(pid)]:
                        self.viewer.layers.remove(layer)
                finally:
                    self._updating = False
            for uid in list(self._not_in_read):
                if uid[0] == pid:
                    del self._not_in_read[uid]
            for uid in plan.prior:
                self._not_in_read[(pid, uid)] = s if mine else None
            renamed = 0
            self._updating = True
            try:
                for layer, md in items:
                    tp = plan.names[md.get("study_instance_uid")]
                    if md.get("timepoint_id") != tp:
                        md["timepoint_id"] = tp
                        layer.name = layer_name(Phase(md.get("phase", "unknown")), tp)
                        renamed += 1
            finally:
                self._updating = False
            if not (renamed or plan.renames or plan.prior):
                continue
            order = sorted(plan.names, key=lambda uid: (plan.names[uid].startswith(PRIOR), dates[uid] or "99999999"))
            text = ("{} studies of one patient were opened apart, each named 'baseline': named by study date instead ({})"
                    .format(len(dates), ", ".join(f"{plan.names[uid]} {_iso_date(dates[uid]) or 'undated'}" for uid in order))
                    + (f"; the read's {', '.join(f'{o} is now {n}' for o, n in plan.renames.items())}"
                       if plan.renames else "") + ".")
            if plan.prior and mine and s is not None:
                base = min((tp for tp in read if tp.recorded), key=lambda tp: str(tp.date)).timepoint_id
                n_measured = sum(1 for k in s.observations if k[1] == base)
                for uid in plan.prior:
                    text = prior_study_message(_iso_date(dates[uid]), read, n_measured, s.path.name)
                    self._say_once(text)
            self._status(text)

    def _registered_layers(self, patient_id: str) -> list[tuple[Any, dict[str, Any]]]:
        """The compare modes' registered copies of a patient's follow-ups."""
        out = []
        for layer in self._image_layers():
            md = layer.metadata[METADATA_KEY]
            if md.get("registered_to") and (md.get("patient_id") or "anonymous") == patient_id:
                out.append((layer, md))
        return out

    def _layer_groups(self, patient_id: str) -> dict[str, list[tuple[Phase, Any]]]:
        """A patient's image layers per time point, (phase, layer) in layer order (not the registered
        copies the compare modes add, nor the studies left out of the read)."""
        tps: dict[str, list[tuple[Phase, Any]]] = {}
        for layer in self._image_layers():
            md = layer.metadata[METADATA_KEY]
            pid = md.get("patient_id") or "anonymous"
            if pid != patient_id or md.get("registered_to") or (pid, md.get("study_instance_uid")) in self._not_in_read:
                continue
            tps.setdefault(md.get("timepoint_id") or "baseline", []).append((Phase(md.get("phase", "unknown")), layer))
        return tps

    def _layers_of(self, patient_id: str) -> dict[str, dict[Phase, Any]]:
        """One layer per time point and phase: the one the read holds, else the first."""
        s = self.session
        out: dict[str, dict[Phase, Any]] = {}
        for tpid, group in self._layer_groups(patient_id).items():
            have = s.images.get(tpid) if s is not None and s.patient_id == patient_id else None
            per = out.setdefault(tpid, {})
            for ph, layer in group:
                if ph not in per or (have is not None and ph in have.phases and _is_layer_of(have.phases[ph], layer)):
                    per[ph] = layer
        return out

    def _attach_images(self, session: ReadSession) -> None:
        """Every phase of the patient's studies to the read: a time point new to it with all the phases
        open, the phases a time point of the read lacks (a study's series arrive one layer at a time).
        A phase the time point holds keeps its series: another series of it is said, not attached."""
        for tpid, group in self._layer_groups(session.patient_id).items():
            have = session.images.get(tpid)
            phases: dict[Phase, Any] = {}
            for ph, layer in group:
                if have is not None and ph in have.phases and _is_layer_of(have.phases[ph], layer):
                    continue
                if ph in phases:
                    first = phases[ph].metadata[METADATA_KEY]
                    self._say_once(
                        f"layer {layer.name!r} (series {layer.metadata[METADATA_KEY].get('series_instance_uid')}) is a "
                        f"second {ph} series of {tpid!r} (the first: {first.get('series_instance_uid')}); not attached to "
                        "the read (a phase is read on one series).")
                    continue
                phases[ph] = layer
            if not phases:
                continue
            vols = {ph: volume_from_layer(layer.data, layer.metadata, f"layer {layer.name!r}") for ph, layer in phases.items()}
            date = next(iter(phases.values())).metadata[METADATA_KEY].get("study_date")
            uid = next(iter(phases.values())).metadata[METADATA_KEY].get("study_instance_uid")
            named = session._tp_identity(tpid)["study_instance_uid"]  # the study the read has under tpid
            if have is None and uid and named and named != uid:
                # the study of a time point of the read opened under that time point's name (a
                # follow-up's folder opened alone is named 'baseline'): its phases go to the read's
                # time point of that study
                same = [t for t, tpi in session.images.items() if tpi.reference.study_instance_uid == uid]
                if same:
                    self._rename_layers(phases, same[0])
                    self._say_once(f"the study opened as {tpid!r} is the read's {same[0]!r} (same study); "
                                   f"shown as {same[0]!r}.")
                    tpid, have = same[0], session.images[same[0]]
            if have is not None:
                try:
                    for note in session.add_phases(tpid, vols):
                        self._say_once(note)
                except HccImagingError as err:
                    self._say_once(str(err))
                continue
            try:
                tp = session.add_timepoint(tpid, vols, date=_iso_date(date))
            except HccImagingError as err:  # another study than the read's of that name: not attached
                self._say_once(str(err))
                continue
            if tp.timepoint_id != tpid:
                # the read's time point of this study (the reader names a study opened alone 'baseline')
                self._rename_layers(phases, tp.timepoint_id)
                self._say_once(f"the study opened as {tpid!r} is the read's {tp.timepoint_id!r} (same study); "
                             f"shown as {tp.timepoint_id!r}.")

    @staticmethod
    def _rename_layers(phases: dict[Phase, Any], timepoint_id: str) -> None:
        for ph, layer in phases.items():
            layer.metadata[METADATA_KEY]["timepoint_id"] = timepoint_id
            layer.name = layer_name(ph, timepoint_id)

    def _say_once(self, text: str) -> None:
        """:meth:`_refuse` a message once per read (the layers' events call here once per layer)."""
        if text not in self._said:
            self._said.add(text)
            self._refuse(text)

    # ------------------------------------------------------------------ browser
    def _fill_browser(self) -> None:
        s = self.session
        if s is None:
            return
        self.timepoint_combo.blockSignals(True)
        cur = self.timepoint_combo.currentText()
        self.timepoint_combo.clear()
        self.timepoint_combo.addItems(s.timepoint_ids)
        self.timepoint_combo.blockSignals(False)
        tp = cur if cur in s.timepoint_ids else (s.timepoint_ids[0] if s.timepoint_ids else "")
        self.timepoint_combo.setCurrentText(tp)
        self._on_timepoint_changed(tp)

    def _on_timepoint_changed(self, tpid: str) -> None:
        if not tpid or self.session is None:
            return
        self.timepoint_id = tpid
        tp = self.session.images.get(tpid)
        self.phase_combo.blockSignals(True)
        self.phase_combo.clear()
        if tp:
            self.phase_combo.addItems([str(p) for p in tp.phases])
            self.phase_combo.setCurrentText(str(tp.reference.phase))
        self.phase_combo.blockSignals(False)
        # the phases a click may segment on: the reader's pick stays when this time point has it
        picked = self.seg_phase_combo.currentText()
        self.seg_phase_combo.clear()
        self.seg_phase_combo.addItems([self.AUTO_PHASE] + ([str(p) for p in tp.phases] if tp else []))
        self.seg_phase_combo.setCurrentText(picked if self.seg_phase_combo.findText(picked) >= 0 else self.AUTO_PHASE)
        self._show_phase(self.phase_combo.currentText())
        self.refresh_all()
        self.prepare_liver()

    def _on_phase_changed(self, phase: str) -> None:
        self._show_phase(phase)

    def _show_phase(self, phase: str) -> None:
        """Show one phase of the current time point (and its masks/lines); in "over baseline"
        mode show the baseline instead, with the registered follow-up drawn over it."""
        if self.session is None or not self.timepoint_id:
            return
        layers = self._layers_of(self.session.patient_id)
        over = self.compare_combo.currentText() != "single"
        first = self.session.timepoint_ids[0] if self.session.timepoint_ids else None
        shown_tp = first if over and first else self.timepoint_id
        for tpid, phases in layers.items():
            for ph, layer in phases.items():
                layer.visible = tpid == shown_tp and str(ph) == phase
        mine = {id(layer) for phases in layers.values() for layer in phases.values()}
        for layer in self._image_layers():
            md = layer.metadata[METADATA_KEY]
            if id(layer) not in mine and not md.get("registered_to"):
                layer.visible = False  # another patient's study: not under this read
        # masks and lines of the other time points are hidden (they live on other grids / dates)
        for layer in self.viewer.layers:
            for prefix in ("lesions · ", "viable · ", "measurements · "):
                if layer.name.startswith(prefix):
                    layer.visible = layer.name[len(prefix):] == shown_tp
            md = layer.metadata.get(METADATA_KEY, {}) if hasattr(layer, "metadata") else {}
            if md.get("registered_to"):
                mode = self.compare_combo.currentText()
                layer.visible = (md.get("compare") == mode and md.get("timepoint_id") == self.timepoint_id
                                 and (md.get("patient_id") or "anonymous") == self.session.patient_id)

    def set_compare_mode(self, mode: str) -> Any:
        """``single`` (one time point), ``over baseline (registered)`` (the current follow-up is
        registered to the baseline - rigid + affine, in a thread - and drawn over it in magenta) or
        ``beside baseline (registered)`` (the registered follow-up drawn to the right of the
        baseline: the same world z, so one slider scrolls both, and one camera zooms both)."""
        if mode not in COMPARE_MODES:
            raise HccImagingError(f"compare mode {mode!r} is not one of {', '.join(COMPARE_MODES)}.")
        if self.compare_combo.currentText() != mode:
            self.compare_combo.setCurrentText(mode)  # re-enters through the signal
            return self._last_compare_worker
        self._last_compare_worker = None
        self._show_phase(self.phase_combo.currentText())
        if mode != "single":
            self._last_compare_worker = self.register_followup()
        return self._last_compare_worker

    def register_followup(self) -> Any:
        """Register the current follow-up to baseline in a thread; add it over the baseline."""
        from napari.qt.threading import thread_worker

        s = self.session
        if s is None or not self.timepoint_id or not s.timepoint_ids:
            return None
        base_id = s.timepoint_ids[0]
        if self.timepoint_id == base_id or base_id not in s.images or self.timepoint_id not in s.images:
            self._status("pick a follow-up time point to overlay on the baseline")
            return None
        fixed = s.images[base_id].reference
        moving = s.images[self.timepoint_id].reference
        tpid = self.timepoint_id
        mode = self.compare_combo.currentText()
        hit = self._registered.get((tpid, base_id))
        cached = hit[2] if hit is not None and hit[0] is fixed and hit[1] is moving else None

        @thread_worker(ignore_errors=True, progress={"total": 0, "desc": "registering follow-up to baseline"})
        def work() -> Volume:
            # registered once per follow-up: switching between over / beside reuses it
            return cached if cached is not None else _core.register_to(fixed, moving)

        worker = work()
        worker.returned.connect(lambda vol: self._add_registered(vol, tpid, base_id, mode, (fixed, moving)))
        worker.errored.connect(self._error)
        self._start(worker)
        return worker

    def _add_registered(self, vol: Volume, tpid: str, base_id: str, mode: str = "over baseline (registered)",
                        made_from: tuple[Volume, Volume] | None = None) -> None:
        """Show ``vol`` (``tpid`` registered to ``base_id``) over or beside the baseline.  ``made_from``:
        the baseline's and the follow-up's reference volumes it was registered from; when the open read
        no longer shows those (another patient's read started, or the study reloaded, while it ran) it
        is dropped, not shown under the new read's patient."""
        s = self.session
        if made_from is not None:
            fixed, moving = made_from
            if (s is None or base_id not in s.images or tpid not in s.images
                    or s.images[base_id].reference is not fixed or s.images[tpid].reference is not moving):
                self._status(f"the registration of {tpid} to {base_id} finished after the read changed: not shown; "
                             "pick the compare mode again.")
                return
            self._registered[(tpid, base_id)] = (fixed, moving, vol)
        data, kwargs, _ = volume_layer_data(vol, timepoint=tpid, patient_id=self.session.patient_id if self.session else None)
        md = kwargs["metadata"][METADATA_KEY]
        md["registered_to"] = base_id
        md["compare"] = mode
        if mode == "beside baseline (registered)":
            kwargs["name"] = f"{tpid} → {base_id} (registered, beside)"
            # to the right of the baseline: shift along world x by the baseline's width + a gap;
            # z (slices) and y are unchanged, so the z slider and the camera serve both
            base = next((lyr for lyr in self.viewer.layers
                         if lyr.metadata.get(METADATA_KEY, {}).get("timepoint_id") == base_id
                         and lyr.metadata.get(METADATA_KEY, {}).get("kind") == "image"
                         and not lyr.metadata.get(METADATA_KEY, {}).get("registered_to")), None)
            ext = np.asarray(base.extent.world if base is not None else [[0, 0, 0], [0, 0, 0]], float)
            shift = float(ext[1][2] - ext[0][2]) + BESIDE_GAP_MM
            t = np.asarray(kwargs.get("translate", (0.0, 0.0, 0.0)), float).copy()
            t[2] += shift
            kwargs["translate"] = tuple(float(v) for v in t)
            md["beside_shift_mm"] = shift
        else:
            kwargs["name"] = f"{tpid} → {base_id} (registered)"
            kwargs["colormap"] = "magenta"
            kwargs["blending"] = "additive"
            kwargs["opacity"] = 0.6
        self._updating = True
        try:
            name = kwargs["name"]
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            self.viewer.add_image(data, **kwargs)
        finally:
            self._updating = False
        self._show_phase(self.phase_combo.currentText())
        if mode == "beside baseline (registered)":
            self.viewer.reset_view()
            self._status(f"{tpid} registered to {base_id} and shown beside it (right); one z slider scrolls both")
        else:
            self._status(f"{tpid} registered to {base_id} and shown over it (magenta)")

    # ------------------------------------------------------------------ open a study
    def _open_dialog(self) -> None:  # pragma: no cover - needs a user
        path = QFileDialog.getExistingDirectory(self, "DICOM folder")
        if path:
            self.open_path(path)

    def open_path(self, path: str | os.PathLike[str]) -> Any:
        """Load a DICOM folder/zip/DICOMDIR in a thread and add its layers (napari progress)."""
        from napari.qt.threading import thread_worker

        from .._reader import read_dicom

        @thread_worker(ignore_errors=True, progress={"total": 0, "desc": f"loading {Path(path).name}"})
        def work() -> list[Any]:
            return read_dicom(str(path))

        worker = work()
        worker.returned.connect(self._add_layer_tuples)
        worker.errored.connect(self._error)
        self._start(worker)
        return worker

    def _add_layer_tuples(self, tuples: list[Any]) -> None:
        for data, kwargs, kind in tuples:
            getattr(self.viewer, f"add_{kind}")(data, **kwargs)


def _is_layer_of(vol: Volume, layer: Any) -> bool:
    """Whether ``vol`` (a phase the read holds) was made from ``layer`` (its series UID; without
    UIDs, the very pixels)."""
    uid = layer.metadata[METADATA_KEY].get("series_instance_uid")
    if uid and vol.series_instance_uid:
        return bool(uid == vol.series_instance_uid)
    return vol.array is layer.data

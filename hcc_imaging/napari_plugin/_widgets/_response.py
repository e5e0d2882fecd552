"""The dock's response and export tabs (:class:`ResponseExportMixin`, a base of
:class:`._dock.ResponseDock`): the read assessed and its responses drawn (the response table, the
tumour burden, the spider plot :class:`_ResponsePlot`; a lesion named in a criterion's checks
gets them among its problems in the lesion table), and the read exported as a DICOM SR, a DICOM
SEG of the shown time point or CSV tables (what stands in the way said before a file is asked
for).  Split out of ``_dock.py`` along this seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QTableWidgetItem, QVBoxLayout, QWidget

from ...errors import HccImagingError
from .. import _core

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession

#: Response table columns (keys of :func:`.._core.response_rows`'s rows).
RESPONSE_COLUMNS = ("criterion", "response", "sum mm", "vs baseline", "vs nadir", "BOR")


class ResponseExportMixin:
    """Response and export for :class:`._dock.ResponseDock`, which provides the session and the
    widgets these methods read (``session``, ``timepoint_id``, ``response_table``,
    ``burden_label``, ``plot``) and its helpers (``_status``, ``_error``); it sets ``_checks``
    (the lesion table's extra problems), ``response_rows`` and ``assessment``."""

    session: ReadSession | None
    timepoint_id: str | None
    _checks: dict[str, list[str]]

    def refresh_response(self) -> None:
        s = self.session
        if s is None:
            return
        try:
            result = s.assess()
        except HccImagingError as err:
            self.response_table.setRowCount(0)
            self.burden_label.setText(str(err))
            return
        rows = _core.response_rows(result, self.timepoint_id)
        self._checks = {}
        for row in rows:
            for check in row["checks"]:
                for lid in s.lesions:
                    if re.search(rf"\b{re.escape(lid)}\b", check):
                        self._checks.setdefault(lid, []).append(f"{row['criterion']}: {check}")
        self.response_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, key in enumerate(RESPONSE_COLUMNS):
                item = QTableWidgetItem(str(row.get(key, "")))
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if row.get("error"):
                    item.setToolTip(row["error"])
                    item.setForeground(Qt.GlobalColor.darkYellow)
                self.response_table.setItem(r, c, item)
        self.response_rows = rows
        self.assessment = result
        self.burden_label.setText(_core.burden_text(_core.burden_rows(result, self.timepoint_id)))
        self.plot.draw_response(_core.plot_series(result))

    # ------------------------------------------------------------------ export
    def export_refusal(self, kind: str) -> str | None:
        """Why the read cannot be exported as ``kind`` now (None when it can): no read open, or a
        SEG of a time point without a lesion mask or without images."""
        s = self.session
        if s is None:
            return "start a read before exporting (reader id, then 'Start / resume read')."
        if kind == "SEG":
            tpid = self.timepoint_id or ""
            if tpid not in s.images:
                return f"time point {tpid!r} has no images loaded; a SEG needs its source series (open its study)."
            if not s.label_array(tpid).any():
                return (f"no lesion mask at {tpid} to export as a SEG: segment a lesion (Click / Line to segment), "
                        "paint one, or import masks first.")
        return None

    def _export_dialog(self, kind: str) -> None:
        """An *Export* button: what stands in the way is said in the status line before a file is
        asked for; an export that fails is said there too (never napari's error dialog)."""
        why = self.export_refusal(kind)
        if why is not None:
            self._status(f"{kind} not exported: {why}")
            return
        ext = {"SR": "*.dcm", "SEG": "*.dcm", "CSV": "*.csv"}[kind]
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind}", "", ext)
        if path:
            try:
                self.export(kind, path)
            except (HccImagingError, OSError) as err:
                self._status(f"{kind} not exported to {path}: {err}")

    def export(self, kind: str, path: str | os.PathLike[str]) -> list[Path]:
        """Export the read: ``SR`` (TID 1500 with responses), ``SEG`` (this time point's lesions
        and viable parts) or ``CSV`` (lesion table + responses beside it)."""
        s = self.session
        p = Path(path)
        try:
            why = self.export_refusal(kind) if kind in ("SR", "SEG", "CSV") else None
            if why is not None:
                raise HccImagingError(why)
            assert s is not None  # (export_refusal said so)
            assessment = _core.assessment_json(s.assess()) if _core.available("response") else None
            if kind == "SEG":
                tpid = self.timepoint_id or ""
                out = [_core.export_seg(
                    s.label_volume(tpid), s.images[tpid].reference, p,
                    viable=s.label_volume(tpid, viable=True) if s.label_array(tpid, viable=True).any() else None,
                    tracking_uids={les.lesion_id: les.tracking_uid for les in s.lesions.values()},
                    patient_id=s.patient_id,
                    organs={les.lesion_id: "lymph_node" if les.is_lymph_node else les.organ for les in s.lesions.values()},
                    kinds={les.lesion_id: les.kind for les in s.lesions.values() if les.kind},
                )]
            elif kind == "SR":
                images = {tp: t.reference for tp, t in s.images.items()}
                out = [_core.export_sr(s.read_document(), p, assessment=assessment, images=images)]
            elif kind == "CSV":
                out = _core.export_csv(s.read_document(), p, assessment=assessment)
            else:
                raise HccImagingError(f"unknown export kind {kind!r}; use SR, SEG or CSV.")
        except (HccImagingError, OSError) as err:
            self._error(err)
            raise
        self._status(f"exported {kind}: {', '.join(str(o) for o in out)}")
        return out


class _ResponsePlot(QWidget):
    """Spider plot (sum of diameters vs baseline, per criterion) on a matplotlib canvas."""

    def __init__(self) -> None:
        super().__init__()
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 2.0), dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.canvas)
        self.setMinimumHeight(160)
        self.n_series = 0
        self._series: dict[str, list[tuple[str, float]]] | None = None

    def draw_response(self, series: dict[str, list[tuple[str, float]]]) -> None:
        if series == self._series:
            return  # nothing new to draw (e.g. a table edit that changed no sum)
        self._series = {k: list(v) for k, v in series.items()}
        fig = self.figure
        fig.clear()
        ax = fig.add_subplot(111)
        for crit, pts in series.items():
            if pts:
                ax.plot([p[0] for p in pts], [100.0 * p[1] for p in pts], marker="o", label=crit)
        ax.axhline(-30, color="green", lw=0.8, ls="--")
        ax.axhline(20, color="red", lw=0.8, ls="--")
        ax.set_ylabel("% vs baseline", fontsize=7)
        ax.tick_params(labelsize=7)
        if any(series.values()):
            ax.legend(fontsize=6, loc="best")
        # fixed margins: tight_layout measured every text on each redraw (~50 ms a click)
        fig.subplots_adjust(left=0.2, right=0.97, bottom=0.16, top=0.95)
        self.canvas.draw_idle()
        self.n_series = sum(1 for pts in series.values() if pts)

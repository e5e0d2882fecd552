"""The dock's lesion table (:class:`LesionTableMixin`, a base of :class:`._dock.ResponseDock`):
the table drawn from the read at the shown time point (the response's checks among a lesion's
problems), a cell typed into the read, a row selected (its lesion's slice shown), lesions
deleted, and masks imported onto the shown time point.  Split out of ``_dock.py`` along this
seam (2026-12-06), no behaviour changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QTableWidgetItem

from ...errors import HccImagingError
from .._layers import lps_to_world

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession

#: Lesion table columns: (header, session row key, editable).
TABLE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("id", "lesion_id", False),
    ("role", "role", True),
    ("organ", "organ", True),
    ("node", "is_lymph_node", True),
    ("status", "status", True),
    ("LD mm", "longest_diameter_mm", True),
    ("SA mm", "short_axis_mm", True),
    ("viable mm", "viable_diameter_mm", True),
    ("volume mL", "volume_mm3", True),
    ("necrosis %", "necrosis_fraction", True),
    ("problems", "problems", False),
    ("tracking UID", "tracking_uid", False),
)


def _fmt(value: Any, key: str) -> str:
    if value is None or value == "":
        return ""
    if key == "volume_mm3":
        return f"{float(value) / 1000.0:.2f}"
    if key == "necrosis_fraction":
        return f"{100.0 * float(value):.0f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _parse(text: str, key: str) -> Any:
    text = text.strip()
    if text == "":
        return None
    if key == "volume_mm3":
        return float(text) * 1000.0
    if key == "necrosis_fraction":
        return float(text.rstrip("%")) / 100.0
    return text


class LesionTableMixin:
    """The lesion table of :class:`._dock.ResponseDock`, which provides the viewer, the session
    and the widgets these methods read (``viewer``, ``session``, ``timepoint_id``, ``table``,
    ``_updating``, ``_checks``) and its helpers (``_status``, ``_error``, ``refresh_all``)."""

    viewer: Any
    session: ReadSession | None
    timepoint_id: str | None
    _updating: bool
    _checks: dict[str, list[str]]

    def _selected_lesion_id(self) -> str | None:
        """The lesion id of the table's (first) selected row, or None."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        item = self.table.item(rows[0].row(), 0) if rows else None
        return item.text() if item else None

    def go_to_lesion(self, lesion_id: str) -> bool:
        """Show the slice of the lesion's long axis (or mask centre) at the current time point."""
        s = self.session
        if s is None or not self.timepoint_id:
            return False
        obs = s.observations.get((lesion_id, self.timepoint_id))
        centre = None
        if obs is not None and obs.lines:
            ln = obs.lines.get("long") or next(iter(obs.lines.values()))
            centre = 0.5 * (np.asarray(ln.start_lps) + np.asarray(ln.end_lps))
        else:
            mask = s.lesion_mask(lesion_id, self.timepoint_id)
            if mask is not None and mask.any():
                centre = s.geometry(self.timepoint_id).index_to_lps(np.argwhere(mask).mean(axis=0))
        if centre is None:
            return False
        world = lps_to_world(centre)
        if abs(float(self.viewer.dims.point[0]) - float(world[0])) > 1e-6:
            self.viewer.dims.set_point(0, float(world[0]))
        return True

    def _on_selection(self) -> None:
        lid = None if self._updating else self._selected_lesion_id()
        if lid is not None:
            self.go_to_lesion(lid)

    def _import_dialog(self) -> None:
        """The *Import masks…* button: with no read or no images shown the status line says so (it
        raised into napari's error dialog), before a file is asked for."""
        if self.session is None or not self.timepoint_id or self.timepoint_id not in self.session.images:
            self._status("masks not imported: start a read and open the study first (the masks go onto the "
                         "time point shown).")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Lesion masks", "", "Masks (*.nii.gz *.nii *.dcm *.nrrd *.mha)")
        if path:
            self.import_masks(path)

    def import_masks(self, path: str | os.PathLike[str]) -> list[str]:
        """The lesion masks of ``path`` onto the shown time point (:meth:`ReadSession.import_masks`),
        measured and drawn."""
        if self.session is None or not self.timepoint_id:
            raise HccImagingError("start a read and open the study before importing masks onto it.")
        try:
            ids = self.session.import_masks(self.timepoint_id, path)
        except HccImagingError as err:
            self._error(err)
            return []
        self.refresh_all()
        self._status(f"imported {len(ids)} lesion mask(s) from {Path(path).name} at {self.timepoint_id}: {', '.join(ids)}")
        return ids

    def _delete_selected(self) -> None:
        if self.session is None:
            return
        rows = self.table.selectionModel().selectedRows()
        for r in rows:
            item = self.table.item(r.row(), 0)
            if item is not None:
                try:
                    self.session.delete_lesion(item.text())
                except HccImagingError as err:
                    self._error(err)
        self.refresh_all()

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._updating or self.session is None:
            return
        header, key, editable = TABLE_COLUMNS[item.column()]
        if not editable:
            return
        lid = self.table.item(item.row(), 0).text()
        try:
            cleared = self.session.set_field(lid, key, _parse(item.text(), key), timepoint_id=self.timepoint_id)
        except (HccImagingError, ValueError) as err:
            self._error(err)
            cleared = {}
        self.refresh_all()
        if cleared:  # (after the redraw: the status line keeps the old values, to type back if meant)
            names = {**{c[1]: c[0] for c in TABLE_COLUMNS}, "mask_voxels": "mask (voxels)",
                     "viable_mask_voxels": "viable mask (voxels)"}
            self._status(f"{lid} absent at {self.timepoint_id}: its numbers and masks emptied (they were "
                         + ", ".join(f"{names.get(k, k)} {_fmt(v, k)}" for k, v in cleared.items()) + ")")

    def edit_cell(self, lesion_id: str, key: str, text: str) -> None:
        """Type ``text`` into the table cell of ``lesion_id`` / column ``key`` (as a reader would)."""
        col = [c[1] for c in TABLE_COLUMNS].index(key)
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == lesion_id:
                self.table.item(r, col).setText(text)
                return
        raise KeyError(lesion_id)

    def _fill_table(self) -> None:
        s = self.session
        self._updating = True
        try:
            rows = s.table_rows(self.timepoint_id) if s and self.timepoint_id else []
            self.table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                extra = self._checks.get(row["lesion_id"], [])
                row["problems"] = "; ".join([p for p in [row.get("problems", "")] if p] + extra)
                for c, (_, key, editable) in enumerate(TABLE_COLUMNS):
                    item = QTableWidgetItem(_fmt(row.get(key), key))
                    flags = item.flags()
                    if not editable or (s is not None and s.locked):
                        flags &= ~Qt.ItemFlag.ItemIsEditable
                    item.setFlags(flags)
                    if key == "problems" and row.get(key):
                        item.setForeground(Qt.GlobalColor.red)
                        item.setToolTip(str(row[key]))
                    self.table.setItem(r, c, item)
        finally:
            self._updating = False

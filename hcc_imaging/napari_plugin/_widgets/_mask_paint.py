"""The dock's side of a reader's brush (:class:`MaskPaintMixin`, a base of :class:`._dock.ResponseDock`):
napari's paint, fill and erase tools on a ``lesions · <time point>`` or ``viable · <time point>``
labels layer are read back into the read (:meth:`.._controller.ReadSession.masks_painted`: the
masks replaced, measured again, autosaved), then the lines, the table and the response are
redrawn.  A stroke the read refuses (a locked read, a number that cannot start a lesion) is taken
back with napari's undo and the reason shown in the status line.  napari's undo and redo
(Ctrl+Z / Ctrl+Shift+Z on the layer) report no region: the layer's keys are bound to the same
undo / redo followed by a whole re-read of that time point's labels (the undo of a whole lesion
erased brings the lesion back in the read); what such a re-read refuses (the number of a lesion
deleted with 'Delete lesion') is taken off the layer, the map SEG exports."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QTimer

from ...errors import HccImagingError
from .._layers import METADATA_KEY
from .._mask_edits import painted_region

if TYPE_CHECKING:  # pragma: no cover
    from .._controller import ReadSession


class MaskPaintMixin:
    """Mask edits for :class:`._dock.ResponseDock`, which provides ``session``, ``role_combo``,
    ``_updating``, ``_mask_layers_hooked`` (an empty ``weakref.WeakSet``), ``_status``, ``_error`` and ``refresh_all``."""

    session: ReadSession | None
    role_combo: Any
    _updating: bool
    _mask_layers_hooked: weakref.WeakSet[Any]

    def _hook_mask_layer(self, layer: Any, viable: bool) -> None:
        """Read ``layer``'s paint strokes, undo and redo into the read (once per layer)."""
        key = getattr(layer, "__wrapped__", layer)  # (napari's plugin proxy wraps the layer)
        if key in self._mask_layers_hooked:
            return
        self._mask_layers_hooked.add(key)  # a weak set: a layer deleted and made again is hooked again
        def painted(event: Any) -> None:
            # read once napari has written the edit: a single ``paint()`` / ``fill()`` call emits the
            # event before it writes the data (a mouse stroke, on release, after)
            atoms = event.value
            QTimer.singleShot(0, lambda: self._on_mask_painted(layer, viable, atoms))

        layer.events.paint.connect(painted)

        def undo(_: Any = None) -> None:
            layer.undo()
            self._on_mask_painted(layer, viable, None)

        def redo(_: Any = None) -> None:
            layer.redo()
            self._on_mask_painted(layer, viable, None)

        from app_model.types import KeyCode, KeyMod  # napari's own keys for them (Cmd on macOS)

        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, undo, overwrite=True)
        layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, redo, overwrite=True)

    def _on_mask_painted(self, layer: Any, viable: bool, atoms: Any) -> None:
        """One stroke (``atoms``: the paint event's history item) or an undo / redo (None)."""
        s = self.session
        tp = (layer.metadata.get(METADATA_KEY) or {}).get("timepoint_id")
        if self._updating or s is None or not tp:
            return
        why = self._foreign_layer(layer)  # type: ignore[attr-defined]
        if why is not None:  # another read's mask (a layer kept from it): not painted into this read
            self._updating = True
            try:
                if atoms is not None:
                    layer.undo()
            finally:
                self._updating = False
            self._refuse(f"mask edit refused: {why}; it was not recorded.")  # type: ignore[attr-defined]
            return
        arr = np.asarray(layer.data)
        box, labels = painted_region(atoms, arr.shape) if atoms is not None else (None, None)
        if atoms is not None and box is None:
            labels = None  # an edit of an unknown form: every label of the time point is read again
        try:
            changed, notes = s.masks_painted(tp, arr, viable=viable, box=box, labels=labels,
                                             role=self.role_combo.currentText())
        except HccImagingError as err:
            self._updating = True
            try:
                if atoms is not None:
                    layer.undo()  # the stroke taken back: the layer shows the read again
                elif np.asarray(layer.data) is s.label_array(tp, viable=viable):
                    # an undo / redo the read refused (a deleted lesion's number): its voxels off the
                    # layer, which is the map SEG exports, so what is shown is what is read
                    s.redraw_label_array(tp, viable=viable)
            finally:
                self._updating = False
            self._error(err)  # type: ignore[attr-defined]
            self.refresh_all()  # type: ignore[attr-defined]
            return
        self.refresh_all()  # type: ignore[attr-defined]
        what = "viable part" if viable else "mask"
        if changed:
            self._status(f"{what} edited by hand: {', '.join(changed)} measured again and saved"  # type: ignore[attr-defined]
                         + (f" ({' '.join(notes)})" if notes else ""))
        elif notes:
            self._status(" ".join(notes))  # type: ignore[attr-defined]

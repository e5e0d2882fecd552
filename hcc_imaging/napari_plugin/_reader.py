"""npe2 reader: DICOM folders, zips and DICOMDIR → one Image layer per series/phase per time point.

Layers are named ``"<time point> · <phase>"`` (``baseline · arterial``), carry HU values, the
geometry of the :class:`~hcc_imaging.volume.Volume` (world = LPS reversed, see
:mod:`hcc_imaging.napari_plugin._layers`), ``units="mm"``, the liver window, and every DICOM
identifier in ``metadata["hcc_imaging"]`` so the writers can round-trip.  Only the reference
phase (portal venous when present) of the first time point is visible; the dock switches
time points and phases.  A gantry-tilted series or one with missing slices is shown resampled onto
a regular orthogonal grid; that, and each series left out (with why), is a napari warning
(:func:`._core.load_archive`'s notes).  A sagittal or coronal series is shown with its array axes
in world order (:func:`._layers.for_display`: napari could not draw it), with a warning too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._controller import REFERENCE_PHASES
from ._layers import for_display, reoriented_axes, volume_layer_data

__all__ = ["get_reader", "read_dicom", "is_dicom_path"]

LayerDataTuple = tuple[Any, dict[str, Any], str]
_SUFFIXES = (".dcm", ".zip", ".ima")


def is_dicom_path(path: str | Path) -> bool:
    """A folder, a ``.zip``, a ``DICOMDIR`` or a ``.dcm``/``.ima`` file."""
    p = Path(path)
    return p.is_dir() or p.name.upper() == "DICOMDIR" or p.suffix.lower() in _SUFFIXES


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerDataTuple]] | None:
    """npe2 ``get_reader`` hook: :func:`read_dicom` for DICOM-like paths, else ``None``."""
    if isinstance(path, list):
        if not path or not all(is_dicom_path(p) for p in path):
            return None
        return read_dicom
    return read_dicom if is_dicom_path(path) else None


def read_dicom(path: str | list[str]) -> list[LayerDataTuple]:
    """Load every study under ``path`` (list: a set of files of one folder) as napari layers."""
    from ._core import load_archive

    if isinstance(path, list):
        parents = {Path(p).parent if Path(p).is_file() else Path(p) for p in path}
        path = str(parents.pop()) if len(parents) == 1 else str(Path(path[0]).parent)
        # a multi-selection of files is read as their folder (series are sorted by position)
    layers: list[LayerDataTuple] = []
    first_tp = True
    refused: list[str] = []
    for study in load_archive(path):
        if not study.phases:
            refused.extend(study.notes)
            continue
        for note in study.notes:  # napari shows a reader's (and a thread worker's) warnings
            warnings.warn(f"hcc-imaging: {study.timepoint_id}: {note}", UserWarning, stacklevel=2)
        shown = next((p for p in REFERENCE_PHASES if p in study.phases), next(iter(study.phases)))
        for phase, vol in study.phases.items():
            vol = for_display(vol)  # a sagittal / coronal series: its axes in world order (napari)
            if reoriented_axes(vol):
                warnings.warn(f"hcc-imaging: {study.timepoint_id}: series {vol.series_instance_uid} ({phase}, "
                              f"{vol.meta.get('orientation') or 'not axial'}) is shown with its array axes in "
                              "z, y, x order (the same voxels, nothing resampled); its SEG and SR follow the "
                              "acquired slices", UserWarning, stacklevel=2)
            layers.append(
                volume_layer_data(
                    vol,
                    timepoint=study.timepoint_id,
                    patient_id=study.patient_id,
                    study_date=study.study_date,
                    visible=first_tp and phase == shown,
                )
            )
        first_tp = False
    if not layers:
        from ..errors import InvalidSeriesError

        raise InvalidSeriesError(f"no image series of {path} can be shown: " + (
            " ".join(refused) if refused else "it holds no CT or MR image series."))
    for note in refused:  # a study with nothing to show beside others that open
        warnings.warn(f"hcc-imaging: {note}", UserWarning, stacklevel=2)
    return layers

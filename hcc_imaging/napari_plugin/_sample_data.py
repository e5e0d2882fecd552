"""npe2 sample data: the committed HCC phantom study (baseline + follow-up, every phase)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["phantom_study", "sample_data_dir"]

LayerDataTuple = tuple[Any, dict[str, Any], str]


def sample_data_dir() -> Path:
    """The repository's ``sample_data/`` folder (the committed phantom DICOM study)."""
    return Path(__file__).resolve().parents[2] / "sample_data"


def phantom_study() -> list[LayerDataTuple]:
    """Image layers of the sample study: one per phase and time point, via the DICOM reader.

    Reads the committed DICOM files when the source tree is present; otherwise builds the
    same deterministic study in memory with :func:`hcc_imaging.phantoms.make_study`.
    """
    from ._reader import read_dicom

    root = sample_data_dir()
    if root.is_dir() and any(root.rglob("*.dcm")):
        return read_dicom(str(root))
    from ._layers import volume_layer_data
    from ..phantoms import make_study

    study = make_study()
    layers: list[LayerDataTuple] = []
    for n, tp in enumerate(study.timepoints):
        for k, vol in enumerate(tp.volumes):
            layers.append(volume_layer_data(vol, timepoint=tp.timepoint_id, patient_id=study.patient_id,
                                            visible=n == 0 and k == 0))
    return layers

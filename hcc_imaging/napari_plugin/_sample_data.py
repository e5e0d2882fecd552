"""npe2 sample data: the committed HCC phantom study (baseline + follow-up, every phase)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["phantom_study", "sample_data_dir"]

LayerDataTuple = tuple[Any, dict[str, Any], str]
#: Time points of the sample study (baseline + first follow-up, every phase).
SAMPLE_TIMEPOINTS: tuple[str, ...] = ("baseline", "fu1")
#: Pseudonymous patient id of the phantom (``hcc_imaging.phantoms.PATIENT_ID``).
PHANTOM_PATIENT_ID = "PHANTOM-001"


def sample_data_dir() -> Path:
    """The repository's ``sample_data/`` folder (the committed phantom DICOM study)."""
    return Path(__file__).resolve().parents[2] / "sample_data"


def phantom_study() -> list[LayerDataTuple]:
    """Image layers of the sample study: one per phase and time point, via the DICOM reader.

    Reads the committed DICOM files (``sample_data/liver_phantom``) when the source tree and
    the DICOM loader are present; otherwise builds the same deterministic study in memory with
    :func:`hcc_imaging.phantoms.make_study` (seed 0, the generator of the committed files).
    """
    from . import _core
    from ._reader import read_dicom

    root = sample_data_dir()
    if root.is_dir() and any(root.rglob("*.dcm")) and _core.available("io"):
        return read_dicom(str(root))
    from ..phantoms import make_study
    from ._layers import volume_layer_data

    layers: list[LayerDataTuple] = []
    for n, tp in enumerate(SAMPLE_TIMEPOINTS):
        study = make_study(timepoint=tp)
        for k, vol in enumerate(study.volumes.values()):
            layers.append(
                volume_layer_data(vol, timepoint=tp, patient_id=PHANTOM_PATIENT_ID, visible=n == 0 and k == 2)
            )
    return layers

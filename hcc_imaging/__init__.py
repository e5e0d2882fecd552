"""hcc_imaging: geometry-true measurement of liver cancer (HCC) treatment response on CT and MRI.

The core (``io``, ``segment``, ``measure``, ``burden``, ``response``, ``study``, ``export``)
never imports napari or Qt; adapters (``cli``, ``batch``, ``napari_plugin``) sit on top.
Conventions (LPS, axes, units) are stated once in :mod:`hcc_imaging.volume`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import HccImagingError
from .volume import Geometry, LabelVolume, Modality, Phase, Volume

try:
    __version__ = version("hcc-imaging")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "HccImagingError", "Geometry", "Volume", "LabelVolume", "Modality", "Phase"]

"""One helper to import optional dependencies with a message naming the feature and extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import OptionalDependencyError

__all__ = ["import_optional"]


def import_optional(name: str, feature: str, extra: str) -> ModuleType:
    """Import module ``name`` or raise :class:`OptionalDependencyError`.

    Parameters
    ----------
    name : str
        Module to import, e.g. ``"napari"``.
    feature : str
        What the user asked for, e.g. ``"the napari viewer"``.
    extra : str
        The ``pip install 'hcc-imaging[EXTRA]'`` extra that provides it.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise OptionalDependencyError(
            f"{feature} needs the package {name!r}, which is not installed. "
            f"Install it with: pip install 'hcc-imaging[{extra}]'"
        ) from err

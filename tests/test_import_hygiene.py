"""The core must import without napari, Qt, magicgui or vispy (DESIGN section 1)."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "hcc_imaging",
    "hcc_imaging.volume",
    "hcc_imaging.io",
    "hcc_imaging.segment",
    "hcc_imaging.measure",
    "hcc_imaging.burden",
    "hcc_imaging.response",
    "hcc_imaging.study",
    "hcc_imaging.export",
    "hcc_imaging.batch",
    "hcc_imaging.cli",
    "hcc_imaging.napari_plugin",
]
FORBIDDEN = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy")


def test_core_imports_without_gui_modules() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"for m in {CORE!r}:\n"
        "    importlib.import_module(m)\n"
        "# every submodule of the core packages, too\n"
        "import hcc_imaging\n"
        "for info in pkgutil.walk_packages(hcc_imaging.__path__, 'hcc_imaging.'):\n"
        "    if info.name.startswith('hcc_imaging.napari_plugin.') or info.name.startswith('hcc_imaging.commands.view'):\n"
        "        continue\n"
        "    importlib.import_module(info.name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(' '.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in GUI modules: {out.stdout.strip()}"


def test_cli_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hcc_imaging.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "hcc-imaging" in out.stdout

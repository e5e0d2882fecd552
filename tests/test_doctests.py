"""The examples in the public API's docstrings run and give what they show (two had gone stale when
the estimator changed: ``measure_lesion``'s ball and ``longest_axial_diameter``'s square)."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Every module of the package with docstring examples (napari's need a display, and are left out).
MODULES = ("hcc_imaging.burden.liver", "hcc_imaging.burden.scores", "hcc_imaging.export.deid", "hcc_imaging.io.phases",
           "hcc_imaging.io._phase_minutes",
           "hcc_imaging.io.write", "hcc_imaging.measure.caliper", "hcc_imaging.measure.diameters",
           "hcc_imaging.measure.lesion", "hcc_imaging.phantoms", "hcc_imaging.response.classify",
           "hcc_imaging.response.document", "hcc_imaging.response.engine", "hcc_imaging.study.agreement",
           "hcc_imaging.study.store", "hcc_imaging.volume")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted > 0, f"{name} has no examples any more: drop it from MODULES"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples fail (see above)"

"""Step 6b of the classical liver method (segment/_liver_rim.py): a hypodense tumour's capsular
rim in front of the lung is taken, a diaphragm-like layer over parenchyma is not."""

from __future__ import annotations

import numpy as np

from hcc_imaging.segment._liver_rim import hypodense_rim

SP = (1.6, 1.5, 1.5)
WIN_LO = 60.0


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Working grid: liver (105 HU) for columns < 20, a 3 mm (two-column) soft-tissue layer (50 HU)
    beyond it, then lung (-800 HU).  A hypodense tumour (30 HU) fills rows >= 20 of the liver from
    column 8 to the border; rows < 10 are parenchyma up to the border, > 15 mm from the tumour."""
    v = np.full((20, 40, 40), -800.0, np.float32)
    v[:, :, :20] = 105.0
    v[:, :, 20:22] = 50.0
    v[4:16, 20:, 8:20] = 30.0
    m = np.zeros(v.shape, bool)
    m[:, :, :20] = True  # the window's mask with the tumour piece included (step 5)
    return m, v


def test_rim_over_a_hypodense_tumour_is_taken_and_a_layer_over_parenchyma_is_not() -> None:
    m, v = _scene()
    taken = np.zeros_like(m)
    sel, d = hypodense_rim(m, v, SP, WIN_LO, taken)
    # the soft-tissue layer in front of the tumour: both columns (1.5 and 3 mm out), lung within 3 mm
    assert sel[6:14, 24:, 20:22].all()
    # the same layer over parenchyma far from the tumour stays out (a diaphragm)
    assert not sel[:, :10, :].any()
    # never the lung itself beyond 5 mm, never the mask
    assert not sel[:, :, 24:].any() and not (sel & m).any()
    # D is the lung's value, so the caller's fraction (v - D) / (L - D) takes the layer (>= 0.5)
    f = (v[sel] - d) / (105.0 - d)
    assert np.all(d <= WIN_LO - 40.0)
    assert np.all(f[v[sel] == 50.0] >= 0.9)


def test_no_hypodense_tumour_no_rim() -> None:
    m, v = _scene()
    v[:, :, :20] = 105.0  # parenchyma only (a thin dark border ring does not count: depth 4 mm)
    v[:, :, 19] = 20.0
    sel, d = hypodense_rim(m, v, SP, WIN_LO, np.zeros_like(m))
    assert not sel.any() and d.size == 0

"""A lesion of one exact value (a noise-free plateau, as digital phantoms and masked or synthetic images have):
step 12's surface fit found no contrast across the margin there and its Gauss-Newton system was singular, so
the click raised numpy's ``LinAlgError`` (2026-12-07, fifth session). The fit now stops where it started."""

from __future__ import annotations

import numpy as np

from hcc_imaging.segment import segment_lesion

from ._phantom import dice, rim_scene

FINE = (1.5, 0.7, 0.7)
SHAPE = (40, 80, 80)


def test_a_noise_free_plateau_lesion_is_segmented() -> None:
    vols, truth, click = rim_scene("oval", 0, 15.0, rim_mm=2.5, spacing=FINE, shape=SHAPE)
    # the lesion at the image's largest value on every phase, without noise; the parenchyma keeps its noise
    plateau = {k: v.with_array(np.where(truth, v.array.max(), v.array).astype(v.array.dtype)) for k, v in vols.items()}
    res = segment_lesion(plateau, seed_index=tuple(click))
    assert dice(res.labels.array != 0, truth) >= 0.95

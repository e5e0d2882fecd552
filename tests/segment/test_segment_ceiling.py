"""The oracle scripts' image models are the phantom's own: ``scripts/ceiling_ill_defined.py``
(docs/validation.md §2.1, "What an oracle reaches on ill-defined margins") and the node's in
``scripts/segment_ceiling.py`` (§2.2, "Ceilings: what an oracle tuned on the truth achieves")."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest


def _script(name: str = "ceiling_ill_defined"):  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[2] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("fit_hu", [False, True], ids=["hu-known", "hu-fitted"])
def test_ml_scale_recovers_a_noise_free_20mm_ill_defined_lesion(fit_hu: bool) -> None:
    """On a noise-free 20 mm, 20 HU lesion with a 3 mm margin (5 mm slices) the scale fit finds the
    truth's shape: the rendering (sub-samples, margin blur, clip, PSF) matches the phantom's image
    to its int16 rounding, and the fit's rasterisation is the truth."""
    c = _script()
    combos = c.SWEEP.combos()
    i = combos.index(((5.0, 0.78, 0.78), 20.0, 20.0, 0.0))
    ph = c.SWEEP.phantom(i, combos[i], 0.2, c.BLUR_MM)
    truth_full = ph.truth.array != 0
    scene = c.Scene(i, combos[i], 0.2, truth_full)
    truth = truth_full[scene.sl]
    assert np.array_equal(scene.frac(1.0) >= 0.5, truth)
    y = np.asarray(ph.volume.array[scene.sl], np.float64)
    model = scene.background() + (20.0 - c.LIVER) * scene.lesion_term(1.0)
    assert float(np.abs(model - y).max()) <= 0.51
    d, a, _ = c.ml_scale(scene, y, truth, fit_hu=fit_hu)
    assert d >= 0.99
    assert abs(a - 1.0) <= 0.01


def test_node_oracle_models_the_phantoms_fat_plane() -> None:
    """``make_study``'s node lies in a fat plane (1.10): the ML ellipsoid must model the node against
    fat, the tissue its border meets; against soft tissue (the model before the plane) the oracle's
    own fit of the baseline node, started at the truth, fell to 0.92 and understated the ceiling."""
    from hcc_imaging.phantoms import NODE_FAT_PLANE_MM, make_study

    c = _script("segment_ceiling")
    assert c.kinds(0.0) == (c.KINDS, c.ELLIPSOIDS)
    kinds, ellipsoids = c.kinds(NODE_FAT_PLANE_MM)
    assert kinds["L6"] == ("node", ("fat",)) and ellipsoids["L6"] == ("node", "fat")
    assert {k: v for k, v in kinds.items() if k != "L6"} == {k: v for k, v in c.KINDS.items() if k != "L6"}
    st = make_study(0, timepoint="baseline", noise_sd_hu=15.0)
    nf = make_study(0, timepoint="baseline", noise_sd_hu=0.0)
    rec = st.truth["lesions"]["L6"]
    truth = st.lesions.array == rec["label"]
    sl = c.crop(st, truth)
    assert c.ml_ellipsoid(st, nf, rec, sl, truth, *ellipsoids["L6"]) >= 0.99
    assert c.ml_ellipsoid(st, nf, rec, sl, truth, *c.ELLIPSOIDS["L6"]) < 0.95

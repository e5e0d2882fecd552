"""Step 13's fit split over two threads (2026-12-06, seventh session; :mod:`hcc_imaging.segment._rind_split`).

The rays by halves, the set-ups by slabs, the correction's two surfaces, node weights and normal
matrices on a side thread: each part computed as the whole is, so the results are the one-thread
fit's bit for bit (docs/validation.md section 2.4, "Step 13's speed (session of 2026-12-06, seventh)").
No timing is asserted here.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hcc_imaging.phantoms import Phase
from hcc_imaging.segment import _kernels, _rind, _rind_nodes, _rind_setup, _rind_surfaces
from hcc_imaging.segment import constants as C
from hcc_imaging.segment._surface import _exponent_arrays

from ._phantom import rim_scene, rim_scene_shape

pytestmark = pytest.mark.skipif(_kernels.get("kmedians") is None, reason="numba kernels disabled or missing")


def test_the_set_up_in_two_slabs_is_the_whole_boxs_bit_for_bit() -> None:
    """``_setup`` with a side pool (the box's second half of slices set up on it) gives every array of
    the one-pass set-up bit for bit, the fitted rows in the box's order."""
    rng = np.random.default_rng(5)
    shape, sp = (13, 21, 17), np.array([1.5, 0.7, 0.7])
    degree = C.LESION_BLUR_MODEL_DEGREE
    k = len(_exponent_arrays(degree)[0])
    x0 = np.zeros(2 * k)
    x0[0], x0[k] = 3.0, 6.0
    x0[1:] += np.r_[rng.normal(scale=0.2, size=k - 1), 0.0, rng.normal(scale=0.2, size=k - 1)]
    liv = rng.random(shape) > 0.3
    one = _rind_setup._setup(shape, sp, np.array([9.1, 7.3, 5.9]), x0, degree, liv)
    with ThreadPoolExecutor(1) as pool:
        two = _rind_setup._setup(shape, sp, np.array([9.1, 7.3, 5.9]), x0, degree, liv, pool)
    assert one[2].sum() > 100 and (~one[2]).sum() > 100  # fitted voxels in both slabs' box
    for a, b in zip(one, two, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_node_weights_in_two_halves_are_the_whole_arrays() -> None:
    """``node_weights`` with a side pool: the same CSR matrix bit for bit (an odd count of rows, so the
    halves split at an aligned row, not in the middle)."""
    rng = np.random.default_rng(2)
    u = rng.normal(size=(4099, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    one = _rind_nodes.node_weights(u)
    with ThreadPoolExecutor(1) as pool:
        two = _rind_nodes.node_weights(u, pool=pool)
    for name in ("data", "indices", "indptr"):
        assert getattr(one, name).tobytes() == getattr(two, name).tobytes()


def test_the_fit_on_two_threads_is_the_one_thread_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lobulated rind (the correction runs): ``rind_border`` with its side thread gives the one-thread
    fit's mask and values bit for bit, and the side thread did take work (the node weights' half)."""
    sp = (1.5, 0.7, 0.7)
    vols, _, click = rim_scene("lobulated", 0, 15.0, rim_mm=2.5, spacing=sp, shape=rim_scene_shape(sp))
    img, seed = vols[Phase.ARTERIAL].array, tuple(int(v) for v in click)
    where: list[str] = []
    real = _rind_nodes._weight_rows

    def rows(*args, **kw):  # type: ignore[no-untyped-def]
        where.append(threading.current_thread().name)
        return real(*args, **kw)

    monkeypatch.setattr(_rind_nodes, "_weight_rows", rows)
    two = _rind.rind_border(img, seed, sp)
    assert two.per_direction and any(n.startswith("rind_side") for n in where)
    monkeypatch.setattr(_rind_surfaces, "_threads", lambda: 1)
    where.clear()
    one = _rind.rind_border(img, seed, sp)
    assert where and not any(n.startswith("rind_side") for n in where)
    assert one.box == two.box and np.array_equal(one.mask, two.mask)
    assert (one.core_value, one.layer_value, one.parenchyma_value, one.psf_mm, one.layer_mm, one.chi2_reduced) == (
        two.core_value, two.layer_value, two.parenchyma_value, two.psf_mm, two.layer_mm, two.chi2_reduced)

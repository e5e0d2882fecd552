"""Step 13's per-direction correction (1.53, :mod:`._rind_nodes`) on the 2 x 2-pixel blocks, and the blocks' race
handed over to it (1.65; private).

On pixels up to ``LESION_RIND_COARSE_MAX_PIXEL_MM`` the surfaces are fitted on 2 x 2-pixel blocks (1.55,
:func:`._rind_surfaces._coarse_to_fine`) and then on the pixels by one step.  Until 1.64 the correction that follows on a
lobulated rind (its score test on the pixels finds a shape the degree-4 surfaces leave) was fitted on the pixels:
each of its Gauss-Newton steps renders both corrected surfaces, blurs them and their ramps and forms the normal
matrices over the pixels' ~100 k fitted voxels (~70 ms of a lobulated click).  Since 1.65 the score test still
reads the pixels (the same decision as 1.64: an oval keeps its mask bit for bit), but the node offsets are fitted
on the blocks (a quarter of the voxels, the blocks' point-spread and noise as in the blocks' race) from the
surfaces the pixels' step ended on, and the offsets (one per direction node: 16 x 32 nodes, ~2.4 mm apart on a
12 mm surface, coarser than a block) are then read at the pixels, only where they can change the mask
(:func:`offsets_near_layer`).  And the blocks' race (:func:`._rind_surfaces._race`), whose lone fit on a lobulated rind crept on
for 14-31 steps of ~0.5 mm (the surfaces move about a ramp and a blur a step), stops after
``LESION_RIND_HANDOVER_STEPS`` rounds when the score test on the blocks (:func:`misfit_z`) says the shape is one the
degree-4 surfaces do not follow: the correction, which does follow it, takes over from there.  docs/validation.md
section 2.4, "Algorithm 1.65".  1.66 ("Algorithm 1.66"): the handover after 4 rounds, the correction on the blocks
by at most 10 steps with its normal matrix factorised every 2nd, and no score test on the pixels after a handover.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from . import _kernels, _rind_gn, _rind_nodes
from . import constants as C
from ._rind_setup import LayerRadius


class Grid(NamedTuple):
    """The blocks' fit (:func:`._rind_surfaces._coarse_to_fine`): distances (float32, the blocks' box), direction
    terms (float32, one row a term), unit directions (the box x 3), the fitted blocks, the winner's ramp
    (mm, the box), its point-spread in blocks (slice, row, column), the fitted blocks' values and their noise."""

    rho: NDArray[np.float32]
    y_t: NDArray[np.float32]
    u: NDArray[np.float64]
    use: NDArray[np.bool_]
    h: NDArray[np.float32]
    sig: list[float]
    data: NDArray[np.float64]
    noise: float
    #: 1.66: whether the blocks' race was handed over to the correction (its score test on the blocks passed)
    handed: bool = False


def slopes(state: Any, h: NDArray[np.float32], sig: list[float], use: NDArray[np.bool_], noise: float,
           fast: Any = None, pool: Executor | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fitted voxels' residual slopes along both surfaces' radii at a fit's state (its two indicators'
    ramp ``h`` blurred by ``sig`` voxels, times each surface's contrast over the noise): what 1.53's score
    test and the correction's steps read.  ``fast``: the grid's :class:`._rind_gn.NodeSurfaces` (its blur)
    when the kernels are on; ``pool``: an idle executor for the second blur."""
    from ._rind_surfaces import _both, _ramp_blur

    blur = (lambda v: _ramp_blur(v, h, sig, use).astype(np.float64)) if fast is None else fast.ramp_blur
    b_in, b_out = _both(blur, state.s_in, state.s_out, pool)
    return state.coef[2] / noise * b_in, state.coef[1] / noise * b_out


def misfit_z(st: Any, h: NDArray[np.float32], sig: list[float], use: NDArray[np.bool_], u: NDArray[np.float64],
             noise: float) -> float:
    """1.53's score test (:func:`._rind_nodes.misfit_score`) of a fit's state ``st`` on a grid (the ramp ``h``, the
    point-spread ``sig`` in voxels, the fitted voxels ``use``, the directions ``u``, the noise)."""
    return _rind_nodes.misfit_score(u[use], *slopes(st, h, sig, use, noise), st.r)


def fit_offsets(x: NDArray[np.float64], k: int, st: Any, rho: NDArray[np.float32], y_t: NDArray[np.float32],
                u: NDArray[np.float64], use: NDArray[np.bool_], h: NDArray[np.float32], sig: list[float],
                data: NDArray[np.float64], noise: float, pool: Executor | None,
                first: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
                fast: Any = None, iterations: int = C.LESION_RIND_NODES_ITERATIONS,
                refresh: int = 1) -> tuple[NDArray[np.float64], Any]:
    """1.53's fit (:func:`._rind_nodes.fit_node_offsets`) of both surfaces' node offsets on a grid (``rho`` ...
    ``noise``, as :func:`._rind._node_offsets` reads them) from the surfaces ``x`` and their state ``st``;
    ``first``: the slopes at ``st`` when known (the score test's), ``fast``: the grid's
    :class:`._rind_gn.NodeSurfaces` when the kernels are on; ``iterations``, ``refresh``: as
    :func:`._rind_nodes.fit_node_offsets` reads them.  Returns the offsets (the core's nodes, then the
    layer's) and the grid's node weights (CSR, the box's voxels x nodes)."""
    from ._rind_surfaces import _State, _both, _indicator, _values

    def slopes_at(state: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if first is not None and state is st:
            # (the fit's first step reads the score test's slopes: the same state)
            return first
        return slopes(state, h, sig, use, noise, fast, pool)

    weights = _rind_nodes.node_weights(u.reshape(-1, 3), pool=pool)
    w_use = weights[use.ravel()]
    n = weights.shape[1]
    radii = (np.stack([x[:k], x[k:]]).astype(np.float32) @ y_t).reshape((2, -1))
    if fast is not None:
        fast.offsets(weights, radii)

    def surface(i: int, d: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        # surface i (0 the core's, 1 the layer's) with its offsets: its indicator and its blur at the fitted voxels
        if fast is not None:
            return fast.surface(i, d[i * n:(i + 1) * n])  # type: ignore[no-any-return]
        soft = _indicator(rho, (radii[i] + (weights @ d[i * n:(i + 1) * n]).astype(np.float32)).reshape(rho.shape), h)
        return soft, _kernels.gaussian_filter_nearest_at(soft, sig, use).astype(np.float64)

    def evaluate(d: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], Any]:
        (s_in, m_in), (s_out, m_out) = _both(lambda i: surface(i, d), 0, 1, pool)
        coef, x3, fitted = _values(m_in, m_out, data)
        r = (data - fitted) / noise
        chi2 = float(r @ r)
        return chi2, r, _State(chi2, r, coef, x3, s_in, s_out)

    d, _ = _rind_nodes.fit_node_offsets(w_use, evaluate, slopes_at, (float(st.r @ st.r), st.r, st), pool, iterations,
                                        refresh)
    return d, weights


def offsets_near_layer(coef: NDArray[np.float64], d: NDArray[np.float64], rho: NDArray[np.floating],
                       u: NDArray[np.float64], y_t: NDArray[np.float32], pool: Executor | None,
                       radius: LayerRadius | None = None) -> NDArray[np.float64]:
    """The layer's node offsets ``d`` read at the voxels of the box (flat, :func:`._rind_nodes.node_weights`' bilinear
    weights) where they can change :func:`._rind_setup._inside_corrected`'s mask of the layer's surface ``coef``
    (``rho`` the voxels' distances, ``u`` their directions, ``y_t`` the float32 terms), 0 elsewhere.  A voxel's offset
    is a convex combination of four nodes', so within ``max |d|`` of 0: where the float32 radius lies further than
    that (and ``_MARGIN_MM``) from the voxel's distance, the offset moves neither the voxel's side of the surface nor
    it into the float64 band; the mask is the one of the whole box's offsets, bit for bit (1.65: the weights of
    ~a tenth of the box's voxels).  ``radius``: ``coef``'s float32 radius (:class:`._rind_setup.LayerRadius`) to
    share with :func:`._rind_setup._inside_corrected` (1.66), or None."""
    rr = rho.reshape(-1)
    approx = (LayerRadius(coef, y_t) if radius is None else radius).get()
    near = np.flatnonzero(np.abs(rr - approx) <= float(np.abs(d).max(initial=0.0)) + _MARGIN_MM)
    out = np.zeros(rr.shape)
    if near.size:
        out[near] = _rind_nodes.node_weights(u.reshape(-1, 3)[near], pool=pool) @ d
    return out


#: the margin (mm) beyond the largest node offset within which :func:`offsets_near_layer` reads the offsets (float
#: rounding of the radius and the offsets is ~1e-5 mm; the float64 band of ``_inside_corrected`` 1e-3 mm)
_MARGIN_MM = 0.01


def node_offsets_on_blocks(x: NDArray[np.float64], k: int, g: Grid, u_pixels: NDArray[np.float64],
                           pool: Executor | None, rho: NDArray[np.floating], y_t: NDArray[np.float32],
                           radius: LayerRadius | None = None) -> NDArray[np.float64]:
    """The layer's radius correction per pixel of the box (flat; where it can change the mask,
    :func:`offsets_near_layer`), its node offsets fitted on the blocks ``g`` from the surfaces ``x`` (rendered
    there first); ``u_pixels``, ``rho``, ``y_t``: the pixels' unit directions (the box x 3), distances and float32 terms."""
    from ._rind_surfaces import _State, _render

    gn = _rind_gn.kernels()
    if gn is not None:
        ev = _rind_gn.Evaluator(gn, g.rho, g.y_t, g.h, g.sig, g.use, g.data, g.noise, restrict=False)
        chi2, r, coef, x3, s_in, s_out = ev.render(x, None, pool)
    else:
        coef, x3, fitted, s_in, s_out = _render(x, k, g.rho, g.y_t, g.use, g.h, g.sig, g.data, None, pool)
        r = (g.data - fitted) / g.noise
        chi2 = float(r @ r)
    st = _State(chi2, r, coef, x3, s_in, s_out)
    fast = None if gn is None else _rind_gn.NodeSurfaces(gn, g.rho, g.h, g.sig, g.use)
    d, _ = fit_offsets(x, k, st, g.rho, g.y_t, g.u, g.use, g.h, g.sig, g.data, g.noise, pool, None, fast,
                       C.LESION_RIND_NODES_BLOCK_ITERATIONS, C.LESION_RIND_NODES_BLOCK_REFRESH)
    return offsets_near_layer(x[k:], d[d.size // 2:], rho, u_pixels, y_t, pool, radius)

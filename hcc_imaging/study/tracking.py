"""Lesion tracking across time points: propose which follow-up lesion is which baseline lesion.

The proposal is made from three pieces of evidence, on a common grid (the baseline's):

1. **registration** - ``transform`` maps *baseline* LPS points to *follow-up* LPS points (the
   ITK convention for a registration with fixed = baseline, moving = follow-up, as produced by
   :mod:`hcc_imaging.segment.register`).  It may be a ``Registration`` from
   :func:`hcc_imaging.segment.register.register_volumes`, a SimpleITK transform, any callable taking
   and returning an ``(n, 3)`` array of LPS mm, an object with a ``transform`` attribute holding
   either, or None (identity: the scans share a frame of reference and the patient did not move).
   The follow-up label map is pulled onto the baseline grid through it (nearest neighbour).
2. **overlap** - for each baseline lesion ``A`` and follow-up lesion ``B``:
   ``containment = |A and B| / min(|A|, |B|)`` (links a lesion that shrank inside its old
   extent, or a fragment of a split), with Dice ``2|A and B| / (|A| + |B|)`` and IoU reported.
   A pair is linked when containment >= ``min_containment_frac``.
3. **distance** - lesions left without any overlap link are paired when their centroids
   (after registration) are within ``max_centroid_distance_mm`` and each is the other's
   nearest (a small lesion that moved more than its size).  A follow-up lesion the baseline grid
   does not hold (less than :data:`MIN_HELD_FRAC` of it lands on baseline voxel centres: smaller
   than a coarser baseline's voxels) keeps its own volume and centroid (distances measured in
   follow-up space, to the baseline centroids mapped there); a proposal resting on it is flagged
   ``needs_review``, and it is "outside the baseline field of view" only when its centroid is.

Linked lesions form connected groups, classified as ``match`` (1 -> 1), ``split`` (1 -> n),
``merge`` (n -> 1), ``complex`` (n -> m, the reader decides), ``disappeared`` (1 -> 0) or
``new`` (0 -> 1).  :func:`assign_tracking_uids` turns the proposal into per-follow-up-lesion
assignments - the tracking UID follows the lesion (fragments of a split keep the parent's
UID; a merged lesion continues the largest of the baseline lesions it absorbed and links to
all of them; a new lesion gets a new UID) - which the reader confirms or corrects
(:func:`correct_assignment`) and stores with
:meth:`hcc_imaging.study.reads.ReaderSession.confirm_tracking`.

Without masks, lesions given as centroids + volumes (:class:`LesionBlob`) are modelled as
spheres of equal volume; the overlap of two spheres is computed exactly.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import HccImagingError
from ..volume import LabelVolume
from .constants import MAX_CENTROID_DISTANCE_MM, MIN_CONTAINMENT_FRAC

__all__ = [
    "TrackingError",
    "MatchKind",
    "LesionBlob",
    "PairScore",
    "MatchProposal",
    "TrackingProposal",
    "FollowupAssignment",
    "propose_matches",
    "assign_tracking_uids",
    "correct_assignment",
    "as_point_mapping",
    "sphere_intersection_mm3",
    "MIN_HELD_FRAC",
]

PointMap = Callable[[NDArray[np.float64]], NDArray[np.float64]]

#: Baseline voxels processed per chunk when pulling labels through a Python callable.
_CHUNK_VOXELS = 2_000_000

#: A follow-up lesion of which less than this fraction of its own volume lands on baseline voxel
#: centres when pulled onto the baseline grid is "not held" by that grid (a lesion smaller than the
#: baseline's voxels, on a finer follow-up grid): it keeps its own volume, its centroid distances are
#: measured in follow-up space, and a link resting on it needs review.
MIN_HELD_FRAC = 0.5


class TrackingError(HccImagingError, ValueError):
    """Tracking input is unusable (no lesions, wrong types, a transform that fails)."""


class MatchKind(enum.StrEnum):
    """How a group of linked baseline and follow-up lesions is classified."""

    MATCH = "match"
    SPLIT = "split"
    MERGE = "merge"
    COMPLEX = "complex"
    DISAPPEARED = "disappeared"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class LesionBlob:
    """A lesion known only by its centroid (LPS mm) and volume (mm3)."""

    label: str
    centroid_lps: tuple[float, float, float]
    volume_mm3: float

    def __post_init__(self) -> None:
        c = tuple(float(x) for x in self.centroid_lps)
        if len(c) != 3 or not all(math.isfinite(x) for x in c):
            raise TrackingError(f"lesion {self.label!r}: centroid_lps must be 3 finite LPS coordinates in mm, got {self.centroid_lps!r}.")
        v = float(self.volume_mm3)
        if not math.isfinite(v) or v <= 0:
            raise TrackingError(f"lesion {self.label!r}: volume_mm3 must be > 0, got {self.volume_mm3!r}.")
        object.__setattr__(self, "centroid_lps", c)
        object.__setattr__(self, "volume_mm3", v)

    @property
    def radius_mm(self) -> float:
        """Radius of the sphere of the same volume."""
        return (3.0 * self.volume_mm3 / (4.0 * math.pi)) ** (1.0 / 3.0)


@dataclass(frozen=True, slots=True)
class PairScore:
    """Overlap and distance of one baseline / follow-up pair (baseline space)."""

    baseline: str
    followup: str
    intersection_mm3: float
    dice: float
    iou: float
    containment: float
    centroid_distance_mm: float


@dataclass(frozen=True, slots=True)
class MatchProposal:
    """One group of linked lesions; scores are for the group as a whole (unions)."""

    kind: MatchKind
    baseline: tuple[str, ...]
    followup: tuple[str, ...]
    dice: float | None
    iou: float | None
    centroid_distance_mm: float | None
    reason: str
    #: the link rests on a follow-up lesion the baseline grid cannot hold (less than
    #: :data:`MIN_HELD_FRAC` of it lands on baseline voxel centres: smaller than the baseline's
    #: voxels, e.g. a 4 mm lesion between 5 mm slices): matched on centroid distance; a reader checks it.
    #: Also every ``complex`` group (n -> m).  ``study track --confirm`` refuses to store such a
    #: proposal unless ``--accept-flagged`` says the reader has looked at it.
    needs_review: bool = False


@dataclass(frozen=True, slots=True)
class TrackingProposal:
    """All groups, plus every scored pair and the lesion sizes (mm3) that were used."""

    proposals: tuple[MatchProposal, ...]
    pairs: tuple[PairScore, ...]
    baseline_volume_mm3: Mapping[str, float]
    followup_volume_mm3: Mapping[str, float]

    def by_kind(self, kind: MatchKind | str) -> list[MatchProposal]:
        k = MatchKind(kind)
        return [p for p in self.proposals if p.kind is k]

    def for_followup(self, label: str) -> MatchProposal:
        for p in self.proposals:
            if label in p.followup:
                return p
        raise KeyError(label)

    def for_baseline(self, label: str) -> MatchProposal:
        for p in self.proposals:
            if label in p.baseline:
                return p
        raise KeyError(label)


@dataclass(frozen=True, slots=True)
class FollowupAssignment:
    """A follow-up lesion's link to a tracked lesion (what the reader confirms).

    ``tracking_uid`` None means a new lesion (``relation='new'``).  A merged lesion has one
    assignment per baseline lesion it absorbed (same ``followup_label``); ``primary`` marks the
    one whose tracking UID it continues.  ``needs_review`` flags complex groups.
    """

    followup_label: str
    tracking_uid: str | None
    relation: str
    baseline_label: str | None = None
    primary: bool = True
    dice: float | None = None
    centroid_distance_mm: float | None = None
    needs_review: bool = False
    lesion_id: str | None = None


# ------------------------------------------------------------------------------------------
def as_point_mapping(transform: Any) -> PointMap | None:
    """Normalise ``transform`` to a function ``(n, 3) baseline LPS -> (n, 3) follow-up LPS``."""
    if transform is None:
        return None
    if hasattr(transform, "map_to_moving"):  # hcc_imaging.segment.register.Registration
        reg = transform

        def reg_map(points: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(reg.map_to_moving(points), dtype=float).reshape(-1, 3)

        return reg_map
    inner = getattr(transform, "transform", None)
    if inner is not None and not callable(transform) and not hasattr(transform, "TransformPoint"):
        transform = inner
    if hasattr(transform, "TransformPoint"):
        t = transform

        def sitk_map(points: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.array([t.TransformPoint(tuple(float(c) for c in p)) for p in points], dtype=float).reshape(-1, 3)

        return sitk_map
    if callable(transform):
        fn = transform

        def call_map(points: NDArray[np.float64]) -> NDArray[np.float64]:
            out = np.asarray(fn(np.asarray(points, dtype=float)), dtype=float)
            if out.shape != np.shape(points):
                raise TrackingError(
                    f"the transform returned shape {out.shape} for {np.shape(points)} input points; it must map an "
                    "(n, 3) array of baseline LPS points to an (n, 3) array of follow-up LPS points."
                )
            return out

        return call_map
    raise TrackingError(
        f"transform of type {type(transform).__name__} is not usable; pass a SimpleITK transform, a callable mapping "
        "(n, 3) baseline LPS points to follow-up LPS points, or None."
    )


def _pull_labels(baseline: LabelVolume, followup: LabelVolume, transform: Any) -> NDArray[np.int64]:
    """Follow-up labels sampled at every baseline voxel centre (nearest neighbour)."""
    if transform is None:
        if baseline.geometry.equals(followup.geometry):
            return np.asarray(followup.array, dtype=np.int64)
        return np.asarray(followup.resample_to(baseline.geometry).array, dtype=np.int64)
    if hasattr(transform, "resample_labels") and hasattr(transform, "map_to_moving"):  # segment.register.Registration
        return np.asarray(transform.resample_labels(followup, baseline).array, dtype=np.int64)
    inner = getattr(transform, "transform", None)
    sitk_like = hasattr(transform, "TransformPoint") or (inner is not None and hasattr(inner, "TransformPoint"))
    if sitk_like:
        from ..volume import resample_labels

        t = transform if hasattr(transform, "TransformPoint") else inner
        return np.asarray(resample_labels(followup, baseline.geometry, transform=t).array, dtype=np.int64)
    mapping = as_point_mapping(transform)
    if mapping is None:  # pragma: no cover - transform is not None here
        return np.asarray(followup.resample_to(baseline.geometry).array, dtype=np.int64)
    shape = baseline.shape
    out = np.zeros(shape, dtype=np.int64)
    per_slice = shape[1] * shape[2]
    step = max(1, _CHUNK_VOXELS // per_slice)
    jj, ii = np.meshgrid(np.arange(shape[1]), np.arange(shape[2]), indexing="ij")
    fu_arr = np.asarray(followup.array)
    fu_shape = np.array(fu_arr.shape)
    for k0 in range(0, shape[0], step):
        k1 = min(shape[0], k0 + step)
        kk = np.repeat(np.arange(k0, k1), per_slice)
        idx = np.stack([kk, np.tile(jj.ravel(), k1 - k0), np.tile(ii.ravel(), k1 - k0)], axis=1)
        pts = baseline.geometry.index_to_lps(idx)
        fidx = np.rint(followup.geometry.lps_to_index(mapping(pts))).astype(np.int64)
        ok = np.all((fidx >= 0) & (fidx < fu_shape), axis=1)
        vals = np.zeros(len(idx), dtype=np.int64)
        vals[ok] = fu_arr[fidx[ok, 0], fidx[ok, 1], fidx[ok, 2]]
        out[k0:k1] = vals.reshape(k1 - k0, shape[1], shape[2])
    return out


def _names(lv: LabelVolume, present: Sequence[int]) -> dict[int, str]:
    return {v: str(lv.labels.get(v, v)) for v in present}


def _centroids(arr: NDArray[np.int64], lv: LabelVolume, labels: Sequence[int]) -> dict[int, NDArray[np.float64]]:
    from scipy import ndimage

    if not labels:
        return {}
    cs = ndimage.center_of_mass(np.ones(arr.shape), arr, labels)
    return {lab: lv.geometry.index_to_lps(np.asarray(c, dtype=float)) for lab, c in zip(labels, cs, strict=True)}


def sphere_intersection_mm3(r1: float, r2: float, d: float) -> float:
    """Exact volume (mm3) of the intersection of two spheres of radii r1, r2 (mm) at distance d.

    ``pi (r1 + r2 - d)^2 (d^2 + 2 d r2 - 3 r2^2 + 2 d r1 + 6 r1 r2 - 3 r1^2) / (12 d)`` for
    ``|r1 - r2| < d < r1 + r2`` (lens volume); the smaller sphere when one contains the other.
    """
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return 4.0 / 3.0 * math.pi * min(r1, r2) ** 3
    return (math.pi * (r1 + r2 - d) ** 2 * (d * d + 2 * d * r2 - 3 * r2 * r2 + 2 * d * r1 + 6 * r1 * r2 - 3 * r1 * r1)
            / (12.0 * d))


@dataclass(frozen=True, slots=True)
class _Unheld:
    """Follow-up lesions the baseline grid does not hold (see :data:`MIN_HELD_FRAC`)."""

    #: label -> fraction of its own volume that landed on baseline voxel centres
    held: dict[str, float]
    #: label -> its centroid on its own grid (follow-up LPS mm)
    centroid_fu: dict[str, NDArray[np.float64]]
    #: baseline label -> its centroid mapped to follow-up LPS
    baseline_fu: dict[str, NDArray[np.float64]]
    #: label -> whether its centroid lies inside the baseline field mapped to the follow-up
    in_field: dict[str, bool]
    #: the baseline grid's spacing (mm)
    spacing: tuple[float, ...]


def _score_masks(baseline: LabelVolume, followup: LabelVolume, transform: Any) -> tuple[
        dict[str, float], dict[str, float], dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]],
        dict[tuple[str, str], float], _Unheld | None]:
    b = np.asarray(baseline.array, dtype=np.int64)
    try:
        f = _pull_labels(baseline, followup, transform)
    except TrackingError:
        raise
    except Exception as err:  # a user transform may raise anything
        raise TrackingError(f"the transform failed while mapping baseline points to the follow-up: {err}") from err
    vv = baseline.geometry.voxel_volume_mm3
    b_labels = baseline.present_labels()
    f_present_orig = followup.present_labels()
    f_labels = sorted(int(v) for v in np.unique(f) if v != 0)
    bn, fn_ = _names(baseline, b_labels), _names(followup, f_present_orig)
    b_sizes = np.bincount(b.ravel())
    f_sizes = np.bincount(f.ravel())
    b_vol = {bn[v]: float(b_sizes[v]) * vv for v in b_labels}
    f_vol = {fn_[v]: (float(f_sizes[v]) * vv if v < len(f_sizes) else 0.0) for v in f_present_orig}
    bc = {bn[k]: v for k, v in _centroids(b, baseline, b_labels).items()}
    fc = {fn_[k]: v for k, v in _centroids(f, baseline, f_labels).items()}
    # a follow-up lesion on a finer grid may fall between the baseline's voxel centres (a 4 mm lesion
    # between 5 mm slices): pulled, it has (almost) no voxels.  Such a lesion keeps its own volume
    # and is placed by its own centroid (in follow-up space), never taken for one outside the field
    fa = np.asarray(followup.array)
    own = np.bincount(fa.ravel().astype(np.int64)) if fa.size else np.zeros(1, np.int64)
    fvv = followup.geometry.voxel_volume_mm3
    true_vol = {fn_[v]: float(own[v]) * fvv for v in f_present_orig if v < len(own)}
    held = {f: (f_vol[f] / true_vol[f] if true_vol.get(f) else 1.0) for f in f_vol}
    unheld_f = [x for x in f_vol if held[x] < MIN_HELD_FRAC]
    inter = _inter_of(b, f, bn, fn_, vv)
    if not unheld_f:
        return b_vol, f_vol, bc, fc, inter, None
    try:
        mapping = as_point_mapping(transform)
        inv = {name: v for v, name in fn_.items()}
        fc_fu = {k: v for k, v in _centroids(fa.astype(np.int64), followup, [inv[f] for f in unheld_f]).items()}
        centroid_fu = {fn_[k]: v for k, v in fc_fu.items()}
        b_pts = np.array([bc[x] for x in b_vol if x in bc], float).reshape(-1, 3)
        n = np.asarray(baseline.shape, float)
        corners = np.array([[a, bb, c] for a in (-0.5, n[0] - 0.5) for bb in (-0.5, n[1] - 0.5) for c in (-0.5, n[2] - 0.5)])
        pts = np.vstack([b_pts, baseline.geometry.index_to_lps(corners)])
        if mapping is not None:
            pts = mapping(pts)
    except TrackingError:
        raise
    except Exception as err:  # a user transform may raise anything
        raise TrackingError(f"the transform failed while mapping baseline points to the follow-up: {err}") from err
    baseline_fu = {x: pts[i] for i, x in enumerate(x for x in b_vol if x in bc)}
    lo, hi = pts[len(b_pts):].min(axis=0), pts[len(b_pts):].max(axis=0)
    in_field = {f: bool(np.all(c >= lo - 1e-6) and np.all(c <= hi + 1e-6)) for f, c in centroid_fu.items()}
    for x in unheld_f:  # scored at its own volume (its few pulled voxels, if any, still overlap)
        f_vol[x] = true_vol[x]
    unheld = _Unheld({x: held[x] for x in unheld_f}, centroid_fu, baseline_fu, in_field,
                     tuple(float(v) for v in baseline.spacing))
    return b_vol, f_vol, bc, fc, inter, unheld


def _inter_of(b: NDArray[np.int64], f: NDArray[np.int64], bn: Mapping[int, str], fn_: Mapping[int, str],
             vv: float) -> dict[tuple[str, str], float]:
    """Overlap (mm3) of every baseline / follow-up label pair on the baseline grid."""
    both = (b != 0) & (f != 0)
    inter: dict[tuple[str, str], float] = {}
    if both.any():
        codes = b[both] * (int(f.max()) + 1) + f[both]
        vals, counts = np.unique(codes, return_counts=True)
        for code, cnt in zip(vals, counts, strict=True):
            bl, fl = divmod(int(code), int(f.max()) + 1)
            inter[(bn[bl], fn_[fl])] = float(cnt) * vv
    return inter


def _score_blobs(baseline: Sequence[LesionBlob], followup: Sequence[LesionBlob], transform: Any) -> tuple[
        dict[str, float], dict[str, float], dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]],
        dict[tuple[str, str], float]]:
    mapping = as_point_mapping(transform)
    bpts = np.array([bl.centroid_lps for bl in baseline], dtype=float).reshape(-1, 3)
    if mapping is not None and len(bpts):
        try:
            bpts = mapping(bpts)
        except TrackingError:
            raise
        except Exception as err:
            raise TrackingError(f"the transform failed while mapping baseline centroids: {err}") from err
    # compare in follow-up space (baseline centroids mapped forward)
    bc = {bl.label: bpts[i] for i, bl in enumerate(baseline)}
    fc = {fl.label: np.asarray(fl.centroid_lps, dtype=float) for fl in followup}
    inter: dict[tuple[str, str], float] = {}
    for bl in baseline:
        for fl in followup:
            d = float(np.linalg.norm(bc[bl.label] - fc[fl.label]))
            v = sphere_intersection_mm3(bl.radius_mm, fl.radius_mm, d)
            if v > 0:
                inter[(bl.label, fl.label)] = v
    return ({bl.label: bl.volume_mm3 for bl in baseline}, {fl.label: fl.volume_mm3 for fl in followup}, bc, fc, inter)


def propose_matches(
    baseline: LabelVolume | Sequence[LesionBlob],
    followup: LabelVolume | Sequence[LesionBlob],
    *,
    transform: Any = None,
    min_containment_frac: float = MIN_CONTAINMENT_FRAC,
    max_centroid_distance_mm: float = MAX_CENTROID_DISTANCE_MM,
) -> TrackingProposal:
    """Propose matches between a follow-up's lesions and the baseline's (see module docstring).

    Parameters
    ----------
    baseline, followup : LabelVolume or sequence of LesionBlob
        One label per lesion (label names from ``LabelVolume.labels``, else the label value).
        Both must be of the same kind.
    transform : SimpleITK transform, callable, object with ``.transform``, or None
        Maps baseline LPS points to follow-up LPS points.
    min_containment_frac : float
        Overlap link threshold (fraction of the smaller lesion).
    max_centroid_distance_mm : float
        Distance link threshold for lesions without overlap (mm).

    Returns
    -------
    TrackingProposal
    """
    if not 0.0 < min_containment_frac <= 1.0:
        raise TrackingError(f"min_containment_frac must be in (0, 1], got {min_containment_frac}.")
    if not max_centroid_distance_mm >= 0.0:
        raise TrackingError(f"max_centroid_distance_mm must be >= 0 mm, got {max_centroid_distance_mm}.")
    if isinstance(baseline, LabelVolume) and isinstance(followup, LabelVolume):
        b_vol, f_vol, bc, fc, inter, unheld = _score_masks(baseline, followup, transform)
    elif not isinstance(baseline, LabelVolume) and not isinstance(followup, LabelVolume):
        b_list, f_list = list(baseline), list(followup)
        for x in b_list + f_list:
            if not isinstance(x, LesionBlob):
                raise TrackingError(f"expected LesionBlob items (centroid + volume), got {type(x).__name__}.")
        for name, lst in (("baseline", b_list), ("follow-up", f_list)):
            labels = [x.label for x in lst]
            if len(set(labels)) != len(labels):
                raise TrackingError(f"{name} lesion labels are not unique: {labels}; give each lesion its own label.")
        b_vol, f_vol, bc, fc, inter = _score_blobs(b_list, f_list, transform)
        unheld = None
    else:
        raise TrackingError(
            "baseline and follow-up must both be LabelVolumes or both be sequences of LesionBlob; got "
            f"{type(baseline).__name__} and {type(followup).__name__}."
        )

    small = unheld.held if unheld is not None else {}

    def dist(bl: str, fl: str) -> float:
        if unheld is not None and fl in small:  # placed by its own centroid, in follow-up space
            if bl in unheld.baseline_fu and fl in unheld.centroid_fu:
                return float(np.linalg.norm(unheld.baseline_fu[bl] - unheld.centroid_fu[fl]))
            return math.inf
        if bl in bc and fl in fc:
            return float(np.linalg.norm(bc[bl] - fc[fl]))
        return math.inf

    pairs: list[PairScore] = []
    edges: set[tuple[str, str]] = set()
    for (bl, fl), v in sorted(inter.items()):
        vb, vf = b_vol[bl], f_vol.get(fl, 0.0)
        if vf <= 0:
            continue
        union = vb + vf - v
        cont = v / min(vb, vf)
        pairs.append(PairScore(bl, fl, v, 2 * v / (vb + vf), v / union if union > 0 else 0.0, cont, dist(bl, fl)))
        if cont >= min_containment_frac:
            edges.add((bl, fl))
    # distance fallback for lesions without any overlap link: mutual nearest within the limit
    lone_b = [b for b in b_vol if not any(e[0] == b for e in edges)]
    # (a lesion the baseline grid does not hold is placed by its centroid, unless it lies outside the field)
    lone_f = [f for f in f_vol if f_vol[f] > 0 and not any(e[1] == f for e in edges)
              and (unheld is None or unheld.in_field.get(f, True))]
    if lone_b and lone_f:
        d = np.array([[dist(b, f) for f in lone_f] for b in lone_b])
        for i, b in enumerate(lone_b):
            j = int(np.argmin(d[i]))
            if d[i, j] <= max_centroid_distance_mm and int(np.argmin(d[:, j])) == i:
                edges.add((b, lone_f[j]))
                if (b, lone_f[j]) not in inter:
                    pairs.append(PairScore(b, lone_f[j], 0.0, 0.0, 0.0, 0.0, float(d[i, j])))

    # connected components (union-find over "b:"/"f:" nodes)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for b in b_vol:
        find("b:" + b)
    for f in f_vol:
        find("f:" + f)
    for b, f in edges:
        parent[find("b:" + b)] = find("f:" + f)
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for b in b_vol:
        groups.setdefault(find("b:" + b), ([], []))[0].append(b)
    for f in f_vol:
        groups.setdefault(find("f:" + f), ([], []))[1].append(f)

    proposals = []
    for bs, fs in groups.values():
        bs, fs = sorted(bs), sorted(fs)
        kind = (MatchKind.MATCH if len(bs) == 1 and len(fs) == 1 else MatchKind.SPLIT if len(bs) == 1 and len(fs) > 1
                else MatchKind.MERGE if len(bs) > 1 and len(fs) == 1 else MatchKind.COMPLEX if bs and fs
                else MatchKind.DISAPPEARED if bs else MatchKind.NEW)
        if bs and fs:
            i_sum = sum(inter.get((b, f), 0.0) for b in bs for f in fs)
            vb, vf = sum(b_vol[b] for b in bs), sum(f_vol[f] for f in fs)
            dice = 2 * i_sum / (vb + vf)
            iou = i_sum / (vb + vf - i_sum)
            cb = sum(b_vol[b] * bc[b] for b in bs if b in bc) / max(vb, 1e-12)
            fw = [f for f in fs if f in fc]
            cf = sum(f_vol[f] * fc[f] for f in fw) / max(sum(f_vol[f] for f in fw), 1e-12)
            d_mm = float(np.linalg.norm(cb - cf)) if fw else None
            tiny = [f for f in fs if f in small]
            if tiny:  # its centroid on its own grid (the pulled one rests on a few voxels, or none)
                d_mm = min(dist(b, f) for b in bs for f in fs)
            reason = (f"{kind.value}: overlap Dice {dice:.2f}" + (f", centroids {d_mm:.1f} mm apart" if d_mm is not None else "")
                      + ("" if i_sum > 0 else f" (no overlap; nearest within {max_centroid_distance_mm:g} mm)")
                      + "".join(f"; {_too_small(f, small[f], unheld)}" for f in tiny if unheld is not None))
            # a complex group (n -> m) is the reader's to sort out: which follow-up lesion continues which
            proposals.append(MatchProposal(kind, tuple(bs), tuple(fs), dice, iou, d_mm, reason,
                                           needs_review=bool(tiny) or kind is MatchKind.COMPLEX))
        elif bs:
            proposals.append(MatchProposal(kind, tuple(bs), (), None, None, None,
                                           "no follow-up lesion overlaps it or lies within "
                                           f"{max_centroid_distance_mm:g} mm: disappeared (or not segmented)"))
        else:
            f = fs[0]
            outside = f_vol[f] <= 0 or (unheld is not None and not unheld.in_field.get(f, True))
            why = ("outside the baseline field of view after registration" if outside else
                   f"no baseline lesion overlaps it or lies within {max_centroid_distance_mm:g} mm")
            if f in small and not outside and unheld is not None:
                why += f"; {_too_small(f, small[f], unheld)}"
            proposals.append(MatchProposal(kind, (), tuple(fs), None, None, None, f"new lesion: {why}",
                                           needs_review=f in small and not outside))
    order = {k: i for i, k in enumerate(MatchKind)}
    proposals.sort(key=lambda p: (order[p.kind], p.baseline, p.followup))
    return TrackingProposal(tuple(proposals), tuple(sorted(pairs, key=lambda p: (p.baseline, p.followup))),
                            dict(b_vol), dict(f_vol))


def _too_small(f: str, held: float, unheld: _Unheld) -> str:
    sp = " x ".join(f"{x:g}" for x in unheld.spacing)
    return (f"only {held:.0%} of {f} lands on the baseline grid's voxel centres ({sp} mm voxels: a lesion smaller "
            "than they can hold, or partly outside the baseline field): placed by its own centroid; check it")


def assign_tracking_uids(
    proposal: TrackingProposal, baseline_uids: Mapping[str, str], *, new_lesion_prefix: str = "N",
) -> list[FollowupAssignment]:
    """Tracking UID per follow-up lesion from a proposal (the reader then confirms/corrects).

    Parameters
    ----------
    baseline_uids : mapping
        Baseline lesion label -> its tracking UID.
    new_lesion_prefix : str
        New lesions get suggested lesion ids ``N1``, ``N2``, ... (in label order).
    """
    missing = sorted({b for p in proposal.proposals for b in p.baseline} - set(baseline_uids))
    if missing:
        raise TrackingError(f"no tracking UID for baseline lesion(s) {missing}; pass baseline_uids for every baseline label.")
    pair = {(p.baseline, p.followup): p for p in proposal.pairs}
    out: list[FollowupAssignment] = []
    n_new = 0
    for p in proposal.proposals:
        if p.kind is MatchKind.MATCH:
            ps = pair.get((p.baseline[0], p.followup[0]))
            out.append(FollowupAssignment(p.followup[0], baseline_uids[p.baseline[0]], "match", p.baseline[0], True,
                                          p.dice, p.centroid_distance_mm, needs_review=p.needs_review))
        elif p.kind is MatchKind.SPLIT:
            for f in p.followup:
                ps = pair.get((p.baseline[0], f))
                out.append(FollowupAssignment(f, baseline_uids[p.baseline[0]], "split", p.baseline[0], True,
                                              ps.dice if ps else None, ps.centroid_distance_mm if ps else None,
                                              needs_review=p.needs_review))
        elif p.kind is MatchKind.MERGE:
            primary = max(p.baseline, key=lambda b: (proposal.baseline_volume_mm3[b], b))
            for b in sorted(p.baseline, key=lambda b: b != primary):
                ps = pair.get((b, p.followup[0]))
                out.append(FollowupAssignment(p.followup[0], baseline_uids[b], "merge", b, b == primary,
                                              ps.dice if ps else None, ps.centroid_distance_mm if ps else None,
                                              needs_review=p.needs_review))
        elif p.kind is MatchKind.COMPLEX:
            for f in p.followup:
                cands = [x for x in proposal.pairs if x.followup == f and x.baseline in p.baseline]
                best = max(cands, key=lambda x: (x.intersection_mm3, -x.centroid_distance_mm)) if cands else None
                b = best.baseline if best else p.baseline[0]
                out.append(FollowupAssignment(f, baseline_uids[b], "match", b, True, best.dice if best else None,
                                              best.centroid_distance_mm if best else None, needs_review=True))
        elif p.kind is MatchKind.NEW:
            n_new += 1
            out.append(FollowupAssignment(p.followup[0], None, "new", None, True, None, None,
                                          needs_review=p.needs_review, lesion_id=f"{new_lesion_prefix}{n_new}"))
    return out


def correct_assignment(
    assignments: Sequence[FollowupAssignment], followup_label: str, *, tracking_uid: str | None,
    relation: str = "match", lesion_id: str | None = None,
) -> list[FollowupAssignment]:
    """The reader's correction: ``followup_label`` continues ``tracking_uid`` (None = new lesion).

    Replaces every assignment of that follow-up label by one confirmed link.
    """
    if not any(a.followup_label == followup_label for a in assignments):
        raise TrackingError(f"follow-up label {followup_label!r} is not among the assignments "
                            f"{sorted({a.followup_label for a in assignments})}.")
    if tracking_uid is None:
        relation = "new"
    elif relation == "new":
        raise TrackingError(f"follow-up label {followup_label!r}: relation 'new' cannot continue tracking UID {tracking_uid}.")
    kept = [a for a in assignments if a.followup_label != followup_label]
    first = next(a for a in assignments if a.followup_label == followup_label)
    fixed = dataclasses.replace(first, tracking_uid=tracking_uid, relation=relation, primary=True, needs_review=False,
                                baseline_label=first.baseline_label if tracking_uid == first.tracking_uid else None,
                                lesion_id=lesion_id if tracking_uid is None else None)
    return kept + [fixed]

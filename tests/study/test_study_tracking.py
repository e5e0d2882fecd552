"""Lesion tracking on phantom label maps with known displacement, shrinkage, split, merge,
disappearance and a new lesion; the tracking UID follows the lesion into the store."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from hcc_imaging.errors import StoreError
from hcc_imaging.study import ReaderSession, Store
from hcc_imaging.study.tracking import (
    LesionBlob,
    MatchKind,
    TrackingError,
    assign_tracking_uids,
    correct_assignment,
    propose_matches,
    sphere_intersection_mm3,
)
from hcc_imaging.volume import LabelVolume

SPACING = (2.5, 0.8, 0.8)  # slice, row, col (mm)
SHAPE = (40, 160, 160)
ORIGIN = (-60.0, -60.0, 0.0)  # LPS of voxel (0, 0, 0)


_CACHE: dict[object, LabelVolume] = {}


def _ellipsoids(items: Sequence[tuple[int, tuple[float, float, float], tuple[float, float, float]]], shift_lps=(0.0, 0.0, 0.0),
                names: dict[int, str] | None = None) -> LabelVolume:
    """Label map of ellipsoids: (label, centre LPS mm, radii along x, y, z mm), all shifted by shift_lps."""
    key = (tuple(items), tuple(shift_lps), tuple(sorted((names or {}).items())))
    if key not in _CACHE:
        _CACHE[key] = _build(items, shift_lps, names)
    return _CACHE[key]


def _build(items: Sequence[tuple[int, tuple[float, float, float], tuple[float, float, float]]], shift_lps: Sequence[float],
           names: dict[int, str] | None) -> LabelVolume:
    k, j, i = np.indices(SHAPE)
    x = ORIGIN[0] + i * SPACING[2]
    y = ORIGIN[1] + j * SPACING[1]
    z = ORIGIN[2] + k * SPACING[0]
    arr = np.zeros(SHAPE, dtype=np.int16)
    for label, c, r in items:
        cx, cy, cz = (c[m] + shift_lps[m] for m in range(3))
        inside = ((x - cx) / r[0]) ** 2 + ((y - cy) / r[1]) ** 2 + ((z - cz) / r[2]) ** 2 <= 1.0
        arr[inside] = label
    return LabelVolume.create(arr, SPACING, origin=ORIGIN, labels=names or {lab: f"L{lab}" for lab, _, _ in items})


# Baseline: L1 big (shrinks), L2 (splits), L3 + L4 close together (merge), L5 (disappears).
BASELINE = [
    (1, (-30.0, -30.0, 50.0), (12.0, 12.0, 12.0)),
    (2, (25.0, -30.0, 50.0), (14.0, 7.0, 8.0)),
    (3, (-30.0, 25.0, 50.0), (7.0, 7.0, 7.0)),
    (4, (-13.0, 25.0, 50.0), (6.0, 6.0, 6.0)),
    (5, (30.0, 30.0, 60.0), (5.0, 5.0, 5.0)),
]
FOLLOWUP = [
    (1, (-30.0, -30.0, 50.0), (6.0, 6.0, 6.0)),      # F1: L1 shrunk to half its diameter
    (2, (15.0, -30.0, 50.0), (5.0, 6.0, 6.0)),       # F2 + F3: the two ends of L2
    (3, (35.0, -30.0, 50.0), (5.0, 6.0, 6.0)),
    (4, (-21.5, 25.0, 50.0), (16.0, 8.0, 7.0)),      # F4: one mass over L3 and L4
    (5, (40.0, 5.0, 20.0), (4.0, 4.0, 4.0)),         # F5: new, far from everything
]
FU_NAMES = {lab: f"F{lab}" for lab, _, _ in FOLLOWUP}
EXPECTED = {
    (MatchKind.MATCH, ("L1",), ("F1",)),
    (MatchKind.SPLIT, ("L2",), ("F2", "F3")),
    (MatchKind.MERGE, ("L3", "L4"), ("F4",)),
    (MatchKind.DISAPPEARED, ("L5",), ()),
    (MatchKind.NEW, (), ("F5",)),
}


def _kinds(proposal) -> set[tuple[MatchKind, tuple[str, ...], tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    return {(p.kind, p.baseline, p.followup) for p in proposal.proposals}


def test_same_frame_shrink_split_merge_new_disappeared() -> None:
    base = _ellipsoids(BASELINE)
    fu = _ellipsoids(FOLLOWUP, names=FU_NAMES)
    prop = propose_matches(base, fu)
    assert _kinds(prop) == EXPECTED
    m = prop.for_baseline("L1")
    assert m.centroid_distance_mm == pytest.approx(0.0, abs=0.5)
    # Dice of concentric spheres r=6 in r=12: 2 * 6^3 / (12^3 + 6^3) = 0.222
    assert m.dice == pytest.approx(2 * 6**3 / (12**3 + 6**3), abs=0.03)
    assert prop.baseline_volume_mm3["L1"] == pytest.approx(4 / 3 * math.pi * 12**3, rel=0.03)


SHIFT = (18.0, -11.0, 7.5)  # patient moved between scans (LPS mm): larger than most lesions


def test_displacement_needs_the_registration() -> None:
    base = _ellipsoids(BASELINE)
    fu = _ellipsoids(FOLLOWUP, shift_lps=SHIFT, names=FU_NAMES)
    unregistered = _kinds(propose_matches(base, fu))
    assert unregistered != EXPECTED  # without registration the proposal is wrong
    shift = np.array(SHIFT)
    registered = propose_matches(base, fu, transform=lambda pts: pts + shift)
    assert _kinds(registered) == EXPECTED
    assert registered.for_followup("F1").centroid_distance_mm == pytest.approx(0.0, abs=0.8)


def test_displacement_with_simpleitk_and_registration_objects() -> None:
    import SimpleITK as sitk

    from hcc_imaging.segment.register import Registration, TransformKind

    base = _ellipsoids(BASELINE)
    fu = _ellipsoids(FOLLOWUP, shift_lps=SHIFT, names=FU_NAMES)
    t = sitk.TranslationTransform(3, SHIFT)
    assert _kinds(propose_matches(base, fu, transform=t)) == EXPECTED
    reg = Registration(kind=TransformKind.RIGID, matrix=np.eye(3), translation_mm=SHIFT, center_mm=(0.0, 0.0, 0.0))
    assert _kinds(propose_matches(base, fu, transform=reg)) == EXPECTED


def test_blobs_centroids_and_volumes() -> None:
    def blobs(items, shift=(0.0, 0.0, 0.0), prefix="L"):  # type: ignore[no-untyped-def]
        return [LesionBlob(f"{prefix}{lab}", tuple(c[m] + shift[m] for m in range(3)), 4 / 3 * math.pi * r[0] * r[1] * r[2])
                for lab, c, r in items]

    shift = np.array(SHIFT)
    prop = propose_matches(blobs(BASELINE), blobs(FOLLOWUP, SHIFT, "F"), transform=lambda p: p + shift)
    assert _kinds(prop) == EXPECTED


@pytest.mark.parametrize(
    "r1, r2, d, want",
    [
        pytest.param(5.0, 3.0, 0.0, 4 / 3 * math.pi * 27, id="contained"),
        pytest.param(5.0, 3.0, 8.0, 0.0, id="touching"),
        pytest.param(4.0, 4.0, 4.0, math.pi * (4 * 4 + 4) * (2 * 4 - 4) ** 2 / 12, id="equal-spheres-lens"),
    ],
)
def test_sphere_intersection(r1: float, r2: float, d: float, want: float) -> None:
    assert sphere_intersection_mm3(r1, r2, d) == pytest.approx(want)


def test_distance_fallback_for_small_lesion_that_moved() -> None:
    base = _ellipsoids([(1, (0.0, 0.0, 50.0), (3.0, 3.0, 3.0))])
    fu = _ellipsoids([(1, (9.0, 0.0, 50.0), (3.0, 3.0, 3.0))], names={1: "F1"})
    prop = propose_matches(base, fu)
    (p,) = prop.proposals
    assert (p.kind, p.dice) == (MatchKind.MATCH, 0.0)
    assert p.centroid_distance_mm == pytest.approx(9.0, abs=0.5)
    assert "no overlap" in p.reason
    prop = propose_matches(base, fu, max_centroid_distance_mm=5.0)
    assert {p.kind for p in prop.proposals} == {MatchKind.NEW, MatchKind.DISAPPEARED}


def test_tracking_uid_follows_the_lesion_into_the_store(populated: Store) -> None:
    r1 = ReaderSession(populated, "R1")
    uids = {f"L{lab}": r1.add_lesion("P001", f"L{lab}").tracking_uid for lab, _, _ in BASELINE}
    prop = propose_matches(_ellipsoids(BASELINE), _ellipsoids(FOLLOWUP, names=FU_NAMES))
    assign = assign_tracking_uids(prop, uids)
    by_fu: dict[str, list] = {}
    for a in assign:
        by_fu.setdefault(a.followup_label, []).append(a)
    assert [a.tracking_uid for a in by_fu["F1"]] == [uids["L1"]]
    assert {a.tracking_uid for a in by_fu["F2"] + by_fu["F3"]} == {uids["L2"]}
    assert {a.relation for a in by_fu["F2"]} == {"split"}
    merge = by_fu["F4"]
    assert {a.tracking_uid for a in merge} == {uids["L3"], uids["L4"]}
    assert [a.tracking_uid for a in merge if a.primary] == [uids["L3"]]  # the larger baseline lesion
    assert by_fu["F5"][0].tracking_uid is None and by_fu["F5"][0].lesion_id == "N1"
    # the reader corrects F1 (say it is really L5) and confirms
    fixed = correct_assignment(assign, "F1", tracking_uid=uids["L5"])
    links = r1.confirm_tracking("P001", "FU1", fixed)
    got = {(x.followup_label, x.tracking_uid) for x in links}
    assert ("F1", uids["L5"]) in got and ("F1", uids["L1"]) not in got
    new_uid = next(x.tracking_uid for x in links if x.followup_label == "F5")
    assert new_uid not in uids.values()
    assert {x.tracking_uid for x in r1.lesions("P001")} == set(uids.values()) | {new_uid}
    assert len(r1.tracking_links("P001")) == len(fixed)
    # a second confirmation with a new lesion of the same suggested id gets a free lesion id
    again = r1.confirm_tracking("P001", "FU2", [a for a in fixed if a.followup_label == "F5"])
    new_ids = {x.lesion_id for x in r1.lesions("P001") if x.tracking_uid in {new_uid, again[0].tracking_uid}}
    assert new_ids == {"N1", "FU2-N1"}
    # blinded: reader 2 sees none of it and cannot link to reader 1's lesions
    r2 = ReaderSession(populated, "R2")
    assert r2.tracking_links("P001") == [] and r2.lesions("P001") == []
    with pytest.raises(StoreError, match="not found among the lesions of patient 'P001' visible to reader 'R2'"):
        r2.confirm_tracking("P001", "FU1", fixed[:1])


@pytest.mark.parametrize(
    "call, match",
    [
        pytest.param(lambda b, f: propose_matches(b, []), "both be LabelVolumes", id="mixed-inputs"),
        pytest.param(lambda b, f: propose_matches(b, f, min_containment_frac=0.0), "min_containment_frac", id="threshold"),
        pytest.param(lambda b, f: propose_matches(b, f, max_centroid_distance_mm=-1.0), "max_centroid_distance_mm",
                     id="negative-distance"),
        pytest.param(lambda b, f: propose_matches(b, f, transform=lambda p: p[:, :2]), "returned shape", id="bad-transform-shape"),
        pytest.param(lambda b, f: propose_matches(b, f, transform=lambda p: 1 / 0), "transform failed", id="transform-raises"),
        pytest.param(lambda b, f: propose_matches(b, f, transform=42), "not usable", id="transform-type"),
        pytest.param(lambda b, f: propose_matches([LesionBlob("A", (0, 0, 0), 1.0)] * 2, []), "not unique", id="dup-blob"),
        pytest.param(lambda b, f: LesionBlob("A", (0, 0, float("nan")), 1.0), "3 finite", id="blob-centroid"),
        pytest.param(lambda b, f: LesionBlob("A", (0, 0, 0), 0.0), "volume_mm3 must be > 0", id="blob-volume"),
        pytest.param(lambda b, f: assign_tracking_uids(propose_matches(b, f), {}), "no tracking UID", id="missing-uid"),
        pytest.param(lambda b, f: correct_assignment([], "F9", tracking_uid=None), "not among the assignments", id="unknown-label"),
    ],
)
def test_tracking_errors(call, match: str) -> None:  # type: ignore[no-untyped-def]
    base = _ellipsoids(BASELINE[:1])
    fu = _ellipsoids(FOLLOWUP[:1], names={1: "F1"})
    with pytest.raises(TrackingError, match=match):
        call(base, fu)


def test_confirm_tracking_errors(populated: Store) -> None:
    from hcc_imaging.study.tracking import FollowupAssignment

    r1 = ReaderSession(populated, "R1")
    with pytest.raises(StoreError, match="needs the tracking UID"):
        r1.confirm_tracking("P001", "FU1", [FollowupAssignment("F1", None, "match")])
    with pytest.raises(StoreError, match="relation 'sideways' is unknown"):
        r1.confirm_tracking("P001", "FU1", [FollowupAssignment("F1", None, "sideways")])


# -- the project's multiphase liver phantom (hcc_imaging.phantoms): baseline vs fu2 -----------
PHANTOM_SHIFT = np.array([12.0, -9.0, 6.0])  # the patient lies 12/9/6 mm elsewhere at fu2 (LPS)
PHANTOM_EXPECTED = {(MatchKind.MATCH, (f"L{i}",), (f"L{i}",)) for i in range(1, 9)} | {(MatchKind.NEW, (), ("L9",))}


@pytest.fixture(scope="module")
def phantom_pair():  # type: ignore[no-untyped-def]
    import dataclasses

    from hcc_imaging.phantoms import make_study
    from hcc_imaging.volume import Geometry

    base, fu = make_study(0, "baseline"), make_study(0, "fu2")

    def moved(x):  # type: ignore[no-untyped-def]
        g = x.geometry
        return dataclasses.replace(x, geometry=Geometry(g.shape, g.spacing, tuple(np.asarray(g.origin) + PHANTOM_SHIFT), g.direction))

    return base, fu, moved


def test_phantom_followup_with_known_displacement(phantom_pair) -> None:  # type: ignore[no-untyped-def]
    """L1-L8 persist (L2 regrows, L6 node grows 12 -> 22 mm), L9 is new at fu2."""
    base, fu, moved = phantom_pair
    assert _kinds(propose_matches(base.lesions, fu.lesions)) == PHANTOM_EXPECTED
    shifted = moved(fu.lesions)
    assert _kinds(propose_matches(base.lesions, shifted)) != PHANTOM_EXPECTED
    prop = propose_matches(base.lesions, shifted, transform=lambda p: p + PHANTOM_SHIFT)
    assert _kinds(prop) == PHANTOM_EXPECTED
    assert prop.for_baseline("L2").dice == pytest.approx(1.0, abs=0.02)  # L2 at fu2 = baseline shape


@pytest.mark.slow
def test_phantom_followup_registered_by_segment_register(phantom_pair) -> None:  # type: ignore[no-untyped-def]
    """End to end: hcc_imaging.segment.register estimates the motion from the CT, tracking uses it."""
    from hcc_imaging.segment.register import register_volumes
    from hcc_imaging.volume import Phase

    base, fu, moved = phantom_pair
    reg = register_volumes(base.volumes[Phase.PORTAL_VENOUS], moved(fu.volumes[Phase.PORTAL_VENOUS]), initial="identity")
    prop = propose_matches(base.lesions, moved(fu.lesions), transform=reg)
    assert _kinds(prop) == PHANTOM_EXPECTED
    assert all(p.centroid_distance_mm < 5.0 for p in prop.by_kind("match"))  # residual misregistration


def _ball(shape: tuple[int, int, int], spacing: tuple[float, float, float], centre_mm: tuple[float, float, float],
          r_mm: float) -> np.ndarray:
    k, j, i = np.indices(shape).astype(float)
    z, y, x = k * spacing[0], j * spacing[1], i * spacing[2]
    return ((z - centre_mm[0]) ** 2 + (y - centre_mm[1]) ** 2 + (x - centre_mm[2]) ** 2 <= r_mm ** 2).astype(np.uint8)


def test_a_lesion_smaller_than_the_baseline_grid_is_matched_for_review_not_new() -> None:
    """Baseline on 5 mm slices, follow-up on 1 mm slices (same frame): the 24 mm lesion shrank to
    4 mm at the same centre, between two baseline slices (no voxel of it on the baseline grid).  It
    is matched to L1 by its own centroid (0 mm away), with its own volume, flagged ``needs_review``
    with a reason naming it; a lesion beyond the baseline's field is still "outside the baseline
    field of view".  Before: ``disappeared L1`` + ``new F1`` "outside the baseline field of view",
    not flagged (``--confirm`` stored a new lesion: PD)."""
    bsp, fsp = (5.0, 1.0, 1.0), (1.0, 1.0, 1.0)
    base = LabelVolume.create(_ball((6, 60, 60), bsp, (12.5, 30, 30), 12.0), spacing=bsp, labels={1: "L1"})
    fu_arr = _ball((60, 60, 60), fsp, (12.5, 30, 30), 2.0)
    fu_arr[_ball((60, 60, 60), fsp, (50.0, 30, 30), 4.0) != 0] = 2  # beyond the baseline's 30 mm
    fu = LabelVolume.create(fu_arr, spacing=fsp, labels={1: "F1", 2: "F2"})
    prop = propose_matches(base, fu)
    p = prop.for_followup("F1")
    assert p.kind is MatchKind.MATCH and p.baseline == ("L1",) and p.needs_review, p
    assert "only 0% of F1 lands on the baseline grid's voxel centres" in p.reason and p.centroid_distance_mm < 1.0
    assert prop.followup_volume_mm3["F1"] == float((fu_arr == 1).sum())
    far = prop.for_followup("F2")
    assert far.kind is MatchKind.NEW and "outside the baseline field of view" in far.reason and not far.needs_review
    a = {x.followup_label: x for x in assign_tracking_uids(prop, {"L1": "uid-L1"})}
    assert a["F1"].tracking_uid == "uid-L1" and a["F1"].relation == "match" and a["F1"].needs_review
    assert a["F2"].tracking_uid is None and not a["F2"].needs_review

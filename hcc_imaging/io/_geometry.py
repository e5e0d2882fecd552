"""Slice-stack analysis shared by the index (problems as text) and the loader (named errors).

One function, :func:`analyse_stack`, looks at the header geometry of the images of one series and
returns the slice order, the grid (spacing, origin, direction) and every problem found, as
structured :class:`StackIssue` records.  The index prints the issues; the loader raises the matching
named error (``io/errors.py``) or, where the caller asked for it, resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from ..constants import POSITION_TOL_MM, SPACING_REL_TOL
from ._constants import (
    INTERLEAVED_GROUPS_MAX_DEG,
    LOCALIZER_IMAGE_TYPES,
    ORIENTATION_GROUP_TOL_DEG,
    PIXEL_SPACING_GROUP_TOL_MM,
    SPACING_ABS_TOL_MM,
    TILT_MAX_SHEAR_PIXELS,
)
from ._dicomparse import InstanceHeader

__all__ = ["SliceRef", "StackIssue", "StackAnalysis", "analyse_stack", "slices_of", "orientation_label",
           "orientation_angle_deg"]


@dataclass(slots=True)
class SliceRef:
    """One 2-D image: a single-frame file, or one frame of a multi-frame file."""

    header: InstanceHeader
    frame: int | None
    ipp: tuple[float, ...] | None
    iop: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slope: float
    intercept: float

    @property
    def rows(self) -> int:
        return int(self.header.rows or 0)

    @property
    def columns(self) -> int:
        return int(self.header.columns or 0)

    @property
    def is_localizer(self) -> bool:
        return bool(LOCALIZER_IMAGE_TYPES.intersection(self.header.image_type[2:]))


def slices_of(header: InstanceHeader) -> list[SliceRef]:
    """The 2-D images of one file (frames of an enhanced multi-frame object expanded)."""
    slope = header.rescale_slope if header.rescale_slope is not None else 1.0
    intercept = header.rescale_intercept if header.rescale_intercept is not None else 0.0
    if header.frames:
        return [
            SliceRef(
                header,
                k,
                f["ipp"],
                f["iop"],
                f["pixel_spacing"],
                f["slope"] if f["slope"] is not None else slope,
                f["intercept"] if f["intercept"] is not None else intercept,
            )
            for k, f in enumerate(header.frames)
        ]
    if header.is_multiframe:
        # legacy multi-frame without per-frame geometry: frames share one position
        return [
            SliceRef(header, k, header.image_position_patient, header.image_orientation_patient,
                     header.pixel_spacing, slope, intercept)
            for k in range(int(header.number_of_frames or 1))
        ]
    return [
        SliceRef(header, None, header.image_position_patient, header.image_orientation_patient,
                 header.pixel_spacing, slope, intercept)
    ]


@dataclass(slots=True)
class StackIssue:
    """One problem found in a stack.  ``kind`` is a closed set (see :func:`analyse_stack`)."""

    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StackAnalysis:
    """Result of :func:`analyse_stack` (internal)."""

    slices: list[SliceRef]  # in slice order (ascending along the slice normal)
    groups: list[list[SliceRef]]  # orientation/size groups, largest first
    issues: list[StackIssue]
    dropped_localizers: list[SliceRef]
    normal: NDArray[np.float64] | None = None
    positions_mm: NDArray[np.float64] | None = None  # projection of IPP on the normal, slice order
    slice_spacing_mm: float | None = None  # regular spacing, or the median step when irregular
    spacing_source: str = ""
    row_spacing_mm: float | None = None
    col_spacing_mm: float | None = None
    inplane_offsets_mm: NDArray[np.float64] | None = None  # (n, 2): along (row dir, col dir)

    def issue(self, kind: str) -> StackIssue | None:
        for i in self.issues:
            if i.kind == kind:
                return i
        return None

    @property
    def blocking(self) -> list[StackIssue]:
        return [i for i in self.issues if i.kind in BLOCKING]


#: Issue kinds that stop the loader unless the caller opts into a fix.
BLOCKING = frozenset(
    {"missing_geometry", "mixed_orientation", "mixed_size", "duplicate_positions", "irregular_spacing",
     "gantry_tilt", "no_slice_spacing"}
)


def orientation_label(iop: Sequence[float] | None) -> str:
    """``axial`` / ``coronal`` / ``sagittal`` from the slice normal (within ~2.6 deg), else ``oblique``."""
    if iop is None or len(iop) != 6:
        return "unknown"
    n = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    a = np.abs(n)
    k = int(np.argmax(a))
    if a[k] < 1 - 1e-3:
        return "oblique"
    return ("sagittal", "coronal", "axial")[k]


def _ipp_ok(s: SliceRef) -> bool:
    return bool(s.ipp) and len(s.ipp) == 3 and all(np.isfinite(s.ipp))  # type: ignore[arg-type]


def _iop_ok(s: SliceRef) -> bool:
    """Six finite cosines: two unit vectors (within 1e-3) that are orthogonal (|dot| < 1e-3)."""
    if not s.iop or len(s.iop) != 6 or not all(np.isfinite(s.iop)):
        return False
    r, c = np.asarray(s.iop[:3], float), np.asarray(s.iop[3:], float)
    return bool(abs(np.linalg.norm(r) - 1) < 1e-3 and abs(np.linalg.norm(c) - 1) < 1e-3 and abs(r @ c) < 1e-3)


def _ps_ok(s: SliceRef) -> bool:
    ps = s.pixel_spacing
    return bool(ps) and len(ps) >= 2 and all(np.isfinite(ps[:2])) and min(ps[:2]) > 0  # type: ignore[index]


def _same_place(a: SliceRef, b: SliceRef, tol_mm: float = 1e-3) -> bool:
    """Whether two images with one SOPInstanceUID lie at one place (a copy of one file), as far as
    their headers tell: same position and orientation (no position: taken as a copy)."""
    if a.ipp is None or b.ipp is None or len(a.ipp) != len(b.ipp):
        return True
    if any(abs(float(x) - float(y)) > tol_mm for x, y in zip(a.ipp, b.ipp, strict=True)):
        return False
    return (a.iop is None or b.iop is None
            or all(abs(float(x) - float(y)) <= 1e-4 for x, y in zip(a.iop, b.iop, strict=False)))


def _frame(iop: Sequence[float]) -> NDArray[np.float64]:
    """Rows: the unit row cosine, column cosine and normal of an ImageOrientationPatient."""
    r, c = np.asarray(iop[:3], float), np.asarray(iop[3:6], float)
    r, c = r / np.linalg.norm(r), c / np.linalg.norm(c)
    n = np.cross(r, c)
    return np.stack([r, c, n / np.linalg.norm(n)])


def orientation_angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    """Angle (degrees) of the rotation between two ImageOrientationPatient frames (row, column,
    normal): 0 for one plane, 90 between an axial and a coronal image, also > 0 for one plane
    turned in-plane.  ``||A - B||_F = 2 sqrt(2) sin(angle / 2)`` for two rotations, which stays
    exact for tiny angles (an arccos of the trace would not)."""
    d = float(np.linalg.norm(_frame(a) - _frame(b)))
    return float(np.degrees(2.0 * np.arcsin(min(1.0, d / (2.0 * np.sqrt(2.0))))))


def _normal_angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    """Angle (degrees) between the slice normals of two orientations, sign ignored (parallel planes: 0)."""
    cos = abs(float(_frame(a)[2] @ _frame(b)[2]))
    return float(np.degrees(np.arccos(min(1.0, cos))))


def _same_grid(a: SliceRef, b: SliceRef) -> bool:
    """One orientation group: same Rows/Columns, PixelSpacing within PIXEL_SPACING_GROUP_TOL_MM and
    orientations within ORIENTATION_GROUP_TOL_DEG (so DS rounding noise never splits a stack, while
    a localizer or a reformat does)."""
    if a.rows != b.rows or a.columns != b.columns:
        return False
    pa, pb = cast(tuple[float, ...], a.pixel_spacing), cast(tuple[float, ...], b.pixel_spacing)
    if any(abs(float(x) - float(y)) > PIXEL_SPACING_GROUP_TOL_MM for x, y in zip(pa[:2], pb[:2], strict=True)):
        return False
    return orientation_angle_deg(cast(tuple[float, ...], a.iop), cast(tuple[float, ...], b.iop)) \
        <= ORIENTATION_GROUP_TOL_DEG


def _group(slices: Sequence[SliceRef]) -> list[list[SliceRef]]:
    """Orientation/size groups (largest first; ties in order of appearance).  Each image joins the
    first group whose first image has its grid (:func:`_same_grid`); images with exactly the same
    header values share the look-up."""
    reps: list[SliceRef] = []
    members: list[list[SliceRef]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for s in slices:
        exact = (tuple(s.iop or ()), s.rows, s.columns, tuple(s.pixel_spacing or ()))
        gi = seen.get(exact)
        if gi is None:
            gi = next((i for i, r in enumerate(reps) if _same_grid(r, s)), -1)
            if gi < 0:
                reps.append(s)
                members.append([])
                gi = len(reps) - 1
            seen[exact] = gi
        members[gi].append(s)
    return sorted(members, key=lambda g: -len(g))


def _orientation_text(iop: Sequence[float]) -> str:
    """``axial`` / ``coronal`` / ``sagittal``, or ``oblique (14.1 deg from axial)``."""
    label = orientation_label(iop)
    if label != "oblique":
        return label
    n = np.abs(_frame(iop)[2])
    k = int(np.argmax(n))
    return f"oblique ({np.degrees(np.arccos(min(1.0, float(n[k])))):.3g} deg from {('sagittal', 'coronal', 'axial')[k]})"


def _interleaved(groups: list[list[SliceRef]]) -> list[tuple[int, int, float]]:
    """Pairs (i, j, angle) of near-parallel groups of one image size (normals within
    INTERLEAVED_GROUPS_MAX_DEG) whose images alternate along the normal (at least as many changes of group, walking along the normal,
    as the smaller group has images): every other slice of one stack, not two stacks.  Two stacks
    that merely overlap at their ends change group only within the overlap."""
    out = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            a, b = groups[i], groups[j]
            if min(len(a), len(b)) < 2 or a[0].rows != b[0].rows or a[0].columns != b[0].columns:
                continue  # (images of other sizes are another reconstruction, not one stack)
            ia, ib = cast(tuple[float, ...], a[0].iop), cast(tuple[float, ...], b[0].iop)
            if _normal_angle_deg(ia, ib) > INTERLEAVED_GROUPS_MAX_DEG:
                continue
            n = _frame(ia)[2]
            t = [(float(np.asarray(s.ipp, float) @ n), g) for g, grp in ((0, a), (1, b)) for s in grp]
            labels = [g for _, g in sorted(t, key=lambda x: x[0])]
            changes = sum(1 for x, y in zip(labels, labels[1:]) if x != y)
            if changes >= min(len(a), len(b)):
                out.append((i, j, orientation_angle_deg(ia, ib)))
    return out


def analyse_stack(slices: Sequence[SliceRef], *, stack: int | None = None) -> StackAnalysis:
    """Sort and check the images of one series.

    Issue kinds: ``localizers_dropped``, ``copies_dropped``, ``shared_sop_uid`` (informational),
    ``missing_geometry``, ``mixed_orientation``,
    ``mixed_size``, ``duplicate_positions``, ``irregular_spacing``, ``gantry_tilt``,
    ``no_slice_spacing`` (single image without spacing tags), ``single_slice`` (informational).

    Parameters
    ----------
    stack : int, optional
        When the images form several orientation/size groups, analyse group ``stack`` (groups are
        ordered largest first) instead of reporting the mix.
    """
    issues: list[StackIssue] = []
    all_slices = list(slices)
    locs = [s for s in all_slices if s.is_localizer]
    dropped: list[SliceRef] = []
    if locs and len(locs) < len(all_slices):
        dropped = locs
        all_slices = [s for s in all_slices if not s.is_localizer]
        issues.append(StackIssue(
            "localizers_dropped",
            f"{len(locs)} localizer image(s) (ImageType LOCALIZER/SCOUT) mixed in; left out of the volume",
            {"count": len(locs)},
        ))
    # the same image stored twice (one instance copied into two folders of an archive): one copy.
    # Two images at different positions that carry one SOPInstanceUID (a bad export) are no copies:
    # both are slices (dropping one read as "a slice missing"), and the UID is reported.
    seen_sop: dict[tuple[str, int | None], SliceRef] = {}
    unique: list[SliceRef] = []
    shared: list[tuple[SliceRef, SliceRef]] = []
    for sl in all_slices:
        key = (sl.header.sop_instance_uid, sl.frame)
        first = seen_sop.get(key) if sl.header.sop_instance_uid else None
        if first is not None:
            if _same_place(first, sl):
                continue
            shared.append((first, sl))
        else:
            seen_sop[key] = sl
        unique.append(sl)
    n_copies = len(all_slices) - len(unique)
    if n_copies:
        issues.append(StackIssue(
            "copies_dropped",
            f"{n_copies} image(s) are copies of another file of the series (same SOPInstanceUID); one copy used",
            {"count": n_copies},
        ))
        all_slices = unique
    if shared:
        a, b = shared[0]
        issues.append(StackIssue(
            "shared_sop_uid",
            f"{len(shared) + 1} files share SOPInstanceUID {a.header.sop_instance_uid} but are different images "
            f"(at different positions: {a.header.path} and {b.header.path}"
            + (f", and {len(shared) - 1} more such pair(s)" if len(shared) > 1 else "")
            + "): each is used as a slice; an export gave them one UID, so a SEG or SR that references it cannot "
            "tell them apart: export the series again with a UID per image",
            {"count": len(shared), "uid": a.header.sop_instance_uid, "files": [a.header.path, b.header.path]},
        ))
    res = StackAnalysis(slices=[], groups=[], issues=issues, dropped_localizers=dropped)
    missing = [s for s in all_slices if not _ipp_ok(s) or not _iop_ok(s) or not _ps_ok(s)]
    if missing:
        what = []
        if any(not _ipp_ok(s) for s in missing):
            what.append("ImagePositionPatient")
        if any(not _iop_ok(s) for s in missing):
            what.append("ImageOrientationPatient")
        if any(not _ps_ok(s) for s in missing):
            what.append("PixelSpacing")
        rules = {"ImagePositionPatient": "three finite numbers",
                 "ImageOrientationPatient": "two orthogonal unit vectors, six finite cosines",
                 "PixelSpacing": "two positive numbers"}
        issues.append(StackIssue(
            "missing_geometry",
            f"{len(missing)} of {len(all_slices)} image(s) lack a valid {', '.join(what)} (missing, or not "
            + "; ".join(rules[w] for w in what) + ")",
            {"count": len(missing), "tags": what, "file": missing[0].header.path},
        ))
        res.slices = all_slices
        return res
    groups = _group(all_slices)
    res.groups = groups
    if len(groups) > 1:
        first_iop = cast(tuple[float, ...], groups[0][0].iop)
        orientations: list[tuple[float, ...]] = []
        for g in groups:
            gi = cast(tuple[float, ...], g[0].iop)
            if not any(orientation_angle_deg(gi, o) <= ORIENTATION_GROUP_TOL_DEG for o in orientations):
                orientations.append(gi)
        desc = "; ".join(
            f"stack={i}: {len(g)} image(s) {_orientation_text(cast(tuple[float, ...], g[0].iop))}"
            + (f" rotated {orientation_angle_deg(cast(tuple[float, ...], g[0].iop), first_iop):.3g} deg from stack=0"
               if i and len(orientations) > 1 else "")
            + f", {g[0].rows}x{g[0].columns}"
            + (f" ({float(g[0].pixel_spacing[0]):g}x{float(g[0].pixel_spacing[1]):g} mm pixels)"
               if g[0].pixel_spacing and len(g[0].pixel_spacing) >= 2 else "")
            + (f", series number {g[0].header.series_number}" if g[0].header.series_number is not None else "")
            for i, g in enumerate(groups)
        )
        inter = _interleaved(groups) if len(orientations) > 1 else []
        if inter:
            desc += "; " + "; ".join(
                f"stack={i} and stack={j} interleave along the slice normal, only {a:.3g} deg apart: every "
                "other slice of one stack" for i, j, a in inter)
        data: dict[str, Any] = {"groups": desc, "interleaved": [(i, j) for i, j, _ in inter],
                                "tolerance_deg": ORIENTATION_GROUP_TOL_DEG}
        if len(orientations) > 1:
            issues.append(StackIssue("mixed_orientation", f"{len(groups)} different orientations/sizes ({desc})",
                                     data))
        else:
            issues.append(StackIssue("mixed_size", f"{len(groups)} different image sizes/pixel spacings ({desc})",
                                     data))
        if stack is None:
            res.slices = all_slices
            return res
    chosen = groups[stack or 0] if stack is None or stack < len(groups) else None
    if chosen is None:
        raise IndexError(stack)
    if len(groups) > 1:
        # the mix is resolved by the caller's choice: keep it as information only
        for i in issues:
            if i.kind in ("mixed_orientation", "mixed_size"):
                i.kind = "stack_selected"
    iop = np.asarray(chosen[0].iop, float)
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    normal /= np.linalg.norm(normal)
    ipp = np.array([s.ipp for s in chosen], float)
    t = ipp @ normal
    order = np.argsort(t, kind="stable")
    ordered = [chosen[i] for i in order]
    t = t[order]
    ipp = ipp[order]
    res.slices = ordered
    res.normal = normal
    res.positions_mm = t
    ps = cast(tuple[float, ...], chosen[0].pixel_spacing)  # presence checked above
    res.row_spacing_mm, res.col_spacing_mm = float(ps[0]), float(ps[1])
    rel = ipp - ipp[0]
    res.inplane_offsets_mm = np.stack([rel @ col_cos, rel @ row_cos], axis=1)
    n = len(ordered)
    if n == 1:
        h = ordered[0].header
        sp = h.spacing_between_slices or h.slice_thickness
        if sp and sp > 0:
            res.slice_spacing_mm = float(sp)
            res.spacing_source = "SpacingBetweenSlices" if h.spacing_between_slices else "SliceThickness"
            issues.append(StackIssue(
                "single_slice",
                f"single image: slice spacing {sp:g} mm taken from {res.spacing_source} (no positions to difference)",
            ))
        else:
            issues.append(StackIssue("no_slice_spacing", "single image without SliceThickness/SpacingBetweenSlices"))
        return res
    # several echoes / time points of one acquisition in one stack: each is its own volume (their
    # positions may interleave, so no duplicate position shows it)
    for attr, what in (("echo_numbers", "echoes (EchoNumbers)"),
                       ("temporal_position_identifier", "time points (TemporalPositionIdentifier)")):
        vals = sorted({v for sl in ordered if (v := getattr(sl.header, attr)) is not None})
        if len(vals) > 1:
            first = {v: next(sl.header.path for sl in ordered if getattr(sl.header, attr) == v) for v in vals[:2]}
            issues.append(StackIssue(
                "mixed_repetitions",
                f"{n} images from {len(vals)} {what} {vals}",
                {"attribute": attr, "values": vals, "files": tuple(first.values())},
            ))
            return res
    dt = np.diff(t)
    dup = np.nonzero(dt < POSITION_TOL_MM)[0]
    if dup.size:
        n_unique = int(np.unique(np.round(t / POSITION_TOL_MM)).size)
        acq = {s.header.acquisition_number for s in ordered}
        issues.append(StackIssue(
            "duplicate_positions",
            f"{dup.size + 0} duplicate slice position(s): {n} images at {n_unique} distinct position(s)"
            + (f" (acquisition numbers {sorted(a for a in acq if a is not None)})" if len(acq) > 1 else ""),
            {"count": int(dup.size), "n_unique": n_unique, "first": int(dup[0]),
             "position_mm": float(t[dup[0]]), "acquisitions": sorted(a for a in acq if a is not None),
             "files": (ordered[dup[0]].header.path, ordered[dup[0] + 1].header.path)},
        ))
        return res
    step = float(np.median(dt))
    tol = max(SPACING_REL_TOL * step, SPACING_ABS_TOL_MM)
    bad = np.nonzero(np.abs(dt - step) > tol)[0]
    res.slice_spacing_mm = step
    res.spacing_source = "ImagePositionPatient"
    if not bad.size and n > 2:
        # each step within tolerance, yet a slow drift can put the last slices off the grid
        # (24 steps of 3.27 mm then 23 of 3.24: 0.68 mm at the end): check the positions too
        k_idx = np.arange(n, dtype=float)
        slope, icpt = np.polyfit(k_idx, t, 1)
        resid = t - (icpt + slope * k_idx)
        k = int(np.argmax(np.abs(resid)))
        if abs(resid[k]) > tol:
            bad = np.array([max(k - 1, 0)])
            issues.append(StackIssue(
                "irregular_spacing",
                f"slice positions drift off a regular grid: slice {k} lies {abs(resid[k]):.2f} mm from the "
                f"best-fitting grid of {slope:.4f} mm, though each step is within the tolerance {tol:.3f} mm",
                {"expected_mm": step, "found_mm": float(dt[min(k, n - 2)]), "index": min(k, n - 2),
                 "count": 1, "n_missing": 0, "file": ordered[k].header.path},
            ))
        elif abs(slope - step) > 1e-6:
            # positions rounded in the header (3.27 / 3.28 ...): the grid's step is the fitted one
            res.slice_spacing_mm = step = float(slope)
    elif bad.size:
        k = int(bad[np.argmax(np.abs(dt[bad] - step))])
        n_missing = int(np.sum(np.maximum(np.rint(dt[bad] / step) - 1, 0)))
        issues.append(StackIssue(
            "irregular_spacing",
            f"slices unevenly spaced: expected {step:.2f} mm, found {dt[k]:.2f} mm between slices {k} and {k + 1}"
            + (f" (~{n_missing} slice(s) missing)" if n_missing else "")
            + f"; {bad.size} irregular step(s), tolerance {tol:.3f} mm",
            {"expected_mm": step, "found_mm": float(dt[k]), "index": k, "count": int(bad.size),
             "n_missing": n_missing, "file": ordered[k + 1].header.path},
        ))
    drift = res.inplane_offsets_mm
    shear = float(np.max(np.linalg.norm(drift, axis=1)))
    tol_tilt = TILT_MAX_SHEAR_PIXELS * min(res.row_spacing_mm, res.col_spacing_mm)
    if shear > tol_tilt:
        extent = float(t[-1] - t[0])
        angle = float(np.degrees(np.arctan2(shear, extent)))
        gtilt = ordered[0].header.gantry_detector_tilt
        issues.append(StackIssue(
            "gantry_tilt",
            f"slices are stacked at {angle:.1f} deg to their normal (gantry tilt / shear: in-plane drift "
            f"{shear:.2f} mm over {extent:.1f} mm"
            + (f"; GantryDetectorTilt {gtilt:g} deg" if gtilt else "") + ")",
            {"angle_deg": angle, "shear_mm": shear},
        ))
    return res

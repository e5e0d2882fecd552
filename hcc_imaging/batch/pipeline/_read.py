"""One patient: the read document of its study records, and its assessment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..constants import DEFAULT_CRITERIA
from ..errors import BatchError
from ..lesions import site_flags
from ._tasks import ALGORITHM

_NON_MEASURED_KINDS = ("pvtt", "ascites", "effusion")
_OBS_FLAGS = ("organ", "is_lymph_node", "kind", "porta_hepatis", "previously_treated", "typical_hcc_pattern",
              "well_delineated", "intrahepatic", "cytology_malignant", "tracking_uid", "equivocal", "note")


#: read-document axis <- LesionMeasurement.to_dict() endpoint key
_ENDPOINT_KEYS = (
    ("long", "ld_endpoints_lps"),
    ("short", "sa_endpoints_lps"),
    ("viable_long", "viable_endpoints_lps"),
    ("viable_short", "viable_sa_endpoints_lps"),
)


def _timepoint_ids(records: Sequence[Mapping[str, Any]], ann: Mapping[str, Any]) -> list[str]:
    names = ann.get("timepoints", {})
    out = []
    for i, r in enumerate(records):
        tid = names.get(r["study_instance_uid"])
        out.append(str(tid) if tid else ("BL" if i == 0 else f"FU{i}"))
    return out


def _iso(date: str) -> str | None:
    d = (date or "").strip()
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else None


def build_read_document(
    records: Sequence[Mapping[str, Any]],
    *,
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    annotations: Mapping[str, Any] | None = None,
    reader_id: str = "hcc_imaging.batch",
) -> Any:
    """The read document of one patient from its successful study records (any order).

    Time points are the studies in date order (ids from ``annotations["timepoints"]`` or
    ``BL``, ``FU1``, ...).  Each lesion keeps one role for the whole read: from the annotations,
    else proposed at baseline per criterion by :func:`hcc_imaging.response.targets.select_targets`
    (``role_by_criteria``); lesions first seen later are ``new``.  A lesion seen before but
    missing from a later mask is recorded ``absent`` (0 mm), unless it was carried to that study
    and not found there (``carried_from["not_carried"]``, or clicked there by the carry:
    ``carried_from["seeds_lps"]``, yet not in its map): ``not_evaluable``, with the reason.  A
    measured lesion whose mask the segmenter flagged (the record's ``segmentation_checks``) has
    what to check as its note.  Every lesion records its tracking UID (the annotations', else
    :func:`hcc_imaging.export.model.name_based_tracking_uid` of the patient, reader, baseline date
    and lesion id, as the exports derived it before), so editing the read later keeps it.

    Raises
    ------
    BatchError
        No records, or records of several patients.
    """
    from ...export.model import name_based_tracking_uid
    from ...measure.measurability import round_mm
    from ...response import LesionObservation, ReadDocument, TimePoint
    from ...response.rules import parse_criteria, rules_for
    from ...response.targets import select_targets

    recs = sorted(records, key=lambda r: (r["study_date"], r["study_instance_uid"]))
    if not recs:
        raise BatchError("build_read_document: no successful study for this patient; nothing to assess.")
    pids = {r["patient_id"] for r in recs}
    if len(pids) != 1:
        raise BatchError(f"build_read_document got studies of several patients: {sorted(pids)}.")
    ann = dict(annotations or {})
    ann_les: Mapping[str, Mapping[str, Any]] = ann.get("lesions", {}) or {}
    tp_ids = _timepoint_ids(recs, ann)
    baseline_ids = [row["lesion_id"] for row in recs[0]["lesions"]]

    # what the masks say of each lesion's site (the first study that says), for lesions the
    # annotations do not describe (a PACS: a SEG's anatomic regions and fluid segments)
    mask_organs: dict[str, str] = {}
    mask_kinds: dict[str, str] = {}
    for r in recs:
        for lid, organ in (r.get("mask_organs") or {}).items():
            mask_organs.setdefault(lid, organ)
        for lid, kind in (r.get("mask_kinds") or {}).items():
            mask_kinds.setdefault(lid, kind)

    def flags(lid: str, row: Mapping[str, Any] | None) -> dict[str, Any]:
        a = dict(ann_les.get(lid, {}))
        out = {k: a[k] for k in _OBS_FLAGS if k in a}
        out.update(site_flags(a, mask_organs.get(lid), mask_kinds.get(lid)))
        if row is not None and row.get("viable_diameter_mm") is not None:
            out["enhancing"] = bool(row["viable_diameter_mm"] > 0)
        return out

    # each lesion's tracking UID, recorded now so that it stays when the read is edited later (a
    # corrected reader or baseline date): the annotations', else the one the exports derived for a
    # read without UIDs before they were recorded (the same in every run, and in objects sent then)
    reader = str(ann.get("reader_id", reader_id))

    def tracking_uid(lid: str) -> str:
        return str(ann_les.get(lid, {}).get("tracking_uid") or
                   name_based_tracking_uid(recs[0]["patient_id"], reader, _iso(recs[0]["study_date"]), lid))

    def observation(lid: str, row: Mapping[str, Any] | None, role: Any, rbc: Mapping[str, Any],
                    not_found: str | None = None, checks: Sequence[str] = (), problems: Sequence[str] = ()) -> Any:
        f = flags(lid, row)
        kind = str(f.get("kind", "lesion"))
        common: dict[str, Any] = {"lesion_id": lid, "role": role, "role_by_criteria": dict(rbc), "source": ALGORITHM, **f,
                                  "tracking_uid": tracking_uid(lid)}
        if problems:  # its mask lost voxels on the measured image (cut by its field): incomplete
            note = "measurement incomplete: " + "; ".join(problems)
            common["note"] = f"{common['note']}; {note}" if common.get("note") else note
            if row is None:
                return LesionObservation(status="not_evaluable", **common)
        if row is None and not_found is not None:
            # carried from an earlier study and not found there: gone or missed is a reader's call
            note = f"not segmented here when the earlier study's lesions were carried ({not_found}); read it by hand"
            common["note"] = f"{common['note']}; {note}" if common.get("note") else note
            return LesionObservation(status="not_evaluable", **common)
        if row is None:
            return LesionObservation(status="absent", longest_diameter_mm=0.0, short_axis_mm=0.0,
                                     viable_diameter_mm=0.0, viable_short_axis_mm=0.0, **common)
        if kind in _NON_MEASURED_KINDS:
            return LesionObservation(status="present", volume_mm3=row["volume_mm3"], **common)
        diam = ("longest_diameter_mm", "short_axis_mm", "viable_diameter_mm", "viable_short_axis_mm")
        vals = {k: round_mm(float(row[k])) for k in diam if row.get(k) is not None}
        vals.update({k: float(row[k]) for k in ("volume_mm3", "viable_volume_mm3", "necrosis_fraction")
                     if row.get(k) is not None})
        # the measured lines travel with the numbers (SR SCOORD3D, report key images, napari)
        eps = {axis: row[key] for axis, key in _ENDPOINT_KEYS if row.get(key) is not None}
        if checks:  # the segmenter says the mask may be wrong: a reader should look at it
            from ...segment.lesion import MASK_CHECKS

            note = "check the segmented mask: " + "; ".join(MASK_CHECKS.get(c, c) for c in checks)
            common["note"] = f"{common['note']}; {note}" if common.get("note") else note
        return LesionObservation(status="measured", endpoints=eps, **vals, **common)

    # Roles: annotations first, else proposed at baseline per criterion.
    explicit = {lid: a for lid, a in ann_les.items() if "role" in a or "role_by_criteria" in a}
    base_rows = {row["lesion_id"]: row for row in recs[0]["lesions"]}
    proposed: dict[str, dict[str, str]] = {lid: {} for lid in baseline_ids}
    crits = [str(parse_criteria(c)) for c in criteria]
    if any(lid not in explicit for lid in baseline_ids):
        probe = [observation(lid, base_rows[lid], "non_target", {}) for lid in baseline_ids]
        for c in crits:
            rules = rules_for(c)
            if not hasattr(rules, "max_targets"):
                continue
            chosen = set(select_targets(probe, rules, recs[0].get("slice_thickness_mm")))  # type: ignore[arg-type]
            for lid in baseline_ids:
                proposed[lid][c] = "target" if lid in chosen else "non_target"

    def roles(lid: str, first_tp: int) -> tuple[str, dict[str, str]]:
        if lid in explicit:
            a = explicit[lid]
            return str(a.get("role", "non_target" if first_tp == 0 else "new")), dict(a.get("role_by_criteria", {}))
        if first_tp > 0:
            return "new", {}
        p = proposed.get(lid, {})
        default = p.get(crits[0], "non_target") if crits else "non_target"
        return default, {c: r for c, r in p.items() if r != default}

    first_seen: dict[str, int] = {}
    for i, r in enumerate(recs):
        for row in r["lesions"]:
            first_seen.setdefault(row["lesion_id"], i)
        for lid in r.get("mask_problems") or {}:  # (a lesion wholly cut from its study's image: not_evaluable there)
            first_seen.setdefault(lid, i)
    tps = []
    for i, r in enumerate(recs):
        rows = {row["lesion_id"]: row for row in r["lesions"]}
        not_carried: Mapping[str, str] = (r.get("carried_from") or {}).get("not_carried", {})
        # clicked here by the carry (its carried point recorded) yet not in the map: never absent
        clicked: Mapping[str, Any] = (r.get("carried_from") or {}).get("seeds_lps", {})
        checks: Mapping[str, Sequence[str]] = r.get("segmentation_checks") or {}
        problems: Mapping[str, Sequence[str]] = r.get("mask_problems") or {}
        obs = []
        for lid, fs in sorted(first_seen.items(), key=lambda kv: (kv[1], _natural(kv[0]))):
            if fs > i:
                continue
            role, rbc = roles(lid, fs)
            if lid not in rows and role == "new" and lid not in problems:
                continue
            nf = not_carried.get(lid)
            if nf is None and lid not in rows and lid in clicked:
                nf = "it was carried here but holds no voxels of the carried label map"
            obs.append(observation(lid, rows.get(lid), role, rbc, nf, checks.get(lid, ()), problems.get(lid, ())))
        tps.append(TimePoint(id=tp_ids[i], date=_iso(r["study_date"]), lesions=tuple(obs),
                             modality="CT", slice_thickness_mm=r.get("slice_thickness_mm")))
    return ReadDocument(patient_id=recs[0]["patient_id"], reader_id=reader, timepoints=tuple(tps), criteria=tuple(crits))


def _natural(lid: str) -> tuple[str, int]:
    head = lid.rstrip("0123456789")
    tail = lid[len(head):]
    return head, int(tail) if tail else -1


def assess_document(doc: Any, criteria: Sequence[str]) -> Any:
    """Assess ``doc``: :func:`hcc_imaging.response.assess` (the ``assess`` command's core).

    Returns the :class:`hcc_imaging.response.Assessment` (``.results``: criterion -> result).
    """
    from ...response import assess

    return assess(doc, list(criteria))

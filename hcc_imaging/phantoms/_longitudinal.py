"""Several time points of the study phantom written together, with the RECIST 1.1 / mRECIST
responses and the reader's annotations their truth implies."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from ._paint import MRECIST_MIN_VIABLE_MM
from ._params import _DEFAULT_NOISE_SD_HU, DEFAULT_SHAPE, DEFAULT_SPACING_MM, PATIENT_ID, TIMEPOINTS, PhantomError
from ._study import _write_json, make_study


#: Target lesions chosen at baseline (RECIST 1.1 at most 2 per organ: the two largest
#: measurable untreated liver lesions; mRECIST: the same two, both enhancing, viable >= 10 mm).
TARGETS: dict[str, tuple[str, ...]] = {"recist_1_1": ("L1", "L2"), "mrecist": ("L1", "L2")}


def _r1(x: float) -> float:
    """Carry diameters in 0.1 mm (DESIGN.md section 2)."""
    return float(Fraction(round(x * 10), 10))


def _classify_targets(base: Fraction, nadir: Fraction, cur: Fraction, all_zero: bool, abs_floor_mm: Fraction | None) -> tuple[str, list[str]]:
    reasons: list[str] = []
    if all_zero:
        return "CR", ["all targets disappeared (sum 0)"]
    change_nadir = (cur - nadir) / nadir if nadir > 0 else Fraction(0)
    change_base = (cur - base) / base
    pd = change_nadir >= Fraction(1, 5) and (abs_floor_mm is None or cur - nadir >= abs_floor_mm)
    if pd:
        return "PD", [f"sum {float(cur):.1f} mm is {float(change_nadir) * 100:+.1f} % vs nadir {float(nadir):.1f} mm"]
    if change_base <= Fraction(-3, 10):
        return "PR", [f"sum {float(cur):.1f} mm is {float(change_base) * 100:+.1f} % vs baseline {float(base):.1f} mm"]
    reasons.append(f"sum {float(cur):.1f} mm: {float(change_base) * 100:+.1f} % vs baseline, {float(change_nadir) * 100:+.1f} % vs nadir")
    return "SD", reasons


def expected_responses(truths: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """RECIST 1.1 and mRECIST time-point responses implied by the analytic truth.

    Rules applied (docs/criteria.md sections 2 and 3):

    * Targets fixed at baseline: :data:`TARGETS`.  Diameters carried in 0.1 mm and compared
      exactly (fractions).
    * RECIST 1.1: sum of target LDs; CR = all targets gone; PR = <= -30 % vs baseline; PD = >= +20 %
      vs nadir **and** >= +5 mm; else SD.  mRECIST: sum of viable diameters; CR = no viable
      enhancement in any target; PR/PD as RECIST without the 5 mm floor.
    * Non-targets present throughout: non-CR/non-PD (none progresses unequivocally by design;
      the node's growth at fu2 coincides with a new lesion, so PD holds either way).
    * New lesion: any unequivocal new lesion -> PD (RECIST); intrahepatic new lesion >= 10 mm
      with the typical pattern -> PD (mRECIST).
    * Overall = Table 1: PD if target PD, non-target PD or new lesion; else CR/PR/SD from the
      target response with non-target non-CR/non-PD (a target CR then gives PR).
    """
    tps = list(truths)
    if not tps or tps[0]["timepoint"] != "baseline":
        raise PhantomError("expected_responses needs the baseline truth first (truths=[baseline, fu1, ...]).")
    out: dict[str, Any] = {"rules": inspect.cleandoc(expected_responses.__doc__ or ""), "targets": {k: list(v) for k, v in TARGETS.items()}}
    base_ids = set(tps[0]["lesions"])
    for crit, field_name, floor in (
        ("recist_1_1", "longest_diameter_mm", Fraction(5)),
        ("mrecist", "viable_diameter_mm", None),
    ):
        targets = TARGETS[crit]
        rows: list[dict[str, Any]] = []
        sums: list[Fraction] = []
        for t in tps:
            per = {lid: _r1(float(t["lesions"][lid][field_name])) for lid in targets}
            cur = sum((Fraction(v).limit_denominator(10) for v in per.values()), Fraction(0))
            sums.append(cur)
            row: dict[str, Any] = {"timepoint": t["timepoint"], "target_diameters_mm": per, "sum_mm": float(cur)}
            if t["timepoint"] == "baseline":
                row.update(target_response=None, overall=None)
                rows.append(row)
                continue
            base, nadir = sums[0], min(sums[:-1])
            tr, why = _classify_targets(base, nadir, cur, all(v == 0 for v in per.values()), floor)
            new = [lid for lid in t["lesions"] if lid not in base_ids]
            if crit == "mrecist":
                new = [lid for lid in new if t["lesions"][lid]["typical_hcc_pattern"]
                       and float(t["lesions"][lid]["longest_diameter_mm"]) >= MRECIST_MIN_VIABLE_MM]
            nt = "non-CR/non-PD"
            if new or tr == "PD":
                overall = "PD"
            elif tr == "CR":
                overall = "PR"  # non-targets persist (Table 1: CR + non-CR/non-PD -> PR)
            else:
                overall = tr
            row.update(
                baseline_sum_mm=float(base),
                nadir_sum_mm=float(nadir),
                change_from_baseline_frac=float((cur - base) / base),
                change_from_nadir_frac=float((cur - nadir) / nadir) if nadir else None,
                target_response=tr,
                non_target_response=nt,
                new_lesions=new,
                overall=overall,
                reasons=why + ([f"new lesion(s) {new}"] if new else []),
            )
            rows.append(row)
        out[crit] = rows
    return out


def write_longitudinal(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    timepoints: Sequence[str] = ("baseline", "fu1"),
    shape: Sequence[int] = DEFAULT_SHAPE,
    spacing: Sequence[float] = DEFAULT_SPACING_MM,
    noise_sd_hu: float = _DEFAULT_NOISE_SD_HU,
    transfer_syntax: str = "1.2.840.10008.1.2.1",
    masks: bool = True,
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    """Write several time points as DICOM (``out_dir/<timepoint>/<phase>/``) with one ``truth.json``.

    ``truth.json`` holds ``{"patient_id", "timepoints": {tp: truth}, "expected": ...}`` where
    ``expected`` is :func:`expected_responses`.  Each time point folder also gets its own
    ``truth.json`` and, with ``masks=True``, ``masks/{lesions,viable,liver}.nii.gz``.

    Every argument is checked, and every time point built, before anything is written (no folder
    is made for a call that is refused).

    Raises
    ------
    PhantomError
        ``timepoints`` empty, not starting with ``"baseline"``, with an unknown or repeated time
        point or out of order; a parameter :func:`make_study` refuses.
    DicomWriteError
        ``transfer_syntax`` is not one :func:`hcc_imaging.io.write.write_series` writes.
    """
    from ..io.write import check_transfer_syntax

    check_transfer_syntax(transfer_syntax, "write_longitudinal")
    if isinstance(timepoints, str):
        timepoints = (timepoints,)
    tps = list(timepoints)
    unknown = [t for t in tps if t not in TIMEPOINTS]
    if unknown:
        raise PhantomError(f"write_longitudinal: unknown time point(s) {unknown}; known: {list(TIMEPOINTS)} (timepoints=...).")
    if not tps or tps[0] != "baseline":
        raise PhantomError(
            f"write_longitudinal: timepoints must start with 'baseline' (the responses are measured from it), "
            f"got {tps}; e.g. timepoints=('baseline', 'fu1')."
        )
    if len(set(tps)) != len(tps) or tps != sorted(tps, key=TIMEPOINTS.__getitem__):
        raise PhantomError(
            f"write_longitudinal: timepoints must be distinct and in time order {list(TIMEPOINTS)}, got {tps}."
        )
    # every time point built (and so every parameter checked) before the first file is written
    studies = [make_study(seed, tp, shape=shape, spacing=spacing, noise_sd_hu=noise_sd_hu, patient_id=patient_id)
               for tp in tps]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truths = []
    written: dict[str, Any] = {}
    for tp, st in zip(tps, studies, strict=True):
        written[tp] = st.write_dicom(out / tp, transfer_syntax=transfer_syntax, masks=masks, patient_id=patient_id)
        truths.append({**st.truth, "dicom": {**st.truth["dicom"], "patient_id": patient_id}})
    doc = {
        "schema": "hcc_imaging.phantom_longitudinal/1",
        "patient_id": patient_id,
        "seed": seed,
        "timepoints": {t["timepoint"]: t for t in truths},
        "expected": expected_responses(truths),
    }
    _write_json(out / "truth.json", doc)
    _write_json(out / "annotations.json", annotations(truths, patient_id=patient_id))
    return {"truth": str(out / "truth.json"), "annotations": str(out / "annotations.json"), "timepoints": written}


def annotations(truths: Sequence[Mapping[str, Any]], *, patient_id: str = PATIENT_ID) -> dict[str, Any]:
    """A reader's lesion annotations implied by the truth (``annotations.json`` for the batch).

    Roles follow :data:`TARGETS` (the rest are non-targets; lesions first seen after baseline
    are new); kinds, organs and the HCC flags come from the phantom lesion kinds.  Time point ids
    are mapped from the StudyInstanceUIDs.
    """
    kinds = {"lymph_node": "lymph_node", "pvtt": "pvtt", "ascites": "ascites"}
    base = set(truths[0]["lesions"]) if truths else set()
    lesions: dict[str, Any] = {}
    for t in truths:
        for lid, rec in t["lesions"].items():
            if lid in lesions:
                continue
            k = rec["kind"]
            rbc = {crit: ("target" if lid in ids else "non_target") for crit, ids in TARGETS.items()}
            first = lid in base
            role = rbc["recist_1_1"] if first else "new"
            a: dict[str, Any] = {
                "role": role,
                "kind": kinds.get(k, "lesion"),
                "organ": rec["organ"],
                "is_lymph_node": k == "lymph_node",
            }
            if first and rbc["mrecist"] != role:
                a["role_by_criteria"] = {"mRECIST": rbc["mrecist"]}
            if k == "lymph_node":
                a["porta_hepatis"] = True
            if k in ("post_tace_lipiodol", "rim_only"):
                a["previously_treated"] = True
            if k in ("typical_hcc", "necrotic_hcc"):
                a["typical_hcc_pattern"] = True
                a["well_delineated"] = True
            if k == "infiltrative":
                a["well_delineated"] = False
                a["typical_hcc_pattern"] = False
            if k == "ascites":
                a["cytology_malignant"] = False
            lesions[lid] = a
    return {
        "schema": "hcc_imaging.annotations/1",
        "reader_id": "phantom-truth",
        "patient_id": patient_id,
        "timepoints": {t["dicom"]["study_instance_uid"]: t["timepoint"] for t in truths},
        "lesions": lesions,
    }

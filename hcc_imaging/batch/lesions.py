"""A study's lesions for ``hcc-imaging batch``: its images, and its lesion masks from wherever they
come (mask files beside it, its seeds segmented, or an earlier study's lesions carried to it).

:func:`study_lesions` is the one place the batch makes a study's lesions: what
:func:`~hcc_imaging.batch.pipeline.process_study` measures and the ``--export-sr`` SEG holds
(when the masks saved by the run are gone).  The sources:

* mask files: ``lesions.nii.gz`` (+ ``viable.nii.gz``), a DICOM SEG, an RTSTRUCT
  (:func:`_load_masks`);
* ``seeds.json``: each seed segmented (:func:`_segment_seeds`, as ``hcc-imaging segment``);
* ``StudyTask.carry_from``: the earlier study's lesions carried (:func:`_carry_masks`,
  :func:`hcc_imaging.segment.carry.carry_lesions`), with the study's own seeds added when its
  seeds file says ``"carry": true`` (:func:`hcc_imaging.batch.coalesce.merge_seeded`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._sites import mask_flags
from ..volume import LabelVolume, Modality, Phase, Volume
from ..io.masks import LABEL_NAMES_FILE
from .coalesce import also_holds, merge_seeded, shares_voxels
from .constants import ANNOTATIONS_FILE, MASKS_DIR, MEASUREMENT_PHASES, SEEDS_FILE
from .errors import BatchError, StudyStepError
from .resume import file_digest, safe_name
from .viable_parts import viable_parts

if TYPE_CHECKING:
    from .pipeline import PipelineOptions, StudyTask

log = logging.getLogger(__name__)

__all__ = ["PHASES_LEFT_OUT", "StudyLesions", "annotated_organ", "check_not_empty", "load_annotations", "load_image", "load_saved_masks",
           "mask_files", "mask_flags", "mask_problems", "phase_series", "pick_reference", "site_flags", "study_images",
           "study_lesions"]


def phase_series(series: Sequence[Any]) -> tuple[dict[str, Any], list[str]]:
    """One index series per phase of a study, by the rule the viewer and ``hcc-imaging segment``
    use (:func:`hcc_imaging.io.series.series_preference`: CT, then MR, then another modality,
    then the finer slices; the first of equals), and a note for each series not taken."""
    from ..io.series import series_preference

    groups: dict[str, list[Any]] = {}
    for se in series:
        groups.setdefault(str(se.phase.phase), []).append(se)
    chosen: dict[str, Any] = {}
    notes: list[str] = []
    for ph, group in groups.items():
        keep = min(group, key=lambda se: series_preference(se.modality, se.geometry.slice_spacing_mm))
        chosen[ph] = keep
        notes += [f"series {se.series_instance_uid} ({se.modality}, {ph}, {_slices(se)}) not used: one series "
                  f"per phase, here {keep.series_instance_uid} ({keep.modality}, {_slices(keep)})"
                  for se in group if se is not keep]
    return chosen, notes


def _slices(se: Any) -> str:
    mm = se.geometry.slice_spacing_mm
    return f"{mm:g} mm slices" if mm else "slice spacing unknown"


#: Words of a series description that name no anatomical image to measure on: a diffusion series
#: or its ADC / trace map (``DWI b800``, ``ep2d_diff``, ``ADC``), tokens of the normalised text.
_NOT_ANATOMICAL_WORDS = re.compile(
    r" (DWI\w*|DIFF\w*|EP2D ?DIFF\w*|ADC|EADC|DADC|TRACEW?|DTI|IVIM|B ?[0-9]{2,4}|B VALUES?) ")


def _non_anatomical_rank(se: Any) -> int:
    """0 for an anatomical image to measure lesions on; 1 for a diffusion series or its ADC map (by
    its description); 2 for a localizer, a subtraction or a mask stored as images (no volume to
    measure at all)."""
    if getattr(se, "is_localizer", False) or getattr(se, "is_subtraction", False) or getattr(se, "is_mask", False):
        return 2
    text = " ".join(str(getattr(se, a, "") or "") for a in ("series_description", "protocol_name"))
    norm = " " + re.sub(r"[^0-9A-Z]+", " ", text.upper()).strip() + " "
    return 1 if _NOT_ANATOMICAL_WORDS.search(norm) else 0


def pick_reference(series: Sequence[Any]) -> Any:
    """The series a study is measured on: the first phase of ``MEASUREMENT_PHASES`` present
    (portal venous; late arterial, arterial, early arterial; delayed, transitional, hepatobiliary;
    pre-contrast; unknown); of two series of that phase, the one the viewer shows
    (:func:`phase_series`).  Of series of no known phase, an anatomical image (a T2, a T1) before a
    diffusion series or an ADC map, and those before a localizer or a subtraction; else the first
    series."""
    from ..io.series import series_preference

    by_phase, _ = phase_series(series)
    for ph in MEASUREMENT_PHASES:
        if ph == "unknown":
            break
        if ph in by_phase:
            return by_phase[ph]
    unknown = [se for se in series if str(se.phase.phase) == "unknown"]
    if unknown:
        return min(unknown, key=lambda se: (_non_anatomical_rank(se), *series_preference(se.modality,
                                                                                      se.geometry.slice_spacing_mm)))
    return series[0]


def load_annotations(files: Sequence[str]) -> dict[str, Any]:
    """Merge annotation files (nearest first wins per lesion id / key).

    Raises
    ------
    BatchError
        A file is not valid JSON or not an object.
    """
    merged: dict[str, Any] = {"lesions": {}, "timepoints": {}}
    by_key = ("lesions", "timepoints", "study_dates")  # (merged per lesion id / StudyInstanceUID)
    for f in reversed(list(files)):  # farthest first, nearest overrides
        try:
            obj = json.loads(Path(f).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise BatchError(f"annotations file {f} cannot be read as JSON ({err}). Fix the file or remove it.") from err
        if not isinstance(obj, dict):
            raise BatchError(f"annotations file {f} must hold a JSON object with a 'lesions' mapping.")
        for k, v in obj.items():
            if k in by_key and isinstance(v, dict):
                merged.setdefault(k, {}).update(v)
            else:
                merged[k] = v
    return merged


def annotated_organ(a: Mapping[str, Any]) -> str | None:
    """A lesion's organ as its annotation gives it: ``"lymph_node"`` for a node, else its
    ``organ``; None when the annotation says neither."""
    if a.get("is_lymph_node"):
        return "lymph_node"
    return str(a["organ"]) if a.get("organ") else None


def _load_masks(task: StudyTask, ref: Volume) -> StudyLesions:
    """The study's mask files (lesions.nii.gz and viable.nii.gz, a DICOM SEG, an RTSTRUCT) on
    ``ref``; a study with none (and no seeds, nothing carried) is a failure at ``masks``."""
    from ..io.masks import load_mask

    inp = task.inputs
    if inp.lesion_masks:
        if len(inp.lesion_masks) > 1:
            raise StudyStepError(
                "masks",
                f"study {task.study_instance_uid}: several lesion masks beside it ({', '.join(inp.lesion_masks)}); "
                "keep one lesions.nii.gz per study folder (label n = lesion n).",
            )
        lesions = load_mask(inp.lesion_masks[0], reference=ref, label_names=_label_names(inp.labels_file))
        viable = load_mask(inp.viable_masks[0], reference=ref, label_names=dict(lesions.labels)) if inp.viable_masks else None
        return StudyLesions(lesions, viable, os.path.basename(inp.lesion_masks[0]))
    if inp.seg_files:
        from ..export.seg import read_seg

        rd = read_seg(inp.seg_files[0], reference=ref)
        return StudyLesions(rd.lesions, rd.viable, "DICOM SEG", organs=dict(rd.organs), kinds=dict(rd.kinds))
    if inp.rtstruct_files:
        return StudyLesions(load_mask(inp.rtstruct_files[0], reference=ref), None, "DICOM RTSTRUCT")
    url = task.extra.get("dicomweb_url")
    if url:
        raise StudyStepError(
            "masks",
            f"study {task.study_instance_uid} on {url}: the server holds no DICOM SEG or RTSTRUCT of its lesions. "
            "Store one there (`hcc-imaging segment ... --out lesions.dcm` writes a SEG), run with --carry so that a "
            "follow-up's lesions come from an earlier study's SEG, or retrieve the study into a folder "
            f"with lesions.nii.gz or a {SEEDS_FILE} beside it.",
        )
    note = task.extra.get("root_note")
    if note:  # no folder of its own (shared, spread over another study's folder, a zip SOURCE): why, and what to do
        raise StudyStepError(
            "masks",
            f"study {task.study_instance_uid} ({task.root}): no lesion mask beside it. It has no DICOM SEG or "
            f"RTSTRUCT, and lesions.nii.gz or {SEEDS_FILE} are not looked for in its folder: {note}",
        )
    raise StudyStepError(
        "masks",
        f"study {task.study_instance_uid} ({task.root}): no lesion mask beside it. Put lesions.nii.gz "
        f"(and viable.nii.gz), a DICOM SEG/RTSTRUCT, or a {SEEDS_FILE} in the study folder.",
    )


def _label_names(path: str | None) -> dict[int, str] | None:
    """The lesion ids of a lesion mask's label values from the ``labels.json`` beside it
    (:func:`hcc_imaging.io.masks.read_label_names`); None without one."""
    from ..io.masks import MaskFormatError, read_label_names

    if path is None:
        return None
    try:
        return read_label_names(path)[0]
    except MaskFormatError as err:
        raise StudyStepError("masks", str(err)) from err


def _segment_seeds(
    seeds_file: str, ref: Volume, phases: Mapping[Phase, Volume]
) -> tuple[LabelVolume, LabelVolume | None, list[int], dict[str, tuple[str, ...]], dict[str, str]]:
    """Segment each seed with :func:`hcc_imaging.segment.lesion.segment_lesion` (phase: the seed's
    ``"phase"``, else the segmenter's most conspicuous phase); masks resampled onto ``ref``.  A
    lesion is given by a click (``"seed_lps"`` or ``"seed_index"``) or by a line across it
    (``"line_lps"``: two LPS points, e.g. a reader's longest diameter, as ``--line``).  A voxel two
    lesions' clicks segment is the first's; a lesion left with less than
    ``segment.carry.MIN_KEPT_FRACTION`` of its segmentation (its click segmented the mass an earlier
    seed's lesion holds: two seeds on one lesion, or coalesced lesions) is a ``StudyStepError``
    naming both, never a lesion without voxels (read ``absent``, 0 mm, at a follow-up).

    As ``hcc-imaging segment`` does: ``"liver": true`` at the file's top level keeps each lesion
    inside the study's classical liver mask (made once, holding every liver lesion's seed, as
    ``--liver`` holds the click); a lesion with ``"extrahepatic": true`` (a lymph node) is kept out
    of that mask (made for it in any case, as ``--liver --extrahepatic``).

    Returns the lesions (label n = the file's n-th lesion, named by its id), the liver mask their
    viable parts read the parenchyma in (with ``"liver": true``; :func:`study_lesions`), the
    extrahepatic lesions' labels, the segmenter's checks by lesion id (those with any:
    ``SegmentationResult.checks``) and the phase each lesion was segmented on by lesion id (its
    viable part is aligned from it: :mod:`.viable_parts`)."""
    from ..segment.carry import MIN_KEPT_FRACTION
    from ..segment.lesion import seed_point_lps, segment_lesion
    from ..segment.liver import segment_liver

    try:
        doc = json.loads(Path(seeds_file).read_text(encoding="utf-8"))
        seeds = doc["lesions"]
        in_liver = bool(doc.get("liver", False))
        extra = [bool(s.get("extrahepatic", False)) for s in seeds]
        lines = [None if s.get("line_lps") is None else np.asarray(s["line_lps"], float).reshape(2, 3) for s in seeds]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
        raise StudyStepError("masks", f"{seeds_file}: not a seeds file ({err}); expected "
                                      '{"lesions": [{"lesion_id": "L1", "seed_lps": [x, y, z]}]}, a lesion given by '
                                      '"seed_lps", "seed_index" or "line_lps" ([[x, y, z], [x, y, z]], a line across '
                                      'it), optionally "liver": true, "carry": true (added to the lesions carried '
                                      'from the earlier study) and, per lesion, "extrahepatic": true and "phase".'
                                      ) from err
    vols = dict(phases)
    liver = None
    if in_liver or any(extra):
        # the points segment_lesion clicks (a line's midpoint), as the CLI's --liver holds them
        include = [seed_point_lps(vols, seed_lps=s.get("seed_lps"), seed_index=s.get("seed_index"), line_lps=ln,
                                  phase=s.get("phase"))
                   for s, e, ln in zip(seeds, extra, lines, strict=True) if in_liver and not e] or None
        liver = segment_liver(vols, phase=ref.phase, include_lps=include)
    out = np.zeros(ref.shape, np.uint16)
    names: dict[int, str] = {}
    checks: dict[str, tuple[str, ...]] = {}
    seg_phases: dict[str, str] = {}
    for n, (s, e, ln) in enumerate(zip(seeds, extra, lines, strict=True), start=1):
        lid = str(s.get("lesion_id", f"L{n}"))
        where: dict[str, Any] = {"line_lps": ln} if ln is not None else {
            "seed_lps": s.get("seed_lps"), "seed_index": s.get("seed_index")}
        res = segment_lesion(vols, phase=s.get("phase"), label=n, lesion_id=lid,
                             liver=liver if (e or in_liver) else None, extrahepatic=e, **where)
        m = res.labels.resample_to(ref).array != 0 if not res.labels.geometry.equals(ref.geometry) else res.labels.array != 0
        own, left = int(np.count_nonzero(m)), int(np.count_nonzero(m & (out == 0)))
        if own and left < MIN_KEPT_FRACTION * own:
            # its click segmented the mass an earlier seed's lesion holds: left with (almost) no voxels
            # it would be read absent (0 mm) at a follow-up; the reader must say which lesion is which
            who = ", ".join(names[int(v)] for v in np.unique(out[m]) if v != 0)
            raise StudyStepError("masks", f"{seeds_file}: the click of {lid} segmented the mass {who} holds ({own - left} "
                                          f"of its {own} voxels): two seeds on one lesion, or lesions that coalesced. "
                                          "Give one seed per lesion (a coalescence is recorded by hand), or the "
                                          "lesions' masks.")
        out[m & (out == 0)] = n
        names[n] = lid
        seg_phases[lid] = str(res.phase)
        if res.checks:
            checks[lid] = tuple(res.checks)
    lesions = LabelVolume.like(ref, out, labels=names)
    return lesions, liver if in_liver else None, [n for n, e in enumerate(extra, 1) if e], checks, seg_phases


def _carry_masks(task: StudyTask, src: StudyTask, ref: Volume, phases: Mapping[Phase, Volume],
                 options: PipelineOptions) -> tuple[StudyLesions, LabelVolume | None]:
    """The lesions of ``src`` (``task.carry_from``: its masks, or its seeds segmented, or what was
    carried to it) carried to this study and segmented there
    (:func:`hcc_imaging.segment.carry.carry_lesions`, kept in the liver; lymph nodes and other
    organs by the annotations, and the earlier study's extrahepatic lesions, kept out of it).
    Returns the lesions (no viable parts yet; ``carried``: how, the record's ``carried_from``: the
    study, the lesions not carried or not found and why; the extrahepatic labels, the segmenter's
    checks and each lesion's organ, the annotations' or the earlier study's) and the liver mask
    they were kept in."""
    from ..export.codes import FLUID_CODES
    from ..segment.carry import carry_lesions, lies_in_liver
    from ..segment.errors import RegistrationError, SegmentationError

    try:
        src_ref, src_phases = study_images(src, options)
        got = study_lesions(src, src_ref, src_phases, options, viable=False)
    except StudyStepError as err:
        raise StudyStepError("masks", f"the lesions to carry from the earlier study {src.study_instance_uid} "
                                      f"({src.root}) could not be read: {err}") from err
    except Exception as err:
        raise StudyStepError("masks", f"the lesions to carry from the earlier study {src.study_instance_uid} "
                                      f"({src.root}) could not be read: {type(err).__name__}: {err}") from err
    ann = load_annotations(task.inputs.annotations_files)["lesions"]
    src_lesions, src_source = got.lesions, got.source
    names = dict(src_lesions.labels)
    extra: list[int] = []
    # lesions the earlier study had carried and not found stay not found (never gone)
    skipped: dict[str, str] = {lid: f"not found at the earlier study {src.study_instance_uid} it was carried to: {why}"
                               for lid, why in (got.carried or {}).get("not_carried", {}).items()}
    organs: dict[str, str] = {}
    for lab in src_lesions.present_labels():
        lid = names.get(lab, f"L{lab}")
        # the annotation's site, else the masks' (a SEG's property type and anatomic region:
        # ascites, a node on a PACS)
        site = site_flags(ann.get(lid, {}), got.organs.get(lid), got.kinds.get(lid))
        kind = str(site.get("kind") or "lesion")
        organ = annotated_organ(site)
        if organ:
            organs[lid] = organ
        # a fluid (export.codes.FLUID_CODES: ascites, an effusion) is not a lesion a click segments:
        # not evaluable at the follow-up unless its mask is given there
        if kind in FLUID_CODES:
            skipped[lid] = (f"not carried: {kind} is not a lesion a click segments; give its mask at this study "
                            "(lesions.nii.gz beside it)")
        elif lab in got.extrahepatic or not lies_in_liver(organ, is_lymph_node=organ == "lymph_node", kind=kind):
            extra.append(lab)  # kept out of the liver mask
    carried = src_lesions
    if skipped:
        keep = np.isin(src_lesions.array, [lab for lab in src_lesions.present_labels()
                                            if names.get(lab, f"L{lab}") not in skipped])
        carried = src_lesions.with_array(np.where(keep, src_lesions.array, 0))
    try:
        c = carry_lesions(src_phases, carried, phases, in_liver=True, extrahepatic=extra, reference=ref)
    except (SegmentationError, RegistrationError) as err:
        raise StudyStepError("masks", f"carrying the lesions of study {src.study_instance_uid}: {err}") from err
    if c.registration_problems:
        # the lesions were clicked where a failed registration put them: not a measurement of them
        from ..segment.carry import suspect_message

        raise StudyStepError("masks", f"carrying the lesions of study {src.study_instance_uid} ({src.root}): "
                                      f"{suspect_message(c.registration, c.registration_problems)} Give this study "
                                      "its own lesion masks or seeds (then it is measured without carrying).")
    how = {"study_instance_uid": src.study_instance_uid, "study_date": src.study_date, "mask_source": src_source,
           "registration_in_liver": c.registration_in_liver,
           "not_carried": {**skipped, **{c.names[lab]: " ".join(why.split()) for lab, why in c.failed.items()}},
           "notes": list(c.notes),
           # provenance: where each lesion was clicked (LPS mm) and the transform that put it there
           "seeds_lps": {c.names[lab]: [round(float(v), 2) for v in p] for lab, p in c.seeds_lps.items()},
           "registration": c.registration.to_json()}
    checks = {c.names[lab]: tuple(r.checks) for lab, r in c.results.items() if r.checks}
    # a lesion whose click segmented the mass another carried lesion holds is not carried (in
    # c.failed: not_evaluable, "merged with ..."); the one that kept the voxels measures the whole mass
    for lab, takers in c.merged.items():
        for t in takers:
            checks[c.names[t]] = (*checks.get(c.names[t], ()), also_holds(c.names[lab]))
    # two carried lesions whose segmentations overlapped (both kept, the voxels split): both checked
    for lab, others in c.shared.items():
        for t in others:
            for a, b in ((lab, t), (t, lab)):
                checks[c.names[a]] = (*checks.get(c.names[a], ()), shares_voxels(c.names[b]))
    found = {c.names[lab] for lab in c.results}
    return StudyLesions(c.labels, None, f"carried from {src.study_instance_uid} ({src_source})", how,
                        tuple(lab for lab in extra if lab in c.results), segmented=True, checks=checks,
                        organs={k: v for k, v in organs.items() if k in found},
                        seg_phases={c.names[lab]: str(r.phase) for lab, r in c.results.items()}), c.liver


@dataclass(frozen=True, slots=True)
class StudyLesions:
    """A study's lesions as :func:`study_lesions` makes them."""

    lesions: LabelVolume
    viable: LabelVolume | None
    #: where they came from (``mask_source``)
    source: str
    #: how they were carried (the record's ``carried_from``), None when they were not
    carried: dict[str, Any] | None = None
    #: the labels of lesions outside the liver (a seeds file's ``"extrahepatic"``, or kept out of
    #: the liver mask when carried)
    extrahepatic: tuple[int, ...] = ()
    #: made by this run (seeds segmented, or carried), not read from mask files: the run saves them
    #: (:func:`mask_files`)
    segmented: bool = False
    #: lesion id -> what the segmenter says a reader should check (``SegmentationResult.checks``:
    #: a possible leak, the image's edge, the scanned range); only lesions with any
    checks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: lesion id -> organ, as the masks give it (a DICOM SEG's anatomic regions; a carried lesion's
    #: from the earlier study): what :func:`_carry_masks` uses when the annotations do not say, and
    #: the ``--export-sr`` SEG writes
    organs: Mapping[str, str] = field(default_factory=dict)
    #: lesion id -> lesion kind, as the masks give it: a DICOM SEG's fluid segments (``"ascites"``,
    #: ``"effusion"``; ``SegRead.kinds``), which :func:`_carry_masks` does not carry when the
    #: annotations do not say (a PACS)
    kinds: Mapping[str, str] = field(default_factory=dict)
    #: lesion id -> the phase it was segmented on (seeds, carried): its viable part is checked
    #: against the arterial phase from it (:mod:`.viable_parts`)
    seg_phases: Mapping[str, str] = field(default_factory=dict)
    #: lesion id -> that check's record (``translation_mm``, ``moved``, ``mi``) and ``notes``: the
    #: study record's ``viable_alignment`` (only lesions checked)
    viable_alignment: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)




def site_flags(annotation: Mapping[str, Any], organ: str | None, kind: str | None) -> dict[str, Any]:
    """A lesion's site flags (``organ``, ``is_lymph_node``, ``kind``): the annotation's, else what
    its masks say (:func:`mask_flags`); an annotation that gives any of them is taken whole (it
    describes the lesion).  The one rule the carry, the measurement, the read and the SEG export
    follow."""
    keys = ("organ", "is_lymph_node", "kind")
    if any(k in annotation for k in keys):
        return {k: annotation[k] for k in keys if k in annotation}
    return mask_flags(organ, kind)


def study_lesions(task: StudyTask, ref: Volume, phases: Mapping[Phase, Volume], options: PipelineOptions,
                  viable: bool = True) -> StudyLesions:
    """The study's lesions (on ``ref``) and their viable parts (``viable``: else None): its mask
    files, else its seeds (segmented on ``phases``), else (``task.carry_from``) the earlier study's
    carried to it, with its own seeds added when its seeds file says ``"carry": true``.  What
    :func:`~hcc_imaging.batch.pipeline.process_study` measures."""
    inp = task.inputs
    src = task.carry_from if not inp.has_masks_files else None
    seeded = bool(inp.seeds_file) and not inp.has_masks_files
    if src is None and not seeded:
        return _load_masks(task, ref)
    how: dict[str, Any] | None = None
    organs: dict[str, str] = {}
    seg_phases: dict[str, str] = {}
    if src is not None:
        car, liver = _carry_masks(task, src, ref, phases, options)
        lesions, extra, checks, source, how = car.lesions, list(car.extrahepatic), dict(car.checks), car.source, car.carried
        organs, seg_phases = dict(car.organs), dict(car.seg_phases)
    if seeded:
        s_lesions, s_liver, s_extra, s_checks, s_phases = _segment_seeds(str(inp.seeds_file), ref, phases)
        seg_phases = {**seg_phases, **s_phases}  # a seed replaces the carried lesion of its id
        if how is None:
            lesions, liver, extra, checks, source = s_lesions, s_liver, s_extra, s_checks, SEEDS_FILE
        else:
            lesions, extra, holds = merge_seeded(lesions, extra, s_lesions, s_extra, how)
            # a seed replaces the carried lesion of its id, and its checks (its organ stays: the same lesion)
            checks = {**{k: v for k, v in checks.items() if k not in s_lesions.labels.values()}, **s_checks}
            for taker, held in holds.items():  # a seeded lesion that took in a carried one, as a carried taker
                checks[taker] = (*checks.get(taker, ()), *(also_holds(lid) for lid in held))
            liver = liver if liver is not None else s_liver
            source = f"{source} + {SEEDS_FILE}"
    v, align = None, {}
    if viable and how is None:
        v, align = viable_parts(lesions, phases, liver, extra, f"{inp.seeds_file}: the viable part of a seeded lesion "
                                "was not found", 'Add "liver": true to the seeds file (the parenchyma is then read in '
                                "the liver mask), or put viable.nii.gz beside the study.", seg_phases)
    elif viable:
        v, align = viable_parts(lesions, phases, liver, extra, "the viable part of a carried lesion was not found",
                                "Put lesions.nii.gz and viable.nii.gz beside the study, or a seeds.json.", seg_phases)
    return StudyLesions(lesions, v, source, how, tuple(extra), segmented=True, checks=checks, organs=organs,
                        seg_phases=seg_phases, viable_alignment=align)


#: The annotations' key that says a study's lesion mask is empty on purpose (every lesion gone):
#: a list of StudyInstanceUIDs (or the time point ids ``timepoints`` gives them).
NO_LESIONS_KEY = "no_lesions"


def check_not_empty(task: StudyTask, got: StudyLesions, annotations: Mapping[str, Any]) -> None:
    """Refuse a study whose lesion mask file holds no lesion (every voxel 0), unless the
    annotations list it under :data:`NO_LESIONS_KEY`.

    Such a mask is far more often an export error (a blank file, the wrong label map) than a
    complete response, and every lesion would be read ``absent`` (0 mm): CR under RECIST 1.1 and
    mRECIST, without a word.  Masks the run made (seeds, carried: a lesion not found there is
    ``not_evaluable``) are not checked.

    Raises
    ------
    StudyStepError
        At step ``masks``, naming the study, its mask and how to say that the lesions are gone.
    """
    if got.segmented or got.carried is not None or np.any(np.asarray(got.lesions.array)):
        return
    uid = task.study_instance_uid
    declared = {str(x) for x in (annotations.get(NO_LESIONS_KEY) or [])}
    tp = (annotations.get("timepoints") or {}).get(uid)
    if uid in declared or (tp is not None and str(tp) in declared):
        return
    raise StudyStepError(
        "masks",
        f"study {uid} ({task.root}): its lesion mask ({got.source}) holds no lesion (every voxel 0). An empty mask "
        "is far more often an export error than a complete response, and every lesion would be read absent (CR), so "
        "the study is not measured. Export the mask again; or, if every lesion is gone, say so in the patient's "
        f'{ANNOTATIONS_FILE}: "{NO_LESIONS_KEY}": ["{uid}"] (or its time point id).',
    )


def mask_problems(got: StudyLesions, ref: Volume) -> dict[str, list[str]]:
    """Lesion id -> why its measurement is incomplete, for the lesions whose mask file (or viable
    part) placed on the measured image lost voxels: partly or wholly outside the image's field (an
    end slice of the series unreadable and skipped, a mask drawn on a longer series) or vanished on
    its coarser grid (``io.masks`` records them in the mask's ``meta``: ``cut_by_field``,
    ``lost_on_grid``); and for the lesions whose viable mask lies more than
    ``measure.constants.VIABLE_OUTSIDE_MAX_FRACTION`` outside every lesion (only the part inside is
    measured: :func:`hcc_imaging.measure.viable.viable_outside_lesions`).  Empty when none.  The
    record's ``mask_problems``: a column of lesions.csv, a failures.csv row (step ``incomplete``)
    and the lesion's note in the read (``not_evaluable`` when nothing of it is left)."""
    from ..io._mask_gaps import filled_slices_note

    where = f"series {ref.series_instance_uid or 'unknown'}, {ref.shape[0]} slices"
    out: dict[str, list[str]] = {}
    for lv, what in ((got.lesions, "mask"), (got.viable, "viable part's mask")):
        if lv is None:
            continue
        for lid, (n_out, n, left) in sorted((lv.meta.get("cut_by_field") or {}).items()):
            out.setdefault(lid, []).append(
                f"{n_out} of the {n} voxels of its {what} lie outside the measured image ({where}): cut, measured smaller "
                "than it is" if left else
                f"all {n} voxels of its {what} lie outside the measured image ({where}): not measured")
        for lid, n in sorted((lv.meta.get("lost_on_grid") or {}).items()):
            out.setdefault(lid, []).append(
                f"its {what} ({n} voxels) vanished on the measured image's coarser grid ({where}): not measured")
        for lid, ks in sorted((lv.meta.get("filled_slices") or {}).items()):
            out.setdefault(lid, []).append(f"its {what}: " + filled_slices_note(ks, ref.series_instance_uid))
    if got.viable is not None and got.viable.geometry_equal(got.lesions):
        from ..measure.viable import viable_outside_lesions, viable_outside_message

        for lid, (n_out, n) in sorted(viable_outside_lesions(got.lesions, got.viable).items()):
            if lid in got.lesions.labels.values():  # (a viable value of no lesion: the measurement's warning)
                out.setdefault(lid, []).append(viable_outside_message(lid, n_out, n))
    return out


def mask_files(got: StudyLesions, study_uid: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The masks a run made for a study, as the files it saves under ``OUT``
    (``masks/<study>/lesions.nii.gz``, ``viable.nii.gz``, ``labels.json``).

    Made in the worker and returned with the study's record (the driver writes them, so a worker
    of a remote Dask cluster needs no access to ``OUT``).  Returns the record's ``masks`` entry
    (paths relative to ``OUT``, and the label -> lesion id names NIfTI does not hold) and the
    files' bytes by the same relative paths.
    """
    import tempfile

    from ..io.masks import save_mask

    folder = f"{MASKS_DIR}/{safe_name(study_uid)}"
    names = {str(k): str(v) for k, v in sorted(got.lesions.labels.items())}
    entry: dict[str, Any] = {"lesions": f"{folder}/lesions.nii.gz", "labels": names,
                             **({"organs": dict(sorted(got.organs.items()))} if got.organs else {})}
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="hcc_masks_") as tmp:
        for what, lv in (("lesions", got.lesions), ("viable", got.viable)):
            if lv is None:
                continue
            path = Path(tmp) / f"{what}.nii.gz"
            save_mask(lv, path)
            entry[what] = f"{folder}/{what}.nii.gz"
            files[entry[what]] = path.read_bytes()
    # what the study was measured with: load_saved_masks uses a saved file only while it is still that
    entry["sha256"] = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(files.items())}
    files[f"{folder}/{LABEL_NAMES_FILE}"] = (json.dumps({"labels": names, "mask_source": got.source,
                                                         **({"organs": entry["organs"]} if got.organs else {})},
                                                        indent=2, sort_keys=True) + "\n").encode("utf-8")
    return entry, files


def load_saved_masks(out_dir: str | os.PathLike[str], entry: Mapping[str, Any],
                     ref: Volume) -> tuple[LabelVolume, LabelVolume | None] | None:
    """The masks a run saved for a study (its record's ``masks`` entry, :func:`mask_files`) on
    ``ref``, with their lesion ids; None when the lesion mask is no longer there, or when a saved
    file is no longer the one the study was measured with (its sha256 in the entry; edited in
    place, or removed): the caller then makes them again, as measured.  A warning names the file
    and says how edited masks are measured (put beside the study)."""
    from ..io.masks import load_mask

    names = {int(k): str(v) for k, v in entry.get("labels", {}).items()}
    les_path = Path(out_dir) / str(entry["lesions"])
    if not les_path.is_file():
        return None
    for rel, digest in (entry.get("sha256") or {}).items():
        p = Path(out_dir) / rel
        if rel.endswith(LABEL_NAMES_FILE):
            continue  # (the lesion ids are the entry's own)
        if not p.is_file() or file_digest(p) != digest:
            log.warning("%s is not the mask its study was measured with (%s): the export makes the study's masks "
                        "again, as measured, and leaves that file as it is. To measure with edited masks, put "
                        "lesions.nii.gz, viable.nii.gz and labels.json beside the study and run again.",
                        p, "removed" if not p.is_file() else "changed since")
            return None
    lesions = load_mask(les_path, reference=ref, label_names=names)
    via = entry.get("viable")
    viable = None
    if via is not None and (Path(out_dir) / str(via)).is_file():
        viable = load_mask(Path(out_dir) / str(via), reference=ref, label_names=names)
    return lesions, viable



def _needs_phases(task: StudyTask) -> bool:
    """Whether the study's lesions are segmented (seeds, or carried): then every phase is loaded
    (the segmenter picks the most conspicuous one)."""
    return not task.inputs.has_masks_files and (bool(task.inputs.seeds_file) or task.carry_from is not None)


#: The reference Volume's ``meta`` key for the phases :func:`_load_phases` left out (another scan).
PHASES_LEFT_OUT = "phases_left_out"


def study_images(task: StudyTask, options: PipelineOptions) -> tuple[Volume, dict[Phase, Volume]]:
    """The study's reference image and the phases its lesions need (:func:`_needs_phases`)."""
    if _needs_phases(task):
        return _load_phases(task, options)
    ref = load_image(pick_reference(task.series), options)
    return ref, {ref.phase: ref}


def _load_phases(task: StudyTask, options: PipelineOptions) -> tuple[Volume, dict[Phase, Volume]]:
    """The study's reference image and every phase (the reference first, then one series per other
    phase)."""
    from ..io import one_scan

    ref_info = pick_reference(task.series)
    ref = load_image(ref_info, options)
    phases: dict[Phase, Volume] = {ref.phase: ref}
    for se in phase_series(task.series)[0].values():
        if se is not ref_info and Phase(se.phase.phase) not in phases:
            v = load_image(se, options)
            phases[v.phase] = v
    # another scan (the patient re-scanned after moving, another study's series): the phases are used
    # together only on one scan (segment_lesion refuses a mix), so that phase is left out
    phases, others = one_scan(phases, ref.phase) if ref.frame_of_reference_uid else (phases, {})
    left_out = [f"series {v.series_instance_uid} ({v.phase}) not used: in another frame of reference than the measured "
                f"series {ref.series_instance_uid} ({ref.phase}), so not the same scan; its phase is left out of the "
                "segmentation" for v in others.values()]
    for note in left_out:
        log.warning("study %s: %s", task.study_instance_uid, note)
    if left_out:  # (process_study lists them with the record's series_not_used)
        ref = replace(ref, meta={**ref.meta, PHASES_LEFT_OUT: tuple(left_out)})
        phases[ref.phase] = ref
    if options.bias_correct:
        # (--bias-correct) the MR series the lesions are segmented on, divided by their N4 bias field; CT as it is
        from ..segment import bias_corrected

        phases = {k: bias_corrected(v) if v.modality == Modality.MR else v for k, v in phases.items()}
        ref = phases[ref.phase]
    return ref, phases


def load_image(se: Any, options: PipelineOptions) -> Volume:
    """One series of the index as a :class:`~hcc_imaging.volume.Volume`, with the run's geometry
    options."""
    from ..io import load_series

    return load_series(se, on_tilt=options.on_tilt, on_irregular=options.on_irregular)  # type: ignore[arg-type]

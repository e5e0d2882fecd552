"""``hcc-imaging segment SERIES --seed Z,Y,X --out MASK``: seeded 3-D lesion segmentation.

SERIES is one DICOM series (folder, zip, DICOMDIR or file), a study folder holding several
phases (the most conspicuous phase is used unless ``--phase``), or a NIfTI image.  The seed is
a voxel index ``--seed Z,Y,X`` = (slice, row, col), an LPS point ``--seed-lps X,Y,Z`` (mm), a
line drawn across the lesion ``--line X1,Y1,Z1,X2,Y2,Z2`` (mm), or the lesion's mask at another
time point ``--from-mask MASK --from-series PATH`` (registered, its centre carried across; with
``--each-label`` every lesion of MASK, one registration, one label map out).  Negative numbers need the
``=`` form: ``--seed-lps=-12.5,40,-300``.  The mask is written as NIfTI (``.nii``/``.nii.gz``) or
DICOM SEG (``.dcm``) by extension.  Numbers come from :func:`hcc_imaging.segment.segment_lesion`,
the function the napari plugin and the batch engine call.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from ..errors import HccImagingError
from ._segment_advice import cli_seed_advice
from ._segment_names import planned_label_names, write_label_names
from ._segment_phase import image_file_phase, parse_set_phase, series_overrides

__all__ = ["register", "run", "SegmentArgumentError"]

log = logging.getLogger(__name__)


class SegmentArgumentError(HccImagingError, ValueError):
    """A ``segment`` command-line argument is malformed."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "segment",
        help="3-D lesion mask from one click (or a line across the lesion)",
        description=(
            "Segment the lesion under a seed point (or a line across it) on the phase where it is most "
            "conspicuous: a region grown in an intensity window between the lesion and its surroundings "
            "on the smoothed image, then, where they apply, a star-shaped surface for heterogeneous "
            "tumours, the phases used jointly, an enhancing rim or a necrotic core's rind (two nested "
            "surfaces fitted), a filling defect in a vessel, and the border fitted to a blurred-surface "
            "or the scanner's point-spread model (the method, step by step: the "
            "hcc_imaging.segment.lesion docstring; its accuracy and limits: docs/validation.md). "
            "A mask a reader should check says why (printed as 'note:' and in --json's provenance). "
            "Optionally inside an automatic liver mask (--liver) and with the viable (arterially "
            "enhancing) part written too (--viable-out)."
        ),
    )
    p.add_argument("series", metavar="SERIES", help="DICOM series or study folder (phases), zip, DICOMDIR, or NIfTI image")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--seed", metavar="Z,Y,X", help="seed voxel (slice, row, col) on the grid of --phase (default: of the first series); "
                                                "indices from 0 (a value starting with '-' needs --seed=...)")
    g.add_argument("--seed-lps", metavar="X,Y,Z", help="seed point in patient LPS mm (use --seed-lps=-1,2,3 for negatives)")
    g.add_argument("--line", metavar="X1,Y1,Z1,X2,Y2,Z2", help="line across the lesion, two LPS points in mm (use --line=-1,2,3,4,5,6 for negatives)")
    g.add_argument("--from-mask", metavar="MASK",
                   help="the lesion's mask at another time point (NIfTI, SEG, RTSTRUCT, on --from-series): SERIES is "
                        "registered to those images (rigid then affine; with --liver inside their liver mask) and the "
                        "mask's centre, carried across, is the seed (a follow-up segmented from the baseline's lesion). "
                        "The registration is checked (the images' match, the field, with --liver the two livers' "
                        "overlap): a suspect one is said ('registration suspect:', --json's "
                        "carried_from.registration_problems) and the exit code is 1")
    p.add_argument("--from-series", metavar="PATH",
                   help="with --from-mask: the images that mask lies on (DICOM series or study folder, or NIfTI image)")
    p.add_argument("--from-label", type=int,
                   help="with --from-mask: the lesion's label value in it (needed when MASK holds several lesions; "
                        "else --each-label carries them all)")
    p.add_argument("--each-label", action="store_true",
                   help="with --from-mask: carry every label of MASK as its own lesion (one registration; each keeps its "
                        "label value and name, L<n> when it has none); --out (and --viable-out) hold them all; a lesion "
                        "that cannot be segmented is reported and the others are written (exit status 1)")
    p.add_argument("--study-uid", default=None,
                   help="which study, when SERIES holds several (hcc-imaging index SERIES lists them)")
    p.add_argument("--on-tilt", choices=["error", "resample"], default="error",
                   help="a gantry-tilted series: refuse it (default) or resample it onto an orthogonal grid")
    p.add_argument("--on-irregular", choices=["error", "resample"], default="error",
                   help="a series with missing slices or uneven spacing: refuse it (default) or resample it to "
                        "regular slices (gaps interpolated)")
    p.add_argument("--phase", help="phase to segment on: " + ", ".join(ph.value for ph in _phases())
                   + " (default: the most conspicuous)")
    p.add_argument("--set-phase", action="append", metavar="WHICH=PHASE",
                   help="state a series' contrast phase (repeatable): WHICH is a SeriesInstanceUID, a series "
                        "description or the phase it was called, e.g. --set-phase unknown=arterial (the user wins)")
    p.add_argument("--liver", action="store_true",
                   help="compute a liver mask (classical, on the study's best liver phase: portal venous, else delayed, ...; "
                        "it holds the clicked lesion) and keep the lesion inside it")
    p.add_argument("--liver-mask", metavar="PATH", help="liver mask file (NIfTI, SEG, RTSTRUCT, mask series)")
    p.add_argument("--extrahepatic", action="store_true",
                   help="the lesion lies outside the liver (lymph node, peritoneal deposit): keep it OUT of the liver "
                        "mask (--liver or --liver-mask) instead of inside it")
    p.add_argument("--extrahepatic-labels", metavar="N[,N...]",
                   help="with --each-label: these labels of MASK lie outside the liver (lymph nodes): kept out of the "
                        "liver mask, the others kept in it (--liver or --liver-mask). Without it, a DICOM SEG's "
                        "segments say it by their anatomic regions (a lymph node or another organ is kept out)")
    p.add_argument("--rind", action="store_true",
                   help="the click is in the dark (necrotic) core of a lesion wrapped in an enhancing layer (a treated "
                        "HCC's rim, a viable rind): fit the layer's border on the arterial phase (0.3-0.9 s; pixels up to "
                        "1 mm, else the automatic steps with a note)")
    p.add_argument("--modality", choices=("CT", "MR"), default=None,
                   help="the modality of an image file (NIfTI, NRRD, MHA: read as CT, the file does not say); a DICOM "
                        "series says its own")
    p.add_argument("--bias-correct", action="store_true",
                   help="MR only: divide each series by its N4 bias field (the coils' smooth intensity field) before "
                        "segmenting (~1-10 s a series; hcc_imaging.segment.bias_corrected)")
    p.add_argument("--polarity", choices=("auto", "hypo", "hyper", "both"), default="auto",
                   help="lesion darker/brighter than its surroundings, or heterogeneous (both)")
    p.add_argument("--blurred-surface", choices=("near_ellipsoid", "free"), default="near_ellipsoid",
                   help="an ill-defined lesion's fitted border: near_ellipsoid (default; held near an ellipsoid as "
                        "far as the data allow) or free (the surface of algorithm 1.53)")
    p.add_argument("--label", type=int, default=None,
                   help="label value of the lesion (default 1; with --from-mask, the carried lesion's value in MASK: it "
                        "keeps it)")
    p.add_argument("--lesion-id", default=None,
                   help="lesion name stored with the label (default L1; with --from-mask, the carried lesion's name "
                        "in MASK, L<N> when it has none)")
    p.add_argument("--out", required=True, metavar="MASK", help="output mask: .nii/.nii.gz (NIfTI) or .dcm (DICOM SEG)")
    p.add_argument("--viable-out", metavar="MASK", help="also write the viable (arterially enhancing) part")
    p.add_argument("--json", action="store_true", help="print the result and its provenance as JSON on stdout")
    p.set_defaults(func=run)


def _bias_correct(phases: dict[Any, Any], console: Any) -> None:
    """``--bias-correct``: every phase's series replaced (in ``phases``) by its N4-corrected copy
    (:func:`hcc_imaging.segment.bias_corrected`); a CT series is refused before any is corrected."""
    from ..segment import bias_corrected
    from ..volume import Modality

    ct = [str(k) for k, v in phases.items() if v.modality == Modality.CT]
    if ct:
        raise SegmentArgumentError(
            f"--bias-correct is for MR series, but SERIES's {', '.join(ct)} phase{'s are' if len(ct) > 1 else ' is'} CT "
            "(calibrated HU, no coil field); leave out --bias-correct (an MR image file read as CT: add --modality MR).")
    for k in list(phases):
        with console.status(f"correcting the bias field of the {k} series...", spinner="dots"):
            phases[k] = bias_corrected(phases[k])


def _with_modality(phases: dict[Any, Any], series: str, modality: str) -> dict[Any, Any]:
    """``--modality``: an image file's volume marked CT or MR; refused for DICOM (its series say their own)."""
    from dataclasses import replace

    from ..volume import Modality

    if not _is_image_file(Path(series)):
        raise SegmentArgumentError(
            f"--modality {modality}: SERIES {series} is DICOM, whose series say their own modality; leave out --modality "
            "(it is for NIfTI, NRRD and MHA image files, which do not).")
    return {k: replace(v, modality=Modality(modality)) for k, v in phases.items()}


def _phases() -> list[Any]:
    """The phases ``--phase`` takes (every :class:`~hcc_imaging.volume.Phase` but UNKNOWN)."""
    from ..volume import Phase

    return [ph for ph in Phase if ph is not Phase.UNKNOWN]


def _floats(text: str, n: int, option: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError as err:
        raise SegmentArgumentError(f"{option} expects {n} comma-separated numbers, got {text!r}.") from err
    if len(vals) != n:
        raise SegmentArgumentError(f"{option} expects {n} comma-separated numbers, got {len(vals)} in {text!r}.")
    if not all(math.isfinite(v) for v in vals):
        raise SegmentArgumentError(f"{option} expects {n} finite numbers, got {text!r} (nan / inf is no point).")
    return vals


def _check_line_midpoint(text: str, phases: dict[Any, Any], line_lps: list[list[float]], phase: Any) -> None:
    """``--line``: the segmenter grows the lesion from the line's midpoint; one outside every image
    was reported as a "seed" to "click inside the image" (no seed was given): said as the line's."""
    from ..segment import seed_point_lps
    from ..segment.errors import SeedError

    try:
        seed_point_lps(phases, line_lps=line_lps, phase=phase)
    except SeedError as err:
        if " is outside " not in str(err):  # (a zero-length line: the segmenter's own words, as the line's)
            raise SegmentArgumentError(f"--line {text}: " + str(err).replace("line_lps ", "the line ")) from err
        detail = str(err).partition(" is outside ")[2].removesuffix(" Click inside the image.")
        mid = tuple(round(0.5 * (a + b), 1) for a, b in zip(*line_lps, strict=True))
        raise SegmentArgumentError(
            f"--line {text}: its midpoint {mid} mm, where the lesion is grown from, is outside "
            f"{detail or 'the images'} Draw the line across the lesion on these images (two LPS points in mm, "
            "the lesion's edges).") from err


def _check_labels(args: argparse.Namespace) -> None:
    """``--label`` a lesion's value in the written mask (1 to 65535: 0 is the background, the mask is
    16-bit), ``--from-label`` a lesion's in MASK (from 1): refused before anything is loaded."""
    if args.label is not None and not 1 <= args.label <= 65535:
        why = "label 0 is the background (no lesion)" if args.label == 0 else "the mask's labels are 16-bit"
        raise SegmentArgumentError(f"--label {args.label}: {why}; give a label value from 1 to 65535 (default 1).")
    if args.from_label is not None and args.from_label < 1:
        raise SegmentArgumentError(f"--from-label {args.from_label}: label 0 is the background of --from-mask; give "
                                   "the lesion's label value (1 or more).")


def _check_each_label(args: argparse.Namespace) -> None:
    """``--each-label`` writes every lesion of MASK with its own value and name: ``--from-label`` (one
    lesion), ``--label`` and ``--lesion-id`` (one value, one name) have no meaning with it and were
    ignored without a word (``--label`` / ``--lesion-id``): refused before anything is loaded."""
    if not args.each_label:
        return
    if args.from_label is not None:
        raise SegmentArgumentError("--each-label carries every label of --from-mask; leave --from-label out (or "
                                   "carry that one label without --each-label).")
    given = [flag for flag, v in (("--label", args.label), ("--lesion-id", args.lesion_id)) if v is not None]
    if given:
        raise SegmentArgumentError(
            f"{' and '.join(given)} cannot go with --each-label: each lesion carried keeps its own label value and "
            f"name from --from-mask (L<n> when it has none), so one "
            f"{' and one '.join({'--label': 'label value', '--lesion-id': 'name'}[g] for g in given)} cannot be given "
            f"to all of them. Leave {' / '.join(given)} out, or carry one lesion with --from-label N "
            f"instead of --each-label.")


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before anything is loaded, outputs that cannot be written - an extension that is no
    mask format, a DICOM SEG of a NIfTI SERIES (a SEG references DICOM images) - or that would
    overwrite each other or an input: ``--out`` and ``--viable-out`` naming one file (the lesion
    mask was silently replaced by its viable part), or an output naming ``--from-mask`` /
    ``--liver-mask`` (the input mask lost).  Paths are compared resolved (symbolic links followed,
    ``./x`` is ``x``)."""
    from ..io.masks import ITK_SUFFIXES, NIFTI_SUFFIXES, _suffix

    outs = [("--out", args.out)] + ([("--viable-out", args.viable_out)] if args.viable_out else [])
    for flag, path in outs:  # said before minutes of loading and segmenting, not after
        suf = _suffix(Path(path))
        if suf not in (*NIFTI_SUFFIXES, *ITK_SUFFIXES, ".dcm"):
            raise SegmentArgumentError(
                f"{flag} {path}: unknown mask extension {suf!r}; name it .nii.gz (NIfTI) or .dcm (DICOM SEG).")
        if suf == ".dcm" and _is_image_file(Path(args.series)):
            raise SegmentArgumentError(
                f"{flag} {path}: a DICOM SEG references the DICOM images it was drawn on, and SERIES {args.series} is "
                "an image file (NIfTI), not DICOM. Write the mask as .nii.gz, or give the DICOM series as SERIES.")
    ins = [(flag, path) for flag, path in (("--from-mask", args.from_mask), ("--liver-mask", args.liver_mask)) if path]
    resolved = {flag: Path(path).expanduser().resolve() for flag, path in outs + ins}
    if len(outs) == 2 and resolved["--out"] == resolved["--viable-out"]:
        raise SegmentArgumentError(
            f"--out and --viable-out name the same file ({args.out}): the viable part would overwrite the lesion's "
            "mask. Give --viable-out its own file (e.g. L1_viable.nii.gz).")
    for oflag, opath in outs:
        for iflag, ipath in ins:
            if resolved[oflag] == resolved[iflag]:
                raise SegmentArgumentError(
                    f"{oflag} {opath} is the {iflag} input file: writing it would overwrite that mask. Give "
                    f"{oflag} another file.")


def _print_json(record: dict[str, Any]) -> None:
    """``--json``: ``record`` on stdout as strict JSON (RFC 8259): a non-finite number (a window's
    open bound) is ``null`` (:func:`~hcc_imaging.segment._types.json_finite`), never ``Infinity`` /
    ``NaN``, which JSON parsers refuse."""
    from ..segment._types import json_finite

    json.dump(json_finite(record), sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


def _is_image_file(p: Path) -> bool:
    """Whether SERIES ``p`` is an image file (NIfTI, NRRD, MHA) rather than DICOM."""
    name = p.name.lower()
    return p.is_file() and name.endswith((".nii", ".nii.gz", ".nrrd", ".mha"))


def _load_volumes(path: str, study_uid: str | None = None, on_tilt: str = "error",
                  on_irregular: str = "error", set_phase: list[tuple[str, Any]] | None = None) -> dict[Any, Any]:
    """{phase: Volume} from a NIfTI image, a series or a study folder (of ``study_uid`` when it holds
    several; ``on_tilt`` / ``on_irregular`` as :func:`~hcc_imaging.io.load_series`).  When no series
    loads, the first one's error (it names the series, what is wrong and the fix); ``set_phase``:
    ``--set-phase``'s (WHICH, Phase) pairs (:mod:`._segment_phase`)."""
    from ..volume import Phase

    from ..io.index import source_exists

    p = Path(path)
    if not source_exists(path):
        raise SegmentArgumentError(f"SERIES {path} does not exist; give a DICOM series or study folder, or a NIfTI image.")
    if _is_image_file(p):
        from ..io._nifti_geometry import read_nifti_image

        vol = read_nifti_image(p)
        given = image_file_phase(set_phase or [], p)
        return {given: vol.with_phase(given)} if given is not None else {Phase.UNKNOWN: vol}
    from ..io import index_archive, load_study, one_per_phase

    idx = index_archive(path)  # (a str: a "zip::folder" string is not a Path)
    if not idx.studies:
        raise SegmentArgumentError(
            f"no DICOM study found in {path}; give a DICOM series or study folder (or zip / DICOMDIR), or a NIfTI image."
        )
    skipped: list[tuple[str, Exception]] = []
    overrides = (series_overrides(set_phase, [s for st in idx.studies if study_uid in (None, st.study_instance_uid)
                                             for s in st.series], path) if set_phase else None)
    vols = load_study(idx, study_uid, on_tilt=on_tilt, on_irregular=on_irregular, skipped=skipped,
                      phase_overrides=overrides)
    if not vols:
        if skipped:
            raise skipped[0][1]  # the first series' own error (it names the series, what is wrong, the fix)
        raise SegmentArgumentError(f"no image series in {path} (only non-image series: SR, presentation states...).")
    out, notes = one_per_phase(vols, "used")  # of two series of one phase: CT, then MR, then finer slices
    for note in notes:
        log.warning("%s", note)
    return out


def _one_scan(phases: dict[Any, Any], phase: Any) -> dict[Any, Any]:
    """The study's phases of one scan (:func:`hcc_imaging.io.one_scan`, the frame of ``--phase``'s
    series when given): a phase in another frame of reference is left out with a warning, since the
    phases are used together only on one scan (``segment_lesion`` refuses a mix)."""
    from ..io import one_scan

    out, left_out = one_scan(phases, phase)
    for ph, v in left_out.items():
        log.warning("phase %s (series %s) is in another frame of reference than %s: left out (the phases are used "
                    "together only on one scan). Give --phase %s to segment on it alone, or its series folder.",
                    ph, v.series_instance_uid or "unknown", ", ".join(str(k) for k in out), ph)
    return out


def _other_time_point(args: argparse.Namespace, phases: dict[Any, Any], phase: Any, console: Any) -> tuple[dict[Any, Any], Any]:
    """``--from-mask MASK --from-series PATH``: PATH's images and MASK on them (a NIfTI map's lesion
    ids from the ``labels.json`` beside it, as ``measure`` reads them)."""
    from ..io.masks import load_lesion_map
    from ..segment.carry import registration_pair

    if not args.from_series:
        raise SegmentArgumentError(
            "--from-mask needs --from-series PATH: the images the mask lies on (it is registered to SERIES).")
    from ..errors import GeometryMismatchError

    with console.status("loading the other time point...", spinner="dots"):
        before = _load_volumes(args.from_series, on_tilt=args.on_tilt, on_irregular=args.on_irregular)
    on = registration_pair(before, phases, phase)[0]
    try:
        return before, load_lesion_map(args.from_mask, on)[0]
    except GeometryMismatchError as err:
        # the library's advice names Python arguments (reference=, register_volumes): say it in options
        what = str(err).split(". ")[0].rstrip(".")
        raise SegmentArgumentError(
            f"--from-mask {args.from_mask} does not lie on the images of --from-series {args.from_series}: {what}. "
            "Give as --from-series the images the mask was drawn on (its own time point's study or series; a SEG "
            "names that series), not the follow-up's: the follow-up is SERIES, and the two are registered."
        ) from err


def _carried_record(args: argparse.Namespace, mask: Any, labels: list[Any], centres: dict[Any, Any],
                    seeds: dict[Any, Any], reg: Any, masked: bool) -> dict[str, Any]:
    """How lesions were carried (``--json``'s ``carried_from``): one registration, the points."""
    return {"mask": str(args.from_mask), "series": str(args.from_series), "labels": labels,
            "names": {str(lab): mask.labels.get(lab) for lab in labels if lab is not None and mask.labels.get(lab)},
            "centres_lps": [[float(v) for v in centres[lab]] for lab in labels],
            "seeds_lps": [[float(v) for v in seeds[lab]] for lab in labels], "liver_masked": masked,
            "registration_problems": list(reg.parameters.get("check", {}).get("problems", [])),
            "registration": reg.to_json()}


def _warn_suspect(reg: Any, console: Any) -> bool:
    """Print why the registration that carried the lesions is suspect; whether it is."""
    from ..segment.carry import suspect_message

    problems = reg.parameters.get("check", {}).get("problems", [])
    if problems:
        console.print(f"[bold red]registration suspect:[/bold red] {suspect_message(reg, problems)}")
    return bool(problems)


def _carried_seed(args: argparse.Namespace, phases: dict[Any, Any], phase: Any, console: Any) -> tuple[list[float], dict[str, Any]]:
    """``--from-mask``: the seed (LPS mm) on SERIES carried from the lesion's mask at another time
    point (label ``--from-label``; without it MASK must hold one label, which is the one carried:
    several are refused, naming them, as their joint centre is no lesion's), and the record of how
    (:func:`_carried_record`; its ``label`` the carried lesion's value, which the written mask keeps):
    :func:`hcc_imaging.segment.carry.carry_points`."""
    from ..segment.carry import carry_points

    import numpy as np

    before, mask = _other_time_point(args, phases, phase, console)
    masked = bool(args.liver and not args.extrahepatic)
    lab = args.from_label
    labs = [int(v) for v in np.unique(np.asarray(mask.array)) if v != 0]
    held = ", ".join(f"{v} ({mask.labels[v]})" if mask.labels.get(v) else str(v) for v in labs)
    if lab is None and len(labs) > 1:
        # merged, the lesions' joint centre (often parenchyma between them) was clicked
        raise SegmentArgumentError(
            f"--from-mask {args.from_mask} holds {len(labs)} lesions (labels {held}): say which one to carry with "
            "--from-label N, or carry every one with --each-label.")
    if not labs:
        raise SegmentArgumentError(f"--from-mask {args.from_mask}: the mask has no lesion voxels; nothing to carry. "
                                   "Give the lesion's mask at the other time point.")
    if lab is None:
        # the one lesion MASK holds keeps its identity (label 3 is L3, as --from-label 3 or --each-label
        # give it), not label 1 / "L1": another lesion's in the study's other masks
        lab = labs[0]
    if lab not in labs:
        raise SegmentArgumentError(f"--from-label {lab}: {args.from_mask} has no voxel of label {lab}; its labels are "
                                   f"{held or 'none (an empty mask)'}.")
    with console.status("registering the time points" + (" (in the liver)..." if masked else "..."), spinner="dots"):
        centres, seeds, reg = carry_points(before, mask, phases, labels=[lab], phase=phase, liver_masked=masked)
    _warn_suspect(reg, console)
    record = _carried_record(args, mask, [lab], centres, seeds, reg, masked)
    return [float(v) for v in seeds[lab]], {**record, "label": lab, "centre_lps": record["centres_lps"][0],
                                            "seed_lps": record["seeds_lps"][0]}


def _liver_for(args: argparse.Namespace, phases: dict[Any, Any], ref: Any, include: list[Any] | None,
               console: Any) -> Any:
    """The liver mask ``--liver-mask`` / ``--liver`` ask for (None without either): the file on
    ``ref``'s grid, or the classical mask of the study (its best liver phase, carried to ``ref``'s
    grid) holding the points ``include`` (the clicked lesions' pieces; None for a node)."""
    from ..io.masks import load_mask
    from ..segment import segment_liver

    if args.liver_mask:
        from ..errors import GeometryMismatchError

        try:
            liver = load_mask(args.liver_mask, ref)
        except GeometryMismatchError as err:
            # the library's advice names Python arguments (`reference`, register_volumes): say it in options
            what = str(err).split(". ")[0].rstrip(".")
            raise SegmentArgumentError(
                f"--liver-mask {args.liver_mask} does not lie on the images of SERIES {args.series}: {what}. Give the "
                "liver mask drawn on these images (this study), --liver (an automatic liver mask), or neither; a mask "
                "of another time point is not moved here (carry a lesion with --from-mask / --from-series)."
            ) from err
        if not liver.array.any():
            raise SegmentArgumentError(
                f"--liver-mask {args.liver_mask}: the mask has no voxels; an empty liver mask would leave the lesion "
                "unbounded without a word. Give the liver's mask on these images, --liver (automatic), or neither.")
        return liver
    if not args.liver:
        return None
    with console.status("segmenting the liver...", spinner="dots"):
        return segment_liver(phases, phase=ref.phase, include_lps=include)


def _arterial_of(phases: dict[Any, Any]) -> Any:
    """The arterial phase ``--viable-out`` reads the enhancement on: ``volume.ARTERIAL_PREFERENCE``
    (late arterial first, as the batch, the napari dock and step 13), None without one."""
    from ..volume import ARTERIAL_PREFERENCE

    return next((phases[p] for p in ARTERIAL_PREFERENCE if p in phases), None)


def _viable_of(labels: Any, arterial: Any, phases: dict[Any, Any], liver: Any, phase: Any = None) -> tuple[Any, list[str]]:
    """``viable_mask`` of the lesion map ``labels`` (drawn on ``phases[phase]``) on the arterial phase,
    with the study's pre-contrast and portal-venous phases and ``liver``; and notes.  The map is placed
    on the arterial phase by :func:`hcc_imaging.segment.viable_align.lesions_on_arterial`: moved by the
    breathing shift between the two phases around it when there is one (said in the notes)."""
    from ..segment.viable_align import viable_of_lesions
    from ..volume import Phase

    return viable_of_lesions(labels, phases.get(phase) if phase is not None else None, arterial,
                             pre_contrast=phases.get(Phase.PRE_CONTRAST), portal_venous=phases.get(Phase.PORTAL_VENOUS),
                             liver=liver, source_name=str(getattr(phase, "value", phase)))


def _save_viable(viable: Any, path: str, reference: Any, lesion_out: Path) -> Path:
    """Write the viable parts ``viable`` to ``path`` (``--viable-out``).  A DICOM SEG labels each
    segment as ``export seg --viable`` does - ``"L1 viable"``, "(viable part)" in its description,
    the viable part's tracking UID derived from the lesion's (:func:`~hcc_imaging.export.seg.
    viable_tracking_uid`, the lesion's taken from the ``--out`` SEG) - so it is told apart from
    the lesion SEG (both segments were "L1" before, with unrelated UIDs)."""
    from ..io.masks import save_mask

    if not str(path).lower().endswith(".dcm"):
        return save_mask(viable, path, reference=reference)
    import numpy as np

    from ..export.seg import seg_info_from_file, write_seg
    from ..volume import LabelVolume

    lesion_uids = (dict(seg_info_from_file(lesion_out).tracking_uids)
                   if str(lesion_out).lower().endswith(".dcm") else {})
    empty = LabelVolume.like(viable, np.zeros(viable.shape, np.uint8), labels=dict(viable.labels))
    info = write_seg(empty, reference, path, viable=viable if viable.geometry.equals(reference.geometry)
                     else viable.resample_to(reference), tracking_uids=lesion_uids or None,
                     series_description="hcc_imaging viable tumour segmentation")
    return Path(info.path)


def _run_each_label(args: argparse.Namespace, phases: dict[Any, Any], phase: Any, arterial: Any, console: Any) -> int:
    """``--from-mask MASK --each-label``: every lesion of MASK carried to SERIES and segmented there
    (:func:`hcc_imaging.segment.carry.carry_lesions`: one registration; the liver mask, with
    ``--liver``, made once holding every carried seed), written as one label map with MASK's label
    values (and names); ``--viable-out`` their viable parts.  A lesion that cannot be segmented (it
    has gone, or its carried seed misses it) is reported and left out, the others are written; the
    exit status is then 1."""
    import numpy as np

    from ..io.masks import save_mask
    from ..segment import MASK_CHECKS, LesionParams
    from ..segment.bias import bias_record
    from ..segment.carry import carry_lesions
    from ..segment.errors import SegmentationError
    from ..volume import LabelVolume

    before, mask = _other_time_point(args, phases, phase, console)
    ref = phases[phase] if phase is not None else next(iter(phases.values()))
    liver = _liver_for(args, phases, ref, None, console) if args.liver_mask else None
    labs = [int(v) for v in np.unique(np.asarray(mask.array)) if v != 0]
    if not labs:
        raise SegmentArgumentError(f"--from-mask {args.from_mask}: the mask has no lesion voxels; nothing to carry.")
    # a DICOM SEG's fluid segments (ascites, an effusion: not a lesion a click segments, as the batch's
    # --carry leaves them) are not carried
    from ..export.seg import seg_kinds

    fluid = seg_kinds(args.from_mask) if str(args.from_mask).lower().endswith(".dcm") else {}
    not_carried = {mask.labels[lab]: f"not carried: {fluid[mask.labels[lab]]} is not a lesion a click segments"
                   for lab in labs if mask.labels.get(lab) in fluid}
    if not_carried:
        labs = [lab for lab in labs if mask.labels.get(lab) not in not_carried]
        mask = mask.with_array(np.where(np.isin(mask.array, labs), mask.array, 0).astype(mask.array.dtype))
        console.print("[yellow]note:[/yellow] " + "; ".join(f"{k} {v}" for k, v in not_carried.items()))
        if not labs:
            raise SegmentArgumentError(f"--from-mask {args.from_mask}: its segments are all fluid "
                                       f"({', '.join(not_carried)}); nothing to carry.")
    extra: list[int] = labs if args.extrahepatic else []
    if not args.extrahepatic and args.extrahepatic_labels is None and (args.liver or args.liver_mask):
        # a DICOM SEG says where each lesion lies (its segments' anatomic regions, as `export seg` and
        # `batch --export-sr` write them): a lymph node or another organ is kept out of the liver mask
        from ..export.seg import seg_organs
        from ..segment.carry import lies_in_liver

        organs = seg_organs(args.from_mask) if str(args.from_mask).lower().endswith(".dcm") else {}
        extra = [lab for lab in labs if lab in mask.labels and mask.labels[lab] in organs
                 and not lies_in_liver(organs[mask.labels[lab]], is_lymph_node=organs[mask.labels[lab]] == "lymph_node")]
        if extra:
            console.print("[yellow]note:[/yellow] kept out of the liver mask, by the SEG's anatomic regions: "
                          + ", ".join(f"{mask.labels[lab]} ({organs[mask.labels[lab]]})" for lab in extra))
    if args.extrahepatic_labels is not None:
        try:
            extra = [int(v) for v in str(args.extrahepatic_labels).split(",") if v.strip()]
        except ValueError as err:
            raise SegmentArgumentError(f"--extrahepatic-labels {args.extrahepatic_labels}: give label values, e.g. "
                                       "6,9.") from err
        missing = sorted(set(extra) - set(labs))
        if missing:
            raise SegmentArgumentError(f"--extrahepatic-labels: {missing} not in {args.from_mask}, whose labels are "
                                       f"{labs}.")
    with console.status(f"carrying {len(labs)} lesions...", spinner="dots") as status:
        def progress(done: int, total: int) -> None:
            status.update(f"carrying {len(labs)} lesions: {done} of {total} segmented...")

        c = carry_lesions(before, mask, phases if len(phases) > 1 else ref, phase=phase,
                          in_liver=bool(args.liver or args.liver_mask),
                          liver=liver, extrahepatic=extra,
                          params=LesionParams(polarity=args.polarity, blurred_surface=args.blurred_surface), rind=args.rind, reference=ref,
                          progress=progress)
    carried = _carried_record(args, mask, labs, c.centres_lps, c.seeds_lps, c.registration, c.registration_in_liver)
    suspect = _warn_suspect(c.registration, console)
    for note in c.notes:
        if not (suspect and note.startswith("the registration of series")):  # printed above
            console.print(f"[yellow]note:[/yellow] {note}")
    failed = {c.names[lab]: why for lab, why in c.failed.items()}
    # a lesion not found where it was carried may have gone, unless every one was missed (or the
    # registration is suspect): then the carried points are what is wrong
    hint = ("the registration is suspect: segment it by a click" if suspect or (not c.results and len(labs) > 1)
            else "gone? record it as absent; else segment it by a click")
    for lab, why in c.failed.items():
        # (a lesion merged with another's mass is there: its coalescence is what to record, not an absence)
        console.print(f"[red]{c.names[lab]}:[/red] not segmented at its carried seed "
                      f"{np.round(c.seeds_lps[lab], 1).tolist()} mm: {why}"
                      + ("" if lab in c.merged else f" ({hint})"))
    # a seed outside the liver mask: a node, or a lesion beside the liver (the message names the
    # Python keyword; on the command line it is this label's number in --extrahepatic-labels)
    outside = sorted(lab for lab, why in c.failed.items() if "outside the liver mask" in str(why) and lab not in extra)
    if outside and (args.liver or args.liver_mask):
        console.print(f"[yellow]hint:[/yellow] {', '.join(c.names[lab] for lab in outside)} lie outside the liver mask: "
                      "if they lie outside the liver (a lymph node, a deposit), carry them kept out of it with "
                      f"--extrahepatic-labels {','.join(str(v) for v in sorted(set(extra) | set(outside)))}")
    if not c.results:
        if args.json:  # what was tried, and how it was carried, even when nothing was segmented
            _print_json({"out": None, "lesions": [], "failed": failed, "carried_from": carried,
                         **({"not_carried": not_carried} if not_carried else {})})
        raise SegmentationError(
            f"--each-label: none of the {len(labs)} lesions of {args.from_mask} could be segmented on {args.series} "
            f"({'; '.join(f'{k}: {v}' for k, v in failed.items())}).")
    lesions = np.asarray(c.labels.array)
    viable_arr = None if not args.viable_out else np.zeros(arterial.shape, np.uint16)
    records: list[dict[str, Any]] = []
    for lab, res in c.results.items():
        here = lesions == lab
        rec: dict[str, Any] = {"lesion_id": c.names[lab], "label": lab, "voxels": int(here.sum()),
                               "volume_mm3": float(here.sum()) * ref.voxel_volume_mm3,
                               "seed_lps": [float(v) for v in c.seeds_lps[lab]], "provenance": res.provenance()}
        notes_here = list(res.notes)
        # a node given by --extrahepatic-labels has no viable part (an HCC's enhancing tissue), as in the batch
        if viable_arr is not None and not (not args.extrahepatic and lab in extra):
            v, vnotes = _viable_of(res.labels, arterial, phases, c.liver, res.phase)
            notes_here += vnotes
            rec["provenance"]["notes"] = list(rec["provenance"].get("notes") or []) + vnotes
            vhere = (np.asarray(v.array) != 0) & (viable_arr == 0)
            viable_arr[vhere] = lab
            rec["viable_volume_mm3"] = float(vhere.sum()) * v.voxel_volume_mm3
        records.append(rec)
        for code in res.checks:
            console.print(f"[bold red]check ({c.names[lab]}):[/bold red] {MASK_CHECKS.get(code, code)}")
        for note in notes_here:
            console.print(f"[yellow]note ({c.names[lab]}):[/yellow] {note}")
    kept = {r["label"]: r["lesion_id"] for r in records}
    names_plan = planned_label_names(args.out, kept)  # (a NIfTI's lesion ids, in the labels.json beside it)
    out = save_mask(c.labels, args.out, reference=ref)
    names_file = write_label_names(names_plan)
    record: dict[str, Any] = {"out": str(out), "lesions": records, "failed": failed, "carried_from": carried,
                              **({"not_carried": not_carried} if not_carried else {}),
                              **({"label_names": str(names_file)} if names_file else {}), **bias_record(phases)}
    if viable_arr is not None:
        record["viable_out"] = str(_save_viable(LabelVolume.like(arterial, viable_arr, labels=kept), args.viable_out,
                                                arterial, out))
    if args.json:
        _print_json(record)
    else:
        for r in records:
            print(f"{r['lesion_id']} (label {r['label']}): {r['voxels']} voxels, {r['volume_mm3'] / 1000.0:.2f} mL")
        print(f"{len(records)} of {len(labs)} lesions carried from {args.from_mask} -> {out}")
        if names_file:
            print(f"lesion ids -> {names_file}")
    return 1 if failed or suspect else 0


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..io.masks import save_mask
    from ..segment import MASK_CHECKS, LesionParams, seed_point_lps, segment_lesion
    from ..segment.bias import bias_record
    from ..volume import Phase

    console = Console(stderr=True)
    _check_outputs(args)
    _check_labels(args)
    _check_each_label(args)
    if args.extrahepatic and not (args.liver or args.liver_mask):
        raise SegmentArgumentError(
            "--extrahepatic keeps the lesion out of a liver mask: add --liver (automatic) or --liver-mask PATH."
        )
    try:
        phase = Phase(args.phase) if args.phase else None
    except ValueError:
        raise SegmentArgumentError(
            f"--phase {args.phase}: not a phase; give one of {', '.join(ph.value for ph in _phases())} "
            "(or leave --phase out: the most conspicuous phase)."
        ) from None
    with console.status("loading images...", spinner="dots"):
        phases = _load_volumes(args.series, args.study_uid, args.on_tilt, args.on_irregular,
                               parse_set_phase(getattr(args, "set_phase", None)))
    if args.modality is not None:
        phases = _with_modality(phases, args.series, args.modality)
    if phase is not None and phase not in phases:
        raise SegmentArgumentError(
            f"--phase {args.phase}: SERIES holds {[str(k) for k in phases]}; pick one of them or leave --phase out."
        )
    phases = _one_scan(phases, phase)
    if args.bias_correct:
        _bias_correct(phases, console)
    arterial = _arterial_of(phases)
    if args.viable_out and arterial is None:
        raise SegmentArgumentError(
            "--viable-out needs an arterial-phase series in SERIES (viable tumour = arterial enhancement); "
            f"found phases {[str(k) for k in phases]}."
        )
    if (args.from_series or args.from_label is not None or args.each_label) and not args.from_mask:
        raise SegmentArgumentError(
            "--from-series / --from-label / --each-label go with --from-mask (the lesion's mask at another time point).")
    if args.extrahepatic_labels is not None and not (args.each_label and (args.liver or args.liver_mask)
                                                      and not args.extrahepatic):
        raise SegmentArgumentError(
            "--extrahepatic-labels goes with --each-label and --liver (or --liver-mask), without --extrahepatic "
            "(which keeps every label out of the liver mask).")
    if args.each_label:
        return _run_each_label(args, phases, phase, arterial, console)
    kwargs: dict[str, Any] = {}
    carried: dict[str, Any] | None = None
    if args.from_mask:
        kwargs["seed_lps"], carried = _carried_seed(args, phases, phase, console)
    elif args.seed:
        kwargs["seed_index"] = [int(round(v)) for v in _floats(args.seed, 3, "--seed")]
    elif args.seed_lps:
        kwargs["seed_lps"] = _floats(args.seed_lps, 3, "--seed-lps")
    else:
        vals = _floats(args.line, 6, "--line")
        kwargs["line_lps"] = [vals[:3], vals[3:]]
    # the lesion's identity: a carried lesion (--from-label N, or MASK's only label) keeps its value and name
    # (as --each-label's do)
    lab = carried["label"] if carried is not None else None
    label = args.label if args.label is not None else lab if lab is not None else 1
    lesion_id = (args.lesion_id if args.lesion_id is not None
                 else (carried["names"].get(str(lab)) or f"L{lab}") if carried is not None and lab is not None else "L1")
    names_plan = planned_label_names(args.out, {label: lesion_id})  # checked before segmenting
    ref = phases[phase] if phase is not None else next(iter(phases.values()))
    if args.line:
        _check_line_midpoint(args.line, phases, kwargs["line_lps"], phase)
    # the lesion is in the liver: the automatic mask must hold the clicked piece even when it bulges
    # out of the capsule (segment_liver's include_lps); a lesion outside the liver (--extrahepatic)
    # must not be made part of it
    include = None if args.extrahepatic or not args.liver or args.liver_mask else [seed_point_lps(ref, **kwargs)]
    liver = _liver_for(args, phases, ref, include, console)
    with console.status("segmenting the lesion...", spinner="dots"), cli_seed_advice(args):
        res = segment_lesion(
            phases if len(phases) > 1 else ref,
            phase=phase,
            liver=liver,
            params=LesionParams(polarity=args.polarity, blurred_surface=args.blurred_surface),
            label=label,
            lesion_id=lesion_id,
            extrahepatic=args.extrahepatic,
            rind=args.rind,
            **kwargs,
        )
    used = phases[res.phase] if res.phase in phases else ref
    out = save_mask(res.labels, args.out, reference=used)
    names_file = write_label_names(names_plan)
    record: dict[str, Any] = {
        "out": str(out),
        **({"label_names": str(names_file)} if names_file else {}),
        "lesion_id": lesion_id,
        "label": label,
        "voxels": int((res.labels.array != 0).sum()),
        "volume_mm3": res.volume_mm3,
        "provenance": res.provenance(),
    }
    if carried is not None:
        record["carried_from"] = carried
    record.update(bias_record(phases))
    if liver is not None and args.liver:
        record["liver"] = {k: liver.meta.get(k) for k in
                           ("phase", "segmented_series_instance_uid", "carried_to", "window_hu", "low_contrast")}
    if args.viable_out:
        assert arterial is not None  # checked before segmenting
        with console.status("viable part...", spinner="dots"):
            viable, vnotes = _viable_of(res.labels, arterial, phases, liver, res.phase)
        record["provenance"]["notes"] = list(record["provenance"].get("notes") or []) + vnotes
        vout = _save_viable(viable, args.viable_out, arterial, out)
        record["viable_out"] = str(vout)
        record["viable_volume_mm3"] = float((viable.array != 0).sum()) * viable.voxel_volume_mm3
    if args.json:
        _print_json(record)
    else:
        print(
            f"{lesion_id}: {record['voxels']} voxels, {record['volume_mm3'] / 1000.0:.2f} mL on {res.phase} "
            f"(lesion {res.lesion_value:.0f}, surroundings {res.surroundings_value:.0f} on {res.values_phase or res.phase}) in {res.elapsed_s * 1000:.0f} ms -> {out}"
        )
        if res.border_weights is not None:
            w = ", ".join(f"{k} {v:+.2f}" for k, v in res.border_weights.items())
            print(f"border: on the phases' combination (weights {w})")
        if res.border_blur_mm is not None:
            print(f"border: on a blurred-surface model (margin blur sigma {res.border_blur_mm:g} mm)")
        if res.border_psf_vox is not None:
            psf = " / ".join(f"{v:g}" for v in res.border_psf_vox)
            ramp = {"slice": " and slices that average their thickness",
                    "point": "; each voxel decided on the fitted surface's prior"}.get(res.border_ramp or "", "")
            print(f"border: fitted to sub-voxel precision (point-spread sigma {psf} voxels, slice / row / column{ramp})")
        if "viable_out" in record:
            print(f"viable part: {record['viable_volume_mm3'] / 1000.0:.2f} mL -> {record['viable_out']}")
        if names_file:
            print(f"lesion id {lesion_id} (label {label}) -> {names_file}")
        if "liver" in record:
            to = record["liver"]["carried_to"]
            print(f"liver mask: segmented on {record['liver']['phase']}" + (f", carried to {to['phase']}" if to else ""))
    for code in res.checks:
        console.print(f"[bold red]check:[/bold red] {MASK_CHECKS.get(code, code)}")
    for note in record["provenance"].get("notes") or res.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    # a suspect registration (said before segmenting) carried the seed: the mask is to be checked
    return 1 if carried is not None and carried["registration_problems"] else 0

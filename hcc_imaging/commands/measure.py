"""``hcc-imaging measure SERIES --masks PATH [--viable PATH] [--json]``: per-lesion measurements.

SERIES is a DICOM series (folder, zip, DICOMDIR or file; :func:`hcc_imaging.io.load_series`);
PATH a NIfTI/NRRD label map, a DICOM SEG, an RTSTRUCT (a file, or a member of a zip:
``"archive.zip::folder/seg.dcm"``) or a DICOM mask series
(:func:`hcc_imaging.io.masks.load_lesion_map`, placed on the series' grid): every label value /
segment number is one lesion, named by the ``labels.json`` beside a NIfTI map when there.  ``--viable`` is the viable (enhancing) sub-mask, non-zero =
viable.  Numbers come from :func:`hcc_imaging.measure.measure_labels`, the same function the
batch engine and the napari plugin call.
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

__all__ = ["register", "run", "MeasureInputError"]

log = logging.getLogger(__name__)

def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "measure",
        help="per-lesion RECIST/mRECIST diameters, volumes and necrosis from masks",
        description=(
            "Measure every lesion of a mask on a DICOM series: RECIST longest axial diameter and "
            "short axis (patient axial plane; each end at the sub-voxel boundary, docs/measure.md section 2), 3-D Feret diameter, volume, "
            "and with --viable the mRECIST viable diameter, EASL product and necrosis fraction."
        ),
    )
    p.add_argument("study", metavar="SERIES", help="DICOM series: folder, zip, DICOMDIR or file (a folder of several series: add --series-uid)")
    p.add_argument("--masks", required=True, metavar="PATH",
                   help="lesion label map (NIfTI, SEG, RTSTRUCT, mask series; a SEG / RTSTRUCT inside a "
                        "zip: ZIP::member.dcm)")
    p.add_argument("--viable", metavar="PATH", help="viable (enhancing) sub-mask, non-zero = viable")
    p.add_argument("--series-uid", help="which series of SERIES when it holds several")
    p.add_argument("--on-tilt", choices=["error", "resample"], default="error",
                   help="a gantry-tilted series: refuse it (default) or resample it onto an orthogonal grid")
    p.add_argument("--on-irregular", choices=["error", "resample"], default="error",
                   help="a series with missing slices or uneven spacing: refuse it (default) or resample it to "
                        "regular slices (gaps interpolated)")
    p.add_argument("--nodes", default="", metavar="IDS", help="comma-separated lesion ids/labels that are lymph nodes")
    p.add_argument(
        "--reformat",
        choices=("error", "axial"),
        default="error",
        help="coronal/oblique series: refuse (default) or measure on an axial reformat",
    )
    p.add_argument(
        "--rim-exclusion-mm",
        type=float,
        default=0.0,
        metavar="MM",
        help="drop viable structures thinner than MM (thin reactive rims) before the viable diameter; 0 = off",
    )
    p.add_argument(
        "--fragments",
        choices=("sum", "hull"),
        default="sum",
        help="a label of several separate pieces: a split lesion, the fragments' diameters summed "
             "(RECIST 1.1, default), or one object (hull); either way a warning names it",
    )
    p.add_argument(
        "--slice-thickness-mm",
        type=float,
        default=None,
        metavar="MM",
        help="slice thickness for the RECIST minimum size (10 mm, or 2 x the thickness above 5 mm); "
             "default: the series' DICOM SliceThickness (the largest when it varies), else its slice spacing",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per lesion (a JSON list) on stdout")
    p.set_defaults(func=run)


class MeasureInputError(HccImagingError, ValueError):
    """A path given to ``hcc-imaging measure`` does not exist."""


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any, dict[str, str]]:
    from ..io import load_series
    from ..io._zipmask import is_zip_member
    from ..io.index import source_exists
    from ..io.masks import load_lesion_masks, load_mask

    # a mask inside a zip ("ZIP::member.dcm") is a DICOM SEG or RTSTRUCT read from the zip's bytes
    # (io.masks.load_mask says what else the member is); only the zip itself must exist here
    for opt, value in (("SERIES", args.study), ("--masks", args.masks), ("--viable", args.viable)):
        if value is not None and not (source_exists(value) if opt == "SERIES" or is_zip_member(value)
                                      else Path(value).exists()):
            raise MeasureInputError(
                f"{opt} path {value} does not exist, so there is nothing to measure. "
                f"Pass an existing {'DICOM series' if opt == 'SERIES' else 'mask file or folder'}."
            )

    volume = load_series(args.study, series_uid=args.series_uid, on_tilt=args.on_tilt, on_irregular=args.on_irregular)
    labels, viable, organs = _lesions_and_viable(args.masks, volume)
    if args.viable:
        same = Path(args.viable).resolve() == Path(args.masks).resolve()
        if not (same and viable is not None):
            # a SEG with lesion and viable segments: its viable ones (load_mask would give its lesions)
            viable = (load_lesion_masks(args.viable, volume)[1] if _has_viable_segments(args.viable)
                      else load_mask(args.viable, reference=volume, label_names=dict(labels.labels)))
    return volume, labels, viable, organs


def _lesions_and_viable(path: str, volume: Any) -> tuple[Any, Any, dict[str, str]]:
    """The lesions of a mask file (a NIfTI map named by the ``labels.json`` beside it, as the batch
    saves it: :func:`hcc_imaging.io.masks.load_lesion_map`), the viable parts a DICOM SEG holds beside
    them (the ``"Ln viable"`` segments ``hcc-imaging export seg --viable`` and the batch write, which
    overlap their lesions and were refused as one label map), and each lesion's organ (labels.json,
    our SEG's anatomic regions)."""
    from ..io.masks import load_lesion_map, load_lesion_masks

    if _has_viable_segments(path):  # (io.masks.load_mask would give its lesions only)
        return load_lesion_masks(path, volume)
    lesions, organs = load_lesion_map(path, volume)
    return lesions, None, organs


def _has_viable_segments(path: str) -> bool:
    """Whether a DICOM SEG (a file, or a member of a zip) holds ``"... viable"`` segments (ours)."""
    import pydicom

    from ..io._dicomparse import dicom_file

    try:
        ds = pydicom.dcmread(dicom_file(path), stop_before_pixels=True)
    except Exception:  # not a single DICOM file: not ours
        return False
    return any(str(getattr(it, "SegmentLabel", "")).endswith(" viable") for it in getattr(ds, "SegmentSequence", []))


def _node_labels(spec: str, labels: Any) -> set[int | str]:
    """``--nodes``' ids as label values or names of ``labels``; an id that is neither is an error
    (a typo, or 'l6' for 'L6', made a node a lesion without a word)."""
    names = {str(n): int(v) for v, n in labels.labels.items()}
    nodes: set[int | str] = set()
    unknown = []
    for tok in (t.strip() for t in spec.split(",")):
        if not tok:
            continue
        if tok.isdigit() and int(tok) in labels.labels:
            nodes.add(int(tok))
        elif tok in names:
            nodes.add(tok)
        else:
            unknown.append(tok)
    if unknown:
        have = ", ".join(f"{v} ({n})" for v, n in sorted(labels.labels.items()))
        raise MeasureInputError(
            f"--nodes {', '.join(unknown)}: no lesion of the masks has that label value or id (ids are case-sensitive). "
            f"The masks hold: {have}."
        )
    return nodes


def _fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def run(args: argparse.Namespace) -> int:
    from ..measure import measure_labels
    from ..measure.edge import lesions_at_image_edge

    if args.rim_exclusion_mm < 0:
        raise MeasureInputError(f"--rim-exclusion-mm {args.rim_exclusion_mm:g}: a thickness cannot be negative; "
                                "give 0 (off) or the rim thickness in mm.")
    thickness = getattr(args, "slice_thickness_mm", None)
    if thickness is not None and not (math.isfinite(thickness) and thickness > 0):
        raise MeasureInputError(f"--slice-thickness-mm {thickness:g}: a slice thickness must be a positive number "
                                "of mm; give the reconstructed slice thickness, or leave the option out to use the "
                                "series' DICOM SliceThickness.")
    volume, labels, viable, organs = _load(args)
    nodes = _node_labels(args.nodes, labels)
    # a lesion the labels.json (or the SEG) beside the masks calls a lymph node is one
    nodes |= {name for name in labels.labels.values() if organs.get(str(name)) == "lymph_node"}
    if not labels.present_labels():
        log.warning("--masks %s: the mask holds no lesion (no non-zero voxel on series %s); nothing is measured. "
                    "Check that it is the lesions' mask of this series.", args.masks,
                    volume.series_instance_uid or "unknown")
    results = measure_labels(
        labels,
        viable,
        image=volume,
        lymph_nodes=nodes,
        reformat=args.reformat,
        source=str(args.masks),
        rim_exclusion_mm=args.rim_exclusion_mm,
        fragments=getattr(args, "fragments", "sum"),
        slice_thickness_mm=thickness,
    )
    edge = lesions_at_image_edge(labels, volume.series_instance_uid)
    for lid, why in edge.items():
        log.warning("%s %s. Check that the series covers the whole lesion.", lid, why)
    # lesions the image's field cut when the mask was placed on it (io.masks logs them; the JSON says so per lesion)
    where = f"series {volume.series_instance_uid or 'unknown'}, {volume.shape[0]} slices"
    cut = {str(lid): (f"{n_out} of the {n} voxels of its mask lie outside the measured image ({where}): cut, measured "
                      "smaller than it is") for lid, (n_out, n, _left) in (labels.meta.get("cut_by_field") or {}).items()}
    # lesions whose mask was filled on the slices a resampled series interpolated (io._mask_gaps)
    from ..io._mask_gaps import filled_slices_note

    filled = {str(lid): filled_slices_note(ks, volume.series_instance_uid)
              for lid, ks in (labels.meta.get("filled_slices") or {}).items()}
    if args.json:
        rows = [m.to_dict() for m in results]
        for row in rows:  # as the batch's mask_problems: why a lesion's measurement may be incomplete
            lid = row.get("lesion_id")
            why = [w for w in (cut.get(lid), edge.get(lid), filled.get(lid), row.get("fragments_note")) if w]
            if why:
                row["mask_problems"] = why
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    from ..measure.constants import ESTIMATOR

    table = Table(title=f"{len(results)} lesion(s) - estimator {ESTIMATOR}, patient axial plane")
    for col in ("lesion", "LD mm", "SA mm", "Feret 3D mm", "volume mL", "viable LD mm", "viable mL", "necrosis", "RECIST"):
        table.add_column(col, justify="left" if col in ("lesion", "RECIST") else "right")
    for m in results:
        table.add_row(
            m.lesion_id,
            _fmt(m.longest_diameter_mm),
            _fmt(m.short_axis_mm),
            _fmt(m.feret_3d_mm),
            _fmt(m.volume_mm3 / 1000.0, 2),
            _fmt(m.viable_diameter_mm),
            _fmt(None if m.viable_volume_mm3 is None else m.viable_volume_mm3 / 1000.0, 2),
            "-" if m.necrosis_fraction is None else f"{100 * m.necrosis_fraction:.0f} %",
            str(m.recist_measurability),
        )
    Console().print(table)
    return 0

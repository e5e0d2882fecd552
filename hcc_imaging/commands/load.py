"""``hcc-imaging load SERIES [--series-uid UID] [--json]``: load one series and print its geometry.

SERIES is a folder, a .zip, a DICOMDIR or a file.  The geometry printed is what every
measurement uses (LPS mm, array axes slice/row/col).  Geometry problems stop with a named error
that says how to fix them (e.g. ``--on-tilt resample``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("load", help="load one DICOM series and print its geometry",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("series", help="folder, .zip, DICOMDIR or file")
    p.add_argument("--series-uid", default=None, help="which series, when the source holds several")
    p.add_argument("--on-tilt", choices=["error", "resample"], default="error")
    p.add_argument("--on-irregular", choices=["error", "resample"], default="error")
    p.add_argument("--stack", type=int, default=None, help="orientation/size group of a mixed series (0 = largest)")
    p.add_argument("--acquisition", type=int, default=None, help="keep one AcquisitionNumber of a repeated series")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..io import load_series
    from ..io.index import source_exists

    if not source_exists(args.series):
        print(f"error: {args.series} does not exist. Pass a folder, a .zip, a DICOMDIR or a file.", file=sys.stderr)
        return 2
    v = load_series(args.series, series_uid=args.series_uid, on_tilt=args.on_tilt,
                    on_irregular=args.on_irregular, stack=args.stack,
                    acquisition=args.acquisition)
    arr = v.array
    d: dict[str, Any] = {
        "series_instance_uid": v.series_instance_uid,
        "study_instance_uid": v.study_instance_uid,
        "frame_of_reference_uid": v.frame_of_reference_uid,
        "modality": v.modality.value,
        "series_description": v.series_description,
        "phase": v.meta["phase_call"],
        "shape": list(v.shape),
        "spacing_mm": [float(s) for s in v.spacing],
        "origin_lps_mm": [float(o) for o in v.origin],
        "direction": np.asarray(v.direction).round(6).tolist(),
        "orientation": v.meta["orientation"],
        "dtype": str(arr.dtype),
        "value_range": [float(arr.min()), float(arr.max())],
        "transfer_syntax_uids": list(v.meta["transfer_syntax_uids"]),
        "decoders": list(v.meta["decoders"]),
        "problems": list(v.meta["problems"]),
    }
    if args.json:
        json.dump(d, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(show_header=False, title=f"series {v.series_instance_uid}", title_justify="left")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for k, val in d.items():
        if k == "series_instance_uid":
            continue
        if k == "phase":
            val = f"{val['phase']} ({val['confidence']:.2f}): {val['reason']}"
        t.add_row(k, str(val))
    Console().print(t)
    return 0

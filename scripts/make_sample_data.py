#!/usr/bin/env python
"""Regenerate ``sample_data/liver_phantom`` byte for byte (see sample_data/README.md).

    .venv/bin/python scripts/make_sample_data.py            # rewrite sample_data/liver_phantom
    .venv/bin/python scripts/make_sample_data.py --out DIR  # write elsewhere (tests do this)

The content is fully determined by the parameters below and by the code of
:mod:`hcc_imaging.phantoms` / :mod:`hcc_imaging.io.write` (seeded noise, UIDs derived from the
seed, fixed dates, JPEG-LS Lossless written by pyjpegls, NIfTI masks written by SimpleITK).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "sample_data" / "liver_phantom"

#: Parameters of the committed sample study.
SEED = 0
TIMEPOINTS = ("baseline", "fu1")
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"


def make(out: Path) -> dict[str, object]:
    """Write the sample study into ``out`` (replaced if it exists); return the write summary."""
    from hcc_imaging.phantoms import write_longitudinal

    if out.exists():
        shutil.rmtree(out)
    return write_longitudinal(out, seed=SEED, timepoints=TIMEPOINTS, transfer_syntax=JPEG_LS_LOSSLESS, masks=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    make(args.out)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

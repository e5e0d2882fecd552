"""``hcc-imaging segment``: the segmenter's advice to a Python caller said as the command line does it."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def cli_seed_advice(args: argparse.Namespace) -> Iterator[None]:
    """A click outside the automatic liver mask (``--liver``): the segmenter advises a Python caller to
    "re-run segment_liver(..., include_lps=[the click])", which ``--liver`` already did; said as it is."""
    from ..segment.errors import SeedError

    try:
        yield
    except SeedError as err:
        msg = str(err)
        rerun = "or re-run segment_liver(..., include_lps=[the click]) so that the liver mask holds the lesion"
        if not args.liver or args.liver_mask or rerun not in msg:
            raise
        raise SeedError(msg.replace(rerun, "or give --liver-mask PATH (a liver mask that holds the lesion): the "
                                    "automatic liver mask (--liver) was made to hold the click, yet the tissue under "
                                    "it was not taken as liver")) from err

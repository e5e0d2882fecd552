"""Tumour burden (up-to-seven, up-to-11, six-and-twelve, TBS, Milan, Kinki, Bolondi) and
liver-function scores (ALBI / mALBI, Child-Pugh) and the BCLC 2022 helper.  Pure Python."""

from __future__ import annotations

from hcc_imaging.burden.bclc import BclcResult, bclc_for, bclc_stage
from hcc_imaging.burden.liver import (
    LAB_PLAUSIBLE_RANGES,
    AlbiResult,
    ChildPughResult,
    LiverLabs,
    albi,
    albi_conventional,
    albi_for,
    child_pugh,
    child_pugh_for,
    liver_labs,
)
from hcc_imaging.burden.scores import (
    TBS_BANDS,
    BurdenScores,
    TbsBands,
    bolondi_substage,
    burden_for_read,
    burden_for_timepoint,
    kinki_substage,
    six_and_twelve,
    tbs_band,
    tumour_burden_score,
    up_to_eleven,
    up_to_seven,
    within_milan,
)

__all__ = [
    "LAB_PLAUSIBLE_RANGES",
    "LiverLabs",
    "liver_labs",
    "AlbiResult",
    "BclcResult",
    "BurdenScores",
    "ChildPughResult",
    "TBS_BANDS",
    "TbsBands",
    "albi",
    "albi_conventional",
    "albi_for",
    "bclc_for",
    "bclc_stage",
    "bolondi_substage",
    "burden_for_read",
    "burden_for_timepoint",
    "child_pugh",
    "child_pugh_for",
    "kinki_substage",
    "six_and_twelve",
    "tbs_band",
    "tumour_burden_score",
    "up_to_eleven",
    "up_to_seven",
    "within_milan",
]

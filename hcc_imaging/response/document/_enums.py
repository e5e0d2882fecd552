"""The closed vocabularies of the read document (roles, kinds, statuses, treatments, grades, axes)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Role of a lesion in the assessment (RECIST 1.1 sec. 4.2)."""

    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class LesionKind(StrEnum):
    """What the finding is.  ``pvtt`` = portal-vein tumour thrombus (mRECIST non-target)."""

    LESION = "lesion"
    LYMPH_NODE = "lymph_node"
    PVTT = "pvtt"
    EFFUSION = "effusion"
    ASCITES = "ascites"


class LesionStatus(StrEnum):
    """State of a finding at one time point.

    ``measured``: numbers given.  ``too_small``: present but too small to measure (RECIST WG:
    counts as the rule's default, 5 mm).  ``absent``: gone (0 mm).  ``not_evaluable``: not
    assessed / cannot be assessed.  ``present``: non-target present (not measured).
    ``unequivocal_progression``: non-target unequivocal progression.  ``further_increase``:
    any further increase after an iRECIST iUPD (need not be unequivocal).
    """

    MEASURED = "measured"
    TOO_SMALL = "too_small"
    ABSENT = "absent"
    NOT_EVALUABLE = "not_evaluable"
    PRESENT = "present"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    FURTHER_INCREASE = "further_increase"


class IRecistCategory(StrEnum):
    """iRECIST new-lesion category: new lesion target (NLT) or non-target (NLNT)."""

    NLT = "nlt"
    NLNT = "nlnt"


class TreatmentKind(StrEnum):
    """Treatment events (free ``other`` for anything else; the note says what)."""

    TACE = "TACE"
    CTACE = "cTACE"
    DEB_TACE = "DEB-TACE"
    SUPERSELECTIVE_TACE = "superselective_TACE"
    TARE = "TARE"
    RFA = "RFA"
    MWA = "MWA"
    ABLATION = "ablation"
    RESECTION = "resection"
    TRANSPLANT = "transplant"
    RADIOTHERAPY = "radiotherapy"
    SORAFENIB = "sorafenib"
    LENVATINIB = "lenvatinib"
    ATEZOLIZUMAB_BEVACIZUMAB = "atezolizumab_bevacizumab"
    DURVALUMAB_TREMELIMUMAB = "durvalumab_tremelimumab"
    OTHER = "other"


class AscitesGrade(StrEnum):
    """Ascites for Child-Pugh: none (1 point), mild (2), moderate-severe (3)."""

    NONE = "none"
    MILD = "mild"
    MODERATE_SEVERE = "moderate_severe"


class EncephalopathyGrade(StrEnum):
    """Hepatic encephalopathy for Child-Pugh: none (1), grade 1-2 (2), grade 3-4 (3)."""

    NONE = "none"
    GRADE_1_2 = "grade_1_2"
    GRADE_3_4 = "grade_3_4"


class Axis(StrEnum):
    """Which measured axis a pair of endpoints belongs to."""

    LONG = "long"
    SHORT = "short"
    VIABLE_LONG = "viable_long"
    VIABLE_SHORT = "viable_short"
    NECROSIS_LONG = "necrosis_long"
    NECROSIS_SHORT = "necrosis_short"


#: Other spellings read as an AscitesGrade / an EncephalopathyGrade (``LiverFunction``).
_ASCITES_ALIASES = {"moderate": "moderate_severe", "severe": "moderate_severe", "absent": "none"}
_ENCEPH_ALIASES = {
    "0": "none",
    "1": "grade_1_2",
    "2": "grade_1_2",
    "3": "grade_3_4",
    "4": "grade_3_4",
    "absent": "none",
}

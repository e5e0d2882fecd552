"""Coded concepts used in our DICOM SR / SEG and their sources.

Every concept is a plain :class:`CodeDef` (value, scheme, meaning) so this module imports
without pydicom; :func:`as_code` turns one into a ``pydicom.sr.coding.Code``.

Sources
-------
* ``DCM``: DICOM PS3.16 (checked against the tables shipped in ``pydicom.sr``: CID 6143/6144
  lesion response, CID 6145 baseline category, CID 6146 time point type, CID 6147 response
  criteria).
* ``SCT``: SNOMED CT as used by DICOM (``pydicom.sr`` concept tables): Long axis 103339001,
  Short axis 103340004, Volume 118565006, Liver 10200004, Couinaud hepatic segments I-VIII.
* ``NCIt``: NCI Thesaurus codes for overall response (CR/PR/SD/PD).  These four are the
  codes used by the CDISC oncology response codelist; they were recalled, not re-read from the
  thesaurus here (docs/export.md says so).  DICOM has no concept for an *overall* time-point
  response, only for target / non-target lesion response (CID 6144).
* ``99HCCIMG``: our local scheme (PS3.16 "99" private designator) for concepts no standard
  defines: viable-tumour diameters, necrosis fraction, lesion role "new", lesion status,
  criteria without a DICOM code (mRECIST, EASL, RECICL, iRECIST), responses NE, NON-CR/NON-PD,
  iRECIST and RECICL categories.  All listed in ``docs/export.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .constants import LOCAL_CODING_SCHEME as _L

__all__ = [
    "CodeDef",
    "LEGACY_SNOMED",
    "LESION_FINDINGS",
    "as_code",
    "LONG_AXIS",
    "SHORT_AXIS",
    "VIABLE_LONG_AXIS",
    "VIABLE_SHORT_AXIS",
    "VOLUME",
    "VIABLE_VOLUME",
    "NECROSIS_FRACTION",
    "LENGTH",
    "DIAMETER",
    "NEOPLASM",
    "LIVER",
    "ORGAN_CODES",
    "FLUID_CODES",
    "finding_code",
    "fluid_code",
    "fluid_of_code",
    "COUINAUD_CODES",
    "BASELINE_CATEGORY",
    "ROLE_CODES",
    "LESION_STATUS",
    "STATUS_CODES",
    "LESION_FLAG_CODES",
    "LESION_EXTRA_MM_CODES",
    "ATTENUATION",
    "UNIT_HU",
    "LESION_KIND",
    "KIND_CODES",
    "VIABLE_STATUS",
    "IRECIST_CATEGORY",
    "IRECIST_CATEGORY_CODES",
    "RESPONSE_EVALUATION_METHOD",
    "CURRENT_RESPONSE",
    "BEST_OVERALL_RESPONSE",
    "BEST_OVERALL_RESPONSE_CONFIRMED",
    "TARGET_RESPONSE",
    "NON_TARGET_RESPONSE",
    "SUM_DIAMETERS",
    "CHANGE_FROM_BASELINE",
    "CHANGE_FROM_NADIR",
    "NEW_LESIONS_PRESENT",
    "YES",
    "NO",
    "DAYS",
    "CRITERIA_CODES",
    "RESPONSE_CODES",
    "TARGET_RESPONSE_CODES",
    "NON_TARGET_RESPONSE_CODES",
    "UNIT_MM",
    "UNIT_MM2",
    "UNIT_MM3",
    "UNIT_RATIO",
    "UNIT_CODES",
    "BASELINE_TIMEPOINT",
    "POSTTREATMENT_TIMEPOINT",
    "PROCEDURE_CT_ABDOMEN",
    "PROCEDURE_IMAGING",
    "normalise_criterion",
    "normalise_response",
]


@dataclass(frozen=True, slots=True)
class CodeDef:
    """A coded concept: ``(CodeValue, CodingSchemeDesignator, CodeMeaning)``."""

    value: str
    scheme: str
    meaning: str

    def matches(self, value: str, scheme: str) -> bool:
        """Same concept, accepting the legacy SNOMED-RT spelling (``SRT`` designator and
        ``G-D7FE``-style codes, used by TID 1500 producers before 2019)."""
        v, s = LEGACY_SNOMED.get((str(value), str(scheme)), (str(value), str(scheme)))
        aliases = {"SRT": "SCT", "SNM3": "SCT"}
        return self.value == v and aliases.get(self.scheme, self.scheme) == aliases.get(s, s)


#: Legacy SNOMED-RT codes (scheme ``SRT``) -> SNOMED CT concept id, for import of older reports
#: (DICOM PS3.16 Annex O lists the mapping; these are the ones seen in the shared real SRs).
LEGACY_SNOMED: dict[tuple[str, str], tuple[str, str]] = {
    ("G-D7FE", "SRT"): ("410668003", "SCT"),  # Length
    ("G-D705", "SRT"): ("118565006", "SCT"),  # Volume
    ("G-A185", "SRT"): ("81827009", "SCT"),  # Diameter
    ("M-80000", "SRT"): ("108369006", "SCT"),  # Neoplasm
    ("M-80003", "SRT"): ("372087000", "SCT"),  # Neoplasm, Primary
    ("M-80006", "SRT"): ("14799000", "SCT"),  # Neoplasm, Secondary
    ("T-62000", "SRT"): ("10200004", "SCT"),  # Liver
    ("T-71000", "SRT"): ("64033007", "SCT"),  # Kidney
    ("T-28000", "SRT"): ("39607008", "SCT"),  # Lung
    ("T-C4000", "SRT"): ("59441001", "SCT"),  # Lymph node
    ("G-C0E3", "SRT"): ("363698007", "SCT"),  # Finding Site
}


def as_code(c: CodeDef) -> Any:
    """The ``pydicom.sr.coding.Code`` of ``c`` (pydicom imported lazily)."""
    from pydicom.sr.coding import Code

    return Code(c.value, c.scheme, c.meaning)


# --- measurements -------------------------------------------------------------------------
LONG_AXIS = CodeDef("103339001", "SCT", "Long Axis")
SHORT_AXIS = CodeDef("103340004", "SCT", "Short Axis")
#: mRECIST "longest viable tumour diameter" (Lencioni & Llovet 2010): no standard code.
VIABLE_LONG_AXIS = CodeDef("VIABLE_LA", _L, "Longest viable tumor diameter")
VIABLE_SHORT_AXIS = CodeDef("VIABLE_SA", _L, "Viable tumor short axis")
VOLUME = CodeDef("118565006", "SCT", "Volume")
VIABLE_VOLUME = CodeDef("VIABLE_VOL", _L, "Viable tumor volume")
NECROSIS_FRACTION = CodeDef("NECROSIS_FRAC", _L, "Necrotic fraction of lesion volume")
#: Concepts other tools use for a RECIST line (read on import only).
LENGTH = CodeDef("410668003", "SCT", "Length")
DIAMETER = CodeDef("81827009", "SCT", "Diameter")

# --- findings and sites -------------------------------------------------------------------
NEOPLASM = CodeDef("108369006", "SCT", "Neoplasm")
LIVER = CodeDef("10200004", "SCT", "Liver")
#: Findings that make a measurement group a lesion on import.
LESION_FINDINGS: tuple[CodeDef, ...] = (
    NEOPLASM,
    CodeDef("372087000", "SCT", "Neoplasm, Primary"),
    CodeDef("14799000", "SCT", "Neoplasm, Secondary"),
    CodeDef("52988006", "SCT", "Lesion"),
    CodeDef("4147007", "SCT", "Mass"),
    CodeDef("27925004", "SCT", "Nodule"),
    CodeDef("108369006", "SCT", "Tumor"),
)
ORGAN_CODES: dict[str, CodeDef] = {
    "liver": LIVER,
    "lymph_node": CodeDef("59441001", "SCT", "Lymph node"),
    "lung": CodeDef("39607008", "SCT", "Lung"),
    "portal_vein": CodeDef("32764006", "SCT", "Portal vein"),
    "adrenal_gland": CodeDef("23451007", "SCT", "Adrenal gland"),
    "bone": CodeDef("272673000", "SCT", "Bone"),
    "kidney": CodeDef("64033007", "SCT", "Kidney"),
    "spleen": CodeDef("78961009", "SCT", "Spleen"),
    # (pydicom's SCT dictionary: HepaticVein, PeritoneumSerousMembraneStructure, Pleura)
    "hepatic_vein": CodeDef("8993003", "SCT", "Hepatic vein"),
    "peritoneum": CodeDef("15425007", "SCT", "Peritoneum (serous membrane) structure"),
    "pleura": CodeDef("3120008", "SCT", "Pleura"),
}


def organ_code(organ: str) -> CodeDef:
    """The code of an organ name (``ORGAN_CODES``), else a local code that keeps its name (never
    another organ's: an unknown organ written as the liver would be read back as the liver)."""
    key = str(organ).lower()
    return ORGAN_CODES.get(key) or CodeDef(key.upper()[:16], _L, key.replace("_", " "))


def organ_of_code(value: str, scheme: str, meaning: str) -> str | None:
    """The organ name of a coded anatomic region (:func:`organ_code`'s inverse): a known code's
    name, else the meaning as a name (``"hepatic vein"`` -> ``"hepatic_vein"``); None for none."""
    for name, c in ORGAN_CODES.items():
        if c.matches(value, scheme):
            return name
    return meaning.strip().lower().replace(" ", "_") or None


#: A segment that is fluid, not a neoplasm (a read's lesion ``kind``): its SEG segmented property
#: type.  Ascites: SNOMED CT 389026000 (not in pydicom's dictionary; the concept FHIR profiles use);
#: effusion: pydicom's ``codes.SCT.Effusion``.  Read back so that a SEG without annotations (a PACS)
#: still says which segments are fluid: ``batch --carry`` does not click them as lesions.
FLUID_CODES: dict[str, CodeDef] = {
    "ascites": CodeDef("389026000", "SCT", "Ascites"),
    "effusion": CodeDef("41699000", "SCT", "Effusion"),
}


def fluid_code(kind: str | None) -> CodeDef | None:
    """The property type of a fluid lesion kind (``FLUID_CODES``); None for any other kind."""
    return FLUID_CODES.get(str(kind).lower()) if kind else None


def finding_code(kind: str | None) -> CodeDef:
    """What a lesion of this kind is, as the SR's Finding and the SEG's segmented property type
    say it: a fluid's code (``FLUID_CODES``: ascites, effusion), else Neoplasm - one table, so the
    SR group and the SEG segment of one tracked finding code it alike."""
    return fluid_code(kind) or NEOPLASM


def fluid_of_code(value: str, scheme: str) -> str | None:
    """The lesion kind of a fluid property type (:func:`fluid_code`'s inverse); None for another code."""
    return next((kind for kind, c in FLUID_CODES.items() if c.matches(value, scheme)), None)


#: Couinaud hepatic segments I-VIII (SCT, as listed in DICOM CID 7151 via pydicom).
COUINAUD_CODES: dict[str, CodeDef] = {
    "I": CodeDef("71133005", "SCT", "Couinaud hepatic segment I"),
    "II": CodeDef("277956007", "SCT", "Couinaud hepatic segment II"),
    "III": CodeDef("277957003", "SCT", "Couinaud hepatic segment III"),
    "IV": CodeDef("277958008", "SCT", "Couinaud hepatic segment IV"),
    "V": CodeDef("277959000", "SCT", "Couinaud hepatic segment V"),
    "VI": CodeDef("277960005", "SCT", "Couinaud hepatic segment VI"),
    "VII": CodeDef("277961009", "SCT", "Couinaud hepatic segment VII"),
    "VIII": CodeDef("277962002", "SCT", "Couinaud hepatic segment VIII"),
}

# --- lesion role and status ---------------------------------------------------------------
BASELINE_CATEGORY = CodeDef("112016", "DCM", "Baseline Category")
ROLE_CODES: dict[str, CodeDef] = {
    "target": CodeDef("112074", "DCM", "Target Lesion at Baseline"),
    "non_target": CodeDef("112075", "DCM", "Non-Target Lesion at Baseline"),
    "new": CodeDef("NEW_LESION", _L, "New lesion"),
}
LESION_STATUS = CodeDef("LESION_STATUS", _L, "Lesion assessment status")
STATUS_CODES: dict[str, CodeDef] = {
    s: CodeDef(s.upper(), _L, s.replace("_", " ").capitalize())
    for s in (
        "measured",
        "too_small",
        "absent",
        "not_evaluable",
        "present",
        "unequivocal_progression",
        "further_increase",
    )
}

# --- lesion attributes the response rules read (local codes, docs/export.md) --------------
#: Yes/no attributes of a read's lesion (``response.document.LesionObservation``) that change
#: a response (mRECIST target eligibility, porta-hepatis nodes, equivocal new lesions ...): one
#: qualitative evaluation each, value :data:`YES` / :data:`NO`; absent = not recorded.
LESION_FLAG_CODES: dict[str, CodeDef] = {
    "enhancing": CodeDef("ENHANCING", _L, "Intratumoral arterial enhancement"),
    "well_delineated": CodeDef("WELL_DELINEATED", _L, "Well delineated lesion"),
    "porta_hepatis": CodeDef("PORTA_HEPATIS", _L, "Porta hepatis lymph node"),
    "equivocal": CodeDef("EQUIVOCAL", _L, "Equivocal new lesion"),
    "typical_hcc_pattern": CodeDef("TYPICAL_HCC", _L, "Typical HCC enhancement pattern"),
    "cytology_malignant": CodeDef("CYTOLOGY_MALIG", _L, "Malignant cytology"),
    "previously_treated": CodeDef("PREV_TREATED", _L, "Locally treated before baseline"),
    "new_enhancement": CodeDef("NEW_ENHANCEMENT", _L, "New enhancement in a treated lesion"),
    "intrahepatic": CodeDef("INTRAHEPATIC", _L, "Intrahepatic lesion"),
}
#: Further lesion measurements in mm (TID 300, UCUM mm).
LESION_EXTRA_MM_CODES: dict[str, CodeDef] = {
    "interval_growth_mm": CodeDef("INTERVAL_GROWTH", _L, "Growth since first seen"),
    "necrosis_diameter_mm": CodeDef("NECROSIS_LA", _L, "Longest necrotic zone diameter"),
    "necrosis_short_axis_mm": CodeDef("NECROSIS_SA", _L, "Necrotic zone short axis"),
}
#: Mean attenuation (Choi; carried, not classified), UCUM Hounsfield unit.
ATTENUATION = CodeDef("112031", "DCM", "Attenuation Coefficient")
UNIT_HU = CodeDef("[hnsf'U]", "UCUM", "Hounsfield unit")
#: What the finding is, when not a plain lesion (``response.document.LesionKind``).
LESION_KIND = CodeDef("LESION_KIND", _L, "Finding kind")
KIND_CODES: dict[str, CodeDef] = {
    "lesion": CodeDef("KIND_LESION", _L, "Lesion"),
    "lymph_node": CodeDef("KIND_NODE", _L, "Lymph node"),
    "pvtt": CodeDef("KIND_PVTT", _L, "Portal vein tumour thrombus"),
    "effusion": CodeDef("KIND_EFFUSION", _L, "Pleural effusion"),
    "ascites": CodeDef("KIND_ASCITES", _L, "Ascites"),
}
#: Status of the viable part (values :data:`STATUS_CODES`), e.g. too small to measure.
VIABLE_STATUS = CodeDef("VIABLE_STATUS", _L, "Viable tumor assessment status")
#: iRECIST new-lesion category.
IRECIST_CATEGORY = CodeDef("IRECIST_CAT", _L, "iRECIST new lesion category")
IRECIST_CATEGORY_CODES: dict[str, CodeDef] = {
    "nlt": CodeDef("NLT", _L, "New lesion, target"),
    "nlnt": CodeDef("NLNT", _L, "New lesion, non-target"),
}

# --- response -----------------------------------------------------------------------------
RESPONSE_EVALUATION_METHOD = CodeDef("112021", "DCM", "Response Evaluation Method")
CURRENT_RESPONSE = CodeDef("112048", "DCM", "Current Response")
BEST_OVERALL_RESPONSE = CodeDef("112049", "DCM", "Best Overall Response")
BEST_OVERALL_RESPONSE_CONFIRMED = CodeDef("BOR_CONFIRMED", _L, "Best Overall Response, confirmed")
TARGET_RESPONSE = CodeDef("TARGET_RESP", _L, "Target lesion response")
SUM_DIAMETERS = CodeDef("SUM_DIAM", _L, "Sum of diameters")
CHANGE_FROM_BASELINE = CodeDef("CHG_BASELINE", _L, "Change of sum from baseline")
CHANGE_FROM_NADIR = CodeDef("CHG_NADIR", _L, "Change of sum from nadir")
NEW_LESIONS_PRESENT = CodeDef("NEW_LESIONS", _L, "New lesions present")
YES = CodeDef("373066001", "SCT", "Yes")
NO = CodeDef("373067005", "SCT", "No")
DAYS = CodeDef("d", "UCUM", "day")
NON_TARGET_RESPONSE = CodeDef("NONTARGET_RESP", _L, "Non-target lesion response")

#: Canonical criterion names (as the response engine prints them) and their codes.
CRITERIA_CODES: dict[str, CodeDef] = {
    "RECIST1.1": CodeDef("126081", "DCM", "RECIST 1.1"),
    "WHO": CodeDef("112029", "DCM", "WHO"),
    "mRECIST": CodeDef("MRECIST", _L, "mRECIST (Lencioni and Llovet 2010)"),
    "EASL": CodeDef("EASL", _L, "EASL (Bruix et al. 2001)"),
    "RECICL": CodeDef("RECICL", _L, "RECICL (Kudo et al.)"),
    "iRECIST": CodeDef("IRECIST", _L, "iRECIST (Seymour et al. 2017)"),
}

#: Overall time-point response and BOR values.
RESPONSE_CODES: dict[str, CodeDef] = {
    "CR": CodeDef("C4870", "NCIt", "Complete Response"),
    "PR": CodeDef("C18058", "NCIt", "Partial Response"),
    "SD": CodeDef("C18213", "NCIt", "Stable Disease"),
    "PD": CodeDef("C35571", "NCIt", "Progressive Disease"),
    "NE": CodeDef("NE", _L, "Not Evaluable"),
    "NON-CR/NON-PD": CodeDef("NONCR_NONPD", _L, "Non-CR/Non-PD"),
    "NED": CodeDef("NED", _L, "No Evidence of Disease"),
    "iCR": CodeDef("ICR", _L, "iRECIST Complete Response"),
    "iPR": CodeDef("IPR", _L, "iRECIST Partial Response"),
    "iSD": CodeDef("ISD", _L, "iRECIST Stable Disease"),
    "iUPD": CodeDef("IUPD", _L, "iRECIST Unconfirmed Progressive Disease"),
    "iCPD": CodeDef("ICPD", _L, "iRECIST Confirmed Progressive Disease"),
    "TE4": CodeDef("TE4", _L, "RECICL treatment effect 4"),
    # TE4 sub-grades (RECICL 2015+: ablative margin); without them the SR dropped the response
    "TE4a": CodeDef("TE4A", _L, "RECICL treatment effect 4a (adequate ablative margin)"),
    "TE4b": CodeDef("TE4B", _L, "RECICL treatment effect 4b (insufficient ablative margin)"),
    "TE3": CodeDef("TE3", _L, "RECICL treatment effect 3"),
    "TE2": CodeDef("TE2", _L, "RECICL treatment effect 2"),
    "TE1": CodeDef("TE1", _L, "RECICL treatment effect 1"),
}
#: Target-lesion response values: DICOM CID 6144 where it has them.
TARGET_RESPONSE_CODES: dict[str, CodeDef] = {
    "CR": CodeDef("112041", "DCM", "Target Lesion Complete Response"),
    "PR": CodeDef("112042", "DCM", "Target Lesion Partial Response"),
    "PD": CodeDef("112043", "DCM", "Target Lesion Progressive Disease"),
    "SD": CodeDef("112044", "DCM", "Target Lesion Stable Disease"),
}
#: Non-target response values: DICOM CID 6144.
NON_TARGET_RESPONSE_CODES: dict[str, CodeDef] = {
    "CR": CodeDef("112045", "DCM", "Non-Target Lesion Complete Response"),
    "NON-CR/NON-PD": CodeDef("112046", "DCM", "Non-Target Lesion Incomplete Response or Stable Disease"),
    "PD": CodeDef("112047", "DCM", "Non-Target Lesion Progressive Disease"),
}

# --- units (UCUM) -------------------------------------------------------------------------
UNIT_MM = CodeDef("mm", "UCUM", "millimeter")
UNIT_MM2 = CodeDef("mm2", "UCUM", "square millimeter")
UNIT_MM3 = CodeDef("mm3", "UCUM", "cubic millimeter")
UNIT_RATIO = CodeDef("1", "UCUM", "no units")
#: UCUM unit -> factor to our unit (mm, mm3).  Used on import of other tools' reports.
UNIT_CODES: dict[str, tuple[str, float]] = {
    "mm": ("mm", 1.0),
    "cm": ("mm", 10.0),
    "m": ("mm", 1000.0),
    "mm2": ("mm2", 1.0),
    "cm2": ("mm2", 100.0),
    "mm3": ("mm3", 1.0),
    "cm3": ("mm3", 1000.0),
    "ml": ("mm3", 1000.0),
    "mL": ("mm3", 1000.0),
}

# --- context ------------------------------------------------------------------------------
BASELINE_TIMEPOINT = CodeDef("C1442488", "UMLS", "Baseline")
POSTTREATMENT_TIMEPOINT = CodeDef("126074", "DCM", "Posttreatment")
PROCEDURE_CT_ABDOMEN = CodeDef("41806-1", "LN", "CT Abdomen")
PROCEDURE_IMAGING = CodeDef("363679005", "SCT", "Imaging procedure")


_CRITERIA_ALIASES = {
    "recist1.1": "RECIST1.1",
    "recist 1.1": "RECIST1.1",
    "recist_1_1": "RECIST1.1",
    "recist11": "RECIST1.1",
    "recist": "RECIST1.1",
    "mrecist": "mRECIST",
    "easl": "EASL",
    "who": "WHO",
    "recicl": "RECICL",
    "irecist": "iRECIST",
}


def normalise_criterion(name: Any) -> str:
    """Canonical criterion name (``"RECIST1.1"``, ``"mRECIST"`` ...) for any spelling.

    Unknown names are returned stripped (an SR or table may carry a criterion we do not
    classify ourselves; it is kept verbatim rather than refused).
    """
    s = str(getattr(name, "value", name)).strip()
    return _CRITERIA_ALIASES.get(s.lower().replace("-", ""), _CRITERIA_ALIASES.get(s.lower(), s))


def normalise_response(value: Any) -> str | None:
    """Canonical response spelling (``CR, PR, SD, PD, NE, NON-CR/NON-PD, iUPD ...``) or None."""
    if value is None:
        return None
    s = str(getattr(value, "value", value)).strip()
    if not s or s.lower() in {"none", "null"}:
        return None
    up = s.upper().replace("_", "-").replace(" ", "")
    if up in {"NON-CR/NON-PD", "NONCR/NONPD", "NON-CR-NON-PD", "NONCRNONPD"}:
        return "NON-CR/NON-PD"
    for k in RESPONSE_CODES:
        if k.upper() == up:
            return k
    return s

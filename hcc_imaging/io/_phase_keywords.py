"""The description keyword table of :func:`hcc_imaging.io.phases.phase_from_description`.

Patterns on the normalised text (upper case, accents stripped, every non-alphanumeric run one space,
padded with spaces): ``(pattern, phase, short?)``, checked in order, the first match wins.  Data only;
the agent and modality checks (a minutes delay, a hepatobiliary keyword on CT) are in ``phases.py``.
"""

from __future__ import annotations

import re

from ..volume import Phase

__all__: list[str] = []

#: What "W/O", "WO" or "WITHOUT" can be without, other than contrast ("T1 W/O FS", "W/O ORAL").
_NOT_CONTRAST = r"(FS|FAT\w*|SAT\w*|SPIR|SPAIR|ORAL|BH|BREATH\w*|GAT\w*|TRIG\w*|NAV\w*|MOCO)"
#: What "PRE" can precede, other than contrast: a treatment ("PRE-OP", "PRE TACE") or a saturation pulse.
_NOT_PRE_CONTRAST = (r"(OP|OPS|OPERATIVE?|OPERATION|SURG\w*|TACE|TARE|RFA|MWA|SIRT|Y90|TX|TREAT\w*|THERAP\w*|"
                     r"ABLAT\w*|BIOPSY|BX|TRANSPLANT\w*|LT|RT|SBRT|CHEMO\w*|SAT\w*)")

#: A protocol "with and without" contrast ("W/WO", "W/O & W/", "WITH AND WITHOUT", "C-/C+"): no phase, and its
#: "WO" / "WITHOUT" is not pre-contrast.  Removed from the normalised text before the rules.
_WITH_AND_WITHOUT = re.compile(r" (W ?(AND )?WO|WO ?(AND )?W|W (AND )?W O|W O (AND )?W|WITH (AND |OR )?WITHOUT|"
                               r"WITHOUT (AND |OR )?WITH|C MINUS (AND )?C|C (AND )?C MINUS)(?= )")

#: A delay of 10-240 min in a description: hepatobiliary on MR with gadoxetate, or with gadobenate from
#: 60 min, else delayed (until 2026-12-06 only 10-30 min: "45 MIN", "90 MIN" said nothing).
_HBP_DELAY = r" (1[0-9]|[2-9][0-9]|1[0-9][0-9]|2[0-3][0-9]|240) ?MIN "
#: The last minute ``_HBP_DELAY`` names (a longer delay is none the table names: ``_phase_minutes``).
HBP_DELAY_MAX_MIN = 240
#: A delay of 2-9 min: transitional with gadoxetate on MR within the timing rule's window, else delayed.
_MIN_DELAY = r" ([2-9]) ?MIN "

# (pattern on the normalised text, phase, short?) -- checked in this order, first match wins.
# Normalisation: upper case, accents stripped, every non-alphanumeric run -> one space, padded
# with spaces, so " ART " matches a whole token.
_RULES: list[tuple[str, Phase, bool]] = [
    # hepatobiliary (gadoxetate, gadobenate) -- before "delayed"; a 10-240 min delay only with such an agent on MR
    # (gadobenate from 60 min; else delayed)
    (r" (HBP|HEPATOBILIARY|HEPATOBILIAR|HEPATOCYTE|HEPATOCYTIC|HEPATOCYTAIRE|HEPATOCELLULAR PHASE|"
     r"HEPATOSPECIFIC|LEBERSPEZIFISCH\w*|EPATOSPECIFIC\w*|HEPATOESPECIFIC\w*|KANSAIBOU?SOU?|KANSAIBOU?) ",
     Phase.HEPATOBILIARY, False),
    (_HBP_DELAY, Phase.HEPATOBILIARY, False),
    (r"肝細胞", Phase.HEPATOBILIARY, False),
    (_MIN_DELAY, Phase.TRANSITIONAL, False),  # (only by transitional_minutes; else the delayed rule below)
    (r" (TRANSITIONAL|TRANSITION|TRANSIZIONALE|TRANSICIONAL|UEBERGANG\w*|UBERGANG\w*) ", Phase.TRANSITIONAL, False),
    # pre-contrast -- before anything containing "CONTRAST"
    (r" (NON ?CONTRAST|NON ?CON|NONENHANCED|NON ENHANCED|UNENHANCED|PRE ?CONTRAST|PRECON|W ?O CONTRAST|"
     r"WO CONTRAST|WITHOUT CONTRAST|NATIVE?|NATIVO|NATIVA|NATIF|SANS INJECTION|SANS CONTRASTE|"
     r"SIN CONTRASTE|SENZA MDC|SENZA CONTRASTO|BASALE|BASAL|OHNE KM|OHNE KONTRASTMITTEL|LEER|PLAIN|"
     r"TANJUN|TANJYUN|C MINUS) ", Phase.PRE_CONTRAST, False),
    # "W/O" (-> "W O"), "WITHOUT": without contrast, unless without fat saturation, oral contrast, breath-hold...
    (r" (W O|WITHOUT)(?! " + _NOT_CONTRAST + r" ) ", Phase.PRE_CONTRAST, False),
    (r"単純", Phase.PRE_CONTRAST, False),
    # short tokens; "PRE" before a treatment ("PRE-OP", "PRE TACE") or saturation ("PRE-SAT") is no phase
    (r" (NC|NECT|WO(?! " + _NOT_CONTRAST + r" )|PRE(?! " + _NOT_PRE_CONTRAST + r" )) ", Phase.PRE_CONTRAST, True),
    # arterial, early and late ("EARLY ART", "ARTERIAL_EARLY", "LATE ART", "ARTERIAL_LATE")
    (r" (EARLY ART\w*|EARLY PHASE ART\w*|(ART|ARTER|ARTERIAL) EARLY|FRUEH ?ARTERIELL\w*|FRUH ?ARTERIELL\w*|"
     r"ARTERIELLE PRECOCE|ARTERIAL TEMPRANA|ARTERIOSA PRECOZ|ARTERIOSA PRECOCE|EAP) ", Phase.ARTERIAL_EARLY, False),
    (r" (LATE ART\w*|LATE HEPATIC ART\w*|(ART|ARTER|ARTERIAL) LATE|SPAET ?ARTERIELL\w*|SPAT ?ARTERIELL\w*|"
     r"ARTERIELLE TARDIVE|ARTERIAL TARDIA|ARTERIOSA TARDIVA|LAP) ", Phase.ARTERIAL_LATE, False),
    (r" (ARTERIAL|ARTERIELL\w*|ARTERIELLE|ARTERIOSA|ARTERIOSO|ARTERIALE|ARTERIAL PHASE|HEPATIC ARTERIAL|"
     r"DOUMYAKU\w*|DOMYAKU\w*) ", Phase.ARTERIAL, False),
    (r"動脈", Phase.ARTERIAL, False),
    (r" (ART|ARTER|HAP) ", Phase.ARTERIAL, False),
    (r" (AP|CTA) ", Phase.ARTERIAL, True),
    # portal venous
    (r" (PORTAL VENOUS|PORTALVENOUS|PORTO ?VENOUS|PORTAL ?VENOES|PORTALVENOS|PORTAL ?VEN\w*|PORTAL|PORTALE|"
     r"PORTALES|PORTE|VEINEUX|VEINEUSE|VENOSA|VENOSO|VENOUS|VENOES|VENOS|MONMYAKU\w*|MONMYAKUSOU) ",
     Phase.PORTAL_VENOUS, False),
    (r"門脈", Phase.PORTAL_VENOUS, False),
    (r" (PVP|PV|VEN) ", Phase.PORTAL_VENOUS, True),
    # delayed / equilibrium
    (r" (DELAY|DELAYED|LATE|EQUILIBRIUM|EQUILIBRE|EQUILIBRIO|SPAET\w*|SPAT ?PHASE|SPATPHASE|SPAETPHASE|"
     r"RETARDADA|RETARDADO|TARDIA|TARDIO|TARDIVA|TARDIVO|TARDIF|TARDIVE|HEIKOU?SOU?|HEIKOU?|EXCRETORY|"
     r"[2-9] ?MIN|DELAYED PHASE) ", Phase.DELAYED, False),
    (r"平衡", Phase.DELAYED, False),
    (r" (EQ|DEL) ", Phase.DELAYED, True),
]
_COMPILED = [(re.compile(p), ph, short) for p, ph, short in _RULES]

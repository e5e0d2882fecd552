"""The series the batch measures a study on (``pick_reference``, ``MEASUREMENT_PHASES``):
portal venous; late arterial, arterial, early arterial; delayed, transitional, hepatobiliary;
pre-contrast; a series of no known phase last, and of those an anatomical image before a
diffusion series, an ADC map or a localizer (docs/batch.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from hcc_imaging.batch.constants import MEASUREMENT_PHASES
from hcc_imaging.batch.lesions import pick_reference
from hcc_imaging.volume import Phase

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_data" / "liver_phantom" / "baseline"


def _se(desc: str, phase: str, modality: str = "MR", mm: float = 3.0, **flags) -> SimpleNamespace:
    return SimpleNamespace(series_instance_uid=f"1.2.{abs(hash(desc)) % 10**8}", series_description=desc,
                           protocol_name="", modality=modality, phase=SimpleNamespace(phase=Phase(phase)),
                           geometry=SimpleNamespace(slice_spacing_mm=mm),
                           **{"is_localizer": False, "is_subtraction": False, "is_mask": False, **flags})


def test_every_phase_is_ranked() -> None:
    assert sorted(MEASUREMENT_PHASES) == sorted(p.value for p in Phase)
    assert MEASUREMENT_PHASES[0] == "portal_venous" and MEASUREMENT_PHASES[-1] == "unknown"
    assert MEASUREMENT_PHASES[1:4] == ("arterial_late", "arterial", "arterial_early")
    assert MEASUREMENT_PHASES.index("hepatobiliary") < MEASUREMENT_PHASES.index("pre_contrast")


def test_late_arterial_is_measured_before_pre_contrast(tmp_path) -> None:
    """A CT study with a pre-contrast series and one described 'LATE ARTERIAL' (phase
    arterial_late): it was measured on the pre-contrast series (only phase 'arterial' was looked for)."""
    import pydicom

    from hcc_imaging.batch import PipelineOptions, discover_studies

    study = tmp_path / "arch" / "study"
    shutil.copytree(SAMPLE / "pre_contrast", study / "pre_contrast")
    (study / "arterial").mkdir()
    for f in sorted((SAMPLE / "arterial").glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.SeriesDescription = "LIVER LATE ARTERIAL 3mm"
        ds.save_as(study / "arterial" / os.path.basename(f))
    tasks, _ = discover_studies(tmp_path / "arch", PipelineOptions())
    (task,) = tasks
    assert {str(se.phase.phase) for se in task.series} == {"pre_contrast", "arterial_late"}
    ref = pick_reference(task.series)
    assert str(ref.phase.phase) == "arterial_late" and ref.series_description == "LIVER LATE ARTERIAL 3mm"


def test_gadoxetate_mr_study_without_portal_venous_label() -> None:
    """A gadoxetate MR study (late arterial, transitional, hepatobiliary, a T2 and a finer DWI of no
    known phase): measured on the late arterial series (it was measured on the DWI: unknown, finest
    slices); without the arterial series, on the transitional one; a series of a known phase always
    comes before a DWI, an ADC map or a localizer."""
    late = _se("LAVA LATE ARTERIAL", "arterial_late")
    trans = _se("LAVA TRANSITIONAL 3MIN", "transitional")
    hbp = _se("LAVA HBP 20MIN", "hepatobiliary")
    t2 = _se("T2 SSFSE AX", "unknown", mm=6.0)
    dwi = _se("DWI b50 b800", "unknown", mm=2.0)
    adc = _se("ADC", "unknown", mm=1.0)
    pre = _se("LAVA PRE", "pre_contrast")
    assert pick_reference([dwi, adc, t2, hbp, trans, late, pre]) is late
    assert pick_reference([dwi, adc, t2, hbp, trans, pre]) is trans
    assert pick_reference([dwi, adc, t2, hbp, pre]) is hbp
    assert pick_reference([dwi, adc, t2, pre]) is pre
    assert pick_reference([_se("ART early", "arterial_early"), _se("ART", "arterial")]).phase.phase == "arterial"
    assert pick_reference([_se("DEL", "delayed"), trans, hbp]).phase.phase == "delayed"


@pytest.mark.parametrize("desc", ["DWI b800", "ep2d_diff_b50_400_800", "ADC", "Trace W b1000", "eADC"])
def test_of_unknown_series_an_anatomical_image_is_measured(desc) -> None:
    """Only series of no known phase: the T2 (coarser slices) before a diffusion series or an ADC
    map (finer), and a localizer or a subtraction never before it either."""
    t2 = _se("T2 HASTE tra", "unknown", mm=7.0)
    other = _se(desc, "unknown", mm=2.0)
    scout = _se("3-plane", "unknown", mm=1.0, is_localizer=True)
    assert pick_reference([other, scout, t2]) is t2
    assert pick_reference([other, scout]) is other  # none anatomical: the best of them

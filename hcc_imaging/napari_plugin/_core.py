"""The only place the plugin calls the core (io, segment, measure, response, burden, study, export).

Each function here is a thin, Qt-free adapter from the plugin's state to one public core
function; nothing is computed here that the CLI or the batch would compute differently.
When a core part is not installed in this build, the adapter raises
:class:`FeatureUnavailableError` and the dock disables the matching control.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import OptionalDependencyError
from ..volume import LabelVolume, Phase, Volume
from ._layers import LineSpec

if TYPE_CHECKING:  # pragma: no cover
    from ._controller import Lesion, Observation

__all__ = [
    "FeatureUnavailableError",
    "available",
    "StudyImages",
    "load_archive",
    "segment",
    "measure",
    "problems",
    "assess",
    "burden",
]


class FeatureUnavailableError(OptionalDependencyError):
    """A core part the plugin needs is not present in this build of hcc_imaging."""


def _need(module: str, *names: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise FeatureUnavailableError(
            f"{module} is not available in this hcc-imaging build, so this dock control is disabled. "
            "Update hcc-imaging to a release that ships it."
        ) from err
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise FeatureUnavailableError(
            f"{module} lacks {', '.join(missing)} in this hcc-imaging build; this dock control is disabled."
        )
    return mod


def available(feature: str) -> bool:
    """Whether the core functions behind a dock control exist (``segment``, ``measure``, ...)."""
    probes: Mapping[str, tuple[str, tuple[str, ...]]] = {
        "io": ("hcc_imaging.io", ("load_study",)),
        "segment": ("hcc_imaging.segment", ("segment_lesion",)),
        "viable": ("hcc_imaging.segment", ("viable_mask",)),
        "register": ("hcc_imaging.segment", ("register",)),
        "measure": ("hcc_imaging.measure", ("measure_lesion",)),
        "response": ("hcc_imaging.response", ("assess",)),
        "burden": ("hcc_imaging.burden", ()),
        "study": ("hcc_imaging.study", ()),
        "export": ("hcc_imaging.export", ()),
    }
    mod, names = probes[feature]
    try:
        _need(mod, *names)
    except FeatureUnavailableError:
        return False
    return True


# ------------------------------------------------------------------------------------------ io
@dataclass(frozen=True, slots=True)
class StudyImages:
    """One study (time point) of one patient: its phases as Volumes."""

    patient_id: str
    timepoint_id: str
    study_date: str | None
    phases: Mapping[Phase, Volume]


def load_archive(path: str | Path) -> list[StudyImages]:
    """Index a DICOM folder / zip / DICOMDIR and load every CT/MR series, one entry per study.

    Studies of a patient are ordered by date and named ``baseline``, ``fu1``, ``fu2`` ...
    """
    io = _need("hcc_imaging.io", "index_archive", "load_study")
    index = io.index_archive(Path(path))
    out: list[StudyImages] = []
    for patient in index.patients:
        studies = sorted(patient.studies, key=lambda s: (s.study_date or "", s.study_instance_uid))
        for n, study in enumerate(studies):
            phases: dict[Phase, Volume] = {}
            for vol in io.load_study(index, study_uid=study.study_instance_uid):
                ph = Phase(vol.phase)
                if ph in phases:  # two series of one phase: keep the finer slice spacing
                    if vol.spacing[0] >= phases[ph].spacing[0]:
                        continue
                phases[ph] = vol
            out.append(
                StudyImages(
                    patient_id=str(patient.patient_id),
                    timepoint_id="baseline" if n == 0 else f"fu{n}",
                    study_date=study.study_date,
                    phases=phases,
                )
            )
    return out


# ------------------------------------------------------------------------------------------ segment
def segment(
    phases: Mapping[Phase, Volume],
    reference: Volume,
    point_lps: NDArray[np.float64] | None = None,
    *,
    line_lps: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None, dict[str, Any]]:
    """Lesion mask on ``reference``'s grid from one LPS click (or a line across the lesion),
    plus its viable (arterially enhancing) part when the core can compute it.

    Returns ``(mask, viable_or_None, provenance)``.
    """
    seg = _need("hcc_imaging.segment", "segment_lesion")
    result = seg.segment_lesion(dict(phases), seed_lps=point_lps, line_lps=line_lps)
    lab = result.labels
    if not lab.geometry.equals(reference.geometry):
        lab = lab.resample_to(reference)
    mask = np.asarray(lab.array) != 0
    viable = None
    arterial = next((phases[p] for p in (Phase.ARTERIAL_LATE, Phase.ARTERIAL, Phase.ARTERIAL_EARLY) if p in phases), None)
    if arterial is not None and hasattr(seg, "viable_mask"):
        lesion_lab = LabelVolume.like(reference, mask.astype(np.uint8), labels={1: "lesion"})
        vres = seg.viable_mask(arterial, lesion_lab, pre_contrast=phases.get(Phase.PRE_CONTRAST))
        vlab = getattr(vres, "labels", vres)
        if isinstance(vlab, LabelVolume) and not vlab.geometry.equals(reference.geometry):
            vlab = vlab.resample_to(reference)
        viable = np.asarray(vlab.array if isinstance(vlab, LabelVolume) else vlab) != 0
    prov = result.provenance() if hasattr(result, "provenance") else {}
    return mask, viable, prov


# ------------------------------------------------------------------------------------------ measure
def _pt(p: Any) -> tuple[float, float, float]:
    a = np.asarray(p, float).reshape(-1)
    return (float(a[0]), float(a[1]), float(a[2]))


def measure(
    lesion: LabelVolume,
    viable: LabelVolume | None,
    *,
    lesion_id: str,
    is_lymph_node: bool,
    source: str,
) -> Observation:
    """:class:`Observation` (numbers + lines) from the core's ``measure_lesion``."""
    from ._controller import Lesion, Observation

    meas = _need("hcc_imaging.measure", "measure_lesion")
    m = meas.measure_lesion(lesion, viable=viable, lesion_id=lesion_id)
    obs = Observation(source=source)
    obs.longest_diameter_mm = _num(m, "longest_diameter_mm")
    obs.short_axis_mm = _num(m, "short_axis_mm")
    obs.viable_diameter_mm = _num(m, "viable_diameter_mm")
    obs.viable_short_axis_mm = _num(m, "viable_short_axis_mm")
    obs.volume_mm3 = _num(m, "volume_mm3")
    obs.viable_volume_mm3 = _num(m, "viable_volume_mm3")
    obs.necrosis_fraction = _num(m, "necrosis_fraction", digits=3)
    for axis, attr in (
        ("long", "long_axis"),
        ("short", "short_axis"),
        ("viable_long", "viable_axis"),
    ):
        seg_ = getattr(m, attr, None)
        if seg_ is not None:
            obs.lines[axis] = LineSpec(lesion_id, axis, _pt(seg_.start_lps), _pt(seg_.end_lps))
    status = getattr(m, "status", None)
    obs.status = str(getattr(status, "value", status) or "measured")
    obs.source = source
    obs.problems = problems(Lesion("?", "?", 0, is_lymph_node=is_lymph_node), obs)
    return obs


def _num(m: Any, name: str, digits: int = 1) -> float | None:
    v = getattr(m, name, None)
    if v is None:
        return None
    return round(float(v), digits)


def problems(lesion: Lesion, obs: Observation) -> list[str]:
    """Measurability / target-selection problems of one lesion observation (core rules)."""
    try:
        meas = _need("hcc_imaging.measure", "measurability")
    except FeatureUnavailableError:
        return []
    out = meas.measurability(
        longest_diameter_mm=obs.longest_diameter_mm,
        short_axis_mm=obs.short_axis_mm,
        is_lymph_node=lesion.is_lymph_node,
        role=lesion.role,
    )
    return [str(p) for p in out]


# ------------------------------------------------------------------------------------------ response
def assess(read_document: Mapping[str, Any], criteria: Sequence[str]) -> dict[str, Any]:
    """Response per criterion from the core classifier (same call as ``hcc-imaging assess``)."""
    resp = _need("hcc_imaging.response", "assess")
    return dict(resp.assess(read_document, criteria=list(criteria)))


def burden(read_document: Mapping[str, Any], timepoint_id: str) -> dict[str, Any]:
    """Burden scores (up-to-7, TBS) at a time point from the core."""
    bur = _need("hcc_imaging.burden", "burden_from_read")
    return dict(bur.burden_from_read(read_document, timepoint_id))


# ------------------------------------------------------------------------------------------ export
def export_seg(labels: LabelVolume, path: Path) -> Path:
    """DICOM SEG of a label map (one segment per lesion) via :mod:`hcc_imaging.export`."""
    exp = _need("hcc_imaging.export", "write_seg")
    return Path(exp.write_seg(labels, path))


def export_sr(read_document: Mapping[str, Any], path: Path) -> Path:
    """DICOM SR TID 1500 of a read via :mod:`hcc_imaging.export`."""
    exp = _need("hcc_imaging.export", "write_sr")
    return Path(exp.write_sr(read_document, path))


def export_csv(read_document: Mapping[str, Any], path: Path) -> Path:
    """Per-lesion-time-point CSV table of a read via :mod:`hcc_imaging.export`."""
    exp = _need("hcc_imaging.export", "write_csv")
    return Path(exp.write_csv(read_document, path))


# ------------------------------------------------------------------------------------------ register
def register_to(fixed: Volume, moving: Volume) -> Volume:
    """``moving`` registered to ``fixed`` (core registration) and resampled onto its grid."""
    seg = _need("hcc_imaging.segment", "register")
    from ..volume import resample_volume

    reg = seg.register(fixed, moving)
    transform = getattr(reg, "transform", reg)
    return resample_volume(moving, fixed, transform=transform)


# ------------------------------------------------------------------------------------------ display
def _pct(v: Any) -> str:
    return "" if v is None else f"{100.0 * float(v):+.1f} %"


def response_rows(result: Mapping[str, Any], timepoint_id: str | None) -> list[dict[str, Any]]:
    """Rows of the response panel: per criterion, the response at ``timepoint_id`` and the BOR."""
    rows = []
    for crit, res in result.items():
        tp = None
        for t in getattr(res, "timepoints", ()):
            if getattr(t, "timepoint_id", None) == timepoint_id:
                tp = t
        bor = getattr(res, "best_overall_response", None)
        rows.append(
            {
                "criterion": str(crit),
                "response": str(getattr(getattr(tp, "response", None), "value", getattr(tp, "response", ""))) if tp else "",
                "sum mm": "" if tp is None or getattr(tp, "sum_mm", None) is None else f"{float(tp.sum_mm):.1f}",
                "vs baseline": _pct(getattr(tp, "change_from_baseline_frac", None)) if tp else "",
                "vs nadir": _pct(getattr(tp, "change_from_nadir_frac", None)) if tp else "",
                "BOR": str(getattr(bor, "value", bor) or ""),
            }
        )
    return rows


def plot_series(result: Mapping[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """Per criterion, (time point, change of the sum vs baseline) for the spider plot."""
    out: dict[str, list[tuple[str, float]]] = {}
    for crit, res in result.items():
        pts = []
        for t in getattr(res, "timepoints", ()):
            v = getattr(t, "change_from_baseline_frac", None)
            if v is None and getattr(t, "sum_mm", None) is not None and not pts:
                v = 0.0
            if v is not None:
                pts.append((str(t.timepoint_id), float(v)))
        out[str(crit)] = pts
    return out


def burden_text(b: Mapping[str, Any]) -> str:
    """One line of burden scores (up-to-7, TBS)."""
    return "; ".join(f"{k}: {v}" for k, v in b.items())

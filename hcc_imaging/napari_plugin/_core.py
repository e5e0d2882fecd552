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
    from ._controller import Observation

__all__ = [
    "FeatureUnavailableError",
    "available",
    "StudyImages",
    "load_archive",
    "segment",
    "measure",
    "assess",
    "burden",
]


class FeatureUnavailableError(OptionalDependencyError):
    """A core part the plugin needs is not present in this build of hcc_imaging."""


def _need(module: str, *names: str) -> Any:
    """The module ``module`` when it exports every name in ``names`` (else FeatureUnavailableError)."""
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


def _fn(name: str, *modules: str) -> Any:
    """Public core function ``name`` from the first of ``modules`` that defines it."""
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        obj = getattr(mod, name, None)
        if callable(obj) and not isinstance(obj, type(importlib)):
            return obj
    raise FeatureUnavailableError(
        f"{name} is not available in this hcc-imaging build (looked in {', '.join(modules)}), "
        "so this dock control is disabled."
    )


#: Where each core function lives (package first, then the module that defines it).
_WHERE: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "io": ("load_study", ("hcc_imaging.io",)),
    "segment": ("segment_lesion", ("hcc_imaging.segment", "hcc_imaging.segment.lesion")),
    "viable": ("viable_mask", ("hcc_imaging.segment", "hcc_imaging.segment.viable")),
    "register": ("register", ("hcc_imaging.segment", "hcc_imaging.segment.register")),
    "measure": ("measure_lesion", ("hcc_imaging.measure", "hcc_imaging.measure.lesion")),
    "response": ("assess", ("hcc_imaging.response", "hcc_imaging.response.assess")),
    "burden": ("burden_from_read", ("hcc_imaging.burden", "hcc_imaging.burden.scores")),
    "export": ("write_sr", ("hcc_imaging.export", "hcc_imaging.export.sr")),
}


def _core_fn(feature: str) -> Any:
    name, modules = _WHERE[feature]
    return _fn(name, *modules)


def available(feature: str) -> bool:
    """Whether the core function behind a dock control exists (``segment``, ``measure``, ...)."""
    try:
        _core_fn(feature)
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
    result = _core_fn("segment")(dict(phases), seed_lps=point_lps, line_lps=line_lps)
    lab = result.labels
    if not lab.geometry.equals(reference.geometry):
        lab = lab.resample_to(reference)
    mask = np.asarray(lab.array) != 0
    viable = None
    arterial = next((phases[p] for p in (Phase.ARTERIAL_LATE, Phase.ARTERIAL, Phase.ARTERIAL_EARLY) if p in phases), None)
    if arterial is not None and available("viable"):
        lesion_lab = LabelVolume.like(reference, mask.astype(np.uint8), labels={1: "lesion"})
        vres = _core_fn("viable")(arterial, lesion_lab, pre_contrast=phases.get(Phase.PRE_CONTRAST))
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
    from ._controller import Observation

    m = _core_fn("measure")(lesion, viable=viable, lesion_id=lesion_id)
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
    return obs


def _num(m: Any, name: str, digits: int = 1) -> float | None:
    v = getattr(m, name, None)
    if v is None:
        return None
    return round(float(v), digits)


# ------------------------------------------------------------------------------------------ response
def assess(read_document: Mapping[str, Any], criteria: Sequence[str]) -> dict[str, Any]:
    """Response per criterion from the core classifier (same call as ``hcc-imaging assess``)."""
    return dict(_core_fn("response")(read_document, criteria=list(criteria)))


def burden(read_document: Mapping[str, Any], timepoint_id: str) -> dict[str, Any]:
    """Burden scores (up-to-7, TBS) at a time point from the core."""
    return dict(_core_fn("burden")(read_document, timepoint_id))


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
    from ..volume import resample_volume

    reg = _core_fn("register")(fixed, moving)
    transform = getattr(reg, "transform", reg)
    return resample_volume(moving, fixed, transform=transform)


# ------------------------------------------------------------------------------------------ display
def _pct(v: Any) -> str:
    return "" if v is None else f"{100.0 * float(v):+.1f} %"


def _as_json(res: Any) -> dict[str, Any]:
    """A criterion result as its JSON dict (``CriterionResult.to_json`` shape)."""
    return dict(res.to_json()) if hasattr(res, "to_json") else dict(res)


def _results(result: Any) -> dict[str, dict[str, Any]]:
    """``{criterion: result JSON}`` from what the core's ``assess`` returns."""
    if hasattr(result, "criteria") and isinstance(result.criteria, Mapping):
        result = result.criteria
    if hasattr(result, "to_json") and not isinstance(result, Mapping):
        result = result.to_json()
    if isinstance(result, Mapping) and "criteria" in result and isinstance(result["criteria"], Mapping):
        result = result["criteria"]
    return {str(k): _as_json(v) for k, v in dict(result).items()}


def response_rows(result: Any, timepoint_id: str | None) -> list[dict[str, Any]]:
    """Rows of the response panel: per criterion, response / sum / changes at ``timepoint_id`` and BOR."""
    rows = []
    for crit, res in _results(result).items():
        tp = next((t for t in res.get("timepoints", []) if t.get("id") == timepoint_id), None)
        unit = res.get("sum_unit", "mm")
        s = None if tp is None else tp.get("sum")
        rows.append(
            {
                "criterion": crit,
                "response": (tp.get("response") or ("baseline" if tp and tp.get("change_from_baseline") is None else "")) if tp else "",
                "sum mm": "" if s is None else (f"{float(s):.1f}" if unit == "mm" else f"{float(s):.0f} {unit}"),
                "vs baseline": _pct(tp.get("change_from_baseline")) if tp else "",
                "vs nadir": _pct(tp.get("change_from_nadir")) if tp else "",
                "BOR": res.get("bor_confirmed") or res.get("bor_unconfirmed") or "",
                "checks": list(res.get("checks", [])),
            }
        )
    return rows


def plot_series(result: Any) -> dict[str, list[tuple[str, float]]]:
    """Per criterion, (time point, change of the sum vs baseline) for the spider plot."""
    out: dict[str, list[tuple[str, float]]] = {}
    for crit, res in _results(result).items():
        pts = []
        for n, t in enumerate(res.get("timepoints", [])):
            v = t.get("change_from_baseline")
            if v is None and n == 0 and t.get("sum") is not None:
                v = 0.0
            if v is not None:
                pts.append((str(t["id"]), float(v)))
        out[crit] = pts
    return out


def burden_text(b: Mapping[str, Any]) -> str:
    """One line of burden scores (up-to-7, TBS)."""
    return "; ".join(f"{k}: {v}" for k, v in b.items())

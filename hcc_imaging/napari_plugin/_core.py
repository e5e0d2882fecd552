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

from ..errors import HccImagingError, OptionalDependencyError
from ..volume import ARTERIAL_PREFERENCE, LabelVolume, Phase, Volume
from ._layers import LineSpec
from ._sources import algorithm_source

if TYPE_CHECKING:  # pragma: no cover
    from ._controller import Observation

__all__ = [
    "FeatureUnavailableError",
    "available",
    "StudyImages",
    "load_archive",
    "segment",
    "SegmentOutput",
    "measure",
    "assess",
    "AssessmentView",
    "burden_rows",
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
    "liver": ("segment_liver", ("hcc_imaging.segment", "hcc_imaging.segment.liver")),
    "viable": ("viable_mask", ("hcc_imaging.segment", "hcc_imaging.segment.viable")),
    "register": ("register_volumes", ("hcc_imaging.segment", "hcc_imaging.segment.register")),
    "lesion_centre": ("lesion_centre_lps", ("hcc_imaging.segment", "hcc_imaging.segment.register")),
    "measure": ("measure_lesion", ("hcc_imaging.measure", "hcc_imaging.measure.lesion")),
    "response": ("assess", ("hcc_imaging.response", "hcc_imaging.response.engine")),
    "export": ("write_sr", ("hcc_imaging.export", "hcc_imaging.export.sr")),
    "seg_export": ("write_seg", ("hcc_imaging.export", "hcc_imaging.export.seg")),
    "mask_import": ("load_lesion_masks", ("hcc_imaging.io.masks",)),
    "tables": ("write_tables", ("hcc_imaging.export", "hcc_imaging.export.tables")),
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
    #: What the reader should know about how the series were loaded: each series resampled onto
    #: a regular orthogonal grid (gantry tilt, missing slices) and each series left out, with why.
    notes: tuple[str, ...] = ()


def load_archive(path: str | Path) -> list[StudyImages]:
    """Index a DICOM folder / zip / DICOMDIR and load every CT/MR series, one entry per study.

    Studies of a patient are ordered by date and named ``baseline``, ``fu1``, ``fu2`` ...
    A viewer shows a gantry-tilted series or one with missing slices resampled onto a regular
    orthogonal grid (``on_tilt`` / ``on_irregular="resample"``: the geometry stays true, the
    volume's ``meta["resampled"]`` says what was done) instead of leaving it out as the command
    line does by default; each such series, and each series still left out (with its error), is
    in the study's ``notes``.  A time point shows one series per phase (:func:`hcc_imaging.io.one_per_phase`:
    CT before MR before another modality, then the finer slices); the others are in the notes too.
    """
    io = _need("hcc_imaging.io", "index_archive", "load_study", "one_per_phase")
    index = io.index_archive(Path(path))
    out: list[StudyImages] = []
    for patient in index.patients:
        studies = sorted(patient.studies, key=lambda s: (s.study_date or "", s.study_instance_uid))
        for n, study in enumerate(studies):
            skipped: list[tuple[str, Exception]] = []
            vols = io.load_study(index, study_uid=study.study_instance_uid, on_tilt="resample",
                                 on_irregular="resample", skipped=skipped)
            notes = [f"series {uid} left out: {err}" for uid, err in skipped]
            notes += [f"series {vol.series_instance_uid} ({vol.phase}) resampled onto a regular grid: "
                      + "; ".join(vol.meta["resampled"].get("reasons", ())) for vol in vols if vol.meta.get("resampled")]
            phases, dropped = io.one_per_phase(vols, "shown")
            notes += dropped
            out.append(
                StudyImages(
                    patient_id=str(patient.patient_id),
                    timepoint_id="baseline" if n == 0 else f"fu{n}",
                    study_date=study.study_date,
                    phases=phases,
                    notes=tuple(notes),
                )
            )
    return out


# ------------------------------------------------------------------------------------------ segment
@dataclass(frozen=True, slots=True)
class SegmentOutput:
    """A click's lesion mask and viable part as crops of the reference grid.

    ``mask`` / ``viable`` are boolean arrays of the box starting at voxel ``start`` of the
    time point's reference grid (the lesion's bounding box; ``viable`` has the same box).
    ``timings`` holds wall seconds per core step (``segment_s``, ``viable_s``).  ``checks``: what
    the segmenter says to check in the mask (a possible leak, the image's edge ...), as sentences
    (``segment.lesion.MASK_CHECKS`` of the provenance's ``checks`` codes).
    """

    start: tuple[int, int, int]
    mask: NDArray[np.bool_]
    viable: NDArray[np.bool_] | None
    provenance: dict[str, Any]
    timings: dict[str, float]
    checks: tuple[str, ...] = ()

    def full(self, shape: Sequence[int]) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
        """The mask and viable part as full-size arrays of ``shape`` (tests, scripting)."""
        out = []
        for crop in (self.mask, self.viable):
            if crop is None:
                out.append(None)
                continue
            full = np.zeros(tuple(int(n) for n in shape), bool)
            full[tuple(slice(a, a + n) for a, n in zip(self.start, crop.shape, strict=True))] = crop
            out.append(full)
        return out[0], out[1]  # type: ignore[return-value]


def bbox(mask: NDArray[np.bool_]) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """(start, stop) of the True voxels, one reduction per axis (no index arrays); None if empty."""
    lo: list[int] = []
    hi: list[int] = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        if hit.size == 0:
            return None
        lo.append(int(hit[0]))
        hi.append(int(hit[-1]) + 1)
    return (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2])


def segment(
    phases: Mapping[Phase, Volume],
    reference: Volume,
    point_lps: NDArray[np.float64] | None = None,
    *,
    line_lps: NDArray[np.float64] | None = None,
    outside_liver: LabelVolume | None = None,
    inside_liver: LabelVolume | None = None,
    rind: bool = False,
    phase: Phase | str | None = None,
) -> SegmentOutput:
    """Lesion mask on ``reference``'s grid from one LPS click (or a line across the lesion),
    plus its viable (arterially enhancing) part when the core can compute it.

    ``outside_liver``: a liver mask, for a lesion outside the liver (a lymph node): the lesion is
    kept out of it (``segment_lesion(..., extrahepatic=True)``, as ``--liver --extrahepatic``)
    and has no viable part (viable tumour is an intrahepatic HCC's arterially enhancing tissue).
    ``inside_liver``: a liver mask on ``reference``'s grid, for a liver lesion: the lesion is kept
    inside it (``segment_lesion(..., liver=...)``, as ``--liver``), and the viable part's liver
    reference is read inside it too (``viable_mask(..., liver=...)``, as ``--liver --viable-out``).
    ``rind``: the click is in the dark core of a lesion wrapped in an enhancing layer
    (``segment_lesion(..., rind=True)``, as ``--rind``).  ``phase``: the phase to segment on (one
    of ``phases``; as ``--phase``); None: the most conspicuous one (``segment_lesion``'s choice).

    The core calls are those of ``hcc-imaging segment --viable-out``: ``segment_lesion`` on the
    phases, then ``viable_mask`` (pre-contrast and portal venous when present) on the lesion's work
    box, after the lesion is checked against the arterial phase from the phase it was segmented on
    (another breath hold: :mod:`._viable`, ``segment.viable_align``); a shift found is said in the
    provenance's ``notes`` and recorded in its ``viable_alignment``.
    """
    import time

    t0 = time.perf_counter()
    if outside_liver is not None and inside_liver is not None:
        raise HccImagingError("a lesion is segmented either outside the liver (a node) or inside it, not both.")
    extra: dict[str, Any] = {} if outside_liver is None else {"liver": outside_liver, "extrahepatic": True}
    if inside_liver is not None:
        extra["liver"] = inside_liver
    if rind:
        extra["rind"] = True
    if phase is not None:
        extra["phase"] = next((p for p in phases if str(p) == str(phase)), None)
        if extra["phase"] is None:
            raise HccImagingError(
                f"segment on {str(phase)!r}: the time point has the phases {[str(p) for p in phases]}; pick one of them "
                "(or 'auto', the most conspicuous).")
    result = _core_fn("segment")(dict(phases), seed_lps=point_lps, line_lps=line_lps, **extra)
    timings = {"segment_s": time.perf_counter() - t0}
    lab = result.labels
    if not lab.geometry.equals(reference.geometry):
        lab = lab.resample_to(reference)
    arr = np.asarray(lab.array)
    box = bbox(arr != 0)
    prov = result.provenance() if hasattr(result, "provenance") else {}
    texts = _need("hcc_imaging.segment", "MASK_CHECKS").MASK_CHECKS
    checks = tuple(texts.get(str(c), str(c)) for c in prov.get("checks", []))
    if box is None:
        return SegmentOutput((0, 0, 0), np.zeros((0, 0, 0), bool), None, prov, timings, checks)
    lo, hi = box
    sl = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    mask = np.ascontiguousarray(arr[sl] != 0)
    viable = None
    arterial = next((phases[p] for p in ARTERIAL_PREFERENCE if p in phases), None)
    if arterial is not None and outside_liver is None and available("viable"):
        from ._viable import viable_crop

        t1 = time.perf_counter()
        viable, vnotes, vrecord = viable_crop(phases, reference, arterial, mask, lo, hi, seg_phase=prov.get("phase"),
                                              inside_liver=inside_liver)
        # as hcc-imaging segment --viable-out: the note in the provenance's notes, the check's record beside it
        if vnotes:
            prov = {**prov, "notes": [*(prov.get("notes") or []), *vnotes]}
        if vrecord:
            prov = {**prov, "viable_alignment": vrecord}
        timings["viable_s"] = time.perf_counter() - t1
    return SegmentOutput((int(lo[0]), int(lo[1]), int(lo[2])), mask, viable, prov, timings, checks)


def liver_mask(phases: Mapping[Phase, Volume], reference: Volume,
               include_lps: Sequence[Sequence[float]] | None = None) -> LabelVolume:
    """The classical liver mask on ``reference``'s grid (``hcc-imaging segment --liver``): made on the
    study's best liver phase and carried to ``reference`` when several phases share the study.
    ``include_lps``: points whose pieces the mask must hold (``segment_liver(..., include_lps=)``,
    as ``--liver`` adds the click: a lesion that bulges out of the liver's outline)."""
    fn = _core_fn("liver")
    extra: dict[str, Any] = {} if not include_lps else {"include_lps": [list(map(float, q)) for q in include_lps]}
    if len(phases) > 1:
        return fn(dict(phases), phase=reference.phase, **extra)  # type: ignore[no-any-return]
    return fn(reference, **extra)  # type: ignore[no-any-return]


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
    image: Volume | None = None,
) -> Observation:
    """:class:`Observation` (numbers + lines) from the core's ``measure_lesion``.

    The same call ``hcc-imaging measure`` and the batch make; numbers are rounded to 0.1 mm
    (0.001 for fractions), as carried in the read document.  ``source`` is the mask's provenance
    and the observation keeps it (``_sources``): an algorithm's ``algorithm:NAME/VERSION``, an
    imported mask's ``imported mask``, a reader's ``reader:ID``; only an empty one becomes the
    measuring code's (until 2026-12-06 every source but an algorithm's became the measuring
    code's: an imported or a painted mask was written as ``algorithm:...measure_lesion/...``).
    """
    from ._controller import Observation

    m = _core_fn("measure")(lesion, 1, viable=viable, image=image, is_lymph_node=is_lymph_node)
    obs = Observation(source=source)
    obs.longest_diameter_mm = _num(m.longest_diameter_mm)
    obs.short_axis_mm = _num(m.short_axis_mm)
    obs.volume_mm3 = _num(m.volume_mm3)
    obs.viable_diameter_mm = _num(m.viable_diameter_mm)
    obs.viable_short_axis_mm = _num(m.viable_short_axis_mm)
    obs.viable_volume_mm3 = _num(m.viable_volume_mm3)
    obs.necrosis_fraction = _num(m.necrosis_fraction, 3)
    for axis, ends in (
        ("long", m.ld_endpoints_lps),
        ("short", m.sa_endpoints_lps),
        ("viable_long", m.viable_endpoints_lps),
        ("viable_short", m.viable_sa_endpoints_lps),
    ):
        if ends is not None:
            obs.lines[axis] = LineSpec(lesion_id, axis, _pt(ends[0]), _pt(ends[1]))
    meas = str(m.recist_measurability)
    if meas != "measurable":
        obs.problems.append(f"RECIST 1.1: {meas.replace('_', ' ')}")
    if m.mrecist_measurable is False:
        obs.problems.append("mRECIST: not measurable (no enhancing viable diameter >= 10 mm)")
    if not source:  # (no one named: the measuring code is the source)
        prov = m.provenance
        obs.source = algorithm_source(prov.algorithm, prov.version)
    return obs


def _num(v: Any, digits: int = 1) -> float | None:
    return None if v is None else round(float(v), digits)


# ------------------------------------------------------------------------------------------ response
@dataclass(frozen=True, slots=True)
class AssessmentView:
    """What the response panel shows: per-criterion results, per-criterion errors, burden."""

    results: Mapping[str, Any]
    errors: Mapping[str, str]
    burden: tuple[Any, ...]


def assess(read_document: Mapping[str, Any], criteria: Sequence[str]) -> AssessmentView:
    """Assess a read under each criterion with the core (same call as ``hcc-imaging assess``).

    Each criterion is assessed on its own, so one the read cannot satisfy yet (e.g. mRECIST
    before a viable diameter exists) reports its error in its row instead of hiding the others.
    """
    fn = _core_fn("response")
    from ..response.document import ReadDocument

    doc = ReadDocument.from_json(dict(read_document))
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    burden: tuple[Any, ...] = ()
    for crit in criteria:
        try:
            a = fn(doc, [crit])
        except HccImagingError as err:
            errors[crit] = str(err)
            continue
        results.update(a.results)
        burden = tuple(a.burden)
    if not burden:
        from ..burden.scores import burden_for_timepoint

        burden = tuple(burden_for_timepoint(tp) for tp in doc.timepoints)
    return AssessmentView(results, errors, burden)


def burden_rows(assessment: Any, timepoint_id: str | None) -> dict[str, Any]:
    """Burden scores (up-to-7, TBS, ...) of one time point from an assessment."""
    for b in getattr(assessment, "burden", ()):
        d = b.to_json() if hasattr(b, "to_json") else dict(b)
        if d.get("id") == timepoint_id:
            return d
    return {}


# ------------------------------------------------------------------------------------------ export
def export_seg(
    labels: LabelVolume,
    source: Volume,
    path: Path,
    *,
    viable: LabelVolume | None = None,
    tracking_uids: Mapping[str, str] | None = None,
    patient_id: str | None = None,
    organs: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Path:
    """DICOM SEG of each lesion (and its viable part) over ``source`` (core ``write_seg``);
    ``organs``: lesion id -> organ, each segment's anatomic region (the liver by default);
    ``kinds``: lesion id -> the read's kind (ascites and effusions get their own property type)."""
    from ._layers import as_acquired, reoriented_axes

    fn = _fn("write_seg", "hcc_imaging.export", "hcc_imaging.export.seg")
    axes = reoriented_axes(source)  # shown with its axes in world order: the SEG's frames are the acquired slices
    labels, source = as_acquired(labels, axes), as_acquired(source, axes)
    viable = as_acquired(viable, axes) if viable is not None else None
    fn(labels, source, path, viable=viable, tracking_uids=tracking_uids, patient_id=patient_id,
       organs=dict(organs) if organs else None, **({"kinds": dict(kinds)} if kinds else {}))
    return Path(path)


def mask_kinds(path: Path) -> dict[str, str]:
    """Lesion id -> kind of a DICOM SEG's fluid segments (ascites, effusion; core ``seg_kinds``);
    empty for any other file."""
    if Path(path).suffix.lower() != ".dcm":
        return {}
    return _fn("seg_kinds", "hcc_imaging.export.seg")(path)  # type: ignore[no-any-return]


def import_masks(path: Path, reference: Volume) -> tuple[LabelVolume, LabelVolume | None, dict[str, str]]:
    """A lesion label map, its viable parts and each lesion's organ from a SEG, an RTSTRUCT, or a
    NIfTI map with ``labels.json`` / ``viable.nii.gz`` beside it, on ``reference`` (core
    ``load_lesion_masks``)."""
    fn = _fn("load_lesion_masks", "hcc_imaging.io.masks")
    return fn(path, reference)  # type: ignore[no-any-return]


def export_sr(
    read_document: Mapping[str, Any],
    path: Path,
    *,
    assessment: Any = None,
    images: Mapping[str, Volume] | None = None,
) -> Path:
    """DICOM SR TID 1500 of a read (core ``write_sr``): lines, tracking UIDs, responses."""
    from ._layers import as_acquired, reoriented_axes

    fn = _fn("write_sr", "hcc_imaging.export", "hcc_imaging.export.sr")
    # an image shown with its axes in world order: its acquired slices are the ones the SR references
    imgs = {k: as_acquired(v, reoriented_axes(v)) for k, v in (images or {}).items() if v.meta.get("source_files")}
    fn(dict(read_document), path, assessment=assessment, images=imgs or None)
    return Path(path)


def export_csv(read_document: Mapping[str, Any], path: Path, *, assessment: Any = None) -> list[Path]:
    """The per-lesion-time-point table at ``path`` and the per-criterion responses beside it
    (``<stem>.responses.csv``), written by the core's ``write_tables`` (versioned schema)."""
    import shutil
    import tempfile

    fn = _fn("write_tables", "hcc_imaging.export", "hcc_imaging.export.tables")
    path = Path(path)
    out = [path]
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        info = fn(dict(read_document), tmp, assessments=assessment, formats=("csv",), write_reads=False)
        tables = {k: v["csv"] for k, v in info.tables.items() if "csv" in v}
        lesion_key = next((k for k in tables if "lesion" in k), None)
        if lesion_key is None:
            raise FeatureUnavailableError(f"write_tables wrote no lesion table (got {sorted(tables)}).")
        shutil.move(str(tables.pop(lesion_key)), path)
        for key, p in tables.items():
            dest = path.with_name(f"{path.stem}.{key}.csv")
            shutil.move(str(p), dest)
            out.append(dest)
    return out


def assessment_json(view: AssessmentView) -> dict[str, Any]:
    """The assessment in the ``hcc-imaging assess --json`` shape (criteria that could be assessed)."""
    return {
        "results": {k: v.to_json() for k, v in view.results.items()},
        "burden": [b.to_json() for b in view.burden],
    }


# ------------------------------------------------------------------------------------------ register
def register(fixed: Volume, moving: Volume, *, fixed_mask: LabelVolume | None = None,
             moving_mask: LabelVolume | None = None, carry: bool = False) -> Any:
    """The core's registration of ``moving`` (another time point) to ``fixed``: rigid then affine
    (``register_volumes(..., kind="affine")``, the metric inside ``fixed_mask`` when given, e.g.
    the liver); its ``map_to_moving`` carries a point across.  ``carry``: only for that (the
    images' block means on ~3 mm voxels, three levels: ``RegistrationParams.carry``)."""
    extra: dict[str, Any] = {}
    if carry:
        extra["params"] = _need("hcc_imaging.segment.register", "RegistrationParams").RegistrationParams.carry()
    return _core_fn("register")(fixed, moving, kind="affine", fixed_mask=fixed_mask, moving_mask=moving_mask, **extra)


def lesion_centre(mask: LabelVolume) -> NDArray[np.float64]:
    """The core's ``lesion_centre_lps``: the lesion's voxel nearest its centroid, in LPS mm."""
    return _core_fn("lesion_centre")(mask)  # type: ignore[no-any-return]


def register_to(fixed: Volume, moving: Volume) -> Volume:
    """``moving`` (a follow-up) registered to ``fixed`` (the baseline) and resampled onto its grid.

    Rigid then affine (the core's ``register_volumes``), so the follow-up can be shown over
    the baseline with the same layer transform.
    """
    return register(fixed, moving).resample_volume(moving, fixed)


# ------------------------------------------------------------------------------------------ display
def _pct(v: Any) -> str:
    return "" if v is None else f"{100.0 * float(v):+.1f} %"


def _as_json(res: Any) -> dict[str, Any]:
    """A criterion result as its JSON dict (``CriterionResult.to_json`` shape)."""
    return dict(res.to_json()) if hasattr(res, "to_json") else dict(res)


def _results(result: Any) -> dict[str, dict[str, Any]]:
    """``{criterion: result JSON}`` from what the core's ``assess`` returns."""
    if hasattr(result, "results") and isinstance(result.results, Mapping):
        result = result.results
    if hasattr(result, "to_json") and not isinstance(result, Mapping):
        result = result.to_json()
    if isinstance(result, Mapping) and "criteria" in result and isinstance(result["criteria"], Mapping):
        result = result["criteria"]
    return {str(k): _as_json(v) for k, v in dict(result).items()}


def response_rows(result: Any, timepoint_id: str | None) -> list[dict[str, Any]]:
    """Rows of the response panel: per criterion, response / sum / changes at ``timepoint_id`` and BOR."""
    rows = []
    errors = dict(getattr(result, "errors", {}) or {})
    for crit, res in _results(result).items():
        tp = next((t for t in res.get("timepoints", []) if t.get("id") == timepoint_id), None)
        unit = res.get("sum_unit", "mm")
        s = None if tp is None else tp.get("sum")
        rows.append(
            {
                "criterion": crit,
                "response": (tp.get("response") or "baseline") if tp else "",
                "sum mm": "" if s is None else (f"{float(s):.1f}" if unit == "mm" else f"{float(s):.0f} {unit}"),
                "vs baseline": _pct(tp.get("change_from_baseline")) if tp else "",
                "vs nadir": _pct(tp.get("change_from_nadir")) if tp else "",
                "BOR": res.get("bor_confirmed") or res.get("bor_unconfirmed") or "",
                "checks": list(res.get("checks", [])),
                "error": "",
            }
        )
    for crit, msg in errors.items():
        rows.append({"criterion": crit, "response": "not assessable", "sum mm": "", "vs baseline": "",
                     "vs nadir": "", "BOR": "", "checks": [msg], "error": msg})
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
    """One line of burden scores: tumour count, largest diameter, up-to-7, TBS, Milan."""
    if not b:
        return ""
    parts = [f"{b.get('n_tumours', 0)} intrahepatic tumour(s)"]
    if b.get("largest_diameter_mm") is not None:
        parts.append(f"largest {float(b['largest_diameter_mm']):.1f} mm")
    if b.get("up_to_seven") is not None:
        parts.append(f"up-to-7: {b['up_to_seven']} (score {float(b['up_to_seven_score']):.1f})")
    if b.get("tbs") is not None:
        parts.append(f"TBS {float(b['tbs']):.2f} ({b.get('tbs_band')})")
    if b.get("within_milan") is not None:
        parts.append("within Milan" if b["within_milan"] else "beyond Milan")
    return "burden: " + ", ".join(parts)

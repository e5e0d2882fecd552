"""What a worker is given: the options that change the numbers, a study's inputs, one study's task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import __version__
from ...errors import HccImagingError
from ..constants import DEFAULT_CRITERIA
from ..errors import BatchError

#: The key of a study record (:func:`process_study`) that holds the bytes of the mask files the
#: study's worker made (:func:`~hcc_imaging.batch.lesions.mask_files`); the runner writes them under
#: OUT and takes the key out before the record is stored.
MASK_BYTES: str = "_mask_files_bytes"

#: Provenance written into every measurement row and observation ``source``.
ALGORITHM: str = f"hcc_imaging.batch {__version__}"


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Options that change the numbers (they are part of every study's content key).

    Parameters
    ----------
    criteria : tuple of str
        Criteria to assess per patient (``recist_1_1``, ``mrecist``, ``easl``, ``who``,
        ``recicl``, ``irecist``).
    reformat : {"error", "axial"}
        Non-axial grids: refuse (a failure row) or measure on an axial reformat.
    on_tilt, on_irregular : {"error", "resample"}
        Passed to :func:`hcc_imaging.io.load_series`.
    export_sr : bool
        Write a DICOM SEG per study and a TID 1500 SR per patient (needs :mod:`hcc_imaging.export`).
    carry : bool
        A study with no lesion masks or seeds of its own gets the lesions of its patient's latest
        earlier study that has them, carried and segmented there (:func:`link_carried`,
        :func:`hcc_imaging.segment.carry.carry_lesions`): seed the baselines, measure every
        follow-up.  (A seeds file with ``"carry": true`` asks for it whatever this says.)  On a
        DICOMweb server the lesions carried are an earlier study's SEG or RTSTRUCT.
    fragments : {"sum", "hull"}
        A lesion label of several separate pieces (``--fragments``, as ``hcc-imaging measure``):
        a split lesion, the fragments' diameters summed (RECIST 1.1, default), or one object
        (:func:`hcc_imaging.measure.measure_labels`).
    bias_correct : bool
        A study whose lesions are segmented (seeds, carried): its MR series divided by their N4 bias field
        before (:func:`hcc_imaging.segment.bias_corrected`, ``--bias-correct``); CT as it is.  The record lists
        each corrected phase's ``bias_field``.
    """

    criteria: tuple[str, ...] = DEFAULT_CRITERIA
    reformat: str = "error"
    on_tilt: str = "error"
    on_irregular: str = "error"
    export_sr: bool = False
    carry: bool = False
    fragments: str = "sum"
    bias_correct: bool = False

    def __post_init__(self) -> None:
        from ...response.rules import parse_criteria

        try:
            crit = tuple(str(parse_criteria(c)) for c in self.criteria)
        except HccImagingError as err:
            raise BatchError(f"--criteria: {err}") from err
        object.__setattr__(self, "criteria", crit)
        for name, allowed in (("reformat", ("error", "axial")), ("on_tilt", ("error", "resample")),
                              ("on_irregular", ("error", "resample"))):
            if getattr(self, name) not in allowed:
                raise BatchError(f"{name}={getattr(self, name)!r} is not one of {allowed}.")
        from ...measure.fragments import check_fragments

        try:
            check_fragments(self.fragments)
        except HccImagingError as err:
            raise BatchError(f"--fragments: {err}") from err

    def key_options(self) -> dict[str, Any]:
        key = {"criteria": list(self.criteria), "reformat": self.reformat, "on_tilt": self.on_tilt,
               "on_irregular": self.on_irregular}
        # only when set: the keys of a run without them stay those of earlier versions (--resume), which
        # measured split lesions as "sum"
        if self.fragments != "sum":
            key["fragments"] = self.fragments
        if self.bias_correct:
            key["bias_correct"] = True
        return {**key, "carry": True} if self.carry else key


@dataclass(frozen=True, slots=True)
class StudyInputs:
    """Masks, seeds and annotations that belong to one study (paths as strings)."""

    lesion_masks: tuple[str, ...] = ()
    viable_masks: tuple[str, ...] = ()
    seg_files: tuple[str, ...] = ()
    rtstruct_files: tuple[str, ...] = ()
    seeds_file: str | None = None
    annotations_files: tuple[str, ...] = ()
    #: ``labels.json`` beside the lesion mask: its label values' lesion ids (``io.masks.LABEL_NAMES_FILE``)
    labels_file: str | None = None
    #: A DICOMweb study whose server holds a SEG or RTSTRUCT of it (QIDO ModalitiesInStudy): it has
    #: lesion masks, known as files once retrieved.
    remote_masks: bool = False

    @property
    def has_masks(self) -> bool:
        return bool(self.lesion_masks or self.seg_files or self.rtstruct_files or self.seeds_file or self.remote_masks)

    @property
    def has_masks_files(self) -> bool:
        """Masks given as files (NIfTI, SEG, RTSTRUCT), which take precedence over seeds."""
        return bool(self.lesion_masks or self.seg_files or self.rtstruct_files)


@dataclass(frozen=True, slots=True)
class StudyTask:
    """Everything a worker needs to process one study (picklable)."""

    key: str
    patient_id: str
    study_instance_uid: str
    study_date: str
    root: str
    series: tuple[Any, ...]  # hcc_imaging.io.SeriesInfo of the image series
    inputs: StudyInputs
    input_hash: str
    #: DICOMweb base URL when the study lives on a server (retrieved by the worker); it may hold the
    #: server's password, so it is left out of the task's repr (a log line of Dask's prints its arguments)
    dicomweb_url: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: With ``PipelineOptions.carry``: the earlier study of the patient whose lesions are carried to
    #: this one (it has none of its own; :func:`link_carried`).
    carry_from: StudyTask | None = None
